//! The OpenAPI 3 document, generated from the handlers' annotations and the types they use.

use super::{api, AppState};
use axum::extract::State;
use axum::Json;
use mailbox_domain::Organisation;
use serde_json::{json, Value};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "市长信箱 Mayor's Mailbox API", version = "1", description = "Public and staff API of the Mayor's Mailbox. Staff endpoints need a session (cookie + X-CSRF-Token) or a bearer token."),
    paths(
        api::healthz,
        api::readyz,
        api::mailboxes,
        api::submit,
        api::citizen_case,
        api::citizen_rate,
        api::public_stats,
        api::public_replies,
        api::assessment,
        api::import_calendar,
        api::login,
        api::logout,
        api::change_password,
        api::me_handler,
        api::units,
        api::inbox,
        api::outbox,
        api::hot_topics,
        api::review_topic,
        api::staff_case,
        api::staff_attachment,
        api::act,
    ),
    modifiers(&Security),
    tags((name = "public", description = "Citizens"), (name = "staff", description = "Staff console"), (name = "system", description = "Operations"))
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(super::SESSION_COOKIE))),
        );
    }
}

/// The document served at `/api/openapi.json`: the generated one, made exact where annotations
/// cannot say it — the organisation's mailboxes as an enum, one operation per case action (the body
/// depends on the action in the path), and links that lead from a new case to its follow-up and
/// from the inbox to each case (so that generated requests reach real cases).
pub async fn document(State(s): State<AppState>) -> Json<Value> {
    Json(document_for(&s.app.org))
}

pub fn document_for(org: &Organisation) -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("the OpenAPI document serialises");
    let mailboxes: Vec<&str> = org.mailboxes.iter().map(|m| m.id.as_str()).collect();
    doc["components"]["schemas"]["SubmitRequest"]["properties"]["mailbox"]["enum"] = json!(mailboxes);
    if let Some(params) = doc["paths"]["/api/v1/public/replies"]["get"]["parameters"].as_array_mut() {
        for p in params.iter_mut().filter(|p| p["name"] == "mailbox") {
            p["schema"]["enum"] = json!(mailboxes);
        }
    }
    // An absent key is what `Option` means here: the header is optional, never `null`.
    if let Some(params) = doc["paths"]["/api/v1/cases"]["post"]["parameters"].as_array_mut() {
        for p in params.iter_mut().filter(|p| p["name"] == "Idempotency-Key") {
            p["schema"]["type"] = json!("string");
            p["required"] = json!(false);
        }
    }
    let units: Vec<&str> = org.units.iter().map(|u| u.id.as_str()).collect();
    doc["components"]["schemas"]["UnitId"]["enum"] = json!(units);
    // A spreadsheet is binary: no JSON Schema describes it (a schema there is one nothing can check).
    let xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
    doc["paths"]["/api/v1/staff/assessment"]["get"]["responses"]["200"]["content"][xlsx] = json!({});
    one_operation_per_action(&mut doc);
    add_links(&mut doc);
    doc
}

const ACT_PATH: &str = "/api/v1/staff/cases/{id}/actions/{action}";

/// Replaces the templated action path by one path per action, each with its own body schema: the
/// request's `command` is the `Command` variant of that action (the URL is the same one).
fn one_operation_per_action(doc: &mut Value) {
    let Some(template) = doc["paths"].as_object_mut().and_then(|p| p.remove(ACT_PATH)) else { return };
    let variants = doc["components"]["schemas"]["Command"]["oneOf"].as_array().cloned().unwrap_or_default();
    for variant in variants {
        let Some(action) = variant["properties"]["action"]["enum"][0].as_str().map(str::to_owned) else { continue };
        // Triage's record and the sweep's alarm are the system's own: no API client sends them.
        if matches!(action.as_str(), "record_triage" | "deadline_alarm" | "recompute_deadline") {
            continue;
        }
        let mut op = template["post"].clone();
        op["operationId"] = json!(format!("act_{action}"));
        op["summary"] = json!(format!("Case action `{action}`"));
        if let Some(params) = op["parameters"].as_array_mut() {
            params.retain(|p| p["name"] != "action");
        }
        op["requestBody"]["content"]["application/json"]["schema"] = json!({
            "type": "object",
            "required": ["command"],
            "properties": {
                "version": doc["components"]["schemas"]["ActionRequest"]["properties"]["version"].clone(),
                "command": variant,
            }
        });
        doc["paths"][ACT_PATH.replace("{action}", &action)] = json!({ "post": op });
    }
}

/// OpenAPI links: a submission leads to the case's view and rating (its number and query code), the
/// inbox's first case to the staff view and every action.
fn add_links(doc: &mut Value) {
    let submitted = "/api/v1/cases";
    doc["paths"][submitted]["post"]["responses"]["201"]["links"] = json!({
        "CitizenView": {
            "operationId": "citizen_case",
            "parameters": { "number": "$response.body#/number", "query_code": "$response.body#/query_code" }
        },
        "CitizenRating": {
            "operationId": "citizen_rate",
            "parameters": { "number": "$response.body#/number" },
            "requestBody": { "query_code": "$response.body#/query_code", "satisfied": true, "comment": "" }
        }
    });
    let actions: Vec<String> = doc["paths"]
        .as_object()
        .map(|p| {
            p.values()
                .filter_map(|op| op["post"]["operationId"].as_str())
                .filter(|o| o.starts_with("act_"))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let mut links = serde_json::Map::new();
    links.insert(
        "StaffCase".into(),
        json!({ "operationId": "staff_case", "parameters": { "id": "$response.body#/0/id" } }),
    );
    for op in actions {
        links.insert(op.clone(), json!({ "operationId": op, "parameters": { "id": "$response.body#/0/id" } }));
    }
    doc["paths"]["/api/v1/staff/inbox"]["get"]["responses"]["200"]["links"] = Value::Object(links);
}
