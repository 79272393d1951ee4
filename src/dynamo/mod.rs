//! A small DynamoDB client over the JSON 1.0 protocol: each operation builds a request, signs it
//! (SigV4, a fresh signature per attempt), sends it through a [`Transport`], retries by the
//! [`RetryPolicy`], and parses the answer into typed output or a typed [`DynamoError`].
//!
//! # Layout
//! - [`ops`]: the operations' input and output shapes, as DynamoDB names them.
//! - [`item`]: attribute values and items, and records to and from items.
//! - [`tx`]: transactions whose parts have names.
//! - [`expr`]: expression placeholders.
//! - [`error`]: error parsing and retry classification.
//! - [`retry`]: backoff and deadline.
//! - [`sign`]: SigV4 signing.
//! - [`table`]: the table definition dynauth expects, and checking a live table against it.

pub mod error;
pub mod expr;
pub mod item;
pub mod ops;
pub mod retry;
pub mod sign;
pub mod tx;

use std::cell::Cell;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use error::{CancellationReason, DynamoError};
pub use expr::Expr;
pub use item::{AttributeValue, Item, WireItem, from_item, n, s, to_item, to_typed_item};
pub use ops::*;
pub use retry::RetryPolicy;
pub use sign::{Credentials, Signer};
pub use tx::{Cancelled, Transaction, TxError};

use crate::platform::runtime::{LocalFuture, Runtime, Timeout, Transport, random_u64};
use error::{Retry, classify, parse_error};

/// The only headers of DynamoDB's answers the client reads.
pub const RESPONSE_HEADERS: &[&str] = &["x-amzn-errortype"];

/// Where and as whom the client talks to DynamoDB.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientConfig {
    pub endpoint: Endpoint,
    pub region: String,
    pub credentials: Credentials,
    pub retry: RetryPolicy,
}

/// A DynamoDB endpoint: `http(s)://host[:port]` with no path, query or user. The one rule, used
/// by the configuration (`DYNAMODB_ENDPOINT`) and the client alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint(http::Uri);

impl Endpoint {
    /// A local or custom endpoint.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        const RULE: &str = "must be an http:// or https:// URL of a host and port, without a path";
        let uri: http::Uri = raw.trim().trim_end_matches('/').parse().map_err(|_| RULE)?;
        let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
        let authority_ok = uri.authority().is_some_and(|a| !a.host().is_empty() && !a.as_str().contains('@'));
        if !scheme_ok || !authority_ok || !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            return Err(RULE);
        }
        let mut parts = uri.into_parts();
        parts.path_and_query = Some(http::uri::PathAndQuery::from_static("/"));
        http::Uri::from_parts(parts).map(Self).map_err(|_| RULE)
    }

    /// AWS's endpoint for `region`.
    pub fn aws(region: &str) -> Result<Self, &'static str> {
        Self::parse(&format!("https://dynamodb.{region}.amazonaws.com"))
    }

    pub fn uri(&self) -> &http::Uri {
        &self.0
    }
}

/// Counts of what the client sent, for the per-request log line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// HTTP requests sent (retries included).
    pub calls: u32,
    /// Wall time spent in them, in milliseconds.
    pub millis: u64,
}

/// How a write may be retried.
pub enum Write<'a> {
    /// Sending it twice is harmless: retry on any retryable error, lost answers included.
    Idempotent,
    /// Retry only when the server says it was not applied (throttling): a lost answer, a reset
    /// or a 5xx leaves the outcome unknown and is returned as an error, never sent again.
    AtMostOnce,
    /// A conditional write that can recognise its own earlier success: retried like
    /// `Idempotent`, asks for `ALL_OLD` on a failed condition, and when the condition fails
    /// after an attempt that may have been applied, `recognise(old_item)` decides whether that
    /// attempt was ours (then the write reports success).
    Recognise(&'a dyn Fn(Option<&Item>) -> bool),
}

impl std::fmt::Debug for Write<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Idempotent => "Idempotent",
            Self::AtMostOnce => "AtMostOnce",
            Self::Recognise(_) => "Recognise(..)",
        })
    }
}

