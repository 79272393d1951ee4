//! Abuse budgets: how many login starts and verifies one email, one (email, client address),
//! one client address and one tenant may make per window, and how many codes may be tried for one
//! email per day, across all of its logins, from one address and from all of them.
//!
//! The wrong-code budgets are spent before a code is compared, as the login's attempt is (see
//! [`crate::domain::login`]): every comparison holds a unit of them, so however many verifies are in
//! flight, no more codes are compared than the budgets allow. A right code gives its unit back in
//! the transaction that consumes the login.
//!
//! Each budget is a fixed-window counter item (`keys::budget`, its `ttl` the window's end). A
//! spend is a transaction part that adds one on condition that the count is below the limit, so
//! the budgets of one request are spent together with what they guard, all or nothing, and a
//! request over any of them changes nothing. Retry-After is the time to the window's end.
//!
//! A tenant's counters take every start (or verify) of the tenant, so they are split over up to
//! [`MAX_SHARDS`] items, each with its share of the limit ([`Budget::share`]): a request spends
//! on one chosen at random, and on one other when that one is full; only when both are full is
//! the tenant's budget spent. No single item takes every write of a tenant (DynamoDB cancels
//! overlapping transactions on one item, and one item takes at most about 1,000 writes a second).
//!
//! Only a part's failed condition (`ConditionalCheckFailed`) means its budget is spent; a
//! transaction that lost a race with another ([`crate::dynamo::Client::transact`] sends it
//! again) never reads as one.
//!
//! Rate buckets use [`Email::bucket`] (lowercase, `+tag` dropped), so `Ann+1@x` and `ann@x` share
//! one; identity keeps the exact address. Client addresses are `CF-Connecting-IP`, IPv6 by its
//! /64 (one subscriber's block).

use std::net::IpAddr;

use crate::dynamo::{Cancelled, DynamoError, Expr, TransactItem, Transaction, TxError};
use crate::platform::runtime::{Random, random_u64};
use crate::table::keys;
use crate::table::store::Store;
use crate::values::email::Email;
use crate::values::ids::TenantId;

const DAY: i64 = 86_400;

/// The most items a tenant's counter is split over.
pub const MAX_SHARDS: u32 = 16;
/// The least share of a limit one shard holds: smaller limits use fewer shards (a limit under
/// twice this is one item), so that a shard found full means the budget is nearly spent.
pub const MIN_SHARE: u32 = 64;

/// The budgets a deployment grants (configuration: `LOGIN_*`, `VERIFY_*`, `TENANT_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Codes per (email, client address) per window.
    pub start_per_email_ip: u32,
    /// Codes per email per window, whatever the address: the ceiling a third party spreading
    /// over addresses runs into, set above `start_per_email_ip` so that one address alone cannot
    /// lock a victim out.
    pub start_per_email: u32,
    pub start_per_ip: u32,
    pub start_per_tenant: u32,
    pub verify_per_ip: u32,
    pub verify_per_tenant: u32,
    /// Wrong codes per (email, client address) per day, across the email's logins.
    pub failures_per_email_ip: u32,
    /// Wrong codes per email per day, whatever the address: the ceiling that bounds guessing,
    /// set several times above `failures_per_email_ip` so that one address alone cannot lock a
    /// victim out.
    pub failures_per_email: u32,
    /// Failed client authentications (wrong secrets) per (client, client address) per window.
    pub client_auth_failures_per_ip: u32,
    /// Failed client authentications per client per window, whatever the address: the ceiling,
    /// set several times above the per-address one so that one address alone cannot lock the
    /// rightful client out.
    pub client_auth_failures: u32,
    pub window_secs: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            start_per_email_ip: 5,
            start_per_email: 20,
            start_per_ip: 50,
            start_per_tenant: 10_000,
            verify_per_ip: 100,
            verify_per_tenant: 20_000,
            failures_per_email_ip: 10,
            failures_per_email: 100,
            client_auth_failures_per_ip: 20,
            client_auth_failures: 200,
            window_secs: 900,
        }
    }
}

/// The most one in how many a day's guessing may succeed (1 in 10,000).
pub const GUESS_ODDS: u64 = 10_000;

