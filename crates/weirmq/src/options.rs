//! Socket options, typed: durations are [`Duration`]s, limits are non-zero.

use std::num::NonZeroUsize;
use std::time::Duration;

use bytes::Bytes;
use weirmq_zmtp::{
    AuthDecision, AuthRequest, Heartbeat, Keypair, Limits, Mechanism, PublicKey, SocketType,
};

use crate::error::Error;
use crate::rate::Rate;

/// A high-water mark: the most one queue may hold, in messages and in bytes.
///
/// There is no "unlimited": both limits are non-zero numbers. A message
/// larger than the byte limit is still accepted into an *empty* queue (or it
/// could never be sent), and nothing joins it until it leaves, so a queue
/// holds at most `messages` messages and the larger of `bytes` and its
/// largest message in payload octets (see [`Options`] for the whole bound).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hwm {
    messages: NonZeroUsize,
    bytes: NonZeroUsize,
}

impl Hwm {
    /// A limit of `messages` messages and `bytes` payload octets.
    pub fn new(messages: usize, bytes: usize) -> Result<Hwm, Error> {
        let messages = NonZeroUsize::new(messages)
            .ok_or_else(|| Error::InvalidOption("HWM messages must be at least 1".into()))?;
        let bytes = NonZeroUsize::new(bytes)
            .ok_or_else(|| Error::InvalidOption("HWM bytes must be at least 1".into()))?;
        Ok(Hwm { messages, bytes })
    }

    /// Most messages.
    pub fn messages(&self) -> usize {
        self.messages.get()
    }

    /// Most payload octets.
    pub fn bytes(&self) -> usize {
        self.bytes.get()
    }
}

impl Default for Hwm {
    /// 1000 messages (libzmq's default) and 16 MiB.
    fn default() -> Self {
        Hwm {
            messages: NonZeroUsize::new(1000).expect("non-zero"),
            bytes: NonZeroUsize::new(16 << 20).expect("non-zero"),
        }
    }
}

/// When a peer's queue raises an alert: a
/// [`MonitorEvent::QueueHigh`](crate::MonitorEvent::QueueHigh) once its
/// outgoing queue reaches `high_percent` of the send HWM (in messages or in
/// octets), and a [`MonitorEvent::QueueLow`](crate::MonitorEvent::QueueLow)
/// once it is back under `low_percent` (in both). Each peer's incoming lane
/// does the same against the receive HWM, as
/// [`MonitorEvent::IncomingQueueHigh`](crate::MonitorEvent::IncomingQueueHigh)
/// and [`MonitorEvent::IncomingQueueLow`](crate::MonitorEvent::IncomingQueueLow):
/// the application is not taking what that peer sends fast enough. A queue
/// hovering at one mark raises nothing more: only a fall under the low mark
/// re-arms the high one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueAlert {
    high: u8,
    low: u8,
}

impl QueueAlert {
    /// Alerts at `high_percent` of the HWM (1 to 100) and back under
    /// `low_percent` (below the high one).
    pub fn new(high_percent: u8, low_percent: u8) -> Result<QueueAlert, Error> {
        if !(1..=100).contains(&high_percent) || low_percent >= high_percent {
            return Err(Error::InvalidOption(format!(
                "queue alert {high_percent}%/{low_percent}%: the high mark must be 1 to 100% \
                 of the HWM and the low mark below it"
            )));
        }
        Ok(QueueAlert {
            high: high_percent,
            low: low_percent,
        })
    }

    /// The high mark, in percent of the HWM.
    pub fn high_percent(&self) -> u8 {
        self.high
    }

    /// The low mark, in percent of the HWM.
    pub fn low_percent(&self) -> u8 {
        self.low
    }
}

impl Default for QueueAlert {
    /// 80% up, 50% down.
    fn default() -> Self {
        QueueAlert { high: 80, low: 50 }
    }
}

/// What a PUB does when a subscriber's queue is full.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum WhenFull {
    /// The sender waits until every subscribed peer has room: nothing is
    /// lost, and the slowest subscriber paces the publisher. The default.
    #[default]
    Wait,
    /// The full peer misses the message, and its drop counter (in
    /// [`Stats::dropped`](crate::Stats::dropped)) counts it; other peers are
    /// not held back. libzmq's PUB always does this, silently.
    Drop,
}

