//! A sans-IO ZMTP connection: bytes and time in; bytes, events and the next
//! deadline out.
//!
//! The caller owns the socket and the clock. The loop it runs is:
//!
//! 1. write whatever [`Connection::poll_transmit`] hands out;
//! 2. read into [`Connection::read_buffer`] and call
//!    [`Connection::input_received`] (or pass a slice to
//!    [`Connection::handle_input`]);
//! 3. call [`Connection::poll_event`] until it returns `Ok(None)`. Frames are
//!    decoded lazily, only as events are asked for, so a caller whose own
//!    queue is full simply stops asking and stops reading: nothing piles up
//!    here, and the peer feels the backpressure through TCP;
//! 4. sleep until [`Connection::poll_timeout`] and then call
//!    [`Connection::handle_timeout`].
//!
//! Any `Err` closes the connection for good: every later call returns the same
//! error. Flush what `poll_transmit` still holds (an ERROR command, perhaps)
//! before closing the socket.

use std::mem;
use std::time::{Duration, Instant};

use bytes::buf::Limit;
use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::command::Command;
use crate::error::{ConfigError, Error, ErrorReason, ProtocolError, TimeoutError, UsageError};
use crate::frame::{FrameDecoder, Limits};
use crate::greeting::{Greeting, GreetingDecoder, MechanismName, Revision};
use crate::input::{Recycler, SIZING, unframed_room};
use crate::mechanism::{AuthDecision, AuthRequest, Codec, Handshake, Mechanism, Step};
use crate::message::Message;
use crate::metadata::{IDENTITY, Metadata, SOCKET_TYPE};
use crate::outbox::Outbox;
use crate::socket_type::SocketType;

pub use crate::peer::PeerInfo;

/// Heartbeat settings (ZMTP 3.1 PING/PONG).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heartbeat {
    /// Send a PING this often once the handshake is done.
    pub interval: Duration,
    /// Close when nothing at all arrives this long after a PING.
    pub timeout: Duration,
    /// Asks the peer to close if it hears nothing from us for this long
    /// (sent in each PING, in tenths of a second, at most 6553.5 s).
    pub ttl: Option<Duration>,
}

impl Heartbeat {
    /// PING every `interval`; the timeout defaults to the interval, as in
    /// libzmq; no TTL.
    pub fn new(interval: Duration) -> Heartbeat {
        Heartbeat {
            interval,
            timeout: interval,
            ttl: None,
        }
    }

    fn ttl_deciseconds(&self) -> Result<u16, ConfigError> {
        let Some(ttl) = self.ttl else { return Ok(0) };
        // Rounded up so the peer never waits less than asked.
        let ds = ttl.as_millis().div_ceil(100);
        u16::try_from(ds).map_err(|_| ConfigError::HeartbeatTtlTooLong(ttl))
    }
}

/// How to run a connection.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// Our socket type, announced in READY and checked against the peer's.
    pub socket_type: SocketType,
    /// The security mechanism.
    pub mechanism: Mechanism,
    /// Our routing id (the `Identity` property), 0..=255 octets, announced by
    /// REQ, DEALER and ROUTER. Empty means none.
    pub routing_id: Bytes,
    /// Extra properties for our READY: application `X-*` properties and
    /// `Resource`. `Socket-Type` and `Identity` are set by the connection.
    pub properties: Metadata,
    /// What the peer may make us buffer.
    pub limits: Limits,
    /// The greeting and security handshake must finish within this time.
    /// `None` disables the limit (libzmq's HANDSHAKE_IVL 0); the default is
    /// 30 s, as in libzmq.
    pub handshake_timeout: Option<Duration>,
    /// Heartbeats; `None` (the default, as in libzmq) sends no PING.
    pub heartbeat: Option<Heartbeat>,
    /// NULL only: before sending READY, ask the caller to judge the peer
    /// ([`Event::Authenticate`] with [`AuthRequest::Null`]), as libzmq 4.3
    /// does when the socket has a ZAP domain. Default `false`. Ignored by
    /// the other mechanisms, whose servers always ask.
    pub null_authenticate: bool,
}

