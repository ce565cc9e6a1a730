//! The dedup store over Redis: one key per `(task, stage)`, claimed and settled by scripts.

use std::{
    fmt,
    sync::LazyLock,
    time::{Duration, SystemTime},
};

use redis::Script;

use super::{RedisConnection, escape_into, px};
use crate::{
    config::{ConfigError, ConfigErrorKind},
    dedup::{
        Claim, ClaimRequest, ClaimToken, DEFAULT_RETENTION, DedupKey, DedupStore, MIN_RETENTION,
        StoreError,
    },
    event::Stage,
};

// A handled key holds `done`; a claimed one its token in decimal, which never reads `done`.

/// Claims `KEYS[1]` (the key of the stage) with token `ARGV[1]` for `ARGV[2]` ms, unless it
/// is done (`{1}`), in flight (`{2, pttl}`), or, when `ARGV[3]` is `1`, one of the later
/// stages `KEYS[2..]` is done (`{3, i}` for the last such `KEYS[i + 1]`: the latest stage,
/// as the memory store reports it). `{0}` is a new claim. One script, so the checks and the
/// `SET` are one atomic step: two replicas claiming one key at once get one `{0}`.
///
/// Idempotent for its token: a key that already holds `ARGV[1]` was taken by an earlier run
/// of this very claim (tokens are 64 random bits, drawn per claim), so it answers `{0}`
/// again, leaving the lease as that run set it. Run again after its answer was lost, the
/// claim is still the delivery's own, not "in flight" behind itself.
static CLAIM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local v = redis.call('GET', KEYS[1])
if v == 'done' then return {1} end
if v == ARGV[1] then return {0} end
if v then
  return {2, redis.call('PTTL', KEYS[1])}
end
if ARGV[3] == '1' then
  for i = #KEYS, 2, -1 do
    if redis.call('GET', KEYS[i]) == 'done' then return {3, i - 1} end
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])
return {0}
",
    )
});

/// Marks `KEYS[1]` done for `ARGV[2]` ms whoever holds it: the event was handled, even by
/// an owner whose lease was taken over (the trait's rule). Answers `1` when `ARGV[1]` still
/// owned the key, `2` when it was done already, `0` otherwise (logged: the lease was too
/// short for that handler).
///
/// Idempotent: run again, it writes the same `done` (its retention counted from the second
/// run) and answers `2`; nothing reads that answer but a debug log.
static COMPLETE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local v = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], 'done', 'PX', ARGV[2])
if v == ARGV[1] then return 1 end
if v == 'done' then return 2 end
return 0
",
    )
});

/// Deletes `KEYS[1]` if token `ARGV[1]` still owns it: a stale owner cannot release the
/// claim of the delivery that took over, nor a done key.
///
/// Idempotent: run again, the key is gone (`0`), or held by another delivery's claim made
/// in between, whose token is not `ARGV[1]`, so it is left alone.
static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
",
    )
});

