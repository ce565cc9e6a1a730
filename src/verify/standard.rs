//! Standard Webhooks v1 (also sent by Svix): an HMAC of `id.timestamp.body`.

use std::{fmt, time::Duration};

use base64::{Engine, engine::general_purpose::STANDARD};
use http::{HeaderMap, HeaderName};
use zeroize::Zeroizing;

use super::{Verified, Verifier, VerifyRequest, encoding, header, keys::Keys, time};
use crate::{
    config::{ConfigError, ConfigErrorKind},
    rejection::{Rejection, RejectionKind},
    secret::Secret,
};

/// The optional prefix of a Standard Webhooks secret.
const SECRET_PREFIX: &str = "whsec_";
/// The shortest and longest decoded key the specification allows.
const MIN_KEY_LEN: usize = 24;
const MAX_KEY_LEN: usize = 64;

/// Verifies [Standard Webhooks](https://www.standardwebhooks.com/) v1 signatures:
///
/// ```text
/// webhook-signature = "v1," + base64(HMAC-SHA256(key = base64-decode(secret without "whsec_"),
///                                                msg = webhook-id + "." + webhook-timestamp
///                                                      + "." + raw body bytes))
/// ```
///
/// It passes every case of the project's `vectors/standard_webhooks.json`, taking the strict
/// verdict wherever the reference libraries disagree:
///
/// - header names in any case; each of `webhook-id`, `webhook-timestamp` and
///   `webhook-signature` exactly once (a repeated field is `duplicate_header`, 400, never
///   "the first" or "the last" copy); a missing or empty id or signature is
///   `missing_signature`, a missing timestamp `missing_timestamp`;
/// - the `svix-id`/`svix-timestamp`/`svix-signature` names only after
///   [`with_svix_headers`](Self::with_svix_headers); a request that then carries headers
///   of both families is `duplicate_header` (which family counts would be a guess);
/// - the timestamp only as 1 to 10 ASCII digits (no sign, leading `+`, fraction or exponent),
///   used as received, within the tolerance (default 300 s) in both directions, the edges
///   included;
/// - the signature header is a space-separated list of `version,base64` entries; entries of
///   other versions (`v2,`, `V1,`) and malformed entries (no comma, extra comma, wrong length,
///   non-canonical or URL-safe base64, unpadded) are skipped; any one `v1` entry matching any
///   key passes and that key's label is reported. When no entry is a well-formed `v1` entry
///   the rejection is `malformed_signature`, otherwise `invalid_signature`;
/// - the body is the raw bytes as received, never re-serialised (any bytes, UTF-8 or not);
/// - checks run in the order "headers → window → MAC", so a stale request is refused
///   before any MAC is computed.
///
/// Secrets are `whsec_` + padded standard base64 of a 24- to 64-byte key (the prefix is
/// optional); unpadded base64, whitespace, or a key of another size is refused when the
/// verifier is built. Use [`from_key`](Self::from_key) for raw key bytes.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use http::HeaderMap;
/// use vocals_callback::verify::{StandardWebhooks, Verifier, VerifyRequest};
///
/// let verifier = StandardWebhooks::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
/// let mut headers = HeaderMap::new();
/// headers.insert("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek".parse()?);
/// headers.insert("webhook-timestamp", "1614265330".parse()?);
/// headers.insert("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=".parse()?);
/// let now = UNIX_EPOCH + Duration::from_secs(1_614_265_330);
/// let verified = verifier.verify(&VerifyRequest::new(&headers, br#"{"test": 2432232314}"#, now))?;
/// assert_eq!(verified.scheme(), "standard_webhooks");
/// assert_eq!(verified.key_label(), Some("default"));
///
/// // One byte of the body changed: refused.
/// let err = verifier
///     .verify(&VerifyRequest::new(&headers, br#"{"test":2432232314}"#, now))
///     .unwrap_err();
/// assert_eq!(err.kind(), vocals_callback::RejectionKind::InvalidSignature);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct StandardWebhooks {
    /// Each key's label and its MAC, keyed once.
    keys: Keys,
    tolerance: Duration,
    svix_headers: bool,
}

/// The three header names of one family.
struct Family {
    id: HeaderName,
    timestamp: HeaderName,
    signature: HeaderName,
}

impl StandardWebhooks {
    /// The scheme name reported in [`Verified::scheme`].
    pub const SCHEME: &'static str = "standard_webhooks";
    /// `webhook-id`: the message id, covered by the MAC.
    pub const ID_HEADER: HeaderName = HeaderName::from_static("webhook-id");
    /// `webhook-timestamp`: Unix seconds, covered by the MAC.
    pub const TIMESTAMP_HEADER: HeaderName = HeaderName::from_static("webhook-timestamp");
    /// `webhook-signature`: space-separated `v1,<base64>` entries.
    pub const SIGNATURE_HEADER: HeaderName = HeaderName::from_static("webhook-signature");
    /// `svix-id`, read instead of `webhook-id` after [`with_svix_headers`](Self::with_svix_headers).
    pub const SVIX_ID_HEADER: HeaderName = HeaderName::from_static("svix-id");
    /// `svix-timestamp`, read after [`with_svix_headers`](Self::with_svix_headers).
    pub const SVIX_TIMESTAMP_HEADER: HeaderName = HeaderName::from_static("svix-timestamp");
    /// `svix-signature`, read after [`with_svix_headers`](Self::with_svix_headers).
    pub const SVIX_SIGNATURE_HEADER: HeaderName = HeaderName::from_static("svix-signature");

