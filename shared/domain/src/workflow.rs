//! The workflow (办理流程) of a case — the state machine of DESIGN §5.
//!
//! [`Case::apply`] checks access, checks the move is legal, and either changes the case and returns
//! the audit events that record the change, or changes nothing and returns a typed error.

use crate::access::{authorize, AccessError, Action, Actor, Role};
use crate::calendar::Calendar;
use crate::case::{
    Case, CaseStatus, Citizen, Dispatch, DispatchMode, ExtensionDecision, ExtensionRequest, Kind, LateExplanation,
    Meeting, Rating, Reply, Report, ReturnRecord,
};
use crate::deadline::{cst_date, start_of_cst_day, Deadline, DeadlineClass, DeadlineError};
use crate::ids::{CaseId, CaseNumber, MailboxId, UnitId, UserId};
use crate::org::{Organisation, UnitKind};
use crate::text::clean;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// Longest free text accepted in a staff action (reasons, reports, replies), in characters.
pub const MAX_TEXT_CHARS: usize = 5000;
/// A typical case's note is one paragraph.
pub const MAX_FEATURE_NOTE_CHARS: usize = 500;

/// What every transition needs besides the case: the organisation, the calendar and the time.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    pub org: &'a Organisation,
    pub calendar: &'a Calendar,
    pub now: DateTime<Utc>,
}

/// A request to move a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Command {
    Accept,
    Reject {
        reason: String,
    },
    Dispatch {
        mode: DispatchMode,
        lead: UnitId,
        #[serde(default)]
        co_handlers: Vec<UnitId>,
        class: DeadlineClass,
        /// Only for `special`: the approved number of working days.
        #[serde(default, deserialize_with = "crate::json::opt_u32_whole")]
        #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 60))]
        special_days: Option<u32>,
    },
    Receive,
    Return {
        reason: String,
    },
    Contribute {
        text: String,
    },
    Report {
        text: String,
    },
    Reply {
        text: String,
        public: bool,
    },
    RecordMeeting {
        held_on: NaiveDate,
        place: String,
        summary: String,
    },
    RequestExtension {
        #[serde(deserialize_with = "crate::json::u32_whole")]
        #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 60))]
        days: u32,
        reason: String,
    },
    DecideExtension {
        approve: bool,
        #[serde(default)]
        note: String,
    },
    Urge {
        #[serde(default)]
        note: String,
    },
    Supervise {
        #[serde(default)]
        note: String,
    },
    Rate {
        satisfied: bool,
        #[serde(default)]
        comment: String,
    },
    Reopen {
        reason: String,
    },
    Close,
    /// 典型案例: chooses a well-handled, publicly replied case for the month's column, with a
    /// paragraph on why (shown with it, personal data masked).
    Feature {
        note: String,
    },
    RecomputeDeadline,
    /// The deadline sweep's step: the urge when the deadline is near, or expiry (mark overdue,
    /// escalate, ask for an explanation) when it has passed — each once per deadline.
    DeadlineAlarm,
    Explain {
        text: String,
    },
    /// Records triage's suggestions; boxed, since it is much larger than every other command.
    RecordTriage {
        note: Box<crate::triage::TriageNote>,
    },
    /// 并单: merges this case into an earlier, still unanswered case of the same dispatcher (the
    /// application checks the original before this reaches the case).
    Merge {
        into: CaseNumber,
    },
    /// Undoes a merge before the original is answered: the case goes back to where it was.
    Unmerge,
    /// Marks the citizen's attachment number `number` (1, 2, 3) publishable or not: the public sees
    /// it with the published reply (the dispatcher, who looked at it).
    PublishAttachment {
        #[serde(deserialize_with = "crate::json::u32_whole")]
        #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 3))]
        number: u32,
        public: bool,
    },
    /// Gives a merged case its original's reply (system only; the text already masked for this
    /// citizen). Boxed with the reply's size in mind.
    ShareReply {
        from: CaseNumber,
        reply: Box<Reply>,
    },
}

