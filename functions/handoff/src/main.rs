//! `handoff`: Consumer of a jurisdiction's hand-off queue
//! Configuration from the environment: see `mailbox_lambda::Config`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    mailbox_lambda::run_http(mailbox_app::http::Routes::Staff).await
}
