//! `handoff`: consumer of the jurisdictions' hand-off queues (cases dispatched to their units).
//! Configuration from the environment: see `mailbox_lambda::Config`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    mailbox_lambda::run_sqs(mailbox_lambda::Consumer::Handoff).await
}
