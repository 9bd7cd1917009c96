//! The browser-hardening headers every response carries: a strict Content-Security-Policy (no
//! inline script or style, no framing), `nosniff`, no referrer (a progress link's token sits in
//! its URL), `Cache-Control: no-store` unless the handler chose, and HSTS when the request came
//! over TLS. A handler that sets its own policy (blob downloads: `sandbox`) keeps it.

use crate::service::Env;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;

/// The pages' policy: everything from this origin only, images also as `data:` (none today,
/// kept for inline SVG fallbacks), nothing inline, no plugins, no `<base>`, forms post here only,
/// and no other site may frame a page.
pub const PAGE_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; \
    frame-ancestors 'none'";

/// What a downloaded blob may do when a browser opens it directly: nothing (no script, no
/// plugin, no same-origin access), and it is never framed.
pub const BLOB_POLICY: &str = "sandbox; default-src 'none'; img-src 'self'; frame-ancestors 'none'";

/// One year, the usual HSTS lifetime.
const HSTS: &str = "max-age=31536000";

pub async fn headers(State(env): State<Arc<Env>>, req: Request, next: Next) -> Response {
    let tls = crate::web::secure(&env, req.headers());
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(PAGE_POLICY),
        );
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    // Pages and answers hold personal data: no cache keeps them unless the handler says so
    // (blobs, the stylesheet and the script do).
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if tls {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    resp
}
