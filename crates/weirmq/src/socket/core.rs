//! What every socket has: options, its peers' pipes, its incoming queue, its
//! listeners and connectors, and the signal that closes it all.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{Notify, watch};
use weirmq_zmtp::{Connection, Message, SocketType};

use super::link::Through;
use super::shape::Shape;
use super::zap::Zap;
use crate::error::{Error, TrySendError};
use crate::options::{Options, WhenFull};
use crate::pattern::subscriptions::Subscriptions;
use crate::queue::budget::Budget;
use crate::queue::inbound::{InLane, Inbound};
use crate::queue::pipe::{Pipe, PushError};
use crate::queue::signal::Signal;

pub(crate) use crate::queue::lock;

/// One ready peer: the pipe of messages waiting to go to it, and (for PUB)
/// what it subscribed to.
pub(crate) struct Peer {
    /// The peer's address or endpoint, for stats and monitor events.
    pub(crate) name: String,
    /// The peer's routing id: the Identity it announced to a ROUTER, or one
    /// we generated (`%x00` + a 4-octet counter, as libzmq does).
    pub(crate) id: Bytes,
    pub(crate) out: Pipe,
    pub(crate) subscriptions: Mutex<Subscriptions>,
    /// Messages dropped for this peer because its queue was full (only under
    /// [`WhenFull::Drop`]).
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

    /// Sends `msg` through the connection now, past the pipe, if both are
    /// idle; otherwise `Err(msg)`, for the pipe.
    fn send_through(&self, msg: Message) -> Result<(), Message> {
        let link = lock(&self.link).clone();
        match link {
            Some(link) => link.send_through(&self.out, msg),
            None => Err(msg),
        }
    }

    /// Sends what the pipe holds through the connection now, if it is
    /// idle; without a connection, the messages wait in the pipe for one.
    fn write_through(&self) {
        let link = lock(&self.link).clone();
        if let Some(link) = link {
            link.write_through(&self.out);
        }
    }
}

#[derive(Default)]
struct Peers {
    list: Vec<Arc<Peer>>,
    /// Round-robin position: the peer to try first.
    next: usize,
    /// The same peers by routing id.
    by_id: HashMap<Bytes, Arc<Peer>>,
    /// Counter for generated routing ids.
    generated: u32,
}

impl Peers {
    /// A fresh routing id, as libzmq makes them: `%x00` + a 4-octet counter.
    fn generate_id(&mut self) -> Bytes {
        loop {
            self.generated = self.generated.wrapping_add(1);
            let mut id = vec![0u8];
            id.extend_from_slice(&self.generated.to_be_bytes());
            let id = Bytes::from(id);
            if !self.by_id.contains_key(&id) {
                return id;
            }
        }
    }
}

/// A REQ's or REP's receiver that reads through the connection of its one
/// peer while it waits (see [`Through`]): the reply then reaches it
/// without a hand-off between tasks. With several peers it waits for the
/// engines, whose messages may come from any of them.
#[derive(Default)]
struct Reader {
    /// The peer read through, and its connection.
    current: Option<(Arc<Peer>, Arc<dyn Through>)>,
}

impl Reader {
    /// The next message, read through the peer's connection (the one peer
    /// now, which may have changed since the last poll).
    fn poll(&mut self, core: &Core, cx: &mut Context<'_>) -> Poll<Message> {
        let now = core.only_link();
        // A connecting socket keeps its peer across reconnects: the same
        // peer may have a new connection.
        let same = match (&now, &self.current) {
            (Some((p, l)), Some((q, m))) => Arc::ptr_eq(p, q) && Arc::ptr_eq(l, m),
            _ => false,
        };
        if !same {
            if let Some((_, old)) = self.current.take() {
                old.end_read_through();
            }
            self.current = now;
        }
        let Some((peer, link)) = &self.current else {
            return Poll::Pending;
        };
        let msg = ready!(link.poll_read_through(&peer.id, cx));
        core.received_through.fetch_add(1, Ordering::Relaxed);
        Poll::Ready(msg)
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        if let Some((_, link)) = self.current.take() {
            link.end_read_through();
        }
    }
}

/// A ROUTER peer announced a routing id another connected peer already has;
/// the newcomer is refused (libzmq does the same without ROUTER_HANDOVER).
#[derive(Debug)]
pub(crate) struct DuplicateRoutingId;

