//! Metrics an operator can scrape (feature `metrics`), through the
//! [`metrics`](https://docs.rs/metrics/0.24) facade: install any recorder (Prometheus,
//! StatsD, OpenTelemetry, …) and the service reports to it. The reference receiver serves
//! them in the Prometheus text format on `--metrics ADDR`.
//!
//! | metric | type | labels | what |
//! |---|---|---|---|
//! | `vocals_callback_deliveries_total` | counter | `outcome`: `received`, `queued`, `duplicate`, `ignored`, `rejected` | deliveries answered (HTTP requests and [`ingest`](crate::VocalsService::ingest) calls), one per answer; `queued` is counted apart from `received` here (in [`Stats`](crate::Stats) it is part of it), so the five add up to every answer |
//! | `vocals_callback_rejections_total` | counter | `kind`: every [`RejectionKind`] name | refused deliveries by reason; they add up to `outcome="rejected"` |
//! | `vocals_callback_handler_calls_total` | counter | `outcome`: `ok`, `error`, `panicked`, `timed_out` ([`HandlerFailure`] names) | handler calls by result (a queued event retried is several calls) |
//! | `vocals_callback_handler_duration_seconds` | histogram | `stage`: every [`Stage`] name | one sample per handler call, from the call to its result, whatever the result |
//! | `vocals_callback_signed_to_answer_seconds` | histogram | | from the timestamp a verified callback was signed at to its answer, per delivery that carries one (see below) |
//! | `vocals_callback_handler_calls_in_flight` | gauge | | handler calls running now; each holds its claim |
//! | `vocals_callback_queue_depth` | gauge | | events waiting in the dispatch queue (queued mode; 0 inline); each holds its claim too |
//! | `vocals_callback_dedup_entries` | gauge | | entries of the dedup store ([`DedupStore::entries`]: tasks, for the [`MemoryStore`](crate::dedup::MemoryStore)) |
//! | `vocals_callback_binding_entries` | gauge | | signatures bound ([`BindingStore::entries`]) |
//! | `vocals_callback_binding_memory_bytes` | gauge | | memory of the binding in this process ([`BindingStore::memory_bytes`]) |
//!
//! Names follow Prometheus's conventions: one `vocals_callback_` prefix, `_total` on
//! counters, base units (`_seconds`, `_bytes`). Every label value is known in advance, so
//! every series exists from the start at 0 (a `rate()` over a new kind of refusal starts
//! from a point, not from nothing) and the cardinality is fixed. A store gauge is left out
//! when the store cannot tell its size (the Redis stores: Redis reports its own memory and
//! keys), rather than shown as 0.
//!
//! `vocals_callback_signed_to_answer_seconds` tells how late the provider delivers: it is
//! measured on the service's clock, against a timestamp in whole seconds, so a callback
//! answered at once reads between 0 and 1 s, and a retry signed anew reads from its new
//! signature. A timestamp ahead of the clock (allowed inside the tolerance) reads 0. A
//! delivery refused before it was verified has no trusted timestamp and is not sampled.
//!
//! Queries an operator starts from (PromQL): the share of refused deliveries,
//! `sum(rate(vocals_callback_deliveries_total{outcome="rejected"}[5m])) /
//! sum(rate(vocals_callback_deliveries_total[5m]))`; the refusals that are ours, each one
//! spending one of the provider's three retries,
//! `sum by (kind) (rate(vocals_callback_rejections_total{kind=~"binding_cache_full|store_unavailable|queue_full|shutting_down|handler_.*"}[5m]))`;
//! the handler's 99th percentile, `histogram_quantile(0.99, sum by (le)
//! (rate(vocals_callback_handler_duration_seconds_bucket[5m])))`.
//!
//! # Cost, and when to install the recorder
//!
//! The service takes its handles (atomics in the recorder) **once, when it is built**, and
//! a request updates them without any lookup: one counter per answer (two for a refusal),
//! one per handler call, a histogram sample with a clock read at each end of a handler
//! call and one at the answer of a signed callback. **Install the recorder before building
//! the service**: handles taken before that are no-ops, and stay so (with no recorder at
//! all, each update is a branch on an empty handle). Without the feature, none of this is
//! compiled.
//!
//! Counters and histograms are recorded as things happen. The gauges are read from the
//! stores, some under a lock, so they are set only when
//! [`VocalsService::record_gauges`](crate::VocalsService::record_gauges) is called: call it
//! before rendering each scrape (as the receiver does), or from a timer.
//!
//! ```rust,standalone_crate
//! use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
//! use tower::ServiceExt;
//! use vocals_callback::{HandlerResult, VocalsEvent, VocalsService, metrics::BUCKETS};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! // 1. The recorder first (with buckets, so the histograms are Prometheus histograms).
//! let mut prometheus = PrometheusBuilder::new();
//! for (name, bounds) in BUCKETS {
//!     prometheus = prometheus.set_buckets_for_metric(Matcher::Full(name.to_string()), bounds)?;
//! }
//! let scrape = prometheus.install_recorder()?;
//!
//! // 2. Then the service, which takes its handles from it.
//! let svc = VocalsService::builder(|_e: VocalsEvent| async { HandlerResult::Ok(()) })
//!     .insecure_accept_unverified()
//!     .build()?;
//! let body = r#"{"code":200,"data":{"callbackType":"complete","task_id":"t1"}}"#;
//! for _ in 0..2 {
//!     let req = http::Request::post("/")
//!         .header("content-type", "application/json")
//!         .body(http_body_util::Full::new(bytes::Bytes::from(body)))?;
//!     svc.clone().oneshot(req).await?;
//! }
//!
//! // 3. Each scrape: the gauges, then the text.
//! svc.record_gauges();
//! let text = scrape.render();
//! assert!(text.contains(r#"vocals_callback_deliveries_total{outcome="received"} 1"#));
//! assert!(text.contains(r#"vocals_callback_deliveries_total{outcome="duplicate"} 1"#));
//! assert!(text.contains("vocals_callback_dedup_entries 1"));
//! # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
//! ```

