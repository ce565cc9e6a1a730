//! The tower service: the whole pipeline from request to handler.
//!
//! ```text
//! request ─▶ gate ─▶ body ─▶ (recall) ─▶ envelope+parse ─▶ verify ─▶ bind ─▶ claim ─▶ dispatch ─▶ response
//!            405/415  413/408  200 dup/ign       400            401/403   401   200 dup/409  200/5xx
//!            413 (Content-Length), header-only verifiers (401/403)
//! ```
//!
//! - **gate**, before any body byte: `POST` only (405 with `Allow: POST`);
//!   `Content-Type: application/json` (parameters allowed) and no `Content-Encoding` but
//!   `identity` (415); a declared `Content-Length` over the limit (413); then the verifiers
//!   that need no body ([`UrlToken`](crate::verify::UrlToken),
//!   [`IpAllowlist`](crate::verify::IpAllowlist)) and the header presence checks of the
//!   others (a request with no signature header costs no read).
//! - **body**: read through `http_body_util::Limited` (413 past the limit, whatever the
//!   headers said) under the read deadline (408).
//! - **envelope and parse**: one pass of [`parse`](crate::parse), strict on exactly the
//!   envelope fields (`code`, `data.callbackType`, `data.task_id`: 400 when malformed) and
//!   lenient on the rest. Reading the envelope separately would cost a second parse for
//!   nothing: the parser's work is bounded (64 tracks, 256-byte ids, the body limit) and
//!   fuzzed, and nothing it builds is used before verification passes.
//! - **recall**, for the provider's scheme (the only body verifier is one whose MAC does
//!   not cover the body, such as [`KieSignature`](crate::verify::KieSignature)): a request
//!   presenting the signature, timestamp and body (by its keyed digest) of one already
//!   verified, bound and answered with a final 200 (`received` inline, `duplicate`,
//!   `ignored`) is a byte-identical retry: it would pass the same checks and reach the
//!   same dedup entry, so it gets that answer again (`duplicate` or `ignored`) without the
//!   MAC and the parse, and is counted in [`Stats::recalled`]. The signature must still be
//!   inside its verifier's window. A failed, refused or merely queued delivery is not
//!   recorded, so its retry takes the whole pipeline. A retry storm costs about a quarter
//!   of a first delivery.
//! - **verify** (401/403) every configured verifier over the same bytes, then **bind**
//!   signatures whose MAC does not cover the body to that body (401 `signature_reused`).
//! - **claim** `(task_id, stage)` in the [`DedupStore`]: 409 + `Retry-After` while another
//!   delivery handles it, 200 `duplicate` once handled, 200 `ignored` for a late stage.
//! - **dispatch** inline under the handler deadline (200 once the handler returned `Ok`;
//!   500 on error or panic, 503 + `Retry-After` past the deadline, the claim released so
//!   the provider's retry runs it again), or through the queue ([`QueueConfig`]).
//!
//! Every answer is JSON: `{"status":"received"}`, `{"status":"duplicate"}`,
//! `{"status":"ignored"}` or `{"status":"rejected","reason":"<kind>"}` where `<kind>` is a
//! stable [`RejectionKind`](crate::RejectionKind) name; the [`Rejection`] itself rides in
//! the response extensions for outer layers. The service never returns `Err`.

use std::{
    convert::Infallible,
    error::Error as StdError,
    fmt,
    future::Future,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering::Relaxed},
    },
    task::{Context, Poll},
    time::{Duration, Instant, SystemTime},
};

use http::{Request, Response, request::Parts};
use http_body::Body;
use tracing::Instrument;

use crate::{
    dedup::{DedupStore, MemoryStore},
    event::VocalsEvent,
    handler::VocalsHandler,
    parse::parse,
    rejection::Rejection,
    stats::{Outcome, Stats},
    verify::{
        BindingCache, Digested, Recalled, Signed, Verifier, VerifyRequest, peer_from_extensions,
    },
};

