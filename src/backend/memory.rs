//! The default backend: everything in this process.

use std::time::Duration;

use super::{Backend, Stores};
use crate::{
    config::ConfigError,
    dedup::{DEFAULT_CAPACITY, DEFAULT_RETENTION, MemoryStore},
    verify::{BindingCache, DEFAULT_MEMORY_LIMIT, time::DEFAULT_TOLERANCE},
};

/// The memory the binding cache may take by default: 64 MiB, more than 3 000 verified
/// callbacks per second sustained over the 300 s window (see
/// [`BindingCache`] for the sizing).
pub const DEFAULT_BINDING_MEMORY: usize = DEFAULT_MEMORY_LIMIT;

/// State in this process: a [`MemoryStore`] and a [`BindingCache`]. The default backend of
/// every service; a restart forgets everything, and each replica has its own (see the
/// [module docs](super) for when to choose Redis instead).
///
/// | setting | default |
/// |---|---|
/// | [`with_capacity`](Self::with_capacity) | [`DEFAULT_CAPACITY`] tasks (100 000) |
/// | [`with_retention`](Self::with_retention) | [`DEFAULT_RETENTION`] (24 h; at least 30 min) |
/// | [`with_binding_memory`](Self::with_binding_memory) | [`DEFAULT_BINDING_MEMORY`] bytes (64 MiB) |
///
/// ```
/// use std::time::Duration;
/// use vocals_callback::backend::MemoryBackend;
///
/// let backend = MemoryBackend::new()
///     .with_capacity(500_000)
///     .with_retention(Duration::from_secs(6 * 3600))
///     .with_binding_memory(256 << 20);
/// assert_eq!(backend.capacity(), 500_000);
/// assert_eq!(backend.binding_memory(), 256 << 20);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryBackend {
    capacity: usize,
    retention: Duration,
    binding_memory: usize,
}

impl MemoryBackend {
    /// The defaults above. Settings are checked when the service is built.
    #[must_use]
    pub fn new() -> Self {
        Self {
            capacity: DEFAULT_CAPACITY,
            retention: DEFAULT_RETENTION,
            binding_memory: DEFAULT_BINDING_MEMORY,
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

    /// Lets the binding cache take up to `bytes` (503 past it, until its oldest second
    /// expires).
    #[must_use]
    pub fn with_binding_memory(mut self, bytes: usize) -> Self {
        self.binding_memory = bytes;
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

    /// The most memory the binding cache may take, in bytes.
    #[must_use]
    pub fn binding_memory(&self) -> usize {
        self.binding_memory
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
    /// [`ZeroCapacity`](crate::ConfigErrorKind::ZeroCapacity) for a capacity of zero or a
    /// binding memory too small for one entry,
    /// [`InvalidRetention`](crate::ConfigErrorKind::InvalidRetention) under 30 minutes,
    /// [`NoRandomness`](crate::ConfigErrorKind::NoRandomness) when the system gives no
    /// random key for the binding digest.
    fn open(self) -> Result<Stores<MemoryStore, BindingCache>, ConfigError> {
        let dedup = MemoryStore::new(self.capacity)?.with_retention(self.retention)?;
        // The binding lives as long as each verifier's own window, at least this one.
        let binding =
            BindingCache::new(DEFAULT_TOLERANCE)?.with_memory_limit(self.binding_memory)?;
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
            kind(MemoryBackend::new().with_binding_memory(0)),
            ConfigErrorKind::ZeroCapacity
        );
        assert_eq!(
            kind(MemoryBackend::new().with_retention(Duration::from_secs(60))),
            ConfigErrorKind::InvalidRetention
        );
        let stores = MemoryBackend::new().with_capacity(7).open().unwrap();
        assert_eq!(stores.dedup().capacity(), 7);
        assert_eq!(stores.binding().memory_limit(), DEFAULT_BINDING_MEMORY);
        assert_eq!(stores.binding().memory_used(), 0);
    }
}
