//! Distribution (libzmq's `dist_t`, RFC 29): a message goes to every peer
//! that wants it (a PUB's peers subscribed to a prefix of its first frame;
//! all of an XSUB's). What a full peer does is the socket's choice
//! ([`WhenFull`]): under `Wait` every peer that wants it has room and gets
//! it, or nobody does and the sender waits; under `Drop` a full peer
//! misses it, and the drop is counted for it.

use crate::options::WhenFull;

/// What a peer did with an offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Taken {
    /// It has it.
    Yes,
    /// It is full.
    Full,
    /// It is leaving (its connection has ended).
    Gone,
}

/// Offers `item` to every peer that `wants` it; `dropped` is told of each
/// full one under [`WhenFull::Drop`]. `Err(item)` under [`WhenFull::Wait`]
/// when one of them has no room (`has_room`): nobody got it.
pub(crate) fn distribute<P, T: Clone>(
    peers: &[P],
    item: T,
    when_full: WhenFull,
    wants: impl Fn(&P) -> bool,
    has_room: impl Fn(&P) -> bool,
    mut offer: impl FnMut(&P, T) -> Taken,
    mut dropped: impl FnMut(&P),
) -> Result<(), T> {
    if when_full == WhenFull::Wait && peers.iter().any(|p| wants(p) && !has_room(p)) {
        return Err(item);
    }
    for peer in peers.iter().filter(|p| wants(p)) {
        if offer(peer, item.clone()) == Taken::Full {
            dropped(peer);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Peer {
        wants: bool,
        room: bool,
        got: Vec<u32>,
        dropped: u32,
    }

    fn peers(spec: &[(bool, bool)]) -> Vec<std::cell::RefCell<Peer>> {
        spec.iter()
            .map(|&(wants, room)| {
                std::cell::RefCell::new(Peer {
                    wants,
                    room,
                    got: Vec::new(),
                    dropped: 0,
                })
            })
            .collect()
    }

    fn send(peers: &[std::cell::RefCell<Peer>], item: u32, when_full: WhenFull) -> Result<(), u32> {
        distribute(
            peers,
            item,
            when_full,
            |p| p.borrow().wants,
            |p| p.borrow().room,
            |p, item| {
                let mut p = p.borrow_mut();
                if !p.room {
                    return Taken::Full;
                }
                p.got.push(item);
                Taken::Yes
            },
            |p| p.borrow_mut().dropped += 1,
        )
    }

    #[test]
    fn waiting_is_all_or_nothing_for_the_peers_that_want_it() {
        // One that wants it is full: nobody gets it.
        let ps = peers(&[(true, true), (true, false), (false, true)]);
        assert_eq!(send(&ps, 7, WhenFull::Wait), Err(7));
        assert!(ps.iter().all(|p| p.borrow().got.is_empty()));
        // Only one that does not want it is full: the others get it.
        let ps = peers(&[(true, true), (false, false), (true, true)]);
        assert_eq!(send(&ps, 7, WhenFull::Wait), Ok(()));
        let got: Vec<_> = ps.iter().map(|p| p.borrow().got.clone()).collect();
        assert_eq!(got, [vec![7], vec![], vec![7]]);
    }

    #[test]
    fn dropping_skips_and_counts_only_the_full_ones() {
        let ps = peers(&[(true, true), (true, false), (false, false)]);
        assert_eq!(send(&ps, 7, WhenFull::Drop), Ok(()));
        let seen: Vec<_> = ps
            .iter()
            .map(|p| (p.borrow().got.clone(), p.borrow().dropped))
            .collect();
        assert_eq!(seen, [(vec![7], 0), (vec![], 1), (vec![], 0)]);
    }
}
