//! Shared by the fuzz targets: the text format of the verifier targets, the fixtures, and
//! the checks every target repeats.
//!
//! The verifier targets (`kie_signature`, `standard_webhooks`, `body_hmac`) read a small
//! HTTP-like text rather than an `Arbitrary` structure, so that the seed corpus can be
//! written straight from the signature vectors (`fuzz/seed.py`) and libFuzzer's byte
//! mutations land on header values and body bytes, which is what a hostile sender controls:
//!
//! ```text
//! now=1769670790                  optional: the verifier's clock (default NOW)
//! key=test-webhook-hmac-key       optional: the secret the verifier is built with
//! task=ee9c27…                    optional (Kie): the task id; else read from the body
//! scheme=github                   optional (body HMAC): which preset
//! X-Webhook-Timestamp: 1769670760 any header, any number of times, any value bytes
//! X-Webhook-Signature: @sign      `@sign` / `@wrong` are replaced by a signature made with
//!                                 the right / a wrong key by the testkit signers
//!
//! {"code":200,…}                  the body: every byte after the first empty line
//! ```
//!
//! `@sign` lets the fuzzer reach the accepting paths (binding, key rotation) without
//! guessing a MAC, and makes a completeness check possible: a clean, correctly signed
//! message inside the window must pass.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use vocals_callback::{Rejection, RejectionKind};

/// The default clock of every target (any fixed instant: runs must be deterministic).
pub const NOW: u64 = 1_769_670_790;
/// The default key of the verifier targets.
pub const KEY: &str = "test-webhook-hmac-key";
/// The key of `@wrong` signatures: a rotated-out or guessed key.
pub const WRONG_KEY: &str = "not-the-webhook-hmac-key";
/// The marker replaced by a signature made with [`KEY`] (or the message's `key=`).
pub const SIGN: &str = "@sign";
/// The marker replaced by a signature made with [`WRONG_KEY`].
pub const WRONG: &str = "@wrong";

/// A parsed message of the verifier targets.
#[derive(Debug, Default)]
pub struct Message<'a> {
    pub now: Option<u64>,
    pub key: Option<&'a str>,
    pub task: Option<&'a str>,
    pub scheme: Option<&'a str>,
    /// Header lines in order, the value as raw bytes (markers not yet replaced).
    pub headers: Vec<(&'a str, &'a [u8])>,
    pub body: &'a [u8],
}

impl<'a> Message<'a> {
    /// Splits `data` into settings, header lines and body. Never fails: a line that is not
    /// `name: value` or a setting is ignored (the fuzzer will have made many).
    pub fn parse(data: &'a [u8]) -> Self {
        let mut msg = Message::default();
        let mut rest = data;
        loop {
            let (line, after, ended) = match rest.iter().position(|&b| b == b'\n') {
                Some(i) => (&rest[..i], &rest[i + 1..], false),
                None => (rest, &rest[rest.len()..], true),
            };
            rest = after;
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.is_empty() {
                // The blank line: everything after it is the body, byte for byte.
                msg.body = rest;
                return msg;
            }
            msg.line(line);
            if ended {
                return msg;
            }
        }
    }

    fn line(&mut self, line: &'a [u8]) {
        let text = |b: &'a [u8]| std::str::from_utf8(b).ok();
        if let Some(v) = line.strip_prefix(b"now=") {
            self.now = text(v).and_then(|t| t.parse().ok());
        } else if let Some(v) = line.strip_prefix(b"key=") {
            self.key = text(v);
        } else if let Some(v) = line.strip_prefix(b"task=") {
            self.task = text(v);
        } else if let Some(v) = line.strip_prefix(b"scheme=") {
            self.scheme = text(v);
        } else if let Some(i) = line.iter().position(|&b| b == b':')
            && let Some(name) = text(&line[..i])
        {
            let value = &line[i + 1..];
            // One optional space after the colon, as on the wire.
            let value = value.strip_prefix(b" ").unwrap_or(value);
            self.headers.push((name, value));
        }
    }

    /// The clock of this message.
    pub fn now(&self) -> SystemTime {
        // A `now=` past what `SystemTime` holds is the harness's input, not the sender's:
        // fall back to the default rather than overflow.
        UNIX_EPOCH
            .checked_add(Duration::from_secs(self.now.unwrap_or(NOW)))
            .unwrap_or(UNIX_EPOCH + Duration::from_secs(NOW))
    }

    /// The value of the first header line named `name` (any case), markers not replaced.
    pub fn first(&self, name: &str) -> Option<&'a [u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    /// How many header lines are named `name` (any case).
    pub fn count(&self, name: &str) -> usize {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .count()
    }

