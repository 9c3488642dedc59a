//! The Salsa20 core: the double round, written once over a word type that
//! is either one `u32` (HSalsa20, one block) or four lanes of `u32` (four
//! keystream blocks at once, which the compiler turns into packed SIMD).

/// "expand 32-byte k", the constants of a 256-bit key, as words 0, 5, 10
/// and 15 of the state (the Salsa20 specification, section 9).
const SIGMA: [u32; 4] = [0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574];

/// Blocks computed at once.
pub(crate) const LANES: usize = 4;
/// Octets in one Salsa20 block.
pub(crate) const BLOCK: usize = 64;
/// Octets of keystream computed at once.
pub(crate) const BATCH: usize = LANES * BLOCK;

/// One state word of [`LANES`] blocks, a lane per block.
type Lanes = [u32; LANES];

/// The quarter-round on state words `a`, `b`, `c`, `d` (specification,
/// section 3).
#[inline(always)]
fn quarter(x: &mut [u32; 16], a: usize, b: usize, c: usize, d: usize) {
    x[b] ^= x[a].wrapping_add(x[d]).rotate_left(7);
    x[c] ^= x[b].wrapping_add(x[a]).rotate_left(9);
    x[d] ^= x[c].wrapping_add(x[b]).rotate_left(13);
    x[a] ^= x[d].wrapping_add(x[c]).rotate_left(18);
}

/// A double round: a column round then a row round (specification,
/// sections 5 to 7).
#[inline(always)]
fn double_round(x: &mut [u32; 16]) {
    quarter(x, 0, 4, 8, 12);
    quarter(x, 5, 9, 13, 1);
    quarter(x, 10, 14, 2, 6);
    quarter(x, 15, 3, 7, 11);
    quarter(x, 0, 1, 2, 3);
    quarter(x, 5, 6, 7, 4);
    quarter(x, 10, 11, 8, 9);
    quarter(x, 15, 12, 13, 14);
}

/// Salsa20/20's ten double rounds on [`LANES`] blocks.
///
/// The loop over the blocks is the innermost one, and each of its
/// iterations reads and writes lane `lane` of every word: the loop
/// vectoriser turns it into one iteration of packed operations on whole
/// `[u32; 4]` words. (Written the other way round, one quarter-round step
/// over four lanes at a time, it is left to the SLP vectoriser, which
/// gives up on chains this long and leaves the rounds scalar.)
#[inline(always)]
fn rounds(x: &mut [Lanes; 16]) {
    for _ in 0..10 {
        for lane in 0..LANES {
            let mut s: [u32; 16] = std::array::from_fn(|i| x[i][lane]);
            double_round(&mut s);
            for (word, s) in x.iter_mut().zip(s) {
                word[lane] = s;
            }
        }
    }
}

/// The little-endian words of `octets` (specification, section 2).
fn words<const N: usize>(octets: &[u8]) -> [u32; N] {
    std::array::from_fn(|i| u32::from_le_bytes(octets[4 * i..4 * i + 4].try_into().unwrap()))
}

/// The state of a 256-bit key and an input of 16 octets (for Salsa20 the
/// nonce then the block counter; for HSalsa20 its input): specification
/// section 9's layout.
pub(crate) fn state(key: &[u8; 32], input: &[u8; 16]) -> [u32; 16] {
    let (k, n) = (words::<8>(key), words::<4>(input));
    [
        SIGMA[0], k[0], k[1], k[2], k[3], SIGMA[1], n[0], n[1], n[2], n[3], SIGMA[2], k[4], k[5],
        k[6], k[7], SIGMA[3],
    ]
}

/// HSalsa20: the state of `key` and `input` through the twenty rounds, and
/// of it words 0, 5, 10, 15, 6, 7, 8 and 9, without the final addition
/// ("Extending the Salsa20 nonce", section 2). XSalsa20 derives its
/// subkey with it, and NaCl's `crypto_box_beforenm` its shared key.
pub fn hsalsa20(key: &[u8; 32], input: &[u8; 16]) -> [u8; 32] {
    let mut x = state(key, input);
    for _ in 0..10 {
        double_round(&mut x);
    }
    let mut out = [0; 32];
    for (o, i) in out.chunks_exact_mut(4).zip([0, 5, 10, 15, 6, 7, 8, 9]) {
        o.copy_from_slice(&x[i].to_le_bytes());
    }
    zeroize::Zeroize::zeroize(&mut x);
    out
}

/// [`LANES`] consecutive keystream blocks, from block `counter` (modulo
/// 2^64, as NaCl counts), of the Salsa20 `state` (whose words 8 and 9, the
/// counter, are ignored), in order, in `out`.
#[inline(never)]
pub(crate) fn keystream(state: &[u32; 16], counter: u64, out: &mut [u8; BATCH]) {
    let mut input: [Lanes; 16] = std::array::from_fn(|i| [state[i]; LANES]);
    for (lane, block) in (0..LANES as u64)
        .map(|l| counter.wrapping_add(l))
        .enumerate()
    {
        input[8][lane] = block as u32;
        input[9][lane] = (block >> 32) as u32;
    }
    let mut x = input;
    rounds(&mut x);
    for (word, start) in x.iter_mut().zip(&input) {
        for (w, s) in word.iter_mut().zip(start) {
            *w = w.wrapping_add(*s);
        }
    }
    for (lane, block) in out.chunks_exact_mut(BLOCK).enumerate() {
        for (o, word) in block.chunks_exact_mut(4).zip(&x) {
            o.copy_from_slice(&word[lane].to_le_bytes());
        }
    }
}
