//! Entry points for the fuzz targets in `fuzz/`, also used by the test that
//! replays their committed corpus.
//!
//! Each function takes arbitrary bytes and must never panic. Beyond "does not
//! crash", each checks an invariant, so the fuzzer also hunts logic bugs:
//! decoding whole input and decoding it one byte at a time agree, and what
//! decodes re-encodes to something that decodes the same.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};

use crate::command::Command;
use crate::connection::{Config, Connection, Event, Heartbeat};
use crate::error::Error;
use crate::frame::{Frame, FrameDecoder, Limits, encode_frame};
use crate::greeting::{Greeting, GreetingDecoder};
use crate::keys::{Keypair, SecretKey};
use crate::mechanism::{AuthDecision, Mechanism};
use crate::message::Message;
use crate::metadata::Metadata;
use crate::socket_type::SocketType;

/// Greeting parsing: whole input and one byte at a time must agree, and a
/// parsed greeting must survive an encode/decode round trip.
pub fn greeting(data: &[u8]) {
    let whole = GreetingDecoder::new().decode(data).map(|(_, g)| g);
    let mut dec = GreetingDecoder::new();
    let mut stepwise = Ok(None);
    for byte in data {
        match dec.decode(std::slice::from_ref(byte)) {
            Ok((_, Some(g))) => {
                stepwise = Ok(Some(g));
                break;
            }
            Ok((_, None)) => {}
            Err(e) => {
                stepwise = Err(e);
                break;
            }
        }
    }
    assert_eq!(
        whole, stepwise,
        "whole and byte-by-byte greeting parses differ"
    );
    if let Ok(Some(g)) = whole {
        let again = GreetingDecoder::new().decode(&g.encode()).map(|(_, g)| g);
        assert_eq!(again, Ok(Some(g)));
    }
}

fn decode_frames(decoder: &mut FrameDecoder, buf: &mut BytesMut, out: &mut Vec<Frame>) -> bool {
    loop {
        match decoder.decode(buf) {
            Ok(Some(f)) => out.push(f),
            Ok(None) => return true,
            Err(_) => return false,
        }
    }
}

/// The frame decoder, under small limits chosen by the first two octets.
pub fn frames(data: &[u8]) {
    let [a, b, rest @ ..] = data else { return };
    let limits = Limits::new(u64::from(*a) * 64 + 1, usize::from(*b % 16) + 1, 300)
        .expect("non-zero limits");

    let mut whole = Vec::new();
    let whole_ok = decode_frames(
        &mut FrameDecoder::new(limits),
        &mut BytesMut::from(rest),
        &mut whole,
    );

    let mut stepwise = Vec::new();
    let mut dec = FrameDecoder::new(limits);
    let mut buf = BytesMut::new();
    let mut step_ok = true;
    for byte in rest {
        buf.extend_from_slice(std::slice::from_ref(byte));
        if !decode_frames(&mut dec, &mut buf, &mut stepwise) {
            step_ok = false;
            break;
        }
    }
    assert_eq!(
        whole, stepwise,
        "whole and byte-by-byte frame decodes differ"
    );
    assert_eq!(whole_ok, step_ok);

    let mut again = BytesMut::new();
    for f in &whole {
        encode_frame(&mut again, f.more, f.command, &f.body);
    }
    let mut back = Vec::new();
    assert!(decode_frames(
        &mut FrameDecoder::new(limits),
        &mut again,
        &mut back
    ));
    assert_eq!(whole, back, "re-encoded frames decode differently");
}

/// Command and metadata parsing with an encode/decode round trip.
pub fn command(data: &[u8]) {
    let body = Bytes::copy_from_slice(data);
    if let Ok(command) = Command::decode(body.clone()) {
        let mut wire = BytesMut::new();
        command.encode(&mut wire);
        let mut dec = FrameDecoder::new(Limits::new(1 << 20, 1, 1 << 20).expect("non-zero"));
        let frame = dec
            .decode(&mut wire)
            .expect("our encoding decodes")
            .expect("whole frame");
        assert_eq!(Command::decode(frame.body).as_ref(), Ok(&command));
    }
    if let Ok(metadata) = Metadata::decode(body) {
        let mut wire = BytesMut::new();
        metadata.encode(&mut wire);
        assert_eq!(Metadata::decode(wire.freeze()).as_ref(), Ok(&metadata));
        let _ = metadata.socket_type();
        let _ = metadata.identity();
    }
}

