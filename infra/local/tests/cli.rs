//! The `mailbox calendar` command line, run as a real process.

use std::path::PathBuf;
use std::process::Command;

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn mailbox(args: &[&str]) -> Out {
    let out = Command::new(env!("CARGO_BIN_EXE_mailbox")).args(args).output().expect("runs");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn ok(args: &[&str]) -> String {
    let out = mailbox(args);
    assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
    out.stdout
}

fn fails(args: &[&str]) -> String {
    let out = mailbox(args);
    assert_ne!(out.code, 0, "{args:?} should fail");
    assert!(out.stdout.is_empty(), "{args:?} printed {:?}", out.stdout);
    assert_eq!(out.stderr.trim_end().lines().count(), 1, "one line: {:?}", out.stderr);
    out.stderr
}

fn holiday_cn() -> PathBuf {
    let dir = std::env::var_os("MAILBOX_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"))
        .join("holiday-cn");
    assert!(dir.is_dir(), "{} missing", dir.display());
    dir
}

#[test]
fn is_working_day() {
    assert_eq!(ok(&["calendar", "is-working-day", "2026-02-14"]), "true\n");
    assert_eq!(ok(&["calendar", "is-working-day", "2026-10-01"]), "false\n");
    assert_eq!(ok(&["calendar", "is-working-day", "2026-11-27"]), "true\n");
    assert_eq!(ok(&["calendar", "is-working-day", "2012-01-21"]), "true\n");
}

#[test]
fn add_working_days() {
    assert_eq!(ok(&["calendar", "add-working-days", "2026-09-29", "5"]), "2026-10-12\n");
    assert_eq!(ok(&["calendar", "add-working-days", "2026-11-27", "0"]), "2026-11-27\n");
    assert_eq!(ok(&["calendar", "add-working-days", "2026-12-30", "5"]), "2027-01-06 provisional\n");
}

#[test]
fn explain_lists_skipped_days() {
    let out = ok(&["calendar", "explain", "2026-09-29", "5"]);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("2026-10-12"));
    assert!(out.contains("skipped 2026-10-01 Thu holiday 国庆节"), "{out}");
    assert!(out.contains("skipped 2026-10-11 Sun weekend"), "{out}");
    assert!(out.contains("counted 2026-10-10 Sat adjusted working day 国庆节"), "{out}");
    let provisional = ok(&["calendar", "explain", "2026-12-30", "5"]);
    assert!(provisional.starts_with("2027-01-06 provisional\n"));
    assert!(provisional.contains("no published holiday notice for 2027"), "{provisional}");
}

#[test]
fn holidays_folder_is_loaded_on_top() {
    let dir = tempdir("holidays");
    std::fs::write(
        dir.join("2027.json"),
        r#"{"year": 2027, "papers": ["test notice"], "days": [
            {"name": "元旦", "date": "2027-01-01", "isOffDay": true}]}"#,
    )
    .unwrap();
    let d = dir.to_str().unwrap();
    assert_eq!(ok(&["calendar", "add-working-days", "2026-12-30", "5", "--holidays", d]), "2027-01-07\n");
    assert_eq!(ok(&["calendar", "--holidays", d, "is-working-day", "2027-01-01"]), "false\n");
    // The reference folder (with its schema.json and an empty 2027) loads too.
    let reference = holiday_cn();
    assert_eq!(ok(&["calendar", "is-working-day", "2026-02-14", "--holidays", reference.to_str().unwrap()]), "true\n");
}

#[test]
fn bad_input_is_one_line_on_stderr() {
    let e = fails(&["calendar", "is-working-day", "2026-02-30"]);
    assert!(e.contains("not a date"), "{e}");
    fails(&["calendar", "is-working-day", "2026-2-3"]);
    fails(&["calendar", "is-working-day", "yesterday"]);
    let e = fails(&["calendar", "add-working-days", "2026-01-05", "-3"]);
    assert!(e.contains("-3"), "{e}");
    fails(&["calendar", "add-working-days", "2026-01-05", "five"]);
    fails(&["calendar", "add-working-days", "2026-01-05", "99999999"]);
    fails(&["calendar", "add-working-days", "2026-01-05"]);
    fails(&["calendar", "tomorrow"]);
    fails(&["frobnicate"]);
    fails(&["calendar", "is-working-day", "2026-01-05", "--holidays", "/nonexistent/folder"]);
    let dir = tempdir("bad-holidays");
    std::fs::write(dir.join("2027.json"), "{ not json").unwrap();
    let e = fails(&["calendar", "is-working-day", "2026-01-05", "--holidays", dir.to_str().unwrap()]);
    assert!(e.contains("2027.json"), "{e}");
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mailbox-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