use std::time::{Duration, Instant, SystemTime};

use ::metrics::{
    Counter, Gauge, Histogram, Unit, counter, describe_counter, describe_gauge, describe_histogram,
    gauge, histogram,
};

use crate::{
    dedup::DedupStore,
    delivery::Delivery,
    event::{Stage, VocalsEvent},
    handler::HandlerFailure,
    rejection::{Rejection, RejectionKind},
    stats::Outcome,
    verify::BindingStore,
};

const DELIVERIES: &str = "vocals_callback_deliveries_total";
const REJECTIONS: &str = "vocals_callback_rejections_total";
const HANDLER_CALLS: &str = "vocals_callback_handler_calls_total";
const HANDLER_DURATION: &str = "vocals_callback_handler_duration_seconds";
const SIGNED_TO_ANSWER: &str = "vocals_callback_signed_to_answer_seconds";
const IN_FLIGHT: &str = "vocals_callback_handler_calls_in_flight";
const QUEUE_DEPTH: &str = "vocals_callback_queue_depth";
const DEDUP_ENTRIES: &str = "vocals_callback_dedup_entries";
const BINDING_ENTRIES: &str = "vocals_callback_binding_entries";
const BINDING_MEMORY: &str = "vocals_callback_binding_memory_bytes";

/// Each histogram's name and suggested bucket bounds, in seconds, for recorders that need
/// them up front (Prometheus's renders a summary otherwise, which replicas cannot add up).
///
/// The handler's run from half a millisecond to the 15 s a handler may take at most
/// ([`MAX_HANDLER_TIMEOUT`](crate::service::MAX_HANDLER_TIMEOUT)); the signed-to-answer
/// delay from 1 s (whole-second timestamps) to 10 minutes, past the default 300 s
/// tolerance.
///
/// ```
/// use vocals_callback::metrics::BUCKETS;
///
/// let names: Vec<&str> = BUCKETS.iter().map(|(name, _)| *name).collect();
/// assert_eq!(names, ["vocals_callback_handler_duration_seconds", "vocals_callback_signed_to_answer_seconds"]);
/// assert!(BUCKETS.iter().all(|(_, bounds)| bounds.is_sorted()));
/// ```
pub const BUCKETS: &[(&str, &[f64])] = &[
    (
        HANDLER_DURATION,
        &[
            0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            15.0,
        ],
    ),
    (
        SIGNED_TO_ANSWER,
        &[1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0],
    ),
];

