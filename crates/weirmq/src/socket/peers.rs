//! A socket's peers: each ready peer's pipe of messages queued to it, its
//! place in the load balancer's turns and under its routing id, its
//! subscriptions (PUB, XPUB) and, for REQ and REP, the connection written
//! and read through. Peers come when their handshake is done (or at once,
//! for an endpoint connected to with `immediate` off) and go with their
//! connection, or, for a connecting socket, stay across its reconnects.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use tokio::sync::Notify;
use weirmq_zmtp::Connection;

use super::core::Core;
use super::link::Through;
use crate::error::Error;
use crate::monitor::MonitorEvent;
use crate::pattern::lb::LoadBalance;
use crate::pattern::route::{DuplicateRoutingId, Routes};
use crate::pattern::subscriptions::Subscriptions;
use crate::queue::inbound::LaneStats;
use crate::queue::lock;
use crate::queue::pipe::Pipe;
use crate::queue::pressure::{Crossing, Marks, Reader, Watch};

/// Which of a peer's queues an alert is about.
#[derive(Debug, Clone, Copy)]
enum Direction {
    /// What is queued to it.
    Out,
    /// What it sent, waiting for the application.
    In,
}

/// One ready peer.
pub(crate) struct Peer {
    /// The peer's address or endpoint, for stats and monitor events.
    pub(crate) name: String,
    /// The peer's routing id: the Identity it announced to a ROUTER, or one
    /// we generated (`%x00` + a 4-octet counter, as libzmq does).
    pub(crate) id: Bytes,
    /// Unique among the socket's peers ever: what its incoming lane is
    /// known by.
    pub(crate) serial: u64,
    /// What is queued to it.
    pub(crate) out: Pipe,
    /// PUB and XPUB: what it subscribed to.
    pub(crate) subscriptions: Mutex<Subscriptions>,
    /// Messages dropped for this peer because its queue was full (only under
    /// [`WhenFull::Drop`](crate::WhenFull::Drop)).
    pub(crate) dropped: AtomicU64,
    /// Signalled when a newer connection took this peer's routing id over
    /// (ROUTER handover): its engine ends.
    pub(crate) replaced: Notify,
    /// REQ and REP: the peer's connection, written and read through by
    /// the socket's tasks (see [`Through`]), while there is one.
    link: Mutex<Option<Arc<dyn Through>>>,
}

impl Peer {
    /// Attaches the connection senders write through and receivers read
    /// through, or detaches it.
    pub(crate) fn set_link(&self, link: Option<Arc<dyn Through>>) {
        *lock(&self.link) = link;
    }

    /// The connection written and read through, if there is one.
    pub(crate) fn link(&self) -> Option<Arc<dyn Through>> {
        lock(&self.link).clone()
    }

    /// Sends `msg` through the connection now, past the pipe, if both are
    /// idle; otherwise `Err(msg)`, for the pipe.
    pub(crate) fn send_through(
        &self,
        msg: weirmq_zmtp::Message,
    ) -> Result<(), weirmq_zmtp::Message> {
        match self.link() {
            Some(link) => link.send_through(&self.out, msg),
            None => Err(msg),
        }
    }

    /// Sends what the pipe holds through the connection now, if it is
    /// idle; without a connection, the messages wait in the pipe for one.
    pub(crate) fn write_through(&self) {
        if let Some(link) = self.link() {
            link.write_through(&self.out);
        }
    }

    /// Messages it missed: dropped under `WhenFull::Drop`, or replaced
    /// under conflate.
    fn missed(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed) + self.out.replaced()
    }
}

/// Why a ready peer was not let in.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Unwelcome {
    /// A ROUTER peer announced a routing id another connected peer has.
    Duplicate,
    /// The socket takes no more peers (PAIR has one).
    Occupied,
}

impl From<DuplicateRoutingId> for Unwelcome {
    fn from(_: DuplicateRoutingId) -> Unwelcome {
        Unwelcome::Duplicate
    }
}

impl Unwelcome {
    /// Why, for the monitor event that reports it.
    pub(crate) fn reason(&self) -> &'static str {
        match self {
            Unwelcome::Duplicate => "routing id already in use",
            Unwelcome::Occupied => "the socket has all the peers it takes (PAIR has one)",
        }
    }
}

