//! A certificate store: a directory of public certificates (czmq's zcert
//! files, the layout of czmq's `zcertstore` and of pyzmq's
//! `configure_curve(location=...)`), used as a CURVE server's allow-list
//! and reloaded when the directory changes, without a restart.
//!
//! Every regular file in the directory whose name does not end in
//! `_secret` is read as a public certificate; files that are not one are
//! skipped (and logged), so a stray file cannot empty the list. A key
//! removed from the directory refuses new handshakes from the next reload
//! on; connections already up go on, as with libzmq's ZAP handlers.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use weirmq_zmtp::keys::PublicKey;
use weirmq_zmtp::{AuthDecision, AuthRequest};

use super::read_public_key;
use crate::error::Error;
use crate::sync::lock;

/// What a directory's files looked like: name, size, modification time.
type Signature = Vec<(std::ffi::OsString, u64, Option<SystemTime>)>;

/// A directory of public certificates, as an allow-list (cheap to clone:
/// clones share the keys).
#[derive(Clone)]
pub struct CertStore {
    shared: Arc<Shared>,
}

struct Shared {
    dir: PathBuf,
    keys: RwLock<HashSet<[u8; 32]>>,
    seen: Mutex<Signature>,
}

impl std::fmt::Debug for CertStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertStore")
            .field("dir", &self.shared.dir)
            .field("keys", &self.len())
            .finish()
    }
}

impl CertStore {
    /// Loads the certificates in `dir` (an error if it cannot be read).
    pub fn open(dir: impl Into<PathBuf>) -> Result<CertStore, Error> {
        let store = CertStore {
            shared: Arc::new(Shared {
                dir: dir.into(),
                keys: RwLock::new(HashSet::new()),
                seen: Mutex::new(Vec::new()),
            }),
        };
        store.load()?;
        Ok(store)
    }

    /// Reads the directory again if it changed since the last look (a file
    /// added, removed, resized or touched); whether it did.
    pub fn reload(&self) -> Result<bool, Error> {
        let now = signature(&self.shared.dir)?;
        if *lock(&self.shared.seen) == now {
            return Ok(false);
        }
        self.load()?;
        Ok(true)
    }

    fn load(&self) -> Result<(), Error> {
        let seen = signature(&self.shared.dir)?;
        let mut keys = HashSet::new();
        for (name, _, _) in &seen {
            let path = self.shared.dir.join(name);
            match read_public_key(&path) {
                Ok(key) => {
                    keys.insert(*key.as_bytes());
                }
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "not a certificate, skipped")
                }
            }
        }
        tracing::debug!(dir = %self.shared.dir.display(), keys = keys.len(), "certificates loaded");
        *self.shared.keys.write().unwrap_or_else(|e| e.into_inner()) = keys;
        *lock(&self.shared.seen) = seen;
        Ok(())
    }

    /// Reloads every `every` in a task of its own (on the current tokio
    /// runtime) until the returned [`Watcher`] is dropped.
    pub fn watch(&self, every: Duration) -> Watcher {
        let store = self.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = store.reload() {
                    // The directory may be being replaced: keep the keys
                    // held, and try again.
                    tracing::warn!(error = %e, "certificate store not reloaded");
                }
            }
        });
        Watcher(task.abort_handle())
    }

    /// Whether `key` is in the store now.
    pub fn contains(&self, key: &PublicKey) -> bool {
        let keys = self.shared.keys.read().unwrap_or_else(|e| e.into_inner());
        keys.contains(key.as_bytes())
    }

    /// How many keys the store holds.
    pub fn len(&self) -> usize {
        self.shared.keys.read().map_or(0, |k| k.len())
    }

    /// Whether the store holds no key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// An authenticator for [`Options::with_authenticator`](crate::Options::with_authenticator):
    /// a CURVE client whose key is in the store is let in (known by its
    /// key in Z85); any other is refused with status 400.
    pub fn authenticator(
        &self,
    ) -> impl Fn(&AuthRequest, &str) -> AuthDecision + Send + Sync + 'static {
        let store = self.clone();
        move |request, _domain| match request {
            AuthRequest::Curve { public_key } if store.contains(public_key) => {
                AuthDecision::Allow {
                    user_id: Bytes::from(public_key.to_z85()),
                }
            }
            _ => AuthDecision::Deny {
                status: Bytes::from_static(b"400"),
            },
        }
    }
}

/// Reloads a [`CertStore`] while it lives (see [`CertStore::watch`]).
#[derive(Debug)]
pub struct Watcher(tokio::task::AbortHandle);

impl Drop for Watcher {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The directory's certificate files, as they are now.
fn signature(dir: &Path) -> Result<Signature, Error> {
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Io {
        context: format!("read {}", dir.display()),
        source,
    })?;
    let mut seen: Signature = entries
        .filter_map(Result::ok)
        .filter(|e| !e.file_name().to_string_lossy().ends_with("_secret"))
        .filter_map(|e| {
            let meta = e.metadata().ok().filter(|m| m.is_file())?;
            Some((e.file_name(), meta.len(), meta.modified().ok()))
        })
        .collect();
    seen.sort();
    Ok(seen)
}
