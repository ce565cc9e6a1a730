//! The binding cache over Redis: `signature → body digest`, shared by replicas.

use std::{
    fmt,
    future::Future,
    sync::LazyLock,
    time::{Duration, SystemTime},
};

use redis::Script;
use subtle::ConstantTimeEq;

use super::{RedisConnection, hex_into, px};
use crate::{
    config::ConfigError,
    event::Stage,
    rejection::{Rejection, RejectionKind},
    verify::{
        BindingStore, BodyDigest, Digested, Signed, Verified, binding_conflict as conflict, time,
    },
};

/// Binds `KEYS[1]` to the digest `ARGV[1]` for `ARGV[2]` ms unless it is bound already, and
/// answers the digest it was bound to then (nil when this call bound it). The comparison is
/// left to the caller, in constant time: Lua's string equality is not.
///
/// Idempotent: run again after it bound the key, it answers the value it wrote, whose
/// digest is this body's, so the caller passes it as a retry (the time and stage kept are
/// the first run's).
static BIND: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local bound = redis.call('GET', KEYS[1])
if bound then return bound end
redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])
return false
",
    )
});

/// How long a binding outlives its window as the binding replica's clock sees it: another
/// replica whose clock runs a little behind still accepts the signature that long. Holding
/// a binding longer costs a key for a few seconds and refuses nothing a verifier would
/// accept.
const CLOCK_MARGIN: Duration = Duration::from_secs(30);

/// The binding cache over Redis: remembers `signature → digest(body)` until the signature
/// leaves its window, for every replica sharing the Redis, so a body swapped under captured
/// headers is refused whichever replica it is sent to.
///
/// Like the in-memory [`BindingCache`](crate::verify::BindingCache), the same signature
/// with the same body again is a retry and passes, and with another body it is refused as
/// [`SignatureReused`](RejectionKind::SignatureReused), or as
/// [`SignatureCollision`](RejectionKind::SignatureCollision) for a body of another stage
/// within [`COLLISION_WINDOW`](crate::verify::COLLISION_WINDOW) of the first (401 both).
/// Each binding is one key, `<prefix>bind:<hex of the MAC>`, holding the digest, the time
/// of the first bind and its body's stage, set with `SET NX` and an expiry at the end of
/// the signature's window (`timestamp + max(window, tolerance)`, plus a margin for clock
/// differences between replicas); on conflict the stored digest is compared, in constant
/// time. There is no capacity of its own: Redis's `maxmemory` bounds it (set
/// `maxmemory-policy noeviction`: an evicted binding reopens a replay window).
///
/// Replicas must compute the **same digest**: the default is unkeyed SHA-256
/// ([`BodyDigest::sha256`]); [`with_digest`](Self::with_digest)`(`[`BodyDigest::keyed`]`(&shared_key))`
/// computes faster (0.2 against 0.9 µs on a 1.6 KB body, small beside a Redis round trip),
/// with a 32-byte key every replica shares and keeps as secret as the signing key.
///
/// A bind that failed on a lost connection is run once more on a new one, within the
/// [timeout](super::RedisConfig::timeout): the script answers its own earlier write as a
/// retry. Any other Redis failure is refused with
/// [`StoreUnavailable`](RejectionKind::StoreUnavailable) (503, `Retry-After: 5`): a request
/// is never accepted without its binding.
///
/// ```no_run
/// use std::time::{Duration, SystemTime};
/// use vocals_callback::{redis::{RedisBinding, RedisConfig}, RejectionKind};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let redis = RedisConfig::new("redis://127.0.0.1:6379/").connect()?;
/// let binding = RedisBinding::new(redis, Duration::from_secs(300))?;
/// let now = SystemTime::now();
/// let timestamp = now.duration_since(SystemTime::UNIX_EPOCH)?.as_secs();
/// let mac = [7u8; 32];
/// binding.bind_mac(&mac, timestamp, b"{\"a\":1}", now).await?; // first delivery
/// binding.bind_mac(&mac, timestamp, b"{\"a\":1}", now).await?; // a retry, on any replica
/// let swapped = binding.bind_mac(&mac, timestamp, b"{\"a\":2}", now).await;
/// assert_eq!(swapped.unwrap_err().kind(), RejectionKind::SignatureReused);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisBinding {
    redis: RedisConnection,
    tolerance: Duration,
    digest: BodyDigest,
}

