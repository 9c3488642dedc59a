//! REP (RFC 28): receives a request, fair-queued over its peers, then sends
//! the reply to the peer that asked, and only then takes the next request.
//! The request's envelope is kept and put back on the reply; the
//! turn-taking is [`crate::pattern::envelope::Replier`]'s. A reply is
//! written through the connection by the sending task when it is idle,
//! and a REP with one peer reads its requests through it too.

use std::future::Future;
use std::sync::Arc;

use weirmq_zmtp::{Message, SocketType};

use super::{Handle, RecvSocket, SendSocket, Socket, private};
use crate::error::{Error, TrySendError};
use crate::options::Options;
use crate::pattern::envelope::Replier;
use crate::socket::{Routing, Shape};

/// Peers: REQ, DEALER. Out: routed back to the peer that asked, written
/// through, kept across reconnects. In: fair-queued (read through with one
/// peer), the routing id in front.
const SHAPE: Shape = Shape {
    socket_type: SocketType::Rep,
    has_pipe: true,
    receives: true,
    routing_id_in_front: true,
    announced_ids: false,
    subscriber: false,
    keeps_pipe_on_reconnect: true,
    routes_before_connect: false,
    through: true,
    max_peers: None,
};

/// REP: receives a request, then sends the reply to the peer that sent it
/// (RFC 28). Receiving twice, or replying before receiving, is an
/// [`Error::InvalidState`].
#[derive(Debug)]
pub struct Rep {
    handle: Handle,
    /// Where the reply goes; the lock makes each operation whole.
    state: tokio::sync::Mutex<Replier>,
}

impl Default for Rep {
    fn default() -> Self {
        Self::new()
    }
}

impl private::Sealed for Rep {
    fn handle(&self) -> &Handle {
        &self.handle
    }
}

impl Socket for Rep {
    const TYPE: SocketType = SocketType::Rep;

    fn with_options(options: Options) -> Result<Self, Error> {
        let handle = Handle::new(SHAPE, Arc::new(Routing), options)?;
        Ok(Rep {
            handle,
            state: Default::default(),
        })
    }
}

impl SendSocket for Rep {
    /// Sends the reply to the peer of the last request. If that peer has
    /// gone, the reply cannot be delivered: [`Error::Unroutable`], and the
    /// next request may be received. If the send times out (or its future
    /// is dropped), the reply is still owed, as in libzmq's REP after
    /// EAGAIN: send it again; `recv` refuses until then.
    fn send(&self, msg: impl Into<Message>) -> impl Future<Output = Result<(), Error>> + Send {
        let msg = msg.into();
        async move {
            if msg.is_empty() {
                return Err(Error::EmptyMessage);
            }
            let mut state = self.state.lock().await;
            let (to, reply) = state.reply(msg).map_err(|e| Error::InvalidState(e.0))?;
            match self.handle.core().send_to(to, reply).await {
                // As libzmq after EAGAIN: a reply that timed out may be sent
                // again.
                Err(Error::Timeout(t)) => Err(Error::Timeout(t)),
                result => {
                    state.replied();
                    result
                }
            }
        }
    }

    /// Sends the reply without waiting; refused, with the message, before a
    /// request is received ([`TrySendError::OutOfTurn`]). A reply handed
    /// back as `Full` is still owed.
    fn try_send(&self, msg: impl Into<Message>) -> Result<(), TrySendError> {
        let msg = msg.into();
        if msg.is_empty() {
            return Err(TrySendError::Empty(msg));
        }
        // Another operation holds the state: it would have to wait.
        let Ok(mut state) = self.state.try_lock() else {
            return Err(TrySendError::Full(msg));
        };
        let body = msg.len();
        let (to, reply) = state
            .reply(msg)
            .map_err(|e| TrySendError::OutOfTurn(e.1, e.0))?;
        // What is handed back is the message as it came, without the
        // envelope put in front.
        let cut = reply.len() - body;
        let without_envelope = |m: Message| -> Message { m.into_frames().split_off(cut).into() };
        match self.handle.core().try_send_to(&to, reply) {
            Ok(()) => {
                state.replied();
                Ok(())
            }
            Err(TrySendError::Full(m)) => Err(TrySendError::Full(without_envelope(m))),
            Err(e) => {
                // The peer is gone (or the socket closed): the reply cannot
                // go, and the next request may be taken.
                state.replied();
                Err(match e {
                    TrySendError::Closed(m) => TrySendError::Closed(without_envelope(m)),
                    other => TrySendError::Unroutable(without_envelope(other.into_message())),
                })
            }
        }
    }
}

impl RecvSocket for Rep {
    /// Receives the next request; its envelope is kept for the reply.
    async fn recv(&self) -> Result<Message, Error> {
        let mut state = self.state.lock().await;
        state.check_free().map_err(|e| Error::InvalidState(e.0))?;
        loop {
            let msg = self.handle.core().recv().await?;
            if let Some(request) = state.request(msg) {
                return Ok(request);
            }
        }
    }

    /// Receives a request if one is waiting (and no reply is owed).
    fn try_recv(&self) -> Option<Message> {
        let mut state = self.state.try_lock().ok()?;
        state.check_free().ok()?;
        while let Some(msg) = self.handle.core().try_recv() {
            if let Some(request) = state.request(msg) {
                return Some(request);
            }
        }
        None
    }
}
