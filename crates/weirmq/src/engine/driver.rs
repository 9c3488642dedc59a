//! The engine's loop: a turn of named steps over the connection, under its
//! lock (take what a reading-through receiver handed over, read, deliver,
//! decode, encode, linger), the rest of the delivery outside it, then a
//! wait for whatever can move next (the stream, the pipe, room, timers,
//! the controls: close, eviction, handover, a ZAP answer, a kick).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::futures::Notified;
use tokio::sync::watch;
use weirmq_zmtp::{Connection, Event, Message};

use super::auth::{self, Verdict};
use super::backlog::{Backlog, Held};
use super::decode::{Decoded, Sink, decode};
use super::wire::{Link, Read, Wire};
use super::{End, FAR_FUTURE, WRITE_BATCH};
use crate::monitor::MonitorEvent;
use crate::queue::budget::Account;
use crate::queue::entry::Entry;
use crate::queue::inbound::LanePeer;
use crate::rate::Bucket;
use crate::socket::{Answer, Core, Peer, Ticket};
use crate::transport::Stream;

/// Something the engine waits for that lasts (a handover of its peer's
/// routing id).
type Signal = Pin<Box<dyn Future<Output = ()> + Send>>;

/// One connection's engine, between its start and its end.
pub(super) struct Driver<'a, S> {
    core: &'a Core,
    peer_name: &'a str,
    link: &'a Arc<Link<S>>,
    /// The connection's budget account, which its lane counts in too.
    account: Arc<Account>,
    /// The peer, once its handshake is done and it is let in.
    out: Option<Arc<Peer>>,
    /// What was decoded and not handed on yet.
    backlog: Backlog,
    /// A connecting socket's peer from the last connection, kept with what
    /// is queued to it.
    earlier: Option<Arc<Peer>>,
    /// An accepted connection's place (see [`Ticket`]).
    ticket: Option<Ticket>,
    /// Closing: what is queued is written within the linger, then it ends.
    closing: bool,
    linger_until: Option<tokio::time::Instant>,
    /// The stream was found readable: read (under the lock) on the next
    /// turn.
    readable: bool,
    /// The memory budget had no room for a read.
    starved: bool,
    /// A writing-through sender asked for help; at first, for what was
    /// queued before this connection.
    kicked: bool,
    /// A question to the ZAP handler, while one is out.
    zap: Option<Answer>,
    /// A newer connection taking over the peer's routing id, once there is
    /// a peer.
    replaced: Option<Signal>,
    /// The connection's one timer (the protocol's deadlines and idleness),
    /// and when it is armed for. Kept armed across waits and reset only for
    /// an earlier deadline, or once it has fired: a timer made and dropped
    /// on every wait cost a microsecond each, tens of thousands of times a
    /// second on a sending connection. Firing early is harmless: what is
    /// due is checked then, and the timer armed again.
    timer: Pin<Box<tokio::time::Sleep>>,
    timer_at: Option<Instant>,
    /// [`Options::recv_rate_per_peer`](crate::Options::recv_rate_per_peer)'s
    /// bucket for this peer, and until when the peer is not read for it.
    throttle: Option<Bucket>,
    throttled_until: Option<tokio::time::Instant>,
    /// Counts the peer among the connected ones while it is.
    _connected: Option<crate::socket::Connected<'a>>,
}

/// What a turn leaves to wait for.
struct Turn {
    deadline: Option<Instant>,
    /// More output may be taken from the pipe.
    want_out: bool,
    unsent: usize,
    decoded: Decoded,
}

/// The waits that last the whole connection, armed once: building and
/// dropping them on every turn cost more than the rest of a small
/// message's turn.
struct Armed<'s, 'a> {
    /// A close, or an unbind or disconnect.
    close: Pin<&'s mut (dyn Future<Output = ()> + Send + 'a)>,
    /// Eviction, while in the handshake.
    evicted: Pin<&'s mut (dyn Future<Output = ()> + Send)>,
    /// A writing-through sender's kick: re-armed each time it fires.
    kick: Pin<&'s mut Notified<'a>>,
}

