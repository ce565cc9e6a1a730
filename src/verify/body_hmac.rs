//! A configurable HMAC-SHA256 of the raw body (GitHub, Slack, Stripe, Shopify and alike).

use std::{fmt, time::Duration};

use http::HeaderName;

use super::{Verified, Verifier, VerifyRequest, encoding, header, keys::Keys, time};
use crate::{
    config::{ConfigError, ConfigErrorKind},
    rejection::{Rejection, RejectionKind},
    secret::Secret,
};

/// How the MAC is written in the signature header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Encoding {
    /// 64 hexadecimal digits. Lowercase and uppercase digits are both accepted (the decoded
    /// bytes are compared, so the signature text is not a unique name of the signature:
    /// never use it as a dedup key).
    Hex,
    /// 44 characters of padded standard base64 (`+`, `/`, `=`), canonical only: URL-safe,
    /// unpadded or non-canonical text is `malformed_signature`.
    Base64,
}

/// What the MAC covers when the request carries a timestamp header (see
/// [`BodyHmac::with_timestamp_header`]). Without a timestamp header the MAC covers the raw
/// body alone. The body is always the bytes as received, never re-serialised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SignedContent {
    /// `{timestamp}.{body}` (Stripe's `signed_payload`, and most timestamped schemes).
    TimestampDotBody,
    /// `v0:{timestamp}:{body}` (Slack's version-0 base string).
    SlackV0,
}

/// Where the signature (and timestamp) are found.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Format {
    /// The header holds one signature, after an optional prefix; an optional second header
    /// holds the timestamp.
    Plain {
        prefix: Box<str>,
        timestamp: Option<(HeaderName, SignedContent)>,
    },
    /// Stripe's `t=<timestamp>,v1=<mac>,v1=<mac>,v0=…`: the MAC covers `{t}.{body}`; any one
    /// `v1` entry matching passes; other entries are ignored.
    StripePairs,
}

/// Verifies an HMAC-SHA256 of the raw body, with a configurable header, encoding, prefix
/// and optional timestamp; the scheme of most webhook providers.
///
/// - the signature header (and the timestamp header, if configured) exactly once
///   (`duplicate_header`, 400, otherwise); names in any case;
/// - a missing header is `missing_signature` / `missing_timestamp`; a value without the
///   configured prefix (case-sensitive), of another length or alphabet is
///   `malformed_signature`;
/// - a timestamp only as 1 to 10 ASCII digits, used as received in the MAC, within the
///   tolerance (default 300 s) **in both directions**, the edges included (stripe-node only
///   refuses old timestamps; a future one is refused here);
/// - several keys with labels: any one matching passes and its label is reported;
/// - MACs are compared as bytes, in constant time;
/// - checks run in the order "headers → window → MAC".
///
/// Keys are used as given: the provider's secret text as UTF-8 ([`Secret::new`]), including
/// any `whsec_` prefix for Stripe, which unlike Standard Webhooks does not base64-decode it.
///
/// Presets: [`github`](Self::github), [`slack`](Self::slack), [`stripe`](Self::stripe),
/// [`shopify`](Self::shopify). Anything else with the builder:
///
/// ```
/// # #[cfg(feature = "testkit")] { // the signing helpers are the testkit's
/// use std::time::{Duration, UNIX_EPOCH};
/// use http::HeaderMap;
/// use vocals_callback::{
///     Secret,
///     testkit::sign_body_hmac,
///     verify::{BodyHmac, Encoding, SignedContent, Verifier, VerifyRequest},
/// };
///
/// let verifier = BodyHmac::new("X-Signature", Secret::new("old-key")?)?
///     .with_key("current", Secret::new("new-key")?)?
///     .with_timestamp_header("X-Timestamp", SignedContent::TimestampDotBody)?
///     .with_encoding(Encoding::Base64)
///     .with_prefix("sha256=")?
///     .with_tolerance(Duration::from_secs(120))?;
///
/// let body = br#"{"event":"done"}"#;
/// let mut headers = HeaderMap::new();
/// headers.insert("x-timestamp", "1700000000".parse()?);
/// let mac = sign_body_hmac(b"new-key", b"1700000000.{\"event\":\"done\"}", Encoding::Base64);
/// headers.insert("x-signature", format!("sha256={mac}").parse()?);
/// let now = UNIX_EPOCH + Duration::from_secs(1_700_000_060);
/// let verified = verifier.verify(&VerifyRequest::new(&headers, body, now))?;
/// assert_eq!(verified.scheme(), "body_hmac");
/// assert_eq!(verified.key_label(), Some("current"));
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct BodyHmac {
    /// Each key's label and its MAC, keyed once.
    keys: Keys,
    header: HeaderName,
    format: Format,
    encoding: Encoding,
    tolerance: Duration,
}

