//! Proving that a callback came from the provider.
//!
//! A [`Verifier`] looks at one request (headers, query string, peer address, raw body, the
//! task id read from the body, and the current time) and answers [`Verified`] or a typed
//! [`Rejection`]. Every configured verifier must pass. Verifiers are plain values with no
//! I/O; the time comes in with the request, so every time rule is testable with a fixed
//! clock.
//!
//! Built-ins:
//!
//! | verifier | for | reads |
//! |---|---|---|
//! | [`KieSignature`] | kie.ai's `X-Webhook-Signature` over `task_id.timestamp` | headers, task id |
//! | [`BindingCache`] | (not a verifier) binds a `KieSignature` pass to its body | body digest |
//! | [`BodyHmac`] | GitHub-, Slack-, Stripe- and Shopify-style HMACs of the raw body | headers, body |
//! | [`StandardWebhooks`] | the Standard Webhooks spec (`webhook-*`, `whsec_` keys) | headers, body |
//! | [`UrlToken`] | a secret in the `callBackUrl` query (sunoapi.org and api.box sign nothing) | query |
//! | [`IpAllowlist`] | the sender's address, through trusted proxies | peer, `X-Forwarded-For` |
//!
//! Each rejection names its kind and carries the status of the service's status table
//! (401 for signatures, timestamps and tokens; 403 for addresses; 400 for repeated or
//! binary headers and a missing task id; 503 with `Retry-After` for a full binding cache).

use std::{fmt, net::IpAddr, sync::Arc, time::SystemTime};

use http::HeaderMap;

use crate::rejection::Rejection;

mod binding;
mod body_hmac;
pub(crate) mod chain;
mod digest;
mod encoding;
mod header;
mod ip;
pub(crate) mod keys;
mod kie;
mod standard;
pub(crate) mod time;
mod token;

#[cfg(feature = "redis")]
pub(crate) use binding::conflict as binding_conflict;
pub use binding::{BindingCache, BindingStore, COLLISION_WINDOW, DEFAULT_MEMORY_LIMIT};
pub use body_hmac::{BodyHmac, Encoding, SignedContent};
pub use digest::{BodyDigest, Digested};
pub use ip::{IpAllowlist, peer_from_extensions};
pub use kie::KieSignature;
pub use standard::StandardWebhooks;
pub use token::UrlToken;

/// What a verifier sees of one request. Build with [`VerifyRequest::new`].
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use vocals_callback::verify::VerifyRequest;
///
/// let headers = http::HeaderMap::new();
/// let req = VerifyRequest::new(&headers, b"{}", UNIX_EPOCH + Duration::from_secs(1_769_670_760))
///     .with_task_id(Some("ee9c2715375b7837f8bb51d641ff5863"))
///     .with_query(Some("token=abc"));
/// assert_eq!(req.task_id(), Some("ee9c2715375b7837f8bb51d641ff5863"));
/// ```
#[derive(Clone, Copy)]
pub struct VerifyRequest<'a> {
    headers: &'a HeaderMap,
    body: &'a [u8],
    now: SystemTime,
    query: Option<&'a str>,
    peer: Option<IpAddr>,
    task_id: Option<&'a str>,
}

impl<'a> VerifyRequest<'a> {
    /// A request with its headers, raw body and the current time.
    #[must_use]
    pub fn new(headers: &'a HeaderMap, body: &'a [u8], now: SystemTime) -> Self {
        Self {
            headers,
            body,
            now,
            query: None,
            peer: None,
            task_id: None,
        }
    }

    /// Sets the query string of the request URI (without `?`).
    #[must_use]
    pub fn with_query(mut self, query: Option<&'a str>) -> Self {
        self.query = query;
        self
    }

    /// Sets the address of the TCP peer.
    #[must_use]
    pub fn with_peer(mut self, peer: Option<IpAddr>) -> Self {
        self.peer = peer;
        self
    }

    /// Sets `data.task_id`, read from the body by the envelope parse.
    #[must_use]
    pub fn with_task_id(mut self, task_id: Option<&'a str>) -> Self {
        self.task_id = task_id;
        self
    }

    /// The request headers.
    #[must_use]
    pub fn headers(&self) -> &'a HeaderMap {
        self.headers
    }

    /// The raw body, exactly as received.
    #[must_use]
    pub fn body(&self) -> &'a [u8] {
        self.body
    }

    /// The current time.
    #[must_use]
    pub fn now(&self) -> SystemTime {
        self.now
    }

    /// The query string, if any.
    #[must_use]
    pub fn query(&self) -> Option<&'a str> {
        self.query
    }

    /// The TCP peer's address, if known.
    #[must_use]
    pub fn peer(&self) -> Option<IpAddr> {
        self.peer
    }

    /// `data.task_id`, if the body has one.
    #[must_use]
    pub fn task_id(&self) -> Option<&'a str> {
        self.task_id
    }
}

