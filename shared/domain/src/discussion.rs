//! 政民互动: topics the government opens for discussion (`Topic`), citizens' comments on them
//! (`Comment`), pre-moderated before they are public, and the responsible unit's answer on what was
//! adopted (采纳情况, `Adoption`) once the period has ended. Pure rules; the application stores them.

use crate::ids::{UnitId, UserId};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

pub const TITLE_MAX: usize = 100;
pub const TEXT_MAX: usize = 5000;
/// A comment: a few words at least, a page at most.
pub const COMMENT_MIN: usize = 5;
pub const COMMENT_MAX: usize = 1000;
pub const COMMENT_NAME_MAX: usize = 20;
pub const REASON_MAX: usize = 200;
/// The longest discussion period, in days.
pub const PERIOD_MAX_DAYS: i64 = 180;

/// A discussion topic (政民互动话题).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topic {
    /// `D` and 12 hex digits.
    pub id: String,
    pub title: String,
    pub text: String,
    /// Comments are taken from the first to the last day (China time), both included.
    pub opens_on: NaiveDate,
    pub closes_on: NaiveDate,
    /// The unit that answers what was adopted.
    pub unit: UnitId,
    pub opened_by: UserId,
    pub opened_unit: Option<UnitId>,
    pub created_at: DateTime<Utc>,
    pub adoption: Option<Adoption>,
    pub version: u64,
}

/// Where a topic stands on a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Upcoming,
    Open,
    Closed,
}

impl Phase {
    pub fn label(self) -> &'static str {
        match self {
            Phase::Upcoming => "未开始",
            Phase::Open => "征集中",
            Phase::Closed => "已结束",
        }
    }
}

impl Topic {
    pub fn phase(&self, today: NaiveDate) -> Phase {
        if today < self.opens_on {
            Phase::Upcoming
        } else if today <= self.closes_on {
            Phase::Open
        } else {
            Phase::Closed
        }
    }
}

/// The responsible unit's answer on what the comments changed (采纳情况).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Adoption {
    pub text: String,
    pub by: UserId,
    pub unit: Option<UnitId>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommentStatus {
    /// Waiting for moderation: never public.
    Pending,
    Approved,
    /// Refused with a reason: never public.
    Refused,
}

impl CommentStatus {
    pub fn label(self) -> &'static str {
        match self {
            CommentStatus::Pending => "待审核",
            CommentStatus::Approved => "已公开",
            CommentStatus::Refused => "未通过",
        }
    }
}

/// A citizen's comment on a topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comment {
    /// 16 hex digits: derived from the form's key, so a resubmitted form is one comment.
    pub id: String,
    pub topic: String,
    /// As the citizen gave it (may be empty); shown masked.
    pub name: String,
    /// For the government to reach the citizen; never shown to anyone.
    pub phone: String,
    pub text: String,
    pub at: DateTime<Utc>,
    pub status: CommentStatus,
    /// What screening found (advertising, abuse, no content), for the moderator.
    pub screened: Option<String>,
    /// Why it was refused (shown to staff only).
    pub reason: Option<String>,
    pub moderated_by: Option<UserId>,
    pub moderated_at: Option<DateTime<Utc>>,
    pub version: u64,
}
