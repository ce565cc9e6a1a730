//! One generated track, as the callbacks and the polling answer describe it.

use std::{fmt, time::Duration};

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::{
    arena::{self, Span},
    lyrics::Lyrics,
    time,
};

/// Indexes of the string fields in a track's arena; the wire reader fills them in this order.
pub(crate) mod field {
    pub(crate) const ID: usize = 0;
    pub(crate) const AUDIO_URL: usize = 1;
    pub(crate) const SOURCE_AUDIO_URL: usize = 2;
    pub(crate) const STREAM_AUDIO_URL: usize = 3;
    pub(crate) const SOURCE_STREAM_AUDIO_URL: usize = 4;
    pub(crate) const IMAGE_URL: usize = 5;
    pub(crate) const SOURCE_IMAGE_URL: usize = 6;
    pub(crate) const PROMPT: usize = 7;
    pub(crate) const MODEL_NAME: usize = 8;
    pub(crate) const TITLE: usize = 9;
    pub(crate) const TAGS: usize = 10;
    /// `createTime` when it came as a string.
    pub(crate) const CREATED_AT: usize = 11;
    pub(crate) const COUNT: usize = 12;
}

/// How `createTime` arrived, without the string (which lives in the arena).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Created {
    Absent,
    Text,
    EpochMillis(i64),
}

/// One track of a callback (`data.data[i]`) or of a polling answer (`sunoData[i]`).
///
/// Every field is optional, because the provider omits them freely (unfinished tracks have
/// no `duration`, kie.ai sends no `source_*` or `tags`), and **empty strings are `None`**: an
/// unfinished track arrives with `audio_url: ""`, which [`is_ready`](Self::is_ready) reports
/// as not ready. A field of an unexpected JSON type (say, a number where a string belongs) is
/// also `None`: one odd field never costs the whole event.
///
/// ```
/// let body = br#"{"code":200,"msg":"ok","data":{"callbackType":"first","task_id":"t1",
///   "data":[{"id":"a","audio_url":"https://cdn.example/a.mp3","tags":"rock, pop",
///            "createTime":1758044664461,"duration":198.44,"prompt":"[Verse] Hi"},
///           {"id":"b","audio_url":""}]}}"#;
/// let event = vocals_callback::parse(body)?;
/// let [a, b] = event.tracks() else { panic!("two tracks") };
/// assert!(a.is_ready() && !b.is_ready());
/// assert_eq!(a.tags().collect::<Vec<_>>(), ["rock", "pop"]);
/// assert_eq!(a.created_at().and_then(|c| c.epoch_millis()), Some(1_758_044_664_461));
/// assert_eq!(a.duration_secs(), Some(198.44));
/// assert_eq!(a.lyrics().lines().collect::<Vec<_>>(), ["Hi"]);
/// assert_eq!(b.audio_url(), None);
/// # Ok::<(), vocals_callback::ParseError>(())
/// ```
#[derive(Clone, PartialEq)]
pub struct Track {
    text: Box<str>,
    spans: [Span; field::COUNT],
    created: Created,
    duration: Option<f64>,
}

impl Track {
    /// Builds a track from its string fields (in [`field`] order), `createTime` and duration.
    pub(crate) fn from_parts(
        strings: [Option<&str>; field::COUNT],
        created: Created,
        duration: Option<f64>,
    ) -> Self {
        let (text, spans) = arena::pack(strings);
        // A `createTime` string that was empty is as absent as a missing one.
        let created = match created {
            Created::Text if spans[field::CREATED_AT] == Span::default() => Created::Absent,
            other => other,
        };
        Self {
            text,
            spans,
            created,
            duration: duration.filter(|d| d.is_finite()),
        }
    }

    fn get(&self, field: usize) -> Option<&str> {
        self.spans
            .get(field)
            .and_then(|span| arena::get(&self.text, *span))
    }

    /// The track id (`id`), a UUID in real payloads.
    #[must_use]
    pub fn id(&self) -> Option<&str> {
        self.get(field::ID)
    }

    /// The downloadable audio (`audio_url` / `audioUrl`); `None` while the track is not
    /// finished. The provider's URLs expire: download promptly.
    #[must_use]
    pub fn audio_url(&self) -> Option<&str> {
        self.get(field::AUDIO_URL)
    }

    /// `source_audio_url` (deprecated by the provider, absent on some sites).
    #[must_use]
    pub fn source_audio_url(&self) -> Option<&str> {
        self.get(field::SOURCE_AUDIO_URL)
    }

    /// `stream_audio_url`: a stream that may be available before the audio file.
    #[must_use]
    pub fn stream_audio_url(&self) -> Option<&str> {
        self.get(field::STREAM_AUDIO_URL)
    }

    /// `source_stream_audio_url` (absent on some sites).
    #[must_use]
    pub fn source_stream_audio_url(&self) -> Option<&str> {
        self.get(field::SOURCE_STREAM_AUDIO_URL)
    }

    /// `image_url`: the cover art.
    #[must_use]
    pub fn image_url(&self) -> Option<&str> {
        self.get(field::IMAGE_URL)
    }

    /// `source_image_url` (absent on some sites).
    #[must_use]
    pub fn source_image_url(&self) -> Option<&str> {
        self.get(field::SOURCE_IMAGE_URL)
    }

    /// `prompt`: the lyrics as sent; see [`lyrics`](Self::lyrics) for them as sections.
    #[must_use]
    pub fn prompt(&self) -> Option<&str> {
        self.get(field::PROMPT)
    }

