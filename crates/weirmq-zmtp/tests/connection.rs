//! Two connections (or a connection and a hand-played peer) on virtual time:
//! the NULL handshake, traffic, heartbeats, expiry and every refusal.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use proptest::prelude::*;
use weirmq_zmtp::error::ErrorReason;
use weirmq_zmtp::{
    Config, Connection, Error, Event, Heartbeat, Limits, MalformedError, MechanismName, Message,
    ProtocolError, Revision, SocketType, TimeoutError, UsageError,
};

fn config(t: SocketType) -> Config {
    Config::new(t)
}

#[test]
fn null_handshake_dealer_router_exchanges_metadata() {
    let mut dealer = config(SocketType::Dealer);
    dealer.routing_id = Bytes::from_static(b"worker-1");
    dealer.properties.insert("X-Service", "billing").unwrap();
    let mut p = Pair::new(dealer, config(SocketType::Router));
    p.handshake();

    let Event::HandshakeSucceeded(seen_by_router) = &p.b_events[0] else {
        panic!("first event must be the handshake: {:?}", p.b_events);
    };
    assert_eq!(seen_by_router.revision, Revision::V3_1);
    assert_eq!(seen_by_router.socket_type, Some(SocketType::Dealer));
    assert_eq!(seen_by_router.routing_id.as_deref(), Some(&b"worker-1"[..]));
    assert_eq!(seen_by_router.metadata.get("x-service").unwrap(), "billing");

    let Event::HandshakeSucceeded(seen_by_dealer) = &p.a_events[0] else {
        panic!()
    };
    assert_eq!(seen_by_dealer.socket_type, Some(SocketType::Router));
    // ROUTER announces an (empty) Identity, as libzmq does; empty means none.
    assert_eq!(seen_by_dealer.routing_id, None);
    assert!(seen_by_dealer.metadata.contains("Identity"));
    assert_eq!(p.a.peer(), Some(seen_by_dealer));
}

#[test]
fn our_greeting_goes_out_before_we_hear_anything() {
    // libzmq sends 10 octets and waits for ours: we must not wait for its 64.
    let mut c = Connection::new(config(SocketType::Pull), Instant::now()).unwrap();
    let out = transmitted(&mut c);
    assert_eq!(out.len(), 64);
    assert_eq!(out[0], 0xFF);
    assert_eq!(out[9], 0x7F);
    assert_eq!(&out[10..12], &[3, 1]);
    assert_eq!(&out[12..17], b"NULL\0");
}

#[test]
fn staged_libzmq_greeting_then_handshake() {
    let now = Instant::now();
    let mut c = Connection::new(config(SocketType::Pull), now).unwrap();
    transmitted(&mut c);
    let g = null_greeting();
    // libzmq: 10 octets, then the major version, then the rest.
    for part in [&g[..10], &g[10..11], &g[11..]] {
        let (events, err) = feed(&mut c, part, now);
        assert!(events.is_empty() && err.is_none());
    }
    // Our READY went out as soon as the peer's greeting was complete.
    let out = transmitted(&mut c);
    assert_eq!(&out[..7], &[0x04, 26, 5, b'R', b'E', b'A', b'D']);
    let (events, err) = feed(&mut c, &ready(&[("Socket-Type", b"PUSH")]), now);
    assert_eq!(err, None);
    assert!(matches!(&events[..], [Event::HandshakeSucceeded(_)]));
}

#[test]
fn multipart_empty_and_large_messages_both_ways() {
    let mut p = Pair::new(config(SocketType::Dealer), config(SocketType::Dealer));
    p.read_size = 1000;
    p.handshake();
    let big = Bytes::from(vec![0xCD; 1 << 20]);
    let sent_ab: Vec<Message> = vec![
        Message::from("one"),
        ["", "", "three frames"].into_iter().collect(),
        vec![Bytes::new()].into(),
        Message::from(big.clone()),
        Message::from(vec![0x11; 255]),
        Message::from(vec![0x22; 256]),
    ];
    for m in &sent_ab {
        p.a.send(m).unwrap();
    }
    p.b.send(&Message::from("back")).unwrap();
    p.drive();
    assert_eq!(messages(&p.b_events), sent_ab);
    assert_eq!(messages(&p.a_events), vec![Message::from("back")]);
}

