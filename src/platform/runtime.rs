//! The seams between the pure core and the outside world, each a service of its own: the HTTP
//! [`Transport`] (DynamoDB's, and the webhook's), the [`Clock`] (time and timers, for the DynamoDB
//! client's signatures and backoff) and [`Random`] (ids, tokens, codes). [`Runtime`] is a clock
//! and a random source together, what the DynamoDB client is given. The edge implements them with
//! `fetch`, the host's clock and timers and the JS random source; native code with an HTTP client
//! and the OS; tests with fakes. Use cases read no clock: they are handed `now`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

/// A future of this thread (no `Send` bound: worker futures are not `Send`), boxed so the
/// services can be trait objects: the core takes `&dyn Transport`, not a type parameter.
pub type LocalFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// Sends one HTTP request and returns the whole response.
pub trait Transport {
    /// Send `request`; an `Err` means no HTTP response was received (connection refused, reset,
    /// timed out), so the request may or may not have reached the server.
    fn send(&self, request: http::Request<Vec<u8>>)
    -> LocalFuture<'_, Result<http::Response<Vec<u8>>, TransportError>>;
}

/// How long one request may wait for its answer, set by the sender as an extension of the
/// `http::Request`; transports honour it (without one, their own default applies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeout(pub Duration);

/// The most bytes of an answer the sender will read, set as an extension of the `http::Request`;
/// transports stop reading past it and fail the request (without one: their own, larger, limit).
/// Answers from outside (webhooks, domain checks) are read with [`OUTSIDE_ANSWER_LIMIT`], as
/// request bodies are with their limit: never whole, whatever the other side sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnswerLimit(pub usize);

/// What dynauth reads of an answer from a host it does not trust (a webhook, a domain check).
pub const OUTSIDE_ANSWER_LIMIT: usize = 16 * 1024;

/// Why a transport gave up on an answer over its [`AnswerLimit`].
pub fn answer_too_large(limit: usize) -> TransportError {
    TransportError(format!("the answer is larger than {limit} bytes"))
}

/// The wall clock and timers.
pub trait Clock {
    /// The current wall-clock time.
    fn now(&self) -> SystemTime;
    /// Wait for `duration` (tests advance a fake clock instead of waiting).
    fn sleep(&self, duration: Duration) -> LocalFuture<'_, ()>;
}

/// Cryptographically secure random bytes.
pub trait Random {
    /// Fill `buf` with random bytes.
    fn fill_random(&self, buf: &mut [u8]);
}

impl dyn Random + '_ {
    /// `N` random bytes.
    pub fn bytes<const N: usize>(&self) -> [u8; N] {
        let mut b = [0u8; N];
        self.fill_random(&mut b);
        b
    }

    /// A new secret: 32 random bytes, unpadded base64url (43 characters). Session tokens, login
    /// bindings and client secrets are made this way.
    pub fn secret_b64(&self) -> String {
        crate::platform::crypto::b64url(&self.bytes::<32>())
    }

    /// A random `ClientRequestToken` (32 hex characters).
    pub fn request_token(&self) -> String {
        hex::encode(self.bytes::<16>())
    }
}

/// A clock and a random source: what the DynamoDB client runs on.
pub trait Runtime: Clock + Random {}

impl<T: Clock + Random + ?Sized> Runtime for T {}

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
    fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> LocalFuture<'_, Result<http::Response<Vec<u8>>, TransportError>> {
        (**self).send(request)
    }
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> SystemTime {
        (**self).now()
    }
    fn sleep(&self, duration: Duration) -> LocalFuture<'_, ()> {
        (**self).sleep(duration)
    }
}

impl<R: Random + ?Sized> Random for &R {
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

/// A uniformly random `u64`.
pub fn random_u64(random: &(impl Random + ?Sized)) -> u64 {
    let mut b = [0u8; 8];
    random.fill_random(&mut b);
    u64::from_le_bytes(b)
}

/// Epoch seconds as RFC 3339 (0 for times before the epoch).
pub fn rfc3339_secs(secs: i64) -> String {
    rfc3339(SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).unwrap_or(0)))
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
