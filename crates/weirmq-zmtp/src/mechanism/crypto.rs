//! The cryptographic primitives CURVE needs, behind one narrow interface.
//!
//! NaCl's `crypto_box` (X25519, then XSalsa20 and Poly1305) for the
//! handshake boxes and MESSAGE frames, `crypto_secretbox` for the cookie, and
//! the operating system's random number generator. A box on the wire is the
//! 16-octet Poly1305 tag followed by the ciphertext, as NaCl's
//! `crypto_box_easy` lays it out and libzmq sends it.
//!
//! The primitives: X25519 from `curve25519-dalek` and XSalsa20-Poly1305
//! from `crypto_secretbox` for the handshake boxes (RustCrypto's);
//! HSalsa20, Salsa20 and Poly1305 for the MESSAGE boxes from
//! `weirmq-cipher`, this workspace's, whose keystream is computed four
//! blocks at a time in packed SIMD (held there to the Salsa20
//! specification's, ECRYPT's, RFC 8439's and NaCl's vectors and to the
//! `salsa20` and `poly1305` crates). What is here is the
//! composition, which the tests hold to NaCl's test vectors and to the
//! `crypto_box` crate's output:
//! - [`BoxKey::pair`] is `crypto_box_beforenm`: HSalsa20 of the X25519
//!   shared secret (RFC 7748, as libsodium computes it);
//! - a [`StreamKey`] seals the boxes of one key whose nonces share their
//!   first 16 octets, as CURVE's MESSAGEs in one direction do
//!   (`CurveZMQMESSAGEC` + an 8-octet counter). XSalsa20 is Salsa20 under
//!   a key that HSalsa20 derives from those 16 octets, so that derivation
//!   is done once per direction instead of once per MESSAGE.
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
/// The part of an XSalsa20 nonce that HSalsa20 takes.
pub(crate) const NONCE_PREFIX_LEN: usize = 16;
/// The rest: Salsa20's own nonce.
pub(crate) const NONCE_TAIL_LEN: usize = NONCE_LEN - NONCE_PREFIX_LEN;

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
    use crypto_secretbox::XSalsa20Poly1305;
    use crypto_secretbox::aead::generic_array::GenericArray;
    use crypto_secretbox::aead::{AeadInPlace, KeyInit, OsRng, rand_core::RngCore};
    use curve25519_dalek::montgomery::MontgomeryPoint;
    use subtle::ConstantTimeEq;
    use weirmq_cipher::Salsa20;
    use zeroize::Zeroizing;

    use super::{NONCE_LEN, NONCE_PREFIX_LEN, NONCE_TAIL_LEN, TAG_LEN, Unopened};
    use crate::keys::{Keypair, PublicKey, SecretKey};

    /// HSalsa20 (20 rounds): NaCl's key derivation from a key and 16
    /// octets.
    fn hsalsa20(key: &[u8; 32], input: &[u8; NONCE_PREFIX_LEN]) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(weirmq_cipher::hsalsa20(key, input))
    }

    /// An XSalsa20-Poly1305 key: `crypto_box_beforenm`'s output for a pair
    /// of keys, or a `crypto_secretbox` key.
    pub(crate) struct BoxKey(pub(super) Zeroizing<[u8; 32]>);

    impl BoxKey {
        /// `crypto_box_beforenm`: HSalsa20 of the X25519 shared secret and
        /// 16 zero octets, as NaCl and libsodium compute it.
        ///
        /// A public key of small order makes the shared secret all zeros,
        /// a value anyone can compute: libsodium refuses it, and here the
        /// key becomes a random one instead, so that nothing sealed for it
        /// opens and nothing sealed under it can be read (the handshake
        /// then fails as with any wrong key).
        pub(crate) fn pair(theirs: &PublicKey, ours: &SecretKey) -> BoxKey {
            let mut shared = Zeroizing::new(
                MontgomeryPoint(*theirs.as_bytes())
                    .mul_clamped(*ours.as_bytes())
                    .to_bytes(),
            );
            if bool::from(shared.ct_eq(&[0; 32])) {
                random(&mut shared[..]);
            }
            BoxKey(hsalsa20(&shared, &[0; NONCE_PREFIX_LEN]))
        }

        pub(crate) fn secret(key: &[u8; 32]) -> BoxKey {
            BoxKey(Zeroizing::new(*key))
        }

        fn cipher(&self) -> XSalsa20Poly1305 {
            XSalsa20Poly1305::new(GenericArray::from_slice(&self.0[..]))
        }

        /// The key for every box under this key whose nonce starts with
        /// `prefix`: XSalsa20's HSalsa20 step done once, not per box.
        pub(crate) fn stream(&self, prefix: &[u8; NONCE_PREFIX_LEN]) -> StreamKey {
            StreamKey(hsalsa20(&self.0, prefix))
        }

        pub(crate) fn seal_in_place(
            &self,
            nonce: &[u8; NONCE_LEN],
            buf: &mut [u8],
        ) -> [u8; TAG_LEN] {
            // Only fails for associated data (none here) or for more octets
            // than a u64 counts.
            self.cipher()
                .encrypt_in_place_detached(GenericArray::from_slice(nonce), b"", buf)
                .expect("XSalsa20Poly1305 seals any in-memory buffer")
                .into()
        }

        pub(crate) fn open_in_place(
            &self,
            nonce: &[u8; NONCE_LEN],
            buf: &mut [u8],
            tag: &[u8; TAG_LEN],
        ) -> Result<(), Unopened> {
            self.cipher()
                .decrypt_in_place_detached(
                    GenericArray::from_slice(nonce),
                    b"",
                    buf,
                    GenericArray::from_slice(tag),
                )
                .map_err(|_| Unopened)
        }
    }

    /// The boxes of one [`BoxKey`] whose nonces share one 16-octet prefix
    /// (CURVE's MESSAGEs in one direction), told apart by the last 8
    /// octets. XSalsa20 under key `k` and nonce `prefix + tail` is Salsa20
    /// under HSalsa20(`k`, `prefix`) and nonce `tail`; this holds that
    /// derived key. A box is then exactly NaCl's `crypto_secretbox`: the
    /// first 32 octets of keystream key Poly1305, the rest encrypt, and the
    /// tag authenticates the ciphertext.
    pub(crate) struct StreamKey(pub(super) Zeroizing<[u8; 32]>);

    impl StreamKey {
        /// The keystream for one box, and its one-time Poly1305 key.
        fn start(&self, tail: &[u8; NONCE_TAIL_LEN]) -> (Salsa20, Zeroizing<[u8; 32]>) {
            let mut stream = Salsa20::new(&self.0, tail);
            let mut mac_key = Zeroizing::new([0u8; 32]);
            stream.apply_keystream(&mut mac_key[..]);
            (stream, mac_key)
        }

        pub(crate) fn seal_in_place(
            &self,
            tail: &[u8; NONCE_TAIL_LEN],
            buf: &mut [u8],
        ) -> [u8; TAG_LEN] {
            let (mut stream, mac) = self.start(tail);
            stream.apply_keystream(buf);
            authenticate(mac, buf)
        }

        /// Checks the tag, then decrypts; a box that fails is left as it
        /// came.
        pub(crate) fn open_in_place(
            &self,
            tail: &[u8; NONCE_TAIL_LEN],
            buf: &mut [u8],
            tag: &[u8; TAG_LEN],
        ) -> Result<(), Unopened> {
            let (mut stream, mac) = self.start(tail);
            if !bool::from(authenticate(mac, buf).ct_eq(tag)) {
                return Err(Unopened);
            }
            stream.apply_keystream(buf);
            Ok(())
        }
    }

    /// Poly1305 over `data` as NaCl pads it: a short last block ends with
    /// a 1 octet.
    fn authenticate(mac_key: Zeroizing<[u8; 32]>, data: &[u8]) -> [u8; TAG_LEN] {
        weirmq_cipher::poly1305(&mac_key, data)
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
    use super::{NONCE_LEN, NONCE_PREFIX_LEN, NONCE_TAIL_LEN, TAG_LEN, Unopened};
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

        pub(crate) fn stream(&self, _prefix: &[u8; NONCE_PREFIX_LEN]) -> StreamKey {
            StreamKey
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

    /// Transparent: see the module docs.
    pub(crate) struct StreamKey;

    impl StreamKey {
        pub(crate) fn seal_in_place(
            &self,
            _tail: &[u8; NONCE_TAIL_LEN],
            _buf: &mut [u8],
        ) -> [u8; TAG_LEN] {
            [0; TAG_LEN]
        }

        pub(crate) fn open_in_place(
            &self,
            _tail: &[u8; NONCE_TAIL_LEN],
            _buf: &mut [u8],
            tag: &[u8; TAG_LEN],
        ) -> Result<(), Unopened> {
            BoxKey.open_in_place(&[0; NONCE_LEN], &mut [], tag)
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

pub(crate) use imp::{BoxKey, StreamKey, ephemeral_keypair, random};

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

/// The boxes must be NaCl's, octet for octet: libzmq (libsodium) opens
/// them. Checked against NaCl's own test vectors (`tests/box.c`, the keys
/// of RFC 7748 section 6.1) and against the `crypto_box` crate's
/// `SalsaBox`, which the handshake used before the MESSAGE boxes were
/// composed here.
#[cfg(all(test, not(fuzzing)))]
mod tests {
    use crypto_box::SalsaBox;
    use crypto_box::aead::AeadInPlace;
    use crypto_box::aead::generic_array::GenericArray;
    use hex_literal::hex;
    use proptest::prelude::*;

    use super::*;
    use crate::keys::{Keypair, PublicKey, SecretKey};

    const ALICE_SECRET: [u8; 32] =
        hex!("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
    const BOB_PUBLIC: [u8; 32] =
        hex!("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
    /// `crypto_box_beforenm(bobpk, alicesk)`: NaCl's `firstkey`.
    const FIRST_KEY: [u8; 32] =
        hex!("1b27556473e985d462cd51197a9a46c76009549eac6474f206c4ee0844f68389");
    /// HSalsa20 of `FIRST_KEY` and the nonce's first 16 octets: `secondkey`.
    const SECOND_KEY: [u8; 32] =
        hex!("dc908dda0b9344a953629b733820778880f3ceb421bb61b91cbd4c3e66256ce4");
    const NONCE: [u8; 24] = hex!("69696ee955b62b73cd62bda875fc73d68219e0036b7a0b37");
    const MESSAGE: [u8; 131] = hex!(
        "be075fc53c81f2d5cf141316ebeb0c7b5228c52a4c62cbd44b66849b64244ffc"
        "e5ecbaaf33bd751a1ac728d45e6c61296cdc3c01233561f41db66cce314adb31"
        "0e3be8250c46f06dceea3a7fa1348057e2f6556ad6b1318a024a838f21af1fde"
        "048977eb48f59ffd4924ca1c60902e52f0a089bc76897040e082f93776384864"
        "5e0705"
    );
    /// The tag, then the ciphertext.
    const BOXED: [u8; 147] = hex!(
        "f3ffc7703f9400e52a7dfb4b3d3305d9"
        "8e993b9f48681273c29650ba32fc76ce48332ea7164d96a4476fb8c531a1186a"
        "c0dfc17c98dce87b4da7f011ec48c97271d2c20f9b928fe2270d6fb863d51738"
        "b48eeee314a7cc8ab932164548e526ae90224368517acfeabd6bb3732bc0e9da"
        "99832b61ca01b6de56244a9e88d5f9b37973f622a43d14a6599b1f654cb45a74"
        "e355a5"
    );

    fn split(nonce: &[u8; NONCE_LEN]) -> ([u8; NONCE_PREFIX_LEN], [u8; NONCE_TAIL_LEN]) {
        let (prefix, tail) = nonce.split_at(NONCE_PREFIX_LEN);
        (prefix.try_into().unwrap(), tail.try_into().unwrap())
    }

    /// What `crypto_box` seals: the tag, then the ciphertext.
    fn salsa_box(
        theirs: &PublicKey,
        ours: &SecretKey,
        nonce: &[u8; NONCE_LEN],
        plain: &[u8],
    ) -> Vec<u8> {
        let key = SalsaBox::new(
            &crypto_box::PublicKey::from(*theirs.as_bytes()),
            &crypto_box::SecretKey::from(*ours.as_bytes()),
        );
        let mut buf = plain.to_vec();
        let tag = key
            .encrypt_in_place_detached(GenericArray::from_slice(nonce), b"", &mut buf)
            .unwrap();
        [&tag[..], &buf[..]].concat()
    }

    fn stream_seal(key: &StreamKey, tail: &[u8; NONCE_TAIL_LEN], plain: &[u8]) -> Vec<u8> {
        let mut buf = plain.to_vec();
        let tag = key.seal_in_place(tail, &mut buf);
        [&tag[..], &buf[..]].concat()
    }

    fn stream_open(
        key: &StreamKey,
        tail: &[u8; NONCE_TAIL_LEN],
        sealed: &[u8],
    ) -> Result<Vec<u8>, Unopened> {
        let (tag, ciphertext) = sealed.split_first_chunk::<TAG_LEN>().unwrap();
        let mut buf = ciphertext.to_vec();
        key.open_in_place(tail, &mut buf, tag)?;
        Ok(buf)
    }

    #[test]
    fn nacl_box_vectors() {
        let key = BoxKey::pair(
            &PublicKey::from_bytes(BOB_PUBLIC),
            &SecretKey::from_bytes(ALICE_SECRET),
        );
        assert_eq!(*key.0, FIRST_KEY);
        let mut boxed = Vec::new();
        key.seal_into(&NONCE, &MESSAGE, &mut boxed);
        assert_eq!(boxed, BOXED);
        assert_eq!(&key.open(&NONCE, &BOXED).unwrap()[..], &MESSAGE[..]);

        let (prefix, tail) = split(&NONCE);
        let stream = key.stream(&prefix);
        assert_eq!(*stream.0, SECOND_KEY);
        assert_eq!(stream_seal(&stream, &tail, &MESSAGE), BOXED);
        assert_eq!(stream_open(&stream, &tail, &BOXED).unwrap(), MESSAGE);
    }

    #[test]
    fn both_ends_of_a_pair_share_the_key() {
        let (a, b) = (Keypair::generate(), Keypair::generate());
        let ab = BoxKey::pair(&b.public, &a.secret);
        let ba = BoxKey::pair(&a.public, &b.secret);
        assert_eq!(*ab.0, *ba.0);
        let other = BoxKey::pair(&Keypair::generate().public, &a.secret);
        assert_ne!(*ab.0, *other.0);
    }

    /// Lengths around every block edge of Poly1305 (16) and Salsa20 (64,
    /// with the 32 octets of the first block that key Poly1305), and the
    /// CURVE MESSAGE of a 1 KiB frame (1025 with its flags octet).
    const LENGTHS: &[usize] = &[
        0, 1, 15, 16, 17, 31, 32, 33, 47, 48, 63, 64, 65, 95, 96, 97, 127, 128, 129, 255, 256, 257,
        1023, 1024, 1025, 1026, 4099,
    ];

    #[test]
    fn boxes_match_crypto_box() {
        for _ in 0..4 {
            let (a, b) = (Keypair::generate(), Keypair::generate());
            let key = BoxKey::pair(&b.public, &a.secret);
            for prefix in [
                b"CurveZMQMESSAGEC",
                b"CurveZMQMESSAGES",
                b"CurveZMQREADY---",
            ] {
                let stream = key.stream(prefix);
                for short in [1u64, 2, 0x0102_0304_0506_0708, u64::MAX] {
                    let tail = short.to_be_bytes();
                    let nonce = nonce(prefix, &tail);
                    for &len in LENGTHS {
                        let plain: Vec<u8> = (0..len).map(|i| (i * 7 + len) as u8).collect();
                        let expected = salsa_box(&b.public, &a.secret, &nonce, &plain);
                        assert_eq!(
                            stream_seal(&stream, &tail, &plain),
                            expected,
                            "stream, {len}"
                        );
                        let mut boxed = Vec::new();
                        key.seal_into(&nonce, &plain, &mut boxed);
                        assert_eq!(boxed, expected, "box, {len}");
                        assert_eq!(stream_open(&stream, &tail, &expected).unwrap(), plain);
                    }
                }
            }
        }
    }

    #[test]
    fn a_stream_box_opens_only_intact_and_stays_untouched_otherwise() {
        let key = BoxKey::pair(
            &PublicKey::from_bytes(BOB_PUBLIC),
            &SecretKey::from_bytes(ALICE_SECRET),
        );
        let (prefix, tail) = split(&NONCE);
        let stream = key.stream(&prefix);
        for bit in 0..BOXED.len() * 8 {
            let mut forged = BOXED;
            forged[bit / 8] ^= 1 << (bit % 8);
            let (tag, ciphertext) = forged.split_first_chunk::<TAG_LEN>().unwrap();
            let mut buf = ciphertext.to_vec();
            assert!(
                stream.open_in_place(&tail, &mut buf, tag).is_err(),
                "bit {bit}"
            );
            assert_eq!(buf, ciphertext, "a refused box is left as it came");
        }
        let mut other_tail = tail;
        other_tail[7] ^= 1;
        assert!(stream_open(&stream, &other_tail, &BOXED).is_err());
        let mut other_prefix = prefix;
        other_prefix[0] ^= 1;
        assert!(stream_open(&key.stream(&other_prefix), &tail, &BOXED).is_err());
    }

    proptest! {
        #[test]
        fn any_stream_box_matches_crypto_box(
            plain in prop::collection::vec(any::<u8>(), 0..3000),
            short in any::<u64>(),
            seed in any::<[u8; 32]>(),
        ) {
            let ours = SecretKey::from_bytes(seed);
            let theirs = SecretKey::from_bytes(hex!(
                "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"
            ))
            .public_key();
            let tail = short.to_be_bytes();
            let prefix = b"CurveZMQMESSAGES";
            let expected = salsa_box(&theirs, &ours, &nonce(prefix, &tail), &plain);
            let stream = BoxKey::pair(&theirs, &ours).stream(prefix);
            prop_assert_eq!(stream_seal(&stream, &tail, &plain), expected);
        }
    }
}
