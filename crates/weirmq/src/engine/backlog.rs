//! What the engine decoded and has not handed on yet: received messages,
//! handed to the peer's lane in batches, and an XPUB subscription note that
//! has to wait behind them. Decoding stops while anything here waits for
//! room, so nothing piles up, and the peer feels the backpressure.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;

use crate::queue::entry::Entry;
use crate::queue::inbound::InLane;
#[cfg(doc)]
use crate::socket::Role;
use crate::socket::{Core, Peer};

/// XPUB: a peer's subscription or cancel that could not be handed on for want
/// of room for the note it may make (see [`Role::peer_subscription`]);
/// reading waits until it can. The role has made the change already
/// ([`Role::peer_asked`]; `changed`: it changed what it keeps).
pub(super) struct Held {
    pub(super) peer: Arc<Peer>,
    pub(super) subscribe: bool,
    pub(super) topic: Bytes,
    pub(super) changed: bool,
}

impl Held {
    /// The octets to wait for.
    fn len(&self) -> usize {
        1 + self.topic.len()
    }

    /// Hands it on: `Err(self)` when there is no room yet.
    fn deliver(self, core: &Core) -> Result<(), Held> {
        match core
            .role
            .peer_subscription(&self.peer, self.subscribe, &self.topic)
        {
            Ok(()) => Ok(()),
            Err(_) => Err(self),
        }
    }
}

/// Messages decoded before they are handed on together, under one lock.
const IN_BATCH: usize = 64;
/// ... or this many payload octets, whichever comes first: the engine's own
/// share of memory beyond the HWM (plus at most one message).
const IN_BATCH_BYTES: usize = 64 * 1024;

/// What the engine decoded and has not handed on yet, in order: data, handed
/// on in batches, then at most one item that has to wait behind it.
#[derive(Default)]
pub(super) struct Backlog {
    pub(super) data: VecDeque<Entry>,
    pub(super) bytes: usize,
    pub(super) held: Option<Held>,
    /// The peer's incoming lane, once its handshake is done.
    pub(super) lane: Option<Arc<InLane>>,
    /// Payload octets of the messages taken in since the engine last told
    /// the budget (they stay counted until they leave the socket).
    pub(super) taken_in: usize,
}

impl Backlog {
    pub(super) fn is_empty(&self) -> bool {
        self.data.is_empty() && self.held.is_none()
    }

    pub(super) fn push(&mut self, entry: Entry) {
        self.bytes += entry.byte_len();
        self.data.push_back(entry);
    }

    /// Takes in a received message (a SUB's only if it matches one of our
    /// subscriptions), handing the batch on once it is full; false when
    /// the incoming queue had no room for all of it: decoding stops.
    pub(super) fn take_in(
        &mut self,
        core: &Core,
        subscriber: bool,
        entry: Entry,
        closing: &mut bool,
    ) -> bool {
        if subscriber && !core.role.keeps(entry.first_frame()) {
            return true;
        }
        let len = entry.byte_len();
        self.data.push_back(entry);
        self.taken(core, len, closing)
    }

    /// [`Backlog::take_in`] for a small single-frame message's `body`,
    /// copied straight into its slot here (the common case: an entry
    /// built first would be moved through every call on the way).
    pub(super) fn take_small(
        &mut self,
        core: &Core,
        subscriber: bool,
        body: &[u8],
        closing: &mut bool,
    ) -> bool {
        if subscriber && !core.role.keeps(body) {
            return true;
        }
        self.data.push_back(Entry::inline(body));
        self.taken(core, body.len(), closing)
    }

    /// Counts a message of `len` payload octets just taken in, and hands
    /// the batch on once it is full.
    #[inline]
    fn taken(&mut self, core: &Core, len: usize, closing: &mut bool) -> bool {
        self.taken_in += len;
        self.bytes += len;
        !self.is_full() || self.deliver(core, closing)
    }

    /// Enough for one hand-on.
    #[inline]
    fn is_full(&self) -> bool {
        self.data.len() >= IN_BATCH || self.bytes >= IN_BATCH_BYTES
    }

    /// Waits until the first waiting item may have room: data in the peer's
    /// lane, a subscription note in the socket's lane of notes.
    pub(super) async fn writable(&self, core: &Core) {
        match (&self.lane, self.data.front(), &self.held) {
            (Some(lane), Some(entry), _) => lane.writable(entry.byte_len()).await,
            (_, None, Some(note)) => core.role.note_room(note.len()).await,
            _ => {}
        }
    }

    /// A subscription note: handed on after the data before it, or held;
    /// whether it went.
    pub(super) fn note(&mut self, core: &Core, note: Held, closing: &mut bool) -> bool {
        if self.deliver(core, closing) {
            hand_on(core, note, &mut self.held)
        } else {
            if !*closing {
                self.held = Some(note);
            }
            false
        }
    }

    /// Hands on, in order, what the incoming queue has room for; whether
    /// everything went.
    pub(super) fn deliver(&mut self, core: &Core, closing: &mut bool) -> bool {
        if !self.data.is_empty() {
            let Some(lane) = &self.lane else {
                unreachable!("messages come after the handshake, which opens the lane");
            };
            match lane.try_push_batch(&mut self.data, self.bytes) {
                Ok(bytes) => self.bytes -= bytes,
                Err(()) => {
                    *closing = true;
                    return false;
                }
            }
            if !self.data.is_empty() {
                return false;
            }
        }
        match self.held.take() {
            Some(item) => hand_on(core, item, &mut self.held),
            None => true,
        }
    }
}

/// Hands `item` on, or keeps it in `held`; whether it went.
fn hand_on(core: &Core, item: Held, held: &mut Option<Held>) -> bool {
    match item.deliver(core) {
        Ok(()) => true,
        Err(back) => {
            *held = Some(back);
            false
        }
    }
}
