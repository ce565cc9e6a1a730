//! Redis-backed state (feature `redis`): one dedup store and one binding shared by every
//! replica of a receiver, chosen with [`RedisBackend`].
//!
//! The in-memory [`MemoryBackend`](crate::backend::MemoryBackend) is per process. Behind a
//! load balancer, a retry that lands on another replica would run the handler again, and a
//! body swapped under captured headers could be sent to the replica that never saw the
//! original. With both stores on one Redis, replicas answer as one process would (see
//! [`backend`](crate::backend) for what each choice guarantees across restarts, failovers
//! and eviction, and how to size Redis):
//!
//! - [`RedisStore`] implements [`DedupStore`](crate::dedup::DedupStore): a claim is one Lua
//!   script (`EVALSHA`) that answers `Done`, `InFlight` (with the lease's `PTTL` as
//!   `Retry-After`) or `Superseded`, or takes the key with `SET key token NX PX <lease>`, all
//!   atomically; completing and releasing are scripts that check the token.
//! - [`RedisBinding`] implements [`BindingStore`](crate::verify::BindingStore): a `SET NX`
//!   of the signature to its body's digest, expiring when the signature leaves its window,
//!   and a digest comparison on conflict.
//! - [`RedisConfig`] says where Redis is and under which key prefix; [`RedisConnection`] is
//!   the connection both share (cheap to clone); [`RedisBackend`] makes both stores on it.
//!
//! Once Redis answers again, no callback is refused: each connection has a health task
//! that notices a dead socket and connects again before a request needs it (within about
//! 100 ms of Redis accepting connections), and a command that failed on a lost connection
//! runs once more on a new one, inside the same timeout (every script here answers the same
//! when run twice). Any other Redis failure (down, timed out) is an error: the dedup
//! store's [`StoreError`] and the binding's
//! [`StoreUnavailable`](crate::RejectionKind::StoreUnavailable) both answer 503 with
//! `Retry-After`, so the provider retries later. Nothing is ever accepted or dropped
//! silently because Redis did not answer.
//!
//! ```no_run
//! use vocals_callback::{HandlerResult, Secret, VocalsEvent, VocalsService, verify::KieSignature};
//! use vocals_callback::redis::{RedisBackend, RedisConfig};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Every replica: the same Redis, the same key prefix (the same digest: SHA-256 by default).
//! let redis = RedisConfig::new("redis://10.0.0.5:6379/")
//!     .with_key_prefix("myapp:vocals:")
//!     .connect()?; // lazy: no I/O yet, so a replica starts while Redis is down
//! redis.ping().await?; // optional: fail the start if Redis is unreachable
//! let callbacks = VocalsService::builder(|event: VocalsEvent| async move {
//!     let _ = event; // handle it idempotently
//!     HandlerResult::Ok(())
//! })
//! .verifier(KieSignature::new(Secret::new("your-webhook-hmac-key")?))
//! .backend(RedisBackend::new(redis))
//! .build()?;
//! # let _ = callbacks; Ok(()) }
//! ```
//!
//! # Why redis-rs
//!
//! The client is [redis-rs](https://docs.rs/redis) (the `redis` crate) with its tokio
//! driver, rather than fred. Its `ConnectionManager` multiplexes every request of a replica
//! over one connection and reconnects after the connection drops (Redis restarted, a
//! failover, a network blip), with no restart of the service. Its `Script` runs scripts by
//! `EVALSHA` and loads them again when a restarted server answers `NOSCRIPT`. That is all
//! this crate needs, with a small dependency tree and default features off; fred's extra
//! machinery (its own pools, client-side caching, cluster and sentinel routing always
//! compiled in, a larger build) buys nothing here.
//!
//! What redis-rs does not do, this module adds. The manager reconnects only when a command
//! fails on the dead connection (with RESP2; RESP3's disconnect notice covers a closed
//! socket but not a server that was down), so on its own the request that found the
//! connection dead would fail (503), on every replica after every outage. Here:
//!
//! - **a health task** per connection sends `PING` every 500 ms (every 100 ms while it
//!   fails): its failure is what sets the manager reconnecting, so a socket Redis closed
//!   (a restart, `CLIENT KILL`, an idle `timeout`, a failover) is replaced in the
//!   background, and a working one is never idle long enough to be closed for it. A `PING`
//!   unanswered within the timeout (a socket to a host that vanished without closing it,
//!   on which redis-rs would wait forever) replaces the manager itself;
//! - **one retry** of a command that failed on a lost connection (closed, reset, refused, a
//!   broken pipe), on the connection the failure set up, within the one timeout of the
//!   operation ([`DEFAULT_TIMEOUT`]). Such a command did not run, or ran and lost its
//!   answer; the claim, complete, release and bind scripts answer the same when run twice
//!   (the claim recognises its own token), so either way the retry's answer is the one the
//!   first run would have given. A command that got no answer in time is never repeated.
//!
//! Reconnecting with redis-rs's own backoff (`ConnectionManagerConfig::set_number_of_retries`)
//! is left off: a request waiting on a reconnection would wait through every delay while
//! Redis is down, when it should be answered 503 at once.
//!
//! # Keys, clocks and clusters
//!
//! Each handled stage is one key with the retention as its expiry, and each binding one key
//! with the signature's window as its expiry; nothing else is written.
//!
//! **Clocks.** Leases and retention are measured by Redis, from the moment the script runs,
//! so the `now` of a [`ClaimRequest`](crate::dedup::ClaimRequest) is not used and replicas'
//! clocks need not agree. A binding's time to live is computed from the service's clock
//! (the one that judged the signature's window) and handed to Redis as a duration, plus a
//! margin for replicas whose clocks disagree a little.
//!
//! **Redis Cluster.** All keys of one task share a hash tag (`{task}`), so each script
//! touches one slot and runs on a cluster as on one server; the connection here is to one
//! endpoint (a standalone server, or a proxy in front of a cluster).
//!
//! The tokio runtime must have its I/O driver enabled (`#[tokio::main]` and
//! `Runtime::new` do), since the connection is a tokio socket.