/// The routed peers.
#[derive(Default)]
pub(crate) struct Peers {
    /// In the order of their turns.
    pub(crate) list: Vec<Arc<Peer>>,
    /// Whose turn it is.
    pub(crate) lb: LoadBalance,
    /// The same peers by routing id.
    pub(crate) routes: Routes<Arc<Peer>>,
}

impl Peers {
    fn push(&mut self, peer: Arc<Peer>) {
        self.routes.insert(peer.id.clone(), peer.clone());
        self.list.push(peer);
    }

    fn remove(&mut self, peer: &Arc<Peer>) {
        if let Some(at) = self.list.iter().position(|p| Arc::ptr_eq(p, peer)) {
            self.list.remove(at);
            self.lb.removed(at, self.list.len());
        }
        self.routes.remove_if(&peer.id, |p| Arc::ptr_eq(p, peer));
    }

    /// Whether `peer` is routed (and not a newer one under its id).
    fn routes_to(&self, peer: &Arc<Peer>) -> bool {
        self.routes
            .get(&peer.id)
            .is_some_and(|p| Arc::ptr_eq(p, peer))
    }
}

impl Core {
    /// Gives the peer of the next `connect` to `endpoint` the routing id
    /// `id` (libzmq's ZMQ_CONNECT_ROUTING_ID): refused if a peer or another
    /// endpoint has it.
    pub(crate) fn give_connect_id(&self, endpoint: String, id: Bytes) -> Result<(), Error> {
        let peers = self.peers();
        let mut given = lock(&self.connect_ids);
        if peers.routes.contains(&id) || given.values().any(|g| *g == id) {
            return Err(Error::InvalidOption(
                "connect routing id: a peer has it already".into(),
            ));
        }
        given.insert(endpoint, id);
        Ok(())
    }

    /// The routing id given to the peer of `endpoint`, if one was.
    pub(crate) fn connect_id(&self, endpoint: &str) -> Option<Bytes> {
        lock(&self.connect_ids).get(endpoint).cloned()
    }

    /// Forgets the routing id given for `endpoint` (it is disconnected).
    pub(crate) fn forget_connect_id(&self, endpoint: &str) {
        lock(&self.connect_ids).remove(endpoint);
    }

