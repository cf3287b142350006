//! Staff lists on SQLite: every list is a walk of an index in list position order (`list_cursor`:
//! urgent waiting cases first, then due instant, no deadline last; then id), with the filters
//! applied along it, continued after a position — never a sort of everything in scope.

use crate::{from_json, map_err, status_name};
use mailbox_app::ports::{due_ms, parse_list_cursor, CasePage, CaseQuery, Scope, StoreError, StoreResult};
use mailbox_domain::case::Case;
use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection};

/// Position of cases without a deadline: after every real one (`ports::NO_DUE`).
pub(crate) const NO_DUE: i64 = 9_999_999_999_999;

/// A case's list position instant.
pub(crate) fn list_pos(case: &Case) -> i64 {
    case.list_instant().map_or(NO_DUE, |t| t.timestamp_millis())
}

/// The deadline instant lists filter on.
pub(crate) fn due(case: &Case) -> Option<i64> {
    due_ms(case)
}

/// The title index terms of a case: its title's and, for supervisors, its masked title's (masked
/// with the rules of its creation; readers check supervisors' matches against today's masking).
/// Computed before a write enters the one writer (masking is the costly part), written once: a
/// title never changes.
pub(crate) struct TitleTerms {
    raw: String,
    masked: String,
}

impl TitleTerms {
    pub(crate) fn of(case: &Case) -> TitleTerms {
        TitleTerms::of_text(&case.title, &case.citizen.name)
    }

    fn of_text(title: &str, name: &str) -> TitleTerms {
        let terms = |t: &str| mailbox_app::published::index_terms(t).join(" ");
        TitleTerms { raw: terms(title), masked: terms(&mailbox_domain::mask::mask_personal_data(title, &[name])) }
    }
}

/// Indexes a case's title (its key stable across VACUUM).
pub(crate) fn write_title(conn: &Connection, id: &str, terms: &TitleTerms) -> StoreResult<()> {
    conn.execute("INSERT OR IGNORE INTO case_title_keys (case_id) VALUES (?1)", [id]).map_err(map_err)?;
    let key: i64 =
        conn.query_row("SELECT key FROM case_title_keys WHERE case_id = ?1", [id], |r| r.get(0)).map_err(map_err)?;
    conn.execute("DELETE FROM case_titles WHERE rowid = ?1", [key]).map_err(map_err)?;
    conn.execute(
        "INSERT INTO case_titles (rowid, title, masked) VALUES (?1, ?2, ?3)",
        rusqlite::params![key, terms.raw, terms.masked],
    )
    .map_err(map_err)?;
    Ok(())
}

/// Indexes the titles of cases stored before titles were indexed (schema 13), in the migration's
/// transaction.
pub(crate) fn backfill_titles(conn: &Connection) -> rusqlite::Result<()> {
    let rows: Vec<(String, Option<String>, Option<String>)> = conn
        .prepare("SELECT id, json_extract(doc, '$.title'), json_extract(doc, '$.citizen.name') FROM cases")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    for (id, title, name) in rows {
        let terms = TitleTerms::of_text(title.as_deref().unwrap_or(""), name.as_deref().unwrap_or(""));
        write_title(conn, &id, &terms).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    }
    Ok(())
}

/// `CaseStore::list`.
pub(crate) fn list(conn: &Connection, q: &CaseQuery) -> StoreResult<CasePage> {
    let (after_pos, after_id) = match q.after.as_deref() {
        Some(cursor) => parse_list_cursor(cursor)
            .map(|(due, id)| (due, id.to_owned()))
            .ok_or_else(|| StoreError::Corrupt(format!("not a list position: {cursor}")))?,
        None => (-1, String::new()),
    };
    let mut args: Vec<Value> = Vec::new();
    let mut arg = |v: Value| {
        args.push(v);
        format!("?{}", args.len())
    };
    // The index walked: a unit's memberships (its own position column), or the cases.
    let unit = match &q.scope {
        Scope::Handler(u) => Some(u),
        _ => q.unit.as_ref(),
    };
    let (mut sql, pos, id) = match unit {
        Some(u) => (
            format!(
                "SELECT c.doc FROM case_units u JOIN cases c ON c.id = u.case_id WHERE u.unit = {}",
                arg(u.to_string().into())
            ),
            "u.pos",
            "u.case_id",
        ),
        None => (String::from("SELECT c.doc FROM cases c WHERE 1"), "COALESCE(c.sort_due_ms, 9999999999999)", "c.id"),
    };
    match &q.scope {
        Scope::Dispatcher(d) => sql.push_str(&format!(" AND c.dispatcher = {}", arg(d.to_string().into()))),
        Scope::Handler(h) if q.unit.as_ref().is_some_and(|u| u != h) => {
            // A handler filtering by another unit: the cases they share with it.
            let other = arg(q.unit.as_ref().map(|u| u.to_string()).unwrap_or_default().into());
            sql.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM case_units x WHERE x.case_id = c.id AND x.unit = {other})"
            ));
        }
        _ => {}
    }
    if !q.statuses.is_empty() {
        // Status names come from our own enum, never from the request text.
        let names: Vec<String> = q.statuses.iter().map(|s| format!("'{}'", status_name(*s))).collect();
        sql.push_str(&format!(" AND c.status IN ({})", names.join(",")));
    }
    if let Some((from, to)) = q.due {
        sql.push_str(&format!(" AND c.due_ms >= {} AND c.due_ms < {}", arg(from.into()), arg(to.into())));
    }
    if !q.title_terms.is_empty() {
        let column = if q.masked_titles { "masked" } else { "title" };
        let terms: Vec<String> = q.title_terms.iter().map(|t| format!("\"{}\"", t.replace('"', "\"\""))).collect();
        let expr = arg(format!("{column} : ({})", terms.join(" ")).into());
        sql.push_str(&format!(
            " AND {id} IN (SELECT k.case_id FROM case_titles t JOIN case_title_keys k ON k.key = t.rowid WHERE case_titles MATCH {expr})"
        ));
    }
    let (p, i) = (arg(after_pos.into()), arg(after_id.into()));
    let limit = arg(((q.limit.max(1) + 1) as i64).into());
    sql.push_str(&format!(" AND ({pos}, {id}) > ({p}, {i}) ORDER BY {pos}, {id} LIMIT {limit}"));
    let mut stmt = conn.prepare_cached(&sql).map_err(map_err)?;
    let docs: Vec<String> =
        match stmt.query_map(params_from_iter(args), |r| r.get(0)).and_then(|rows| rows.collect::<Result<_, _>>()) {
            Ok(docs) => docs,
            // Terms the full-text index cannot hold find nothing.
            Err(e) if crate::published::unsearchable(&e) => Vec::new(),
            Err(e) => return Err(map_err(e)),
        };
    let mut cases = docs.iter().map(|d| from_json::<Case>(d)).collect::<StoreResult<Vec<_>>>()?;
    let more = cases.len() > q.limit.max(1);
    cases.truncate(q.limit.max(1));
    let next = if more { cases.last().map(mailbox_app::ports::list_cursor) } else { None };
    Ok(CasePage { cases, next })
}
