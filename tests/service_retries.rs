//! The provider's retries: the same request again, byte for byte, after an answer it did
//! not get or did not like. Each takes the whole pipeline (verify, bind, claim) and gets
//! the answer its event's state calls for; a swapped body or another timestamp under the
//! same signature never passes for one. In-process (tower `oneshot`): what is checked is
//! the pipeline's logic, not the transport.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;
use vocals_callback::{
    HandlerError, HandlerResult, RejectionKind, Secret, VocalsEvent, VocalsService,
    service::{Builder, QueueConfig},
    testkit::{CallbackBody, kie_request, sign_kie},
    verify::KieSignature,
};

mod support;
use support::oneshot::send;

const KEY: &str = "retry-test-key";
const T0: u64 = 1_769_670_760;

/// A handler that counts its calls and fails the first `fail_first` of them.
#[derive(Clone)]
struct Counting {
    calls: Arc<AtomicUsize>,
    fail_first: usize,
}

impl Counting {
    fn new(fail_first: usize) -> Self {
        Self {
            calls: Arc::new(AtomicUsize::new(0)),
            fail_first,
        }
    }

    fn calls(&self) -> usize {
        self.calls.load(SeqCst)
    }
}

impl vocals_callback::VocalsHandler for Counting {
    async fn on_event(&self, _event: VocalsEvent) -> HandlerResult {
        let n = self.calls.fetch_add(1, SeqCst);
        if n < self.fail_first {
            Err(HandlerError::msg("not yet"))
        } else {
            Ok(())
        }
    }
}

/// A clock the test moves.
#[derive(Clone)]
struct Clock(Arc<AtomicU64>);

impl Clock {
    fn new() -> Self {
        Self(Arc::new(AtomicU64::new(T0)))
    }

    fn advance(&self, secs: u64) {
        self.0.fetch_add(secs, SeqCst);
    }

    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.0.load(SeqCst))
    }
}

fn builder(handler: &Counting, clock: &Clock) -> Builder<Counting> {
    let clock = clock.clone();
    VocalsService::builder(handler.clone())
        .verifier(KieSignature::new(Secret::new(KEY).unwrap()))
        .clock(move || clock.now())
}

fn request(task: &str, ts: u64, body: &[u8]) -> Request<Full<Bytes>> {
    kie_request(KEY, task, ts, body.to_vec())
}

#[tokio::test]
async fn an_exact_retry_of_a_handled_event_is_a_duplicate() {
    let (handler, clock) = (Counting::new(0), Clock::new());
    let svc = builder(&handler, &clock).build().unwrap();
    let body = CallbackBody::complete("task-a").to_bytes();

    let first = send(&svc, request("task-a", T0, &body)).await;
    assert_eq!(first, (StatusCode::OK, "received".into(), None));
    for _ in 0..3 {
        clock.advance(10);
        let again = send(&svc, request("task-a", T0, &body)).await;
        assert_eq!(again, (StatusCode::OK, "duplicate".into(), None));
    }
    assert_eq!(handler.calls(), 1);
    let stats = svc.stats();
    assert_eq!((stats.received(), stats.duplicate()), (1, 3));
    assert_eq!(svc.binding().len(), 1, "one signature, bound once");
}

#[tokio::test]
async fn a_swapped_body_or_another_timestamp_never_passes_for_a_retry() {
    let (handler, clock) = (Counting::new(0), Clock::new());
    let svc = builder(&handler, &clock).build().unwrap();
    let body = CallbackBody::complete("task-b").to_bytes();
    send(&svc, request("task-b", T0, &body)).await;

    // The captured headers over another body of the same task: refused as before.
    let mut swapped = request("task-b", T0, &body);
    let other = CallbackBody::complete("task-b")
        .msg(Some("other"))
        .to_bytes();
    assert_ne!(other, body);
    *swapped.body_mut() = Full::new(Bytes::from(other));
    let answer = send(&svc, swapped).await;
    assert_eq!(answer.2, Some(RejectionKind::SignatureReused));

    // The same signature under another timestamp header: the MAC is checked, and fails.
    let mut moved = request("task-b", T0, &body);
    moved
        .headers_mut()
        .insert("x-webhook-timestamp", (T0 + 1).to_string().parse().unwrap());
    assert_eq!(
        send(&svc, moved).await.2,
        Some(RejectionKind::InvalidSignature)
    );
    // A malformed signature header: the MAC path refuses it.
    let mut garbled = request("task-b", T0, &body);
    garbled
        .headers_mut()
        .insert("x-webhook-signature", "AAAA".parse().unwrap());
    assert_eq!(
        send(&svc, garbled).await.2,
        Some(RejectionKind::MalformedSignature)
    );
    assert_eq!(handler.calls(), 1);
}

