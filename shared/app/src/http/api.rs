//! Route handlers. Each is a thin translation between HTTP and a use case in [`crate::service`].

use super::extract::{session_token, ClientAddr, JsonBody, SignedIn, Staff};
use super::{error_response, AppState, ErrorBody};
use crate::accounts::Me;
use crate::error::AppError;
use crate::input::SubmitRequest;
use crate::ports::{Notification, NotificationPage};
use crate::service::Submitted;
use crate::views::{CaseSummary, CitizenCaseView, MailboxView, StaffCaseView, UnitView};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use mailbox_domain::workflow::Command;
use mailbox_domain::{Action, CaseId, CaseStatus, Role};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

fn enum_name<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, AppError> {
    q.map(|Query(v)| v).map_err(|e| AppError::Invalid {
        code: "invalid_query",
        field: None,
        message: format!("查询参数不正确：{}", e.body_text()),
    })
}

#[utoipa::path(get, path = "/healthz", tag = "system", responses((status = 200, description = "The server is up", body = String)))]
pub async fn healthz() -> &'static str {
    "ok"
}

#[utoipa::path(get, path = "/readyz", tag = "system", responses(
    (status = 200, description = "The store answers: the server can serve", body = String),
    (status = 503, description = "The store does not answer", body = ErrorBody)))]
pub async fn readyz(State(s): State<AppState>) -> Response {
    match s.app.store.ready().await {
        Ok(()) => "ready".into_response(),
        Err(e) => {
            tracing::error!(error = %e, "not ready: the store does not answer");
            super::error_response(StatusCode::SERVICE_UNAVAILABLE, "not_ready", "服务暂时不可用，请稍后再试", None)
        }
    }
}

/// JSON for API paths, a page for people elsewhere.
pub async fn not_found(uri: axum::http::Uri) -> Response {
    if uri.path().starts_with("/api/") {
        error_response(StatusCode::NOT_FOUND, "not_found", "页面不存在", None)
    } else {
        crate::web::error_page(StatusCode::NOT_FOUND, uri.path().starts_with("/console"), "页面不存在")
    }
}

pub async fn method_not_allowed() -> Response {
    error_response(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "不支持该请求方法", None)
}

#[utoipa::path(get, path = "/api/v1/mailboxes", tag = "public",
    responses((status = 200, description = "All mailboxes", body = Vec<MailboxView>)))]
pub async fn mailboxes(State(s): State<AppState>) -> Json<Vec<MailboxView>> {
    let org = &s.app.org;
    Json(
        org.mailboxes
            .iter()
            .map(|m| MailboxView {
                id: m.id.to_string(),
                name: m.name.clone(),
                kind: enum_name(&m.kind),
                jurisdiction: m.jurisdiction.to_string(),
            })
            .collect(),
    )
}

/// `POST /api/v1/cases` as `multipart/form-data`: the message in the part `request` (the JSON of
/// the plain request) and up to three files in parts named `files`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SubmitWithFiles {
    /// The message, as the JSON body of the plain request (`SubmitRequest`).
    pub request: String,
    /// JPEG, PNG or PDF files (the kind decided by the content), at most 3, each at most 5 MB;
    /// images are stored without any metadata.
    #[schema(value_type = Vec<String>, format = Binary, max_items = 3)]
    pub files: Vec<Vec<u8>>,
}

#[utoipa::path(post, path = "/api/v1/cases", tag = "public",
    request_body(content((SubmitRequest = "application/json"), (SubmitWithFiles = "multipart/form-data"))),
    params(("Idempotency-Key" = Option<String>, Header, description = "16 to 128 visible ASCII characters (a UUID); retrying with the same key within 24 hours returns the same case and query code", min_length = 16, max_length = 128)),
    responses(
        (status = 201, description = "Submitted; keep the query code", body = Submitted),
        (status = 400, description = "Invalid input", body = ErrorBody),
        (status = 409, description = "Idempotency key used for another request", body = ErrorBody),
        (status = 413, description = "Request too large", body = ErrorBody),
        (status = 415, description = "Neither JSON nor a multipart form", body = ErrorBody),
    ))]
