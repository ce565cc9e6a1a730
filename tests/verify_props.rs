//! Property tests of the signature verifiers: what the testkit signs (random keys, ids,
//! timestamps inside the window, bodies) verifies, and any single-byte change of the
//! signature, timestamp, id / task id or (for the body schemes) body is refused.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::{Engine, engine::general_purpose::STANDARD};
use http::{HeaderMap, HeaderValue};
use proptest::{collection::vec, prelude::*, sample::Index};
use vocals_callback::{
    Rejection, Secret,
    testkit::{sign_body_hmac, sign_kie, sign_standard_webhooks},
    verify::{
        BodyHmac, Encoding, KieSignature, SignedContent, StandardWebhooks, Verified, Verifier,
        VerifyRequest,
    },
};

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// `text` with the byte at `index` replaced by a different visible ASCII byte (or a space
/// inside the value), chosen by `pick`; `same` says which replacements would not change the
/// meaning (hex case) and are avoided.
fn mutate(text: &str, index: Index, pick: u8, same: impl Fn(u8, u8) -> bool) -> String {
    let mut bytes = text.as_bytes().to_vec();
    let i = index.index(bytes.len());
    let old = bytes[i];
    // Visible ASCII, plus a space away from the edges (a header value is trimmed).
    let lo = if i == 0 || i + 1 == bytes.len() {
        0x21
    } else {
        0x20
    };
    let span = 0x7f - lo;
    let mut new = lo + pick % span;
    while new == old || same(old, new) {
        new = lo + (new - lo + 1) % span;
    }
    bytes[i] = new;
    String::from_utf8(bytes).unwrap()
}

fn exact(_: u8, _: u8) -> bool {
    false
}

fn value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap()
}

fn run(
    v: &dyn Verifier,
    headers: &HeaderMap,
    body: &[u8],
    now: u64,
) -> Result<Verified, Rejection> {
    v.verify(&VerifyRequest::new(headers, body, at(now)))
}

/// A timestamp and a clock within 300 s of it, either way.
fn ts_and_now() -> impl Strategy<Value = (u64, u64)> {
    (301u64..9_999_999_000, -300i64..=300).prop_map(|(ts, d)| (ts, ts.saturating_add_signed(d)))
}

