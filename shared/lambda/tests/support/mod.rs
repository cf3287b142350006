//! What the tests need of AWS beyond the functions: the event bus with the template's rules, and
//! the table's stream read as Lambda's event source mapping reads it.
#![allow(dead_code)]

use aws_lambda_events::event::dynamodb::Event as DynamoDbEvent;
use aws_sdk_dynamodbstreams::types::{AttributeValue, ShardIteratorType};
use mailbox_aws::EventBridgeBus;
use serde_json::{json, Map, Value};

/// An SQS batch of these bodies, as Lambda hands it to a consumer (message ids `m0`, `m1`, …).
pub fn sqs_event(bodies: &[String]) -> aws_lambda_events::event::sqs::SqsEvent {
    let mut event = aws_lambda_events::event::sqs::SqsEvent::default();
    event.records = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let mut r = aws_lambda_events::event::sqs::SqsMessage::default();
            r.message_id = Some(format!("m{i}"));
            r.body = Some(b.clone());
            r
        })
        .collect();
    event
}

/// Creates the bus, its archive and rules with SQS targets (queue `q` is `<prefix>q` in moto's
/// default account), and returns it.
pub async fn bus(sdk: &aws_config::SdkConfig, name: &str, queue_prefix: &str) -> EventBridgeBus {
    let client = aws_sdk_eventbridge::Client::new(sdk);
    let region = sdk.region().map(|r| r.to_string()).unwrap_or_else(|| "us-east-1".into());
    let rules = mailbox_app::events::rules(&mailbox_domain::Organisation::guangan());
    mailbox_aws::eventbridge::create_bus(&client, name, &rules, |q| {
        format!("arn:aws:sqs:{region}:123456789012:{queue_prefix}{q}")
    })
    .await
    .unwrap();
    EventBridgeBus::new(client, name)
}

/// Reads a table's stream from its start, a batch at a time, as Lambda's event source mapping
/// does, and hands each batch over in the shape Lambda gives the `relay` function.
pub struct StreamPump {
    client: aws_sdk_dynamodbstreams::Client,
    iterators: Vec<String>,
}

impl StreamPump {
    pub async fn new(sdk: &aws_config::SdkConfig, table: &str) -> StreamPump {
        let dynamo = aws_sdk_dynamodb::Client::new(sdk);
        let described = dynamo.describe_table().table_name(table).send().await.unwrap();
        let arn = described.table().and_then(|t| t.latest_stream_arn()).expect("the table has a stream").to_owned();
        let client = aws_sdk_dynamodbstreams::Client::new(sdk);
        let stream = client.describe_stream().stream_arn(&arn).send().await.unwrap();
        let mut iterators = Vec::new();
        for shard in stream.stream_description().map(|d| d.shards()).unwrap_or_default() {
            let it = client
                .get_shard_iterator()
                .stream_arn(&arn)
                .shard_id(shard.shard_id().unwrap())
                .shard_iterator_type(ShardIteratorType::TrimHorizon)
                .send()
                .await
                .unwrap();
            iterators.push(it.shard_iterator().unwrap().to_owned());
        }
        StreamPump { client, iterators }
    }

    /// The records written since the last batch, as a Lambda DynamoDB stream event.
    pub async fn next_batch(&mut self) -> DynamoDbEvent {
        let mut records = Vec::new();
        for it in self.iterators.iter_mut() {
            let out = self.client.get_records().shard_iterator(it.as_str()).send().await.unwrap();
            for r in out.records() {
                let change = r.dynamodb().unwrap();
                records.push(json!({
                    "eventID": r.event_id().unwrap_or_default(),
                    "eventName": r.event_name().map(|n| n.as_str()).unwrap_or_default(),
                    "eventSource": "aws:dynamodb",
                    "eventVersion": r.event_version().unwrap_or("1.1"),
                    "awsRegion": r.aws_region().unwrap_or_default(),
                    "dynamodb": {
                        "Keys": image(change.keys()),
                        "NewImage": image(change.new_image()),
                        "SequenceNumber": change.sequence_number().unwrap_or_default(),
                        "SizeBytes": change.size_bytes().unwrap_or_default(),
                        "StreamViewType": "NEW_IMAGE",
                    },
                }));
            }
            if let Some(next) = out.next_shard_iterator() {
                *it = next.to_owned();
            }
        }
        serde_json::from_value(json!({ "Records": records })).unwrap()
    }
}

/// An item's string and number attributes in DynamoDB's JSON (all the relay reads are strings).
fn image(item: Option<&std::collections::HashMap<String, AttributeValue>>) -> Value {
    let mut out = Map::new();
    for (k, v) in item.into_iter().flatten() {
        match v {
            AttributeValue::S(s) => out.insert(k.clone(), json!({ "S": s })),
            AttributeValue::N(n) => out.insert(k.clone(), json!({ "N": n })),
            _ => None,
        };
    }
    Value::Object(out)
}

/// moto's endpoint, with the environment the functions read (region, dummy credentials, the
/// endpoint) set for this test process.
pub fn moto_env() -> &'static str {
    let endpoint = mailbox_conformance::moto::moto();
    std::env::set_var("AWS_ENDPOINT_URL", endpoint);
    std::env::set_var("AWS_REGION", "us-east-1");
    std::env::set_var("AWS_ACCESS_KEY_ID", "test");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
    endpoint
}

/// A fresh deployment's configuration on moto at `endpoint`: its own table, queue prefix and bucket
/// names (created by the test as it needs them).
pub fn config(endpoint: &str) -> mailbox_lambda::Config {
    let moto = mailbox_conformance::moto::unique;
    mailbox_lambda::Config {
        table: moto("mailbox"),
        queue_prefix: format!("{}-", moto("stack")),
        queue_url_prefix: Some(format!("{endpoint}/123456789012/")),
        org_config: None,
        attachments_bucket: moto("files"),
    }
}

/// The sample event `events/<name>.json` with its placeholders filled in.
pub fn event(name: &str, vars: &[(&str, &str)]) -> String {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../events").join(format!("{name}.json"));
    let mut text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    for (k, v) in vars {
        text = text.replace(k, v);
    }
    text
}

/// A fresh table on moto (its name in the configuration) and the functions' instance over it.
pub struct OnMoto {
    pub endpoint: &'static str,
    pub sdk: aws_config::SdkConfig,
    pub config: mailbox_lambda::Config,
    pub store: mailbox_aws::DynamoStore,
    pub instance: mailbox_lambda::Instance,
}

pub async fn on_moto() -> OnMoto {
    let endpoint = moto_env();
    let sdk = mailbox_aws::sdk_config(Some(endpoint)).await;
    let config = config(endpoint);
    let store = mailbox_aws::DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), config.table.clone());
    store.create_table().await.unwrap();
    let instance = mailbox_lambda::instance(&config).await.unwrap();
    OnMoto { endpoint, sdk, config, store, instance }
}