pub async fn submit(State(s): State<AppState>, request: axum::extract::Request) -> Result<Response, AppError> {
    use axum::extract::FromRequest;
    let key = match request.headers().get("idempotency-key") {
        None => None,
        Some(v) => Some(crate::input::idempotency_key(v.to_str().unwrap_or_default())?.to_owned()),
    };
    let multipart = crate::attachments::is_multipart(request.headers());
    let submitted = if multipart {
        let (fields, files) = crate::attachments::read_multipart(request).await?;
        let json = fields.iter().find(|(k, _)| k == "request").map(|(_, v)| v.as_str()).ok_or_else(|| {
            AppError::invalid("request_required", "request", "multipart 表单须有 request 部分（留言的 JSON）")
        })?;
        let body: SubmitRequest = serde_json::from_str(json).map_err(|e| AppError::Invalid {
            code: "malformed_json",
            field: Some("request"),
            message: format!("request 部分格式不正确：{e}"),
        })?;
        s.app.submit_with_files(&body, key.as_deref(), files).await?
    } else {
        // JSON keeps the API's own limit; only the multipart form may be larger.
        let (parts, body) = request.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, crate::input::REQUEST_MAX_BYTES).await else {
            return Ok(error_response(StatusCode::PAYLOAD_TOO_LARGE, "request_too_large", "请求内容过大", None));
        };
        let request = axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes));
        let body = match JsonBody::<SubmitRequest>::from_request(request, &s).await {
            Ok(b) => b.0,
            Err(response) => return Ok(response),
        };
        s.app.submit(&body, key.as_deref()).await?
    };
    Ok((StatusCode::CREATED, Json(submitted)).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QueryCodeParams {
    /// The query code (查询码) given at submission: 10 characters.
    #[param(pattern = "^[A-HJKMNP-Za-hjkmnp-z2-9]{10}$")]
    pub query_code: String,
}

/// How a case number is written: the city's prefix, the day, four digits.
pub const NUMBER_PATTERN: &str = "^[A-Z]{1,8}[0-9]{12}$";
/// How a case id is written.
pub const CASE_ID_PATTERN: &str = "^c[0-9a-f]{24}$";

#[utoipa::path(get, path = "/api/v1/cases/{number}", tag = "public",
    params(("number" = String, Path, description = "Case number", pattern = "^[A-Z]{1,8}[0-9]{12}$"), QueryCodeParams),
    responses(
        (status = 200, description = "The case as its citizen sees it", body = CitizenCaseView),
        (status = 400, description = "Missing query code", body = ErrorBody),
        (status = 404, description = "No case with this number and code", body = ErrorBody),
        (status = 429, description = "Too many wrong codes", body = ErrorBody),
    ))]
