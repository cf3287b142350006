//! The working-day calendar (工作日历) of the State Council's annual holiday notices.
//!
//! Monday to Friday are working days unless a notice makes them statutory days off; a notice may
//! also make a Saturday or Sunday an adjusted working day (调休补班). A date whose year has no
//! published notice is counted Monday–Friday and flagged *provisional*.

use chrono::{Datelike, Days, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The project's own compact form of the notices 2007–2026; see `scripts/gen-builtin-calendar.py`.
const BUILTIN: &str = include_str!("../data/cn-workdays.txt");

/// The longest span `add_working_days` accepts: far beyond any deadline, small enough that a
/// mistyped number cannot walk off the end of the date range.
pub const MAX_WORKING_DAYS: u32 = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("holiday file is not valid: {0}")]
    Malformed(String),
    #[error("holiday file, day {index}: {message}")]
    BadDay { index: usize, message: String },
    #[error("at most {MAX_WORKING_DAYS} working days can be counted, not {0}")]
    TooManyDays(u32),
}

/// What kind of day a date is, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DayKind {
    /// An ordinary Monday–Friday.
    Workday,
    /// An ordinary Saturday or Sunday.
    Weekend,
    /// A statutory day off (法定节假日/调休休息日), e.g. 国庆节.
    Holiday { name: String },
    /// A Saturday or Sunday made a working day (调休补班).
    AdjustedWorkday { name: String },
}

impl DayKind {
    pub fn is_working_day(&self) -> bool {
        matches!(self, DayKind::Workday | DayKind::AdjustedWorkday { .. })
    }

