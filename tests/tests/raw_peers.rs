//! Our sockets against hand-played ZMTP peers over TCP, for what libzmq
//! cannot be made to send: ZMTP 3.0 subscriptions, ERROR commands and
//! malformed frames. A bad peer loses its own connection and nobody else's.

use std::time::Duration;
use weirmq::prelude::*;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use weirmq::{Message, MonitorEvent};
use weirmq_interop::{handshake_failure, within};

fn greeting(minor: u8) -> Vec<u8> {
    let mut g = vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 3, minor];
    g.extend_from_slice(b"NULL");
    g.resize(64, 0);
    g
}

fn frame(flags: u8, body: &[u8]) -> Vec<u8> {
    assert!(body.len() < 256);
    let mut f = vec![flags, body.len() as u8];
    f.extend_from_slice(body);
    f
}

fn ready(socket_type: &str) -> Vec<u8> {
    let mut body = vec![5];
    body.extend_from_slice(b"READY");
    body.push(11);
    body.extend_from_slice(b"Socket-Type");
    body.extend_from_slice(&(socket_type.len() as u32).to_be_bytes());
    body.extend_from_slice(socket_type.as_bytes());
    frame(0x04, &body)
}

/// Connects, exchanges greetings and READY as `socket_type` over ZMTP 3.`minor`.
async fn raw_peer(endpoint: &str, socket_type: &str, minor: u8) -> TcpStream {
    let mut s = TcpStream::connect(endpoint.trim_start_matches("tcp://"))
        .await
        .unwrap();
    s.write_all(&greeting(minor)).await.unwrap();
    s.write_all(&ready(socket_type)).await.unwrap();
    // Our greeting (64) and READY come back.
    let mut head = [0u8; 64];
    within(s.read_exact(&mut head)).await.unwrap();
    assert_eq!(&head[..2], &[0xFF, 0]);
    let mut hdr = [0u8; 2];
    within(s.read_exact(&mut hdr)).await.unwrap();
    let mut body = vec![0u8; usize::from(hdr[1])];
    within(s.read_exact(&mut body)).await.unwrap();
    assert_eq!(&body[1..6], b"READY");
    s
}

#[tokio::test]
async fn zmtp_3_0_subscriber_gets_filtered_messages() {
    let publisher = weirmq::Pub::new();
    let ep = publisher.bind("tcp://127.0.0.1:*").await.unwrap();
    let mut sub = raw_peer(&ep, "SUB", 0).await;
    // ZMTP 3.0: a subscription is a data frame, %x01 + topic.
    sub.write_all(&frame(0x00, b"\x01news")).await.unwrap();
    let wanted = frame(0x00, b"news: hi");
    let got = within(async {
        let mut buf = vec![0u8; wanted.len()];
        loop {
            publisher.send("sport: no").await.unwrap();
            publisher.send("news: hi").await.unwrap();
            if let Ok(r) =
                tokio::time::timeout(Duration::from_millis(20), sub.read_exact(&mut buf)).await
            {
                r.unwrap();
                return buf;
            }
        }
    })
    .await;
    assert_eq!(
        got, wanted,
        "only the subscribed topic, as a ZMTP data frame"
    );
}

#[tokio::test]
async fn a_malformed_peer_loses_only_its_own_connection() {
    let pull = weirmq::Pull::new();
    let mut events = pull.monitor();
    let ep = pull.bind("tcp://127.0.0.1:*").await.unwrap();
    let good = weirmq::Push::new();
    good.connect(&ep).await.unwrap();
    within(good.send("before")).await.unwrap();
    assert_eq!(within(pull.recv()).await.unwrap(), Message::from("before"));

    let mut bad = raw_peer(&ep, "PUSH", 1).await;
    // A command frame with the MORE flag: malformed.
    bad.write_all(&[0x05, 0x00]).await.unwrap();
    let mut rest = Vec::new();
    let _ = within(bad.read_to_end(&mut rest)).await;
    let reason = within(async {
        loop {
            if let Some(MonitorEvent::Disconnected { reason, .. }) = events.recv().await {
                return reason;
            }
        }
    })
    .await;
    assert!(reason.contains("MORE"), "{reason}");

    within(good.send("after")).await.unwrap();
    assert_eq!(within(pull.recv()).await.unwrap(), Message::from("after"));
}

#[tokio::test]
async fn an_error_command_closes_with_its_reason() {
    let pull = weirmq::Pull::new();
    let mut events = pull.monitor();
    let ep = pull.bind("tcp://127.0.0.1:*").await.unwrap();
    let mut peer = TcpStream::connect(ep.trim_start_matches("tcp://"))
        .await
        .unwrap();
    peer.write_all(&greeting(1)).await.unwrap();
    let mut error = vec![5];
    error.extend_from_slice(b"ERROR");
    error.push(3);
    error.extend_from_slice(b"400");
    peer.write_all(&frame(0x04, &error)).await.unwrap();
    let reason = handshake_failure(&mut events).await;
    assert_eq!(reason, "peer sent ERROR: \"400\"");
}
