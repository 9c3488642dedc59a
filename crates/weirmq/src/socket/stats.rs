//! What a socket can tell about itself: queue depths and counters
//! ([`Stats`]), and what is queued to each peer ([`PeerStats`]).

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;

use super::core::Core;
use crate::queue::inbound::LaneStats;
use crate::queue::pressure::Reader;

/// A snapshot of a socket's queues.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Peers that finished their handshake and are connected now (a
    /// peer queued to before it connects, with `immediate` off, is not
    /// one until it does).
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
    /// ones (see [`Options::max_handshaking`](crate::Options::max_handshaking)).
    pub evicted: u64,
    /// Accepted connections closed at once for being over
    /// [`Options::max_connections`](crate::Options::max_connections).
    pub rejected: u64,
    /// Octets of the receive budget ([`Options::recv_budget`](crate::Options::recv_budget)) in use now:
    /// what the socket holds of incoming data beyond each connection's own
    /// read buffer allowance.
    pub recv_budget_used: usize,
    /// The most messages queued to any one peer since the last call of
    /// `stats()` (which starts the next count from now): how close the
    /// queues came to their HWM between two looks.
    pub peak_queued_out_messages: usize,
    /// All the time `send` calls have spent waiting for room.
    pub send_blocked: Duration,
    /// The most messages waiting in any one peer's incoming lane since the
    /// last call of `stats()` (which starts the next count from now): how
    /// close the application came to holding a peer back. (The lane of a
    /// peer that has gone and been read to its end counts no more.)
    pub peak_queued_in_messages: usize,
    /// All the time peers' incoming lanes have spent full, summed over the
    /// lanes (those of peers gone too): while its lane is full, a peer's
    /// connection is read no more, and TCP holds the peer back.
    pub queued_in_time_full: Duration,
    /// Messages handed to the peers' connections so far (all peers ever).
    pub sent: u64,
    /// Payload octets of those.
    pub sent_bytes: u64,
    /// Payload octets of the messages taken by `recv` so far, as the
    /// socket received them (a ROUTER's, REQ's and REP's with the routing
    /// id in front, REQ's and REP's with their envelope).
    pub received_bytes: u64,
    /// Connections whose handshake failed (a bad greeting, a wrong key, a
    /// refusal, a timeout, ...).
    pub handshake_failures: u64,
    /// Of those, the ones the authenticator or ZAP handler refused.
    pub auth_failures: u64,
    /// Connect attempts that failed and were retried.
    pub connect_retries: u64,
}

/// One ready peer: what is queued to it and what it missed, and what it
/// sent that waits in its incoming lane. A socket that only receives (PULL,
/// SUB) lists its peers with the outgoing fields at zero; one that only
/// sends (PUSH, PUB) with the incoming ones at zero.
///
/// The incoming figures are of the peer's connection now (a reconnected
/// peer's start again from zero), and a peer that has gone is listed no
/// more (the socket's [`Stats`] keep what it counted). What REQ and REP
/// read straight from the connection, past the lane, is counted in
/// [`Stats::received`] only.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PeerStats {
    /// The peer's address or the endpoint connected to (inproc and ipc
    /// peers accepted on one endpoint all bear the endpoint's).
    pub peer: String,
    /// The socket's number for the peer, unique among its peers ever:
    /// tells apart peers that bear the same name.
    pub number: u64,
    /// The peer's routing id (announced, or generated: `%x00` + 4 octets);
    /// empty on a socket that keeps none (PULL, SUB).
    pub routing_id: Bytes,
    /// Messages waiting to be handed to its connection.
    pub queued_messages: usize,
    /// Payload octets of those.
    pub queued_bytes: usize,
    /// Messages it missed: dropped under `WhenFull::Drop`, or replaced under
    /// conflate.
    pub dropped: u64,
    /// The most messages queued to it since the last call of
    /// `peer_stats()` (which starts the next count from now).
    pub peak_queued_messages: usize,
    /// All the time its queue has spent full: from a sender finding it
    /// full until it was down to its low-water mark (half the HWM), where
    /// waiting senders are let go.
    pub time_full: Duration,
    /// Messages it sent that wait for `recv`, in its incoming lane.
    pub queued_in_messages: usize,
    /// Payload octets of those.
    pub queued_in_bytes: usize,
    /// The most messages its lane held since the last call of
    /// `peer_stats()`.
    pub peak_queued_in_messages: usize,
    /// All the time its lane has spent full: the peer was read no further
    /// (its TCP window closing) until `recv` took the lane down to half its
    /// HWM, where its connection reads again.
    pub queued_in_time_full: Duration,
    /// Its messages `recv` has handed out.
    pub received: u64,
}

impl PeerStats {
    /// A peer with nothing queued either way, nothing missed.
    pub(crate) fn quiet(peer: String, number: u64) -> PeerStats {
        PeerStats {
            peer,
            number,
            routing_id: Bytes::new(),
            queued_messages: 0,
            queued_bytes: 0,
            dropped: 0,
            peak_queued_messages: 0,
            time_full: Duration::ZERO,
            queued_in_messages: 0,
            queued_in_bytes: 0,
            peak_queued_in_messages: 0,
            queued_in_time_full: Duration::ZERO,
            received: 0,
        }
    }

    /// The figures of its incoming lane.
    pub(crate) fn incoming(&mut self, lane: LaneStats) {
        self.queued_in_messages = lane.messages;
        self.queued_in_bytes = lane.bytes;
        self.peak_queued_in_messages = lane.peak;
        self.queued_in_time_full = lane.time_full;
        self.received = lane.received;
    }
}

impl Core {
    /// Queue depths and counters now.
    pub(crate) fn stats(&self) -> Stats {
        self.stats_as(Reader::Stats)
    }

    /// [`Core::stats`], the peak since `reader` last asked.
    pub(crate) fn stats_as(&self, reader: Reader) -> Stats {
        let (queued_out_messages, queued_out_bytes, peak_queued_out_messages) =
            self.queued_out(reader);
        let ((queued_in_messages, queued_in_bytes), received) = self.inbound.depth();
        let (peak_queued_in_messages, queued_in_time_full) = self.inbound.pressure(reader);
        // Each lock is taken and released on its own line: a guard living to
        // the end of the struct expression would deadlock `dropped()`.
        let dropped = self.dropped();
        let (sent, sent_bytes) = self.sent.get();
        Stats {
            peers: self.connected.load(Ordering::Relaxed),
            queued_out_messages,
            queued_out_bytes,
            queued_in_messages,
            queued_in_bytes,
            received: received + self.received_through.load(Ordering::Relaxed),
            dropped,
            filtered: self.role.filtered(),
            lost: self.lost.load(Ordering::Relaxed),
            evicted: self.admission.evicted.load(Ordering::Relaxed),
            rejected: self.admission.rejected.load(Ordering::Relaxed),
            recv_budget_used: self.budget.used(),
            peak_queued_out_messages,
            send_blocked: Duration::from_nanos(self.send_blocked_ns.load(Ordering::Relaxed)),
            peak_queued_in_messages,
            queued_in_time_full,
            sent,
            sent_bytes,
            received_bytes: self.inbound.received_bytes()
                + self.received_through_bytes.load(Ordering::Relaxed),
            handshake_failures: self.handshake_failures.load(Ordering::Relaxed),
            auth_failures: self.auth_failures.load(Ordering::Relaxed),
            connect_retries: self.connect_retries.load(Ordering::Relaxed),
        }
    }
}