/// Which of its peers' arrivals and departures a ROUTER tells the
/// application of (libzmq's ZMQ_ROUTER_NOTIFY, a draft option of libzmq
/// 4.3, with ZMQ_NOTIFY_CONNECT and ZMQ_NOTIFY_DISCONNECT). A notice is a
/// message of two frames, the peer's routing id and an empty frame, received
/// like the peer's own messages: the arrival's before anything the peer
/// sends, the departure's after everything it sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RouterNotify {
    /// A notice when a peer's handshake is done (ZMQ_NOTIFY_CONNECT).
    pub connect: bool,
    /// A notice when the connection of a peer whose handshake was done
    /// ends (ZMQ_NOTIFY_DISCONNECT).
    pub disconnect: bool,
}

impl RouterNotify {
    /// No notices (the default).
    pub const NONE: RouterNotify = RouterNotify {
        connect: false,
        disconnect: false,
    };
    /// Arrivals only.
    pub const CONNECT: RouterNotify = RouterNotify {
        connect: true,
        disconnect: false,
    };
    /// Departures only.
    pub const DISCONNECT: RouterNotify = RouterNotify {
        connect: false,
        disconnect: true,
    };
    /// Both.
    pub const BOTH: RouterNotify = RouterNotify {
        connect: true,
        disconnect: true,
    };

    /// Whether any notice is asked for.
    pub fn any(self) -> bool {
        self.connect || self.disconnect
    }
}

/// Kept in the receive budget beyond the largest message, for the finishing
/// message's frame headers (and CURVE's boxes) and a read.
const RESERVE_MARGIN: usize = 256 * 1024;

/// Judges the credentials of peers connecting to a server mechanism (the
/// Rust side of ZAP): given the request and the peer's address, allow (with
/// a user id) or deny (with a ZAP status code).
pub type Authenticator =
    std::sync::Arc<dyn Fn(&AuthRequest, &str) -> AuthDecision + Send + Sync + 'static>;