impl Config {
    /// Defaults for a socket of type `socket_type`: NULL security, no routing
    /// id, default limits, a 30 s handshake timeout, no heartbeats.
    pub fn new(socket_type: SocketType) -> Config {
        Config {
            socket_type,
            mechanism: Mechanism::Null,
            routing_id: Bytes::new(),
            properties: Metadata::new(),
            limits: Limits::default(),
            handshake_timeout: Some(Duration::from_secs(30)),
            heartbeat: None,
            null_authenticate: false,
        }
    }
}

/// What a connection reports, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The handshake succeeded; messages may flow.
    HandshakeSucceeded(PeerInfo),
    /// A whole message arrived.
    Message(Message),
    /// The peer subscribed to a topic prefix (only reported to PUB and XPUB;
    /// from a SUBSCRIBE command or a ZMTP 3.0 `%x01` data frame).
    Subscribe(Bytes),
    /// The peer cancelled a subscription (only reported to PUB and XPUB).
    Cancel(Bytes),
    /// A server mechanism (or NULL with [`Config::null_authenticate`]) needs
    /// the caller to judge the peer's credentials: answer with
    /// [`Connection::authenticate`]. Nothing more is read until then (the
    /// handshake timeout still runs).
    Authenticate(AuthRequest),
}

#[derive(Debug)]
enum Phase {
    Greeting(GreetingDecoder),
    Handshake(Handshake),
    /// Only while a handshake state is being consumed: if that step fails,
    /// the connection is failed before anyone can see this.
    Transition,
    Traffic(Codec),
    Failed(Error),
}

/// `now + after`, or `None` (no deadline) when that is past what an
/// [`Instant`] can represent: a `Duration::MAX` timeout means "never".
fn deadline(now: Instant, after: Duration) -> Option<Instant> {
    now.checked_add(after)
}

/// One ZMTP connection's protocol state. See the [module docs](self).
pub struct Connection {
    socket_type: SocketType,
    mechanism: Mechanism,
    /// NULL: ask the caller before our READY.
    null_authenticate: bool,
    /// Our READY properties, built once.
    ours: Metadata,
    heartbeat: Option<Heartbeat>,
    ping_ttl: u16,
    phase: Phase,
    /// In traffic on clear NULL frames, for a type that takes no
    /// subscriptions as messages: small messages may be read where they lie
    /// (decided once, when the handshake ends, not for each message).
    small_in_place: bool,
    revision: Option<Revision>,
    peer: Option<std::sync::Arc<PeerInfo>>,
    input: BytesMut,
    /// The input buffer's earlier allocations, for reuse.
    recycler: Recycler,
    decoder: FrameDecoder,
    /// Frames of the message being received.
    partial: Message,
    outbox: Outbox,
    last_input: Instant,
    handshake_deadline: Option<Instant>,
    next_ping: Option<Instant>,
    /// Set when we send a PING; cleared by any input.
    pong_deadline: Option<Instant>,
    /// The TTL of the peer's last PING with a non-zero one.
    peer_ttl: Option<Duration>,
    /// The user id our authenticator gave the peer.
    user_id: Option<Bytes>,
    /// The CURVE client key our authenticator was asked about.
    public_key: Option<crate::keys::PublicKey>,
    /// The PONG owed for the peer's latest PING. One slot, as in libzmq: a
    /// peer flooding PINGs gets one PONG per flush, and cannot grow our
    /// send buffer.
    pending_pong: Option<Bytes>,
}

