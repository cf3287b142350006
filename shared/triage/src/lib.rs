//! Triage of new messages (分拣): suggestions for the dispatcher — domain and the units that handle
//! it, the kind when the citizen's choice looks wrong, the jurisdiction from place names, likely
//! duplicates of recent cases, likely invalid messages — and the personal data in the text. Each
//! suggestion has a confidence and the words that led to it. Pure computation, no I/O. Personal
//! data is found by `mailbox_domain::mask`, which also masks public replies.

pub mod classifier;
pub mod domain;
pub mod dup;
pub mod eval;
pub mod kind;
pub mod place;
pub mod screen;
pub mod text;
pub mod topics;
pub mod urgent;

use chrono::{DateTime, Utc};
use dup::Fingerprint;
use mailbox_domain::mask as personal;
use mailbox_domain::org::{DomainRoute, UrgentCues};
pub use mailbox_domain::triage::Suggestion;
use mailbox_domain::triage::{DuplicateOf, HotFlag, PersonalDataFound, TriageNote, HOT_DAYS, HOT_REPEATS};
use mailbox_domain::{CaseNumber, Kind, Organisation};
use place::Gazetteer;
use std::collections::{BTreeMap, HashSet};

/// At most this many likely duplicates are listed, most similar first.
const MAX_DUPLICATES: usize = 5;

/// A message to triage.
pub struct Message<'a> {
    pub submitted_at: DateTime<Utc>,
    /// Who wrote it, as an opaque key (their phone's digits): a hot case needs several citizens,
    /// not one writing again. Compared, never stored.
    pub citizen: &'a str,
    pub title: &'a str,
    pub body: &'a str,
    pub kind: Kind,
    /// Names known to belong to the case (the citizen's own).
    pub names: &'a [&'a str],
}

/// A recent case to compare with, for duplicates and hot cases.
pub struct Recent<'a> {
    pub number: &'a CaseNumber,
    pub title: &'a str,
    pub fingerprint: Fingerprint,
    pub submitted_at: DateTime<Utc>,
    /// Whether that case is already hot (its group has told the supervisors).
    pub hot: bool,
    /// Its writer's key, as `Message::citizen`.
    pub citizen: &'a str,
    /// Found invalid (spam, abuse): never counts towards a hot case.
    pub invalid: bool,
}

pub struct Triage {
    gazetteer: Gazetteer,
    routes: Vec<DomainRoute>,
    urgent: UrgentCues,
}

impl Triage {
    pub fn new(org: &Organisation) -> Triage {
        Triage { gazetteer: Gazetteer::new(org), routes: org.domains.clone(), urgent: org.urgent.clone() }
    }

    pub fn analyse(&self, message: &Message, recent: &[Recent], at: DateTime<Utc>) -> TriageNote {
        let (title, body) = (message.title, message.body);
        // Segmented once: the domain model and the fingerprint both work on the words.
        let (title_words, body_words) = (text::words(title), text::words(body));
        let domain = domain::builtin().classify_segmented(title, body, &title_words, &body_words);
        let fingerprint = Fingerprint::of_words(title_words.iter().chain(&body_words).copied());
        let units = domain
            .as_ref()
            .and_then(|d| self.routes.iter().find(|r| r.domain == d.value))
            .map(|r| r.units.clone())
            .unwrap_or_default();
        TriageNote {
            domain: domain.map(|d| Suggestion { value: d.value.to_owned(), confidence: d.confidence, words: d.words }),
            units,
            kind: kind::suggest(title, body, message.kind),
            jurisdiction: self.gazetteer.suggest(title, body),
            duplicates: duplicates(&fingerprint, recent),
            urgent: urgent::find(&format!("{title}\n{body}"), &self.urgent),
            hot: hot(&fingerprint, message, recent),
            invalid: screen::screen(title, body),
            personal_data: personal_data(&format!("{title}\n{body}"), message.names),
            fingerprint: fingerprint.to_stored(),
            at,
        }
    }
}

fn duplicates(fingerprint: &Fingerprint, recent: &[Recent]) -> Vec<DuplicateOf> {
    let mut found: Vec<(f64, &Recent)> = recent
        .iter()
        .map(|r| (fingerprint.similarity(&r.fingerprint), r))
        .filter(|(s, _)| *s >= dup::MIN_SIMILARITY)
        .collect();
    found.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.number.as_str().cmp(b.1.number.as_str())));
    found
        .into_iter()
        .take(MAX_DUPLICATES)
        .map(|(s, r)| DuplicateOf {
            number: r.number.clone(),
            title: r.title.to_owned(),
            similarity: (s * 100.0).round() as u8,
        })
        .collect()
}

