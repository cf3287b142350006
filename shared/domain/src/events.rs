//! Domain events (领域事件): what a committed change tells the other systems of the city (the 12345
//! hotline's work-order system, 舆情 monitoring, the data platform) and the system's own consumers
//! (triage, hand-offs, notifications). One per audit event, built from the case as the change left
//! it, and stored in the change's own transaction — so an event exists exactly when its change does.
//!
//! No personal data: ids, units, statuses, dates and flags only — never a name, a phone number, a
//! title, a text, a reason or a note (any of them may hold personal data), nor the staff member's
//! user name.

use crate::case::{Case, CaseStatus, DispatchMode, Kind};
use crate::ids::{CaseId, CaseNumber, JurisdictionId, MailboxId, UnitId};
use crate::org::Organisation;
use crate::workflow::{AuditEvent, EventKind};
use crate::Role;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// The `source` of every event of the mailbox on the event bus.
pub const EVENT_SOURCE: &str = "mailbox";

/// The version of [`EventDetail`]'s schema. A field added keeps it; a field removed or changed in
/// meaning raises it, and consumers refuse versions they do not know.
pub const DETAIL_VERSION: u32 = 1;

/// What happened, as the `detail-type` of the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DetailType {
    CaseSubmitted,
    CaseTriaged,
    CaseAccepted,
    CaseRejected,
    CaseDispatched,
    CaseReceived,
    CaseReturned,
    CaseContributed,
    CaseReported,
    CaseReplied,
    CaseMeetingRecorded,
    CaseExtensionRequested,
    CaseExtensionDecided,
    /// A unit was urged by staff (催办).
    CaseUrged,
    /// The deadline sweep's reminder before a deadline.
    CaseDueSoon,
    CaseSupervised,
    CaseRated,
    CaseReopened,
    CaseClosed,
    CaseFeatured,
    CaseDeadlineRecomputed,
    CaseOverdue,
    CaseExplanationRequested,
    CaseExplained,
    /// 并单: merged into an earlier case (`merged_into`).
    CaseMerged,
    CaseUnmerged,
    /// A merged case got its original's reply.
    CaseReplyShared,
    /// A citizen's attachment was marked publishable (or no longer).
    CaseAttachmentMarked,
}

impl DetailType {
    pub const ALL: [DetailType; 28] = [
        DetailType::CaseSubmitted,
        DetailType::CaseTriaged,
        DetailType::CaseAccepted,
        DetailType::CaseRejected,
        DetailType::CaseDispatched,
        DetailType::CaseReceived,
        DetailType::CaseReturned,
        DetailType::CaseContributed,
        DetailType::CaseReported,
        DetailType::CaseReplied,
        DetailType::CaseMeetingRecorded,
        DetailType::CaseExtensionRequested,
        DetailType::CaseExtensionDecided,
        DetailType::CaseUrged,
        DetailType::CaseDueSoon,
        DetailType::CaseSupervised,
        DetailType::CaseRated,
        DetailType::CaseReopened,
        DetailType::CaseClosed,
        DetailType::CaseFeatured,
        DetailType::CaseDeadlineRecomputed,
        DetailType::CaseOverdue,
        DetailType::CaseExplanationRequested,
        DetailType::CaseExplained,
        DetailType::CaseMerged,
        DetailType::CaseUnmerged,
        DetailType::CaseReplyShared,
        DetailType::CaseAttachmentMarked,
    ];

