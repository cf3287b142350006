//! What every Lambda function shares: the app built once from the environment, staff identity (the
//! console's sessions, or API Gateway's JWT authorizer matched to a staff account), and the SQS and
//! EventBridge handlers. Each function's `main.rs` only picks its part.

use async_trait::async_trait;
use aws_lambda_events::event::dynamodb::Event as DynamoDbEvent;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use mailbox_app::accounts::{AccountStore, Identity, LocalAuth};
use mailbox_app::events::{relay, EventBus};
use mailbox_app::http::extract::{ServedOverHttps, SourceIp};
use mailbox_app::http::{router_for, AppState, Authenticator, Routes, SessionAuthenticator};
use mailbox_app::notify::Delivering;
use mailbox_app::ports::SystemClock;
use mailbox_app::{Adapters, App, AppError};
use mailbox_aws::dynamo::DOMAIN_ATTRIBUTE;
use mailbox_aws::{DynamoStore, EventBridgeBus, SqsQueues};
use mailbox_domain::events::DomainEvent;
use mailbox_domain::{Actor, Calendar, Organisation, Role};
use std::sync::Arc;

/// Internal header carrying the authorizer's claims from the Lambda request context to the
/// authenticator. Any copy a client sends is removed first, so only API Gateway's claims arrive.
const CLAIMS_HEADER: &str = "x-mailbox-jwt-claims";

/// Environment: `TABLE_NAME`; `ATTACHMENTS_BUCKET`; `QUEUE_PREFIX` (the SQS queue of port queue `q` is `<prefix>q`);
/// `QUEUE_URL_PREFIX` (optional: the URL of SQS queue `n` is `<url prefix>n`; without it the URLs
/// are looked up at start, two `GetQueueUrl` calls per queue); the AWS SDK's own variables
/// (`AWS_REGION`, credentials; `AWS_ENDPOINT_URL` for an emulator); `ORG_CONFIG` (optional: the
/// city's organisation file; without it Guang'an's).
pub struct Config {
    pub table: String,
    pub queue_prefix: String,
    pub queue_url_prefix: Option<String>,
    /// The city's organisation file (`ORG_CONFIG`), packaged with the function; None: Guang'an's.
    pub org_config: Option<std::path::PathBuf>,
    /// The attachments' bucket (`ATTACHMENTS_BUCKET`).
    pub attachments_bucket: String,
}

impl Config {
    pub fn from_env() -> anyhow::Result<Config> {
        Ok(Config {
            table: std::env::var("TABLE_NAME").map_err(|_| anyhow::anyhow!("TABLE_NAME is not set"))?,
            queue_prefix: std::env::var("QUEUE_PREFIX").unwrap_or_default(),
            queue_url_prefix: std::env::var("QUEUE_URL_PREFIX").ok().filter(|p| !p.is_empty()),
            org_config: std::env::var("ORG_CONFIG").ok().filter(|p| !p.is_empty()).map(Into::into),
            // Required by the functions (`instance` refuses to start without it), not by the
            // operators' tools that only touch the table.
            attachments_bucket: std::env::var("ATTACHMENTS_BUCKET").unwrap_or_default(),
        })
    }

    /// The organisation of `org_config`, or Guang'an's; an error names the file, line and field.
    pub fn organisation(&self) -> anyhow::Result<Organisation> {
        mailbox_app::load_organisation(self.org_config.as_deref()).map_err(anyhow::Error::msg)
    }
}

pub use mailbox_app::service::queue_names;

/// The most bytes of files one request carries on AWS (see `instance`).
pub const AWS_UPLOAD_LIMIT: usize = 4 * 1024 * 1024;

/// The application of a Lambda instance and the staff accounts it signs in against.
#[derive(Clone)]
pub struct Instance {
    pub app: Arc<App>,
    pub accounts: Arc<dyn AccountStore>,
}

/// Builds the app on DynamoDB and SQS; called once per Lambda instance, before the first event.
pub async fn app(config: &Config) -> anyhow::Result<Arc<App>> {
    Ok(instance(config).await?.app)
}

