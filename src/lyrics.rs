//! The lyrics carried in a track's `prompt`, split into sections.
//!
//! The API sends lyrics as one string. In practice it comes in two shapes:
//!
//! * the live multi-line form, one header per line and blank lines between
//!   sections: `"[Verse]\nLine one\nLine two\n\n[Chorus]\nHook line"`;
//! * the documentation's one-line form, where the text after a header is the
//!   section's first line: `"[Verse] Calm and relaxing melodies"`.
//!
//! [`Lyrics::parse`] accepts both (and anything else: it never fails and
//! never panics), borrowing every line and label from the prompt.
//!
//! # Rules
//!
//! * Lines are split at `\n` and at `\r`, so `\r\n` and old `\r` endings
//!   work; every line is trimmed of surrounding whitespace and blank lines
//!   are dropped. Blank lines carry no meaning: only headers start sections.
//! * A header is an ASCII `[`, a non-empty label containing neither `[` nor
//!   `]`, and `]`, at the start of a (trimmed) line. The label is trimmed, so
//!   `[ Verse 2 ]` has the label `Verse 2`. Anything else starting with `[`
//!   (`[[Verse]]`, `[]`, `[ ]`, an unclosed `[Verse`, full-width `［Verse］`)
//!   is ordinary text.
//! * Text after a header on the same line is the section's first line. If
//!   that text itself starts with a header (`[Verse] [Chorus] hi`), each
//!   header starts its own section; so a line never starts with a header,
//!   which is what lets [`Lyrics`]'s `Display` output parse back the same.
//! * Text before the first header becomes a [`SectionKind::Untitled`]
//!   section with no label.
//! * A section with a header is kept even with no lines (`[Instrumental]`,
//!   or `[Chorus]` directly followed by another header).
//! * The kind comes from the label's leading word(s), compared ignoring
//!   ASCII case; the two-word kinds accept spaces, hyphens, underscores or
//!   nothing between the words (`Pre-Chorus`, `pre chorus`, `PreChorus`).
//!   The word must end there: `Verses` or `Chorusline` is
//!   [`SectionKind::Other`], as is any label starting with an unknown word
//!   (`Rap`, `Guitar Solo`, `Final Chorus`, `副歌`).
//! * A number is ASCII digits right after the kind word, optionally after
//!   whitespace (`Verse 2`, `Verse2`, `VERSE  02`), and not followed by a
//!   letter or digit (`Verse 2nd` has none). A number too large for a `u32`
//!   counts as no number. Other kinds never have a number.
//! * Whatever follows the kind word and number is a remark kept in the label
//!   and in the canonical label: `[Chorus x2]` is a chorus with no number,
//!   `[Verse 2: Alice]` is verse 2, and both keep their remark.
//! * "Sung" lines ([`Lyrics::lines`], [`Lyrics::is_instrumental`]) are the
//!   lines of every section except [`SectionKind::Instrumental`] ones, whose
//!   lines describe the music (`[Instrumental] soft piano`).
//!
//! # Example
//!
//! ```
//! use vocals_callback::lyrics::{Lyrics, SectionKind};
//!
//! let lyrics = Lyrics::parse("[Verse]\nLine one\nLine two\n\n[pre chorus]\nRising\n\n[Chorus x2] Hook line");
//! let kinds: Vec<_> = lyrics.sections().iter().map(|s| s.kind()).collect();
//! assert_eq!(kinds, [SectionKind::Verse, SectionKind::PreChorus, SectionKind::Chorus]);
//! assert_eq!(lyrics.sections()[2].lines(), ["Hook line"]);
//! assert_eq!(lyrics.lines().count(), 4);
//! assert_eq!(
//!     lyrics.to_string(),
//!     "[Verse]\nLine one\nLine two\n\n[Pre-Chorus]\nRising\n\n[Chorus x2]\nHook line",
//! );
//! ```

use std::fmt;

use serde::ser::{Serialize, SerializeStruct, Serializer};

/// A prompt's lyrics: its sections in order.
///
/// Built by [`Lyrics::parse`]; `Display` writes the normalised prompt (see
/// the [module documentation](self) for the parsing rules).
///
/// # Example
///
/// ```
/// use vocals_callback::lyrics::{Lyrics, SectionKind};
///
/// let lyrics = Lyrics::parse("[Verse] Calm and relaxing melodies with soothing vocals");
/// assert_eq!(lyrics.sections().len(), 1);
/// assert_eq!(lyrics.sections()[0].kind(), SectionKind::Verse);
/// assert_eq!(lyrics.to_string(), "[Verse]\nCalm and relaxing melodies with soothing vocals");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Lyrics<'a> {
    sections: Vec<Section<'a>>,
}

