//! `assign`: Dispatcher actions (accept, reject, dispatch, extension decisions, urge, supervise, reopen, close, feature), behind the JWT authorizer.
//! Configuration from the environment: see `mailbox_lambda::Config`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    mailbox_lambda::run_http(mailbox_app::http::Routes::Assign).await
}
