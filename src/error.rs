//! The typed error of [`parse`](crate::parse) and [`record_info::parse`](crate::record_info::parse).

use std::{error::Error as StdError, fmt};

/// Why a body was refused: a stable, `Copy` name for every way a body can be malformed.
///
/// The kinds fall in two groups (see [`is_syntax`](Self::is_syntax)):
/// *syntax* (the bytes are not one JSON document) and *shape* (valid JSON, but not a callback
/// the crate can identify: no task id, a root that is not an object, …). Everything else the
/// provider may send differently (types of track fields, unknown keys, unknown stages) is
/// accepted, never an error: a rejection makes the sender retry something that will never
/// succeed.
///
/// [`as_str`](Self::as_str) gives the snake_case name used in logs and in the reference
/// receiver's rejection bodies; those names are stable across releases.
///
/// ```
/// use vocals_callback::{parse, ParseErrorKind};
///
/// let err = parse(br#"{"code":200,"data":{"task_id":""}}"#).unwrap_err();
/// assert_eq!(err.kind(), ParseErrorKind::EmptyTaskId);
/// assert_eq!(err.kind().as_str(), "empty_task_id");
/// assert!(!err.kind().is_syntax());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// Not JSON: a syntax error or an unexpected end anywhere; a number out of range, a
    /// lone surrogate escape or nesting deeper than 128 levels in a field the parser reads.
    /// (Fields it skips, such as unknown ones, are only checked for syntax: deep nesting
    /// there is skipped without recursion, and their numbers and escapes are not decoded.)
    InvalidJson,
    /// The body is not valid UTF-8.
    InvalidUtf8,
    /// A complete JSON value followed by more than whitespace.
    TrailingCharacters,
    /// The body is larger than 4 GiB (the service's own limit is far below that).
    BodyTooLarge,
    /// The root value is not a JSON object.
    RootNotObject,
    /// A key the crate reads appears twice in one object (which copy would a verifier
    /// and a parser each see? The crate refuses to guess).
    DuplicateKey,
    /// The root object has no `code`.
    MissingCode,
    /// `code` is not an integer (a string, a float, null, …).
    CodeNotInteger,
    /// `code` is an integer outside `0..=65535`.
    CodeOutOfRange,
    /// `data` is present but is not an object (in a polling answer, also `data.response`).
    DataNotObject,
    /// No `data.task_id` (or no `data` at all).
    MissingTaskId,
    /// `data.task_id` is the empty string.
    EmptyTaskId,
    /// `data.task_id` is not a string.
    TaskIdNotString,
    /// `data.task_id` is longer than [`MAX_TASK_ID_LEN`](crate::MAX_TASK_ID_LEN) bytes.
    TaskIdTooLong,
    /// `data.callbackType` is neither a string nor null.
    CallbackTypeNotString,
    /// The track list is neither an array nor null.
    TracksNotArray,
    /// An element of the track list is not an object.
    TrackNotObject,
    /// The track list has more than [`MAX_TRACKS`](crate::MAX_TRACKS) tracks.
    TooManyTracks,
}

impl ParseErrorKind {
    /// The stable snake_case name of this kind.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidJson => "invalid_json",
            Self::InvalidUtf8 => "invalid_utf8",
            Self::TrailingCharacters => "trailing_characters",
            Self::BodyTooLarge => "body_too_large",
            Self::RootNotObject => "root_not_object",
            Self::DuplicateKey => "duplicate_key",
            Self::MissingCode => "missing_code",
            Self::CodeNotInteger => "code_not_integer",
            Self::CodeOutOfRange => "code_out_of_range",
            Self::DataNotObject => "data_not_object",
            Self::MissingTaskId => "missing_task_id",
            Self::EmptyTaskId => "empty_task_id",
            Self::TaskIdNotString => "task_id_not_string",
            Self::TaskIdTooLong => "task_id_too_long",
            Self::CallbackTypeNotString => "callback_type_not_string",
            Self::TracksNotArray => "tracks_not_array",
            Self::TrackNotObject => "track_not_object",
            Self::TooManyTracks => "too_many_tracks",
        }
    }

    /// `true` when the bytes are not one well-formed JSON document (as opposed to valid
    /// JSON of the wrong shape).
    #[must_use]
    pub const fn is_syntax(self) -> bool {
        matches!(
            self,
            Self::InvalidJson | Self::InvalidUtf8 | Self::TrailingCharacters | Self::BodyTooLarge
        )
    }

    /// A short lowercase phrase for `Display`.
    const fn describe(self) -> &'static str {
        match self {
            Self::InvalidJson => "body is not valid JSON",
            Self::InvalidUtf8 => "body is not valid UTF-8",
            Self::TrailingCharacters => "trailing characters after the JSON value",
            Self::BodyTooLarge => "body is larger than 4 GiB",
            Self::RootNotObject => "root is not an object",
            Self::DuplicateKey => "a key appears twice in one object",
            Self::MissingCode => "missing `code`",
            Self::CodeNotInteger => "`code` is not an integer",
            Self::CodeOutOfRange => "`code` is out of range",
            Self::DataNotObject => "`data` or `data.response` is not an object",
            Self::MissingTaskId => "missing `data.task_id`",
            Self::EmptyTaskId => "`data.task_id` is empty",
            Self::TaskIdNotString => "`data.task_id` is not a string",
            Self::TaskIdTooLong => "`data.task_id` is too long",
            Self::CallbackTypeNotString => "`data.callbackType` is not a string",
            Self::TracksNotArray => "the track list is not an array",
            Self::TrackNotObject => "a track is not an object",
            Self::TooManyTracks => "too many tracks",
        }
    }
}

impl fmt::Display for ParseErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A body that could not be parsed; see [`kind`](Self::kind).
///
/// The `Display` text names the problem and never quotes the body (bodies may carry
/// lyrics or URLs the user does not want in logs). For syntax errors, [`source`] holds the
/// JSON parser's error; its type is not part of the stable API.
///
/// [`source`]: std::error::Error::source
pub struct ParseError {
    kind: ParseErrorKind,
    source: Option<serde_json::Error>,
}

impl ParseError {
    #[cold]
    pub(crate) fn new(kind: ParseErrorKind) -> Self {
        Self { kind, source: None }
    }

    #[cold]
    pub(crate) fn with_source(kind: ParseErrorKind, source: serde_json::Error) -> Self {
        Self {
            kind,
            source: Some(source),
        }
    }

    /// The kind of problem.
    #[must_use]
    pub fn kind(&self) -> ParseErrorKind {
        self.kind
    }

    /// Line and column (both 1-based) where the JSON parser stopped, for syntax errors.
    #[must_use]
    pub fn position(&self) -> Option<(usize, usize)> {
        self.source
            .as_ref()
            .filter(|e| e.line() > 0)
            .map(|e| (e.line(), e.column()))
    }
}

impl fmt::Debug for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Only the kind and the position: the parser's message may quote body content.
        let mut d = f.debug_struct("ParseError");
        d.field("kind", &self.kind);
        if let Some((line, column)) = self.position() {
            d.field("line", &line).field("column", &column);
        }
        d.finish()
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid callback body: ")?;
        f.write_str(self.kind.describe())
    }
}

impl StdError for ParseError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source.as_ref().map(|e| e as &(dyn StdError + 'static))
    }
}
