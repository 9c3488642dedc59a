//! What every socket has, whatever its type: its options and shape, its
//! peers, the incoming queue and the memory budget, admission of accepted
//! connections, closing and lingering, stats and monitor events.

mod core;
mod link;
mod shape;
mod zap;

pub(crate) use self::core::{Core, Peer, Ticket, lock};
pub(crate) use self::link::Through;
pub(crate) use self::shape::Shape;
pub(crate) use self::zap::{Answer, Zap};
