//! What reaches the handler beside the event (its `Delivery`), public routing for adaptors
//! that wrap a handler, and a backend of one's own. In-process (tower `oneshot`) with a
//! fixed clock: what is checked is the pipeline's logic, not the transport.

mod support;

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering::SeqCst},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;
use support::{KEY, Probe, ProbeHandler, Step, builder, complete, oneshot::send};
use tokio::sync::mpsc;
use vocals_callback::{
    Delivery, HandlerResult, Outcome, Rejection, Secret, Source, Stage, VocalsEvent, VocalsHandler,
    VocalsService,
    backend::{Backend, Stores},
    dedup::{Claim, ClaimRequest, ClaimToken, DedupKey, DedupStore, MemoryStore, StoreError},
    handler::with_delivery,
    parse,
    service::{DeadLetter, QueueConfig},
    testkit::kie_request,
    verify::{BindingCache, BindingStore, KieSignature, Signed, UrlToken},
};

const T0: u64 = 1_769_670_760;
const NEXT_KEY: &str = "next-webhook-hmac-key";

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// `body` for `task`, signed with `key` at `ts`.
fn signed(key: &str, task: &str, ts: u64, body: Vec<u8>) -> Request<Full<Bytes>> {
    kie_request(key, task, ts, body)
}

/// The provider's verifier with the test key (`default`) and a rotated one (`next`), and
/// the clock at [`T0`].
fn rotating(probe: &Arc<Probe>) -> vocals_callback::service::Builder<ProbeHandler> {
    let kie = KieSignature::new(Secret::new(KEY).unwrap())
        .with_key("next", Secret::new(NEXT_KEY).unwrap())
        .unwrap();
    VocalsService::builder(probe.handler())
        .verifier(kie)
        .clock(|| at(T0))
}

#[tokio::test]
async fn a_callback_reaches_the_handler_with_its_source_key_label_and_signature_time() {
    let probe = Probe::new([]);
    let svc = rotating(&probe).build().unwrap();
    let answer = send(&svc, signed(NEXT_KEY, "t-next", T0 - 5, complete("t-next"))).await;
    assert_eq!(answer, (StatusCode::OK, "received".into(), None));
    let answer = send(&svc, signed(KEY, "t-old", T0 - 2, complete("t-old"))).await;
    assert_eq!(answer.1, "received");

    let calls = probe.calls();
    let [next, old] = &calls[..] else {
        panic!("two calls: {calls:?}")
    };
    assert_eq!(next.method, "on_complete", "routed to the stage's method");
    let d = &next.delivery;
    assert_eq!(d.source(), Source::Callback);
    assert_eq!((d.attempt(), d.is_redelivery()), (1, false));
    assert_eq!(d.scheme(), Some("kie_signature"));
    assert_eq!(d.key_label(), Some("next"));
    assert_eq!(d.signed_at(), Some(at(T0 - 5)));
    assert_eq!(d.received_at(), at(T0));
    // During a rotation, the old key is still in use as long as deliveries name it.
    assert_eq!(old.delivery.key_label(), Some("default"));
    assert_eq!(old.delivery.signed_at(), Some(at(T0 - 2)));
}

#[tokio::test]
async fn a_polled_event_reaches_the_handler_as_polled_with_no_signer() {
    let probe = Probe::new([]);
    let svc = rotating(&probe).build().unwrap();
    let event = parse(&complete("t-polled")).unwrap();
    assert_eq!(svc.ingest(event).await, Outcome::Received);
    let call = &probe.calls()[0];
    assert_eq!(call.method, "on_complete");
    let d = &call.delivery;
    assert_eq!((d.source(), d.attempt()), (Source::Polled, 1));
    assert_eq!(
        (d.key_label(), d.scheme(), d.signed_at()),
        (None, None, None)
    );
    assert_eq!(d.received_at(), at(T0));
    // The callback that arrives after is a duplicate: one dedup for both sources.
    let late = send(&svc, signed(KEY, "t-polled", T0, complete("t-polled"))).await;
    assert_eq!(late.1, "duplicate");
    assert_eq!(probe.call_count(), 1);
}

