//! Configuring a [`VocalsService`]: every setting has a documented default and is checked
//! when the service is built.

use std::{
    fmt,
    sync::Arc,
    sync::atomic::AtomicBool,
    time::{Duration, SystemTime},
};

use super::{
    clock::Clock,
    dispatch::{
        Dispatcher,
        queue::{Queue, QueueConfig},
    },
    endpoint::VocalsService,
    layer::VocalsLayer,
    log,
    pipeline::Pipeline,
    state::State,
};
use crate::{
    backend::{Backend, MemoryBackend},
    config::{ConfigError, ConfigErrorKind},
    handler::VocalsHandler,
    stats::Counters,
    verify::{
        Verifier,
        chain::{Entry, Verifiers},
    },
};

/// The path the [`VocalsLayer`] answers by default.
pub const DEFAULT_PATH: &str = "/vocals-callback";
/// The largest body read by default: callbacks are a few kilobytes; 256 KiB leaves room
/// for 64 tracks with long lyrics.
pub const DEFAULT_BODY_LIMIT: usize = 256 * 1024;
/// How long a client may take to send the body by default.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the handler may run by default (inline dispatch, and each queued attempt).
pub const DEFAULT_HANDLER_TIMEOUT: Duration = Duration::from_secs(10);
/// The sender gives up after 15 s: a handler deadline at or past it would be answered to
/// nobody, and the sender would retry an event that is still being handled.
pub const MAX_HANDLER_TIMEOUT: Duration = Duration::from_secs(15);
/// Builds a [`VocalsService`] (or a [`VocalsLayer`]); start with [`VocalsService::builder`].
///
/// | setting | default |
/// |---|---|
/// | verifiers | none: [`verifier`](Self::verifier) at least once, or [`insecure_accept_unverified`](Self::insecure_accept_unverified) |
/// | [`backend`](Self::backend) | [`MemoryBackend`]: dedup store and binding in this process |
/// | [`path`](Self::path) (layer only) | [`DEFAULT_PATH`] `/vocals-callback` |
/// | [`body_limit`](Self::body_limit) | [`DEFAULT_BODY_LIMIT`] 256 KiB |
/// | [`read_timeout`](Self::read_timeout) | [`DEFAULT_READ_TIMEOUT`] 10 s |
/// | [`handler_timeout`](Self::handler_timeout) | [`DEFAULT_HANDLER_TIMEOUT`] 10 s (under 15 s) |
/// | [`deliver_late_stages`](Self::deliver_late_stages) | `false`: late `text`/`first` answered 200 `ignored` |
/// | [`queued`](Self::queued) | inline dispatch |
/// | [`clock`](Self::clock) | `SystemTime::now` |
///
/// Setters take and return the builder, with bare names (`body_limit(..)`); nothing is
/// checked until [`build`](Self::build). (Values that are used as configured, such as the
/// verifiers, [`QueueConfig`] and the backends, take `with_*` setters and answer getters of
/// the bare names instead: see CONTRIBUTING.md.)
///
/// ```
/// use std::time::Duration;
/// use vocals_callback::{ConfigErrorKind, HandlerResult, Secret, VocalsEvent, VocalsService, verify::KieSignature};
///
/// let handler = |_event: VocalsEvent| async { HandlerResult::Ok(()) };
/// let svc = VocalsService::builder(handler)
///     .verifier(KieSignature::new(Secret::new("your-webhook-hmac-key")?))
///     .handler_timeout(Duration::from_secs(5))
///     .build()?;
///
/// // No verifier is a mistake, not a default.
/// let err = VocalsService::builder(handler).build().unwrap_err();
/// assert_eq!(err.kind(), ConfigErrorKind::NoVerifier);
/// # drop(svc);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use]
pub struct Builder<H, B = MemoryBackend> {
    handler: H,
    backend: B,
    verifiers: Vec<Entry>,
    insecure: bool,
    path: String,
    body_limit: usize,
    read_timeout: Duration,
    handler_timeout: Duration,
    deliver_late_stages: bool,
    queue: Option<QueueConfig>,
    clock: Clock,
}

