//! What claiming and dispatching share (the request steps before them need none of it).

use std::time::Duration;

use super::{clock::Clock, job::OwnedKey, log};
use crate::{
    dedup::{ClaimToken, DedupStore},
    stats::Counters,
};

/// The handler, the dedup store, the counters, the deadlines and the clock: one per
/// service, shared with its dispatcher's workers.
pub(super) struct State<H, D> {
    pub(super) handler: H,
    pub(super) dedup: D,
    pub(super) counters: Counters,
    #[cfg(feature = "metrics")]
    pub(super) metrics: crate::metrics::Handles,
    /// How long one handler call may run.
    pub(super) handler_timeout: Duration,
    /// How long a claim holds before another delivery may take it over.
    pub(super) lease: Duration,
    pub(super) deliver_late_stages: bool,
    pub(super) clock: Clock,
}

impl<H, D: DedupStore> State<H, D> {
    /// Marks the key handled. The event *was* handled: the answer is 200 whatever happens
    /// here, and a failed write only means a later duplicate may run the (idempotent)
    /// handler again.
    pub(super) async fn complete(&self, key: &OwnedKey, token: ClaimToken) {
        let now = self.clock.now();
        if let Err(err) = self.dedup.complete(&key.key(), token, now).await {
            log::store_failed(key, "complete", &err);
        }
    }

    /// Gives the key up so the provider's retry can claim it.
    pub(super) async fn release(&self, key: &OwnedKey, token: ClaimToken) {
        if let Err(err) = self.dedup.release(&key.key(), token).await {
            // The lease runs out by itself; the retry waits until then.
            log::store_failed(key, "release", &err);
        }
    }
}
