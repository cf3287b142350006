//! Attachments on AWS: a photo posted to the `submit` function as API Gateway brings it (a
//! base64-encoded multipart body) is stored in the S3 bucket (moto) without its metadata; staff
//! open it through the `staff` function (a redirect to a presigned GET); the public through the
//! `site` function once the dispatcher marked it and the reply is published.

mod support;

use axum::body::Body;
use base64::Engine;
use mailbox_app::http::Routes;
use mailbox_app::ports::CaseStore;
use mailbox_aws::{sdk_config, DynamoStore, S3Attachments};
use mailbox_conformance::fixtures::{jpeg_has_metadata, jpeg_with_gps};
use mailbox_domain::workflow::Command;
use mailbox_domain::{Actor, CaseNumber, Role, UnitId};
use mailbox_lambda::http_router;
use serde_json::Value;
use support::event;
use tower::ServiceExt;

async fn call(router: &axum::Router, event_json: String) -> axum::response::Response {
    let request = lambda_http::request::from_str(&event_json).unwrap();
    let (parts, body) = request.into_parts();
    let body: Vec<u8> = body.as_ref().to_vec();
    router.clone().oneshot(axum::http::Request::from_parts(parts, Body::from(body))).await.unwrap()
}

/// An event of `template` (a sample) for `method path`, with `body` base64-encoded as API Gateway
/// sends a binary body.
fn event_for(template: &str, method: &str, path: &str, content_type: Option<&str>, body: Option<&[u8]>) -> String {
    let mut e: Value = serde_json::from_str(&event(template, &[])).unwrap();
    e["rawPath"] = path.into();
    e["rawQueryString"] = "".into();
    e["requestContext"]["http"]["path"] = path.into();
    e["requestContext"]["http"]["method"] = method.into();
    if let Some(ct) = content_type {
        e["headers"]["content-type"] = ct.into();
    }
    match body {
        Some(b) => {
            e["body"] = base64::engine::general_purpose::STANDARD.encode(b).into();
            e["isBase64Encoded"] = true.into();
        }
        None => {
            e.as_object_mut().unwrap().remove("body");
            e["isBase64Encoded"] = false.into();
        }
    }
    e.to_string()
}

fn multipart(request: &str, photo: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----lambdaboundary42";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"request\"\r\n\r\n{request}\r\n--{boundary}\r\n\
         Content-Disposition: form-data; name=\"files\"; filename=\"IMG_0001.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(photo);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Follows a redirect to a presigned GET: the file's bytes and type.
async fn fetch(response: axum::response::Response) -> (String, Vec<u8>) {
    assert_eq!(response.status(), 303);
    let url = response.headers()["location"].to_str().unwrap().to_owned();
    let got = reqwest::get(&url).await.unwrap();
    assert_eq!(got.status(), 200, "{url}");
    let kind = got.headers()["content-type"].to_str().unwrap().to_owned();
    (kind, got.bytes().await.unwrap().to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_through_the_functions_to_s3_and_back_without_metadata() {
    let endpoint = support::moto_env();
    let sdk = sdk_config(Some(endpoint)).await;
    let config = support::config(endpoint);
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), config.table.clone());
    store.create_table().await.unwrap();
    S3Attachments::new(&sdk, config.attachments_bucket.as_str()).create_bucket().await.unwrap();
    assert!(mailbox_app::accounts::seed_demo_accounts(&store).await.unwrap());
    let instance = mailbox_lambda::instance(&config).await.unwrap();
    let app = instance.app.clone();
    let submit = http_router(instance.clone(), Routes::Submit);
    let staff = http_router(instance.clone(), Routes::Staff);
    let site = http_router(instance.clone(), Routes::Site);

    // The form says what fits in a request here (Lambda's 6 MB, base64-encoded).
    let form = call(&site, event_for("site-home", "GET", "/mailbox/mayor", None, None)).await;
    let form = axum::body::to_bytes(form.into_body(), 1 << 20).await.unwrap();
    assert!(String::from_utf8_lossy(&form).contains("每个不超过 5 MB，合计不超过 4 MB"));

    let request = serde_json::json!({"mailbox": "mayor", "kind": "complaint", "title": "路面塌陷",
        "body": "城北路路面塌陷，附照片。", "name": "王小明", "phone": "13812345678", "public": true})
    .to_string();
    let photo = jpeg_with_gps();
    let (content_type, body) = multipart(&request, &photo);
    let posted = call(&submit, event_for("submit", "POST", "/api/v1/cases", Some(&content_type), Some(&body))).await;
    assert_eq!(posted.status(), 201);
    let posted: Value =
        serde_json::from_slice(&axum::body::to_bytes(posted.into_body(), 1 << 20).await.unwrap()).unwrap();
    let number = posted["number"].as_str().unwrap().to_owned();
    let case = store.get_by_number(&CaseNumber::new(number.as_str())).await.unwrap().unwrap();
    assert_eq!(case.attachments.len(), 1);

    // A supervisor (the sample's JWT subject) opens it through the staff function: a presigned GET.
    let path = format!("/api/v1/staff/cases/{}/attachments/1", case.id);
    let (kind, bytes) = fetch(call(&staff, event_for("staff-inbox", "GET", &path, None, None)).await).await;
    assert_eq!(kind, "image/jpeg");
    assert!(!jpeg_has_metadata(&bytes), "stored without metadata");
    assert_eq!(image::load_from_memory(&bytes).unwrap().width(), 64);

    // The public: not before it is marked and the reply published; then a presigned GET too.
    let public = format!("/replies/{number}/attachments/1");
    assert_eq!(call(&site, event_for("site-home", "GET", &public, None, None)).await.status(), 404);
    let xfj = Actor::staff("xfj", Role::Dispatcher, Some(UnitId::new("city-xfj")));
    app.act(&xfj, &case.id, None, Command::PublishAttachment { number: 1, public: true }).await.unwrap();
    mailbox_conformance::story::transferred_and_replied(&app, &case.id, "已修复。", true).await;
    let (kind, public_bytes) = fetch(call(&site, event_for("site-home", "GET", &public, None, None)).await).await;
    assert_eq!((kind.as_str(), public_bytes), ("image/jpeg", bytes));
}
