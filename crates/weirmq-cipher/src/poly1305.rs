//! Poly1305 (Bernstein, "The Poly1305-AES message-authentication code",
//! 2005; RFC 8439 section 2.5), as NaCl's `crypto_onetimeauth` computes
//! it: the message in 16-octet blocks, a short last block ended by a 1
//! octet, each block a number below 2^129 added to the accumulator, which
//! is then multiplied by `r`, modulo p = 2^130 - 5.
//!
//! Scalar, in radix 2^64: the accumulator is three 64-bit limbs (the third
//! holds a few bits), `r` two, and each block costs six 64 x 64 -> 128-bit
//! multiplications, which x86-64 and aarch64 do in one instruction each.
//! (See the crate's benchmark for why this is not the 26-bit-limb form
//! that packed 32 x 32 -> 64-bit multiplies would take.)

/// Length of a Poly1305 tag.
pub const TAG_LEN: usize = 16;

/// `crypto_onetimeauth`: the Poly1305 tag of `message` under the one-time
/// `key` (`r`, clamped, then `s`). A key must never authenticate two
/// messages.
pub fn poly1305(key: &[u8; 32], message: &[u8]) -> [u8; TAG_LEN] {
    let mut state = State::new(key);
    let mut blocks = message.chunks_exact(16);
    for block in &mut blocks {
        state.block(block.try_into().unwrap(), 1);
    }
    let rest = blocks.remainder();
    if !rest.is_empty() {
        let mut last = [0; 16];
        last[..rest.len()].copy_from_slice(rest);
        last[rest.len()] = 1;
        state.block(&last, 0);
    }
    state.finish(key[16..].try_into().unwrap())
}

/// The accumulator and `r`.
struct State {
    h: [u64; 3],
    r: [u64; 2],
    /// `r1 + r1 / 4`: the clamped `r1` is a multiple of 4, so
    /// `r1 * 2^128 = (r1 / 4) * 2^130`, which is `5 * r1 / 4` modulo p.
    s1: u64,
}

fn le64(octets: &[u8]) -> u64 {
    u64::from_le_bytes(octets[..8].try_into().unwrap())
}

impl State {
    fn new(key: &[u8; 32]) -> State {
        // RFC 8439 section 2.5.1's clamp: the top four bits of octets 3,
        // 7, 11 and 15 and the bottom two of octets 4, 8 and 12 cleared.
        let r0 = le64(&key[0..]) & 0x0fff_fffc_0fff_ffff;
        let r1 = le64(&key[8..]) & 0x0fff_fffc_0fff_fffc;
        State {
            h: [0; 3],
            r: [r0, r1],
            s1: r1 + (r1 >> 2),
        }
    }

    /// `h = (h + block + hibit * 2^128) * r`, partly reduced: `h` stays
    /// below 2^130 + 2^66 or so, well inside three limbs.
    #[inline(always)]
    fn block(&mut self, block: &[u8; 16], hibit: u64) {
        let [r0, r1] = self.r;
        let (h0, c) = self.h[0].overflowing_add(le64(&block[0..]));
        let (h1, c1) = self.h[1].carrying_add_compat(le64(&block[8..]), c);
        let h2 = self.h[2] + u64::from(c1) + hibit;

        // h * r, with the parts at and above 2^128 folded down by
        // 2^130 = 5 (mod p); h2 is a few bits, r0 and r1 below 2^60, so
        // every sum fits 128 bits.
        let mul = |a: u64, b: u64| u128::from(a) * u128::from(b);
        let d0 = mul(h0, r0) + mul(h1, self.s1);
        let d1 = mul(h0, r1) + mul(h1, r0) + mul(h2, self.s1) + (d0 >> 64);
        let d2 = h2 * r0 + (d1 >> 64) as u64;

        // What is at and above 2^130 (d2 / 4) comes back times 5.
        let fold = (d2 >> 2) * 5;
        let (h0, c) = (d0 as u64).overflowing_add(fold);
        let (h1, c) = (d1 as u64).carrying_add_compat(0, c);
        self.h = [h0, h1, (d2 & 3) + u64::from(c)];
    }

    /// `(h mod p + s) mod 2^128`, without branching on `h`.
    fn finish(self, s: &[u8; 16]) -> [u8; TAG_LEN] {
        let [h0, h1, h2] = self.h;
        // h is below 2p: h mod p is h - p if h + 5 reaches 2^130, else h.
        let (g0, c) = h0.overflowing_add(5);
        let (g1, c) = h1.carrying_add_compat(0, c);
        let g2 = h2 + u64::from(c);
        let take_g = 0u64.wrapping_sub(g2 >> 2);
        let h0 = (h0 & !take_g) | (g0 & take_g);
        let h1 = (h1 & !take_g) | (g1 & take_g);

        let (t0, c) = h0.overflowing_add(le64(&s[0..]));
        let (t1, _) = h1.carrying_add_compat(le64(&s[8..]), c);
        let mut tag = [0; TAG_LEN];
        tag[..8].copy_from_slice(&t0.to_le_bytes());
        tag[8..].copy_from_slice(&t1.to_le_bytes());
        tag
    }
}

/// `a + b + carry`, and the carry out (`u64::carrying_add` is not stable
/// at the crate's minimum Rust).
trait CarryingAdd: Sized {
    fn carrying_add_compat(self, b: Self, carry: bool) -> (Self, bool);
}

impl CarryingAdd for u64 {
    #[inline(always)]
    fn carrying_add_compat(self, b: u64, carry: bool) -> (u64, bool) {
        let (s, c1) = self.overflowing_add(b);
        let (s, c2) = s.overflowing_add(u64::from(carry));
        (s, c1 | c2)
    }
}
