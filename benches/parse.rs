//! `parse` on five deterministic bodies, each group beside its two baselines, in one run:
//!
//! - `floor`: `serde_json::from_slice::<IgnoredAny>`, validation only, the cost floor of
//!   reading the bytes at all;
//! - `value`: `serde_json::from_slice::<Value>`, what hand-written handlers do;
//! - `parse`: this crate's typed, owned parse.
//!
//! Run `cargo bench --bench parse`, then `python3 benches/ratios.py parse` for the ratios.
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde::de::IgnoredAny;

const BODIES: [(&str, &[u8]); 5] = [
    (
        "failed",
        include_bytes!("../tests/fixtures/bodies/failed.json"),
    ),
    ("text", include_bytes!("../tests/fixtures/bodies/text.json")),
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

fn parse(c: &mut Criterion) {
    for (name, body) in BODIES {
        // The baselines must accept the body too, or the comparison means nothing.
        vocals_callback::parse(body).unwrap();
        let mut group = c.benchmark_group(format!("parse/{name}"));
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function("floor", |b| {
            b.iter(|| serde_json::from_slice::<IgnoredAny>(black_box(body)).unwrap())
        });
        group.bench_function("value", |b| {
            b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(body)).unwrap())
        });
        group.bench_function("parse", |b| {
            b.iter(|| vocals_callback::parse(black_box(body)).unwrap())
        });
        group.finish();
    }
}

criterion_group!(benches, parse);
criterion_main!(benches);
