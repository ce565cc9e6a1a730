//! Structure-aware properties of the parsers (`parse`, `record_info::parse`) and of
//! `Lyrics::parse`, on near-valid input made from the real bodies of the fixtures: values
//! replaced by other JSON types, keys dropped, duplicated or added, strings written with
//! odd escapes, numbers in odd forms. Byte-level fuzzing is in `props.rs`; here the
//! mutations keep the JSON well formed, so they reach the field readers.
//!
//! Nothing panics; and whatever is accepted keeps every field the mutation did not touch,
//! exactly as the unmutated fixture parsed. The fixtures are `tests/fixtures/bodies` and
//! `tests/fixtures/upstream` (copies of `upstream/payloads` of the shared docs). Mutations that do not change the meaning
//! (escapes, exponents, unknown keys, key order) are accepted and change nothing at all.

use std::fmt::Write as _;

use proptest::{collection::vec, prelude::*, sample::Index, sample::select};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use vocals_callback::{
    ParseErrorKind, Track, VocalsEvent, lyrics::Lyrics, parse, record_info, record_info::RecordInfo,
};

#[path = "support/fixtures.rs"]
mod fixtures;
use fixtures::{CALLBACKS, RECORD_INFOS};

// =======================================================================================
// A JSON tree that keeps key order, duplicate keys and the text of numbers.
// =======================================================================================

#[derive(Clone, Debug, PartialEq)]
enum Node {
    Null,
    Bool(bool),
    /// A number, or a replacement value, as written.
    Num(String),
    Str(String, Esc),
    Arr(Vec<Node>),
    Obj(Vec<(String, Esc, Node)>),
}

/// How a string is written: the same value, in different escapes.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Esc {
    /// Only what JSON requires.
    Plain,
    /// Every character as `\uXXXX` (astral ones as a surrogate pair).
    Unicode,
    /// `/` as `\/`, ASCII controls and `"`/`\` with their short escapes.
    Solidus,
}

impl<'de> de::Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Node;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("JSON")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node, E> {
                Ok(Node::Bool(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
                Ok(Node::Num(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
                Ok(Node::Num(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
                // Shortest text that reads back as the same float, kept a float.
                let mut s = format!("{v:?}");
                if !s.contains(['.', 'e', 'E']) {
                    s.push_str(".0");
                }
                Ok(Node::Num(s))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
                Ok(Node::Str(v.to_owned(), Esc::Plain))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Node::Arr(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
                let mut entries = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Node>()? {
                    entries.push((k, Esc::Plain, v));
                }
                Ok(Node::Obj(entries))
            }
        }
        d.deserialize_any(V)
    }
}

fn write_str(out: &mut String, s: &str, esc: Esc) {
    out.push('"');
    for c in s.chars() {
        match esc {
            Esc::Unicode => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04X}");
                }
            }
            Esc::Plain | Esc::Solidus => match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '/' if esc == Esc::Solidus => out.push_str("\\/"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                c if c < ' ' => {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                c => out.push(c),
            },
        }
    }
    out.push('"');
}

impl Node {
    fn write(&self, out: &mut String, ws: &str) {
        match self {
            Node::Null => out.push_str("null"),
            Node::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Node::Num(n) => out.push_str(n),
            Node::Str(s, esc) => write_str(out, s, *esc),
            Node::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(ws);
                    item.write(out, ws);
                }
                out.push_str(ws);
                out.push(']');
            }
            Node::Obj(entries) => {
                out.push('{');
                for (i, (k, esc, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(ws);
                    write_str(out, k, *esc);
                    out.push(':');
                    out.push_str(ws);
                    v.write(out, ws);
                }
                out.push_str(ws);
                out.push('}');
            }
        }
    }

    fn to_json(&self, ws: &str) -> String {
        let mut out = String::new();
        self.write(&mut out, ws);
        out
    }

    /// Every node's path (as indexes into arrays and entry lists), root first.
    fn paths(&self, prefix: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        out.push(prefix.clone());
        let children: Vec<&Node> = match self {
            Node::Arr(items) => items.iter().collect(),
            Node::Obj(entries) => entries.iter().map(|(_, _, v)| v).collect(),
            _ => return,
        };
        for (i, child) in children.into_iter().enumerate() {
            prefix.push(i);
            child.paths(prefix, out);
            prefix.pop();
        }
    }

    fn at(&self, path: &[usize]) -> &Node {
        match path.split_first() {
            None => self,
            Some((i, rest)) => match self {
                Node::Arr(items) => items[*i].at(rest),
                Node::Obj(entries) => entries[*i].2.at(rest),
                _ => unreachable!("paths lead through containers"),
            },
        }
    }

    fn at_mut(&mut self, path: &[usize]) -> &mut Node {
        match path.split_first() {
            None => self,
            Some((i, rest)) => match self {
                Node::Arr(items) => items[*i].at_mut(rest),
                Node::Obj(entries) => entries[*i].2.at_mut(rest),
                _ => unreachable!("paths lead through containers"),
            },
        }
    }

    /// The path as names (`data`, `data`, `0`, `title`), which survive the index shifts of
    /// dropped and added keys.
    fn names(&self, path: &[usize]) -> Vec<String> {
        let mut names = Vec::new();
        let mut node = self;
        for i in path {
            match node {
                Node::Arr(items) => {
                    names.push(i.to_string());
                    node = &items[*i];
                }
                Node::Obj(entries) => {
                    names.push(canonical(&entries[*i].0).to_owned());
                    node = &entries[*i].2;
                }
                _ => unreachable!("paths lead through containers"),
            }
        }
        names
    }
}

