//! The case (留言件): one citizen message and everything done with it.

use crate::deadline::{Deadline, DeadlineClass};
use crate::ids::{CaseId, CaseNumber, JurisdictionId, MailboxId, UnitId};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// What the citizen says the message is (留言类型).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// 建议
    Suggestion,
    /// 咨询
    Consultation,
    /// 投诉
    Complaint,
    /// 求助
    Help,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Suggestion, Kind::Consultation, Kind::Complaint, Kind::Help];

    pub fn label(self) -> &'static str {
        match self {
            Kind::Suggestion => "建议",
            Kind::Consultation => "咨询",
            Kind::Complaint => "投诉",
            Kind::Help => "求助",
        }
    }

    /// The deadline class the source document gives this kind by default.
    pub fn default_class(self) -> DeadlineClass {
        match self {
            Kind::Suggestion | Kind::Consultation => DeadlineClass::Simple,
            Kind::Complaint | Kind::Help => DeadlineClass::Standard,
        }
    }
}

/// Where a case stands in the workflow (DESIGN §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    Submitted,
    Accepted,
    Invalid,
    Dispatched,
    InProgress,
    Reported,
    Replied,
    Closed,
    /// 重复件: merged into an earlier case (并单); its own clock stopped, it gets that case's reply.
    Merged,
}

impl CaseStatus {
    pub const ALL: [CaseStatus; 9] = [
        CaseStatus::Submitted,
        CaseStatus::Accepted,
        CaseStatus::Invalid,
        CaseStatus::Dispatched,
        CaseStatus::InProgress,
        CaseStatus::Reported,
        CaseStatus::Replied,
        CaseStatus::Closed,
        CaseStatus::Merged,
    ];

    pub fn label(self) -> &'static str {
        match self {
            CaseStatus::Submitted => "待受理",
            CaseStatus::Accepted => "已受理",
            CaseStatus::Invalid => "无效留言",
            CaseStatus::Dispatched => "待签收",
            CaseStatus::InProgress => "办理中",
            CaseStatus::Reported => "已反馈",
            CaseStatus::Replied => "已答复",
            CaseStatus::Closed => "已办结",
            CaseStatus::Merged => "已并单",
        }
    }

    /// Open cases still need someone to act before the citizen has an answer (a merged case waits
    /// for its original's reply, which is not its own work).
    pub fn is_open(self) -> bool {
        !matches!(self, CaseStatus::Invalid | CaseStatus::Replied | CaseStatus::Closed | CaseStatus::Merged)
    }
}

/// 交办 or 转办.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DispatchMode {
    /// 交办: the unit reports its result to the dispatcher, which replies to the citizen.
    Assign,
    /// 转办: the unit replies to the citizen itself.
    Transfer,
}