impl Limits {
    /// The budgets one login start spends (the tenant's on a shard drawn from `random`).
    pub fn start(&self, email: &Email, ip: &str, random: &dyn Random) -> Vec<Budget> {
        let bucket = email.bucket();
        vec![
            self.budget("start_email_ip", format!("{bucket}|{ip}"), self.start_per_email_ip),
            self.budget("start_email", bucket, self.start_per_email),
            self.budget("start_ip", ip.to_string(), self.start_per_ip),
            self.budget("start_tenant", "all".into(), self.start_per_tenant).sharded(random),
        ]
    }

    /// The budgets every verify spends (the tenant's on a shard drawn from `random`).
    pub fn verify(&self, ip: &str, random: &dyn Random) -> Vec<Budget> {
        vec![
            self.budget("verify_ip", ip.to_string(), self.verify_per_ip),
            self.budget("verify_tenant", "all".into(), self.verify_per_tenant).sharded(random),
        ]
    }

    /// The wrong-code budgets of `email` from `ip` (one unit of each is held by every code
    /// compared, and given back by a right one).
    pub fn failures(&self, email: &Email, ip: &str) -> [Budget; 2] {
        let bucket = email.bucket();
        [
            Budget::new("verify_failures_ip", format!("{bucket}|{ip}"), self.failures_per_email_ip, DAY),
            Budget::new("verify_failures", bucket, self.failures_per_email, DAY),
        ]
    }

    /// The wrong-secret budgets of OpenID client `client` from `ip` (per address, then the
    /// ceiling): checked before a secret is compared, a unit of each spent when it was wrong.
    pub fn client_auth(&self, client: &str, ip: &str) -> [Budget; 2] {
        [
            self.budget("client_auth_ip", format!("{client}|{ip}"), self.client_auth_failures_per_ip),
            self.budget("client_auth", client.to_string(), self.client_auth_failures),
        ]
    }

    /// How many distinct client addresses (IPv6: /64 blocks) it takes to spend an email's
    /// wrong-code ceiling for the day, and so keep its owner from logging in until it ends.
    pub fn lockout_addresses(&self) -> u32 {
        self.failures_per_email.div_ceil(self.failures_per_email_ip.max(1))
    }

    fn budget(&self, kind: &'static str, subject: String, limit: u32) -> Budget {
        Budget::new(kind, subject, limit, self.window_secs)
    }

    /// How many codes one email can be guessed at in a day: the wrong-code ceiling, or fewer when
    /// the codes it can get times their attempts are fewer. Concurrency adds nothing: a code is
    /// compared only by a verify holding a unit of the ceiling (and an attempt of its login).
    pub fn guesses_per_day(&self, max_attempts: u32) -> u64 {
        let windows = (DAY + self.window_secs - 1) / self.window_secs.max(1);
        let codes = u64::from(self.start_per_email) * u64::try_from(windows).unwrap_or(1);
        (codes * u64::from(max_attempts)).min(u64::from(self.failures_per_email))
    }

    /// Whether login codes of `length` digits with `max_attempts` keep the chance to guess one
    /// email's code within a day at or under 1 in [`GUESS_ODDS`]; otherwise why not, with the
    /// figure.
    pub fn check_guessing(&self, length: u8, max_attempts: u32) -> Result<(), String> {
        let guesses = self.guesses_per_day(max_attempts);
        let space = 10u64.pow(u32::from(length));
        if guesses.saturating_mul(GUESS_ODDS) <= space {
            return Ok(());
        }
        Err(format!(
            "with length {length} and max_attempts {max_attempts}, {guesses} guesses a day at one email's \
             {length}-digit code succeed with a chance of 1 in {}; at most 1 in {GUESS_ODDS} is allowed: use a \
             longer code (or lower VERIFY_FAILURE_LIMIT)",
            space / guesses.max(1)
        ))
    }
}

/// One counter: at most `limit` per `window_secs` for `subject`, kept in one item or split over
/// `shards` items (the limit shared out), of which this request spends on `shard`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    pub kind: &'static str,
    pub subject: String,
    pub limit: u32,
    pub window_secs: i64,
    pub shards: u32,
    shard: u32,
    /// Whether this request already moved off a full shard (it moves once).
    moved: bool,
}

/// A budget that had nothing left: which, and when its window ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exceeded {
    pub kind: &'static str,
    pub retry_after: u64,
}

