//! The CURVE mechanism (RFC 26): both roles against each other, and the
//! server against a hand-built client (written here with `crypto_box`
//! directly, independent of the crate's own client) that can get every step
//! wrong on purpose, as libzmq's test_security_curve does.

mod common;

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use common::*;
use crypto_box::SalsaBox;
use crypto_box::aead::generic_array::GenericArray;
use crypto_box::aead::{AeadInPlace, OsRng};
use weirmq_zmtp::error::ErrorReason;
use weirmq_zmtp::{
    AuthDecision, AuthRequest, Config, Connection, CurveError, Error, Event, FrameDecoder,
    Heartbeat, Keypair, Limits, MalformedError, Mechanism, MechanismName, Message, ProtocolError,
    PublicKey, SocketType,
};

fn client_config(server: &Keypair, client: &Keypair) -> Config {
    let mut c = Config::new(SocketType::Dealer);
    c.mechanism = Mechanism::CurveClient {
        server_key: server.public,
        keypair: client.clone(),
    };
    c
}

fn server_config(server: &Keypair) -> Config {
    let mut c = Config::new(SocketType::Router);
    c.mechanism = Mechanism::CurveServer {
        keypair: server.clone(),
    };
    c
}

fn allow() -> AuthDecision {
    AuthDecision::Allow {
        user_id: Bytes::from_static(b"alice"),
    }
}

fn auth_request(events: &[Event]) -> Option<AuthRequest> {
    events.iter().find_map(|e| match e {
        Event::Authenticate(r) => Some(r.clone()),
        _ => None,
    })
}

/// Client and server through the whole handshake, the server allowing.
fn connected(client: Config, server: Config) -> Pair {
    let mut p = Pair::new(client, server);
    p.drive();
    assert!(!p.a.is_ready(), "the server waits for the decision");
    p.b.authenticate(allow()).unwrap();
    p.handshake();
    p
}

#[test]
fn handshake_proves_the_client_key_and_traffic_flows_both_ways() {
    let (server, client) = (Keypair::generate(), Keypair::generate());
    let mut p = Pair::new(client_config(&server, &client), server_config(&server));
    p.drive();
    assert_eq!(
        auth_request(&p.b_events),
        Some(AuthRequest::Curve {
            public_key: client.public
        })
    );
    p.b.authenticate(allow()).unwrap();
    p.handshake();
    let seen = p.b.peer().unwrap();
    assert_eq!(seen.public_key, Some(client.public));
    assert_eq!(seen.user_id.as_deref(), Some(&b"alice"[..]));
    assert_eq!(seen.socket_type, Some(SocketType::Dealer));
    assert_eq!(p.a.peer().unwrap().socket_type, Some(SocketType::Router));

    let big = Bytes::from(vec![0xab; 1 << 20]);
    let multipart = Message::from(vec![Bytes::new(), Bytes::from_static(b"two"), big]);
    p.a.send(&multipart).unwrap();
    p.b.send(&Message::from("reply")).unwrap();
    p.drive();
    assert_eq!(messages(&p.b_events), vec![multipart]);
    assert_eq!(messages(&p.a_events), vec![Message::from("reply")]);
    // Each message says who sent it, as the handshake proved it.
    let from = messages(&p.b_events)[0]
        .peer()
        .cloned()
        .expect("peer attached");
    assert_eq!(from.public_key, Some(client.public));
    assert_eq!(from.user_id.as_deref(), Some(&b"alice"[..]));
}

#[test]
fn the_wire_carries_no_plaintext() {
    let (server, client) = (Keypair::generate(), Keypair::generate());
    let mut p = connected(client_config(&server, &client), server_config(&server));
    let secret = b"attack at dawn, attack at dawn";
    p.a.send(&Message::from(&secret[..])).unwrap();
    let wire = transmitted(&mut p.a);
    assert!(wire.windows(8).any(|w| w == b"\x07MESSAGE"));
    assert!(
        !wire.windows(6).any(|w| w == b"attack"),
        "plaintext on the wire"
    );
    // A MESSAGE is a data frame with no flags, as libzmq sends it.
    assert_eq!(wire[0], 0x00);
    assert_eq!(wire[1] as usize, 33 + secret.len());
}

