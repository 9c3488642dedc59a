//! What every socket has, whatever its type: its shape and role, its
//! peers, sending and receiving by the strategies of [`crate::pattern`],
//! admission of accepted connections, its life (endpoints, closing,
//! lingering), stats and monitor events. A socket type is a thin layer on
//! top, in a file of its own in the public layer.

use std::time::Duration;

use crate::error::Error;

mod admission;
mod core;
mod lifecycle;
mod link;
mod peers;
mod recv;
mod role;
mod send;
mod shape;
mod stats;
mod zap;

pub(crate) use self::admission::Ticket;
pub(crate) use self::core::{Connected, Core};
pub(crate) use self::link::Through;
pub(crate) use self::peers::{Peer, Unwelcome};
pub(crate) use self::role::{Asked, Attach, Pending, Probe, Role, Routing, probe};
pub(crate) use self::shape::Shape;
pub use self::stats::{PeerStats, Stats};
pub(crate) use self::zap::{Answer, Zap};
pub(crate) use crate::queue::lock;

/// Runs `fut`, failing with [`Error::Timeout`] after `timeout` (none: no
/// limit).
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
