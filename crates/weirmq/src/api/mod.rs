//! The socket types built so far: PUSH, PULL, PAIR, DEALER, PUB, SUB,
//! ROUTER, REQ and REP.
//!
//! Each type has exactly the operations it supports: there is no `recv` on a
//! [`Push`], and calling one does not compile.

use std::sync::Arc;

use bytes::Bytes;
use weirmq_zmtp::{Message, SocketType};

use crate::error::{Error, TrySendError};
use crate::options::Options;
use crate::socket::{Core, Shape};

mod attach;
mod zap;

pub use zap::{ZAP_ENDPOINT, zap_handler_bound};

/// A socket's core, of `socket_type`.
fn core(socket_type: SocketType, options: Options) -> Result<Arc<Core>, Error> {
    Core::new(Shape::of(socket_type), options, zap::client())
}

/// A snapshot of a socket's queues.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Peers that finished their handshake and are connected now.
    pub peers: usize,
    /// Messages queued to peers, not yet handed to a connection.
    pub queued_out_messages: usize,
    /// Payload octets of those.
    pub queued_out_bytes: usize,
    /// Messages received and not yet taken by `recv`.
    pub queued_in_messages: usize,
    /// Payload octets of those.
    pub queued_in_bytes: usize,
    /// Messages taken by `recv` so far.
    pub received: u64,
    /// Messages dropped for a full peer, chosen with
    /// [`WhenFull::Drop`](crate::WhenFull::Drop); always 0 otherwise.
    pub dropped: u64,
    /// SUB: messages received that matched no subscription.
    pub filtered: u64,
    /// Messages that will never arrive because a connection ended: when a
    /// peer that had connected to us left (or the socket closed before they
    /// could be written), those still queued to the peer and those encoded
    /// for it but not wholly written; on any connection, a message received
    /// that was waiting for room, and a message the peer got only part of.
    /// A connecting socket keeps its queue across reconnects instead, with
    /// the messages its peer got nothing of put back in front, in order.
    /// Each loss is also a [`MonitorEvent::MessagesLost`](crate::MonitorEvent::MessagesLost).
    pub lost: u64,
    /// Accepted connections closed in their handshake to make room for newer
    /// ones (see [`Options::max_handshaking`]).
    pub evicted: u64,
    /// Accepted connections closed at once for being over
    /// [`Options::max_connections`].
    pub rejected: u64,
    /// Octets of the receive budget ([`Options::recv_budget`]) in use now:
    /// what the socket holds of incoming data beyond each connection's own
    /// read buffer allowance.
    pub recv_budget_used: usize,
}

/// What is queued to one ready peer, and what it missed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PeerStats {
    /// The peer's address or the endpoint connected to.
    pub peer: String,
    /// The peer's routing id (announced, or generated: `%x00` + 4 octets).
    pub routing_id: Bytes,
    /// Messages waiting to be handed to its connection.
    pub queued_messages: usize,
    /// Payload octets of those.
    pub queued_bytes: usize,
    /// Messages it missed: dropped under `WhenFull::Drop`, or replaced under
    /// conflate.
    pub dropped: u64,
}

