//! Sockets as futures `Stream`s and `Sink`s ([`weirmq::Io`]): `next`,
//! `send`, `forward` and `split` work, the poll-based calls under them can
//! be used directly, and a future dropped half-way loses no message and
//! breaks no multipart message.

mod common;

use std::future::poll_fn;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use weirmq::prelude::*;
use weirmq::{Dealer, Error, Hwm, Io, Message, Options, Pull, Push, Router};

use common::{T, wait_until, within};

/// A three-frame message whose frames all name `i`, so that a message
/// broken up or put together wrongly shows; 1 KiB of padding in the last,
/// so that a few thousand fill the socket buffers between two peers.
fn multipart(i: u64) -> Message {
    let mut msg = Message::new();
    msg.push(Bytes::from(format!("a{i}")));
    msg.push(Bytes::from(format!("b{i}")));
    msg.push(Bytes::from(format!("c{i}{}", "x".repeat(1024))));
    msg
}

fn number(msg: &Message) -> u64 {
    let frames = msg.frames();
    assert_eq!(
        frames.len(),
        3,
        "a multipart message arrived broken: {msg:?}"
    );
    let i: u64 = std::str::from_utf8(&frames[0][1..])
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(msg, &multipart(i), "frames of different messages mixed");
    i
}

/// A PULL bound on loopback and a PUSH connected to it, both as `Io`.
async fn pipe(pull: Options, push: Options) -> (Io<Pull>, Io<Push>) {
    let pull = Io::new(Pull::with_options(pull).unwrap());
    let endpoint = pull.bind("tcp://127.0.0.1:*").await.unwrap();
    let push = Io::new(Push::with_options(push).unwrap());
    push.connect(&endpoint).await.unwrap();
    (pull, push)
}

/// Options whose queues hold `n` messages.
fn hwm(n: usize) -> Options {
    Options::default().with_hwm(Hwm::new(n, usize::MAX).unwrap())
}

#[tokio::test]
async fn next_and_send_carry_multipart_messages_in_order() {
    let (mut pull, mut push) = pipe(Options::default(), Options::default()).await;
    let mut offered = futures::stream::iter((0..500).map(|i| Ok(multipart(i))));
    within(push.send_all(&mut offered)).await.unwrap();
    for i in 0..500 {
        let msg = within(pull.next()).await.expect("open").unwrap();
        assert_eq!(number(&msg), i);
    }
}