/// A whole NULL [`Connection`] fed raw bytes.
///
/// Octet 0 picks the socket type (bits 0..4), heartbeats (bit 5), whether
/// input is read in through [`Connection::read_buffer`] rather than copied
/// in (bit 6), and whether a valid greeting is put in front of the input
/// (bit 7), so the fuzzer spends its time past the greeting; octet 1 is the
/// read size (1..=256). Bit 4 of octet 0, taken from the socket type's
/// bits, makes the connection ask before its READY
/// ([`Config::null_authenticate`], as with a ZAP domain), and then bit 2
/// of octet 1 denies the peer. Time advances a millisecond per read.
pub fn null_connection(data: &[u8]) {
    let [mode, chunk, rest @ ..] = data else {
        return;
    };
    let ask = mode & 0x10 != 0;
    let mut config = fuzz_config(mode & !0x10);
    if mode & 0x20 != 0 {
        let mut hb = Heartbeat::new(Duration::from_millis(3));
        hb.ttl = Some(Duration::from_millis(100));
        config.heartbeat = Some(hb);
    }
    config.null_authenticate = ask;
    run_connection(config, *mode, *chunk, rest, !ask || chunk & 0x04 == 0);
}

/// A PLAIN client fed raw bytes (as the server's side of the wire).
///
/// Octets 0 and 1 as for [`null_connection`], but bit 5 of octet 0 makes
/// the authenticator deny (in the server roles).
pub fn plain_client(data: &[u8]) {
    secure_connection(
        Mechanism::PlainClient {
            username: Bytes::from_static(b"user"),
            password: Bytes::from_static(b"pass"),
        },
        data,
    );
}

/// A PLAIN server fed raw bytes; see [`plain_client`].
pub fn plain_server(data: &[u8]) {
    secure_connection(Mechanism::PlainServer, data);
}

/// A CURVE client fed raw bytes; see [`plain_client`]. Built for fuzzing
/// (`cfg(fuzzing)`), the crypto is transparent, so the fuzzer can write
/// valid boxes: 16 zero octets and then the plaintext.
pub fn curve_client(data: &[u8]) {
    secure_connection(
        Mechanism::CurveClient {
            server_key: fuzz_keypair().public,
            keypair: fuzz_keypair().clone(),
        },
        data,
    );
}

/// A CURVE server fed raw bytes; see [`curve_client`].
pub fn curve_server(data: &[u8]) {
    secure_connection(
        Mechanism::CurveServer {
            keypair: fuzz_keypair().clone(),
        },
        data,
    );
}

/// The long-term keypair of the CURVE targets: the example pair of libzmq's
/// zmq_curve(7), so seeds can be written by hand (fuzz/seeds.py).
fn fuzz_keypair() -> &'static Keypair {
    static PAIR: OnceLock<Keypair> = OnceLock::new();
    PAIR.get_or_init(|| {
        let secret =
            SecretKey::from_z85("JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6").expect("valid Z85 key");
        Keypair::from_secret(secret)
    })
}

fn fuzz_config(mode: u8) -> Config {
    let socket_type = SocketType::ALL[usize::from(mode & 0x1F) % SocketType::ALL.len()];
    let mut config = Config::new(socket_type);
    config.limits = Limits::new(4096, 8, 2048).expect("non-zero");
    config.handshake_timeout = Some(Duration::from_millis(50));
    config
}

fn secure_connection(mechanism: Mechanism, data: &[u8]) {
    let [mode, chunk, rest @ ..] = data else {
        return;
    };
    let mut config = fuzz_config(*mode);
    config.mechanism = mechanism;
    run_connection(config, *mode, *chunk, rest, mode & 0x20 == 0);
}

