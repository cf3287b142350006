//! The limits on repeated attempts (wrong query codes, sign-in failures) and the keys they count
//! under. The counts live in the store ([`AttemptStore`]), so that every instance of the
//! application — several Lambda instances, or the one embedded process — enforces one limit.

use crate::error::AppError;
use crate::ports::AttemptStore;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// At most `max` attempts; the count is forgotten once `window` passes without a counted attempt.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub max: u32,
    pub window: Duration,
}

/// Wrong query codes, per case number and per client address: 5 in 15 minutes.
pub const QUERY_CODE: Limit = Limit { max: 5, window: Duration::from_secs(15 * 60) };
/// Sign-ins per user name: 5 wrong passwords lock the name until 15 minutes after the first.
pub const SIGN_IN: Limit = Limit { max: 5, window: Duration::from_secs(15 * 60) };
/// Wrong sign-ins per client address, whatever the names: 20 in 15 minutes (guessing one password
/// over many names, or locking many accounts from one place).
pub const SIGN_IN_CLIENT: Limit = Limit { max: 20, window: Duration::from_secs(15 * 60) };

/// Longest raw value kept readable in a key; longer ones (anything an attacker types) are hashed.
const MAX_RAW: usize = 64;

/// The key of a limit: `<kind>:<value>`, bounded in length whatever the value — a value longer than
/// 64 bytes, or with characters other than printable ASCII, is replaced by its SHA-256 (128 bits).
pub fn key(kind: &str, value: &str) -> String {
    if value.len() <= MAX_RAW && value.bytes().all(|b| b.is_ascii_graphic()) {
        format!("{kind}:{value}")
    } else {
        format!("{kind}#{}", &hex::encode(Sha256::digest(value.as_bytes()))[..32])
    }
}

/// Takes one attempt under every key, or none (`AttemptStore::take_all`): `RateLimited` when one key
/// is at its limit.
pub async fn take_all(
    store: &dyn AttemptStore,
    keys: &[String],
    limit: Limit,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    match store.take_all(keys, limit.max, limit.window, now).await? {
        true => Ok(()),
        false => Err(AppError::RateLimited),
    }
}

/// Gives back one attempt under each key (the attempt succeeded). A failure only leaves the attempt
/// counted, which errs on the safe side, so it is logged and not passed on.
pub async fn give_back_all(store: &dyn AttemptStore, keys: &[String]) {
    if let Err(e) = store.give_back_each(keys).await {
        tracing::warn!(error = %e, "attempt not given back");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_bounded_and_distinct() {
        assert_eq!(key("n", "GA202611300001"), "n:GA202611300001");
        let long = "9".repeat(10_000);
        let k = key("n", &long);
        assert!(k.len() <= 40, "{k}");
        assert_ne!(k, key("n", &"9".repeat(9_999)));
        // Non-ASCII and spaces are hashed too, so no key carries text a person typed.
        assert!(key("login", "张三").starts_with("login#"));
        assert!(key("login", "a b").starts_with("login#"));
        assert_ne!(key("login", "x"), key("n", "x"));
    }
}
