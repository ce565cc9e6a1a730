//! Deduplication: each `(task_id, stage)` reaches the handler once.
//!
//! The provider retries a callback until it gets a 200, and sometimes sends one twice
//! anyway. Before dispatching, the service *claims* the event's [`DedupKey`] in a
//! [`DedupStore`]:
//!
//! | claim answer | meaning | service answers |
//! |---|---|---|
//! | [`Claim::New`] | first time: the caller now owns the key (`InFlight`) | dispatch, then [`complete`](DedupStore::complete) or [`release`](DedupStore::release) |
//! | [`Claim::InFlight`] | another delivery of the key is being handled now | 409 with `Retry-After` |
//! | [`Claim::Done`] | the key was handled within the retention | 200 `duplicate` |
//! | [`Claim::Superseded`] | a `text` or `first` after a later stage of its task was handled | 200 `ignored` |
//!
//! A claim the owner neither completes nor releases (the process was cancelled mid-handler)
//! is reclaimed after its [lease](ClaimRequest::lease), so the provider's retry runs it.
//!
//! [`MemoryStore`] is the default, per process. Several replicas need a shared store;
//! a service gets its store from its [`Backend`](crate::backend::Backend), together with the
//! binding, so the two always live in the same place.

use std::{error::Error as StdError, fmt, future::Future, time::Duration, time::SystemTime};

use crate::event::{Stage, VocalsEvent};

mod memory;

#[cfg(feature = "redis")]
pub(crate) use memory::MIN_RETENTION;
pub use memory::{DEFAULT_CAPACITY, DEFAULT_RETENTION, MemoryStore};

/// What identifies one event: the task and the stage (for an unknown stage, its raw
/// `callbackType`).
///
/// ```
/// use vocals_callback::{dedup::DedupKey, Stage};
///
/// let key = DedupKey::new("65e563474bd7", Stage::Complete);
/// assert_eq!(key.to_string(), "65e563474bd7/complete");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DedupKey<'a> {
    task_id: &'a str,
    stage: Stage,
    unknown_type: &'a str,
}

impl<'a> DedupKey<'a> {
    /// The key of a known stage of `task_id`.
    #[must_use]
    pub fn new(task_id: &'a str, stage: Stage) -> Self {
        Self {
            task_id,
            stage,
            unknown_type: "",
        }
    }

    /// Sets the raw `callbackType` of an unknown stage.
    pub(crate) fn with_unknown_type(mut self, unknown_type: &'a str) -> Self {
        self.unknown_type = unknown_type;
        self
    }

    /// The key of `event`.
    #[must_use]
    pub fn of(event: &'a VocalsEvent) -> Self {
        let stage = event.stage();
        let unknown_type = match stage {
            Stage::Unknown => event.callback().callback_type().unwrap_or(""),
            _ => "",
        };
        Self {
            task_id: event.task_id(),
            stage,
            unknown_type,
        }
    }

    /// The task id.
    #[must_use]
    pub fn task_id(&self) -> &'a str {
        self.task_id
    }

    /// The stage.
    #[must_use]
    pub fn stage(&self) -> Stage {
        self.stage
    }

    /// For [`Stage::Unknown`], the raw `callbackType` (empty when absent); empty otherwise.
    #[must_use]
    pub fn unknown_type(&self) -> &'a str {
        self.unknown_type
    }

    /// The success stages that, once handled, make this one late (`text` is late after
    /// `first` or `complete`; `first` after `complete`).
    #[must_use]
    pub fn later_stages(&self) -> &'static [Stage] {
        match self.stage {
            Stage::Text => &[Stage::First, Stage::Complete],
            Stage::First => &[Stage::Complete],
            _ => &[],
        }
    }
}

impl fmt::Display for DedupKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.stage {
            Stage::Unknown => write!(f, "{}/unknown:{}", self.task_id, self.unknown_type),
            stage => write!(f, "{}/{}", self.task_id, stage.as_str()),
        }
    }
}

/// One claim: the key, the time, and the rules to apply.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use vocals_callback::{dedup::{ClaimRequest, DedupKey}, Stage};
///
/// let req = ClaimRequest::new(DedupKey::new("t1", Stage::Text), SystemTime::now(), Duration::from_secs(11));
/// assert!(req.late_stage_guard());
/// assert!(!req.with_late_stage_guard(false).late_stage_guard());
/// ```
#[derive(Clone, Copy, Debug)]
pub struct ClaimRequest<'a> {
    key: DedupKey<'a>,
    now: SystemTime,
    lease: Duration,
    guard_late: bool,
}

impl<'a> ClaimRequest<'a> {
    /// A claim of `key` at `now`, held for at most `lease` unless completed or released.
    #[must_use]
    pub fn new(key: DedupKey<'a>, now: SystemTime, lease: Duration) -> Self {
        Self {
            key,
            now,
            lease,
            guard_late: true,
        }
    }