impl BodyHmac {
    /// The scheme name reported in [`Verified::scheme`].
    pub const SCHEME: &'static str = "body_hmac";

    /// A verifier reading a hex MAC of the raw body from `header`, with one key labelled
    /// `default`, no prefix and no timestamp.
    ///
    /// ```
    /// use vocals_callback::{ConfigErrorKind, Secret, verify::BodyHmac};
    ///
    /// assert!(BodyHmac::new("X-Signature", Secret::new("key")?).is_ok());
    /// let err = BodyHmac::new("bad header", Secret::new("key")?).unwrap_err();
    /// assert_eq!(err.kind(), ConfigErrorKind::InvalidName);
    /// # Ok::<(), vocals_callback::ConfigError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when `header` is not a valid header name.
    #[allow(clippy::needless_pass_by_value)]
    pub fn new(header: &str, key: Secret) -> Result<Self, ConfigError> {
        Ok(Self::with_format(
            header_name(header)?,
            &key,
            Format::Plain {
                prefix: Box::from(""),
                timestamp: None,
            },
            Encoding::Hex,
        ))
    }

    /// GitHub: `X-Hub-Signature-256: sha256=<hex of HMAC(key, body)>`. No timestamp: pair it
    /// with dedup on `X-GitHub-Delivery` against replays.
    ///
    /// ```
    /// use std::time::SystemTime;
    /// use http::HeaderMap;
    /// use vocals_callback::{Secret, verify::{BodyHmac, Verifier, VerifyRequest}};
    ///
    /// // The example of GitHub's documentation.
    /// let verifier = BodyHmac::github(Secret::new("It's a Secret to Everybody")?);
    /// let mut headers = HeaderMap::new();
    /// headers.insert(
    ///     "X-Hub-Signature-256",
    ///     "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17".parse()?,
    /// );
    /// let req = VerifyRequest::new(&headers, b"Hello, World!", SystemTime::now());
    /// assert!(verifier.verify(&req).is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    #[allow(clippy::needless_pass_by_value)]
    pub fn github(key: Secret) -> Self {
        Self::with_format(
            HeaderName::from_static("x-hub-signature-256"),
            &key,
            Format::Plain {
                prefix: Box::from("sha256="),
                timestamp: None,
            },
            Encoding::Hex,
        )
    }

    /// Slack: `X-Slack-Signature: v0=<hex of HMAC(key, "v0:" + X-Slack-Request-Timestamp +
    /// ":" + body)>`, timestamp within the tolerance.
    ///
    /// ```
    /// # #[cfg(feature = "testkit")] { // the signing helpers are the testkit's
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use http::HeaderMap;
    /// use vocals_callback::{Secret, testkit::sign_body_hmac, verify::{BodyHmac, Encoding, Verifier, VerifyRequest}};
    ///
    /// let verifier = BodyHmac::slack(Secret::new("signing-secret")?);
    /// let mac = sign_body_hmac(b"signing-secret", b"v0:1531420618:token=x", Encoding::Hex);
    /// let mut headers = HeaderMap::new();
    /// headers.insert("X-Slack-Request-Timestamp", "1531420618".parse()?);
    /// headers.insert("X-Slack-Signature", format!("v0={mac}").parse()?);
    /// let now = UNIX_EPOCH + Duration::from_secs(1_531_420_678);
    /// assert!(verifier.verify(&VerifyRequest::new(&headers, b"token=x", now)).is_ok());
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    #[allow(clippy::needless_pass_by_value)]
    pub fn slack(key: Secret) -> Self {
        Self::with_format(
            HeaderName::from_static("x-slack-signature"),
            &key,
            Format::Plain {
                prefix: Box::from("v0="),
                timestamp: Some((
                    HeaderName::from_static("x-slack-request-timestamp"),
                    SignedContent::SlackV0,
                )),
            },
            Encoding::Hex,
        )
    }

