//! weirmq's proxy between libzmq 4.3 peers: ROUTER↔DEALER with libzmq
//! clients and workers, XSUB↔XPUB with a libzmq publisher and subscriber,
//! STATISTICS asked by a libzmq REQ, and a slow libzmq backend holding the
//! libzmq senders back with nothing lost.

use std::time::Duration;

use weirmq::{Dealer, Hwm, Options, Proxy, Pull, Push, Rep, Router, Socket, XPub, XSub};
use weirmq_interop::*;

/// Runs a libzmq side on a blocking thread.
fn libzmq<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> tokio::task::JoinHandle<T> {
    tokio::task::spawn_blocking(f)
}

async fn joined<T>(side: tokio::task::JoinHandle<T>) -> T {
    within(side).await.expect("libzmq side panicked")
}

async fn bound<S: Socket>(s: &S) -> String {
    s.bind("tcp://127.0.0.1:*").await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libzmq_clients_and_workers_through_a_router_dealer_proxy() {
    let (front, back, control) = (Router::new(), Dealer::new(), Rep::new());
    let (front_at, back_at, control_at) = (
        bound(&front).await,
        bound(&back).await,
        bound(&control).await,
    );
    let running =
        tokio::spawn(async move { Proxy::new(&front, &back).control(&control).run().await });

    let ctx = zmq::Context::new();
    const CLIENTS: usize = 3;
    const REQUESTS: usize = 30;
    let workers: Vec<_> = (0..2)
        .map(|w| {
            let rep = zmq_socket(&ctx, zmq::REP);
            rep.connect(&back_at).unwrap();
            rep.set_rcvtimeo(300).unwrap();
            libzmq(move || {
                let mut served = 0;
                // Serves until no request has come for 300 ms (after the
                // clients are done).
                while let Ok(mut request) = rep.recv_multipart(0) {
                    request.push(format!("worker {w}").into_bytes());
                    rep.send_multipart(request, 0).unwrap();
                    served += 1;
                }
                served
            })
        })
        .collect();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let req = zmq_socket(&ctx, zmq::REQ);
            req.connect(&front_at).unwrap();
            libzmq(move || {
                let mut octets = 0;
                for r in 0..REQUESTS {
                    let body = format!("client {c} request {r}");
                    req.send(body.as_bytes(), 0).unwrap();
                    let reply = req.recv_multipart(0).expect("a reply");
                    assert_eq!(reply.len(), 2, "{reply:?}");
                    assert_eq!(reply[0], body.as_bytes());
                    // The body goes and comes back; the worker's name
                    // only comes back.
                    octets += 2 * body.len() + reply[1].len();
                }
                octets
            })
        })
        .collect();
    let mut octets = 0;
    for c in clients {
        octets += joined(c).await;
    }
    let mut served = 0;
    for w in workers {
        served += joined(w).await;
    }
    assert_eq!(served, CLIENTS * REQUESTS);

    // libzmq's own way of asking: a REQ, eight frames of eight octets back.
    let steer = zmq_socket(&ctx, zmq::REQ);
    steer.connect(&control_at).unwrap();
    let stats = joined(libzmq(move || {
        steer.send("STATISTICS", 0).unwrap();
        let frames = steer.recv_multipart(0).unwrap();
        steer.send("TERMINATE", 0).unwrap();
        assert_eq!(steer.recv_bytes(0).unwrap(), b"TERMINATE");
        frames
    }))
    .await;
    let stats: Vec<u64> = stats
        .iter()
        .map(|f| u64::from_ne_bytes(f[..].try_into().expect("eight octets")))
        .collect();
    let n = (CLIENTS * REQUESTS) as u64;
    assert_eq!(
        [stats[0], stats[2], stats[4], stats[6]],
        [n; 4],
        "{stats:?}"
    );
    // Octets: the frames of each request and reply, and on each the
    // 5-octet routing id the ROUTER put in front (the delimiter is empty).
    assert_eq!(stats[1] + stats[3], octets as u64 + 2 * 5 * n, "{stats:?}");
    assert_eq!((stats[1], stats[3]), (stats[7], stats[5]), "{stats:?}");
    within(running).await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_and_messages_cross_an_xsub_xpub_proxy() {
    let (front, back) = (XSub::new(), XPub::new());
    let (front_at, back_at) = (bound(&front).await, bound(&back).await);
    let running = tokio::spawn(async move { Proxy::new(&front, &back).run().await });

    let ctx = zmq::Context::new();
    let publisher = zmq_socket(&ctx, zmq::PUB);
    publisher.connect(&front_at).unwrap();
    let subscriber = zmq_socket(&ctx, zmq::SUB);
    subscriber.connect(&back_at).unwrap();
    subscriber.set_subscribe(b"weather").unwrap();
    subscriber.set_rcvtimeo(50).unwrap();
    let got = joined(libzmq(move || {
        // Publishes until the subscription has come back through the proxy
        // and the subscriber has heard 20 messages.
        let mut heard = Vec::new();
        let mut i = 0;
        let deadline = std::time::Instant::now() + STEP;
        while heard.len() < 20 && std::time::Instant::now() < deadline {
            publisher.send(format!("sports {i}").as_bytes(), 0).unwrap();
            publisher
                .send(format!("weather {i}").as_bytes(), 0)
                .unwrap();
            i += 1;
            while let Ok(m) = subscriber.recv_bytes(0) {
                heard.push(String::from_utf8(m).unwrap());
            }
        }
        heard
    }))
    .await;
    assert!(
        got.len() >= 20,
        "the subscriber heard {} messages",
        got.len()
    );
    assert!(got.iter().all(|m| m.starts_with("weather ")), "{got:?}");
    running.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_libzmq_backend_holds_the_senders_back_and_nothing_is_lost() {
    let small = || Options::default().with_hwm(Hwm::new(10, usize::MAX).unwrap());
    let front = Pull::with_options(small()).unwrap();
    let back = Push::with_options(small()).unwrap();
    let (front_at, back_at) = (bound(&front).await, bound(&back).await);
    let ctx = zmq::Context::new();
    let sender = zmq_socket(&ctx, zmq::PUSH);
    sender.set_sndhwm(10).unwrap();
    sender.connect(&front_at).unwrap();
    let worker = zmq_socket(&ctx, zmq::PULL);
    worker.set_rcvhwm(10).unwrap();
    worker.connect(&back_at).unwrap();

    let proxy = Proxy::new(&front, &back);
    let seen = proxy.counters();
    let test = async {
        // The worker does not read: the sender is held back once every
        // queue and socket buffer on the way is full.
        let offered = joined(libzmq(move || {
            let body = vec![0x5A_u8; 1024];
            let mut sent = 0u32;
            let mut refused_since = None;
            loop {
                let mut msg = sent.to_be_bytes().to_vec();
                msg.extend_from_slice(&body);
                match sender.send(msg, zmq::DONTWAIT) {
                    Ok(()) => {
                        sent += 1;
                        refused_since = None;
                    }
                    Err(zmq::Error::EAGAIN) => {
                        let since = *refused_since.get_or_insert_with(std::time::Instant::now);
                        // Held back for half a second: full.
                        if since.elapsed() > Duration::from_millis(500) {
                            return (sent, sender);
                        }
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(e) => panic!("{e}"),
                }
                assert!(sent < 1_000_000, "the sender was never held back");
            }
        }))
        .await;
        let (sent, sender) = offered;
        // Nothing piles up in the proxy: its queues stay within their HWMs
        // (10 each), and a batch of the frontend's lane that `recv` took
        // out (up to 64 for a peer alone) is all it holds beyond them.
        let (held_in, held_out) = (
            front.stats().queued_in_messages,
            back.stats().queued_out_messages,
        );
        assert!(
            held_in <= 10 + 64 && held_out <= 10,
            "queued in the proxy: {held_in} in, {held_out} out, of {sent}"
        );
        assert!(seen.get().frontend.messages_in < u64::from(sent));
        // The worker wakes up and gets every message, in order.
        let got = joined(libzmq(move || {
            (0..sent)
                .map(|_| {
                    let m = worker.recv_bytes(0).expect("every message arrives");
                    u32::from_be_bytes(m[..4].try_into().unwrap())
                })
                .collect::<Vec<_>>()
        }))
        .await;
        assert_eq!(got, (0..sent).collect::<Vec<_>>());
        assert_eq!(seen.get().backend.messages_out, u64::from(sent));
        assert_eq!(seen.get().dropped, 0);
        drop(sender);
    };
    tokio::select! {
        ran = proxy.run_one_way() => panic!("the proxy ended: {ran:?}"),
        () = test => {}
    }
}
