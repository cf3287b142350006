//! `mailbox-aws-setup --endpoint URL --table NAME --queue-prefix PREFIX`: creates the table and the
//! queues (with dead-letter queues) on a local emulator, as the SAM template does on AWS.

use mailbox_aws::{sdk_config, DynamoStore, SqsQueues};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let (Some(endpoint), Some(table)) = (arg("--endpoint"), arg("--table")) else {
        anyhow::bail!("usage: mailbox-aws-setup --endpoint URL --table NAME [--queue-prefix PREFIX]");
    };
    let prefix = arg("--queue-prefix").unwrap_or_default();
    let sdk = sdk_config(Some(&endpoint)).await;
    DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), table).create_table().await?;
    let org = mailbox_domain::Organisation::guangan();
    let queues: Vec<String> = mailbox_lambda::queue_names(&org).iter().map(|q| format!("{prefix}{q}")).collect();
    SqsQueues::create(&aws_sdk_sqs::Client::new(&sdk), &queues, 5).await?;
    println!("created table and {} queues", queues.len());
    Ok(())
}
