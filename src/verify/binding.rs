//! Binding a signature that does not cover the body to the first body it came with.

use std::{
    collections::BTreeMap,
    fmt,
    future::{self, Future},
    hash::BuildHasher,
    sync::Mutex,
    time::{Duration, SystemTime},
};

use hashbrown::HashTable;
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
    /// let cache = BindingCache::new(Duration::from_secs(300))?;
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
    /// let cache = BindingCache::new(Duration::from_secs(300))?;
    /// assert_eq!(cache.memory_bytes(), Some(0)); // nothing allocated until a signature comes
    /// # let now = std::time::UNIX_EPOCH + Duration::from_secs(1_769_670_760);
    /// cache.bind_mac(&[7; 32], 1_769_670_760, b"{}", now).unwrap();
    /// assert_eq!(cache.memory_bytes(), Some(cache.memory_used()));
    /// assert!(cache.memory_used() > 0);
    /// # Ok::<(), vocals_callback::ConfigError>(())
    /// ```
    fn memory_bytes(&self) -> Option<usize> {
        None
    }
}

/// The memory a [`BindingCache`] may take unless
/// [`with_memory_limit`](BindingCache::with_memory_limit) sets another: 64 MiB, enough for
/// about 1 300 000 live signatures, so more than 3 000 verified callbacks per second
/// sustained over the default 300 s window (see [`BindingCache`] for the sizing).
pub const DEFAULT_MEMORY_LIMIT: usize = 64 << 20;

/// Remembers `signature → digest(body)` until the signature's timestamp leaves the window.
///
/// The provider's MAC covers only `task_id.timestamp`, so a captured header pair verifies
/// with any body for that task inside the window. The cache makes each signature good for
/// one body: the same signature with the same body again is a retry and passes; with a
/// different body it is refused as [`SignatureReused`](RejectionKind::SignatureReused).
///
/// **Memory follows the live entries.** Entries are kept in one bucket per second of
/// expiry; when a second has passed, its whole bucket is dropped, which costs the entries
/// it held and nothing else (no scan, no rebuild). An idle cache holds nothing, a busy one
/// about 45 to 55 bytes per live signature (measured: 44.8 at 3 000 a second, 48.5 at
/// 100): a 36-byte entry (16 bytes of the MAC, the
/// 16-byte body digest, the time of the first bind and its stage), a 4-byte slot of the
/// bucket's index at most half empty, and a quarter of spare room at most. Each signature
/// lives as long as its window: 300 s past its timestamp by default, so a receiver taking
/// `r` verified callbacks a second holds about `300 × r` entries:
///
/// | sustained callbacks per second | live entries | memory |
/// |---:|---:|---:|
/// | 100 | 30 000 | about 1.4 MiB |
/// | 3 000 | 900 000 | about 38 MiB |
/// | 4 500 | 1 350 000 | about 64 MiB (the default limit) |
///
/// It is **bounded** by [`memory_limit`](Self::memory_limit), in bytes
/// ([`DEFAULT_MEMORY_LIMIT`], 64 MiB). When taking a new signature would pass it, the cache
/// **fails closed** with [`BindingCacheFull`](RejectionKind::BindingCacheFull): 503 with a
/// `Retry-After` of the time until the oldest second expires, found without a scan. It
/// never evicts a live entry, because an evicted entry is a replay window reopened; as soon
/// as the oldest second expires its room is taken again. Only verified requests reach it,
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
/// let cache = BindingCache::new(Duration::from_secs(300))?;
/// let now = UNIX_EPOCH + Duration::from_secs(1_769_670_760);
/// let mac = [7u8; 32];
/// cache.bind_mac(&mac, 1_769_670_760, b"{\"a\":1}", now)?;            // first delivery
/// cache.bind_mac(&mac, 1_769_670_760, b"{\"a\":1}", now)?;            // a retry: same body
/// let swapped = cache.bind_mac(&mac, 1_769_670_760, b"{\"a\":2}", now); // a swapped body
/// assert_eq!(swapped.unwrap_err().kind(), RejectionKind::SignatureReused);
/// assert_eq!(cache.len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct BindingCache {
    seconds: Mutex<Seconds>,
    limit: usize,
    tolerance: Duration,
    digest: BodyDigest,
    /// A randomly seeded hasher (foldhash) for the buckets' indexes, so hostile keys
    /// cannot be computed to collide (the keys are MACs of verified requests, unpredictable
    /// anyway); SipHash would cost a fifth of the lookup for no gain.
    hasher: DefaultHashBuilder,
}

