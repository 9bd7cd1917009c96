//! The customer's channel as JSON, without a login (an app or a government portal may call it):
//! the units and their customer managers, filing an application with its ID photo, following it
//! by its tracking token, confirming the supply plan or asking about it, and rating the service.
//! The same services as the pages (`web::public`, `web::apply`); every call counts against the
//! caller's address like the pages.

use super::openapi::ApiErrorBody;
use crate::error::ServerError;
use crate::service::applications::{self, ApplyInput, Filed};
use crate::service::public::{self, Tracking};
use crate::service::{Env, customer_voice};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::sync::Arc;

/// Largest application body: the photo in base64 and a little text.
pub const APPLY_BODY_MAX: usize = applications::PHOTO_MAX_BYTES / 3 * 4 + 64 * 1024;
/// Largest body of the other calls.
pub const SMALL_BODY_MAX: usize = 8 * 1024;

fn client(env: &Env, peer: SocketAddr, headers: &HeaderMap) -> String {
    crate::service::auth::client_address(peer.ip(), env.auth.client_ip_header.as_deref(), headers)
}

fn limit(env: &Env, peer: SocketAddr, headers: &HeaderMap) -> Result<String, ServerError> {
    let who = client(env, peer, headers);
    env.auth.public_limiter.check(&who)?;
    Ok(who)
}

fn json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ServerError> {
    serde_json::from_slice(body).map_err(|e| {
        ServerError::bad(
            "bad_json",
            format!("请求内容格式错误：{e}"),
            format!("the request is not valid JSON: {e}"),
        )
    })
}

/// A unit as customers know it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PublicUnit {
    /// The code in the unit's links.
    pub unit: String,
    pub name: String,
    pub address: String,
    pub hall_hours: String,
    pub hotline: String,
}

/// `GET /api/v1/public/units`.
#[utoipa::path(
    get, path = "/api/v1/public/units", tag = "customer",
    responses(
        (status = 200, body = Vec<PublicUnit>),
        (status = 429, body = ApiErrorBody),
    ),
    security(())
)]
pub async fn units(
    State(env): State<Arc<Env>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Json<Vec<PublicUnit>>, ServerError> {
    limit(&env, peer, &headers)?;
    let units = env.blocking(public::units).await?;
    Ok(Json(
        units
            .into_iter()
            .map(|u| PublicUnit {
                unit: u.unit,
                name: u.name,
                address: u.address,
                hall_hours: u.hall_hours,
                hotline: u.hotline,
            })
            .collect(),
    ))
}

/// A customer manager to choose: work number (the `manager` of an application), name and
/// record.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ManagerChoice {
    pub work_number: String,
    pub name: String,
    pub handled: i64,
    pub open: i64,
    pub satisfaction: Option<f64>,
    /// How many scores (return visits and customers' ratings) the satisfaction is of.
    pub scores: i64,
}

/// `GET /api/v1/public/units/{unit}/managers`.
#[utoipa::path(
    get, path = "/api/v1/public/units/{unit}/managers", tag = "customer",
    params(("unit" = String, Path, max_length = 64, description = "unit code")),
    responses(
        (status = 200, body = Vec<ManagerChoice>),
        (status = 404, body = ApiErrorBody),
        (status = 429, body = ApiErrorBody),
    ),
    security(())
)]
pub async fn managers(
    State(env): State<Arc<Env>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(unit): Path<String>,
) -> Result<Json<Vec<ManagerChoice>>, ServerError> {
    limit(&env, peer, &headers)?;
    let list = env
        .blocking(move |env| {
            crate::service::units::get(env, &unit)?;
            match public::managers(env, &unit) {
                Err(ServerError::NotFound) => Ok(Vec::new()),
                other => other,
            }
        })
        .await?;
    Ok(Json(
        list.into_iter()
            .map(|m| ManagerChoice {
                work_number: m.work_number,
                name: m.name,
                handled: m.handled,
                open: m.open,
                satisfaction: m.satisfaction,
                scores: m.visits,
            })
            .collect(),
    ))
}

