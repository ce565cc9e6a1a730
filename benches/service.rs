//! The whole in-process pipeline on each fixture body, beside its floor and a hand-written
//! baseline, in one run.
//!
//! For each body (`text` 146 B, `failed` 133 B, `first` 1.5 KB, `complete` 1.6 KB,
//! `complete_lyrics` 8.2 KB), group `service/<body>`:
//!
//! - `floor`: the work no verifying receiver can skip: validating the JSON
//!   (`serde::de::IgnoredAny`), SHA-256 of the body (the binding digest) and the HMAC of
//!   `task_id.timestamp` with a pre-keyed MAC.
//! - `value`: what teams write by hand: `serde_json::Value` parse, the task id read from
//!   it, the signature header base64-decoded and the same MAC checked in constant time. It
//!   binds nothing, deduplicates nothing, and answers nothing.
//! - `received`: `tower::ServiceExt::oneshot` on a `VocalsService` (KieSignature, binding,
//!   parse, dedup claim in the default `MemoryStore`, inline no-op handler, completion, JSON
//!   response) with a `Full<Bytes>` body, each request a task never seen before (so every
//!   claim is new and every signature is bound for the first time).
//! - `duplicate`: the same signed request again and again: verify, binding hit, parse, a
//!   claim that answers `Done`, 200 `duplicate`.
//!
//! Group `dedup`: the in-memory store beside a `Mutex<hashlink::LruCache>` (see [`dedup`]).
//!
//! Run `cargo bench --features testkit --bench service`, then
//! `python3 benches/ratios.py service`.
#![allow(missing_docs, clippy::unwrap_used)]

use std::{
    hint::black_box,
    sync::Mutex,
    time::{Duration, Instant, UNIX_EPOCH},
};

use base64::{Engine, engine::general_purpose::STANDARD};
use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use hashlink::LruCache;
use hmac::{Hmac, Mac};
use http::Request;
use http_body_util::Full;
use serde::de::IgnoredAny;
use sha2::{Digest, Sha256};
use tower::ServiceExt;
use vocals_callback::{
    HandlerResult, Secret, Stage, VocalsEvent, VocalsService,
    dedup::{Claim, ClaimRequest, DedupKey, DedupStore, MemoryStore},
    testkit::kie_request,
    verify::KieSignature,
};

const KEY: &str = "0123456789abcdef0123456789abcdef";
const TASK_ID: &str = "65e563474bd7b6485dfb229eb92324a8";
const TS: u64 = 1_758_044_664;
/// Requests prepared per timed run: few enough to stay in cache.
const BATCH: u64 = 64;

const BODIES: [(&str, &[u8]); 5] = [
    ("text", include_bytes!("../tests/fixtures/bodies/text.json")),
    (
        "failed",
        include_bytes!("../tests/fixtures/bodies/failed.json"),
    ),
    (
        "first",
        include_bytes!("../tests/fixtures/bodies/first.json"),
    ),
    (
        "complete",
        include_bytes!("../tests/fixtures/bodies/complete.json"),
    ),
    (
        "complete_lyrics",
        include_bytes!("../tests/fixtures/bodies/complete_lyrics.json"),
    ),
];

type Handler = fn(VocalsEvent) -> std::future::Ready<HandlerResult>;

fn service() -> VocalsService<Handler> {
    let handler: Handler = |_| std::future::ready(Ok(()));
    VocalsService::builder(handler)
        .verifier(KieSignature::new(Secret::new(KEY).unwrap()))
        .clock(|| UNIX_EPOCH + Duration::from_secs(TS + 1))
        .build()
        .unwrap()
}

/// A signed request for `body` with its task id replaced by `task_id` (same length, so
/// the body keeps its size).
fn request(body: &[u8], task_id: &str) -> Request<Full<Bytes>> {
    let text = std::str::from_utf8(body).unwrap().replace(TASK_ID, task_id);
    kie_request(KEY, task_id, TS, text.into_bytes())
}

/// The hand-written receiver: `Value`, then the MAC.
fn by_hand(keyed: &Hmac<Sha256>, headers: &http::HeaderMap, body: &[u8]) -> bool {
    let value: serde_json::Value = serde_json::from_slice(body).unwrap();
    let task_id = value["data"]["task_id"].as_str().unwrap();
    let ts = headers["x-webhook-timestamp"].to_str().unwrap();
    let signature = STANDARD
        .decode(headers["x-webhook-signature"].as_bytes())
        .unwrap();
    let mut mac = keyed.clone();
    mac.update(task_id.as_bytes());
    mac.update(b".");
    mac.update(ts.as_bytes());
    mac.verify_slice(&signature).is_ok()
}

