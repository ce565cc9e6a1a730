//! The typed callback: [`VocalsEvent`] and its parts.

use std::fmt;

use serde::{Serialize, Serializer, ser::SerializeMap};

use crate::{
    arena::{self, Span},
    failure::FailureKind,
    track::Track,
};

/// The stage a callback reports.
///
/// Stages arrive in the order `text` → `first` → `complete`; `text` and `first` may be
/// skipped, and retries can bring a late `text` after `complete`.
///
/// ```
/// use vocals_callback::Stage;
///
/// assert_eq!(Stage::Complete.as_str(), "complete");
/// assert!(Stage::First.is_success() && !Stage::Failed.is_success());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Stage {
    /// `text`: the lyrics are ready.
    Text,
    /// `first`: the first track is ready.
    First,
    /// `complete`: all tracks are ready.
    Complete,
    /// The task failed (`code != 200`, or `callbackType` `error` / `failed`).
    Failed,
    /// A `callbackType` this crate does not know (or none at all).
    Unknown,
}

impl Stage {
    /// Every stage, in declaration order (the order of the callbacks, then the failure and
    /// the unknown). A slice, so adding a stage changes no type.
    ///
    /// ```
    /// use vocals_callback::Stage;
    ///
    /// assert_eq!(Stage::ALL.len(), 5);
    /// assert_eq!(Stage::ALL.iter().filter(|s| s.is_success()).count(), 3);
    /// ```
    pub const ALL: &'static [Self] = &[
        Self::Text,
        Self::First,
        Self::Complete,
        Self::Failed,
        Self::Unknown,
    ];

    /// The stable name: `"text"`, `"first"`, `"complete"`, `"failed"` or `"unknown"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::First => "first",
            Self::Complete => "complete",
            Self::Failed => "failed",
            Self::Unknown => "unknown",
        }
    }

    /// `true` for `text`, `first` and `complete`.
    #[must_use]
    pub const fn is_success(self) -> bool {
        matches!(self, Self::Text | Self::First | Self::Complete)
    }

    /// The stage a success `callbackType` names, compared without regard to ASCII case.
    pub(crate) fn from_callback_type(callback_type: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .filter(|s| s.is_success())
            .find(|s| s.as_str().eq_ignore_ascii_case(callback_type))
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Serialised as its name.
impl Serialize for Stage {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// One callback of an Add Vocals task, parsed by [`parse`](crate::parse).
///
/// The variant is the stage. **`code` decides failure**: any `code != 200` is
/// [`Failed`](Self::Failed), whatever `callbackType` says (a documented failure carries
/// `callbackType: "complete"`); so are `callbackType` `error` and `failed`. A
/// `callbackType` the crate does not know is [`Unknown`](Self::Unknown), never an error.
///
/// The event owns its data (`'static`), so it can be moved to a task or a queue.
///
/// ```
/// use vocals_callback::{parse, FailureKind, Stage, VocalsEvent};
///
/// let event = parse(br#"{"code":531,"msg":"Generation failed, credits refunded",
///     "data":{"callbackType":"complete","task_id":"65e5","data":null}}"#)?;
/// assert_eq!(event.stage(), Stage::Failed);
/// match &event {
///     VocalsEvent::Failed(failure) => {
///         assert_eq!(failure.kind(), FailureKind::GenerationFailedRefunded);
///         assert_eq!(failure.callback_type(), Some("complete"));
///     }
///     other => panic!("expected a failure, got {other:?}"),
/// }
/// # Ok::<(), vocals_callback::ParseError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum VocalsEvent {
    /// `text`: the lyrics are ready (usually no tracks).
    Text(Callback),
    /// `first`: the first track is ready (other tracks may be listed unfinished).
    First(Callback),
    /// `complete`: every track is ready.
    Complete(Callback),
    /// The task failed.
    Failed(Failure),
    /// A stage this crate does not know; see [`Callback::callback_type`].
    Unknown(Callback),
}

impl VocalsEvent {
    /// Builds the event for `callback`, choosing the stage from its code and `callbackType`.
    pub(crate) fn classify(callback: Callback) -> Self {
        match callback.stage() {
            Stage::Text => Self::Text(callback),
            Stage::First => Self::First(callback),
            Stage::Complete => Self::Complete(callback),
            Stage::Failed => {
                let kind = FailureKind::from_code(callback.code);
                Self::Failed(Failure { callback, kind })
            }
            Stage::Unknown => Self::Unknown(callback),
        }
    }

    /// The fields every stage has.
    #[must_use]
    pub fn callback(&self) -> &Callback {
        match self {
            Self::Text(c) | Self::First(c) | Self::Complete(c) | Self::Unknown(c) => c,
            Self::Failed(f) => &f.callback,
        }
    }

    /// The stage.
    #[must_use]
    pub fn stage(&self) -> Stage {
        match self {
            Self::Text(_) => Stage::Text,
            Self::First(_) => Stage::First,
            Self::Complete(_) => Stage::Complete,
            Self::Failed(_) => Stage::Failed,
            Self::Unknown(_) => Stage::Unknown,
        }
    }

    /// `data.task_id`: never empty, at most [`MAX_TASK_ID_LEN`](crate::MAX_TASK_ID_LEN) bytes.
    #[must_use]
    pub fn task_id(&self) -> &str {
        self.callback().task_id()
    }

    /// `code`: 200 for progress and success, anything else for a failure.
    #[must_use]
    pub fn code(&self) -> u16 {
        self.callback().code()
    }

    /// `msg`, the provider's message.
    #[must_use]
    pub fn msg(&self) -> Option<&str> {
        self.callback().msg()
    }

    /// The tracks (`data.data`); empty when the provider sent `null`, `[]` or nothing.
    #[must_use]
    pub fn tracks(&self) -> &[Track] {
        self.callback().tracks()
    }

    /// The failure, for [`Failed`](Self::Failed) events.
    #[must_use]
    pub fn failure(&self) -> Option<&Failure> {
        match self {
            Self::Failed(f) => Some(f),
            _ => None,
        }
    }
}

/// Serialised as one flat object, the line the reference receiver prints per event:
/// `task_id`, `stage`, `callback_type` (as sent, or `null`), `code`, `msg` (or `null`),
/// for failures `failure` (the [`FailureKind`] name) and `error` (or `null`), and `tracks`
/// (see [`Track`]'s serialisation).
impl Serialize for VocalsEvent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        line(
            serializer,
            self.callback(),
            self.failure().map(Failure::kind),
        )
    }
}

