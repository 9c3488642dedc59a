//! Prometheus metrics of a PUSH/PULL pair, served at
//! http://127.0.0.1:9464/metrics (feature `metrics`): the example moves
//! some messages, scrapes itself once and prints the weirmq lines, then
//! serves for as many seconds as asked (default 0: it ends there).
//!
//! `cargo run -p weirmq --features metrics --example metrics [-- SECONDS [ADDR]]`

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use weirmq::metrics::{Metrics, serve};
use weirmq::prelude::*;
use weirmq::{Error, Pull, Push};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:9464".to_owned());

    let pull = Pull::new();
    let endpoint = pull.bind("tcp://127.0.0.1:*").await?;
    let push = Push::new();
    push.connect(&endpoint).await?;
    for i in 0..1_000u32 {
        push.send(i.to_le_bytes().to_vec()).await?;
    }
    for _ in 0..600 {
        pull.recv().await?;
    }

    let metrics = Metrics::new();
    metrics.add("producer", &push);
    metrics.add("consumer", &pull);
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|e| Error::Io {
            context: format!("binding {addr}"),
            source: e,
        })?;
    let bound = listener.local_addr().expect("bound");
    tokio::spawn(serve(listener, metrics));
    println!("serving http://{bound}/metrics");

    // What Prometheus would read.
    let mut scrape = tokio::net::TcpStream::connect(bound)
        .await
        .expect("connect");
    scrape
        .write_all(b"GET /metrics HTTP/1.1\r\n\r\n")
        .await
        .expect("request");
    let mut response = String::new();
    scrape
        .read_to_string(&mut response)
        .await
        .expect("response");
    for line in response.lines().filter(|l| l.starts_with("weirmq_")) {
        println!("{line}");
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    Ok(())
}
