//! What the integration tests share: a scriptable handler, the service on a real socket
//! (axum and plain hyper), a client, a raw TCP client and assertions on answers; and, in
//! submodules, one request in process ([`oneshot`]) and the fixture bodies
//! ([`fixtures`], which the property tests include alone, needing no feature).
#![allow(dead_code, unreachable_pub)]

pub mod fixtures;
pub mod oneshot;

use std::{
    collections::VecDeque,
    convert::Infallible,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering::SeqCst},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use axum::{
    Router,
    extract::{ConnectInfo, Request as AxumRequest},
    middleware::{map_request, map_response},
    response::Response as AxumResponse,
};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::{TokioExecutor, TokioIo},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::{Notify, Semaphore},
};
use tower::Service;
use vocals_callback::{
    Callback, Delivery, Failure, HandlerError, HandlerResult, Rejection, RejectionKind, Secret,
    Stage, VocalsEvent, VocalsHandler, VocalsService,
    backend::Backend,
    service::Builder,
    testkit::{CallbackBody, TrackBody, kie_request, sign_kie},
    verify::KieSignature,
};

/// The webhook key every signed test request uses.
pub const KEY: &str = "test-webhook-hmac-key";
/// Where every bound test server mounts the service.
pub const PATH: &str = "/vocals-callback";
/// The header the test servers copy the response's typed `Rejection` kind into.
pub const REJECTION_HEADER: &str = "x-test-rejection";
/// The header the test servers copy the rejection's `parse_error` into.
pub const PARSE_ERROR_HEADER: &str = "x-test-parse-error";
/// The longest any test waits for something that should happen at once.
pub const PATIENCE: Duration = Duration::from_secs(5);

/// Unix seconds now (the service's default clock is `SystemTime::now`).
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A `complete` body with one ready track.
pub fn complete(task: &str) -> Vec<u8> {
    CallbackBody::complete(task)
        .track(TrackBody::ready("trk-1"))
        .to_bytes()
}

/// What the handler does on one call (the script is consumed in call order; `Ok` once it
/// runs out).
#[derive(Debug)]
pub enum Step {
    Ok,
    Fail,
    RetryAfter(Duration),
    Panic,
    Sleep(Duration),
    /// Waits for a permit of [`Probe::release`].
    Block,
}

/// One handler call, as seen by the handler.
#[derive(Clone, Debug)]
pub struct Call {
    pub method: &'static str,
    pub task_id: String,
    pub stage: Stage,
    pub at: Instant,
    /// The facts the service passed to `handle`.
    pub delivery: Delivery,
}

/// A scriptable handler that records each call.
#[derive(Debug)]
pub struct Probe {
    script: Mutex<VecDeque<Step>>,
    calls: Mutex<Vec<Call>>,
    /// `task_id/stage` of each event the handler accepted (its "database").
    stored: Mutex<Vec<String>>,
    successes: AtomicUsize,
    finished: AtomicUsize,
    /// Notified whenever a call starts or ends.
    changed: Notify,
    gate: Semaphore,
}

/// Counts the call as finished when it ends, returned or cancelled.
struct Finish<'a>(&'a Probe);

impl Drop for Finish<'_> {
    fn drop(&mut self) {
        self.0.finished.fetch_add(1, SeqCst);
        self.0.changed.notify_waiters();
    }
}

impl Probe {
    pub fn new(script: impl IntoIterator<Item = Step>) -> Arc<Self> {
        Arc::new(Self {
            script: Mutex::new(script.into_iter().collect()),
            calls: Mutex::new(Vec::new()),
            stored: Mutex::new(Vec::new()),
            successes: AtomicUsize::new(0),
            finished: AtomicUsize::new(0),
            changed: Notify::new(),
            gate: Semaphore::new(0),
        })
    }

