//! 基础数据 in the administration pages: what is installed (rule sets, write policies, calendar
//! bundles; national or per unit, with version and effective date) and a form to install more.

use super::layout::{self, badge};
use super::{Form, ShowErr, Shown, Web, check_csrf};
use crate::i18n;
use crate::service::Env;
use crate::service::reference::{self, BODY_MAX, KINDS};
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use std::sync::Arc;

fn kind_label(lang: i18n::Lang, code: &str) -> String {
    KINDS
        .iter()
        .find(|(k, _, _)| *k == code)
        .map(|(_, zh, en)| lang.t(zh, en).to_string())
        .unwrap_or_else(|| code.to_string())
}

/// Years as runs: `2004–2026, 2031`.
fn year_ranges(mut years: Vec<i32>) -> String {
    years.sort_unstable();
    years.dedup();
    let mut runs: Vec<(i32, i32)> = Vec::new();
    for y in years {
        match runs.last_mut() {
            Some((_, end)) if *end + 1 == y => *end = y,
            _ => runs.push((y, y)),
        }
    }
    if runs.is_empty() {
        return "—".into();
    }
    runs.iter()
        .map(|(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}–{b}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `GET /admin/reference`.
pub async fn page(State(env): State<Arc<Env>>, web: Web) -> Result<Response, Shown> {
    let lang = web.lang;
    let who = web.session.who.clone();
    let (rows, years) = env
        .blocking(move |env| {
            let rows = reference::installed(env, &who)?;
            let years: Vec<i32> = env.calendar().covered_years().collect();
            Ok((rows, years))
        })
        .await
        .page(lang)?;
    let span = year_ranges(years);
    let body = html! {
        h1 { (lang.t("系统管理 · 基础数据", "Administration · reference data")) }
        p.small {
            (lang.t("业务规则集、写入权限策略和工作日历，全国默认或按单位，各有版本和生效日期。安装后服务器立即使用，手机在下次同步时收到，两边按同一数据计算时限。工单始终按其受理时生效的规则集办理。",
                "Rule sets, write policies and working-day calendars, national or per unit, each with a version and an effective date. The server uses them at once; phones get them at their next sync, so both compute the same clocks. A job keeps the rule set in force when it was accepted."))
        }
        section.card #in-use {
            h2 { (lang.t("使用中", "In use")) }
            dl.fields {
                dt { (kind_label(lang, "rule_set")) } dd { "national-default v1, v2" (lang.t("（内置）及下列已安装的", " (built in) and those installed below")) }
                dt { (kind_label(lang, "write_policy")) } dd { "national v1" (lang.t("（内置）及下列已安装的", " (built in) and those installed below")) }
                dt { (kind_label(lang, "calendar")) }
                dd { (lang.t("法定节假日数据覆盖 ", "public holidays cover ")) (span)
                     (lang.t("年；之后的日期按周一至周五推算，标为“暂定”", "; later dates are counted Mon–Fri and marked provisional")) }
            }
        }
        section.card #installed {
            h2 { (lang.t("已安装", "Installed")) " · " (rows.len()) }
            @if rows.is_empty() {
                p.muted { (lang.t("尚未安装任何基础数据，使用内置数据。", "Nothing installed yet: the built-in data is used.")) }
            } @else {
                table.list {
                    thead { tr {
                        th { "#" } th { (lang.t("类型", "Kind")) } th { (lang.t("标识与版本", "Id and version")) }
                        th { (lang.t("单位", "Unit")) } th { (lang.t("生效日期", "Effective from")) }
                        th { (lang.t("安装", "Installed")) }
                    } }
                    tbody {
                        @for r in &rows {
                            tr {
                                td data-label="#" { (r.seq) }
                                td data-label=(lang.t("类型", "Kind")) { (kind_label(lang, &r.kind)) }
                                td data-label=(lang.t("标识与版本", "Id and version")) { code { (r.id) } " v" (r.version) }
                                td data-label=(lang.t("单位", "Unit")) {
                                    @match &r.unit { Some(u) => (u), None => (badge("key", lang.t("全部单位", "all units"))) }
                                }
                                td data-label=(lang.t("生效日期", "Effective from")) { (r.effective_from.as_deref().unwrap_or("—")) }
                                td data-label=(lang.t("安装", "Installed")) { (i18n::millis(r.installed_at)) " · " (r.installed_by) }
                            }
                        }
                    }
                }
            }
        }
        section.card #install {
            h2 { (lang.t("安装", "Install")) }
            form.stack method="post" action="/admin/reference" {
                input type="hidden" name="csrf" value=(web.session.csrf);
                fieldset {
                    legend { (lang.t("类型", "Kind")) }
                    @for (i, (code, zh, en)) in KINDS.iter().enumerate() {
                        label.inline {
                            input type="radio" name="kind" value=(code) required checked[i == 0];
                            " " (lang.t(zh, en))
                        }
                    }
                }
                label {
                    (lang.t("JSON（格式见 field-core/data/ 下的示例）", "JSON (formats as in field-core/data/)"))
                    textarea name="body" required rows="12" maxlength=(BODY_MAX) class="mono" {}
                }
                div.actions { button type="submit" { (lang.t("检查并安装", "Check and install")) } }
            }
        }
        p {
            a href="/admin/grid" { (lang.t("电网网格（接入受限）»", "Grid cells (restricted access) »")) }
            " · " a href="/admin" { (lang.t("« 用户管理", "« Users")) }
        }
    };
    Ok(layout::page(
        &web,
        "/admin/reference",
        lang.t("基础数据", "Reference data"),
        body,
    )
    .into_response())
}

/// `POST /admin/reference`.
pub async fn install(
    State(env): State<Arc<Env>>,
    web: Web,
    body: Bytes,
) -> Result<Response, Shown> {
    let f = Form::parse(&body);
    check_csrf(&web, f.get("csrf"))?;
    let (kind, json) = (f.get("kind").to_string(), f.get("body").to_string());
    let who = web.session.who.clone();
    env.blocking(move |env| reference::install_as(env, &who, &kind, &json))
        .await
        .page(web.lang)?;
    Ok(Redirect::to("/admin/reference#installed").into_response())
}
