//! Login at `/` (user name and password), logout, and the language toggle. Logins go through
//! the same credential check, rate limits and audit as phones.

use super::layout;
use super::{
    LANG_COOKIE, LOGIN_CSRF_COOKIE, Shown, Web, check_csrf, lang_of, local_path, secure, set_cookie,
};
use crate::error::ServerError;
use crate::http::caller::{SESSION_COOKIE, cookie, web_session};
use crate::service::session::{self, SESSION_HOURS};
use crate::service::{Env, auth};
use axum::Form;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;
use std::net::SocketAddr;
use std::sync::Arc;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Next {
    pub next: String,
}

fn with_cookie(mut r: Response, value: String) -> Response {
    if let Ok(v) = HeaderValue::from_str(&value) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

fn form(
    lang: crate::i18n::Lang,
    csrf: &str,
    next: &str,
    username: &str,
    error: Option<&str>,
) -> maud::Markup {
    let title = lang.t("登录", "Log in");
    layout::bare(
        lang,
        title,
        html! {
            main.login {
                div.card {
                    h1 { (lang.t("业扩报装 · 登录", "New connections · log in")) }
                    @if let Some(e) = error {
                        p.error role="alert" { (e) }
                    }
                    form method="post" action="/login" {
                        input type="hidden" name="csrf" value=(csrf);
                        input type="hidden" name="next" value=(next);
                        label {
                            (lang.t("用户名", "User name"))
                            input type="text" name="username" value=(username) autocomplete="username"
                                required autofocus maxlength="64";
                        }
                        label {
                            (lang.t("密码", "Password"))
                            input type="password" name="password" autocomplete="current-password"
                                required maxlength="256";
                        }
                        button type="submit" { (lang.t("登录", "Log in")) }
                    }
                    p.muted.small {
                        (lang.t(
                            "营业厅、调度与管理人员使用浏览器登录；客户经理和项目经理请使用手机应用。",
                            "Office, dispatch and administration staff log in here; customer and project managers use the phone app.",
                        ))
                    }
                    p.small {
                        a href="/public" { (lang.t("用电客户：自选客户经理", "Customers: choose your customer manager")) }
                    }
                }
            }
        },
    )
}

/// `GET /`: the login form (or the job list for a signed-in browser).
pub async fn page(
    State(env): State<Arc<Env>>,
    headers: HeaderMap,
    Query(q): Query<Next>,
) -> Response {
    let lang = lang_of(&headers);
    let next = local_path(&q.next).unwrap_or("/jobs").to_string();
    if let Ok(Some(_)) = web_session(&env, &headers).await {
        return Redirect::to(&next).into_response();
    }
    let (csrf, fresh) = match cookie(&headers, LOGIN_CSRF_COOKIE) {
        Some(c) if c.len() == 64 && c.bytes().all(|b| b.is_ascii_hexdigit()) => {
            (c.to_string(), false)
        }
        _ => (session::new_csrf(), true),
    };
    let r = form(lang, &csrf, &next, "", None).into_response();
    if fresh {
        with_cookie(
            r,
            set_cookie(LOGIN_CSRF_COOKIE, &csrf, None, secure(&env, &headers)),
        )
    } else {
        r
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LoginForm {
    pub username: String,
    pub password: String,
    pub csrf: String,
    pub next: String,
}

/// `POST /login`.
pub async fn submit(
    State(env): State<Arc<Env>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let lang = lang_of(&headers);
    let next = local_path(&f.next).unwrap_or("/jobs").to_string();
    let expected = cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or("");
    if expected.is_empty() || !session::same_secret(&f.csrf, expected) {
        // No cookie (blocked, or a forged cross-site post): start over with a fresh form.
        let csrf = session::new_csrf();
        let msg = lang.t(
            "登录表单已失效，请重新输入。",
            "The login form expired; please try again.",
        );
        let r = (
            StatusCode::FORBIDDEN,
            form(lang, &csrf, &next, &f.username, Some(msg)),
        )
            .into_response();
        return with_cookie(
            r,
            set_cookie(LOGIN_CSRF_COOKIE, &csrf, None, secure(&env, &headers)),
        );
    }
    let client = auth::client_address(addr.ip(), env.auth.client_ip_header.as_deref(), &headers);
    let username = f.username.trim().to_string();
    match session::login(&env, &username, &f.password, &client).await {
        Ok((token, _)) => {
            let s = secure(&env, &headers);
            let r = with_cookie(
                Redirect::to(&next).into_response(),
                set_cookie(SESSION_COOKIE, &token, Some(SESSION_HOURS * 3600), s),
            );
            with_cookie(r, set_cookie(LOGIN_CSRF_COOKIE, "", Some(0), s))
        }
        Err(e) => {
            let status = crate::http::error::status(&e);
            if status.is_server_error() {
                return Shown(lang, e).into_response();
            }
            let msg = match e {
                ServerError::Unauthorized(_) => lang
                    .t("用户名或密码错误。", "Wrong user name or password.")
                    .to_string(),
                other => {
                    let (_, zh, en) = other.describe();
                    lang.t(&zh, &en).to_string()
                }
            };
            (status, form(lang, expected, &next, &username, Some(&msg))).into_response()
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CsrfForm {
    pub csrf: String,
}

/// `POST /logout`.
pub async fn logout(
    State(env): State<Arc<Env>>,
    headers: HeaderMap,
    web: Web,
    Form(f): Form<CsrfForm>,
) -> Result<Response, Shown> {
    check_csrf(&web, &f.csrf)?;
    let (token, who) = (web.token.clone(), web.session.who.clone());
    env.blocking(move |env| session::logout(env, &token, &who))
        .await
        .map_err(|e| Shown(web.lang, e))?;
    Ok(with_cookie(
        Redirect::to("/").into_response(),
        set_cookie(SESSION_COOKIE, "", Some(0), secure(&env, &headers)),
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Back {
    pub back: String,
}

/// `GET /lang/{zh|en}?back=…`: remembers the language for a year.
pub async fn language(
    State(env): State<Arc<Env>>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Query(q): Query<Back>,
) -> Response {
    let lang = crate::i18n::Lang::parse(&code);
    let back = local_path(&q.back).unwrap_or("/");
    with_cookie(
        Redirect::to(back).into_response(),
        set_cookie(
            LANG_COOKIE,
            lang.code(),
            Some(365 * 86_400),
            secure(&env, &headers),
        ),
    )
}
