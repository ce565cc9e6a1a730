//! Binding a signature that does not cover the body to the first body it came with.

use std::{
    collections::HashMap,
    fmt,
    future::{self, Future},
    sync::Mutex,
    time::{Duration, SystemTime},
};

use hashlink::DefaultHashBuilder;

use super::{BodyDigest, Signed, Verified, digest::Digested, time};
use crate::{
    config::{ConfigError, ConfigErrorKind},
    event::Stage,
    rejection::{Rejection, RejectionKind},
    sync::lock,
};

/// How soon after a signature was first bound a body of *another stage* under it is taken
/// for the provider's own second callback of that second (a collision), rather than a
/// replay: see [`RejectionKind::SignatureCollision`].
pub const COLLISION_WINDOW: Duration = Duration::from_secs(2);

/// The refusal of a signature already bound, at `first_ms` and for a body of
/// `first_stage`, to another body than the one of `stage` arriving at `now_ms`: a
/// collision when the stages differ and the second came within [`COLLISION_WINDOW`], a
/// reuse otherwise (an unknown stage on either side is a reuse).
pub(crate) fn conflict(
    first_stage: Option<Stage>,
    first_ms: u64,
    stage: Option<Stage>,
    now_ms: u64,
) -> Rejection {
    let window = u64::try_from(COLLISION_WINDOW.as_millis()).unwrap_or(u64::MAX);
    let collision = matches!((first_stage, stage), (Some(a), Some(b)) if a != b)
        && now_ms.saturating_sub(first_ms) <= window;
    if collision {
        RejectionKind::SignatureCollision.into()
    } else {
        RejectionKind::SignatureReused.into()
    }
}

/// Where signatures are bound to bodies: the in-process [`BindingCache`], or a store that
/// replicas share (`RedisBinding`, feature `redis`). A service's
/// [`Backend`](crate::backend::Backend) supplies one beside its dedup store.
///
/// [`bind`](Self::bind) must be atomic per signature: of two concurrent binds of one
/// signature with different bodies, one passes and the other is refused.
pub trait BindingStore: Send + Sync + 'static {
    /// Binds `signed` to `body` (a callback of `stage`) until the signature leaves its
    /// window, judged at `now`: passes for the first body and for the same body again (a
    /// retry).
    ///
    /// # Errors
    ///
    /// For a signature bound to another body inside its window,
    /// [`SignatureCollision`](RejectionKind::SignatureCollision) when that body was of
    /// another stage and bound at most [`COLLISION_WINDOW`] before `now`, else
    /// [`SignatureReused`](RejectionKind::SignatureReused) (the stage and time of the first
    /// body are kept for this); a 503 kind with `Retry-After` when the store cannot take it
    /// (full, or unreachable).
    fn bind(
        &self,
        signed: &Signed,
        body: &[u8],
        stage: Stage,
        now: SystemTime,
    ) -> impl Future<Output = Result<(), Rejection>> + Send;

    /// The signatures bound now, if the store can tell without a round trip (read for the
    /// `vocals_callback_binding_entries` gauge, feature `metrics`, on every scrape). `None`,
    /// the default, for a store that cannot (the Redis binding: its keys are Redis's).
    ///
    /// ```
    /// use std::time::Duration;
    /// use vocals_callback::verify::{BindingCache, BindingStore};
    ///
    /// let cache = BindingCache::new(1_000, Duration::from_secs(300))?;
    /// assert_eq!(BindingStore::entries(&cache), Some(0));
    /// # Ok::<(), vocals_callback::ConfigError>(())
    /// ```
    fn entries(&self) -> Option<usize> {
        None
    }

    /// The memory the bindings take in this process, in bytes, if the store knows it (the
    /// `vocals_callback_binding_memory_bytes` gauge). `None`, the default, for a store
    /// whose memory is elsewhere (Redis).
    ///
    /// ```
    /// use std::time::Duration;
    /// use vocals_callback::verify::{BindingCache, BindingStore};
    ///
    /// let cache = BindingCache::new(1_000, Duration::from_secs(300))?;
    /// assert_eq!(cache.memory_bytes(), Some(cache.memory_bound()));
    /// # Ok::<(), vocals_callback::ConfigError>(())
    /// ```
    fn memory_bytes(&self) -> Option<usize> {
        None
    }
}

