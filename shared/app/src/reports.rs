//! Supervision and statistics over the stored counters: the daily digest, the monthly public
//! report, unit assessment, public replies, calendar imports and reconciling the counters.

use crate::error::AppError;
use crate::ports::{CaseQuery, Notification, Scope};
use crate::published::{ReplyCursor, ReplyQuery};
use crate::service::App;
use crate::views::unit_name;
use chrono::{DateTime, NaiveDate, Utc};
use mailbox_domain::case::Case;
use mailbox_domain::deadline::cst_date;
use mailbox_domain::org::UnitKind;
use mailbox_domain::stats::{expected_counters, metric, parse_event_key, Cell, Figures, CELL_PREFIX, EVENT_PREFIX};
use mailbox_domain::{CaseStatus, Kind, MailboxId, UnitId};
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MailboxFigures {
    pub mailbox: String,
    pub name: String,
    #[serde(flatten)]
    pub figures: Figures,
}

/// Whether the public may read a case: its citizen agreed, and its reply (its own, or the one of
/// the case it was merged into) is published. One rule for the reply list, files and Open311.
pub fn is_published(case: &Case) -> bool {
    case.publishable && case.reply.as_ref().is_some_and(|r| r.public)
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicCase {
    pub number: String,
    pub mailbox: String,
    pub mailbox_name: String,
    pub kind: Kind,
    /// Title and texts with personal data masked.
    pub title: String,
    pub body: String,
    pub reply: String,
    pub replied_at: DateTime<Utc>,
    pub unit: String,
    pub featured: bool,
    /// Why it was chosen as a typical case, personal data masked.
    pub featured_note: Option<String>,
    /// The citizen's files the dispatcher marked publishable: their addresses on this site.
    #[serde(default)]
    pub attachments: Vec<PublicAttachment>,
}

/// A published attachment of a public case.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicAttachment {
    /// `/replies/<number>/attachments/<n>`.
    pub url: String,
    pub kind: mailbox_domain::AttachmentKind,
}

/// The public files of a published case, with their addresses on the site.
pub fn public_attachments(case: &Case) -> Vec<PublicAttachment> {
    if !is_published(case) {
        return Vec::new();
    }
    case.attachments
        .iter()
        .enumerate()
        .filter(|(_, a)| a.public)
        .map(|(i, a)| PublicAttachment { url: format!("/replies/{}/attachments/{}", case.number, i + 1), kind: a.kind })
        .collect()
}

/// The monthly public report (the figures the source document publishes).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MonthlyReport {
    /// `YYYY-MM`, China time, of submission.
    pub month: String,
    pub total: Figures,
    pub by_mailbox: Vec<MailboxFigures>,
    /// Replies this month that came before their deadline, of all replies this month.
    pub replied_on_time: i64,
    pub replied_late: i64,
    pub on_time_rate: Option<f64>,
    pub average_reply_working_days: Option<f64>,
    pub featured: Vec<PublicCase>,
}

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct UnitAssessment {
    pub unit: String,
    pub name: String,
    pub dispatched: i64,
    pub received: i64,
    pub replied: i64,
    pub on_time: i64,
    pub late: i64,
    pub returned: i64,
    pub extensions: i64,
    pub urged: i64,
    pub overdue: i64,
    pub satisfied: i64,
    pub unsatisfied: i64,
    pub on_time_rate: Option<f64>,
    pub satisfaction_rate: Option<f64>,
    pub average_reply_working_days: Option<f64>,
}

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct DigestReport {
    pub date: NaiveDate,
    pub units_notified: usize,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ReconcileReport {
    pub cases: usize,
    pub counters: usize,
    /// (key, stored, recomputed) for every counter that differs.
    pub differences: Vec<(String, i64, i64)>,
}

fn ratio(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| (part as f64 / whole as f64 * 1000.0).round() / 1000.0)
}

/// Longest assessment period: three years of months.
pub const MAX_ASSESSMENT_MONTHS: usize = 36;

/// The months `from..=to` (`YYYY-MM`, both valid, `from <= to`), at most one past the cap.
fn months_between(from: &str, to: &str) -> Vec<String> {
    let Ok(mut day) = NaiveDate::parse_from_str(&format!("{from}-01"), "%Y-%m-%d") else { return Vec::new() };
    let mut out = Vec::new();
    while out.len() <= MAX_ASSESSMENT_MONTHS {
        let month = day.format("%Y-%m").to_string();
        if month.as_str() > to {
            break;
        }
        out.push(month);
        match day.checked_add_months(chrono::Months::new(1)) {
            Some(next) => day = next,
            None => break,
        }
    }
    out
}

