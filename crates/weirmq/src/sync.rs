//! Locks as the crate takes them.

use std::sync::{Mutex, MutexGuard};

/// Takes a lock. Every critical section is a single update: a panic cannot
/// leave the data half-changed, so a poisoned lock is still consistent.
#[inline]
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
