//! Abuse budgets: how many login starts and verifies one email, one (email, client address),
//! one client address and one tenant may make per window, and how many wrong codes one email may
//! take per day, across all of its logins.
//!
//! Each budget is a fixed-window counter item (`keys::budget`, its `ttl` the window's end). A
//! spend is a transaction part that adds one on condition that the count is below the limit, so
//! the budgets of one request are spent together with what they guard, all or nothing, and a
//! request over any of them changes nothing. Retry-After is the time to the window's end.
//!
//! Rate buckets use [`Email::bucket`] (lowercase, `+tag` dropped), so `Ann+1@x` and `ann@x` share
//! one; identity keeps the exact address. Client addresses are `CF-Connecting-IP`, IPv6 by its
//! /64 (one subscriber's block).

use std::net::IpAddr;

use crate::dynamo::{Cancelled, ConditionCheck, DynamoError, Expr, TransactItem, Transaction, TxError};
use crate::email::Email;
use crate::ids::TenantId;
use crate::keys;
use crate::runtime::Random;
use crate::store::Store;

const DAY: i64 = 86_400;

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
    /// Wrong codes per email per day, across all of its logins.
    pub failures_per_email: u32,
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
            failures_per_email: 50,
            window_secs: 900,
        }
    }
}

/// The most one in how many a day's guessing may succeed (1 in 10,000).
pub const GUESS_ODDS: u64 = 10_000;

impl Limits {
    /// The budgets one login start spends.
    pub fn start(&self, email: &Email, ip: &str) -> Vec<Budget> {
        let bucket = email.bucket();
        vec![
            self.budget("start_email_ip", format!("{bucket}|{ip}"), self.start_per_email_ip),
            self.budget("start_email", bucket, self.start_per_email),
            self.budget("start_ip", ip.to_string(), self.start_per_ip),
            self.budget("start_tenant", "all".into(), self.start_per_tenant),
        ]
    }

    /// The budgets every verify spends.
    pub fn verify(&self, ip: &str) -> Vec<Budget> {
        vec![
            self.budget("verify_ip", ip.to_string(), self.verify_per_ip),
            self.budget("verify_tenant", "all".into(), self.verify_per_tenant),
        ]
    }

    /// The wrong-code budget of `email` (spent by a wrong code, checked by a right one).
    pub fn failures(&self, email: &Email) -> Budget {
        Budget { kind: "verify_failures", subject: email.bucket(), limit: self.failures_per_email, window_secs: DAY }
    }

    fn budget(&self, kind: &'static str, subject: String, limit: u32) -> Budget {
        Budget { kind, subject, limit, window_secs: self.window_secs }
    }

    /// How many codes one email can be guessed at in a day: the wrong-code budget, or fewer when
    /// the codes it can get times their attempts are fewer.
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

/// One counter: at most `limit` per `window_secs` for `subject`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    pub kind: &'static str,
    pub subject: String,
    pub limit: u32,
    pub window_secs: i64,
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
            _ => "too many wrong codes were tried for this email",
        };
        format!("{what}; retry in {} s", self.retry_after)
    }
}

impl Budget {
    fn window(&self, now: i64) -> (i64, i64) {
        let start = now - now.rem_euclid(self.window_secs.max(1));
        (start, start + self.window_secs)
    }

    /// Seconds until this window ends (at least 1).
    pub fn retry_after(&self, now: i64) -> u64 {
        u64::try_from(self.window(now).1 - now).unwrap_or(1).max(1)
    }

    fn keys(&self, tenant: &TenantId, now: i64) -> keys::Keys {
        keys::budget(tenant, self.kind, &self.subject, self.window(now).0)
    }

    fn below_limit(&self, e: &mut Expr) -> String {
        let count = e.name("count");
        format!("{} OR {count} < {}", e.not_exists("count"), e.num(i64::from(self.limit)))
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

    /// The part that only checks that one unit is left.
    pub fn check(&self, store: &Store<'_>, tenant: &TenantId, now: i64) -> TransactItem {
        let mut e = Expr::new();
        let cond = self.below_limit(&mut e);
        let key = self.keys(tenant, now).key(store.schema);
        TransactItem::ConditionCheck(ConditionCheck::new(&store.schema.table, key, cond, e))
    }
}

/// The first of `budgets` (parts named by their kind) that a cancelled transaction found spent.
pub fn exceeded<'a>(
    cancelled: &Cancelled,
    budgets: impl IntoIterator<Item = &'a Budget>,
    now: i64,
) -> Option<Exceeded> {
    budgets
        .into_iter()
        .find(|b| cancelled.failed(b.kind))
        .map(|b| Exceeded { kind: b.kind, retry_after: b.retry_after(now) })
}

/// Spends one unit of each of `budgets` in one transaction (idempotent on retry by its token):
/// `Ok(Err(..))` names the first that had none left, and then none was spent.
pub async fn spend(
    store: &Store<'_>,
    random: &dyn Random,
    tenant: &TenantId,
    budgets: &[Budget],
    now: i64,
) -> Result<Result<(), Exceeded>, DynamoError> {
    let mut tx = Transaction::new(random.request_token());
    for b in budgets {
        tx.add(b.kind, b.spend(store, tenant, now));
    }
    match store.transact(&tx).await {
        Ok(()) => Ok(Ok(())),
        Err(TxError::Cancelled(c)) => match exceeded(&c, budgets, now) {
            Some(exceeded) => Ok(Err(exceeded)),
            None => Err(TxError::Cancelled(c).into()),
        },
        Err(TxError::Db(e)) => Err(e),
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
        let b = Budget { kind: "start_ip", subject: "x".into(), limit: 1, window_secs: 900 };
        assert_eq!(b.window(1_800_000_000), (1_800_000_000, 1_800_000_900));
        assert_eq!(b.retry_after(1_800_000_300), 600);
        assert_eq!(b.retry_after(1_800_000_899), 1);
        assert_eq!(b.retry_after(1_800_000_900), 900, "a new window");
    }

    #[test]
    fn the_guessing_budget_is_one_in_ten_thousand_a_day() {
        let limits = Limits::default();
        // 50 wrong codes a day against a million codes: 1 in 20,000.
        assert_eq!(limits.guesses_per_day(5), 50);
        assert_eq!(limits.check_guessing(6, 20), Ok(()));
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
}
