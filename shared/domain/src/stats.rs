//! Statistics counters (统计), maintained incrementally: every state change moves its case from one
//! counter cell to another, in the same transaction as the change itself.
//!
//! A cell is month of submission (China time) × mailbox × lead unit × kind × status. The figures the
//! source document publishes follow from the cells: received = all statuses, invalid = `invalid`,
//! replied = `replied` + `closed`, 重复件 = `merged` (并单), in progress = the rest.

use crate::case::{Case, CaseStatus, Kind};
use crate::deadline::cst;
use crate::ids::{MailboxId, UnitId};
use serde::{Deserialize, Serialize};

/// The prefix of every case-status counter key.
pub const CELL_PREFIX: &str = "cell|";

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Cell {
    /// `YYYY-MM` of submission, China time.
    pub month: String,
    pub mailbox: MailboxId,
    /// The lead unit, once dispatched.
    pub unit: Option<UnitId>,
    pub kind: Kind,
    pub status: CaseStatus,
}

impl Cell {
    pub fn of(case: &Case) -> Cell {
        Cell {
            month: case.submitted_at.with_timezone(&cst()).format("%Y-%m").to_string(),
            mailbox: case.mailbox.clone(),
            unit: case.lead().cloned(),
            kind: case.kind,
            status: case.status,
        }
    }

    pub fn key(&self) -> String {
        let unit = self.unit.as_ref().map_or("-", |u| u.as_str());
        let kind = serde_json::to_value(self.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        let status =
            serde_json::to_value(self.status).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        format!("{CELL_PREFIX}{}|{}|{unit}|{kind}|{status}", self.month, self.mailbox)
    }

    /// Parses a key written by [`Cell::key`].
    pub fn parse(key: &str) -> Option<Cell> {
        let rest = key.strip_prefix(CELL_PREFIX)?;
        let parts: Vec<&str> = rest.split('|').collect();
        let [month, mailbox, unit, kind, status] = parts.as_slice() else { return None };
        Some(Cell {
            month: (*month).to_owned(),
            mailbox: MailboxId::new(*mailbox),
            unit: (*unit != "-").then(|| UnitId::new(*unit)),
            kind: serde_json::from_value(serde_json::Value::String((*kind).to_owned())).ok()?,
            status: serde_json::from_value(serde_json::Value::String((*status).to_owned())).ok()?,
        })
    }
}

/// A change to one counter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterDelta {
    pub key: String,
    pub delta: i64,
}

/// The counter changes that move a case from `before` (none for a new case) to `after`.
pub fn counter_deltas(before: Option<&Case>, after: &Case) -> Vec<CounterDelta> {
    let new = Cell::of(after);
    match before.map(Cell::of) {
        Some(old) if old == new => Vec::new(),
        Some(old) => vec![CounterDelta { key: old.key(), delta: -1 }, CounterDelta { key: new.key(), delta: 1 }],
        None => vec![CounterDelta { key: new.key(), delta: 1 }],
    }
}

/// The published monthly figures (DESIGN §1): received, invalid, replied, in progress.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Figures {
    pub received: i64,
    pub invalid: i64,
    pub replied: i64,
    pub in_progress: i64,
    /// 重复件: merged into an earlier case (并单), counted apart from replied and in progress.
    #[serde(default)]
    pub merged: i64,
}

impl Figures {
    pub fn add(&mut self, status: CaseStatus, count: i64) {
        self.received += count;
        match status {
            CaseStatus::Invalid => self.invalid += count,
            CaseStatus::Replied | CaseStatus::Closed => self.replied += count,
            CaseStatus::Merged => self.merged += count,
            _ => self.in_progress += count,
        }
    }
}

/// The prefix of every event counter key.
pub const EVENT_PREFIX: &str = "ev|";

/// What the event counters count, per month of the event (China time) × mailbox × unit.
pub mod metric {
    pub const DISPATCHED: &str = "dispatched";
    pub const RECEIVED: &str = "received";
    pub const RETURNED: &str = "returned";
    pub const REPLIED: &str = "replied";
    pub const ON_TIME: &str = "on_time";
    pub const LATE: &str = "late";
    /// Sum of working days from receipt (签收) to reply.
    pub const REPLY_DAYS: &str = "reply_days";
    pub const EXTENSIONS: &str = "extensions";
    pub const SATISFIED: &str = "satisfied";
    pub const UNSATISFIED: &str = "unsatisfied";
    pub const URGED: &str = "urged";
    pub const OVERDUE: &str = "overdue";
    pub const REOPENED: &str = "reopened";
}

pub fn event_key(month: &str, mailbox: &MailboxId, unit: &UnitId, metric: &str) -> String {
    format!("{EVENT_PREFIX}{month}|{mailbox}|{unit}|{metric}")
}