/// Options of a socket. Build with [`Options::default`] and the `with_*`
/// methods; every default is safe and documented.
///
/// # Memory bounds
///
/// **Incoming**, everything a socket holds of what its peers send comes
/// out of one budget, [`Options::recv_budget`] (default 64 MiB): what its
/// connections have read and not decoded, the frames of messages partly
/// received, the messages decoded and waiting for room, the messages
/// queued in the peers' lanes, and the batch `recv` took from one lane and
/// has not handed out (given back when `recv` takes its next batch). When
/// the budget is spent, connections are not read (their peers feel it
/// through TCP) until the application takes messages, and the room that
/// frees up goes first to the connection holding the least. A message
/// being finished always has room kept for it, so large messages from many
/// peers cannot wait on one another forever.
///
/// Beyond the budget, each connection costs a fixed amount: a read
/// allowance of 16 KiB that is its own, and its state (the connection, its
/// task, its lane). Measured (`tests/budget_memory.rs`): about 15 KiB for an
/// idle connection (its read buffer is given back while nothing is buffered
/// in it), about 28 KiB for one flooding a stalled application. So `N`
/// connections make a socket hold at most about `recv_budget + N × 28 KiB`
/// of incoming data, whatever they send; [`Options::max_connections`] caps
/// `N` for accepted connections. Each peer's lane is bounded by
/// [`Options::recv_hwm`] as well (the larger of its byte limit and one
/// message).
///
/// **Outgoing**, each peer's queue holds at most the larger of
/// `send_hwm.bytes()` and the largest message the application sends it. A
/// connecting socket that takes back the messages a failed connection had
/// not written (see [`Stats::lost`](crate::Stats::lost)) may pass its HWM
/// by those: they were in memory already, moved back, and nothing new is
/// queued until it is under its HWM again. Each connection also holds the
/// messages it took from its peer's queue and has not written yet (a batch
/// of up to 256 messages whenever less than 128 KiB of output waits).
///
/// A peer whose message would grow past `max_message_size` is disconnected
/// as soon as the frame header that announces it arrives, without waiting
/// for that frame's body.
#[derive(Clone)]
#[non_exhaustive]
pub struct Options {
    /// The security mechanism. Default NULL.
    pub mechanism: Mechanism,
    /// Judges clients of a server mechanism (and NULL peers, when a
    /// [`zap_domain`](Options::zap_domain) is set). Without one, the ZAP
    /// handler bound at [`ZAP_ENDPOINT`](crate::ZAP_ENDPOINT) judges, if
    /// there is one; with neither, a PLAIN server refuses every client, a
    /// CURVE server accepts every client key (its user id is the key in
    /// Z85) and NULL lets every peer in, as libzmq does without a ZAP
    /// handler.
    pub authenticator: Option<Authenticator>,
    /// The domain sent in ZAP requests (RFC 27), when a server socket with no
    /// authenticator asks the ZAP handler bound at
    /// [`ZAP_ENDPOINT`](crate::ZAP_ENDPOINT). Default empty. On a NULL
    /// socket, a non-empty domain has every peer judged
    /// ([`AuthRequest::Null`]) before the handshake goes on, as in libzmq;
    /// with an empty one NULL judges nobody.
    pub zap_domain: Bytes,
    /// Holds a server to RFC 27's rule that a ZAP domain is always set
    /// (libzmq's ZMQ_ZAP_ENFORCE_DOMAIN, a draft option of libzmq 4.3).
    /// Default false, libzmq's legacy behaviour. With it, as in libzmq:
    /// with nobody to judge a peer (no authenticator, no ZAP handler) the
    /// handshake fails, where NULL and CURVE would otherwise let the peer
    /// in; and a CURVE server without a domain judges nobody (encryption
    /// without authentication) where it would otherwise ask the ZAP
    /// handler with an empty domain. A socket with it, no domain, and a
    /// PLAIN server or an authenticator is refused: nobody would ever be
    /// judged there (libzmq aborts on the PLAIN case).
    pub zap_enforce_domain: bool,
    /// Outgoing queue limit, per peer. Default [`Hwm::default`].
    pub send_hwm: Hwm,
    /// Incoming queue limit, per peer: each peer's messages wait in a lane
    /// of their own, and `recv` takes turns over the lanes that hold any
    /// (fair queuing), so a peer that floods fills its own lane and holds
    /// nobody else up. Default [`Hwm::default`].
    pub recv_hwm: Hwm,
    /// How long `send` may wait for room; `None` waits forever (libzmq's
    /// SNDTIMEO -1). Default `None`.
    pub send_timeout: Option<Duration>,
    /// How long `recv` may wait; `None` waits forever. Default `None`.
    pub recv_timeout: Option<Duration>,
    /// Routing id announced to peers (REQ, DEALER, ROUTER), 1..=255 octets,
    /// not starting with a zero octet. Default: none.
    pub routing_id: Bytes,
    /// Largest incoming message, summed over its frames; a peer that sends
    /// a larger one is disconnected (a [`MonitorEvent::Disconnected`] says
    /// why) and the other peers go on. Default 16 MiB, the default receive
    /// byte HWM, so that one message cannot take more than a lane's limit
    /// (see "Memory bounds" above). [`Options::recv_budget`] must be at
    /// least twice as large (plus 256 KiB).
    ///
    /// [`MonitorEvent::Disconnected`]: crate::MonitorEvent::Disconnected
    pub max_message_size: u64,
    /// The greeting and handshake must finish within this. Default 30 s.
    pub handshake_timeout: Duration,
    /// Heartbeats (PING/PONG). Default: off, as in libzmq.
    pub heartbeat: Option<Heartbeat>,
    /// First delay before reconnecting. Default 100 ms (libzmq).
    pub reconnect_interval: Duration,
    /// Longest reconnect delay; the delay doubles up to it. Default 30 s
    /// (libzmq's default of 0 never backs off, which floods a dead peer).
    pub reconnect_interval_max: Duration,
    /// PUB: wait for a full subscriber or drop for it (counted). Default
    /// [`WhenFull::Wait`].
    pub when_full: WhenFull,
    /// Most accepted connections still in their handshake; a newcomer past
    /// it evicts the oldest (counted in `Stats::evicted`). Default 64.
    pub max_handshaking: usize,
    /// Most accepted connections at once (in their handshake or past it);
    /// a newcomer past it is closed at once, counted in `Stats::rejected`
    /// and reported by a
    /// [`MonitorEvent::ConnectionRejected`](crate::MonitorEvent::ConnectionRejected).
    /// Default 4096.
    pub max_connections: usize,
    /// The memory budget for incoming data, in octets, shared by all the
    /// socket's connections: what they have read and not decoded, the
    /// frames of messages partly received, and the messages received and
    /// not yet taken by `recv` (see "Memory bounds" above). When it is
    /// spent, connections are not read until room frees up, those holding
    /// the most last. It must be at least twice `max_message_size` plus
    /// 256 KiB: one message being finished always has room. Default 64 MiB.
    pub recv_budget: usize,
    /// How long a closing connection keeps trying to write what is queued
    /// to it (on close, unbind, disconnect). Default 2 s; libzmq's default
    /// of "forever" can hang a program on exit.
    pub linger: Duration,
    /// Keep only the newest message in each queue (libzmq's CONFLATE): for
    /// "latest value" feeds. Replaced messages are counted in
    /// `Stats::dropped`. Single-frame messages only make sense here.
    pub conflate: bool,
    /// ROUTER: a new peer announcing a routing id already in use takes it
    /// over, and the old connection is closed (libzmq's ROUTER_HANDOVER).
    /// Default false: the newcomer is refused.
    pub router_handover: bool,
    /// XPUB: hand every subscription to the application, not only a topic's
    /// first (libzmq's XPUB_VERBOSE). Default false.
    pub xpub_verbose: bool,
    /// REQ: a new request may be sent before the last one's reply came;
    /// that reply is then never taken (libzmq's ZMQ_REQ_RELAXED). Default
    /// false. Other types refuse it.
    pub req_relaxed: bool,
    /// REQ: each request carries a request id frame (four octets, before
    /// the empty delimiter), and a reply without the last request's id is
    /// discarded (libzmq's ZMQ_REQ_CORRELATE; for [`Options::req_relaxed`]).
    /// Default false. Other types refuse it.
    pub req_correlate: bool,
    /// DEALER, REQ, ROUTER: send an empty message to each peer as soon as
    /// its connection is ready, so that a ROUTER learns its routing id at
    /// once (libzmq's ZMQ_PROBE_ROUTER). Default false. Other types refuse
    /// it.
    pub probe_router: bool,
    /// ROUTER: tell the application of peers arriving and leaving (libzmq's
    /// ZMQ_ROUTER_NOTIFY; see [`RouterNotify`]). Default none. Other types
    /// refuse it.
    pub router_notify: RouterNotify,
    /// PUB, XPUB: send to the peers NOT subscribed to a prefix of a
    /// message; SUB: receive the messages that match none of its
    /// subscriptions (libzmq's ZMQ_INVERT_MATCHING; both ends should set
    /// it, as a PUB filters by what its SUBs asked for). Default false.
    /// Other types refuse it.
    pub invert_matching: bool,
    /// XPUB: a message sent to each new subscriber as soon as it connects
    /// (libzmq's ZMQ_XPUB_WELCOME_MSG; a SUB takes it only if it is
    /// subscribed to it). Default `None`. Other types refuse it.
    pub xpub_welcome: Option<Bytes>,
    /// XPUB: the application decides what each peer gets (libzmq's
    /// ZMQ_XPUB_MANUAL). A peer's SUBSCRIBE or CANCEL no longer changes
    /// what it is sent: every one (repeats too, whatever
    /// [`Options::xpub_verbose`] says) becomes a note for the application,
    /// which then calls [`XPub::subscribe`](crate::XPub::subscribe) or
    /// [`XPub::unsubscribe`](crate::XPub::unsubscribe) for the peer of the
    /// last note it received (and may grant another topic than the one
    /// asked for, or none). Default false. Other types refuse it, and so
    /// does an XPUB with [`Options::conflate`].
    pub xpub_manual: bool,
    /// TCP keepalive idle time, or `None` for the system default. Default
    /// `None`.
    pub tcp_keepalive: Option<Duration>,
    /// Route messages only to peers whose connection is up (libzmq's
    /// IMMEDIATE=1). Default true: a message queued for a peer that is down
    /// can wait forever. With false (libzmq's default), PUSH, PAIR, DEALER
    /// and REQ queue messages for a `connect`ed endpoint from the start and
    /// while it reconnects, up to its HWM.
    pub immediate: bool,
    /// Alerts when a peer's outgoing queue or incoming lane nears its HWM
    /// and when it has drained again (see [`QueueAlert`]). Default `None`: no alerts (the
    /// peak depths and the time spent full are in the stats either way).
    pub queue_alert: Option<QueueAlert>,
    /// Report a [`MonitorEvent::SendBlocked`](crate::MonitorEvent::SendBlocked)
    /// when one `send` has waited this long for room (once per send).
    /// Default `None`.
    pub send_blocked_alert: Option<Duration>,
    /// The most this socket sends, in messages and/or octets per second
    /// (a token bucket, see [`Rate`]): `send` waits under it (the wait
    /// counts towards the send timeout) and `try_send` hands the message
    /// back ([`TrySendError::RateLimited`](crate::TrySendError::RateLimited)).
    /// Default `None`.
    pub send_rate: Option<Rate>,
    /// The most each peer may send to this socket, in payload octets per
    /// second (a [`Rate`] with octets only): a peer over it is read no
    /// faster, so its TCP window closes, and the others are not affected.
    /// Default `None`.
    pub recv_rate_per_peer: Option<Rate>,
    /// A CURVE server's keypair that can be rotated (see
    /// [`Options::with_curve_server_rotating`]); `None` serves
    /// `mechanism`'s fixed keypair.
    pub curve_rotating: Option<crate::cert::RotatingKeypair>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            mechanism: Mechanism::Null,
            authenticator: None,
            zap_domain: Bytes::new(),
            zap_enforce_domain: false,
            send_hwm: Hwm::default(),
            recv_hwm: Hwm::default(),
            send_timeout: None,
            recv_timeout: None,
            routing_id: Bytes::new(),
            max_message_size: Hwm::default().bytes() as u64,
            handshake_timeout: Duration::from_secs(30),
            heartbeat: None,
            reconnect_interval: Duration::from_millis(100),
            reconnect_interval_max: Duration::from_secs(30),
            when_full: WhenFull::Wait,
            max_handshaking: 64,
            max_connections: 4096,
            recv_budget: 64 << 20,
            linger: Duration::from_secs(2),
            conflate: false,
            router_handover: false,
            xpub_verbose: false,
            req_relaxed: false,
            req_correlate: false,
            probe_router: false,
            router_notify: RouterNotify::NONE,
            invert_matching: false,
            xpub_welcome: None,
            xpub_manual: false,
            tcp_keepalive: None,
            immediate: true,
            queue_alert: None,
            send_blocked_alert: None,
            send_rate: None,
            recv_rate_per_peer: None,
            curve_rotating: None,
        }
    }
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("mechanism", &self.mechanism)
            .field(
                "authenticator",
                &self.authenticator.as_ref().map(|_| "<fn>"),
            )
            .field("zap_domain", &self.zap_domain)
            .field("send_hwm", &self.send_hwm)
            .field("recv_hwm", &self.recv_hwm)
            .field("send_timeout", &self.send_timeout)
            .field("recv_timeout", &self.recv_timeout)
            .finish_non_exhaustive()
    }
}

