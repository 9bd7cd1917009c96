//! The office's JSON API: the job list (same filters as the page), a job's full view, what
//! changed since its last review, and the review itself. A phone's bearer token or a browser's
//! session (with `X-CSRF-Token` for the review) both work. Described in [`super::openapi`].

use super::caller::Caller;
use crate::error::ServerError;
use crate::service::listing::{self, ListFilter, Listing};
use crate::service::review::{self, ReviewInput};
use crate::service::view::{self, JobView};
use crate::service::{Env, audit};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Largest review body.
pub const REVIEW_BODY_MAX: usize = 64 * 1024;

/// Query parameters whose errors answer like every other API error (400, JSON).
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ServerError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ServerError> {
        let q = parts.uri.query().unwrap_or("");
        serde_urlencoded::from_str(q).map(ApiQuery).map_err(|e| {
            ServerError::bad(
                "bad_query",
                format!("查询参数无效：{e}"),
                format!("invalid query parameters: {e}"),
            )
        })
    }
}

/// A date (`YYYY-MM-DD`) or nothing, as an HTML form sends an empty date field.
pub struct DateOrEmpty;

impl DateOrEmpty {
    pub fn json_schema() -> serde_json::Value {
        serde_json::json!({ "oneOf": [
            { "type": "string", "format": "date" },
            { "type": "string", "maxLength": 0 },
        ]})
    }
}

impl utoipa::PartialSchema for DateOrEmpty {
    /// A placeholder: the served document carries [`DateOrEmpty::json_schema`].
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::Object::new().into()
    }
}

impl utoipa::ToSchema for DateOrEmpty {}

/// The list's filters as query parameters (the list, its CSV and XLSX exports).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ListParams {
    /// job kind code
    kind: Option<String>,
    /// stage (status) code
    status: Option<String>,
    /// `none`, `pending`, `approved`, `returned`
    review: Option<String>,
    /// time-limit state: `overdue`, `due_soon`, `on_track`, `missed`, `met`
    sla: Option<String>,
    /// customer manager (user name)
    cm: Option<String>,
    /// project manager (user name)
    pm: Option<String>,
    /// accepted on or after (YYYY-MM-DD; empty: any)
    #[param(value_type = Option<DateOrEmpty>)]
    from: Option<String>,
    /// accepted on or before (YYYY-MM-DD; empty: any)
    #[param(value_type = Option<DateOrEmpty>)]
    to: Option<String>,
    /// text in customer, address or job number
    #[param(max_length = 100)]
    q: Option<String>,
    /// `updated` (default), `due`, `accepted`, `job_no`
    sort: Option<String>,
    /// `1`: key projects only
    key: Option<String>,
    /// return visit: `due`, `follow_up`, `done` (empty: any)
    #[param(pattern = r"^(due|follow_up|done)?$")]
    visit: Option<String>,
}