impl RedisBinding {
    /// A binding cache on `redis` keeping each signature for `tolerance` past its timestamp
    /// (use the verifier's tolerance; a verifier with a longer one is honoured), digesting
    /// bodies with SHA-256.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use vocals_callback::redis::{RedisBinding, RedisConfig};
    ///
    /// let redis = RedisConfig::new("redis://127.0.0.1:6379/").connect()?;
    /// let binding = RedisBinding::new(redis, Duration::from_secs(300))?;
    /// assert_eq!(binding.tolerance(), Duration::from_secs(300));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`InvalidTolerance`](crate::ConfigErrorKind::InvalidTolerance) for a tolerance of
    /// zero or of an hour or more.
    pub fn new(redis: RedisConnection, tolerance: Duration) -> Result<Self, ConfigError> {
        Ok(Self {
            redis,
            tolerance: time::check_tolerance(tolerance)?,
            digest: BodyDigest::sha256(),
        })
    }

    /// Digests bodies with `digest` instead of SHA-256. Every replica sharing the Redis must
    /// use the same one (the same key for [`BodyDigest::keyed`]); a digest drawn at random
    /// per process ([`BodyDigest::random`]) would refuse every retry that lands on another
    /// replica as a reused signature.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use vocals_callback::{redis::{RedisBinding, RedisConfig}, verify::BodyDigest};
    ///
    /// let shared_key = [0x42u8; 32]; // from your secret store, the same on every replica
    /// let redis = RedisConfig::new("redis://127.0.0.1:6379/").connect()?;
    /// let binding = RedisBinding::new(redis, Duration::from_secs(300))?
    ///     .with_digest(BodyDigest::keyed(&shared_key));
    /// # let _ = binding; Ok(()) }
    /// ```
    #[must_use]
    pub fn with_digest(mut self, digest: BodyDigest) -> Self {
        self.digest = digest;
        self
    }

    /// The digest kept of each body.
    #[must_use]
    pub fn digest(&self) -> &BodyDigest {
        &self.digest
    }

    /// The tolerance each binding is kept for past its timestamp, at least.
    #[must_use]
    pub fn tolerance(&self) -> Duration {
        self.tolerance
    }

    /// The connection (shared with a [`RedisStore`](super::RedisStore), say).
    #[must_use]
    pub fn connection(&self) -> &RedisConnection {
        &self.redis
    }

    /// Binds `signed` to a body of digest `digest` until its timestamp leaves the window,
    /// as judged at `now` (the service's clock, the one that checked the window). A
    /// signature already outside its window is not written (`Ok`): its verifier refuses it
    /// anyway, as the in-memory cache's expired entries are overwritten.
    async fn bind_digest(
        &self,
        signed: &Signed,
        digest: Digested,
        stage: Option<Stage>,
        now: SystemTime,
    ) -> Result<(), Rejection> {
        // Kept as long as the verifier accepts the signature, even when its tolerance is
        // longer than this cache's; the window's last second included (as the verifier's
        // and the memory cache's edges are).
        let window = signed.window.max(self.tolerance).as_secs();
        let end_ms = signed
            .timestamp
            .saturating_add(window)
            .saturating_add(1)
            .saturating_mul(1000);
        let now_ms = time::unix_millis(now);
        if end_ms <= now_ms {
            return Ok(());
        }
        let ttl = Duration::from_millis(end_ms - now_ms) + CLOCK_MARGIN;

        let mut key = String::with_capacity(self.redis.key_prefix().len() + 5 + 64);
        key.push_str(self.redis.key_prefix());
        key.push_str("bind:");
        hex_into(&mut key, &signed.mac);
        let mut invocation = BIND.key(key);
        invocation
            .arg(Bound::new(&digest, now_ms, stage).0.as_slice())
            .arg(px(ttl));
        // Safe to repeat: BIND answers its own earlier write, with this body's digest.
        let invocation = &invocation;
        let bound: Option<Vec<u8>> = self
            .redis
            .run(|mut conn| async move { invocation.invoke_async(&mut conn).await })
            .await
            .map_err(|err| {
                tracing::warn!(
                    error = &err as &dyn std::error::Error,
                    "binding store failed"
                );
                Rejection::retry_soon(RejectionKind::StoreUnavailable)
            })?;
        let Some(bound) = bound else {
            return Ok(());
        };
        let first = bound.get(..16).unwrap_or_default();
        if bool::from(first.ct_eq(digest.as_bytes())) {
            return Ok(());
        }
        let (first_ms, first_stage) = Bound::read(&bound);
        Err(conflict(first_stage, first_ms, stage, now_ms))
    }

