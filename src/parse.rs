//! Parsing a callback body into a [`VocalsEvent`].

use std::borrow::Cow;

use serde::de::MapAccess;

use crate::{
    error::{ParseError, ParseErrorKind},
    event::{Callback, VocalsEvent},
    track::Track,
    wire::{self, Ctx, Fields, Loose, ObjectSeed, RootSeed, StrictStrSeed, TracksSeed},
};

/// Parses a callback body into a typed [`VocalsEvent`].
///
/// No I/O, no async: a plain function over the bytes, so it can be called from any server,
/// fuzzed, and benchmarked on its own. It reads the body once, straight into the typed
/// event (no intermediate `serde_json::Value`), and accepts every variant the provider
/// really sends: the table of the [crate docs](crate#quirks-accepted) lists them.
///
/// # Errors
///
/// A [`ParseError`] whose [`kind`](ParseError::kind) says what is wrong: the bytes are not
/// one JSON document (syntax), or they are JSON but not an identifiable callback (shape: no
/// integer `code`, no usable `data.task_id`, a key the crate reads given twice, a root,
/// `data`, track list or track of the wrong type, more than [`MAX_TRACKS`](crate::MAX_TRACKS)
/// tracks). Problems are reported in the order they
/// are met, reading the body from left to right.
///
/// # Example
///
/// ```
/// use vocals_callback::{parse, Stage};
///
/// let body = br#"{
///   "code": 200,
///   "msg": "All generated successfully.",
///   "data": {
///     "callbackType": "complete",
///     "task_id": "65e563474bd7b6485dfb229eb92324a8",
///     "data": [{
///       "id": "e231c4a7-5d7e-4a43-9b5c-2f4a8cadc7dc",
///       "audio_url": "https://cdn.example/e231.mp3",
///       "prompt": "[Verse]\nNight city lights shining bright",
///       "title": "Iron Man",
///       "createTime": 1758044664461,
///       "duration": 198.44
///     }]
///   }
/// }"#;
///
/// let event = parse(body)?;
/// assert_eq!(event.stage(), Stage::Complete);
/// assert_eq!(event.task_id(), "65e563474bd7b6485dfb229eb92324a8");
/// let track = &event.tracks()[0];
/// assert_eq!(track.title(), Some("Iron Man"));
/// assert!(track.is_ready());
/// # Ok::<(), vocals_callback::ParseError>(())
/// ```
pub fn parse(body: &[u8]) -> Result<VocalsEvent, ParseError> {
    let ctx = Ctx::default();
    let seed = RootSeed {
        ctx: &ctx,
        // `data: null` reads as absent, hence a missing task id.
        data: ObjectSeed::<RawData<'_>>::new(&ctx, ParseErrorKind::DataNotObject),
    };
    let root = wire::from_body(body, &ctx, seed)?;
    let code = root.code()?;
    let data = root.data.flatten().unwrap_or_default();
    let task_id = wire::check_task_id(data.task_id)?;
    let callback = Callback::new(
        &task_id,
        code,
        root.msg.as_deref(),
        data.callback_type.as_deref(),
        data.error.as_deref(),
        data.tracks,
    );
    Ok(VocalsEvent::classify(callback))
}

/// The `data` object as read.
#[derive(Default)]
struct RawData<'de> {
    callback_type: Option<Cow<'de, str>>,
    task_id: Option<Cow<'de, str>>,
    error: Option<Cow<'de, str>>,
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
        Ok(Some(match key {
            "task_id" => {
                let kind = ParseErrorKind::TaskIdNotString;
                self.task_id = map.next_value_seed(StrictStrSeed { ctx, kind })?;
                0
            }
            "callbackType" => {
                let kind = ParseErrorKind::CallbackTypeNotString;
                self.callback_type = map.next_value_seed(StrictStrSeed { ctx, kind })?;
                1
            }
            "data" => {
                self.tracks = map.next_value_seed(TracksSeed(ctx))?;
                2
            }
            "error" => {
                self.error = map.next_value::<Loose<'de>>()?.into_str();
                3
            }
            _ => return Ok(None),
        }))
    }
}