use std::{
    fmt,
    sync::{Arc, PoisonError, RwLock, Weak},
    time::Duration,
};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::{
    config::{ConfigError, ConfigErrorKind},
    dedup::StoreError,
};

mod backend;
mod binding;
mod store;

pub use backend::RedisBackend;
pub use binding::RedisBinding;
pub use store::RedisStore;

/// The key prefix used unless [`RedisConfig::key_prefix`] sets another.
pub const DEFAULT_PREFIX: &str = "vocals:";

/// How long one Redis operation may take, connecting and its one retry after a lost
/// connection included, unless [`RedisConfig::timeout`] sets another. Past it the operation
/// fails (503): the sender's own timeout is 15 s, and a request stuck on a dead Redis must
/// be answered well before.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// How often the health task checks a working connection (`PING`): a connection Redis
/// closed while idle is made again within this, before a request needs it, and an idle
/// connection is never idle long enough for Redis's `timeout` (1 s at the least) to close it.
const HEALTH_INTERVAL: Duration = Duration::from_millis(500);

/// How often the health task tries again while the connection is down: once Redis accepts
/// connections, the connection is back within about this (well inside the second the
/// receiver promises).
const RECONNECT_INTERVAL: Duration = Duration::from_millis(100);

/// Where Redis is and how to name the keys: the URL, the key prefix and the timeout of one
/// operation.
///
/// The URL is any URL redis-rs accepts: `redis://[user:password@]host:port/db`,
/// `rediss://…` is not compiled in (no TLS feature), `redis+unix:///path`.
///
/// ```
/// use std::time::Duration;
/// use vocals_callback::redis::RedisConfig;
///
/// let config = RedisConfig::new("redis://127.0.0.1:6379/2")
///     .with_key_prefix("shop:vocals:")
///     .with_timeout(Duration::from_millis(500));
/// assert_eq!(config.key_prefix(), "shop:vocals:");
/// assert_eq!(config.url(), "redis://127.0.0.1:6379/2");
/// assert_eq!(config.timeout(), Duration::from_millis(500));
/// ```
#[derive(Clone)]
pub struct RedisConfig {
    url: String,
    prefix: String,
    timeout: Duration,
}