pub async fn citizen_case(
    State(s): State<AppState>,
    Path(number): Path<String>,
    ClientAddr(client): ClientAddr,
    q: Result<Query<QueryCodeParams>, QueryRejection>,
) -> Result<Json<CitizenCaseView>, AppError> {
    let q = query(q)?;
    Ok(Json(s.app.citizen_view(&number, &q.query_code, &client).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RatingRequest {
    #[schema(pattern = "^[A-HJKMNP-Za-hjkmnp-z2-9]{10}$")]
    pub query_code: String,
    pub satisfied: bool,
    /// Required when not satisfied: what is still wrong (up to 5,000 characters).
    #[serde(default)]
    #[schema(max_length = 5000, pattern = "^[^\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*$")]
    pub comment: String,
}

#[utoipa::path(post, path = "/api/v1/cases/{number}/rating", tag = "public", request_body = RatingRequest,
    params(("number" = String, Path, description = "Case number", pattern = "^[A-Z]{1,8}[0-9]{12}$")),
    responses(
        (status = 200, description = "Rated; the case is closed", body = CitizenCaseView),
        (status = 400, description = "Invalid input", body = ErrorBody),
        (status = 404, description = "No case with this number and code", body = ErrorBody),
        (status = 409, description = "Not replied yet, or already rated", body = ErrorBody),
        (status = 413, description = "Request too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 429, description = "Too many wrong codes", body = ErrorBody),
    ))]
pub async fn citizen_rate(
    State(s): State<AppState>,
    Path(number): Path<String>,
    ClientAddr(client): ClientAddr,
    JsonBody(r): JsonBody<RatingRequest>,
) -> Result<Json<CitizenCaseView>, AppError> {
    Ok(Json(s.app.citizen_rate(&number, &r.query_code, &client, r.satisfied, r.comment).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    #[schema(min_length = 1, max_length = 64)]
    pub username: String,
    #[schema(min_length = 1, max_length = 1024)]
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    /// Bearer token for API clients (the browser gets the same in an HttpOnly cookie).
    pub token: String,
    /// Send back in `X-CSRF-Token` on state-changing requests authenticated by the cookie.
    pub csrf_token: String,
    pub user: Me,
    /// An administrator reset the password: nothing but `POST /api/v1/auth/password` (and signing
    /// out) is allowed until it is changed.
    pub must_change_password: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordRequest {
    /// The new password: at least 12 characters, not containing the user name, not a common or
    /// easily guessed one.
    #[schema(min_length = 12, max_length = 128)]
    pub password: String,
}

fn me_view(s: &AppState, username: &str, display_name: &str, role: Role, unit: Option<&mailbox_domain::UnitId>) -> Me {
    Me {
        username: username.into(),
        display_name: display_name.into(),
        role,
        unit: unit.map(|u| u.to_string()),
        unit_name: unit.map(|u| crate::views::unit_name(&s.app.org, u)),
    }
}

#[utoipa::path(post, path = "/api/v1/auth/login", tag = "staff", request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in; also sets the session cookie", body = LoginResponse),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 401, description = "Wrong user name or password", body = ErrorBody),
        (status = 429, description = "Too many wrong passwords from this client", body = ErrorBody),
        (status = 503, description = "Too many sign-ins at once; try again shortly", body = ErrorBody),
        (status = 409, description = "Account locked after repeated failures", body = ErrorBody),
        (status = 413, description = "Request too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
    ))]
pub async fn login(
    State(s): State<AppState>,
    ClientAddr(client): ClientAddr,
    JsonBody(r): JsonBody<LoginRequest>,
) -> Result<Response, AppError> {
    let local = s.local.as_ref().ok_or(AppError::NotFound)?;
    let ok = local.login(r.username.trim(), &r.password, &client, s.app.now()).await?;
    tracing::info!(user = %ok.account.username, "signed in");
    let cookie = crate::http::session_cookie(&ok.token);
    let a = &ok.account;
    let body = LoginResponse {
        token: ok.token.clone(),
        csrf_token: ok.csrf_token,
        user: me_view(&s, &a.username, &a.display_name, a.role, a.unit.as_ref()),
        must_change_password: a.must_change_password,
    };
    Ok(([(header::SET_COOKIE, cookie)], Json(body)).into_response())
}

#[utoipa::path(post, path = "/api/v1/auth/password", tag = "staff", request_body = PasswordRequest,
    responses(
        (status = 204, description = "Changed; every session of the account has ended: sign in again with it"),
        (status = 400, description = "The password breaks a rule (weak_password, same_password)", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Missing CSRF token", body = ErrorBody),
        (status = 413, description = "Request too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
    ))]
pub async fn change_password(
    State(s): State<AppState>,
    SignedIn(id): SignedIn,
    JsonBody(r): JsonBody<PasswordRequest>,
) -> Result<Response, AppError> {
    let local = s.local.as_ref().ok_or(AppError::NotFound)?;
    let admin = crate::accounts::AccountAdmin { store: local.accounts.as_ref(), org: &s.app.org };
    admin.change_password(id.actor.user.as_str(), &r.password, s.app.now()).await?;
    tracing::info!(user = %id.actor.user, "password changed");
    let clear = crate::http::clear_session_cookie();
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, clear)]).into_response())
}

#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "staff",
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Missing CSRF token", body = ErrorBody),
    ))]
pub async fn logout(State(s): State<AppState>, _staff: SignedIn, headers: HeaderMap) -> Result<Response, AppError> {
    if let (Some(local), Some((token, _))) = (s.local.as_ref(), session_token(&headers)) {
        local.logout(&token).await?;
    }
    let clear = crate::http::clear_session_cookie();
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, clear)]).into_response())
}

#[utoipa::path(get, path = "/api/v1/auth/me", tag = "staff",
    responses((status = 200, description = "The signed-in user", body = Me), (status = 401, description = "Not signed in", body = ErrorBody)))]
pub async fn me_handler(State(s): State<AppState>, SignedIn(id): SignedIn) -> Json<Me> {
    let a = &id.actor;
    Json(me_view(&s, a.user.as_str(), &id.display_name, a.role, a.unit.as_ref()))
}

#[utoipa::path(get, path = "/api/v1/staff/units", tag = "staff",
    responses((status = 200, description = "Units a case can be dispatched to", body = Vec<UnitView>), (status = 401, description = "Not signed in", body = ErrorBody)))]
