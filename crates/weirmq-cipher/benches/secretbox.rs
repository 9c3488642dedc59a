//! CURVE's MESSAGE box (NaCl's `crypto_secretbox` under a key whose
//! HSalsa20 is done: Salsa20, its first 32 octets keying Poly1305) sealed
//! and opened in place, with the `salsa20` and `poly1305` crates ("old")
//! and with this crate ("new") side by side, at 16 B, 1 KiB and 64 KiB; and
//! the keystream and Poly1305 alone at 1 KiB.
//!
//! `cargo bench -p weirmq-cipher --bench secretbox`.

#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented pub fn"
)]

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use poly1305::Poly1305;
use poly1305::universal_hash::{KeyInit, UniversalHash};
use salsa20::cipher::{KeyIvInit, StreamCipher};

const SIZES: [usize; 3] = [16, 1024, 64 * 1024];
const KEY: [u8; 32] = [0x42; 32];
const NONCE: [u8; 8] = [7; 8];

/// A keystream and Poly1305, whichever implementation.
trait Stream {
    fn start(key: &[u8; 32], nonce: &[u8; 8]) -> Self;
    fn apply(&mut self, buf: &mut [u8]);
    fn tag(key: &[u8; 32], data: &[u8]) -> [u8; 16];
}

struct Old(salsa20::Salsa20);
impl Stream for Old {
    fn start(key: &[u8; 32], nonce: &[u8; 8]) -> Old {
        Old(salsa20::Salsa20::new(key.into(), nonce.into()))
    }
    fn apply(&mut self, buf: &mut [u8]) {
        self.0.apply_keystream(buf);
    }
    fn tag(key: &[u8; 32], data: &[u8]) -> [u8; 16] {
        tag(Poly1305::new(key.into()), data)
    }
}

struct New(weirmq_cipher::Salsa20);
impl Stream for New {
    fn start(key: &[u8; 32], nonce: &[u8; 8]) -> New {
        New(weirmq_cipher::Salsa20::new(key, nonce))
    }
    fn apply(&mut self, buf: &mut [u8]) {
        self.0.apply_keystream(buf);
    }
    fn tag(key: &[u8; 32], data: &[u8]) -> [u8; 16] {
        weirmq_cipher::poly1305(key, data)
    }
}

/// The keystream and the one-time Poly1305 of one box.
fn start<S: Stream>() -> (S, [u8; 32]) {
    let mut stream = S::start(&KEY, &NONCE);
    let mut mac_key = [0; 32];
    stream.apply(&mut mac_key);
    (stream, mac_key)
}

/// Poly1305 as NaCl pads: whole blocks, then the rest.
fn tag(mut mac: Poly1305, data: &[u8]) -> [u8; 16] {
    let (blocks, rest) = data.split_at(data.len() - data.len() % 16);
    mac.update_padded(blocks);
    mac.compute_unpadded(rest).into()
}

fn seal<S: Stream>(buf: &mut [u8]) -> [u8; 16] {
    let (mut stream, mac_key) = start::<S>();
    stream.apply(buf);
    S::tag(&mac_key, buf)
}

fn open<S: Stream>(buf: &mut [u8], expected: &[u8; 16]) -> bool {
    let (mut stream, mac_key) = start::<S>();
    if S::tag(&mac_key, buf) != *expected {
        return false;
    }
    stream.apply(buf);
    true
}

fn bench_box<S: Stream>(c: &mut Criterion, name: &str) {
    for size in SIZES {
        let mut group = c.benchmark_group(format!("secretbox_{size}B"));
        group.throughput(Throughput::Bytes(size as u64));
        let mut buf = vec![0x5a; size];
        group.bench_function(BenchmarkId::new("seal", name), |b| {
            b.iter(|| black_box(seal::<S>(black_box(&mut buf))))
        });
        let mut sealed = vec![0x5a; size];
        let tag = seal::<S>(&mut sealed);
        group.bench_function(BenchmarkId::new("open", name), |b| {
            b.iter(|| {
                buf.copy_from_slice(&sealed);
                assert!(open::<S>(black_box(&mut buf), &tag));
            })
        });
        group.finish();
    }
}

fn bench_parts(c: &mut Criterion) {
    let mut group = c.benchmark_group("parts_1024B");
    group.throughput(Throughput::Bytes(1024));
    let mut buf = vec![0x5a; 1024];
    group.bench_function("salsa20/old", |b| {
        b.iter(|| Old::start(&KEY, &NONCE).apply(black_box(&mut buf)))
    });
    group.bench_function("salsa20/new", |b| {
        b.iter(|| New::start(&KEY, &NONCE).apply(black_box(&mut buf)))
    });
    group.bench_function("poly1305/crate", |b| {
        b.iter(|| black_box(tag(Poly1305::new(&KEY.into()), black_box(&buf))))
    });
    group.bench_function("poly1305/new", |b| {
        b.iter(|| black_box(weirmq_cipher::poly1305(&KEY, black_box(&buf))))
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    bench_box::<Old>(c, "old");
    bench_box::<New>(c, "new");
    bench_parts(c);
}

criterion_group!(secretbox, benches);
criterion_main!(secretbox);
