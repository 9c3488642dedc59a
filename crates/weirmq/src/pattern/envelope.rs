//! REQ and REP (RFC 28): their turn-taking and envelopes, as state
//! machines. A REQ sends a request behind an empty delimiter frame and
//! then takes only the reply from the peer it asked; a REP takes a request,
//! keeps its envelope (the routing frames up to the delimiter) and puts it
//! back on the reply, which goes to the peer that asked.

use bytes::Bytes;
use weirmq_zmtp::Message;

/// A REQ's state: the peer whose reply it awaits, and, with libzmq's
/// REQ_CORRELATE, the id of the last request.
#[derive(Debug, Default)]
pub(crate) struct Requester {
    awaiting: Option<Bytes>,
    /// REQ_RELAXED: a new request may go before the reply to the last one
    /// (which is then never taken).
    relaxed: bool,
    /// REQ_CORRELATE: the id the next request is sent with, one more than
    /// the last (`None`: off).
    request_id: Option<u32>,
}

/// The operation is out of turn: why.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct OutOfTurn(pub(crate) &'static str);

/// A request out of turn: why, and the message back.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Refused(pub(crate) &'static str, pub(crate) Message);

impl Requester {
    /// A REQ's state with libzmq's REQ_RELAXED (`relaxed`) and
    /// REQ_CORRELATE (`correlate`: the first request id is `first_id`; libzmq
    /// starts from a random one).
    pub(crate) fn new(relaxed: bool, correlate: bool, first_id: u32) -> Requester {
        Requester {
            awaiting: None,
            relaxed,
            request_id: correlate.then_some(first_id),
        }
    }

    /// The request to send for `msg`: the delimiter goes in front, and with
    /// REQ_CORRELATE the request id before it, four octets in libzmq's
    /// order (its `uint32_t` as it lies in memory: little-endian on every
    /// platform it is built for here). Refused while the last request's
    /// reply has not been received, unless relaxed.
    pub(crate) fn request(&self, mut msg: Message) -> Result<Message, Refused> {
        if self.awaiting.is_some() && !self.relaxed {
            return Err(Refused("REQ: receive the reply before sending again", msg));
        }
        msg.push_front(Bytes::new());
        if let Some(id) = self.request_id {
            msg.push_front(Bytes::copy_from_slice(&id.to_le_bytes()));
        }
        Ok(msg)
    }

    /// The request went to the peer with routing id `to`: its reply is the
    /// only one taken now, and the next request gets the next id.
    pub(crate) fn sent(&mut self, to: Bytes) {
        self.awaiting = Some(to);
        if let Some(id) = &mut self.request_id {
            *id = id.wrapping_add(1);
        }
    }

    /// Whether a request awaits its reply.
    pub(crate) fn check_awaiting(&self) -> Result<(), OutOfTurn> {
        match self.awaiting {
            Some(_) => Ok(()),
            None => Err(OutOfTurn("REQ: send a request before receiving")),
        }
    }

    /// A message received, with its sender's routing id in front: the
    /// reply, if it is one (from the peer asked, with the last request's
    /// id under REQ_CORRELATE, the delimiter and a body), and the turn
    /// passes back; anything else is discarded, as libzmq does.
    pub(crate) fn reply(&mut self, mut msg: Message) -> Option<Message> {
        let from = msg.pop_front();
        if from.is_none() || from != self.awaiting {
            return None;
        }
        if let Some(next) = self.request_id {
            let last = next.wrapping_sub(1).to_le_bytes();
            if msg.pop_front().is_none_or(|id| id[..] != last) {
                return None;
            }
        }
        if msg.pop_front().is_some_and(|d| d.is_empty()) && !msg.is_empty() {
            self.awaiting = None;
            return Some(msg);
        }
        None
    }
}

/// A REP's state: where the reply goes, the peer and the envelope of the
/// request.
#[derive(Debug, Default)]
pub(crate) struct Replier {
    pending: Option<(Bytes, Vec<Bytes>)>,
}

impl Replier {
    /// Whether a request may be taken now (its reply is not owed).
    pub(crate) fn check_free(&self) -> Result<(), OutOfTurn> {
        match self.pending {
            Some(_) => Err(OutOfTurn("REP: send the reply before receiving again")),
            None => Ok(()),
        }
    }

    /// A message received, with its sender's routing id in front: its
    /// body, if it is a request (an envelope up to the delimiter, then a
    /// body), whose envelope is kept for the reply; a malformed one is
    /// discarded, as libzmq's REP does.
    pub(crate) fn request(&mut self, mut msg: Message) -> Option<Message> {
        let peer = msg.pop_front()?;
        let mut frames = msg.into_frames().into_iter();
        let mut envelope = Vec::new();
        let mut delimited = false;
        for frame in frames.by_ref() {
            let last = frame.is_empty();
            envelope.push(frame);
            if last {
                delimited = true;
                break;
            }
        }
        let body: Message = frames.collect();
        if !delimited || body.is_empty() {
            return None;
        }
        self.pending = Some((peer, envelope));
        Some(body)
    }