mod bind;
mod body;
mod builder;
mod dispatch;
mod gate;
mod layer;
mod queue;
mod response;

pub use builder::{
    Builder, DEFAULT_BINDING_CAPACITY, DEFAULT_BODY_LIMIT, DEFAULT_HANDLER_TIMEOUT, DEFAULT_PATH,
    DEFAULT_READ_TIMEOUT, MAX_HANDLER_TIMEOUT,
};
pub use layer::{VocalsLayer, VocalsMiddleware};
pub use queue::{DeadLetter, QueueConfig};
pub use response::ResponseBody;

use bind::Binding;
use dispatch::{Core, SHUTTING_DOWN, reject};
use queue::Queue;

pub(crate) type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// The endpoint that receives Add Vocals callbacks: a tower `Service` over `http`
/// requests, for `axum::Router::route_service` or any hyper server.
///
/// Clones share one state (verifiers, binding cache, dedup store, counters, queue). It is
/// `Clone + Send + Sync + 'static`, always ready, and never returns `Err`.
///
/// ```
/// use vocals_callback::{Callback, HandlerResult, Secret, VocalsHandler, VocalsService, verify::KieSignature};
///
/// struct Store;
/// impl VocalsHandler for Store {
///     async fn on_complete(&self, done: Callback) -> HandlerResult {
///         // save done.tracks() durably, then:
///         Ok(())
///     }
/// }
///
/// let svc = VocalsService::builder(Store)
///     .verifier(KieSignature::new(Secret::new("your-webhook-hmac-key")?))
///     .build()?;
/// // axum: Router::new().route_service("/vocals-callback", svc)
/// # let _ = svc;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct VocalsService<H, S = MemoryStore> {
    shared: Arc<Shared<H, S>>,
}

/// Everything the pipeline reads, behind one `Arc`.
struct Shared<H, S> {
    core: Arc<Core<H, S>>,
    queue: Option<Arc<Queue>>,
    header_verifiers: Vec<Box<dyn Verifier>>,
    body_verifiers: Vec<Box<dyn Verifier>>,
    binding: Binding,
    path: Box<str>,
    body_limit: usize,
    read_timeout: Duration,
    closing: AtomicBool,
}

impl<H: VocalsHandler> VocalsService<H> {
    /// Starts configuring a service that hands events to `handler`.
    pub fn builder(handler: H) -> Builder<H> {
        Builder::new(handler)
    }
}

impl<H: VocalsHandler, S: DedupStore> VocalsService<H, S> {
    /// Claims and dispatches an event that did not come over HTTP (a result polled with
    /// [`record_info`](crate::record_info)), through the same dedup store and handler as the
    /// callbacks: whichever of the poller and the callback comes first is handled, the other
    /// is a duplicate.
    ///
    /// ```
    /// use vocals_callback::{HandlerResult, Outcome, VocalsEvent, VocalsService, parse};
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// let svc = VocalsService::builder(|_e: VocalsEvent| async { HandlerResult::Ok(()) })
    ///     .insecure_accept_unverified()
    ///     .build()?;
    /// let event = parse(br#"{"code":200,"data":{"callbackType":"complete","task_id":"t1"}}"#)?;
    /// assert_eq!(svc.ingest(event.clone()).await, Outcome::Received);
    /// assert_eq!(svc.ingest(event).await, Outcome::Duplicate);
    /// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
    /// ```
    pub async fn ingest(&self, event: VocalsEvent) -> Outcome {
        let shared = &self.shared;
        let outcome = if shared.closing.load(Relaxed) {
            reject(SHUTTING_DOWN)
        } else {
            let now = (shared.core.clock)();
            shared
                .core
                .deliver(event, now, shared.queue.as_deref())
                .await
        };
        shared.core.counters.record(&outcome);
        outcome
    }

