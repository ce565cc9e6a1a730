//! The default backend: everything in this process.

use std::time::Duration;

use super::{Backend, Stores};
use crate::{
    config::ConfigError,
    dedup::{DEFAULT_CAPACITY, DEFAULT_RETENTION, MemoryStore},
    verify::{BindingCache, time::DEFAULT_TOLERANCE},
};

/// Signatures the binding cache remembers by default.
pub const DEFAULT_BINDING_CAPACITY: usize = 100_000;

/// State in this process: a [`MemoryStore`] and a [`BindingCache`]. The default backend of
/// every service; a restart forgets everything, and each replica has its own (see the
/// [module docs](super) for when to choose Redis instead).
///
/// | setting | default |
/// |---|---|
/// | [`with_capacity`](Self::with_capacity) | [`DEFAULT_CAPACITY`] tasks (100 000) |
/// | [`with_retention`](Self::with_retention) | [`DEFAULT_RETENTION`] (24 h; at least 30 min) |
/// | [`with_binding_capacity`](Self::with_binding_capacity) | [`DEFAULT_BINDING_CAPACITY`] signatures (100 000) |
///
/// ```
/// use std::time::Duration;
/// use vocals_callback::backend::MemoryBackend;
///
/// let backend = MemoryBackend::new()
///     .with_capacity(500_000)
///     .with_retention(Duration::from_secs(6 * 3600))
///     .with_binding_capacity(20_000);
/// assert_eq!(backend.capacity(), 500_000);
/// assert_eq!(backend.binding_capacity(), 20_000);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryBackend {
    capacity: usize,
    retention: Duration,
    binding_capacity: usize,
}

impl MemoryBackend {
    /// The defaults above. Settings are checked when the service is built.
    #[must_use]
    pub fn new() -> Self {
        Self {
            capacity: DEFAULT_CAPACITY,
            retention: DEFAULT_RETENTION,
            binding_capacity: DEFAULT_BINDING_CAPACITY,
        }
    }

    /// Remembers up to `tasks` tasks (every stage of a task in one entry).
    #[must_use]
    pub fn with_capacity(mut self, tasks: usize) -> Self {
        self.capacity = tasks;
        self
    }

    /// Remembers handled keys for `retention`.
    #[must_use]
    pub fn with_retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    /// Remembers up to `signatures` signatures within their window (503 when all are live).
    #[must_use]
    pub fn with_binding_capacity(mut self, signatures: usize) -> Self {
        self.binding_capacity = signatures;
        self
    }

    /// The dedup store's capacity, in tasks.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How long a handled key is remembered.
    #[must_use]
    pub fn retention(&self) -> Duration {
        self.retention
    }

    /// The binding cache's capacity, in signatures.
    #[must_use]
    pub fn binding_capacity(&self) -> usize {
        self.binding_capacity
    }
}

impl Default for MemoryBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl Backend for MemoryBackend {
    type Dedup = MemoryStore;
    type Binding = BindingCache;

    /// # Errors
    ///
    /// [`ZeroCapacity`](crate::ConfigErrorKind::ZeroCapacity) for a capacity of zero,
    /// [`InvalidRetention`](crate::ConfigErrorKind::InvalidRetention) under 30 minutes,
    /// [`NoRandomness`](crate::ConfigErrorKind::NoRandomness) when the system gives no
    /// random key for the binding digest.
    fn open(self) -> Result<Stores<MemoryStore, BindingCache>, ConfigError> {
        let dedup = MemoryStore::new(self.capacity)?.with_retention(self.retention)?;
        // The binding lives as long as each verifier's own window, at least this one.
        let binding = BindingCache::new(self.binding_capacity, DEFAULT_TOLERANCE)?;
        Ok(Stores::new(dedup, binding))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ConfigErrorKind;

    #[test]
    fn settings_are_checked_when_opened() {
        let kind = |b: MemoryBackend| b.open().map(|_| ()).unwrap_err().kind();
        assert_eq!(
            kind(MemoryBackend::new().with_capacity(0)),
            ConfigErrorKind::ZeroCapacity
        );
        assert_eq!(
            kind(MemoryBackend::new().with_binding_capacity(0)),
            ConfigErrorKind::ZeroCapacity
        );
        assert_eq!(
            kind(MemoryBackend::new().with_retention(Duration::from_secs(60))),
            ConfigErrorKind::InvalidRetention
        );
        let stores = MemoryBackend::new().with_capacity(7).open().unwrap();
        assert_eq!(stores.dedup().capacity(), 7);
        assert_eq!(stores.binding().capacity(), DEFAULT_BINDING_CAPACITY);
    }
}
