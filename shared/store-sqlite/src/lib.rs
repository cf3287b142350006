//! SQLite adapters of the ports: one database file in WAL mode holds cases, audit events,
//! statistics counters, idempotency records, the hand-off queues, the notification outbox and
//! local accounts. Writes go through one group-commit writer; reads use a small connection pool.

pub mod backup;
mod files;
mod lists;
mod published;
pub use files::FileAttachments;
mod schema;
mod writer;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mailbox_app::accounts::{Account, AccountStore, Session};
use mailbox_app::delivery::{Delivery, DeliveryStatus, DeliveryStore, DELIVERY_RETENTION};
use mailbox_app::desk::OpinionDesk;
use mailbox_app::discussion::DiscussionStore;
use mailbox_app::open311::{ApiKey, ApiKeyStore};
use mailbox_app::opinion::TopicStore;
use mailbox_app::ports::{
    AttemptStore, CalendarState, CasePage, CaseQuery, CaseStore, CreateOutcome, EventOutbox, HandoffQueue,
    IdempotencyRecord, Notification, NotificationPage, Notifier, Numbering, Page, QueueError, QueueResult, Received,
    StoreError, StoreResult, StoredCalendar, EVENT_RETENTION, NOTIFICATION_TTL,
};
use mailbox_domain::case::Case;
use mailbox_domain::discussion::{Comment, CommentStatus, Topic};
use mailbox_domain::events::DomainEvent;
use mailbox_domain::opinion::{surge_key, surge_range, week_of, HotTopic, OpinionItem, TopicEntry};
use mailbox_domain::stats::CounterDelta;
use mailbox_domain::workflow::AuditEvent;
use mailbox_domain::{CaseId, CaseNumber, CaseStatus, UnitId};
use rand::RngCore;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use writer::{map_err, Writer};

/// The deadline sweep's query: only rows in the partial alarm index, earliest first.
pub const ALARMS_DUE_SQL: &str =
    "SELECT doc FROM cases WHERE alarm_ms IS NOT NULL AND alarm_ms <= ?1 ORDER BY alarm_ms LIMIT ?2";

/// How the hand-off queues behave.
#[derive(Debug, Clone)]
pub struct QueueConfig {
    /// Known queue names; others are refused, as SQS refuses a queue that does not exist.
    pub queues: Vec<String>,
    /// A message received this many times without being deleted goes to the dead-letter queue.
    pub max_receives: u32,
}

#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: Writer,
    readers: Mutex<Vec<Connection>>,
    queues: HashSet<String>,
    max_receives: u32,
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn now_ms() -> i64 {
    ms(Utc::now())
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("domain types serialise")
}

fn from_json<T: serde::de::DeserializeOwned>(s: &str) -> StoreResult<T> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(crate) fn status_name(s: CaseStatus) -> String {
    serde_json::to_value(s).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

fn open_connection(path: &Path, flags: OpenFlags) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(path, flags).map_err(map_err)?;
    conn.busy_timeout(Duration::from_secs(10)).map_err(map_err)?;
    Ok(conn)
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: impl AsRef<Path>, queues: QueueConfig) -> StoreResult<SqliteStore> {
        let path = path.as_ref().to_path_buf();
        let conn = open_connection(&path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE)?;
        // WAL lets readers run beside the writer; synchronous=FULL makes every COMMIT durable
        // (fsync of the WAL) before the writer answers.
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
            .map_err(map_err)?;
        schema::migrate(&conn)?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                path,
                writer: Writer::start(conn),
                readers: Mutex::new(Vec::new()),
                queues: queues.queues.into_iter().collect(),
                max_receives: queues.max_receives.max(1),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let pooled = inner.readers.lock().expect("reader pool").pop();
            let conn = match pooled {
                Some(c) => c,
                None => open_connection(&inner.path, OpenFlags::SQLITE_OPEN_READ_ONLY)?,
            };
            let result = f(&conn);
            let mut pool = inner.readers.lock().expect("reader pool");
            if pool.len() < 8 {
                pool.push(conn);
            }
            result
        })
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))?
    }

    async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        self.inner.writer.write(f).await
    }

    /// Stores cases as they are (with their indexes and published texts), in one transaction, with
    /// no events or counters: filling a database for a benchmark. Not for the application's writes.
    pub async fn load(&self, cases: Vec<Case>) -> StoreResult<()> {
        let titles: Vec<lists::TitleTerms> = cases.iter().map(lists::TitleTerms::of).collect();
        self.write(move |conn| cases.iter().zip(&titles).try_for_each(|(c, t)| write_case(conn, c, Some(t), 0))).await
    }

    fn check_queue(&self, queue: &str) -> QueueResult<()> {
        if self.inner.queues.contains(queue) {
            Ok(())
        } else {
            Err(QueueError::UnknownQueue(queue.to_owned()))
        }
    }
}

/// The indexed columns of a case row, derived from the case.
struct Row {
    alarm_ms: Option<i64>,
    sort_due_ms: Option<i64>,
    pub_rules: Option<i64>,
}

fn row_of(case: &Case) -> Row {
    Row {
        // Sparse: only cases the deadline sweep still has to look at are in the alarm index.
        alarm_ms: case.next_alarm.map(ms),
        sort_due_ms: case.list_instant().map(ms),
        pub_rules: published::pub_rules(case),
    }
}

