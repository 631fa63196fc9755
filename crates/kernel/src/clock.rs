//! Time as domain code sees it.
//!
//! Domain code never reads the wall clock: it asks an injected [`Clock`]. In production
//! that is [`SystemClock`], which refuses to move. In sandbox mode it is
//! [`SandboxClock`], the wall clock plus an offset that an admin can push forward, so
//! that expiries, settlements and retries can be tested without waiting. Tests that need
//! full control use [`ManualClock`], which stands still until told to move.

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};

/// An instant, as milliseconds since the Unix epoch (UTC). Stored as that number.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The instant `unix_ms` milliseconds after the Unix epoch.
    pub const fn from_unix_ms(unix_ms: i64) -> Self {
        Self(unix_ms)
    }

    /// Milliseconds since the Unix epoch.
    pub const fn unix_ms(self) -> i64 {
        self.0
    }

    /// This instant moved by `delta_ms` (negative moves back), saturating at the ends.
    #[must_use]
    pub const fn plus_ms(self, delta_ms: i64) -> Self {
        Self(self.0.saturating_add(delta_ms))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0)
    }
}

/// Why the clock did not move.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClockError {
    /// Production clocks follow the wall clock and nothing else.
    #[error("the clock can be moved only in sandbox mode (plaza serve --sandbox)")]
    NotMovable,
    /// Time only moves forward.
    #[error("the clock moves forward only: {by_ms} ms is not a positive amount")]
    NotForward {
        /// The refused amount.
        by_ms: i64,
    },
}

/// The source of time for all domain code.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current instant.
    fn now(&self) -> Timestamp;

    /// Moves the clock forward by `by_ms` and returns the new instant.
    ///
    /// # Errors
    ///
    /// [`ClockError::NotMovable`] for production clocks, [`ClockError::NotForward`] when
    /// `by_ms` is not positive.
    fn advance(&self, by_ms: i64) -> Result<Timestamp, ClockError>;

    /// Whether [`Clock::advance`] can ever succeed.
    fn is_movable(&self) -> bool;
}

fn wall_clock_unix_ms() -> i64 {
    #[expect(
        clippy::disallowed_methods,
        reason = "this is the one place that reads the wall clock; everything else asks a Clock"
    )]
    let now = std::time::SystemTime::now();
    match now.duration_since(std::time::UNIX_EPOCH) {
        Ok(since_epoch) => i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX),
        // A wall clock set before 1970 is a broken machine; report the epoch rather than panic.
        Err(_) => 0,
    }
}

/// The wall clock. It cannot be moved.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp(wall_clock_unix_ms())
    }

    fn advance(&self, _by_ms: i64) -> Result<Timestamp, ClockError> {
        Err(ClockError::NotMovable)
    }

    fn is_movable(&self) -> bool {
        false
    }
}

/// The wall clock plus an offset that only grows: time keeps flowing, and an admin can
/// jump it forward.
#[derive(Debug, Default)]
pub struct SandboxClock {
    offset_ms: AtomicI64,
}

impl SandboxClock {
    /// A sandbox clock that starts at the wall clock's time.
    pub fn new() -> Self {
        Self::default()
    }

    /// A sandbox clock that starts `offset_ms` ahead of the wall clock (used to carry a
    /// moved clock over a restart).
    pub fn with_offset_ms(offset_ms: i64) -> Self {
        Self {
            offset_ms: AtomicI64::new(offset_ms.max(0)),
        }
    }

    /// How far ahead of the wall clock this clock runs.
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::SeqCst)
    }
}

impl Clock for SandboxClock {
    fn now(&self) -> Timestamp {
        Timestamp(wall_clock_unix_ms().saturating_add(self.offset_ms()))
    }

    fn advance(&self, by_ms: i64) -> Result<Timestamp, ClockError> {
        if by_ms <= 0 {
            return Err(ClockError::NotForward { by_ms });
        }
        self.offset_ms.fetch_add(by_ms, Ordering::SeqCst);
        Ok(self.now())
    }

    fn is_movable(&self) -> bool {
        true
    }
}

/// A clock that stands still until moved: for tests and simulations.
#[derive(Debug)]
pub struct ManualClock {
    now_unix_ms: AtomicI64,
}

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: Timestamp) -> Self {
        Self {
            now_unix_ms: AtomicI64::new(start.unix_ms()),
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.now_unix_ms.load(Ordering::SeqCst))
    }

    fn advance(&self, by_ms: i64) -> Result<Timestamp, ClockError> {
        if by_ms <= 0 {
            return Err(ClockError::NotForward { by_ms });
        }
        let before = self.now_unix_ms.fetch_add(by_ms, Ordering::SeqCst);
        Ok(Timestamp(before.saturating_add(by_ms)))
    }

    fn is_movable(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_clock_refuses_to_move() {
        assert_eq!(SystemClock.advance(1_000), Err(ClockError::NotMovable));
    }

    #[test]
    fn sandbox_clock_moves_forward_only() {
        let clock = SandboxClock::new();
        let before = clock.now();
        let after = clock.advance(86_400_000).unwrap();
        assert!(after.unix_ms() - before.unix_ms() >= 86_400_000);
        assert_eq!(clock.advance(0), Err(ClockError::NotForward { by_ms: 0 }));
        assert_eq!(clock.advance(-5), Err(ClockError::NotForward { by_ms: -5 }));
    }

    #[test]
    fn manual_clock_stands_still_until_moved() {
        let clock = ManualClock::new(Timestamp::from_unix_ms(1_000));
        assert_eq!(clock.now(), Timestamp::from_unix_ms(1_000));
        assert_eq!(clock.advance(500).unwrap(), Timestamp::from_unix_ms(1_500));
        assert_eq!(clock.now(), Timestamp::from_unix_ms(1_500));
    }
}
