//! Published test vectors for Salsa20/20, HSalsa20 and XSalsa20, written
//! in from their sources (cited at each), not derived from any
//! implementation.

use hex_literal::hex;
use weirmq_cipher::{Salsa20, XSalsa20, hsalsa20};

/// `n` octets of keystream of `stream` (XORed into zeros).
fn keystream(mut apply: impl FnMut(&mut [u8]), n: usize) -> Vec<u8> {
    let mut out = vec![0; n];
    apply(&mut out);
    out
}

/// The Salsa20 specification (Bernstein, 2005), section 10, the example of
/// the Salsa20 expansion function with a 32-octet key: k0 = 1..=16,
/// k1 = 201..=216, n = 101..=116. The 16 octets of n are the nonce (8)
/// then the block counter (8, little-endian), so this is block
/// 0x74737271706f6e6d of the keystream of nonce 101..=108: a counter
/// whose high word is not zero.
#[test]
fn specification_expansion_example() {
    let mut key = [0; 32];
    for (i, k) in key.iter_mut().enumerate() {
        *k = if i < 16 { 1 + i as u8 } else { 185 + i as u8 };
    }
    let nonce: [u8; 8] = std::array::from_fn(|i| 101 + i as u8);
    let counter = u64::from_le_bytes(std::array::from_fn(|i| 109 + i as u8));
    let expected: [u8; 64] = [
        69, 37, 68, 39, 41, 15, 107, 193, 255, 139, 122, 6, 170, 233, 217, 98, 89, 144, 182, 106,
        21, 51, 200, 65, 239, 49, 222, 34, 215, 114, 40, 126, 104, 197, 7, 225, 197, 153, 31, 2,
        102, 78, 76, 176, 84, 245, 246, 184, 177, 160, 133, 130, 6, 72, 149, 119, 192, 195, 132,
        236, 234, 103, 246, 74,
    ];
    let mut stream = Salsa20::starting_at(&key, &nonce, counter);
    assert_eq!(keystream(|b| stream.apply_keystream(b), 64), expected);
}

/// ECRYPT stream cipher project, Salsa20/20 (256-bit key) verified test
/// vectors (`verified.test-vectors`), set 1, vector 0: key 80 00 .. 00,
/// IV 0; `stream[0..63]`.
#[test]
fn ecrypt_set_1_vector_0() {
    let mut key = [0; 32];
    key[0] = 0x80;
    let expected = hex!(
        "e3be8fdd8beca2e3ea8ef9475b29a6e7003951e1097a5c38d23b7a5fad9f6844"
        "b22c97559e2723c7cbbd3fe4fc8d9a0744652a83e72a9c461876af4d7ef1a117"
    );
    let mut stream = Salsa20::new(&key, &[0; 8]);
    assert_eq!(keystream(|b| stream.apply_keystream(b), 64), expected);
}

/// NaCl's `tests/core1.c` (HSalsa20 of the X25519 secret Alice and Bob
/// share, and 16 zero octets: `crypto_box_beforenm`) and `tests/core2.c`
/// (HSalsa20 of that key and the first 16 octets of the nonce, XSalsa20's
/// subkey).
#[test]
fn nacl_hsalsa20() {
    let shared = hex!("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
    assert_eq!(hsalsa20(&shared, &[0; 16]), FIRST_KEY);
    assert_eq!(
        hsalsa20(&FIRST_KEY, &hex!("69696ee955b62b73cd62bda875fc73d6")),
        hex!("dc908dda0b9344a953629b733820778880f3ceb421bb61b91cbd4c3e66256ce4")
    );
}

const FIRST_KEY: [u8; 32] =
    hex!("1b27556473e985d462cd51197a9a46c76009549eac6474f206c4ee0844f68389");
const NONCE: [u8; 24] = hex!("69696ee955b62b73cd62bda875fc73d68219e0036b7a0b37");

/// NaCl's `tests/stream3.c`: the first 32 octets of the XSalsa20 stream of
/// `firstkey` and the box nonce (which key Poly1305 in `tests/box.c`).
#[test]
fn nacl_stream3() {
    let mut stream = XSalsa20::new(&FIRST_KEY, &NONCE);
    assert_eq!(
        keystream(|b| stream.apply_keystream(b), 32),
        hex!("eea6a7251c1e72916d11c2cb214d3c252539121d8e234e652d651fa4c8cff880")
    );
}

/// NaCl's `tests/box.c` and `tests/secretbox.c`: the 131-octet message
/// encrypted by XSalsa20 from octet 32 of the stream (after the Poly1305
/// key), in one piece and in pieces; its ciphertext is the box after the
/// tag.
#[test]
fn nacl_box_ciphertext() {
    let message = hex!(
        "be075fc53c81f2d5cf141316ebeb0c7b5228c52a4c62cbd44b66849b64244ffc"
        "e5ecbaaf33bd751a1ac728d45e6c61296cdc3c01233561f41db66cce314adb31"
        "0e3be8250c46f06dceea3a7fa1348057e2f6556ad6b1318a024a838f21af1fde"
        "048977eb48f59ffd4924ca1c60902e52f0a089bc76897040e082f93776384864"
        "5e0705"
    );
    let ciphertext = hex!(
        "8e993b9f48681273c29650ba32fc76ce48332ea7164d96a4476fb8c531a1186a"
        "c0dfc17c98dce87b4da7f011ec48c97271d2c20f9b928fe2270d6fb863d51738"
        "b48eeee314a7cc8ab932164548e526ae90224368517acfeabd6bb3732bc0e9da"
        "99832b61ca01b6de56244a9e88d5f9b37973f622a43d14a6599b1f654cb45a74"
        "e355a5"
    );
    for split in [0, 1, 31, 32, 33, 64, 130, 131] {
        let mut stream = XSalsa20::new(&FIRST_KEY, &NONCE);
        stream.apply_keystream(&mut [0; 32]);
        let mut buf = message;
        let (a, b) = buf.split_at_mut(split);
        stream.apply_keystream(a);
        stream.apply_keystream(b);
        assert_eq!(buf, ciphertext, "split at {split}");
    }
}
