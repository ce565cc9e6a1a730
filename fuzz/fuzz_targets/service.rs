//! `service`: the whole `VocalsService`, in-process, driven by sequences of deliveries.
//!
//! Each input (an `Arbitrary` structure) configures one service (Kie signatures with the
//! binding cache, or Standard Webhooks; inline dispatch; a fixed, steerable clock) and
//! sends it a sequence of steps: single deliveries, byte-identical retries of an earlier
//! one, earlier signature headers over another body (a forgery), two deliveries
//! interleaved on one thread, and clock moves. A delivery picks its method, media type,
//! encoding, signature (right key, wrong key, another task's, none, garbage), timestamp
//! offset, body (a provider payload with its task id and stage rewritten, a body built by
//! the testkit, or random bytes) and what the handler does with it (ok, error, error
//! with `Retry-After`, panic, yield then ok/error, hang past the deadline).
//!
//! Asserted on every step:
//! - no panic escapes `call` (the handler's panics are caught by the service);
//! - every status is a row of the service's status table ([`TABLE`]), the body is one of
//!   the documented JSON answers, a refusal's reason is a `RejectionKind` of that status,
//!   405 carries `Allow: POST`, 409 and 503 carry `Retry-After`;
//! - the handler runs only for bodies this target signed with the right key, for the
//!   body's own task, inside the window, and sees exactly the event of that body;
//! - the handler runs at most once per dedup key (task id, stage, unknown type) unless
//!   every earlier run failed, and never twice at once for one key;
//! - with Kie signatures, everything that passed the binding step under one signature
//!   carried the first body that signature was bound to;
//! - inline dispatch answers `received` only when the handler returned `Ok` during that
//!   request, `duplicate` only for a key handled before, `ignored` only for a late stage;
//!   a handler failure is answered 500/503, never 2xx; 409 only while another delivery
//!   of the key is in flight (so only in interleaved steps).
#![no_main]

use std::{
    collections::{HashMap, HashSet},
    convert::Infallible,
    future::Future,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering::SeqCst},
    },
    time::{Duration, UNIX_EPOCH},
};

use arbitrary::Arbitrary;
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;
use vocals_callback::{
    HandlerError, HandlerResult, RejectionKind, Secret, Stage, VocalsEvent, VocalsHandler,
    VocalsService,
    backend::MemoryBackend,
    parse,
    service::ResponseBody,
    testkit::{CallbackBody, TrackBody, sign_kie, sign_standard_webhooks},
    verify::{BindingCache, KieSignature, StandardWebhooks},
};
use vocals_callback_fuzz::{
    FIXTURES, HANDLER_PANIC, KEY, NOW, WRONG_KEY, quiet_handler_panics, strict_timestamp,
};

/// The status table of the service module docs, every row: 200 received/duplicate/ignored, 400, 401, 403,
/// 405, 408, 409, 413, 415, 500, 503. Nothing else may ever be answered.
const TABLE: [u16; 11] = [200, 400, 401, 403, 405, 408, 409, 413, 415, 500, 503];

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const WRONG_SECRET: &str = "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
/// The Kie and Standard Webhooks tolerance (the default).
const TOLERANCE: i64 = 300;
/// Short, so that a handler that hangs costs little; the yielding handlers finish within
/// a few polls, far inside it.
const HANDLER_TIMEOUT: Duration = Duration::from_millis(20);
/// At most this many steps per input, and clock moves of at most 10 minutes each, so the
/// clock never reaches the dedup store's 24 h retention (which would legitimately let a
/// handled key through again).
const MAX_STEPS: usize = 24;
const MAX_ADVANCE: u64 = 600;

/// Task ids: few, so that keys collide; one at the 256-byte limit and one past it.
fn task_pool(i: u8) -> String {
    match i % 6 {
        0 => "65e563474bd7b6485dfb229eb92324a8".into(),
        1 => "2fac3b6e9f72".into(),
        2 => "t\u{e9}che-\u{65e5}\u{672c}".into(),
        3 => "a.b".into(),
        4 => "x".repeat(256),
        _ => "y".repeat(257),
    }
}

#[derive(Arbitrary, Debug)]
struct Input {
    config: Config,
    steps: Vec<Step>,
}