impl Options {
    /// Sets the security mechanism.
    pub fn with_mechanism(mut self, mechanism: Mechanism) -> Self {
        self.mechanism = mechanism;
        self
    }

    /// CURVE client: encrypt to, and authenticate, the server whose
    /// long-term public key is `server_key`, proving `keypair` to it.
    pub fn with_curve_client(self, server_key: PublicKey, keypair: Keypair) -> Self {
        self.with_mechanism(Mechanism::CurveClient {
            server_key,
            keypair,
        })
    }

    /// CURVE server with this long-term keypair. Clients are judged by the
    /// [`Options::authenticator`].
    pub fn with_curve_server(self, keypair: Keypair) -> Self {
        self.with_mechanism(Mechanism::CurveServer { keypair })
    }

    /// CURVE server whose keypair can be replaced while the socket runs
    /// ([`RotatingKeypair::rotate`](crate::cert::RotatingKeypair::rotate)):
    /// each new connection is served with the keypair of the moment.
    pub fn with_curve_server_rotating(mut self, keys: crate::cert::RotatingKeypair) -> Self {
        self = self.with_curve_server(keys.current());
        self.curve_rotating = Some(keys);
        self
    }

    /// PLAIN client with these credentials (each at most 255 octets).
    pub fn with_plain_client(self, username: impl Into<Bytes>, password: impl Into<Bytes>) -> Self {
        self.with_mechanism(Mechanism::PlainClient {
            username: username.into(),
            password: password.into(),
        })
    }

