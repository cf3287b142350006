//! The port conformance suites — the same ones the SQLite adapters pass — on DynamoDB and SQS as
//! served by moto. Each check gets its own table and queues.

use mailbox_aws::{sdk_config, DynamoStore, SqsQueues};
use mailbox_conformance::moto as common;
use mailbox_conformance::queue::{MAX_RECEIVES, QUEUE_A, QUEUE_B};

async fn fresh_store() -> DynamoStore {
    let config = sdk_config(Some(common::moto())).await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), common::unique("mailbox"));
    store.create_table().await.expect("table created");
    store
}

/// Two fresh queues (with dead-letter queues): the client and the (port name, SQS name) pairs.
async fn created_queues() -> (aws_sdk_sqs::Client, Vec<(String, String)>) {
    let config = sdk_config(Some(common::moto())).await;
    let client = aws_sdk_sqs::Client::new(&config);
    let pairs: Vec<(String, String)> = [QUEUE_A, QUEUE_B].iter().map(|q| (q.to_string(), common::unique(q))).collect();
    let physical: Vec<String> = pairs.iter().map(|(_, p)| p.clone()).collect();
    SqsQueues::create(&client, &physical, MAX_RECEIVES).await.expect("queues created");
    (client, pairs)
}

async fn fresh_queues() -> SqsQueues {
    let (client, pairs) = created_queues().await;
    SqsQueues::connect_as(client, &pairs).await.expect("queues found")
}

/// The same queues addressed by URLs built from a prefix, as the Lambda functions address them
/// (`QUEUE_URL_PREFIX`): the prefix is taken from one URL SQS reports, so a wrong derivation of the
/// others fails every check below.
async fn fresh_queues_by_url() -> SqsQueues {
    let (client, pairs) = created_queues().await;
    let physical = pairs[0].1.as_str();
    let url = client.get_queue_url().queue_name(physical).send().await.expect("queue url");
    let url = url.queue_url().expect("queue url");
    let prefix = url.strip_suffix(physical).expect("the URL ends with the queue name");
    SqsQueues::at_url_prefix(client, &pairs, prefix)
}

// moto keeps its tables and queues in memory: nothing to remove afterwards, so no guard.
mailbox_conformance::case_store_suite!(async { (fresh_store().await, ()) });

mod queue {
    use super::fresh_queues;
    mailbox_conformance::queue_suite!(async { (fresh_queues().await, ()) });
}

mod queue_by_url {
    use super::fresh_queues_by_url;
    mailbox_conformance::queue_suite!(async { (fresh_queues_by_url().await, ()) });
}
