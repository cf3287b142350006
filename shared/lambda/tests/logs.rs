//! The functions' JSON logs, as CloudWatch Logs Insights and jq read them: every line of a flow —
//! submission, triage from the queue, the hand-off consumer, the schedules, the relay — is one JSON object in
//! which no key repeats at any depth (a repeated key keeps only one of its values in those tools).

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use axum::body::Body;
use mailbox_app::http::Routes;
use mailbox_aws::{sdk_config, DynamoStore};
use mailbox_conformance::moto;
use mailbox_lambda::{handle_schedule, handle_sqs, http_router, json_logs, Config, Consumer};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use tower::ServiceExt;

/// A JSON value read with a check that no object repeats a key.
struct UniqueKeys;

impl<'de> Deserialize<'de> for UniqueKeys {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UniqueKeysVisitor)
    }
}

struct UniqueKeysVisitor;

impl<'de> Visitor<'de> for UniqueKeysVisitor {
    type Value = UniqueKeys;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UniqueKeys, A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(serde::de::Error::custom(format!("key `{key}` repeats")));
            }
            map.next_value::<UniqueKeys>()?;
        }
        Ok(UniqueKeys)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<UniqueKeys, A::Error> {
        while seq.next_element::<UniqueKeys>()?.is_some() {}
        Ok(UniqueKeys)
    }

    fn visit_bool<E>(self, _: bool) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_i64<E>(self, _: i64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_u64<E>(self, _: u64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_f64<E>(self, _: f64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_str<E>(self, _: &str) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_unit<E>(self) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
}

#[test]
fn the_checker_finds_a_repeated_key() {
    assert!(serde_json::from_str::<UniqueKeys>(r#"{"a": 1, "b": {"c": [1, {"d": 2}]}}"#).is_ok());
    assert!(serde_json::from_str::<UniqueKeys>(r#"{"fields": {"message": "x", "message": "y"}}"#).is_err());
}

/// Everything the subscriber writes, line by line.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_log_line_of_a_flow_is_json_with_unique_keys() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing::subscriber::set_global_default(json_logs(move || writer.clone())).unwrap();

    let endpoint = moto::moto();
    std::env::set_var("AWS_ENDPOINT_URL", endpoint);
    std::env::set_var("AWS_REGION", "us-east-1");
    std::env::set_var("AWS_ACCESS_KEY_ID", "test");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
    let prefix = format!("{}-", moto::unique("logs"));
    let config = Config {
        table: moto::unique("logs"),
        queue_prefix: prefix.clone(),
        queue_url_prefix: Some(format!("{endpoint}/123456789012/")),
        org_config: None,
        attachments_bucket: "files".into(),
    };
    let sdk = sdk_config(Some(endpoint)).await;
    DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), config.table.clone()).create_table().await.unwrap();
    let org = mailbox_domain::Organisation::guangan();
    let queues: Vec<String> = mailbox_lambda::queue_names(&org).iter().map(|q| format!("{prefix}{q}")).collect();
    mailbox_aws::SqsQueues::create(&aws_sdk_sqs::Client::new(&sdk), &queues, 3).await.unwrap();
    let instance = mailbox_lambda::instance(&config).await.unwrap();

    let event = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/submit.json")).unwrap();
    let (parts, body) = lambda_http::request::from_str(&event).unwrap().into_parts();
    let request = axum::http::Request::from_parts(parts, Body::from(body.as_ref().to_vec()));
    let response = http_router(instance.clone(), Routes::Submit).oneshot(request).await.unwrap();
    assert_eq!(response.status(), 201);
    let all = mailbox_app::ports::CaseQuery { limit: 10, ..Default::default() };
    let id = instance.app.store.list(&all).await.unwrap().cases[0].id.to_string();
    let record = |n: &str, body: String| {
        let mut m = SqsMessage::default();
        m.message_id = Some(n.into());
        m.body = Some(body);
        m
    };
    // The triage sample's message (the submission's event as the bus delivers it) for this case.
    let sample: SqsEvent = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/triage.json")).unwrap(),
    )
    .unwrap();
    let message = sample.records[0].body.clone().unwrap().replace("__CASE__", &id);
    let mut batch = SqsEvent::default();
    batch.records = vec![record("m-ok", message), record("m-bad", "poison".into())];
    let response = handle_sqs(&instance.app, Consumer::Triage, batch.clone()).await;
    assert_eq!(response.batch_item_failures.len(), 1);
    handle_sqs(&instance.app, Consumer::Handoff, batch).await;
    handle_schedule(&instance.app, serde_json::json!({})).await.unwrap();
    // The relay, with the bus out of reach: its warnings and its summary line.
    let stream: aws_lambda_events::event::dynamodb::Event = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/relay-stream.json")).unwrap(),
    )
    .unwrap();
    let down = mailbox_aws::sdk_config_at("http://127.0.0.1:9", "us-east-1").await;
    let bus = mailbox_aws::EventBridgeBus::new(aws_sdk_eventbridge::Client::new(&down), "nowhere");
    assert_eq!(mailbox_lambda::handle_stream(&bus, stream).await.batch_item_failures.len(), 1);

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 4, "the flow logged: {text}");
    for line in &lines {
        if let Err(e) = serde_json::from_str::<UniqueKeys>(line) {
            panic!("{e}: {line}");
        }
    }
    assert!(text.contains("\"message_id\":\"m-ok\""), "the queue consumer's lines are among them: {text}");
    assert!(text.contains("\"message_id\":\"m-bad\""), "{text}");
    assert!(text.contains("event not published") && text.contains("stream batch relayed"), "{text}");
}
