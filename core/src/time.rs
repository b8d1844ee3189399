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
        let (a, b) = (self.0, earlier.0);
        let Some(mut secs) = a.as_secs().checked_sub(b.as_secs()) else {
            return Duration::ZERO;
        };
        let mut nanos = a.subsec_nanos();
        if nanos < b.subsec_nanos() {
            let Some(borrowed) = secs.checked_sub(1) else {
                return Duration::ZERO;
            };
            secs = borrowed;
            nanos += NANOS_PER_SEC;
        }
        whole(secs, nanos - b.subsec_nanos())
    }
}

const NANOS_PER_SEC: u32 = 1_000_000_000;

/// `Duration::new` for nanoseconds already below a second, written so the
/// compiler sees it: `Duration::new`, `saturating_add` and `saturating_sub`
/// keep a carry path whose panic message pulls `core::fmt` into a small
/// host (the WebAssembly module).
fn whole(secs: u64, nanos: u32) -> Duration {
    Duration::new(secs, nanos % NANOS_PER_SEC)
}

impl core::ops::Add<Duration> for Instant {
    type Output = Instant;
    /// Saturates at the largest `Duration` rather than overflowing.
    fn add(self, rhs: Duration) -> Instant {
        let sum = self.0.as_secs().checked_add(rhs.as_secs());
        let mut nanos = self.0.subsec_nanos() + rhs.subsec_nanos();
        let carry = if nanos >= NANOS_PER_SEC {
            nanos -= NANOS_PER_SEC;
            1
        } else {
            0
        };
        match sum.and_then(|secs| secs.checked_add(carry)) {
            Some(secs) => Instant(whole(secs, nanos)),
            None => Instant(Duration::MAX),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn duration() -> impl Strategy<Value = Duration> {
        prop_oneof![
            (any::<u64>(), 0..NANOS_PER_SEC).prop_map(|(s, n)| Duration::new(s, n)),
            (0..10u64, 0..NANOS_PER_SEC).prop_map(|(s, n)| Duration::new(s, n)),
            (u64::MAX - 2..=u64::MAX, 0..NANOS_PER_SEC).prop_map(|(s, n)| Duration::new(s, n)),
        ]
    }

    proptest! {
        /// The hand-written carries agree with `Duration`'s saturating
        /// arithmetic, overflow and borrow included.
        #[test]
        fn arithmetic_agrees_with_duration(a in duration(), b in duration()) {
            prop_assert_eq!((Instant(a) + b).0, a.saturating_add(b));
            prop_assert_eq!(Instant(a).saturating_duration_since(Instant(b)), a.saturating_sub(b));
        }
    }
}
