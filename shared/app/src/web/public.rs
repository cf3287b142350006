//! The public site: mailboxes, writing a message, following a case, public replies, statistics.

use super::{bar_chart, error_page, field, form_pairs, html_response, ok, page, Nav};
use crate::attachments::MAX_FILE_BYTES;
use crate::error::AppError;
use crate::http::extract::ClientAddr;
use crate::http::AppState;
use crate::input::{SubmitRequest, BODY_MAX, NAME_MAX, TITLE_MAX};
use crate::views::CitizenCaseView;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use mailbox_domain::case::MAX_ATTACHMENTS;
use mailbox_domain::org::MailboxKind;
use mailbox_domain::{Kind, MailboxId};
use maud::{html, Markup};
use rand::Rng;
use serde::Deserialize;
use std::collections::HashMap;

fn nav() -> Nav {
    Nav { console: false, signed_in: None }
}

pub async fn home(State(s): State<AppState>) -> Response {
    let org = &s.app.org;
    let group = |kind: MailboxKind| org.mailboxes.iter().filter(move |m| m.kind == kind);
    let body = html! {
        h1 { "广安市市长信箱" }
        p { "市民可向市长、各区市县长和市级部门负责人写信，提出建议、咨询、投诉或求助。留言由市信访局统一受理、交办，承办单位按时答复；"
            "建议、咨询类一般5个工作日内答复，投诉、求助类一般20个工作日内答复。" }
        div.grid {
            a href="/track" { strong { "查询留言" } br; span.muted { "凭留言编号和查询码查看办理进度" } }
            a href="/replies" { strong { "公开答复" } br; span.muted { "已答复并同意公开的留言" } }
            a href="/stats" { strong { "办理统计" } br; span.muted { "每月受理、答复情况" } }
        }
        h2 { "市长信箱" }
        div.grid { @for m in group(MailboxKind::Mayor) { a href={ "/mailbox/" (m.id) } { strong { (m.name) } br; span.muted { "给市长写信" } } } }
        h2 { "区市县长信箱" }
        div.grid { @for m in group(MailboxKind::DistrictHead) { a href={ "/mailbox/" (m.id) } { (m.name) } } }
        h2 { "局长信箱" }
        div.grid { @for m in group(MailboxKind::BureauHead) { a href={ "/mailbox/" (m.id) } { (m.name) } } }
    };
    ok(page("首页", nav(), body))
}

/// The form's current values and its errors by field.
#[derive(Default)]
struct Draft {
    values: HashMap<String, String>,
    errors: HashMap<String, String>,
    general: Option<String>,
}

impl Draft {
    fn v(&self, k: &str) -> &str {
        self.values.get(k).map_or("", |s| s.as_str())
    }
}

fn input_class(d: &Draft, k: &str) -> &'static str {
    if d.errors.contains_key(k) {
        "field-error"
    } else {
        ""
    }
}

fn field_error(d: &Draft, k: &str) -> Markup {
    html! { @if let Some(e) = d.errors.get(k) { p.error id={ "err-" (k) } role="alert" { (e) } } }
}

