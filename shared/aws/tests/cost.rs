//! Cost tests: DynamoDB requests counted by an SDK interceptor, against moto. A complete case life
//! costs a small, documented number of requests, each step only requests its function's IAM policy
//! in `infra/template.yaml` grants; the deadline sweep over 5,000 open cases of which 10 are due
//! reads only the due ones and never scans.

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use chrono::{DateTime, Duration, Utc};
use mailbox_app::input::SubmitRequest;
use mailbox_app::ports::{CaseStore, ManualClock};
use mailbox_app::{Adapters, App};
use mailbox_aws::{sdk_config, DynamoStore, SqsQueues};
use mailbox_conformance::moto;
use mailbox_domain::case::{Case, Citizen};
use mailbox_domain::workflow::{Command, Context, NewCase};
use mailbox_domain::{
    Actor, Calendar, CaseId, CaseNumber, DeadlineClass, DispatchMode, Kind, MailboxId, Organisation, Role, UnitId,
};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

/// Counts requests by operation (`X-Amz-Target`, e.g. `DynamoDB_20120810.Query`).
#[derive(Debug, Default, Clone)]
struct Counter(Arc<Mutex<BTreeMap<String, usize>>>);

impl Intercept for Counter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_transmit(
        &self,
        ctx: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let target = ctx.request().headers().get("x-amz-target").unwrap_or("?");
        let op = target.rsplit('.').next().unwrap_or(target).to_owned();
        *self.0.lock().unwrap().entry(op).or_default() += 1;
        Ok(())
    }
}

impl Counter {
    fn take(&self) -> BTreeMap<String, usize> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// The DynamoDB actions the SAM template grants a function: the `dynamodb:` names in the `Action:`
/// lists of its resource (`<Name>Function:` up to the next resource).
fn granted(function: &str) -> BTreeSet<String> {
    let template = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/template.yaml")).unwrap();
    let header = format!("  {}{}Function:", function[..1].to_uppercase(), &function[1..]);
    let resource_starts = |l: &str| !l.is_empty() && !l.starts_with("   ");
    template
        .lines()
        .skip_while(|l| *l != header)
        .skip(1)
        .take_while(|l| !resource_starts(l))
        .filter(|l| l.trim_start().starts_with("Action:"))
        .flat_map(|l| l.split(|c: char| c == '[' || c == ']' || c == ',' || c.is_whitespace()))
        .filter_map(|a| a.strip_prefix("dynamodb:"))
        .map(str::to_owned)
        .collect()
}

fn total(m: &BTreeMap<String, usize>) -> usize {
    m.values().sum()
}

async fn setup(now: DateTime<Utc>) -> (Arc<App>, DynamoStore, Counter, Arc<ManualClock>) {
    let endpoint = moto::moto();
    let sdk = sdk_config(Some(endpoint)).await;
    let counter = Counter::default();
    let config = aws_sdk_dynamodb::config::Builder::from(&sdk).interceptor(counter.clone()).build();
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(config), moto::unique("cost"));
    store.create_table().await.unwrap();
    let org = Arc::new(Organisation::guangan());
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let names = mailbox_app::service::queue_names(&org);
    let pairs: Vec<(String, String)> = names.iter().map(|n| (n.clone(), moto::unique(n))).collect();
    SqsQueues::create(&sqs, &pairs.iter().map(|(_, p)| p.clone()).collect::<Vec<_>>(), 5).await.unwrap();
    let queues = Arc::new(SqsQueues::connect_as(sqs, &pairs).await.unwrap());
    let clock = Arc::new(ManualClock::new(now));
    let shared = Arc::new(store.clone());
    let adapters = Adapters {
        store: shared.clone(),
        queue: queues,
        notifier: shared.clone(),
        clock: clock.clone(),
        limits: shared,
    };
    let app = Arc::new(App::new(org, Calendar::builtin().clone(), adapters));
    app.set_sweep_concurrency(1); // as the Lambda functions run it
    app.load_stored_notices().await.unwrap(); // as every instance does at its start
    counter.take();
    (app, store, counter, clock)
}

