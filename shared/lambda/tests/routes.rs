//! The routes of `infra/template.yaml` against the functions' routers: every route API Gateway sends
//! to a function is one that function serves (a route the template gives a function that does not
//! have it would answer every request with "page not found"), and every page and form of the
//! embedded host — each route of `site_routes` and `console_routes` — has its route on AWS.

use axum::body::Body;
use mailbox_app::http::Routes;
use mailbox_aws::{sdk_config, DynamoStore};
use mailbox_conformance::moto;
use mailbox_lambda::{http_router, Config};
use std::collections::BTreeMap;
use tower::ServiceExt;

/// `(function, method, path)` of every HttpApi event of the template.
fn template_routes() -> Vec<(String, String, String)> {
    let template = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/template.yaml")).unwrap();
    let mut routes = Vec::new();
    let (mut function, mut method) = (None::<String>, None::<String>);
    for line in template.lines() {
        if let Some(name) = line.strip_prefix("  ").and_then(|l| l.strip_suffix("Function:")) {
            if !name.starts_with(' ') {
                function = Some(name.to_lowercase());
            }
        } else if !line.starts_with("   ") && !line.trim().is_empty() {
            function = None;
        }
        if let Some(m) = line.trim().strip_prefix("Method: ") {
            method = Some(m.to_owned());
        }
        if let (Some(p), Some(f), Some(m)) = (line.trim().strip_prefix("Path: "), &function, &method) {
            routes.push((f.clone(), m.clone(), p.to_owned()));
        }
    }
    routes
}

/// `(method, path)` of every `.route(...)` of `site_routes` and `console_routes`.
fn embedded_pages() -> Vec<(String, String)> {
    let source = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../app/src/web/mod.rs")).unwrap();
    let mut pages = Vec::new();
    for line in source.lines().map(str::trim).filter(|l| l.starts_with(".route(\"")) {
        let path = line.trim_start_matches(".route(\"").split('"').next().unwrap().to_owned();
        for (call, method) in [("get(", "GET"), ("post(", "POST")] {
            if line.contains(call) {
                pages.push((method.to_owned(), path.clone()));
            }
        }
    }
    pages
}

fn routes_of(function: &str) -> Routes {
    match function {
        "submit" => Routes::Submit,
        "query" => Routes::Query,
        "assign" => Routes::Assign,
        "reply" => Routes::Reply,
        "staff" => Routes::Staff,
        "site" => Routes::Site,
        "console" => Routes::Console,
        other => panic!("the template routes HTTP to {other}, which is no HTTP function"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_template_route_is_served_by_its_function() {
    let endpoint = moto::moto();
    std::env::set_var("AWS_ENDPOINT_URL", endpoint);
    std::env::set_var("AWS_REGION", "us-east-1");
    std::env::set_var("AWS_ACCESS_KEY_ID", "test");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
    let config = Config {
        table: moto::unique("routes"),
        queue_prefix: moto::unique("q"),
        queue_url_prefix: None,
        org_config: None,
        attachments_bucket: "files".into(),
    };
    let sdk = sdk_config(Some(endpoint)).await;
    DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), config.table.clone()).create_table().await.unwrap();
    // Queues are not needed: no request here gets as far as sending a message.
    let config = Config { queue_url_prefix: Some(format!("{endpoint}/123456789012/")), ..config };
    let instance = mailbox_lambda::instance(&config).await.unwrap();

    let routes = template_routes();
    let mut per_function: BTreeMap<&str, usize> = BTreeMap::new();
    for (function, method, path) in &routes {
        *per_function.entry(function).or_default() += 1;
        let router = http_router(instance.clone(), routes_of(function));
        if path == "$default" {
            // Whatever no route takes: the site's own page, in Chinese, and /console/ sent home.
            for (probe, status, text) in [("/no-such-page", 404, "页面不存在"), ("/console/", 303, "")] {
                let request = axum::http::Request::builder().uri(probe).body(Body::empty()).unwrap();
                let response = router.clone().oneshot(request).await.unwrap();
                assert_eq!(response.status(), status, "{probe} through {function}");
                let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
                assert!(String::from_utf8_lossy(&body).contains(text));
            }
            continue;
        }
        let uri = path.replace("{id}", "c0").replace("{action}", "accept").replace("{number}", "GA000000000000");
        let request = axum::http::Request::builder().method(method.as_str()).uri(&uri).body(Body::empty()).unwrap();
        let response = router.oneshot(request).await.unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        let body = String::from_utf8_lossy(&body);
        assert!(
            status != 405 && !body.contains("页面不存在"),
            "{method} {path} goes to {function}, which does not serve it ({status}: {body:.200})"
        );
    }
    // The pages and forms of the embedded host (read from the routers' source), all routed on AWS.
    let pages = embedded_pages();
    assert!(pages.len() >= 20, "the routers' routes were read: {pages:?}");
    for (method, path) in &pages {
        let routed = routes.iter().any(|(_, m, p)| m == method && p == path);
        // `/console/` is no route on AWS (none may end in a slash): `$default` takes it to the site.
        assert!(routed || path == "/console/", "{method} {path} has no route on AWS");
    }
    assert!(per_function.len() >= 7, "{per_function:?}");
}
