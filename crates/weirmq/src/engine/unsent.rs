//! What a connection has taken to write: the octets handed out by the
//! protocol core and not yet written, and the messages among them not yet
//! wholly written, so that a connection that ends can tell which messages
//! its peer got nothing of (they go back to a kept pipe) and which one it
//! got part of (lost).

use std::collections::VecDeque;
use std::io::{ErrorKind, IoSlice};

use bytes::{Buf, Bytes};
use weirmq_zmtp::Connection;

use crate::queue::entry::Entry;
use crate::transport::Stream;

/// Outgoing octets handed out by the connection and not yet written, and
/// the messages among them not yet wholly written.
#[derive(Default)]
pub(super) struct Unsent {
    chunks: VecDeque<Bytes>,
    pub(super) len: usize,
    /// Octets taken from the connection since it began.
    taken: u64,
    /// Octets written since it began.
    written: u64,
    /// Messages encoded and not wholly written, oldest first, each with the
    /// stream offsets of its first octet and just past its last. Moved here
    /// from the pipe's batch (not copied, and the deque's capacity is
    /// reused: no allocation per message), they leave as soon as they are
    /// written, so this holds at most the messages of two write batches and
    /// one message beyond them.
    in_flight: VecDeque<(u64, u64, Entry)>,
}

impl Unsent {
    pub(super) fn fill(&mut self, conn: &mut Connection) {
        while let Some(chunk) = conn.poll_transmit() {
            self.len += chunk.len();
            self.taken += chunk.len() as u64;
            self.chunks.push_back(chunk);
        }
    }

    /// Where the connection's output ends now, as a stream offset.
    pub(super) fn output_end(&self, conn: &Connection) -> u64 {
        self.taken + conn.pending_transmit() as u64
    }

    /// Tracks `entry`, which `conn` has just encoded from stream offset
    /// `start`.
    pub(super) fn encoded(&mut self, conn: &Connection, start: u64, entry: Entry) {
        let end = self.output_end(conn);
        self.in_flight.push_back((start, end, entry));
    }

    /// Takes the messages not wholly written: `(untouched, partial)`, where
    /// `partial` counts the one message the peer got part of (at most one).
    pub(super) fn take_unwritten(
        &mut self,
    ) -> (
        impl ExactSizeIterator<Item = Entry> + DoubleEndedIterator,
        u64,
    ) {
        let partial = self
            .in_flight
            .front()
            .is_some_and(|(start, _, _)| *start < self.written);
        let mut all = std::mem::take(&mut self.in_flight);
        if partial {
            all.pop_front();
        }
        (
            all.into_iter().map(|(_, _, entry)| entry),
            u64::from(partial),
        )
    }

    fn advance(&mut self, mut n: usize) {
        self.len -= n;
        self.written += n as u64;
        while self
            .in_flight
            .front()
            .is_some_and(|(_, end, _)| *end <= self.written)
        {
            self.in_flight.pop_front();
        }
        while n > 0 {
            let front = &mut self.chunks[0];
            if n >= front.len() {
                n -= front.len();
                self.chunks.pop_front();
            } else {
                front.advance(n);
                n = 0;
            }
        }
    }

    /// Writes what `stream` takes now, without waiting; advances past it.
    pub(super) fn try_write<S: Stream>(&mut self, stream: &S) -> std::io::Result<()> {
        let mut slices = [IoSlice::new(&[]); 64];
        let mut k = 0;
        for (slot, chunk) in slices.iter_mut().zip(&self.chunks) {
            *slot = IoSlice::new(chunk);
            k += 1;
        }
        match stream.try_write_vectored(&slices[..k])? {
            0 => Err(ErrorKind::WriteZero.into()),
            n => {
                self.advance(n);
                Ok(())
            }
        }
    }
}
