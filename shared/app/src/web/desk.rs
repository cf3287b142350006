//! The console's 舆情 desk: `/console/opinion` (the items the user may see; the desk records new
//! ones), `/console/opinion/<id>` (an item, its history and the actions the user may take) and
//! `/console/opinion/report` (the weekly 舆情 report for leaders, as a page and XLSX).

use super::console::{console_error, csrf_input, current, fmt_time, nav, signed_in_form};
use super::{error_page, field, html_response, redirect};
use crate::desk::ItemRequest;
use crate::error::AppError;
use crate::http::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use mailbox_domain::opinion::{ItemStatus, OpinionItem, Severity};
use mailbox_domain::Role;
use maud::{html, Markup};
use serde::Deserialize;

fn desk_role(role: Role) -> bool {
    matches!(role, Role::Opinion | Role::Supervisor)
}

fn status_badge(s: ItemStatus) -> Markup {
    let class = match s {
        ItemStatus::Sent => "badge due_soon",
        ItemStatus::Answered => "badge normal",
        _ => "badge",
    };
    html! { span class=(class) { (s.label()) } }
}

pub async fn list(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let id = match current(&s, &headers).await {
        Ok(id) => id,
        Err(r) => return r,
    };
    list_page(&s, &id, None, StatusCode::OK).await
}

async fn list_page(
    s: &AppState,
    id: &crate::accounts::Identity,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let items = match s.app.opinion_items(&id.actor).await {
        Ok(i) => i,
        Err(e) => return console_error(e),
    };
    let now = s.app.now().with_timezone(&mailbox_domain::deadline::cst()).format("%Y-%m-%dT%H:%M").to_string();
    let body = html! {
        h1 { "舆情信息" }
        @if let Some(m) = &error { p.error role="alert" { (m) } }
        @if desk_role(id.actor.role) { p { a href="/console/opinion/report" { "舆情周报" } " · " a href="/console/hot" { "热点话题与留言激增" } } }
        div.table-wrap { table id="opinion-items" {
            thead { tr { th { "发现时间" } th { "平台" } th { "摘要" } th { "程度" } th { "状态" } } }
            tbody { @for i in &items { tr {
                td { (fmt_time(i.found_at)) } td { (i.platform) }
                td { a href={ "/console/opinion/" (i.id) } { (i.summary.chars().take(40).collect::<String>()) } }
                td { (i.severity.label()) } td { (status_badge(i.status)) }
            } } }
        } }
        @if items.is_empty() { p.muted { "暂无舆情信息" } }
        @if desk_role(id.actor.role) {
            h2 { "录入舆情信息" }
            form.card method="post" action="/console/opinion" {
                (csrf_input(id))
                label for="o-platform" { "发布平台" }
                input type="text" id="o-platform" name="platform" maxlength="20" required placeholder="微博、抖音、论坛…";
                label for="o-link" { "网址" }
                input type="url" id="o-link" name="link" maxlength="500" required placeholder="https://";
                label for="o-found" { "发现时间" }
                input type="datetime-local" id="o-found" name="found_at" value=(now) required;
                label for="o-summary" { "内容摘要" }
                textarea id="o-summary" name="summary" maxlength="1000" required {}
                label for="o-severity" { "严重程度" }
                select id="o-severity" name="severity" {
                    @for sev in Severity::ALL {
                        option value=(serde_json::to_value(sev).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()) { (sev.label()) }
                    }
                }
                label for="o-related" { "相关留言编号（可不填，多个用空格分隔）" }
                input type="text" id="o-related" name="related" autocomplete="off";
                button type="submit" { "录入" }
            }
        }
    };
    html_response(status, super::page("舆情信息", nav(id), body))
}

