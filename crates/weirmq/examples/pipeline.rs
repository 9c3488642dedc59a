//! The weirmq demo: a ventilator, two workers and a sink over TCP loopback,
//! then the queue promise at work: a stalled consumer holds the sender back,
//! and a publisher that chose to drop for a stalled subscriber counts every
//! drop.
//!
//! `cargo run --release -p weirmq --example pipeline [-- TASKS]`

use std::time::{Duration, Instant};
use weirmq::prelude::*;

use bytes::Bytes;
use weirmq::{Error, Hwm, Message, Options, Pub, Pull, Push, Sub, TrySendError, WhenFull};

fn number(m: &Message, frame: usize) -> u64 {
    let f = &m.frames()[frame];
    u64::from_le_bytes(f[..8].try_into().expect("8-octet number"))
}

async fn worker(id: u8, tasks: String, results: String, control: String) -> Result<(), Error> {
    let input = Pull::new();
    input.connect(&tasks).await?;
    let output = Push::new();
    output.connect(&results).await?;
    let stop = Sub::new();
    stop.subscribe("STOP")?;
    stop.connect(&control).await?;
    loop {
        // `recv` is cancel-safe: the branch not taken loses nothing.
        let task = tokio::select! {
            task = input.recv() => task?,
            _ = stop.recv() => return Ok(()),
        };
        let n = number(&task, 0);
        let reply: Message = [
            Bytes::copy_from_slice(&[id]),
            Bytes::copy_from_slice(&(n * n).to_le_bytes()),
        ]
        .into_iter()
        .collect();
        output.send(reply).await?;
    }
}

async fn pipeline(tasks: u64) -> Result<(), Error> {
    println!(
        "1. pipeline: ventilator PUSH -> 2 workers (PULL -> PUSH) -> sink PULL, ZMTP 3.1 over TCP"
    );
    let sink = Pull::new();
    let results = sink.bind("tcp://127.0.0.1:*").await?;
    let ventilator = Push::new();
    let work = ventilator.bind("tcp://127.0.0.1:*").await?;
    let controller = Pub::new();
    let control = controller.bind("tcp://127.0.0.1:*").await?;
    println!("   ventilator on {work}, sink on {results}, controller PUB on {control}");
    let workers: Vec<_> = (0..2u8)
        .map(|id| tokio::spawn(worker(id, work.clone(), results.clone(), control.clone())))
        .collect();
    while ventilator.stats().peers < 2 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let start = Instant::now();
    let mut expected = 0u64;
    for n in 0..tasks {
        ventilator.send(n.to_le_bytes().to_vec()).await?;
        expected = expected.wrapping_add(n * n);
    }
    let (mut sum, mut per_worker) = (0u64, [0u64; 2]);
    for _ in 0..tasks {
        let m = sink.recv().await?;
        per_worker[usize::from(m.frames()[0][0])] += 1;
        sum = sum.wrapping_add(number(&m, 1));
    }
    let secs = start.elapsed().as_secs_f64();
    // Every result is in: the controller tells the workers to stop (again
    // until they have, as a subscription may still be on its way).
    while !workers.iter().all(|w| w.is_finished()) {
        controller.send("STOP").await?;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for w in workers {
        w.await.expect("worker panicked")?;
    }
    println!(
        "   {tasks} tasks in {:.0} ms ({:.0} round trips through a worker per second)",
        secs * 1e3,
        tasks as f64 / secs
    );
    println!(
        "   worker 0 did {}, worker 1 did {} (round robin over workers with room)",
        per_worker[0], per_worker[1]
    );
    let ok = sum == expected && per_worker.iter().sum::<u64>() == tasks;
    println!(
        "   sum of squares {}",
        if ok { "correct: nothing lost" } else { "WRONG" }
    );
    if ok { Ok(()) } else { Err(Error::Closed) }
}

async fn backpressure() -> Result<(), Error> {
    println!("2. backpressure: PUSH (HWM 100) to a PULL (HWM 100) that never reads");
    let hwm = Hwm::new(100, 1 << 20)?;
    let pull = Pull::with_options(Options::default().with_hwm(hwm))?;
    let ep = pull.bind("tcp://127.0.0.1:*").await?;
    let push = Push::with_options(
        Options::default()
            .with_hwm(hwm)
            .with_send_timeout(Duration::from_millis(200)),
    )?;
    push.connect(&ep).await?;
    let body = Bytes::from(vec![0u8; 1024]);
    let mut accepted = 0u64;
    loop {
        match push.send(body.clone()).await {
            Ok(()) => accepted += 1,
            Err(Error::Timeout(t)) => {
                println!("   send timed out after {t:?}: the sender is held back");
                break;
            }
            Err(e) => return Err(e),
        }
    }
    let (s, r) = (push.stats(), pull.stats());
    println!(
        "   {accepted} x 1 KiB accepted; queued: {} at the sender, {} at the receiver (the rest \
         sits in the kernels' TCP buffers); nothing grows without bound",
        s.queued_out_messages, r.queued_in_messages
    );
    match push.try_send(body) {
        Err(TrySendError::Full(_)) => println!("   try_send hands the message back: Full"),
        other => println!("   try_send: {other:?}"),
    }
    Ok(())
}

async fn chosen_drops() -> Result<(), Error> {
    println!("3. a PUB that chose WhenFull::Drop, and a SUB that stalls");
    let hwm = Hwm::new(100, 1 << 20)?;
    let publisher = Pub::with_options(
        Options::default()
            .with_hwm(hwm)
            .with_when_full(WhenFull::Drop),
    )?;
    let ep = publisher.bind("tcp://127.0.0.1:*").await?;
    let sub = Sub::with_options(Options::default().with_hwm(hwm))?;
    sub.subscribe("tick")?;
    sub.connect(&ep).await?;
    // Wait until the subscription has reached the publisher.
    loop {
        publisher.send("tick-probe").await?;
        if tokio::time::timeout(Duration::from_millis(20), sub.recv())
            .await
            .is_ok()
        {
            break;
        }
    }
    while sub.try_recv().is_some() {}
    let offered = 50_000u64;
    let body: Message = ["tick", "payload of one tick"].into_iter().collect();
    for _ in 0..offered {
        publisher
            .try_send(body.clone())
            .map_err(|_| Error::Closed)?;
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let dropped = publisher.stats().dropped;
    let mut received = 0u64;
    while let Ok(Ok(_)) = tokio::time::timeout(Duration::from_millis(200), sub.recv()).await {
        received += 1;
    }
    println!(
        "   offered {offered}: received {received} + dropped (counted) {dropped} = {}",
        received + dropped
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let tasks = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    pipeline(tasks).await?;
    backpressure().await?;
    chosen_drops().await?;
    Ok(())
}
