//! The dispatch board and the assessment as JSON, for other programs and scripts: the same
//! services, filters and rights as the `/board` and `/assessment` pages (dispatchers, office staff
//! and admins; others get 403). Described in [`super::openapi`].

use super::caller::Caller;
use super::office::ApiQuery;
use crate::error::ServerError;
use crate::service::Env;
use crate::service::assessment::{self, Assessment, AssessmentFilter};
use crate::service::board::{self, Board, BoardFilter};
use axum::Json;
use axum::extract::State;
use std::sync::Arc;

/// `GET /api/v1/board`.
#[utoipa::path(
    get, path = "/api/v1/board", tag = "dispatch",
    params(
        ("stage" = Option<String>, Query,
            pattern = r"^(handover|whole_job|supply_plan_reply|access_approval|design_review|mid_inspection|completion_inspection|power_on|supporting_works)?$",
            description = "a stage code (empty: any)"),
        ("warning" = Option<String>, Query,
            pattern = r"^(overdue|due_soon|used_(100|[1-9][0-9]?))?$",
            description = "`overdue`, `due_soon` or `used_<percent>` (empty: any)"),
        ("manager" = Option<String>, Query, max_length = 64, description = "a customer or project manager (user name)"),
        ("key" = Option<String>, Query, description = "`1`: key projects only"),
    ),
    responses(
        (status = 200, body = Board),
        (status = 400, body = crate::http::openapi::ApiErrorBody),
        (status = 401, body = crate::http::openapi::ApiErrorBody),
        (status = 403, body = crate::http::openapi::ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn board(
    State(env): State<Arc<Env>>,
    Caller(who): Caller,
    ApiQuery(filter): ApiQuery<BoardFilter>,
) -> Result<Json<Board>, ServerError> {
    Ok(Json(
        env.blocking(move |env| board::board(env, &who, &filter))
            .await?,
    ))
}

/// `GET /api/v1/assessment`.
#[utoipa::path(
    get, path = "/api/v1/assessment", tag = "dispatch",
    params(super::api_doc::MonthParams),
    responses(
        (status = 200, body = Assessment),
        (status = 400, body = crate::http::openapi::ApiErrorBody),
        (status = 401, body = crate::http::openapi::ApiErrorBody),
        (status = 403, body = crate::http::openapi::ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn assessment(
    State(env): State<Arc<Env>>,
    Caller(who): Caller,
    ApiQuery(filter): ApiQuery<AssessmentFilter>,
) -> Result<Json<Assessment>, ServerError> {
    Ok(Json(
        env.blocking(move |env| assessment::assess(env, &who, &filter))
            .await?,
    ))
}