/// Remembers `signature → digest(body)` until the signature's timestamp leaves the window.
///
/// The provider's MAC covers only `task_id.timestamp`, so a captured header pair verifies
/// with any body for that task inside the window. The cache makes each signature good for
/// one body: the same signature with the same body again is a retry and passes; with a
/// different body it is refused as [`SignatureReused`](RejectionKind::SignatureReused).
///
/// It is **bounded**: it holds at most `capacity` entries, allocated up front (see
/// [`memory_bound`](Self::memory_bound)). When it is full of entries still inside their
/// window it **fails closed** with [`BindingCacheFull`](RejectionKind::BindingCacheFull)
/// (503 with `Retry-After` until the oldest entry expires) and never evicts a live entry,
/// because an evicted entry is a replay window reopened. Only verified requests reach it,
/// so an attacker without the key cannot fill it.
///
/// **Two genuine callbacks of one task sent within the same second carry the same
/// signature** (the MAC covers only `task_id.timestamp`). The second cannot be told from a
/// forgery for sure, so it is refused; the sender retries it later under a new timestamp,
/// and that passes. It is refused as
/// [`SignatureCollision`](RejectionKind::SignatureCollision), not `signature_reused`, when
/// it is of another stage than the first body and arrives within [`COLLISION_WINDOW`] of
/// it, as the provider's second callback of that second does (see the kind for what this
/// lets a forger hide). [`bind_mac`](Self::bind_mac) and
/// [`bind_verified`](Self::bind_verified) know no stage and always answer
/// `signature_reused`; the service binds through [`BindingStore::bind`], with the stage.
///
/// The digest is a PRF under a key drawn at random when the cache is built
/// ([`BodyDigest::random`]): about a quarter of SHA-256's cost, and the right choice for a
/// cache that lives in one process. [`with_digest`](Self::with_digest) takes another.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use vocals_callback::{RejectionKind, verify::BindingCache};
///
/// let cache = BindingCache::new(10_000, Duration::from_secs(300))?;
/// let now = UNIX_EPOCH + Duration::from_secs(1_769_670_760);
/// let mac = [7u8; 32];
/// cache.bind_mac(&mac, 1_769_670_760, b"{\"a\":1}", now)?;            // first delivery
/// cache.bind_mac(&mac, 1_769_670_760, b"{\"a\":1}", now)?;            // a retry: same body
/// let swapped = cache.bind_mac(&mac, 1_769_670_760, b"{\"a\":2}", now); // a swapped body
/// assert_eq!(swapped.unwrap_err().kind(), RejectionKind::SignatureReused);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct BindingCache {
    entries: Mutex<Table>,
    capacity: usize,
    tolerance: Duration,
    digest: BodyDigest,
}

/// The entries and the earliest expiry among them (a lower bound: it may be stale-low after
/// an overwrite, which costs at most one purge that finds nothing).
struct Table {
    map: HashMap<[u8; 32], Entry, DefaultHashBuilder>,
    min_expires: u64,
}

#[derive(Clone, Copy)]
struct Entry {
    digest: Digested,
    /// Unix second after which the signature is outside its window.
    expires: u64,
    /// Unix millisecond of the first bind, and the stage of its body (`None` when the
    /// caller gave none), to tell a collision from a reuse.
    bound_ms: u64,
    stage: Option<Stage>,
}

/// Bytes one entry of capacity costs at most: a bucket holds the 32-byte MAC, a 40-byte
/// entry (the 16-byte body digest, the expiry, the time of the first bind and its stage)
/// and one control byte, and the table allocated for `capacity` entries has at most
/// `capacity × 8/7` buckets rounded up to a power of two, so fewer than `capacity × 16/7`.
const BYTES_PER_ENTRY: usize = (32 + size_of::<Entry>() + 1) * 16 / 7 + 1;

