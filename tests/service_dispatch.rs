//! Dispatch: queued mode (answer first, retries with backoff, dead letters, shutdown), the
//! counters, cancellation of a request mid-handler, the dedup clock, and the builder's
//! configuration errors. In-process with tower's `oneshot` where a socket adds nothing;
//! shutdown and client disconnects over real sockets.

mod support;

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering::SeqCst},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use support::*;
use tokio::sync::mpsc;
use tower::ServiceExt;
use vocals_callback::{
    ConfigErrorKind, Outcome, Rejection, RejectionKind, VocalsService,
    backend::MemoryBackend,
    parse,
    service::{Builder, DeadLetter, QueueConfig},
    testkit::{CallbackBody, kie_request},
};

/// A clock the test moves; it starts at a fixed instant.
#[derive(Clone)]
struct Clock(Arc<AtomicU64>);

impl Clock {
    fn at(secs: u64) -> Self {
        Self(Arc::new(AtomicU64::new(secs)))
    }

    fn secs(&self) -> u64 {
        self.0.load(SeqCst)
    }

    fn func(&self) -> impl Fn() -> SystemTime + Send + Sync + 'static {
        let secs = Arc::clone(&self.0);
        move || UNIX_EPOCH + Duration::from_secs(secs.load(SeqCst))
    }
}

const T0: u64 = 1_769_670_760;

/// A builder for `probe` with the kie verifier and a clock at [`T0`].
fn fixed(probe: &Arc<Probe>) -> (Builder<ProbeHandler>, Clock) {
    let clock = Clock::at(T0);
    (builder(probe).clock(clock.func()), clock)
}

/// One request through the service in-process; the typed rejection from the extensions is
/// copied into [`REJECTION_HEADER`] so [`Answer::assert_refused`] can check it.
async fn call(svc: &VocalsService<ProbeHandler>, req: Request<Full<Bytes>>) -> Answer {
    let Ok(res) = svc.clone().oneshot(req).await;
    let (mut parts, body) = res.into_parts();
    if let Some(rejection) = parts.extensions.get::<Rejection>() {
        parts.headers.insert(
            REJECTION_HEADER,
            http::HeaderValue::from_static(rejection.kind().as_str()),
        );
    }
    Answer {
        status: parts.status,
        headers: parts.headers,
        body: body.collect().await.unwrap().to_bytes(),
    }
}

/// A delivery of `body` for `task`, signed at `ts`.
fn delivery(task: &str, ts: u64, body: Vec<u8>) -> Request<Full<Bytes>> {
    kie_request(KEY, task, ts, body)
}

/// A dead-letter hook that forwards `(task_id, attempts, failure)`, the failure as
/// `kind: source` (empty when no call was made).
fn dead_letters() -> (
    impl Fn(DeadLetter) + Send + Sync + 'static,
    mpsc::UnboundedReceiver<(String, u32, String)>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let hook = move |dead: DeadLetter| {
        let _ = tx.send((
            dead.event().task_id().to_owned(),
            dead.attempts(),
            dead.failure().map_or_else(String::new, |failure| {
                let source = std::error::Error::source(failure).map(ToString::to_string);
                format!("{}: {}", failure.as_str(), source.unwrap_or_default())
            }),
        ));
    };
    (hook, rx)
}

async fn next_dead(
    rx: &mut mpsc::UnboundedReceiver<(String, u32, String)>,
) -> (String, u32, String) {
    tokio::time::timeout(PATIENCE, rx.recv())
        .await
        .expect("no dead letter in time")
        .unwrap()
}

// ---------------------------------------------------------------------------------------
// Queued mode

