//! Fakes of the ground's services: a manual clock whose `sleep` advances time instantly, and
//! transports that script, count or lose responses. They use nothing but the service traits, so
//! tests of any layer may use them.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::{Duration, SystemTime};

use crate::platform::runtime::{Clock, LocalFuture, Random, Timeout, Transport, TransportError};

/// A clock that moves only when told to (or when something sleeps), and a seeded random stream.
/// Clones share the clock and the stream (a slowed-down transport moves the test's clock).
#[derive(Debug, Clone)]
pub struct ManualRuntime {
    now: Rc<Cell<SystemTime>>,
    sleeps: Rc<RefCell<Vec<Duration>>>,
    state: Rc<Cell<u64>>,
}

impl ManualRuntime {
    /// Starts at `epoch_secs` seconds after the Unix epoch, random stream seeded by `seed`.
    pub fn new(epoch_secs: u64, seed: u64) -> Self {
        Self {
            now: Rc::new(Cell::new(SystemTime::UNIX_EPOCH + Duration::from_secs(epoch_secs))),
            sleeps: Rc::new(RefCell::new(Vec::new())),
            state: Rc::new(Cell::new(seed)),
        }
    }

    pub fn advance(&self, by: Duration) {
        self.now.set(self.now.get() + by);
    }

    pub fn set(&self, to: SystemTime) {
        self.now.set(to);
    }

    /// Every sleep so far, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.sleeps.borrow().clone()
    }

    fn next_u64(&self) -> u64 {
        // splitmix64
        let mut z = self.state.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
        self.state.set(z);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl Clock for ManualRuntime {
    fn now(&self) -> SystemTime {
        self.now.get()
    }

    fn sleep(&self, duration: Duration) -> LocalFuture<'_, ()> {
        Box::pin(async move {
            self.sleeps.borrow_mut().push(duration);
            self.advance(duration);
        })
    }
}

impl Random for ManualRuntime {
    fn fill_random(&self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

/// Answers from a script, recording every request it is given.
#[derive(Debug, Default)]
pub struct ScriptedTransport {
    answers: RefCell<VecDeque<Result<http::Response<Vec<u8>>, TransportError>>>,
    requests: RefCell<Vec<http::Request<Vec<u8>>>>,
}

impl ScriptedTransport {
    pub fn new() -> Self {
        Self::default()
    }

    /// Queue an HTTP answer.
    pub fn respond(&self, status: u16, body: &str) -> &Self {
        let mut response = http::Response::new(body.as_bytes().to_vec());
        *response.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::IM_A_TEAPOT);
        self.answers.borrow_mut().push_back(Ok(response));
        self
    }

    /// Queue a lost answer.
    pub fn fail(&self, message: &str) -> &Self {
        self.answers.borrow_mut().push_back(Err(TransportError(message.to_string())));
        self
    }

    pub fn requests(&self) -> std::cell::Ref<'_, Vec<http::Request<Vec<u8>>>> {
        self.requests.borrow()
    }

    /// The `x-amz-target` operation of every request, in order.
    pub fn operations(&self) -> Vec<String> {
        self.requests.borrow().iter().map(operation).collect()
    }
}

impl Transport for ScriptedTransport {
    fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> LocalFuture<'_, Result<http::Response<Vec<u8>>, TransportError>> {
        Box::pin(async move {
            self.requests.borrow_mut().push(request);
            self.answers
                .borrow_mut()
                .pop_front()
                .unwrap_or_else(|| Err(TransportError("the script has no more answers".into())))
        })
    }
}

/// Wraps a transport, counting requests and remembering their operations; can also replace the
/// answers of the next `n` requests after they were delivered (the write happened, the client
/// never heard, or heard an HTTP 5xx).
#[derive(Debug)]
pub struct CountingTransport<T> {
    inner: T,
    operations: RefCell<Vec<String>>,
    lose_next: Cell<u32>,
    /// Requests of `lose_op` to let through first.
    lose_after: Cell<u32>,
    lose_op: RefCell<Option<String>>,
    /// `None`: the answer is lost; `Some(status)`: it becomes that 5xx.
    lose_as: Cell<Option<u16>>,
    /// Every answer takes this long on this clock.
    latency: RefCell<Option<(Duration, ManualRuntime)>>,
    /// How many of the next `TransactWriteItems` to cancel as conflicts, undelivered.
    conflicts: Cell<u32>,
}