impl<'a, S: Stream> Driver<'a, S> {
    pub(super) fn new(
        core: &'a Core,
        peer_name: &'a str,
        link: &'a Arc<Link<S>>,
        account: Arc<Account>,
        earlier: Option<Arc<Peer>>,
        ticket: Option<Ticket>,
    ) -> Driver<'a, S> {
        Driver {
            core,
            peer_name,
            link,
            account,
            out: None,
            backlog: Backlog::default(),
            earlier,
            ticket,
            closing: false,
            linger_until: None,
            readable: false,
            starved: false,
            kicked: true,
            zap: None,
            replaced: None,
            timer: Box::pin(tokio::time::sleep(FAR_FUTURE)),
            timer_at: None,
            throttle: core
                .options
                .recv_rate_per_peer
                .map(|rate| Bucket::new(rate, Instant::now())),
            throttled_until: None,
            _connected: None,
        }
    }

    /// The peer and what was decoded and not handed on, once it has ended.
    pub(super) fn into_parts(self) -> (Option<Arc<Peer>>, Backlog) {
        (self.out, self.backlog)
    }

    /// Runs the connection until it ends.
    pub(super) async fn drive(&mut self, mut stop: watch::Receiver<bool>) -> End {
        let core = self.core;
        let mut close = std::pin::pin!(async move {
            tokio::select! {
                _ = core.closed() => {}
                _ = stop.wait_for(|s| *s) => {}
            }
        });
        let evicted = self.ticket.as_ref().map(|t| t.evicted.clone());
        let mut evicted = std::pin::pin!(async move {
            match evicted {
                Some(signal) => signal.notified().await,
                None => std::future::pending().await,
            }
        });
        let link = self.link;
        let mut kick = std::pin::pin!(link.kick.notified());
        let mut armed = Armed {
            close: close.as_mut(),
            evicted: evicted.as_mut(),
            kick: kick.as_mut(),
        };
        loop {
            let turn = match self.turn() {
                Ok(turn) => turn,
                Err(end) => return end,
            };
            let paused = self.hand_on();
            // Decoding stopped for want of room, and there is room now:
            // decode the rest of what was read before reading on. (Reading
            // first would take the end of the stream for the end of the
            // connection, and drop the peer's last messages with the
            // input.)
            if !paused && turn.decoded == Decoded::Stopped && !self.closing {
                continue;
            }
            if let Err(end) = self.wait(&turn, paused, &mut armed).await {
                return end;
            }
        }
    }

    /// The part of a turn under the connection's lock: the named steps.
    fn turn(&mut self) -> Result<Turn, End> {
        let link = self.link;
        let mut guard = link.lock();
        let Some(wire) = guard.as_mut() else {
            unreachable!("the engine holds its link until `drive` returns")
        };
        self.take_handed_over(wire)?;
        self.read(wire)?;
        self.deliver(wire);
        let decoded = self.decode(wire)?;
        self.encode(wire);
        self.linger(wire)?;
        let unsent = wire.unsent.len;
        let want_out = self.out.is_some() && wire.conn.pending_transmit() + unsent < WRITE_BATCH;
        if self.core.shape.through && (!self.backlog.is_empty() || self.closing) {
            link.engine_holds.store(true, Ordering::Release);
        }
        Ok(Turn {
            deadline: wire.deadline(),
            want_out,
            unsent,
            decoded,
        })
    }

    /// What a reading-through receiver handed over: how the connection
    /// ended, or a message to find room for (the input after it is decoded
    /// before anything more is read).
    fn take_handed_over(&mut self, wire: &mut Wire<S>) -> Result<(), End> {
        if let Some(end) = wire.reading.ended.take() {
            return Err(end);
        }
        if let Some(entry) = wire.reading.held.take() {
            self.backlog.push(entry);
            self.readable = false;
        }
        Ok(())
    }

    /// Reads, if the stream was found readable (a receiver may have read it
    /// first) and the budget has room.
    fn read(&mut self, wire: &mut Wire<S>) -> Result<(), End> {
        if self.throttled_until.is_some() || !std::mem::take(&mut self.readable) {
            return Ok(());
        }
        if let Some(bucket) = &mut self.throttle {
            // Over its rate: the peer is not read until it is under again
            // (its TCP window closes meanwhile).
            let wait = bucket.wait(Instant::now());
            if !wait.is_zero() {
                self.readable = true;
                self.throttled_until = Some(tokio::time::Instant::now() + wait);
                return Ok(());
            }
        }
        // What the read brought in is charged to the rate, if there is one.
        let before = self.throttle.is_some().then(|| wire.conn.buffered_input());
        match wire.read_input()? {
            Read::Starved => self.starved = true,
            Read::Some | Read::Nothing => {}
        }
        if let (Some(bucket), Some(before)) = (&mut self.throttle, before) {
            bucket.take(wire.conn.buffered_input().saturating_sub(before));
        }
        Ok(())
    }

    /// Hands on what was decoded, as far as the peer's lane has room.
    fn deliver(&mut self, wire: &mut Wire<S>) {
        if !self.backlog.is_empty() && self.backlog.deliver(self.core, &mut self.closing) {
            // Reading resumes: the pause was ours, not the peer's silence,
            // so it must not count towards its heartbeat.
            wire.conn.input_received(Instant::now());
        }
    }

    /// Decodes what was read, unless something waits for room (then
    /// nothing piles up here, and the peer feels the backpressure).
    fn decode(&mut self, wire: &mut Wire<S>) -> Result<Decoded, End> {
        if !self.backlog.is_empty() || self.closing {
            return Ok(Decoded::Stopped);
        }
        let decoded = decode(&mut wire.conn, Instant::now(), self)?;
        // The peer's lane, opened by its handshake, is a receiver's too.
        if wire.lane.is_none() {
            wire.lane = self.backlog.lane.clone();
        }
        wire.intake.kept(std::mem::take(&mut self.backlog.taken_in));
        wire.decoded();
        Ok(decoded)
    }

    /// Encodes outgoing messages, a batch at a time. A writing-through
    /// sender sends its own, and kicks when it leaves some (taking them here
    /// would only race it for the link); once the engine writes, it goes on
    /// taking them, as the sender's messages then wait behind its output
    /// anyway.
    fn encode(&mut self, wire: &mut Wire<S>) {
        match self.out.as_ref() {
            Some(peer) if !self.core.shape.through || self.kicked => {
                wire.encode_from(&peer.out, self.core.shape.subscriber);
                self.kicked = false;
            }
            _ => wire.unsent.fill(&mut wire.conn),
        }
    }

    /// Closing: ends once what is queued is written, or the linger is over.
    fn linger(&mut self, wire: &Wire<S>) -> Result<(), End> {
        if !self.closing {
            return Ok(());
        }
        let until = *self.linger_until.get_or_insert_with(|| {
            let now = tokio::time::Instant::now();
            // An endless linger (`Duration::MAX`) must not overflow: a
            // deadline that never comes, as tokio's own timeouts.
            now.checked_add(self.core.options.linger)
                .unwrap_or_else(|| now + FAR_FUTURE)
        });
        let drained = self.out.as_ref().is_none_or(|p| p.out.depth().0 == 0);
        if tokio::time::Instant::now() >= until || (drained && wire.unsent.len == 0) {
            return Err(End::Closed);
        }
        Ok(())
    }

    /// Hands on what was decoded outside the lock (the receiver it wakes
    /// may want the link at once, to reply); whether anything still waits
    /// for room.
    fn hand_on(&mut self) -> bool {
        if !self.backlog.data.is_empty() {
            self.backlog.deliver(self.core, &mut self.closing);
        }
        let paused = !self.backlog.is_empty();
        if self.core.shape.through && !paused && !self.closing {
            // Handed on: a reading-through receiver may read after it.
            self.link.engine_holds.store(false, Ordering::Release);
        }
        paused
    }

    /// Waits for whatever can move next, and notes what did.
    async fn wait(
        &mut self,
        turn: &Turn,
        paused: bool,
        armed: &mut Armed<'_, 'a>,
    ) -> Result<(), End> {
        let link = self.link;
        let core = self.core;
        let through = core.shape.through;
        // Nor while the ZAP handler judges the peer: its handshake stands
        // still, and what it sends meanwhile would only pile up in the
        // input buffer until the answer (or the handshake timeout).
        let throttled = self.throttled_until;
        let want_read =
            !paused && !self.starved && !self.closing && self.zap.is_none() && throttled.is_none();
        let want_out = turn.want_out && !self.closing && !through;
        let starved = self.starved;
        let closing = self.closing;
        if let Some(at) = turn.deadline {
            if self.timer_at.is_none_or(|armed| at < armed) {
                let when = tokio::time::Instant::from_std(at);
                self.timer.as_mut().reset(when);
                self.timer_at = Some(at);
            }
        }
        // While reading is paused for backpressure the peer's traffic waits
        // unread, so its silence proves nothing: no expiry then (libzmq arms
        // no heartbeat timer while its input is stopped).
        let timed = self.timer_at.is_some() && !paused && !starved && throttled.is_none();
        let timer = &mut self.timer;
        let in_handshake = self.ticket.is_some();
        let linger_until = self.linger_until;
        let out = self.out.clone();
        let backlog = &self.backlog;
        let zap = &mut self.zap;
        let replaced = &mut self.replaced;
        tokio::select! {
            r = std::future::poll_fn(|cx| link.poll_readable(cx)), if want_read => {
                r.map_err(End::Io)?;
                self.readable = true;
            }
            r = std::future::poll_fn(|cx| link.poll_write(cx)), if turn.unsent > 0 => match r {
                Ok(()) => self.kicked = true,
                Err(e) if e.kind() == std::io::ErrorKind::WriteZero => return Err(End::Eof),
                Err(e) => return Err(End::Io(e)),
            },
            // A writing-through socket's sender raises the kick instead of
            // the pipe's signal (which it leaves alone: waking this task is
            // the hand-off it avoids).
            _ = async { out.as_ref().expect("guarded").out.readable().await }, if want_out => {}
            _ = armed.kick.as_mut(), if through => {
                self.kicked = true;
                armed.kick.set(link.kick.notified());
            }
            _ = backlog.writable(core), if paused => {}
            // No room in the memory budget: the peer is not read until some
            // is set aside for this connection.
            _ = std::future::poll_fn(|cx| link.poll_room(cx)), if starved => {
                self.starved = false;
                self.readable = true;
                // The pause was ours, not the peer's silence.
                link.with_wire(|wire| wire.conn.input_received(Instant::now()));
            }
            // Under its rate again: the peer is read.
            _ = tokio::time::sleep_until(throttled.unwrap_or_else(tokio::time::Instant::now)), if throttled.is_some() => {
                self.throttled_until = None;
                self.readable = true;
                // The pause was ours, not the peer's silence.
                link.with_wire(|wire| wire.conn.input_received(Instant::now()));
            }
            _ = timer.as_mut(), if timed => {
                self.timer_at = None;
                link.with_wire(|wire| wire.on_deadline(Instant::now()))?;
            }
            decision = async { zap.as_mut().expect("guarded").await }, if zap.is_some() => {
                self.zap = None;
                link.with_wire(|wire| wire.conn.authenticate(decision))
                    .map_err(End::Protocol)?;
            }
            _ = armed.close.as_mut(), if !closing => self.closing = true,
            _ = async { replaced.as_mut().expect("guarded").await }, if replaced.is_some() => {
                return Err(End::HandedOver);
            }
            _ = armed.evicted.as_mut(), if in_handshake => return Err(End::Evicted),
            _ = tokio::time::sleep_until(linger_until.unwrap_or_else(tokio::time::Instant::now)), if closing => {}
        }
        Ok(())
    }

    /// The handshake is done: the peer is let in (routed, with a lane of
    /// its own), or refused.
    fn handshake_done(
        &mut self,
        conn: &mut Connection,
        socket_type: Option<weirmq_zmtp::SocketType>,
    ) -> Result<(), End> {
        let core = self.core;
        core.emit(MonitorEvent::HandshakeSucceeded {
            peer: self.peer_name.to_owned(),
            socket_type,
        });
        // The ticket stays until the end: it holds the connection's place
        // under `max_connections`.
        if let Some(t) = &self.ticket {
            t.done();
        }
        if core.shape.has_pipe {
            let peer = core
                // Only dialled connections come without an admission ticket.
                .add_peer(
                    conn,
                    self.peer_name,
                    self.earlier.take(),
                    self.ticket.is_none(),
                )
                .map_err(End::Unwelcome)?;
            if core.shape.through {
                peer.set_link(Some(self.link.clone()));
            }
            let handed_over = peer.clone();
            self.replaced = Some(Box::pin(
                async move { handed_over.replaced.notified().await },
            ));
            self.out = Some(peer);
        }
        self._connected = Some(core.peer_connected());
        if core.shape.receives {
            // The peer's own lane: what it sends waits there, behind nobody
            // else's, counted in the budget until the application takes it.
            let watch = core.incoming_watch(self.peer_name);
            let peer = LanePeer {
                name: self.peer_name.to_owned(),
                serial: self
                    .out
                    .as_ref()
                    .map_or_else(|| core.next_serial(), |p| p.serial),
            };
            let account = Some(self.account.clone());
            let lane = core.inbound.open_lane(Some(peer), account, watch);
            self.backlog.lane = Some(Arc::new(lane));
            // A notice of its arrival (ROUTER_NOTIFY) comes first in it.
            if let Some(notice) = self.out.as_ref().and_then(|p| core.role.arrived(p)) {
                let subscriber = core.shape.subscriber;
                self.backlog
                    .take_in(core, subscriber, Entry::from(notice), &mut self.closing);
            }
        }
        Ok(())
    }

    /// A peer subscribed to `topic` (PUB, XPUB), or cancelled it: the
    /// socket type's role changes what it keeps of the peer's
    /// subscriptions, and a change that is news upstream (XPUB) becomes a
    /// note, held behind the data before it. Whether decoding goes on.
    fn asked(&mut self, subscribe: bool, topic: Bytes) -> Result<bool, End> {
        let Some(peer) = self.out.as_ref() else {
            return Ok(true);
        };
        let asked = self
            .core
            .role
            .peer_asked(peer, subscribe, &topic)
            .map_err(|_| End::TooManySubscriptions)?;
        if !subscribe && asked.changed {
            // A PUB waiting for room at this peer may not need it any more.
            self.core.wake_senders();
        }
        if !asked.news {
            return Ok(true);
        }
        let note = Held {
            peer: peer.clone(),
            subscribe,
            topic,
            changed: asked.changed,
        };
        Ok(self.backlog.note(self.core, note, &mut self.closing))
    }

    /// A client's credentials to judge: now, or by the ZAP handler.
    fn authenticate(
        &mut self,
        conn: &mut Connection,
        request: weirmq_zmtp::AuthRequest,
    ) -> Result<(), End> {
        match auth::judge(self.core, &request, self.peer_name) {
            Verdict::Now(decision) => conn.authenticate(decision).map_err(End::Protocol),
            Verdict::Later(answer) => {
                self.zap = Some(answer);
                Ok(())
            }
        }
    }
}