#[test]
fn sending_before_the_handshake_or_nothing_is_refused() {
    let mut c = Connection::new(config(SocketType::Push), Instant::now()).unwrap();
    assert_eq!(c.send(&Message::from("x")), Err(UsageError::NotReady));
    let mut p = Pair::new(config(SocketType::Push), config(SocketType::Pull));
    p.handshake();
    assert_eq!(p.a.send(&Message::new()), Err(UsageError::EmptyMessage));
}

#[test]
fn decoding_is_lazy_so_backpressure_reaches_the_transport() {
    let mut p = Pair::new(config(SocketType::Push), config(SocketType::Pull));
    p.handshake();
    for i in 0..100u8 {
        p.a.send(&Message::from(vec![i; 10])).unwrap();
    }
    let wire = transmitted(&mut p.a);
    p.b.handle_input(&wire, p.now);
    // Nothing is decoded (or copied) until asked for: the bytes wait in the
    // input buffer, which only the caller fills.
    assert_eq!(p.b.buffered_input(), wire.len());
    let Some(Event::Message(first)) = p.b.poll_event(p.now).unwrap() else {
        panic!()
    };
    assert_eq!(first, Message::from(vec![0u8; 10]));
    assert_eq!(p.b.buffered_input(), wire.len() - 12);
}

#[test]
fn a_message_partly_received_is_counted_until_its_last_frame() {
    let mut p = Pair::new(config(SocketType::Dealer), config(SocketType::Dealer));
    p.handshake();
    let msg: Message = ["first", "second!"].into_iter().collect();
    p.a.send(&msg).unwrap();
    let wire = transmitted(&mut p.a);
    // The first frame (2 + 5 octets) and part of the second.
    p.b.handle_input(&wire[..10], p.now);
    assert_eq!(p.b.poll_event(p.now).unwrap(), None);
    assert_eq!(p.b.buffered_message(), 5, "the first frame's body");
    assert_eq!(p.b.buffered_input(), 3, "the second's header and an octet");
    p.b.handle_input(&wire[10..], p.now);
    assert_eq!(p.b.poll_event(p.now).unwrap(), Some(Event::Message(msg)));
    assert_eq!((p.b.buffered_message(), p.b.buffered_input()), (0, 0));
}

#[test]
fn an_idle_receive_buffer_is_given_back_and_a_busy_one_kept() {
    let mut p = Pair::new(config(SocketType::Push), config(SocketType::Pull));
    p.handshake();
    p.a.send(&Message::from(vec![7u8; 100])).unwrap();
    let wire = transmitted(&mut p.a);
    // Half the frame arrives through a 64 KiB read.
    let mut buf = p.b.read_buffer(64 * 1024);
    bytes::BufMut::put_slice(&mut buf, &wire[..50]);
    p.b.input_received(p.now);
    assert!(p.b.input_capacity() >= 64 * 1024);
    assert!(!p.b.shrink_input(), "it holds part of a frame");
    assert!(p.b.input_capacity() >= 64 * 1024);
    p.b.handle_input(&wire[50..], p.now);
    assert!(matches!(
        p.b.poll_event(p.now).unwrap(),
        Some(Event::Message(_))
    ));
    assert!(p.b.shrink_input());
    assert_eq!(p.b.input_capacity(), 0);
    // And it works as before.
    p.a.send(&Message::from("again")).unwrap();
    p.drive();
    assert_eq!(messages(&p.b_events), [Message::from("again")]);
}

#[test]
fn heartbeats_keep_a_quiet_connection_alive() {
    let mut hb = Heartbeat::new(Duration::from_secs(1));
    hb.timeout = Duration::from_secs(3);
    hb.ttl = Some(Duration::from_secs(5));
    let mut a = config(SocketType::Pair);
    a.heartbeat = Some(hb);
    let mut p = Pair::new(a, config(SocketType::Pair));
    p.handshake();
    assert_eq!(p.a.poll_timeout(), Some(p.now + Duration::from_secs(1)));
    p.advance(Duration::from_secs(60));
    assert!(
        p.a_error.is_none() && p.b_error.is_none(),
        "{:?} {:?}",
        p.a_error,
        p.b_error
    );
    assert!(p.a.is_ready() && p.b.is_ready());
    // b saw a's TTL and now holds a deadline of its own.
    assert!(p.b.poll_timeout().is_some());
}