#[tokio::test]
async fn a_url_token_names_the_signer_when_no_signature_does() {
    let probe = Probe::new([]);
    let token = UrlToken::new("token", Secret::new("first-token").unwrap())
        .unwrap()
        .with_token("next", Secret::new("second-token").unwrap())
        .unwrap();
    let svc = VocalsService::builder(probe.handler())
        .verifier(token)
        .build()
        .unwrap();
    let req = Request::post("/vocals-callback?token=second-token")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(complete("t-token"))))
        .unwrap();
    assert_eq!(send(&svc, req).await.1, "received");
    let d = &probe.calls()[0].delivery;
    assert_eq!(
        (d.scheme(), d.key_label()),
        (Some("url_token"), Some("next"))
    );
    assert_eq!(d.signed_at(), None, "a URL token signs no time");
}

#[tokio::test]
async fn queued_retries_count_their_attempts() {
    let probe = Probe::new([Step::Fail, Step::Panic, Step::Ok]);
    let svc = rotating(&probe)
        .queued(
            QueueConfig::new()
                .with_max_attempts(3)
                .with_backoff(Duration::from_millis(1), Duration::from_millis(5)),
        )
        .build()
        .unwrap();
    let answer = send(&svc, signed(NEXT_KEY, "t-q", T0, complete("t-q"))).await;
    assert_eq!(answer.1, "received");
    probe.finished(3).await;
    let deliveries: Vec<_> = probe.calls().into_iter().map(|c| c.delivery).collect();
    let attempts: Vec<_> = deliveries.iter().map(Delivery::attempt).collect();
    assert_eq!(attempts, [1, 2, 3]);
    let redelivered: Vec<_> = deliveries.iter().map(Delivery::is_redelivery).collect();
    assert_eq!(redelivered, [false, true, true]);
    // Every attempt carries the first delivery's facts.
    assert!(deliveries.iter().all(|d| d.key_label() == Some("next")));
    assert_eq!(probe.stored(), ["t-q/complete"]);
}

#[tokio::test]
async fn a_dead_letter_keeps_the_typed_failure_the_delivery_and_the_verified_body() {
    let probe = Probe::new([Step::Fail, Step::Fail]);
    let (tx, mut rx) = mpsc::unbounded_channel::<DeadLetter>();
    let svc = rotating(&probe)
        .queued(
            QueueConfig::new()
                .with_max_attempts(2)
                .with_backoff(Duration::from_millis(1), Duration::from_millis(5))
                .with_dead_letter(move |dead| {
                    let _ = tx.send(dead);
                }),
        )
        .build()
        .unwrap();
    let body = complete("t-dead");
    let answer = send(&svc, signed(KEY, "t-dead", T0 - 1, body.clone())).await;
    assert_eq!(answer.1, "received");
    let dead = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("a dead letter in time")
        .unwrap();
    assert_eq!(dead.attempts(), 2);
    let failure = dead.failure().expect("the last call's failure");
    assert_eq!(failure.as_str(), "error");
    assert_eq!(
        std::error::Error::source(failure).unwrap().to_string(),
        "scripted failure"
    );
    assert_eq!(dead.delivery().attempt(), 2);
    assert_eq!(dead.delivery().key_label(), Some("default"));
    assert_eq!(dead.delivery().signed_at(), Some(at(T0 - 1)));
    // The body exactly as verified: it parses back to the event, for a replay.
    assert_eq!(dead.body(), Some(&body[..]));
    let replayed = parse(dead.body().unwrap()).unwrap();
    assert_eq!(
        (replayed.task_id(), replayed.stage()),
        (dead.event().task_id(), Stage::Complete)
    );
}

/// An adaptor as a user (or the crate, later) writes one: it sees every delivery, then
/// hands it on with the inner handler's own routing.
struct Archiving<H> {
    inner: H,
    archived: Arc<Mutex<Vec<(String, Source, u32)>>>,
}

impl<H: VocalsHandler> VocalsHandler for Archiving<H> {
    async fn handle(&self, event: VocalsEvent, delivery: Delivery) -> HandlerResult {
        self.archived.lock().unwrap().push((
            event.task_id().to_owned(),
            delivery.source(),
            delivery.attempt(),
        ));
        self.inner.handle(event, delivery).await
    }
}

