//! Packing the few strings of one object into a single allocation.
//!
//! A track has up to a dozen string fields. Allocating each one separately was the largest
//! cost of an owned parse (about 30 allocations for a two-track callback); packing them into
//! one `Box<str>` per object and keeping byte ranges costs one allocation and one copy of
//! exactly the string bytes, and the event still owns its data (`'static`).

/// A byte range into an arena. `start == end` means "absent": empty strings are
/// normalised to `None`, so one representation serves both.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Span {
    start: u32,
    end: u32,
}

/// Packs `parts` into one string; the returned spans locate each part (empty for `None`
/// and for empty strings).
///
/// Callers guarantee that the parts come from one body of at most `u32::MAX` bytes (checked
/// by the parsers), and an unescaped JSON string is never longer than its escaped form, so
/// the offsets fit in `u32`.
pub(crate) fn pack<const N: usize>(parts: [Option<&str>; N]) -> (Box<str>, [Span; N]) {
    let total: usize = parts.iter().flatten().map(|s| s.len()).sum();
    let mut text = String::with_capacity(total);
    let mut spans = [Span::default(); N];
    for (part, span) in parts.iter().zip(spans.iter_mut()) {
        if let Some(s) = part.filter(|s| !s.is_empty()) {
            let start = offset(text.len());
            text.push_str(s);
            *span = Span {
                start,
                end: offset(text.len()),
            };
        }
    }
    (text.into_boxed_str(), spans)
}

/// Offsets past `u32::MAX` saturate, which makes [`get`] return `None` for that part
/// instead of panicking; the parsers refuse such bodies before they get here.
fn offset(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// The part of `text` that `span` locates, or `None` when it is absent.
pub(crate) fn get(text: &str, span: Span) -> Option<&str> {
    if span.start == span.end {
        return None;
    }
    text.get(span.start as usize..span.end as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_parts_and_treats_empty_strings_as_absent() {
        let (text, spans) = pack([Some("ab"), None, Some(""), Some("歌"), Some("c")]);
        assert_eq!(&*text, "ab歌c");
        let got: Vec<_> = spans.iter().map(|s| get(&text, *s)).collect();
        assert_eq!(got, [Some("ab"), None, None, Some("歌"), Some("c")]);
    }

    #[test]
    fn an_out_of_range_span_reads_as_absent_instead_of_panicking() {
        let span = Span { start: 2, end: 9 };
        assert_eq!(get("abc", span), None);
    }
}
