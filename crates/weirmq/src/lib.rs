//! # weirmq
//!
//! ZeroMQ in pure Rust. This crate will hold the sockets (on tokio), the
//! transports and the bounded queues; today it re-exports the protocol core,
//! [`weirmq_zmtp`], which the sockets are built on.

#![forbid(unsafe_code)]

pub use weirmq_zmtp as zmtp;
pub use weirmq_zmtp::{Message, SocketType};