#[tokio::test]
async fn queued_answers_200_before_the_handler_runs() {
    let probe = Probe::new([Step::Block]);
    let (b, _clock) = fixed(&probe);
    let svc = b
        .queued(QueueConfig::new().with_workers(1))
        .build()
        .unwrap();

    call(&svc, delivery("q1", T0, complete("q1")))
        .await
        .assert_ok("received");
    // Answered while the handler has not finished (it is blocked until released).
    assert_eq!(probe.successes(), 0);
    probe.started(1).await;
    assert_eq!(svc.stats().in_flight(), 1);
    assert_eq!(svc.stats().handled(), 0);

    // While queued or running, the event's claim is held: a retry is told to wait.
    call(&svc, delivery("q1", T0, complete("q1")))
        .await
        .assert_refused(RejectionKind::InFlight, true);

    probe.release(1);
    probe.finished(1).await;
    assert_eq!(probe.stored(), ["q1/complete"]);
    // Once handled, the retry is a duplicate.
    call(&svc, delivery("q1", T0, complete("q1")))
        .await
        .assert_ok("duplicate");
    let stats = svc.stats();
    assert_eq!((stats.received(), stats.duplicate()), (1, 1));
    assert_eq!((stats.handled(), stats.in_flight()), (1, 0));
}

#[tokio::test]
async fn queued_failures_are_retried_with_backoff_then_dead_lettered_once() {
    let probe = Probe::new([Step::Fail, Step::Panic, Step::Fail]);
    let (hook, mut dead) = dead_letters();
    let (b, _clock) = fixed(&probe);
    let svc = b
        .queued(
            QueueConfig::new()
                .with_workers(1)
                .with_max_attempts(3)
                .with_backoff(Duration::from_millis(40), Duration::from_secs(1))
                .with_dead_letter(hook),
        )
        .build()
        .unwrap();

    call(&svc, delivery("q-dead", T0, complete("q-dead")))
        .await
        .assert_ok("received");
    let (task, attempts, error) = next_dead(&mut dead).await;
    assert_eq!((task.as_str(), attempts), ("q-dead", 3));
    assert_eq!(error, "error: scripted failure");

    let calls = probe.calls();
    assert_eq!(calls.len(), 3);
    let gaps: Vec<_> = calls.windows(2).map(|w| w[1].at - w[0].at).collect();
    assert!(gaps[0] >= Duration::from_millis(40), "{gaps:?}");
    assert!(gaps[1] >= Duration::from_millis(80), "doubled: {gaps:?}");

    probe.finished(3).await;
    let stats = svc.stats();
    assert_eq!(stats.received(), 1);
    assert_eq!(stats.handled(), 0);
    assert_eq!(stats.handler_failures(), 3);
    assert_eq!(stats.retries(), 2);
    assert_eq!(stats.dead_lettered(), 1);
    assert!(dead.try_recv().is_err(), "the hook is called once");
}

#[tokio::test]
async fn queued_errors_and_panics_are_retried_until_the_handler_succeeds() {
    let probe = Probe::new([Step::Panic, Step::Fail, Step::Ok]);
    let (hook, mut dead) = dead_letters();
    let (b, _clock) = fixed(&probe);
    let svc = b
        .queued(
            QueueConfig::new()
                .with_max_attempts(3)
                .with_backoff(Duration::from_millis(1), Duration::from_millis(5))
                .with_dead_letter(hook),
        )
        .build()
        .unwrap();
    call(&svc, delivery("q-retry", T0, complete("q-retry")))
        .await
        .assert_ok("received");
    probe.finished(3).await;
    assert_eq!(probe.stored(), ["q-retry/complete"]);
    let stats = svc.stats();
    assert_eq!((stats.handled(), stats.handler_failures()), (1, 2));
    assert_eq!((stats.retries(), stats.dead_lettered()), (2, 0));
    assert!(dead.try_recv().is_err());
    call(&svc, delivery("q-retry", T0, complete("q-retry")))
        .await
        .assert_ok("duplicate");
}

