//! Every `tracing` event the service emits, in one place; the [module docs](super)
//! list them (keep that table in step with this file).

use std::{error::Error as StdError, time::Duration};

use super::job::OwnedKey;
use crate::{
    dedup::StoreError, delivery::Delivery, event::VocalsEvent, handler::HandlerFailure,
    rejection::Rejection, stats::Outcome,
};

/// Whether requests are timed (two clock reads each): only when they are logged with it.
pub(super) fn timing() -> bool {
    tracing::enabled!(tracing::Level::DEBUG)
}

/// The request span's `key_label`, once verified.
pub(super) fn record_signer(delivery: &Delivery) {
    if let Some(label) = delivery.key_label()
        && tracing::enabled!(tracing::Level::DEBUG)
    {
        tracing::Span::current().record("key_label", label);
    }
}

/// The request span's `task_id` and `stage`, once parsed.
pub(super) fn record_event(event: &VocalsEvent) {
    if tracing::enabled!(tracing::Level::DEBUG) {
        let span = tracing::Span::current();
        span.record("task_id", event.task_id());
        span.record("stage", event.stage().as_str());
    }
}

/// The answer: 2xx at `debug`, the sender's mistakes at `info`, our own failures at `warn`.
pub(super) fn outcome(outcome: &Outcome, elapsed: Option<Duration>) {
    let elapsed_us = elapsed.map(|e| u64::try_from(e.as_micros()).unwrap_or(u64::MAX));
    match outcome {
        Outcome::Rejected(r) if r.status().is_server_error() => {
            tracing::warn!(
                outcome = "rejected",
                reason = r.kind().as_str(),
                elapsed_us,
                "callback not handled"
            );
        }
        Outcome::Rejected(r) => {
            tracing::info!(
                outcome = "rejected",
                reason = r.kind().as_str(),
                elapsed_us,
                "callback refused"
            );
        }
        ok => tracing::debug!(outcome = ok.as_str(), elapsed_us, "callback answered"),
    }
}

pub(super) fn verification_failed(task_id: &str, rejection: &Rejection) {
    tracing::info!(
        task_id,
        reason = rejection.kind().as_str(),
        "callback failed verification"
    );
}

pub(super) fn binding_failed(rejection: &Rejection) {
    tracing::info!(
        reason = rejection.kind().as_str(),
        "callback failed binding"
    );
}

pub(super) fn claim_failed(err: &StoreError) {
    tracing::warn!(error = err as &dyn StdError, "dedup claim failed");
}

pub(super) fn store_failed(key: &OwnedKey, operation: &'static str, err: &StoreError) {
    let (task_id, stage) = (key.task_id(), key.stage().as_str());
    let error = err as &dyn StdError;
    match operation {
        "complete" => tracing::warn!(task_id, stage, error, "dedup complete failed"),
        _ => tracing::warn!(task_id, stage, error, "dedup release failed"),
    }
}

pub(super) fn handler_failed(key: &OwnedKey, failure: &HandlerFailure, attempt: u32) {
    tracing::warn!(
        task_id = key.task_id(),
        stage = key.stage().as_str(),
        attempt,
        error = failure as &dyn StdError,
        "handler failed"
    );
}

pub(super) fn dead_lettered(event: &VocalsEvent, attempts: u32, failure: Option<&HandlerFailure>) {
    let (task_id, stage) = (event.task_id(), event.stage().as_str());
    match failure {
        Some(failure) => {
            let error = failure as &dyn StdError;
            tracing::error!(task_id, stage, attempts, error, "event dead-lettered");
        }
        None => {
            let error = "shut down before dispatch";
            tracing::error!(task_id, stage, attempts, error, "event dead-lettered");
        }
    }
}

pub(super) fn insecure() {
    tracing::warn!("vocals-callback accepts unverified callbacks: anyone can post events");
}
