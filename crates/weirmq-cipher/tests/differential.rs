//! Salsa20, XSalsa20 and HSalsa20 against RustCrypto's `salsa20` crate, for
//! any key, nonce, starting block and length, applied whole or in pieces.

use proptest::prelude::*;
use salsa20::cipher::consts::U10;
use salsa20::cipher::generic_array::GenericArray;
use salsa20::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
use weirmq_cipher::{Salsa20, XSalsa20, hsalsa20};

/// Starting blocks: small ones, ones whose batches cross 2^32 (the carry
/// into the counter's high word), and any below 2^58 (the reference seeks
/// in octets, a u64).
fn counter() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..8, (1u64 << 32) - 8..(1u64 << 32) + 8, 0u64..1 << 58,]
}

/// Lengths around the edges of a block (64) and of a batch of four (256),
/// and any up to a few batches.
fn length() -> impl Strategy<Value = usize> {
    prop_oneof![
        prop::sample::select(vec![
            0, 1, 63, 64, 65, 255, 256, 257, 511, 512, 1023, 1024, 1057
        ]),
        0usize..3000,
    ]
}

fn reference_salsa20(key: &[u8; 32], nonce: &[u8; 8], counter: u64, buf: &mut [u8]) {
    let mut cipher = salsa20::Salsa20::new(key.into(), nonce.into());
    cipher.seek(counter * 64);
    cipher.apply_keystream(buf);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn salsa20_matches(
        key in any::<[u8; 32]>(),
        nonce in any::<[u8; 8]>(),
        counter in counter(),
        data in length().prop_flat_map(|n| prop::collection::vec(any::<u8>(), n)),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut expected = data.clone();
        reference_salsa20(&key, &nonce, counter, &mut expected);

        let mut whole = data.clone();
        Salsa20::starting_at(&key, &nonce, counter).apply_keystream(&mut whole);
        prop_assert_eq!(&whole, &expected);

        let mut pieces = data.clone();
        let cut = cut.index(data.len() + 1);
        let (a, b) = pieces.split_at_mut(cut);
        let mut stream = Salsa20::starting_at(&key, &nonce, counter);
        stream.apply_keystream(a);
        stream.apply_keystream(b);
        prop_assert_eq!(&pieces, &expected);
    }

    #[test]
    fn xsalsa20_matches(
        key in any::<[u8; 32]>(),
        nonce in any::<[u8; 24]>(),
        counter in counter(),
        data in length().prop_flat_map(|n| prop::collection::vec(any::<u8>(), n)),
    ) {
        let mut expected = data.clone();
        let mut cipher = salsa20::XSalsa20::new(&key.into(), &nonce.into());
        cipher.seek(counter * 64);
        cipher.apply_keystream(&mut expected);

        let mut ours = data;
        XSalsa20::starting_at(&key, &nonce, counter).apply_keystream(&mut ours);
        prop_assert_eq!(ours, expected);
    }

    #[test]
    fn hsalsa20_matches(key in any::<[u8; 32]>(), input in any::<[u8; 16]>()) {
        let expected = salsa20::hsalsa::<U10>(
            GenericArray::from_slice(&key),
            GenericArray::from_slice(&input),
        );
        prop_assert_eq!(&hsalsa20(&key, &input)[..], &expected[..]);
    }

    /// Many pieces, of any lengths, make the same stream as one.
    #[test]
    fn pieces_make_the_same_stream(
        key in any::<[u8; 32]>(),
        lengths in prop::collection::vec(0usize..300, 0..12),
    ) {
        let total = lengths.iter().sum();
        let mut whole = vec![0; total];
        Salsa20::new(&key, &[1; 8]).apply_keystream(&mut whole);
        let mut stream = Salsa20::new(&key, &[1; 8]);
        let mut pieces = vec![0; total];
        let mut at = 0;
        for n in lengths {
            stream.apply_keystream(&mut pieces[at..at + n]);
            at += n;
        }
        prop_assert_eq!(pieces, whole);
    }
}

/// The counter wraps modulo 2^64, as NaCl's does: the block after
/// u64::MAX is block 0.
#[test]
fn the_counter_wraps() {
    let (key, nonce) = ([3; 32], [4; 8]);
    let mut across = [0; 128];
    Salsa20::starting_at(&key, &nonce, u64::MAX).apply_keystream(&mut across);
    let (mut last, mut first) = ([0; 64], [0; 64]);
    Salsa20::new(&key, &nonce).apply_keystream(&mut first);
    Salsa20::starting_at(&key, &nonce, u64::MAX).apply_keystream(&mut last);
    assert_eq!(&across[..64], &last);
    assert_eq!(&across[64..], &first);
}