impl DispatchMode {
    pub fn label(self) -> &'static str {
        match self {
            DispatchMode::Assign => "交办",
            DispatchMode::Transfer => "转办",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Dispatch {
    pub mode: DispatchMode,
    pub lead: UnitId,
    pub co_handlers: Vec<UnitId>,
    pub class: DeadlineClass,
    /// Working days granted for the class (the approved number for `Special`).
    pub days: u32,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Citizen {
    pub name: String,
    pub phone: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Report {
    pub unit: UnitId,
    pub text: String,
    /// A co-handler's contribution (协办意见) rather than the lead's report.
    pub co_handler: bool,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Reply {
    pub unit: UnitId,
    pub text: String,
    /// Whether the reply may be published (masked when it is read; see `mask`).
    pub public: bool,
    pub at: DateTime<Utc>,
    /// Whether the reply came before the deadline passed.
    pub on_time: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Meeting {
    pub unit: UnitId,
    pub held_on: NaiveDate,
    pub place: String,
    pub summary: String,
    pub recorded_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExtensionRequest {
    pub unit: UnitId,
    pub days: u32,
    /// 情况说明
    pub reason: String,
    pub at: DateTime<Utc>,
    pub decision: Option<ExtensionDecision>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExtensionDecision {
    pub approved: bool,
    pub note: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Rating {
    pub satisfied: bool,
    pub comment: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReturnRecord {
    pub unit: UnitId,
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// What an attachment (附件) is, decided by its content (never its name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AttachmentKind {
    Jpeg,
    Png,
    Pdf,
}

impl AttachmentKind {
    pub fn mime(self) -> &'static str {
        match self {
            AttachmentKind::Jpeg => "image/jpeg",
            AttachmentKind::Png => "image/png",
            AttachmentKind::Pdf => "application/pdf",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            AttachmentKind::Jpeg => "JPEG 图片",
            AttachmentKind::Png => "PNG 图片",
            AttachmentKind::Pdf => "PDF 文件",
        }
    }

    /// How a browser is to take the file: images shown, PDFs saved (never opened as this site).
    pub fn disposition(self) -> &'static str {
        match self {
            AttachmentKind::Pdf => "attachment",
            AttachmentKind::Jpeg | AttachmentKind::Png => "inline",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            AttachmentKind::Jpeg => "jpg",
            AttachmentKind::Png => "png",
            AttachmentKind::Pdf => "pdf",
        }
    }
}

/// Most attachments one message carries.
pub const MAX_ATTACHMENTS: usize = 3;

/// A citizen's photo or document (附件), as stored: images decoded and encoded again, so that no
/// metadata (EXIF, GPS, comments) survives; the file is found by its content's SHA-256, never by a
/// name a client chose. Staff who may see the case open it; the public only when the dispatcher
/// marked it publishable and the reply is published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Attachment {
    /// SHA-256 of the stored bytes (64 lowercase hex digits).
    pub id: String,
    pub kind: AttachmentKind,
    /// Size of the stored file in bytes.
    pub bytes: u64,
    /// Marked publishable by the dispatcher.
    #[serde(default)]
    pub public: bool,
}

impl Attachment {
    /// Whether `id` is how attachment ids are written (a SHA-256 in lowercase hex): anything else
    /// never reaches a store or a path.
    pub fn valid_id(id: &str) -> bool {
        id.len() == 64 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    }
}

/// The other system a case came through (Open311): the API key that posted it. Kept so the audit
/// trail says where the message came from, and so that only that system follows the case through
/// the API before its reply is public.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiSource {
    /// The key's public id (never its secret).
    pub key_id: String,
    /// The key's name as the administrator gave it, e.g. 12345热线工单系统.
    pub name: String,
}

/// The case as stored. Its audit events are stored beside it, not inside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Case {
    pub id: CaseId,
    pub number: CaseNumber,
    /// Digest of the citizen's query code (查询码); the code itself is never stored. Never shown:
    /// staff views leave it out (and so does their schema).
    #[cfg_attr(feature = "openapi", schema(ignore))]
    pub query_code_digest: String,
    pub mailbox: MailboxId,
    pub jurisdiction: JurisdictionId,
    /// The unit that accepts and dispatches this case (the mailbox's dispatcher).
    pub dispatcher: UnitId,
    pub kind: Kind,
    pub title: String,
    pub body: String,
    pub citizen: Citizen,
    /// The citizen agreed that the message and reply may be published.
    pub publishable: bool,
    pub submitted_at: DateTime<Utc>,
    pub status: CaseStatus,
    /// Incremented by every state change; stores write only over the version they read.
    pub version: u64,
    /// Number of audit events written so far; the next event gets `events + 1`.
    pub events: u64,
    pub invalid_reason: Option<String>,
    pub dispatch: Option<Dispatch>,
    pub received_at: Option<DateTime<Utc>>,
    pub deadline: Option<Deadline>,
    pub reports: Vec<Report>,
    pub reply: Option<Reply>,
    /// Replies of earlier rounds, before a reopen (重办).
    pub earlier_replies: Vec<Reply>,
    pub meetings: Vec<Meeting>,
    pub extensions: Vec<ExtensionRequest>,
    pub returns: Vec<ReturnRecord>,
    pub urges: u32,
    pub supervised: bool,
    pub rating: Option<Rating>,
    pub reopened: u32,
    pub featured: bool,
    /// Why it was chosen as a typical case (典型案例).
    #[serde(default)]
    pub featured_note: Option<String>,
    pub closed_at: Option<DateTime<Utc>>,
    /// The deadline (its last day) for which the automatic urge (催办) was sent.
    #[serde(default)]
    pub urged_due: Option<NaiveDate>,
    /// The deadline that passed and was escalated (督办, explanation requested).
    #[serde(default)]
    pub overdue_due: Option<NaiveDate>,
    /// Explanations (情况说明) a unit gave for a missed deadline.
    #[serde(default)]
    pub explanations: Vec<LateExplanation>,
    /// When the deadline sweep must next look at this case (urge, then expiry); `None` when there
    /// is nothing left to watch. Stores index it, so the sweep reads only cases that need it.
    #[serde(default)]
    pub next_alarm: Option<DateTime<Utc>>,
    /// Triage's suggestions for the dispatcher, recorded once, shortly after submission.
    #[serde(default)]
    pub triage: Option<crate::triage::TriageNote>,
    /// The version the triage record produced; see `is_current`.
    #[serde(default)]
    pub triage_version: Option<u64>,
    /// 并单: the earlier case this one was merged into.
    #[serde(default)]
    pub merged_into: Option<CaseNumber>,
    /// The status it had when merged, to go back to if un-merged.
    #[serde(default)]
    pub merged_from: Option<CaseStatus>,
    /// When it was merged: an un-merge moves a running deadline by the working days since.
    #[serde(default)]
    pub merged_at: Option<DateTime<Utc>>,
    /// Posted by another system through Open311 (none: the public site or the API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ApiSource>,
    /// Where the matter is, as the posting system gave it (an address, or latitude,longitude).
    /// Personal data: staff of the case only, never public, hidden from supervisors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// The citizen's photos and documents (附件), at most [`MAX_ATTACHMENTS`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
    /// What the public reads of this case while it is published, masked when it was published (or
    /// when the masking rules changed since): public reads never mask. `None` when not published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(ignore))]
    pub published: Option<Published>,
}

/// The public text of a published case, masked once (stores index its search terms).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    /// The masking rules it was masked with (`mask::MASK_RULES`); older ones are masked again.
    pub rules: u32,
    /// Digest of what it was made from (texts, reply, citizen's name, featured note): a change
    /// masks again, anything else keeps it.
    pub source: String,
    pub title: String,
    pub body: String,
    pub reply: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub featured_note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LateExplanation {
    pub unit: UnitId,
    pub text: String,
    pub at: DateTime<Utc>,
}

/// Where a case stands in inboxes and lists: urgent cases (紧急件) still waiting for an answer first
/// (at the epoch), then by due instant; `None` — no deadline — after all others.
pub fn list_instant(urgent: bool, status: CaseStatus, due_at: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    let waiting = status.is_open();
    if urgent && waiting {
        Some(DateTime::UNIX_EPOCH)
    } else {
        due_at
    }
}

impl Case {
    /// Triage found an urgent cue in it (紧急件).
    pub fn is_urgent(&self) -> bool {
        self.triage.as_ref().is_some_and(|t| t.is_urgent())
    }

    /// Its place in lists (see [`list_instant`]).
    pub fn list_instant(&self) -> Option<DateTime<Utc>> {
        list_instant(self.is_urgent(), self.status, self.deadline.as_ref().map(|d| d.due_at()))
    }
    /// Whether staff who saw `version` may act without reloading: it is the current version, or
    /// the only change since is triage's suggestions (which arrive moments after submission, and
    /// must not make a dispatcher's first action fail as stale).
    pub fn is_current(&self, version: u64) -> bool {
        // `version` comes from the client: compare without arithmetic on it (no overflow).
        version == self.version
            || (self.version.checked_sub(1) == Some(version) && self.triage_version == Some(self.version))
    }

    pub fn pending_extension(&self) -> Option<&ExtensionRequest> {
        self.extensions.iter().rev().find(|e| e.decision.is_none())
    }

    pub fn lead(&self) -> Option<&UnitId> {
        self.dispatch.as_ref().map(|d| &d.lead)
    }

    /// Units the case is currently with: the lead and its co-handlers.
    /// The units handling the case (lead and co-handlers) — none while it is merged into another
    /// case (并单): it leaves their inboxes until un-merged.
    pub fn handling_units(&self) -> impl Iterator<Item = &UnitId> {
        self.dispatch
            .iter()
            .filter(|_| self.status != CaseStatus::Merged)
            .flat_map(|d| std::iter::once(&d.lead).chain(d.co_handlers.iter()))
    }

    pub fn is_handled_by(&self, unit: &UnitId) -> bool {
        self.handling_units().any(|u| u == unit)
    }

    /// An open case whose deadline has passed.
    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        self.status == CaseStatus::InProgress && self.deadline.as_ref().is_some_and(|d| d.is_overdue(now))
    }
}