fn write_page(mailbox: &mailbox_domain::org::Mailbox, d: &Draft, upload_limit: usize) -> Markup {
    let key =
        if d.v("key").is_empty() { hex::encode(rand::thread_rng().gen::<[u8; 16]>()) } else { d.v("key").to_owned() };
    let body = html! {
        h1 { "写信：" (mailbox.name) }
        p.muted { "本信箱地址可直接链接：/mailbox/" (mailbox.id) }
        @if let Some(g) = &d.general { p.error role="alert" { (g) } }
        form.card method="post" action={ "/mailbox/" (mailbox.id) } enctype="multipart/form-data" novalidate {
            input type="hidden" name="key" value=(key);
            div class=(input_class(d, "kind")) {
                label for="kind" { "留言类型" }
                select id="kind" name="kind" {
                    @for k in Kind::ALL {
                        @let value = serde_json::to_value(k).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
                        option value=(value) selected[d.v("kind") == value] { (k.label()) }
                    }
                }
                (field_error(d, "kind"))
            }
            div class=(input_class(d, "title")) {
                label for="title" { "标题" }
                input type="text" id="title" name="title" maxlength=(TITLE_MAX) value=(d.v("title")) required aria-describedby="err-title";
                (field_error(d, "title"))
            }
            div class=(input_class(d, "body")) {
                label for="body" { "留言内容" }
                textarea id="body" name="body" maxlength=(BODY_MAX) required aria-describedby="err-body" { (d.v("body")) }
                (field_error(d, "body"))
            }
            div class=(input_class(d, "name")) {
                label for="name" { "姓名" }
                input type="text" id="name" name="name" maxlength=(NAME_MAX) value=(d.v("name")) autocomplete="name" required;
                (field_error(d, "name"))
            }
            div class=(input_class(d, "phone")) {
                label for="phone" { "联系电话" }
                input type="tel" id="phone" name="phone" value=(d.v("phone")) autocomplete="tel" required;
                (field_error(d, "phone"))
            }
            div class=(input_class(d, "attachments")) {
                label for="files" { "附件（选填）" }
                input type="file" id="files" name="files" multiple accept="image/jpeg,image/png,application/pdf,.jpg,.jpeg,.png,.pdf" aria-describedby="files-help err-attachments";
                p.muted id="files-help" {
                    "可上传照片或扫描件：JPEG、PNG 图片或 PDF 文件，最多 " (MAX_ATTACHMENTS) " 个，每个不超过 " (MAX_FILE_BYTES / 1024 / 1024) " MB"
                    @if upload_limit < MAX_ATTACHMENTS * MAX_FILE_BYTES { "，合计不超过 " (upload_limit / 1024 / 1024) " MB" }
                    "。"
                    "照片中的拍摄地点等信息会被自动清除。附件仅供办理人员查看，经审核后才可能随答复公开。"
                }
                @if !d.values.is_empty() { p.muted { "如需附件，请重新选择文件。" } }
                (field_error(d, "attachments"))
            }
            label.check { input type="checkbox" name="public" value="1" checked[d.v("public") == "1"]; "同意公开留言和答复（个人信息会隐去）" }
            p.muted { "您的姓名和电话仅用于办理和回访，不会公开。" }
            button type="submit" { "提交留言" }
        }
    };
    page(&mailbox.name, nav(), body)
}

pub async fn write_form(State(s): State<AppState>, Path(id): Path<String>) -> Response {
    match s.app.org.mailbox(&MailboxId::new(id)) {
        Some(m) => ok(write_page(m, &Draft::default(), s.app.upload_limit())),
        None => error_page(StatusCode::NOT_FOUND, false, "信箱不存在"),
    }
}

/// The write form's post: a multipart form with its files (a plain form, without files, too).
pub async fn write_submit(State(s): State<AppState>, Path(id): Path<String>, request: Request) -> Response {
    let Some(mailbox) = s.app.org.mailbox(&MailboxId::new(id)).cloned() else {
        return error_page(StatusCode::NOT_FOUND, false, "信箱不存在");
    };
    let multipart = crate::attachments::is_multipart(request.headers());
    let read = if multipart {
        crate::attachments::read_multipart(request).await
    } else {
        match axum::body::to_bytes(request.into_body(), crate::input::REQUEST_MAX_BYTES).await {
            Ok(body) => Ok((form_pairs(&body), Vec::new())),
            Err(_) => {
                Err(AppError::Invalid {
                    code: "request_too_large", field: None, message: "提交的内容过大".into()
                })
            }
        }
    };
    let (pairs, files) = match read {
        Ok(x) => x,
        Err(e) => {
            let draft = Draft { general: Some(e.to_string()), ..Draft::default() };
            return html_response(StatusCode::BAD_REQUEST, write_page(&mailbox, &draft, s.app.upload_limit()));
        }
    };
    let mut draft = Draft { values: pairs.iter().cloned().collect(), ..Draft::default() };
    let request = SubmitRequest::from_form(mailbox.id.as_str(), &pairs);
    let key = field(&pairs, "key");
    // The form's own key (32 hex characters); a form that lost it is still submitted, once.
    let key = crate::input::idempotency_key(key).ok();
    let files_sent = files.len();
    match s.app.submit_with_files(&request, key, files).await {
        Ok(done) => {
            let body = html! {
                h1 { "留言已提交" }
                div.success role="status" {
                    p { "留言编号：" span.code id="case-number" { (done.number) } }
                    p { "查询码：" span.code id="query-code" { (done.query_code) } }
                    @if files_sent > 0 { p id="attachments-count" { "附件：" (files_sent) " 个（已清除照片中的位置等信息）" } }
                }
                div.notice { strong { "请妥善保存留言编号和查询码。" } "查询码只显示这一次，凭它查询办理进度、查看答复和评价；遗失后无法找回。" }
                p { a.button href="/track" { "查询办理进度" } }
            };
            html_response(StatusCode::CREATED, page("留言已提交", nav(), body))
        }
        Err(AppError::Invalid { field: Some(f), message, .. }) => {
            draft.errors.insert(f.to_owned(), message);
            html_response(StatusCode::BAD_REQUEST, write_page(&mailbox, &draft, s.app.upload_limit()))
        }
        Err(e @ (AppError::Invalid { .. } | AppError::Conflict { .. })) => {
            draft.general = Some(e.to_string());
            html_response(StatusCode::BAD_REQUEST, write_page(&mailbox, &draft, s.app.upload_limit()))
        }
        Err(e) => {
            tracing::error!(error = %e, "submission failed");
            error_page(StatusCode::INTERNAL_SERVER_ERROR, false, "服务暂时不可用，请稍后再试；您的留言尚未提交。")
        }
    }
}

