//! Time as WeChat Pay writes it: RFC 3339 in China Standard Time (+08:00), and the
//! calendar day in that zone, which is what bills and settlement count by.

use jiff::Timestamp as Instant;
use jiff::tz::{Offset, TimeZone};
use plaza_kernel::clock::Timestamp;

const CST_OFFSET_HOURS: i8 = 8;
const DAY_MS: i64 = 86_400_000;
const CST_OFFSET_MS: i64 = CST_OFFSET_HOURS as i64 * 3_600_000;

fn zone() -> TimeZone {
    TimeZone::fixed(Offset::constant(CST_OFFSET_HOURS))
}

fn instant(at: Timestamp) -> Instant {
    // Every i64 millisecond count this program handles lies within jiff's range
    // (±9999 years); an impossible one falls back to the epoch rather than panicking.
    Instant::from_millisecond(at.unix_ms()).unwrap_or(Instant::UNIX_EPOCH)
}

/// `2026-11-26T10:34:56+08:00`.
pub fn rfc3339(at: Timestamp) -> String {
    instant(at)
        .to_zoned(zone())
        .strftime("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

/// `2026-11-26 10:34:56`, as bills write it.
pub fn bill_time(at: Timestamp) -> String {
    instant(at)
        .to_zoned(zone())
        .strftime("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// `yyyyMMddHHmmss`, as ids embed it.
pub fn compact(at: Timestamp) -> String {
    instant(at)
        .to_zoned(zone())
        .strftime("%Y%m%d%H%M%S")
        .to_string()
}

/// Parses RFC 3339 with an offset (`2026-11-26T10:34:56+08:00`, fractions allowed).
///
/// # Errors
///
/// A message saying what is wrong, for the caller's `detail`.
pub fn parse_rfc3339(text: &str) -> Result<Timestamp, String> {
    let parsed: Instant = text.parse().map_err(|_| {
        format!("{text:?} is not an RFC 3339 time such as 2026-11-26T10:34:56+08:00")
    })?;
    Ok(Timestamp::from_unix_ms(parsed.as_millisecond()))
}

/// A calendar day in China Standard Time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day {
    /// Days since 1970-01-01 (CST).
    index: i64,
}

impl Day {
    /// The day `at` falls on.
    pub fn of(at: Timestamp) -> Self {
        Self {
            index: (at.unix_ms() + CST_OFFSET_MS).div_euclid(DAY_MS),
        }
    }

    /// Parses `YYYY-MM-DD`.
    ///
    /// # Errors
    ///
    /// A message for the caller's `detail`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || format!("{text:?} is not a date such as 2026-11-26");
        if text.len() != 10 {
            return Err(bad());
        }
        let date: jiff::civil::Date = text.parse().map_err(|_| bad())?;
        let start = date
            .to_zoned(zone())
            .map_err(|_| bad())?
            .timestamp()
            .as_millisecond();
        Ok(Self::of(Timestamp::from_unix_ms(start)))
    }

    /// The first instant of the day.
    pub fn start(self) -> Timestamp {
        Timestamp::from_unix_ms(self.index * DAY_MS - CST_OFFSET_MS)
    }

    /// The day after.
    #[must_use]
    pub fn next(self) -> Self {
        Self {
            index: self.index + 1,
        }
    }

    /// `2026-11-26`.
    pub fn iso(self) -> String {
        instant(self.start())
            .to_zoned(zone())
            .strftime("%Y-%m-%d")
            .to_string()
    }

    /// `20261126`.
    pub fn compact(self) -> String {
        instant(self.start())
            .to_zoned(zone())
            .strftime("%Y%m%d")
            .to_string()
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error; unwrap and expect are that failure"
)]
mod tests {
    use super::*;

    #[test]
    fn formats_in_china_standard_time() {
        // 2026-11-26T02:00:00Z is 10:00 in Beijing.
        let at = Timestamp::from_unix_ms(1_795_658_400_000);
        assert_eq!(rfc3339(at), "2026-11-26T10:00:00+08:00");
        assert_eq!(bill_time(at), "2026-11-26 10:00:00");
        assert_eq!(compact(at), "20261126100000");
        assert_eq!(Day::of(at).iso(), "2026-11-26");
        assert_eq!(parse_rfc3339("2026-11-26T10:00:00+08:00"), Ok(at));
        assert_eq!(parse_rfc3339("2026-11-26T02:00:00Z"), Ok(at));
        assert!(parse_rfc3339("2026-11-26").is_err());
    }

    #[test]
    fn days_start_at_midnight_in_beijing() {
        let day = Day::parse("2026-11-26").unwrap();
        assert_eq!(rfc3339(day.start()), "2026-11-26T00:00:00+08:00");
        assert_eq!(day.next().iso(), "2026-11-27");
        assert_eq!(Day::of(day.start().plus_ms(-1)).iso(), "2026-11-25");
        assert!(Day::parse("2026-13-01").is_err());
        assert!(Day::parse("26-11-01").is_err());
    }
}
