//! Native (non-wasm) implementations of the core's seams, for the CLI and the tests: a blocking
//! HTTP [`Transport`] (ureq, with rustls for real AWS), a [`Runtime`] over the OS, and a tiny
//! `block_on` to drive the core's futures on the current thread.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, SystemTime};

use ureq::RequestExt;

use crate::platform::runtime::{
    AnswerLimit, Clock, LocalFuture, Random, Timeout, Transport, TransportError, answer_too_large,
};

/// What is read of an answer without an [`AnswerLimit`] (DynamoDB's: at most 16 MB a page).
const DEFAULT_ANSWER_LIMIT: usize = 16 * 1024 * 1024;

/// A blocking HTTP client. Requests block the calling thread, which is what the CLI and the
/// tests (one thread per concurrent client) want.
#[derive(Debug, Clone)]
pub struct HttpTransport {
    agent: ureq::Agent,
}

impl HttpTransport {
    /// A client whose every request gives up after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        // Redirects are answers, not instructions: a webhook answering 3xx has not taken the code.
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(timeout))
            .build();
        Self { agent: ureq::Agent::new_with_config(config) }
    }
}

impl Default for HttpTransport {
    fn default() -> Self {
        Self::new(Duration::from_secs(10))
    }
}

impl Transport for HttpTransport {
    fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> LocalFuture<'_, Result<http::Response<Vec<u8>>, TransportError>> {
        Box::pin(async move {
            let limit = request.extensions().get::<AnswerLimit>().map_or(DEFAULT_ANSWER_LIMIT, |l| l.0);
            let response = match request.extensions().get::<Timeout>().copied() {
                Some(Timeout(t)) => request.with_agent(&self.agent).configure().timeout_global(Some(t)).build().run(),
                None => self.agent.run(request),
            }
            .map_err(|e| TransportError(e.to_string()))?;
            let (parts, mut body) = response.into_parts();
            let bytes =
                body.with_config().limit(u64::try_from(limit).unwrap_or(u64::MAX)).read_to_vec().map_err(|e| {
                    if matches!(e, ureq::Error::BodyExceedsLimit(_)) {
                        answer_too_large(limit)
                    } else {
                        TransportError(e.to_string())
                    }
                })?;
            Ok(http::Response::from_parts(parts, bytes))
        })
    }
}

/// The OS random source, real sleeps, and a clock handed in by the caller (the binary or test
/// passes `SystemTime::now`; the library itself reads no clock).
#[derive(Debug, Clone, Copy)]
pub struct OsRuntime {
    clock: fn() -> SystemTime,
}

impl OsRuntime {
    pub fn new(clock: fn() -> SystemTime) -> Self {
        Self { clock }
    }
}

impl Clock for OsRuntime {
    fn now(&self) -> SystemTime {
        (self.clock)()
    }

    fn sleep(&self, duration: Duration) -> LocalFuture<'_, ()> {
        Box::pin(async move {
            thread::sleep(duration);
        })
    }
}

impl Random for OsRuntime {
    fn fill_random(&self, buf: &mut [u8]) {
        if let Err(e) = getrandom::fill(buf) {
            // Without an OS random source nothing secret may be made; stop rather than go on.
            panic!("the OS random source failed: {e}");
        }
    }
}

/// Run a future to completion on this thread.
pub fn block_on<F: Future>(future: F) -> F::Output {
    struct ThreadWaker(Thread);
    impl Wake for ThreadWaker {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(output) => return output,
            Poll::Pending => thread::park(),
        }
    }
}
