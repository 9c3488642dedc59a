//! libzmq 4.3.5's own perf tools (`local_thr`, `remote_thr`, `local_lat`,
//! `remote_lat`, from the `weirmq-libzmq-peers` build-dependency) as the
//! runner's children: their command lines, their output, their keys.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::child::Child;

/// One of the perf tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tool {
    /// PULL, binds, times `count` messages from the first to the last.
    LocalThr,
    /// PUSH, connects, sends `count` messages.
    RemoteThr,
    /// REP, binds, echoes `count` requests.
    LocalLat,
    /// REQ, connects, times all `count` round trips together.
    RemoteLat,
}

impl Tool {
    /// The program's name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Tool::LocalThr => "local_thr",
            Tool::RemoteThr => "remote_thr",
            Tool::LocalLat => "local_lat",
            Tool::RemoteLat => "remote_lat",
        }
    }

    /// Where the build script put it.
    fn path(self) -> &'static str {
        match self {
            Tool::LocalThr => env!("WEIRMQ_LIBZMQ_LOCAL_THR"),
            Tool::RemoteThr => env!("WEIRMQ_LIBZMQ_REMOTE_THR"),
            Tool::LocalLat => env!("WEIRMQ_LIBZMQ_LOCAL_LAT"),
            Tool::RemoteLat => env!("WEIRMQ_LIBZMQ_REMOTE_LAT"),
        }
    }

    /// Whether it binds (then the runner waits for its listening socket
    /// before it starts the other side).
    fn binds(self) -> bool {
        matches!(self, Tool::LocalThr | Tool::LocalLat)
    }
}

/// The CURVE keys built into `local_thr` and `remote_thr` (Z85), for a
/// weirmq side that faces them: the server's secret and public key, the
/// client's secret key. (`local_thr` has no ZAP handler: any client key
/// is let in.)
pub(crate) const SERVER_SECRET: &str = env!("WEIRMQ_LIBZMQ_PERF_SERVER_SECRET");
/// See [`SERVER_SECRET`].
pub(crate) const SERVER_PUBLIC: &str = env!("WEIRMQ_LIBZMQ_PERF_SERVER_PUBLIC");
/// See [`SERVER_SECRET`].
pub(crate) const CLIENT_SECRET: &str = env!("WEIRMQ_LIBZMQ_PERF_CLIENT_SECRET");