fn ids() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_.:-]{1,40}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn standard_webhooks_roundtrip_and_single_byte_changes(
        key in vec(any::<u8>(), 24..=64),
        id in ids(),
        (ts, now) in ts_and_now(),
        body in vec(any::<u8>(), 0..300),
        part in 0u8..4,
        index: Index,
        pick: u8,
    ) {
        let secret = format!("whsec_{}", STANDARD.encode(&key));
        let verifier = StandardWebhooks::new(&secret).unwrap();
        let ts_text = ts.to_string();
        let sig = sign_standard_webhooks(&secret, &id, ts, &body);
        let headers = |id: &str, ts: &str, sig: &str| {
            let mut h = HeaderMap::new();
            h.insert("webhook-id", value(id));
            h.insert("webhook-timestamp", value(ts));
            h.insert("webhook-signature", value(sig));
            h
        };
        let verified = run(&verifier, &headers(&id, &ts_text, &sig), &body, now).unwrap();
        prop_assert_eq!(verified.key_label(), Some("default"));
        // The raw key verifies the same way.
        let raw = StandardWebhooks::from_key(Secret::from_bytes(key).unwrap());
        prop_assert!(run(&raw, &headers(&id, &ts_text, &sig), &body, now).is_ok());

        let result = match part {
            0 => run(&verifier, &headers(&id, &ts_text, &mutate(&sig, index, pick, exact)), &body, now),
            1 => run(&verifier, &headers(&id, &mutate(&ts_text, index, pick, exact), &sig), &body, now),
            2 => run(&verifier, &headers(&mutate(&id, index, pick, exact), &ts_text, &sig), &body, now),
            _ => {
                let mut body = body;
                if body.is_empty() {
                    body.push(pick);
                } else {
                    let i = index.index(body.len());
                    body[i] ^= pick.max(1);
                }
                run(&verifier, &headers(&id, &ts_text, &sig), &body, now)
            }
        };
        prop_assert!(result.is_err(), "part {} passed after a change", part);
    }

    #[test]
    fn body_hmac_roundtrip_and_single_byte_changes(
        key in vec(any::<u8>(), 1..=64),
        hex in any::<bool>(),
        layout in 0u8..3,
        prefix in prop::sample::select(vec!["", "sha256=", "v0="]),
        (ts, now) in ts_and_now(),
        body in vec(any::<u8>(), 0..300),
        part in 0u8..3,
        index: Index,
        pick: u8,
    ) {
        let encoding = if hex { Encoding::Hex } else { Encoding::Base64 };
        let mut verifier = BodyHmac::new("X-Sig", Secret::from_bytes(key.clone()).unwrap())
            .unwrap()
            .with_encoding(encoding)
            .with_prefix(prefix)
            .unwrap();
        let ts_text = ts.to_string();
        let content = match layout {
            0 => body.clone(),
            1 => {
                verifier = verifier.with_timestamp_header("X-Ts", SignedContent::TimestampDotBody).unwrap();
                [ts_text.as_bytes(), b".", &body].concat()
            }
            _ => {
                verifier = verifier.with_timestamp_header("X-Ts", SignedContent::SlackV0).unwrap();
                [b"v0:", ts_text.as_bytes(), b":", &body].concat()
            }
        };
        let sig = format!("{prefix}{}", sign_body_hmac(&key, &content, encoding));
        let headers = |ts: &str, sig: &str| {
            let mut h = HeaderMap::new();
            if layout != 0 {
                h.insert("x-ts", value(ts));
            }
            h.insert("x-sig", value(sig));
            h
        };
        let verified = run(&verifier, &headers(&ts_text, &sig), &body, now).unwrap();
        prop_assert_eq!(verified.scheme(), "body_hmac");

        // Hex digits are read in either case: a case flip is not a change of the MAC.
        let hex_case = |old: u8, new: u8| hex && old.eq_ignore_ascii_case(&new);
        let result = match part {
            0 => run(&verifier, &headers(&ts_text, &mutate(&sig, index, pick, hex_case)), &body, now),
            1 if layout != 0 => run(&verifier, &headers(&mutate(&ts_text, index, pick, exact), &sig), &body, now),
            _ => {
                let mut body = body;
                if body.is_empty() {
                    body.push(pick);
                } else {
                    let i = index.index(body.len());
                    body[i] ^= pick.max(1);
                }
                run(&verifier, &headers(&ts_text, &sig), &body, now)
            }
        };
        prop_assert!(result.is_err(), "part {} passed after a change", part);
    }

    #[test]
    fn kie_roundtrip_and_single_byte_changes(
        key in "[!-~][ -~]{0,40}[!-~]",
        task in "[A-Za-z0-9_.-]{1,64}",
        (ts, now) in ts_and_now(),
        part in 0u8..3,
        index: Index,
        pick: u8,
    ) {
        let verifier = KieSignature::new(Secret::new(key.clone()).unwrap());
        let ts_text = ts.to_string();
        let sig = sign_kie(&key, &task, &ts_text);
        let check = |ts: &str, sig: &str, task: &str| {
            let mut h = HeaderMap::new();
            h.insert("x-webhook-timestamp", value(ts));
            h.insert("x-webhook-signature", value(sig));
            verifier.verify(&VerifyRequest::new(&h, b"{}", at(now)).with_task_id(Some(task)))
        };
        prop_assert!(check(&ts_text, &sig, &task).is_ok());
        let result = match part {
            0 => check(&ts_text, &mutate(&sig, index, pick, exact), &task),
            1 => check(&mutate(&ts_text, index, pick, exact), &sig, &task),
            _ => check(&ts_text, &sig, &mutate(&task, index, pick, exact)),
        };
        prop_assert!(result.is_err(), "part {} passed after a change", part);
    }
}