impl Exceeded {
    /// What the client is told, by kind.
    pub fn message(&self) -> String {
        let what = match self.kind {
            "start_email_ip" | "start_email" => "too many codes were requested for this email",
            "start_ip" | "verify_ip" => "too many login requests came from this address",
            "start_tenant" | "verify_tenant" => "this site has too many login requests right now",
            "verify_failures_ip" => "too many wrong codes were tried for this email from this address",
            "client_auth_ip" => "too many failed client authentications came from this address for this client",
            "client_auth" => "too many failed client authentications were made for this client",
            _ => "too many wrong codes were tried for this email",
        };
        format!("{what}; retry in {} s", self.retry_after)
    }
}

impl Budget {
    /// A counter in one item.
    pub fn new(kind: &'static str, subject: String, limit: u32, window_secs: i64) -> Self {
        Self { kind, subject, limit, window_secs, shards: 1, shard: 0, moved: false }
    }

    /// The same counter split over as many shards as its limit allows (at most [`MAX_SHARDS`], each
    /// at least [`MIN_SHARE`]), spending on one drawn from `random`.
    #[must_use]
    pub fn sharded(mut self, random: &dyn Random) -> Self {
        self.shards = (self.limit / MIN_SHARE).clamp(1, MAX_SHARDS);
        self.shard = u32::try_from(random_u64(random) % u64::from(self.shards)).unwrap_or(0);
        self
    }

    /// The part of the limit shard `shard` holds: the limit shared out evenly, the remainder to
    /// the first shards, so the shares add up to the limit.
    pub fn share(&self, shard: u32) -> u32 {
        self.limit / self.shards + u32::from(shard < self.limit % self.shards)
    }

    /// After this request's shard was found full: moves to another one drawn from `random`, once.
    /// `false` when there is no other, or it moved already (the budget is spent).
    fn move_shard(&mut self, random: &dyn Random) -> bool {
        if self.shards < 2 || self.moved {
            return false;
        }
        let step = 1 + random_u64(random) % u64::from(self.shards - 1);
        self.shard = u32::try_from((u64::from(self.shard) + step) % u64::from(self.shards)).unwrap_or(0);
        self.moved = true;
        true
    }

    fn window(&self, now: i64) -> (i64, i64) {
        let start = now - now.rem_euclid(self.window_secs.max(1));
        (start, start + self.window_secs)
    }

    /// Seconds until this window ends (at least 1).
    pub fn retry_after(&self, now: i64) -> u64 {
        u64::try_from(self.window(now).1 - now).unwrap_or(1).max(1)
    }

    fn keys(&self, tenant: &TenantId, now: i64) -> keys::Keys {
        let start = self.window(now).0;
        if self.shards > 1 {
            keys::budget(tenant, self.kind, &format!("{}.{}", self.subject, self.shard), start)
        } else {
            keys::budget(tenant, self.kind, &self.subject, start)
        }
    }

    fn below_limit(&self, e: &mut Expr) -> String {
        let count = e.name("count");
        format!("{} OR {count} < {}", e.not_exists("count"), e.num(i64::from(self.share(self.shard))))
    }

    /// How much of this budget is spent in the current window (of this request's shard), by an
    /// eventually consistent read.
    pub async fn count(&self, store: &Store<'_>, tenant: &TenantId, now: i64) -> Result<i64, DynamoError> {
        #[derive(serde::Deserialize)]
        struct Count {
            #[serde(default)]
            count: i64,
        }
        let counted: Option<Count> = store.get(&self.keys(tenant, now), false).await?;
        Ok(counted.map_or(0, |c| c.count))
    }

    /// `Some` when `count` leaves nothing of this budget at `now`.
    pub fn exceeded(&self, count: i64, now: i64) -> Option<Exceeded> {
        (count >= i64::from(self.share(self.shard)))
            .then(|| Exceeded { kind: self.kind, retry_after: self.retry_after(now) })
    }

    /// The part that spends one unit, on condition that one is left.
    pub fn spend(&self, store: &Store<'_>, tenant: &TenantId, now: i64) -> TransactItem {
        let mut e = Expr::new();
        let cond = self.below_limit(&mut e);
        let update = format!(
            "ADD {} {} SET {} = {}, {} = {}",
            e.name("count"),
            e.num(1),
            e.name("ttl"),
            e.num(self.window(now).1),
            e.name("type"),
            e.str("budget")
        );
        TransactItem::Update(store.update(&self.keys(tenant, now), update, Some(cond), e))
    }

    /// The part that gives back the unit this request spent (in the same window: a request has
    /// one `now`).
    pub fn refund(&self, store: &Store<'_>, tenant: &TenantId, now: i64) -> TransactItem {
        let mut e = Expr::new();
        let update =
            format!("ADD {} {} SET {} = {}", e.name("count"), e.num(-1), e.name("ttl"), e.num(self.window(now).1));
        TransactItem::Update(store.update(&self.keys(tenant, now), update, None, e))
    }
}