/// A file the dispatcher marked publishable, of a case with a published reply
/// (`GET /replies/{number}/attachments/{n}`); anything else is not found.
pub async fn attachment(State(s): State<AppState>, Path((number, n)): Path<(String, String)>) -> Response {
    let found = match n.parse::<usize>() {
        Ok(n) => s.app.public_attachment(&number, n).await,
        Err(_) => Err(AppError::NotFound),
    };
    match found {
        Ok(f) => match s.app.attachment_response(f).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "public attachment not served");
                error_page(StatusCode::INTERNAL_SERVER_ERROR, false, "服务暂时不可用，请稍后再试")
            }
        },
        Err(AppError::NotFound) => error_page(StatusCode::NOT_FOUND, false, "附件不存在或未公开"),
        Err(e) => {
            tracing::error!(error = %e, "public attachment not served");
            error_page(StatusCode::INTERNAL_SERVER_ERROR, false, "服务暂时不可用，请稍后再试")
        }
    }
}

fn track_page(message: Option<&str>, number: &str) -> Markup {
    let body = html! {
        h1 { "查询留言" }
        @if let Some(m) = message { p.error role="alert" { (m) } }
        form.card method="post" action="/track" {
            label for="number" { "留言编号" }
            input type="text" id="number" name="number" value=(number) required autocomplete="off";
            label for="code" { "查询码" }
            input type="text" id="code" name="code" required autocomplete="off";
            button type="submit" { "查询" }
        }
    };
    page("查询留言", nav(), body)
}

pub async fn track_form() -> Response {
    ok(track_page(None, ""))
}

fn case_view(v: &CitizenCaseView, code: &str, message: Option<(&str, bool)>) -> Markup {
    let body = html! {
        h1 { (v.title) }
        @if let Some((m, is_error)) = message { p class=(if is_error { "error" } else { "success" }) role="alert" { (m) } }
        div.card {
            dl.facts {
                dt { "留言编号" } dd { (v.number) }
                dt { "信箱" } dd { (v.mailbox_name) }
                dt { "类型" } dd { (v.kind.label()) }
                dt { "状态" } dd { span.badge { (v.status_label) } }
                @if let Some(u) = &v.handling_unit { dt { "承办单位" } dd { (u) } }
                @if let Some(d) = v.due_on { dt { "办理时限" } dd { (d) @if v.due_provisional { span.muted { "（暂按周一至周五计算）" } } } }
                @if let Some(r) = &v.invalid_reason { dt { "无效原因" } dd { (r) } }
                @if v.attachments > 0 { dt { "附件" } dd id="attachments-count" { (v.attachments) " 个" } }
            }
        }
        h2 { "留言内容" }
        div.card { pre.text { (v.body) } }
        @if let Some(r) = &v.reply {
            h2 { "答复" }
            div.card { p.muted { (r.unit) " · " (r.at.with_timezone(&mailbox_domain::deadline::cst()).format("%Y-%m-%d %H:%M")) } pre.text id="reply-text" { (r.text) } }
        }
        @if v.can_rate {
            h2 { "评价答复" }
            form.card method="post" action="/track/rate" {
                input type="hidden" name="number" value=(v.number);
                input type="hidden" name="code" value=(code);
                label.check { input type="radio" name="satisfied" value="1" checked; "满意" }
                label.check { input type="radio" name="satisfied" value="0"; "不满意" }
                label for="comment" { "不满意的原因（选择不满意时必填）" }
                textarea id="comment" name="comment" maxlength="5000" {}
                button type="submit" { "提交评价" }
            }
        }
        @if let Some(r) = &v.rating {
            p { "您的评价：" (if r.satisfied { "满意" } else { "不满意" }) }
        }
        h2 { "办理过程" }
        ol.timeline {
            @for e in &v.timeline {
                li { time { (e.at.with_timezone(&mailbox_domain::deadline::cst()).format("%Y-%m-%d %H:%M")) } (e.text) }
            }
        }
    };
    page("办理进度", nav(), body)
}