impl RedisConfig {
    /// Redis at `url`, with the prefix [`DEFAULT_PREFIX`] and the timeout
    /// [`DEFAULT_TIMEOUT`]. Nothing is checked until [`connect`](Self::connect).
    #[must_use]
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            prefix: DEFAULT_PREFIX.to_owned(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Prefixes every key with `prefix` instead of `vocals:`, so several receivers (or
    /// environments) can share one Redis without sharing keys. Replicas of one receiver
    /// must use the same prefix.
    ///
    /// ```
    /// # use vocals_callback::redis::RedisConfig;
    /// assert_eq!(RedisConfig::new("redis://127.0.0.1/").with_key_prefix("staging:").key_prefix(), "staging:");
    /// ```
    #[must_use]
    pub fn with_key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Fails any Redis operation (connecting included) that takes longer than `timeout`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use vocals_callback::redis::RedisConfig;
    /// let config = RedisConfig::new("redis://127.0.0.1/").with_timeout(Duration::from_secs(1));
    /// assert_eq!(config.timeout(), Duration::from_secs(1));
    /// ```
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The URL.
    ///
    /// ```
    /// # use vocals_callback::redis::RedisConfig;
    /// assert_eq!(RedisConfig::new("redis://127.0.0.1/").url(), "redis://127.0.0.1/");
    /// ```
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The key prefix.
    ///
    /// ```
    /// # use vocals_callback::redis::RedisConfig;
    /// assert_eq!(RedisConfig::new("redis://127.0.0.1/").key_prefix(), "vocals:");
    /// ```
    #[must_use]
    pub fn key_prefix(&self) -> &str {
        &self.prefix
    }

    /// The timeout of one operation.
    ///
    /// ```
    /// # use vocals_callback::redis::{DEFAULT_TIMEOUT, RedisConfig};
    /// assert_eq!(RedisConfig::new("redis://127.0.0.1/").timeout(), DEFAULT_TIMEOUT);
    /// ```
    #[must_use]
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// A connection to this Redis, made in the background by its health task: this call
    /// does no I/O, so a replica starts (and answers 503) while Redis is down, and serves
    /// as soon as it is back. Call [`RedisConnection::ping`] to check the server at start.
    ///
    /// Must be called inside a tokio runtime: the connection's health task is spawned on it
    /// (see [`RedisConnection`]); it ends when the last clone of the connection is dropped.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use vocals_callback::redis::RedisConfig;
    ///
    /// let redis = RedisConfig::new("redis://127.0.0.1:6379/").connect()?;
    /// redis.ping().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`InvalidUrl`](ConfigErrorKind::InvalidUrl) for a URL that does not parse (or asks
    /// for TLS, which is not compiled in); [`InvalidDuration`](ConfigErrorKind::InvalidDuration)
    /// for a zero timeout; [`NoRuntime`](ConfigErrorKind::NoRuntime) outside a tokio
    /// runtime.
    pub fn connect(&self) -> Result<RedisConnection, ConfigError> {
        if self.timeout.is_zero() {
            return Err(ConfigError::new(
                ConfigErrorKind::InvalidDuration,
                "the Redis timeout must be more than zero",
            ));
        }
        let client = redis::Client::open(self.url.as_str()).map_err(|_| {
            // The URL may hold a password: the error names the setting, not the value.
            ConfigError::new(ConfigErrorKind::InvalidUrl, "the Redis URL does not parse")
        })?;
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(ConfigError::new(
                ConfigErrorKind::NoRuntime,
                "a Redis connection must be made inside a tokio runtime",
            ));
        }
        let manager = new_manager(&client, self.timeout).map_err(|_| {
            ConfigError::new(
                ConfigErrorKind::InvalidUrl,
                "the Redis URL asks for something this build cannot do",
            )
        })?;
        let inner = Arc::new(Inner {
            manager: RwLock::new(manager),
            client,
            prefix: self.prefix.clone().into_boxed_str(),
            timeout: self.timeout,
        });
        // Weak: the task must not keep the connection alive once every handle is gone.
        tokio::spawn(watch(Arc::downgrade(&inner)));
        Ok(RedisConnection { inner })
    }
}

/// A lazy `ConnectionManager` (no I/O until it is used) whose every step is bounded by
/// `timeout`.
fn new_manager(client: &redis::Client, timeout: Duration) -> redis::RedisResult<ConnectionManager> {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout))
        // No backoff inside one reconnection: a request that waits for the connection would
        // wait through every delay (seconds), when it should fail fast with a 503. The
        // health task tries again every `RECONNECT_INTERVAL` instead, and so does a request.
        .set_number_of_retries(0);
    ConnectionManager::new_lazy_with_config(client.clone(), config)
}