/// The event line of `c`, a failure's `failure` and `error` too when `kind` is given.
fn line<S: Serializer>(
    serializer: S,
    c: &Callback,
    failure: Option<FailureKind>,
) -> Result<S::Ok, S::Error> {
    let len = if failure.is_some() { 8 } else { 6 };
    let mut map = serializer.serialize_map(Some(len))?;
    map.serialize_entry("task_id", c.task_id())?;
    map.serialize_entry("stage", &c.stage())?;
    map.serialize_entry("callback_type", &c.callback_type())?;
    map.serialize_entry("code", &c.code())?;
    map.serialize_entry("msg", &c.msg())?;
    if let Some(kind) = failure {
        map.serialize_entry("failure", &kind)?;
        map.serialize_entry("error", &c.error())?;
    }
    map.serialize_entry("tracks", c.tracks())?;
    map.end()
}

/// The fields every stage's callback body has: the task, the code and message, the raw
/// `callbackType` and the tracks. ("Callback" here is the body one callback request
/// carries; the request with its delivery facts is a [`Delivery`](crate::Delivery).)
///
/// Serialised as its event's line (see [`VocalsEvent`]'s serialisation), so a handler
/// that stores a `Callback` as JSON stores what the reference receiver prints.
///
/// ```
/// use vocals_callback::{Stage, VocalsEvent, parse};
///
/// let event = parse(br#"{"code":200,"msg":"ok","data":{"callbackType":"text","task_id":"t1"}}"#)?;
/// let VocalsEvent::Text(text) = &event else { unreachable!() };
/// assert_eq!(text.stage(), Stage::Text);
/// assert_eq!(serde_json::to_value(text)?, serde_json::to_value(&event)?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq)]
pub struct Callback {
    /// `task_id`, `msg`, `callbackType` and `error`, packed into one allocation.
    text: Box<str>,
    spans: [Span; 4],
    code: u16,
    tracks: Vec<Track>,
}

const TASK_ID: usize = 0;
const MSG: usize = 1;
const CALLBACK_TYPE: usize = 2;
const ERROR: usize = 3;

