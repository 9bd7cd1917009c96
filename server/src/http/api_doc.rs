//! The OpenAPI description of the operations that are not the office's JSON: health and
//! metrics, login, sync (its binary body), a job's automerge document, the reference feed,
//! contracts' verification and PDFs, photo files (blobs), tus uploads, and the browser's
//! downloads (PDFs, spreadsheets, the customer file). Their handlers take raw bodies or headers,
//! so each is described here by a function that only carries the description. The JSON bodies
//! that field-core defines (it has no OpenAPI dependency) are mirrored here; a test checks each
//! mirror reads what field-core writes.

use super::office::ListParams;
use super::openapi::ApiErrorBody;
use serde::Deserialize;
use utoipa::ToSchema;

/// Any bytes (a file, a CBOR body, an automerge document).
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
pub struct Binary(Vec<u8>);

/// `POST /api/v1/auth/login` (mirrors `field_core::sync::protocol::LoginRequest`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct LoginRequest {
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub username: String,
    #[schema(max_length = 128)]
    pub password: String,
    /// A stable id of the device (a UUID), registered on first login.
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub device_id: String,
    /// The device's ed25519 public key (64 hex digits) for contract signatures; a device id
    /// cannot change its key later.
    #[serde(default)]
    #[schema(pattern = "^[0-9a-fA-F]{64}$")]
    pub device_key: Option<String>,
    /// The automerge actor (1–32 bytes as hex) this device writes as.
    #[serde(default)]
    #[schema(pattern = "^([0-9a-fA-F]{2}){1,32}$")]
    pub device_actor: Option<String>,
}

/// A user as the API shows it (mirrors `field_core::sync::protocol::UserInfo`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct UserInfo {
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub unit: String,
}

/// A login's answer (mirrors `field_core::sync::protocol::LoginResponse`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct LoginResponse {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    /// RFC 3339.
    pub expires_at: String,
    pub user: UserInfo,
    /// The server's ed25519 public key (hex) that countersigns contracts.
    #[serde(default)]
    pub server_key: Option<String>,
    /// Keys rotated out, still trusted for the receipts they signed.
    #[serde(default)]
    pub retired_server_keys: Vec<String>,
}

/// One piece of reference data (mirrors `field_core::sync::protocol::ReferenceItem`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ReferenceItem {
    pub seq: i64,
    /// `rule_set`, `write_policy`, `calendar`, `grid_cells`, `fee_schedule`,
    /// `typical_designs`, `contractor_firms` (others: from a newer server; skip them).
    pub kind: String,
    /// The document as installed (JSON text).
    pub body: String,
}

/// A page of the reference feed (mirrors `field_core::sync::protocol::ReferencePage`): store
/// `next` and ask again until `items` is empty.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ReferencePage {
    pub items: Vec<ReferenceItem>,
    pub next: i64,
}

/// A month of a unit's assessment as query parameters.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct MonthParams {
    /// `YYYY-MM` (empty: the latest month with figures)
    #[param(pattern = r"^([0-9]{4}-(0[1-9]|1[0-2]))?$")]
    month: Option<String>,
    /// admins: a unit (empty: every unit); ignored for others
    #[param(max_length = 64)]
    unit: Option<String>,
}

/// `GET /api/v1/openapi.json`: this document.
#[utoipa::path(
    get, path = "/api/v1/openapi.json", tag = "operations",
    responses((status = 200, description = "the OpenAPI 3.1 document", body = Object)),
    security(())
)]
#[allow(dead_code)]
pub(crate) fn openapi_doc() {}

/// `GET /healthz`: the process answers.
#[utoipa::path(
    get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "`ok`", content_type = "text/plain", body = String)),
    security(())
)]
#[allow(dead_code)]
pub(crate) fn healthz_doc() {}

/// `GET /readyz`: the database and the blob store answer.
#[utoipa::path(
    get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "`ready`", content_type = "text/plain", body = String),
        (status = 503, description = "what is not ready", content_type = "text/plain", body = String),
    ),
    security(())
)]
#[allow(dead_code)]
pub(crate) fn readyz_doc() {}

/// `GET /metrics`: Prometheus' text format (for the operator's scraper; keep it off the
/// public network, see docs/deployment.md).
#[utoipa::path(
    get, path = "/metrics", tag = "operations",
    responses((status = 200, content_type = "text/plain; version=0.0.4; charset=utf-8", body = String)),
    security(())
)]
#[allow(dead_code)]
pub(crate) fn metrics_doc() {}