#[derive(Arbitrary, Debug)]
struct Config {
    standard_webhooks: bool,
    deliver_late_stages: bool,
    /// 2 KiB instead of 256 KiB, so 413 is reachable with small inputs.
    small_body_limit: bool,
    /// 1 to 4 signatures remembered: the 503 of a full binding cache is reachable.
    binding_capacity: u8,
}

#[derive(Arbitrary, Debug)]
enum Step {
    Send(Delivery),
    /// An earlier request again, byte for byte (the sender's retry).
    Retry {
        back: u8,
    },
    /// An earlier request's headers over another body (a captured signature replayed).
    Forge {
        back: u8,
        body: BodySpec,
    },
    /// Two deliveries polled together on one thread.
    Together(Delivery, Delivery),
    Advance {
        secs: u16,
    },
}

#[derive(Arbitrary, Debug)]
struct Delivery {
    method: MethodChoice,
    content_type: ContentType,
    gzip: bool,
    signing: Signing,
    /// Seconds from the clock, folded into ±400 so both sides of the window are hit.
    ts_offset: i16,
    body: BodySpec,
    /// Extra header lines (repeated signature headers among them).
    extra: Vec<(ExtraHeader, String)>,
    outcome: Outcome,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum MethodChoice {
    Post,
    Get,
    Put,
    Options,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum ContentType {
    Json,
    JsonCharset,
    JsonUpper,
    Text,
    Missing,
}

#[derive(Arbitrary, Debug, Clone)]
enum Signing {
    Right,
    WrongKey,
    /// Signed correctly, but for another task than the body's.
    OtherTask(u8),
    Missing,
    Garbage(String),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum ExtraHeader {
    Signature,
    Timestamp,
    WebhookId,
    ContentLength,
    Other,
}

#[derive(Arbitrary, Debug, Clone)]
enum BodySpec {
    /// A provider payload with its task id, stage and code rewritten.
    Fixture {
        index: u8,
        task: u8,
        stage: StageChoice,
        code: CodeChoice,
    },
    /// A body built by the testkit.
    Built {
        task: u8,
        stage: StageChoice,
        tracks: u8,
        code: CodeChoice,
    },
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum StageChoice {
    Text,
    First,
    Complete,
    Error,
    Failed,
    Unknown,
    UpperText,
    Missing,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum CodeChoice {
    Ok,
    Refunded,
    Server,
    String,
}

/// What the handler does with the event of one delivery.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Ok,
    Fail,
    RetryAfter,
    Panic,
    YieldOk,
    YieldFail,
    Hang,
}

impl StageChoice {
    fn text(self) -> Option<&'static str> {
        Some(match self {
            Self::Text => "text",
            Self::First => "first",
            Self::Complete => "complete",
            Self::Error => "error",
            Self::Failed => "failed",
            Self::Unknown => "remix",
            Self::UpperText => "TEXT",
            Self::Missing => return None,
        })
    }
}

impl CodeChoice {
    fn value(self) -> serde_json::Value {
        match self {
            Self::Ok => 200.into(),
            Self::Refunded => 531.into(),
            Self::Server => 500.into(),
            // A bad envelope type: 400.
            Self::String => "200".into(),
        }
    }
}

impl BodySpec {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Self::Fixture {
                index,
                task,
                stage,
                code,
            } => {
                let raw = FIXTURES[usize::from(*index) % FIXTURES.len()];
                let mut value: serde_json::Value =
                    serde_json::from_slice(raw).expect("fixtures are JSON");
                value["code"] = code.value();
                let data = &mut value["data"];
                data["task_id"] = task_pool(*task).into();
                match stage.text() {
                    Some(t) => data["callbackType"] = t.into(),
                    None => {
                        if let Some(obj) = data.as_object_mut() {
                            obj.remove("callbackType");
                        }
                    }
                }
                value.to_string().into_bytes()
            }
            Self::Built {
                task,
                stage,
                tracks,
                code,
            } => {
                let mut body =
                    CallbackBody::complete(&task_pool(*task)).callback_type(stage.text());
                for i in 0..(tracks % 4) {
                    body = body.track(TrackBody::ready(&format!("trk-{i}")));
                }
                let mut value = body.to_value();
                value["code"] = code.value();
                value.to_string().into_bytes()
            }
            Self::Raw(bytes) => bytes.clone(),
        }
    }
}

/// One request as sent, kept for retries and forgeries.
#[derive(Clone, Debug)]
struct Sent {
    method: Method,
    headers: http::HeaderMap,
    body: Vec<u8>,
    /// Whether this target's oracle says the request is genuinely signed: the right key,
    /// the body's own task id (or message id and body), a timestamp inside the window.
    /// A verified pass of anything else is a finding.
    genuine: bool,
    /// The signature header's value (Kie), the key of the binding.
    signature: Option<Vec<u8>>,
    outcome: Outcome,
}

/// The dedup key as the model sees it: task id, stage, and the raw type of an unknown
/// stage.
type Key = (String, Stage, Option<String>);

fn key_of(event: &VocalsEvent) -> Key {
    let unknown = (event.stage() == Stage::Unknown)
        .then(|| event.callback().callback_type().unwrap_or("").to_owned());
    (event.task_id().to_owned(), event.stage(), unknown)
}

/// What the handler saw: the event, and how the call ended (`None`: it never returned,
/// cut off by the deadline).
#[derive(Debug)]
struct Call {
    event: VocalsEvent,
    result: Option<Result<(), ()>>,
}

/// Shared between the handler and the checks.
#[derive(Default)]
struct Log {
    /// What to do with each event, in the order planned (first match wins).
    plan: Vec<(VocalsEvent, Outcome)>,
    calls: Vec<Call>,
    /// Keys whose handler is running right now.
    running: HashSet<Key>,
    /// Set when the handler was entered for a key already running.
    overlap: bool,
}

type Shared = Arc<Mutex<Log>>;

fn lock(log: &Shared) -> std::sync::MutexGuard<'_, Log> {
    log.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn handle(log: Shared, event: VocalsEvent) -> HandlerResult {
    let key = key_of(&event);
    let (index, outcome) = {
        let mut l = lock(&log);
        let outcome = l
            .plan
            .iter()
            .find(|(e, _)| *e == event)
            .map_or(Outcome::Ok, |(_, o)| *o);
        if !l.running.insert(key.clone()) {
            l.overlap = true;
        }
        l.calls.push(Call {
            event,
            result: None,
        });
        (l.calls.len() - 1, outcome)
    };
    // Leaves `running` whether the call returns, panics or is dropped at its deadline.
    struct Leave(Shared, Key);
    impl Drop for Leave {
        fn drop(&mut self) {
            lock(&self.0).running.remove(&self.1);
        }
    }
    let _leave = Leave(Arc::clone(&log), key);
    let finish = |ok: bool| {
        lock(&log).calls[index].result = Some(if ok { Ok(()) } else { Err(()) });
    };
    match outcome {
        Outcome::Ok => finish(true),
        Outcome::Fail | Outcome::RetryAfter => finish(false),
        Outcome::Panic => {
            finish(false);
            std::panic::panic_any(HANDLER_PANIC);
        }
        Outcome::YieldOk | Outcome::YieldFail => {
            tokio::task::yield_now().await;
            finish(outcome == Outcome::YieldOk);
        }
        Outcome::Hang => std::future::pending::<()>().await,
    }
    match outcome {
        Outcome::Ok | Outcome::YieldOk => Ok(()),
        Outcome::RetryAfter => Err(HandlerError::retry_later(Duration::from_secs(7))),
        _ => Err(HandlerError::msg("fuzz: handler fails on purpose")),
    }
}

/// The model the answers are checked against.
#[derive(Default)]
struct Model {
    done: HashSet<Key>,
    /// Kie: signature value → the first body that passed the binding step with it.
    bound: HashMap<Vec<u8>, Vec<u8>>,
    sent: Vec<Sent>,
    received: u64,
}

/// The handler: records every call in the shared log and does what the plan says.
struct Recorder(Shared);

impl VocalsHandler for Recorder {
    fn on_event(&self, event: VocalsEvent) -> impl Future<Output = HandlerResult> + Send {
        handle(Arc::clone(&self.0), event)
    }
}

struct Harness {
    svc: VocalsService<Recorder>,
    log: Shared,
    clock: Arc<AtomicU64>,
    standard: bool,
    deliver_late: bool,
    msg_ids: u64,
}

/// A decoded answer.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    status_word: String,
    reason: Option<String>,
}

