//! 舆情 found in the mailbox itself: hot topics (热点话题) and surges (激增).
//!
//! A hot topic is a group of messages about the same matter — similar by their words, not their exact
//! text — `TOPIC_MIN` or more within `TOPIC_DAYS` days, in one jurisdiction or one domain. Topics
//! are found incrementally: each triaged message becomes a [`TopicEntry`] (its weighted keywords,
//! never its text) and either joins an active topic, forms a new one with earlier loose entries, or
//! waits as a loose entry itself ([`group`]). A surge is a domain × jurisdiction whose count this
//! week is at least `SURGE_FACTOR` times its weekly average over the `SURGE_WEEKS` weeks before, and
//! at least `SURGE_MIN` ([`is_surge`]); the weekly counts are counters kept as entries are recorded.
//! Pure code: the store keeps entries, topics and counters; triage finds the keywords.

use crate::deadline::cst;
use crate::ids::{CaseId, CaseNumber, JurisdictionId, UnitId, UserId};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A topic needs this many messages within `TOPIC_DAYS` days; it stays open to new messages
/// while its last one is at most `TOPIC_DAYS` days old.
pub const TOPIC_MIN: usize = 3;
pub const TOPIC_DAYS: i64 = 7;
/// Least similarity (cosine of keyword weights) of a message with a topic's profile to join it.
pub const JOIN_SIMILARITY: f32 = 0.30;
/// Least similarity of two loose messages to count towards a new topic.
pub const PAIR_SIMILARITY: f32 = 0.30;
/// Words kept in a topic's profile, and shown as its label.
const PROFILE_WORDS: usize = 40;
const LABEL_WORDS: usize = 5;
/// Most loose messages that form a topic together (the rest join one by one, or stay loose).
pub const FORM_MAX: usize = 50;
/// Most members a topic lists (its count goes on): a topic of thousands is one matter, not a list.
pub const MAX_MEMBERS: usize = 500;

/// Surge thresholds: this week ≥ `SURGE_FACTOR` × the weekly average of the `SURGE_WEEKS` weeks
/// before, and ≥ `SURGE_MIN`.
pub const SURGE_WEEKS: i64 = 8;
pub const SURGE_FACTOR: i64 = 2;
pub const SURGE_MIN: i64 = 5;
/// The prefix of the weekly domain × jurisdiction counters.
pub const SURGE_PREFIX: &str = "surge|";
/// The counter key of messages without a domain suggestion.
pub const NO_DOMAIN: &str = "-";

/// A keyword and its weight (tf·idf, the vector normalised to length 1).
pub type Keyword = (String, f32);

/// One triaged message as topic-finding sees it: its weighted keywords (found with personal data
/// left out), never its text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopicEntry {
    pub case_id: CaseId,
    pub number: CaseNumber,
    pub dispatcher: UnitId,
    /// The jurisdiction its places name, else its mailbox's.
    pub jurisdiction: JurisdictionId,
    pub domain: Option<String>,
    pub at: DateTime<Utc>,
    pub keywords: Vec<Keyword>,
    /// Who wrote it, as a 4-hex-digit tag of their phone's digits (`citizen_tag`): enough to tell
    /// three citizens from one writing three times, never enough to find the phone (each tag is
    /// shared by about a million and a half numbers).
    pub citizen: String,
    /// The topic it was claimed for, once grouped: the store sets it only while it is unset, in
    /// the topic's own write, so one message never ends up in two topics.
    #[serde(default)]
    pub topic: Option<String>,
}

/// A citizen's tag for topic-finding (see `TopicEntry::citizen`) from the key of a phone's digits;
/// a message without one is a citizen of its own (its case id).
pub fn citizen_tag(key: &str) -> String {
    // FNV-1a folded to 16 bits: stable across builds, as stored tags must be.
    let h = key.bytes().fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    format!("{:04x}", (h ^ (h >> 16)) & 0xffff)
}

/// A message of a topic: enough to list it to staff who may see it (by its dispatcher).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicMember {
    pub case_id: CaseId,
    pub number: CaseNumber,
    pub dispatcher: UnitId,
    pub at: DateTime<Utc>,
}

/// A word of a topic's profile: its summed weight over the members, and which citizens wrote it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileWord {
    pub word: String,
    pub weight: f32,
    /// Citizen tags (at most `LABEL_CITIZENS`: enough to tell a label word).
    pub citizens: Vec<String>,
}

