//! The Redis backend: the dedup store and the binding on one Redis.

use std::time::Duration;

use super::{RedisBinding, RedisConnection, RedisStore};
use crate::{
    backend::{Backend, Stores},
    config::ConfigError,
    dedup::DEFAULT_RETENTION,
    verify::{BodyDigest, time::DEFAULT_TOLERANCE},
};

/// Both stores of a service on one Redis, shared by every replica pointed at it: a
/// [`RedisStore`] and a [`RedisBinding`] on the same connection and key prefix.
///
/// | setting | default |
/// |---|---|
/// | [`with_retention`](Self::with_retention) | [`DEFAULT_RETENTION`] (24 h; at least 30 min) |
/// | [`with_digest`](Self::with_digest) | [`BodyDigest::sha256`]: every replica must use the same |
///
/// ```no_run
/// use vocals_callback::{HandlerResult, Secret, VocalsEvent, VocalsService, verify::{BodyDigest, KieSignature}};
/// use vocals_callback::redis::{RedisBackend, RedisConfig};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let shared_key = [0x42u8; 32]; // from your secret store, the same on every replica
/// let redis = RedisConfig::new("redis://10.0.0.5:6379/").connect()?;
/// let svc = VocalsService::builder(|_e: VocalsEvent| async { HandlerResult::Ok(()) })
///     .verifier(KieSignature::new(Secret::new("your-webhook-hmac-key")?))
///     .backend(RedisBackend::new(redis).with_digest(BodyDigest::keyed(&shared_key)))
///     .build()?;
/// assert_eq!(svc.dedup_store().connection().key_prefix(), "vocals:");
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct RedisBackend {
    redis: RedisConnection,
    retention: Duration,
    digest: BodyDigest,
}

impl RedisBackend {
    /// Both stores on `redis`, with the defaults above. Settings are checked when the
    /// service is built.
    #[must_use]
    pub fn new(redis: RedisConnection) -> Self {
        Self {
            redis,
            retention: DEFAULT_RETENTION,
            digest: BodyDigest::sha256(),
        }
    }

    /// Remembers handled keys for `retention`.
    #[must_use]
    pub fn with_retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    /// Digests bodies with `digest` (the same on every replica: see
    /// [`RedisBinding::with_digest`]).
    #[must_use]
    pub fn with_digest(mut self, digest: BodyDigest) -> Self {
        self.digest = digest;
        self
    }

    /// The connection both stores use.
    #[must_use]
    pub fn connection(&self) -> &RedisConnection {
        &self.redis
    }

    /// How long a handled key is remembered.
    #[must_use]
    pub fn retention(&self) -> Duration {
        self.retention
    }

    /// The digest kept of each body.
    #[must_use]
    pub fn digest(&self) -> &BodyDigest {
        &self.digest
    }
}

impl Backend for RedisBackend {
    type Dedup = RedisStore;
    type Binding = RedisBinding;

    /// # Errors
    ///
    /// [`InvalidRetention`](crate::ConfigErrorKind::InvalidRetention) under 30 minutes.
    fn open(self) -> Result<Stores<RedisStore, RedisBinding>, ConfigError> {
        let dedup = RedisStore::new(self.redis.clone()).with_retention(self.retention)?;
        // Each binding lives as long as its verifier's window, at least the default one.
        let binding = RedisBinding::new(self.redis, DEFAULT_TOLERANCE)?.with_digest(self.digest);
        Ok(Stores::new(dedup, binding))
    }
}