    /// `model_name`, an open set (`chirp-v3-5`, `chirp-v4-5`, …).
    #[must_use]
    pub fn model_name(&self) -> Option<&str> {
        self.get(field::MODEL_NAME)
    }

    /// `title`.
    #[must_use]
    pub fn title(&self) -> Option<&str> {
        self.get(field::TITLE)
    }

    /// `tags` exactly as sent: a comma-separated list of styles.
    #[must_use]
    pub fn tags_raw(&self) -> Option<&str> {
        self.get(field::TAGS)
    }

    /// The styles of `tags`, split at commas, trimmed, empty items skipped.
    pub fn tags(&self) -> impl Iterator<Item = &str> + '_ {
        self.tags_raw()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
    }

    /// `createTime`, as a string or as epoch milliseconds, whichever the provider sent.
    #[must_use]
    pub fn created_at(&self) -> Option<CreatedAt<'_>> {
        match self.created {
            Created::Absent => None,
            Created::EpochMillis(ms) => Some(CreatedAt::EpochMillis(ms)),
            Created::Text => self.get(field::CREATED_AT).map(CreatedAt::Text),
        }
    }

    /// `duration` in seconds; absent on unfinished tracks.
    #[must_use]
    pub fn duration_secs(&self) -> Option<f64> {
        self.duration
    }

    /// `duration` as a [`Duration`] (`None` when absent or negative).
    #[must_use]
    pub fn duration(&self) -> Option<Duration> {
        self.duration
            .and_then(|d| Duration::try_from_secs_f64(d).ok())
    }

    /// `true` when the track has its audio: `audio_url` is present and not empty.
    #[must_use]
    pub fn is_ready(&self) -> bool {
        self.audio_url().is_some()
    }

    /// The prompt parsed into sections (`[Verse 2]` → kind `Verse`, number 2, its lines).
    /// Empty when there is no prompt.
    #[must_use]
    pub fn lyrics(&self) -> Lyrics<'_> {
        Lyrics::parse(self.prompt().unwrap_or_default())
    }
}

impl fmt::Debug for Track {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Track")
            .field("id", &self.id())
            .field("ready", &self.is_ready())
            .field("audio_url", &self.audio_url())
            .field("title", &self.title())
            .field("model_name", &self.model_name())
            .field("created_at", &self.created_at())
            .field("duration", &self.duration)
            .finish_non_exhaustive()
    }
}

/// Serialised with every field (`null` when absent), in this order: `id`, `audio_url`,
/// `source_audio_url`, `stream_audio_url`, `source_stream_audio_url`, `image_url`,
/// `source_image_url`, `prompt`, `model_name`, `title`, `tags` (the raw string),
/// `created_at` (string or integer, as sent), `created_at_ms` (normalised, or `null`),
/// `duration` (seconds), `ready` (bool).
impl Serialize for Track {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(TRACK_KEYS.len() + 4))?;
        for (i, key) in TRACK_KEYS.iter().enumerate() {
            map.serialize_entry(key, &self.get(i))?;
        }
        let created = self.created_at();
        map.serialize_entry("created_at", &created)?;
        map.serialize_entry("created_at_ms", &created.and_then(|c| c.epoch_millis()))?;
        map.serialize_entry("duration", &self.duration)?;
        map.serialize_entry("ready", &self.is_ready())?;
        map.end()
    }
}

/// Serialised names of the string fields, in [`field`] order (up to `TAGS`).
const TRACK_KEYS: [&str; field::TAGS + 1] = [
    "id",
    "audio_url",
    "source_audio_url",
    "stream_audio_url",
    "source_stream_audio_url",
    "image_url",
    "source_image_url",
    "prompt",
    "model_name",
    "title",
    "tags",
];

/// A track's `createTime` in the form the provider sent it.
///
/// The docs show a date-time string (`"2025-01-01 00:00:00"`), the live service sends
/// epoch milliseconds as a JSON integer (`1758044664461`). [`epoch_millis`](Self::epoch_millis)
/// normalises both.
///
/// ```
/// use vocals_callback::CreatedAt;
///
/// assert_eq!(CreatedAt::EpochMillis(1_758_044_664_461).epoch_millis(), Some(1_758_044_664_461));
/// // Strings without a zone are read as UTC.
/// assert_eq!(CreatedAt::Text("2025-01-01 00:00:00").epoch_millis(), Some(1_735_689_600_000));
/// assert_eq!(CreatedAt::Text("yesterday").epoch_millis(), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreatedAt<'a> {
    /// A string, kept as sent.
    Text(&'a str),
    /// An integer: milliseconds since the Unix epoch.
    EpochMillis(i64),
}

impl CreatedAt<'_> {
    /// Milliseconds since the Unix epoch: the integer as sent, or the string parsed as
    /// `YYYY-MM-DD[ T]HH:MM:SS[.fff][Z|±HH:MM]` (UTC when no zone is given) or as a string of
    /// digits; `None` when the string is none of those.
    #[must_use]
    pub fn epoch_millis(&self) -> Option<i64> {
        match *self {
            Self::EpochMillis(ms) => Some(ms),
            Self::Text(s) => time::parse_epoch_millis(s),
        }
    }
}

/// Serialised as sent: a string or an integer.
impl Serialize for CreatedAt<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match *self {
            Self::Text(s) => serializer.serialize_str(s),
            Self::EpochMillis(ms) => serializer.serialize_i64(ms),
        }
    }
}
