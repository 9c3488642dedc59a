//! The CURVE client: HELLO, then INITIATE with the vouch, then READY.

use bytes::{Bytes, BytesMut};
use zeroize::Zeroizing;

use super::{
    COOKIE_LEN, CurveCodec, HELLO, HELLO_LEN, HELLO_NONCE, HELLO_PADDING, INITIATE, INITIATE_NONCE,
    READY, READY_MIN, READY_NONCE, VOUCH_NONCE, WELCOME, WELCOME_LEN, WELCOME_NONCE, check_size,
    short_nonce, unexpected,
};
use crate::error::{CurveError, Error};
use crate::keys::{Keypair, PublicKey};
use crate::mechanism::crypto::{BoxKey, ephemeral_keypair, nonce, random_array};
use crate::mechanism::{Codec, Handshake, Step};
use crate::metadata::Metadata;
use crate::outbox::Outbox;

/// Our short nonces: HELLO is 1, INITIATE 2, MESSAGEs from 3 (libzmq).
const HELLO_SHORT_NONCE: u64 = 1;
const INITIATE_SHORT_NONCE: u64 = 2;

/// HELLO sent; WELCOME awaited.
pub(crate) struct ClientAwaitingWelcome {
    /// S, the server's long-term key we were given.
    server: PublicKey,
    /// C and c, our long-term keypair.
    long_term: Keypair,
    /// C' and c', made for this connection.
    short_term: Keypair,
    /// Precomputed for (S, c'): HELLO's and WELCOME's box.
    hello_key: BoxKey,
    ours: Metadata,
}

/// INITIATE sent; READY awaited.
pub(crate) struct ClientAwaitingReady {
    /// Precomputed for (S', c'): everything from INITIATE on.
    session: BoxKey,
}

impl std::fmt::Debug for ClientAwaitingWelcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientAwaitingWelcome")
            .field("server", &self.server)
            .field("long_term", &self.long_term.public)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for ClientAwaitingReady {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientAwaitingReady")
            .finish_non_exhaustive()
    }
}

impl ClientAwaitingWelcome {
    pub(crate) fn start(
        server: &PublicKey,
        long_term: &Keypair,
        ours: &Metadata,
        out: &mut Outbox,
    ) -> ClientAwaitingWelcome {
        let short_term = ephemeral_keypair();
        let hello_key = BoxKey::pair(server, &short_term.secret);
        let tail = HELLO_SHORT_NONCE.to_be_bytes();
        let mut body = Vec::with_capacity(HELLO_LEN);
        body.extend_from_slice(HELLO);
        body.extend_from_slice(&[1, 0]);
        body.extend_from_slice(&[0; HELLO_PADDING]);
        body.extend_from_slice(short_term.public.as_bytes());
        body.extend_from_slice(&tail);
        // The box of zeros proves we hold c' for C' and know S, without
        // giving away who we are.
        hello_key.seal_into(&nonce(HELLO_NONCE, &tail), &[0; 64], &mut body);
        debug_assert_eq!(body.len(), HELLO_LEN);
        out.command_body(&body);
        ClientAwaitingWelcome {
            server: *server,
            long_term: long_term.clone(),
            short_term,
            hello_key,
            ours: ours.clone(),
        }
    }

    pub(crate) fn handle(self, body: Bytes, out: &mut Outbox) -> Result<Step, Error> {
        if !body.starts_with(WELCOME) {
            return Err(unexpected(body));
        }
        check_size("WELCOME", &body, body.len() == WELCOME_LEN, "168")?;
        let plain = self
            .hello_key
            .open(&nonce(WELCOME_NONCE, &body[8..24]), &body[24..])
            .map_err(|_| CurveError::Unopened("WELCOME"))?;
        let mut server_short = [0; 32];
        server_short.copy_from_slice(&plain[..32]);
        let server_short = PublicKey::from_bytes(server_short);
        let cookie = &plain[32..32 + COOKIE_LEN];

        // The vouch: Box[C' + S](C->S') proves that the holder of our
        // long-term key made this connection, to this server.
        let mut vouched = Zeroizing::new([0u8; 64]);
        vouched[..32].copy_from_slice(self.short_term.public.as_bytes());
        vouched[32..].copy_from_slice(self.server.as_bytes());
        let vouch_tail: [u8; 16] = random_array();
        let mut boxed = Zeroizing::new(Vec::with_capacity(256));
        boxed.extend_from_slice(self.long_term.public.as_bytes());
        boxed.extend_from_slice(&vouch_tail);
        BoxKey::pair(&server_short, &self.long_term.secret).seal_into(
            &nonce(VOUCH_NONCE, &vouch_tail),
            &vouched[..],
            &mut boxed,
        );
        let mut metadata = BytesMut::new();
        self.ours.encode(&mut metadata);
        boxed.extend_from_slice(&metadata);

        let session = BoxKey::pair(&server_short, &self.short_term.secret);
        let tail = INITIATE_SHORT_NONCE.to_be_bytes();
        let mut initiate = Vec::with_capacity(INITIATE.len() + COOKIE_LEN + 8 + 16 + boxed.len());
        initiate.extend_from_slice(INITIATE);
        initiate.extend_from_slice(cookie);
        initiate.extend_from_slice(&tail);
        session.seal_into(&nonce(INITIATE_NONCE, &tail), &boxed, &mut initiate);
        out.command_body(&initiate);
        Ok(Step::Continue(Handshake::CurveClientReady(
            ClientAwaitingReady { session },
        )))
    }
}

impl ClientAwaitingReady {
    pub(crate) fn handle(self, body: Bytes) -> Result<Step, Error> {
        if !body.starts_with(READY) {
            // A ZAP denial arrives here as ERROR.
            return Err(unexpected(body));
        }
        check_size("READY", &body, body.len() >= READY_MIN, "at least 30")?;
        let ready_nonce = short_nonce(&body[6..14]);
        let plain = self
            .session
            .open(&nonce(READY_NONCE, &body[6..14]), &body[14..])
            .map_err(|_| CurveError::Unopened("READY"))?;
        let peer = Metadata::decode(Bytes::copy_from_slice(&plain))?;
        let codec = CurveCodec::new(&self.session, true, INITIATE_SHORT_NONCE + 1, ready_nonce);
        Ok(Step::Done(peer, Codec::Curve(Box::new(codec))))
    }
}