    /// The header map, with `@sign` / `@wrong` inside values replaced by `sign(right_key)`
    /// / `sign(wrong_key)`. Lines whose name or value `http` refuses are left out, and so
    /// reported in the second field (they make a message unclean for completeness checks).
    pub fn header_map(&self, sign: impl Fn(bool) -> String) -> (HeaderMap, bool) {
        let mut map = HeaderMap::new();
        let mut dropped = false;
        for (name, value) in &self.headers {
            let value = replace_markers(value, &sign);
            match (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_bytes(&value),
            ) {
                (Ok(n), Ok(v)) => {
                    map.append(n, v);
                }
                _ => dropped = true,
            }
        }
        (map, dropped)
    }
}

/// `value` with every `@sign` replaced by `sign(true)` and every `@wrong` by `sign(false)`.
pub fn replace_markers(value: &[u8], sign: &impl Fn(bool) -> String) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        let rest = &value[i..];
        if rest.starts_with(SIGN.as_bytes()) {
            out.extend_from_slice(sign(true).as_bytes());
            i += SIGN.len();
        } else if rest.starts_with(WRONG.as_bytes()) {
            out.extend_from_slice(sign(false).as_bytes());
            i += WRONG.len();
        } else {
            out.push(value[i]);
            i += 1;
        }
    }
    out
}

/// A verifier's refusal must be one of its documented kinds, with the status of the
/// service's status table: 400 for repeated or unreadable headers and a missing task id, 401 otherwise.
/// (403, 503 and the rest come from other stages, never from a signature check.)
pub fn assert_verifier_rejection(r: &Rejection) {
    let status = r.status();
    assert!(
        status == StatusCode::BAD_REQUEST || status == StatusCode::UNAUTHORIZED,
        "verifier answered {status} ({})",
        r.kind()
    );
    assert_eq!(status, r.kind().status());
    assert!(
        r.retry_after().is_none(),
        "a signature refusal asks for no retry"
    );
    assert!(
        matches!(
            r.kind(),
            RejectionKind::MissingSignature
                | RejectionKind::MalformedSignature
                | RejectionKind::InvalidSignature
                | RejectionKind::MissingTimestamp
                | RejectionKind::InvalidTimestamp
                | RejectionKind::TimestampTooOld
                | RejectionKind::TimestampTooNew
                | RejectionKind::DuplicateHeader
                | RejectionKind::InvalidHeader
                | RejectionKind::MissingTaskId
        ),
        "unexpected kind {}",
        r.kind()
    );
}

/// `|ts - now| <= tolerance`, the window rule of every scheme (edges included).
pub fn in_window(ts: u64, now: SystemTime, tolerance: Duration) -> bool {
    let now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    ts.abs_diff(now) <= tolerance.as_secs()
}

/// A timestamp as the verifiers accept it: 1 to 10 ASCII digits.
pub fn strict_timestamp(text: &[u8]) -> Option<u64> {
    if text.is_empty() || text.len() > 10 || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// The callback bodies of the provider's docs and the live service (the project's
/// payloads, copied into tests/fixtures by the library's tests), for building requests.
pub const FIXTURES: [&[u8]; 8] = [
    include_bytes!("../../tests/fixtures/upstream/callback_text_addvocals_kie_en.json"),
    include_bytes!("../../tests/fixtures/upstream/callback_first_addvocals_kie_en.json"),
    include_bytes!("../../tests/fixtures/upstream/callback_complete_addvocals_kie_en.json"),
    include_bytes!("../../tests/fixtures/upstream/callback_complete_addvocals_sunoapi_en.json"),
    include_bytes!("../../tests/fixtures/upstream/callback_complete_generate_sunoapi_en.json"),
    include_bytes!("../../tests/fixtures/upstream/callback_error_addvocals_kie_en.json"),
    include_bytes!("../../tests/fixtures/upstream/callback_error_addvocals_sunoapi_en.json"),
    include_bytes!("../../tests/fixtures/upstream/callback_error_uploadcover_kie_en.json"),
];

/// Installs, once, a panic hook that stays silent for the service target's deliberate
/// handler panics (payload [`HANDLER_PANIC`]) and keeps libFuzzer's hook, which aborts,
/// for every other panic. Without it, a panic the service catches as designed would still
/// abort the run as a crash.
pub fn quiet_handler_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<&str>() == Some(&HANDLER_PANIC) {
                return;
            }
            previous(info);
        }));
    });
}

/// The payload of the handler panics the service target asks for.
pub const HANDLER_PANIC: &str = "fuzz: handler panics on purpose";
