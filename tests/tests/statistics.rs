//! Statistics: counters stay equal to what the cases and audit trails say after a long random
//! scenario; a calendar import recomputes open deadlines and records it.

use chrono::Duration;
use mailbox_app::calendar::{JobOutcome, JOBS_QUEUE};
use mailbox_app::input::SubmitRequest;
use mailbox_app::ports::CaseStore;
use mailbox_domain::deadline::DeadlineClass;
use mailbox_domain::workflow::{Command, EventKind};
use mailbox_domain::{Actor, CaseId, CaseNumber, CaseStatus, DispatchMode, Role, UnitId};
use mailbox_tests::{at, Harness};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn request(i: usize, kind: &str) -> SubmitRequest {
    SubmitRequest {
        mailbox: if i.is_multiple_of(3) { "transport-head".into() } else { "mayor".into() },
        kind: kind.into(),
        title: format!("随机留言 {i}"),
        body: "内容".into(),
        name: "王五".into(),
        phone: "13600000000".into(),
        public: i.is_multiple_of(2),
    }
}

fn staff(role: Role, unit: &str) -> Actor {
    Actor::staff(format!("{unit}-user"), role, Some(UnitId::new(unit)))
}

/// A plausible next step for a case, by the actor whose step it is; `other` is another case's
/// number, which a merge (并单) may name (the app refuses it where it may not be merged into).
fn next_step(case: &mailbox_domain::Case, rng: &mut StdRng, other: &CaseNumber) -> (Actor, Command) {
    let dispatcher = staff(Role::Dispatcher, case.dispatcher.as_str());
    let lead = case.lead().map(|u| staff(Role::Handler, u.as_str()));
    let assign = case.dispatch.as_ref().is_some_and(|d| d.mode == DispatchMode::Assign);
    let text = || "处理意见".to_string();
    match case.status {
        CaseStatus::Submitted | CaseStatus::Accepted | CaseStatus::InProgress if rng.gen_bool(0.04) => {
            (dispatcher, Command::Merge { into: other.clone() })
        }
        CaseStatus::Merged if rng.gen_bool(0.05) => (dispatcher, Command::Unmerge),
        // Waits for its original's reply (refused: nothing to do).
        CaseStatus::Merged => (dispatcher, Command::Close),
        CaseStatus::Submitted if rng.gen_bool(0.1) => (dispatcher, Command::Reject { reason: "重复留言".into() }),
        CaseStatus::Submitted => (dispatcher, Command::Accept),
        CaseStatus::Accepted => {
            let own = case.dispatcher.as_str() == "transport";
            let units = ["transport", "water", "health", "linshui-gov"];
            let lead = if own { "transport" } else { units[rng.gen_range(0..units.len())] };
            let classes = [DeadlineClass::Simple, DeadlineClass::Standard, DeadlineClass::Investigation];
            let mode = if own || rng.gen_bool(0.5) { DispatchMode::Transfer } else { DispatchMode::Assign };
            let class = classes[rng.gen_range(0..classes.len())];
            (
                dispatcher,
                Command::Dispatch { mode, lead: UnitId::new(lead), co_handlers: vec![], class, special_days: None },
            )
        }
        CaseStatus::Dispatched if rng.gen_bool(0.15) => {
            (lead.unwrap(), Command::Return { reason: "非本单位职责".into() })
        }
        CaseStatus::Dispatched => (lead.unwrap(), Command::Receive),
        CaseStatus::InProgress if case.pending_extension().is_some() => {
            (dispatcher, Command::DecideExtension { approve: rng.gen_bool(0.7), note: "意见".into() })
        }
        CaseStatus::InProgress => match rng.gen_range(0..10) {
            0 => (lead.unwrap(), Command::RequestExtension { days: 5, reason: "需调查".into() }),
            1 => (lead.unwrap(), Command::Return { reason: "非本单位职责".into() }),
            _ if assign => (lead.unwrap(), Command::Report { text: text() }),
            _ => (lead.unwrap(), Command::Reply { text: text(), public: case.publishable }),
        },
        CaseStatus::Reported => (dispatcher, Command::Reply { text: text(), public: false }),
        CaseStatus::Replied if rng.gen_bool(0.3) => (dispatcher, Command::Close),
        CaseStatus::Replied => {
            let satisfied = rng.gen_bool(0.7);
            (
                Actor::citizen(case.id.clone()),
                Command::Rate { satisfied, comment: if satisfied { String::new() } else { "不满意".into() } },
            )
        }
        CaseStatus::Closed => (dispatcher, Command::Reopen { reason: "重新办理".into() }),
        CaseStatus::Invalid => (dispatcher, Command::Accept),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_finds_no_difference_after_a_long_random_scenario() {
    let h = Harness::new("reconcile", at("2026-10-20T01:00:00Z"));
    let mut rng = StdRng::seed_from_u64(20261127);
    let kinds = ["suggestion", "consultation", "complaint", "help"];
    let mut ids: Vec<CaseId> = Vec::new();
    let mut applied = 0;
    let mut visited = std::collections::HashSet::new();
    for step in 0..1500 {
        h.clock.advance(Duration::minutes(rng.gen_range(1..600)));
        if ids.len() < 80 && rng.gen_bool(0.2) || ids.is_empty() {
            let s = h.app.submit(&request(step, kinds[rng.gen_range(0..4)]), None).await.unwrap();
            ids.push(h.store.get_by_number(&CaseNumber::new(s.number)).await.unwrap().unwrap().id);
            continue;
        }
        if step % 25 == 0 {
            h.app.deadline_sweep().await.unwrap();
            // The triage queue: new cases triaged, replies shared with the cases merged into them.
            for message in h.relayed("triage").await {
                h.app.take_triage(&message).await.unwrap();
            }
        }
        let id = ids[rng.gen_range(0..ids.len())].clone();
        let case = h.store.get(&id).await.unwrap().unwrap();
        // A merge names an earlier open case of the same dispatcher when one of five picked is so.
        let mut other = case.number.clone();
        for _ in 0..5 {
            let o = h.store.get(&ids[rng.gen_range(0..ids.len())]).await.unwrap().unwrap();
            if o.dispatcher == case.dispatcher && o.submitted_at < case.submitted_at && o.status.is_open() {
                other = o.number;
                break;
            }
        }
        let (actor, command) = next_step(&case, &mut rng, &other);
        if let Ok(case) = h.app.act(&actor, &id, Some(case.version), command).await {
            applied += 1;
            visited.insert(case.status);
        }
    }
    assert!(applied > 500, "the scenario moved cases ({applied} actions)");
    for status in CaseStatus::ALL.into_iter().filter(|s| *s != CaseStatus::Submitted) {
        assert!(visited.contains(&status), "the scenario never reached {status:?}");
    }
    for message in h.relayed("triage").await {
        h.app.take_triage(&message).await.unwrap();
    }
    let mut shared = 0;
    for id in &ids {
        let c = h.store.get(id).await.unwrap().unwrap();
        shared += usize::from(c.status == CaseStatus::Merged && c.reply.is_some());
    }
    assert!(shared > 0, "some merged cases got their original's reply");
    let report = h.app.reconcile().await.unwrap();
    assert_eq!(report.cases, ids.len());
    assert!(report.counters > 50);
    assert!(report.differences.is_empty(), "{:?}", report.differences);

    // The check itself notices a wrong counter.
    let stored = h.store.get(&ids[0]).await.unwrap().unwrap();
    let mut broken = stored.clone();
    broken.version += 1;
    let bogus = mailbox_domain::stats::CounterDelta { key: mailbox_domain::stats::Cell::of(&broken).key(), delta: 5 };
    h.store.update(&broken, &stored, &[], &[], &[bogus], &[]).await.unwrap();
    assert_eq!(h.app.reconcile().await.unwrap().differences.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calendar_import_recomputes_open_deadlines_and_records_it() {
    let h = Harness::new("calendar", at("2026-12-28T02:00:00Z"));
    // No refresh interval: the recomputation job runs at once instead of a minute after the import.
    h.app.set_calendar_refresh(std::time::Duration::ZERO);
    let s = h.app.submit(&request(1, "consultation"), None).await.unwrap();
    let id = h.store.get_by_number(&CaseNumber::new(s.number)).await.unwrap().unwrap().id;
    let d = staff(Role::Dispatcher, "city-xfj");
    h.app.act(&d, &id, None, Command::Accept).await.unwrap();
    let dispatch = Command::Dispatch {
        mode: DispatchMode::Transfer,
        lead: UnitId::new("water"),
        co_handlers: vec![],
        class: DeadlineClass::Simple,
        special_days: None,
    };
    h.app.act(&d, &id, None, dispatch).await.unwrap();
    let case = h.app.act(&staff(Role::Handler, "water"), &id, None, Command::Receive).await.unwrap();
    let before = case.deadline.unwrap();
    assert!(before.provisional, "2027 has no notice yet");

    let notice = r#"{"year": 2027, "papers": ["test notice"], "days": [
        {"name": "元旦", "date": "2027-01-01", "isOffDay": true}]}"#;
    let result = h.app.import_calendar(notice).await.unwrap();
    assert!(result.recompute_queued);
    assert!(h.store.get(&id).await.unwrap().unwrap().deadline.unwrap().provisional, "recomputed in the background");
    assert_eq!(run_jobs(&h).await, vec![JobOutcome::Finished { recomputed: 1, failed: 0, recorded: true }]);
    let case = h.store.get(&id).await.unwrap().unwrap();
    let after = case.deadline.unwrap();
    assert!(!after.provisional, "provisional deadlines become final");
    assert!(after.due_on > before.due_on);
    let events = h.store.events(&id).await.unwrap();
    assert!(events.iter().any(|e| matches!(e.kind, EventKind::DeadlineRecomputed { provisional: false, .. })));
    assert!(h.app.import_calendar(notice).await.unwrap().recompute_queued);
    assert_eq!(
        run_jobs(&h).await,
        vec![JobOutcome::Finished { recomputed: 0, failed: 0, recorded: true }],
        "the same file again changes nothing"
    );
    assert!(h.app.import_calendar("{\"year\": 2027}").await.is_err());
    // The notice is stored and loaded at the next start.
    assert_eq!(h.store.notices().await.unwrap().notices.len(), 1);
    assert_eq!(h.app.load_stored_notices().await.unwrap(), 1);
    assert!(h.app.calendar().has_notice(2027));
}

/// Runs the waiting background jobs as the embedded worker does, until the queue is empty.
async fn run_jobs(h: &Harness) -> Vec<JobOutcome> {
    use mailbox_app::ports::HandoffQueue;
    let mut outcomes = Vec::new();
    loop {
        let batch = h.store.receive(JOBS_QUEUE, 10, std::time::Duration::from_secs(30)).await.unwrap();
        if batch.is_empty() {
            return outcomes;
        }
        for m in batch {
            outcomes.push(h.app.take_job(&m.body).await.unwrap());
            h.store.delete(JOBS_QUEUE, &m.receipt).await.unwrap();
        }
    }
}
