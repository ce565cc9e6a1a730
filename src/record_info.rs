//! The polling answer: `GET /api/v1/generate/record-info?taskId=…`.
//!
//! Polling is the provider's alternative to callbacks (every 30 s is its advice). The answer
//! describes the task's current state; [`RecordInfo::events`] turns it into the same
//! [`VocalsEvent`]s the callbacks carry, so a poller and the callback receiver can share one
//! handler and one deduplication.
//!
//! Both casings the docs show are accepted: `response.sunoData[]` with camelCase tracks
//! (the reference and the live service) and `response.data[]` with snake_case tracks (one
//! quickstart page).
//!
//! ```
//! use vocals_callback::{record_info, Stage};
//!
//! let answer = br#"{"code":200,"msg":"success","data":{"taskId":"5c79be8e",
//!   "response":{"taskId":"5c79be8e","sunoData":[{"id":"e231","audioUrl":"https://cdn.example/e231.mp3",
//!     "createTime":1758044664461,"duration":198.44}]},
//!   "status":"FIRST_SUCCESS","errorCode":null,"errorMessage":null}}"#;
//!
//! let info = record_info::parse(answer)?;
//! assert_eq!(info.status(), record_info::TaskStatus::FirstSuccess);
//! let stages: Vec<_> = info.events().iter().map(|e| e.stage()).collect();
//! assert_eq!(stages, [Stage::Text, Stage::First]);
//! # Ok::<(), vocals_callback::ParseError>(())
//! ```

use std::borrow::Cow;

use serde::de::MapAccess;

use crate::{
    error::{ParseError, ParseErrorKind},
    event::{Callback, VocalsEvent},
    track::{Created, CreatedAt, Track},
    wire::{self, Ctx, Fields, Loose, ObjectSeed, RootSeed, StrictStrSeed, TracksSeed},
};

/// The task's state in a polling answer (`data.status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TaskStatus {
    /// `PENDING`: still running.
    Pending,
    /// `TEXT_SUCCESS`: the lyrics are ready (the `text` callback).
    TextSuccess,
    /// `FIRST_SUCCESS`: the first track is ready (the `first` callback).
    FirstSuccess,
    /// `SUCCESS`: every track is ready (the `complete` callback).
    Success,
    /// `CREATE_TASK_FAILED`.
    CreateTaskFailed,
    /// `GENERATE_AUDIO_FAILED`.
    GenerateAudioFailed,
    /// `CALLBACK_EXCEPTION`: the provider could not deliver its callback.
    CallbackException,
    /// `SENSITIVE_WORD_ERROR`: the content was refused.
    SensitiveWordError,
    /// A status this crate does not know, or none; the raw value is in
    /// [`RecordInfo::status_raw`].
    Unknown,
}

impl TaskStatus {
    /// The status a raw value names (exact, upper-case, as the provider sends it).
    #[must_use]
    pub fn from_raw(raw: &str) -> Self {
        match raw {
            "PENDING" => Self::Pending,
            "TEXT_SUCCESS" => Self::TextSuccess,
            "FIRST_SUCCESS" => Self::FirstSuccess,
            "SUCCESS" => Self::Success,
            "CREATE_TASK_FAILED" => Self::CreateTaskFailed,
            "GENERATE_AUDIO_FAILED" => Self::GenerateAudioFailed,
            "CALLBACK_EXCEPTION" => Self::CallbackException,
            "SENSITIVE_WORD_ERROR" => Self::SensitiveWordError,
            _ => Self::Unknown,
        }
    }

    /// `true` for the statuses that end the task in failure (`CALLBACK_EXCEPTION` included:
    /// see [`RecordInfo::events`] for when it still yields success events).
    #[must_use]
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            Self::CreateTaskFailed
                | Self::GenerateAudioFailed
                | Self::CallbackException
                | Self::SensitiveWordError
        )
    }

    /// The failure code used when the answer gives no `errorCode`: the nearest code of the
    /// callbacks' table (400 content refused, 501 generation failed, 500 otherwise).
    fn fallback_code(self) -> u16 {
        match self {
            Self::SensitiveWordError => 400,
            Self::GenerateAudioFailed => 501,
            _ => 500,
        }
    }
}

/// A parsed polling answer. See the [module docs](self) for an example.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordInfo {
    code: u16,
    msg: Option<String>,
    task_id: Option<String>,
    parent_music_id: Option<String>,
    param: Option<String>,
    status_raw: Option<String>,
    status: TaskStatus,
    task_type: Option<String>,
    operation_type: Option<String>,
    error_code: Option<i64>,
    error_message: Option<String>,
    created_at: Option<OwnedCreatedAt>,
    tracks: Vec<Track>,
}

#[derive(Clone, Debug, PartialEq)]
enum OwnedCreatedAt {
    Text(String),
    EpochMillis(i64),
}

impl RecordInfo {
    /// The answer's `code` (200 when the query itself succeeded).
    #[must_use]
    pub fn code(&self) -> u16 {
        self.code
    }

    /// The answer's `msg`.
    #[must_use]
    pub fn msg(&self) -> Option<&str> {
        self.msg.as_deref()
    }

