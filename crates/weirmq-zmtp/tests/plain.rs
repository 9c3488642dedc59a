//! The PLAIN mechanism (RFC 24): client and server state machines, the
//! caller's allow/deny decision, and every malformed step refused.

mod common;

use std::time::Instant;

use bytes::Bytes;
use common::*;
use weirmq_zmtp::error::ErrorReason;
use weirmq_zmtp::{
    AuthDecision, AuthRequest, Config, Connection, Error, Event, MalformedError, Mechanism,
    MechanismName, Message, ProtocolError, SocketType,
};

fn client(username: &str, password: &str) -> Config {
    let mut c = Config::new(SocketType::Dealer);
    c.mechanism = Mechanism::PlainClient {
        username: Bytes::copy_from_slice(username.as_bytes()),
        password: Bytes::copy_from_slice(password.as_bytes()),
    };
    c
}

fn server() -> Config {
    let mut c = Config::new(SocketType::Router);
    c.mechanism = Mechanism::PlainServer;
    c
}

fn auth_request(events: &[Event]) -> Option<AuthRequest> {
    events.iter().find_map(|e| match e {
        Event::Authenticate(r) => Some(r.clone()),
        _ => None,
    })
}

#[test]
fn allowed_client_completes_the_handshake_and_traffic_flows() {
    let mut p = Pair::new(client("admin", "secret"), server());
    p.drive();
    assert!(
        !p.a.is_ready() && !p.b.is_ready(),
        "the server waits for the decision"
    );
    let Some(AuthRequest::Plain { username, password }) = auth_request(&p.b_events) else {
        panic!("no credentials: {:?}", p.b_events);
    };
    assert_eq!(
        (&username[..], &password[..]),
        (&b"admin"[..], &b"secret"[..])
    );
    p.b.authenticate(AuthDecision::Allow {
        user_id: Bytes::from_static(b"admin"),
    })
    .unwrap();
    p.handshake();
    assert_eq!(p.b.peer().unwrap().user_id.as_deref(), Some(&b"admin"[..]));
    assert_eq!(p.a.peer().unwrap().socket_type, Some(SocketType::Router));
    p.a.send(&Message::from("hello")).unwrap();
    p.drive();
    assert!(p.b_events.contains(&Event::Message(Message::from("hello"))));
}

#[test]
fn denied_client_gets_the_status_code() {
    let mut p = Pair::new(client("admin", "wrong"), server());
    p.drive();
    assert!(auth_request(&p.b_events).is_some());
    let err = p.b.authenticate(AuthDecision::Deny {
        status: Bytes::from_static(b"400"),
    });
    assert_eq!(
        err,
        Err(Error::AuthDenied(ErrorReason(Bytes::from_static(b"400"))))
    );
    p.drive();
    assert_eq!(
        p.a_error,
        Some(Error::PeerError(ErrorReason(Bytes::from_static(b"400"))))
    );
    assert!(!p.a.is_ready() && !p.b.is_ready());
}

#[test]
fn hello_goes_out_as_rfc_24_says() {
    let now = Instant::now();
    let mut c = Connection::new(client("u", "pw"), now).unwrap();
    let mut out = transmitted(&mut c);
    assert_eq!(&out[12..17], b"PLAIN");
    // The server's greeting makes the client send HELLO.
    let mut g = greeting(MechanismName::PLAIN, 3, 1);
    g[32] = 1;
    feed(&mut c, &g, now);
    out = transmitted(&mut c);
    assert_eq!(out, command("HELLO", b"\x01u\x02pw"));
}

#[test]
fn debug_never_shows_a_password() {
    let shown = format!("{:?}", client("admin", "hunter2").mechanism);
    assert!(
        !shown.contains("hunter2") && shown.contains("admin"),
        "{shown}"
    );
    let request = AuthRequest::Plain {
        username: Bytes::from_static(b"u"),
        password: Bytes::from_static(b"hunter2"),
    };
    assert!(!format!("{request:?}").contains("hunter2"));
}

#[test]
fn rejects_a_null_client_at_a_plain_server() {
    let mut p = Pair::new(Config::new(SocketType::Dealer), server());
    p.drive();
    assert!(matches!(
        p.b_error,
        Some(Error::Protocol(ProtocolError::MechanismMismatch { .. }))
    ));
}

fn server_fed(input: &[u8]) -> (Vec<Event>, Option<Error>) {
    let now = Instant::now();
    let mut c = Connection::new(server(), now).unwrap();
    let mut all = greeting(MechanismName::PLAIN, 3, 1);
    all.extend_from_slice(input);
    feed(&mut c, &all, now)
}

#[test]
fn rejects_malformed_hello() {
    let (_, err) = server_fed(&command("HELLO", b"\x05adm"));
    assert!(
        matches!(
            err,
            Some(Error::Malformed(MalformedError::LengthPastEnd { .. }))
        ),
        "{err:?}"
    );
    let (_, err) = server_fed(&command("HELLO", b"\x01u"));
    assert!(
        matches!(err, Some(Error::Malformed(MalformedError::Truncated(_)))),
        "{err:?}"
    );
    let (_, err) = server_fed(&command("HELLO", b"\x01u\x01pXYZ"));
    assert!(
        matches!(err, Some(Error::Malformed(MalformedError::TrailingData(_)))),
        "{err:?}"
    );
}

#[test]
fn rejects_steps_out_of_order() {
    // INITIATE before HELLO.
    let (_, err) = server_fed(&command("INITIATE", b""));
    assert!(matches!(
        err,
        Some(Error::Protocol(ProtocolError::UnexpectedCommand { .. }))
    ));
    // A message before the handshake.
    let (_, err) = server_fed(&frame(0, b"data"));
    assert_eq!(
        err,
        Some(Error::Protocol(ProtocolError::MessageBeforeHandshake))
    );
    // Anything while the decision is pending is not even read.
    let mut input = command("HELLO", b"\x01u\x01p");
    input.extend(command("INITIATE", b""));
    let (events, err) = server_fed(&input);
    assert_eq!(err, None);
    assert!(matches!(&events[..], [Event::Authenticate(_)]));
}

#[test]
fn client_rejects_welcome_with_data_and_reports_errors() {
    let now = Instant::now();
    let mut c = Connection::new(client("u", "p"), now).unwrap();
    let mut input = greeting(MechanismName::PLAIN, 3, 1);
    input.extend(command("WELCOME", b"x"));
    let (_, err) = feed(&mut c, &input, now);
    assert!(matches!(
        err,
        Some(Error::Protocol(ProtocolError::UnexpectedCommand { .. }))
    ));

    let mut c = Connection::new(client("u", "p"), now).unwrap();
    let mut input = greeting(MechanismName::PLAIN, 3, 1);
    input.extend(command("ERROR", b"\x03400"));
    let (_, err) = feed(&mut c, &input, now);
    assert_eq!(
        err,
        Some(Error::PeerError(ErrorReason(Bytes::from_static(b"400"))))
    );
}

#[test]
fn credentials_over_255_octets_are_a_config_error() {
    assert!(Connection::new(client(&"u".repeat(256), "p"), Instant::now()).is_err());
}

/// A temporary failure ("300") disconnects the client without an ERROR
/// (libzmq 4.3 zap_client.cpp, after the CurveZMQ RFC).
#[test]
fn a_temporary_failure_sends_no_error() {
    let mut p = Pair::new(client("admin", "wrong"), server());
    temporary_failure_sends_no_error(&mut p);
}
