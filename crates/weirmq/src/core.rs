//! What every socket has: options, its peers' pipes, its incoming queue, its
//! listeners and connectors, and the signal that closes it all.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use weirmq_zmtp::{Message, SocketType};

use crate::error::{Error, TrySendError};
use crate::options::Options;
use crate::pipe::{Pipe, PushError};

/// One ready peer: the pipe of messages waiting to go to it.
struct Peer {
    out: Pipe,
}

#[derive(Default)]
struct Peers {
    list: Vec<Peer>,
    /// Round-robin position: the peer to try first.
    next: usize,
}

pub(crate) struct Core {
    pub(crate) socket_type: SocketType,
    pub(crate) options: Options,
    /// Signalled when any peer pipe frees room or a peer arrives.
    room: Arc<Notify>,
    peers: Mutex<Peers>,
    /// The socket's incoming queue: engines push, `recv` pops. One queue for
    /// all peers bounds the socket's incoming memory by one HWM.
    pub(crate) inbound: Pipe,
    closed: watch::Sender<bool>,
    /// Bound endpoints, resolved (`tcp://127.0.0.1:40123`).
    pub(crate) endpoints: Mutex<Vec<String>>,
}

impl Core {
    pub(crate) fn new(socket_type: SocketType, options: Options) -> Result<Arc<Core>, Error> {
        // Check the protocol options now, so bind/connect cannot fail later
        // for a reason the caller could have been told at construction.
        options.limits()?;
        let room = Arc::new(Notify::new());
        let inbound = Pipe::new(options.recv_hwm, Arc::new(Notify::new()));
        Ok(Arc::new(Core {
            socket_type,
            options,
            room,
            peers: Mutex::new(Peers::default()),
            inbound,
            closed: watch::channel(false).0,
            endpoints: Mutex::new(Vec::new()),
        }))
    }

    fn peers(&self) -> MutexGuard<'_, Peers> {
        self.peers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a ready peer and returns its outgoing pipe.
    pub(crate) fn add_peer(&self) -> Pipe {
        let out = Pipe::new(self.options.send_hwm, self.room.clone());
        self.peers().list.push(Peer { out: out.clone() });
        self.room.notify_waiters();
        out
    }

    /// Forgets a peer; its pipe is closed.
    pub(crate) fn remove_peer(&self, out: &Pipe) {
        out.close();
        let mut peers = self.peers();
        peers.list.retain(|p| !p.out.same(out));
        if peers.next >= peers.list.len() {
            peers.next = 0;
        }
    }

    /// Round-robin over the ready peers: the first with room takes `msg`.
    pub(crate) fn try_send_round_robin(&self, mut msg: Message) -> Result<(), TrySendError> {
        if self.is_closed() {
            return Err(TrySendError::Closed(msg));
        }
        let mut peers = self.peers();
        let n = peers.list.len();
        for i in 0..n {
            let idx = (peers.next + i) % n;
            match peers.list[idx].out.try_push(msg) {
                Ok(()) => {
                    peers.next = (idx + 1) % n;
                    return Ok(());
                }
                Err(PushError::Full(m) | PushError::Closed(m)) => msg = m,
            }
        }
        Err(TrySendError::Full(msg))
    }

    /// Round-robin send that waits (up to the send timeout) for a peer with
    /// room: backpressure.
    pub(crate) async fn send_round_robin(&self, msg: Message) -> Result<(), Error> {
        if msg.is_empty() {
            return Err(Error::EmptyMessage);
        }
        let wait = async {
            let mut msg = msg;
            let mut closed = self.closed.subscribe();
            loop {
                let notified = self.room.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                match self.try_send_round_robin(msg) {
                    Ok(()) => return Ok(()),
                    Err(TrySendError::Closed(_)) => return Err(Error::Closed),
                    Err(TrySendError::Full(m)) => msg = m,
                }
                tokio::select! {
                    _ = notified => {}
                    _ = closed.wait_for(|c| *c) => return Err(Error::Closed),
                }
            }
        };
        with_timeout(self.options.send_timeout, wait).await
    }

    /// Takes the next incoming message, waiting up to the receive timeout.
    pub(crate) async fn recv(&self) -> Result<Message, Error> {
        let wait = async { self.inbound.pop().await.ok_or(Error::Closed) };
        with_timeout(self.options.recv_timeout, wait).await
    }

    pub(crate) fn try_recv(&self) -> Option<Message> {
        self.inbound.try_pop()
    }

    pub(crate) fn is_closed(&self) -> bool {
        *self.closed.borrow()
    }

    /// Resolves once the socket is closed.
    pub(crate) async fn closed(&self) {
        let mut rx = self.closed.subscribe();
        let _ = rx.wait_for(|c| *c).await;
    }

    /// Closes the socket: listeners and connectors stop, engines flush what
    /// they hold (within the linger time) and end, receivers see `Closed`.
    pub(crate) fn close(&self) {
        self.closed.send_replace(true);
        self.inbound.close();
        self.room.notify_waiters();
    }

    /// Messages queued to peers and not yet handed to a connection.
    pub(crate) fn queued_out(&self) -> (usize, usize) {
        self.peers().list.iter().fold((0, 0), |(m, b), p| {
            let (pm, pb) = p.out.depth();
            (m + pm, b + pb)
        })
    }

    pub(crate) fn peer_count(&self) -> usize {
        self.peers().list.len()
    }
}

async fn with_timeout<T>(
    timeout: Option<Duration>,
    fut: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    match timeout {
        None => fut.await,
        Some(t) => tokio::time::timeout(t, fut)
            .await
            .unwrap_or(Err(Error::Timeout(t))),
    }
}