    /// The counters so far.
    ///
    /// ```
    /// # use vocals_callback::{HandlerResult, VocalsEvent, VocalsService};
    /// # let svc = VocalsService::builder(|_e: VocalsEvent| async { HandlerResult::Ok(()) })
    /// #     .insecure_accept_unverified().build().unwrap();
    /// let stats = svc.stats();
    /// assert_eq!(stats.received() + stats.rejected_total(), 0);
    /// ```
    #[must_use]
    pub fn stats(&self) -> Stats {
        let depth = self.shared.queue.as_ref().map_or(0, |q| q.depth());
        self.shared.core.counters.snapshot(depth)
    }

    /// The dedup store.
    #[must_use]
    pub fn dedup_store(&self) -> &S {
        &self.shared.core.store
    }

    /// The in-process binding cache (its size, capacity and memory bound), or `None` when
    /// signatures are bound in a shared store (feature `redis`).
    ///
    /// ```
    /// # use vocals_callback::{HandlerResult, Secret, VocalsEvent, VocalsService, verify::KieSignature};
    /// let svc = VocalsService::builder(|_e: VocalsEvent| async { HandlerResult::Ok(()) })
    ///     .verifier(KieSignature::new(Secret::new("key")?))
    ///     .binding_capacity(1_000)
    ///     .build()?;
    /// let cache = svc.binding_cache().expect("in-process by default");
    /// assert_eq!((cache.len(), cache.capacity()), (0, 1_000));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn binding_cache(&self) -> Option<&BindingCache> {
        self.shared.binding.memory()
    }

    /// The path a [`VocalsLayer`] built from this service answers.
    #[must_use]
    pub fn path(&self) -> &str {
        &self.shared.path
    }

    /// Stops taking events (503 `shutting_down` with `Retry-After` from now on: the
    /// provider will retry, perhaps to another replica) and waits up to `grace` for the
    /// handlers running and, in queued mode, for the queue to drain. Queued events still
    /// waiting then go to the dead-letter hook.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use vocals_callback::{HandlerResult, VocalsEvent, VocalsService};
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// # let svc = VocalsService::builder(|_e: VocalsEvent| async { HandlerResult::Ok(()) })
    /// #     .insecure_accept_unverified().build().unwrap();
    /// let report = svc.shutdown(Duration::from_secs(10)).await;
    /// assert!(report.is_clean());
    /// # });
    /// ```
    pub async fn shutdown(&self, grace: Duration) -> ShutdownReport {
        let shared = &self.shared;
        shared.closing.store(true, Relaxed);
        let started = Instant::now();
        let (dead_lettered, abandoned_workers) = match &shared.queue {
            Some(queue) => queue.shutdown(&shared.core, grace).await,
            None => (0, 0),
        };
        // Inline handlers run inside their requests: wait for them to finish. (The queue's
        // workers are joined by now, so what is still counted runs inline.)
        while shared.core.counters.in_flight.load(Relaxed) > 0 && started.elapsed() < grace {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        ShutdownReport {
            dead_lettered,
            abandoned: abandoned_workers as u64 + shared.core.counters.in_flight.load(Relaxed),
        }
    }
}

/// What [`VocalsService::shutdown`] left undone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShutdownReport {
    dead_lettered: usize,
    abandoned: u64,
}

impl ShutdownReport {
    /// Queued events handed to the dead-letter hook, never dispatched.
    #[must_use]
    pub fn dead_lettered(&self) -> usize {
        self.dead_lettered
    }

    /// Events whose dispatch was cut short when the grace period ended: inline handler
    /// calls still running, and queued events a worker was calling or waiting to retry.
    #[must_use]
    pub fn abandoned(&self) -> u64 {
        self.abandoned
    }

    /// `true` when everything finished in time.
    #[must_use]
    pub fn is_clean(&self) -> bool {
        self.dead_lettered == 0 && self.abandoned == 0
    }
}

