//! Bytes waiting to be written, in order.
//!
//! Headers and small bodies are copied into one contiguous buffer, so a burst
//! of small messages leaves as one write. A body of [`ZERO_COPY_MIN`] octets
//! or more is not copied: it is queued as its own [`Bytes`] chunk, ready for a
//! vectored write. Nor is that buffer grown by copying what it holds into a
//! bigger one: a full buffer joins the chunks as it is and a fresh one, twice
//! its size up to [`STAGED_GROWTH_MAX`], takes its place.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};

use crate::command::Command;
use crate::frame::{MAX_HEADER_LEN, encode_header};
use crate::metadata::Metadata;

/// Bodies at least this long are queued by reference instead of copied.
pub(crate) const ZERO_COPY_MIN: usize = 8 * 1024;

/// A full staged buffer is followed by one twice its size, up to this.
pub(crate) const STAGED_GROWTH_MAX: usize = 64 * 1024;

#[derive(Debug, Default)]
pub(crate) struct Outbox {
    /// Chunks that go out before `staged`.
    chunks: VecDeque<Bytes>,
    /// Headers and small bodies after the last chunk.
    staged: BytesMut,
    /// Octets in `chunks`.
    chunked: usize,
}

impl Outbox {
    pub(crate) fn len(&self) -> usize {
        self.chunked + self.staged.len()
    }

    pub(crate) fn raw(&mut self, bytes: &[u8]) {
        self.staged.extend_from_slice(bytes);
    }

    pub(crate) fn command(&mut self, command: &Command) {
        command.encode(&mut self.staged);
    }

    /// A command frame whose body (name included) the caller built.
    pub(crate) fn command_body(&mut self, body: &[u8]) {
        encode_header(&mut self.staged, false, true, body.len());
        self.staged.extend_from_slice(body);
    }

    /// The buffer after everything queued, with room for `additional` more
    /// octets, for codecs that build frames in place (CURVE seals each frame
    /// where it will be written from).
    pub(crate) fn staged(&mut self, additional: usize) -> &mut BytesMut {
        self.make_room(additional);
        &mut self.staged
    }

    /// Room for `additional` more octets in the staged buffer. A buffer
    /// that holds something and lacks the room is not grown, which would
    /// copy all it holds: it becomes a chunk, and a fresh one takes over.
    fn make_room(&mut self, additional: usize) {
        let room = self.staged.capacity() - self.staged.len();
        if room >= additional {
            return;
        }
        if self.staged.is_empty() {
            // Nothing to copy: `bytes` sizes it (from what the last buffer
            // held, up to 64 KiB).
            self.staged.reserve(additional);
            return;
        }
        let next = (2 * self.staged.capacity()).min(STAGED_GROWTH_MAX);
        self.flush_staged();
        self.staged.reserve(additional.max(next));
    }

    pub(crate) fn ready(&mut self, metadata: &Metadata) {
        crate::command::encode_ready(metadata, &mut self.staged);
    }

    pub(crate) fn frame(&mut self, more: bool, body: &Bytes) {
        if body.len() >= ZERO_COPY_MIN {
            self.make_room(MAX_HEADER_LEN);
            encode_header(&mut self.staged, more, false, body.len());
            self.flush_staged();
            self.chunked += body.len();
            self.chunks.push_back(body.clone());
        } else {
            self.frame_copied(more, body);
        }
    }

    /// A frame whose body is copied, whatever its size.
    pub(crate) fn frame_copied(&mut self, more: bool, body: &[u8]) {
        self.make_room(MAX_HEADER_LEN + body.len());
        encode_header(&mut self.staged, more, false, body.len());
        self.staged.extend_from_slice(body);
    }

    fn flush_staged(&mut self) {
        if !self.staged.is_empty() {
            let staged = self.staged.split().freeze();
            self.chunked += staged.len();
            self.chunks.push_back(staged);
        }
    }

    pub(crate) fn pop(&mut self) -> Option<Bytes> {
        if let Some(chunk) = self.chunks.pop_front() {
            self.chunked -= chunk.len();
            return Some(chunk);
        }
        (!self.staged.is_empty()).then(|| self.staged.split().freeze())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_across_copied_and_shared_bodies() {
        let mut o = Outbox::default();
        let big = Bytes::from(vec![7u8; ZERO_COPY_MIN]);
        o.raw(b"hello");
        o.frame(true, &Bytes::from_static(b"ab"));
        o.frame(false, &big);
        o.frame(false, &Bytes::from_static(b"c"));
        let total = o.len();
        let mut out = Vec::new();
        let mut shared = false;
        while let Some(chunk) = o.pop() {
            shared |= chunk.as_ptr() == big.as_ptr();
            out.extend_from_slice(&chunk);
        }
        assert!(shared, "the large body must go out without a copy");
        assert_eq!(out.len(), total);
        assert_eq!(o.len(), 0);
        let mut want = b"hello".to_vec();
        want.extend_from_slice(&[0x01, 2, b'a', b'b', 0x02, 0, 0, 0, 0, 0, 0, 0x20, 0]);
        want.extend_from_slice(&big);
        want.extend_from_slice(&[0x00, 1, b'c']);
        assert_eq!(out, want);
    }

    #[test]
    fn a_full_buffer_becomes_a_chunk_instead_of_growing_by_a_copy() {
        const FRAME: usize = MAX_HEADER_LEN + 1000;
        let mut o = Outbox::default();
        let body = Bytes::from(vec![3u8; 1000]);
        // Where each frame was written.
        let mut written = Vec::new();
        for _ in 0..201 {
            o.frame(false, &body);
            written.push(o.staged.as_ptr() as usize + o.staged.len() - FRAME);
        }
        // Buffers of 1, 2, 4, ... frames, then of 64 KiB: few chunks.
        assert!((2..=10).contains(&o.chunks.len()), "{}", o.chunks.len());
        let mut frames = written.iter();
        let mut total = 0;
        while let Some(chunk) = o.pop() {
            assert!(chunk.len() <= STAGED_GROWTH_MAX);
            for (k, frame) in chunk.chunks(FRAME).enumerate() {
                // Still where it was written: never copied to grow a buffer.
                let at = chunk.as_ptr() as usize + k * FRAME;
                assert_eq!(Some(&at), frames.next());
                assert_eq!(frame[0], crate::frame::FLAG_LONG);
                assert_eq!(&frame[1..MAX_HEADER_LEN], &1000u64.to_be_bytes());
                assert!(frame[MAX_HEADER_LEN..].iter().all(|&b| b == 3));
                total += 1;
            }
        }
        assert_eq!(total, 201);
    }
}