    /// The name on the bus (`CaseSubmitted`).
    pub fn name(self) -> &'static str {
        match self {
            DetailType::CaseSubmitted => "CaseSubmitted",
            DetailType::CaseTriaged => "CaseTriaged",
            DetailType::CaseAccepted => "CaseAccepted",
            DetailType::CaseRejected => "CaseRejected",
            DetailType::CaseDispatched => "CaseDispatched",
            DetailType::CaseReceived => "CaseReceived",
            DetailType::CaseReturned => "CaseReturned",
            DetailType::CaseContributed => "CaseContributed",
            DetailType::CaseReported => "CaseReported",
            DetailType::CaseReplied => "CaseReplied",
            DetailType::CaseMeetingRecorded => "CaseMeetingRecorded",
            DetailType::CaseExtensionRequested => "CaseExtensionRequested",
            DetailType::CaseExtensionDecided => "CaseExtensionDecided",
            DetailType::CaseUrged => "CaseUrged",
            DetailType::CaseDueSoon => "CaseDueSoon",
            DetailType::CaseSupervised => "CaseSupervised",
            DetailType::CaseRated => "CaseRated",
            DetailType::CaseReopened => "CaseReopened",
            DetailType::CaseClosed => "CaseClosed",
            DetailType::CaseFeatured => "CaseFeatured",
            DetailType::CaseDeadlineRecomputed => "CaseDeadlineRecomputed",
            DetailType::CaseOverdue => "CaseOverdue",
            DetailType::CaseExplanationRequested => "CaseExplanationRequested",
            DetailType::CaseExplained => "CaseExplained",
            DetailType::CaseMerged => "CaseMerged",
            DetailType::CaseUnmerged => "CaseUnmerged",
            DetailType::CaseReplyShared => "CaseReplyShared",
            DetailType::CaseAttachmentMarked => "CaseAttachmentMarked",
        }
    }
}

/// The `detail` of an event: the case as the change left it, and the facts of the change that
/// carry no personal data. Fields a reader does not know are ignored (a newer writer may add some
/// within a version); the samples test keeps `events/bus/` and this type in step field for field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventDetail {
    /// The schema version ([`DETAIL_VERSION`]).
    pub version: u32,
    /// Unique per event (`<case id>-<seq>`): consumers are idempotent by it, since an event may
    /// arrive more than once.
    pub event_id: String,
    pub case_id: CaseId,
    pub case_number: CaseNumber,
    /// The case's version after the change.
    pub case_version: u64,
    /// The audit event's number in the case's trail.
    pub seq: u64,
    pub mailbox: MailboxId,
    pub jurisdiction: JurisdictionId,
    pub dispatcher: UnitId,
    pub case_kind: Kind,
    pub status: CaseStatus,
    /// Who acted: a role and a unit, never a person.
    pub actor_role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_unit: Option<UnitId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead: Option<UnitId>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub co_handlers: Vec<UnitId>,
    /// On `CaseDispatched` to a unit of another jurisdiction: that jurisdiction, whose hand-off
    /// queue takes the case in. (Within one jurisdiction there is no hand-off.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handoff: Option<JurisdictionId>,
    /// On `CaseDispatched`: assign (交办) or transfer (转办).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<DispatchMode>,
    /// The deadline's day (China time) as this change left it, if one runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_on: Option<NaiveDate>,
    /// On `CaseReplied`: whether the reply is public.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public: Option<bool>,
    /// On `CaseReplied`: whether it came within the deadline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_time: Option<bool>,
    /// On `CaseRated`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub satisfied: Option<bool>,
    /// On `CaseExtensionDecided`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved: Option<bool>,
    /// On `CaseMerged`, `CaseUnmerged` and `CaseReplyShared`: the original's number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original: Option<CaseNumber>,
}

/// A domain event as stored with its change and published on the bus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainEvent {
    #[serde(rename = "detail-type")]
    pub detail_type: DetailType,
    /// When the change happened (the audit event's time).
    pub time: DateTime<Utc>,
    pub detail: EventDetail,
}

