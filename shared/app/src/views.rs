//! What each audience sees of a case: citizens a status-level timeline without staff names or
//! internal steps; staff the whole case, with personal data only where their role allows it.

use chrono::{DateTime, NaiveDate, Utc};
use mailbox_domain::case::{Case, Rating};
use mailbox_domain::deadline::Explanation;
use mailbox_domain::mask::{mask_name, mask_personal_data};
use mailbox_domain::workflow::{AuditEvent, EventKind};
use mailbox_domain::{authorize, Action, Actor, CaseStatus, Kind, Organisation, UnitId};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MailboxView {
    pub id: String,
    pub name: String,
    /// `mayor`, `district_head` or `bureau_head`.
    pub kind: String,
    pub jurisdiction: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UnitView {
    pub id: String,
    pub name: String,
    pub jurisdiction: String,
    pub kind: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TimelineEntry {
    pub at: DateTime<Utc>,
    pub text: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CitizenReply {
    pub text: String,
    pub at: DateTime<Utc>,
    pub unit: String,
}

/// A case as its citizen sees it after proving number + query code.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CitizenCaseView {
    pub number: String,
    pub mailbox: String,
    pub mailbox_name: String,
    pub kind: Kind,
    pub title: String,
    pub body: String,
    pub status: CaseStatus,
    pub status_label: String,
    pub submitted_at: DateTime<Utc>,
    pub handling_unit: Option<String>,
    pub due_on: Option<NaiveDate>,
    pub due_provisional: bool,
    pub invalid_reason: Option<String>,
    pub reply: Option<CitizenReply>,
    pub rating: Option<Rating>,
    /// The reply can be rated now.
    pub can_rate: bool,
    /// How many files the citizen attached (staff open them; the public sees only published ones).
    pub attachments: usize,
    pub timeline: Vec<TimelineEntry>,
}

/// A short line of a list (inbox, search).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CaseSummary {
    pub id: String,
    pub number: String,
    pub title: String,
    pub kind: Kind,
    pub status: CaseStatus,
    pub status_label: String,
    pub mailbox: String,
    pub lead: Option<String>,
    pub submitted_at: DateTime<Utc>,
    pub due_on: Option<NaiveDate>,
    pub due_at: Option<DateTime<Utc>>,
    /// `overdue`, `due_soon` (within a working day), `normal`, or `none` without a deadline.
    pub urgency: String,
    pub supervised: bool,
    /// 紧急件: triage found an urgent cue (first in the inbox while it waits for an answer).
    pub urgent: bool,
    /// 热点件: similar messages reached three within 30 days.
    pub hot: bool,
    pub version: u64,
}

impl CaseSummary {
    /// Its position in lists, as the store's `list_cursor` of the case.
    pub fn cursor(&self) -> String {
        crate::ports::list_position(mailbox_domain::case::list_instant(self.urgent, self.status, self.due_at), &self.id)
    }
}

/// The whole case for staff.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StaffCaseView {
    /// The case as stored, less the query-code digest: a 10-character code hashed with SHA-256 can
    /// be cracked offline, and whoever has it can rate or close the case as the citizen.
    #[serde(serialize_with = "case_without_digest")]
    pub case: Case,
    pub mailbox_name: String,
    pub personal_data_visible: bool,
    pub events: Vec<AuditEvent>,
    pub deadline: Option<Explanation>,
    /// Actions this user's role allows on the case now.
    pub allowed_actions: Vec<Action>,
}

fn case_without_digest<S: serde::Serializer>(case: &Case, s: S) -> Result<S::Ok, S::Error> {
    let mut value = serde_json::to_value(case).map_err(serde::ser::Error::custom)?;
    if let Some(fields) = value.as_object_mut() {
        fields.remove("query_code_digest");
        // The public copy is the public's: staff read the case itself (and its digest of the
        // citizen's name must not reach anyone).
        fields.remove("published");
    }
    value.serialize(s)
}

/// The columns of a staff list's export.
pub const EXPORT_HEADERS: [&str; 8] = ["编号", "标题", "类型", "状态", "承办单位", "提交时间", "办理时限", "紧急程度"];

