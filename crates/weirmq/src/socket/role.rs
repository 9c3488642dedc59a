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
use weirmq_zmtp::Connection;

use super::peers::{Peer, Unwelcome};
use crate::pattern::subscriptions::Subscriptions;
use crate::queue::inbound::Inbound;

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

    /// Whether a message received (here its first frame) is kept: a
    /// subscriber keeps what matches its subscriptions, and counts the
    /// rest as filtered.
    fn keeps(&self, _first: &[u8]) -> bool {
        true
    }

    /// A peer subscribed to `topic`, or cancelled it (its own set has the
    /// change already). `Err(len)`: there is no room yet for the note of
    /// `len` octets this makes, and nothing changed; try again once
    /// [`Role::note_room`] has room.
    fn peer_subscription(&self, _subscribe: bool, _topic: &Bytes) -> Result<(), usize> {
        Ok(())
    }

    /// Waits until a note of `len` octets has room.
    fn note_room(&self, _len: usize) -> Pending<'_> {
        Box::pin(std::future::ready(()))
    }

    /// A peer left, and `subscriptions` were its own.
    fn peer_gone(&self, _subscriptions: Subscriptions) -> Pending<'_> {
        Box::pin(std::future::ready(()))
    }

    /// Messages received and not kept.
    fn filtered(&self) -> u64 {
        0
    }
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
        // The connection has just become ready: this cannot fail. It goes
        // out before anything queued to the peer.
        let _ = conn.send(&weirmq_zmtp::Message::from(Bytes::new()));
        attach()
    }
}