/// A DynamoDB client over an injected transport and runtime (its clock and timers sign and pace
/// the attempts; its randomness jitters the backoff). One per request: its counters are that
/// request's.
pub struct Client<'a> {
    transport: Box<dyn Transport + 'a>,
    runtime: Box<dyn Runtime + 'a>,
    uri: http::Uri,
    signer: Signer,
    retry: RetryPolicy,
    /// The request's deadline: no attempt starts, and none waits, past it.
    deadline: Cell<Option<SystemTime>>,
    stats: Cell<Stats>,
}

impl std::fmt::Debug for Client<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("uri", &self.uri).field("signer", &self.signer).finish_non_exhaustive()
    }
}

impl<'a> Client<'a> {
    /// A client for `config`.
    pub fn new(config: &ClientConfig, transport: impl Transport + 'a, runtime: impl Runtime + 'a) -> Self {
        Self {
            transport: Box::new(transport),
            runtime: Box::new(runtime),
            uri: config.endpoint.uri().clone(),
            signer: Signer::new(config.endpoint.uri(), &config.region, &config.credentials),
            retry: config.retry,
            deadline: Cell::new(None),
            stats: Cell::new(Stats::default()),
        }
    }

    /// Ends every call of this client at `at` (the request's deadline): each call still has its
    /// own budget ([`RetryPolicy::deadline`]), and each attempt its timeout, within it.
    pub fn set_deadline(&self, at: SystemTime) {
        self.deadline.set(Some(at));
    }

    /// What this client has sent so far.
    pub fn stats(&self) -> Stats {
        self.stats.get()
    }

    pub async fn get_item(&self, input: &GetItemInput) -> Result<GetItemOutput, DynamoError> {
        self.call("GetItem", input, Retries::All).await
    }

    /// GetItem decoded into `V`; `None` when there is no item. The item is read from the wire
    /// straight into the record's JSON form (no [`Item`] map in between).
    pub async fn get<V: DeserializeOwned>(&self, input: &GetItemInput) -> Result<Option<V>, DynamoError> {
        #[derive(serde::Deserialize)]
        struct Record {
            #[serde(rename = "Item", default)]
            item: Option<WireItem>,
        }
        let out: Record = self.call("GetItem", input, Retries::All).await?;
        Ok(out.item.map(WireItem::into_record).transpose()?)
    }

    pub async fn put_item(&self, mut input: PutItemInput, write: Write<'_>) -> Result<PutItemOutput, DynamoError> {
        if let Write::Recognise(_) = write {
            input.return_values_on_condition_check_failure = Some(ReturnValues::AllOld);
        }
        self.write_call("PutItem", &input, write).await
    }

    /// Writes `item`, which must be new: on condition that no item has its key (`pk` is the
    /// partition key's name). An earlier attempt of this very write whose answer was lost is
    /// recognised (the stored item equals `item`) and counts as success.
    pub async fn put_new(&self, table: &str, pk: &str, item: Item) -> Result<(), DynamoError> {
        let mut e = Expr::new();
        let cond = e.not_exists(pk);
        let mine = item.clone();
        let recognise = move |old: Option<&Item>| old == Some(&mine);
        self.put_item(PutItemInput::new(table, item).condition(cond, e), Write::Recognise(&recognise)).await.map(|_| ())
    }

    pub async fn update_item(
        &self,
        mut input: UpdateItemInput,
        write: Write<'_>,
    ) -> Result<UpdateItemOutput, DynamoError> {
        if let Write::Recognise(_) = write {
            input.return_values_on_condition_check_failure = Some(ReturnValues::AllOld);
        }
        self.write_call("UpdateItem", &input, write).await
    }

    pub async fn delete_item(
        &self,
        mut input: DeleteItemInput,
        write: Write<'_>,
    ) -> Result<DeleteItemOutput, DynamoError> {
        if let Write::Recognise(_) = write {
            input.return_values_on_condition_check_failure = Some(ReturnValues::AllOld);
        }
        self.write_call("DeleteItem", &input, write).await
    }

    /// One page of a Query.
    pub async fn query(&self, input: &QueryInput) -> Result<QueryOutput, DynamoError> {
        self.call("Query", input, Retries::All).await
    }