    /// A verifier with one secret (`whsec_…`, prefix optional), labelled `default`, and the
    /// default tolerance (300 s).
    ///
    /// ```
    /// use vocals_callback::{ConfigErrorKind, verify::StandardWebhooks};
    ///
    /// assert!(StandardWebhooks::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_ok());
    /// assert!(StandardWebhooks::new("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_ok());
    /// let err = StandardWebhooks::new("whsec_").unwrap_err();
    /// assert_eq!(err.kind(), ConfigErrorKind::EmptySecret);
    /// let err = StandardWebhooks::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n").unwrap_err();
    /// assert_eq!(err.kind(), ConfigErrorKind::InvalidSecret);
    /// ```
    ///
    /// # Errors
    ///
    /// [`ConfigError`] of kind `EmptySecret` for `""` or `"whsec_"`, `InvalidSecret` when
    /// the rest is not padded standard base64 (whitespace included) or decodes to fewer than
    /// 24 or more than 64 bytes.
    pub fn new(secret: &str) -> Result<Self, ConfigError> {
        let key = decode_secret(secret)?;
        Ok(Self::from_key(key))
    }

    /// A verifier with one raw key (the decoded bytes, any non-empty length), labelled
    /// `default`.
    ///
    /// ```
    /// use vocals_callback::{Secret, verify::StandardWebhooks};
    ///
    /// let verifier = StandardWebhooks::from_key(Secret::from_bytes(vec![7u8; 32])?);
    /// assert!(format!("{verifier:?}").contains("default"));
    /// # Ok::<(), vocals_callback::ConfigError>(())
    /// ```
    #[must_use]
    // By value: the caller's secret is consumed here and wiped when dropped.
    #[allow(clippy::needless_pass_by_value)]
    pub fn from_key(key: Secret) -> Self {
        Self {
            keys: Keys::new(key.expose()),
            tolerance: time::DEFAULT_TOLERANCE,
            svix_headers: false,
        }
    }

    /// Adds a secret (`whsec_…`) under `label`, for rotation: any one key matching passes
    /// and its label is reported.
    ///
    /// ```
    /// use vocals_callback::verify::StandardWebhooks;
    ///
    /// let verifier = StandardWebhooks::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?
    ///     .with_secret("next", "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD")?;
    /// assert!(verifier.clone().with_secret("next", "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").is_err());
    /// # Ok::<(), vocals_callback::ConfigError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when `label` is already used or the secret is refused as by
    /// [`new`](Self::new).
    pub fn with_secret(self, label: &str, secret: &str) -> Result<Self, ConfigError> {
        let key = decode_secret(secret)?;
        self.with_key(label, key)
    }

    /// Adds a raw key under `label`.
    ///
    /// ```
    /// use vocals_callback::{Secret, verify::StandardWebhooks};
    ///
    /// let verifier = StandardWebhooks::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?
    ///     .with_key("raw", Secret::from_bytes(vec![1u8; 32])?)?;
    /// assert!(format!("{verifier:?}").contains("raw"));
    /// # Ok::<(), vocals_callback::ConfigError>(())
    /// ```
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
    /// ```
    /// use std::time::Duration;
    /// use vocals_callback::verify::StandardWebhooks;
    ///
    /// let verifier = StandardWebhooks::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?
    ///     .with_tolerance(Duration::from_secs(900))?;
    /// assert_eq!(verifier.tolerance(), Duration::from_secs(900));
    /// assert!(verifier.with_tolerance(Duration::ZERO).is_err());
    /// # Ok::<(), vocals_callback::ConfigError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for zero or for an hour or more.
    pub fn with_tolerance(mut self, tolerance: Duration) -> Result<Self, ConfigError> {
        self.tolerance = time::check_tolerance(tolerance)?;
        Ok(self)
    }

    /// Also reads the Svix names `svix-id`, `svix-timestamp` and `svix-signature` (same
    /// rule, same secrets). Off by default: a receiver for one provider should accept one
    /// header family only, and the Standard Webhooks references report the Svix names as
    /// missing headers. When on, a request carrying any header of both families is refused
    /// with `duplicate_header`.
    ///
    /// ```
    /// use vocals_callback::verify::StandardWebhooks;
    ///
    /// let verifier = StandardWebhooks::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?
    ///     .with_svix_headers();
    /// assert!(format!("{verifier:?}").contains("svix_headers: true"));
    /// # Ok::<(), vocals_callback::ConfigError>(())
    /// ```
    #[must_use]
    pub fn with_svix_headers(mut self) -> Self {
        self.svix_headers = true;
        self
    }

