//! The OpenAPI 3.1 description of the office's JSON API, served at `/api/v1/openapi.json`.
//! The sync protocol, login and uploads are described in `docs/sync-protocol.md`.

use crate::service::Env;
use axum::Json;
use axum::extract::State;
use serde::Serialize;
use std::sync::Arc;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

/// Every error: a stable code and a message in Chinese and English.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApiErrorBody {
    pub code: String,
    pub zh: String,
    pub en: String,
}

/// Who the caller is.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Me {
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub unit: String,
}

struct Bearer;

impl utoipa::Modify for Bearer {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A token from `POST /api/v1/auth/login` (see docs/sync-protocol.md), \
                         or a browser session cookie (then send `X-CSRF-Token` on POST).",
                    ))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Fieldline office API",
        description = "Jobs as the office sees them: lists with filters and totals, a job's full view, \
                       its audit trail, what changed since the last review, and the review itself; \
                       the dispatch board and a unit's monthly assessment; and the customer's \
                       channel without a login (apply online, follow, confirm the plan, rate). \
                       Errors are `{code, zh, en}`.",
        version = "1"
    ),
    paths(
        super::auth::me_doc,
        super::office::list,
        super::office::job,
        super::office::history,
        super::office::since_review,
        super::office::review,
        super::dispatch::board,
        super::dispatch::assessment,
        super::public::units,
        super::public::managers,
        super::public::apply,
        super::public::track,
        super::public::confirm_plan,
        super::public::ask,
        super::public::rating,
    ),
    modifiers(&Bearer),
    tags(
        (name = "office", description = "营业厅审核 / office review"),
        (name = "dispatch", description = "调度台与考核 / dispatch board and assessment"),
        (name = "customer", description = "网上办电（无需登录，按地址限流）/ the customer's channel: no login, limited per address")
    )
)]
pub struct ApiDoc;

/// The served document: the generated one with the schemas the OpenAPI model cannot express
/// put in as JSON.
pub fn document() -> serde_json::Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("the document serialises");
    let schemas = &mut doc["components"]["schemas"];
    schemas["ReviewInput"] = crate::service::review::ReviewInput::json_schema();
    schemas["DateOrEmpty"] = super::office::DateOrEmpty::json_schema();
    doc
}

/// `GET /api/v1/openapi.json`.
pub async fn openapi(State(_): State<Arc<Env>>) -> Json<serde_json::Value> {
    Json(document())
}
