//! Published replies on DynamoDB: a published case's item is in the sparse index G5 under the month
//! of its reply (`PUB#<YYYY-MM>` / `<reply ms13>#<id>`), with its search words (`pw`, " w1 w2 … ")
//! and filters (`pu` unit, `pd` domain, `pf` featured) beside the case, written by the case's own
//! Put. A search reads months newest first with filter expressions, a bounded number of Query pages
//! per request: it returns what it found with a `next` when its reads run out. DynamoDB cannot rank,
//! so every match is in tier 0, newest first (the embedded store ranks title matches first).

use crate::dynamo::{doc_of, index_name, ms13_of, n, s, DynamoStore, Item};
use aws_sdk_dynamodb::types::AttributeValue;
use mailbox_app::ports::StoreResult;
use mailbox_app::published::{month_of_ms, month_span, pub_rules, reply_ms, ReplyCursor, ReplyPage, ReplyQuery};
use mailbox_app::reports::is_published;
use mailbox_domain::case::Case;
use std::collections::HashMap;

/// Query pages one search request reads at most (each up to `EVALUATED` items, ≤ 1 MB).
const MAX_QUERIES: usize = 6;
/// Items one Query page evaluates (before its filter).
const EVALUATED: i32 = 200;

/// The index attributes of a case with something to publish or withdraw (see `pub_rules`).
pub(crate) fn add_attributes(case: &Case, item: &mut Item) {
    let (Some(rules), Some(at)) = (pub_rules(case), reply_ms(case)) else { return };
    let Some(month) = month_of_ms(at) else { return };
    item.insert("G5PK".into(), s(format!("PUB#{month}")));
    item.insert("G5SK".into(), s(format!("{}#{}", ms13_of(at), case.id)));
    item.insert("pr".into(), n(rules));
    let Some(text) = case.published.as_ref().filter(|_| is_published(case)) else { return };
    let (title, rest) = mailbox_app::published::terms(text);
    let mut seen = std::collections::HashSet::new();
    let words: Vec<&str> =
        title.split(' ').chain(rest.split(' ')).filter(|w| !w.is_empty() && seen.insert(*w)).collect();
    item.insert("pw".into(), s(format!(" {} ", words.join(" "))));
    if let Some(reply) = &case.reply {
        item.insert("pu".into(), s(reply.unit.as_str()));
    }
    if let Some(d) = case.triage.as_ref().and_then(|t| t.domain.as_ref()) {
        item.insert("pd".into(), s(d.value.as_str()));
    }
    item.insert("pf".into(), n(u8::from(case.featured)));
}

/// The filter expression of a search and its values.
fn filter_of(q: &ReplyQuery) -> (String, Vec<(String, AttributeValue)>) {
    // Only texts masked with the current rules: missing or older ones (`pr` absent, 0 or less) wait
    // for the republish job.
    let mut parts = vec!["pr = :rules".to_owned()];
    let mut values = vec![(":rules".to_owned(), n(mailbox_domain::mask::MASK_RULES))];
    for (i, w) in q.words.iter().enumerate() {
        parts.push(format!("contains(pw, :w{i})"));
        values.push((format!(":w{i}"), s(format!(" {w} "))));
    }
    if let Some(m) = &q.mailbox {
        parts.push("mailbox = :mb".into());
        values.push((":mb".into(), s(m.as_str())));
    }
    if let Some(u) = &q.unit {
        parts.push("pu = :u".into());
        values.push((":u".into(), s(u.as_str())));
    }
    if let Some(d) = &q.domain {
        parts.push("pd = :d".into());
        values.push((":d".into(), s(d.as_str())));
    }
    if q.featured_only {
        parts.push("pf = :one".into());
        values.push((":one".into(), n(1)));
    }
    (parts.join(" AND "), values)
}

/// The reply instant and case id of a G5 sort key (`<ms13>#<id>`).
fn position(sk: &str) -> Option<(i64, String)> {
    let (ms, id) = sk.split_once('#')?;
    Some((ms.parse().ok()?, id.to_owned()))
}

/// The G5 key of the item at (`ms`, `id`): where a Query continues after it.
fn start_key(month: &str, ms: i64, id: &str) -> Item {
    HashMap::from([
        ("G5PK".to_owned(), s(format!("PUB#{month}"))),
        ("G5SK".to_owned(), s(format!("{}#{id}", ms13_of(ms)))),
        ("PK".to_owned(), s(format!("CASE#{id}"))),
        ("SK".to_owned(), s("CASE")),
    ])
}

