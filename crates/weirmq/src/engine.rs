//! The engine: one task per connection, driving a sans-IO
//! [`weirmq_zmtp::Connection`] over a byte stream.
//!
//! Data path: outgoing messages are taken from the peer's pipe in batches and
//! encoded into the connection's send buffer, which leaves in vectored writes
//! of up to [`WRITE_BATCH`] octets; incoming octets are read straight into
//! the connection's input buffer and decoded into the socket's incoming pipe.
//! When that pipe is full the engine stops decoding *and* stops reading, so
//! the sender's TCP window closes: backpressure reaches the remote peer.
//!
//! Every message taken from a pipe is accounted for until its last octet is
//! written: when a connection ends first, the messages the peer got nothing
//! of go back to the front of a kept pipe (a connecting socket's, for the
//! reconnect); the rest are counted as lost.

use std::collections::VecDeque;
use std::io::IoSlice;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use weirmq_zmtp::{AuthDecision, AuthRequest, Config, Connection, Event, Message, SocketType};

use crate::core::{Core, Peer, Ticket};
use crate::monitor::MonitorEvent;
use tokio::sync::watch;

/// Octets of encoded output gathered before writing.
const WRITE_BATCH: usize = 128 * 1024;
/// Messages taken from a pipe under one lock.
const POP_BATCH: usize = 256;
/// The usual read: room kept free in the input buffer (a large frame's read
/// is sized to the frame instead, see `Connection::read_buffer`).
const READ_RESERVE: usize = 64 * 1024;

/// Why an engine stopped.
#[derive(Debug)]
pub(crate) enum End {
    /// The socket was closed.
    Closed,
    /// The peer closed the stream.
    Eof,
    /// The protocol failed (bad input, timeout, ERROR from the peer).
    Protocol(weirmq_zmtp::Error),
    /// The stream failed.
    Io(std::io::Error),
    /// The peer subscribed to more topics than a peer may.
    TooManySubscriptions,
    /// A ROUTER peer announced a routing id that another peer has.
    DuplicateRoutingId,
    /// Closed in its handshake to make room for a newer connection.
    Evicted,
    /// A newer connection took over this peer's routing id (ROUTER handover).
    HandedOver,
}

/// The protocol settings a socket's options ask for.
pub(crate) fn zmtp_config(socket_type: SocketType, o: &crate::Options) -> Config {
    let mut c = Config::new(socket_type);
    c.routing_id = o.routing_id.clone();
    c.mechanism = o.mechanism.clone();
    // Validated when the socket was built.
    c.limits = o.limits().unwrap_or_default();
    c.handshake_timeout = Some(o.handshake_timeout);
    c.heartbeat = o.heartbeat;
    c
}

/// Outgoing octets handed out by the connection and not yet written, and
/// the messages among them not yet wholly written.
#[derive(Default)]
struct Unsent {
    chunks: VecDeque<Bytes>,
    len: usize,
    /// Octets taken from the connection since it began.
    taken: u64,
    /// Octets written since it began.
    written: u64,
    /// Messages encoded and not wholly written, oldest first, each with the
    /// stream offsets of its first octet and just past its last. Moved here
    /// from the pipe's batch (not copied, and the deque's capacity is
    /// reused: no allocation per message), they leave as soon as they are
    /// written, so this holds at most the messages of one write batch plus
    /// one pop batch.
    in_flight: VecDeque<(u64, u64, Message)>,
}

impl Unsent {
    fn fill(&mut self, conn: &mut Connection) {
        while let Some(chunk) = conn.poll_transmit() {
            self.len += chunk.len();
            self.taken += chunk.len() as u64;
            self.chunks.push_back(chunk);
        }
    }

    /// Where the connection's output ends now, as a stream offset.
    fn output_end(&self, conn: &Connection) -> u64 {
        self.taken + conn.pending_transmit() as u64
    }

    /// Tracks `msg`, which `conn` has just encoded from stream offset `start`.
    fn encoded(&mut self, conn: &Connection, start: u64, msg: Message) {
        let end = self.output_end(conn);
        self.in_flight.push_back((start, end, msg));
    }

