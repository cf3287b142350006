//! The 舆情 desk: staff with the 舆情 role (and supervisors) record what appears online about the
//! city — platform, link, time, summary, severity, related mailbox cases —, send an item to a unit to
//! verify and answer, and track it to closure; units see only what was sent to them. The weekly
//! 舆情 report for leaders combines the week's hot topics and surges with the desk's items.

use crate::delivery::Topic as NoticeTopic;
use crate::discussion::text_field;
use crate::opinion::{SurgeView, TopicView};
use crate::ports::{Notification, StoreError, StoreResult};
use crate::{App, AppError};
use async_trait::async_trait;
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use mailbox_domain::deadline::cst;
use mailbox_domain::opinion::{surge_from, surges, week_of, ItemStatus, ItemStep, OpinionItem, Severity};
use mailbox_domain::{Actor, CaseNumber, Role, UnitId};

/// Storage of the desk's items.
#[async_trait]
pub trait OpinionDesk: Send + Sync + 'static {
    /// Stores a new item; `Conflict` if its id exists.
    async fn create_item(&self, item: &OpinionItem) -> StoreResult<()>;
    async fn item(&self, id: &str) -> StoreResult<Option<OpinionItem>>;
    /// Writes an item over `expected` version (`Conflict` if another is stored); an item sent to a
    /// unit is then in that unit's list.
    async fn save_item(&self, item: &OpinionItem, expected: u64) -> StoreResult<()>;
    /// Items recorded from `since` to `until`, newest first.
    async fn items(&self, since: DateTime<Utc>, until: DateTime<Utc>) -> StoreResult<Vec<OpinionItem>>;
    /// Items sent to a unit and still with it (not sent on elsewhere since), newest first, at most
    /// `limit` (on DynamoDB fewer when some of the latest `limit` moved on).
    async fn unit_items(&self, unit: &UnitId, limit: usize) -> StoreResult<Vec<OpinionItem>>;
}

/// How far back the desk's list reaches, and how many a unit's list shows.
pub const LISTED_DAYS: i64 = 90;
pub const UNIT_LISTED: usize = 200;
pub const MAX_RELATED: usize = 20;

/// What the desk records.
#[derive(Debug, Clone, Default)]
pub struct ItemRequest {
    pub platform: String,
    pub link: String,
    /// `YYYY-MM-DDTHH:MM` (a browser's datetime-local), China time.
    pub found_at: String,
    pub summary: String,
    pub severity: String,
    /// Case numbers separated by spaces, commas or new lines.
    pub related: String,
}

/// The weekly 舆情 report.
#[derive(Debug, Clone)]
pub struct WeeklyReport {
    pub week: NaiveDate,
    pub topics: Vec<TopicView>,
    pub surges: Vec<SurgeView>,
    pub items: Vec<OpinionItem>,
}

fn desk(actor: &Actor) -> bool {
    matches!(actor.role, Role::Opinion | Role::Supervisor)
}