/// Writes a case's row and what is kept beside it: a new case with its title's terms (`title`), or a
/// new version over `expected_version` (`title` none: a title never changes).
fn write_case(
    conn: &Connection,
    case: &Case,
    title: Option<&lists::TitleTerms>,
    expected_version: u64,
) -> StoreResult<()> {
    let insert = title.is_some();
    let row = row_of(case);
    let status = status_name(case.status);
    let doc = to_json(case);
    if insert {
        conn.execute(
            "INSERT INTO cases (id, number, dispatcher, mailbox, status, alarm_ms, sort_due_ms, submitted_ms, pub_rules, version, doc, due_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            params![case.id.as_str(), case.number.as_str(), case.dispatcher.as_str(), case.mailbox.as_str(), status,
                row.alarm_ms, row.sort_due_ms, ms(case.submitted_at), row.pub_rules, case.version as i64, doc, lists::due(case)],
        )
        .map_err(map_err)?;
    } else {
        let changed = conn
            .execute(
                "UPDATE cases SET status = ?1, alarm_ms = ?2, sort_due_ms = ?3, pub_rules = ?4, version = ?5, doc = ?6,
                 merged_into = ?9, due_ms = ?10 WHERE id = ?7 AND version = ?8",
                params![
                    status,
                    row.alarm_ms,
                    row.sort_due_ms,
                    row.pub_rules,
                    case.version as i64,
                    doc,
                    case.id.as_str(),
                    expected_version as i64,
                    case.merged_into.as_ref().map(|n| n.as_str()),
                    lists::due(case),
                ],
            )
            .map_err(map_err)?;
        if changed == 0 {
            return Err(StoreError::Conflict(format!("case {} is not at version {expected_version}", case.id)));
        }
        conn.execute("DELETE FROM case_units WHERE case_id = ?1", [case.id.as_str()]).map_err(map_err)?;
    }
    // A new case is never published (unless loaded as one): nothing to look up for it.
    if !insert || case.published.is_some() {
        published::sync(conn, case)?;
    }
    for unit in case.handling_units() {
        conn.execute(
            "INSERT OR IGNORE INTO case_units (unit, case_id, pos) VALUES (?1, ?2, ?3)",
            params![unit.as_str(), case.id.as_str(), lists::list_pos(case)],
        )
        .map_err(map_err)?;
    }
    if let Some(terms) = title {
        lists::write_title(conn, case.id.as_str(), terms)?;
    }
    Ok(())
}

fn write_events(conn: &Connection, events: &[AuditEvent]) -> StoreResult<()> {
    for e in events {
        conn.execute(
            "INSERT INTO events (case_id, seq, doc) VALUES (?1, ?2, ?3)",
            params![e.case.as_str(), e.seq as i64, to_json(e)],
        )
        .map_err(map_err)?;
    }
    Ok(())
}

fn write_domain_events(conn: &Connection, events: &[DomainEvent]) -> StoreResult<()> {
    for e in events {
        conn.execute("INSERT INTO domain_events (event_id, doc) VALUES (?1, ?2)", params![e.id(), to_json(e)])
            .map_err(map_err)?;
    }
    Ok(())
}

fn write_counters(conn: &Connection, counters: &[CounterDelta]) -> StoreResult<()> {
    for c in counters {
        conn.execute(
            "INSERT INTO counters (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = value + excluded.value",
            params![c.key, c.delta],
        )
        .map_err(map_err)?;
    }
    Ok(())
}

fn write_notifications(conn: &Connection, notifications: &[Notification]) -> StoreResult<()> {
    for n in notifications {
        conn.execute(
            "INSERT OR IGNORE INTO outbox (key, unit, doc, created_ms) VALUES (?1, ?2, ?3, ?4)",
            params![n.key, n.unit.as_str(), to_json(n), ms(n.created_at)],
        )
        .map_err(map_err)?;
    }
    Ok(())
}

/// The JSON documents of a query's first column, read back.
fn query_docs<T: serde::de::DeserializeOwned, P: rusqlite::Params>(
    conn: &Connection,
    sql: &str,
    params: P,
) -> StoreResult<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql).map_err(map_err)?;
    let docs = stmt
        .query_map(params, |r| r.get::<_, String>(0))
        .map_err(map_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(map_err)?;
    docs.iter().map(|d| from_json(d)).collect()
}

fn query_cases<P: rusqlite::Params>(conn: &Connection, sql: &str, params: P) -> StoreResult<Vec<Case>> {
    query_docs(conn, sql, params)
}

fn get_case(conn: &Connection, id: &str) -> StoreResult<Option<Case>> {
    conn.query_row("SELECT doc FROM cases WHERE id = ?1", [id], |r| r.get::<_, String>(0))
        .optional()
        .map_err(map_err)?
        .map(|d| from_json(&d))
        .transpose()
}

/// What a retry with `record` gets without creating anything: the first case (`Existing`),
/// `KeyReused` for a different request, or `None` when the key is new or its record has lapsed.
fn replay(conn: &Connection, record: &IdempotencyRecord) -> StoreResult<Option<CreateOutcome>> {
    let existing = conn
        .query_row(
            "SELECT case_id, fingerprint, sealed_code FROM idempotency WHERE key_digest = ?1 AND expires_ms > ?2",
            params![record.key_digest, ms(record.created_at)],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)),
        )
        .optional()
        .map_err(map_err)?;
    let Some((case_id, fingerprint, sealed_code)) = existing else { return Ok(None) };
    if fingerprint != record.fingerprint {
        return Ok(Some(CreateOutcome::KeyReused));
    }
    let case = get_case(conn, &case_id)?
        .ok_or_else(|| StoreError::Corrupt(format!("idempotency record points at missing case {case_id}")))?;
    Ok(Some(CreateOutcome::Existing { case: Box::new(case), sealed_code }))
}

