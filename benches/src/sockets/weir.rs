//! weirmq, with default options.

use weirmq::prelude::*;
use weirmq::{Options, Pub, Pull, Push, Rep, Req, Sub};

use super::{Attach, Kind, Received, Security, fail};

socket_per_kind! {
    push: Push, pull: Pull, req: Req, rep: Rep, publish: Pub, sub: Sub,
    message: std::convert::identity,
    received: |m: &weirmq::Message| m.frames().first().map_or(Received::of(&[]), |f| Received::of(f)),
}

pub(crate) async fn open(
    kind: Kind,
    attach: Attach,
    endpoint: &str,
    security: &Security,
) -> Result<Socket, String> {
    let options = Options::default().with_mechanism(super::weirmq_mechanism(security));
    macro_rules! attached {
        ($variant:ident, $ty:ty) => {{
            let s = <$ty>::with_options(options).map_err(|e| fail("options", e))?;
            match attach {
                Attach::Bind => s.bind(endpoint).await.map(drop),
                Attach::Connect => s.connect(endpoint).await,
            }
            .map_err(|e| fail(endpoint, e))?;
            Socket::$variant(s)
        }};
    }
    Ok(match kind {
        Kind::Push => attached!(Push, Push),
        Kind::Pull => attached!(Pull, Pull),
        Kind::Req => attached!(Req, Req),
        Kind::Rep => attached!(Rep, Rep),
        Kind::Pub => attached!(Pub, Pub),
        Kind::Sub => {
            let s = attached!(Sub, Sub);
            if let Socket::Sub(sub) = &s {
                sub.subscribe("").map_err(|e| fail("subscribe", e))?;
            }
            s
        }
    })
}

impl Socket {
    /// A PUB's `Stats::dropped`: messages dropped for a full peer.
    pub(crate) fn dropped(&self) -> Option<u64> {
        match self {
            Socket::Pub(s) => Some(s.stats().dropped),
            _ => None,
        }
    }
}
