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
//! | [`UrlToken`] | a secret in the `callBackUrl` query (sunoapi.org signs nothing) | query |
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
mod digest;
mod header;
mod ip;
mod keys;
mod kie;
mod standard;
pub(crate) mod time;
mod token;

pub use binding::BindingCache;
pub(crate) use binding::Recalled;
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

/// A passed check: which scheme, and which key when the scheme has several.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    scheme: &'static str,
    key_label: Option<Arc<str>>,
    signature: Option<Signed>,
}

/// A signature whose MAC does not cover the body: its MAC bytes, its timestamp and the
/// window its verifier accepts it in. Opaque: the binding step and the recognition of
/// byte-identical retries read it ([`BindingCache`], [`Verifier::presented_signature`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signed {
    pub(crate) mac: [u8; 32],
    pub(crate) timestamp: u64,
    /// The verifier's tolerance: the signature is accepted until `timestamp + window`, so
    /// its binding must live at least that long.
    pub(crate) window: std::time::Duration,
}

impl Signed {
    pub(crate) fn new(mac: [u8; 32], timestamp: u64, window: std::time::Duration) -> Self {
        Self {
            mac,
            timestamp,
            window,
        }
    }
}

impl Verified {
    /// A pass by `scheme`, with the matching key's label if any.
    #[must_use]
    pub fn new(scheme: &'static str, key_label: Option<Arc<str>>) -> Self {
        Self {
            scheme,
            key_label,
            signature: None,
        }
    }

    pub(crate) fn with_signature(
        mut self,
        mac: [u8; 32],
        timestamp: u64,
        window: std::time::Duration,
    ) -> Self {
        self.signature = Some(Signed::new(mac, timestamp, window));
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

    /// The MAC and timestamp, when the scheme's MAC does not cover the body and the
    /// signature must be bound to it (see [`BindingCache`]).
    pub(crate) fn unbound_signature(&self) -> Option<&Signed> {
        self.signature.as_ref()
    }
}

/// A check of a request's source. Implementations must not do I/O or block: they run on
/// the request path.
pub trait Verifier: Send + Sync + fmt::Debug + 'static {
    /// Checks `req`.
    ///
    /// # Errors
    ///
    /// A [`Rejection`] saying why the request is refused.
    fn verify(&self, req: &VerifyRequest<'_>) -> Result<Verified, Rejection>;

    /// For a scheme whose MAC does not cover the body: the signature `req`'s headers
    /// present, read but **not checked** (`None` when they are missing or malformed, and by
    /// default). A service whose only body verifier this is looks it up in its
    /// [`BindingCache`]: a request with the signature, timestamp and body of one already
    /// verified, bound and answered is a byte-identical retry, and gets the same answer
    /// without the MAC and the parse. Nothing is accepted on this alone.
    fn presented_signature(&self, req: &VerifyRequest<'_>) -> Option<Signed> {
        let _ = req;
        None
    }

    /// `false` when the verifier reads only headers, query and peer, so a service can run
    /// it before reading the body.
    fn needs_body(&self) -> bool {
        true
    }

    /// The part of the check that needs no body (a required header is present), run by the
    /// service before it reads the body, so a request that can never pass costs no read.
    /// `req` has an empty body and no task id. Passes by default.
    ///
    /// # Errors
    ///
    /// A [`Rejection`] the full [`verify`](Self::verify) would give too.
    fn check_headers(&self, req: &VerifyRequest<'_>) -> Result<(), Rejection> {
        let _ = req;
        Ok(())
    }
}

/// Runs every verifier on `req`; all must pass. Returns each pass in order, or the first
/// rejection.
///
/// # Errors
///
/// The first verifier's [`Rejection`], in the order given (put the cheap, header-only
/// checks first).
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use vocals_callback::{RejectionKind, Secret, verify::{UrlToken, Verifier, VerifyRequest, verify_all}};
///
/// let token = UrlToken::new("token", Secret::new("s3cret-token")?)?;
/// let verifiers: [&dyn Verifier; 1] = [&token];
/// let headers = http::HeaderMap::new();
/// let now = UNIX_EPOCH + Duration::from_secs(1_769_670_760);
/// let ok = VerifyRequest::new(&headers, b"{}", now).with_query(Some("token=s3cret-token"));
/// assert_eq!(verify_all(verifiers, &ok)?.len(), 1);
/// let bad = VerifyRequest::new(&headers, b"{}", now).with_query(Some("token=guess"));
/// assert_eq!(verify_all(verifiers, &bad).unwrap_err().kind(), RejectionKind::InvalidToken);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn verify_all<'v>(
    verifiers: impl IntoIterator<Item = &'v dyn Verifier>,
    req: &VerifyRequest<'_>,
) -> Result<Vec<Verified>, Rejection> {
    verifiers.into_iter().map(|v| v.verify(req)).collect()
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::{RejectionKind, Secret};

    #[test]
    fn every_verifier_must_pass_and_the_first_refusal_is_returned() {
        let token = UrlToken::new("token", Secret::new("t0ken").unwrap()).unwrap();
        let ips = IpAllowlist::new(["203.0.113.0/24"]).unwrap();
        let verifiers: [&dyn Verifier; 2] = [&token, &ips];
        let headers = HeaderMap::new();
        let now = UNIX_EPOCH + Duration::from_secs(1);
        let req = |query, peer: &str| {
            VerifyRequest::new(&headers, b"", now)
                .with_query(Some(query))
                .with_peer(peer.parse().ok())
        };
        let passes = verify_all(verifiers, &req("token=t0ken", "203.0.113.9")).unwrap();
        let schemes: Vec<_> = passes.iter().map(Verified::scheme).collect();
        assert_eq!(schemes, ["url_token", "ip_allowlist"]);
        let kind = |q, p| verify_all(verifiers, &req(q, p)).unwrap_err().kind();
        assert_eq!(
            kind("token=t0ken", "198.51.100.1"),
            RejectionKind::PeerNotAllowed
        );
        assert_eq!(
            kind("token=nope", "198.51.100.1"),
            RejectionKind::InvalidToken
        );
        assert_eq!(
            kind("token=nope", "203.0.113.9"),
            RejectionKind::InvalidToken
        );
    }
}