fn citizen_error(e: AppError, number: &str) -> Response {
    match e {
        AppError::NotFound => html_response(StatusCode::NOT_FOUND, track_page(Some("留言编号或查询码不正确"), number)),
        AppError::RateLimited => {
            html_response(StatusCode::TOO_MANY_REQUESTS, track_page(Some("尝试次数过多，请15分钟后再试"), number))
        }
        e => {
            tracing::error!(error = %e, "tracking failed");
            error_page(StatusCode::INTERNAL_SERVER_ERROR, false, "服务暂时不可用，请稍后再试")
        }
    }
}

/// POST, so that the query code never appears in a URL or an access log.
pub async fn track_show(State(s): State<AppState>, ClientAddr(client): ClientAddr, body: Bytes) -> Response {
    let pairs = form_pairs(&body);
    let (number, code) = (field(&pairs, "number").trim(), field(&pairs, "code").trim());
    match s.app.citizen_view(number, code, &client).await {
        Ok(v) => ok(case_view(&v, code, None)),
        Err(e) => citizen_error(e, number),
    }
}

pub async fn track_rate(State(s): State<AppState>, ClientAddr(client): ClientAddr, body: Bytes) -> Response {
    let pairs = form_pairs(&body);
    let (number, code) = (field(&pairs, "number").trim(), field(&pairs, "code").trim());
    let satisfied = field(&pairs, "satisfied") != "0";
    match s.app.citizen_rate(number, code, &client, satisfied, field(&pairs, "comment").into()).await {
        Ok(v) => ok(case_view(&v, code, Some(("感谢您的评价", false)))),
        Err(AppError::Invalid { message, .. } | AppError::Conflict { message, .. }) => {
            match s.app.citizen_view(number, code, &client).await {
                Ok(v) => html_response(StatusCode::BAD_REQUEST, case_view(&v, code, Some((&message, true)))),
                Err(e) => citizen_error(e, number),
            }
        }
        Err(e) => citizen_error(e, number),
    }
}

#[derive(Deserialize, Default)]
pub struct ReplyFilter {
    mailbox: Option<String>,
    unit: Option<String>,
    domain: Option<String>,
    month: Option<String>,
    q: Option<String>,
    after: Option<String>,
}

/// Replies shown on one page of `/replies`.
const REPLIES_PAGE: usize = 20;

