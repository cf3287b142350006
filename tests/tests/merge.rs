//! 并单 through the use cases on SQLite: a dispatcher merges repeats into an earlier case, only
//! into one of its own, unanswered ones; a merged case's clock stops and it says where it went;
//! when the original is answered, the bus brings the reply to the triage consumer, which gives
//! each merged case the reply — masked for its citizen, public only where that citizen agreed;
//! un-merging is possible only before that; statistics count merged cases apart and reconcile.

use mailbox_app::input::SubmitRequest;
use mailbox_app::ports::CaseStore;
use mailbox_app::AppError;
use mailbox_domain::workflow::Command;
use mailbox_domain::{Actor, CaseId, CaseNumber, CaseStatus, Role, UnitId};
use mailbox_tests::{at, Harness};

fn request(name: &str, phone: &str, public: bool) -> SubmitRequest {
    SubmitRequest {
        mailbox: "mayor".into(),
        kind: "complaint".into(),
        title: "幸福小区违章搭建无人处理".into(),
        body: format!("幸福小区三号楼顶违章搭建三个月，无人处理。我是{name}。"),
        name: name.into(),
        phone: phone.into(),
        public,
    }
}

async fn submit(h: &Harness, r: SubmitRequest) -> (CaseId, CaseNumber, String) {
    let s = h.app.submit(&r, None).await.unwrap();
    let case = h.store.get_by_number(&CaseNumber::new(s.number.as_str())).await.unwrap().unwrap();
    (case.id, case.number, s.query_code)
}

fn xfj() -> Actor {
    Actor::staff("xfj", Role::Dispatcher, Some(UnitId::new("city-xfj")))
}

fn merge(into: &CaseNumber) -> Command {
    Command::Merge { into: into.clone() }
}

fn refused_code(r: Result<mailbox_domain::Case, AppError>) -> String {
    match r {
        Err(AppError::Invalid { code, .. } | AppError::Conflict { code, .. }) => code.to_owned(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merged_citizens_get_the_original_reply_masked_and_statistics_count_them_apart() {
    let h = Harness::new("merge", at("2026-12-01T09:00:00+08:00"));
    let (a, a_no, _) = submit(&h, request("王小明", "13912345678", true)).await;
    h.clock.advance(chrono::Duration::hours(1));
    let (b, _, b_code) = submit(&h, request("李四", "13700000001", true)).await;
    h.clock.advance(chrono::Duration::hours(1));
    let (c, c_no, _) = submit(&h, request("张三", "13700000002", false)).await;

    // Who may merge, and into what.
    let handler = Actor::staff("jtj", Role::Handler, Some(UnitId::new("transport")));
    assert!(matches!(h.app.act(&handler, &b, None, merge(&a_no)).await, Err(AppError::NotFound)));
    let linshui = Actor::staff("ls-xfj", Role::Dispatcher, Some(UnitId::new("linshui-xfj")));
    assert!(matches!(h.app.act(&linshui, &b, None, merge(&a_no)).await, Err(AppError::NotFound)));
    assert_eq!(refused_code(h.app.act(&xfj(), &a, None, merge(&c_no)).await), "merge_original_later");
    assert_eq!(
        refused_code(h.app.act(&xfj(), &b, None, merge(&CaseNumber::new("GA199901010001"))).await),
        "merge_original_unknown"
    );
    assert_eq!(
        refused_code(h.app.act(&xfj(), &b, None, merge(&CaseNumber::new("GA<script>"))).await),
        "merge_original_unknown"
    );

    let merged = h.app.act(&xfj(), &b, None, merge(&a_no)).await.unwrap();
    assert_eq!((merged.status, merged.merged_into.as_ref()), (CaseStatus::Merged, Some(&a_no)));
    h.app.act(&xfj(), &c, None, merge(&a_no)).await.unwrap();
    assert_eq!(refused_code(h.app.act(&xfj(), &c, None, merge(&a_no)).await), "illegal_transition");
    // Into a merged case: the dispatcher is sent to its original.
    let (d, d_no, _) = submit(&h, request("赵六", "13700000003", true)).await;
    let b_no = h.store.get(&b).await.unwrap().unwrap().number;
    assert_eq!(refused_code(h.app.act(&xfj(), &d, None, merge(&b_no)).await), "merge_original_merged");
    // The original of merged cases may itself be neither merged (their reply would never come)
    // nor found invalid (it would never be answered); a supervisor may not merge at all.
    assert_eq!(refused_code(h.app.act(&xfj(), &a, None, merge(&d_no)).await), "has_merged_cases");
    assert_eq!(
        refused_code(h.app.act(&xfj(), &a, None, Command::Reject { reason: "重复".into() }).await),
        "has_merged_cases"
    );
    let zfb = Actor::staff("zfb", Role::Supervisor, Some(UnitId::new("city-gov-office")));
    assert!(matches!(h.app.act(&zfb, &d, None, merge(&a_no)).await, Err(AppError::Forbidden(_))));
    // Un-merged before the reply, merged again.
    assert_eq!(h.app.act(&xfj(), &c, None, Command::Unmerge).await.unwrap().status, CaseStatus::Submitted);
    h.app.act(&xfj(), &c, None, merge(&a_no)).await.unwrap();

    // The citizen of a merged case sees where it went.
    let view = h.app.citizen_view(b_no.as_str(), &b_code, "test").await.unwrap();
    assert_eq!(view.status_label, format!("已并入 {a_no}"));

    // The original is transferred, received and answered publicly, naming its citizen.
    let answer = "王小明您好，违章搭建已拆除。联系电话 139 1234 5678。";
    mailbox_conformance::story::transferred_and_replied(&h.app, &a, answer, true).await;
    for message in h.relayed("triage").await {
        h.app.take_triage(&message).await.unwrap();
    }
    let b_case = h.store.get(&b).await.unwrap().unwrap();
    assert_eq!(b_case.status, CaseStatus::Merged, "counted as 重复件, not as replied");
    let reply = b_case.reply.as_ref().expect("the merged citizen got the reply");
    assert!(reply.public, "public as the original, since this citizen agreed");
    assert!(!reply.text.contains("王小明") && !reply.text.contains("1391234"), "{}", reply.text);
    assert!(reply.text.contains("违章搭建已拆除"));
    let c_case = h.store.get(&c).await.unwrap().unwrap();
    assert!(!c_case.reply.as_ref().unwrap().public, "private: this citizen did not agree to publication");
    let view = h.app.citizen_view(b_no.as_str(), &b_code, "test").await.unwrap();
    assert!(view.reply.as_ref().unwrap().text.contains("违章搭建已拆除"));
    // Redelivered: nothing twice. After the reply, no un-merge.
    for message in h.relayed("triage").await {
        h.app.take_triage(&message).await.unwrap();
    }
    assert_eq!(h.store.get(&b).await.unwrap().unwrap().version, b_case.version);
    assert_eq!(refused_code(h.app.act(&xfj(), &b, None, Command::Unmerge).await), "invalid_field");
    // No more merging into an answered case.
    assert_eq!(refused_code(h.app.act(&xfj(), &d, None, merge(&a_no)).await), "merge_original_closed");

    // Statistics: two 重复件, one reply, on time — the merged ones not counted as replied.
    let report = h.app.monthly_report("2026-12").await.unwrap();
    assert_eq!(
        (report.total.received, report.total.merged, report.total.replied, report.total.in_progress),
        (4, 2, 1, 1)
    );
    assert_eq!((report.replied_on_time, report.replied_late), (1, 0));
    assert!(h.app.reconcile().await.unwrap().differences.is_empty());
}
