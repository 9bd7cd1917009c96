//! The office web UI: server-rendered pages (maud, compiled in), plain HTML forms, a little
//! hand-written JS and CSS, Simplified Chinese by default with English by a toggle.
//!
//! Pages are thin like the API handlers: they resolve the browser session ([`Web`]), call the
//! same services (which ask [`crate::authz`]) and render. A page a role may not see answers 403
//! or 404 like the API.

pub mod admin;
pub mod applications;
pub mod apply;
pub mod assessment;
pub mod assignment;
pub mod board;
pub mod exports;
pub mod grid;
pub mod guide;
pub mod jobs;
pub mod key_visits;
pub mod layout;
pub mod list;
pub mod login;
pub mod media;
pub mod public;
pub mod reference;
pub mod supervision;
pub mod visits;

use crate::error::ServerError;
use crate::http::caller::{SESSION_COOKIE, cookie, web_session};
use crate::i18n::Lang;
use crate::service::Env;
use crate::service::session::WebSession;
use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use std::sync::Arc;

/// The language cookie.
pub const LANG_COOKIE: &str = "fl_lang";
/// The pre-login CSRF cookie (double submit on the login form).
pub const LOGIN_CSRF_COOKIE: &str = "fl_login_csrf";
/// Largest form body.
pub const FORM_BODY_MAX: usize = 64 * 1024;

/// The routes of the pages.
pub fn router() -> Router<Arc<Env>> {
    Router::new()
        .route("/", get(login::page))
        .route("/login", post(login::submit))
        .route("/logout", post(login::logout))
        .route("/lang/{code}", get(login::language))
        .route("/static/app.css", get(layout::css))
        .route("/static/app.js", get(layout::js))
        .route("/jobs", get(list::page))
        .route("/board", get(board::page))
        .route("/admin", get(admin::users))
        .route("/admin/units", get(admin::units).post(admin::create_unit))
        .route(
            "/admin/units/{unit}",
            get(admin::unit).post(admin::update_unit),
        )
        .route("/admin/users", post(admin::create))
        .route("/admin/users/{username}", get(admin::user))
        .route("/admin/users/{username}/{action}", post(admin::act))
        .route("/admin/devices/{id}/{action}", post(admin::device))
        .route(
            "/admin/reference",
            get(reference::page).post(reference::install),
        )
        .route("/admin/grid", get(grid::page).post(grid::act))
        .route("/public", get(public::units))
        .route("/public/{unit}", get(public::managers))
        .route(
            "/public/{unit}/apply",
            get(apply::form)
                .post(apply::submit)
                .layer(DefaultBodyLimit::max(apply::APPLY_BODY_MAX)),
        )
        .route("/public/{unit}/guide/{kind}", get(guide::page))
        .route("/public/{unit}/guide/{kind}/pdf", get(guide::pdf))
        .route("/p/{token}", get(public::progress))
        .route("/p/{token}/receipt", get(public::receipt))
        .route("/p/{token}/receipt.pdf", get(public::receipt_pdf))
        .route("/p/{token}/plan", post(public::plan))
        .route("/p/{token}/rating", post(public::rating))
        .route("/applications", get(applications::queue))
        .route("/applications/{id}", get(applications::detail))
        .route("/applications/{id}/photo/{role}", get(applications::photo))
        .route("/applications/{id}/accept", post(applications::accept))
        .route("/applications/{id}/decline", post(applications::decline))
        .route("/assessment", get(assessment::page))
        .route("/assessment.csv", get(assessment::csv))
        .route("/assessment.xlsx", get(assessment::xlsx))
        .route("/jobs/export.csv", get(exports::csv))
        .route("/jobs/export.xlsx", get(exports::xlsx))
        .route("/jobs/{id}", get(jobs::detail))
        .route("/jobs/{id}/history", get(jobs::history))
        .route("/jobs/{id}/review", post(jobs::review))
        .route("/jobs/{id}/return-visit", post(visits::record))
        .route("/jobs/{id}/follow-up", post(visits::follow_up))
        .route("/jobs/{id}/assignment", post(assignment::assign))
        .route("/jobs/{id}/supervision", post(supervision::issue))
        .route("/jobs/{id}/visit-plan", post(key_visits::set_plan))
        .route(
            "/jobs/{id}/supervision/{order}/close",
            post(supervision::close),
        )
        .route("/jobs/{id}/photos", get(media::gallery))
        .route("/jobs/{id}/photos/{pid}", get(media::viewer))
        .route("/jobs/{id}/contracts/{cid}", get(media::contract))
        .route("/jobs/{id}/notice.pdf", get(exports::notice))
        .route("/jobs/{id}/receipt.pdf", get(exports::receipt))
        .route("/jobs/{id}/archive.zip", get(exports::archive))
        .layer(DefaultBodyLimit::max(FORM_BODY_MAX))
}

/// The language a request asks for (cookie; Chinese by default).
pub fn lang_of(headers: &HeaderMap) -> Lang {
    cookie(headers, LANG_COOKIE)
        .map(Lang::parse)
        .unwrap_or_default()
}