#[async_trait]
impl CaseStore for SqliteStore {
    async fn create(
        &self,
        case: &Case,
        event: &AuditEvent,
        domain: &DomainEvent,
        counters: &[CounterDelta],
        idempotency: Option<&IdempotencyRecord>,
        numbering: Option<&Numbering>,
    ) -> StoreResult<CreateOutcome> {
        let (mut case, event, mut domain, counters, idempotency, numbering) =
            (case.clone(), event.clone(), domain.clone(), counters.to_vec(), idempotency.cloned(), numbering.cloned());
        let title = lists::TitleTerms::of(&case);
        self.write(move |conn| {
            if let Some(record) = &idempotency {
                if let Some(outcome) = replay(conn, record)? {
                    return Ok(outcome);
                }
                // A lapsed record of the same key gives way.
                conn.execute(
                    "INSERT OR REPLACE INTO idempotency (key_digest, case_id, fingerprint, sealed_code, expires_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![
                        record.key_digest,
                        case.id.as_str(),
                        record.fingerprint,
                        record.sealed_code,
                        ms(record.expires_at())
                    ],
                )
                .map_err(map_err)?;
            }
            // In this write's savepoint: a write that fails gives the number back.
            if let Some(numbering) = &numbering {
                numbering.apply(next_sequence(conn, &numbering.sequence)?, &mut case, &mut domain);
            }
            write_case(conn, &case, Some(&title), 0)?;
            write_events(conn, std::slice::from_ref(&event))?;
            write_domain_events(conn, std::slice::from_ref(&domain))?;
            write_counters(conn, &counters)?;
            Ok(CreateOutcome::Created(case.number.clone()))
        })
        .await
    }

    async fn purge_idempotency(&self, now: DateTime<Utc>) -> StoreResult<usize> {
        self.write(move |c| c.execute("DELETE FROM idempotency WHERE expires_ms <= ?1", [ms(now)]).map_err(map_err))
            .await
    }

    async fn update_releasing(
        &self,
        case: &Case,
        before: &Case,
        events: &[AuditEvent],
        domain: &[DomainEvent],
        counters: &[CounterDelta],
        notifications: &[Notification],
        released: &[String],
    ) -> StoreResult<()> {
        let expected_version = before.version;
        let (case, events, domain, counters, notifications, released) = (
            case.clone(),
            events.to_vec(),
            domain.to_vec(),
            counters.to_vec(),
            notifications.to_vec(),
            released.to_vec(),
        );
        self.write(move |conn| {
            write_case(conn, &case, None, expected_version)?;
            write_events(conn, &events)?;
            write_domain_events(conn, &domain)?;
            write_counters(conn, &counters)?;
            write_notifications(conn, &notifications)?;
            for key in &released {
                give_back(conn, key)?;
            }
            Ok(())
        })
        .await
    }

    async fn get(&self, id: &CaseId) -> StoreResult<Option<Case>> {
        let id = id.to_string();
        self.read(move |c| get_case(c, &id)).await
    }

    async fn get_by_number(&self, number: &CaseNumber) -> StoreResult<Option<Case>> {
        let number = number.to_string();
        self.read(move |c| Ok(query_cases(c, "SELECT doc FROM cases WHERE number = ?1", [number])?.pop())).await
    }

    async fn events(&self, id: &CaseId) -> StoreResult<Vec<AuditEvent>> {
        let id = id.to_string();
        self.read(move |c| {
            let mut stmt =
                c.prepare_cached("SELECT doc FROM events WHERE case_id = ?1 ORDER BY seq").map_err(map_err)?;
            let docs = stmt
                .query_map([id], |r| r.get::<_, String>(0))
                .map_err(map_err)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(map_err)?;
            docs.iter().map(|d| from_json(d)).collect()
        })
        .await
    }

    async fn ready(&self) -> StoreResult<()> {
        self.read(|c| {
            c.query_row("SELECT count(*) FROM (SELECT 1 FROM cases LIMIT 1)", [], |r| r.get::<_, i64>(0))
                .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn list(&self, query: &CaseQuery) -> StoreResult<CasePage> {
        let query = query.clone();
        self.read(move |c| lists::list(c, &query)).await
    }

    async fn recent(
        &self,
        dispatcher: &UnitId,
        through: (DateTime<Utc>, &CaseId),
        limit: usize,
    ) -> StoreResult<Vec<Case>> {
        let (dispatcher, at, id) = (dispatcher.as_str().to_owned(), ms(through.0), through.1.as_str().to_owned());
        self.read(move |c| query_cases(c, schema::RECENT_SQL, params![dispatcher, at, id, limit as i64])).await
    }

    async fn merged_into(&self, original: &CaseNumber) -> StoreResult<Vec<Case>> {
        let original = original.as_str().to_owned();
        self.read(move |c| {
            let sql = "SELECT doc FROM cases WHERE merged_into = ?1 ORDER BY id LIMIT ?2";
            query_cases(c, sql, params![original, mailbox_app::ports::MAX_MERGED as i64])
        })
        .await
    }

    async fn alarms_due(&self, at: DateTime<Utc>, limit: usize) -> StoreResult<Vec<Case>> {
        self.read(move |c| query_cases(c, ALARMS_DUE_SQL, params![ms(at), limit as i64])).await
    }

    async fn scan(&self, after: Option<&CaseId>, limit: usize) -> StoreResult<Vec<Case>> {
        let after = after.map(|a| a.to_string()).unwrap_or_default();
        self.read(move |c| {
            query_cases(c, "SELECT doc FROM cases WHERE id > ?1 ORDER BY id LIMIT ?2", params![after, limit as i64])
        })
        .await
    }

    async fn save_notice(&self, year: i32, json: &str) -> StoreResult<u64> {
        let json = json.to_owned();
        self.write(move |c| {
            c.execute(
                "INSERT INTO calendar_notices (year, json) VALUES (?1, ?2) ON CONFLICT(year) DO UPDATE SET json = excluded.json",
                params![year, json],
            )
            .map_err(map_err)?;
            let version: i64 = c
                .query_row("UPDATE calendar_state SET version = version + 1 WHERE id = 1 RETURNING version", [], |r| r.get(0))
                .map_err(map_err)?;
            Ok(version as u64)
        })
        .await
    }

    async fn calendar_state(&self) -> StoreResult<CalendarState> {
        self.read(|c| {
            c.query_row("SELECT version, recomputed FROM calendar_state WHERE id = 1", [], |r| {
                Ok(CalendarState { version: r.get::<_, i64>(0)? as u64, recomputed: r.get::<_, i64>(1)? as u64 })
            })
            .map_err(map_err)
        })
        .await
    }

    async fn finish_recompute(&self, version: u64) -> StoreResult<bool> {
        self.write(move |c| {
            let changed = c
                .execute("UPDATE calendar_state SET recomputed = ?1 WHERE id = 1 AND recomputed < ?1", [version as i64])
                .map_err(map_err)?;
            Ok(changed == 1)
        })
        .await
    }

    async fn running_deadlines(&self, after: Option<&str>, limit: usize) -> StoreResult<Page> {
        // In id order: a case's id never changes, and a case stays in the walk while in progress or
        // reported, so a write during the walk neither skips nor repeats it. The cursor is the id.
        let after = after.unwrap_or("").to_owned();
        self.read(move |c| {
            let cases = query_cases(c, schema::RUNNING_SQL, params![after, limit as i64])?;
            let next = (cases.len() == limit).then(|| cases.last().map(|l| l.id.to_string())).flatten();
            Ok(Page { cases, next })
        })
        .await
    }

    async fn notices(&self) -> StoreResult<StoredCalendar> {
        self.read(|c| {
            // One read transaction: the state and the notices of one moment.
            let tx = c.unchecked_transaction().map_err(map_err)?;
            let state = tx
                .query_row("SELECT version, recomputed FROM calendar_state WHERE id = 1", [], |r| {
                    Ok(CalendarState { version: r.get::<_, i64>(0)? as u64, recomputed: r.get::<_, i64>(1)? as u64 })
                })
                .map_err(map_err)?;
            let notices = {
                let mut stmt =
                    tx.prepare_cached("SELECT year, json FROM calendar_notices ORDER BY year").map_err(map_err)?;
                let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).map_err(map_err)?;
                rows.collect::<Result<Vec<_>, _>>().map_err(map_err)?
            };
            tx.finish().map_err(map_err)?;
            Ok(StoredCalendar { state, notices })
        })
        .await
    }

    async fn published(
        &self,
        query: &mailbox_app::published::ReplyQuery,
    ) -> StoreResult<mailbox_app::published::ReplyPage> {
        let query = query.clone();
        self.read(move |c| published::search(c, &query)).await
    }

    async fn stale_published(&self, rules: u32, limit: usize) -> StoreResult<Vec<Case>> {
        self.read(move |c| published::stale(c, rules, limit)).await
    }

    async fn counters(&self, prefix: &str) -> StoreResult<Vec<(String, i64)>> {
        let prefix = prefix.to_owned();
        self.read(move |c| {
            // A range scan on the key: [prefix, prefix + U+10FFFF).
            let end = format!("{prefix}\u{10FFFF}");
            let mut stmt = c
                .prepare_cached("SELECT key, value FROM counters WHERE key >= ?1 AND key < ?2 ORDER BY key")
                .map_err(map_err)?;
            let rows = stmt.query_map([&prefix, &end], |r| Ok((r.get(0)?, r.get(1)?))).map_err(map_err)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(map_err)
        })
        .await
    }

    async fn notifications(
        &self,
        unit: Option<&UnitId>,
        before: Option<&str>,
        limit: usize,
    ) -> StoreResult<NotificationPage> {
        let unit = unit.map(|u| u.to_string());
        let (before_ms, before_key) = match before {
            Some(c) => NotificationPage::parse_cursor(c)
                .map(|(ms, key)| (ms, key.to_owned()))
                .ok_or_else(|| StoreError::Corrupt(format!("not a notification cursor: {c}")))?,
            None => (i64::MAX, String::new()),
        };
        let limit = limit.max(1);
        self.read(move |c| {
            // Keyset order (created_ms, key) descending, one row past the page to know of a next.
            let mut stmt = c
                .prepare_cached(
                    "SELECT doc FROM outbox WHERE (?1 IS NULL OR unit = ?1)
                       AND (created_ms < ?2 OR (created_ms = ?2 AND (?3 = '' OR key < ?3)))
                     ORDER BY created_ms DESC, key DESC LIMIT ?4",
                )
                .map_err(map_err)?;
            let docs = stmt
                .query_map(params![unit, before_ms, before_key, limit as i64 + 1], |r| r.get::<_, String>(0))
                .map_err(map_err)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(map_err)?;
            let items: Vec<Notification> = docs.iter().map(|d| from_json(d)).collect::<StoreResult<_>>()?;
            Ok(NotificationPage::from_read(items, limit))
        })
        .await
    }

    async fn purge_notifications(&self, now: DateTime<Utc>) -> StoreResult<usize> {
        let cutoff = ms(now - NOTIFICATION_TTL);
        self.write(move |c| c.execute("DELETE FROM outbox WHERE created_ms < ?1", [cutoff]).map_err(map_err)).await
    }
}

#[async_trait]
impl EventOutbox for SqliteStore {
    async fn unpublished(&self, limit: usize) -> StoreResult<Vec<(i64, DomainEvent)>> {
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT position, doc FROM domain_events WHERE published_ms IS NULL ORDER BY position LIMIT ?1",
                )
                .map_err(map_err)?;
            let rows = stmt
                .query_map([limit as i64], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
                .map_err(map_err)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(map_err)?;
            rows.into_iter().map(|(position, doc)| Ok((position, from_json(&doc)?))).collect()
        })
        .await
    }

    async fn mark_published(&self, positions: &[i64], at: DateTime<Utc>) -> StoreResult<()> {
        if positions.is_empty() {
            return Ok(());
        }
        let positions = positions.to_vec();
        self.write(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "UPDATE domain_events SET published_ms = ?1 WHERE position = ?2 AND published_ms IS NULL",
                )
                .map_err(map_err)?;
            for p in positions {
                stmt.execute(params![ms(at), p]).map_err(map_err)?;
            }
            Ok(())
        })
        .await
    }

    async fn purge_published(&self, now: DateTime<Utc>) -> StoreResult<usize> {
        let cutoff = ms(now - EVENT_RETENTION);
        self.write(move |c| {
            c.execute("DELETE FROM domain_events WHERE published_ms IS NOT NULL AND published_ms < ?1", [cutoff])
                .map_err(map_err)
        })
        .await
    }
}