fuzz_target!(|input: Input| {
    quiet_handler_panics();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    runtime.block_on(run(input));
});

async fn run(input: Input) {
    let log: Shared = Arc::default();
    let clock = Arc::new(AtomicU64::new(NOW));
    let read_clock = Arc::clone(&clock);
    let mut builder = VocalsService::builder(Recorder(Arc::clone(&log)))
        .clock(move || UNIX_EPOCH + Duration::from_secs(read_clock.load(SeqCst)))
        .handler_timeout(HANDLER_TIMEOUT)
        .deliver_late_stages(input.config.deliver_late_stages)
        .backend(
            MemoryBackend::new()
                .with_capacity(1024)
                .with_binding_memory(
                    (1 + usize::from(input.config.binding_capacity % 4))
                        * BindingCache::MIN_MEMORY_LIMIT,
                ),
        );
    if input.config.small_body_limit {
        builder = builder.body_limit(2048);
    }
    builder = if input.config.standard_webhooks {
        builder.verifier(StandardWebhooks::new(SECRET).expect("a valid secret"))
    } else {
        builder.verifier(KieSignature::new(Secret::new(KEY).expect("a valid key")))
    };
    let svc = builder.build().expect("a valid configuration");
    let mut h = Harness {
        svc,
        log,
        clock,
        standard: input.config.standard_webhooks,
        deliver_late: input.config.deliver_late_stages,
        msg_ids: 0,
    };
    let mut model = Model::default();
    for step in input.steps.into_iter().take(MAX_STEPS) {
        match step {
            Step::Send(d) => {
                let sent = h.build(&d);
                h.single(&mut model, sent).await;
            }
            Step::Retry { back } => {
                if let Some(mut sent) = pick(&model.sent, back) {
                    // The clock may have moved since: judged again, now.
                    sent.genuine = h.genuine(&sent.headers, &sent.body);
                    h.single(&mut model, sent).await;
                }
            }
            Step::Forge { back, body } => {
                if let Some(mut sent) = pick(&model.sent, back) {
                    sent.body = body.bytes();
                    // Kie signs task.timestamp only, so another body of the same task
                    // still verifies (and must then be stopped by the binding); Standard
                    // Webhooks signs the body, so only the same body verifies.
                    sent.genuine = h.genuine(&sent.headers, &sent.body);
                    h.single(&mut model, sent).await;
                }
            }
            Step::Together(a, b) => {
                let (a, b) = (h.build(&a), h.build(&b));
                h.together(&mut model, a, b).await;
            }
            Step::Advance { secs } => {
                h.clock
                    .fetch_add(u64::from(secs) % (MAX_ADVANCE + 1), SeqCst);
            }
        }
    }
    let stats = h.svc.stats();
    assert_eq!(
        stats.received(),
        model.received,
        "stats disagree with the answers"
    );
    assert_eq!(
        stats.in_flight(),
        0,
        "a handler call still counted after every answer"
    );
}