/// What the engine does with what it decodes.
impl<S: Stream> Sink for Driver<'_, S> {
    fn copies_small(&self) -> bool {
        // Received messages that gain no routing id may be taken straight
        // out of the input buffer when small.
        let shape = self.core.shape;
        shape.receives && !shape.routing_id_in_front
    }

    fn message(&mut self, mut msg: Message) -> Result<bool, End> {
        let shape = self.core.shape;
        if !shape.receives {
            // Messages to a socket that does not receive them.
            return Ok(true);
        }
        if shape.routing_id_in_front {
            // ROUTER shows the sender's id; REQ and REP use it to match
            // replies to the peer they belong to.
            if let Some(peer) = self.out.as_ref() {
                msg.push_front(peer.id.clone());
            }
        }
        // Copied in here if small, and the input buffer's share dropped on
        // this thread, not the reader's.
        let entry = Entry::from(msg);
        Ok(self
            .backlog
            .take_in(self.core, shape.subscriber, entry, &mut self.closing))
    }

    fn small(&mut self, body: &[u8]) -> Result<bool, End> {
        Ok(self.backlog.take_small(
            self.core,
            self.core.shape.subscriber,
            body,
            &mut self.closing,
        ))
    }

    fn event(&mut self, conn: &mut Connection, event: Event) -> Result<bool, End> {
        match event {
            Event::HandshakeSucceeded(info) => self.handshake_done(conn, info.socket_type)?,
            Event::Subscribe(topic) => return self.asked(true, topic),
            Event::Cancel(topic) => return self.asked(false, topic),
            Event::Authenticate(request) => self.authenticate(conn, request)?,
            _ => {}
        }
        Ok(true)
    }
}