/// Citizens a label word needs, and as many as a profile word remembers.
const LABEL_CITIZENS: usize = 2;

/// Who marked a topic as assessed (已研判), and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reviewed {
    pub by: UserId,
    pub unit: Option<UnitId>,
    pub at: DateTime<Utc>,
}

/// A hot topic (热点话题).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HotTopic {
    /// `T` and the case id of its first message: two instances forming the same topic at once
    /// collide on it, and the later one joins instead.
    pub id: String,
    /// The words most of its messages share, strongest first.
    pub label: Vec<String>,
    pub jurisdiction: JurisdictionId,
    pub domain: Option<String>,
    /// How many messages it has (also beyond `MAX_MEMBERS`).
    pub count: u32,
    /// Its messages, oldest first (the first `MAX_MEMBERS`).
    pub members: Vec<TopicMember>,
    pub profile: Vec<ProfileWord>,
    pub first: DateTime<Utc>,
    pub last: DateTime<Utc>,
    pub reviewed: Option<Reviewed>,
    /// The message whose arrival made it a topic: its triage tells staff, once.
    #[serde(default)]
    pub formed_by: Option<CaseId>,
    /// Raised by every save; a save over another version is a conflict.
    pub version: u64,
}

impl HotTopic {
    /// A new topic of these entries (the earliest first).
    pub fn form(entries: &[&TopicEntry]) -> HotTopic {
        let mut sorted: Vec<&TopicEntry> = entries.to_vec();
        sorted.sort_by(|a, b| (a.at, a.case_id.as_str()).cmp(&(b.at, b.case_id.as_str())));
        let first = sorted[0];
        let mut topic = HotTopic {
            id: format!("T{}", first.case_id),
            label: Vec::new(),
            jurisdiction: most_common(sorted.iter().map(|e| e.jurisdiction.clone())).expect("entries"),
            domain: most_common(sorted.iter().filter_map(|e| e.domain.clone())),
            count: 0,
            members: Vec::new(),
            profile: Vec::new(),
            first: first.at,
            last: first.at,
            reviewed: None,
            formed_by: None,
            version: 0,
        };
        for e in sorted {
            topic.add(e);
        }
        topic
    }

    /// Adds a message (one not claimed yet): its keywords to the profile, its time to the span.
    pub fn join(&mut self, entry: &TopicEntry) {
        self.add(entry);
    }

    fn add(&mut self, e: &TopicEntry) {
        self.count += 1;
        if self.members.len() < MAX_MEMBERS {
            self.members.push(TopicMember {
                case_id: e.case_id.clone(),
                number: e.number.clone(),
                dispatcher: e.dispatcher.clone(),
                at: e.at,
            });
        }
        self.first = self.first.min(e.at);
        self.last = self.last.max(e.at);
        let mut words: BTreeMap<String, (f32, Vec<String>)> =
            self.profile.iter().map(|p| (p.word.clone(), (p.weight, p.citizens.clone()))).collect();
        for (w, x) in &e.keywords {
            let slot = words.entry(w.clone()).or_default();
            slot.0 += x;
            if slot.1.len() < LABEL_CITIZENS && !slot.1.contains(&e.citizen) {
                slot.1.push(e.citizen.clone());
            }
        }
        let mut profile: Vec<ProfileWord> =
            words.into_iter().map(|(word, (weight, citizens))| ProfileWord { word, weight, citizens }).collect();
        profile.sort_by(|a, b| b.weight.total_cmp(&a.weight).then_with(|| a.word.cmp(&b.word)));
        profile.truncate(PROFILE_WORDS);
        // The label: words that two citizens or more wrote — a word of one citizen (a name the
        // masking missed), however often they write, is never a topic's label.
        self.label = profile
            .iter()
            .filter(|p| p.citizens.len() >= LABEL_CITIZENS)
            .take(LABEL_WORDS)
            .map(|p| p.word.clone())
            .collect();
        self.profile = profile;
    }

    /// The profile as a unit vector, to compare with a message's keywords.
    fn vector(&self) -> Vec<Keyword> {
        let mut v: Vec<Keyword> = self.profile.iter().map(|p| (p.word.clone(), p.weight)).collect();
        normalise(&mut v);
        v
    }

