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
    assert_eq!(report.examined, 0, "nothing is due yet");

    h.clock.set(at("2026-11-30T16:00:00Z"));
    let (a, b) = tokio::join!(h.app.deadline_sweep(), h.app.deadline_sweep());
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.supervised + b.supervised, 1, "{a:?} {b:?}");
    assert_eq!(a.examined, 1, "only the due case was read");
    let again = h.app.deadline_sweep().await.unwrap();
    assert_eq!(again.supervised, 0);

    let events = h.store.events(&late).await.unwrap();
    let escalations = events.iter().filter(|e| matches!(e.kind, EventKind::Supervised { .. })).count();
    assert_eq!(escalations, 1);
    assert!(h.store.get(&late).await.unwrap().unwrap().supervised);
    assert!(!h.store.get(&on_time).await.unwrap().unwrap().supervised);
}
