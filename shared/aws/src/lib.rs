//! AWS adapters of the ports: the case store on one DynamoDB table, the hand-off queues on SQS.
//! The table layout is documented in `infra/TABLE.md`.

pub mod dynamo;
pub mod sqs;

pub use dynamo::DynamoStore;
pub use sqs::SqsQueues;

/// SDK configuration: the default chain on AWS; with `endpoint`, a local emulator (moto) with dummy
/// credentials.
pub async fn sdk_config(endpoint: Option<&str>) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(url) = endpoint {
        loader = loader
            .endpoint_url(url)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "local"));
    }
    loader.load().await
}
