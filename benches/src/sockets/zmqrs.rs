//! zmq.rs (the `zeromq` crate), with default options. NULL only.

use zeromq::{
    PubSocket, PullSocket, PushSocket, RepSocket, ReqSocket, SocketRecv, SocketSend, SubSocket,
    ZmqMessage,
};

use super::{Attach, Kind, Received, Security, fail};

socket_per_kind! {
    push: PushSocket, pull: PullSocket, req: ReqSocket, rep: RepSocket, publish: PubSocket,
    sub: SubSocket,
    message: ZmqMessage::from,
    received: |m: &ZmqMessage| m.get(0).map_or(Received::of(&[]), |f| Received::of(f)),
}

async fn attached<S: zeromq::Socket>(attach: Attach, endpoint: &str) -> Result<S, String> {
    let mut s = S::new();
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
    if !matches!(security, Security::Null) {
        return Err("zmq.rs has no CURVE".into());
    }
    Ok(match kind {
        Kind::Push => Socket::Push(attached(attach, endpoint).await?),
        Kind::Pull => Socket::Pull(attached(attach, endpoint).await?),
        Kind::Req => Socket::Req(attached(attach, endpoint).await?),
        Kind::Rep => Socket::Rep(attached(attach, endpoint).await?),
        Kind::Pub => Socket::Pub(attached(attach, endpoint).await?),
        Kind::Sub => {
            let mut s: SubSocket = attached(attach, endpoint).await?;
            s.subscribe("").await.map_err(|e| fail("subscribe", e))?;
            Socket::Sub(s)
        }
    })
}
