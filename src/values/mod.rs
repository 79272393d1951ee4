//! Value types: the identities and inputs that travel through dynauth, each checked once where it
//! enters (a path, a body, an item read back) and trusted afterwards.
//!
//! May use: `platform` (randomness and hashing for new ids). Used by every layer above.
//!
//! - [`ids`]: tenant, user, session and login ids.
//! - [`email`]: email addresses (normalized; rate buckets without case or `+tag`).
//! - [`host`]: canonical hosts and web origins; [`whatwg`]: the WHATWG host and URL parsers.
//! - [`input`]: JSON input into typed values, errors naming the field.

pub mod codes;
pub mod email;
pub mod host;
pub mod ids;
pub mod input;
pub mod secret;
pub mod whatwg;