fn pipeline(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let keyed = <Hmac<Sha256> as Mac>::new_from_slice(KEY.as_bytes()).unwrap();
    for (name, body) in BODIES {
        let mut group = c.benchmark_group(format!("service/{name}"));
        let signed = format!("{TASK_ID}.{TS}");
        group.bench_function("floor", |b| {
            b.iter(|| {
                let valid: IgnoredAny = serde_json::from_slice(black_box(body)).unwrap();
                let digest = Sha256::digest(black_box(body));
                let mut mac = keyed.clone();
                mac.update(black_box(signed.as_bytes()));
                (valid, digest, mac.finalize().into_bytes())
            })
        });
        let req = request(body, TASK_ID);
        group.bench_function("value", |b| {
            b.iter(|| assert!(by_hand(&keyed, black_box(req.headers()), black_box(body))))
        });
        group.bench_function("received", |b| {
            // Each sample gets a fresh service with room for its signatures, and requests
            // for tasks never seen, built before the clock starts, a few at a time so that
            // they are in cache as a server's freshly read request is.
            b.iter_custom(|iters| {
                let svc = service();
                let mut elapsed = Duration::ZERO;
                let mut next = 0u64;
                while next < iters {
                    let batch: Vec<_> = (next..iters.min(next + BATCH))
                        .map(|i| request(body, &format!("{i:032x}")))
                        .collect();
                    next += BATCH;
                    elapsed += runtime.block_on(async {
                        let start = Instant::now();
                        for req in batch {
                            let res = svc.clone().oneshot(req).await.unwrap();
                            debug_assert_eq!(res.status(), 200);
                            black_box(res);
                        }
                        start.elapsed()
                    });
                }
                elapsed
            })
        });
        group.bench_function("duplicate", |b| {
            let svc = service();
            let template = request(body, TASK_ID);
            let (parts, full) = template.into_parts();
            runtime.block_on(async {
                let first = Request::from_parts(parts.clone(), full.clone());
                assert_eq!(svc.clone().oneshot(first).await.unwrap().status(), 200);
            });
            b.iter_custom(|iters| {
                let mut elapsed = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let n = left.min(BATCH);
                    left -= n;
                    let batch: Vec<_> = (0..n)
                        .map(|_| Request::from_parts(parts.clone(), full.clone()))
                        .collect();
                    elapsed += runtime.block_on(async {
                        let start = Instant::now();
                        for req in batch {
                            black_box(svc.clone().oneshot(req).await.unwrap());
                        }
                        start.elapsed()
                    });
                }
                elapsed
            })
        });
        group.finish();
    }
}

/// Polls a future that the memory store always completes at once.
fn ready<F: std::future::Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    match fut
        .as_mut()
        .poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
    {
        std::task::Poll::Ready(output) => output,
        std::task::Poll::Pending => unreachable!("the memory store never waits"),
    }
}

/// The dedup store at 100 000 tasks, beside a `Mutex<hashlink::LruCache>` of the same size
/// (the reference: hit about 66 ns, miss with eviction about 141 ns).
///
/// - `hit`: a claim of a handled key (answers `Done`); `lru_hit`: `get` of a present key.
/// - `miss_evict`: a new task in a full store: its claim (insert, evicting the least
///   recently active task) and its completion; `lru_miss_evict`: `insert` of a new key
///   into a full LRU, then `get_mut` to mark it handled.
fn dedup(c: &mut Criterion) {
    const FULL: usize = 100_000;
    let now = UNIX_EPOCH + Duration::from_secs(TS);
    let lease = Duration::from_secs(11);
    let id = |i: usize| format!("{i:032x}");
    let store = MemoryStore::new(FULL).unwrap();
    for i in 0..store.capacity() {
        let task = id(i);
        let key = DedupKey::new(&task, Stage::Complete);
        let Claim::New(token) = ready(store.claim(&ClaimRequest::new(key, now, lease))).unwrap()
        else {
            panic!("fresh key")
        };
        ready(store.complete(&key, token, now)).unwrap();
    }
    let lru = Mutex::new(LruCache::<Box<str>, u8>::new(FULL));
    for i in 0..FULL {
        lru.lock().unwrap().insert(id(i).into(), 1);
    }
    let probe = id(FULL / 2);
    let mut group = c.benchmark_group("dedup");
    group.bench_function("hit", |b| {
        let req = ClaimRequest::new(DedupKey::new(&probe, Stage::Complete), now, lease);
        b.iter(|| assert_eq!(ready(store.claim(black_box(&req))).unwrap(), Claim::Done))
    });
    group.bench_function("lru_hit", |b| {
        b.iter(|| assert!(lru.lock().unwrap().get(black_box(probe.as_str())).is_some()))
    });
    let fresh = std::cell::Cell::new(10 * FULL);
    group.bench_function("miss_evict", |b| {
        b.iter_custom(|iters| {
            let start = fresh.get();
            let keys: Vec<String> = (start..start + usize::try_from(iters).unwrap())
                .map(id)
                .collect();
            fresh.set(start + usize::try_from(iters).unwrap());
            let begin = Instant::now();
            for task in &keys {
                let key = DedupKey::new(task, Stage::Complete);
                let Claim::New(token) =
                    ready(store.claim(&ClaimRequest::new(key, now, lease))).unwrap()
                else {
                    panic!("fresh key")
                };
                ready(store.complete(&key, token, now)).unwrap();
            }
            begin.elapsed()
        })
    });
    group.bench_function("lru_miss_evict", |b| {
        b.iter_custom(|iters| {
            let start = fresh.get();
            let keys: Vec<Box<str>> = (start..start + usize::try_from(iters).unwrap())
                .map(|i| id(i).into())
                .collect();
            fresh.set(start + usize::try_from(iters).unwrap());
            let begin = Instant::now();
            for key in keys {
                let probe = key.clone();
                black_box(lru.lock().unwrap().insert(key, 0));
                // The completion: a second lookup that marks the key handled.
                *lru.lock().unwrap().get_mut(&probe).unwrap() = 1;
            }
            begin.elapsed()
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = pipeline, dedup
}
criterion_main!(benches);
