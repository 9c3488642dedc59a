//! PULL (RFC 30): receives from PUSH peers, fair-queued: each peer's
//! messages wait in a lane of their own, and `recv` takes turns over them.
//! Sends nothing.

use std::sync::Arc;

use weirmq_zmtp::SocketType;

use super::{Handle, RecvSocket, Socket, private};
use crate::error::Error;
use crate::options::Options;
use crate::socket::{Routing, Shape};

/// Peers: PUSH. In: fair-queued. Out: nothing.
const SHAPE: Shape = Shape {
    socket_type: SocketType::Pull,
    has_pipe: false,
    receives: true,
    routing_id_in_front: false,
    announced_ids: false,
    subscriber: false,
    keeps_pipe_on_reconnect: false,
    routes_before_connect: false,
    through: false,
    max_peers: None,
};

/// PULL: receives from PUSH peers (RFC 30), fair-queued.
#[derive(Debug)]
pub struct Pull {
    handle: Handle,
}

impl Default for Pull {
    fn default() -> Self {
        Self::new()
    }
}

impl private::Sealed for Pull {
    fn handle(&self) -> &Handle {
        &self.handle
    }
}

impl Socket for Pull {
    const TYPE: SocketType = SocketType::Pull;

    fn with_options(options: Options) -> Result<Self, Error> {
        let handle = Handle::new(SHAPE, Arc::new(Routing), options)?;
        Ok(Pull { handle })
    }
}

impl RecvSocket for Pull {}
