//! Ports: what the use cases need from the outside world. Each deployment provides adapters
//! (SQLite in the embedded host, DynamoDB/SQS on AWS); one conformance suite checks every adapter.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mailbox_domain::case::Case;
use mailbox_domain::events::DomainEvent;
use mailbox_domain::stats::CounterDelta;
use mailbox_domain::workflow::AuditEvent;
use mailbox_domain::{CaseId, CaseNumber, CaseStatus, UnitId};
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The record does not exist.
    #[error("not found")]
    NotFound,
    /// Someone else wrote first (stale version, duplicate event or key).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The storage could not be reached or refused the write; the caller may retry.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Stored data could not be read back.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The record would exceed what the store keeps in one record; nothing was written.
    #[error("record too large: {0}")]
    TooLarge(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// How long a submission's idempotency record is kept: retries come within minutes; a day covers a
/// phone that was offline overnight.
pub const IDEMPOTENCY_TTL: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// The submission's idempotency record: a retried POST with the same key gets the same case. It
/// holds nothing a reader of the store could use: the client's key only as a digest, and the query
/// code sealed with a key derived from the client's key (see `service::seal_code`), so only a
/// retry that brings that key can open it. It lapses `IDEMPOTENCY_TTL` after `created_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    /// SHA-256 of the client's idempotency key (hex).
    pub key_digest: String,
    /// Digest of the request body: the same key with a different request is refused.
    pub fingerprint: String,
    /// The query code handed out for this submission, sealed (hex).
    pub sealed_code: String,
    pub created_at: DateTime<Utc>,
}

impl IdempotencyRecord {
    pub fn expires_at(&self) -> DateTime<Utc> {
        self.created_at + IDEMPOTENCY_TTL
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateOutcome {
    /// Stored, under this number (the case's own, or the one its `Numbering` gave it).
    Created(CaseNumber),
    /// The idempotency key was used before for the same request: the case it created, and its
    /// query code as sealed in the record.
    Existing { case: Box<Case>, sealed_code: String },
    /// The idempotency key was used before for a different request.
    KeyReused,
}

/// How a new case gets its number (编号): the next value of a named sequence (a day's), as
/// `<prefix><value, 4 digits or more>`. The store takes the value in the case's own write, so a
/// number is used only by a case that was stored: no gaps (a retry, a refused or failed write takes
/// none) and no repeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Numbering {
    pub sequence: String,
    pub prefix: String,
}

impl Numbering {
    pub fn number(&self, value: u64) -> CaseNumber {
        CaseNumber::new(format!("{}{value:04}", self.prefix))
    }

    /// Puts the number of `value` on a new case and its first domain event.
    pub fn apply(&self, value: u64, case: &mut Case, domain: &mut DomainEvent) {
        let number = self.number(value);
        domain.detail.case_number = number.clone();
        case.number = number;
    }
}

/// A notification to staff (SMS/e-mail on AWS, the outbox table in the embedded host).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// Unique per notification: writing the same key twice keeps one.
    pub key: String,
    pub unit: UnitId,
    pub subject: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
    /// What it is about: its SMS wording, and whether it is urgent.
    #[serde(default)]
    pub topic: crate::delivery::Topic,
}

/// How long notifications are kept: the outbox is a recent record, not an archive (the audit trail
/// is the record of what happened).
pub const NOTIFICATION_TTL: chrono::TimeDelta = chrono::TimeDelta::days(90);

/// A page of notifications, newest first; `next` continues after its last.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NotificationPage {
    pub items: Vec<Notification>,
    pub next: Option<String>,
}

impl NotificationPage {
    /// The cursor of a notification: its time (13-digit milliseconds) and key, in the order pages
    /// are read.
    pub fn cursor(n: &Notification) -> String {
        format!("{:013}#{}", n.created_at.timestamp_millis().max(0), n.key)
    }

    /// The page of `limit` from notifications read newest first with at least one more than
    /// `limit` when more exist: the extra one only tells that a next page follows.
    pub fn from_read(mut items: Vec<Notification>, limit: usize) -> NotificationPage {
        let more = items.len() > limit;
        items.truncate(limit);
        let next = if more { items.last().map(NotificationPage::cursor) } else { None };
        NotificationPage { items, next }
    }

    /// A cursor as a client sends it back: `None` when it is not one.
    pub fn parse_cursor(cursor: &str) -> Option<(i64, &str)> {
        let (ms, key) = cursor.split_once('#')?;
        let valid = ms.len() == 13 && ms.bytes().all(|b| b.is_ascii_digit()) && (1..=300).contains(&key.len());
        valid.then(|| ms.parse().ok()).flatten().map(|ms| (ms, key))
    }
}

