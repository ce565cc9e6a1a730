//! Signing helpers and a fixed clock.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::Mac;

use crate::verify::{KieSignature, keys};

/// HMAC-SHA256 of `parts`, concatenated, under `key`.
pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = keys::keyed(key);
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// The kie.ai signature of a callback: `base64(HMAC-SHA256(key, task_id + "." + timestamp))`.
///
/// ```
/// use vocals_callback::testkit::sign_kie;
///
/// // Vector 1 of the provider's rule.
/// assert_eq!(
///     sign_kie("test-webhook-hmac-key", "ee9c2715375b7837f8bb51d641ff5863", "1769670760"),
///     "xG6/yOyrMyJtUdc1yjmHpKLHSHF3MpzOPa6uxSj3qb4="
/// );
/// ```
#[must_use]
pub fn sign_kie(key: &str, task_id: &str, timestamp: &str) -> String {
    STANDARD.encode(hmac_sha256(
        key.as_bytes(),
        &[task_id.as_bytes(), b".", timestamp.as_bytes()],
    ))
}

/// A `POST` request carrying `body`, signed with the kie.ai rule for `task_id` at
/// `timestamp` (Unix seconds), with `Content-Type: application/json`.
///
/// ```
/// use vocals_callback::testkit::{CallbackBody, kie_request};
///
/// let body = CallbackBody::text("t1").to_bytes();
/// let req = kie_request("key", "t1", 1_769_670_760, body);
/// assert_eq!(req.headers()["x-webhook-timestamp"], "1769670760");
/// assert_eq!(req.headers()["x-webhook-signature"].len(), 44);
/// ```
#[must_use]
pub fn kie_request(
    key: &str,
    task_id: &str,
    timestamp: u64,
    body: Vec<u8>,
) -> http::Request<Vec<u8>> {
    let ts = timestamp.to_string();
    let mut req = http::Request::new(body);
    *req.method_mut() = http::Method::POST;
    *req.uri_mut() = http::Uri::from_static("/vocals-callback");
    let headers = req.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    // Both values are ASCII (digits, base64), so they are valid header values.
    if let Ok(value) = http::HeaderValue::from_str(&ts) {
        headers.insert(KieSignature::TIMESTAMP_HEADER, value);
    }
    if let Ok(value) = http::HeaderValue::from_str(&sign_kie(key, task_id, &ts)) {
        headers.insert(KieSignature::SIGNATURE_HEADER, value);
    }
    req
}

/// A clock stopped at one instant, for tests of every time rule.
///
/// ```
/// use std::time::Duration;
/// use vocals_callback::testkit::FixedClock;
///
/// let clock = FixedClock::at_unix(1_769_670_760);
/// assert_eq!(clock.unix_secs(), 1_769_670_760);
/// assert_eq!(clock.advanced(Duration::from_secs(301)).unix_secs(), 1_769_671_061);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FixedClock(SystemTime);

impl FixedClock {
    /// A clock at `secs` seconds after the Unix epoch.
    #[must_use]
    pub fn at_unix(secs: u64) -> Self {
        Self(UNIX_EPOCH + Duration::from_secs(secs))
    }

    /// The instant.
    #[must_use]
    pub fn now(&self) -> SystemTime {
        self.0
    }

    /// Seconds since the epoch.
    #[must_use]
    pub fn unix_secs(&self) -> u64 {
        self.0.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
    }

    /// This clock moved by `by` (forward).
    #[must_use]
    pub fn advanced(&self, by: Duration) -> Self {
        Self(self.0 + by)
    }

    /// This clock moved back by `by`.
    #[must_use]
    pub fn rewound(&self, by: Duration) -> Self {
        Self(self.0 - by)
    }
}
