//! `ipc://`: a Unix domain socket at a path.

use std::io;
use std::path::PathBuf;

use tokio::net::{UnixListener, UnixStream};

use super::{Listener, Settings, Transport, io_error};
use crate::endpoint::Endpoint;
use crate::error::Error;

/// The ipc transport.
pub(crate) struct Ipc;

/// A bound ipc endpoint; its file is removed when it stops.
pub(crate) struct IpcAccept {
    listener: UnixListener,
    path: PathBuf,
    name: String,
}

impl Listener for IpcAccept {
    type Stream = UnixStream;

    async fn accept(&mut self) -> io::Result<(UnixStream, String)> {
        let (stream, _) = self.listener.accept().await?;
        Ok((stream, self.name.clone()))
    }
}

impl Drop for IpcAccept {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Transport for Ipc {
    type Stream = UnixStream;
    type Listener = IpcAccept;

    async fn bind(endpoint: &Endpoint, _: Settings) -> Result<(IpcAccept, Endpoint), Error> {
        let Endpoint::Ipc(path) = endpoint else {
            unreachable!("dispatched by scheme");
        };
        // As libzmq does: a stale socket file from an earlier run is replaced.
        let _ = std::fs::remove_file(path);
        let listener = UnixListener::bind(path).map_err(io_error(format!("bind {endpoint}")))?;
        let accept = IpcAccept {
            listener,
            path: path.clone(),
            name: endpoint.to_string(),
        };
        Ok((accept, endpoint.clone()))
    }

    async fn dial(endpoint: &Endpoint, _: Settings) -> io::Result<UnixStream> {
        let Endpoint::Ipc(path) = endpoint else {
            unreachable!("dispatched by scheme");
        };
        UnixStream::connect(path).await
    }
}