/// The health task: checks the connection with `PING`, so that a dead one is noticed and
/// made again before a request needs it. redis-rs reconnects only when a command fails on
/// the connection; without this, the first request after Redis came back (or after Redis
/// closed an idle connection) would be the one to fail.
///
/// A `PING` that fails on the connection (closed, refused) sets redis-rs reconnecting, in
/// the background; the next check, `RECONNECT_INTERVAL` later, sees whether that worked and
/// starts another attempt if not. A `PING` that gets no answer within the timeout (Redis on
/// a host that vanished without closing the socket, as after some failovers) does not make
/// redis-rs reconnect at all, so the whole manager is replaced by a new one: requests then
/// use a new socket, and any still on the old one finish there.
async fn watch(inner: Weak<Inner>) {
    let mut pause = Duration::ZERO;
    loop {
        tokio::time::sleep(pause).await;
        let Some(strong) = inner.upgrade() else {
            return;
        };
        let (mut manager, timeout) = (strong.manager(), strong.timeout);
        drop(strong);
        let answer = tokio::time::timeout(
            timeout,
            redis::cmd("PING").query_async::<redis::Value>(&mut manager),
        )
        .await;
        pause = match answer {
            Ok(Ok(_)) => HEALTH_INTERVAL,
            Ok(Err(err)) if !err.is_timeout() => RECONNECT_INTERVAL,
            _ => {
                let Some(strong) = inner.upgrade() else {
                    return;
                };
                if let Ok(fresh) = new_manager(&strong.client, timeout) {
                    tracing::debug!("Redis did not answer PING in time: a new connection");
                    *strong
                        .manager
                        .write()
                        .unwrap_or_else(PoisonError::into_inner) = fresh;
                }
                RECONNECT_INTERVAL
            }
        };
    }
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may carry a password.
        f.debug_struct("RedisConfig")
            .field("url", &"..")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// A connection to Redis shared by a [`RedisStore`] and a [`RedisBinding`] (clones share it):
/// one multiplexed socket that reconnects by itself, the key prefix and the timeout.
///
/// A health task checks the socket every half second (`PING`; every 100 ms while Redis is
/// unreachable), so a connection Redis closed (a restart, `CLIENT KILL`, an idle timeout, a
/// failover) is made again without a request paying for it: from about 100 ms after Redis
/// accepts connections again, requests find one ready. A request whose command failed on a
/// lost connection (closed, reset, refused, a broken pipe) is run once more on a new one,
/// within the same [timeout](Self::timeout); every command this crate sends is a script
/// that answers the same when run twice (see [`RedisStore`] and [`RedisBinding`]), so a
/// command that ran but lost its answer is repeated safely. A command that got no answer in
/// time is not repeated: it fails (503), and the provider retries later.
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use vocals_callback::redis::RedisConfig;
///
/// let redis = RedisConfig::new("redis://127.0.0.1:6379/").connect()?;
/// redis.ping().await?;
/// assert_eq!(redis.key_prefix(), "vocals:");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisConnection {
    inner: Arc<Inner>,
}

struct Inner {
    /// Replaced by the health task when the connection hangs; read (and cloned: an `Arc`)
    /// once per attempt, uncontended otherwise.
    manager: RwLock<ConnectionManager>,
    /// To make a new manager with.
    client: redis::Client,
    prefix: Box<str>,
    timeout: Duration,
}

impl Inner {
    fn manager(&self) -> ConnectionManager {
        self.manager
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl RedisConnection {
    /// Checks that Redis answers (`PING`), within the timeout.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use vocals_callback::redis::RedisConfig;
    /// let redis = RedisConfig::new("redis://127.0.0.1:6379/").connect()?;
    /// if let Err(err) = redis.ping().await {
    ///     eprintln!("Redis is not there yet ({err}); requests get 503 until it is");
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// A [`StoreError`] when Redis is unreachable, answers an error or too late.
    pub async fn ping(&self) -> Result<(), StoreError> {
        // PING changes nothing: safe to repeat.
        let answer: String = self
            .run(|mut conn| async move { redis::cmd("PING").query_async(&mut conn).await })
            .await?;
        if answer == "PONG" {
            Ok(())
        } else {
            Err(StoreError::new("Redis answered PING with something else"))
        }
    }

    /// The key prefix.
    #[must_use]
    pub fn key_prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// The timeout of one operation.
    #[must_use]
    pub fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    /// Runs one Redis operation under the timeout, given a handle on the shared connection
    /// (an `Arc` clone: redis-rs wants `&mut`); any failure becomes a [`StoreError`].
    ///
    /// `op` must be **safe to repeat**: when it fails on a lost connection it is run once
    /// more, on the new connection redis-rs is making (the failure started it), and the
    /// first run may have been executed by Redis with only its answer lost. Each caller
    /// says why its command is.
    pub(crate) async fn run<T, F, Fut>(&self, op: F) -> Result<T, StoreError>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let attempts = async {
            match op(self.inner.manager()).await {
                Err(err) if lost_connection(&err) => {
                    tracing::debug!(
                        error = &err as &dyn std::error::Error,
                        "Redis connection lost: the command runs again on a new one"
                    );
                    op(self.inner.manager()).await
                }
                answer => answer,
            }
        };
        // One deadline for both runs, so the retry costs no more than the timeout promises.
        // The connection has its own response timeout, but a request that waits for a
        // reconnection is bounded only by this one.
        match tokio::time::timeout(self.inner.timeout, attempts).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => Err(StoreError::new(RedisFailure(err))),
            Err(_) => Err(StoreError::new(RedisFailure::timed_out())),
        }
    }
}

