//! A socket type's own handling of what its peers do, where that is more
//! than routing: the hooks the shared parts (the peer registry, the
//! engine) call, which the type's own file fills in. SUB and XSUB keep
//! their own subscriptions, send them to each peer and filter what comes
//! in; XPUB tells the application when its peers' subscriptions change.
//! The other types only route, and need none of it ([`Routing`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use weirmq_zmtp::{Connection, Message};

use super::peers::{Peer, Unwelcome};
use crate::pattern::subscriptions::{Subscriptions, TooMany};
use crate::queue::inbound::Inbound;
use crate::queue::lock;

/// Something a role waits for.
pub(crate) type Pending<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// Routes a newly ready peer, as [`Role::peer_ready`] is handed it.
pub(crate) type Attach<'a> = dyn FnMut() -> Result<Arc<Peer>, Unwelcome> + 'a;

/// What a socket type does when its peers come, go, subscribe and send.
pub(crate) trait Role: Send + Sync + 'static {
    /// The socket's incoming queue exists: a role that queues messages of
    /// its own (XPUB's notes) opens its lane there.
    fn start(&self, _inbound: &Arc<Inbound>) {}

    /// A peer's connection is ready, and `attach` routes it. A subscriber
    /// sends it its subscriptions first, under the lock its own changes
    /// take, so that none is sent twice or missed.
    fn peer_ready(
        &self,
        _conn: &mut Connection,
        attach: &mut Attach<'_>,
    ) -> Result<Arc<Peer>, Unwelcome> {
        attach()
    }

    /// A message the socket receives when `peer` arrives, before anything
    /// the peer sends (a ROUTER's ZMQ_ROUTER_NOTIFY notice).
    fn arrived(&self, _peer: &Peer) -> Option<Message> {
        None
    }

    /// A message the socket receives when the connection of `peer`, which
    /// had arrived, ends: after everything the peer sent.
    fn departed(&self, _peer: &Peer) -> Option<Message> {
        None
    }

    /// Whether a message received (here its first frame) is kept: a
    /// subscriber keeps what matches its subscriptions, and counts the
    /// rest as filtered.
    fn keeps(&self, _first: &[u8]) -> bool {
        true
    }

    /// A peer's SUBSCRIBE (`subscribe`) or CANCEL of `topic` (PUB, XPUB):
    /// the change it makes to the peer, made here, and whether it is for
    /// [`Role::peer_subscription`] too. By default the peer's filter
    /// changes, as a set (libzmq's PUB), and a change is news. Asking the
    /// opposite undoes a change (`changed`) that never reached
    /// [`Role::peer_subscription`].
    fn peer_asked(&self, peer: &Peer, subscribe: bool, topic: &Bytes) -> Result<Asked, TooMany> {
        let changed = lock(&peer.subscriptions).ask(subscribe, topic)?;
        Ok(Asked {
            changed,
            news: changed,
        })
    }

    /// `peer` subscribed to `topic`, or cancelled it, and
    /// [`Role::peer_asked`] found it news. `Err(len)`: there is no room yet
    /// for the note of `len` octets this makes, and nothing changed; try
    /// again once [`Role::note_room`] has room.
    fn peer_subscription(
        &self,
        _peer: &Peer,
        _subscribe: bool,
        _topic: &Bytes,
    ) -> Result<(), usize> {
        Ok(())
    }

    /// Waits until a note of `len` octets has room.
    fn note_room(&self, _len: usize) -> Pending<'_> {
        Box::pin(std::future::ready(()))
    }

    /// `peer` left, and `subscriptions` were its filter.
    fn peer_gone<'a>(&'a self, _peer: &'a Peer, _subscriptions: Subscriptions) -> Pending<'a> {
        Box::pin(std::future::ready(()))
    }

    /// Messages received and not kept.
    fn filtered(&self) -> u64 {
        0
    }
}

/// What a peer's SUBSCRIBE or CANCEL did (see [`Role::peer_asked`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Asked {
    /// What the role keeps of the peer's subscriptions changed.
    pub(crate) changed: bool,
    /// It goes on to [`Role::peer_subscription`] (an XPUB's note).
    pub(crate) news: bool,
}

/// The role of a type that only routes.
pub(crate) struct Routing;

impl Role for Routing {}

/// The role of a DEALER, REQ or ROUTER with libzmq's ZMQ_PROBE_ROUTER: it
/// only routes, and greets each peer with an empty message, so that a
/// ROUTER peer learns its routing id at once (as libzmq does, on every
/// connection, made or accepted).
pub(crate) struct Probe;

impl Role for Probe {
    fn peer_ready(
        &self,
        conn: &mut Connection,
        attach: &mut Attach<'_>,
    ) -> Result<Arc<Peer>, Unwelcome> {
        probe(conn);
        attach()
    }
}

/// Sends ZMQ_PROBE_ROUTER's empty message on a connection that has just
/// become ready (this cannot fail then); it goes out before anything
/// queued to the peer.
pub(crate) fn probe(conn: &mut Connection) {
    let _ = conn.send(&Message::from(Bytes::new()));
}