    /// PLAIN server: credentials are judged by the [`Options::authenticator`]
    /// (without one, every client is refused).
    pub fn with_plain_server(self) -> Self {
        self.with_mechanism(Mechanism::PlainServer)
    }

    /// Sets the ZAP domain.
    pub fn with_zap_domain(mut self, domain: impl Into<Bytes>) -> Self {
        self.zap_domain = domain.into();
        self
    }

    /// Enforces a ZAP domain (libzmq's ZMQ_ZAP_ENFORCE_DOMAIN; see
    /// [`Options::zap_enforce_domain`]).
    pub fn with_zap_enforce_domain(mut self, enforce: bool) -> Self {
        self.zap_enforce_domain = enforce;
        self
    }

    /// Sets the authenticator of a server mechanism.
    pub fn with_authenticator(
        mut self,
        authenticator: impl Fn(&AuthRequest, &str) -> AuthDecision + Send + Sync + 'static,
    ) -> Self {
        self.authenticator = Some(std::sync::Arc::new(authenticator));
        self
    }

    /// Sets both queue limits.
    pub fn with_hwm(mut self, hwm: Hwm) -> Self {
        self.send_hwm = hwm;
        self.recv_hwm = hwm;
        self
    }

    /// Sets the send timeout.
    pub fn with_send_timeout(mut self, timeout: Duration) -> Self {
        self.send_timeout = Some(timeout);
        self
    }