macro_rules! socket_common_rest {
    ($name:ident) => {
        impl $name {
            /// Binds to an endpoint (`tcp://127.0.0.1:*`, `ipc:///path`) and
            /// accepts peers on it. Returns the endpoint actually bound, with
            /// a wildcard port resolved.
            pub async fn bind(&self, endpoint: &str) -> Result<String, Error> {
                let resolved = attach::bind(&self.core, endpoint).await?;
                crate::socket::lock(&self.core.endpoints).push(resolved.clone());
                Ok(resolved)
            }

            /// Connects to an endpoint in the background, reconnecting with
            /// backoff whenever the connection is lost; messages queued to
            /// the peer wait for the reconnect.
            pub async fn connect(&self, endpoint: &str) -> Result<(), Error> {
                attach::connect(&self.core, endpoint)
            }

            /// Stops accepting on an endpoint `bind` returned, and ends the
            /// connections accepted there (each flushes within the linger).
            pub fn unbind(&self, endpoint: &str) -> Result<(), Error> {
                let key = crate::Endpoint::parse(endpoint)?.to_string();
                if !self.core.unlink(&key) {
                    return Err(Error::InvalidEndpoint {
                        endpoint: endpoint.to_owned(),
                        reason: "not bound (use the endpoint bind returned)",
                    });
                }
                crate::socket::lock(&self.core.endpoints).retain(|e| *e != key);
                Ok(())
            }

            /// Stops connecting to an endpoint and ends its connection.
            pub fn disconnect(&self, endpoint: &str) -> Result<(), Error> {
                let key = crate::Endpoint::parse(endpoint)?.to_string();
                if !self.core.unlink(&key) {
                    return Err(Error::InvalidEndpoint {
                        endpoint: endpoint.to_owned(),
                        reason: "not connected",
                    });
                }
                Ok(())
            }

            /// The endpoint of the most recent successful `bind`.
            pub fn last_endpoint(&self) -> Option<String> {
                crate::socket::lock(&self.core.endpoints).last().cloned()
            }

            /// Queue depths and counters now.
            pub fn stats(&self) -> Stats {
                self.core.stats()
            }

            /// Per ready peer: queue depth and what it missed.
            pub fn peer_stats(&self) -> Vec<PeerStats> {
                self.core.peer_stats()
            }

            /// Starts delivering this socket's [`MonitorEvent`](crate::MonitorEvent)s
            /// (a second call replaces the first monitor). Events a slow
            /// reader has no room for are counted, not queued.
            pub fn monitor(&self) -> crate::Monitor {
                self.core.monitor()
            }

            /// Closes the socket and waits (up to the linger time) until what is
            /// queued to its peers has been written and its connections have
            /// ended. Dropping the socket closes it without waiting.
            pub async fn close(self) {
                self.core.close_and_flush(self.core.options.linger).await;
            }
        }

        impl Default for $name {
            fn default() -> Self {
                $name::new()
            }
        }

        impl Drop for $name {
            /// Closes the socket: connections flush what is queued for up to
            /// the linger time, then end.
            fn drop(&mut self) {
                self.core.close();
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("stats", &self.stats())
                    .finish()
            }
        }
    };
}

macro_rules! socket_common {
    ($name:ident, $ty:expr) => {
        impl $name {
            /// A socket with default [`Options`].
            pub fn new() -> $name {
                $name::with_options(Options::default()).expect("default options are valid")
            }

            /// A socket with the given options; refuses options that cannot work.
            pub fn with_options(options: Options) -> Result<$name, Error> {
                Ok($name {
                    core: core($ty, options)?,
                })
            }
        }
        socket_common_rest!($name);
    };
}

macro_rules! socket_send {
    ($name:ident) => {
        impl $name {
            /// Sends a message to the next peer in turn that has room,
            /// waiting while every peer's queue is full (backpressure), up to
            /// the send timeout.
            ///
            /// All or nothing: if the future is dropped before it completes
            /// (in a `select!`, say), the message was not queued.
            pub async fn send(&self, msg: impl Into<Message>) -> Result<(), Error> {
                self.core.send_round_robin(msg.into()).await
            }

            /// Sends without waiting: a full queue hands the message back.
            pub fn try_send(&self, msg: impl Into<Message>) -> Result<(), TrySendError> {
                self.core.try_send_round_robin(msg.into())
            }
        }
    };
}

