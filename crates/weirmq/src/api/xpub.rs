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
//!
//! With [`Options::xpub_manual`] (libzmq's ZMQ_XPUB_MANUAL) the application
//! decides what each peer gets: a peer's SUBSCRIBE and CANCEL only become
//! notes (every one of them, as in libzmq), and [`XPub::subscribe`] and
//! [`XPub::unsubscribe`] set the filter of the peer whose note the
//! application received last (`pattern::manual`).

use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use weirmq_zmtp::{Message, SocketType};

use super::{Handle, RecvSocket, SendSocket, Socket, private};
use crate::error::{Error, TrySendError};
use crate::options::Options;
use crate::pattern::fq::LaneId;
use crate::pattern::manual::Manual;
use crate::pattern::subscriptions::{Filter, Subscriptions, TooMany};
use crate::queue::inbound::{InLane, Inbound};
use crate::queue::lock;
use crate::queue::pipe::PushError;
use crate::socket::{Asked, Attach, Peer, Pending, Role, Shape, Unwelcome};

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
    /// Manual mode (libzmq's ZMQ_XPUB_MANUAL): its state, under a lock that
    /// also covers queueing each note, so that notes and their peers stay
    /// in the same order.
    manual: Option<Mutex<Manual>>,
    notes: OnceLock<InLane>,
}

impl Upstream {
    fn notes(&self) -> &InLane {
        self.notes
            .get()
            .expect("started with the socket's incoming queue")
    }

    /// Queues the note `%x01`/`%x00` + `topic`; `Err(len)` when its lane
    /// has no room for its `len` octets. A closed socket takes nothing and
    /// that is fine: nobody will read it.
    fn queue_note(&self, subscribe: bool, topic: &[u8]) -> Result<bool, usize> {
        let mut note = Vec::with_capacity(1 + topic.len());
        note.push(u8::from(subscribe));
        note.extend_from_slice(topic);
        match self.notes().try_push(Message::from(note)) {
            Ok(()) => Ok(true),
            Err(PushError::Closed(_)) => Ok(false),
            Err(PushError::Full(note)) => Err(note.byte_len()),
        }
    }

    /// Manual mode: queues a note of `from` (`None`: of a peer that left),
    /// and records whose it is, under one lock.
    fn manual_note(
        &self,
        manual: &Mutex<Manual>,
        from: Option<&Bytes>,
        subscribe: bool,
        topic: &[u8],
    ) -> Result<(), usize> {
        let mut manual = lock(manual);
        if self.queue_note(subscribe, topic)? {
            manual.queued(from.cloned());
        }
        Ok(())
    }

    /// A message left the socket for the application from `lane`: in
    /// manual mode, a note's peer becomes the last one.
    fn handed_out(&self, lane: LaneId) {
        if let Some(manual) = &self.manual {
            if lane == self.notes().id() {
                lock(manual).handed_out();
            }
        }
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
        let _ = self.notes.set(inbound.open_lane(None, None, None));
    }

    /// Manual mode: a peer's SUBSCRIBE or CANCEL changes only what it
    /// asked for (cancelled when it leaves), not its filter, and every one
    /// is news. Otherwise as every PUB: its filter, as a set.
    fn peer_asked(&self, peer: &Peer, subscribe: bool, topic: &Bytes) -> Result<Asked, TooMany> {
        let changed = match &self.manual {
            Some(manual) => {
                let changed = lock(manual).ask(&peer.id, subscribe, topic)?;
                return Ok(Asked {
                    changed,
                    news: true,
                });
            }
            None => lock(&peer.subscriptions).ask(subscribe, topic)?,
        };
        Ok(Asked {
            changed,
            news: changed,
        })
    }