    /// `data.taskId`, or `response.taskId` when only that is given. `None` only when the
    /// query failed (`code != 200`) and the answer carries no task.
    #[must_use]
    pub fn task_id(&self) -> Option<&str> {
        self.task_id.as_deref()
    }

    /// `data.parentMusicId`.
    #[must_use]
    pub fn parent_music_id(&self) -> Option<&str> {
        self.parent_music_id.as_deref()
    }

    /// `data.param`: the JSON text of the original request.
    #[must_use]
    pub fn param(&self) -> Option<&str> {
        self.param.as_deref()
    }

    /// The task's state.
    #[must_use]
    pub fn status(&self) -> TaskStatus {
        self.status
    }

    /// `data.status` exactly as sent.
    #[must_use]
    pub fn status_raw(&self) -> Option<&str> {
        self.status_raw.as_deref()
    }

    /// `data.type` (e.g. `GENERATE`).
    #[must_use]
    pub fn task_type(&self) -> Option<&str> {
        self.task_type.as_deref()
    }

    /// `data.operationType`.
    #[must_use]
    pub fn operation_type(&self) -> Option<&str> {
        self.operation_type.as_deref()
    }

    /// `data.errorCode`; it can be set while the status is still `PENDING`.
    #[must_use]
    pub fn error_code(&self) -> Option<i64> {
        self.error_code
    }

    /// `data.errorMessage`; it can be set while the status is still `PENDING`.
    #[must_use]
    pub fn error_message(&self) -> Option<&str> {
        self.error_message.as_deref()
    }

    /// `data.createTime` of the task.
    #[must_use]
    pub fn created_at(&self) -> Option<CreatedAt<'_>> {
        self.created_at.as_ref().map(|c| match c {
            OwnedCreatedAt::Text(s) => CreatedAt::Text(s),
            OwnedCreatedAt::EpochMillis(ms) => CreatedAt::EpochMillis(*ms),
        })
    }

    /// The tracks (`response.sunoData` or `response.data`); empty while `response` is null.
    #[must_use]
    pub fn tracks(&self) -> &[Track] {
        &self.tracks
    }

    /// The callbacks the task would have sent up to its status, as events:
    ///
    /// | status | events |
    /// |---|---|
    /// | `TEXT_SUCCESS` | text |
    /// | `FIRST_SUCCESS` | text, first |
    /// | `SUCCESS` | text, first, complete |
    /// | `CREATE_TASK_FAILED`, `GENERATE_AUDIO_FAILED`, `SENSITIVE_WORD_ERROR` | failed |
    /// | `CALLBACK_EXCEPTION` | text, first, complete when every track is ready (only the delivery failed); failed otherwise |
    /// | `PENDING`, unknown, or no task id | none |
    ///
    /// Success events carry the tracks as the poll saw them, `code` 200, and the
    /// `callbackType` of the stage. A failure carries `errorCode` (or, when it is missing or
    /// out of range, the answer's own non-200 code, else 400 for `SENSITIVE_WORD_ERROR`,
    /// 501 for `GENERATE_AUDIO_FAILED`, 500 otherwise), `errorMessage` (or the raw status)
    /// as `msg`, and `callbackType` `error`. Feed every event to the same deduplicated
    /// handler as the callbacks: stages already handled are dropped there.
    #[must_use]
    pub fn events(&self) -> Vec<VocalsEvent> {
        let Some(task_id) = self.task_id.as_deref() else {
            return Vec::new();
        };
        let success = |callback_type: &str| {
            VocalsEvent::classify(Callback::new(
                task_id,
                200,
                None,
                Some(callback_type),
                None,
                self.tracks.clone(),
            ))
        };
        let reached = match self.status {
            TaskStatus::TextSuccess => 1,
            TaskStatus::FirstSuccess => 2,
            TaskStatus::Success => 3,
            TaskStatus::CallbackException
                if !self.tracks.is_empty() && self.tracks.iter().all(Track::is_ready) =>
            {
                3
            }
            status if status.is_failure() => return vec![self.failure(task_id)],
            _ => 0,
        };
        ["text", "first", "complete"]
            .into_iter()
            .take(reached)
            .map(success)
            .collect()
    }

    fn failure(&self, task_id: &str) -> VocalsEvent {
        let code = self
            .error_code
            .and_then(|c| u16::try_from(c).ok())
            .filter(|c| *c != 200)
            .or((self.code != 200).then_some(self.code))
            .unwrap_or_else(|| self.status.fallback_code());
        let msg = self.error_message.as_deref().or(self.status_raw.as_deref());
        VocalsEvent::classify(Callback::new(
            task_id,
            code,
            msg,
            Some("error"),
            None,
            self.tracks.clone(),
        ))
    }
}

