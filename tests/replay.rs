//! The provider's MAC covers only `task_id.timestamp`; KieSignature plus BindingCache must
//! still make a captured header pair good for its own body only.

use std::time::Duration;

use vocals_callback::{
    RejectionKind, Secret, parse,
    testkit::{self, CallbackBody, FixedClock, TrackBody},
    verify::{BindingCache, KieSignature, Verifier, VerifyRequest},
};

const KEY: &str = "test-webhook-hmac-key";
const TASK: &str = "ee9c2715375b7837f8bb51d641ff5863";
const TS: u64 = 1_769_670_760;

/// The testkit's signed request with its body as plain bytes, for these checks below the
/// service (the kie.ai signature does not depend on the body).
fn kie_request(key: &str, task: &str, ts: u64, body: Vec<u8>) -> http::Request<Vec<u8>> {
    let (parts, _) = testkit::kie_request(key, task, ts, Vec::new()).into_parts();
    http::Request::from_parts(parts, body)
}

/// Verifies and binds one request the way the service will: envelope, verify, bind.
fn deliver(
    verifier: &KieSignature,
    cache: &BindingCache,
    req: &http::Request<Vec<u8>>,
    clock: FixedClock,
) -> Result<Option<String>, RejectionKind> {
    let body = req.body();
    let event = parse(body).map_err(|_| RejectionKind::MissingTaskId)?;
    let vreq =
        VerifyRequest::new(req.headers(), body, clock.now()).with_task_id(Some(event.task_id()));
    let verified = verifier.verify(&vreq).map_err(|r| r.kind())?;
    cache
        .bind_verified(&verified, body, clock.now())
        .map_err(|r| r.kind())?;
    Ok(verified.key_label().map(str::to_owned))
}

fn setup() -> (KieSignature, BindingCache, FixedClock) {
    let verifier = KieSignature::new(Secret::new(KEY).unwrap());
    let cache = BindingCache::new(verifier.tolerance()).unwrap();
    (verifier, cache, FixedClock::at_unix(TS + 5))
}

fn complete(audio: &str) -> Vec<u8> {
    CallbackBody::complete(TASK)
        .track(TrackBody::ready("a").set("audio_url", audio.into()))
        .to_bytes()
}

#[test]
fn a_body_swapped_under_captured_headers_is_refused_and_the_identical_retry_passes() {
    let (verifier, cache, clock) = setup();
    let genuine = kie_request(KEY, TASK, TS, complete("https://cdn.example/a.mp3"));
    assert!(deliver(&verifier, &cache, &genuine, clock).is_ok());

    // The attacker replays the captured headers with a body of their own, same task id.
    let mut forged = genuine.clone();
    *forged.body_mut() = complete("https://evil.example/malware.mp3");
    // The MAC alone cannot tell: it does not cover the body.
    let vreq =
        VerifyRequest::new(forged.headers(), forged.body(), clock.now()).with_task_id(Some(TASK));
    assert!(verifier.verify(&vreq).is_ok());
    // The binding does.
    assert_eq!(
        deliver(&verifier, &cache, &forged, clock),
        Err(RejectionKind::SignatureReused)
    );
    assert_eq!(
        RejectionKind::SignatureReused.status(),
        http::StatusCode::UNAUTHORIZED
    );

    // The sender's own retry (same headers, same bytes) still passes, later in the window.
    assert!(
        deliver(
            &verifier,
            &cache,
            &genuine,
            clock.advanced(Duration::from_secs(60))
        )
        .is_ok()
    );
}

#[test]
fn the_swap_is_refused_even_if_it_arrives_first() {
    // Binding is first come: if a forgery wins the race, the genuine body is refused and
    // the sender's retry, under a new timestamp, gets through.
    let (verifier, cache, clock) = setup();
    let genuine = kie_request(KEY, TASK, TS, complete("https://cdn.example/a.mp3"));
    let mut forged = genuine.clone();
    *forged.body_mut() = complete("https://evil.example/x.mp3");
    assert!(deliver(&verifier, &cache, &forged, clock).is_ok());
    assert_eq!(
        deliver(&verifier, &cache, &genuine, clock),
        Err(RejectionKind::SignatureReused)
    );
    let retry = kie_request(KEY, TASK, TS + 60, complete("https://cdn.example/a.mp3"));
    assert!(
        deliver(
            &verifier,
            &cache,
            &retry,
            clock.advanced(Duration::from_secs(60))
        )
        .is_ok()
    );
}

