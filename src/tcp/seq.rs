//! Sequence numbers: 32-bit counters that wrap (RFC 9293 §3.4).
//!
//! Comparisons are modulo 2³²: `a < b` means `b` is "after" `a` by less than 2³¹.
//! Every sequence-number comparison in the stack goes through this one type, so the
//! wrap-around is handled in exactly one place.

use std::cmp::Ordering;
use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// A TCP sequence number.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SeqNumber(pub u32);

impl SeqNumber {
    /// Whether `self` lies in `[start, end)` modulo 2³² (RFC 9293 §3.4's
    /// "a ≤ x < b" tests).
    pub fn in_window(self, start: SeqNumber, end: SeqNumber) -> bool {
        self.0.wrapping_sub(start.0) < end.0.wrapping_sub(start.0)
    }

    /// Bytes from `earlier` to `self`; zero if `earlier` is actually later.
    pub fn since(self, earlier: SeqNumber) -> usize {
        let d = self.0.wrapping_sub(earlier.0) as i32;
        d.max(0) as usize
    }

    /// The later of two sequence numbers.
    pub fn max(self, other: SeqNumber) -> SeqNumber {
        if self >= other {
            self
        } else {
            other
        }
    }

    /// The earlier of two sequence numbers.
    pub fn min(self, other: SeqNumber) -> SeqNumber {
        if self <= other {
            self
        } else {
            other
        }
    }
}

impl PartialOrd for SeqNumber {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SeqNumber {
    /// Serial-number order (RFC 1982 style): valid while the two are within 2³¹.
    fn cmp(&self, other: &Self) -> Ordering {
        (self.0.wrapping_sub(other.0) as i32).cmp(&0)
    }
}

impl Add<usize> for SeqNumber {
    type Output = SeqNumber;
    fn add(self, rhs: usize) -> SeqNumber {
        SeqNumber(self.0.wrapping_add(rhs as u32))
    }
}

impl AddAssign<usize> for SeqNumber {
    fn add_assign(&mut self, rhs: usize) {
        *self = *self + rhs;
    }
}

impl Sub<usize> for SeqNumber {
    type Output = SeqNumber;
    fn sub(self, rhs: usize) -> SeqNumber {
        SeqNumber(self.0.wrapping_sub(rhs as u32))
    }
}

impl Sub for SeqNumber {
    type Output = i64;
    /// Signed distance `self − rhs`.
    fn sub(self, rhs: SeqNumber) -> i64 {
        i64::from(self.0.wrapping_sub(rhs.0) as i32)
    }
}

impl fmt::Debug for SeqNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for SeqNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn wraps() {
        let a = SeqNumber(u32::MAX - 1);
        let b = a + 4;
        assert_eq!(b, SeqNumber(2));
        assert!(a < b);
        assert_eq!(b - a, 4);
        assert_eq!(b.since(a), 4);
        assert_eq!(a.since(b), 0);
        assert!(SeqNumber(0).in_window(a, b));
        assert!(!b.in_window(a, b));
        assert!(!a.in_window(a, a), "an empty window holds nothing");
    }

    proptest! {
        #[test]
        fn order_is_consistent_with_distance(x: u32, d in 1u32..(1 << 31)) {
            let a = SeqNumber(x);
            let b = a + d as usize;
            prop_assert!(a < b);
            prop_assert_eq!(b - a, i64::from(d));
            prop_assert!(a.in_window(a, b));
            prop_assert_eq!(b.since(a), d as usize);
        }
    }
}
