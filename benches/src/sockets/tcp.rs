//! The floor: plain tokio TCP, no ZMTP, no framing. A "message" is exactly
//! `size` octets; REP accepts one connection, REQ connects. Nagle is off,
//! as every ZeroMQ implementation turns it off.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::{Attach, Kind, Received, fail};

pub(crate) struct Socket {
    listener: Option<TcpListener>,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
}

pub(crate) async fn open(
    kind: Kind,
    attach: Attach,
    endpoint: &str,
    size: usize,
) -> Result<Socket, String> {
    if !matches!(kind, Kind::Req | Kind::Rep) {
        return Err("the TCP floor is ping-pong only".into());
    }
    let addr = endpoint
        .strip_prefix("tcp://")
        .ok_or_else(|| format!("{endpoint}: not tcp://"))?;
    let mut socket = Socket {
        listener: None,
        stream: None,
        buf: vec![0; size],
    };
    match attach {
        Attach::Bind => {
            socket.listener = Some(TcpListener::bind(addr).await.map_err(|e| fail(addr, e))?);
        }
        Attach::Connect => {
            let stream = TcpStream::connect(addr).await.map_err(|e| fail(addr, e))?;
            stream.set_nodelay(true).map_err(|e| fail("nodelay", e))?;
            socket.stream = Some(stream);
        }
    }
    Ok(socket)
}

impl Socket {
    async fn stream(&mut self) -> Result<&mut TcpStream, String> {
        if self.stream.is_none() {
            let listener = self.listener.as_ref().ok_or("not connected")?;
            let (stream, _) = listener.accept().await.map_err(|e| fail("accept", e))?;
            stream.set_nodelay(true).map_err(|e| fail("nodelay", e))?;
            self.stream = Some(stream);
        }
        Ok(self.stream.as_mut().expect("just set"))
    }

    pub(crate) async fn send(&mut self, body: &[u8]) -> Result<(), String> {
        let stream = self.stream().await?;
        stream.write_all(body).await.map_err(|e| fail("write", e))
    }

    pub(crate) async fn recv(&mut self) -> Result<Received, String> {
        let mut buf = std::mem::take(&mut self.buf);
        let read = self.stream().await?.read_exact(&mut buf).await;
        self.buf = buf;
        read.map_err(|e| fail("read", e))?;
        Ok(Received::of(&self.buf))
    }
}
