//! Helpers shared by the integration tests: a pair of connections on virtual
//! time, and raw ZMTP byte builders for playing a peer by hand.

#![allow(dead_code, unreachable_pub)]

use std::time::{Duration, Instant};

use bytes::{BufMut, BytesMut};
use weirmq_zmtp::{Config, Connection, Error, Event, Greeting, MechanismName, Message};

/// Two connections joined by an in-memory "wire", on a virtual clock.
pub struct Pair {
    pub now: Instant,
    pub a: Connection,
    pub b: Connection,
    pub a_events: Vec<Event>,
    pub b_events: Vec<Event>,
    pub a_error: Option<Error>,
    pub b_error: Option<Error>,
    /// While false, nothing travels from `b` to `a` (b's bytes are dropped),
    /// as if b hung.
    pub b_to_a: bool,
    /// Largest piece a transport read hands over (exercises partial input).
    pub read_size: usize,
}

impl Pair {
    pub fn new(a: Config, b: Config) -> Pair {
        let now = Instant::now();
        Pair {
            now,
            a: Connection::new(a, now).expect("config a"),
            b: Connection::new(b, now).expect("config b"),
            a_events: Vec::new(),
            b_events: Vec::new(),
            a_error: None,
            b_error: None,
            b_to_a: true,
            read_size: usize::MAX,
        }
    }

    fn deliver(
        from: &mut Connection,
        to: &mut Connection,
        read_size: usize,
        now: Instant,
        pass: bool,
    ) -> bool {
        let mut moved = false;
        while let Some(chunk) = from.poll_transmit() {
            moved = true;
            if pass {
                for piece in chunk.chunks(read_size) {
                    to.handle_input(piece, now);
                }
            }
        }
        moved
    }

    fn drain(
        conn: &mut Connection,
        now: Instant,
        events: &mut Vec<Event>,
        error: &mut Option<Error>,
    ) {
        if error.is_some() {
            return;
        }
        loop {
            match conn.poll_event(now) {
                Ok(Some(e)) => events.push(e),
                Ok(None) => return,
                Err(e) => {
                    *error = Some(e);
                    return;
                }
            }
        }
    }

    /// Moves bytes and events until nothing changes.
    pub fn drive(&mut self) {
        for _ in 0..100 {
            let ab = Self::deliver(&mut self.a, &mut self.b, self.read_size, self.now, true);
            let ba = Self::deliver(
                &mut self.b,
                &mut self.a,
                self.read_size,
                self.now,
                self.b_to_a,
            );
            Self::drain(&mut self.a, self.now, &mut self.a_events, &mut self.a_error);
            Self::drain(&mut self.b, self.now, &mut self.b_events, &mut self.b_error);
            if !ab && !ba && !self.a.wants_transmit() && !self.b.wants_transmit() {
                return;
            }
        }
        panic!("pair did not settle");
    }

    /// Advances virtual time to `until`, stopping at every deadline either
    /// side asks for, firing timers and driving traffic at each.
    pub fn advance(&mut self, by: Duration) {
        let until = self.now + by;
        loop {
            let next = [self.a.poll_timeout(), self.b.poll_timeout()]
                .into_iter()
                .flatten()
                .filter(|&t| t <= until)
                .min();
            let Some(at) = next else { break };
            self.now = self.now.max(at);
            if self.a_error.is_none() {
                if let Err(e) = self.a.handle_timeout(self.now) {
                    self.a_error = Some(e);
                }
            }
            if self.b_error.is_none() {
                if let Err(e) = self.b.handle_timeout(self.now) {
                    self.b_error = Some(e);
                }
            }
            self.drive();
        }
        self.now = until;
        self.drive();
    }

    pub fn handshake(&mut self) {
        self.drive();
        assert!(self.a.is_ready(), "a not ready: {:?}", self.a_error);
        assert!(self.b.is_ready(), "b not ready: {:?}", self.b_error);
    }
}

