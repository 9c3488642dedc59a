//! The byte streams a connection runs over: TCP for `tcp://`, a Unix
//! socket for `ipc://`, and a Unix socket pair for `inproc://`.
//!
//! The engine uses them through `&self` and readiness: it waits until the
//! stream is ready, then reads or writes without waiting, under the lock
//! of the connection it shares with the socket (see the engine).
//! That is what lets a socket's own task read or write the same stream in
//! turn with the engine, in order, without a second task between them.
//!
//! Each direction has one readiness wake-up slot, which the last poll of
//! that direction fills. The engine and a reading-through receiver take
//! turns with the read slot, under the connection's lock; the `try_`
//! operations register nothing, so they never take it from anyone.

use std::io::{self, IoSlice};
use std::net::Shutdown;
use std::task::{Context, Poll};

use bytes::BufMut;
use tokio::io::Interest;
use tokio::net::{TcpStream, UnixStream};

/// A connected, non-blocking byte stream.
pub(crate) trait Stream: Send + 'static {
    /// Ready when a read may find octets (or the end, or an error);
    /// otherwise `cx` is woken when one may.
    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
    /// Reads what is there into `buf`, without waiting: `WouldBlock` when
    /// nothing is, `Ok(0)` at the end of the stream. A read that leaves
    /// room in `buf` has taken everything, and leaves the stream not ready.
    fn try_read_buf<B: BufMut>(&self, buf: &mut B) -> io::Result<usize>;
    /// Ready when a write may take octets; otherwise `cx` is woken when it
    /// may.
    fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
    /// Writes what the stream takes now of `bufs`, in order, without
    /// waiting: `WouldBlock` when it takes nothing.
    fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize>;
    /// Ends the sending direction: the peer reads the end of the stream.
    fn shutdown_write(&self) -> io::Result<()>;
}

macro_rules! socket_stream {
    ($ty:ty) => {
        impl Stream for $ty {
            fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                <$ty>::poll_read_ready(self, cx)
            }
            fn try_read_buf<B: BufMut>(&self, buf: &mut B) -> io::Result<usize> {
                // A read that leaves room unfilled has emptied the socket:
                // its readiness is cleared with it (as tokio's own reads
                // do), so the next wait registers at once instead of
                // spending a read on finding nothing. The clearing is
                // tokio's, and keeps an edge that came in meanwhile.
                let room = buf.chunk_mut().len();
                let mut short = 0;
                let read = self.try_io(Interest::READABLE, || {
                    match <$ty>::try_read_buf(self, buf)? {
                        n if n > 0 && n < room => {
                            short = n;
                            Err(io::ErrorKind::WouldBlock.into())
                        }
                        n => Ok(n),
                    }
                });
                match read {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock && short > 0 => Ok(short),
                    read => read,
                }
            }
            fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                <$ty>::poll_write_ready(self, cx)
            }
            fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
                <$ty>::try_write_vectored(self, bufs)
            }
            fn shutdown_write(&self) -> io::Result<()> {
                socket2::SockRef::from(self).shutdown(Shutdown::Write)
            }
        }
    };
}

socket_stream!(TcpStream);
socket_stream!(UnixStream);
