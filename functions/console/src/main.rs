//! `console`: the staff console — sign-in with the staff accounts and sessions in DynamoDB, inbox,
//! case pages and their actions, supervision, administration.
//! Configuration from the environment: see `mailbox_lambda::Config`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    mailbox_lambda::run_http(mailbox_app::http::Routes::Console).await
}
