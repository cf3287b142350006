//! The public site (`/`) and the staff console (`/console/`): server-rendered HTML in Chinese,
//! working without JavaScript, over the same use cases as the JSON API. Every piece of user text
//! goes through maud, which escapes it.

mod console;
mod desk;
mod discussion;
mod hot;
mod public;

use crate::http::AppState;
use axum::extract::DefaultBodyLimit;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup, PreEscaped, DOCTYPE};

const CSS: &str = include_str!("site.css");

/// The console's home page (the inbox).
pub const CONSOLE_HOME: &str = "/console";

/// The public site's routes (on AWS, the `site` function's).
pub fn site_routes() -> Router<AppState> {
    Router::new()
        .route("/", get(public::home))
        .route("/static/site.css", get(css))
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        // The write form carries up to three files: its own body limit, on this route only.
        .route(
            "/mailbox/{id}",
            get(public::write_form)
                .post(public::write_submit)
                .layer(DefaultBodyLimit::max(crate::attachments::MAX_UPLOAD_REQUEST_BYTES)),
        )
        .route("/track", get(public::track_form).post(public::track_show))
        .route("/track/rate", post(public::track_rate))
        .route("/replies", get(public::replies))
        .route("/replies/{number}/attachments/{n}", get(public::attachment))
        .route("/stats", get(public::stats))
        .route("/cases/featured", get(public::featured))
        .route("/topics", get(discussion::list))
        .route("/topics/{id}", get(discussion::show).post(discussion::submit_comment))
        // The console's home is `/console`; on AWS the `$default` route brings `/console/` here.
        .route("/console/", get(|| async { redirect(CONSOLE_HOME) }))
}

/// The staff console's routes (on AWS, the `console` function's). Its home is `/console`: API
/// Gateway HTTP APIs take no route ending in a slash.
pub fn console_routes() -> Router<AppState> {
    Router::new()
        .route("/console", get(console::inbox))
        .route("/console/login", get(console::login_form).post(console::login))
        .route("/console/logout", post(console::logout))
        .route("/console/password", get(console::password_form).post(console::change_password))
        .route("/console/export", get(console::export))
        .route("/console/cases/{id}", get(console::case_page))
        .route("/console/cases/{id}/{action}", post(console::act))
        .route("/console/cases/{id}/attachments/{n}", get(console::attachment))
        .route("/console/supervision", get(console::supervision))
        .route("/console/hot", get(hot::hot))
        .route("/console/opinion", get(desk::list).post(desk::record))
        .route("/console/opinion/report", get(desk::report))
        .route("/console/opinion/{id}", get(desk::show))
        .route("/console/opinion/{id}/{op}", post(desk::act))
        .route("/console/topics", get(discussion::console_list).post(discussion::console_open))
        .route("/console/topics/{id}", get(discussion::console_show))
        .route("/console/topics/{id}/comments/{comment}/{op}", post(discussion::console_moderate))
        .route("/console/topics/{id}/adoption", post(discussion::console_adoption))
        .route("/console/hot/{id}/review", post(hot::review))
        .route("/console/assessment", get(console::assessment))
        .route("/console/admin", get(console::admin))
        .route("/console/admin/calendar", post(console::admin_calendar))
        .route("/console/admin/accounts", post(console::admin_account))
        .route("/console/admin/accounts/{username}/{op}", post(console::admin_account_change))
        .route("/console/admin/deliveries/retry", post(console::admin_delivery_retry))
        .route("/console/admin/api-keys", post(console::admin_api_key))
        .route("/console/admin/api-keys/{id}/{op}", post(console::admin_api_key_revoke))
        .route("/console/notifications", get(console::notifications_form).post(console::save_notifications))
}

async fn css() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")], CSS)
        .into_response()
}

pub struct Nav {
    pub console: bool,
    pub signed_in: Option<(String, String)>,
}

/// The page frame shared by both sites.
pub fn page(title: &str, nav: Nav, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · 广安市市长信箱" }
                link rel="stylesheet" href="/static/site.css";
            }
            body {
                a.skip href="#main" { "跳到正文" }
                header.top {
                    div.bar {
                        @if nav.console {
                            a.brand href=(CONSOLE_HOME) { "市长信箱 · 工作台" }
                            nav aria-label="工作台导航" {
                                a href=(CONSOLE_HOME) { "待办" }
                                a href="/console/supervision" { "督办" }
                                a href="/console/hot" { "热点话题" }
                                a href="/console/opinion" { "舆情" }
                                a href="/console/topics" { "政民互动" }
                                a href="/console/admin" { "管理" }
                                a href="/" { "公众网站" }
                            }
                        } @else {
                            a.brand href="/" { "广安市市长信箱" }
                            nav aria-label="网站导航" {
                                a href="/" { "首页" }
                                a href="/track" { "查询留言" }
                                a href="/replies" { "公开答复" }
                                a href="/stats" { "统计" }
                                a href="/cases/featured" { "典型案例" }
                                a href="/topics" { "政民互动" }
                            }
                        }
                    }
                }
                main id="main" {
                    @if let Some((name, csrf)) = &nav.signed_in {
                        form.muted method="post" action="/console/logout" {
                            (name) " · "
                            a href="/console/notifications" { "通知设置" } " · "
                            input type="hidden" name="csrf" value=(csrf);
                            button.secondary type="submit" { "退出登录" }
                        }
                    }
                    (body)
                }
                footer { "广安市人民政府 · 市信访局 主办。留言内容请勿包含他人隐私。" }
            }
        }
    }
}