fn delivery_status(s: DeliveryStatus) -> &'static str {
    match s {
        DeliveryStatus::Pending => "pending",
        DeliveryStatus::Sent => "sent",
        DeliveryStatus::Dead => "dead",
    }
}

#[async_trait]
impl DeliveryStore for SqliteStore {
    async fn add_deliveries(&self, deliveries: &[Delivery]) -> StoreResult<()> {
        let deliveries = deliveries.to_vec();
        self.write(move |c| {
            for d in &deliveries {
                c.execute(
                    "INSERT OR IGNORE INTO deliveries (key, status, next_ms, created_ms, version, doc) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![d.key, delivery_status(d.status), ms(d.next_at), ms(d.created_at), d.version as i64, to_json(d)],
                )
                .map_err(map_err)?;
            }
            Ok(())
        })
        .await
    }

    async fn delivery(&self, key: &str) -> StoreResult<Option<Delivery>> {
        let key = key.to_owned();
        self.read(move |c| Ok(query_docs::<Delivery, _>(c, "SELECT doc FROM deliveries WHERE key = ?1", [key])?.pop()))
            .await
    }

    async fn due_deliveries(&self, now: DateTime<Utc>, limit: usize) -> StoreResult<Vec<Delivery>> {
        self.read(move |c| {
            query_docs::<Delivery, _>(
                c,
                "SELECT doc FROM deliveries WHERE status = 'pending' AND next_ms <= ?1 ORDER BY next_ms LIMIT ?2",
                params![ms(now), limit as i64],
            )
        })
        .await
    }

