//! What `weirmq send` waits for before its first message: `--wait-peers`
//! (peers connected) and `--delay` (a pause).
//!
//! A bound sender otherwise sends the moment it is bound, before any peer
//! could connect: a ROUTER then has no peer with the routing id asked for,
//! a PUB has no subscriber, a PUSH or DEALER queues for whoever connects
//! first (so a second worker gets nothing).

use std::time::Duration;

use clap::Args;
use weirmq::{Error, Socket, SocketType};

/// How often the peer count is looked at.
const POLL: Duration = Duration::from_millis(5);

/// A PUB's pause after its peers connected, when --wait-peers is given and
/// --delay is not.
///
/// A peer counts once its handshake is done, and a subscriber sends its
/// subscriptions only then: they are still on their way, and a PUB drops a
/// message no one has subscribed to. Someone who asked to wait for their
/// subscribers expects them to get the first message, so the wait covers
/// that trip too (on loopback or ipc it takes well under a millisecond; 100
/// ms leaves room for a loaded machine). An explicit --delay replaces it.
const PUB_SETTLE: Duration = Duration::from_millis(100);

/// `send`'s flags for when to start.
#[derive(Args, Debug, Default)]
pub(crate) struct Start {
    /// Before the first send, wait until N peers are connected (handshake
    /// done), up to --timeout if given. For a bound PUB, ROUTER or PUSH.
    #[arg(long, value_name = "N")]
    wait_peers: Option<usize>,
    /// Sleep this many seconds before the first send (after --wait-peers).
    /// A PUB with --wait-peers sleeps 0.1 unless told otherwise, so that
    /// its subscribers' subscriptions, sent after they connect, arrive
    /// before the first message (which a PUB drops for anyone not yet
    /// subscribed).
    #[arg(long, value_name = "SECS", allow_negative_numbers = true)]
    delay: Option<f64>,
}

impl Start {
    /// Refuses a --delay that is not a duration (before anything is
    /// opened).
    pub(crate) fn check(&self) -> Result<(), Error> {
        crate::seconds("--delay", self.delay).map(|_| ())
    }

    /// Waits as asked, `timeout` bounding the wait for peers.
    pub(crate) async fn wait<S: Socket>(
        &self,
        s: &S,
        timeout: Option<Duration>,
    ) -> Result<(), Error> {
        if let Some(n) = self.wait_peers {
            peers(s, n, timeout).await?;
        }
        let settle = match self.wait_peers {
            Some(_) if S::TYPE == SocketType::Pub => Some(PUB_SETTLE),
            _ => None,
        };
        if let Some(pause) = crate::seconds("--delay", self.delay)?.or(settle) {
            tokio::time::sleep(pause).await;
        }
        Ok(())
    }
}

/// Waits until `s` has `n` connected peers, looking every few ms; an error
/// saying how many came if `timeout` passes first.
async fn peers<S: Socket>(s: &S, n: usize, timeout: Option<Duration>) -> Result<(), Error> {
    let start = tokio::time::Instant::now();
    loop {
        let connected = s.stats().peers;
        if connected >= n {
            return Ok(());
        }
        if let Some(limit) = timeout {
            if start.elapsed() >= limit {
                let what = format!("waiting for {n} peers ({connected} connected)");
                return Err(crate::gave_up(what, limit));
            }
        }
        tokio::time::sleep(POLL).await;
    }
}
