//! Domain services: the rules of the inbox, contacts, accounts and settings. They know neither axum nor
//! SQL; they check roles and input, then call the store, whose methods are transactions.

pub mod access;
pub mod accounts;
pub mod assignment;
pub mod auto_close;
pub mod channels;
pub mod committer;
pub mod contacts;
pub mod conversations;
pub mod export;
pub mod exports;
pub mod inbound;
pub mod inbox;
pub mod inboxes;
pub mod media;
pub mod outbound;
pub mod plugins;
pub mod polling;
pub mod realtime;
pub mod search;
pub mod seed;
pub mod settings;
pub mod start;
pub mod templates;
pub mod typing;
pub mod validate;
pub mod variables;
pub mod widget;
pub mod window;
pub mod workflows;

use crate::error::{AppError, AppResult};
use crate::model::{Actor, Cursor, PageRequest, Principal, Role};

/// Refuses the call unless the caller's role is at least `role`.
pub fn require(who: &Principal, role: Role) -> AppResult<()> {
    if who.role >= role {
        Ok(())
    } else {
        Err(AppError::forbidden(format!("this action needs the {} role or higher", role.as_str())))
    }
}

/// The actor recorded for changes made by this caller.
pub fn actor(who: &Principal) -> Actor {
    Actor::user(who.user_id)
}

/// Builds a page request from the query parameters `cursor` and `limit`.
pub fn page(cursor: Option<&str>, limit: Option<u32>) -> AppResult<PageRequest> {
    let after = match cursor.filter(|c| !c.is_empty()) {
        Some(c) => {
            Some(Cursor::decode(c).ok_or_else(|| AppError::validation("cursor", "is not a cursor from this API"))?)
        }
        None => None,
    };
    let limit = limit.unwrap_or(Cursor::DEFAULT_LIMIT);
    if limit == 0 || limit > Cursor::MAX_LIMIT {
        return Err(AppError::validation("limit", format!("must be between 1 and {}", Cursor::MAX_LIMIT)));
    }
    Ok(PageRequest { after, limit })
}

pub use crate::model::double_option;