#[test]
fn byte_at_a_time_handshake_and_heartbeats_inside_messages() {
    let (server, client) = (Keypair::generate(), Keypair::generate());
    let mut c = client_config(&server, &client);
    c.heartbeat = Some(Heartbeat::new(Duration::from_secs(1)));
    let mut s = server_config(&server);
    s.heartbeat = Some(Heartbeat::new(Duration::from_secs(1)));
    let mut p = Pair::new(c, s);
    p.read_size = 1;
    p.drive();
    p.b.authenticate(allow()).unwrap();
    p.handshake();
    // PINGs and PONGs travel sealed; ten intervals pass without a timeout.
    p.advance(Duration::from_secs(10));
    assert_eq!((&p.a_error, &p.b_error), (&None, &None));
    p.a.send(&Message::from("still here")).unwrap();
    p.drive();
    assert_eq!(messages(&p.b_events), vec![Message::from("still here")]);
}

#[test]
fn subscriptions_travel_sealed() {
    let server = Keypair::generate();
    let mut sub = Config::new(SocketType::Sub);
    sub.mechanism = Mechanism::CurveClient {
        server_key: server.public,
        keypair: Keypair::generate(),
    };
    let mut publ = Config::new(SocketType::Pub);
    publ.mechanism = Mechanism::CurveServer {
        keypair: server.clone(),
    };
    let mut p = connected(sub, publ);
    p.a.subscribe(b"weather").unwrap();
    p.drive();
    assert!(
        p.b_events
            .contains(&Event::Subscribe(Bytes::from_static(b"weather")))
    );
}

#[test]
fn wrong_server_key_fails_at_hello() {
    let (server, impostor) = (Keypair::generate(), Keypair::generate());
    let mut p = Pair::new(
        client_config(&impostor, &Keypair::generate()),
        server_config(&server),
    );
    p.drive();
    assert_eq!(p.b_error, Some(CurveError::Unopened("HELLO").into()));
    assert!(auth_request(&p.b_events).is_none());
}

#[test]
fn denied_client_gets_the_status_code() {
    let server = Keypair::generate();
    let mut p = Pair::new(
        client_config(&server, &Keypair::generate()),
        server_config(&server),
    );
    p.drive();
    let denied = p.b.authenticate(AuthDecision::Deny {
        status: Bytes::from_static(b"400"),
    });
    assert_eq!(
        denied,
        Err(Error::AuthDenied(ErrorReason(Bytes::from_static(b"400"))))
    );
    p.drive();
    assert_eq!(
        p.a_error,
        Some(Error::PeerError(ErrorReason(Bytes::from_static(b"400"))))
    );
}

#[test]
fn a_replayed_or_reordered_message_closes_the_connection() {
    let (server, client) = (Keypair::generate(), Keypair::generate());
    let mut p = connected(client_config(&server, &client), server_config(&server));
    p.a.send(&Message::from("one")).unwrap();
    let first = transmitted(&mut p.a);
    p.a.send(&Message::from("two")).unwrap();
    let second = transmitted(&mut p.a);

    // In order, then the first again: the replay is refused (CVE-2014-7203).
    let (events, err) = feed(&mut p.b, &[&first[..], &second[..]].concat(), p.now);
    assert_eq!(messages(&events).len(), 2);
    assert_eq!(err, None);
    let (_, err) = feed(&mut p.b, &first, p.now);
    assert!(
        matches!(
            err,
            Some(Error::Curve(CurveError::NonceNotIncreasing {
                got: 3,
                last: 4
            }))
        ),
        "{err:?}"
    );

    // Reordered: the later one first.
    let mut q = connected(client_config(&server, &client), server_config(&server));
    q.a.send(&Message::from("one")).unwrap();
    let first = transmitted(&mut q.a);
    q.a.send(&Message::from("two")).unwrap();
    let second = transmitted(&mut q.a);
    let (events, err) = feed(&mut q.b, &[&second[..], &first[..]].concat(), q.now);
    assert_eq!(messages(&events), vec![Message::from("two")]);
    assert!(matches!(
        err,
        Some(Error::Curve(CurveError::NonceNotIncreasing { .. }))
    ));
}

#[test]
fn a_forged_message_is_refused() {
    let (server, client) = (Keypair::generate(), Keypair::generate());
    let mut p = connected(client_config(&server, &client), server_config(&server));
    p.a.send(&Message::from("genuine")).unwrap();
    let mut wire = transmitted(&mut p.a);
    let last = wire.len() - 1;
    wire[last] ^= 1;
    let (events, err) = feed(&mut p.b, &wire, p.now);
    assert!(messages(&events).is_empty());
    assert_eq!(err, Some(CurveError::Unopened("MESSAGE").into()));
}

