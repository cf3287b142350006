//! 舆情 from the mailbox itself: hot topics and surges, found as the triage worker takes each new
//! case (never by rereading the cases), shown to supervisors and dispatchers, and marked 已研判.
//! The grouping rules are `mailbox_domain::opinion`; the keywords come from `mailbox_triage::topics`.

use crate::delivery::Topic;
use crate::ports::{Notification, StoreError, StoreResult};
use crate::{views, App, AppError};
use async_trait::async_trait;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use mailbox_domain::opinion::{
    citizen_tag, group, surge_from, surges, week_of, Grouping, HotTopic, Reviewed, Surge, TopicEntry, TOPIC_DAYS,
};
use mailbox_domain::org::UnitKind;
use mailbox_domain::{Actor, Case, CaseId, CaseNumber, CaseStatus, JurisdictionId, Role, UnitId};
use serde::Serialize;
use utoipa::ToSchema;

/// Storage of topic-finding: one entry per triaged message, the hot topics, and the weekly
/// domain × jurisdiction counters of surges.
#[async_trait]
pub trait TopicStore: Send + Sync + 'static {
    /// Records a message's entry and adds one to its week's counter (`opinion::surge_key`) in one
    /// transaction — once per case: when its entry exists nothing is written and the answer is false.
    async fn record_entry(&self, entry: &TopicEntry) -> StoreResult<bool>;
    /// What grouping a message needs, in one read where the store can: the entries of messages from
    /// `since` to `until` (oldest first) and the topics whose last message is in that time.
    async fn window(&self, since: DateTime<Utc>, until: DateTime<Utc>)
        -> StoreResult<(Vec<TopicEntry>, Vec<HotTopic>)>;
    /// Topics whose last message is from `since` to `until`, oldest first.
    async fn topics(&self, since: DateTime<Utc>, until: DateTime<Utc>) -> StoreResult<Vec<HotTopic>>;
    async fn topic(&self, id: &str) -> StoreResult<Option<HotTopic>>;
    /// Stores a topic at its `version` — a new one (`expected` none; `Conflict` if its id exists),
    /// or over the `expected` version (`Conflict` if another is stored) — and claims these entries
    /// for it, each only if no topic claimed it yet (`Conflict` otherwise), in one transaction.
    async fn save_topic(&self, topic: &HotTopic, expected: Option<u64>, claim: &[TopicEntry]) -> StoreResult<()>;
    /// A domain's weekly counters (every jurisdiction) of the weeks `from` to `to` (Mondays), as
    /// `(key, count)`: one range of keys (`opinion::surge_range`).
    async fn surge_counts(&self, domain: &str, from: NaiveDate, to: NaiveDate) -> StoreResult<Vec<(String, i64)>>;
}

/// An alert and the case number its SMS may name (one its unit may see).
type Alert = (Notification, Option<CaseNumber>);

/// Attempts at saving a topic against concurrent triage of similar messages.
const SAVE_ATTEMPTS: usize = 5;
/// Most days `hot_topics` looks back.
pub const MAX_DAYS: i64 = 90;
/// Messages listed per topic on the console page (its count says how many there are).
pub const LISTED_MESSAGES: usize = 20;

/// A hot topic as one member of staff may see it: only the messages they may see are listed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TopicView {
    pub id: String,
    pub label: Vec<String>,
    pub jurisdiction: JurisdictionId,
    pub jurisdiction_name: String,
    pub domain: Option<String>,
    pub count: u32,
    pub first: DateTime<Utc>,
    pub last: DateTime<Utc>,
    /// Case numbers of its messages that the caller may see, oldest first.
    pub cases: Vec<String>,
    pub reviewed: Option<ReviewedView>,
    /// Messages per day (China time) from its first day to today, for the trend chart.
    pub daily: Vec<DayCount>,
    #[serde(skip)]
    pub case_ids: Vec<CaseId>,
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct DayCount {
    pub day: NaiveDate,
    pub count: u32,
}

/// Who marked a topic 已研判 (their unit's name), and when.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReviewedView {
    pub at: DateTime<Utc>,
    pub unit: Option<String>,
}

/// The answer of `GET /api/v1/staff/hot-topics`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HotTopics {
    pub days: i64,
    pub topics: Vec<TopicView>,
    /// Surges of this week and the weeks the period reaches into.
    pub surges: Vec<SurgeView>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SurgeView {
    #[serde(flatten)]
    pub surge: Surge,
    pub jurisdiction_name: String,
}

fn may_watch(actor: &Actor) -> Result<(), AppError> {
    match actor.role {
        Role::Supervisor | Role::Dispatcher | Role::Opinion => Ok(()),
        _ => Err(AppError::Forbidden("热点话题仅供督办、受理和舆情人员查看".into())),
    }
}

