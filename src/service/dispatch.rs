//! Claim and dispatch: the part of the pipeline shared by HTTP deliveries and
//! [`ingest`](crate::VocalsService::ingest).

use std::{
    fmt,
    future::Future,
    panic::{AssertUnwindSafe, catch_unwind},
    pin::{Pin, pin},
    sync::{Arc, atomic::Ordering::Relaxed},
    task::{Context, Poll},
    time::{Duration, SystemTime},
};

use super::{body::now_or_never, queue::Queue};
use crate::{
    dedup::{Claim, ClaimRequest, ClaimToken, DedupKey, DedupStore},
    event::{Stage, VocalsEvent},
    handler::{self, HandlerError, VocalsHandler},
    rejection::{Rejection, RejectionKind},
    stats::{Counters, Outcome},
};

/// How long to ask the sender to wait after a refusal that is ours, not theirs.
pub(crate) const RETRY_SOON: Duration = Duration::from_secs(5);
/// The answer once shutdown has begun: the provider retries, perhaps to another replica.
pub(crate) const SHUTTING_DOWN: Rejection =
    Rejection::retry_after(RejectionKind::ShuttingDown, RETRY_SOON);

/// What claim and dispatch need, shared with the queue's workers.
pub(crate) struct Core<H, S> {
    pub(crate) handler: H,
    pub(crate) store: S,
    pub(crate) counters: Counters,
    pub(crate) handler_timeout: Duration,
    /// How long a claim holds before another delivery may take it over.
    pub(crate) lease: Duration,
    pub(crate) deliver_late_stages: bool,
    /// The builder's clock: timestamp windows, claims and completions all read it.
    pub(crate) clock: super::Clock,
}

/// A dedup key that outlives the event (which moves into the handler). Task ids up to 64
/// bytes (the provider's are 32) are kept inline: no allocation per request.
#[derive(Clone, Debug)]
pub(crate) struct OwnedKey {
    task_id: TaskId,
    stage: Stage,
    unknown_type: Option<Box<str>>,
}

#[derive(Clone, Debug)]
enum TaskId {
    Inline { len: u8, bytes: [u8; 64] },
    Heap(Box<str>),
}

impl OwnedKey {
    pub(crate) fn new(key: &DedupKey<'_>) -> Self {
        let id = key.task_id();
        let task_id = match u8::try_from(id.len()) {
            Ok(len) if usize::from(len) <= 64 => {
                let mut bytes = [0u8; 64];
                bytes[..id.len()].copy_from_slice(id.as_bytes());
                TaskId::Inline { len, bytes }
            }
            _ => TaskId::Heap(id.into()),
        };
        Self {
            task_id,
            stage: key.stage(),
            unknown_type: (key.stage() == Stage::Unknown).then(|| key.unknown_type().into()),
        }
    }

    pub(crate) fn key(&self) -> DedupKey<'_> {
        let key = DedupKey::new(self.task_id(), self.stage);
        match &self.unknown_type {
            Some(unknown) => key.with_unknown_type(unknown),
            None => key,
        }
    }

    pub(crate) fn task_id(&self) -> &str {
        match &self.task_id {
            // Copied whole from a `&str`, so always UTF-8; the fallback is unreachable.
            TaskId::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default()
            }
            TaskId::Heap(id) => id,
        }
    }

    pub(crate) fn stage(&self) -> Stage {
        self.stage
    }
}

/// Why one handler call failed.
pub(crate) enum CallFailure {
    Error(HandlerError),
    Panic,
    Timeout,
}

impl CallFailure {
    /// The delay the handler asked for, if it did.
    pub(crate) fn asked_delay(&self) -> Option<Duration> {
        match self {
            Self::Error(err) => err.retry_after_delay(),
            Self::Panic | Self::Timeout => None,
        }
    }

    /// The refusal the sender gets (inline mode).
    pub(crate) fn rejection(&self) -> Rejection {
        match self {
            Self::Error(_) => match self.asked_delay() {
                Some(delay) => Rejection::retry_after(RejectionKind::HandlerRetry, delay),
                None => RejectionKind::HandlerFailed.into(),
            },
            Self::Panic => RejectionKind::HandlerPanicked.into(),
            Self::Timeout => Rejection::retry_after(RejectionKind::HandlerTimeout, RETRY_SOON),
        }
    }
}

impl fmt::Display for CallFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Error(err) => err.fmt(f),
            Self::Panic => f.write_str("handler panicked"),
            Self::Timeout => f.write_str("handler ran past its deadline"),
        }
    }
}