impl fmt::Debug for VerifyRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values and the body may hold signatures and secrets: only sizes and ids.
        f.debug_struct("VerifyRequest")
            .field("headers", &self.headers.len())
            .field("body_len", &self.body.len())
            .field("now", &self.now)
            .field("peer", &self.peer)
            .field("task_id", &self.task_id)
            .finish_non_exhaustive()
    }
}

/// A passed check: which scheme, which key when the scheme has several, and when the
/// request was signed when the scheme signs a timestamp.
///
/// ```
/// use std::{sync::Arc, time::{Duration, UNIX_EPOCH}};
/// use vocals_callback::verify::Verified;
///
/// let verified = Verified::new("my_scheme", Some(Arc::from("2026-key"))).with_timestamp(1_769_670_760);
/// assert_eq!(verified.key_label(), Some("2026-key"));
/// assert_eq!(verified.signed_at(), Some(UNIX_EPOCH + Duration::from_secs(1_769_670_760)));
/// assert!(verified.signature().is_none());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    scheme: &'static str,
    key_label: Option<Arc<str>>,
    timestamp: Option<u64>,
    signature: Option<Signed>,
}

impl Verified {
    /// A pass by `scheme`, with the matching key's label if any.
    #[must_use]
    pub fn new(scheme: &'static str, key_label: Option<Arc<str>>) -> Self {
        Self {
            scheme,
            key_label,
            timestamp: None,
            signature: None,
        }
    }

    /// The same pass, for a request signed at `timestamp` (Unix seconds, as the signature
    /// covers it).
    #[must_use]
    pub fn with_timestamp(mut self, timestamp: u64) -> Self {
        self.timestamp = Some(timestamp);
        self
    }

    /// The same pass, for a signature whose MAC does **not** cover the body: the service
    /// binds it to the body it came with (see [`BindingStore`]). Sets the timestamp too.
    #[must_use]
    pub fn with_signature(mut self, signature: Signed) -> Self {
        self.timestamp = Some(signature.timestamp);
        self.signature = Some(signature);
        self
    }

    /// The scheme that passed (`"kie_signature"`, `"standard_webhooks"`, …).
    #[must_use]
    pub fn scheme(&self) -> &'static str {
        self.scheme
    }

    /// The label of the key that matched, for schemes with rotation.
    #[must_use]
    pub fn key_label(&self) -> Option<&str> {
        self.key_label.as_deref()
    }

    /// The scheme, the label and the timestamp, for the [`Delivery`](crate::Delivery) of
    /// the event (the label moved, not copied).
    pub(crate) fn into_signer(self) -> (&'static str, Option<Arc<str>>, Option<u64>) {
        (self.scheme, self.key_label, self.timestamp)
    }

    /// When the request was signed, for schemes that sign a timestamp.
    #[must_use]
    pub fn signed_at(&self) -> Option<SystemTime> {
        self.timestamp
            .map(|secs| SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs))
    }

    /// The signature to bind to the body, when the scheme's MAC does not cover it.
    #[must_use]
    pub fn signature(&self) -> Option<&Signed> {
        self.signature.as_ref()
    }
}

/// A signature whose MAC does not cover the body (the provider's rule signs only
/// `task_id.timestamp`): its MAC bytes, its timestamp, and the window its verifier accepts
/// it in. A [`BindingStore`] remembers it with the first body it came with until the window
/// ends, so the same header pair over another body is refused.
///
/// ```
/// use std::time::Duration;
/// use vocals_callback::verify::Signed;
///
/// let signed = Signed::new([7; 32], 1_769_670_760, Duration::from_secs(300));
/// assert_eq!(signed.timestamp(), 1_769_670_760);
/// assert_eq!(signed.window(), Duration::from_secs(300));
/// assert_eq!(signed.mac(), &[7; 32]);
/// assert!(!format!("{signed:?}").contains("7, 7")); // the MAC is not printed
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Signed {
    pub(crate) mac: [u8; 32],
    pub(crate) timestamp: u64,
    /// The verifier's tolerance: the signature is accepted until `timestamp + window`, so
    /// its binding must live at least that long.
    pub(crate) window: std::time::Duration,
}

impl Signed {
    /// A signature of `mac`, made at `timestamp` (Unix seconds), accepted until
    /// `timestamp + window`.
    #[must_use]
    pub fn new(mac: [u8; 32], timestamp: u64, window: std::time::Duration) -> Self {
        Self {
            mac,
            timestamp,
            window,
        }
    }

    /// The MAC bytes (the key a binding store files the signature under).
    #[must_use]
    pub fn mac(&self) -> &[u8; 32] {
        &self.mac
    }

    /// When it was signed, in Unix seconds.
    #[must_use]
    pub fn timestamp(&self) -> u64 {
        self.timestamp
    }

