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

mod accounts {
    use super::fresh_store;
    mailbox_conformance::accounts_suite!(async { (fresh_store().await, ()) });
}

mod delivery {
    use super::fresh_store;
    mailbox_conformance::delivery_suite!(async { (fresh_store().await, ()) });
}

mod discussion {
    use super::fresh_store;
    mailbox_conformance::discussion_store_suite!(async { (fresh_store().await, ()) });
}

mod attachments {
    use mailbox_aws::{sdk_config, S3Attachments};
    use mailbox_conformance::moto as common;

    /// A fresh bucket on moto, made as the template makes it (encrypted, public access blocked).
    async fn fresh() -> (S3Attachments, ()) {
        let config = sdk_config(Some(common::moto())).await;
        let store = S3Attachments::new(&config, common::unique("files"));
        store.create_bucket().await.unwrap();
        (store, ())
    }

    mailbox_conformance::attachment_store_suite!(fresh());
}

mod api_keys {
    use super::fresh_store;
    mailbox_conformance::api_key_suite!(async { (fresh_store().await, ()) });
}

mod desk {
    use super::fresh_store;
    mailbox_conformance::desk_suite!(async { (fresh_store().await, ()) });
}

mod topics {
    use super::fresh_store;
    mailbox_conformance::topic_store_suite!(async { (fresh_store().await, ()) });
}

/// Two instances, each with its own SDK clients, on one table and one set of queues.
mod instances {
    use mailbox_aws::{sdk_config, DynamoStore, SqsQueues};
    use mailbox_conformance::instances::Backing;
    use mailbox_conformance::moto as common;
    use std::sync::Arc;

    async fn two() -> (Backing, Backing, ()) {
        let config = sdk_config(Some(common::moto())).await;
        let table = common::unique("instances");
        DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), table.clone()).create_table().await.unwrap();
        let org = mailbox_domain::Organisation::guangan();
        let pairs: Vec<(String, String)> =
            mailbox_app::service::queue_names(&org).into_iter().map(|q| (q.clone(), common::unique(&q))).collect();
        let physical: Vec<String> = pairs.iter().map(|(_, p)| p.clone()).collect();
        SqsQueues::create(&aws_sdk_sqs::Client::new(&config), &physical, 5).await.unwrap();
        let bucket = common::unique("files");
        let mut handles = Vec::new();
        for _ in 0..2 {
            let config = sdk_config(Some(common::moto())).await;
            let store = Arc::new(DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), table.clone()));
            let queues = Arc::new(SqsQueues::connect_as(aws_sdk_sqs::Client::new(&config), &pairs).await.unwrap());
            handles.push(Backing {
                store: store.clone(),
                queue: queues,
                notifier: store.clone(),
                limits: store.clone(),
                topics: store.clone(),
                discussion: store.clone(),
                desk: store.clone(),
                api_keys: store.clone(),
                attachments: Arc::new(mailbox_aws::S3Attachments::new(&config, bucket.clone())),
                accounts: store,
            });
        }
        let b = handles.pop().unwrap();
        (handles.pop().unwrap(), b, ())
    }

    mailbox_conformance::instances_suite!(two());
}