impl<H: VocalsHandler, S: DedupStore> Shared<H, S> {
    /// The pipeline for one request; logs and counts its outcome.
    async fn respond<B>(&self, req: Request<B>) -> Response<ResponseBody>
    where
        B: Body,
        B::Error: Into<Box<dyn StdError + Send + Sync>>,
    {
        // Timing costs two clock reads per request: only at `debug`, where every request
        // is logged (refusals at `info` and `warn` are logged without it).
        let started = tracing::enabled!(tracing::Level::DEBUG).then(Instant::now);
        let outcome = self.process(req).await;
        self.core.counters.record(&outcome);
        log_outcome(&outcome, started.map(|t| t.elapsed()));
        response::respond(&outcome)
    }

    async fn process<B>(&self, req: Request<B>) -> Outcome
    where
        B: Body,
        B::Error: Into<Box<dyn StdError + Send + Sync>>,
    {
        let (parts, body) = req.into_parts();
        let mut now = (self.core.clock)();
        if let Err(rejection) = self.screen(&parts, now) {
            return reject(rejection);
        }
        let bytes = match body::read(body, self.body_limit, self.read_timeout).await {
            Ok((bytes, waited)) => {
                // Judge the window when the request is complete.
                if waited {
                    now = (self.core.clock)();
                }
                bytes
            }
            Err(rejection) => return reject(rejection),
        };
        let (event, bound) = match self.admit(&parts, &bytes, now) {
            Ok(Admission::Event(event, bound)) => (event, bound),
            Ok(Admission::Recalled(answer)) => {
                self.core.counters.recalled();
                return match answer {
                    Recalled::Duplicate => Outcome::Duplicate,
                    Recalled::Ignored => Outcome::Ignored,
                };
            }
            Err(rejection) => return reject(rejection),
        };
        // The request is spent: drop it before the dispatch's await, so the future does
        // not carry its header map and body across it.
        drop((parts, bytes));
        if self.binding.is_remote()
            && let Some((signed, digest)) = &bound
            && let Err(rejection) = self.binding.bind_remote(signed, digest, now).await
        {
            tracing::info!(
                reason = rejection.kind().as_str(),
                "callback failed binding"
            );
            return reject(rejection);
        }
        let outcome = self.core.deliver(event, now, self.queue.as_deref()).await;
        // Final answers only: a queued event may still fail and be released, and then its
        // retry must reach the dedup store again.
        let settled = match outcome {
            Outcome::Received if self.queue.is_none() => Some(Recalled::Duplicate),
            Outcome::Duplicate => Some(Recalled::Duplicate),
            Outcome::Ignored => Some(Recalled::Ignored),
            _ => None,
        };
        if let (Some(answer), Some((signed, digest))) = (settled, bound) {
            self.binding.settle(&signed, &digest, answer);
        }
        outcome
    }

    /// The checks before any body byte is read: the gate, shutdown, and the verifiers that
    /// need only the headers, the peer or the query.
    fn screen(&self, parts: &Parts, now: SystemTime) -> Result<(), Rejection> {
        gate::check(&parts.method, &parts.headers, self.body_limit)?;
        if self.closing.load(Relaxed) {
            return Err(SHUTTING_DOWN);
        }
        let early = VerifyRequest::new(&parts.headers, b"", now)
            .with_query(parts.uri.query())
            .with_peer(peer_from_extensions(&parts.extensions));
        for verifier in &self.header_verifiers {
            verifier.verify(&early)?;
        }
        for verifier in &self.body_verifiers {
            verifier.check_headers(&early)?;
        }
        Ok(())
    }

