//! Why a request was refused: one type with stable kinds, each with its HTTP status.

use std::{error::Error as StdError, fmt, time::Duration};

use http::StatusCode;

use crate::error::{ParseError, ParseErrorKind};

/// How long to ask the sender to wait after a refusal that is ours, not theirs (a store
/// that failed, a service shutting down).
pub(crate) const RETRY_SOON: Duration = Duration::from_secs(5);

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
    /// A signature seen with another body of *another stage*, at most
    /// [`COLLISION_WINDOW`](crate::verify::COLLISION_WINDOW) (2 s) after the first: what
    /// the provider's own second callback of one task looks like when it signed both in
    /// the same second (the MAC covers only `task_id.timestamp`). Refused all the same,
    /// 401 (it cannot be told from a forgery for sure); the provider retries it under a new
    /// timestamp, which passes. Counted apart from
    /// [`SignatureReused`](Self::SignatureReused) so that an alert on forgeries does not
    /// fire on genuine traffic. A forger who swaps in a body of another stage within 2 s of
    /// the genuine delivery is counted here rather than there, and refused either way; a
    /// forged body of the *same* stage (the attacker's own media under a captured
    /// `complete`) is always `signature_reused`.
    SignatureCollision,
    /// The binding cache is full of live entries; it refuses rather than forget one.
    /// 503 with `Retry-After`.
    BindingCacheFull,
    /// The method is not `POST`. 405 with `Allow: POST`.
    MethodNotAllowed,
    /// `Content-Type` is missing or not `application/json`. 415.
    UnsupportedMediaType,
    /// A `Content-Encoding` other than `identity`. 415: the signature covers the bytes as
    /// sent, and decompressing unverified input is how zip bombs get in.
    UnsupportedEncoding,
    /// The body is over the service's limit (declared in `Content-Length` or counted while
    /// reading). 413.
    BodyTooLarge,
    /// The body did not arrive within the read deadline. 408.
    BodyTimeout,
    /// The body stream failed (the connection broke mid-body). 400.
    BodyUnreadable,
    /// The body is not a callback: not JSON, or without the fields that identify it (see
    /// [`Rejection::parse_error`]). 400.
    InvalidBody,
    /// Another delivery of the same `(task_id, stage)` is being handled right now. 409 with
    /// `Retry-After`.
    InFlight,
    /// The handler returned an error; the claim was released so a retry runs it again. 500.
    HandlerFailed,
    /// The handler panicked; the claim was released so a retry runs it again. 500.
    HandlerPanicked,
    /// The handler asked for a later retry ([`HandlerError::retry_later`](crate::HandlerError::retry_later)).
    /// 503 with `Retry-After`.
    HandlerRetry,
    /// The handler ran past its deadline; the claim was released. 503 with `Retry-After`.
    HandlerTimeout,
    /// The dispatch queue is full. 503 with `Retry-After`.
    QueueFull,
    /// The service is shutting down and takes no new events. 503 with `Retry-After`.
    ShuttingDown,
    /// The dedup store failed or is full of events being handled. 503 with `Retry-After`.
    StoreUnavailable,
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
            Self::SignatureCollision => "signature_collision",
            Self::BindingCacheFull => "binding_cache_full",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::UnsupportedEncoding => "unsupported_encoding",
            Self::BodyTooLarge => "body_too_large",
            Self::BodyTimeout => "body_timeout",
            Self::BodyUnreadable => "body_unreadable",
            Self::InvalidBody => "invalid_body",
            Self::InFlight => "in_flight",
            Self::HandlerFailed => "handler_failed",
            Self::HandlerPanicked => "handler_panicked",
            Self::HandlerRetry => "handler_retry",
            Self::HandlerTimeout => "handler_timeout",
            Self::QueueFull => "queue_full",
            Self::ShuttingDown => "shutting_down",
            Self::StoreUnavailable => "store_unavailable",
        }
    }

    /// The HTTP status this kind is answered with (the table of the
    /// [`service`](crate::service) module docs).
    #[must_use]
    pub const fn status(self) -> StatusCode {
        match self {
            Self::DuplicateHeader
            | Self::InvalidHeader
            | Self::MissingTaskId
            | Self::BodyUnreadable
            | Self::InvalidBody => StatusCode::BAD_REQUEST,
            Self::MissingSignature
            | Self::MalformedSignature
            | Self::InvalidSignature
            | Self::MissingTimestamp
            | Self::InvalidTimestamp
            | Self::TimestampTooOld
            | Self::TimestampTooNew
            | Self::MissingToken
            | Self::InvalidToken
            | Self::SignatureReused
            | Self::SignatureCollision => StatusCode::UNAUTHORIZED,
            Self::PeerNotAllowed => StatusCode::FORBIDDEN,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::InFlight => StatusCode::CONFLICT,
            Self::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType | Self::UnsupportedEncoding => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            Self::HandlerFailed | Self::HandlerPanicked => StatusCode::INTERNAL_SERVER_ERROR,
            Self::BindingCacheFull
            | Self::HandlerRetry
            | Self::HandlerTimeout
            | Self::QueueFull
            | Self::ShuttingDown
            | Self::StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// Every kind, in declaration order (for per-kind counters and exhaustive tests). A
    /// slice, so adding a kind changes no type.
    pub const ALL: &'static [Self] = &[
        Self::MissingSignature,
        Self::MalformedSignature,
        Self::InvalidSignature,
        Self::MissingTimestamp,
        Self::InvalidTimestamp,
        Self::TimestampTooOld,
        Self::TimestampTooNew,
        Self::DuplicateHeader,
        Self::InvalidHeader,
        Self::MissingTaskId,
        Self::MissingToken,
        Self::InvalidToken,
        Self::PeerNotAllowed,
        Self::SignatureReused,
        Self::SignatureCollision,
        Self::BindingCacheFull,
        Self::MethodNotAllowed,
        Self::UnsupportedMediaType,
        Self::UnsupportedEncoding,
        Self::BodyTooLarge,
        Self::BodyTimeout,
        Self::BodyUnreadable,
        Self::InvalidBody,
        Self::InFlight,
        Self::HandlerFailed,
        Self::HandlerPanicked,
        Self::HandlerRetry,
        Self::HandlerTimeout,
        Self::QueueFull,
        Self::ShuttingDown,
        Self::StoreUnavailable,
    ];

    /// How many kinds there are (the length of per-kind counter arrays).
    pub(crate) const COUNT: usize = Self::ALL.len();

    /// This kind's position in [`ALL`](Self::ALL), which lists the kinds in declaration
    /// order (a test holds it to that).
    pub(crate) const fn index(self) -> usize {
        self as usize
    }

    /// `true` when the sender, not the receiver, is at fault (4xx): logged below `warn`.
    #[must_use]
    pub fn is_client_error(self) -> bool {
        self.status().is_client_error()
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
    parse_error: Option<ParseErrorKind>,
}

impl Rejection {
    /// A rejection of `kind` with no `Retry-After`.
    #[cold]
    #[must_use]
    pub const fn new(kind: RejectionKind) -> Self {
        Self {
            kind,
            retry_after: None,
            parse_error: None,
        }
    }

    /// The same rejection, asking the sender to retry after `delay` (a `Retry-After`
    /// header, in whole seconds rounded up).
    ///
    /// ```
    /// use std::time::Duration;
    /// use vocals_callback::{Rejection, RejectionKind};
    ///
    /// let busy = Rejection::new(RejectionKind::InFlight).with_retry_after(Duration::from_secs(3));
    /// assert_eq!(busy.retry_after(), Some(Duration::from_secs(3)));
    /// ```
    #[must_use]
    pub const fn with_retry_after(mut self, delay: Duration) -> Self {
        self.retry_after = Some(delay);
        self
    }

    /// The refusal of a service that is shutting down: the provider retries, perhaps to
    /// another replica.
    pub(crate) const SHUTTING_DOWN: Self =
        Self::new(RejectionKind::ShuttingDown).with_retry_after(RETRY_SOON);

    /// A refusal that is ours, not the sender's (a store down, the service busy): retry soon.
    #[cold]
    pub(crate) const fn retry_soon(kind: RejectionKind) -> Self {
        Self::new(kind).with_retry_after(RETRY_SOON)
    }

    /// The kind.
    #[must_use]
    pub const fn kind(&self) -> RejectionKind {
        self.kind
    }

    /// The HTTP status to answer.
    #[must_use]
    pub const fn status(&self) -> StatusCode {
        self.kind.status()
    }

    /// The delay for a `Retry-After` header, when the status asks for one.
    #[must_use]
    pub const fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// For [`InvalidBody`](RejectionKind::InvalidBody), what the parser found wrong.
    ///
    /// ```
    /// use vocals_callback::{parse, ParseErrorKind, Rejection, RejectionKind};
    ///
    /// let rejection = Rejection::from(parse(b"[1]").unwrap_err());
    /// assert_eq!(rejection.kind(), RejectionKind::InvalidBody);
    /// assert_eq!(rejection.parse_error(), Some(ParseErrorKind::RootNotObject));
    /// let missing = Rejection::from(parse(br#"{"code":200,"data":{}}"#).unwrap_err());
    /// assert_eq!(missing.kind(), RejectionKind::MissingTaskId);
    /// ```
    #[must_use]
    pub fn parse_error(&self) -> Option<ParseErrorKind> {
        self.parse_error
    }
}

impl From<ParseError> for Rejection {
    #[cold]
    fn from(err: ParseError) -> Self {
        let kind = match err.kind() {
            ParseErrorKind::MissingTaskId => RejectionKind::MissingTaskId,
            ParseErrorKind::BodyTooLarge => RejectionKind::BodyTooLarge,
            _ => RejectionKind::InvalidBody,
        };
        Self {
            kind,
            retry_after: None,
            parse_error: Some(err.kind()),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_lists_every_kind_at_its_index_with_a_distinct_name() {
        for (i, kind) in RejectionKind::ALL.iter().enumerate() {
            assert_eq!(kind.index(), i, "{kind}");
        }
        let mut names: Vec<_> = RejectionKind::ALL.iter().map(|k| k.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), RejectionKind::ALL.len());
    }

    #[test]
    fn the_status_tables_of_the_service_docs_and_the_readme_name_every_kind_once() {
        let service = include_str!("service/mod.rs");
        let readme = include_str!("../README.md");
        let rows = |text: &'static str, prefix: &'static str| {
            text.lines().filter_map(move |l| l.strip_prefix(prefix))
        };
        status_table_names_every_kind_once(rows(service, "//! | "));
        status_table_names_every_kind_once(rows(readme, "| "));
    }

    fn status_table_names_every_kind_once<'a>(rows: impl Iterator<Item = &'a str>) {
        let mut named = Vec::new();
        for row in rows {
            let cells: Vec<&str> = row.split(" | ").collect();
            let [_, status, kinds, ..] = cells[..] else {
                continue;
            };
            if !status.starts_with(|c: char| c.is_ascii_digit()) {
                continue; // the header
            }
            for kind in kinds.split(", ").map(|k| k.trim_matches(['`', ' ', '|'])) {
                if kind.is_empty() {
                    continue;
                }
                let found = RejectionKind::ALL.iter().find(|k| k.as_str() == kind);
                let found = found.unwrap_or_else(|| panic!("{kind} is not a kind"));
                let code = found.status().as_u16().to_string();
                assert!(
                    status.starts_with(&code),
                    "{kind}: {status} in the table, {code}"
                );
                named.push(*found);
            }
        }
        named.sort_by_key(|k| k.index());
        assert_eq!(named, RejectionKind::ALL, "every kind, once");
    }
}
