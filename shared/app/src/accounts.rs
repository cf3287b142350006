//! Local staff accounts of the embedded deployment: argon2 password hashes, sessions, lockout.
//! The AWS deployment takes staff identity from the API Gateway JWT authorizer instead; both end in
//! the same [`Actor`], so handlers never read credentials.

use crate::error::AppError;
use crate::ports::StoreResult;
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use mailbox_domain::{Actor, Role, UnitId};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use utoipa::ToSchema;

pub const MAX_FAILED_LOGINS: u32 = 5;
pub const LOCKOUT_MINUTES: i64 = 15;
pub const SESSION_HOURS: i64 = 12;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub role: Role,
    pub unit: Option<UnitId>,
    pub failed_logins: u32,
    pub locked_until: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// SHA-256 of the token; the token itself exists only in the client's cookie or header.
    pub token_hash: String,
    pub username: String,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    async fn account(&self, username: &str) -> StoreResult<Option<Account>>;
    async fn accounts(&self) -> StoreResult<Vec<Account>>;
    /// Inserts or replaces an account.
    async fn put_account(&self, account: &Account) -> StoreResult<()>;
    async fn put_session(&self, session: &Session) -> StoreResult<()>;
    async fn session(&self, token_hash: &str) -> StoreResult<Option<Session>>;
    async fn delete_session(&self, token_hash: &str) -> StoreResult<()>;
}

/// The signed-in staff member, as the HTTP layer sees them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Me {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub unit: Option<String>,
    pub unit_name: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Identity {
    pub actor: Actor,
    pub display_name: String,
    /// Present when the identity came from a session cookie: state-changing requests must echo it.
    pub csrf_token: Option<String>,
}

pub struct LoginOk {
    pub token: String,
    pub csrf_token: String,
    pub account: Account,
}

pub fn hash_password(password: &str) -> String {
    Argon2::default()
        .hash_password(password.as_bytes(), &SaltString::generate(&mut OsRng))
        .expect("argon2 hashing with default parameters")
        .to_string()
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

pub struct LocalAuth {
    pub accounts: Arc<dyn AccountStore>,
}

impl LocalAuth {
    /// Checks a password; five failures in a row lock the account for fifteen minutes.
    pub async fn login(&self, username: &str, password: &str, now: DateTime<Utc>) -> Result<LoginOk, AppError> {
        let bad =
            || AppError::Invalid { code: "bad_credentials", field: None, message: "用户名或密码错误".into() };
        let Some(mut account) = self.accounts.account(username).await? else {
            // Spend the same time as a real check, so response times do not reveal which names exist.
            let _ = tokio::task::spawn_blocking(|| verify_password("x", DUMMY_HASH)).await;
            return Err(bad());
        };
        if account.locked_until.is_some_and(|t| t > now) {
            return Err(AppError::Conflict {
                code: "account_locked",
                message: format!("密码错误次数过多，账号已锁定{LOCKOUT_MINUTES}分钟"),
            });
        }
        let hash = account.password_hash.clone();
        let pw = password.to_owned();
        let ok = tokio::task::spawn_blocking(move || verify_password(&pw, &hash))
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?;
        if !ok {
            account.failed_logins += 1;
            if account.failed_logins >= MAX_FAILED_LOGINS {
                account.failed_logins = 0;
                account.locked_until = Some(now + Duration::minutes(LOCKOUT_MINUTES));
                tracing::warn!(user = %account.username, "account locked after repeated failed logins");
            }
            self.accounts.put_account(&account).await?;
            return Err(bad());
        }
        if account.failed_logins > 0 || account.locked_until.is_some() {
            account.failed_logins = 0;
            account.locked_until = None;
            self.accounts.put_account(&account).await?;
        }
        let token = random_token();
        let csrf_token = random_token();
        let session = Session {
            token_hash: token_hash(&token),
            username: account.username.clone(),
            csrf_token: csrf_token.clone(),
            expires_at: now + Duration::hours(SESSION_HOURS),
        };
        self.accounts.put_session(&session).await?;
        Ok(LoginOk { token, csrf_token, account })
    }

    pub async fn logout(&self, token: &str) -> Result<(), AppError> {
        self.accounts.delete_session(&token_hash(token)).await?;
        Ok(())
    }

    /// The identity behind a session token, if it is valid and unexpired.
    pub async fn identify(&self, token: &str, now: DateTime<Utc>) -> Result<Option<Identity>, AppError> {
        let Some(session) = self.accounts.session(&token_hash(token)).await? else { return Ok(None) };
        if session.expires_at <= now {
            self.accounts.delete_session(&session.token_hash).await?;
            return Ok(None);
        }
        let Some(account) = self.accounts.account(&session.username).await? else { return Ok(None) };
        Ok(Some(Identity {
            actor: Actor::staff(account.username.clone(), account.role, account.unit.clone()),
            display_name: account.display_name,
            csrf_token: Some(session.csrf_token),
        }))
    }
}

/// A valid argon2 hash of a random password, used to even out timing for unknown users.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3xjGr2RKNnN0yFBq0fQ8lRKv0RkRfMcm8WS1Nd7HtBc";

#[cfg(test)]
mod tests {
    use super::*;

    /// An unknown user name must cost a real argon2 verification, or response times would reveal
    /// which names exist: the dummy hash has to parse (a parse failure returns at once).
    #[test]
    fn dummy_hash_is_a_valid_argon2_hash() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
        assert!(!verify_password("x", DUMMY_HASH));
        let real = hash_password("correct horse");
        assert!(verify_password("correct horse", &real) && !verify_password("wrong", &real));
    }
}