fn staff(role: Role, unit: &str) -> Actor {
    Actor::staff(unit, role, Some(UnitId::new(unit)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_complete_case_life_costs_few_requests() {
    let now = DateTime::parse_from_rfc3339("2026-11-23T02:00:00Z").unwrap().with_timezone(&Utc);
    let (app, store, counter, _) = setup(now).await;
    let request = SubmitRequest {
        mailbox: "mayor".into(),
        kind: "complaint".into(),
        title: "路灯不亮".into(),
        body: "某路段路灯不亮".into(),
        name: "张三".into(),
        phone: "13812345678".into(),
        public: true,
    };
    let mut steps = Vec::new();
    let submitted = app.submit(&request, Some("cost-key")).await.unwrap();
    steps.push(("submit", counter.take()));
    let id = store.get_by_number(&CaseNumber::new(submitted.number.as_str())).await.unwrap().unwrap().id;
    counter.take();
    app.take_triage(&serde_json::json!({ "case": id }).to_string()).await.unwrap();
    steps.push(("triage", counter.take()));
    let d = staff(Role::Dispatcher, "city-xfj");
    let h = staff(Role::Handler, "transport");
    let dispatch = Command::Dispatch {
        mode: DispatchMode::Transfer,
        lead: UnitId::new("transport"),
        co_handlers: vec![],
        class: DeadlineClass::Standard,
        special_days: None,
    };
    for (name, actor, cmd) in [
        ("accept", &d, Command::Accept),
        ("dispatch", &d, dispatch),
        ("receive", &h, Command::Receive),
        ("reply", &h, Command::Reply { text: "已修复".into(), public: true }),
    ] {
        app.act(actor, &id, None, cmd).await.unwrap();
        steps.push((name, counter.take()));
    }
    app.citizen_rate(&submitted.number, &submitted.query_code, "client", true, String::new()).await.unwrap();
    steps.push(("rate", counter.take()));

    let mut all: BTreeMap<String, usize> = BTreeMap::new();
    for (name, ops) in &steps {
        println!("{name:<9} {:>2} requests {ops:?}", total(ops));
        // Which function does the step on AWS; its role must allow every request it made.
        let function = match *name {
            "accept" | "dispatch" => "assign",
            "receive" | "reply" => "reply",
            "rate" => "query",
            other => other,
        };
        let allowed = granted(function);
        assert!(allowed.contains("GetItem"), "the {function} policy was read from the template: {allowed:?}");
        for op in ops.keys() {
            assert!(
                allowed.contains(op),
                "{name} runs in the {function} function, whose role lacks dynamodb:{op} ({allowed:?})"
            );
        }
        for (op, n) in ops {
            *all.entry(op.clone()).or_default() += n;
        }
    }
    println!("case life  {:>2} requests {all:?}", total(&all));
    assert!(!all.contains_key("Scan"), "no Scan: {all:?}");
    assert_eq!(
        all.get("TransactWriteItems"),
        Some(&8),
        "one transaction per change (create, triage record, 5 staff/citizen changes) + the triage notification"
    );
    // Documented in the README: submit 3 (sequence, counter months, transaction); triage 6 (the
    // case, one page of the Query of the dispatcher's cases before it — the only case here; two or
    // three pages with hundreds of cases —, the record's 3, the notification); each
    // staff action 3 (read, read for membership, transaction); rating 9 (an attempt taken and given
    // back under the case number and under the client, number lookup, the action, the trail).
    assert_eq!(steps.last().map(|(_, ops)| ops.get("UpdateItem")), Some(Some(&4)), "the rating's attempts");
    assert!(total(&all) <= 30, "a case life costs {} requests: {all:?}", total(&all));
}

/// Cases as the workflow makes them, received at `received`.
fn received_case(org: &Organisation, received: DateTime<Utc>, i: usize) -> Case {
    let ctx = Context { org, calendar: Calendar::builtin(), now: received };
    let new = NewCase {
        mailbox: MailboxId::new("mayor"),
        kind: Kind::Complaint,
        title: format!("留言 {i}"),
        body: "内容".into(),
        citizen: Citizen { name: "张三".into(), phone: "13812345678".into() },
        publishable: false,
    };
    let (mut case, _) =
        Case::submit(&ctx, CaseId::new(format!("c{i:05}")), CaseNumber::new(format!("N{i:05}")), "d".into(), new)
            .unwrap();
    let d = staff(Role::Dispatcher, "city-xfj");
    case.apply(&ctx, &d, Command::Accept).unwrap();
    let dispatch = Command::Dispatch {
        mode: DispatchMode::Transfer,
        lead: UnitId::new("water"),
        co_handlers: vec![],
        class: DeadlineClass::Standard,
        special_days: None,
    };
    case.apply(&ctx, &d, dispatch).unwrap();
    case.apply(&ctx, &staff(Role::Handler, "water"), Command::Receive).unwrap();
    case
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_over_5000_open_cases_reads_only_the_10_due() {
    let now = DateTime::parse_from_rfc3339("2026-11-27T02:00:00Z").unwrap().with_timezone(&Utc);
    let (app, store, counter, _) = setup(now).await;
    let org = Organisation::guangan();
    let cases: Vec<Case> =
        (0..5000)
            .map(|i| {
                if i % 500 == 0 {
                    received_case(&org, now - Duration::days(42), i)
                } else {
                    received_case(&org, now, i)
                }
            })
            .collect();
    assert_eq!(cases.iter().filter(|c| c.next_alarm.is_some_and(|a| a <= now)).count(), 10);
    store.load(&cases).await.unwrap();
    counter.take();

    let report = app.deadline_sweep().await.unwrap();
    let ops = counter.take();
    println!("sweep: {report:?}; {} requests {ops:?}", total(&ops));
    assert_eq!((report.examined, report.escalated), (10, 10));
    assert!(!ops.contains_key("Scan"), "never scans: {ops:?}");
    let allowed = granted("deadlines");
    assert!(ops.keys().all(|op| allowed.contains(op)), "the deadlines role allows {allowed:?}, the sweep used {ops:?}");
    assert_eq!(ops.get("Query"), Some(&8), "one bounded Query per alarm shard");
    assert_eq!(ops.get("TransactWriteItems"), Some(&10));
    assert!(ops.get("UpdateItem").copied().unwrap_or(0) <= 1, "the counter month is registered once: {ops:?}");
    assert!(total(&ops) <= 8 + 10 * 3 + 1, "{} requests: {ops:?}", total(&ops));

    let again = app.deadline_sweep().await.unwrap();
    let ops = counter.take();
    assert_eq!(again.examined, 0, "nothing due any more");
    assert_eq!(total(&ops), 8, "an idle sweep costs one Query per shard: {ops:?}");
}
