//! Turning the provider's `createTime` strings into epoch milliseconds.
//!
//! The docs show `"2025-01-01 00:00:00"` (no zone); the live service sends an integer. The
//! strings are read as RFC 3339-like date-times: a date, optionally `T` or a space and a
//! time with optional fraction, optionally `Z` or a `±HH:MM` / `±HHMM` offset. A string
//! without a zone is taken as UTC, because the provider documents none and a receiver must
//! pick one rule; the original string stays available for callers who know better.

/// Parses `s` into milliseconds since the Unix epoch, or `None` if it is not a date-time
/// of the accepted forms, or is out of range.
pub(crate) fn parse_epoch_millis(s: &str) -> Option<i64> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        // A string of digits is the integer form sent as a string.
        return s.parse().ok();
    }
    let b = s.as_bytes();
    let year = digits(b, 0, 4)?;
    expect(b, 4, b'-')?;
    let month = digits(b, 5, 2)?;
    expect(b, 7, b'-')?;
    let day = digits(b, 8, 2)?;
    if month == 0 || month > 12 || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let mut millis = days_from_civil(year, month, day) * 86_400_000;
    if b.len() == 10 {
        return Some(millis);
    }
    if !matches!(b.get(10), Some(b'T' | b't' | b' ')) {
        return None;
    }
    let hour = digits(b, 11, 2)?;
    expect(b, 13, b':')?;
    let minute = digits(b, 14, 2)?;
    expect(b, 16, b':')?;
    let second = digits(b, 17, 2)?;
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    millis += (hour * 3600 + minute * 60 + second) * 1000;
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
        // Milliseconds from the first three fraction digits, padded on the right.
        let mut frac = 0;
        for k in 0..3 {
            frac = frac * 10
                + b.get(start + k)
                    .filter(|_| start + k < i)
                    .map_or(0, |d| i64::from(d - b'0'));
        }
        millis += frac;
    }
    match b.get(i) {
        None => Some(millis),
        Some(b'Z' | b'z') if i + 1 == b.len() => Some(millis),
        Some(&sign @ (b'+' | b'-')) => {
            let oh = digits(b, i + 1, 2)?;
            let (om, end) = if b.get(i + 3) == Some(&b':') {
                (digits(b, i + 4, 2)?, i + 6)
            } else {
                (digits(b, i + 3, 2)?, i + 5)
            };
            if end != b.len() || oh > 23 || om > 59 {
                return None;
            }
            let offset = (oh * 60 + om) * 60_000;
            Some(if sign == b'+' {
                millis - offset
            } else {
                millis + offset
            })
        }
        _ => None,
    }
}

fn digits(b: &[u8], at: usize, n: usize) -> Option<i64> {
    let slice = b.get(at..at + n)?;
    slice.iter().try_fold(0i64, |acc, &d| {
        d.is_ascii_digit().then(|| acc * 10 + i64::from(d - b'0'))
    })
}

fn expect(b: &[u8], at: usize, c: u8) -> Option<()> {
    (b.get(at) == Some(&c)).then_some(())
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::parse_epoch_millis as p;

    #[test]
    fn reads_the_docs_form_as_utc() {
        assert_eq!(p("2025-01-01 00:00:00"), Some(1_735_689_600_000));
        assert_eq!(p("1970-01-01 00:00:00"), Some(0));
        assert_eq!(p("2025-09-16 17:44:24"), Some(1_758_044_664_000));
    }

    #[test]
    fn reads_rfc3339_with_fraction_and_offsets() {
        assert_eq!(p("2025-09-16T17:44:24.461Z"), Some(1_758_044_664_461));
        assert_eq!(p("2025-09-16T17:44:24.4Z"), Some(1_758_044_664_400));
        assert_eq!(p("2025-09-16T17:44:24.461999Z"), Some(1_758_044_664_461));
        assert_eq!(p("2025-09-17T01:44:24+08:00"), Some(1_758_044_664_000));
        assert_eq!(p("2025-09-16T12:44:24-0500"), Some(1_758_044_664_000));
        assert_eq!(p("2024-02-29"), Some(1_709_164_800_000));
    }

    #[test]
    fn reads_digit_strings_as_epoch_millis() {
        assert_eq!(p("1758044664461"), Some(1_758_044_664_461));
    }

    #[test]
    fn refuses_what_is_not_a_date_time() {
        for s in [
            "",
            "2025-01",
            "2025-13-01",
            "2023-02-29",
            "2025-01-01 24:00:00",
            "2025-01-01X00:00:00",
            "2025-01-01 00:00:00+",
            "2025-01-01 00:00:00.Z",
            "2025-01-01 00:00:00Zjunk",
            "2025-01-01 00:00",
            "99999999999999999999999",
            "２０２５-01-01",
            "2025-01-01 00:00:00 +08:00",
        ] {
            assert_eq!(p(s), None, "{s:?}");
        }
    }
}