    /// Stripe: `Stripe-Signature: t=<ts>,v1=<hex of HMAC(key, ts + "." + body)>[,v1=…][,v0=…]`.
    /// The key is the `whsec_…` text itself. Any one well-formed `v1` entry matching passes;
    /// other entries are ignored; a repeated `t=` is `malformed_signature`.
    /// [`with_prefix`](Self::with_prefix) and
    /// [`with_timestamp_header`](Self::with_timestamp_header) do not apply to this format.
    ///
    /// ```
    /// # #[cfg(feature = "testkit")] { // the signing helpers are the testkit's
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use http::HeaderMap;
    /// use vocals_callback::{Secret, testkit::sign_stripe, verify::{BodyHmac, Verifier, VerifyRequest}};
    ///
    /// let verifier = BodyHmac::stripe(Secret::new("whsec_test_secret")?);
    /// let mut headers = HeaderMap::new();
    /// headers.insert("Stripe-Signature", sign_stripe("whsec_test_secret", 1_700_000_000, b"{}").parse()?);
    /// let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    /// assert!(verifier.verify(&VerifyRequest::new(&headers, b"{}", now)).is_ok());
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    #[allow(clippy::needless_pass_by_value)]
    pub fn stripe(key: Secret) -> Self {
        Self::with_format(
            HeaderName::from_static("stripe-signature"),
            &key,
            Format::StripePairs,
            Encoding::Hex,
        )
    }

    /// Shopify: `X-Shopify-Hmac-Sha256: <base64 of HMAC(key, body)>`. No timestamp: pair it
    /// with dedup on `X-Shopify-Event-Id` against replays.
    ///
    /// ```
    /// use std::time::SystemTime;
    /// use http::HeaderMap;
    /// use vocals_callback::{Secret, verify::{BodyHmac, Verifier, VerifyRequest}};
    ///
    /// let verifier = BodyHmac::shopify(Secret::new("shop-secret")?);
    /// let mut headers = HeaderMap::new();
    /// headers.insert("X-Shopify-Hmac-Sha256", "plW8VGqq0nDMIEhDqaNNW99asdUCy7EIqLZVcQwtAZ0=".parse()?);
    /// let req = VerifyRequest::new(&headers, br#"{"id":1}"#, SystemTime::now());
    /// assert!(verifier.verify(&req).is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    #[allow(clippy::needless_pass_by_value)]
    pub fn shopify(key: Secret) -> Self {
        Self::with_format(
            HeaderName::from_static("x-shopify-hmac-sha256"),
            &key,
            Format::Plain {
                prefix: Box::from(""),
                timestamp: None,
            },
            Encoding::Base64,
        )
    }

    fn with_format(header: HeaderName, key: &Secret, format: Format, encoding: Encoding) -> Self {
        Self {
            keys: Keys::new(key.expose()),
            header,
            format,
            encoding,
            tolerance: time::DEFAULT_TOLERANCE,
        }
    }

    /// Adds a key under `label` (for rotation: any one key matching passes and its label is
    /// reported).
    ///
    /// ```
    /// use vocals_callback::{Secret, verify::BodyHmac};
    ///
    /// let verifier = BodyHmac::github(Secret::new("old")?).with_key("new", Secret::new("new")?)?;
    /// assert!(verifier.with_key("default", Secret::new("x")?).is_err());
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

    /// Reads a Unix-seconds timestamp from `header`, checks it against the tolerance and
    /// includes it in the signed content as `content` says.
    ///
    /// ```
    /// use vocals_callback::{Secret, verify::{BodyHmac, SignedContent}};
    ///
    /// let verifier = BodyHmac::new("X-Signature", Secret::new("key")?)?
    ///     .with_timestamp_header("X-Timestamp", SignedContent::TimestampDotBody)?;
    /// assert!(format!("{verifier:?}").contains("x-timestamp"));
    /// # Ok::<(), vocals_callback::ConfigError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ConfigError`] of kind [`InvalidName`](ConfigErrorKind::InvalidName) when `header`
    /// is not a valid header name, [`NotApplicable`](ConfigErrorKind::NotApplicable) for the
    /// [`stripe`](Self::stripe) format, whose timestamp is inside the signature header.
    pub fn with_timestamp_header(
        mut self,
        header: &str,
        content: SignedContent,
    ) -> Result<Self, ConfigError> {
        let name = header_name(header)?;
        match &mut self.format {
            Format::Plain { timestamp, .. } => *timestamp = Some((name, content)),
            Format::StripePairs => return Err(not_for_stripe()),
        }
        Ok(self)
    }

