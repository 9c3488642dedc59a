//! Listeners and connectors for `tcp://`, `ipc://` and `inproc://`; each
//! connection gets an engine task.
//!
//! `inproc://` runs the same ZMTP over a connected pair of Unix sockets
//! ([`UnixStream::pair`]), so it has the same handshake, limits and
//! backpressure as the other transports. Names live in a process-wide
//! registry; connecting before binding retries until the name is bound.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tokio::sync::{mpsc, watch};

use crate::core::{Core, lock};
use crate::endpoint::Endpoint;
use crate::engine;
use crate::error::Error;
use crate::monitor::MonitorEvent;
use crate::stream::Stream;

/// Inproc connections waiting to be accepted.
const INPROC_BACKLOG: usize = 64;

/// Bound inproc names: where to hand a new connection's server end.
static INPROC: LazyLock<Mutex<HashMap<String, mpsc::Sender<UnixStream>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Per-connection TCP settings: no Nagle delay (ZMTP batches its own
/// writes), and the keepalive the options ask for.
fn tune(stream: &TcpStream, core: &Core) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    if let Some(idle) = core.options.tcp_keepalive {
        let keepalive = socket2::TcpKeepalive::new().with_time(idle);
        socket2::SockRef::from(stream).set_tcp_keepalive(&keepalive)?;
    }
    Ok(())
}

fn io_error(context: String) -> impl FnOnce(std::io::Error) -> Error {
    move |source| Error::Io { context, source }
}

/// Starts the engine of an accepted connection.
fn accepted<S>(core: &Arc<Core>, peer: String, stream: S, stop: &watch::Receiver<bool>)
where
    S: Stream,
{
    core.emit(MonitorEvent::Accepted { peer: peer.clone() });
    // Over the cap, the stream is dropped here: closed at once.
    let Some(ticket) = core.admit(&peer) else {
        return;
    };
    tokio::spawn(engine::run(
        core.clone(),
        peer,
        stream,
        None,
        Some(ticket),
        stop.clone(),
    ));
}

/// Resolves when the socket closes or the endpoint is unbound/disconnected.
async fn stopped(core: &Core, stop: &mut watch::Receiver<bool>) {
    tokio::select! {
        _ = core.closed() => {}
        _ = stop.wait_for(|s| *s) => {}
    }
}

/// Binds and starts accepting; returns the resolved endpoint.
pub(crate) async fn bind(core: &Arc<Core>, endpoint: &str) -> Result<String, Error> {
    let resolved = match Endpoint::parse(endpoint)? {
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
            let resolved = resolved.to_string();
            let core2 = core.clone();
            let mut stop = core.link(resolved.clone());
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        r = listener.accept() => match r {
                            Ok((stream, addr)) => {
                                let _ = tune(&stream, &core2);
                                accepted(&core2, format!("tcp://{addr}"), stream, &stop);
                            }
                            // Out of file descriptors and the like: back off.
                            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                        },
                        _ = stopped(&core2, &mut stop) => return,
                    }
                }
            });
            resolved
        }
        Endpoint::Ipc(path) => {
            // As libzmq does: a stale socket file from an earlier run is replaced.
            let _ = std::fs::remove_file(&path);
            let listener =
                UnixListener::bind(&path).map_err(io_error(format!("bind {endpoint}")))?;
            let name = Endpoint::Ipc(path.clone()).to_string();
            let core2 = core.clone();
            let peer = name.clone();
            let mut stop = core.link(name.clone());
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        r = listener.accept() => match r {
                            Ok((stream, _)) => accepted(&core2, peer.clone(), stream, &stop),
                            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                        },
                        _ = stopped(&core2, &mut stop) => {
                            let _ = std::fs::remove_file(&path);
                            return;
                        }
                    }
                }
            });
            name
        }
        Endpoint::Inproc(name) => {
            let (tx, mut rx) = mpsc::channel(INPROC_BACKLOG);
            {
                let mut names = lock(&INPROC);
                if names.get(&name).is_some_and(|t| !t.is_closed()) {
                    return Err(Error::Io {
                        context: format!("bind {endpoint}"),
                        source: std::io::ErrorKind::AddrInUse.into(),
                    });
                }
                names.insert(name.clone(), tx.clone());
            }
            let resolved = Endpoint::Inproc(name.clone()).to_string();
            let core2 = core.clone();
            let peer = resolved.clone();
            let mut stop = core.link(resolved.clone());
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        r = rx.recv() => match r {
                            Some(stream) => accepted(&core2, peer.clone(), stream, &stop),
                            None => break,
                        },
                        _ = stopped(&core2, &mut stop) => break,
                    }
                }
                // Unregister the name, unless someone has bound it since.
                let mut names = lock(&INPROC);
                if names.get(&name).is_some_and(|t| t.same_channel(&tx)) {
                    names.remove(&name);
                }
            });
            resolved
        }
    };
    core.emit(MonitorEvent::Listening {
        endpoint: resolved.clone(),
    });
    Ok(resolved)
}