#[tokio::test]
async fn queued_retry_after_asked_by_the_handler_is_respected_and_capped() {
    let probe = Probe::new([
        Step::RetryAfter(Duration::from_millis(300)),
        Step::RetryAfter(Duration::from_secs(60)),
        Step::Ok,
    ]);
    let (b, _clock) = fixed(&probe);
    let svc = b
        .queued(
            QueueConfig::new().with_backoff(Duration::from_millis(10), Duration::from_millis(500)),
        )
        .build()
        .unwrap();
    call(&svc, delivery("q-later", T0, complete("q-later")))
        .await
        .assert_ok("received");
    probe.finished(3).await;

    let calls = probe.calls();
    let gaps: Vec<_> = calls.windows(2).map(|w| w[1].at - w[0].at).collect();
    // The handler's 300 ms, not the 10 ms backoff.
    assert!(gaps[0] >= Duration::from_millis(300), "{gaps:?}");
    // The handler's 60 s capped at the backoff's maximum.
    assert!(gaps[1] >= Duration::from_millis(500), "{gaps:?}");
    assert!(gaps[1] < Duration::from_secs(3), "{gaps:?}");
    assert_eq!(probe.successes(), 1);
    assert_eq!(svc.stats().retries(), 2);
}

#[tokio::test]
async fn shutdown_drains_the_queue_then_refuses_new_deliveries_over_a_socket() {
    let probe = Probe::new([Step::Block]);
    let svc = builder(&probe)
        .queued(QueueConfig::new().with_workers(1).with_capacity(16))
        .build()
        .unwrap();
    let addr = serve(svc.clone()).await;
    let client = client();
    let now = now_secs();
    for i in 0..5 {
        let task = format!("drain-{i}");
        send(&client, signed(addr, PATH, &task, now, complete(&task)))
            .await
            .assert_ok("received");
    }
    probe.started(1).await;
    assert_eq!(svc.stats().queue_depth(), 4);

    // Start the shutdown: its first poll stops intake, then it waits for the workers.
    let shutdown = svc.shutdown(PATIENCE);
    let mut shutdown = Box::pin(shutdown);
    tokio::select! {
        biased;
        _ = &mut shutdown => panic!("shutdown finished with the handler still blocked"),
        () = std::future::ready(()) => {}
    }
    let refused = send(&client, signed(addr, PATH, "late", now, complete("late"))).await;
    refused.assert_refused(RejectionKind::ShuttingDown, true);
    match svc.ingest(parse(&complete("late-poll")).unwrap()).await {
        Outcome::Rejected(r) => assert_eq!(r.kind(), RejectionKind::ShuttingDown),
        other => panic!("expected shutting_down, got {other:?}"),
    }

    probe.release(1);
    let report = tokio::time::timeout(PATIENCE, shutdown).await.unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!((report.dead_lettered(), report.abandoned()), (0, 0));
    let mut stored = probe.stored();
    stored.sort();
    assert_eq!(
        stored,
        (0..5)
            .map(|i| format!("drain-{i}/complete"))
            .collect::<Vec<_>>()
    );

    // After shutdown too.
    let after = send(&client, signed(addr, PATH, "later", now, complete("later"))).await;
    after.assert_refused(RejectionKind::ShuttingDown, true);
    let stats = svc.stats();
    assert_eq!(stats.handled(), 5);
    assert_eq!(stats.queue_depth(), 0);
    assert_eq!(stats.rejected(RejectionKind::ShuttingDown), 3);
    assert_eq!(probe.call_count(), 5);
}

#[tokio::test]
async fn shutdown_with_too_short_a_grace_dead_letters_what_is_still_queued() {
    let probe = Probe::new([Step::Block]);
    let (hook, mut dead) = dead_letters();
    let (b, _clock) = fixed(&probe);
    let svc = b
        .queued(QueueConfig::new().with_workers(1).with_dead_letter(hook))
        .build()
        .unwrap();
    for task in ["short-0", "short-1", "short-2"] {
        call(&svc, delivery(task, T0, complete(task)))
            .await
            .assert_ok("received");
    }
    probe.started(1).await; // short-0 blocks the only worker, forever

    let started = Instant::now();
    let report = svc.shutdown(Duration::from_millis(100)).await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(!report.is_clean());
    assert_eq!(report.dead_lettered(), 2, "{report:?}");
    assert!(report.abandoned() >= 1, "{report:?}");

    let mut letters = [next_dead(&mut dead).await, next_dead(&mut dead).await];
    letters.sort();
    assert_eq!(letters[0].0, "short-1");
    assert_eq!(letters[1].0, "short-2");
    assert!(letters.iter().all(|(_, attempts, _)| *attempts == 0));
    assert!(
        letters.iter().all(|(_, _, failure)| failure.is_empty()),
        "never called, so no failure: {letters:?}"
    );
    assert!(dead.try_recv().is_err());
    assert_eq!(svc.stats().dead_lettered(), 2);
    assert_eq!(probe.call_count(), 1);
    assert_eq!(probe.successes(), 0);
}

