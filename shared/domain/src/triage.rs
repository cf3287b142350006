//! What triage found in a case: suggestions the dispatcher confirms or ignores, never decisions.
//! The analysis itself lives in the `mailbox-triage` crate; this is only its record on the case.

use crate::ids::{CaseNumber, JurisdictionId, UnitId};
use crate::{Kind, Organisation};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One suggestion: what, how sure (percent), and the words of the message that led to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Suggestion<T> {
    pub value: T,
    /// 0–100.
    pub confidence: u8,
    pub words: Vec<String>,
}

/// A recent case the message repeats, with the similarity of their texts (percent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DuplicateOf {
    pub number: CaseNumber,
    pub title: String,
    pub similarity: u8,
}

/// Personal data found in the message: its kind (手机号码, 身份证号码, …) and how many; never the
/// values themselves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PersonalDataFound {
    pub kind: String,
    pub count: u32,
}

/// An urgent cue found in the message (紧急件): the cue's label and the words that triggered it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UrgentFound {
    pub label: String,
    pub words: Vec<String>,
}

/// A hot case (热点件): with it, messages of the same dispatcher with similar text, from
/// `HOT_REPEATS` or more citizens, came within `HOT_DAYS` days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HotFlag {
    /// Citizens who wrote the similar messages of the window, this one's writer included.
    pub count: u32,
    /// The earliest of them.
    pub first: CaseNumber,
    /// Whether this case told the supervisors (the first of its group to reach the threshold).
    pub alert: bool,
}

/// Similar messages within `HOT_DAYS` days that make a case hot.
pub const HOT_REPEATS: u32 = 3;
pub const HOT_DAYS: i64 = 30;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TriageNote {
    /// First-level domain (城乡建设, 环境保护, …).
    pub domain: Option<Suggestion<String>>,
    /// Units that handle the domain, best first (from the organisation's domain routes).
    pub units: Vec<UnitId>,
    /// Set only when the text suggests another kind than the citizen chose.
    pub kind: Option<Suggestion<Kind>>,
    /// The district or county whose places the message names.
    pub jurisdiction: Option<Suggestion<JurisdictionId>>,
    pub duplicates: Vec<DuplicateOf>,
    /// Why the message may be invalid (empty, advertising, abuse), if it looks so.
    pub invalid: Option<Suggestion<String>>,
    pub personal_data: Vec<PersonalDataFound>,
    /// Urgent cues found (紧急件); empty when none.
    #[serde(default)]
    pub urgent: Vec<UrgentFound>,
    #[serde(default)]
    pub hot: Option<HotFlag>,
    /// The text's duplicate-detection fingerprint (opaque to the domain; see `mailbox-triage`),
    /// kept so later messages are compared without segmenting this one again.
    #[serde(default)]
    pub fingerprint: String,
    pub at: DateTime<Utc>,
}

impl TriageNote {
    pub fn is_urgent(&self) -> bool {
        !self.urgent.is_empty()
    }

    /// One line for the audit trail and notifications; `org` names the suggested jurisdiction.
    pub fn summary(&self, org: &Organisation) -> String {
        let mut parts = Vec::new();
        for u in &self.urgent {
            parts.push(format!("紧急件：{}（{}）", u.label, u.words.join("、")));
        }
        if let Some(h) = &self.hot {
            parts.push(format!("热点件：{HOT_DAYS}天内同类留言{}件", h.count));
        }
        if let Some(d) = &self.domain {
            parts.push(format!("分类 {}（{}%）", d.value, d.confidence));
        }
        if let Some(k) = &self.kind {
            parts.push(format!("类型可能为 {}", k.value.label()));
        }
        if let Some(j) = &self.jurisdiction {
            let name = org.jurisdiction(&j.value).map_or(j.value.as_str(), |j| j.name.as_str());
            parts.push(format!("辖区 {name}（{}）", j.words.join("、")));
        }
        if !self.duplicates.is_empty() {
            parts.push(format!("疑似重复 {} 件", self.duplicates.len()));
        }
        if let Some(i) = &self.invalid {
            parts.push(format!("疑似无效：{}", i.value));
        }
        if !self.personal_data.is_empty() {
            parts.push("含个人信息".to_owned());
        }
        if parts.is_empty() {
            "无分拣建议".to_owned()
        } else {
            parts.join("；")
        }
    }
}