pub async fn units(State(s): State<AppState>, _staff: Staff) -> Json<Vec<UnitView>> {
    Json(
        s.app
            .org
            .units
            .iter()
            .map(|u| UnitView {
                id: u.id.to_string(),
                name: u.name.clone(),
                jurisdiction: u.jurisdiction.to_string(),
                kind: enum_name(&u.kind),
            })
            .collect(),
    )
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InboxParams {
    /// Comma-separated statuses, e.g. `dispatched,in_progress`; all when absent.
    #[param(
        max_length = 200,
        pattern = "^((submitted|accepted|invalid|dispatched|in_progress|reported|replied|closed|merged)(,(submitted|accepted|invalid|dispatched|in_progress|reported|replied|closed|merged))*)?$"
    )]
    pub status: Option<String>,
    /// A case number (that case), or words of the title (every one must appear; supervisors search
    /// the title as they read it, masked).
    #[param(max_length = 50)]
    pub q: Option<String>,
    /// Only cases this unit handles (lead or co-handler).
    #[param(max_length = 64)]
    pub unit: Option<String>,
    /// Only open cases whose deadline has passed (`overdue`), ends by the next working day
    /// (`due_soon`), or later (`normal`).
    #[param(pattern = "^(overdue|due_soon|normal)?$")]
    pub urgency: Option<String>,
    /// At most this many cases (1–500, default 200).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// Continue after this position: the `after` of the `Link: <…>; rel="next"` header of the page
    /// before.
    #[param(max_length = 80, pattern = "^[0-9]{13}#[A-Za-z0-9-]{1,64}$")]
    pub after: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/staff/inbox", tag = "staff", params(InboxParams),
    responses(
        (status = 200, description = "The user's cases that pass the filters, earliest deadline first; a `Link` header with `rel=\"next\"` when there are more", body = Vec<CaseSummary>,
            headers(("Link" = String, description = "The next page: `</api/v1/staff/inbox?…&after=…>; rel=\"next\"`"))),
        (status = 400, description = "Bad filter", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "The role has no inbox", body = ErrorBody),
    ))]
pub async fn inbox(
    State(s): State<AppState>,
    Staff(id): Staff,
    q: Result<Query<InboxParams>, QueryRejection>,
) -> Result<Response, AppError> {
    let q = query(q)?;
    let filter = list_filter(q.status.as_deref(), q.q.clone(), q.unit.as_deref(), q.urgency.as_deref())?;
    let limit = q.limit.unwrap_or(200);
    if !(1..=500).contains(&limit) {
        return Err(AppError::invalid("invalid_limit", "limit", "limit 须在 1 至 500 之间"));
    }
    let after = q.after.as_deref().filter(|a| !a.is_empty());
    let page = s.app.inbox(&id.actor, &filter, limit as usize, after).await?;
    let mut pairs = vec![("limit", limit.to_string())];
    for (name, value) in [("status", &q.status), ("q", &q.q), ("unit", &q.unit), ("urgency", &q.urgency)] {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            pairs.push((name, v.to_owned()));
        }
    }
    Ok(with_next_link(Json(page.items).into_response(), "/api/v1/staff/inbox", pairs, page.next.map(|n| ("after", n))))
}

/// A staff list's filter from its parameters (API and console alike): comma-separated statuses,
/// a number or title words, a unit id, an urgency; empty ones ignored.
pub fn list_filter(
    status: Option<&str>,
    q: Option<String>,
    unit: Option<&str>,
    urgency: Option<&str>,
) -> Result<crate::service::ListFilter, AppError> {
    let mut statuses = Vec::new();
    for word in status.unwrap_or("").split(',').map(str::trim).filter(|w| !w.is_empty()) {
        let status: CaseStatus = serde_json::from_value(serde_json::Value::String(word.into()))
            .map_err(|_| AppError::invalid("invalid_status", "status", format!("未知的状态“{word}”")))?;
        statuses.push(status);
    }
    Ok(crate::service::ListFilter {
        statuses,
        q: q.filter(|q| !q.trim().is_empty()),
        unit: unit.map(str::trim).filter(|u| !u.is_empty()).map(mailbox_domain::UnitId::new),
        urgency: crate::service::Urgency::parse(urgency.unwrap_or(""))?,
    })
}

/// Adds `Link: <path?query>; rel="next"` (RFC 8288) when a list has a next page.
fn with_next_link<'a>(
    mut response: Response,
    path: &str,
    mut pairs: Vec<(&'a str, String)>,
    next: Option<(&'a str, String)>,
) -> Response {
    let Some(next) = next else { return response };
    pairs.push(next);
    let query: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())))
        .finish();
    if let Ok(v) = axum::http::HeaderValue::from_str(&format!("<{path}?{query}>; rel=\"next\"")) {
        response.headers_mut().insert(header::LINK, v);
    }
    response
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct HotTopicsParams {
    /// Topics with a message in the last this many days, 1 to 90 (default 7).
    #[param(minimum = 1, maximum = 90)]
    pub days: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/staff/hot-topics", tag = "staff", params(HotTopicsParams),
    responses(
        (status = 200, description = "Hot topics (热点话题: 3 or more similar messages within 7 days in one jurisdiction or domain) with a message in the period, newest first, each with its label words, jurisdiction, domain, count, first and last time and the case numbers the caller may see; and the surges (激增) of the weeks of the period", body = crate::opinion::HotTopics),
        (status = 400, description = "Invalid days", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Only supervisors, dispatchers and 舆情 staff watch hot topics", body = ErrorBody),
    ))]
