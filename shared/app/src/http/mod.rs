//! The HTTP API, one `axum::Router` for both deployments: `axum::serve` mounts it in the embedded
//! host, `lambda_http::run` in each HTTP function.

pub mod api;
pub mod extract;
pub mod open311;
pub mod openapi;

use crate::accounts::LocalAuth;
use crate::error::AppError;
use crate::service::App;
use async_trait::async_trait;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use std::sync::Arc;
use utoipa::ToSchema;

/// Where a request's staff identity comes from: the embedded host's sessions, or API Gateway's
/// JWT claims on AWS.
#[async_trait]
pub trait Authenticator: Send + Sync + 'static {
    async fn identify(&self, headers: &HeaderMap) -> Result<Option<crate::accounts::Identity>, AppError>;
}

#[derive(Clone)]
pub struct AppState {
    pub app: Arc<App>,
    pub auth: Arc<dyn Authenticator>,
    /// Local accounts: present in the embedded host, which then also serves login and logout.
    pub local: Option<Arc<LocalAuth>>,
    /// The workflow actions this deployment unit serves (`None`: all of them).
    pub actions: Option<&'static [mailbox_domain::Action]>,
}

/// Which routes a deployment unit mounts: all of them in the embedded host; on AWS each HTTP
/// function mounts the routes it owns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Routes {
    All,
    /// Public submission.
    Submit,
    /// A citizen's own case, public replies and statistics.
    Query,
    /// Dispatcher actions: accept, reject, dispatch and supervision of the dispatch.
    Assign,
    /// Handling-unit actions: receive, return, report, reply, extension.
    Reply,
    /// Staff reads and administration.
    Staff,
    /// The public site: pages and forms for citizens, and the stylesheet.
    Site,
    /// The staff console: sign-in, inbox, case pages and their forms, supervision, administration.
    Console,
}

use mailbox_domain::Action;

/// The actions of the `assign` function.
pub const ASSIGN_ACTIONS: &[Action] = &[
    Action::Accept,
    Action::Reject,
    Action::Dispatch,
    Action::DecideExtension,
    Action::Urge,
    Action::Supervise,
    Action::Reopen,
    Action::Close,
    Action::Feature,
    Action::Merge,
    Action::Unmerge,
    Action::PublishAttachment,
];

/// The actions of the `reply` function.
pub const REPLY_ACTIONS: &[Action] = &[
    Action::Receive,
    Action::Return,
    Action::Contribute,
    Action::Report,
    Action::Reply,
    Action::RecordMeeting,
    Action::RequestExtension,
    Action::Explain,
];

/// `__Host-`: the browser keeps it only if it was set Secure, for `/`, by this host itself (no
/// `Domain`), so no sibling subdomain can plant or overwrite it.
pub const SESSION_COOKIE: &str = "__Host-mb_session";

/// The `Set-Cookie` value that gives a browser its session token.
pub fn session_cookie(token: &str) -> String {
    format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age={}",
        crate::accounts::SESSION_HOURS * 3600
    )
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_session_cookie() -> String {
    format!("{SESSION_COOKIE}=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0")
}
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The error body of every non-2xx answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable code, e.g. `title_too_long`.
    pub code: String,
    /// Message for people, in Chinese.
    pub message: String,
    /// The request field at fault, when there is one.
    pub field: Option<String>,
}

pub fn error_response(status: StatusCode, code: &str, message: &str, field: Option<&str>) -> Response {
    let body = ErrorBody {
        error: ErrorDetail { code: code.into(), message: message.into(), field: field.map(str::to_owned) },
    };
    (status, Json(body)).into_response()
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let message = self.to_string();
        match self {
            AppError::Invalid { code, field, .. } => error_response(StatusCode::BAD_REQUEST, code, &message, field),
            AppError::NotFound => error_response(StatusCode::NOT_FOUND, "not_found", &message, None),
            AppError::Forbidden(_) => error_response(StatusCode::FORBIDDEN, "forbidden", &message, None),
            AppError::Conflict { code, .. } => error_response(StatusCode::CONFLICT, code, &message, None),
            AppError::Unauthorized => error_response(StatusCode::UNAUTHORIZED, "unauthorized", &message, None),
            AppError::BadCredentials => error_response(StatusCode::UNAUTHORIZED, "bad_credentials", &message, None),
            AppError::RateLimited => error_response(StatusCode::TOO_MANY_REQUESTS, "rate_limited", &message, None),
            AppError::Busy => error_response(StatusCode::SERVICE_UNAVAILABLE, "busy", &message, None),
            AppError::Internal(cause) => {
                // The cause goes to the log, never to the client.
                tracing::error!(%cause, "internal error");
                error_response(StatusCode::INTERNAL_SERVER_ERROR, "internal", "服务暂时不可用，请稍后再试", None)
            }
        }
    }
}

