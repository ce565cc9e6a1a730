//! Instructions per request, for `benches/callgrind/icount.sh`: the work of the `received`
//! row of `benches/service.rs` on the 1.6 KB `complete` body, counted by callgrind instead
//! of timed. Instruction counts do not move with the load of a shared machine, so they tell a
//! small change of the pipeline from noise when two versions are compared; they are not
//! time (under callgrind, SHA-256 and AES run without their CPU instructions, so there is
//! no meaningful floor to divide by).
//!
//! `icount N` serves N signed requests, each for a task never seen before, through
//! `tower::ServiceExt::oneshot`. Only `serve_all` is counted (callgrind
//! `--toggle-collect`: the requests are signed before it), and the script runs N and 2N:
//! the difference over N is the cost of one.
#![allow(missing_docs, clippy::unwrap_used)]

use std::{
    hint::black_box,
    time::{Duration, UNIX_EPOCH},
};

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use tower::ServiceExt;
use vocals_callback::{
    HandlerResult, Secret, VocalsEvent, VocalsService, testkit::kie_request, verify::KieSignature,
};

const KEY: &str = "0123456789abcdef0123456789abcdef";
const TASK_ID: &str = "65e563474bd7b6485dfb229eb92324a8";
const TS: u64 = 1_758_044_664;
const COMPLETE: &[u8] = include_bytes!("../../tests/fixtures/bodies/complete.json");
const TEXT: &[u8] = include_bytes!("../../tests/fixtures/bodies/text.json");

type Handler = fn(VocalsEvent) -> std::future::Ready<HandlerResult>;

/// `body` for `task_id` (same length as the fixture's), signed at `TS`.
fn request(body: &[u8], task_id: &str) -> Request<Full<Bytes>> {
    let text = std::str::from_utf8(body).unwrap().replace(TASK_ID, task_id);
    kie_request(KEY, task_id, TS, text.into_bytes())
}

fn main() {
    let n: u64 = std::env::args().nth(1).expect("a count").parse().unwrap();
    // The 1.6 KB `complete` by default; `text` (146 B) for the fixed cost of the service.
    let body = match std::env::args().nth(2).as_deref() {
        None | Some("complete") => COMPLETE,
        Some("text") => TEXT,
        Some(other) => panic!("no body {other}: complete or text"),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let handler: Handler = |_| std::future::ready(Ok(()));
    let svc = VocalsService::builder(handler)
        .verifier(KieSignature::new(Secret::new(KEY).unwrap()))
        .clock(|| UNIX_EPOCH + Duration::from_secs(TS + 1))
        .build()
        .unwrap();
    let reqs = (0..n)
        .map(|i| request(body, &format!("{:032x}", i + 1)))
        .collect();
    serve_all(&rt, &svc, reqs);
}

#[inline(never)]
fn serve_all<S>(rt: &tokio::runtime::Runtime, svc: &S, reqs: Vec<Request<Full<Bytes>>>)
where
    S: tower::Service<Request<Full<Bytes>>> + Clone,
    S::Error: std::fmt::Debug,
{
    rt.block_on(async {
        for req in reqs {
            black_box(svc.clone().oneshot(req).await.unwrap());
        }
    });
}
