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

/// A request: its operation (`X-Amz-Target`, e.g. `DynamoDB_20120810.Query` → `Query`) and body.
type Request = (String, Vec<u8>);

/// Every `ClientRequestToken` seen: each transaction must have its own.
static TOKENS: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// Records every request.
#[derive(Debug, Default, Clone)]
struct Counter(Arc<Mutex<Vec<Request>>>);

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
        let body = ctx.request().body().bytes().unwrap_or_default().to_vec();
        self.0.lock().unwrap().push((op, body));
        Ok(())
    }
}

/// The requests of one step.
struct Step(Vec<Request>);

impl Counter {
    /// The requests since the last `take`. Every transaction among them carries a
    /// `ClientRequestToken` of its own (moto ignores the token: the safe replay it gives is DynamoDB's
    /// documented behaviour, which the emulator cannot show; no SDK retry happens here, so no token
    /// may repeat).
    fn take(&self) -> Step {
        let step = Step(std::mem::take(&mut *self.0.lock().unwrap()));
        for (op, body) in step.0.iter().filter(|(op, _)| op == "TransactWriteItems") {
            let body: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
            let token = body["ClientRequestToken"].as_str().unwrap_or_default().to_owned();
            assert!((1..=36).contains(&token.len()), "{op} without ClientRequestToken: {body}");
            assert!(TOKENS.lock().unwrap().insert(token), "a ClientRequestToken used for two transactions");
        }
        step
    }
}

impl Step {
    /// Requests by operation.
    fn ops(&self) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for (op, _) in &self.0 {
            *m.entry(op.clone()).or_default() += 1;
        }
        m
    }

    /// What IAM checks for each request: the action, and for a write the partition key of the item.
    /// A transaction is checked item by item (its Puts as PutItem, and so on).
    fn needs(&self) -> Vec<(String, Option<String>)> {
        let pk = |v: &serde_json::Value| v.pointer("/PK/S").and_then(|k| k.as_str()).map(str::to_owned);
        let mut out = Vec::new();
        for (op, body) in &self.0 {
            let body: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
            match op.as_str() {
                "TransactWriteItems" => {
                    for item in body["TransactItems"].as_array().into_iter().flatten() {
                        for (kind, action, key) in [
                            ("Put", "PutItem", "Item"),
                            ("Update", "UpdateItem", "Key"),
                            ("Delete", "DeleteItem", "Key"),
                            ("ConditionCheck", "ConditionCheckItem", "Key"),
                        ] {
                            if let Some(x) = item.get(kind) {
                                out.push((action.to_owned(), pk(&x[key])));
                            }
                        }
                    }
                }
                "PutItem" => out.push((op.clone(), pk(&body["Item"]))),
                "UpdateItem" | "DeleteItem" => out.push((op.clone(), pk(&body["Key"]))),
                _ => out.push((op.clone(), None)),
            }
        }
        out
    }
}

/// The policy the SAM template gives a function: the `dynamodb:` actions of its statements and the
/// partition keys its writes are limited to (`dynamodb:LeadingKeys`; none: any).
struct Policy {
    actions: BTreeSet<String>,
    write_keys: Option<Vec<String>>,
}

fn granted(function: &str) -> Policy {
    let template = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/template.yaml")).unwrap();
    let header = format!("  {}{}Function:", function[..1].to_uppercase(), &function[1..]);
    let resource_starts = |l: &str| !l.is_empty() && !l.starts_with("   ");
    let lines: Vec<&str> =
        template.lines().skip_while(|l| *l != header).skip(1).take_while(|l| !resource_starts(l)).collect();
    let list = |l: &str| -> Vec<String> {
        l.split(|c: char| c == '[' || c == ']' || c == ',' || c.is_whitespace() || c == '"')
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let actions = lines
        .iter()
        .filter(|l| l.trim_start().starts_with("Action:"))
        .flat_map(|l| list(l))
        .filter_map(|a| a.strip_prefix("dynamodb:").map(str::to_owned))
        .collect();
    let write_keys = lines.iter().find_map(|l| l.trim_start().strip_prefix("dynamodb:LeadingKeys:")).map(list);
    Policy { actions, write_keys }
}

impl Policy {
    /// Whether the policy allows everything the step asked for.
    fn check(&self, function: &str, step: &str, requests: &Step) {
        assert!(self.actions.contains("GetItem"), "the {function} policy was read from the template");
        for (action, key) in requests.needs() {
            assert!(
                self.actions.contains(&action),
                "{step} runs in the {function} function, whose role lacks dynamodb:{action} ({:?})",
                self.actions
            );
            if let (Some(key), Some(allowed)) = (key, &self.write_keys) {
                let ok = allowed.iter().any(|p| match p.strip_suffix('*') {
                    Some(prefix) => key.starts_with(prefix),
                    None => key == *p,
                });
                assert!(ok, "{step} writes {key} in the {function} function, which may write only {allowed:?}");
            }
        }
    }
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
        limits: shared.clone(),
        topics: shared.clone(),
        discussion: shared.clone(),
        desk: shared.clone(),
        api_keys: shared.clone(),
        attachments: Arc::new(mailbox_aws::S3Attachments::new(&sdk, moto::unique("files"))),
    };
    let app = Arc::new(App::new(org, Calendar::builtin().clone(), adapters));
    app.set_sweep_concurrency(1); // as the Lambda functions run it
    app.load_stored_notices().await.unwrap(); // as every instance does at its start
    counter.take();
    (app, store, counter, clock)
}

