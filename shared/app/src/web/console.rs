//! The staff console: sign-in, inbox, case page with the actions the user's role allows,
//! supervision overview, administration (holiday calendar, staff accounts).

use super::{bar_chart, error_page, field, form_pairs, html_response, ok, page, redirect, Nav};
use crate::accounts::{Account, Identity};
use crate::delivery::{Delivery, DeliveryStatus, Payload};
use crate::error::AppError;
use crate::http::AppState;
use crate::ports::CalendarState;
use crate::views::{unit_name, CaseSummary, StaffCaseView};
use axum::body::Bytes;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use mailbox_domain::case::Case;
use mailbox_domain::deadline::{cst, DeadlineClass};
use mailbox_domain::triage::{TriageNote, HOT_DAYS};
use mailbox_domain::workflow::{AuditEvent, EventKind};
use mailbox_domain::{Action, CaseId, CaseStatus, JurisdictionId, Organisation, Role, UnitId};
use maud::{html, Markup};
use serde::Deserialize;

pub(super) fn fmt_time(t: DateTime<Utc>) -> String {
    t.with_timezone(&cst()).format("%Y-%m-%d %H:%M").to_string()
}

/// The signed-in user, or a redirect to the sign-in page — or to the password page while a reset
/// password waits to be replaced.
pub(super) async fn current(s: &AppState, headers: &HeaderMap) -> Result<Identity, Response> {
    let id = signed_in(s, headers).await?;
    if id.must_change_password {
        return Err(redirect(PASSWORD_PAGE));
    }
    Ok(id)
}

const PASSWORD_PAGE: &str = "/console/password";

/// The signed-in user, even one who must change their password first.
async fn signed_in(s: &AppState, headers: &HeaderMap) -> Result<Identity, Response> {
    match s.auth.identify(headers).await {
        Ok(Some(id)) => Ok(id),
        Ok(None) => Err(redirect("/console/login")),
        Err(e) => {
            tracing::error!(error = %e, "identify failed");
            Err(error_page(StatusCode::INTERNAL_SERVER_ERROR, true, "服务暂时不可用"))
        }
    }
}

pub(super) fn nav(id: &Identity) -> Nav {
    Nav {
        console: true,
        signed_in: Some((
            format!("{}（{}）", id.display_name, id.actor.role.label()),
            id.csrf_token.clone().unwrap_or_default(),
        )),
    }
}