    /// A short Chinese reason, for explanations shown to staff and citizens.
    pub fn reason(&self) -> String {
        match self {
            DayKind::Workday => "工作日".into(),
            DayKind::Weekend => "周末".into(),
            DayKind::Holiday { name } => format!("{name}放假"),
            DayKind::AdjustedWorkday { name } => format!("{name}调休上班"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DayInfo {
    pub date: NaiveDate,
    #[serde(flatten)]
    pub kind: DayKind,
    /// True when the date's year has no published notice.
    pub provisional: bool,
}

/// One year's notice: the exceptions it declares (they may spill into the previous year).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Notice {
    papers: Vec<String>,
    days: BTreeMap<NaiveDate, Exception>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Exception {
    off: bool,
    name: String,
}

/// Result of counting working days from a day of receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Span {
    pub start: NaiveDate,
    pub working_days: u32,
    /// The last of the N working days: the deadline is the end of this day (China Standard Time).
    pub end: NaiveDate,
    /// True when a day counted or skipped lies in a year without a published notice.
    pub provisional: bool,
    /// Every day after `start` up to `end` that was not counted, with the reason.
    pub skipped: Vec<DayInfo>,
    /// Saturdays and Sundays that were counted because a notice made them working days.
    pub adjusted_workdays: Vec<DayInfo>,
}

/// What an import changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImportSummary {
    pub year: i32,
    pub days: usize,
    /// False for a file of a year whose notice is not out yet (no papers, no days): nothing changes.
    pub published: bool,
    /// True when the year was already known and its notice was replaced.
    pub replaced: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Calendar {
    notices: BTreeMap<i32, Notice>,
    /// All exceptions merged; a later year's notice wins for a date both mention.
    index: BTreeMap<NaiveDate, Exception>,
}

#[derive(Deserialize)]
struct HolidayCnFile {
    year: i32,
    #[serde(default)]
    papers: Vec<String>,
    days: Vec<HolidayCnDay>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HolidayCnDay {
    name: String,
    date: String,
    is_off_day: bool,
}

impl Calendar {
    /// A calendar with no notices: every day is provisional Monday–Friday.
    pub fn empty() -> Calendar {
        Calendar::default()
    }

    /// The built-in notices (2007–2026).
    pub fn builtin() -> &'static Calendar {
        static CAL: OnceLock<Calendar> = OnceLock::new();
        CAL.get_or_init(|| Calendar::parse_builtin(BUILTIN).expect("built-in calendar data is valid"))
    }

    fn parse_builtin(src: &str) -> Result<Calendar, String> {
        let mut cal = Calendar::empty();
        let mut current: Option<(i32, Notice)> = None;
        for (n, line) in src.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |what: &str| format!("line {}: {what}: {line}", n + 1);
            let mut words = line.split_whitespace();
            let head = words.next().unwrap_or_default();
            if head == "notice" {
                if let Some((year, notice)) = current.take() {
                    cal.notices.insert(year, notice);
                }
                let year = words.next().and_then(|y| y.parse().ok()).ok_or_else(|| bad("year"))?;
                let papers = words.map(str::to_owned).collect();
                current = Some((year, Notice { papers, days: BTreeMap::new() }));
                continue;
            }
            let (_, notice) = current.as_mut().ok_or_else(|| bad("day before any notice"))?;
            let (first, last) = head.split_once("..").unwrap_or((head, head));
            let parse = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| bad("date"));
            let (first, last) = (parse(first)?, parse(last)?);
            let off = match words.next() {
                Some("off") => true,
                Some("work") => false,
                _ => return Err(bad("off|work")),
            };
            let name = words.collect::<Vec<_>>().join(" ");
            for day in first.iter_days().take_while(|d| *d <= last) {
                notice.days.insert(day, Exception { off, name: name.clone() });
            }
        }
        if let Some((year, notice)) = current {
            cal.notices.insert(year, notice);
        }
        cal.reindex();
        Ok(cal)
    }

    /// Loads one holiday-cn file (`{year, papers, days:[{name,date,isOffDay}]}`), replacing the
    /// notice of that year if one was loaded before.
    pub fn import_holiday_cn(&mut self, json: &str) -> Result<ImportSummary, CalendarError> {
        let file: HolidayCnFile = serde_json::from_str(json).map_err(|e| CalendarError::Malformed(e.to_string()))?;
        if !(1949..=9999).contains(&file.year) {
            return Err(CalendarError::Malformed(format!("year {} is out of range", file.year)));
        }
        let mut days = BTreeMap::new();
        for (index, d) in file.days.iter().enumerate() {
            let date = NaiveDate::parse_from_str(&d.date, "%Y-%m-%d").map_err(|_| CalendarError::BadDay {
                index,
                message: format!("`{}` is not a date (YYYY-MM-DD)", d.date),
            })?;
            // A notice may reach back into the last days of the previous year, never further.
            if date.year() != file.year && date.year() != file.year - 1 {
                return Err(CalendarError::BadDay {
                    index,
                    message: format!("{date} does not belong to the notice of {}", file.year),
                });
            }
            if d.name.trim().is_empty() {
                return Err(CalendarError::BadDay { index, message: "name is empty".into() });
            }
            days.insert(date, Exception { off: d.is_off_day, name: d.name.trim().to_owned() });
        }
        let published = !(file.papers.is_empty() && days.is_empty());
        let mut summary = ImportSummary { year: file.year, days: days.len(), published, replaced: false };
        if published {
            let notice = Notice { papers: file.papers, days };
            summary.replaced = self.notices.insert(file.year, notice).is_some();
            self.reindex();
        }
        Ok(summary)
    }

    fn reindex(&mut self) {
        self.index = self.notices.values().flat_map(|n| n.days.iter().map(|(d, e)| (*d, e.clone()))).collect();
    }

    /// True when the State Council's notice for `year` is loaded.
    pub fn has_notice(&self, year: i32) -> bool {
        self.notices.contains_key(&year)
    }

    /// The years with a loaded notice.
    pub fn notice_years(&self) -> Vec<i32> {
        self.notices.keys().copied().collect()
    }

    pub fn day(&self, date: NaiveDate) -> DayInfo {
        let kind = match self.index.get(&date) {
            Some(Exception { off: true, name }) => DayKind::Holiday { name: name.clone() },
            Some(Exception { off: false, name }) => DayKind::AdjustedWorkday { name: name.clone() },
            None if matches!(date.weekday(), Weekday::Sat | Weekday::Sun) => DayKind::Weekend,
            None => DayKind::Workday,
        };
        DayInfo { date, kind, provisional: !self.has_notice(date.year()) }
    }

    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        self.day(date).kind.is_working_day()
    }

