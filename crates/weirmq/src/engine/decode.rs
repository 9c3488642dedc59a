//! Decoding: the one step that turns the octets read into what they mean
//! and hands each on, whoever has read them: the engine, or a REQ's or
//! REP's own task reading through its connection. Each says what becomes
//! of what comes out (a [`Sink`]); the loop is the same for both.

use std::time::Instant;

use weirmq_zmtp::{Connection, Event, Message};

use super::End;
use crate::queue::entry::INLINE_MAX;

/// Where what is decoded goes.
pub(super) trait Sink {
    /// Whether small single-frame messages may be read where they lie in
    /// the input buffer ([`Sink::small`]); not for a socket that puts a
    /// routing id in front.
    fn copies_small(&self) -> bool;

    /// A message received. `Ok(false)`: decode no more for now.
    fn message(&mut self, msg: Message) -> Result<bool, End>;

    /// A small single-frame message's body, where it lies in the input
    /// buffer (asked only of a sink that [`Sink::copies_small`]), to be
    /// copied straight to where it is kept. `Ok(false)`: decode no more.
    fn small(&mut self, body: &[u8]) -> Result<bool, End> {
        self.message(Message::from(bytes::Bytes::copy_from_slice(body)))
    }

    /// Anything else: the handshake done, a subscription, a question for
    /// the authenticator (the connection is at hand, for the answer).
    /// `Ok(false)`: decode no more for now.
    fn event(&mut self, conn: &mut Connection, event: Event) -> Result<bool, End>;
}

/// Why decoding stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Decoded {
    /// Every complete frame read so far is decoded: the next read may come
    /// (it may be the end of the stream).
    All,
    /// The sink wanted no more (no room for what it was handed).
    Stopped,
}

/// Decodes what `conn` has read into `sink`, until it has no complete
/// frame left or the sink wants no more.
pub(super) fn decode(
    conn: &mut Connection,
    now: Instant,
    sink: &mut impl Sink,
) -> Result<Decoded, End> {
    loop {
        // The common case first: a small message, copied straight out of
        // the input buffer.
        if sink.copies_small() {
            if let Some(go_on) = conn.poll_small_message(INLINE_MAX, |body| sink.small(body)) {
                if !go_on? {
                    return Ok(Decoded::Stopped);
                }
                continue;
            }
        }
        let go_on = match conn.poll_event(now) {
            Ok(None) => return Ok(Decoded::All),
            Ok(Some(Event::Message(msg))) => sink.message(msg)?,
            Ok(Some(event)) => sink.event(conn, event)?,
            Err(e) => return Err(End::Protocol(e)),
        };
        if !go_on {
            return Ok(Decoded::Stopped);
        }
    }
}
