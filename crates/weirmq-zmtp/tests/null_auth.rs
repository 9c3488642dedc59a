//! NULL with [`Config::null_authenticate`] (libzmq: a socket with a ZAP
//! domain): the peer is judged before our READY goes out; a READY that
//! arrives meanwhile is held; a denial is an ERROR with the status (none for
//! "300", as libzmq 4.3's null_mechanism.cpp) and `AuthDenied`.

mod common;

use std::time::Instant;

use bytes::Bytes;
use common::*;
use weirmq_zmtp::error::ErrorReason;
use weirmq_zmtp::{
    AuthDecision, AuthRequest, Config, Connection, Error, Event, Message, SocketType,
};

fn asking(socket_type: SocketType) -> Config {
    let mut c = Config::new(socket_type);
    c.null_authenticate = true;
    c
}

fn asks(events: &[Event]) -> bool {
    events
        .iter()
        .any(|e| matches!(e, Event::Authenticate(AuthRequest::Null)))
}

fn deny(status: &'static [u8]) -> AuthDecision {
    AuthDecision::Deny {
        status: Bytes::from_static(status),
    }
}

fn denied(status: &'static [u8]) -> Error {
    Error::AuthDenied(ErrorReason(Bytes::from_static(status)))
}

#[test]
fn an_allowed_peer_gets_our_ready_and_traffic_flows() {
    let mut p = Pair::new(Config::new(SocketType::Dealer), asking(SocketType::Router));
    p.drive();
    assert!(asks(&p.b_events), "no request: {:?}", p.b_events);
    assert!(
        !p.a.is_ready() && !p.b.is_ready(),
        "our READY waits for the decision"
    );
    p.b.authenticate(AuthDecision::Allow {
        user_id: Bytes::from_static(b"anon"),
    })
    .unwrap();
    p.handshake();
    assert_eq!(p.b.peer().unwrap().user_id.as_deref(), Some(&b"anon"[..]));
    assert_eq!(p.a.peer().unwrap().socket_type, Some(SocketType::Router));
    p.a.send(&Message::from("hello")).unwrap();
    p.drive();
    assert_eq!(messages(&p.b_events), vec![Message::from("hello")]);
}

#[test]
fn a_denied_peer_gets_error_with_the_status() {
    for status in [&b"400"[..], b"500"] {
        let mut p = Pair::new(Config::new(SocketType::Dealer), asking(SocketType::Router));
        p.drive();
        assert!(asks(&p.b_events));
        let status = Bytes::copy_from_slice(status);
        let err = p.b.authenticate(AuthDecision::Deny {
            status: status.clone(),
        });
        assert_eq!(err, Err(Error::AuthDenied(ErrorReason(status.clone()))));
        p.drive();
        assert_eq!(p.a_error, Some(Error::PeerError(ErrorReason(status))));
        assert!(!p.a.is_ready() && !p.b.is_ready());
        assert!(matches!(p.b.error(), Some(Error::AuthDenied(_))));
    }
}

#[test]
fn a_temporary_failure_closes_without_error() {
    let now = Instant::now();
    let mut b = Connection::new(asking(SocketType::Router), now).unwrap();
    let _greeting = transmitted(&mut b);
    let mut input = null_greeting();
    input.extend(ready(&[("Socket-Type", b"DEALER")]));
    let (events, error) = feed(&mut b, &input, now);
    assert!(asks(&events) && error.is_none());
    assert_eq!(b.authenticate(deny(b"300")), Err(denied(b"300")));
    assert_eq!(transmitted(&mut b), Vec::<u8>::new(), "no ERROR for 300");
    assert_eq!(b.error(), Some(&denied(b"300")));
}

#[test]
fn a_ready_that_arrives_first_is_held_until_the_decision() {
    let now = Instant::now();
    let mut b = Connection::new(asking(SocketType::Router), now).unwrap();
    let _greeting = transmitted(&mut b);
    // The peer's greeting, READY and a message, fed one octet at a time.
    let mut input = null_greeting();
    input.extend(ready(&[("Socket-Type", b"DEALER")]));
    input.extend(frame(0x00, b"early"));
    let mut events = Vec::new();
    for octet in &input {
        let (e, error) = feed(&mut b, std::slice::from_ref(octet), now);
        assert_eq!(error, None);
        events.extend(e);
    }
    assert_eq!(events, vec![Event::Authenticate(AuthRequest::Null)]);
    assert_eq!(transmitted(&mut b), Vec::<u8>::new(), "no READY yet");
    assert!(!b.is_ready());

    b.authenticate(AuthDecision::Allow {
        user_id: Bytes::new(),
    })
    .unwrap();
    assert_eq!(
        transmitted(&mut b),
        ready(&[("Socket-Type", b"ROUTER"), ("Identity", b"")])
    );
    let (events, error) = feed(&mut b, &[], now);
    assert_eq!(error, None);
    assert!(matches!(&events[0], Event::HandshakeSucceeded(info)
        if info.socket_type == Some(SocketType::Dealer)));
    assert_eq!(messages(&events), vec![Message::from("early")]);
    assert!(b.is_ready());
}

#[test]
fn a_denial_after_a_held_ready_sends_error_and_fails() {
    let now = Instant::now();
    let mut b = Connection::new(asking(SocketType::Pull), now).unwrap();
    let _greeting = transmitted(&mut b);
    let mut input = null_greeting();
    input.extend(ready(&[("Socket-Type", b"PUSH")]));
    let (events, _) = feed(&mut b, &input, now);
    assert!(asks(&events));
    assert_eq!(b.authenticate(deny(b"400")), Err(denied(b"400")));
    assert_eq!(transmitted(&mut b), command("ERROR", b"\x03400"));
    assert_eq!(feed(&mut b, &[], now).1, Some(denied(b"400")));
}

#[test]
fn without_the_flag_null_asks_nobody() {
    let mut p = Pair::new(
        Config::new(SocketType::Dealer),
        Config::new(SocketType::Router),
    );
    p.handshake();
    assert!(!asks(&p.a_events) && !asks(&p.b_events));
    assert_eq!(p.b.peer().unwrap().user_id, None);
}

#[test]
fn both_sides_may_ask() {
    // libzmq asks ZAP for NULL on whichever side has a ZAP domain.
    let mut p = Pair::new(asking(SocketType::Dealer), asking(SocketType::Router));
    p.drive();
    assert!(asks(&p.a_events) && asks(&p.b_events));
    for conn in [&mut p.a, &mut p.b] {
        conn.authenticate(AuthDecision::Allow {
            user_id: Bytes::new(),
        })
        .unwrap();
    }
    p.handshake();
}
