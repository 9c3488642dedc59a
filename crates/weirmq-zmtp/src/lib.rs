//! # weirmq-zmtp
//!
//! The ZeroMQ Message Transport Protocol (ZMTP 3.1, and 3.0 peers) as a
//! sans-IO library: no sockets, no async runtime, no clock. Everything here is
//! driven by method calls with bytes and an [`Instant`](std::time::Instant)
//! supplied by the caller, which makes every timing behaviour testable on
//! virtual time and every input testable byte by byte.
//!
//! - [`greeting`]: the 64-octet greeting, parsed incrementally to support
//!   libzmq's staged exchange; version negotiation; ZMTP 1.0/2.0 refused.
//! - [`frame`]: frame decoder and encoder; size limits checked on the header,
//!   before any memory is reserved; bodies as zero-copy [`bytes::Bytes`].
//! - [`command`] and [`metadata`]: READY, ERROR, SUBSCRIBE, CANCEL, PING,
//!   PONG and connection properties.
//! - [`socket_type`]: socket types and RFC 37's compatibility table.
//! - [`mechanism`]: security handshakes as state machines: NULL, PLAIN and
//!   CURVE.
//! - [`connection`]: one connection's whole protocol state: handshake,
//!   traffic, heartbeats, timeouts.
//!
//! ```
//! use std::time::Instant;
//! use weirmq_zmtp::{Config, Connection, Event, Message, SocketType};
//!
//! let now = Instant::now();
//! let mut push = Connection::new(Config::new(SocketType::Push), now).unwrap();
//! let mut pull = Connection::new(Config::new(SocketType::Pull), now).unwrap();
//! // Shuttle bytes both ways until both sides are ready.
//! for _ in 0..3 {
//!     while let Some(b) = push.poll_transmit() { pull.handle_input(&b, now) }
//!     while let Some(b) = pull.poll_transmit() { push.handle_input(&b, now) }
//!     while let Some(_) = push.poll_event(now).unwrap() {}
//!     while let Some(_) = pull.poll_event(now).unwrap() {}
//! }
//! push.send(&Message::from("hello")).unwrap();
//! while let Some(b) = push.poll_transmit() { pull.handle_input(&b, now) }
//! assert_eq!(pull.poll_event(now).unwrap(), Some(Event::Message(Message::from("hello"))));
//! ```
//!
//! Malformed or hostile input never panics: it surfaces as a typed
//! [`Error`] that closes that one connection.

#![forbid(unsafe_code)]

pub mod command;
pub mod connection;
pub mod error;
pub mod frame;
pub mod fuzzing;
pub mod greeting;
mod input;
pub mod keys;
pub mod mechanism;
mod mechanism_name;
pub mod message;
pub mod metadata;
mod outbox;
mod peer;
mod reader;
pub mod socket_type;
pub mod z85;

pub use command::Command;
pub use connection::{Config, Connection, Event, Heartbeat, PeerInfo};
pub use error::{
    ConfigError, CurveError, Error, MalformedError, ProtocolError, TimeoutError, UsageError,
};
pub use frame::{Frame, FrameDecoder, Limits};
pub use greeting::{Greeting, GreetingDecoder, MechanismName, Revision};
pub use keys::{KeyError, Keypair, PublicKey, SecretKey};
pub use mechanism::{AuthDecision, AuthRequest, Mechanism};
pub use message::Message;
pub use metadata::Metadata;
pub use socket_type::SocketType;
