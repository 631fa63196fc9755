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
    /// The clock moved, but running the jobs due on the way failed (the store did not
    /// answer); those jobs run once it answers again.
    #[error("the clock moved, but running the jobs due on the way failed: {reason}")]
    Unavailable {
        /// What failed.
        reason: String,
    },
    /// A target instant that is not after the clock's current time.
    #[error("the clock moves forward only: {to} is not after the clock's time, {now}")]
    NotAfterNow {
        /// The refused target, as milliseconds since the Unix epoch.
        to: Timestamp,
        /// The clock's time when the move was asked for.
        now: Timestamp,
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

/// No pin: the sandbox clock flows with the wall clock.
const UNPINNED: i64 = i64::MIN;

/// The wall clock plus an offset that only grows: time keeps flowing, and an admin can
/// jump it forward.
///
/// While the clock travels (see `Scheduler::travel_to` in the binary) it can be *pinned*:
/// it then reads one fixed instant — the due time of the job being run — so everything
/// the job writes carries that time. Pins only move forward, and [`SandboxClock::land`]
/// ends the travel at its target; a reader therefore never sees time go backwards.
#[derive(Debug)]
pub struct SandboxClock {
    offset_ms: AtomicI64,
    pinned_unix_ms: AtomicI64,
}

impl Default for SandboxClock {
    fn default() -> Self {
        Self {
            offset_ms: AtomicI64::new(0),
            pinned_unix_ms: AtomicI64::new(UNPINNED),
        }
    }
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
            pinned_unix_ms: AtomicI64::new(UNPINNED),
        }
    }

    /// How far ahead of the wall clock this clock runs (or will run, once a pin ends).
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::SeqCst)
    }

    /// The instant the clock is pinned at, if it is.
    pub fn pinned_at(&self) -> Option<Timestamp> {
        match self.pinned_unix_ms.load(Ordering::SeqCst) {
            UNPINNED => None,
            unix_ms => Some(Timestamp(unix_ms)),
        }
    }

    /// Stops the clock at `at`, or at the current time if `at` is earlier (a pin never
    /// moves time back); returns the instant the clock now reads.
    pub fn pin(&self, at: Timestamp) -> Timestamp {
        let at = at.max(self.now());
        self.pinned_unix_ms.store(at.unix_ms(), Ordering::SeqCst);
        at
    }

    /// Stops the clock at `at` even if it reads later now. Only for catching up at
    /// start, before anything has read the clock: jobs that came due while the server
    /// was down then run at their due times.
    pub fn pin_before_start(&self, at: Timestamp) {
        self.pinned_unix_ms.store(at.unix_ms(), Ordering::SeqCst);
    }

    /// Ends a pin and lets the clock flow again from `target` (or from the pinned
    /// instant, if that is later); returns the instant the clock reads.
    pub fn land(&self, target: Timestamp) -> Timestamp {
        let target = match self.pinned_at() {
            Some(pinned) => target.max(pinned),
            None => target.max(self.now()),
        };
        let wall = wall_clock_unix_ms();
        self.offset_ms
            .fetch_max(target.unix_ms().saturating_sub(wall), Ordering::SeqCst);
        self.pinned_unix_ms.store(UNPINNED, Ordering::SeqCst);
        self.now()
    }
}

impl Clock for SandboxClock {
    fn now(&self) -> Timestamp {
        match self.pinned_at() {
            Some(pinned) => pinned,
            None => Timestamp(wall_clock_unix_ms().saturating_add(self.offset_ms())),
        }
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
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error; unwrap and expect are that failure"
)]
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
    fn a_pinned_sandbox_clock_reads_its_pin_and_never_goes_back() {
        let clock = SandboxClock::new();
        let start = clock.now();
        let at = start.plus_ms(3_600_000);
        assert_eq!(clock.pin(at), at);
        assert_eq!(clock.now(), at);
        // A pin earlier than the clock's time holds at the current time instead.
        assert_eq!(clock.pin(start), at);
        let target = start.plus_ms(86_400_000);
        let landed = clock.land(target);
        assert!(landed >= target);
        assert_eq!(clock.pinned_at(), None);
        assert!(clock.offset_ms() >= 86_400_000 - 1_000);
        // Landing before the pinned instant lands at the pin.
        let later = clock.now().plus_ms(10_000);
        clock.pin(later);
        assert!(clock.land(start) >= later);
    }

    #[test]
    fn manual_clock_stands_still_until_moved() {
        let clock = ManualClock::new(Timestamp::from_unix_ms(1_000));
        assert_eq!(clock.now(), Timestamp::from_unix_ms(1_000));
        assert_eq!(clock.advance(500).unwrap(), Timestamp::from_unix_ms(1_500));
        assert_eq!(clock.now(), Timestamp::from_unix_ms(1_500));
    }
}
