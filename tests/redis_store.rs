//! The Redis dedup store and binding cache against a real `redis-server` started by the test
//! (never a mock): the store's semantics beside the memory store's, hostile task ids,
//! concurrent claims from two connections (two replicas), the binding, and Redis going away
//! and coming back under the same store.
#![cfg(all(feature = "redis", feature = "testkit"))]

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering::SeqCst},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use ::redis::AsyncCommands as _;
use http::StatusCode;
use tower::ServiceExt as _;
use vocals_callback::{
    ConfigErrorKind, HandlerResult, RejectionKind, Secret, Stage, VocalsEvent, VocalsService,
    dedup::{Claim, ClaimRequest, ClaimToken, DEFAULT_RETENTION, DedupKey, DedupStore},
    redis::{RedisBackend, RedisBinding, RedisConfig, RedisConnection, RedisStore},
    testkit::{CallbackBody, RedisServer, kie_request},
    verify::{BindingStore, BodyDigest, KieSignature, Verifier, VerifyRequest},
};

const LEASE: Duration = Duration::from_secs(11);
const KEY: &str = "test-webhook-hmac-key";
const T0: u64 = 1_769_670_760;

fn connect(server: &RedisServer) -> RedisConnection {
    RedisConfig::new(server.url())
        .with_timeout(Duration::from_millis(500))
        .connect()
        .unwrap()
}

fn store(server: &RedisServer) -> RedisStore {
    RedisStore::new(connect(server))
}

/// A plain client, to look at the keys the store wrote.
async fn raw(server: &RedisServer) -> ::redis::aio::MultiplexedConnection {
    ::redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

fn req(task: &str, stage: Stage) -> ClaimRequest<'_> {
    ClaimRequest::new(DedupKey::new(task, stage), SystemTime::now(), LEASE)
}

async fn claim_new(store: &RedisStore, req: &ClaimRequest<'_>) -> ClaimToken {
    match store.claim(req).await.unwrap() {
        Claim::New(token) => token,
        other => panic!("expected New for {}, got {other:?}", req.key()),
    }
}

async fn handled(store: &RedisStore, task: &str, stage: Stage) {
    let r = req(task, stage);
    let token = claim_new(store, &r).await;
    store.complete(r.key(), token, r.now()).await.unwrap();
}

#[tokio::test]
async fn new_then_in_flight_then_done() {
    let server = RedisServer::start().unwrap();
    let store = store(&server);
    let r = req("65e563474bd7", Stage::Complete);
    let token = claim_new(&store, &r).await;
    match store.claim(&r).await.unwrap() {
        Claim::InFlight { retry_after } => {
            assert!(retry_after <= LEASE && retry_after > LEASE - Duration::from_secs(2));
        }
        other => panic!("{other:?}"),
    }
    store.complete(r.key(), token, r.now()).await.unwrap();
    assert_eq!(store.claim(&r).await.unwrap(), Claim::Done);
    assert_eq!(store.claim(&r).await.unwrap(), Claim::Done);
    // Other stages and tasks are untouched.
    claim_new(&store, &req("65e563474bd7", Stage::Failed)).await;
    claim_new(&store, &req("65e563474bd8", Stage::Complete)).await;
}

#[tokio::test]
async fn release_frees_the_key_for_its_owner_only() {
    let server = RedisServer::start().unwrap();
    let store = store(&server);
    let r = req("t-release", Stage::Text);
    let token = claim_new(&store, &r).await;
    // A token that never owned the key releases nothing.
    store
        .release(r.key(), ClaimToken::new(token.get() ^ 1))
        .await
        .unwrap();
    assert!(matches!(
        store.claim(&r).await.unwrap(),
        Claim::InFlight { .. }
    ));
    store.release(r.key(), token).await.unwrap();
    let again = claim_new(&store, &r).await;
    assert_ne!(again, token, "tokens are random per claim");
    // Releasing a done key does nothing either.
    store.complete(r.key(), again, r.now()).await.unwrap();
    store.release(r.key(), again).await.unwrap();
    assert_eq!(store.claim(&r).await.unwrap(), Claim::Done);
}

