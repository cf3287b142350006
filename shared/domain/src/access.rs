//! Who may see and do what (DESIGN §6). One function, [`authorize`], decides every case action;
//! a case the actor may not see is reported as not found, never as forbidden.

use crate::case::{Case, DispatchMode};
use crate::ids::{CaseId, UnitId, UserId};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A member of the public who proved, with number and query code, that the case is theirs.
    Citizen,
    /// 信访局 staff: accepts and dispatches the cases of its unit's mailboxes.
    Dispatcher,
    /// Staff of a handling unit.
    Handler,
    /// 政府办: reads everything, supervises.
    Supervisor,
    /// Organisation, accounts, calendar, policy; no access to cases.
    Admin,
    /// 舆情 staff: record what appears online, send it to units, track it, report to leaders; no
    /// access to cases (they name related case numbers only).
    Opinion,
    /// Scheduled and queued work (deadline sweep, calendar recompute).
    System,
}

impl Role {
    pub const ALL: [Role; 7] =
        [Role::Citizen, Role::Dispatcher, Role::Handler, Role::Supervisor, Role::Admin, Role::Opinion, Role::System];

    pub fn label(self) -> &'static str {
        match self {
            Role::Citizen => "市民",
            Role::Dispatcher => "信访局工作人员",
            Role::Handler => "承办单位工作人员",
            Role::Supervisor => "督办人员",
            Role::Admin => "系统管理员",
            Role::Opinion => "舆情工作人员",
            Role::System => "系统",
        }
    }
}

/// Who is acting. Built at the edge (session, JWT claims, query code); handlers never see credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Actor {
    pub user: UserId,
    pub role: Role,
    /// The staff member's unit (dispatchers and handlers need one).
    pub unit: Option<UnitId>,
    /// For a citizen: the case they proved to be theirs.
    pub case: Option<CaseId>,
}

impl Actor {
    pub fn staff(user: impl Into<String>, role: Role, unit: Option<UnitId>) -> Actor {
        Actor { user: UserId::new(user), role, unit, case: None }
    }

    pub fn citizen(case: CaseId) -> Actor {
        Actor { user: UserId::new("citizen"), role: Role::Citizen, unit: None, case: Some(case) }
    }

    pub fn system() -> Actor {
        Actor { user: UserId::new("system"), role: Role::System, unit: None, case: None }
    }
}

/// Everything that can be done to a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Action {
    View,
    ViewPersonalData,
    Accept,
    Reject,
    Dispatch,
    Receive,
    Return,
    Contribute,
    Report,
    Reply,
    RecordMeeting,
    RequestExtension,
    DecideExtension,
    Urge,
    Supervise,
    Rate,
    Reopen,
    Close,
    Feature,
    RecomputeDeadline,
    /// The sweep's automatic urge, expiry and escalation.
    DeadlineAlarm,
    /// A unit's explanation (情况说明) of a missed deadline.
    Explain,
    /// Recording triage's suggestions (system only).
    Triage,
    /// 并单 and its undoing (the dispatcher).
    Merge,
    Unmerge,
    /// Giving a merged case its original's reply (system only).
    ShareReply,
    /// Marking a citizen's attachment publishable (the dispatcher).
    PublishAttachment,
}

