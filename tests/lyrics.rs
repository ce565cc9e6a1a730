//! Properties of `Lyrics::parse` on arbitrary prompts: it never panics, its
//! `Display` output parses back to the same sections, and its lines are
//! always non-empty and trimmed.

use proptest::prelude::*;
use vocals_callback::lyrics::{Lyrics, SectionKind};

/// Pieces that hit the parser's edge cases far more often than random
/// characters do: brackets, kind words, numbers, separators, line endings,
/// multibyte text and Unicode whitespace.
const FRAGMENTS: &[&str] = &[
    "[",
    "]",
    "[[",
    "]]",
    "[]",
    "Verse",
    "VERSE",
    "verse",
    "Verses",
    "Chorus",
    "Pre",
    "pre",
    "Post",
    "-",
    "_",
    "chorus",
    "Instrumental",
    "Outro",
    "Rap",
    " 2",
    "2",
    "02",
    "nd",
    "x2",
    ":",
    "4294967296",
    "99999999999999999999",
    " ",
    "  ",
    "\t",
    "\n",
    "\n\n",
    "\r\n",
    "\r",
    "副歌",
    "夜晚城市 灯火辉煌",
    "\u{3000}",
    "\u{2028}",
    "\u{85}",
    "é",
    "［",
    "］",
    "la la",
    "[Verse]",
    "[verse 2]",
    "[ Pre chorus ]",
    "[Chorus x2]",
    "[Instrumental]",
    "[副歌]",
    "[[Verse]]",
    "[ ]",
];

/// A prompt glued together from [`FRAGMENTS`].
fn fragment_prompt() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(FRAGMENTS), 0..48).prop_map(|parts| parts.concat())
}

/// A prompt shaped like real lyrics: optional headers, each followed by a few
/// lines, with messy whitespace and line endings.
fn structured_prompt() -> impl Strategy<Value = String> {
    let header = prop_oneof![
        Just(None),
        fragment_prompt().prop_map(|label| Some(label.replace(['\n', '\r'], " "))),
        prop::sample::select(
            &[
                "Verse",
                "verse 2",
                "Pre-Chorus",
                "PreChorus 3",
                "Chorus x2",
                "Verse 2: Alice",
                "Instrumental",
                "Guitar Solo",
                "副歌",
                " Bridge ",
            ][..]
        )
        .prop_map(|label| Some(label.to_owned())),
    ];
    let line = prop_oneof![fragment_prompt(), "[^\n\r]{0,20}"];
    let ending = prop::sample::select(&["\n", "\r\n", "\n\n", " \n  \n", "\r"][..]);
    // A header may also be followed by its first line on the same line, the
    // documentation's one-line form.
    let header_ending = prop::sample::select(&["\n", "\r\n", "\n\n", " ", ""][..]);
    let section = (
        header,
        prop::collection::vec((line, ending), 0..4),
        header_ending,
    );
    prop::collection::vec(section, 0..8).prop_map(|sections| {
        let mut prompt = String::new();
        for (header, lines, ending) in sections {
            if let Some(label) = header {
                prompt.push('[');
                prompt.push_str(&label);
                prompt.push(']');
                prompt.push_str(ending);
            }
            for (line, ending) in lines {
                prompt.push_str(&line);
                prompt.push_str(ending);
            }
        }
        prompt
    })
}

/// Any of the prompt generators, including fully arbitrary strings.
fn any_prompt() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), fragment_prompt(), structured_prompt()]
}

fn assert_same_sections(original: &Lyrics<'_>, reparsed: &Lyrics<'_>) {
    let (original, reparsed) = (original.sections(), reparsed.sections());
    assert_eq!(original.len(), reparsed.len(), "section count");
    for (a, b) in original.iter().zip(reparsed) {
        assert_eq!(a.kind(), b.kind());
        assert_eq!(a.number(), b.number());
        assert_eq!(a.lines(), b.lines());
        assert_eq!(a.canonical_label(), b.canonical_label());
        if a.kind() == SectionKind::Other {
            assert_eq!(a.label(), b.label());
        }
    }
}

proptest! {
    #[test]
    fn parse_never_panics_on_any_prompt(prompt in any_prompt()) {
        let lyrics = Lyrics::parse(&prompt);
        // Exercise every accessor too: none of them may panic either.
        let _ = lyrics.is_empty();
        let _ = lyrics.is_instrumental();
        let _ = lyrics.lines().count();
        let _ = lyrics.to_string();
        let _ = serde_json::to_string(&lyrics);
        for section in lyrics.sections() {
            let _ = (section.kind().as_str(), section.number(), section.label());
            let _ = section.canonical_label();
        }
    }

    #[test]
    fn display_output_parses_back_to_the_same_sections(prompt in any_prompt()) {
        let lyrics = Lyrics::parse(&prompt);
        let displayed = lyrics.to_string();
        let reparsed = Lyrics::parse(&displayed);
        assert_same_sections(&lyrics, &reparsed);
        // And the normal form is a fixed point.
        prop_assert_eq!(reparsed.to_string(), displayed);
    }

    #[test]
    fn every_line_is_non_empty_and_trimmed(prompt in any_prompt()) {
        let lyrics = Lyrics::parse(&prompt);
        let section_lines = lyrics.sections().iter().flat_map(|s| s.lines().iter().copied());
        for line in section_lines.chain(lyrics.lines()) {
            prop_assert!(!line.is_empty());
            prop_assert_eq!(line, line.trim());
            prop_assert!(!line.contains(['\n', '\r']));
        }
        for section in lyrics.sections() {
            if let Some(label) = section.label() {
                prop_assert!(!label.is_empty());
                prop_assert_eq!(label, label.trim());
            }
        }
    }
}