/// One outcome of each name, in [`outcome_slot`] order.
const OUTCOMES: [Outcome; 5] = [
    Outcome::Received,
    Outcome::Queued,
    Outcome::Duplicate,
    Outcome::Ignored,
    Outcome::Rejected(Rejection::SHUTTING_DOWN),
];
/// The `outcome` values of a handler call, in [`handler_slot`] order.
const HANDLER_OUTCOMES: [&str; 4] = ["ok", "error", "panicked", "timed_out"];
const STAGES: usize = Stage::ALL.len();

/// One service's handles, taken from the recorder current when it is built.
pub(crate) struct Handles {
    /// By [`outcome_slot`].
    deliveries: [Counter; 5],
    /// By [`RejectionKind::index`].
    rejections: [Counter; RejectionKind::COUNT],
    /// By [`handler_slot`].
    handler_calls: [Counter; HANDLER_OUTCOMES.len()],
    /// By stage (its position in [`Stage::ALL`]).
    handler_duration: [Histogram; STAGES],
    signed_to_answer: Histogram,
    in_flight: Gauge,
    queue_depth: Gauge,
    /// `None` when the store cannot tell at build time: the series is never created.
    dedup_entries: Option<Gauge>,
    binding_entries: Option<Gauge>,
    binding_memory: Option<Gauge>,
}

impl Handles {
    /// Describes the metrics to the current recorder and takes every handle.
    pub(crate) fn register(dedup: &impl DedupStore, binding: &impl BindingStore) -> Self {
        describe();
        Self {
            deliveries: OUTCOMES.map(|o| counter!(DELIVERIES, "outcome" => o.as_str())),
            rejections: std::array::from_fn(
                |i| counter!(REJECTIONS, "kind" => RejectionKind::ALL[i].as_str()),
            ),
            handler_calls: HANDLER_OUTCOMES.map(|o| counter!(HANDLER_CALLS, "outcome" => o)),
            handler_duration: std::array::from_fn(
                |s| histogram!(HANDLER_DURATION, "stage" => Stage::ALL[s].as_str()),
            ),
            signed_to_answer: histogram!(SIGNED_TO_ANSWER),
            in_flight: gauge!(IN_FLIGHT),
            queue_depth: gauge!(QUEUE_DEPTH),
            dedup_entries: dedup.entries().map(|_| gauge!(DEDUP_ENTRIES)),
            binding_entries: binding.entries().map(|_| gauge!(BINDING_ENTRIES)),
            binding_memory: binding.memory_bytes().map(|_| gauge!(BINDING_MEMORY)),
        }
    }

    /// Counts one answer.
    pub(crate) fn answered(&self, outcome: &Outcome) {
        self.deliveries[outcome_slot(outcome)].increment(1);
        if let Outcome::Rejected(rejection) = outcome {
            self.rejections[rejection.kind().index()].increment(1);
        }
    }

    /// Samples the signed-to-answer delay of `delivery` when the returned guard is dropped,
    /// that is once its answer is decided (a delivery with no signed timestamp costs
    /// nothing).
    pub(crate) fn until_answered<F: Fn() -> SystemTime>(
        &self,
        delivery: &Delivery,
        now: F,
    ) -> UntilAnswered<'_, F> {
        UntilAnswered {
            histogram: &self.signed_to_answer,
            signed_at: delivery.signed_at(),
            now,
        }
    }

    /// Starts timing one handler call of `event`.
    pub(crate) fn handler_call(&self, event: &VocalsEvent) -> HandlerCall<'_> {
        let stage = event.stage();
        let slot = Stage::ALL.iter().position(|s| *s == stage).unwrap_or(0);
        HandlerCall {
            handles: self,
            duration: &self.handler_duration[slot],
            started: Instant::now(),
        }
    }

    /// Sets the gauges from the stores and the counts the service keeps.
    pub(crate) fn set_gauges(
        &self,
        dedup: &impl DedupStore,
        binding: &impl BindingStore,
        in_flight: u64,
        queue_depth: usize,
    ) {
        // Gauges are f64: exact below 2^53, far past any count here.
        self.in_flight.set(in_flight as f64);
        self.queue_depth.set(queue_depth as f64);
        set(self.dedup_entries.as_ref(), dedup.entries());
        set(self.binding_entries.as_ref(), binding.entries());
        set(self.binding_memory.as_ref(), binding.memory_bytes());
    }
}