    /// Records one subscription (or cancel) of some peer in the union of
    /// all peers' subscriptions, and tells the application when the topic
    /// gains its first subscriber or loses its last (with `xpub_verbose`,
    /// at every subscription). The change and its note happen together,
    /// under one lock: when the lane is full nothing changes, so notes reach
    /// the application in the order of the changes and never contradict the
    /// union.
    ///
    /// Manual mode: every SUBSCRIBE and CANCEL is a note (libzmq's
    /// ZMQ_XPUB_MANUAL), recorded as `peer`'s; there is no union.
    fn peer_subscription(&self, peer: &Peer, subscribe: bool, topic: &Bytes) -> Result<(), usize> {
        if let Some(manual) = &self.manual {
            return self.manual_note(manual, Some(&peer.id), subscribe, topic);
        }
        let mut all = lock(&self.union);
        let news = if subscribe {
            all.count(topic) == 0 || self.verbose
        } else {
            all.count(topic) == 1
        };
        if news {
            // Not queued (the socket is closed): the change still counts.
            self.queue_note(subscribe, topic)?;
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
    ///
    /// Manual mode: each topic the peer asked for is cancelled, as libzmq
    /// does, with no peer to answer (its filter goes with it).
    fn peer_gone<'a>(&'a self, peer: &'a Peer, subscriptions: Subscriptions) -> Pending<'a> {
        Box::pin(async move {
            if let Some(manual) = &self.manual {
                let asked = lock(manual).gone(&peer.id);
                for topic in asked.each() {
                    while let Err(len) = self.manual_note(manual, None, false, topic) {
                        self.notes().writable(len).await;
                    }
                }
                return;
            }
            for topic in subscriptions.each() {
                while let Err(len) = self.peer_subscription(peer, false, topic) {
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
    role: Arc<Upstream>,
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
        let role = Arc::new(Upstream {
            verbose: options.xpub_verbose,
            welcome: options.xpub_welcome.clone(),
            union: Mutex::new(Subscriptions::aggregate()),
            manual: options.xpub_manual.then(Mutex::default),
            notes: OnceLock::new(),
        });
        let handle = Handle::new(SHAPE, role.clone(), options)?;
        Ok(XPub {
            handle,
            role,
            filter,
        })
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

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("manual", &self.manual.is_some())
            .finish_non_exhaustive()
    }
}

impl XPub {
    /// Manual mode (libzmq's ZMQ_SUBSCRIBE on an XPUB with
    /// ZMQ_XPUB_MANUAL): the peer of the last subscription note this
    /// socket's `recv` or `try_recv` handed out gets the messages whose
    /// first frame starts with `topic`, whatever it asked for. As a set:
    /// granting a topic twice is granting it once.
    ///
    /// "Last" is the note most recently handed out, by any task; messages
    /// other than notes (an XSUB's upstream data) do not change it, and the
    /// cancels made for a peer that left have no peer. `Ok(false)`: there
    /// is no such peer (no note yet, the last one was a departed peer's
    /// cancel, or the peer has left since), and nothing changed; libzmq
    /// ignores the option then.
    ///
    /// Without [`Options::xpub_manual`] this is
    /// [`Error::InvalidState`], as libzmq fails with EINVAL.
    pub fn subscribe(&self, topic: impl AsRef<[u8]>) -> Result<bool, Error> {
        self.grant(true, topic.as_ref())
    }

    /// Manual mode (libzmq's ZMQ_UNSUBSCRIBE on an XPUB with
    /// ZMQ_XPUB_MANUAL): the peer of the last note handed out (as
    /// [`XPub::subscribe`] tells) no longer gets what `topic` matched.
    /// `Ok(false)`: there is no such peer. Without
    /// [`Options::xpub_manual`], [`Error::InvalidState`].
    pub fn unsubscribe(&self, topic: impl AsRef<[u8]>) -> Result<bool, Error> {
        self.grant(false, topic.as_ref())
    }

    fn grant(&self, subscribe: bool, topic: &[u8]) -> Result<bool, Error> {
        let Some(manual) = &self.role.manual else {
            return Err(Error::InvalidState(
                "XPub::subscribe and unsubscribe need Options::with_xpub_manual \
                 (ZMQ_XPUB_MANUAL); libzmq refuses ZMQ_SUBSCRIBE on an XPUB without it",
            ));
        };
        let Some(id) = lock(manual).last().cloned() else {
            return Ok(false);
        };
        let core = self.handle.core();
        let peers = core.peers();
        let Some(peer) = peers.routes.get(&id) else {
            return Ok(false);
        };
        let changed = lock(&peer.subscriptions)
            .ask(subscribe, &Bytes::copy_from_slice(topic))
            .map_err(|TooMany| {
                Error::InvalidOption("too many subscriptions for one peer".into())
            })?;
        drop(peers);
        if changed && !subscribe {
            // A send waiting for room at this peer may not need it any more.
            core.wake_senders();
        }
        Ok(true)
    }
}

impl RecvSocket for XPub {
    /// Receives a note or a message from upstream (see
    /// [`RecvSocket::recv`]); in manual mode a note's peer becomes the one
    /// [`XPub::subscribe`] applies to.
    async fn recv(&self) -> Result<Message, Error> {
        if self.role.manual.is_none() {
            return self.handle.core().recv().await;
        }
        let (msg, lane) = self.handle.core().recv_from().await?;
        self.role.handed_out(lane);
        Ok(msg)
    }

    /// Receives a note or a message if one is waiting (see
    /// [`XPub::recv`](RecvSocket::recv)).
    fn try_recv(&self) -> Option<Message> {
        if self.role.manual.is_none() {
            return self.handle.core().try_recv();
        }
        let (msg, lane) = self.handle.core().try_recv_from()?;
        self.role.handed_out(lane);
        Some(msg)
    }
}