impl<'a> Lyrics<'a> {
    /// Splits `prompt` into sections.
    ///
    /// Never fails and never panics; runs in time linear in `prompt`'s length.
    ///
    /// # Example
    ///
    /// ```
    /// use vocals_callback::lyrics::{Lyrics, SectionKind};
    ///
    /// let lyrics = Lyrics::parse("Spoken intro\r\n\r\n[VERSE 2]\r\n  夜晚城市 灯火辉煌  \r\n[Rap]\r\n");
    /// let sections = lyrics.sections();
    /// assert_eq!(sections[0].kind(), SectionKind::Untitled);
    /// assert_eq!(sections[0].label(), None);
    /// assert_eq!(sections[1].kind(), SectionKind::Verse);
    /// assert_eq!(sections[1].number(), Some(2));
    /// assert_eq!(sections[1].lines(), ["夜晚城市 灯火辉煌"]);
    /// assert_eq!(sections[2].kind(), SectionKind::Other);
    /// assert_eq!(sections[2].label(), Some("Rap"));
    /// assert!(sections[2].lines().is_empty());
    /// ```
    #[must_use]
    pub fn parse(prompt: &'a str) -> Self {
        let mut sections: Vec<Section<'a>> = Vec::new();
        for raw in prompt.split(['\n', '\r']) {
            let mut rest = raw.trim();
            // Loop rather than take one header: `[Verse] [Chorus]` must not
            // leave a line starting with a header, or the `Display` output
            // would parse differently from what was displayed.
            while let Some((label, after)) = split_header(rest) {
                sections.push(Section::with_header(label));
                rest = after.trim_start();
            }
            if rest.is_empty() {
                continue;
            }
            match sections.last_mut() {
                Some(section) => section.lines.push(rest),
                None => sections.push(Section::untitled(rest)),
            }
        }
        Self { sections }
    }

    /// The sections, in prompt order.
    ///
    /// Only the first can be [`SectionKind::Untitled`]; every other one has a
    /// header.
    #[must_use]
    pub fn sections(&self) -> &[Section<'a>] {
        &self.sections
    }

    /// Whether the prompt held no lyrics: no headers and no non-blank lines.
    ///
    /// # Example
    ///
    /// ```
    /// use vocals_callback::lyrics::Lyrics;
    ///
    /// assert!(Lyrics::parse(" \r\n\n  ").is_empty());
    /// assert!(!Lyrics::parse("[Instrumental]").is_empty());
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        // Sections are only ever created for a header or a non-blank line.
        self.sections.is_empty()
    }

    /// Whether the track is instrumental: it has an
    /// [`SectionKind::Instrumental`] section and no sung lines.
    ///
    /// Lines inside `[Instrumental]` sections describe the music and do not
    /// count as sung.
    ///
    /// # Example
    ///
    /// ```
    /// use vocals_callback::lyrics::Lyrics;
    ///
    /// assert!(Lyrics::parse("[Instrumental]").is_instrumental());
    /// assert!(Lyrics::parse("[Instrumental] soft piano").is_instrumental());
    /// assert!(!Lyrics::parse("[Instrumental]\n[Verse]\nla la").is_instrumental());
    /// assert!(!Lyrics::parse("").is_instrumental());
    /// ```
    #[must_use]
    pub fn is_instrumental(&self) -> bool {
        self.sections
            .iter()
            .any(|section| section.kind == SectionKind::Instrumental)
            && self.lines().next().is_none()
    }

    /// All sung lines in order: the lines of every section except
    /// [`SectionKind::Instrumental`] ones.
    ///
    /// # Example
    ///
    /// ```
    /// use vocals_callback::lyrics::Lyrics;
    ///
    /// let lyrics = Lyrics::parse("Hey\n[Verse]\nOne\n[Instrumental] drums\n[Chorus]\nTwo");
    /// assert_eq!(lyrics.lines().collect::<Vec<_>>(), ["Hey", "One", "Two"]);
    /// ```
    pub fn lines(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.sections
            .iter()
            .filter(|section| section.kind != SectionKind::Instrumental)
            .flat_map(|section| section.lines.iter().copied())
    }
}