/// Forms carry the session's CSRF token; a form without it (another site's) is refused.
/// A form posted by a signed-in user with the session's CSRF token: the user and the form's fields.
pub(super) async fn signed_in_form(
    s: &AppState,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(Identity, Vec<(String, String)>), Response> {
    let id = signed_in(s, headers).await?;
    let p = form_pairs(body);
    if !csrf_ok(&id, &p) {
        return Err(error_page(StatusCode::FORBIDDEN, true, "页面已过期，请刷新后重试"));
    }
    Ok((id, p))
}

fn csrf_ok(id: &Identity, pairs: &[(String, String)]) -> bool {
    let sent = field(pairs, "csrf");
    id.csrf_token.as_deref().is_some_and(|t| !sent.is_empty() && t == sent)
}

pub(super) fn csrf_input(id: &Identity) -> Markup {
    html! { input type="hidden" name="csrf" value=(id.csrf_token.clone().unwrap_or_default()); }
}

/// The sign-in form's own CSRF token, before there is a session: the same random value in an
/// HttpOnly cookie and in the form, and a sign-in whose two differ is refused — so another site
/// cannot sign a browser in to an account of its choosing (login CSRF).
const LOGIN_COOKIE: &str = "__Host-mb_login";

/// The sign-in page with a fresh form token (also set as its cookie).
fn login_response(status: StatusCode, message: Option<&str>) -> Response {
    let token = {
        let mut bytes = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut bytes);
        hex::encode(bytes)
    };
    let mut response = html_response(status, login_page(message, &token));
    let cookie = format!("{LOGIN_COOKIE}={token}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=3600");
    if let Ok(v) = header::HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

fn login_page(message: Option<&str>, token: &str) -> Markup {
    let body = html! {
        h1 { "工作人员登录" }
        @if let Some(m) = message { p.error role="alert" { (m) } }
        form.card method="post" action="/console/login" {
            input type="hidden" name="csrf" value=(token);
            label for="username" { "用户名" }
            input type="text" id="username" name="username" autocomplete="username" required;
            label for="password" { "密码" }
            input type="password" id="password" name="password" autocomplete="current-password" required;
            button type="submit" { "登录" }
        }
    };
    page("登录", Nav { console: true, signed_in: None }, body)
}

pub async fn login_form() -> Response {
    login_response(StatusCode::OK, None)
}

pub async fn login(
    State(s): State<AppState>,
    crate::http::extract::ClientAddr(client): crate::http::extract::ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let pairs = form_pairs(&body);
    let Some(local) = s.local.as_ref() else {
        return error_page(StatusCode::NOT_FOUND, true, "本部署使用统一身份认证登录");
    };
    let sent = field(&pairs, "csrf");
    let expected = crate::http::extract::cookie(&headers, LOGIN_COOKIE);
    if sent.is_empty() || expected.as_deref() != Some(sent) {
        return login_response(StatusCode::FORBIDDEN, Some("页面已过期，请重新登录"));
    }
    match local.login(field(&pairs, "username").trim(), field(&pairs, "password"), &client, s.app.now()).await {
        Ok(done) => {
            let cookie = crate::http::session_cookie(&done.token);
            (StatusCode::SEE_OTHER, [(header::LOCATION, super::CONSOLE_HOME.to_owned()), (header::SET_COOKIE, cookie)])
                .into_response()
        }
        Err(e @ AppError::BadCredentials) => login_response(StatusCode::UNAUTHORIZED, Some(&e.to_string())),
        Err(AppError::Forbidden(message)) => login_response(StatusCode::FORBIDDEN, Some(&message)),
        Err(AppError::Invalid { message, .. } | AppError::Conflict { message, .. }) => {
            login_response(StatusCode::BAD_REQUEST, Some(&message))
        }
        Err(e @ AppError::RateLimited) => login_response(StatusCode::TOO_MANY_REQUESTS, Some(&e.to_string())),
        Err(e @ AppError::Busy) => login_response(StatusCode::SERVICE_UNAVAILABLE, Some(&e.to_string())),
        Err(e) => {
            tracing::error!(error = %e, "login failed");
            error_page(StatusCode::INTERNAL_SERVER_ERROR, true, "服务暂时不可用")
        }
    }
}

fn password_page(id: &Identity, message: Option<&str>) -> Markup {
    let body = html! {
        h1 { "设置新密码" }
        @if id.must_change_password { div.notice { "您当前的密码由管理员设置，请先设置自己的新密码。" } }
        @if let Some(m) = message { p.error role="alert" { (m) } }
        form.card method="post" action=(PASSWORD_PAGE) {
            (csrf_input(id))
            label for="password" { "新密码（至少 12 个字符，不含用户名，不要用常见密码）" }
            input type="password" id="password" name="password" autocomplete="new-password" minlength="12" maxlength="128" required;
            label for="again" { "再次输入新密码" }
            input type="password" id="again" name="again" autocomplete="new-password" minlength="12" maxlength="128" required;
            button type="submit" { "保存新密码" }
        }
    };
    page("设置新密码", nav(id), body)
}

pub async fn password_form(State(s): State<AppState>, headers: HeaderMap) -> Response {
    match signed_in(&s, &headers).await {
        Ok(id) => ok(password_page(&id, None)),
        Err(r) => r,
    }
}

/// Changes the signed-in user's password; every session of the account ends, so they sign in
/// again with the new one.
pub async fn change_password(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let (id, p) = match signed_in_form(&s, &headers, &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if field(&p, "password") != field(&p, "again") {
        return html_response(StatusCode::BAD_REQUEST, password_page(&id, Some("两次输入的新密码不一致")));
    }
    let Some(local) = s.local.as_ref() else {
        return error_page(StatusCode::NOT_FOUND, true, "本部署使用统一身份认证登录");
    };
    let admin = crate::accounts::AccountAdmin { store: local.accounts.as_ref(), org: &s.app.org };
    match admin.change_password(id.actor.user.as_str(), field(&p, "password"), s.app.now()).await {
        Ok(_) => {
            tracing::info!(user = %id.actor.user, "password changed");
            let clear = crate::http::clear_session_cookie();
            let mut response = login_response(StatusCode::OK, Some("密码已修改，请用新密码登录"));
            if let Ok(v) = header::HeaderValue::from_str(&clear) {
                response.headers_mut().append(header::SET_COOKIE, v);
            }
            response
        }
        Err(AppError::Invalid { message, .. }) => {
            html_response(StatusCode::BAD_REQUEST, password_page(&id, Some(&message)))
        }
        Err(e) => console_error(e),
    }
}

const NOTIFICATIONS_PAGE: &str = "/console/notifications";

fn notifications_page(id: &Identity, account: &Account, delivers: bool, message: Option<(&str, bool)>) -> Markup {
    let body = html! {
        h1 { "通知设置" }
        @if let Some((m, is_error)) = message { p class=(if is_error { "error" } else { "success" }) role="alert" { (m) } }
        @if !delivers { p.notice { "本系统尚未配置邮件或短信通道：通知目前只在工作台显示。" } }
        form.card method="post" action=(NOTIFICATIONS_PAGE) {
            (csrf_input(id))
            p.muted { "本单位的工作通知（新留言待受理、交办转办、催办、超期、督办、每日待办）除在工作台显示外，还发送到：" }
            label.check {
                input type="checkbox" name="email" value="1" checked[account.notify_email];
                " 电子邮件（" (account.email.clone().unwrap_or_else(|| "未登记，请联系系统管理员".into())) "）"
            }
            label.check {
                input type="checkbox" name="sms" value="1" checked[account.notify_sms];
                " 短信（" (account.phone.clone().unwrap_or_else(|| "未登记，请联系系统管理员".into())) "）"
            }
            p.muted { "夜间（22:00至次日8:00）的非紧急短信在早上8点发送；超期和督办通知随时发送。" }
            button type="submit" { "保存" }
        }
    };
    page("通知设置", nav(id), body)
}

/// The signed-in person's account, for the pages about themselves.
async fn own_account(s: &AppState, id: &Identity) -> Result<Account, Response> {
    let Some(local) = s.local.as_ref() else {
        return Err(error_page(StatusCode::NOT_FOUND, true, "本部署使用统一身份认证登录"));
    };
    match local.accounts.account(id.actor.user.as_str()).await {
        Ok(Some(a)) => Ok(a),
        Ok(None) => Err(error_page(StatusCode::NOT_FOUND, true, "账号不存在")),
        Err(e) => Err(console_error(e.into())),
    }
}

pub async fn notifications_form(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let id = match signed_in(&s, &headers).await {
        Ok(id) => id,
        Err(r) => return r,
    };
    match own_account(&s, &id).await {
        Ok(account) => ok(notifications_page(&id, &account, s.app.delivers(), None)),
        Err(r) => r,
    }
}

/// Saves the signed-in person's choice of channels (`POST /console/notifications`).
pub async fn save_notifications(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let (id, p) = match signed_in_form(&s, &headers, &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(local) = s.local.as_ref() else {
        return error_page(StatusCode::NOT_FOUND, true, "本部署使用统一身份认证登录");
    };
    let admin = crate::accounts::AccountAdmin { store: local.accounts.as_ref(), org: &s.app.org };
    match admin.set_channels(id.actor.user.as_str(), field(&p, "email") == "1", field(&p, "sms") == "1").await {
        Ok(account) => ok(notifications_page(&id, &account, s.app.delivers(), Some(("已保存", false)))),
        Err(e) => console_error(e),
    }
}

pub async fn logout(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = signed_in_form(&s, &headers, &body).await {
        return r;
    }
    if let (Some(local), Some((token, _))) = (s.local.as_ref(), crate::http::extract::session_token(&headers)) {
        let _ = local.logout(&token).await;
    }
    let clear = crate::http::clear_session_cookie();
    (StatusCode::SEE_OTHER, [(header::LOCATION, "/console/login".to_owned()), (header::SET_COOKIE, clear)])
        .into_response()
}

#[derive(Deserialize, Default, Clone)]
pub struct InboxFilter {
    status: Option<String>,
    urgency: Option<String>,
    q: Option<String>,
    unit: Option<String>,
    format: Option<String>,
    /// The list position to continue after (the page before's last).
    after: Option<String>,
}

/// Cases on one page of the console's list.
const CONSOLE_PAGE: usize = 100;

fn status_name(s: CaseStatus) -> String {
    serde_json::to_value(s).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

fn urgency_label(u: &str) -> &'static str {
    match u {
        "overdue" => "已超期",
        "due_soon" => "1个工作日内到期",
        "normal" => "正常",
        _ => "未计时",
    }
}

impl InboxFilter {
    fn list_filter(&self) -> Result<crate::service::ListFilter, AppError> {
        crate::http::api::list_filter(
            self.status.as_deref(),
            self.q.clone(),
            self.unit.as_deref(),
            self.urgency.as_deref(),
        )
    }

    /// The filter as a query string (for the next page and the exports).
    fn query(&self) -> String {
        let mut url = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [("status", &self.status), ("urgency", &self.urgency), ("q", &self.q), ("unit", &self.unit)] {
            url.append_pair(k, v.as_deref().unwrap_or(""));
        }
        url.finish()
    }
}

pub async fn inbox(State(s): State<AppState>, headers: HeaderMap, Query(f): Query<InboxFilter>) -> Response {
    let id = match current(&s, &headers).await {
        Ok(id) => id,
        Err(r) => return r,
    };
    match id.actor.role {
        Role::Admin => return redirect("/console/admin"),
        // 舆情 staff have no cases: their work is the desk.
        Role::Opinion => return redirect("/console/opinion"),
        _ => {}
    }
    // One page of the store's list, the filter applied there (every case in scope is searched).
    let after = f.after.as_deref().filter(|a| !a.is_empty());
    let (list, next, problem) = match f.list_filter() {
        Ok(filter) => match s.app.inbox(&id.actor, &filter, CONSOLE_PAGE, after).await {
            Ok(page) => (page.items, page.next, None),
            Err(AppError::Invalid { message, .. }) => (Vec::new(), None, Some(message)),
            Err(e) => return console_error(e),
        },
        Err(AppError::Invalid { message, .. }) => (Vec::new(), None, Some(message)),
        Err(e) => return console_error(e),
    };
    let count = |u: &str| list.iter().filter(|c| c.urgency == u).count();
    let org = &s.app.org;
    let query = f.query();
    let mut units: Vec<_> =
        org.units.iter().filter(|u| u.kind != mailbox_domain::org::UnitKind::GovernmentOffice).collect();
    units.sort_by(|a, b| a.name.cmp(&b.name));
    let body = html! {
        h1 { "待办留言" @if let Some(u) = &id.actor.unit { span.muted { " · " (unit_name(org, u)) } } }
        div.counts {
            span { @if next.is_some() || f.after.as_deref().is_some_and(|a| !a.is_empty()) { "本页 " } @else { "共 " } strong { (list.len()) } " 件" }
            span.urgency-overdue { "已超期 " strong { (count("overdue")) } }
            span.urgency-due_soon { "1个工作日内到期 " strong { (count("due_soon")) } }
            span { "正常 " strong { (count("normal")) } }
        }
        form.card.filters method="get" action=(super::CONSOLE_HOME) {
            div { label for="status" { "状态" } select id="status" name="status" { option value="" { "全部" }
                @for st in CaseStatus::ALL { option value=(status_name(st)) selected[f.status.as_deref() == Some(status_name(st).as_str())] { (st.label()) } } } }
            div { label for="urgency" { "紧急程度" } select id="urgency" name="urgency" { option value="" { "全部" }
                @for u in ["overdue", "due_soon", "normal"] { option value=(u) selected[f.urgency.as_deref() == Some(u)] { (urgency_label(u)) } } } }
            div { label for="unit" { "承办单位" } select id="unit" name="unit" { option value="" { "全部" }
                @for u in &units { option value=(u.id) selected[f.unit.as_deref() == Some(u.id.as_str())] { (u.name) } } } }
            div { label for="q" { "搜索" } input type="search" id="q" name="q" maxlength="50" placeholder="标题中的词语或留言编号" value=(f.q.clone().unwrap_or_default()); }
            button type="submit" { "筛选" }
        }
        @if let Some(message) = &problem { p.error role="alert" { (message) } }
        p { a href={ "/console/export?" (query) "&format=csv" } { "导出 CSV" } " · " a href={ "/console/export?" (query) "&format=xlsx" } { "导出 XLSX" } }
        div.table-wrap { table id="inbox" {
            thead { tr { th { "编号" } th { "标题" } th { "类型" } th { "状态" } th { "承办单位" } th { "办理时限" } } }
            tbody {
                @for c in &list {
                    tr class={ "urgency-" (c.urgency) @if c.urgent { " urgent" } } {
                        td { (c.number) }
                        td {
                            @if c.urgent { span.badge.urgent-case { "紧急" } " " }
                            a href={ "/console/cases/" (c.id) } { (c.title) }
                            @if c.hot { " " span.badge.hot-case { "热点" } }
                            @if c.supervised { " " span.badge { "督办" } }
                        }
                        td { (c.kind.label()) }
                        td { (c.status_label) }
                        td { (c.lead.as_ref().map(|u| unit_name(org, &UnitId::new(u.as_str()))).unwrap_or_default()) }
                        td { @if let Some(d) = c.due_on { (d) " " span class={ "badge " (c.urgency) } { (urgency_label(&c.urgency)) } } }
                    }
                }
            }
        } }
        @if list.is_empty() { p.muted { "暂无留言" } }
        @if let Some(next) = &next {
            p { a id="next-page" href={ (super::CONSOLE_HOME) "?" (query) "&after=" (form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()) } { "下一页" } }
        }
    };
    ok(page("待办", nav(&id), body))
}

pub async fn export(State(s): State<AppState>, headers: HeaderMap, Query(f): Query<InboxFilter>) -> Response {
    let id = match current(&s, &headers).await {
        Ok(id) => id,
        Err(r) => return r,
    };
    let filter = match f.list_filter() {
        Ok(filter) => filter,
        Err(e) => return console_error(e),
    };
    let format = if f.format.as_deref() == Some("xlsx") { Format::Xlsx } else { Format::Csv };
    use crate::export::Format;
    let org = &s.app.org;
    let row = |c: &CaseSummary| crate::views::export_row(org, c);
    // Every case in scope that passes the filter, a page at a time into a file: then the file is
    // streamed (embedded) or handed over as a short-lived link (AWS).
    let file = match s.app.export_cases(&id.actor, &filter, format, &crate::views::EXPORT_HEADERS, row).await {
        Ok(file) => file,
        Err(e) => return console_error(e),
    };
    let name = format!("cases.{}", format.extension());
    match s.app.attachments.share_export(&file, &name, format.content_type()).await {
        Ok(Some(url)) => (StatusCode::SEE_OTHER, [(axum::http::header::LOCATION, url)]).into_response(),
        Ok(None) => crate::http::api::file_stream(file, format.content_type(), &name),
        Err(e) => console_error(e.into()),
    }
}

pub(super) fn console_error(e: AppError) -> Response {
    match e {
        AppError::NotFound => error_page(StatusCode::NOT_FOUND, true, "留言不存在"),
        AppError::Invalid { message, .. } => error_page(StatusCode::BAD_REQUEST, true, &message),
        AppError::Forbidden(m) => error_page(StatusCode::FORBIDDEN, true, &m),
        e @ AppError::Busy => error_page(StatusCode::SERVICE_UNAVAILABLE, true, &e.to_string()),
        e => {
            tracing::error!(error = %e, "console request failed");
            error_page(StatusCode::INTERNAL_SERVER_ERROR, true, "服务暂时不可用")
        }
    }
}

/// A line of the staff timeline.
fn event_line(s: &AppState, e: &AuditEvent) -> String {
    let org = &s.app.org;
    let who = e.actor.unit.as_ref().map(|u| unit_name(org, u)).unwrap_or_else(|| e.actor.role.label().to_owned());
    let what = match &e.kind {
        EventKind::Submitted { source: Some(source), .. } => {
            format!("经接口「{}」（{}）提交留言", source.name, source.key_id)
        }
        EventKind::Submitted { .. } => "提交留言".to_owned(),
        EventKind::Accepted => "受理".into(),
        EventKind::Rejected { reason } => format!("认定为无效留言：{reason}"),
        EventKind::Dispatched { mode, lead, co_handlers, class, days } => {
            let co: Vec<String> = co_handlers.iter().map(|u| unit_name(org, u)).collect();
            let co = if co.is_empty() { String::new() } else { format!("，协办：{}", co.join("、")) };
            format!("{}至{}{co}（{}，{}个工作日）", mode.label(), unit_name(org, lead), class.label(), days)
        }
        EventKind::Received { due_on, provisional } => {
            format!("签收，办理时限至{due_on}{}", if *provisional { "（暂定）" } else { "" })
        }
        EventKind::Returned { reason } => format!("退回：{reason}"),
        EventKind::Contributed => "提交协办意见".into(),
        EventKind::Reported => "反馈办理结果".into(),
        EventKind::Replied { public, on_time } => {
            format!("答复（{}，{}）", if *public { "公开" } else { "不公开" }, if *on_time { "按时" } else { "超时" })
        }
        EventKind::MeetingRecorded { held_on } => format!("记录见面答复（{held_on}）"),
        EventKind::ExtensionRequested { days, reason } => format!("申请延期{days}个工作日：{reason}"),
        EventKind::ExtensionDecided { approved, note, due_on } => match (approved, due_on) {
            (true, Some(d)) => format!("同意延期，时限至{d}"),
            _ => format!("不同意延期：{note}"),
        },
        EventKind::Urged { note } => format!("催办 {note}"),
        EventKind::Supervised { note } => format!("督办 {note}"),
        EventKind::Rated { satisfied } => format!("市民评价：{}", if *satisfied { "满意" } else { "不满意" }),
        EventKind::Reopened { reason, due_on } => format!("重办：{reason}，时限至{due_on}"),
        EventKind::Closed => "办结".into(),
        EventKind::AttachmentMarked { number, public: true } => format!("将附件{number}设为可公开"),
        EventKind::AttachmentMarked { number, public: false } => format!("将附件{number}设为不公开"),
        EventKind::Featured { note } if note.is_empty() => "设为典型案例".into(),
        EventKind::Featured { note } => format!("设为典型案例：{note}"),
        EventKind::DeadlineRecomputed { from, to, .. } => format!("节假日调整，时限由{from}改为{to}"),
        EventKind::MarkedOverdue { due_on } => format!("超过办理时限（{due_on}）"),
        EventKind::ExplanationRequested { .. } => "要求提交情况说明".into(),
        EventKind::Explained { text } => format!("情况说明：{text}"),
        EventKind::Triaged { summary } => format!("分拣建议：{summary}"),
        EventKind::Merged { into } => format!("并单：并入 {into}"),
        EventKind::Unmerged { from } => format!("撤销并单（原并入 {from}）"),
        EventKind::ReplyShared { from, public } => {
            format!("原留言 {from} 已答复，同一答复送达本留言（{}）", if *public { "公开" } else { "不公开" })
        }
    };
    format!("{who}：{what}")
}

fn action_form(s: &AppState, id: &Identity, v: &StaffCaseView, action: Action) -> Markup {
    let c = &v.case;
    let name = serde_json::to_value(action).ok().and_then(|x| x.as_str().map(str::to_owned)).unwrap_or_default();
    let units = s.app.org.handling_units().collect::<Vec<_>>();
    let text = |label: &str, field: &str| html! { label for={ (name) "-" (field) } { (label) } textarea id={ (name) "-" (field) } name=(field) required {} };
    let inner = match action {
        Action::Accept | Action::Receive | Action::Close => html! {},
        Action::Feature => html! {
            p.muted { "典型案例在每月的典型案例专栏（/cases/featured）公开，隐去个人信息，供媒体和政府网站报道。" }
            label for="feature-note" { "推荐理由（一段话，不超过 500 字）" }
            textarea id="feature-note" name="note" maxlength="500" required {}
        },
        Action::Reject => text("无效原因", "reason"),
        Action::Return => text("退回原因", "reason"),
        Action::Contribute => text("协办意见", "text"),
        Action::Report => text("办理结果", "text"),
        Action::Explain => text("情况说明", "text"),
        Action::Reopen => text("重办原因", "reason"),
        // 并单: the likely originals triage found are offered; any earlier case of the same
        // dispatcher may be typed in.
        Action::Merge => html! {
            p.muted { "重复诉求原则上并单：本留言停止计时，原留言答复后，本留言人收到同一答复。" }
            label for="merge-into" { "并入的原留言编号" }
            input type="text" id="merge-into" name="into" list="merge-candidates" required placeholder="例如 GA202612010001" autocomplete="off";
            @let candidates = c.triage.as_ref().map(|t| t.duplicates.as_slice()).unwrap_or_default();
            datalist id="merge-candidates" { @for d in candidates { option value=(d.number) { (d.title) } } }
            @if !candidates.is_empty() {
                p.muted { "疑似重复：" @for d in candidates { br; (d.number) " " (d.title) "（相似度 " (d.similarity) "%）" } }
            }
        },
        Action::Unmerge => html! { p.muted { "原留言答复前可撤销并单，本留言回到并单前的状态。" } },
        Action::Urge | Action::Supervise => {
            html! { label for={ (name) "-note" } { "说明（可选）" } input type="text" id={ (name) "-note" } name="note"; }
        }
        Action::Reply => html! {
            (text("答复内容", "text"))
            label.check { input type="checkbox" name="public" value="1" disabled[!c.publishable]; "公开答复（隐去个人信息）" @if !c.publishable { span.muted { "留言人未同意公开" } } }
        },
        Action::RecordMeeting => html! {
            label for="meeting-date" { "见面日期" } input type="date" id="meeting-date" name="held_on" required;
            label for="meeting-place" { "地点" } input type="text" id="meeting-place" name="place" required;
            (text("见面情况", "summary"))
        },
        Action::RequestExtension => html! {
            label for="ext-days" { "延期工作日数" } input type="number" id="ext-days" name="days" min="1" max="60" required;
            (text("情况说明", "reason"))
        },
        Action::DecideExtension => html! {
            @if let Some(p) = c.pending_extension() { p { "申请延期 " (p.days) " 个工作日：" (p.reason) } }
            label.check { input type="radio" name="approve" value="1" checked; "同意" }
            label.check { input type="radio" name="approve" value="0"; "不同意" }
            label for="decide-note" { "意见（不同意时必填）" } input type="text" id="decide-note" name="note";
        },
        Action::Dispatch => html! {
            label for="dispatch-mode" { "方式" }
            select id="dispatch-mode" name="mode" { option value="transfer" { "转办（承办单位直接答复）" } option value="assign" { "交办（承办单位反馈，信访局答复）" } }
            label for="dispatch-lead" { "主办单位" }
            select id="dispatch-lead" name="lead" { @for u in &units { option value=(u.id) { (u.name) } } }
            label for="dispatch-co" { "协办单位（可多选）" }
            select id="dispatch-co" name="co_handlers" multiple size="4" { @for u in &units { option value=(u.id) { (u.name) } } }
            label for="dispatch-class" { "时限类别" }
            select id="dispatch-class" name="class" {
                @for cl in DeadlineClass::ALL {
                    @let v = serde_json::to_value(cl).ok().and_then(|x| x.as_str().map(str::to_owned)).unwrap_or_default();
                    option value=(v) selected[cl == c.kind.default_class()] { (cl.label()) }
                }
            }
            label for="dispatch-special" { "特殊情况时限（工作日，选“特殊情况”时填写）" } input type="number" id="dispatch-special" name="special_days" min="1" max="60";
        },
        _ => return html! {},
    };
    html! {
        form method="post" action={ "/console/cases/" (c.id) "/" (name) } {
            h3 { (action.label()) }
            (csrf_input(id))
            input type="hidden" name="version" value=(c.version);
            (inner)
            button type="submit" { (action.label()) }
        }
    }
}

fn case_markup(s: &AppState, id: &Identity, v: &StaffCaseView, message: Option<(&str, bool)>) -> Markup {
    let c = &v.case;
    let org = &s.app.org;
    let body = html! {
        p { a href=(super::CONSOLE_HOME) { "← 返回待办" } }
        h1 { (c.title) }
        @if let Some((m, is_error)) = message { p class=(if is_error { "error" } else { "success" }) role="alert" { (m) } }
        div.card {
            dl.facts {
                dt { "编号" } dd { (c.number) }
                dt { "信箱" } dd { (v.mailbox_name) }
                dt { "类型" } dd { (c.kind.label()) }
                dt { "状态" } dd {
                    span.badge { (crate::views::status_label(c)) }
                    @if c.is_urgent() { " " span.badge.urgent-case { "紧急" } }
                    @if c.triage.as_ref().is_some_and(|t| t.hot.is_some()) { " " span.badge.hot-case { "热点" } }
                    @if c.supervised { " " span.badge { "督办" } }
                }
                dt { "提交时间" } dd { (fmt_time(c.submitted_at)) }
                dt { "留言人" } dd { (c.citizen.name) " " (c.citizen.phone) @if !v.personal_data_visible { span.muted { "（个人信息已隐去）" } } }
                dt { "同意公开" } dd { (if c.publishable { "是" } else { "否" }) }
                @if let Some(l) = &c.location { dt { "地点" } dd id="case-location" { (l) } }
                @if let Some(src) = &c.source { dt { "来源" } dd id="case-source" { "接口：" (src.name) } }
                @if let Some(d) = &c.dispatch { dt { "承办单位" } dd { (unit_name(org, &d.lead)) " · " (d.mode.label()) } }
                @if let Some(r) = &c.invalid_reason { dt { "无效原因" } dd { (r) } }
                @if let Some(n) = &c.merged_into { dt { "并单" } dd id="merged-into" { "已并入 " (n) } }
            }
        }
        h2 { "留言内容" }
        div.card { pre.text { (c.body) } }
        @if !c.attachments.is_empty() { (attachments_markup(id, v)) }
        @if let Some(t) = &c.triage { (triage_markup(org, c, t)) }
        @if let Some(dl) = &v.deadline {
            h2 { "办理时限" }
            div.card id="deadline" {
                p { strong { (dl.due_on) } " 24:00 前（" (dl.class_label) "，" (dl.total_days) " 个工作日"
                    @if !dl.extensions.is_empty() { "，含延期 " (dl.extensions.iter().sum::<u32>()) " 个工作日" } "）"
                    @if dl.provisional { span.muted { " 暂按周一至周五计算，待国务院公布节假日安排后重算" } } }
                p.muted { "签收日 " (dl.received_on) " 不计，自次日起算工作日。" }
                @if !dl.skipped.is_empty() {
                    details { summary { "不计入的日期（" (dl.skipped.len()) " 天）" }
                        ul { @for d in &dl.skipped { li { (d.date) " " (d.kind.reason()) } } }
                        @for d in &dl.adjusted_workdays { p.muted { (d.date) " " (d.kind.reason()) "，计入工作日" } }
                    }
                }
            }
        }
        @if let Some(r) = &c.reply {
            h2 { "答复" }
            div.card { p.muted { (unit_name(org, &r.unit)) " · " (fmt_time(r.at)) " · " (if r.public { "公开" } else { "不公开" }) } pre.text { (r.text) } }
        }
        @if !c.reports.is_empty() {
            h2 { "办理反馈" }
            @for r in &c.reports { div.card { p.muted { (unit_name(org, &r.unit)) (if r.co_handler { "（协办）" } else { "" }) " · " (fmt_time(r.at)) } pre.text { (r.text) } } }
        }
        @if !v.allowed_actions.is_empty() {
            h2 { "办理" }
            div.actions { @for a in &v.allowed_actions { (action_form(s, id, v, *a)) } }
        }
        h2 { "办理记录" }
        ol.timeline { @for e in &v.events { li { time { (fmt_time(e.at)) } (event_line(s, e)) } } }
    };
    page(&c.title, nav(id), body)
}

/// A file's size as people read it: 37 KB, 2.4 MB.
fn size_label(bytes: u64) -> String {
    const MB: f64 = 1024.0 * 1024.0;
    if (bytes as f64) < MB {
        format!("{} KB", bytes.div_ceil(1024).max(1))
    } else {
        format!("{:.1} MB", bytes as f64 / MB)
    }
}

/// The citizen's files: each opens in a new tab; the dispatcher marks each publishable or not.
fn attachments_markup(id: &Identity, v: &StaffCaseView) -> Markup {
    let c = &v.case;
    let may_mark = mailbox_domain::authorize(&id.actor, Action::PublishAttachment, c).is_ok();
    html! {
        h2 { "附件" }
        div.card id="attachments" {
            p.muted { "上传时已重新编码图片，清除了拍摄地点、设备等信息。经标记可公开的附件，在答复公开后随答复在网站公开。" }
            ul { @for (i, a) in c.attachments.iter().enumerate() { li {
                a href={ "/console/cases/" (c.id) "/attachments/" (i + 1) } target="_blank" rel="noopener" {
                    "附件" (i + 1) "（" (a.kind.label()) "，" (size_label(a.bytes)) "）"
                }
                @if a.public { " " span.badge { "可公开" } }
                @if may_mark && a.kind == mailbox_domain::AttachmentKind::Pdf && !a.public {
                    " " span.muted { "（PDF 仅供办理人员查看）" }
                } @else if may_mark && (a.public || c.publishable) {
                    form.inline method="post" action={ "/console/cases/" (c.id) "/publish_attachment" } {
                        (csrf_input(id))
                        input type="hidden" name="version" value=(c.version);
                        input type="hidden" name="number" value=(i + 1);
                        input type="hidden" name="public" value=(if a.public { "0" } else { "1" });
                        button type="submit" { (if a.public { "取消公开" } else { "设为可公开" }) }
                    }
                }
            } } }
            @if may_mark && !c.publishable { p.muted { "留言人未同意公开，附件不能公开。" } }
        }
    }
}

/// Triage's suggestions, each with how sure it is and the words behind it.
fn triage_markup(org: &Organisation, c: &Case, t: &TriageNote) -> Markup {
    let why = |confidence: u8, words: &[String]| {
        let words = if words.is_empty() { String::new() } else { format!("，依据：{}", words.join("、")) };
        html! { span.muted { "（把握 " (confidence) "%" (words) "）" } }
    };
    let jurisdiction =
        |id: &JurisdictionId| org.jurisdictions.iter().find(|j| &j.id == id).map_or(id.to_string(), |j| j.name.clone());
    html! {
        h2 { "分拣建议" }
        div.card id="triage" {
            p.muted { "系统根据留言文字给出的建议，仅供参考，以人工判断为准。" }
            dl.facts {
                @for u in &t.urgent {
                    dt.triage-urgent { "紧急件" }
                    dd.triage-urgent { (u.label) span.muted { "（触发词：" (u.words.join("、")) "）" } }
                }
                @if let Some(h) = &t.hot {
                    dt { "热点件" }
                    dd { (HOT_DAYS) "天内同类留言 " (h.count) " 件，最早为 " (h.first) @if h.alert { span.muted { "（已通知督办部门）" } } }
                }
                @if let Some(d) = &t.domain { dt { "分类" } dd { (d.value) " " (why(d.confidence, &d.words)) } }
                @if !t.units.is_empty() {
                    dt { "建议承办单位" }
                    dd { (t.units.iter().map(|u| unit_name(org, u)).collect::<Vec<_>>().join("、")) }
                }
                @if let Some(k) = &t.kind {
                    dt { "留言类型" }
                    dd { "可能是“" (k.value.label()) "”，留言人选择的是“" (c.kind.label()) "” " (why(k.confidence, &k.words)) }
                }
                @if let Some(j) = &t.jurisdiction { dt { "所属辖区" } dd { (jurisdiction(&j.value)) " " (why(j.confidence, &j.words)) } }
                @if let Some(i) = &t.invalid { dt { "疑似无效" } dd { (i.value) " " (why(i.confidence, &i.words)) } }
                @if !t.duplicates.is_empty() {
                    dt { "疑似重复" }
                    dd { ul { @for d in &t.duplicates { li { (d.number) " " (d.title) span.muted { "（相似度 " (d.similarity) "%）" } } } } }
                }
                @if !t.personal_data.is_empty() {
                    dt { "个人信息" }
                    dd {
                        (t.personal_data.iter().map(|p| format!("{} {} 处", p.kind, p.count)).collect::<Vec<_>>().join("、"))
                        span.muted { "（公开时自动隐去）" }
                    }
                }
            }
        }
    }
}

#[derive(Deserialize, Default)]
pub struct Done {
    done: Option<String>,
}

pub async fn case_page(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(case): Path<String>,
    Query(d): Query<Done>,
) -> Response {
    let id = match current(&s, &headers).await {
        Ok(id) => id,
        Err(r) => return r,
    };
    let done: Option<Action> = d.done.and_then(|a| serde_json::from_value(serde_json::Value::String(a)).ok());
    let message = done.map(|a| format!("{}：操作成功", a.label()));
    match s.app.staff_view(&id.actor, &CaseId::new(case)).await {
        Ok(v) => ok(case_markup(&s, &id, &v, message.as_deref().map(|m| (m, false)))),
        Err(AppError::NotFound) if done.is_some() => redirect(super::CONSOLE_HOME),
        Err(e) => console_error(e),
    }
}

/// A file of a case the signed-in staff member may see (`GET /console/cases/{id}/attachments/{n}`).
pub async fn attachment(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path((case, n)): Path<(String, String)>,
) -> Response {
    let id = match current(&s, &headers).await {
        Ok(id) => id,
        Err(r) => return r,
    };
    let Ok(n) = n.parse::<usize>() else { return console_error(AppError::NotFound) };
    let found = match s.app.staff_attachment(&id.actor, &CaseId::new(case), n).await {
        Ok(f) => f,
        Err(e) => return console_error(e),
    };
    s.app.attachment_response(found).await.unwrap_or_else(console_error)
}

pub async fn act(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path((case, action)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let id = match current(&s, &headers).await {
        Ok(id) => id,
        Err(r) => return r,
    };
    let pairs = form_pairs(&body);
    if !csrf_ok(&id, &pairs) {
        return error_page(StatusCode::FORBIDDEN, true, "页面已过期，请刷新后重试");
    }
    let case_id = CaseId::new(case);
    let version = field(&pairs, "version").parse::<u64>().ok();
    let result = match crate::input::form::command(&action, &pairs) {
        Ok(cmd) => s.app.act(&id.actor, &case_id, version, cmd).await,
        Err(m) => Err(AppError::Invalid { code: "invalid_form", field: None, message: m }),
    };
    match result {
        // Post/Redirect/Get: a refresh shows the case again instead of repeating the action. A case
        // the action took out of the user's sight (returned) simply answers 404 there.
        Ok(_) => redirect(&format!("/console/cases/{case_id}?done={action}")),
        Err(e @ (AppError::Invalid { .. } | AppError::Conflict { .. } | AppError::Forbidden(_))) => {
            let status =
                if matches!(e, AppError::Conflict { .. }) { StatusCode::CONFLICT } else { StatusCode::BAD_REQUEST };
            match s.app.staff_view(&id.actor, &case_id).await {
                Ok(v) => html_response(status, case_markup(&s, &id, &v, Some((&e.to_string(), true)))),
                Err(e) => console_error(e),
            }
        }
        Err(e) => console_error(e),
    }
}

pub async fn supervision(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let id = match current(&s, &headers).await {
        Ok(id) => id,
        Err(r) => return r,
    };
    // Admins manage the organisation and accounts; they have no access to cases.
    if id.actor.role != Role::Supervisor {
        return error_page(StatusCode::FORBIDDEN, true, "督办页面仅供政府办督办人员使用");
    }
    let month = s.app.now().with_timezone(&cst()).format("%Y-%m").to_string();
    // Every open case, a page at a time: the overdue and supervised ones are watched.
    let open = crate::service::ListFilter {
        statuses: vec![CaseStatus::Dispatched, CaseStatus::InProgress, CaseStatus::Reported],
        ..Default::default()
    };
    let mut watched: Vec<CaseSummary> = Vec::new();
    let mut after: Option<String> = None;
    loop {
        match s.app.inbox(&id.actor, &open, 500, after.as_deref()).await {
            Ok(page) => {
                watched.extend(page.items.into_iter().filter(|c| c.urgency == "overdue" || c.supervised));
                match page.next {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
            Err(e) => return console_error(e),
        }
    }
    watched.sort_by_key(CaseSummary::cursor);
    let rows = match s.app.assessment(&month, &month).await {
        Ok(r) => r,
        Err(e) => return console_error(e),
    };
    let names: Vec<String> = rows.iter().map(|r| r.name.replace("广安市", "")).collect();
    let rates: Vec<f32> = rows.iter().map(|r| r.on_time_rate.unwrap_or(0.0) as f32 * 100.0).collect();
    let body = html! {
        h1 { "督办" }
        h2 { "超期和督办中的留言（" (watched.len()) "）" }
        div.table-wrap { table id="watched" {
            thead { tr { th { "编号" } th { "标题" } th { "承办单位" } th { "办理时限" } th { "状态" } } }
            tbody { @for c in &watched { tr class={ "urgency-" (c.urgency) } {
                td { (c.number) } td { a href={ "/console/cases/" (c.id) } { (c.title) } }
                td { (c.lead.as_ref().map(|u| unit_name(&s.app.org, &UnitId::new(u.as_str()))).unwrap_or_default()) }
                td { (c.due_on.map(|d| d.to_string()).unwrap_or_default()) } td { (c.status_label) @if c.supervised { " · 督办" } } } } }
        } }
        h2 { (month) " 各单位按时答复率" }
        p { a href={ "/console/assessment?month=" (month) "&format=csv" } { "导出 CSV" } " · "
            a href={ "/console/assessment?month=" (month) "&format=xlsx" } { "导出 XLSX" } }
        @if !rows.is_empty() { (bar_chart("按时答复率（%）", &names, &[("按时答复率", rates)])) }
        div.table-wrap { table {
            thead { tr { th { "单位" } th { "签收" } th { "答复" } th { "按时" } th { "超时" } th { "退回" } th { "延期" } th { "满意率" } } }
            tbody { @for r in &rows { tr { td { (r.name) } td { (r.received) } td { (r.replied) } td { (r.on_time) } td { (r.late) } td { (r.returned) } td { (r.extensions) }
                td { (r.satisfaction_rate.map(|x| format!("{:.0}%", x * 100.0)).unwrap_or_else(|| "—".into())) } } } }
        } }
    };
    ok(page("督办", nav(&id), body))
}

#[derive(Deserialize)]
pub struct AssessmentQuery {
    month: Option<String>,
    format: Option<String>,
}

/// The month's unit assessment as CSV or XLSX, for the supervision page (the console's own route:
/// on AWS the JSON API's `/api/v1/staff/assessment` sits behind the JWT authorizer, which a browser
/// session does not pass).
pub async fn assessment(State(s): State<AppState>, headers: HeaderMap, Query(q): Query<AssessmentQuery>) -> Response {
    let id = match current(&s, &headers).await {
        Ok(id) => id,
        Err(r) => return r,
    };
    if !matches!(id.actor.role, Role::Supervisor | Role::Admin) {
        return error_page(StatusCode::FORBIDDEN, true, "单位考核仅供督办人员查看");
    }
    let month = match q.month.as_deref().map(crate::reports::parse_month).transpose() {
        Ok(m) => m.unwrap_or_else(|| s.app.now().with_timezone(&cst()).format("%Y-%m").to_string()),
        Err(e) => return console_error(e),
    };
    let rows = match s.app.assessment(&month, &month).await {
        Ok(r) => r,
        Err(e) => return console_error(e),
    };
    let table = crate::http::api::assessment_table(&rows);
    let name = format!("assessment-{month}");
    let file = match q.format.as_deref().unwrap_or("csv") {
        "xlsx" => crate::export::to_xlsx(&table).map(|b| {
            crate::http::api::file(
                b,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                &format!("{name}.xlsx"),
            )
        }),
        "csv" => crate::export::to_csv(&table)
            .map(|b| crate::http::api::file(b, "text/csv; charset=utf-8", &format!("{name}.csv"))),
        _ => return error_page(StatusCode::BAD_REQUEST, true, "导出格式须为 CSV 或 XLSX"),
    };
    file.unwrap_or_else(console_error)
}

/// What the administration page shows.
pub struct AdminData {
    accounts: Vec<Account>,
    /// Other systems' Open311 keys.
    keys: Vec<crate::open311::ApiKey>,
    calendar: CalendarState,
    /// Deliveries given up on, and the latest deliveries (`None`: this deployment sends nothing).
    deliveries: Option<(Vec<Delivery>, Vec<Delivery>)>,
}

fn delivery_rows(id: &Identity, list: &[Delivery], dead: bool) -> Markup {
    html! {
        div.table-wrap { table {
            thead { tr { th { "时间" } th { "渠道" } th { "收件人" } th { "内容" } th { "状态" } th { "投递记录" } @if dead { th { "操作" } } } }
            tbody { @for d in list { tr {
                td { (fmt_time(d.created_at)) }
                td { (d.payload.channel().label()) }
                td { (d.recipient.label()) }
                td { @match &d.payload {
                    // Administrators have no case access: not the subject, which names the case.
                    Payload::Email { .. } => { "工作通知邮件" }
                    Payload::Sms { template, params } => { (template.text()) " " (params.values().cloned().collect::<Vec<_>>().join("，")) }
                } }
                td { @match d.status {
                    DeliveryStatus::Sent => { "已发送" }
                    DeliveryStatus::Pending => { "待发送（" (fmt_time(d.next_at)) "）" }
                    DeliveryStatus::Dead => { span.badge { "发送失败" } }
                } }
                td { ul.plain { @for a in &d.log { li { (fmt_time(a.at)) " " (if a.ok { "成功 " } else { "失败 " }) (a.detail) } } } }
                @if dead { td {
                    form.inline method="post" action="/console/admin/deliveries/retry" {
                        (csrf_input(id))
                        input type="hidden" name="key" value=(d.key);
                        button type="submit" { "重新发送" }
                    }
                } }
            } } }
        } }
        @if list.is_empty() { p.muted { "（无）" } }
    }
}

fn admin_markup(s: &AppState, id: &Identity, data: &AdminData, message: Option<(&str, bool)>) -> Markup {
    let (accounts, calendar) = (&data.accounts, data.calendar);
    let body = html! {
        h1 { "系统管理" }
        @if let Some((m, is_error)) = message { p class=(if is_error { "error" } else { "success" }) role="alert" { (m) } }
        h2 { "导入节假日安排" }
        form.card method="post" action="/console/admin/calendar" enctype="multipart/form-data" {
            (csrf_input(id))
            p.muted { "国务院办公厅公布新一年节假日安排后，上传 holiday-cn 格式的 JSON 文件；进行中留言的办理时限将在后台自动重算并记录。" }
            p.muted id="calendar-state" {
                "已导入 " (calendar.version) " 次。"
                @if calendar.recomputed >= calendar.version { "办理时限重算：已完成。" } @else { "办理时限重算：进行中。" }
            }
            label for="calendar-file" { "节假日文件（YYYY.json）" }
            input type="file" id="calendar-file" name="file" accept="application/json,.json" required;
            button type="submit" { "导入" }
        }
        h2 { "工作人员账号" }
        div.table-wrap { table {
            thead { tr { th { "用户名" } th { "姓名" } th { "角色" } th { "单位" } th { "联系方式" } th { "状态" } th { "操作" } } }
            tbody { @for a in accounts { tr {
                td { (a.username) } td { (a.display_name) } td { (a.role.label()) }
                td { (a.unit.as_ref().map(|u| unit_name(&s.app.org, u)).unwrap_or_default()) }
                td { (a.phone.clone().unwrap_or_default()) @if a.phone.is_some() && a.email.is_some() { " " } (a.email.clone().unwrap_or_default()) }
                td { @if a.disabled { span.badge { "已停用" } } @else if a.must_change_password { "待设置新密码" } @else { "正常" } }
                td {
                    @if a.username != id.actor.user.as_str() {
                        form.inline method="post" action={ "/console/admin/accounts/" (a.username) "/" (if a.disabled { "enable" } else { "disable" }) } {
                            (csrf_input(id))
                            button type="submit" { (if a.disabled { "启用" } else { "停用" }) }
                        }
                    }
                    form.inline method="post" action={ "/console/admin/accounts/" (a.username) "/reset" } {
                        (csrf_input(id))
                        label.visually-hidden for={ "reset-" (a.username) } { "新密码" }
                        input type="password" id={ "reset-" (a.username) } name="password" autocomplete="new-password" minlength="12" maxlength="128" placeholder="新密码" required;
                        button type="submit" { "重置密码" }
                    }
                }
            } } }
        } }
        form.card method="post" action="/console/admin/accounts" {
            h3 { "新增账号" }
            (csrf_input(id))
            label for="acc-username" { "用户名（2–32 位小写字母、数字或 . _ -）" } input type="text" id="acc-username" name="username" required;
            label for="acc-name" { "姓名" } input type="text" id="acc-name" name="display_name" required;
            label for="acc-role" { "角色" }
            select id="acc-role" name="role" { @for r in [Role::Dispatcher, Role::Handler, Role::Supervisor, Role::Opinion, Role::Admin] {
                option value=(serde_json::to_value(r).ok().and_then(|x| x.as_str().map(str::to_owned)).unwrap_or_default()) { (r.label()) } } }
            label for="acc-unit" { "单位" }
            select id="acc-unit" name="unit" { option value="" { "（无）" } @for u in &s.app.org.units { option value=(u.id) { (u.name) } } }
            label for="acc-password" { "初始密码（至少 12 位，不含用户名，不用常见密码；本人首次登录时须改为自己的密码）" }
            input type="password" id="acc-password" name="password" autocomplete="new-password" minlength="12" maxlength="128" required;
            label for="acc-phone" { "工作电话（选填，用于通知）" } input type="tel" id="acc-phone" name="phone" maxlength="20" autocomplete="off";
            label for="acc-email" { "电子邮箱（选填，用于通知）" } input type="email" id="acc-email" name="email" maxlength="254" autocomplete="off";
            label for="acc-subject" { "统一身份认证标识（选填：该人员通过市统一身份认证平台调用接口时令牌中的 sub）" }
            input type="text" id="acc-subject" name="oidc_subject" maxlength="256" autocomplete="off";
            button type="submit" { "新增" }
        }
        h2 { "接口密钥（Open311）" }
        p.muted { "其他系统（12345热线工单系统、小程序等）通过 /open311/v2/ 提交和查询留言时使用；密钥只在创建时显示一次，系统只保存其摘要。" }
        div.table-wrap { table id="api-keys" {
            thead { tr { th { "编号" } th { "名称" } th { "每小时限额" } th { "创建" } th { "状态" } th { "操作" } } }
            tbody { @for k in &data.keys { tr {
                td { (k.id) } td { (k.name) } td { (k.per_hour) } td { (fmt_time(k.created_at)) " " (k.created_by) }
                td { @if let Some(at) = k.revoked_at { span.badge { "已停用" } " " (fmt_time(at)) } @else { "有效" } }
                td { @if k.revoked_at.is_none() {
                    form.inline method="post" action={ "/console/admin/api-keys/" (k.id) "/revoke" } {
                        (csrf_input(id))
                        button type="submit" { "停用" }
                    }
                } }
            } } }
        } }
        form.card method="post" action="/console/admin/api-keys" {
            h3 { "新增密钥" }
            (csrf_input(id))
            label for="key-name" { "使用方名称" } input type="text" id="key-name" name="name" maxlength="50" required;
            label for="key-per-hour" { "每小时最多提交（条）" }
            input type="number" id="key-per-hour" name="per_hour" min="1" max=(crate::open311::MAX_PER_HOUR) value=(crate::open311::DEFAULT_PER_HOUR) required;
            button type="submit" { "创建" }
        }
        h2 { "通知投递" }
        @match &data.deliveries {
            None => { p.muted { "本部署未配置邮件或短信通道，通知只在工作台的通知列表中显示。" } }
            Some((dead, recent)) => {
                h3 { "发送失败（已停止重试）" }
                (delivery_rows(id, dead, true))
                h3 { "最近的投递" }
                (delivery_rows(id, recent, false))
            }
        }
    };
    page("系统管理", nav(id), body)
}

/// An administrator's form post: the page's data and the form's fields, once its token is checked.
async fn admin_form(
    s: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Identity, AdminData, Vec<(String, String)>), Response> {
    let (id, data) = admin_only(s, headers).await?;
    let p = form_pairs(body);
    if !csrf_ok(&id, &p) {
        return Err(error_page(StatusCode::FORBIDDEN, true, "页面已过期，请刷新后重试"));
    }
    Ok((id, data, p))
}

async fn admin_only(s: &AppState, headers: &HeaderMap) -> Result<(Identity, AdminData), Response> {
    let id = current(s, headers).await?;
    if id.actor.role != Role::Admin {
        return Err(error_page(StatusCode::FORBIDDEN, true, "仅系统管理员可用"));
    }
    let Some(local) = s.local.as_ref() else {
        return Err(error_page(StatusCode::NOT_FOUND, true, "本部署的账号由统一身份认证管理"));
    };
    let accounts = local.accounts.accounts().await.map_err(|e| console_error(e.into()))?;
    let calendar = s.app.store.calendar_state().await.map_err(|e| console_error(e.into()))?;
    let deliveries = s.app.delivery_log(50).await.map_err(console_error)?;
    let keys = s.app.api_keys.api_keys().await.map_err(|e| console_error(e.into()))?;
    Ok((id, AdminData { accounts, keys, calendar, deliveries }))
}

/// An administrator sends a delivery that was given up on again (`POST /console/admin/deliveries/retry`).
pub async fn admin_delivery_retry(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let (id, mut data, p) = match admin_form(&s, &headers, &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let (status, message) = match s.app.send_again(field(&p, "key")).await {
        Ok(()) => (StatusCode::OK, ("已重新发送，结果见投递记录", false)),
        Err(AppError::NotFound) => (StatusCode::NOT_FOUND, ("该投递不存在", true)),
        Err(AppError::Conflict { .. }) => (StatusCode::CONFLICT, ("该投递未失败，无需重新发送", true)),
        Err(e) => return console_error(e),
    };
    tracing::info!(admin = %id.actor.user, "delivery sent again");
    data.deliveries = s.app.delivery_log(50).await.unwrap_or(data.deliveries);
    html_response(status, admin_markup(&s, &id, &data, Some(message)))
}

/// Disables, enables or resets the password of an account (`POST /console/admin/accounts/{username}/{op}`).
pub async fn admin_account_change(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path((username, op)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let (id, mut data, p) = match admin_form(&s, &headers, &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let refuse = |status: StatusCode, m: &str| html_response(status, admin_markup(&s, &id, &data, Some((m, true))));
    if op == "disable" && username == id.actor.user.as_str() {
        return refuse(StatusCode::BAD_REQUEST, "不能停用自己的账号");
    }
    let local = s.local.as_ref().expect("admin_only checked");
    let admin = crate::accounts::AccountAdmin { store: local.accounts.as_ref(), org: &s.app.org };
    let now = s.app.now();
    let (result, done) = match op.as_str() {
        "disable" => (admin.set_disabled(&username, true, now).await, "账号已停用，其登录已全部失效"),
        "enable" => (admin.set_disabled(&username, false, now).await, "账号已启用"),
        "reset" => (
            admin.reset_password(&username, field(&p, "password"), now).await,
            "密码已重置，其登录已全部失效；本人下次登录时须设置新密码",
        ),
        _ => return error_page(StatusCode::NOT_FOUND, true, "未知的操作"),
    };
    match result {
        Ok(_) => {
            tracing::info!(admin = %id.actor.user, user = %username, op = %op, "account changed");
            if let Ok(accounts) = local.accounts.accounts().await {
                data.accounts = accounts;
            }
            ok(admin_markup(&s, &id, &data, Some((done, false))))
        }
        Err(AppError::NotFound) => refuse(StatusCode::NOT_FOUND, "账号不存在"),
        Err(AppError::Invalid { message, .. }) => refuse(StatusCode::BAD_REQUEST, &message),
        Err(e) => console_error(e),
    }
}

/// An administrator creates an Open311 key (`POST /console/admin/api-keys`): its secret is shown
/// once, on the page that answers.
pub async fn admin_api_key(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let (id, mut data, p) = match admin_form(&s, &headers, &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let refuse = |data: &AdminData, m: &str| {
        html_response(StatusCode::BAD_REQUEST, admin_markup(&s, &id, data, Some((m, true))))
    };
    let Ok(per_hour) = field(&p, "per_hour").trim().parse::<u32>() else {
        return refuse(&data, "每小时限额须为整数");
    };
    let admin = crate::open311::ApiKeyAdmin { store: s.app.api_keys.as_ref() };
    match admin.create(field(&p, "name"), per_hour, id.actor.user.as_str(), s.app.now()).await {
        Ok((key, secret)) => {
            if let Ok(keys) = s.app.api_keys.api_keys().await {
                data.keys = keys;
            }
            let m = format!("已创建密钥 {}（{}）。密钥只显示这一次，请复制后交给使用方：{secret}", key.id, key.name);
            ok(admin_markup(&s, &id, &data, Some((&m, false))))
        }
        Err(AppError::Invalid { message, .. }) => refuse(&data, &message),
        Err(e) => console_error(e),
    }
}

/// An administrator revokes an Open311 key (`POST /console/admin/api-keys/{id}/revoke`).
pub async fn admin_api_key_revoke(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path((key_id, op)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let (id, mut data, _) = match admin_form(&s, &headers, &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if op != "revoke" {
        return error_page(StatusCode::NOT_FOUND, true, "未知的操作");
    }
    let admin = crate::open311::ApiKeyAdmin { store: s.app.api_keys.as_ref() };
    match admin.revoke(&key_id, id.actor.user.as_str(), s.app.now()).await {
        Ok(key) => {
            if let Ok(keys) = s.app.api_keys.api_keys().await {
                data.keys = keys;
            }
            let m = format!("密钥 {}（{}）已停用", key.id, key.name);
            ok(admin_markup(&s, &id, &data, Some((&m, false))))
        }
        Err(AppError::NotFound) => {
            html_response(StatusCode::NOT_FOUND, admin_markup(&s, &id, &data, Some(("密钥不存在", true))))
        }
        Err(e) => console_error(e),
    }
}

pub async fn admin(State(s): State<AppState>, headers: HeaderMap) -> Response {
    match admin_only(&s, &headers).await {
        Ok((id, data)) => ok(admin_markup(&s, &id, &data, None)),
        Err(r) => r,
    }
}

pub async fn admin_calendar(State(s): State<AppState>, headers: HeaderMap, mut multipart: Multipart) -> Response {
    let (id, mut data) = match admin_only(&s, &headers).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let (mut csrf, mut file) = (String::new(), None);
    while let Ok(Some(part)) = multipart.next_field().await {
        match part.name() {
            Some("csrf") => csrf = part.text().await.unwrap_or_default(),
            Some("file") => file = part.bytes().await.ok(),
            _ => {}
        }
    }
    if !csrf_ok(&id, &[("csrf".into(), csrf)]) {
        return error_page(StatusCode::FORBIDDEN, true, "页面已过期，请刷新后重试");
    }
    let text = file.as_deref().map(std::str::from_utf8);
    let message = match text {
        Some(Ok(json)) => match s.app.import_calendar(json).await {
            Ok(r) if r.published => Ok(format!(
                "已导入 {} 年节假日安排（{} 天）。未办结留言的办理时限将在后台重新计算，约{}分钟内完成",
                r.year,
                r.days,
                crate::calendar::CALENDAR_REFRESH.as_secs() / 60 + 1
            )),
            Ok(r) => Err(format!("{} 年的文件没有公布的安排，未导入", r.year)),
            Err(e) => Err(e.to_string()),
        },
        Some(Err(_)) => Err("文件须为 UTF-8 编码的 JSON".to_owned()),
        None => Err("请选择文件".to_owned()),
    };
    if let Ok(calendar) = s.app.store.calendar_state().await {
        data.calendar = calendar;
    }
    match message {
        Ok(m) => ok(admin_markup(&s, &id, &data, Some((&m, false)))),
        Err(m) => html_response(StatusCode::BAD_REQUEST, admin_markup(&s, &id, &data, Some((&m, true)))),
    }
}

pub async fn admin_account(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let (id, mut data, p) = match admin_form(&s, &headers, &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let role: Option<Role> = serde_json::from_value(serde_json::Value::String(field(&p, "role").into())).ok();
    let Some(role) = role.filter(|r| !matches!(r, Role::Citizen | Role::System)) else {
        let m = "请选择角色";
        return html_response(StatusCode::BAD_REQUEST, admin_markup(&s, &id, &data, Some((m, true))));
    };
    let subject = Some(field(&p, "oidc_subject").trim()).filter(|x| !x.is_empty()).map(str::to_owned);
    if subject.as_ref().is_some_and(|x| x.len() > 256 || x.chars().any(char::is_control)) {
        let m = "统一身份认证标识不能超过256个字符，且不能含控制字符";
        return html_response(StatusCode::BAD_REQUEST, admin_markup(&s, &id, &data, Some((m, true))));
    }
    let new = crate::accounts::NewAccount {
        username: field(&p, "username").trim().to_owned(),
        display_name: field(&p, "display_name").to_owned(),
        role,
        unit: Some(field(&p, "unit")).filter(|u| !u.is_empty()).map(UnitId::new),
        phone: Some(field(&p, "phone").to_owned()),
        email: Some(field(&p, "email").to_owned()),
        oidc_subject: subject,
        // The administrator chose the first password: its owner chooses their own at first sign-in.
        must_change_password: true,
    };
    let local = s.local.as_ref().expect("admin_only checked");
    let admin = crate::accounts::AccountAdmin { store: local.accounts.as_ref(), org: &s.app.org };
    let account = match admin.create(new, field(&p, "password")).await {
        Ok(a) => a,
        Err(e @ (AppError::Invalid { .. } | AppError::Conflict { .. })) => {
            let m = e.to_string();
            return html_response(StatusCode::BAD_REQUEST, admin_markup(&s, &id, &data, Some((&m, true))));
        }
        Err(e) => return console_error(e),
    };
    tracing::info!(admin = %id.actor.user, user = %account.username, "account created");
    if let Ok(accounts) = local.accounts.accounts().await {
        data.accounts = accounts;
    }
    ok(admin_markup(&s, &id, &data, Some(("账号已创建", false))))
}
