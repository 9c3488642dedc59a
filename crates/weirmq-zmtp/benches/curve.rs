//! CURVE traffic: 1 KiB messages sealed into MESSAGEs by one connection and
//! opened by another, through the public [`Connection`] API, without I/O.
//!
//! `cargo bench -p weirmq-zmtp --bench curve`; criterion prints messages
//! per second (elements/s) for each side. Instruction counts, immune to a
//! noisy machine: build with `cargo bench --no-run` and run the binary it
//! names under `valgrind --tool=callgrind` with `--bench --profile-time 2`.

#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented pub fn"
)]

use std::hint::black_box;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use weirmq_zmtp::{
    AuthDecision, Config, Connection, Event, Keypair, Mechanism, Message, SocketType,
};

/// Messages per iteration, as the engine encodes a batch before writing.
const BATCH: usize = 64;
const SIZE: usize = 1024;

/// A PUSH (CURVE client) and a PULL (CURVE server) past the handshake.
fn connected() -> (Connection, Connection) {
    let now = Instant::now();
    let (server, client) = (Keypair::generate(), Keypair::generate());
    let mut push = Config::new(SocketType::Push);
    push.mechanism = Mechanism::CurveClient {
        server_key: server.public,
        keypair: client,
    };
    let mut pull = Config::new(SocketType::Pull);
    pull.mechanism = Mechanism::CurveServer { keypair: server };
    let mut push = Connection::new(push, now).unwrap();
    let mut pull = Connection::new(pull, now).unwrap();
    while !(push.is_ready() && pull.is_ready()) {
        while let Some(b) = push.poll_transmit() {
            pull.handle_input(&b, now);
        }
        while let Some(b) = pull.poll_transmit() {
            push.handle_input(&b, now);
        }
        while push.poll_event(now).unwrap().is_some() {}
        while let Some(event) = pull.poll_event(now).unwrap() {
            if let Event::Authenticate(_) = event {
                pull.authenticate(AuthDecision::Allow {
                    user_id: Bytes::new(),
                })
                .unwrap();
            }
        }
    }
    (push, pull)
}

/// Seals a batch and hands back what goes on the wire.
fn send_batch(push: &mut Connection, batch: &[Message]) -> BytesMut {
    for message in batch {
        push.send(message).unwrap();
    }
    let mut wire = BytesMut::new();
    while let Some(chunk) = push.poll_transmit() {
        wire.extend_from_slice(&chunk);
    }
    wire
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group(format!("curve_{SIZE}B"));
    group.throughput(Throughput::Elements(BATCH as u64));
    let batch: Vec<Message> = (0..BATCH)
        .map(|_| Message::from(Bytes::from(vec![0x5A; SIZE])))
        .collect();

    let (mut push, _) = connected();
    group.bench_function("seal", |b| {
        b.iter(|| {
            for message in &batch {
                push.send(message).unwrap();
            }
            while let Some(chunk) = push.poll_transmit() {
                black_box(chunk);
            }
        })
    });

    // Each batch on the wire is opened once: the short nonces must rise.
    let (mut push, mut pull) = connected();
    let now = Instant::now();
    group.bench_function("open", |b| {
        b.iter_batched(
            || send_batch(&mut push, &batch),
            |wire| {
                *pull.input_buffer() = wire;
                let mut opened = 0;
                while let Some(event) = pull.poll_event(now).unwrap() {
                    opened += usize::from(matches!(event, Event::Message(_)));
                }
                assert_eq!(opened, BATCH);
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default();
    targets = bench
}
criterion_main!(benches);
