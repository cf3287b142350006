//! Statistics counters (统计), maintained incrementally: every state change moves its case from one
//! counter cell to another, in the same transaction as the change itself.
//!
//! A cell is month of submission (China time) × mailbox × lead unit × kind × status. The figures the
//! source document publishes follow from the cells: received = all statuses, invalid = `invalid`,
//! replied = `replied` + `closed`, in progress = the rest.

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
}

impl Figures {
    pub fn add(&mut self, status: CaseStatus, count: i64) {
        self.received += count;
        match status {
            CaseStatus::Invalid => self.invalid += count,
            CaseStatus::Replied | CaseStatus::Closed => self.replied += count,
            _ => self.in_progress += count,
        }
    }
}
