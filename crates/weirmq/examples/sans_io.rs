//! A PUSH -> PULL pipeline over TCP loopback, driven by the sans-IO protocol
//! core with plain std sockets: the greeting, the NULL handshake with
//! metadata, heartbeats, multipart messages and a stream of small ones.
//!
//! `cargo run --release -p weirmq --example sans_io [-- COUNT]`

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use weirmq::zmtp::{Config, Connection, Event, Heartbeat, Message, SocketType};

/// One connection on a non-blocking socket.
struct Driver {
    stream: TcpStream,
    conn: Connection,
    /// The part of a chunk the socket has not taken yet.
    unsent: Bytes,
    scratch: Box<[u8; 64 * 1024]>,
}

impl Driver {
    fn new(stream: TcpStream, config: Config) -> io::Result<Driver> {
        stream.set_nonblocking(true)?;
        stream.set_nodelay(true)?;
        let conn = Connection::new(config, Instant::now()).map_err(io::Error::other)?;
        Ok(Driver {
            stream,
            conn,
            unsent: Bytes::new(),
            scratch: Box::new([0; 64 * 1024]),
        })
    }

    /// Writes what it can, reads what is there, fires timers. Returns whether
    /// anything moved.
    fn pump(&mut self) -> io::Result<bool> {
        let mut moved = false;
        loop {
            if self.unsent.is_empty() {
                match self.conn.poll_transmit() {
                    Some(chunk) => self.unsent = chunk,
                    None => break,
                }
            }
            match self.stream.write(&self.unsent) {
                Ok(n) => {
                    self.unsent.advance(n);
                    moved = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        match self.stream.read(&mut self.scratch[..]) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                self.conn.handle_input(&self.scratch[..n], Instant::now());
                moved = true;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
        let now = Instant::now();
        if self.conn.poll_timeout().is_some_and(|t| t <= now) {
            self.conn.handle_timeout(now).map_err(io::Error::other)?;
        }
        Ok(moved)
    }

    fn next_event(&mut self) -> io::Result<Event> {
        loop {
            if let Some(event) = self
                .conn
                .poll_event(Instant::now())
                .map_err(io::Error::other)?
            {
                return Ok(event);
            }
            if !self.pump()? {
                thread::sleep(Duration::from_micros(50));
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        while !self.unsent.is_empty() || self.conn.pending_transmit() > 0 {
            if !self.pump()? {
                thread::sleep(Duration::from_micros(50));
            }
        }
        Ok(())
    }
}

fn config(socket_type: SocketType) -> Config {
    let mut c = Config::new(socket_type);
    c.heartbeat = Some(Heartbeat::new(Duration::from_millis(200)));
    c.properties
        .insert("X-Demo", "weirmq pipeline")
        .expect("valid name");
    c
}

fn main() -> io::Result<()> {
    let count: u64 = std::env::args()
        .nth(1)
        .map_or(Ok(200_000), |a| a.parse())
        .map_err(io::Error::other)?;
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    println!("weirmq demo: PUSH -> PULL over tcp://{addr}, ZMTP 3.1 with the NULL mechanism");

    let puller = thread::spawn(move || -> io::Result<(u64, u64)> {
        let (stream, _) = listener.accept()?;
        let mut pull = Driver::new(stream, config(SocketType::Pull))?;
        let mut received = 0u64;
        let mut sum = 0u64;
        loop {
            match pull.next_event()? {
                Event::HandshakeSucceeded(peer) => {
                    let demo = peer
                        .metadata
                        .get("X-Demo")
                        .map(|v| v.escape_ascii().to_string());
                    println!(
                        "PULL: handshake done with {:?} over {}, X-Demo = {:?}",
                        peer.socket_type, peer.revision, demo
                    );
                }
                Event::Message(m) if m.len() == 2 && m.frames()[0] == "END" => {
                    let claimed: u64 = std::str::from_utf8(&m.frames()[1])
                        .map_err(io::Error::other)?
                        .parse()
                        .map_err(io::Error::other)?;
                    println!("PULL: end marker says {claimed} messages were sent");
                    return Ok((received, sum));
                }
                Event::Message(m) => {
                    received += 1;
                    sum += u64::from_le_bytes(m.frames()[0][..8].try_into().expect("8 octets"));
                }
                _ => {}
            }
        }
    });

    let mut push = Driver::new(TcpStream::connect(addr)?, config(SocketType::Push))?;
    while !push.conn.is_ready() {
        if let Event::HandshakeSucceeded(peer) = push.next_event()? {
            println!("PUSH: handshake done with {:?}", peer.socket_type);
        }
    }
    let start = Instant::now();
    let mut expected = 0u64;
    for i in 0..count {
        let mut body = [0u8; 16];
        body[..8].copy_from_slice(&i.to_le_bytes());
        push.conn
            .send(&Message::from(Bytes::copy_from_slice(&body)))
            .map_err(io::Error::other)?;
        expected += i;
        // Keep our own queue short: write whenever 256 KiB are waiting.
        if push.conn.pending_transmit() > 256 * 1024 {
            push.flush()?;
        }
    }
    let end: Message = [Bytes::from_static(b"END"), Bytes::from(count.to_string())]
        .into_iter()
        .collect();
    push.conn.send(&end).map_err(io::Error::other)?;
    push.flush()?;

    let (received, sum) = puller
        .join()
        .map_err(|_| io::Error::other("PULL thread panicked"))??;
    let elapsed = start.elapsed();
    println!(
        "PULL: received {received} x 16-octet messages in {:.1} ms ({:.0} msg/s), checksum {}",
        elapsed.as_secs_f64() * 1e3,
        received as f64 / elapsed.as_secs_f64(),
        if sum == expected && received == count {
            "ok"
        } else {
            "MISMATCH"
        }
    );
    if sum != expected || received != count {
        return Err(io::Error::other("messages lost or corrupted"));
    }
    Ok(())
}