#[tokio::test]
async fn an_exact_retry_outside_the_window_is_refused() {
    let (handler, clock) = (Counting::new(0), Clock::new());
    let svc = builder(&handler, &clock).build().unwrap();
    let body = CallbackBody::complete("task-c").to_bytes();
    send(&svc, request("task-c", T0, &body)).await;
    clock.advance(301);
    let answer = send(&svc, request("task-c", T0, &body)).await;
    assert_eq!(answer.0, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.2, Some(RejectionKind::TimestampTooOld));
    assert_eq!(handler.calls(), 1);
}

#[tokio::test]
async fn a_retry_after_a_handler_failure_runs_the_handler_again() {
    let (handler, clock) = (Counting::new(1), Clock::new());
    let svc = builder(&handler, &clock).build().unwrap();
    let body = CallbackBody::complete("task-d").to_bytes();
    let failed = send(&svc, request("task-d", T0, &body)).await;
    assert_eq!(failed.2, Some(RejectionKind::HandlerFailed));
    // The claim was released: the identical retry is handled.
    let retried = send(&svc, request("task-d", T0, &body)).await;
    assert_eq!(retried.1, "received");
    assert_eq!(handler.calls(), 2);
    // Now it is handled: the next one is a duplicate.
    assert_eq!(
        send(&svc, request("task-d", T0, &body)).await.1,
        "duplicate"
    );
    assert_eq!(handler.calls(), 2);
}

#[tokio::test]
async fn an_exact_retry_of_an_ignored_late_stage_is_ignored_again() {
    let (handler, clock) = (Counting::new(0), Clock::new());
    let svc = builder(&handler, &clock).build().unwrap();
    let complete = CallbackBody::complete("task-e").to_bytes();
    let text = CallbackBody::text("task-e").to_bytes();
    send(&svc, request("task-e", T0, &complete)).await;
    assert_eq!(
        send(&svc, request("task-e", T0 - 5, &text)).await.1,
        "ignored"
    );
    assert_eq!(
        send(&svc, request("task-e", T0 - 5, &text)).await.1,
        "ignored"
    );
    let stats = svc.stats();
    assert_eq!(stats.ignored(), 2);
    assert_eq!(handler.calls(), 1);
}

#[tokio::test]
async fn an_exact_retry_of_a_queued_event_waits_for_the_worker_then_is_a_duplicate() {
    let (handler, clock) = (Counting::new(0), Clock::new());
    let svc = builder(&handler, &clock)
        .queued(QueueConfig::new().with_workers(1))
        .build()
        .unwrap();
    let body = CallbackBody::complete("task-f").to_bytes();
    assert_eq!(send(&svc, request("task-f", T0, &body)).await.1, "received");
    // Queued, not yet handled: the next identical delivery finds the claim (409 while the
    // worker holds it, `duplicate` once it is done).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let answer = send(&svc, request("task-f", T0, &body)).await;
        if answer.1 == "duplicate" {
            break;
        }
        assert_eq!(answer.2, Some(RejectionKind::InFlight));
        assert!(
            tokio::time::Instant::now() < deadline,
            "the worker never ran"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(
        send(&svc, request("task-f", T0, &body)).await.1,
        "duplicate"
    );
    assert_eq!(handler.calls(), 1);
}

#[tokio::test]
async fn with_a_second_body_verifier_exact_retries_are_duplicates() {
    let (handler, clock) = (Counting::new(0), Clock::new());
    // Two body verifiers: both check every retry.
    let svc = builder(&handler, &clock)
        .verifier(KieSignature::new(Secret::new(KEY).unwrap()))
        .build()
        .unwrap();
    let body = CallbackBody::complete("task-g").to_bytes();
    send(&svc, request("task-g", T0, &body)).await;
    for _ in 0..2 {
        assert_eq!(
            send(&svc, request("task-g", T0, &body)).await.1,
            "duplicate"
        );
    }
    assert_eq!(svc.stats().duplicate(), 2);
    assert_eq!(handler.calls(), 1);
}

#[test]
fn the_signature_helper_matches_the_requests() {
    // The tests above rely on kie_request signing `task.timestamp` with KEY.
    let req = request("task-h", T0, b"{}");
    assert_eq!(
        req.headers()["x-webhook-signature"],
        sign_kie(KEY, "task-h", &T0.to_string()).as_str()
    );
}