impl<H: VocalsHandler> VocalsService<H> {
    /// Starts configuring a service that hands events to `handler`.
    pub fn builder(handler: H) -> Builder<H> {
        Builder {
            handler,
            backend: MemoryBackend::new(),
            verifiers: Vec::new(),
            insecure: false,
            path: DEFAULT_PATH.to_owned(),
            body_limit: DEFAULT_BODY_LIMIT,
            read_timeout: DEFAULT_READ_TIMEOUT,
            handler_timeout: DEFAULT_HANDLER_TIMEOUT,
            deliver_late_stages: false,
            queue: None,
            clock: Clock::system(),
        }
    }
}

impl<H: VocalsHandler, B: Backend> Builder<H, B> {
    /// Adds a verifier; every one must pass, in the order added. Each looks at the headers
    /// before the body is read (a [`UrlToken`](crate::verify::UrlToken) or an
    /// [`IpAllowlist`](crate::verify::IpAllowlist) is checked whole there, so a refused
    /// request costs no read), and those that need the body check it once it is read. A
    /// [`KieSignature`](crate::verify::KieSignature) pass is bound to its body in the
    /// backend's binding (its MAC does not cover the body).
    pub fn verifier(mut self, verifier: impl Verifier) -> Self {
        self.verifiers.push(Entry::new(verifier));
        self
    }

    /// Accepts callbacks without any verifier. Anyone who finds the URL can then post
    /// events; the service logs a warning when built. For local experiments only.
    pub fn insecure_accept_unverified(mut self) -> Self {
        self.insecure = true;
        self
    }

    /// The path the [`VocalsLayer`] answers (the service itself answers wherever it is
    /// mounted).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// The largest body accepted, in bytes (413 past it).
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// How long the client may take to send the body (408 past it).
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// How long the handler may run (503 and a released claim past it). Under 15 s.
    pub fn handler_timeout(mut self, timeout: Duration) -> Self {
        self.handler_timeout = timeout;
        self
    }

    /// Delivers a `text` or `first` that arrives after a later stage of its task was
    /// handled, instead of answering 200 `ignored`.
    pub fn deliver_late_stages(mut self, deliver: bool) -> Self {
        self.deliver_late_stages = deliver;
        self
    }