/// An application as JSON: the form's fields and the photo of the ID card or licence.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplyJson {
    /// `lv_residential`, `lv_small_micro`, `lv_other`, `hv` or `residential_community`.
    #[schema(pattern = "^(lv_residential|lv_small_micro|lv_other|hv|residential_community)$")]
    pub kind: String,
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub name: String,
    /// An 18-digit resident ID number or an 18-character unified social credit code (its check
    /// character is verified too).
    #[schema(pattern = r"^[0-9A-Za-z]{18}$")]
    pub id_number: String,
    /// A mobile number, or a landline with its area code.
    #[schema(pattern = r"^\+?[0-9][0-9 -]{8,18}$")]
    pub phone: String,
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub address: String,
    #[serde(default)]
    #[schema(exclusive_minimum = 0, maximum = 10000000)]
    pub capacity_kva: Option<f64>,
    /// `YYYY-MM-DD`, from today to three years on.
    #[serde(default)]
    #[schema(pattern = r"^([0-9]{4}-[0-9]{2}-[0-9]{2})?$")]
    pub wanted_on: Option<String>,
    /// The chosen customer manager's work number.
    #[serde(default)]
    #[schema(max_length = 32)]
    pub manager: Option<String>,
    /// The JPEG or PNG photo, base64 (at most 10 MB decoded).
    #[schema(min_length = 4, pattern = r"^[A-Za-z0-9+/]+={0,2}$")]
    pub id_photo: String,
}

/// `POST /api/v1/public/units/{unit}/applications`: files an application (201), or answers
/// with the open one of the same person, place and phone (200, `duplicate`).
#[utoipa::path(
    post, path = "/api/v1/public/units/{unit}/applications", tag = "customer",
    params(("unit" = String, Path, max_length = 64, description = "unit code")),
    request_body = ApplyJson,
    responses(
        (status = 201, body = Filed),
        (status = 200, body = Filed, description = "the same application, filed before"),
        (status = 400, body = ApiErrorBody),
        (status = 404, body = ApiErrorBody),
        (status = 409, body = ApiErrorBody),
        (status = 413, body = ApiErrorBody),
        (status = 429, body = ApiErrorBody),
    ),
    security(())
)]
pub async fn apply(
    State(env): State<Arc<Env>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(unit): Path<String>,
    body: Bytes,
) -> Result<Response, ServerError> {
    let who = limit(&env, peer, &headers)?;
    let a: ApplyJson = json(&body)?;
    let photo = base64::engine::general_purpose::STANDARD
        .decode(a.id_photo.trim())
        .map_err(|_| {
            ServerError::bad(
                "invalid_photo",
                "证件照片应为 base64 编码",
                "the ID photo must be base64",
            )
        })?;
    let input = ApplyInput {
        kind: a.kind,
        name: a.name,
        id_number: a.id_number,
        phone: a.phone,
        address: a.address,
        capacity_kva: a.capacity_kva,
        wanted_on: a.wanted_on,
        manager: a.manager,
    };
    let filed = applications::file(&env, unit, input, photo, who).await?;
    let status = if filed.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(filed)).into_response())
}

/// One step done.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StepJson {
    /// Milestone event code.
    pub event: String,
    /// China-time day, `YYYY-MM-DD`.
    pub on: String,
}

/// The parts of the supply plan meant for the customer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PlanJson {
    pub replied_on: Option<String>,
    /// Source code (`single`, `dual`…).
    pub source: Option<String>,
    /// Voltage code.
    pub voltage: Option<String>,
    pub capacity_kva: Option<f64>,
    pub metering_point: Option<String>,
    pub property_boundary: Option<String>,
    pub fees_yuan: Option<f64>,
    pub fees_basis: Option<String>,
    pub power_on_agreed_on: Option<String>,
    /// The customer confirmed the plan as last replied.
    pub confirmed: bool,
    pub question: Option<String>,
}

