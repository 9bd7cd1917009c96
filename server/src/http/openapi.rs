//! The OpenAPI 3.1 description of every HTTP operation but the browser's pages, served at
//! `/api/v1/openapi.json`: the office's JSON API and the customer's, and (`api_doc`) login,
//! sync, the reference feed, photo files, tus uploads, PDFs, spreadsheets and archives. The
//! sync protocol's messages are described in `docs/sync-protocol.md`.

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
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(utoipa::openapi::security::ApiKey::Cookie(
                utoipa::openapi::security::ApiKeyValue::with_description(
                    crate::http::caller::SESSION_COOKIE,
                    "The browser's session cookie (log in at `/`).",
                ),
            )),
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
        super::api_doc::openapi_doc,
        super::api_doc::healthz_doc,
        super::api_doc::readyz_doc,
        super::api_doc::metrics_doc,
        super::api_doc::login_doc,
        super::api_doc::sync_doc,
        super::api_doc::automerge_doc,
        super::api_doc::reference_doc,
        super::api_doc::contract_verification_doc,
        super::api_doc::contract_pdf_doc,
        super::api_doc::blob_doc,
        super::api_doc::tus_options_doc,
        super::api_doc::tus_create_doc,
        super::api_doc::tus_head_doc,
        super::api_doc::tus_patch_doc,
        super::api_doc::tus_delete_doc,
        super::api_doc::receipt_pdf_doc,
        super::api_doc::notice_pdf_doc,
        super::api_doc::archive_doc,
        super::api_doc::export_csv_doc,
        super::api_doc::export_xlsx_doc,
        super::api_doc::assessment_csv_doc,
        super::api_doc::assessment_xlsx_doc,
        super::api_doc::public_receipt_pdf_doc,
        super::api_doc::guide_pdf_doc,
    ),
    modifiers(&Bearer),
    tags(
        (name = "office", description = "营业厅审核 / office review"),
        (name = "dispatch", description = "调度台与考核 / dispatch board and assessment"),
        (name = "customer", description = "网上办电（无需登录，按地址限流）/ the customer's channel: no login, limited per address"),
        (name = "phone", description = "手机端：登录、同步（CBOR+zstd）、参考数据、照片文件 / the phones: login, sync (CBOR + zstd), reference data, photo files"),
        (name = "uploads", description = "照片断点续传（tus 1.0）/ resumable photo uploads (tus 1.0)"),
        (name = "downloads", description = "浏览器下载：PDF、表格、一户一档 / the browser's downloads: PDFs, spreadsheets, the customer file (session cookie)"),
        (name = "operations", description = "运维：存活、就绪、指标 / liveness, readiness, metrics")
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
