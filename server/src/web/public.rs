//! Pages without a login: the units' customer managers to choose from, and a job's progress
//! behind its unguessable link. Also the QR code an office prints for the customer.

use super::layout;
use super::{ShowErr, Shown, lang_of};
use crate::i18n::Lang;
use crate::service::Env;
use crate::service::public::{self, Progress};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use maud::{Markup, PreEscaped, html};
use std::net::SocketAddr;
use std::sync::Arc;

/// Counts a request to the customers' pages against its address's limit (they need no login,
/// so every address gets a budget per minute).
fn limit(env: &Env, peer: SocketAddr, headers: &HeaderMap) -> Result<(), Shown> {
    let client = crate::service::auth::client_address(
        peer.ip(),
        env.auth.client_ip_header.as_deref(),
        headers,
    );
    env.auth
        .public_limiter
        .check(&client)
        .map_err(|e| Shown(lang_of(headers), e))
}

/// This server's address as the browser reached it (for links printed as QR codes).
pub fn origin(env: &Env, headers: &HeaderMap) -> String {
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
        })
        .unwrap_or("localhost");
    let scheme = if super::secure(env, headers) {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{host}")
}

/// A QR code of `text` as inline SVG.
pub fn qr_svg(text: &str) -> Markup {
    match qrcode::QrCode::new(text.as_bytes()) {
        Ok(code) => PreEscaped(
            code.render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(160, 160)
                .quiet_zone(true)
                .build(),
        ),
        Err(_) => html! {},
    }
}

