//! The retry policy: full-jitter exponential backoff inside an overall deadline.

use std::time::Duration;

/// How many times, how long apart, and for how long in all a request may be tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1).
    pub max_attempts: u32,
    /// The backoff ceiling before the first retry; it doubles per retry.
    pub base_delay: Duration,
    /// The largest backoff ceiling.
    pub max_delay: Duration,
    /// The time from the first attempt after which no new attempt starts (one call's budget; the
    /// request's own deadline, when set on the client, can end it sooner).
    pub deadline: Duration,
    /// How long one attempt may wait for its answer (less when the deadline is nearer), so that a
    /// hung attempt leaves time for a retry.
    pub attempt_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(25),
            max_delay: Duration::from_millis(1_000),
            deadline: Duration::from_millis(3_000),
            attempt_timeout: Duration::from_millis(1_000),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn no_retries() -> Self {
        Self { max_attempts: 1, ..Self::default() }
    }

    /// The wait before retry number `retry` (0 for the first retry): uniform in
    /// `[0, min(max_delay, base_delay * 2^retry)]`, drawn from `random` ("full jitter").
    pub fn backoff(&self, retry: u32, random: u64) -> Duration {
        let ceiling =
            self.base_delay.saturating_mul(1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX)).min(self.max_delay);
        let ceiling_ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(random % ceiling_ms.saturating_add(1))
    }

    /// The wait before the next attempt, or `None` when no attempt may follow: the attempt limit
    /// is reached, or the wait would not leave [`MIN_ATTEMPT`] of the time `left` before the
    /// deadline for the attempt itself.
    pub fn next_delay(&self, attempts_made: u32, left: Duration, random: u64) -> Option<Duration> {
        if attempts_made >= self.max_attempts.max(1) {
            return None;
        }
        let delay = self.backoff(attempts_made.saturating_sub(1), random);
        (delay.saturating_add(MIN_ATTEMPT) <= left).then_some(delay)
    }
}

/// How many times a transaction cancelled only by conflicts with other transactions (or
/// throttling) is sent in all, within the deadline, before the call gives up.
pub const CONFLICT_ATTEMPTS: u32 = 10;

/// The least time worth starting an attempt with: with less left before the deadline, the call
/// gives up instead.
pub const MIN_ATTEMPT: Duration = Duration::from_millis(20);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_ceiling_doubles_and_caps() {
        let p = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(100),
            ..RetryPolicy::default()
        };
        // random = u64::MAX - k hits near the top of each range; check the upper bounds exactly.
        let max_of = |retry| (0..2000u64).map(|r| p.backoff(retry, r)).max().unwrap_or_default();
        assert_eq!(max_of(0), Duration::from_millis(10));
        assert_eq!(max_of(1), Duration::from_millis(20));
        assert_eq!(max_of(2), Duration::from_millis(40));
        assert_eq!(max_of(3), Duration::from_millis(80));
        assert_eq!(max_of(4), Duration::from_millis(100));
        assert_eq!(max_of(40), Duration::from_millis(100));
        assert_eq!(p.backoff(3, 0), Duration::ZERO, "full jitter reaches zero");
    }

    #[test]
    fn stops_at_the_attempt_limit() {
        let p = RetryPolicy { max_attempts: 3, ..RetryPolicy::default() };
        let left = Duration::from_secs(3);
        assert!(p.next_delay(1, left, 7).is_some());
        assert!(p.next_delay(2, left, 7).is_some());
        assert_eq!(p.next_delay(3, left, 7), None);
        assert_eq!(RetryPolicy::no_retries().next_delay(1, left, 0), None);
    }

    #[test]
    fn never_sleeps_past_the_deadline() {
        let p = RetryPolicy {
            max_attempts: 1000,
            base_delay: Duration::from_millis(50),
            max_delay: Duration::from_millis(800),
            ..RetryPolicy::default()
        };
        let deadline = Duration::from_millis(2_000);
        // Simulate whole retry sequences for many random streams; each must end inside the deadline.
        for seed in 0..500u64 {
            let mut elapsed = Duration::from_millis(3);
            let mut attempts = 1;
            let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            while let Some(delay) = p.next_delay(attempts, deadline.saturating_sub(elapsed), state) {
                elapsed += delay + Duration::from_millis(3); // the attempt itself takes 3 ms
                attempts += 1;
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                assert!(elapsed < deadline, "seed {seed}: {elapsed:?}");
            }
            assert!(attempts >= 2, "seed {seed}: at least one retry fits in 2 s");
        }
        // A wait that would leave no time for the attempt is refused.
        assert_eq!(p.next_delay(1, Duration::from_millis(1), 49), None);
        assert_eq!(p.next_delay(1, MIN_ATTEMPT, 0), Some(Duration::ZERO));
        assert_eq!(p.next_delay(1, MIN_ATTEMPT, 1), None);
    }
}