impl BindingCache {
    /// A cache for `capacity` signatures, each kept for `tolerance` past its timestamp
    /// (use the verifier's tolerance), digesting bodies with a randomly keyed PRF.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for a capacity of zero, an invalid tolerance, or no random bytes from
    /// the operating system for the key.
    pub fn new(capacity: usize, tolerance: Duration) -> Result<Self, ConfigError> {
        if capacity == 0 {
            return Err(ConfigError::new(
                ConfigErrorKind::ZeroCapacity,
                "binding cache capacity is zero",
            ));
        }
        Ok(Self {
            // A randomly seeded hasher (foldhash), so hostile keys cannot be computed to
            // collide; the keys are MACs of verified requests, unpredictable anyway. SipHash
            // would cost a fifth of the lookup for no gain.
            entries: Mutex::new(Table {
                map: HashMap::with_capacity_and_hasher(capacity, DefaultHashBuilder::default()),
                min_expires: u64::MAX,
            }),
            capacity,
            tolerance: time::check_tolerance(tolerance)?,
            digest: BodyDigest::random()?,
        })
    }

    /// The same cache, digesting bodies with `digest` instead of a randomly keyed PRF.
    ///
    /// ```
    /// use std::time::Duration;
    /// use vocals_callback::verify::{BindingCache, BodyDigest};
    ///
    /// let cache = BindingCache::new(1_000, Duration::from_secs(300))?.with_digest(BodyDigest::sha256());
    /// assert_eq!(cache.capacity(), 1_000);
    /// # Ok::<(), vocals_callback::ConfigError>(())
    /// ```
    #[must_use]
    pub fn with_digest(mut self, digest: BodyDigest) -> Self {
        self.digest = digest;
        self
    }

    /// Binds `mac` (signed at `timestamp`) to `body`.
    ///
    /// # Errors
    ///
    /// [`SignatureReused`](RejectionKind::SignatureReused) when `mac` is bound to another
    /// body inside its window; [`BindingCacheFull`](RejectionKind::BindingCacheFull) when
    /// every entry is live.
    pub fn bind_mac(
        &self,
        mac: &[u8; 32],
        timestamp: u64,
        body: &[u8],
        now: SystemTime,
    ) -> Result<(), Rejection> {
        let signed = Signed::new(*mac, timestamp, self.tolerance);
        self.bind_signed(&signed, body, None, now)
    }

    /// Binds `signed` to `body` (of `stage`, when known) until its timestamp leaves the
    /// window.
    fn bind_signed(
        &self,
        signed: &Signed,
        body: &[u8],
        stage: Option<Stage>,
        now: SystemTime,
    ) -> Result<(), Rejection> {
        // Digested outside the lock: it is the expensive part.
        let digest = self.digest.digest(body);
        let (mac, timestamp) = (&signed.mac, signed.timestamp);
        // Keep the binding as long as the verifier accepts the signature, even when its
        // tolerance is longer than this cache's.
        let window = signed.window.max(self.tolerance).as_secs();
        let expires = timestamp.saturating_add(window);
        let now_ms = time::unix_millis(now);
        let fresh = Entry {
            digest,
            expires,
            bound_ms: now_ms,
            stage,
        };
        let now = now_ms / 1000;
        let mut table = lock(&self.entries);
        if let Some(entry) = table.map.get_mut(mac) {
            if entry.expires >= now {
                return if entry.digest.matches(&digest) {
                    Ok(())
                } else {
                    Err(conflict(entry.stage, entry.bound_ms, stage, now_ms))
                };
            }
            *entry = fresh;
            return Ok(());
        }
        if table.map.len() >= self.capacity {
            // Full: purge only when something has expired, so a cache full of live entries
            // refuses in constant time instead of scanning on every request.
            if table.min_expires < now {
                table.purge(self.capacity, now);
            }
            if table.map.len() >= self.capacity {
                let wait = table.min_expires.saturating_sub(now).saturating_add(1);
                return Err(Rejection::new(RejectionKind::BindingCacheFull)
                    .with_retry_after(Duration::from_secs(wait)));
            }
        }
        table.min_expires = table.min_expires.min(expires);
        table.map.insert(*mac, fresh);
        Ok(())
    }