/// A failure of the connection rather than of the command: closed, reset, aborted or
/// refused, a broken pipe, a socket that is not connected (or, for a Unix socket, not
/// there). The command did not run, or ran and lost its answer with the connection. Never
/// a timeout: a command that got no answer in time may still be running, and the deadline
/// is spent anyway.
fn lost_connection(err: &redis::RedisError) -> bool {
    !err.is_timeout() && (err.is_connection_dropped() || err.is_connection_refusal())
}

impl fmt::Debug for RedisConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConnection")
            .field("prefix", &self.inner.prefix)
            .field("timeout", &self.inner.timeout)
            .finish_non_exhaustive()
    }
}

/// A Redis error, kept as the source of a [`StoreError`] (its text only: the redis-rs type
/// is not part of this crate's API).
#[derive(Debug)]
struct RedisFailure(redis::RedisError);

impl RedisFailure {
    fn timed_out() -> Self {
        Self(redis::RedisError::from(std::io::Error::from(
            std::io::ErrorKind::TimedOut,
        )))
    }
}

impl fmt::Display for RedisFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "redis: {}", self.0)
    }
}

impl std::error::Error for RedisFailure {}

/// Appends `text` to `out` with every byte outside `[A-Za-z0-9_.-]` written `%XX`. The
/// encoding is injective and never produces `{`, `}` or `:`, so a task id (any string up to
/// 256 bytes) cannot close the hash tag early nor pass for another task's key or stage.
fn escape_into(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
}

/// Lowercase hex of `bytes`.
fn hex_into(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
    }
}

/// Milliseconds for `PX`: at least 1 (Redis refuses 0) and far below its 64-bit limit.
fn px(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).map_or(MAX_PX, |ms| ms.clamp(1, MAX_PX))
}

/// About 292 000 years: no expiry anyone waits for, and safe from overflow inside Redis
/// (which adds it to the current time in milliseconds).
const MAX_PX: u64 = 1 << 53;

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(text: &str) -> String {
        let mut out = String::new();
        escape_into(&mut out, text);
        out
    }

    #[test]
    fn escaping_keeps_plain_ids_and_hides_every_delimiter() {
        assert_eq!(
            escaped("65e563474bd7b6485dfb229eb92324a8"),
            "65e563474bd7b6485dfb229eb92324a8"
        );
        assert_eq!(escaped("a:b}c{d%e f"), "a%3Ab%7Dc%7Bd%25e%20f");
        assert_eq!(escaped("é"), "%C3%A9");
        for hostile in ["}", "{", ":", "%", "a}:complete", "\0", "\u{feff}"] {
            let e = escaped(hostile);
            assert!(!e.contains(['{', '}', ':']), "{hostile:?} → {e}");
        }
        // Injective: `%` itself is escaped, so an escaped form cannot be forged in clear.
        assert_ne!(escaped("%3A"), escaped(":"));
    }

    #[test]
    fn px_is_never_zero_nor_huge() {
        assert_eq!(px(Duration::ZERO), 1);
        assert_eq!(px(Duration::from_millis(1500)), 1500);
        assert_eq!(px(Duration::MAX), MAX_PX);
    }

    #[test]
    fn hex_is_lowercase() {
        let mut out = String::new();
        hex_into(&mut out, &[0x00, 0xab, 0x7f]);
        assert_eq!(out, "00ab7f");
    }

    #[test]
    fn a_bad_url_or_timeout_is_a_config_error() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let err = RedisConfig::new("not a url").connect().unwrap_err();
            assert_eq!(err.kind(), ConfigErrorKind::InvalidUrl);
            let err = RedisConfig::new("redis://127.0.0.1/")
                .with_timeout(Duration::ZERO)
                .connect()
                .unwrap_err();
            assert_eq!(err.kind(), ConfigErrorKind::InvalidDuration);
        });
        let err = RedisConfig::new("redis://127.0.0.1/")
            .connect()
            .unwrap_err();
        assert_eq!(err.kind(), ConfigErrorKind::NoRuntime);
    }
}
