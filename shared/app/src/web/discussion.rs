//! 政民互动 pages: the public `/topics` list and `/topics/<id>` (the topic, its approved comments, a
//! comment form while it is open, the adoption once published), and the console's
//! `/console/topics` (open a topic) and `/console/topics/<id>` (moderate, publish the adoption).
//! No script: every form posts and the page answers.

use super::console::{console_error, csrf_input, current, fmt_time, nav as console_nav, signed_in_form};
use super::{error_page, field, form_pairs, html_response, ok, page, redirect, Nav};
use crate::discussion::{CommentRequest, Moderation, TopicRequest};
use crate::error::AppError;
use crate::http::extract::ClientAddr;
use crate::http::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use mailbox_domain::discussion::{
    CommentStatus, Phase, Topic, COMMENT_MAX, COMMENT_NAME_MAX, REASON_MAX, TEXT_MAX, TITLE_MAX,
};
use mailbox_domain::Role;
use maud::{html, Markup};
use rand::Rng;

fn public_nav() -> Nav {
    Nav { console: false, signed_in: None }
}

fn unit_name(s: &AppState, t: &Topic) -> String {
    crate::views::unit_name(&s.app.org, &t.unit)
}

fn period(t: &Topic) -> String {
    format!("{} 至 {}", t.opens_on, t.closes_on)
}

fn phase_badge(p: Phase) -> Markup {
    let class = match p {
        Phase::Open => "badge normal",
        Phase::Upcoming => "badge due_soon",
        Phase::Closed => "badge",
    };
    html! { span class=(class) { (p.label()) } }
}

pub async fn list(State(s): State<AppState>) -> Response {
    let topics = match s.app.topics().await {
        Ok(t) => t,
        Err(e) => return public_error(e),
    };
    let body = html! {
        h1 { "政民互动" }
        p.muted { "政府不定期就公共事务发起话题，欢迎发表意见。评论经审核后公开，手机号码不会公开。" }
        @if topics.is_empty() { p.muted { "暂无话题" } }
        @for (t, p) in &topics {
            article.card.discussion-topic {
                h3 { a href={ "/topics/" (t.id) } { (t.title) } " " (phase_badge(*p)) }
                p.muted { "征集期 " (period(t)) " · 答复单位：" (unit_name(&s, t)) @if t.adoption.is_some() { " · 已发布采纳情况" } }
            }
        }
    };
    ok(page("政民互动", public_nav(), body))
}