    /// Sets the receive timeout.
    pub fn with_recv_timeout(mut self, timeout: Duration) -> Self {
        self.recv_timeout = Some(timeout);
        self
    }

    /// Sets the routing id.
    pub fn with_routing_id(mut self, id: impl Into<Bytes>) -> Self {
        self.routing_id = id.into();
        self
    }

    /// Sets what a PUB does for a full subscriber.
    pub fn with_when_full(mut self, when_full: WhenFull) -> Self {
        self.when_full = when_full;
        self
    }

    /// Sets the largest incoming message.
    pub fn with_max_message_size(mut self, octets: u64) -> Self {
        self.max_message_size = octets;
        self
    }

    /// Sets heartbeats.
    pub fn with_heartbeat(mut self, heartbeat: Heartbeat) -> Self {
        self.heartbeat = Some(heartbeat);
        self
    }

    /// Sets the handshake timeout.
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Sets the linger time.
    pub fn with_linger(mut self, linger: Duration) -> Self {
        self.linger = linger;
        self
    }

    /// Keeps only the newest message in each queue.
    pub fn with_conflate(mut self, conflate: bool) -> Self {
        self.conflate = conflate;
        self
    }

    /// ROUTER: lets a newcomer take over a routing id in use.
    pub fn with_router_handover(mut self, handover: bool) -> Self {
        self.router_handover = handover;
        self
    }

    /// XPUB: hands every subscription to the application.
    pub fn with_xpub_verbose(mut self, verbose: bool) -> Self {
        self.xpub_verbose = verbose;
        self
    }

    /// REQ: lets a new request go before the last reply (libzmq's
    /// ZMQ_REQ_RELAXED; see [`Options::req_relaxed`]).
    pub fn with_req_relaxed(mut self, relaxed: bool) -> Self {
        self.req_relaxed = relaxed;
        self
    }