/// Builds the app and the account store on DynamoDB and SQS.
pub async fn instance(config: &Config) -> anyhow::Result<Instance> {
    anyhow::ensure!(!config.attachments_bucket.is_empty(), "ATTACHMENTS_BUCKET is not set");
    let sdk = aws_config_for_env().await;
    let org = Arc::new(config.organisation()?);
    let store = Arc::new(DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), config.table.clone()));
    let pairs: Vec<(String, String)> =
        queue_names(&org).into_iter().map(|q| (q.clone(), format!("{}{q}", config.queue_prefix))).collect();
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queues = Arc::new(match &config.queue_url_prefix {
        Some(prefix) => SqsQueues::at_url_prefix(sqs, &pairs, prefix),
        None => SqsQueues::connect_as(sqs, &pairs).await?,
    });
    let adapters = Adapters {
        store: store.clone(),
        queue: queues,
        notifier: store.clone(),
        clock: Arc::new(SystemClock),
        limits: store.clone(),
        topics: store.clone(),
        discussion: store.clone(),
        desk: store.clone(),
        api_keys: store.clone(),
        attachments: Arc::new(mailbox_aws::S3Attachments::new(&sdk, config.attachments_bucket.clone())),
    };
    let app = Arc::new(App::new(org, Calendar::builtin().clone(), adapters));
    let channels = delivery_channels()?;
    app.set_delivery(Delivering { store: store.clone(), accounts: store.clone(), channels });
    // DynamoDB gains nothing from concurrent sweep writes; they would only contend for counters.
    app.set_sweep_concurrency(1);
    // A request reaches a function as at most 6 MB of JSON, its body base64-encoded (4/3): 4 MB of
    // files and the form around them fit.
    app.set_upload_limit(AWS_UPLOAD_LIMIT);
    app.load_stored_notices().await?;
    if config.org_config.is_some() {
        // A city's own file may have changed since the cases were made: refuse to start, as the
        // embedded host does, rather than strand open cases on ids that no longer exist. (Reads
        // the open cases once per instance; the built-in organisation ships with the code.)
        let outside = app.references_outside_organisation().await?;
        if !outside.is_empty() {
            let list: Vec<String> = outside.iter().map(|(what, n)| format!("{what} ({n} open cases)")).collect();
            anyhow::bail!(
                "the organisation leaves out what open cases refer to: {}; keep these in ORG_CONFIG until their cases are closed",
                list.join(", ")
            );
        }
    }
    Ok(Instance { app, accounts: store })
}

/// The delivery channels of the environment: `SMTP_URL` (and `MAIL_FROM`) for e-mail — SES's SMTP
/// interface on AWS —, `SMS_GATEWAY_URL` (with `SMS_KEY_ID`, `SMS_KEY_SECRET`, `SMS_SIGN_NAME`,
/// `SMS_TEMPLATES`) for SMS. Neither: notifications stay in the outbox.
pub fn delivery_channels() -> anyhow::Result<mailbox_app::delivery::Channels> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let from = var("MAIL_FROM").unwrap_or_else(|| mailbox_notify::DEFAULT_MAIL_FROM.to_owned());
    mailbox_notify::channels(var("SMTP_URL").as_deref(), &from, var("SMS_GATEWAY_URL").as_deref())
        .map_err(anyhow::Error::msg)
}

async fn aws_config_for_env() -> aws_config::SdkConfig {
    mailbox_aws::sdk_config(None).await
}

/// Staff identity of API clients, from API Gateway's JWT authorizer (which has already checked the
/// token's issuer, audience, signature and expiry). Only the token's subject (`sub`) is used: it
/// names the staff account linked to it, and role and unit come from that account — never from a
/// claim, so nobody can give themselves a role or a unit by editing their profile at the identity
/// provider. A subject linked to no account is not signed in.
pub struct JwtAccounts {
    pub accounts: Arc<dyn AccountStore>,
}

