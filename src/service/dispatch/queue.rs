//! Queued dispatch: a bounded in-memory queue served by a fixed set of workers.

use std::{
    collections::VecDeque,
    fmt,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering::Relaxed},
    },
    time::Duration,
};

use bytes::Bytes;
use tokio::{sync::Semaphore, task::JoinHandle};

use crate::{
    config::{ConfigError, ConfigErrorKind},
    dedup::DedupStore,
    delivery::Delivery,
    event::VocalsEvent,
    handler::{HandlerFailure, VocalsHandler},
    rejection::{Rejection, RejectionKind},
    service::{call::call, job::Job, log, state::State},
    stats::Outcome,
    sync::lock,
};

/// The settings of queued dispatch ([`Builder::queued`](crate::service::Builder::queued)).
///
/// In this mode the service answers 200 as soon as the event is in the queue, and the
/// workers call the handler afterwards, retrying failures with exponential backoff and
/// handing the events that still fail to the dead-letter hook.
///
/// **What it can lose:** the queue lives in memory. If the process crashes (or is killed
/// past the shutdown grace period) with events in the queue, those events are gone: the
/// provider got its 200 and will not send them again. Choose it when the handler is slow or
/// bursty and an occasional loss is recovered by polling `record-info`; choose inline
/// dispatch (the default) when nothing may be lost.
///
/// ```
/// use std::time::Duration;
/// use vocals_callback::service::QueueConfig;
///
/// let queue = QueueConfig::new()
///     .with_capacity(10_000)
///     .with_workers(8)
///     .with_max_attempts(5)
///     .with_backoff(Duration::from_millis(200), Duration::from_secs(30))
///     .with_dead_letter(|dead| eprintln!("giving up on {} after {} attempts: {:?}",
///         dead.event().task_id(), dead.attempts(), dead.failure()));
/// assert_eq!(queue.capacity(), 10_000);
/// assert_eq!(queue.backoff(), (Duration::from_millis(200), Duration::from_secs(30)));
/// ```
#[derive(Clone)]
pub struct QueueConfig {
    capacity: usize,
    workers: usize,
    max_attempts: u32,
    backoff_base: Duration,
    backoff_max: Duration,
    dead_letter: Option<Arc<dyn Fn(DeadLetter) + Send + Sync>>,
}

impl QueueConfig {
    /// Defaults: 1 024 events, 4 workers, 5 attempts, backoff from 500 ms doubling up to
    /// 30 s, dead letters logged at `error`.
    #[must_use]
    pub fn new() -> Self {
        Self {
            capacity: 1024,
            workers: 4,
            max_attempts: 5,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            dead_letter: None,
        }
    }

    /// Holds at most `capacity` events; past it the service answers 503 with
    /// `Retry-After`.
    #[must_use]
    pub fn with_capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// Runs `workers` worker tasks, calling the handler concurrently.
    #[must_use]
    pub fn with_workers(mut self, workers: usize) -> Self {
        self.workers = workers;
        self
    }

    /// Calls the handler at most `attempts` times per event, the first included, before
    /// the dead-letter hook.
    #[must_use]
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// Waits `base` before the second attempt, doubled for each next one up to `max`. A
    /// handler's asked delay ([`HandlerError::with_retry_after`](crate::HandlerError::with_retry_after))
    /// wins (still capped at `max`).
    #[must_use]
    pub fn with_backoff(mut self, base: Duration, max: Duration) -> Self {
        self.backoff_base = base;
        self.backoff_max = max;
        self
    }

    /// Calls `hook` with each event that failed every attempt, or was still queued when
    /// shutdown's grace period ran out: store it somewhere durable to replay it.
    #[must_use]
    pub fn with_dead_letter(mut self, hook: impl Fn(DeadLetter) + Send + Sync + 'static) -> Self {
        self.dead_letter = Some(Arc::new(hook));
        self
    }

    /// Events held at most.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Worker tasks.
    #[must_use]
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Handler calls per event at most.
    #[must_use]
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The first backoff and the largest.
    #[must_use]
    pub fn backoff(&self) -> (Duration, Duration) {
        (self.backoff_base, self.backoff_max)
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.capacity == 0 || self.workers == 0 || self.max_attempts == 0 {
            return Err(ConfigError::new(
                ConfigErrorKind::ZeroCapacity,
                "queue capacity, workers and attempts must be at least 1",
            ));
        }
        if self.backoff_base.is_zero() || self.backoff_max < self.backoff_base {
            return Err(ConfigError::new(
                ConfigErrorKind::InvalidDuration,
                "queue backoff must be non-zero, and its maximum at least its base",
            ));
        }
        Ok(())
    }

