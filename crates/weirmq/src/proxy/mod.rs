//! Proxies (libzmq's `zmq_proxy` and `zmq_proxy_steerable`): forwarding
//! between two sockets, with an optional capture socket that gets a copy of
//! every message and an optional control socket that steers the proxy
//! (PAUSE, RESUME, TERMINATE, STATISTICS; see [`control`]).
//!
//! Backpressure crosses the proxy: a message is taken from one side only
//! after the other side took the one before, so a slow backend holds the
//! frontend's senders back (through its queues and TCP) instead of
//! growing a queue in the middle. The proxy drops only what a side drops by
//! its own choice (`WhenFull::Drop`, counted in its `Stats`), a reply a
//! ROUTER has no peer for (counted here), and, when it is told to
//! terminate, the message it holds (counted here).

mod control;
mod counters;

use std::sync::Arc;

use tokio::sync::watch;
use weirmq_zmtp::Message;

use crate::api::{RecvSocket, SendSocket, Socket};
use crate::error::{Error, TrySendError};
use control::{Answering, Commands, Listening};
use counters::{Counters, Direction};
pub use counters::{ProxyCounters, ProxyStats, SideStats};

/// Forwards between `frontend` and `backend` in both directions until a
/// side fails (ROUTER↔DEALER for requests and replies, XSUB↔XPUB for
/// messages one way and subscriptions the other). For one direction only
/// (PULL→PUSH, SUB→PUB), a capture socket or a control socket, see
/// [`Proxy`].
pub async fn proxy<F, B>(frontend: &F, backend: &B) -> Result<(), Error>
where
    F: RecvSocket + SendSocket,
    B: RecvSocket + SendSocket,
{
    Proxy::new(frontend, backend).run().await
}

/// What the proxy does: forwarding, paused, or ending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Active,
    Paused,
    Terminated,
}

/// A proxy between a frontend and a backend, with an optional capture and
/// control socket, run with [`Proxy::run`] (both directions) or
/// [`Proxy::run_one_way`].
///
/// Give its sockets no send timeout: a send that times out ends the proxy
/// with [`Error::Timeout`], and the message it held is counted in
/// [`ProxyStats::dropped`]. A receive timeout is harmless (the proxy just
/// receives again).
pub struct Proxy<'a, F, B> {
    frontend: &'a F,
    backend: &'a B,
    capture: Option<&'a (dyn Capture + 'a)>,
    control: Option<Box<dyn Commands + 'a>>,
    counters: Arc<Counters>,
}

impl<'a, F: Socket, B: Socket> Proxy<'a, F, B> {
    /// A proxy between `frontend` and `backend`.
    pub fn new(frontend: &'a F, backend: &'a B) -> Self {
        Proxy {
            frontend,
            backend,
            capture: None,
            control: None,
            counters: Arc::default(),
        }
    }

    /// Sends a copy of every message forwarded, and of every control
    /// command, to `capture` (waiting for it: a slow capture socket slows
    /// the proxy, as in libzmq).
    pub fn capture<C: SendSocket>(mut self, capture: &'a C) -> Self {
        self.capture = Some(capture);
        self
    }

    /// Takes commands from `control`, a socket that can answer (REP, PAIR,
    /// DEALER): `STATISTICS` is answered with libzmq's eight counters. A
    /// REP answers every command (the others with the command itself), so
    /// that its peer can send the next.
    pub fn control<C: RecvSocket + SendSocket>(mut self, control: &'a C) -> Self {
        self.control = Some(Box::new(Answering(control)));
        self
    }

    /// Takes commands from `control`, a socket that only receives (SUB,
    /// PULL): `STATISTICS` has nobody to answer to, and is counted in
    /// [`ProxyStats::bad_commands`].
    pub fn control_listening<C: RecvSocket>(mut self, control: &'a C) -> Self {
        self.control = Some(Box::new(Listening(control)));
        self
    }

    /// The proxy's counters, readable while it runs.
    pub fn counters(&self) -> ProxyCounters {
        ProxyCounters(self.counters.clone())
    }
}

impl<F, B> Proxy<'_, F, B>
where
    F: RecvSocket + SendSocket,
    B: RecvSocket + SendSocket,
{
    /// Forwards in both directions until TERMINATE (then `Ok`) or until a
    /// side fails (its error).
    pub async fn run(self) -> Result<(), Error> {
        let (steer, state) = self.steering();
        let c = &self.counters;
        let forth = pump(&self, self.frontend, self.backend, &c.forth, &state);
        let back = pump(&self, self.backend, self.frontend, &c.back, &state);
        tokio::try_join!(forth, back, steer)?;
        Ok(())
    }
}

