//! Published replies (公开答复): the public text of a case is masked once, when it is published
//! (and again when the masking rules change), and kept with the case, so a public search reads
//! masked text and never masks. Stores index it for a ranked, keyset-paginated search.

use crate::reports::is_published;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use mailbox_domain::case::{Case, Published};
use mailbox_domain::deadline::cst;
use mailbox_domain::mask::{mask_personal_data, MASK_RULES};
use mailbox_domain::{MailboxId, UnitId};
pub use mailbox_triage::text::index_terms;
use mailbox_triage::text::query_terms;
use sha2::{Digest, Sha256};

/// Most words of a query that count (the rest are ignored).
pub const MAX_QUERY_WORDS: usize = 8;

/// Which published replies a search asks for. Results come in tiers — every word in the title
/// first (tier 1), then every word anywhere (tier 0) — each newest reply first; without words,
/// every published reply newest first (tier 0). Stores that cannot rank (DynamoDB) put all in tier 0.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplyQuery {
    /// `query_words` of the query; every one must appear. Empty: no word filter.
    pub words: Vec<String>,
    pub mailbox: Option<MailboxId>,
    /// The unit that replied.
    pub unit: Option<UnitId>,
    /// Triage's first-level domain.
    pub domain: Option<String>,
    pub featured_only: bool,
    /// Reply instants in `[from, to)`, milliseconds (a month, China time).
    pub span: Option<(i64, i64)>,
    pub limit: usize,
    pub after: Option<ReplyCursor>,
}

/// Where a page of published replies ended: continue with replies of `tier` (or a lower one) that
/// come after the reply at `ms` of case `id` — without an id, everything of `tier` replied before `ms`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyCursor {
    pub tier: u8,
    pub ms: i64,
    pub id: Option<String>,
}

impl ReplyCursor {
    /// `r1.<tier>.<ms13>[.<id>]`: safe in a URL as it is.
    pub fn encode(&self) -> String {
        match &self.id {
            Some(id) => format!("r1.{}.{:013}.{id}", self.tier, self.ms),
            None => format!("r1.{}.{:013}", self.tier, self.ms),
        }
    }

    /// A cursor as a client sends it back; `None` when it is not one.
    pub fn parse(s: &str) -> Option<Self> {
        let mut parts = s.split('.');
        if parts.next()? != "r1" {
            return None;
        }
        let tier = match parts.next()? {
            "0" => 0,
            "1" => 1,
            _ => return None,
        };
        let ms = parts.next().filter(|m| m.len() == 13 && m.bytes().all(|b| b.is_ascii_digit()))?.parse().ok()?;
        let id = match parts.next() {
            None => None,
            Some(id) if (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') => {
                Some(id.to_owned())
            }
            Some(_) => return None,
        };
        parts.next().is_none().then_some(Self { tier, ms, id })
    }
}

/// One page of published cases (each with its `published` text) and where the next one starts.
#[derive(Debug, Clone, Default)]
pub struct ReplyPage {
    pub items: Vec<Case>,
    pub next: Option<ReplyCursor>,
}

/// The reply instant (ms) of a published case: its position in every published list.
pub fn reply_ms(case: &Case) -> Option<i64> {
    case.reply.as_ref().map(|r| r.at.timestamp_millis())
}

/// Where a case stands for the stores' published-reply indexes: the rules of its published text
/// (0 when it is missing, or when a text is left on a case no longer published: the re-masking job's
/// work); `None` when there is nothing to publish or withdraw.
pub fn pub_rules(case: &Case) -> Option<u32> {
    match (&case.published, is_published(case)) {
        (Some(p), true) => Some(p.rules),
        (None, true) | (Some(_), false) => Some(0),
        (None, false) => None,
    }
}

/// Digest of what a case's public text is made from.
fn source_of(case: &Case) -> String {
    let mut h = Sha256::new();
    let reply = case.reply.as_ref().map_or("", |r| r.text.as_str());
    let note = case.featured_note.as_deref().filter(|_| case.featured).unwrap_or("");
    for part in [case.title.as_str(), &case.body, reply, note, &case.citizen.name] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(&h.finalize()[..12])
}

/// Masks a published case's public text (the expensive part: only when it changed).
fn publish(case: &Case, source: String) -> Published {
    let names = [case.citizen.name.as_str()];
    let mask = |t: &str| mask_personal_data(t, &names);
    Published {
        rules: MASK_RULES,
        source,
        title: mask(&case.title),
        body: mask(&case.body),
        reply: case.reply.as_ref().map(|r| mask(&r.text)).unwrap_or_default(),
        featured_note: case.featured_note.as_deref().filter(|_| case.featured).map(mask),
    }
}