#[tokio::test]
async fn an_abandoned_claim_is_reclaimed_after_its_lease_and_the_stale_owner_cannot_release_it() {
    let server = RedisServer::start().unwrap();
    let store = store(&server);
    let short = ClaimRequest::new(
        DedupKey::new("t-lease", Stage::First),
        SystemTime::now(),
        Duration::from_millis(150),
    );
    let stale = claim_new(&store, &short).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let owner = claim_new(&store, &req("t-lease", Stage::First)).await;
    assert_ne!(owner, stale);
    // The stale owner's release leaves the new claim in place.
    store.release(short.key(), stale).await.unwrap();
    assert!(matches!(
        store.claim(&short).await.unwrap(),
        Claim::InFlight { .. }
    ));
    // Its completion still marks the key done: the event was handled (the trait's rule).
    store
        .complete(short.key(), stale, SystemTime::now())
        .await
        .unwrap();
    assert_eq!(store.claim(&short).await.unwrap(), Claim::Done);
    // And the new owner's release cannot undo that.
    store.release(short.key(), owner).await.unwrap();
    assert_eq!(store.claim(&short).await.unwrap(), Claim::Done);
}

#[tokio::test]
async fn late_stages_are_superseded_in_the_documented_order() {
    let server = RedisServer::start().unwrap();
    let store = store(&server);

    handled(&store, "a", Stage::Complete).await;
    assert_eq!(
        store.claim(&req("a", Stage::First)).await.unwrap(),
        Claim::Superseded {
            by: Stage::Complete
        }
    );
    assert_eq!(
        store.claim(&req("a", Stage::Text)).await.unwrap(),
        Claim::Superseded {
            by: Stage::Complete
        }
    );
    // A failure is never late.
    claim_new(&store, &req("a", Stage::Failed)).await;

    handled(&store, "b", Stage::First).await;
    assert_eq!(
        store.claim(&req("b", Stage::Text)).await.unwrap(),
        Claim::Superseded { by: Stage::First }
    );
    claim_new(&store, &req("b", Stage::Complete)).await;

    // Both later stages done: the latest is named, as the memory store does.
    handled(&store, "c", Stage::First).await;
    handled(&store, "c", Stage::Complete).await;
    assert_eq!(
        store.claim(&req("c", Stage::Text)).await.unwrap(),
        Claim::Superseded {
            by: Stage::Complete
        }
    );

    // Without the guard, a late stage is claimed like any key.
    let late = req("c", Stage::Text).with_late_stage_guard(false);
    let token = claim_new(&store, &late).await;

    // Done and InFlight come before Superseded.
    assert!(matches!(
        store.claim(&req("c", Stage::Text)).await.unwrap(),
        Claim::InFlight { .. }
    ));
    store.complete(late.key(), token, late.now()).await.unwrap();
    assert_eq!(
        store.claim(&req("c", Stage::Text)).await.unwrap(),
        Claim::Done
    );
}

#[tokio::test]
async fn done_keys_expire_after_the_retention() {
    let server = RedisServer::start().unwrap();
    let mut redis = raw(&server).await;

    let store = store(&server);
    assert_eq!(store.retention(), DEFAULT_RETENTION);
    handled(&store, "t-ret", Stage::Complete).await;
    let ttl: i64 = redis.pttl("vocals:{t-ret}:complete").await.unwrap();
    let day = i64::try_from(DEFAULT_RETENTION.as_millis()).unwrap();
    assert!(ttl > day - 10_000 && ttl <= day, "{ttl}");

    let hour = Duration::from_secs(3600);
    let short = RedisStore::new(connect(&server))
        .with_retention(hour)
        .unwrap();
    handled(&short, "t-ret2", Stage::Complete).await;
    let ttl: i64 = redis.pttl("vocals:{t-ret2}:complete").await.unwrap();
    assert!(ttl > 3_590_000 && ttl <= 3_600_000, "{ttl}");

    // Once the done key has expired, the event is new again.
    let _: bool = redis.pexpire("vocals:{t-ret2}:complete", 1).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    claim_new(&short, &req("t-ret2", Stage::Complete)).await;

    // The provider retries for ~21 minutes: a shorter memory is refused.
    let err = RedisStore::new(connect(&server))
        .with_retention(Duration::from_secs(29 * 60))
        .unwrap_err();
    assert_eq!(err.kind(), ConfigErrorKind::InvalidRetention);
}

