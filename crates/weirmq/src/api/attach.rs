//! Binding and connecting a socket: an accept loop per bound endpoint, a
//! reconnecting dialer per connected one, each connection run by an engine
//! task. Written once over [`Transport`]: the scheme only picks the
//! transport.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::watch;
use tracing::Instrument;

use crate::endpoint::Endpoint;
use crate::engine;
use crate::error::Error;
use crate::monitor::MonitorEvent;
use crate::socket::Core;
use crate::transport::{Listener, Settings, Transport, WithTransport, with_transport};

fn settings(core: &Core) -> Settings {
    Settings {
        tcp_keepalive: core.options.tcp_keepalive,
    }
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
    struct Bind<'a>(&'a Arc<Core>, Endpoint);
    impl WithTransport for Bind<'_> {
        type Output = std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<String, Error>> + Send + 'static>,
        >;
        fn run<T: Transport>(self) -> Self::Output {
            Box::pin(serve::<T>(self.0.clone(), self.1))
        }
    }
    let target = Endpoint::parse(endpoint)?;
    let resolved = with_transport(&target, Bind(core, target.clone())).await?;
    core.span.in_scope(|| {
        core.emit(MonitorEvent::Listening {
            endpoint: resolved.clone(),
        })
    });
    Ok(resolved)
}

/// Binds with transport `T` and accepts until the socket closes or the
/// endpoint is unbound.
async fn serve<T: Transport>(core: Arc<Core>, target: Endpoint) -> Result<String, Error> {
    let (mut listener, bound) = T::bind(&target, settings(&core)).await?;
    let resolved = bound.to_string();
    let mut stop = core.link(resolved.clone());
    let span = core.span.clone();
    tokio::spawn(
        async move {
            loop {
                tokio::select! {
                    r = listener.accept() => match r {
                        Ok((stream, peer)) => accepted(&core, peer, stream, &stop),
                        // Out of file descriptors and the like: back off.
                        Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                    },
                    // The listener goes with the task: the endpoint is released.
                    _ = stopped(&core, &mut stop) => return,
                }
            }
        }
        .instrument(span),
    );
    Ok(resolved)
}

/// Starts the engine of an accepted connection, unless the socket has as
/// many connections as it may accept.
fn accepted<S: crate::transport::Stream>(
    core: &Arc<Core>,
    peer: String,
    stream: S,
    stop: &watch::Receiver<bool>,
) {
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

/// Starts connecting in the background, reconnecting with backoff whenever
/// the connection fails or ends, until the socket closes.
pub(crate) fn connect(core: &Arc<Core>, endpoint: &str) -> Result<(), Error> {
    struct Connect(Arc<Core>, Endpoint, watch::Receiver<bool>);
    impl WithTransport for Connect {
        type Output = ();
        fn run<T: Transport>(self) {
            let span = self.0.span.clone();
            tokio::spawn(dial_on::<T>(self.0, self.1, self.2).instrument(span));
        }
    }
    let target = Endpoint::parse(endpoint)?;
    if let Endpoint::Tcp { port: 0, .. } = target {
        return Err(Error::InvalidEndpoint {
            endpoint: endpoint.to_owned(),
            reason: "a port is required to connect",
        });
    }
    // Registered now, so that a disconnect right after this finds it.
    let stop = core.link(target.to_string());
    with_transport(&target, Connect(core.clone(), target.clone(), stop));
    Ok(())
}

/// Dials `target` with transport `T` and runs each connection, again and
/// again, until the socket closes or the endpoint is disconnected.
async fn dial_on<T: Transport>(core: Arc<Core>, target: Endpoint, mut stop: watch::Receiver<bool>) {
    let name = target.to_string();
    let base = core.options.reconnect_interval;
    let max = core.options.reconnect_interval_max.max(base);
    let mut delay = base;
    // The peer of this endpoint, kept across reconnects with the messages
    // still queued to it.
    let mut kept = (!core.options.immediate && core.shape.routes_before_connect)
        .then(|| core.preattach_peer(&name));
    let reconnecting = async {
        loop {
            // Only the dial races the close signal: a running engine
            // handles closing itself, flushing within its linger time.
            let stream = tokio::select! {
                r = T::dial(&target, settings(&core)) => r,
                _ = stopped(&core, &mut stop) => return,
            };
            let end = match stream {
                Ok(stream) => {
                    core.emit(MonitorEvent::Connected {
                        endpoint: name.clone(),
                    });
                    let run = engine::run(
                        core.clone(),
                        name.clone(),
                        stream,
                        Some(&mut kept),
                        None,
                        stop.clone(),
                    );
                    Some(run.await)
                }
                Err(_) => None,
            };
            match end {
                Some(engine::End::Closed) => return,
                // A connection that got going resets the backoff.
                Some(_) => delay = base,
                None => {
                    core.connect_retries.fetch_add(1, Ordering::Relaxed);
                    core.emit(MonitorEvent::ConnectRetried {
                        endpoint: name.clone(),
                        delay,
                    })
                }
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
}