macro_rules! socket_publish {
    ($name:ident) => {
        impl $name {
            /// Publishes a message to every peer subscribed to a prefix of
            /// its first frame, waiting (up to the send timeout) while such a
            /// peer is full under [`WhenFull::Wait`](crate::WhenFull::Wait).
            pub async fn send(&self, msg: impl Into<Message>) -> Result<(), Error> {
                self.core.broadcast(msg.into()).await
            }

            /// Publishes without waiting: under `Wait`, a full subscriber
            /// hands the message back and nobody gets it; under `Drop`, the
            /// full ones miss it (counted).
            pub fn try_send(&self, msg: impl Into<Message>) -> Result<(), TrySendError> {
                self.core.try_broadcast(msg.into())
            }
        }
    };
}

macro_rules! socket_recv {
    ($name:ident) => {
        impl $name {
            /// Receives the next message, waiting up to the receive timeout.
            ///
            /// Cancel-safe: a message is taken only when the future
            /// completes, so dropping it (in a `select!`, say) loses none.
            pub async fn recv(&self) -> Result<Message, Error> {
                self.core.recv().await
            }

            /// Receives a message if one is waiting.
            pub fn try_recv(&self) -> Option<Message> {
                self.core.try_recv()
            }
        }
    };
}

/// PUSH: sends to PULL peers in turn (RFC 30). Waits when every peer is full.
pub struct Push {
    core: Arc<Core>,
}
socket_common!(Push, SocketType::Push);
socket_send!(Push);

/// PULL: receives from PUSH peers (RFC 30).
pub struct Pull {
    core: Arc<Core>,
}
socket_common!(Pull, SocketType::Pull);
socket_recv!(Pull);

/// PAIR: sends to and receives from one PAIR peer (RFC 31).
pub struct Pair {
    core: Arc<Core>,
}
socket_common!(Pair, SocketType::Pair);
socket_send!(Pair);
socket_recv!(Pair);

/// DEALER: sends to peers in turn, receives from all (RFC 28).
pub struct Dealer {
    core: Arc<Core>,
}
socket_common!(Dealer, SocketType::Dealer);
socket_send!(Dealer);
socket_recv!(Dealer);

/// PUB: sends each message to every SUB subscribed to a prefix of its first
/// frame (RFC 29). A full subscriber makes the sender wait, or misses the
/// message and is counted, as [`Options::when_full`] chooses.
pub struct Pub {
    core: Arc<Core>,
}
socket_common!(Pub, SocketType::Pub);

socket_publish!(Pub);

/// SUB: receives the messages of PUB peers whose first frame starts with one
/// of its subscriptions (RFC 29). Subscribes to nothing at first.
pub struct Sub {
    core: Arc<Core>,
}
socket_common!(Sub, SocketType::Sub);
socket_recv!(Sub);

impl Sub {
    /// Subscribes to messages whose first frame starts with `topic` (the
    /// empty topic matches everything). Counted: subscribing twice needs two
    /// `unsubscribe`s.
    pub fn subscribe(&self, topic: impl AsRef<[u8]>) -> Result<(), Error> {
        self.core.subscribe(topic.as_ref(), true)
    }

    /// Cancels one subscription to `topic`.
    pub fn unsubscribe(&self, topic: impl AsRef<[u8]>) -> Result<(), Error> {
        self.core.subscribe(topic.as_ref(), false)
    }
}

/// ROUTER: receives from all peers with the sender's routing id as the first
/// frame, and sends to the peer a message's first frame names (RFC 28).
///
/// A peer's routing id is the Identity it announced, or a generated 5-octet
/// id starting with a zero octet. A message to an id nobody has is refused
/// with [`Error::Unroutable`] (libzmq drops it silently unless
/// ROUTER_MANDATORY); a full peer makes the sender wait, or drops and counts
/// under [`WhenFull::Drop`](crate::WhenFull::Drop).
pub struct Router {
    core: Arc<Core>,
}
socket_common!(Router, SocketType::Router);
socket_recv!(Router);

fn split_routing_id(mut msg: Message) -> Result<(Bytes, Message), Error> {
    if msg.len() < 2 {
        return Err(Error::InvalidMessage(
            "a ROUTER message needs a routing id frame and at least one more frame",
        ));
    }
    let id = msg.pop_front().expect("two frames or more");
    Ok((id, msg))
}

