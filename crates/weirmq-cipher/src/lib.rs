//! # weirmq-cipher
//!
//! The stream cipher and the authenticator of NaCl's boxes, as weirmq's CURVE uses it: Salsa20/20
//! (Bernstein, "Salsa20 specification", 2005), HSalsa20 and XSalsa20
//! (Bernstein, "Extending the Salsa20 nonce", 2008), in safe Rust and
//! without intrinsics.
//!
//! The keystream is computed four blocks at a time, each of the sixteen
//! state words held as four lanes (`[u32; 4]`, one lane per block), so that
//! every step of a quarter-round is one operation on four blocks and the
//! compiler emits packed SSE2 (`paddd`, `pxor`, `pslld`, `psrld`) on the
//! x86-64 baseline, and NEON on aarch64, with no run-time dispatch.
//!
//! - [`Salsa20`]: a keystream under a key and an 8-octet nonce, from any
//!   64-bit block counter, XORed into buffers in place
//!   (`crypto_stream_salsa20_xor_ic`);
//! - [`XSalsa20`]: the same under a 24-octet nonce
//!   (`crypto_stream_xsalsa20_xor_ic`);
//! - [`hsalsa20`]: the key derivation XSalsa20 and `crypto_box_beforenm`
//!   use;
//! - [`poly1305`]: the one-time authenticator of NaCl's boxes
//!   (`crypto_onetimeauth`), scalar, in radix 2^64.
//!
//! ```
//! use weirmq_cipher::XSalsa20;
//!
//! let (key, nonce) = ([7; 32], [9; 24]);
//! let mut buf = *b"attack at dawn";
//! XSalsa20::new(&key, &nonce).apply_keystream(&mut buf);
//! assert_ne!(&buf, b"attack at dawn");
//! XSalsa20::new(&key, &nonce).apply_keystream(&mut buf);
//! assert_eq!(&buf, b"attack at dawn");
//! ```

#![forbid(unsafe_code)]

mod core;
#[cfg(feature = "differential")]
pub mod fuzzing;
mod poly1305;
mod stream;

pub use crate::core::hsalsa20;
pub use crate::poly1305::{TAG_LEN, poly1305};
pub use crate::stream::{Salsa20, XSalsa20};