    /// Every page of a Query, following `LastEvaluatedKey`, up to `max_items` items.
    pub async fn query_all(&self, input: &QueryInput, max_items: usize) -> Result<Vec<Item>, DynamoError> {
        let mut input = input.clone();
        let mut items = Vec::new();
        loop {
            let page = self.query(&input).await?;
            items.extend(page.items);
            match page.last_evaluated_key {
                Some(key) if items.len() < max_items => input.exclusive_start_key = Some(key),
                _ => break,
            }
        }
        items.truncate(max_items);
        Ok(items)
    }

    /// One page of a Scan (used by operators and tests, never on a request path).
    pub async fn scan(&self, input: &ScanInput) -> Result<ScanOutput, DynamoError> {
        self.call("Scan", input, Retries::All).await
    }

    /// A transaction. With a `ClientRequestToken` (set one unless there is a reason not to)
    /// DynamoDB makes a repeated call idempotent, so lost answers are retried too.
    pub async fn transact_write_items(&self, input: &TransactWriteItemsInput) -> Result<(), DynamoError> {
        self.transact_once(input).await.map_err(|(e, _)| e)
    }

    /// [`Self::transact_write_items`], saying on error whether an attempt may have been applied.
    async fn transact_once(&self, input: &TransactWriteItemsInput) -> Result<(), (DynamoError, bool)> {
        let retries = if input.client_request_token.is_some() { Retries::All } else { Retries::ServerRefused };
        self.exchange("TransactWriteItems", encode(input).map_err(|e| (e, false))?, retries).await.map(|_| ())
    }

    /// A transaction whose parts have names: a cancellation says which parts failed, by name.
    ///
    /// A cancellation for transient reasons only (another transaction held one of the items, or
    /// throttling: see [`Cancelled::only_transient`]) is no answer about the items, so the
    /// transaction is sent again after a full-jitter backoff (under a new token, unless an attempt
    /// under the current one may have been applied: then the same), until it commits,
    /// is refused for a reason of its own, or the deadline comes: then
    /// [`DynamoError::RetriesExhausted`] (503 + Retry-After in the API), never a failed condition.
    pub async fn transact(&self, tx: &Transaction) -> Result<(), TxError> {
        let started = self.runtime.now();
        let policy = RetryPolicy { max_attempts: retry::CONFLICT_ATTEMPTS, ..self.retry };
        let mut renewed: Option<Transaction> = None;
        let mut attempts = 0u32;
        // Whether an attempt under the current token may have been applied (its answer lost):
        // then the token is kept, so that DynamoDB answers a repeat of an applied transaction as
        // done instead of applying it twice.
        let mut maybe_applied = false;
        loop {
            let current = renewed.as_ref().unwrap_or(tx);
            attempts += 1;
            let error = match self.transact_once(current.input()).await {
                Ok(()) => return Ok(()),
                Err((e, applied)) => {
                    maybe_applied |= applied;
                    current.explain(e)
                }
            };
            let TxError::Cancelled(cancelled) = &error else { return Err(error) };
            if !cancelled.only_transient() {
                return Err(error);
            }
            let left = self.time_left(started, self.runtime.now());
            match policy.next_delay(attempts, left, random_u64(&*self.runtime)) {
                Some(delay) => self.runtime.sleep(delay).await,
                None => {
                    let last = Box::new(DynamoError::from(error));
                    return Err(TxError::Db(DynamoError::RetriesExhausted { attempts, last }));
                }
            }
            if !maybe_applied {
                let mut token = [0u8; 16];
                self.runtime.fill_random(&mut token);
                renewed = Some(tx.renewed(hex::encode(token)));
            }
        }
    }

    /// The time left at `now` for a call that started at `started`: its own budget, or the
    /// request's deadline when that comes first.
    fn time_left(&self, started: SystemTime, now: SystemTime) -> Duration {
        let call_deadline = started + self.retry.deadline;
        let deadline = self.deadline.get().map_or(call_deadline, |d| d.min(call_deadline));
        deadline.duration_since(now).unwrap_or(Duration::ZERO)
    }

    pub async fn create_table(&self, input: &CreateTableInput) -> Result<TableDescription, DynamoError> {
        let out: TableDescriptionOutput = self.call("CreateTable", input, Retries::ServerRefused).await?;
        Ok(out.table_description)
    }

