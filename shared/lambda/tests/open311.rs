//! Open311 on AWS: the sample events of `events/` through the `submit` and `query` functions'
//! routers, on DynamoDB served by moto — the services in XML, a work order posted with a key made
//! by the operator's command, followed by its own system, public once replied, refused once the key
//! is revoked.

mod support;

use axum::body::Body;
use mailbox_app::http::Routes;
use mailbox_app::open311::ApiKeyAdmin;
use mailbox_app::ports::CaseStore;
use mailbox_domain::workflow::EventKind;
use mailbox_domain::CaseNumber;
use mailbox_lambda::http_router;
use serde_json::Value;
use support::event;
use tower::ServiceExt;

/// An API Gateway v2 event through a function's router, as `lambda_http` does: status, content
/// type, body.
async fn call(router: &axum::Router, event_text: String) -> (u16, String, String) {
    let request = lambda_http::request::from_str(&event_text).unwrap();
    let (parts, body) = request.into_parts();
    let body: Vec<u8> = body.as_ref().to_vec();
    let response = router.clone().oneshot(axum::http::Request::from_parts(parts, Body::from(body))).await.unwrap();
    let status = response.status().as_u16();
    let ct = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, ct, String::from_utf8(bytes.to_vec()).unwrap())
}

/// A GET of `path` (with its query) through a router, built from the services sample event.
async fn get(router: &axum::Router, path: &str) -> (u16, String, String) {
    let (raw_path, query) = path.split_once('?').unwrap_or((path, ""));
    let mut e: Value = serde_json::from_str(&event("open311-services", &[])).unwrap();
    e["rawPath"] = raw_path.into();
    e["rawQueryString"] = query.into();
    e["requestContext"]["http"]["path"] = raw_path.into();
    call(router, e.to_string()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open311_on_dynamodb_through_the_functions() {
    // Submissions reach queues through the table's stream, not directly: no queue is needed.
    let support::OnMoto { store, instance, .. } = support::on_moto().await;
    let app = instance.app.clone();
    let submit = http_router(instance.clone(), Routes::Submit);
    let query = http_router(instance.clone(), Routes::Query);

    // The services, in XML, from the sample event.
    let (status, ct, xml) = call(&query, event("open311-services", &[])).await;
    assert_eq!((status, ct.as_str()), (200, "text/xml; charset=utf-8"), "{xml}");
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<services><service><service_code>mayor.suggestion</service_code>"), "{xml}");
    // Only the function that owns a route answers it: the submit function posts, it does not list.
    assert_eq!(call(&submit, event("open311-services", &[])).await.0, 405);

    // The sample as it is (a placeholder key) is refused; with a key made by the operator, posted.
    let (status, _, body) = call(&submit, event("open311-post", &[])).await;
    assert_eq!(status, 403, "{body}");
    let admin = ApiKeyAdmin { store: &store };
    let (key, secret) = admin.create("12345热线工单系统", 600, "ops", app.clock.now()).await.unwrap();
    let (status, ct, body) = call(&submit, event("open311-post", &[("__KEY__", &secret)])).await;
    assert_eq!((status, ct.as_str()), (201, "application/json; charset=utf-8"), "{body}");
    let posted: Value = serde_json::from_str(&body).unwrap();
    let number = posted[0]["service_request_id"].as_str().unwrap().to_owned();
    let token = posted[0]["token"].as_str().unwrap().to_owned();
    assert_eq!(posted[0]["query_code"].as_str().map(str::len), Some(10));
    let case = store.get_by_number(&CaseNumber::new(number.as_str())).await.unwrap().unwrap();
    assert_eq!(case.location.as_deref(), Some("邻水县鼎屏镇"));
    let events = store.events(&case.id).await.unwrap();
    assert!(
        matches!(&events[0].kind, EventKind::Submitted { source: Some(s), .. } if s.key_id == key.id),
        "{events:?}"
    );

    // Its own system follows it; the public does not see it yet; the token gives the number.
    let own = get(&query, &format!("/open311/v2/requests/{number}.json?api_key={secret}")).await;
    assert_eq!(own.0, 200, "{}", own.2);
    assert!(own.2.contains("\"status\":\"open\"") && !own.2.contains("13812345678"), "{}", own.2);
    assert_eq!(get(&query, &format!("/open311/v2/requests/{number}.json")).await.0, 404);
    let t = get(&query, &format!("/open311/v2/tokens/{token}.xml")).await;
    assert!(
        t.2.contains(&format!("<service_request_id>{number}</service_request_id><token>{token}</token>")),
        "{}",
        t.2
    );

    // Replied publicly: listed for everyone, masked.
    let answer = "王小明您好：路灯已修复。";
    mailbox_conformance::story::transferred_and_replied(&app, &case.id, answer, true).await;
    let list = get(&query, "/open311/v2/requests.json").await;
    assert_eq!(list.0, 200, "{}", list.2);
    let list: Value = serde_json::from_str(&list.2).unwrap();
    assert_eq!(list[0]["service_request_id"].as_str(), Some(number.as_str()), "{list}");
    assert_eq!(
        (list[0]["status"].as_str(), list[0]["agency_responsible"].as_str()),
        (Some("closed"), Some("广安市交通运输局"))
    );
    assert!(!list.to_string().contains("王小明") && !list.to_string().contains("鼎屏镇"), "{list}");

    // Revoked by the operator: refused at once.
    admin.revoke(&key.id, "ops", app.clock.now()).await.unwrap();
    let (status, _, body) = call(&submit, event("open311-post", &[("__KEY__", &secret)])).await;
    assert_eq!(status, 403, "{body}");
}
