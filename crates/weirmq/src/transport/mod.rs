//! Transports: how the endpoints of each scheme are listened on and
//! dialled, behind one interface ([`Transport`]), so that what runs over a
//! connection (the engine) never knows which scheme it is.
//!
//! A transport hands out [`Stream`]s: byte streams used through readiness
//! and non-blocking reads and writes. `tcp://` and `ipc://` are the
//! kernel's; `inproc://` is a Unix socket pair, so it has the same
//! handshake, limits and backpressure as the others. A transport that
//! frames bytes in user space (`ws://`, say) implements [`Stream`] over its
//! own buffers, adds a file here and a line to [`with_transport`], and
//! nothing else changes.

use std::future::Future;
use std::io;
use std::time::Duration;

use crate::endpoint::Endpoint;
use crate::error::Error;

mod inproc;
mod ipc;
pub(crate) mod stream;
mod tcp;

pub(crate) use stream::Stream;

/// Per-connection settings a transport may apply (TCP's keepalive).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Settings {
    /// TCP keepalive idle time; `None` keeps the system's default.
    pub(crate) tcp_keepalive: Option<Duration>,
}

/// A bound endpoint, accepting connections until dropped (which releases
/// the endpoint: an ipc file is removed, an inproc name unregistered).
pub(crate) trait Listener: Send + 'static {
    /// The connections it accepts.
    type Stream: Stream;

    /// The next connection, and the peer's name for stats and events.
    fn accept(&mut self) -> impl Future<Output = io::Result<(Self::Stream, String)>> + Send;
}

/// One scheme's way of binding and dialling.
pub(crate) trait Transport: 'static {
    /// Its connections.
    type Stream: Stream;
    /// Its bound endpoints.
    type Listener: Listener<Stream = Self::Stream>;

    /// Binds `endpoint`; returns the listener and the endpoint as bound (a
    /// wildcard port resolved).
    fn bind(
        endpoint: &Endpoint,
        settings: Settings,
    ) -> impl Future<Output = Result<(Self::Listener, Endpoint), Error>> + Send;

    /// Opens one connection to `endpoint`.
    fn dial(
        endpoint: &Endpoint,
        settings: Settings,
    ) -> impl Future<Output = io::Result<Self::Stream>> + Send;
}

/// Something to do with the transport of an endpoint's scheme.
pub(crate) trait WithTransport {
    /// What it gives.
    type Output;

    /// Does it with transport `T`.
    fn run<T: Transport>(self) -> Self::Output;
}

/// Runs `job` with the transport of `endpoint`'s scheme: the one place that
/// maps schemes to transports.
pub(crate) fn with_transport<J: WithTransport>(endpoint: &Endpoint, job: J) -> J::Output {
    match endpoint {
        Endpoint::Tcp { .. } => job.run::<tcp::Tcp>(),
        Endpoint::Ipc(_) => job.run::<ipc::Ipc>(),
        Endpoint::Inproc(_) => job.run::<inproc::Inproc>(),
    }
}

/// Whether some socket of this process is bound at `inproc://name`.
pub(crate) fn inproc_bound(name: &str) -> bool {
    inproc::is_bound(name)
}

fn io_error(context: String) -> impl FnOnce(io::Error) -> Error {
    move |source| Error::Io { context, source }
}