pub async fn record(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let (id, p) = match signed_in_form(&s, &headers, &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let r = ItemRequest {
        platform: field(&p, "platform").into(),
        link: field(&p, "link").into(),
        found_at: field(&p, "found_at").into(),
        summary: field(&p, "summary").into(),
        severity: field(&p, "severity").into(),
        related: field(&p, "related").into(),
    };
    match s.app.record_item(&id.actor, &r).await {
        Ok(item) => redirect(&format!("/console/opinion/{}", item.id)),
        Err(e @ AppError::Invalid { .. }) => list_page(&s, &id, Some(e.to_string()), StatusCode::BAD_REQUEST).await,
        Err(e) => console_error(e),
    }
}

pub async fn show(State(s): State<AppState>, headers: HeaderMap, Path(item): Path<String>) -> Response {
    let id = match current(&s, &headers).await {
        Ok(id) => id,
        Err(r) => return r,
    };
    match s.app.opinion_item(&id.actor, &item).await {
        Ok(i) => html_response(StatusCode::OK, item_page(&s, &id, &i, None)),
        Err(e) => item_error(e),
    }
}

fn item_error(e: AppError) -> Response {
    match e {
        AppError::NotFound => error_page(StatusCode::NOT_FOUND, true, "舆情信息不存在"),
        e => console_error(e),
    }
}

fn item_page(s: &AppState, id: &crate::accounts::Identity, i: &OpinionItem, message: Option<&str>) -> Markup {
    let org = &s.app.org;
    // Supervisors read every text with personal data masked, as for cases.
    let text = |t: &str| {
        if id.actor.role == Role::Supervisor {
            mailbox_domain::mask::mask_personal_data(t, &[])
        } else {
            t.to_owned()
        }
    };
    let unit_name = |u: &mailbox_domain::UnitId| crate::views::unit_name(org, u);
    let is_desk = desk_role(id.actor.role);
    let body = html! {
        h1 { "舆情信息 " (i.id) " " (status_badge(i.status)) }
        @if let Some(m) = message { p.error role="alert" { (m) } }
        dl.facts {
            dt { "发布平台" } dd { (i.platform) }
            dt { "网址" } dd { a href=(i.link) rel="noopener noreferrer nofollow" target="_blank" { (i.link) } }
            dt { "发现时间" } dd { (fmt_time(i.found_at)) }
            dt { "严重程度" } dd { (i.severity.label()) }
            dt { "相关留言" } dd { @if i.related.is_empty() { "无" } @for n in &i.related { (n) " " } }
            @if let Some(u) = &i.unit { dt { "核实答复单位" } dd { (unit_name(u)) } }
        }
        h2 { "内容摘要" }
        pre.text { (text(&i.summary)) }
        @if let Some(a) = &i.answer { h2 { "核实答复" } pre.text id="item-answer" { (text(a)) } }
        h2 { "办理记录" }
        ol.timeline { @for step in &i.history {
            li { (fmt_time(step.at)) " " (step.unit.as_ref().map(&unit_name).unwrap_or_default()) "：" (step.what) }
        } }
        @if is_desk && matches!(i.status, ItemStatus::Recorded | ItemStatus::Answered) {
            form.card method="post" action={ "/console/opinion/" (i.id) "/send" } {
                (csrf_input(id))
                input type="hidden" name="version" value=(i.version);
                label for="send-unit" { @if i.status == ItemStatus::Answered { "再次交办（答复不充分时）" } @else { "交办单位核实答复" } }
                select id="send-unit" name="unit" { @for u in &org.units { option value=(u.id) selected[i.unit.as_ref() == Some(&u.id)] { (u.name) } } }
                button type="submit" { "交办" }
            }
            form.card method="post" action={ "/console/opinion/" (i.id) "/close" } {
                (csrf_input(id))
                input type="hidden" name="version" value=(i.version);
                button.secondary type="submit" { "办结" }
            }
        }
        @if !is_desk && i.status == ItemStatus::Sent {
            form.card method="post" action={ "/console/opinion/" (i.id) "/answer" } {
                (csrf_input(id))
                input type="hidden" name="version" value=(i.version);
                label for="answer-text" { "核实情况和处理结果" }
                textarea id="answer-text" name="text" maxlength="5000" required {}
                button type="submit" { "提交答复" }
            }
        }
    };
    super::page("舆情信息", nav(id), body)
}

pub async fn act(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path((item, op)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let (id, p) = match signed_in_form(&s, &headers, &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let version = field(&p, "version").parse::<u64>().unwrap_or(0);
    let done = match op.as_str() {
        "send" => s.app.send_item(&id.actor, &item, field(&p, "unit"), version).await,
        "answer" => s.app.answer_item(&id.actor, &item, field(&p, "text"), version).await,
        "close" => s.app.close_item(&id.actor, &item, version).await,
        _ => return error_page(StatusCode::NOT_FOUND, true, "未知的操作"),
    };
    match done {
        Ok(i) => redirect(&format!("/console/opinion/{}", i.id)),
        Err(e @ (AppError::Invalid { .. } | AppError::Conflict { .. } | AppError::Forbidden(_))) => {
            match s.app.opinion_item(&id.actor, &item).await {
                Ok(i) => html_response(StatusCode::CONFLICT, item_page(&s, &id, &i, Some(&e.to_string()))),
                Err(e) => item_error(e),
            }
        }
        Err(e) => item_error(e),
    }
}

#[derive(Deserialize)]
pub struct ReportQuery {
    week: Option<String>,
    format: Option<String>,
}

pub async fn report(State(s): State<AppState>, headers: HeaderMap, Query(q): Query<ReportQuery>) -> Response {
    let id = match current(&s, &headers).await {
        Ok(id) => id,
        Err(r) => return r,
    };
    let this_week = mailbox_domain::opinion::week_of(s.app.now());
    let week = match q.week.as_deref().filter(|w| !w.is_empty()) {
        None => this_week,
        Some(w) => match w.parse::<chrono::NaiveDate>() {
            Ok(d) => d,
            Err(_) => return error_page(StatusCode::BAD_REQUEST, true, "周的日期格式应为 2026-11-30"),
        },
    };
    let r = match s.app.weekly_report(&id.actor, week).await {
        Ok(r) => r,
        Err(AppError::Invalid { message, .. }) => return error_page(StatusCode::BAD_REQUEST, true, &message),
        Err(e) => return console_error(e),
    };
    if q.format.as_deref() == Some("xlsx") {
        return match crate::export::to_xlsx(&crate::desk::report_table(&s.app.org, &r)) {
            Ok(bytes) => crate::http::api::file(
                bytes,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                &format!("opinion-week-{}.xlsx", r.week),
            ),
            Err(e) => console_error(e),
        };
    }
    let body = html! {
        h1 { "舆情周报 " (r.week) " 至 " (r.week + chrono::Duration::days(6)) }
        form.card.filters method="get" action="/console/opinion/report" {
            div { label for="week" { "周（任一天）" } input type="date" id="week" name="week" value=(r.week); }
            button type="submit" { "查看" }
        }
        p { a href={ "/console/opinion/report?week=" (r.week) "&format=xlsx" } { "导出 XLSX" } }
        h2 { "热点话题（" (r.topics.len()) "）" }
        @if r.topics.is_empty() { p.muted { "本周没有热点话题" } }
        ul { @for t in &r.topics { li { (t.label.join(" · ")) "（" (t.jurisdiction_name) " · " (t.domain.as_deref().unwrap_or("未分类")) "，共 " (t.count) " 件" @if t.reviewed.is_some() { "，已研判" } "）" } } }
        h2 { "留言激增（" (r.surges.len()) "）" }
        @if r.surges.is_empty() { p.muted { "本周没有激增" } }
        ul { @for v in &r.surges { li { (v.jurisdiction_name) (v.surge.domain) "类 " (v.surge.count) " 件（前8周周均 " (format!("{:.1}", v.surge.average)) " 件）" } } }
        h2 { "舆情信息（" (r.items.len()) "）" }
        @if r.items.is_empty() { p.muted { "本周没有录入舆情信息" } }
        div.table-wrap { table id="report-items" {
            thead { tr { th { "平台" } th { "摘要" } th { "程度" } th { "状态" } } }
            tbody { @for i in &r.items { tr {
                td { (i.platform) } td { a href={ "/console/opinion/" (i.id) } { (i.summary.chars().take(60).collect::<String>()) } }
                td { (i.severity.label()) } td { (i.status.label()) }
            } } }
        } }
    };
    html_response(StatusCode::OK, super::page("舆情周报", nav(&id), body))
}
