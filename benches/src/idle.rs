//! The idle-connections row: a bound PULL (each implementation's, in its
//! own process) takes thousands of NULL connections that then send
//! nothing; its resident memory before and after, per connection.
//!
//! The clients are the runner's own, the same for every implementation:
//! plain TCP connections that write a ZMTP 3.1 NULL greeting and a READY
//! for a PUSH, and wait for the server's greeting and the start of its
//! READY, one connection after the other (so that the server's listen
//! backlog never overflows, and no handshake is evicted as slow).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::child::Child;
use crate::runner::Outcome;

/// A ZMTP 3.1 greeting for NULL, as a client (RFC 23): the signature, the
/// version, the mechanism padded to 20 octets, as-server 0, the filler.
fn greeting() -> [u8; 64] {
    let mut g = [0u8; 64];
    g[0] = 0xFF;
    g[9] = 0x7F;
    g[10] = 3;
    g[11] = 1;
    g[12..16].copy_from_slice(b"NULL");
    g
}

/// A READY command with Socket-Type PUSH: a short command frame (flags
/// 0x04, size), the name, one property.
fn ready() -> Vec<u8> {
    let mut body = vec![5];
    body.extend_from_slice(b"READY");
    body.push(11);
    body.extend_from_slice(b"Socket-Type");
    body.extend_from_slice(&4u32.to_be_bytes());
    body.extend_from_slice(b"PUSH");
    let mut frame = vec![0x04, body.len() as u8];
    frame.extend_from_slice(&body);
    frame
}

/// What a client waits for: the server's greeting and the two octets
/// that start its READY frame.
const ANSWER: usize = 64 + 2;

/// Opens one connection to `addr` and does its half of the handshake.
fn connect(addr: SocketAddr, hello: &[u8], deadline: Instant) -> Result<TcpStream, String> {
    let left = deadline
        .checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())
        .ok_or("deadline passed while connecting")?;
    let mut s = TcpStream::connect_timeout(&addr, left).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(left))
        .map_err(|e| format!("timeout: {e}"))?;
    s.write_all(hello).map_err(|e| format!("write: {e}"))?;
    let mut answer = [0u8; ANSWER];
    s.read_exact(&mut answer)
        .map_err(|e| format!("the server's greeting: {e}"))?;
    if answer[0] != 0xFF || answer[9] != 0x7F || answer[10] != 3 {
        return Err(format!("not a ZMTP 3 greeting: {:02x?}", &answer[..12]));
    }
    Ok(s)
}

/// The row's run: `connections` idle connections to `server` at
/// `endpoint` (tcp), and its memory per connection.
pub(crate) fn measure(
    server: &Child,
    endpoint: &str,
    connections: usize,
    deadline: Instant,
) -> Outcome {
    let addr: SocketAddr = endpoint
        .strip_prefix("tcp://")
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| format!("not a tcp endpoint: {endpoint}"))?;
    let rss = || server.rss_kib().ok_or("no VmRSS in /proc/PID/status");
    std::thread::sleep(Duration::from_millis(200));
    let before = rss()?;
    let mut hello = greeting().to_vec();
    hello.extend_from_slice(&ready());
    let started = Instant::now();
    let mut held = Vec::with_capacity(connections);
    for n in 0..connections {
        let s = connect(addr, &hello, deadline).map_err(|e| format!("connection {n}: {e}"))?;
        held.push(s);
    }
    let secs = started.elapsed().as_secs_f64();
    // The server has sent its READY; let it take ours and settle.
    std::thread::sleep(Duration::from_millis(500));
    let after = rss()?;
    drop(held);
    let per = (after.saturating_sub(before)) as f64 / connections as f64;
    Ok(HashMap::from([
        ("kib_per_connection".into(), per),
        ("rss_before_kib".into(), before as f64),
        ("rss_after_kib".into(), after as f64),
        ("connect_secs".into(), secs),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_handshake_is_rfc_23_and_37() {
        let g = greeting();
        assert_eq!(g.len(), 64);
        assert_eq!((g[0], g[9], g[10], g[11]), (0xFF, 0x7F, 3, 1));
        assert_eq!(&g[12..32], b"NULL\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0");
        assert_eq!(g[32], 0, "as-server");
        let r = ready();
        assert_eq!(r[0], 0x04);
        assert_eq!(usize::from(r[1]), r.len() - 2);
        assert_eq!(&r[2..8], b"\x05READY");
        assert!(r.ends_with(b"Socket-Type\0\0\0\x04PUSH"));
    }
}
