//! `lyrics`: any text as a track's prompt.
//!
//! Asserts: no panic; only the first section may be untitled; no line is blank or has
//! surrounding whitespace; the normalised text (`Display`) parses back to the same kinds,
//! numbers, lines and canonical labels, as its docs promise; `Serialize` works.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vocals_callback::lyrics::{Lyrics, SectionKind};

fuzz_target!(|data: &[u8]| {
    // Prompts arrive as JSON strings, so always UTF-8; lossy keeps non-UTF-8 inputs useful.
    let text = String::from_utf8_lossy(data);
    let lyrics = Lyrics::parse(&text);
    for (i, section) in lyrics.sections().iter().enumerate() {
        if section.kind() == SectionKind::Untitled {
            assert_eq!(i, 0, "an untitled section after the first");
            assert!(section.label().is_none());
        }
        for line in section.lines() {
            assert!(!line.is_empty());
            assert_eq!(*line, line.trim(), "line keeps whitespace");
            assert!(!line.contains(['\n', '\r']));
        }
        let _ = (
            section.number(),
            section.canonical_label(),
            section.to_string(),
        );
        let _ = section.kind().as_str();
    }
    assert_eq!(lyrics.is_empty(), lyrics.sections().is_empty());
    let _ = lyrics.is_instrumental();
    let shown = lyrics.to_string();
    // The documented round trip: same kinds, numbers, lines and canonical labels (the
    // labels as written may differ in spelling: that is what canonical means).
    let reparsed = Lyrics::parse(&shown);
    assert_eq!(
        shape(&reparsed),
        shape(&lyrics),
        "Display does not round-trip: {shown:?}"
    );
    serde_json::to_string(&lyrics).expect("lyrics always serialise");
});

type Shape<'a> = (SectionKind, Option<u32>, Option<String>, Vec<&'a str>);

fn shape<'a>(lyrics: &Lyrics<'a>) -> Vec<Shape<'a>> {
    lyrics
        .sections()
        .iter()
        .map(|s| {
            (
                s.kind(),
                s.number(),
                s.canonical_label(),
                s.lines().to_vec(),
            )
        })
        .collect()
}
