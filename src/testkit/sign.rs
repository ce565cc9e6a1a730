//! Signing helpers and a fixed clock.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use base64::{Engine, engine::general_purpose::STANDARD};
use bytes::Bytes;
use hmac::Mac;
use http_body_util::Full;

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
/// `timestamp` (Unix seconds), with `Content-Type: application/json`. Its body is a
/// `Full<Bytes>`, an `http_body::Body`: it goes straight into a service.
///
/// Two requests of one task signed in the same second carry the same signature, and a
/// service refuses the second (`signature_collision`): sign each at its own second, or use
/// [`KieSigner`], which does.
///
/// ```
/// use tower::ServiceExt;
/// use vocals_callback::{HandlerResult, Secret, VocalsEvent, VocalsService, verify::KieSignature,
///                       testkit::{CallbackBody, FixedClock, kie_request}};
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// let clock = FixedClock::at_unix(1_769_670_760);
/// let svc = VocalsService::builder(|_e: VocalsEvent| async { HandlerResult::Ok(()) })
///     .verifier(KieSignature::new(Secret::new("key")?))
///     .clock(move || clock.now())
///     .build()?;
/// let req = kie_request("key", "t1", clock.unix_secs(), CallbackBody::text("t1").to_bytes());
/// assert_eq!(req.headers()["x-webhook-timestamp"], "1769670760");
/// let res = svc.oneshot(req).await?;
/// assert_eq!(res.status(), 200);
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
/// ```
#[must_use]
pub fn kie_request(
    key: &str,
    task_id: &str,
    timestamp: u64,
    body: impl Into<Bytes>,
) -> http::Request<Full<Bytes>> {
    let ts = timestamp.to_string();
    let mut req = http::Request::new(Full::new(body.into()));
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

/// Signs requests with the kie.ai rule, never two of one task in the same second.
///
/// The provider's MAC covers only `task_id.timestamp`, so two requests of one task signed
/// in the same second share a signature, and a receiver that binds signatures to bodies
/// refuses the second (`signature_collision`, as it must: it cannot be told from a body
/// swapped under captured headers). A test that signs a whole `text` → `first` →
/// `complete` sequence "now" would see that refusal; this signer gives each request of a
/// task its own second: the clock's, or one past the last it used for that task.
///
/// ```
/// use vocals_callback::testkit::{CallbackBody, FixedClock, KieSigner};
///
/// let signer = KieSigner::new("key").with_clock(FixedClock::at_unix(1_769_670_760));
/// let text = signer.request("t1", CallbackBody::text("t1").to_bytes());
/// let first = signer.request("t1", CallbackBody::first("t1").to_bytes());
/// let other = signer.request("t2", CallbackBody::text("t2").to_bytes());
/// assert_eq!(text.headers()["x-webhook-timestamp"], "1769670760");
/// assert_eq!(first.headers()["x-webhook-timestamp"], "1769670761");
/// assert_eq!(other.headers()["x-webhook-timestamp"], "1769670760");
/// ```
#[derive(Debug)]
pub struct KieSigner {
    key: String,
    clock: Option<FixedClock>,
    last: Mutex<HashMap<String, u64>>,
}

impl KieSigner {
    /// A signer under `key`, on the system clock.
    #[must_use]
    pub fn new(key: &str) -> Self {
        Self {
            key: key.to_owned(),
            clock: None,
            last: Mutex::default(),
        }
    }

    /// The same signer, on `clock` (the seconds after it are used as needed).
    #[must_use]
    pub fn with_clock(mut self, clock: FixedClock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// `body` for `task_id`, signed at the next second of its own (see [`kie_request`]).
    #[must_use]
    pub fn request(&self, task_id: &str, body: impl Into<Bytes>) -> http::Request<Full<Bytes>> {
        let now = self
            .clock
            .unwrap_or_else(|| FixedClock(SystemTime::now()))
            .unix_secs();
        let timestamp = {
            let mut last = crate::sync::lock(&self.last);
            let ts = match last.get(task_id) {
                Some(&used) => now.max(used.saturating_add(1)),
                None => now,
            };
            last.insert(task_id.to_owned(), ts);
            ts
        };
        kie_request(&self.key, task_id, timestamp, body)
    }
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
