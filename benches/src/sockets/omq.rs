//! omq.rs (`omq-tokio`), with default options, its socket driver on the
//! role's tokio runtime (`Socket::new`), like weirmq's and zmq.rs's.

use bytes::Bytes;
use omq_tokio::{
    CurveKeypair, CurvePublicKey, CurveSecretKey, CurveServerOptions, MechanismSetup, Message,
    Options, SocketType,
};

use super::{Attach, Kind, Received, Security, fail};

pub(crate) struct Socket(omq_tokio::Socket);

fn keypair(secret: &weirmq::SecretKey) -> CurveKeypair {
    CurveKeypair {
        public: CurvePublicKey::from_bytes(*secret.public_key().as_bytes()),
        secret: CurveSecretKey::from_bytes(*secret.as_bytes()),
    }
}

pub(crate) async fn open(
    kind: Kind,
    attach: Attach,
    endpoint: &str,
    security: &Security,
) -> Result<Socket, String> {
    let mut options = Options::default();
    options.mechanism = match security {
        Security::Null => MechanismSetup::Null,
        Security::CurveServer { secret } => MechanismSetup::CurveServer {
            our_keypair: keypair(secret),
            options: CurveServerOptions::default(),
        },
        Security::CurveClient { server, secret } => MechanismSetup::CurveClient {
            our_keypair: keypair(secret),
            server_public: CurvePublicKey::from_bytes(*server.as_bytes()),
        },
    };
    let ty = match kind {
        Kind::Push => SocketType::Push,
        Kind::Pull => SocketType::Pull,
        Kind::Req => SocketType::Req,
        Kind::Rep => SocketType::Rep,
        Kind::Pub => SocketType::Pub,
        Kind::Sub => SocketType::Sub,
    };
    let socket = omq_tokio::Socket::try_new(ty, options).map_err(|e| fail("socket", e))?;
    if kind == Kind::Sub {
        socket
            .subscribe(Bytes::new())
            .await
            .map_err(|e| fail("subscribe", e))?;
    }
    match attach {
        Attach::Bind => socket.bind(endpoint).await.map(drop),
        Attach::Connect => socket.connect(endpoint).await,
    }
    .map_err(|e| fail(endpoint, e))?;
    Ok(Socket(socket))
}

impl Socket {
    pub(crate) async fn send(&mut self, body: Bytes) -> Result<(), String> {
        self.0
            .send(Message::single(body))
            .await
            .map_err(|e| fail("send", e))
    }

    pub(crate) async fn recv(&mut self) -> Result<Received, String> {
        let msg = self.0.recv().await.map_err(|e| fail("recv", e))?;
        Ok(Received {
            len: msg.byte_len(),
            tag: msg
                .part_slice(0)
                .and_then(|p| p.first().copied())
                .unwrap_or(0),
        })
    }
}
