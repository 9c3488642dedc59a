//! Feeding a connection its input whole, split in two at every point, or one
//! octet at a time must give the same events, the same error and the same
//! output octets.

mod common;

use std::time::Instant;

use common::*;
use weirmq_zmtp::{Config, Connection, Error, Event, SocketType};

type Outcome = (Vec<Event>, Option<Error>, Vec<u8>);

fn run(pieces: &[&[u8]]) -> Outcome {
    let now = Instant::now();
    let mut c = Connection::new(Config::new(SocketType::Dealer), now).unwrap();
    let mut events = Vec::new();
    let mut error = None;
    for piece in pieces {
        let (mut evs, err) = feed(&mut c, piece, now);
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
    for split in 0..=stream.len() {
        let (a, b) = stream.split_at(split);
        assert_eq!(run(&[a, b]), whole, "split at {split}");
    }
    let bytes: Vec<&[u8]> = stream.chunks(1).collect();
    assert_eq!(run(&bytes), whole, "one octet at a time");
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