/// A row of a staff list's export (`EXPORT_HEADERS`): the summary the list shows.
pub fn export_row(org: &Organisation, c: &CaseSummary) -> Vec<crate::export::Cell> {
    use crate::export::Cell;
    let urgency = match c.urgency.as_str() {
        "overdue" => "已超期",
        "due_soon" => "1个工作日内到期",
        "normal" => "正常",
        _ => "未计时",
    };
    vec![
        Cell::from(c.number.as_str()),
        Cell::from(c.title.as_str()),
        Cell::from(c.kind.label()),
        Cell::from(c.status_label.as_str()),
        Cell::Text(c.lead.as_ref().map(|u| unit_name(org, &UnitId::new(u.as_str()))).unwrap_or_default()),
        Cell::Text(c.submitted_at.with_timezone(&mailbox_domain::deadline::cst()).format("%Y-%m-%d %H:%M").to_string()),
        Cell::Text(c.due_on.map(|d| d.to_string()).unwrap_or_default()),
        Cell::from(urgency),
    ]
}

pub fn unit_name(org: &Organisation, id: &UnitId) -> String {
    org.unit(id).map_or_else(|| id.to_string(), |u| u.name.clone())
}

/// One line of the citizen's timeline, or `None` for internal steps.
fn citizen_line(org: &Organisation, event: &AuditEvent) -> Option<String> {
    Some(match &event.kind {
        EventKind::Submitted { .. } => "留言已提交".into(),
        EventKind::Accepted => "信访局已受理".into(),
        EventKind::Rejected { reason } => format!("经审核为无效留言：{reason}"),
        EventKind::Dispatched { mode, lead, .. } => format!("已{}至{}", mode.label(), unit_name(org, lead)),
        EventKind::Received { due_on, .. } => format!("承办单位已签收，办理时限至{due_on}"),
        EventKind::Returned { .. } => "承办单位已退回，信访局正在重新交办".into(),
        EventKind::Reported => "承办单位已反馈办理结果".into(),
        EventKind::Replied { .. } => "已答复".into(),
        EventKind::ExtensionDecided { approved: true, due_on: Some(d), .. } => format!("办理时限延长至{d}"),
        EventKind::Rated { satisfied } => if *satisfied { "您评价为满意" } else { "您评价为不满意" }.into(),
        EventKind::Reopened { due_on, .. } => format!("已重新办理，办理时限至{due_on}"),
        EventKind::Closed => "已办结".into(),
        EventKind::DeadlineRecomputed { to, .. } => format!("节假日安排调整，办理时限调整为{to}"),
        EventKind::Merged { into } => {
            format!("您反映的问题与先前的留言 {into} 相同，已合并办理（并单）；该留言答复后，您将收到同一答复")
        }
        EventKind::Unmerged { .. } => "已撤销并单，您的留言单独办理".into(),
        EventKind::ReplyShared { from, .. } => format!("留言 {from} 已答复，答复同样送达您"),
        _ => return None,
    })
}

/// The status as people read it: a merged case names its original ("已并入 GA…").
pub fn status_label(case: &Case) -> String {
    match &case.merged_into {
        Some(original) if case.status == CaseStatus::Merged => format!("已并入 {original}"),
        _ => case.status.label().into(),
    }
}

pub fn citizen_view(org: &Organisation, case: &Case, events: &[AuditEvent]) -> CitizenCaseView {
    let mailbox_name = org.mailbox(&case.mailbox).map_or_else(|| case.mailbox.to_string(), |m| m.name.clone());
    CitizenCaseView {
        number: case.number.to_string(),
        mailbox: case.mailbox.to_string(),
        mailbox_name,
        kind: case.kind,
        title: case.title.clone(),
        body: case.body.clone(),
        status: case.status,
        status_label: status_label(case),
        submitted_at: case.submitted_at,
        handling_unit: case.lead().map(|u| unit_name(org, u)),
        due_on: case.deadline.as_ref().map(|d| d.due_on),
        due_provisional: case.deadline.as_ref().is_some_and(|d| d.provisional),
        invalid_reason: case.invalid_reason.clone(),
        reply: case.reply.as_ref().map(|r| CitizenReply {
            text: r.text.clone(),
            at: r.at,
            unit: unit_name(org, &r.unit),
        }),
        rating: case.rating.clone(),
        can_rate: case.status == CaseStatus::Replied,
        attachments: case.attachments.len(),
        timeline: events
            .iter()
            .filter_map(|e| citizen_line(org, e).map(|text| TimelineEntry { at: e.at, text }))
            .collect(),
    }
}

pub fn urgency(case: &Case, now: DateTime<Utc>, calendar: &mailbox_domain::Calendar) -> &'static str {
    let Some(deadline) = case.deadline.as_ref().filter(|_| case.status.is_open()) else { return "none" };
    if deadline.is_overdue(now) {
        return "overdue";
    }
    let today = mailbox_domain::deadline::cst_date(now);
    if calendar.working_days_between(today, deadline.due_on) <= 1 {
        "due_soon"
    } else {
        "normal"
    }
}

