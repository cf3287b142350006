//! The console's 舆情 page `/console/hot`: hot topics (热点话题) found in the mailbox, each with its
//! messages, a small daily trend chart drawn on the server (SVG, no script) and its 已研判 mark; and
//! the surges (激增) of the weeks shown. Supervisors see every topic; a dispatcher the topics with
//! messages of its own, listing only those; 舆情 staff every topic without its messages. Only
//! supervisors mark a topic 已研判.

use super::console::{console_error, csrf_input, current, fmt_time, nav, signed_in_form};
use super::{error_page, ok, page, redirect};
use crate::error::AppError;
use crate::http::AppState;
use crate::opinion::{DayCount, TopicView};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::{html, Markup};
use serde::Deserialize;

/// Periods offered on the page, in days.
const PERIODS: [i64; 4] = [7, 30, 60, 90];
/// Days the trend chart shows at most (the latest).
const TREND_DAYS: usize = 60;

#[derive(Deserialize)]
pub struct HotQuery {
    days: Option<String>,
}

pub async fn hot(State(s): State<AppState>, headers: HeaderMap, Query(q): Query<HotQuery>) -> Response {
    let id = match current(&s, &headers).await {
        Ok(id) => id,
        Err(r) => return r,
    };
    let days = match q.days.as_deref().filter(|d| !d.is_empty()) {
        None => 7,
        Some(d) => match d.parse::<i64>() {
            Ok(d) => d,
            Err(_) => return error_page(StatusCode::BAD_REQUEST, true, "天数须为 1 至 90 的整数"),
        },
    };
    let found = match s.app.hot_topics(&id.actor, days).await {
        Ok(f) => f,
        Err(AppError::Invalid { message, .. }) => return error_page(StatusCode::BAD_REQUEST, true, &message),
        Err(e) => return console_error(e),
    };
    let mut listed = Vec::with_capacity(found.topics.len());
    for t in &found.topics {
        match s.app.topic_titles(t).await {
            Ok(titles) => listed.push((t, titles)),
            Err(e) => return console_error(e),
        }
    }
    let body = html! {
        h1 { "热点话题与留言激增" }
        p.muted { "同类留言 7 天内达 3 件（同一辖区或同一分类）即为热点话题；某辖区某分类本周留言达前 8 周周均的 2 倍且不少于 5 件即为激增。新话题和激增出现时，督办单位和受理单位各收到一次通知。" }
        form method="get" action="/console/hot" {
            label for="days" { "时间范围 " }
            select id="days" name="days" {
                @for d in PERIODS { option value=(d) selected[d == days] { "近 " (d) " 天" } }
            }
            " " button type="submit" { "查看" }
        }
        h2 { "留言激增（" (found.surges.len()) "）" }
        @if found.surges.is_empty() { p.muted { "所选时间内没有激增。" } } @else {
            div.table-wrap { table id="surges" {
                thead { tr { th { "周（周一）" } th { "辖区" } th { "分类" } th { "本周件数" } th { "前 8 周周均" } } }
                tbody { @for v in &found.surges { tr {
                    td { (v.surge.week) } td { (v.jurisdiction_name) } td { (v.surge.domain) }
                    td { (v.surge.count) } td { (format!("{:.1}", v.surge.average)) }
                } } }
            } }
        }
        h2 { "热点话题（近 " (days) " 天，" (found.topics.len()) " 个）" }
        @if found.topics.is_empty() { p.muted { "所选时间内没有热点话题。" } }
        @for (t, titles) in &listed { (topic_card(&id, t, titles)) }
    };
    ok(page("热点话题", nav(&id), body))
}

fn topic_card(id: &crate::accounts::Identity, t: &TopicView, titles: &[(String, String, String)]) -> Markup {
    html! {
        section.card.topic id={ "topic-" (t.id) } {
            h3 { (t.label.join(" · ")) }
            p.muted {
                (t.jurisdiction_name) " · " (t.domain.as_deref().unwrap_or("未分类")) " · 共 " (t.count) " 件 · "
                (fmt_time(t.first)) " 至 " (fmt_time(t.last))
            }
            (trend(&t.daily))
            ul {
                @for (case_id, number, title) in titles {
                    li { a href={ "/console/cases/" (case_id) } { (number) " " (title) } }
                }
                @if titles.len() < t.cases.len() { li.muted { "另有 " (t.cases.len() - titles.len()) " 件" } }
                @if t.cases.is_empty() { li.muted { "共 " (t.count) " 件（舆情人员不查看留言）" } }
            }
            @match &t.reviewed {
                Some(r) => p.reviewed { span.badge.normal { "已研判" } " " (r.unit.as_deref().unwrap_or("")) " " (fmt_time(r.at)) },
                None if id.actor.role != mailbox_domain::Role::Supervisor => p.muted { "待政府办研判" },
                None => form method="post" action={ "/console/hot/" (t.id) "/review" } {
                    (csrf_input(id))
                    button type="submit" { "标记为已研判" }
                },
            }
        }
    }
}

/// Bars of messages per day (the latest `TREND_DAYS` days), each with its day and count as a
/// tooltip; the first and last day written under them.
fn trend(daily: &[DayCount]) -> Markup {
    let days = &daily[daily.len().saturating_sub(TREND_DAYS)..];
    let (bar, height) = (8usize, 36u32);
    let max = days.iter().map(|d| d.count).max().unwrap_or(1).max(1);
    let width = (days.len() * bar).max(120);
    let label = format!("每日留言数，最多 {max} 件");
    html! {
        svg.trend xmlns="http://www.w3.org/2000/svg" width=(width) height=(height + 14)
            viewBox={ "0 0 " (width) " " (height + 14) } role="img" aria-label=(label) {
            @for (i, d) in days.iter().enumerate() {
                @let h = if d.count == 0 { 1 } else { (d.count * height).div_ceil(max) };
                rect x=(i * bar + 1) y=(height - h) width=(bar - 2) height=(h) fill=(if d.count == 0 { "#d5dbe1" } else { "#c2410c" }) {
                    title { (d.day) "：" (d.count) " 件" }
                }
            }
            @if let (Some(first), Some(last)) = (days.first(), days.last()) {
                text x="0" y=(height + 12) font-size="10" fill="#616e7c" { (first.day.format("%m-%d")) }
                @if last.day != first.day {
                    text x=(width) y=(height + 12) font-size="10" fill="#616e7c" text-anchor="end" { (last.day.format("%m-%d")) }
                }
            }
        }
    }
}

pub async fn review(State(s): State<AppState>, headers: HeaderMap, Path(topic): Path<String>, body: Bytes) -> Response {
    let (id, _) = match signed_in_form(&s, &headers, &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match s.app.review_topic(&id.actor, &topic).await {
        // Post/Redirect/Get, back to the topic.
        Ok(t) => redirect(&format!("/console/hot?days=90#topic-{}", t.id)),
        Err(AppError::NotFound) => error_page(StatusCode::NOT_FOUND, true, "热点话题不存在"),
        Err(e) => console_error(e),
    }
}
