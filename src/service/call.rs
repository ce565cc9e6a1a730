//! One handler call: under the deadline, with panics caught, counted while it runs. Every
//! dispatcher calls the handler through here.

use std::{pin::pin, sync::atomic::Ordering::Relaxed};

use super::{
    future::{CatchUnwind, now_or_never},
    state::State,
};
use crate::{
    delivery::Delivery,
    event::VocalsEvent,
    handler::{HandlerFailure, VocalsHandler},
    rejection::{Rejection, RejectionKind},
    stats::Counters,
};

/// Calls the handler once with `event` and its `delivery`.
pub(super) async fn call<H: VocalsHandler, D>(
    state: &State<H, D>,
    event: VocalsEvent,
    delivery: Delivery,
) -> Result<(), HandlerFailure> {
    // Counted down by the guard, so a call cancelled with its request still leaves.
    let _running = InFlight::enter(&state.counters);
    #[cfg(feature = "metrics")]
    let timed = state.metrics.handler_call(&event);
    let mut call = CatchUnwind(pin!(state.handler.handle(event, delivery)));
    // Arm the timer only if the handler waits: one that answers on its first poll (a
    // send to a channel, a no-op) costs no timer registration. A handler that blocks
    // its thread cannot be interrupted by any timer anyway.
    let result = match now_or_never(&mut call).await {
        Some(result) => Ok(result),
        // Boxed: the timer lives on the slow path only, not in every request's future.
        None => Box::pin(tokio::time::timeout(state.handler_timeout, call)).await,
    };
    let result = match result {
        Ok(Ok(Ok(()))) => Ok(()),
        Ok(Ok(Err(err))) => Err(HandlerFailure::Error(err)),
        Ok(Err(())) => Err(HandlerFailure::Panicked),
        Err(_) => Err(HandlerFailure::TimedOut),
    };
    state.counters.handled(result.is_ok());
    #[cfg(feature = "metrics")]
    timed.finished(&result);
    result
}

/// The refusal the sender gets when the handler failed inside its request.
pub(super) fn refusal(failure: &HandlerFailure) -> Rejection {
    match failure {
        HandlerFailure::Error(err) => match err.retry_after() {
            Some(delay) => Rejection::new(RejectionKind::HandlerRetry).with_retry_after(delay),
            None => RejectionKind::HandlerFailed.into(),
        },
        HandlerFailure::Panicked => RejectionKind::HandlerPanicked.into(),
        HandlerFailure::TimedOut => Rejection::retry_soon(RejectionKind::HandlerTimeout),
    }
}

/// One handler call in [`Counters::in_flight`], for as long as it lives.
struct InFlight<'a>(&'a Counters);

impl<'a> InFlight<'a> {
    fn enter(counters: &'a Counters) -> Self {
        counters.in_flight.fetch_add(1, Relaxed);
        Self(counters)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Relaxed);
    }
}
