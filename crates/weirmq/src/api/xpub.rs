//! XPUB (RFC 29): a PUB that also hands the application its peers'
//! subscriptions as messages (`%x01` and the topic when a topic gains its
//! first subscriber, `%x00` and the topic when it loses its last; every
//! subscription with `xpub_verbose`), and the other messages its peers
//! send upstream, fair-queued. For proxies.
//!
//! The notes ([`Upstream`]) wait in one lane for all peers, so that they
//! keep the order of the changes to the union of subscriptions they
//! report; they are messages like any other, within its HWM: a peer whose
//! note finds the lane full stops being read until there is room, and
//! nothing is dropped.

use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use weirmq_zmtp::{Message, SocketType};

use super::{Handle, RecvSocket, SendSocket, Socket, private};
use crate::error::{Error, TrySendError};
use crate::options::Options;
use crate::pattern::subscriptions::{Filter, Subscriptions};
use crate::queue::inbound::{InLane, Inbound};
use crate::queue::lock;
use crate::queue::pipe::PushError;
use crate::socket::{Attach, Peer, Pending, Role, Shape, Unwelcome};

/// Peers: SUB, XSUB. Out: distributed to the subscribed. In: their
/// subscriptions, as notes, and their other messages, fair-queued.
const SHAPE: Shape = Shape {
    socket_type: SocketType::XPub,
    receives: true,
    ..super::publish::SHAPE
};

/// XPUB's role: the union of its peers' subscriptions, and the lane of the
/// notes that report its changes.
struct Upstream {
    verbose: bool,
    /// Sent to each new subscriber first (libzmq's ZMQ_XPUB_WELCOME_MSG).
    welcome: Option<Bytes>,
    union: Mutex<Subscriptions>,
    notes: OnceLock<InLane>,
}

impl Upstream {
    fn notes(&self) -> &InLane {
        self.notes
            .get()
            .expect("started with the socket's incoming queue")
    }
}

impl Role for Upstream {
    /// A new subscriber is greeted with the welcome message, if there is
    /// one, before anything published reaches it.
    fn peer_ready(
        &self,
        conn: &mut weirmq_zmtp::Connection,
        attach: &mut Attach<'_>,
    ) -> Result<Arc<Peer>, Unwelcome> {
        if let Some(welcome) = &self.welcome {
            // The connection has just become ready: this cannot fail.
            let _ = conn.send(&Message::from(welcome.clone()));
        }
        attach()
    }

    fn start(&self, inbound: &Arc<Inbound>) {
        // Not counted in the budget: bounded by the receive HWM (notes are
        // made by peers' subscriptions, which each peer has a limit of).
        let _ = self.notes.set(inbound.open_lane(None));
    }

    /// Records one subscription (or cancel) of some peer in the union of
    /// all peers' subscriptions, and tells the application when the topic
    /// gains its first subscriber or loses its last (with `xpub_verbose`,
    /// at every subscription). The change and its note happen together,
    /// under one lock: when the lane is full nothing changes, so notes reach
    /// the application in the order of the changes and never contradict the
    /// union.
    fn peer_subscription(&self, subscribe: bool, topic: &Bytes) -> Result<(), usize> {
        let mut all = lock(&self.union);
        let news = if subscribe {
            all.count(topic) == 0 || self.verbose
        } else {
            all.count(topic) == 1
        };
        if news {
            let mut note = Vec::with_capacity(1 + topic.len());
            note.push(u8::from(subscribe));
            note.extend_from_slice(topic);
            match self.notes().try_push(Message::from(note)) {
                // Closed: nobody will read it; the change still counts.
                Ok(()) | Err(PushError::Closed(_)) => {}
                Err(PushError::Full(note)) => return Err(note.byte_len()),
            }
        }
        if subscribe {
            all.add(topic.clone());
        } else {
            all.remove(topic);
        }
        Ok(())
    }

    fn note_room(&self, len: usize) -> Pending<'_> {
        Box::pin(self.notes().writable(len))
    }

    /// A peer that left takes its subscriptions with it, and a topic left
    /// without subscribers is cancelled upstream. Each cancel waits for
    /// room in turn: until its note is in, a topic stays subscribed as far
    /// as the application knows, and the waiting costs only this peer's
    /// subscriptions, which exist already (a peer has a limit of them), and
    /// its engine task, whose connection is closed; a closed socket ends
    /// the wait.
    fn peer_gone(&self, subscriptions: Subscriptions) -> Pending<'_> {
        Box::pin(async move {
            for topic in subscriptions.each() {
                while let Err(len) = self.peer_subscription(false, topic) {
                    self.notes().writable(len).await;
                }
            }
        })
    }
}

/// XPUB: a PUB that also hands the application its peers' subscriptions as
/// messages (`%x01` and the topic when a topic gains its first subscriber,
/// `%x00` and the topic when it loses its last; RFC 29, libzmq's XPUB), and
/// the other messages subscribers send upstream. For proxies.
#[derive(Debug)]
pub struct XPub {
    handle: Handle,
    /// Who gets a message: the subscribed, or with
    /// [`Options::invert_matching`] the others.
    filter: Filter,
}

impl Default for XPub {
    fn default() -> Self {
        Self::new()
    }
}

impl private::Sealed for XPub {
    fn handle(&self) -> &Handle {
        &self.handle
    }
}

impl Socket for XPub {
    const TYPE: SocketType = SocketType::XPub;

    fn with_options(options: Options) -> Result<Self, Error> {
        let filter = Filter::publisher(options.invert_matching);
        let role = Upstream {
            verbose: options.xpub_verbose,
            welcome: options.xpub_welcome.clone(),
            union: Mutex::new(Subscriptions::aggregate()),
            notes: OnceLock::new(),
        };
        let handle = Handle::new(SHAPE, Arc::new(role), options)?;
        Ok(XPub { handle, filter })
    }
}

impl SendSocket for XPub {
    /// Publishes, as [`Pub`](crate::Pub) does.
    fn send(&self, msg: impl Into<Message>) -> impl Future<Output = Result<(), Error>> + Send {
        self.handle.core().distribute(msg.into(), self.filter)
    }

    fn try_send(&self, msg: impl Into<Message>) -> Result<(), TrySendError> {
        self.handle.core().try_distribute(msg.into(), self.filter)
    }
}

impl RecvSocket for XPub {}
