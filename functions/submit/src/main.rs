//! `submit`: Public submission (POST /api/v1/cases), behind API Gateway.
//! Configuration from the environment: see `mailbox_lambda::Config`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    mailbox_lambda::run_http(mailbox_app::http::Routes::Submit).await
}