impl Command {
    pub fn action(&self) -> Action {
        match self {
            Command::Accept => Action::Accept,
            Command::Reject { .. } => Action::Reject,
            Command::Dispatch { .. } => Action::Dispatch,
            Command::Receive => Action::Receive,
            Command::Return { .. } => Action::Return,
            Command::Contribute { .. } => Action::Contribute,
            Command::Report { .. } => Action::Report,
            Command::Reply { .. } => Action::Reply,
            Command::RecordMeeting { .. } => Action::RecordMeeting,
            Command::RequestExtension { .. } => Action::RequestExtension,
            Command::DecideExtension { .. } => Action::DecideExtension,
            Command::Urge { .. } => Action::Urge,
            Command::Supervise { .. } => Action::Supervise,
            Command::Rate { .. } => Action::Rate,
            Command::Reopen { .. } => Action::Reopen,
            Command::Close => Action::Close,
            Command::Feature { .. } => Action::Feature,
            Command::RecomputeDeadline => Action::RecomputeDeadline,
            Command::DeadlineAlarm => Action::DeadlineAlarm,
            Command::Explain { .. } => Action::Explain,
            Command::RecordTriage { .. } => Action::Triage,
            Command::Merge { .. } => Action::Merge,
            Command::Unmerge => Action::Unmerge,
            Command::PublishAttachment { .. } => Action::PublishAttachment,
            Command::ShareReply { .. } => Action::ShareReply,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkflowError {
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error("留言当前状态为“{}”，不能{}", .status.label(), .action.label())]
    IllegalTransition { status: CaseStatus, action: Action },
    #[error("{field}：{message}")]
    Invalid { field: &'static str, message: String },
    #[error(transparent)]
    Deadline(#[from] DeadlineError),
    #[error("已有待审批的延期申请")]
    ExtensionPending,
    #[error("没有待审批的延期申请")]
    NoPendingExtension,
    #[error("留言人未同意公开，只能选择不公开答复")]
    PublicationNotAllowed,
    #[error("没有需要变更的内容")]
    Unchanged,
    /// A list on the case is full (a case is stored as one item, which must stay small).
    #[error("该留言的{what}已达上限（{max}条）")]
    TooMany { what: &'static str, max: usize },
    /// The case would outgrow what the store keeps as one record.
    #[error("该留言的办理记录已超过存储上限（{max} 字节），请精简内容或联系系统管理员")]
    TooLarge { max: usize },
}

/// Most reports and co-handler opinions a case keeps.
pub const MAX_REPORTS: usize = 30;
/// Most meetings (见面答复) recorded on a case.
pub const MAX_MEETINGS: usize = 20;
/// Most extension requests of a case, decided or not.
pub const MAX_EXTENSIONS: usize = 10;
/// Most returns (退回) of a case.
pub const MAX_RETURNS: usize = 20;
/// Most explanations of missed deadlines.
pub const MAX_EXPLANATIONS: usize = 10;
/// Most reopenings (重办) of a case.
pub const MAX_REOPENS: u32 = 5;
/// Largest a case may grow, serialised: DynamoDB keeps at most 400 KB per item, and the item holds
/// index attributes besides the document.
pub const MAX_CASE_BYTES: usize = 300 * 1024;

/// Refuses one more entry in a full list.
fn room(len: usize, max: usize, what: &'static str) -> Result<(), WorkflowError> {
    if len >= max {
        return Err(WorkflowError::TooMany { what, max });
    }
    Ok(())
}

/// Who did it, as recorded in the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActorRef {
    pub user: UserId,
    pub role: Role,
    pub unit: Option<UnitId>,
}

impl From<&Actor> for ActorRef {
    fn from(a: &Actor) -> Self {
        ActorRef { user: a.user.clone(), role: a.role, unit: a.unit.clone() }
    }
}

/// One entry of a case's append-only audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEvent {
    pub case: CaseId,
    /// 1, 2, 3… per case; a store refuses a second event with the same number.
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub actor: ActorRef,
    #[serde(flatten)]
    pub kind: EventKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    Submitted {
        mailbox: MailboxId,
        kind: Kind,
        /// The other system it came through (Open311), when not the public site or the API.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source: Option<crate::case::ApiSource>,
    },
    Accepted,
    Rejected {
        reason: String,
    },
    Dispatched {
        mode: DispatchMode,
        lead: UnitId,
        co_handlers: Vec<UnitId>,
        class: DeadlineClass,
        days: u32,
    },
    Received {
        due_on: NaiveDate,
        provisional: bool,
    },
    Returned {
        reason: String,
    },
    Contributed,
    Reported,
    Replied {
        public: bool,
        on_time: bool,
    },
    MeetingRecorded {
        held_on: NaiveDate,
    },
    ExtensionRequested {
        days: u32,
        reason: String,
    },
    ExtensionDecided {
        approved: bool,
        note: String,
        due_on: Option<NaiveDate>,
    },
    Urged {
        note: String,
    },
    Supervised {
        note: String,
    },
    Rated {
        satisfied: bool,
    },
    Reopened {
        reason: String,
        due_on: NaiveDate,
    },
    Closed,
    /// An attachment marked publishable (or no longer).
    AttachmentMarked {
        number: u32,
        public: bool,
    },
    Featured {
        /// Why it was chosen (earlier records have none).
        #[serde(default)]
        note: String,
    },
    /// Triage's suggestions were recorded (`summary` in words; the details are on the case).
    Triaged {
        summary: String,
    },
    DeadlineRecomputed {
        from: NaiveDate,
        to: NaiveDate,
        provisional: bool,
    },
    /// The deadline passed without a report or reply.
    MarkedOverdue {
        due_on: NaiveDate,
    },
    /// The unit is asked to explain the missed deadline (情况说明).
    ExplanationRequested {
        due_on: NaiveDate,
    },
    Explained {
        text: String,
    },
    /// 并单: merged into `into`.
    Merged {
        into: CaseNumber,
    },
    Unmerged {
        from: CaseNumber,
    },
    /// The original `from` was answered and this merged case got the reply.
    ReplyShared {
        from: CaseNumber,
        public: bool,
    },
}

/// What a citizen submits; parsed and size-checked at the edge before it gets here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewCase {
    pub mailbox: MailboxId,
    pub kind: Kind,
    pub title: String,
    pub body: String,
    pub citizen: Citizen,
    pub publishable: bool,
}

/// How a message came in, beside what it says: through another system (Open311) and with a
/// location. The public site and the API bring neither (`Intake::default()`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Intake {
    pub source: Option<crate::case::ApiSource>,
    pub location: Option<String>,
    /// Files already checked and stored (at most `MAX_ATTACHMENTS`), none of them public yet.
    pub attachments: Vec<crate::case::Attachment>,
}

/// A required text: invisible characters removed (see `text::clean`), not empty, not too long.
fn text(field: &'static str, value: &str) -> Result<String, WorkflowError> {
    let v = note(field, value)?;
    if v.is_empty() {
        return Err(WorkflowError::Invalid { field, message: "不能为空".into() });
    }
    Ok(v)
}

/// An optional text (a note, a comment): invisible characters removed, not too long, no control
/// characters.
fn note(field: &'static str, value: &str) -> Result<String, WorkflowError> {
    let v = clean(value);
    if v.chars().count() > MAX_TEXT_CHARS {
        return Err(WorkflowError::Invalid { field, message: format!("不能超过{MAX_TEXT_CHARS}个字") });
    }
    if v.chars().any(crate::text::is_control) {
        return Err(WorkflowError::Invalid { field, message: "含有不允许的控制字符".into() });
    }
    Ok(v)
}

impl Case {
    /// A newly submitted case and its first audit event.
    pub fn submit(
        ctx: &Context,
        id: CaseId,
        number: CaseNumber,
        query_code_digest: String,
        new: NewCase,
    ) -> Result<(Case, AuditEvent), WorkflowError> {
        Case::submit_via(ctx, id, number, query_code_digest, new, Intake::default())
    }