impl<T> CountingTransport<T> {
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            operations: RefCell::new(Vec::new()),
            lose_next: Cell::new(0),
            lose_after: Cell::new(0),
            lose_op: RefCell::new(None),
            lose_as: Cell::new(None),
            latency: RefCell::new(None),
            conflicts: Cell::new(0),
        }
    }

    /// Answer the next `n` `TransactWriteItems` as real DynamoDB does when another transaction
    /// holds one of their items (DynamoDB Local serialises transactions and never does): 400
    /// `TransactionCanceledException`, reason `TransactionConflict` for the part on a tenant's
    /// counter (`_tenant` budget), else for the first part. Nothing is delivered.
    pub fn conflict_transactions(&self, n: u32) {
        self.conflicts.set(n);
    }

    /// From now on every answer takes `latency` on `clock`. A request whose [`Timeout`] is
    /// shorter is still delivered (a write is applied), but its sender gives up when the timeout
    /// passes: the answer is lost, as with a real timeout.
    pub fn slow_down(&self, latency: Duration, clock: &ManualRuntime) {
        *self.latency.borrow_mut() = Some((latency, clock.clone()));
    }

    pub fn count(&self) -> usize {
        self.operations.borrow().len()
    }

    pub fn operations(&self) -> Vec<String> {
        self.operations.borrow().clone()
    }

    pub fn reset(&self) {
        self.operations.borrow_mut().clear();
    }

    /// Deliver the next `n` requests but report their answers as lost.
    pub fn lose_answers(&self, n: u32) {
        self.lose_next.set(n);
        self.lose_after.set(0);
        *self.lose_op.borrow_mut() = None;
        self.lose_as.set(None);
    }

    /// Like [`Self::lose_answers`], counting only requests of operation `op` (e.g. "UpdateItem").
    pub fn lose_answers_of(&self, op: &str, n: u32) {
        self.lose_answers_of_after(op, 0, n);
    }

    /// Like [`Self::lose_answers_of`], after letting the next `after` requests of `op` through.
    pub fn lose_answers_of_after(&self, op: &str, after: u32, n: u32) {
        self.lose_next.set(n);
        self.lose_after.set(after);
        *self.lose_op.borrow_mut() = Some(op.to_string());
        self.lose_as.set(None);
    }

    /// Deliver the next `n` requests of operation `op`, and answer each with HTTP `status` (a 5xx,
    /// `InternalServerError`) instead of what DynamoDB said.
    pub fn fail_answers_of(&self, op: &str, n: u32, status: u16) {
        self.lose_answers_of(op, n);
        self.lose_as.set(Some(status));
    }
}

impl<T: Transport> Transport for CountingTransport<T> {
    fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> LocalFuture<'_, Result<http::Response<Vec<u8>>, TransportError>> {
        Box::pin(async move {
            let op = operation(&request);
            self.operations.borrow_mut().push(op.clone());
            if op == "TransactWriteItems" && self.conflicts.get() > 0 {
                self.conflicts.set(self.conflicts.get() - 1);
                let mut response = http::Response::new(transaction_conflict(request.body()).into_bytes());
                *response.status_mut() = http::StatusCode::BAD_REQUEST;
                return Ok(response);
            }
            let timeout = request.extensions().get::<Timeout>().map(|t| t.0);
            let answer = self.inner.send(request).await;
            if let Some((latency, clock)) = self.latency.borrow().as_ref() {
                match timeout {
                    Some(t) if t < *latency => {
                        clock.advance(t);
                        return Err(TransportError(format!("timed out after {t:?} (test)")));
                    }
                    _ => clock.advance(*latency),
                }
            }
            let lose = self.lose_next.get();
            let applies = self.lose_op.borrow().as_ref().is_none_or(|o| *o == op);
            if lose > 0 && applies && self.lose_after.get() > 0 {
                self.lose_after.set(self.lose_after.get() - 1);
            } else if lose > 0 && applies {
                self.lose_next.set(lose - 1);
                let Some(status) = self.lose_as.get() else {
                    return Err(TransportError("answer lost (test)".into()));
                };
                let body = r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"test"}"#;
                let mut response = http::Response::new(body.as_bytes().to_vec());
                *response.status_mut() =
                    http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
                return Ok(response);
            }
            answer
        })
    }
}

/// The `TransactionCanceledException` real DynamoDB answers to a transaction (`body`) one of whose
/// items another transaction holds: the tenant counter's part, or the first.
pub fn transaction_conflict(body: &[u8]) -> String {
    let request: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let items = request["TransactItems"].as_array().cloned().unwrap_or_default();
    let on_counter = |item: &serde_json::Value| item.to_string().contains("_tenant#");
    let hot = items.iter().position(on_counter).unwrap_or(0);
    let reasons: Vec<serde_json::Value> = (0..items.len().max(1))
        .map(|i| {
            if i == hot {
                serde_json::json!({"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"})
            } else {
                serde_json::json!({"Code": "None"})
            }
        })
        .collect();
    let codes: Vec<&str> = reasons.iter().map(|r| r["Code"].as_str().unwrap_or("None")).collect();
    serde_json::json!({
        "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
        "Message": format!("Transaction cancelled, please refer cancellation reasons for specific reasons [{}]", codes.join(", ")),
        "CancellationReasons": reasons,
    })
    .to_string()
}

fn operation(request: &http::Request<Vec<u8>>) -> String {
    request
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .map(|t| t.trim_start_matches("DynamoDB_20120810.").to_string())
        .unwrap_or_default()
}
