//! What a failure code means.

use std::fmt;

use serde::{Serialize, Serializer};

/// The meaning of a failure `code`, from the union of the three providers' code tables.
///
/// The same number means different things on different sites (413 is "prompt too long" on
/// api.box and "audio matches an existing work" on kie.ai), so the variant names cover every
/// documented meaning and the provider's own `msg` stays available on the event. Codes no
/// table names are [`Other`](Self::Other).
///
/// ```
/// use vocals_callback::FailureKind;
///
/// assert_eq!(FailureKind::from_code(429), FailureKind::InsufficientCredits);
/// assert_eq!(FailureKind::from_code(531).code(), 531);
/// assert!(FailureKind::from_code(531).is_retryable());
/// assert_eq!(FailureKind::from_code(599), FailureKind::Other(599));
/// assert_eq!(FailureKind::from_code(599).as_str(), "other");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailureKind {
    /// 400: bad parameters, or a content violation (moderation, copyrighted lyrics).
    InvalidRequest,
    /// 401: the API key is invalid.
    Unauthorized,
    /// 408: timed out, or rate limited.
    TimedOut,
    /// 413: the prompt or style is too long (api.box), or the uploaded audio matches an
    /// existing work (kie.ai).
    TooLongOrMatched,
    /// 429: not enough credits.
    InsufficientCredits,
    /// 451: the source files could not be downloaded.
    DownloadFailed,
    /// 500: server error; retry later.
    ServerError,
    /// 501: audio generation failed.
    GenerationFailed,
    /// 531: generation failed and the credits were refunded; retry.
    GenerationFailedRefunded,
    /// Any other code, kept as sent.
    Other(u16),
}

impl FailureKind {
    /// The kind a code stands for.
    #[must_use]
    pub const fn from_code(code: u16) -> Self {
        match code {
            400 => Self::InvalidRequest,
            401 => Self::Unauthorized,
            408 => Self::TimedOut,
            413 => Self::TooLongOrMatched,
            429 => Self::InsufficientCredits,
            451 => Self::DownloadFailed,
            500 => Self::ServerError,
            501 => Self::GenerationFailed,
            531 => Self::GenerationFailedRefunded,
            other => Self::Other(other),
        }
    }

    /// The code this kind stands for.
    #[must_use]
    pub const fn code(self) -> u16 {
        match self {
            Self::InvalidRequest => 400,
            Self::Unauthorized => 401,
            Self::TimedOut => 408,
            Self::TooLongOrMatched => 413,
            Self::InsufficientCredits => 429,
            Self::DownloadFailed => 451,
            Self::ServerError => 500,
            Self::GenerationFailed => 501,
            Self::GenerationFailedRefunded => 531,
            Self::Other(code) => code,
        }
    }

    /// The stable snake_case name (`"other"` for [`Other`](Self::Other)).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::Unauthorized => "unauthorized",
            Self::TimedOut => "timed_out",
            Self::TooLongOrMatched => "too_long_or_matched",
            Self::InsufficientCredits => "insufficient_credits",
            Self::DownloadFailed => "download_failed",
            Self::ServerError => "server_error",
            Self::GenerationFailed => "generation_failed",
            Self::GenerationFailedRefunded => "generation_failed_refunded",
            Self::Other(_) => "other",
        }
    }

    /// `true` when the provider's docs say that submitting the task again may succeed
    /// (408, 500, 531); the others need a change first (parameters, key, credits, content).
    #[must_use]
    pub const fn is_retryable(self) -> bool {
        matches!(
            self,
            Self::TimedOut | Self::ServerError | Self::GenerationFailedRefunded
        )
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Serialised as its snake_case name.
impl Serialize for FailureKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_code_has_its_own_kind_and_maps_back() {
        let codes = [400, 401, 408, 413, 429, 451, 500, 501, 531];
        for code in codes {
            let kind = FailureKind::from_code(code);
            assert!(!matches!(kind, FailureKind::Other(_)), "{code}");
            assert_eq!(kind.code(), code);
        }
        let names: std::collections::HashSet<_> = codes
            .iter()
            .map(|c| FailureKind::from_code(*c).as_str())
            .collect();
        assert_eq!(names.len(), codes.len(), "names are distinct");
    }

    #[test]
    fn unknown_codes_are_kept() {
        assert_eq!(FailureKind::from_code(0), FailureKind::Other(0));
        assert_eq!(FailureKind::from_code(65535).code(), 65535);
    }
}