/// Which cases a list asks for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Scope {
    /// Cases whose dispatching unit is this one (a dispatcher's inbox).
    Dispatcher(UnitId),
    /// Cases dispatched to this unit as lead or co-handler (a handler's inbox).
    Handler(UnitId),
    /// Every case (supervisors).
    #[default]
    All,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CaseQuery {
    pub scope: Scope,
    /// Only these statuses; empty means all.
    pub statuses: Vec<CaseStatus>,
    pub limit: usize,
    /// Continue after this position (`list_cursor` of the last case of the page before).
    pub after: Option<String>,
    /// Only cases whose title has every one of these terms (`published::query_words`)…
    pub title_terms: Vec<String>,
    /// …in the title as supervisors read it, personal data masked (else a search would tell them
    /// what a masked title hides).
    pub masked_titles: bool,
    /// Only cases this unit handles (lead or co-handler).
    pub unit: Option<UnitId>,
    /// Only open cases whose deadline instant (milliseconds) is in `[from, to)`.
    pub due: Option<(i64, i64)>,
}

impl CaseQuery {
    /// Whether `case` is in this query's scope and passes its filters but the title terms (a case
    /// found by its number).
    pub fn admits(&self, case: &Case) -> bool {
        let handles = |u: &UnitId| case.handling_units().any(|h| h == u);
        let in_scope = match &self.scope {
            Scope::Dispatcher(u) => &case.dispatcher == u,
            Scope::Handler(u) => handles(u),
            Scope::All => true,
        };
        in_scope
            && (self.statuses.is_empty() || self.statuses.contains(&case.status))
            && self.unit.as_ref().is_none_or(handles)
            && self.due.is_none_or(|(from, to)| due_ms(case).is_some_and(|d| (from..to).contains(&d)))
    }
}

/// A page of a case list and where the next one starts: `None` when the list is complete. A store
/// whose reads are bounded (filters on DynamoDB) may give fewer than the limit and a `next`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CasePage {
    pub cases: Vec<Case>,
    pub next: Option<String>,
}

/// The deadline instant lists filter on: an open case's deadline (none when closed or not running).
pub fn due_ms(case: &Case) -> Option<i64> {
    case.deadline.as_ref().filter(|_| case.status.is_open()).map(|d| d.due_at().timestamp_millis())
}

/// Most cases merged into one original that `CaseStore::merged_into` returns: more repeats than
/// that of one matter are 舆情 to handle as such, not a list to copy a reply into.
pub const MAX_MERGED: usize = 1000;

/// Due instant of cases without a deadline in list positions: after every real one.
pub const NO_DUE: &str = "9999999999999";

/// A case's position in lists: its list instant (13-digit milliseconds: the epoch for urgent cases
/// waiting for an answer, else the due instant; `NO_DUE` without a deadline), then its id. Lists
/// are ordered by it and continue after it (keyset pagination).
pub fn list_cursor(case: &Case) -> String {
    list_position(case.list_instant(), case.id.as_str())
}

/// The list position of a case with this list instant and id (see `list_cursor`).
pub fn list_position(due_at: Option<DateTime<Utc>>, id: &str) -> String {
    let due = due_at.map(|d| format!("{:013}", d.timestamp_millis().max(0)));
    format!("{}#{id}", due.as_deref().unwrap_or(NO_DUE))
}

/// A list position as a client sends it back: 13 digits, `#`, a case id; `None` when it is not one.
pub fn parse_list_cursor(cursor: &str) -> Option<(i64, &str)> {
    let (due, id) = cursor.split_once('#')?;
    let valid = due.len() == 13
        && due.bytes().all(|b| b.is_ascii_digit())
        && (1..=64).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    valid.then(|| due.parse().ok()).flatten().map(|due| (due, id))
}