/// The search terms stores index a published text by (`index_terms`, space-separated): its title's,
/// and its body's, reply's and featured note's. Computed when it is indexed, not kept in the case.
pub fn terms(text: &Published) -> (String, String) {
    let rest = format!("{}\n{}\n{}", text.body, text.reply, text.featured_note.as_deref().unwrap_or(""));
    (index_terms(&text.title).join(" "), index_terms(&rest).join(" "))
}

/// Brings `case.published` up to date after a change: set while the case is published (masked
/// again only when its texts, citizen's name or note changed, or the rules did), removed otherwise.
pub fn refresh(case: &mut Case) {
    if !is_published(case) {
        case.published = None;
        return;
    }
    let source = source_of(case);
    let current = case.published.as_ref().is_some_and(|p| p.rules == MASK_RULES && p.source == source);
    if !current {
        case.published = Some(publish(case, source));
    }
}

/// What one chunk of `reindex` did, and where the next starts (`None`: every case is done).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reindexed {
    pub written: usize,
    pub failed: usize,
    pub next: Option<mailbox_domain::CaseId>,
}

/// Writes the cases after `after` (id order, `limit` of them) again as they are, their published
/// text brought up to date: after an upgrade that adds what a store keeps beside a case (on DynamoDB
/// the lists' filter attributes and the published replies' attributes), so that old cases are found
/// like new ones. Maintenance with an operator's credentials (`mailbox-aws-accounts reindex`): it
/// reads every case (`CaseStore::scan`, a Scan on DynamoDB), which no function may.
pub async fn reindex(
    store: &dyn crate::ports::CaseStore,
    after: Option<&mailbox_domain::CaseId>,
    limit: usize,
) -> Result<Reindexed, crate::AppError> {
    use crate::ports::StoreError;
    let cases = store.scan(after, limit).await?;
    let mut done = Reindexed::default();
    for case in &cases {
        let mut next = case.clone();
        refresh(&mut next);
        match store.update(&next, case, &[], &[], &[], &[]).await {
            Ok(()) => done.written += 1,
            // Changed meanwhile: that change wrote it with everything already.
            Err(StoreError::Conflict(_)) => {}
            Err(e @ (StoreError::TooLarge(_) | StoreError::Corrupt(_))) => {
                tracing::error!(case = %case.id, error = %e, "case not written again");
                done.failed += 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
    done.next = if cases.len() == limit { cases.last().map(|c| c.id.clone()) } else { None };
    Ok(done)
}

/// The terms of a public query (`query_terms`), at most [`MAX_QUERY_WORDS`].
pub fn query_words(q: &str) -> Vec<String> {
    let mut words = query_terms(q);
    words.truncate(MAX_QUERY_WORDS);
    words
}

/// The reply instants of a month (`YYYY-MM`, China time): `[first ms, first ms of the next month)`.
pub fn month_span(month: &str) -> Option<(i64, i64)> {
    let first = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").ok()?;
    let next = first.checked_add_months(chrono::Months::new(1))?;
    let at = |d: NaiveDate| cst().from_local_datetime(&d.and_hms_opt(0, 0, 0)?).single().map(|t| t.timestamp_millis());
    Some((at(first)?, at(next)?))
}

/// The month (`YYYY-MM`, China time) of a reply instant in milliseconds.
pub fn month_of_ms(ms: i64) -> Option<String> {
    DateTime::<Utc>::from_timestamp_millis(ms).map(|t| t.with_timezone(&cst()).format("%Y-%m").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_anything_else() {
        for c in [
            ReplyCursor { tier: 1, ms: 1_733_000_000_000, id: Some("c-01ABC".into()) },
            ReplyCursor { tier: 0, ms: 5, id: None },
        ] {
            assert_eq!(ReplyCursor::parse(&c.encode()), Some(c.clone()));
        }
        for bad in [
            "",
            "r1",
            "r2.0.1733000000000",
            "r1.2.1733000000000",
            "r1.0.173300000000",
            "r1.0.1733000000000.",
            "r1.0.1733000000000.a#b",
            "r1.0.1733000000000.a.b",
            "r1.0.+733000000000",
        ] {
            assert_eq!(ReplyCursor::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_month_spans_its_china_time_days() {
        let (from, to) = month_span("2026-11").unwrap();
        assert_eq!(month_of_ms(from).as_deref(), Some("2026-11"));
        assert_eq!(month_of_ms(from - 1).as_deref(), Some("2026-10"));
        assert_eq!(month_of_ms(to).as_deref(), Some("2026-12"));
        assert_eq!(month_of_ms(to - 1).as_deref(), Some("2026-11"));
        assert_eq!(month_span("2026-13"), None);
    }
}
