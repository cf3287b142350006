//! The built-in calendar against the holiday-cn reference files, and known days of several years.

use chrono::{Datelike, NaiveDate};
use mailbox_domain::Calendar;
use mailbox_tests::shared_data;

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn imported() -> Calendar {
    let dir = shared_data().join("holiday-cn");
    let mut cal = Calendar::empty();
    let mut loaded = 0;
    for year in 2007..=2027 {
        let text = std::fs::read_to_string(dir.join(format!("{year}.json"))).unwrap();
        if cal.import_holiday_cn(&text).unwrap().published {
            loaded += 1;
        }
    }
    assert_eq!(loaded, 20, "2007–2026 published, 2027 not yet");
    cal
}

#[test]
fn builtin_agrees_with_every_reference_file_day_by_day() {
    let reference = imported();
    let builtin = Calendar::builtin();
    let mut day = d("2006-12-01");
    let mut checked = 0;
    while day <= d("2027-12-31") {
        assert_eq!(builtin.day(day), reference.day(day), "{day}");
        day = day.succ_opt().unwrap();
        checked += 1;
    }
    assert!(checked > 7000);
    assert_eq!(builtin.notice_years(), reference.notice_years());
}

#[test]
fn known_days_of_many_years() {
    let cal = Calendar::builtin();
    let working = [
        "2026-02-14",
        "2026-09-20",
        "2026-10-10", // 2026 调休
        "2025-01-26",
        "2025-09-28",
        "2025-10-11", // 2025
        "2024-02-04",
        "2024-02-18",
        "2024-09-29",
        "2024-10-12", // 2024
        "2023-01-28",
        "2023-01-29",
        "2023-10-07",
        "2023-10-08", // 2023
        "2019-02-02",
        "2019-02-03",
        "2019-09-29",
        "2019-10-12", // 2019
        "2015-09-06", // 2015: Sunday after the 9-3 commemoration
        "2012-01-21",
        "2012-01-29", // 2012
    ];
    let off = [
        "2026-10-01",
        "2026-10-07",
        "2026-02-16",
        "2026-05-05", // 2026
        "2025-01-28",
        "2025-02-04",
        "2025-10-08", // 2025
        "2024-02-10",
        "2024-02-17",
        "2024-10-07", // 2024
        "2023-01-27",
        "2023-09-29",
        "2023-10-06", // 2023
        "2020-01-31",
        "2020-02-02",
        "2020-10-08", // 2020 (extended Spring Festival)
        "2019-02-04",
        "2019-10-07", // 2019
        "2015-09-03", // 2015
        "2012-01-23",
        "2012-01-27", // 2012
    ];
    for s in working {
        assert!(cal.is_working_day(d(s)), "{s} is a working day");
        assert!(cal.day(d(s)).date.weekday().number_from_monday() >= 6, "{s} is a weekend made working day");
    }
    for s in off {
        assert!(!cal.is_working_day(d(s)), "{s} is a day off");
    }
    for y in 2012..=2026 {
        let oct1 = NaiveDate::from_ymd_opt(y, 10, 1).unwrap();
        assert!(!cal.is_working_day(oct1), "National Day {y}");
        let jan1 = NaiveDate::from_ymd_opt(y, 1, 1).unwrap();
        assert!(!cal.is_working_day(jan1), "New Year {y}");
    }
}