    /// Its messages per day (China time) from its first day to `to`'s day, for a trend chart.
    pub fn daily(&self, to: DateTime<Utc>) -> Vec<(NaiveDate, u32)> {
        let day = |t: DateTime<Utc>| t.with_timezone(&cst()).date_naive();
        let (start, end) = (day(self.first), day(to.max(self.last)));
        let mut counts: BTreeMap<NaiveDate, u32> =
            start.iter_days().take_while(|d| *d <= end).map(|d| (d, 0)).collect();
        for m in &self.members {
            *counts.entry(day(m.at)).or_default() += 1;
        }
        counts.into_iter().collect()
    }
}

fn most_common<T: Ord>(items: impl Iterator<Item = T>) -> Option<T> {
    let mut counts: BTreeMap<T, usize> = BTreeMap::new();
    for i in items {
        *counts.entry(i).or_default() += 1;
    }
    // Ties go to the smallest, so the choice does not depend on the order of arrival.
    let best = counts.values().copied().max()?;
    counts.into_iter().find(|(_, n)| *n == best).map(|(t, _)| t)
}

/// Scales a keyword vector to length 1.
pub fn normalise(v: &mut [Keyword]) {
    let norm = v.iter().map(|(_, x)| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|(_, x)| *x /= norm);
    }
}

/// Cosine similarity of two unit keyword vectors.
pub fn similarity(a: &[Keyword], b: &[Keyword]) -> f32 {
    a.iter().filter_map(|(w, x)| b.iter().find(|(v, _)| v == w).map(|(_, y)| x * y)).sum()
}

/// Whether two messages (or a message and a topic) may be one matter by where and what they are
/// about: the same jurisdiction, or the same domain.
fn related(entry: &TopicEntry, jurisdiction: &JurisdictionId, domain: Option<&String>) -> bool {
    &entry.jurisdiction == jurisdiction || (entry.domain.is_some() && entry.domain.as_ref() == domain)
}

/// What a new message does to the topics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grouping {
    /// It was claimed for this topic already (a redelivery).
    Member(usize),
    /// It joins this open topic (an index into the topics given).
    Joins(usize),
    /// It forms a new topic with these loose entries (indices into the loose entries given).
    Forms(Vec<usize>),
    /// It stays loose.
    Alone,
}

/// Where a new message goes, given the topics open at its time and the loose entries (claimed by
/// no topic) of the `TOPIC_DAYS` days before it. A new topic needs `TOPIC_MIN` citizens, not
/// messages: one citizen writing three times is no hot topic. Deterministic: the most similar topic
/// wins; ties go to the earlier topic.
pub fn group(entry: &TopicEntry, topics: &[HotTopic], loose: &[TopicEntry]) -> Grouping {
    if let Some(claimed) = &entry.topic {
        return topics.iter().position(|t| &t.id == claimed).map_or(Grouping::Alone, Grouping::Member);
    }
    if entry.keywords.is_empty() {
        return Grouping::Alone;
    }
    let since = entry.at - Duration::days(TOPIC_DAYS);
    let best = topics
        .iter()
        .enumerate()
        .filter(|(_, t)| t.last >= since && t.first <= entry.at)
        .filter(|(_, t)| related(entry, &t.jurisdiction, t.domain.as_ref()))
        .map(|(i, t)| (i, similarity(&entry.keywords, &t.vector())))
        .filter(|(_, s)| *s >= JOIN_SIMILARITY)
        .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
    if let Some((i, _)) = best {
        return Grouping::Joins(i);
    }
    let similar: Vec<usize> = loose
        .iter()
        .enumerate()
        .filter(|(_, e)| e.case_id != entry.case_id && e.topic.is_none() && e.at >= since && e.at <= entry.at)
        .filter(|(_, e)| related(entry, &e.jurisdiction, e.domain.as_ref()))
        .filter(|(_, e)| similarity(&entry.keywords, &e.keywords) >= PAIR_SIMILARITY)
        .map(|(i, _)| i)
        .collect();
    let citizens: std::collections::BTreeSet<&str> =
        similar.iter().map(|&i| loose[i].citizen.as_str()).chain([entry.citizen.as_str()]).collect();
    if citizens.len() < TOPIC_MIN {
        return Grouping::Alone;
    }
    // At most `FORM_MAX` join at once (the store claims them in one write): one of each citizen
    // first, then the latest.
    let mut chosen: Vec<usize> = Vec::new();
    let mut seen: std::collections::BTreeSet<&str> = std::collections::BTreeSet::from([entry.citizen.as_str()]);
    for &i in similar.iter().rev() {
        if chosen.len() < FORM_MAX && seen.insert(loose[i].citizen.as_str()) {
            chosen.push(i);
        }
    }
    for &i in similar.iter().rev() {
        if chosen.len() < FORM_MAX && !chosen.contains(&i) {
            chosen.push(i);
        }
    }
    chosen.sort_unstable();
    Grouping::Forms(chosen)
}