#[async_trait]
impl Authenticator for JwtAccounts {
    async fn identify(&self, headers: &HeaderMap) -> Result<Option<Identity>, AppError> {
        let Some(raw) = headers.get(CLAIMS_HEADER).and_then(|v| hex::decode(v.as_bytes()).ok()) else {
            return Ok(None);
        };
        let claims: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&raw).unwrap_or_default();
        let Some(subject) = claims.get("sub").and_then(|v| v.as_str()).filter(|s| !s.is_empty() && s.len() <= 256)
        else {
            return Ok(None);
        };
        let Some(account) = self.accounts.account_by_subject(subject).await? else {
            // Not the subject itself: some providers use a phone or ID number as the subject.
            tracing::warn!("token of a subject linked to no staff account");
            return Ok(None);
        };
        // A disabled account acts no more, whatever token it still holds.
        if matches!(account.role, Role::Citizen | Role::System) || account.disabled {
            return Ok(None);
        }
        Ok(Some(Identity {
            actor: Actor::staff(account.username.clone(), account.role, account.unit.clone()),
            display_name: account.display_name,
            csrf_token: None,
            // The password is the console's; the identity provider guards the token.
            must_change_password: false,
        }))
    }
}

/// Moves the authorizer's claims and the caller's address from the Lambda request context into the
/// request, dropping any claims header the client sent.
async fn from_request_context(mut request: Request, next: Next) -> Response {
    request.headers_mut().remove(CLAIMS_HEADER);
    let context =
        request.extensions().get::<lambda_http::request::RequestContext>().and_then(|c| serde_json::to_value(c).ok());
    if let Some(ctx) = context {
        // Only the subject travels on: it is all the authenticator reads (role and unit come from
        // the account), and the other claims may hold a name, an e-mail or a phone number.
        if let Some(sub) = ctx.pointer("/authorizer/jwt/claims/sub").and_then(|v| v.as_str()) {
            // Hex, since a subject may hold characters a header cannot carry.
            let claims = serde_json::json!({ "sub": sub });
            if let Ok(v) = HeaderValue::from_str(&hex::encode(claims.to_string())) {
                request.headers_mut().insert(CLAIMS_HEADER, v);
            }
        }
        if let Some(ip) = ctx.pointer("/http/sourceIp").and_then(|v| v.as_str()) {
            request.extensions_mut().insert(SourceIp(ip.to_owned()));
        }
        // API Gateway's HTTP APIs are served over HTTPS only.
        request.extensions_mut().insert(ServedOverHttps);
    }
    keep_downloads_byte_exact(next.run(request).await).await
}

