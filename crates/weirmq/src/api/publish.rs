//! PUB (RFC 29): sends each message to every peer subscribed to a prefix
//! of its first frame (distribution). A full subscriber makes the sender
//! wait, or misses the message and is counted, as [`Options::when_full`]
//! chooses. Receives nothing (its peers' subscriptions are kept per peer).

use std::future::Future;
use std::sync::Arc;

use weirmq_zmtp::{Message, SocketType};

use super::{Handle, SendSocket, Socket, private};
use crate::error::{Error, TrySendError};
use crate::options::Options;
use crate::pattern::subscriptions::Filter;
use crate::socket::{Routing, Shape};

/// Peers: SUB, XSUB. Out: distributed to the subscribed. In: only
/// subscriptions.
pub(super) const SHAPE: Shape = Shape {
    socket_type: SocketType::Pub,
    has_pipe: true,
    receives: false,
    routing_id_in_front: false,
    announced_ids: false,
    subscriber: false,
    keeps_pipe_on_reconnect: false,
    routes_before_connect: false,
    through: false,
    max_peers: None,
};

/// PUB: sends each message to every SUB subscribed to a prefix of its first
/// frame (RFC 29). A full subscriber makes the sender wait, or misses the
/// message and is counted, as [`Options::when_full`] chooses.
#[derive(Debug)]
pub struct Pub {
    handle: Handle,
    /// Who gets a message: the subscribed, or with
    /// [`Options::invert_matching`] the others.
    filter: Filter,
}

impl Default for Pub {
    fn default() -> Self {
        Self::new()
    }
}

impl private::Sealed for Pub {
    fn handle(&self) -> &Handle {
        &self.handle
    }
}

impl Socket for Pub {
    const TYPE: SocketType = SocketType::Pub;

    fn with_options(options: Options) -> Result<Self, Error> {
        let filter = Filter::publisher(options.invert_matching);
        let handle = Handle::new(SHAPE, Arc::new(Routing), options)?;
        Ok(Pub { handle, filter })
    }
}

impl SendSocket for Pub {
    /// Publishes a message to every peer subscribed to a prefix of its
    /// first frame, waiting (up to the send timeout) while such a peer is
    /// full under [`WhenFull::Wait`](crate::WhenFull::Wait).
    fn send(&self, msg: impl Into<Message>) -> impl Future<Output = Result<(), Error>> + Send {
        self.handle.core().distribute(msg.into(), self.filter)
    }

    /// Publishes without waiting: under `Wait`, a full subscriber hands the
    /// message back and nobody gets it; under `Drop`, the full ones miss it
    /// (counted).
    fn try_send(&self, msg: impl Into<Message>) -> Result<(), TrySendError> {
        self.handle.core().try_distribute(msg.into(), self.filter)
    }
}
