//! `notify`: consumer of the notify queue (events that bring notifications): delivers them by
//! e-mail and SMS. Configuration from the environment: see `mailbox_lambda::Config` and
//! `mailbox_lambda::delivery_channels`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    mailbox_lambda::run_sqs(mailbox_lambda::Consumer::Notify).await
}
