//! ROUTER (RFC 28): receives from all peers, fair-queued, with the
//! sender's routing id as the first frame, and sends each message to the
//! peer its first frame names. A peer's routing id is the Identity it
//! announced, or a generated 5-octet one starting with a zero octet.

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use weirmq_zmtp::{Connection, Message, SocketType};

use super::{Handle, RecvSocket, SendSocket, Socket, private};
use crate::error::{Error, TrySendError};
use crate::options::{Options, RouterNotify};
use crate::socket::{Attach, Peer, Role, Shape, Unwelcome};

/// Peers: REQ, DEALER, ROUTER. Out: routed by id (announced ids taken,
/// handed over with `router_handover`), kept across reconnects. In:
/// fair-queued, the routing id in front.
const SHAPE: Shape = Shape {
    socket_type: SocketType::Router,
    has_pipe: true,
    receives: true,
    routing_id_in_front: true,
    announced_ids: true,
    subscriber: false,
    keeps_pipe_on_reconnect: true,
    routes_before_connect: false,
    through: false,
    max_peers: None,
};

/// ROUTER: receives from all peers with the sender's routing id as the first
/// frame, and sends to the peer a message's first frame names (RFC 28).
///
/// With [`Options::router_notify`] it also receives a notice (the peer's
/// routing id and an empty frame) when a peer arrives and when it leaves.
///
/// A message to an id nobody has is refused with [`Error::Unroutable`]
/// (libzmq drops it silently unless ROUTER_MANDATORY); a full peer makes
/// the sender wait, or drops and counts under
/// [`WhenFull::Drop`](crate::WhenFull::Drop).
#[derive(Debug)]
pub struct Router {
    handle: Handle,
}

impl Default for Router {
    fn default() -> Self {
        Self::new()
    }
}

impl private::Sealed for Router {
    fn handle(&self) -> &Handle {
        &self.handle
    }
}

impl Socket for Router {
    const TYPE: SocketType = SocketType::Router;

    fn with_options(options: Options) -> Result<Self, Error> {
        let role: Arc<dyn Role> = if options.router_notify.any() {
            Arc::new(Notifying {
                notify: options.router_notify,
                probe: options.probe_router,
            })
        } else {
            super::routing_role(&options)
        };
        let handle = Handle::new(SHAPE, role, options)?;
        Ok(Router { handle })
    }
}

impl Router {
    /// Connects to `endpoint`, as [`Socket::connect`] does, and routes to
    /// the peer there by `routing_id`, whatever Identity it announces
    /// (libzmq's ZMQ_CONNECT_ROUTING_ID, set before a `zmq_connect`); the
    /// id stays the peer's across reconnects. `routing_id` is 1..=255
    /// octets and must not be a connected peer's (or another endpoint's);
    /// otherwise [`Error::InvalidOption`].
    pub async fn connect_with_routing_id(
        &self,
        endpoint: &str,
        routing_id: impl Into<Bytes>,
    ) -> Result<(), Error> {
        let id = routing_id.into();
        if id.is_empty() || id.len() > 255 {
            return Err(Error::InvalidOption(
                "connect routing id: 1 to 255 octets".into(),
            ));
        }
        let key = crate::Endpoint::parse(endpoint)?.to_string();
        let core = self.handle.core();
        core.give_connect_id(key.clone(), id)?;
        let connected = self.connect(endpoint).await;
        if connected.is_err() {
            core.forget_connect_id(&key);
        }
        connected
    }
}

/// The role of a ROUTER with ZMQ_ROUTER_NOTIFY: it routes (and probes, with
/// ZMQ_PROBE_ROUTER too), and tells the application of each peer's arrival
/// and departure with a message of the peer's routing id and an empty
/// frame, as libzmq 4.3 does (stream_engine_base.cpp).
struct Notifying {
    notify: RouterNotify,
    probe: bool,
}

impl Notifying {
    fn notice(&self, wanted: bool, peer: &Peer) -> Option<Message> {
        wanted.then(|| Message::from(vec![peer.id.clone(), Bytes::new()]))
    }
}

impl Role for Notifying {
    fn peer_ready(
        &self,
        conn: &mut Connection,
        attach: &mut Attach<'_>,
    ) -> Result<Arc<Peer>, Unwelcome> {
        if self.probe {
            crate::socket::probe(conn);
        }
        attach()
    }

    fn arrived(&self, peer: &Peer) -> Option<Message> {
        self.notice(self.notify.connect, peer)
    }

    fn departed(&self, peer: &Peer) -> Option<Message> {
        self.notice(self.notify.disconnect, peer)
    }
}

/// The routing id and the rest of a message to send.
fn split_routing_id(mut msg: Message) -> Result<(Bytes, Message), Message> {
    if msg.len() < 2 {
        return Err(msg);
    }
    let id = msg.pop_front().expect("two frames or more");
    Ok((id, msg))
}

const NEEDS_ID: &str = "a ROUTER message needs a routing id frame and at least one more frame";

impl SendSocket for Router {
    /// Sends `msg[1..]` to the peer whose routing id is `msg[0]`.
    fn send(&self, msg: impl Into<Message>) -> impl Future<Output = Result<(), Error>> + Send {
        let split = split_routing_id(msg.into());
        async move {
            let (id, msg) = split.map_err(|_| Error::InvalidMessage(NEEDS_ID))?;
            self.handle.core().send_to(id, msg).await
        }
    }

    /// Sends without waiting; a full peer hands the whole message back,
    /// routing id included.
    fn try_send(&self, msg: impl Into<Message>) -> Result<(), TrySendError> {
        let (id, rest) = split_routing_id(msg.into()).map_err(TrySendError::Unroutable)?;
        let restore = |mut m: Message| {
            m.push_front(id.clone());
            m
        };
        self.handle
            .core()
            .try_send_to(&id, rest)
            .map_err(|e| e.map(restore))
    }
}

impl RecvSocket for Router {}
