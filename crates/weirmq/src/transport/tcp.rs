//! `tcp://`: TCP, with Nagle's delay off (ZMTP batches its own writes) and
//! the keepalive the options ask for.

use std::io;

use tokio::net::{TcpListener, TcpStream};

use super::{Listener, Settings, Transport, io_error};
use crate::endpoint::Endpoint;
use crate::error::Error;

/// The TCP transport.
pub(crate) struct Tcp;

/// A bound TCP endpoint.
pub(crate) struct TcpAccept {
    listener: TcpListener,
    settings: Settings,
}

fn tune(stream: &TcpStream, settings: Settings) -> io::Result<()> {
    stream.set_nodelay(true)?;
    if let Some(idle) = settings.tcp_keepalive {
        let keepalive = socket2::TcpKeepalive::new().with_time(idle);
        socket2::SockRef::from(stream).set_tcp_keepalive(&keepalive)?;
    }
    Ok(())
}

impl Listener for TcpAccept {
    type Stream = TcpStream;

    async fn accept(&mut self) -> io::Result<(TcpStream, String)> {
        let (stream, addr) = self.listener.accept().await?;
        // A setting that fails leaves a working connection.
        let _ = tune(&stream, self.settings);
        Ok((stream, format!("tcp://{addr}")))
    }
}

impl Transport for Tcp {
    type Stream = TcpStream;
    type Listener = TcpAccept;

    async fn bind(endpoint: &Endpoint, settings: Settings) -> Result<(TcpAccept, Endpoint), Error> {
        let Endpoint::Tcp { host, port } = endpoint else {
            unreachable!("dispatched by scheme");
        };
        let context = || format!("bind {endpoint}");
        let listener = TcpListener::bind(Endpoint::bind_addr(host, *port))
            .await
            .map_err(io_error(context()))?;
        let local = listener.local_addr().map_err(io_error(context()))?;
        let bound = Endpoint::Tcp {
            host: local.ip().to_string(),
            port: local.port(),
        };
        Ok((TcpAccept { listener, settings }, bound))
    }

    async fn dial(endpoint: &Endpoint, settings: Settings) -> io::Result<TcpStream> {
        let Endpoint::Tcp { host, port } = endpoint else {
            unreachable!("dispatched by scheme");
        };
        let stream = TcpStream::connect((host.as_str(), *port)).await?;
        tune(&stream, settings)?;
        Ok(stream)
    }
}
