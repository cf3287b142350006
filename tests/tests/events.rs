//! Domain events: the samples of `events/bus/` are what the code reads and writes; a case's life
//! yields its events in commit order, without personal data; the embedded bus routes them as the
//! template's rules do on AWS; events whose queue failed are published later, each once.

use mailbox_app::events::{matches, relay_outbox, rules, Envelope, LocalBus};
use mailbox_app::input::SubmitRequest;
use mailbox_app::ports::{CaseStore, EventOutbox, HandoffQueue};
use mailbox_conformance::instances::FailingSends;
use mailbox_domain::events::{DetailType, DomainEvent};
use mailbox_domain::workflow::Command;
use mailbox_domain::{Actor, CaseNumber, DeadlineClass, DispatchMode, Organisation, Role, UnitId};
use mailbox_tests::{at, Harness};
use std::path::PathBuf;
use std::sync::Arc;

fn samples() -> Vec<(String, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events/bus");
    let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| (p.file_stem().unwrap().to_str().unwrap().to_owned(), std::fs::read_to_string(&p).unwrap()))
        .collect();
    out.sort();
    out
}

#[test]
fn every_sample_is_an_event_of_the_code_and_every_event_has_a_sample() {
    let samples = samples();
    for (name, text) in &samples {
        let envelope = Envelope::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(envelope.detail_type.name(), name, "the file is named after its detail-type");
        // Field for field: nothing in the sample the code does not know (it would be dropped by the
        // round trip), nothing the code writes missing from the sample.
        let file: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_value(&envelope.detail).unwrap(), file["detail"], "{name}");
        assert_eq!(envelope.detail.event_id, format!("{}-{}", envelope.detail.case_id, envelope.detail.seq), "{name}");
    }
    for t in DetailType::ALL {
        assert!(samples.iter().any(|(n, _)| n == t.name()), "events/bus/{}.json is missing", t.name());
    }
}

#[test]
fn the_samples_go_where_the_rules_send_them() {
    let rules = rules(&Organisation::guangan());
    let queues_of = |name: &str| -> Vec<String> {
        let (_, text) = samples().into_iter().find(|(n, _)| n == name).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        rules.iter().filter(|r| matches(&r.pattern, &value)).map(|r| r.queue.clone()).collect()
    };
    assert_eq!(queues_of("CaseSubmitted"), ["triage"]);
    assert_eq!(queues_of("CaseDispatched"), ["notify", "handoff-linshui"]);
    // A reply also goes to triage's consumer, which shares it with the cases merged into it (并单).
    assert_eq!(queues_of("CaseReplied"), ["triage", "notify"]);
    assert_eq!(queues_of("CaseReplyShared"), ["notify"]);
    assert_eq!(queues_of("CaseMerged"), ["notify"], "a unit that had the case hears it was merged");
    assert!(queues_of("CaseReceived").is_empty());
}

fn request() -> SubmitRequest {
    SubmitRequest {
        mailbox: "mayor".into(),
        kind: "complaint".into(),
        title: "王小明反映幸福小区电梯停运".into(),
        body: "幸福小区三号楼电梯停运三个月，我是王小明，电话 139 1234 5678，住幸福小区3栋2单元501。".into(),
        name: "王小明".into(),
        phone: "13912345678".into(),
        public: true,
    }
}