/// `lambda_http` turns a text body (`text/*`) into a string with `encoding_rs`, which drops a
/// leading byte-order mark — and the CSV exports start with one, so that Excel reads their Chinese
/// as UTF-8. A download (`Content-Disposition: attachment`) whose text starts with the mark is
/// therefore sent as `application/octet-stream`, which `lambda_http` passes through byte for byte:
/// the file saved is the one the embedded host gives.
async fn keep_downloads_byte_exact(response: Response) -> Response {
    let is_text = |r: &Response| {
        r.headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("text/"))
    };
    if !response.headers().contains_key(axum::http::header::CONTENT_DISPOSITION) || !is_text(&response) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "download body unreadable");
            return axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        parts.headers.insert(axum::http::header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// The router of one HTTP function: its routes, its staff identity (the console's own sessions in
/// the `console` function, the JWT authorizer's subject matched to an account elsewhere), the
/// request-context bridge.
pub fn http_router(instance: Instance, routes: Routes) -> axum::Router {
    let actions = match routes {
        Routes::Assign => Some(mailbox_app::http::ASSIGN_ACTIONS),
        Routes::Reply => Some(mailbox_app::http::REPLY_ACTIONS),
        _ => None,
    };
    let Instance { app, accounts } = instance;
    let state = if routes == Routes::Console {
        let local = Arc::new(LocalAuth { accounts, limits: app.limits.clone() });
        let auth = Arc::new(SessionAuthenticator { local: local.clone(), clock: app.clock.clone() });
        AppState { app, auth, local: Some(local), actions }
    } else {
        AppState { app, auth: Arc::new(JwtAccounts { accounts }), local: None, actions }
    };
    router_for(state, routes).layer(axum::middleware::from_fn(from_request_context))
}

/// Runs an HTTP function: the same axum routes as the embedded server, through `lambda_http`.
pub async fn run_http(routes: Routes) -> Result<(), lambda_http::Error> {
    init_tracing();
    let instance = instance(&Config::from_env()?).await?;
    lambda_http::run(http_router(instance, routes)).await
}

/// Which queue consumer a function is.
#[derive(Clone, Copy, Debug)]
pub enum Consumer {
    Triage,
    Handoff,
    /// Background jobs (the `deadlines` function also consumes the `jobs` queue).
    Jobs,
    /// Events that bring notifications: delivered by e-mail and SMS (the `notify` function).
    Notify,
}

/// Handles an SQS batch: each message on its own; failed ones are reported back so that only they
/// are retried (and dead-lettered after the queue's maximum receives), never blocking the others.
pub async fn handle_sqs(app: &App, consumer: Consumer, event: SqsEvent) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for record in event.records {
        let id = record.message_id.clone().unwrap_or_default();
        let body = record.body.as_deref().unwrap_or("");
        let result = match consumer {
            Consumer::Triage => app.take_triage(body).await.map(|()| "triaged".to_owned()),
            Consumer::Handoff => app.take_handoff(body).await.map(|o| format!("{o:?}")),
            Consumer::Jobs => app.take_job(body).await.map(|o| format!("{o:?}")),
            Consumer::Notify => app.take_notify(body).await.map(|()| "notified".to_owned()),
        };
        // `message` is the log line's own field: the SQS message id goes under another name.
        match result {
            Ok(outcome) => tracing::info!(message_id = %id, %outcome, "queue message handled"),
            Err(e) => {
                tracing::warn!(message_id = %id, error = %e, "queue message failed");
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                response.batch_item_failures.push(failure);
            }
        }
    }
    response
}

pub async fn run_sqs(consumer: Consumer) -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let app = app(&Config::from_env()?).await?;
    lambda_runtime::run(lambda_runtime::service_fn(move |event: lambda_runtime::LambdaEvent<SqsEvent>| {
        let app = app.clone();
        async move { Ok::<_, lambda_runtime::Error>(handle_sqs(&app, consumer, event.payload).await) }
    }))
    .await
}

/// The `deadlines` function's handler: an SQS batch from the `jobs` queue (background jobs such as
/// recomputing deadlines after a calendar import) is handled as a queue consumer; otherwise
/// `{"job": "digest"}` (the 09:00 China-time rule) runs the daily digest, and anything else (the
/// every-15-minutes rule's scheduled event) runs the deadline sweep and the deliveries due again.
pub async fn handle_schedule(app: &App, event: serde_json::Value) -> Result<serde_json::Value, AppError> {
    let from_sqs = event.pointer("/Records/0/eventSource").and_then(|s| s.as_str()) == Some("aws:sqs");
    if from_sqs {
        let batch: SqsEvent =
            serde_json::from_value(event).map_err(|e| AppError::Internal(format!("unreadable SQS event: {e}")))?;
        let response = handle_sqs(app, Consumer::Jobs, batch).await;
        return serde_json::to_value(response).map_err(|e| AppError::Internal(e.to_string()));
    }
    if event.get("job").and_then(|j| j.as_str()) == Some("digest") {
        let report = app.daily_digest().await?;
        Ok(serde_json::json!({"job": "digest", "units_notified": report.units_notified, "date": report.date}))
    } else {
        let report = app.deadline_sweep().await?;
        // Deliveries due again (a backoff passed, a night ended) go with the same schedule.
        let deliveries = app.retry_deliveries().await?;
        Ok(serde_json::json!({"job": "sweep", "report": report, "deliveries": deliveries}))
    }
}