    /// The longest an event can stay claimed: every attempt at its deadline, every backoff
    /// at its maximum, plus a minute in the queue. Claims held longer are reclaimed.
    pub(crate) fn lease(&self, handler_timeout: Duration) -> Duration {
        let per_attempt = handler_timeout.saturating_add(self.backoff_max);
        per_attempt
            .saturating_mul(self.max_attempts)
            .saturating_add(Duration::from_secs(60))
    }

    fn backoff_for(&self, attempt: u32, asked: Option<Duration>) -> Duration {
        let doubled = self
            .backoff_base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        asked.unwrap_or(doubled).min(self.backoff_max)
    }
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for QueueConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueConfig")
            .field("capacity", &self.capacity)
            .field("workers", &self.workers)
            .field("max_attempts", &self.max_attempts)
            .field("backoff_base", &self.backoff_base)
            .field("backoff_max", &self.backoff_max)
            .field("dead_letter", &self.dead_letter.is_some())
            .finish()
    }
}

/// An event the queue gave up on, with everything needed to replay it.
#[derive(Debug)]
pub struct DeadLetter {
    event: VocalsEvent,
    delivery: Delivery,
    body: Option<Bytes>,
    attempts: u32,
    failure: Option<HandlerFailure>,
}

impl DeadLetter {
    /// The event.
    #[must_use]
    pub fn event(&self) -> &VocalsEvent {
        &self.event
    }

    /// Takes the event.
    #[must_use]
    pub fn into_event(self) -> VocalsEvent {
        self.event
    }

    /// The facts of its last delivery (its [`attempt`](Delivery::attempt) is the last
    /// handler call's).
    #[must_use]
    pub fn delivery(&self) -> &Delivery {
        &self.delivery
    }

    /// The callback body exactly as received and verified (`None` for a polled event):
    /// [`parse`](crate::parse) gives the event back.
    #[must_use]
    pub fn body(&self) -> Option<&[u8]> {
        self.body.as_deref()
    }

    /// Handler calls made (0 when shutdown came first).
    #[must_use]
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Why the last call failed; `None` when shutdown came before any call.
    #[must_use]
    pub fn failure(&self) -> Option<&HandlerFailure> {
        self.failure.as_ref()
    }
}

/// The queue's shared state: the jobs, a permit per job for the workers to wait on, and
/// the workers themselves.
pub(crate) struct Queue {
    config: QueueConfig,
    jobs: Mutex<VecDeque<Job>>,
    ready: Semaphore,
    closed: AtomicBool,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

impl Queue {
    pub(crate) fn new(config: QueueConfig) -> Self {
        Self {
            jobs: Mutex::new(VecDeque::with_capacity(config.capacity.min(4096))),
            config,
            ready: Semaphore::new(0),
            closed: AtomicBool::new(false),
            workers: Mutex::new(Vec::new()),
        }
    }