    /// Sets the encoding of the MAC (default [`Encoding::Hex`]; [`Encoding::Base64`] for
    /// [`shopify`](Self::shopify)).
    ///
    /// ```
    /// use vocals_callback::{Secret, verify::{BodyHmac, Encoding}};
    ///
    /// let verifier = BodyHmac::new("X-Signature", Secret::new("key")?)?.with_encoding(Encoding::Base64);
    /// assert!(format!("{verifier:?}").contains("Base64"));
    /// # Ok::<(), vocals_callback::ConfigError>(())
    /// ```
    #[must_use]
    pub fn with_encoding(mut self, encoding: Encoding) -> Self {
        self.encoding = encoding;
        self
    }

    /// Sets the text that must precede the MAC in the header, such as `sha256=` (matched
    /// exactly, case included). An empty prefix means none.
    ///
    /// ```
    /// use vocals_callback::{Secret, verify::BodyHmac};
    ///
    /// let verifier = BodyHmac::new("X-Hub-Signature-256", Secret::new("key")?)?.with_prefix("sha256=")?;
    /// assert!(verifier.with_prefix("sha 256").is_err());
    /// # Ok::<(), vocals_callback::ConfigError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ConfigError`] of kind [`InvalidPrefix`](ConfigErrorKind::InvalidPrefix) when
    /// `prefix` is not visible ASCII, [`NotApplicable`](ConfigErrorKind::NotApplicable) for
    /// the [`stripe`](Self::stripe) format.
    pub fn with_prefix(mut self, prefix: &str) -> Result<Self, ConfigError> {
        if !prefix.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ConfigError::new(
                ConfigErrorKind::InvalidPrefix,
                "a signature prefix must be visible ASCII",
            ));
        }
        match &mut self.format {
            Format::Plain { prefix: p, .. } => *p = Box::from(prefix),
            Format::StripePairs => return Err(not_for_stripe()),
        }
        Ok(self)
    }

    /// Sets the tolerance window (default 300 s), applied in both directions when a
    /// timestamp is read.
    ///
    /// ```
    /// use std::time::Duration;
    /// use vocals_callback::{Secret, verify::BodyHmac};
    ///
    /// let verifier = BodyHmac::slack(Secret::new("key")?).with_tolerance(Duration::from_secs(60))?;
    /// assert_eq!(verifier.tolerance(), Duration::from_secs(60));
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

    /// The tolerance window.
    #[must_use]
    pub fn tolerance(&self) -> Duration {
        self.tolerance
    }

    /// The first key whose MAC of `parts` equals one of `macs`.
    fn check(&self, parts: &[&[u8]], macs: &[[u8; 32]]) -> Option<Verified> {
        let label = self.keys.find(parts, &macs.iter().copied())?;
        Some(Verified::new(Self::SCHEME, Some(label)))
    }

    fn verify_plain(
        &self,
        req: &VerifyRequest<'_>,
        prefix: &str,
        timestamp: Option<&(HeaderName, SignedContent)>,
    ) -> Result<Verified, Rejection> {
        let headers = req.headers();
        let signature = header::required(headers, &self.header, RejectionKind::MissingSignature)?;
        let stamp = match timestamp {
            Some((name, content)) => {
                let text = header::required(headers, name, RejectionKind::MissingTimestamp)?;
                let ts = time::parse_timestamp(text)?;
                Some((text, ts, *content))
            }
            None => None,
        };
        if let Some((_, ts, _)) = stamp {
            time::check_window(ts, req.now(), self.tolerance)?;
        }
        let mac = signature
            .strip_prefix(prefix)
            .and_then(|text| decode_mac(text, self.encoding))
            .ok_or(Rejection::new(RejectionKind::MalformedSignature))?;
        let body = req.body();
        let verified = match stamp {
            None => self.check(&[body], std::slice::from_ref(&mac)),
            Some((text, _, SignedContent::TimestampDotBody)) => {
                self.check(&[text.as_bytes(), b".", body], std::slice::from_ref(&mac))
            }
            Some((text, _, SignedContent::SlackV0)) => self.check(
                &[b"v0:", text.as_bytes(), b":", body],
                std::slice::from_ref(&mac),
            ),
        };
        let verified = verified.ok_or(Rejection::new(RejectionKind::InvalidSignature))?;
        Ok(match stamp {
            Some((_, ts, _)) => verified.with_timestamp(ts),
            None => verified,
        })
    }

    fn verify_stripe(&self, req: &VerifyRequest<'_>) -> Result<Verified, Rejection> {
        let value = header::required(req.headers(), &self.header, RejectionKind::MissingSignature)?;
        let mut ts_text = None;
        for (key, val) in value.split(',').filter_map(|item| item.split_once('=')) {
            if key == "t" && ts_text.replace(val).is_some() {
                return Err(RejectionKind::MalformedSignature.into());
            }
        }
        let ts_text = ts_text.ok_or(Rejection::new(RejectionKind::MissingTimestamp))?;
        let ts = time::parse_timestamp(ts_text)?;
        time::check_window(ts, req.now(), self.tolerance)?;
        let encoding = self.encoding;
        let macs: Vec<[u8; 32]> = value
            .split(',')
            .filter_map(|item| item.strip_prefix("v1="))
            .filter_map(|text| decode_mac(text, encoding))
            .collect();
        if macs.is_empty() {
            return Err(RejectionKind::MalformedSignature.into());
        }
        self.check(&[ts_text.as_bytes(), b".", req.body()], &macs)
            .map(|verified| verified.with_timestamp(ts))
            .ok_or(RejectionKind::InvalidSignature.into())
    }
}