#[test]
fn heartbeat_timeout_closes_when_the_peer_hangs() {
    let mut hb = Heartbeat::new(Duration::from_secs(1));
    hb.timeout = Duration::from_secs(3);
    let mut a = config(SocketType::Pair);
    a.heartbeat = Some(hb);
    let mut p = Pair::new(a, config(SocketType::Pair));
    p.handshake();
    let start = p.now;
    p.b_to_a = false; // b hangs: its PONGs never arrive
    p.advance(Duration::from_millis(3999));
    assert_eq!(p.a_error, None, "PING at 1 s, expiry due at 1 s + 3 s");
    p.advance(Duration::from_millis(1));
    assert_eq!(p.a_error, Some(Error::Timeout(TimeoutError::Heartbeat)));
    assert_eq!(p.now - start, Duration::from_secs(4));
    // A failed connection asks for no more timers and stays failed.
    assert_eq!(p.a.poll_timeout(), None);
    assert_eq!(
        p.a.poll_event(p.now),
        Err(Error::Timeout(TimeoutError::Heartbeat))
    );
    assert_eq!(p.a.send(&Message::from("x")), Err(UsageError::Closed));
}

#[test]
fn peer_ttl_closes_when_the_pinging_peer_goes_silent() {
    let mut hb = Heartbeat::new(Duration::from_secs(1));
    hb.timeout = Duration::from_secs(100);
    hb.ttl = Some(Duration::from_millis(2500));
    let mut b = config(SocketType::Pair);
    b.heartbeat = Some(hb);
    // a has no heartbeat of its own: only b's TTL can close it.
    let mut p = Pair::new(config(SocketType::Pair), b);
    p.handshake();
    let start = p.now;
    p.advance(Duration::from_millis(1500)); // b's first PING, at 1 s, reaches a
    assert_eq!(p.a_error, None);
    p.b_to_a = false; // from now on b is silent towards a
    // The last octet from b arrived at 1 s; its TTL is 2.5 s: a closes at 3.5 s.
    p.advance(Duration::from_millis(1999));
    assert_eq!(p.a_error, None);
    assert_eq!(p.now - start, Duration::from_millis(3499));
    p.advance(Duration::from_millis(1));
    assert_eq!(p.a_error, Some(Error::Timeout(TimeoutError::PeerTtl)));
}

#[test]
fn ping_is_answered_with_pong_echoing_the_context() {
    let now = Instant::now();
    let mut c = Connection::new(config(SocketType::Pair), now).unwrap();
    let mut input = null_greeting();
    input.extend(ready(&[("Socket-Type", b"PAIR")]));
    input.extend(command("PING", b"\x00\x00hello"));
    transmitted(&mut c);
    let (events, err) = feed(&mut c, &input, now);
    assert_eq!(err, None);
    assert_eq!(events.len(), 1);
    let out = transmitted(&mut c);
    let pong = command("PONG", b"hello");
    assert!(out.ends_with(&pong), "{out:02x?}");
}

#[test]
fn a_ping_flood_cannot_grow_the_send_buffer() {
    let now = Instant::now();
    let mut c = Connection::new(config(SocketType::Pair), now).unwrap();
    let mut input = null_greeting();
    input.extend(ready(&[("Socket-Type", b"PAIR")]));
    feed(&mut c, &input, now);
    transmitted(&mut c);
    // 100,000 PINGs from a peer that never reads what we send.
    let mut flood = Vec::new();
    for i in 0..100_000u32 {
        flood.extend(command("PING", &[&[0, 0][..], &i.to_be_bytes()].concat()));
    }
    let (events, err) = feed(&mut c, &flood, now);
    assert!(events.is_empty() && err.is_none());
    assert_eq!(c.pending_transmit(), 0, "PONGs must not pile up");
    // One PONG, echoing the latest PING's context, goes out on the next flush.
    assert_eq!(
        transmitted(&mut c),
        command("PONG", &99_999u32.to_be_bytes())
    );
    assert!(!c.wants_transmit());
}

#[test]
fn durations_too_long_for_the_clock_mean_never() {
    let mut a = config(SocketType::Pair);
    a.handshake_timeout = Some(Duration::MAX);
    let mut hb = Heartbeat::new(Duration::MAX);
    hb.timeout = Duration::MAX;
    a.heartbeat = Some(hb);
    let mut p = Pair::new(a, config(SocketType::Pair));
    p.handshake();
    assert_eq!(p.a.poll_timeout(), None);
    p.advance(Duration::from_secs(86_400));
    assert!(p.a_error.is_none());
}