    /// Takes the messages not wholly written: `(untouched, partial)`, where
    /// `partial` counts the one message the peer got part of (at most one).
    fn take_unwritten(
        &mut self,
    ) -> (
        impl ExactSizeIterator<Item = Message> + DoubleEndedIterator,
        u64,
    ) {
        let partial = self
            .in_flight
            .front()
            .is_some_and(|(start, _, _)| *start < self.written);
        let mut all = std::mem::take(&mut self.in_flight);
        if partial {
            all.pop_front();
        }
        (all.into_iter().map(|(_, _, msg)| msg), u64::from(partial))
    }

    fn advance(&mut self, mut n: usize) {
        self.len -= n;
        self.written += n as u64;
        while self
            .in_flight
            .front()
            .is_some_and(|(_, end, _)| *end <= self.written)
        {
            self.in_flight.pop_front();
        }
        while n > 0 {
            let front = &mut self.chunks[0];
            if n >= front.len() {
                n -= front.len();
                self.chunks.pop_front();
            } else {
                front.advance(n);
                n = 0;
            }
        }
    }

    async fn write<W: AsyncWrite + Unpin>(&self, wr: &mut W) -> std::io::Result<usize> {
        let mut slices = [IoSlice::new(&[]); 64];
        let mut k = 0;
        for (slot, chunk) in slices.iter_mut().zip(&self.chunks) {
            *slot = IoSlice::new(chunk);
            k += 1;
        }
        wr.write_vectored(&slices[..k]).await
    }
}

/// XPUB: a peer's subscription or cancel that could not be handed on for want
/// of room for the note it may make (see [`Core::upstream_change`]); reading
/// waits until it can. The peer's own set has the change already.
struct Held {
    subscribe: bool,
    topic: Bytes,
}

impl Held {
    /// The octets to wait for.
    fn len(&self) -> usize {
        1 + self.topic.len()
    }

    /// Hands it on: `Err(self)` when there is no room yet.
    fn deliver(self, core: &Core) -> Result<(), Held> {
        match core.upstream_change(self.subscribe, &self.topic) {
            Ok(()) => Ok(()),
            Err(_) => Err(self),
        }
    }
}

/// Messages decoded before they are handed on together, under one lock.
const IN_BATCH: usize = 64;
/// ... or this many payload octets, whichever comes first: the engine's own
/// share of memory beyond the HWM (plus at most one message).
const IN_BATCH_BYTES: usize = 64 * 1024;

/// What the engine decoded and has not handed on yet, in order: data, handed
/// on in batches, then at most one item that has to wait behind it.
#[derive(Default)]
struct Backlog {
    data: VecDeque<Message>,
    bytes: usize,
    held: Option<Held>,
}

impl Backlog {
    fn is_empty(&self) -> bool {
        self.data.is_empty() && self.held.is_none()
    }

    fn push(&mut self, msg: Message) {
        self.bytes += msg.byte_len();
        self.data.push_back(msg);
    }

    /// Enough for one hand-on.
    fn is_full(&self) -> bool {
        self.data.len() >= IN_BATCH || self.bytes >= IN_BATCH_BYTES
    }

    /// The octets the first waiting item needs room for.
    fn front_len(&self) -> usize {
        match (self.data.front(), &self.held) {
            (Some(msg), _) => msg.byte_len(),
            (None, Some(item)) => item.len(),
            (None, None) => 0,
        }
    }

    /// A subscription note: handed on after the data before it, or held;
    /// whether it went.
    fn note(&mut self, core: &Core, note: Held, closing: &mut bool) -> bool {
        if self.deliver(core, closing) {
            hand_on(core, note, &mut self.held)
        } else {
            if !*closing {
                self.held = Some(note);
            }
            false
        }
    }