pub async fn run_schedule() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let app = app(&Config::from_env()?).await?;
    lambda_runtime::run(lambda_runtime::service_fn(move |event: lambda_runtime::LambdaEvent<serde_json::Value>| {
        let app = app.clone();
        async move { handle_schedule(&app, event.payload).await.map_err(|e| lambda_runtime::Error::from(e.to_string())) }
    }))
    .await
}

/// The domain events of a batch of the table's stream, each with the record's sequence number: the
/// `domain` attribute of new audit-event items (other records are none of the relay's business).
pub fn stream_events(event: &DynamoDbEvent) -> Vec<(String, DomainEvent)> {
    let mut out = Vec::new();
    for record in &event.records {
        if record.event_name != "INSERT" {
            continue;
        }
        let image = serde_json::to_value(&record.change.new_image).unwrap_or_default();
        let Some(text) = image.pointer(&format!("/{DOMAIN_ATTRIBUTE}/S")).and_then(|v| v.as_str()) else { continue };
        let sequence = record.change.sequence_number.clone().unwrap_or_default();
        match serde_json::from_str::<DomainEvent>(text) {
            Ok(domain) => out.push((sequence, domain)),
            // Written by this code in the change's transaction, so this is a bug, not bad luck:
            // retrying would block the stream's shard behind it. Logged for the operator (the
            // ERROR line raises the function's alarm) and left.
            Err(e) => tracing::error!(sequence, error = %e, "domain event of a stream record unreadable; skipped"),
        }
    }
    out
}

/// The `relay` function's handler: publishes the domain events of a stream batch on the bus. The
/// first event that could not be published is reported back (`ReportBatchItemFailures`), so that
/// Lambda retries the batch from there; events after it that went out go again then, and their
/// consumers ignore what they had (idempotent by event id).
pub async fn handle_stream(bus: &dyn EventBus, event: DynamoDbEvent) -> DynamoDbEventResponse {
    let events = stream_events(&event);
    let domain: Vec<DomainEvent> = events.iter().map(|(_, e)| e.clone()).collect();
    let published = relay(bus, &domain).await;
    let mut response = DynamoDbEventResponse::default();
    if let Some(i) = published.iter().position(|ok| !ok) {
        let mut failure = DynamoDbBatchItemFailure::default();
        failure.item_identifier = Some(events[i].0.clone());
        response.batch_item_failures.push(failure);
    }
    tracing::info!(published = published.iter().filter(|ok| **ok).count(), of = domain.len(), "stream batch relayed");
    response
}

/// The bus of `EVENT_BUS_NAME`.
pub async fn event_bus() -> anyhow::Result<EventBridgeBus> {
    let bus = std::env::var("EVENT_BUS_NAME").map_err(|_| anyhow::anyhow!("EVENT_BUS_NAME is not set"))?;
    let sdk = aws_config_for_env().await;
    Ok(EventBridgeBus::new(aws_sdk_eventbridge::Client::new(&sdk), bus))
}

pub async fn run_relay() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let bus = Arc::new(event_bus().await?);
    lambda_runtime::run(lambda_runtime::service_fn(move |event: lambda_runtime::LambdaEvent<DynamoDbEvent>| {
        let bus = bus.clone();
        async move { Ok::<_, lambda_runtime::Error>(handle_stream(bus.as_ref(), event.payload).await) }
    }))
    .await
}

/// JSON logs for CloudWatch.
pub fn init_tracing() {
    let _ = tracing::subscriber::set_global_default(json_logs(std::io::stdout));
}

/// The functions' log format: one JSON object per line (CloudWatch adds the time), level from
/// `RUST_LOG` (default `info`). Field names never repeat a key of the line (`message` is the line's
/// text), so log tools that keep one value per key lose nothing.
pub fn json_logs<W>(writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .without_time()
        .with_writer(writer)
        .finish()
}