/// Writes the normalised prompt.
///
/// Each header on its own line with its [canonical label](Section::canonical_label),
/// then the section's lines; one blank line between sections; `\n` line
/// endings; no trailing newline. Parsing the output gives the same sections
/// (same kinds, numbers, lines and canonical labels).
impl fmt::Display for Lyrics<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, section) in self.sections.iter().enumerate() {
            if index > 0 {
                f.write_str("\n\n")?;
            }
            write!(f, "{section}")?;
        }
        Ok(())
    }
}

/// Serialises as a sequence of [`Section`]s.
impl Serialize for Lyrics<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(&self.sections)
    }
}

/// One section of [`Lyrics`]: an optional header and its lines.
///
/// # Example
///
/// ```
/// use vocals_callback::lyrics::{Lyrics, SectionKind};
///
/// let lyrics = Lyrics::parse("[ verse 2: Alice ]\nFirst line\n\n  Second line  ");
/// let section = &lyrics.sections()[0];
/// assert_eq!(section.kind(), SectionKind::Verse);
/// assert_eq!(section.number(), Some(2));
/// assert_eq!(section.label(), Some("verse 2: Alice"));
/// assert_eq!(section.canonical_label().as_deref(), Some("Verse 2: Alice"));
/// assert_eq!(section.lines(), ["First line", "Second line"]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Section<'a> {
    kind: SectionKind,
    number: Option<u32>,
    label: Option<&'a str>,
    /// What follows the kind word and number in the label (empty for
    /// [`SectionKind::Other`] and untitled sections); kept so the canonical
    /// label loses nothing but spelling.
    remark: &'a str,
    lines: Vec<&'a str>,
}

impl<'a> Section<'a> {
    fn untitled(first_line: &'a str) -> Self {
        Self {
            kind: SectionKind::Untitled,
            number: None,
            label: None,
            remark: "",
            lines: vec![first_line],
        }
    }

    fn with_header(label: &'a str) -> Self {
        let (kind, number, remark) = classify(label);
        Self {
            kind,
            number,
            label: Some(label),
            remark,
            lines: Vec::new(),
        }
    }

    /// The kind of section, from the header's leading word(s).
    #[must_use]
    pub fn kind(&self) -> SectionKind {
        self.kind
    }

    /// The number after the kind word: `[Verse 2]` gives `Some(2)`,
    /// `[Verse]` and every [`SectionKind::Other`] section give `None`.
    #[must_use]
    pub fn number(&self) -> Option<u32> {
        self.number
    }

    /// The header's text between the brackets, trimmed, as written;
    /// `None` for the [`SectionKind::Untitled`] section.
    #[must_use]
    pub fn label(&self) -> Option<&'a str> {
        self.label
    }

    /// The label as [`Lyrics`]'s `Display` writes it: for known kinds the
    /// kind's canonical spelling, the number and any remark (`pre chorus 2
    /// x2` gives `Pre-Chorus 2 x2`); for [`SectionKind::Other`] the label as
    /// written; `None` for the untitled section.
    ///
    /// # Example
    ///
    /// ```
    /// use vocals_callback::lyrics::Lyrics;
    ///
    /// let lyrics = Lyrics::parse("[PRECHORUS02]\n[Guitar Solo]\nText");
    /// let labels: Vec<_> = lyrics.sections().iter().map(|s| s.canonical_label()).collect();
    /// assert_eq!(labels, [Some("Pre-Chorus 2".to_owned()), Some("Guitar Solo".to_owned())]);
    /// ```
    #[must_use]
    pub fn canonical_label(&self) -> Option<String> {
        self.label.map(|_| self.header_text().to_string())
    }

    /// The lines of the section: non-empty, trimmed of surrounding whitespace.
    #[must_use]
    pub fn lines(&self) -> &[&'a str] {
        &self.lines
    }

    fn header_text(&self) -> HeaderText<'_, 'a> {
        HeaderText(self)
    }
}

/// The canonical label, written without allocating.
struct HeaderText<'s, 'a>(&'s Section<'a>);

impl fmt::Display for HeaderText<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let section = self.0;
        match (section.kind.canonical_name(), section.label) {
            (Some(name), Some(_)) => {
                f.write_str(name)?;
                if let Some(number) = section.number {
                    write!(f, " {number}")?;
                }
                f.write_str(section.remark)
            }
            (_, label) => f.write_str(label.unwrap_or_default()),
        }
    }
}