/// A line of a list for `actor`: the title with personal data masked unless the actor may see it.
pub fn summary(actor: &Actor, case: &Case, now: DateTime<Utc>, calendar: &mailbox_domain::Calendar) -> CaseSummary {
    let personal = authorize(actor, Action::ViewPersonalData, case).is_ok();
    CaseSummary {
        id: case.id.to_string(),
        number: case.number.to_string(),
        title: if personal { case.title.clone() } else { masked_title(case) },
        kind: case.kind,
        status: case.status,
        status_label: status_label(case),
        mailbox: case.mailbox.to_string(),
        lead: case.lead().map(|u| u.to_string()),
        submitted_at: case.submitted_at,
        due_on: case.deadline.as_ref().map(|d| d.due_on),
        due_at: case.deadline.as_ref().map(|d| d.due_at()),
        urgency: urgency(case, now, calendar).into(),
        supervised: case.supervised,
        urgent: case.is_urgent(),
        hot: case.triage.as_ref().is_some_and(|t| t.hot.is_some()),
        version: case.version,
    }
}

/// The case for staff who may see it but not who wrote it (supervisors): the citizen's name and
/// phone masked, and personal data masked in every text of the case — the message, reports,
/// replies, meetings, extension requests and decisions, returns, the rating, explanations, the
/// typical-case note and triage's notes. Masked here, when read, so better masking reaches old cases too.
pub fn without_personal_data(case: &Case) -> Case {
    let mut c = case.clone();
    // Masked with the rules of its publication, and with a digest that includes the citizen's name.
    c.published = None;
    let name = case.citizen.name.as_str();
    let names = [name];
    let m = |t: &mut String| *t = mask_personal_data(t, &names);
    c.citizen.name = mask_name(name);
    c.citizen.phone = mask_personal_data(&case.citizen.phone, &[]);
    m(&mut c.title);
    m(&mut c.body);
    c.invalid_reason.iter_mut().for_each(m);
    c.reports.iter_mut().for_each(|r| m(&mut r.text));
    c.reply.iter_mut().chain(c.earlier_replies.iter_mut()).for_each(|r| m(&mut r.text));
    for meeting in &mut c.meetings {
        m(&mut meeting.place);
        m(&mut meeting.summary);
    }
    for e in &mut c.extensions {
        m(&mut e.reason);
        e.decision.iter_mut().for_each(|d| m(&mut d.note));
    }
    c.returns.iter_mut().for_each(|r| m(&mut r.reason));
    c.rating.iter_mut().for_each(|r| m(&mut r.comment));
    c.explanations.iter_mut().for_each(|e| m(&mut e.text));
    c.featured_note.iter_mut().for_each(m);
    // A location given with the message says where someone lives or stands: hidden whole.
    c.location.iter_mut().for_each(|l| *l = "（已隐去）".to_owned());
    if let Some(t) = c.triage.as_mut() {
        for d in &mut t.duplicates {
            d.title = mask_personal_data(&d.title, &[]);
        }
        if let Some(s) = t.domain.as_mut() {
            s.words.iter_mut().for_each(m);
        }
        if let Some(s) = t.kind.as_mut() {
            s.words.iter_mut().for_each(m);
        }
        if let Some(s) = t.jurisdiction.as_mut() {
            s.words.iter_mut().for_each(m);
        }
        if let Some(s) = t.invalid.as_mut() {
            m(&mut s.value);
            s.words.iter_mut().for_each(m);
        }
    }
    c
}

/// An audit event with personal data masked in its text (reasons and notes staff wrote).
pub fn event_without_personal_data(event: &AuditEvent, names: &[&str]) -> AuditEvent {
    let mut e = event.clone();
    match &mut e.kind {
        EventKind::Rejected { reason } | EventKind::Returned { reason } | EventKind::Reopened { reason, .. } => {
            *reason = mask_personal_data(reason, names)
        }
        EventKind::ExtensionRequested { reason, .. } => *reason = mask_personal_data(reason, names),
        EventKind::ExtensionDecided { note, .. } | EventKind::Urged { note } | EventKind::Supervised { note } => {
            *note = mask_personal_data(note, names)
        }
        EventKind::Triaged { summary: text } | EventKind::Explained { text } => *text = mask_personal_data(text, names),
        EventKind::Featured { note } => *note = mask_personal_data(note, names),
        _ => {}
    }
    e
}

/// The title as anyone may see it in a list or a notification: personal data masked.
pub fn masked_title(case: &Case) -> String {
    mask_personal_data(&case.title, &[case.citizen.name.as_str()])
}
