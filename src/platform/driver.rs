//! Drives the core's futures by hand, for a host that does the I/O itself (the Worker's
//! JavaScript). A future's HTTP exchanges, sleeps and body reads become numbered [`Op`]s that the
//! host carries out; the host hands each result back with [`complete`] and polls the [`Task`]
//! again. There is no executor, no waker and no timer here: nothing moves but when the host says
//! so, which keeps the crossings between wasm and JavaScript to one call per step (no promise
//! bridged per await, no microtask per wake-up).
//!
//! The host's clock comes in the same way: [`set_now`] on every entry, read by [`now`]. A task
//! that waits on another (two requests sharing one host resolution) is woken through its waker:
//! [`take_woken`] says which tasks to poll again.
//!
//! Single-threaded by design (one isolate, one thread): the pending operations live in a
//! thread-local, and a task's operations are the ones its poll queued.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::platform::runtime::{LocalFuture, Timeout, Transport, TransportError};
#[cfg(cold)]
use crate::platform::signature::{Alg, Crypto, CryptoError, KeyJwk, Material, PrivateKey, PublicKey};

/// What a task asks the host to do (made once per operation and moved once: size is no concern).
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Op {
    /// Send this request and answer with the response (its status, body and the headers named in
    /// `keep`), or why none came within `timeout`.
    Send { request: http::Request<Vec<u8>>, timeout: Duration, keep: &'static [&'static str] },
    /// Wait this long.
    Sleep(Duration),
    /// Read the body of the request being handled.
    ReadBody,
    /// A signature, its check, or a key, from the host's crypto (Web Crypto). Cold builds only:
    /// the edge Worker signs nothing.
    #[cfg(cold)]
    Crypto(CryptoOp),
}

/// What the host's crypto is asked: see [`HostCrypto`]. `Debug` never shows the key or the data.
#[cfg(cold)]
pub struct CryptoOp {
    pub kind: CryptoKind,
    pub alg: Alg,
    /// The key's name (the host imports each named key once and keeps it); empty for `Generate`.
    pub key_id: String,
    /// How `key` is written: `"jwk"` (JSON) or `"pkcs8"`; empty for `Generate`.
    pub format: &'static str,
    pub key: Vec<u8>,
    pub data: Vec<u8>,
    pub signature: Vec<u8>,
}

#[cfg(cold)]
impl std::fmt::Debug for CryptoOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CryptoOp")
            .field("kind", &self.kind)
            .field("alg", &self.alg)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// The crypto operations: each answers bytes (see [`HostCrypto`]).
#[cfg(cold)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CryptoKind {
    /// The signature of `data` with the private `key`.
    Sign,
    /// One byte, 1 when `signature` is the public `key`'s over `data`, else 0.
    Verify,
    /// A new key of `alg`: its private JWK, as JSON.
    Generate,
    /// The public JWK of the private `key`, as JSON.
    Public,
}

#[cfg(cold)]
impl CryptoKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Sign => "sign",
            Self::Verify => "verify",
            Self::Generate => "generate",
            Self::Public => "public",
        }
    }
}

/// What the host answers an [`Op`] with.
#[derive(Debug)]
pub enum Done {
    Sent(Result<http::Response<Vec<u8>>, TransportError>),
    Slept,
    Body(Result<Vec<u8>, String>),
    #[cfg(cold)]
    Crypto(Result<Vec<u8>, String>),
}

#[derive(Default)]
struct Io {
    next_id: u32,
    /// Queued by the poll in progress; taken by [`Task::poll`] when it returns.
    queued: Vec<(u32, Op)>,
    /// Results handed in by the host, not yet taken by their futures.
    done: HashMap<u32, Done>,
}

thread_local! {
    static IO: RefCell<Io> = RefCell::new(Io::default());
    static NOW_MS: Cell<u64> = const { Cell::new(0) };
    static WOKEN: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
}

/// The tasks woken since the last call (poll them again).
pub fn take_woken() -> Vec<u32> {
    WOKEN.with(|w| std::mem::take(&mut *w.borrow_mut()))
}

