//! weirmq, with default options: opened, sent on and received from by
//! functions written once over its socket traits.

use bytes::Bytes;
use weirmq::prelude::*;
use weirmq::{Options, Pub, Pull, Push, RecvSocket, Rep, Req, SendSocket, Sub};

use super::{Attach, Kind, Received, Security, fail};

/// A socket of each kind the scenarios use. An enum rather than a boxed
/// trait object: each send and receive would then box its future, an
/// allocation per message that the other libraries do not pay.
pub(crate) enum Socket {
    Push(Push),
    Pull(Pull),
    Req(Req),
    Rep(Rep),
    Pub(Pub),
    Sub(Sub),
}

/// A socket of type `S`, bound or connected.
async fn attached<S: weirmq::Socket>(
    options: Options,
    attach: Attach,
    endpoint: &str,
) -> Result<S, String> {
    let s = S::with_options(options).map_err(|e| fail("options", e))?;
    match attach {
        Attach::Bind => s.bind(endpoint).await.map(drop),
        Attach::Connect => s.connect(endpoint).await,
    }
    .map_err(|e| fail(endpoint, e))?;
    Ok(s)
}

pub(crate) async fn open(
    kind: Kind,
    attach: Attach,
    endpoint: &str,
    security: &Security,
) -> Result<Socket, String> {
    let options = Options::default().with_mechanism(super::weirmq_mechanism(security));
    Ok(match kind {
        Kind::Push => Socket::Push(attached(options, attach, endpoint).await?),
        Kind::Pull => Socket::Pull(attached(options, attach, endpoint).await?),
        Kind::Req => Socket::Req(attached(options, attach, endpoint).await?),
        Kind::Rep => Socket::Rep(attached(options, attach, endpoint).await?),
        Kind::Pub => Socket::Pub(attached(options, attach, endpoint).await?),
        Kind::Sub => {
            let s: Sub = attached(options, attach, endpoint).await?;
            s.subscribe("").map_err(|e| fail("subscribe", e))?;
            Socket::Sub(s)
        }
    })
}

/// Sends `body` on any socket type that sends.
async fn send<S: SendSocket>(s: &S, body: Bytes) -> Result<(), String> {
    s.send(body).await.map_err(|e| fail("send", e))
}

/// What any socket type that receives received next.
async fn recv<S: RecvSocket>(s: &S) -> Result<Received, String> {
    let msg = s.recv().await.map_err(|e| fail("recv", e))?;
    Ok(msg
        .frames()
        .first()
        .map_or(Received::of(&[]), |f| Received::of(f)))
}

impl Socket {
    pub(crate) async fn send(&mut self, body: Bytes) -> Result<(), String> {
        match self {
            Socket::Push(s) => send(s, body).await,
            Socket::Req(s) => send(s, body).await,
            Socket::Rep(s) => send(s, body).await,
            Socket::Pub(s) => send(s, body).await,
            Socket::Pull(_) | Socket::Sub(_) => Err("this socket cannot send".into()),
        }
    }

    pub(crate) async fn recv(&mut self) -> Result<Received, String> {
        match self {
            Socket::Pull(s) => recv(s).await,
            Socket::Req(s) => recv(s).await,
            Socket::Rep(s) => recv(s).await,
            Socket::Sub(s) => recv(s).await,
            Socket::Push(_) | Socket::Pub(_) => Err("this socket cannot receive".into()),
        }
    }

    /// A PUB's `Stats::dropped`: messages dropped for a full peer.
    pub(crate) fn dropped(&self) -> Option<u64> {
        match self {
            Socket::Pub(s) => Some(s.stats().dropped),
            _ => None,
        }
    }
}