/// Writes the section as in [`Lyrics`]'s `Display`: the `[header]` line (if
/// any) and the lines, separated by `\n`, with no trailing newline.
impl fmt::Display for Section<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        if self.label.is_some() {
            write!(f, "[{}]", self.header_text())?;
            first = false;
        }
        for line in &self.lines {
            if !first {
                f.write_str("\n")?;
            }
            f.write_str(line)?;
            first = false;
        }
        Ok(())
    }
}

/// Serialises as `{"kind": "verse", "number": 2, "label": "Verse 2", "lines": [...]}`,
/// with the label as written (`null` for the untitled section).
impl Serialize for Section<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut state = serializer.serialize_struct("Section", 4)?;
        state.serialize_field("kind", &self.kind)?;
        state.serialize_field("number", &self.number)?;
        state.serialize_field("label", &self.label)?;
        state.serialize_field("lines", &self.lines)?;
        state.end()
    }
}

/// What a section is, from its header.
///
/// # Example
///
/// ```
/// use vocals_callback::lyrics::SectionKind;
///
/// assert_eq!(SectionKind::PreChorus.as_str(), "pre_chorus");
/// assert_eq!(SectionKind::Chorus.to_string(), "chorus");
/// ```
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SectionKind {
    /// Text before any header.
    Untitled,
    /// `[Intro]`.
    Intro,
    /// `[Verse]`.
    Verse,
    /// `[Pre-Chorus]`.
    PreChorus,
    /// `[Chorus]`.
    Chorus,
    /// `[Post-Chorus]`.
    PostChorus,
    /// `[Bridge]`.
    Bridge,
    /// `[Hook]`.
    Hook,
    /// `[Interlude]`.
    Interlude,
    /// `[Break]`.
    Break,
    /// `[Outro]`.
    Outro,
    /// `[Instrumental]`: the track (or this part) has no vocals.
    Instrumental,
    /// Any other header (`[Rap]`, `[Guitar Solo]`, `[副歌]`); see
    /// [`Section::label`].
    Other,
}

/// Known kinds with the words their header is made of, lowercase. No entry's
/// first word is a prefix of another's, so the first match is the only one.
const KNOWN_KINDS: [(SectionKind, &[&str]); 11] = [
    (SectionKind::Intro, &["intro"]),
    (SectionKind::Verse, &["verse"]),
    (SectionKind::PreChorus, &["pre", "chorus"]),
    (SectionKind::Chorus, &["chorus"]),
    (SectionKind::PostChorus, &["post", "chorus"]),
    (SectionKind::Bridge, &["bridge"]),
    (SectionKind::Hook, &["hook"]),
    (SectionKind::Interlude, &["interlude"]),
    (SectionKind::Break, &["break"]),
    (SectionKind::Outro, &["outro"]),
    (SectionKind::Instrumental, &["instrumental"]),
];

impl SectionKind {
    /// A stable `snake_case` name: `"untitled"`, `"intro"`, `"verse"`,
    /// `"pre_chorus"`, `"chorus"`, `"post_chorus"`, `"bridge"`, `"hook"`,
    /// `"interlude"`, `"break"`, `"outro"`, `"instrumental"`, `"other"`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Untitled => "untitled",
            Self::Intro => "intro",
            Self::Verse => "verse",
            Self::PreChorus => "pre_chorus",
            Self::Chorus => "chorus",
            Self::PostChorus => "post_chorus",
            Self::Bridge => "bridge",
            Self::Hook => "hook",
            Self::Interlude => "interlude",
            Self::Break => "break",
            Self::Outro => "outro",
            Self::Instrumental => "instrumental",
            Self::Other => "other",
        }
    }

    /// The header spelling `Display` uses; `None` for the kinds without one.
    fn canonical_name(self) -> Option<&'static str> {
        Some(match self {
            Self::Intro => "Intro",
            Self::Verse => "Verse",
            Self::PreChorus => "Pre-Chorus",
            Self::Chorus => "Chorus",
            Self::PostChorus => "Post-Chorus",
            Self::Bridge => "Bridge",
            Self::Hook => "Hook",
            Self::Interlude => "Interlude",
            Self::Break => "Break",
            Self::Outro => "Outro",
            Self::Instrumental => "Instrumental",
            Self::Untitled | Self::Other => return None,
        })
    }
}