    async fn save_delivery(&self, d: &Delivery, expected_version: u64) -> StoreResult<()> {
        let d = d.clone();
        self.write(move |c| {
            let changed = c
                .execute(
                    "UPDATE deliveries SET status = ?1, next_ms = ?2, version = ?3, doc = ?4 WHERE key = ?5 AND version = ?6",
                    params![delivery_status(d.status), ms(d.next_at), d.version as i64, to_json(&d), d.key, expected_version as i64],
                )
                .map_err(map_err)?;
            if changed == 0 {
                return Err(StoreError::Conflict(format!("delivery {} is not at version {expected_version}", d.key)));
            }
            Ok(())
        })
        .await
    }

    async fn recent_deliveries(&self, status: Option<DeliveryStatus>, limit: usize) -> StoreResult<Vec<Delivery>> {
        self.read(move |c| match status {
            Some(s) => query_docs::<Delivery, _>(
                c,
                "SELECT doc FROM deliveries WHERE status = ?1 ORDER BY created_ms DESC, key DESC LIMIT ?2",
                params![delivery_status(s), limit as i64],
            ),
            None => query_docs::<Delivery, _>(
                c,
                "SELECT doc FROM deliveries ORDER BY created_ms DESC, key DESC LIMIT ?1",
                params![limit as i64],
            ),
        })
        .await
    }

    async fn purge_deliveries(&self, now: DateTime<Utc>) -> StoreResult<usize> {
        let cutoff = ms(now - DELIVERY_RETENTION);
        self.write(move |c| {
            c.execute("DELETE FROM deliveries WHERE status != 'pending' AND created_ms < ?1", [cutoff]).map_err(map_err)
        })
        .await
    }
}

#[async_trait]
impl TopicStore for SqliteStore {
    async fn record_entry(&self, entry: &TopicEntry) -> StoreResult<bool> {
        let entry = entry.clone();
        self.write(move |c| {
            let added = c
                .execute(
                    "INSERT OR IGNORE INTO topic_entries (case_id, at_ms, doc) VALUES (?1, ?2, ?3)",
                    params![entry.case_id.as_str(), ms(entry.at), to_json(&entry)],
                )
                .map_err(map_err)?;
            if added == 1 {
                let key = surge_key(week_of(entry.at), entry.domain.as_deref(), &entry.jurisdiction);
                write_counters(c, &[CounterDelta { key, delta: 1 }])?;
            }
            Ok(added == 1)
        })
        .await
    }

    async fn window(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<(Vec<TopicEntry>, Vec<HotTopic>)> {
        let entries = self
            .read(move |c| {
                query_docs(
                    c,
                    "SELECT doc FROM topic_entries WHERE at_ms >= ?1 AND at_ms <= ?2 ORDER BY at_ms, case_id",
                    params![ms(since), ms(until)],
                )
            })
            .await?;
        Ok((entries, TopicStore::topics(self, since, until).await?))
    }

    async fn topics(&self, since: DateTime<Utc>, until: DateTime<Utc>) -> StoreResult<Vec<HotTopic>> {
        self.read(move |c| {
            query_docs(
                c,
                "SELECT doc FROM hot_topics WHERE last_ms >= ?1 AND last_ms <= ?2 ORDER BY first_ms, id",
                params![ms(since), ms(until)],
            )
        })
        .await
    }

    async fn topic(&self, id: &str) -> StoreResult<Option<HotTopic>> {
        let id = id.to_owned();
        self.read(move |c| Ok(query_docs(c, "SELECT doc FROM hot_topics WHERE id = ?1", [id])?.pop())).await
    }

    async fn save_topic(&self, topic: &HotTopic, expected: Option<u64>, claim: &[TopicEntry]) -> StoreResult<()> {
        let (t, claim) = (topic.clone(), claim.to_vec());
        self.write(move |c| {
            let changed = match expected {
                None => c.execute(
                    "INSERT OR IGNORE INTO hot_topics (id, first_ms, last_ms, version, doc) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![t.id, ms(t.first), ms(t.last), t.version as i64, to_json(&t)],
                ),
                Some(v) => c.execute(
                    "UPDATE hot_topics SET first_ms = ?2, last_ms = ?3, version = ?4, doc = ?5 WHERE id = ?1 AND version = ?6",
                    params![t.id, ms(t.first), ms(t.last), t.version as i64, to_json(&t), v as i64],
                ),
            }
            .map_err(map_err)?;
            if changed == 0 {
                return Err(StoreError::Conflict(format!("topic {} changed meanwhile", t.id)));
            }
            // A failed claim fails the whole write (its savepoint), the topic's too.
            for e in &claim {
                let claimed = c
                    .execute(
                        "UPDATE topic_entries SET topic = ?2, doc = ?3 WHERE case_id = ?1 AND topic IS NULL",
                        params![e.case_id.as_str(), t.id, to_json(e)],
                    )
                    .map_err(map_err)?;
                if claimed == 0 {
                    return Err(StoreError::Conflict(format!("message {} is in a topic already", e.case_id)));
                }
            }
            Ok(())
        })
        .await
    }

    async fn surge_counts(
        &self,
        domain: &str,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
    ) -> StoreResult<Vec<(String, i64)>> {
        let (low, high) = surge_range(domain, from, to);
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached("SELECT key, value FROM counters WHERE key >= ?1 AND key <= ?2 ORDER BY key")
                .map_err(map_err)?;
            let rows = stmt.query_map([low, high], |r| Ok((r.get(0)?, r.get(1)?))).map_err(map_err)?;
            rows.collect::<Result<Vec<(String, i64)>, _>>().map_err(map_err)
        })
        .await
    }
}