    /// REQ: tags requests with an id their replies must carry (libzmq's
    /// ZMQ_REQ_CORRELATE; see [`Options::req_correlate`]).
    pub fn with_req_correlate(mut self, correlate: bool) -> Self {
        self.req_correlate = correlate;
        self
    }

    /// DEALER, REQ, ROUTER: probes each new peer with an empty message
    /// (libzmq's ZMQ_PROBE_ROUTER; see [`Options::probe_router`]).
    pub fn with_probe_router(mut self, probe: bool) -> Self {
        self.probe_router = probe;
        self
    }

    /// ROUTER: notices of peers arriving and leaving (libzmq's
    /// ZMQ_ROUTER_NOTIFY; see [`Options::router_notify`]).
    pub fn with_router_notify(mut self, notify: RouterNotify) -> Self {
        self.router_notify = notify;
        self
    }

    /// PUB, XPUB, SUB: inverts subscription matching (libzmq's
    /// ZMQ_INVERT_MATCHING; see [`Options::invert_matching`]).
    pub fn with_invert_matching(mut self, invert: bool) -> Self {
        self.invert_matching = invert;
        self
    }

    /// XPUB: greets each new subscriber with `msg` (libzmq's
    /// ZMQ_XPUB_WELCOME_MSG; see [`Options::xpub_welcome`]).
    pub fn with_xpub_welcome(mut self, msg: impl Into<Bytes>) -> Self {
        self.xpub_welcome = Some(msg.into());
        self
    }

    /// XPUB: the application grants each peer its subscriptions (libzmq's
    /// ZMQ_XPUB_MANUAL; see [`Options::xpub_manual`]).
    pub fn with_xpub_manual(mut self, manual: bool) -> Self {
        self.xpub_manual = manual;
        self
    }

    /// Sets whether only connected peers get messages.
    pub fn with_immediate(mut self, immediate: bool) -> Self {
        self.immediate = immediate;
        self
    }

    /// Sets the TCP keepalive idle time.
    pub fn with_tcp_keepalive(mut self, idle: Duration) -> Self {
        self.tcp_keepalive = Some(idle);
        self
    }

    /// Sets the cap on accepted connections still in their handshake.
    pub fn with_max_handshaking(mut self, max: usize) -> Self {
        self.max_handshaking = max;
        self
    }

    /// Sets the cap on accepted connections.
    pub fn with_max_connections(mut self, max: usize) -> Self {
        self.max_connections = max;
        self
    }

    /// Sets the queue alerts (see [`QueueAlert`]).
    pub fn with_queue_alert(mut self, alert: QueueAlert) -> Self {
        self.queue_alert = Some(alert);
        self
    }

    /// Reports a send that has waited `after` for room.
    pub fn with_send_blocked_alert(mut self, after: Duration) -> Self {
        self.send_blocked_alert = Some(after);
        self
    }

    /// Limits what the socket sends (see [`Options::send_rate`]).
    pub fn with_send_rate(mut self, rate: Rate) -> Self {
        self.send_rate = Some(rate);
        self
    }

    /// Limits what each peer may send (see
    /// [`Options::recv_rate_per_peer`]).
    pub fn with_recv_rate_per_peer(mut self, rate: Rate) -> Self {
        self.recv_rate_per_peer = Some(rate);
        self
    }

    /// Sets the memory budget for incoming data, in octets.
    pub fn with_recv_budget(mut self, octets: usize) -> Self {
        self.recv_budget = octets;
        self
    }

    /// Octets of the receive budget kept for finishing one message: the
    /// largest message, and room for its frames' headers and a read.
    pub(crate) fn budget_reserve(&self) -> usize {
        usize::try_from(self.max_message_size)
            .unwrap_or(usize::MAX)
            .saturating_add(RESERVE_MARGIN)
    }