    /// The N-th working day after `start` (the day of receipt is not counted). With N = 0 the
    /// answer is `start` itself.
    pub fn add_working_days(&self, start: NaiveDate, n: u32) -> Result<Span, CalendarError> {
        if n > MAX_WORKING_DAYS {
            return Err(CalendarError::TooManyDays(n));
        }
        let mut span = Span {
            start,
            working_days: n,
            end: start,
            provisional: false,
            skipped: Vec::new(),
            adjusted_workdays: Vec::new(),
        };
        let mut counted = 0;
        let mut day = start;
        while counted < n {
            day = day.checked_add_days(Days::new(1)).ok_or(CalendarError::TooManyDays(n))?;
            let info = self.day(day);
            span.provisional |= info.provisional;
            match info.kind {
                DayKind::Workday => counted += 1,
                DayKind::AdjustedWorkday { .. } => {
                    counted += 1;
                    span.adjusted_workdays.push(info);
                }
                DayKind::Weekend | DayKind::Holiday { .. } => span.skipped.push(info),
            }
        }
        span.end = day;
        Ok(span)
    }

    /// The first day from which at most `n` working days remain until `due` (the day itself not
    /// counted): the start of the "due soon" window in which a unit is urged.
    pub fn window_start(&self, due: NaiveDate, n: u32) -> NaiveDate {
        let mut day = due;
        let mut counted = 0;
        while counted < n {
            if self.is_working_day(day) {
                counted += 1;
            }
            day = day.pred_opt().unwrap_or(day);
        }
        // Days off just before the window belong to it: on the Friday before a Monday deadline,
        // one working day remains.
        while !self.is_working_day(day) {
            day = day.pred_opt().unwrap_or(day);
        }
        day
    }

