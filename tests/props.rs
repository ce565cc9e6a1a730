//! Property tests of both parsers: no input reaches a panic, errors never quote the body,
//! truncations of valid bodies are refused, and generated valid callbacks (any key order,
//! any strings, every quirk) round-trip field by field, through parsing and serialisation.

use proptest::{
    collection::vec,
    prelude::*,
    sample::{Index, select},
};
use serde_json::{Value, json};
use vocals_callback::{
    CreatedAt, FailureKind, ParseError, Stage, Track, VocalsEvent, parse, record_info,
};

#[path = "support/fixtures.rs"]
mod fixtures;
use fixtures::{CALLBACKS, RECORD_INFOS};

// ---------------------------------------------------------------------------------------
// Checks shared by the never-panic properties.
// ---------------------------------------------------------------------------------------

fn is_snake_case(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !s.starts_with('_')
        && !s.ends_with('_')
        && !s.contains("__")
}

/// A refusal names its kind in snake_case, and neither `Display` nor `Debug` quotes the body.
fn check_error(input: &[u8], err: &ParseError) -> Result<(), TestCaseError> {
    let name = err.kind().as_str();
    prop_assert!(is_snake_case(name), "kind name {:?}", name);
    prop_assert_eq!(err.kind().to_string(), name);
    if input.len() > 16 {
        for text in [err.to_string(), format!("{err:?}")] {
            prop_assert!(
                !text.as_bytes().windows(input.len()).any(|w| w == input),
                "the error text quotes the input: {}",
                text
            );
        }
    }
    Ok(())
}

/// Touches every accessor of an accepted event, so none of them can hide a panic.
fn exercise_event(event: &VocalsEvent) {
    let _ = (event.stage(), event.task_id(), event.code(), event.msg());
    let _ = event.callback().callback_type();
    if let Some(f) = event.failure() {
        let _ = (f.kind().as_str(), f.error(), f.callback_type());
    }
    for track in event.tracks() {
        exercise_track(track);
    }
    let _ = serde_json::to_string(event).expect("an event always serialises");
    let _ = format!("{event:?}");
}

fn exercise_track(track: &Track) {
    let _ = (track.is_ready(), track.duration(), track.duration_secs());
    let _ = track.tags().count();
    let _ = track.created_at().map(|c| c.epoch_millis());
    let lyrics = track.lyrics();
    let _ = (
        lyrics.is_empty(),
        lyrics.is_instrumental(),
        lyrics.lines().count(),
    );
    let _ = lyrics.to_string();
    for section in lyrics.sections() {
        let _ = (section.kind().as_str(), section.number(), section.label());
        let _ = (section.canonical_label(), section.lines().len());
    }
}

fn check_callback(input: &[u8]) -> Result<(), TestCaseError> {
    match parse(input) {
        Ok(event) => {
            prop_assert!(!event.task_id().is_empty());
            exercise_event(&event);
        }
        Err(err) => check_error(input, &err)?,
    }
    Ok(())
}

fn check_record_info(input: &[u8]) -> Result<(), TestCaseError> {
    match record_info::parse(input) {
        Ok(info) => {
            let _ = (
                info.status(),
                info.status_raw(),
                info.error_code(),
                info.created_at(),
            );
            for track in info.tracks() {
                exercise_track(track);
            }
            for event in info.events() {
                prop_assert_eq!(Some(event.task_id()), info.task_id());
                exercise_event(&event);
            }
        }
        Err(err) => check_error(input, &err)?,
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Mutations of real bodies.
// ---------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Mutation {
    Replace(Index, u8),
    Insert(Index, u8),
    Delete(Index),
}

/// Bytes that matter to JSON more often than chance would pick them.
fn any_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        any::<u8>(),
        select(b"{}[]\",:\\ \n0123456789-+.eEtrufnal\x00\xc3\xa9\xff".to_vec()),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), any_byte()).prop_map(|(i, b)| Mutation::Replace(i, b)),
        (any::<Index>(), any_byte()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<Index>().prop_map(Mutation::Delete),
    ]
}

fn mutate(body: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut out = body.to_vec();
    for m in mutations {
        match m {
            Mutation::Replace(i, b) if !out.is_empty() => {
                let at = i.index(out.len());
                out[at] = *b;
            }
            Mutation::Insert(i, b) => {
                let at = i.index(out.len() + 1);
                out.insert(at, *b);
            }
            Mutation::Delete(i) if !out.is_empty() => {
                let at = i.index(out.len());
                out.remove(at);
            }
            _ => {}
        }
    }
    out
}

