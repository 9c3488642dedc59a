//! REQ (RFC 28): sends a request to the next peer in turn, then receives
//! that peer's reply, and only then the next request. The envelope (an
//! empty delimiter frame) is added and removed for you; the turn-taking is
//! [`crate::pattern::envelope::Requester`]'s. A request, having nothing to
//! batch with, is written through the connection by the sending task when
//! it is idle, and a REQ with one peer reads its reply through it too.

use std::future::Future;

use weirmq_zmtp::{Message, SocketType};

use super::{Handle, RecvSocket, SendSocket, Socket, private};
use crate::error::{Error, TrySendError};
use crate::options::Options;
use crate::pattern::envelope::Requester;
use crate::socket::Shape;

/// Peers: REP, ROUTER. Out: load balanced, written through, kept across
/// reconnects. In: fair-queued (read through with one peer), the routing
/// id in front to match the reply.
const SHAPE: Shape = Shape {
    socket_type: SocketType::Req,
    has_pipe: true,
    receives: true,
    routing_id_in_front: true,
    announced_ids: false,
    subscriber: false,
    keeps_pipe_on_reconnect: true,
    routes_before_connect: true,
    through: true,
    max_peers: None,
};

/// REQ: sends a request to one peer in turn, then receives that peer's reply
/// (RFC 28). Sending twice, or receiving before sending, is an
/// [`Error::InvalidState`], unless [`Options::req_relaxed`] lets a new
/// request go first; [`Options::req_correlate`] tags each request with an
/// id that its reply must carry.
#[derive(Debug)]
pub struct Req {
    handle: Handle,
    /// Whose reply is awaited; the lock makes each operation whole.
    state: tokio::sync::Mutex<Requester>,
}

impl Default for Req {
    fn default() -> Self {
        Self::new()
    }
}

impl private::Sealed for Req {
    fn handle(&self) -> &Handle {
        &self.handle
    }
}

impl Socket for Req {
    const TYPE: SocketType = SocketType::Req;

    fn with_options(options: Options) -> Result<Self, Error> {
        let state = Requester::new(options.req_relaxed, options.req_correlate, random_u32());
        let handle = Handle::new(SHAPE, super::routing_role(&options), options)?;
        Ok(Req {
            handle,
            state: tokio::sync::Mutex::new(state),
        })
    }
}

impl SendSocket for Req {
    /// Sends a request (an empty delimiter frame is put in front).
    fn send(&self, msg: impl Into<Message>) -> impl Future<Output = Result<(), Error>> + Send {
        let msg = msg.into();
        async move {
            if msg.is_empty() {
                return Err(Error::EmptyMessage);
            }
            let mut state = self.state.lock().await;
            let request = state.request(msg).map_err(|e| Error::InvalidState(e.0))?;
            self.drop_stale_replies();
            let to = self
                .handle
                .core()
                .send_lb(request, |peer| peer.id.clone())
                .await?;
            state.sent(to);
            Ok(())
        }
    }

    /// Sends a request without waiting; refused, with the message, while a
    /// reply is owed ([`TrySendError::OutOfTurn`]).
    fn try_send(&self, msg: impl Into<Message>) -> Result<(), TrySendError> {
        let msg = msg.into();
        if msg.is_empty() {
            return Err(TrySendError::Empty(msg));
        }
        // Another operation holds the state: it would have to wait.
        let Ok(mut state) = self.state.try_lock() else {
            return Err(TrySendError::Full(msg));
        };
        let request = match state.request(msg) {
            Ok(request) => request,
            Err(e) => return Err(TrySendError::OutOfTurn(e.1, e.0)),
        };
        self.drop_stale_replies();
        let to = self
            .handle
            .core()
            .try_send_lb(request, |peer| peer.id.clone())
            .map_err(without_delimiter)?;
        state.sent(to);
        Ok(())
    }
}

impl Req {
    /// A new request begins: what was received and not taken (replies to
    /// an earlier request, under REQ_RELAXED) is discarded, as libzmq's
    /// REQ does.
    fn drop_stale_replies(&self) {
        while self.handle.core().try_recv().is_some() {}
    }
}

/// A random number (the first request id, as libzmq starts from one).
fn random_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    );
    h.finish() as u32
}

/// The message handed back, without the delimiter put in front.
fn without_delimiter(e: TrySendError) -> TrySendError {
    e.map(|mut m| {
        m.pop_front();
        m
    })
}

impl RecvSocket for Req {
    /// Receives the reply to the last request. Replies from other peers, or
    /// without the delimiter, are discarded, as libzmq does. If the receive
    /// times out (or its future is dropped), the request is still pending:
    /// the next `recv` returns its reply, and `send` refuses until then (as
    /// libzmq's REQ without REQ_RELAXED).
    async fn recv(&self) -> Result<Message, Error> {
        let mut state = self.state.lock().await;
        state
            .check_awaiting()
            .map_err(|e| Error::InvalidState(e.0))?;
        loop {
            let msg = self.handle.core().recv().await?;
            if let Some(reply) = state.reply(msg) {
                return Ok(reply);
            }
        }
    }

    /// Receives the reply if it is in (discarding what is not it).
    fn try_recv(&self) -> Option<Message> {
        let mut state = self.state.try_lock().ok()?;
        state.check_awaiting().ok()?;
        while let Some(msg) = self.handle.core().try_recv() {
            if let Some(reply) = state.reply(msg) {
                return Some(reply);
            }
        }
        None
    }
}