    /// How long past its timestamp its verifier accepts it.
    #[must_use]
    pub fn window(&self) -> std::time::Duration {
        self.window
    }
}

impl fmt::Debug for Signed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A MAC in a log is one half of a replay: print only when it was made.
        f.debug_struct("Signed")
            .field("timestamp", &self.timestamp)
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

/// What a verifier makes of a request's headers alone, before its body is read.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeaderCheck {
    /// Passed: this verifier reads only headers, query and peer, and needs nothing more.
    Verified(Verified),
    /// Nothing refused yet: call [`Verifier::verify`] once the body is read.
    NeedsBody,
}

/// A check of a request's source. Implementations must not do I/O or block: they run on
/// the request path.
///
/// The service asks every verifier twice at most, in this order:
///
/// 1. [`check_headers`](Self::check_headers), before any body byte is read: a verifier that
///    needs only the headers, the query or the peer (a URL token, an address allowlist)
///    answers the whole check here; one that needs the body refuses what can never pass (a
///    missing signature header) and asks for the body;
/// 2. [`verify`](Self::verify), with the body and the task id read from it, for the
///    verifiers that asked for it.
///
/// Every verifier must pass.
///
/// ```
/// use vocals_callback::{Rejection, RejectionKind, verify::{HeaderCheck, Verified, Verifier, VerifyRequest}};
///
/// /// Accepts requests that carry `x-shared-secret: open-sesame` (an example: compare
/// /// secrets in constant time in real code, as `UrlToken` does).
/// #[derive(Debug)]
/// struct SharedSecret;
///
/// impl Verifier for SharedSecret {
///     fn check_headers(&self, req: &VerifyRequest<'_>) -> Result<HeaderCheck, Rejection> {
///         self.verify(req).map(HeaderCheck::Verified)
///     }
///
///     fn verify(&self, req: &VerifyRequest<'_>) -> Result<Verified, Rejection> {
///         match req.headers().get("x-shared-secret") {
///             Some(v) if v == "open-sesame" => Ok(Verified::new("shared_secret", None)),
///             Some(_) => Err(RejectionKind::InvalidToken.into()),
///             None => Err(RejectionKind::MissingToken.into()),
///         }
///     }
/// }
/// ```
pub trait Verifier: Send + Sync + fmt::Debug + 'static {
    /// Checks `req` in full: headers, query, peer, raw body and the task id read from it.
    ///
    /// # Errors
    ///
    /// A [`Rejection`] saying why the request is refused.
    fn verify(&self, req: &VerifyRequest<'_>) -> Result<Verified, Rejection>;

    /// Checks what can be checked before the body is read. `req` has an empty body and no
    /// task id. By default asks for the body.
    ///
    /// # Errors
    ///
    /// A [`Rejection`] that [`verify`](Self::verify) would give too.
    fn check_headers(&self, req: &VerifyRequest<'_>) -> Result<HeaderCheck, Rejection> {
        let _ = req;
        Ok(HeaderCheck::NeedsBody)
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::{RejectionKind, Secret};

    #[test]
    fn header_only_verifiers_answer_before_the_body_and_body_verifiers_ask_for_it() {
        let token = UrlToken::new("token", Secret::new("t0ken").unwrap()).unwrap();
        let ips = IpAllowlist::new(["203.0.113.0/24"]).unwrap();
        let kie = KieSignature::new(Secret::new("key").unwrap());
        let mut headers = HeaderMap::new();
        headers.insert("x-webhook-timestamp", "1".parse().unwrap());
        headers.insert("x-webhook-signature", "abc".parse().unwrap());
        let now = UNIX_EPOCH + Duration::from_secs(1);
        let req = |query, peer: &str| {
            VerifyRequest::new(&headers, b"", now)
                .with_query(Some(query))
                .with_peer(peer.parse().ok())
        };
        let ok = req("token=t0ken", "203.0.113.9");
        let scheme = |check| match check {
            HeaderCheck::Verified(v) => v.scheme(),
            HeaderCheck::NeedsBody => "needs body",
        };
        assert_eq!(scheme(token.check_headers(&ok).unwrap()), "url_token");
        assert_eq!(scheme(ips.check_headers(&ok).unwrap()), "ip_allowlist");
        assert_eq!(scheme(kie.check_headers(&ok).unwrap()), "needs body");
        let bad = req("token=nope", "198.51.100.1");
        assert_eq!(
            token.check_headers(&bad).unwrap_err().kind(),
            RejectionKind::InvalidToken
        );
        assert_eq!(
            ips.check_headers(&bad).unwrap_err().kind(),
            RejectionKind::PeerNotAllowed
        );
        let unsigned = HeaderMap::new();
        assert_eq!(
            kie.check_headers(&VerifyRequest::new(&unsigned, b"", now))
                .unwrap_err()
                .kind(),
            RejectionKind::MissingTimestamp
        );
    }
}