    /// `submit`, for a message that came through another system or with a location.
    pub fn submit_via(
        ctx: &Context,
        id: CaseId,
        number: CaseNumber,
        query_code_digest: String,
        new: NewCase,
        intake: Intake,
    ) -> Result<(Case, AuditEvent), WorkflowError> {
        let location = intake.location.as_deref().map(|l| note("location", l)).transpose()?.filter(|l| !l.is_empty());
        if intake.attachments.len() > crate::case::MAX_ATTACHMENTS {
            return Err(WorkflowError::Invalid {
                field: "attachments",
                message: format!("附件最多{}个", crate::case::MAX_ATTACHMENTS),
            });
        }
        if intake.attachments.iter().any(|a| !crate::case::Attachment::valid_id(&a.id)) {
            return Err(WorkflowError::Invalid { field: "attachments", message: "附件编号无效".into() });
        }
        let attachments: Vec<_> =
            intake.attachments.iter().map(|a| crate::case::Attachment { public: false, ..a.clone() }).collect();
        let mailbox = ctx
            .org
            .mailbox(&new.mailbox)
            .ok_or(WorkflowError::Invalid { field: "mailbox", message: "信箱不存在".into() })?;
        let case = Case {
            id: id.clone(),
            number,
            query_code_digest,
            mailbox: mailbox.id.clone(),
            jurisdiction: mailbox.jurisdiction.clone(),
            dispatcher: mailbox.dispatcher.clone(),
            kind: new.kind,
            title: text("title", &new.title)?,
            body: text("body", &new.body)?,
            citizen: new.citizen,
            publishable: new.publishable,
            submitted_at: ctx.now,
            status: CaseStatus::Submitted,
            version: 1,
            events: 1,
            invalid_reason: None,
            dispatch: None,
            received_at: None,
            deadline: None,
            reports: Vec::new(),
            reply: None,
            earlier_replies: Vec::new(),
            meetings: Vec::new(),
            extensions: Vec::new(),
            returns: Vec::new(),
            urges: 0,
            supervised: false,
            rating: None,
            reopened: 0,
            featured: false,
            featured_note: None,
            closed_at: None,
            urged_due: None,
            triage: None,
            triage_version: None,
            merged_into: None,
            merged_from: None,
            merged_at: None,
            overdue_due: None,
            explanations: Vec::new(),
            next_alarm: None,
            source: intake.source.clone(),
            location,
            attachments,
            published: None,
        };
        let event = AuditEvent {
            case: id,
            seq: 1,
            at: ctx.now,
            actor: ActorRef { user: UserId::new("citizen"), role: Role::Citizen, unit: None },
            kind: EventKind::Submitted { mailbox: case.mailbox.clone(), kind: case.kind, source: intake.source },
        };
        Ok((case, event))
    }

