//! Bytes waiting to be written, in order.
//!
//! Headers and small bodies are copied into one contiguous buffer, so a burst
//! of small messages leaves as one write. A body of [`ZERO_COPY_MIN`] octets
//! or more is not copied: it is queued as its own [`Bytes`] chunk, ready for a
//! vectored write.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};

use crate::command::Command;
use crate::frame::encode_header;
use crate::metadata::Metadata;

/// Bodies at least this long are queued by reference instead of copied.
pub(crate) const ZERO_COPY_MIN: usize = 8 * 1024;

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

    /// The buffer after everything queued, for codecs that build frames in
    /// place (CURVE seals each frame where it will be written from).
    pub(crate) fn staged(&mut self) -> &mut BytesMut {
        &mut self.staged
    }

    pub(crate) fn ready(&mut self, metadata: &Metadata) {
        crate::command::encode_ready(metadata, &mut self.staged);
    }

    pub(crate) fn frame(&mut self, more: bool, body: &Bytes) {
        encode_header(&mut self.staged, more, false, body.len());
        if body.len() >= ZERO_COPY_MIN {
            self.flush_staged();
            self.chunked += body.len();
            self.chunks.push_back(body.clone());
        } else {
            self.staged.extend_from_slice(body);
        }
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
}
