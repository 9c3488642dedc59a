//! PAIR (RFC 31): one peer, both ways. A second peer is refused while the
//! first is connected, as libzmq's PAIR refuses it.

use std::future::Future;
use std::sync::Arc;

use weirmq_zmtp::{Message, SocketType};

use super::{Handle, RecvSocket, SendSocket, Socket, private, send_lb, try_send_lb};
use crate::error::{Error, TrySendError};
use crate::options::Options;
use crate::socket::{Routing, Shape};

/// Peers: one PAIR. Out: its pipe, kept across reconnects. In: its lane.
const SHAPE: Shape = Shape {
    socket_type: SocketType::Pair,
    has_pipe: true,
    receives: true,
    routing_id_in_front: false,
    announced_ids: false,
    subscriber: false,
    keeps_pipe_on_reconnect: true,
    routes_before_connect: true,
    through: false,
    max_peers: Some(1),
};

/// PAIR: sends to and receives from one PAIR peer (RFC 31).
#[derive(Debug)]
pub struct Pair {
    handle: Handle,
}

impl Default for Pair {
    fn default() -> Self {
        Self::new()
    }
}

impl private::Sealed for Pair {
    fn handle(&self) -> &Handle {
        &self.handle
    }
}

impl Socket for Pair {
    const TYPE: SocketType = SocketType::Pair;

    fn with_options(options: Options) -> Result<Self, Error> {
        let handle = Handle::new(SHAPE, Arc::new(Routing), options)?;
        Ok(Pair { handle })
    }
}

impl SendSocket for Pair {
    fn send(&self, msg: impl Into<Message>) -> impl Future<Output = Result<(), Error>> + Send {
        send_lb(&self.handle, msg.into())
    }

    fn try_send(&self, msg: impl Into<Message>) -> Result<(), TrySendError> {
        try_send_lb(&self.handle, msg.into())
    }
}

impl RecvSocket for Pair {}
