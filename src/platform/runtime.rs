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

/// An RFC 3339 time (`2026-01-01T00:00:00.000Z`, `2026-01-01T01:00:00+01:00`) as epoch seconds,
/// rounded down; `None` for anything else. Read by hand (the date checked by chrono's calendar):
/// chrono's format parser costs the edge Worker more bytes than this whole function.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    let num = |from: usize, len: usize| -> Option<u32> {
        let digits = b.get(from..from + len)?;
        digits.iter().all(u8::is_ascii_digit).then(|| digits.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
    };
    let at = |i: usize, allowed: &[u8]| b.get(i).is_some_and(|c| allowed.contains(c));
    if !(at(4, b"-") && at(7, b"-") && at(10, b"Tt ") && at(13, b":") && at(16, b":")) {
        return None;
    }
    let year = i32::try_from(num(0, 4)?).ok()?;
    let (month, day, hour, minute) = (num(5, 2)?, num(8, 2)?, num(11, 2)?, num(14, 2)?);
    let second = num(17, 2)?.min(59); // a leap second, 60, read as the second before it
    let mut i = 19;
    if at(i, b".") {
        i += 1;
        let start = i;
        while at(i, b"0123456789") {
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    let offset = match b.get(i)? {
        b'Z' | b'z' if b.len() == i + 1 => 0,
        sign @ (b'+' | b'-') if b.len() == i + 6 && at(i + 3, b":") => {
            let (h, m) = (num(i + 1, 2)?, num(i + 4, 2)?);
            if h > 23 || m > 59 {
                return None;
            }
            let secs = i64::from(h * 3600 + m * 60);
            if *sign == b'+' { secs } else { -secs }
        }
        _ => return None,
    };
    let local = chrono::NaiveDate::from_ymd_opt(year, month, day)?.and_hms_opt(hour, minute, second)?;
    Some(local.and_utc().timestamp() - offset)
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

    #[test]
    fn rfc3339_is_read_as_chrono_reads_it() {
        let good = [
            "2026-01-01T00:00:00Z",
            "2026-01-01T00:00:00.999Z",
            "2026-01-01t00:00:00.1z",
            "2026-01-01 00:00:00+00:00",
            "2026-01-01T01:00:00+01:00",
            "2025-12-31T23:30:00-00:30",
            "2024-02-29T12:00:00.123456789+05:45",
            "1969-12-31T23:59:59Z",
        ];
        for text in good {
            let chrono = chrono::DateTime::parse_from_rfc3339(text).map(|t| t.timestamp()).ok();
            assert_eq!(parse_rfc3339(text), chrono, "{text}");
            assert!(chrono.is_some(), "{text}");
        }
        assert_eq!(parse_rfc3339("2026-01-01T00:00:00.000Z"), Some(1_767_225_600));
        assert_eq!(parse_rfc3339("2016-12-31T23:59:60Z"), Some(1_483_228_799), "a leap second");
        let bad = [
            "",
            "tomorrow",
            "2026-01-01",
            "2026-01-01T00:00:00",
            "2026-01-01T00:00:00.Z",
            "2026-02-30T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T00:60:00Z",
            "2026-01-01T00:00:00+24:00",
            "2026-01-01T00:00:00+0100",
            "2026-01-01T00:00:00Zjunk",
            "+2026-01-01T00:00:00Z",
            "2026-1-01T00:00:00Z",
            "2026-01-01T00:00:00 Z",
            "２026-01-01T00:00:00Z",
        ];
        for text in bad {
            assert_eq!(parse_rfc3339(text), None, "{text}");
        }
    }
}