impl std::fmt::Debug for Connection {
    /// A summary: buffers are shown by size only, never by content.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let phase = match &self.phase {
            Phase::Greeting(_) => "greeting",
            Phase::Handshake(_) | Phase::Transition => "handshake",
            Phase::Traffic(_) => "traffic",
            Phase::Failed(_) => "failed",
        };
        f.debug_struct("Connection")
            .field("socket_type", &self.socket_type)
            .field("mechanism", &self.mechanism.name())
            .field("phase", &phase)
            .field("revision", &self.revision)
            .field("buffered_input", &self.input.len())
            .field("pending_transmit", &self.outbox.len())
            .field("error", &self.error())
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// A new connection whose transport just connected at `now`. Our greeting
    /// is queued at once, whole: waiting for the peer's signature first would
    /// deadlock against libzmq, which waits for ours (zmtp-notes.md).
    pub fn new(config: Config, now: Instant) -> Result<Connection, ConfigError> {
        let Config {
            socket_type,
            mechanism,
            routing_id,
            properties,
            limits,
            handshake_timeout,
            heartbeat,
            null_authenticate,
        } = config;
        if routing_id.len() > 255 {
            return Err(ConfigError::RoutingIdTooLong {
                len: routing_id.len(),
            });
        }
        if routing_id.first() == Some(&0) {
            return Err(ConfigError::RoutingIdReserved);
        }
        if handshake_timeout == Some(Duration::ZERO) {
            return Err(ConfigError::ZeroDuration("handshake timeout"));
        }
        if let Mechanism::PlainClient { username, password } = &mechanism {
            if username.len() > 255 || password.len() > 255 {
                return Err(ConfigError::Mechanism(
                    "PLAIN user name and password are at most 255 octets each",
                ));
            }
        }
        if let Mechanism::CurveClient { keypair, .. } | Mechanism::CurveServer { keypair } =
            &mechanism
        {
            if keypair.secret.public_key() != keypair.public {
                return Err(ConfigError::Mechanism(
                    "CURVE keypair: the public key does not belong to the secret key",
                ));
            }
        }
        let mut ping_ttl = 0;
        if let Some(hb) = &heartbeat {
            if hb.interval.is_zero() {
                return Err(ConfigError::ZeroDuration("heartbeat interval"));
            }
            if hb.timeout.is_zero() {
                return Err(ConfigError::ZeroDuration("heartbeat timeout"));
            }
            ping_ttl = hb.ttl_deciseconds()?;
        }
        let mut ours = Metadata::new();
        // Infallible: both names are short and non-empty.
        let _ = ours.insert(SOCKET_TYPE, socket_type.as_str());
        if socket_type.sends_identity() {
            let _ = ours.insert(IDENTITY, routing_id);
        }
        for (name, value) in properties.iter() {
            let reserved = [SOCKET_TYPE, IDENTITY];
            if reserved
                .iter()
                .any(|r| name.eq_ignore_ascii_case(r.as_bytes()))
            {
                return Err(ConfigError::ReservedProperty(ErrorReason(name.clone())));
            }
            let _ = ours.insert(name.clone(), value.clone());
        }

        let mut outbox = Outbox::default();
        outbox.raw(&Greeting::new(mechanism.name(), mechanism.as_server()).encode());
        Ok(Connection {
            socket_type,
            mechanism,
            null_authenticate,
            ours,
            heartbeat,
            ping_ttl,
            phase: Phase::Greeting(GreetingDecoder::new()),
            small_in_place: false,
            revision: None,
            peer: None,
            input: BytesMut::new(),
            recycler: Recycler::default(),
            decoder: FrameDecoder::new(limits),
            partial: Message::new(),
            outbox,
            last_input: now,
            handshake_deadline: handshake_timeout.and_then(|t| deadline(now, t)),
            next_ping: None,
            pong_deadline: None,
            peer_ttl: None,
            pending_pong: None,
            user_id: None,
            public_key: None,
        })
    }

    /// Answers an [`Event::Authenticate`]: allowing continues the handshake;
    /// denying sends the client an ERROR with the status code and fails the
    /// connection with [`Error::AuthDenied`] (no ERROR for a "300", a
    /// temporary failure, as libzmq). Without a pending request this does nothing.
    pub fn authenticate(&mut self, decision: AuthDecision) -> Result<(), Error> {
        let pending = matches!(&self.phase, Phase::Handshake(s) if s.awaits_decision());
        if !pending {
            return Ok(());
        }
        let Phase::Handshake(state) = mem::replace(&mut self.phase, Phase::Transition) else {
            unreachable!("checked above");
        };
        if let AuthDecision::Allow { user_id } = &decision {
            self.user_id = Some(user_id.clone());
        }
        match state.decide(&decision, &mut self.outbox) {
            Ok(Step::Continue(next) | Step::Authenticate(_, next)) => {
                self.phase = Phase::Handshake(next);
                Ok(())
            }
            // Reported by the next poll_event, like any other event.
            Ok(Step::Done(peer, codec)) => {
                self.phase = Phase::Handshake(Handshake::Finished(peer, codec));
                Ok(())
            }
            Err(e) => {
                self.fail(e.clone());
                Err(e)
            }
        }
    }

    /// Our socket type.
    pub fn socket_type(&self) -> SocketType {
        self.socket_type
    }

    /// The revision agreed in the greeting, once known.
    pub fn revision(&self) -> Option<Revision> {
        self.revision
    }

    /// The peer, once the handshake has succeeded.
    pub fn peer(&self) -> Option<&PeerInfo> {
        self.peer.as_deref()
    }

    /// Whether the handshake has succeeded and the connection has not failed.
    pub fn is_ready(&self) -> bool {
        matches!(self.phase, Phase::Traffic(_))
    }

    /// The error that closed the connection, if any.
    pub fn error(&self) -> Option<&Error> {
        match &self.phase {
            Phase::Failed(e) => Some(e),
            _ => None,
        }
    }

    /// The receive buffer, for reading from the transport without a copy.
    /// Call [`Connection::input_received`] after adding to it.
    /// [`Connection::read_buffer`] also sizes it for the next read.
    pub fn input_buffer(&mut self) -> &mut BytesMut {
        self.recycler.forget();
        &mut self.input
    }

    /// The receive buffer, with room made for the next read from the
    /// transport, limited to what that read should take (a `BufMut` for
    /// tokio's `read_buf`). Call [`Connection::input_received`] after it.
    ///
    /// `room` is the usual size of a read: small frames arrive that many
    /// octets at a time. A large frame (32 KiB or more) gets an allocation
    /// of its own, sized once its header is in, so that its body arrives in
    /// place and leaves without a copy; the reads around it are sized to
    /// stop just past it. Nothing is reserved for what a header merely
    /// announces beyond 256 KiB, or twice what has arrived. Up to four
    /// allocations of large frames (320 KiB at most each) are kept, to be
    /// reused once the application has dropped the frames in them.
    pub fn read_buffer(&mut self, room: usize) -> Limit<&mut BytesMut> {
        self.read_buffer_within(room, usize::MAX)
    }

    /// [`Connection::read_buffer`] for a read of at most `cap` octets: no
    /// new allocation holds more than what is buffered and `cap`, so a
    /// caller that counts what it lets a peer make it hold (a memory
    /// budget) can count the read before it happens. Ask
    /// [`Connection::read_wanted`] how much to ask the budget for.
    pub fn read_buffer_within(&mut self, room: usize, cap: usize) -> Limit<&mut BytesMut> {
        let limit = match self.phase {
            Phase::Handshake(_) | Phase::Traffic(_) => {
                let recent = self.decoder.recent_frame_len();
                SIZING.make_room(&mut self.input, &mut self.recycler, room, recent, cap)
            }
            // The greeting is not framed.
            _ => unframed_room(&mut self.input, room.min(cap.max(1))).min(cap.max(1)),
        };
        (&mut self.input).limit(limit)
    }

    /// How many octets the next read would take, uncapped (what
    /// [`Connection::read_buffer`] would allow, before it allocates): a
    /// large frame's rest, or `room`.
    pub fn read_wanted(&self, room: usize) -> usize {
        match self.phase {
            Phase::Handshake(_) | Phase::Traffic(_) => {
                SIZING.want(&self.input, room, self.decoder.recent_frame_len())
            }
            _ => room.max(1),
        }
    }

    /// Notes that octets were added to the input buffer at `now`. Any octet
    /// from the peer proves it alive (RFC 37: "a peer SHOULD treat any
    /// incoming traffic (not just a PONG reply) as a sign of life").
    pub fn input_received(&mut self, now: Instant) {
        self.last_input = now;
        self.pong_deadline = None;
    }

    /// Copies `data` into the input buffer and notes its arrival at `now`.
    pub fn handle_input(&mut self, data: &[u8], now: Instant) {
        if data.is_empty() || matches!(self.phase, Phase::Failed(_)) {
            return;
        }
        self.recycler.forget();
        self.input.extend_from_slice(data);
        self.input_received(now);
    }

    /// Octets received but not yet decoded.
    pub fn buffered_input(&self) -> usize {
        self.input.len()
    }

    /// Payload octets of the message being received: its frames decoded so
    /// far (the last frame of a message ends it, and the whole message then
    /// leaves with [`Connection::poll_event`]).
    pub fn buffered_message(&self) -> usize {
        self.partial.byte_len()
    }

    /// Gives back the memory of the allocations kept for reuse, and the
    /// receive buffer's own when nothing is buffered in it (the part of an
    /// allocation it still holds would keep all of it alive once the frames
    /// split off it are gone): for a connection with nothing to read for
    /// now, so that what it costs while nothing arrives stays small. The
    /// next read allocates afresh. Returns whether anything was given back.
    pub fn shrink_input(&mut self) -> bool {
        let spares = self.recycler.clear();
        if !self.input.is_empty() || self.input.capacity() == 0 {
            return spares;
        }
        self.input = BytesMut::new();
        true
    }

    /// The receive buffer's allocation, in octets (what
    /// [`Connection::shrink_input`] gives back).
    pub fn input_capacity(&self) -> usize {
        self.input.capacity()
    }

    /// Decodes input until the next event. `Ok(None)`: more input is needed.
    pub fn poll_event(&mut self, now: Instant) -> Result<Option<Event>, Error> {
        if let Phase::Failed(e) = &self.phase {
            return Err(e.clone());
        }
        let result = self.next_event(now);
        if let Err(e) = &result {
            self.fail(e.clone());
        }
        result
    }

    /// The next message, when it is one frame of at most `max` octets on a
    /// NULL connection: `f` reads its body where it lies in the input
    /// buffer, and it is consumed, without the share of the buffer (a
    /// reference count, taken and dropped) that [`Connection::poll_event`]
    /// hands out with each message. For a caller that copies small bodies
    /// anyway. `None`, with nothing consumed, for anything else: then
    /// [`Connection::poll_event`] takes it, as it would have. (So does a
    /// socket type that takes subscriptions as messages, and PLAIN, whose
    /// messages carry the peer.)
    #[inline]
    pub fn poll_small_message<T>(&mut self, max: usize, f: impl FnOnce(&[u8]) -> T) -> Option<T> {
        if !self.small_in_place || !self.partial.is_empty() {
            return None;
        }
        self.decoder.take_small(&mut self.input, max, f)
    }

    /// The next chunk of octets to write, in order. Small frames are
    /// coalesced; large bodies come as their own chunk, uncopied.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        if let Some(context) = self.pending_pong.take() {
            if let Phase::Traffic(codec) = &mut self.phase {
                codec.seal_command(&Command::Pong { context }, &mut self.outbox);
            }
        }
        self.outbox.pop()
    }

    /// Octets queued for the transport (a pending PONG not counted).
    pub fn pending_transmit(&self) -> usize {
        self.outbox.len()
    }

    /// Whether [`Connection::poll_transmit`] has anything to hand out.
    pub fn wants_transmit(&self) -> bool {
        self.outbox.len() > 0 || self.pending_pong.is_some()
    }

    /// When [`Connection::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if matches!(self.phase, Phase::Failed(_)) {
            return None;
        }
        let ttl = self.peer_ttl.and_then(|ttl| deadline(self.last_input, ttl));
        [
            self.handshake_deadline,
            self.pong_deadline,
            ttl,
            self.next_ping,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Fires the deadlines due at `now`: handshake timeout, heartbeat expiry,
    /// the peer's TTL, and our next PING.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), Error> {
        if let Phase::Failed(e) = &self.phase {
            return Err(e.clone());
        }
        let expired = |deadline: Option<Instant>| deadline.is_some_and(|d| now >= d);
        let timeout = if expired(self.handshake_deadline) {
            Some(TimeoutError::Handshake)
        } else if expired(self.pong_deadline) {
            Some(TimeoutError::Heartbeat)
        } else if expired(self.peer_ttl.and_then(|ttl| deadline(self.last_input, ttl))) {
            Some(TimeoutError::PeerTtl)
        } else {
            None
        };
        if let Some(t) = timeout {
            let e = Error::Timeout(t);
            self.fail(e.clone());
            return Err(e);
        }
        if let (Some(at), Some(hb), Phase::Traffic(codec)) =
            (self.next_ping, self.heartbeat, &mut self.phase)
        {
            if now >= at {
                let ping = Command::Ping {
                    ttl_deciseconds: self.ping_ttl,
                    context: Bytes::new(),
                };
                codec.seal_command(&ping, &mut self.outbox);
                self.next_ping = deadline(now, hb.interval);
                if self.pong_deadline.is_none() {
                    self.pong_deadline = deadline(now, hb.timeout);
                }
            }
        }
        Ok(())
    }

    /// Queues a message. Its frames are encoded now; bodies of 8 KiB or more
    /// are shared with the caller's [`Bytes`], not copied.
    pub fn send(&mut self, message: &Message) -> Result<(), UsageError> {
        let (codec, out) = self.traffic()?;
        let frames = message.frames();
        let Some((last, rest)) = frames.split_last() else {
            return Err(UsageError::EmptyMessage);
        };
        for frame in rest {
            codec.seal_frame(true, frame, out);
        }
        codec.seal_frame(false, last, out);
        Ok(())
    }

    /// Queues a single-frame message whose body is copied from `body` now
    /// (for a body the caller holds in place of a [`Bytes`]).
    pub fn send_frame(&mut self, body: &[u8]) -> Result<(), UsageError> {
        let (codec, out) = self.traffic()?;
        codec.seal_slice(false, body, out);
        Ok(())
    }

    /// Sends a subscription (SUB and XSUB): a SUBSCRIBE command to a ZMTP 3.1
    /// peer, a `%x01` data frame to a 3.0 peer.
    pub fn subscribe(&mut self, topic: &[u8]) -> Result<(), UsageError> {
        self.subscription(true, topic)
    }

    /// Cancels a subscription: CANCEL, or a `%x00` data frame for ZMTP 3.0.
    pub fn cancel(&mut self, topic: &[u8]) -> Result<(), UsageError> {
        self.subscription(false, topic)
    }

    fn subscription(&mut self, subscribe: bool, topic: &[u8]) -> Result<(), UsageError> {
        let v3_0 = self.revision == Some(Revision::V3_0);
        let (codec, out) = self.traffic()?;
        if v3_0 {
            let mut frame = BytesMut::with_capacity(1 + topic.len());
            frame.extend_from_slice(&[u8::from(subscribe)]);
            frame.extend_from_slice(topic);
            codec.seal_frame(false, &frame.freeze(), out);
        } else {
            let topic = Bytes::copy_from_slice(topic);
            let command = if subscribe {
                Command::Subscribe(topic)
            } else {
                Command::Cancel(topic)
            };
            codec.seal_command(&command, out);
        }
        Ok(())
    }

    /// The traffic codec and the send buffer, if the connection is ready.
    fn traffic(&mut self) -> Result<(&mut Codec, &mut Outbox), UsageError> {
        match &mut self.phase {
            Phase::Traffic(codec) => Ok((codec, &mut self.outbox)),
            Phase::Failed(_) => Err(UsageError::Closed),
            _ => Err(UsageError::NotReady),
        }
    }

    fn fail(&mut self, e: Error) {
        self.phase = Phase::Failed(e);
        self.small_in_place = false;
        self.input = BytesMut::new();
        self.recycler.clear();
        self.partial = Message::new();
        self.pending_pong = None;
    }

    fn next_event(&mut self, now: Instant) -> Result<Option<Event>, Error> {
        loop {
            match &mut self.phase {
                Phase::Greeting(decoder) => {
                    if self.input.is_empty() {
                        return Ok(None);
                    }
                    let (used, greeting) = decoder.decode(&self.input)?;
                    self.input.advance(used);
                    let Some(greeting) = greeting else {
                        return Ok(None);
                    };
                    let step = self.on_greeting(&greeting)?;
                    if let Some(event) = self.on_step(step, now)? {
                        return Ok(Some(event));
                    }
                }
                Phase::Handshake(state) => {
                    // Nothing more is read while the caller judges the
                    // credentials (Connection::authenticate).
                    if state.awaits_decision() {
                        return Ok(None);
                    }
                    if matches!(state, Handshake::Finished(..)) {
                        let Phase::Handshake(Handshake::Finished(peer, codec)) =
                            mem::replace(&mut self.phase, Phase::Transition)
                        else {
                            unreachable!("matched above");
                        };
                        return self.on_handshake_done(peer, codec, now).map(Some);
                    }
                    let Some(frame) = self.decoder.decode(&mut self.input)? else {
                        return Ok(None);
                    };
                    if !frame.command {
                        return Err(ProtocolError::MessageBeforeHandshake.into());
                    }
                    let Phase::Handshake(state) = mem::replace(&mut self.phase, Phase::Transition)
                    else {
                        unreachable!("matched above");
                    };
                    let step = state.handle(frame.body, &mut self.outbox)?;
                    if let Some(event) = self.on_step(step, now)? {
                        return Ok(Some(event));
                    }
                }
                Phase::Traffic(codec) => {
                    let Some(frame) = codec.next_frame(&mut self.decoder, &mut self.input)? else {
                        return Ok(None);
                    };
                    if frame.command {
                        match self.on_command(Command::decode(frame.body)?)? {
                            Some(event) => return Ok(Some(event)),
                            None => continue,
                        }
                    }
                    if !frame.more {
                        // A single-frame message, the common case, is built
                        // directly.
                        let message = if self.partial.is_empty() {
                            Message::from(frame.body)
                        } else {
                            self.partial.push(frame.body);
                            mem::take(&mut self.partial)
                        };
                        return Ok(Some(self.on_message(message)));
                    }
                    self.partial.push(frame.body);
                }
                Phase::Failed(e) => return Err(e.clone()),
                // Never observed here: a failed step fails the connection.
                Phase::Transition => return Err(Error::Protocol(ProtocolError::HandshakeAborted)),
            }
        }
    }

    /// Takes the handshake to the state `step` leads to, with the event it
    /// reports, if any.
    fn on_step(&mut self, step: Step, now: Instant) -> Result<Option<Event>, Error> {
        match step {
            Step::Continue(next) => {
                self.phase = Phase::Handshake(next);
                Ok(None)
            }
            Step::Authenticate(request, next) => {
                if let AuthRequest::Curve { public_key } = &request {
                    self.public_key = Some(*public_key);
                }
                self.phase = Phase::Handshake(next);
                Ok(Some(Event::Authenticate(request)))
            }
            Step::Done(peer, codec) => self.on_handshake_done(peer, codec, now).map(Some),
        }
    }

    /// Checks the peer's greeting and starts the handshake: the step it
    /// leads to is for [`Connection::on_step`].
    fn on_greeting(&mut self, greeting: &Greeting) -> Result<Step, Error> {
        let revision = greeting.revision()?;
        let ours: MechanismName = self.mechanism.name();
        if !greeting.mechanism.is_known() {
            return Err(ProtocolError::UnsupportedMechanism(greeting.mechanism).into());
        }
        if greeting.mechanism != ours {
            return Err(ProtocolError::MechanismMismatch {
                ours,
                theirs: greeting.mechanism,
            }
            .into());
        }
        self.revision = Some(revision);
        Ok(Handshake::start(
            &self.mechanism,
            self.null_authenticate,
            &self.ours,
            &mut self.outbox,
        ))
    }

    fn on_handshake_done(
        &mut self,
        metadata: Metadata,
        codec: Codec,
        now: Instant,
    ) -> Result<Event, Error> {
        let socket_type = metadata.socket_type()?;
        if let Some(theirs) = socket_type {
            if !self.socket_type.is_compatible_with(theirs) {
                // RFC 37: "it SHOULD handle errors by returning an ERROR
                // command, and then disconnecting the peer."
                self.outbox
                    .command(&Command::Error(ErrorReason(Bytes::from_static(
                        b"Invalid socket type",
                    ))));
                return Err(ProtocolError::IncompatibleSocketType {
                    ours: self.socket_type,
                    theirs,
                }
                .into());
            }
        }
        let routing_id = metadata.identity()?.cloned();
        let peer = PeerInfo {
            revision: self.revision.unwrap_or(Revision::V3_1),
            socket_type,
            routing_id,
            metadata,
            user_id: self.user_id.clone(),
            public_key: self.public_key,
        };
        if let Some(overhead) = codec.overhead() {
            self.decoder.seal(overhead as u64);
        }
        self.small_in_place = matches!(codec, Codec::Clear)
            && matches!(self.mechanism, Mechanism::Null)
            && !self.socket_type.receives_subscriptions();
        self.phase = Phase::Traffic(codec);
        self.handshake_deadline = None;
        self.next_ping = self.heartbeat.and_then(|hb| deadline(now, hb.interval));
        self.peer = Some(std::sync::Arc::new(peer.clone()));
        Ok(Event::HandshakeSucceeded(peer))
    }

    fn on_command(&mut self, command: Command) -> Result<Option<Event>, Error> {
        match command {
            Command::Ping {
                ttl_deciseconds,
                context,
            } => {
                if ttl_deciseconds > 0 {
                    self.peer_ttl = Some(Duration::from_millis(u64::from(ttl_deciseconds) * 100));
                }
                self.pending_pong = Some(context);
                Ok(None)
            }
            // Any input already counted as a sign of life.
            Command::Pong { .. } => Ok(None),
            Command::Error(reason) => Err(Error::PeerError(reason)),
            Command::Subscribe(topic) if self.socket_type.receives_subscriptions() => {
                Ok(Some(Event::Subscribe(topic)))
            }
            Command::Cancel(topic) if self.socket_type.receives_subscriptions() => {
                Ok(Some(Event::Cancel(topic)))
            }
            // libzmq ignores every other command after the handshake.
            _ => Ok(None),
        }
    }

    fn on_message(&mut self, mut message: Message) -> Event {
        // ZMTP 3.0 subscriptions (and libzmq XSUB's on any revision): a
        // one-frame message starting with %x01 (subscribe) or %x00 (cancel).
        if self.socket_type.receives_subscriptions() {
            if let [frame] = message.frames() {
                match frame.first() {
                    Some(1) => return Event::Subscribe(frame.slice(1..)),
                    Some(0) => return Event::Cancel(frame.slice(1..)),
                    _ => {}
                }
            }
        }
        // What a handshake proved travels with each message; NULL proves
        // nothing and keeps its fast path free of the reference count.
        if !matches!(self.mechanism, Mechanism::Null) {
            message.set_peer(self.peer.clone());
        }
        Event::Message(message)
    }
}