pub async fn hot_topics(
    State(s): State<AppState>,
    Staff(id): Staff,
    q: Result<Query<HotTopicsParams>, QueryRejection>,
) -> Result<Response, AppError> {
    let q = query(q)?;
    Ok(Json(s.app.hot_topics(&id.actor, q.days.unwrap_or(7)).await?).into_response())
}

#[utoipa::path(post, path = "/api/v1/staff/hot-topics/{id}/review", tag = "staff",
    params(("id" = String, Path, description = "The topic's id", max_length = 80)),
    responses(
        (status = 200, description = "The topic, marked 已研判 (a topic marked before keeps its first mark)", body = crate::opinion::TopicView),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Only supervisors mark topics 已研判", body = ErrorBody),
        (status = 404, description = "No such topic", body = ErrorBody),
    ))]
pub async fn review_topic(
    State(s): State<AppState>,
    Staff(id): Staff,
    Path(topic): Path<String>,
) -> Result<Response, AppError> {
    Ok(Json(s.app.review_topic(&id.actor, &topic).await?).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct OutboxParams {
    /// Notifications per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// Where the page starts: the cursor of the `Link: <…>; rel="next"` header of the page before.
    #[param(max_length = 320)]
    pub cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/staff/outbox", tag = "staff", params(OutboxParams),
    responses(
        (status = 200, description = "Notifications for the user's unit (all units for supervisors), newest first; a `Link` header with `rel=\"next\"` when there are more", body = Vec<NotificationView>,
            headers(("Link" = String, description = "The next page: `</api/v1/staff/outbox?limit=…&cursor=…>; rel=\"next\"`"))),
        (status = 400, description = "Invalid limit or cursor", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Admins and 舆情 staff have no access to cases or their notifications", body = ErrorBody),
    ))]
pub async fn outbox(
    State(s): State<AppState>,
    Staff(id): Staff,
    q: Result<Query<OutboxParams>, QueryRejection>,
) -> Result<Response, AppError> {
    let q = query(q)?;
    let unit = match id.actor.role {
        Role::Supervisor => None,
        // Neither has access to cases, so neither reads notifications about them (舆情 staff sit in
        // a unit whose outbox carries case alerts).
        Role::Admin | Role::Opinion => return Err(AppError::Forbidden("该账号不能查看留言通知".into())),
        _ => id.actor.unit.clone(),
    };
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(AppError::invalid("invalid_limit", "limit", "每页条数应在 1 至 200 之间"));
    }
    let cursor = q.cursor.as_deref().filter(|c| !c.is_empty());
    if cursor.is_some_and(|c| NotificationPage::parse_cursor(c).is_none()) {
        return Err(AppError::invalid("invalid_cursor", "cursor", "翻页标记无效，请从第一页重新查看"));
    }
    let page = s.app.store.notifications(unit.as_ref(), cursor, limit as usize).await?;
    let body: Vec<NotificationView> = page.items.into_iter().map(NotificationView::from).collect();
    let pairs = vec![("limit", limit.to_string())];
    Ok(with_next_link(Json(body).into_response(), "/api/v1/staff/outbox", pairs, page.next.map(|n| ("cursor", n))))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationView {
    pub unit: String,
    pub subject: String,
    pub body: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl From<Notification> for NotificationView {
    fn from(n: Notification) -> Self {
        NotificationView { unit: n.unit.to_string(), subject: n.subject, body: n.body, created_at: n.created_at }
    }
}

#[utoipa::path(get, path = "/api/v1/staff/cases/{id}", tag = "staff",
    params(("id" = String, Path, description = "Case id", pattern = "^c[0-9a-f]{24}$")),
    responses(
        (status = 200, description = "The case, its audit trail, deadline explanation and the actions allowed now", body = StaffCaseView),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such case, or not visible to this user", body = ErrorBody),
    ))]
pub async fn staff_case(
    State(s): State<AppState>,
    Staff(id): Staff,
    Path(case): Path<String>,
) -> Result<Json<StaffCaseView>, AppError> {
    Ok(Json(s.app.staff_view(&id.actor, &CaseId::new(case)).await?))
}

#[utoipa::path(get, path = "/api/v1/staff/cases/{id}/attachments/{n}", tag = "staff",
    params(("id" = String, Path, description = "Case id", pattern = "^c[0-9a-f]{24}$"),
           ("n" = u32, Path, description = "The attachment's number: 1, 2 or 3", minimum = 1, maximum = 3)),
    responses(
        (status = 200, description = "The file (JPEG, PNG, or PDF as a download)",
            content((Vec<u8> = "image/jpeg"), (Vec<u8> = "image/png"), (Vec<u8> = "application/pdf"))),
        (status = 303, description = "On AWS: a link to the file, valid for five minutes"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such case or attachment, or not visible to this user", body = ErrorBody),
    ))]
