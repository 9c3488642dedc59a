//! What a pipe holds: a message, with the small ones copied in.
//!
//! A pipe hands messages from one thread to another, and a [`Bytes`] that
//! crosses is freed by a thread that did not allocate it. For small
//! messages that is most of the cost of a send: the sender's allocator
//! cache never gets its blocks back, so every allocation takes the slow
//! path, while the other thread's frees contend for the sender's arena (a
//! quarter of a 16-octet sender's time, by perf). So a pipe copies a small
//! single-frame message into its own slot, as libzmq does with its "very
//! small messages", and the [`Bytes`] goes back where it came from at once.
//! The receiving thread makes a new one when it takes the message out, on
//! the thread that will free it.

use bytes::Bytes;
use weirmq_zmtp::{Connection, Message, UsageError};

/// Payload octets up to which a single-frame message is copied in. Sized so
/// that an inline entry takes no more room than a message held by
/// reference (see the test below).
pub(crate) const INLINE_MAX: usize = 46;

/// One queued message.
#[derive(Debug)]
pub(crate) enum Entry {
    /// A single-frame message of at most [`INLINE_MAX`] octets, copied.
    Inline { len: u8, data: [u8; INLINE_MAX] },
    /// Any other message (larger, several frames, or carrying its peer).
    Shared(Message),
}

impl From<Message> for Entry {
    fn from(msg: Message) -> Entry {
        Entry::copy_of(&msg).unwrap_or(Entry::Shared(msg))
    }
}

impl Entry {
    /// The inline copy of `msg`, if it is small enough for one.
    pub(crate) fn copy_of(msg: &Message) -> Option<Entry> {
        match msg.frames() {
            [frame] if frame.len() <= INLINE_MAX && msg.peer().is_none() => {
                Some(Entry::inline(frame))
            }
            _ => None,
        }
    }

    /// A single-frame message copied from `body`, of at most
    /// [`INLINE_MAX`] octets.
    pub(crate) fn inline(body: &[u8]) -> Entry {
        debug_assert!(body.len() <= INLINE_MAX);
        let len = body.len().min(INLINE_MAX);
        let mut data = [0; INLINE_MAX];
        data[..len].copy_from_slice(&body[..len]);
        Entry::Inline {
            // At most INLINE_MAX, so it fits.
            len: len as u8,
            data,
        }
    }

    /// Payload octets, over all frames.
    pub(crate) fn byte_len(&self) -> usize {
        match self {
            Entry::Inline { len, .. } => usize::from(*len),
            Entry::Shared(msg) => msg.byte_len(),
        }
    }

    /// The body of a single-frame message.
    pub(crate) fn single_frame(&self) -> Option<&[u8]> {
        match self {
            Entry::Inline { len, data } => Some(&data[..usize::from(*len)]),
            Entry::Shared(msg) => match msg.frames() {
                [frame] => Some(frame),
                _ => None,
            },
        }
    }

    /// The first frame's body (empty for a message without frames).
    pub(crate) fn first_frame(&self) -> &[u8] {
        match self {
            Entry::Inline { len, data } => &data[..usize::from(*len)],
            Entry::Shared(msg) => msg.frames().first().map_or(&[], |f| &f[..]),
        }
    }

    /// The message, for the application (an inline one is allocated here,
    /// on the thread that takes it).
    pub(crate) fn into_message(self) -> Message {
        match self {
            Entry::Inline { len, data } => {
                Message::from(Bytes::copy_from_slice(&data[..usize::from(len)]))
            }
            Entry::Shared(msg) => msg,
        }
    }

    /// Queues it on `conn`.
    pub(crate) fn encode(&self, conn: &mut Connection) -> Result<(), UsageError> {
        match self {
            Entry::Inline { len, data } => conn.send_frame(&data[..usize::from(*len)]),
            Entry::Shared(msg) => conn.send(msg),
        }
    }
}

impl crate::pattern::fq::Weighed for Entry {
    fn weight(&self) -> usize {
        self.byte_len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inline_entry_is_no_larger_than_a_shared_one() {
        assert_eq!(
            std::mem::size_of::<Entry>(),
            std::mem::size_of::<Message>() + 8,
            "INLINE_MAX wastes or overflows the slot"
        );
    }

    #[test]
    fn small_single_frames_are_copied_and_come_back_equal() {
        for len in [0, 1, INLINE_MAX] {
            let msg = Message::from(vec![7u8; len]);
            let entry = Entry::from(msg.clone());
            assert!(matches!(entry, Entry::Inline { .. }), "len {len}");
            assert_eq!(entry.byte_len(), len);
            assert_eq!(entry.single_frame(), Some(&msg.frames()[0][..]));
            assert_eq!(entry.into_message(), msg);
        }
    }

    #[test]
    fn larger_or_multipart_messages_are_held_by_reference() {
        let big = Message::from(vec![1u8; INLINE_MAX + 1]);
        let two: Message = ["a", "b"].into_iter().collect();
        for msg in [big, two] {
            let entry = Entry::from(msg.clone());
            assert!(matches!(entry, Entry::Shared(_)));
            assert_eq!(entry.byte_len(), msg.byte_len());
            assert_eq!(entry.into_message(), msg);
        }
    }
}
