//! Timestamps of signature schemes: strict parsing and the tolerance window.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::{
    config::{ConfigError, ConfigErrorKind},
    rejection::{Rejection, RejectionKind},
};

/// The usual window (Standard Webhooks, Stripe, Svix): five minutes either way.
pub(crate) const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// Checks a configured tolerance: more than zero, less than an hour. A wider window only
/// widens the replay window of schemes whose MAC does not cover the body.
pub(crate) fn check_tolerance(tolerance: Duration) -> Result<Duration, ConfigError> {
    if tolerance.is_zero() || tolerance >= Duration::from_secs(3600) {
        return Err(ConfigError::new(
            ConfigErrorKind::InvalidTolerance,
            "tolerance must be more than zero and less than an hour",
        ));
    }
    Ok(tolerance)
}

/// Unix seconds from a timestamp header: 1 to 10 ASCII digits and nothing else (no sign,
/// no fraction, no exponent, no spaces). The MAC is computed over the header text as
/// received, so a lenient reader that re-renders the number would check different bytes.
pub(crate) fn parse_timestamp(text: &str) -> Result<u64, Rejection> {
    parse_timestamp_bytes(text.as_bytes())
}

/// [`parse_timestamp`] over raw header bytes.
pub(crate) fn parse_timestamp_bytes(text: &[u8]) -> Result<u64, Rejection> {
    if text.is_empty() || text.len() > 10 {
        return Err(RejectionKind::InvalidTimestamp.into());
    }
    // Ten digits fit in a u64 with room to spare, so no overflow check is needed.
    text.iter().try_fold(0u64, |acc, &b| {
        if b.is_ascii_digit() {
            Ok(acc * 10 + u64::from(b - b'0'))
        } else {
            Err(RejectionKind::InvalidTimestamp.into())
        }
    })
}

/// Seconds since the epoch of `now` (0 before the epoch).
pub(crate) fn unix_secs(now: SystemTime) -> u64 {
    now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Milliseconds since the epoch of `now` (0 before the epoch).
pub(crate) fn unix_millis(now: SystemTime) -> u64 {
    now.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Refuses a timestamp more than `tolerance` in the past or the future; the edges pass.
pub(crate) fn check_window(
    timestamp: u64,
    now: SystemTime,
    tolerance: Duration,
) -> Result<(), Rejection> {
    let now = unix_secs(now);
    let tolerance = tolerance.as_secs();
    if timestamp.saturating_add(tolerance) < now {
        return Err(RejectionKind::TimestampTooOld.into());
    }
    if timestamp > now.saturating_add(tolerance) {
        return Err(RejectionKind::TimestampTooNew.into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn only_plain_digits_are_timestamps() {
        assert_eq!(parse_timestamp("1769670760"), Ok(1_769_670_760));
        assert_eq!(parse_timestamp("0"), Ok(0));
        for bad in [
            "",
            "+1769670760",
            "-1",
            "1769670760.0",
            "1.7e9",
            " 1769670760",
            "17696707600",
            "0x10",
            "１",
        ] {
            assert_eq!(
                parse_timestamp(bad).map_err(|r| r.kind()),
                Err(RejectionKind::InvalidTimestamp),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_window_is_inclusive_at_both_edges() {
        let tol = Duration::from_secs(300);
        let ts = 1_000_000;
        assert!(check_window(ts, at(ts + 300), tol).is_ok());
        assert!(check_window(ts, at(ts - 300), tol).is_ok());
        assert_eq!(
            check_window(ts, at(ts + 301), tol).unwrap_err().kind(),
            RejectionKind::TimestampTooOld
        );
        assert_eq!(
            check_window(ts, at(ts - 301), tol).unwrap_err().kind(),
            RejectionKind::TimestampTooNew
        );
        // Sub-second parts of the clock do not move the edge.
        assert!(check_window(ts, at(ts + 300) + Duration::from_millis(999), tol).is_ok());
    }

    #[test]
    fn extreme_values_neither_overflow_nor_pass() {
        let tol = Duration::from_secs(300);
        assert_eq!(
            check_window(0, at(10_000), tol).unwrap_err().kind(),
            RejectionKind::TimestampTooOld
        );
        assert_eq!(
            check_window(9_999_999_999, at(10_000), tol)
                .unwrap_err()
                .kind(),
            RejectionKind::TimestampTooNew
        );
        assert!(check_window(0, UNIX_EPOCH - Duration::from_secs(5), tol).is_ok());
    }

    #[test]
    fn tolerances_of_zero_or_an_hour_are_refused() {
        assert!(check_tolerance(Duration::ZERO).is_err());
        assert!(check_tolerance(Duration::from_secs(3600)).is_err());
        assert!(check_tolerance(Duration::from_secs(3599)).is_ok());
    }
}