    /// Hands on, in order, what the incoming queue has room for; whether
    /// everything went.
    fn deliver(&mut self, core: &Core, closing: &mut bool) -> bool {
        if !self.data.is_empty() {
            match core.inbound.try_push_batch(&mut self.data) {
                Ok(bytes) => self.bytes -= bytes,
                Err(()) => {
                    *closing = true;
                    return false;
                }
            }
            if !self.data.is_empty() {
                return false;
            }
        }
        match self.held.take() {
            Some(item) => hand_on(core, item, &mut self.held),
            None => true,
        }
    }
}

/// Hands `item` on, or keeps it in `held`; whether it went.
fn hand_on(core: &Core, item: Held, held: &mut Option<Held>) -> bool {
    match item.deliver(core) {
        Ok(()) => true,
        Err(back) => {
            *held = Some(back);
            false
        }
    }
}

/// Runs one connection until it ends.
///
/// `kept` carries a connecting socket's peer from one connection to the next:
/// when a connection to the endpoint ends, the messages still queued to it
/// wait in the kept pipe and leave on the next connection (libzmq keeps a
/// connecting socket's pipe in the same way). Accepted connections pass
/// `None`: a peer that dialled in and left is gone.
pub(crate) async fn run<S>(
    core: Arc<Core>,
    peer_name: String,
    stream: S,
    kept: Option<&mut Option<Arc<Peer>>>,
    ticket: Option<Ticket>,
    stop: watch::Receiver<bool>,
) -> End
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let _running = core.engine_started();
    let mut conn =
        match Connection::new(zmtp_config(core.socket_type, &core.options), Instant::now()) {
            Ok(c) => c,
            Err(e) => unreachable!("options were validated: {e}"),
        };
    let (mut rd, mut wr) = tokio::io::split(stream);
    let keep = kept.is_some() && reconnect_keeps_pipe(core.socket_type);
    let mut out: Option<Arc<Peer>> = None;
    let reuse = match kept {
        Some(slot) if keep => Some(slot),
        _ => None,
    };
    let earlier = reuse.as_ref().and_then(|slot| (*slot).clone());
    let mut backlog = Backlog::default();
    let mut unsent = Unsent::default();
    let end = drive(
        &core,
        &peer_name,
        &mut conn,
        (&mut rd, &mut wr),
        &mut unsent,
        &mut out,
        &mut backlog,
        earlier,
        ticket,
        stop,
    )
    .await;
    // What was decoded but not handed on when the connection ended: data is
    // lost (waiting for room here would let peers that come and go pile up
    // messages); an XPUB's pending subscription change is undone in the
    // peer's set, so that its departure below cancels exactly what reached
    // the union of subscriptions.
    let mut lost = backlog.data.len() as u64;
    if let (Some(Held { subscribe, topic }), Some(peer)) = (backlog.held.take(), out.as_ref()) {
        let mut subscriptions = crate::core::lock(&peer.subscriptions);
        if subscribe {
            subscriptions.remove(&topic);
        } else {
            subscriptions.add(topic);
        }
    }
    let reason = match &end {
        End::Closed => None,
        End::Eof => Some("closed by the peer".to_owned()),
        End::Protocol(e) => Some(e.to_string()),
        End::Io(e) => Some(e.to_string()),
        End::TooManySubscriptions => Some("too many subscriptions".to_owned()),
        End::DuplicateRoutingId => Some("routing id already in use".to_owned()),
        End::Evicted => Some("evicted while in the handshake".to_owned()),
        End::HandedOver => Some("routing id taken over by a newer connection".to_owned()),
    };
    if let Some(reason) = reason {
        let peer = peer_name.clone();
        core.emit(if conn.peer().is_some() {
            MonitorEvent::Disconnected { peer, reason }
        } else {
            MonitorEvent::HandshakeFailed { peer, reason }
        });
    }
    // Out of routing at once: nothing new may be queued to a connection that
    // is ending. (Without immediate, a kept peer stays routed while it is
    // down, as in libzmq.)
    let keeps = reuse.is_some() && !matches!(end, End::Closed);
    if let Some(peer) = out.as_ref() {
        if !keeps || core.options.immediate {
            core.detach_peer(peer);
        }
    }
    // Best effort: write what is left (the rest of the messages, then what
    // the connection still holds, such as an ERROR command after a protocol
    // failure, in stream order) before the stream is dropped. Not after the
    // peer closed or the stream failed: the octets would only feign delivery.
    unsent.fill(&mut conn);
    let writable = !matches!(end, End::Eof | End::Io(_));
    let flush = async {
        while writable && unsent.len > 0 {
            match unsent.write(&mut wr).await {
                Ok(0) | Err(_) => break,
                Ok(n) => unsent.advance(n),
            }
        }
        let _ = wr.shutdown().await;
    };
    // A close already spent its linger in `drive`; other endings get one.
    let budget = match end {
        End::Closed => std::time::Duration::from_millis(100).min(core.options.linger),
        _ => core.options.linger,
    };
    let _ = tokio::time::timeout(budget, flush).await;
    drop((rd, wr));
    // Messages the peer got nothing of go back in front of a kept pipe, in
    // order, for the next connection. One it got part of is lost: it may be
    // the very message the peer refused (too large, say), and sending it
    // again would only end the next connection too.
    let (untouched, partial) = unsent.take_unwritten();
    lost += partial;
    match (out.take(), reuse) {
        (Some(peer), Some(slot)) if keeps => {
            lost += peer.out.requeue(untouched) as u64;
            core.count_lost(&peer_name, lost);
            *slot = Some(peer);
        }
        (Some(peer), slot) => {
            core.remove_peer(&peer, lost + untouched.len() as u64);
            // Counted once, here: the connector must not count it again.
            if let Some(slot) = slot {
                *slot = None;
            }
            core.cancel_upstream(&peer).await;
        }
        (None, _) => core.count_lost(&peer_name, lost + untouched.len() as u64),
    }
    end
}

