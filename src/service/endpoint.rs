//! [`VocalsService`]: the endpoint a server mounts, a thin tower `Service` over the
//! [pipeline](super::pipeline).

use std::{
    convert::Infallible,
    error::Error as StdError,
    fmt,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use http::{Request, Response};
use http_body::Body;
use tracing::Instrument;

use super::{pipeline::Pipeline, response::ResponseBody};
use crate::{
    backend::{Backend, MemoryBackend},
    event::VocalsEvent,
    handler::VocalsHandler,
    stats::{Outcome, Stats},
};

/// The endpoint that receives Add Vocals callbacks: a tower `Service` over `http`
/// requests, for `axum::Router::route_service` or any hyper server.
///
/// Clones share one state (verifiers, stores, counters, queue). It is
/// `Clone + Send + Sync + 'static`, always ready, and never returns `Err`: every request
/// gets an answer (see the [module docs](super) for each step and its statuses).
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
pub struct VocalsService<H, B: Backend = MemoryBackend> {
    pipeline: Arc<Pipeline<H, B>>,
}

impl<H, B: Backend> VocalsService<H, B> {
    pub(super) fn new(pipeline: Pipeline<H, B>) -> Self {
        Self {
            pipeline: Arc::new(pipeline),
        }
    }
}

impl<H: VocalsHandler, B: Backend> VocalsService<H, B> {
    /// Claims and dispatches an event that did not come over HTTP (a result polled with
    /// [`record_info`](crate::record_info)), through the same dedup store and handler as the
    /// callbacks: whichever of the poller and the callback comes first is handled, the other
    /// is a duplicate. The handler sees [`Source::Polled`](crate::Source::Polled).
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
        self.pipeline.ingest(event).await
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
        let (dead_lettered, abandoned) = self.pipeline.shutdown(grace).await;
        ShutdownReport {
            dead_lettered,
            abandoned,
        }
    }
}

impl<H, B: Backend> VocalsService<H, B> {
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
        let pipeline = &self.pipeline;
        pipeline
            .state
            .counters
            .snapshot(pipeline.dispatcher.depth())
    }

    /// Sets the gauges of the [`metrics`](crate::metrics) module (feature `metrics`): handler
    /// calls in flight, queue depth, and the sizes of the dedup store and the binding.
    ///
    /// Counters and histograms are recorded as requests are answered; the gauges are read
    /// from the stores (some under their lock), so they are set here rather than on every
    /// request. Call it before rendering each scrape (the receiver does) or from a timer.
    ///
    /// ```
    /// use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    /// use vocals_callback::{HandlerResult, VocalsEvent, VocalsService};
    ///
    /// let recorder = DebuggingRecorder::new();
    /// let snapshots = recorder.snapshotter();
    /// // The service takes its handles from the recorder current when it is built.
    /// let svc = metrics::with_local_recorder(&recorder, || {
    ///     VocalsService::builder(|_e: VocalsEvent| async { HandlerResult::Ok(()) })
    ///         .insecure_accept_unverified()
    ///         .build()
    /// })?;
    /// svc.record_gauges();
    /// let dedup = snapshots.snapshot().into_vec().into_iter().find_map(|(key, _, _, value)| {
    ///     (key.key().name() == "vocals_callback_dedup_entries").then_some(value)
    /// });
    /// assert_eq!(dedup, Some(DebugValue::Gauge(0.0.into())));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "metrics")]
    #[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
    pub fn record_gauges(&self) {
        let (pipeline, state) = (&self.pipeline, &self.pipeline.state);
        state.metrics.set_gauges(
            &state.dedup,
            &pipeline.binding,
            state
                .counters
                .in_flight
                .load(std::sync::atomic::Ordering::Relaxed),
            pipeline.dispatcher.depth(),
        );
    }

    /// The handler (an `Arc<H>` handler gives back the very `Arc` shared with the rest of
    /// the program).
    #[must_use]
    pub fn handler(&self) -> &H {
        &self.pipeline.state.handler
    }

    /// The backend's dedup store (its size and capacity, say).
    ///
    /// ```
    /// # use vocals_callback::{HandlerResult, VocalsEvent, VocalsService};
    /// # let svc = VocalsService::builder(|_e: VocalsEvent| async { HandlerResult::Ok(()) })
    /// #     .insecure_accept_unverified().build().unwrap();
    /// assert_eq!(svc.dedup_store().len(), 0);
    /// ```
    #[must_use]
    pub fn dedup_store(&self) -> &B::Dedup {
        &self.pipeline.state.dedup
    }

    /// The backend's binding of signatures to bodies.
    ///
    /// ```
    /// # use vocals_callback::{HandlerResult, Secret, VocalsEvent, VocalsService, backend::MemoryBackend, verify::KieSignature};
    /// let svc = VocalsService::builder(|_e: VocalsEvent| async { HandlerResult::Ok(()) })
    ///     .verifier(KieSignature::new(Secret::new("key")?))
    ///     .backend(MemoryBackend::new().with_binding_memory(8 << 20))
    ///     .build()?;
    /// let cache = svc.binding();
    /// assert_eq!((cache.len(), cache.memory_used(), cache.memory_limit()), (0, 0, 8 << 20));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn binding(&self) -> &B::Binding {
        &self.pipeline.binding
    }

    /// The path a [`VocalsLayer`](super::VocalsLayer) built from this service answers.
    #[must_use]
    pub fn path(&self) -> &str {
        &self.pipeline.path
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

impl<H, B: Backend> Clone for VocalsService<H, B> {
    fn clone(&self) -> Self {
        Self {
            pipeline: Arc::clone(&self.pipeline),
        }
    }
}

impl<H, B> fmt::Debug for VocalsService<H, B>
where
    B: Backend,
    B::Dedup: fmt::Debug,
    B::Binding: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pipeline = &self.pipeline;
        f.debug_struct("VocalsService")
            .field("verifiers", &pipeline.verifiers)
            .field("dedup_store", &pipeline.state.dedup)
            .field("binding", &pipeline.binding)
            .field("path", &pipeline.path)
            .field("body_limit", &pipeline.body_limit)
            .field("read_timeout", &pipeline.read_timeout)
            .field("handler_timeout", &pipeline.state.handler_timeout)
            .field("queue_depth", &pipeline.dispatcher.depth())
            .finish_non_exhaustive()
    }
}

impl<H, B, ReqBody> tower_service::Service<Request<ReqBody>> for VocalsService<H, B>
where
    H: VocalsHandler,
    B: Backend,
    ReqBody: Body + Send + 'static,
    ReqBody::Data: Send,
    ReqBody::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    type Response = Response<ResponseBody>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Always ready: load is bounded inside (body limit, binding, queue), each with its
        // own answer, rather than by holding connections back.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let pipeline = Arc::clone(&self.pipeline);
        let span = tracing::debug_span!(
            "vocals_callback",
            task_id = tracing::field::Empty,
            stage = tracing::field::Empty,
            key_label = tracing::field::Empty
        );
        ResponseFuture {
            inner: Box::pin(async move { Ok(pipeline.respond(req).await) }.instrument(span)),
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
