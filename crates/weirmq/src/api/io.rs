//! [`Io`]: a socket as a futures [`Stream`] of what it receives and a
//! [`Sink`] of what it sends, and the poll-based calls under both
//! ([`Io::poll_recv`], [`Io::poll_send_ready`], [`Io::start_send`]) for
//! hand-written futures, `select!` loops and adapters to other executors.
//!
//! The socket is held in an [`Arc`], so that the receive or send in
//! progress can own what it waits on: the poll-based calls then need no
//! lifetime tying them to a borrow, and an `Io` can be moved into a task.

use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use futures_core::{FusedStream, Stream};
use futures_sink::Sink;
use tokio::task::coop;
use weirmq_zmtp::Message;

use super::{RecvSocket, SendSocket, Socket};
use crate::error::Error;

/// A receive or send in progress, owning its socket.
type Pending<T> = Pin<Box<dyn Future<Output = Result<T, Error>> + Send>>;

/// A socket as a [`Stream`] of the messages it receives (items
/// `Result<Message, Error>`; the stream ends when the socket is closed) and
/// a [`Sink`] of the messages it sends: `StreamExt::next`,
/// `SinkExt::send`, `forward` and `split` work on it.
///
/// The socket's own methods (`subscribe`, `stats`, …) are reached through
/// `Deref`. The socket's timeouts hold: a receive that times out is an
/// item `Err(Error::Timeout)`, and the stream goes on.
///
/// Nothing is lost when a future is dropped half-way. A receive takes a
/// message only when it completes. A message handed to the sink
/// (`start_send`, or the first half of `SinkExt::send`) belongs to the
/// socket: if its send has to wait, the wait goes on at the next
/// `poll_send_ready`, `poll_flush` or `start_send`, and if the `Io` is
/// dropped first, in a task of its own (up to the send timeout), as
/// libzmq's sockets keep what `zmq_send` took.
///
/// ```no_run
/// use futures::{SinkExt, StreamExt};
/// use weirmq::prelude::*;
/// use weirmq::{Io, Pull, Push};
///
/// # async fn run() -> Result<(), weirmq::Error> {
/// let mut pull = Io::new(Pull::new());
/// let port = pull.bind("tcp://127.0.0.1:*").await?;
/// let mut push = Io::new(Push::new());
/// push.connect(&port).await?;
/// push.send("hello").await?;
/// let msg = pull.next().await.expect("the socket is open")?;
/// assert_eq!(msg.frames()[0], "hello");
/// # Ok(())
/// # }
/// ```
pub struct Io<S> {
    socket: Arc<S>,
    /// The receive waiting for a message, if one had to wait.
    recv: Option<Pending<Message>>,
    /// The send of the message `start_send` took, if it had to wait.
    send: Option<Pending<()>>,
    /// The socket was closed: the stream has ended.
    ended: bool,
}

impl<S: Socket> Io<S> {
    /// The socket as a stream and a sink.
    pub fn new(socket: S) -> Self {
        Self::from(Arc::new(socket))
    }

    /// The socket, shared.
    pub fn socket(&self) -> &Arc<S> {
        &self.socket
    }

    /// Waits until the message the sink took last is queued, then closes
    /// the socket as [`Socket::close`] does, if this was its last holder
    /// (otherwise the socket stays open for the others). Returns the error
    /// of that last send, if it failed.
    pub async fn close(mut self) -> Result<(), Error> {
        let sent = match self.send.take() {
            Some(waiting) => waiting.await,
            None => Ok(()),
        };
        self.recv = None;
        let socket = self.socket.clone();
        drop(self);
        if let Ok(socket) = Arc::try_unwrap(socket) {
            socket.close().await;
        }
        sent
    }
}

impl<S: Socket> From<Arc<S>> for Io<S> {
    /// A shared socket as a stream and a sink (the socket's other holders
    /// can go on using it).
    fn from(socket: Arc<S>) -> Self {
        Io {
            socket,
            recv: None,
            send: None,
            ended: false,
        }
    }
}

impl<S> Deref for Io<S> {
    type Target = S;

    fn deref(&self) -> &S {
        &self.socket
    }
}