#[expect(
    clippy::too_many_arguments,
    reason = "one call site; a struct would only rename them"
)]
async fn drive<R, W>(
    core: &Core,
    peer_name: &str,
    conn: &mut Connection,
    (rd, wr): (&mut R, &mut W),
    unsent: &mut Unsent,
    out: &mut Option<Arc<Peer>>,
    backlog: &mut Backlog,
    mut earlier: Option<Arc<Peer>>,
    mut ticket: Option<Ticket>,
    mut stop: watch::Receiver<bool>,
) -> End
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let sends = sends(core);
    let receives = receives(core);
    let subscriber = matches!(core.socket_type, SocketType::Sub | SocketType::XSub);
    let routing = matches!(
        core.socket_type,
        SocketType::Router | SocketType::Req | SocketType::Rep
    );
    let mut batch = Vec::with_capacity(POP_BATCH);
    let mut closing = false;
    let mut linger_until = None;
    // A question to the ZAP handler, while one is out.
    let mut zap: Option<std::pin::Pin<Box<dyn std::future::Future<Output = AuthDecision> + Send>>> =
        None;
    loop {
        let now = Instant::now();
        // 1. Deliver what was decoded, as far as the incoming pipe has room.
        if !backlog.is_empty() && backlog.deliver(core, &mut closing) {
            // Reading resumes: the pause was ours, not the peer's silence,
            // so it must not count towards its heartbeat.
            conn.input_received(Instant::now());
        }
        // Decoding stops while anything waits for room: nothing piles up
        // here, and the peer feels the backpressure.
        let mut stalled = !backlog.is_empty();
        while !stalled && !closing {
            match conn.poll_event(now) {
                Ok(None) => break,
                Ok(Some(Event::HandshakeSucceeded(info))) => {
                    core.emit(MonitorEvent::HandshakeSucceeded {
                        peer: peer_name.to_owned(),
                        socket_type: info.socket_type,
                    });
                    if let Some(t) = ticket.take() {
                        t.done();
                    }
                    if sends {
                        match core.add_peer(conn, peer_name, earlier.take()) {
                            Ok(peer) => *out = Some(peer),
                            Err(_) => return End::DuplicateRoutingId,
                        }
                    }
                }
                Ok(Some(Event::Message(mut msg))) if receives => {
                    if subscriber && !core.accepts(&msg) {
                        continue;
                    }
                    if routing {
                        // ROUTER shows the sender's id; REQ and REP use it to
                        // match replies to the peer they belong to.
                        if let Some(peer) = out.as_ref() {
                            msg.push_front(peer.id.clone());
                        }
                    }
                    backlog.push(msg);
                    if backlog.is_full() {
                        stalled = !backlog.deliver(core, &mut closing);
                    }
                }
                Ok(Some(Event::Subscribe(topic))) => {
                    if let Some(peer) = out.as_ref() {
                        // A peer's subscriptions are a set, as in libzmq: a
                        // repeated SUBSCRIBE changes nothing, one CANCEL ends it.
                        let mut subs = crate::core::lock(&peer.subscriptions);
                        if subs.count(&topic) > 0 {
                            continue;
                        }
                        if !subs.add(topic.clone()) {
                            return End::TooManySubscriptions;
                        }
                        drop(subs);
                        // XPUB: a topic's first subscriber is news upstream.
                        let note = Held {
                            subscribe: true,
                            topic,
                        };
                        stalled = !backlog.note(core, note, &mut closing);
                    }
                }
                Ok(Some(Event::Cancel(topic))) => {
                    if let Some(peer) = out.as_ref() {
                        // Cancelling what was never subscribed is ignored, as
                        // libzmq does.
                        if crate::core::lock(&peer.subscriptions).remove(&topic) {
                            // XPUB: so is a topic's last subscriber leaving.
                            let note = Held {
                                subscribe: false,
                                topic,
                            };
                            stalled = !backlog.note(core, note, &mut closing);
                        }
                    }
                }
                Ok(Some(Event::Authenticate(request))) => {
                    let decision = match (&core.options.authenticator, &request) {
                        (Some(judge), _) => judge(&request, peer_name),
                        // No authenticator of our own: the process's ZAP
                        // handler judges, while the connection waits (its
                        // handshake timeout still runs).
                        (None, _) if crate::zap::zap_handler_bound() => {
                            let question = crate::zap::request(
                                &request,
                                &core.options.zap_domain,
                                peer_name,
                                &core.options.routing_id,
                            );
                            zap = Some(Box::pin(crate::zap::ask(question)));
                            continue;
                        }
                        // No authenticator: a CURVE client has proved it holds
                        // its key, and the connection is encrypted; libzmq
                        // without a ZAP handler lets it in. Its user id is
                        // its key in Z85.
                        (None, AuthRequest::Curve { public_key }) => AuthDecision::Allow {
                            user_id: Bytes::from(public_key.to_z85()),
                        },
                        // PLAIN credentials nobody checks: refuse, as libzmq
                        // does without a ZAP handler.
                        (None, _) => AuthDecision::Deny {
                            status: Bytes::from_static(b"400"),
                        },
                    };
                    if let Err(e) = conn.authenticate(decision) {
                        return End::Protocol(e);
                    }
                }
                // Messages to a socket that does not receive them.
                Ok(Some(_)) => {}
                Err(e) => return End::Protocol(e),
            }
        }
        if !backlog.data.is_empty() {
            backlog.deliver(core, &mut closing);
        }
        // 2. Encode outgoing messages, a batch at a time.
        if let Some(peer) = out.as_ref() {
            while conn.pending_transmit() + unsent.len < WRITE_BATCH {
                batch.clear();
                if peer.out.pop_batch(POP_BATCH, &mut batch) == 0 {
                    break;
                }
                for msg in batch.drain(..) {
                    // The pipe only holds non-empty messages and the
                    // connection is ready: these cannot fail.
                    if subscriber {
                        // A SUB's pipe carries its subscriptions: %x01 or
                        // %x00 and the topic, sent as the peer's revision
                        // wants them (commands for 3.1, frames for 3.0).
                        match msg.frames() {
                            [control] if control.first() == Some(&1) => {
                                drop(conn.subscribe(&control[1..]));
                                continue;
                            }
                            [control] if control.first() == Some(&0) => {
                                drop(conn.cancel(&control[1..]));
                                continue;
                            }
                            // XSUB: other messages go upstream as data.
                            _ => {}
                        }
                    }
                    let start = unsent.output_end(conn);
                    if conn.send(&msg).is_ok() {
                        unsent.encoded(conn, start, msg);
                    }
                }
            }
        }
        unsent.fill(conn);
        if closing {
            let until = *linger_until
                .get_or_insert_with(|| tokio::time::Instant::now() + core.options.linger);
            if tokio::time::Instant::now() >= until {
                return End::Closed;
            }
            let drained = out.as_ref().is_none_or(|p| p.out.depth().0 == 0);
            if drained && unsent.len == 0 {
                return End::Closed;
            }
        }

        // 3. Wait for whatever can move next.
        let deadline = conn.poll_timeout();
        let paused = !backlog.is_empty();
        let want_read = !paused && !closing;
        let held_len = backlog.front_len();
        let want_out = out.is_some() && conn.pending_transmit() + unsent.len < WRITE_BATCH;
        let mut input = conn.read_buffer(READ_RESERVE);
        tokio::select! {
            r = rd.read_buf(&mut input), if want_read => match r {
                Ok(0) => return End::Eof,
                Ok(_) => conn.input_received(Instant::now()),
                Err(e) => return End::Io(e),
            },
            r = unsent.write(wr), if unsent.len > 0 => match r {
                Ok(0) => return End::Eof,
                Ok(n) => unsent.advance(n),
                Err(e) => return End::Io(e),
            },
            _ = async { out.as_ref().expect("guarded").out.readable().await }, if want_out && !closing => {}
            _ = core.inbound.writable(held_len), if paused => {}
            // While reading is paused for backpressure the peer's traffic
            // waits unread, so its silence proves nothing: no expiry then
            // (libzmq arms no heartbeat timer while its input is stopped).
            _ = sleep_until(deadline), if deadline.is_some() && !paused => {
                if let Err(e) = conn.handle_timeout(Instant::now()) {
                    return End::Protocol(e);
                }
            }
            decision = async { zap.as_mut().expect("guarded").await }, if zap.is_some() => {
                zap = None;
                if let Err(e) = conn.authenticate(decision) {
                    return End::Protocol(e);
                }
            }
            _ = core.closed(), if !closing => closing = true,
            _ = async { out.as_ref().expect("guarded").replaced.notified().await }, if out.is_some() => {
                return End::HandedOver;
            }
            // unbind/disconnect: end like a close, flushing within the linger.
            _ = stop.wait_for(|s| *s), if !closing => closing = true,
            _ = async { ticket.as_ref().expect("guarded").evicted.notified().await }, if ticket.is_some() => {
                return End::Evicted;
            }
            _ = tokio::time::sleep_until(linger_until.unwrap_or_else(tokio::time::Instant::now)), if closing => {}
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    if let Some(d) = deadline {
        tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await;
    }
}

/// Whether the socket keeps a pipe per peer (to send messages, or a SUB's
/// subscriptions, or to hold a PUB peer's subscriptions).
fn sends(core: &Core) -> bool {
    use weirmq_zmtp::SocketType::*;
    matches!(
        core.socket_type,
        Push | Pair | Dealer | Req | Rep | Router | Pub | XPub | Sub | XSub
    )
}

/// Whether a connecting socket keeps a peer's pipe across reconnects. Not
/// for SUB, whose pipe holds subscription commands that a new connection
/// sends afresh anyway.
fn reconnect_keeps_pipe(socket_type: SocketType) -> bool {
    use weirmq_zmtp::SocketType::*;
    matches!(socket_type, Push | Pair | Dealer | Req | Rep | Router)
}

fn receives(core: &Core) -> bool {
    use weirmq_zmtp::SocketType::*;
    matches!(
        core.socket_type,
        Pull | Pair | Dealer | Req | Rep | Router | Sub | XSub | XPub
    )
}
