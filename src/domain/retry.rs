//! `RetryPolicy`: how many times a failed delivery is retried and how long to wait between.

use std::time::Duration;

const MAX_ATTEMPTS_LIMIT: u32 = 50;
const MIN_INITIAL_DELAY: Duration = Duration::from_secs(1);
const MAX_INITIAL_DELAY: Duration = Duration::from_secs(3600);
const MAX_DELAY_LIMIT: Duration = Duration::from_secs(24 * 3600);
/// Jitter spreads retries of many deliveries that failed together (e.g. an outage)
/// so they do not hit the recovering endpoint in one burst.
const JITTER_FRACTION: f64 = 0.2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Backoff {
    /// initial * 2^(n-1)
    #[default]
    Exponential,
    /// initial * n
    Linear,
    /// initial
    Fixed,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RetryPolicyError {
    #[error("max_attempts is {value}; it must be between 1 and 50")]
    MaxAttempts { value: u32 },
    #[error("initial_delay is {value:?}; it must be between 1s and 1h (3600s)")]
    InitialDelay { value: Duration },
    #[error(
        "max_delay is {value:?}; it must be at least initial_delay ({initial:?}) and at most \
         24h (86400s)"
    )]
    MaxDelay { value: Duration, initial: Duration },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub initial_delay: Duration,
    pub max_delay: Duration,
    pub backoff: Backoff,
    /// Whether delays vary by up to ±20%; false gives the exact schedule.
    pub jitter: bool,
}

impl Default for RetryPolicy {
    /// 15 attempts, exponential from 2s capped at 10h: retries span roughly a day and a
    /// half, enough to ride out a long outage of the receiving side.
    fn default() -> Self {
        Self {
            max_attempts: 15,
            initial_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(10 * 3600),
            backoff: Backoff::Exponential,
            jitter: true,
        }
    }
}

impl RetryPolicy {
    pub fn new(
        max_attempts: u32,
        initial_delay: Duration,
        max_delay: Duration,
        backoff: Backoff,
    ) -> Result<Self, RetryPolicyError> {
        if !(1..=MAX_ATTEMPTS_LIMIT).contains(&max_attempts) {
            return Err(RetryPolicyError::MaxAttempts {
                value: max_attempts,
            });
        }
        if !(MIN_INITIAL_DELAY..=MAX_INITIAL_DELAY).contains(&initial_delay) {
            return Err(RetryPolicyError::InitialDelay {
                value: initial_delay,
            });
        }
        if !(initial_delay..=MAX_DELAY_LIMIT).contains(&max_delay) {
            return Err(RetryPolicyError::MaxDelay {
                value: max_delay,
                initial: initial_delay,
            });
        }
        Ok(Self {
            max_attempts,
            initial_delay,
            max_delay,
            backoff,
            jitter: true,
        })
    }

