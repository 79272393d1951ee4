//! The two seams between the pure core and the outside world: the HTTP [`Transport`] and the
//! [`Runtime`] (clock, sleep, randomness). The edge implements them with `fetch`, `Date.now()`,
//! timers and the JS random source; native code with an HTTP client and the OS; tests with fakes.

use std::fmt;
use std::time::{Duration, SystemTime};

/// Sends one HTTP request and returns the whole response.
///
/// No `Send` bound: worker futures are not `Send`.
#[allow(async_fn_in_trait)]
pub trait Transport {
    /// Send `request`; an `Err` means no HTTP response was received (connection refused, reset,
    /// timed out), so the request may or may not have reached the server.
    async fn send(&self, request: http::Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>, TransportError>;
}

/// The clock, timers and randomness the core is given instead of reading them itself.
#[allow(async_fn_in_trait)]
pub trait Runtime {
    /// The current wall-clock time.
    fn now(&self) -> SystemTime;
    /// Wait for `duration` (tests advance a fake clock instead of waiting).
    async fn sleep(&self, duration: Duration);
    /// Fill `buf` with cryptographically secure random bytes.
    fn fill_random(&self, buf: &mut [u8]);
}

/// A failure below HTTP: nothing was answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportError(pub String);

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "transport error: {}", self.0)
    }
}

impl std::error::Error for TransportError {}

impl<T: Transport + ?Sized> Transport for &T {
    async fn send(&self, request: http::Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>, TransportError> {
        (**self).send(request).await
    }
}

impl<R: Runtime + ?Sized> Runtime for &R {
    fn now(&self) -> SystemTime {
        (**self).now()
    }
    async fn sleep(&self, duration: Duration) {
        (**self).sleep(duration).await
    }
    fn fill_random(&self, buf: &mut [u8]) {
        (**self).fill_random(buf)
    }
}

/// Seconds since the Unix epoch (0 for times before it).
pub fn epoch_secs(t: SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(_) => 0,
    }
}

/// A uniformly random `u64` from the runtime's random source.
pub fn random_u64(rt: &impl Runtime) -> u64 {
    let mut b = [0u8; 8];
    rt.fill_random(&mut b);
    u64::from_le_bytes(b)
}

/// RFC 3339 UTC with whole seconds: `2026-11-21T10:00:00Z`.
pub fn rfc3339(t: SystemTime) -> String {
    chrono::DateTime::from_timestamp(epoch_secs(t), 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn rfc3339_whole_seconds_utc() {
        assert_eq!(rfc3339(SystemTime::UNIX_EPOCH + Duration::from_millis(1_800_000_000_999)), "2027-01-15T08:00:00Z");
        assert_eq!(rfc3339(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(epoch_secs(SystemTime::UNIX_EPOCH - Duration::from_secs(5)), 0);
    }
}