    /// Working days strictly after `from` up to and including `to` (0 when `to <= from`).
    pub fn working_days_between(&self, from: NaiveDate, to: NaiveDate) -> u32 {
        from.iter_days().skip(1).take_while(|d| *d <= to).filter(|d| self.is_working_day(*d)).count() as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn builtin_covers_2007_to_2026_and_not_2027() {
        let cal = Calendar::builtin();
        for y in 2007..=2026 {
            assert!(cal.has_notice(y), "{y}");
        }
        assert!(!cal.has_notice(2027));
    }

    #[test]
    fn known_days_of_2026() {
        let cal = Calendar::builtin();
        assert!(cal.is_working_day(d("2026-02-14")), "Saturday 调休 working day");
        for day in 1..=7 {
            let date = NaiveDate::from_ymd_opt(2026, 10, day).unwrap();
            assert!(!cal.is_working_day(date), "{date}");
        }
        assert_eq!(cal.day(d("2026-10-01")).kind, DayKind::Holiday { name: "国庆节".into() });
        assert!(cal.is_working_day(d("2026-11-27")), "an ordinary Friday");
        assert!(!cal.is_working_day(d("2026-11-28")), "an ordinary Saturday");
    }

    #[test]
    fn day_of_receipt_is_not_counted() {
        let cal = Calendar::builtin();
        // Received on Friday 2026-11-27: the 1st working day is Monday 11-30.
        let span = cal.add_working_days(d("2026-11-27"), 1).unwrap();
        assert_eq!(span.end, d("2026-11-30"));
        assert_eq!(span.skipped.len(), 2);
        assert!(!span.provisional);
    }

    #[test]
    fn deadline_across_national_day_2026() {
        let cal = Calendar::builtin();
        // Received Tuesday 2026-09-29. Working days: 9-30 (1), then 10-01..10-07 off,
        // 10-08 (2), 10-09 (3), Saturday 10-10 is an adjusted working day (4), Sunday 10-11 is
        // not, 10-12 (5).
        let span = cal.add_working_days(d("2026-09-29"), 5).unwrap();
        assert_eq!(span.end, d("2026-10-12"));
        assert_eq!(span.adjusted_workdays.len(), 1);
        assert_eq!(span.adjusted_workdays[0].date, d("2026-10-10"));
        assert_eq!(span.skipped.iter().filter(|s| matches!(s.kind, DayKind::Holiday { .. })).count(), 7);
    }

    #[test]
    fn year_without_notice_is_provisional() {
        let cal = Calendar::builtin();
        let span = cal.add_working_days(d("2026-12-30"), 5).unwrap();
        // 12-31 (1), then 2027 counted Monday–Friday: 01-01 Fri (2), 01-04..01-06 (3..5).
        assert_eq!(span.end, d("2027-01-06"));
        assert!(span.provisional);
        let inside = cal.add_working_days(d("2026-12-01"), 5).unwrap();
        assert!(!inside.provisional);
    }

    #[test]
    fn import_replaces_a_year_and_publishes_a_new_one() {
        let mut cal = Calendar::builtin().clone();
        let empty = r#"{"year": 2027, "papers": [], "days": []}"#;
        let s = cal.import_holiday_cn(empty).unwrap();
        assert!(!s.published);
        assert!(!cal.has_notice(2027));
        let notice = r#"{"year": 2027, "papers": ["x"], "days": [
            {"name": "元旦", "date": "2027-01-01", "isOffDay": true},
            {"name": "元旦", "date": "2026-12-26", "isOffDay": false}]}"#;
        let s = cal.import_holiday_cn(notice).unwrap();
        assert!(s.published && !s.replaced);
        assert!(cal.has_notice(2027));
        assert!(!cal.is_working_day(d("2027-01-01")));
        assert!(cal.is_working_day(d("2026-12-26")));
        let again = cal.import_holiday_cn(notice).unwrap();
        assert!(again.replaced);
    }

    #[test]
    fn import_rejects_bad_files() {
        let mut cal = Calendar::empty();
        assert!(matches!(cal.import_holiday_cn("{"), Err(CalendarError::Malformed(_))));
        let bad_date =
            r#"{"year": 2027, "papers": [], "days": [{"name": "x", "date": "2027-02-30", "isOffDay": true}]}"#;
        assert!(matches!(cal.import_holiday_cn(bad_date), Err(CalendarError::BadDay { index: 0, .. })));
        let far = r#"{"year": 2027, "papers": [], "days": [{"name": "x", "date": "2020-01-01", "isOffDay": true}]}"#;
        assert!(cal.import_holiday_cn(far).is_err());
        assert_eq!(cal, Calendar::empty(), "a rejected file changes nothing");
    }

    #[test]
    fn too_many_days_is_an_error() {
        let cal = Calendar::builtin();
        assert!(cal.add_working_days(d("2026-01-01"), MAX_WORKING_DAYS + 1).is_err());
        assert!(cal.add_working_days(d("2026-01-01"), MAX_WORKING_DAYS).is_ok());
    }

    #[test]
    fn window_start_reaches_back_over_days_off() {
        let cal = Calendar::builtin();
        // Due Friday 2026-12-04, one working day: the window opens Thursday.
        assert_eq!(cal.window_start(d("2026-12-04"), 1), d("2026-12-03"));
        // Due Monday 2026-11-30: on Friday 11-27 only Monday remains.
        assert_eq!(cal.window_start(d("2026-11-30"), 1), d("2026-11-27"));
        // Due Thursday 2026-10-08 after National Day: the window opens Wednesday 09-30.
        assert_eq!(cal.window_start(d("2026-10-08"), 1), d("2026-09-30"));
        for (due, n) in [("2026-12-04", 0), ("2026-12-04", 3), ("2026-10-12", 2)] {
            let start = cal.window_start(d(due), n);
            assert_eq!(cal.working_days_between(start, d(due)), n);
            assert!(cal.working_days_between(start.pred_opt().unwrap(), d(due)) > n);
        }
    }

    #[test]
    fn working_days_between_matches_add() {
        let cal = Calendar::builtin();
        let start = d("2026-01-20");
        for n in [0, 1, 5, 20, 40, 60] {
            let end = cal.add_working_days(start, n).unwrap().end;
            assert_eq!(cal.working_days_between(start, end), n);
        }
    }
}