fn not_for_stripe() -> ConfigError {
    ConfigError::new(
        ConfigErrorKind::NotApplicable,
        "the Stripe format carries its timestamp and version inside the signature header",
    )
}

fn header_name(name: &str) -> Result<HeaderName, ConfigError> {
    HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| ConfigError::new(ConfigErrorKind::InvalidName, "not a valid HTTP header name"))
}

/// A 32-byte MAC from its text, or `None` when it is not exactly that in `encoding`.
fn decode_mac(text: &str, encoding: Encoding) -> Option<[u8; 32]> {
    match encoding {
        Encoding::Hex => encoding::hex_mac(text.as_bytes()),
        Encoding::Base64 => encoding::base64_mac(text.as_bytes()),
    }
}

impl Verifier for BodyHmac {
    fn verify(&self, req: &VerifyRequest<'_>) -> Result<Verified, Rejection> {
        match &self.format {
            Format::Plain { prefix, timestamp } => {
                self.verify_plain(req, prefix, timestamp.as_ref())
            }
            Format::StripePairs => self.verify_stripe(req),
        }
    }
}

impl fmt::Debug for BodyHmac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let labels = self.keys.labels();
        f.debug_struct("BodyHmac")
            .field("header", &self.header)
            .field("format", &self.format)
            .field("encoding", &self.encoding)
            .field("keys", &labels)
            .field("tolerance", &self.tolerance)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_decode_only_in_their_exact_form() {
        let hex = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        let mac = decode_mac(hex, Encoding::Hex).unwrap();
        assert_eq!(
            decode_mac(&hex.to_ascii_uppercase(), Encoding::Hex),
            Some(mac)
        );
        for bad in [
            "",
            &hex[..62],
            "zz",
            &format!("{hex}00"),
            &hex.replace('7', "g"),
        ] {
            assert_eq!(decode_mac(bad, Encoding::Hex), None, "{bad}");
        }
        let b64 = "plW8VGqq0nDMIEhDqaNNW99asdUCy7EIqLZVcQwtAZ0=";
        assert!(decode_mac(b64, Encoding::Base64).is_some());
        for bad in [
            "plW8VGqq0nDMIEhDqaNNW99asdUCy7EIqLZVcQwtAZ0",
            "plW8VGqq0nDMIEhDqaNNW99asdUCy7EIqLZVcQwtAZ1=",
            "plW8VGqq0nDMIEhDqaNNW99asdUCy7EIqLZVcQwt-Z0=",
            hex,
        ] {
            assert_eq!(decode_mac(bad, Encoding::Base64), None, "{bad}");
        }
    }
}
