//! Open311 GeoReport v2 over HTTP (`/open311/v2/…`): each resource in XML (the required format) and
//! JSON, chosen by the path's extension; UTF-8; times in ISO 8601 with their zone; errors as the
//! specification's list of `{code, description}`. The use cases are in `crate::open311`.

use super::extract::{ClientAddr, ServedOverHttps};
use super::AppState;
use crate::error::AppError;
use crate::open311::{self, PostRequest, RequestsQuery, ServiceRequest, PUBLISH_ATTRIBUTE, TITLE_ATTRIBUTE};
use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use mailbox_domain::deadline::cst;
use mailbox_domain::Kind;

/// Where the API is mounted.
pub const BASE: &str = "/open311/v2";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Xml,
    Json,
}

/// A resource name and its format: `requests.json` → (`requests`, Json). `None` without a known
/// extension.
fn split_format(file: &str) -> Option<(&str, Format)> {
    if let Some(name) = file.strip_suffix(".json") {
        Some((name, Format::Json))
    } else {
        file.strip_suffix(".xml").map(|name| (name, Format::Xml))
    }
}

/// A value of a response: the specification's XML and its JSON mapping (the "Spark convention":
/// a repeating element becomes an array, an empty element `null`).
#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Int(i64),
    Bool(bool),
    Null,
    Obj(Vec<(&'static str, Node)>),
    /// Items of one element name (`<attributes><attribute>…`): an array in JSON.
    List(&'static str, Vec<Node>),
}

fn text(s: impl Into<String>) -> Node {
    Node::Text(s.into())
}

fn opt_text(s: Option<String>) -> Node {
    s.filter(|s| !s.is_empty()).map_or(Node::Null, Node::Text)
}

/// A time as the specification writes it, in China time: `2026-11-30T10:00:00+08:00`.
fn time(t: DateTime<Utc>) -> Node {
    Node::Text(t.with_timezone(&cst()).format("%Y-%m-%dT%H:%M:%S%:z").to_string())
}

fn json(node: &Node) -> serde_json::Value {
    use serde_json::Value;
    match node {
        Node::Text(s) => Value::String(s.clone()),
        Node::Int(i) => Value::from(*i),
        Node::Bool(b) => Value::Bool(*b),
        Node::Null => Value::Null,
        Node::Obj(fields) => Value::Object(fields.iter().map(|(k, v)| ((*k).to_owned(), json(v))).collect()),
        Node::List(_, items) => Value::Array(items.iter().map(json).collect()),
    }
}

/// Text as XML character data: markup escaped, characters XML 1.0 does not allow dropped.
fn escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
}

fn xml_element(name: &str, node: &Node, out: &mut String) {
    match node {
        Node::Null => {
            out.push('<');
            out.push_str(name);
            out.push_str("/>");
            return;
        }
        Node::List(_, items) if items.is_empty() => {
            out.push('<');
            out.push_str(name);
            out.push_str("/>");
            return;
        }
        _ => {}
    }
    out.push('<');
    out.push_str(name);
    out.push('>');
    match node {
        Node::Text(s) => escape(s, out),
        Node::Int(i) => out.push_str(&i.to_string()),
        Node::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Node::Obj(fields) => {
            for (k, v) in fields {
                xml_element(k, v, out);
            }
        }
        Node::List(item, items) => {
            for i in items {
                xml_element(item, i, out);
            }
        }
        Node::Null => {}
    }
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// A whole document: `root` in XML (after the declaration); in JSON the root is dropped, so a list
/// root is an array and an object root an object.
fn document(format: Format, status: StatusCode, root: &'static str, node: Node) -> Response {
    let (body, content_type) = match format {
        Format::Json => (json(&node).to_string(), "application/json; charset=utf-8"),
        Format::Xml => {
            let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
            xml_element(root, &node, &mut out);
            out.push('\n');
            (out, "text/xml; charset=utf-8")
        }
    };
    let mut response = (status, body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// The specification's error body: a list of `{code, description}`.
fn errors(format: Format, status: StatusCode, description: &str) -> Response {
    let error = Node::Obj(vec![("code", Node::Int(i64::from(status.as_u16()))), ("description", text(description))]);
    document(format, status, "errors", Node::List("error", vec![error]))
}

/// An error of a use case as the specification answers it: 404 for what does not exist, 403 for a
/// missing or wrong key, 400 for any other request that cannot be fulfilled (429 when a limit is
/// reached, so that clients back off; 5xx when the fault is ours).
fn error_response(format: Format, e: AppError) -> Response {
    let message = e.to_string();
    match e {
        AppError::Invalid { .. } | AppError::Conflict { .. } => errors(format, StatusCode::BAD_REQUEST, &message),
        AppError::NotFound => errors(format, StatusCode::NOT_FOUND, "未找到"),
        AppError::Forbidden(_) | AppError::Unauthorized | AppError::BadCredentials => {
            errors(format, StatusCode::FORBIDDEN, &message)
        }
        AppError::RateLimited => errors(format, StatusCode::TOO_MANY_REQUESTS, "请求过于频繁，请稍后再试"),
        AppError::Busy => errors(format, StatusCode::SERVICE_UNAVAILABLE, &message),
        AppError::Internal(cause) => {
            tracing::error!(%cause, "internal error");
            errors(format, StatusCode::INTERNAL_SERVER_ERROR, "服务暂时不可用，请稍后再试")
        }
    }
}

fn not_found() -> Response {
    errors(Format::Xml, StatusCode::NOT_FOUND, "没有这个资源：请求地址须以 .xml 或 .json 结尾")
}

/// Whether every percent-encoded name and value of a query string or form body is UTF-8 (the
/// specification's encoding; GBK from an older system would otherwise become replacement characters).
fn utf8_encoded(raw: &[u8]) -> bool {
    raw.split(|&b| b == b'&' || b == b'=').all(|part| {
        let mut bytes = Vec::with_capacity(part.len());
        let mut i = 0;
        while i < part.len() {
            match part[i] {
                b'%' if i + 2 < part.len() => {
                    let hex =
                        std::str::from_utf8(&part[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
                    match hex {
                        Some(b) => {
                            bytes.push(b);
                            i += 3;
                            continue;
                        }
                        None => bytes.push(b'%'),
                    }
                }
                b'+' => bytes.push(b' '),
                b => bytes.push(b),
            }
            i += 1;
        }
        std::str::from_utf8(&bytes).is_ok()
    })
}

/// Pairs of a query string or form body; `Err` names a parameter given twice (ambiguous, refused),
/// or text that is not UTF-8.
fn pairs(raw: &[u8]) -> Result<Vec<(String, String)>, AppError> {
    if !utf8_encoded(raw) {
        return Err(AppError::Invalid {
            code: "invalid_encoding", field: None, message: "参数须为 UTF-8 编码".into()
        });
    }
    let mut seen = std::collections::HashSet::new();
    let mut out: Vec<(String, String)> = Vec::new();
    for (k, v) in form_urlencoded::parse(raw) {
        if !seen.insert(k.clone()) {
            return Err(AppError::Invalid {
                code: "duplicate_parameter",
                field: None,
                message: format!("参数 {} 重复", k.chars().take(40).collect::<String>()),
            });
        }
        out.push((k.into_owned(), v.into_owned()));
    }
    Ok(out)
}

fn take(pairs: &mut Vec<(String, String)>, name: &str) -> String {
    match pairs.iter().position(|(k, _)| k == name) {
        Some(i) => pairs.remove(i).1,
        None => String::new(),
    }
}

/// Comma-separated values of a parameter, empty ones left out.
fn list(value: &str) -> Vec<String> {
    value.split(',').map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned).collect()
}

fn service_node(s: &open311::Service) -> Node {
    Node::Obj(vec![
        ("service_code", text(&s.code)),
        ("service_name", text(&s.name)),
        ("description", text(&s.description)),
        ("metadata", Node::Bool(true)),
        ("type", text("realtime")),
        ("keywords", text(&s.keywords)),
        ("group", text(&s.group)),
    ])
}

/// `scheme://host` of this request, to make the site's paths absolute (`media_url`).
fn base_url(headers: &HeaderMap, https: bool) -> String {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).filter(|h| {
        !h.is_empty() && h.len() <= 255 && h.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
    });
    format!("{}://{}", if https { "https" } else { "http" }, host.unwrap_or("localhost"))
}

fn request_node(r: &ServiceRequest, base: &str) -> Node {
    // The specification limits descriptions to 4,000 characters.
    let description: String = r.description.chars().take(4000).collect();
    Node::Obj(vec![
        ("service_request_id", text(&r.service_request_id)),
        ("status", text(r.status)),
        ("status_notes", opt_text(Some(r.status_notes.clone()))),
        ("service_name", text(&r.service_name)),
        ("service_code", text(&r.service_code)),
        ("description", opt_text(Some(description))),
        ("agency_responsible", opt_text(Some(r.agency_responsible.clone()))),
        ("service_notice", Node::Null),
        ("requested_datetime", time(r.requested_datetime)),
        ("updated_datetime", time(r.updated_datetime)),
        ("expected_datetime", r.expected_datetime.map_or(Node::Null, time)),
        // Where a citizen lives or writes from is personal data: never published.
        ("address", Node::Null),
        ("address_id", Node::Null),
        ("zipcode", Node::Null),
        ("lat", Node::Null),
        ("long", Node::Null),
        ("media_url", opt_text(r.media_url.as_ref().map(|path| format!("{base}{path}")))),
    ])
}

fn requests_document(format: Format, items: &[ServiceRequest], base: &str) -> Response {
    let items = items.iter().map(|r| request_node(r, base)).collect();
    document(format, StatusCode::OK, "service_requests", Node::List("request", items))
}

/// The attributes every service takes: the citizen's consent to publication and a title.
fn definition_node(code: &str, kind: Kind) -> Node {
    let value = |key: &str, name: &str| Node::Obj(vec![("key", text(key)), ("name", text(name))]);
    // One attribute in the specification's element order; every one here is filled in by the user.
    let attribute =
        |code: &str, datatype: &str, required: bool, hint: &str, order: i64, description: String, values| {
            Node::Obj(vec![
                ("variable", Node::Bool(true)),
                ("code", text(code)),
                ("datatype", text(datatype)),
                ("required", Node::Bool(required)),
                ("datatype_description", text(hint)),
                ("order", Node::Int(order)),
                ("description", text(description)),
                ("values", Node::List("value", values)),
            ])
        };
    let publish = attribute(
        PUBLISH_ATTRIBUTE,
        "singlevaluelist",
        true,
        "yes 或 no",
        1,
        "留言人是否同意公开留言及答复（公开时隐去个人信息）".into(),
        vec![value("yes", "同意公开（隐去个人信息）"), value("no", "不公开")],
    );
    let title = attribute(
        TITLE_ATTRIBUTE,
        "string",
        false,
        "不超过100字；不填则取留言内容的第一句",
        2,
        format!("{}的标题", kind.label()),
        vec![],
    );
    Node::Obj(vec![("service_code", text(code)), ("attributes", Node::List("attribute", vec![publish, title]))])
}

/// `GET /open311/v2/{services|requests}.{xml|json}`.
pub async fn get_collection(
    State(s): State<AppState>,
    Path(file): Path<String>,
    ClientAddr(client): ClientAddr,
    RawQuery(query): RawQuery,
    https: Option<Extension<ServedOverHttps>>,
    headers: HeaderMap,
) -> Response {
    let base = base_url(&headers, https.is_some());
    let Some((name, format)) = split_format(&file) else { return not_found() };
    match name {
        "services" => {
            let items = open311::services(&s.app.org).iter().map(service_node).collect();
            document(format, StatusCode::OK, "services", Node::List("service", items))
        }
        "requests" => match requests(&s, query.as_deref().unwrap_or_default(), &client).await {
            Ok(items) => requests_document(format, &items, &base),
            Err(e) => error_response(format, e),
        },
        _ => not_found(),
    }
}

async fn requests(s: &AppState, raw: &str, client: &str) -> Result<Vec<ServiceRequest>, AppError> {
    let mut p = pairs(raw.as_bytes())?;
    let ids = list(&take(&mut p, "service_request_id"));
    if ids.len() > 50 {
        return Err(AppError::invalid("invalid_parameter", "service_request_id", "一次最多查询50个编号"));
    }
    let time = |value: String, field: &'static str| {
        Some(value).filter(|v| !v.trim().is_empty()).map(|v| open311::parse_datetime(&v, field)).transpose()
    };
    let q = RequestsQuery {
        ids,
        service_codes: list(&take(&mut p, "service_code")),
        start: time(take(&mut p, "start_date"), "start_date")?,
        end: time(take(&mut p, "end_date"), "end_date")?,
        statuses: list(&take(&mut p, "status")),
    };
    s.app.open311_requests(&q, client).await
}

/// `GET /open311/v2/{services|requests|tokens}/{id}.{xml|json}`.
pub async fn get_item(
    State(s): State<AppState>,
    Path((collection, file)): Path<(String, String)>,
    ClientAddr(client): ClientAddr,
    RawQuery(query): RawQuery,
    https: Option<Extension<ServedOverHttps>>,
    headers: HeaderMap,
) -> Response {
    let base = base_url(&headers, https.is_some());
    let Some((id, format)) = split_format(&file) else { return not_found() };
    match collection.as_str() {
        "services" => match open311::parse_service_code(&s.app.org, id) {
            Some((_, kind)) => document(format, StatusCode::OK, "service_definition", definition_node(id, kind)),
            None => errors(format, StatusCode::NOT_FOUND, "service_code 不存在"),
        },
        "requests" => {
            let result = async {
                let mut p = pairs(query.as_deref().unwrap_or_default().as_bytes())?;
                let secret = take(&mut p, "api_key");
                // A key is optional here: it lets the system that posted a case follow it before its
                // reply is public. A key given must be valid.
                let key = match secret.trim() {
                    "" => None,
                    secret => Some(s.app.open311_key(secret, &client).await?),
                };
                s.app.open311_request(id, key.as_ref()).await
            }
            .await;
            match result {
                Ok(r) => requests_document(format, &[r], &base),
                Err(e) => error_response(format, e),
            }
        }
        "tokens" => match s.app.open311_token(id).await {
            Ok(number) => {
                let node = Node::Obj(vec![("service_request_id", text(number)), ("token", text(id))]);
                document(format, StatusCode::OK, "service_requests", Node::List("request", vec![node]))
            }
            Err(e) => error_response(format, e),
        },
        _ => not_found(),
    }
}

/// `POST /open311/v2/requests.{xml|json}`: a form (`application/x-www-form-urlencoded`) with the
/// `api_key`. An `Idempotency-Key` header (as on `POST /api/v1/cases`) makes a retry safe.
pub async fn post_request(
    State(s): State<AppState>,
    Path(file): Path<String>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some((name, format)) = split_format(&file) else { return not_found() };
    if name != "requests" {
        return not_found();
    }
    let result = async {
        let form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.trim().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
        if !form {
            return Err(AppError::Invalid {
                code: "unsupported_media_type",
                field: None,
                message: "请求须为 application/x-www-form-urlencoded 表单".into(),
            });
        }
        if std::str::from_utf8(&body).is_err() {
            return Err(AppError::Invalid {
                code: "invalid_encoding",
                field: None,
                message: "请求须为 UTF-8 编码".into(),
            });
        }
        let mut p = pairs(&body)?;
        let secret = take(&mut p, "api_key");
        if secret.trim().is_empty() {
            return Err(AppError::Forbidden("缺少 api_key".into()));
        }
        let key = s.app.open311_key(&secret, &client).await?;
        let code = take(&mut p, "service_code");
        // The specification answers an unknown service with 404 (a missing one with 400).
        if !code.trim().is_empty() && open311::parse_service_code(&s.app.org, code.trim()).is_none() {
            return Ok(Err(errors(format, StatusCode::NOT_FOUND, "service_code 不存在")));
        }
        let idempotency = match headers.get("idempotency-key") {
            None => None,
            Some(v) => Some(crate::input::idempotency_key(v.to_str().unwrap_or_default())?),
        };
        let request = PostRequest {
            service_code: code,
            description: take(&mut p, "description"),
            first_name: take(&mut p, "first_name"),
            last_name: take(&mut p, "last_name"),
            phone: take(&mut p, "phone"),
            email: take(&mut p, "email"),
            address_string: take(&mut p, "address_string"),
            lat: take(&mut p, "lat"),
            long: take(&mut p, "long"),
            title: take(&mut p, &format!("attribute[{TITLE_ATTRIBUTE}]")),
            publish: take(&mut p, &format!("attribute[{PUBLISH_ATTRIBUTE}]")),
        };
        // Attributes this service does not define are refused rather than dropped unseen.
        if let Some((k, _)) = p.iter().find(|(k, _)| k.starts_with("attribute[")) {
            return Err(AppError::Invalid {
                code: "unknown_attribute",
                field: None,
                message: format!("没有这个属性：{}", k.chars().take(60).collect::<String>()),
            });
        }
        Ok(Ok(s.app.open311_post(&key, &request, idempotency).await?))
    }
    .await;
    match result {
        Ok(Err(response)) => response,
        Ok(Ok(posted)) => {
            let node = Node::Obj(vec![
                ("service_request_id", text(&posted.submitted.number)),
                ("token", text(&posted.token)),
                ("service_notice", text(&posted.service_notice)),
                ("account_id", Node::Null),
                // Not in the specification: the citizen's query code (查询码), for the posting system
                // to pass on; nobody else ever sees it.
                ("query_code", text(&posted.submitted.query_code)),
            ]);
            let status = if posted.submitted.replayed { StatusCode::OK } else { StatusCode::CREATED };
            document(format, status, "service_requests", Node::List("request", vec![node]))
        }
        Err(e) => error_response(format, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escapes_markup_and_drops_what_xml_cannot_hold() {
        let node = Node::Obj(vec![("a", text("<b>&\"x'\u{1}")), ("n", Node::Null), ("l", Node::List("i", vec![]))]);
        let mut out = String::new();
        xml_element("r", &node, &mut out);
        assert_eq!(out, "<r><a>&lt;b&gt;&amp;&quot;x&apos;</a><n/><l/></r>");
    }

    #[test]
    fn lists_become_arrays_and_empty_elements_null_in_json() {
        let node = Node::List("service", vec![Node::Obj(vec![("x", Node::Null), ("b", Node::Bool(true))])]);
        assert_eq!(json(&node), serde_json::json!([{"x": null, "b": true}]));
    }

    #[test]
    fn parameters_must_be_utf8_and_given_once() {
        assert!(pairs("a=%E4%BD%A0&b=x+y&c=%zz".as_bytes()).is_ok());
        // GBK's 你 (C4 E3), percent-encoded.
        assert!(matches!(pairs(b"description=%C4%E3"), Err(AppError::Invalid { code: "invalid_encoding", .. })));
        assert!(matches!(pairs(b"a=1&a=2"), Err(AppError::Invalid { code: "duplicate_parameter", .. })));
        let many: String = (0..20_000).map(|i| format!("k{i}=v&")).collect();
        assert_eq!(pairs(many.as_bytes()).unwrap().len(), 20_000);
    }

    #[test]
    fn formats_come_from_the_extension_only() {
        assert_eq!(split_format("services.json"), Some(("services", Format::Json)));
        assert_eq!(split_format("mayor.complaint.xml"), Some(("mayor.complaint", Format::Xml)));
        assert_eq!(split_format("services"), None);
        assert_eq!(split_format("services.html"), None);
    }
}
