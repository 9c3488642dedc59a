//! Poly1305 against published vectors (RFC 8439 section 2.5.2 and
//! appendix A.3, NaCl's `tests/onetimeauth.c`) and against RustCrypto's
//! `poly1305` crate for any key and message.

use hex_literal::hex;
use poly1305::universal_hash::KeyInit;
use proptest::prelude::*;
use weirmq_cipher::poly1305;

/// `r` then `s`, each 16 octets.
fn key(r: [u8; 16], s: [u8; 16]) -> [u8; 32] {
    let mut k = [0; 32];
    k[..16].copy_from_slice(&r);
    k[16..].copy_from_slice(&s);
    k
}

/// `x` then fifteen `y`.
fn block(x: u8, y: u8) -> [u8; 16] {
    let mut b = [y; 16];
    b[0] = x;
    b
}

#[test]
fn rfc8439_section_2_5_2() {
    let key = hex!("85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b");
    assert_eq!(
        poly1305(&key, b"Cryptographic Forum Research Group"),
        hex!("a8061dc1305136c6c22b8baf0c0127a9")
    );
}

/// NaCl's `tests/onetimeauth.c`: the tag of `tests/box.c`'s ciphertext.
#[test]
fn nacl_onetimeauth() {
    let key = hex!("eea6a7251c1e72916d11c2cb214d3c252539121d8e234e652d651fa4c8cff880");
    let message = hex!(
        "8e993b9f48681273c29650ba32fc76ce48332ea7164d96a4476fb8c531a1186a"
        "c0dfc17c98dce87b4da7f011ec48c97271d2c20f9b928fe2270d6fb863d51738"
        "b48eeee314a7cc8ab932164548e526ae90224368517acfeabd6bb3732bc0e9da"
        "99832b61ca01b6de56244a9e88d5f9b37973f622a43d14a6599b1f654cb45a74"
        "e355a5"
    );
    assert_eq!(
        poly1305(&key, &message),
        hex!("f3ffc7703f9400e52a7dfb4b3d3305d9")
    );
}

/// RFC 8439 appendix A.3, test vectors 1 and 5 to 9: the edge cases of
/// the final reduction and of the carries.
#[test]
fn rfc8439_appendix_a3() {
    let one = block(1, 0);
    let two = block(2, 0);
    let zero = [0; 16];
    assert_eq!(poly1305(&[0; 32], &[0; 64]), zero);
    assert_eq!(poly1305(&key(two, zero), &[0xff; 16]), block(3, 0));
    assert_eq!(poly1305(&key(two, [0xff; 16]), &two), block(3, 0));
    let m7 = [[0xff; 16], block(0xf0, 0xff), block(0x11, 0)].concat();
    assert_eq!(poly1305(&key(one, zero), &m7), block(5, 0));
    let m8 = [[0xff; 16], block(0xfb, 0xfe), [0x01; 16]].concat();
    assert_eq!(poly1305(&key(one, zero), &m8), zero);
    assert_eq!(
        poly1305(&key(two, zero), &block(0xfd, 0xff)),
        block(0xfa, 0xff)
    );
}

fn reference(key: &[u8; 32], message: &[u8]) -> [u8; 16] {
    poly1305::Poly1305::new(key.into())
        .compute_unpadded(message)
        .into()
}

/// Octets that make the carries and the reduction work hardest as often
/// as any.
fn octet() -> impl Strategy<Value = u8> {
    prop_oneof![Just(0xff), Just(0), Just(0xfe), any::<u8>()]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn matches_the_poly1305_crate(
        key in prop::array::uniform32(octet()),
        message in prop::collection::vec(octet(), 0..2100),
    ) {
        prop_assert_eq!(poly1305(&key, &message), reference(&key, &message));
    }
}
