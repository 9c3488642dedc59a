//! Socket types and which of them may talk to each other (RFC 37).

use std::fmt;
use std::str::FromStr;

/// A ZeroMQ socket type, as announced in the `Socket-Type` property.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum SocketType {
    /// Exclusive pair.
    Pair,
    /// Publisher.
    Pub,
    /// Subscriber.
    Sub,
    /// Requester.
    Req,
    /// Replier.
    Rep,
    /// Asynchronous requester.
    Dealer,
    /// Asynchronous replier that addresses peers by routing id.
    Router,
    /// Pipeline receiver.
    Pull,
    /// Pipeline sender.
    Push,
    /// Publisher that sees subscriptions.
    XPub,
    /// Subscriber that sends subscriptions as messages.
    XSub,
    /// Draft: server of CLIENT peers.
    Server,
    /// Draft: client of a SERVER.
    Client,
    /// Draft: group publisher.
    Radio,
    /// Draft: group subscriber.
    Dish,
    /// Draft: collects from SCATTER peers.
    Gather,
    /// Draft: distributes to GATHER peers.
    Scatter,
    /// Draft: peer to peer.
    Peer,
    /// Draft: thread-safe pair.
    Channel,
}

impl SocketType {
    /// Every socket type, in RFC 37's table order.
    pub const ALL: [SocketType; 19] = [
        SocketType::Req,
        SocketType::Rep,
        SocketType::Dealer,
        SocketType::Router,
        SocketType::Pub,
        SocketType::XPub,
        SocketType::Sub,
        SocketType::XSub,
        SocketType::Push,
        SocketType::Pull,
        SocketType::Pair,
        SocketType::Client,
        SocketType::Server,
        SocketType::Radio,
        SocketType::Dish,
        SocketType::Scatter,
        SocketType::Gather,
        SocketType::Peer,
        SocketType::Channel,
    ];

    /// The name on the wire, e.g. `"DEALER"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            SocketType::Pair => "PAIR",
            SocketType::Pub => "PUB",
            SocketType::Sub => "SUB",
            SocketType::Req => "REQ",
            SocketType::Rep => "REP",
            SocketType::Dealer => "DEALER",
            SocketType::Router => "ROUTER",
            SocketType::Pull => "PULL",
            SocketType::Push => "PUSH",
            SocketType::XPub => "XPUB",
            SocketType::XSub => "XSUB",
            SocketType::Server => "SERVER",
            SocketType::Client => "CLIENT",
            SocketType::Radio => "RADIO",
            SocketType::Dish => "DISH",
            SocketType::Gather => "GATHER",
            SocketType::Scatter => "SCATTER",
            SocketType::Peer => "PEER",
            SocketType::Channel => "CHANNEL",
        }
    }

    /// Parses a wire name. Names are matched exactly, as libzmq does.
    pub fn from_wire(name: &[u8]) -> Option<SocketType> {
        SocketType::ALL
            .into_iter()
            .find(|t| t.as_str().as_bytes() == name)
    }

    /// Whether a socket of this type may talk to a peer of type `peer`
    /// (RFC 37's table, which libzmq 4.3 enforces in the same way).
    pub const fn is_compatible_with(self, peer: SocketType) -> bool {
        use SocketType::*;
        matches!(
            (self, peer),
            (Req, Rep | Router)
                | (Rep, Req | Dealer)
                | (Dealer, Rep | Dealer | Router)
                | (Router, Req | Dealer | Router)
                | (Pub | XPub, Sub | XSub)
                | (Sub | XSub, Pub | XPub)
                | (Push, Pull)
                | (Pull, Push)
                | (Pair, Pair)
                | (Client, Server)
                | (Server, Client)
                | (Radio, Dish)
                | (Dish, Radio)
                | (Scatter, Gather)
                | (Gather, Scatter)
                | (Peer, Peer)
                | (Channel, Channel)
        )
    }

    /// Whether this type announces an `Identity` property in its READY
    /// (libzmq sends one for REQ, DEALER and ROUTER, RFC 37 "The Identity
    /// Property").
    pub const fn sends_identity(self) -> bool {
        matches!(
            self,
            SocketType::Req | SocketType::Dealer | SocketType::Router
        )
    }

    /// Whether peers send this type subscriptions (PUB and XPUB receive them).
    pub const fn receives_subscriptions(self) -> bool {
        matches!(self, SocketType::Pub | SocketType::XPub)
    }
}

impl fmt::Display for SocketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing an unknown socket type name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown socket type {0:?}")]
pub struct UnknownSocketType(pub String);

impl FromStr for SocketType {
    type Err = UnknownSocketType;

    /// Parses a name in any case: `"dealer"`, `"DEALER"`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SocketType::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownSocketType(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for t in SocketType::ALL {
            assert_eq!(SocketType::from_wire(t.as_str().as_bytes()), Some(t));
            assert_eq!(t.as_str().to_lowercase().parse::<SocketType>(), Ok(t));
        }
        assert_eq!(
            SocketType::from_wire(b"dealer"),
            None,
            "wire names are exact"
        );
        assert_eq!(SocketType::from_wire(b"STREAM"), None);
        assert!("nope".parse::<SocketType>().is_err());
    }

    #[test]
    fn compatibility_is_symmetric() {
        for a in SocketType::ALL {
            for b in SocketType::ALL {
                assert_eq!(
                    a.is_compatible_with(b),
                    b.is_compatible_with(a),
                    "{a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn compatibility_matches_the_rfc_table() {
        // Each type's legal peers, spelled out as in RFC 37 and zmtp-notes.md.
        let table: &[(SocketType, &[SocketType])] = {
            use SocketType::*;
            &[
                (Req, &[Rep, Router]),
                (Rep, &[Req, Dealer]),
                (Dealer, &[Rep, Dealer, Router]),
                (Router, &[Req, Dealer, Router]),
                (Pub, &[Sub, XSub]),
                (XPub, &[Sub, XSub]),
                (Sub, &[Pub, XPub]),
                (XSub, &[Pub, XPub]),
                (Push, &[Pull]),
                (Pull, &[Push]),
                (Pair, &[Pair]),
                (Client, &[Server]),
                (Server, &[Client]),
                (Radio, &[Dish]),
                (Dish, &[Radio]),
                (Scatter, &[Gather]),
                (Gather, &[Scatter]),
                (Peer, &[Peer]),
                (Channel, &[Channel]),
            ]
        };
        assert_eq!(table.len(), SocketType::ALL.len());
        for (a, legal) in table {
            for b in SocketType::ALL {
                assert_eq!(a.is_compatible_with(b), legal.contains(&b), "{a} vs {b}");
            }
        }
    }
}
