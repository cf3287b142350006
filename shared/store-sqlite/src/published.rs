//! Published replies on SQLite: a `published` row and a full-text row per published case, written
//! with the case in its transaction; searched through FTS5 in key (= newest reply) order, so a page
//! reads its rows and stops — no sort of every match, whatever the number of replies.

use crate::{from_json, map_err};
use mailbox_app::ports::{StoreError, StoreResult};
use mailbox_app::published::{reply_ms, ReplyCursor, ReplyPage, ReplyQuery};
use mailbox_app::reports::is_published;
use mailbox_domain::case::Case;
use rusqlite::{params_from_iter, Connection, OptionalExtension};

/// Keys of the replies of one millisecond: `reply ms × 1000 + n`.
const PER_MS: i64 = 1000;

/// What `cases.pub_rules` holds (see `published::pub_rules`).
pub(crate) fn pub_rules(case: &Case) -> Option<i64> {
    mailbox_app::published::pub_rules(case).map(i64::from)
}

/// The replying unit and triage's domain of a published case.
fn unit_and_domain(case: &Case) -> (String, Option<String>) {
    let unit = case.reply.as_ref().map(|r| r.unit.to_string()).unwrap_or_default();
    let domain = case.triage.as_ref().and_then(|t| t.domain.as_ref()).map(|d| d.value.clone());
    (unit, domain)
}

/// A filter as a term of the `tags` column (letters, digits, `_` and `-` only: one token).
fn tag(prefix: &str, value: &str) -> String {
    let value: String = value.chars().filter(|c| c.is_alphanumeric() || *c == '-' || *c == '_').collect();
    format!("{prefix}_{}", value.to_lowercase())
}

/// Keeps the published row of `case` as the case is: added, replaced when anything it is found by
/// changed, removed when it is no longer published. Runs in the case's own transaction.
pub(crate) fn sync(conn: &Connection, case: &Case) -> StoreResult<()> {
    let existing: Option<(i64, String)> = conn
        .query_row("SELECT key, sig FROM published WHERE case_id = ?1", [case.id.as_str()], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()
        .map_err(map_err)?;
    let wanted = case.published.as_ref().filter(|_| is_published(case)).zip(reply_ms(case));
    let Some((text, at)) = wanted else {
        if let Some((key, _)) = existing {
            remove(conn, key)?;
        }
        return Ok(());
    };
    let (unit, domain) = unit_and_domain(case);
    let sig = format!(
        "{}|{}|{at}|{}|{unit}|{}|{}",
        text.rules,
        text.source,
        case.mailbox,
        domain.as_deref().unwrap_or(""),
        u8::from(case.featured)
    );
    if let Some((key, old)) = &existing {
        if *old == sig {
            return Ok(());
        }
        remove(conn, *key)?;
    }
    let base = at * PER_MS;
    let top: Option<i64> = conn
        .query_row("SELECT max(key) FROM published WHERE key BETWEEN ?1 AND ?2", [base, base + PER_MS - 1], |r| {
            r.get(0)
        })
        .map_err(map_err)?;
    let key = match top {
        None => base,
        Some(k) if k < base + PER_MS - 1 => k + 1,
        Some(_) => {
            return Err(StoreError::Conflict(format!("more than {PER_MS} replies published in one millisecond")))
        }
    };
    conn.execute(
        "INSERT INTO published (key, case_id, mailbox, unit, domain, featured, sig) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        rusqlite::params![key, case.id.as_str(), case.mailbox.as_str(), unit, domain, case.featured, sig],
    )
    .map_err(map_err)?;
    let mut tags = vec![tag("mb", case.mailbox.as_str()), tag("u", &unit)];
    tags.extend(domain.as_deref().map(|d| tag("d", d)));
    if case.featured {
        tags.push("f_1".into());
    }
    let (title_terms, text_terms) = mailbox_app::published::terms(text);
    conn.execute(
        "INSERT INTO published_words (rowid, title, text, tags) VALUES (?1, ?2, ?3, ?4)",
        rusqlite::params![key, title_terms, text_terms, tags.join(" ")],
    )
    .map_err(map_err)?;
    Ok(())
}

fn remove(conn: &Connection, key: i64) -> StoreResult<()> {
    conn.execute("DELETE FROM published_words WHERE rowid = ?1", [key]).map_err(map_err)?;
    conn.execute("DELETE FROM published WHERE key = ?1", [key]).map_err(map_err)?;
    Ok(())
}

/// A word as an FTS5 string (never syntax).
fn quoted(word: &str) -> String {
    format!("\"{}\"", word.replace('"', "\"\""))
}

/// The full-text expression of one tier of `q` (which has words).
fn match_expr(q: &ReplyQuery, tier: u8) -> String {
    let words = q.words.iter().map(|w| quoted(w)).collect::<Vec<_>>().join(" ");
    let mut expr = if tier == 1 { format!("title : ({words})") } else { format!("(({words}) NOT title : ({words}))") };
    let mut filters = Vec::new();
    filters.extend(q.mailbox.as_ref().map(|m| tag("mb", m.as_str())));
    filters.extend(q.unit.as_ref().map(|u| tag("u", u.as_str())));
    filters.extend(q.domain.as_deref().map(|d| tag("d", d)));
    if q.featured_only {
        filters.push("f_1".into());
    }
    for f in filters {
        expr.push_str(&format!(" AND tags : {}", quoted(&f)));
    }
    expr
}

/// Up to `want` (key, doc) of one tier with keys in `[from, before)`, newest first.
fn tier_rows(
    conn: &Connection,
    q: &ReplyQuery,
    tier: u8,
    before: i64,
    from: i64,
    want: usize,
) -> StoreResult<Vec<(i64, String)>> {
    let mut args: Vec<rusqlite::types::Value> = vec![before.into(), from.into()];
    let sql = if q.words.is_empty() {
        // Browsing: the published rows on the index of the filter given, in key order.
        let mut sql = String::from(
            "SELECT p.key, c.doc FROM published p JOIN cases c ON c.id = p.case_id WHERE p.key < ?1 AND p.key >= ?2",
        );
        let mut filter = |column: &str, value: Option<String>| {
            if let Some(v) = value {
                args.push(v.into());
                sql.push_str(&format!(" AND p.{column} = ?{}", args.len()));
            }
        };
        filter("mailbox", q.mailbox.as_ref().map(|m| m.to_string()));
        filter("unit", q.unit.as_ref().map(|u| u.to_string()));
        filter("domain", q.domain.clone());
        if q.featured_only {
            sql.push_str(" AND p.featured = 1");
        }
        sql.push_str(" ORDER BY p.key DESC");
        sql
    } else {
        args.push(match_expr(q, tier).into());
        String::from(
            "WITH hits AS (SELECT rowid AS key FROM published_words WHERE published_words MATCH ?3
                 AND rowid < ?1 AND rowid >= ?2 ORDER BY rowid DESC LIMIT ?4)
             SELECT hits.key, c.doc FROM hits JOIN published p ON p.key = hits.key JOIN cases c ON c.id = p.case_id
             ORDER BY hits.key DESC",
        )
    };
    args.push((want as i64).into());
    let sql = if q.words.is_empty() { format!("{sql} LIMIT ?{}", args.len()) } else { sql };
    let mut stmt = conn.prepare_cached(&sql).map_err(map_err)?;
    let rows = stmt
        .query_map(params_from_iter(args), |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>());
    match rows {
        Ok(rows) => Ok(rows),
        Err(e) if unsearchable(&e) => Ok(Vec::new()),
        Err(e) => Err(map_err(e)),
    }
}

