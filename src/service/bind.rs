//! Where the service binds signatures to bodies: the in-process cache, or Redis (feature
//! `redis`) when replicas must recognise each other's bindings.

use std::time::SystemTime;

use crate::{
    rejection::Rejection,
    verify::{BindingCache, Digested, Recalled, Signed},
};

/// The service's binding step. An enum rather than a trait object: the in-process cache
/// binds without an await or a boxed future, which is most of its speed.
#[derive(Debug)]
pub(crate) enum Binding {
    Memory(BindingCache),
    #[cfg(feature = "redis")]
    Redis(crate::redis::RedisBinding),
}

impl Binding {
    /// The digest this binding keeps of `body`.
    pub(crate) fn digest(&self, body: &[u8]) -> Digested {
        match self {
            Self::Memory(cache) => cache.digest(body),
            #[cfg(feature = "redis")]
            Self::Redis(redis) => redis.digest().digest(body),
        }
    }

    /// The answer recorded for a byte-identical retry, if any. Only the in-process cache
    /// records answers: one replica's record would not be the others', and a round trip
    /// to Redis would cost what the recall saves.
    pub(crate) fn recall(
        &self,
        signed: &Signed,
        digest: &Digested,
        now: SystemTime,
    ) -> Option<Recalled> {
        match self {
            Self::Memory(cache) => cache.recall(signed, digest, now),
            #[cfg(feature = "redis")]
            Self::Redis(_) => None,
        }
    }

    /// Records the final answer of a bound request (in-process cache only).
    pub(crate) fn settle(&self, signed: &Signed, digest: &Digested, answer: Recalled) {
        match self {
            Self::Memory(cache) => cache.settle(signed, digest, answer),
            #[cfg(feature = "redis")]
            Self::Redis(_) => {}
        }
    }

    /// Binds at once when that needs no I/O. `None` when the binding must be awaited
    /// ([`bind_remote`](Self::bind_remote)).
    pub(crate) fn bind_now(
        &self,
        signed: &Signed,
        digest: &Digested,
        now: SystemTime,
    ) -> Option<Result<(), Rejection>> {
        match self {
            Self::Memory(cache) => Some(cache.bind_signed(signed, digest, now)),
            #[cfg(feature = "redis")]
            Self::Redis(_) => None,
        }
    }

    /// Binds in a shared store. Passes for the in-process cache, which binds in
    /// [`bind_now`](Self::bind_now).
    #[cfg_attr(not(feature = "redis"), allow(clippy::unused_async))]
    pub(crate) async fn bind_remote(
        &self,
        signed: &Signed,
        digest: &Digested,
        now: SystemTime,
    ) -> Result<(), Rejection> {
        match self {
            Self::Memory(_) => {
                let _ = (signed, digest, now);
                Ok(())
            }
            #[cfg(feature = "redis")]
            Self::Redis(redis) => redis.bind(signed, digest, now).await,
        }
    }

    /// The in-process cache, if that is where binding happens.
    pub(crate) fn memory(&self) -> Option<&BindingCache> {
        match self {
            Self::Memory(cache) => Some(cache),
            #[cfg(feature = "redis")]
            Self::Redis(_) => None,
        }
    }

    /// Whether binding happens in a shared store (an await on the request path).
    pub(crate) fn is_remote(&self) -> bool {
        !matches!(self, Self::Memory(_))
    }
}
