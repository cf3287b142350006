//! Open311 GeoReport v2 (`/open311/v2/`) through the HTTP router on SQLite: every endpoint in XML
//! and JSON with the specification's element names, types and error bodies; keys (revoked → 403,
//! each with its own hourly limit); a posted request marked with its key in the audit trail; only
//! publishable cases with a published reply readable by the public, personal data masked.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use mailbox_app::open311::{ApiKey, ApiKeyAdmin};
use mailbox_app::ports::CaseStore;
use mailbox_domain::workflow::EventKind;
use mailbox_domain::CaseNumber;
use mailbox_tests::http::{Answer, Api};
use serde_json::Value;

/// The XML document of an answer, after checking the declaration and content type the
/// specification asks for.
fn xml_of(a: &Answer) -> roxmltree::Document<'_> {
    assert_eq!(a.content_type, "text/xml; charset=utf-8");
    assert!(a.body.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>"), "{}", a.body);
    roxmltree::Document::parse(&a.body).unwrap_or_else(|e| panic!("{e}: {}", a.body))
}

async fn new_key(api: &Api, name: &str, per_hour: u32) -> (ApiKey, String) {
    let admin = ApiKeyAdmin { store: api.h.app.api_keys.as_ref() };
    admin.create(name, per_hour, "admin", api.h.app.clock.now()).await.unwrap()
}

/// A hotline's work order: 王小明's broken street light, with his phone in the text.
fn order<'a>(key: &'a str, publish: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("api_key", key),
        ("service_code", "mayor.complaint"),
        ("description", "邻水县城某路段路灯已坏一周，夜间出行不便。联系电话13812345678。"),
        ("last_name", "王"),
        ("first_name", "小明"),
        ("phone", "13812345678"),
        ("email", "wxm@example.cn"),
        ("address_string", "邻水县鼎屏镇城北路"),
        ("attribute[publish]", publish),
    ]
}

fn texts<'a>(node: roxmltree::Node<'a, 'a>) -> Vec<(&'a str, &'a str)> {
    node.children().filter(|c| c.is_element()).map(|c| (c.tag_name().name(), c.text().unwrap_or(""))).collect()
}

fn names(node: roxmltree::Node<'_, '_>) -> Vec<String> {
    node.children().filter(|c| c.is_element()).map(|c| c.tag_name().name().to_owned()).collect()
}

