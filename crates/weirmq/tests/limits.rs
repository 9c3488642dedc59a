//! The message size limit: its default agrees with the receive queue's byte
//! limit, and a peer that goes past it loses its own connection only.

use weirmq::prelude::*;
use weirmq::{Message, MonitorEvent, Options, Pull, Push};

mod common;

use common::*;

/// One message can never take more than the incoming queue's byte limit.
#[test]
fn default_max_message_size_is_the_receive_byte_hwm() {
    let o = Options::default();
    assert_eq!(o.max_message_size, o.recv_hwm.bytes() as u64);
}

/// With the defaults: a message of exactly the receive queue's byte limit
/// arrives; one octet more closes that peer's connection, with the reason,
/// and the other peer goes on.
#[tokio::test]
async fn a_message_past_the_default_limit_closes_only_its_connection() {
    let pull = Pull::new();
    let mut events = pull.monitor();
    let ep = pull.bind("tcp://127.0.0.1:*").await.unwrap();
    let (good, bad) = (Push::new(), Push::new());
    good.connect(&ep).await.unwrap();
    bad.connect(&ep).await.unwrap();
    let limit = Options::default().recv_hwm.bytes();

    let largest = Message::from(vec![1u8; limit]);
    within(good.send(largest.clone())).await.unwrap();
    assert_eq!(within(pull.recv()).await.unwrap(), largest);

    within(bad.send(vec![2u8; limit + 1])).await.unwrap();
    let reason = first_event(&mut events, |e| match e {
        MonitorEvent::Disconnected { reason, .. } => Some(reason),
        _ => None,
    })
    .await;
    assert!(
        reason.contains(&format!("exceeds the limit of {limit}")),
        "{reason}"
    );

    within(good.send("after")).await.unwrap();
    assert_eq!(within(pull.recv()).await.unwrap(), Message::from("after"));
    assert!(
        pull.try_recv().is_none(),
        "the oversized message never came"
    );
}
