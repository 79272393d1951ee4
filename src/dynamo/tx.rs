//! Transactions whose parts have names. DynamoDB reports why a transaction was cancelled as one
//! reason per action, in request order; [`Cancelled`] pairs each reason with the name its part
//! was given, so callers ask "did `login` fail?" instead of counting positions.

use std::fmt;

use super::{CancellationReason, DynamoError, TransactItem, TransactWriteItemsInput};

/// A `TransactWriteItems` being built, part by part.
#[derive(Debug, Clone, PartialEq)]
pub struct Transaction {
    names: Vec<&'static str>,
    input: TransactWriteItemsInput,
}

impl Transaction {
    /// An empty transaction that DynamoDB makes idempotent with `token` (its
    /// `ClientRequestToken`): sent again after a lost answer, it is applied once.
    pub fn new(token: impl Into<String>) -> Self {
        Self {
            names: Vec::new(),
            input: TransactWriteItemsInput { transact_items: Vec::new(), client_request_token: Some(token.into()) },
        }
    }

    /// Adds a part called `name`.
    pub fn add(&mut self, name: &'static str, item: TransactItem) -> &mut Self {
        self.names.push(name);
        self.input.transact_items.push(item);
        self
    }

    /// Adds a part called `name` (builder style).
    pub fn with(mut self, name: &'static str, item: TransactItem) -> Self {
        self.add(name, item);
        self
    }

    /// The same transaction under a new `ClientRequestToken`: for sending it again after DynamoDB
    /// cancelled it (a cancelled transaction applied nothing), so that the new attempt is not
    /// taken for a repeat of the cancelled one.
    pub(crate) fn renewed(&self, token: String) -> Self {
        let mut next = self.clone();
        next.input.client_request_token = Some(token);
        next
    }

    /// The names of the parts, in order.
    pub fn names(&self) -> &[&'static str] {
        &self.names
    }

    pub(crate) fn input(&self) -> &TransactWriteItemsInput {
        &self.input
    }

    /// The error of a failed attempt, with the cancellation reasons named after the parts.
    pub(crate) fn explain(&self, error: DynamoError) -> TxError {
        match error {
            DynamoError::TransactionCanceled { message, reasons } => {
                let parts =
                    self.names.iter().copied().zip(reasons.into_iter().map(Some).chain(std::iter::repeat(None)));
                TxError::Cancelled(Cancelled { message, parts: parts.collect() })
            }
            other => TxError::Db(other),
        }
    }
}

/// Why a transaction did not commit.
#[derive(Debug, Clone, PartialEq)]
pub enum TxError {
    /// DynamoDB cancelled it; the reasons are named after the parts.
    Cancelled(Cancelled),
    /// Anything else (throttling past the deadline, a rejected signature, ...).
    Db(DynamoError),
}

impl TxError {
    /// Another writer got there first (a condition failed or the items were in another
    /// transaction): read again and retry.
    pub fn lost_race(&self) -> bool {
        match self {
            Self::Cancelled(c) => c.only_lost_races(),
            Self::Db(DynamoError::Service { code, .. }) => code == "TransactionConflictException",
            Self::Db(_) => false,
        }
    }
}