/// The report's `abandoned` counts handler calls still running when the grace ran out:
/// one blocked worker is one call, and once aborted it is no longer in flight.
#[tokio::test]
async fn shutdown_counts_an_abandoned_queued_call_once_and_not_as_still_running() {
    let probe = Probe::new([Step::Block]);
    let (b, _clock) = fixed(&probe);
    let svc = b
        .queued(QueueConfig::new().with_workers(1))
        .build()
        .unwrap();
    call(&svc, delivery("stuck", T0, complete("stuck")))
        .await
        .assert_ok("received");
    probe.started(1).await;

    let report = svc.shutdown(Duration::from_millis(100)).await;
    // The worker was aborted: its handler call is no longer running.
    probe.finished(1).await;
    // One handler call was running when the grace period ended.
    assert_eq!(report.abandoned(), 1, "{report:?}");
    assert_eq!(svc.stats().in_flight(), 0);
}

// ---------------------------------------------------------------------------------------
// Counters

#[tokio::test]
async fn stats_count_each_outcome_each_rejection_kind_and_each_handler_call() {
    let probe = Probe::new([Step::Ok, Step::Fail]);
    let (b, _clock) = fixed(&probe);
    let svc = b.build().unwrap();

    call(&svc, delivery("s-a", T0, complete("s-a")))
        .await
        .assert_ok("received");
    call(&svc, delivery("s-a", T0, complete("s-a")))
        .await
        .assert_ok("duplicate");
    call(
        &svc,
        delivery("s-a", T0 - 1, CallbackBody::text("s-a").to_bytes()),
    )
    .await
    .assert_ok("ignored");
    let mut get = delivery("s-a", T0, vec![]);
    *get.method_mut() = http::Method::GET;
    call(&svc, get)
        .await
        .assert_refused(RejectionKind::MethodNotAllowed, false);
    for _ in 0..2 {
        call(&svc, kie_request("wrong-key", "s-x", T0, complete("s-x")))
            .await
            .assert_refused(RejectionKind::InvalidSignature, false);
    }
    call(&svc, delivery("s-b", T0, complete("s-b")))
        .await
        .assert_refused(RejectionKind::HandlerFailed, false);
    call(&svc, delivery("s-b", T0, complete("s-b")))
        .await
        .assert_ok("received");
    let unknown = CallbackBody::complete("s-c")
        .callback_type(Some("stems"))
        .to_bytes();
    call(&svc, delivery("s-c", T0, unknown))
        .await
        .assert_ok("received");
    assert_eq!(
        svc.ingest(parse(&complete("s-c")).unwrap()).await,
        Outcome::Received
    );

    let stats = svc.stats();
    assert_eq!(stats.received(), 4);
    assert_eq!(stats.duplicate(), 1);
    assert_eq!(stats.ignored(), 1);
    assert_eq!(
        stats.rejections().collect::<Vec<_>>(),
        [
            (RejectionKind::InvalidSignature, 2),
            (RejectionKind::MethodNotAllowed, 1),
            (RejectionKind::HandlerFailed, 1),
        ]
    );
    assert_eq!(stats.rejected_total(), 4);
    assert_eq!(stats.rejected(RejectionKind::InFlight), 0);
    assert_eq!(stats.handled(), 4);
    assert_eq!(stats.handler_failures(), 1);
    assert_eq!((stats.retries(), stats.dead_lettered()), (0, 0));
    assert_eq!((stats.in_flight(), stats.queue_depth()), (0, 0));
    assert_eq!(probe.call_count(), 5);
}

// ---------------------------------------------------------------------------------------
// Cancellation

