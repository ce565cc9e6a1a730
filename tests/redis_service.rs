//! Two `VocalsService` replicas sharing one real Redis (started by the test, never a mock):
//! each event is dispatched once whichever replica a delivery reaches, a body swapped under
//! captured headers is refused by the other replica, a Redis outage answers 503 and accepts
//! nothing, and the replicas recover when Redis is back, without being rebuilt.
#![cfg(all(feature = "redis", feature = "testkit"))]

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
use vocals_callback::{
    HandlerError, HandlerResult, RejectionKind, Secret, VocalsEvent, VocalsHandler, VocalsService,
    redis::{RedisBackend, RedisConfig},
    testkit::{CallbackBody, RedisServer, kie_request},
    verify::KieSignature,
};

mod support;
use support::oneshot::send;

const KEY: &str = "replica-shared-key";

/// One handler shared by both replicas: counts calls, fails the first `fail_first`.
#[derive(Clone, Default)]
struct Shared {
    calls: Arc<AtomicUsize>,
    fail_first: usize,
    seen: Arc<Mutex<Vec<String>>>,
}

impl VocalsHandler for Shared {
    async fn on_event(&self, event: VocalsEvent) -> HandlerResult {
        let n = self.calls.fetch_add(1, SeqCst);
        // Long enough that concurrent deliveries overlap the claim.
        tokio::time::sleep(Duration::from_millis(20)).await;
        if n < self.fail_first {
            return Err(HandlerError::msg("downstream not ready"));
        }
        self.seen.lock().unwrap().push(event.task_id().to_owned());
        Ok(())
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A replica: its own connection to the shared Redis, the shared handler.
fn replica(
    redis: &RedisServer,
    prefix: &str,
    handler: &Shared,
) -> VocalsService<Shared, RedisBackend> {
    let conn = RedisConfig::new(redis.url())
        .with_key_prefix(prefix)
        .with_timeout(Duration::from_millis(500))
        .connect()
        .unwrap();
    VocalsService::builder(handler.clone())
        .verifier(KieSignature::new(Secret::new(KEY).unwrap()))
        .backend(RedisBackend::new(conn))
        .build()
        .unwrap()
}

fn request(task: &str, ts: u64, body: &[u8]) -> Request<Full<Bytes>> {
    kie_request(KEY, task, ts, body.to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_identical_deliveries_over_two_replicas_dispatch_once() {
    let redis = RedisServer::start().unwrap();
    let handler = Shared::default();
    let replicas = [
        replica(&redis, "t1:", &handler),
        replica(&redis, "t1:", &handler),
    ];
    let ts = now();
    let body = CallbackBody::complete("task-fifty").to_bytes();
    let answers = futures_join_all((0..50).map(|i| {
        let svc = replicas[i % 2].clone();
        let req = request("task-fifty", ts, &body);
        async move { send(&svc, req).await }
    }))
    .await;
    let mut received = 0;
    for (status, outcome, kind) in &answers {
        match (status.as_u16(), outcome.as_str()) {
            (200, "received") => received += 1,
            (200, "duplicate") => {}
            (409, "rejected") => assert_eq!(*kind, Some(RejectionKind::InFlight)),
            other => panic!("unexpected answer {other:?} ({kind:?})"),
        }
    }
    assert_eq!(received, 1, "{answers:?}");
    assert_eq!(handler.calls.load(SeqCst), 1);
    // Both replicas saw some of them: the spread really crossed replicas.
    assert!(replicas.iter().all(|r| {
        let s = r.stats();
        s.received() + s.duplicate() + s.rejected_total() > 0
    }));
}

#[tokio::test]
async fn a_body_swapped_under_captured_headers_is_refused_by_the_other_replica() {
    let redis = RedisServer::start().unwrap();
    let handler = Shared::default();
    let (a, b) = (
        replica(&redis, "t2:", &handler),
        replica(&redis, "t2:", &handler),
    );
    let ts = now();
    let genuine = CallbackBody::complete("task-swap").to_bytes();
    assert_eq!(
        send(&a, request("task-swap", ts, &genuine)).await.1,
        "received"
    );

    // The same signature and timestamp over a forged body, sent to the replica that never
    // saw the genuine one.
    let forged = CallbackBody::complete("task-swap")
        .msg(Some("forged"))
        .to_bytes();
    let mut req = request("task-swap", ts, &genuine);
    *req.body_mut() = Full::new(Bytes::from(forged));
    let (status, _, kind) = send(&b, req).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(kind, Some(RejectionKind::SignatureReused));
    // The genuine retry still passes on either replica (as a duplicate).
    assert_eq!(
        send(&b, request("task-swap", ts, &genuine)).await.1,
        "duplicate"
    );
    assert_eq!(handler.calls.load(SeqCst), 1);
}

#[tokio::test]
async fn a_redis_outage_answers_503_accepts_nothing_and_the_replicas_recover() {
    let mut redis = RedisServer::start().unwrap();
    let handler = Shared::default();
    let (a, b) = (
        replica(&redis, "t3:", &handler),
        replica(&redis, "t3:", &handler),
    );
    let ts = now();
    let first = CallbackBody::complete("task-before").to_bytes();
    assert_eq!(
        send(&a, request("task-before", ts, &first)).await.1,
        "received"
    );

    redis.kill();
    for (i, svc) in [&a, &b, &a, &b].into_iter().enumerate() {
        let task = format!("task-down-{i}");
        let body = CallbackBody::complete(&task).to_bytes();
        let (status, _, kind) = send(svc, request(&task, ts, &body)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{kind:?}");
        assert_eq!(kind, Some(RejectionKind::StoreUnavailable));
    }
    // A known duplicate is not answered 200 either: nothing is decided without the store.
    let (status, _, _) = send(&b, request("task-before", ts, &first)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        handler.calls.load(SeqCst),
        1,
        "nothing was dispatched while down"
    );

    redis.restart().unwrap();
    // Each replica's connection comes back by itself (no rebuild), and the first callback
    // on each is served: a command that finds the connection dead runs again on a new one.
    // The retries of the events refused during the outage are handled now, once.
    let tasks = ["task-after", "task-down-0", "task-down-1"];
    for (task, svc) in tasks.into_iter().zip([&b, &a, &b]) {
        let body = CallbackBody::complete(task).to_bytes();
        let (status, outcome, kind) = send(svc, request(task, ts, &body)).await;
        assert_eq!(
            (status, outcome.as_str(), kind),
            (StatusCode::OK, "received", None)
        );
    }
    assert_eq!(handler.calls.load(SeqCst), 4);
}

#[tokio::test]
async fn a_handler_failure_on_one_replica_is_retried_on_the_other() {
    let redis = RedisServer::start().unwrap();
    let handler = Shared {
        fail_first: 1,
        ..Shared::default()
    };
    let (a, b) = (
        replica(&redis, "t4:", &handler),
        replica(&redis, "t4:", &handler),
    );
    let ts = now();
    let body = CallbackBody::complete("task-retry").to_bytes();
    let (status, _, kind) = send(&a, request("task-retry", ts, &body)).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(kind, Some(RejectionKind::HandlerFailed));
    // The claim was released in Redis: the provider's retry, landing on b, runs it.
    assert_eq!(
        send(&b, request("task-retry", ts, &body)).await.1,
        "received"
    );
    assert_eq!(
        send(&a, request("task-retry", ts, &body)).await.1,
        "duplicate"
    );
    assert_eq!(handler.calls.load(SeqCst), 2);
    assert_eq!(*handler.seen.lock().unwrap(), ["task-retry"]);
}

/// Joins futures concurrently on the current runtime (spawned, so the multi-thread
/// runtime runs them in parallel).
async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}
