//! The Redis dedup store and binding beside the in-memory ones, in one run, against a local
//! `redis-server` this bench starts itself (`testkit::RedisServer`: loopback TCP, no
//! persistence).
//!
//! Group `redis_latency` (one operation after another, so each is a full round trip):
//!
//! - `memory/claim_complete`, `redis/claim_complete`: a new key claimed (`New`) and
//!   completed: the path of every handled event (one script each on Redis: two round trips).
//! - `memory/claim_done`, `redis/claim_done`: the claim of a handled key (`Done`): a
//!   duplicate delivery (one round trip).
//! - `memory/bind`, `redis/bind`: binding a new signature to a 1.6 KB body (`complete`
//!   fixture): the body's digest (the memory cache's random-keyed PRF; SHA-256, the Redis
//!   binding's default, and the keyed PRF with a shared key) and the `SET NX`.
//!
//! Group `redis_throughput`: claim + complete of distinct new keys by 64 tasks at once on
//! a two-worker multi-thread runtime (the replicas' shape: many requests in flight over one
//! multiplexed connection, which pipelines them), reported per operation pair.
//!
//! Run `cargo bench --features redis,testkit --bench redis`.
#![allow(missing_docs, clippy::unwrap_used)]

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant, SystemTime},
};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tokio::runtime::Runtime;
use vocals_callback::{
    Stage,
    dedup::{Claim, ClaimRequest, DedupKey, DedupStore, MemoryStore},
    redis::{RedisBinding, RedisConfig, RedisStore},
    testkit::RedisServer,
    verify::{BindingCache, BodyDigest},
};

const LEASE: Duration = Duration::from_secs(11);
const BODY: &[u8] = include_bytes!("../tests/fixtures/bodies/complete.json");
/// Concurrent tasks of the throughput group.
const IN_FLIGHT: u64 = 64;

/// Fresh task ids across every benchmark of the run, so each claim is new.
static NEXT: AtomicU64 = AtomicU64::new(0);

fn task_id() -> String {
    format!("{:032x}", NEXT.fetch_add(1, Ordering::Relaxed))
}

async fn claim_complete<S: DedupStore>(store: &S, task: &str) {
    let now = SystemTime::now();
    let key = DedupKey::new(task, Stage::Complete);
    let Claim::New(token) = store
        .claim(&ClaimRequest::new(key, now, LEASE))
        .await
        .unwrap()
    else {
        panic!("a fresh key is new")
    };
    store.complete(&key, token, now).await.unwrap();
}

/// Times `iters` sequential claim + complete pairs.
fn bench_claim_complete<S: DedupStore>(rt: &Runtime, store: &S, iters: u64) -> Duration {
    let tasks: Vec<String> = (0..iters).map(|_| task_id()).collect();
    rt.block_on(async {
        let start = Instant::now();
        for task in &tasks {
            claim_complete(store, task).await;
        }
        start.elapsed()
    })
}

/// Times `iters` claims of one handled key.
fn bench_claim_done<S: DedupStore>(rt: &Runtime, store: &S, iters: u64) -> Duration {
    let task = task_id();
    rt.block_on(async {
        claim_complete(store, &task).await;
        let req = ClaimRequest::new(
            DedupKey::new(&task, Stage::Complete),
            SystemTime::now(),
            LEASE,
        );
        let start = Instant::now();
        for _ in 0..iters {
            assert_eq!(store.claim(&req).await.unwrap(), Claim::Done);
        }
        start.elapsed()
    })
}

/// Times `iters` claim + complete pairs spread over [`IN_FLIGHT`] concurrent tasks.
fn bench_concurrent<S: DedupStore>(rt: &Runtime, store: &Arc<S>, iters: u64) -> Duration {
    let per_task = iters.div_ceil(IN_FLIGHT);
    let batches: Vec<Vec<String>> = (0..IN_FLIGHT)
        .map(|_| (0..per_task).map(|_| task_id()).collect())
        .collect();
    rt.block_on(async {
        let start = Instant::now();
        let handles: Vec<_> = batches
            .into_iter()
            .map(|batch| {
                let store = Arc::clone(store);
                tokio::spawn(async move {
                    for task in &batch {
                        claim_complete(&*store, task).await;
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.await.unwrap();
        }
        // Scaled to the requested count (the last batch may have done a few more).
        start
            .elapsed()
            .mul_f64(iters as f64 / (per_task * IN_FLIGHT) as f64)
    })
}

/// A mac no earlier iteration used, so each bind writes a new key.
fn fresh_mac() -> [u8; 32] {
    let mut mac = [0u8; 32];
    mac[..8].copy_from_slice(&NEXT.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    mac
}

fn redis(c: &mut Criterion) {
    let server = RedisServer::start().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (store, binding, keyed) = rt.block_on(async {
        let conn = RedisConfig::new(server.url()).connect().unwrap();
        conn.ping().await.unwrap();
        let binding = RedisBinding::new(conn.clone(), Duration::from_secs(300)).unwrap();
        let keyed = binding.clone().with_digest(BodyDigest::keyed(&[7; 32]));
        (Arc::new(RedisStore::new(conn)), binding, keyed)
    });
    let memory = Arc::new(MemoryStore::new(1_000_000).unwrap());

    let mut group = c.benchmark_group("redis_latency");
    group.throughput(Throughput::Elements(1));
    group.bench_function("memory/claim_complete", |b| {
        b.iter_custom(|iters| bench_claim_complete(&rt, &*memory, iters));
    });
    group.bench_function("redis/claim_complete", |b| {
        b.iter_custom(|iters| bench_claim_complete(&rt, &*store, iters));
    });
    group.bench_function("memory/claim_done", |b| {
        b.iter_custom(|iters| bench_claim_done(&rt, &*memory, iters));
    });
    group.bench_function("redis/claim_done", |b| {
        b.iter_custom(|iters| bench_claim_done(&rt, &*store, iters));
    });
    group.bench_function("memory/bind", |b| {
        b.iter_custom(|iters| {
            let now = SystemTime::now();
            let ts = now
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_secs();
            let macs: Vec<[u8; 32]> = (0..iters).map(|_| fresh_mac()).collect();
            let cache = BindingCache::new(Duration::from_secs(300)).unwrap();
            let start = Instant::now();
            for mac in &macs {
                cache.bind_mac(mac, ts, BODY, now).unwrap();
            }
            start.elapsed()
        });
    });
    for (name, binding) in [("redis/bind", &binding), ("redis/bind_keyed", &keyed)] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let now = SystemTime::now();
                let ts = now
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .unwrap()
                    .as_secs();
                let macs: Vec<[u8; 32]> = (0..iters).map(|_| fresh_mac()).collect();
                rt.block_on(async {
                    let start = Instant::now();
                    for mac in &macs {
                        binding.bind_mac(mac, ts, BODY, now).await.unwrap();
                    }
                    start.elapsed()
                })
            });
        });
    }
    group.finish();

    let mut group = c.benchmark_group("redis_throughput");
    group.throughput(Throughput::Elements(1));
    group.bench_function("memory/claim_complete_x64", |b| {
        b.iter_custom(|iters| bench_concurrent(&rt, &memory, iters));
    });
    group.bench_function("redis/claim_complete_x64", |b| {
        b.iter_custom(|iters| bench_concurrent(&rt, &store, iters));
    });
    group.finish();
    drop(server);
}

criterion_group! {
    name = benches;
    // Few samples: every Redis sample is thousands of round trips already, and the machine
    // is shared.
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(4));
    targets = redis
}
criterion_main!(benches);