/// `POST /api/v1/auth/login`: a token for a user on a device (docs/sync-protocol.md). Limited
/// per account and address; a wrong password and an unknown user get the same answer.
#[utoipa::path(
    post, path = "/api/v1/auth/login", tag = "phone",
    request_body(content = LoginRequest, content_type = "application/json"),
    responses(
        (status = 200, body = LoginResponse),
        (status = 400, body = ApiErrorBody),
        (status = 401, body = ApiErrorBody),
        (status = 403, body = ApiErrorBody, description = "a revoked device, or its key or actor taken"),
        (status = 409, body = ApiErrorBody, description = "the device id is registered with another key or actor"),
        (status = 413, description = "body over 4 KiB", content_type = "text/plain", body = String),
        (status = 429, body = ApiErrorBody),
    ),
    security(())
)]
#[allow(dead_code)]
pub(crate) fn login_doc() {}

/// `POST /api/v1/sync`: one sync exchange. Both bodies are CBOR compressed with zstd
/// (docs/sync-protocol.md); the request names its protocol version in `X-Fieldline-Protocol`.
#[utoipa::path(
    post, path = "/api/v1/sync", tag = "phone",
    params(("X-Fieldline-Protocol" = Option<u32>, Header, description = "the client's protocol version")),
    request_body(content = Binary, content_type = "application/vnd.fieldline.sync+cbor+zstd", description = "a `SyncRequest` as CBOR, compressed with zstd (docs/sync-protocol.md)"),
    responses(
        (status = 200, content_type = "application/vnd.fieldline.sync+cbor+zstd", body = Binary),
        (status = 400, body = ApiErrorBody),
        (status = 401, body = ApiErrorBody),
        (status = 413, body = ApiErrorBody),
        (status = 426, body = ApiErrorBody, description = "the client's protocol is too old"),
        (status = 503, body = ApiErrorBody, description = "the node is busy: retry"),
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
pub(crate) fn sync_doc() {}

/// `GET /api/v1/jobs/{id}/automerge`: the job's whole automerge document (audited).
#[utoipa::path(
    get, path = "/api/v1/jobs/{id}/automerge", tag = "phone",
    params(("id" = String, Path, description = "job id")),
    responses(
        (status = 200, content_type = "application/octet-stream", body = Binary),
        (status = 401, body = ApiErrorBody),
        (status = 404, body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
pub(crate) fn automerge_doc() {}

/// `GET /api/v1/reference?after=`: reference data installed after the cursor, for the caller's
/// unit and every unit.
#[utoipa::path(
    get, path = "/api/v1/reference", tag = "phone",
    params(("after" = Option<i64>, Query, description = "the `next` of the previous page (0 at first)")),
    responses(
        (status = 200, body = ReferencePage),
        (status = 400, body = ApiErrorBody),
        (status = 401, body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
pub(crate) fn reference_doc() {}

/// `GET /api/v1/jobs/{id}/contracts/{cid}/verification`: which part of a signed contract, if
/// any, was altered, and whether the server countersigned it (docs/contracts.md).
#[utoipa::path(
    get, path = "/api/v1/jobs/{id}/contracts/{cid}/verification", tag = "office",
    params(("id" = String, Path, description = "job id"), ("cid" = String, Path, description = "contract id")),
    responses(
        (status = 200, body = Object),
        (status = 401, body = ApiErrorBody),
        (status = 404, body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
pub(crate) fn contract_verification_doc() {}

/// `GET /api/v1/jobs/{id}/contracts/{cid}/pdf`: the signed contract as a PDF (audited).
#[utoipa::path(
    get, path = "/api/v1/jobs/{id}/contracts/{cid}/pdf", tag = "office",
    params(("id" = String, Path, description = "job id"), ("cid" = String, Path, description = "contract id")),
    responses(
        (status = 200, content_type = "application/pdf", body = Binary),
        (status = 401, body = ApiErrorBody),
        (status = 404, body = ApiErrorBody),
        (status = 501, body = ApiErrorBody, description = "built without PDFs"),
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
pub(crate) fn contract_pdf_doc() {}

/// `GET /api/v1/blobs/{sha256}`: a photo file the caller may see (a job they may read names
/// it), as the image type its record declares, else as a download; `Range` and
/// `If-None-Match` honoured.
#[utoipa::path(
    get, path = "/api/v1/blobs/{sha256}", tag = "phone",
    params(
        ("sha256" = String, Path, description = "64 lower-case hex digits"),
        ("Range" = Option<String>, Header, description = "one byte range"),
        ("If-None-Match" = Option<String>, Header, description = "the blob's ETag"),
    ),
    responses(
        (status = 200, description = "the file", content(
            (Binary = "image/jpeg"), (Binary = "image/png"), (Binary = "image/webp"),
            (Binary = "image/gif"), (Binary = "image/bmp"), (Binary = "image/tiff"),
            (Binary = "application/octet-stream"),
        )),
        (status = 206, description = "the range asked for", content(
            (Binary = "image/jpeg"), (Binary = "image/png"), (Binary = "image/webp"),
            (Binary = "image/gif"), (Binary = "image/bmp"), (Binary = "image/tiff"),
            (Binary = "application/octet-stream"),
        )),
        (status = 304, description = "unchanged"),
        (status = 400, body = ApiErrorBody),
        (status = 401, body = ApiErrorBody),
        (status = 404, body = ApiErrorBody),
        (status = 416, description = "the range is outside the file"),
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
pub(crate) fn blob_doc() {}

/// `OPTIONS /api/v1/uploads`: the tus server's capabilities.
#[utoipa::path(
    options, path = "/api/v1/uploads", tag = "uploads",
    responses((status = 204, description = "`Tus-Version`, `Tus-Extension`, `Tus-Max-Size`, `Tus-Checksum-Algorithm`")),
    security(())
)]
#[allow(dead_code)]
pub(crate) fn tus_options_doc() {}

/// `POST /api/v1/uploads`: creates a tus upload of a photo file a job of the caller names
/// (`Upload-Metadata`: `job_id`, `sha256`, base64 as tus has it).
#[utoipa::path(
    post, path = "/api/v1/uploads", tag = "uploads",
    params(
        ("Tus-Resumable" = String, Header, description = "`1.0.0`"),
        ("Upload-Length" = u64, Header, description = "the file's size in bytes"),
        ("Upload-Metadata" = Option<String>, Header, description = "`job_id <b64>,sha256 <b64>`"),
    ),
    responses(
        (status = 201, description = "`Location` of the upload and its `Upload-Offset` (the whole length when the file is already stored)"),
        (status = 400, body = ApiErrorBody),
        (status = 401, body = ApiErrorBody),
        (status = 403, body = ApiErrorBody),
        (status = 404, body = ApiErrorBody),
        (status = 409, body = ApiErrorBody),
        (status = 412, body = ApiErrorBody, description = "not `Tus-Resumable: 1.0.0`"),
        (status = 413, body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
pub(crate) fn tus_create_doc() {}

/// `HEAD /api/v1/uploads/{id}`: how much of the upload the server has.
#[utoipa::path(
    head, path = "/api/v1/uploads/{id}", tag = "uploads",
    params(
        ("id" = String, Path, description = "upload id"),
        ("Tus-Resumable" = String, Header, description = "`1.0.0`"),
    ),
    responses(
        (status = 200, description = "`Upload-Offset` and `Upload-Length`"),
        (status = 400, description = "a bad request"),
        (status = 401, description = "no valid token"),
        (status = 404, description = "no such upload of the caller"),
        (status = 412, description = "not `Tus-Resumable: 1.0.0`"),
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
pub(crate) fn tus_head_doc() {}

/// `PATCH /api/v1/uploads/{id}`: the next bytes at the server's offset, optionally with their
/// SHA-256 (`Upload-Checksum: sha256 <b64>`); the last part verifies the whole file.
#[utoipa::path(
    patch, path = "/api/v1/uploads/{id}", tag = "uploads",
    params(
        ("id" = String, Path, description = "upload id"),
        ("Tus-Resumable" = String, Header, description = "`1.0.0`"),
        ("Upload-Offset" = u64, Header, description = "the offset the server holds"),
        ("Upload-Checksum" = Option<String>, Header, description = "`sha256 <base64 digest>` of this part"),
    ),
    request_body(content = Binary, content_type = "application/offset+octet-stream"),
    responses(
        (status = 204, description = "stored: the new `Upload-Offset`"),
        (status = 400, body = ApiErrorBody),
        (status = 401, body = ApiErrorBody),
        (status = 404, body = ApiErrorBody),
        (status = 409, body = ApiErrorBody, description = "not at the server's offset, or another request holds the upload"),
        (status = 412, body = ApiErrorBody),
        (status = 413, body = ApiErrorBody),
        (status = 415, body = ApiErrorBody, description = "not `application/offset+octet-stream`"),
        (status = 460, body = ApiErrorBody, description = "the part's checksum does not match"),
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
pub(crate) fn tus_patch_doc() {}

/// `DELETE /api/v1/uploads/{id}`: ends an upload and drops what it received.
#[utoipa::path(
    delete, path = "/api/v1/uploads/{id}", tag = "uploads",
    params(
        ("id" = String, Path, description = "upload id"),
        ("Tus-Resumable" = String, Header, description = "`1.0.0`"),
    ),
    responses(
        (status = 204, description = "ended"),
        (status = 401, body = ApiErrorBody),
        (status = 404, body = ApiErrorBody),
        (status = 409, body = ApiErrorBody),
        (status = 412, body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
pub(crate) fn tus_delete_doc() {}

/// `GET /jobs/{id}/receipt.pdf`: the written receipt (书面回执) with the progress QR code.
#[utoipa::path(
    get, path = "/jobs/{id}/receipt.pdf", tag = "downloads",
    params(("id" = String, Path, description = "job id")),
    responses(
        (status = 200, content_type = "application/pdf", body = Binary),
        (status = 303, description = "no session: to the login page"),
        (status = 404, description = "not found (a page)", content_type = "text/html", body = String),
        (status = 501, description = "built without PDFs (a page)", content_type = "text/html", body = String),
    ),
    security(("session" = []))
)]
#[allow(dead_code)]
pub(crate) fn receipt_pdf_doc() {}

/// `GET /jobs/{id}/notice.pdf?inspection=`: the one-time written notice of an inspection with
/// findings; printing it records the notice as given.
#[utoipa::path(
    get, path = "/jobs/{id}/notice.pdf", tag = "downloads",
    params(
        ("id" = String, Path, description = "job id"),
        ("inspection" = Option<String>, Query, description = "`design_review`, `mid`, `completion` (default)"),
    ),
    responses(
        (status = 200, content_type = "application/pdf", body = Binary),
        (status = 303, description = "no session: to the login page"),
        (status = 400, description = "a bad query, or no findings to tell", content(
            (String = "text/plain"), (String = "text/html"),
        )),
        (status = 403, description = "not the reader's to give (a page)", content_type = "text/html", body = String),
        (status = 404, description = "no such job or inspection with findings (a page)", content_type = "text/html", body = String),
        (status = 501, description = "built without PDFs (a page)", content_type = "text/html", body = String),
    ),
    security(("session" = []))
)]
#[allow(dead_code)]
pub(crate) fn notice_pdf_doc() {}

/// `GET /jobs/{id}/archive.zip`: the customer file (一户一档): the job, its history, contracts
/// and every photo, capped by `archive_max_mib`.
#[utoipa::path(
    get, path = "/jobs/{id}/archive.zip", tag = "downloads",
    params(("id" = String, Path, description = "job id")),
    responses(
        (status = 200, content_type = "application/zip", body = Binary),
        (status = 303, description = "no session: to the login page"),
        (status = 404, description = "not found (a page)", content_type = "text/html", body = String),
        (status = 413, description = "over the cap (a page)", content_type = "text/html", body = String),
        (status = 503, description = "too many files building (a page)", content_type = "text/html", body = String),
    ),
    security(("session" = []))
)]
#[allow(dead_code)]
pub(crate) fn archive_doc() {}

/// `GET /jobs/export.csv` and `.xlsx`: the list as filtered (the list's query parameters).
#[utoipa::path(
    get, path = "/jobs/export.csv", tag = "downloads",
    params(ListParams),
    responses(
        (status = 200, content_type = "text/csv; charset=utf-8", body = String),
        (status = 303, description = "no session: to the login page"),
        (status = 400, description = "a bad filter", content((String = "text/plain"), (String = "text/html"))),
    ),
    security(("session" = []))
)]
#[allow(dead_code)]
pub(crate) fn export_csv_doc() {}

#[utoipa::path(
    get, path = "/jobs/export.xlsx", tag = "downloads",
    params(ListParams),
    responses(
        (status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = Binary),
        (status = 303, description = "no session: to the login page"),
        (status = 400, description = "a bad filter", content((String = "text/plain"), (String = "text/html"))),
    ),
    security(("session" = []))
)]
#[allow(dead_code)]
pub(crate) fn export_xlsx_doc() {}

/// `GET /assessment.csv` and `.xlsx`: a unit's month (考核).
#[utoipa::path(
    get, path = "/assessment.csv", tag = "downloads",
    params(MonthParams),
    responses(
        (status = 200, content_type = "text/csv; charset=utf-8", body = String),
        (status = 303, description = "no session: to the login page"),
        (status = 400, description = "a bad month", content((String = "text/plain"), (String = "text/html"))),
        (status = 403, description = "not the reader's (a page)", content_type = "text/html", body = String),
    ),
    security(("session" = []))
)]
#[allow(dead_code)]
pub(crate) fn assessment_csv_doc() {}

#[utoipa::path(
    get, path = "/assessment.xlsx", tag = "downloads",
    params(MonthParams),
    responses(
        (status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = Binary),
        (status = 303, description = "no session: to the login page"),
        (status = 400, description = "a bad month", content((String = "text/plain"), (String = "text/html"))),
        (status = 403, description = "not the reader's (a page)", content_type = "text/html", body = String),
    ),
    security(("session" = []))
)]
#[allow(dead_code)]
pub(crate) fn assessment_xlsx_doc() {}