/// The month `n` months after `month` (`YYYY-MM`).
pub fn month_after(month: &str, n: u32) -> Result<String, AppError> {
    NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d")
        .ok()
        .and_then(|d| d.checked_add_months(chrono::Months::new(n)))
        .map(|d| d.format("%Y-%m").to_string())
        .ok_or_else(|| AppError::invalid("invalid_month", "from", "月份超出范围"))
}

/// The typical-case column as a spreadsheet for the media.
pub fn featured_table(month: &str, cases: &[PublicCase]) -> crate::export::Table {
    use crate::export::Cell;
    let headers = ["留言编号", "信箱", "类型", "标题", "留言内容", "答复单位", "答复日期", "答复内容", "推荐理由"];
    crate::export::Table {
        sheet: format!("典型案例{month}"),
        headers: headers.iter().map(|h| h.to_string()).collect(),
        rows: cases
            .iter()
            .map(|c| {
                vec![
                    Cell::from(c.number.as_str()),
                    Cell::from(c.mailbox_name.as_str()),
                    Cell::from(c.kind.label()),
                    Cell::from(c.title.as_str()),
                    Cell::from(c.body.as_str()),
                    Cell::from(c.unit.as_str()),
                    Cell::Text(
                        c.replied_at.with_timezone(&mailbox_domain::deadline::cst()).format("%Y-%m-%d").to_string(),
                    ),
                    Cell::from(c.reply.as_str()),
                    Cell::from(c.featured_note.as_deref().unwrap_or("")),
                ]
            })
            .collect(),
    }
}

/// `YYYY-MM`, or a clear error.
pub fn parse_month(s: &str) -> Result<String, AppError> {
    let ok = s.len() == 7 && NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d").is_ok();
    if ok {
        Ok(s.to_owned())
    } else {
        Err(AppError::invalid("invalid_month", "month", "月份格式应为 YYYY-MM，例如 2026-11"))
    }
}

/// A search of the published replies, as the public asks it.
#[derive(Debug, Clone, Default)]
pub struct ReplySearch {
    pub q: Option<String>,
    pub mailbox: Option<MailboxId>,
    pub unit: Option<UnitId>,
    pub domain: Option<String>,
    /// `YYYY-MM` of the reply, China time.
    pub month: Option<String>,
    pub featured_only: bool,
    /// The `next` of the page before.
    pub after: Option<String>,
    pub limit: usize,
}

/// A page of published replies: the best matches first (every word in the title, then anywhere),
/// newest first within each; `next` continues it.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct ReplyList {
    pub items: Vec<PublicCase>,
    /// Pass as `after` for the next page; absent on the last.
    pub next: Option<String>,
}

/// Most typical cases of one month read for the column and its spreadsheet.
const FEATURED_MAX: usize = 2000;
/// Most pages of published replies the column reads (each bounded by the store): a month with more
/// replies than that shows the typical cases among its newest.
const FEATURED_PAGES: usize = 10;

/// What one run of `App::republish_stale` did: stale texts read, and written masked again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Republished {
    pub read: usize,
    pub written: usize,
}

impl Republished {
    /// Whether another run may find more: a full chunk read, and progress made.
    pub fn more(&self, limit: usize) -> bool {
        self.read == limit && self.written > 0
    }
}

/// Cases read per page where every case of a list is looked at.
const LIST_PAGE: usize = 500;

impl App {
    /// Calls `f` with every case of a list, a page at a time (memory bounded by a page).
    pub(crate) async fn each_case(&self, mut query: CaseQuery, mut f: impl FnMut(&Case)) -> Result<(), AppError> {
        query.limit = LIST_PAGE;
        loop {
            let page = self.store.list(&query).await?;
            page.cases.iter().for_each(&mut f);
            match page.next {
                Some(next) => query.after = Some(next),
                None => return Ok(()),
            }
        }
    }

