//! The differential fuzz target's body (fuzz/fuzz_targets/cipher.rs):
//! Salsa20, XSalsa20, HSalsa20 and Poly1305 against RustCrypto's `salsa20`
//! and `poly1305` for the key, nonce, starting block, split and message a
//! fuzzer writes. Only with the feature `differential`.

use ::poly1305::universal_hash::KeyInit;
use salsa20::cipher::consts::U10;
use salsa20::cipher::generic_array::GenericArray;
use salsa20::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};

use crate::{Salsa20, XSalsa20, hsalsa20, poly1305};

/// Reads `N` octets from the front of `data`, zeros past its end.
fn take<const N: usize>(data: &mut &[u8]) -> [u8; N] {
    let mut out = [0; N];
    let n = data.len().min(N);
    out[..n].copy_from_slice(&data[..n]);
    *data = &data[n..];
    out
}

/// Panics if this crate and the references disagree on `data`: a key
/// (32 octets), a nonce (24), a starting block (8, below 2^58, as the
/// reference seeks in octets), a split point (2), then the message.
pub fn differential(mut data: &[u8]) {
    let key = take::<32>(&mut data);
    let nonce = take::<24>(&mut data);
    let counter = u64::from_le_bytes(take(&mut data)) >> 6;
    let cut = usize::from(u16::from_le_bytes(take(&mut data))) % (data.len() + 1);
    let short: [u8; 8] = nonce[16..].try_into().unwrap();

    let mut expected = data.to_vec();
    let mut reference = salsa20::Salsa20::new(&key.into(), &short.into());
    reference.seek(counter * 64);
    reference.apply_keystream(&mut expected);
    let mut ours = data.to_vec();
    let (a, b) = ours.split_at_mut(cut);
    let mut stream = Salsa20::starting_at(&key, &short, counter);
    stream.apply_keystream(a);
    stream.apply_keystream(b);
    assert_eq!(ours, expected, "Salsa20");

    let mut expected = data.to_vec();
    salsa20::XSalsa20::new(&key.into(), &nonce.into()).apply_keystream(&mut expected);
    let mut ours = data.to_vec();
    XSalsa20::new(&key, &nonce).apply_keystream(&mut ours);
    assert_eq!(ours, expected, "XSalsa20");

    let prefix: [u8; 16] = nonce[..16].try_into().unwrap();
    let subkey = salsa20::hsalsa::<U10>(GenericArray::from_slice(&key), (&prefix).into());
    assert_eq!(hsalsa20(&key, &prefix)[..], subkey[..], "HSalsa20");

    let tag = ::poly1305::Poly1305::new((&key).into()).compute_unpadded(data);
    assert_eq!(poly1305(&key, data)[..], tag[..], "Poly1305");
}
