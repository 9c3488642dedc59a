//! XPUB's manual mode (libzmq's ZMQ_XPUB_MANUAL), sans-IO: what each peer
//! asked for (which its SUBSCRIBE and CANCEL change, while its filter is
//! the application's to set), the peer of each note still queued for the
//! application, and the peer of the last note the application took: the
//! one [`XPub::subscribe`](crate::XPub::subscribe) applies to.

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;

use super::subscriptions::{Subscriptions, TooMany};

/// Manual mode's state; peers are known by routing id.
#[derive(Debug, Default)]
pub(crate) struct Manual {
    /// What each peer asked for, as a set (its departure cancels each).
    asked: HashMap<Bytes, Subscriptions>,
    /// The peer of each note queued, oldest first; `None` for the cancels
    /// of a peer that left (libzmq's NULL pipe).
    queued: VecDeque<Option<Bytes>>,
    /// The peer of the last note handed out.
    last: Option<Bytes>,
}

impl Manual {
    /// `peer` asked for `topic` (or to cancel it): recorded as a set, so
    /// that its departure cancels each topic once; whether that changed.
    pub(crate) fn ask(
        &mut self,
        peer: &Bytes,
        subscribe: bool,
        topic: &Bytes,
    ) -> Result<bool, TooMany> {
        if !subscribe && !self.asked.contains_key(peer) {
            return Ok(false);
        }
        let set = self.asked.entry(peer.clone()).or_default();
        set.ask(subscribe, topic)
    }

    /// A note from `peer` (`None`: a departed peer's cancel) was queued for
    /// the application, behind the others.
    pub(crate) fn queued(&mut self, peer: Option<Bytes>) {
        self.queued.push_back(peer);
    }

    /// The application took the oldest note queued: its peer is now the
    /// last one (none, for a departed peer's cancel).
    pub(crate) fn handed_out(&mut self) {
        if let Some(peer) = self.queued.pop_front() {
            self.last = peer;
        }
    }

    /// The peer of the last note handed out, if that was a connected
    /// peer's.
    pub(crate) fn last(&self) -> Option<&Bytes> {
        self.last.as_ref()
    }

    /// `peer` left: what it had asked for, each to be cancelled.
    pub(crate) fn gone(&mut self, peer: &Bytes) -> Subscriptions {
        self.asked.remove(peer).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &'static str) -> Bytes {
        Bytes::from_static(s.as_bytes())
    }

    #[test]
    fn the_last_peer_is_the_one_of_the_last_note_handed_out() {
        let mut m = Manual::default();
        assert_eq!(m.last(), None, "no note yet");
        m.queued(Some(b("p1")));
        m.queued(Some(b("p2")));
        assert_eq!(m.last(), None, "queued, not handed out");
        m.handed_out();
        assert_eq!(m.last(), Some(&b("p1")));
        m.handed_out();
        assert_eq!(m.last(), Some(&b("p2")));
        m.handed_out();
        assert_eq!(m.last(), Some(&b("p2")), "no note: unchanged");
        m.queued(None);
        m.handed_out();
        assert_eq!(m.last(), None, "a departed peer's cancel has no peer");
    }

    #[test]
    fn what_a_peer_asked_for_is_a_set_cancelled_when_it_goes() {
        let mut m = Manual::default();
        let (p, t) = (b("p"), b("t"));
        assert_eq!(m.ask(&p, false, &t), Ok(false), "nothing to cancel");
        assert_eq!(m.ask(&p, true, &t), Ok(true));
        assert_eq!(m.ask(&p, true, &t), Ok(false), "a repeat");
        assert_eq!(m.ask(&p, true, &b("u")), Ok(true));
        assert_eq!(m.ask(&p, false, &b("u")), Ok(true));
        let gone = m.gone(&p);
        assert_eq!(gone.each().collect::<Vec<_>>(), [&t]);
        assert_eq!(m.gone(&p).each().count(), 0, "forgotten");
    }
}
