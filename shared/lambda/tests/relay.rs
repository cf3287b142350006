//! The `relay` function: the table's stream to the event bus. The sample stream batch yields its
//! one domain event; a batch the bus refused is reported from its first unpublished record, and
//! Lambda's retry of it delivers each event once in effect.

mod support;

use aws_lambda_events::event::dynamodb::Event as DynamoDbEvent;
use mailbox_app::input::SubmitRequest;
use mailbox_app::ports::HandoffQueue;
use mailbox_aws::{sdk_config, sdk_config_at, DynamoStore, EventBridgeBus, SqsQueues};
use mailbox_conformance::moto;
use mailbox_domain::events::DetailType;
use mailbox_lambda::{handle_sqs, handle_stream, queue_names, stream_events, Config, Consumer};
use std::time::Duration;

#[test]
fn the_sample_stream_batch_yields_its_one_domain_event() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events/relay-stream.json");
    let batch: DynamoDbEvent = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let events = stream_events(&batch);
    assert_eq!(events.len(), 1, "the audit event's insert; the case item's change is none of the relay's");
    assert_eq!(events[0].0, "100000000000000000001");
    assert_eq!(events[0].1.detail_type, DetailType::CaseSubmitted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_the_bus_refused_is_retried_from_its_first_unpublished_record_and_delivered_once() {
    let endpoint = support::moto_env();
    let sdk = sdk_config(Some(endpoint)).await;
    let prefix = format!("{}-", moto::unique("relay"));
    let config = Config {
        table: moto::unique("relay"),
        queue_prefix: prefix.clone(),
        queue_url_prefix: Some(format!("{endpoint}/123456789012/")),
        org_config: None,
        attachments_bucket: "files".into(),
    };
    DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), config.table.clone()).create_table().await.unwrap();
    let org = mailbox_domain::Organisation::guangan();
    let physical: Vec<String> = queue_names(&org).iter().map(|q| format!("{prefix}{q}")).collect();
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    SqsQueues::create(&sqs, &physical, 3).await.unwrap();
    let pairs: Vec<(String, String)> =
        queue_names(&org).into_iter().map(|q| (q.clone(), format!("{prefix}{q}"))).collect();
    let queues = SqsQueues::connect_as(sqs, &pairs).await.unwrap();
    let bus = support::bus(&sdk, &moto::unique("bus"), &prefix).await;
    let mut stream = support::StreamPump::new(&sdk, &config.table).await;
    let app = mailbox_lambda::app(&config).await.unwrap();

    let request = |title: &str| SubmitRequest {
        mailbox: "mayor".into(),
        kind: "help".into(),
        title: title.into(),
        body: "某路段路灯已坏一周，夜间出行不便。".into(),
        name: "赵六".into(),
        phone: "13700000000".into(),
        public: false,
    };
    for title in ["路灯不亮", "井盖缺失", "公交站牌损坏"] {
        app.submit(&request(title), None).await.unwrap();
    }
    let batch = stream.next_batch().await;
    assert_eq!(stream_events(&batch).len(), 3);

    // EventBridge unreachable: nothing goes, and Lambda is told to retry from the first record.
    let down = sdk_config_at("http://127.0.0.1:9", "us-east-1").await;
    let unreachable = EventBridgeBus::new(aws_sdk_eventbridge::Client::new(&down), "nowhere");
    let response = handle_stream(&unreachable, batch.clone()).await;
    let first = stream_events(&batch)[0].0.clone();
    let failed: Vec<Option<String>> = response.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect();
    assert_eq!(failed, vec![Some(first)]);
    assert!(queues.receive("triage", 10, Duration::from_secs(1)).await.unwrap().is_empty(), "nothing published");

    // Lambda's retry, with EventBridge back: all three reach triage; a second retry of the same
    // batch (the answer to the first was lost, say) publishes them again, and triage, idempotent
    // by case, records each case's suggestions once.
    for _ in 0..2 {
        assert!(handle_stream(&bus, batch.clone()).await.batch_item_failures.is_empty());
    }
    let mut bodies = Vec::new();
    for _ in 0..20 {
        for m in queues.receive("triage", 10, Duration::from_secs(30)).await.unwrap() {
            queues.delete("triage", &m.receipt).await.unwrap();
            bodies.push(m.body);
        }
        if bodies.len() >= 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(bodies.len(), 6, "each event published twice");
    assert!(handle_sqs(&app, Consumer::Triage, support::sqs_event(&bodies)).await.batch_item_failures.is_empty());
    // Each case triaged once: its trail is submitted, triaged.
    let triaged = stream_events(&stream.next_batch().await);
    let kinds: Vec<DetailType> = triaged.iter().map(|(_, e)| e.detail_type).collect();
    assert_eq!(kinds, vec![DetailType::CaseTriaged; 3], "one triage per case, however often its event came");
}

/// The bus's rules in `infra/template.yaml` are the code's (`mailbox_app::events::rules`, which the
/// embedded bus applies): the same patterns, each targeting its queue.
#[test]
fn the_template_routes_events_as_the_embedded_bus_does() {
    let template = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/template.yaml")).unwrap();
    let lines: Vec<&str> = template.lines().collect();
    let mut in_template = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if let Some(json) = line.trim().strip_prefix("EventPattern: ") {
            let pattern: serde_json::Value = serde_json::from_str(json).unwrap();
            let target = lines[i + 1..].iter().find_map(|l| l.trim().strip_prefix("- Id: ")).unwrap().to_owned();
            in_template.push((pattern, target));
        }
    }
    let code: Vec<(serde_json::Value, String)> = mailbox_app::events::rules(&mailbox_domain::Organisation::guangan())
        .into_iter()
        .map(|r| (r.pattern, r.queue))
        .collect();
    assert_eq!(in_template, code);
}