/// The Monday (China time) of the week of `at`: surges are counted by these weeks.
pub fn week_of(at: DateTime<Utc>) -> NaiveDate {
    let day = at.with_timezone(&cst()).date_naive();
    day - Duration::days(i64::from(day.weekday().num_days_from_monday()))
}

/// The counter of a week's messages of a domain in a jurisdiction: `surge|<domain>|<Monday>|<place>`,
/// so that a domain's weeks are one range of keys (one read for a surge check).
pub fn surge_key(week: NaiveDate, domain: Option<&str>, jurisdiction: &JurisdictionId) -> String {
    format!("{SURGE_PREFIX}{}|{week}|{jurisdiction}", domain.unwrap_or(NO_DOMAIN))
}

/// The range of a domain's counter keys from the week `from` to the week `to` (both included).
pub fn surge_range(domain: &str, from: NaiveDate, to: NaiveDate) -> (String, String) {
    (format!("{SURGE_PREFIX}{domain}|{from}|"), format!("{SURGE_PREFIX}{domain}|{to}|\u{10ffff}"))
}

/// A surge key taken apart: (week, domain, jurisdiction).
pub fn parse_surge_key(key: &str) -> Option<(NaiveDate, String, JurisdictionId)> {
    let mut parts = key.strip_prefix(SURGE_PREFIX)?.split('|');
    let (domain, week, jurisdiction) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    Some((week.parse().ok()?, domain.to_owned(), JurisdictionId::new(jurisdiction)))
}

/// Whether `count` this week is a surge over the counts of the `SURGE_WEEKS` weeks before (weeks
/// without messages count as 0): at least `SURGE_MIN`, and at least `SURGE_FACTOR` times their
/// average. Whole numbers, so the edges are exact.
pub fn is_surge(count: i64, before: &[i64]) -> bool {
    let total: i64 = before.iter().sum();
    count >= SURGE_MIN && count * SURGE_WEEKS >= SURGE_FACTOR * total
}

/// A surge (激增): a domain × jurisdiction's messages this week against its weekly average.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Surge {
    /// Monday of the week (China time).
    pub week: NaiveDate,
    pub domain: String,
    pub jurisdiction: JurisdictionId,
    pub count: i64,
    /// Weekly average of the `SURGE_WEEKS` weeks before.
    pub average: f64,
}

/// The surges of `week` from the weekly counters of that week and the `SURGE_WEEKS` before it
/// (keys as [`surge_key`]; others are ignored). Messages without a domain make no surge.
pub fn surges(counters: &[(String, i64)], week: NaiveDate) -> Vec<Surge> {
    let earliest = week - Duration::weeks(SURGE_WEEKS);
    let mut by_cell: BTreeMap<(String, JurisdictionId), (i64, i64)> = BTreeMap::new();
    for (key, n) in counters {
        let Some((w, domain, jurisdiction)) = parse_surge_key(key) else { continue };
        if domain == NO_DOMAIN || w < earliest || w > week {
            continue;
        }
        let cell = by_cell.entry((domain, jurisdiction)).or_default();
        if w == week {
            cell.0 += n;
        } else {
            cell.1 += n;
        }
    }
    by_cell
        .into_iter()
        .filter(|(_, (count, before))| is_surge(*count, &[*before]))
        .map(|((domain, jurisdiction), (count, before))| Surge {
            week,
            domain,
            jurisdiction,
            count,
            average: before as f64 / SURGE_WEEKS as f64,
        })
        .collect()
}

/// The first week whose counter [`surges`] needs for `week`.
pub fn surge_from(week: NaiveDate) -> NaiveDate {
    week - Duration::weeks(SURGE_WEEKS)
}

/// How serious a 舆情 item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Ordinary,
    Major,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 3] = [Severity::Ordinary, Severity::Major, Severity::Critical];

    pub fn label(self) -> &'static str {
        match self {
            Severity::Ordinary => "一般",
            Severity::Major => "较大",
            Severity::Critical => "重大",
        }
    }
}