/// Wakes task `id`: it is listed by [`take_woken`].
struct TaskWaker(u32);

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        WOKEN.with(|w| {
            let mut w = w.borrow_mut();
            if !w.contains(&self.0) {
                w.push(self.0);
            }
        });
    }
}

/// The host's clock, as it last said (milliseconds since the Unix epoch).
pub fn set_now(epoch_ms: u64) {
    NOW_MS.with(|n| n.set(epoch_ms));
}

/// The time the host last gave.
pub fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(NOW_MS.with(Cell::get))
}

/// A fresh operation id, for operations the host adds itself.
pub fn new_op_id() -> u32 {
    IO.with(|io| {
        let mut io = io.borrow_mut();
        io.next_id = io.next_id.wrapping_add(1);
        io.next_id
    })
}

/// Hands in the result of operation `id`; poll its task afterwards.
pub fn complete(id: u32, done: Done) {
    IO.with(|io| io.borrow_mut().done.insert(id, done));
}

/// A future that asks the host for `op` when first polled and is ready once the host has
/// completed it.
pub fn perform(op: Op) -> Perform {
    Perform { op: Some(op), id: None }
}

/// See [`perform`].
#[derive(Debug)]
pub struct Perform {
    op: Option<Op>,
    id: Option<u32>,
}

impl Future for Perform {
    type Output = Done;

    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Done> {
        if let Some(id) = self.id {
            return IO.with(|io| io.borrow_mut().done.remove(&id)).map_or(Poll::Pending, Poll::Ready);
        }
        if let Some(op) = self.op.take() {
            let id = new_op_id();
            IO.with(|io| io.borrow_mut().queued.push((id, op)));
            self.id = Some(id);
        }
        Poll::Pending
    }
}

/// Where a task stands after a poll.
#[derive(Debug)]
pub enum Step<T> {
    /// Finished with this output.
    Done(T),
    /// Waiting; these operations are new (earlier ones may still be in flight).
    Waiting(Vec<(u32, Op)>),
}

/// A future the host drives.
pub struct Task<T> {
    future: Pin<Box<dyn Future<Output = T>>>,
    waker: Waker,
}

impl<T> std::fmt::Debug for Task<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Task")
    }
}

impl<T> Task<T> {
    /// Task `id` (the host's number for it, which [`take_woken`] reports).
    pub fn new(id: u32, future: impl Future<Output = T> + 'static) -> Self {
        Self { future: Box::pin(future), waker: Waker::from(Arc::new(TaskWaker(id))) }
    }

    /// Polls once: done, or the operations it newly waits for.
    pub fn poll(&mut self) -> Step<T> {
        let mut cx = Context::from_waker(&self.waker);
        let result = self.future.as_mut().poll(&mut cx);
        let queued = IO.with(|io| std::mem::take(&mut io.borrow_mut().queued));
        match result {
            Poll::Ready(out) => Step::Done(out),
            Poll::Pending => Step::Waiting(queued),
        }
    }
}

/// HTTP through the host: each request is an [`Op::Send`] that waits at most the request's own
/// [`Timeout`] (else `timeout`), and never past `deadline` (the whole request's); of the answer's
/// headers, only those in `keep` come back (each one read costs a crossing of the boundary).
#[derive(Debug, Clone, Copy)]
pub struct HostTransport {
    pub timeout: Duration,
    pub keep: &'static [&'static str],
    pub deadline: Option<SystemTime>,
}

impl Transport for HostTransport {
    fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> LocalFuture<'_, Result<http::Response<Vec<u8>>, TransportError>> {
        Box::pin(async move {
            let mut timeout = request.extensions().get::<Timeout>().map_or(self.timeout, |t| t.0);
            if let Some(deadline) = self.deadline {
                timeout = timeout.min(deadline.duration_since(now()).unwrap_or(Duration::ZERO));
            }
            if timeout.is_zero() {
                return Err(TransportError("the request's deadline has passed".into()));
            }
            match perform(Op::Send { request, timeout, keep: self.keep }).await {
                Done::Sent(answer) => answer,
                _ => Err(TransportError("the host answered another operation".into())),
            }
        })
    }
}

