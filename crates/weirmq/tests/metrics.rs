//! The Prometheus endpoint (feature `metrics`): a scrape over HTTP
//! reports what `Stats` and `PeerStats` say, under the sockets' labels; a
//! dropped socket leaves the next scrape; other paths are 404.
#![cfg(feature = "metrics")]

mod common;

use std::collections::HashMap;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use weirmq::metrics::{Metrics, serve};
use weirmq::prelude::*;
use weirmq::{Dealer, Proxy, Pull, Push, Router};

use common::{wait_until, within};

/// `GET path` on `addr`: the status line and the body.
async fn get(addr: std::net::SocketAddr, path: &str) -> (String, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nhost: localhost\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("a response head");
    (head.lines().next().unwrap().to_owned(), body.to_owned())
}

/// The samples of a scrape: `name{labels}` to value.
fn samples(body: &str) -> HashMap<String, f64> {
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (key, value) = l.rsplit_once(' ').expect("name and value");
            (key.to_owned(), value.parse().expect("a number"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scrape_reports_what_the_stats_say() {
    let pull = Pull::new();
    let endpoint = pull.bind("tcp://127.0.0.1:*").await.unwrap();
    let push = Push::new();
    push.connect(&endpoint).await.unwrap();
    for _ in 0..10 {
        within(push.send(vec![7u8; 100])).await.unwrap();
    }
    for _ in 0..4 {
        within(pull.recv()).await.unwrap();
    }
    wait_until(|| push.stats().sent == 10 && pull.stats().queued_in_messages == 6).await;
    let (front, back) = (Router::new(), Dealer::new());
    let proxy = Proxy::new(&front, &back);

    let metrics = Metrics::new();
    metrics.add("out", &push);
    metrics.add("in", &pull);
    metrics.add_proxy("broker", proxy.counters());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let serving = tokio::spawn(serve(listener, metrics.clone()));

    let (status, body) = within(get(addr, "/metrics")).await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(body.ends_with("# EOF\n"), "not OpenMetrics text:\n{body}");
    let got = samples(&body);
    let value = |key: &str| {
        *got.get(key)
            .unwrap_or_else(|| panic!("no {key} in:\n{body}"))
    };
    let (out, inn) = (push.stats(), pull.stats());
    let push_labels = r#"{socket="out",type="PUSH"}"#;
    let pull_labels = r#"{socket="in",type="PULL"}"#;
    assert_eq!(
        value(&format!("weirmq_sent_messages_total{push_labels}")),
        out.sent as f64
    );
    assert_eq!(
        value(&format!("weirmq_sent_bytes_total{push_labels}")),
        1_000.0
    );
    assert_eq!(value(&format!("weirmq_peers{push_labels}")), 1.0);
    assert_eq!(
        value(&format!("weirmq_send_hwm_messages{push_labels}")),
        1_000.0
    );
    assert_eq!(
        value(&format!("weirmq_received_messages_total{pull_labels}")),
        inn.received as f64
    );
    assert_eq!(
        value(&format!("weirmq_received_bytes_total{pull_labels}")),
        400.0
    );
    assert_eq!(
        value(&format!("weirmq_queued_in_messages{pull_labels}")),
        6.0
    );
    // Its deepest lane since the last read: at least the six still there.
    let peak_in = value(&format!("weirmq_peak_queued_in_messages{pull_labels}"));
    assert!((6.0..=10.0).contains(&peak_in), "{peak_in}");
    assert_eq!(
        value(&format!(
            "weirmq_queued_in_time_full_seconds_total{pull_labels}"
        )),
        0.0
    );
    assert_eq!(
        value(&format!("weirmq_dropped_messages_total{push_labels}")),
        0.0
    );
    let peer = &push.peer_stats()[0];
    let peer_key = format!(
        r#"weirmq_peer_queued_messages{{socket="out",type="PUSH",peer="{}"}}"#,
        peer.peer
    );
    assert_eq!(value(&peer_key), peer.queued_messages as f64);
    // The PULL's peer: its lane, and what was taken from it.
    let sender = &pull.peer_stats()[0];
    let lane_labels = format!(r#"{{socket="in",type="PULL",peer="{}"}}"#, sender.peer);
    assert_eq!(
        value(&format!("weirmq_peer_queued_in_messages{lane_labels}")),
        6.0
    );
    assert_eq!(
        value(&format!("weirmq_peer_received_messages_total{lane_labels}")),
        4.0
    );
    let forth = r#"weirmq_proxy_messages_total{proxy="broker",direction="frontend_to_backend"}"#;
    assert_eq!(value(forth), 0.0);
    dashboard_uses_only_what_is_exported(&body);

    // Another path: 404. A dropped socket: gone from the next scrape.
    assert_eq!(
        within(get(addr, "/other")).await.0,
        "HTTP/1.1 404 Not Found"
    );
    drop(push);
    let (_, body) = within(get(addr, "/metrics")).await;
    assert!(!body.contains(r#"socket="out""#), "{body}");
    assert!(body.contains(r#"socket="in""#), "{body}");
    serving.abort();
}

/// Every metric the Grafana dashboard in docs/ queries is one this
/// exporter writes.
fn dashboard_uses_only_what_is_exported(scrape: &str) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/grafana/weirmq.json"
    );
    let dashboard = std::fs::read_to_string(path).expect("the dashboard");
    let mut used: Vec<&str> = dashboard
        .match_indices("weirmq_")
        .map(|(at, _)| {
            let rest = &dashboard[at..];
            let end = rest
                .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .collect();
    used.sort_unstable();
    used.dedup();
    assert!(used.len() > 10, "{used:?}");
    for name in used {
        let exported = scrape
            .lines()
            .any(|l| l.starts_with(name) && l[name.len()..].starts_with('{'));
        assert!(
            exported,
            "the dashboard queries {name}, which is not exported"
        );
    }
}
