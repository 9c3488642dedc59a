//! `inproc://`: within this process. A bound name lives in a process-wide
//! registry; dialling it makes a connected pair of Unix sockets and hands
//! the bound side one end. So inproc runs the same ZMTP, with the same
//! handshake, limits and backpressure as the other transports. Dialling a
//! name nobody has bound fails, and the connector retries until one does.

use std::collections::HashMap;
use std::io;
use std::sync::{LazyLock, Mutex};

use tokio::net::UnixStream;
use tokio::sync::mpsc;

use super::{Listener, Settings, Transport};
use crate::endpoint::Endpoint;
use crate::error::Error;
use crate::queue::lock;

/// Connections waiting to be accepted.
const BACKLOG: usize = 64;

/// Bound names: where to hand a new connection's bound end.
static BOUND: LazyLock<Mutex<HashMap<String, mpsc::Sender<UnixStream>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Whether some socket of this process is bound at `inproc://name`.
pub(crate) fn is_bound(name: &str) -> bool {
    lock(&BOUND).get(name).is_some_and(|t| !t.is_closed())
}

/// The inproc transport.
pub(crate) struct Inproc;

/// A bound inproc name; unregistered when it stops (unless bound again
/// since).
pub(crate) struct InprocAccept {
    name: String,
    endpoint: String,
    rx: mpsc::Receiver<UnixStream>,
    tx: mpsc::Sender<UnixStream>,
}

impl Listener for InprocAccept {
    type Stream = UnixStream;

    async fn accept(&mut self) -> io::Result<(UnixStream, String)> {
        match self.rx.recv().await {
            Some(stream) => Ok((stream, self.endpoint.clone())),
            // Never: this listener holds a sender itself.
            None => Err(io::ErrorKind::NotConnected.into()),
        }
    }
}

impl Drop for InprocAccept {
    fn drop(&mut self) {
        let mut names = lock(&BOUND);
        if names
            .get(&self.name)
            .is_some_and(|t| t.same_channel(&self.tx))
        {
            names.remove(&self.name);
        }
    }
}

impl Transport for Inproc {
    type Stream = UnixStream;
    type Listener = InprocAccept;

    async fn bind(endpoint: &Endpoint, _: Settings) -> Result<(InprocAccept, Endpoint), Error> {
        let Endpoint::Inproc(name) = endpoint else {
            unreachable!("dispatched by scheme");
        };
        let (tx, rx) = mpsc::channel(BACKLOG);
        let mut names = lock(&BOUND);
        if names.get(name).is_some_and(|t| !t.is_closed()) {
            return Err(Error::Io {
                context: format!("bind {endpoint}"),
                source: io::ErrorKind::AddrInUse.into(),
            });
        }
        names.insert(name.clone(), tx.clone());
        let accept = InprocAccept {
            name: name.clone(),
            endpoint: endpoint.to_string(),
            rx,
            tx,
        };
        Ok((accept, endpoint.clone()))
    }

    async fn dial(endpoint: &Endpoint, _: Settings) -> io::Result<UnixStream> {
        let Endpoint::Inproc(name) = endpoint else {
            unreachable!("dispatched by scheme");
        };
        let tx = lock(&BOUND).get(name).cloned();
        let tx = tx.ok_or(io::ErrorKind::ConnectionRefused)?;
        let (ours, theirs) = UnixStream::pair()?;
        tx.send(theirs)
            .await
            .map_err(|_| io::ErrorKind::ConnectionRefused)?;
        Ok(ours)
    }
}
