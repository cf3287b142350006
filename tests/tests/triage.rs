//! Triage through the use cases on SQLite, step by step (no worker racing the test): the
//! suggestions are recorded once, a dispatcher's view from before them is still good to act on,
//! and a likely original is listed with its title masked.

use mailbox_app::input::SubmitRequest;
use mailbox_app::ports::CaseStore;
use mailbox_app::AppError;
use mailbox_domain::workflow::Command;
use mailbox_domain::{Actor, CaseNumber, Role, UnitId};
use mailbox_tests::{at, Harness};

fn request(title: &str, name: &str) -> SubmitRequest {
    SubmitRequest {
        mailbox: "mayor".into(),
        kind: "complaint".into(),
        title: title.into(),
        body: "幸福小区三号楼电梯停运三个月，物业公司一直不维修，老人上下楼困难，请尽快督促维修。".into(),
        name: name.into(),
        phone: "13912345678".into(),
        public: false,
    }
}

/// The message the bus brings to triage for a case (the others waiting are taken and dropped).
async fn triage_message(h: &Harness, id: &mailbox_domain::CaseId) -> String {
    let bodies = h.relayed("triage").await;
    bodies.into_iter().find(|b| b.contains(id.as_str())).expect("the case's CaseSubmitted event reached triage")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suggestions_once_without_stale_views_and_with_masked_originals() {
    let h = Harness::new("triage", at("2026-03-02T09:00:00+08:00"));
    let dispatcher = Actor::staff("xfj", Role::Dispatcher, Some(UnitId::new("city-xfj")));
    // The original names its writer in the title; a staff member elsewhere must not read that.
    let first = h.app.submit(&request("王小明反映幸福小区电梯停运", "王小明"), None).await.unwrap();
    let first = h.store.get_by_number(&CaseNumber::new(first.number)).await.unwrap().unwrap();
    h.app.take_triage(&triage_message(&h, &first.id).await).await.unwrap();

    // Later (in the same millisecond, which of the two came first would be up to their ids).
    h.clock.advance(chrono::Duration::minutes(5));
    let again = h.app.submit(&request("再次反映幸福小区电梯停运", "李四"), None).await.unwrap();
    let again = h.store.get_by_number(&CaseNumber::new(again.number)).await.unwrap().unwrap();
    let seen = again.version; // the dispatcher opens it before triage runs
    let message = triage_message(&h, &again.id).await;
    h.app.take_triage(&message).await.unwrap();
    let triaged = h.store.get(&again.id).await.unwrap().unwrap();
    assert_eq!(triaged.version, seen + 1);
    let note = triaged.triage.as_ref().expect("recorded");
    assert_eq!(note.duplicates.len(), 1, "{note:?}");
    assert_eq!(note.duplicates[0].number, first.number);
    assert_eq!(note.duplicates[0].title, "王**反映幸福小区电梯停运", "the original's title is masked");

    // Redelivered: nothing recorded twice.
    h.app.take_triage(&message).await.unwrap();
    assert_eq!(h.store.get(&again.id).await.unwrap().unwrap().version, triaged.version);
    assert_eq!(h.store.events(&again.id).await.unwrap().len(), 2, "submitted, triaged");

    // The view from before the suggestions is accepted; once a real change happened it is stale.
    h.app.act(&dispatcher, &again.id, Some(seen), Command::Accept).await.unwrap();
    let stale = h.app.act(&dispatcher, &again.id, Some(seen), Command::Reject { reason: "重复".into() }).await;
    assert!(matches!(stale, Err(AppError::Conflict { .. })), "{stale:?}");
    let absurd = h.app.act(&dispatcher, &again.id, Some(u64::MAX), Command::Reject { reason: "重复".into() }).await;
    assert!(matches!(absurd, Err(AppError::Conflict { .. })), "a client's huge version is stale, not a crash");
}

/// The duplicate check reads the dispatcher's cases just before the new one: a repeat of
/// yesterday's message is found even when more than 200 older ones are still waiting (reading them
/// in inbox order, oldest first, left it out), and a triage that runs late does not list a later
/// message as the original.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_newest_cases_are_compared_however_many_older_ones_wait() {
    let h = Harness::new("triage-many", at("2026-03-02T09:00:00+08:00"));
    let topics = ["路灯不亮", "噪音扰民", "公交线路", "学校招生", "社保转移", "超市价格", "医院挂号", "占道经营"];
    for i in 0..240 {
        let mut older = request(&format!("{}问题{i}", topics[i % topics.len()]), "赵一");
        older.body = format!("{}的问题已经持续很久了，编号{i}，请有关部门尽快处理。", topics[i % topics.len()]);
        h.app.submit(&older, None).await.unwrap();
        h.clock.advance(chrono::Duration::minutes(1));
    }
    let original = h.app.submit(&request("幸福小区电梯停运", "王小明"), None).await.unwrap();
    h.clock.advance(chrono::Duration::days(1));
    let again = h.app.submit(&request("再次反映幸福小区电梯停运", "李四"), None).await.unwrap();
    let again = h.store.get_by_number(&CaseNumber::new(again.number)).await.unwrap().unwrap();
    // A third copy arrives before triage gets to the second.
    h.clock.advance(chrono::Duration::hours(1));
    h.app.submit(&request("第三次反映幸福小区电梯停运", "李四"), None).await.unwrap();
    h.app.take_triage(&triage_message(&h, &again.id).await).await.unwrap();
    let note = h.store.get(&again.id).await.unwrap().unwrap().triage.expect("recorded");
    let numbers: Vec<&str> = note.duplicates.iter().map(|d| d.number.as_str()).collect();
    assert_eq!(numbers, vec![original.number.as_str()], "{note:?}");
}