/// Storage of cases, their audit trails and statistics counters.
#[async_trait]
pub trait CaseStore: Send + Sync + 'static {
    /// Stores a new case with its first event, that event's domain event and counter changes in
    /// one transaction. With an idempotency record, a second call with the same key stores nothing
    /// and returns the first case. With a `Numbering`, the case (and its domain event) gets the
    /// sequence's next value as its number in the same transaction — only when it is stored.
    async fn create(
        &self,
        case: &Case,
        event: &AuditEvent,
        domain: &DomainEvent,
        counters: &[CounterDelta],
        idempotency: Option<&IdempotencyRecord>,
        numbering: Option<&Numbering>,
    ) -> StoreResult<CreateOutcome>;

    /// Removes idempotency records that lapsed before `now` (where the store has no expiry of its
    /// own; DynamoDB's TTL does it there). Returns how many went.
    async fn purge_idempotency(&self, now: DateTime<Utc>) -> StoreResult<usize>;

    /// Writes a new version of a case over `before` — the case as it was read: the write happens
    /// only while `before.version` is the stored version, so `before` is what is stored and what
    /// the case leaves (its units' lists, a merge) is known without reading it again — with its audit
    /// events, their domain events (one per audit event, same `seq`), counter changes and
    /// notifications, in one transaction. `Conflict` if the stored version is another.
    async fn update(
        &self,
        case: &Case,
        before: &Case,
        events: &[AuditEvent],
        domain: &[DomainEvent],
        counters: &[CounterDelta],
        notifications: &[Notification],
    ) -> StoreResult<()> {
        self.update_releasing(case, before, events, domain, counters, notifications, &[]).await
    }

    /// `update`, giving back in the same transaction one attempt under each key of `released`
    /// (`AttemptStore::give_back`: the attempts a citizen's right query code took — the rating
    /// costs no write of their own).
    #[allow(clippy::too_many_arguments)]
    async fn update_releasing(
        &self,
        case: &Case,
        before: &Case,
        events: &[AuditEvent],
        domain: &[DomainEvent],
        counters: &[CounterDelta],
        notifications: &[Notification],
        released: &[String],
    ) -> StoreResult<()>;

    async fn get(&self, id: &CaseId) -> StoreResult<Option<Case>>;
    async fn get_by_number(&self, number: &CaseNumber) -> StoreResult<Option<Case>>;
    /// A case by number with its audit trail, oldest first (a store may read both at once). The
    /// trail ends at the case's last event (`case.events`).
    async fn by_number(&self, number: &CaseNumber) -> StoreResult<Option<(Case, Vec<AuditEvent>)>> {
        let Some(case) = self.get_by_number(number).await? else { return Ok(None) };
        let trail = self.events(&case.id).await?.into_iter().filter(|e| e.seq <= case.events).collect();
        Ok(Some((case, trail)))
    }
    /// The audit trail, oldest first.
    async fn events(&self, id: &CaseId) -> StoreResult<Vec<AuditEvent>>;
    /// Cases in scope that pass the query's filters, in list position order (`list_cursor`): urgent
    /// waiting cases first, then earliest due, cases without a deadline last; ties in id order.
    /// A page at a time: `next` continues it.
    async fn list(&self, query: &CaseQuery) -> StoreResult<CasePage>;
    /// Whether the store answers now (one cheap read): `GET /readyz`.
    async fn ready(&self) -> StoreResult<()>;
    /// The cases merged into `original` (并单), in id order; at most [`MAX_MERGED`].
    async fn merged_into(&self, original: &CaseNumber) -> StoreResult<Vec<Case>>;

    /// A dispatcher's cases in any status up to `through` — that case itself, then those submitted
    /// earlier, or in the same millisecond with a smaller id — most recent first: triage reads the
    /// case it records on and what it compares it with to find duplicates (its predecessors,
    /// however late triage runs) in one read. (An index may lag: the case may be missing, or older
    /// than stored.)
    async fn recent(
        &self,
        dispatcher: &UnitId,
        through: (DateTime<Utc>, &CaseId),
        limit: usize,
    ) -> StoreResult<Vec<Case>>;
    /// Cases whose `next_alarm` is at or before `at` (the deadline sweep's work), earliest first,
    /// through an index that holds only cases with an alarm set: no other case is read.
    async fn alarms_due(&self, at: DateTime<Utc>, limit: usize) -> StoreResult<Vec<Case>>;
    /// Published cases (`reports::is_published`, each with its `published` text) matching `query`,
    /// in its order (see `ReplyQuery`), after `query.after`: at most `query.limit`, and `next` when
    /// there may be more. A store whose reads are bounded may return fewer with a `next`.
    async fn published(&self, query: &crate::published::ReplyQuery) -> StoreResult<crate::published::ReplyPage>;
    /// Up to `limit` cases with a public reply whose published text is missing or was masked with
    /// rules older than `rules`: the re-masking job's work (after it writes them, they are not).
    async fn stale_published(&self, rules: u32, limit: usize) -> StoreResult<Vec<Case>>;
    /// Counters whose key starts with `prefix`.
    async fn counters(&self, prefix: &str) -> StoreResult<Vec<(String, i64)>>;
    /// Every case, a page at a time in id order after `after`. For maintenance (reconciling
    /// statistics), never on a request or scheduled path.
    async fn scan(&self, after: Option<&CaseId>, limit: usize) -> StoreResult<Vec<Case>>;
    /// Stores an imported holiday notice (holiday-cn JSON) so it is loaded at every start, and
    /// raises the calendar version: the new version is returned. Every instance compares its own
    /// version with the stored one now and then, and reloads the notices when it changed.
    async fn save_notice(&self, year: i32, json: &str) -> StoreResult<u64>;
    /// The stored holiday notices, by year, with the calendar state they belong to — one read, so an
    /// instance (re)loading its calendar gets a version and the notices of that version together.
    async fn notices(&self) -> StoreResult<StoredCalendar>;
    /// The calendar's version and how far the recomputation of open deadlines has got; one cheap read.
    async fn calendar_state(&self) -> StoreResult<CalendarState>;
    /// Records that the deadlines of open cases were recomputed for calendar `version`. True the
    /// first time for a version (or a later one), false when that was recorded already.
    async fn finish_recompute(&self, version: u64) -> StoreResult<bool>;
    /// Cases whose deadline is running (in progress or reported), a page at a time after `after`
    /// (the `next` of the page before, opaque), in an order that a change of deadline does not
    /// disturb for the cases still ahead: the recomputation job's walk.
    async fn running_deadlines(&self, after: Option<&str>, limit: usize) -> StoreResult<Page>;
    /// Notifications of a unit (all units: `None`), newest first, a page of at most `limit` from the
    /// cursor `before` (the `next` of the page before; `NotificationPage::cursor`). Kept
    /// `NOTIFICATION_TTL`, then removed (`purge_notifications`; DynamoDB's TTL on AWS).
    async fn notifications(
        &self,
        unit: Option<&UnitId>,
        before: Option<&str>,
        limit: usize,
    ) -> StoreResult<NotificationPage>;

    /// Removes notifications older than `NOTIFICATION_TTL` before `now` (where the store has no
    /// expiry of its own). Returns how many went.
    async fn purge_notifications(&self, now: DateTime<Utc>) -> StoreResult<usize>;
}

