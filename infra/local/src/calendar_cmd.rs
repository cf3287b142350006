//! `mailbox calendar …`: answers working-day questions from the built-in notices, plus any
//! holiday-cn files given with `--holidays DIR`.

use anyhow::{bail, Context as _, Result};
use chrono::{Datelike, NaiveDate};
use clap::{Args, Subcommand};
use mailbox_domain::calendar::{Calendar, DayInfo, DayKind, Span};
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct CalendarArgs {
    /// Folder of holiday-cn files (`YYYY.json`) loaded on top of the built-in notices.
    #[arg(long, global = true, value_name = "DIR")]
    holidays: Option<PathBuf>,
    #[command(subcommand)]
    command: CalendarCommand,
}

#[derive(Subcommand)]
enum CalendarCommand {
    /// Prints `true` or `false`.
    IsWorkingDay {
        /// YYYY-MM-DD
        date: String,
    },
    /// Prints the day on which a deadline of N working days ends for something received on DATE.
    AddWorkingDays {
        /// Day of receipt, YYYY-MM-DD (not itself counted)
        date: String,
        /// Working days
        #[arg(allow_hyphen_values = true)]
        n: String,
    },
    /// Like add-working-days, followed by the days skipped and why.
    Explain {
        /// Day of receipt, YYYY-MM-DD (not itself counted)
        date: String,
        /// Working days
        #[arg(allow_hyphen_values = true)]
        n: String,
    },
}

pub fn run(args: CalendarArgs) -> Result<()> {
    let calendar = load(args.holidays.as_deref())?;
    match args.command {
        CalendarCommand::IsWorkingDay { date } => {
            println!("{}", calendar.is_working_day(parse_date(&date)?));
        }
        CalendarCommand::AddWorkingDays { date, n } => {
            let span = calendar.add_working_days(parse_date(&date)?, parse_days(&n)?)?;
            println!("{}", headline(&span));
        }
        CalendarCommand::Explain { date, n } => {
            let span = calendar.add_working_days(parse_date(&date)?, parse_days(&n)?)?;
            print!("{}", explain(&calendar, &span));
        }
    }
    Ok(())
}

fn load(dir: Option<&Path>) -> Result<Calendar> {
    let mut calendar = Calendar::builtin().clone();
    let Some(dir) = dir else { return Ok(calendar) };
    let entries = std::fs::read_dir(dir).with_context(|| format!("cannot read holiday folder {}", dir.display()))?;
    let mut files: Vec<PathBuf> =
        entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| is_notice_file(p)).collect();
    if files.is_empty() {
        bail!("no holiday files named YYYY.json in {}", dir.display());
    }
    files.sort();
    for file in files {
        let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
        calendar.import_holiday_cn(&text).with_context(|| format!("{}", file.display()))?;
    }
    Ok(calendar)
}

fn is_notice_file(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.len() == 9 && name.ends_with(".json") && name[..4].bytes().all(|b| b.is_ascii_digit())
}

fn parse_date(s: &str) -> Result<NaiveDate> {
    let well_formed = s.len() == 10
        && s.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
    match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        Ok(d) if well_formed => Ok(d),
        _ => bail!("`{s}` is not a date: expected YYYY-MM-DD, e.g. 2026-10-08"),
    }
}

fn parse_days(s: &str) -> Result<u32> {
    match s.parse::<u32>() {
        Ok(n) => Ok(n),
        Err(_) => bail!("`{s}` is not a number of working days: expected a whole number, 0 or more"),
    }
}

fn headline(span: &Span) -> String {
    if span.provisional {
        format!("{} provisional", span.end)
    } else {
        span.end.to_string()
    }
}

fn day_line(verb: &str, day: &DayInfo) -> String {
    let what = match &day.kind {
        DayKind::Weekend => "weekend".to_owned(),
        DayKind::Holiday { name } => format!("holiday {name}"),
        DayKind::AdjustedWorkday { name } => format!("adjusted working day {name}"),
        DayKind::Workday => "working day".to_owned(),
    };
    let provisional = if day.provisional { " (no notice for this year)" } else { "" };
    format!("{verb} {} {} {what}{provisional}\n", day.date, day.date.weekday())
}

fn explain(calendar: &Calendar, span: &Span) -> String {
    let mut out = format!("{}\n", headline(span));
    out.push_str(&format!(
        "start {} (day of receipt, not counted), {} working days, ends at the end of {} China Standard Time\n",
        span.start, span.working_days, span.end
    ));
    for day in &span.skipped {
        out.push_str(&day_line("skipped", day));
    }
    for day in &span.adjusted_workdays {
        out.push_str(&day_line("counted", day));
    }
    if span.provisional {
        let years: Vec<String> =
            (span.start.year()..=span.end.year()).filter(|y| !calendar.has_notice(*y)).map(|y| y.to_string()).collect();
        out.push_str(&format!(
            "provisional: no published holiday notice for {}; those days were counted Monday to Friday\n",
            years.join(", ")
        ));
    }
    out
}
