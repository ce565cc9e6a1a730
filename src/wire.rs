//! Lenient readers for the JSON the provider sends, shared by the callback and polling parsers.
//!
//! They deserialize straight into typed values (never `serde_json::Value`), borrowing strings
//! from the body where no unescaping is needed. Shape problems are reported through [`Ctx`]
//! so the parsers can return a typed [`ParseErrorKind`] rather than a serde message.

use std::{borrow::Cow, cell::Cell, fmt};

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::{
    error::{ParseError, ParseErrorKind},
    track::{Created, Track, field},
};

/// Carries the shape error out of serde's visitors, which can only return serde errors.
#[derive(Default)]
pub(crate) struct Ctx {
    shape: Cell<Option<ParseErrorKind>>,
}

impl Ctx {
    /// Records `kind` and returns an error that stops the deserializer at once.
    #[cold]
    pub(crate) fn fail<E: de::Error>(&self, kind: ParseErrorKind) -> E {
        self.shape.set(Some(kind));
        E::custom(kind.as_str())
    }

    /// Turns a deserializer error into the typed error: the recorded shape error if there
    /// is one, otherwise a syntax error.
    #[cold]
    pub(crate) fn error(&self, err: serde_json::Error) -> ParseError {
        match self.shape.get() {
            Some(kind) => ParseError::new(kind),
            None => ParseError::with_source(ParseErrorKind::InvalidJson, err),
        }
    }
}

/// Runs `seed` over the whole of `body`: one JSON value and nothing after it.
pub(crate) fn from_body<'de, S: DeserializeSeed<'de>>(
    body: &'de [u8],
    ctx: &Ctx,
    seed: S,
) -> Result<S::Value, ParseError> {
    // Spans into the arenas are `u32`; the service's limit is far below this.
    if u32::try_from(body.len()).is_err() {
        return Err(ParseError::new(ParseErrorKind::BodyTooLarge));
    }
    // One validation of the whole body is cheaper than serde_json's check of each string,
    // and every string handed out is then known to be UTF-8.
    let text =
        std::str::from_utf8(body).map_err(|_| ParseError::new(ParseErrorKind::InvalidUtf8))?;
    let mut de = serde_json::Deserializer::from_str(text);
    let value = seed.deserialize(&mut de).map_err(|e| ctx.error(e))?;
    de.end()
        .map_err(|e| ParseError::with_source(ParseErrorKind::TrailingCharacters, e))?;
    Ok(value)
}

/// The root object both answers share: `code`, `msg`, and a `data` object read by `D`.
pub(crate) struct Root<'de, V> {
    pub(crate) code: Option<u16>,
    pub(crate) msg: Option<Cow<'de, str>>,
    pub(crate) data: Option<V>,
}

impl<V> Root<'_, V> {
    /// `code`, which both answers require.
    pub(crate) fn code(&self) -> Result<u16, ParseError> {
        self.code
            .ok_or_else(|| ParseError::new(ParseErrorKind::MissingCode))
    }
}

/// Reads a [`Root`], handing `data` to the seed `D`.
pub(crate) struct RootSeed<'c, D> {
    pub(crate) ctx: &'c Ctx,
    pub(crate) data: D,
}

impl<'de, D: DeserializeSeed<'de>> DeserializeSeed<'de> for RootSeed<'_, D> {
    type Value = Root<'de, D::Value>;
    fn deserialize<De: Deserializer<'de>>(self, d: De) -> Result<Self::Value, De::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, D: DeserializeSeed<'de>> Visitor<'de> for RootSeed<'_, D> {
    type Value = Root<'de, D::Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object with `code`, `msg` and `data`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let ctx = self.ctx;
        let mut data_seed = Some(self.data);
        let mut root = Root {
            code: None,
            msg: None,
            data: None,
        };
        let mut seen = Seen::default();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            match key.as_str() {
                "code" => {
                    seen.mark(0, ctx)?;
                    root.code = Some(map.next_value_seed(CodeSeed(ctx))?);
                }
                "msg" => {
                    seen.mark(1, ctx)?;
                    root.msg = map.next_value::<Loose<'de>>()?.into_str();
                }
                "data" => {
                    seen.mark(2, ctx)?;
                    // `seen` guarantees one `data`, so the seed is still here.
                    if let Some(seed) = data_seed.take() {
                        root.data = Some(map.next_value_seed(seed)?);
                    }
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(root)
    }

    refuse!(bool, i64, u64, f64, str, unit, seq);
}

impl<D> Refuse for RootSeed<'_, D> {
    fn refuse<E: de::Error>(&self) -> E {
        self.ctx.fail(ParseErrorKind::RootNotObject)
    }
}

/// Makes a visitor its own `DeserializeSeed`: the seed carries the context (a [`Ctx`]) into
/// nested values, and the visitor decides what each JSON type means.
macro_rules! seed_via_visitor {
    ($seed:ty => $value:ty) => {
        impl<'de> serde::de::DeserializeSeed<'de> for $seed {
            type Value = $value;
            fn deserialize<D: serde::de::Deserializer<'de>>(
                self,
                d: D,
            ) -> Result<Self::Value, D::Error> {
                d.deserialize_any(self)
            }
        }
    };
}