/// JSON-ish token soup: reaches the shape checks far more often than random bytes.
fn json_soup() -> impl Strategy<Value = String> {
    let tokens = [
        "{",
        "}",
        "[",
        "]",
        ":",
        ",",
        " ",
        "\"code\"",
        "\"msg\"",
        "\"data\"",
        "\"task_id\"",
        "\"taskId\"",
        "\"callbackType\"",
        "\"response\"",
        "\"sunoData\"",
        "\"status\"",
        "\"errorCode\"",
        "\"audio_url\"",
        "\"createTime\"",
        "\"duration\"",
        "\"error\"",
        "\"text\"",
        "\"complete\"",
        "\"SUCCESS\"",
        "\"t\"",
        "\"\"",
        "\"\\u0000\"",
        "\"\\ud800\"",
        "200",
        "501",
        "-1",
        "65536",
        "1e999",
        "198.44",
        "1758044664461",
        "null",
        "true",
    ];
    vec(select(tokens.to_vec()), 0..48).prop_map(|t| t.concat())
}

// ---------------------------------------------------------------------------------------
// Generated valid callbacks.
// ---------------------------------------------------------------------------------------

/// Values of another JSON type than a string, number excluded (a number is a valid
/// `createTime` and `duration`).
const NON_SCALARS: [&str; 6] = [
    "true",
    "false",
    "[]",
    r#"["a",1]"#,
    "{}",
    r#"{"a":[1,{"b":null}],"task_id":"x"}"#,
];
/// Values of another JSON type than a string, numbers included.
const NON_STRINGS: [&str; 10] = [
    "true",
    "false",
    "[]",
    r#"["a",1]"#,
    "{}",
    r#"{"a":[1,{"b":null}],"task_id":"x"}"#,
    "0",
    "-1.5",
    "1e300",
    "18446744073709551616",
];

/// A JSON value in one of the forms a lenient string field may take.
#[derive(Clone, Debug)]
enum Val {
    Absent,
    Null,
    Str(String),
    /// Another JSON type, as text: read as absent.
    Other(&'static str),
}

impl Val {
    fn expected(&self) -> Option<&str> {
        match self {
            Self::Str(s) if !s.is_empty() => Some(s),
            _ => None,
        }
    }