pub(crate) struct Core {
    /// What the socket's type does with its peers.
    pub(crate) shape: Shape,
    pub(crate) options: Options,
    /// The ZAP handler, as far as connections need it.
    pub(crate) zap: Arc<dyn Zap>,
    /// Signalled when any peer pipe frees room or a peer arrives or leaves.
    room: Arc<Signal>,
    peers: Mutex<Peers>,
    /// The socket's incoming queue: a lane per peer, which its engine
    /// pushes into, fair-queued for `recv`.
    pub(crate) inbound: Arc<Inbound>,
    /// XPUB: the lane of subscription notes, one for all peers, so that the
    /// notes keep the order of the changes to the union they report.
    notes: Option<InLane>,
    closed: watch::Sender<bool>,
    /// The same, for the send and receive paths to read without the
    /// watch's lock.
    is_closed: AtomicBool,
    /// Bound endpoints, resolved (`tcp://127.0.0.1:40123`).
    pub(crate) endpoints: Mutex<Vec<String>>,
    /// SUB: our own subscriptions, sent to every peer on connect.
    pub(crate) topics: Mutex<Subscriptions>,
    /// XPUB: every peer's subscriptions together, to tell the application
    /// when a topic gains its first subscriber or loses its last.
    upstream: Mutex<Subscriptions>,
    /// Drops of peers that have since gone, plus those of current peers
    /// are in each [`Peer`].
    dropped_gone: AtomicU64,
    /// SUB: messages received that match no subscription.
    pub(crate) filtered: AtomicU64,
    /// Messages that will never arrive (see [`Core::count_lost`]).
    lost: AtomicU64,
    /// REQ and REP: messages a receiver read through the connection and
    /// took without the incoming queue (see [`Reader`]).
    received_through: AtomicU64,
    /// Accepted connections still in their handshake, oldest first.
    handshaking: Mutex<VecDeque<(u64, Arc<Notify>)>>,
    next_ticket: AtomicU64,
    /// Connections closed to make room for newer ones in the handshake.
    pub(crate) evicted: AtomicU64,
    /// Accepted connections now (see [`Options::max_connections`]).
    accepted: AtomicUsize,
    /// Accepted connections closed at once for being over that cap.
    rejected: AtomicU64,
    /// The memory budget for incoming data, which every connection's
    /// reading and every peer's lane is counted in.
    pub(crate) budget: Arc<Budget>,
    /// A stop signal per bound or connected endpoint, for unbind/disconnect.
    links: Mutex<HashMap<String, Vec<watch::Sender<bool>>>>,
    /// Where monitor events go, if anyone asked.
    monitor: Mutex<crate::monitor::MonitorTx>,
    /// Engines running now, and a signal each time one ends.
    engines: AtomicU64,
    engine_ended: Notify,
}

/// Counts a running engine for as long as it lives.
pub(crate) struct EngineGuard(Arc<Core>);

impl Drop for EngineGuard {
    fn drop(&mut self) {
        self.0.engines.fetch_sub(1, Ordering::AcqRel);
        self.0.engine_ended.notify_waiters();
    }
}

/// An accepted connection's place among the socket's connections (see
/// [`Options::max_connections`]), and among those still in their handshake
/// until [`Ticket::done`]. Dropping it, when the connection ends, gives
/// both up.
pub(crate) struct Ticket {
    core: Arc<Core>,
    id: u64,
    /// Signalled when this connection is evicted.
    pub(crate) evicted: Arc<Notify>,
}

