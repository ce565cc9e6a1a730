//! Why a request was refused: one type with stable kinds, each with its HTTP status.

use std::{error::Error as StdError, fmt, time::Duration};

use http::StatusCode;

/// The stable name of a refusal. Each kind has exactly one [`status`](Self::status).
///
/// ```
/// use http::StatusCode;
/// use vocals_callback::RejectionKind;
///
/// assert_eq!(RejectionKind::SignatureReused.status(), StatusCode::UNAUTHORIZED);
/// assert_eq!(RejectionKind::SignatureReused.as_str(), "signature_reused");
/// assert_eq!(RejectionKind::PeerNotAllowed.status(), StatusCode::FORBIDDEN);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RejectionKind {
    /// The signature header is missing. 401.
    MissingSignature,
    /// The signature header is not in the scheme's format (wrong alphabet, length,
    /// prefix or version). 401.
    MalformedSignature,
    /// No configured key produces the signature. 401.
    InvalidSignature,
    /// The timestamp header is missing. 401.
    MissingTimestamp,
    /// The timestamp is not 1 to 10 ASCII digits. 401.
    InvalidTimestamp,
    /// The timestamp is older than the tolerance allows. 401.
    TimestampTooOld,
    /// The timestamp is further in the future than the tolerance allows. 401.
    TimestampTooNew,
    /// A verification header appears more than once. 400: which copy counts would be a
    /// guess, and guesses are where forgeries hide.
    DuplicateHeader,
    /// A header value is not visible ASCII. 400.
    InvalidHeader,
    /// The body has no `data.task_id`, which the signature covers. 400.
    MissingTaskId,
    /// The URL token is missing. 401.
    MissingToken,
    /// The URL token matches no configured token. 401.
    InvalidToken,
    /// The peer address (after trusted proxies) is not in the allowlist, or unknown. 403.
    PeerNotAllowed,
    /// A signature seen with another body inside its window: a replayed header pair over
    /// a swapped body. 401.
    SignatureReused,
    /// The binding cache is full of live entries; it refuses rather than forget one.
    /// 503 with `Retry-After`.
    BindingCacheFull,
}

impl RejectionKind {
    /// The stable snake_case name (used in response bodies and logs).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::MissingSignature => "missing_signature",
            Self::MalformedSignature => "malformed_signature",
            Self::InvalidSignature => "invalid_signature",
            Self::MissingTimestamp => "missing_timestamp",
            Self::InvalidTimestamp => "invalid_timestamp",
            Self::TimestampTooOld => "timestamp_too_old",
            Self::TimestampTooNew => "timestamp_too_new",
            Self::DuplicateHeader => "duplicate_header",
            Self::InvalidHeader => "invalid_header",
            Self::MissingTaskId => "missing_task_id",
            Self::MissingToken => "missing_token",
            Self::InvalidToken => "invalid_token",
            Self::PeerNotAllowed => "peer_not_allowed",
            Self::SignatureReused => "signature_reused",
            Self::BindingCacheFull => "binding_cache_full",
        }
    }

    /// The HTTP status of DESIGN's status table for this kind.
    #[must_use]
    pub const fn status(self) -> StatusCode {
        match self {
            Self::DuplicateHeader | Self::InvalidHeader | Self::MissingTaskId => {
                StatusCode::BAD_REQUEST
            }
            Self::PeerNotAllowed => StatusCode::FORBIDDEN,
            Self::BindingCacheFull => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::UNAUTHORIZED,
        }
    }
}

impl fmt::Display for RejectionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A refused request: its [`kind`](Self::kind), the status to answer, and for 503s how long
/// the sender should wait. It never carries secrets, signatures or body content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rejection {
    kind: RejectionKind,
    retry_after: Option<Duration>,
}

impl Rejection {
    /// A rejection of `kind` with no `Retry-After`.
    #[cold]
    #[must_use]
    pub const fn new(kind: RejectionKind) -> Self {
        Self {
            kind,
            retry_after: None,
        }
    }

    /// A rejection the sender should retry after `delay`.
    #[cold]
    #[must_use]
    pub const fn retry_after(kind: RejectionKind, delay: Duration) -> Self {
        Self {
            kind,
            retry_after: Some(delay),
        }
    }

    /// The kind.
    #[must_use]
    pub fn kind(&self) -> RejectionKind {
        self.kind
    }

    /// The HTTP status to answer.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        self.kind.status()
    }

    /// The delay for a `Retry-After` header, when the status asks for one.
    #[must_use]
    pub fn retry_after_delay(&self) -> Option<Duration> {
        self.retry_after
    }
}

impl From<RejectionKind> for Rejection {
    fn from(kind: RejectionKind) -> Self {
        Self::new(kind)
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "request rejected: {}", self.kind)
    }
}

impl StdError for Rejection {}