/// `GET /public`: the units.
pub async fn units(
    State(env): State<Arc<Env>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, Shown> {
    limit(&env, peer, &headers)?;
    let lang = lang_of(&headers);
    let units = env.blocking(public::units).await.page(lang)?;
    let body = html! {
        main {
            h1 { (lang.t("客户自选客户经理", "Choose your customer manager")) }
            p { (lang.t("请选择供电单位：", "Choose your supply unit:")) }
            ul { @for u in &units { li { a href={ "/public/" (u) } { (u) } } } }
        }
    };
    Ok(layout::bare_at(
        lang,
        "/public",
        lang.t("客户经理公示", "Customer managers"),
        body,
    )
    .into_response())
}

/// `GET /public/{unit}`: the unit's customer managers.
pub async fn managers(
    State(env): State<Arc<Env>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(unit): Path<String>,
) -> Result<Response, Shown> {
    limit(&env, peer, &headers)?;
    let lang = lang_of(&headers);
    let u = unit.clone();
    let (list, grid) = env
        .blocking(move |env| {
            Ok((
                public::managers(env, &u)?,
                crate::service::grid::cells(env, &u),
            ))
        })
        .await
        .page(lang)?;
    let body = html! {
        main {
            h1 { (lang.t("客户经理公示", "Customer managers")) " · " (unit) }
            p.muted {
                (lang.t(
                    "办理用电业务时，您可以在受理时自行选择客户经理。下表为各客户经理的办理情况。",
                    "When you apply, you may choose your customer manager at the counter. Their record:",
                ))
            }
            table.list #managers {
                thead { tr {
                    th { (lang.t("客户经理", "Customer manager")) } th { (lang.t("工号", "Work number")) }
                    th { (lang.t("已办理", "Jobs handled")) } th { (lang.t("在办", "Open jobs")) }
                    th { (lang.t("平均满意度", "Average satisfaction")) }
                } }
                tbody {
                    @for m in &list {
                        tr {
                            td data-label=(lang.t("客户经理", "Customer manager")) { (m.name) }
                            td data-label=(lang.t("工号", "Work number")) { (m.work_number) }
                            td data-label=(lang.t("已办理", "Jobs handled")) { (m.handled) }
                            td data-label=(lang.t("在办", "Open jobs")) { (m.open) }
                            td data-label=(lang.t("平均满意度", "Average satisfaction")) {
                                @match m.satisfaction {
                                    Some(s) => { (format!("{s:.1}")) " / 5 (" (m.visits) (lang.t(" 次回访", " visits")) ")" },
                                    None => "—",
                                }
                            }
                        }
                    }
                }
            }
            h2 { (lang.t("电网资源受限信息（接入受限）", "Where the grid restricts new connections")) }
            @if grid.restricted().next().is_none() {
                p.muted #restricted-none { (lang.t("目前没有接入受限的电网网格。", "No grid cell restricts new connections now.")) }
            } @else {
                p.muted {
                    (lang.t("以下网格电网健康状况为亚健康或病态：新装用电先接入满足基本用电需求，同步开展电网升级改造。",
                        "These cells are sub-healthy or sick: new connections are made for basic needs first while the grid is upgraded."))
                }
                table.list #restricted {
                    thead { tr {
                        th { (lang.t("网格", "Cell")) } th { (lang.t("健康状况", "Health")) }
                        th { (lang.t("说明与改造计划", "Notes and upgrade plan")) }
                    } }
                    tbody {
                        @for c in grid.restricted() {
                            tr {
                                td data-label=(lang.t("网格", "Cell")) { (c.name) "（" (c.id) "）" }
                                td data-label=(lang.t("健康状况", "Health")) {
                                    (super::layout::badge(if c.grade == field_core::GridHealth::Sick { "bad" } else { "warn" }, lang.t(c.grade.zh(), c.grade.en())))
                                }
                                td data-label=(lang.t("说明与改造计划", "Notes and upgrade plan")) {
                                    (c.note)
                                    @if !c.upgrade_project.is_empty() { " · " (lang.t("改造项目 ", "upgrade project ")) (c.upgrade_project) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    let here = format!("/public/{}", super::urlencode(&unit));
    Ok(layout::bare_at(
        lang,
        &here,
        lang.t("客户经理公示", "Customer managers"),
        body,
    )
    .into_response())
}

fn progress_body(lang: Lang, p: &Progress) -> Markup {
    html! {
        main {
            h1 { (lang.t("办电进度", "Your application")) " · " (p.job_no) }
            section.card #progress {
                dl.fields {
                    dt { (lang.t("业务类型", "Kind")) } dd { (lang.t(p.kind.zh(), p.kind.en())) }
                    dt { (lang.t("受理日期", "Accepted on")) } dd { (p.accepted_on) }
                    dt { (lang.t("当前环节", "Current stage")) } dd { strong { (lang.t(p.status.zh(), p.status.en())) } }
                    @if let Some((stage, due)) = &p.next {
                        dt { (lang.t("下一步时限", "Next step due")) }
                        dd #next-due { (lang.t(stage.zh(), stage.en())) " · " (lang.t("最迟 ", "by ")) strong { (due) } }
                    }
                    dt { (lang.t("联系人", "Contact")) }
                    dd #contact {
                        @match &p.contact {
                            Some((name, no)) => { (name) " · " (lang.t("工号 ", "work number ")) (no) },
                            None => (lang.t("营业厅正在为您安排客户经理", "the office is assigning your customer manager")),
                        }
                    }
                }
            }
            @if !p.steps.is_empty() {
                section.card #steps {
                    h2 { (lang.t("已完成的步骤", "Steps done")) }
                    ol { @for (e, d) in &p.steps { li { (d) " · " (lang.t(e.zh(), e.en())) } } }
                }
            }
            p.small.muted { (lang.t("本页只显示办理进度，不含您的个人信息。", "This page shows progress only, none of your personal details.")) }
        }
    }
}

/// `GET /p/{token}`: a job's progress.
pub async fn progress(
    State(env): State<Arc<Env>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Result<Response, Shown> {
    limit(&env, peer, &headers)?;
    let lang = lang_of(&headers);
    let here = format!("/p/{}", super::urlencode(&token));
    let p = env
        .blocking(move |env| public::progress(env, &token))
        .await
        .page(lang)?;
    Ok(layout::bare_at(
        lang,
        &here,
        lang.t("办电进度", "Your application"),
        progress_body(lang, &p),
    )
    .into_response())
}
