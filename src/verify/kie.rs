//! The provider's own rule (kie.ai): an HMAC of `task_id.timestamp`.

use std::{fmt, time::Duration};

use http::HeaderName;

use super::{
    HeaderCheck, Signed, Verified, Verifier, VerifyRequest, encoding, header, keys::Keys, time,
};
use crate::{
    config::ConfigError,
    rejection::{Rejection, RejectionKind},
    secret::Secret,
};

/// Verifies the kie.ai callback signature (`webhookHmacKey` on the account):
///
/// ```text
/// X-Webhook-Signature = base64(HMAC-SHA256(key = UTF-8 bytes of the key,
///                                          msg = data.task_id + "." + X-Webhook-Timestamp))
/// ```
///
/// - header names in any case; each header exactly once;
/// - the timestamp only as 1 to 10 ASCII digits, used as received, within the tolerance
///   (default 300 s) in both directions, the edges included;
/// - the signature only as padded standard base64 of 32 bytes (URL-safe, unpadded, hex or
///   any other length is `malformed_signature`), compared in constant time;
/// - several keys with labels, for rotation: any one matching passes and its label is
///   reported.
///
/// **The MAC does not cover the body**: a captured header pair can carry any body for its
/// task id inside the window. Pair this verifier with a [`BindingCache`](super::BindingCache),
/// which binds each signature to the first body it was seen with.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use http::HeaderMap;
/// use vocals_callback::{Secret, verify::{KieSignature, Verifier, VerifyRequest}};
///
/// let verifier = KieSignature::new(Secret::new("test-webhook-hmac-key")?)
///     .with_key("next", Secret::new("rotated-key")?)?;
/// let mut headers = HeaderMap::new();
/// headers.insert("X-Webhook-Timestamp", "1769670760".parse()?);
/// headers.insert("X-Webhook-Signature", "xG6/yOyrMyJtUdc1yjmHpKLHSHF3MpzOPa6uxSj3qb4=".parse()?);
/// let now = UNIX_EPOCH + Duration::from_secs(1_769_670_790);
/// let req = VerifyRequest::new(&headers, b"{}", now)
///     .with_task_id(Some("ee9c2715375b7837f8bb51d641ff5863"));
/// let verified = verifier.verify(&req)?;
/// assert_eq!(verified.key_label(), Some("default"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct KieSignature {
    keys: Keys,
    tolerance: Duration,
}

impl KieSignature {
    /// The scheme name reported in [`Verified::scheme`].
    pub const SCHEME: &'static str = "kie_signature";
    /// `X-Webhook-Timestamp`: Unix seconds.
    pub const TIMESTAMP_HEADER: HeaderName = HeaderName::from_static("x-webhook-timestamp");
    /// `X-Webhook-Signature`: `base64(HMAC-SHA256(key, task_id + "." + timestamp))`.
    pub const SIGNATURE_HEADER: HeaderName = HeaderName::from_static("x-webhook-signature");

    /// A verifier with one key, labelled `default`, and the default tolerance (300 s).
    #[must_use]
    // By value: the caller's secret is consumed here and wiped when dropped.
    #[allow(clippy::needless_pass_by_value)]
    pub fn new(key: Secret) -> Self {
        Self {
            keys: Keys::new(key.expose()),
            tolerance: time::DEFAULT_TOLERANCE,
        }
    }

    /// Adds a key under `label` (for rotation: keep the old key until no callback signed
    /// with it can arrive any more).
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when `label` is already used.
    #[allow(clippy::needless_pass_by_value)]
    pub fn with_key(mut self, label: &str, key: Secret) -> Result<Self, ConfigError> {
        self.keys.add(label, key.expose())?;
        Ok(self)
    }

    /// Sets the tolerance window (default 300 s), applied in both directions.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for zero or for an hour or more.
    pub fn with_tolerance(mut self, tolerance: Duration) -> Result<Self, ConfigError> {
        self.tolerance = time::check_tolerance(tolerance)?;
        Ok(self)
    }

    /// The tolerance window.
    #[must_use]
    pub fn tolerance(&self) -> Duration {
        self.tolerance
    }
}

/// The timestamp and signature headers, each present exactly once, as raw bytes (the digit
/// and base64 checks refuse everything else): read once by the service's header step and
/// handed to its body step ([`Verifiers`](super::chain::Verifiers)).
#[derive(Clone, Copy)]
pub(crate) struct KieHeaders<'h> {
    timestamp: &'h [u8],
    signature: &'h [u8],
}

impl<'h> KieHeaders<'h> {
    pub(crate) fn read(headers: &'h http::HeaderMap) -> Result<Self, Rejection> {
        let timestamp = header::single_bytes(headers, &KieSignature::TIMESTAMP_HEADER)?
            .ok_or(Rejection::new(RejectionKind::MissingTimestamp))?;
        let signature = header::single_bytes(headers, &KieSignature::SIGNATURE_HEADER)?
            .ok_or(Rejection::new(RejectionKind::MissingSignature))?;
        Ok(Self {
            timestamp,
            signature,
        })
    }
}

impl KieSignature {
    /// [`verify`](Verifier::verify), with the headers of `req` already read.
    pub(crate) fn verify_read(
        &self,
        req: &VerifyRequest<'_>,
        headers: KieHeaders<'_>,
    ) -> Result<Verified, Rejection> {
        let KieHeaders {
            timestamp: ts_text,
            signature,
        } = headers;
        let timestamp = time::parse_timestamp_bytes(ts_text)?;
        time::check_window(timestamp, req.now(), self.tolerance)?;
        let mac = encoding::base64_mac(signature)
            .ok_or(Rejection::new(RejectionKind::MalformedSignature))?;
        let task_id = req
            .task_id()
            .ok_or(Rejection::new(RejectionKind::MissingTaskId))?;
        let parts: [&[u8]; 3] = [task_id.as_bytes(), b".", ts_text];
        match self.keys.find(&parts, &std::iter::once(mac)) {
            Some(label) => Ok(Verified::new(Self::SCHEME, Some(label))
                .with_signature(Signed::new(mac, timestamp, self.tolerance))),
            None => Err(RejectionKind::InvalidSignature.into()),
        }
    }
}

impl Verifier for KieSignature {
    fn check_headers(&self, req: &VerifyRequest<'_>) -> Result<HeaderCheck, Rejection> {
        // The same reads as `verify`, so the gate and the full check agree.
        KieHeaders::read(req.headers()).map(|_| HeaderCheck::NeedsBody)
    }

    fn verify(&self, req: &VerifyRequest<'_>) -> Result<Verified, Rejection> {
        self.verify_read(req, KieHeaders::read(req.headers())?)
    }
}

impl fmt::Debug for KieSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let labels = self.keys.labels();
        f.debug_struct("KieSignature")
            .field("keys", &labels)
            .field("tolerance", &self.tolerance)
            .finish()
    }
}
