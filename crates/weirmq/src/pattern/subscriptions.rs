//! Topic subscriptions: prefix matching with counted, non-idempotent
//! entries (RFC 29 and 37: subscribing to "A" twice needs two cancels).

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;

/// Most distinct topics one peer may subscribe to; a peer that asks for
/// more is disconnected (memory a peer makes us hold is always bounded).
pub(crate) const MAX_TOPICS: usize = 10_000;
/// Most octets of distinct topics one peer may make us hold.
pub(crate) const MAX_TOPIC_BYTES: usize = 1 << 20;

/// Matching looks up each prefix of the message whose length is the length
/// of some subscribed topic: the cost per message is bounded by the number
/// of distinct topic lengths (at most about 1,450 under the byte limit), not
/// by the number of topics, and there is no recursion whatever the topic
/// length (libzmq CVE-2021-20236).
#[derive(Debug)]
pub(crate) struct Subscriptions {
    /// Most distinct topics and octets this set accepts.
    max_topics: usize,
    max_bytes: usize,
    /// Topic and how many times it is subscribed.
    counts: HashMap<Bytes, u32>,
    /// Distinct topic length and how many distinct topics have it.
    lengths: BTreeMap<usize, usize>,
    bytes: usize,
}

impl Default for Subscriptions {
    /// The limits for one peer.
    fn default() -> Self {
        Subscriptions {
            max_topics: MAX_TOPICS,
            max_bytes: MAX_TOPIC_BYTES,
            counts: HashMap::new(),
            lengths: BTreeMap::new(),
            bytes: 0,
        }
    }
}

impl Subscriptions {
    /// A set holding the union of every peer's subscriptions (XPUB). Each
    /// peer's part is limited, so its size is bounded by the peers' limits;
    /// it must never refuse what a peer was allowed.
    pub(crate) fn aggregate() -> Subscriptions {
        Subscriptions {
            max_topics: usize::MAX,
            max_bytes: usize::MAX,
            ..Default::default()
        }
    }

    /// Adds one subscription; `false` when the limits refuse it.
    pub(crate) fn add(&mut self, topic: Bytes) -> bool {
        if let Some(n) = self.counts.get_mut(&topic) {
            *n = n.saturating_add(1);
            return true;
        }
        if self.counts.len() >= self.max_topics || self.bytes + topic.len() > self.max_bytes {
            return false;
        }
        self.bytes += topic.len();
        *self.lengths.entry(topic.len()).or_default() += 1;
        self.counts.insert(topic, 1);
        true
    }

    /// Removes one subscription to `topic`; `false` if there was none.
    pub(crate) fn remove(&mut self, topic: &[u8]) -> bool {
        let Some(n) = self.counts.get_mut(topic) else {
            return false;
        };
        *n -= 1;
        if *n == 0 {
            self.counts.remove(topic);
            self.bytes -= topic.len();
            if let Some(k) = self.lengths.get_mut(&topic.len()) {
                *k -= 1;
                if *k == 0 {
                    self.lengths.remove(&topic.len());
                }
            }
        }
        true
    }

    /// A peer's SUBSCRIBE (`subscribe`) or CANCEL of `topic`, as a set, the
    /// way libzmq's PUB keeps each peer's topics: a repeated SUBSCRIBE
    /// changes nothing, and a CANCEL of what was never subscribed is
    /// ignored. Whether the set changed; `Err` when the limits refuse it.
    pub(crate) fn ask(&mut self, subscribe: bool, topic: &Bytes) -> Result<bool, TooMany> {
        if !subscribe {
            return Ok(self.remove(topic));
        }
        if self.count(topic) > 0 {
            return Ok(false);
        }
        if self.add(topic.clone()) {
            Ok(true)
        } else {
            Err(TooMany)
        }
    }

    /// How many times `topic` is subscribed.
    pub(crate) fn count(&self, topic: &[u8]) -> u32 {
        self.counts.get(topic).copied().unwrap_or(0)
    }

