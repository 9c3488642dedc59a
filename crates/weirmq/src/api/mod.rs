//! The socket types, each in a file of its own that states its peers, its
//! strategies and its options, over what every socket has
//! ([`crate::socket`]); and the sealed traits they share: [`Socket`]
//! (endpoints, stats, monitor, close), [`SendSocket`] and [`RecvSocket`].
//! Each type has exactly the operations it supports: there is no `recv` on
//! a [`Push`], and calling one does not compile.
//!
//! This module is the registry: a new socket type is a file here and its
//! line below.

use std::future::Future;
use std::sync::Arc;

use weirmq_zmtp::{Message, SocketType};

use crate::error::{Error, TrySendError};
use crate::monitor::Monitor;
use crate::options::Options;
use crate::socket::{Core, PeerStats, Role, Shape, Stats};

mod attach;
mod io;
mod zap;

mod dealer;
mod pair;
mod publish;
mod pull;
mod push;
mod rep;
mod req;
mod router;
mod sub;
mod xpub;
mod xsub;

pub use dealer::Dealer;
pub use io::Io;
pub use pair::Pair;
pub use publish::Pub;
pub use pull::Pull;
pub use push::Push;
pub use rep::Rep;
pub use req::Req;
pub use router::Router;
pub use sub::Sub;
pub use xpub::XPub;
pub use xsub::XSub;
pub use zap::{ZAP_ENDPOINT, zap_handler_bound};

mod private {
    use std::sync::Arc;

    use crate::socket::Core;

    /// Only this crate's socket types are sockets.
    pub trait Sealed {
        /// The socket's core.
        fn handle(&self) -> &Handle;
    }

    /// A socket's core, closed when the socket is dropped: its connections
    /// then flush what is queued for up to the linger time, and end.
    pub struct Handle {
        pub(super) core: Arc<Core>,
    }
}

use private::Handle;

impl Handle {
    /// The core of a socket of `shape` and `role`, with `options`.
    fn new(shape: Shape, role: Arc<dyn Role>, options: Options) -> Result<Handle, Error> {
        Ok(Handle {
            core: Core::new(shape, role, options, zap::client())?,
        })
    }

    fn core(&self) -> &Core {
        &self.core
    }
}

/// The core of a socket, for the crate's observers (the metrics).
#[cfg(feature = "metrics")]
pub(crate) fn core_of<S: Socket>(socket: &S) -> &Arc<Core> {
    &socket.handle().core
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.core.close();
    }
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket")
            .field("type", &self.core.shape.socket_type)
            .field("stats", &self.core.stats())
            .finish()
    }
}