impl App {
    /// Records an item (the 舆情 desk and supervisors).
    pub async fn record_item(&self, actor: &Actor, r: &ItemRequest) -> Result<OpinionItem, AppError> {
        if !desk(actor) {
            return Err(AppError::Forbidden("舆情信息由舆情工作人员或政府办录入".into()));
        }
        let platform = text_field(&r.platform, "platform", "发布平台", 1, 20)?;
        let link = r.link.trim().to_owned();
        let link_ok = (link.starts_with("https://") || link.starts_with("http://"))
            && link.len() <= 500
            && link.len() > "https://".len()
            && link.chars().all(|c| c.is_ascii_graphic() || (!c.is_ascii() && !c.is_control() && !c.is_whitespace()));
        if !link_ok {
            return Err(AppError::invalid(
                "invalid_link",
                "link",
                "请填写以 http:// 或 https:// 开头的网址（不超过 500 个字符）",
            ));
        }
        let found_at = NaiveDateTime::parse_from_str(r.found_at.trim(), "%Y-%m-%dT%H:%M")
            .ok()
            .and_then(|t| cst().from_local_datetime(&t).single())
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| AppError::invalid("invalid_time", "found_at", "发现时间格式应为 2026-12-01T09:30"))?;
        if found_at > self.now() + Duration::hours(1) || found_at < self.now() - Duration::days(365) {
            return Err(AppError::invalid("invalid_time", "found_at", "发现时间应在一年内，且不晚于现在"));
        }
        let summary = text_field(&r.summary, "summary", "内容摘要", 1, 1000)?;
        let severity = serde_json::from_value::<Severity>(serde_json::Value::String(r.severity.trim().to_owned()))
            .map_err(|_| AppError::invalid("invalid_severity", "severity", "请选择严重程度"))?;
        let mut related: Vec<CaseNumber> = Vec::new();
        let named: Vec<&str> = r
            .related
            .split(|c: char| c.is_whitespace() || c == ',' || c == '，' || c == '、')
            .filter(|n| !n.is_empty())
            .collect();
        // Counted before any is looked up: a long list costs nothing.
        if named.len() > 2 * MAX_RELATED {
            return Err(AppError::invalid("too_many_cases", "related", format!("相关留言不能超过 {MAX_RELATED} 件")));
        }
        for n in named {
            let number = CaseNumber::new(n.to_uppercase());
            let well_formed = number.as_str().len() <= 24 && number.as_str().bytes().all(|b| b.is_ascii_alphanumeric());
            if !well_formed || self.store.get_by_number(&number).await?.is_none() {
                return Err(AppError::invalid(
                    "unknown_case",
                    "related",
                    format!("找不到编号为 {} 的留言", number.as_str().chars().take(24).collect::<String>()),
                ));
            }
            if !related.contains(&number) {
                related.push(number);
            }
        }
        if related.len() > MAX_RELATED {
            return Err(AppError::invalid("too_many_cases", "related", format!("相关留言不能超过 {MAX_RELATED} 件")));
        }
        let now = self.now();
        let item = OpinionItem {
            id: format!("Y{}", hex::encode(rand::random::<[u8; 6]>())),
            platform,
            link,
            found_at,
            summary,
            severity,
            related,
            recorded_by: actor.user.clone(),
            recorded_at: now,
            status: ItemStatus::Recorded,
            unit: None,
            answer: None,
            history: vec![ItemStep {
                at: now, by: actor.user.clone(), unit: actor.unit.clone(), what: "录入".into()
            }],
            version: 1,
        };
        self.desk.create_item(&item).await?;
        Ok(item)
    }

    /// An item as `actor` may see it: the desk and supervisors every item, a unit what was sent to
    /// it — with only the related cases it may see; others `NotFound`, never a hint that it exists.
    pub async fn opinion_item(&self, actor: &Actor, id: &str) -> Result<OpinionItem, AppError> {
        let mut item = self.opinion_item_stored(actor, id).await?;
        if !desk(actor) {
            let mut visible = Vec::new();
            for n in &item.related {
                if let Some(case) = self.store.get_by_number(n).await? {
                    if mailbox_domain::can_view(actor, &case) {
                        visible.push(n.clone());
                    }
                }
            }
            item.related = visible;
        }
        Ok(item)
    }

    /// The item as stored, if `actor` may see it at all.
    async fn opinion_item_stored(&self, actor: &Actor, id: &str) -> Result<OpinionItem, AppError> {
        if id.len() != 13 || !id.starts_with('Y') || !id[1..].bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(AppError::NotFound);
        }
        let item = self.desk.item(id).await?.ok_or(AppError::NotFound)?;
        let sent_to_them =
            matches!(actor.role, Role::Dispatcher | Role::Handler) && item.unit.is_some() && actor.unit == item.unit;
        if desk(actor) || sent_to_them {
            Ok(item)
        } else {
            Err(AppError::NotFound)
        }
    }

    /// The items `actor` may see, newest first: the desk's of the last 90 days, or a unit's.
    pub async fn opinion_items(&self, actor: &Actor) -> Result<Vec<OpinionItem>, AppError> {
        match (actor.role, &actor.unit) {
            (Role::Opinion | Role::Supervisor, _) => {
                Ok(self.desk.items(self.now() - Duration::days(LISTED_DAYS), self.now()).await?)
            }
            (Role::Dispatcher | Role::Handler, Some(unit)) => Ok(self.desk.unit_items(unit, UNIT_LISTED).await?),
            _ => Err(AppError::Forbidden("该账号不能查看舆情信息".into())),
        }
    }

    /// Sends an item to a unit to verify and answer (again, when an answer was not enough).
    pub async fn send_item(&self, actor: &Actor, id: &str, unit: &str, version: u64) -> Result<OpinionItem, AppError> {
        let mut item = self.opinion_item_stored(actor, id).await?;
        if !desk(actor) {
            return Err(AppError::Forbidden("舆情信息由舆情工作人员或政府办交办".into()));
        }
        let unit = UnitId::new(unit.trim());
        let Some(target) = self.org.unit(&unit) else {
            return Err(AppError::invalid("unknown_unit", "unit", "请选择核实答复的单位"));
        };
        if !matches!(item.status, ItemStatus::Recorded | ItemStatus::Answered) {
            return Err(AppError::Conflict {
                code: "illegal_transition",
                message: format!("{}的舆情信息不能交办", item.status.label()),
            });
        }
        let what = format!("交 {} 核实答复", target.name);
        item.status = ItemStatus::Sent;
        item.unit = Some(unit.clone());
        let notice = Notification {
            key: format!("opinion:{}:{}", item.id, item.history.len()),
            unit,
            subject: format!("新的舆情信息待核实（{}）", item.severity.label()),
            body: format!("舆情信息 {}，请登录工作台核实并答复", item.id),
            created_at: self.now(),
            topic: NoticeTopic::Other,
        };
        let item = self.step(actor, item, version, what).await?;
        // Sent: the item is in the unit's list whatever happens now; a notice that fails to go out
        // is logged, not turned into an error that would tell the user it was not sent.
        if let Err(e) = self.deliver(&[notice], None).await {
            tracing::error!(error = %e, item = %item.id, "notifying the unit of a 舆情 item failed");
        }
        Ok(item)
    }

    /// The unit's answer: what it verified and did.
    pub async fn answer_item(
        &self,
        actor: &Actor,
        id: &str,
        text: &str,
        version: u64,
    ) -> Result<OpinionItem, AppError> {
        let mut item = self.opinion_item_stored(actor, id).await?;
        if desk(actor) || item.status != ItemStatus::Sent {
            return Err(AppError::Conflict {
                code: "illegal_transition",
                message: "只有交办给本单位、待核实答复的舆情信息可以答复".into(),
            });
        }
        item.answer = Some(text_field(text, "text", "核实答复", 1, 5000)?);
        item.status = ItemStatus::Answered;
        self.step(actor, item, version, "答复".into()).await
    }

    /// Closes an item (the desk): answered, or recorded and needing nothing from a unit.
    pub async fn close_item(&self, actor: &Actor, id: &str, version: u64) -> Result<OpinionItem, AppError> {
        let mut item = self.opinion_item_stored(actor, id).await?;
        if !desk(actor) {
            return Err(AppError::Forbidden("舆情信息由舆情工作人员或政府办办结".into()));
        }
        if !matches!(item.status, ItemStatus::Recorded | ItemStatus::Answered) {
            return Err(AppError::Conflict {
                code: "illegal_transition",
                message: format!("{}的舆情信息不能办结", item.status.label()),
            });
        }
        item.status = ItemStatus::Closed;
        self.step(actor, item, version, "办结".into()).await
    }

    /// Records a step and saves over `version` (the version the form showed).
    async fn step(
        &self,
        actor: &Actor,
        mut item: OpinionItem,
        version: u64,
        what: String,
    ) -> Result<OpinionItem, AppError> {
        if item.version != version {
            return Err(AppError::Conflict {
                code: "stale_version",
                message: "该舆情信息已被他人处理，请刷新后重试".into(),
            });
        }
        item.history.push(ItemStep { at: self.now(), by: actor.user.clone(), unit: actor.unit.clone(), what });
        item.version += 1;
        match self.desk.save_item(&item, version).await {
            Ok(()) => Ok(item),
            Err(StoreError::Conflict(_)) => Err(AppError::Conflict {
                code: "stale_version",
                message: "该舆情信息已被他人处理，请刷新后重试".into(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// The weekly 舆情 report of the week starting on `week` (a Monday; any day is taken to its
    /// week): hot topics with a message that week, the week's surges, the items recorded that week.
    pub async fn weekly_report(&self, actor: &Actor, week: NaiveDate) -> Result<WeeklyReport, AppError> {
        if !desk(actor) {
            return Err(AppError::Forbidden("舆情周报仅供舆情工作人员和政府办查看".into()));
        }
        if !(2000..=2100).contains(&week.year()) {
            return Err(AppError::invalid("invalid_week", "week", "周的日期应在 2000 至 2100 年之间"));
        }
        let start =
            cst().from_local_datetime(&week.and_hms_opt(0, 0, 0).expect("midnight")).single().expect("fixed offset");
        let week = week_of(start.with_timezone(&Utc));
        let start = cst()
            .from_local_datetime(&week.and_hms_opt(0, 0, 0).expect("midnight"))
            .single()
            .expect("fixed offset")
            .with_timezone(&Utc);
        let end = start + Duration::weeks(1) - Duration::milliseconds(1);
        let supervisor = Actor::staff(actor.user.as_str(), Role::Supervisor, actor.unit.clone());
        let mut topics: Vec<TopicView> = self
            .topics
            // Up to now: a topic that went on growing after the week still had messages in it.
            .topics(start, self.now().max(end))
            .await?
            .into_iter()
            .filter(|t| t.members.iter().any(|m| m.at >= start && m.at <= end))
            .filter_map(|t| self.topic_view(&supervisor, &t, end))
            .collect();
        topics.sort_by(|a, b| b.count.cmp(&a.count).then(a.id.cmp(&b.id)));
        let mut found = Vec::new();
        for domain in mailbox_triage::domain::DOMAINS {
            let counters = self.topics.surge_counts(domain, surge_from(week), week).await?;
            found.extend(
                surges(&counters, week)
                    .into_iter()
                    .map(|surge| SurgeView { jurisdiction_name: self.jurisdiction_name(&surge.jurisdiction), surge }),
            );
        }
        let items = self.desk.items(start, end).await?;
        Ok(WeeklyReport { week, topics, surges: found, items })
    }
}

/// The weekly report as one spreadsheet: a row per hot topic, surge and item.
pub fn report_table(org: &mailbox_domain::Organisation, r: &WeeklyReport) -> crate::export::Table {
    use crate::export::Cell;
    let t = |s: String| Cell::Text(s);
    let mut rows = Vec::new();
    for topic in &r.topics {
        rows.push(vec![
            t("热点话题".into()),
            t(topic.label.join(" ")),
            t(format!("{} · {}", topic.jurisdiction_name, topic.domain.as_deref().unwrap_or("未分类"))),
            Cell::Number(f64::from(topic.count)),
            t(topic.cases.join(" ")),
            t(if topic.reviewed.is_some() { "已研判".into() } else { "未研判".into() }),
        ]);
    }
    for s in &r.surges {
        rows.push(vec![
            t("留言激增".into()),
            t(s.surge.domain.clone()),
            t(s.jurisdiction_name.clone()),
            Cell::Number(s.surge.count as f64),
            t(format!("前8周周均 {:.1}", s.surge.average)),
            t(String::new()),
        ]);
    }
    for i in &r.items {
        let unit = i.unit.as_ref().map(|u| crate::views::unit_name(org, u)).unwrap_or_default();
        rows.push(vec![
            t("舆情信息".into()),
            t(format!("[{}] {}", i.platform, i.summary)),
            t(format!("{} · {}", i.severity.label(), i.link)),
            Cell::Number(i.related.len() as f64),
            t(i.related.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(" ")),
            t(format!("{}{}", i.status.label(), if unit.is_empty() { String::new() } else { format!("（{unit}）") })),
        ]);
    }
    crate::export::Table {
        sheet: format!("舆情周报{}", r.week),
        headers: ["类别", "内容", "辖区/分类/程度", "件数", "相关留言", "状态"].iter().map(|h| h.to_string()).collect(),
        rows,
    }
}