#[test]
fn clear_frames_after_the_handshake_are_refused() {
    let (server, client) = (Keypair::generate(), Keypair::generate());
    let mut p = connected(client_config(&server, &client), server_config(&server));
    let (events, err) = feed(&mut p.b, &frame(0x00, b"sneaky"), p.now);
    assert!(messages(&events).is_empty());
    assert_eq!(err, Some(CurveError::NotMessage.into()));
}

#[test]
fn message_limits_apply_to_the_sealed_frames() {
    let (server, client) = (Keypair::generate(), Keypair::generate());
    let mut s = server_config(&server);
    s.limits = Limits::new(1000, 2, 64 << 10).unwrap();
    let mut p = connected(client_config(&server, &client), s);
    p.a.send(&Message::from(vec![0u8; 1000])).unwrap();
    p.drive();
    assert_eq!(messages(&p.b_events).len(), 1, "exactly at the limit");
    p.a.send(&Message::from(vec![0u8; 1001])).unwrap();
    p.drive();
    assert!(
        matches!(
            p.b_error,
            Some(Error::Malformed(MalformedError::MessageTooLarge {
                limit: 1000,
                ..
            }))
        ),
        "{:?}",
        p.b_error
    );

    let mut s = server_config(&server);
    s.limits = Limits::new(1000, 2, 64 << 10).unwrap();
    let mut p = connected(client_config(&server, &client), s);
    let three = Message::from(vec![Bytes::from_static(b"a"); 3]);
    p.a.send(&three).unwrap();
    p.drive();
    assert_eq!(
        p.b_error,
        Some(MalformedError::TooManyFrames { limit: 2 }.into())
    );
}

#[test]
fn null_and_plain_clients_are_refused_by_a_curve_server() {
    let server = Keypair::generate();
    for mechanism in [
        Mechanism::Null,
        Mechanism::PlainClient {
            username: Bytes::from_static(b"u"),
            password: Bytes::from_static(b"p"),
        },
    ] {
        let mut c = Config::new(SocketType::Dealer);
        c.mechanism = mechanism;
        let mut p = Pair::new(c, server_config(&server));
        p.drive();
        assert!(
            matches!(
                p.b_error,
                Some(Error::Protocol(ProtocolError::MechanismMismatch { .. }))
            ),
            "{:?}",
            p.b_error
        );
    }
}

#[test]
fn a_mismatched_keypair_is_a_configuration_error() {
    let (a, b) = (Keypair::generate(), Keypair::generate());
    let bad = Keypair {
        public: a.public,
        secret: b.secret.clone(),
    };
    let config = server_config(&bad);
    assert!(Connection::new(config, std::time::Instant::now()).is_err());
}

// ---- A hand-built client, to get each step wrong on purpose. ----

fn seal(key: &SalsaBox, nonce: &[u8], plain: &[u8]) -> Vec<u8> {
    let mut buf = plain.to_vec();
    let tag = key
        .encrypt_in_place_detached(GenericArray::from_slice(nonce), b"", &mut buf)
        .unwrap();
    [&tag[..], &buf[..]].concat()
}

fn open(key: &SalsaBox, nonce: &[u8], sealed: &[u8]) -> Vec<u8> {
    let (tag, ct) = sealed.split_at(16);
    let mut buf = ct.to_vec();
    key.decrypt_in_place_detached(
        GenericArray::from_slice(nonce),
        b"",
        &mut buf,
        GenericArray::from_slice(tag),
    )
    .expect("box opens");
    buf
}

fn pk(key: &PublicKey) -> crypto_box::PublicKey {
    crypto_box::PublicKey::from(*key.as_bytes())
}

fn sk(key: &Keypair) -> crypto_box::SecretKey {
    crypto_box::SecretKey::from(*key.secret.as_bytes())
}

/// What the hand-built client does wrong.
#[derive(Clone, Copy, PartialEq)]
enum Fault {
    None,
    HelloLength,
    HelloVersion,
    HelloName,
    /// A short-term key of small order (here the identity, 0): the shared
    /// secret is then 0 whatever the server's key, so anyone could seal
    /// HELLO and read WELCOME; libsodium refuses such a key.
    HelloSmallOrderKey,
    Cookie,
    VouchKey,
    VouchServer,
    InitiateBox,
}

struct RawClient {
    server: Connection,
    server_key: Keypair,
    long: Keypair,
    short: crypto_box::SecretKey,
}

impl RawClient {
    fn new() -> RawClient {
        let server_key = Keypair::generate();
        let now = std::time::Instant::now();
        let server = Connection::new(server_config(&server_key), now).unwrap();
        RawClient {
            server,
            server_key,
            long: Keypair::generate(),
            short: crypto_box::SecretKey::generate(&mut OsRng),
        }
    }