fn set(gauge: Option<&Gauge>, value: Option<usize>) {
    if let (Some(gauge), Some(value)) = (gauge, value) {
        gauge.set(value as f64);
    }
}

const fn outcome_slot(outcome: &Outcome) -> usize {
    match outcome {
        Outcome::Received => 0,
        Outcome::Queued => 1,
        Outcome::Duplicate => 2,
        Outcome::Ignored => 3,
        Outcome::Rejected(_) => 4,
    }
}

const fn handler_slot(result: &Result<(), HandlerFailure>) -> usize {
    match result {
        Ok(()) => 0,
        Err(HandlerFailure::Error(_)) => 1,
        Err(HandlerFailure::Panicked) => 2,
        Err(HandlerFailure::TimedOut) => 3,
    }
}

/// The `# HELP` lines (and units) of every metric, once per build: a recorder keeps the
/// first description of a name.
fn describe() {
    describe_counter!(
        DELIVERIES,
        Unit::Count,
        "Deliveries answered (requests and ingest calls), by outcome."
    );
    describe_counter!(REJECTIONS, Unit::Count, "Deliveries refused, by reason.");
    describe_counter!(HANDLER_CALLS, Unit::Count, "Handler calls, by result.");
    describe_histogram!(
        HANDLER_DURATION,
        Unit::Seconds,
        "How long each handler call took, by stage."
    );
    describe_histogram!(
        SIGNED_TO_ANSWER,
        Unit::Seconds,
        "From a verified callback's signed timestamp (whole seconds) to its answer."
    );
    describe_gauge!(IN_FLIGHT, Unit::Count, "Handler calls running now.");
    describe_gauge!(
        QUEUE_DEPTH,
        Unit::Count,
        "Events waiting in the dispatch queue."
    );
    describe_gauge!(
        DEDUP_ENTRIES,
        Unit::Count,
        "Entries of the dedup store (tasks, in memory)."
    );
    describe_gauge!(BINDING_ENTRIES, Unit::Count, "Signatures bound to bodies.");
    describe_gauge!(
        BINDING_MEMORY,
        Unit::Bytes,
        "Memory of the signature binding in this process."
    );
}

/// Samples the signed-to-answer delay when dropped ([`Handles::until_answered`]).
pub(crate) struct UntilAnswered<'a, F: Fn() -> SystemTime> {
    histogram: &'a Histogram,
    signed_at: Option<SystemTime>,
    now: F,
}

impl<F: Fn() -> SystemTime> Drop for UntilAnswered<'_, F> {
    fn drop(&mut self) {
        if let Some(signed_at) = self.signed_at {
            let age = (self.now)()
                .duration_since(signed_at)
                .unwrap_or(Duration::ZERO);
            self.histogram.record(age);
        }
    }
}

/// One handler call being timed ([`Handles::handler_call`]).
pub(crate) struct HandlerCall<'a> {
    handles: &'a Handles,
    duration: &'a Histogram,
    started: Instant,
}

impl HandlerCall<'_> {
    /// Samples the call's duration and counts its result.
    pub(crate) fn finished(self, result: &Result<(), HandlerFailure>) {
        self.duration.record(self.started.elapsed());
        self.handles.handler_calls[handler_slot(result)].increment(1);
    }
}

#[cfg(test)]
mod tests {
    use std::{
        collections::HashMap,
        time::{Duration, UNIX_EPOCH},
    };

    use base64::{Engine, engine::general_purpose::STANDARD};
    use bytes::Bytes;
    use hmac::Mac;
    use http::Request;
    use http_body_util::Full;
    use metrics_util::{
        CompositeKey,
        debugging::{DebugValue, DebuggingRecorder, Snapshotter},
    };
    use tower::ServiceExt;

    use super::*;
    use crate::{HandlerError, HandlerResult, Secret, VocalsService, parse, verify::KieSignature};

    const KEY: &str = "metrics-test-key";
    const T: u64 = 1_769_670_760;
    /// The service's clock runs this far past every signature.
    const AGE: u64 = 3;

    /// What a snapshot holds, by `name{label=value,…}` (labels in the order given).
    fn read(snapshots: &Snapshotter) -> HashMap<String, DebugValue> {
        snapshots
            .snapshot()
            .into_vec()
            .into_iter()
            .map(|(key, _, _, value)| (name(&key), value))
            .collect()
    }