/// What every socket does: bind and connect, tell its stats and events,
/// close. Sealed: the socket types of this crate are the only ones.
pub trait Socket: private::Sealed + Send + Sync + Sized + 'static {
    /// The socket type, as announced to peers.
    const TYPE: SocketType;

    /// A socket with the given options; refuses options that cannot work.
    fn with_options(options: Options) -> Result<Self, Error>;

    /// A socket with default [`Options`].
    fn new() -> Self {
        Self::with_options(Options::default()).expect("default options are valid")
    }

    /// Binds to an endpoint (`tcp://127.0.0.1:*`, `ipc:///path`,
    /// `inproc://name`) and accepts peers on it. Returns the endpoint
    /// actually bound, with a wildcard port resolved.
    fn bind(&self, endpoint: &str) -> impl Future<Output = Result<String, Error>> + Send {
        let core = self.handle().core.clone();
        let endpoint = endpoint.to_owned();
        async move {
            let resolved = attach::bind(&core, &endpoint).await?;
            core.bound(resolved.clone());
            Ok(resolved)
        }
    }

    /// Connects to an endpoint in the background, reconnecting with
    /// backoff whenever the connection is lost; messages queued to the peer
    /// wait for the reconnect.
    fn connect(&self, endpoint: &str) -> impl Future<Output = Result<(), Error>> + Send {
        let connected = attach::connect(&self.handle().core, endpoint);
        async move { connected }
    }

    /// Stops accepting on an endpoint `bind` returned, and ends the
    /// connections accepted there (each flushes within the linger).
    fn unbind(&self, endpoint: &str) -> Result<(), Error> {
        let key = crate::Endpoint::parse(endpoint)?.to_string();
        let core = self.handle().core();
        if !core.unlink(&key) {
            return Err(Error::InvalidEndpoint {
                endpoint: endpoint.to_owned(),
                reason: "not bound (use the endpoint bind returned)",
            });
        }
        core.unbound(&key);
        Ok(())
    }

    /// Stops connecting to an endpoint and ends its connection.
    fn disconnect(&self, endpoint: &str) -> Result<(), Error> {
        let key = crate::Endpoint::parse(endpoint)?.to_string();
        let core = self.handle().core();
        if !core.unlink(&key) {
            return Err(Error::InvalidEndpoint {
                endpoint: endpoint.to_owned(),
                reason: "not connected",
            });
        }
        core.forget_connect_id(&key);
        Ok(())
    }

    /// The endpoint of the most recent successful `bind`.
    fn last_endpoint(&self) -> Option<String> {
        self.handle().core().last_endpoint()
    }

    /// Queue depths and counters now.
    fn stats(&self) -> Stats {
        self.handle().core().stats()
    }

    /// Per ready peer: what is queued to it and what it missed, what it
    /// sent that waits in its incoming lane, and how much of it `recv` has
    /// handed out (see [`PeerStats`]).
    fn peer_stats(&self) -> Vec<PeerStats> {
        self.handle().core().peer_stats()
    }

    /// Starts delivering this socket's [`MonitorEvent`](crate::MonitorEvent)s
    /// (a second call replaces the first monitor). Events a slow reader has
    /// no room for are counted, not queued.
    fn monitor(&self) -> Monitor {
        self.handle().core().monitor()
    }

    /// Closes the socket and waits (up to the linger time) until what is
    /// queued to its peers has been written and its connections have ended.
    /// Dropping the socket closes it without waiting.
    fn close(self) -> impl Future<Output = ()> + Send {
        async move {
            let core = self.handle().core();
            core.close_and_flush(core.options.linger).await;
        }
    }
}

/// A socket that sends.
pub trait SendSocket: Socket {
    /// Sends a message, as the socket type routes it, waiting while the
    /// peers it is for are full (backpressure), up to the send timeout.
    ///
    /// All or nothing: if the future is dropped before it completes (in a
    /// `select!`, say), the message was not queued.
    fn send(&self, msg: impl Into<Message>) -> impl Future<Output = Result<(), Error>> + Send;

    /// Sends without waiting: when it would have to wait, the message is
    /// handed back.
    fn try_send(&self, msg: impl Into<Message>) -> Result<(), TrySendError>;
}

/// A socket that receives.
pub trait RecvSocket: Socket {
    /// Receives the next message, fair-queued over the peers, waiting up
    /// to the receive timeout.
    ///
    /// Cancel-safe: a message is taken only when the future completes, so
    /// dropping it (in a `select!`, say) loses none.
    fn recv(&self) -> impl Future<Output = Result<Message, Error>> + Send {
        self.handle().core().recv()
    }

    /// Receives a message if one is waiting.
    fn try_recv(&self) -> Option<Message> {
        self.handle().core().try_recv()
    }
}

/// The role of a type that only routes: probing its peers with
/// [`Options::probe_router`] (DEALER, REQ, ROUTER).
fn routing_role(options: &Options) -> Arc<dyn Role> {
    if options.probe_router {
        Arc::new(crate::socket::Probe)
    } else {
        Arc::new(crate::socket::Routing)
    }
}

/// Sends `msg` to the next peer in turn with room (the types that load
/// balance).
fn send_lb(handle: &Handle, msg: Message) -> impl Future<Output = Result<(), Error>> + Send + '_ {
    handle.core().send_lb(msg, |_| ())
}

fn try_send_lb(handle: &Handle, msg: Message) -> Result<(), TrySendError> {
    handle.core().try_send_lb(msg, |_| ())
}
