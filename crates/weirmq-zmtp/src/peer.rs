//! What a connection's handshake told us about its peer, which every
//! message received on it can carry (kept apart from the connection, so
//! that messages need not know connections).

use bytes::Bytes;

use crate::greeting::Revision;
use crate::metadata::Metadata;
use crate::socket_type::SocketType;

/// What the handshake told us about the peer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PeerInfo {
    /// The ZMTP revision spoken.
    pub revision: Revision,
    /// The peer's socket type (libzmq accepts a peer that sends none).
    pub socket_type: Option<SocketType>,
    /// The peer's routing id, if it announced a non-empty one.
    pub routing_id: Option<Bytes>,
    /// All the peer's metadata properties.
    pub metadata: Metadata,
    /// The user id our authenticator gave the peer (PLAIN, CURVE servers).
    pub user_id: Option<Bytes>,
    /// A CURVE client's long-term public key, as our server verified it.
    pub public_key: Option<crate::keys::PublicKey>,
}
