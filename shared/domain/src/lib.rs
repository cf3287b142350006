//! Domain of the Mayor's Mailbox (市长信箱): the organisation, cases and their workflow, working-day
//! deadlines and access rules. Pure code: no I/O, no AWS, no database, no HTTP, no clock — callers
//! pass the time in — so every deployment shares exactly the same rules.

pub mod access;
pub mod calendar;
pub mod case;
pub mod deadline;
pub mod discussion;
pub mod events;
pub mod ids;
pub mod json;
pub mod mask;
pub mod opinion;
pub mod org;
pub mod stats;
pub mod text;
pub mod triage;
pub mod workflow;

pub use access::{authorize, can_view, AccessError, Action, Actor, Role};
pub use calendar::{Calendar, CalendarError, DayKind};
pub use case::{ApiSource, Attachment, AttachmentKind, Case, CaseStatus, DispatchMode, Kind};
pub use deadline::{Deadline, DeadlineClass, DeadlinePolicy};
pub use ids::{CaseId, CaseNumber, JurisdictionId, MailboxId, UnitId, UserId};
pub use org::{OrgError, Organisation};
pub use workflow::{AuditEvent, Command, Context, EventKind, Intake, WorkflowError};