    /// The public form of a published case, from the text masked when it was published.
    pub fn public_case(&self, case: &Case) -> Option<PublicCase> {
        let reply = case.reply.as_ref().filter(|_| is_published(case))?;
        // Masked with older rules: not shown until the republish job has masked it again.
        let text = case.published.as_ref().filter(|p| p.rules == mailbox_domain::mask::MASK_RULES)?;
        Some(PublicCase {
            number: case.number.to_string(),
            mailbox: case.mailbox.to_string(),
            mailbox_name: self.org.mailbox(&case.mailbox).map_or_else(|| case.mailbox.to_string(), |m| m.name.clone()),
            kind: case.kind,
            title: text.title.clone(),
            body: text.body.clone(),
            reply: text.reply.clone(),
            replied_at: reply.at,
            unit: unit_name(&self.org, &reply.unit),
            featured: case.featured,
            featured_note: text.featured_note.clone().filter(|_| case.featured),
            attachments: public_attachments(case),
        })
    }

    /// The typical-case column (典型案例) of a month (`YYYY-MM`, China time, of the reply): the
    /// featured cases with a public reply and the citizen's consent, masked, oldest reply first.
    pub async fn featured_cases(&self, month: &str) -> Result<Vec<PublicCase>, AppError> {
        let month = parse_month(month)?;
        let span = crate::published::month_span(&month);
        let mut query = ReplyQuery { featured_only: true, span, limit: 200, ..ReplyQuery::default() };
        let mut cases = Vec::new();
        for _ in 0..FEATURED_PAGES {
            let page = self.store.published(&query).await?;
            cases.extend(page.items.iter().filter_map(|c| self.public_case(c)));
            match page.next {
                Some(next) if cases.len() < FEATURED_MAX => query.after = Some(next),
                _ => break,
            }
        }
        cases.truncate(FEATURED_MAX);
        cases.reverse();
        Ok(cases)
    }

    /// Published replies, masked when they were published: a search over all of them (every word
    /// of `q` must appear), filtered, a page at a time.
    pub async fn public_replies(&self, search: &ReplySearch) -> Result<ReplyList, AppError> {
        let invalid_cursor = || AppError::invalid("invalid_cursor", "after", "翻页参数无效，请从第一页重新查询");
        let after = search.after.as_deref().map(|a| ReplyCursor::parse(a).ok_or_else(invalid_cursor)).transpose()?;
        let span = match search.month.as_deref() {
            Some(m) => Some(
                crate::published::month_span(&parse_month(m)?)
                    .ok_or_else(|| AppError::invalid("invalid_month", "month", "月份超出范围"))?,
            ),
            None => None,
        };
        let q = search.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
        let words = q.map(crate::published::query_words).unwrap_or_default();
        if q.is_some() && words.is_empty() {
            // Only single characters or punctuation: nothing is indexed by them.
            return Err(AppError::invalid("query_too_short", "q", "请输入至少两个字的词语，例如“路灯”“积水”"));
        }
        let query = ReplyQuery {
            words,
            mailbox: search.mailbox.clone(),
            unit: search.unit.clone(),
            domain: search.domain.clone(),
            featured_only: search.featured_only,
            span,
            limit: search.limit.clamp(1, 200),
            after,
        };
        let page = self.store.published(&query).await?;
        Ok(ReplyList {
            items: page.items.iter().filter_map(|c| self.public_case(c)).collect(),
            next: page.next.map(|n| n.encode()),
        })
    }