/// Whether some socket of this process is bound at `inproc://name`.
pub(crate) fn inproc_bound(name: &str) -> bool {
    lock(&INPROC).get(name).is_some_and(|t| !t.is_closed())
}

/// Opens one connection to `target`.
async fn dial(target: &Endpoint, core: &Core) -> std::io::Result<Connected> {
    match target {
        Endpoint::Tcp { host, port } => {
            let s = TcpStream::connect((host.as_str(), *port)).await?;
            tune(&s, core)?;
            Ok(Connected::Tcp(s))
        }
        Endpoint::Ipc(path) => Ok(Connected::Unix(UnixStream::connect(path).await?)),
        Endpoint::Inproc(name) => {
            let tx = lock(&INPROC).get(name).cloned();
            let tx = tx.ok_or(std::io::ErrorKind::ConnectionRefused)?;
            let (ours, theirs) = UnixStream::pair()?;
            tx.send(theirs)
                .await
                .map_err(|_| std::io::ErrorKind::ConnectionRefused)?;
            Ok(Connected::Unix(ours))
        }
    }
}

/// A connected stream of any transport: inproc's is a Unix socket pair,
/// so it runs as ipc's does.
enum Connected {
    Tcp(TcpStream),
    Unix(UnixStream),
}

/// Socket types that route to a connecting peer by its place in the
/// round-robin, so a peer can be routed before it connects.
fn preattaches(socket_type: weirmq_zmtp::SocketType) -> bool {
    use weirmq_zmtp::SocketType::*;
    matches!(socket_type, Push | Pair | Dealer | Req)
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
    let mut stop = core.link(target.to_string());
    tokio::spawn(async move {
        let base = core.options.reconnect_interval;
        let max = core.options.reconnect_interval_max.max(base);
        let mut delay = base;
        let name = target.to_string();
        // The peer of this endpoint, kept across reconnects with the
        // messages still queued to it.
        let mut kept = (!core.options.immediate && preattaches(core.socket_type))
            .then(|| core.preattach_peer(&name));
        let reconnecting = async {
            loop {
                // Only the dial races the close signal: a running engine
                // handles closing itself, flushing within its linger time.
                let stream = tokio::select! {
                    r = dial(&target, &core) => r,
                    _ = stopped(&core, &mut stop) => return,
                };
                let end = match stream {
                    Ok(stream) => {
                        core.emit(MonitorEvent::Connected {
                            endpoint: name.clone(),
                        });
                        let (c, n, k, st) =
                            (core.clone(), name.clone(), Some(&mut kept), stop.clone());
                        Some(match stream {
                            Connected::Tcp(s) => engine::run(c, n, s, k, None, st).await,
                            Connected::Unix(s) => engine::run(c, n, s, k, None, st).await,
                        })
                    }
                    Err(_) => None,
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
                    _ = stopped(&core, &mut stop) => return,
                }
                delay = (delay * 2).min(max);
            }
        };
        reconnecting.await;
        // Whatever still waits in the kept pipe will never be sent now.
        if let Some(peer) = kept.take() {
            core.remove_peer(&peer, 0);
        }
    });
    Ok(())
}
