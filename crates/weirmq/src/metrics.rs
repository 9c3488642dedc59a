//! Prometheus metrics of sockets and proxies (cargo feature `metrics`),
//! through `prometheus-client`'s pull model: a [`Metrics`] reads each
//! socket's [`Stats`] and [`PeerStats`]
//! when it is scraped, so sending and receiving pay nothing for it.
//!
//! ```no_run
//! # async fn run() -> Result<(), weirmq::Error> {
//! use weirmq::prelude::*;
//! let pull = weirmq::Pull::new();
//! let metrics = weirmq::metrics::Metrics::new();
//! metrics.add("ingest", &pull);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9464").await.unwrap();
//! tokio::spawn(weirmq::metrics::serve(listener, metrics.clone()));
//! # Ok(())
//! # }
//! ```
//!
//! Metric names start with `weirmq_`; every socket's carry the labels
//! `socket` (the name it was added with) and `type`, every peer's also
//! `peer`. A socket that has been closed or dropped is left out of the next
//! scrape.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::api::{Socket, core_of};
use crate::proxy::ProxyCounters;
use crate::queue::lock;
use crate::queue::pressure::Reader;
use crate::socket::{Core, PeerStats, Stats};

/// The sockets and proxies whose metrics are exported (cheap to clone:
/// the clones share the list).
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    watched: Arc<Mutex<Watched>>,
}

#[derive(Debug, Default)]
struct Watched {
    sockets: Vec<(String, Weak<Core>)>,
    proxies: Vec<(String, ProxyCounters)>,
}

impl Metrics {
    /// An empty list.
    pub fn new() -> Metrics {
        Metrics::default()
    }

    /// Exports `socket`'s metrics under the label `socket="name"` (held
    /// weakly: the socket still closes when its owner drops it).
    pub fn add<S: Socket>(&self, name: impl Into<String>, socket: &S) {
        let core = Arc::downgrade(core_of(socket));
        lock(&self.watched).sockets.push((name.into(), core));
    }

    /// Exports a proxy's counters under the label `proxy="name"`.
    pub fn add_proxy(&self, name: impl Into<String>, counters: ProxyCounters) {
        lock(&self.watched).proxies.push((name.into(), counters));
    }

    /// Adds these metrics to `registry`, to be encoded with the others.
    pub fn register(&self, registry: &mut Registry) {
        registry.register_collector(Box::new(self.clone()));
    }

    /// These metrics alone, in the OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut registry = Registry::default();
        self.register(&mut registry);
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
        text
    }
}

