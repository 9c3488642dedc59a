//! A request broker: a ROUTER↔DEALER [`weirmq::Proxy`] between clients
//! and workers, steered from a control socket (STATISTICS, then
//! TERMINATE), over TCP loopback.
//!
//! `cargo run -p weirmq --example proxy`

use bytes::Bytes;
use weirmq::prelude::*;
use weirmq::{Dealer, Error, Message, Proxy, Rep, Req, Router};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let (frontend, backend, control) = (Router::new(), Dealer::new(), Rep::new());
    let clients_at = frontend.bind("tcp://127.0.0.1:*").await?;
    let workers_at = backend.bind("tcp://127.0.0.1:*").await?;
    let control_at = control.bind("tcp://127.0.0.1:*").await?;
    let broker = tokio::spawn(async move {
        Proxy::new(&frontend, &backend)
            .control(&control)
            .run()
            .await
    });

    for w in 0..2u8 {
        let worker = Rep::new();
        worker.connect(&workers_at).await?;
        tokio::spawn(async move {
            while let Ok(mut request) = worker.recv().await {
                request.push(Bytes::from(format!("served by worker {w}")));
                if worker.send(request).await.is_err() {
                    break;
                }
            }
        });
    }
    let client = Req::new();
    client.connect(&clients_at).await?;
    for i in 0..4 {
        client.send(format!("request {i}").into_bytes()).await?;
        let reply = client.recv().await?;
        let text: Vec<_> = reply
            .frames()
            .iter()
            .map(|f| f.escape_ascii().to_string())
            .collect();
        println!("{}", text.join(" | "));
    }

    let steer = Req::new();
    steer.connect(&control_at).await?;
    steer.send("STATISTICS").await?;
    let stats = steer.recv().await?;
    let counters: Vec<u64> = stats
        .frames()
        .iter()
        .map(|f| u64::from_ne_bytes(f[..].try_into().expect("8 octets")))
        .collect();
    println!(
        "frontend in/out {} / {} messages, backend in/out {} / {}",
        counters[0], counters[2], counters[4], counters[6]
    );
    steer.send("TERMINATE").await?;
    let _: Message = steer.recv().await?;
    broker.await.expect("the broker ran")?;
    println!("the broker ended on TERMINATE");
    Ok(())
}