/// The buckets by the Unix second after which their entries are outside their window, and
/// what they hold in all.
struct Seconds {
    buckets: BTreeMap<u64, Bucket>,
    entries: usize,
    /// The bytes the buckets have allocated, as [`Bucket::bytes`] counts them.
    bytes: usize,
}

/// The signatures that expire in one second: the entries in arrival order, and an index of
/// their positions by key. Entries are never removed one by one (a whole bucket expires
/// at once), so positions stay valid and the index never holds tombstones.
struct Bucket {
    entries: Vec<Entry>,
    index: HashTable<u32>,
}

/// One signature: 36 bytes, with no padding.
#[derive(Clone, Copy)]
struct Entry {
    /// The first 16 bytes of the MAC. 128 bits of a MAC nobody can forge: two genuine
    /// signatures that share them are as likely as a collision of two random 128-bit
    /// values, and a forger gains nothing from the other half (a lookup finds the entry of
    /// the genuine signature either way).
    key: [u8; 16],
    digest: Digested,
    /// [`Meta`]: the first bind's time and stage, packed.
    meta: u32,
}

/// The first bind's time and stage in 32 bits: the low 29 bits are the milliseconds from
/// the first bind to the end of the entry's expiry second (at most 2 × the tolerance, an
/// hour at most, so at most 7 200 000 < 2²⁹), the high 3 bits the stage's position in
/// [`Stage::ALL`] plus one (0 when unknown).
struct Meta;

impl Meta {
    const MS_BITS: u32 = 29;
    const MS_MASK: u32 = (1 << Self::MS_BITS) - 1;

    fn pack(ms_before_end: u64, stage: Option<Stage>) -> u32 {
        let ms = u32::try_from(ms_before_end)
            .unwrap_or(u32::MAX)
            .min(Self::MS_MASK);
        let stage = stage
            .and_then(|s| Stage::ALL.iter().position(|&t| t == s))
            .and_then(|i| u32::try_from(i + 1).ok())
            .unwrap_or(0);
        (stage << Self::MS_BITS) | ms
    }

    fn ms_before_end(meta: u32) -> u64 {
        u64::from(meta & Self::MS_MASK)
    }

    fn stage(meta: u32) -> Option<Stage> {
        let i = usize::try_from(meta >> Self::MS_BITS).ok()?;
        Stage::ALL.get(i.checked_sub(1)?).copied()
    }
}

/// Bytes a bucket costs beyond its entries and index: its place in the map (a B-tree node
/// holds up to 11 of them and is at least half full) and the allocators' headers.
const BUCKET_OVERHEAD: usize = 2 * (size_of::<u64>() + size_of::<Bucket>()) + 32;

/// The control bytes a hashbrown table allocates beyond one per bucket (a group's width).
const INDEX_TRAILER: usize = 16;

/// The buckets hashbrown allocates to hold `items` (its `capacity_to_buckets`): 4 or 8 for
/// small tables, else a power of two at most 7/8 full.
const fn index_buckets(items: usize) -> usize {
    match items {
        0 => 0,
        1..4 => 4,
        4..8 => 8,
        _ => (items.saturating_mul(8) / 7).next_power_of_two(),
    }
}

/// The bytes of an index able to hold `items`: 4 for a slot and 1 for its control byte per
/// bucket.
const fn index_bytes(items: usize) -> usize {
    match index_buckets(items) {
        0 => 0,
        buckets => buckets * (size_of::<u32>() + 1) + INDEX_TRAILER,
    }
}

impl Bucket {
    /// The bytes this bucket has allocated.
    fn bytes(&self) -> usize {
        BUCKET_OVERHEAD
            + self.entries.capacity() * size_of::<Entry>()
            + index_bytes(self.index.capacity())
    }

    /// The bytes this bucket will have allocated once it holds one entry more.
    fn bytes_with_one_more(&self) -> usize {
        let len = self.entries.len();
        let entries = if len < self.entries.capacity() {
            self.entries.capacity()
        } else {
            len + Self::growth(len)
        };
        let index = if self.index.len() < self.index.capacity() {
            self.index.capacity()
        } else {
            self.index.len() + 1
        };
        BUCKET_OVERHEAD + entries * size_of::<Entry>() + index_bytes(index)
    }

