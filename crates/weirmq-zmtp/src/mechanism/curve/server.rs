//! The CURVE server: WELCOME with a cookie, INITIATE checked, the client's
//! key judged by the caller, READY.

use bytes::{Bytes, BytesMut};
use zeroize::Zeroizing;

use super::{
    COOKIE_NONCE, CurveCodec, HELLO, HELLO_LEN, HELLO_NONCE, INITIATE, INITIATE_MIN,
    INITIATE_NONCE, READY, READY_NONCE, VOUCH_NONCE, WELCOME, WELCOME_LEN, WELCOME_NONCE,
    check_size, short_nonce, unexpected,
};
use crate::error::{CurveError, Error};
use crate::keys::{Keypair, PublicKey, SecretKey};
use crate::mechanism::crypto::{BoxKey, ephemeral_keypair, nonce, random_array};
use crate::mechanism::{AuthRequest, Codec, Handshake, Step};
use crate::metadata::Metadata;
use crate::outbox::Outbox;

/// Our short nonces: READY is 1, MESSAGEs from 2 (libzmq).
const READY_SHORT_NONCE: u64 = 1;

/// HELLO awaited.
pub(crate) struct ServerAwaitingHello {
    /// S and s, our long-term keypair.
    long_term: Keypair,
    ours: Metadata,
}

/// WELCOME sent; INITIATE awaited. Only the cookie key is kept: what we know
/// of the client (C') and our short-term secret (s') went out in the cookie.
pub(crate) struct ServerAwaitingInitiate {
    long_term: Keypair,
    /// K, made for this handshake alone and wiped with this state.
    cookie_key: BoxKey,
    ours: Metadata,
}

/// INITIATE verified; the caller judges the client's long-term key.
pub(crate) struct ServerAwaitingDecision {
    session: BoxKey,
    peer_nonce: u64,
    peer: Metadata,
    ours: Metadata,
}

macro_rules! redacted_debug {
    ($($t:ty),*) => {$(
        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($t)).finish_non_exhaustive()
            }
        }
    )*};
}
redacted_debug!(
    ServerAwaitingHello,
    ServerAwaitingInitiate,
    ServerAwaitingDecision
);

fn key_at(octets: &[u8]) -> [u8; 32] {
    let mut key = [0; 32];
    key.copy_from_slice(&octets[..32]);
    key
}

impl ServerAwaitingHello {
    pub(crate) fn start(long_term: &Keypair, ours: &Metadata) -> ServerAwaitingHello {
        ServerAwaitingHello {
            long_term: long_term.clone(),
            ours: ours.clone(),
        }
    }

    pub(crate) fn handle(self, body: Bytes, out: &mut Outbox) -> Result<Step, Error> {
        if !body.starts_with(HELLO) {
            return Err(unexpected(body));
        }
        check_size("HELLO", &body, body.len() == HELLO_LEN, "200")?;
        let (major, minor) = (body[6], body[7]);
        if (major, minor) != (1, 0) {
            return Err(CurveError::Version { major, minor }.into());
        }
        let client_short = PublicKey::from_bytes(key_at(&body[80..112]));
        let hello_key = BoxKey::pair(&client_short, &self.long_term.secret);
        hello_key
            .open(&nonce(HELLO_NONCE, &body[112..120]), &body[120..])
            .map_err(|_| CurveError::Unopened("HELLO"))?;

        let short_term = ephemeral_keypair();
        let cookie_key = BoxKey::secret(&Zeroizing::new(random_array()));
        // cookie = nonce tail, Box[C' + s'](K)
        let mut cookie_plain = Zeroizing::new([0u8; 64]);
        cookie_plain[..32].copy_from_slice(client_short.as_bytes());
        cookie_plain[32..].copy_from_slice(short_term.secret.as_bytes());
        let cookie_tail: [u8; 16] = random_array();
        let mut welcome_plain = Zeroizing::new(Vec::with_capacity(128));
        welcome_plain.extend_from_slice(short_term.public.as_bytes());
        welcome_plain.extend_from_slice(&cookie_tail);
        cookie_key.seal_into(
            &nonce(COOKIE_NONCE, &cookie_tail),
            &cookie_plain[..],
            &mut welcome_plain,
        );

        let welcome_tail: [u8; 16] = random_array();
        let mut welcome = Vec::with_capacity(WELCOME_LEN);
        welcome.extend_from_slice(WELCOME);
        welcome.extend_from_slice(&welcome_tail);
        hello_key.seal_into(
            &nonce(WELCOME_NONCE, &welcome_tail),
            &welcome_plain,
            &mut welcome,
        );
        debug_assert_eq!(welcome.len(), WELCOME_LEN);
        out.command_body(&welcome);
        Ok(Step::Continue(Handshake::CurveServerInitiate(
            ServerAwaitingInitiate {
                long_term: self.long_term,
                cookie_key,
                ours: self.ours,
            },
        )))
    }
}