/// Feeds `rest` to a connection `chunk + 1` octets at a time (after a
/// greeting when bit 7 of `mode` is set), answering authentication requests
/// with `allow`, and checks the connection's invariants after each read.
/// With an odd `chunk`, small messages are taken first with
/// [`Connection::poll_small_message`], as the engine does.
fn run_connection(config: Config, mode: u8, chunk: u8, rest: &[u8], allow: bool) {
    const SMALL: usize = 46;
    let small_first = chunk & 1 == 1;
    let greeting = Greeting::new(config.mechanism.name(), false).encode();
    let mut now = Instant::now();
    let mut conn = Connection::new(config, now).expect("valid config");

    let mut input = Vec::with_capacity(rest.len() + 64);
    if mode & 0x80 != 0 {
        input.extend_from_slice(&greeting);
    }
    input.extend_from_slice(rest);

    let mut failed: Option<Error> = None;
    for piece in input.chunks(usize::from(chunk) + 1) {
        now += Duration::from_millis(1);
        if mode & 0x40 != 0 {
            read_in(&mut conn, piece, now);
        } else {
            conn.handle_input(piece, now);
        }
        loop {
            if small_first {
                if let Some(len) = conn.poll_small_message(SMALL, <[u8]>::len) {
                    assert!(len <= SMALL);
                    continue;
                }
            }
            match conn.poll_event(now) {
                Ok(Some(Event::Message(m))) => assert!(!m.is_empty()),
                Ok(Some(Event::HandshakeSucceeded(_))) => {
                    assert!(conn.is_ready());
                    conn.send(&Message::from("fuzz"))
                        .expect("ready connection sends");
                }
                Ok(Some(Event::Authenticate(_))) => {
                    let decision = if allow {
                        AuthDecision::Allow {
                            user_id: Bytes::from_static(b"fuzz"),
                        }
                    } else {
                        AuthDecision::Deny {
                            status: Bytes::from_static(b"400"),
                        }
                    };
                    if let Err(e) = conn.authenticate(decision) {
                        assert!(!allow, "allowing fails only a failed connection");
                        failed = Some(e);
                        break;
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        if failed.is_none() {
            if let Err(e) = conn.handle_timeout(now) {
                failed = Some(e);
            }
        }
        while conn.poll_transmit().is_some() {}
        if let Some(e) = &failed {
            // A failed connection stays failed with the same error.
            assert_eq!(conn.poll_event(now).as_ref(), Err(e));
            assert_eq!(conn.handle_timeout(now).as_ref(), Err(e));
            assert!(conn.poll_timeout().is_none());
            assert!(!conn.is_ready());
            return;
        }
        // Every deadline due by now has fired: what is left lies ahead.
        if let Some(deadline) = conn.poll_timeout() {
            assert!(deadline > now, "deadline in the past after handle_timeout");
        }
    }
}

/// Reads `piece` in as a transport would, through [`Connection::read_buffer`]:
/// each read within the room made for it, and that room never far ahead of
/// what has arrived, whatever the frame headers claim.
fn read_in(conn: &mut Connection, mut piece: &[u8], now: Instant) {
    const ROOM: usize = 64;
    while !piece.is_empty() {
        let mut buf = conn.read_buffer(ROOM);
        let (len, capacity) = (buf.get_ref().len(), buf.get_ref().capacity());
        assert!(
            capacity <= 2 * len + 2 * ROOM + (512 << 10),
            "{capacity} octets reserved for {len}"
        );
        let n = buf.remaining_mut().min(piece.len());
        assert!(n > 0, "read_buffer allowed a read of nothing");
        buf.put_slice(&piece[..n]);
        assert_eq!(buf.get_ref().capacity(), capacity, "the read did not fit");
        piece = &piece[n..];
        conn.input_received(now);
    }
}

/// Z85 decoding of arbitrary text, and a round trip of arbitrary octets.
pub fn z85(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(bytes) = crate::z85::decode(text) {
            assert_eq!(
                crate::z85::encode(&bytes).as_deref(),
                Ok(text),
                "decode then encode"
            );
        }
        let _ = crate::keys::PublicKey::from_z85(text);
    }
    let whole = &data[..data.len() / 4 * 4];
    let text = crate::z85::encode(whole).expect("multiple of 4");
    assert_eq!(
        crate::z85::decode(&text).as_deref(),
        Ok(whole),
        "encode then decode"
    );
}
