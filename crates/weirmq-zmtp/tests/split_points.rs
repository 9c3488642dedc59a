//! Feeding a connection its input whole, split in two at every point, or one
//! octet at a time must give the same events, the same error and the same
//! output octets; whether copied in (`handle_input`) or read in as sized by
//! `read_buffer`.

mod common;

use std::time::Instant;

use common::*;
use weirmq_zmtp::{Config, Connection, Error, Event, SocketType};

type Outcome = (Vec<Event>, Option<Error>, Vec<u8>);

/// How input reaches the connection.
#[derive(Debug, Clone, Copy)]
enum Via {
    /// `handle_input`.
    Copy,
    /// `read_buffer`, with reads of this many octets usually.
    Reads(usize),
}

fn run(pieces: &[&[u8]]) -> Outcome {
    run_via(Via::Copy, pieces)
}

fn run_via(via: Via, pieces: &[&[u8]]) -> Outcome {
    let now = Instant::now();
    let mut c = Connection::new(Config::new(SocketType::Dealer), now).unwrap();
    let mut events = Vec::new();
    let mut error = None;
    for piece in pieces {
        let (mut evs, err) = match via {
            Via::Copy => feed(&mut c, piece, now),
            Via::Reads(room) => feed_reads(&mut c, piece, room, now),
        };
        events.append(&mut evs);
        if err.is_some() {
            error = err;
            break;
        }
    }
    (events, error, transmitted(&mut c))
}

fn check_all_splits(stream: &[u8]) -> Outcome {
    let whole = run(&[stream]);
    for via in [Via::Copy, Via::Reads(7), Via::Reads(64 * 1024)] {
        assert_eq!(run_via(via, &[stream]), whole, "whole, {via:?}");
        for split in 0..=stream.len() {
            let (a, b) = stream.split_at(split);
            assert_eq!(run_via(via, &[a, b]), whole, "split at {split}, {via:?}");
        }
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(run_via(via, &bytes), whole, "one octet at a time, {via:?}");
    }
    whole
}

fn handshake_and_traffic() -> Vec<u8> {
    // libzmq's greeting, with its non-zero padding octet.
    let mut s = null_greeting();
    s.extend(ready(&[
        ("Socket-Type", b"ROUTER"),
        ("Identity", b""),
        ("X-Extra", b"v"),
    ]));
    s.extend(frame(0x01, b""));
    s.extend(frame(0x00, b"reply"));
    s.extend(command("PING", b"\x00\x0actx"));
    s.extend(frame(0x01, &[0xAB; 300]));
    s.extend(command("PONG", b""));
    s.extend(command("X-UNKNOWN", b"ignored"));
    s.extend(frame(0x00, b""));
    s
}

#[test]
fn every_split_point_gives_the_same_result() {
    let (events, error, out) = check_all_splits(&handshake_and_traffic());
    assert_eq!(error, None);
    assert_eq!(events.len(), 3, "{events:?}");
    assert!(matches!(events[0], Event::HandshakeSucceeded(_)));
    assert!(out.ends_with(&command("PONG", b"ctx")));
}

#[test]
fn every_split_point_gives_the_same_error() {
    let mut s = handshake_and_traffic();
    s.extend(frame(0x05, b"")); // command with MORE
    let (events, error, _) = check_all_splits(&s);
    assert_eq!(events.len(), 3);
    assert!(matches!(error, Some(Error::Malformed(_))), "{error:?}");
}

/// Large frames get allocations of their own (32 KiB and more): split
/// points around every frame boundary, and throughout at a stride.
#[test]
fn large_frames_at_many_split_points() {
    let mut s = null_greeting();
    s.extend(ready(&[("Socket-Type", b"ROUTER")]));
    let mut starts = vec![s.len()];
    for (flags, len) in [(0x01, 40_000), (0x00, 5), (0x02, 70_000), (0x00, 32_760)] {
        let body: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        s.extend(frame(flags, &body));
        starts.push(s.len());
    }
    s.extend(command("PING", b"\x00\x0actx"));
    s.extend(frame(0x00, &[0x77; 300]));
    let (events, error, out) = run(&[&s]);
    assert_eq!(error, None);
    // The handshake, then messages of 40,005, 70,000, 32,760 and 300 octets.
    let sizes: Vec<usize> = messages(&events).iter().map(|m| m.byte_len()).collect();
    assert_eq!(sizes, [40_005, 70_000, 32_760, 300]);
    assert!(out.ends_with(&command("PONG", b"ctx")));
    let whole = (events, None, out);
    let mut splits: Vec<usize> = (0..s.len()).step_by(997).collect();
    for start in starts {
        splits.extend(start.saturating_sub(600)..(start + 600).min(s.len()));
    }
    for via in [Via::Copy, Via::Reads(64 * 1024), Via::Reads(1000)] {
        for &split in &splits {
            let (a, b) = s.split_at(split);
            // Not assert_eq!: a failure would print megabytes.
            assert!(run_via(via, &[a, b]) == whole, "split at {split}, {via:?}");
        }
        let pieces: Vec<&[u8]> = s.chunks(4093).collect();
        assert!(run_via(via, &pieces) == whole, "pieces of 4093, {via:?}");
    }
}
