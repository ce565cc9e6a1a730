//! Verification on the 1.6 KB complete body, each scheme beside its raw floor, in one run:
//!
//! - `kie/floor`: HMAC-SHA256 of the 43-byte `task_id.timestamp` with a pre-keyed MAC cloned
//!   per call; `kie/verify`: `KieSignature::verify` (headers, timestamp, window, base64,
//!   constant-time compare).
//! - `binding/floor`: the cache's digest of the body (the keyed PRF of `BodyDigest::random`);
//!   `binding/sha256`: SHA-256 of the body, for reference; `binding/bind`:
//!   `BindingCache::bind` of a new signature (digest, lookup, insert).
//! - `body_hmac/floor`: HMAC-SHA256 of `timestamp.body` with a pre-keyed MAC cloned per call;
//!   `body_hmac/verify`: `BodyHmac::stripe` (the `t=…,v1=<hex>` header) on the same bytes.
//! - `standard_webhooks/floor`: HMAC-SHA256 of `id.timestamp.body`, pre-keyed;
//!   `standard_webhooks/verify`: `StandardWebhooks::verify`.
//!
//! Run `cargo bench --bench verify`, then `python3 benches/ratios.py verify`.
#![allow(missing_docs, clippy::unwrap_used)]

use std::{
    hint::black_box,
    time::{Duration, Instant},
};

use criterion::{Criterion, criterion_group, criterion_main};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use vocals_callback::{
    Secret,
    testkit::{FixedClock, kie_request, sign_stripe, standard_webhooks_request},
    verify::{
        BindingCache, BodyDigest, BodyHmac, KieSignature, StandardWebhooks, Verifier, VerifyRequest,
    },
};

const BODY: &[u8] = include_bytes!("../tests/fixtures/bodies/complete.json");
const TASK_ID: &str = "65e563474bd7b6485dfb229eb92324a8";
const KEY: &str = "0123456789abcdef0123456789abcdef";
const TS: u64 = 1_758_044_664;

fn kie(c: &mut Criterion) {
    let verifier = KieSignature::new(Secret::new(KEY).unwrap());
    let req = kie_request(KEY, TASK_ID, TS, BODY.to_vec());
    let now = FixedClock::at_unix(TS + 30).now();
    let signed = format!("{TASK_ID}.{TS}");
    let keyed = <Hmac<Sha256> as Mac>::new_from_slice(KEY.as_bytes()).unwrap();
    let mut group = c.benchmark_group("verify/kie");
    group.bench_function("floor", |b| {
        b.iter(|| {
            let mut mac = keyed.clone();
            mac.update(black_box(signed.as_bytes()));
            mac.finalize().into_bytes()
        })
    });
    group.bench_function("verify", |b| {
        b.iter(|| {
            let r =
                VerifyRequest::new(black_box(req.headers()), BODY, now).with_task_id(Some(TASK_ID));
            verifier.verify(&r).unwrap()
        })
    });
    group.finish();
}

fn binding(c: &mut Criterion) {
    let now = FixedClock::at_unix(TS).now();
    let mut group = c.benchmark_group("verify/binding");
    let digest = BodyDigest::random().unwrap();
    group.bench_function("floor", |b| b.iter(|| digest.digest(black_box(BODY))));
    group.bench_function("sha256", |b| b.iter(|| Sha256::digest(black_box(BODY))));
    group.bench_function("bind", |b| {
        // The steady state of 3 000 verified callbacks a second: a cache holding the
        // whole 300 s window (900 000 signatures), each sample binding fresh signatures of
        // the current second (a lookup that misses, then an insert).
        let cache = BindingCache::new(Duration::from_secs(300)).unwrap();
        let mac = |second: u64, n: u64| {
            let mut mac = [0u8; 32];
            mac[..8].copy_from_slice(&second.to_le_bytes());
            mac[8..16].copy_from_slice(&n.to_le_bytes());
            mac
        };
        for second in 0..300 {
            for n in 0..3_000 {
                let ts = TS - 299 + second;
                cache.bind_mac(&mac(ts, n), ts, BODY, now).unwrap();
            }
        }
        let mut next = 0u64;
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                next += 1;
                cache
                    .bind_mac(black_box(&mac(u64::MAX, next)), TS, black_box(BODY), now)
                    .unwrap();
            }
            start.elapsed()
        })
    });
    group.finish();
}

/// A MAC over `parts` with a pre-keyed MAC cloned per call: the floor of a body scheme.
fn floor_mac(keyed: &Hmac<Sha256>, parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = keyed.clone();
    for part in parts {
        mac.update(black_box(part));
    }
    mac.finalize().into_bytes().into()
}

fn body_hmac(c: &mut Criterion) {
    const SECRET: &str = "whsec_stripe_like_secret";
    let verifier = BodyHmac::stripe(Secret::new(SECRET).unwrap());
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "stripe-signature",
        sign_stripe(SECRET, TS, BODY).parse().unwrap(),
    );
    let now = FixedClock::at_unix(TS + 30).now();
    let keyed = <Hmac<Sha256> as Mac>::new_from_slice(SECRET.as_bytes()).unwrap();
    let ts = TS.to_string();
    let mut group = c.benchmark_group("verify/body_hmac");
    group.bench_function("floor", |b| {
        b.iter(|| floor_mac(&keyed, &[ts.as_bytes(), b".", BODY]))
    });
    group.bench_function("verify", |b| {
        b.iter(|| {
            verifier
                .verify(&VerifyRequest::new(
                    black_box(&headers),
                    black_box(BODY),
                    now,
                ))
                .unwrap()
        })
    });
    group.finish();
}

fn standard_webhooks(c: &mut Criterion) {
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    let verifier = StandardWebhooks::new(SECRET).unwrap();
    let req = standard_webhooks_request(SECRET, ID, TS, BODY.to_vec());
    let now = FixedClock::at_unix(TS + 30).now();
    let key =
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &SECRET[6..]).unwrap();
    let keyed = <Hmac<Sha256> as Mac>::new_from_slice(&key).unwrap();
    let ts = TS.to_string();
    let mut group = c.benchmark_group("verify/standard_webhooks");
    group.bench_function("floor", |b| {
        b.iter(|| floor_mac(&keyed, &[ID.as_bytes(), b".", ts.as_bytes(), b".", BODY]))
    });
    group.bench_function("verify", |b| {
        b.iter(|| {
            verifier
                .verify(&VerifyRequest::new(
                    black_box(req.headers()),
                    black_box(BODY),
                    now,
                ))
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, kie, binding, body_hmac, standard_webhooks);
criterion_main!(benches);
