//! Counters of what the service did, readable at any time.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use http::StatusCode;

use crate::rejection::RejectionKind;

/// The outcome of one delivery (over HTTP or through [`ingest`](crate::VocalsService::ingest)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Handled (inline), queued, or an unknown stage accepted: 200 `received`.
    Received,
    /// The key was already handled: 200 `duplicate`, handler not called.
    Duplicate,
    /// A `text` or `first` after a later stage of its task: 200 `ignored`.
    Ignored,
    /// Refused, with the reason and status.
    Rejected(crate::Rejection),
}

impl Outcome {
    /// The stable name: `received`, `duplicate`, `ignored` or `rejected`.
    ///
    /// ```
    /// use vocals_callback::Outcome;
    /// assert_eq!(Outcome::Duplicate.as_str(), "duplicate");
    /// ```
    #[must_use]
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::Duplicate => "duplicate",
            Self::Ignored => "ignored",
            Self::Rejected(_) => "rejected",
        }
    }

    /// The HTTP status it is answered with: 200 for the first three, the rejection's own
    /// otherwise.
    ///
    /// ```
    /// use http::StatusCode;
    /// use vocals_callback::{Outcome, RejectionKind};
    ///
    /// assert_eq!(Outcome::Ignored.status(), StatusCode::OK);
    /// let refused = Outcome::Rejected(RejectionKind::SignatureReused.into());
    /// assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    /// ```
    #[must_use]
    pub const fn status(&self) -> StatusCode {
        match self {
            Self::Received | Self::Duplicate | Self::Ignored => StatusCode::OK,
            Self::Rejected(rejection) => rejection.status(),
        }
    }
}

/// The live counters (one set per service, shared by its clones).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    received: AtomicU64,
    duplicate: AtomicU64,
    ignored: AtomicU64,
    rejected: [AtomicU64; RejectionKind::COUNT],
    pub(crate) in_flight: AtomicU64,
    handled: AtomicU64,
    handler_failures: AtomicU64,
    retries: AtomicU64,
    dead_lettered: AtomicU64,
}

impl Counters {
    pub(crate) fn record(&self, outcome: &Outcome) {
        let counter = match outcome {
            Outcome::Received => &self.received,
            Outcome::Duplicate => &self.duplicate,
            Outcome::Ignored => &self.ignored,
            Outcome::Rejected(r) => &self.rejected[r.kind().index()],
        };
        counter.fetch_add(1, Relaxed);
    }

    pub(crate) fn handled(&self, ok: bool) {
        let counter = if ok {
            &self.handled
        } else {
            &self.handler_failures
        };
        counter.fetch_add(1, Relaxed);
    }

    pub(crate) fn retried(&self) {
        self.retries.fetch_add(1, Relaxed);
    }

    pub(crate) fn dead_lettered(&self) {
        self.dead_lettered.fetch_add(1, Relaxed);
    }

    pub(crate) fn snapshot(&self, queue_depth: usize) -> Stats {
        Stats {
            received: self.received.load(Relaxed),
            duplicate: self.duplicate.load(Relaxed),
            ignored: self.ignored.load(Relaxed),
            rejected: std::array::from_fn(|i| self.rejected[i].load(Relaxed)),
            in_flight: self.in_flight.load(Relaxed),
            queue_depth: u64::try_from(queue_depth).unwrap_or(u64::MAX),
            handled: self.handled.load(Relaxed),
            handler_failures: self.handler_failures.load(Relaxed),
            retries: self.retries.load(Relaxed),
            dead_lettered: self.dead_lettered.load(Relaxed),
        }
    }
}

/// A snapshot of a service's counters ([`VocalsService::stats`](crate::VocalsService::stats)).
///
/// Outcome counters count deliveries (HTTP requests and [`ingest`](crate::VocalsService::ingest)
/// calls); handler counters count handler calls (a queued event retried three times is one
/// delivery and three calls).
///
/// ```
/// use vocals_callback::{RejectionKind, Stats};
///
/// let stats = Stats::default();
/// assert_eq!(stats.rejected(RejectionKind::InvalidSignature), 0);
/// assert_eq!(stats.rejected_total(), 0);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    received: u64,
    duplicate: u64,
    ignored: u64,
    rejected: [u64; RejectionKind::COUNT],
    in_flight: u64,
    queue_depth: u64,
    handled: u64,
    handler_failures: u64,
    retries: u64,
    dead_lettered: u64,
}

impl Stats {
    /// Deliveries answered 200 `received`.
    #[must_use]
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Deliveries answered 200 `duplicate`.
    #[must_use]
    pub fn duplicate(&self) -> u64 {
        self.duplicate
    }

    /// Deliveries answered 200 `ignored` (late stages).
    #[must_use]
    pub fn ignored(&self) -> u64 {
        self.ignored
    }

    /// Deliveries refused with `kind`.
    #[must_use]
    pub fn rejected(&self, kind: RejectionKind) -> u64 {
        self.rejected[kind.index()]
    }

    /// Deliveries refused, all kinds.
    #[must_use]
    pub fn rejected_total(&self) -> u64 {
        self.rejected.iter().sum()
    }

    /// Every kind with a non-zero count.
    pub fn rejections(&self) -> impl Iterator<Item = (RejectionKind, u64)> + '_ {
        RejectionKind::ALL
            .iter()
            .zip(self.rejected)
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| (*k, n))
    }

    /// Handler calls running now.
    #[must_use]
    pub fn in_flight(&self) -> u64 {
        self.in_flight
    }

    /// Events waiting in the dispatch queue (queued mode).
    #[must_use]
    pub fn queue_depth(&self) -> u64 {
        self.queue_depth
    }

    /// Handler calls that succeeded.
    #[must_use]
    pub fn handled(&self) -> u64 {
        self.handled
    }

    /// Handler calls that failed (error, panic or deadline).
    #[must_use]
    pub fn handler_failures(&self) -> u64 {
        self.handler_failures
    }

    /// Retries of queued events after a failed call.
    #[must_use]
    pub fn retries(&self) -> u64 {
        self.retries
    }

    /// Queued events given to the dead-letter hook.
    #[must_use]
    pub fn dead_lettered(&self) -> u64 {
        self.dead_lettered
    }
}