/// One socket's numbers at a scrape.
struct Sample {
    labels: Vec<(&'static str, String)>,
    stats: Stats,
    peers: Vec<PeerStats>,
    hwm: (usize, usize),
}

type Family = (&'static str, &'static str, fn(&Sample) -> u64);

/// A family whose value is a time: name, help, value.
type TimeFamily = (&'static str, &'static str, fn(&Sample) -> Duration);

/// The socket-wide gauges: name, help, value.
const GAUGES: &[Family] = &[
    ("weirmq_peers", "Connected peers.", |s| s.stats.peers as u64),
    (
        "weirmq_queued_out_messages",
        "Messages queued to peers.",
        |s| s.stats.queued_out_messages as u64,
    ),
    (
        "weirmq_queued_out_bytes",
        "Payload octets queued to peers.",
        |s| s.stats.queued_out_bytes as u64,
    ),
    (
        "weirmq_queued_in_messages",
        "Messages received, not yet taken.",
        |s| s.stats.queued_in_messages as u64,
    ),
    (
        "weirmq_queued_in_bytes",
        "Payload octets received, not yet taken.",
        |s| s.stats.queued_in_bytes as u64,
    ),
    (
        "weirmq_peak_queued_out_messages",
        "Most messages queued to one peer since the last scrape.",
        |s| s.stats.peak_queued_out_messages as u64,
    ),
    (
        "weirmq_peak_queued_in_messages",
        "Most messages waiting in one peer's incoming lane since the last scrape.",
        |s| s.stats.peak_queued_in_messages as u64,
    ),
    (
        "weirmq_send_hwm_messages",
        "HWM of each peer's outgoing queue, in messages.",
        |s| s.hwm.0 as u64,
    ),
    (
        "weirmq_recv_hwm_messages",
        "HWM of each peer's incoming lane, in messages.",
        |s| s.hwm.1 as u64,
    ),
    (
        "weirmq_recv_budget_used_bytes",
        "Octets of the receive budget in use.",
        |s| s.stats.recv_budget_used as u64,
    ),
];

/// The socket-wide counters of time, in seconds.
const SECONDS: &[TimeFamily] = &[
    (
        "weirmq_send_blocked_seconds",
        "Time sends spent waiting for room.",
        |s| s.stats.send_blocked,
    ),
    (
        "weirmq_queued_in_time_full_seconds",
        "Time incoming lanes spent full (their peers read no further).",
        |s| s.stats.queued_in_time_full,
    ),
];

/// The socket-wide counters (`_total` is added to each name).
const COUNTERS: &[Family] = &[
    (
        "weirmq_sent_messages",
        "Messages handed to peers' connections.",
        |s| s.stats.sent,
    ),
    (
        "weirmq_sent_bytes",
        "Payload octets handed to peers' connections.",
        |s| s.stats.sent_bytes,
    ),
    ("weirmq_received_messages", "Messages taken by recv.", |s| {
        s.stats.received
    }),
    (
        "weirmq_received_bytes",
        "Payload octets taken by recv.",
        |s| s.stats.received_bytes,
    ),
    (
        "weirmq_dropped_messages",
        "Messages dropped by choice (WhenFull::Drop, conflate).",
        |s| s.stats.dropped,
    ),
    (
        "weirmq_lost_messages",
        "Messages lost with a connection.",
        |s| s.stats.lost,
    ),
    (
        "weirmq_filtered_messages",
        "SUB: messages that matched no subscription.",
        |s| s.stats.filtered,
    ),
    (
        "weirmq_evicted_connections",
        "Connections evicted in their handshake.",
        |s| s.stats.evicted,
    ),
    (
        "weirmq_rejected_connections",
        "Connections over max_connections.",
        |s| s.stats.rejected,
    ),
    (
        "weirmq_handshake_failures",
        "Connections whose handshake failed.",
        |s| s.stats.handshake_failures,
    ),
    (
        "weirmq_auth_failures",
        "Peers the authenticator refused.",
        |s| s.stats.auth_failures,
    ),
    (
        "weirmq_connect_retries",
        "Failed connect attempts, retried.",
        |s| s.stats.connect_retries,
    ),
];

/// Per peer: gauges, then counters.
type PeerFamily = (&'static str, &'static str, fn(&PeerStats) -> u64);
const PEER_GAUGES: &[PeerFamily] = &[
    (
        "weirmq_peer_queued_messages",
        "Messages queued to the peer.",
        |p| p.queued_messages as u64,
    ),
    (
        "weirmq_peer_queued_bytes",
        "Payload octets queued to the peer.",
        |p| p.queued_bytes as u64,
    ),
    (
        "weirmq_peer_queued_in_messages",
        "Messages from the peer waiting in its incoming lane.",
        |p| p.queued_in_messages as u64,
    ),
    (
        "weirmq_peer_queued_in_bytes",
        "Payload octets from the peer waiting in its incoming lane.",
        |p| p.queued_in_bytes as u64,
    ),
];
const PEER_COUNTERS: &[PeerFamily] = &[
    (
        "weirmq_peer_dropped_messages",
        "Messages the peer missed by choice (WhenFull::Drop, conflate).",
        |p| p.dropped,
    ),
    (
        "weirmq_peer_received_messages",
        "Messages from the peer handed out by recv.",
        |p| p.received,
    ),
];

impl Metrics {
    fn samples(&self) -> (Vec<Sample>, Vec<(String, ProxyCounters)>) {
        let mut watched = lock(&self.watched);
        // Closed (or dropped) sockets leave the list: a closed socket's
        // core may live on a moment while its connections end.
        watched
            .sockets
            .retain(|(_, core)| core.upgrade().is_some_and(|c| !c.is_closed()));
        let samples = watched
            .sockets
            .iter()
            .filter_map(|(name, core)| {
                let core = core.upgrade().filter(|c| !c.is_closed())?;
                Some(Sample {
                    labels: vec![
                        ("socket", name.clone()),
                        ("type", core.shape.socket_type.as_str().to_owned()),
                    ],
                    stats: core.stats_as(Reader::Metrics),
                    peers: core.peer_stats_as(Reader::Metrics),
                    hwm: (
                        core.options.send_hwm.messages(),
                        core.options.recv_hwm.messages(),
                    ),
                })
            })
            .collect();
        (samples, watched.proxies.clone())
    }
}

/// Encodes one family: its descriptor, then a value per label set.
fn family<M: EncodeMetric>(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    metric_type: prometheus_client::metrics::MetricType,
    rows: impl IntoIterator<Item = (Vec<(&'static str, String)>, M)>,
) -> Result<(), std::fmt::Error> {
    let mut metric = encoder.encode_descriptor(name, help, None, metric_type)?;
    for (labels, value) in rows {
        value.encode(metric.encode_family(&labels)?)?;
    }
    Ok(())
}

impl Collector for Metrics {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        use prometheus_client::metrics::MetricType::{Counter, Gauge};
        let (samples, proxies) = self.samples();
        for &(name, help, get) in GAUGES {
            let rows = samples
                .iter()
                .map(|s| (s.labels.clone(), ConstGauge::new(get(s) as i64)));
            family(&mut encoder, name, help, Gauge, rows)?;
        }
        for &(name, help, get) in COUNTERS {
            let rows = samples
                .iter()
                .map(|s| (s.labels.clone(), ConstCounter::new(get(s))));
            family(&mut encoder, name, help, Counter, rows)?;
        }
        for &(name, help, get) in SECONDS {
            let rows = samples
                .iter()
                .map(|s| (s.labels.clone(), ConstCounter::new(get(s).as_secs_f64())));
            family(&mut encoder, name, help, Counter, rows)?;
        }
        let names: Vec<Vec<String>> = samples.iter().map(|s| peer_labels(&s.peers)).collect();
        let peer_rows = |get: fn(&PeerStats) -> u64| {
            samples.iter().zip(&names).flat_map(move |(s, names)| {
                s.peers.iter().zip(names).map(move |(p, name)| {
                    let mut labels = s.labels.clone();
                    labels.push(("peer", name.clone()));
                    (labels, get(p))
                })
            })
        };
        for &(name, help, get) in PEER_GAUGES {
            let rows = peer_rows(get).map(|(l, v)| (l, ConstGauge::new(v as i64)));
            family(&mut encoder, name, help, Gauge, rows)?;
        }
        for &(name, help, get) in PEER_COUNTERS {
            let rows = peer_rows(get).map(|(l, v)| (l, ConstCounter::new(v)));
            family(&mut encoder, name, help, Counter, rows)?;
        }
        encode_proxies(&mut encoder, &proxies)
    }
}

/// The `peer` label of each of a socket's peers: its name, and where names
/// repeat (inproc and ipc peers accepted on one endpoint) its number too,
/// as `NAME#NUMBER`, so that no two series of a family share their labels.
fn peer_labels(peers: &[PeerStats]) -> Vec<String> {
    let mut count: HashMap<&str, usize> = HashMap::new();
    for p in peers {
        *count.entry(&p.peer).or_default() += 1;
    }
    peers
        .iter()
        .map(|p| match count[p.peer.as_str()] {
            1 => p.peer.clone(),
            _ => format!("{}#{}", p.peer, p.number),
        })
        .collect()
}

/// The proxies' counters: messages and octets each way, and what they
/// could not forward.
fn encode_proxies(
    encoder: &mut DescriptorEncoder<'_>,
    proxies: &[(String, ProxyCounters)],
) -> Result<(), std::fmt::Error> {
    use prometheus_client::metrics::MetricType::Counter;
    let stats: Vec<_> = proxies.iter().map(|(name, c)| (name, c.get())).collect();
    let ways =
        |name: &String, way: &str| vec![("proxy", name.clone()), ("direction", way.to_owned())];
    let messages = stats.iter().flat_map(|(name, s)| {
        [
            (
                ways(name, "frontend_to_backend"),
                ConstCounter::new(s.frontend.messages_in),
            ),
            (
                ways(name, "backend_to_frontend"),
                ConstCounter::new(s.backend.messages_in),
            ),
        ]
    });
    family(
        encoder,
        "weirmq_proxy_messages",
        "Messages forwarded.",
        Counter,
        messages,
    )?;
    let bytes = stats.iter().flat_map(|(name, s)| {
        [
            (
                ways(name, "frontend_to_backend"),
                ConstCounter::new(s.frontend.bytes_in),
            ),
            (
                ways(name, "backend_to_frontend"),
                ConstCounter::new(s.backend.bytes_in),
            ),
        ]
    });
    family(
        encoder,
        "weirmq_proxy_bytes",
        "Payload octets forwarded.",
        Counter,
        bytes,
    )?;
    let one = |name: &String| vec![("proxy", name.clone())];
    let unroutable = stats
        .iter()
        .map(|(name, s)| (one(name), ConstCounter::new(s.unroutable)));
    let help = "Replies a ROUTER side had no peer for.";
    family(
        encoder,
        "weirmq_proxy_unroutable_messages",
        help,
        Counter,
        unroutable,
    )?;
    let dropped = stats
        .iter()
        .map(|(name, s)| (one(name), ConstCounter::new(s.dropped)));
    let help = "Messages held when told to terminate or when a send failed.";
    family(
        encoder,
        "weirmq_proxy_dropped_messages",
        help,
        Counter,
        dropped,
    )
}

/// Serves `metrics` over HTTP on `listener`: `GET /metrics` (any other
/// path is 404), one request per connection, each bounded in size and
/// time. Runs until the listener fails.
///
/// A scrape endpoint needs nothing of HTTP but this, so it is written out
/// here rather than pulling a web framework into every user's build.
pub async fn serve(listener: TcpListener, metrics: Metrics) -> std::io::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let answer = tokio::time::timeout(Duration::from_secs(5), answer(stream, &metrics));
            let _ = answer.await;
        });
    }
}

/// Reads one request head (at most 8 KiB) and answers it.
async fn answer(mut stream: tokio::net::TcpStream, metrics: &Metrics) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 || head.len() + n > 8192 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
    let (status, body) = if line.starts_with(b"GET /metrics ") || line == b"GET /metrics" {
        ("200 OK", metrics.encode())
    } else {
        ("404 Not Found", "not found\n".to_owned())
    };
    let mut response = String::new();
    let _ = write!(
        response,
        "HTTP/1.1 {status}\r\ncontent-type: application/openmetrics-text; version=1.0.0; \
         charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_peer_names_are_told_apart_by_number() {
        let peers = [
            PeerStats::quiet("inproc://a".into(), 3),
            PeerStats::quiet("tcp://127.0.0.1:5555".into(), 4),
            PeerStats::quiet("inproc://a".into(), 7),
        ];
        assert_eq!(
            peer_labels(&peers),
            ["inproc://a#3", "tcp://127.0.0.1:5555", "inproc://a#7"]
        );
    }
}
