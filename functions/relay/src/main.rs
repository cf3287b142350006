//! `relay`: the table's DynamoDB stream (new audit-event items) to the event bus (`PutEvents`).
//! Configuration from the environment: `EVENT_BUS_NAME`, and the AWS SDK's own variables.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    mailbox_lambda::run_relay().await
}