impl DynamoStore {
    /// `CaseStore::published`: months newest first, from the cursor (or the span's end, or now) back
    /// to the span's start (or the first month with cases), at most `MAX_QUERIES` Query pages.
    pub(crate) async fn search_published(&self, q: &ReplyQuery) -> StoreResult<ReplyPage> {
        let limit = q.limit.max(1);
        let Some(first) = self.first_month().await? else { return Ok(ReplyPage::default()) };
        let Some((first_ms, _)) = month_span(&first) else { return Ok(ReplyPage::default()) };
        let (from, to) = q.span.unwrap_or((i64::MIN, i64::MAX));
        let from = from.max(first_ms);
        let now_end = chrono::Utc::now().timestamp_millis() + 40 * 86_400_000;
        // Continue strictly before `upper`, or after the cursor's item.
        let mut upper = to.min(now_end);
        let mut start: Option<(i64, String)> = None;
        if let Some(c) = &q.after {
            // A cursor inside the range continues after its item; one beyond it (not ours, or the
            // span changed) starts from the range's end.
            if c.ms < upper {
                upper = c.ms.saturating_add(i64::from(c.id.is_some()));
                start = c.id.clone().map(|id| (c.ms, id));
            }
        }
        let (filter, values) = filter_of(q);
        let mut items: Vec<Case> = Vec::new();
        let mut queries = 0;
        while upper > from {
            let Some(month) = month_of_ms(upper - 1) else { break };
            let Some((month_start, _)) = month_span(&month) else { break };
            if queries == MAX_QUERIES {
                let next = match start {
                    Some((ms, id)) => ReplyCursor { tier: 0, ms, id: Some(id) },
                    None => ReplyCursor { tier: 0, ms: upper, id: None },
                };
                return Ok(ReplyPage { items, next: Some(next) });
            }
            queries += 1;
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(index_name("G5"))
                .key_condition_expression("G5PK = :pk AND G5SK BETWEEN :lo AND :hi")
                .filter_expression(&filter)
                .scan_index_forward(false)
                .limit(EVALUATED)
                .expression_attribute_values(":pk", s(format!("PUB#{month}")))
                .expression_attribute_values(":lo", s(ms13_of(from.max(month_start))))
                // Sort keys are `<ms13>#<id>`: every one of an instant before `upper` is below this.
                .expression_attribute_values(":hi", s(ms13_of(upper)));
            for (k, v) in &values {
                query = query.expression_attribute_values(k, v.clone());
            }
            if let Some((ms, id)) = start.take().filter(|(ms, _)| month_of_ms(*ms).as_deref() == Some(&month)) {
                query = query.set_exclusive_start_key(Some(start_key(&month, ms, &id)));
            }
            let out = query.send().await.map_err(crate::dynamo::unavailable)?;
            for item in out.items() {
                items.push(doc_of(item)?);
                if items.len() == limit {
                    let last = item.get("G5SK").and_then(|v| v.as_s().ok()).and_then(|sk| position(sk));
                    let next = last.map(|(ms, id)| ReplyCursor { tier: 0, ms, id: Some(id) });
                    return Ok(ReplyPage { items, next });
                }
            }
            match out
                .last_evaluated_key()
                .and_then(|k| k.get("G5SK"))
                .and_then(|v| v.as_s().ok())
                .and_then(|sk| position(sk))
            {
                // More of this month: continue after the last item read.
                Some((ms, id)) => {
                    upper = ms + 1;
                    start = Some((ms, id));
                }
                None => upper = month_start,
            }
        }
        Ok(ReplyPage { items, next: None })
    }

    /// `CaseStore::stale_published`: each month's G5 partition from the first month with cases to
    /// the next one, items whose text is missing or older than `rules`.
    pub(crate) async fn stale_published_cases(&self, rules: u32, limit: usize) -> StoreResult<Vec<Case>> {
        let Some(first) = self.first_month().await? else { return Ok(Vec::new()) };
        let last = month_of_ms(chrono::Utc::now().timestamp_millis() + 40 * 86_400_000).unwrap_or_default();
        let mut month = first;
        let mut out = Vec::new();
        while month <= last && out.len() < limit {
            let values = vec![(":pk", s(format!("PUB#{month}"))), (":r", n(rules))];
            let wanted = Some(limit - out.len());
            for item in self
                .query_filtered(
                    Some(&index_name("G5")),
                    "G5PK = :pk",
                    Some("attribute_not_exists(pr) OR pr < :r"),
                    values,
                    false,
                    wanted,
                )
                .await?
            {
                out.push(doc_of(&item)?);
            }
            month = match month_span(&month).and_then(|(_, next)| month_of_ms(next)) {
                Some(next) => next,
                None => break,
            };
        }
        Ok(out)
    }
}
