//! Inline dispatch: the handler runs inside the request, and its result is the answer.

use std::sync::Arc;

use crate::{
    dedup::{ClaimToken, DedupStore},
    handler::VocalsHandler,
    service::{
        call::{call, refusal},
        job::{Job, OwnedKey},
        log,
        state::State,
    },
    stats::Outcome,
};

/// Runs the handler under its deadline; the claim is completed on success and released on
/// every failure (and, through the guard, when the request itself is dropped), so the
/// provider's retry runs it again.
pub(super) async fn run<H: VocalsHandler, D: DedupStore>(
    state: &Arc<State<H, D>>,
    job: Job,
) -> Outcome {
    let Job {
        event,
        key,
        token,
        body,
        delivery,
    } = job;
    // Nothing here stores the body: let it go before the handler runs.
    drop(body);
    let mut guard = ClaimGuard {
        state: Arc::clone(state),
        key,
        token,
        armed: true,
    };
    let result = call(state, event, delivery).await;
    // Answered either way from here: the guard is for cancellation only.
    guard.armed = false;
    let key = &guard.key;
    match result {
        Ok(()) => {
            state.complete(key, token).await;
            Outcome::Received
        }
        Err(failure) => {
            state.release(key, token).await;
            log::handler_failed(key, &failure, 1);
            Outcome::Rejected(refusal(&failure))
        }
    }
}

/// Releases a claim whose request was dropped mid-handler (the client went away), so the
/// sender's retry need not wait for the lease to run out.
struct ClaimGuard<H: VocalsHandler, D: DedupStore> {
    state: Arc<State<H, D>>,
    key: OwnedKey,
    token: ClaimToken,
    armed: bool,
}

impl<H: VocalsHandler, D: DedupStore> Drop for ClaimGuard<H, D> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (state, key) = (Arc::clone(&self.state), self.key.clone());
        let token = self.token;
        runtime.spawn(async move { state.release(&key, token).await });
    }
}
