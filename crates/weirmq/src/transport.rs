//! Listeners and connectors for tcp:// and ipc://; each connection gets an
//! engine task.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};

use crate::core::Core;
use crate::endpoint::Endpoint;
use crate::engine;
use crate::error::Error;
use crate::monitor::MonitorEvent;

fn io_error(context: String) -> impl FnOnce(std::io::Error) -> Error {
    move |source| Error::Io { context, source }
}

/// Binds and starts accepting; returns the resolved endpoint.
pub(crate) async fn bind(core: &Arc<Core>, endpoint: &str) -> Result<String, Error> {
    match Endpoint::parse(endpoint)? {
        Endpoint::Tcp { host, port } => {
            let addr = Endpoint::bind_addr(&host, port);
            let listener = TcpListener::bind(&addr)
                .await
                .map_err(io_error(format!("bind {endpoint}")))?;
            let local = listener
                .local_addr()
                .map_err(io_error(format!("bind {endpoint}")))?;
            let resolved = Endpoint::Tcp {
                host: local.ip().to_string(),
                port: local.port(),
            };
            let core2 = core.clone();
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        r = listener.accept() => match r {
                            Ok((stream, addr)) => {
                                let _ = stream.set_nodelay(true);
                                let peer = format!("tcp://{addr}");
                                core2.emit(MonitorEvent::Accepted { peer: peer.clone() });
                                let ticket = core2.admit();
                                tokio::spawn(engine::run(core2.clone(), peer, stream, None, Some(ticket)));
                            }
                            // Out of file descriptors and the like: back off.
                            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                        },
                        _ = core2.closed() => return,
                    }
                }
            });
            core.emit(MonitorEvent::Listening {
                endpoint: resolved.to_string(),
            });
            Ok(resolved.to_string())
        }
        Endpoint::Ipc(path) => {
            // As libzmq does: a stale socket file from an earlier run is replaced.
            let _ = std::fs::remove_file(&path);
            let listener =
                UnixListener::bind(&path).map_err(io_error(format!("bind {endpoint}")))?;
            let core2 = core.clone();
            let name = Endpoint::Ipc(path.clone()).to_string();
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        r = listener.accept() => match r {
                            Ok((stream, _)) => {
                                core2.emit(MonitorEvent::Accepted { peer: name.clone() });
                                let ticket = core2.admit();
                                tokio::spawn(engine::run(core2.clone(), name.clone(), stream, None, Some(ticket)));
                            }
                            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                        },
                        _ = core2.closed() => return,
                    }
                }
            });
            let resolved = Endpoint::Ipc(path).to_string();
            core.emit(MonitorEvent::Listening {
                endpoint: resolved.clone(),
            });
            Ok(resolved)
        }
    }
}

/// Starts connecting in the background, reconnecting with backoff whenever
/// the connection fails or ends, until the socket closes.
pub(crate) fn connect(core: &Arc<Core>, endpoint: &str) -> Result<(), Error> {
    let target = Endpoint::parse(endpoint)?;
    if let Endpoint::Tcp { port: 0, .. } = target {
        return Err(Error::InvalidEndpoint {
            endpoint: endpoint.to_owned(),
            reason: "a port is required to connect",
        });
    }
    let core = core.clone();
    tokio::spawn(async move {
        let base = core.options.reconnect_interval;
        let max = core.options.reconnect_interval_max.max(base);
        let mut delay = base;
        let name = target.to_string();
        // The peer of this endpoint, kept across reconnects with the
        // messages still queued to it.
        let mut kept = None;
        loop {
            // Only the connect races the close signal: a running engine
            // handles closing itself, flushing within its linger time.
            let end = match &target {
                Endpoint::Tcp { host, port } => {
                    let stream = tokio::select! {
                        r = TcpStream::connect((host.as_str(), *port)) => r,
                        _ = core.closed() => return,
                    };
                    match stream.and_then(|s| s.set_nodelay(true).map(|()| s)) {
                        Ok(s) => {
                            core.emit(MonitorEvent::Connected {
                                endpoint: name.clone(),
                            });
                            Some(
                                engine::run(core.clone(), name.clone(), s, Some(&mut kept), None)
                                    .await,
                            )
                        }
                        Err(_) => None,
                    }
                }
                Endpoint::Ipc(path) => {
                    let stream = tokio::select! {
                        r = UnixStream::connect(path) => r,
                        _ = core.closed() => return,
                    };
                    match stream {
                        Ok(s) => {
                            core.emit(MonitorEvent::Connected {
                                endpoint: name.clone(),
                            });
                            Some(
                                engine::run(core.clone(), name.clone(), s, Some(&mut kept), None)
                                    .await,
                            )
                        }
                        Err(_) => None,
                    }
                }
            };
            match end {
                Some(engine::End::Closed) => return,
                // A connection that got going resets the backoff.
                Some(_) => delay = base,
                None => core.emit(MonitorEvent::ConnectRetried {
                    endpoint: name.clone(),
                    delay,
                }),
            }
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = core.closed() => return,
            }
            delay = (delay * 2).min(max);
        }
    });
    Ok(())
}