/// What a cancelled transaction says about the budgets it spent (parts named by their kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// This budget had nothing left.
    Spent(Exceeded),
    /// Only a tenant counter's shard was full: another was chosen; send the transaction again.
    Moved,
}

/// Why `cancelled` was refused by one of `budgets`, if it was: the first whose part found nothing
/// left ([`Refusal::Spent`]), unless every such part was a shard that can still move to another
/// ([`Refusal::Moved`]). `None` when no budget's condition failed (a conflict is not a refusal).
pub fn refusal<'a>(
    cancelled: &Cancelled,
    budgets: impl IntoIterator<Item = &'a mut Budget>,
    random: &dyn Random,
    now: i64,
) -> Option<Refusal> {
    let mut moved = false;
    for b in budgets {
        if !cancelled.condition_failed(b.kind) {
            continue;
        }
        if !b.move_shard(random) {
            return Some(Refusal::Spent(Exceeded { kind: b.kind, retry_after: b.retry_after(now) }));
        }
        moved = true;
    }
    moved.then_some(Refusal::Moved)
}

/// Spends one unit of each of `budgets` in one transaction (idempotent on retry by its token;
/// sent again on another shard when a tenant counter's shard was full): `Ok(Err(..))` names the
/// first that had none left, and then none was spent.
pub async fn spend(
    store: &Store<'_>,
    random: &dyn Random,
    tenant: &TenantId,
    budgets: &mut [Budget],
    now: i64,
) -> Result<Result<(), Exceeded>, DynamoError> {
    loop {
        let mut tx = Transaction::new(random.request_token());
        for b in budgets.iter() {
            tx.add(b.kind, b.spend(store, tenant, now));
        }
        match store.transact(&tx).await {
            Ok(()) => return Ok(Ok(())),
            Err(TxError::Cancelled(c)) => match refusal(&c, budgets.iter_mut(), random, now) {
                Some(Refusal::Spent(exceeded)) => return Ok(Err(exceeded)),
                Some(Refusal::Moved) => {}
                None => return Err(TxError::Cancelled(c).into()),
            },
            Err(TxError::Db(e)) => return Err(e),
        }
    }
}

