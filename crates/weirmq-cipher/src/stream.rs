//! Salsa20 and XSalsa20 keystreams XORed into buffers, in batches of
//! [`LANES`](crate::core::LANES) blocks; what a batch leaves over is kept
//! for the next call, so a stream can be applied in pieces of any length.

use zeroize::Zeroize;

use crate::core::{BATCH, BLOCK, hsalsa20, keystream, state};

/// A Salsa20/20 keystream under a 256-bit key and an 8-octet nonce,
/// starting at a 64-bit block counter: NaCl's
/// `crypto_stream_salsa20_xor_ic`. The counter wraps modulo 2^64, as
/// NaCl's does. Key material is wiped when dropped.
pub struct Salsa20 {
    /// The key, the nonce and the constants; the counter words unused.
    state: [u32; 16],
    /// The block the next batch starts at.
    counter: u64,
    /// The last batch of keystream; its first `used` octets are spent.
    left: [u8; BATCH],
    used: usize,
}

impl Salsa20 {
    /// The keystream of `key` and `nonce` from its first block.
    pub fn new(key: &[u8; 32], nonce: &[u8; 8]) -> Salsa20 {
        Salsa20::starting_at(key, nonce, 0)
    }

    /// The keystream of `key` and `nonce` from block `counter` (octet
    /// 64 x `counter`).
    pub fn starting_at(key: &[u8; 32], nonce: &[u8; 8], counter: u64) -> Salsa20 {
        let mut input = [0; 16];
        input[..8].copy_from_slice(nonce);
        Salsa20 {
            state: state(key, &input),
            counter,
            left: [0; BATCH],
            used: BATCH,
        }
    }

    /// XORs the next `buf.len()` octets of keystream into `buf`.
    pub fn apply_keystream(&mut self, buf: &mut [u8]) {
        let buf = self.apply_left(buf);
        let mut batches = buf.chunks_exact_mut(BATCH);
        let mut ks = [0; BATCH];
        for batch in &mut batches {
            self.next_batch(&mut ks);
            xor(batch, &ks);
        }
        ks.zeroize();
        let rest = batches.into_remainder();
        if !rest.is_empty() {
            let mut left = [0; BATCH];
            self.next_batch(&mut left);
            xor(rest, &left[..rest.len()]);
            self.left = left;
            self.used = rest.len();
        }
    }

    /// Spends what is left of the last batch on the start of `buf`, and
    /// hands back the rest of `buf`.
    fn apply_left<'b>(&mut self, buf: &'b mut [u8]) -> &'b mut [u8] {
        let n = buf.len().min(BATCH - self.used);
        let (now, rest) = buf.split_at_mut(n);
        xor(now, &self.left[self.used..self.used + n]);
        self.used += n;
        rest
    }

    fn next_batch(&mut self, out: &mut [u8; BATCH]) {
        keystream(&self.state, self.counter, out);
        self.counter = self.counter.wrapping_add((BATCH / BLOCK) as u64);
    }
}

impl Drop for Salsa20 {
    fn drop(&mut self) {
        self.state.zeroize();
        self.left.zeroize();
    }
}

/// `buf ^= keystream`, octet by octet (vectorised by the compiler).
#[inline(always)]
fn xor(buf: &mut [u8], keystream: &[u8]) {
    for (b, k) in buf.iter_mut().zip(keystream) {
        *b ^= k;
    }
}

/// An XSalsa20 keystream: Salsa20 under the key HSalsa20 derives from the
/// key and the first 16 octets of a 24-octet nonce, and the last 8 octets
/// as its nonce ("Extending the Salsa20 nonce", section 2); NaCl's
/// `crypto_stream_xsalsa20_xor_ic`.
pub struct XSalsa20(Salsa20);

impl XSalsa20 {
    /// The keystream of `key` and `nonce` from its first block.
    pub fn new(key: &[u8; 32], nonce: &[u8; 24]) -> XSalsa20 {
        XSalsa20::starting_at(key, nonce, 0)
    }

    /// The keystream of `key` and `nonce` from block `counter`.
    pub fn starting_at(key: &[u8; 32], nonce: &[u8; 24], counter: u64) -> XSalsa20 {
        let (prefix, tail) = nonce.split_at(16);
        let mut subkey = hsalsa20(key, prefix.try_into().unwrap());
        let stream = Salsa20::starting_at(&subkey, tail.try_into().unwrap(), counter);
        subkey.zeroize();
        XSalsa20(stream)
    }

    /// XORs the next `buf.len()` octets of keystream into `buf`.
    pub fn apply_keystream(&mut self, buf: &mut [u8]) {
        self.0.apply_keystream(buf);
    }
}