/// Whether the caller may see a message of a topic: supervisors all, a dispatcher its own; 舆情
/// staff none (they see every topic, without case numbers: they have no case access).
fn sees(actor: &Actor, dispatcher: &UnitId) -> bool {
    actor.role == Role::Supervisor || (actor.role == Role::Dispatcher && actor.unit.as_ref() == Some(dispatcher))
}

impl App {
    /// Topic-finding for a triaged case (the triage consumer's last step): records its entry,
    /// groups it, and tells supervisors and dispatchers of a new topic or a surge — once each
    /// (notifications keyed by topic and by week). Idempotent: a redelivery finds the entry
    /// recorded and the case in its topic. Invalid messages take no part.
    pub async fn watch_topics(&self, case: &Case) -> Result<(), AppError> {
        let Some(note) = case.triage.as_ref() else { return Ok(()) };
        if note.invalid.is_some() || case.status == CaseStatus::Invalid {
            return Ok(());
        }
        let jurisdiction = note
            .jurisdiction
            .as_ref()
            .map(|j| j.value.clone())
            .or_else(|| self.org.mailbox(&case.mailbox).map(|m| m.jurisdiction.clone()));
        let Some(jurisdiction) = jurisdiction else { return Ok(()) };
        let names = [case.citizen.name.as_str()];
        let entry = TopicEntry {
            case_id: case.id.clone(),
            number: case.number.clone(),
            dispatcher: case.dispatcher.clone(),
            jurisdiction,
            domain: note.domain.as_ref().map(|d| d.value.clone()),
            at: case.submitted_at,
            keywords: mailbox_triage::topics::keywords(&case.title, &case.body, &names),
            citizen: match crate::service::citizen_key(&case.citizen.phone) {
                key if key.is_empty() => citizen_tag(case.id.as_str()),
                key => citizen_tag(&key),
            },
            topic: None,
        };
        // The supervising offices just heard of this case's 热点件 (the same matter): the topic's
        // alert goes to the dispatchers only.
        let offices_told = note.hot.as_ref().is_some_and(|h| h.alert);
        let mut alerts = self.group_entry(&entry, offices_told).await?;
        alerts.extend(self.surge_alerts(&entry).await?);
        // One at a time: each SMS names a case its unit may see, or none.
        for (notification, number) in alerts {
            self.deliver(&[notification], number.as_ref().map(CaseNumber::as_str)).await?;
        }
        Ok(())
    }