/// The field a key names, both casings to one (as the readers do).
fn canonical(key: &str) -> &str {
    match key {
        "audioUrl" => "audio_url",
        "sourceAudioUrl" => "source_audio_url",
        "streamAudioUrl" => "stream_audio_url",
        "sourceStreamAudioUrl" => "source_stream_audio_url",
        "imageUrl" => "image_url",
        "sourceImageUrl" => "source_image_url",
        "modelName" => "model_name",
        "create_time" => "createTime",
        "taskId" => "task_id",
        "parent_music_id" => "parentMusicId",
        "error_code" => "errorCode",
        "error_message" => "errorMessage",
        "operation_type" => "operationType",
        "suno_data" | "sunoData" => "data",
        other => other,
    }
}

/// The other casing of a key both readers accept, if there is one.
fn twin(key: &str) -> Option<&'static str> {
    Some(match key {
        "audio_url" => "audioUrl",
        "audioUrl" => "audio_url",
        "source_audio_url" => "sourceAudioUrl",
        "sourceAudioUrl" => "source_audio_url",
        "stream_audio_url" => "streamAudioUrl",
        "streamAudioUrl" => "stream_audio_url",
        "source_stream_audio_url" => "sourceStreamAudioUrl",
        "sourceStreamAudioUrl" => "source_stream_audio_url",
        "image_url" => "imageUrl",
        "imageUrl" => "image_url",
        "source_image_url" => "sourceImageUrl",
        "sourceImageUrl" => "source_image_url",
        "model_name" => "modelName",
        "modelName" => "model_name",
        "createTime" => "create_time",
        _ => return None,
    })
}

fn tree(body: &[u8]) -> Node {
    serde_json::from_slice(body).expect("fixtures are JSON")
}

// =======================================================================================
// Mutations.
// =======================================================================================

/// Values of every JSON type, some of them near the edges the readers check.
const OTHERS: [&str; 22] = [
    "null",
    "true",
    "false",
    "0",
    "-0",
    "-1",
    "200",
    "65536",
    "1.5",
    "2e2",
    "1e400",
    "-1e-400",
    "18446744073709551616",
    "-9223372036854775809",
    "\"\"",
    "\"200\"",
    "\"x\"",
    "\"\\ud83c\\udfb5\"",
    "[]",
    "[1,\"a\",null]",
    "{}",
    "{\"task_id\":\"nested\",\"code\":200}",
];

