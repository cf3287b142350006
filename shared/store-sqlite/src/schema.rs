//! The database schema, created on first open. `user_version` records what has been applied.

use crate::writer::map_err;
use mailbox_app::ports::StoreResult;
use rusqlite::Connection;

const V1: &str = "
CREATE TABLE cases (
    id TEXT PRIMARY KEY,
    number TEXT NOT NULL UNIQUE,
    dispatcher TEXT NOT NULL,
    mailbox TEXT NOT NULL,
    status TEXT NOT NULL,
    alarm_ms INTEGER,         -- the case's next_alarm: when the deadline sweep must look at it (sparse)
    sort_due_ms INTEGER,      -- due instant for ordering lists
    submitted_ms INTEGER NOT NULL,
    public_month TEXT,        -- YYYY-MM (China) of a public reply; NULL otherwise
    reply_ms INTEGER,
    version INTEGER NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX cases_dispatcher ON cases (dispatcher, status, sort_due_ms);
CREATE INDEX cases_alarm ON cases (alarm_ms) WHERE alarm_ms IS NOT NULL;
CREATE INDEX cases_public ON cases (public_month, mailbox, reply_ms) WHERE public_month IS NOT NULL;
CREATE INDEX cases_sort ON cases (sort_due_ms, submitted_ms);
CREATE TABLE case_units (unit TEXT NOT NULL, case_id TEXT NOT NULL, PRIMARY KEY (unit, case_id)) WITHOUT ROWID;
CREATE INDEX case_units_case ON case_units (case_id);
CREATE TABLE events (case_id TEXT NOT NULL, seq INTEGER NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (case_id, seq)) WITHOUT ROWID;
CREATE TABLE counters (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE sequences (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE idempotency (
    key TEXT PRIMARY KEY, case_id TEXT NOT NULL, fingerprint TEXT NOT NULL, query_code TEXT NOT NULL, created_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE outbox (key TEXT PRIMARY KEY, unit TEXT NOT NULL, doc TEXT NOT NULL, created_ms INTEGER NOT NULL);
CREATE INDEX outbox_unit ON outbox (unit, created_ms);
CREATE TABLE queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    body TEXT NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    visible_ms INTEGER NOT NULL,
    receipt TEXT,
    dead INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL
);
CREATE INDEX queue_ready ON queue (queue, dead, visible_ms);
CREATE INDEX queue_receipt ON queue (receipt);
CREATE TABLE accounts (username TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE sessions (token_hash TEXT PRIMARY KEY, doc TEXT NOT NULL, expires_ms INTEGER NOT NULL);
CREATE TABLE calendar_notices (year INTEGER PRIMARY KEY, json TEXT NOT NULL);
";

/// A dispatcher's cases newest first (`CaseStore::recent`, triage's duplicate check).
const V2: &str = "
CREATE INDEX cases_recent ON cases (dispatcher, submitted_ms, id);
";

/// Accounts linked to an identity provider's subject; counted attempts shared by every process
/// (query codes, sign-ins); the calendar's version and how far its recomputation got (a database
/// with notices imported before counts each as a version, already recomputed: the import did it
/// then); the cases with a running deadline by id (the recomputation job's walk: a partial index, as
/// DynamoDB's sparse G7).
const V3: &str = "
ALTER TABLE accounts ADD COLUMN subject TEXT;
CREATE UNIQUE INDEX accounts_subject ON accounts (subject) WHERE subject IS NOT NULL;
CREATE TABLE limits (key TEXT PRIMARY KEY, count INTEGER NOT NULL, expires_ms INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX limits_expiry ON limits (expires_ms);
CREATE INDEX sessions_expiry ON sessions (expires_ms);
CREATE TABLE calendar_state (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL, recomputed INTEGER NOT NULL);
INSERT INTO calendar_state (id, version, recomputed)
    SELECT 1, count(*), count(*) FROM calendar_notices;
CREATE INDEX cases_running ON cases (id) WHERE status IN ('in_progress', 'reported');
";

/// Idempotency records without the query code in the clear, lapsing after a day (the old table's
/// rows hold plain codes and go with it: a retry of a submission made before the upgrade creates a
/// new case); an index to expire notifications by age.
const V4: &str = "
DROP TABLE idempotency;
CREATE TABLE idempotency (
    key_digest TEXT PRIMARY KEY, case_id TEXT NOT NULL, fingerprint TEXT NOT NULL, sealed_code TEXT NOT NULL,
    expires_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX idempotency_expiry ON idempotency (expires_ms);
CREATE INDEX outbox_created ON outbox (created_ms);
";

/// The outbox of domain events, written in each change's transaction and read by the relay in
/// commit order (`position`); published ones are kept `EVENT_RETENTION`. Cases changed before
/// this version had their messages sent after the commit already: there is nothing to backfill.
const V5: &str = "
CREATE TABLE domain_events (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    doc TEXT NOT NULL,
    published_ms INTEGER
);
CREATE INDEX domain_events_unpublished ON domain_events (position) WHERE published_ms IS NULL;
CREATE INDEX domain_events_published ON domain_events (published_ms) WHERE published_ms IS NOT NULL;
";

/// Deliveries of notifications (e-mail, SMS): due ones by time (a partial index of the pending),
/// the log newest first.
const V6: &str = "
CREATE TABLE deliveries (
    key TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    next_ms INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    version INTEGER NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (next_ms) WHERE status = 'pending';
CREATE INDEX deliveries_log ON deliveries (created_ms, key);
CREATE INDEX deliveries_status ON deliveries (status, created_ms);
";

/// 并单: the original each merged case names, for `CaseStore::merged_into` (a partial index: only
/// merged cases have one).
const V7: &str = "
ALTER TABLE cases ADD COLUMN merged_into TEXT;
CREATE INDEX cases_merged ON cases (merged_into, id) WHERE merged_into IS NOT NULL;
";

/// Topic-finding (舆情): an entry per triaged message by time, the hot topics by their last message.
const V8: &str = "
CREATE TABLE topic_entries (case_id TEXT PRIMARY KEY, at_ms INTEGER NOT NULL, topic TEXT, doc TEXT NOT NULL);
CREATE INDEX topic_entries_at ON topic_entries (at_ms, case_id);
CREATE TABLE hot_topics (
    id TEXT PRIMARY KEY, first_ms INTEGER NOT NULL, last_ms INTEGER NOT NULL, version INTEGER NOT NULL, doc TEXT NOT NULL
);
CREATE INDEX hot_topics_last ON hot_topics (last_ms);
";

/// 政民互动: topics newest first, each topic's comments by status and time.
const V9: &str = "
CREATE TABLE discussion_topics (id TEXT PRIMARY KEY, created_ms INTEGER NOT NULL, version INTEGER NOT NULL, doc TEXT NOT NULL);
CREATE INDEX discussion_topics_created ON discussion_topics (created_ms, id);
CREATE TABLE discussion_comments (
    topic TEXT NOT NULL, id TEXT NOT NULL, status TEXT NOT NULL, at_ms INTEGER NOT NULL, version INTEGER NOT NULL, doc TEXT NOT NULL,
    PRIMARY KEY (topic, id)
) WITHOUT ROWID;
CREATE INDEX discussion_comments_status ON discussion_comments (topic, status, at_ms);
";

/// The 舆情 desk's items: by time recorded, and a unit's by the unit they were sent to.
const V10: &str = "
CREATE TABLE opinion_items (id TEXT PRIMARY KEY, recorded_ms INTEGER NOT NULL, unit TEXT, version INTEGER NOT NULL, doc TEXT NOT NULL);
CREATE INDEX opinion_items_recorded ON opinion_items (recorded_ms, id);
CREATE INDEX opinion_items_unit ON opinion_items (unit, recorded_ms) WHERE unit IS NOT NULL;
";

/// Other systems' API keys (Open311): found by digest, listed by creation.
const V11: &str = "
CREATE TABLE api_keys (id TEXT PRIMARY KEY, digest TEXT NOT NULL UNIQUE, created_ms INTEGER NOT NULL, doc TEXT NOT NULL);
";

/// Published replies (masked when published): one row per published case keyed by reply instant
/// (`reply ms × 1000 + n`, so key order is newest order and the key is the full-text rowid), the
/// search words in a contentless FTS5 table (words segmented by the application, so the
/// `unicode61` tokenizer only splits on the spaces between them; filters as `tags` terms), and
/// `cases.pub_rules` marking cases whose published text is missing or masked by older rules
/// (every case with a public reply is such at first: the application masks them again).
const V12: &str = "
DROP INDEX cases_public;
ALTER TABLE cases DROP COLUMN public_month;
ALTER TABLE cases DROP COLUMN reply_ms;
ALTER TABLE cases ADD COLUMN pub_rules INTEGER;
UPDATE cases SET pub_rules = 0 WHERE json_extract(doc, '$.reply.public') = 1;
CREATE INDEX cases_pub_rules ON cases (pub_rules) WHERE pub_rules IS NOT NULL;
CREATE TABLE published (
    key INTEGER PRIMARY KEY, case_id TEXT NOT NULL UNIQUE, mailbox TEXT NOT NULL, unit TEXT NOT NULL,
    domain TEXT, featured INTEGER NOT NULL, sig TEXT NOT NULL
);
CREATE INDEX published_mailbox ON published (mailbox, key);
CREATE INDEX published_unit ON published (unit, key);
CREATE INDEX published_domain ON published (domain, key) WHERE domain IS NOT NULL;
CREATE INDEX published_featured ON published (key) WHERE featured = 1;
CREATE VIRTUAL TABLE published_words USING fts5(title, text, tags, content='', contentless_delete=1,
    detail=column, tokenize=\"unicode61 remove_diacritics 0 tokenchars '_-' categories 'L* N* Co M*'\");
";

/// Staff lists walk indexes in list position order (`COALESCE(sort_due_ms, NO_DUE), id`; a unit's
/// memberships carry the position too), filter by the deadline instant of open cases (`due_ms`) and
/// search titles through a contentless FTS5 table of their terms, raw and masked (supervisors'),
/// keyed by a stable integer per case (`case_title_keys`; rowids of `cases` may change on VACUUM).
/// Existing titles are indexed by `lists::backfill_titles` in the same step.
const V13: &str = "
ALTER TABLE cases ADD COLUMN due_ms INTEGER;
UPDATE cases SET due_ms = (unixepoch(json_extract(doc, '$.deadline.due_on')) + 86400 - 28800) * 1000
    WHERE status NOT IN ('invalid', 'replied', 'closed', 'merged') AND json_extract(doc, '$.deadline.due_on') IS NOT NULL;
CREATE INDEX cases_list_dispatcher ON cases (dispatcher, COALESCE(sort_due_ms, 9999999999999), id);
CREATE INDEX cases_list_all ON cases (COALESCE(sort_due_ms, 9999999999999), id);
ALTER TABLE case_units ADD COLUMN pos INTEGER NOT NULL DEFAULT 9999999999999;
UPDATE case_units SET pos = (SELECT COALESCE(c.sort_due_ms, 9999999999999) FROM cases c WHERE c.id = case_units.case_id);
CREATE INDEX case_units_list ON case_units (unit, pos, case_id);
CREATE TABLE case_title_keys (key INTEGER PRIMARY KEY, case_id TEXT NOT NULL UNIQUE);
CREATE VIRTUAL TABLE case_titles USING fts5(title, masked, content='', contentless_delete=1, detail=column,
    tokenize=\"unicode61 remove_diacritics 0 categories 'L* N* Co M*'\");
";

/// The plain `cases_sort` goes: version 13's list position index replaced it, and each index is one
/// more to write per change. (A step of its own: databases already at 13 drop it too.)
const V14: &str = "
DROP INDEX IF EXISTS cases_sort;
";

/// `CaseStore::running_deadlines`: a page of the partial index `cases_running`, in id order.
pub const RUNNING_SQL: &str =
    "SELECT doc FROM cases WHERE status IN ('in_progress', 'reported') AND id > ?1 ORDER BY id LIMIT ?2";

/// `CaseStore::recent`: walks `cases_recent` backwards, no sort.
pub const RECENT_SQL: &str = "SELECT doc FROM cases WHERE dispatcher = ?1 AND (submitted_ms, id) <= (?2, ?3)
     ORDER BY submitted_ms DESC, id DESC LIMIT ?4";

/// Brings the database to the newest schema. Each step runs in its own write transaction and
/// re-reads the version inside it, so two processes opening an old database at once (`mailbox
/// serve` and `mailbox stats reconcile`, say) apply each step once.
pub fn migrate(conn: &Connection) -> StoreResult<()> {
    const STEPS: [(i64, &str); 14] = [
        (1, V1),
        (2, V2),
        (3, V3),
        (4, V4),
        (5, V5),
        (6, V6),
        (7, V7),
        (8, V8),
        (9, V9),
        (10, V10),
        (11, V11),
        (12, V12),
        (13, V13),
        (14, V14),
    ];
    // A current database (every open but the first) needs no write lock.
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(map_err)?;
    for (to, sql) in STEPS.into_iter().filter(|(to, _)| version < *to) {
        conn.execute_batch("BEGIN IMMEDIATE").map_err(map_err)?;
        let step = (|| {
            let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            if version < to {
                conn.execute_batch(sql)?;
                if to == 13 {
                    crate::lists::backfill_titles(conn)?;
                }
                conn.execute_batch(&format!("PRAGMA user_version = {to};"))?;
            }
            conn.execute_batch("COMMIT")
        })();
        if let Err(e) = step {
            let _ = conn.execute_batch("ROLLBACK");
            return Err(map_err(e));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user_version(conn: &Connection) -> i64 {
        conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap()
    }

    #[test]
    fn a_version_1_database_migrates_to_the_newest_and_keeps_its_cases() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(&format!("{V1} PRAGMA user_version = 1;")).unwrap();
        conn.execute(
            "INSERT INTO cases (id, number, dispatcher, mailbox, status, submitted_ms, version, doc)
             VALUES ('c1', 'GA1', 'city-xfj', 'mayor', 'submitted', 1, 1, '{}'),
                    ('c2', 'GA2', 'city-xfj', 'mayor', 'replied', 1, 1, '{\"reply\":{\"public\":true}}')",
            [],
        )
        .unwrap();
        migrate(&conn).unwrap();
        // Version 12: a case with a public reply is to be published again (masked at publication).
        let stale: Vec<(String, Option<i64>)> = conn
            .prepare("SELECT id, pub_rules FROM cases ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(stale, [("c1".to_owned(), None), ("c2".to_owned(), Some(0))]);
        assert_eq!(user_version(&conn), 14);
        // Version 14: the plain sort index is gone (version 13's list indexes replaced it).
        let sort: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'cases_sort'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(sort, 0);
        // Version 7: the merged cases' original, with its partial index.
        let merged: Option<String> = conn.query_row("SELECT merged_into FROM cases", [], |r| r.get(0)).unwrap();
        assert_eq!(merged, None);
        let mut plan = conn.prepare(&format!("EXPLAIN QUERY PLAN {RECENT_SQL}")).unwrap();
        let steps: Vec<String> =
            plan.query_map(("city-xfj", 2, "c9", 10), |r| r.get(3)).unwrap().collect::<Result<_, _>>().unwrap();
        assert!(steps.iter().any(|s| s.contains("USING INDEX cases_recent")), "{steps:?}");
        assert!(!steps.iter().any(|s| s.contains("TEMP B-TREE")), "read in index order, not sorted: {steps:?}");
        let n: i64 = conn.query_row("SELECT count(*) FROM cases", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 2);
        // Version 8: topic-finding's tables, empty.
        let entries: i64 = conn.query_row("SELECT count(*) FROM topic_entries", [], |r| r.get(0)).unwrap();
        let topics: i64 = conn.query_row("SELECT count(*) FROM hot_topics", [], |r| r.get(0)).unwrap();
        assert_eq!((entries, topics), (0, 0));
        // Version 9: 政民互动's tables, empty.
        let topics: i64 = conn.query_row("SELECT count(*) FROM discussion_topics", [], |r| r.get(0)).unwrap();
        assert_eq!(topics, 0);
        // Version 10: the 舆情 desk's items, empty.
        let items: i64 = conn.query_row("SELECT count(*) FROM opinion_items", [], |r| r.get(0)).unwrap();
        assert_eq!(items, 0);
        // Version 11: API keys, none.
        let keys: i64 = conn.query_row("SELECT count(*) FROM api_keys", [], |r| r.get(0)).unwrap();
        assert_eq!(keys, 0);
        // Opening again applies nothing twice.
        migrate(&conn).unwrap();
        assert_eq!(user_version(&conn), 14);
    }

    #[test]
    fn a_version_2_database_counts_its_imported_notices_as_recomputed_calendar_versions() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(&format!("{V1} {V2} PRAGMA user_version = 2;")).unwrap();
        conn.execute("INSERT INTO calendar_notices (year, json) VALUES (2027, '{}')", []).unwrap();
        conn.execute("INSERT INTO accounts (username, doc) VALUES ('xfj', '{}')", []).unwrap();
        migrate(&conn).unwrap();
        let state: (i64, i64) = conn
            .query_row("SELECT version, recomputed FROM calendar_state", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap();
        assert_eq!(state, (1, 1));
        let mut plan = conn.prepare(&format!("EXPLAIN QUERY PLAN {RUNNING_SQL}")).unwrap();
        let steps: Vec<String> = plan.query_map(("", 10), |r| r.get(3)).unwrap().collect::<Result<_, _>>().unwrap();
        assert!(steps.iter().any(|s| s.contains("USING INDEX cases_running")), "{steps:?}");
        let subject: Option<String> =
            conn.query_row("SELECT subject FROM accounts WHERE username = 'xfj'", [], |r| r.get(0)).unwrap();
        assert_eq!(subject, None);
    }

    #[test]
    fn a_version_3_database_drops_its_plain_query_codes() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(&format!("{V1} {V2} {V3} PRAGMA user_version = 3;")).unwrap();
        conn.execute(
            "INSERT INTO idempotency (key, case_id, fingerprint, query_code, created_ms) VALUES ('k', 'c1', 'f', 'ABCDEFGHJK', 1)",
            [],
        )
        .unwrap();
        migrate(&conn).unwrap();
        let n: i64 = conn.query_row("SELECT count(*) FROM idempotency", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 0);
        let columns: Vec<String> = conn
            .prepare("SELECT name FROM pragma_table_info('idempotency')")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(!columns.iter().any(|c| c == "query_code"), "{columns:?}");
    }
}