/// The Redis [`DedupStore`]: every replica sharing one Redis (and one key prefix) sees the
/// same claims, so a retry landing on another replica is a duplicate there too.
///
/// Each `(task, stage)` is one key, `<prefix>{<task>}:<stage>`, holding a claim's token
/// (with the lease as its expiry) or `done` (with the retention as its expiry). The task id
/// is percent-escaped, so ids with `:`, `{`, `}` or any byte cannot collide with another
/// task's keys; the braces make it the Redis Cluster hash tag, so all keys of a task share
/// a slot and the claim script may read the later stages' keys.
///
/// - **claim**: one script: `Done`, else `InFlight` with the lease's `PTTL`, else (when the
///   request guards late stages) `Superseded` if a later success stage is done, else
///   `SET key token NX PX <lease>` and `New`. Tokens are 64 random bits.
/// - **complete**: a script that writes `done` with the retention whoever owns the key (the
///   event was handled), noting a stale token in the log.
/// - **release**: a script that deletes the key only for its owner's token.
/// - Leases and retention are timed by Redis; the `now` of requests is not used.
/// - Each script answers the same when run twice (the claim recognises its own token), so
///   an operation that failed on a lost connection (closed, reset, refused) is run once
///   more on a new one, within the same [timeout](super::RedisConfig::timeout): a claim
///   that took the key but lost its answer is answered `New` on that run, not `InFlight`.
/// - Any other Redis failure, or an operation past the timeout, is a [`StoreError`]: the
///   service answers 503 with `Retry-After`. An operation that got no answer in time is
///   not repeated (it may still run). A claim whose answer did not come may have been
///   taken: the provider's retry then finds it `InFlight` (409) until the lease runs out,
///   and runs. A completion whose answer did not come may not have been written: the key
///   is reclaimed after the lease and the event runs again (handlers must be idempotent).
///
/// See the [module docs](super) for what Redis guarantees (and does not) across restarts,
/// failovers and eviction.
///
/// ```no_run
/// use std::time::{Duration, SystemTime};
/// use vocals_callback::{dedup::{Claim, ClaimRequest, DedupKey, DedupStore}, redis::{RedisConfig, RedisStore}, Stage};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = RedisStore::new(RedisConfig::new("redis://127.0.0.1:6379/").connect()?);
/// let key = DedupKey::new("65e563474bd7", Stage::Complete);
/// let req = ClaimRequest::new(key, SystemTime::now(), Duration::from_secs(11));
///
/// let Claim::New(token) = store.claim(&req).await? else { panic!("first claim") };
/// assert!(matches!(store.claim(&req).await?, Claim::InFlight { .. }));
/// store.complete(&key, token, SystemTime::now()).await?;
/// assert_eq!(store.claim(&req).await?, Claim::Done);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisStore {
    redis: RedisConnection,
    retention: Duration,
}

impl RedisStore {
    /// A store on `redis`, remembering handled keys for [`DEFAULT_RETENTION`] (24 h).
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use vocals_callback::redis::{RedisConfig, RedisStore};
    ///
    /// let store = RedisStore::new(RedisConfig::new("redis://127.0.0.1:6379/").connect()?);
    /// assert_eq!(store.retention(), vocals_callback::dedup::DEFAULT_RETENTION);
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn new(redis: RedisConnection) -> Self {
        Self {
            redis,
            retention: DEFAULT_RETENTION,
        }
    }

    /// Remembers handled keys for `retention` instead of 24 h.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use vocals_callback::redis::{RedisConfig, RedisStore};
    ///
    /// let redis = RedisConfig::new("redis://127.0.0.1:6379/").connect()?;
    /// let store = RedisStore::new(redis).with_retention(Duration::from_secs(6 * 3600))?;
    /// assert_eq!(store.retention(), Duration::from_secs(6 * 3600));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`InvalidRetention`](ConfigErrorKind::InvalidRetention) under 30 minutes: the
    /// provider retries for about 21, and a shorter memory would let its retries through.
    pub fn with_retention(mut self, retention: Duration) -> Result<Self, ConfigError> {
        if retention < MIN_RETENTION {
            return Err(ConfigError::new(
                ConfigErrorKind::InvalidRetention,
                "dedup retention must be at least 30 minutes",
            ));
        }
        self.retention = retention;
        Ok(self)
    }

    /// How long a handled key is remembered.
    #[must_use]
    pub fn retention(&self) -> Duration {
        self.retention
    }

    /// The connection (shared with a [`RedisBinding`](super::RedisBinding), say).
    #[must_use]
    pub fn connection(&self) -> &RedisConnection {
        &self.redis
    }

    /// `<prefix>{<escaped task>}:`: the start of every key of the task.
    fn task_prefix(&self, task_id: &str) -> String {
        let prefix = self.redis.key_prefix();
        let mut key = String::with_capacity(prefix.len() + task_id.len() + 16);
        key.push_str(prefix);
        key.push('{');
        if task_id.is_empty() {
            // Redis Cluster hashes a key with an empty tag (`{}`) whole, which would spread
            // the task over slots. A lone `%` is never an escaped id's form.
            key.push('%');
        }
        escape_into(&mut key, task_id);
        key.push_str("}:");
        key
    }

    /// The key of `key`'s stage. Known stages by name; unknown ones as `u:` and their
    /// escaped `callbackType`, which cannot read as a known name.
    fn key(&self, key: &DedupKey<'_>) -> String {
        let mut out = self.task_prefix(key.task_id());
        push_stage(&mut out, key.stage(), key.unknown_type());
        out
    }