    /// Applies `command` for `actor`. On success the case has moved (its version is one higher) and
    /// the returned events — at least one — record the move; on error the case is unchanged.
    pub fn apply(&mut self, ctx: &Context, actor: &Actor, command: Command) -> Result<Vec<AuditEvent>, WorkflowError> {
        let action = command.action();
        authorize(actor, action, self)?;
        let mut next = self.clone();
        let kinds = next.transition(ctx, actor, command)?;
        // One record per case in every store: refuse what would outgrow it, before anything is written.
        if serde_json::to_vec(&next).map_or(true, |doc| doc.len() > MAX_CASE_BYTES) {
            return Err(WorkflowError::TooLarge { max: MAX_CASE_BYTES });
        }
        debug_assert!(!kinds.is_empty(), "every accepted action is recorded");
        next.next_alarm = next.compute_next_alarm(ctx);
        next.version += 1;
        let events = kinds
            .into_iter()
            .map(|kind| {
                next.events += 1;
                AuditEvent { case: next.id.clone(), seq: next.events, at: ctx.now, actor: actor.into(), kind }
            })
            .collect();
        *self = next;
        Ok(events)
    }

    fn require(&self, action: Action, allowed: &[CaseStatus]) -> Result<(), WorkflowError> {
        if allowed.contains(&self.status) {
            Ok(())
        } else {
            Err(WorkflowError::IllegalTransition { status: self.status, action })
        }
    }

    fn acting_unit(actor: &Actor) -> UnitId {
        actor.unit.clone().unwrap_or_else(|| UnitId::new("system"))
    }