/// Writes [`SectionKind::as_str`].
impl fmt::Display for SectionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Serialises as [`SectionKind::as_str`].
impl Serialize for SectionKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// If `line` starts with a header, its trimmed label and the text after `]`.
///
/// Scans only up to the first bracket after the opening one, so peeling
/// several headers off one line stays linear.
fn split_header(line: &str) -> Option<(&str, &str)> {
    let inner = line.strip_prefix('[')?;
    let close = inner.find(['[', ']'])?;
    // `find` gives the index of an ASCII byte, so both splits are on char
    // boundaries; `get` keeps that a `None` rather than a panic regardless.
    let label = inner.get(..close)?.trim();
    let after = inner.get(close..)?.strip_prefix(']')?;
    if label.is_empty() {
        return None;
    }
    Some((label, after))
}

/// The kind, number and remark of a (trimmed, non-empty) header label.
fn classify(label: &str) -> (SectionKind, Option<u32>, &str) {
    for (kind, words) in KNOWN_KINDS {
        let Some(after) = strip_words(label, words) else {
            continue;
        };
        // The kind word must end here: `Verses` is not a verse.
        if after.chars().next().is_some_and(char::is_alphabetic) {
            break;
        }
        return match split_number(after) {
            Some((number, remark)) => (kind, Some(number), remark),
            None => (kind, None, after),
        };
    }
    (SectionKind::Other, None, "")
}

/// Strips `words` off the start of `text`, ignoring ASCII case and allowing
/// any run of spaces, hyphens and underscores between words.
fn strip_words<'t>(text: &'t str, words: &[&str]) -> Option<&'t str> {
    let mut rest = text;
    for (index, word) in words.iter().enumerate() {
        if index > 0 {
            rest = rest.trim_start_matches([' ', '-', '_']);
        }
        // `get` returns `None` when `word.len()` falls inside a multibyte
        // character, which is then simply not a match.
        let head = rest.get(..word.len())?;
        if !head.eq_ignore_ascii_case(word) {
            return None;
        }
        rest = rest.get(word.len()..)?;
    }
    Some(rest)
}

/// A section number at the start of `text` (after optional whitespace) and
/// the text after it; `None` when there are no digits, when a letter or
/// digit follows them (`2nd`), or when they overflow a `u32`.
fn split_number(text: &str) -> Option<(u32, &str)> {
    let text = text.trim_start();
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    // ASCII digits are one byte each, so `digits` is a char boundary.
    let (number, rest) = text.split_at_checked(digits)?;
    if number.is_empty() || rest.chars().next().is_some_and(char::is_alphanumeric) {
        return None;
    }
    Some((number.parse().ok()?, rest))
}

#[cfg(test)]
mod tests {
    use super::{Lyrics, Section, SectionKind};

    /// A section as `(kind, number, label, lines)`, for compact assertions.
    type Shape<'a> = (SectionKind, Option<u32>, Option<&'a str>, Vec<&'a str>);