impl Ticket {
    /// The handshake finished: the connection no longer counts as being in
    /// it.
    pub(crate) fn done(&self) {
        lock(&self.core.handshaking).retain(|(id, _)| *id != self.id);
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.done();
        self.core.accepted.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Core {
    pub(crate) fn new(
        shape: Shape,
        options: Options,
        zap: Arc<dyn Zap>,
    ) -> Result<Arc<Core>, Error> {
        let socket_type = shape.socket_type;
        // Check the protocol options now, so bind/connect cannot fail later
        // for a reason the caller could have been told at construction.
        options.limits()?;
        // The same for what the connection checks (routing id, heartbeat
        // TTL, ...): one connection built now proves every later one valid.
        let probe = options.zmtp_config(socket_type);
        Connection::new(probe, std::time::Instant::now())
            .map_err(|e| Error::InvalidOption(e.to_string()))?;
        let room = Arc::new(Signal::default());
        let inbound = Inbound::new(options.recv_hwm, options.conflate);
        let budget = Budget::new(
            options.recv_budget,
            options.budget_reserve(),
            crate::queue::budget::ALLOWANCE,
        );
        let notes = (socket_type == SocketType::XPub).then(|| inbound.open_lane(None));
        Ok(Arc::new(Core {
            notes,
            shape,
            zap,
            options,
            room,
            peers: Mutex::new(Peers::default()),
            inbound,
            closed: watch::channel(false).0,
            is_closed: AtomicBool::new(false),
            endpoints: Mutex::new(Vec::new()),
            topics: Mutex::new(Subscriptions::default()),
            upstream: Mutex::new(Subscriptions::aggregate()),
            dropped_gone: AtomicU64::new(0),
            filtered: AtomicU64::new(0),
            lost: AtomicU64::new(0),
            received_through: AtomicU64::new(0),
            handshaking: Mutex::new(VecDeque::new()),
            next_ticket: AtomicU64::new(0),
            evicted: AtomicU64::new(0),
            accepted: AtomicUsize::new(0),
            rejected: AtomicU64::new(0),
            budget,
            links: Mutex::new(HashMap::new()),
            monitor: Mutex::new(crate::monitor::MonitorTx::default()),
            engines: AtomicU64::new(0),
            engine_ended: Notify::new(),
        }))
    }

    fn peers(&self) -> MutexGuard<'_, Peers> {
        lock(&self.peers)
    }

    /// Registers a ready peer. A SUB sends it all our subscriptions first,
    /// under the same lock that [`Core::subscribe`] takes, so no subscription
    /// is sent twice or missed.
    ///
    /// `kept` is the peer of an earlier connection to the same endpoint,
    /// whose pipe still holds the messages it had not sent: they go out on
    /// this connection.
    pub(crate) fn add_peer(
        &self,
        conn: &mut Connection,
        name: &str,
        kept: Option<Arc<Peer>>,
    ) -> Result<Arc<Peer>, DuplicateRoutingId> {
        let announced = match self.shape.socket_type {
            SocketType::Router => conn.peer().and_then(|p| p.routing_id.clone()),
            _ => None,
        };
        let topics = lock(&self.topics);
        let mut peers = self.peers();
        match kept {
            // Attached since connect() (immediate = false): already routed.
            Some(peer)
                if peers
                    .by_id
                    .get(&peer.id)
                    .is_some_and(|p| Arc::ptr_eq(p, &peer)) =>
            {
                drop(peers);
                drop(topics);
                return Ok(peer);
            }
            Some(peer)
                if announced.as_ref().is_none_or(|id| *id == peer.id)
                    && !peers.by_id.contains_key(&peer.id) =>
            {
                peers.list.push(peer.clone());
                peers.by_id.insert(peer.id.clone(), peer.clone());
                drop(peers);
                drop(topics);
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
        let id = match announced {
            Some(id) if peers.by_id.contains_key(&id) => {
                if !self.options.router_handover {
                    return Err(DuplicateRoutingId);
                }
                // Handover: the old connection gives the id up and ends.
                if let Some(old) = peers.by_id.remove(&id) {
                    peers.list.retain(|p| !Arc::ptr_eq(p, &old));
                    if peers.next >= peers.list.len() {
                        peers.next = 0;
                    }
                    old.replaced.notify_one();
                }
                id
            }
            Some(id) => id,
            None => peers.generate_id(),
        };
        let peer = self.new_peer(name, id.clone());
        for topic in topics.distinct() {
            // The connection has just become ready: this cannot fail.
            let _ = conn.subscribe(topic);
        }
        peers.list.push(peer.clone());
        peers.by_id.insert(id, peer.clone());
        drop(peers);
        drop(topics);
        self.room.wake_all();
        Ok(peer)
    }

    /// XPUB: records one subscription (or cancel) of some peer in the union
    /// of all peers' subscriptions, and tells the application with a
    /// `%x01`/`%x00` + topic message when the topic gains its first
    /// subscriber or loses its last (libzmq's XPUB; with `xpub_verbose`,
    /// every subscription).
    ///
    /// The note is a message like any other: it goes into the incoming
    /// queue only if its HWM has room. The change and its note happen
    /// together, under one lock: when the queue is full nothing changes and
    /// `Err` says how many octets to wait for, so notes reach the
    /// application in the order of the changes and never contradict the
    /// union. Other socket types record nothing.
    pub(crate) fn upstream_change(&self, subscribe: bool, topic: &Bytes) -> Result<(), usize> {
        let Some(notes) = &self.notes else {
            return Ok(());
        };
        let mut all = lock(&self.upstream);
        let news = if subscribe {
            all.count(topic) == 0 || self.options.xpub_verbose
        } else {
            all.count(topic) == 1
        };
        if news {
            let mut note = Vec::with_capacity(1 + topic.len());
            note.push(u8::from(subscribe));
            note.extend_from_slice(topic);
            match notes.try_push(Message::from(note)) {
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

    /// XPUB: a peer that left takes its subscriptions with it, and a topic
    /// left without subscribers is cancelled upstream. Each cancel waits for
    /// room in the incoming queue (see [`Core::upstream_change`]): nothing
    /// bypasses the receive HWM and nothing is dropped. Until its note is
    /// in, a topic stays subscribed as far as the application knows, and
    /// the waiting costs only this peer's subscriptions, which exist already
    /// (at most `MAX_TOPICS`), and its engine task, whose connection is
    /// closed; a closed socket ends the wait.
    pub(crate) async fn cancel_upstream(&self, peer: &Peer) {
        let Some(notes) = &self.notes else {
            return;
        };
        let subscriptions = std::mem::take(&mut *lock(&peer.subscriptions));
        for topic in subscriptions.each() {
            while let Err(len) = self.upstream_change(false, topic) {
                notes.writable(len).await;
            }
        }
    }

    /// XPUB: waits until the lane of subscription notes has room for one of
    /// `len` octets (at once for other types).
    pub(crate) async fn notes_writable(&self, len: usize) {
        if let Some(notes) = &self.notes {
            notes.writable(len).await;
        }
    }

    fn new_peer(&self, name: &str, id: Bytes) -> Arc<Peer> {
        Arc::new(Peer {
            name: name.to_owned(),
            id,
            out: Pipe::with_conflate(
                self.options.send_hwm,
                self.room.clone(),
                self.options.conflate,
            ),
            subscriptions: Mutex::new(Subscriptions::default()),
            dropped: AtomicU64::new(0),
            replaced: Notify::new(),
            link: Mutex::new(None),
        })
    }

    /// With `immediate = false`: a peer for an endpoint `connect` has not
    /// reached yet, routed at once so messages queue for it (up to its HWM)
    /// as libzmq does by default.
    pub(crate) fn preattach_peer(&self, name: &str) -> Arc<Peer> {
        let mut peers = self.peers();
        let id = peers.generate_id();
        let peer = self.new_peer(name, id.clone());
        peers.list.push(peer.clone());
        peers.by_id.insert(id, peer.clone());
        drop(peers);
        self.room.wake_all();
        peer
    }

    /// Forgets a peer for good: its pipe is closed, and the messages still
    /// in it are counted as lost, with `also_lost` others its connection
    /// lost (not written, or received and not delivered), in one report.
    /// (An XPUB then calls [`Core::cancel_upstream`].)
    pub(crate) fn remove_peer(&self, peer: &Arc<Peer>, also_lost: u64) {
        peer.out.close();
        self.count_lost(&peer.name, peer.out.depth().0 as u64 + also_lost);
        self.dropped_gone.fetch_add(
            peer.dropped.load(Ordering::Relaxed) + peer.out.replaced(),
            Ordering::Relaxed,
        );
        self.detach_peer(peer);
    }

    /// Takes a peer out of routing while its connection is down, keeping its
    /// pipe (and the messages in it) for the reconnect.
    pub(crate) fn detach_peer(&self, peer: &Arc<Peer>) {
        let mut peers = self.peers();
        peers.list.retain(|p| !Arc::ptr_eq(p, peer));
        if peers
            .by_id
            .get(&peer.id)
            .is_some_and(|p| Arc::ptr_eq(p, peer))
        {
            peers.by_id.remove(&peer.id);
        }
        if peers.next >= peers.list.len() {
            peers.next = 0;
        }
        drop(peers);
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
            self.emit(crate::monitor::MonitorEvent::MessagesLost {
                peer: peer.to_owned(),
                count,
            });
        }
    }

    /// Counts a message dropped for a full peer, and reports it.
    fn count_drop(&self, peer: &Peer) {
        peer.dropped.fetch_add(1, Ordering::Relaxed);
        self.emit(crate::monitor::MonitorEvent::MessageDropped {
            peer: peer.name.clone(),
        });
    }

    /// One line per ready peer: what is queued to it and what it missed.
    pub(crate) fn peer_stats(&self) -> Vec<crate::PeerStats> {
        self.peers()
            .list
            .iter()
            .map(|p| {
                let (queued_messages, queued_bytes) = p.out.depth();
                crate::PeerStats {
                    peer: p.name.clone(),
                    routing_id: p.id.clone(),
                    queued_messages,
                    queued_bytes,
                    dropped: p.dropped.load(Ordering::Relaxed) + p.out.replaced(),
                }
            })
            .collect()
    }

    /// Messages dropped under [`WhenFull::Drop`] or replaced under
    /// conflate, all peers ever.
    pub(crate) fn dropped(&self) -> u64 {
        let live: u64 = self
            .peers()
            .list
            .iter()
            .map(|p| p.dropped.load(Ordering::Relaxed) + p.out.replaced())
            .sum();
        live + self.dropped_gone.load(Ordering::Relaxed) + self.inbound.replaced()
    }

    /// SUB: adds (or with `subscribe == false` cancels) a subscription and
    /// tells every connected peer.
    pub(crate) fn subscribe(&self, topic: &[u8], subscribe: bool) -> Result<(), Error> {
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
        for peer in &self.peers().list {
            // A subscription is a command of ours, not data: it bypasses the
            // HWM, and a change not yet sent is undone rather than followed
            // (at most one queued per topic).
            peer.out.push_subscription(control.clone());
        }
        Ok(())
    }

    /// PUB: offers `msg` to every peer subscribed to its first frame.
    /// Under [`WhenFull::Wait`] either every such peer has room and gets it,
    /// or nobody does (`Full`); under [`WhenFull::Drop`] a peer without room
    /// misses it and its drop counter says so.
    pub(crate) fn try_broadcast(&self, msg: Message) -> Result<(), TrySendError> {
        self.try_fan_out(msg, true)
    }

    /// XSUB: a message that is not a subscription goes to every publisher
    /// (upstream), as libzmq's XSUB sends it.
    pub(crate) async fn send_upstream(&self, msg: Message) -> Result<(), Error> {
        self.wait_for_room(msg, |core, m| core.try_fan_out(m, false))
            .await
    }

    /// Offers `msg` to every peer (only the subscribed ones if `filter`),
    /// all-or-nothing under [`WhenFull::Wait`].
    fn try_fan_out(&self, msg: Message, filter: bool) -> Result<(), TrySendError> {
        if self.is_closed() {
            return Err(TrySendError::Closed(msg));
        }
        let topic = msg.frames().first().cloned().unwrap_or_default();
        let peers = self.peers();
        let subscribed = |p: &&Arc<Peer>| !filter || lock(&p.subscriptions).matches(&topic);
        if self.options.when_full == WhenFull::Wait
            && peers
                .list
                .iter()
                .filter(subscribed)
                .any(|p| !p.out.has_room(msg.byte_len()))
        {
            return Err(TrySendError::Full(msg));
        }
        for peer in peers.list.iter().filter(subscribed) {
            match peer.out.try_push(msg.clone()) {
                Ok(()) => {}
                Err(PushError::Full(_)) => {
                    self.count_drop(peer);
                }
                // The peer is leaving; its engine has stopped reading.
                Err(PushError::Closed(_)) => {}
            }
        }
        Ok(())
    }

    /// PUB: [`Core::try_broadcast`], waiting (up to the send timeout) while a
    /// subscribed peer is full under [`WhenFull::Wait`].
    pub(crate) async fn broadcast(&self, msg: Message) -> Result<(), Error> {
        if msg.is_empty() {
            return Err(Error::EmptyMessage);
        }
        self.wait_for_room(msg, |core, m| core.try_broadcast(m))
            .await
    }

    /// Round-robin over the ready peers: the first with room takes `msg`.
    pub(crate) fn try_send_round_robin(&self, msg: Message) -> Result<(), TrySendError> {
        self.round_robin(msg, |_| ())
    }

    /// [`Core::try_send_round_robin`], telling which peer took the message.
    pub(crate) fn try_send_round_robin_to(&self, msg: Message) -> Result<Bytes, TrySendError> {
        self.round_robin(msg, |peer| peer.id.clone())
    }

    /// Round robin, returning `taker(peer)` for the peer that took `msg`
    /// (only REQ pays for cloning its id).
    fn round_robin<T>(
        &self,
        mut msg: Message,
        taker: impl FnOnce(&Peer) -> T,
    ) -> Result<T, TrySendError> {
        if self.is_closed() {
            return Err(TrySendError::Closed(msg));
        }
        if self.shape.through {
            // REQ: the next peer's connection takes the request at once
            // when it and the peer's queue are idle. Not under the peers'
            // lock: the engine takes that one while it holds the link.
            let next = {
                let mut peers = self.peers();
                let n = peers.list.len();
                (n > 0).then(|| {
                    let idx = peers.next % n;
                    peers.next = (idx + 1) % n;
                    peers.list[idx].clone()
                })
            };
            if let Some(peer) = next {
                match peer.send_through(msg) {
                    Ok(()) => return Ok(taker(&peer)),
                    Err(m) => msg = m,
                }
            }
        }
        let mut peers = self.peers();
        let n = peers.list.len();
        for i in 0..n {
            let idx = (peers.next + i) % n;
            match peers.list[idx].out.try_push(msg) {
                Ok(()) => {
                    peers.next = (idx + 1) % n;
                    if !self.shape.through {
                        return Ok(taker(&peers.list[idx]));
                    }
                    // Not under the peers' lock: the engine takes that one
                    // while it holds the link.
                    let peer = peers.list[idx].clone();
                    drop(peers);
                    peer.write_through();
                    return Ok(taker(&peer));
                }
                Err(PushError::Full(m) | PushError::Closed(m)) => msg = m,
            }
        }
        Err(TrySendError::Full(msg))
    }

    /// Round-robin send that waits (up to the send timeout) for a peer with
    /// room: backpressure.
    pub(crate) async fn send_round_robin(&self, msg: Message) -> Result<(), Error> {
        if msg.is_empty() {
            return Err(Error::EmptyMessage);
        }
        self.wait_for_room(msg, |core, m| core.try_send_round_robin(m))
            .await
    }

    /// Round-robin send that waits for room; returns the id of the peer
    /// that took the message (REQ remembers it to match the reply).
    pub(crate) async fn send_round_robin_to(&self, msg: Message) -> Result<Bytes, Error> {
        if msg.is_empty() {
            return Err(Error::EmptyMessage);
        }
        self.wait_for_room(msg, |core, m| core.try_send_round_robin_to(m))
            .await
    }

    /// Sends to the peer with routing id `id`: `Unroutable` if there is
    /// none; when it is full, `Full` under [`WhenFull::Wait`], or a counted
    /// drop under [`WhenFull::Drop`].
    pub(crate) fn try_send_to(&self, id: &[u8], mut msg: Message) -> Result<(), TrySendError> {
        if self.is_closed() {
            return Err(TrySendError::Closed(msg));
        }
        let Some(peer) = self.peers().by_id.get(id).cloned() else {
            return Err(TrySendError::Unroutable(msg));
        };
        if self.shape.through {
            // REP: the reply goes at once when the connection is idle.
            match peer.send_through(msg) {
                Ok(()) => return Ok(()),
                Err(m) => msg = m,
            }
        }
        match peer.out.try_push(msg) {
            Ok(()) => {
                if self.shape.through {
                    peer.write_through();
                }
                Ok(())
            }
            Err(PushError::Full(m)) => match self.options.when_full {
                WhenFull::Wait => Err(TrySendError::Full(m)),
                WhenFull::Drop => {
                    self.count_drop(&peer);
                    Ok(())
                }
            },
            Err(PushError::Closed(m)) => Err(TrySendError::Unroutable(m)),
        }
    }

    /// [`Core::try_send_to`], waiting (up to the send timeout) for room.
    pub(crate) async fn send_to(&self, id: Bytes, msg: Message) -> Result<(), Error> {
        if msg.is_empty() {
            return Err(Error::EmptyMessage);
        }
        self.wait_for_room(msg, |core, m| core.try_send_to(&id, m))
            .await
    }

    /// Retries `attempt` whenever a peer pipe frees room, until it succeeds,
    /// the socket closes or the send timeout passes.
    async fn wait_for_room<T>(
        &self,
        msg: Message,
        attempt: impl Fn(&Core, Message) -> Result<T, TrySendError>,
    ) -> Result<T, Error> {
        // The common case, room now, builds no waiter and no timer.
        let msg = match attempt(self, msg) {
            Ok(t) => return Ok(t),
            Err(TrySendError::Closed(_)) => return Err(Error::Closed),
            Err(TrySendError::Unroutable(_)) => return Err(Error::Unroutable),
            Err(TrySendError::Full(m)) => m,
        };
        // Boxed: the waiting machinery is large, and would otherwise make
        // every send's future as large, and as costly to move.
        Box::pin(self.wait_for_room_slow(msg, attempt)).await
    }

    async fn wait_for_room_slow<T>(
        &self,
        msg: Message,
        attempt: impl Fn(&Core, Message) -> Result<T, TrySendError>,
    ) -> Result<T, Error> {
        let wait = async {
            let mut msg = msg;
            let mut closed = self.closed.subscribe();
            let _registered = self.room.register();
            loop {
                let notified = self.room.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                match attempt(self, msg) {
                    Ok(t) => return Ok(t),
                    Err(TrySendError::Closed(_)) => return Err(Error::Closed),
                    Err(TrySendError::Unroutable(_)) => return Err(Error::Unroutable),
                    Err(TrySendError::Full(m)) => msg = m,
                }
                tokio::select! {
                    _ = notified => {}
                    _ = closed.wait_for(|c| *c) => return Err(Error::Closed),
                }
            }
        };
        with_timeout(self.options.send_timeout, wait).await
    }

    /// Takes the next incoming message, waiting up to the receive timeout.
    pub(crate) async fn recv(&self) -> Result<Message, Error> {
        // The common case, a message waiting, builds no waiter and no timer.
        if let Some(msg) = self.try_recv() {
            return Ok(msg);
        }
        Box::pin(self.recv_slow()).await
    }

    async fn recv_slow(&self) -> Result<Message, Error> {
        // Each wake-up is checked with `try_recv`, which looks in the batch
        // as well as in the queue: another receiver may have moved the
        // messages whose push woke us into the batch (and handed out only
        // one), leaving the queue empty. If it took everything, we wait
        // again.
        let wait = async {
            let got = if self.shape.through {
                let mut reader = Reader::default();
                self.inbound
                    .wait_for(|| self.try_recv(), |cx| reader.poll(self, cx))
                    .await
            } else {
                self.inbound
                    .wait_for(|| self.try_recv(), |_| Poll::Pending)
                    .await
            };
            got.ok_or(Error::Closed)
        };
        with_timeout(self.options.recv_timeout, wait).await
    }

    /// REQ and REP: the one peer and its connection, when there is exactly
    /// one peer, and it is connected.
    fn only_link(&self) -> Option<(Arc<Peer>, Arc<dyn Through>)> {
        let peers = self.peers();
        let [peer] = peers.list.as_slice() else {
            return None;
        };
        let link = lock(&peer.link).clone()?;
        Some((peer.clone(), link))
    }

    /// The next message, fair-queued over the peers.
    pub(crate) fn try_recv(&self) -> Option<Message> {
        self.inbound.try_recv()
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.is_closed.load(Ordering::Acquire)
    }

    /// Resolves once the socket is closed.
    pub(crate) async fn closed(&self) {
        let mut rx = self.closed.subscribe();
        let _ = rx.wait_for(|c| *c).await;
    }

    /// Closes the socket: listeners and connectors stop, engines flush what
    /// they hold (within the linger time) and end, receivers see `Closed`.
    pub(crate) fn close(&self) {
        self.is_closed.store(true, Ordering::Release);
        self.closed.send_replace(true);
        self.inbound.close();
        self.room.wake_all();
    }

    /// Messages queued to peers and not yet handed to a connection.
    pub(crate) fn queued_out(&self) -> (usize, usize) {
        self.peers().list.iter().fold((0, 0), |(m, b), p| {
            let (pm, pb) = p.out.depth();
            (m + pm, b + pb)
        })
    }

    /// SUB: whether a received message matches one of our subscriptions
    /// (libzmq's SUB filters on receipt too); counts the ones that do not.
    /// `first` is the message's first frame.
    pub(crate) fn accepts(&self, first: &[u8]) -> bool {
        let ok = lock(&self.topics).matches(first);
        if !ok {
            self.filtered.fetch_add(1, Ordering::Relaxed);
        }
        ok
    }

    /// Registers a bound or connected endpoint; the receiver turns true when
    /// it is unbound or disconnected.
    pub(crate) fn link(&self, endpoint: String) -> watch::Receiver<bool> {
        let (tx, rx) = watch::channel(false);
        // Connecting twice to one endpoint makes two connections, as in
        // libzmq; disconnect ends both.
        lock(&self.links).entry(endpoint).or_default().push(tx);
        rx
    }

    /// Stops a bound or connected endpoint; `false` if there is none.
    pub(crate) fn unlink(&self, endpoint: &str) -> bool {
        match lock(&self.links).remove(endpoint) {
            Some(links) => {
                for tx in links {
                    tx.send_replace(true);
                }
                true
            }
            None => false,
        }
    }

    /// Starts (or restarts) the monitor.
    pub(crate) fn monitor(&self) -> crate::monitor::Monitor {
        lock(&self.monitor).start()
    }

    /// Reports an event to the monitor, if there is one.
    pub(crate) fn emit(&self, event: crate::monitor::MonitorEvent) {
        lock(&self.monitor).emit(event);
    }

    /// Registers a running engine until the guard drops.
    pub(crate) fn engine_started(self: &Arc<Core>) -> EngineGuard {
        self.engines.fetch_add(1, Ordering::AcqRel);
        EngineGuard(self.clone())
    }

    /// Closes the socket and waits until its connections have flushed what
    /// was queued to them and ended, or `linger` has passed.
    pub(crate) async fn close_and_flush(&self, linger: Duration) {
        self.close();
        let all_ended = async {
            loop {
                let ended = self.engine_ended.notified();
                tokio::pin!(ended);
                ended.as_mut().enable();
                if self.engines.load(Ordering::Acquire) == 0 {
                    return;
                }
                ended.await;
            }
        };
        let _ = tokio::time::timeout(linger, all_ended).await;
    }

    /// Admits an accepted connection, unless [`Options::max_connections`]
    /// are open already: then it is refused (`None`), counted and reported,
    /// and the caller closes it.
    ///
    /// An admitted connection enters the handshake. When
    /// [`Options::max_handshaking`] connections are already in it, the oldest
    /// is evicted: idle or slow unauthenticated connections cannot keep a
    /// real client out (libzmq CVE-2020-15166), since a real handshake takes
    /// milliseconds and an attacker would have to outpace every newcomer.
    pub(crate) fn admit(self: &Arc<Core>, peer: &str) -> Option<Ticket> {
        let max = self.options.max_connections;
        let counted = self
            .accepted
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            });
        if counted.is_err() {
            self.rejected.fetch_add(1, Ordering::Relaxed);
            self.emit(crate::monitor::MonitorEvent::ConnectionRejected {
                peer: peer.to_owned(),
                reason: format!("over max_connections ({max})"),
            });
            return None;
        }
        let id = self.next_ticket.fetch_add(1, Ordering::Relaxed);
        let evicted = Arc::new(Notify::new());
        let mut waiting = lock(&self.handshaking);
        while waiting.len() >= self.options.max_handshaking {
            if let Some((_, oldest)) = waiting.pop_front() {
                oldest.notify_one();
                self.evicted.fetch_add(1, Ordering::Relaxed);
            }
        }
        waiting.push_back((id, evicted.clone()));
        Some(Ticket {
            core: self.clone(),
            id,
            evicted,
        })
    }

    /// Queue depths and counters now.
    pub(crate) fn stats(&self) -> crate::Stats {
        let (queued_out_messages, queued_out_bytes) = self.queued_out();
        let ((queued_in_messages, queued_in_bytes), received) = self.inbound.depth();
        // Each lock is taken and released on its own line: a guard living to
        // the end of the struct expression would deadlock `dropped()`.
        let peers = self.peers().list.len();
        let dropped = self.dropped();
        crate::Stats {
            peers,
            queued_out_messages,
            queued_out_bytes,
            queued_in_messages,
            queued_in_bytes,
            received: received + self.received_through.load(Ordering::Relaxed),
            dropped,
            filtered: self.filtered.load(Ordering::Relaxed),
            lost: self.lost.load(Ordering::Relaxed),
            evicted: self.evicted.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            recv_budget_used: self.budget.used(),
        }
    }
}

async fn with_timeout<T>(
    timeout: Option<Duration>,
    fut: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    match timeout {
        None => fut.await,
        Some(t) => tokio::time::timeout(t, fut)
            .await
            .unwrap_or(Err(Error::Timeout(t))),
    }
}
