//! The HTTP edge: the router, the [`caller::Caller`] extractor, one handler file per resource,
//! and the mapping of errors to status codes ([`error`]). Handlers are thin: extract, call a
//! service, encode.

mod api_doc;
pub mod auth;
pub mod caller;
pub mod dispatch;
pub mod error;
pub mod hardening;
pub mod health;
pub mod jobs;
pub mod office;
pub mod openapi;
pub mod public;
pub mod reference;
pub mod sync;
pub mod uploads;

use crate::service::Env;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, head, post};
use field_core::sync::protocol::MAX_REQUEST_BYTES;
use std::sync::Arc;

pub fn router(env: Arc<Env>) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route(
            "/api/v1/auth/login",
            post(auth::login).layer(DefaultBodyLimit::max(auth::LOGIN_BODY_MAX)),
        )
        .route("/api/v1/me", get(auth::me))
        .route("/api/v1/sync", post(sync::sync))
        .route("/api/v1/jobs/{id}/automerge", get(jobs::automerge_doc))
        .route("/api/v1/openapi.json", get(openapi::openapi))
        .route("/api/v1/jobs", get(office::list))
        .route("/api/v1/reference", get(reference::feed))
        .route("/api/v1/board", get(dispatch::board))
        .route("/api/v1/assessment", get(dispatch::assessment))
        .route("/api/v1/jobs/{id}", get(office::job))
        .route("/api/v1/jobs/{id}/history", get(office::history))
        .route(
            "/api/v1/jobs/{id}/changes-since-review",
            get(office::since_review),
        )
        .route(
            "/api/v1/jobs/{id}/review",
            post(office::review).layer(DefaultBodyLimit::max(office::REVIEW_BODY_MAX)),
        )
        .route(
            "/api/v1/jobs/{id}/contracts/{cid}/verification",
            get(jobs::contract_verification),
        )
        .route(
            "/api/v1/jobs/{id}/contracts/{cid}/pdf",
            get(jobs::contract_pdf),
        )
        .route("/api/v1/blobs/{sha256}", get(uploads::blob))
        .route("/api/v1/public/units", get(public::units))
        .route(
            "/api/v1/public/units/{unit}/managers",
            get(public::managers),
        )
        .route(
            "/api/v1/public/units/{unit}/applications",
            post(public::apply).layer(DefaultBodyLimit::max(public::APPLY_BODY_MAX)),
        )
        .route("/api/v1/public/track/{token}", get(public::track))
        .route(
            "/api/v1/public/track/{token}/plan/confirmation",
            post(public::confirm_plan).layer(DefaultBodyLimit::max(public::SMALL_BODY_MAX)),
        )
        .route(
            "/api/v1/public/track/{token}/plan/question",
            post(public::ask).layer(DefaultBodyLimit::max(public::SMALL_BODY_MAX)),
        )
        .route(
            "/api/v1/public/track/{token}/rating",
            post(public::rating).layer(DefaultBodyLimit::max(public::SMALL_BODY_MAX)),
        )
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
        .merge(
            // Upload bodies stream to disk; their size is checked against Upload-Length.
            Router::new()
                .route(
                    "/api/v1/uploads",
                    post(uploads::create).options(uploads::options),
                )
                .route(
                    "/api/v1/uploads/{id}",
                    head(uploads::head)
                        .patch(uploads::patch)
                        .delete(uploads::delete),
                )
                .layer(axum::middleware::map_response(uploads::tus_header)),
        )
        .merge(crate::web::router())
        .route("/metrics", get(health::metrics))
        .route_layer(axum::middleware::from_fn_with_state(
            env.clone(),
            health::track,
        ))
        .layer(axum::middleware::from_fn_with_state(
            env.clone(),
            hardening::headers,
        ))
        .with_state(env)
}