fn comment_status(s: CommentStatus) -> &'static str {
    match s {
        CommentStatus::Pending => "pending",
        CommentStatus::Approved => "approved",
        CommentStatus::Refused => "refused",
    }
}

#[async_trait]
impl DiscussionStore for SqliteStore {
    async fn create_topic(&self, topic: &Topic) -> StoreResult<()> {
        let t = topic.clone();
        self.write(move |c| {
            let added = c
                .execute(
                    "INSERT OR IGNORE INTO discussion_topics (id, created_ms, version, doc) VALUES (?1, ?2, ?3, ?4)",
                    params![t.id, ms(t.created_at), t.version as i64, to_json(&t)],
                )
                .map_err(map_err)?;
            if added == 0 {
                return Err(StoreError::Conflict(format!("topic {} exists", t.id)));
            }
            Ok(())
        })
        .await
    }

    async fn topic(&self, id: &str) -> StoreResult<Option<Topic>> {
        let id = id.to_owned();
        self.read(move |c| Ok(query_docs(c, "SELECT doc FROM discussion_topics WHERE id = ?1", [id])?.pop())).await
    }

    async fn topics(&self, limit: usize) -> StoreResult<Vec<Topic>> {
        self.read(move |c| {
            query_docs(
                c,
                "SELECT doc FROM discussion_topics ORDER BY created_ms DESC, id DESC LIMIT ?1",
                [limit as i64],
            )
        })
        .await
    }

    async fn save_topic(&self, topic: &Topic, expected: u64) -> StoreResult<()> {
        let t = topic.clone();
        self.write(move |c| {
            let changed = c
                .execute(
                    "UPDATE discussion_topics SET version = ?2, doc = ?3 WHERE id = ?1 AND version = ?4",
                    params![t.id, t.version as i64, to_json(&t), expected as i64],
                )
                .map_err(map_err)?;
            if changed == 0 {
                return Err(StoreError::Conflict(format!("topic {} is not at version {expected}", t.id)));
            }
            Ok(())
        })
        .await
    }

    async fn add_comment(&self, comment: &Comment) -> StoreResult<bool> {
        let m = comment.clone();
        self.write(move |c| {
            let added = c
                .execute(
                    "INSERT OR IGNORE INTO discussion_comments (topic, id, status, at_ms, version, doc) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![m.topic, m.id, comment_status(m.status), ms(m.at), m.version as i64, to_json(&m)],
                )
                .map_err(map_err)?;
            Ok(added == 1)
        })
        .await
    }

    async fn comment(&self, topic: &str, id: &str) -> StoreResult<Option<Comment>> {
        let (topic, id) = (topic.to_owned(), id.to_owned());
        self.read(move |c| {
            Ok(query_docs(c, "SELECT doc FROM discussion_comments WHERE topic = ?1 AND id = ?2", [topic, id])?.pop())
        })
        .await
    }

    async fn comments(&self, topic: &str, status: Option<CommentStatus>, limit: usize) -> StoreResult<Vec<Comment>> {
        let topic = topic.to_owned();
        self.read(move |c| match status {
            Some(s) => query_docs(
                c,
                "SELECT doc FROM discussion_comments WHERE topic = ?1 AND status = ?2 ORDER BY at_ms, id LIMIT ?3",
                params![topic, comment_status(s), limit as i64],
            ),
            None => query_docs(
                c,
                "SELECT doc FROM discussion_comments WHERE topic = ?1 ORDER BY at_ms, id LIMIT ?2",
                params![topic, limit as i64],
            ),
        })
        .await
    }