/// What the comment form keeps when it is sent back with an error.
#[derive(Default)]
struct CommentDraft {
    key: String,
    name: String,
    phone: String,
    text: String,
    error: Option<(Option<&'static str>, String)>,
    done: bool,
}

pub async fn show(State(s): State<AppState>, Path(id): Path<String>) -> Response {
    topic_page(&s, &id, CommentDraft::default(), StatusCode::OK).await
}

async fn topic_page(s: &AppState, id: &str, draft: CommentDraft, status: StatusCode) -> Response {
    let crate::discussion::PublicTopic { topic, phase, comments, adoption } = match s.app.public_topic(id).await {
        Ok(x) => x,
        Err(e) => return public_error(e),
    };
    let key = if draft.key.is_empty() { hex::encode(rand::thread_rng().gen::<[u8; 16]>()) } else { draft.key.clone() };
    let error_for = |f: &str| draft.error.as_ref().filter(|(field, _)| *field == Some(f)).map(|(_, m)| m.clone());
    let body = html! {
        h1 { (topic.title) " " (phase_badge(phase)) }
        p.muted { "征集期 " (period(&topic)) " · 答复单位：" (unit_name(s, &topic)) }
        pre.text.body { (topic.text) }
        @if let Some(adoption) = &adoption {
            section.card id="adoption" { h2 { "采纳情况" } pre.text { (adoption) } }
        }
        h2 { "网友评论（" (comments.len()) "）" }
        @if comments.is_empty() { p.muted { "暂无公开的评论" } }
        @for c in &comments {
            article.card.comment { p.muted { (c.author) " · " (fmt_time(c.at)) } pre.text { (c.text) } }
        }
        @if draft.done {
            p.success role="status" id="comment-done" { "评论已提交，审核通过后公开。感谢您的参与！" }
        }
        @if phase == Phase::Open {
            h2 { "发表评论" }
            @if let Some((None, m)) = &draft.error { p.error role="alert" { (m) } }
            form.card method="post" action={ "/topics/" (topic.id) } novalidate {
                input type="hidden" name="key" value=(key);
                label for="c-name" { "姓名（可不填，公开时隐去）" }
                input type="text" id="c-name" name="name" maxlength=(COMMENT_NAME_MAX) value=(draft.name);
                @if let Some(m) = error_for("name") { p.error id="err-name" { (m) } }
                label for="c-phone" { "手机号码（必填，不公开）" }
                input type="tel" id="c-phone" name="phone" required value=(draft.phone) autocomplete="tel";
                @if let Some(m) = error_for("phone") { p.error id="err-phone" { (m) } }
                label for="c-text" { "评论内容" }
                textarea id="c-text" name="text" maxlength=(COMMENT_MAX) required { (draft.text) }
                @if let Some(m) = error_for("text") { p.error id="err-text" { (m) } }
                button type="submit" { "提交评论" }
            }
        } @else if phase == Phase::Upcoming {
            p.muted { "征集期开始后可发表评论。" }
        } @else {
            p.muted { "征集期已结束。" }
        }
    };
    html_response(status, page(&topic.title, public_nav(), body))
}

pub async fn submit_comment(
    State(s): State<AppState>,
    ClientAddr(client): ClientAddr,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let pairs = form_pairs(&body);
    let request = CommentRequest {
        name: field(&pairs, "name").to_owned(),
        phone: field(&pairs, "phone").to_owned(),
        text: field(&pairs, "text").to_owned(),
    };
    let key = field(&pairs, "key").to_owned();
    let mut draft = CommentDraft { key: key.clone(), ..CommentDraft::default() };
    match s.app.comment(&id, &request, Some(&key), &client).await {
        Ok(_) => {
            draft.done = true;
            draft.key = String::new(); // a new form for another comment
            topic_page(&s, &id, draft, StatusCode::CREATED).await
        }
        Err(AppError::Invalid { field, message, .. }) => {
            draft.error = Some((field, message));
            (draft.name, draft.phone, draft.text) = (request.name, request.phone, request.text);
            topic_page(&s, &id, draft, StatusCode::BAD_REQUEST).await
        }
        Err(e @ (AppError::Conflict { .. } | AppError::RateLimited)) => {
            let status =
                if matches!(e, AppError::RateLimited) { StatusCode::TOO_MANY_REQUESTS } else { StatusCode::CONFLICT };
            draft.error = Some((None, e.to_string()));
            (draft.name, draft.phone, draft.text) = (request.name, request.phone, request.text);
            topic_page(&s, &id, draft, status).await
        }
        Err(e) => public_error(e),
    }
}

fn public_error(e: AppError) -> Response {
    match e {
        AppError::NotFound => error_page(StatusCode::NOT_FOUND, false, "话题不存在"),
        e => {
            tracing::error!(error = %e, "discussion page failed");
            error_page(StatusCode::INTERNAL_SERVER_ERROR, false, "服务暂时不可用，请稍后再试")
        }
    }
}

fn staff_error(e: AppError) -> Response {
    match e {
        AppError::NotFound => error_page(StatusCode::NOT_FOUND, true, "话题或评论不存在"),
        e => console_error(e),
    }
}

/// The console's list of topics, with the form to open one (supervisors and dispatchers).
pub async fn console_list(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let id = match current(&s, &headers).await {
        Ok(id) => id,
        Err(r) => return r,
    };
    console_list_page(&s, &id, None, StatusCode::OK).await
}

async fn console_list_page(
    s: &AppState,
    id: &crate::accounts::Identity,
    message: Option<(String, bool)>,
    status: StatusCode,
) -> Response {
    let topics = match s.app.topics().await {
        Ok(t) => t,
        Err(e) => return console_error(e),
    };
    let may_open = matches!(id.actor.role, Role::Supervisor | Role::Dispatcher);
    let today = mailbox_domain::deadline::cst_date(s.app.now());
    let body = html! {
        h1 { "政民互动" }
        @if let Some((m, is_error)) = &message { p class=(if *is_error { "error" } else { "success" }) role="alert" { (m) } }
        div.table-wrap { table id="topics" {
            thead { tr { th { "话题" } th { "征集期" } th { "答复单位" } th { "状态" } } }
            tbody { @for (t, p) in &topics { tr {
                td { a href={ "/console/topics/" (t.id) } { (t.title) } } td { (period(t)) } td { (unit_name(s, t)) }
                td { (p.label()) @if t.adoption.is_some() { " · 已发布采纳情况" } }
            } } }
        } }
        @if may_open {
            h2 { "发起话题" }
            form.card method="post" action="/console/topics" {
                (csrf_input(id))
                label for="t-title" { "标题" }
                input type="text" id="t-title" name="title" maxlength=(TITLE_MAX) required;
                label for="t-text" { "话题内容" }
                textarea id="t-text" name="text" maxlength=(TEXT_MAX) required {}
                label for="t-opens" { "开始日期" }
                input type="date" id="t-opens" name="opens_on" value=(today) required;
                label for="t-closes" { "结束日期" }
                input type="date" id="t-closes" name="closes_on" value=(today + chrono::Duration::days(30)) required;
                label for="t-unit" { "负责答复的单位" }
                select id="t-unit" name="unit" {
                    @for u in &s.app.org.units { option value=(u.id) { (u.name) } }
                }
                button type="submit" { "发起话题" }
            }
        }
    };
    html_response(status, page("政民互动", console_nav(id), body))
}

pub async fn console_open(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let (id, p) = match signed_in_form(&s, &headers, &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let request = TopicRequest {
        title: field(&p, "title").into(),
        text: field(&p, "text").into(),
        opens_on: field(&p, "opens_on").into(),
        closes_on: field(&p, "closes_on").into(),
        unit: field(&p, "unit").into(),
    };
    match s.app.open_topic(&id.actor, &request).await {
        Ok(t) => redirect(&format!("/console/topics/{}", t.id)),
        Err(e @ AppError::Invalid { .. }) => {
            console_list_page(&s, &id, Some((e.to_string(), true)), StatusCode::BAD_REQUEST).await
        }
        Err(e) => console_error(e),
    }
}

pub async fn console_show(State(s): State<AppState>, headers: HeaderMap, Path(topic): Path<String>) -> Response {
    let id = match current(&s, &headers).await {
        Ok(id) => id,
        Err(r) => return r,
    };
    console_topic_page(&s, &id, &topic, None, StatusCode::OK).await
}

async fn console_topic_page(
    s: &AppState,
    id: &crate::accounts::Identity,
    topic: &str,
    message: Option<(String, bool)>,
    status: StatusCode,
) -> Response {
    let (t, phase, comments) = match s.app.staff_topic(&id.actor, topic).await {
        Ok(x) => x,
        Err(e) => return staff_error(e),
    };
    let pending = comments.iter().filter(|c| c.status == CommentStatus::Pending).count();
    let body = html! {
        h1 { (t.title) " " (phase_badge(phase)) }
        @if let Some((m, is_error)) = &message { p class=(if *is_error { "error" } else { "success" }) role="alert" { (m) } }
        p.muted { "征集期 " (period(&t)) " · 答复单位：" (unit_name(s, &t)) " · " a href={ "/topics/" (t.id) } { "公众页面" } }
        pre.text.body { (t.text) }
        h2 { "评论（待审核 " (pending) "，共 " (comments.len()) "）" }
        p.muted { "评论内容按公开时的样子显示（个人信息已隐去），手机号码不显示。" }
        @for c in &comments {
            article.card.comment id={ "comment-" (c.id) } {
                p.muted { (c.author) " · " (fmt_time(c.at)) " · " span.status { (c.status.label()) }
                    @if let Some(sc) = &c.screened { " · " span.badge.overdue { "疑似无效：" (sc) } } }
                pre.text { (c.text) }
                @if let Some(r) = &c.reason { p.muted { "不予公开的理由：" (r) } }
                @if c.status == CommentStatus::Pending {
                    form.inline method="post" action={ "/console/topics/" (t.id) "/comments/" (c.id) "/approve" } {
                        (csrf_input(id)) button type="submit" { "通过并公开" }
                    }
                    form.inline method="post" action={ "/console/topics/" (t.id) "/comments/" (c.id) "/refuse" } {
                        (csrf_input(id))
                        label for={ "reason-" (c.id) } { "不予公开的理由" }
                        input type="text" id={ "reason-" (c.id) } name="reason" maxlength=(REASON_MAX) required;
                        button.secondary type="submit" { "不予公开" }
                    }
                }
            }
        }
        h2 { "采纳情况" }
        @match (&t.adoption, phase) {
            (Some(a), _) => { pre.text { (a.text) } p.muted { "发布于 " (fmt_time(a.at)) } },
            (None, Phase::Closed) => form.card method="post" action={ "/console/topics/" (t.id) "/adoption" } {
                (csrf_input(id))
                label for="adoption-text" { "采纳情况（公开）" }
                textarea id="adoption-text" name="text" maxlength=(TEXT_MAX) required {}
                button type="submit" { "发布采纳情况" }
            },
            (None, _) => p.muted { "征集期结束后由答复单位发布采纳情况。" },
        }
    };
    html_response(status, page(&t.title, console_nav(id), body))
}

pub async fn console_moderate(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path((topic, comment, op)): Path<(String, String, String)>,
    body: Bytes,
) -> Response {
    let (id, p) = match signed_in_form(&s, &headers, &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let decision = match op.as_str() {
        "approve" => Moderation::Approve,
        "refuse" => Moderation::Refuse { reason: field(&p, "reason").into() },
        _ => return error_page(StatusCode::NOT_FOUND, true, "未知的操作"),
    };
    match s.app.moderate(&id.actor, &topic, &comment, decision).await {
        Ok(_) => redirect(&format!("/console/topics/{topic}#comment-{comment}")),
        Err(e @ (AppError::Invalid { .. } | AppError::Conflict { .. })) => {
            let status =
                if matches!(e, AppError::Conflict { .. }) { StatusCode::CONFLICT } else { StatusCode::BAD_REQUEST };
            console_topic_page(&s, &id, &topic, Some((e.to_string(), true)), status).await
        }
        Err(e) => staff_error(e),
    }
}

pub async fn console_adoption(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(topic): Path<String>,
    body: Bytes,
) -> Response {
    let (id, p) = match signed_in_form(&s, &headers, &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match s.app.publish_adoption(&id.actor, &topic, field(&p, "text")).await {
        Ok(_) => redirect(&format!("/console/topics/{topic}#adoption")),
        Err(e @ (AppError::Invalid { .. } | AppError::Conflict { .. })) => {
            console_topic_page(&s, &id, &topic, Some((e.to_string(), true)), StatusCode::BAD_REQUEST).await
        }
        Err(e) => staff_error(e),
    }
}
