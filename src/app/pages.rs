//! A list's pages: the page a caller asks for (a size and the cursor an earlier page gave out)
//! and the page it gets (the items and the cursor of the next one). Cursors are opaque, signed
//! with `TOKEN_SECRET` and bound to their list ([`crate::table::cursor`]).

use crate::app::{ApiError, Ctx};
use crate::dynamo::Item;
use crate::table::cursor;
use crate::values::codes::ErrorCode;

/// The page asked for: at most `limit` items, after the place `cursor` marks (none: the first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub limit: u32,
    pub cursor: Option<String>,
}

impl Page {
    /// The first page of `limit` items.
    pub fn first(limit: u32) -> Self {
        Self { limit, cursor: None }
    }

    /// Where the page starts in the list `scope`: 400 `invalid_cursor` for a cursor this list did
    /// not give out.
    pub(crate) fn start(&self, ctx: &Ctx<'_>, scope: &str) -> Result<Option<Item>, ApiError> {
        match self.cursor.as_deref().filter(|c| !c.is_empty()) {
            None => Ok(None),
            Some(c) => cursor::decode(ctx.token_secret(), scope, c).map(Some).ok_or_else(|| {
                ApiError::bad_request(
                    ErrorCode::InvalidCursor,
                    "the cursor is not one this list gave out; start again without it",
                )
            }),
        }
    }
}

/// A page of a list: its items and, when there are more, the cursor of the next page.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Listed<T> {
    /// The page read from the table: `next`, the key to go on from, made a cursor of `scope`.
    pub(crate) fn of(ctx: &Ctx<'_>, scope: &str, (items, next): (Vec<T>, Option<Item>)) -> Self {
        Self { items, next_cursor: next.map(|k| cursor::encode(ctx.token_secret(), scope, &k)) }
    }
}
