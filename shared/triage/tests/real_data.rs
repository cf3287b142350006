//! Triage on the real messages of `../shared/data/messages/` (read by path, never copied).

use mailbox_domain::mask::mask_personal_data;
use mailbox_domain::{CaseNumber, Kind, Organisation};
use mailbox_triage::dup::Fingerprint;
use mailbox_triage::{Message, Recent, Triage};
use regex::Regex;
use std::path::PathBuf;

/// A file of the reference data beside the checkout (`../shared/data`), or under `MAILBOX_SHARED_DATA`.
fn data(file: &str) -> String {
    let path = std::env::var_os("MAILBOX_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"))
        .join("messages")
        .join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn rows(file: &str, columns: &[&str]) -> Vec<Vec<String>> {
    let text = data(file);
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().unwrap().clone();
    let index: Vec<usize> = columns.iter().map(|c| header.iter().position(|h| h == *c).unwrap()).collect();
    reader.records().map(|r| r.unwrap()).map(|r| index.iter().map(|&i| r[i].to_owned()).collect()).collect()
}

/// Phone and ID-card patterns, written independently of the masking code: a mobile number as a
/// whole run of digits, a landline with area code, a local number right after 电话/手机/拨打, an
/// 18-character ID number anywhere.
struct Patterns {
    digit_runs: Regex,
    landline: Regex,
    local: Regex,
    id_number: Regex,
}

impl Patterns {
    fn new() -> Patterns {
        Patterns {
            digit_runs: Regex::new(r"[0-9]+").unwrap(),
            landline: Regex::new(r"0[0-9]{2,3}[-－—]?[0-9]{7,8}").unwrap(),
            local: Regex::new(r"(?:电话|手机|座机|拨打)[^0-9*]{0,4}[0-9]{7,8}").unwrap(),
            id_number: Regex::new(r"[0-9]{17}[0-9Xx]").unwrap(),
        }
    }

    fn found(&self, text: &str) -> Vec<String> {
        let mobile = |run: &str| run.len() == 11 && run.starts_with('1') && (b'3'..=b'9').contains(&run.as_bytes()[1]);
        let mut out: Vec<String> =
            self.digit_runs.find_iter(text).map(|m| m.as_str()).filter(|r| mobile(r)).map(str::to_owned).collect();
        out.extend(self.landline.find_iter(text).map(|m| m.as_str().to_owned()));
        out.extend(self.local.find_iter(text).map(|m| m.as_str().to_owned()));
        out.extend(self.id_number.find_iter(text).map(|m| m.as_str().to_owned()));
        out
    }
}

#[test]
fn masking_leaves_no_phone_or_id_number_in_50_real_replies() {
    let p = Patterns::new();
    let replies: Vec<String> = rows("messages_with_replies.csv", &["答复意见"])
        .into_iter()
        .map(|mut r| r.remove(0))
        .filter(|r| !p.found(r).is_empty())
        .take(50)
        .collect();
    assert_eq!(replies.len(), 50, "the file has at least 50 replies with a phone or ID number");
    let mut masked_numbers = 0;
    for reply in &replies {
        let before = p.found(reply);
        let masked = mask_personal_data(reply, &[]);
        assert!(p.found(&masked).is_empty(), "left in: {:?}\n{masked}", p.found(&masked));
        assert!(masked.contains('*'));
        masked_numbers += before.len();
    }
    assert!(masked_numbers >= 50, "{masked_numbers}");
}

#[test]
fn a_lightly_edited_real_message_is_a_duplicate_and_an_unrelated_one_is_not() {
    let messages = rows("messages_with_replies.csv", &["留言主题", "留言详情"]);
    let triage = Triage::new(&Organisation::guangan());
    let numbers: Vec<CaseNumber> = (0..messages.len()).map(|i| CaseNumber::new(format!("GA{i:06}"))).collect();
    let now = chrono::Utc::now();
    let recent: Vec<Recent> = messages
        .iter()
        .take(300)
        .zip(&numbers)
        .map(|(m, n)| Recent {
            number: n,
            title: &m[0],
            fingerprint: Fingerprint::of(&m[0], &m[1]),
            submitted_at: now - chrono::Duration::days(60),
            hot: false,
            citizen: "",
            invalid: false,
        })
        .collect();
    // A copy of message 42 with a changed title, a sentence added and punctuation changed.
    let original = &messages[42];
    let title = format!("再次反映：{}", original[0]);
    let body = format!("{}。至今没有解决，请尽快处理！", original[1].replace('，', ","));
    let note = triage.analyse(
        &Message { submitted_at: now, citizen: "", title: &title, body: &body, kind: Kind::Complaint, names: &[] },
        &recent,
        chrono::Utc::now(),
    );
    assert_eq!(note.duplicates.first().map(|d| d.number.as_str()), Some("GA000042"), "{:?}", note.duplicates);
    assert!(note.duplicates[0].similarity >= 60, "{:?}", note.duplicates);
    // A message from outside the compared ones, about something else.
    let other = &messages[2000];
    let note = triage.analyse(
        &Message {
            submitted_at: now,
            citizen: "",
            title: &other[0],
            body: &other[1],
            kind: Kind::Complaint,
            names: &[],
        },
        &recent,
        chrono::Utc::now(),
    );
    assert!(note.duplicates.is_empty(), "{:?}", note.duplicates);
}

#[test]
fn urgent_cues_mark_few_real_messages() {
    let org = Organisation::guangan();
    let mut messages = rows("messages_with_replies.csv", &["留言主题", "留言详情"]);
    messages.extend(rows("messages_with_likes.csv", &["留言主题", "留言详情"]));
    let urgent: Vec<&Vec<String>> = messages
        .iter()
        .filter(|m| !mailbox_triage::urgent::find(&format!("{}\n{}", m[0], m[1]), &org.urgent).is_empty())
        .collect();
    eprintln!("{} of {} real messages marked urgent", urgent.len(), messages.len());
    // Urgent must stay rare to mean something: the defaults mark about 1 in 90 of a board's messages.
    assert!(urgent.len() * 50 < messages.len(), "{} of {}", urgent.len(), messages.len());
    assert!(!urgent.is_empty(), "real dangers are told on the board too");
}
