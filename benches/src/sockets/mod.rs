//! One socket abstraction over the implementations compared, with only the
//! operations the roles need: open (bind or connect), send a body, receive
//! a message's length and first octet, both optionally bounded in time.

use std::time::Duration;

use bytes::Bytes;

use crate::plan::Impl;

/// For a library with a type per socket kind: the `Socket` enum of them,
/// with `send` on the kinds that send and `recv` on those that receive.
/// `$message` makes the library's message of a `Bytes`; `$received` tells
/// what a received message is.
macro_rules! socket_per_kind {
    (
        push: $push:ty, pull: $pull:ty, req: $req:ty, rep: $rep:ty, publish: $publish:ty,
        sub: $sub:ty, message: $message:expr, received: $received:expr $(,)?
    ) => {
        pub(crate) enum Socket {
            Push($push),
            Pull($pull),
            Req($req),
            Rep($rep),
            Pub($publish),
            Sub($sub),
        }

        impl Socket {
            pub(crate) async fn send(&mut self, body: bytes::Bytes) -> Result<(), String> {
                let msg = $message(body);
                match self {
                    Socket::Push(s) => s.send(msg).await,
                    Socket::Req(s) => s.send(msg).await,
                    Socket::Rep(s) => s.send(msg).await,
                    Socket::Pub(s) => s.send(msg).await,
                    Socket::Pull(_) | Socket::Sub(_) => {
                        return Err("this socket cannot send".into());
                    }
                }
                .map_err(|e| super::fail("send", e))
            }

            pub(crate) async fn recv(&mut self) -> Result<super::Received, String> {
                let msg = match self {
                    Socket::Pull(s) => s.recv().await,
                    Socket::Req(s) => s.recv().await,
                    Socket::Rep(s) => s.recv().await,
                    Socket::Sub(s) => s.recv().await,
                    Socket::Push(_) | Socket::Pub(_) => {
                        return Err("this socket cannot receive".into());
                    }
                }
                .map_err(|e| super::fail("recv", e))?;
                Ok($received(&msg))
            }
        }
    };
}

mod libzmq;
mod omq;
mod tcp;
mod weir;
mod zmqrs;

/// The socket types the scenarios use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Push,
    Pull,
    Req,
    Rep,
    Pub,
    /// Subscribed to everything.
    Sub,
}

/// Bind or connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Attach {
    Bind,
    Connect,
}

/// The security mechanism. The keys are weirmq's key types, used as plain
/// holders of 32 octets for every implementation.
pub(crate) enum Security {
    Null,
    /// A CURVE server with this long-term secret key.
    CurveServer {
        secret: weirmq::SecretKey,
    },
    /// A CURVE client of the server with this public key.
    CurveClient {
        server: weirmq::PublicKey,
        secret: weirmq::SecretKey,
    },
}

/// What `recv` reports of a message: its payload length and first octet
/// (0 when empty). The roles need no more, and libzmq's receive buffer is
/// reused without a copy, as libzmq's perf tools do.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Received {
    pub(crate) len: usize,
    pub(crate) tag: u8,
}

impl Received {
    /// Of a message's (first) frame; a message without frames is empty.
    fn of(body: &[u8]) -> Received {
        Received {
            len: body.len(),
            tag: body.first().copied().unwrap_or(0),
        }
    }
}

/// An open socket of one implementation.
pub(crate) enum Socket {
    Weirmq(weir::Socket),
    Libzmq(libzmq::Socket),
    Zmqrs(zmqrs::Socket),
    Omq(omq::Socket),
    TokioTcp(tcp::Socket),
}

