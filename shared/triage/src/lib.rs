//! Triage of new messages (分拣): suggestions for the dispatcher — domain and the units that handle
//! it, the kind when the citizen's choice looks wrong, the jurisdiction from place names, likely
//! duplicates of recent cases, likely invalid messages — and the personal data in the text. Each
//! suggestion has a confidence and the words that led to it. Pure computation, no I/O. Personal
//! data is found by `mailbox_domain::mask`, which also masks public replies.

pub mod domain;
pub mod dup;
pub mod eval;
pub mod kind;
pub mod place;
pub mod screen;
pub mod text;

use chrono::{DateTime, Utc};
use domain::DomainModel;
use dup::Fingerprint;
use mailbox_domain::mask as personal;
use mailbox_domain::org::DomainRoute;
pub use mailbox_domain::triage::Suggestion;
use mailbox_domain::triage::{DuplicateOf, PersonalDataFound, TriageNote};
use mailbox_domain::{CaseNumber, Kind, Organisation};
use place::Gazetteer;
use std::collections::BTreeMap;

/// At most this many likely duplicates are listed, most similar first.
const MAX_DUPLICATES: usize = 5;

/// A message to triage.
pub struct Message<'a> {
    pub title: &'a str,
    pub body: &'a str,
    pub kind: Kind,
    /// Names known to belong to the case (the citizen's own).
    pub names: &'a [&'a str],
}

/// A recent case to compare with, for duplicates.
pub struct Recent<'a> {
    pub number: &'a CaseNumber,
    pub title: &'a str,
    pub fingerprint: Fingerprint,
}

pub struct Triage {
    model: DomainModel,
    gazetteer: Gazetteer,
    routes: Vec<DomainRoute>,
}

impl Triage {
    pub fn new(org: &Organisation) -> Triage {
        Triage { model: DomainModel::builtin(), gazetteer: Gazetteer::new(org), routes: org.domains.clone() }
    }

    pub fn analyse(&self, message: &Message, recent: &[Recent], at: DateTime<Utc>) -> TriageNote {
        let (title, body) = (message.title, message.body);
        // Segmented once: the domain model and the fingerprint both work on the words.
        let (title_words, body_words) = (text::words(title), text::words(body));
        let domain = self.model.classify_words(&title_words, &body_words);
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
            invalid: screen::screen(title, body),
            personal_data: personal_data(&format!("{title}\n{body}"), message.names),
            fingerprint: fingerprint.to_hex(),
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

fn personal_data(text: &str, names: &[&str]) -> Vec<PersonalDataFound> {
    let mut counts: BTreeMap<personal::PersonalKind, u32> = BTreeMap::new();
    for f in personal::find(text, names) {
        *counts.entry(f.kind).or_default() += 1;
    }
    counts.into_iter().map(|(k, count)| PersonalDataFound { kind: k.label().to_owned(), count }).collect()
}