/// Triage reads the case from its dispatcher's recent list (with the cases before it) in one read;
/// where the list does not have it yet (an index a moment behind, or an event whose time is not
/// the submission's), the case is read by id, and its predecessors are still the ones compared.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_missing_from_the_recent_list_is_read_by_id() {
    let h = Harness::new("triage-by-id", at("2026-03-02T09:00:00+08:00"));
    h.clock.advance(chrono::Duration::milliseconds(1234));
    let original = h.app.submit(&request("幸福小区电梯停运", "王小明"), None).await.unwrap();
    h.clock.advance(chrono::Duration::minutes(5));
    let again = h.app.submit(&request("再次反映幸福小区电梯停运", "李四"), None).await.unwrap();
    let again = h.store.get_by_number(&CaseNumber::new(again.number)).await.unwrap().unwrap();
    let first = h.store.get_by_number(&CaseNumber::new(original.number.as_str())).await.unwrap().unwrap();
    let bodies = h.relayed("triage").await;
    let of = |id: &mailbox_domain::CaseId| bodies.iter().find(|b| b.contains(id.as_str())).cloned().unwrap();
    let mut message: serde_json::Value = serde_json::from_str(&of(&again.id)).unwrap();
    // A minute before the submission: the list through that instant holds only the original.
    message["time"] = serde_json::json!((again.submitted_at - chrono::Duration::minutes(1)).to_rfc3339());
    h.app.take_triage(&message.to_string()).await.unwrap();
    let note = h.store.get(&again.id).await.unwrap().unwrap().triage.expect("recorded");
    let numbers: Vec<&str> = note.duplicates.iter().map(|d| d.number.as_str()).collect();
    assert_eq!(numbers, vec![original.number.as_str()], "{note:?}");
    // The original's own triage message, its time to the second as EventBridge gives it, finds it
    // in the list through that second and records on it.
    let mut message: serde_json::Value = serde_json::from_str(&of(&first.id)).unwrap();
    message["time"] = serde_json::json!(first.submitted_at.format("%Y-%m-%dT%H:%M:%SZ").to_string());
    h.app.take_triage(&message.to_string()).await.unwrap();
    let first = h.store.get(&first.id).await.unwrap().unwrap();
    assert!(first.triage.as_ref().is_some_and(|n| n.duplicates.is_empty()), "{:?}", first.triage);
}

/// More cases of the same second after a case than the list reads beyond it: triage reads the list
/// again through the case, so the oldest of its 400 predecessors is still compared.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_second_does_not_push_predecessors_out() {
    let h = Harness::new("triage-busy", at("2026-03-02T09:00:00+08:00"));
    let original = h.app.submit(&request("幸福小区电梯停运", "王小明"), None).await.unwrap();
    let topics = ["路灯不亮", "噪音扰民", "公交线路", "学校招生", "社保转移", "超市价格", "医院挂号", "占道经营"];
    let filler = |i: usize| {
        let mut older = request(&format!("{}问题{i}", topics[i % topics.len()]), "赵一");
        older.body = format!("{}的问题已经持续很久了，编号{i}，请有关部门尽快处理。", topics[i % topics.len()]);
        older
    };
    for i in 0..399 {
        h.clock.advance(chrono::Duration::seconds(1));
        h.app.submit(&filler(i), None).await.unwrap();
    }
    h.clock.advance(chrono::Duration::seconds(1));
    let again = h.app.submit(&request("再次反映幸福小区电梯停运", "李四"), None).await.unwrap();
    let again = h.store.get_by_number(&CaseNumber::new(again.number)).await.unwrap().unwrap();
    // Forty more in the same second, a millisecond later: more than the list reads beyond it.
    h.clock.advance(chrono::Duration::milliseconds(1));
    for i in 0..40 {
        h.app.submit(&filler(1000 + i), None).await.unwrap();
    }
    h.app.take_triage(&triage_message(&h, &again.id).await).await.unwrap();
    let note = h.store.get(&again.id).await.unwrap().unwrap().triage.expect("recorded");
    let numbers: Vec<&str> = note.duplicates.iter().map(|d| d.number.as_str()).collect();
    assert_eq!(numbers, vec![original.number.as_str()], "{note:?}");
}