/// Opens a socket of `kind` on `endpoint`. `size` is the message size (the
/// plain TCP floor has no framing and reads exactly that many octets).
pub(crate) async fn open(
    imp: Impl,
    kind: Kind,
    attach: Attach,
    endpoint: &str,
    security: &Security,
    size: usize,
) -> Result<Socket, String> {
    Ok(match imp {
        Impl::Weirmq => Socket::Weirmq(weir::open(kind, attach, endpoint, security).await?),
        Impl::Libzmq => Socket::Libzmq(libzmq::open(kind, attach, endpoint, security)?),
        Impl::Zmqrs => Socket::Zmqrs(zmqrs::open(kind, attach, endpoint, security).await?),
        Impl::Omq => Socket::Omq(omq::open(kind, attach, endpoint, security).await?),
        Impl::TokioTcp => Socket::TokioTcp(tcp::open(kind, attach, endpoint, size).await?),
        Impl::PerfTools | Impl::WeirmqToPerf | Impl::PerfToWeirmq => {
            return Err(format!(
                "{}: libzmq's perf tools run as programs of their own, not as a role",
                imp.name()
            ));
        }
    })
}

impl Socket {
    /// Sends one single-frame message, waiting while the socket's queues
    /// are full (each implementation's default behaviour).
    ///
    /// Each message is a fresh copy of `body`, in a new allocation, as an
    /// application's messages are: the `zmq` crate copies the slice into a
    /// new `zmq_msg_t`, and the Rust libraries get a new `Bytes`. (Sending
    /// clones of one shared `Bytes` would hide what a queue of real
    /// messages costs in memory.)
    pub(crate) async fn send(&mut self, body: &[u8]) -> Result<(), String> {
        match self {
            Socket::Weirmq(s) => s.send(Bytes::copy_from_slice(body)).await,
            Socket::Libzmq(s) => s.send(body),
            Socket::Zmqrs(s) => s.send(Bytes::copy_from_slice(body)).await,
            Socket::Omq(s) => s.send(Bytes::copy_from_slice(body)).await,
            Socket::TokioTcp(s) => s.send(body).await,
        }
    }

    /// Receives one message.
    pub(crate) async fn recv(&mut self) -> Result<Received, String> {
        match self {
            Socket::Weirmq(s) => s.recv().await,
            Socket::Libzmq(s) => s.recv(),
            Socket::Zmqrs(s) => s.recv().await,
            Socket::Omq(s) => s.recv().await,
            Socket::TokioTcp(s) => s.recv().await,
        }
    }

    /// Sends, or gives up after `limit`: `Ok(false)` means the send was
    /// still blocked then and the message was not sent.
    pub(crate) async fn send_within(
        &mut self,
        body: &[u8],
        limit: Duration,
    ) -> Result<bool, String> {
        if let Socket::Libzmq(s) = self {
            return s.send_within(body, limit);
        }
        match tokio::time::timeout(limit, self.send(body)).await {
            Ok(sent) => sent.map(|()| true),
            Err(_) => Ok(false),
        }
    }

    /// Receives, or `Ok(None)` when nothing came within `limit`.
    pub(crate) async fn recv_within(
        &mut self,
        limit: Duration,
    ) -> Result<Option<Received>, String> {
        if let Socket::Libzmq(s) = self {
            return s.recv_within(limit);
        }
        match tokio::time::timeout(limit, self.recv()).await {
            Ok(received) => received.map(Some),
            Err(_) => Ok(None),
        }
    }

    /// Messages the socket itself counted as dropped, where it counts them
    /// (weirmq's `Stats::dropped`); `None` where drops are not observable.
    pub(crate) fn dropped(&self) -> Option<u64> {
        match self {
            Socket::Weirmq(s) => s.dropped(),
            _ => None,
        }
    }
}

/// weirmq's mechanism for `security`.
pub(crate) fn weirmq_mechanism(security: &Security) -> weirmq::Mechanism {
    match security {
        Security::Null => weirmq::Mechanism::Null,
        Security::CurveServer { secret } => weirmq::Mechanism::CurveServer {
            keypair: weirmq::Keypair::from_secret(secret.clone()),
        },
        Security::CurveClient { server, secret } => weirmq::Mechanism::CurveClient {
            server_key: *server,
            keypair: weirmq::Keypair::from_secret(secret.clone()),
        },
    }
}

/// The text a failed run reports for a library error.
fn fail(context: &str, e: impl std::fmt::Display) -> String {
    format!("{context}: {e}")
}
