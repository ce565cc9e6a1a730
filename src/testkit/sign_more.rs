//! Signing helpers for the Standard Webhooks and body-HMAC schemes.

use base64::{Engine, engine::general_purpose::STANDARD};
use bytes::Bytes;
use http_body_util::Full;

use super::sign::hmac_sha256;
use crate::verify::{Encoding, StandardWebhooks};

/// The Standard Webhooks v1 signature entry (`v1,<base64>`) of a message: HMAC-SHA256 of
/// `msg_id.timestamp.body` under the key of `secret` (`whsec_` prefix optional, then
/// base64). A secret whose rest is not base64 is used as its UTF-8 bytes, so the result
/// then matches no verifier built from that secret.
///
/// ```
/// use vocals_callback::testkit::sign_standard_webhooks;
///
/// // The cross-language vector of the Standard Webhooks libraries.
/// assert_eq!(
///     sign_standard_webhooks(
///         "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
///         "msg_p5jXN8AQM9LWM0D4loKWxJek",
///         1_614_265_330,
///         br#"{"test": 2432232314}"#,
///     ),
///     "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
/// );
/// ```
#[must_use]
pub fn sign_standard_webhooks(secret: &str, msg_id: &str, timestamp: u64, body: &[u8]) -> String {
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    let key = STANDARD
        .decode(encoded)
        .unwrap_or_else(|_| encoded.as_bytes().to_vec());
    let ts = timestamp.to_string();
    let mac = hmac_sha256(&key, &[msg_id.as_bytes(), b".", ts.as_bytes(), b".", body]);
    format!("v1,{}", STANDARD.encode(mac))
}

/// The HMAC-SHA256 of `content` under `key`, in `encoding` (lowercase hex or padded
/// standard base64), for the [`BodyHmac`](crate::verify::BodyHmac) schemes. Build
/// `content` as the scheme does (`body`, `timestamp.body`, `v0:timestamp:body`) and add
/// the scheme's prefix (`sha256=`, `v0=`) yourself.
///
/// ```
/// use vocals_callback::{testkit::sign_body_hmac, verify::Encoding};
///
/// // GitHub's documented example.
/// assert_eq!(
///     sign_body_hmac(b"It's a Secret to Everybody", b"Hello, World!", Encoding::Hex),
///     "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
/// );
/// assert_eq!(
///     sign_body_hmac(b"shop-secret", br#"{"id":1}"#, Encoding::Base64),
///     "plW8VGqq0nDMIEhDqaNNW99asdUCy7EIqLZVcQwtAZ0="
/// );
/// ```
#[must_use]
pub fn sign_body_hmac(key: &[u8], content: &[u8], encoding: Encoding) -> String {
    let mac = hmac_sha256(key, &[content]);
    match encoding {
        Encoding::Base64 => STANDARD.encode(mac),
        // `Encoding` is non-exhaustive; hex is the default of `BodyHmac`.
        _ => mac.iter().map(|b| format!("{b:02x}")).collect(),
    }
}

/// A `Stripe-Signature` value: `t=<timestamp>,v1=<hex of HMAC(secret, timestamp.body)>`,
/// keyed with the secret text itself (`whsec_…` included, as Stripe does).
///
/// ```
/// use vocals_callback::testkit::sign_stripe;
///
/// let body = b"{\n  \"id\": \"evt_test_webhook\",\n  \"object\": \"event\"\n}";
/// assert_eq!(
///     sign_stripe("whsec_test_secret", 1_700_000_000, body),
///     "t=1700000000,v1=4f1cd7feda9826e746b7d482c4badebb657398df1099e1046364f6196a230150"
/// );
/// ```
#[must_use]
pub fn sign_stripe(secret: &str, timestamp: u64, body: &[u8]) -> String {
    let ts = timestamp.to_string();
    let mut content = Vec::with_capacity(ts.len() + 1 + body.len());
    content.extend_from_slice(ts.as_bytes());
    content.push(b'.');
    content.extend_from_slice(body);
    let mac = sign_body_hmac(secret.as_bytes(), &content, Encoding::Hex);
    format!("t={ts},v1={mac}")
}

/// A `POST` request carrying `body`, signed with Standard Webhooks v1 (`webhook-id`,
/// `webhook-timestamp`, `webhook-signature`), with `Content-Type: application/json`.
///
/// ```
/// use vocals_callback::testkit::standard_webhooks_request;
///
/// let req = standard_webhooks_request(
///     "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
///     "msg_p5jXN8AQM9LWM0D4loKWxJek",
///     1_614_265_330,
///     br#"{"test": 2432232314}"#.to_vec(),
/// );
/// assert_eq!(req.headers()["webhook-timestamp"], "1614265330");
/// assert_eq!(
///     req.headers()["webhook-signature"],
///     "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
/// );
/// ```
#[must_use]
pub fn standard_webhooks_request(
    secret: &str,
    msg_id: &str,
    timestamp: u64,
    body: impl Into<Bytes>,
) -> http::Request<Full<Bytes>> {
    let body = body.into();
    let signature = sign_standard_webhooks(secret, msg_id, timestamp, &body);
    let mut req = http::Request::new(Full::new(body));
    *req.method_mut() = http::Method::POST;
    *req.uri_mut() = http::Uri::from_static("/vocals-callback");
    let headers = req.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    // An id that is not a valid header value is left out (the verifier then refuses it).
    if let Ok(value) = http::HeaderValue::from_str(msg_id) {
        headers.insert(StandardWebhooks::ID_HEADER, value);
    }
    if let Ok(value) = http::HeaderValue::from_str(&timestamp.to_string()) {
        headers.insert(StandardWebhooks::TIMESTAMP_HEADER, value);
    }
    if let Ok(value) = http::HeaderValue::from_str(&signature) {
        headers.insert(StandardWebhooks::SIGNATURE_HEADER, value);
    }
    req
}
