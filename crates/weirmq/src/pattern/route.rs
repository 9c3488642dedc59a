//! Routing by id (RFC 28: ROUTER, and a REP's replies): peers by routing
//! id, the Identity a peer announced or one generated as libzmq makes
//! them (`%x00` and a 4-octet counter, never starting like an announced
//! one, whose first octet is not zero).

use std::collections::HashMap;

use bytes::Bytes;

/// A newcomer announced a routing id a connected peer has, and handover is
/// off: it is refused (libzmq does the same without ROUTER_HANDOVER).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct DuplicateRoutingId;

/// Peers by routing id.
#[derive(Debug)]
pub(crate) struct Routes<P> {
    by_id: HashMap<Bytes, P>,
    /// The counter of generated ids.
    generated: u32,
}

impl<P> Default for Routes<P> {
    fn default() -> Self {
        Routes {
            by_id: HashMap::new(),
            generated: 0,
        }
    }
}

impl<P> Routes<P> {
    /// A routing id nobody has, as libzmq makes them.
    pub(crate) fn generate(&mut self) -> Bytes {
        loop {
            self.generated = self.generated.wrapping_add(1);
            let mut id = vec![0u8];
            id.extend_from_slice(&self.generated.to_be_bytes());
            let id = Bytes::from(id);
            if !self.by_id.contains_key(&id) {
                return id;
            }
        }
    }

    /// The id a newcomer gets: the one it announced, or a generated one.
    /// With `handover`, an announced id in use is taken from its holder,
    /// which is returned (and is no longer routed to); without, the
    /// newcomer is refused.
    pub(crate) fn place(
        &mut self,
        announced: Option<Bytes>,
        handover: bool,
    ) -> Result<(Bytes, Option<P>), DuplicateRoutingId> {
        match announced {
            Some(id) if self.by_id.contains_key(&id) => {
                if !handover {
                    return Err(DuplicateRoutingId);
                }
                let old = self.by_id.remove(&id);
                Ok((id, old))
            }
            Some(id) => Ok((id, None)),
            None => Ok((self.generate(), None)),
        }
    }

    /// The peer with routing id `id`.
    pub(crate) fn get(&self, id: &[u8]) -> Option<&P> {
        self.by_id.get(id)
    }

    /// Whether some peer has routing id `id`.
    pub(crate) fn contains(&self, id: &[u8]) -> bool {
        self.by_id.contains_key(id)
    }

    /// Routes `id` to `peer`.
    pub(crate) fn insert(&mut self, id: Bytes, peer: P) {
        self.by_id.insert(id, peer);
    }

    /// Stops routing `id`, if `is` says it is routed to the peer meant (and
    /// not to a newer one that took it over).
    pub(crate) fn remove_if(&mut self, id: &[u8], is: impl FnOnce(&P) -> bool) {
        if self.by_id.get(id).is_some_and(is) {
            self.by_id.remove(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_libzmqs_and_never_repeat_a_live_one() {
        let mut routes: Routes<u8> = Routes::default();
        let first = routes.generate();
        assert_eq!(&first[..], [0, 0, 0, 0, 1]);
        routes.insert(Bytes::from_static(&[0, 0, 0, 0, 2]), 2);
        assert_eq!(&routes.generate()[..], [0, 0, 0, 0, 3], "2 is taken");
    }

    #[test]
    fn an_announced_id_in_use_is_refused_or_handed_over() {
        let mut routes = Routes::default();
        let (id, old) = routes.place(Some(Bytes::from_static(b"A")), false).unwrap();
        assert_eq!((&id[..], old), (&b"A"[..], None));
        routes.insert(id, 1);
        assert_eq!(
            routes.place(Some(Bytes::from_static(b"A")), false),
            Err(DuplicateRoutingId)
        );
        let (id, old) = routes.place(Some(Bytes::from_static(b"A")), true).unwrap();
        assert_eq!(old, Some(1), "taken from its holder");
        assert!(!routes.contains(&id), "until the newcomer is inserted");
        routes.insert(id, 2);
        // The old holder leaving does not unroute the newcomer.
        routes.remove_if(b"A", |&p| p == 1);
        assert_eq!(routes.get(b"A"), Some(&2));
        routes.remove_if(b"A", |&p| p == 2);
        assert_eq!(routes.get(b"A"), None);
    }
}