#[derive(Clone, Debug)]
enum Mutation {
    /// The value at a path becomes another value (of another type, mostly).
    Replace(Index, &'static str),
    /// An object entry is removed.
    Drop(Index),
    /// An object entry is written twice, the second time with `value` if given.
    Duplicate(Index, Option<&'static str>),
    /// An object entry's key changes to its other casing.
    Twin(Index),
    /// A key no reader knows is added to an object.
    AddUnknown(Index, Index, &'static str),
    /// A string value or key is written with other escapes (same value).
    Escape(Index, Esc),
    /// A float is written with an exponent (same value).
    Exponent(Index, i32),
}

impl Mutation {
    /// Whether the mutation leaves the value of the document unchanged.
    fn keeps_meaning(&self) -> bool {
        matches!(
            self,
            Mutation::AddUnknown(..) | Mutation::Escape(..) | Mutation::Exponent(..)
        )
    }
}

const UNKNOWN_KEYS: [&str; 5] = ["extra", "Code", "task_id ", "data\u{0}", "é"];

fn mutation() -> impl Strategy<Value = Mutation> {
    let esc = prop_oneof![Just(Esc::Unicode), Just(Esc::Solidus)];
    prop_oneof![
        3 => (any::<Index>(), select(OTHERS.to_vec())).prop_map(|(i, v)| Mutation::Replace(i, v)),
        2 => any::<Index>().prop_map(Mutation::Drop),
        2 => (any::<Index>(), proptest::option::of(select(OTHERS.to_vec())))
            .prop_map(|(i, v)| Mutation::Duplicate(i, v)),
        1 => any::<Index>().prop_map(Mutation::Twin),
        1 => (any::<Index>(), any::<Index>(), select(OTHERS.to_vec()))
            .prop_map(|(i, at, v)| Mutation::AddUnknown(i, at, v)),
        2 => (any::<Index>(), esc).prop_map(|(i, e)| Mutation::Escape(i, e)),
        1 => (any::<Index>(), -3..4i32).prop_map(|(i, e)| Mutation::Exponent(i, e)),
    ]
}

/// A replacement value, written as is (some are out of serde_json's range on purpose).
fn value(text: &str) -> Node {
    Node::Num(text.to_owned())
}

/// Applies `m` to `doc`; returns the paths (by name) whose values it may have changed.
fn apply(doc: &mut Node, m: &Mutation) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    doc.paths(&mut Vec::new(), &mut paths);
    // Entries of objects: paths whose parent is an object.
    let entry_paths: Vec<&Vec<usize>> = paths
        .iter()
        .filter(|p| {
            let (_, parent) = match p.split_last() {
                Some(x) => x,
                None => return false,
            };
            matches!(doc.at(parent), Node::Obj(_))
        })
        .collect();
    let objects: Vec<&Vec<usize>> = paths
        .iter()
        .filter(|p| matches!(doc.at(p), Node::Obj(_)))
        .collect();
    match m {
        Mutation::Replace(i, v) => {
            let path = i.get(&paths).clone();
            let names = doc.names(&path);
            *doc.at_mut(&path) = value(v);
            vec![names]
        }
        Mutation::Drop(i) if !entry_paths.is_empty() => {
            let path = (*i.get(&entry_paths)).clone();
            let names = doc.names(&path);
            let (last, parent) = path.split_last().unwrap();
            if let Node::Obj(entries) = doc.at_mut(parent) {
                entries.remove(*last);
            }
            vec![names]
        }
        Mutation::Duplicate(i, v) if !entry_paths.is_empty() => {
            let path = (*i.get(&entry_paths)).clone();
            let names = doc.names(&path);
            let (last, parent) = path.split_last().unwrap();
            if let Node::Obj(entries) = doc.at_mut(parent) {
                let mut entry = entries[*last].clone();
                if let Some(v) = v {
                    entry.2 = value(v);
                }
                entries.push(entry);
            }
            // A duplicate of a field a reader knows refuses the whole object: the parent.
            let mut parent_names = names.clone();
            parent_names.pop();
            vec![names, parent_names]
        }
        Mutation::Twin(i) if !entry_paths.is_empty() => {
            let path = (*i.get(&entry_paths)).clone();
            let names = doc.names(&path);
            let (last, parent) = path.split_last().unwrap();
            if let Node::Obj(entries) = doc.at_mut(parent)
                && let Some(t) = twin(&entries[*last].0)
            {
                entries[*last].0 = t.to_owned();
            }
            // Meaning kept unless the twin was there already (a duplicate then).
            let mut parent_names = names.clone();
            parent_names.pop();
            vec![parent_names]
        }
        Mutation::AddUnknown(i, at, v) if !objects.is_empty() => {
            let path = (*i.get(&objects)).clone();
            if let Node::Obj(entries) = doc.at_mut(&path) {
                let key = UNKNOWN_KEYS[at.index(UNKNOWN_KEYS.len())];
                let pos = at.index(entries.len() + 1);
                entries.insert(pos, (key.to_owned(), Esc::Unicode, value(v)));
            }
            Vec::new()
        }
        Mutation::Escape(i, esc) => {
            let path = i.get(&paths).clone();
            // The string at the path, or the key of the entry at the path.
            if let Node::Str(_, e) = doc.at_mut(&path) {
                *e = *esc;
            } else if let Some((last, parent)) = path.split_last()
                && let Node::Obj(entries) = doc.at_mut(parent)
            {
                entries[*last].1 = *esc;
            }
            Vec::new()
        }
        Mutation::Exponent(i, shift) => {
            let path = i.get(&paths).clone();
            if let Node::Num(n) = doc.at_mut(&path)
                && n.contains('.')
                && !n.contains(['e', 'E'])
            {
                *n = shift_exponent(n, *shift);
            }
            Vec::new()
        }
        _ => Vec::new(),
    }
}

/// `198.44` with shift 2 → `1.9844e2`: the same digits, the decimal point moved into an
/// exponent, so the value is the same to the last bit.
fn shift_exponent(n: &str, shift: i32) -> String {
    let (sign, digits) = n.strip_prefix('-').map_or(("", n), |d| ("-", d));
    let (int, frac) = digits.split_once('.').unwrap();
    let all: String = format!("{int}{frac}");
    // value = all × 10^-(frac.len()); write it as all[..k] . all[k..] e (exp).
    let k = usize::try_from(
        (i32::try_from(int.len()).unwrap() - shift).clamp(1, i32::try_from(all.len()).unwrap()),
    )
    .unwrap();
    let exp = i32::try_from(all.len() - k).unwrap() - i32::try_from(frac.len()).unwrap();
    let (a, b) = all.split_at(k);
    if b.is_empty() {
        format!("{sign}{a}e{exp}")
    } else {
        format!("{sign}{a}.{b}e{exp}")
    }
}

// =======================================================================================
// What was parsed, as (path of names → value), to compare field by field.
// =======================================================================================

type View = Vec<(Vec<String>, String)>;

fn path(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| (*s).to_owned()).collect()
}

fn track_view(view: &mut View, base: &[&str], i: usize, t: &Track) {
    let i = i.to_string();
    let mut field = |name: &str, value: String| {
        let mut p = path(base);
        p.push(i.clone());
        p.push(name.to_owned());
        view.push((p, value));
    };
    field("id", format!("{:?}", t.id()));
    field("audio_url", format!("{:?}", t.audio_url()));
    field("source_audio_url", format!("{:?}", t.source_audio_url()));
    field("stream_audio_url", format!("{:?}", t.stream_audio_url()));
    field(
        "source_stream_audio_url",
        format!("{:?}", t.source_stream_audio_url()),
    );
    field("image_url", format!("{:?}", t.image_url()));
    field("source_image_url", format!("{:?}", t.source_image_url()));
    field("prompt", format!("{:?}", t.prompt()));
    field("model_name", format!("{:?}", t.model_name()));
    field("title", format!("{:?}", t.title()));
    field("tags", format!("{:?}", t.tags_raw()));
    field("createTime", format!("{:?}", t.created_at()));
    field(
        "duration",
        format!("{:?}", t.duration_secs().map(f64::to_bits)),
    );
}

fn event_view(e: &VocalsEvent) -> View {
    let mut view = vec![
        (path(&["code"]), e.code().to_string()),
        (path(&["msg"]), format!("{:?}", e.msg())),
        (path(&["data", "task_id"]), e.task_id().to_owned()),
        (
            path(&["data", "callbackType"]),
            format!("{:?}", e.callback().callback_type()),
        ),
        // The stage and failure follow from `code` and `callbackType` together.
        (path(&["code", "+callbackType"]), format!("{:?}", e.stage())),
        (
            path(&["data", "error"]),
            format!("{:?}", e.failure().and_then(|f| f.error())),
        ),
        (path(&["data", "data"]), e.tracks().len().to_string()),
    ];
    for (i, t) in e.tracks().iter().enumerate() {
        track_view(&mut view, &["data", "data"], i, t);
    }
    view
}

fn info_view(r: &RecordInfo) -> View {
    let mut view = vec![
        (path(&["code"]), r.code().to_string()),
        (path(&["msg"]), format!("{:?}", r.msg())),
        // From `data.taskId`, or from `data.response.taskId` when that is absent.
        (path(&["data", "task_id"]), format!("{:?}", r.task_id())),
        (
            path(&["data", "parentMusicId"]),
            format!("{:?}", r.parent_music_id()),
        ),
        (path(&["data", "param"]), format!("{:?}", r.param())),
        (path(&["data", "status"]), format!("{:?}", r.status_raw())),
        (path(&["data", "type"]), format!("{:?}", r.task_type())),
        (
            path(&["data", "operationType"]),
            format!("{:?}", r.operation_type()),
        ),
        (
            path(&["data", "errorCode"]),
            format!("{:?}", r.error_code()),
        ),
        (
            path(&["data", "errorMessage"]),
            format!("{:?}", r.error_message()),
        ),
        (
            path(&["data", "createTime"]),
            format!("{:?}", r.created_at()),
        ),
        (
            path(&["data", "response", "data"]),
            r.tracks().len().to_string(),
        ),
    ];
    for (i, t) in r.tracks().iter().enumerate() {
        track_view(&mut view, &["data", "response", "data"], i, t);
    }
    view
}

/// Whether `touched` may have changed the field at `field`: it is the field, an ancestor of
/// it, or one of the inputs of a derived field (`code` + `callbackType` → stage; `taskId`
/// of `data` and of `data.response`).
fn affects(touched: &[String], field: &[String]) -> bool {
    if field.starts_with(touched) {
        return true;
    }
    let t: Vec<&str> = touched.iter().map(String::as_str).collect();
    let f: Vec<&str> = field.iter().map(String::as_str).collect();
    match f.as_slice() {
        ["code", "+callbackType"] => t == ["data", "callbackType"] || t == ["data"],
        ["data", "task_id"] => t == ["data", "response", "task_id"] || t == ["data", "response"],
        ["data", "error"] => t == ["code"] || t == ["data", "callbackType"],
        _ => false,
    }
}

fn check_view(
    before: &View,
    after: &View,
    touched: &[Vec<String>],
    body: &str,
) -> Result<(), TestCaseError> {
    for (field, value) in before {
        if touched.iter().any(|t| affects(t, field)) {
            continue;
        }
        let now = after.iter().find(|(f, _)| f == field).map(|(_, v)| v);
        prop_assert_eq!(
            now,
            Some(value),
            "field {:?} changed although no mutation touched it, in {}",
            field,
            body
        );
    }
    Ok(())
}

// =======================================================================================
// Lyrics.
// =======================================================================================

/// Every prompt of the fixtures (callback tracks and polling tracks).
fn prompts() -> Vec<String> {
    let mut out = Vec::new();
    for body in CALLBACKS {
        for t in parse(body).unwrap().tracks() {
            out.extend(t.prompt().map(str::to_owned));
        }
    }
    for body in RECORD_INFOS {
        for t in record_info::parse(body).unwrap().tracks() {
            out.extend(t.prompt().map(str::to_owned));
        }
    }
    out
}

/// Pieces that lyrics parsing must treat with care.
const LYRIC_PIECES: [&str; 24] = [
    "[",
    "]",
    "[Verse]",
    "[Verse 2]",
    "[ Chorus x2 ]",
    "[Pre-Chorus]",
    "[pre chorus]",
    "[Instrumental]",
    "[]",
    "[ ]",
    "[[Verse]]",
    "［Verse］",
    "[Verse 99999999999]",
    "\n",
    "\r\n",
    "\r",
    "\n\n",
    " ",
    "\t",
    "\u{3000}",
    "副歌",
    "e\u{301}",
    "\u{1F3B5}",
    "\u{0}",
];

fn no_space(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Lyrics keep every visible character of the prompt, in order: each section written as
/// `[label]` and its lines gives back the prompt without its whitespace.
fn check_lyrics(prompt: &str) -> Result<(), TestCaseError> {
    let lyrics = Lyrics::parse(prompt);
    let mut rebuilt = String::new();
    for s in lyrics.sections() {
        if let Some(label) = s.label() {
            rebuilt.push('[');
            rebuilt.push_str(label);
            rebuilt.push(']');
        }
        for line in s.lines() {
            prop_assert!(!line.is_empty() && line.trim() == *line, "line {:?}", line);
            rebuilt.push_str(line);
        }
        let _ = (s.kind().as_str(), s.number(), s.canonical_label());
    }
    prop_assert_eq!(no_space(&rebuilt), no_space(prompt));
    // The normalised text parses back to itself.
    let shown = lyrics.to_string();
    let again = Lyrics::parse(&shown);
    prop_assert_eq!(again.to_string(), shown.as_str());
    prop_assert_eq!(again.sections().len(), lyrics.sections().len());
    let _ = (
        lyrics.is_instrumental(),
        lyrics.lines().count(),
        lyrics.is_empty(),
    );
    Ok(())
}

// =======================================================================================
// Properties.
// =======================================================================================

fn mutated(body: &[u8], mutations: &[Mutation], ws: &str) -> (String, Vec<Vec<String>>) {
    let mut doc = tree(body);
    let mut touched = Vec::new();
    for m in mutations {
        touched.extend(apply(&mut doc, m));
    }
    (doc.to_json(ws), touched)
}

/// The callbacks with at least one track.
fn with_tracks() -> Vec<usize> {
    (0..CALLBACKS.len())
        .filter(|i| !parse(CALLBACKS[*i]).unwrap().tracks().is_empty())
        .collect()
}

fn whitespace() -> impl Strategy<Value = &'static str> {
    select(vec!["", " ", "\n  ", "\t", "\r\n"])
}

#[test]
fn every_fixture_rewritten_from_its_tree_parses_the_same() {
    for body in CALLBACKS {
        let again = tree(body).to_json(" ");
        assert_eq!(parse(again.as_bytes()).unwrap(), parse(body).unwrap());
    }
    for body in RECORD_INFOS {
        let again = tree(body).to_json("");
        assert_eq!(
            record_info::parse(again.as_bytes()).unwrap(),
            record_info::parse(body).unwrap()
        );
    }
}

#[test]
fn shifted_exponents_keep_the_value() {
    for (n, shift, want) in [
        ("198.44", 2, "1.9844e2"),
        ("198.44", -1, "1984.4e-1"),
        ("198.44", -2, "19844e-2"),
        ("-0.5", 0, "-0.5e0"),
    ] {
        let got = shift_exponent(n, shift);
        assert_eq!(got, want);
        assert_eq!(got.parse::<f64>().unwrap(), n.parse::<f64>().unwrap());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn callbacks_mutated_structurally_never_panic_and_keep_untouched_fields(
        which in 0..CALLBACKS.len(),
        mutations in vec(mutation(), 1..5),
        ws in whitespace(),
    ) {
        let body = CALLBACKS[which];
        let (text, touched) = mutated(body, &mutations, ws);
        match parse(text.as_bytes()) {
            Ok(event) => {
                let _ = serde_json::to_string(&event).unwrap();
                for t in event.tracks() {
                    check_lyrics(t.prompt().unwrap_or_default())?;
                }
                let before = event_view(&parse(body).unwrap());
                check_view(&before, &event_view(&event), &touched, &text)?;
                if mutations.iter().all(Mutation::keeps_meaning) {
                    prop_assert_eq!(event, parse(body).unwrap(), "{}", text);
                }
            }
            Err(err) => {
                prop_assert!(
                    !mutations.iter().all(Mutation::keeps_meaning),
                    "{:?} for a body of the same meaning: {}", err.kind(), text
                );
                // Still well-formed JSON: refused for its shape, never its syntax, except
                // for numbers out of range and lone surrogates, which serde_json refuses.
                let _ = err.kind().as_str();
            }
        }
    }

    #[test]
    fn record_infos_mutated_structurally_never_panic_and_keep_untouched_fields(
        which in 0..RECORD_INFOS.len(),
        mutations in vec(mutation(), 1..5),
        ws in whitespace(),
    ) {
        let body = RECORD_INFOS[which];
        let (text, touched) = mutated(body, &mutations, ws);
        match record_info::parse(text.as_bytes()) {
            Ok(info) => {
                for event in info.events() {
                    prop_assert_eq!(Some(event.task_id()), info.task_id());
                }
                let before = info_view(&record_info::parse(body).unwrap());
                check_view(&before, &info_view(&info), &touched, &text)?;
                if mutations.iter().all(Mutation::keeps_meaning) {
                    prop_assert_eq!(info, record_info::parse(body).unwrap(), "{}", text);
                }
            }
            Err(err) => prop_assert!(
                !mutations.iter().all(Mutation::keeps_meaning),
                "{:?} for a body of the same meaning: {}", err.kind(), text
            ),
        }
    }

    /// A known field written twice refuses the body as `duplicate_key`, whatever the values.
    #[test]
    fn a_duplicated_known_field_is_refused(
        which in 0..CALLBACKS.len(),
        pick in any::<Index>(),
        other in proptest::option::of(select(OTHERS.to_vec())),
    ) {
        let mut doc = tree(CALLBACKS[which]);
        let Node::Obj(root) = &mut doc else { unreachable!() };
        let k = pick.index(root.len());
        let mut entry = root[k].clone();
        let known = ["code", "msg", "data"].contains(&entry.0.as_str());
        if let Some(v) = other {
            entry.2 = value(v);
        }
        root.push(entry);
        let text = doc.to_json("");
        match parse(text.as_bytes()) {
            Err(e) if known => prop_assert!(
                matches!(e.kind(), ParseErrorKind::DuplicateKey | ParseErrorKind::InvalidJson),
                "{:?}", e.kind()
            ),
            Ok(_) if known => prop_assert!(false, "duplicate accepted: {}", text),
            _ => {}
        }
    }

    /// A track's string field replaced by another JSON type reads as absent, and by a
    /// string reads as that string (empty as absent); nothing else of the event changes.
    #[test]
    fn a_track_field_of_another_type_reads_as_absent(
        which in select(with_tracks()),
        field in select(vec!["id", "audio_url", "title", "prompt", "tags", "model_name", "image_url"]),
        v in select(OTHERS.to_vec()),
    ) {
        let body = CALLBACKS[which];
        let original = parse(body).unwrap();
        let mut doc = tree(body);
        let mut paths = Vec::new();
        doc.paths(&mut Vec::new(), &mut paths);
        let target = paths.iter().find(|p| {
            let n = doc.names(p);
            n.len() == 4 && n[..3] == ["data", "data", "0"] && n[3] == field
        });
        match target.cloned() {
            Some(target) => *doc.at_mut(&target) = value(v),
            // The fixture's track lacks the field: add it.
            None => {
                let track = paths
                    .iter()
                    .find(|p| doc.names(p) == ["data", "data", "0"])
                    .expect("a track")
                    .clone();
                let Node::Obj(entries) = doc.at_mut(&track) else { unreachable!() };
                entries.push((field.to_owned(), Esc::Plain, value(v)));
            }
        }
        let text = doc.to_json("");
        let event = match parse(text.as_bytes()) {
            Ok(e) => e,
            // Only serde_json's own refusals: a number out of range.
            Err(e) => {
                prop_assert_eq!(e.kind(), ParseErrorKind::InvalidJson, "{}", text);
                prop_assert!(v.contains("e400"));
                return Ok(());
            }
        };
        let t = &event.tracks()[0];
        let got = match field {
            "id" => t.id(), "audio_url" => t.audio_url(), "title" => t.title(),
            "prompt" => t.prompt(), "tags" => t.tags_raw(), "model_name" => t.model_name(),
            _ => t.image_url(),
        };
        let want: Option<String> = serde_json::from_str::<serde_json::Value>(v)
            .unwrap()
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        prop_assert_eq!(got.map(str::to_owned), want);
        check_view(&event_view(&original), &event_view(&event),
            &[path(&["data", "data", "0", field])], &text)?;
    }

    #[test]
    fn lyrics_keep_every_visible_character_of_a_mutated_fixture_prompt(
        which in any::<Index>(),
        edits in vec((any::<Index>(), select(LYRIC_PIECES.to_vec())), 0..12),
    ) {
        let prompts = prompts();
        let mut prompt: Vec<char> = which.get(&prompts).chars().collect();
        for (at, piece) in edits {
            let i = at.index(prompt.len() + 1);
            prompt.splice(i..i, piece.chars());
        }
        let prompt: String = prompt.into_iter().collect();
        check_lyrics(&prompt)?;
    }

    #[test]
    fn lyrics_never_panic_on_any_string(prompt in any::<String>()) {
        check_lyrics(&prompt)?;
    }
}
