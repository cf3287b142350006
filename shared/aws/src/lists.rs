//! Staff lists on DynamoDB: one Query per partition of the scope (a dispatcher's or a unit's list in
//! G2, every case's eight shards in G3) and status (the sort key starts with it), merged in list
//! position order. Filters are filter expressions on attributes beside each list item — title terms
//! (`tt`, and `mt` of the masked title), handling units (`hu`), the deadline instant of an open case
//! (`due`) — so each Query page evaluates a bounded number of items, and the merge gives only what
//! every partition has read past: a page may be short, with a `next`, never wrong.

use crate::dynamo::{doc_of, index_name, n, s, DynamoStore, Item};
use mailbox_app::ports::{due_ms, parse_list_cursor, CasePage, CaseQuery, Scope, StoreError, StoreResult};
use mailbox_domain::case::{Case, CaseStatus};

/// Shards of the all-cases list (`ALL#<n>` in G3).
const SHARDS: u32 = crate::dynamo::SHARDS;
/// Items one Query page evaluates when the list is filtered.
const EVALUATED: usize = 200;

/// " t1 t2 … ": terms as whole words for `contains`.
fn spaced(terms: Vec<String>) -> String {
    format!(" {} ", terms.join(" "))
}

/// The filter attributes of a list item (the case item and its membership items).
pub(crate) fn add_attributes(case: &Case, item: &mut Item) {
    let terms = mailbox_app::published::index_terms;
    item.insert("tt".into(), s(spaced(terms(&case.title))));
    item.insert("mt".into(), s(spaced(terms(&mailbox_app::views::masked_title(case)))));
    let units: Vec<String> = case.handling_units().map(|u| u.to_string()).collect();
    if !units.is_empty() {
        item.insert("hu".into(), s(spaced(units)));
    }
    if let Some(due) = due_ms(case) {
        item.insert("due".into(), n(due));
    }
}

fn status_name(s: CaseStatus) -> String {
    serde_json::to_value(s).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// The filter expression of a query and its values; `None` without filters.
fn filter_of(
    q: &CaseQuery,
    handler_scope: bool,
) -> Option<(String, Vec<(String, aws_sdk_dynamodb::types::AttributeValue)>)> {
    let mut parts = Vec::new();
    let mut values = Vec::new();
    let column = if q.masked_titles { "mt" } else { "tt" };
    for (i, t) in q.title_terms.iter().enumerate() {
        parts.push(format!("contains({column}, :t{i})"));
        values.push((format!(":t{i}"), s(format!(" {t} "))));
    }
    if let Some(u) = q.unit.as_ref().filter(|u| !(handler_scope && matches!(&q.scope, Scope::Handler(h) if h == *u))) {
        parts.push("contains(hu, :u)".into());
        values.push((":u".into(), s(format!(" {u} "))));
    }
    if let Some((from, to)) = q.due {
        parts.push("due BETWEEN :from AND :to".into());
        values.push((":from".into(), n(from.max(0))));
        values.push((":to".into(), n(to.saturating_sub(1).max(0))));
    }
    (!parts.is_empty()).then(|| (parts.join(" AND "), values))
}

impl DynamoStore {
    /// `CaseStore::list`.
    pub(crate) async fn list_cases(&self, q: &CaseQuery) -> StoreResult<CasePage> {
        let limit = q.limit.max(1);
        let statuses: Vec<CaseStatus> =
            if q.statuses.is_empty() { CaseStatus::ALL.to_vec() } else { q.statuses.clone() };
        // A unit filter walks that unit's list (its memberships), like a handler's inbox.
        let (unit_list, partitions): (bool, Vec<String>) = match (&q.scope, &q.unit) {
            (Scope::Handler(u), _) => (true, vec![format!("UNIT#{u}")]),
            (Scope::Dispatcher(d), _) => (false, vec![format!("DISP#{d}")]),
            (Scope::All, Some(u)) => (true, vec![format!("UNIT#{u}")]),
            (Scope::All, None) => (false, (0..SHARDS).map(|i| format!("ALL#{i}")).collect()),
        };
        let index = if partitions[0].starts_with("ALL#") { "G3" } else { "G2" };
        if q.after.as_deref().is_some_and(|c| parse_list_cursor(c).is_none()) {
            return Err(StoreError::Corrupt(format!("not a list position: {:?}", q.after)));
        }
        let after = q.after.as_deref().unwrap_or("");
        let filter = filter_of(q, unit_list);
        let evaluated = if filter.is_some() { EVALUATED.max(limit + 1) } else { limit + 1 };
        let mut rows: Vec<(String, Item)> = Vec::new();
        // The least position some partition stopped at: everything up to it has been read everywhere.
        let mut frontier: Option<String> = None;
        for partition in &partitions {
            for status in &statuses {
                // The status's keys from the position on ('~' follows every digit): the position's own
                // item is left out below.
                let (lo, hi) = (format!("{}#{after}", status_name(*status)), format!("{}#~", status_name(*status)));
                let mut query = self
                    .client
                    .query()
                    .table_name(&self.table)
                    .index_name(index_name(index))
                    .key_condition_expression(format!("{index}PK = :pk AND {index}SK BETWEEN :lo AND :hi"))
                    .expression_attribute_values(":pk", s(partition.as_str()))
                    .expression_attribute_values(":lo", s(lo.as_str()))
                    .expression_attribute_values(":hi", s(hi))
                    .limit(evaluated as i32);
                if let Some((expr, values)) = &filter {
                    query = query.filter_expression(expr);
                    for (k, v) in values {
                        query = query.expression_attribute_values(k, v.clone());
                    }
                }
                let out = query.send().await.map_err(crate::dynamo::unavailable)?;
                let order = |sk: &str| sk.split_once('#').map(|(_, rest)| rest.to_owned()).unwrap_or_default();
                for item in out.items() {
                    let sk = item.get(&format!("{index}SK")).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
                    if !after.is_empty() && sk == lo {
                        continue;
                    }
                    rows.push((order(&sk), item.clone()));
                }
                let stopped = out
                    .last_evaluated_key()
                    .and_then(|k| k.get(&format!("{index}SK")))
                    .and_then(|v| v.as_s().ok())
                    .map(|sk| order(sk));
                if let Some(stop) = stopped {
                    if frontier.as_ref().is_none_or(|f| stop < *f) {
                        frontier = Some(stop);
                    }
                }
            }
        }
        rows.retain(|(order, _)| frontier.as_ref().is_none_or(|f| order <= f));
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        let more = rows.len() > limit;
        rows.truncate(limit);
        let cases: Vec<Case> = if unit_list {
            let ids: Vec<String> =
                rows.iter().filter_map(|(_, i)| i.get("case").and_then(|v| v.as_s().ok()).cloned()).collect();
            let mut found = self.batch_get_cases(&ids).await?;
            // The dispatcher's own list when a dispatcher filters by unit.
            ids.iter().filter_map(|id| found.remove(id)).collect()
        } else {
            rows.iter().map(|(_, i)| doc_of(i)).collect::<StoreResult<_>>()?
        };
        let next = if more {
            rows.last().map(|(order, _)| order.clone())
        } else {
            // Short, but some partition has more: continue from where every one has been read.
            frontier
        };
        Ok(CasePage { cases, next })
    }
}