#[test]
fn two_genuine_callbacks_of_one_task_in_the_same_second_share_a_signature() {
    // `first` and `complete` signed in the same second: same task id, same timestamp, so
    // the same MAC. The second is indistinguishable from a swap and is refused; the
    // provider retries it (1 min later in its schedule) under a new timestamp, which passes.
    let (verifier, cache, clock) = setup();
    let first = kie_request(
        KEY,
        TASK,
        TS,
        CallbackBody::first(TASK)
            .track(TrackBody::ready("a"))
            .to_bytes(),
    );
    let complete_now = kie_request(KEY, TASK, TS, complete("https://cdn.example/a.mp3"));
    assert_eq!(
        first.headers()["x-webhook-signature"],
        complete_now.headers()["x-webhook-signature"]
    );
    assert!(deliver(&verifier, &cache, &first, clock).is_ok());
    assert_eq!(
        deliver(&verifier, &cache, &complete_now, clock),
        Err(RejectionKind::SignatureReused)
    );
    let later = clock.advanced(Duration::from_secs(60));
    let complete_retry = kie_request(KEY, TASK, TS + 60, complete("https://cdn.example/a.mp3"));
    assert!(deliver(&verifier, &cache, &complete_retry, later).is_ok());
}

#[test]
fn a_signature_past_its_window_is_refused_by_time_not_by_binding() {
    let (verifier, cache, clock) = setup();
    let genuine = kie_request(KEY, TASK, TS, complete("https://cdn.example/a.mp3"));
    assert!(deliver(&verifier, &cache, &genuine, clock).is_ok());
    let late = FixedClock::at_unix(TS + 301);
    assert_eq!(
        deliver(&verifier, &cache, &genuine, late),
        Err(RejectionKind::TimestampTooOld)
    );
}

#[test]
fn during_rotation_either_key_passes_and_reports_its_label() {
    let verifier = KieSignature::new(Secret::new(KEY).unwrap())
        .with_key("2026-12", Secret::new("next-key-ключ").unwrap())
        .unwrap();
    let cache = BindingCache::new(verifier.tolerance()).unwrap();
    let clock = FixedClock::at_unix(TS);
    let old = kie_request(KEY, TASK, TS, CallbackBody::text(TASK).to_bytes());
    let new = kie_request(
        "next-key-ключ",
        TASK,
        TS + 1,
        CallbackBody::text(TASK).to_bytes(),
    );
    let other = kie_request(
        "retired-key",
        TASK,
        TS + 2,
        CallbackBody::text(TASK).to_bytes(),
    );
    assert_eq!(
        deliver(&verifier, &cache, &old, clock),
        Ok(Some("default".to_owned()))
    );
    assert_eq!(
        deliver(&verifier, &cache, &new, clock),
        Ok(Some("2026-12".to_owned()))
    );
    assert_eq!(
        deliver(&verifier, &cache, &other, clock),
        Err(RejectionKind::InvalidSignature)
    );
    assert!(
        verifier
            .clone()
            .with_key("default", Secret::new("x").unwrap())
            .is_err(),
        "labels are unique"
    );
}

#[test]
fn badly_signed_requests_create_no_binding_entries() {
    let (verifier, cache, clock) = setup();
    for i in 0..100 {
        let req = kie_request(
            "wrong-key",
            &format!("task-{i}"),
            TS,
            CallbackBody::text(&format!("task-{i}")).to_bytes(),
        );
        assert_eq!(
            deliver(&verifier, &cache, &req, clock),
            Err(RejectionKind::InvalidSignature)
        );
    }
    assert!(cache.is_empty());
}

#[test]
fn nothing_secret_shows_in_debug_output() {
    let verifier = KieSignature::new(Secret::new(KEY).unwrap());
    let text = format!("{verifier:?} {:?}", Secret::new(KEY).unwrap());
    assert!(!text.contains(KEY), "{text}");
    let req = kie_request(KEY, TASK, TS, CallbackBody::text(TASK).to_bytes());
    let vreq = VerifyRequest::new(req.headers(), req.body(), FixedClock::at_unix(TS).now());
    let shown = format!("{vreq:?}");
    assert!(
        !shown.contains(req.headers()["x-webhook-signature"].to_str().unwrap()),
        "{shown}"
    );
}