/// Whether cookies set in answer to `headers` should be `Secure`.
pub fn secure(env: &Env, headers: &HeaderMap) -> bool {
    env.auth.secure_cookies
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, path `/`, Secure behind TLS.
pub fn set_cookie(name: &str, value: &str, max_age: Option<i64>, secure: bool) -> String {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    c
}

/// A signed-in browser: its session and language. Pages that need one redirect to the login
/// page without it.
pub struct Web {
    pub session: WebSession,
    pub token: String,
    pub lang: Lang,
}

impl Web {
    pub fn t<'a>(&self, zh: &'a str, en: &'a str) -> &'a str {
        self.lang.t(zh, en)
    }
}

impl FromRequestParts<Arc<Env>> for Web {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, env: &Arc<Env>) -> Result<Self, Response> {
        let lang = lang_of(&parts.headers);
        match web_session(env, &parts.headers).await {
            Ok(Some((token, session))) => Ok(Web {
                session,
                token,
                lang,
            }),
            Ok(None) => {
                let path = parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or("/jobs");
                let mut to = String::from("/?next=");
                to.push_str(&urlencode(path));
                let mut r = Redirect::to(&to).into_response();
                if cookie(&parts.headers, SESSION_COOKIE).is_some() {
                    // An ended session: forget its cookie.
                    if let Ok(v) = set_cookie(SESSION_COOKIE, "", Some(0), false).parse() {
                        r.headers_mut().insert(header::SET_COOKIE, v);
                    }
                }
                Err(r)
            }
            Err(e) => Err(Shown(lang, e).into_response()),
        }
    }
}

/// An error shown as a page in the reader's language, with the API's status code.
pub struct Shown(pub Lang, pub ServerError);

impl IntoResponse for Shown {
    fn into_response(self) -> Response {
        let Shown(lang, e) = self;
        let status = crate::http::error::status(&e);
        if status.is_server_error() {
            tracing::error!(error = %e, "page failed");
        }
        let (_, zh, en) = e.describe();
        let title = match status {
            StatusCode::NOT_FOUND => lang.t("找不到该页面或工单", "Not found"),
            StatusCode::FORBIDDEN => lang.t("无权访问", "Not allowed"),
            StatusCode::TOO_MANY_REQUESTS => lang.t("操作过于频繁", "Too many attempts"),
            s if s.is_server_error() => lang.t("服务器出错", "Server error"),
            _ => lang.t("请求有误", "Bad request"),
        };
        let body = layout::bare(
            lang,
            title,
            maud::html! {
                main {
                    div.card {
                        h1 { (title) }
                        p.error { (lang.t(&zh, &en)) }
                        p { a href="/jobs" { (lang.t("返回工单列表", "Back to the job list")) } }
                    }
                }
            },
        );
        (status, body).into_response()
    }
}

/// `result.page(lang)?`: a service error becomes an error page.
pub trait ShowErr<T> {
    fn page(self, lang: Lang) -> Result<T, Shown>;
}

impl<T> ShowErr<T> for Result<T, ServerError> {
    fn page(self, lang: Lang) -> Result<T, Shown> {
        self.map_err(|e| Shown(lang, e))
    }
}

/// Percent-encodes a query value (everything but unreserved characters).
/// `path` with the filter `pairs` changed by `set` (an empty value drops the key).
pub fn filter_link(
    path: &str,
    pairs: Vec<(&'static str, &str)>,
    set: &[(&'static str, &str)],
) -> String {
    let mut pairs: Vec<(&str, &str)> = pairs
        .into_iter()
        .filter(|(k, _)| !set.iter().any(|(s, _)| s == k))
        .collect();
    pairs.extend(set.iter().filter(|(_, v)| !v.is_empty()).copied());
    let q = query(&pairs);
    if q.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{q}")
    }
}

pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A query string from pairs (`a=1&b=2`).
pub fn query(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Whether `next` is a safe place to send a browser after login or a language switch: a
/// relative path on this server made of printable ASCII only. Browsers drop tabs and newlines
/// from a `Location` and read a backslash as a slash, so `/\t/evil.example` or `/\\evil` would
/// leave the site: no control character, whitespace, backslash or non-ASCII byte, and not `//`.
pub fn local_path(next: &str) -> Option<&str> {
    let printable = next.bytes().all(|b| b.is_ascii_graphic() && b != b'\\');
    (printable && next.starts_with('/') && !next.starts_with("//") && next.len() < 2048)
        .then_some(next)
}

/// A submitted `application/x-www-form-urlencoded` body.
pub struct Form(Vec<(String, String)>);

impl Form {
    pub fn parse(body: &[u8]) -> Form {
        Form(
            form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value of `name` (empty when absent).
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }
}

/// Checks a form's CSRF token against the session's.
pub fn check_csrf(web: &Web, sent: &str) -> Result<(), Shown> {
    if crate::service::session::same_secret(sent, &web.session.csrf) {
        Ok(())
    } else {
        Err(Shown(
            web.lang,
            ServerError::forbidden(
                "表单已失效，请刷新页面后重试",
                "the form has expired: reload the page and try again",
            ),
        ))
    }
}
