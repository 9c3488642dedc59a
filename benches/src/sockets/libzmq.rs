//! libzmq 4.3 (the system's, through the `zmq` crate), with default
//! options. Its calls block; each role runs on a thread of its own.

use std::time::Duration;

use super::{Attach, Kind, Received, Security, fail};

pub(crate) struct Socket {
    socket: zmq::Socket,
    /// Reused for every receive, as libzmq's local_thr does.
    msg: zmq::Message,
    /// The SNDTIMEO / RCVTIMEO now set, in milliseconds (-1: forever).
    send_timeout: i32,
    recv_timeout: i32,
    _context: zmq::Context,
}

pub(crate) fn open(
    kind: Kind,
    attach: Attach,
    endpoint: &str,
    security: &Security,
) -> Result<Socket, String> {
    let context = zmq::Context::new();
    let ty = match kind {
        Kind::Push => zmq::PUSH,
        Kind::Pull => zmq::PULL,
        Kind::Req => zmq::REQ,
        Kind::Rep => zmq::REP,
        Kind::Pub => zmq::PUB,
        Kind::Sub => zmq::SUB,
    };
    let socket = context.socket(ty).map_err(|e| fail("socket", e))?;
    let option = |e| fail("setsockopt", e);
    match security {
        Security::Null => {}
        Security::CurveServer { secret } => {
            socket.set_curve_server(true).map_err(option)?;
            socket
                .set_curve_secretkey(secret.as_bytes())
                .map_err(option)?;
        }
        Security::CurveClient { server, secret } => {
            socket
                .set_curve_serverkey(server.as_bytes())
                .map_err(option)?;
            socket
                .set_curve_publickey(secret.public_key().as_bytes())
                .map_err(option)?;
            socket
                .set_curve_secretkey(secret.as_bytes())
                .map_err(option)?;
        }
    }
    if kind == Kind::Sub {
        socket.set_subscribe(b"").map_err(option)?;
    }
    match attach {
        Attach::Bind => socket.bind(endpoint),
        Attach::Connect => socket.connect(endpoint),
    }
    .map_err(|e| fail(endpoint, e))?;
    Ok(Socket {
        socket,
        msg: zmq::Message::new(),
        send_timeout: -1,
        recv_timeout: -1,
        _context: context,
    })
}

fn millis(limit: Duration) -> i32 {
    i32::try_from(limit.as_millis()).unwrap_or(i32::MAX)
}

/// `zmq::Socket::set_sndtimeo` or `set_rcvtimeo`.
type SetTimeout = fn(&zmq::Socket, i32) -> zmq::Result<()>;

/// Which of the two timeouts.
#[derive(Clone, Copy)]
enum Timeout {
    Send,
    Recv,
}

impl Socket {
    /// Sets SNDTIMEO or RCVTIMEO to `ms` (-1: forever), if not set already.
    fn timeout(&mut self, which: Timeout, ms: i32) -> Result<(), String> {
        let (current, set): (&mut i32, SetTimeout) = match which {
            Timeout::Send => (&mut self.send_timeout, zmq::Socket::set_sndtimeo),
            Timeout::Recv => (&mut self.recv_timeout, zmq::Socket::set_rcvtimeo),
        };
        if *current != ms {
            set(&self.socket, ms).map_err(|e| fail("setsockopt", e))?;
            *current = ms;
        }
        Ok(())
    }

    pub(crate) fn send(&mut self, body: &[u8]) -> Result<(), String> {
        self.timeout(Timeout::Send, -1)?;
        self.socket.send(body, 0).map_err(|e| fail("send", e))
    }

    pub(crate) fn recv(&mut self) -> Result<Received, String> {
        self.timeout(Timeout::Recv, -1)?;
        self.socket
            .recv(&mut self.msg, 0)
            .map_err(|e| fail("recv", e))?;
        Ok(Received::of(&self.msg))
    }

    /// SNDTIMEO bounds the send; EAGAIN means it was still blocked.
    pub(crate) fn send_within(&mut self, body: &[u8], limit: Duration) -> Result<bool, String> {
        self.timeout(Timeout::Send, millis(limit))?;
        match self.socket.send(body, 0) {
            Ok(()) => Ok(true),
            Err(zmq::Error::EAGAIN) => Ok(false),
            Err(e) => Err(fail("send", e)),
        }
    }

    pub(crate) fn recv_within(&mut self, limit: Duration) -> Result<Option<Received>, String> {
        self.timeout(Timeout::Recv, millis(limit))?;
        match self.socket.recv(&mut self.msg, 0) {
            Ok(()) => Ok(Some(Received::of(&self.msg))),
            Err(zmq::Error::EAGAIN) => Ok(None),
            Err(e) => Err(fail("recv", e)),
        }
    }
}