impl fmt::Display for TxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cancelled(c) => c.fmt(f),
            Self::Db(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for TxError {}

impl From<DynamoError> for TxError {
    fn from(e: DynamoError) -> Self {
        Self::Db(e)
    }
}

impl From<TxError> for DynamoError {
    /// Back to the plain error (a cancellation with its reasons in order, names dropped).
    fn from(e: TxError) -> Self {
        match e {
            TxError::Db(e) => e,
            TxError::Cancelled(c) => DynamoError::TransactionCanceled {
                message: c.message,
                reasons: c
                    .parts
                    .into_iter()
                    .map(|(_, r)| r.unwrap_or(CancellationReason { code: None, message: None, item: None }))
                    .collect(),
            },
        }
    }
}

/// The cancellation reasons that say nothing about the items: another transaction held one of
/// them, or the table was over its capacity.
const TRANSIENT_REASONS: &[&str] = &["TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"];

/// The reasons of a cancelled transaction, each with the name of its part.
#[derive(Debug, Clone, PartialEq)]
pub struct Cancelled {
    pub message: String,
    /// Every part, with DynamoDB's reason when it gave one.
    pub parts: Vec<(&'static str, Option<CancellationReason>)>,
}

impl Cancelled {
    /// The reason code of part `name` when that part failed (`ConditionalCheckFailed`,
    /// `TransactionConflict`, ...).
    pub fn code(&self, name: &str) -> Option<&str> {
        self.parts.iter().find(|(n, _)| *n == name).and_then(|(_, r)| r.as_ref()?.code.as_deref())
    }

    /// Whether the condition of part `name` was false (`ConditionalCheckFailed`): the one reason
    /// that says something about the item itself. A part that lost a race with another
    /// transaction (`TransactionConflict`) or was throttled says nothing about it.
    pub fn condition_failed(&self, name: &str) -> bool {
        self.code(name) == Some("ConditionalCheckFailed")
    }

    /// Every failure was a failed condition or a conflict with another transaction.
    pub fn only_lost_races(&self) -> bool {
        self.codes().all(|c| matches!(c, "ConditionalCheckFailed" | "TransactionConflict"))
    }

    /// Nothing was wrong with the transaction or its items: every part that failed was in a
    /// conflict with another transaction, or throttled. Sent again (after a wait), it may commit.
    pub fn only_transient(&self) -> bool {
        self.codes().next().is_some() && self.codes().all(|c| TRANSIENT_REASONS.contains(&c))
    }

    fn codes(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|(_, r)| r.as_ref()?.code.as_deref())
    }
}

impl fmt::Display for Cancelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .parts
            .iter()
            .map(|(name, r)| format!("{name}: {}", r.as_ref().and_then(|r| r.code.as_deref()).unwrap_or("None")))
            .collect();
        write!(f, "transaction canceled [{}]: {}", parts.join(", "), self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamo::{DeleteItemInput, Item};

    fn delete() -> TransactItem {
        TransactItem::Delete(DeleteItemInput::new("t", Item::new()))
    }

    fn reason(code: Option<&str>) -> CancellationReason {
        CancellationReason { code: code.map(str::to_string), message: None, item: None }
    }

    #[test]
    fn reasons_are_found_by_name() {
        let tx = Transaction::new("tok").with("login", delete()).with("user", delete()).with("session", delete());
        assert_eq!(tx.names(), ["login", "user", "session"]);
        assert_eq!(tx.input().client_request_token.as_deref(), Some("tok"));
        let e = tx.explain(DynamoError::TransactionCanceled {
            message: "cancelled".into(),
            reasons: vec![reason(None), reason(Some("ConditionalCheckFailed")), reason(None)],
        });
        let TxError::Cancelled(c) = &e else { panic!("{e:?}") };
        assert!(!c.condition_failed("login") && c.condition_failed("user") && !c.condition_failed("session"));
        assert_eq!(c.code("user"), Some("ConditionalCheckFailed"));
        assert!(e.lost_race());
        assert_eq!(
            e.to_string(),
            "transaction canceled [login: None, user: ConditionalCheckFailed, session: None]: cancelled"
        );
    }

    #[test]
    fn other_failures_are_not_races() {
        let tx = Transaction::new("tok").with("a", delete()).with("b", delete());
        let e = tx.explain(DynamoError::TransactionCanceled {
            message: String::new(),
            reasons: vec![reason(Some("ValidationError"))],
        });
        assert!(!e.lost_race(), "a validation error is no race");
        let TxError::Cancelled(c) = &e else { panic!("{e:?}") };
        assert!(!c.condition_failed("b"), "a part without a reason did not fail");
        assert!(!c.only_transient(), "a validation error is not transient");
        let conflict =
            DynamoError::Service { status: 400, code: "TransactionConflictException".into(), message: String::new() };
        assert!(tx.explain(conflict).lost_race());
        assert!(!tx.explain(DynamoError::Transport { message: "reset".into() }).lost_race());
    }

    #[test]
    fn a_conflict_is_not_a_failed_condition() {
        let tx = Transaction::new("tok").with("budget", delete()).with("login", delete());
        let cancelled = |codes: [Option<&str>; 2]| {
            let reasons = codes.iter().map(|c| reason(*c)).collect();
            match tx.explain(DynamoError::TransactionCanceled { message: String::new(), reasons }) {
                TxError::Cancelled(c) => c,
                other => panic!("{other:?}"),
            }
        };
        let conflict = cancelled([Some("TransactionConflict"), None]);
        assert_eq!(conflict.code("budget"), Some("TransactionConflict"));
        assert!(!conflict.condition_failed("budget"), "another transaction on the item says nothing about its count");
        assert!(conflict.only_transient());
        assert!(cancelled([Some("ThrottlingError"), Some("TransactionConflict")]).only_transient());
        let mixed = cancelled([Some("TransactionConflict"), Some("ConditionalCheckFailed")]);
        assert!(!mixed.only_transient(), "a failed condition is an answer");
        assert!(mixed.condition_failed("login") && !mixed.condition_failed("budget"));
        assert!(!cancelled([None, None]).only_transient(), "no reason at all is not a conflict");
        let renewed = tx.renewed("tok2".into());
        assert_eq!(renewed.input().client_request_token.as_deref(), Some("tok2"));
        assert_eq!(renewed.names(), tx.names());
    }
}
