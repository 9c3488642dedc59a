//! Sockets as futures streams and sinks ([`weirmq::Io`]): a source PUSHes
//! numbers, a relay `forward`s its PULL into a PUSH, and a sink end reads
//! them with `StreamExt`, all over TCP loopback.
//!
//! `cargo run -p weirmq --example stream_sink`

use futures::{SinkExt, StreamExt, TryStreamExt};
use weirmq::prelude::*;
use weirmq::{Error, Io, Message, Pull, Push};

#[tokio::main]
async fn main() -> Result<(), Error> {
    const N: u64 = 10_000;
    let mut results = Io::new(Pull::new());
    let results_at = results.bind("tcp://127.0.0.1:*").await?;
    let relay_in = Io::new(Pull::new());
    let relay_at = relay_in.bind("tcp://127.0.0.1:*").await?;
    let relay_out = Io::new(Push::new());
    relay_out.connect(&results_at).await?;

    // The relay: every message of one socket into another, with
    // backpressure all the way (a full PUSH stops the PULL being read).
    let relay = tokio::spawn(relay_in.take(N as usize).forward(relay_out));

    let mut source = Io::new(Push::new());
    source.connect(&relay_at).await?;
    let numbers = futures::stream::iter(0..N).map(|i| Ok(Message::from(i.to_le_bytes().to_vec())));
    source.send_all(&mut Box::pin(numbers)).await?;

    let sum: u64 = (&mut results)
        .take(N as usize)
        .map_ok(|m| u64::from_le_bytes(m.frames()[0][..8].try_into().expect("8 octets")))
        .try_fold(0, |sum, n| async move { Ok(sum + n) })
        .await?;
    relay.await.expect("the relay ran")?;
    assert_eq!(sum, N * (N - 1) / 2);
    println!("{N} messages through a forwarding relay, sum {sum}: nothing lost");
    Ok(())
}
