//! The OpenAPI 3 document, generated from the handlers' annotations and the types they use.

use super::api;
use axum::Json;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "市长信箱 Mayor's Mailbox API", version = "1", description = "Public and staff API of the Mayor's Mailbox. Staff endpoints need a session (cookie + X-CSRF-Token) or a bearer token."),
    paths(
        api::healthz,
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
        api::me_handler,
        api::units,
        api::inbox,
        api::outbox,
        api::staff_case,
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

pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
