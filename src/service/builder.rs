//! Configuring a [`VocalsService`]: every setting has a documented default and is checked
//! when the service is built.

use std::{
    fmt,
    sync::{Arc, atomic::AtomicBool},
    time::{Duration, SystemTime},
};

use super::{
    Clock, Shared, VocalsService,
    bind::Binding,
    dispatch::Core,
    layer::VocalsLayer,
    queue::{Queue, QueueConfig},
};
use crate::{
    config::{ConfigError, ConfigErrorKind},
    dedup::{DedupStore, MemoryStore},
    handler::VocalsHandler,
    stats::Counters,
    verify::{BindingCache, Verifier},
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
/// Signatures remembered by the binding cache by default.
pub const DEFAULT_BINDING_CAPACITY: usize = 100_000;

/// Builds a [`VocalsService`] (or a [`VocalsLayer`]); start with [`VocalsService::builder`].
///
/// | setting | default |
/// |---|---|
/// | verifiers | none: [`verifier`](Self::verifier) at least once, or [`insecure_accept_unverified`](Self::insecure_accept_unverified) |
/// | [`path`](Self::path) (layer only) | [`DEFAULT_PATH`] `/vocals-callback` |
/// | [`body_limit`](Self::body_limit) | [`DEFAULT_BODY_LIMIT`] 256 KiB |
/// | [`read_timeout`](Self::read_timeout) | [`DEFAULT_READ_TIMEOUT`] 10 s |
/// | [`handler_timeout`](Self::handler_timeout) | [`DEFAULT_HANDLER_TIMEOUT`] 10 s (under 15 s) |
/// | [`binding_capacity`](Self::binding_capacity) | [`DEFAULT_BINDING_CAPACITY`] 100 000 |
/// | [`dedup_store`](Self::dedup_store) | [`MemoryStore::default`]: 100 000 tasks, 24 h |
/// | [`deliver_late_stages`](Self::deliver_late_stages) | `false`: late `text`/`first` answered 200 `ignored` |
/// | [`queued`](Self::queued) | inline dispatch |
/// | [`clock`](Self::clock) | `SystemTime::now` |
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
pub struct Builder<H, S = MemoryStore> {
    handler: H,
    store: S,
    verifiers: Vec<Box<dyn Verifier>>,
    insecure: bool,
    path: String,
    body_limit: usize,
    read_timeout: Duration,
    handler_timeout: Duration,
    binding_capacity: usize,
    deliver_late_stages: bool,
    queue: Option<QueueConfig>,
    clock: Clock,
    #[cfg(feature = "redis")]
    redis_binding: Option<crate::redis::RedisBinding>,
}

impl<H: VocalsHandler> Builder<H> {
    pub(super) fn new(handler: H) -> Self {
        Self {
            handler,
            store: MemoryStore::default(),
            verifiers: Vec::new(),
            insecure: false,
            path: DEFAULT_PATH.to_owned(),
            body_limit: DEFAULT_BODY_LIMIT,
            read_timeout: DEFAULT_READ_TIMEOUT,
            handler_timeout: DEFAULT_HANDLER_TIMEOUT,
            binding_capacity: DEFAULT_BINDING_CAPACITY,
            deliver_late_stages: false,
            queue: None,
            clock: Arc::new(SystemTime::now),
            #[cfg(feature = "redis")]
            redis_binding: None,
        }
    }
}

impl<H: VocalsHandler, S: DedupStore> Builder<H, S> {
    /// Adds a verifier; every one must pass. Header-only ones ([`UrlToken`](crate::verify::UrlToken),
    /// [`IpAllowlist`](crate::verify::IpAllowlist)) run before the body is read; put them
    /// first. A [`KieSignature`](crate::verify::KieSignature) pass is bound to its body
    /// automatically (its MAC does not cover the body).
    pub fn verifier(mut self, verifier: impl Verifier) -> Self {
        self.verifiers.push(Box::new(verifier));
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

    /// Signatures the binding cache remembers within their window (503 when all are live).
    pub fn binding_capacity(mut self, capacity: usize) -> Self {
        self.binding_capacity = capacity;
        self
    }

    /// Delivers a `text` or `first` that arrives after a later stage of its task was
    /// handled, instead of answering 200 `ignored`.
    pub fn deliver_late_stages(mut self, deliver: bool) -> Self {
        self.deliver_late_stages = deliver;
        self
    }

    /// Uses `store` for deduplication (for example a store shared by replicas).
    pub fn dedup_store<S2: DedupStore>(self, store: S2) -> Builder<H, S2> {
        Builder {
            handler: self.handler,
            store,
            verifiers: self.verifiers,
            insecure: self.insecure,
            path: self.path,
            body_limit: self.body_limit,
            read_timeout: self.read_timeout,
            handler_timeout: self.handler_timeout,
            binding_capacity: self.binding_capacity,
            deliver_late_stages: self.deliver_late_stages,
            queue: self.queue,
            clock: self.clock,
            #[cfg(feature = "redis")]
            redis_binding: self.redis_binding,
        }
    }

    /// Binds signatures in Redis instead of the in-process cache, so that a body swapped
    /// under captured headers is refused whichever replica it reaches (feature `redis`).
    /// Pair it with a [`RedisStore`](crate::redis::RedisStore) as the
    /// [`dedup_store`](Self::dedup_store). Every replica must digest bodies the same way
    /// (see [`RedisBinding::with_digest`](crate::redis::RedisBinding::with_digest)). Recall of
    /// byte-identical retries is off with it: a Redis round trip would cost what it saves.
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    pub fn redis_binding(mut self, binding: crate::redis::RedisBinding) -> Self {
        self.redis_binding = Some(binding);
        self
    }

    /// Dispatches through a bounded queue instead of inside the request (see
    /// [`QueueConfig`] for what this mode can lose). Build inside a tokio runtime.
    pub fn queued(mut self, queue: QueueConfig) -> Self {
        self.queue = Some(queue);
        self
    }

    /// The clock for timestamp windows and dedup ages (tests inject a fixed one).
    pub fn clock(mut self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
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
    /// runtime ([`NoRuntime`](ConfigErrorKind::NoRuntime)).
    pub fn build(self) -> Result<VocalsService<H, S>, ConfigError> {
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
        #[cfg(feature = "redis")]
        let remote = self.redis_binding.map(Binding::Redis);
        #[cfg(not(feature = "redis"))]
        let remote = None;
        let binding = match remote {
            Some(remote) => remote,
            None => Binding::Memory(BindingCache::new(
                self.binding_capacity,
                crate::verify::time::DEFAULT_TOLERANCE,
            )?),
        };
        if self.verifiers.is_empty() {
            tracing::warn!("vocals-callback accepts unverified callbacks: anyone can post events");
        }
        // A claim outlives the handler's deadline by a margin, so that when another delivery
        // takes it over, the first call has certainly been cancelled.
        let lease = match &self.queue {
            None => self.handler_timeout + Duration::from_secs(1),
            Some(queue) => queue.lease(self.handler_timeout),
        };
        let core = Arc::new(Core {
            handler: self.handler,
            store: self.store,
            counters: Counters::default(),
            handler_timeout: self.handler_timeout,
            lease,
            deliver_late_stages: self.deliver_late_stages,
            clock: self.clock,
        });
        let queue = match self.queue {
            None => None,
            Some(config) => {
                let queue = Arc::new(Queue::new(config));
                queue.start(&core)?;
                Some(queue)
            }
        };
        let (header_verifiers, body_verifiers) =
            self.verifiers.into_iter().partition(|v| !v.needs_body());
        Ok(VocalsService {
            shared: Arc::new(Shared {
                core,
                queue,
                header_verifiers,
                body_verifiers,
                binding,
                path: self.path.into(),
                body_limit: self.body_limit,
                read_timeout: self.read_timeout,
                closing: AtomicBool::new(false),
            }),
        })
    }

    /// Builds the service and wraps it in a [`VocalsLayer`] answering [`path`](Self::path).
    ///
    /// # Errors
    ///
    /// As [`build`](Self::build).
    pub fn build_layer(self) -> Result<VocalsLayer<H, S>, ConfigError> {
        self.build().map(VocalsLayer::new)
    }
}

impl<H, S: fmt::Debug> fmt::Debug for Builder<H, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("verifiers", &self.verifiers)
            .field("insecure", &self.insecure)
            .field("path", &self.path)
            .field("body_limit", &self.body_limit)
            .field("read_timeout", &self.read_timeout)
            .field("handler_timeout", &self.handler_timeout)
            .field("binding_capacity", &self.binding_capacity)
            .field("deliver_late_stages", &self.deliver_late_stages)
            .field("store", &self.store)
            .field("queue", &self.queue)
            .finish_non_exhaustive()
    }
}
