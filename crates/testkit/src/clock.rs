//! The sandbox clock in tests: pin it to a known instant first, so a test's day
//! arithmetic (settlement at 02:00, bills for closed days) is the same at any hour.

use serde_json::{Value, json};

use crate::TestServer;

/// One day in milliseconds.
pub const DAY_MS: i64 = 86_400_000;
/// One hour in milliseconds.
pub const HOUR_MS: i64 = 3_600_000;
/// China Standard Time's offset from UTC, in milliseconds.
const CHINA_OFFSET_MS: i64 = 8 * HOUR_MS;

/// Where [`TestServer::pin_clock`] put the clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pinned {
    /// The China calendar day the clock was moved to, `YYYY-MM-DD`.
    pub day: String,
    /// The instant, in milliseconds since the Unix epoch.
    pub at_ms: i64,
}

impl Pinned {
    /// The China calendar day `days` after the pinned one, `YYYY-MM-DD`.
    pub fn day_plus(&self, days: i64) -> String {
        china_day(self.at_ms + days * DAY_MS)
    }
}

/// The China calendar day of an instant, `YYYY-MM-DD`.
///
/// # Panics
///
/// When the instant is outside the calendar's range.
pub fn china_day(at_ms: i64) -> String {
    let days = (at_ms + CHINA_OFFSET_MS).div_euclid(DAY_MS);
    let date = jiff::civil::date(1970, 1, 1)
        .checked_add(jiff::Span::new().days(days))
        .expect("a date within the calendar");
    date.to_string()
}

/// `at_ms` as RFC 3339 in China time, e.g. `2030-01-02T10:00:00+08:00`.
///
/// # Panics
///
/// When the instant is outside the calendar's range.
pub fn china_rfc3339(at_ms: i64) -> String {
    let local_ms = at_ms + CHINA_OFFSET_MS;
    let day = china_day(at_ms);
    let in_day_ms = local_ms.rem_euclid(DAY_MS);
    let (hours, minutes, seconds, millis) = (
        in_day_ms / HOUR_MS,
        in_day_ms / 60_000 % 60,
        in_day_ms / 1_000 % 60,
        in_day_ms % 1_000,
    );
    if millis == 0 {
        format!("{day}T{hours:02}:{minutes:02}:{seconds:02}+08:00")
    } else {
        format!("{day}T{hours:02}:{minutes:02}:{seconds:02}.{millis:03}+08:00")
    }
}

/// Parses `HH:MM` into milliseconds after midnight.
fn time_of_day_ms(time_of_day: &str) -> i64 {
    let (hours, minutes) = time_of_day
        .split_once(':')
        .and_then(|(hours, minutes)| {
            Some((hours.parse::<i64>().ok()?, minutes.parse::<i64>().ok()?))
        })
        .filter(|(hours, minutes)| (0..24).contains(hours) && (0..60).contains(minutes))
        .unwrap_or_else(|| panic!("{time_of_day:?} is not a time of day like 10:00"));
    hours * HOUR_MS + minutes * 60_000
}

impl TestServer {
    /// The sandbox clock (`GET /api/v1/sandbox/clock`).
    ///
    /// # Panics
    ///
    /// When the server is not a sandbox.
    pub async fn clock(&self) -> Value {
        let reply = self.get("/api/v1/sandbox/clock").await;
        assert_eq!(reply.status, 200, "the sandbox clock: {}", reply.text);
        reply.json()
    }

    /// The sandbox clock's time, in milliseconds since the Unix epoch.
    ///
    /// # Panics
    ///
    /// When the server is not a sandbox.
    pub async fn clock_now_ms(&self) -> i64 {
        self.clock().await["now_ms"]
            .as_i64()
            .expect("the clock has now_ms")
    }

    /// Moves the sandbox clock forward to `time_of_day` (`HH:MM`, China time) two days
    /// after the clock's current China day, with `POST /api/v1/sandbox/clock/set`; any
    /// job due on the way runs at its due time. From there, a test's day arithmetic is
    /// the same whatever the hour it runs at.
    ///
    /// # Panics
    ///
    /// When the server is not a sandbox or refuses the move.
    pub async fn pin_clock(&self, time_of_day: &str) -> Pinned {
        let now_ms = self.clock_now_ms().await;
        let day_start_ms = (now_ms + CHINA_OFFSET_MS).div_euclid(DAY_MS) * DAY_MS - CHINA_OFFSET_MS;
        let at_ms = day_start_ms + 2 * DAY_MS + time_of_day_ms(time_of_day);
        self.set_clock(at_ms).await;
        Pinned {
            day: china_day(at_ms),
            at_ms,
        }
    }

    /// Moves the sandbox clock forward to `at_ms` with `POST /api/v1/sandbox/clock/set`.
    ///
    /// # Panics
    ///
    /// When the server refuses the move.
    pub async fn set_clock(&self, at_ms: i64) -> Value {
        let reply = self
            .admin_post(
                "/api/v1/sandbox/clock/set",
                &json!({ "to": china_rfc3339(at_ms) }),
            )
            .await;
        assert_eq!(reply.status, 200, "setting the clock: {}", reply.text);
        reply.json()
    }

    /// Moves the sandbox clock forward by `by_ms` with
    /// `POST /api/v1/sandbox/clock/advance`.
    ///
    /// # Panics
    ///
    /// When the server refuses the move.
    pub async fn advance_clock(&self, by_ms: i64) -> Value {
        let reply = self
            .admin_post("/api/v1/sandbox/clock/advance", &json!({ "by_ms": by_ms }))
            .await;
        assert_eq!(reply.status, 200, "advancing the clock: {}", reply.text);
        reply.json()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn china_days_and_times_round_the_offset() {
        // 2030-01-01T16:00:00Z is 2030-01-02 00:00 in China.
        let midnight = 1_893_513_600_000;
        assert_eq!(china_day(midnight), "2030-01-02");
        assert_eq!(china_day(midnight - 1), "2030-01-01");
        assert_eq!(
            china_rfc3339(midnight + 10 * HOUR_MS),
            "2030-01-02T10:00:00+08:00"
        );
        assert_eq!(china_rfc3339(midnight + 1), "2030-01-02T00:00:00.001+08:00");
        assert_eq!(time_of_day_ms("23:30"), 23 * HOUR_MS + 30 * 60_000);
    }
}