impl DomainEvent {
    /// The event of `event`, one of the audit events of a change that left the case as `case`.
    pub fn of(org: &Organisation, case: &Case, event: &AuditEvent) -> DomainEvent {
        let mut detail = EventDetail {
            version: DETAIL_VERSION,
            event_id: format!("{}-{}", case.id, event.seq),
            case_id: case.id.clone(),
            case_number: case.number.clone(),
            case_version: case.version,
            seq: event.seq,
            mailbox: case.mailbox.clone(),
            jurisdiction: case.jurisdiction.clone(),
            dispatcher: case.dispatcher.clone(),
            case_kind: case.kind,
            status: case.status,
            actor_role: event.actor.role,
            actor_unit: event.actor.unit.clone(),
            lead: case.lead().cloned(),
            co_handlers: case.dispatch.as_ref().map(|d| d.co_handlers.clone()).unwrap_or_default(),
            handoff: None,
            mode: None,
            due_on: case.deadline.as_ref().map(|d| d.due_on),
            public: None,
            on_time: None,
            satisfied: None,
            approved: None,
            original: None,
        };
        let detail_type = match &event.kind {
            EventKind::Submitted { .. } => DetailType::CaseSubmitted,
            EventKind::Triaged { .. } => DetailType::CaseTriaged,
            EventKind::Accepted => DetailType::CaseAccepted,
            EventKind::Rejected { .. } => DetailType::CaseRejected,
            EventKind::Dispatched { mode, lead, co_handlers, .. } => {
                // The dispatch's own units: a later event of the same change cannot move them, but
                // say what this event did rather than rely on that.
                detail.lead = Some(lead.clone());
                detail.co_handlers = co_handlers.clone();
                detail.mode = Some(*mode);
                detail.handoff = org.jurisdiction_of(lead).filter(|j| j.id != case.jurisdiction).map(|j| j.id.clone());
                DetailType::CaseDispatched
            }
            EventKind::Received { due_on, .. } => {
                detail.due_on = Some(*due_on);
                DetailType::CaseReceived
            }
            EventKind::Returned { .. } => DetailType::CaseReturned,
            EventKind::Contributed => DetailType::CaseContributed,
            EventKind::Reported => DetailType::CaseReported,
            EventKind::Replied { public, on_time } => {
                detail.public = Some(*public);
                detail.on_time = Some(*on_time);
                DetailType::CaseReplied
            }
            EventKind::MeetingRecorded { .. } => DetailType::CaseMeetingRecorded,
            EventKind::ExtensionRequested { .. } => DetailType::CaseExtensionRequested,
            EventKind::ExtensionDecided { approved, due_on, .. } => {
                detail.approved = Some(*approved);
                detail.due_on = due_on.or(detail.due_on);
                DetailType::CaseExtensionDecided
            }
            EventKind::Urged { .. } if event.actor.role == Role::System => DetailType::CaseDueSoon,
            EventKind::Urged { .. } => DetailType::CaseUrged,
            EventKind::Supervised { .. } => DetailType::CaseSupervised,
            EventKind::Rated { satisfied } => {
                detail.satisfied = Some(*satisfied);
                DetailType::CaseRated
            }
            EventKind::Reopened { due_on, .. } => {
                detail.due_on = Some(*due_on);
                DetailType::CaseReopened
            }
            EventKind::Closed => DetailType::CaseClosed,
            EventKind::Featured { .. } => DetailType::CaseFeatured,
            EventKind::AttachmentMarked { public, .. } => {
                detail.public = Some(*public);
                DetailType::CaseAttachmentMarked
            }
            EventKind::DeadlineRecomputed { to, .. } => {
                detail.due_on = Some(*to);
                DetailType::CaseDeadlineRecomputed
            }
            EventKind::MarkedOverdue { due_on } => {
                detail.due_on = Some(*due_on);
                DetailType::CaseOverdue
            }
            EventKind::ExplanationRequested { due_on } => {
                detail.due_on = Some(*due_on);
                DetailType::CaseExplanationRequested
            }
            EventKind::Explained { .. } => DetailType::CaseExplained,
            EventKind::Merged { into } => {
                detail.original = Some(into.clone());
                DetailType::CaseMerged
            }
            EventKind::Unmerged { from } => {
                detail.original = Some(from.clone());
                DetailType::CaseUnmerged
            }
            EventKind::ReplyShared { from, public } => {
                detail.original = Some(from.clone());
                detail.public = Some(*public);
                DetailType::CaseReplyShared
            }
        };
        DomainEvent { detail_type, time: event.at, detail }
    }

    /// The events of a change: one per audit event, in order.
    pub fn of_change(org: &Organisation, case: &Case, events: &[AuditEvent]) -> Vec<DomainEvent> {
        events.iter().map(|e| DomainEvent::of(org, case, e)).collect()
    }

    pub fn id(&self) -> &str {
        &self.detail.event_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_detail_type_is_named_as_it_serialises() {
        for t in DetailType::ALL {
            assert_eq!(serde_json::to_value(t).unwrap(), serde_json::json!(t.name()));
        }
    }
}