    fn transition(&mut self, ctx: &Context, actor: &Actor, command: Command) -> Result<Vec<EventKind>, WorkflowError> {
        use CaseStatus as S;
        let action = command.action();
        let now = ctx.now;
        let policy = &ctx.org.deadlines;
        match command {
            Command::Accept => {
                self.require(action, &[S::Submitted])?;
                self.status = S::Accepted;
                Ok(vec![EventKind::Accepted])
            }
            Command::Reject { reason } => {
                self.require(action, &[S::Submitted, S::Accepted])?;
                let reason = text("reason", &reason)?;
                self.status = S::Invalid;
                self.invalid_reason = Some(reason.clone());
                Ok(vec![EventKind::Rejected { reason }])
            }
            Command::Dispatch { mode, lead, co_handlers, class, special_days } => {
                self.require(action, &[S::Accepted])?;
                self.check_targets(ctx.org, &lead, &co_handlers)?;
                let days = policy.days_for(class, special_days)?;
                self.dispatch =
                    Some(Dispatch { mode, lead: lead.clone(), co_handlers: co_handlers.clone(), class, days, at: now });
                self.status = S::Dispatched;
                Ok(vec![EventKind::Dispatched { mode, lead, co_handlers, class, days }])
            }
            Command::Receive => {
                self.require(action, &[S::Dispatched])?;
                let dispatch = self.dispatch.as_ref().expect("a dispatched case has a dispatch");
                // The clock starts on the day of receipt (签收), which itself is not counted.
                let deadline = Deadline::start(ctx.calendar, cst_date(now), dispatch.class, dispatch.days)?;
                let event = EventKind::Received { due_on: deadline.due_on, provisional: deadline.provisional };
                self.deadline = Some(deadline);
                self.received_at = Some(now);
                self.status = S::InProgress;
                Ok(vec![event])
            }
            Command::Return { reason } => {
                self.require(action, &[S::Dispatched, S::InProgress])?;
                let reason = text("reason", &reason)?;
                room(self.returns.len(), MAX_RETURNS, "退回记录")?;
                self.returns.push(ReturnRecord { unit: Self::acting_unit(actor), reason: reason.clone(), at: now });
                // Back to the dispatcher: the routing, the clock and any open request end here.
                self.dispatch = None;
                self.deadline = None;
                self.received_at = None;
                self.close_pending_extension(now, "案件已退回");
                self.status = S::Accepted;
                Ok(vec![EventKind::Returned { reason }])
            }
            Command::Contribute { text: t } => {
                self.require(action, &[S::InProgress])?;
                let t = text("text", &t)?;
                room(self.reports.len(), MAX_REPORTS, "反馈和协办意见")?;
                self.reports.push(Report { unit: Self::acting_unit(actor), text: t, co_handler: true, at: now });
                Ok(vec![EventKind::Contributed])
            }
            Command::Report { text: t } => {
                self.require(action, &[S::InProgress])?;
                let t = text("text", &t)?;
                room(self.reports.len(), MAX_REPORTS, "反馈和协办意见")?;
                self.reports.push(Report { unit: Self::acting_unit(actor), text: t, co_handler: false, at: now });
                self.close_pending_extension(now, "已反馈办理结果");
                self.status = S::Reported;
                Ok(vec![EventKind::Reported])
            }
            Command::Reply { text: t, public } => {
                let mode = self.dispatch.as_ref().map(|d| d.mode);
                match mode {
                    Some(DispatchMode::Transfer) => self.require(action, &[S::InProgress])?,
                    _ => self.require(action, &[S::Reported])?,
                }
                let t = text("text", &t)?;
                if public && !self.publishable {
                    return Err(WorkflowError::PublicationNotAllowed);
                }
                let on_time = self.deadline.as_ref().is_none_or(|d| !d.is_overdue(now));
                self.reply = Some(Reply { unit: Self::acting_unit(actor), text: t, public, at: now, on_time });
                self.close_pending_extension(now, "已答复");
                self.status = S::Replied;
                Ok(vec![EventKind::Replied { public, on_time }])
            }
            Command::RecordMeeting { held_on, place, summary } => {
                self.require(action, &[S::InProgress, S::Reported, S::Replied])?;
                if held_on > cst_date(now) {
                    return Err(WorkflowError::Invalid {
                        field: "held_on", message: "见面日期不能晚于今天".into()
                    });
                }
                let meeting = Meeting {
                    unit: Self::acting_unit(actor),
                    held_on,
                    place: text("place", &place)?,
                    summary: text("summary", &summary)?,
                    recorded_at: now,
                };
                room(self.meetings.len(), MAX_MEETINGS, "见面答复记录")?;
                self.meetings.push(meeting);
                Ok(vec![EventKind::MeetingRecorded { held_on }])
            }
            Command::RequestExtension { days, reason } => {
                self.require(action, &[S::InProgress])?;
                if self.pending_extension().is_some() {
                    return Err(WorkflowError::ExtensionPending);
                }
                let reason = text("reason", &reason)?;
                room(self.extensions.len(), MAX_EXTENSIONS, "延期申请")?;
                let deadline = self.deadline.as_ref().expect("a case in progress has a deadline");
                // Refuse at once what could never be approved.
                deadline.extended(ctx.calendar, policy, days)?;
                self.extensions.push(ExtensionRequest {
                    unit: Self::acting_unit(actor),
                    days,
                    reason: reason.clone(),
                    at: now,
                    decision: None,
                });
                Ok(vec![EventKind::ExtensionRequested { days, reason }])
            }
            Command::DecideExtension { approve, note } => {
                self.require(action, &[S::InProgress])?;
                let days = self.pending_extension().ok_or(WorkflowError::NoPendingExtension)?.days;
                let note = self::note("note", &note)?;
                if !approve && note.is_empty() {
                    return Err(WorkflowError::Invalid {
                        field: "note", message: "不同意延期须说明理由".into()
                    });
                }
                let mut due_on = None;
                if approve {
                    let deadline = self.deadline.as_ref().expect("a case in progress has a deadline");
                    let extended = deadline.extended(ctx.calendar, policy, days)?;
                    due_on = Some(extended.due_on);
                    self.deadline = Some(extended);
                }
                let pending = self.extensions.iter_mut().rev().find(|e| e.decision.is_none()).expect("checked above");
                pending.decision = Some(ExtensionDecision { approved: approve, note: note.clone(), at: now });
                Ok(vec![EventKind::ExtensionDecided { approved: approve, note, due_on }])
            }
            Command::Urge { note } => {
                self.require(action, &[S::Dispatched, S::InProgress, S::Reported])?;
                self.urges = self.urges.saturating_add(1);
                Ok(vec![EventKind::Urged { note: self::note("note", &note)? }])
            }
            Command::Supervise { note } => {
                self.require(action, &[S::Accepted, S::Dispatched, S::InProgress, S::Reported])?;
                if self.supervised {
                    return Err(WorkflowError::Unchanged);
                }
                self.supervised = true;
                Ok(vec![EventKind::Supervised { note: self::note("note", &note)? }])
            }
            Command::Rate { satisfied, comment } => {
                self.require(action, &[S::Replied])?;
                let comment = if satisfied { note("comment", &comment)? } else { text("comment", &comment)? };
                self.rating = Some(Rating { satisfied, comment, at: now });
                self.status = S::Closed;
                self.closed_at = Some(now);
                Ok(vec![EventKind::Rated { satisfied }, EventKind::Closed])
            }
            Command::Reopen { reason } => {
                self.require(action, &[S::Closed])?;
                if self.rating.as_ref().is_none_or(|r| r.satisfied) {
                    return Err(WorkflowError::Invalid {
                        field: "rating",
                        message: "只有市民不满意的留言才能重办".into(),
                    });
                }
                let reason = text("reason", &reason)?;
                if self.reopened >= MAX_REOPENS {
                    return Err(WorkflowError::TooMany { what: "重办次数", max: MAX_REOPENS as usize });
                }
                let dispatch = self.dispatch.as_ref().expect("a replied case was dispatched");
                // 重办: the same unit handles it again with a fresh clock from today.
                let deadline = Deadline::start(ctx.calendar, cst_date(now), dispatch.class, dispatch.days)?;
                let due_on = deadline.due_on;
                self.deadline = Some(deadline);
                self.received_at = Some(now);
                self.earlier_replies.extend(self.reply.take());
                self.rating = None;
                self.closed_at = None;
                self.reopened += 1;
                self.status = S::InProgress;
                Ok(vec![EventKind::Reopened { reason, due_on }])
            }
            Command::Close => {
                self.require(action, &[S::Replied])?;
                self.status = S::Closed;
                self.closed_at = Some(now);
                Ok(vec![EventKind::Closed])
            }
            Command::Feature { note } => {
                self.require(action, &[S::Replied, S::Closed])?;
                if !self.reply.as_ref().is_some_and(|r| r.public) {
                    return Err(WorkflowError::Invalid {
                        field: "reply",
                        message: "只有公开答复的留言才能设为典型案例".into(),
                    });
                }
                if self.featured {
                    return Err(WorkflowError::Unchanged);
                }
                let note = text("note", &note)?;
                if note.chars().count() > MAX_FEATURE_NOTE_CHARS {
                    return Err(WorkflowError::Invalid {
                        field: "note",
                        message: format!("推荐理由为一段话，不能超过{MAX_FEATURE_NOTE_CHARS}个字"),
                    });
                }
                self.featured = true;
                self.featured_note = Some(note.clone());
                Ok(vec![EventKind::Featured { note }])
            }
            Command::DeadlineAlarm => self.alarm(ctx),
            Command::RecordTriage { note } => {
                // Once per case: a redelivered triage message changes nothing.
                if self.triage.is_some() {
                    return Err(WorkflowError::Unchanged);
                }
                let summary = note.summary(ctx.org);
                self.triage = Some(*note);
                self.triage_version = Some(self.version + 1);
                Ok(vec![EventKind::Triaged { summary }])
            }
            Command::Explain { text: t } => {
                self.require(action, &[S::InProgress])?;
                if self.overdue_due.is_none() {
                    return Err(WorkflowError::Invalid {
                        field: "text", message: "尚未超期，无需提交情况说明".into()
                    });
                }
                let t = text("text", &t)?;
                room(self.explanations.len(), MAX_EXPLANATIONS, "情况说明")?;
                self.explanations.push(LateExplanation { unit: Self::acting_unit(actor), text: t.clone(), at: now });
                Ok(vec![EventKind::Explained { text: t }])
            }
            Command::Merge { into } => {
                self.require(action, &[S::Submitted, S::Accepted, S::Dispatched, S::InProgress, S::Reported])?;
                if into == self.number {
                    return Err(WorkflowError::Invalid { field: "into", message: "不能并入留言本身".into() });
                }
                // The clock stops: no urge, no expiry while merged (see `compute_next_alarm`).
                self.close_pending_extension(now, "已并单");
                self.merged_from = Some(self.status);
                self.merged_into = Some(into.clone());
                self.merged_at = Some(now);
                self.status = S::Merged;
                Ok(vec![EventKind::Merged { into }])
            }
            Command::PublishAttachment { number, public } => {
                let index = usize::try_from(number).ok().and_then(|n| n.checked_sub(1));
                let Some(attachment) = index.and_then(|i| self.attachments.get_mut(i)) else {
                    return Err(WorkflowError::Invalid { field: "number", message: "没有这个附件".into() });
                };
                if public && !self.publishable {
                    return Err(WorkflowError::PublicationNotAllowed);
                }
                // A PDF is kept as it was sent, with its own metadata (author, the photos inside it
                // with theirs): for the staff of the case only.
                if public && attachment.kind == crate::case::AttachmentKind::Pdf {
                    return Err(WorkflowError::Invalid {
                        field: "number",
                        message: "PDF 文件保留原有的作者等信息，只供办理人员查看，不能公开".into(),
                    });
                }
                if attachment.public == public {
                    return Err(WorkflowError::Unchanged);
                }
                attachment.public = public;
                Ok(vec![EventKind::AttachmentMarked { number, public }])
            }
            Command::Unmerge => {
                self.require(action, &[S::Merged])?;
                if self.reply.is_some() {
                    return Err(WorkflowError::Invalid {
                        field: "merged_into",
                        message: "原留言已答复，本留言已获同一答复，不能撤销并单".into(),
                    });
                }
                let from = self.merged_into.take().expect("a merged case names its original");
                // Back where it was; a deadline that ran resumes: moved by the working days it stood
                // still, counted on today's calendar.
                if let (Some(deadline), Some(at)) = (&self.deadline, self.merged_at) {
                    let paused = ctx.calendar.working_days_between(cst_date(at), cst_date(now));
                    self.deadline = Some(deadline.resumed(ctx.calendar, paused)?);
                }
                self.merged_at = None;
                self.status = self.merged_from.take().unwrap_or(S::Accepted);
                Ok(vec![EventKind::Unmerged { from }])
            }
            Command::ShareReply { from, reply } => {
                self.require(action, &[S::Merged])?;
                if self.merged_into.as_ref() != Some(&from) {
                    return Err(WorkflowError::Invalid {
                        field: "from", message: "不是本留言并入的原留言".into()
                    });
                }
                // Once: a redelivered reply of the original changes nothing.
                if self.reply.is_some() {
                    return Err(WorkflowError::Unchanged);
                }
                let public = reply.public && self.publishable;
                self.reply = Some(Reply { public, ..*reply });
                Ok(vec![EventKind::ReplyShared { from, public }])
            }
            Command::RecomputeDeadline => {
                self.require(action, &[S::InProgress, S::Reported])?;
                let deadline = self.deadline.as_ref().expect("a received case has a deadline");
                let Some(new) = deadline.recomputed(ctx.calendar)? else {
                    return Err(WorkflowError::Unchanged);
                };
                let event = EventKind::DeadlineRecomputed {
                    from: deadline.due_on,
                    to: new.due_on,
                    provisional: new.provisional,
                };
                self.deadline = Some(new);
                Ok(vec![event])
            }
        }
    }