pub async fn replies(State(s): State<AppState>, Query(f): Query<ReplyFilter>) -> Response {
    let first_page = f.after.as_deref().is_none_or(str::is_empty);
    let (list, problem) = match crate::http::api::reply_search(
        &s.app,
        f.mailbox.clone(),
        f.unit.clone(),
        f.domain.clone(),
        f.month.clone(),
        f.q.clone(),
        f.after.clone(),
    ) {
        Ok(mut search) => {
            search.limit = REPLIES_PAGE;
            match s.app.public_replies(&search).await {
                Ok(l) => (l, None),
                Err(AppError::Invalid { message, .. }) => (Default::default(), Some(message)),
                Err(e) => {
                    tracing::error!(error = %e, "public replies failed");
                    return error_page(StatusCode::INTERNAL_SERVER_ERROR, false, "服务暂时不可用，请稍后再试");
                }
            }
        }
        Err(AppError::Invalid { message, .. }) => (Default::default(), Some(message)),
        Err(_) => return error_page(StatusCode::BAD_REQUEST, false, "查询条件无效"),
    };
    let value = |v: &Option<String>| v.clone().unwrap_or_default();
    let selected = |v: &Option<String>, x: &str| v.as_deref() == Some(x);
    // The same filters, continued after this page.
    let next = list.next.as_ref().map(|after| {
        let pairs =
            [("mailbox", &f.mailbox), ("unit", &f.unit), ("domain", &f.domain), ("month", &f.month), ("q", &f.q)];
        let mut url = form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                url.append_pair(k, v);
            }
        }
        url.append_pair("after", after);
        format!("/replies?{}", url.finish())
    });
    let mut units: Vec<_> =
        s.app.org.units.iter().filter(|u| u.kind != mailbox_domain::org::UnitKind::GovernmentOffice).collect();
    units.sort_by(|a, b| a.name.cmp(&b.name));
    let featured: Vec<_> = list.items.iter().filter(|c| c.featured && first_page).collect();
    let status = if problem.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    let body = html! {
        h1 { "公开答复" }
        form.card.filters method="get" action="/replies" {
            div { label for="f-mailbox" { "信箱" }
                select id="f-mailbox" name="mailbox" { option value="" { "全部" }
                    @for m in &s.app.org.mailboxes { option value=(m.id) selected[selected(&f.mailbox, m.id.as_str())] { (m.name) } } } }
            div { label for="f-unit" { "答复单位" }
                select id="f-unit" name="unit" { option value="" { "全部" }
                    @for u in &units { option value=(u.id) selected[selected(&f.unit, u.id.as_str())] { (u.name) } } } }
            div { label for="f-domain" { "领域" }
                select id="f-domain" name="domain" { option value="" { "全部" }
                    @for d in &s.app.org.domains { option value=(d.domain) selected[selected(&f.domain, &d.domain)] { (d.domain) } } } }
            div { label for="f-month" { "月份" } input type="text" id="f-month" name="month" inputmode="numeric" maxlength="7" placeholder="2026-11" value=(value(&f.month)); }
            div { label for="f-q" { "关键词" } input type="search" id="f-q" name="q" maxlength="50" value=(value(&f.q)); }
            button type="submit" { "查找" }
        }
        @if let Some(message) = &problem { p.error role="alert" { (message) } }
        @if !featured.is_empty() {
            h2 { "典型案例" }
            @for c in &featured { (public_card(c)) }
        }
        h2 { "答复列表" }
        @if list.items.is_empty() && problem.is_none() { p.muted { "暂无符合条件的公开答复" } }
        @for c in &list.items { (public_card(c)) }
        @if let Some(next) = &next { p.pager { a.next-page href=(next) { "下一页" } } }
    };
    let mut response = ok(page("公开答复", nav(), body));
    *response.status_mut() = status;
    response
}

fn public_card(c: &crate::reports::PublicCase) -> Markup {
    html! {
        article.card.public-case {
            h3 { (c.title) @if c.featured { " " span.badge { "典型案例" } } }
            p.muted { (c.number) " · " (c.mailbox_name) " · " (c.kind.label()) " · " (c.unit) "答复于" (c.replied_at.with_timezone(&mailbox_domain::deadline::cst()).format("%Y-%m-%d")) }
            pre.text.body { (c.body) }
            h4 { "答复" }
            pre.text.reply { (c.reply) }
            @if !c.attachments.is_empty() {
                p.attachments { "附件：" @for (i, a) in c.attachments.iter().enumerate() {
                    a href=(a.url) target="_blank" rel="noopener" { "附件" (i + 1) "（" (a.kind.label()) "）" } " "
                } }
            }
            @if let Some(note) = &c.featured_note { h4 { "推荐理由" } p.featured-note { (note) } }
        }
    }
}

#[derive(Deserialize, Default)]
pub struct FeaturedQuery {
    month: Option<String>,
    format: Option<String>,
}