    /// The tolerance window.
    #[must_use]
    pub fn tolerance(&self) -> Duration {
        self.tolerance
    }

    /// The header family the request uses.
    fn family(&self, headers: &HeaderMap) -> Result<Family, Rejection> {
        let standard = Family {
            id: Self::ID_HEADER,
            timestamp: Self::TIMESTAMP_HEADER,
            signature: Self::SIGNATURE_HEADER,
        };
        if !self.svix_headers {
            return Ok(standard);
        }
        let svix = Family {
            id: Self::SVIX_ID_HEADER,
            timestamp: Self::SVIX_TIMESTAMP_HEADER,
            signature: Self::SVIX_SIGNATURE_HEADER,
        };
        match (standard.any_in(headers), svix.any_in(headers)) {
            (true, true) => Err(RejectionKind::DuplicateHeader.into()),
            (false, true) => Ok(svix),
            _ => Ok(standard),
        }
    }
}

impl Family {
    fn any_in(&self, headers: &HeaderMap) -> bool {
        headers.contains_key(&self.id)
            || headers.contains_key(&self.timestamp)
            || headers.contains_key(&self.signature)
    }
}

/// The key of a `whsec_` secret: prefix optional, then canonical padded standard base64 of
/// 24 to 64 bytes.
fn decode_secret(secret: &str) -> Result<Secret, ConfigError> {
    let encoded = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
    if encoded.is_empty() {
        return Err(ConfigError::empty_secret());
    }
    let invalid = || {
        ConfigError::new(
            ConfigErrorKind::InvalidSecret,
            "a Standard Webhooks secret must be padded standard base64 of a 24- to 64-byte key",
        )
    };
    let key = Zeroizing::new(STANDARD.decode(encoded).map_err(|_| invalid())?);
    if !(MIN_KEY_LEN..=MAX_KEY_LEN).contains(&key.len()) {
        return Err(invalid());
    }
    Secret::from_bytes(key.to_vec())
}

/// The MAC of one `v1,<base64>` entry, or `None` for an entry to skip.
fn v1_entry(entry: &str) -> Option<[u8; 32]> {
    encoding::base64_mac(entry.strip_prefix("v1,")?.as_bytes())
}

impl Verifier for StandardWebhooks {
    fn verify(&self, req: &VerifyRequest<'_>) -> Result<Verified, Rejection> {
        let headers = req.headers();
        let family = self.family(headers)?;
        let id = header::required(headers, &family.id, RejectionKind::MissingSignature)?;
        let ts_text =
            header::required(headers, &family.timestamp, RejectionKind::MissingTimestamp)?;
        let signatures =
            header::required(headers, &family.signature, RejectionKind::MissingSignature)?;
        let timestamp = time::parse_timestamp(ts_text)?;
        time::check_window(timestamp, req.now(), self.tolerance)?;

        let macs = signatures.split(' ').filter_map(v1_entry);
        let well_formed = macs.clone().next().is_some();
        let parts: [&[u8]; 5] = [id.as_bytes(), b".", ts_text.as_bytes(), b".", req.body()];
        if let Some(label) = self.keys.find(&parts, &macs) {
            return Ok(Verified::new(Self::SCHEME, Some(label)).with_timestamp(timestamp));
        }
        Err(if well_formed {
            RejectionKind::InvalidSignature
        } else {
            RejectionKind::MalformedSignature
        }
        .into())
    }
}

impl fmt::Debug for StandardWebhooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let labels = self.keys.labels();
        f.debug_struct("StandardWebhooks")
            .field("keys", &labels)
            .field("tolerance", &self.tolerance)
            .field("svix_headers", &self.svix_headers)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_decode_to_the_vector_keys() {
        let key = decode_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(
            key.expose(),
            [
                0x31, 0xf2, 0x90, 0xf6, 0xbf, 0x06, 0x29, 0x8a, 0xab, 0x4f, 0x08, 0xd4, 0x3c, 0x3f,
                0x08, 0x2c, 0xf6, 0x48, 0xa3, 0x62, 0xda, 0x2d, 0xa4, 0xb0
            ]
        );
        for bad in [
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS",
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwBr",
            " whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_AAAA",
        ] {
            assert_eq!(
                decode_secret(bad).unwrap_err().kind(),
                ConfigErrorKind::InvalidSecret
            );
        }
    }

    #[test]
    fn entries_of_other_forms_are_skipped() {
        assert!(v1_entry("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=").is_some());
        for bad in [
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OF=",
            "v1,g0hM9SsE-OTPJTGt_tmIKtSyZlE3uFJELVlNIOLJ1OE=",
            "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
            "V1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
            "v1,",
            "v1,a,b",
            "",
        ] {
            assert!(v1_entry(bad).is_none(), "{bad}");
        }
    }
}
