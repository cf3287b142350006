//! Deadlines (办理时限) in working days from the day the handling unit receives a case (签收).
//!
//! The day of receipt is not counted (民法典 第201条); the deadline is the end of the N-th working day
//! after it, China Standard Time. Every deadline can explain itself.

use crate::calendar::{Calendar, CalendarError, DayInfo, Span};
use chrono::{DateTime, Days, FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// China Standard Time, UTC+8, no daylight saving.
pub fn cst() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("valid offset")
}

/// The calendar date in China of an instant.
pub fn cst_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&cst()).date_naive()
}

/// The first instant after the end of `date` in China: `date + 1` at 00:00 CST.
pub fn end_of_cst_day(date: NaiveDate) -> DateTime<Utc> {
    let next = date.checked_add_days(Days::new(1)).unwrap_or(date);
    cst()
        .from_local_datetime(&next.and_time(NaiveTime::MIN))
        .single()
        .expect("fixed offsets have no gaps")
        .with_timezone(&Utc)
}

/// The first instant of `date` in China: 00:00 CST.
pub fn start_of_cst_day(date: NaiveDate) -> DateTime<Utc> {
    cst()
        .from_local_datetime(&date.and_time(NaiveTime::MIN))
        .single()
        .expect("fixed offsets have no gaps")
        .with_timezone(&Utc)
}

/// Deadline classes of the source document (DESIGN §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeadlineClass {
    /// 建议、咨询
    Simple,
    /// 投诉、求助
    Standard,
    /// 投诉、求助 that need an investigation
    Investigation,
    /// Several departments must coordinate
    Coordinated,
    /// Special cases, approved individually, never beyond the policy maximum
    Special,
}

impl DeadlineClass {
    pub const ALL: [DeadlineClass; 5] = [
        DeadlineClass::Simple,
        DeadlineClass::Standard,
        DeadlineClass::Investigation,
        DeadlineClass::Coordinated,
        DeadlineClass::Special,
    ];

    pub fn label(self) -> &'static str {
        match self {
            DeadlineClass::Simple => "建议咨询类",
            DeadlineClass::Standard => "投诉求助类",
            DeadlineClass::Investigation => "需调查核实类",
            DeadlineClass::Coordinated => "多部门协调类",
            DeadlineClass::Special => "特殊情况",
        }
    }
}

/// A city's deadline policy; the defaults are the source document's numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, default)]
pub struct DeadlinePolicy {
    pub simple: u32,
    pub standard: u32,
    pub investigation: u32,
    pub coordinated: u32,
    pub special_max: u32,
    /// No case may have more working days than this, extensions included.
    pub total_max: u32,
    /// Urge (催办) a unit when its deadline is this many working days away.
    pub urge_within: u32,
}