/// Parses a record-info answer.
///
/// # Errors
///
/// The same [`ParseError`] kinds as [`crate::parse`]: syntax errors; a root that is not an
/// object; a missing or non-integer `code`; `data` that is not an object; a task id that is
/// not a string, empty or too long, or missing while `code` is 200; a track list or track
/// of the wrong type, or more than [`MAX_TRACKS`](crate::MAX_TRACKS) tracks; a key the parser
/// reads given twice.
pub fn parse(body: &[u8]) -> Result<RecordInfo, ParseError> {
    let ctx = Ctx::default();
    let seed = RootSeed {
        ctx: &ctx,
        data: ObjectSeed::<RawData<'_>>::new(&ctx, ParseErrorKind::DataNotObject),
    };
    let root = wire::from_body(body, &ctx, seed)?;
    let code = root.code()?;
    let data = root.data.flatten().unwrap_or_default();
    let task_id = match data.task_id.or(data.response_task_id) {
        None if code != 200 => None,
        id => Some(wire::check_task_id(id)?.into_owned()),
    };
    let owned = |s: Option<Cow<'_, str>>| s.filter(|s| !s.is_empty()).map(Cow::into_owned);
    let status_raw = owned(data.status);
    Ok(RecordInfo {
        code,
        msg: owned(root.msg),
        task_id,
        parent_music_id: owned(data.parent_music_id),
        param: owned(data.param),
        status: status_raw
            .as_deref()
            .map_or(TaskStatus::Unknown, TaskStatus::from_raw),
        status_raw,
        task_type: owned(data.task_type),
        operation_type: owned(data.operation_type),
        error_code: data.error_code,
        error_message: owned(data.error_message),
        created_at: match data.created_at.into_created() {
            (Created::EpochMillis(ms), _) => Some(OwnedCreatedAt::EpochMillis(ms)),
            (Created::Text, Some(s)) if !s.is_empty() => Some(OwnedCreatedAt::Text(s.into_owned())),
            _ => None,
        },
        tracks: data.tracks,
    })
}

#[derive(Default)]
struct RawData<'de> {
    task_id: Option<Cow<'de, str>>,
    response_task_id: Option<Cow<'de, str>>,
    parent_music_id: Option<Cow<'de, str>>,
    param: Option<Cow<'de, str>>,
    status: Option<Cow<'de, str>>,
    task_type: Option<Cow<'de, str>>,
    operation_type: Option<Cow<'de, str>>,
    error_code: Option<i64>,
    error_message: Option<Cow<'de, str>>,
    created_at: Loose<'de>,
    tracks: Vec<Track>,
}

impl<'de> Fields<'de> for RawData<'de> {
    const NAME: &'static str = "the data object";

    fn field<A: MapAccess<'de>>(
        &mut self,
        key: &str,
        map: &mut A,
        ctx: &Ctx,
    ) -> Result<Option<u32>, A::Error> {
        let loose_str = |v: Loose<'de>| v.into_str();
        Ok(Some(match key {
            "taskId" | "task_id" => {
                let kind = ParseErrorKind::TaskIdNotString;
                self.task_id = map.next_value_seed(StrictStrSeed { ctx, kind })?;
                0
            }
            "response" => {
                let seed = ObjectSeed::<RawResponse<'de>>::new(ctx, ParseErrorKind::DataNotObject);
                if let Some(response) = map.next_value_seed(seed)? {
                    self.response_task_id = response.task_id;
                    self.tracks = response.tracks;
                }
                1
            }
            "status" => {
                self.status = loose_str(map.next_value()?);
                2
            }
            "errorCode" | "error_code" => {
                self.error_code = match map.next_value::<Loose<'de>>()? {
                    Loose::Int(i) => Some(i),
                    Loose::Str(s) => s.trim().parse().ok(),
                    _ => None,
                };
                3
            }
            "errorMessage" | "error_message" => {
                self.error_message = loose_str(map.next_value()?);
                4
            }
            "parentMusicId" | "parent_music_id" => {
                self.parent_music_id = loose_str(map.next_value()?);
                5
            }
            "param" => {
                self.param = loose_str(map.next_value()?);
                6
            }
            "type" => {
                self.task_type = loose_str(map.next_value()?);
                7
            }
            "operationType" | "operation_type" => {
                self.operation_type = loose_str(map.next_value()?);
                8
            }
            "createTime" | "create_time" => {
                self.created_at = map.next_value()?;
                9
            }
            _ => return Ok(None),
        }))
    }
}

/// `data.response`: null while pending, or an object with the task id and the tracks
/// under `sunoData` (camelCase) or `data` (snake_case).
#[derive(Default)]
struct RawResponse<'de> {
    task_id: Option<Cow<'de, str>>,
    tracks: Vec<Track>,
}

impl<'de> Fields<'de> for RawResponse<'de> {
    const NAME: &'static str = "the response object or null";

    fn field<A: MapAccess<'de>>(
        &mut self,
        key: &str,
        map: &mut A,
        ctx: &Ctx,
    ) -> Result<Option<u32>, A::Error> {
        Ok(Some(match key {
            "taskId" | "task_id" => {
                let kind = ParseErrorKind::TaskIdNotString;
                self.task_id = map.next_value_seed(StrictStrSeed { ctx, kind })?;
                0
            }
            // Both names hold the track list; given both, the second is a duplicate.
            "sunoData" | "suno_data" | "data" => {
                self.tracks = map.next_value_seed(TracksSeed(ctx))?;
                1
            }
            _ => return Ok(None),
        }))
    }
}
