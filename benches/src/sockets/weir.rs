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
    // The one option not at its default: a bound socket takes as many
    // connections as the machine's fd limit allows (the idle-connections
    // row holds 10,000; weirmq's default cap is 4,096, the others have
    // none).
    let options = match attach {
        Attach::Bind => options.with_max_connections(20_000),
        Attach::Connect => options,
    };
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

/// What a send gave, in the benchmark's terms.
fn sent(result: Result<(), weirmq::Error>) -> Result<(), String> {
    result.map_err(|e| fail("send", e))
}

/// What a receive gave, in the benchmark's terms. (Synchronous, and each
/// type's `recv` awaited in the match itself: a generic async helper
/// would put one more state machine on every message's way.)
fn received(result: Result<weirmq::Message, weirmq::Error>) -> Result<Received, String> {
    let msg = result.map_err(|e| fail("recv", e))?;
    Ok(msg
        .frames()
        .first()
        .map_or(Received::of(&[]), |f| Received::of(f)))
}

impl Socket {
    pub(crate) async fn send(&mut self, body: Bytes) -> Result<(), String> {
        match self {
            Socket::Push(s) => sent(s.send(body).await),
            Socket::Req(s) => sent(s.send(body).await),
            Socket::Rep(s) => sent(s.send(body).await),
            Socket::Pub(s) => sent(s.send(body).await),
            Socket::Pull(_) | Socket::Sub(_) => Err("this socket cannot send".into()),
        }
    }

    pub(crate) async fn recv(&mut self) -> Result<Received, String> {
        match self {
            Socket::Pull(s) => received(s.recv().await),
            Socket::Req(s) => received(s.recv().await),
            Socket::Rep(s) => received(s.recv().await),
            Socket::Sub(s) => received(s.recv().await),
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