impl Default for DeadlinePolicy {
    fn default() -> Self {
        DeadlinePolicy {
            simple: 5,
            standard: 20,
            investigation: 30,
            coordinated: 40,
            special_max: 60,
            total_max: 60,
            urge_within: 1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyProblem {
    pub field: &'static str,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeadlineError {
    #[error("特殊情况时限须在 1 至 {max} 个工作日之间（申请了 {requested} 个）")]
    SpecialOutOfRange { requested: u32, max: u32 },
    #[error("延期后总时限不得超过 {max} 个工作日（现为 {current}，申请延长 {requested}）")]
    BeyondTotal { current: u32, requested: u32, max: u32 },
    #[error("延期天数须大于 0")]
    ZeroExtension,
    #[error(transparent)]
    Calendar(#[from] CalendarError),
}

impl DeadlinePolicy {
    pub fn validate(&self) -> Result<(), PolicyProblem> {
        let fields = [
            ("simple", self.simple),
            ("standard", self.standard),
            ("investigation", self.investigation),
            ("coordinated", self.coordinated),
            ("special_max", self.special_max),
        ];
        if self.total_max == 0 || self.total_max > crate::calendar::MAX_WORKING_DAYS {
            return Err(PolicyProblem {
                field: "total_max",
                message: "must be between 1 and 10000 working days".into(),
            });
        }
        for (field, days) in fields {
            if days == 0 || days > self.total_max {
                return Err(PolicyProblem {
                    field,
                    message: format!("must be between 1 and total_max ({}) working days, not {days}", self.total_max),
                });
            }
        }
        if self.urge_within >= self.total_max {
            return Err(PolicyProblem { field: "urge_within", message: "must be smaller than total_max".into() });
        }
        Ok(())
    }

    /// Working days for a class; `special_days` is the approved length of a `Special` deadline.
    pub fn days_for(&self, class: DeadlineClass, special_days: Option<u32>) -> Result<u32, DeadlineError> {
        Ok(match class {
            DeadlineClass::Simple => self.simple,
            DeadlineClass::Standard => self.standard,
            DeadlineClass::Investigation => self.investigation,
            DeadlineClass::Coordinated => self.coordinated,
            DeadlineClass::Special => {
                let requested = special_days.unwrap_or(self.special_max);
                if requested == 0 || requested > self.special_max {
                    return Err(DeadlineError::SpecialOutOfRange { requested, max: self.special_max });
                }
                requested
            }
        })
    }
}

/// A running deadline of a received case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Deadline {
    /// The day the handling unit received (签收) the case, in China; not itself counted.
    pub received_on: NaiveDate,
    pub class: DeadlineClass,
    pub base_days: u32,
    /// Approved extensions (延期), in working days, in the order granted.
    pub extensions: Vec<u32>,
    /// The last working day: the deadline is the end of this day, China Standard Time.
    pub due_on: NaiveDate,
    /// True while the count reaches into a year without a published notice.
    pub provisional: bool,
}

/// A deadline's account of itself, for staff and citizens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Explanation {
    pub received_on: NaiveDate,
    pub class: DeadlineClass,
    pub class_label: &'static str,
    pub base_days: u32,
    pub extensions: Vec<u32>,
    pub total_days: u32,
    pub due_on: NaiveDate,
    pub due_at: DateTime<Utc>,
    pub provisional: bool,
    pub skipped: Vec<DayInfo>,
    pub adjusted_workdays: Vec<DayInfo>,
}

impl Deadline {
    pub fn start(
        calendar: &Calendar,
        received_on: NaiveDate,
        class: DeadlineClass,
        base_days: u32,
    ) -> Result<Deadline, DeadlineError> {
        let span = calendar.add_working_days(received_on, base_days)?;
        Ok(Deadline {
            received_on,
            class,
            base_days,
            extensions: Vec::new(),
            due_on: span.end,
            provisional: span.provisional,
        })
    }

    /// Base days and extensions. Saturating: a stored deadline never holds more than the policy's
    /// maximum, but nothing here may wrap around into a shorter deadline.
    pub fn total_days(&self) -> u32 {
        self.extensions.iter().fold(self.base_days, |total, &d| total.saturating_add(d))
    }

    /// The instant the deadline passes: the end of `due_on` in China.
    pub fn due_at(&self) -> DateTime<Utc> {
        end_of_cst_day(self.due_on)
    }

    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        now >= self.due_at()
    }

    fn span(&self, calendar: &Calendar) -> Result<Span, CalendarError> {
        calendar.add_working_days(self.received_on, self.total_days())
    }

    /// A copy extended by `days`, refused beyond the policy's total maximum.
    pub fn extended(&self, calendar: &Calendar, policy: &DeadlinePolicy, days: u32) -> Result<Deadline, DeadlineError> {
        if days == 0 {
            return Err(DeadlineError::ZeroExtension);
        }
        // Checked: `days` comes from a request, and u32::MAX must not wrap into a small total.
        if self.total_days().checked_add(days).is_none_or(|total| total > policy.total_max) {
            return Err(DeadlineError::BeyondTotal {
                current: self.total_days(),
                requested: days,
                max: policy.total_max,
            });
        }
        let mut next = self.clone();
        next.extensions.push(days);
        let span = next.span(calendar)?;
        next.due_on = span.end;
        next.provisional = span.provisional;
        Ok(next)
    }

    /// The deadline after its clock stood still for `paused` working days (a case merged, then
    /// un-merged): counted from a receipt day that many working days later, on today's calendar.
    pub fn resumed(&self, calendar: &Calendar, paused: u32) -> Result<Deadline, DeadlineError> {
        if paused == 0 {
            return Ok(self.recomputed(calendar)?.unwrap_or_else(|| self.clone()));
        }
        let received_on = calendar.add_working_days(self.received_on, paused)?.end;
        let moved = Deadline { received_on, ..self.clone() };
        let span = moved.span(calendar)?;
        Ok(Deadline { due_on: span.end, provisional: span.provisional, ..moved })
    }

    /// The same deadline counted on a (changed) calendar; `None` when nothing changes.
    pub fn recomputed(&self, calendar: &Calendar) -> Result<Option<Deadline>, DeadlineError> {
        let span = self.span(calendar)?;
        if span.end == self.due_on && span.provisional == self.provisional {
            return Ok(None);
        }
        Ok(Some(Deadline { due_on: span.end, provisional: span.provisional, ..self.clone() }))
    }

    pub fn explain(&self, calendar: &Calendar) -> Result<Explanation, DeadlineError> {
        let span = self.span(calendar)?;
        Ok(Explanation {
            received_on: self.received_on,
            class: self.class,
            class_label: self.class.label(),
            base_days: self.base_days,
            extensions: self.extensions.clone(),
            total_days: self.total_days(),
            due_on: span.end,
            due_at: end_of_cst_day(span.end),
            provisional: span.provisional,
            skipped: span.skipped,
            adjusted_workdays: span.adjusted_workdays,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn default_policy_matches_source_document() {
        let p = DeadlinePolicy::default();
        assert!(p.validate().is_ok());
        let days: Vec<u32> =
            [DeadlineClass::Simple, DeadlineClass::Standard, DeadlineClass::Investigation, DeadlineClass::Coordinated]
                .iter()
                .map(|c| p.days_for(*c, None).unwrap())
                .collect();
        assert_eq!(days, vec![5, 20, 30, 40]);
        assert_eq!(p.days_for(DeadlineClass::Special, Some(50)).unwrap(), 50);
        assert!(p.days_for(DeadlineClass::Special, Some(61)).is_err());
        assert!(p.days_for(DeadlineClass::Special, Some(0)).is_err());
    }

    #[test]
    fn deadline_ends_at_midnight_china_time() {
        let cal = Calendar::builtin();
        let dl = Deadline::start(cal, d("2026-11-27"), DeadlineClass::Simple, 5).unwrap();
        assert_eq!(dl.due_on, d("2026-12-04"));
        // End of 12-04 in China = 12-04 16:00 UTC.
        assert_eq!(dl.due_at().to_rfc3339(), "2026-12-04T16:00:00+00:00");
        let just_before = dl.due_at() - chrono::Duration::seconds(1);
        assert!(!dl.is_overdue(just_before));
        assert!(dl.is_overdue(dl.due_at()));
    }

    #[test]
    fn cst_date_crosses_midnight_at_16_utc() {
        let late = Utc.with_ymd_and_hms(2026, 11, 27, 15, 59, 59).unwrap();
        let next = Utc.with_ymd_and_hms(2026, 11, 27, 16, 0, 0).unwrap();
        assert_eq!(cst_date(late), d("2026-11-27"));
        assert_eq!(cst_date(next), d("2026-11-28"));
    }

    #[test]
    fn extensions_are_capped_at_the_total() {
        let cal = Calendar::builtin();
        let p = DeadlinePolicy::default();
        let dl = Deadline::start(cal, d("2026-03-02"), DeadlineClass::Coordinated, 40).unwrap();
        let ext = dl.extended(cal, &p, 20).unwrap();
        assert_eq!(ext.total_days(), 60);
        assert!(ext.due_on > dl.due_on);
        assert!(matches!(ext.extended(cal, &p, 1), Err(DeadlineError::BeyondTotal { .. })));
        assert!(matches!(dl.extended(cal, &p, 0), Err(DeadlineError::ZeroExtension)));
    }

    #[test]
    fn provisional_deadline_becomes_final_after_import() {
        let mut cal = Calendar::builtin().clone();
        // 12-29 (1), 12-30 (2), 12-31 (3), then 2027 counted Monday–Friday: 01-01 (4), 01-04 (5).
        let dl = Deadline::start(&cal, d("2026-12-28"), DeadlineClass::Simple, 5).unwrap();
        assert!(dl.provisional);
        assert_eq!(dl.due_on, d("2027-01-04"));
        let notice = r#"{"year": 2027, "papers": ["notice"], "days": [
            {"name": "元旦", "date": "2027-01-01", "isOffDay": true}]}"#;
        cal.import_holiday_cn(notice).unwrap();
        let after = dl.recomputed(&cal).unwrap().expect("changes");
        assert!(!after.provisional);
        assert_eq!(after.due_on, d("2027-01-05"), "2027-01-01 is now a holiday");
        assert_eq!(after.recomputed(&cal).unwrap(), None, "recomputing again changes nothing");
    }

    #[test]
    fn explanation_lists_skipped_days_with_reasons() {
        let cal = Calendar::builtin();
        let dl = Deadline::start(cal, d("2026-09-29"), DeadlineClass::Simple, 5).unwrap();
        let ex = dl.explain(cal).unwrap();
        assert_eq!(ex.due_on, d("2026-10-12"));
        let reasons: Vec<String> = ex.skipped.iter().map(|s| s.kind.reason()).collect();
        assert!(reasons.contains(&"国庆节放假".to_string()), "{reasons:?}");
        assert!(reasons.contains(&"周末".to_string()));
    }
}