    fn entry(&self, key: &str) -> Option<(String, String)> {
        let value = match self {
            Self::Absent => return None,
            Self::Null => "null".to_owned(),
            Self::Str(s) => json_str(s),
            Self::Other(v) => (*v).to_owned(),
        };
        Some((json_str(key), value))
    }
}

#[derive(Clone, Debug)]
enum Created {
    Absent,
    Null,
    Text(String),
    Millis(i64),
    Other(&'static str),
}

#[derive(Clone, Debug)]
enum Duration {
    Absent,
    Null,
    Secs(f64),
    Other(&'static str),
}

#[derive(Clone, Debug)]
struct GenTrack {
    /// The string fields in serialisation order, each with "use the camelCase name".
    strings: Vec<(Val, bool)>,
    created: Created,
    created_snake: bool,
    duration: Duration,
    extra: Option<(String, &'static str)>,
    seed: u64,
}

#[derive(Clone, Debug)]
enum Tracks {
    Absent,
    Null,
    List(Vec<GenTrack>),
}

#[derive(Clone, Debug)]
struct GenBody {
    code: u16,
    msg: Val,
    callback_type: Val,
    task_id: String,
    error: Val,
    tracks: Tracks,
    seed: u64,
    ws: &'static str,
}

/// Snake_case names of the string fields, in the order of [`GETTERS`]; also their
/// serialised names.
const SNAKE: [&str; 11] = [
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
const CAMEL: [&str; 11] = [
    "id",
    "audioUrl",
    "sourceAudioUrl",
    "streamAudioUrl",
    "sourceStreamAudioUrl",
    "imageUrl",
    "sourceImageUrl",
    "prompt",
    "modelName",
    "title",
    "tags",
];
const GETTERS: [fn(&Track) -> Option<&str>; 11] = [
    Track::id,
    Track::audio_url,
    Track::source_audio_url,
    Track::stream_audio_url,
    Track::source_stream_audio_url,
    Track::image_url,
    Track::source_image_url,
    Track::prompt,
    Track::model_name,
    Track::title,
    Track::tags_raw,
];

fn json_str(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
}

/// A Fisher–Yates shuffle driven by a xorshift seeded from the test case.
fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut state = seed | 1;
    for i in (1..items.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let j = usize::try_from(state % (i as u64 + 1)).expect("fits");
        items.swap(i, j);
    }
}

/// An object's JSON text, entries in a shuffled order, `ws` around every token.
fn object(mut entries: Vec<(String, String)>, seed: u64, ws: &str) -> String {
    shuffle(&mut entries, seed);
    let inner: Vec<String> = entries
        .into_iter()
        .map(|(k, v)| format!("{k}{ws}:{ws}{v}"))
        .collect();
    format!("{{{ws}{}{ws}}}", inner.join(&format!(",{ws}")))
}

impl GenTrack {
    fn to_json(&self, ws: &str) -> String {
        let mut entries: Vec<(String, String)> = self
            .strings
            .iter()
            .enumerate()
            .filter_map(|(i, (val, camel))| val.entry(if *camel { CAMEL[i] } else { SNAKE[i] }))
            .collect();
        let created_key = if self.created_snake {
            "create_time"
        } else {
            "createTime"
        };
        let created = match &self.created {
            Created::Absent => None,
            Created::Null => Some("null".to_owned()),
            Created::Text(s) => Some(json_str(s)),
            Created::Millis(ms) => Some(ms.to_string()),
            Created::Other(v) => Some((*v).to_owned()),
        };
        entries.extend(created.map(|v| (json_str(created_key), v)));
        let duration = match &self.duration {
            Duration::Absent => None,
            Duration::Null => Some("null".to_owned()),
            Duration::Secs(d) => Some(serde_json::to_string(d).expect("finite")),
            Duration::Other(v) => Some((*v).to_owned()),
        };
        entries.extend(duration.map(|v| (json_str("duration"), v)));
        if let Some((key, value)) = &self.extra {
            entries.push((json_str(key), (*value).to_owned()));
        }
        object(entries, self.seed, ws)
    }

    fn expected_created(&self) -> Option<CreatedAt<'_>> {
        match &self.created {
            Created::Text(s) if !s.is_empty() => Some(CreatedAt::Text(s)),
            Created::Millis(ms) => Some(CreatedAt::EpochMillis(*ms)),
            _ => None,
        }
    }