    fn hello(&self, fault: Fault) -> Vec<u8> {
        let small_order = crypto_box::PublicKey::from([0; 32]);
        let key = if fault == Fault::HelloSmallOrderKey {
            // X25519 with the identity is 0 for any secret: the key the
            // server would derive too.
            SalsaBox::new(&small_order, &self.short)
        } else {
            SalsaBox::new(&pk(&self.server_key.public), &self.short)
        };
        let mut body = b"\x05HELLO".to_vec();
        if fault == Fault::HelloName {
            body[1] = b'J';
        }
        body.extend_from_slice(if fault == Fault::HelloVersion {
            &[2, 0]
        } else {
            &[1, 0]
        });
        body.extend_from_slice(&[0; 72]);
        let short_public = if fault == Fault::HelloSmallOrderKey {
            small_order
        } else {
            self.short.public_key()
        };
        body.extend_from_slice(short_public.as_bytes());
        let tail = 1u64.to_be_bytes();
        body.extend_from_slice(&tail);
        body.extend(seal(
            &key,
            &[&b"CurveZMQHELLO---"[..], &tail].concat(),
            &[0; 64],
        ));
        if fault == Fault::HelloLength {
            body.push(0);
        }
        command_frame(&body)
    }

    /// Runs the handshake up to the server's verdict on INITIATE.
    fn run(&mut self, fault: Fault, metadata: &[u8]) -> (Vec<Event>, Option<Error>) {
        let now = std::time::Instant::now();
        let mut input = greeting(MechanismName::CURVE, 3, 1);
        input.extend(self.hello(fault));
        let (events, err) = feed(&mut self.server, &input, now);
        if err.is_some() {
            return (events, err);
        }
        let out = transmitted(&mut self.server);
        let mut wire = BytesMut::from(&out[64..]);
        let welcome = FrameDecoder::new(Limits::default())
            .decode(&mut wire)
            .unwrap()
            .expect("WELCOME");
        assert_eq!(welcome.body.len(), 168);
        let hello_key = SalsaBox::new(&pk(&self.server_key.public), &self.short);
        let plain = open(
            &hello_key,
            &[&b"WELCOME-"[..], &welcome.body[8..24]].concat(),
            &welcome.body[24..],
        );
        let server_short = crypto_box::PublicKey::from(<[u8; 32]>::try_from(&plain[..32]).unwrap());
        let mut cookie = plain[32..128].to_vec();
        if fault == Fault::Cookie {
            cookie[40] ^= 1;
        }
        let vouch_signer = if fault == Fault::VouchKey {
            crypto_box::SecretKey::generate(&mut OsRng)
        } else {
            sk(&self.long)
        };
        let vouched_server = if fault == Fault::VouchServer {
            Keypair::generate().public
        } else {
            self.server_key.public
        };
        let vouch_tail = [7u8; 16];
        let vouch = seal(
            &SalsaBox::new(&server_short, &vouch_signer),
            &[&b"VOUCH---"[..], &vouch_tail].concat(),
            &[
                &self.short.public_key().as_bytes()[..],
                &vouched_server.as_bytes()[..],
            ]
            .concat(),
        );
        let mut boxed = self.long.public.as_bytes().to_vec();
        boxed.extend_from_slice(&vouch_tail);
        boxed.extend(vouch);
        boxed.extend_from_slice(metadata);
        let session = SalsaBox::new(&server_short, &self.short);
        let tail = 2u64.to_be_bytes();
        let mut sealed = seal(
            &session,
            &[&b"CurveZMQINITIATE"[..], &tail].concat(),
            &boxed,
        );
        if fault == Fault::InitiateBox {
            sealed[20] ^= 1;
        }
        let mut body = b"\x08INITIATE".to_vec();
        body.extend(cookie);
        body.extend_from_slice(&tail);
        body.extend(sealed);
        feed(&mut self.server, &command_frame(&body), now)
    }
}

fn command_frame(body: &[u8]) -> Vec<u8> {
    frame(0x04, body)
}

fn property(name: &str, value: &[u8]) -> Vec<u8> {
    let mut p = vec![name.len() as u8];
    p.extend_from_slice(name.as_bytes());
    p.extend_from_slice(&(value.len() as u32).to_be_bytes());
    p.extend_from_slice(value);
    p
}

