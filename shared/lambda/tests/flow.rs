//! End to end through the Lambda handlers with the sample events of `events/`, on DynamoDB and SQS
//! served by moto: a case submitted, triaged, dispatched from the city to a district unit across that
//! district's queue, received, replied, and queried by the citizen; a redelivered hand-off and a
//! poison message; the scheduled handler; each function serving only its own routes.

mod support;

use support::event;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use axum::body::Body;
use mailbox_app::http::Routes;
use mailbox_app::ports::{CaseStore, HandoffQueue};
use mailbox_aws::{sdk_config, DynamoStore, SqsQueues};
use mailbox_conformance::moto;
use mailbox_domain::{CaseNumber, UnitId};
use mailbox_lambda::{handle_schedule, handle_sqs, handle_stream, http_router, queue_names, Config, Consumer};
use serde_json::Value;
use std::time::Duration;
use tower::ServiceExt;

/// Sends an API Gateway v2 event through a function's router, as `lambda_http` does.
async fn call(router: &axum::Router, name: &str, vars: &[(&str, &str)]) -> (u16, Value) {
    let request = lambda_http::request::from_str(&event(name, vars)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let (parts, body) = request.into_parts();
    let body: Vec<u8> = body.as_ref().to_vec();
    let response = router.clone().oneshot(axum::http::Request::from_parts(parts, Body::from(body))).await.unwrap();
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// What the Lambda SQS integration does: receive a batch, hand it to the function, delete the
/// messages the function did not report as failed.
async fn deliver(app: &mailbox_app::App, queues: &SqsQueues, queue: &str, consumer: Consumer) -> (usize, usize) {
    let mut handled = (0, 0);
    for _ in 0..20 {
        let batch = queues.receive(queue, 10, Duration::from_secs(1)).await.unwrap();
        if batch.is_empty() {
            if handled.0 + handled.1 > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        let records = batch
            .iter()
            .map(|m| {
                let mut r = SqsMessage::default();
                r.message_id = Some(m.id.clone());
                r.body = Some(m.body.clone());
                r
            })
            .collect();
        let mut sqs_event = SqsEvent::default();
        sqs_event.records = records;
        let response = handle_sqs(app, consumer, sqs_event).await;
        let failed: Vec<&str> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
        for m in &batch {
            if failed.contains(&m.id.as_str()) {
                handled.1 += 1;
            } else {
                queues.delete(queue, &m.receipt).await.unwrap();
                handled.0 += 1;
            }
        }
    }
    handled
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_through_every_function() {
    let endpoint = support::moto_env();
    let stack = moto::unique("stack");
    let sdk = sdk_config(Some(endpoint)).await;
    // The functions address queues by URL prefix as the template configures them; the test's own
    // handle below looks the URLs up, so both must meet at the same queues.
    let url_prefix = format!("{endpoint}/123456789012/"); // moto's default account
    let config = Config {
        table: moto::unique("mailbox"),
        queue_prefix: format!("{stack}-"),
        queue_url_prefix: Some(url_prefix),
        org_config: None,
        attachments_bucket: "files".into(),
    };
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), config.table.clone());
    store.create_table().await.unwrap();
    let org = mailbox_domain::Organisation::guangan();
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let physical: Vec<String> = queue_names(&org).iter().map(|q| format!("{}{q}", config.queue_prefix)).collect();
    SqsQueues::create(&sqs, &physical, 3).await.unwrap();
    let pairs: Vec<(String, String)> =
        queue_names(&org).into_iter().map(|q| (q.clone(), format!("{}{q}", config.queue_prefix))).collect();
    let queues = SqsQueues::connect_as(sqs, &pairs).await.unwrap();
    // The bus with the template's rules, and the table's stream as the `relay` function gets it.
    let bus = support::bus(&sdk, &moto::unique("bus"), &config.queue_prefix).await;
    let mut stream = support::StreamPump::new(&sdk, &config.table).await;
    let relay = |batch| {
        let bus = &bus;
        async move {
            let response = handle_stream(bus, batch).await;
            assert!(response.batch_item_failures.is_empty(), "{response:?}");
        }
    };

    // Each function builds its app as on AWS, from the environment. The staff of the sample events
    // are the demo accounts, linked to the subjects of the same names.
    let instance = mailbox_lambda::instance(&config).await.unwrap();
    assert!(mailbox_app::accounts::seed_demo_accounts(&store).await.unwrap());
    let app = instance.app.clone();
    let submit = http_router(instance.clone(), Routes::Submit);
    let query = http_router(instance.clone(), Routes::Query);
    let assign = http_router(instance.clone(), Routes::Assign);
    let reply = http_router(instance.clone(), Routes::Reply);
    let staff = http_router(instance.clone(), Routes::Staff);

    let (status, body) = call(&submit, "submit", &[]).await;
    assert_eq!(status, 201, "{body}");
    let (number, code) = (body["number"].as_str().unwrap().to_owned(), body["query_code"].as_str().unwrap().to_owned());
    let (status, invalid) = call(&submit, "submit-invalid", &[]).await;
    assert_eq!(status, 400, "{invalid}");
    let case = store.get_by_number(&CaseNumber::new(number.as_str())).await.unwrap().unwrap();
    let id = case.id.to_string();
    let vars = [("__CASE__", id.as_str()), ("__NUMBER__", number.as_str()), ("__CODE__", code.as_str())];

    // Triage: the stream brings the submission's event to the relay, the bus to the triage queue;
    // the new case reaches the city's 信访局.
    let batch = stream.next_batch().await;
    // The submission's domain event names the number its transaction gave the case.
    let images = format!("{:?}", batch.records);
    assert!(images.contains(&format!("\\\"case_number\\\":\\\"{number}\\\"")), "{images}");
    relay(batch).await;
    assert_eq!(deliver(&app, &queues, "triage", Consumer::Triage).await, (1, 0));
    let notes = store.notifications(Some(&UnitId::new("city-xfj")), None, 10).await.unwrap().items;
    assert!(notes.iter().any(|n| n.subject.starts_with("新留言待受理")), "{notes:?}");
    let triaged = store.get(&case.id).await.unwrap().unwrap();
    let note = triaged.triage.as_ref().expect("triage recorded its suggestions on the case");
    assert!(note.domain.is_some(), "{note:?}");
    // A redelivered triage message (the sample event) records nothing twice — and writes nothing:
    // moto, after a refused transaction, puts back a copy of the whole table whose stream this pump
    // no longer reads (DynamoDB keeps one stream), so a refused write here would also hide every
    // later change from the relay.
    let redelivered: SqsEvent = serde_json::from_str(&event("triage", &vars)).unwrap();
    assert!(handle_sqs(&app, Consumer::Triage, redelivered).await.batch_item_failures.is_empty());
    assert_eq!(store.get(&case.id).await.unwrap().unwrap().version, triaged.version, "nothing recorded twice");

    // The city dispatches to 邻水县人民政府: the hand-off crosses 邻水县's queue.
    let (status, body) = call(&assign, "assign-accept", &vars).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = call(&assign, "assign-dispatch", &vars).await;
    assert_eq!(status, 200, "{body}");
    let version = body["case"]["version"].as_u64().unwrap().to_string();
    relay(stream.next_batch().await).await;
    // Triage's record came back to the triage queue as `CaseTriaged`: topic-finding, its own step.
    assert_eq!(deliver(&app, &queues, "triage", Consumer::Triage).await, (1, 0));
    assert_eq!(deliver(&app, &queues, "handoff-linshui", Consumer::Handoff).await, (1, 0));
    let delivered = |notes: &[mailbox_app::ports::Notification]| {
        notes.iter().filter(|n| n.subject.starts_with("上级交办留言已送达")).count()
    };
    let notes = store.notifications(Some(&UnitId::new("linshui-gov")), None, 20).await.unwrap().items;
    assert_eq!(delivered(&notes), 1);

    // A redelivered hand-off changes nothing; a poison message is reported, the good one handled.
    let mut handoff: SqsEvent = serde_json::from_str(&event(
        "handoff",
        // The hand-off is JSON inside the event's JSON string, so its quotes are escaped.
        &[("__CASE__", id.as_str()), (r#"\"case_version\": 3"#, &format!(r#"\"case_version\": {version}"#))],
    ))
    .unwrap();
    let response = handle_sqs(&app, Consumer::Handoff, handoff.clone()).await;
    let failed: Vec<String> = response.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect();
    assert_eq!(failed, vec![handoff.records[1].message_id.clone().unwrap()], "only the poison message fails");
    handoff.records.truncate(1);
    assert!(handle_sqs(&app, Consumer::Handoff, handoff.clone()).await.batch_item_failures.is_empty());
    let notes = store.notifications(Some(&UnitId::new("linshui-gov")), None, 20).await.unwrap().items;
    assert_eq!(delivered(&notes), 1, "still one notification after redelivery");

    // Through the real queue, the poison message ends in the dead-letter queue after its retries,
    // while a good message sent after it is handled.
    queues.send("handoff-linshui", "poison: not json").await.unwrap();
    let good = handoff.records[0].body.clone().unwrap();
    queues.send("handoff-linshui", &good).await.unwrap();
    let mut ok = 0;
    for _ in 0..8 {
        ok += deliver(&app, &queues, "handoff-linshui", Consumer::Handoff).await.0;
        tokio::time::sleep(Duration::from_millis(1100)).await;
        if !queues.dead_letters("handoff-linshui").await.unwrap().is_empty() && ok > 0 {
            break;
        }
    }
    assert_eq!(ok, 1, "the good message was handled");
    let dead = queues.dead_letters("handoff-linshui").await.unwrap();
    assert!(dead.iter().any(|m| m.body.starts_with("poison")), "the poison message is in the DLQ: {dead:?}");

    // Each function serves only its own actions.
    let (status, _) = call(&assign, "reply-receive", &vars).await;
    assert_eq!(status, 404, "the assign function does not receive cases");
    let (status, body) = call(&reply, "reply-receive", &vars).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = call(&reply, "reply-reply", &vars).await;
    assert_eq!(status, 200, "{body}");

    let (status, seen) = call(&query, "query-case", &vars).await;
    assert_eq!(status, 200, "{seen}");
    assert_eq!(seen["status"], "replied");
    assert_eq!(seen["handling_unit"], "邻水县人民政府");
    let (status, _) = call(&query, "query-case", &[("__NUMBER__", number.as_str()), ("__CODE__", "WRONGCODE0")]).await;
    assert_eq!(status, 404);
    let (status, stats) = call(&query, "query-stats", &[]).await;
    assert_eq!(status, 200, "{stats}");

    let (status, inbox) = call(&staff, "staff-inbox", &[]).await;
    assert_eq!(status, 200, "{inbox}");
    let (status, _) = call(&staff, "staff-unauthenticated", &[]).await;
    assert_eq!(status, 401, "a client cannot forge the authorizer's claims");
    // Role and unit come from the account linked to the token's subject, never from its claims: a
    // handler whose identity-provider profile says "supervisor" is still the handler.
    let claims_supervisor = [
        ("/api/v1/staff/inbox", "/api/v1/auth/me"),
        (r#""sub": "zfb""#, r#""sub": "ls-gov""#),
        (
            r#""name": "市政府办督查员""#,
            r#""custom:mailbox_role": "supervisor", "custom:mailbox_unit": "city-gov-office""#,
        ),
    ];
    let (status, me) = call(&staff, "staff-inbox", &claims_supervisor).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!((&me["role"], &me["unit"]), (&serde_json::json!("handler"), &serde_json::json!("linshui-gov")), "{me}");
    let (status, _) = call(&staff, "staff-inbox", &[(r#""sub": "zfb""#, r#""sub": "nobody""#)]).await;
    assert_eq!(status, 401, "a subject linked to no account is not signed in");

    let sweep: Value = serde_json::from_str(&event("deadlines-sweep", &[])).unwrap();
    let result = handle_schedule(&app, sweep).await.unwrap();
    assert_eq!(result["job"], "sweep");
    let digest: Value = serde_json::from_str(&event("deadlines-digest", &[])).unwrap();
    assert_eq!(handle_schedule(&app, digest).await.unwrap()["job"], "digest");

    let events = store.events(&case.id).await.unwrap();
    assert_eq!(
        events.len(),
        6,
        "submitted, triaged, accepted, dispatched, received, replied — nothing twice: {events:?}"
    );

    // The submission sent again with its idempotency key: the same case. Last, because the retry's
    // create transaction is refused by its idempotency condition, and moto (unlike DynamoDB, which
    // writes nothing of a cancelled transaction) applies the items after the refused one, emits
    // their stream records and then restores a copy of the table whose stream this pump no longer
    // reads. (The stream's "nothing twice" is checked above; here the table: no second case is
    // counted.)
    let cell = mailbox_domain::stats::Cell::of(&case).key();
    let counted = store.counters(&cell).await.unwrap();
    let (status, again) = call(&submit, "submit", &[]).await;
    assert_eq!(
        (status, &again["number"]),
        (201, &Value::String(number.clone())),
        "the same idempotency key, the same case"
    );
    assert_eq!(again["query_code"].as_str(), Some(code.as_str()));
    assert_eq!(store.counters(&cell).await.unwrap(), counted, "the retry counted no second case");
}
