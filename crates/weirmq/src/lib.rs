//! # weirmq
//!
//! ZeroMQ in pure Rust, on tokio, speaking ZMTP 3.1 to libzmq 4.3 peers.
//!
//! Every queue is bounded by a high-water mark in messages *and* bytes
//! ([`Hwm`]), and a full queue means the sender waits: `send().await`
//! applies backpressure, [`try_send`](SendSocket::try_send) hands the message
//! back. Each peer's incoming messages wait in a lane of their own, and
//! `recv` takes turns over the peers (fair queuing): when a peer's lane is
//! full the socket stops reading that peer's connection, so it feels the
//! backpressure through TCP, and the other peers are not held up.
//!
//! ```no_run
//! use weirmq::prelude::*;
//! # async fn demo() -> Result<(), weirmq::Error> {
//! let pull = weirmq::Pull::new();
//! let endpoint = pull.bind("tcp://127.0.0.1:*").await?;
//! let push = weirmq::Push::new();
//! push.connect(&endpoint).await?;
//! push.send("hello").await?;
//! assert_eq!(pull.recv().await?, weirmq::Message::from("hello"));
//! # Ok(()) }
//! ```
//!
//! Socket types: [`Push`], [`Pull`], [`Pair`], [`Dealer`], [`Pub`],
//! [`Sub`], [`XPub`], [`XSub`], [`Router`], [`Req`], [`Rep`]. What they do
//! is the methods of three sealed traits: [`Socket`] (bind, connect,
//! stats, monitor, close), [`SendSocket`] and [`RecvSocket`], which
//! [`prelude`] brings into scope and generic code can be written over.
//! Transports `tcp://`, `ipc://` and `inproc://`. The protocol core,
//! [`zmtp`], is sans-IO.

#![forbid(unsafe_code)]

mod api;
pub mod cert;
mod endpoint;
mod engine;
mod error;
#[cfg(feature = "metrics")]
pub mod metrics;
mod monitor;
mod options;
mod pattern;
mod proxy;
mod queue;
mod rate;
mod socket;
mod sync;
mod transport;

pub use api::{
    Dealer, Io, Pair, Pub, Pull, Push, RecvSocket, Rep, Req, Router, SendSocket, Socket, Sub, XPub,
    XSub, ZAP_ENDPOINT, zap_handler_bound,
};
pub use proxy::{Proxy, ProxyCounters, ProxyStats, SideStats, proxy};
pub use socket::{PeerStats, Stats};

/// The socket traits' methods, for `use weirmq::prelude::*`: sending,
/// receiving and the endpoints of every socket type are methods of
/// [`Socket`], [`SendSocket`] and [`RecvSocket`]. (Imported without their
/// names, so that they clash with none of yours.)
pub mod prelude {
    pub use crate::api::{RecvSocket as _, SendSocket as _, Socket as _};
}
pub use endpoint::Endpoint;
pub use error::{Error, TrySendError};
pub use monitor::{MONITOR_CAPACITY, Monitor, MonitorEvent};
pub use options::{Authenticator, Hwm, Options, QueueAlert, RouterNotify, WhenFull};
pub use rate::Rate;
pub use weirmq_zmtp as zmtp;
pub use weirmq_zmtp::keys::{Keypair, PublicKey, SecretKey};
pub use weirmq_zmtp::{AuthDecision, AuthRequest, Heartbeat, Mechanism, Message, SocketType};