pub async fn staff_attachment(
    State(s): State<AppState>,
    Staff(id): Staff,
    Path((case, n)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let n: usize = n.parse().map_err(|_| AppError::NotFound)?;
    let found = s.app.staff_attachment(&id.actor, &CaseId::new(case), n).await?;
    s.app.attachment_response(found).await
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ActionRequest {
    /// The case version the user saw; a stale version is refused with 409.
    #[serde(default, deserialize_with = "mailbox_domain::json::opt_u64_whole")]
    #[schema(maximum = 9007199254740991_u64)]
    pub version: Option<u64>,
    pub command: Command,
}

#[utoipa::path(post, path = "/api/v1/staff/cases/{id}/actions/{action}", tag = "staff", request_body = ActionRequest,
    params(("id" = String, Path, description = "Case id", pattern = "^c[0-9a-f]{24}$"), ("action" = Action, Path, description = "Must equal command.action")),
    responses(
        (status = 200, description = "Done; the case as it is now", body = StaffCaseView),
        (status = 400, description = "Invalid input", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not allowed for this user, or missing CSRF token", body = ErrorBody),
        (status = 404, description = "No such case, or not visible to this user", body = ErrorBody),
        (status = 409, description = "Stale version, or not possible in the case's status", body = ErrorBody),
        (status = 413, description = "Request too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
    ))]
pub async fn act(
    State(s): State<AppState>,
    Staff(id): Staff,
    Path((case, action)): Path<(String, String)>,
    JsonBody(r): JsonBody<ActionRequest>,
) -> Result<Json<StaffCaseView>, AppError> {
    if enum_name(&r.command.action()) != action {
        return Err(AppError::invalid("action_mismatch", "action", "路径中的操作与请求内容不一致"));
    }
    // On AWS each function serves its own actions; API Gateway routes the others elsewhere.
    if s.actions.is_some_and(|served| !served.contains(&r.command.action())) {
        return Err(AppError::NotFound);
    }
    let case = s.app.act(&id.actor, &CaseId::new(case), r.version, r.command).await?;
    Ok(Json(s.app.view_of(&id.actor, case).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MonthParams {
    /// `YYYY-MM`; the current month (China time) when absent.
    #[param(pattern = "^[0-9]{4}-(0[1-9]|1[0-2])$")]
    pub month: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/public/stats", tag = "public", params(MonthParams),
    responses(
        (status = 200, description = "Received, invalid, replied, in progress — in all and by mailbox; on-time rate; featured cases", body = crate::reports::MonthlyReport),
        (status = 400, description = "Bad month", body = ErrorBody),
    ))]
pub async fn public_stats(
    State(s): State<AppState>,
    q: Result<Query<MonthParams>, QueryRejection>,
) -> Result<Json<crate::reports::MonthlyReport>, AppError> {
    let q = query(q)?;
    let month = q
        .month
        .unwrap_or_else(|| s.app.now().with_timezone(&mailbox_domain::deadline::cst()).format("%Y-%m").to_string());
    Ok(Json(s.app.monthly_report(&month).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RepliesParams {
    /// A mailbox id from `GET /api/v1/mailboxes`.
    #[param(max_length = 32)]
    pub mailbox: Option<String>,
    /// The unit that replied (a unit id from `GET /api/v1/units`).
    #[param(max_length = 64)]
    pub unit: Option<String>,
    /// Triage's first-level domain (城乡建设, 环境保护, …).
    #[param(max_length = 20)]
    pub domain: Option<String>,
    /// `YYYY-MM` of the reply.
    #[param(pattern = "^[0-9]{4}-(0[1-9]|1[0-2])$")]
    pub month: Option<String>,
    /// Words to look for in title, message and reply (up to 50 characters); every word must appear.
    #[param(max_length = 50)]
    pub q: Option<String>,
    /// 1–200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// The `next` of the page before.
    #[param(max_length = 100)]
    pub after: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/public/replies", tag = "public", params(RepliesParams),
    responses(
        (status = 200, description = "Published replies, personal data masked: with `q` those with every word in the title first, then the rest, newest first within each; without, newest first. `next` continues the list.", body = crate::reports::ReplyList),
        (status = 400, description = "Bad filter or cursor", body = ErrorBody),
    ))]
pub async fn public_replies(
    State(s): State<AppState>,
    q: Result<Query<RepliesParams>, QueryRejection>,
) -> Result<Json<crate::reports::ReplyList>, AppError> {
    let q = query(q)?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(AppError::invalid("invalid_limit", "limit", "limit 须在 1 至 200 之间"));
    }
    let mut search = reply_search(&s.app, q.mailbox, q.unit, q.domain, q.month, q.q, q.after)?;
    search.limit = limit as usize;
    Ok(Json(s.app.public_replies(&search).await?))
}

/// A public reply search from its parameters (API and page alike), each checked; empty ones ignored.
pub fn reply_search(
    app: &crate::service::App,
    mailbox: Option<String>,
    unit: Option<String>,
    domain: Option<String>,
    month: Option<String>,
    q: Option<String>,
    after: Option<String>,
) -> Result<crate::reports::ReplySearch, AppError> {
    let given = |v: Option<String>| v.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let month = given(month).map(|m| crate::reports::parse_month(&m)).transpose()?;
    let mailbox = given(mailbox).map(mailbox_domain::MailboxId::new);
    if mailbox.as_ref().is_some_and(|m| app.org.mailbox(m).is_none()) {
        return Err(AppError::invalid("unknown_mailbox", "mailbox", "信箱不存在"));
    }
    let unit = given(unit).map(mailbox_domain::UnitId::new);
    if unit.as_ref().is_some_and(|u| app.org.unit(u).is_none()) {
        return Err(AppError::invalid("unknown_unit", "unit", "单位不存在"));
    }
    let domain = given(domain);
    if domain.as_ref().is_some_and(|d| d.chars().count() > 20 || !d.chars().all(char::is_alphanumeric)) {
        return Err(AppError::invalid("invalid_domain", "domain", "领域名称无效"));
    }
    let q = given(q);
    if q.as_deref().is_some_and(|w| w.chars().count() > 50) {
        return Err(AppError::invalid("query_too_long", "q", "搜索词不能超过50个字"));
    }
    let after = given(after);
    if after.as_deref().is_some_and(|a| a.len() > 100) {
        return Err(AppError::invalid("invalid_cursor", "after", "翻页参数无效，请从第一页重新查询"));
    }
    Ok(crate::reports::ReplySearch { q, mailbox, unit, domain, month, after, ..Default::default() })
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AssessmentParams {
    /// First month, `YYYY-MM`.
    #[param(pattern = "^[0-9]{4}-(0[1-9]|1[0-2])$")]
    pub from: String,
    /// Months from `from` on, 1 to 36 (default 1).
    #[param(minimum = 1, maximum = 36)]
    pub months: Option<u32>,
    /// `json` (default), `csv` or `xlsx`.
    #[param(pattern = "^(json|csv|xlsx)$")]
    pub format: Option<String>,
}

pub fn assessment_table(rows: &[crate::reports::UnitAssessment]) -> crate::export::Table {
    use crate::export::Cell;
    let headers = [
        "单位",
        "交办转办",
        "签收",
        "答复",
        "按时",
        "超时",
        "退回",
        "延期",
        "催办",
        "超期",
        "满意",
        "不满意",
        "按时率",
        "满意率",
        "平均办理工作日",
    ];
    crate::export::Table {
        sheet: "单位考核".into(),
        headers: headers.iter().map(|h| h.to_string()).collect(),
        rows: rows
            .iter()
            .map(|r| {
                vec![
                    Cell::from(r.name.as_str()),
                    r.dispatched.into(),
                    r.received.into(),
                    r.replied.into(),
                    r.on_time.into(),
                    r.late.into(),
                    r.returned.into(),
                    r.extensions.into(),
                    r.urged.into(),
                    r.overdue.into(),
                    r.satisfied.into(),
                    r.unsatisfied.into(),
                    r.on_time_rate.into(),
                    r.satisfaction_rate.into(),
                    r.average_reply_working_days.into(),
                ]
            })
            .collect(),
    }
}

#[utoipa::path(get, path = "/api/v1/staff/assessment", tag = "staff", params(AssessmentParams),
    responses(
        (status = 200, description = "Per unit: received, on time, late, returned, extensions, satisfaction (JSON, CSV or XLSX by `format`)",
            content(
                (Vec<crate::reports::UnitAssessment> = "application/json"),
                (String = "text/csv"),
                (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            )),
        (status = 400, description = "Bad period or format", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Supervisors and admins only", body = ErrorBody),
    ))]
pub async fn assessment(
    State(s): State<AppState>,
    Staff(id): Staff,
    q: Result<Query<AssessmentParams>, QueryRejection>,
) -> Result<Response, AppError> {
    if !matches!(id.actor.role, Role::Supervisor | Role::Admin) {
        return Err(AppError::Forbidden("单位考核仅供督办人员查看".into()));
    }
    let q = query(q)?;
    let from = crate::reports::parse_month(&q.from)?;
    let months = q.months.unwrap_or(1);
    if !(1..=crate::reports::MAX_ASSESSMENT_MONTHS as u32).contains(&months) {
        return Err(AppError::invalid("invalid_period", "months", "考核期间应为 1 至 36 个月"));
    }
    let to = crate::reports::month_after(&from, months - 1)?;
    let rows = s.app.assessment(&from, &to).await?;
    let name = format!("assessment-{from}-{to}");
    match q.format.as_deref().unwrap_or("json") {
        "json" => Ok(Json(rows).into_response()),
        "csv" => Ok(file(
            crate::export::to_csv(&assessment_table(&rows))?,
            "text/csv; charset=utf-8",
            &format!("{name}.csv"),
        )),
        "xlsx" => Ok(file(
            crate::export::to_xlsx(&assessment_table(&rows))?,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            &format!("{name}.xlsx"),
        )),
        _ => Err(AppError::invalid("invalid_format", "format", "format 须为 json、csv 或 xlsx")),
    }
}

pub fn file(bytes: Vec<u8>, content_type: &'static str, filename: &str) -> Response {
    let disposition = format!("attachment; filename=\"{filename}\"");
    ([(header::CONTENT_TYPE, content_type.to_owned()), (header::CONTENT_DISPOSITION, disposition)], bytes)
        .into_response()
}

/// A finished file (a temporary one: removed once sent) streamed as a download, 64 KiB at a time.
pub fn file_stream(file: std::fs::File, content_type: &'static str, filename: &str) -> Response {
    let disposition = format!("attachment; filename=\"{filename}\"");
    let length = file.metadata().map(|m| m.len()).ok();
    // Each chunk read off the async threads; the stream ends at the file's end or its first error.
    let chunks = futures::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let read = tokio::task::spawn_blocking(move || {
            let mut buf = vec![0u8; 64 * 1024];
            let n = std::io::Read::read(&mut file, &mut buf)?;
            buf.truncate(n);
            Ok::<_, std::io::Error>((buf, file))
        })
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e)));
        match read {
            Ok((buf, _)) if buf.is_empty() => None,
            Ok((buf, file)) => Some((Ok(axum::body::Bytes::from(buf)), Some(file))),
            Err(e) => Some((Err(e), None)),
        }
    });
    let mut response = (
        [(header::CONTENT_TYPE, content_type.to_owned()), (header::CONTENT_DISPOSITION, disposition)],
        axum::body::Body::from_stream(chunks),
    )
        .into_response();
    if let Some(length) = length {
        response.headers_mut().insert(header::CONTENT_LENGTH, length.into());
    }
    response
}

/// A holiday-cn file (github.com/NateScarlet/holiday-cn): the State Council's notice of one year.
/// (Documentation only: the file is read by `Calendar::import_holiday_cn`, which also checks what a
/// schema cannot say — that each date is a real day of the notice's year or the end of the one
/// before.)
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct HolidayFile {
    #[schema(minimum = 1949, maximum = 9999)]
    pub year: u32,
    /// Links to the notice.
    #[schema(max_length = 100)]
    pub papers: Vec<String>,
    #[schema(max_length = 100)]
    pub days: Vec<HolidayDay>,
}

#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct HolidayDay {
    /// The holiday, e.g. 春节.
    #[schema(min_length = 1, max_length = 50, pattern = "\\S")]
    pub name: String,
    /// `YYYY-MM-DD`.
    #[schema(pattern = "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")]
    pub date: String,
    /// A day off (true) or a working weekend day (false).
    #[serde(rename = "isOffDay")]
    #[schema(rename = "isOffDay")]
    pub is_off_day: bool,
}

#[utoipa::path(post, path = "/api/v1/admin/calendar", tag = "staff",
    request_body(content = HolidayFile, description = "A holiday-cn file", content_type = "application/json"),
    responses(
        (status = 200, description = "Imported; the recomputation of open deadlines is queued", body = crate::calendar::CalendarImport),
        (status = 400, description = "Not a valid holiday file", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Admins only, or missing CSRF token", body = ErrorBody),
        (status = 413, description = "Request too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
    ))]
pub async fn import_calendar(
    State(s): State<AppState>,
    Staff(id): Staff,
    JsonBody(file): JsonBody<serde_json::Value>,
) -> Result<Json<crate::calendar::CalendarImport>, AppError> {
    if id.actor.role != Role::Admin {
        return Err(AppError::Forbidden("只有系统管理员可以导入节假日安排".into()));
    }
    Ok(Json(s.app.import_calendar(&file.to_string()).await?))
}
