//! A CURVE server keypair that can be replaced while the socket runs: new
//! connections handshake with the new keypair, the ones already up go on
//! with the old (their session keys do not depend on it any more).

use std::sync::{Arc, Mutex};

use weirmq_zmtp::keys::{Keypair, PublicKey};

use crate::sync::lock;

/// A server's keypair, shared with the sockets built with it
/// ([`Options::with_curve_server_rotating`](crate::Options::with_curve_server_rotating));
/// cheap to clone.
#[derive(Clone)]
pub struct RotatingKeypair {
    current: Arc<Mutex<Keypair>>,
}

impl std::fmt::Debug for RotatingKeypair {
    /// The public key only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RotatingKeypair")
            .field("public", &self.public())
            .finish()
    }
}

impl RotatingKeypair {
    /// Starts with `keypair`.
    pub fn new(keypair: Keypair) -> RotatingKeypair {
        RotatingKeypair {
            current: Arc::new(Mutex::new(keypair)),
        }
    }

    /// From now on, new connections use `keypair`; returns the public key
    /// of the one it replaces.
    pub fn rotate(&self, keypair: Keypair) -> PublicKey {
        let old = std::mem::replace(&mut *lock(&self.current), keypair);
        old.public
    }

    /// The public key new connections are served with.
    pub fn public(&self) -> PublicKey {
        lock(&self.current).public
    }

    /// The keypair new connections are served with.
    pub(crate) fn current(&self) -> Keypair {
        lock(&self.current).clone()
    }
}
