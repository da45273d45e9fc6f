//! Retention: how long finished deliveries and events are kept, a tenant's
//! own periods over the server's, and the instants before which rows go.

use std::fmt;
use std::time::Duration;

/// The longest period: 100 years (the configuration's bound too).
pub const MAX_RETENTION: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// A retention period of at least a second and at most 100 years, written
/// as a number and a unit: `30d`, `12h`, `90m`, `45s` (a bare number is
/// seconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetentionPeriod(Duration);

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RetentionPeriodError {
    #[error("expected a number and a unit (s, m, h or d), e.g. 30d or 12h; got {0:?}")]
    Malformed(String),
    #[error("must be between 1s and 36500d (100 years)")]
    OutOfRange,
}

impl RetentionPeriod {
    pub fn parse(text: &str) -> Result<Self, RetentionPeriodError> {
        let malformed = || RetentionPeriodError::Malformed(text.to_owned());
        let digits = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
        let unit = &text[digits.len()..];
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed());
        }
        let per_unit: u64 = match unit {
            "" | "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            _ => return Err(malformed()),
        };
        let count: u64 = digits
            .parse()
            .map_err(|_| RetentionPeriodError::OutOfRange)?;
        let secs = count
            .checked_mul(per_unit)
            .ok_or(RetentionPeriodError::OutOfRange)?;
        Self::from_secs(secs)
    }

    pub fn from_secs(secs: u64) -> Result<Self, RetentionPeriodError> {
        if secs == 0 || secs > MAX_RETENTION.as_secs() {
            return Err(RetentionPeriodError::OutOfRange);
        }
        Ok(Self(Duration::from_secs(secs)))
    }

    pub fn as_secs(self) -> u64 {
        self.0.as_secs()
    }

    pub fn as_micros(self) -> i64 {
        self.0.as_micros() as i64
    }
}

/// In the largest unit that divides it: `30d`, `36h`, `90s`.
impl fmt::Display for RetentionPeriod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.as_secs();
        for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60)] {
            if secs.is_multiple_of(size) {
                return write!(f, "{}{unit}", secs / size);
            }
        }
        write!(f, "{secs}s")
    }
}

/// The two periods that apply to one tenant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// After a delivery finished (succeeded, failed or cancelled).
    pub deliveries: RetentionPeriod,
    /// After an event was published, once no delivery of its is left.
    pub events: RetentionPeriod,
}

/// Times (µs since the epoch) before which a tenant's rows may go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cutoffs {
    /// Finished deliveries last updated before this.
    pub deliveries: i64,
    /// Events published before this.
    pub events: i64,
}

impl RetentionPolicy {
    /// A tenant's own periods where it set them, else these.
    pub fn for_tenant(
        self,
        deliveries: Option<RetentionPeriod>,
        events: Option<RetentionPeriod>,
    ) -> Self {
        Self {
            deliveries: deliveries.unwrap_or(self.deliveries),
            events: events.unwrap_or(self.events),
        }
    }

    pub fn cutoffs(self, now_micros: i64) -> Cutoffs {
        Cutoffs {
            deliveries: now_micros.saturating_sub(self.deliveries.as_micros()),
            events: now_micros.saturating_sub(self.events.as_micros()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_read_as_a_number_and_a_unit() {
        for (text, secs) in [
            ("30d", 30 * 86_400),
            ("12h", 43_200),
            ("90m", 5_400),
            ("45s", 45),
            ("7", 7),
            ("36500d", 36_500 * 86_400),
        ] {
            assert_eq!(
                RetentionPeriod::parse(text).unwrap().as_secs(),
                secs,
                "{text}"
            );
        }
        for text in ["", "d", "30 d", "-1d", "1.5h", "30w", "3dd", "h12"] {
            assert!(
                matches!(
                    RetentionPeriod::parse(text),
                    Err(RetentionPeriodError::Malformed(_))
                ),
                "{text}"
            );
        }
        for text in ["0", "0d", "36501d", "99999999999999999999d"] {
            assert_eq!(
                RetentionPeriod::parse(text),
                Err(RetentionPeriodError::OutOfRange),
                "{text}"
            );
        }
    }

    #[test]
    fn periods_print_in_their_largest_whole_unit() {
        for (text, shown) in [
            ("720h", "30d"),
            ("36h", "36h"),
            ("120s", "2m"),
            ("61", "61s"),
        ] {
            assert_eq!(RetentionPeriod::parse(text).unwrap().to_string(), shown);
        }
    }

    #[test]
    fn a_tenant_overrides_each_period_on_its_own() {
        let days = |n: u64| RetentionPeriod::from_secs(n * 86_400).unwrap();
        let server = RetentionPolicy {
            deliveries: days(30),
            events: days(30),
        };
        let tenant = server.for_tenant(Some(days(1)), None);
        assert_eq!(tenant.deliveries, days(1));
        assert_eq!(tenant.events, days(30));
        let now = 100 * 86_400 * 1_000_000;
        let cutoffs = tenant.cutoffs(now);
        assert_eq!(cutoffs.deliveries, 99 * 86_400 * 1_000_000);
        assert_eq!(cutoffs.events, 70 * 86_400 * 1_000_000);
        assert_eq!(server.cutoffs(0).events, -30 * 86_400 * 1_000_000);
    }
}
