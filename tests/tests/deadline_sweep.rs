//! The scheduled deadline check through the use cases on SQLite, with a controllable clock:
//! it reads only due cases, escalates each overdue case once, and two sweeps racing (or a rerun)
//! change nothing the second time.

use mailbox_app::input::SubmitRequest;
use mailbox_app::ports::CaseStore;
use mailbox_domain::workflow::{Command, EventKind};
use mailbox_domain::{Actor, CaseNumber, DispatchMode, Role, UnitId};
use mailbox_tests::{at, Harness};

fn request() -> SubmitRequest {
    SubmitRequest {
        mailbox: "mayor".into(),
        kind: "consultation".into(),
        title: "咨询办事流程".into(),
        body: "请问如何办理？".into(),
        name: "李四".into(),
        phone: "13912345678".into(),
        public: false,
    }
}

async fn received_case(h: &Harness) -> mailbox_domain::CaseId {
    let submitted = h.app.submit(&request(), None).await.unwrap();
    let case = h.store.get_by_number(&CaseNumber::new(submitted.number)).await.unwrap().unwrap();
    let d = Actor::staff("xfj", Role::Dispatcher, Some(UnitId::new("city-xfj")));
    let jtj = Actor::staff("jtj", Role::Handler, Some(UnitId::new("transport")));
    h.app.act(&d, &case.id, None, Command::Accept).await.unwrap();
    let dispatch = Command::Dispatch {
        mode: DispatchMode::Transfer,
        lead: UnitId::new("transport"),
        co_handlers: vec![],
        class: mailbox_domain::DeadlineClass::Simple,
        special_days: None,
    };
    h.app.act(&d, &case.id, None, dispatch).await.unwrap();
    h.app.act(&jtj, &case.id, None, Command::Receive).await.unwrap();
    case.id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overdue_case_is_escalated_exactly_once_even_with_racing_sweeps() {
    // Monday 2026-11-23 10:00 China time; 5 working days → due at the end of Monday 11-30.
    let h = Harness::new("sweep", at("2026-11-23T02:00:00Z"));
    let late = received_case(&h).await;
    h.clock.set(at("2026-11-26T02:00:00Z"));
    let on_time = received_case(&h).await;

    h.clock.set(at("2026-11-30T15:59:59Z"));
    let report = h.app.deadline_sweep().await.unwrap();
    assert_eq!(report.escalated, 0, "due soon (urged), not yet overdue");

    h.clock.set(at("2026-11-30T16:00:00Z"));
    let (a, b) = tokio::join!(h.app.deadline_sweep(), h.app.deadline_sweep());
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.escalated + b.escalated, 1, "{a:?} {b:?}");
    let again = h.app.deadline_sweep().await.unwrap();
    assert_eq!(again.escalated + again.urged, 0);

    let events = h.store.events(&late).await.unwrap();
    let count = |f: fn(&EventKind) -> bool| events.iter().filter(|e| f(&e.kind)).count();
    assert_eq!(count(|k| matches!(k, EventKind::Supervised { .. })), 1);
    assert_eq!(count(|k| matches!(k, EventKind::MarkedOverdue { .. })), 1);
    assert_eq!(count(|k| matches!(k, EventKind::ExplanationRequested { .. })), 1);
    assert!(h.store.get(&late).await.unwrap().unwrap().supervised);
    assert!(!h.store.get(&on_time).await.unwrap().unwrap().supervised);
}