    fn name(key: &CompositeKey) -> String {
        let labels: Vec<String> = key
            .key()
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        if labels.is_empty() {
            key.key().name().to_owned()
        } else {
            format!("{}{{{}}}", key.key().name(), labels.join(","))
        }
    }

    fn counter(values: &HashMap<String, DebugValue>, name: &str) -> u64 {
        match values.get(name) {
            Some(DebugValue::Counter(n)) => *n,
            other => panic!("{name}: {other:?}"),
        }
    }

    fn gauge(values: &HashMap<String, DebugValue>, name: &str) -> f64 {
        match values.get(name) {
            Some(DebugValue::Gauge(n)) => n.into_inner(),
            other => panic!("{name}: {other:?}"),
        }
    }

    fn samples(values: &HashMap<String, DebugValue>, name: &str) -> Vec<f64> {
        match values.get(name) {
            Some(DebugValue::Histogram(v)) => v.iter().map(|x| x.into_inner()).collect(),
            other => panic!("{name}: {other:?}"),
        }
    }

    /// A request signed with the provider's rule (the testkit's `kie_request`, which this
    /// feature alone does not compile).
    fn signed(key: &str, task: &str, body: &str) -> Request<Full<Bytes>> {
        let mut mac = crate::verify::keys::keyed(key.as_bytes());
        mac.update(format!("{task}.{T}").as_bytes());
        let signature = STANDARD.encode(mac.finalize().into_bytes());
        Request::post("/vocals-callback")
            .header("content-type", "application/json")
            .header(KieSignature::TIMESTAMP_HEADER, T.to_string())
            .header(KieSignature::SIGNATURE_HEADER, signature)
            .body(Full::new(Bytes::from(body.to_owned())))
            .unwrap()
    }

    fn body(stage: &str, task: &str) -> String {
        format!(
            r#"{{"code":200,"msg":"ok","data":{{"callbackType":"{stage}","task_id":"{task}"}}}}"#
        )
    }

    /// A service on a fixed clock whose handler fails for the task `fail`, built under
    /// `recorder` (when given).
    fn service(recorder: Option<&DebuggingRecorder>) -> VocalsService<impl crate::VocalsHandler> {
        let handler = |event: VocalsEvent| async move {
            if event.task_id() == "fail" {
                Err(HandlerError::new("disk full"))
            } else {
                HandlerResult::Ok(())
            }
        };
        let build = || {
            VocalsService::builder(handler)
                .verifier(KieSignature::new(Secret::new(KEY).unwrap()))
                .clock(|| UNIX_EPOCH + Duration::from_secs(T + AGE))
                .build()
                .unwrap()
        };
        match recorder {
            Some(recorder) => ::metrics::with_local_recorder(recorder, build),
            None => build(),
        }
    }

    async fn status(
        svc: &VocalsService<impl crate::VocalsHandler>,
        req: Request<Full<Bytes>>,
    ) -> u16 {
        svc.clone().oneshot(req).await.unwrap().status().as_u16()
    }