/// `GET /p/{token}/receipt.pdf`: the customer's receipt through their tracking link (no login,
/// limited per address).
#[utoipa::path(
    get, path = "/p/{token}/receipt.pdf", tag = "customer",
    params(("token" = String, Path, max_length = 200, description = "the tracking token")),
    responses(
        (status = 200, content_type = "application/pdf", body = Binary),
        (status = 404, description = "no such link (a page)", content_type = "text/html", body = String),
        (status = 429, description = "too many requests (a page)", content_type = "text/html", body = String),
        (status = 501, description = "built without PDFs (a page)", content_type = "text/html", body = String),
    ),
    security(())
)]
#[allow(dead_code)]
pub(crate) fn public_receipt_pdf_doc() {}

/// `GET /public/{unit}/guide/{kind}/pdf`: the customer's guide (报装指南) of a unit and kind.
#[utoipa::path(
    get, path = "/public/{unit}/guide/{kind}/pdf", tag = "customer",
    params(
        ("unit" = String, Path, max_length = 64, description = "unit code"),
        ("kind" = String, Path, description = "job kind code"),
    ),
    responses(
        (status = 200, content_type = "application/pdf", body = Binary),
        (status = 404, description = "no such unit or kind (a page)", content_type = "text/html", body = String),
        (status = 429, description = "too many requests (a page)", content_type = "text/html", body = String),
        (status = 501, description = "built without PDFs (a page)", content_type = "text/html", body = String),
    ),
    security(())
)]
#[allow(dead_code)]
pub(crate) fn guide_pdf_doc() {}

