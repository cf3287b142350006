//! `deadlines`: the EventBridge schedules — the deadline sweep every 15 minutes, the daily digest
//! at 09:00 China time. Configuration from the environment: see `mailbox_lambda::Config`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    mailbox_lambda::run_schedule().await
}
