//! Staff accounts of both deployments: argon2 password hashes, sessions, lockout. The console signs
//! in with them everywhere (SQLite in the embedded host, DynamoDB on AWS); API clients on AWS come
//! through API Gateway's JWT authorizer and are matched to an account by their token's subject, so
//! role and unit always come from the account, never from the token. All end in the same
//! [`Actor`], so handlers never read credentials.

use crate::error::AppError;
use crate::limiter::{self, SIGN_IN, SIGN_IN_CLIENT};
use crate::ports::{AttemptStore, StoreResult};
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

pub const SESSION_HOURS: i64 = 12;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub role: Role,
    pub unit: Option<UnitId>,
    /// The subject (`sub` claim) of this person's tokens at the city's identity provider: an API
    /// client whose token API Gateway accepted acts as this account. None: console only.
    #[serde(default)]
    pub oidc_subject: Option<String>,
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
    /// The account linked to an identity provider's subject.
    async fn account_by_subject(&self, subject: &str) -> StoreResult<Option<Account>>;
    /// Every account, by user name.
    async fn accounts(&self) -> StoreResult<Vec<Account>>;
    /// Inserts or replaces an account. `Conflict` when its subject is linked to another account.
    async fn put_account(&self, account: &Account) -> StoreResult<()>;
    async fn put_session(&self, session: &Session) -> StoreResult<()>;
    /// The session, if stored (it may have expired: stores remove expired sessions late).
    async fn session(&self, token_hash: &str) -> StoreResult<Option<Session>>;
    async fn delete_session(&self, token_hash: &str) -> StoreResult<()>;
    /// Removes sessions that expired before `now`; the number removed. (DynamoDB's TTL removes them
    /// by itself; SQLite needs this.)
    async fn purge_sessions(&self, now: DateTime<Utc>) -> StoreResult<usize>;
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

/// Password checks (argon2, about 19 MiB of memory each) running at once in this process; more wait
/// for a turn, up to `PASSWORD_CHECK_WAIT`, then get `Busy`. Bounds memory and CPU whatever the number
/// of sign-ins arriving together (each instance bounds its own; the API's throttle bounds instances).
pub const PARALLEL_PASSWORD_CHECKS: usize = 2;
const PASSWORD_CHECK_WAIT: std::time::Duration = std::time::Duration::from_secs(10);
static PASSWORD_CHECKS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(PARALLEL_PASSWORD_CHECKS);
static CHECKS_RUNNING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static CHECKS_PEAK: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// The most password checks this process ran at the same moment (for tests and diagnostics).
pub fn peak_parallel_password_checks() -> usize {
    CHECKS_PEAK.load(std::sync::atomic::Ordering::SeqCst)
}

/// Runs an argon2 computation on the blocking pool once a turn is free.
async fn password_work<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, AppError> {
    use std::sync::atomic::Ordering::SeqCst;
    let _turn = tokio::time::timeout(PASSWORD_CHECK_WAIT, PASSWORD_CHECKS.acquire())
        .await
        .map_err(|_| AppError::Busy)?
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let running = CHECKS_RUNNING.fetch_add(1, SeqCst) + 1;
    CHECKS_PEAK.fetch_max(running, SeqCst);
    let result = tokio::task::spawn_blocking(work).await;
    CHECKS_RUNNING.fetch_sub(1, SeqCst);
    result.map_err(|e| AppError::Internal(e.to_string()))
}

/// `hash_password` on the blocking pool, within the bound on parallel password work.
pub async fn hash_password_bounded(password: String) -> Result<String, AppError> {
    password_work(move || hash_password(&password)).await
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
    /// Where sign-in attempts are counted: shared by every instance.
    pub limits: Arc<dyn AttemptStore>,
}

