//! SUB (RFC 29): receives the messages of its publishers whose first frame
//! starts with one of its subscriptions, fair-queued. Its subscriptions
//! ([`Subscriber`], which XSUB shares) are counted, sent to each publisher
//! as it connects and to all of them as they change, and matched again on
//! what arrives (as libzmq's SUB does).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use weirmq_zmtp::{Connection, Message, SocketType};

use super::{Handle, RecvSocket, Socket, private};
use crate::error::Error;
use crate::options::Options;
use crate::pattern::subscriptions::Subscriptions;
use crate::queue::lock;
use crate::socket::{Attach, Core, Peer, Role, Shape, Unwelcome};

/// Peers: PUB, XPUB. Out: only its subscriptions (a pipe per peer, which
/// a new connection fills afresh). In: fair-queued, filtered.
const SHAPE: Shape = Shape {
    socket_type: SocketType::Sub,
    has_pipe: true,
    receives: true,
    routing_id_in_front: false,
    announced_ids: false,
    subscriber: true,
    keeps_pipe_on_reconnect: false,
    routes_before_connect: false,
    through: false,
    max_peers: None,
};

/// The role of SUB and XSUB: their own subscriptions.
#[derive(Default)]
pub(super) struct Subscriber {
    topics: Mutex<Subscriptions>,
    /// Keep what matches none of the subscriptions instead (libzmq's
    /// ZMQ_INVERT_MATCHING).
    invert: bool,
    /// Messages received that match no subscription.
    filtered: AtomicU64,
}

impl Subscriber {
    /// Adds (or with `subscribe == false` cancels) a subscription and tells
    /// every connected peer.
    pub(super) fn change(&self, core: &Core, topic: &[u8], subscribe: bool) -> Result<(), Error> {
        let mut topics = lock(&self.topics);
        // Our count is kept here; the wire carries a set. libzmq's PUB drops
        // a topic at the first CANCEL however often it was subscribed, so a
        // SUBSCRIBE goes out when a topic's count leaves 0 and a CANCEL when
        // it returns to 0 (as libzmq's own XSUB does).
        let changed = if subscribe {
            let first = topics.count(topic) == 0;
            if !topics.add(Bytes::copy_from_slice(topic)) {
                return Err(Error::InvalidOption("too many subscriptions".into()));
            }
            first
        } else {
            if !topics.remove(topic) {
                return Err(Error::InvalidOption("no such subscription".into()));
            }
            topics.count(topic) == 0
        };
        if !changed {
            return Ok(());
        }
        let mut control = Vec::with_capacity(1 + topic.len());
        control.push(u8::from(subscribe));
        control.extend_from_slice(topic);
        let control = Message::from(control);
        for peer in &core.peers().list {
            // A subscription is a command of ours, not data: it bypasses the
            // HWM, and a change not yet sent is undone rather than followed
            // (at most one queued per topic).
            peer.out.push_subscription(control.clone());
        }
        Ok(())
    }
}

impl Role for Subscriber {
    /// A publisher gets all our subscriptions first, under the lock that
    /// [`Subscriber::change`] takes, so that none is sent twice or missed.
    fn peer_ready(
        &self,
        conn: &mut Connection,
        attach: &mut Attach<'_>,
    ) -> Result<Arc<Peer>, Unwelcome> {
        let topics = lock(&self.topics);
        for topic in topics.distinct() {
            // The connection has just become ready: this cannot fail.
            let _ = conn.subscribe(topic);
        }
        attach()
    }

    fn keeps(&self, first: &[u8]) -> bool {
        let keep = lock(&self.topics).matches(first) != self.invert;
        if !keep {
            self.filtered.fetch_add(1, Ordering::Relaxed);
        }
        keep
    }

    fn filtered(&self) -> u64 {
        self.filtered.load(Ordering::Relaxed)
    }
}

/// SUB: receives the messages of PUB peers whose first frame starts with one
/// of its subscriptions (RFC 29), or with [`Options::invert_matching`] those
/// that match none. Subscribes to nothing at first.
#[derive(Debug)]
pub struct Sub {
    handle: Handle,
    role: Arc<Subscriber>,
}

impl std::fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscriber")
            .field("filtered", &self.filtered())
            .finish_non_exhaustive()
    }
}

impl Sub {
    /// Subscribes to messages whose first frame starts with `topic` (the
    /// empty topic matches everything). Counted: subscribing twice needs two
    /// `unsubscribe`s.
    pub fn subscribe(&self, topic: impl AsRef<[u8]>) -> Result<(), Error> {
        self.role.change(self.handle.core(), topic.as_ref(), true)
    }

    /// Cancels one subscription to `topic`.
    pub fn unsubscribe(&self, topic: impl AsRef<[u8]>) -> Result<(), Error> {
        self.role.change(self.handle.core(), topic.as_ref(), false)
    }
}

impl Default for Sub {
    fn default() -> Self {
        Self::new()
    }
}

impl private::Sealed for Sub {
    fn handle(&self) -> &Handle {
        &self.handle
    }
}

impl Socket for Sub {
    const TYPE: SocketType = SocketType::Sub;

    fn with_options(options: Options) -> Result<Self, Error> {
        let role = Arc::new(Subscriber {
            invert: options.invert_matching,
            ..Subscriber::default()
        });
        let handle = Handle::new(SHAPE, role.clone(), options)?;
        Ok(Sub { handle, role })
    }
}

impl RecvSocket for Sub {}
