//! `triage`: consumer of the triage queue (newly submitted cases).
//! Configuration from the environment: see `mailbox_lambda::Config`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    mailbox_lambda::run_sqs(mailbox_lambda::Consumer::Triage).await
}
