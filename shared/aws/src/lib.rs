//! AWS adapters of the ports: the case store on one DynamoDB table, the hand-off queues on SQS,
//! the event bus on EventBridge, attachments on S3.
//! The table layout is documented in `infra/TABLE.md`.

pub mod dynamo;
pub mod eventbridge;
mod lists;
mod published;
pub mod s3;
pub mod sqs;

pub use dynamo::DynamoStore;
pub use eventbridge::EventBridgeBus;
pub use s3::S3Attachments;
pub use sqs::SqsQueues;

/// SDK configuration: the default chain on AWS; with `endpoint`, a local emulator (moto) with dummy
/// credentials in `us-east-1`.
pub async fn sdk_config(endpoint: Option<&str>) -> aws_config::SdkConfig {
    match endpoint {
        Some(url) => sdk_config_at(url, "us-east-1").await,
        None => aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await,
    }
}

/// SDK configuration for a local emulator at `endpoint`, in `region`, with dummy credentials. The
/// emulator keeps each region's tables and queues apart, so tools that prepare them must use the
/// region the functions will run with.
pub async fn sdk_config_at(endpoint: &str, region: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new(region.to_owned()))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "local"))
        .load()
        .await
}
