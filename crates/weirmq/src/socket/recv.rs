//! Receiving: the next message, fair-queued over the peers' lanes (see
//! [`crate::queue::inbound`]), waiting up to the receive timeout. A REQ or
//! REP with one peer reads through that peer's connection while it waits
//! ([`Reader`]).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, ready};

use weirmq_zmtp::Message;

use super::core::Core;
use super::link::Through;
use super::peers::Peer;
use crate::error::Error;
use crate::pattern::fq::LaneId;

impl Core {
    /// [`Core::recv`], and the lane of the socket's incoming queue the
    /// message came from (XPUB tells its notes from the rest by it). Not
    /// for a type that reads through its connection (REQ, REP).
    pub(crate) async fn recv_from(&self) -> Result<(Message, LaneId), Error> {
        debug_assert!(!self.shape.through, "read-through messages have no lane");
        if let Some(got) = self.inbound.try_recv_from() {
            return Ok(got);
        }
        let wait = async {
            self.inbound
                .wait_for(|| self.inbound.try_recv_from(), |_| Poll::Pending)
                .await
                .ok_or(Error::Closed)
        };
        Box::pin(super::with_timeout(self.options.recv_timeout, wait)).await
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
            // Read-through bypasses the engine's reads, and with them a
            // per-peer receive rate: with one, the engine reads.
            let got = if self.shape.through && self.options.recv_rate_per_peer.is_none() {
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
        super::with_timeout(self.options.recv_timeout, wait).await
    }

    /// [`Core::try_recv`], and the lane the message came from.
    pub(crate) fn try_recv_from(&self) -> Option<(Message, LaneId)> {
        self.inbound.try_recv_from()
    }

    /// The next message, fair-queued over the peers.
    #[inline]
    pub(crate) fn try_recv(&self) -> Option<Message> {
        self.inbound.try_recv()
    }

    /// REQ and REP: the one peer and its connection, when there is exactly
    /// one peer, and it is connected.
    fn only_link(&self) -> Option<(Arc<Peer>, Arc<dyn Through>)> {
        let peers = self.peers();
        let [peer] = peers.list.as_slice() else {
            return None;
        };
        let link = peer.link()?;
        Some((peer.clone(), link))
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
        core.received_through_bytes
            .fetch_add(msg.byte_len() as u64, Ordering::Relaxed);
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