/// `GET /api/v1/jobs`: one page of the caller's jobs with the totals of the filter.
#[utoipa::path(
    get, path = "/api/v1/jobs", tag = "office",
    params(
        ListParams,
        ("after" = Option<String>, Query, pattern = r"^([\s\S]*~[^~]+)?$", description = "the `next` of the previous page"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 500, description = "page size (default 50)"),
    ),
    responses(
        (status = 200, body = Listing),
        (status = 400, body = crate::http::openapi::ApiErrorBody),
        (status = 401, body = crate::http::openapi::ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(env): State<Arc<Env>>,
    Caller(who): Caller,
    ApiQuery(filter): ApiQuery<ListFilter>,
) -> Result<Json<Listing>, ServerError> {
    let l = env
        .blocking(move |env| listing::list(env, &who, &filter))
        .await?;
    Ok(Json(l))
}

/// `GET /api/v1/jobs/{id}`: everything the job page shows.
#[utoipa::path(
    get, path = "/api/v1/jobs/{id}", tag = "office",
    params(("id" = String, Path, description = "job id")),
    responses(
        (status = 200, body = JobView),
        (status = 401, body = crate::http::openapi::ApiErrorBody),
        (status = 404, body = crate::http::openapi::ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn job(
    State(env): State<Arc<Env>>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<Json<JobView>, ServerError> {
    let v = env
        .blocking(move |env| view::job_view(env, &who, &id))
        .await?;
    Ok(Json(v))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct HistoryQuery {
    /// Entries after this id (the previous page's `next_after`).
    pub after: Option<i64>,
    pub limit: Option<u32>,
}

/// `GET /api/v1/jobs/{id}/history`: who changed what, when, from which device.
#[utoipa::path(
    get, path = "/api/v1/jobs/{id}/history", tag = "office",
    params(
        ("id" = String, Path, description = "job id"),
        ("after" = Option<i64>, Query, description = "the `next_after` of the previous page"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 500, description = "page size (default 100)"),
    ),
    responses(
        (status = 200, body = audit::History),
        (status = 400, body = crate::http::openapi::ApiErrorBody),
        (status = 401, body = crate::http::openapi::ApiErrorBody),
        (status = 404, body = crate::http::openapi::ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn history(
    State(env): State<Arc<Env>>,
    Caller(who): Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> Result<Json<audit::History>, ServerError> {
    let h = env
        .blocking(move |env| audit::history(env, &who, &id, q.after, q.limit.unwrap_or(100)))
        .await?;
    Ok(Json(h))
}

/// The last review of a job.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LastReview {
    /// Milliseconds since the epoch.
    pub at: i64,
    pub reviewer: String,
    /// `approved` or `returned`.
    pub outcome: String,
    pub comment: String,
}

/// One field that changed since the last review.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChangedField {
    /// Dotted path, e.g. `survey.load_nature`.
    pub path: String,
    /// `set`, `removed` or `text`.
    pub kind: String,
    /// The value now.
    #[schema(value_type = serde_json::Value)]
    pub value: serde_json::Value,
}

/// What changed since the last review (`last_review` null: never reviewed).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SinceReview {
    pub last_review: Option<LastReview>,
    pub changes: Vec<ChangedField>,
}

/// `GET /api/v1/jobs/{id}/changes-since-review`.
#[utoipa::path(
    get, path = "/api/v1/jobs/{id}/changes-since-review", tag = "office",
    params(("id" = String, Path, description = "job id")),
    responses(
        (status = 200, body = SinceReview),
        (status = 401, body = crate::http::openapi::ApiErrorBody),
        (status = 404, body = crate::http::openapi::ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn since_review(
    State(env): State<Arc<Env>>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<Json<SinceReview>, ServerError> {
    let s = env
        .blocking(move |env| review::since_last_review(env, &who, &id))
        .await?;
    Ok(Json(match s {
        None => SinceReview {
            last_review: None,
            changes: Vec::new(),
        },
        Some((r, changes)) => SinceReview {
            last_review: Some(LastReview {
                at: r.at,
                reviewer: r.reviewer,
                outcome: r.outcome,
                comment: r.comment,
            }),
            changes: changes
                .into_iter()
                .map(|c| ChangedField {
                    path: c.path,
                    kind: serde_json::to_value(c.kind)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default(),
                    value: c.value,
                })
                .collect(),
        },
    }))
}

/// The recorded review.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Reviewed {
    pub review_id: i64,
}

/// `POST /api/v1/jobs/{id}/review`: approve, or return with findings (written into the job's
/// `review` section on the reviewer's behalf; managers' phones get it by sync).
#[utoipa::path(
    post, path = "/api/v1/jobs/{id}/review", tag = "office",
    params(("id" = String, Path, description = "job id")),
    request_body = ReviewInput,
    responses(
        (status = 200, body = Reviewed),
        (status = 400, body = crate::http::openapi::ApiErrorBody),
        (status = 401, body = crate::http::openapi::ApiErrorBody),
        (status = 403, body = crate::http::openapi::ApiErrorBody),
        (status = 404, body = crate::http::openapi::ApiErrorBody),
        (status = 413, body = crate::http::openapi::ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn review(
    State(env): State<Arc<Env>>,
    Caller(who): Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Reviewed>, ServerError> {
    let input: ReviewInput = serde_json::from_slice(&body).map_err(|e| {
        ServerError::bad(
            "bad_json",
            format!("审核内容格式错误：{e}"),
            format!("the review is not valid JSON: {e}"),
        )
    })?;
    let review_id = env
        .blocking(move |env| review::review(env, &who, &id, &input))
        .await?;
    Ok(Json(Reviewed { review_id }))
}
