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

use tokio::{sync::Semaphore, task::JoinHandle};

use super::dispatch::{Core, OwnedKey, RETRY_SOON, SHUTTING_DOWN, log_failure};
use crate::{
    config::{ConfigError, ConfigErrorKind},
    dedup::{ClaimToken, DedupStore},
    event::VocalsEvent,
    handler::VocalsHandler,
    rejection::{Rejection, RejectionKind},
    sync::lock,
};

/// The settings of queued dispatch ([`Builder::queued`](super::Builder::queued)).
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
///     .capacity(10_000)
///     .workers(8)
///     .max_attempts(5)
///     .backoff(Duration::from_millis(200), Duration::from_secs(30))
///     .dead_letter(|dead| eprintln!("giving up on {} after {} attempts: {}",
///         dead.event().task_id(), dead.attempts(), dead.error()));
/// assert_eq!(queue.capacity_value(), 10_000);
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

    /// Events held at most; past it the service answers 503 with `Retry-After`.
    #[must_use]
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// The configured capacity.
    #[must_use]
    pub fn capacity_value(&self) -> usize {
        self.capacity
    }

    /// Worker tasks calling the handler concurrently.
    #[must_use]
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers;
        self
    }

    /// Handler calls per event, the first included, before the dead-letter hook.
    #[must_use]
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// The wait before the second attempt, doubled for each next one up to `max`. A
    /// handler's [`HandlerError::retry_after`](crate::HandlerError::retry_after) wins (still
    /// capped at `max`).
    #[must_use]
    pub fn backoff(mut self, base: Duration, max: Duration) -> Self {
        self.backoff_base = base;
        self.backoff_max = max;
        self
    }

    /// Called with each event that failed every attempt, or was still queued when shutdown's
    /// grace period ran out: store it somewhere durable to replay it.
    #[must_use]
    pub fn dead_letter(mut self, hook: impl Fn(DeadLetter) + Send + Sync + 'static) -> Self {
        self.dead_letter = Some(Arc::new(hook));
        self
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

/// An event the queue gave up on.
#[derive(Debug)]
pub struct DeadLetter {
    event: VocalsEvent,
    attempts: u32,
    error: String,
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

    /// Handler calls made (0 when shutdown came first).
    #[must_use]
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Why the last attempt failed.
    #[must_use]
    pub fn error(&self) -> &str {
        &self.error
    }
}

struct Job {
    event: VocalsEvent,
    key: OwnedKey,
    token: ClaimToken,
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
    pub(crate) fn start<H: VocalsHandler, S: DedupStore>(
        self: &Arc<Self>,
        core: &Arc<Core<H, S>>,
    ) -> Result<(), ConfigError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            ConfigError::new(
                ConfigErrorKind::NoRuntime,
                "queued dispatch must be built inside a tokio runtime",
            )
        })?;
        let mut workers = lock(&self.workers);
        for _ in 0..self.config.workers {
            let (queue, core) = (Arc::clone(self), Arc::clone(core));
            workers.push(runtime.spawn(async move { queue.work(&core).await }));
        }
        Ok(())
    }

    /// Queues a claimed event, or gives the key back with the refusal.
    pub(crate) fn push(
        &self,
        event: VocalsEvent,
        key: OwnedKey,
        token: ClaimToken,
    ) -> Result<(), (Rejection, OwnedKey)> {
        {
            let mut jobs = lock(&self.jobs);
            if self.closed.load(Relaxed) {
                return Err((SHUTTING_DOWN, key));
            }
            if jobs.len() >= self.config.capacity {
                let rejection = Rejection::retry_after(RejectionKind::QueueFull, RETRY_SOON);
                return Err((rejection, key));
            }
            jobs.push_back(Job { event, key, token });
        }
        self.ready.add_permits(1);
        Ok(())
    }

    pub(crate) fn depth(&self) -> usize {
        lock(&self.jobs).len()
    }

    async fn work<H: VocalsHandler, S: DedupStore>(&self, core: &Arc<Core<H, S>>) {
        loop {
            match self.ready.acquire().await {
                // One permit per job pushed: consume it with the job.
                Ok(permit) => permit.forget(),
                // Closed: drain what is left, then stop.
                Err(_) => {
                    while let Some(job) = self.pop() {
                        self.run(core, job).await;
                    }
                    return;
                }
            }
            if let Some(job) = self.pop() {
                self.run(core, job).await;
            }
        }
    }

    fn pop(&self) -> Option<Job> {
        // The guard drops at the end of the statement, before the job is run.
        lock(&self.jobs).pop_front()
    }

    /// Calls the handler until it succeeds or the attempts run out.
    async fn run<H: VocalsHandler, S: DedupStore>(&self, core: &Arc<Core<H, S>>, job: Job) {
        let mut attempt = 1;
        loop {
            match core.call(job.event.clone()).await {
                Ok(()) => {
                    core.complete(&job.key, job.token).await;
                    return;
                }
                Err(failure) => {
                    log_failure(&job.key, &failure, attempt);
                    // Once shutting down, no backoff: the grace period is for draining.
                    if attempt >= self.config.max_attempts || self.closed.load(Relaxed) {
                        core.release(&job.key, job.token).await;
                        self.dead_letter(core, job.event, attempt, failure.to_string());
                        return;
                    }
                    core.counters.retried();
                    let delay = self.config.backoff_for(attempt, failure.asked_delay());
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
            }
        }
    }

    fn dead_letter<H, S>(
        &self,
        core: &Core<H, S>,
        event: VocalsEvent,
        attempts: u32,
        error: String,
    ) {
        core.counters.dead_lettered();
        tracing::error!(task_id = event.task_id(), stage = event.stage().as_str(), attempts, error = %error, "event dead-lettered");
        if let Some(hook) = &self.config.dead_letter {
            hook(DeadLetter {
                event,
                attempts,
                error,
            });
        }
    }

    /// Stops taking events and lets the workers drain the queue for up to `grace`; what is
    /// still queued then goes to the dead-letter hook. Returns the events dead-lettered
    /// and the handler calls abandoned mid-way.
    pub(crate) async fn shutdown<H: VocalsHandler, S: DedupStore>(
        &self,
        core: &Arc<Core<H, S>>,
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
            core.release(&job.key, job.token).await;
            self.dead_letter(core, job.event, 0, "shut down before dispatch".into());
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
        let q = QueueConfig::new().backoff(Duration::from_millis(100), Duration::from_secs(1));
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
            QueueConfig::new().capacity(0),
            QueueConfig::new().workers(0),
            QueueConfig::new().max_attempts(0),
            QueueConfig::new().backoff(Duration::ZERO, Duration::from_secs(1)),
            QueueConfig::new().backoff(Duration::from_secs(2), Duration::from_secs(1)),
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
        assert!(QueueConfig::new().validate().is_ok());
    }
}
