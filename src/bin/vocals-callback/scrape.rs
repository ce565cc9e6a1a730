//! `receive --metrics ADDR`: the service's metrics (the table is in the library's `metrics`
//! module) in the Prometheus text format on `http://ADDR/metrics`.
//!
//! The recorder is `metrics-exporter-prometheus`'s; the HTTP side is the receiver's own
//! hyper server, not the exporter's listener. The receiver already compiles hyper for the
//! callbacks, so with the exporter's default features off no second HTTP stack is built
//! (its listener brings hyper-util's `server-auto` and HTTP/2, its push gateway rustls), and
//! the scrape endpoint gets what the callback endpoint has: a header-read timeout, and the
//! gauges set from the stores just before each render
//! ([`VocalsService::record_gauges`]). The cost: the exporter's upkeep (draining histogram
//! samples between scrapes) is ours to run, on a timer here.

use std::{
    convert::Infallible, error::Error as StdError, net::SocketAddr, sync::OnceLock, time::Duration,
};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::{body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::{TokioIo, TokioTimer};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use vocals_callback::{VocalsService, backend::Backend, metrics::BUCKETS};

/// The path the metrics are served on.
const PATH: &str = "/metrics";
/// As the callback endpoint: a scraper sends its headers at once.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// How often histogram samples are drained into their buckets when nobody scrapes (the
/// exporter's own default).
const UPKEEP: Duration = Duration::from_secs(5);
/// The Prometheus text format, version 0.0.4.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The recorder's handle. The recorder is the process's (the facade has one global
/// recorder), so its handle is kept beside it rather than threaded through the receiver.
static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the Prometheus recorder when `--metrics` is given. Call it before the service
/// is built: the service takes its handles when built, and handles taken before a recorder
/// is installed record nothing.
pub(crate) fn install(addr: Option<SocketAddr>) -> Result<(), Box<dyn StdError>> {
    if addr.is_none() {
        return Ok(());
    }
    let mut builder = PrometheusBuilder::new();
    // Buckets make the histograms Prometheus histograms (summaries otherwise, which cannot
    // be added up across replicas).
    for (name, bounds) in BUCKETS {
        builder = builder.set_buckets_for_metric(Matcher::Full((*name).to_owned()), bounds)?;
    }
    let handle = builder.install_recorder()?;
    let _ = HANDLE.set(handle);
    Ok(())
}

/// Binds `addr`, prints `metrics on http://ADDR/metrics` on stderr and serves the metrics of
/// `svc` until the process stops. Does nothing without `--metrics`.
pub(crate) async fn serve<H, B>(
    addr: Option<SocketAddr>,
    svc: &VocalsService<H, B>,
) -> Result<(), Box<dyn StdError>>
where
    H: Send + Sync + 'static,
    B: Backend,
{
    let (Some(addr), Some(handle)) = (addr, HANDLE.get()) else {
        return Ok(());
    };
    let listener = TcpListener::bind(addr).await?;
    eprintln!("metrics on http://{}{PATH}", listener.local_addr()?);
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(UPKEEP);
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
    let svc = svc.clone();
    tokio::spawn(async move {
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT);
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(err) => {
                    let error = &err as &dyn StdError;
                    tracing::warn!(error, "metrics accept failed");
                    continue;
                }
            };
            let svc = svc.clone();
            let answer = service_fn(move |req: Request<Incoming>| {
                std::future::ready(Ok::<_, Infallible>(answer(&req, &svc, handle)))
            });
            let conn = http.serve_connection(TokioIo::new(stream), answer);
            tokio::spawn(async move {
                if let Err(err) = conn.await {
                    tracing::debug!(error = %err, "metrics connection ended with an error");
                }
            });
        }
    });
    Ok(())
}

/// `GET /metrics`: the gauges read now, then every metric rendered; 404 elsewhere, 405 for
/// another method.
fn answer<H, B: Backend>(
    req: &Request<Incoming>,
    svc: &VocalsService<H, B>,
    handle: &PrometheusHandle,
) -> Response<Full<Bytes>> {
    let (status, content_type, body) = if req.uri().path() != PATH {
        (
            StatusCode::NOT_FOUND,
            "text/plain",
            Bytes::from_static(b"not found\n"),
        )
    } else if req.method() != Method::GET {
        (
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            Bytes::from_static(b"GET only\n"),
        )
    } else {
        svc.record_gauges();
        (StatusCode::OK, CONTENT_TYPE, Bytes::from(handle.render()))
    };
    let mut res = Response::new(Full::new(body));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    if status == StatusCode::METHOD_NOT_ALLOWED {
        res.headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static("GET"));
    }
    res
}
