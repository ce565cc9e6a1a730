//! Claiming an event's `(task_id, stage)` in the dedup store: the step that decides whether
//! it is dispatched at all.

use std::time::SystemTime;

use bytes::Bytes;

use super::{
    job::{Job, OwnedKey},
    log,
    state::State,
};
use crate::{
    dedup::{Claim, ClaimRequest, ClaimToken, DedupKey, DedupStore},
    delivery::Delivery,
    event::VocalsEvent,
    rejection::{Rejection, RejectionKind},
    stats::Outcome,
};

/// What a claim made of an event.
pub(super) enum Claimed {
    /// New: the caller owns the key (kept apart from the event, which moves into the
    /// handler) and must dispatch the event as a job with this token.
    New(OwnedKey, ClaimToken),
    /// Settled without dispatch: a duplicate of a handled key, or a late stage.
    Answered(Outcome),
}

/// Claims `event`'s key at `now`. The event is only read: it, its body and its delivery
/// stay with the caller, which moves them into the job once, instead of through this
/// step's future and back.
///
/// # Errors
///
/// 409 [`InFlight`](RejectionKind::InFlight) with the lease's `Retry-After` while another
/// delivery of the key is being handled; 503
/// [`StoreUnavailable`](RejectionKind::StoreUnavailable) when the store fails.
pub(super) async fn claim<H, D: DedupStore>(
    state: &State<H, D>,
    event: &VocalsEvent,
    now: SystemTime,
) -> Result<Claimed, Rejection> {
    let key = DedupKey::of(event);
    let req =
        ClaimRequest::new(key, now, state.lease).with_late_stage_guard(!state.deliver_late_stages);
    let token = match state.dedup.claim(&req).await {
        Ok(Claim::New(token)) => token,
        Ok(Claim::Done) => return Ok(Claimed::Answered(Outcome::Duplicate)),
        Ok(Claim::Superseded { .. }) => return Ok(Claimed::Answered(Outcome::Ignored)),
        Ok(Claim::InFlight { retry_after }) => {
            return Err(Rejection::new(RejectionKind::InFlight).with_retry_after(retry_after));
        }
        Err(err) => {
            log::claim_failed(&err);
            return Err(Rejection::retry_soon(RejectionKind::StoreUnavailable));
        }
    };
    Ok(Claimed::New(OwnedKey::new(&key), token))
}

/// The job of a new claim: the event, its key and token, the verified body, the delivery.
pub(super) fn job(
    (key, token): (OwnedKey, ClaimToken),
    event: VocalsEvent,
    body: Option<Bytes>,
    delivery: Delivery,
) -> Job {
    Job {
        event,
        key,
        token,
        body,
        delivery,
    }
}