    pub async fn describe_table(&self, table: &str) -> Result<TableDescription, DynamoError> {
        let out: DescribeTableOutput = self.call("DescribeTable", &TableNameInput::new(table), Retries::All).await?;
        Ok(out.table)
    }

    pub async fn delete_table(&self, table: &str) -> Result<TableDescription, DynamoError> {
        let out: TableDescriptionOutput =
            self.call("DeleteTable", &TableNameInput::new(table), Retries::ServerRefused).await?;
        Ok(out.table_description)
    }

    pub async fn update_time_to_live(&self, table: &str, attribute: &str, enabled: bool) -> Result<(), DynamoError> {
        let input = UpdateTimeToLiveInput {
            table_name: table.to_string(),
            time_to_live_specification: TimeToLiveSpecification { attribute_name: attribute.to_string(), enabled },
        };
        let _: serde_json::Value = self.call("UpdateTimeToLive", &input, Retries::All).await?;
        Ok(())
    }

    pub async fn describe_time_to_live(&self, table: &str) -> Result<TimeToLiveDescription, DynamoError> {
        let out: DescribeTimeToLiveOutput =
            self.call("DescribeTimeToLive", &TableNameInput::new(table), Retries::All).await?;
        Ok(out.time_to_live_description)
    }

    async fn write_call<I: Serialize, O: DeserializeOwned + Default>(
        &self,
        op: &'static str,
        input: &I,
        write: Write<'_>,
    ) -> Result<O, DynamoError> {
        let retries = match write {
            Write::Idempotent | Write::Recognise(_) => Retries::All,
            Write::AtMostOnce => Retries::ServerRefused,
        };
        match (self.exchange(op, encode(input)?, retries).await, write) {
            (Ok(bytes), _) => decode(op, &bytes),
            (Err((DynamoError::ConditionalCheckFailed { message, item }, true)), Write::Recognise(recognise)) => {
                if recognise(item.as_ref()) {
                    Ok(O::default())
                } else {
                    Err(DynamoError::ConditionalCheckFailed { message, item })
                }
            }
            (Err((e, _)), _) => Err(e),
        }
    }

    async fn call<I: Serialize, O: DeserializeOwned>(
        &self,
        op: &'static str,
        input: &I,
        retries: Retries,
    ) -> Result<O, DynamoError> {
        let bytes = self.exchange(op, encode(input)?, retries).await.map_err(|(e, _)| e)?;
        decode(op, &bytes)
    }

    /// Sends `op` with `body` until it succeeds or may not be retried: the body of the answer.
    /// On error also says whether an earlier attempt may have been applied (its answer was lost,
    /// or was a 5xx). One function for every operation (not one per input and output type).
    fn exchange(
        &self,
        op: &'static str,
        body: Vec<u8>,
        retries: Retries,
    ) -> LocalFuture<'_, Result<Vec<u8>, (DynamoError, bool)>> {
        Box::pin(async move {
            let started = self.runtime.now();
            let left = |now: SystemTime| self.time_left(started, now);
            if left(started) < retry::MIN_ATTEMPT {
                return Err((DynamoError::DeadlineExceeded, false));
            }
            let mut attempts = 0u32;
            let mut maybe_applied = false;
            loop {
                attempts += 1;
                let timeout = left(self.runtime.now()).min(self.retry.attempt_timeout);
                let error = match self.attempt(op, &body, timeout).await {
                    Ok(bytes) => return Ok(bytes),
                    Err(e) => e,
                };
                let retryable = classify(&error, retries == Retries::All) == Retry::Yes;
                let this_maybe_applied = matches!(
                    error,
                    DynamoError::Transport { .. }
                        | DynamoError::Service { status: 500..=599, .. }
                        | DynamoError::Unparseable { status: 500..=599, .. }
                );
                if !retryable {
                    return Err((error, maybe_applied));
                }
                maybe_applied |= this_maybe_applied;
                match self.retry.next_delay(attempts, left(self.runtime.now()), random_u64(&*self.runtime)) {
                    Some(delay) => self.runtime.sleep(delay).await,
                    None => {
                        return Err((DynamoError::RetriesExhausted { attempts, last: Box::new(error) }, maybe_applied));
                    }
                }
            }
        })
    }

    /// One signed HTTP exchange that waits at most `timeout`; the body of a 2xx answer, or the
    /// parsed error.
    async fn attempt(&self, op: &str, body: &[u8], timeout: Duration) -> Result<Vec<u8>, DynamoError> {
        let now = self.runtime.now();
        let mut request = http::Request::builder()
            .method(http::Method::POST)
            .uri(self.uri.clone())
            .header(http::header::CONTENT_TYPE, "application/x-amz-json-1.0")
            .header("x-amz-target", format!("DynamoDB_20120810.{op}"))
            .body(body.to_vec())
            .map_err(|e| DynamoError::Decode { message: format!("building {op}: {e}") })?;
        request.extensions_mut().insert(Timeout(timeout));
        self.signer.sign(&mut request, now).map_err(|e| DynamoError::Decode { message: e.to_string() })?;
        let result = self.transport.send(request).await;
        let spent = self.runtime.now().duration_since(now).unwrap_or(Duration::ZERO);
        let mut stats = self.stats.get();
        stats.calls += 1;
        stats.millis += u64::try_from(spent.as_millis()).unwrap_or(u64::MAX);
        self.stats.set(stats);
        let response = result.map_err(|e| DynamoError::Transport { message: e.0 })?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(response.into_body());
        }
        let error_type = response.headers().get("x-amzn-errortype").and_then(|v| v.to_str().ok()).map(str::to_string);
        Err(parse_error(status, error_type.as_deref(), response.body()))
    }
}