    /// Binds `mac` (signed at `timestamp`, accepted for this cache's tolerance) to `body`,
    /// as [`BindingCache::bind_mac`](crate::verify::BindingCache::bind_mac) does in memory.
    ///
    /// ```no_run
    /// use std::time::{Duration, SystemTime};
    /// use vocals_callback::redis::{RedisBinding, RedisConfig};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let binding = RedisBinding::new(RedisConfig::new("redis://127.0.0.1:6379/").connect()?, Duration::from_secs(300))?;
    /// let now = SystemTime::now();
    /// let ts = now.duration_since(SystemTime::UNIX_EPOCH)?.as_secs();
    /// binding.bind_mac(&[1u8; 32], ts, b"{}", now).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`SignatureReused`](RejectionKind::SignatureReused) when the signature is bound to
    /// another body inside its window (no stage is known here, so never a collision: see
    /// [`BindingStore::bind`]); [`StoreUnavailable`](RejectionKind::StoreUnavailable) with
    /// `Retry-After` when Redis fails or answers too late.
    pub async fn bind_mac(
        &self,
        mac: &[u8; 32],
        timestamp: u64,
        body: &[u8],
        now: SystemTime,
    ) -> Result<(), Rejection> {
        let signed = Signed::new(*mac, timestamp, self.tolerance);
        self.bind_digest(&signed, self.digest.digest(body), None, now)
            .await
    }

    /// Binds the signature of a [`Verified`] pass, if its scheme needs binding (its MAC does
    /// not cover the body); passes otherwise.
    ///
    /// ```
    /// use vocals_callback::{redis::RedisBinding, verify::{Verifier, VerifyRequest}, Rejection};
    ///
    /// async fn verify_and_bind(
    ///     binding: &RedisBinding,
    ///     verifiers: &[&dyn Verifier],
    ///     req: &VerifyRequest<'_>,
    /// ) -> Result<(), Rejection> {
    ///     for verifier in verifiers {
    ///         let verified = verifier.verify(req)?;
    ///         binding.bind_verified(&verified, req.body(), req.now()).await?;
    ///     }
    ///     Ok(())
    /// }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`bind_mac`](Self::bind_mac).
    pub async fn bind_verified(
        &self,
        verified: &Verified,
        body: &[u8],
        now: SystemTime,
    ) -> Result<(), Rejection> {
        match verified.signature() {
            Some(signed) => {
                self.bind_digest(signed, self.digest.digest(body), None, now)
                    .await
            }
            None => Ok(()),
        }
    }
}

impl BindingStore for RedisBinding {
    fn bind(
        &self,
        signed: &Signed,
        body: &[u8],
        stage: Stage,
        now: SystemTime,
    ) -> impl Future<Output = Result<(), Rejection>> + Send {
        // Digested before the first await, so the future does not hold the body.
        let digest = self.digest.digest(body);
        self.bind_digest(signed, digest, Some(stage), now)
    }
}

/// A binding's value in Redis: the body's digest (16 bytes), then the Unix millisecond of
/// the first bind (8, big-endian) and that body's stage (1: its place in [`Stage::ALL`]
/// plus one, 0 for none), so a conflict can
/// be told a collision or a reuse ([`conflict`]).
struct Bound([u8; 25]);

impl Bound {
    fn new(digest: &Digested, now_ms: u64, stage: Option<Stage>) -> Self {
        let mut value = [0u8; 25];
        value[..16].copy_from_slice(digest.as_bytes());
        value[16..24].copy_from_slice(&now_ms.to_be_bytes());
        value[24] = stage
            .and_then(|s| Stage::ALL.iter().position(|&k| k == s))
            .and_then(|i| u8::try_from(i + 1).ok())
            .unwrap_or(0);
        Self(value)
    }

    /// The time and stage of a stored value; `(0, None)` for a value of another form (a
    /// reuse, then: the conservative answer).
    fn read(value: &[u8]) -> (u64, Option<Stage>) {
        match (value.get(16..24), value.get(24)) {
            (Some(ms), Some(&stage)) if value.len() == 25 => {
                let mut bytes = [0u8; 8];
                bytes.copy_from_slice(ms);
                let stage = usize::from(stage)
                    .checked_sub(1)
                    .and_then(|i| Stage::ALL.get(i).copied());
                (u64::from_be_bytes(bytes), stage)
            }
            _ => (0, None),
        }
    }
}

impl fmt::Debug for RedisBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisBinding")
            .field("redis", &self.redis)
            .field("tolerance", &self.tolerance)
            .field("digest", &self.digest)
            .finish()
    }
}