#[tokio::test]
async fn hostile_task_ids_never_share_keys() {
    let server = RedisServer::start().unwrap();
    let store = store(&server);
    let long = "x".repeat(256);
    let ids = [
        "a",
        "a:b",
        "a}",
        "{a}",
        "a}:complete",
        "a%7D",
        "a%3Ab",
        "a b",
        "a\u{0}",
        "é}{:",
        "",
        long.as_str(),
    ];
    // Each id's `complete` handled: every other id's `complete` is still new, and every
    // id's `text` is superseded only by its own task.
    for id in ids {
        handled(&store, id, Stage::Complete).await;
    }
    for id in ids {
        assert_eq!(
            store.claim(&req(id, Stage::Complete)).await.unwrap(),
            Claim::Done
        );
        claim_new(&store, &req(id, Stage::Failed)).await;
    }
    // Unknown stages named like known ones are other keys.
    let unknown = ClaimRequest::new(DedupKey::new("a", Stage::Unknown), SystemTime::now(), LEASE);
    claim_new(&store, &unknown).await;

    // Every key sits in its task's hash tag (Redis Cluster: one slot per task), with
    // nothing of the id outside the braces.
    let mut redis = raw(&server).await;
    let keys: Vec<String> = redis.keys("vocals:*").await.unwrap();
    assert_eq!(keys.len(), ids.len() * 2 + 1, "{keys:?}");
    for key in &keys {
        let open = key.find('{').unwrap();
        let close = open + key[open..].find('}').unwrap();
        assert_eq!(&key[..open], "vocals:");
        let stage = &key[close + 1..];
        assert!(
            [":complete", ":failed", ":u:"].contains(&stage),
            "{key} ends in {stage}"
        );
    }
}