    /// The reply to send for `msg`, and the peer it goes to: the request's
    /// envelope goes in front. Refused before a request is received.
    pub(crate) fn reply(&self, mut msg: Message) -> Result<(Bytes, Message), Refused> {
        let Some((peer, envelope)) = &self.pending else {
            return Err(Refused("REP: receive a request before replying", msg));
        };
        for frame in envelope.iter().rev() {
            msg.push_front(frame.clone());
        }
        Ok((peer.clone(), msg))
    }

    /// The reply went (or cannot go: its peer is gone): the next request
    /// may be taken.
    pub(crate) fn replied(&mut self) {
        self.pending = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(frames: &[&'static str]) -> Message {
        frames
            .iter()
            .map(|f| Bytes::from_static(f.as_bytes()))
            .collect()
    }

    #[test]
    fn a_requester_takes_only_the_reply_of_the_peer_it_asked() {
        let mut req = Requester::default();
        assert!(req.check_awaiting().is_err());
        let out = req.request(msg(&["hi"])).unwrap();
        assert_eq!(out, msg(&["", "hi"]));
        req.sent(Bytes::from_static(b"P"));
        assert!(req.request(msg(&["again"])).is_err(), "one at a time");
        assert_eq!(
            req.reply(msg(&["Q", "", "not for us"])),
            None,
            "another peer"
        );
        assert_eq!(req.reply(msg(&["P", "no delimiter"])), None);
        assert_eq!(req.reply(msg(&["P", ""])), None, "no body");
        assert_eq!(req.reply(msg(&["P", "", "yes"])), Some(msg(&["yes"])));
        assert!(req.check_awaiting().is_err(), "the turn passed back");
        assert!(req.request(msg(&["next"])).is_ok());
    }

    #[test]
    fn relaxed_sends_again_and_takes_only_the_new_peers_reply() {
        let mut req = Requester::new(true, false, 0);
        req.sent(Bytes::from_static(b"P"));
        let again = req.request(msg(&["again"])).unwrap();
        assert_eq!(again, msg(&["", "again"]), "relaxed: no need to wait");
        req.sent(Bytes::from_static(b"Q"));
        assert_eq!(req.reply(msg(&["P", "", "stale"])), None, "the old peer");
        assert_eq!(req.reply(msg(&["Q", "", "new"])), Some(msg(&["new"])));
    }

    #[test]
    fn correlated_requests_carry_an_id_and_only_its_reply_is_taken() {
        let mut req = Requester::new(true, true, 0xFFFF_FFFF);
        let first = req.request(msg(&["one"])).unwrap();
        let first_id = first.frames()[0].clone();
        assert_eq!(first.frames()[1..], msg(&["", "one"]).frames()[..]);
        assert_eq!(&first_id[..], [0xFF; 4], "the id goes before the delimiter");
        req.sent(Bytes::from_static(b"P"));
        let second = req.request(msg(&["two"])).unwrap();
        assert_eq!(&second.frames()[0][..], [0, 0, 0, 0], "the id wraps around");
        req.sent(Bytes::from_static(b"P"));
        let stale: Message = [
            Bytes::from_static(b"P"),
            first_id,
            Bytes::new(),
            "r1".into(),
        ]
        .into_iter()
        .collect();
        assert_eq!(req.reply(stale), None, "the reply to the first request");
        assert_eq!(req.reply(msg(&["P", "", "no id"])), None);
        let right: Message = [
            Bytes::from_static(b"P"),
            Bytes::from_static(&[0, 0, 0, 0]),
            Bytes::new(),
            "r2".into(),
        ]
        .into_iter()
        .collect();
        assert_eq!(req.reply(right), Some(msg(&["r2"])));
    }

    #[test]
    fn a_replier_puts_the_envelope_back_on_the_reply() {
        let mut rep = Replier::default();
        assert!(rep.reply(msg(&["early"])).is_err());
        assert_eq!(rep.request(msg(&["P", "no delimiter"])), None);
        assert_eq!(rep.request(msg(&["P", "hop", ""])), None, "no body");
        let body = rep.request(msg(&["P", "hop", "", "q1", "q2"])).unwrap();
        assert_eq!(body, msg(&["q1", "q2"]));
        assert!(rep.check_free().is_err());
        let (to, reply) = rep.reply(msg(&["a"])).unwrap();
        assert_eq!((&to[..], reply), (&b"P"[..], msg(&["hop", "", "a"])));
        rep.replied();
        assert!(rep.check_free().is_ok());
    }
}