#[tokio::test]
async fn an_adaptor_that_wraps_a_handler_keeps_its_stage_methods_and_the_delivery() {
    let probe = Probe::new([]);
    let archived = Arc::default();
    let adaptor = Archiving {
        inner: probe.handler(),
        archived: Arc::clone(&archived),
    };
    let svc = VocalsService::builder(adaptor)
        .verifier(KieSignature::new(Secret::new(KEY).unwrap()))
        .clock(|| at(T0))
        .build()
        .unwrap();
    let text = vocals_callback::testkit::CallbackBody::text("t-wrap").to_bytes();
    assert_eq!(
        send(&svc, signed(KEY, "t-wrap", T0 - 1, text)).await.1,
        "received"
    );
    let answer = send(&svc, signed(KEY, "t-wrap", T0, complete("t-wrap"))).await;
    assert_eq!(answer.1, "received");
    let methods: Vec<_> = probe.calls().iter().map(|c| c.method).collect();
    assert_eq!(
        methods,
        ["on_text", "on_complete"],
        "the inner handler's own methods"
    );
    assert_eq!(
        *archived.lock().unwrap(),
        [
            ("t-wrap".to_owned(), Source::Callback, 1),
            ("t-wrap".to_owned(), Source::Callback, 1)
        ]
    );
    assert_eq!(probe.calls()[1].delivery.signed_at(), Some(at(T0)));
}

#[tokio::test]
async fn a_closure_with_delivery_is_given_the_facts() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let svc = VocalsService::builder(with_delivery(move |event: VocalsEvent, delivery| {
        let _ = tx.send((event.task_id().to_owned(), delivery));
        async { HandlerResult::Ok(()) }
    }))
    .verifier(KieSignature::new(Secret::new(KEY).unwrap()))
    .clock(|| at(T0))
    .build()
    .unwrap();
    assert_eq!(
        send(&svc, signed(KEY, "t-fn", T0, complete("t-fn")))
            .await
            .1,
        "received"
    );
    let (task, delivery) = rx.recv().await.unwrap();
    assert_eq!(task, "t-fn");
    assert_eq!(delivery.key_label(), Some("default"));
    assert_eq!(delivery.source(), Source::Callback);
}

// ---------------------------------------------------------------------------------------
// A backend of one's own

/// A dedup store and a binding that count what the service asks of them, around the
/// in-memory ones: what a team's own database-backed pair would look like.
#[derive(Default)]
struct Counts {
    claims: AtomicUsize,
    binds: AtomicUsize,
}

struct CountingStore(MemoryStore, Arc<Counts>);
struct CountingBinding(BindingCache, Arc<Counts>);

impl DedupStore for CountingStore {
    async fn claim(&self, req: &ClaimRequest<'_>) -> Result<Claim, StoreError> {
        self.1.claims.fetch_add(1, SeqCst);
        self.0.claim(req).await
    }

    async fn complete(
        &self,
        key: &DedupKey<'_>,
        token: ClaimToken,
        now: SystemTime,
    ) -> Result<(), StoreError> {
        self.0.complete(key, token, now).await
    }

    async fn release(&self, key: &DedupKey<'_>, token: ClaimToken) -> Result<(), StoreError> {
        self.0.release(key, token).await
    }
}

impl BindingStore for CountingBinding {
    async fn bind(
        &self,
        signed: &Signed,
        body: &[u8],
        stage: Stage,
        now: SystemTime,
    ) -> Result<(), Rejection> {
        self.1.binds.fetch_add(1, SeqCst);
        self.0.bind(signed, body, stage, now).await
    }
}

struct CountingBackend(Arc<Counts>);

impl Backend for CountingBackend {
    type Dedup = CountingStore;
    type Binding = CountingBinding;

    fn open(self) -> Result<Stores<CountingStore, CountingBinding>, vocals_callback::ConfigError> {
        let binding = BindingCache::new(Duration::from_secs(300))?;
        Ok(Stores::new(
            CountingStore(MemoryStore::new(100)?, Arc::clone(&self.0)),
            CountingBinding(binding, self.0),
        ))
    }
}

