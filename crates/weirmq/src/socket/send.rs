//! Sending, by the strategies the socket types choose from: load balancing
//! (PUSH, DEALER, PAIR, REQ), routing by id (ROUTER, REP's replies) and
//! distribution (PUB, XPUB; XSUB upstream). The decisions are the sans-IO
//! ones of [`crate::pattern`]; here they meet the peers' pipes, and a
//! sender that finds no room waits (backpressure), up to its timeout.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use weirmq_zmtp::Message;

use super::core::Core;
use super::peers::Peer;
use crate::error::{Error, TrySendError};
use crate::monitor::MonitorEvent;
use crate::options::WhenFull;
use crate::pattern::dist::{Taken, distribute};
use crate::pattern::subscriptions::Filter;
use crate::queue::lock;
use crate::queue::pipe::PushError;

impl Core {
    /// Load balancing: the next peer in turn with room takes `msg`;
    /// returns `taker` of that peer (REQ keeps its routing id, to match
    /// the reply).
    pub(crate) fn try_send_lb<T>(
        &self,
        msg: Message,
        taker: impl FnOnce(&Peer) -> T,
    ) -> Result<T, TrySendError> {
        self.limited(msg, |m| self.lb_now(m, taker))
    }

    fn lb_now<T>(&self, msg: Message, taker: impl FnOnce(&Peer) -> T) -> Result<T, TrySendError> {
        let mut msg = self.sendable(msg)?;
        if self.shape.through {
            // REQ: the next peer's connection takes the request at once
            // when it and the peer's queue are idle. Not under the peers'
            // lock: the engine takes that one while it holds the link.
            let next = {
                let mut peers = self.peers();
                let n = peers.list.len();
                peers.lb.take_turn(n).map(|at| peers.list[at].clone())
            };
            if let Some(peer) = next {
                match peer.send_through(msg) {
                    Ok(()) => return Ok(taker(&peer)),
                    Err(m) => msg = m,
                }
            }
        }
        let mut guard = self.peers();
        let peers = &mut *guard;
        let offer = |peer: &std::sync::Arc<Peer>, msg| match peer.out.try_push(msg) {
            Ok(()) => Ok(()),
            Err(PushError::Full(m) | PushError::Closed(m)) => Err(m),
        };
        let at = match peers.lb.offer(&peers.list, msg, offer) {
            Ok(at) => at,
            Err(msg) => return Err(TrySendError::Full(msg)),
        };
        if !self.shape.through {
            return Ok(taker(&peers.list[at]));
        }
        // Not under the peers' lock: the engine takes that one while it
        // holds the link.
        let peer = peers.list[at].clone();
        drop(guard);
        peer.write_through();
        Ok(taker(&peer))
    }