/// Every route: the API, the public site and the console (the embedded host).
pub fn router(state: AppState) -> Router {
    router_for(state, Routes::All)
}

/// The routes of one deployment unit.
pub fn router_for(state: AppState, routes: Routes) -> Router {
    use Routes as R;
    let has = |groups: &[Routes]| routes == R::All || groups.contains(&routes);
    let mut api = Router::new();
    if has(&[R::Submit, R::Query]) {
        api = api.route("/api/v1/mailboxes", get(api::mailboxes));
    }
    if has(&[R::Submit]) {
        // Up to three files in a multipart form: its own body limit, on this route only.
        let submit =
            post(api::submit).layer(axum::extract::DefaultBodyLimit::max(crate::attachments::MAX_UPLOAD_REQUEST_BYTES));
        api = api.route("/api/v1/cases", submit).route("/open311/v2/{file}", post(open311::post_request));
    }
    if has(&[R::Query]) {
        api = api
            .route("/api/v1/cases/{number}", get(api::citizen_case))
            .route("/api/v1/cases/{number}/rating", post(api::citizen_rate))
            .route("/api/v1/public/stats", get(api::public_stats))
            .route("/api/v1/public/replies", get(api::public_replies))
            .route("/open311/v2/{file}", get(open311::get_collection))
            .route("/open311/v2/{collection}/{file}", get(open311::get_item));
    }
    if has(&[R::Staff]) {
        api = api
            .route("/api/v1/auth/me", get(api::me_handler))
            .route("/api/v1/staff/units", get(api::units))
            .route("/api/v1/staff/inbox", get(api::inbox))
            .route("/api/v1/staff/outbox", get(api::outbox))
            .route("/api/v1/staff/hot-topics", get(api::hot_topics))
            .route("/api/v1/staff/hot-topics/{id}/review", post(api::review_topic))
            .route("/api/v1/staff/assessment", get(api::assessment))
            .route("/api/v1/staff/cases/{id}", get(api::staff_case))
            .route("/api/v1/staff/cases/{id}/attachments/{n}", get(api::staff_attachment))
            .route("/api/v1/admin/calendar", post(api::import_calendar));
    }
    if has(&[R::Assign, R::Reply]) {
        api = api.route("/api/v1/staff/cases/{id}/actions/{action}", post(api::act));
    }
    if routes == R::All && state.local.is_some() {
        api = api
            .route("/api/v1/auth/login", post(api::login))
            .route("/api/v1/auth/logout", post(api::logout))
            .route("/api/v1/auth/password", post(api::change_password));
    }
    if has(&[R::Site]) {
        api = api.merge(crate::web::site_routes());
    }
    if has(&[R::Console]) {
        api = api.merge(crate::web::console_routes());
    }
    api.route("/healthz", get(api::healthz))
        .route("/readyz", get(api::readyz))
        .route("/api/openapi.json", get(openapi::document))
        .fallback(api::not_found)
        .method_not_allowed_fallback(api::method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(crate::input::REQUEST_MAX_BYTES))
        .layer(axum::middleware::map_response(security_headers))
        .layer(axum::middleware::from_fn(strict_transport_security))
        .with_state(state)
}

/// HSTS on responses to requests that came over HTTPS (the deployment says so with
/// [`extract::ServedOverHttps`]: always on AWS, behind a trusted TLS proxy in the embedded host).
/// Never over plain HTTP, where a browser would ignore it and a local test would be stuck with it.
async fn strict_transport_security(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let https = request.extensions().get::<extract::ServedOverHttps>().is_some();
    let mut response = next.run(request).await;
    if https {
        response
            .headers_mut()
            .insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000; includeSubDomains"));
    }
    response
}

/// Headers on every response: no sniffing, no framing, a strict Content-Security-Policy, and no
/// caching of anything that may carry personal data.
async fn security_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    let set = |h: &mut HeaderMap, k: header::HeaderName, v: &'static str| {
        h.entry(k).or_insert(HeaderValue::from_static(v));
    };
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(h, header::REFERRER_POLICY, "no-referrer");
    set(
        h,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    );
    set(h, header::CACHE_CONTROL, "no-store");
    response
}

/// The embedded host's authenticator: local sessions, by cookie or bearer token.
pub struct SessionAuthenticator {
    pub local: Arc<LocalAuth>,
    pub clock: Arc<dyn crate::ports::Clock>,
}

#[async_trait]
impl Authenticator for SessionAuthenticator {
    async fn identify(&self, headers: &HeaderMap) -> Result<Option<crate::accounts::Identity>, AppError> {
        let Some((token, from_cookie)) = extract::session_token(headers) else { return Ok(None) };
        let identity = self.local.identify(&token, self.clock.now()).await?;
        Ok(identity.map(|mut i| {
            if !from_cookie {
                i.csrf_token = None;
            }
            i
        }))
    }
}
