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
use mailbox_domain::{Actor, Organisation, Role, UnitId};
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
    /// A disabled account cannot sign in, and its sessions end.
    #[serde(default)]
    pub disabled: bool,
    /// Set by a password reset: the next sign-in must choose a new password before anything else.
    #[serde(default)]
    pub must_change_password: bool,
    /// Sessions begun before this instant are void (a reset or a disabling ends them all at once,
    /// on every instance, without finding them: each request reads the account anyway).
    #[serde(default)]
    pub sessions_after: Option<DateTime<Utc>>,
    /// Work contact for notifications (SMS, e-mail); shown to administrators only.
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    /// The person's choice of channels for notifications (both by default; each needs its contact).
    #[serde(default = "yes")]
    pub notify_email: bool,
    #[serde(default = "yes")]
    pub notify_sms: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// SHA-256 of the token; the token itself exists only in the client's cookie or header.
    pub token_hash: String,
    pub username: String,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
    /// When it began (sessions of older versions: unknown, treated as begun long ago).
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    /// Its last use, for the idle timeout (updated at most once a minute).
    #[serde(default)]
    pub last_seen: Option<DateTime<Utc>>,
}

/// A session unused this long ends (besides its absolute end, `SESSION_HOURS` after sign-in).
pub const SESSION_IDLE_MINUTES: i64 = 30;
/// A session's last use is written at most this often (one write per active minute, not per request).
const TOUCH_SECONDS: i64 = 60;

/// Why a password is refused, as a message for the person choosing it; `None` when it is fine:
/// at least 12 characters, not the user name (nor containing it), and not a common or easily
/// guessed password (zxcvbn's estimate, which knows the 30,000 most common passwords, keyboard
/// runs, dates and repetitions, must be at least 3 of 4).
pub fn password_problem(username: &str, password: &str) -> Option<String> {
    if password.chars().count() < 12 {
        return Some("密码至少需要 12 个字符".into());
    }
    if password.chars().count() > 128 {
        return Some("密码不能超过 128 个字符".into());
    }
    if password.chars().any(char::is_control) {
        return Some("密码不能含有控制字符".into());
    }
    let user = username.trim().to_lowercase();
    if !user.is_empty() && password.to_lowercase().contains(&user) {
        return Some("密码不能包含用户名".into());
    }
    if zxcvbn::zxcvbn(password, &[username]).score() < zxcvbn::Score::Three {
        return Some("密码过于常见或容易猜到，请换一个更长、更不规则的密码".into());
    }
    None
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
    /// The password was reset: until it is changed, only the change and signing out are allowed.
    pub must_change_password: bool,
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
        if account.disabled {
            // Told only to someone who knows the password.
            return Err(AppError::Forbidden("该账号已停用，请联系系统管理员".into()));
        }
        self.limits.clear(&key).await?;
        limiter::give_back_all(self.limits.as_ref(), std::slice::from_ref(&client_key)).await;
        let token = random_token();
        let csrf_token = random_token();
        let session = Session {
            token_hash: token_hash(&token),
            username: account.username.clone(),
            csrf_token: csrf_token.clone(),
            expires_at: now + Duration::hours(SESSION_HOURS),
            created_at: Some(now),
            last_seen: Some(now),
        };
        self.accounts.put_session(&session).await?;
        Ok(LoginOk { token, csrf_token, account })
    }

    pub async fn logout(&self, token: &str) -> Result<(), AppError> {
        self.accounts.delete_session(&token_hash(token)).await?;
        Ok(())
    }

    /// The identity behind a session token, if it is valid: unexpired, used within the idle
    /// timeout, begun after the account's last reset, of an account that is not disabled.
    pub async fn identify(&self, token: &str, now: DateTime<Utc>) -> Result<Option<Identity>, AppError> {
        let Some(mut session) = self.accounts.session(&token_hash(token)).await? else { return Ok(None) };
        let idle = session.last_seen.is_some_and(|t| now - t > Duration::minutes(SESSION_IDLE_MINUTES));
        if session.expires_at <= now || idle {
            self.accounts.delete_session(&session.token_hash).await?;
            return Ok(None);
        }
        let Some(account) = self.accounts.account(&session.username).await? else { return Ok(None) };
        let voided = account.sessions_after.is_some_and(|after| session.created_at.is_none_or(|c| c < after));
        if account.disabled || voided {
            self.accounts.delete_session(&session.token_hash).await?;
            return Ok(None);
        }
        if session.last_seen.is_none_or(|t| now - t >= Duration::seconds(TOUCH_SECONDS)) {
            session.last_seen = Some(now);
            self.accounts.put_session(&session).await?;
        }
        Ok(Some(Identity {
            actor: Actor::staff(account.username.clone(), account.role, account.unit.clone()),
            display_name: account.display_name,
            csrf_token: Some(session.csrf_token),
            must_change_password: account.must_change_password,
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
    ("yq", "市政府办舆情员", Role::Opinion, Some("city-gov-office")),
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
            disabled: false,
            must_change_password: false,
            sessions_after: None,
            phone: None,
            // The demo's staff get e-mail at a domain that reaches nobody (or a test's SMTP server).
            email: Some(format!("{username}@example.gov.cn")),
            notify_email: true,
            notify_sms: true,
        };
        store.put_account(&account).await?;
    }
    Ok(true)
}

/// A staff account as an administrator creates it.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub unit: Option<UnitId>,
    pub phone: Option<String>,
    pub email: Option<String>,
    /// The identity provider's subject of this person (API clients on AWS), if any.
    pub oidc_subject: Option<String>,
    /// True when someone else chose the first password: its owner must choose their own first.
    pub must_change_password: bool,
}