impl<H: VocalsHandler, S: DedupStore> Core<H, S> {
    /// Claims `event`'s key; on a new claim, hands the event to `dispatch`.
    pub(crate) async fn deliver(
        self: &Arc<Self>,
        event: VocalsEvent,
        now: SystemTime,
        queue: Option<&Queue>,
    ) -> Outcome {
        let key = DedupKey::of(&event);
        let mut req = ClaimRequest::new(key, now, self.lease);
        if self.deliver_late_stages {
            req = req.deliver_late_stages();
        }
        let token = match self.store.claim(&req).await {
            Ok(Claim::New(token)) => token,
            Ok(Claim::Done) => return Outcome::Duplicate,
            Ok(Claim::Superseded { .. }) => return Outcome::Ignored,
            Ok(Claim::InFlight { retry_after }) => {
                return reject(Rejection::retry_after(RejectionKind::InFlight, retry_after));
            }
            Err(err) => {
                tracing::warn!(error = %err, "dedup claim failed");
                return reject(Rejection::retry_after(
                    RejectionKind::StoreUnavailable,
                    RETRY_SOON,
                ));
            }
        };
        // The event moves into the handler; the key is kept for completion or release.
        let key = OwnedKey::new(&key);
        match queue {
            None => self.run_inline(event, key, token).await,
            Some(queue) => match queue.push(event, key, token) {
                Ok(()) => Outcome::Received,
                Err((rejection, key)) => {
                    self.release(&key, token).await;
                    reject(rejection)
                }
            },
        }
    }

    /// Runs the handler inside the request; the claim is completed on success and released
    /// on every failure (and, through the guard, when the request itself is dropped).
    async fn run_inline(
        self: &Arc<Self>,
        event: VocalsEvent,
        key: OwnedKey,
        token: ClaimToken,
    ) -> Outcome {
        let mut guard = ClaimGuard {
            core: Arc::clone(self),
            key,
            token,
            armed: true,
        };
        let result = self.call(event).await;
        // Answered either way from here: the guard is for cancellation only.
        guard.armed = false;
        let key = &guard.key;
        match result {
            Ok(()) => {
                self.complete(key, token).await;
                Outcome::Received
            }
            Err(failure) => {
                self.release(key, token).await;
                log_failure(key, &failure, 1);
                reject(failure.rejection())
            }
        }
    }

    /// One handler call under the deadline, with panics caught.
    pub(crate) async fn call(&self, event: VocalsEvent) -> Result<(), CallFailure> {
        // Counted down by the guard, so a call cancelled with its request still leaves.
        let _running = InFlight::enter(&self.counters);
        let mut call = CatchUnwind(pin!(handler::call(&self.handler, event)));
        // Arm the timer only if the handler waits: one that answers on its first poll (a
        // send to a channel, a no-op) costs no timer registration. A handler that blocks
        // its thread cannot be interrupted by any timer anyway.
        let result = match now_or_never(&mut call).await {
            Some(result) => Ok(result),
            // Boxed: the timer lives on the slow path only, not in every request's future.
            None => Box::pin(tokio::time::timeout(self.handler_timeout, call)).await,
        };
        let result = match result {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(err))) => Err(CallFailure::Error(err)),
            Ok(Err(())) => Err(CallFailure::Panic),
            Err(_) => Err(CallFailure::Timeout),
        };
        self.counters.handled(result.is_ok());
        result
    }

    pub(crate) async fn complete(&self, key: &OwnedKey, token: ClaimToken) {
        // The event was handled: answer 200 whatever happens here. A failed write only
        // means a later duplicate may run the (idempotent) handler again.
        let now = (self.clock)();
        if let Err(err) = self.store.complete(&key.key(), token, now).await {
            tracing::warn!(task_id = key.task_id(), stage = key.stage().as_str(), error = %err, "dedup complete failed");
        }
    }

    pub(crate) async fn release(&self, key: &OwnedKey, token: ClaimToken) {
        if let Err(err) = self.store.release(&key.key(), token).await {
            // The lease runs out by itself; the retry waits until then.
            tracing::warn!(task_id = key.task_id(), stage = key.stage().as_str(), error = %err, "dedup release failed");
        }
    }
}

pub(crate) fn reject(rejection: Rejection) -> Outcome {
    Outcome::Rejected(rejection)
}

pub(crate) fn log_failure(key: &OwnedKey, failure: &CallFailure, attempt: u32) {
    tracing::warn!(
        task_id = key.task_id(),
        stage = key.stage().as_str(),
        attempt,
        error = %failure,
        "handler failed"
    );
}

/// One handler call in [`Counters::in_flight`], for as long as it lives.
struct InFlight<'a>(&'a Counters);

impl<'a> InFlight<'a> {
    fn enter(counters: &'a Counters) -> Self {
        counters.in_flight.fetch_add(1, Relaxed);
        Self(counters)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Relaxed);
    }
}

/// Releases a claim whose request was dropped mid-handler (the client went away), so the
/// sender's retry need not wait for the lease to run out.
struct ClaimGuard<H: VocalsHandler, S: DedupStore> {
    core: Arc<Core<H, S>>,
    key: OwnedKey,
    token: ClaimToken,
    armed: bool,
}

impl<H: VocalsHandler, S: DedupStore> Drop for ClaimGuard<H, S> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (core, key) = (Arc::clone(&self.core), self.key.clone());
        let token = self.token;
        runtime.spawn(async move { core.release(&key, token).await });
    }
}

/// Turns a panic while polling the handler into an error, so one bad event cannot take the
/// connection (or a queue worker) down with it.
struct CatchUnwind<F>(F);

impl<F: Future + Unpin> Future for CatchUnwind<F> {
    type Output = Result<F::Output, ()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = &mut self.0;
        // The future is dropped right after a panic, never polled again, so no broken
        // invariant of it can be observed.
        match catch_unwind(AssertUnwindSafe(|| Pin::new(&mut *inner).poll(cx))) {
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(_) => Poll::Ready(Err(())),
        }
    }
}