#[test]
fn rejects_identity_starting_with_zero() {
    let mut input = null_greeting();
    input.extend(ready(&[
        ("Socket-Type", b"DEALER"),
        ("Identity", b"\0\0\0\0\x01"),
    ]));
    let (_, err) = refused(SocketType::Router, &input);
    assert_eq!(err, Error::Malformed(MalformedError::ReservedIdentity));
}

#[test]
fn handshake_timeout_closes_a_silent_peer() {
    let now = Instant::now();
    let mut c = Connection::new(config(SocketType::Rep), now).unwrap();
    assert_eq!(c.poll_timeout(), Some(now + Duration::from_secs(30)));
    assert_eq!(
        c.handle_timeout(now + Duration::from_millis(29_999)),
        Ok(())
    );
    // Half a greeting is not progress enough.
    c.handle_input(&null_greeting()[..20], now + Duration::from_secs(10));
    assert_eq!(c.poll_event(now + Duration::from_secs(10)), Ok(None));
    assert_eq!(
        c.handle_timeout(now + Duration::from_secs(30)),
        Err(Error::Timeout(TimeoutError::Handshake))
    );
}

#[test]
fn no_handshake_deadline_after_success() {
    let mut p = Pair::new(config(SocketType::Req), config(SocketType::Rep));
    p.handshake();
    assert_eq!(p.a.poll_timeout(), None);
    p.advance(Duration::from_secs(3600));
    assert!(p.a_error.is_none());
}

fn refused(socket_type: SocketType, input: &[u8]) -> (Connection, Error) {
    let now = Instant::now();
    let mut c = Connection::new(config(socket_type), now).unwrap();
    transmitted(&mut c);
    let (_, err) = feed(&mut c, input, now);
    (c, err.expect("must be refused"))
}

#[test]
fn rejects_incompatible_socket_types_with_an_error_command() {
    let mut input = null_greeting();
    input.extend(ready(&[("Socket-Type", b"PUSH")]));
    let (mut c, err) = refused(SocketType::Push, &input);
    assert_eq!(
        err,
        Error::Protocol(ProtocolError::IncompatibleSocketType {
            ours: SocketType::Push,
            theirs: SocketType::Push
        })
    );
    let out = transmitted(&mut c);
    assert!(
        out.ends_with(&command("ERROR", b"\x13Invalid socket type")),
        "{out:02x?}"
    );
    assert!(!c.is_ready());
}

#[test]
fn incompatible_pair_both_fail() {
    let mut p = Pair::new(config(SocketType::Pub), config(SocketType::Pull));
    p.drive();
    assert!(matches!(
        p.a_error,
        Some(Error::Protocol(
            ProtocolError::IncompatibleSocketType { .. }
        ))
    ));
    assert!(matches!(
        p.b_error,
        Some(Error::Protocol(
            ProtocolError::IncompatibleSocketType { .. }
        ))
    ));
}

#[test]
fn rejects_unknown_socket_type_name() {
    let mut input = null_greeting();
    input.extend(ready(&[("Socket-Type", b"STREAM")]));
    let (_, err) = refused(SocketType::Dealer, &input);
    assert!(matches!(
        err,
        Error::Malformed(MalformedError::UnknownSocketType(_))
    ));
}

#[test]
fn accepts_ready_without_socket_type_as_libzmq_does() {
    let now = Instant::now();
    let mut c = Connection::new(config(SocketType::Dealer), now).unwrap();
    let mut input = null_greeting();
    input.extend(ready(&[]));
    let (events, err) = feed(&mut c, &input, now);
    assert_eq!(err, None);
    let [Event::HandshakeSucceeded(peer)] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(peer.socket_type, None);
}

#[test]
fn rejects_mechanism_mismatch_and_unknown_mechanisms() {
    let (_, err) = refused(SocketType::Pull, &greeting(MechanismName::CURVE, 3, 1));
    assert_eq!(
        err,
        Error::Protocol(ProtocolError::MechanismMismatch {
            ours: MechanismName::NULL,
            theirs: MechanismName::CURVE
        })
    );
    let mut g = null_greeting();
    g[12..32].fill(0);
    g[12..18].copy_from_slice(b"GSSAPI");
    let (_, err) = refused(SocketType::Pull, &g);
    assert!(matches!(
        err,
        Error::Protocol(ProtocolError::UnsupportedMechanism(_))
    ));
}

