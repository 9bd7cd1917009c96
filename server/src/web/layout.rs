//! The page shell (header, language toggle, logout), the stylesheet and the script, and small
//! pieces every page uses.

use super::Web;
use crate::i18n::{self, Lang};
use axum::http::header;
use axum::response::IntoResponse;
use maud::{DOCTYPE, Markup, PreEscaped, html};

const CSS: &str = include_str!("assets/app.css");
const JS: &str = include_str!("assets/app.js");

pub async fn css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        CSS,
    )
}

pub async fn js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        JS,
    )
}

fn head(lang: Lang, title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            meta name="referrer" content="no-referrer";
            title { (title) " · " (lang.t("Fieldline 业扩现场", "Fieldline")) }
            link rel="stylesheet" href="/static/app.css";
            script src="/static/app.js" defer {}
        }
    }
}

/// A page without the signed-in header (login, errors).
pub fn bare(lang: Lang, title: &str, body: Markup) -> Markup {
    bare_at(lang, "/", title, body)
}

/// A page without the signed-in header whose language toggle comes back to `here`.
pub fn bare_at(lang: Lang, here: &str, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.html()) {
            (head(lang, title))
            body {
                header.top {
                    span.brand { (lang.t("Fieldline 业扩报装", "Fieldline new connections")) }
                    (toggle(lang, here))
                }
                (body)
            }
        }
    }
}

fn toggle(lang: Lang, back: &str) -> Markup {
    let other = lang.other();
    html! {
        a href={ "/lang/" (other.code()) "?back=" (super::urlencode(back)) } lang=(other.html()) {
            (other.t("中文", "English"))
        }
    }
}

/// A signed-in page: header with the user, the language toggle (back to `here`) and logout.
pub fn page(web: &Web, here: &str, title: &str, body: Markup) -> Markup {
    let lang = web.lang;
    let who = &web.session.who;
    html! {
        (DOCTYPE)
        html lang=(lang.html()) {
            (head(lang, title))
            body {
                header.top {
                    a.brand href="/jobs" { (lang.t("Fieldline 业扩报装", "Fieldline new connections")) }
                    a href="/jobs" { (lang.t("工单列表", "Jobs")) }
                    a href="/jobs?review=pending" { (lang.t("待审核", "To review")) }
                    @if matches!(who.role, field_core::Role::OfficeStaff | field_core::Role::Admin) {
                        a href="/applications" { (lang.t("线上申请", "Online applications")) }
                    }
                    @if crate::service::board::may_see(who) {
                        a href="/board" { (lang.t("调度台", "Board")) }
                    }
                    @if crate::service::assessment::may_see(who) {
                        a href="/assessment" { (lang.t("考核", "Assessment")) }
                    }
                    @if crate::service::admin::may_admin(who) {
                        a href="/admin" { (lang.t("系统管理", "Admin")) }
                    }
                    span.who {
                        (who.display_name) " · " (i18n::role(lang, who.role.as_str()))
                    }
                    (toggle(lang, here))
                    form.logout method="post" action="/logout" {
                        input type="hidden" name="csrf" value=(web.session.csrf);
                        button.link type="submit" { (lang.t("退出", "Log out")) }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// A badge for a state (class = the state's code).
pub fn badge(class: &str, text: &str) -> Markup {
    html! { span class={ "badge " (class) } { (text) } }
}

/// An inline SVG built by the server (signatures): already escaped XML.
pub fn svg(markup: String) -> Markup {
    PreEscaped(markup)
}