    /// Records the entry (unless a delivery before did) and puts it in its topic; the alerts of a
    /// topic it formed.
    async fn group_entry(&self, entry: &TopicEntry, offices_told: bool) -> Result<Vec<Alert>, AppError> {
        let since = entry.at - Duration::days(TOPIC_DAYS);
        for _ in 0..SAVE_ATTEMPTS {
            // Up to now: a topic that a later message (triaged first) moved on is still this one's.
            let (entries, topics) = self.topics.window(since, self.now().max(entry.at)).await?;
            // Read first, so a redelivery writes nothing (not even a refused write): the entry and
            // its week's count are recorded once.
            if !entries.iter().any(|e| e.case_id == entry.case_id) {
                self.topics.record_entry(entry).await?;
            }
            // As stored: claimed for a topic already when this is a redelivery.
            let me = entries.iter().find(|e| e.case_id == entry.case_id).cloned().unwrap_or_else(|| entry.clone());
            let loose: Vec<TopicEntry> = entries
                .into_iter()
                .filter(|e| e.at <= entry.at && e.topic.is_none() && e.case_id != me.case_id)
                .collect();
            let saved = match group(&me, &topics, &loose) {
                Grouping::Alone => return Ok(Vec::new()),
                // A redelivery: the alerts again if it formed the topic (the same keys: kept once).
                Grouping::Member(i) => return Ok(self.topic_alerts(&topics[i], &me, offices_told)),
                Grouping::Joins(i) => {
                    let mut topic = topics[i].clone();
                    topic.join(&me);
                    topic.version += 1;
                    let claim = TopicEntry { topic: Some(topic.id.clone()), ..me.clone() };
                    self.topics.save_topic(&topic, Some(topics[i].version), &[claim]).await.map(|()| None)
                }
                Grouping::Forms(others) => {
                    let mut members: Vec<&TopicEntry> = others.iter().map(|&i| &loose[i]).collect();
                    members.push(&me);
                    let mut topic = HotTopic::form(&members);
                    topic.formed_by = Some(me.case_id.clone());
                    topic.version = 1;
                    let claims: Vec<TopicEntry> =
                        members.iter().map(|e| TopicEntry { topic: Some(topic.id.clone()), ..(*e).clone() }).collect();
                    self.topics.save_topic(&topic, None, &claims).await.map(|()| Some(topic))
                }
            };
            match saved {
                Ok(formed) => return Ok(formed.map(|t| self.topic_alerts(&t, &me, offices_told)).unwrap_or_default()),
                // Another message of the topic was grouped meanwhile, or one of these was claimed:
                // read again and group again.
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(AppError::Busy)
    }

    /// A new topic's alerts — to the supervising offices (unless `offices_told`) and the
    /// dispatchers of its messages — when `entry` is the message that formed it; none otherwise.
    fn topic_alerts(&self, topic: &HotTopic, entry: &TopicEntry, offices_told: bool) -> Vec<Alert> {
        if topic.formed_by.as_ref() != Some(&entry.case_id) {
            return Vec::new();
        }
        // Each unit hears of a case it may see: the offices of the first, a dispatcher of its own.
        let mut told: Vec<(UnitId, &CaseNumber)> = Vec::new();
        if !offices_told {
            told.extend(self.supervising_offices().into_iter().map(|u| (u, &topic.members[0].number)));
        }
        for m in &topic.members {
            if !told.iter().any(|(u, _)| *u == m.dispatcher) {
                told.push((m.dispatcher.clone(), &m.number));
            }
        }
        let place = self.jurisdiction_name(&topic.jurisdiction);
        told.into_iter()
            .map(|(unit, number)| {
                let notification = Notification {
                    key: format!("topic:{}:{unit}", topic.id),
                    subject: format!(
                        "热点话题：{}（{place}，{}天内 {} 件）",
                        topic.label.join(" "),
                        TOPIC_DAYS,
                        topic.count
                    ),
                    body: format!("分类 {}；留言 {number} 等", topic.domain.as_deref().unwrap_or("未分类")),
                    unit,
                    created_at: entry.at,
                    topic: Topic::HotTopic,
                };
                (notification, Some(number.clone()))
            })
            .collect()
    }

    /// A surge's alerts, when this message's domain × jurisdiction surges this week — the same
    /// keys for every message of the week, so each unit is told once.
    async fn surge_alerts(&self, entry: &TopicEntry) -> Result<Vec<Alert>, AppError> {
        let Some(domain) = &entry.domain else { return Ok(Vec::new()) };
        let week = week_of(entry.at);
        let counters = self.topics.surge_counts(domain, surge_from(week), week).await?;
        let Some(surge) =
            surges(&counters, week).into_iter().find(|s| &s.domain == domain && s.jurisdiction == entry.jurisdiction)
        else {
            return Ok(Vec::new());
        };
        let mut units = self.supervising_offices();
        for unit in
            [self.org.jurisdiction(&entry.jurisdiction).map(|j| j.dispatcher.clone()), Some(entry.dispatcher.clone())]
                .into_iter()
                .flatten()
        {
            if !units.contains(&unit) {
                units.push(unit);
            }
        }
        let place = self.jurisdiction_name(&surge.jurisdiction);
        let offices = self.supervising_offices();
        Ok(units
            .into_iter()
            .map(|unit| {
                // The case that tipped it goes only to units that may see it.
                let number = (offices.contains(&unit) || unit == entry.dispatcher).then(|| entry.number.clone());
                let notification = Notification {
                    key: format!("surge:{week}:{domain}:{}:{unit}", surge.jurisdiction),
                    subject: format!(
                        "留言激增：{place}{domain}类本周已 {} 件（前8周周均 {:.1} 件）",
                        surge.count, surge.average
                    ),
                    body: format!("{week} 起的一周"),
                    unit,
                    created_at: entry.at,
                    topic: Topic::Surge,
                };
                (notification, number)
            })
            .collect())
    }

    fn supervising_offices(&self) -> Vec<UnitId> {
        self.org.units.iter().filter(|u| u.kind == UnitKind::GovernmentOffice).map(|u| u.id.clone()).collect()
    }

    pub(crate) fn jurisdiction_name(&self, id: &JurisdictionId) -> String {
        self.org.jurisdiction(id).map_or_else(|| id.to_string(), |j| j.name.clone())
    }

    /// Hot topics with a message in the last `days` days, newest first, and the surges of the weeks
    /// they reach into, as `actor` may see them: supervisors every topic; a dispatcher the topics
    /// with a message of its own, listing only those.
    pub async fn hot_topics(&self, actor: &Actor, days: i64) -> Result<HotTopics, AppError> {
        may_watch(actor)?;
        if !(1..=MAX_DAYS).contains(&days) {
            return Err(AppError::invalid("invalid_days", "days", format!("days 须为 1 至 {MAX_DAYS} 的整数")));
        }
        let now = self.now();
        let since = now - Duration::days(days);
        let mut topics: Vec<TopicView> =
            self.topics.topics(since, now).await?.into_iter().filter_map(|t| self.topic_view(actor, &t, now)).collect();
        topics.sort_by(|a, b| b.last.cmp(&a.last).then(a.id.cmp(&b.id)));
        let mut weeks: Vec<NaiveDate> = Vec::new();
        let mut week = week_of(now);
        while week >= week_of(since) {
            weeks.push(week);
            week -= Duration::weeks(1);
        }
        let mut found = Vec::new();
        let (first, last) = (weeks.last().copied().unwrap_or(week), weeks.first().copied().unwrap_or(week));
        for domain in mailbox_triage::domain::DOMAINS {
            let counters = self.topics.surge_counts(domain, surge_from(first), last).await?;
            for week in &weeks {
                found.extend(
                    surges(&counters, *week).into_iter().filter(|s| self.sees_surge(actor, s)).map(|surge| SurgeView {
                        jurisdiction_name: self.jurisdiction_name(&surge.jurisdiction),
                        surge,
                    }),
                );
            }
        }
        found.sort_by(|a, b| b.surge.week.cmp(&a.surge.week).then(b.surge.count.cmp(&a.surge.count)));
        Ok(HotTopics { days, topics, surges: found })
    }

    /// A dispatcher sees the surges of its own jurisdiction; supervisors and 舆情 staff all.
    fn sees_surge(&self, actor: &Actor, s: &Surge) -> bool {
        matches!(actor.role, Role::Supervisor | Role::Opinion)
            || self.org.jurisdiction(&s.jurisdiction).is_some_and(|j| actor.unit.as_ref() == Some(&j.dispatcher))
    }

    pub(crate) fn topic_view(&self, actor: &Actor, t: &HotTopic, now: DateTime<Utc>) -> Option<TopicView> {
        let visible: Vec<_> = t.members.iter().filter(|m| sees(actor, &m.dispatcher)).collect();
        if visible.is_empty() && actor.role != Role::Opinion {
            return None;
        }
        Some(TopicView {
            id: t.id.clone(),
            label: t.label.clone(),
            jurisdiction: t.jurisdiction.clone(),
            jurisdiction_name: self.jurisdiction_name(&t.jurisdiction),
            domain: t.domain.clone(),
            count: t.count,
            first: t.first,
            last: t.last,
            cases: visible.iter().map(|m| m.number.to_string()).collect(),
            case_ids: visible.iter().map(|m| m.case_id.clone()).collect(),
            reviewed: t.reviewed.as_ref().map(|r| ReviewedView {
                at: r.at,
                unit: r.unit.as_ref().map(|u| self.org.unit(u).map_or_else(|| u.to_string(), |u| u.name.clone())),
            }),
            daily: t.daily(now).into_iter().map(|(day, count)| DayCount { day, count }).collect(),
        })
    }

    /// Marks a topic 已研判 (assessed): the supervisors' judgement for the whole city, so only they
    /// mark (others see the mark). A topic already marked keeps its first mark.
    pub async fn review_topic(&self, actor: &Actor, id: &str) -> Result<TopicView, AppError> {
        if actor.role != Role::Supervisor {
            return Err(AppError::Forbidden("热点话题由政府办督办人员研判".into()));
        }
        // A topic id is `T` and a case id: anything else names no topic (and never reaches a key).
        let well_formed =
            id.len() <= 80 && id.starts_with('T') && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !well_formed {
            return Err(AppError::NotFound);
        }
        for _ in 0..SAVE_ATTEMPTS {
            let topic = self.topics.topic(id).await?.ok_or(AppError::NotFound)?;
            let now = self.now();
            if self.topic_view(actor, &topic, now).is_none() {
                return Err(AppError::NotFound);
            }
            if topic.reviewed.is_some() {
                return self.topic_view(actor, &topic, now).ok_or(AppError::NotFound);
            }
            let mut marked = topic.clone();
            marked.reviewed = Some(Reviewed { by: actor.user.clone(), unit: actor.unit.clone(), at: now });
            marked.version += 1;
            match self.topics.save_topic(&marked, Some(topic.version), &[]).await {
                Ok(()) => return self.topic_view(actor, &marked, now).ok_or(AppError::NotFound),
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(AppError::Busy)
    }

    /// The latest of a topic's messages that the caller may see (at most `LISTED_MESSAGES`), as
    /// (case id, number, title with personal data masked), newest first: the console page.
    pub async fn topic_titles(&self, view: &TopicView) -> Result<Vec<(String, String, String)>, AppError> {
        let mut out = Vec::new();
        for id in view.case_ids.iter().rev().take(LISTED_MESSAGES) {
            if let Some(case) = self.store.get(id).await? {
                out.push((case.id.to_string(), case.number.to_string(), views::masked_title(&case)));
            }
        }
        Ok(out)
    }
}