    async fn claim_now(&self, req: &ClaimRequest<'_>) -> Result<Claim, StoreError> {
        let key = req.key();
        let later = key.later_stages();
        let token = new_token()?;
        let mut invocation = CLAIM.key(self.key(key));
        if req.late_stage_guard() {
            let base = self.task_prefix(key.task_id());
            for &stage in later {
                let mut k = base.clone();
                push_stage(&mut k, stage, "");
                invocation.key(k);
            }
        }
        invocation
            .arg(token)
            .arg(px(req.lease()))
            .arg(u8::from(req.late_stage_guard()));
        // Safe to repeat: the same token, and CLAIM answers its own token's key as new.
        let invocation = &invocation;
        let answer: Vec<i64> = self
            .redis
            .run(|mut conn| async move { invocation.invoke_async(&mut conn).await })
            .await?;
        match answer.as_slice() {
            [0] => Ok(Claim::New(ClaimToken::new(token))),
            [1] => Ok(Claim::Done),
            [2, pttl] => {
                // -1 (no expiry) cannot happen for a key this store wrote; answer the
                // requested lease then, a bound the sender can live with.
                let retry_after = u64::try_from(*pttl)
                    .map_or(req.lease(), Duration::from_millis)
                    .max(Duration::from_millis(1));
                Ok(Claim::InFlight { retry_after })
            }
            [3, i] => usize::try_from(*i)
                .ok()
                .and_then(|i| later.get(i.checked_sub(1)?))
                .map(|&by| Claim::Superseded { by })
                .ok_or_else(|| StoreError::new("unexpected answer from the claim script")),
            _ => Err(StoreError::new("unexpected answer from the claim script")),
        }
    }
}

/// Appends the stage part of a key.
fn push_stage(out: &mut String, stage: Stage, unknown_type: &str) {
    match stage {
        Stage::Unknown => {
            out.push_str("u:");
            escape_into(out, unknown_type);
        }
        known => out.push_str(known.as_str()),
    }
}

/// A claim token: 64 random bits, so a stale owner on any replica cannot guess the current
/// owner's (a counter per process would repeat across replicas). Never 0.
fn new_token() -> Result<u64, StoreError> {
    let token = getrandom::u64().map_err(|_| StoreError::new("no random bytes for a token"))?;
    Ok(token.max(1))
}

impl DedupStore for RedisStore {
    async fn claim(&self, req: &ClaimRequest<'_>) -> Result<Claim, StoreError> {
        self.claim_now(req).await
    }

    async fn complete(
        &self,
        key: &DedupKey<'_>,
        token: ClaimToken,
        _now: SystemTime,
    ) -> Result<(), StoreError> {
        let mut invocation = COMPLETE.key(self.key(key));
        invocation.arg(token.get()).arg(px(self.retention));
        // Safe to repeat: COMPLETE writes the same `done` again.
        let invocation = &invocation;
        let owned: i64 = self
            .redis
            .run(|mut conn| async move { invocation.invoke_async(&mut conn).await })
            .await?;
        match owned {
            0 => tracing::debug!(
                task_id = key.task_id(),
                stage = key.stage().as_str(),
                "completed a claim whose lease another delivery had taken over"
            ),
            2 => tracing::debug!(
                task_id = key.task_id(),
                stage = key.stage().as_str(),
                "completed a claim already done (this completion run again, or a delivery \
                 that took over the lease finished first)"
            ),
            _ => {}
        }
        Ok(())
    }

    async fn release(&self, key: &DedupKey<'_>, token: ClaimToken) -> Result<(), StoreError> {
        let mut invocation = RELEASE.key(self.key(key));
        invocation.arg(token.get());
        // Safe to repeat: RELEASE deletes only this token's claim, which cannot come back.
        let invocation = &invocation;
        let _deleted: i64 = self
            .redis
            .run(|mut conn| async move { invocation.invoke_async(&mut conn).await })
            .await?;
        Ok(())
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("redis", &self.redis)
            .field("retention", &self.retention)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_suffixes_cannot_collide() {
        let mut names = Vec::new();
        for stage in [Stage::Text, Stage::First, Stage::Complete, Stage::Failed] {
            let mut s = String::new();
            push_stage(&mut s, stage, "");
            names.push(s);
        }
        for unknown in ["", "text", "complete", "u:", ":"] {
            let mut s = String::new();
            push_stage(&mut s, Stage::Unknown, unknown);
            names.push(s);
        }
        let count = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), count, "{names:?}");
    }
}
