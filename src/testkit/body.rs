//! Builders of callback bodies.

use serde_json::{Map, Value, json};

use crate::{
    error::ParseError,
    event::{Callback, Failure, VocalsEvent},
    parse::parse,
};

/// A callback body under construction. Serialise with [`to_bytes`](Self::to_bytes), or
/// take the typed event a service would hand the handler ([`to_event`](Self::to_event),
/// [`to_callback`](Self::to_callback), [`to_failure`](Self::to_failure)) to unit-test a
/// handler without a service:
///
/// ```
/// use vocals_callback::{Callback, Failure, HandlerResult, VocalsHandler, testkit::{CallbackBody, TrackBody}};
///
/// struct Store;
/// impl VocalsHandler for Store {
///     async fn on_complete(&self, done: Callback) -> HandlerResult {
///         assert_eq!(done.tracks().len(), 1);
///         Ok(())
///     }
///     async fn on_failed(&self, failure: Failure) -> HandlerResult {
///         assert_eq!(failure.code(), 501);
///         Ok(())
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let done = CallbackBody::complete("t1").track(TrackBody::ready("a")).to_callback()?;
/// assert!(Store.on_complete(done).await.is_ok());
/// let failure = CallbackBody::error("t1", 501, "Audio generation failed.").to_failure().unwrap();
/// assert!(Store.on_failed(failure).await.is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct CallbackBody {
    code: i64,
    msg: Option<String>,
    callback_type: Option<String>,
    task_id: String,
    error: Option<String>,
    tracks: Option<Vec<TrackBody>>,
}

impl CallbackBody {
    fn new(code: i64, msg: &str, callback_type: &str, task_id: &str) -> Self {
        Self {
            code,
            msg: Some(msg.to_owned()),
            callback_type: Some(callback_type.to_owned()),
            task_id: task_id.to_owned(),
            error: None,
            tracks: Some(Vec::new()),
        }
    }

    /// A `text` callback with the provider's message and no tracks.
    #[must_use]
    pub fn text(task_id: &str) -> Self {
        Self::new(
            200,
            "Text generation completed successfully.",
            "text",
            task_id,
        )
    }

    /// A `first` callback with no tracks yet (add them with [`track`](Self::track)).
    #[must_use]
    pub fn first(task_id: &str) -> Self {
        Self::new(200, "First track generated successfully.", "first", task_id)
    }

    /// A `complete` callback with no tracks yet.
    #[must_use]
    pub fn complete(task_id: &str) -> Self {
        Self::new(200, "All generated successfully.", "complete", task_id)
    }

    /// A failure as kie.ai and sunoapi.org send it: `callbackType` `error`, `data.data` null.
    #[must_use]
    pub fn error(task_id: &str, code: i64, msg: &str) -> Self {
        let mut body = Self::new(code, msg, "error", task_id);
        body.tracks = None;
        body
    }

    /// Sets `code`.
    #[must_use]
    pub fn code(mut self, code: i64) -> Self {
        self.code = code;
        self
    }

    /// Sets `msg` (`None` leaves the key out).
    #[must_use]
    pub fn msg(mut self, msg: Option<&str>) -> Self {
        self.msg = msg.map(str::to_owned);
        self
    }

    /// Sets `data.callbackType` (`None` leaves the key out).
    #[must_use]
    pub fn callback_type(mut self, callback_type: Option<&str>) -> Self {
        self.callback_type = callback_type.map(str::to_owned);
        self
    }

    /// Sets the extra `data.error` text.
    #[must_use]
    pub fn error_text(mut self, error: &str) -> Self {
        self.error = Some(error.to_owned());
        self
    }

    /// Appends a track to `data.data`.
    #[must_use]
    pub fn track(mut self, track: TrackBody) -> Self {
        self.tracks.get_or_insert_with(Vec::new).push(track);
        self
    }

    /// Sends `data.data` as `null`.
    #[must_use]
    pub fn null_tracks(mut self) -> Self {
        self.tracks = None;
        self
    }

