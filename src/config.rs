//! Configuration mistakes, refused when a verifier or service is built.

use std::{error::Error as StdError, fmt};

/// What is wrong with a configuration; see [`ConfigError::kind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConfigErrorKind {
    /// A secret is empty or only whitespace.
    EmptySecret,
    /// A secret has leading or trailing whitespace.
    PaddedSecret,
    /// A secret is not in the expected form (for example a `whsec_` key that is not
    /// base64, or whose key is shorter than 24 or longer than 64 bytes).
    InvalidSecret,
    /// Two keys have the same label.
    DuplicateLabel,
    /// A tolerance window of zero, or of an hour or more.
    InvalidTolerance,
    /// A header or query parameter name that HTTP does not allow.
    InvalidName,
    /// A signature prefix (such as `sha256=`) that is not visible ASCII.
    InvalidPrefix,
    /// A setting that the chosen format does not have (a prefix or a timestamp header for
    /// Stripe's format, which carries both inside its signature header).
    NotApplicable,
    /// A CIDR or address that does not parse.
    InvalidCidr,
    /// A size or count of zero where at least one is needed: a capacity, a body limit, a
    /// number of queue workers or attempts.
    ZeroCapacity,
    /// A verifier was given nothing to check against (no key, token or network).
    Empty,
    /// A service with no verifier, without
    /// [`insecure_accept_unverified`](crate::service::Builder::insecure_accept_unverified).
    NoVerifier,
    /// A duration of zero, or a handler deadline of 15 s or more (the sender gives up
    /// after 15 s, so a longer handler would be answered to nobody).
    InvalidDuration,
    /// A dedup retention shorter than 30 minutes (the provider retries for about 21).
    InvalidRetention,
    /// Queued dispatch needs a tokio runtime to spawn its workers, and none is running.
    NoRuntime,
    /// A service path that does not start with `/`.
    InvalidPath,
    /// The operating system gave no random bytes for a key the library draws itself (the
    /// binding digest's).
    NoRandomness,
    /// A store URL that does not parse (the Redis URL of feature `redis`).
    InvalidUrl,
}

impl ConfigErrorKind {
    /// A stable snake_case name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::EmptySecret => "empty_secret",
            Self::PaddedSecret => "padded_secret",
            Self::InvalidSecret => "invalid_secret",
            Self::DuplicateLabel => "duplicate_label",
            Self::InvalidTolerance => "invalid_tolerance",
            Self::InvalidName => "invalid_name",
            Self::InvalidPrefix => "invalid_prefix",
            Self::NotApplicable => "not_applicable",
            Self::InvalidCidr => "invalid_cidr",
            Self::ZeroCapacity => "zero_capacity",
            Self::Empty => "empty",
            Self::NoVerifier => "no_verifier",
            Self::InvalidDuration => "invalid_duration",
            Self::InvalidRetention => "invalid_retention",
            Self::NoRuntime => "no_runtime",
            Self::InvalidPath => "invalid_path",
            Self::NoRandomness => "no_randomness",
            Self::InvalidUrl => "invalid_url",
        }
    }
}

/// A configuration mistake. Its text names the setting, never a secret's value.
///
/// ```
/// use vocals_callback::{ConfigErrorKind, Secret};
///
/// let err = Secret::new("key ").unwrap_err();
/// assert_eq!(err.kind(), ConfigErrorKind::PaddedSecret);
/// assert_eq!(err.to_string(), "secret has leading or trailing whitespace");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    kind: ConfigErrorKind,
    detail: &'static str,
}

impl ConfigError {
    #[cold]
    pub(crate) const fn new(kind: ConfigErrorKind, detail: &'static str) -> Self {
        Self { kind, detail }
    }

    pub(crate) const fn empty_secret() -> Self {
        Self::new(ConfigErrorKind::EmptySecret, "secret is empty")
    }

    pub(crate) const fn padded_secret() -> Self {
        Self::new(
            ConfigErrorKind::PaddedSecret,
            "secret has leading or trailing whitespace",
        )
    }

    /// The kind of mistake.
    #[must_use]
    pub fn kind(&self) -> ConfigErrorKind {
        self.kind
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.detail)
    }
}

impl StdError for ConfigError {}
