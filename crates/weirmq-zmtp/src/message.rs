//! Multipart messages made of [`Bytes`] frames.

use std::sync::Arc;

use bytes::Bytes;

use crate::peer::PeerInfo;

/// A message: one or more frames, delivered atomically (RFC 37).
///
/// Frames are [`Bytes`], so building, cloning and fanning a message out to
/// many peers never copies payload. A single-frame message needs no heap
/// allocation beyond its payload.
#[derive(Clone, Debug, Default)]
pub struct Message {
    repr: Repr,
    /// Who sent it, on secured connections (see [`Message::peer`]).
    peer: Option<Arc<PeerInfo>>,
}

#[derive(Clone, Debug)]
enum Repr {
    One(Bytes),
    Many(Vec<Bytes>),
}

impl Default for Repr {
    fn default() -> Self {
        Repr::Many(Vec::new())
    }
}

impl Message {
    /// A message with no frames yet.
    pub fn new() -> Message {
        Message::default()
    }

    /// The frames, first to last.
    pub fn frames(&self) -> &[Bytes] {
        match &self.repr {
            Repr::One(frame) => std::slice::from_ref(frame),
            Repr::Many(frames) => frames,
        }
    }

    /// Number of frames.
    pub fn len(&self) -> usize {
        self.frames().len()
    }

    /// Whether there are no frames.
    pub fn is_empty(&self) -> bool {
        self.frames().is_empty()
    }

    /// Total payload octets over all frames.
    pub fn byte_len(&self) -> usize {
        match &self.repr {
            Repr::One(frame) => frame.len(),
            Repr::Many(frames) => frames.iter().map(Bytes::len).sum(),
        }
    }

    /// Appends a frame.
    pub fn push(&mut self, frame: impl Into<Bytes>) {
        let frame = frame.into();
        match &mut self.repr {
            Repr::Many(frames) if frames.is_empty() => self.repr = Repr::One(frame),
            Repr::Many(frames) => frames.push(frame),
            Repr::One(first) => {
                let first = std::mem::take(first);
                self.repr = Repr::Many(vec![first, frame]);
            }
        }
    }

    /// Inserts a frame before the first one (an envelope, a routing id).
    pub fn push_front(&mut self, frame: impl Into<Bytes>) {
        let frame = frame.into();
        match &mut self.repr {
            Repr::Many(frames) if frames.is_empty() => self.repr = Repr::One(frame),
            Repr::Many(frames) => frames.insert(0, frame),
            Repr::One(first) => {
                let first = std::mem::take(first);
                self.repr = Repr::Many(vec![frame, first]);
            }
        }
    }

    /// Removes and returns the first frame.
    pub fn pop_front(&mut self) -> Option<Bytes> {
        match &mut self.repr {
            Repr::One(frame) => {
                let frame = std::mem::take(frame);
                self.repr = Repr::default();
                Some(frame)
            }
            Repr::Many(frames) if frames.is_empty() => None,
            Repr::Many(frames) => Some(frames.remove(0)),
        }
    }

    /// The peer a received message came from, as its PLAIN or CURVE
    /// handshake proved it: the user id the authenticator gave it, a CURVE
    /// client's key, and its metadata (libzmq's `zmq_msg_gets`). `None` on
    /// messages built locally and on NULL connections, where nothing was
    /// proved (and the hot path stays free of the reference count).
    pub fn peer(&self) -> Option<&PeerInfo> {
        self.peer.as_deref()
    }

    /// Attaches the peer a message came from.
    pub fn set_peer(&mut self, peer: Option<Arc<PeerInfo>>) {
        self.peer = peer;
    }

    /// The frames as a vector.
    pub fn into_frames(self) -> Vec<Bytes> {
        match self.repr {
            Repr::One(frame) => vec![frame],
            Repr::Many(frames) => frames,
        }
    }
}

/// Messages are equal when their frames are: where they came from does not
/// matter.
impl PartialEq for Message {
    fn eq(&self, other: &Message) -> bool {
        self.frames() == other.frames()
    }
}

impl Eq for Message {}

impl std::hash::Hash for Message {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.frames().hash(state);
    }
}

impl From<Bytes> for Message {
    fn from(frame: Bytes) -> Message {
        Message {
            repr: Repr::One(frame),
            peer: None,
        }
    }
}

impl From<&'static str> for Message {
    fn from(frame: &'static str) -> Message {
        Message::from(Bytes::from_static(frame.as_bytes()))
    }
}

impl From<&'static [u8]> for Message {
    fn from(frame: &'static [u8]) -> Message {
        Message::from(Bytes::from_static(frame))
    }
}

impl From<Vec<u8>> for Message {
    fn from(frame: Vec<u8>) -> Message {
        Message::from(Bytes::from(frame))
    }
}

impl<F: Into<Bytes>> FromIterator<F> for Message {
    fn from_iter<I: IntoIterator<Item = F>>(iter: I) -> Message {
        let mut msg = Message::new();
        for frame in iter {
            msg.push(frame);
        }
        msg
    }
}

impl From<Vec<Bytes>> for Message {
    fn from(frames: Vec<Bytes>) -> Message {
        Message {
            repr: Repr::Many(frames),
            peer: None,
        }
        .normalized()
    }
}

impl Message {
    fn normalized(mut self) -> Message {
        if let Repr::Many(frames) = &mut self.repr {
            if frames.len() == 1 {
                let frame = frames.pop().unwrap_or_default();
                self.repr = Repr::One(frame);
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_pop_keep_order() {
        let mut m = Message::new();
        assert!(m.is_empty());
        m.push("b");
        assert_eq!(m.frames(), [Bytes::from("b")]);
        m.push("c");
        m.push_front("a");
        assert_eq!(m.len(), 3);
        assert_eq!(m.byte_len(), 3);
        assert_eq!(m.pop_front(), Some(Bytes::from("a")));
        assert_eq!(m.pop_front(), Some(Bytes::from("b")));
        assert_eq!(m.pop_front(), Some(Bytes::from("c")));
        assert_eq!(m.pop_front(), None);
        m.push_front("x");
        assert_eq!(m.into_frames(), vec![Bytes::from("x")]);
    }

    #[test]
    fn equal_regardless_of_representation() {
        let a: Message = vec![Bytes::from("x")].into();
        let b = Message::from("x");
        assert_eq!(a, b);
        let c: Message = ["p", "q"].into_iter().collect();
        assert_eq!(c.frames(), [Bytes::from("p"), Bytes::from("q")]);
    }
}