    /// When the sweep must next look at the case: the start of the urge window, then the deadline
    /// itself; nothing once both happened for the current deadline or the case left `in_progress`.
    pub fn compute_next_alarm(&self, ctx: &Context) -> Option<DateTime<Utc>> {
        if self.status != CaseStatus::InProgress {
            return None;
        }
        let deadline = self.deadline.as_ref()?;
        if self.overdue_due == Some(deadline.due_on) {
            return None;
        }
        if self.urged_due != Some(deadline.due_on) {
            let start = ctx.calendar.window_start(deadline.due_on, ctx.org.deadlines.urge_within);
            return Some(start_of_cst_day(start).min(deadline.due_at()));
        }
        Some(deadline.due_at())
    }

    fn alarm(&mut self, ctx: &Context) -> Result<Vec<EventKind>, WorkflowError> {
        self.require(Action::DeadlineAlarm, &[CaseStatus::InProgress])?;
        let deadline = self.deadline.clone().expect("a case in progress has a deadline");
        let due_on = deadline.due_on;
        if deadline.is_overdue(ctx.now) {
            if self.overdue_due == Some(due_on) {
                return Err(WorkflowError::Unchanged);
            }
            self.overdue_due = Some(due_on);
            // Past the deadline an urge is moot.
            self.urged_due = Some(due_on);
            let mut events = vec![EventKind::MarkedOverdue { due_on }];
            if !self.supervised {
                self.supervised = true;
                events.push(EventKind::Supervised { note: "超过办理时限，自动转督办".into() });
            }
            events.push(EventKind::ExplanationRequested { due_on });
            return Ok(events);
        }
        let window = ctx.calendar.window_start(due_on, ctx.org.deadlines.urge_within);
        if ctx.now >= start_of_cst_day(window) && self.urged_due != Some(due_on) {
            self.urged_due = Some(due_on);
            self.urges = self.urges.saturating_add(1);
            let left = ctx.calendar.working_days_between(cst_date(ctx.now), due_on);
            return Ok(vec![EventKind::Urged {
                note: format!("系统催办：距办理时限（{due_on}）还有{left}个工作日")
            }]);
        }
        Err(WorkflowError::Unchanged)
    }