    /// The duration as JSON reads it back (serde_json's own reading of the number text, so
    /// the property holds whether or not exact float round-tripping is enabled).
    fn expected_duration(&self) -> Option<f64> {
        match self.duration {
            Duration::Secs(d) => {
                let text = serde_json::to_string(&d).expect("finite");
                Some(serde_json::from_str(&text).expect("a number"))
            }
            _ => None,
        }
    }
}

impl GenBody {
    fn to_json(&self) -> String {
        let ws = self.ws;
        let mut data = vec![(json_str("task_id"), json_str(&self.task_id))];
        data.extend(self.callback_type.entry("callbackType"));
        data.extend(self.error.entry("error"));
        match &self.tracks {
            Tracks::Absent => {}
            Tracks::Null => data.push((json_str("data"), "null".to_owned())),
            Tracks::List(list) => {
                let items: Vec<String> = list.iter().map(|t| t.to_json(ws)).collect();
                data.push((
                    json_str("data"),
                    format!("[{ws}{}{ws}]", items.join(&format!(",{ws}"))),
                ));
            }
        }
        data.push((
            json_str("x_unknown"),
            r#"{"task_id":1,"data":"x"}"#.to_owned(),
        ));
        let mut root = vec![
            (json_str("code"), self.code.to_string()),
            (
                json_str("data"),
                object(data, self.seed.rotate_left(17), ws),
            ),
        ];
        root.extend(self.msg.entry("msg"));
        root.push((json_str("extra"), r#"[{"code":1}]"#.to_owned()));
        object(root, self.seed, ws)
    }

    fn tracks(&self) -> &[GenTrack] {
        match &self.tracks {
            Tracks::List(list) => list,
            Tracks::Absent | Tracks::Null => &[],
        }
    }

    /// The stage the protocol gives: `code` decides failure, then `callbackType`
    /// (case-insensitively); `error` / `failed` fail, anything else is unknown.
    fn expected_stage(&self) -> Stage {
        if self.code != 200 {
            return Stage::Failed;
        }
        let Some(t) = self.callback_type.expected() else {
            return Stage::Unknown;
        };
        match t.to_ascii_lowercase().as_str() {
            "text" => Stage::Text,
            "first" => Stage::First,
            "complete" => Stage::Complete,
            "error" | "failed" => Stage::Failed,
            _ => Stage::Unknown,
        }
    }
}

/// Characters that stress JSON escaping and UTF-8 handling.
fn tricky_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => any::<char>(),
        2 => select(vec!['"', '\\', '/', '\0', '\n', '\r', '\t', '\u{1f}', '\u{7f}', '\u{2028}']),
        2 => prop::char::range('\u{4e00}', '\u{9fff}'),
        1 => select(vec!['\u{feff}', '\u{fffd}', '\u{10ffff}', '\u{1f3b5}', 'é']),
        3 => prop::char::range(' ', '~'),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => Just(String::new()),
        1 => Just("[Verse] 夜晚城市 灯火辉煌".to_owned()),
        1 => Just("https://cdn.example/a.mp3".to_owned()),
        4 => vec(tricky_char(), 0..24).prop_map(|c| c.into_iter().collect()),
    ]
}

fn val(with_other: bool) -> BoxedStrategy<Val> {
    let base = prop_oneof![
        1 => Just(Val::Absent),
        1 => Just(Val::Null),
        5 => text().prop_map(Val::Str),
    ];
    if with_other {
        prop_oneof![6 => base, 1 => select(NON_STRINGS.to_vec()).prop_map(Val::Other)].boxed()
    } else {
        base.boxed()
    }
}

fn callback_type() -> impl Strategy<Value = Val> {
    let known = (
        select(vec!["text", "first", "complete", "error", "failed"]),
        any::<u8>(),
    )
        .prop_map(|(t, mask)| {
            // Flip the case of some letters: the comparison ignores ASCII case.
            t.chars()
                .enumerate()
                .map(|(i, c)| {
                    if mask >> (i % 8) & 1 == 1 {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    }
                })
                .collect::<String>()
        });
    prop_oneof![
        1 => Just(Val::Absent),
        1 => Just(Val::Null),
        6 => known.prop_map(Val::Str),
        2 => "[ -~]{0,12}".prop_map(Val::Str),
    ]
}

fn task_id() -> impl Strategy<Value = String> {
    prop_oneof![
        vec(tricky_char(), 1..=256),
        vec(prop::char::range('!', '~'), 256..=256),
    ]
    .prop_map(|chars| {
        // At most MAX_TASK_ID_LEN bytes, never empty (the first char always fits).
        let mut id = String::new();
        for c in chars {
            if id.len() + c.len_utf8() > vocals_callback::MAX_TASK_ID_LEN {
                break;
            }
            id.push(c);
        }
        id
    })
}

fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        1 => Just(Duration::Absent),
        1 => Just(Duration::Null),
        2 => (0u32..1_000_000).prop_map(|c| Duration::Secs(f64::from(c) / 100.0)),
        2 => any::<f64>().prop_filter("finite", |d| d.is_finite()).prop_map(Duration::Secs),
        1 => select(NON_SCALARS.to_vec()).prop_map(Duration::Other),
    ]
}

fn created() -> impl Strategy<Value = Created> {
    prop_oneof![
        1 => Just(Created::Absent),
        1 => Just(Created::Null),
        1 => Just(Created::Text("2025-01-01 00:00:00".to_owned())),
        2 => text().prop_map(Created::Text),
        3 => any::<i64>().prop_map(Created::Millis),
        1 => Just(Created::Millis(1_758_044_664_461)),
        1 => select(NON_SCALARS.to_vec()).prop_map(Created::Other),
    ]
}

fn gen_track() -> impl Strategy<Value = GenTrack> {
    (
        vec((val(true), any::<bool>()), 11..=11),
        created(),
        any::<bool>(),
        duration(),
        proptest::option::of(("x_[a-zA-Z_]{0,8}", select(NON_STRINGS.to_vec()))),
        any::<u64>(),
    )
        .prop_map(
            |(strings, created, created_snake, duration, extra, seed)| GenTrack {
                strings,
                created,
                created_snake,
                duration,
                extra,
                seed,
            },
        )
}

fn gen_body() -> impl Strategy<Value = GenBody> {
    let code = prop_oneof![
        6 => Just(200u16),
        1 => select(vec![400u16, 413, 501, 531]),
        1 => any::<u16>(),
    ];
    let tracks = prop_oneof![
        1 => Just(Tracks::Absent),
        1 => Just(Tracks::Null),
        6 => vec(gen_track(), 0..4).prop_map(Tracks::List),
    ];
    (
        code,
        val(true),
        callback_type(),
        task_id(),
        val(true),
        tracks,
        any::<u64>(),
        select(vec!["", " ", "\n  ", "\t", "\r\n"]),
    )
        .prop_map(
            |(code, msg, callback_type, task_id, error, tracks, seed, ws)| GenBody {
                code,
                msg,
                callback_type,
                task_id,
                error,
                tracks,
                seed,
                ws,
            },
        )
}

fn check_round_trip(parts: &GenBody, event: &VocalsEvent) -> Result<(), TestCaseError> {
    prop_assert_eq!(event.task_id(), parts.task_id.as_str());
    prop_assert_eq!(event.code(), parts.code);
    prop_assert_eq!(event.msg(), parts.msg.expected());
    prop_assert_eq!(
        event.callback().callback_type(),
        parts.callback_type.expected()
    );
    prop_assert_eq!(event.stage(), parts.expected_stage());
    match event.failure() {
        Some(failure) => {
            prop_assert_eq!(failure.kind(), FailureKind::from_code(parts.code));
            prop_assert_eq!(failure.error(), parts.error.expected());
            prop_assert_eq!(failure.code(), parts.code);
        }
        None => prop_assert_ne!(event.stage(), Stage::Failed),
    }
    let expected = parts.tracks();
    prop_assert_eq!(event.tracks().len(), expected.len());
    for (track, want) in event.tracks().iter().zip(expected) {
        for (i, get) in GETTERS.iter().enumerate() {
            prop_assert_eq!(
                get(track),
                want.strings[i].0.expected(),
                "field {}",
                SNAKE[i]
            );
        }
        prop_assert_eq!(track.created_at(), want.expected_created());
        prop_assert_eq!(track.duration_secs(), want.expected_duration());
        if let Duration::Secs(d) = want.duration {
            let back = track.duration_secs().expect("a finite duration is kept");
            prop_assert!((back - d).abs() <= d.abs() * 1e-15, "{} vs {}", back, d);
        }
        prop_assert_eq!(track.is_ready(), want.strings[1].0.expected().is_some());
    }
    Ok(())
}

/// The keys of a serialised object, in the order they were written (`serde_json::Map`
/// sorts its keys, so it cannot tell).
fn keys_in_order(json: &str) -> Vec<String> {
    struct Keys(Vec<String>);
    struct KeysVisitor;
    impl<'de> serde::de::Visitor<'de> for KeysVisitor {
        type Value = Keys;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Keys, A::Error> {
            let mut keys = Vec::new();
            while let Some((key, serde::de::IgnoredAny)) = map.next_entry()? {
                keys.push(key);
            }
            Ok(Keys(keys))
        }
    }
    impl<'de> serde::Deserialize<'de> for Keys {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_map(KeysVisitor)
        }
    }
    serde_json::from_str::<Keys>(json).expect("an object").0
}