#[tokio::test]
async fn a_backend_of_ones_own_supplies_both_stores_and_the_pipeline_uses_them() {
    let counts = Arc::new(Counts::default());
    let probe = Probe::new([]);
    let svc = builder(&probe)
        .backend(CountingBackend(Arc::clone(&counts)))
        .clock(|| at(T0))
        .build()
        .unwrap();
    let body = complete("t-own");
    assert_eq!(
        send(&svc, signed(KEY, "t-own", T0, body.clone())).await.1,
        "received"
    );
    assert_eq!(
        send(&svc, signed(KEY, "t-own", T0, body)).await.1,
        "duplicate"
    );
    assert_eq!(
        (counts.claims.load(SeqCst), counts.binds.load(SeqCst)),
        (2, 2)
    );
    // The service hands back the backend's own types.
    assert_eq!(svc.dedup_store().0.len(), 1);
    assert_eq!(svc.binding().0.len(), 1);
    assert_eq!(probe.call_count(), 1);
}

// ---------------------------------------------------------------------------------------
// The outcome in the extensions, the per-key counts, a shared handler

/// The `Outcome` in the response's extensions, as an outer layer reads it.
async fn outcome_of<H: VocalsHandler>(
    svc: &VocalsService<H>,
    req: Request<Full<Bytes>>,
) -> Outcome {
    use tower::ServiceExt as _;
    let Ok(res) = svc.clone().oneshot(req).await;
    *res.extensions()
        .get::<Outcome>()
        .expect("every response carries its outcome")
}

#[tokio::test]
async fn every_response_carries_its_outcome_and_queued_is_told_from_handled() {
    let probe = Probe::new([]);
    let svc = rotating(&probe).build().unwrap();
    let text = vocals_callback::testkit::CallbackBody::text("t-out").to_bytes();
    assert_eq!(
        outcome_of(&svc, signed(KEY, "t-out", T0 - 2, complete("t-out"))).await,
        Outcome::Received
    );
    assert_eq!(
        outcome_of(&svc, signed(KEY, "t-out", T0 - 1, complete("t-out"))).await,
        Outcome::Duplicate
    );
    assert_eq!(
        outcome_of(&svc, signed(KEY, "t-out", T0, text)).await,
        Outcome::Ignored
    );
    let forged = signed("wrong-key", "t-out", T0, complete("t-out"));
    let Outcome::Rejected(rejection) = outcome_of(&svc, forged).await else {
        panic!("a forgery is refused")
    };
    assert_eq!(
        rejection.kind(),
        vocals_callback::RejectionKind::InvalidSignature
    );

    let queued = rotating(&probe).queued(QueueConfig::new()).build().unwrap();
    let req = signed(KEY, "t-queued", T0, complete("t-queued"));
    assert_eq!(outcome_of(&queued, req).await, Outcome::Queued);
    let stats = queued.stats();
    assert_eq!(
        (stats.received(), stats.queued()),
        (1, 1),
        "queued is a kind of received"
    );
}