    /// Turns the stage-order guard on (the default) or off: when off, a late `text` or
    /// `first` is claimed like any key.
    #[must_use]
    pub fn with_late_stage_guard(mut self, guard: bool) -> Self {
        self.guard_late = guard;
        self
    }

    /// The key.
    #[must_use]
    pub fn key(&self) -> &DedupKey<'a> {
        &self.key
    }

    /// The current time.
    #[must_use]
    pub fn now(&self) -> SystemTime {
        self.now
    }

    /// How long an `InFlight` claim holds before another delivery may reclaim it (the
    /// handler's deadline plus a margin: by then the first handler has been cancelled).
    #[must_use]
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// Whether a late stage is answered [`Claim::Superseded`].
    #[must_use]
    pub fn late_stage_guard(&self) -> bool {
        self.guard_late
    }
}

/// Proof of ownership of a claim, given to [`complete`](DedupStore::complete) and
/// [`release`](DedupStore::release): a stale owner (whose lease was reclaimed) can neither
/// complete nor release the new owner's claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClaimToken(u64);

impl ClaimToken {
    /// A token with the given value (stores choose how they make them unique).
    #[must_use]
    pub const fn new(value: u64) -> Self {
        Self(value)
    }

    /// The value.
    #[must_use]
    pub const fn get(self) -> u64 {
        self.0
    }
}

/// The answer to a claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Claim {
    /// The key is now `InFlight`, owned by the caller.
    New(ClaimToken),
    /// Another delivery owns the key; retry after the delay.
    InFlight {
        /// When the current owner's lease runs out at the latest.
        retry_after: Duration,
    },
    /// The key was handled.
    Done,
    /// A later success stage of the task was handled; this one is late.
    Superseded {
        /// The later stage that was handled.
        by: Stage,
    },
}

/// The dedup store failed (a backend is down) or cannot take the claim (full of keys being
/// handled). The service answers 503 with `Retry-After`, so nothing is lost.
///
/// ```
/// use vocals_callback::dedup::StoreError;
///
/// use std::error::Error as _;
///
/// let err = StoreError::new("connection refused");
/// assert_eq!(err.to_string(), "dedup store unavailable");
/// assert_eq!(err.source().unwrap().to_string(), "connection refused");
/// ```
#[derive(Debug)]
pub struct StoreError {
    source: Box<dyn StdError + Send + Sync>,
}

impl StoreError {
    /// An error caused by `source`.
    pub fn new(source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self {
            source: source.into(),
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // This level only: the cause is `source()`, so a chain prints it once.
        f.write_str("dedup store unavailable")
    }
}

impl StdError for StoreError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&*self.source)
    }
}

/// Where claims live. Every operation must be atomic with respect to the others on the
/// same key: two concurrent claims of one key give one [`Claim::New`].
///
/// Implement it for a shared backend to run several replicas; see [`MemoryStore`] for
/// the semantics each method must keep.
pub trait DedupStore: Send + Sync + 'static {
    /// Claims `req.key()`.
    ///
    /// Answers, in this order: [`Claim::Done`] if the key was completed within the
    /// retention; [`Claim::InFlight`] if it is claimed and the lease holds;
    /// [`Claim::Superseded`] if `req` guards late stages and one of
    /// [`later_stages`](DedupKey::later_stages) of the task was completed; otherwise
    /// [`Claim::New`].
    fn claim(
        &self,
        req: &ClaimRequest<'_>,
    ) -> impl Future<Output = Result<Claim, StoreError>> + Send;

    /// Marks the key handled (it answers [`Claim::Done`] until it expires). A token that no
    /// longer owns the key still marks it done: the event *was* handled.
    fn complete(
        &self,
        key: &DedupKey<'_>,
        token: ClaimToken,
        now: SystemTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Gives the key up so a retry can claim it, if `token` still owns it.
    fn release(
        &self,
        key: &DedupKey<'_>,
        token: ClaimToken,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The entries held now, if the store can tell without a round trip (it is read for the
    /// `vocals_callback_dedup_entries` gauge, feature `metrics`, on every scrape). `None`,
    /// the default, for a store that cannot: the gauge is then left out rather than shown
    /// as 0. [`MemoryStore`] answers its [`len`](MemoryStore::len) (tasks, each holding
    /// its stages); the Redis store answers `None` (Redis's own metrics count its keys).
    ///
    /// ```
    /// use vocals_callback::dedup::{DedupStore, MemoryStore};
    ///
    /// assert_eq!(MemoryStore::new(1_000)?.entries(), Some(0));
    /// # Ok::<(), vocals_callback::ConfigError>(())
    /// ```
    fn entries(&self) -> Option<usize> {
        None
    }
}