impl Action {
    pub const ALL: [Action; 27] = [
        Action::View,
        Action::ViewPersonalData,
        Action::Accept,
        Action::Reject,
        Action::Dispatch,
        Action::Receive,
        Action::Return,
        Action::Contribute,
        Action::Report,
        Action::Reply,
        Action::RecordMeeting,
        Action::RequestExtension,
        Action::DecideExtension,
        Action::Urge,
        Action::Supervise,
        Action::Rate,
        Action::Reopen,
        Action::Close,
        Action::Feature,
        Action::RecomputeDeadline,
        Action::DeadlineAlarm,
        Action::Explain,
        Action::Triage,
        Action::Merge,
        Action::Unmerge,
        Action::ShareReply,
        Action::PublishAttachment,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Action::View => "查看",
            Action::ViewPersonalData => "查看个人信息",
            Action::Accept => "受理",
            Action::Reject => "认定无效",
            Action::Dispatch => "交办/转办",
            Action::Receive => "签收",
            Action::Return => "退回",
            Action::Contribute => "协办意见",
            Action::Report => "反馈",
            Action::Reply => "答复",
            Action::RecordMeeting => "记录见面答复",
            Action::RequestExtension => "申请延期",
            Action::DecideExtension => "审批延期",
            Action::Urge => "催办",
            Action::Supervise => "督办",
            Action::Rate => "评价",
            Action::Reopen => "重办",
            Action::Close => "办结",
            Action::Feature => "设为典型案例",
            Action::RecomputeDeadline => "重算时限",
            Action::DeadlineAlarm => "时限提醒",
            Action::Explain => "提交情况说明",
            Action::Triage => "分拣建议",
            Action::Merge => "并单",
            Action::Unmerge => "撤销并单",
            Action::ShareReply => "共享原留言答复",
            Action::PublishAttachment => "设置附件公开",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    /// The actor may not know the case exists.
    #[error("留言不存在")]
    NotFound,
    /// The actor sees the case but may not do this; the reason is for staff.
    #[error("无权执行此操作：{0}")]
    Forbidden(&'static str),
}

/// How the actor relates to the case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Relation {
    None,
    OwnCitizen,
    Dispatcher,
    Lead,
    CoHandler,
    Supervisor,
    System,
}

fn relation(actor: &Actor, case: &Case) -> Relation {
    let unit = actor.unit.as_ref();
    match actor.role {
        Role::Citizen if actor.case.as_ref() == Some(&case.id) => Relation::OwnCitizen,
        Role::Dispatcher if unit == Some(&case.dispatcher) => Relation::Dispatcher,
        Role::Handler => match (unit, case.dispatch.as_ref()) {
            (Some(u), Some(d)) if &d.lead == u => Relation::Lead,
            (Some(u), Some(d)) if d.co_handlers.contains(u) => Relation::CoHandler,
            _ => Relation::None,
        },
        Role::Supervisor => Relation::Supervisor,
        Role::System => Relation::System,
        _ => Relation::None,
    }
}

/// Whether the actor may know the case exists.
pub fn can_view(actor: &Actor, case: &Case) -> bool {
    relation(actor, case) != Relation::None
}

/// Decides whether `actor` may perform `action` on `case`. State (is the case in the right status?)
/// is the workflow's concern; this decides who, and, for replies and reports, by which path.
pub fn authorize(actor: &Actor, action: Action, case: &Case) -> Result<(), AccessError> {
    use Action::*;
    use Relation as R;
    let rel = relation(actor, case);
    if rel == R::None {
        return Err(AccessError::NotFound);
    }
    let mode = case.dispatch.as_ref().map(|d| d.mode);
    let allowed = match (rel, action) {
        (_, View) => true,
        (R::OwnCitizen | R::Dispatcher | R::Lead | R::CoHandler, ViewPersonalData) => true,
        (R::OwnCitizen, Rate) => true,
        (
            R::Dispatcher,
            Accept | Reject | Dispatch | DecideExtension | Urge | RecordMeeting | Reopen | Close | Feature | Merge
            | Unmerge | PublishAttachment,
        ) => true,
        (R::Dispatcher, Reply) => {
            if mode == Some(DispatchMode::Transfer) {
                return Err(AccessError::Forbidden("转办件由承办单位直接答复市民"));
            }
            true
        }
        (R::Lead, Receive | Return | RecordMeeting | RequestExtension | Explain) => true,
        (R::Lead, Report) => {
            if mode != Some(DispatchMode::Assign) {
                return Err(AccessError::Forbidden("转办件由承办单位直接答复，无需向信访局反馈"));
            }
            true
        }
        (R::Lead, Reply) => {
            if mode != Some(DispatchMode::Transfer) {
                return Err(AccessError::Forbidden("交办件须向信访局反馈，由信访局答复市民"));
            }
            true
        }
        (R::CoHandler, Contribute) => true,
        (R::Supervisor, Urge | Supervise | Feature) => true,
        (R::System, Urge | Supervise | RecomputeDeadline | DeadlineAlarm | Triage | ShareReply) => true,
        _ => false,
    };
    if allowed {
        Ok(())
    } else {
        Err(AccessError::Forbidden(forbidden_reason(rel)))
    }
}

fn forbidden_reason(rel: Relation) -> &'static str {
    match rel {
        Relation::OwnCitizen => "市民只能查看和评价自己的留言",
        Relation::Dispatcher => "该操作由承办单位办理",
        Relation::Lead => "该操作由信访局或督办人员办理",
        Relation::CoHandler => "协办单位只能提交协办意见",
        Relation::Supervisor => "督办人员只能查看、催办、督办",
        Relation::System => "系统任务不能执行该操作",
        Relation::None => "留言不存在",
    }
}
