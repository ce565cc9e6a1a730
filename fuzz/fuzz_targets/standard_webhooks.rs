//! `standard_webhooks`: any header lines and body through the Standard Webhooks verifier
//! (`webhook-id` / `webhook-timestamp` / `webhook-signature`, HMAC of `id.ts.body`).
//! Input: the text format of `fuzz/src/lib.rs`; `key=` is a `whsec_` secret; `scheme=svix`
//! also accepts the `svix-*` names.
//!
//! Asserts: no panic; a refusal is a documented kind with status 400/401 and no retry;
//! **sound**: a pass means one id, one all-digit timestamp inside the window and one
//! signature header, one of whose space-separated entries is exactly the testkit's
//! `v1,` signature of `id.ts.body` under a configured key; **complete**: a clean request
//! with a `@sign` entry inside the window passes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vocals_callback::{
    testkit::sign_standard_webhooks,
    verify::{StandardWebhooks, Verifier, VerifyRequest},
};
use vocals_callback_fuzz::{Message, SIGN, assert_verifier_rejection, in_window, strict_timestamp};

/// The secret of the Standard Webhooks suites' common vector.
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// The secret of their Rust suites, as the rotated second key.
const ROTATED: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
/// A valid secret that is neither: `@wrong` signs with it.
const WRONG: &str = "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

fuzz_target!(|data: &[u8]| {
    let msg = Message::parse(data);
    let secret = msg.key.unwrap_or(SECRET);
    // Malformed secrets are refused when the verifier is built (a configuration error).
    let Ok(verifier) = StandardWebhooks::new(secret) else {
        return;
    };
    let Ok(mut verifier) = verifier.with_secret("next", ROTATED) else {
        return;
    };
    let svix = msg.scheme == Some("svix");
    if svix {
        verifier = verifier.with_svix_headers();
    }
    // The family the verifier reads: Svix names only when enabled and no standard name
    // is present (both families at once are refused).
    let any = |family: &str| {
        ["id", "timestamp", "signature"]
            .iter()
            .any(|f| msg.first(&format!("{family}-{f}")).is_some())
    };
    let prefix = if svix && !any("webhook") && any("svix") {
        "svix"
    } else {
        "webhook"
    };
    let (id_name, ts_name, sig_name) = (
        format!("{prefix}-id"),
        format!("{prefix}-timestamp"),
        format!("{prefix}-signature"),
    );
    let text = |name: &str| {
        msg.first(name)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    };
    let (id_text, ts_text) = (text(&id_name), text(&ts_name));
    let ts_num: u64 = ts_text.as_deref().and_then(|t| t.parse().ok()).unwrap_or(0);
    let sign = |right: bool| {
        sign_standard_webhooks(
            if right { secret } else { WRONG },
            id_text.as_deref().unwrap_or(""),
            ts_num,
            msg.body,
        )
    };
    let (headers, dropped) = msg.header_map(sign);
    let now = msg.now();
    let result = verifier.verify(&VerifyRequest::new(&headers, msg.body, now));
    let tolerance = verifier.tolerance();
    let ts = headers
        .get(&ts_name)
        .and_then(|v| strict_timestamp(v.as_bytes()));
    match &result {
        Err(rejection) => {
            assert_verifier_rejection(rejection);
            let visible = |v: &[u8]| {
                !v.is_empty() && v.iter().all(|&b| b == b'\t' || (b' '..=b'~').contains(&b))
            };
            let clean = !dropped
                && prefix == "webhook"
                && !msg.headers.iter().any(|(n, _)| n.to_ascii_lowercase().starts_with("svix-"))
                && [&id_name, &ts_name, &sig_name].iter().all(|n| msg.count(n) == 1)
                // A marker inside the id would change the id the signature was made for.
                && msg.first(&id_name).is_some_and(|v| visible(v) && !v.contains(&b'@'))
                && msg.first(&sig_name).is_some_and(|v| v.split(|&b| b == b' ').any(|e| e == SIGN.as_bytes()))
                && msg.first(&sig_name).is_some_and(visible)
                // `@sign` renders the timestamp as a number: only canonical digits match.
                && ts.is_some_and(|t| in_window(t, now, tolerance) && t.to_string() == ts_text.as_deref().unwrap_or(""));
            assert!(
                !clean,
                "a clean signed request was refused: {}",
                rejection.kind()
            );
        }
        Ok(verified) => {
            for name in [&id_name, &ts_name, &sig_name] {
                assert_eq!(
                    headers.get_all(name).iter().count(),
                    1,
                    "{name} not exactly once"
                );
            }
            let ts = ts.expect("a pass with a timestamp that is not 1-10 digits");
            assert!(in_window(ts, now, tolerance), "a pass outside the window");
            let id = headers[&id_name].to_str().expect("visible ASCII id");
            let ts_header = headers[&ts_name].to_str().expect("digits");
            let key = match verified.key_label() {
                Some("default") => secret,
                Some("next") => ROTATED,
                other => panic!("unexpected key label {other:?}"),
            };
            // The MAC covers the header text: a re-rendered number would be another
            // message, so only a canonical timestamp can match `sign_standard_webhooks`.
            assert_eq!(
                ts.to_string(),
                ts_header,
                "a pass with a non-canonical timestamp"
            );
            let expected = sign_standard_webhooks(key, id, ts, msg.body);
            let entries = headers[&sig_name]
                .to_str()
                .expect("visible ASCII signature");
            assert!(
                entries.split(' ').any(|e| e == expected),
                "a pass with no entry equal to the MAC"
            );
            assert_eq!(verified.scheme(), StandardWebhooks::SCHEME);
        }
    }
});