/// An event counter key taken apart: (month, mailbox, unit, metric).
pub fn parse_event_key(key: &str) -> Option<(String, MailboxId, UnitId, String)> {
    let parts: Vec<&str> = key.strip_prefix(EVENT_PREFIX)?.split('|').collect();
    let [month, mailbox, unit, metric] = parts.as_slice() else { return None };
    Some(((*month).into(), MailboxId::new(*mailbox), UnitId::new(*unit), (*metric).into()))
}

/// Turns a case's audit events into event-counter deltas. Fed the new events of each change (starting
/// from the case as it was), or every event of a case from the start (to reconcile): both give the
/// same totals.
#[derive(Debug, Clone, Default)]
pub struct EventFold {
    lead: Option<UnitId>,
    received_on: Option<chrono::NaiveDate>,
}

impl EventFold {
    /// The fold's state for a case as it stands before new events.
    pub fn resume(case: &Case) -> EventFold {
        EventFold { lead: case.lead().cloned(), received_on: case.received_at.map(crate::deadline::cst_date) }
    }

    pub fn feed(
        &mut self,
        mailbox: &MailboxId,
        event: &crate::workflow::AuditEvent,
        calendar: &crate::calendar::Calendar,
    ) -> Vec<CounterDelta> {
        use crate::workflow::EventKind as E;
        let month = event.at.with_timezone(&cst()).format("%Y-%m").to_string();
        let day = crate::deadline::cst_date(event.at);
        let mut out = Vec::new();
        let mut add = |unit: &UnitId, metric: &str, delta: i64| {
            out.push(CounterDelta { key: event_key(&month, mailbox, unit, metric), delta });
        };
        match &event.kind {
            E::Dispatched { lead, .. } => {
                self.lead = Some(lead.clone());
                add(lead, metric::DISPATCHED, 1);
            }
            E::Received { .. } => {
                self.received_on = Some(day);
                if let Some(u) = &self.lead {
                    add(u, metric::RECEIVED, 1);
                }
            }
            E::Returned { .. } => {
                if let Some(u) = self.lead.take() {
                    add(&u, metric::RETURNED, 1);
                }
                self.received_on = None;
            }
            E::Replied { on_time, .. } => {
                if let Some(u) = &self.lead {
                    add(u, metric::REPLIED, 1);
                    add(u, if *on_time { metric::ON_TIME } else { metric::LATE }, 1);
                    if let Some(received) = self.received_on {
                        add(u, metric::REPLY_DAYS, calendar.working_days_between(received, day) as i64);
                    }
                }
            }
            E::ExtensionDecided { approved: true, .. } => {
                if let Some(u) = &self.lead {
                    add(u, metric::EXTENSIONS, 1);
                }
            }
            E::Rated { satisfied } => {
                if let Some(u) = &self.lead {
                    add(u, if *satisfied { metric::SATISFIED } else { metric::UNSATISFIED }, 1);
                }
            }
            E::Urged { .. } => {
                if let Some(u) = &self.lead {
                    add(u, metric::URGED, 1);
                }
            }
            E::MarkedOverdue { .. } => {
                if let Some(u) = &self.lead {
                    add(u, metric::OVERDUE, 1);
                }
            }
            E::Reopened { .. } => {
                self.received_on = Some(day);
                if let Some(u) = &self.lead {
                    add(u, metric::REOPENED, 1);
                }
            }
            _ => {}
        }
        out
    }
}

/// Every counter change of one state change: the case's cell, and its new events.
pub fn change_deltas(
    before: &Case,
    after: &Case,
    events: &[crate::workflow::AuditEvent],
    calendar: &crate::calendar::Calendar,
) -> Vec<CounterDelta> {
    let mut out = counter_deltas(Some(before), after);
    let mut fold = EventFold::resume(before);
    for e in events {
        out.extend(fold.feed(&after.mailbox, e, calendar));
    }
    out
}

/// The counters a set of cases and their complete audit trails should have (for reconciling).
pub fn expected_counters<'a>(
    cases: impl IntoIterator<Item = (&'a Case, &'a [crate::workflow::AuditEvent])>,
    calendar: &crate::calendar::Calendar,
) -> std::collections::BTreeMap<String, i64> {
    let mut totals = std::collections::BTreeMap::new();
    for (case, events) in cases {
        *totals.entry(Cell::of(case).key()).or_insert(0) += 1;
        let mut fold = EventFold::default();
        for e in events {
            for d in fold.feed(&case.mailbox, e, calendar) {
                *totals.entry(d.key).or_insert(0) += d.delta;
            }
        }
    }
    totals.retain(|_, v| *v != 0);
    totals
}