    pub fn handler(self: &Arc<Self>) -> ProbeHandler {
        ProbeHandler(Arc::clone(self))
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    pub fn call_count(&self) -> usize {
        self.calls.lock().unwrap().len()
    }

    pub fn successes(&self) -> usize {
        self.successes.load(SeqCst)
    }

    pub fn stored(&self) -> Vec<String> {
        self.stored.lock().unwrap().clone()
    }

    /// Lets `n` blocked (or future `Block`) calls go on.
    pub fn release(&self, n: usize) {
        self.gate.add_permits(n);
    }

    /// Calls that have ended (returned, panicked or been cancelled).
    pub fn finished_count(&self) -> usize {
        self.finished.load(SeqCst)
    }

    /// Waits until `n` calls in all have started.
    pub async fn started(&self, n: usize) {
        self.until(
            || self.call_count() >= n,
            "handler calls did not start in time",
        )
        .await;
    }

    /// Waits until `n` calls in all have ended (returned, panicked or been cancelled).
    pub async fn finished(&self, n: usize) {
        self.until(
            || self.finished_count() >= n,
            "handler calls did not end in time",
        )
        .await;
    }

    async fn until(&self, done: impl Fn() -> bool, what: &str) {
        let wait = async {
            loop {
                let mut notified = std::pin::pin!(self.changed.notified());
                notified.as_mut().enable();
                if done() {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(PATIENCE, wait).await.expect(what);
    }

    async fn act(&self, method: &'static str, event: VocalsEvent) -> HandlerResult {
        let _finish = Finish(self);
        let task_id = event.task_id().to_owned();
        let stage = event.stage();
        let delivery = DELIVERY
            .try_with(Clone::clone)
            .expect("the probe is called through `handle`");
        self.calls.lock().unwrap().push(Call {
            method,
            task_id: task_id.clone(),
            stage,
            at: Instant::now(),
            delivery,
        });
        self.changed.notify_waiters();
        let step = self.script.lock().unwrap().pop_front().unwrap_or(Step::Ok);
        match step {
            Step::Ok => {}
            Step::Fail => return Err(HandlerError::msg("scripted failure")),
            Step::RetryAfter(delay) => return Err(HandlerError::retry_later(delay)),
            Step::Panic => panic!("scripted panic in the handler"),
            Step::Sleep(delay) => tokio::time::sleep(delay).await,
            Step::Block => self.gate.acquire().await.unwrap().forget(),
        }
        self.stored
            .lock()
            .unwrap()
            .push(format!("{task_id}/{}", stage.as_str()));
        self.successes.fetch_add(1, SeqCst);
        Ok(())
    }
}

tokio::task_local! {
    /// The delivery of the call in progress, from `handle` to the stage's method.
    static DELIVERY: Delivery;
}

/// [`Probe`] as a `VocalsHandler`, overriding every stage's method, and `handle` to record
/// the delivery before routing (as an adaptor that wraps a handler would).
#[derive(Clone, Debug)]
pub struct ProbeHandler(pub Arc<Probe>);

impl VocalsHandler for ProbeHandler {
    async fn handle(&self, event: VocalsEvent, delivery: Delivery) -> HandlerResult {
        DELIVERY
            .scope(delivery, vocals_callback::handler::route(self, event))
            .await
    }

    async fn on_text(&self, event: Callback) -> HandlerResult {
        self.0.act("on_text", VocalsEvent::Text(event)).await
    }

    async fn on_first(&self, event: Callback) -> HandlerResult {
        self.0.act("on_first", VocalsEvent::First(event)).await
    }

    async fn on_complete(&self, event: Callback) -> HandlerResult {
        self.0
            .act("on_complete", VocalsEvent::Complete(event))
            .await
    }

    async fn on_failed(&self, event: Failure) -> HandlerResult {
        self.0.act("on_failed", VocalsEvent::Failed(event)).await
    }

    async fn on_unknown(&self, event: Callback) -> HandlerResult {
        self.0.act("on_unknown", VocalsEvent::Unknown(event)).await
    }

    async fn on_event(&self, event: VocalsEvent) -> HandlerResult {
        self.0.act("on_event", event).await
    }
}

/// A builder for `probe` with the kie.ai verifier under [`KEY`].
pub fn builder(probe: &Arc<Probe>) -> Builder<ProbeHandler> {
    VocalsService::builder(probe.handler()).verifier(KieSignature::new(Secret::new(KEY).unwrap()))
}

/// A service around a scripted [`Probe`], served with `route_service` on a real socket
/// (through [`callback_router`], with the rejection's parse error exposed too).
pub struct Fx {
    pub addr: SocketAddr,
    pub svc: VocalsService<ProbeHandler>,
    pub probe: Arc<Probe>,
    pub client: HttpClient,
}

impl Fx {
    pub async fn new(
        script: impl IntoIterator<Item = Step>,
        configure: impl FnOnce(Builder<ProbeHandler>) -> Builder<ProbeHandler>,
    ) -> Self {
        let probe = Probe::new(script);
        let svc = configure(builder(&probe)).build().unwrap();
        let router = callback_router(svc.clone()).layer(map_response(expose_parse_error));
        let addr = serve_router(router).await;
        Self {
            addr,
            svc,
            probe,
            client: client(),
        }
    }

    pub async fn plain() -> Self {
        Self::new([], |b| b).await
    }

    /// A delivery signed for `task` at `ts`.
    pub async fn post(&self, task: &str, ts: u64, body: Vec<u8>) -> Answer {
        send(&self.client, signed(self.addr, PATH, task, ts, body)).await
    }

    /// A delivery signed for `task` now.
    pub async fn post_now(&self, task: &str, body: Vec<u8>) -> Answer {
        self.post(task, now_secs(), body).await
    }

    pub async fn send(&self, req: Request<Full<Bytes>>) -> Answer {
        send(&self.client, req).await
    }
}

// ---------------------------------------------------------------------------------------
// Servers

/// Binds 127.0.0.1:0 and serves `router` with axum, with `ConnectInfo<SocketAddr>`.
pub async fn serve_router(router: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    addr
}

/// Copies axum's `ConnectInfo` into the extensions as a plain `SocketAddr`, where
/// `peer_from_extensions` reads it (the middleware `IpAllowlist`'s docs show).
pub async fn insert_peer(
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    mut req: AxumRequest,
) -> AxumRequest {
    req.extensions_mut().insert(addr);
    req
}

/// An outer layer that logs the typed rejection: here, copies its kind into a header so
/// the test on the other side of the socket can check it rode in the extensions.
pub async fn expose_rejection(mut res: AxumResponse) -> AxumResponse {
    if let Some(kind) = res.extensions().get::<Rejection>().map(Rejection::kind) {
        res.headers_mut()
            .insert(REJECTION_HEADER, HeaderValue::from_static(kind.as_str()));
    }
    res
}

/// `Router::route_service(PATH, svc)`, with the peer middleware and the rejection exposer.
pub fn callback_router<H: VocalsHandler, B: Backend>(svc: VocalsService<H, B>) -> Router {
    Router::new()
        .route_service(PATH, svc)
        .layer(map_response(expose_rejection))
        .layer(map_request(insert_peer))
}

/// Copies the rejection's `parse_error` into [`PARSE_ERROR_HEADER`].
pub async fn expose_parse_error(mut res: AxumResponse) -> AxumResponse {
    let parse_error = res
        .extensions()
        .get::<Rejection>()
        .and_then(Rejection::parse_error);
    if let Some(kind) = parse_error {
        res.headers_mut()
            .insert(PARSE_ERROR_HEADER, HeaderValue::from_static(kind.as_str()));
    }
    res
}

/// Serves `svc` at [`PATH`] with axum's `route_service`.
pub async fn serve<H: VocalsHandler, B: Backend>(svc: VocalsService<H, B>) -> SocketAddr {
    serve_router(callback_router(svc)).await
}

/// Serves `svc` with a plain hyper http1 server, on every path, inserting the peer's
/// `SocketAddr` into each request's extensions.
pub async fn serve_hyper<H: VocalsHandler, B: Backend>(svc: VocalsService<H, B>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, peer) = listener.accept().await.unwrap();
            let svc = svc.clone();
            let hyper_svc = hyper::service::service_fn(move |mut req: Request<Incoming>| {
                req.extensions_mut().insert(peer);
                let mut svc = svc.clone();
                async move {
                    let Ok(res) = svc.call(req).await;
                    Ok::<_, Infallible>(res)
                }
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), hyper_svc),
            );
        }
    });
    addr
}