    /// Room added to a full entry list: a quarter (at least 4), so at most a fifth of a
    /// bucket is spare room, and growing costs an amortised copy of each entry four times.
    const fn growth(len: usize) -> usize {
        if len < 16 { 4 } else { len / 4 }
    }

    fn find(&self, hash: u64, key: &[u8; 16]) -> Option<&Entry> {
        let entries = &self.entries;
        self.index
            .find(hash, |&i| entries[i as usize].key == *key)
            .map(|&i| &entries[i as usize])
    }
}

impl BindingCache {
    /// A cache keeping each signature for `tolerance` past its timestamp (use the
    /// verifier's tolerance), within [`DEFAULT_MEMORY_LIMIT`], digesting bodies with a
    /// randomly keyed PRF. It allocates nothing until the first signature arrives.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for an invalid tolerance, or no random bytes from the operating
    /// system for the key.
    pub fn new(tolerance: Duration) -> Result<Self, ConfigError> {
        Ok(Self {
            seconds: Mutex::new(Seconds {
                buckets: BTreeMap::new(),
                entries: 0,
                bytes: 0,
            }),
            limit: DEFAULT_MEMORY_LIMIT,
            tolerance: time::check_tolerance(tolerance)?,
            digest: BodyDigest::random()?,
            hasher: DefaultHashBuilder::default(),
        })
    }

    /// The same cache, taking at most `bytes` of memory (503 past it).
    ///
    /// ```
    /// use std::time::Duration;
    /// use vocals_callback::verify::BindingCache;
    ///
    /// let cache = BindingCache::new(Duration::from_secs(300))?.with_memory_limit(16 << 20)?;
    /// assert_eq!(cache.memory_limit(), 16 << 20);
    /// assert_eq!(cache.memory_used(), 0);
    /// # Ok::<(), vocals_callback::ConfigError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ZeroCapacity`](ConfigErrorKind::ZeroCapacity) for a limit too small to hold one
    /// entry.
    pub fn with_memory_limit(mut self, bytes: usize) -> Result<Self, ConfigError> {
        if bytes < Self::MIN_MEMORY_LIMIT {
            return Err(ConfigError::new(
                ConfigErrorKind::ZeroCapacity,
                "binding memory limit holds no entry",
            ));
        }
        self.limit = bytes;
        Ok(self)
    }

    /// The smallest [`memory_limit`](Self::memory_limit): the bytes of one second holding
    /// one signature. A cache with this limit holds the signatures of one second of expiry.
    ///
    /// ```
    /// use std::time::Duration;
    /// use vocals_callback::verify::BindingCache;
    ///
    /// assert!(BindingCache::MIN_MEMORY_LIMIT < 1024);
    /// let tight = BindingCache::new(Duration::from_secs(300))?
    ///     .with_memory_limit(BindingCache::MIN_MEMORY_LIMIT)?;
    /// # Ok::<(), vocals_callback::ConfigError>(())
    /// ```
    pub const MIN_MEMORY_LIMIT: usize =
        BUCKET_OVERHEAD + Bucket::growth(0) * size_of::<Entry>() + index_bytes(1);