/// A visitor that wants one JSON type and answers every other with a shape error.
pub(crate) trait Refuse {
    /// Records the visitor's shape error in its [`Ctx`] and returns the serde error.
    fn refuse<E: de::Error>(&self) -> E;
}

/// Implements the listed `visit_*` methods as refusals (see [`Refuse`]).
macro_rules! refuse {
    ($($t:ident),*) => { $( refuse!(@ $t); )* };
    (@bool) => { fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> { Err(self.refuse()) } };
    (@i64) => { fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> { Err(self.refuse()) } };
    (@u64) => { fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> { Err(self.refuse()) } };
    (@f64) => { fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> { Err(self.refuse()) } };
    (@str) => { fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> { Err(self.refuse()) } };
    (@unit) => { fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> { Err(self.refuse()) } };
    (@seq) => {
        fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> { Err(self.refuse()) }
    };
    (@map) => {
        fn visit_map<A: de::MapAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> { Err(self.refuse()) }
    };
}
pub(crate) use refuse;

/// The fields of one object of the body, read by [`ObjectSeed`], which owns the loop over
/// the keys, the duplicate check and the skipping of unknown keys.
pub(crate) trait Fields<'de>: Default {
    /// What the object is, for serde's `expecting`.
    const NAME: &'static str;

    /// Reads the value of `key` if it is one of the object's fields, returning the field's
    /// number (for the duplicate check, below 32); `None` leaves the value to be skipped.
    fn field<A: MapAccess<'de>>(
        &mut self,
        key: &str,
        map: &mut A,
        ctx: &Ctx,
    ) -> Result<Option<u32>, A::Error>;
}

/// Reads an object of [`Fields`], or `null` as `None`; any other type is `not_object`.
pub(crate) struct ObjectSeed<'c, T> {
    ctx: &'c Ctx,
    not_object: ParseErrorKind,
    fields: std::marker::PhantomData<T>,
}

impl<'c, T> ObjectSeed<'c, T> {
    pub(crate) fn new(ctx: &'c Ctx, not_object: ParseErrorKind) -> Self {
        Self {
            ctx,
            not_object,
            fields: std::marker::PhantomData,
        }
    }
}

impl<'de, T: Fields<'de>> DeserializeSeed<'de> for ObjectSeed<'_, T> {
    type Value = Option<T>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, T: Fields<'de>> Visitor<'de> for ObjectSeed<'_, T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(T::NAME)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut object = T::default();
        let mut seen = Seen::default();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            match object.field(key.as_str(), &mut map, self.ctx)? {
                Some(bit) => seen.mark(bit, self.ctx)?,
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Some(object))
    }

    refuse!(bool, i64, u64, f64, str, seq);
}

impl<T> Refuse for ObjectSeed<'_, T> {
    fn refuse<E: de::Error>(&self) -> E {
        self.ctx.fail(self.not_object)
    }
}

/// An object key, borrowed from the body unless it contains escapes.
pub(crate) struct Key<'de>(Cow<'de, str>);

impl Key<'_> {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

/// Bits of the keys seen in one object, to refuse duplicates.
#[derive(Default)]
pub(crate) struct Seen(u32);

impl Seen {
    /// Marks key number `bit`; fails with `duplicate_key` when it was seen already.
    pub(crate) fn mark<E: de::Error>(&mut self, bit: u32, ctx: &Ctx) -> Result<(), E> {
        let mask = 1 << bit;
        if self.0 & mask != 0 {
            return Err(ctx.fail(ParseErrorKind::DuplicateKey));
        }
        self.0 |= mask;
        Ok(())
    }
}