fn check_serialised(event: &VocalsEvent) -> Result<(), TestCaseError> {
    // Exactly the documented keys, in the documented order.
    let text = serde_json::to_string(event).expect("an event serialises");
    let want: &[&str] = if event.failure().is_some() {
        &[
            "task_id",
            "stage",
            "callback_type",
            "code",
            "msg",
            "failure",
            "error",
            "tracks",
        ]
    } else {
        &["task_id", "stage", "callback_type", "code", "msg", "tracks"]
    };
    prop_assert_eq!(keys_in_order(&text), want);
    let value = serde_json::to_value(event).expect("an event serialises");
    let obj = value.as_object().expect("an event is an object");
    prop_assert_eq!(&obj["task_id"], &json!(event.task_id()));
    prop_assert_eq!(&obj["stage"], &json!(event.stage().as_str()));
    prop_assert_eq!(
        &obj["callback_type"],
        &json!(event.callback().callback_type())
    );
    prop_assert_eq!(&obj["code"], &json!(event.code()));
    prop_assert_eq!(&obj["msg"], &json!(event.msg()));
    if let Some(failure) = event.failure() {
        prop_assert_eq!(&obj["failure"], &json!(failure.kind().as_str()));
        prop_assert_eq!(&obj["error"], &json!(failure.error()));
    }
    let tracks = obj["tracks"].as_array().expect("tracks is an array");
    prop_assert_eq!(tracks.len(), event.tracks().len());
    for (value, track) in tracks.iter().zip(event.tracks()) {
        check_serialised_track(value, track)?;
    }
    Ok(())
}