    fn shape<'a>(lyrics: &Lyrics<'a>) -> Vec<Shape<'a>> {
        lyrics
            .sections()
            .iter()
            .map(|s: &Section<'a>| (s.kind(), s.number(), s.label(), s.lines().to_vec()))
            .collect()
    }

    #[test]
    fn the_one_line_doc_form_makes_the_text_after_the_header_its_first_line() {
        let lyrics = Lyrics::parse("[Verse] Calm and relaxing melodies with soothing vocals");
        assert_eq!(
            shape(&lyrics),
            [(
                SectionKind::Verse,
                None,
                Some("Verse"),
                vec!["Calm and relaxing melodies with soothing vocals"]
            )]
        );
        assert_eq!(
            lyrics.to_string(),
            "[Verse]\nCalm and relaxing melodies with soothing vocals"
        );
    }

    #[test]
    fn the_live_multi_line_form_splits_at_headers_and_drops_blank_lines() {
        let prompt = "[Intro]\n\n[Verse]\nLine one\nLine two\n\n[Pre-Chorus]\nUp we go\n\n\
                      [Chorus]\nHook line\nHook line again\n\n[Verse 2]\nLine three\n\n\
                      [Post-Chorus]\nOh\n\n[Bridge]\nAcross\n\n[Hook]\nHey\n\n\
                      [Interlude]\n\n[Break]\n\n[Outro]\nBye\n";
        let lyrics = Lyrics::parse(prompt);
        assert_eq!(
            shape(&lyrics),
            [
                (SectionKind::Intro, None, Some("Intro"), vec![]),
                (
                    SectionKind::Verse,
                    None,
                    Some("Verse"),
                    vec!["Line one", "Line two"]
                ),
                (
                    SectionKind::PreChorus,
                    None,
                    Some("Pre-Chorus"),
                    vec!["Up we go"]
                ),
                (
                    SectionKind::Chorus,
                    None,
                    Some("Chorus"),
                    vec!["Hook line", "Hook line again"]
                ),
                (
                    SectionKind::Verse,
                    Some(2),
                    Some("Verse 2"),
                    vec!["Line three"]
                ),
                (
                    SectionKind::PostChorus,
                    None,
                    Some("Post-Chorus"),
                    vec!["Oh"]
                ),
                (SectionKind::Bridge, None, Some("Bridge"), vec!["Across"]),
                (SectionKind::Hook, None, Some("Hook"), vec!["Hey"]),
                (SectionKind::Interlude, None, Some("Interlude"), vec![]),
                (SectionKind::Break, None, Some("Break"), vec![]),
                (SectionKind::Outro, None, Some("Outro"), vec!["Bye"]),
            ]
        );
        assert_eq!(lyrics.lines().count(), 10);
        assert!(!lyrics.is_instrumental());
        assert_eq!(lyrics.to_string(), prompt.trim_end());
    }

    #[test]
    fn text_before_the_first_header_is_an_untitled_section_without_label() {
        let lyrics = Lyrics::parse("  Spoken word\nStill spoken\n[Verse]\nSung");
        assert_eq!(
            shape(&lyrics),
            [
                (
                    SectionKind::Untitled,
                    None,
                    None,
                    vec!["Spoken word", "Still spoken"]
                ),
                (SectionKind::Verse, None, Some("Verse"), vec!["Sung"]),
            ]
        );
        assert_eq!(lyrics.sections()[0].canonical_label(), None);
        assert_eq!(
            lyrics.to_string(),
            "Spoken word\nStill spoken\n\n[Verse]\nSung"
        );
    }

    #[test]
    fn an_instrumental_header_alone_is_an_instrumental_track() {
        for prompt in [
            "[Instrumental]",
            "\n  [instrumental]  \n\n",
            "[Instrumental] soft piano",
        ] {
            let lyrics = Lyrics::parse(prompt);
            assert_eq!(lyrics.sections().len(), 1, "{prompt:?}");
            assert_eq!(lyrics.sections()[0].kind(), SectionKind::Instrumental);
            assert!(lyrics.is_instrumental(), "{prompt:?}");
            assert!(!lyrics.is_empty(), "{prompt:?}");
            assert_eq!(lyrics.lines().count(), 0, "{prompt:?}");
        }
        // Lines under `[Instrumental]` describe the music; they are not sung.
        assert!(Lyrics::parse("[Instrumental]\nla la").is_instrumental());
        assert!(!Lyrics::parse("la la\n[Instrumental]").is_instrumental());
        assert!(!Lyrics::parse("[Verse]\n[Chorus]").is_instrumental());
    }

    #[test]
    fn unknown_headers_are_other_with_their_label() {
        let lyrics =
            Lyrics::parse("[Rap]\nYo\n[Guitar Solo]\n[副歌]\n副歌歌词\n[Final Chorus]\n[Verses]");
        assert_eq!(
            shape(&lyrics),
            [
                (SectionKind::Other, None, Some("Rap"), vec!["Yo"]),
                (SectionKind::Other, None, Some("Guitar Solo"), vec![]),
                (SectionKind::Other, None, Some("副歌"), vec!["副歌歌词"]),
                (SectionKind::Other, None, Some("Final Chorus"), vec![]),
                (SectionKind::Other, None, Some("Verses"), vec![]),
            ]
        );
        assert_eq!(
            lyrics.to_string(),
            "[Rap]\nYo\n\n[Guitar Solo]\n\n[副歌]\n副歌歌词\n\n[Final Chorus]\n\n[Verses]"
        );
    }

    #[test]
    fn cjk_text_is_kept_whole_and_trimmed_at_char_boundaries() {
        let lyrics =
            Lyrics::parse("[Verse] 夜晚城市 灯火辉煌\n\u{3000}星光闪烁\u{3000}\n[副歌] 我们一起");
        assert_eq!(
            shape(&lyrics),
            [
                (
                    SectionKind::Verse,
                    None,
                    Some("Verse"),
                    vec!["夜晚城市 灯火辉煌", "星光闪烁"]
                ),
                (SectionKind::Other, None, Some("副歌"), vec!["我们一起"]),
            ]
        );
    }

    #[test]
    fn crlf_and_lone_cr_line_endings_leave_no_carriage_returns() {
        let lyrics = Lyrics::parse("[Verse]\r\nOne\r\nTwo\r\n\r\n[Chorus]\rThree\r");
        assert_eq!(
            shape(&lyrics),
            [
                (SectionKind::Verse, None, Some("Verse"), vec!["One", "Two"]),
                (SectionKind::Chorus, None, Some("Chorus"), vec!["Three"]),
            ]
        );
    }

    #[test]
    fn whitespace_only_lines_and_runs_of_blank_lines_are_dropped() {
        let lyrics = Lyrics::parse("\n\n   \n\t\n[Verse]\n   \n  One  \n \t \n\n\n\nTwo\n   ");
        assert_eq!(
            shape(&lyrics),
            [(SectionKind::Verse, None, Some("Verse"), vec!["One", "Two"])]
        );
    }

    #[test]
    fn header_matching_ignores_case_spaces_and_hyphens() {
        let lyrics = Lyrics::parse(
            "[chorus]\n[VERSE 1]\n[ Verse 2 ]\n[verse3]\n[pre chorus]\n[PreChorus]\n\
             [pre-chorus 2]\n[Post_Chorus]\n[iNtRo]",
        );
        assert_eq!(
            shape(&lyrics),
            [
                (SectionKind::Chorus, None, Some("chorus"), vec![]),
                (SectionKind::Verse, Some(1), Some("VERSE 1"), vec![]),
                (SectionKind::Verse, Some(2), Some("Verse 2"), vec![]),
                (SectionKind::Verse, Some(3), Some("verse3"), vec![]),
                (SectionKind::PreChorus, None, Some("pre chorus"), vec![]),
                (SectionKind::PreChorus, None, Some("PreChorus"), vec![]),
                (
                    SectionKind::PreChorus,
                    Some(2),
                    Some("pre-chorus 2"),
                    vec![]
                ),
                (SectionKind::PostChorus, None, Some("Post_Chorus"), vec![]),
                (SectionKind::Intro, None, Some("iNtRo"), vec![]),
            ]
        );
        let canonical: Vec<_> = lyrics
            .sections()
            .iter()
            .filter_map(Section::canonical_label)
            .collect();
        assert_eq!(
            canonical,
            [
                "Chorus",
                "Verse 1",
                "Verse 2",
                "Verse 3",
                "Pre-Chorus",
                "Pre-Chorus",
                "Pre-Chorus 2",
                "Post-Chorus",
                "Intro"
            ]
        );
    }

    #[test]
    fn remarks_after_the_kind_word_are_kept_in_the_label() {
        let lyrics = Lyrics::parse("[Chorus x2]\n[verse 2: Alice]\n[Verse 2nd]\n[Chorus-2]");
        assert_eq!(
            shape(&lyrics),
            [
                (SectionKind::Chorus, None, Some("Chorus x2"), vec![]),
                (SectionKind::Verse, Some(2), Some("verse 2: Alice"), vec![]),
                (SectionKind::Verse, None, Some("Verse 2nd"), vec![]),
                (SectionKind::Chorus, None, Some("Chorus-2"), vec![]),
            ]
        );
        assert_eq!(
            lyrics.to_string(),
            "[Chorus x2]\n\n[Verse 2: Alice]\n\n[Verse 2nd]\n\n[Chorus-2]"
        );
    }

    #[test]
    fn huge_numbers_count_as_no_number_and_stay_in_the_label() {
        let lyrics = Lyrics::parse(
            "[Verse 4294967295]\n[Verse 4294967296]\n[Verse 99999999999999999999999]",
        );
        assert_eq!(
            shape(&lyrics),
            [
                (
                    SectionKind::Verse,
                    Some(u32::MAX),
                    Some("Verse 4294967295"),
                    vec![]
                ),
                (SectionKind::Verse, None, Some("Verse 4294967296"), vec![]),
                (
                    SectionKind::Verse,
                    None,
                    Some("Verse 99999999999999999999999"),
                    vec![]
                ),
            ]
        );
        assert_eq!(
            lyrics.sections()[2].canonical_label().as_deref(),
            Some("Verse 99999999999999999999999")
        );
    }

    #[test]
    fn an_unclosed_bracket_is_ordinary_text() {
        let lyrics = Lyrics::parse("[Verse\nStill text\n[Chorus]\n[not closed");
        assert_eq!(
            shape(&lyrics),
            [
                (
                    SectionKind::Untitled,
                    None,
                    None,
                    vec!["[Verse", "Still text"]
                ),
                (
                    SectionKind::Chorus,
                    None,
                    Some("Chorus"),
                    vec!["[not closed"]
                ),
            ]
        );
    }

    #[test]
    fn an_empty_prompt_has_no_sections() {
        for prompt in ["", "\n", "\r\n\r\n", "   \t  "] {
            let lyrics = Lyrics::parse(prompt);
            assert!(lyrics.is_empty(), "{prompt:?}");
            assert!(lyrics.sections().is_empty(), "{prompt:?}");
            assert!(!lyrics.is_instrumental(), "{prompt:?}");
            assert_eq!(lyrics.to_string(), "");
        }
    }

    #[test]
    fn nested_empty_and_full_width_brackets_are_ordinary_text() {
        let lyrics = Lyrics::parse("[[Verse]]\n[]\n[ ]\n［Chorus］\n[Verse] [] after\n[a]b]");
        assert_eq!(
            shape(&lyrics),
            [
                (
                    SectionKind::Untitled,
                    None,
                    None,
                    vec!["[[Verse]]", "[]", "[ ]", "［Chorus］"]
                ),
                (SectionKind::Verse, None, Some("Verse"), vec!["[] after"]),
                (SectionKind::Other, None, Some("a"), vec!["b]"]),
            ]
        );
    }

    #[test]
    fn several_headers_on_one_line_each_start_a_section() {
        let lyrics = Lyrics::parse("[Verse] [Chorus]hi [Bridge]");
        assert_eq!(
            shape(&lyrics),
            [
                (SectionKind::Verse, None, Some("Verse"), vec![]),
                (
                    SectionKind::Chorus,
                    None,
                    Some("Chorus"),
                    vec!["hi [Bridge]"]
                ),
            ]
        );
        assert_eq!(Lyrics::parse(&lyrics.to_string()), lyrics);
    }

    #[test]
    fn sung_lines_skip_instrumental_sections() {
        let lyrics = Lyrics::parse("Hey\n[Instrumental]\nguitar\n[Verse]\nOne");
        assert_eq!(lyrics.lines().collect::<Vec<_>>(), ["Hey", "One"]);
        assert!(!lyrics.is_instrumental());
    }

    #[test]
    fn sections_serialise_with_kind_number_label_and_lines() {
        let lyrics = Lyrics::parse("Intro words\n[Verse 2] One\nTwo\n[Chorus]");
        let json = serde_json::to_value(&lyrics).unwrap();
        assert_eq!(
            json,
            serde_json::json!([
                {"kind": "untitled", "number": null, "label": null, "lines": ["Intro words"]},
                {"kind": "verse", "number": 2, "label": "Verse 2", "lines": ["One", "Two"]},
                {"kind": "chorus", "number": null, "label": "Chorus", "lines": []},
            ])
        );
    }

    #[test]
    fn kind_names_are_stable_snake_case() {
        let all = [
            (SectionKind::Untitled, "untitled"),
            (SectionKind::Intro, "intro"),
            (SectionKind::Verse, "verse"),
            (SectionKind::PreChorus, "pre_chorus"),
            (SectionKind::Chorus, "chorus"),
            (SectionKind::PostChorus, "post_chorus"),
            (SectionKind::Bridge, "bridge"),
            (SectionKind::Hook, "hook"),
            (SectionKind::Interlude, "interlude"),
            (SectionKind::Break, "break"),
            (SectionKind::Outro, "outro"),
            (SectionKind::Instrumental, "instrumental"),
            (SectionKind::Other, "other"),
        ];
        for (kind, name) in all {
            assert_eq!(kind.as_str(), name);
            assert_eq!(kind.to_string(), name);
            assert_eq!(serde_json::to_value(kind).unwrap(), name);
        }
    }

    #[test]
    fn a_long_line_of_brackets_parses_in_linear_time() {
        let prompt = "[".repeat(200_000) + &"[a]".repeat(100_000) + &"]".repeat(200_000);
        let lyrics = Lyrics::parse(&prompt);
        assert_eq!(lyrics.sections().len(), 1);
        let prompt = "[a]".repeat(100_000);
        assert_eq!(Lyrics::parse(&prompt).sections().len(), 100_000);
    }
}