fn encode(input: &impl Serialize) -> Result<Vec<u8>, DynamoError> {
    serde_json::to_vec(input).map_err(|e| DynamoError::Decode { message: e.to_string() })
}

fn decode<O: DeserializeOwned>(op: &str, bytes: &[u8]) -> Result<O, DynamoError> {
    serde_json::from_slice(bytes).map_err(|e| DynamoError::Decode { message: format!("{op}: {e}") })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retries {
    /// Also retry when no answer came back.
    All,
    /// Only retry what the server certainly did not apply (throttling); a 5xx or a lost answer
    /// leaves the outcome unknown and is returned.
    ServerRefused,
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::platform::native::block_on;
    use crate::platform::runtime::Clock;
    use crate::testing::fakes::{ManualRuntime, ScriptedTransport};

    const THROTTLED: &str =
        r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"slow down"}"#;
    const CCF: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed","Item":{"PK":{"S":"k"},"wid":{"S":"mine"}}}"#;

    fn client<'a>(t: &'a ScriptedTransport, rt: &'a ManualRuntime, retry: RetryPolicy) -> Client<'a> {
        let config = ClientConfig {
            endpoint: Endpoint::parse("http://127.0.0.1:9").expect("the test's own input"),
            region: "us-east-1".into(),
            credentials: Credentials {
                access_key_id: "AKIDTEST".into(),
                secret_access_key: "secret".into(),
                session_token: None,
            },
            retry,
        };
        Client::new(&config, t, rt)
    }

    fn key() -> Item {
        Item::from(HashMap::from([("PK".to_string(), s("k")), ("SK".to_string(), s("x"))]))
    }

    #[test]
    fn throttling_is_retried_with_fresh_signatures() {
        let t = ScriptedTransport::new();
        t.respond(400, THROTTLED).respond(400, THROTTLED).respond(200, r#"{"Item":{"PK":{"S":"k"}}}"#);
        let rt = ManualRuntime::new(1_700_000_000, 7);
        let c = client(
            &t,
            &rt,
            RetryPolicy {
                base_delay: Duration::from_secs(2),
                max_delay: Duration::from_secs(4),
                deadline: Duration::from_secs(60),
                max_attempts: 5,
                ..RetryPolicy::default()
            },
        );
        let out = block_on(c.get_item(&GetItemInput::consistent("t", key())));
        assert_eq!(out.map(|o| o.item.is_some()), Ok(true));
        assert_eq!(t.operations(), vec!["GetItem", "GetItem", "GetItem"]);
        let sleeps = rt.sleeps();
        assert_eq!(sleeps.len(), 2);
        assert!(sleeps[0] <= Duration::from_secs(2) && sleeps[1] <= Duration::from_secs(4), "{sleeps:?}");
        let dates: Vec<String> =
            t.requests().iter().map(|r| r.headers()["x-amz-date"].to_str().unwrap_or("").to_string()).collect();
        // Each attempt is signed at its own time: the start, then after each sleep.
        let at = |secs: Duration| {
            let t = chrono::DateTime::from_timestamp(1_700_000_000 + i64::try_from(secs.as_secs()).unwrap_or(0), 0)
                .unwrap_or_default();
            t.format("%Y%m%dT%H%M%SZ").to_string()
        };
        assert_eq!(dates, vec![at(Duration::ZERO), at(sleeps[0]), at(sleeps[0] + sleeps[1])]);
        assert_eq!(c.stats().calls, 3);
        for r in t.requests().iter() {
            let mut names: Vec<&str> = r.headers().keys().map(|k| k.as_str()).collect();
            names.sort_unstable();
            assert_eq!(names, vec!["authorization", "content-type", "x-amz-date", "x-amz-target"]);
        }
    }

    #[test]
    fn gives_up_inside_the_deadline() {
        let t = ScriptedTransport::new();
        for _ in 0..50 {
            t.respond(400, THROTTLED);
        }
        let rt = ManualRuntime::new(1_700_000_000, 3);
        let policy = RetryPolicy {
            max_attempts: 50,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(400),
            deadline: Duration::from_millis(1_000),
            ..RetryPolicy::default()
        };
        let c = client(&t, &rt, policy);
        let err = block_on(c.get_item(&GetItemInput::consistent("t", key()))).err();
        let Some(DynamoError::RetriesExhausted { attempts, last }) = err else { panic!("{err:?}") };
        assert_eq!(last.code(), Some("ThrottlingException"));
        let slept: Duration = rt.sleeps().iter().sum();
        assert!(slept < Duration::from_millis(1_000), "slept {slept:?}");
        assert_eq!(usize::try_from(attempts).unwrap_or(0), t.requests().len());
        assert!(attempts >= 2);
        assert!(DynamoError::RetriesExhausted { attempts, last }.is_unavailable());
    }

    #[test]
    fn the_request_deadline_bounds_every_call_and_each_attempt_has_a_timeout() {
        let t = ScriptedTransport::new();
        for _ in 0..20 {
            t.respond(400, THROTTLED);
        }
        let rt = ManualRuntime::new(1_700_000_000, 5);
        let policy = RetryPolicy { max_attempts: 20, ..RetryPolicy::default() };
        let c = client(&t, &rt, policy);
        let start = rt.now();
        c.set_deadline(start + Duration::from_millis(400));
        let err = block_on(c.get_item(&GetItemInput::consistent("t", key()))).err();
        assert!(matches!(err, Some(DynamoError::RetriesExhausted { .. })), "{err:?}");
        let spent = rt.now().duration_since(start).unwrap_or_default();
        assert!(spent <= Duration::from_millis(400), "the call ran {spent:?}, past the request's 400 ms");
        // Each attempt was given the time left, at most the attempt timeout (1 s by default).
        let timeouts: Vec<Duration> =
            t.requests().iter().filter_map(|r| r.extensions().get::<Timeout>().map(|t| t.0)).collect();
        assert_eq!(timeouts.len(), t.requests().len());
        assert_eq!(timeouts[0], Duration::from_millis(400));
        assert!(timeouts.windows(2).all(|w| w[1] <= w[0]), "{timeouts:?}");

        // A spent deadline: the next call does not start at all.
        rt.advance(Duration::from_millis(400));
        let sent = t.requests().len();
        let err = block_on(c.get_item(&GetItemInput::consistent("t", key()))).err();
        assert_eq!(err, Some(DynamoError::DeadlineExceeded));
        assert!(DynamoError::DeadlineExceeded.is_unavailable());
        assert_eq!(t.requests().len(), sent);

        // Without a request deadline an attempt gets the attempt timeout.
        let t = ScriptedTransport::new();
        t.respond(200, "{}");
        let c = client(&t, &rt, RetryPolicy::default());
        assert!(block_on(c.get_item(&GetItemInput::consistent("t", key()))).is_ok());
        assert_eq!(t.requests()[0].extensions().get::<Timeout>(), Some(&Timeout(Duration::from_secs(1))));
    }

    #[test]
    fn lost_answers_are_retried_only_when_safe() {
        let t = ScriptedTransport::new();
        t.fail("connection reset").respond(200, "{}");
        let rt = ManualRuntime::new(1_700_000_000, 1);
        let c = client(&t, &rt, RetryPolicy::default());
        assert_eq!(block_on(c.get_item(&GetItemInput::consistent("t", key()))).map(|o| o.item), Ok(None));
        assert_eq!(t.requests().len(), 2);

        let t = ScriptedTransport::new();
        t.fail("connection reset").respond(200, "{}");
        let c = client(&t, &rt, RetryPolicy::default());
        let err = block_on(
            c.update_item(UpdateItemInput::new("t", key(), "ADD #n0 :v0".into(), None, Expr::new()), Write::AtMostOnce),
        )
        .err();
        assert_eq!(err, Some(DynamoError::Transport { message: "connection reset".into() }));
        assert_eq!(t.requests().len(), 1, "a write whose answer was lost is not sent again");
    }

    #[test]
    fn conflicts_are_sent_again_under_a_new_token_unless_the_old_one_may_have_applied() {
        const CONFLICT: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException","message":"cancelled","CancellationReasons":[{"Code":"TransactionConflict"}]}"#;
        let token_of = |r: &http::Request<Vec<u8>>| {
            serde_json::from_slice::<serde_json::Value>(r.body()).unwrap_or_default()["ClientRequestToken"].to_string()
        };
        let part = || TransactItem::Delete(DeleteItemInput::new("t", key()));
        let rt = ManualRuntime::new(1_700_000_000, 1);
        // A plain conflict: nothing was applied, so the repeat is a new transaction.
        let t = ScriptedTransport::new();
        t.respond(400, CONFLICT).respond(200, "{}");
        let c = client(&t, &rt, RetryPolicy::default());
        assert_eq!(block_on(c.transact(&Transaction::new("tok-1").with("a", part()))), Ok(()));
        let tokens: Vec<String> = t.requests().iter().map(token_of).collect();
        assert_eq!(tokens.len(), 2);
        assert_ne!(tokens[0], tokens[1], "a new token");
        // A lost answer first (maybe applied), then a conflict: the token is kept, so that an
        // applied transaction is answered as done, never applied twice.
        let t = ScriptedTransport::new();
        t.fail("connection reset").respond(400, CONFLICT).respond(200, "{}");
        let c = client(&t, &rt, RetryPolicy::default());
        assert_eq!(block_on(c.transact(&Transaction::new("tok-2").with("a", part()))), Ok(()));
        let tokens: Vec<String> = t.requests().iter().map(token_of).collect();
        assert_eq!(tokens, vec!["\"tok-2\"".to_string(); 3]);
        // Conflicts to the end: RetriesExhausted (503 in the API), never a failed condition.
        let t = ScriptedTransport::new();
        for _ in 0..retry::CONFLICT_ATTEMPTS {
            t.respond(400, CONFLICT);
        }
        let c = client(&t, &rt, RetryPolicy::default());
        let err = block_on(c.transact(&Transaction::new("tok-3").with("a", part()))).err();
        assert!(
            matches!(&err, Some(TxError::Db(DynamoError::RetriesExhausted { attempts, .. })) if *attempts == retry::CONFLICT_ATTEMPTS),
            "{err:?}"
        );
        assert!(err.as_ref().is_some_and(|e| matches!(e, TxError::Db(d) if d.is_unavailable())));
    }

    #[test]
    fn a_5xx_leaves_an_at_most_once_write_unknown_and_unsent_again() {
        const ISE: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"x"}"#;
        let rt = ManualRuntime::new(1_700_000_000, 1);
        let update = || UpdateItemInput::new("t", key(), "ADD #n0 :v0".into(), None, Expr::new());
        let t = ScriptedTransport::new();
        t.respond(500, ISE).respond(200, "{}");
        let c = client(&t, &rt, RetryPolicy::default());
        let err = block_on(c.update_item(update(), Write::AtMostOnce)).err();
        assert!(matches!(&err, Some(DynamoError::Service { status: 500, .. })), "{err:?}");
        assert!(err.is_some_and(|e| e.is_unavailable()), "answered 503, not 500");
        assert_eq!(t.requests().len(), 1, "a write answered 500 may have been applied: not sent again");

        // Throttling says it was not applied: retried.
        let t = ScriptedTransport::new();
        t.respond(400, THROTTLED).respond(200, "{}");
        let c = client(&t, &rt, RetryPolicy::default());
        assert!(block_on(c.update_item(update(), Write::AtMostOnce)).is_ok());
        assert_eq!(t.requests().len(), 2);

        // An idempotent write is sent again after a 500.
        let t = ScriptedTransport::new();
        t.respond(500, ISE).respond(200, "{}");
        let c = client(&t, &rt, RetryPolicy::default());
        assert!(block_on(c.update_item(update(), Write::Idempotent)).is_ok());
        assert_eq!(t.requests().len(), 2);
    }

    #[test]
    fn a_conditional_write_recognises_its_own_earlier_success() {
        let t = ScriptedTransport::new();
        t.fail("timeout").respond(400, CCF);
        let rt = ManualRuntime::new(1_700_000_000, 1);
        let c = client(&t, &rt, RetryPolicy::default());
        let mine = |item: Option<&Item>| item.and_then(|i| i.get("wid")) == Some(&s("mine"));
        let out = block_on(c.put_item(PutItemInput::new("t", key()), Write::Recognise(&mine)));
        assert_eq!(out, Ok(PutItemOutput::default()));
        let body: serde_json::Value = serde_json::from_slice(t.requests()[1].body()).unwrap_or_default();
        assert_eq!(body["ReturnValuesOnConditionCheckFailure"], "ALL_OLD");

        // Not ours: the failure stands.
        let t = ScriptedTransport::new();
        t.fail("timeout").respond(400, CCF);
        let c = client(&t, &rt, RetryPolicy::default());
        let theirs = |item: Option<&Item>| item.and_then(|i| i.get("wid")) == Some(&s("someone else"));
        let out = block_on(c.put_item(PutItemInput::new("t", key()), Write::Recognise(&theirs)));
        assert!(matches!(out, Err(DynamoError::ConditionalCheckFailed { .. })), "{out:?}");

        // A first attempt that certainly failed: the condition failure is real, no recognising.
        let t = ScriptedTransport::new();
        t.respond(400, CCF);
        let c = client(&t, &rt, RetryPolicy::default());
        let out = block_on(c.put_item(PutItemInput::new("t", key()), Write::Recognise(&mine)));
        assert!(matches!(out, Err(DynamoError::ConditionalCheckFailed { .. })), "{out:?}");
    }

    #[test]
    fn rejected_signatures_are_not_retried() {
        let t = ScriptedTransport::new();
        t.respond(
            400,
            r#"{"__type":"com.amazon.coral.service#InvalidSignatureException","message":"Signature expired"}"#,
        );
        let rt = ManualRuntime::new(1_700_000_000, 1);
        let c = client(&t, &rt, RetryPolicy::default());
        let err = block_on(c.describe_table("t")).err();
        assert!(matches!(err, Some(DynamoError::SignatureRejected { .. })), "{err:?}");
        assert_eq!(t.requests().len(), 1);
    }

    #[test]
    fn endpoints() {
        let uri = |raw: &str| Endpoint::parse(raw).map(|e| e.uri().to_string());
        assert_eq!(uri("http://127.0.0.1:8000"), Ok("http://127.0.0.1:8000/".into()));
        assert_eq!(
            uri("https://dynamodb.eu-west-1.amazonaws.com/"),
            Ok("https://dynamodb.eu-west-1.amazonaws.com/".into())
        );
        assert_eq!(
            Endpoint::aws("eu-west-1").map(|e| e.uri().to_string()),
            Ok("https://dynamodb.eu-west-1.amazonaws.com/".into())
        );
        for bad in ["ftp://x", "http://x/path", "not a url", "localhost:8000", "http://user@x", "http://x/?q", ""] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }
}