impl Router {
    /// Sends `msg[1..]` to the peer whose routing id is `msg[0]`.
    pub async fn send(&self, msg: impl Into<Message>) -> Result<(), Error> {
        let (id, msg) = split_routing_id(msg.into())?;
        self.core.send_to(id, msg).await
    }

    /// Sends without waiting; a full peer hands the message back.
    pub fn try_send(&self, msg: impl Into<Message>) -> Result<(), TrySendError> {
        let msg = msg.into();
        if msg.len() < 2 {
            return Err(TrySendError::Unroutable(msg));
        }
        let (id, rest) = split_routing_id(msg).expect("checked");
        self.core.try_send_to(&id, rest).map_err(|e| {
            // Hand back the whole message, routing id included.
            let restore = |mut m: Message| {
                m.push_front(id.clone());
                m
            };
            match e {
                TrySendError::Full(m) => TrySendError::Full(restore(m)),
                TrySendError::Closed(m) => TrySendError::Closed(restore(m)),
                TrySendError::Unroutable(m) => TrySendError::Unroutable(restore(m)),
            }
        })
    }
}

/// REQ: sends a request to one peer in turn, then receives that peer's reply
/// (RFC 28). The envelope (an empty delimiter frame) is added and removed for
/// you; sending twice, or receiving before sending, is an
/// [`Error::InvalidState`].
pub struct Req {
    core: Arc<Core>,
    /// The peer whose reply we await.
    awaiting: tokio::sync::Mutex<Option<Bytes>>,
}

/// REP: receives a request, then sends the reply to the peer that sent it
/// (RFC 28). The request's envelope is kept and put back on the reply.
pub struct Rep {
    core: Arc<Core>,
    /// Where the reply goes: the peer and the envelope of the request.
    pending: tokio::sync::Mutex<Option<(Bytes, Vec<Bytes>)>>,
}

macro_rules! socket_common_stateful {
    ($name:ident, $ty:expr, $field:ident) => {
        impl $name {
            /// A socket with default [`Options`].
            pub fn new() -> $name {
                $name::with_options(Options::default()).expect("default options are valid")
            }

            /// A socket with the given options; refuses options that cannot work.
            pub fn with_options(options: Options) -> Result<$name, Error> {
                Ok($name {
                    core: core($ty, options)?,
                    $field: Default::default(),
                })
            }
        }
    };
}

socket_common_stateful!(Req, SocketType::Req, awaiting);
socket_common_rest!(Req);
socket_common_stateful!(Rep, SocketType::Rep, pending);
socket_common_rest!(Rep);

impl Req {
    /// Sends a request (an empty delimiter frame is put in front).
    pub async fn send(&self, msg: impl Into<Message>) -> Result<(), Error> {
        let mut msg = msg.into();
        if msg.is_empty() {
            return Err(Error::EmptyMessage);
        }
        let mut awaiting = self.awaiting.lock().await;
        if awaiting.is_some() {
            return Err(Error::InvalidState(
                "REQ: receive the reply before sending again",
            ));
        }
        msg.push_front(Bytes::new());
        *awaiting = Some(self.core.send_round_robin_to(msg).await?);
        Ok(())
    }

    /// Receives the reply to the last request. Replies from other peers, or
    /// without the delimiter, are discarded, as libzmq does. If the receive
    /// times out (or its future is dropped), the request is still pending:
    /// the next `recv` returns its reply, and `send` refuses until then (as
    /// libzmq's REQ without REQ_RELAXED).
    pub async fn recv(&self) -> Result<Message, Error> {
        let mut awaiting = self.awaiting.lock().await;
        let Some(peer) = awaiting.clone() else {
            return Err(Error::InvalidState("REQ: send a request before receiving"));
        };
        loop {
            let mut msg = self.core.recv().await?;
            let from = msg.pop_front();
            if from.as_ref() != Some(&peer) {
                continue;
            }
            if msg.pop_front().is_some_and(|d| d.is_empty()) && !msg.is_empty() {
                *awaiting = None;
                return Ok(msg);
            }
        }
    }
}