fn pick(sent: &[Sent], back: u8) -> Option<Sent> {
    let n = sent.len();
    (n > 0).then(|| sent[n - 1 - usize::from(back) % n].clone())
}

impl Harness {
    fn now(&self) -> u64 {
        self.clock.load(SeqCst)
    }

    /// The oracle's "genuine", recomputed from the request as sent, independently of the
    /// verifiers: signed with the right key over what the scheme covers (Kie: the body's
    /// own task id and the timestamp text; Standard Webhooks: id, timestamp and body),
    /// the timestamp all digits and inside the window of the clock now, each header once.
    /// Method, media type and body checks are the service's business: genuine is only a
    /// necessary condition of a verified pass, and a pass of anything else is a finding.
    fn genuine(&self, headers: &http::HeaderMap, body: &[u8]) -> bool {
        let one = |name: &str| {
            let mut all = headers.get_all(name).iter();
            match (all.next(), all.next()) {
                (Some(v), None) => v.to_str().ok(),
                _ => None,
            }
        };
        let ts_name = if self.standard {
            "webhook-timestamp"
        } else {
            "x-webhook-timestamp"
        };
        let Some(ts_text) = one(ts_name) else {
            return false;
        };
        let Some(ts) = strict_timestamp(ts_text.as_bytes()) else {
            return false;
        };
        if ts.abs_diff(self.now()) > TOLERANCE.unsigned_abs() {
            return false;
        }
        if self.standard {
            let (Some(id), Some(sigs)) = (one("webhook-id"), one("webhook-signature")) else {
                return false;
            };
            let expected = sign_standard_webhooks(SECRET, id, ts, body);
            !id.is_empty() && ts.to_string() == ts_text && sigs.split(' ').any(|e| e == expected)
        } else {
            let Some(sig) = one("x-webhook-signature") else {
                return false;
            };
            let Ok(event) = parse(body) else { return false };
            sig == sign_kie(KEY, event.task_id(), ts_text)
        }
    }

