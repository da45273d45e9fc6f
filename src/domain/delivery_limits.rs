//! The numeric limits on how a subscription is delivered to: the request
//! timeout, the rate limit and a secret rotation's overlap. Each is a type
//! that parses, so the bound is checked in exactly one place.

use std::time::Duration;

/// How long one delivery request may take, connect to last byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeliveryTimeout(Duration);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be between {}s and {}s", DeliveryTimeout::MIN.as_secs(), DeliveryTimeout::MAX.as_secs())]
pub struct DeliveryTimeoutError;

impl DeliveryTimeout {
    /// Long enough for a receiver that does real work before answering,
    /// short enough that a hung one does not pin a connection for long.
    pub const DEFAULT: Self = Self(Duration::from_secs(15));
    pub const MIN: Duration = Duration::from_secs(1);
    pub const MAX: Duration = Duration::from_secs(120);

    pub fn parse(timeout: Duration) -> Result<Self, DeliveryTimeoutError> {
        if (Self::MIN..=Self::MAX).contains(&timeout) {
            Ok(Self(timeout))
        } else {
            Err(DeliveryTimeoutError)
        }
    }

    pub const fn get(self) -> Duration {
        self.0
    }
}

/// Deliveries per second to one subscription; 0 means no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct RateLimit(u32);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "must be at most {} deliveries per second (0 = unlimited)",
    RateLimit::MAX
)]
pub struct RateLimitError;

impl RateLimit {
    pub const MAX: u32 = 10_000;

    pub fn parse(per_second: u32) -> Result<Self, RateLimitError> {
        if per_second <= Self::MAX {
            Ok(Self(per_second))
        } else {
            Err(RateLimitError)
        }
    }

    pub const fn per_second(self) -> u32 {
        self.0
    }
}

/// How long a rotated-out secret keeps signing next to the new one, so
/// receivers can roll their configuration without dropping a webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct RotationOverlap(Duration);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be at most 7 days")]
pub struct RotationOverlapError;

impl RotationOverlap {
    /// A week: longer would keep a leaked secret valid for too long.
    pub const MAX: Duration = Duration::from_secs(7 * 24 * 3600);

    pub fn parse(overlap: Duration) -> Result<Self, RotationOverlapError> {
        if overlap <= Self::MAX {
            Ok(Self(overlap))
        } else {
            Err(RotationOverlapError)
        }
    }

    pub const fn get(self) -> Duration {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_are_between_one_second_and_two_minutes() {
        let secs = Duration::from_secs;
        assert_eq!(DeliveryTimeout::parse(secs(1)).unwrap().get(), secs(1));
        assert_eq!(DeliveryTimeout::parse(secs(120)).unwrap().get(), secs(120));
        assert!(DeliveryTimeout::parse(Duration::from_millis(999)).is_err());
        assert!(DeliveryTimeout::parse(secs(121)).is_err());
        assert_eq!(
            DeliveryTimeoutError.to_string(),
            "must be between 1s and 120s"
        );
        assert!(DeliveryTimeout::parse(DeliveryTimeout::DEFAULT.get()).is_ok());
    }

    #[test]
    fn rate_limits_are_capped_and_zero_means_none() {
        assert_eq!(RateLimit::parse(0).unwrap().per_second(), 0);
        assert_eq!(RateLimit::parse(10_000).unwrap().per_second(), 10_000);
        assert_eq!(
            RateLimit::parse(10_001).unwrap_err().to_string(),
            "must be at most 10000 deliveries per second (0 = unlimited)"
        );
    }

    #[test]
    fn rotation_overlaps_last_at_most_a_week() {
        assert!(RotationOverlap::parse(Duration::ZERO).is_ok());
        assert!(RotationOverlap::parse(RotationOverlap::MAX).is_ok());
        assert_eq!(
            RotationOverlap::parse(RotationOverlap::MAX + Duration::from_secs(1))
                .unwrap_err()
                .to_string(),
            "must be at most 7 days"
        );
    }
}