    /// Parse, verification and binding of a complete request: no await, so none of its
    /// state lives in the request's future.
    ///
    /// First, when the only body verifier signs without the body (the provider's rule), a
    /// byte-identical retry of a request already verified, bound and answered is
    /// recognised in the binding cache and gets that answer again without the MAC and the
    /// parse: the same signature, timestamp and body would pass the same way (see
    /// [`Verifier::presented_signature`]).
    fn admit(&self, parts: &Parts, bytes: &[u8], now: SystemTime) -> Result<Admission, Rejection> {
        let digest = self.binding.digest(bytes);
        if let [only] = self.body_verifiers.as_slice() {
            let presented = VerifyRequest::new(&parts.headers, bytes, now);
            if let Some(signed) = only.presented_signature(&presented)
                && let Some(answer) = self.binding.recall(&signed, &digest, now)
            {
                return Ok(Admission::Recalled(answer));
            }
        }
        let event = parse(bytes)?;
        if tracing::enabled!(tracing::Level::DEBUG) {
            let span = tracing::Span::current();
            span.record("task_id", event.task_id());
            span.record("stage", event.stage().as_str());
        }
        let full = VerifyRequest::new(&parts.headers, bytes, now)
            .with_query(parts.uri.query())
            .with_peer(peer_from_extensions(&parts.extensions))
            .with_task_id(Some(event.task_id()));
        let mut bound = None;
        for verifier in &self.body_verifiers {
            let checked = verifier.verify(&full).and_then(|verified| {
                if let Some(signed) = verified.unbound_signature() {
                    if let Some(result) = self.binding.bind_now(signed, &digest, now) {
                        result?;
                    }
                    bound = Some((signed.clone(), digest));
                }
                Ok(())
            });
            if let Err(rejection) = checked {
                tracing::info!(
                    task_id = event.task_id(),
                    reason = rejection.kind().as_str(),
                    "callback failed verification"
                );
                return Err(rejection);
            }
        }
        Ok(Admission::Event(event, bound))
    }
}

/// What [`Shared::admit`] made of a complete request.
enum Admission {
    /// A verified event to claim and dispatch, with the signature it was bound under.
    Event(VocalsEvent, Option<(Signed, Digested)>),
    /// A byte-identical retry of a settled request: its answer.
    Recalled(Recalled),
}

/// 2xx at `debug`, the sender's mistakes at `info` (below `warn`: a scanner must not flood
/// the logs), our own failures at `warn`.
fn log_outcome(outcome: &Outcome, elapsed: Option<Duration>) {
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

impl<H, S> Clone for VocalsService<H, S> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<H, S: fmt::Debug> fmt::Debug for VocalsService<H, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shared = &self.shared;
        f.debug_struct("VocalsService")
            .field("header_verifiers", &shared.header_verifiers)
            .field("body_verifiers", &shared.body_verifiers)
            .field("binding", &shared.binding)
            .field("store", &shared.core.store)
            .field("path", &shared.path)
            .field("body_limit", &shared.body_limit)
            .field("read_timeout", &shared.read_timeout)
            .field("handler_timeout", &shared.core.handler_timeout)
            .field("queued", &shared.queue.is_some())
            .finish_non_exhaustive()
    }
}

impl<H, S> Drop for Shared<H, S> {
    fn drop(&mut self) {
        // The last clone is gone: let the workers drain and stop instead of idling forever.
        if let Some(queue) = &self.queue {
            queue.close();
        }
    }
}

impl<H, S, B> tower_service::Service<Request<B>> for VocalsService<H, S>
where
    H: VocalsHandler,
    S: DedupStore,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    type Response = Response<ResponseBody>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Always ready: load is bounded inside (body limit, binding cache, queue), each
        // with its own answer, rather than by holding connections back.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let shared = Arc::clone(&self.shared);
        let span = tracing::debug_span!(
            "vocals_callback",
            task_id = tracing::field::Empty,
            stage = tracing::field::Empty
        );
        ResponseFuture {
            inner: Box::pin(async move { Ok(shared.respond(req).await) }.instrument(span)),
        }
    }
}

/// The future of [`VocalsService`]'s `call`.
pub struct ResponseFuture {
    inner: Pin<Box<dyn Future<Output = Result<Response<ResponseBody>, Infallible>> + Send>>,
}

impl Future for ResponseFuture {
    type Output = Result<Response<ResponseBody>, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl fmt::Debug for ResponseFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