/// The bus's message of a case's audit event `seq`, as EventBridge delivers it (its `time` to the
/// second). Its reads are not the case life's: they are taken off the count.
async fn message_of(store: &DynamoStore, app: &App, id: &CaseId, seq: u64, counter: &Counter) -> String {
    let case = store.get(id).await.unwrap().unwrap();
    let event = store.events(id).await.unwrap().into_iter().find(|e| e.seq == seq).unwrap();
    counter.take();
    let domain = mailbox_domain::events::DomainEvent::of(&app.org, &case, &event);
    let mut message = serde_json::to_value(mailbox_app::events::Envelope::local(&domain)).unwrap();
    message["time"] = serde_json::json!(domain.time.format("%Y-%m-%dT%H:%M:%SZ").to_string());
    message.to_string()
}

fn staff(role: Role, unit: &str) -> Actor {
    Actor::staff(unit, role, Some(UnitId::new(unit)))
}

/// One case's life, step by step: the requests of each, and of topic-finding (its own consumer).
async fn case_life(app: &App, store: &DynamoStore, counter: &Counter, key: &str) -> (Vec<(&'static str, Step)>, Step) {
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
    let submitted = app.submit(&request, Some(key)).await.unwrap();
    steps.push(("submit", counter.take()));
    let id = store.get_by_number(&CaseNumber::new(submitted.number.as_str())).await.unwrap().unwrap().id;
    counter.take();
    app.take_triage(&message_of(store, app, &id, 1, counter).await).await.unwrap();
    steps.push(("triage", counter.take()));
    // The triage record's `CaseTriaged` comes back to the triage consumer for topic-finding.
    app.take_triage(&message_of(store, app, &id, 2, counter).await).await.unwrap();
    let topics = counter.take();
    let d = staff(Role::Dispatcher, "city-xfj");
    let h = staff(Role::Handler, "transport");
    for (name, actor, cmd) in [
        ("accept", &d, Command::Accept),
        ("dispatch", &d, mailbox_conformance::fixtures::transfer_to("transport")),
        ("receive", &h, Command::Receive),
        ("reply", &h, Command::Reply { text: "已修复".into(), public: true }),
    ] {
        let case = app.act(actor, &id, None, cmd).await.unwrap();
        steps.push((name, counter.take()));
        if name == "dispatch" {
            // What the hand-off consumer does with the dispatch's message (the policy check below;
            // not part of the case life's count: a same-jurisdiction dispatch sends none).
            let seq = store.events(&id).await.unwrap().last().unwrap().seq;
            let message = message_of(store, app, &case.id, seq, counter).await;
            app.take_handoff(&message).await.unwrap();
            granted("handoff").check("handoff", "hand-off", &counter.take());
        }
    }
    let view = app.citizen_rate(&submitted.number, &submitted.query_code, "client", true, String::new()).await.unwrap();
    steps.push(("rate", counter.take()));
    let (case, trail) = (store.get(&id).await.unwrap().unwrap(), store.events(&id).await.unwrap());
    counter.take();
    let stored = mailbox_app::views::citizen_view(&app.org, &case, &trail);
    assert_eq!(
        serde_json::to_value(&view).unwrap(),
        serde_json::to_value(&stored).unwrap(),
        "the rating's answer is the case as stored, with its whole trail"
    );
    (steps, topics)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_complete_case_life_costs_few_requests() {
    // Not on a whole second: the bus's message carries the second only.
    let now = DateTime::parse_from_rfc3339("2026-11-23T02:00:00.345Z").unwrap().with_timezone(&Utc);
    let (app, store, counter, _) = setup(now).await;
    // The first case of an instance also registers the month of its counters (once per instance
    // and month); the count is a later case's, as nearly every case is.
    let (first, _) = case_life(&app, &store, &counter, "cost-key-1").await;
    let (steps, topics) = case_life(&app, &store, &counter, "cost-key-2").await;

    let mut all: BTreeMap<String, usize> = BTreeMap::new();
    for (name, requests) in &steps {
        let ops = requests.ops();
        println!("{name:<9} {:>2} requests {ops:?}", total(&ops));
        // Which function does the step on AWS; its role must allow every request it made.
        let function = match *name {
            "accept" | "dispatch" => "assign",
            "receive" | "reply" => "reply",
            "rate" => "query",
            other => other,
        };
        granted(function).check(function, name, requests);
        // The public form posts to the same use cases from the site function.
        if matches!(*name, "submit" | "rate") {
            granted("site").check("site", name, requests);
        }
        for (op, n) in ops {
            *all.entry(op).or_default() += n;
        }
    }
    println!("case life  {:>2} requests {all:?}", total(&all));
    let first_total: usize = first.iter().map(|(_, r)| total(&r.ops())).sum();
    println!("(the instance's first case: {first_total} requests)");
    assert_eq!(first_total, total(&all) + 1, "an instance's first case registers its counters' month: one UpdateItem");
    let topic_ops = topics.ops();
    println!("topic-finding (its own consumer) {:>2} requests {topic_ops:?}", total(&topic_ops));
    granted("triage").check("triage", "topic-finding", &topics);
    assert_eq!(topic_ops.get("TransactWriteItems"), Some(&1), "the topic entry with its week's surge counter");
    assert!(total(&topic_ops) <= 5, "topic-finding costs {} requests: {topic_ops:?}", total(&topic_ops));
    assert!(!all.contains_key("Scan"), "no Scan: {all:?}");
    assert_eq!(
        all.get("TransactWriteItems"),
        Some(&8),
        "one transaction per change (create, triage record with its notification, 5 staff/citizen changes) + the rating's attempts taken"
    );
    // Documented in docs/aws.md: submit 2 (the day's sequence read, the transaction that moves it
    // on only from the value read, with the idempotency record put only where there is none: a
    // number is used only by a stored case, a retry takes none); triage 2 (one page of the Query of the
    // dispatcher's cases through this one — the case itself and the ones before it: two or three
    // pages with hundreds of cases —, the record with its notification in one transaction); each
    // staff action 2 (the case, the transaction: the case read is the one written over, so its old
    // lists need no second read); rating 3 (the attempts under the case number and under the
    // client taken in one transaction, the number's Query with the case and its trail, the rating's
    // transaction that gives the attempts back).
    assert_eq!(
        steps.last().map(|(_, r)| r.ops().get("UpdateItem").copied()),
        Some(None),
        "no attempt write of its own"
    );
    assert!(total(&all) <= 15, "a case life costs {} requests: {all:?}", total(&all));

    // A calendar import (the staff function) and its recomputation job (the deadlines function).
    app.set_calendar_refresh(std::time::Duration::ZERO);
    counter.take();
    let notice =
        r#"{"year": 2027, "papers": ["test"], "days": [{"name": "元旦", "date": "2027-01-01", "isOffDay": true}]}"#;
    app.import_calendar(notice).await.unwrap();
    granted("staff").check("staff", "calendar import", &counter.take());
    let job =
        app.queue.receive(mailbox_app::calendar::JOBS_QUEUE, 1, std::time::Duration::from_secs(30)).await.unwrap();
    counter.take();
    let done = app.take_job(&job[0].body).await.unwrap();
    assert!(matches!(done, mailbox_app::calendar::JobOutcome::Finished { recorded: true, .. }), "{done:?}");
    granted("deadlines").check("deadlines", "recomputation", &counter.take());
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
    let requests = counter.take();
    let ops = requests.ops();
    println!("sweep: {report:?}; {} requests {ops:?}", total(&ops));
    assert_eq!((report.examined, report.escalated), (10, 10));
    assert!(!ops.contains_key("Scan"), "never scans: {ops:?}");
    granted("deadlines").check("deadlines", "sweep", &requests);
    assert_eq!(ops.get("Query"), Some(&8), "one bounded Query per alarm shard");
    assert_eq!(ops.get("TransactWriteItems"), Some(&10));
    assert!(ops.get("UpdateItem").copied().unwrap_or(0) <= 1, "the counter month is registered once: {ops:?}");
    assert!(total(&ops) <= 8 + 10 * 3 + 1, "{} requests: {ops:?}", total(&ops));

    let again = app.deadline_sweep().await.unwrap();
    let ops = counter.take().ops();
    assert_eq!(again.examined, 0, "nothing due any more");
    assert_eq!(total(&ops), 8, "an idle sweep costs one Query per shard: {ops:?}");
}