/// Where a 舆情 item stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    /// Recorded by the 舆情 desk, not sent to a unit yet.
    Recorded,
    /// Sent to a unit to verify and answer.
    Sent,
    /// The unit answered.
    Answered,
    Closed,
}

impl ItemStatus {
    pub fn label(self) -> &'static str {
        match self {
            ItemStatus::Recorded => "待交办",
            ItemStatus::Sent => "待核实答复",
            ItemStatus::Answered => "已答复",
            ItemStatus::Closed => "已办结",
        }
    }
}

/// A line of an item's history: who did what, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemStep {
    pub at: DateTime<Utc>,
    pub by: UserId,
    pub unit: Option<UnitId>,
    pub what: String,
}

/// Something found online about the city (舆情信息), recorded by the 舆情 desk, sent to a unit to
/// verify and answer, and tracked to closure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpinionItem {
    /// `Y` and 12 hex digits.
    pub id: String,
    /// Where it appeared (微博, 抖音, a forum, a news site, …).
    pub platform: String,
    pub link: String,
    pub found_at: DateTime<Utc>,
    pub summary: String,
    pub severity: Severity,
    /// Mailbox cases about the same matter.
    pub related: Vec<CaseNumber>,
    pub recorded_by: UserId,
    pub recorded_at: DateTime<Utc>,
    pub status: ItemStatus,
    /// The unit it was sent to.
    pub unit: Option<UnitId>,
    /// The unit's answer (its verification and what it did).
    pub answer: Option<String>,
    pub history: Vec<ItemStep>,
    pub version: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(day: i64) -> DateTime<Utc> {
        "2026-03-02T02:00:00Z".parse::<DateTime<Utc>>().unwrap() + Duration::days(day)
    }

    fn entry(id: &str, day: i64, words: &[&str]) -> TopicEntry {
        let mut keywords: Vec<Keyword> = words.iter().map(|w| (w.to_string(), 1.0)).collect();
        normalise(&mut keywords);
        TopicEntry {
            case_id: CaseId::new(id),
            number: CaseNumber::new(format!("GA{id}")),
            dispatcher: UnitId::new("city-xfj"),
            jurisdiction: JurisdictionId::new("city"),
            domain: Some("城乡建设".into()),
            at: at(day),
            keywords,
            citizen: citizen_tag(id),
            topic: None,
        }
    }

    const FLOOD: [&str; 4] = ["幸福小区", "积水", "排水", "下水道"];

    #[test]
    fn three_similar_messages_within_a_week_form_a_topic_that_a_fourth_joins() {
        let a = entry("a", 0, &FLOOD);
        let b = entry("b", 2, &["幸福小区", "积水", "排水", "路灯"]);
        let unrelated = entry("u", 3, &["公交", "线路", "火车站"]);
        let c = entry("c", 5, &["幸福小区", "积水", "下水道"]);
        assert_eq!(group(&b, &[], std::slice::from_ref(&a)), Grouping::Alone, "two are not a topic");
        assert_eq!(group(&unrelated, &[], &[a.clone(), b.clone()]), Grouping::Alone);
        let loose = [a.clone(), b.clone(), unrelated.clone()];
        assert_eq!(group(&c, &[], &loose), Grouping::Forms(vec![0, 1]));
        let topic = HotTopic::form(&[&c, &a, &b]);
        assert_eq!(topic.id, "Ta");
        assert_eq!((topic.count, topic.first, topic.last), (3, at(0), at(5)));
        assert_eq!(topic.label[..2], ["幸福小区".to_owned(), "积水".to_owned()]);
        assert!(!topic.label.contains(&"路灯".to_owned()), "a word of one message is no label: {:?}", topic.label);
        let topics = [topic];
        assert_eq!(group(&entry("d", 9, &FLOOD), &topics, &[]), Grouping::Joins(0));
        let claimed = TopicEntry { topic: Some("Ta".into()), ..c.clone() };
        assert_eq!(group(&claimed, &topics, &[]), Grouping::Member(0), "a redelivery changes nothing");
        // A week after its last message the topic is closed; a new message waits loose.
        assert_eq!(group(&entry("e", 13, &FLOOD), &topics, &[]), Grouping::Alone);
    }

    #[test]
    fn one_citizen_writing_three_times_is_no_topic_and_their_words_no_label() {
        let first = entry("a", 0, &["幸福小区", "积水", "王建国"]);
        let again =
            TopicEntry { citizen: first.citizen.clone(), ..entry("b", 1, &["幸福小区", "积水", "王建国"]) };
        let third =
            TopicEntry { citizen: first.citizen.clone(), ..entry("c", 2, &["幸福小区", "积水", "王建国"]) };
        assert_eq!(group(&third, &[], &[first.clone(), again.clone()]), Grouping::Alone, "one citizen");
        // With two others it is a topic; a word only that citizen wrote is no label.
        let other = entry("d", 3, &["幸福小区", "积水"]);
        let topic = HotTopic::form(&[&first, &again, &third, &other]);
        assert!(topic.label.contains(&"积水".to_owned()), "{:?}", topic.label);
        assert!(!topic.label.contains(&"王建国".to_owned()), "{:?}", topic.label);
        // A message already claimed by a topic is not loose.
        let claimed = TopicEntry { topic: Some("Tx".into()), ..entry("e", 2, &FLOOD) };
        let loose = [entry("f", 1, &FLOOD), claimed];
        assert_eq!(group(&entry("g", 3, &FLOOD), &[], &loose), Grouping::Alone);
        assert_eq!(citizen_tag("13812345678").len(), 4);
        assert_eq!(citizen_tag("13812345678"), citizen_tag("13812345678"), "stable");
    }

    #[test]
    fn messages_older_than_a_week_or_of_another_place_and_domain_do_not_count() {
        let old = entry("a", 0, &FLOOD);
        let recent = entry("b", 6, &FLOOD);
        assert_eq!(group(&entry("c", 8, &FLOOD), &[], &[old.clone(), recent.clone()]), Grouping::Alone);
        let elsewhere = TopicEntry {
            jurisdiction: JurisdictionId::new("linshui"),
            domain: Some("环境保护".into()),
            ..entry("d", 7, &FLOOD)
        };
        assert_eq!(group(&entry("c", 8, &FLOOD), &[], &[recent.clone(), elsewhere.clone()]), Grouping::Alone);
        // The same domain elsewhere counts.
        let same_domain = TopicEntry { domain: Some("城乡建设".into()), ..elsewhere };
        assert_eq!(group(&entry("c", 8, &FLOOD), &[], &[recent, same_domain]), Grouping::Forms(vec![0, 1]));
    }

    #[test]
    fn surge_thresholds_at_their_edges() {
        // At least 5, and at least twice the 8-week average.
        assert!(is_surge(5, &[]), "a first busy week");
        assert!(!is_surge(4, &[]), "fewer than 5 is never a surge");
        assert!(is_surge(5, &[2, 2, 3, 3, 2, 2, 3, 3]), "average 2.5: 5 is exactly twice");
        assert!(!is_surge(5, &[2, 2, 3, 3, 2, 2, 3, 4]), "average 2.625: 5 is less than twice");
        assert!(is_surge(40, &[20; 8]));
        assert!(!is_surge(39, &[20; 8]));
    }

    #[test]
    fn surges_are_read_from_the_weekly_counters() {
        let week = week_of(at(14));
        assert_eq!(week.weekday(), chrono::Weekday::Mon);
        let city = JurisdictionId::new("city");
        let mut counters: Vec<(String, i64)> = (0..=SURGE_WEEKS)
            .map(|i| week - Duration::weeks(i))
            .map(|w| (surge_key(w, Some("城乡建设"), &city), if w == week { 5 } else { 3 }))
            .collect();
        counters.push((surge_key(week, Some("环境保护"), &city), 5));
        counters.push((surge_key(week, None, &city), 50));
        counters.push((surge_key(week - Duration::weeks(9), Some("环境保护"), &city), 100));
        counters.push(("cell|2026-03|x".into(), 9));
        let found = surges(&counters, week);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].domain.as_str(), found[0].count), ("环境保护", 5), "5 against 3 a week is no surge");
        assert_eq!(
            parse_surge_key(&surge_key(week, Some("环境保护"), &city)),
            Some((week, "环境保护".into(), city.clone()))
        );
        // A domain's weeks are one range of keys, every place included, no other domain's.
        let (from, to) = surge_range("环境保护", surge_from(week), week);
        let key = surge_key(week, Some("环境保护"), &JurisdictionId::new("linshui"));
        let within = |k: &str| from.as_str() <= k && k <= to.as_str();
        assert!(within(&key));
        assert!(!within(&surge_key(week, Some("环境保护X"), &city)));
        assert!(!within(&surge_key(week + Duration::weeks(1), Some("环境保护"), &city)));
    }
}
