//! What a socket type does with its peers, as the parts every socket has
//! (the engine, the peer registry, the attaching code) need to know it:
//! one description, which each type's file states, instead of checks of
//! the type spread over them.

use weirmq_zmtp::SocketType;

/// A socket type's behaviour towards its peers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shape {
    /// The type announced in the handshake.
    pub(crate) socket_type: SocketType,
    /// Each peer has a pipe of messages queued to it (and so a place among
    /// the routed peers): types that send, and SUB and XSUB, whose pipe
    /// carries their subscriptions.
    pub(crate) has_pipe: bool,
    /// Messages from peers are queued for `recv` (others are ignored).
    pub(crate) receives: bool,
    /// A received message gets the peer's routing id in front (ROUTER shows
    /// it; REQ and REP match replies with it).
    pub(crate) routing_id_in_front: bool,
    /// SUB and XSUB: the pipe carries subscription changes (sent as the
    /// peer's revision wants them), and received messages are filtered by
    /// the socket's own subscriptions.
    pub(crate) subscriber: bool,
    /// A connecting socket keeps a peer's pipe across reconnects (not SUB,
    /// whose pipe holds subscription changes a new connection sends afresh).
    pub(crate) keeps_pipe_on_reconnect: bool,
    /// A connecting peer is routed to before it connects, when
    /// `immediate` is off: types that route by a peer's place in turn.
    pub(crate) routes_before_connect: bool,
    /// Requests and replies are written and read through the connection
    /// by the socket's own task (REQ and REP, whose messages alternate with
    /// the peer's: nothing to batch).
    pub(crate) through: bool,
    /// A peer is routed to by the Identity it announced (ROUTER).
    pub(crate) announced_ids: bool,
    /// Most peers at once; one more is refused (PAIR has one).
    pub(crate) max_peers: Option<usize>,
}