// ---------------------------------------------------------------------------------------
// Clients

pub type HttpClient = Client<HttpConnector, Full<Bytes>>;

pub fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// A request signed with the kie.ai rule under [`KEY`] for `task` at `ts`, to `addr` + `path`.
pub fn signed(
    addr: SocketAddr,
    path: &str,
    task: &str,
    ts: u64,
    body: Vec<u8>,
) -> Request<Full<Bytes>> {
    signed_with(KEY, addr, path, task, ts, body)
}

/// As [`signed`], under another key.
pub fn signed_with(
    key: &str,
    addr: SocketAddr,
    path: &str,
    task: &str,
    ts: u64,
    body: Vec<u8>,
) -> Request<Full<Bytes>> {
    let mut req = kie_request(key, task, ts, body);
    *req.uri_mut() = format!("http://{addr}{path}").parse().unwrap();
    req
}

/// A request with the given method, path, headers and body (no signature unless given).
pub fn plain(
    method: &str,
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Request<Full<Bytes>> {
    let mut req = Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    req.body(Full::new(Bytes::from(body))).unwrap()
}

/// A response read to the end.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|err| {
            panic!(
                "answer {} is not JSON ({err}): {:?}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// `Retry-After` as whole seconds.
    pub fn retry_after(&self) -> Option<u64> {
        self.headers.get(header::RETRY_AFTER).map(|v| {
            v.to_str()
                .unwrap()
                .parse()
                .expect("Retry-After in whole seconds")
        })
    }

    /// `rejected`'s reason, `None` for a 200.
    pub fn reason(&self) -> Option<String> {
        self.json()["reason"].as_str().map(str::to_owned)
    }

    /// A 200 with exactly `{"status": status}` (`received`, `duplicate`, `ignored`).
    #[track_caller]
    pub fn assert_ok(&self, status: &str) {
        assert_eq!(self.status, StatusCode::OK, "{self:?}");
        assert_eq!(
            self.json(),
            serde_json::json!({ "status": status }),
            "{self:?}"
        );
        assert_eq!(self.headers[header::CONTENT_TYPE], "application/json");
        assert!(self.headers.get(header::RETRY_AFTER).is_none(), "{self:?}");
        assert!(self.headers.get(REJECTION_HEADER).is_none(), "{self:?}");
    }

    /// A refusal of `kind`: its status, exactly `{"status":"rejected","reason":kind}`, and
    /// (when served through [`callback_router`]) the typed rejection in the extensions.
    #[track_caller]
    pub fn assert_rejected(&self, kind: RejectionKind) {
        assert_eq!(self.status, kind.status(), "{self:?}");
        assert_eq!(
            self.json(),
            serde_json::json!({ "status": "rejected", "reason": kind.as_str() }),
            "{self:?}"
        );
        assert_eq!(self.headers[header::CONTENT_TYPE], "application/json");
        if let Some(exposed) = self.headers.get(REJECTION_HEADER) {
            assert_eq!(exposed, kind.as_str(), "{self:?}");
        }
    }

    /// As [`assert_rejected`](Self::assert_rejected), through [`callback_router`] (the
    /// typed rejection must have been in the extensions), with or without `Retry-After`.
    #[track_caller]
    pub fn assert_refused(&self, kind: RejectionKind, retry_after: bool) {
        self.assert_rejected(kind);
        assert_eq!(
            self.headers
                .get(REJECTION_HEADER)
                .map(|v| v.to_str().unwrap()),
            Some(kind.as_str()),
            "the typed Rejection did not ride in the response extensions: {self:?}"
        );
        assert_eq!(self.retry_after().is_some(), retry_after, "{self:?}");
        if let Some(secs) = self.retry_after() {
            assert!(secs >= 1, "Retry-After 0 invites a hot loop: {self:?}");
        }
    }
}

/// Sends `req` and reads the whole answer.
pub async fn send(client: &HttpClient, req: Request<Full<Bytes>>) -> Answer {
    let res = tokio::time::timeout(PATIENCE, client.request(req))
        .await
        .expect("no answer in time")
        .expect("request failed");
    let (parts, body) = res.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

// ---------------------------------------------------------------------------------------
// Raw TCP

/// The signature header lines for `task` at `ts`, for a hand-written request.
pub fn kie_header_lines(task: &str, ts: u64) -> String {
    let ts = ts.to_string();
    format!(
        "x-webhook-timestamp: {ts}\r\nx-webhook-signature: {}\r\n",
        sign_kie(KEY, task, &ts)
    )
}

/// An answer read off a raw socket: status, headers (lower-case names), body.
#[derive(Debug)]
pub struct RawAnswer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl RawAnswer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

/// Connects to `addr` and writes `bytes`.
pub async fn raw_send(addr: SocketAddr, bytes: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    stream.flush().await.unwrap();
    stream
}

/// Reads one HTTP/1.1 response (with a `Content-Length` body) from `stream`.
pub async fn raw_read(stream: &mut TcpStream) -> RawAnswer {
    tokio::time::timeout(PATIENCE, raw_read_inner(stream))
        .await
        .expect("no raw answer in time")
}

async fn raw_read_inner(stream: &mut TcpStream) -> RawAnswer {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed before the response head: {buf:?}");
        buf.extend_from_slice(&chunk[..n]);
    };
    finish_answer(stream, buf, head_end).await
}

/// Parses the head that ends at `head_end` in `buf` and reads the rest of its
/// `Content-Length` body from `stream`: the part of reading a raw answer that every raw
/// client of the tests shares (they differ in how they wait for the head).
pub async fn finish_answer(
    stream: &mut (impl tokio::io::AsyncRead + Unpin),
    buf: Vec<u8>,
    head_end: usize,
) -> RawAnswer {
    let head = String::from_utf8(buf[..head_end].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status: u16 = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .map(|line| {
            let (name, value) = line.split_once(':').unwrap();
            (name.trim().to_ascii_lowercase(), value.trim().to_owned())
        })
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = buf[head_end + 4..].to_vec();
    let mut chunk = [0u8; 4096];
    while body.len() < length {
        let n = stream.read(&mut chunk).await.expect("reading the answer");
        assert!(n > 0, "connection closed mid-body");
        body.extend_from_slice(&chunk[..n]);
    }
    RawAnswer {
        status,
        headers,
        body: String::from_utf8(body).unwrap(),
    }
}
