//! Where a service keeps its state: one choice, made once.
//!
//! A service remembers two things between requests: which events were handled (the
//! [dedup store](crate::dedup), `(task_id, stage)` → in flight or done) and which body
//! each signature came with (the [binding](crate::verify::BindingStore): a kie.ai signature
//! covers only `task_id.timestamp`, so the first body is remembered until the signature
//! leaves its window and a swapped body is refused). A [`Backend`] supplies both, together,
//! so they always live in the same place: a Redis dedup store beside an in-process binding
//! (a body swapped under captured headers, sent to another replica, would pass there) cannot
//! be configured.
//!
//! - [`MemoryBackend`], the default: both in this process, nothing to configure;
//! - [`RedisBackend`] (feature `redis`): both in one Redis,
//!   shared by every replica behind a load balancer.
//!
//! ```
//! use vocals_callback::{HandlerResult, Secret, VocalsEvent, VocalsService, backend::MemoryBackend,
//!                       verify::KieSignature};
//!
//! let svc = VocalsService::builder(|_e: VocalsEvent| async { HandlerResult::Ok(()) })
//!     .verifier(KieSignature::new(Secret::new("your-webhook-hmac-key")?))
//!     .backend(MemoryBackend::new().with_capacity(500_000)) // or RedisBackend::new(..)
//!     .build()?;
//! assert_eq!(svc.dedup_store().capacity(), 500_000);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Choosing
//!
//! | | in memory (default) | Redis (feature `redis`) |
//! |---|---|---|
//! | choose it for | one process | several replicas behind a load balancer |
//! | a retry landing on another replica | runs the handler again | answered `duplicate` |
//! | a swapped body sent to another replica | accepted there | refused (401 `signature_reused`) |
//! | the receiver restarts | everything is forgotten: a retry runs again | remembered |
//! | Redis restarts | (n/a) | forgotten unless Redis persists (RDB/AOF); 503 while it is down; from about 100 ms after it accepts connections again, every callback is served, without restarting the receiver |
//! | Redis fails over to a replica | (n/a) | replication is asynchronous: the last claims and completions can be lost, and an event may run twice |
//! | full | exact eviction of the least recently active idle task; 503 rather than evict a task in flight or a live binding | Redis's `maxmemory-policy`: set `noeviction` (or give the receiver a dedicated instance), because an evicted done key lets a retry run again and an evicted binding reopens a replay window; with `noeviction` a full Redis refuses writes and the receiver answers 503 |
//! | store down or failing | (n/a) | 503 + `Retry-After`: never a silent accept, never a silent drop |
//! | cost of a handled event | under a microsecond | two Redis round trips for the claim, one for the binding (BENCHMARKS.md) |
//!
//! Neither makes "exactly once" survive every crash (a handler that succeeded just before
//! its process died runs again after the claim's lease), so handlers must be idempotent
//! either way.
//!
//! **Sizing.** Retention (default 24 h, at least 30 min: the provider retries for about 21)
//! is how long a handled event is recognised; a longer one only costs memory. The in-memory
//! store holds 100 000 tasks by default (about 190 B each, all four stages of a task in one
//! entry): make the capacity at least the tasks your account completes within the
//! retention. In Redis each handled stage is one key with an expiry, about 190 B (10 000 of
//! them, for 32-character task ids, added 1.9 MB of `used_memory` on Redis 7.0), and each
//! binding one key of about 220 B for the tolerance window (5 min): size `maxmemory` for the
//! callbacks of one retention period × ~200 B, plus five minutes of bindings, with room to
//! spare.
//!
//! The binding holds every verified signature for its window (300 s past its timestamp),
//! so its size follows the rate: `r` verified callbacks a second keep about `300 × r`
//! signatures. In memory ([`MemoryBackend::with_binding_memory`], 64 MiB by default) a
//! signature takes about 45 B, so the default holds about 1.3 million, more than 3 000
//! callbacks a second sustained, and answers 503 past that until its oldest second
//! expires; in Redis the same 3 000 a second keep about 900 000 keys, about 200 MB of
//! `maxmemory` beside the dedup keys.
//!
//! # Your own backend
//!
//! Implement [`Backend`] for a type of yours to keep the state elsewhere (a database your
//! replicas already share): give it a [`DedupStore`] and a [`BindingStore`] that live in
//! the same place. Later capabilities (a durable queue) add methods with defaults, so an
//! implementation keeps compiling.

#![cfg_attr(
    feature = "redis",
    doc = "\n\n[`RedisBackend`]: crate::redis::RedisBackend"
)]
#![cfg_attr(
    not(feature = "redis"),
    doc = "\n\n[`RedisBackend`]: https://docs.rs/vocals-callback/latest/vocals_callback/redis/struct.RedisBackend.html"
)]

use crate::{config::ConfigError, dedup::DedupStore, verify::BindingStore};

mod memory;

pub use memory::{DEFAULT_BINDING_MEMORY, MemoryBackend};

/// The place a service keeps its state: it opens a dedup store and a binding that live
/// together (see the [module docs](self)).
pub trait Backend: Send + 'static {
    /// The dedup store.
    type Dedup: DedupStore;
    /// Where signatures are bound to bodies.
    type Binding: BindingStore;

    /// Checks the settings and makes the stores, when the service is built. No I/O is
    /// expected here (a network store connects lazily, so a service starts while it is
    /// down and answers 503 until it is back).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the setting that is wrong.
    fn open(self) -> Result<Stores<Self::Dedup, Self::Binding>, ConfigError>;
}

/// What a [`Backend`] opens: its dedup store and its binding.
///
/// ```
/// use std::time::Duration;
/// use vocals_callback::{backend::Stores, dedup::MemoryStore, verify::BindingCache};
///
/// let stores = Stores::new(MemoryStore::new(1_000)?, BindingCache::new(Duration::from_secs(300))?);
/// assert_eq!(stores.dedup().capacity(), 1_000);
/// # Ok::<(), vocals_callback::ConfigError>(())
/// ```
#[derive(Debug)]
pub struct Stores<D, B> {
    dedup: D,
    binding: B,
}

impl<D: DedupStore, B: BindingStore> Stores<D, B> {
    /// The two stores of one backend.
    #[must_use]
    pub fn new(dedup: D, binding: B) -> Self {
        Self { dedup, binding }
    }
}

impl<D, B> Stores<D, B> {
    /// The dedup store.
    #[must_use]
    pub fn dedup(&self) -> &D {
        &self.dedup
    }

    /// The binding.
    #[must_use]
    pub fn binding(&self) -> &B {
        &self.binding
    }

    /// Both, by value.
    #[must_use]
    pub fn into_parts(self) -> (D, B) {
        (self.dedup, self.binding)
    }
}