    /// [`Core::try_send_lb`], waiting (up to the send timeout) for a peer
    /// with room.
    pub(crate) fn send_lb<'a, T: 'a>(
        &'a self,
        msg: Message,
        taker: impl Fn(&Peer) -> T + 'a,
    ) -> impl Future<Output = Result<T, Error>> + 'a {
        // Not an `async fn` of its own (nor are the other two senders'):
        // one state machine less for every send to build and move.
        self.wait_for_room(msg, move |core, m| core.try_send_lb(m, &taker))
    }

    /// Sends to the peer with routing id `id`: `Unroutable` if there is
    /// none; when it is full, `Full` under [`WhenFull::Wait`], or a counted
    /// drop under [`WhenFull::Drop`].
    pub(crate) fn try_send_to(&self, id: &[u8], msg: Message) -> Result<(), TrySendError> {
        self.limited(msg, |m| self.to_now(id, m))
    }

    fn to_now(&self, id: &[u8], msg: Message) -> Result<(), TrySendError> {
        let mut msg = self.sendable(msg)?;
        let Some(peer) = self.peers().routes.get(id).cloned() else {
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
    pub(crate) fn send_to(
        &self,
        id: Bytes,
        msg: Message,
    ) -> impl Future<Output = Result<(), Error>> + '_ {
        self.wait_for_room(msg, move |core, m| core.try_send_to(&id, m))
    }

    /// Distribution: offers `msg` to every peer `filter` picks, all or nothing under
    /// [`WhenFull::Wait`], and counting the full ones' drops under
    /// [`WhenFull::Drop`].
    pub(crate) fn try_distribute(&self, msg: Message, filter: Filter) -> Result<(), TrySendError> {
        self.limited(msg, |m| self.distribute_now(m, filter))
    }

    fn distribute_now(&self, msg: Message, filter: Filter) -> Result<(), TrySendError> {
        let msg = self.sendable(msg)?;
        let topic = msg.frames().first().cloned().unwrap_or_default();
        let len = msg.byte_len();
        let peers = self.peers();
        distribute(
            &peers.list,
            msg,
            self.options.when_full,
            |p| filter.wants(&lock(&p.subscriptions), &topic),
            |p| p.out.has_room(len),
            |p, msg| match p.out.try_push(msg) {
                Ok(()) => Taken::Yes,
                Err(PushError::Full(_)) => Taken::Full,
                // The peer is leaving; its engine has stopped reading.
                Err(PushError::Closed(_)) => Taken::Gone,
            },
            |p| self.count_drop(p),
        )
        .map_err(TrySendError::Full)
    }

    /// [`Core::try_distribute`], waiting (up to the send timeout) while a
    /// peer it is for is full under [`WhenFull::Wait`].
    pub(crate) fn distribute(
        &self,
        msg: Message,
        filter: Filter,
    ) -> impl Future<Output = Result<(), Error>> + '_ {
        self.wait_for_room(msg, move |core, m| core.try_distribute(m, filter))
    }

    /// Refuses a message that cannot go: the socket is closed, or it has no
    /// frames (a pipe holds only messages with something to send). The
    /// message comes back with the reason.
    #[inline]
    fn sendable(&self, msg: Message) -> Result<Message, TrySendError> {
        if msg.is_empty() {
            return Err(TrySendError::Empty(msg));
        }
        if self.is_closed() {
            return Err(TrySendError::Closed(msg));
        }
        Ok(msg)
    }

    /// Under [`Options::send_rate`](crate::Options::send_rate): `attempt`
    /// only if the rate lets a message go now (otherwise it is handed back,
    /// `RateLimited`), and its cost taken if it went. Without a rate, just
    /// `attempt`.
    #[inline]
    fn limited<T>(
        &self,
        msg: Message,
        attempt: impl FnOnce(Message) -> Result<T, TrySendError>,
    ) -> Result<T, TrySendError> {
        let Some(rate) = &self.send_rate else {
            return attempt(msg);
        };
        if !lock(rate).wait(Instant::now()).is_zero() {
            return Err(TrySendError::RateLimited(msg));
        }
        let len = msg.byte_len();
        let sent = attempt(msg)?;
        lock(rate).take(len);
        Ok(sent)
    }

    /// How long until the send rate lets a message go.
    fn rate_wait(&self) -> Duration {
        self.send_rate
            .as_ref()
            .map_or(Duration::ZERO, |rate| lock(rate).wait(Instant::now()))
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
            Err(e) => match refusal(e) {
                Ok(m) => m,
                Err(e) => return Err(e),
            },
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
        // Counted however the wait ends (done, timed out, dropped).
        let _blocked = Blocked::since(self);
        let wait = async {
            let mut msg = msg;
            let mut closed = self.life.closed.subscribe();
            let _registered = self.room.register();
            // The alert for a send that has waited too long, once.
            let alarm = async {
                match self.options.send_blocked_alert {
                    Some(after) => tokio::time::sleep(after).await,
                    None => std::future::pending().await,
                }
            };
            tokio::pin!(alarm);
            let mut alerted = false;
            loop {
                let notified = self.room.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                match attempt(self, msg) {
                    Ok(t) => return Ok(t),
                    // Over the rate: room is not what it waits for.
                    Err(TrySendError::RateLimited(m)) => {
                        msg = m;
                        tokio::select! {
                            _ = tokio::time::sleep(self.rate_wait()) => {}
                            _ = closed.wait_for(|c| *c) => return Err(Error::Closed),
                        }
                        continue;
                    }
                    Err(e) => msg = refusal(e)?,
                }
                loop {
                    tokio::select! {
                        _ = &mut notified => break,
                        _ = closed.wait_for(|c| *c) => return Err(Error::Closed),
                        _ = &mut alarm, if !alerted => {
                            alerted = true;
                            let waited = self.options.send_blocked_alert.unwrap_or_default();
                            self.emit(MonitorEvent::SendBlocked { waited });
                        }
                    }
                }
            }
        };
        super::with_timeout(self.options.send_timeout, wait).await
    }
}

/// A send's wait for room, added to the socket's total when it ends.
struct Blocked<'a> {
    core: &'a Core,
    since: Instant,
}

impl<'a> Blocked<'a> {
    fn since(core: &'a Core) -> Blocked<'a> {
        Blocked {
            core,
            since: Instant::now(),
        }
    }
}

impl Drop for Blocked<'_> {
    fn drop(&mut self) {
        let waited = u64::try_from(self.since.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.core
            .send_blocked_ns
            .fetch_add(waited, Ordering::Relaxed);
    }
}

/// What a refused attempt means for a sender that waits: the message back
/// when it is worth waiting (the peers are full), the error otherwise.
fn refusal(e: TrySendError) -> Result<Message, Error> {
    match e {
        TrySendError::Full(m) | TrySendError::RateLimited(m) => Ok(m),
        TrySendError::Closed(_) => Err(Error::Closed),
        TrySendError::Unroutable(_) => Err(Error::Unroutable),
        TrySendError::Empty(_) => Err(Error::EmptyMessage),
        TrySendError::OutOfTurn(_, why) => Err(Error::InvalidState(why)),
    }
}