/// What a tracking token opens.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Tracked {
    /// `application` (not accepted yet, or declined) or `job`.
    pub kind: String,
    /// The application's receipt number, or the job number.
    pub number: String,
    /// An application's `pending`, `accepted` or `declined`; a job's stage code.
    pub state: String,
    pub unit_name: Option<String>,
    pub applicant: Option<String>,
    /// The document number, masked.
    pub id_number: Option<String>,
    /// The phone number, masked.
    pub phone: Option<String>,
    /// Why the application was declined.
    pub reason: Option<String>,
    /// The next step's stage code and due day.
    pub next_stage: Option<String>,
    pub next_due: Option<String>,
    /// The customer manager: name and work number.
    pub contact: Option<String>,
    pub steps: Vec<StepJson>,
    pub plan: Option<PlanJson>,
    pub powered_on: bool,
    pub rating: Option<i64>,
    /// The planned power-on day (接电计划), `YYYY-MM-DD`.
    pub planned_power_on: Option<String>,
    /// Its window in China time, `HH:MM-HH:MM`.
    pub power_on_window: Option<String>,
    /// The typical design picked for the job and its typical cost range (yuan).
    pub typical_design: Option<String>,
    pub typical_cost_low_yuan: Option<f64>,
    pub typical_cost_high_yuan: Option<f64>,
}

fn tracked(t: Tracking) -> Tracked {
    match t {
        Tracking::Application(a, unit) => {
            let g = public::Given::masked(&a.detail.name, &a.detail.id_number, &a.detail.phone);
            Tracked {
                kind: "application".into(),
                number: a.number.clone(),
                state: a.state.clone(),
                unit_name: unit.map(|u| u.name),
                applicant: Some(g.name),
                id_number: Some(g.id_number),
                phone: Some(g.phone),
                reason: a.reason.clone(),
                next_stage: None,
                next_due: None,
                contact: a.detail.manager.clone().map(|(_, n, w)| format!("{n} {w}")),
                steps: Vec::new(),
                plan: None,
                powered_on: false,
                rating: None,
                planned_power_on: None,
                power_on_window: None,
                typical_design: None,
                typical_cost_low_yuan: None,
                typical_cost_high_yuan: None,
            }
        }
        Tracking::Job(p) => Tracked {
            kind: "job".into(),
            number: p.job_no.clone(),
            state: p.status.as_str().to_string(),
            unit_name: p.unit_record.as_ref().map(|u| u.name.clone()),
            applicant: p.customer.as_ref().map(|g| g.name.clone()),
            id_number: p.customer.as_ref().map(|g| g.id_number.clone()),
            phone: p.customer.as_ref().map(|g| g.phone.clone()),
            reason: None,
            next_stage: p.next.map(|(s, _)| s.code().to_string()),
            next_due: p.next.map(|(_, d)| d.to_string()),
            contact: p.contact.clone().map(|(n, w)| format!("{n} {w}")),
            steps: p
                .steps
                .iter()
                .map(|(e, d)| StepJson {
                    event: e.as_str().to_string(),
                    on: d.to_string(),
                })
                .collect(),
            plan: p.plan.as_ref().map(|plan| PlanJson {
                replied_on: plan.replied_on.map(|d| d.to_string()),
                source: plan.source.map(|s| s.as_str().to_string()),
                voltage: plan.voltage.map(|v| v.as_str().to_string()),
                capacity_kva: plan.capacity_kva,
                metering_point: plan.metering_point.clone(),
                property_boundary: plan.property_boundary.clone(),
                fees_yuan: plan.fees_yuan,
                fees_basis: plan.fees_basis.clone(),
                power_on_agreed_on: plan.power_on_agreed_on.map(|d| d.to_string()),
                confirmed: p.plan_confirmed,
                question: p.voice.plan_question.clone(),
            }),
            powered_on: p.powered_on,
            rating: p.voice.rating,
            planned_power_on: p.connection.as_ref().map(|c| c.planned_on.to_string()),
            power_on_window: p
                .connection
                .as_ref()
                .and_then(|c| c.window.as_ref())
                .map(|(a, b)| format!("{a}-{b}")),
            typical_design: p.typical_design.as_ref().and_then(|d| d.title.clone()),
            typical_cost_low_yuan: p.typical_design.as_ref().and_then(|d| d.cost_low_yuan),
            typical_cost_high_yuan: p.typical_design.as_ref().and_then(|d| d.cost_high_yuan),
        },
    }
}