impl<S: RecvSocket> Io<S> {
    /// Polls for the next message: `Ready(Ok)` once one is taken,
    /// `Ready(Err)` when the receive fails (`Error::Closed` once the socket
    /// is closed, `Error::Timeout` after the receive timeout), `Pending`
    /// while none is waiting: the task is woken when one arrives. Only the
    /// task that polled last is woken.
    ///
    /// Takes a unit of tokio's cooperative budget per message, so that a
    /// loop over a busy socket lets the task's neighbours run.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<Message, Error>> {
        let budget = ready!(coop::poll_proceed(cx));
        let got = match &mut self.recv {
            Some(waiting) => {
                let got = ready!(waiting.as_mut().poll(cx));
                self.recv = None;
                got
            }
            // The common case, a message waiting, builds no future.
            None => match self.socket.try_recv() {
                Some(msg) => Ok(msg),
                None => {
                    let socket = self.socket.clone();
                    let waiting = self
                        .recv
                        .insert(Box::pin(async move { socket.recv().await }));
                    let got = ready!(waiting.as_mut().poll(cx));
                    self.recv = None;
                    got
                }
            },
        };
        budget.made_progress();
        Poll::Ready(got)
    }
}

impl<S: SendSocket> Io<S> {
    /// Polls until the socket can take a message through
    /// [`Io::start_send`]: at once when the last message went into its
    /// peer's queue, otherwise once its send, still waiting for room, is
    /// done. `Ready(Err)` is that send's error (the message was not
    /// queued, as when `send` fails).
    pub fn poll_send_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let Some(waiting) = &mut self.send else {
            return Poll::Ready(Ok(()));
        };
        let sent = ready!(waiting.as_mut().poll(cx));
        self.send = None;
        Poll::Ready(sent)
    }

    /// Hands a message to the socket, as [`SendSocket::send`] routes it.
    /// Call [`Io::poll_send_ready`] first: while the last message still
    /// waits for room, this one is refused with `Error::InvalidState`.
    /// When the message cannot be queued at once, its send waits for room
    /// at the next `poll_send_ready`.
    pub fn start_send(&mut self, msg: impl Into<Message>) -> Result<(), Error> {
        if self.send.is_some() {
            return Err(Error::InvalidState(
                "the last message still waits for room: poll_send_ready first",
            ));
        }
        // The common case, room in a peer's queue, builds no future.
        let Err(refused) = self.socket.try_send(msg.into()) else {
            return Ok(());
        };
        // Whatever the reason (full, closed, unroutable, …), the message
        // takes the path of `send`, which waits or gives its own error.
        let msg = refused.into_message();
        let socket = self.socket.clone();
        self.send = Some(Box::pin(async move { socket.send(msg).await }));
        Ok(())
    }
}

impl<S: RecvSocket> Stream for Io<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        match ready!(this.poll_recv(cx)) {
            Err(Error::Closed) => {
                this.ended = true;
                Poll::Ready(None)
            }
            got => Poll::Ready(Some(got)),
        }
    }
}

impl<S: RecvSocket> FusedStream for Io<S> {
    fn is_terminated(&self) -> bool {
        self.ended
    }
}

impl<S: SendSocket, M: Into<Message>> Sink<M> for Io<S> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_send_ready(cx)
    }

    fn start_send(self: Pin<&mut Self>, msg: M) -> Result<(), Error> {
        self.get_mut().start_send(msg)
    }

    /// Done once the last message is in its peer's queue (the connection
    /// writes it in the background, as `send` leaves it).
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_send_ready(cx)
    }

    /// Flushes; the socket stays open (others may share it), and closes
    /// when its last holder drops it.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_send_ready(cx)
    }
}

impl<S> Drop for Io<S> {
    fn drop(&mut self) {
        // A message the sink took is the socket's: its wait for room goes
        // on (bounded by the send timeout). Outside a runtime there is
        // nothing to go on in, and no connection to send it on either.
        if let Some(waiting) = self.send.take() {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(waiting);
            }
        }
    }
}

impl<S: std::fmt::Debug> std::fmt::Debug for Io<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Io")
            .field("socket", &self.socket)
            .field("receiving", &self.recv.is_some())
            .field("sending", &self.send.is_some())
            .field("ended", &self.ended)
            .finish()
    }
}