#[tokio::test]
async fn stats_count_deliveries_per_key_label_and_print_by_name() {
    let probe = Probe::new([]);
    let svc = rotating(&probe).build().unwrap();
    for (i, key) in [KEY, NEXT_KEY, NEXT_KEY].iter().enumerate() {
        let task = format!("t-label-{i}");
        send(&svc, signed(key, &task, T0, complete(&task))).await;
    }
    // A duplicate is verified too: it counts for its key.
    send(
        &svc,
        signed(NEXT_KEY, "t-label-1", T0 - 1, complete("t-label-1")),
    )
    .await;
    let stats = svc.stats();
    assert_eq!(stats.signed_with("default"), 1);
    assert_eq!(stats.signed_with("next"), 3);
    assert_eq!(stats.signed_with("never"), 0);
    assert_eq!(
        stats.key_labels().collect::<Vec<_>>(),
        [("default", 1), ("next", 3)]
    );
    // A refused request names no key.
    send(
        &svc,
        signed("wrong-key", "t-label-9", T0, complete("t-label-9")),
    )
    .await;
    let stats = svc.stats();
    assert_eq!(stats.key_labels().map(|(_, n)| n).sum::<u64>(), 4);
    let debug = format!("{stats:?}");
    assert!(
        debug.contains(r#"rejected: {"invalid_signature": 1}"#),
        "{debug}"
    );
    assert!(
        debug.contains(r#"key_labels: {"default": 1, "next": 3}"#),
        "{debug}"
    );
}

#[tokio::test]
async fn a_handler_in_an_arc_is_shared_with_the_program_and_given_back() {
    let probe = Probe::new([]);
    let shared = Arc::new(probe.handler());
    let svc = VocalsService::builder(Arc::clone(&shared))
        .verifier(KieSignature::new(Secret::new(KEY).unwrap()))
        .clock(|| at(T0))
        .build()
        .unwrap();
    assert!(Arc::ptr_eq(svc.handler(), &shared));
    assert_eq!(
        send(&svc, signed(KEY, "t-arc", T0, complete("t-arc")))
            .await
            .1,
        "received"
    );
    // The Arc forwards `handle` and routing: the stage's own method ran, with its delivery.
    let call = &shared.0.calls()[0];
    assert_eq!(call.method, "on_complete");
    assert_eq!(call.delivery.key_label(), Some("default"));
}

// ---------------------------------------------------------------------------------------
// Same-second signatures

#[tokio::test]
async fn two_callbacks_of_a_task_signed_in_one_second_collide_and_are_not_counted_as_forgeries() {
    let probe = Probe::new([]);
    let svc = rotating(&probe).build().unwrap();
    let text = vocals_callback::testkit::CallbackBody::text("t-same").to_bytes();
    let first = vocals_callback::testkit::CallbackBody::first("t-same").to_bytes();
    assert_eq!(
        send(&svc, signed(KEY, "t-same", T0, text)).await.1,
        "received"
    );
    // The provider's `first` of the same second: the same signature, another stage, at once.
    let answer = send(&svc, signed(KEY, "t-same", T0, first.clone())).await;
    assert_eq!(
        answer,
        (
            StatusCode::UNAUTHORIZED,
            "rejected".into(),
            Some(vocals_callback::RejectionKind::SignatureCollision)
        )
    );
    // A forged body of the stage already bound is a reuse, whenever it comes.
    let forged = vocals_callback::testkit::CallbackBody::text("t-same")
        .msg(Some("forged"))
        .to_bytes();
    let answer = send(&svc, signed(KEY, "t-same", T0, forged)).await;
    assert_eq!(
        answer.2,
        Some(vocals_callback::RejectionKind::SignatureReused)
    );
    // The provider retries the refused one under a new timestamp: it passes.
    assert_eq!(
        send(&svc, signed(KEY, "t-same", T0 + 1, first)).await.1,
        "received"
    );
    let stats = svc.stats();
    use vocals_callback::RejectionKind::{SignatureCollision, SignatureReused};
    assert_eq!(
        (
            stats.rejected(SignatureCollision),
            stats.rejected(SignatureReused)
        ),
        (1, 1)
    );
    assert_eq!(probe.stored(), ["t-same/text", "t-same/first"]);
}

#[tokio::test]
async fn a_kie_signer_signs_a_whole_sequence_at_distinct_seconds_and_every_step_passes() {
    use vocals_callback::testkit::{CallbackBody, FixedClock, KieSigner};
    let probe = Probe::new([]);
    let svc = rotating(&probe).build().unwrap();
    let signer = KieSigner::new(KEY).with_clock(FixedClock::at_unix(T0 - 10));
    for body in [
        CallbackBody::text("t-seq"),
        CallbackBody::first("t-seq"),
        CallbackBody::complete("t-seq"),
    ] {
        let answer = send(&svc, signer.request("t-seq", body.to_bytes())).await;
        assert_eq!(answer.1, "received", "{answer:?}");
    }
    let stamps: Vec<_> = probe
        .calls()
        .iter()
        .map(|c| c.delivery.signed_at())
        .collect();
    assert_eq!(
        stamps,
        [Some(at(T0 - 10)), Some(at(T0 - 9)), Some(at(T0 - 8))]
    );
}
