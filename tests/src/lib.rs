//! Helpers for the interop suite: a libzmq peer (through the `zmq` crate,
//! linked to the system's libzmq 4.3) run on a blocking thread, with every
//! operation bounded by a timeout so no test can hang.

#![forbid(unsafe_code)]

use std::time::Duration;
use weirmq::prelude::*;

use bytes::Bytes;
use weirmq::Message;

pub mod draft_peer;

/// Bound on every single step of a test.
pub const STEP: Duration = Duration::from_secs(10);

/// Runs one step of a test, failing it if the step takes longer than
/// [`STEP`].
pub async fn within<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(STEP, f)
        .await
        .expect("test step timed out")
}

/// The reason of the first handshake failure the monitor reports.
pub async fn handshake_failure(events: &mut weirmq::Monitor) -> String {
    within(async {
        loop {
            match events.recv().await {
                Some(weirmq::MonitorEvent::HandshakeFailed { reason, .. }) => return reason,
                Some(_) => {}
                None => panic!("the socket closed before a handshake failed"),
            }
        }
    })
    .await
}

/// The transports both sides speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// tcp:// on 127.0.0.1.
    Tcp,
    /// ipc:// under a temporary directory.
    Ipc,
}

impl Transport {
    /// Both transports.
    pub const ALL: [Transport; 2] = [Transport::Tcp, Transport::Ipc];

    /// An endpoint to bind: a wildcard tcp port, or a fresh ipc path.
    pub fn bind_endpoint(self, dir: &tempfile::TempDir, name: &str) -> String {
        match self {
            Transport::Tcp => "tcp://127.0.0.1:*".to_owned(),
            Transport::Ipc => format!("ipc://{}", dir.path().join(name).display()),
        }
    }
}

/// A libzmq socket with timeouts and zero linger set, so a failing test
/// fails instead of hanging.
pub fn zmq_socket(ctx: &zmq::Context, kind: zmq::SocketType) -> zmq::Socket {
    let s = ctx.socket(kind).expect("libzmq socket");
    let ms = STEP.as_millis() as i32;
    s.set_rcvtimeo(ms).expect("rcvtimeo");
    s.set_sndtimeo(ms).expect("sndtimeo");
    s.set_linger(1000).expect("linger");
    s
}

/// The endpoint a libzmq socket actually bound (wildcard port resolved).
pub fn zmq_last_endpoint(s: &zmq::Socket) -> String {
    s.get_last_endpoint()
        .expect("last endpoint")
        .expect("utf-8 endpoint")
}

/// Sends a weirmq message through a libzmq socket.
pub fn zmq_send(s: &zmq::Socket, msg: &Message) {
    let frames: Vec<&[u8]> = msg.frames().iter().map(|f| &f[..]).collect();
    s.send_multipart(frames, 0).expect("libzmq send");
}

/// Receives a multipart message from a libzmq socket as a weirmq message.
pub fn zmq_recv(s: &zmq::Socket) -> Message {
    let parts = s.recv_multipart(0).expect("libzmq recv (timed out?)");
    parts.into_iter().map(Bytes::from).collect()
}

/// The messages every interop test sends: multipart, empty frames, the
/// 255/256-octet frame boundary, and 1 MiB.
pub fn test_messages() -> Vec<Message> {
    vec![
        Message::from("hello"),
        ["multi", "", "part"].into_iter().collect(),
        Message::from(Bytes::new()),
        Message::from(vec![0xA1u8; 255]),
        Message::from(vec![0xB2u8; 256]),
        Message::from(vec![0xC3u8; 1 << 20]),
    ]
}