fn check_serialised_track(value: &Value, track: &Track) -> Result<(), TestCaseError> {
    let text = serde_json::to_string(track).expect("a track serialises");
    let mut want: Vec<&str> = SNAKE.to_vec();
    want.extend(["created_at", "created_at_ms", "duration", "ready"]);
    prop_assert_eq!(keys_in_order(&text), want);
    let obj = value.as_object().expect("a track is an object");
    for (i, get) in GETTERS.iter().enumerate() {
        prop_assert_eq!(&obj[SNAKE[i]], &json!(get(track)), "field {}", SNAKE[i]);
    }
    let created = match track.created_at() {
        None => Value::Null,
        Some(CreatedAt::Text(s)) => json!(s),
        Some(CreatedAt::EpochMillis(ms)) => json!(ms),
    };
    prop_assert_eq!(&obj["created_at"], &created);
    prop_assert_eq!(
        &obj["created_at_ms"],
        &json!(track.created_at().and_then(|c| c.epoch_millis()))
    );
    prop_assert_eq!(obj["duration"].as_f64(), track.duration_secs());
    prop_assert_eq!(obj["duration"].is_null(), track.duration_secs().is_none());
    prop_assert_eq!(&obj["ready"], &json!(track.is_ready()));
    Ok(())
}

/// Prompts that look like lyrics more often than random text does.
fn prompt() -> impl Strategy<Value = String> {
    let fragments = vec![
        "[Verse]",
        "[Verse 2]",
        "[Chorus x2]",
        "[Pre-Chorus]",
        "[Instrumental]",
        "[",
        "]",
        "[]",
        "[ ]",
        "\n",
        "\n\n",
        "\r\n",
        " ",
        "夜晚城市",
        "la la",
        "\"",
        "\\",
        "\0",
        "\u{2028}",
        "🎵",
        "x2",
        "(",
        ")",
        ":",
        "—",
    ];
    prop_oneof![
        any::<String>(),
        vec(tricky_char(), 0..64).prop_map(|c| c.into_iter().collect()),
        vec(select(fragments), 0..40).prop_map(|f| f.concat()),
    ]
}

