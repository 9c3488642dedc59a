//! DEALER (RFC 28): sends to its peers in turn (load balanced) and
//! receives from all of them, fair-queued; messages pass as they are, with
//! no envelope added or removed.

use std::future::Future;

use weirmq_zmtp::{Message, SocketType};

use super::{Handle, RecvSocket, SendSocket, Socket, private, send_lb, try_send_lb};
use crate::error::{Error, TrySendError};
use crate::options::Options;
use crate::socket::Shape;

/// Peers: REP, DEALER, ROUTER. Out: load balanced, kept across reconnects.
/// In: fair-queued.
const SHAPE: Shape = Shape {
    socket_type: SocketType::Dealer,
    has_pipe: true,
    receives: true,
    routing_id_in_front: false,
    announced_ids: false,
    subscriber: false,
    keeps_pipe_on_reconnect: true,
    routes_before_connect: true,
    through: false,
    max_peers: None,
};

/// DEALER: sends to peers in turn, receives from all (RFC 28).
#[derive(Debug)]
pub struct Dealer {
    handle: Handle,
}

impl Default for Dealer {
    fn default() -> Self {
        Self::new()
    }
}

impl private::Sealed for Dealer {
    fn handle(&self) -> &Handle {
        &self.handle
    }
}

impl Socket for Dealer {
    const TYPE: SocketType = SocketType::Dealer;

    fn with_options(options: Options) -> Result<Self, Error> {
        let handle = Handle::new(SHAPE, super::routing_role(&options), options)?;
        Ok(Dealer { handle })
    }
}

impl SendSocket for Dealer {
    fn send(&self, msg: impl Into<Message>) -> impl Future<Output = Result<(), Error>> + Send {
        send_lb(&self.handle, msg.into())
    }

    fn try_send(&self, msg: impl Into<Message>) -> Result<(), TrySendError> {
        try_send_lb(&self.handle, msg.into())
    }
}

impl RecvSocket for Dealer {}
