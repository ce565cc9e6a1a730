//! `kie_signature`: any header lines and body through the kie.ai verifier
//! (`X-Webhook-Signature` = base64 HMAC of `task_id.timestamp`), then the binding cache.
//! Input: the text format of `fuzz/src/lib.rs` (`now=`, `key=`, `task=`, headers, body).
//!
//! Asserts: no panic; a refusal is a documented kind with status 400/401 and no retry;
//! the header-only pre-check (`check_headers`, run before the body is read) never refuses
//! what the full check would refuse differently; **sound**: a pass means exactly one
//! all-digit timestamp inside the window and exactly one signature equal to the testkit's
//! signature under one of the configured keys; **complete**: a clean request signed with
//! `@sign` inside the window passes, with the right key label; **binding**: a pass binds
//! the signature to this body (the same body again passes, any other body is
//! `signature_reused`).
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use vocals_callback::{
    RejectionKind, Secret, parse,
    testkit::sign_kie,
    verify::{BindingCache, HeaderCheck, KieSignature, Verifier, VerifyRequest},
};
use vocals_callback_fuzz::{
    KEY, Message, SIGN, WRONG_KEY, assert_verifier_rejection, in_window, strict_timestamp,
};

/// A second key, for rotation: a signature under it passes, labelled `next`.
const ROTATED: &str = "rotated-webhook-hmac-key";
const TS: &str = "x-webhook-timestamp";
const SIG: &str = "x-webhook-signature";

fuzz_target!(|data: &[u8]| {
    let msg = Message::parse(data);
    let key = msg.key.unwrap_or(KEY);
    // An empty or padded key is a configuration error, not a request to judge.
    let Ok(secret) = Secret::new(key) else { return };
    let Ok(rotated) = Secret::new(ROTATED) else {
        return;
    };
    let Ok(verifier) = KieSignature::new(secret).with_key("next", rotated) else {
        return; // `key=` may name the rotated key itself: a duplicate label is refused
    };
    // The service reads the task id from the body's envelope; `task=` overrides it so
    // the seeds of the signature vectors (which give the task id apart) reach the MAC.
    let event = parse(msg.body).ok();
    let task = msg.task.or(event.as_ref().map(|e| e.task_id()));
    let ts_text = msg
        .first(TS)
        .map(|t| String::from_utf8_lossy(t).into_owned());
    let sign = |right: bool| {
        sign_kie(
            if right { key } else { WRONG_KEY },
            task.unwrap_or(""),
            ts_text.as_deref().unwrap_or(""),
        )
    };
    let (headers, dropped) = msg.header_map(sign);
    let now = msg.now();
    let early = verifier.check_headers(&VerifyRequest::new(&headers, b"", now));
    let req = VerifyRequest::new(&headers, msg.body, now).with_task_id(task);
    let result = verifier.verify(&req);

    match &early {
        Err(pre) => {
            // What the gate refuses, the full check refuses the same way (the gate only
            // spares the body read).
            let full = result.as_ref().err().map(|r| r.kind());
            assert_eq!(full, Some(pre.kind()), "check_headers and verify disagree");
        }
        // The provider's rule needs the task id from the body: never settled by headers.
        Ok(check) => assert_eq!(check, &HeaderCheck::NeedsBody, "passed without the body"),
    }

    let single = |name| headers.get_all(name).iter().count() == 1;
    let ts = headers.get(TS).and_then(|v| strict_timestamp(v.as_bytes()));
    let tolerance = verifier.tolerance();
    match &result {
        Err(rejection) => {
            assert_verifier_rejection(rejection);
            let clean = !dropped
                && task.is_some()
                && msg.count(TS) == 1
                && msg.count(SIG) == 1
                && msg.first(SIG) == Some(SIGN.as_bytes())
                && ts.is_some_and(|ts| in_window(ts, now, tolerance));
            assert!(
                !clean,
                "a clean signed request was refused: {}",
                rejection.kind()
            );
        }
        Ok(verified) => {
            let task = task.expect("a pass without a task id");
            assert!(
                single(TS) && single(SIG),
                "a pass with a repeated or missing header"
            );
            let ts = ts.expect("a pass with a timestamp that is not 1-10 digits");
            assert!(in_window(ts, now, tolerance), "a pass outside the window");
            let ts_text = std::str::from_utf8(headers[TS].as_bytes()).expect("digits");
            let got = headers[SIG].as_bytes();
            let label = verified.key_label();
            let expected = match label {
                Some("default") => sign_kie(key, task, ts_text),
                Some("next") => sign_kie(ROTATED, task, ts_text),
                other => panic!("unexpected key label {other:?}"),
            };
            assert_eq!(
                got,
                expected.as_bytes(),
                "a pass with a signature that is not the MAC"
            );
            assert_eq!(verified.scheme(), KieSignature::SCHEME);
            check_binding(verified, msg.body, now);
        }
    }
});

/// The MAC covers no body byte: the binding cache is what ties the signature to this body.
fn check_binding(
    verified: &vocals_callback::verify::Verified,
    body: &[u8],
    now: std::time::SystemTime,
) {
    let cache = BindingCache::new(Duration::from_secs(300))
        .and_then(|c| c.with_memory_limit(2 * BindingCache::MIN_MEMORY_LIMIT))
        .expect("a valid cache");
    cache
        .bind_verified(verified, body, now)
        .expect("a first binding");
    cache
        .bind_verified(verified, body, now)
        .expect("a retry: the same body again");
    let mut other = body.to_vec();
    other.push(b' ');
    let swapped = cache.bind_verified(verified, &other, now);
    assert_eq!(
        swapped.map_err(|r| r.kind()),
        Err(RejectionKind::SignatureReused),
        "a second body under one signature"
    );
    assert_eq!(cache.len(), 1);
}
