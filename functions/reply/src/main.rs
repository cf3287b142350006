//! `reply`: Handling-unit actions (receive, return, contribute, report, reply, meeting, extension request, explanation), behind the JWT authorizer.
//! Configuration from the environment: see `mailbox_lambda::Config`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    mailbox_lambda::run_http(mailbox_app::http::Routes::Reply).await
}