const REQUEST_FIELDS: [&str; 17] = [
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_and_their_definitions_follow_the_specification_in_xml_and_json() {
    let api = Api::new("open311-services");
    let org = &api.h.app.org;
    let json = api.get("/open311/v2/services.json").await;
    assert_eq!(json.status, StatusCode::OK);
    let list = json.json();
    let list = list.as_array().unwrap();
    // Every mailbox × the four kinds, in the organisation's order.
    assert_eq!(list.len(), org.mailboxes.len() * 4);
    let first = &list[0];
    assert_eq!(first["service_code"], "mayor.suggestion");
    assert_eq!(first["service_name"], "市长信箱·建议");
    assert_eq!(first["metadata"], true);
    assert_eq!(first["type"], "realtime");
    assert_eq!(first["group"], "市长信箱");
    assert!(first["keywords"].as_str().unwrap().split(',').any(|k| k == "建议"));
    let bureau = list.iter().find(|s| s["service_code"] == "transport-head.complaint");
    assert_eq!(bureau.map(|s| s["group"].clone()), Some(Value::from("局长信箱")), "{list:?}");
    let codes: Vec<&str> = list.iter().map(|s| s["service_code"].as_str().unwrap()).collect();
    for m in &org.mailboxes {
        assert!(codes.contains(&format!("{}.help", m.id).as_str()), "{} missing", m.id);
    }

    let xml = api.get("/open311/v2/services.xml").await;
    let doc = xml_of(&xml);
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "services");
    let services: Vec<_> = root.children().filter(|c| c.is_element()).collect();
    assert_eq!(services.len(), list.len());
    assert!(services.iter().all(|s| s.tag_name().name() == "service"));
    let fields = texts(services[0]);
    assert_eq!(
        names(services[0]),
        ["service_code", "service_name", "description", "metadata", "type", "keywords", "group"]
    );
    assert!(fields.contains(&("metadata", "true")) && fields.contains(&("service_code", "mayor.suggestion")));

    // The definition: the consent to publication (required, yes/no) and an optional title.
    let def = api.get("/open311/v2/services/mayor.complaint.json").await;
    assert_eq!(def.status, StatusCode::OK);
    let def = def.json();
    assert_eq!(def["service_code"], "mayor.complaint");
    let attributes = def["attributes"].as_array().unwrap();
    assert_eq!(attributes[0]["code"], "publish");
    assert_eq!(attributes[0]["datatype"], "singlevaluelist");
    assert_eq!(
        (attributes[0]["required"].clone(), attributes[0]["variable"].clone()),
        (Value::from(true), Value::from(true))
    );
    assert_eq!(attributes[0]["order"], 1);
    let keys: Vec<&str> =
        attributes[0]["values"].as_array().unwrap().iter().map(|v| v["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["yes", "no"]);
    assert_eq!((attributes[1]["code"].as_str(), attributes[1]["required"].as_bool()), (Some("title"), Some(false)));
    let xml = api.get("/open311/v2/services/mayor.complaint.xml").await;
    let doc = xml_of(&xml);
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "service_definition");
    assert_eq!(names(root), ["service_code", "attributes"]);
    let attribute = root.descendants().find(|n| n.has_tag_name("attribute")).unwrap();
    assert_eq!(
        names(attribute),
        ["variable", "code", "datatype", "required", "datatype_description", "order", "description", "values"]
    );
    let value = attribute.descendants().find(|n| n.has_tag_name("value")).unwrap();
    assert_eq!(texts(value), [("key", "yes"), ("name", "同意公开（隐去个人信息）")]);

    // Unknown services and resources: 404 with the specification's error list, in the format asked.
    let missing = api.get("/open311/v2/services/mayor.nothing.json").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.json()[0]["code"], 404);
    let missing = api.get("/open311/v2/services/nobody.help.xml").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let doc = xml_of(&missing);
    assert_eq!(doc.root_element().tag_name().name(), "errors");
    let error = doc.root_element().first_element_child().unwrap();
    assert_eq!(texts(error)[0], ("code", "404"));
    assert_eq!(api.get("/open311/v2/services").await.status, StatusCode::NOT_FOUND);
    assert_eq!(api.get("/open311/v2/services.html").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_posted_request_is_a_case_marked_with_its_key_and_followed_by_its_own_system_only() {
    let api = Api::new("open311-post");
    let (key, secret) = new_key(&api, "12345热线工单系统", 600).await;
    let (_, other) = new_key(&api, "某区网站", 600).await;

    // Keys: none, wrong → 403 with the error list.
    let none = api.post("/open311/v2/requests.json", &order("", "yes")[1..]).await;
    assert_eq!(none.status, StatusCode::FORBIDDEN);
    assert_eq!(none.json()[0]["code"], 403);
    let wrong = api.post("/open311/v2/requests.xml", &order("k000000000000.00", "yes")).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    assert_eq!(texts(xml_of(&wrong).root_element().first_element_child().unwrap())[0], ("code", "403"));

    // Missing fields → 400; an unknown service → 404; nothing is stored by any of them.
    let without =
        |field: &str| -> Vec<(&str, &str)> { order(&secret, "yes").into_iter().filter(|(k, _)| *k != field).collect() };
    for field in ["description", "phone", "service_code", "attribute[publish]"] {
        let a = api.post("/open311/v2/requests.json", &without(field)).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{field}: {}", a.body);
        assert_eq!(a.json()[0]["code"], 400);
    }
    let mut unknown = order(&secret, "yes");
    unknown[1].1 = "mayor.lottery";
    assert_eq!(api.post("/open311/v2/requests.json", &unknown).await.status, StatusCode::NOT_FOUND);
    let mut bad = order(&secret, "maybe");
    assert_eq!(api.post("/open311/v2/requests.json", &bad).await.status, StatusCode::BAD_REQUEST);
    bad = order(&secret, "yes");
    bad.push(("lat", "91"));
    bad.push(("long", "106.6"));
    assert_eq!(api.post("/open311/v2/requests.json", &bad).await.status, StatusCode::BAD_REQUEST);
    bad = order(&secret, "yes");
    bad.push(("attribute[secret_field]", "x"));
    assert_eq!(api.post("/open311/v2/requests.json", &bad).await.status, StatusCode::BAD_REQUEST);
    bad = order(&secret, "yes");
    bad.push(("phone", "13900000000"));
    let twice = api.post("/open311/v2/requests.json", &bad).await;
    assert_eq!(twice.status, StatusCode::BAD_REQUEST, "a parameter given twice is ambiguous");
    let json_body = Request::post("/open311/v2/requests.json")
        .header("content-type", "application/json")
        .body(Body::from(r#"{"api_key":"x"}"#))
        .unwrap();
    assert_eq!(api.send(json_body).await.status, StatusCode::BAD_REQUEST);
    assert!(api.h.store.scan(None, 10).await.unwrap().is_empty(), "refused requests store nothing");

    // A valid work order: 201, the case number, a token and — for this client only — the query code.
    let posted = api.post("/open311/v2/requests.json", &order(&secret, "no")).await;
    assert_eq!(posted.status, StatusCode::CREATED, "{}", posted.body);
    let posted = posted.json();
    let r = &posted.as_array().unwrap()[0];
    let number = r["service_request_id"].as_str().unwrap().to_owned();
    assert!(number.starts_with("GA20261120"), "{number}");
    let token = r["token"].as_str().unwrap().to_owned();
    assert_eq!(r["account_id"], Value::Null);
    assert!(r["service_notice"].as_str().unwrap().contains("信访局"));
    let code = r["query_code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 10);

    let case = api.h.store.get_by_number(&CaseNumber::new(number.as_str())).await.unwrap().unwrap();
    assert_eq!(case.source.as_ref().map(|s| s.key_id.as_str()), Some(key.id.as_str()));
    assert_eq!(case.citizen.name, "王小明");
    assert_eq!(case.location.as_deref(), Some("邻水县鼎屏镇城北路"));
    assert!(!case.publishable);
    assert_eq!(case.title, "邻水县城某路段路灯已坏一周，夜间出行不便", "the title is the first sentence");
    let events = api.h.store.events(&case.id).await.unwrap();
    match &events[0].kind {
        EventKind::Submitted { source: Some(s), .. } => {
            assert_eq!((s.key_id.as_str(), s.name.as_str()), (key.id.as_str(), "12345热线工单系统"))
        }
        other => panic!("{other:?}"),
    }
    // The citizen follows it with the query code as any other case.
    api.h.app.citizen_view(&number, &code, "127.0.0.1").await.unwrap();

    // The token gives the number back, in both formats.
    let t = api.get(&format!("/open311/v2/tokens/{token}.json")).await.json();
    assert_eq!(
        (t[0]["service_request_id"].as_str(), t[0]["token"].as_str()),
        (Some(number.as_str()), Some(token.as_str()))
    );
    let xml = api.get(&format!("/open311/v2/tokens/{token}.xml")).await;
    let doc = xml_of(&xml);
    assert_eq!(doc.root_element().tag_name().name(), "service_requests");
    let request = doc.root_element().first_element_child().unwrap();
    assert_eq!(request.tag_name().name(), "request");
    assert_eq!(texts(request), [("service_request_id", number.as_str()), ("token", token.as_str())]);
    assert_eq!(api.get("/open311/v2/tokens/c000000000000000000000000.json").await.status, StatusCode::NOT_FOUND);

    // Not public (no consent, no reply): the public and other systems get 404; the system that
    // posted it follows its status, personal data masked.
    let url = format!("/open311/v2/requests/{number}.json");
    assert_eq!(api.get(&url).await.status, StatusCode::NOT_FOUND);
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    assert_eq!(api.get(&format!("{url}?api_key={}", enc(&other))).await.status, StatusCode::NOT_FOUND);
    let own = api.get(&format!("{url}?api_key={}", enc(&secret))).await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.body);
    let own = own.json();
    assert_eq!(own[0]["status"], "open");
    assert_eq!(own[0]["status_notes"], "待受理");
    assert_eq!(own[0]["agency_responsible"], "广安市信访局");
    assert!(!own.to_string().contains("13812345678"), "{own}");
    assert!(own[0]["requested_datetime"].as_str().unwrap().ends_with("+08:00"));
    assert_eq!((own[0]["address"].clone(), own[0]["lat"].clone()), (Value::Null, Value::Null), "never published");

    // A retry with the same Idempotency-Key: the same case, 200.
    let form = form_urlencoded::Serializer::new(String::new()).extend_pairs(order(&secret, "yes")).finish();
    let retry = |form: String| {
        Request::post("/open311/v2/requests.json")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("idempotency-key", "7d1f3c2b-1111-4222-8333-944455556666")
            .body(Body::from(form))
            .unwrap()
    };
    let first = api.send(retry(form.clone())).await;
    assert_eq!(first.status, StatusCode::CREATED);
    let again = api.send(retry(form)).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(first.json()[0]["service_request_id"], again.json()[0]["service_request_id"]);

    // Revoked: refused at once (403), also for following its cases.
    ApiKeyAdmin { store: api.h.app.api_keys.as_ref() }.revoke(&key.id, "admin", api.h.app.clock.now()).await.unwrap();
    assert_eq!(api.post("/open311/v2/requests.json", &order(&secret, "yes")).await.status, StatusCode::FORBIDDEN);
    assert_eq!(api.get(&format!("{url}?api_key={}", enc(&secret))).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_key_has_its_own_hourly_limit() {
    let api = Api::new("open311-limit");
    let (_, small) = new_key(&api, "小程序", 2).await;
    let (_, big) = new_key(&api, "12345热线", 600).await;
    for _ in 0..2 {
        assert_eq!(api.post("/open311/v2/requests.json", &order(&small, "yes")).await.status, StatusCode::CREATED);
    }
    let limited = api.post("/open311/v2/requests.xml", &order(&small, "yes")).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(texts(xml_of(&limited).root_element().first_element_child().unwrap())[0], ("code", "429"));
    // Another key is not held back by it; the first key's hour passes.
    assert_eq!(api.post("/open311/v2/requests.json", &order(&big, "yes")).await.status, StatusCode::CREATED);
    api.h.clock.advance(chrono::Duration::minutes(61));
    assert_eq!(api.post("/open311/v2/requests.json", &order(&small, "yes")).await.status, StatusCode::CREATED);
    // Lists of public cases: 30 a minute per client.
    for _ in 0..30 {
        assert_eq!(api.get("/open311/v2/requests.json").await.status, StatusCode::OK);
    }
    assert_eq!(api.get("/open311/v2/requests.json").await.status, StatusCode::TOO_MANY_REQUESTS);
    // Wrong keys from one client: 20 in 15 minutes, then 429.
    for _ in 0..20 {
        assert_eq!(api.post("/open311/v2/requests.json", &order("guess", "yes")).await.status, StatusCode::FORBIDDEN);
    }
    assert_eq!(
        api.post("/open311/v2/requests.json", &order("guess", "yes")).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_reads_only_publishable_cases_with_a_published_reply_masked() {
    let api = Api::new("open311-public");
    let (_, secret) = new_key(&api, "12345热线工单系统", 600).await;
    let mut shown = order(&secret, "yes");
    shown[2].1 = "路灯坏了<script>alert(1)</script>。我叫王小明，电话13812345678。";
    let public = posted_number(&api, &shown).await;
    let private = posted_number(&api, &order(&secret, "no")).await;
    let _unanswered = posted_number(&api, &order(&secret, "yes")).await;
    for number in [&public, &private] {
        reply(&api, number, number == &public).await;
    }

    let list = api.get("/open311/v2/requests.json").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    let list = list.json();
    let ids: Vec<&str> = list.as_array().unwrap().iter().map(|r| r["service_request_id"].as_str().unwrap()).collect();
    assert_eq!(ids, [public.as_str()], "only the publishable case with a published reply");
    let r = &list[0];
    assert_eq!(r["status"], "closed");
    assert_eq!(r["service_code"], "mayor.complaint");
    assert_eq!(r["service_name"], "市长信箱·投诉");
    assert_eq!(r["agency_responsible"], "广安市交通运输局");
    assert!(r["status_notes"].as_str().unwrap().contains("路灯已修复"));
    assert!(r["expected_datetime"].as_str().unwrap().ends_with("+08:00"));
    let text = list.to_string();
    assert!(!text.contains("13812345678") && !text.contains("王小明") && !text.contains("鼎屏镇"), "{text}");
    assert!(r["description"].as_str().unwrap().contains("<script>"), "kept as text; escaped in XML");

    let xml = api.get("/open311/v2/requests.xml").await;
    assert!(xml.body.contains("&lt;script&gt;") && !xml.body.contains("<script>"), "{}", xml.body);
    let doc = xml_of(&xml);
    let request = doc.root_element().first_element_child().unwrap();
    assert_eq!(names(request), REQUEST_FIELDS);
    assert_eq!(api.get(&format!("/open311/v2/requests/{public}.xml")).await.status, StatusCode::OK);
    assert_eq!(api.get(&format!("/open311/v2/requests/{private}.xml")).await.status, StatusCode::NOT_FOUND);

    // Filters: the span (≤ 90 days, on requested_datetime), status, service codes, ids.
    let q = |query: &str| format!("/open311/v2/requests.json?{query}");
    let count = |a: &Answer| a.json().as_array().map_or(0, Vec::len);
    assert_eq!(
        count(&api.get(&q("start_date=2026-11-20T00:00:00%2B08:00&end_date=2026-11-21T00:00:00%2B08:00")).await),
        1
    );
    assert_eq!(count(&api.get(&q("start_date=2026-10-01T00:00:00Z&end_date=2026-11-01T00:00:00Z")).await), 0);
    let span = api.get(&q("start_date=2026-01-01T00:00:00Z&end_date=2026-11-01T00:00:00Z")).await;
    assert_eq!(span.status, StatusCode::BAD_REQUEST);
    assert_eq!(span.json()[0]["code"], 400);
    assert_eq!(api.get(&q("start_date=2026-11-20")).await.status, StatusCode::BAD_REQUEST, "a time needs its zone");
    assert_eq!(count(&api.get(&q("status=open")).await), 0);
    assert_eq!(count(&api.get(&q("status=closed,open")).await), 1);
    assert_eq!(api.get(&q("status=done")).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(count(&api.get(&q("service_code=mayor.help")).await), 0);
    assert_eq!(count(&api.get(&q("service_code=mayor.help,mayor.complaint")).await), 1);
    assert_eq!(count(&api.get(&q(&format!("service_request_id={private},{public}"))).await), 1);
}

async fn posted_number(api: &Api, form: &[(&str, &str)]) -> String {
    let a = api.post("/open311/v2/requests.json", form).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    a.json()[0]["service_request_id"].as_str().unwrap().to_owned()
}

/// The city's 信访局 transfers the case to the transport bureau, which replies (publicly or not).
async fn reply(api: &Api, number: &str, public: bool) {
    let id = api.h.store.get_by_number(&CaseNumber::new(number)).await.unwrap().unwrap().id;
    let text = "王小明您好：路灯已修复。如有问题请拨打13812345678以外的服务电话。";
    mailbox_conformance::story::transferred_and_replied(&api.h.app, &id, text, public).await;
}