/// Every prefix of a valid body is refused as malformed JSON (or UTF-8, when the cut splits
/// a character), unless all it drops is trailing whitespace (the upstream samples end with a
/// newline). Exhaustive, so no cut is left to chance.
#[test]
fn every_truncation_of_every_fixture_is_refused_unless_it_only_drops_whitespace() {
    for body in CALLBACKS.iter().chain(&RECORD_INFOS) {
        for n in 0..body.len() {
            let only_whitespace = body[n..].iter().all(u8::is_ascii_whitespace);
            let callback = parse(&body[..n]);
            let answer = record_info::parse(&body[..n]);
            if only_whitespace {
                // The same outcome as the whole body (every fixture is a valid answer).
                let kind = |e: ParseError| e.kind();
                assert_eq!(callback.map_err(kind), parse(body).map_err(kind));
                let whole = record_info::parse(body).map_err(kind);
                assert_eq!(answer.map_err(kind), whole, "cut at {n}");
                assert!(whole.is_ok(), "cut at {n}");
                continue;
            }
            for err in [callback.err(), answer.err()] {
                let err = err.unwrap_or_else(|| panic!("a cut at {n} was accepted"));
                assert!(err.kind().is_syntax(), "cut at {n}: {:?}", err.kind());
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Properties.
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_never_panics_on_arbitrary_bytes(body in vec(any::<u8>(), 0..2048)) {
        check_callback(&body)?;
    }

    #[test]
    fn parse_never_panics_on_arbitrary_strings(body in any::<String>()) {
        check_callback(body.as_bytes())?;
    }

    #[test]
    fn parse_never_panics_on_json_like_token_soup(body in json_soup()) {
        check_callback(body.as_bytes())?;
    }

    #[test]
    fn a_truncated_fixture_is_refused_as_a_syntax_error(
        which in 0..CALLBACKS.len(),
        cut in any::<Index>(),
    ) {
        let body = CALLBACKS[which];
        let n = cut.index(body.len());
        let prefix = &body[..n];
        check_callback(prefix)?;
        let result = parse(prefix);
        if body[n..].iter().all(u8::is_ascii_whitespace) {
            prop_assert!(result.is_ok(), "only whitespace was dropped");
        } else {
            let err = result.expect_err("a truncated body is refused");
            prop_assert!(err.kind().is_syntax(), "{:?}", err.kind());
        }
    }

    #[test]
    fn parse_never_panics_on_mutated_fixtures(
        which in 0..CALLBACKS.len(),
        mutations in vec(mutation(), 1..8),
    ) {
        check_callback(&mutate(CALLBACKS[which], &mutations))?;
    }

    #[test]
    fn parse_never_panics_on_a_single_mutation_of_a_fixture(
        which in 0..CALLBACKS.len(),
        m in mutation(),
    ) {
        check_callback(&mutate(CALLBACKS[which], &[m]))?;
    }

    #[test]
    fn record_info_parse_never_panics_on_arbitrary_bytes(body in vec(any::<u8>(), 0..2048)) {
        check_record_info(&body)?;
    }

    #[test]
    fn record_info_parse_never_panics_on_json_like_token_soup(body in json_soup()) {
        check_record_info(body.as_bytes())?;
    }

    #[test]
    fn record_info_parse_never_panics_on_mutated_fixtures(
        which in 0..RECORD_INFOS.len(),
        mutations in vec(mutation(), 1..8),
    ) {
        check_record_info(&mutate(RECORD_INFOS[which], &mutations))?;
    }

    #[test]
    fn a_truncated_record_info_fixture_is_refused_as_a_syntax_error(
        which in 0..RECORD_INFOS.len(),
        cut in any::<Index>(),
    ) {
        let body = RECORD_INFOS[which];
        let n = cut.index(body.len());
        check_record_info(&body[..n])?;
        match record_info::parse(&body[..n]) {
            Ok(_) => prop_assert!(body[n..].iter().all(u8::is_ascii_whitespace)),
            Err(err) => prop_assert!(err.kind().is_syntax(), "{:?}", err.kind()),
        }
    }

    #[test]
    fn lyrics_never_panic_on_the_prompt_of_a_parsed_track(prompt in prompt()) {
        let body = json!({"code": 200, "data": {"callbackType": "complete", "task_id": "t",
            "data": [{"id": "a", "prompt": prompt}]}});
        let event = parse(body.to_string().as_bytes()).expect("a valid body");
        let track = &event.tracks()[0];
        prop_assert_eq!(track.prompt(), Some(prompt.as_str()).filter(|p| !p.is_empty()));
        exercise_track(track);

        let answer = json!({"code": 200, "data": {"taskId": "t", "status": "SUCCESS",
            "response": {"sunoData": [{"id": "a", "prompt": prompt}]}}});
        let info = record_info::parse(answer.to_string().as_bytes()).expect("a valid answer");
        prop_assert_eq!(info.tracks(), event.tracks());
        exercise_track(&info.tracks()[0]);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(384))]

    #[test]
    fn a_generated_valid_callback_round_trips_every_field(parts in gen_body()) {
        let body = parts.to_json();
        let event = match parse(body.as_bytes()) {
            Ok(event) => event,
            Err(err) => return Err(TestCaseError::fail(format!("{err:?} for {body}"))),
        };
        check_round_trip(&parts, &event)?;
    }

    #[test]
    fn a_generated_event_serialises_with_exactly_the_documented_keys(parts in gen_body()) {
        let body = parts.to_json();
        let event = match parse(body.as_bytes()) {
            Ok(event) => event,
            Err(err) => return Err(TestCaseError::fail(format!("{err:?} for {body}"))),
        };
        check_serialised(&event)?;
    }

    #[test]
    fn a_mutated_generated_callback_never_panics(
        parts in gen_body(),
        mutations in vec(mutation(), 1..4),
    ) {
        check_callback(&mutate(parts.to_json().as_bytes(), &mutations))?;
    }
}
