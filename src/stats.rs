//! Counters of what the service did, readable at any time.

use std::{
    fmt,
    sync::{
        Arc, RwLock,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
};

use http::StatusCode;

use crate::rejection::RejectionKind;

/// The outcome of one delivery (over HTTP or through [`ingest`](crate::VocalsService::ingest)).
///
/// Every response carries it in its extensions, so an outer layer can tell the answers
/// apart without reading the body (and, for a refusal, the [`Rejection`](crate::Rejection)
/// too). An axum middleware that counts them:
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use axum::{Router, extract::Request, middleware::map_response, response::Response};
/// use tower::ServiceExt;
/// use vocals_callback::{HandlerResult, Outcome, VocalsEvent, VocalsService};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let seen: Arc<Mutex<Vec<&'static str>>> = Arc::default();
/// let svc = VocalsService::builder(|_e: VocalsEvent| async { HandlerResult::Ok(()) })
///     .insecure_accept_unverified()
///     .build()?;
/// let log = Arc::clone(&seen);
/// let app = Router::new().route_service("/vocals-callback", svc).layer(map_response(
///     move |res: Response| {
///         let outcome = res.extensions().get::<Outcome>().map_or("not ours", Outcome::as_str);
///         log.lock().unwrap().push(outcome);
///         async move { res }
///     },
/// ));
/// let body = r#"{"code":200,"data":{"callbackType":"complete","task_id":"t1"}}"#;
/// for _ in 0..2 {
///     let req = Request::post("/vocals-callback")
///         .header("content-type", "application/json")
///         .body(axum::body::Body::from(body))?;
///     app.clone().oneshot(req).await?;
/// }
/// assert_eq!(*seen.lock().unwrap(), ["received", "duplicate"]);
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Handled: the handler returned `Ok` (inline dispatch), for any stage, unknown ones
    /// included. 200 `received`.
    Received,
    /// Safe in the dispatch queue, handled later (queued dispatch). Answered 200
    /// `received` too: for the sender it is accepted all the same.
    Queued,
    /// The key was already handled: 200 `duplicate`, handler not called.
    Duplicate,
    /// A `text` or `first` after a later stage of its task: 200 `ignored`.
    Ignored,
    /// Refused, with the reason and status.
    Rejected(crate::Rejection),
}

impl Outcome {
    /// The stable name: `received`, `queued`, `duplicate`, `ignored` or `rejected`.
    ///
    /// ```
    /// use vocals_callback::Outcome;
    /// assert_eq!(Outcome::Duplicate.as_str(), "duplicate");
    /// ```
    #[must_use]
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::Queued => "queued",
            Self::Duplicate => "duplicate",
            Self::Ignored => "ignored",
            Self::Rejected(_) => "rejected",
        }
    }

    /// The `status` of the JSON answer: as [`as_str`](Self::as_str), but `received` for a
    /// queued event.
    ///
    /// ```
    /// use vocals_callback::Outcome;
    /// assert_eq!(Outcome::Queued.answer(), "received");
    /// ```
    #[must_use]
    pub const fn answer(&self) -> &'static str {
        match self {
            Self::Queued => "received",
            other => other.as_str(),
        }
    }

    /// The HTTP status it is answered with: 200 for all but a refusal, the rejection's own
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
            Self::Received | Self::Queued | Self::Duplicate | Self::Ignored => StatusCode::OK,
            Self::Rejected(rejection) => rejection.status(),
        }
    }
}

/// The live counters (one set per service, shared by its clones).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    received: AtomicU64,
    queued: AtomicU64,
    duplicate: AtomicU64,
    ignored: AtomicU64,
    rejected: [AtomicU64; RejectionKind::COUNT],
    pub(crate) in_flight: AtomicU64,
    handled: AtomicU64,
    handler_failures: AtomicU64,
    retries: AtomicU64,
    dead_lettered: AtomicU64,
    /// Verified deliveries per key label, in the order the labels were first seen (a
    /// handful: one per key of each verifier). Read-locked per delivery; written once per
    /// new label.
    key_labels: RwLock<Vec<(Arc<str>, AtomicU64)>>,
}