/// The budget subject of a client address: IPv4 as it is, IPv6 by its /64, and `unknown` when
/// there is none (local development, tests).
pub fn client_subject(raw: Option<&str>) -> String {
    match raw.map(str::trim).and_then(|r| r.parse::<IpAddr>().ok()) {
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        None => "unknown".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_subjects() {
        assert_eq!(client_subject(Some(" 192.0.2.7 ")), "192.0.2.7");
        assert_eq!(client_subject(Some("2001:db8:1:2:3:4:5:6")), "2001:db8:1:2::/64");
        assert_eq!(client_subject(Some("2001:db8:1:2:ffff::1")), "2001:db8:1:2::/64", "one /64, one budget");
        assert_eq!(client_subject(Some("::ffff:192.0.2.7")), "192.0.2.7");
        assert_eq!(client_subject(Some("1.2.3.4, 5.6.7.8")), "unknown");
        assert_eq!(client_subject(None), "unknown");
    }

    #[test]
    fn windows_and_retry_after() {
        let b = Budget::new("start_ip", "x".into(), 1, 900);
        assert_eq!(b.window(1_800_000_000), (1_800_000_000, 1_800_000_900));
        assert_eq!(b.retry_after(1_800_000_300), 600);
        assert_eq!(b.retry_after(1_800_000_899), 1);
        assert_eq!(b.retry_after(1_800_000_900), 900, "a new window");
    }

    #[test]
    fn the_guessing_budget_is_one_in_ten_thousand_a_day() {
        let limits = Limits::default();
        // 100 wrong codes a day against a million codes: 1 in 10,000, the most allowed.
        assert_eq!(limits.guesses_per_day(5), 100);
        assert_eq!(limits.check_guessing(6, 20), Ok(()));
        assert_eq!(limits.lockout_addresses(), 10, "10 wrong codes per address, 100 per email");
        assert_eq!(Limits { failures_per_email_ip: 30, ..limits }.lockout_addresses(), 4);
        // At exactly 1 in 10,000 it is allowed; one guess more is not.
        let at = Limits { failures_per_email: 100, ..limits };
        assert_eq!(at.check_guessing(6, 5), Ok(()));
        let over = Limits { failures_per_email: 101, ..limits };
        assert_eq!(
            over.check_guessing(6, 5),
            Err("with length 6 and max_attempts 5, 101 guesses a day at one email's 6-digit code succeed with a \
                 chance of 1 in 9900; at most 1 in 10000 is allowed: use a longer code (or lower VERIFY_FAILURE_LIMIT)"
                .into())
        );
        assert_eq!(over.check_guessing(7, 5), Ok(()), "a longer code");
        // Few codes a day with one attempt each bound it below the wrong-code budget.
        let few = Limits { failures_per_email: 10_000, start_per_email: 1, window_secs: 86_400, ..limits };
        assert_eq!(few.guesses_per_day(20), 20);
        assert_eq!(few.check_guessing(6, 20), Ok(()));
    }

    #[test]
    fn tenant_counters_are_shared_out_over_shards() {
        let rt = crate::testing::fakes::ManualRuntime::new(0, 3);
        let shards = |limit| Budget::new("start_tenant", "all".into(), limit, 900).sharded(&rt).shards;
        assert_eq!((shards(3), shards(127), shards(128), shards(1_000), shards(10_000)), (1, 1, 2, 15, 16));
        let b = Budget::new("start_tenant", "all".into(), 10_000, 900).sharded(&rt);
        let shares: Vec<u32> = (0..b.shards).map(|i| b.share(i)).collect();
        assert_eq!(shares.iter().sum::<u32>(), 10_000, "{shares:?}");
        assert_eq!((shares[0], shares[15]), (625, 625));
        let odd = Budget::new("start_tenant", "all".into(), 1_000, 900).sharded(&rt);
        assert_eq!((odd.share(0), odd.share(9), odd.share(10), odd.share(14)), (67, 67, 66, 66));
        assert_eq!((0..15).map(|i| odd.share(i)).sum::<u32>(), 1_000);
        // Draws spread over the shards.
        let mut seen = [0u32; 16];
        for _ in 0..1_600 {
            seen[usize::try_from(Budget::new("x", "all".into(), 10_000, 900).sharded(&rt).shard).unwrap_or(0)] += 1;
        }
        assert!(seen.iter().all(|&n| (60..140).contains(&n)), "{seen:?}");
    }

    #[test]
    fn a_full_shard_moves_once_and_only_conditions_refuse() {
        use crate::dynamo::{CancellationReason, DeleteItemInput, DynamoError, Item, TransactItem};
        let rt = crate::testing::fakes::ManualRuntime::new(0, 9);
        let part = || TransactItem::Delete(DeleteItemInput::new("t", Item::new()));
        let tx = Transaction::new("tok").with("start_ip", part()).with("start_tenant", part());
        let cancel = |codes: [&str; 2]| {
            let reasons = codes
                .iter()
                .map(|c| CancellationReason { code: Some((*c).to_string()), message: None, item: None })
                .collect();
            match tx.explain(DynamoError::TransactionCanceled { message: String::new(), reasons }) {
                TxError::Cancelled(c) => c,
                other => panic!("{other:?}"),
            }
        };
        let mut budgets = [
            Budget::new("start_ip", "192.0.2.1".into(), 50, 900),
            Budget::new("start_tenant", "all".into(), 10_000, 900).sharded(&rt),
        ];
        let first = budgets[1].shard;
        let full_shard = cancel(["None", "ConditionalCheckFailed"]);
        assert_eq!(refusal(&full_shard, budgets.iter_mut(), &rt, 100), Some(Refusal::Moved));
        assert_ne!(budgets[1].shard, first, "another shard");
        assert_eq!(
            refusal(&full_shard, budgets.iter_mut(), &rt, 100),
            Some(Refusal::Spent(Exceeded { kind: "start_tenant", retry_after: 800 })),
            "two full shards: the tenant's budget is spent"
        );
        let conflict = cancel(["None", "TransactionConflict"]);
        assert_eq!(refusal(&conflict, budgets.iter_mut(), &rt, 100), None, "a lost race spends no budget");
        let ip = cancel(["ConditionalCheckFailed", "None"]);
        assert_eq!(
            refusal(&ip, budgets.iter_mut(), &rt, 100),
            Some(Refusal::Spent(Exceeded { kind: "start_ip", retry_after: 800 }))
        );
    }
}