/// The embedded host's outbox of domain events: written in each change's transaction (see
/// `CaseStore::create` and `update`), read by the relay. (On AWS the table's stream plays this part.)
#[async_trait]
pub trait EventOutbox: Send + Sync + 'static {
    /// Events committed and not yet published, in commit order, at most `limit`, each with its
    /// position in the outbox.
    async fn unpublished(&self, limit: usize) -> StoreResult<Vec<(i64, DomainEvent)>>;
    /// Records that the events at these positions were published.
    async fn mark_published(&self, positions: &[i64], at: DateTime<Utc>) -> StoreResult<()>;
    /// Removes events published more than `EVENT_RETENTION` before `now`; how many went.
    async fn purge_published(&self, now: DateTime<Utc>) -> StoreResult<usize>;
}

/// How long the embedded outbox keeps published events (what a consumer that missed some can ask
/// to be published again; EventBridge's archive on AWS).
pub const EVENT_RETENTION: chrono::TimeDelta = chrono::TimeDelta::days(90);

/// The stored calendar's version (raised by each imported notice) and the last version whose
/// recomputation of open deadlines finished.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CalendarState {
    pub version: u64,
    pub recomputed: u64,
}

/// The stored holiday notices (holiday-cn JSON by year) and the calendar state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredCalendar {
    pub state: CalendarState,
    pub notices: Vec<(i32, String)>,
}

/// One page of a keyset walk: the cases, and where the next page starts (none after the last).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    pub cases: Vec<Case>,
    pub next: Option<String>,
}