    /// How long to wait after attempt number `attempt` (1-based) failed. `jitter` is a
    /// random number in [0, 1) (0.5 = no jitter) scaling the delay by 0.8..1.2; the result
    /// is capped at `max_delay` and rounded to whole milliseconds. Computed in f64 so a
    /// huge `attempt` saturates instead of overflowing.
    pub fn delay_before_attempt(&self, attempt: u32, jitter: f64) -> Duration {
        let n = attempt.max(1);
        let initial = self.initial_delay.as_secs_f64();
        let base = match self.backoff {
            // 2^1100 is already infinite in f64; min() below then yields max_delay.
            Backoff::Exponential => initial * 2f64.powi((n - 1).min(1100) as i32),
            Backoff::Linear => initial * f64::from(n),
            Backoff::Fixed => initial,
        };
        let jitter = if !self.jitter {
            0.5
        } else if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.5
        };
        let factor = 1.0 + JITTER_FRACTION * (2.0 * jitter - 1.0);
        let secs = (base * factor).min(self.max_delay.as_secs_f64()).max(0.0);
        let millis = (secs * 1000.0).round();
        if millis.is_finite() && millis < u64::MAX as f64 {
            Duration::from_millis(millis as u64)
        } else {
            self.max_delay
        }
    }

    /// The same policy with jitter on or off.
    pub fn with_jitter(self, jitter: bool) -> Self {
        Self { jitter, ..self }
    }

    /// True once `attempts_made` attempts have been made and no further one is allowed.
    pub fn is_exhausted(&self, attempts_made: u32) -> bool {
        attempts_made >= self.max_attempts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn default_policy() {
        let p = RetryPolicy::default();
        assert_eq!(
            p,
            RetryPolicy::new(15, S(2), S(36_000), Backoff::Exponential).unwrap()
        );
        assert_eq!(p.delay_before_attempt(1, 0.5), S(2));
        assert_eq!(p.delay_before_attempt(2, 0.5), S(4));
        assert_eq!(p.delay_before_attempt(3, 0.5), S(8));
        assert_eq!(p.delay_before_attempt(15, 0.5), S(32_768));
        assert_eq!(p.delay_before_attempt(16, 0.5), S(36_000));
        assert!(!p.is_exhausted(14));
        assert!(p.is_exhausted(15));
        assert!(p.is_exhausted(u32::MAX));
    }

    #[test]
    fn attempt_zero_is_treated_as_first() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay_before_attempt(0, 0.5), S(2));
    }

    #[test]
    fn jitter_bounds() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay_before_attempt(3, 0.0), Duration::from_millis(6400));
        let high = p.delay_before_attempt(3, 0.999_999);
        assert!(high < Duration::from_millis(9600) + Duration::from_millis(1));
        assert!(high > Duration::from_millis(9590));
        // Out-of-range and NaN jitter never panic.
        assert_eq!(p.delay_before_attempt(3, f64::NAN), S(8));
        assert_eq!(p.delay_before_attempt(3, f64::INFINITY), S(8));
        assert_eq!(p.delay_before_attempt(3, -5.0), Duration::from_millis(6400));
        assert_eq!(p.delay_before_attempt(3, 7.0), Duration::from_millis(9600));
    }

    #[test]
    fn cap_applies_after_jitter() {
        let p = RetryPolicy::new(50, S(10), S(60), Backoff::Exponential).unwrap();
        // 10 * 2^3 = 80s, jitter down to 64s still above the cap.
        assert_eq!(p.delay_before_attempt(4, 0.0), S(60));
        // 10 * 2^2 = 40s * 1.2 = 48s, below the cap.
        assert_eq!(p.delay_before_attempt(3, 1.0), S(48));
    }

    #[test]
    fn linear_and_fixed() {
        let lin = RetryPolicy::new(10, S(5), S(3600), Backoff::Linear).unwrap();
        assert_eq!(lin.delay_before_attempt(1, 0.5), S(5));
        assert_eq!(lin.delay_before_attempt(4, 0.5), S(20));
        let fixed = RetryPolicy::new(10, S(30), S(30), Backoff::Fixed).unwrap();
        assert_eq!(fixed.delay_before_attempt(1, 0.5), S(30));
        assert_eq!(fixed.delay_before_attempt(49, 0.5), S(30));
        assert_eq!(fixed.delay_before_attempt(49, 0.0), S(24));
    }

    #[test]
    fn huge_attempt_numbers_saturate() {
        for backoff in [Backoff::Exponential, Backoff::Linear, Backoff::Fixed] {
            let p = RetryPolicy::new(50, S(3600), S(86_400), backoff).unwrap();
            for n in [64, 65, 1000, 1101, u32::MAX] {
                let d = p.delay_before_attempt(n, 0.9);
                assert!(d <= S(86_400), "{backoff:?} {n}");
            }
        }
        let p = RetryPolicy::default();
        assert_eq!(p.delay_before_attempt(u32::MAX, 0.0), S(36_000));
    }

    #[test]
    fn without_jitter_the_schedule_is_exact() {
        let p = RetryPolicy::default().with_jitter(false);
        let delays: Vec<Duration> = (1..=4).map(|n| p.delay_before_attempt(n, 0.99)).collect();
        assert_eq!(delays, [S(2), S(4), S(8), S(16)]);
    }

    #[test]
    fn hand_built_invalid_policy_does_not_panic() {
        let p = RetryPolicy {
            max_attempts: 0,
            initial_delay: Duration::MAX,
            max_delay: Duration::ZERO,
            backoff: Backoff::Exponential,
            jitter: true,
        };
        assert_eq!(p.delay_before_attempt(u32::MAX, 0.5), Duration::ZERO);
        assert!(p.is_exhausted(0));
    }

    #[test]
    fn bounds_are_enforced() {
        use RetryPolicyError::*;
        let e = Backoff::Exponential;
        assert_eq!(
            RetryPolicy::new(0, S(2), S(10), e).unwrap_err(),
            MaxAttempts { value: 0 }
        );
        assert_eq!(
            RetryPolicy::new(51, S(2), S(10), e).unwrap_err(),
            MaxAttempts { value: 51 }
        );
        assert!(RetryPolicy::new(1, S(1), S(1), e).is_ok());
        assert!(RetryPolicy::new(50, S(3600), S(86_400), e).is_ok());
        assert!(matches!(
            RetryPolicy::new(5, Duration::from_millis(999), S(10), e).unwrap_err(),
            InitialDelay { .. }
        ));
        assert!(matches!(
            RetryPolicy::new(5, S(3601), S(86_400), e).unwrap_err(),
            InitialDelay { .. }
        ));
        assert!(matches!(
            RetryPolicy::new(5, S(10), S(9), e).unwrap_err(),
            MaxDelay { .. }
        ));
        assert!(matches!(
            RetryPolicy::new(5, S(10), S(86_401), e).unwrap_err(),
            MaxDelay { .. }
        ));
        let msg = RetryPolicy::new(99, S(2), S(10), e)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("max_attempts") && msg.contains("50"), "{msg}");
        let msg = RetryPolicy::new(5, S(0), S(10), e).unwrap_err().to_string();
        assert!(msg.contains("initial_delay") && msg.contains("1s"), "{msg}");
        let msg = RetryPolicy::new(5, S(2), S(1), e).unwrap_err().to_string();
        assert!(msg.contains("max_delay") && msg.contains("24h"), "{msg}");
    }
}