    /// Spawns the workers on the current tokio runtime.
    pub(crate) fn start<H: VocalsHandler, D: DedupStore>(
        self: &Arc<Self>,
        state: &Arc<State<H, D>>,
    ) -> Result<(), ConfigError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            ConfigError::new(
                ConfigErrorKind::NoRuntime,
                "queued dispatch must be built inside a tokio runtime",
            )
        })?;
        let mut workers = lock(&self.workers);
        for _ in 0..self.config.workers {
            let (queue, state) = (Arc::clone(self), Arc::clone(state));
            workers.push(runtime.spawn(async move { queue.work(&state).await }));
        }
        Ok(())
    }

    /// Queues a claimed job ([`Outcome::Queued`]), or releases its claim and refuses it (503
    /// when full or shutting down).
    pub(crate) async fn push<H: VocalsHandler, D: DedupStore>(
        &self,
        state: &State<H, D>,
        job: Job,
    ) -> Outcome {
        let refused = {
            let mut jobs = lock(&self.jobs);
            if self.closed.load(Relaxed) {
                Err((Rejection::SHUTTING_DOWN, job))
            } else if jobs.len() >= self.config.capacity {
                Err((Rejection::retry_soon(RejectionKind::QueueFull), job))
            } else {
                jobs.push_back(job);
                Ok(())
            }
        };
        match refused {
            Ok(()) => {
                self.ready.add_permits(1);
                Outcome::Queued
            }
            Err((rejection, job)) => {
                state.release(&job.key, job.token).await;
                Outcome::Rejected(rejection)
            }
        }
    }

    pub(crate) fn depth(&self) -> usize {
        lock(&self.jobs).len()
    }

    async fn work<H: VocalsHandler, D: DedupStore>(&self, state: &State<H, D>) {
        loop {
            match self.ready.acquire().await {
                // One permit per job pushed: consume it with the job.
                Ok(permit) => permit.forget(),
                // Closed: drain what is left, then stop.
                Err(_) => {
                    while let Some(job) = self.pop() {
                        self.run(state, job).await;
                    }
                    return;
                }
            }
            if let Some(job) = self.pop() {
                self.run(state, job).await;
            }
        }
    }

    fn pop(&self) -> Option<Job> {
        // The guard drops at the end of the statement, before the job is run.
        lock(&self.jobs).pop_front()
    }

    /// Calls the handler until it succeeds or the attempts run out.
    async fn run<H: VocalsHandler, D: DedupStore>(&self, state: &State<H, D>, job: Job) {
        let mut attempt = 1;
        loop {
            let delivery = job.delivery.clone().with_attempt(attempt);
            match call(state, job.event.clone(), delivery).await {
                Ok(()) => {
                    state.complete(&job.key, job.token).await;
                    return;
                }
                Err(failure) => {
                    log::handler_failed(&job.key, &failure, attempt);
                    // Once shutting down, no backoff: the grace period is for draining.
                    if attempt >= self.config.max_attempts || self.closed.load(Relaxed) {
                        state.release(&job.key, job.token).await;
                        self.dead_letter(state, job, attempt, Some(failure));
                        return;
                    }
                    state.counters.retried();
                    let delay = self.config.backoff_for(attempt, failure.retry_after());
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
            }
        }
    }

    fn dead_letter<H, D>(
        &self,
        state: &State<H, D>,
        job: Job,
        attempts: u32,
        failure: Option<HandlerFailure>,
    ) {
        state.counters.dead_lettered();
        log::dead_lettered(&job.event, attempts, failure.as_ref());
        if let Some(hook) = &self.config.dead_letter {
            hook(DeadLetter {
                delivery: job.delivery.with_attempt(attempts.max(1)),
                event: job.event,
                body: job.body,
                attempts,
                failure,
            });
        }
    }

    /// Stops taking events and lets the workers drain the queue for up to `grace`; what is
    /// still queued then goes to the dead-letter hook. Returns the events dead-lettered
    /// and the handler calls abandoned mid-way.
    pub(crate) async fn shutdown<H: VocalsHandler, D: DedupStore>(
        &self,
        state: &State<H, D>,
        grace: Duration,
    ) -> (usize, usize) {
        self.close();
        let workers: Vec<_> = lock(&self.workers).drain(..).collect();
        let deadline = tokio::time::Instant::now() + grace;
        let mut abandoned = 0;
        for mut worker in workers {
            if tokio::time::timeout_at(deadline, &mut worker)
                .await
                .is_err()
            {
                worker.abort();
                // Wait for the abort to land, so its handler call has left the counters.
                let _ = worker.await;
                abandoned += 1;
            }
        }
        let mut dead = 0;
        while let Some(job) = self.pop() {
            state.release(&job.key, job.token).await;
            self.dead_letter(state, job, 0, None);
            dead += 1;
        }
        (dead, abandoned)
    }

    pub(crate) fn close(&self) {
        self.closed.store(true, Relaxed);
        self.ready.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_honours_the_handler() {
        let q = QueueConfig::new().with_backoff(Duration::from_millis(100), Duration::from_secs(1));
        let ms = |a, asked| q.backoff_for(a, asked).as_millis();
        assert_eq!(
            [
                ms(1, None),
                ms(2, None),
                ms(3, None),
                ms(4, None),
                ms(5, None)
            ],
            [100, 200, 400, 800, 1000]
        );
        assert_eq!(ms(40, None), 1000);
        assert_eq!(ms(1, Some(Duration::from_millis(300))), 300);
        assert_eq!(ms(1, Some(Duration::from_secs(60))), 1000);
    }

    #[test]
    fn zero_settings_are_refused() {
        for bad in [
            QueueConfig::new().with_capacity(0),
            QueueConfig::new().with_workers(0),
            QueueConfig::new().with_max_attempts(0),
            QueueConfig::new().with_backoff(Duration::ZERO, Duration::from_secs(1)),
            QueueConfig::new().with_backoff(Duration::from_secs(2), Duration::from_secs(1)),
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
        assert!(QueueConfig::new().validate().is_ok());
    }
}