    /// Whether some subscription is a prefix of `data`.
    pub(crate) fn matches(&self, data: &[u8]) -> bool {
        self.lengths
            .range(..=data.len())
            .any(|(&len, _)| self.counts.contains_key(&data[..len]))
    }

    /// Every distinct topic, once.
    pub(crate) fn distinct(&self) -> impl Iterator<Item = &Bytes> {
        self.counts.keys()
    }

    /// Every subscription, repeated as many times as it was made.
    pub(crate) fn each(&self) -> impl Iterator<Item = &Bytes> {
        self.counts
            .iter()
            .flat_map(|(t, n)| std::iter::repeat_n(t, *n as usize))
    }
}

/// A peer asked for more topics (or octets of them) than one peer may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooMany;

/// Which peers a distributed message goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Filter {
    /// Every peer (XSUB upstream).
    All,
    /// Those subscribed to a prefix of its first frame (PUB, XPUB).
    Subscribed,
    /// Those subscribed to no prefix of it (libzmq's ZMQ_INVERT_MATCHING).
    NotSubscribed,
}

impl Filter {
    /// The filter of a PUB or XPUB, inverted or not.
    pub(crate) fn publisher(invert: bool) -> Filter {
        if invert {
            Filter::NotSubscribed
        } else {
            Filter::Subscribed
        }
    }

    /// Whether a peer with `subscriptions` gets a message whose first frame
    /// is `topic`.
    pub(crate) fn wants(self, subscriptions: &Subscriptions, topic: &[u8]) -> bool {
        match self {
            Filter::All => true,
            Filter::Subscribed => subscriptions.matches(topic),
            Filter::NotSubscribed => !subscriptions.matches(topic),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_matching_and_counted_removal() {
        let mut s = Subscriptions::default();
        assert!(!s.matches(b"news"));
        s.add(Bytes::from_static(b"ne"));
        s.add(Bytes::from_static(b"ne"));
        assert!(s.matches(b"news") && !s.matches(b"n"));
        assert_eq!(s.each().count(), 2);
        assert!(s.remove(b"ne"));
        assert!(s.matches(b"news"), "one subscription left");
        assert!(s.remove(b"ne"));
        assert!(!s.matches(b"news"));
        assert!(!s.remove(b"ne"));
        s.add(Bytes::new());
        assert!(s.matches(b"anything"), "the empty topic matches all");
    }

    #[test]
    fn filters_pick_the_subscribed_the_others_or_all() {
        let mut s = Subscriptions::default();
        s.add(Bytes::from_static(b"A"));
        assert!(Filter::Subscribed.wants(&s, b"AB") && !Filter::Subscribed.wants(&s, b"B"));
        assert!(!Filter::NotSubscribed.wants(&s, b"AB") && Filter::NotSubscribed.wants(&s, b"B"));
        assert!(Filter::All.wants(&s, b"B"));
        assert_eq!(Filter::publisher(true), Filter::NotSubscribed);
    }

    #[test]
    fn a_peer_asks_as_a_set() {
        let mut s = Subscriptions::default();
        let t = Bytes::from_static(b"t");
        assert_eq!(s.ask(true, &t), Ok(true));
        assert_eq!(s.ask(true, &t), Ok(false), "a repeat changes nothing");
        assert_eq!(s.count(b"t"), 1);
        assert_eq!(s.ask(false, &t), Ok(true), "one cancel is enough");
        assert_eq!(s.ask(false, &t), Ok(false), "nothing left to cancel");
        assert!(!s.matches(b"t"));
        for i in 0..MAX_TOPICS as u32 {
            s.add(Bytes::copy_from_slice(&i.to_be_bytes()));
        }
        assert_eq!(s.ask(true, &t), Err(TooMany));
    }

    #[test]
    fn refuses_past_the_limits() {
        let mut s = Subscriptions::default();
        for i in 0..MAX_TOPICS as u32 {
            assert!(s.add(Bytes::copy_from_slice(&i.to_be_bytes())));
        }
        assert!(!s.add(Bytes::from_static(b"one too many")));
        assert!(
            s.add(Bytes::copy_from_slice(&0u32.to_be_bytes())),
            "recounting an old one is fine"
        );
    }
}
