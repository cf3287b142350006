//! The public site (`/`) and the staff console (`/console/`): server-rendered HTML in Chinese,
//! working without JavaScript, over the same use cases as the JSON API. Every piece of user text
//! goes through maud, which escapes it.

mod console;
mod public;

use crate::http::AppState;
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
        .route("/mailbox/{id}", get(public::write_form).post(public::write_submit))
        .route("/track", get(public::track_form).post(public::track_show))
        .route("/track/rate", post(public::track_rate))
        .route("/replies", get(public::replies))
        .route("/stats", get(public::stats))
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
        .route("/console/supervision", get(console::supervision))
        .route("/console/assessment", get(console::assessment))
        .route("/console/admin", get(console::admin))
        .route("/console/admin/calendar", post(console::admin_calendar))
        .route("/console/admin/accounts", post(console::admin_account))
        .route("/console/admin/accounts/{username}/{op}", post(console::admin_account_change))
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
                            }
                        }
                    }
                }
                main id="main" {
                    @if let Some((name, csrf)) = &nav.signed_in {
                        form.muted method="post" action="/console/logout" {
                            (name) " · "
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

/// Server-rendered bar chart (charts-rs), embedded as inline SVG.
pub fn bar_chart(title: &str, categories: &[String], series: &[(&str, Vec<f32>)]) -> Markup {
    let spec = serde_json::json!({
        "width": 640, "height": 340, "title_text": title, "legend_align": "center",
        "margin": {"left": 10, "top": 10, "right": 10, "bottom": 10},
        "series_list": series.iter().map(|(name, data)| serde_json::json!({"name": name, "data": data})).collect::<Vec<_>>(),
        "x_axis_data": categories,
    });
    match charts_rs::BarChart::from_json(&spec.to_string()).and_then(|c| c.svg()) {
        // Only our own numbers and labels (mailbox and unit names from the config) go into the
        // chart; no user text does.
        Ok(svg) => html! { div.chart role="img" aria-label=(title) { (PreEscaped(svg)) } },
        Err(e) => {
            tracing::error!(error = %e, "chart rendering failed");
            html! { p.muted { "图表暂不可用" } }
        }
    }
}