    async fn save_comment(&self, comment: &Comment, expected: u64) -> StoreResult<()> {
        let m = comment.clone();
        self.write(move |c| {
            let changed = c
                .execute(
                    "UPDATE discussion_comments SET status = ?3, version = ?4, doc = ?5 WHERE topic = ?1 AND id = ?2 AND version = ?6",
                    params![m.topic, m.id, comment_status(m.status), m.version as i64, to_json(&m), expected as i64],
                )
                .map_err(map_err)?;
            if changed == 0 {
                return Err(StoreError::Conflict(format!("comment {} is not at version {expected}", m.id)));
            }
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl OpinionDesk for SqliteStore {
    async fn create_item(&self, item: &OpinionItem) -> StoreResult<()> {
        let i = item.clone();
        self.write(move |c| {
            let added = c
                .execute(
                    "INSERT OR IGNORE INTO opinion_items (id, recorded_ms, unit, version, doc) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![i.id, ms(i.recorded_at), i.unit.as_ref().map(|u| u.as_str()), i.version as i64, to_json(&i)],
                )
                .map_err(map_err)?;
            if added == 0 {
                return Err(StoreError::Conflict(format!("item {} exists", i.id)));
            }
            Ok(())
        })
        .await
    }

    async fn item(&self, id: &str) -> StoreResult<Option<OpinionItem>> {
        let id = id.to_owned();
        self.read(move |c| Ok(query_docs(c, "SELECT doc FROM opinion_items WHERE id = ?1", [id])?.pop())).await
    }

    async fn save_item(&self, item: &OpinionItem, expected: u64) -> StoreResult<()> {
        let i = item.clone();
        self.write(move |c| {
            let changed = c
                .execute(
                    "UPDATE opinion_items SET unit = ?2, version = ?3, doc = ?4 WHERE id = ?1 AND version = ?5",
                    params![i.id, i.unit.as_ref().map(|u| u.as_str()), i.version as i64, to_json(&i), expected as i64],
                )
                .map_err(map_err)?;
            if changed == 0 {
                return Err(StoreError::Conflict(format!("item {} is not at version {expected}", i.id)));
            }
            Ok(())
        })
        .await
    }

    async fn items(&self, since: DateTime<Utc>, until: DateTime<Utc>) -> StoreResult<Vec<OpinionItem>> {
        self.read(move |c| {
            query_docs(
                c,
                "SELECT doc FROM opinion_items WHERE recorded_ms >= ?1 AND recorded_ms <= ?2 ORDER BY recorded_ms DESC, id DESC",
                params![ms(since), ms(until)],
            )
        })
        .await
    }

    async fn unit_items(&self, unit: &UnitId, limit: usize) -> StoreResult<Vec<OpinionItem>> {
        let unit = unit.to_string();
        self.read(move |c| {
            query_docs(
                c,
                "SELECT doc FROM opinion_items WHERE unit = ?1 ORDER BY recorded_ms DESC, id DESC LIMIT ?2",
                params![unit, limit as i64],
            )
        })
        .await
    }
}

#[async_trait]
impl Notifier for SqliteStore {
    async fn notify(&self, notifications: &[Notification]) -> StoreResult<()> {
        let notifications = notifications.to_vec();
        self.write(move |c| write_notifications(c, &notifications)).await
    }
}

fn new_receipt(id: i64) -> String {
    let mut bytes = [0u8; 12];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("{id}-{}", hex::encode(bytes))
}

fn queue_err(e: StoreError) -> QueueError {
    QueueError::Unavailable(e.to_string())
}

#[async_trait]
impl HandoffQueue for SqliteStore {
    async fn send_delayed(&self, queue: &str, body: &str, delay: Duration) -> QueueResult<()> {
        self.check_queue(queue)?;
        let (queue, body) = (queue.to_owned(), body.to_owned());
        let delay_ms = delay.min(Duration::from_secs(900)).as_millis() as i64;
        self.write(move |c| {
            let now = now_ms();
            c.execute(
                "INSERT INTO queue (queue, body, visible_ms, created_ms) VALUES (?1, ?2, ?3, ?4)",
                params![queue, body, now + delay_ms, now],
            )
            .map_err(map_err)?;
            Ok(())
        })
        .await
        .map_err(queue_err)
    }

    async fn receive(&self, queue: &str, max: usize, visibility: Duration) -> QueueResult<Vec<Received>> {
        self.check_queue(queue)?;
        let queue = queue.to_owned();
        let max_receives = self.inner.max_receives as i64;
        self.write(move |c| {
            let now = now_ms();
            // Redrive: a message that was received max_receives times and came back is dead.
            c.execute(
                "UPDATE queue SET dead = 1 WHERE queue = ?1 AND dead = 0 AND visible_ms <= ?2 AND receive_count >= ?3",
                params![queue, now, max_receives],
            )
            .map_err(map_err)?;
            let mut stmt = c
                .prepare_cached("SELECT id, body, receive_count FROM queue WHERE queue = ?1 AND dead = 0 AND visible_ms <= ?2 ORDER BY id LIMIT ?3")
                .map_err(map_err)?;
            let rows = stmt
                .query_map(params![queue, now, max as i64], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?)))
                .map_err(map_err)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(map_err)?;
            let visible = now + visibility.as_millis() as i64;
            let mut out = Vec::with_capacity(rows.len());
            for (id, body, count) in rows {
                let receipt = new_receipt(id);
                c.execute("UPDATE queue SET receive_count = ?1, visible_ms = ?2, receipt = ?3 WHERE id = ?4", params![count + 1, visible, receipt, id])
                    .map_err(map_err)?;
                out.push(Received { id: id.to_string(), body, receive_count: (count + 1) as u32, receipt });
            }
            Ok(out)
        })
        .await
        .map_err(queue_err)
    }

    async fn delete(&self, queue: &str, receipt: &str) -> QueueResult<()> {
        self.check_queue(queue)?;
        let (queue, receipt) = (queue.to_owned(), receipt.to_owned());
        self.write(move |c| {
            c.execute("DELETE FROM queue WHERE queue = ?1 AND receipt = ?2 AND dead = 0", params![queue, receipt])
                .map_err(map_err)?;
            Ok(())
        })
        .await
        .map_err(queue_err)
    }

    async fn dead_letters(&self, queue: &str) -> QueueResult<Vec<Received>> {
        self.check_queue(queue)?;
        let queue = queue.to_owned();
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached("SELECT id, body, receive_count FROM queue WHERE queue = ?1 AND dead = 1 ORDER BY id")
                .map_err(map_err)?;
            let rows = stmt
                .query_map([queue], |r| {
                    Ok(Received {
                        id: r.get::<_, i64>(0)?.to_string(),
                        body: r.get(1)?,
                        receive_count: r.get::<_, i64>(2)? as u32,
                        receipt: String::new(),
                    })
                })
                .map_err(map_err)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(map_err)
        })
        .await
        .map_err(queue_err)
    }
}

fn one_account(conn: &Connection, sql: &str, key: &str) -> StoreResult<Option<Account>> {
    conn.query_row(sql, [key], |r| r.get::<_, String>(0))
        .optional()
        .map_err(map_err)?
        .map(|d| from_json(&d))
        .transpose()
}

#[async_trait]
impl AccountStore for SqliteStore {
    async fn account(&self, username: &str) -> StoreResult<Option<Account>> {
        let username = username.to_owned();
        self.read(move |c| one_account(c, "SELECT doc FROM accounts WHERE username = ?1", &username)).await
    }

    async fn account_by_subject(&self, subject: &str) -> StoreResult<Option<Account>> {
        let subject = subject.to_owned();
        self.read(move |c| one_account(c, "SELECT doc FROM accounts WHERE subject = ?1", &subject)).await
    }