#[test]
fn the_hand_built_client_gets_through_when_it_does_everything_right() {
    let mut c = RawClient::new();
    let (events, err) = c.run(Fault::None, &property("Socket-Type", b"DEALER"));
    assert_eq!(err, None);
    assert_eq!(
        auth_request(&events),
        Some(AuthRequest::Curve {
            public_key: c.long.public
        })
    );
}

#[test]
fn every_broken_step_is_refused() {
    let cases = [
        (
            Fault::HelloLength,
            Error::from(CurveError::BadSize {
                command: "HELLO",
                size: 201,
                expected: "200",
            }),
        ),
        (
            Fault::HelloVersion,
            CurveError::Version { major: 2, minor: 0 }.into(),
        ),
        (
            Fault::HelloSmallOrderKey,
            CurveError::Unopened("HELLO").into(),
        ),
        (Fault::Cookie, CurveError::Unopened("cookie").into()),
        (Fault::InitiateBox, CurveError::Unopened("INITIATE").into()),
        (Fault::VouchKey, CurveError::Unopened("vouch").into()),
        (Fault::VouchServer, CurveError::BadVouch.into()),
    ];
    for (fault, want) in cases {
        let mut c = RawClient::new();
        let (events, err) = c.run(fault, &property("Socket-Type", b"DEALER"));
        assert_eq!(err.as_ref(), Some(&want));
        assert!(
            auth_request(&events).is_none(),
            "no verdict asked for a bad client"
        );
    }
    let mut c = RawClient::new();
    let (_, err) = c.run(Fault::HelloName, &[]);
    assert!(
        matches!(
            err,
            Some(Error::Protocol(ProtocolError::UnexpectedCommand { .. }))
        ),
        "{err:?}"
    );
}

#[test]
fn a_message_before_the_handshake_is_refused() {
    let mut c = RawClient::new();
    let mut input = greeting(MechanismName::CURVE, 3, 1);
    input.extend(frame(0x00, b"hello?"));
    let (_, err) = feed(&mut c.server, &input, std::time::Instant::now());
    assert_eq!(err, Some(ProtocolError::MessageBeforeHandshake.into()));
}

/// libzmq CVE-2019-13132: INITIATE metadata was copied into fixed-size stack
/// buffers. Here a large property is parsed in place and handed over whole,
/// and a command over the command limit is refused on its header.
#[test]
fn initiate_with_large_metadata_is_parsed_safely() {
    let mut c = RawClient::new();
    let value = vec![b'x'; 16 << 10];
    let metadata = [
        property("Socket-Type", b"DEALER"),
        property("X-Big", &value),
    ]
    .concat();
    let (events, err) = c.run(Fault::None, &metadata);
    assert_eq!(err, None);
    assert!(auth_request(&events).is_some());
    c.server.authenticate(allow()).unwrap();
    let (events, err) = feed(&mut c.server, &[], std::time::Instant::now());
    assert_eq!(err, None);
    let Some(Event::HandshakeSucceeded(peer)) = events.first() else {
        panic!("{events:?}");
    };
    assert_eq!(peer.metadata.get("X-Big"), Some(&Bytes::from(value)));

    let mut c = RawClient::new();
    let huge = vec![b'x'; 70 << 10];
    let metadata = [property("Socket-Type", b"DEALER"), property("X-Big", &huge)].concat();
    let (_, err) = c.run(Fault::None, &metadata);
    assert!(
        matches!(
            err,
            Some(Error::Malformed(MalformedError::CommandTooLarge { .. }))
        ),
        "{err:?}"
    );
}

/// libzmq CVE-2014-9721: a peer announcing ZMTP 1.0 or 2.0 to a CURVE
/// server must not slip past the security handshake into the old protocol.
#[test]
fn a_downgrade_to_an_older_zmtp_is_refused() {
    for major in [1, 2] {
        let mut c = RawClient::new();
        let (events, err) = feed(
            &mut c.server,
            &greeting(MechanismName::CURVE, major, 0),
            std::time::Instant::now(),
        );
        assert!(events.is_empty());
        assert_eq!(
            err,
            Some(ProtocolError::UnsupportedVersion { major }.into())
        );
    }
}

/// A temporary failure ("300") disconnects the client without an ERROR
/// (libzmq 4.3 zap_client.cpp, after the CurveZMQ RFC).
#[test]
fn a_temporary_failure_sends_no_error() {
    let server = Keypair::generate();
    let mut p = Pair::new(
        client_config(&server, &Keypair::generate()),
        server_config(&server),
    );
    temporary_failure_sends_no_error(&mut p);
}