/// Signatures through the host: each call is an [`Op::Crypto`] the host's Web Crypto performs
/// (`crypto.subtle`, native code), a key imported once per isolate under its id.
#[cfg(cold)]
#[derive(Debug, Clone, Copy, Default)]
pub struct HostCrypto;

#[cfg(cold)]
impl HostCrypto {
    async fn perform(op: CryptoOp) -> Result<Vec<u8>, CryptoError> {
        let kind = op.kind.name();
        match perform(Op::Crypto(op)).await {
            Done::Crypto(answer) => answer.map_err(|e| CryptoError(format!("{kind}: {e}"))),
            _ => Err(CryptoError("the host answered another operation".into())),
        }
    }

    fn op(kind: CryptoKind, alg: Alg, key_id: &str, key: (&'static str, Vec<u8>)) -> CryptoOp {
        CryptoOp {
            kind,
            alg,
            key_id: key_id.to_string(),
            format: key.0,
            key: key.1,
            data: Vec::new(),
            signature: Vec::new(),
        }
    }
}

/// How a private key crosses: a JWK as JSON, a seed as PKCS#8.
#[cfg(cold)]
fn private_key(key: &PrivateKey) -> (&'static str, Vec<u8>) {
    match &key.material {
        Material::Jwk(jwk) => ("jwk", serde_json::to_vec(jwk).unwrap_or_default()),
        Material::Seed(seed) => ("pkcs8", crate::platform::signature::ed25519_pkcs8(seed)),
    }
}

#[cfg(cold)]
fn jwk_answer(bytes: Result<Vec<u8>, CryptoError>) -> Result<KeyJwk, CryptoError> {
    serde_json::from_slice(&bytes?).map_err(|e| CryptoError(format!("the host's JWK: {e}")))
}

#[cfg(cold)]
impl Crypto for HostCrypto {
    fn sign<'a>(&'a self, key: &'a PrivateKey, data: &'a [u8]) -> LocalFuture<'a, Result<Vec<u8>, CryptoError>> {
        Box::pin(async move {
            let op = CryptoOp { data: data.to_vec(), ..Self::op(CryptoKind::Sign, key.alg, &key.id, private_key(key)) };
            Self::perform(op).await
        })
    }

    fn verify<'a>(
        &'a self,
        key: &'a PublicKey,
        data: &'a [u8],
        signature: &'a [u8],
    ) -> LocalFuture<'a, Result<bool, CryptoError>> {
        Box::pin(async move {
            let jwk = ("jwk", serde_json::to_vec(&key.jwk).unwrap_or_default());
            let op = CryptoOp {
                data: data.to_vec(),
                signature: signature.to_vec(),
                ..Self::op(CryptoKind::Verify, key.alg, &key.id, jwk)
            };
            Ok(Self::perform(op).await? == [1])
        })
    }

    fn generate(&self, alg: Alg) -> LocalFuture<'_, Result<KeyJwk, CryptoError>> {
        Box::pin(
            async move { jwk_answer(Self::perform(Self::op(CryptoKind::Generate, alg, "", ("", Vec::new()))).await) },
        )
    }

    fn public_jwk<'a>(&'a self, key: &'a PrivateKey) -> LocalFuture<'a, Result<KeyJwk, CryptoError>> {
        Box::pin(async move {
            // Exported from a copy imported for the purpose (extractable: the one kept is not).
            let op = Self::op(CryptoKind::Public, key.alg, "", private_key(key));
            jwk_answer(Self::perform(op).await).map(|jwk| jwk.public())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ops<T>(step: Step<T>) -> Vec<(u32, Op)> {
        match step {
            Step::Waiting(ops) => ops,
            Step::Done(_) => panic!("expected the task to wait"),
        }
    }

    fn send(path: &str) -> Op {
        let request = http::Request::builder().uri(path).body(Vec::new()).unwrap_or_default();
        Op::Send { request, timeout: Duration::from_secs(1), keep: &[] }
    }

    fn answer(status: u16) -> Done {
        let mut r = http::Response::new(Vec::new());
        *r.status_mut() = http::StatusCode::from_u16(status).unwrap_or_default();
        Done::Sent(Ok(r))
    }

    #[test]
    fn sequential_operations_one_step_each() {
        let mut task = Task::new(1, async {
            let Done::Sent(Ok(a)) = perform(send("/a")).await else { return Vec::new() };
            let Done::Slept = perform(Op::Sleep(Duration::from_millis(5))).await else { return Vec::new() };
            let Done::Sent(Ok(b)) = perform(send("/b")).await else { return Vec::new() };
            vec![a.status().as_u16(), b.status().as_u16()]
        });
        let first = ops(task.poll());
        assert_eq!(first.len(), 1);
        assert!(matches!(&first[0].1, Op::Send { request: r, .. } if r.uri() == "/a"));
        // Polling again before the host answers changes nothing and queues nothing new.
        assert!(ops(task.poll()).is_empty());
        complete(first[0].0, answer(201));
        let second = ops(task.poll());
        assert!(matches!(second[..], [(_, Op::Sleep(d))] if d == Duration::from_millis(5)));
        complete(second[0].0, Done::Slept);
        let third = ops(task.poll());
        assert!(matches!(&third[0].1, Op::Send { request: r, .. } if r.uri() == "/b"));
        complete(third[0].0, answer(404));
        assert!(matches!(task.poll(), Step::Done(v) if v == vec![201, 404]));
    }

    #[test]
    fn concurrent_operations_and_tasks_keep_their_answers_apart() {
        let both = async {
            let (a, b) = (perform(send("/x")), perform(Op::ReadBody));
            let (a, b) = join(a, b).await;
            matches!(a, Done::Sent(Err(_))) && matches!(b, Done::Body(Ok(ref v)) if v == b"hi")
        };
        let mut one = Task::new(2, both);
        let mut other =
            Task::new(3, async { matches!(perform(Op::ReadBody).await, Done::Body(Ok(v)) if v.is_empty()) });
        let ops_one = ops(one.poll());
        let ops_other = ops(other.poll());
        assert_eq!(ops_one.len(), 2, "both operations of the join are asked for at once");
        assert_eq!(ops_other.len(), 1);
        // Answers arrive out of order and interleaved between the tasks.
        complete(ops_other[0].0, Done::Body(Ok(Vec::new())));
        complete(ops_one[1].0, Done::Body(Ok(b"hi".to_vec())));
        assert!(ops(one.poll()).is_empty(), "still waiting for the send");
        assert!(matches!(other.poll(), Step::Done(true)));
        complete(ops_one[0].0, Done::Sent(Err(TransportError("reset".into()))));
        assert!(matches!(one.poll(), Step::Done(true)));
    }

    #[test]
    fn the_clock_is_the_hosts() {
        set_now(1_800_000_000_123);
        assert_eq!(now(), UNIX_EPOCH + Duration::from_millis(1_800_000_000_123));
    }

    /// Both futures to completion, polled in turn (enough for a test).
    async fn join<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
        let (mut a, mut b) = (Box::pin(a), Box::pin(b));
        let (mut ra, mut rb) = (None, None);
        std::future::poll_fn(move |cx| {
            if ra.is_none()
                && let Poll::Ready(v) = a.as_mut().poll(cx)
            {
                ra = Some(v);
            }
            if rb.is_none()
                && let Poll::Ready(v) = b.as_mut().poll(cx)
            {
                rb = Some(v);
            }
            match (ra.take(), rb.take()) {
                (Some(x), Some(y)) => Poll::Ready((x, y)),
                (x, y) => {
                    (ra, rb) = (x, y);
                    Poll::Pending
                }
            }
        })
        .await
    }
}
