//! A connection that ends while messages wait, encoded, in the engine's write
//! buffer: every message the socket accepted is delivered or counted.
//!
//! In the first two tests the peer is a hand-played ZMTP PULL over TCP that
//! stops reading, so both
//! kernels' buffers and the engine's buffer fill up. Before it resets the
//! connection it reads everything the kernels hold, *without yielding to the
//! runtime*: these tests run on one thread, so our engine cannot write more
//! meanwhile, and what the peer read plus what is still in our engine is
//! everything that was sent.

use std::io::Read;
use std::time::Duration;
use weirmq::prelude::*;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use weirmq::{Hwm, Message, MonitorEvent, Options, Pull, Push};

mod common;

use common::*;

/// Octets of each message: above the size that goes out uncopied.
const BODY: usize = 16 * 1024;

/// Our side of the handshake, as a NULL PULL: greeting, then READY.
fn pull_handshake() -> Vec<u8> {
    null_handshake("PULL")
}

/// The sequence numbers of the whole messages in what the peer read: the
/// 64-octet greeting, then frames (commands skipped, a cut-off frame
/// ignored).
fn sequence_numbers(stream: &[u8]) -> Vec<u64> {
    let mut rest = &stream[64.min(stream.len())..];
    let mut seen = Vec::new();
    loop {
        let Some(&flags) = rest.first() else {
            return seen;
        };
        let (header, len) = if flags & 0x02 != 0 {
            match rest.get(1..9) {
                Some(be) => (9, u64::from_be_bytes(be.try_into().unwrap()) as usize),
                None => return seen,
            }
        } else {
            match rest.get(1) {
                Some(&len) => (2, usize::from(len)),
                None => return seen,
            }
        };
        let Some(body) = rest.get(header..header + len) else {
            return seen;
        };
        assert_eq!(flags & 0x01, 0, "single-frame messages only");
        if flags & 0x04 == 0 {
            seen.push(u64::from_le_bytes(body[..8].try_into().unwrap()));
        }
        rest = &rest[header + len..];
    }
}

/// Message number `n`.
fn numbered(n: u64) -> Vec<u8> {
    let mut body = n.to_le_bytes().to_vec();
    body.resize(BODY, 0);
    body
}

/// A PUSH whose queue to each peer holds 20 messages.
fn push() -> Push {
    Push::with_options(Options::default().with_hwm(Hwm::new(20, 1 << 20).unwrap())).unwrap()
}

/// Completes the handshake as a PULL that then reads nothing.
async fn stalled_pull(mut stream: TcpStream) -> TcpStream {
    stream.write_all(&pull_handshake()).await.unwrap();
    stream
}