#[test]
fn rejects_zmtp_2_and_sends_nothing_more() {
    let (mut c, err) = refused(SocketType::Pull, &greeting(MechanismName::NULL, 1, 0)[..11]);
    assert_eq!(
        err,
        Error::Protocol(ProtocolError::UnsupportedVersion { major: 1 })
    );
    assert!(
        transmitted(&mut c).is_empty(),
        "no READY to a downgraded peer"
    );
}

#[test]
fn rejects_message_before_the_handshake() {
    let mut input = null_greeting();
    input.extend(frame(0x00, b"sneaky"));
    let (_, err) = refused(SocketType::Pull, &input);
    assert_eq!(err, Error::Protocol(ProtocolError::MessageBeforeHandshake));
}

#[test]
fn rejects_other_commands_in_the_null_handshake() {
    let mut input = null_greeting();
    input.extend(command("HELLO", b""));
    let (_, err) = refused(SocketType::Pull, &input);
    assert_eq!(
        err,
        Error::Protocol(ProtocolError::UnexpectedCommand {
            name: ErrorReason(Bytes::from_static(b"HELLO"))
        })
    );
}

#[test]
fn peer_error_command_closes_with_its_reason() {
    let mut input = null_greeting();
    input.extend(command("ERROR", b"\x03400"));
    let (_, err) = refused(SocketType::Pull, &input);
    assert_eq!(
        err,
        Error::PeerError(ErrorReason(Bytes::from_static(b"400")))
    );
    assert_eq!(err.to_string(), "peer sent ERROR: \"400\"");
}

#[test]
fn rejects_oversized_message_before_buffering_it() {
    let now = Instant::now();
    let mut cfg = config(SocketType::Pull);
    cfg.limits = Limits::new(1024, 16, 256).unwrap();
    let mut c = Connection::new(cfg, now).unwrap();
    let mut input = null_greeting();
    input.extend(ready(&[("Socket-Type", b"PUSH")]));
    // A long-frame header claiming 1 GiB, and no body.
    input.extend([0x02, 0, 0, 0, 0, 0x40, 0, 0, 0]);
    let (events, err) = feed(&mut c, &input, now);
    assert_eq!(events.len(), 1);
    assert_eq!(
        err,
        Some(Error::Malformed(MalformedError::MessageTooLarge {
            size: 1 << 30,
            limit: 1024
        }))
    );
    assert_eq!(c.buffered_input(), 0, "a failed connection holds no input");
}

/// What `poll_small_message` and `poll_event` take together, feeding
/// `input` in reads of `read_size`: the messages in order, how many came
/// the small way, and the other events.
fn take_small_first(
    c: &mut Connection,
    input: &[u8],
    read_size: usize,
    now: Instant,
) -> (Vec<Message>, usize, Vec<Event>, Option<Error>) {
    let (mut msgs, mut small, mut others) = (Vec::new(), 0, Vec::new());
    for piece in input.chunks(read_size) {
        c.handle_input(piece, now);
        loop {
            if let Some(m) = c.poll_small_message(SMALL, |body| Message::from(body.to_vec())) {
                msgs.push(m);
                small += 1;
                continue;
            }
            match c.poll_event(now) {
                Ok(Some(Event::Message(m))) => msgs.push(m),
                Ok(Some(e)) => others.push(e),
                Ok(None) => break,
                Err(e) => return (msgs, small, others, Some(e)),
            }
        }
    }
    (msgs, small, others, None)
}

const SMALL: usize = 46;

fn pull_after_handshake(limits: Limits) -> (Connection, Vec<u8>) {
    let mut cfg = config(SocketType::Pull);
    cfg.limits = limits;
    let c = Connection::new(cfg, Instant::now()).unwrap();
    let mut input = null_greeting();
    input.extend(ready(&[("Socket-Type", b"PUSH")]));
    (c, input)
}