/// Whether FTS5 refused a query's terms (a term its tokenizer splits in two is a phrase, which
/// `detail=column` cannot answer): such terms are in no index row, so nothing matches.
pub(crate) fn unsearchable(e: &rusqlite::Error) -> bool {
    let text = e.to_string();
    text.contains("fts5:") || text.contains("detail!=full") || text.contains("not supported")
}

/// The key a cursor continues before: its case's key when that case is still where it was, else
/// the start of its millisecond (a case withdrawn meanwhile).
fn before_key(conn: &Connection, cursor: &ReplyCursor) -> StoreResult<i64> {
    let start = cursor.ms.saturating_mul(PER_MS);
    let Some(id) = &cursor.id else { return Ok(start) };
    let key: Option<i64> = conn
        .query_row("SELECT key FROM published WHERE case_id = ?1", [id], |r| r.get(0))
        .optional()
        .map_err(map_err)?;
    Ok(key.filter(|k| k.div_euclid(PER_MS) == cursor.ms).unwrap_or(start))
}

/// `CaseStore::published`.
pub(crate) fn search(conn: &Connection, q: &ReplyQuery) -> StoreResult<ReplyPage> {
    let limit = q.limit.max(1);
    let (from, to) = q.span.map_or((i64::MIN, i64::MAX), |(f, t)| (f.saturating_mul(PER_MS), t.saturating_mul(PER_MS)));
    let tiers: &[u8] = if q.words.is_empty() { &[0] } else { &[1, 0] };
    let mut rows: Vec<(u8, i64, String)> = Vec::new();
    for &tier in tiers {
        let before = match &q.after {
            Some(c) if c.tier < tier => continue,
            Some(c) if c.tier == tier => before_key(conn, c)?.min(to),
            _ => to,
        };
        let want = limit + 1 - rows.len();
        rows.extend(tier_rows(conn, q, tier, before, from, want)?.into_iter().map(|(k, d)| (tier, k, d)));
        if rows.len() > limit {
            break;
        }
    }
    let more = rows.len() > limit;
    rows.truncate(limit);
    let items = rows.iter().map(|(_, _, d)| from_json::<Case>(d)).collect::<StoreResult<Vec<_>>>()?;
    let next = match (more, rows.last(), items.last()) {
        (true, Some((tier, key, _)), Some(case)) => {
            Some(ReplyCursor { tier: *tier, ms: key.div_euclid(PER_MS), id: Some(case.id.to_string()) })
        }
        _ => None,
    };
    Ok(ReplyPage { items, next })
}

/// `CaseStore::stale_published`: through the partial index on `pub_rules`.
pub(crate) fn stale(conn: &Connection, rules: u32, limit: usize) -> StoreResult<Vec<Case>> {
    crate::query_cases(
        conn,
        "SELECT doc FROM cases WHERE pub_rules < ?1 ORDER BY pub_rules LIMIT ?2",
        rusqlite::params![i64::from(rules), limit as i64],
    )
}
