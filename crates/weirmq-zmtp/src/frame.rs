//! Frames: the flags octet, a 1- or 8-octet size, the body (RFC 23 and 37).
//!
//! ```text
//! frame = (command / message)
//! command-size = %x04 short-size / %x06 long-size
//! message-more = (%x01 short-size / %x03 long-size) message-body
//! message-last = (%x00 short-size / %x02 long-size) message-body
//! short-size = OCTET; long-size = 8OCTET ; network byte order
//! ```

use std::mem;

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::error::{ConfigError, MalformedError};

/// Flags bit 0: more frames of this message follow.
pub const FLAG_MORE: u8 = 0x01;
/// Flags bit 1: the size is 8 octets.
pub const FLAG_LONG: u8 = 0x02;
/// Flags bit 2: a command frame.
pub const FLAG_COMMAND: u8 = 0x04;

/// Largest header: flags + 8-octet size.
pub const MAX_HEADER_LEN: usize = 9;

/// One frame off the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// More frames of the same message follow (never set on commands).
    pub more: bool,
    /// A command frame rather than message data.
    pub command: bool,
    /// The body, shared with the receive buffer: no copy.
    pub body: Bytes,
}

/// Limits on what a peer may make us buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    max_message_size: u64,
    max_frames: usize,
    max_command_size: u64,
}

impl Default for Limits {
    /// 64 MiB messages of up to 4096 frames, 64 KiB commands.
    fn default() -> Self {
        Limits {
            max_message_size: 64 << 20,
            max_frames: 4096,
            max_command_size: 64 << 10,
        }
    }
}

impl Limits {
    /// Limits with the given maxima; each must be non-zero (there is no
    /// "unlimited": a peer could then make us buffer anything).
    pub fn new(
        max_message_size: u64,
        max_frames: usize,
        max_command_size: u64,
    ) -> Result<Limits, ConfigError> {
        if max_message_size == 0 {
            return Err(ConfigError::ZeroLimit("max message size"));
        }
        if max_frames == 0 {
            return Err(ConfigError::ZeroLimit("max frames per message"));
        }
        if max_command_size == 0 {
            return Err(ConfigError::ZeroLimit("max command size"));
        }
        Ok(Limits {
            max_message_size,
            max_frames,
            max_command_size,
        })
    }

    /// Most payload octets, summed over its frames, in one incoming message.
    pub fn max_message_size(&self) -> u64 {
        self.max_message_size
    }

    /// Most frames in one incoming message.
    pub fn max_frames(&self) -> usize {
        self.max_frames
    }

    /// Largest incoming command body.
    pub fn max_command_size(&self) -> u64 {
        self.max_command_size
    }
}

/// Splits a byte stream into frames, enforcing [`Limits`] on each header
/// before a single body octet is buffered for it.
///
/// Follows tokio-util's decoder contract: `Ok(None)` means more bytes are
/// needed, `Err` means the stream is corrupt and must be closed.
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    limits: Limits,
    /// Payload octets of the frames of the current message seen so far.
    message_size: u64,
    /// Frames of the current message seen so far.
    message_frames: usize,
    /// Set once every frame on the wire is an envelope (a CURVE MESSAGE)
    /// that adds this many octets to the frame it carries. The message
    /// limits then apply to the carried frames: each envelope is checked on
    /// its header against what its content may still add, and the carried
    /// frame is counted by [`FrameDecoder::account_sealed`] once opened.
    sealed_overhead: Option<u64>,
    /// The largest frame so far of the message being received, and of the
    /// one before it (see [`FrameDecoder::recent_frame_len`]).
    current_largest: usize,
    previous_largest: usize,
}

impl FrameDecoder {
    /// A decoder at a message boundary.
    pub fn new(limits: Limits) -> FrameDecoder {
        FrameDecoder {
            limits,
            message_size: 0,
            message_frames: 0,
            sealed_overhead: None,
            current_largest: 0,
            previous_largest: 0,
        }
    }

    /// From now on, frames are envelopes adding `overhead` octets each.
    pub(crate) fn seal(&mut self, overhead: u64) {
        self.sealed_overhead = Some(overhead);
    }