#[tokio::test]
async fn prefixes_separate_receivers_sharing_one_redis() {
    let server = RedisServer::start().unwrap();
    let a = store(&server);
    let b = RedisStore::new(
        RedisConfig::new(server.url())
            .with_key_prefix("other:")
            .connect()
            .unwrap(),
    );
    handled(&a, "t", Stage::Complete).await;
    claim_new(&b, &req("t", Stage::Complete)).await;
    assert_eq!(b.connection().key_prefix(), "other:");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_claims_from_two_replicas_give_one_new() {
    let server = RedisServer::start().unwrap();
    // Two connections: two replicas.
    let replicas = [store(&server), store(&server)];
    let mut tasks = Vec::new();
    for i in 0..50 {
        let store = replicas[i % 2].clone();
        tasks.push(tokio::spawn(async move {
            store
                .claim(&req("65e563474bd7", Stage::Complete))
                .await
                .unwrap()
        }));
    }
    let mut new = 0;
    for task in tasks {
        match task.await.unwrap() {
            Claim::New(_) => new += 1,
            Claim::InFlight { .. } => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(new, 1);
}

/// The signature a kie.ai request presents, as the service hands it to the binding.
fn signed_request(
    verifier: &KieSignature,
    task: &str,
    ts: u64,
    body: &[u8],
    now: SystemTime,
) -> vocals_callback::verify::Signed {
    let request = kie_request(KEY, task, ts, body.to_vec());
    let req = VerifyRequest::new(request.headers(), body, now).with_task_id(Some(task));
    verifier.verify(&req).unwrap().signature().unwrap().clone()
}

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

#[tokio::test]
async fn a_binding_passes_retries_and_refuses_a_swapped_body_on_any_replica() {
    let server = RedisServer::start().unwrap();
    let tolerance = Duration::from_secs(300);
    let one = RedisBinding::new(connect(&server), tolerance).unwrap();
    let two = RedisBinding::new(connect(&server), tolerance).unwrap();
    let verifier = KieSignature::new(Secret::new(KEY).unwrap());
    let body = CallbackBody::text("t-bind").to_bytes();
    let swapped = CallbackBody::complete("t-bind").to_bytes();
    // A fixed clock far from Redis's own: the expiry follows the service's clock.
    let now = at(T0);
    let signed = signed_request(&verifier, "t-bind", T0, &body, now);

    one.bind(&signed, &body, Stage::Text, now).await.unwrap();
    one.bind(&signed, &body, Stage::Text, now).await.unwrap();
    two.bind(&signed, &body, Stage::Text, at(T0 + 60))
        .await
        .unwrap();
    for binding in [&one, &two] {
        let err = binding
            .bind(&signed, &swapped, Stage::Complete, at(T0 + 60))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), RejectionKind::SignatureReused);
        assert_eq!(err.status(), StatusCode::UNAUTHORIZED);
    }
    // The window's edges are the memory cache's: refused at T + 300, free after.
    assert_eq!(
        two.bind(&signed, &swapped, Stage::Complete, at(T0 + 300))
            .await
            .unwrap_err()
            .kind(),
        RejectionKind::SignatureReused
    );
    two.bind(&signed, &swapped, Stage::Complete, at(T0 + 301))
        .await
        .unwrap();

    // bind_mac and bind_verified are the same binding.
    one.bind_mac(&[9; 32], T0, b"x", now).await.unwrap();
    assert_eq!(
        two.bind_mac(&[9; 32], T0, b"y", now)
            .await
            .unwrap_err()
            .kind(),
        RejectionKind::SignatureReused
    );
    let request = kie_request(KEY, "t-v", T0, body.clone());
    let vreq = VerifyRequest::new(request.headers(), &body, now).with_task_id(Some("t-v"));
    let verified = verifier.verify(&vreq).unwrap();
    one.bind_verified(&verified, &body, now).await.unwrap();
    assert_eq!(
        two.bind_verified(&verified, &swapped, now)
            .await
            .unwrap_err()
            .kind(),
        RejectionKind::SignatureReused
    );
}

/// The provider's second callback of a second (another stage, at once) is told from a
/// replay (the same stage, or later) on every replica, as in memory.
#[tokio::test]
async fn a_collision_is_told_from_a_reuse_across_replicas() {
    let server = RedisServer::start().unwrap();
    let tolerance = Duration::from_secs(300);
    let one = RedisBinding::new(connect(&server), tolerance).unwrap();
    let two = RedisBinding::new(connect(&server), tolerance).unwrap();
    let verifier = KieSignature::new(Secret::new(KEY).unwrap());
    let text = CallbackBody::text("t-col").to_bytes();
    let first = CallbackBody::first("t-col").to_bytes();
    let forged = CallbackBody::text("t-col").msg(Some("forged")).to_bytes();
    let signed = signed_request(&verifier, "t-col", T0, &text, at(T0));
    one.bind(&signed, &text, Stage::Text, at(T0)).await.unwrap();
    let ms = |n| at(T0) + Duration::from_millis(n);
    let kind = |r: Result<(), vocals_callback::Rejection>| r.unwrap_err().kind();
    assert_eq!(
        kind(two.bind(&signed, &first, Stage::First, ms(700)).await),
        RejectionKind::SignatureCollision
    );
    assert_eq!(
        kind(two.bind(&signed, &forged, Stage::Text, ms(700)).await),
        RejectionKind::SignatureReused,
        "a body of the same stage is never the provider's"
    );
    assert_eq!(
        kind(two.bind(&signed, &first, Stage::First, ms(2_500)).await),
        RejectionKind::SignatureReused
    );
    // The first body is still a retry on either replica.
    two.bind(&signed, &text, Stage::Text, ms(5_000))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_binding_expires_when_its_window_ends_and_digests_must_agree() {
    let server = RedisServer::start().unwrap();
    let mut redis = raw(&server).await;
    let verifier = KieSignature::new(Secret::new(KEY).unwrap())
        .with_tolerance(Duration::from_secs(600))
        .unwrap();
    let binding = RedisBinding::new(connect(&server), Duration::from_secs(300)).unwrap();
    let body = CallbackBody::text("t-exp").to_bytes();
    // Bound 100 s into a 600 s window (the verifier's, longer than the binding's 300 s):
    // it lives 501 s more (the last second included), plus the 30 s clock margin.
    let signed = signed_request(&verifier, "t-exp", T0, &body, at(T0 + 100));
    binding
        .bind(&signed, &body, Stage::Text, at(T0 + 100))
        .await
        .unwrap();
    let keys: Vec<String> = redis.keys("vocals:bind:*").await.unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].len(), "vocals:bind:".len() + 64);
    let ttl: i64 = redis.pttl(&keys[0]).await.unwrap();
    assert!(ttl > 530_000 && ttl <= 531_000, "{ttl}");

    // A signature already outside its window is not written (its verifier refuses it).
    binding
        .bind_mac(&[3; 32], T0, b"x", at(T0 + 400))
        .await
        .unwrap();
    let keys: Vec<String> = redis.keys("vocals:bind:*").await.unwrap();
    assert_eq!(keys.len(), 1);

    // Replicas with different digests would refuse each other's retries: the default is
    // SHA-256, and a shared key gives the faster keyed PRF.
    let key = [5u8; 32];
    let keyed_one = RedisBinding::new(connect(&server), Duration::from_secs(300))
        .unwrap()
        .with_digest(BodyDigest::keyed(&key));
    let keyed_two = RedisBinding::new(connect(&server), Duration::from_secs(300))
        .unwrap()
        .with_digest(BodyDigest::keyed(&key));
    let now = at(T0);
    keyed_one.bind_mac(&[4; 32], T0, &body, now).await.unwrap();
    keyed_two.bind_mac(&[4; 32], T0, &body, now).await.unwrap();
    assert_eq!(
        binding
            .bind_mac(&[4; 32], T0, &body, now)
            .await
            .unwrap_err()
            .kind(),
        RejectionKind::SignatureReused,
        "a SHA-256 replica cannot share keyed bindings"
    );
}

