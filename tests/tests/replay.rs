//! Replay of the 2,816 real messages of `messages_with_replies.csv` at their real times (simulated
//! clock): each is submitted, accepted, transferred, received, and replied at its real reply time.
//! The monthly reports must match counts computed independently from the CSV.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use mailbox_app::input::SubmitRequest;
use mailbox_app::ports::CaseStore;
use mailbox_domain::deadline::{cst, DeadlineClass};
use mailbox_domain::workflow::Command;
use mailbox_domain::{Actor, CaseId, CaseNumber, DispatchMode, Role, UnitId};
use mailbox_tests::{shared_data, Harness};
use std::collections::BTreeMap;

struct Message {
    title: String,
    body: String,
    user: String,
    sent: DateTime<Utc>,
    replied: DateTime<Utc>,
}

/// A time of the file, China local time: `2019/4/14 23:23:55`, or an Excel serial day number
/// (`43563.359…`, days since 1899-12-30) where the export left one, or a bare date.
fn china_time(s: &str) -> DateTime<Utc> {
    let s = s.trim();
    let date_only = || chrono::NaiveDate::parse_from_str(s, "%Y/%m/%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0));
    let local = match NaiveDateTime::parse_from_str(s, "%Y/%m/%d %H:%M:%S").ok().or_else(date_only) {
        Some(t) => t,
        None => {
            let serial: f64 = s.parse().unwrap_or_else(|_| panic!("unreadable time {s:?}"));
            let epoch = chrono::NaiveDate::from_ymd_opt(1899, 12, 30).unwrap().and_hms_opt(0, 0, 0).unwrap();
            epoch + chrono::Duration::seconds((serial * 86_400.0).round() as i64)
        }
    };
    cst().from_local_datetime(&local).single().unwrap().with_timezone(&Utc)
}

fn clean(s: &str, max: usize) -> String {
    let s: String = s.replace("_x000D_", "").chars().filter(|c| !c.is_control() || matches!(c, '\n' | '\t')).collect();
    let s = s.trim();
    s.chars().take(max).collect()
}

fn messages() -> Vec<Message> {
    let path = shared_data().join("messages/messages_with_replies.csv");
    let mut reader = csv::Reader::from_path(&path).unwrap();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            let title = clean(&r[2], 100);
            let body = clean(&r[4], 5000);
            Message {
                body: if body.is_empty() { title.clone() } else { body },
                title,
                user: clean(&r[1], 50),
                sent: china_time(&r[3]),
                replied: china_time(&r[6]),
            }
        })
        .collect()
}

fn month(t: DateTime<Utc>) -> String {
    t.with_timezone(&cst()).format("%Y-%m").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monthly_reports_of_2816_real_messages_match_the_csv() {
    let messages = messages();
    assert_eq!(messages.len(), 2816);
    // Independent counts straight from the file.
    let mut received: BTreeMap<String, i64> = BTreeMap::new();
    let mut replies_by_month: BTreeMap<String, i64> = BTreeMap::new();
    for m in &messages {
        *received.entry(month(m.sent)).or_default() += 1;
        *replies_by_month.entry(month(m.replied.max(m.sent))).or_default() += 1;
    }

    // Every step at its real time, in time order (a reply stamped before its message — the data has
    // such rows — is replayed right after the message).
    enum Step {
        Submit(usize),
        Reply(usize),
    }
    let mut steps: Vec<(DateTime<Utc>, u8, usize, Step)> = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        steps.push((m.sent, 0, i, Step::Submit(i)));
        steps.push((m.replied.max(m.sent), 1, i, Step::Reply(i)));
    }
    steps.sort_by_key(|(t, order, i, _)| (*t, *order, *i));
    let h = Harness::new("replay", steps[0].0);
    let d = Actor::staff("xfj", Role::Dispatcher, Some(UnitId::new("city-xfj")));
    let handler = Actor::staff("zjj", Role::Handler, Some(UnitId::new("housing-construction")));
    let mut ids: Vec<Option<CaseId>> = vec![None; messages.len()];
    for (t, _, _, step) in &steps {
        h.clock.set(*t);
        match step {
            Step::Submit(i) => {
                let m = &messages[*i];
                let req = SubmitRequest {
                    mailbox: "mayor".into(),
                    kind: "complaint".into(),
                    title: m.title.clone(),
                    body: m.body.clone(),
                    name: m.user.clone(),
                    phone: "13800000000".into(),
                    public: true,
                };
                let s = h.app.submit(&req, None).await.unwrap_or_else(|e| panic!("message {i}: {e}"));
                let id = h.store.get_by_number(&CaseNumber::new(s.number)).await.unwrap().unwrap().id;
                h.app.act(&d, &id, None, Command::Accept).await.unwrap();
                let dispatch = Command::Dispatch {
                    mode: DispatchMode::Transfer,
                    lead: UnitId::new("housing-construction"),
                    co_handlers: vec![],
                    class: DeadlineClass::Standard,
                    special_days: None,
                };
                h.app.act(&d, &id, None, dispatch).await.unwrap();
                h.app.act(&handler, &id, None, Command::Receive).await.unwrap();
                ids[*i] = Some(id);
            }
            Step::Reply(i) => {
                let id = ids[*i].as_ref().unwrap();
                let reply = Command::Reply { text: "您好，您反映的问题已处理。".into(), public: true };
                h.app.act(&handler, id, None, reply).await.unwrap();
            }
        }
    }

    let mut total_replies = 0;
    for (m, count) in &received {
        let report = h.app.monthly_report(m).await.unwrap();
        assert_eq!(report.total.received, *count, "{m} received");
        assert_eq!(report.total.replied, *count, "{m}: every message was replied");
        assert_eq!(report.total.invalid, 0);
        assert_eq!(report.total.in_progress, 0);
        assert_eq!(report.by_mailbox.len(), 1);
        assert_eq!(report.by_mailbox[0].figures.received, *count);
    }
    for (m, count) in &replies_by_month {
        let report = h.app.monthly_report(m).await.unwrap();
        assert_eq!(report.replied_on_time + report.replied_late, *count, "{m} replies");
        total_replies += report.replied_on_time + report.replied_late;
    }
    assert_eq!(total_replies, 2816);
    let report = h.app.reconcile().await.unwrap();
    assert!(report.differences.is_empty(), "{:?}", &report.differences[..report.differences.len().min(5)]);
}