    #[tokio::test]
    async fn every_answer_is_counted_by_outcome_and_kind_and_timed() {
        let recorder = DebuggingRecorder::new();
        let snapshots = recorder.snapshotter();
        let svc = service(Some(&recorder));

        let t1 = body("complete", "t1");
        assert_eq!(status(&svc, signed(KEY, "t1", &t1)).await, 200);
        assert_eq!(
            status(&svc, signed(KEY, "t1", &t1)).await,
            200,
            "a duplicate"
        );
        assert_eq!(
            status(&svc, signed(KEY, "t2", &body("text", "t2"))).await,
            200
        );
        let swapped = body("complete", "t1").replace("ok", "swapped");
        assert_eq!(
            status(&svc, signed(KEY, "t1", &swapped)).await,
            401,
            "reused"
        );
        assert_eq!(
            status(&svc, signed("wrong", "t3", &body("text", "t3"))).await,
            401
        );
        let get = Request::get("/").body(Full::new(Bytes::new())).unwrap();
        assert_eq!(status(&svc, get).await, 405);
        assert_eq!(
            status(&svc, signed(KEY, "fail", &body("first", "fail"))).await,
            500
        );
        let polled = parse(body("complete", "t4").as_bytes()).unwrap();
        assert_eq!(svc.ingest(polled).await, Outcome::Received);
        svc.record_gauges();

        let m = read(&snapshots);
        let deliveries = |o: &str| counter(&m, &format!("{DELIVERIES}{{outcome={o}}}"));
        assert_eq!(
            ["received", "queued", "duplicate", "ignored", "rejected"].map(deliveries),
            [3, 0, 1, 0, 4]
        );
        let rejections =
            |k: RejectionKind| counter(&m, &format!("{REJECTIONS}{{kind={}}}", k.as_str()));
        assert_eq!(rejections(RejectionKind::SignatureReused), 1);
        assert_eq!(rejections(RejectionKind::InvalidSignature), 1);
        assert_eq!(rejections(RejectionKind::MethodNotAllowed), 1);
        assert_eq!(rejections(RejectionKind::HandlerFailed), 1);
        // Every kind has its series from the start, the others at 0.
        let all: u64 = RejectionKind::ALL.iter().map(|k| rejections(*k)).sum();
        assert_eq!(all, 4);
        assert_eq!(svc.stats().rejected_total(), 4, "the same as the stats");

        // One sample per handler call, under its stage; one count under its result.
        let timed =
            |stage: &str| samples(&m, &format!("{HANDLER_DURATION}{{stage={stage}}}")).len();
        assert_eq!(timed("complete"), 2, "t1, and the polled t4");
        assert_eq!(timed("text"), 1);
        assert_eq!(timed("first"), 1, "fail");
        let timed_all: usize = Stage::ALL.iter().map(|s| timed(s.as_str())).sum();
        assert_eq!(timed_all, 4);
        let calls = |o: &str| counter(&m, &format!("{HANDLER_CALLS}{{outcome={o}}}"));
        assert_eq!(HANDLER_OUTCOMES.map(calls), [3, 1, 0, 0]);

        // Every verified delivery, answered 3 s after its signature: t1 twice, t2, the
        // swapped body, `fail`. Not the forged one (no trusted timestamp), not the polled.
        assert_eq!(samples(&m, SIGNED_TO_ANSWER), [AGE as f64; 5]);

        assert_eq!(gauge(&m, IN_FLIGHT), 0.0);
        assert_eq!(gauge(&m, QUEUE_DEPTH), 0.0);
        assert_eq!(gauge(&m, DEDUP_ENTRIES), 4.0, "t1, t2, fail (released), t4");
        assert_eq!(
            gauge(&m, BINDING_ENTRIES),
            3.0,
            "the signatures of t1, t2 and fail"
        );
        assert_eq!(
            gauge(&m, BINDING_MEMORY),
            svc.binding().memory_used() as f64
        );
    }

    #[tokio::test]
    async fn a_service_built_before_the_recorder_records_nothing_in_it() {
        let early = service(None);
        let recorder = DebuggingRecorder::new();
        let snapshots = recorder.snapshotter();
        let late = service(Some(&recorder));
        let t1 = body("complete", "t1");
        assert_eq!(status(&early, signed(KEY, "t1", &t1)).await, 200);
        assert_eq!(status(&late, signed(KEY, "t1", &t1)).await, 200);
        assert_eq!(status(&late, signed(KEY, "t1", &t1)).await, 200);
        let m = read(&snapshots);
        assert_eq!(counter(&m, &format!("{DELIVERIES}{{outcome=received}}")), 1);
        assert_eq!(
            counter(&m, &format!("{DELIVERIES}{{outcome=duplicate}}")),
            1
        );
    }

    #[test]
    fn each_slot_holds_the_series_of_its_name() {
        for (i, outcome) in OUTCOMES.iter().enumerate() {
            assert_eq!(outcome_slot(outcome), i, "{}", outcome.as_str());
        }
        let failures = [
            HandlerFailure::Error(HandlerError::new("x")),
            HandlerFailure::Panicked,
            HandlerFailure::TimedOut,
        ];
        for failure in failures {
            let name = failure.as_str();
            assert_eq!(HANDLER_OUTCOMES[handler_slot(&Err(failure))], name);
        }
        assert_eq!(HANDLER_OUTCOMES[handler_slot(&Ok(()))], "ok");
    }
}