impl ServerAwaitingInitiate {
    pub(crate) fn handle(self, body: Bytes) -> Result<Step, Error> {
        if !body.starts_with(INITIATE) {
            return Err(unexpected(body));
        }
        check_size(
            "INITIATE",
            &body,
            body.len() >= INITIATE_MIN,
            "at least 257",
        )?;
        // The cookie gives back C' and s', sealed by us under K.
        let cookie = self
            .cookie_key
            .open(&nonce(COOKIE_NONCE, &body[9..25]), &body[25..105])
            .map_err(|_| CurveError::Unopened("cookie"))?;
        let client_short = PublicKey::from_bytes(key_at(&cookie[..32]));
        let short_secret = SecretKey::from_bytes(key_at(&cookie[32..64]));

        let initiate_nonce = short_nonce(&body[105..113]);
        let session = BoxKey::pair(&client_short, &short_secret);
        let plain = session
            .open(&nonce(INITIATE_NONCE, &body[105..113]), &body[113..])
            .map_err(|_| CurveError::Unopened("INITIATE"))?;
        // plain = C, vouch nonce tail (16), vouch box (80), metadata.
        let client_long = PublicKey::from_bytes(key_at(&plain[..32]));
        let vouch = BoxKey::pair(&client_long, &short_secret)
            .open(&nonce(VOUCH_NONCE, &plain[32..48]), &plain[48..128])
            .map_err(|_| CurveError::Unopened("vouch"))?;
        // The vouch must name this connection's C' and this server's S
        // (libzmq checks C' only; S too stops a vouch made for another
        // server from being replayed here).
        if vouch[..32] != client_short.as_bytes()[..]
            || vouch[32..64] != self.long_term.public.as_bytes()[..]
        {
            return Err(CurveError::BadVouch.into());
        }
        let peer = Metadata::decode(Bytes::copy_from_slice(&plain[128..]))?;
        Ok(Step::Authenticate(
            AuthRequest::Curve {
                public_key: client_long,
            },
            Handshake::CurveServerDecision(ServerAwaitingDecision {
                session,
                peer_nonce: initiate_nonce,
                peer,
                ours: self.ours,
            }),
        ))
    }
}

impl ServerAwaitingDecision {
    /// The caller allowed the client: READY, and the handshake is done.
    pub(crate) fn allow(self, out: &mut Outbox) -> Step {
        let tail = READY_SHORT_NONCE.to_be_bytes();
        let mut metadata = BytesMut::new();
        self.ours.encode(&mut metadata);
        let mut ready = Vec::with_capacity(READY.len() + 8 + 16 + metadata.len());
        ready.extend_from_slice(READY);
        ready.extend_from_slice(&tail);
        self.session
            .seal_into(&nonce(READY_NONCE, &tail), &metadata, &mut ready);
        out.command_body(&ready);
        let codec = CurveCodec::new(&self.session, false, READY_SHORT_NONCE + 1, self.peer_nonce);
        Step::Done(self.peer, Codec::Curve(Box::new(codec)))
    }
}