/// Hot (热点件) when similar messages of the last `HOT_DAYS` days before this one, with it, reach
/// `HOT_REPEATS` from as many citizens (one citizen writing again is a repeat, not a hot topic;
/// invalid messages never count). It alerts unless one of them is already hot: a group tells the
/// supervisors once.
fn hot(fingerprint: &Fingerprint, message: &Message, recent: &[Recent]) -> Option<HotFlag> {
    let since = message.submitted_at - chrono::Duration::days(HOT_DAYS);
    let similar: Vec<&Recent> = recent
        .iter()
        .filter(|r| !r.invalid && r.submitted_at >= since && r.submitted_at <= message.submitted_at)
        .filter(|r| fingerprint.similarity(&r.fingerprint) >= dup::MIN_SIMILARITY)
        .collect();
    // A message without a citizen's key (no phone) counts as a citizen of its own.
    let mut citizens: HashSet<&str> =
        similar.iter().map(|r| if r.citizen.is_empty() { r.number.as_str() } else { r.citizen }).collect();
    citizens.insert(if message.citizen.is_empty() { "\0this message" } else { message.citizen });
    let count = citizens.len() as u32;
    if count < HOT_REPEATS {
        return None;
    }
    let first = similar.iter().min_by_key(|r| (r.submitted_at, r.number.as_str()))?;
    Some(HotFlag { count, first: first.number.clone(), alert: !similar.iter().any(|r| r.hot) })
}

fn personal_data(text: &str, names: &[&str]) -> Vec<PersonalDataFound> {
    let mut counts: BTreeMap<personal::PersonalKind, u32> = BTreeMap::new();
    for f in personal::find(text, names) {
        *counts.entry(f.kind).or_default() += 1;
    }
    counts.into_iter().map(|(k, count)| PersonalDataFound { kind: k.label().to_owned(), count }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn at(days: i64) -> DateTime<Utc> {
        DateTime::UNIX_EPOCH + Duration::days(20_000 + days)
    }

    #[test]
    fn the_third_similar_message_within_30_days_is_hot_and_alerts_once() {
        let text =
            ("幸福小区违章搭建无人处理", "幸福小区三号楼顶违章搭建三个月，物业公司和城管一直不处理，影响邻居采光。");
        let other = ("建议增开公交线路", "希望增加到火车站的公交车班次。");
        let fp = Fingerprint::of(text.0, text.1);
        let numbers: Vec<CaseNumber> = (0..5).map(|i| CaseNumber::new(format!("GA{i:04}"))).collect();
        let citizens = ["13900000000", "13900000001", "13900000002", "13900000003", "13900000004"];
        let recent = |n: usize, days: i64, hot: bool, similar: bool| Recent {
            number: &numbers[n],
            title: "",
            fingerprint: if similar { fp } else { Fingerprint::of(other.0, other.1) },
            submitted_at: at(days),
            hot,
            citizen: citizens[n],
            invalid: false,
        };
        let message = |days: i64, citizen: &'static str| Message {
            submitted_at: at(days),
            citizen,
            title: text.0,
            body: text.1,
            kind: mailbox_domain::Kind::Complaint,
            names: &[],
        };
        // One earlier similar message: not yet hot.
        assert_eq!(hot(&fp, &message(10, "13911111111"), &[recent(0, 1, false, true)]), None);
        // Two earlier similar ones and an unrelated one: the third is hot and alerts.
        let third = hot(
            &fp,
            &message(10, "13911111111"),
            &[recent(0, 1, false, true), recent(1, 5, false, true), recent(2, 6, false, false)],
        );
        assert_eq!(third, Some(HotFlag { count: 3, first: numbers[0].clone(), alert: true }));
        // A fourth, with the third already hot: hot, no second alert.
        let fourth = hot(
            &fp,
            &message(11, "13922222222"),
            &[recent(0, 1, false, true), recent(1, 5, false, true), recent(3, 10, true, true)],
        );
        assert_eq!(fourth, Some(HotFlag { count: 4, first: numbers[0].clone(), alert: false }));
        // Older than 30 days does not count.
        assert_eq!(
            hot(&fp, &message(40, "13911111111"), &[recent(0, 1, false, true), recent(1, 5, false, true)]),
            None
        );
        // One citizen writing a third time is a repeat, not a hot case; invalid messages never count.
        let again = Recent { citizen: citizens[0], ..recent(1, 5, false, true) };
        assert_eq!(hot(&fp, &message(10, citizens[0]), &[recent(0, 1, false, true), again]), None);
        let spam = Recent { invalid: true, ..recent(1, 5, false, true) };
        assert_eq!(hot(&fp, &message(10, "13911111111"), &[recent(0, 1, false, true), spam]), None);
    }
}