    /// Binds the signature of a [`Verified`] pass, if its scheme needs binding (its MAC
    /// does not cover the body); passes otherwise.
    ///
    /// # Errors
    ///
    /// As [`bind`](Self::bind).
    pub fn bind_verified(
        &self,
        verified: &Verified,
        body: &[u8],
        now: SystemTime,
    ) -> Result<(), Rejection> {
        match verified.signature() {
            Some(signed) => self.bind_signed(signed, body, None, now),
            None => Ok(()),
        }
    }

    /// Entries held now (live or not yet purged).
    #[must_use]
    pub fn len(&self) -> usize {
        lock(&self.entries).map.len()
    }

    /// `true` when no entry is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most entries the cache holds.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The tolerance each binding is kept for past its timestamp, at least (a verifier
    /// with a longer window is honoured).
    #[must_use]
    pub fn tolerance(&self) -> Duration {
        self.tolerance
    }

    /// An upper bound of the memory the entries take, in bytes: the table is allocated
    /// once for the capacity and never grows. While a purge of expired entries runs (only
    /// when the cache is full), a second table of the same size exists for a moment.
    #[must_use]
    pub fn memory_bound(&self) -> usize {
        self.capacity.saturating_mul(BYTES_PER_ENTRY)
    }

    /// The hash table's bucket count, for the tests of the memory bound.
    #[cfg(test)]
    fn allocated(&self) -> usize {
        lock(&self.entries).map.capacity()
    }
}

impl Table {
    /// Drops the expired entries. Rebuilds rather than `retain`s: removals leave tombstones,
    /// and a table with tombstones may grow past its first allocation on a later insert.
    fn purge(&mut self, capacity: usize, now: u64) {
        let mut live = HashMap::with_capacity_and_hasher(capacity, DefaultHashBuilder::default());
        live.extend(self.map.drain().filter(|(_, e)| e.expires >= now));
        self.min_expires = live.values().map(|e| e.expires).min().unwrap_or(u64::MAX);
        self.map = live;
    }
}

impl BindingStore for BindingCache {
    fn bind(
        &self,
        signed: &Signed,
        body: &[u8],
        stage: Stage,
        now: SystemTime,
    ) -> impl Future<Output = Result<(), Rejection>> + Send {
        // In process: bound before the future is even polled.
        future::ready(self.bind_signed(signed, body, Some(stage), now))
    }

    fn entries(&self) -> Option<usize> {
        Some(self.len())
    }

    fn memory_bytes(&self) -> Option<usize> {
        // The table is allocated for the capacity up front, so its bound is what it holds.
        Some(self.memory_bound())
    }
}