impl LocalAuth {
    /// Checks a password. Every attempt counts under the user name and under the client's address
    /// before the check — atomically in the store, so that guesses sent at once to several instances
    /// all count — and a success clears the name's count and gives the client's back: 5 wrong
    /// passwords lock a name, 20 wrong ones lock a client out of signing in, until 15 minutes after
    /// the first.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        client: &str,
        now: DateTime<Utc>,
    ) -> Result<LoginOk, AppError> {
        let key = limiter::key("login", username);
        let client_key = limiter::key("login-client", client);
        if !self.limits.take(&key, SIGN_IN.max, SIGN_IN.window, now).await? {
            // Not the name: what is typed there may be a password.
            tracing::warn!("sign-in refused: too many wrong passwords for the name");
            return Err(AppError::Conflict {
                code: "account_locked",
                message: format!("密码错误次数过多，账号已锁定{}分钟", SIGN_IN.window.as_secs() / 60),
            });
        }
        if !self.limits.take(&client_key, SIGN_IN_CLIENT.max, SIGN_IN_CLIENT.window, now).await? {
            limiter::give_back_all(self.limits.as_ref(), std::slice::from_ref(&key)).await;
            tracing::warn!("sign-in refused: too many wrong passwords from one client");
            return Err(AppError::RateLimited);
        }
        let account = self.accounts.account(username).await?;
        // An unknown name costs a real verification too, so response times do not reveal which
        // names exist.
        let hash = account.as_ref().map_or(DUMMY_HASH.to_owned(), |a| a.password_hash.clone());
        let pw = password.to_owned();
        let ok = match password_work(move || verify_password(&pw, &hash)).await {
            Ok(ok) => ok,
            Err(e) => {
                // Not checked: the attempt does not count against the name or the client.
                limiter::give_back_all(self.limits.as_ref(), &[key, client_key]).await;
                return Err(e);
            }
        };
        let Some(account) = account.filter(|_| ok) else { return Err(AppError::BadCredentials) };
        self.limits.clear(&key).await?;
        limiter::give_back_all(self.limits.as_ref(), std::slice::from_ref(&client_key)).await;
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

/// Password of every demo account; printed at start so that a new user can sign in.
pub const DEMO_PASSWORD: &str = "mailbox-demo";

/// Demo staff of the Guang'an organisation: one or more per role, across the city, a district and
/// bureaus.
pub const DEMO_ACCOUNTS: &[(&str, &str, Role, Option<&str>)] = &[
    ("admin", "系统管理员", Role::Admin, None),
    ("zfb", "市政府办督查员", Role::Supervisor, Some("city-gov-office")),
    ("xfj", "市信访局受理员", Role::Dispatcher, Some("city-xfj")),
    ("ls-xfj", "邻水县信访局受理员", Role::Dispatcher, Some("linshui-xfj")),
    ("jtj-xx", "交通运输局信箱管理员", Role::Dispatcher, Some("transport")),
    ("jtj", "交通运输局承办员", Role::Handler, Some("transport")),
    ("zjj", "住房城乡建设局承办员", Role::Handler, Some("housing-construction")),
    ("slj", "水利局承办员", Role::Handler, Some("water")),
    ("gaj", "公安局承办员", Role::Handler, Some("public-security")),
    ("ls-gov", "邻水县政府承办员", Role::Handler, Some("linshui-gov")),
];

/// Stores the demo accounts when the store has no account yet; true when it did. Each is linked to
/// the identity-provider subject of its own name, as the sample events of `events/` use.
pub async fn seed_demo_accounts(store: &dyn AccountStore) -> Result<bool, AppError> {
    if !store.accounts().await?.is_empty() {
        return Ok(false);
    }
    let hash = tokio::task::spawn_blocking(|| hash_password(DEMO_PASSWORD))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    for (username, name, role, unit) in DEMO_ACCOUNTS {
        let account = Account {
            username: (*username).into(),
            display_name: (*name).into(),
            password_hash: hash.clone(),
            role: *role,
            unit: unit.map(UnitId::new),
            oidc_subject: Some((*username).into()),
        };
        store.put_account(&account).await?;
    }
    Ok(true)
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
