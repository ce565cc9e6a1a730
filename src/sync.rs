//! The one way this crate takes a lock.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, recovering from poison. Every lock of the crate guards plain data written
/// without any call that can panic in between, so a panic elsewhere while it was held
/// cannot have left it half-written; failing every later request would be worse.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
