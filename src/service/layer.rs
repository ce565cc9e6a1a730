//! [`VocalsLayer`]: the pipeline on one path in front of any service.

use std::{
    error::Error as StdError,
    fmt,
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use http_body_util::Either;
use tower_layer::Layer;
use tower_service::Service;

use super::{endpoint::VocalsService, response::ResponseBody};
use crate::{
    backend::{Backend, MemoryBackend},
    handler::VocalsHandler,
};

/// Wraps a service so that requests to the callback path (default `/vocals-callback`) run
/// the pipeline and every other request reaches the inner service untouched.
///
/// Built with [`Builder::build_layer`](super::Builder::build_layer) or from a service with
/// [`VocalsLayer::new`]. The path matches exactly, with or without one trailing slash
/// (`/vocals-callback/`).
///
/// **With axum's `Router::nest`**, put the layer on the outermost router and give it the
/// full path (`.path("/api/v1/vocals-callback")`): a layer on a nested router only wraps
/// that router's own routes, so a request for a path none of them matches is answered 404
/// by axum's fallback before the layer sees it. (`Router::route_service` at the full path
/// works anywhere.)
///
/// ```
/// use vocals_callback::{HandlerResult, VocalsEvent, VocalsService};
///
/// let layer = VocalsService::builder(|_e: VocalsEvent| async { HandlerResult::Ok(()) })
///     .insecure_accept_unverified()
///     .path("/hooks/vocals")
///     .build_layer()?;
/// assert_eq!(layer.service().path(), "/hooks/vocals");
/// // axum: Router::new().route("/health", get(health)).layer(layer)
/// # Ok::<(), vocals_callback::ConfigError>(())
/// ```
pub struct VocalsLayer<H, B: Backend = MemoryBackend> {
    service: VocalsService<H, B>,
}

impl<H, B: Backend> VocalsLayer<H, B> {
    /// A layer answering `service`'s [`path`](VocalsService::path).
    #[must_use]
    pub fn new(service: VocalsService<H, B>) -> Self {
        Self { service }
    }

    /// The service it runs (for [`stats`](VocalsService::stats) and
    /// [`shutdown`](VocalsService::shutdown)).
    #[must_use]
    pub fn service(&self) -> &VocalsService<H, B> {
        &self.service
    }
}

impl<H, B: Backend> Clone for VocalsLayer<H, B> {
    fn clone(&self) -> Self {
        Self {
            service: self.service.clone(),
        }
    }
}

impl<H, B: Backend> fmt::Debug for VocalsLayer<H, B>
where
    VocalsService<H, B>: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VocalsLayer")
            .field("service", &self.service)
            .finish()
    }
}

impl<I, H, B: Backend> Layer<I> for VocalsLayer<H, B> {
    type Service = VocalsMiddleware<I, H, B>;

    fn layer(&self, inner: I) -> Self::Service {
        VocalsMiddleware {
            inner,
            vocals: self.service.clone(),
        }
    }
}

/// The service [`VocalsLayer`] makes: the pipeline on its path, `inner` everywhere else.
pub struct VocalsMiddleware<I, H, B: Backend = MemoryBackend> {
    inner: I,
    vocals: VocalsService<H, B>,
}

impl<I: Clone, H, B: Backend> Clone for VocalsMiddleware<I, H, B> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            vocals: self.vocals.clone(),
        }
    }
}