    async fn accounts(&self) -> StoreResult<Vec<Account>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT doc FROM accounts ORDER BY username").map_err(map_err)?;
            let docs = stmt
                .query_map([], |r| r.get::<_, String>(0))
                .map_err(map_err)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(map_err)?;
            docs.iter().map(|d| from_json(d)).collect()
        })
        .await
    }

    async fn put_account(&self, account: &Account) -> StoreResult<()> {
        let account = account.clone();
        self.write(move |c| {
            // The unique index on `subject` refuses a subject linked to another account (Conflict).
            c.execute(
                "INSERT INTO accounts (username, doc, subject) VALUES (?1, ?2, ?3)
                 ON CONFLICT(username) DO UPDATE SET doc = excluded.doc, subject = excluded.subject",
                params![account.username, to_json(&account), account.oidc_subject],
            )
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn put_session(&self, session: &Session) -> StoreResult<()> {
        let session = session.clone();
        self.write(move |c| {
            c.execute(
                "INSERT INTO sessions (token_hash, doc, expires_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT(token_hash) DO UPDATE SET doc = excluded.doc, expires_ms = excluded.expires_ms",
                params![session.token_hash, to_json(&session), ms(session.expires_at)],
            )
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn session(&self, token_hash: &str) -> StoreResult<Option<Session>> {
        let token_hash = token_hash.to_owned();
        self.read(move |c| {
            c.query_row("SELECT doc FROM sessions WHERE token_hash = ?1", [token_hash], |r| r.get::<_, String>(0))
                .optional()
                .map_err(map_err)?
                .map(|d| from_json(&d))
                .transpose()
        })
        .await
    }

    async fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
        let token_hash = token_hash.to_owned();
        self.write(move |c| {
            c.execute("DELETE FROM sessions WHERE token_hash = ?1", [token_hash]).map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn purge_sessions(&self, now: DateTime<Utc>) -> StoreResult<usize> {
        self.write(move |c| c.execute("DELETE FROM sessions WHERE expires_ms <= ?1", [ms(now)]).map_err(map_err)).await
    }
}

#[async_trait]
impl AttemptStore for SqliteStore {
    async fn take(&self, key: &str, max: u32, window: Duration, now: DateTime<Utc>) -> StoreResult<bool> {
        let key = key.to_owned();
        let (now, until) = (ms(now), ms(now) + window.as_millis() as i64);
        self.write(move |c| {
            // One statement: a new key or a key whose window passed starts a window with this
            // attempt; a key under its limit counts it in its window; a key at its limit is left
            // alone (no row changes).
            let changed = c
                .execute(
                    "INSERT INTO limits (key, count, expires_ms) VALUES (?1, 1, ?3)
                     ON CONFLICT(key) DO UPDATE
                        SET count = CASE WHEN expires_ms <= ?2 THEN 1 ELSE count + 1 END,
                            expires_ms = CASE WHEN expires_ms <= ?2 THEN ?3 ELSE expires_ms END
                        WHERE expires_ms <= ?2 OR count < ?4",
                    params![key, now, until, max as i64],
                )
                .map_err(map_err)?;
            Ok(changed == 1)
        })
        .await
    }

    async fn give_back(&self, key: &str) -> StoreResult<()> {
        let key = key.to_owned();
        self.write(move |c| give_back(c, &key)).await
    }

    async fn clear(&self, key: &str) -> StoreResult<()> {
        let key = key.to_owned();
        self.write(move |c| {
            c.execute("DELETE FROM limits WHERE key = ?1", [key]).map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn purge_expired(&self, now: DateTime<Utc>) -> StoreResult<usize> {
        self.write(move |c| c.execute("DELETE FROM limits WHERE expires_ms <= ?1", [ms(now)]).map_err(map_err)).await
    }
}

#[async_trait]
impl ApiKeyStore for SqliteStore {
    async fn create_api_key(&self, key: &ApiKey) -> StoreResult<()> {
        let k = key.clone();
        self.write(move |c| {
            // OR IGNORE: a taken id or digest must not fail the other writes of the group commit.
            let added = c
                .execute(
                    "INSERT OR IGNORE INTO api_keys (id, digest, created_ms, doc) VALUES (?1, ?2, ?3, ?4)",
                    params![k.id, k.digest, ms(k.created_at), to_json(&k)],
                )
                .map_err(map_err)?;
            if added == 0 {
                return Err(StoreError::Conflict(format!("api key {} exists", k.id)));
            }
            Ok(())
        })
        .await
    }

    async fn api_key(&self, digest: &str) -> StoreResult<Option<ApiKey>> {
        let digest = digest.to_owned();
        self.read(move |c| Ok(query_docs(c, "SELECT doc FROM api_keys WHERE digest = ?1", [digest])?.pop())).await
    }

    async fn api_keys(&self) -> StoreResult<Vec<ApiKey>> {
        self.read(|c| query_docs(c, "SELECT doc FROM api_keys ORDER BY created_ms, id", [])).await
    }

    async fn revoke_api_key(&self, id: &str, at: DateTime<Utc>) -> StoreResult<ApiKey> {
        let id = id.to_owned();
        self.write(move |c| {
            let found: Option<ApiKey> = query_docs(c, "SELECT doc FROM api_keys WHERE id = ?1", [id.as_str()])?.pop();
            let mut key = found.ok_or(StoreError::NotFound)?;
            if key.revoked_at.is_none() {
                key.revoked_at = Some(at);
                c.execute("UPDATE api_keys SET doc = ?2 WHERE id = ?1", params![id, to_json(&key)]).map_err(map_err)?;
            }
            Ok(key)
        })
        .await
    }
}

/// One attempt given back under `key`, where one is counted.
fn give_back(c: &Connection, key: &str) -> StoreResult<()> {
    c.execute("UPDATE limits SET count = count - 1 WHERE key = ?1 AND count > 0", [key]).map_err(map_err)?;
    Ok(())
}

/// The next value of a named sequence (1, 2, …).
fn next_sequence(c: &Connection, name: &str) -> StoreResult<u64> {
    c.query_row(
        "INSERT INTO sequences (name, value) VALUES (?1, 1) ON CONFLICT(name) DO UPDATE SET value = value + 1 RETURNING value",
        [name],
        |r| r.get::<_, i64>(0),
    )
    .map(|v| v as u64)
    .map_err(map_err)
}