pub fn html_response(status: StatusCode, markup: Markup) -> Response {
    (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], markup.into_string()).into_response()
}

pub fn ok(markup: Markup) -> Response {
    html_response(StatusCode::OK, markup)
}

pub fn redirect(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_owned())]).into_response()
}

/// An error page for people, with the message and a way back.
pub fn error_page(status: StatusCode, console: bool, message: &str) -> Response {
    let body = html! {
        h1 { "无法完成" }
        div.card { p.error { (message) } p { a href=(if console { CONSOLE_HOME } else { "/" }) { "返回首页" } } }
    };
    html_response(status, page("出错了", Nav { console, signed_in: None }, body))
}

pub use crate::input::form::{field, fields, form_pairs};

/// Series colours, the same in the SVG and in the legend beside it (`swatch-0`… in site.css).
const SERIES_COLORS: [&str; 4] = ["#b3261e", "#3e6b9a", "#2f7d32", "#c77800"];

/// The value axis of counts and percentages: whole-number ticks, at most five intervals, from 0 to a
/// bound at or above the largest value (charts-rs would split a largest count of 1 into 0.2 steps).
fn whole_number_axis(series: &[(&str, Vec<f32>)]) -> (u32, u32) {
    let largest = series.iter().flat_map(|(_, d)| d.iter().copied()).fold(0f32, f32::max);
    let top = if largest.is_finite() && largest >= 1.0 { largest.ceil() as u32 } else { 1 };
    let step = top.div_ceil(5).max(1);
    let intervals = top.div_ceil(step);
    (intervals * step, intervals)
}

/// Server-rendered bar chart (charts-rs), embedded as inline SVG, with its legend laid out by the
/// page rather than inside the SVG: charts-rs measures text with a Latin font, so Chinese legend
/// labels overlapped there.
pub fn bar_chart(title: &str, categories: &[String], series: &[(&str, Vec<f32>)]) -> Markup {
    let (max, intervals) = whole_number_axis(series);
    let spec = serde_json::json!({
        "width": 640, "height": 340, "title_text": title, "legend_show": false,
        "margin": {"left": 10, "top": 10, "right": 10, "bottom": 10},
        "series_colors": &SERIES_COLORS[..series.len().min(SERIES_COLORS.len())],
        "y_axis_configs": [{"axis_min": 0, "axis_max": max, "axis_split_number": intervals, "axis_formatter": "{c}"}],
        "series_list": series.iter().map(|(name, data)| serde_json::json!({"name": name, "data": data})).collect::<Vec<_>>(),
        "x_axis_data": categories,
    });
    match charts_rs::BarChart::from_json(&spec.to_string()).and_then(|c| c.svg()) {
        // Only our own numbers and labels (mailbox and unit names from the config) go into the
        // chart; no user text does.
        Ok(svg) => html! {
            div.chart role="img" aria-label=(title) { (PreEscaped(svg)) }
            @if series.len() > 1 {
                ul.legend { @for (i, (name, _)) in series.iter().enumerate() {
                    li { span class={ "swatch swatch-" (i % SERIES_COLORS.len()) } {} (name) }
                } }
            }
        },
        Err(e) => {
            tracing::error!(error = %e, "chart rendering failed");
            html! { p.muted { "图表暂不可用" } }
        }
    }
}

#[cfg(test)]
mod chart_tests {
    use super::*;

    /// The texts of an SVG's `<text>` elements.
    fn texts(svg: &str) -> Vec<String> {
        svg.split("<text")
            .skip(1)
            .filter_map(|t| Some(t.split_once('>')?.1.split_once("</text>")?.0.to_owned()))
            .collect()
    }

    #[test]
    fn counts_have_whole_number_ticks_and_the_legend_is_laid_out_by_the_page() {
        for (largest, bound) in [(0.0, 1), (1.0, 1), (3.0, 3), (7.0, 8), (12.0, 12), (100.0, 100), (101.0, 105)] {
            let series =
                [("收到", vec![largest, 0.0]), ("已答复", vec![0.0, largest / 2.0]), ("办理中", vec![1.0, 0.0])];
            let (max, _) = whole_number_axis(&series);
            assert_eq!(max, bound.max(1), "largest {largest}");
            let html = bar_chart("测试", &["市长信箱".into(), "区长信箱".into()], &series).into_string();
            let labels = texts(&html);
            let numbers: Vec<&String> = labels.iter().filter(|t| t.trim().parse::<f64>().is_ok()).collect();
            assert!(numbers.len() >= 2, "an axis with ticks: {labels:?}");
            assert!(numbers.iter().all(|t| !t.contains('.')), "fractional ticks for counts: {numbers:?}");
            assert!(!labels.iter().any(|t| t == "已答复"), "no legend inside the SVG: {labels:?}");
            assert!(html.contains("<li><span class=\"swatch swatch-1\"></span>已答复</li>"), "{html}");
        }
    }
}