#[tokio::test]
async fn redis_down_is_an_error_at_once_and_the_same_store_recovers_after_a_restart() {
    let mut server = RedisServer::start().unwrap();
    let store = store(&server);
    let binding = RedisBinding::new(store.connection().clone(), Duration::from_secs(300)).unwrap();
    let r = req("t-down", Stage::Complete);
    let token = claim_new(&store, &r).await;
    binding.bind_mac(&[1; 32], T0, b"x", at(T0)).await.unwrap();

    server.kill();
    // Every operation fails, and fast (the configured 500 ms timeout at most).
    for _ in 0..3 {
        let started = Instant::now();
        assert!(store.claim(&r).await.is_err());
        assert!(store.complete(r.key(), token, r.now()).await.is_err());
        assert!(store.release(r.key(), token).await.is_err());
        let err = binding
            .bind_mac(&[1; 32], T0, b"x", at(T0))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), RejectionKind::StoreUnavailable);
        assert_eq!(err.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(err.retry_after(), Some(Duration::from_secs(5)));
        assert!(store.connection().ping().await.is_err());
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    }

    // Back, empty (nothing persisted), with its script cache empty: the same store and
    // binding work again at once (the first operation finds the connection dead, and runs
    // again on a new one; the scripts are loaded again on NOSCRIPT).
    server.restart().unwrap();
    let token = claim_new(&store, &r).await;
    store.complete(r.key(), token, r.now()).await.unwrap();
    assert_eq!(store.claim(&r).await.unwrap(), Claim::Done);
    binding.bind_mac(&[1; 32], T0, b"x", at(T0)).await.unwrap();
}

#[tokio::test]
async fn a_flushed_script_cache_is_reloaded() {
    let server = RedisServer::start().unwrap();
    let store = store(&server);
    claim_new(&store, &req("t-flush", Stage::Text)).await;
    let mut redis = raw(&server).await;
    let _: () = ::redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut redis)
        .await
        .unwrap();
    claim_new(&store, &req("t-flush", Stage::First)).await;
}

#[tokio::test]
async fn a_connection_made_while_redis_is_down_serves_once_it_is_up() {
    let mut server = RedisServer::start().unwrap();
    server.kill();
    let store = store(&server);
    assert!(store.claim(&req("t-late", Stage::Text)).await.is_err());
    server.restart().unwrap();
    claim_new(&store, &req("t-late", Stage::Text)).await;
}

/// The service answers 503 + `Retry-After` while the store is down (the handler is not
/// called), and serves again once Redis is back, without being rebuilt.
#[tokio::test]
async fn the_service_answers_503_while_redis_is_down_and_recovers() {
    let mut server = RedisServer::start().unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let svc = VocalsService::builder(move |_event: VocalsEvent| {
        let counted = Arc::clone(&counted);
        async move {
            counted.fetch_add(1, SeqCst);
            HandlerResult::Ok(())
        }
    })
    .verifier(KieSignature::new(Secret::new(KEY).unwrap()))
    .backend(RedisBackend::new(connect(&server)))
    .build()
    .unwrap();
    let send = |task: &str| {
        let ts = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let body = CallbackBody::complete(task).to_bytes();
        let req = kie_request(KEY, task, ts, body);
        let svc = svc.clone();
        async move {
            let Ok(res) = svc.oneshot(req).await;
            res
        }
    };

    assert_eq!(send("t-svc-1").await.status(), StatusCode::OK);
    server.kill();
    for task in ["t-svc-2", "t-svc-3"] {
        let res = send(task).await;
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(res.headers().contains_key(http::header::RETRY_AFTER));
    }
    assert_eq!(
        calls.load(SeqCst),
        1,
        "nothing is dispatched while Redis is down"
    );

    // The first callback after the restart is served: it finds the connection dead and
    // runs its command again on a new one.
    server.restart().unwrap();
    assert_eq!(send("t-svc-2").await.status(), StatusCode::OK);
    assert_eq!(calls.load(SeqCst), 2);
}