    /// Counts a frame taken out of an envelope against the message limits
    /// (after [`FrameDecoder::seal`]; without it, frames are counted as they
    /// are decoded and this does nothing).
    pub(crate) fn account_sealed(&mut self, frame: &Frame) {
        if self.sealed_overhead.is_some() && !frame.command {
            self.account(frame.more, frame.body.len() as u64);
        }
    }

    fn account(&mut self, more: bool, size: u64) {
        if more {
            self.message_size += size;
            self.message_frames += 1;
        } else {
            self.message_size = 0;
            self.message_frames = 0;
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Takes the next frame off the front of `src`, if it is all there.
    ///
    /// Nothing is reserved for a body the header merely announces: the buffer
    /// only grows by what actually arrives, so a peer that claims a huge frame
    /// costs us nothing until it sends the octets (and is refused at once if
    /// the claim is over the limit).
    pub fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, MalformedError> {
        Ok(self.decode_mut(src)?.map(|(more, command, body)| Frame {
            more,
            command,
            body: body.freeze(),
        }))
    }

    /// [`FrameDecoder::decode`], with the body still mutable (it is split
    /// off the buffer, so nothing else sees it): CURVE decrypts it in place.
    pub(crate) fn decode_mut(
        &mut self,
        src: &mut BytesMut,
    ) -> Result<Option<(bool, bool, BytesMut)>, MalformedError> {
        let Some(Header {
            flags,
            len: header_len,
            size,
        }) = Header::peek(src)
        else {
            return Ok(None);
        };
        // RFC 37: "Bits 7-3 are reserved ... and MUST be zero". libzmq ignores
        // them, so a peer that sets them still interoperates: ignore them too.
        let more = flags & FLAG_MORE != 0;
        let command = flags & FLAG_COMMAND != 0;

        // RFC 37: "This bit [MORE] SHALL be zero on command frames."
        if command && more {
            return Err(MalformedError::CommandWithMore);
        }
        if command && self.sealed_overhead.is_none() {
            if size > self.limits.max_command_size {
                return Err(MalformedError::CommandTooLarge {
                    size,
                    limit: self.limits.max_command_size,
                });
            }
            // libzmq can slip a PING between two frames of a multipart message
            // (its heartbeat timer swaps the next-message hook mid-message), so
            // a command does not end or reset the message being assembled.
        } else {
            // An envelope may carry a frame of the current message (or a
            // command, smaller than the limit allows anyway): it counts for
            // what it carries.
            let payload = size.saturating_sub(self.sealed_overhead.unwrap_or(0));
            // Checked before any allocation: the size field may be up to
            // 2^64-1 (libzmq CVE-2019-6250 overflowed on exactly this).
            let total = self.message_size.saturating_add(payload);
            if total > self.limits.max_message_size {
                return Err(MalformedError::MessageTooLarge {
                    size: total,
                    limit: self.limits.max_message_size,
                });
            }
            if self.message_frames >= self.limits.max_frames {
                return Err(MalformedError::TooManyFrames {
                    limit: self.limits.max_frames,
                });
            }
        }
        // Within a u64 limit but maybe not a usize on a 32-bit target.
        let Ok(body_len) = usize::try_from(size) else {
            return Err(MalformedError::MessageTooLarge {
                size,
                limit: usize::MAX as u64,
            });
        };
        if src.len() - header_len < body_len {
            return Ok(None);
        }
        src.advance(header_len);
        let body = src.split_to(body_len);
        if !command && self.sealed_overhead.is_none() {
            self.account(more, size);
        }
        self.current_largest = self.current_largest.max(header_len + body_len);
        if !more {
            self.previous_largest = mem::take(&mut self.current_largest);
        }
        Ok(Some((more, command, body)))
    }

    /// [`FrameDecoder::decode`] for the common case of a complete message of
    /// one short frame with a body of at most `max` octets, at a message
    /// boundary, on clear frames: `f` reads the body where it lies, and the
    /// frame leaves `src` without a [`Bytes`] being made of it. `None`, with
    /// nothing taken, for anything else (including a frame over a limit,
    /// which `decode` then refuses).
    #[inline]
    pub(crate) fn take_small<T>(
        &mut self,
        src: &mut BytesMut,
        max: usize,
        f: impl FnOnce(&[u8]) -> T,
    ) -> Option<T> {
        let at_boundary = self.message_frames == 0 && self.message_size == 0;
        if self.sealed_overhead.is_some() || !at_boundary {
            return None;
        }
        // Flags zero: the last frame, short, not a command, no reserved bit.
        let (&[0, size], rest) = src.split_first_chunk::<2>()? else {
            return None;
        };
        let size = usize::from(size);
        if size > max || size as u64 > self.limits.max_message_size || rest.len() < size {
            return None;
        }
        let t = f(&rest[..size]);
        src.advance(2 + size);
        self.previous_largest = self.current_largest.max(2 + size);
        self.current_largest = 0;
        Some(t)
    }

    /// The largest frame on the wire (header and body octets) of the message
    /// being received and of the one before it: what the next frames are
    /// likely to be like, to size the next read (`input.rs`). Counting the
    /// message before keeps a routing id in front of a large body from
    /// looking like a change to small frames.
    pub(crate) fn recent_frame_len(&self) -> usize {
        self.current_largest.max(self.previous_largest)
    }
}

/// A frame header as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    /// The flags octet.
    pub(crate) flags: u8,
    /// Octets of the header: 2 or [`MAX_HEADER_LEN`].
    pub(crate) len: usize,
    /// The body size the header announces (not checked against any limit).
    pub(crate) size: u64,
}

impl Header {
    /// The header at the front of `src`, if it is all there.
    pub(crate) fn peek(src: &[u8]) -> Option<Header> {
        let &flags = src.first()?;
        if flags & FLAG_LONG != 0 {
            let mut be = [0u8; 8];
            be.copy_from_slice(src.get(1..MAX_HEADER_LEN)?);
            Some(Header {
                flags,
                len: MAX_HEADER_LEN,
                size: u64::from_be_bytes(be),
            })
        } else {
            Some(Header {
                flags,
                len: 2,
                size: u64::from(*src.get(1)?),
            })
        }
    }

