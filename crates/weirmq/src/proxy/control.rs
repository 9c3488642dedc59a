//! Steering a proxy from a control socket, as `zmq_proxy_steerable` does:
//! `PAUSE` stops taking messages (the senders are held back), `RESUME`
//! goes on, `TERMINATE` ends the proxy, `STATISTICS` is answered with
//! eight frames of eight octets (the host's byte order, as libzmq sends
//! them; see [`ProxyStats::libzmq_counters`]). libzmq aborts on any other
//! command; here it is counted and ignored.

use futures_core::future::BoxFuture;
use tokio::sync::watch;
use weirmq_zmtp::{Message, SocketType};

use super::counters::{Counters, ProxyStats};
use super::{Capture, State};
use crate::api::{RecvSocket, SendSocket};
use crate::error::Error;

/// A control socket, as the steering loop uses it.
pub(super) trait Commands: Send + Sync {
    /// The next command.
    fn next(&self) -> BoxFuture<'_, Result<Message, Error>>;

    /// Answers `STATISTICS`; `None` when the socket cannot send.
    fn answer(&self, msg: Message) -> Option<BoxFuture<'_, Result<(), Error>>>;

    /// Whether every command needs an answer (a REP cannot receive the
    /// next one before it has answered).
    fn answers_all(&self) -> bool;
}

/// A control socket that can answer.
pub(super) struct Answering<'a, C>(pub(super) &'a C);

/// A control socket that only receives.
pub(super) struct Listening<'a, C>(pub(super) &'a C);

impl<C: RecvSocket + SendSocket> Commands for Answering<'_, C> {
    fn next(&self) -> BoxFuture<'_, Result<Message, Error>> {
        Box::pin(self.0.recv())
    }

    fn answer(&self, msg: Message) -> Option<BoxFuture<'_, Result<(), Error>>> {
        Some(Box::pin(self.0.send(msg)))
    }

    fn answers_all(&self) -> bool {
        C::TYPE == SocketType::Rep
    }
}

impl<C: RecvSocket> Commands for Listening<'_, C> {
    fn next(&self) -> BoxFuture<'_, Result<Message, Error>> {
        Box::pin(self.0.recv())
    }

    fn answer(&self, _: Message) -> Option<BoxFuture<'_, Result<(), Error>>> {
        None
    }

    fn answers_all(&self) -> bool {
        false
    }
}

/// The STATISTICS answer: libzmq's eight counters, a frame each.
fn statistics(stats: &ProxyStats) -> Message {
    stats
        .libzmq_counters()
        .iter()
        .map(|n| bytes::Bytes::copy_from_slice(&n.to_ne_bytes()))
        .collect()
}

/// Takes commands until TERMINATE, setting the proxy's state.
pub(super) async fn steer(
    control: &dyn Commands,
    state: watch::Sender<State>,
    counters: &Counters,
    capture: Option<&(dyn Capture + '_)>,
) -> Result<(), Error> {
    loop {
        let command = match control.next().await {
            Ok(command) => command,
            Err(Error::Timeout(_)) => continue,
            Err(e) => return Err(e),
        };
        if let Some(capture) = capture {
            capture.copy(command.clone()).await?;
        }
        let word = match command.frames() {
            [word] => &word[..],
            _ => &[][..],
        };
        let terminate = word == b"TERMINATE";
        let answer = match word {
            b"PAUSE" => {
                state.send_replace(State::Paused);
                None
            }
            b"RESUME" => {
                state.send_replace(State::Active);
                None
            }
            b"TERMINATE" => {
                state.send_replace(State::Terminated);
                None
            }
            b"STATISTICS" => Some(statistics(&counters.stats())),
            _ => {
                counters.bad_command();
                None
            }
        };
        let answer = match answer {
            Some(answer) => Some(answer),
            None if control.answers_all() => Some(command),
            None => None,
        };
        if let Some(answer) = answer {
            match control.answer(answer) {
                Some(sending) => sending.await?,
                None => counters.bad_command(),
            }
        }
        if terminate {
            return Ok(());
        }
    }
}
