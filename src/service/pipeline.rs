//! One request, from the first header to the answer: the steps in order, each a call into
//! the file that owns it.

use std::{
    error::Error as StdError,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering::Relaxed},
    },
    time::{Duration, Instant},
};

use http::{Request, Response};
use http_body::Body;

use super::{
    admit::{Admitted, admit},
    bind::bind,
    body,
    claim::{self, Claimed, claim},
    dispatch::Dispatcher,
    gate, log,
    response::{self, ResponseBody, Spare},
    state::State,
};
use crate::{
    backend::Backend,
    delivery::{Delivery, Source},
    event::VocalsEvent,
    handler::VocalsHandler,
    rejection::Rejection,
    stats::Outcome,
    verify::{VerifyRequest, chain::Verifiers, peer_from_extensions},
};

/// Everything one service's requests read, behind the service's `Arc`.
pub(super) struct Pipeline<H, B: Backend> {
    /// What claiming and dispatching share with the dispatcher's workers.
    pub(super) state: Arc<State<H, B::Dedup>>,
    pub(super) binding: B::Binding,
    pub(super) verifiers: Verifiers,
    pub(super) dispatcher: Dispatcher,
    pub(super) body_limit: usize,
    pub(super) read_timeout: Duration,
    pub(super) path: Box<str>,
    pub(super) closing: AtomicBool,
}

impl<H: VocalsHandler, B: Backend> Pipeline<H, B> {
    /// Answers one request, counts and logs the outcome.
    pub(super) async fn respond<ReqBody>(&self, req: Request<ReqBody>) -> Response<ResponseBody>
    where
        ReqBody: Body,
        ReqBody::Error: Into<Box<dyn StdError + Send + Sync>>,
    {
        let started = log::timing().then(Instant::now);
        let mut spare = Spare::default();
        let outcome = self
            .run(req, &mut spare)
            .await
            .unwrap_or_else(Outcome::Rejected);
        self.state.counters.record(&outcome);
        #[cfg(feature = "metrics")]
        self.state.metrics.answered(&outcome);
        log::outcome(&outcome, started.map(|t| t.elapsed()));
        response::of(&outcome, spare)
    }

    /// The steps of one callback. Each either refuses the request (the `Err`) or hands the
    /// next one what it needs; nothing is kept between requests but the stores. The
    /// request's head, once spent, leaves its maps' memory in `spare` for the answer.
    async fn run<ReqBody>(
        &self,
        req: Request<ReqBody>,
        spare: &mut Spare,
    ) -> Result<Outcome, Rejection>
    where
        ReqBody: Body,
        ReqBody::Error: Into<Box<dyn StdError + Send + Sync>>,
    {
        let (parts, body) = req.into_parts();
        let now = self.state.clock.now();
        let peer = peer_from_extensions(&parts.extensions);

        // 1. Gate, before any body byte is read: method, media type, encoding, declared
        //    length; shutdown; then every verifier's look at the headers (a URL token or
        //    an address answers here; a missing signature header is refused here).
        gate::check(&parts.method, &parts.headers, self.body_limit)?;
        self.refuse_if_closing()?;
        let headers_checked = self.verifiers.check_headers(
            &VerifyRequest::new(&parts.headers, b"", now)
                .with_query(parts.uri.query())
                .with_peer(peer),
        )?;

        // 2. Body: at most the limit, within the read deadline. A slow body's window is
        //    judged when it is complete.
        let (bytes, waited) = body::read(body, self.body_limit, self.read_timeout).await?;
        let now = if waited { self.state.clock.now() } else { now };

        // 3. Parse and verify: the typed event, from the very bytes the verifiers check.
        let Admitted {
            event,
            delivery,
            passed,
        } = admit(&parts, peer, &bytes, now, &self.verifiers, headers_checked)?;
        // The request's head is spent: the future does not carry it across the awaits.
        *spare = Spare::from_parts(parts);
        // Samples the signed-to-answer delay when `run` returns, with the answer decided.
        #[cfg(feature = "metrics")]
        let _answered = self
            .state
            .metrics
            .until_answered(&delivery, || self.state.clock.now());
        if let Some(label) = delivery.key_label_shared() {
            self.state.counters.signed_by(label);
        }

        // 4. Bind each signature whose MAC does not cover the body to this body.
        bind(&self.binding, passed, &bytes, event.stage(), now).await?;

        // 5. Claim `(task_id, stage)`: a duplicate or a late stage is answered here.
        let job = match claim(&self.state, &event, now).await? {
            Claimed::New(key, token) => claim::job((key, token), event, Some(bytes), delivery),
            Claimed::Answered(outcome) => return Ok(outcome),
        };

        // 6. Dispatch to the handler (inline, or through the queue).
        Ok(self.dispatcher.dispatch(&self.state, job).await)
    }

    /// An event that did not come over HTTP (a polled result) enters at the claim step.
    pub(super) async fn ingest(&self, event: VocalsEvent) -> Outcome {
        let outcome = self
            .ingest_steps(event)
            .await
            .unwrap_or_else(Outcome::Rejected);
        self.state.counters.record(&outcome);
        #[cfg(feature = "metrics")]
        self.state.metrics.answered(&outcome);
        outcome
    }

    async fn ingest_steps(&self, event: VocalsEvent) -> Result<Outcome, Rejection> {
        self.refuse_if_closing()?;
        let now = self.state.clock.now();
        let delivery = Delivery::new(Source::Polled, now);
        let job = match claim(&self.state, &event, now).await? {
            Claimed::New(key, token) => claim::job((key, token), event, None, delivery),
            Claimed::Answered(outcome) => return Ok(outcome),
        };
        Ok(self.dispatcher.dispatch(&self.state, job).await)
    }

    fn refuse_if_closing(&self) -> Result<(), Rejection> {
        if self.closing.load(Relaxed) {
            Err(Rejection::SHUTTING_DOWN)
        } else {
            Ok(())
        }
    }

    /// Stops taking events and waits up to `grace` for the dispatcher and the inline
    /// handlers. Returns the jobs dead-lettered and the handler calls cut short.
    pub(super) async fn shutdown(&self, grace: Duration) -> (usize, u64) {
        self.closing.store(true, Relaxed);
        let started = Instant::now();
        let (dead_lettered, abandoned_workers) = self.dispatcher.shutdown(&self.state, grace).await;
        // Inline handlers run inside their requests: wait for them to finish. (A queue's
        // workers are joined by now, so what is still counted runs inline.)
        let in_flight = &self.state.counters.in_flight;
        while in_flight.load(Relaxed) > 0 && started.elapsed() < grace {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        (
            dead_lettered,
            abandoned_workers as u64 + in_flight.load(Relaxed),
        )
    }
}

impl<H, B: Backend> Drop for Pipeline<H, B> {
    fn drop(&mut self) {
        // The last clone of the service is gone: let the workers drain and stop instead of
        // idling forever.
        self.dispatcher.close();
    }
}