    /// Masks again the published texts masked with older rules (and publishes cases stored before
    /// texts were masked at publication), up to `limit`; returns how many were written. Run until 0.
    pub async fn republish_stale(&self, limit: usize) -> Result<Republished, AppError> {
        use crate::ports::StoreError;
        let stale = self.store.stale_published(mailbox_domain::mask::MASK_RULES, limit).await?;
        let mut done = Republished { read: stale.len(), written: 0 };
        for case in stale {
            let mut next = case.clone();
            crate::published::refresh(&mut next);
            // Over the version read, without a new version: someone who changed it since wrote
            // its publication with the current rules already.
            match self.store.update(&next, &case, &[], &[], &[], &[]).await {
                Ok(()) => done.written += 1,
                Err(StoreError::Conflict(_)) => {}
                // One case that cannot be written must not hold back the others: logged (ERROR
                // alarms), left unlisted until staff look at it.
                Err(e @ (StoreError::TooLarge(_) | StoreError::Corrupt(_))) => {
                    tracing::error!(case = %case.id, error = %e, "published text not masked again");
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(done)
    }

    pub async fn monthly_report(&self, month: &str) -> Result<MonthlyReport, AppError> {
        let month = parse_month(month)?;
        let mut total = Figures::default();
        let mut by_mailbox: BTreeMap<String, Figures> = BTreeMap::new();
        for (key, value) in self.store.counters(&format!("{CELL_PREFIX}{month}|")).await? {
            if let Some(cell) = Cell::parse(&key) {
                total.add(cell.status, value);
                by_mailbox.entry(cell.mailbox.to_string()).or_default().add(cell.status, value);
            }
        }
        let (mut on_time, mut late, mut days) = (0, 0, 0);
        for (key, value) in self.store.counters(&format!("{EVENT_PREFIX}{month}|")).await? {
            match parse_event_key(&key).map(|k| k.3) {
                Some(m) if m == metric::ON_TIME => on_time += value,
                Some(m) if m == metric::LATE => late += value,
                Some(m) if m == metric::REPLY_DAYS => days += value,
                _ => {}
            }
        }
        let featured = self.featured_cases(&month).await?;
        let by_mailbox = self
            .org
            .mailboxes
            .iter()
            .filter_map(|m| {
                by_mailbox.get(m.id.as_str()).map(|f| MailboxFigures {
                    mailbox: m.id.to_string(),
                    name: m.name.clone(),
                    figures: f.clone(),
                })
            })
            .collect();
        Ok(MonthlyReport {
            month,
            total,
            by_mailbox,
            replied_on_time: on_time,
            replied_late: late,
            on_time_rate: ratio(on_time, on_time + late),
            average_reply_working_days: (on_time + late > 0).then(|| days as f64 / (on_time + late) as f64),
            featured,
        })
    }

    /// Per unit, over the months `from..=to` (`YYYY-MM`): what the supervisors judge units by.
    pub async fn assessment(&self, from: &str, to: &str) -> Result<Vec<UnitAssessment>, AppError> {
        let (from, to) = (parse_month(from)?, parse_month(to)?);
        if from > to {
            return Err(AppError::invalid("invalid_period", "from", "起始月份不能晚于结束月份"));
        }
        let months = months_between(&from, &to);
        if months.len() > MAX_ASSESSMENT_MONTHS {
            return Err(AppError::invalid(
                "invalid_period",
                "to",
                format!("考核期间不能超过{MAX_ASSESSMENT_MONTHS}个月"),
            ));
        }
        let mut rows: BTreeMap<String, UnitAssessment> = BTreeMap::new();
        let mut days: BTreeMap<String, i64> = BTreeMap::new();
        // Only the counters of the months asked for: one partition read per month.
        let mut counters = Vec::new();
        for month in &months {
            counters.extend(self.store.counters(&format!("{EVENT_PREFIX}{month}|")).await?);
        }
        for (key, value) in counters {
            let Some((month, _, unit, m)) = parse_event_key(&key) else { continue };
            if month < from || month > to {
                continue;
            }
            let row = rows.entry(unit.to_string()).or_default();
            match m.as_str() {
                metric::DISPATCHED => row.dispatched += value,
                metric::RECEIVED => row.received += value,
                metric::REPLIED => row.replied += value,
                metric::ON_TIME => row.on_time += value,
                metric::LATE => row.late += value,
                metric::RETURNED => row.returned += value,
                metric::EXTENSIONS => row.extensions += value,
                metric::URGED => row.urged += value,
                metric::OVERDUE => row.overdue += value,
                metric::SATISFIED => row.satisfied += value,
                metric::UNSATISFIED => row.unsatisfied += value,
                metric::REPLY_DAYS => *days.entry(unit.to_string()).or_default() += value,
                _ => {}
            }
        }
        Ok(rows
            .into_iter()
            .map(|(unit, mut row)| {
                row.name = unit_name(&self.org, &UnitId::new(unit.as_str()));
                row.on_time_rate = ratio(row.on_time, row.on_time + row.late);
                row.satisfaction_rate = ratio(row.satisfied, row.satisfied + row.unsatisfied);
                let replied = row.on_time + row.late;
                row.average_reply_working_days =
                    (replied > 0).then(|| days.get(&unit).copied().unwrap_or(0) as f64 / replied as f64);
                row.unit = unit;
                row
            })
            .collect())
    }

    /// The daily digest (09:00 China time): per unit, what is waiting — cases not received or not
    /// accepted for more than a working day, due today, overdue — through the notifier. Sending it
    /// twice for a day keeps one per unit.
    pub async fn daily_digest(&self) -> Result<DigestReport, AppError> {
        self.refresh_calendar().await;
        let now = self.now();
        let today = cst_date(now);
        let calendar = self.calendar();
        let stale = |at: DateTime<Utc>| calendar.working_days_between(cst_date(at), today) >= 1;
        let mut report = DigestReport { date: today, units_notified: 0 };
        let mut notifications = Vec::new();
        for unit in &self.org.units {
            let mut lines = Vec::new();
            if matches!(unit.kind, UnitKind::Bureau | UnitKind::DistrictGovernment) {
                let (mut not_received, mut due_today, mut overdue) = (0, 0, 0);
                let q = CaseQuery {
                    scope: Scope::Handler(unit.id.clone()),
                    statuses: vec![CaseStatus::Dispatched, CaseStatus::InProgress],
                    ..CaseQuery::default()
                };
                // A page at a time: counted, not kept.
                self.each_case(q, |c| {
                    if c.lead() != Some(&unit.id) {
                        return;
                    }
                    if c.status == CaseStatus::Dispatched && c.dispatch.as_ref().is_some_and(|d| stale(d.at)) {
                        not_received += 1;
                    }
                    if c.deadline.as_ref().is_some_and(|d| d.due_on == today) && !c.is_overdue(now) {
                        due_today += 1;
                    }
                    if c.is_overdue(now) {
                        overdue += 1;
                    }
                })
                .await?;
                for (n, label) in [(not_received, "超过1个工作日未签收"), (due_today, "今日到期"), (overdue, "已超期")]
                {
                    if n > 0 {
                        lines.push(format!("{label} {n} 件"));
                    }
                }
            }
            if self.org.mailboxes.iter().any(|m| m.dispatcher == unit.id) {
                let q = CaseQuery {
                    scope: Scope::Dispatcher(unit.id.clone()),
                    statuses: vec![CaseStatus::Submitted],
                    ..CaseQuery::default()
                };
                let mut waiting = 0;
                self.each_case(q, |c| waiting += usize::from(stale(c.submitted_at))).await?;
                if waiting > 0 {
                    lines.push(format!("超过1个工作日未受理 {waiting} 件"));
                }
            }
            if lines.is_empty() {
                continue;
            }
            report.units_notified += 1;
            notifications.push(Notification {
                key: format!("digest:{today}:{}", unit.id),
                unit: unit.id.clone(),
                subject: format!("{today} 待办提醒（日收日清）"),
                body: lines.join("；"),
                created_at: now,
                topic: crate::delivery::Topic::Digest,
            });
        }
        self.deliver(&notifications, None).await?;
        Ok(report)
    }

    /// Recomputes every counter from the cases and their audit trails and compares.
    pub async fn reconcile(&self) -> Result<ReconcileReport, AppError> {
        self.reconcile_with(&mut |_| {}).await
    }

    /// `reconcile`, telling `progress` how many cases each page read (the command line's bar).
    pub async fn reconcile_with(&self, progress: &mut (dyn FnMut(usize) + Send)) -> Result<ReconcileReport, AppError> {
        let calendar = self.calendar();
        let mut cases = Vec::new();
        let mut after = None;
        loop {
            let page = self.store.scan(after.as_ref(), 1000).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id.clone());
            progress(page.len());
            for case in page {
                let events = self.store.events(&case.id).await?;
                cases.push((case, events));
            }
        }
        let expected = expected_counters(cases.iter().map(|(c, e)| (c, e.as_slice())), &calendar);
        let mut stored: BTreeMap<String, i64> = BTreeMap::new();
        for prefix in [CELL_PREFIX, EVENT_PREFIX] {
            stored.extend(self.store.counters(prefix).await?.into_iter().filter(|(_, v)| *v != 0));
        }
        let mut report = ReconcileReport { cases: cases.len(), counters: stored.len(), differences: Vec::new() };
        let keys: std::collections::BTreeSet<&String> = expected.keys().chain(stored.keys()).collect();
        for key in keys {
            let (s, e) = (stored.get(key).copied().unwrap_or(0), expected.get(key).copied().unwrap_or(0));
            if s != e {
                report.differences.push((key.clone(), s, e));
            }
        }
        Ok(report)
    }
}
