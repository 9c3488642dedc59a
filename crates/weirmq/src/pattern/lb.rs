//! Load balancing (libzmq's `lb_t`, RFC 28's round-robin): each message
//! goes to the next peer in turn that takes it, so a full peer is skipped
//! and the others share the load.

/// Whose turn it is.
#[derive(Debug, Default)]
pub(crate) struct LoadBalance {
    next: usize,
}

impl LoadBalance {
    /// Offers `item` to the peers in turn, from the one whose turn it is:
    /// the first that takes it (`offer` hands it back when it does not)
    /// ends the turn, and the next one after it goes first next time.
    /// Returns the index of the one that took it, or the item if none did.
    pub(crate) fn offer<P, T>(
        &mut self,
        peers: &[P],
        mut item: T,
        mut offer: impl FnMut(&P, T) -> Result<(), T>,
    ) -> Result<usize, T> {
        let n = peers.len();
        for i in 0..n {
            let at = (self.next + i) % n;
            match offer(&peers[at], item) {
                Ok(()) => {
                    self.next = (at + 1) % n;
                    return Ok(at);
                }
                Err(back) => item = back,
            }
        }
        Err(item)
    }

    /// The peer whose turn it is, among `n`, and the turn passes on: for a
    /// sender that offers it the item another way first.
    pub(crate) fn take_turn(&mut self, n: usize) -> Option<usize> {
        if n == 0 {
            return None;
        }
        let at = self.next % n;
        self.next = (at + 1) % n;
        Some(at)
    }

    /// The peer at `at` left, `n` remain: the turn stays with the peer that
    /// had it.
    pub(crate) fn removed(&mut self, at: usize, n: usize) {
        if at < self.next {
            self.next -= 1;
        }
        if self.next >= n {
            self.next = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Peers that take an item while they have room.
    fn offer(room: &mut [usize], lb: &mut LoadBalance) -> Option<usize> {
        let peers: Vec<usize> = (0..room.len()).collect();
        lb.offer(&peers, (), |&p, ()| {
            if room[p] > 0 {
                room[p] -= 1;
                Ok(())
            } else {
                Err(())
            }
        })
        .ok()
    }

    #[test]
    fn turns_go_round_and_full_peers_are_skipped() {
        let mut lb = LoadBalance::default();
        let mut room = [10, 10, 10];
        let got: Vec<_> = (0..6).filter_map(|_| offer(&mut room, &mut lb)).collect();
        assert_eq!(got, [0, 1, 2, 0, 1, 2]);
        room[1] = 0;
        let got: Vec<_> = (0..4).filter_map(|_| offer(&mut room, &mut lb)).collect();
        assert_eq!(got, [0, 2, 0, 2]);
        let mut none = [0, 0];
        assert_eq!(offer(&mut none, &mut lb), None, "nobody has room");
        assert_eq!(offer(&mut [], &mut lb), None, "nobody at all");
    }

    #[test]
    fn a_peer_leaving_keeps_the_turn_where_it_was() {
        let mut lb = LoadBalance::default();
        assert_eq!(lb.take_turn(4), Some(0));
        assert_eq!(lb.take_turn(4), Some(1));
        assert_eq!(lb.take_turn(4), Some(2));
        // Peer 0 leaves: what was peer 3 (now 2) is still next.
        lb.removed(0, 3);
        assert_eq!(lb.take_turn(3), Some(2));
        // The last one leaves while it is next: back to the first.
        lb.removed(2, 2);
        assert_eq!(lb.take_turn(2), Some(0));
        assert_eq!(lb.take_turn(0), None);
    }
}