    /// The same cache, digesting bodies with `digest` instead of a randomly keyed PRF.
    ///
    /// ```
    /// use std::time::Duration;
    /// use vocals_callback::verify::{BindingCache, BodyDigest};
    ///
    /// let cache = BindingCache::new(Duration::from_secs(300))?.with_digest(BodyDigest::sha256());
    /// assert!(cache.is_empty());
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
    /// taking it would pass the memory limit.
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
    /// window. A signature already outside its window is not kept: no verifier accepts it.
    fn bind_signed(
        &self,
        signed: &Signed,
        body: &[u8],
        stage: Option<Stage>,
        now: SystemTime,
    ) -> Result<(), Rejection> {
        // Digested and hashed outside the lock: the expensive parts.
        let digest = self.digest.digest(body);
        let mut key = [0u8; 16];
        key.copy_from_slice(&signed.mac[..16]);
        let hash = self.hasher.hash_one(key);
        // Keep the binding as long as the verifier accepts the signature, even when its
        // tolerance is longer than this cache's.
        let window = signed.window.max(self.tolerance).as_secs();
        let expires = signed.timestamp.saturating_add(window);
        let now_ms = time::unix_millis(now);
        let now_secs = now_ms / 1000;
        let end_ms = expires.saturating_add(1).saturating_mul(1000);

        let mut seconds = lock(&self.seconds);
        seconds.expire(now_secs);
        if expires < now_secs {
            return Ok(());
        }
        // One look at the signature's second: its entry if bound, else the room it takes.
        let (before, after, len) = match seconds.buckets.get(&expires) {
            Some(bucket) => {
                if let Some(found) = bucket.find(hash, &key) {
                    return if found.digest.matches(&digest) {
                        Ok(())
                    } else {
                        let first_ms = end_ms.saturating_sub(Meta::ms_before_end(found.meta));
                        Err(conflict(Meta::stage(found.meta), first_ms, stage, now_ms))
                    };
                }
                (
                    bucket.bytes(),
                    bucket.bytes_with_one_more(),
                    bucket.entries.len(),
                )
            }
            None => (0, Self::MIN_MEMORY_LIMIT, 0),
        };
        let (Ok(position), true) = (
            u32::try_from(len),
            seconds.bytes - before + after <= self.limit,
        ) else {
            return Err(seconds.full(now_secs));
        };
        let entry = Entry {
            key,
            digest,
            meta: Meta::pack(end_ms.saturating_sub(now_ms), stage),
        };
        let hasher = &self.hasher;
        let bucket = seconds.buckets.entry(expires).or_insert_with(|| Bucket {
            entries: Vec::new(),
            index: HashTable::new(),
        });
        if len == bucket.entries.capacity() {
            bucket.entries.reserve_exact(Bucket::growth(len));
        }
        bucket.entries.push(entry);
        let entries = &bucket.entries;
        bucket.index.insert_unique(hash, position, |&i| {
            hasher.hash_one(entries[i as usize].key)
        });
        let grown = bucket.bytes();
        seconds.bytes = seconds.bytes - before + grown;
        seconds.entries += 1;
        Ok(())
    }

    /// Binds the signature of a [`Verified`] pass, if its scheme needs binding (its MAC
    /// does not cover the body); passes otherwise.
    ///
    /// # Errors
    ///
    /// As [`bind_mac`](Self::bind_mac).
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

    /// Signatures held now (live, or expired and not yet dropped: a bucket is dropped by
    /// the first bind after its second).
    #[must_use]
    pub fn len(&self) -> usize {
        lock(&self.seconds).entries
    }

    /// `true` when no signature is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes the entries take now: their buckets' allocations, as the limit counts
    /// them.
    #[must_use]
    pub fn memory_used(&self) -> usize {
        lock(&self.seconds).bytes
    }

    /// The most bytes the entries may take.
    #[must_use]
    pub fn memory_limit(&self) -> usize {
        self.limit
    }

    /// The tolerance each binding is kept for past its timestamp, at least (a verifier
    /// with a longer window is honoured).
    #[must_use]
    pub fn tolerance(&self) -> Duration {
        self.tolerance
    }
}

impl Seconds {
    /// The refusal of a signature that would pass the limit. The oldest second is the
    /// first to give room back: retry just after it.
    fn full(&self, now: u64) -> Rejection {
        let oldest = self.buckets.keys().next().copied().unwrap_or(now);
        let wait = oldest.saturating_sub(now).saturating_add(1);
        Rejection::new(RejectionKind::BindingCacheFull).with_retry_after(Duration::from_secs(wait))
    }

    /// Drops the buckets of every second before `now`: O(buckets dropped), each a free of
    /// its two allocations.
    fn expire(&mut self, now: u64) {
        while let Some(entry) = self.buckets.first_entry() {
            if *entry.key() >= now {
                break;
            }
            let bucket = entry.remove();
            self.bytes -= bucket.bytes();
            self.entries -= bucket.entries.len();
        }
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
        Some(self.memory_used())
    }
}