/// Reads everything the kernels hold for this connection, blocking the
/// runtime's only thread on purpose (see the file's comment), then resets
/// the connection (SO_LINGER 0) and returns the whole messages read.
fn drain_and_reset(stream: TcpStream) -> Vec<u64> {
    // Non-blocking, as tokio left it.
    let mut s = stream.into_std().unwrap();
    let mut read = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut quiet = 0;
    // Done once nothing has come for 200 ms: our kernel sends what it holds
    // as soon as the peer's window opens.
    while quiet < 20 {
        match s.read(&mut buf) {
            Ok(0) => panic!("the sender closed the connection"),
            Ok(n) => {
                read.extend_from_slice(&buf[..n]);
                quiet = 0;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                quiet += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("{e}"),
        }
    }
    socket2::SockRef::from(&s)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(s);
    // Let the RST land before the engine runs again.
    std::thread::sleep(Duration::from_millis(20));
    sequence_numbers(&read)
}

/// A PUSH bound, a peer that connected and was reset: its messages still
/// in the engine's write buffer are lost, and counted with those still in
/// its queue. Sent = read by the peer + lost, exactly.
#[tokio::test(flavor = "current_thread")]
async fn unwritten_messages_of_a_reset_connection_are_counted_as_lost() {
    let push = push();
    let mut events = push.monitor();
    let ep = push.bind("tcp://127.0.0.1:*").await.unwrap();
    let peer = stalled_pull(
        TcpStream::connect(ep.trim_start_matches("tcp://"))
            .await
            .unwrap(),
    )
    .await;
    wait_until(|| push.stats().peers == 1).await;
    let sent = offer_until_refused(|m| push.try_send(m), numbered).await;
    let queued = push.stats().queued_out_messages as u64;

    let read = drain_and_reset(peer);
    let reported = first_event(&mut events, |e| match e {
        MonitorEvent::MessagesLost { count, .. } => Some(count),
        _ => None,
    })
    .await;
    let lost = push.stats().lost;
    assert_eq!(reported, lost, "one event reports the whole loss");
    assert!(
        lost > queued,
        "the engine's unwritten messages count, not only the {queued} queued: {lost}"
    );
    assert_eq!(
        read,
        (0..read.len() as u64).collect::<Vec<_>>(),
        "in order, no gaps"
    );
    assert_eq!(
        read.len() as u64 + lost,
        sent,
        "read {} + lost {lost} = sent {sent}",
        read.len()
    );
}

/// A PUSH that connected keeps its queue across the reconnect, and the
/// messages its engine had not written yet go out first on the next
/// connection: nothing is reordered or sent twice. Only a message the peer
/// got part of may be lost (and is counted).
#[tokio::test(flavor = "current_thread")]
async fn unwritten_messages_go_out_again_after_a_reconnect() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let push = push();
    push.connect(&format!("tcp://{}", listener.local_addr().unwrap()))
        .await
        .unwrap();
    let (first, _) = within(listener.accept()).await.unwrap();
    let first = stalled_pull(first).await;
    wait_until(|| push.stats().peers == 1).await;
    let sent = offer_until_refused(|m| push.try_send(m), numbered).await;

    let before = drain_and_reset(first);
    let (second, _) = within(listener.accept()).await.unwrap();
    let mut second = stalled_pull(second).await;
    let mut stream = Vec::new();
    let after = within(async {
        loop {
            let seen = sequence_numbers(&stream);
            let lost = push.stats().lost;
            if before.len() as u64 + seen.len() as u64 + lost == sent {
                return seen;
            }
            let mut buf = vec![0u8; 1 << 16];
            let n = second.read(&mut buf).await.unwrap();
            assert!(n > 0, "the sender closed the connection");
            stream.extend_from_slice(&buf[..n]);
        }
    })
    .await;
    let lost = push.stats().lost;
    assert!(lost <= 1, "at most the message cut off: {lost}");
    assert_eq!(
        before,
        (0..before.len() as u64).collect::<Vec<_>>(),
        "first connection: in order"
    );
    let resumed = before.len() as u64 + lost;
    assert_eq!(
        after,
        (resumed..sent).collect::<Vec<_>>(),
        "the next connection takes up where the first stopped"
    );
}

/// A message the peer refused part-way through (too large for it) is lost
/// and counted, not put back: sending it again would only end the next
/// connection too. The message behind it, untouched, goes out on the next.
#[tokio::test]
async fn a_message_cut_off_by_the_peer_is_not_sent_again() {
    let pull = Pull::with_options(Options::default().with_max_message_size(1024)).unwrap();
    let ep = pull.bind("tcp://127.0.0.1:*").await.unwrap();
    let push = Push::new();
    push.connect(&ep).await.unwrap();
    // Larger than both kernels' buffers hold: it cannot be wholly written.
    within(push.send(vec![0u8; 32 << 20])).await.unwrap();
    within(push.send("small")).await.unwrap();
    assert_eq!(within(pull.recv()).await.unwrap(), Message::from("small"));
    assert_eq!(push.stats().lost, 1);
    assert!(
        tokio::time::timeout(Duration::from_millis(300), pull.recv())
            .await
            .is_err()
    );
}