    /// Builds the request of `d`.
    fn build(&mut self, d: &Delivery) -> Sent {
        let body = d.body.bytes();
        let event = parse(&body).ok();
        let body_task = event.as_ref().map(|e| e.task_id().to_owned());
        let offset = i64::from(d.ts_offset) % 401;
        let ts = self.now().saturating_add_signed(offset);
        let mut headers = http::HeaderMap::new();
        let method = match d.method {
            MethodChoice::Post => Method::POST,
            MethodChoice::Get => Method::GET,
            MethodChoice::Put => Method::PUT,
            MethodChoice::Options => Method::OPTIONS,
        };
        let content_type = match d.content_type {
            ContentType::Json => Some("application/json"),
            ContentType::JsonCharset => Some("application/json; charset=utf-8"),
            ContentType::JsonUpper => Some("Application/JSON"),
            ContentType::Text => Some("text/plain"),
            ContentType::Missing => None,
        };
        if let Some(ct) = content_type {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
        }
        if d.gzip {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        let task_for_sig = |s: &Signing| match s {
            Signing::OtherTask(i) => task_pool(*i),
            _ => body_task.clone().unwrap_or_else(|| task_pool(0)),
        };
        let sig_task = task_for_sig(&d.signing);
        let ts_text = ts.to_string();
        let (id_name, ts_name, sig_name) = if self.standard {
            ("webhook-id", "webhook-timestamp", "webhook-signature")
        } else {
            ("", "x-webhook-timestamp", "x-webhook-signature")
        };
        self.msg_ids += 1;
        let msg_id = format!("msg_{}", self.msg_ids);
        let signature = match &d.signing {
            Signing::Right | Signing::OtherTask(_) | Signing::WrongKey => {
                let right = !matches!(d.signing, Signing::WrongKey);
                Some(if self.standard {
                    sign_standard_webhooks(
                        if right { SECRET } else { WRONG_SECRET },
                        &msg_id,
                        ts,
                        &body,
                    )
                } else {
                    sign_kie(if right { KEY } else { WRONG_KEY }, &sig_task, &ts_text)
                })
            }
            Signing::Garbage(text) => Some(text.clone()),
            Signing::Missing => None,
        };
        if !matches!(d.signing, Signing::Missing) {
            headers.insert(ts_name, HeaderValue::from(ts));
            if let (true, Ok(v)) = (self.standard, HeaderValue::from_str(&msg_id)) {
                headers.insert(id_name, v);
            }
        }
        if let Some(v) = signature
            .as_deref()
            .and_then(|s| HeaderValue::from_str(s).ok())
        {
            headers.insert(sig_name, v);
        }
        for (name, value) in d.extra.iter().take(4) {
            let name = match name {
                ExtraHeader::Signature => sig_name,
                ExtraHeader::Timestamp => ts_name,
                ExtraHeader::WebhookId => "webhook-id",
                ExtraHeader::ContentLength => "content-length",
                ExtraHeader::Other => "x-other",
            };
            if let Ok(v) = HeaderValue::from_str(value) {
                headers.append(name, v);
            }
        }
        let genuine = self.genuine(&headers, &body);
        let signature = headers.get(sig_name).map(|v| v.as_bytes().to_vec());
        Sent {
            method,
            headers,
            body,
            genuine,
            signature,
            outcome: d.outcome,
        }
    }

    fn plan(&self, sent: &Sent) {
        if let Ok(event) = parse(&sent.body) {
            lock(&self.log).plan.insert(0, (event, sent.outcome));
        }
    }

    fn request(sent: &Sent) -> Request<Full<Bytes>> {
        let mut req = Request::new(Full::new(Bytes::from(sent.body.clone())));
        *req.method_mut() = sent.method.clone();
        *req.uri_mut() = http::Uri::from_static("/vocals-callback");
        *req.headers_mut() = sent.headers.clone();
        req
    }

    async fn call(&self, sent: &Sent) -> Answer {
        let response: Result<Response<ResponseBody>, Infallible> =
            self.svc.clone().oneshot(Self::request(sent)).await;
        let Ok(response) = response;
        decode(response).await
    }

    /// One delivery on its own: the exact checks.
    async fn single(&self, model: &mut Model, sent: Sent) {
        self.plan(&sent);
        let before = lock(&self.log).calls.len();
        let answer = self.call(&sent).await;
        let calls: Vec<_> = lock(&self.log).calls.drain(before..).collect();
        self.check_common(model, &sent, &answer);
        assert_ne!(
            answer.status,
            StatusCode::CONFLICT,
            "409 with nothing else in flight"
        );
        assert!(
            calls.len() <= 1,
            "the handler ran {} times for one delivery",
            calls.len()
        );
        match calls.first() {
            Some(call) => {
                self.check_call(model, &sent, call);
                let key = key_of(&call.event);
                match call.result {
                    Some(Ok(())) => {
                        assert_eq!(
                            answer.status_word, "received",
                            "handler ok, answered {answer:?}"
                        );
                        model.done.insert(key);
                        model.received += 1;
                    }
                    _ => {
                        assert!(
                            answer.status == StatusCode::INTERNAL_SERVER_ERROR
                                || answer.status == StatusCode::SERVICE_UNAVAILABLE,
                            "handler failed, answered {answer:?}"
                        );
                        let reason = answer.reason.as_deref().unwrap_or("");
                        assert!(
                            reason.starts_with("handler_"),
                            "handler failed, reason {reason}"
                        );
                    }
                }
            }
            None => {
                assert_ne!(
                    answer.status_word, "received",
                    "received without a handler call"
                );
                let reason = answer.reason.as_deref().unwrap_or("");
                assert!(
                    !reason.starts_with("handler_"),
                    "{reason} without a handler call"
                );
            }
        }
        model.sent.push(sent);
    }

    /// Two deliveries interleaved: the checks that hold whatever the order. Handler calls
    /// are judged against the model as it was before the step (a key handled by one of
    /// the two does not make the other's call a repeat: it was claimed first), and the
    /// answers against the model after it (`b` may be a duplicate of what `a` handled).
    async fn together(&self, model: &mut Model, a: Sent, b: Sent) {
        self.plan(&a);
        self.plan(&b);
        let before = lock(&self.log).calls.len();
        // `a` is polled first, so it reaches the binding step first.
        let (ra, rb) = tokio::join!(self.call(&a), self.call(&b));
        let calls: Vec<_> = lock(&self.log).calls.drain(before..).collect();
        assert!(
            !lock(&self.log).overlap,
            "the handler ran twice at once for one key"
        );
        let mut handled = HashSet::new();
        for call in &calls {
            let owner = [&a, &b]
                .into_iter()
                .filter(|s| parse(&s.body).is_ok_and(|e| e == call.event))
                .find(|s| s.genuine)
                .unwrap_or_else(|| {
                    panic!("the handler saw {:?}, from no genuine delivery", call.event)
                });
            self.check_call(model, owner, call);
            if call.result == Some(Ok(())) {
                assert!(
                    handled.insert(key_of(&call.event)),
                    "one key handled twice in one step"
                );
            }
        }
        let received = [&ra, &rb]
            .iter()
            .filter(|r| r.status_word == "received")
            .count();
        assert_eq!(
            received,
            handled.len(),
            "received answers and successful handler calls differ"
        );
        model.received += received as u64;
        model.done.extend(handled);
        self.check_common(model, &a, &ra);
        self.check_common(model, &b, &rb);
        model.sent.push(a);
        model.sent.push(b);
    }

    /// A handler call: for a genuine delivery, with that delivery's event, for a key not
    /// handled yet.
    fn check_call(&self, model: &Model, sent: &Sent, call: &Call) {
        assert!(
            sent.genuine,
            "the handler ran for a delivery that is not genuinely signed"
        );
        let event = parse(&sent.body).expect("a handled body parses");
        assert_eq!(
            call.event, event,
            "the handler saw another event than the body's"
        );
        let key = key_of(&event);
        assert!(
            !model.done.contains(&key),
            "the handler ran again for handled key {key:?}"
        );
        if !self.deliver_late {
            let later: &[Stage] = match key.1 {
                Stage::Text => &[Stage::First, Stage::Complete],
                Stage::First => &[Stage::Complete],
                _ => &[],
            };
            let late = later
                .iter()
                .any(|s| model.done.contains(&(key.0.clone(), *s, None)));
            assert!(!late, "a late stage was dispatched: {key:?}");
        }
    }

    /// The checks of every answer: the status table, the body, the headers, the binding,
    /// and what 2xx answers other than `received` may mean.
    fn check_common(&self, model: &mut Model, sent: &Sent, answer: &Answer) {
        assert!(
            TABLE.contains(&answer.status.as_u16()),
            "status {} is not in the table",
            answer.status
        );
        // No IP allowlist and in-memory bodies: 403 and 408 cannot happen in this setup.
        assert_ne!(answer.status, StatusCode::FORBIDDEN);
        assert_ne!(answer.status, StatusCode::REQUEST_TIMEOUT);
        let passed_binding = match answer.status_word.as_str() {
            "received" | "duplicate" | "ignored" => {
                assert_eq!(answer.status, StatusCode::OK);
                assert!(
                    sent.genuine,
                    "2xx {} for a delivery that is not genuine",
                    answer.status_word
                );
                let event = parse(&sent.body).expect("a 2xx body parses");
                let key = key_of(&event);
                if answer.status_word == "duplicate" {
                    assert!(
                        model.done.contains(&key),
                        "duplicate of a key never handled: {key:?}"
                    );
                }
                if answer.status_word == "ignored" {
                    assert!(
                        !self.deliver_late,
                        "ignored while late stages are delivered"
                    );
                    let later: &[Stage] = match key.1 {
                        Stage::Text => &[Stage::First, Stage::Complete],
                        Stage::First => &[Stage::Complete],
                        _ => &[],
                    };
                    assert!(
                        later
                            .iter()
                            .any(|s| model.done.contains(&(key.0.clone(), *s, None))),
                        "ignored without a later stage handled: {key:?}"
                    );
                }
                true
            }
            "rejected" => {
                let reason = answer.reason.as_deref().expect("a refusal has a reason");
                let kind = RejectionKind::ALL
                    .iter()
                    .copied()
                    .find(|k| k.as_str() == reason)
                    .unwrap_or_else(|| panic!("unknown reason {reason}"));
                assert_eq!(
                    kind.status(),
                    answer.status,
                    "{reason} answered {}",
                    answer.status
                );
                // The refusals that come after the binding step.
                let after = matches!(
                    kind,
                    RejectionKind::InFlight
                        | RejectionKind::HandlerFailed
                        | RejectionKind::HandlerPanicked
                        | RejectionKind::HandlerRetry
                        | RejectionKind::HandlerTimeout
                        | RejectionKind::StoreUnavailable
                );
                if after {
                    assert!(sent.genuine, "{reason} for a delivery that is not genuine");
                }
                after
            }
            other => panic!("undocumented answer {other:?}"),
        };
        if passed_binding && !self.standard {
            let signature = sent.signature.clone().expect("a pass has a signature");
            let first = model
                .bound
                .entry(signature)
                .or_insert_with(|| sent.body.clone());
            assert_eq!(
                *first, sent.body,
                "a second body passed under one signature"
            );
        }
    }
}

async fn decode(response: Response<ResponseBody>) -> Answer {
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("an in-memory body")
        .to_bytes();
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    let value: serde_json::Value = serde_json::from_slice(&body).expect("a JSON answer");
    let obj = value.as_object().expect("an object");
    let status_word = obj["status"].as_str().expect("a status word").to_owned();
    let reason = obj
        .get("reason")
        .map(|r| r.as_str().expect("a reason string").to_owned());
    assert_eq!(
        obj.len(),
        1 + usize::from(reason.is_some()),
        "extra fields in {value}"
    );
    assert_eq!(reason.is_some(), status_word == "rejected");
    if status == StatusCode::METHOD_NOT_ALLOWED {
        assert_eq!(headers[header::ALLOW], "POST");
    }
    if status == StatusCode::CONFLICT || status == StatusCode::SERVICE_UNAVAILABLE {
        let secs: u64 = headers[header::RETRY_AFTER]
            .to_str()
            .expect("ASCII")
            .parse()
            .expect("Retry-After in seconds");
        assert!(secs >= 1, "Retry-After: 0 invites a hot loop");
    }
    Answer {
        status,
        status_word,
        reason,
    }
}