/// Starts `tool ENDPOINT SIZE COUNT [1]` (the `1`: CURVE with the built-in
/// keys, for the throughput tools); a binding tool is waited for until its
/// socket listens, so that the connecting side's first attempt succeeds
/// (a failed attempt would cost libzmq's 100 ms reconnect interval, inside
/// `remote_lat`'s timing).
pub(crate) fn start(
    tool: Tool,
    endpoint: &str,
    size: usize,
    count: u64,
    curve: bool,
    deadline: Instant,
) -> Result<Child, String> {
    let mut args = vec![endpoint.to_owned(), size.to_string(), count.to_string()];
    if curve {
        args.push("1".into());
    }
    let mut child = Child::spawn_program(tool.name().into(), Path::new(tool.path()), &args)?;
    if tool.binds() {
        while !bound(endpoint) {
            if !child.running() {
                // Its reason is in its output, which `expect` reports once
                // it has read to the end.
                return Err(match child.expect("\0", deadline) {
                    Err(e) => e,
                    Ok(_) => format!("{} ended before binding", tool.name()),
                });
            }
            if Instant::now() >= deadline {
                return Err(format!("timeout: {} did not bind {endpoint}", tool.name()));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    Ok(child)
}

/// Whether something listens on `endpoint`: a `tcp://HOST:PORT` whose port
/// is in LISTEN state in /proc/net/tcp(6), or an `ipc://PATH` that exists
/// (libzmq creates it at bind). Looking, rather than connecting, leaves the
/// tool's socket without a stray peer.
fn bound(endpoint: &str) -> bool {
    if let Some(path) = endpoint.strip_prefix("ipc://") {
        return Path::new(path).exists();
    }
    let Some(port) = endpoint
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse::<u16>().ok())
    else {
        return false;
    };
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .any(|table| std::fs::read_to_string(table).is_ok_and(|text| listens(&text, port)))
}

/// Whether a /proc/net/tcp table has a socket in LISTEN state (`0A`) with
/// local port `port`.
fn listens(table: &str, port: u16) -> bool {
    let port = format!(":{port:04X}");
    table.lines().skip(1).any(|line| {
        let mut fields = line.split_whitespace();
        let local = fields.nth(1).unwrap_or("");
        let state = fields.nth(1).unwrap_or("");
        local.ends_with(&port) && state == "0A"
    })
}

/// The number before the unit in a perf tool's line: `6468660 [msg/s]`.
fn number(rest: &str, unit: &str) -> Result<f64, String> {
    rest.strip_suffix(unit)
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| format!("unexpected perf tool output: {rest}"))
}

/// The runner's rate from `local_thr`'s `mean throughput: N [msg/s]` line
/// (the rest after the colon): `local_thr` divides all `count` messages by
/// the time from the first to the last, the runner the `count - 1` gaps
/// between them, as its roles do; the same window, so this only scales.
pub(crate) fn throughput(rest: &str, count: u64) -> Result<f64, String> {
    let n = number(rest, "[msg/s]")?;
    Ok(if count < 2 {
        0.0
    } else {
        n * (count - 1) as f64 / count as f64
    })
}

/// The mean round trip (µs) from `remote_lat`'s `average latency: X [us]`
/// line: `remote_lat` reports half the round trip (the elapsed time over
/// `roundtrips * 2`), the runner the whole round trip, so it is 2 × X.
/// (`remote_lat` times every round trip, the first one and its connection
/// setup included, without a warm-up; it has no p99.)
pub(crate) fn round_trip(rest: &str) -> Result<f64, String> {
    Ok(2.0 * number(rest, "[us]")?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tools_output_converts_to_the_runners_units() {
        assert_eq!(throughput("1000 [msg/s]", 10).unwrap(), 900.0);
        assert_eq!(throughput("1000 [msg/s]", 1).unwrap(), 0.0);
        assert!(throughput("1000 [Mb/s]", 10).is_err());
        assert_eq!(round_trip("21.500 [us]").unwrap(), 43.0);
        assert!(round_trip("fast").is_err());
    }

    #[test]
    fn a_listening_port_is_found_in_proc_net_tcp() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue\n\
            0: 0100007F:B2A7 00000000:0000 0A 00000000:00000000\n\
            1: 0100007F:1F90 0100007F:C350 01 00000000:00000000\n";
        assert!(listens(table, 0xB2A7));
        // Established, not listening.
        assert!(!listens(table, 0x1F90));
        assert!(!listens(table, 0xA7));
    }

    #[test]
    fn a_real_listener_is_seen_and_the_keys_are_z85() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        assert!(bound(&format!("tcp://127.0.0.1:{port}")));
        drop(l);
        assert!(!bound(&format!("tcp://127.0.0.1:{port}")));
        for key in [SERVER_SECRET, SERVER_PUBLIC, CLIENT_SECRET] {
            assert!(weirmq::PublicKey::from_z85(key).is_ok(), "{key}");
        }
    }

    #[test]
    fn a_tool_that_cannot_bind_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let endpoint = format!("ipc://{}/no/such/dir.sock", dir.path().display());
        let deadline = Instant::now() + Duration::from_secs(10);
        let e = start(Tool::LocalThr, &endpoint, 16, 10, false, deadline)
            .err()
            .expect("bound a taken port");
        assert!(e.contains("local_thr exited"), "{e}");
        // Its stdout, where libzmq's perf tools print their errors.
        assert!(e.contains("error in zmq_bind"), "{e}");
    }
}