    /// The protocol settings these options ask for, for a connection of
    /// `socket_type`.
    pub(crate) fn zmtp_config(&self, socket_type: weirmq_zmtp::SocketType) -> weirmq_zmtp::Config {
        let mut c = weirmq_zmtp::Config::new(socket_type);
        c.routing_id = self.routing_id.clone();
        c.mechanism = match (&self.curve_rotating, &self.mechanism) {
            // The keypair of the moment, for this new connection.
            (Some(keys), Mechanism::CurveServer { .. }) => Mechanism::CurveServer {
                keypair: keys.current(),
            },
            _ => self.mechanism.clone(),
        };
        // Validated when the socket was built.
        c.limits = self.limits().unwrap_or_default();
        c.handshake_timeout = Some(self.handshake_timeout);
        c.heartbeat = self.heartbeat;
        // libzmq 4.3 (mechanism_base.cpp zap_required): a NULL socket with
        // a ZAP domain has each peer judged before its READY.
        c.null_authenticate = !self.zap_domain.is_empty();
        c
    }

    /// Refuses the options of some socket types set on another type, where
    /// libzmq would ignore them or fail with EINVAL.
    pub(crate) fn check_for(&self, socket_type: SocketType) -> Result<(), Error> {
        use SocketType::{Dealer, Pub, Req, Router, Sub, XPub};
        let only: [(&str, bool, &[SocketType]); 8] = [
            ("req_relaxed (ZMQ_REQ_RELAXED)", self.req_relaxed, &[Req]),
            (
                "req_correlate (ZMQ_REQ_CORRELATE)",
                self.req_correlate,
                &[Req],
            ),
            (
                "probe_router (ZMQ_PROBE_ROUTER)",
                self.probe_router,
                &[Dealer, Req, Router],
            ),
            (
                "router_notify (ZMQ_ROUTER_NOTIFY)",
                self.router_notify.any(),
                &[Router],
            ),
            (
                "invert_matching (ZMQ_INVERT_MATCHING)",
                self.invert_matching,
                &[Pub, XPub, Sub],
            ),
            (
                "xpub_welcome (ZMQ_XPUB_WELCOME_MSG)",
                self.xpub_welcome.is_some(),
                &[XPub],
            ),
            (
                "xpub_verbose (ZMQ_XPUB_VERBOSE)",
                self.xpub_verbose,
                &[XPub],
            ),
            ("xpub_manual (ZMQ_XPUB_MANUAL)", self.xpub_manual, &[XPub]),
        ];
        for (name, set, types) in only {
            if set && !types.contains(&socket_type) {
                return Err(Error::InvalidOption(format!(
                    "{name} is for {types:?} sockets, not {socket_type:?}"
                )));
            }
        }
        if self.zap_enforce_domain && self.zap_domain.is_empty() {
            let judged = if matches!(self.mechanism, Mechanism::PlainServer) {
                Some("a PLAIN server")
            } else if self.authenticator.is_some() {
                Some("an authenticator")
            } else {
                None
            };
            if let Some(what) = judged {
                return Err(Error::InvalidOption(format!(
                    "zap_enforce_domain (ZMQ_ZAP_ENFORCE_DOMAIN) with {what} needs a \
                     zap_domain: without one nobody would be judged"
                )));
            }
        }
        if self.xpub_manual && self.conflate {
            // Conflate would replace queued notes, and with them the peer
            // the application is to answer.
            return Err(Error::InvalidOption(
                "xpub_manual (ZMQ_XPUB_MANUAL) does not go with conflate: every \
                 subscription note must reach the application"
                    .into(),
            ));
        }
        Ok(())
    }

    pub(crate) fn limits(&self) -> Result<Limits, Error> {
        if self.max_handshaking == 0 {
            return Err(Error::InvalidOption(
                "max_handshaking must be at least 1".into(),
            ));
        }
        if self.max_connections == 0 {
            return Err(Error::InvalidOption(
                "max_connections must be at least 1".into(),
            ));
        }
        let reserve = self.budget_reserve();
        if self.recv_budget / 2 < reserve {
            return Err(Error::InvalidOption(format!(
                "recv_budget ({} octets) must be at least twice max_message_size ({}) plus \
                 256 KiB ({} octets): a message being finished always has room kept for it, \
                 and as much again goes to the rest",
                self.recv_budget,
                self.max_message_size,
                reserve.saturating_mul(2),
            )));
        }
        let defaults = Limits::default();
        Limits::new(
            self.max_message_size,
            defaults.max_frames(),
            defaults.max_command_size(),
        )
        .map_err(|e| Error::InvalidOption(e.to_string()))
    }
}