    /// The body as a JSON value, for tests that want to tamper with it.
    #[must_use]
    pub fn to_value(&self) -> Value {
        let mut data = Map::new();
        if let Some(t) = &self.callback_type {
            data.insert("callbackType".into(), json!(t));
        }
        data.insert("task_id".into(), json!(self.task_id));
        if let Some(e) = &self.error {
            data.insert("error".into(), json!(e));
        }
        let tracks = self
            .tracks
            .as_ref()
            .map_or(Value::Null, |t| t.iter().map(TrackBody::to_value).collect());
        data.insert("data".into(), tracks);
        let mut root = Map::new();
        root.insert("code".into(), json!(self.code));
        if let Some(m) = &self.msg {
            root.insert("msg".into(), json!(m));
        }
        root.insert("data".into(), Value::Object(data));
        Value::Object(root)
    }

    /// The body as compact JSON bytes, as the provider sends it.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_value().to_string().into_bytes()
    }

    /// The event the service hands the handler for this body: [`parse`] of its bytes.
    ///
    /// # Errors
    ///
    /// The [`ParseError`] of a body made unparseable on purpose (an empty or over-long
    /// task id, a code out of range).
    pub fn to_event(&self) -> Result<VocalsEvent, ParseError> {
        parse(&self.to_bytes())
    }

    /// The fields every stage has, as a handler's `on_text`, `on_first`, `on_complete` or
    /// `on_unknown` receives them (for a failure body, the failure's common fields).
    ///
    /// # Errors
    ///
    /// As [`to_event`](Self::to_event).
    pub fn to_callback(&self) -> Result<Callback, ParseError> {
        Ok(match self.to_event()? {
            VocalsEvent::Failed(failure) => failure.callback().clone(),
            VocalsEvent::Text(c)
            | VocalsEvent::First(c)
            | VocalsEvent::Complete(c)
            | VocalsEvent::Unknown(c) => c,
        })
    }

    /// The failure, as a handler's `on_failed` receives it; `None` when the body is not a
    /// failure (`code` 200 and a stage other than `error` or `failed`) or does not parse.
    #[must_use]
    pub fn to_failure(&self) -> Option<Failure> {
        match self.to_event() {
            Ok(VocalsEvent::Failed(failure)) => Some(failure),
            _ => None,
        }
    }
}

/// One track of a [`CallbackBody`].
#[derive(Clone, Debug)]
pub struct TrackBody {
    fields: Map<String, Value>,
}

impl TrackBody {
    /// A finished track with realistic values for every field the live service sends:
    /// audio, stream and image URLs derived from `id`, a short prompt, `chirp-v4-5`, a
    /// title, `createTime` in epoch milliseconds and a duration.
    #[must_use]
    pub fn ready(id: &str) -> Self {
        let mut fields = Map::new();
        fields.insert("id".into(), json!(id));
        fields.insert(
            "audio_url".into(),
            json!(format!("https://cdn.example/{id}.mp3")),
        );
        fields.insert(
            "stream_audio_url".into(),
            json!(format!("https://cdn.example/stream/{id}")),
        );
        fields.insert(
            "image_url".into(),
            json!(format!("https://cdn.example/{id}.jpeg")),
        );
        fields.insert(
            "prompt".into(),
            json!("[Verse]\nNight city lights shining bright"),
        );
        fields.insert("model_name".into(), json!("chirp-v4-5"));
        fields.insert("title".into(), json!("Night City"));
        fields.insert("tags".into(), json!("electrifying, rock"));
        fields.insert("createTime".into(), json!(1_758_044_664_461_i64));
        fields.insert("duration".into(), json!(198.44));
        Self { fields }
    }

    /// An unfinished track, as the second track of a `first` callback: `audio_url: ""`,
    /// no `duration`.
    #[must_use]
    pub fn unfinished(id: &str) -> Self {
        let mut track = Self::ready(id);
        track.fields.insert("audio_url".into(), json!(""));
        track.fields.remove("duration");
        track
    }

    /// Sets `title`.
    #[must_use]
    pub fn title(self, title: &str) -> Self {
        self.set("title", json!(title))
    }

    /// Sets `prompt` (the lyrics).
    #[must_use]
    pub fn prompt(self, prompt: &str) -> Self {
        self.set("prompt", json!(prompt))
    }

    /// Sets any field to any JSON value (to reproduce a quirk).
    #[must_use]
    pub fn set(mut self, key: &str, value: Value) -> Self {
        self.fields.insert(key.to_owned(), value);
        self
    }

    /// Removes a field.
    #[must_use]
    pub fn without(mut self, key: &str) -> Self {
        self.fields.remove(key);
        self
    }

    fn to_value(&self) -> Value {
        Value::Object(self.fields.clone())
    }
}
