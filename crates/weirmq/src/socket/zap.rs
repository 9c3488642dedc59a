//! The ZAP handler (RFC 27), as a connection needs it: whether one is
//! bound in this process, and a question to ask it. The public layer
//! provides it (it asks over an inproc socket of its own), so that a
//! connection's engine asks without knowing the socket types.

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use weirmq_zmtp::{AuthDecision, AuthRequest};

/// An answer to come.
pub(crate) type Answer = Pin<Box<dyn Future<Output = AuthDecision> + Send>>;

/// What a connection asks a ZAP handler.
pub(crate) trait Zap: Send + Sync {
    /// Whether a handler is bound, to be asked.
    fn is_bound(&self) -> bool;

    /// Asks the handler to judge `request` from `peer` (its address), in
    /// ZAP domain `domain`, for a socket whose routing id is `identity`.
    fn ask(&self, request: &AuthRequest, domain: &Bytes, peer: &str, identity: &Bytes) -> Answer;
}