/// Account administration, the same from `mailbox accounts`, the console's administration page and
/// the AWS admin command: create, disable, enable, reset a password; and a user's own change of a
/// password. Disabling and resetting end the account's sessions at once.
pub struct AccountAdmin<'a> {
    pub store: &'a dyn AccountStore,
    pub org: &'a Organisation,
}

fn invalid(code: &'static str, field: &'static str, message: impl Into<String>) -> AppError {
    AppError::Invalid { code, field: Some(field), message: message.into() }
}

/// A user name: 2 to 32 lowercase letters, digits, `.`, `_` or `-`, beginning with a letter or digit.
pub fn valid_username(username: &str) -> bool {
    let mut chars = username.chars();
    (2..=32).contains(&username.len())
        && chars.next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
}

impl AccountAdmin<'_> {
    async fn existing(&self, username: &str) -> Result<Account, AppError> {
        self.store.account(username).await?.ok_or(AppError::NotFound)
    }

    fn check_password(username: &str, password: &str) -> Result<(), AppError> {
        match password_problem(username, password) {
            Some(problem) => Err(invalid("weak_password", "password", problem)),
            None => Ok(()),
        }
    }

    pub async fn create(&self, new: NewAccount, password: &str) -> Result<Account, AppError> {
        let username = new.username.trim().to_owned();
        if !valid_username(&username) {
            return Err(invalid(
                "invalid_username",
                "username",
                "用户名须为 2 至 32 个小写字母、数字或 . _ -，以字母或数字开头",
            ));
        }
        let display_name = mailbox_domain::text::clean(&new.display_name);
        if display_name.is_empty() || display_name.chars().count() > 50 {
            return Err(invalid("invalid_name", "name", "请填写姓名（不超过 50 个字）"));
        }
        match (&new.role, &new.unit) {
            (Role::Admin, _) => {}
            (Role::Citizen, _) => return Err(invalid("invalid_role", "role", "不能为群众创建工作人员账号")),
            (_, None) => return Err(invalid("unit_required", "unit", "请选择所属单位")),
            (_, Some(unit)) if self.org.unit(unit).is_none() => {
                return Err(invalid("unknown_unit", "unit", format!("单位“{unit}”不在本市组织机构中")))
            }
            _ => {}
        }
        let phone = match new.phone.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
            Some(p) => Some(
                crate::input::normalise_phone(p)
                    .ok_or_else(|| invalid("phone_invalid", "phone", "联系电话格式不正确"))?,
            ),
            None => None,
        };
        let email = match new.email.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
            Some(e)
                if e.len() <= 254
                    && e.split_once('@').is_some_and(|(a, d)| !a.is_empty() && d.contains('.'))
                    && !e.chars().any(|c| c.is_whitespace() || c.is_control()) =>
            {
                Some(e.to_owned())
            }
            Some(_) => return Err(invalid("email_invalid", "email", "电子邮箱格式不正确")),
            None => None,
        };
        Self::check_password(&username, password)?;
        if self.store.account(&username).await?.is_some() {
            return Err(AppError::Conflict {
                code: "account_exists", message: format!("用户名“{username}”已存在")
            });
        }
        let account = Account {
            username,
            display_name,
            password_hash: hash_password_bounded(password.to_owned()).await?,
            role: new.role,
            unit: if new.role == Role::Admin { new.unit.filter(|u| self.org.unit(u).is_some()) } else { new.unit },
            oidc_subject: new.oidc_subject,
            disabled: false,
            must_change_password: new.must_change_password,
            sessions_after: None,
            phone,
            email,
            notify_email: true,
            notify_sms: true,
        };
        self.store.put_account(&account).await.map_err(|e| match e {
            crate::ports::StoreError::Conflict(_) => AppError::Conflict {
                code: "subject_taken",
                message: "该统一身份认证标识已关联其他账号".into(),
            },
            e => e.into(),
        })?;
        Ok(account)
    }

    /// Disables (or enables again) an account; disabling ends its sessions at once.
    pub async fn set_disabled(&self, username: &str, disabled: bool, now: DateTime<Utc>) -> Result<Account, AppError> {
        let mut account = self.existing(username).await?;
        account.disabled = disabled;
        if disabled {
            account.sessions_after = Some(now);
        }
        self.store.put_account(&account).await?;
        Ok(account)
    }

    /// The channels a person chose for their notifications (each used where a contact is known).
    pub async fn set_channels(&self, username: &str, email: bool, sms: bool) -> Result<Account, AppError> {
        let mut account = self.existing(username).await?;
        account.notify_email = email;
        account.notify_sms = sms;
        self.store.put_account(&account).await?;
        Ok(account)
    }

    /// Sets a new password chosen by an administrator: the account's sessions end, and its next
    /// sign-in must choose its own password first.
    pub async fn reset_password(
        &self,
        username: &str,
        password: &str,
        now: DateTime<Utc>,
    ) -> Result<Account, AppError> {
        let mut account = self.existing(username).await?;
        Self::check_password(username, password)?;
        account.password_hash = hash_password_bounded(password.to_owned()).await?;
        account.must_change_password = true;
        account.sessions_after = Some(now);
        self.store.put_account(&account).await?;
        Ok(account)
    }

    /// A user's own new password (after a reset, or at any time): it must differ from the current
    /// one; every session of the account ends, so the user signs in again with it.
    pub async fn change_password(
        &self,
        username: &str,
        new_password: &str,
        now: DateTime<Utc>,
    ) -> Result<Account, AppError> {
        let mut account = self.existing(username).await?;
        Self::check_password(username, new_password)?;
        let (pw, hash) = (new_password.to_owned(), account.password_hash.clone());
        if password_work(move || verify_password(&pw, &hash)).await? {
            return Err(invalid("same_password", "password", "新密码不能与原密码相同"));
        }
        account.password_hash = hash_password_bounded(new_password.to_owned()).await?;
        account.must_change_password = false;
        account.sessions_after = Some(now);
        self.store.put_account(&account).await?;
        Ok(account)
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