impl Counters {
    pub(crate) fn record(&self, outcome: &Outcome) {
        let counter = match outcome {
            Outcome::Received => &self.received,
            Outcome::Queued => {
                self.queued.fetch_add(1, Relaxed);
                &self.received
            }
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

    /// Counts a delivery verified under the key labelled `label`.
    pub(crate) fn signed_by(&self, label: &Arc<str>) {
        {
            let labels = crate::sync::read(&self.key_labels);
            if let Some((_, n)) = labels.iter().find(|(l, _)| l == label) {
                n.fetch_add(1, Relaxed);
                return;
            }
        }
        let mut labels = crate::sync::write(&self.key_labels);
        match labels.iter().find(|(l, _)| l == label) {
            Some((_, n)) => {
                n.fetch_add(1, Relaxed);
            }
            None => labels.push((Arc::clone(label), AtomicU64::new(1))),
        }
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
            queued: self.queued.load(Relaxed),
            duplicate: self.duplicate.load(Relaxed),
            ignored: self.ignored.load(Relaxed),
            rejected: std::array::from_fn(|i| self.rejected[i].load(Relaxed)),
            in_flight: self.in_flight.load(Relaxed),
            queue_depth: u64::try_from(queue_depth).unwrap_or(u64::MAX),
            handled: self.handled.load(Relaxed),
            handler_failures: self.handler_failures.load(Relaxed),
            retries: self.retries.load(Relaxed),
            dead_lettered: self.dead_lettered.load(Relaxed),
            key_labels: crate::sync::read(&self.key_labels)
                .iter()
                .map(|(label, n)| (Arc::clone(label), n.load(Relaxed)))
                .collect(),
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
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Stats {
    received: u64,
    queued: u64,
    duplicate: u64,
    ignored: u64,
    rejected: [u64; RejectionKind::COUNT],
    in_flight: u64,
    queue_depth: u64,
    handled: u64,
    handler_failures: u64,
    retries: u64,
    dead_lettered: u64,
    key_labels: Vec<(Arc<str>, u64)>,
}

impl Stats {
    /// Deliveries answered 200 `received`: handled inline, or queued (see
    /// [`queued`](Self::queued)). Handler calls are counted apart: [`handled`](Self::handled).
    #[must_use]
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Of the [`received`](Self::received) deliveries, those put in the dispatch queue
    /// (queued mode), to be handled later.
    #[must_use]
    pub fn queued(&self) -> u64 {
        self.queued
    }

    /// Deliveries verified under the key labelled `label` (see
    /// [`KieSignature::with_key`](crate::verify::KieSignature::with_key)), whatever their
    /// answer: during a key rotation, the old key can go once this stops growing.
    ///
    /// ```
    /// # use vocals_callback::Stats;
    /// assert_eq!(Stats::default().signed_with("old-key"), 0);
    /// ```
    #[must_use]
    pub fn signed_with(&self, label: &str) -> u64 {
        self.key_labels
            .iter()
            .find(|(l, _)| &**l == label)
            .map_or(0, |(_, n)| *n)
    }

    /// Every key label seen, with its count, in the order first seen.
    pub fn key_labels(&self) -> impl Iterator<Item = (&str, u64)> + '_ {
        self.key_labels.iter().map(|(l, n)| (&**l, *n))
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

/// The counters by name, rejection kinds and key labels only where non-zero.
impl fmt::Debug for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        /// A `{name: count}` map.
        struct Named<'a>(Vec<(&'a str, u64)>);
        impl fmt::Debug for Named<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_map()
                    .entries(self.0.iter().map(|(k, n)| (k, n)))
                    .finish()
            }
        }
        let rejected = Named(self.rejections().map(|(k, n)| (k.as_str(), n)).collect());
        f.debug_struct("Stats")
            .field("received", &self.received)
            .field("queued", &self.queued)
            .field("duplicate", &self.duplicate)
            .field("ignored", &self.ignored)
            .field("rejected", &rejected)
            .field("in_flight", &self.in_flight)
            .field("queue_depth", &self.queue_depth)
            .field("handled", &self.handled)
            .field("handler_failures", &self.handler_failures)
            .field("retries", &self.retries)
            .field("dead_lettered", &self.dead_lettered)
            .field("key_labels", &Named(self.key_labels().collect()))
            .finish()
    }
}