/// The small way refuses what it must leave to `poll_event`: a frame
/// over the size limit (which then fails the connection), reserved flag
/// bits, a message in several frames, and a command between them.
#[test]
fn small_messages_leave_the_rest_to_poll_event() {
    let now = Instant::now();
    let (mut c, mut input) = pull_after_handshake(Limits::new(4, 16, 256).unwrap());
    input.extend(frame(0x00, b"ok"));
    input.extend(frame(0x01, b"he"));
    input.extend(command("PING", b"\x00\x00"));
    input.extend(frame(0x00, b"ad"));
    input.extend(frame(0x80, b"rsv"));
    input.extend(frame(0x00, b"after"));
    let (msgs, small, others, err) = take_small_first(&mut c, &input, usize::MAX, now);
    let want: Vec<Message> = vec![
        Message::from("ok"),
        ["he", "ad"].into_iter().collect(),
        Message::from("rsv"),
    ];
    assert_eq!(msgs, want);
    assert_eq!(small, 1, "only the first");
    assert!(
        matches!(others[..], [Event::HandshakeSucceeded(_)]),
        "{others:?}"
    );
    assert_eq!(
        err,
        Some(Error::Malformed(MalformedError::MessageTooLarge {
            size: 5,
            limit: 4
        }))
    );
}

/// A socket that takes subscriptions as messages (XPUB) gets them as
/// events, never the small way.
#[test]
fn subscriptions_never_come_the_small_way() {
    let now = Instant::now();
    let mut c = Connection::new(config(SocketType::XPub), now).unwrap();
    let mut input = greeting(MechanismName::NULL, 3, 0);
    input.extend(ready(&[("Socket-Type", b"XSUB")]));
    input.extend(frame(0x00, b"\x01topic"));
    input.extend(frame(0x00, b"data"));
    let (msgs, small, others, err) = take_small_first(&mut c, &input, usize::MAX, now);
    assert_eq!(err, None);
    assert_eq!((msgs, small), (vec![Message::from("data")], 0));
    assert!(
        matches!(&others[..], [Event::HandshakeSucceeded(_), Event::Subscribe(t)] if t == "topic"),
        "{others:?}"
    );
}

#[test]
fn commands_between_frames_of_a_message_are_handled() {
    // libzmq may emit a PING between two frames of one multipart message.
    let now = Instant::now();
    let mut c = Connection::new(config(SocketType::Pull), now).unwrap();
    let mut input = null_greeting();
    input.extend(ready(&[("Socket-Type", b"PUSH")]));
    input.extend(frame(0x01, b"head"));
    input.extend(command("PING", b"\x00\x00"));
    input.extend(frame(0x00, b"tail"));
    let (events, err) = feed(&mut c, &input, now);
    assert_eq!(err, None);
    assert_eq!(
        messages(&events),
        vec![["head", "tail"].into_iter().collect::<Message>()]
    );
}

#[test]
fn subscriptions_over_zmtp_3_1_use_commands() {
    let mut p = Pair::new(config(SocketType::Sub), config(SocketType::XPub));
    p.handshake();
    p.a.subscribe(b"news").unwrap();
    p.a.cancel(b"news").unwrap();
    let wire = transmitted(&mut p.a);
    assert_eq!(
        wire,
        [command("SUBSCRIBE", b"news"), command("CANCEL", b"news")].concat()
    );
    p.b.handle_input(&wire, p.now);
    p.drive();
    assert_eq!(
        p.b_events[1..],
        [
            Event::Subscribe(Bytes::from_static(b"news")),
            Event::Cancel(Bytes::from_static(b"news"))
        ]
    );
}

#[test]
fn subscriptions_to_a_zmtp_3_0_peer_are_data_frames() {
    let now = Instant::now();
    let mut c = Connection::new(config(SocketType::Sub), now).unwrap();
    transmitted(&mut c);
    let mut input = greeting(MechanismName::NULL, 3, 0);
    input.extend(ready(&[("Socket-Type", b"PUB")]));
    let (events, _) = feed(&mut c, &input, now);
    let [Event::HandshakeSucceeded(peer)] = &events[..] else {
        panic!()
    };
    assert_eq!(peer.revision, Revision::V3_0);
    transmitted(&mut c);
    c.subscribe(b"ab").unwrap();
    c.cancel(b"ab").unwrap();
    assert_eq!(
        transmitted(&mut c),
        [frame(0, b"\x01ab"), frame(0, b"\x00ab")].concat()
    );
}

