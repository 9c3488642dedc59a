//! PUSH (RFC 30): sends each message to the next PULL peer in turn that
//! has room, and waits when every one is full. Receives nothing.

use std::future::Future;
use std::sync::Arc;

use weirmq_zmtp::{Message, SocketType};

use super::{Handle, SendSocket, Socket, private, send_lb, try_send_lb};
use crate::error::{Error, TrySendError};
use crate::options::Options;
use crate::socket::{Routing, Shape};

/// Peers: PULL. Out: load balanced, a pipe per peer, kept across
/// reconnects and routed before the peer connects when `immediate` is off.
/// In: nothing.
const SHAPE: Shape = Shape {
    socket_type: SocketType::Push,
    has_pipe: true,
    receives: false,
    routing_id_in_front: false,
    announced_ids: false,
    subscriber: false,
    keeps_pipe_on_reconnect: true,
    routes_before_connect: true,
    through: false,
    max_peers: None,
};

/// PUSH: sends to PULL peers in turn (RFC 30). Waits when every peer is full.
#[derive(Debug)]
pub struct Push {
    handle: Handle,
}

impl Default for Push {
    fn default() -> Self {
        Self::new()
    }
}

impl private::Sealed for Push {
    fn handle(&self) -> &Handle {
        &self.handle
    }
}

impl Socket for Push {
    const TYPE: SocketType = SocketType::Push;

    fn with_options(options: Options) -> Result<Self, Error> {
        let handle = Handle::new(SHAPE, Arc::new(Routing), options)?;
        Ok(Push { handle })
    }
}

impl SendSocket for Push {
    fn send(&self, msg: impl Into<Message>) -> impl Future<Output = Result<(), Error>> + Send {
        send_lb(&self.handle, msg.into())
    }

    fn try_send(&self, msg: impl Into<Message>) -> Result<(), TrySendError> {
        try_send_lb(&self.handle, msg.into())
    }
}