#[tokio::test]
async fn forward_relays_one_stream_into_a_sink() {
    let (source, mut feeder) = pipe(Options::default(), Options::default()).await;
    let (mut sink_end, relay_out) = pipe(Options::default(), Options::default()).await;
    let relay = tokio::spawn(source.take(300).forward(relay_out));
    for i in 0..300 {
        within(feeder.send(multipart(i))).await.unwrap();
    }
    within(relay).await.unwrap().unwrap();
    for i in 0..300 {
        let msg = within(sink_end.next()).await.expect("open").unwrap();
        assert_eq!(number(&msg), i);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_halves_send_and_receive_from_two_tasks() {
    let router = Router::new();
    let endpoint = router.bind("tcp://127.0.0.1:*").await.unwrap();
    let echo = tokio::spawn(async move {
        for _ in 0..200 {
            let msg = router.recv().await.unwrap();
            router.send(msg).await.unwrap();
        }
        router
    });
    let dealer = Io::new(Dealer::new());
    dealer.connect(&endpoint).await.unwrap();
    let (mut tx, mut rx) = dealer.split();
    let sender = tokio::spawn(async move {
        for i in 0..200 {
            tx.send(multipart(i)).await.unwrap();
        }
        tx
    });
    for i in 0..200 {
        let msg = within(rx.next()).await.expect("open").unwrap();
        assert_eq!(number(&msg), i);
    }
    let tx = within(sender).await.unwrap();
    // The halves go back together into the one socket.
    let dealer = tx.reunite(rx).expect("halves of one Io");
    assert_eq!(dealer.stats().peers, 1);
    within(echo).await.unwrap();
}

/// Fills every queue between a PUSH and a PULL that does not read, then
/// offers one more message with `SinkExt::send` and drops that future once
/// it has waited a while. Returns how many messages the sink took (the
/// last one included: `start_send` took it before the wait).
async fn fill_and_drop_a_waiting_send(push: &mut Io<Push>, pull: &Io<Pull>) -> u64 {
    let mut taken = 0;
    loop {
        let send = push.send(multipart(taken));
        match tokio::time::timeout(Duration::from_millis(200), send).await {
            Ok(sent) => sent.unwrap(),
            // The send waited for room and its future is gone.
            Err(_) => return taken + 1,
        }
        taken += 1;
        assert!(taken < 100_000, "the sender was never held back");
        if taken == 1 {
            // The connection is up once the first message is through.
            wait_until(|| pull.stats().queued_in_messages > 0).await;
        }
    }
}

#[tokio::test]
async fn a_send_future_dropped_while_waiting_loses_nothing() {
    let (mut pull, mut push) = pipe(hwm(4), hwm(4)).await;
    let taken = fill_and_drop_a_waiting_send(&mut push, &pull).await;
    // The next send first finishes the one whose future was dropped.
    let reading = tokio::spawn(async move {
        let mut seen = Vec::new();
        while seen.len() as u64 <= taken {
            let msg = within(pull.next()).await.expect("open").unwrap();
            seen.push(number(&msg));
        }
        seen
    });
    within(push.send(multipart(taken))).await.unwrap();
    let seen = within(reading).await.unwrap();
    assert_eq!(seen, (0..=taken).collect::<Vec<_>>());
}

#[tokio::test]
async fn an_io_dropped_with_a_message_waiting_still_sends_it() {
    let (mut pull, mut push) = pipe(hwm(4), hwm(4)).await;
    let taken = fill_and_drop_a_waiting_send(&mut push, &pull).await;
    // The socket is shared: the Io goes, the socket stays.
    let socket = push.socket().clone();
    drop(push);
    for i in 0..taken {
        let msg = within(pull.next()).await.expect("open").unwrap();
        assert_eq!(number(&msg), i);
    }
    drop(socket);
}

#[tokio::test]
async fn a_receive_future_dropped_while_waiting_loses_nothing() {
    let (mut pull, mut push) = pipe(Options::default(), Options::default()).await;
    for i in 0..20 {
        // Nothing is there yet: the receive waits, and is dropped.
        let idle = tokio::time::timeout(Duration::from_millis(20), pull.next()).await;
        assert!(idle.is_err(), "a message came from nowhere: {idle:?}");
        push.send(multipart(i)).await.unwrap();
        let msg = within(pull.next()).await.expect("open").unwrap();
        assert_eq!(number(&msg), i);
    }
}

#[tokio::test]
async fn the_poll_calls_drive_a_select_loop() {
    let (mut pull, mut push) = pipe(hwm(2), hwm(2)).await;
    // Sending through the poll calls, as an adapter would.
    let mut sent = 0;
    while sent < 50 {
        within(poll_fn(|cx| push.poll_send_ready(cx)))
            .await
            .unwrap();
        push.start_send(multipart(sent)).unwrap();
        sent += 1;
        // Receiving in a select! loop beside a timer, taking what is there.
        tokio::select! {
            got = poll_fn(|cx| pull.poll_recv(cx)) => {
                let i = number(&got.unwrap());
                assert!(i < sent);
            }
            _ = tokio::time::sleep(Duration::from_millis(1)) => {}
        }
    }
    within(poll_fn(|cx| push.poll_send_ready(cx)))
        .await
        .unwrap();
    let mut last = None;
    while let Ok(got) = tokio::time::timeout(Duration::from_millis(300), pull.next()).await {
        last = Some(number(&got.expect("open").unwrap()));
    }
    assert_eq!(last, Some(49), "the last message sent is the last received");
}

#[tokio::test]
async fn start_send_refuses_while_the_last_message_waits() {
    let (pull, mut push) = pipe(hwm(4), hwm(4)).await;
    let taken = fill_and_drop_a_waiting_send(&mut push, &pull).await;
    let refused = push.start_send(multipart(taken));
    assert!(
        matches!(refused, Err(Error::InvalidState(_))),
        "a second message was taken while the first waits: {refused:?}"
    );
    // The one that waits is still the socket's; nothing else got in.
    assert!(poll_fn(|cx| Poll::Ready(push.poll_send_ready(cx).is_pending())).await);
}

/// On a current-thread runtime, a loop over a socket that always has a
/// message must still let the other tasks run: the stream takes from
/// tokio's cooperative budget.
#[tokio::test(flavor = "current_thread")]
async fn a_busy_stream_lets_other_tasks_run() {
    let (mut pull, mut push) = pipe(hwm(2_000), hwm(2_000)).await;
    for i in 0..1_000 {
        push.send(multipart(i)).await.unwrap();
    }
    wait_until(|| pull.stats().queued_in_messages == 1_000).await;
    let ran = Arc::new(AtomicBool::new(false));
    let flag = ran.clone();
    tokio::spawn(async move { flag.store(true, Ordering::SeqCst) });
    let mut seen_after = None;
    for i in 0..1_000u64 {
        let msg = tokio::time::timeout(T, pull.next()).await.unwrap();
        number(&msg.expect("open").unwrap());
        if ran.load(Ordering::SeqCst) {
            seen_after = Some(i);
            break;
        }
    }
    let at = seen_after.expect("the other task never ran while messages were waiting");
    assert!(at <= 256, "the other task ran only after {at} messages");
}