/// A ZAP handler (RFC 27) on a libzmq context, at `inproc://zeromq.zap.01`,
/// until `stop` is set. `judge` gets the request's frames after the empty
/// delimiter (version, request id, domain, address, identity, mechanism,
/// credentials...) and returns the user id to allow, or `None` to deny with
/// status 400.
pub fn zap_handler(
    ctx: &zmq::Context,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    judge: impl Fn(&[Vec<u8>]) -> Option<&'static [u8]> + Send + 'static,
) -> std::thread::JoinHandle<()> {
    let handler = ctx.socket(zmq::REP).expect("ZAP socket");
    handler.bind("inproc://zeromq.zap.01").expect("ZAP bind");
    handler.set_rcvtimeo(50).expect("rcvtimeo");
    std::thread::spawn(move || {
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            let Ok(request) = handler.recv_multipart(0) else {
                continue;
            };
            let user = judge(&request);
            let status: &[u8] = if user.is_some() { b"200" } else { b"400" };
            let reply: Vec<&[u8]> =
                vec![b"1.0", &request[1], status, b"", user.unwrap_or(b""), b""];
            handler.send_multipart(reply, 0).expect("ZAP reply");
        }
    })
}

/// Sends every [`test_messages`] from `ours` to the libzmq DEALER `theirs`
/// (both already configured, security included), which echoes each back;
/// checks they return intact and in order, and returns them as received.
/// `weirmq_binds` picks the side that binds.
pub async fn echo_test_messages(
    ours: &weirmq::Dealer,
    theirs: zmq::Socket,
    weirmq_binds: bool,
    transport: Transport,
) -> Vec<Message> {
    let dir = tempfile::tempdir().expect("temp dir");
    if weirmq_binds {
        let ep = ours
            .bind(&transport.bind_endpoint(&dir, "echo"))
            .await
            .expect("bind");
        theirs.connect(&ep).expect("libzmq connect");
    } else {
        theirs
            .bind(&transport.bind_endpoint(&dir, "echo"))
            .expect("libzmq bind");
        ours.connect(&zmq_last_endpoint(&theirs))
            .await
            .expect("connect");
    }
    let sent = test_messages();
    let n = sent.len();
    let echo = tokio::task::spawn_blocking(move || {
        for _ in 0..n {
            let m = zmq_recv(&theirs);
            zmq_send(&theirs, &m);
        }
        theirs
    });
    for m in &sent {
        within(ours.send(m.clone())).await.expect("send");
    }
    let mut received = Vec::with_capacity(n);
    for m in &sent {
        let got = within(ours.recv()).await.expect("recv");
        assert_eq!(&got, m);
        received.push(got);
    }
    within(echo).await.expect("libzmq echo");
    received
}

/// libzmq's monitor event numbers used by the tests.
pub mod event {
    /// ZMQ_EVENT_DISCONNECTED.
    pub const DISCONNECTED: u16 = 0x0200;
    /// ZMQ_EVENT_HANDSHAKE_SUCCEEDED.
    pub const HANDSHAKE_SUCCEEDED: u16 = 0x1000;
    /// ZMQ_EVENT_HANDSHAKE_FAILED_AUTH.
    pub const HANDSHAKE_FAILED_AUTH: u16 = 0x4000;
}

/// Starts libzmq's monitor on `s`; read it with [`zmq_events`].
pub fn zmq_monitor(ctx: &zmq::Context, s: &zmq::Socket, name: &str) -> zmq::Socket {
    let endpoint = format!("inproc://monitor-{name}");
    s.monitor(&endpoint, zmq::SocketEvent::ALL as i32)
        .expect("monitor");
    let mon = ctx.socket(zmq::PAIR).expect("monitor socket");
    mon.connect(&endpoint).expect("monitor connect");
    mon
}

/// The monitor events that arrive within `wait` (and no longer: a peer that
/// keeps reconnecting keeps producing events).
pub fn zmq_events(mon: &zmq::Socket, wait: Duration) -> Vec<u16> {
    let deadline = std::time::Instant::now() + wait;
    let mut events = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let ms = left.as_millis() as i32;
        if ms == 0 {
            return events;
        }
        mon.set_rcvtimeo(ms).expect("rcvtimeo");
        let Ok(parts) = mon.recv_multipart(0) else {
            return events;
        };
        if let Some(head) = parts.first().filter(|h| h.len() >= 2) {
            events.push(u16::from_le_bytes([head[0], head[1]]));
        }
    }
}