impl<I: fmt::Debug, H, B: Backend> fmt::Debug for VocalsMiddleware<I, H, B>
where
    VocalsService<H, B>: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VocalsMiddleware")
            .field("inner", &self.inner)
            .field("vocals", &self.vocals)
            .finish()
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<I, H, B, ReqBody, ResBody> Service<Request<ReqBody>> for VocalsMiddleware<I, H, B>
where
    I: Service<Request<ReqBody>, Response = Response<ResBody>>,
    I::Future: Send + 'static,
    H: VocalsHandler,
    B: Backend,
    ReqBody: Body + Send + 'static,
    ReqBody::Data: Send,
    ReqBody::Error: Into<Box<dyn StdError + Send + Sync>>,
    ResBody: Body<Data = Bytes>,
{
    type Response = Response<Either<ResponseBody, ResBody>>;
    type Error = I::Error;
    type Future = BoxFuture<Result<Self::Response, I::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Readiness is the inner service's: the pipeline itself is always ready.
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        if on_path(req.uri().path(), self.vocals.path()) {
            let answer = self.vocals.call(req);
            Box::pin(async move {
                let Ok(response) = answer.await;
                Ok(response.map(Either::Left))
            })
        } else {
            // `self.inner` was driven ready by `poll_ready`: call that very instance.
            let answer = self.inner.call(req);
            Box::pin(async move { Ok(answer.await?.map(Either::Right)) })
        }
    }
}

/// `path` is the callback path, with or without one trailing slash.
fn on_path(path: &str, callback: &str) -> bool {
    path == callback || path.strip_suffix('/') == Some(callback)
}

#[cfg(test)]
mod tests {
    use std::{
        convert::Infallible,
        future::Ready,
        sync::{
            Arc,
            atomic::{AtomicUsize, Ordering},
        },
    };

    use http_body_util::{BodyExt, Full};

    use super::*;
    use crate::{HandlerResult, VocalsEvent};

    /// An inner service that is ready only on every second poll and refuses a call it was
    /// not made ready for, as a rate limiter or a concurrency limit would.
    #[derive(Clone, Default)]
    struct Picky {
        polls: Arc<AtomicUsize>,
        ready: bool,
    }

    impl Service<Request<Full<Bytes>>> for Picky {
        type Response = Response<Full<Bytes>>;
        type Error = Infallible;
        type Future = Ready<Result<Self::Response, Infallible>>;

        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            if self.polls.fetch_add(1, Ordering::SeqCst).is_multiple_of(2) {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            self.ready = true;
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _req: Request<Full<Bytes>>) -> Self::Future {
            assert!(std::mem::take(&mut self.ready), "called without poll_ready");
            std::future::ready(Ok(Response::new(Full::new(Bytes::from_static(b"inner")))))
        }
    }

    fn post(path: &str) -> Request<Full<Bytes>> {
        Request::post(path)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from_static(
                br#"{"code":200,"data":{"callbackType":"text","task_id":"t1"}}"#,
            )))
            .unwrap()
    }

    async fn body_of<B: Body>(res: Response<B>) -> Vec<u8>
    where
        B::Error: fmt::Debug,
    {
        res.into_body().collect().await.unwrap().to_bytes().to_vec()
    }

    #[tokio::test]
    async fn readiness_is_the_inner_services_and_the_ready_instance_is_called() {
        use tower::ServiceExt;

        let layer =
            crate::VocalsService::builder(|_e: VocalsEvent| async { HandlerResult::Ok(()) })
                .insecure_accept_unverified()
                .build_layer()
                .unwrap();
        let inner = Picky::default();
        let polls = Arc::clone(&inner.polls);
        let mut svc = layer.layer(inner);

        // Another path: the inner service answers, after it was polled ready.
        let res = svc
            .ready()
            .await
            .unwrap()
            .call(post("/other"))
            .await
            .unwrap();
        assert_eq!(body_of(res).await, b"inner");
        assert_eq!(polls.load(Ordering::SeqCst), 2);

        // The callback path: the pipeline answers; readiness was still asked of the inner.
        let res = svc
            .ready()
            .await
            .unwrap()
            .call(post("/vocals-callback"))
            .await
            .unwrap();
        assert_eq!(body_of(res).await, br#"{"status":"received"}"#);
        assert_eq!(polls.load(Ordering::SeqCst), 4);

        // A clone made before readiness has its own state: it must be polled itself.
        let clone = svc.clone();
        let res = clone.oneshot(post("/other")).await.unwrap();
        assert_eq!(body_of(res).await, b"inner");
    }
}
