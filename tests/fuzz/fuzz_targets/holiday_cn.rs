//! A holiday-cn file (`POST /api/v1/admin/calendar`, `mailbox calendar --holidays`): refused with
//! an error, or imported so that working-day arithmetic over it still holds.
#![no_main]

use chrono::NaiveDate;
use libfuzzer_sys::fuzz_target;
use mailbox_domain::Calendar;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut calendar = Calendar::empty();
    if calendar.import_holiday_cn(text).is_err() {
        return;
    }
    for year in calendar.notice_years() {
        let Some(start) = NaiveDate::from_ymd_opt(year, 1, 1) else { continue };
        for n in [1, 5, 20, 60] {
            let Ok(span) = calendar.add_working_days(start, n) else { continue };
            assert!(span.end > start, "{year} + {n}: {} not after the start", span.end);
            assert!(calendar.is_working_day(span.end), "{year} + {n}: {} is no working day", span.end);
            assert_eq!(calendar.working_days_between(start, span.end), n, "{year} + {n}");
            let window = calendar.window_start(span.end, 1);
            assert!(window <= span.end);
        }
    }
});