pub fn greeting(mechanism: MechanismName, major: u8, minor: u8) -> Vec<u8> {
    let mut g = Greeting::new(mechanism, false);
    g.major = major;
    g.minor = minor;
    g.encode().to_vec()
}

pub fn null_greeting() -> Vec<u8> {
    greeting(MechanismName::NULL, 3, 1)
}

pub fn frame(flags: u8, body: &[u8]) -> Vec<u8> {
    let mut out = BytesMut::new();
    if body.len() > 255 {
        out.put_u8(flags | 0x02);
        out.put_u64(body.len() as u64);
    } else {
        out.put_u8(flags);
        out.put_u8(body.len() as u8);
    }
    out.extend_from_slice(body);
    out.to_vec()
}

pub fn command(name: &str, data: &[u8]) -> Vec<u8> {
    let mut body = vec![name.len() as u8];
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(data);
    frame(0x04, &body)
}

pub fn ready(props: &[(&str, &[u8])]) -> Vec<u8> {
    let mut data = Vec::new();
    for (n, v) in props {
        data.push(n.len() as u8);
        data.extend_from_slice(n.as_bytes());
        data.extend_from_slice(&(v.len() as u32).to_be_bytes());
        data.extend_from_slice(v);
    }
    command("READY", &data)
}

/// The messages among `events`, in order.
pub fn messages(events: &[Event]) -> Vec<Message> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Message(m) => Some(m.clone()),
            _ => None,
        })
        .collect()
}

/// Everything a connection has queued for the wire.
pub fn transmitted(conn: &mut Connection) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(chunk) = conn.poll_transmit() {
        out.extend_from_slice(&chunk);
    }
    out
}

/// Feeds `input` and collects events until input runs out or an error.
pub fn feed(conn: &mut Connection, input: &[u8], now: Instant) -> (Vec<Event>, Option<Error>) {
    conn.handle_input(input, now);
    let mut events = Vec::new();
    loop {
        match conn.poll_event(now) {
            Ok(Some(e)) => events.push(e),
            Ok(None) => return (events, None),
            Err(e) => return (events, Some(e)),
        }
    }
}

/// Feeds `input` as a transport would through [`Connection::read_buffer`]:
/// each read takes what has arrived, at most what the connection allows
/// (`room` being its usual read), and events are collected after each read,
/// until input runs out or an error.
pub fn feed_reads(
    conn: &mut Connection,
    input: &[u8],
    room: usize,
    now: Instant,
) -> (Vec<Event>, Option<Error>) {
    let mut events = Vec::new();
    let mut rest = input;
    while !rest.is_empty() {
        let mut buf = conn.read_buffer(room);
        let n = buf.remaining_mut().min(rest.len());
        assert!(n > 0, "read_buffer allowed a read of nothing");
        let capacity = buf.get_ref().capacity();
        buf.put_slice(&rest[..n]);
        assert_eq!(
            buf.get_ref().capacity(),
            capacity,
            "a read must fit in the room made for it"
        );
        rest = &rest[n..];
        conn.input_received(now);
        loop {
            match conn.poll_event(now) {
                Ok(Some(e)) => events.push(e),
                Ok(None) => break,
                Err(e) => return (events, Some(e)),
            }
        }
    }
    (events, None)
}

/// The server of `p` answers its client's credentials with ZAP's "300"
/// (a temporary failure): the server fails, and the client is
/// disconnected without an ERROR (libzmq 4.3 zap_client.cpp, after the
/// CurveZMQ RFC).
pub fn temporary_failure_sends_no_error(p: &mut Pair) {
    use weirmq_zmtp::AuthDecision;
    use weirmq_zmtp::error::ErrorReason;
    p.drive();
    let temporary = || ErrorReason(bytes::Bytes::from_static(b"300"));
    let err = p.b.authenticate(AuthDecision::Deny {
        status: temporary().0,
    });
    assert_eq!(err, Err(Error::AuthDenied(temporary())));
    p.drive();
    assert_eq!(p.a_error, None, "the client got an ERROR");
    assert!(!p.a.is_ready() && !p.b.is_ready());
}