/// The month's typical-case column (典型案例专栏, by month of the reply): a printable page for the
/// media and the government site, and the same as XLSX. Personal data masked; only cases whose
/// citizen agreed to publication.
pub async fn featured(State(s): State<AppState>, Query(q): Query<FeaturedQuery>) -> Response {
    let current = s.app.now().with_timezone(&mailbox_domain::deadline::cst()).format("%Y-%m").to_string();
    let month = q.month.filter(|m| !m.is_empty()).unwrap_or(current);
    let cases = match s.app.featured_cases(&month).await {
        Ok(c) => c,
        Err(AppError::Invalid { .. }) => return error_page(StatusCode::BAD_REQUEST, false, "月份格式应为 2026-11"),
        Err(e) => {
            tracing::error!(error = %e, "featured cases failed");
            return error_page(StatusCode::INTERNAL_SERVER_ERROR, false, "服务暂时不可用，请稍后再试");
        }
    };
    match q.format.as_deref().unwrap_or("html") {
        "html" => {}
        "xlsx" => {
            return match crate::export::to_xlsx(&crate::reports::featured_table(&month, &cases)) {
                Ok(bytes) => crate::http::api::file(
                    bytes,
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    &format!("featured-{month}.xlsx"),
                ),
                Err(e) => {
                    tracing::error!(error = %e, "featured export failed");
                    error_page(StatusCode::INTERNAL_SERVER_ERROR, false, "服务暂时不可用，请稍后再试")
                }
            };
        }
        _ => return error_page(StatusCode::BAD_REQUEST, false, "导出格式只能是 xlsx"),
    }
    let body = html! {
        h1 { (month) " 典型案例" }
        p.muted { "每月从办理较好的留言中选出典型案例，经留言人同意公开，已隐去个人信息。" }
        form.card.filters.no-print method="get" action="/cases/featured" {
            div { label for="month" { "月份" } input type="text" id="month" name="month" value=(month) placeholder="2026-11"; }
            button type="submit" { "查看" }
        }
        p.no-print { a href={ "/cases/featured?month=" (month) "&format=xlsx" } { "下载 XLSX（供媒体使用）" } }
        @if cases.is_empty() { p.muted { "本月暂无典型案例" } }
        @for c in &cases { (public_card(c)) }
    };
    ok(page("典型案例", nav(), body))
}

#[derive(Deserialize, Default)]
pub struct MonthQuery {
    month: Option<String>,
}

pub async fn stats(State(s): State<AppState>, Query(q): Query<MonthQuery>) -> Response {
    let current = s.app.now().with_timezone(&mailbox_domain::deadline::cst()).format("%Y-%m").to_string();
    let month = q.month.filter(|m| crate::reports::parse_month(m).is_ok()).unwrap_or(current);
    let report = match s.app.monthly_report(&month).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "monthly report failed");
            return error_page(StatusCode::INTERNAL_SERVER_ERROR, false, "服务暂时不可用，请稍后再试");
        }
    };
    let t = &report.total;
    let names: Vec<String> = report.by_mailbox.iter().map(|m| m.name.clone()).collect();
    let series = |f: fn(&mailbox_domain::stats::Figures) -> i64| {
        report.by_mailbox.iter().map(|m| f(&m.figures) as f32).collect::<Vec<_>>()
    };
    let body = html! {
        h1 { (report.month) " 留言办理统计" }
        form.card.filters method="get" action="/stats" {
            div { label for="month" { "月份" } input type="text" id="month" name="month" value=(report.month); }
            button type="submit" { "查看" }
        }
        div.counts {
            span { "收到留言 " strong id="received" { (t.received) } }
            span { "无效留言 " strong { (t.invalid) } }
            span { "已答复 " strong { (t.replied) } }
            span { "办理中 " strong { (t.in_progress) } }
            span { "重复件（并单）" strong id="merged" { (t.merged) } }
            @if let Some(r) = report.on_time_rate { span { "按时答复率 " strong { (format!("{:.1}%", r * 100.0)) } } }
        }
        @if !names.is_empty() {
            (bar_chart(&format!("{} 各信箱留言情况", report.month), &names, &[("收到", series(|f| f.received)), ("已答复", series(|f| f.replied)), ("办理中", series(|f| f.in_progress))]))
        }
        div.table-wrap { table {
            thead { tr { th { "信箱" } th { "收到" } th { "无效" } th { "已答复" } th { "办理中" } th { "重复件" } } }
            tbody { @for m in &report.by_mailbox { tr { td { (m.name) } td { (m.figures.received) } td { (m.figures.invalid) } td { (m.figures.replied) } td { (m.figures.in_progress) } td { (m.figures.merged) } } } }
        } }
        @if !report.featured.is_empty() {
            h2 { "典型案例" }
            @for c in &report.featured { (public_card(c)) }
        }
    };
    ok(page("办理统计", nav(), body))
}