impl fmt::Debug for BindingCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = lock(&self.seconds);
        f.debug_struct("BindingCache")
            .field("len", &seconds.entries)
            .field("memory_used", &seconds.bytes)
            .field("memory_limit", &self.limit)
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

    fn cache() -> BindingCache {
        BindingCache::new(Duration::from_secs(300)).unwrap()
    }

    /// A distinct MAC per `(second, n)`, as verified signatures are.
    fn mac(second: u64, n: u64) -> [u8; 32] {
        let mut mac = [0u8; 32];
        mac[..8].copy_from_slice(&second.to_le_bytes());
        mac[8..16].copy_from_slice(&n.to_le_bytes());
        mac
    }

    #[test]
    fn a_retry_passes_and_a_swapped_body_is_refused() {
        let c = cache();
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
        let c = cache();
        c.bind_mac(&[1; 32], T, b"body", at(T)).unwrap();
        assert!(
            c.bind_mac(&[1; 32], T, b"other", at(T + 300)).is_err(),
            "still inside at the edge"
        );
        // Past it, the signature verifies nowhere: it is passed and not kept, and its
        // expired second was dropped whole.
        c.bind_mac(&[1; 32], T, b"other", at(T + 301)).unwrap();
        assert_eq!(c.len(), 0);
    }

    #[test]
    fn an_idle_cache_holds_nothing_and_gives_everything_back() {
        let c = cache();
        assert_eq!((c.len(), c.memory_used()), (0, 0));
        for n in 0..1_000 {
            c.bind_mac(&mac(0, n), T, b"body", at(T)).unwrap();
        }
        assert!(c.memory_used() > 1_000 * size_of::<Entry>());
        // Long after: one new signature, and only its own bucket is left.
        c.bind_mac(&mac(1, 0), T + 1_000, b"body", at(T + 1_000))
            .unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c.memory_used(), BindingCache::MIN_MEMORY_LIMIT);
        assert!(c.memory_used() < 1024, "{} bytes", c.memory_used());
    }

    #[test]
    fn a_full_cache_fails_closed_with_retry_after_and_recovers_when_its_oldest_second_expires() {
        let c = cache()
            .with_memory_limit(2 * BindingCache::MIN_MEMORY_LIMIT)
            .unwrap();
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
        assert!(c.bind_mac(&[3; 32], T + 300, b"c", at(T + 300)).is_err());
        // Once the first has expired, its room is taken again.
        c.bind_mac(&[3; 32], T + 301, b"c", at(T + 301)).unwrap();
        assert_eq!(c.len(), 2);
    }

    /// The default sizing: 3 000 verified callbacks a second over the whole 300 s window
    /// fit in the default 64 MiB; past the limit every new signature is refused, in
    /// constant time and changing nothing; each second that expires gives its room back.
    #[test]
    fn a_window_of_900_000_signatures_fits_the_default_limit_and_recovers_second_by_second() {
        const RATE: u64 = 3_000;
        let c = cache();
        for second in 0..300 {
            for n in 0..RATE {
                c.bind_mac(&mac(second, n), T + second, b"body", at(T + second))
                    .unwrap_or_else(|e| panic!("second {second}, #{n}: {e}"));
            }
        }
        assert_eq!(c.len(), 900_000);
        let used = c.memory_used();
        assert!(used <= DEFAULT_MEMORY_LIMIT, "{used} bytes");
        assert!(used / 900_000 <= 56, "{} bytes per entry", used / 900_000);

        // A burst at T + 299 until the limit: then every new signature is refused with a
        // wait of one second (the oldest second, T + 300, expires next), and the refusals
        // hold nothing.
        let now = T + 299;
        let mut accepted = 0;
        let refusal = loop {
            match c.bind_mac(&mac(1_000, accepted), now, b"body", at(now)) {
                Ok(()) => accepted += 1,
                Err(e) => break e,
            }
        };
        assert_eq!(refusal.kind(), RejectionKind::BindingCacheFull);
        assert_eq!(refusal.retry_after(), Some(Duration::from_secs(2)));
        let (len, used) = (c.len(), c.memory_used());
        assert!(used <= DEFAULT_MEMORY_LIMIT);
        assert!(
            DEFAULT_MEMORY_LIMIT - used < DEFAULT_MEMORY_LIMIT / 4,
            "refused with {used} of {DEFAULT_MEMORY_LIMIT} bytes used"
        );
        for n in 0..10_000 {
            let e = c
                .bind_mac(&mac(2_000, n), now, b"body", at(now))
                .unwrap_err();
            assert_eq!(e.kind(), RejectionKind::BindingCacheFull);
        }
        assert_eq!((c.len(), c.memory_used()), (len, used));
        // Every entry is still bound: a swapped body is refused as a reuse, not a full cache.
        assert_eq!(
            c.bind_mac(&mac(0, 0), T, b"swapped", at(now))
                .unwrap_err()
                .kind(),
            RejectionKind::SignatureReused
        );

        // Second by second, each expired second gives its 3 000 entries back at once.
        for second in 1..=300 {
            let now = T + 300 + second;
            c.bind_mac(&mac(3_000, second), now, b"body", at(now))
                .unwrap_or_else(|e| panic!("still refused {second} s after the first expiry: {e}"));
            // Left: the seconds not yet expired (the burst was in the last of them), and one
            // new signature per second since.
            let old = if second < 300 {
                (300 - second) * RATE + accepted
            } else {
                0
            };
            assert_eq!(
                c.len() as u64,
                old + second,
                "{second} s after the first expiry"
            );
        }
        // An idle minute later: one bucket of one entry per second of those 300.
        assert_eq!(c.memory_used(), 300 * BindingCache::MIN_MEMORY_LIMIT);
    }

    #[test]
    fn the_accounting_follows_the_allocations() {
        let hasher = DefaultHashBuilder::default();
        let mut bucket = Bucket {
            entries: Vec::new(),
            index: HashTable::new(),
        };
        for n in 0..100_000u64 {
            let predicted = bucket.bytes_with_one_more();
            let mut key = [0u8; 16];
            key[..8].copy_from_slice(&n.to_le_bytes());
            let len = bucket.entries.len();
            if len == bucket.entries.capacity() {
                bucket.entries.reserve_exact(Bucket::growth(len));
            }
            bucket.entries.push(Entry {
                key,
                digest: BodyDigest::sha256().digest(b""),
                meta: 0,
            });
            let entries = &bucket.entries;
            bucket
                .index
                .insert_unique(hasher.hash_one(key), u32::try_from(len).unwrap(), |&i| {
                    hasher.hash_one(entries[i as usize].key)
                });
            assert_eq!(bucket.bytes(), predicted, "after {n}");
            // The index's real capacity is what the accounting assumes it is.
            let buckets = index_buckets(bucket.index.capacity());
            assert!(bucket.index.capacity() < buckets);
            assert!(bucket.index.capacity() >= buckets * 7 / 8 - 1);
        }
        // A full bucket at most a fifth spare, its index at most half empty.
        let per_entry = bucket.bytes() / 100_000;
        assert!(per_entry <= 36 + 36 / 4 + 10 + 1, "{per_entry}");
        assert_eq!(size_of::<Entry>(), 36);
    }

    #[test]
    fn the_first_binds_time_and_stage_are_packed_losslessly() {
        for stage in Stage::ALL.iter().copied().map(Some).chain([None]) {
            for ms in [0, 1, 999, 2_000, 7_200_000] {
                let meta = Meta::pack(ms, stage);
                assert_eq!((Meta::ms_before_end(meta), Meta::stage(meta)), (ms, stage));
            }
        }
        // Saturated, not wrapped: an absurd distance reads as long ago (a reuse).
        assert_eq!(
            Meta::ms_before_end(Meta::pack(u64::MAX, None)),
            u64::from(Meta::MS_MASK)
        );
    }

    #[test]
    fn another_stage_at_once_is_a_collision_and_anything_else_a_reuse() {
        let c = cache();
        let signed = Signed::new([4; 32], T, Duration::from_secs(300));
        let bind = |body: &[u8], stage, at: SystemTime| {
            c.bind_signed(&signed, body, stage, at)
                .map_err(|r| r.kind())
        };
        let t0 = at(T) + Duration::from_millis(250);
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
    fn a_limit_that_holds_no_entry_is_a_configuration_error() {
        assert_eq!(
            cache().with_memory_limit(0).unwrap_err().kind(),
            ConfigErrorKind::ZeroCapacity
        );
        cache()
            .with_memory_limit(BindingCache::MIN_MEMORY_LIMIT)
            .unwrap();
    }
}