impl Callback {
    /// Builds a callback. `task_id` must be non-empty (the parsers check it).
    pub(crate) fn new(
        task_id: &str,
        code: u16,
        msg: Option<&str>,
        callback_type: Option<&str>,
        error: Option<&str>,
        tracks: Vec<Track>,
    ) -> Self {
        let (text, spans) = arena::pack([Some(task_id), msg, callback_type, error]);
        Self {
            text,
            spans,
            code,
            tracks,
        }
    }

    fn get(&self, i: usize) -> Option<&str> {
        self.spans
            .get(i)
            .and_then(|span| arena::get(&self.text, *span))
    }

    /// The stage this body is: [`Stage::Failed`] for any `code` other than 200 or a
    /// `callbackType` of `error` or `failed`; otherwise the stage its `callbackType` names,
    /// or [`Stage::Unknown`].
    #[must_use]
    pub fn stage(&self) -> Stage {
        if self.code != 200 {
            return Stage::Failed;
        }
        match self.callback_type() {
            Some(t) if t.eq_ignore_ascii_case("error") || t.eq_ignore_ascii_case("failed") => {
                Stage::Failed
            }
            Some(t) => Stage::from_callback_type(t).unwrap_or(Stage::Unknown),
            None => Stage::Unknown,
        }
    }

    /// `data.task_id`.
    #[must_use]
    pub fn task_id(&self) -> &str {
        self.get(TASK_ID).unwrap_or_default()
    }

    /// `code`.
    #[must_use]
    pub fn code(&self) -> u16 {
        self.code
    }

    /// `msg`.
    #[must_use]
    pub fn msg(&self) -> Option<&str> {
        self.get(MSG)
    }

    /// `data.callbackType` exactly as sent (`None` when absent, null or empty).
    #[must_use]
    pub fn callback_type(&self) -> Option<&str> {
        self.get(CALLBACK_TYPE)
    }

    /// The tracks (`data.data`).
    #[must_use]
    pub fn tracks(&self) -> &[Track] {
        &self.tracks
    }

    fn error(&self) -> Option<&str> {
        self.get(ERROR)
    }
}

/// Its event's line: `task_id`, `stage`, `callback_type`, `code`, `msg`, a failure's
/// `failure` and `error`, `tracks`.
impl Serialize for Callback {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let failure = (self.stage() == Stage::Failed).then(|| FailureKind::from_code(self.code));
        line(serializer, self, failure)
    }
}

impl fmt::Debug for Callback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Callback")
            .field("task_id", &self.task_id())
            .field("code", &self.code)
            .field("msg", &self.msg())
            .field("callback_type", &self.callback_type())
            .field("tracks", &self.tracks)
            .finish()
    }
}

/// A failed task: the code, its meaning, and the provider's words.
///
/// See [`VocalsEvent`] for an example.
#[derive(Clone, PartialEq)]
pub struct Failure {
    callback: Callback,
    kind: FailureKind,
}

impl Failure {
    /// The fields every stage has.
    #[must_use]
    pub fn callback(&self) -> &Callback {
        &self.callback
    }

    /// What the code means.
    #[must_use]
    pub fn kind(&self) -> FailureKind {
        self.kind
    }

    /// `code` as sent.
    #[must_use]
    pub fn code(&self) -> u16 {
        self.callback.code
    }

    /// `data.task_id`.
    #[must_use]
    pub fn task_id(&self) -> &str {
        self.callback.task_id()
    }

    /// `msg`: the provider's explanation.
    #[must_use]
    pub fn msg(&self) -> Option<&str> {
        self.callback.msg()
    }

    /// `data.error`, the extra error text one variant sends beside `task_id`.
    #[must_use]
    pub fn error(&self) -> Option<&str> {
        self.callback.error()
    }

    /// `data.callbackType` as sent: `error`, `failed`, or even `complete`.
    #[must_use]
    pub fn callback_type(&self) -> Option<&str> {
        self.callback.callback_type()
    }
}

/// Its event's line, with `failure` (the [`FailureKind`] name) and `error`.
impl Serialize for Failure {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        line(serializer, &self.callback, Some(self.kind))
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Failure")
            .field("task_id", &self.task_id())
            .field("code", &self.code())
            .field("kind", &self.kind)
            .field("msg", &self.msg())
            .field("error", &self.error())
            .field("callback_type", &self.callback_type())
            .field("tracks", &self.callback.tracks)
            .finish()
    }
}