impl fmt::Debug for BindingCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BindingCache")
            .field("len", &self.len())
            .field("capacity", &self.capacity)
            .field("tolerance", &self.tolerance)
            .field("digest", &self.digest)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    const T: u64 = 1_769_670_760;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn cache(capacity: usize) -> BindingCache {
        BindingCache::new(capacity, Duration::from_secs(300)).unwrap()
    }

    #[test]
    fn a_retry_passes_and_a_swapped_body_is_refused() {
        let c = cache(8);
        c.bind_mac(&[1; 32], T, b"body", at(T)).unwrap();
        c.bind_mac(&[1; 32], T, b"body", at(T + 60)).unwrap();
        assert_eq!(
            c.bind_mac(&[1; 32], T, b"other", at(T + 60))
                .unwrap_err()
                .kind(),
            RejectionKind::SignatureReused
        );
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn an_entry_lives_until_its_timestamp_leaves_the_window() {
        let c = cache(8);
        c.bind_mac(&[1; 32], T, b"body", at(T)).unwrap();
        assert!(
            c.bind_mac(&[1; 32], T, b"other", at(T + 300)).is_err(),
            "still inside at the edge"
        );
        c.bind_mac(&[1; 32], T, b"other", at(T + 301)).unwrap();
    }

    #[test]
    fn a_full_cache_of_live_entries_fails_closed_with_retry_after() {
        let c = cache(2);
        c.bind_mac(&[1; 32], T, b"a", at(T)).unwrap();
        c.bind_mac(&[2; 32], T + 10, b"b", at(T + 10)).unwrap();
        let err = c.bind_mac(&[3; 32], T + 20, b"c", at(T + 20)).unwrap_err();
        assert_eq!(err.kind(), RejectionKind::BindingCacheFull);
        assert_eq!(err.status(), http::StatusCode::SERVICE_UNAVAILABLE);
        // The oldest entry expires at T + 300: retry one second after.
        assert_eq!(err.retry_after(), Some(Duration::from_secs(281)));
        // The live entries are all still there: nothing was evicted.
        assert!(c.bind_mac(&[1; 32], T, b"x", at(T + 20)).is_err());
        assert!(c.bind_mac(&[2; 32], T + 10, b"x", at(T + 20)).is_err());
        // Once the first has expired, its slot is reused.
        c.bind_mac(&[3; 32], T + 301, b"c", at(T + 301)).unwrap();
        assert_eq!(c.len(), 2);
    }

    #[test]
    fn memory_stays_within_the_documented_bound() {
        let capacity = 10_000;
        let c = cache(capacity);
        let first = c.allocated();
        let mut refused = 0;
        for i in 0..(capacity as u64 * 3) {
            let mut mac = [0u8; 32];
            mac[..8].copy_from_slice(&i.to_le_bytes());
            // Batches of 1.5 × capacity, 400 s apart: each batch overfills the cache (the
            // excess is refused, nothing evicted), then the next finds the old ones expired.
            let ts = T + (i / (capacity as u64 * 3 / 2)) * 400;
            if c.bind_mac(&mac, ts, b"body", at(ts)).is_err() {
                refused += 1;
            }
            assert!(c.len() <= capacity);
            assert!(
                c.allocated() <= first,
                "the table grew past its first allocation"
            );
        }
        assert_eq!(refused, capacity, "half of each batch is refused");
        // hashbrown's capacity is 7/8 of its power-of-two bucket count.
        let buckets = (first * 8 / 7).next_power_of_two();
        let table_bytes = buckets * (32 + size_of::<Entry>() + 1);
        assert!(
            table_bytes <= c.memory_bound(),
            "{table_bytes} > {}",
            c.memory_bound()
        );
    }

    #[test]
    fn another_stage_at_once_is_a_collision_and_anything_else_a_reuse() {
        let c = cache(8);
        let signed = Signed::new([4; 32], T, Duration::from_secs(300));
        let bind = |body: &[u8], stage, at: SystemTime| {
            c.bind_signed(&signed, body, stage, at)
                .map_err(|r| r.kind())
        };
        let t0 = at(T);
        bind(b"text", Some(Stage::Text), t0).unwrap();
        let ms = |n| t0 + Duration::from_millis(n);
        // The provider's `first` of the same second: another stage, at once.
        assert_eq!(
            bind(b"first", Some(Stage::First), ms(400)),
            Err(RejectionKind::SignatureCollision)
        );
        assert_eq!(
            bind(b"first", Some(Stage::First), ms(2_000)),
            Err(RejectionKind::SignatureCollision),
            "the window's edge included"
        );
        // Later, or the same stage with another body, or no stage known: a reuse.
        assert_eq!(
            bind(b"first", Some(Stage::First), ms(2_001)),
            Err(RejectionKind::SignatureReused)
        );
        assert_eq!(
            bind(b"forged text", Some(Stage::Text), ms(100)),
            Err(RejectionKind::SignatureReused)
        );
        assert_eq!(
            bind(b"first", None, ms(100)),
            Err(RejectionKind::SignatureReused)
        );
        // The first body again is still a retry, whenever.
        bind(b"text", Some(Stage::Text), ms(60_000)).unwrap();
        assert_eq!(
            RejectionKind::SignatureCollision.status(),
            http::StatusCode::UNAUTHORIZED
        );
    }

    #[test]
    fn zero_capacity_is_a_configuration_error() {
        assert_eq!(
            BindingCache::new(0, Duration::from_secs(300))
                .unwrap_err()
                .kind(),
            ConfigErrorKind::ZeroCapacity
        );
    }
}
