//! The `mailbox` command line (calendar and triage), run as a real process.

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
        dir.path().join("2027.json"),
        r#"{"year": 2027, "papers": ["test notice"], "days": [
            {"name": "元旦", "date": "2027-01-01", "isOffDay": true}]}"#,
    )
    .unwrap();
    let d = dir.path().to_str().unwrap();
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
    std::fs::write(dir.path().join("2027.json"), "{ not json").unwrap();
    let e = fails(&["calendar", "is-working-day", "2026-01-05", "--holidays", dir.path().to_str().unwrap()]);
    assert!(e.contains("2027.json"), "{e}");
}

/// A fresh folder, removed when the guard drops (also when the test fails).
/// A fresh folder, removed when dropped.
fn tempdir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new().prefix(&format!("mailbox-cli-{name}-")).tempdir().unwrap()
}

fn messages(file: &str) -> PathBuf {
    let path = std::env::var_os("MAILBOX_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"))
        .join("messages")
        .join(file);
    assert!(path.exists(), "{} missing", path.display());
    path
}

#[test]
fn triage_eval_prints_the_matrix_and_the_summary_line() {
    let labelled = messages("labelled_dev.csv");
    let out = ok(&["triage", "eval", "--labelled", labelled.to_str().unwrap()]);
    assert!(out.contains("混淆矩阵") && out.contains("precision") && out.contains("recall"), "{out}");
    let last = out.trim_end().lines().last().unwrap();
    let re = regex::Regex::new(r"^accuracy=([01]\.[0-9]{3}) macro_f1=([01]\.[0-9]{3}) n=([0-9]+)$").unwrap();
    let c = re.captures(last).unwrap_or_else(|| panic!("last line {last:?}"));
    assert_eq!(&c[3], "147");
    let (accuracy, macro_f1): (f64, f64) = (c[1].parse().unwrap(), c[2].parse().unwrap());
    // A floor under the measured 0.891 / 0.884: a regression guard (the plain char n-gram SVM
    // baseline is about 0.85 on this file).
    assert!(accuracy >= 0.87 && macro_f1 >= 0.86, "{last}");
}

#[test]
fn triage_eval_refuses_bad_files_in_one_line() {
    let dir = tempdir("triage-eval");
    let latin1 = dir.path().join("latin1.csv");
    std::fs::write(&latin1, b"\xc1\xf4\xd1\xd4,\xb1\xe0\xba\xc5\n1,2\n").unwrap();
    let e = fails(&["triage", "eval", "--labelled", latin1.to_str().unwrap()]);
    assert!(e.contains("not UTF-8"), "{e}");
    let wrong = dir.path().join("wrong.csv");
    std::fs::write(&wrong, "编号,内容\n1,路灯不亮\n").unwrap();
    let e = fails(&["triage", "eval", "--labelled", wrong.to_str().unwrap()]);
    assert!(e.contains("留言主题"), "{e}");
    let none = dir.path().join("none.csv");
    std::fs::write(
        &none,
        "留言编号,留言用户,留言主题,留言时间,留言详情,一级分类\n1,u,路灯不亮,2020/1/1,路灯坏了,火星\n",
    )
    .unwrap();
    let e = fails(&["triage", "eval", "--labelled", none.to_str().unwrap()]);
    assert!(e.contains("no row"), "{e}");
    fails(&["triage", "eval", "--labelled", "/nonexistent.csv"]);
}

#[test]
fn the_committed_model_is_what_training_produces() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let data = messages("taxonomy.csv").parent().unwrap().to_owned();
    let model = root.join("shared/triage/model/domain-classifier.bin");
    let out = ok(&["triage", "train", "--check", "--data", data.to_str().unwrap(), "--out", model.to_str().unwrap()]);
    assert!(out.contains("is what training produces"), "{out}");
}

#[test]
fn triage_topics_finds_the_real_campaigns_and_shows_progress_as_plain_lines_off_a_terminal() {
    let (replies, likes) = (messages("messages_with_replies.csv"), messages("messages_with_likes.csv"));
    let out =
        mailbox(&["triage", "topics", "--messages", replies.to_str().unwrap(), "--messages", likes.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    // The data set's two big campaigns, each the largest topic of its month.
    assert!(out.stdout.lines().any(|l| l.starts_with("2019-07\t53\t") && l.contains("伊景园滨河苑")), "{}", out.stdout);
    assert!(out.stdout.lines().any(|l| l.starts_with("2019-11\t52\t") && l.contains("丽发新城")), "{}", out.stdout);
    assert!(out.stdout.contains("messages=7142 invalid=4 unreadable_time=0 topics=45 in_topics=267"), "{}", out.stdout);
    // stderr is no terminal here: progress as plain lines, a tenth at a time, no control codes.
    let progress: Vec<&str> = out.stderr.lines().filter(|l| l.starts_with("messages grouped: ")).collect();
    assert_eq!(progress.len(), 11, "ten steps and done: {}", out.stderr);
    assert_eq!(progress.last(), Some(&"messages grouped: done (7142)"));
    assert!(!out.stderr.contains('\u{1b}') && !out.stderr.contains('\r'), "{:?}", out.stderr);
}

#[test]
fn triage_analyse_suggests_domain_jurisdiction_and_kind() {
    let out = ok(&[
        "triage",
        "analyse",
        "--title",
        "投诉鼎屏镇小区违章搭建",
        "--body",
        "物业不管，联系电话13812345678",
        "--kind",
        "consultation",
    ]);
    let note: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(note["domain"]["value"], "城乡建设", "{out}");
    assert_eq!(note["units"][0], "housing-construction", "{out}");
    assert_eq!(note["jurisdiction"]["value"], "linshui", "{out}");
    assert_eq!(note["kind"]["value"], "complaint", "{out}");
    assert_eq!(note["personal_data"][0]["kind"], "手机号码", "{out}");
    assert!(!out.contains("13812345678"), "the note never holds the personal data itself");
}