/// A case crosses "due soon", "due" and "overdue" with two sweeps racing at every step: exactly one
/// urge, one escalation, one explanation request; the unit is notified and can then explain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn due_soon_due_and_overdue_each_happen_once() {
    // Received Monday 2026-11-23; 5 working days → due at the end of Monday 11-30. The urge window
    // (1 working day left) opens on Friday 11-27, since the weekend does not count.
    let h = Harness::new("crossing", at("2026-11-23T02:00:00Z"));
    let id = received_case(&h).await;
    let case = h.store.get(&id).await.unwrap().unwrap();
    assert_eq!(case.next_alarm, Some(at("2026-11-26T16:00:00Z")), "urge alarm at 00:00 China time on Friday");

    let race = || async {
        let (a, b) = tokio::join!(h.app.deadline_sweep(), h.app.deadline_sweep());
        let (a, b) = (a.unwrap(), b.unwrap());
        (a.urged + b.urged, a.escalated + b.escalated)
    };
    // Thursday: not yet due soon; the sweep reads nothing.
    h.clock.set(at("2026-11-26T08:00:00Z"));
    assert_eq!(race().await, (0, 0));
    assert_eq!(h.app.deadline_sweep().await.unwrap().examined, 0);
    // Friday: due soon → one urge.
    h.clock.set(at("2026-11-27T01:00:00Z"));
    assert_eq!(race().await, (1, 0));
    h.clock.set(at("2026-11-28T01:00:00Z"));
    assert_eq!(race().await, (0, 0), "still due soon on Saturday: no second urge");
    // Monday during the day: due today, not yet overdue.
    h.clock.set(at("2026-11-30T09:00:00Z"));
    assert_eq!(race().await, (0, 0));
    // Past the end of Monday: overdue → one escalation and one explanation request.
    h.clock.set(at("2026-11-30T16:00:01Z"));
    assert_eq!(race().await, (0, 1));
    h.clock.set(at("2026-12-01T16:00:01Z"));
    assert_eq!(race().await, (0, 0));

    let events = h.store.events(&id).await.unwrap();
    let count = |f: fn(&EventKind) -> bool| events.iter().filter(|e| f(&e.kind)).count();
    assert_eq!(count(|k| matches!(k, EventKind::Urged { .. })), 1);
    assert_eq!(count(|k| matches!(k, EventKind::MarkedOverdue { .. })), 1);
    assert_eq!(count(|k| matches!(k, EventKind::Supervised { .. })), 1);
    assert_eq!(count(|k| matches!(k, EventKind::ExplanationRequested { .. })), 1);
    let case = h.store.get(&id).await.unwrap().unwrap();
    assert_eq!(case.next_alarm, None, "nothing left to watch for this deadline");

    let transport = UnitId::new("transport");
    let notes = h.store.notifications(Some(&transport), None, 50).await.unwrap().items;
    assert!(notes.iter().any(|n| n.subject.starts_with("催办")), "{notes:?}");
    assert!(notes.iter().any(|n| n.subject.contains("请提交情况说明")));
    let office = h.store.notifications(Some(&UnitId::new("city-gov-office")), None, 50).await.unwrap().items;
    assert!(office.iter().any(|n| n.subject.starts_with("超期督办")));

    let jtj = Actor::staff("jtj", Role::Handler, Some(transport));
    h.app.act(&jtj, &id, None, Command::Explain { text: "需协调供电部门，已书面说明".into() }).await.unwrap();
    // An approved extension gives a new deadline, which is watched again from the start.
    let d = Actor::staff("xfj", Role::Dispatcher, Some(UnitId::new("city-xfj")));
    let jtj = Actor::staff("jtj", Role::Handler, Some(UnitId::new("transport")));
    h.app.act(&jtj, &id, None, Command::RequestExtension { days: 10, reason: "需协调".into() }).await.unwrap();
    let case = h.app.act(&d, &id, None, Command::DecideExtension { approve: true, note: String::new() }).await.unwrap();
    assert!(case.next_alarm.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daily_digest_lists_what_waits_once_per_unit_and_day() {
    let h = Harness::new("digest", at("2026-11-23T02:00:00Z"));
    let _overdue = received_case(&h).await;
    h.app.submit(&request(), None).await.unwrap(); // not accepted
                                                   // Wednesday 2026-12-02, 09:00 China time.
    h.clock.set(at("2026-12-02T01:00:00Z"));
    let first = h.app.daily_digest().await.unwrap();
    let again = h.app.daily_digest().await.unwrap();
    assert_eq!(first.units_notified, 2, "the handling unit and the dispatcher");
    assert_eq!(again.units_notified, 2);
    let transport = h.store.notifications(Some(&UnitId::new("transport")), None, 50).await.unwrap().items;
    let digests: Vec<_> = transport.iter().filter(|n| n.key.starts_with("digest:2026-12-02")).collect();
    assert_eq!(digests.len(), 1, "sending twice keeps one");
    assert!(digests[0].body.contains("已超期 1 件"), "{}", digests[0].body);
    let xfj = h.store.notifications(Some(&UnitId::new("city-xfj")), None, 50).await.unwrap().items;
    let digest = xfj.iter().find(|n| n.key.starts_with("digest:")).unwrap();
    assert!(digest.body.contains("未受理 1 件"), "{}", digest.body);
}

/// One case the store cannot write (here a trigger that fails at run time with an integer overflow, as
/// a damaged row or a full disk would) does not stop the sweep: the other cases are acted on, the failure is counted,
/// and the failed case stays due for the next sweep.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_case_that_cannot_be_written_does_not_stop_the_sweep() {
    let h = Harness::new("sweep-fault", at("2026-11-23T02:00:00Z"));
    let broken = received_case(&h).await;
    let fine = received_case(&h).await;
    let conn = rusqlite::Connection::open(h.store.path()).unwrap();
    conn.execute_batch(&format!(
        "CREATE TRIGGER break_one BEFORE UPDATE ON cases WHEN OLD.id = '{broken}'
         BEGIN SELECT abs(-9223372036854775807 - 1); END;"
    ))
    .unwrap();
    h.clock.set(at("2026-11-30T16:00:00Z"));
    let report = h.app.deadline_sweep().await.expect("the sweep goes on past a failing case");
    assert_eq!((report.escalated, report.failed), (1, 1), "{report:?}");
    assert!(h.store.get(&fine).await.unwrap().unwrap().supervised);
    let still = h.store.get(&broken).await.unwrap().unwrap();
    assert!(!still.supervised && still.next_alarm.is_some(), "the failed case stays due");
    // Repaired, the next sweep acts on it.
    conn.execute_batch("DROP TRIGGER break_one").unwrap();
    let next = h.app.deadline_sweep().await.unwrap();
    assert_eq!((next.escalated, next.failed), (1, 0), "{next:?}");
}