    /// Header and body octets, saturating where a claim exceeds memory.
    pub(crate) fn frame_len(&self) -> usize {
        usize::try_from(self.size)
            .ok()
            .and_then(|size| size.checked_add(self.len))
            .unwrap_or(usize::MAX)
    }
}

/// Writes a frame header for a body of `len` octets: short when it fits in
/// one octet, long otherwise.
pub fn encode_header(dst: &mut BytesMut, more: bool, command: bool, len: usize) {
    let mut flags = 0;
    if more {
        flags |= FLAG_MORE;
    }
    if command {
        flags |= FLAG_COMMAND;
    }
    if let Ok(short) = u8::try_from(len) {
        dst.put_u8(flags);
        dst.put_u8(short);
    } else {
        dst.put_u8(flags | FLAG_LONG);
        dst.put_u64(len as u64);
    }
}

/// Writes a whole frame (header and a copy of the body).
pub fn encode_frame(dst: &mut BytesMut, more: bool, command: bool, body: &[u8]) {
    encode_header(dst, more, command, body.len());
    dst.extend_from_slice(body);
}

/// The length of a frame with a body of `len` octets.
pub const fn encoded_len(len: usize) -> usize {
    if len <= u8::MAX as usize {
        2 + len
    } else {
        MAX_HEADER_LEN + len
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hex_literal::hex;
    use proptest::prelude::*;

    fn decoder() -> FrameDecoder {
        FrameDecoder::new(Limits::default())
    }

    #[test]
    fn decodes_short_and_long_frames() {
        let mut buf = BytesMut::from(&hex!("01 03 616263  02 0000000000000001 7a  04 00")[..]);
        let mut d = decoder();
        assert_eq!(
            d.decode(&mut buf).unwrap(),
            Some(Frame {
                more: true,
                command: false,
                body: Bytes::from("abc")
            })
        );
        assert_eq!(
            d.decode(&mut buf).unwrap(),
            Some(Frame {
                more: false,
                command: false,
                body: Bytes::from("z")
            })
        );
        assert_eq!(
            d.decode(&mut buf).unwrap(),
            Some(Frame {
                more: false,
                command: true,
                body: Bytes::new()
            })
        );
        assert_eq!(d.decode(&mut buf).unwrap(), None);
        assert!(buf.is_empty());
    }

    #[test]
    fn short_long_boundary_at_255_and_256() {
        for len in [0usize, 1, 254, 255, 256, 257, 65_536] {
            let body = vec![0xA5; len];
            let mut buf = BytesMut::new();
            encode_frame(&mut buf, false, false, &body);
            assert_eq!(buf.len(), encoded_len(len));
            assert_eq!(buf[0] & FLAG_LONG != 0, len > 255, "len {len}");
            let frame = decoder().decode(&mut buf).unwrap().unwrap();
            assert_eq!(frame.body, body);
        }
    }

    #[test]
    fn body_is_not_copied() {
        let mut buf = BytesMut::from(&hex!("00 04 74657374")[..]);
        let base = buf.as_ptr() as usize;
        let frame = decoder().decode(&mut buf).unwrap().unwrap();
        assert_eq!(
            frame.body.as_ptr() as usize,
            base + 2,
            "body must point into the input"
        );
    }

    #[test]
    fn partial_input_needs_more() {
        let whole = hex!("02 0000000000000003 616263");
        for cut in 0..whole.len() {
            let mut buf = BytesMut::from(&whole[..cut]);
            assert_eq!(decoder().decode(&mut buf).unwrap(), None, "cut {cut}");
            assert_eq!(buf.len(), cut, "nothing consumed before a whole frame");
        }
    }

    #[test]
    fn accepts_reserved_flag_bits_as_libzmq_does() {
        let mut buf = BytesMut::from(&hex!("f0 01 41")[..]);
        let frame = decoder().decode(&mut buf).unwrap().unwrap();
        assert_eq!(
            frame,
            Frame {
                more: false,
                command: false,
                body: Bytes::from("A")
            }
        );
    }

    #[test]
    fn rejects_command_with_more() {
        let mut buf = BytesMut::from(&hex!("05 00")[..]);
        assert_eq!(
            decoder().decode(&mut buf),
            Err(MalformedError::CommandWithMore)
        );
    }

    #[test]
    fn rejects_size_past_the_limit_from_the_header_alone() {
        let limits = Limits::new(1000, 16, 100).unwrap();
        // Only the header has arrived: the error must not wait for the body.
        let mut buf = BytesMut::from(&hex!("02 00000000000003e9")[..]);
        assert_eq!(
            FrameDecoder::new(limits).decode(&mut buf),
            Err(MalformedError::MessageTooLarge {
                size: 1001,
                limit: 1000
            })
        );
        let mut buf = BytesMut::from(&hex!("06 0000000000000065")[..]);
        assert_eq!(
            FrameDecoder::new(limits).decode(&mut buf),
            Err(MalformedError::CommandTooLarge {
                size: 101,
                limit: 100
            })
        );
    }

    #[test]
    fn rejects_size_of_u64_max_without_overflow() {
        let mut buf = BytesMut::from(&hex!("03 ffffffffffffffff")[..]);
        let mut d = decoder();
        assert!(matches!(
            d.decode(&mut buf),
            Err(MalformedError::MessageTooLarge { .. })
        ));
        // The same after earlier frames of the message: the sum must not wrap.
        let mut d = decoder();
        let mut buf = BytesMut::from(&hex!("01 01 41 02 ffffffffffffffff")[..]);
        d.decode(&mut buf).unwrap().unwrap();
        assert!(matches!(
            d.decode(&mut buf),
            Err(MalformedError::MessageTooLarge { .. })
        ));
    }

    #[test]
    fn rejects_message_whose_frames_add_up_past_the_limit() {
        let limits = Limits::new(10, 100, 100).unwrap();
        let mut d = FrameDecoder::new(limits);
        let mut buf = BytesMut::from(&hex!("01 06 414141414141 00 05")[..]);
        d.decode(&mut buf).unwrap().unwrap();
        assert_eq!(
            d.decode(&mut buf),
            Err(MalformedError::MessageTooLarge {
                size: 11,
                limit: 10
            })
        );
        // A new message starts from zero.
        let mut d = FrameDecoder::new(limits);
        let mut buf = BytesMut::from(&hex!("00 06 414141414141 00 06 424242424242")[..]);
        d.decode(&mut buf).unwrap().unwrap();
        d.decode(&mut buf).unwrap().unwrap();
    }

    #[test]
    fn rejects_too_many_frames() {
        let limits = Limits::new(1000, 3, 100).unwrap();
        let mut d = FrameDecoder::new(limits);
        let mut buf = BytesMut::from(&hex!("0100 0100 0100 0000")[..]);
        for _ in 0..3 {
            d.decode(&mut buf).unwrap().unwrap();
        }
        assert_eq!(
            d.decode(&mut buf),
            Err(MalformedError::TooManyFrames { limit: 3 })
        );
    }

    #[test]
    fn command_between_frames_keeps_the_message_count() {
        let limits = Limits::new(1000, 2, 100).unwrap();
        let mut d = FrameDecoder::new(limits);
        let mut buf = BytesMut::from(&hex!("0100 0400 0100")[..]);
        d.decode(&mut buf).unwrap().unwrap();
        assert!(d.decode(&mut buf).unwrap().unwrap().command);
        d.decode(&mut buf).unwrap().unwrap();
        let mut more = BytesMut::from(&hex!("0000")[..]);
        assert_eq!(
            d.decode(&mut more),
            Err(MalformedError::TooManyFrames { limit: 2 })
        );
    }

    #[test]
    fn header_peek_needs_the_whole_header() {
        for cut in [&[][..], &hex!("00"), &hex!("02 00000000000001")] {
            assert_eq!(Header::peek(cut), None, "{cut:?}");
        }
        let short = Header::peek(&hex!("01 05 41")).unwrap();
        assert_eq!((short.flags, short.len, short.size), (0x01, 2, 5));
        assert_eq!(short.frame_len(), 7);
        let long = Header::peek(&hex!("06 0000000000010000")).unwrap();
        assert_eq!((long.flags, long.len, long.size), (0x06, 9, 65_536));
        assert_eq!(long.frame_len(), 65_545);
        let claim = Header::peek(&hex!("02 ffffffffffffffff")).unwrap();
        assert_eq!(claim.frame_len(), usize::MAX, "saturates");
    }

    #[test]
    fn recent_frame_len_spans_this_message_and_the_last() {
        let mut d = decoder();
        let mut buf = BytesMut::new();
        encode_frame(&mut buf, false, false, &[0; 300]);
        encode_frame(&mut buf, true, false, b"id");
        encode_frame(&mut buf, false, false, b"x");
        encode_frame(&mut buf, false, false, b"y");
        let mut seen = Vec::new();
        while d.decode(&mut buf).unwrap().is_some() {
            seen.push(d.recent_frame_len());
        }
        // 309 lasts through the next message's routing id, not past it.
        assert_eq!(seen, [309, 309, 4, 3]);
    }

    #[test]
    fn zero_limits_are_config_errors() {
        assert!(Limits::new(0, 1, 1).is_err());
        assert!(Limits::new(1, 0, 1).is_err());
        assert!(Limits::new(1, 1, 0).is_err());
    }

    proptest! {
        #[test]
        fn round_trip(frames in prop::collection::vec(
            (any::<bool>(), any::<bool>(), prop::collection::vec(any::<u8>(), 0..700)), 0..8)
        ) {
            let mut buf = BytesMut::new();
            for (more, command, body) in &frames {
                encode_frame(&mut buf, *more && !*command, *command, body);
            }
            let limits = Limits::new(1 << 20, 64, 1 << 20).unwrap();
            let mut d = FrameDecoder::new(limits);
            for (more, command, body) in &frames {
                let f = d.decode(&mut buf).unwrap().unwrap();
                prop_assert_eq!(f.more, *more && !*command);
                prop_assert_eq!(f.command, *command);
                prop_assert_eq!(&f.body[..], &body[..]);
            }
            prop_assert!(buf.is_empty());
        }
    }
}