/// Retries `task` until it is no longer refused as in flight; returns the answer and how
/// long that took.
async fn retry_until_not_in_flight(
    svc: &VocalsService<ProbeHandler>,
    task: &str,
) -> (Answer, Duration) {
    let started = Instant::now();
    loop {
        let answer = call(svc, delivery(task, T0, complete(task))).await;
        if answer.status != http::StatusCode::CONFLICT || started.elapsed() > PATIENCE {
            return (answer, started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_request_dropped_mid_handler_releases_its_claim_before_the_lease() {
    let probe = Probe::new([Step::Block]);
    let (b, _clock) = fixed(&probe);
    // A lease of 6 s: the retry must not have to wait for it.
    let svc = b.handler_timeout(Duration::from_secs(5)).build().unwrap();

    let mut pending = Box::pin(call(&svc, delivery("drop", T0, complete("drop"))));
    tokio::select! {
        _ = &mut pending => panic!("answered while the handler is blocked"),
        () = probe.started(1) => {}
    }
    drop(pending); // the client went away
    probe.finished(1).await; // the handler call was cancelled with it

    let (answer, waited) = retry_until_not_in_flight(&svc, "drop").await;
    answer.assert_ok("received");
    assert!(waited < Duration::from_secs(1), "{waited:?}");
    assert_eq!(probe.call_count(), 2);
    assert_eq!(probe.stored(), ["drop/complete"]);
}

/// A cancelled handler call (the request future dropped) is not running any more: the
/// `in_flight` gauge goes back down, and shutdown has nothing to wait for.
#[tokio::test]
async fn a_request_dropped_mid_handler_is_not_counted_in_flight_afterwards() {
    let probe = Probe::new([Step::Block]);
    let (b, _clock) = fixed(&probe);
    let svc = b.build().unwrap();

    let mut pending = Box::pin(call(&svc, delivery("drop2", T0, complete("drop2"))));
    tokio::select! {
        _ = &mut pending => panic!("answered while the handler is blocked"),
        () = probe.started(1) => {}
    }
    assert_eq!(svc.stats().in_flight(), 1);
    drop(pending);
    probe.finished(1).await;

    assert_eq!(svc.stats().in_flight(), 0, "no handler call is running");
    let started = Instant::now();
    let report = svc.shutdown(Duration::from_millis(500)).await;
    assert!(report.is_clean(), "{report:?}");
    assert!(started.elapsed() < Duration::from_millis(400));
}

#[tokio::test]
async fn a_client_disconnecting_mid_handler_releases_the_claim_over_a_socket() {
    let probe = Probe::new([Step::Block]);
    let svc = builder(&probe)
        .handler_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let addr = serve(svc.clone()).await;
    let task = "disconnect";
    let body = complete(task);
    let now = now_secs();
    let head = format!(
        "POST {PATH} HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{}\r\n",
        body.len(),
        kie_header_lines(task, now)
    );
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(&body);
    let stream = raw_send(addr, &bytes).await;
    probe.started(1).await;
    drop(stream);
    probe.finished(1).await;

    let client = client();
    let started = Instant::now();
    let answer = loop {
        let answer = send(&client, signed(addr, PATH, task, now, complete(task))).await;
        if answer.status != http::StatusCode::CONFLICT || started.elapsed() > PATIENCE {
            break answer;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    answer.assert_ok("received");
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(probe.call_count(), 2);
}

// ---------------------------------------------------------------------------------------
// The dedup store and the builder's clock

/// Claims and completions are timed by the same clock (the builder's), so a handled key
/// stays handled for the retention as that clock sees it.
#[tokio::test]
async fn dedup_ages_follow_the_builders_clock() {
    // A clock two days ahead of the machine's (the builder documents it as the clock for
    // timestamp windows *and* dedup ages).
    let probe = Probe::new([]);
    let ahead = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 2 * 24 * 3600;
    let clock = Clock::at(ahead);
    let svc = builder(&probe).clock(clock.func()).build().unwrap();

    let ts = clock.secs();
    call(&svc, delivery("ahead", ts, complete("ahead")))
        .await
        .assert_ok("received");
    // The provider's retry a minute later (same headers, same bytes) is a duplicate.
    clock.0.fetch_add(60, SeqCst);
    call(&svc, delivery("ahead", ts, complete("ahead")))
        .await
        .assert_ok("duplicate");
    assert_eq!(probe.call_count(), 1);
}

#[tokio::test]
async fn signature_window_is_judged_by_the_builders_clock() {
    let probe = Probe::new([]);
    let (b, clock) = fixed(&probe);
    let svc = b.build().unwrap();
    // Signed at T0, judged at T0 + 301: too old, though the machine's clock says otherwise.
    clock.0.fetch_add(301, SeqCst);
    call(&svc, delivery("window", T0, complete("window")))
        .await
        .assert_refused(RejectionKind::TimestampTooOld, false);
    clock.0.fetch_sub(2, SeqCst);
    call(&svc, delivery("window", T0, complete("window")))
        .await
        .assert_ok("received");
}

// ---------------------------------------------------------------------------------------
// Builder configuration errors

fn noop() -> ProbeHandler {
    Probe::new([]).handler()
}

#[test]
fn builder_refuses_a_service_without_a_verifier() {
    let err = VocalsService::builder(noop()).build().unwrap_err();
    assert_eq!(err.kind(), ConfigErrorKind::NoVerifier);
    assert!(
        VocalsService::builder(noop())
            .insecure_accept_unverified()
            .build()
            .is_ok()
    );
}

#[test]
fn builder_refuses_invalid_durations() {
    let probe = Probe::new([]);
    let kind = |b: Builder<ProbeHandler>| b.build().map(|_| ()).unwrap_err().kind();
    assert_eq!(
        kind(builder(&probe).handler_timeout(Duration::from_secs(15))),
        ConfigErrorKind::InvalidDuration
    );
    assert_eq!(
        kind(builder(&probe).handler_timeout(Duration::from_secs(60))),
        ConfigErrorKind::InvalidDuration
    );
    assert_eq!(
        kind(builder(&probe).handler_timeout(Duration::ZERO)),
        ConfigErrorKind::InvalidDuration
    );
    assert_eq!(
        kind(builder(&probe).read_timeout(Duration::ZERO)),
        ConfigErrorKind::InvalidDuration
    );
    assert!(
        builder(&probe)
            .handler_timeout(Duration::from_millis(14_999))
            .build()
            .is_ok()
    );
}

#[test]
fn builder_refuses_zero_limits_and_bad_paths() {
    let probe = Probe::new([]);
    let kind = |b: Builder<ProbeHandler>| b.build().map(|_| ()).unwrap_err().kind();
    assert_eq!(
        kind(builder(&probe).body_limit(0)),
        ConfigErrorKind::ZeroCapacity
    );
    assert_eq!(
        kind(builder(&probe).backend(MemoryBackend::new().with_binding_memory(0))),
        ConfigErrorKind::ZeroCapacity
    );
    assert_eq!(
        kind(builder(&probe).path("vocals-callback")),
        ConfigErrorKind::InvalidPath
    );
    assert!(
        builder(&probe)
            .path("/vocals-callback")
            .build_layer()
            .is_ok()
    );
}

#[test]
fn builder_refuses_queued_dispatch_outside_a_runtime_and_bad_queue_settings() {
    let probe = Probe::new([]);
    let kind = |b: Builder<ProbeHandler>| b.build().map(|_| ()).unwrap_err().kind();
    assert!(tokio::runtime::Handle::try_current().is_err());
    assert_eq!(
        kind(builder(&probe).queued(QueueConfig::new())),
        ConfigErrorKind::NoRuntime
    );
    assert_eq!(
        kind(builder(&probe).queued(QueueConfig::new().with_capacity(0))),
        ConfigErrorKind::ZeroCapacity
    );
    assert_eq!(
        kind(builder(&probe).queued(
            QueueConfig::new().with_backoff(Duration::from_secs(2), Duration::from_secs(1))
        )),
        ConfigErrorKind::InvalidDuration
    );
    // Inline dispatch needs no runtime to be built.
    assert!(builder(&probe).build().is_ok());
    // Inside one, queued dispatch builds.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        assert!(builder(&probe).queued(QueueConfig::new()).build().is_ok());
    });
}
