//! `site`: the public site — pages and forms for citizens (write, track, rate, replies, statistics)
//! and the stylesheet. Configuration from the environment: see `mailbox_lambda::Config`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    mailbox_lambda::run_http(mailbox_app::http::Routes::Site).await
}