/// A case's life, submitted to rated, across a jurisdiction.
async fn case_life(h: &Harness) -> mailbox_domain::CaseId {
    let submitted = h.app.submit(&request(), None).await.unwrap();
    let id = h.store.get_by_number(&CaseNumber::new(submitted.number.as_str())).await.unwrap().unwrap().id;
    let xfj = Actor::staff("xfj", Role::Dispatcher, Some(UnitId::new("city-xfj")));
    let ls = Actor::staff("ls-gov", Role::Handler, Some(UnitId::new("linshui-gov")));
    let dispatch = Command::Dispatch {
        mode: DispatchMode::Transfer,
        lead: UnitId::new("linshui-gov"),
        co_handlers: vec![],
        class: DeadlineClass::Standard,
        special_days: None,
    };
    for (actor, command) in [
        (&xfj, Command::Accept),
        (&xfj, dispatch),
        (&ls, Command::Receive),
        (&ls, Command::Reply { text: "已联系王小明（13912345678），电梯已修复。".into(), public: true }),
    ] {
        h.app.act(actor, &id, None, command).await.unwrap();
    }
    h.app.citizen_rate(&submitted.number, &submitted.query_code, "client", true, "满意，谢谢".into()).await.unwrap();
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_life_yields_its_events_in_commit_order_without_personal_data() {
    let h = Harness::new("events-life", at("2026-03-02T09:00:00+08:00"));
    let id = case_life(&h).await;
    let pending = h.store.unpublished(100).await.unwrap();
    let types: Vec<&str> = pending.iter().map(|(_, e)| e.detail_type.name()).collect();
    assert_eq!(
        types,
        ["CaseSubmitted", "CaseAccepted", "CaseDispatched", "CaseReceived", "CaseReplied", "CaseRated", "CaseClosed"]
    );
    let positions: Vec<i64> = pending.iter().map(|(p, _)| *p).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "commit order");
    // Every event names the case's number, the submission's too (given with the case's write).
    let number = h.store.get(&id).await.unwrap().unwrap().number;
    assert!(pending.iter().all(|(_, e)| e.detail.case_number == number), "{pending:?}");
    let dispatched = &pending[2].1;
    assert_eq!(dispatched.detail.handoff.as_ref().map(|j| j.as_str()), Some("linshui"));
    assert_eq!(dispatched.detail.case_id, id);
    let replied = &pending[4].1.detail;
    assert_eq!((replied.public, replied.on_time), (Some(true), Some(true)));
    let all = serde_json::to_string(&pending.iter().map(|(_, e)| e).collect::<Vec<&DomainEvent>>()).unwrap();
    // Staff appear as a role and a unit, never by user name (a user name is quoted on its own).
    for personal in ["王小明", "1391234", "5678", "幸福小区", "电梯", "满意", "\"xfj\"", "\"ls-gov\""] {
        assert!(!all.contains(personal), "{personal} in the events: {all}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_bus_routes_each_event_once() {
    let h = Harness::new("events-route", at("2026-03-02T09:00:00+08:00"));
    let id = case_life(&h).await;
    let triage: Vec<Envelope> = h.relayed("triage").await.iter().map(|b| Envelope::parse(b).unwrap()).collect();
    let types: Vec<DetailType> = triage.iter().map(|e| e.detail_type).collect();
    assert_eq!(types, [DetailType::CaseSubmitted, DetailType::CaseReplied], "the new case, and its reply (并单)");
    assert!(triage.iter().all(|e| e.detail.case_id == id));
    let handoff = h.relayed("handoff-linshui").await;
    assert_eq!(handoff.len(), 1);
    assert_eq!(Envelope::parse(&handoff[0]).unwrap().detail_type, DetailType::CaseDispatched);
    assert!(h.relayed("handoff-city").await.is_empty(), "no hand-off within a jurisdiction");
    assert!(h.store.unpublished(100).await.unwrap().is_empty(), "all published");
    // Published events are not published again.
    assert!(h.relayed("triage").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_whose_queue_failed_are_published_later_and_once() {
    let h = Harness::new("events-flaky", at("2026-03-02T09:00:00+08:00"));
    case_life(&h).await;
    // Down for longer than one relay run tries: four tries of the four events that go to a queue
    // (submitted, accepted, dispatched, replied) are 16 failed sends, and 4 more fail in the next run.
    let queue: Arc<dyn HandoffQueue> = Arc::new(FailingSends::new(Arc::new(h.store.clone()), 20));
    let bus = LocalBus { queue, rules: rules(&h.app.org) };
    assert_eq!(relay_outbox(&h.store, &bus, h.app.now()).await.unwrap(), 3, "only the events no rule takes");
    assert_eq!(h.store.unpublished(100).await.unwrap().len(), 4, "nothing lost: what did not go waits");
    assert_eq!(relay_outbox(&h.store, &bus, h.app.now()).await.unwrap(), 4, "the next run publishes the rest");
    assert!(h.store.unpublished(100).await.unwrap().is_empty());
    // Each event reached its queues once: two triage messages (submitted, replied), one hand-off.
    assert_eq!(h.relayed("triage").await.len(), 2);
    assert_eq!(h.relayed("handoff-linshui").await.len(), 1);
}
