//! 电网网格 in the administration pages: a unit's cells with their health grade (健康 / 亚健康 /
//! 病态), a form to add or change a cell, and removal. Each change publishes the unit's next
//! version (public page, server verdicts, phones at their next sync).

use super::layout::{self, badge};
use super::{Form, ShowErr, Shown, Web, check_csrf, urlencode};
use crate::service::{Env, grid};
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use field_core::GridHealth;
use field_core::grid::GridCell;
use maud::html;
use serde::Deserialize;
use std::sync::Arc;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct UnitQuery {
    pub unit: String,
}

fn grade_class(g: GridHealth) -> &'static str {
    match g {
        GridHealth::Healthy => "ok",
        GridHealth::SubHealthy => "warn",
        GridHealth::Sick => "bad",
    }
}

/// `GET /admin/grid?unit=`.
pub async fn page(
    State(env): State<Arc<Env>>,
    web: Web,
    Query(q): Query<UnitQuery>,
) -> Result<Response, Shown> {
    let lang = web.lang;
    let unit = if q.unit.trim().is_empty() {
        web.session.who.unit.clone()
    } else {
        q.unit.trim().to_string()
    };
    let (who, u) = (web.session.who.clone(), unit.clone());
    let (cells, units) = env
        .blocking(move |env| grid::for_admin(env, &who, &u))
        .await
        .page(lang)?;
    let csrf = &web.session.csrf;
    let body = html! {
        h1 { (lang.t("系统管理 · 电网网格", "Administration · grid cells")) }
        form.filters method="get" action="/admin/grid" {
            label { (lang.t("单位", "Unit"))
                select name="unit" {
                    @for u in &units { option value=(u) selected[*u == unit] { (u) } }
                    @if !units.contains(&unit) { option value=(unit) selected { (unit) } }
                }
            }
            div.actions { button type="submit" { (lang.t("查看", "Show")) } }
        }
        p.small {
            (lang.t("网格健康状况划分为健康、亚健康、病态。亚健康和病态网格在公示页发布为接入受限信息；工单所在网格的当前状况用于“一岗制”判定。当前版本：",
                "Cells are graded healthy, sub-healthy or sick. Sub-healthy and sick cells are published as restricted; a job's cell grade feeds its direct-install verdict. Current version: "))
            (cells.version)
            " · " a href={ "/public/" (urlencode(&unit)) } { (lang.t("公示页", "public page")) }
        }
        section.card #cells {
            h2 { (unit) " · " (cells.cells.len()) }
            @if cells.cells.is_empty() {
                p.muted { (lang.t("尚未登记电网网格。", "No grid cells recorded yet.")) }
            } @else {
                table.list {
                    thead { tr {
                        th { (lang.t("编号", "Id")) } th { (lang.t("名称", "Name")) } th { (lang.t("健康状况", "Health")) }
                        th { (lang.t("说明", "Notes")) } th { (lang.t("改造项目", "Upgrade project")) } th {}
                    } }
                    tbody {
                        @for c in &cells.cells {
                            tr data-cell=(c.id) {
                                td data-label=(lang.t("编号", "Id")) { code { (c.id) } }
                                td data-label=(lang.t("名称", "Name")) { (c.name) }
                                td data-label=(lang.t("健康状况", "Health")) { (badge(grade_class(c.grade), lang.t(c.grade.zh(), c.grade.en()))) }
                                td data-label=(lang.t("说明", "Notes")) { (c.note) }
                                td data-label=(lang.t("改造项目", "Upgrade project")) { (c.upgrade_project) }
                                td {
                                    form method="post" action="/admin/grid" {
                                        input type="hidden" name="csrf" value=(csrf);
                                        input type="hidden" name="unit" value=(unit);
                                        input type="hidden" name="id" value=(c.id);
                                        input type="hidden" name="action" value="remove";
                                        button.secondary type="submit" { (lang.t("删除", "Remove")) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        section.card #cell-form {
            h2 { (lang.t("登记或更新网格", "Record or update a cell")) }
            form.filters method="post" action="/admin/grid" {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="unit" value=(unit);
                input type="hidden" name="action" value="save";
                label { (lang.t("编号", "Id")) input type="text" name="id" required maxlength="32" pattern="[A-Za-z0-9_\\-]+"; }
                label { (lang.t("名称", "Name")) input type="text" name="name" required maxlength="100"; }
                label { (lang.t("健康状况", "Health"))
                    select name="grade" {
                        @for g in GridHealth::ALL { option value=(g.as_str()) { (lang.t(g.zh(), g.en())) } }
                    }
                }
                label { (lang.t("说明与改造计划", "Notes and upgrade plan")) input type="text" name="note" maxlength="500"; }
                label { (lang.t("改造项目号", "Upgrade project no.")) input type="text" name="upgrade_project" maxlength="64"; }
                div.actions { button type="submit" { (lang.t("保存并发布", "Save and publish")) } }
            }
        }
        p { a href="/admin/reference" { (lang.t("« 基础数据", "« Reference data")) } }
    };
    let here = format!("/admin/grid?unit={}", urlencode(&unit));
    Ok(layout::page(&web, &here, lang.t("电网网格", "Grid cells"), body).into_response())
}

/// `POST /admin/grid`: `action` = `save` or `remove`.
pub async fn act(State(env): State<Arc<Env>>, web: Web, body: Bytes) -> Result<Response, Shown> {
    let f = Form::parse(&body);
    check_csrf(&web, f.get("csrf"))?;
    let lang = web.lang;
    let unit = f.get("unit").trim().to_string();
    let who = web.session.who.clone();
    let u = unit.clone();
    match f.get("action") {
        "save" => {
            let grade = GridHealth::parse(f.get("grade")).ok_or_else(|| {
                Shown(
                    lang,
                    crate::error::ServerError::bad(
                        "invalid_value",
                        "请选择健康状况",
                        "choose the health grade",
                    ),
                )
            })?;
            let cell = GridCell {
                id: f.get("id").trim().to_string(),
                name: f.get("name").trim().to_string(),
                grade,
                note: f.get("note").trim().to_string(),
                upgrade_project: f.get("upgrade_project").trim().to_string(),
            };
            env.blocking(move |env| grid::save_cell(env, &who, &u, cell))
                .await
                .page(lang)?;
        }
        "remove" => {
            let id = f.get("id").to_string();
            env.blocking(move |env| grid::remove_cell(env, &who, &u, &id))
                .await
                .page(lang)?;
        }
        _ => return Err(Shown(lang, crate::error::ServerError::NotFound)),
    }
    Ok(Redirect::to(&format!("/admin/grid?unit={}#cells", urlencode(&unit))).into_response())
}
