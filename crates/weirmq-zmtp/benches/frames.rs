//! Frame decode and encode throughput for 16-octet and 1 KiB frames.
//!
//! `cargo bench -p weirmq-zmtp --bench frames`; criterion prints the frames
//! per second (elements/s) for each case.

#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented pub fn"
)]

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use weirmq_zmtp::frame::{FrameDecoder, Limits, encode_frame, encode_header};

/// Frames per iteration: enough to amortise the loop, few enough for cache.
const BATCH: usize = 1024;

fn stream(size: usize) -> BytesMut {
    let body = vec![0x5A; size];
    let mut buf = BytesMut::new();
    for _ in 0..BATCH {
        encode_frame(&mut buf, false, false, &body);
    }
    buf
}

fn bench(c: &mut Criterion) {
    for size in [16usize, 1024] {
        let mut group = c.benchmark_group(format!("frame_{size}B"));
        group.throughput(Throughput::Elements(BATCH as u64));

        let wire = stream(size);
        group.bench_function("decode", |b| {
            b.iter_batched_ref(
                || wire.clone(),
                |buf| {
                    let mut dec = FrameDecoder::new(Limits::default());
                    while let Some(frame) = dec.decode(buf).unwrap() {
                        black_box(frame);
                    }
                },
                BatchSize::SmallInput,
            )
        });

        let body = Bytes::from(vec![0x5A; size]);
        let mut out = BytesMut::with_capacity(wire.len());
        group.bench_function("encode", |b| {
            b.iter(|| {
                out.clear();
                for _ in 0..BATCH {
                    encode_header(&mut out, false, false, body.len());
                    out.extend_from_slice(black_box(&body));
                }
                black_box(&out);
            })
        });
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default();
    targets = bench
}
criterion_main!(benches);