#[cfg(test)]
mod tests {
    use super::*;
    use field_core::sync::protocol as p;

    #[test]
    fn the_mirrors_read_what_field_core_writes() {
        let user = p::UserInfo {
            username: "cm".into(),
            display_name: "李强".into(),
            role: "customer_manager".into(),
            unit: "zx".into(),
        };
        let login = p::LoginResponse {
            token: "t".into(),
            expires_at: "2026-12-07T00:00:00Z".into(),
            user,
            server_key: Some("ab".into()),
            retired_server_keys: vec!["cd".into()],
        };
        let _: LoginResponse =
            serde_json::from_value(serde_json::to_value(&login).unwrap()).unwrap();
        let req = p::LoginRequest {
            username: "cm".into(),
            password: "pw".into(),
            device_id: "d".into(),
            device_key: Some("k".into()),
            device_actor: Some("a".into()),
        };
        let _: LoginRequest = serde_json::from_value(serde_json::to_value(&req).unwrap()).unwrap();
        let page = p::ReferencePage {
            items: vec![p::ReferenceItem {
                seq: 1,
                kind: "rule_set".into(),
                body: "{}".into(),
            }],
            next: 1,
        };
        let _: ReferencePage =
            serde_json::from_value(serde_json::to_value(&page).unwrap()).unwrap();
    }
}