/// Skips the rest of an array whose elements the reader does not want.
fn drain_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

/// Skips the rest of an object whose entries the reader does not want.
fn drain_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

/// Any JSON value read leniently as a scalar of one of the forms the provider uses.
///
/// Containers are skipped and read as [`Loose::Other`]; what a field does with each form is
/// up to the field (a string field keeps only strings, `duration` takes numbers and numeric
/// strings, `createTime` strings and integers).
#[derive(Default)]
pub(crate) enum Loose<'de> {
    #[default]
    Null,
    Str(Cow<'de, str>),
    Int(i64),
    /// A non-negative integer past `i64::MAX`.
    BigUint(u64),
    Float(f64),
    Other,
}

impl<'de> Loose<'de> {
    /// The value as a string field: strings only.
    pub(crate) fn into_str(self) -> Option<Cow<'de, str>> {
        match self {
            Self::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value as a number of seconds: numbers, or strings holding one.
    pub(crate) fn into_f64(self) -> Option<f64> {
        let f = match self {
            Self::Int(i) => i as f64,
            Self::BigUint(u) => u as f64,
            Self::Float(f) => f,
            Self::Str(s) => s.trim().parse().ok()?,
            Self::Null | Self::Other => return None,
        };
        f.is_finite().then_some(f)
    }

    /// The value as `createTime`: a string, or an integer of epoch milliseconds (an integral
    /// float is accepted as the same integer).
    pub(crate) fn into_created(self) -> (Created, Option<Cow<'de, str>>) {
        match self {
            Self::Str(s) => (Created::Text, Some(s)),
            Self::Int(i) => (Created::EpochMillis(i), None),
            Self::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
                // Exact: integral and well inside the range where f64 holds integers exactly.
                #[allow(clippy::cast_possible_truncation)]
                let ms = f as i64;
                (Created::EpochMillis(ms), None)
            }
            _ => (Created::Absent, None),
        }
    }
}

impl<'de> de::Deserialize<'de> for Loose<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Loose<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Loose::Other)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Loose::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(i64::try_from(v).map_or(Loose::BigUint(v), Loose::Int))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Loose::Float(v))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Loose::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Loose::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Loose::Null)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                drain_seq(seq)?;
                Ok(Loose::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                drain_map(map)?;
                Ok(Loose::Other)
            }
        }
        d.deserialize_any(V)
    }
}

/// Reads a string field that may be absent or null but must not be of another type.
pub(crate) struct StrictStrSeed<'c> {
    pub(crate) ctx: &'c Ctx,
    pub(crate) kind: ParseErrorKind,
}

seed_via_visitor!(StrictStrSeed<'_> => Option<Cow<'de, str>>);

impl<'de> Visitor<'de> for StrictStrSeed<'_> {
    type Value = Option<Cow<'de, str>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or null")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v.to_owned())))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    refuse!(bool, i64, u64, f64, seq, map);
}

impl Refuse for StrictStrSeed<'_> {
    fn refuse<E: de::Error>(&self) -> E {
        self.ctx.fail(self.kind)
    }
}

/// The longest task id accepted, in bytes. Real ids are 32 hex characters; the bound keeps
/// hostile ids from bloating the dedup store's keys.
pub const MAX_TASK_ID_LEN: usize = 256;

/// The most tracks one callback or polling answer may list. A task yields one or two;
/// the bound stops a body of `{},{},…` from costing fifty times its size in memory.
pub const MAX_TRACKS: usize = 64;

/// Checks a task id read by [`StrictStrSeed`] (null counts as missing).
pub(crate) fn check_task_id(task_id: Option<Cow<'_, str>>) -> Result<Cow<'_, str>, ParseError> {
    match task_id {
        None => Err(ParseError::new(ParseErrorKind::MissingTaskId)),
        Some(id) if id.is_empty() => Err(ParseError::new(ParseErrorKind::EmptyTaskId)),
        Some(id) if id.len() > MAX_TASK_ID_LEN => {
            Err(ParseError::new(ParseErrorKind::TaskIdTooLong))
        }
        Some(id) => Ok(id),
    }
}

/// Reads the response `code`: an integer in `0..=65535`.
pub(crate) struct CodeSeed<'c>(pub(crate) &'c Ctx);