impl<F: RecvSocket, B: SendSocket> Proxy<'_, F, B> {
    /// Forwards from the frontend to the backend only (PULL→PUSH,
    /// SUB→PUB), until TERMINATE (then `Ok`) or until a side fails.
    pub async fn run_one_way(self) -> Result<(), Error> {
        let (steer, state) = self.steering();
        let c = &self.counters;
        let forth = pump(&self, self.frontend, self.backend, &c.forth, &state);
        tokio::try_join!(forth, steer)?;
        Ok(())
    }
}

impl<F, B> Proxy<'_, F, B> {
    /// The control loop (or, without a control socket, a future that never
    /// ends) and the state it sets.
    fn steering(
        &self,
    ) -> (
        impl Future<Output = Result<(), Error>> + '_,
        Option<watch::Receiver<State>>,
    ) {
        let (tx, rx) = watch::channel(State::Active);
        let steered = self.control.is_some().then_some(rx);
        let run = async move {
            match &self.control {
                Some(control) => control::steer(&**control, tx, &self.counters, self.capture).await,
                None => std::future::pending().await,
            }
        };
        (run, steered)
    }
}

/// A socket that takes copies: any [`SendSocket`].
trait Capture: Sync {
    fn copy(&self, msg: Message) -> futures_core::future::BoxFuture<'_, Result<(), Error>>;
}

impl<S: SendSocket> Capture for S {
    fn copy(&self, msg: Message) -> futures_core::future::BoxFuture<'_, Result<(), Error>> {
        Box::pin(self.send(msg))
    }
}

/// Forwards from `from` to `to` until the proxy terminates or a side
/// fails.
async fn pump<F: RecvSocket, T: SendSocket, X, Y>(
    proxy: &Proxy<'_, X, Y>,
    from: &F,
    to: &T,
    counted: &Direction,
    state: &Option<watch::Receiver<State>>,
) -> Result<(), Error> {
    let mut state = state.clone();
    loop {
        let Some(got) = receive(from, &mut state).await else {
            return Ok(());
        };
        let msg = match got {
            Ok(msg) => msg,
            Err(Error::Timeout(_)) => continue,
            Err(e) => return Err(e),
        };
        let len = msg.byte_len() as u64;
        if let Some(capture) = proxy.capture {
            capture.copy(msg.clone()).await?;
        }
        match forward(to, msg, &mut state).await {
            Forwarded::Yes => counted.count(len),
            Forwarded::Unroutable => proxy.counters.unroutable(),
            Forwarded::Terminated => {
                proxy.counters.dropped();
                return Ok(());
            }
            Forwarded::Failed(e) => {
                proxy.counters.dropped();
                return Err(e);
            }
        }
    }
}

/// The next message from `from`, taken while the proxy is active; `None`
/// once it terminates.
async fn receive<F: RecvSocket>(
    from: &F,
    state: &mut Option<watch::Receiver<State>>,
) -> Option<Result<Message, Error>> {
    let Some(state) = state else {
        return Some(from.recv().await);
    };
    loop {
        // Paused: nothing is taken, so the senders are held back.
        let now = match state.wait_for(|s| *s != State::Paused).await {
            Ok(now) => *now,
            Err(_) => State::Terminated,
        };
        if now == State::Terminated {
            return None;
        }
        // `recv` is cancel-safe: a pause while it waits takes nothing. The
        // state is looked at first, so that nothing is taken once a pause
        // has been seen.
        tokio::select! {
            biased;
            _ = state.wait_for(|s| *s != State::Active) => {}
            got = from.recv() => return Some(got),
        }
    }
}

enum Forwarded {
    Yes,
    Unroutable,
    Terminated,
    Failed(Error),
}

/// Sends `msg` on `to`, waiting for room (even while paused: the message
/// was taken), unless the proxy terminates first.
async fn forward<T: SendSocket>(
    to: &T,
    msg: Message,
    state: &mut Option<watch::Receiver<State>>,
) -> Forwarded {
    // The common case, room at once, neither copies nor waits.
    let msg = match to.try_send(msg) {
        Ok(()) => return Forwarded::Yes,
        Err(TrySendError::Unroutable(_)) => return Forwarded::Unroutable,
        Err(refused) => refused.into_message(),
    };
    let sent = match state {
        None => to.send(msg).await,
        Some(state) => tokio::select! {
            sent = to.send(msg) => sent,
            _ = state.wait_for(|s| *s == State::Terminated) => return Forwarded::Terminated,
        },
    };
    match sent {
        Ok(()) => Forwarded::Yes,
        Err(Error::Unroutable) => Forwarded::Unroutable,
        Err(e) => Forwarded::Failed(e),
    }
}
