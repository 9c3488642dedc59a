//! The bounded queues and what they are built from: the entries they hold,
//! the wake-up signal, the per-peer pipe out and the fair-queued lanes in.
//!
//! Nothing here can say "unlimited": every queue is bounded by a
//! [`Hwm`](crate::Hwm), and the only ways in are "try" (handing the message
//! back) and "wait for room, then try".

pub(crate) mod budget;
pub(crate) mod entry;
pub(crate) mod inbound;
pub(crate) mod pipe;
pub(crate) mod pressure;
pub(crate) mod signal;

pub(crate) use crate::sync::lock;