/// Attempts counted per key, kept in the store so that every instance of the application shares
/// them: wrong query codes per case and per client, sign-ins per account. Each call is one atomic
/// step of the store, so attempts made at the same moment on different instances all count.
#[async_trait]
pub trait AttemptStore: Send + Sync + 'static {
    /// Takes an attempt for `key`: when fewer than `max` attempts have counted in its window, counts
    /// this one and answers true; otherwise answers false and counts nothing. A key's window starts
    /// with its first attempt and lasts `window`; taking or giving back never moves it, and a key
    /// whose window has passed starts again from nothing (a new window from `now`).
    async fn take(&self, key: &str, max: u32, window: Duration, now: DateTime<Utc>) -> StoreResult<bool>;
    /// Takes one attempt under every key, or none: true when each key had one left; false (and
    /// nothing counted) when one is at its limit. A store may do it in one request.
    async fn take_all(&self, keys: &[String], max: u32, window: Duration, now: DateTime<Utc>) -> StoreResult<bool> {
        take_each(self, keys, max, window, now).await
    }
    /// Gives back one attempt of a key (the attempt succeeded and should not count).
    async fn give_back(&self, key: &str) -> StoreResult<()>;
    /// Gives back one attempt under each key, as `give_back` does for each (a store may do it in one
    /// request). Every key is tried; the last failure is the answer.
    async fn give_back_each(&self, keys: &[String]) -> StoreResult<()> {
        let mut result = Ok(());
        for k in keys {
            if let Err(e) = self.give_back(k).await {
                result = Err(e);
            }
        }
        result
    }
    /// Forgets a key.
    async fn clear(&self, key: &str) -> StoreResult<()>;
    /// Removes keys whose window ended before `now`; the number removed. (DynamoDB's TTL removes
    /// them by itself; SQLite needs this.)
    async fn purge_expired(&self, now: DateTime<Utc>) -> StoreResult<usize>;
}

/// `AttemptStore::take_all` key by key: an attempt taken under each (all at once), and when one key
/// is at its limit, the attempts taken under the others given back.
pub async fn take_each<S: AttemptStore + ?Sized>(
    store: &S,
    keys: &[String],
    max: u32,
    window: Duration,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let taken = futures::future::join_all(keys.iter().map(|k| store.take(k, max, window, now))).await;
    let mut given = Vec::new();
    let mut refused = false;
    let mut failure = None;
    for (k, t) in keys.iter().zip(taken) {
        match t {
            Ok(true) => given.push(k.clone()),
            Ok(false) => refused = true,
            Err(e) => failure = Some(e),
        }
    }
    if refused || failure.is_some() {
        // Best effort: an attempt left counted errs on the safe side.
        if let Err(e) = store.give_back_each(&given).await {
            tracing::warn!(error = %e, "attempt not given back");
        }
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(!refused),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    #[error("queue unavailable: {0}")]
    Unavailable(String),
    #[error("unknown queue {0}")]
    UnknownQueue(String),
}

pub type QueueResult<T> = Result<T, QueueError>;

/// A message taken from a queue; invisible to others until its visibility timeout passes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub id: String,
    pub body: String,
    /// How many times it has been received, this time included.
    pub receive_count: u32,
    /// Proof of this receipt, needed to delete the message.
    pub receipt: String,
}

/// Durable hand-off queues between jurisdictions, each with a dead-letter queue: a message received
/// more than the queue's maximum number of times is moved there instead of being delivered again.
#[async_trait]
pub trait HandoffQueue: Send + Sync + 'static {
    async fn send(&self, queue: &str, body: &str) -> QueueResult<()> {
        self.send_delayed(queue, body, Duration::ZERO).await
    }
    /// Sends a message that no consumer receives before `delay` has passed (at most 15 minutes, as
    /// on SQS).
    async fn send_delayed(&self, queue: &str, body: &str, delay: Duration) -> QueueResult<()>;
    async fn receive(&self, queue: &str, max: usize, visibility: Duration) -> QueueResult<Vec<Received>>;
    /// Acknowledges a message; deleting with a stale receipt (the message was received again since)
    /// leaves it in the queue.
    async fn delete(&self, queue: &str, receipt: &str) -> QueueResult<()>;
    /// Messages in the queue's dead-letter queue.
    async fn dead_letters(&self, queue: &str) -> QueueResult<Vec<Received>>;
}

/// The time, injectable so that tests can move it.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Delivery of notifications to staff. The embedded host keeps them in its outbox table (shown in
/// the console); on AWS an SNS/SES adapter sends them. Writing the same key twice keeps one.
#[async_trait]
pub trait Notifier: Send + Sync + 'static {
    async fn notify(&self, notifications: &[Notification]) -> StoreResult<()>;
}

/// A clock that stands still until moved: for tests, replays and benchmarks.
pub struct ManualClock(std::sync::Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new(at: DateTime<Utc>) -> ManualClock {
        ManualClock(std::sync::Mutex::new(at))
    }

    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().expect("clock lock") = at;
    }

    pub fn advance(&self, by: chrono::Duration) {
        *self.0.lock().expect("clock lock") += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("clock lock")
    }
}