    #[inline]
    pub(crate) fn peers(&self) -> MutexGuard<'_, Peers> {
        lock(&self.peers)
    }

    /// Registers a ready peer, through the socket type's role (which may
    /// send it something first: a SUB's subscriptions).
    ///
    /// `kept` is the peer of an earlier connection to the same endpoint,
    /// whose pipe still holds the messages it had not sent: they go out on
    /// this connection.
    ///
    /// `dialled`: the connection is one this socket made to endpoint
    /// `name`, and a routing id given for it (a ROUTER's
    /// `connect_with_routing_id`) is the peer's, whatever it announced.
    pub(crate) fn add_peer(
        &self,
        conn: &mut Connection,
        name: &str,
        kept: Option<Arc<Peer>>,
        dialled: bool,
    ) -> Result<Arc<Peer>, Unwelcome> {
        let given = dialled.then(|| self.connect_id(name)).flatten();
        let announced = if !self.shape.announced_ids {
            None
        } else if given.is_some() {
            given
        } else {
            conn.peer().and_then(|p| p.routing_id.clone())
        };
        let mut kept = kept;
        let mut attach = || self.attach(name, announced.clone(), kept.take());
        self.role.peer_ready(conn, &mut attach)
    }

    fn attach(
        &self,
        name: &str,
        announced: Option<Bytes>,
        kept: Option<Arc<Peer>>,
    ) -> Result<Arc<Peer>, Unwelcome> {
        let mut peers = self.peers();
        match kept {
            // Attached since connect() (immediate = false): already routed.
            Some(peer) if peers.routes_to(&peer) => return Ok(peer),
            Some(peer)
                if announced.as_ref().is_none_or(|id| *id == peer.id)
                    && !peers.routes.contains(&peer.id) =>
            {
                peers.push(peer.clone());
                drop(peers);
                self.room.wake_all();
                return Ok(peer);
            }
            // The peer came back under another routing id: what was queued
            // for the old id cannot be delivered, and is counted.
            Some(peer) => {
                peer.out.close();
                self.count_lost(&peer.name, peer.out.depth().0 as u64);
            }
            None => {}
        }
        if self
            .shape
            .max_peers
            .is_some_and(|max| peers.list.len() >= max)
        {
            return Err(Unwelcome::Occupied);
        }
        let (id, old) = peers
            .routes
            .place(announced, self.options.router_handover)?;
        if let Some(old) = old {
            // Handover: the old connection gives the id up and ends.
            peers.remove(&old);
            old.replaced.notify_one();
        }
        let peer = self.new_peer(name, id);
        peers.push(peer.clone());
        drop(peers);
        self.room.wake_all();
        Ok(peer)
    }

    /// A number for a new peer, unique among the socket's peers ever.
    pub(crate) fn next_serial(&self) -> u64 {
        self.serials.fetch_add(1, Ordering::Relaxed)
    }

    fn new_peer(&self, name: &str, id: Bytes) -> Arc<Peer> {
        Arc::new(Peer {
            name: name.to_owned(),
            id,
            serial: self.next_serial(),
            out: Pipe::watched(
                self.options.send_hwm,
                self.room.clone(),
                self.options.conflate,
                self.queue_watch(name),
                self.sent.clone(),
            ),
            subscriptions: Mutex::new(Subscriptions::default()),
            dropped: AtomicU64::new(0),
            replaced: Notify::new(),
            link: Mutex::new(None),
        })
    }

    /// The alerts on a peer's outgoing queue, if the options ask for them:
    /// crossings go to the monitor (held weakly: the pipes must not keep
    /// the socket's monitor open after the socket is gone).
    fn queue_watch(&self, name: &str) -> Option<Watch> {
        self.watch(name, Direction::Out)
    }

    /// The alerts on a peer's incoming lane, as [`Core::queue_watch`].
    pub(crate) fn incoming_watch(&self, name: &str) -> Option<Watch> {
        self.watch(name, Direction::In)
    }

    fn watch(&self, name: &str, direction: Direction) -> Option<Watch> {
        let alert = self.options.queue_alert?;
        let monitor = Arc::downgrade(&self.monitor);
        let peer = name.to_owned();
        let report = move |crossing, messages, bytes| {
            let Some(monitor) = monitor.upgrade() else {
                return;
            };
            let peer = peer.clone();
            lock(&monitor).emit(match (direction, crossing) {
                (Direction::Out, Crossing::High) => MonitorEvent::QueueHigh {
                    peer,
                    messages,
                    bytes,
                },
                (Direction::Out, Crossing::Low) => MonitorEvent::QueueLow {
                    peer,
                    messages,
                    bytes,
                },
                (Direction::In, Crossing::High) => MonitorEvent::IncomingQueueHigh {
                    peer,
                    messages,
                    bytes,
                },
                (Direction::In, Crossing::Low) => MonitorEvent::IncomingQueueLow {
                    peer,
                    messages,
                    bytes,
                },
            });
        };
        let hwm = match direction {
            Direction::Out => self.options.send_hwm,
            Direction::In => self.options.recv_hwm,
        };
        Some(Watch {
            marks: Marks::new(hwm, alert),
            report: Box::new(report),
        })
    }

    /// With `immediate = false`: a peer for an endpoint `connect` has not
    /// reached yet, routed at once so messages queue for it (up to its HWM)
    /// as libzmq does by default.
    pub(crate) fn preattach_peer(&self, name: &str) -> Arc<Peer> {
        let mut peers = self.peers();
        let id = peers.routes.generate();
        let peer = self.new_peer(name, id);
        peers.push(peer.clone());
        drop(peers);
        self.room.wake_all();
        peer
    }

    /// Forgets a peer for good: its pipe is closed, and the messages still
    /// in it are counted as lost, with `also_lost` others its connection
    /// lost (not written, or received and not delivered), in one report.
    /// (Its subscriptions then go with [`Role::peer_gone`](super::Role).)
    pub(crate) fn remove_peer(&self, peer: &Arc<Peer>, also_lost: u64) {
        peer.out.close();
        self.count_lost(&peer.name, peer.out.depth().0 as u64 + also_lost);
        self.dropped_gone
            .fetch_add(peer.missed(), Ordering::Relaxed);
        self.detach_peer(peer);
    }

    /// Takes a peer out of routing while its connection is down, keeping its
    /// pipe (and the messages in it) for the reconnect.
    pub(crate) fn detach_peer(&self, peer: &Arc<Peer>) {
        self.peers().remove(peer);
        // A PUB waiting for room at every subscribed peer may now go on
        // without this one.
        self.wake_senders();
    }

    /// Wakes the senders waiting for room, to look again at who a message
    /// is for (a peer cancelled a subscription, say).
    pub(crate) fn wake_senders(&self) {
        self.room.wake_all();
    }

    /// Counts messages that will never arrive (see
    /// [`Stats::lost`](crate::Stats::lost)), and reports them.
    pub(crate) fn count_lost(&self, peer: &str, count: u64) {
        if count > 0 {
            self.lost.fetch_add(count, Ordering::Relaxed);
            self.emit(MonitorEvent::MessagesLost {
                peer: peer.to_owned(),
                count,
            });
        }
    }

    /// Counts a message dropped for a full peer, and reports it.
    pub(crate) fn count_drop(&self, peer: &Peer) {
        peer.dropped.fetch_add(1, Ordering::Relaxed);
        self.emit(MonitorEvent::MessageDropped {
            peer: peer.name.clone(),
        });
    }

    /// One line per ready peer: what is queued to it and what it missed,
    /// and what waits in its incoming lane.
    pub(crate) fn peer_stats(&self) -> Vec<crate::PeerStats> {
        self.peer_stats_as(Reader::PeerStats)
    }

    /// [`Core::peer_stats`], the peaks since `reader` last asked.
    pub(crate) fn peer_stats_as(&self, reader: Reader) -> Vec<crate::PeerStats> {
        // Not under the peers' lock: a connection takes that one, then its
        // lane's. A lane of a peer the socket keeps goes to that peer's
        // line, found by its serial; one on a socket that keeps none (PULL,
        // SUB) makes a line of its own.
        let lanes = self.inbound.peer_lanes(reader);
        let (kept, own) = if self.shape.has_pipe {
            (lanes, Vec::new())
        } else {
            (Vec::new(), lanes)
        };
        let mut kept: HashMap<u64, LaneStats> =
            kept.into_iter().map(|l| (l.owner.serial, l)).collect();
        let mut stats: Vec<crate::PeerStats> = self
            .peers()
            .list
            .iter()
            .map(|p| {
                let (queued_messages, queued_bytes) = p.out.depth();
                let (peak_queued_messages, time_full) = p.out.pressure(reader);
                let mut s = crate::PeerStats {
                    routing_id: p.id.clone(),
                    queued_messages,
                    queued_bytes,
                    dropped: p.missed(),
                    peak_queued_messages,
                    time_full,
                    ..crate::PeerStats::quiet(p.name.clone(), p.serial)
                };
                if let Some(lane) = kept.remove(&p.serial) {
                    s.incoming(lane);
                }
                s
            })
            .collect();
        // What is left in `kept` is of peers that have left the list, their
        // connections ending: not listed, as their outgoing side is not.
        stats.extend(own.into_iter().map(|lane| {
            let mut s = crate::PeerStats::quiet(lane.owner.name.clone(), lane.owner.serial);
            s.incoming(lane);
            s
        }));
        stats
    }

    /// Messages dropped under `WhenFull::Drop` or replaced under conflate,
    /// all peers ever, and in the incoming queue.
    pub(crate) fn dropped(&self) -> u64 {
        let live: u64 = self.peers().list.iter().map(|p| p.missed()).sum();
        live + self.dropped_gone.load(Ordering::Relaxed) + self.inbound.replaced()
    }

    /// Messages (and their octets) queued to peers and not yet handed to a
    /// connection, and the most queued to one peer since `stats()` last
    /// asked.
    pub(crate) fn queued_out(&self, reader: Reader) -> (usize, usize, usize) {
        self.peers().list.iter().fold((0, 0, 0), |(m, b, peak), p| {
            let (pm, pb) = p.out.depth();
            let (pp, _) = p.out.pressure(reader);
            (m + pm, b + pb, peak.max(pp))
        })
    }
}