impl Rep {
    /// Receives the next request; its envelope is kept for the reply.
    pub async fn recv(&self) -> Result<Message, Error> {
        let mut pending = self.pending.lock().await;
        if pending.is_some() {
            return Err(Error::InvalidState(
                "REP: send the reply before receiving again",
            ));
        }
        loop {
            let mut msg = self.core.recv().await?;
            let Some(peer) = msg.pop_front() else {
                continue;
            };
            let mut frames = msg.into_frames().into_iter();
            let mut envelope = Vec::new();
            let mut delimited = false;
            for frame in frames.by_ref() {
                let last = frame.is_empty();
                envelope.push(frame);
                if last {
                    delimited = true;
                    break;
                }
            }
            let body: Message = frames.collect();
            // A request without a delimiter, or without a body, is malformed:
            // libzmq's REP drops it too.
            if !delimited || body.is_empty() {
                continue;
            }
            *pending = Some((peer, envelope));
            return Ok(body);
        }
    }

    /// Sends the reply to the peer of the last request. If that peer has
    /// gone, the reply cannot be delivered: [`Error::Unroutable`], and the
    /// next request may be received. If the send times out (or its future
    /// is dropped), the reply is still owed, as in libzmq's REP after
    /// EAGAIN: send it again; `recv` refuses until then.
    pub async fn send(&self, msg: impl Into<Message>) -> Result<(), Error> {
        let mut msg = msg.into();
        if msg.is_empty() {
            return Err(Error::EmptyMessage);
        }
        let mut pending = self.pending.lock().await;
        let Some((peer, envelope)) = pending.clone() else {
            return Err(Error::InvalidState(
                "REP: receive a request before replying",
            ));
        };
        for frame in envelope.into_iter().rev() {
            msg.push_front(frame);
        }
        match self.core.send_to(peer, msg).await {
            // As libzmq after EAGAIN: a reply that timed out may be sent again.
            Err(Error::Timeout(t)) => Err(Error::Timeout(t)),
            result => {
                *pending = None;
                result
            }
        }
    }
}

/// XPUB: a PUB that also hands the application its peers' subscriptions as
/// messages (`%x01` and the topic when a topic gains its first subscriber,
/// `%x00` and the topic when it loses its last; RFC 29, libzmq's XPUB), and
/// the other messages subscribers send upstream. For proxies.
pub struct XPub {
    core: Arc<Core>,
}
socket_common!(XPub, SocketType::XPub);
socket_recv!(XPub);

socket_publish!(XPub);

/// XSUB: a SUB whose subscriptions are messages the application sends:
/// `%x01` + topic subscribes, `%x00` + topic cancels (RFC 29). For proxies.
pub struct XSub {
    core: Arc<Core>,
}
socket_common!(XSub, SocketType::XSub);
socket_recv!(XSub);

impl XSub {
    /// Sends a subscription message (`%x01` + topic) or a cancel (`%x00` +
    /// topic) to every publisher; any other message goes to every publisher
    /// as data (libzmq's XSUB does the same).
    pub async fn send(&self, msg: impl Into<Message>) -> Result<(), Error> {
        let msg = msg.into();
        match msg.frames() {
            [frame] if frame.first() == Some(&1) => self.core.subscribe(&frame[1..], true),
            [frame] if frame.first() == Some(&0) => self.core.subscribe(&frame[1..], false),
            // Anything else goes upstream to every publisher, as in libzmq.
            _ if msg.is_empty() => Err(Error::EmptyMessage),
            _ => self.core.send_upstream(msg).await,
        }
    }
}