seed_via_visitor!(CodeSeed<'_> => u16);

impl<'de> Visitor<'de> for CodeSeed<'_> {
    type Value = u16;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an integer code")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u16, E> {
        u16::try_from(v).map_err(|_| self.0.fail(ParseErrorKind::CodeOutOfRange))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u16, E> {
        u16::try_from(v).map_err(|_| self.0.fail(ParseErrorKind::CodeOutOfRange))
    }
    refuse!(f64, bool, str, unit, seq, map);
}

impl Refuse for CodeSeed<'_> {
    fn refuse<E: de::Error>(&self) -> E {
        self.0.fail(ParseErrorKind::CodeNotInteger)
    }
}

/// Reads a track list: an array of objects, or null.
pub(crate) struct TracksSeed<'c>(pub(crate) &'c Ctx);

seed_via_visitor!(TracksSeed<'_> => Vec<Track>);

impl<'de> Visitor<'de> for TracksSeed<'_> {
    type Value = Vec<Track>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of tracks or null")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Vec<Track>, E> {
        Ok(Vec::new())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Track>, A::Error> {
        // No capacity from the size hint: the hint is the sender's to choose.
        let mut tracks = Vec::new();
        while let Some(track) = seq.next_element_seed(TrackSeed(self.0))? {
            if tracks.len() == MAX_TRACKS {
                return Err(self.0.fail(ParseErrorKind::TooManyTracks));
            }
            tracks.push(track);
        }
        Ok(tracks)
    }
    refuse!(bool, i64, u64, f64, str, map);
}

impl Refuse for TracksSeed<'_> {
    fn refuse<E: de::Error>(&self) -> E {
        self.0.fail(ParseErrorKind::TracksNotArray)
    }
}

/// Reads one track object, accepting both the callback's snake_case names and the polling
/// answer's camelCase twins.
struct TrackSeed<'c>(&'c Ctx);

seed_via_visitor!(TrackSeed<'_> => Track);

/// Which track field a key names (string fields by their [`field`] index).
fn track_field(key: &str) -> Option<usize> {
    Some(match key {
        "id" => field::ID,
        "audio_url" | "audioUrl" => field::AUDIO_URL,
        "source_audio_url" | "sourceAudioUrl" => field::SOURCE_AUDIO_URL,
        "stream_audio_url" | "streamAudioUrl" => field::STREAM_AUDIO_URL,
        "source_stream_audio_url" | "sourceStreamAudioUrl" => field::SOURCE_STREAM_AUDIO_URL,
        "image_url" | "imageUrl" => field::IMAGE_URL,
        "source_image_url" | "sourceImageUrl" => field::SOURCE_IMAGE_URL,
        "prompt" => field::PROMPT,
        "model_name" | "modelName" => field::MODEL_NAME,
        "title" => field::TITLE,
        "tags" => field::TAGS,
        "createTime" | "create_time" => field::CREATED_AT,
        // One past the string fields: `duration` is a number.
        "duration" => field::COUNT,
        _ => return None,
    })
}

impl<'de> Visitor<'de> for TrackSeed<'_> {
    type Value = Track;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a track object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Track, A::Error> {
        let mut strings: [Option<Cow<'de, str>>; field::COUNT] = Default::default();
        let mut created = Created::Absent;
        let mut duration = None;
        let mut seen = Seen::default();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let Some(i) = track_field(key.as_str()) else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            seen.mark(u32::try_from(i).unwrap_or(31), self.0)?;
            let value: Loose<'de> = map.next_value()?;
            match i {
                field::CREATED_AT => {
                    let (kind, text) = value.into_created();
                    created = kind;
                    strings[field::CREATED_AT] = text;
                }
                field::COUNT => duration = value.into_f64(),
                _ => {
                    if let Some(slot) = strings.get_mut(i) {
                        *slot = value.into_str();
                    }
                }
            }
        }
        Ok(Track::from_parts(
            strings.each_ref().map(|s| s.as_deref()),
            created,
            duration,
        ))
    }
    refuse!(seq, bool, i64, u64, f64, str, unit);
}

impl Refuse for TrackSeed<'_> {
    fn refuse<E: de::Error>(&self) -> E {
        self.0.fail(ParseErrorKind::TrackNotObject)
    }
}