#[test]
fn publisher_reads_zmtp_3_0_subscription_frames() {
    let now = Instant::now();
    let mut c = Connection::new(config(SocketType::Pub), now).unwrap();
    let mut input = greeting(MechanismName::NULL, 3, 0);
    input.extend(ready(&[("Socket-Type", b"SUB")]));
    input.extend(frame(0, b"\x01weather"));
    input.extend(frame(0, b"\x00weather"));
    input.extend(frame(0, b"\x02other"));
    let (events, err) = feed(&mut c, &input, now);
    assert_eq!(err, None);
    assert_eq!(
        events[1..],
        [
            Event::Subscribe(Bytes::from_static(b"weather")),
            Event::Cancel(Bytes::from_static(b"weather")),
            Event::Message(Message::from("\x02other")),
        ]
    );
}

#[test]
fn subscribe_commands_to_non_publishers_are_ignored() {
    let now = Instant::now();
    let mut c = Connection::new(config(SocketType::Sub), now).unwrap();
    let mut input = null_greeting();
    input.extend(ready(&[("Socket-Type", b"PUB")]));
    input.extend(command("SUBSCRIBE", b"x"));
    input.extend(frame(0, b"\x01data"));
    let (events, err) = feed(&mut c, &input, now);
    assert_eq!(err, None);
    assert_eq!(events[1..], [Event::Message(Message::from("\x01data"))]);
}

#[test]
fn config_errors_are_clear() {
    let now = Instant::now();
    let mut c = config(SocketType::Dealer);
    c.routing_id = Bytes::from(vec![1; 256]);
    assert_eq!(
        Connection::new(c, now).unwrap_err().to_string(),
        "routing id of 256 octets is too long (at most 255)"
    );
    let mut c = config(SocketType::Dealer);
    c.routing_id = Bytes::from_static(b"\0abc");
    assert!(Connection::new(c, now).is_err());
    let mut c = config(SocketType::Dealer);
    c.properties.insert("socket-type", "PUB").unwrap();
    assert!(Connection::new(c, now).is_err());
    let mut c = config(SocketType::Dealer);
    let mut hb = Heartbeat::new(Duration::from_secs(1));
    hb.ttl = Some(Duration::from_secs(6554));
    c.heartbeat = Some(hb);
    assert!(Connection::new(c, now).is_err());
    let mut c = config(SocketType::Dealer);
    c.heartbeat = Some(Heartbeat::new(Duration::ZERO));
    assert!(Connection::new(c, now).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Taking small messages where they lie, and the rest with
    /// `poll_event`, gives the same messages in the same order, at any read
    /// size; exactly the single-frame ones of at most `SMALL` octets come
    /// the small way.
    #[test]
    fn small_messages_taken_in_place_arrive_as_poll_event_gives_them(
        msgs in prop::collection::vec(
            prop::collection::vec(prop::collection::vec(any::<u8>(), 0..80), 1..3), 1..40),
        read_size in 1usize..200,
    ) {
        let (mut c, mut input) = pull_after_handshake(Limits::default());
        let mut p = Pair::new(config(SocketType::Push), config(SocketType::Pull));
        p.handshake();
        let sent: Vec<Message> = msgs.into_iter().map(|frames| frames.into_iter().collect()).collect();
        for m in &sent {
            p.a.send(m).unwrap();
        }
        input.extend(transmitted(&mut p.a));
        let (got, small, _, err) = take_small_first(&mut c, &input, read_size, Instant::now());
        prop_assert_eq!(err, None);
        prop_assert_eq!(&got, &sent);
        let want_small = sent.iter().filter(|m| m.len() == 1 && m.byte_len() <= SMALL).count();
        prop_assert_eq!(small, want_small);
    }

    /// Any messages, any transport read size: they arrive whole and in order.
    #[test]
    fn messages_arrive_intact_at_any_read_size(
        msgs in prop::collection::vec(
            prop::collection::vec(prop::collection::vec(any::<u8>(), 0..600), 1..5), 1..20),
        read_size in 1usize..300,
    ) {
        let mut p = Pair::new(config(SocketType::Push), config(SocketType::Pull));
        p.read_size = read_size;
        p.handshake();
        let sent: Vec<Message> = msgs.into_iter().map(|frames| frames.into_iter().collect()).collect();
        for m in &sent {
            p.a.send(m).unwrap();
        }
        p.drive();
        prop_assert_eq!(messages(&p.b_events), sent);
    }
}