    /// A pending extension request ends without approval when the case moves on.
    fn close_pending_extension(&mut self, now: DateTime<Utc>, note: &str) {
        if let Some(pending) = self.extensions.iter_mut().rev().find(|e| e.decision.is_none()) {
            pending.decision = Some(ExtensionDecision { approved: false, note: note.into(), at: now });
        }
    }

    /// Which units the dispatcher of this case may send it to.
    fn check_targets(&self, org: &Organisation, lead: &UnitId, co_handlers: &[UnitId]) -> Result<(), WorkflowError> {
        let dispatcher = org.unit(&self.dispatcher).expect("the case's dispatcher is in the organisation");
        let may_receive = |unit: &UnitId| -> bool {
            let Some(u) = org.unit(unit) else { return false };
            match dispatcher.kind {
                // A bureau handles its own mailbox.
                UnitKind::Bureau => u.id == dispatcher.id,
                _ if dispatcher.jurisdiction == org.city => {
                    matches!(u.kind, UnitKind::Bureau | UnitKind::DistrictGovernment)
                }
                // A district 信访局 dispatches within its district.
                _ => {
                    u.jurisdiction == dispatcher.jurisdiction
                        && matches!(u.kind, UnitKind::Bureau | UnitKind::DistrictGovernment)
                }
            }
        };
        if !may_receive(lead) {
            return Err(WorkflowError::Invalid {
                field: "lead", message: format!("不能交办或转办给单位“{lead}”")
            });
        }
        for (i, co) in co_handlers.iter().enumerate() {
            if co == lead || co_handlers[..i].contains(co) {
                return Err(WorkflowError::Invalid {
                    field: "co_handlers", message: format!("单位“{co}”重复")
                });
            }
            if !may_receive(co) {
                return Err(WorkflowError::Invalid {
                    field: "co_handlers", message: format!("不能请单位“{co}”协办")
                });
            }
        }
        Ok(())
    }

    /// The jurisdiction whose queue a dispatched case must cross, when its lead unit is outside the
    /// case's own jurisdiction (e.g. the city dispatching to 邻水县人民政府).
    pub fn handoff_jurisdiction<'o>(&self, org: &'o Organisation) -> Option<&'o crate::org::Jurisdiction> {
        let lead = self.dispatch.as_ref()?.lead.clone();
        org.jurisdiction_of(&lead).filter(|j| j.id != self.jurisdiction)
    }
}
