//! The default, in-process dedup store.

use std::{
    fmt,
    hash::BuildHasher,
    sync::{
        Mutex, MutexGuard,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use hashlink::{DefaultHashBuilder, LinkedHashMap, linked_hash_map::RawEntryMut};

use super::{Claim, ClaimRequest, ClaimToken, DedupKey, DedupStore, StoreError};
use crate::{config::ConfigError, config::ConfigErrorKind, event::Stage, sync::lock};

/// Tasks remembered by default: a day of a busy account's callbacks.
pub const DEFAULT_CAPACITY: usize = 100_000;
/// How long a handled key is remembered by default.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(24 * 60 * 60);
/// The shortest retention allowed: the provider retries for about 21 minutes.
pub(crate) const MIN_RETENTION: Duration = Duration::from_secs(30 * 60);
/// Shards, so concurrent claims of different tasks rarely wait on one lock.
const SHARDS: usize = 16;

/// The in-memory [`DedupStore`]: sharded, bounded, expiring, with a randomly keyed hasher.
///
/// - One entry per task holds the state of each of its stages (so the stage-order guard is
///   one lookup), in an insertion-ordered map per shard: every claim or completion moves the
///   task to the back, so the front is always the least recently active task. Entries
///   older than the retention (default 24 h) are dropped from the front as new ones come;
///   when a shard is full, its least recently active task is evicted (an exact order:
///   caches that approximate it were measured to drop *recent* keys under a flood of new
///   ones). A task with a live `InFlight` stage is never evicted; if a whole shard is in
///   flight, the claim fails (503) rather than let a duplicate run.
/// - Keys are hashed with a randomly seeded hasher (foldhash, hashbrown's default, seeded
///   per map), so colliding task ids cannot be computed in advance; and only requests that
///   passed verification reach the store, so a sender without the key cannot choose any.
/// - Per process: a restart, or a second replica, lets a duplicate through. Handlers must be
///   idempotent (and the provider's own retries make that wise anyway).
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use vocals_callback::{dedup::{Claim, ClaimRequest, DedupKey, DedupStore, MemoryStore}, Stage};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = MemoryStore::new(10_000)?;
/// let now = SystemTime::now();
/// let key = DedupKey::new("65e563474bd7", Stage::Complete);
/// let req = ClaimRequest::new(key, now, Duration::from_secs(11));
///
/// let Claim::New(token) = store.claim(&req).await? else { panic!("first claim") };
/// assert!(matches!(store.claim(&req).await?, Claim::InFlight { .. }));
/// store.complete(&key, token, now).await?;
/// assert_eq!(store.claim(&req).await?, Claim::Done);
///
/// // The guard: a `first` after the task's `complete` was handled is late.
/// let late = ClaimRequest::new(DedupKey::new("65e563474bd7", Stage::First), now, Duration::from_secs(11));
/// assert_eq!(store.claim(&late).await?, Claim::Superseded { by: Stage::Complete });
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
/// ```
pub struct MemoryStore {
    shards: Box<[Mutex<Shard>]>,
    /// The one hasher of every shard's map (each holds a clone: one seed), so a task id is
    /// hashed once per call, for picking its shard and for every lookup in it.
    hasher: DefaultHashBuilder,
    capacity: usize,
    /// Tasks held, all shards together: the capacity is global, so an uneven spread of
    /// task ids over the shards never evicts early.
    len: AtomicUsize,
    retention_ms: u64,
    next_token: AtomicU64,
}

struct Shard {
    tasks: LinkedHashMap<Box<str>, Task, DefaultHashBuilder>,
}

/// The state of one task's stages.
struct Task {
    /// Unix milliseconds of the last claim or completion.
    touched: u64,
    /// `text`, `first`, `complete`, `failed`.
    slots: [Slot; 4],
    /// Unknown stages by raw `callbackType` (rare: empty, no allocation).
    unknown: Box<[(Box<str>, Slot)]>,
}

/// One stage's state in 16 bytes: free (`token == 0, until == 0`), done
/// (`token == 0, until == 1`), or in flight for `token` until `until` (Unix ms).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Slot {
    token: u64,
    until: u64,
}

impl Slot {
    const FREE: Self = Self { token: 0, until: 0 };
    const DONE: Self = Self { token: 0, until: 1 };

    fn in_flight(token: u64, now: u64, lease: Duration) -> Self {
        Self {
            token,
            until: now.saturating_add(millis(lease)),
        }
    }

    fn is_done(self) -> bool {
        self == Self::DONE
    }

    /// When a live claim runs out, if there is one.
    fn live_until(self, now: u64) -> Option<u64> {
        (self.token != 0 && self.until > now).then_some(self.until)
    }
}

impl MemoryStore {
    /// A store for up to `capacity` tasks, with the default retention (24 h).
    ///
    /// # Errors
    ///
    /// [`ZeroCapacity`](ConfigErrorKind::ZeroCapacity) for a capacity of zero.
    pub fn new(capacity: usize) -> Result<Self, ConfigError> {
        if capacity == 0 {
            return Err(ConfigError::new(
                ConfigErrorKind::ZeroCapacity,
                "dedup store capacity must be at least 1",
            ));
        }
        // Small stores get one shard, so eviction follows the exact order.
        let shards = if capacity < SHARDS * 64 { 1 } else { SHARDS };
        let hasher = DefaultHashBuilder::default();
        Ok(Self {
            shards: (0..shards)
                .map(|_| {
                    Mutex::new(Shard {
                        tasks: LinkedHashMap::with_hasher(hasher),
                    })
                })
                .collect(),
            hasher,
            capacity,
            len: AtomicUsize::new(0),
            retention_ms: millis(DEFAULT_RETENTION),
            next_token: AtomicU64::new(1),
        })
    }

    /// Remembers handled keys for `retention` instead of 24 h.
    ///
    /// # Errors
    ///
    /// [`InvalidRetention`](ConfigErrorKind::InvalidRetention) under 30 minutes: the
    /// provider retries for about 21, and a shorter memory would let its retries through.
    pub fn with_retention(mut self, retention: Duration) -> Result<Self, ConfigError> {
        if retention < MIN_RETENTION {
            return Err(ConfigError::new(
                ConfigErrorKind::InvalidRetention,
                "dedup retention must be at least 30 minutes",
            ));
        }
        self.retention_ms = millis(retention);
        Ok(self)
    }

    /// Tasks held now (live or not yet dropped).
    #[must_use]
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// `true` when no task is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most tasks held at once.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How long a handled key is remembered.
    ///
    /// ```
    /// # use vocals_callback::dedup::{DEFAULT_RETENTION, MemoryStore};
    /// assert_eq!(MemoryStore::new(10)?.retention(), DEFAULT_RETENTION);
    /// # Ok::<(), vocals_callback::ConfigError>(())
    /// ```
    #[must_use]
    pub fn retention(&self) -> Duration {
        Duration::from_millis(self.retention_ms)
    }

    /// `task_id`'s hash (the maps' own: `Box<str>` hashes as `str`) and its shard, locked.
    fn shard(&self, task_id: &str) -> (u64, MutexGuard<'_, Shard>) {
        let hash = self.hasher.hash_one(task_id);
        // The shard comes from bits 32 and up: hashbrown takes a bucket from the low bits
        // and its tag from the top 7, so the keys of one shard still spread over its table.
        // The remainder is below the shard count, so it fits in usize.
        #[allow(clippy::cast_possible_truncation)]
        let index = ((hash >> 32) % self.shards.len() as u64) as usize;
        (hash, lock(&self.shards[index]))
    }

    /// Claims synchronously (the memory store never waits).
    fn claim_now(&self, req: &ClaimRequest<'_>) -> Result<Claim, StoreError> {
        let key = req.key();
        let now = unix_ms(req.now());
        let (hash, mut shard) = self.shard(key.task_id());
        let dropped = shard.drop_expired(now, self.retention_ms);
        self.len.fetch_sub(dropped, Ordering::Relaxed);
        let retention = self.retention_ms;
        if let RawEntryMut::Occupied(mut entry) = shard
            .tasks
            .raw_entry_mut()
            .from_key_hashed_nocheck(hash, key.task_id())
        {
            let task = entry.get_mut();
            if !task.expired(now, retention) {
                let slot = *task.slot(key);
                if slot.is_done() {
                    return Ok(Claim::Done);
                }
                if let Some(until) = slot.live_until(now) {
                    return Ok(Claim::InFlight {
                        retry_after: Duration::from_millis(until - now),
                    });
                }
                if let Some(by) = task.completed_later(key).filter(|_| req.late_stage_guard()) {
                    return Ok(Claim::Superseded { by });
                }
            } else {
                *task = Task::new(now);
            }
            let token = self.token();
            task.touched = now;
            *task.slot_mut(key) = Slot::in_flight(token, now, req.lease());
            entry.to_back();
            return Ok(Claim::New(token_of(token)));
        }
        self.make_room(&mut shard, now)?;
        let token = self.token();
        let mut task = Task::new(now);
        *task.slot_mut(key) = Slot::in_flight(token, now, req.lease());
        shard.insert_new(hash, key.task_id(), task);
        Ok(Claim::New(token_of(token)))
    }

    fn complete_now(&self, key: &DedupKey<'_>, now: SystemTime) -> Result<(), StoreError> {
        let now = unix_ms(now);
        let (hash, mut shard) = self.shard(key.task_id());
        if let RawEntryMut::Occupied(mut entry) = shard
            .tasks
            .raw_entry_mut()
            .from_key_hashed_nocheck(hash, key.task_id())
        {
            let task = entry.get_mut();
            task.touched = now;
            *task.slot_mut(key) = Slot::DONE;
            entry.to_back();
            return Ok(());
        }
        // Evicted or expired while the handler ran: remember the success all the same.
        self.make_room(&mut shard, now)?;
        let mut task = Task::new(now);
        *task.slot_mut(key) = Slot::DONE;
        shard.insert_new(hash, key.task_id(), task);
        Ok(())
    }

    fn release_now(&self, key: &DedupKey<'_>, token: ClaimToken) {
        let (hash, mut shard) = self.shard(key.task_id());
        if let RawEntryMut::Occupied(mut entry) = shard
            .tasks
            .raw_entry_mut()
            .from_key_hashed_nocheck(hash, key.task_id())
        {
            let slot = entry.get_mut().slot_mut(key);
            if slot.token != 0 && slot.token == token.get() {
                *slot = Slot::FREE;
            }
        }
    }

    /// Counts one more task, evicting from `shard` first when the store is full (the
    /// shard's least recently active task approximates the store's: ids spread evenly).
    fn make_room(&self, shard: &mut Shard, now: u64) -> Result<(), StoreError> {
        if self.len.fetch_add(1, Ordering::Relaxed) < self.capacity {
            return Ok(());
        }
        if shard.evict_one(now) {
            self.len.fetch_sub(1, Ordering::Relaxed);
            Ok(())
        } else {
            self.len.fetch_sub(1, Ordering::Relaxed);
            Err(StoreError::new("every remembered task is in flight"))
        }
    }

    fn token(&self) -> u64 {
        self.next_token.fetch_add(1, Ordering::Relaxed)
    }
}

impl Default for MemoryStore {
    /// [`DEFAULT_CAPACITY`] tasks, [`DEFAULT_RETENTION`].
    fn default() -> Self {
        match Self::new(DEFAULT_CAPACITY) {
            Ok(store) => store,
            Err(_) => unreachable!("the default capacity is not zero"),
        }
    }
}

impl DedupStore for MemoryStore {
    fn entries(&self) -> Option<usize> {
        Some(self.len())
    }

    async fn claim(&self, req: &ClaimRequest<'_>) -> Result<Claim, StoreError> {
        self.claim_now(req)
    }

    async fn complete(
        &self,
        key: &DedupKey<'_>,
        _token: ClaimToken,
        now: SystemTime,
    ) -> Result<(), StoreError> {
        self.complete_now(key, now)
    }

    async fn release(&self, key: &DedupKey<'_>, token: ClaimToken) -> Result<(), StoreError> {
        self.release_now(key, token);
        Ok(())
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .field("retention", &Duration::from_millis(self.retention_ms))
            .finish_non_exhaustive()
    }
}

impl Shard {
    /// Adds a task known to be absent, at the back, with its hash computed once by the
    /// caller. (The lookup is repeated because making room may have evicted: the vacant
    /// entry of the first one would be stale.)
    fn insert_new(&mut self, hash: u64, task_id: &str, task: Task) {
        match self
            .tasks
            .raw_entry_mut()
            .from_key_hashed_nocheck(hash, task_id)
        {
            RawEntryMut::Vacant(entry) => {
                entry.insert_hashed_nocheck(hash, task_id.into(), task);
            }
            // Unreachable (the caller holds the shard's lock and found no entry), but
            // correct all the same.
            RawEntryMut::Occupied(mut entry) => {
                *entry.get_mut() = task;
                entry.to_back();
            }
        }
    }

    /// Drops expired tasks from the front (the least recently active), stopping at the
    /// first live one: amortised O(1) per claim. Returns how many were dropped.
    fn drop_expired(&mut self, now: u64, retention: u64) -> usize {
        let mut dropped = 0;
        while let Some((_, task)) = self.tasks.front() {
            if !task.expired(now, retention) {
                break;
            }
            self.tasks.pop_front();
            dropped += 1;
        }
        dropped
    }

    /// Evicts the least recently active task that has nothing in flight; `false` when
    /// every task of the shard is in flight (or there is none). Tasks in flight that it
    /// passes over keep their place: moving them would put an abandoned claim behind tasks
    /// active after it, to be kept in their stead once its lease runs out.
    fn evict_one(&mut self, now: u64) -> bool {
        match self.tasks.front() {
            None => return false,
            // The usual case, without a scan or a copy of the key.
            Some((_, task)) if !task.in_flight(now) => return self.tasks.pop_front().is_some(),
            Some(_) => {}
        }
        let idle = self
            .tasks
            .iter()
            .find(|(_, task)| !task.in_flight(now))
            .map(|(id, _)| id.clone());
        idle.is_some_and(|id| self.tasks.remove(&id).is_some())
    }
}

impl Task {
    fn new(now: u64) -> Self {
        Self {
            touched: now,
            slots: [Slot::FREE; 4],
            unknown: Box::default(),
        }
    }

    fn expired(&self, now: u64, retention: u64) -> bool {
        self.touched.saturating_add(retention) <= now
    }

    fn in_flight(&self, now: u64) -> bool {
        let live = |s: &Slot| s.live_until(now).is_some();
        self.slots.iter().any(live) || self.unknown.iter().any(|(_, s)| live(s))
    }

    fn slot(&self, key: &DedupKey<'_>) -> &Slot {
        match index(key.stage()) {
            Some(i) => &self.slots[i],
            None => self
                .unknown
                .iter()
                .find(|(t, _)| **t == *key.unknown_type())
                .map_or(&Slot::FREE, |(_, s)| s),
        }
    }

    fn slot_mut(&mut self, key: &DedupKey<'_>) -> &mut Slot {
        match index(key.stage()) {
            Some(i) => &mut self.slots[i],
            None => {
                let pos = self
                    .unknown
                    .iter()
                    .position(|(t, _)| **t == *key.unknown_type());
                let pos = pos.unwrap_or_else(|| {
                    // Rare (a stage this crate does not know): a reallocation is fine.
                    let mut unknown = std::mem::take(&mut self.unknown).into_vec();
                    unknown.push((key.unknown_type().into(), Slot::FREE));
                    self.unknown = unknown.into_boxed_slice();
                    self.unknown.len() - 1
                });
                &mut self.unknown[pos].1
            }
        }
    }

    /// The latest of `key`'s later stages that was handled.
    fn completed_later(&self, key: &DedupKey<'_>) -> Option<Stage> {
        key.later_stages()
            .iter()
            .rev()
            .copied()
            .find(|stage| index(*stage).is_some_and(|i| self.slots[i].is_done()))
    }
}

fn index(stage: Stage) -> Option<usize> {
    match stage {
        Stage::Text => Some(0),
        Stage::First => Some(1),
        Stage::Complete => Some(2),
        Stage::Failed => Some(3),
        Stage::Unknown => None,
    }
}

fn token_of(value: u64) -> ClaimToken {
    ClaimToken::new(value)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEASE: Duration = Duration::from_secs(11);

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_769_670_760 + secs)
    }

    fn claim(store: &MemoryStore, task: &str, stage: Stage, now: SystemTime) -> Claim {
        store
            .claim_now(&ClaimRequest::new(DedupKey::new(task, stage), now, LEASE))
            .unwrap()
    }

    fn token(claim: Claim) -> ClaimToken {
        match claim {
            Claim::New(token) => token,
            other => panic!("expected a new claim, got {other:?}"),
        }
    }

    #[test]
    fn claim_inflight_done_and_release() {
        let store = MemoryStore::new(100).unwrap();
        let key = DedupKey::new("t", Stage::Complete);
        let t = token(claim(&store, "t", Stage::Complete, at(0)));
        assert_eq!(
            claim(&store, "t", Stage::Complete, at(1)),
            Claim::InFlight {
                retry_after: Duration::from_secs(10)
            }
        );
        store.release_now(&key, t);
        let t2 = token(claim(&store, "t", Stage::Complete, at(2)));
        assert_ne!(t, t2);
        // A stale token releases nothing.
        store.release_now(&key, t);
        assert!(matches!(
            claim(&store, "t", Stage::Complete, at(3)),
            Claim::InFlight { .. }
        ));
        store.complete_now(&key, at(3)).unwrap();
        assert_eq!(claim(&store, "t", Stage::Complete, at(4)), Claim::Done);
        // Other stages of the task are their own keys.
        token(claim(&store, "t", Stage::Failed, at(4)));
    }

    #[test]
    fn an_abandoned_claim_is_reclaimed_after_its_lease() {
        let store = MemoryStore::new(100).unwrap();
        token(claim(&store, "t", Stage::Text, at(0)));
        assert!(matches!(
            claim(&store, "t", Stage::Text, at(10)),
            Claim::InFlight { .. }
        ));
        token(claim(&store, "t", Stage::Text, at(11)));
    }

    #[test]
    fn late_stages_are_superseded_only_after_a_later_success() {
        let store = MemoryStore::new(100).unwrap();
        // In flight is not handled: the guard waits for success.
        token(claim(&store, "t", Stage::Complete, at(0)));
        token(claim(&store, "t", Stage::First, at(0)));
        store
            .complete_now(&DedupKey::new("t", Stage::Complete), at(1))
            .unwrap();
        assert_eq!(
            claim(&store, "t", Stage::Text, at(2)),
            Claim::Superseded {
                by: Stage::Complete
            }
        );
        // A failure is never late; and the guard can be turned off.
        token(claim(&store, "t", Stage::Failed, at(2)));
        let req = ClaimRequest::new(DedupKey::new("t", Stage::Text), at(2), LEASE)
            .with_late_stage_guard(false);
        token(store.claim_now(&req).unwrap());
    }

    #[test]
    fn unknown_stages_are_keyed_by_their_raw_type() {
        let store = MemoryStore::new(100).unwrap();
        let a = DedupKey {
            task_id: "t",
            stage: Stage::Unknown,
            unknown_type: "extend",
        };
        let b = DedupKey {
            unknown_type: "cover",
            ..a
        };
        let req = |k| ClaimRequest::new(k, at(0), LEASE);
        token(store.claim_now(&req(a)).unwrap());
        token(store.claim_now(&req(b)).unwrap());
        store.complete_now(&a, at(0)).unwrap();
        assert_eq!(store.claim_now(&req(a)).unwrap(), Claim::Done);
    }

    #[test]
    fn handled_keys_expire_after_the_retention() {
        let store = MemoryStore::new(100).unwrap();
        let key = DedupKey::new("t", Stage::First);
        claim(&store, "t", Stage::First, at(0));
        store.complete_now(&key, at(0)).unwrap();
        let day = DEFAULT_RETENTION.as_secs();
        assert_eq!(claim(&store, "t", Stage::First, at(day - 1)), Claim::Done);
        // The duplicate check refreshed nothing: only claims and completions touch a task.
        token(claim(&store, "t", Stage::First, at(day)));
    }

    #[test]
    fn a_full_store_evicts_the_least_recently_active_task_but_never_one_in_flight() {
        let store = MemoryStore::new(3).unwrap();
        assert_eq!(store.capacity(), 3);
        let busy = token(claim(&store, "busy", Stage::Text, at(0)));
        for id in ["a", "b"] {
            claim(&store, id, Stage::Text, at(0));
            store
                .complete_now(&DedupKey::new(id, Stage::Text), at(0))
                .unwrap();
        }
        token(claim(&store, "c", Stage::Text, at(1)));
        assert_eq!(store.len(), 3);
        // "a" was evicted, "b" was not, "busy" kept its claim.
        assert_eq!(claim(&store, "b", Stage::Text, at(1)), Claim::Done);
        assert!(matches!(
            claim(&store, "busy", Stage::Text, at(1)),
            Claim::InFlight { .. }
        ));
        let _ = busy;
        // Every task in flight: refuse rather than forget a claim.
        let full = MemoryStore::new(1).unwrap();
        token(claim(&full, "x", Stage::Text, at(0)));
        assert!(
            full.claim_now(&ClaimRequest::new(
                DedupKey::new("y", Stage::Text),
                at(1),
                LEASE
            ))
            .is_err()
        );
    }

    #[test]
    fn a_recent_duplicate_survives_a_flood_of_90_000_new_keys() {
        let store = MemoryStore::default();
        let key = DedupKey::new("the-one", Stage::Complete);
        token(claim(&store, "the-one", Stage::Complete, at(0)));
        store.complete_now(&key, at(0)).unwrap();
        for i in 0..90_000 {
            let id = format!("flood-{i}");
            token(claim(&store, &id, Stage::Complete, at(1)));
            store
                .complete_now(&DedupKey::new(&id, Stage::Complete), at(1))
                .unwrap();
        }
        assert_eq!(
            claim(&store, "the-one", Stage::Complete, at(2)),
            Claim::Done
        );
        assert!(store.len() <= store.capacity());
    }

    #[test]
    fn configuration_is_checked() {
        assert_eq!(
            MemoryStore::new(0).unwrap_err().kind(),
            ConfigErrorKind::ZeroCapacity
        );
        assert_eq!(
            MemoryStore::default()
                .with_retention(Duration::from_secs(60))
                .unwrap_err()
                .kind(),
            ConfigErrorKind::InvalidRetention
        );
    }
}
