//! Time as a value the host passes in: the core has no clock.

use core::time::Duration;

/// A point on the host's monotonic clock, measured from an epoch the host
/// picks (process start, say). Only differences between instants matter.
///
/// ```
/// use core::time::Duration;
/// use ftpwire_core::Instant;
/// let t0 = Instant::from_duration(Duration::from_secs(5));
/// assert_eq!(t0 + Duration::from_secs(1), Instant::from_millis(6_000));
/// ```
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(Duration);

impl Instant {
    /// The instant `since_epoch` after the host's epoch.
    pub const fn from_duration(since_epoch: Duration) -> Self {
        Instant(since_epoch)
    }

    /// The instant `millis` milliseconds after the host's epoch.
    pub const fn from_millis(millis: u64) -> Self {
        Instant(Duration::from_millis(millis))
    }

    /// Time since the host's epoch.
    pub const fn as_duration(self) -> Duration {
        self.0
    }

    /// How long after `earlier` this instant is (zero if it is not later).
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        self.0.saturating_sub(earlier.0)
    }
}

impl core::ops::Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, rhs: Duration) -> Instant {
        Instant(self.0.saturating_add(rhs))
    }
}