    /// Keeps the service's state (dedup store and binding) in `backend` instead of in this
    /// process: [`RedisBackend`] (feature `redis`) to share it
    /// between replicas, or a [`MemoryBackend`] with other sizes. See
    /// [`backend`](crate::backend) for how to choose.
    #[cfg_attr(
        feature = "redis",
        doc = "\n\n[`RedisBackend`]: crate::redis::RedisBackend"
    )]
    #[cfg_attr(
        not(feature = "redis"),
        doc = "\n\n[`RedisBackend`]: https://docs.rs/vocals-callback/latest/vocals_callback/redis/struct.RedisBackend.html"
    )]
    pub fn backend<B2: Backend>(self, backend: B2) -> Builder<H, B2> {
        Builder {
            handler: self.handler,
            backend,
            verifiers: self.verifiers,
            insecure: self.insecure,
            path: self.path,
            body_limit: self.body_limit,
            read_timeout: self.read_timeout,
            handler_timeout: self.handler_timeout,
            deliver_late_stages: self.deliver_late_stages,
            queue: self.queue,
            clock: self.clock,
        }
    }

    /// Dispatches through a bounded queue instead of inside the request (see
    /// [`QueueConfig`] for what this mode can lose). Build inside a tokio runtime.
    pub fn queued(mut self, queue: QueueConfig) -> Self {
        self.queue = Some(queue);
        self
    }

    /// The clock for timestamp windows and dedup ages (tests inject a fixed one).
    pub fn clock(mut self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.clock = Clock::new(clock);
        self
    }

    /// Checks the settings and builds the service.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`]: no verifier and no `insecure_accept_unverified`
    /// ([`NoVerifier`](ConfigErrorKind::NoVerifier)); a zero duration or a handler timeout of
    /// 15 s or more ([`InvalidDuration`](ConfigErrorKind::InvalidDuration)); a zero limit or
    /// capacity ([`ZeroCapacity`](ConfigErrorKind::ZeroCapacity)); a path not starting with
    /// `/` ([`InvalidPath`](ConfigErrorKind::InvalidPath)); queued dispatch outside a tokio
    /// runtime ([`NoRuntime`](ConfigErrorKind::NoRuntime)); whatever the backend refuses
    /// ([`Backend::open`]).
    pub fn build(self) -> Result<VocalsService<H, B>, ConfigError> {
        if self.verifiers.is_empty() && !self.insecure {
            return Err(ConfigError::new(
                ConfigErrorKind::NoVerifier,
                "no verifier: add one, or call insecure_accept_unverified() for local experiments",
            ));
        }
        if self.read_timeout.is_zero()
            || self.handler_timeout.is_zero()
            || self.handler_timeout >= MAX_HANDLER_TIMEOUT
        {
            return Err(ConfigError::new(
                ConfigErrorKind::InvalidDuration,
                "timeouts must be non-zero, and the handler timeout under 15 s",
            ));
        }
        if self.body_limit == 0 {
            return Err(ConfigError::new(
                ConfigErrorKind::ZeroCapacity,
                "body limit must be at least 1 byte",
            ));
        }
        if !self.path.starts_with('/') {
            return Err(ConfigError::new(
                ConfigErrorKind::InvalidPath,
                "path must start with '/'",
            ));
        }
        if let Some(queue) = &self.queue {
            queue.validate()?;
        }
        let (dedup, binding) = self.backend.open()?.into_parts();
        if self.verifiers.is_empty() {
            log::insecure();
        }
        // A claim outlives the handler's deadline by a margin, so that when another delivery
        // takes it over, the first call has certainly been cancelled.
        let lease = match &self.queue {
            None => self.handler_timeout + Duration::from_secs(1),
            Some(queue) => queue.lease(self.handler_timeout),
        };
        // Taken from the recorder installed now: see the `metrics` module.
        #[cfg(feature = "metrics")]
        let metrics = crate::metrics::Handles::register(&dedup, &binding);
        let state = Arc::new(State {
            handler: self.handler,
            dedup,
            counters: Counters::default(),
            #[cfg(feature = "metrics")]
            metrics,
            handler_timeout: self.handler_timeout,
            lease,
            deliver_late_stages: self.deliver_late_stages,
            clock: self.clock,
        });
        let dispatcher = match self.queue {
            None => Dispatcher::Inline,
            Some(config) => {
                let queue = Arc::new(Queue::new(config));
                queue.start(&state)?;
                Dispatcher::Queued(queue)
            }
        };
        Ok(VocalsService::new(Pipeline {
            state,
            binding,
            verifiers: Verifiers::new(self.verifiers),
            dispatcher,
            body_limit: self.body_limit,
            read_timeout: self.read_timeout,
            path: self.path.into(),
            closing: AtomicBool::new(false),
        }))
    }

    /// Builds the service and wraps it in a [`VocalsLayer`] answering [`path`](Self::path).
    ///
    /// # Errors
    ///
    /// As [`build`](Self::build).
    pub fn build_layer(self) -> Result<VocalsLayer<H, B>, ConfigError> {
        self.build().map(VocalsLayer::new)
    }
}

impl<H, B: fmt::Debug> fmt::Debug for Builder<H, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("verifiers", &self.verifiers)
            .field("insecure", &self.insecure)
            .field("path", &self.path)
            .field("body_limit", &self.body_limit)
            .field("read_timeout", &self.read_timeout)
            .field("handler_timeout", &self.handler_timeout)
            .field("deliver_late_stages", &self.deliver_late_stages)
            .field("backend", &self.backend)
            .field("queue", &self.queue)
            .finish_non_exhaustive()
    }
}