/// `GET /api/v1/public/track/{token}`: an application's or its job's progress.
#[utoipa::path(
    get, path = "/api/v1/public/track/{token}", tag = "customer",
    params(("token" = String, Path, max_length = 200, description = "the tracking token (`/p/{token}`)")),
    responses(
        (status = 200, body = Tracked),
        (status = 404, body = ApiErrorBody),
        (status = 429, body = ApiErrorBody),
    ),
    security(())
)]
pub async fn track(
    State(env): State<Arc<Env>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Result<Json<Tracked>, ServerError> {
    limit(&env, peer, &headers)?;
    let t = env.blocking(move |env| public::track(env, &token)).await?;
    Ok(Json(tracked(t)))
}

/// A question about the supply plan.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanQuestion {
    /// 1–1000 characters, not only spaces, no control characters but line breaks and tabs.
    #[schema(
        min_length = 1,
        max_length = 1000,
        pattern = r"^[^\x00-\x08\x0B-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x08\x0B-\x1F\x7F-\x9F]*$"
    )]
    pub question: String,
}

/// `POST /api/v1/public/track/{token}/plan/confirmation`: confirms the supply plan as last
/// replied.
#[utoipa::path(
    post, path = "/api/v1/public/track/{token}/plan/confirmation", tag = "customer",
    params(("token" = String, Path, max_length = 200, description = "the tracking token")),
    responses(
        (status = 204, description = "recorded in the job"),
        (status = 404, body = ApiErrorBody),
        (status = 409, body = ApiErrorBody, description = "no plan replied yet, or confirmed already"),
        (status = 429, body = ApiErrorBody),
    ),
    security(())
)]
pub async fn confirm_plan(
    State(env): State<Arc<Env>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Result<StatusCode, ServerError> {
    limit(&env, peer, &headers)?;
    env.blocking(move |env| customer_voice::confirm_plan(env, &token))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/public/track/{token}/plan/question`: asks about the supply plan.
#[utoipa::path(
    post, path = "/api/v1/public/track/{token}/plan/question", tag = "customer",
    params(("token" = String, Path, max_length = 200, description = "the tracking token")),
    request_body = PlanQuestion,
    responses(
        (status = 204, description = "recorded in the job"),
        (status = 400, body = ApiErrorBody),
        (status = 404, body = ApiErrorBody),
        (status = 409, body = ApiErrorBody, description = "no plan replied yet"),
        (status = 413, body = ApiErrorBody),
        (status = 429, body = ApiErrorBody),
    ),
    security(())
)]
pub async fn ask(
    State(env): State<Arc<Env>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(token): Path<String>,
    body: Bytes,
) -> Result<StatusCode, ServerError> {
    limit(&env, peer, &headers)?;
    let q: PlanQuestion = json(&body)?;
    env.blocking(move |env| customer_voice::ask(env, &token, &q.question))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The customer's rating.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RatingInput {
    /// 1–5 (`2` and `2.0` alike: JSON numbers).
    #[schema(value_type = i64, minimum = 1, maximum = 5)]
    pub score: f64,
    /// At most 1000 characters, no control characters but line breaks and tabs.
    #[serde(default)]
    #[schema(max_length = 1000, pattern = r"^[^\x00-\x08\x0B-\x1F\x7F-\x9F]*$")]
    pub comment: String,
}

/// `POST /api/v1/public/track/{token}/rating`: rates the service once, after power-on.
#[utoipa::path(
    post, path = "/api/v1/public/track/{token}/rating", tag = "customer",
    params(("token" = String, Path, max_length = 200, description = "the tracking token")),
    request_body = RatingInput,
    responses(
        (status = 204, description = "recorded in the job"),
        (status = 400, body = ApiErrorBody),
        (status = 404, body = ApiErrorBody),
        (status = 409, body = ApiErrorBody, description = "not powered on yet, or rated already"),
        (status = 413, body = ApiErrorBody),
        (status = 429, body = ApiErrorBody),
    ),
    security(())
)]
pub async fn rating(
    State(env): State<Arc<Env>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(token): Path<String>,
    body: Bytes,
) -> Result<StatusCode, ServerError> {
    limit(&env, peer, &headers)?;
    let r: RatingInput = json(&body)?;
    // Not a whole number: out of 1–5 for the service's check.
    let score = if r.score.fract() == 0.0 && r.score.abs() < 1e6 {
        r.score as i64
    } else {
        0
    };
    env.blocking(move |env| customer_voice::rate(env, &token, score, &r.comment))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
