//! The cryptographic primitives CURVE needs, behind one narrow interface.
//!
//! NaCl's `crypto_box` (X25519, XSalsa20, Poly1305) for the handshake boxes
//! and MESSAGE frames, `crypto_secretbox` for the cookie, and the operating
//! system's random number generator, all from the RustCrypto `crypto_box` and
//! `crypto_secretbox` crates. A box on the wire is the 16-octet Poly1305 tag
//! followed by the ciphertext, as NaCl's `crypto_box_easy` lays it out and
//! libzmq sends it.
//!
//! Under `cfg(fuzzing)` (set by cargo-fuzz, never by a normal build) the same
//! interface is transparent: a box is 16 zero octets followed by the
//! plaintext, keys are their own public keys, and "random" octets are fixed.
//! A fuzzer can then write valid handshakes and reach every state behind the
//! crypto, as rustls's fuzzing provider allows.

/// Length of a Poly1305 tag.
pub(crate) const TAG_LEN: usize = 16;
/// Length of a full XSalsa20 nonce.
pub(crate) const NONCE_LEN: usize = 24;

/// The box could not be opened: wrong key, or forged or damaged octets.
#[derive(Debug)]
pub(crate) struct Unopened;

/// A full nonce: a protocol prefix, then the per-message part.
pub(crate) fn nonce(prefix: &[u8], tail: &[u8]) -> [u8; NONCE_LEN] {
    debug_assert_eq!(prefix.len() + tail.len(), NONCE_LEN);
    let mut n = [0; NONCE_LEN];
    n[..prefix.len()].copy_from_slice(prefix);
    n[prefix.len()..].copy_from_slice(tail);
    n
}

#[cfg(not(fuzzing))]
mod imp {
    use crypto_box::SalsaBox;
    use crypto_box::aead::generic_array::GenericArray;
    use crypto_box::aead::{AeadInPlace, KeyInit, OsRng, rand_core::RngCore};
    use crypto_secretbox::XSalsa20Poly1305;

    use super::{NONCE_LEN, TAG_LEN, Unopened};
    use crate::keys::{Keypair, PublicKey, SecretKey};

    /// A `crypto_box` key precomputed for one pair of keys
    /// (`crypto_box_beforenm`), or a `crypto_secretbox` key.
    pub(crate) enum BoxKey {
        Pair(SalsaBox),
        Secret(XSalsa20Poly1305),
    }

    impl BoxKey {
        pub(crate) fn pair(theirs: &PublicKey, ours: &SecretKey) -> BoxKey {
            let theirs = crypto_box::PublicKey::from(*theirs.as_bytes());
            let ours = crypto_box::SecretKey::from(*ours.as_bytes());
            BoxKey::Pair(SalsaBox::new(&theirs, &ours))
        }

        pub(crate) fn secret(key: &[u8; 32]) -> BoxKey {
            BoxKey::Secret(XSalsa20Poly1305::new(GenericArray::from_slice(key)))
        }

        pub(crate) fn seal_in_place(
            &self,
            nonce: &[u8; NONCE_LEN],
            buf: &mut [u8],
        ) -> [u8; TAG_LEN] {
            let nonce = GenericArray::from_slice(nonce);
            // Only fails for associated data (none here) or for more octets
            // than a u64 counts.
            let tag = match self {
                BoxKey::Pair(k) => k.encrypt_in_place_detached(nonce, b"", buf),
                BoxKey::Secret(k) => k.encrypt_in_place_detached(nonce, b"", buf),
            }
            .expect("XSalsa20Poly1305 seals any in-memory buffer");
            tag.into()
        }

        pub(crate) fn open_in_place(
            &self,
            nonce: &[u8; NONCE_LEN],
            buf: &mut [u8],
            tag: &[u8; TAG_LEN],
        ) -> Result<(), Unopened> {
            let nonce = GenericArray::from_slice(nonce);
            let tag = GenericArray::from_slice(tag);
            match self {
                BoxKey::Pair(k) => k.decrypt_in_place_detached(nonce, b"", buf, tag),
                BoxKey::Secret(k) => k.decrypt_in_place_detached(nonce, b"", buf, tag),
            }
            .map_err(|_| Unopened)
        }
    }

    pub(crate) fn random(buf: &mut [u8]) {
        OsRng.fill_bytes(buf);
    }

    /// A fresh per-connection keypair (C', S').
    pub(crate) fn ephemeral_keypair() -> Keypair {
        Keypair::generate()
    }
}

#[cfg(fuzzing)]
mod imp {
    use super::{NONCE_LEN, TAG_LEN, Unopened};
    use crate::keys::{Keypair, PublicKey, SecretKey};

    /// Transparent: see the module docs.
    pub(crate) struct BoxKey;

    impl BoxKey {
        pub(crate) fn pair(_theirs: &PublicKey, _ours: &SecretKey) -> BoxKey {
            BoxKey
        }

        pub(crate) fn secret(_key: &[u8; 32]) -> BoxKey {
            BoxKey
        }

        pub(crate) fn seal_in_place(
            &self,
            _nonce: &[u8; NONCE_LEN],
            _buf: &mut [u8],
        ) -> [u8; TAG_LEN] {
            [0; TAG_LEN]
        }

        pub(crate) fn open_in_place(
            &self,
            _nonce: &[u8; NONCE_LEN],
            _buf: &mut [u8],
            tag: &[u8; TAG_LEN],
        ) -> Result<(), Unopened> {
            if *tag == [0; TAG_LEN] {
                Ok(())
            } else {
                Err(Unopened)
            }
        }
    }

    pub(crate) fn random(buf: &mut [u8]) {
        buf.fill(0x5a);
    }

    /// A fresh per-connection keypair (C', S').
    pub(crate) fn ephemeral_keypair() -> Keypair {
        let raw = [0x42; 32];
        Keypair {
            public: PublicKey::from_bytes(raw),
            secret: SecretKey::from_bytes(raw),
        }
    }
}

pub(crate) use imp::{BoxKey, ephemeral_keypair, random};

impl BoxKey {
    /// Seals `plaintext`: the tag, then the ciphertext, appended to `out`.
    pub(crate) fn seal_into(&self, nonce: &[u8; NONCE_LEN], plaintext: &[u8], out: &mut Vec<u8>) {
        let at = out.len();
        out.extend_from_slice(&[0; TAG_LEN]);
        out.extend_from_slice(plaintext);
        let tag = self.seal_in_place(nonce, &mut out[at + TAG_LEN..]);
        out[at..at + TAG_LEN].copy_from_slice(&tag);
    }

    /// Opens a box (tag then ciphertext) into a buffer that is wiped when
    /// dropped.
    pub(crate) fn open(
        &self,
        nonce: &[u8; NONCE_LEN],
        sealed: &[u8],
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, Unopened> {
        let (tag, ciphertext) = sealed.split_first_chunk::<TAG_LEN>().ok_or(Unopened)?;
        let mut plain = zeroize::Zeroizing::new(ciphertext.to_vec());
        self.open_in_place(nonce, &mut plain, tag)?;
        Ok(plain)
    }
}

/// `N` random octets.
pub(crate) fn random_array<const N: usize>() -> [u8; N] {
    let mut a = [0; N];
    random(&mut a);
    a
}
