//! 系统管理 (administration) pages: users (create, disable, enable, reset a password, change role
//! and unit) and their devices (revoke). Admins only; everyone else gets 403.

use super::layout::{self, badge};
use super::{ShowErr, Shown, Web, check_csrf, urlencode};
use crate::i18n::{self, Lang};
use crate::service::Env;
use crate::service::{admin, qualifications, units};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use field_core::Role;
use field_core::qualification::{Skill, Title};
use maud::{Markup, html};
use std::sync::Arc;

fn role_select(lang: Lang, current: &str) -> Markup {
    html! {
        select name="role" required {
            @for r in Role::ALL {
                option value=(r.as_str()) selected[current == r.as_str()] { (i18n::role(lang, r.as_str())) }
            }
        }
    }
}

/// `GET /admin`: every user, and the form for a new one.
pub async fn users(State(env): State<Arc<Env>>, web: Web) -> Result<Response, Shown> {
    let lang = web.lang;
    let who = web.session.who.clone();
    let (list, units) = env
        .blocking(move |env| Ok((admin::users(env, &who)?, units::list(env)?)))
        .await
        .page(lang)?;
    let body = html! {
        h1 { (lang.t("系统管理 · 用户", "Administration · users")) }
        p.actions { a.button.secondary href="/admin/units" { (lang.t("单位", "Units")) } " " a.button.secondary href="/admin/reference" { (lang.t("基础数据：规则集、权限策略、工作日历", "Reference data: rule sets, write policies, calendars")) } }
        section.card #users {
            table.list {
                thead { tr {
                    th { (lang.t("用户名", "User name")) } th { (lang.t("姓名", "Name")) }
                    th { (lang.t("角色", "Role")) } th { (lang.t("单位", "Unit")) } th { (lang.t("状态", "State")) }
                } }
                tbody {
                    @for u in &list {
                        tr {
                            td data-label=(lang.t("用户名", "User name")) { a href={ "/admin/users/" (urlencode(&u.username)) } { (u.username) } }
                            td data-label=(lang.t("姓名", "Name")) { (u.display_name) }
                            td data-label=(lang.t("角色", "Role")) {
                                (i18n::role(lang, &u.role))
                                @if u.leader { " " (badge("key", lang.t("单位负责人", "unit leader"))) }
                            }
                            td data-label=(lang.t("单位", "Unit")) { (u.unit) }
                            td data-label=(lang.t("状态", "State")) {
                                @if u.disabled { (badge("bad", lang.t("已停用", "disabled"))) } @else { (badge("ok", lang.t("正常", "active"))) }
                            }
                        }
                    }
                }
            }
        }
        section.card #new-user {
            h2 { (lang.t("新建用户", "New user")) }
            form.filters method="post" action="/admin/users" {
                input type="hidden" name="csrf" value=(web.session.csrf);
                label { (lang.t("用户名（工号）", "User name (work number)")) input type="text" name="username" required maxlength="64" pattern="[A-Za-z0-9._\\-]+"; }
                label { (lang.t("姓名", "Name")) input type="text" name="display_name" required maxlength="64"; }
                label { (lang.t("角色", "Role")) (role_select(lang, "customer_manager")) }
                label { (lang.t("单位", "Unit")) (unit_select(&units, &web.session.who.unit)) }
                label { (lang.t("初始密码（空：自动生成）", "Password (empty: generated)")) input type="password" name="password" maxlength="256" autocomplete="new-password"; }
                div.actions { button type="submit" { (lang.t("创建", "Create")) } }
            }
        }
    };
    Ok(layout::page(&web, "/admin", lang.t("系统管理", "Administration"), body).into_response())
}

/// The units to choose from, `current` selected.
fn unit_select(units: &[units::Unit], current: &str) -> Markup {
    html! {
        select name="unit" required {
            @for u in units {
                option value=(u.unit) selected[u.unit == current] { (u.name) " (" (u.unit) ")" }
            }
        }
    }
}

/// A page that shows a new password once.
fn password_page(web: &Web, username: &str, password: &str) -> Response {
    let lang = web.lang;
    let body = html! {
        h1 { (lang.t("密码", "Password")) " · " (username) }
        section.card #new-password {
            p { (lang.t("请将此密码当面交给用户；本页关闭后不再显示：", "Hand this password to the user in person; it is not shown again:")) }
            p { code.secret { (password) } }
            p { a href={ "/admin/users/" (urlencode(username)) } { (lang.t("返回用户", "Back to the user")) } }
        }
    };
    let mut r = layout::page(web, "/admin", lang.t("密码", "Password"), body).into_response();
    r.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    r
}

/// `POST /admin/users`.
pub async fn create(State(env): State<Arc<Env>>, web: Web, body: Bytes) -> Result<Response, Shown> {
    let f = super::Form::parse(&body);
    check_csrf(&web, f.get("csrf"))?;
    let who = web.session.who.clone();
    let (u, d, r, unit, pw) = (
        f.get("username").trim().to_string(),
        f.get("display_name").to_string(),
        f.get("role").to_string(),
        f.get("unit").to_string(),
        f.get("password").to_string(),
    );
    let name = u.clone();
    let password = env
        .blocking(move |env| admin::create(env, &who, &u, &d, &r, &unit, &pw))
        .await
        .page(web.lang)?;
    Ok(password_page(&web, &name, &password))
}

/// `GET /admin/users/{username}`.
pub async fn user(
    State(env): State<Arc<Env>>,
    web: Web,
    Path(username): Path<String>,
) -> Result<Response, Shown> {
    let lang = web.lang;
    let who = web.session.who.clone();
    let u = username.clone();
    let (d, units, (q, trainings), short) = env
        .blocking(move |env| {
            let d = admin::user(env, &who, &u)?;
            let q = qualifications::of_user(env, &d.user.unit, &u)?;
            let role = Role::parse(&d.user.role).unwrap_or(Role::OfficeStaff);
            let short = field_core::qualification::shortfalls(role, &q.0);
            Ok((d, units::list(env)?, q, short))
        })
        .await
        .page(lang)?;
    let base = format!("/admin/users/{}", urlencode(&username));
    let csrf = &web.session.csrf;
    let body = html! {
        h1 { (d.user.display_name) " · " (d.user.username) }
        section.card #user {
            dl.fields {
                dt { (lang.t("角色", "Role")) } dd { (i18n::role(lang, &d.user.role)) }
                dt { (lang.t("单位", "Unit")) } dd { (d.user.unit) }
                dt { (lang.t("状态", "State")) }
                dd { @if d.user.disabled { (badge("bad", lang.t("已停用", "disabled"))) } @else { (badge("ok", lang.t("正常", "active"))) } }
                dt { (lang.t("创建时间", "Created")) } dd { (i18n::millis(d.user.created_at)) }
                dt { (lang.t("单位负责人", "Unit leader")) }
                dd {
                    @if d.user.leader { (badge("key", lang.t("是：逾期督办升级至此人", "yes: late supervision orders escalate to them"))) }
                    @else { (lang.t("否", "no")) }
                }
            }
            div.actions {
                form method="post" action={ (base) (if d.user.disabled { "/enable" } else { "/disable" }) } {
                    input type="hidden" name="csrf" value=(csrf);
                    @if d.user.disabled {
                        button type="submit" { (lang.t("启用", "Enable")) }
                    } @else {
                        button.danger type="submit" { (lang.t("停用", "Disable")) }
                    }
                }
                form method="post" action={ (base) (if d.user.leader { "/not-leader" } else { "/leader" }) } {
                    input type="hidden" name="csrf" value=(csrf);
                    button.secondary type="submit" {
                        @if d.user.leader { (lang.t("取消单位负责人", "No longer unit leader")) }
                        @else { (lang.t("设为单位负责人", "Make unit leader")) }
                    }
                }
                form method="post" action={ (base) "/password" } {
                    input type="hidden" name="csrf" value=(csrf);
                    button.secondary type="submit" { (lang.t("重置密码", "Reset the password")) }
                }
            }
        }
        section.card #role {
            h2 { (lang.t("角色与单位", "Role and unit")) }
            form.filters method="post" action={ (base) "/role" } {
                input type="hidden" name="csrf" value=(csrf);
                label { (lang.t("角色", "Role")) (role_select(lang, &d.user.role)) }
                label { (lang.t("单位", "Unit")) (unit_select(&units, &d.user.unit)) }
                div.actions { button type="submit" { (lang.t("保存", "Save")) } }
            }
        }
        section.card #qualifications {
            h2 { (lang.t("任职资格：职称、技能等级与培训", "Qualifications: title, skill grade and trainings")) }
            @if !short.is_empty() {
                p.error #shortfalls { (lang.t("不符合任职条件：", "Falls short: ")) @for (i, r) in short.iter().enumerate() { @if i > 0 { "；" } (lang.t(&r.zh, &r.en)) } }
            }
            form.filters method="post" action={ (base) "/qualification" } {
                input type="hidden" name="csrf" value=(csrf);
                label { (lang.t("职称", "Title")) select name="title" {
                    @for t in Title::ALL { option value=(t.as_str()) selected[*t == q.title] { (lang.t(t.zh(), t.en())) } }
                } }
                label { (lang.t("技能等级", "Skill grade")) select name="skill" {
                    @for k in Skill::ALL { option value=(k.as_str()) selected[*k == q.skill] { (lang.t(k.zh(), k.en())) } }
                } }
                div.actions { button type="submit" { (lang.t("保存", "Save")) } }
            }
            @if !trainings.is_empty() {
                table.list #trainings {
                    thead { tr { th { (lang.t("培训", "Training")) } th { (lang.t("结业日期", "Completed")) } th { (lang.t("证书编号", "Certificate")) } th {} } }
                    tbody {
                        @for t in &trainings {
                            tr {
                                td data-label=(lang.t("培训", "Training")) { (course_name(lang, &t.course)) }
                                td data-label=(lang.t("结业日期", "Completed")) { (t.completed_on) }
                                td data-label=(lang.t("证书编号", "Certificate")) { (t.certificate) }
                                td {
                                    form method="post" action={ (base) "/remove-training" } {
                                        input type="hidden" name="csrf" value=(csrf);
                                        input type="hidden" name="id" value=(t.id);
                                        button.link type="submit" { (lang.t("删除", "Remove")) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            form.filters #training-form method="post" action={ (base) "/training" } {
                input type="hidden" name="csrf" value=(csrf);
                label { (lang.t("培训课程", "Course")) select name="course" {
                    @for (code, zh, en) in qualifications::COURSES { option value=(code) { (lang.t(zh, en)) } }
                } }
                label { (lang.t("结业日期", "Completed on")) input type="date" name="completed_on" required; }
                label { (lang.t("证书编号（选填）", "Certificate (optional)")) input type="text" name="certificate" maxlength="64"; }
                div.actions { button type="submit" { (lang.t("记录培训", "Record the training")) } }
            }
        }
        section.card #devices {
            h2 { (lang.t("设备", "Devices")) }
            @if d.devices.is_empty() { p.muted { (lang.t("尚未登录过。", "Never logged in.")) } }
            @else {
                table.list {
                    thead { tr {
                        th { (lang.t("设备", "Device")) } th { (lang.t("首次", "First seen")) }
                        th { (lang.t("最近同步", "Last sync")) } th { (lang.t("有效令牌", "Active tokens")) } th {}
                    } }
                    tbody {
                        @for dev in &d.devices {
                            tr {
                                td data-label=(lang.t("设备", "Device")) { code { (dev.device_id) } }
                                td data-label=(lang.t("首次", "First seen")) { (i18n::millis(dev.first_seen)) }
                                td data-label=(lang.t("最近同步", "Last sync")) { (i18n::millis(dev.last_seen)) }
                                td data-label=(lang.t("有效令牌", "Active tokens")) { (dev.active_tokens) }
                                td {
                                    @if dev.revoked_at.is_some() {
                                        (badge("bad", lang.t("已吊销", "revoked")))
                                        " "
                                        form.inline-form method="post" action={ "/admin/devices/" (urlencode(&dev.device_id)) "/restore" } {
                                            input type="hidden" name="csrf" value=(csrf);
                                            input type="hidden" name="back" value=(base);
                                            button.secondary type="submit" { (lang.t("允许重新登录", "Let it log in again")) }
                                        }
                                    } @else {
                                        form method="post" action={ "/admin/devices/" (urlencode(&dev.device_id)) "/revoke" } {
                                            input type="hidden" name="csrf" value=(csrf);
                                            input type="hidden" name="back" value=(base);
                                            button.danger type="submit" { (lang.t("吊销（手机丢失）", "Revoke (lost phone)")) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        section.card #sessions {
            h2 { (lang.t("浏览器会话", "Browser sessions")) }
            p.muted { (lang.t("重置密码、停用或更改角色、单位会结束此用户的全部会话和令牌。",
                "Resetting the password, disabling, or changing the role or unit ends every session and token of this user.")) }
            @if d.sessions.is_empty() { p.muted { (lang.t("没有有效的会话。", "No live sessions.")) } }
            @else {
                table.list {
                    thead { tr {
                        th { (lang.t("会话", "Session")) } th { (lang.t("登录时间", "Signed in")) }
                        th { (lang.t("到期", "Expires")) } th {}
                    } }
                    tbody {
                        @for s in &d.sessions {
                            tr {
                                td data-label=(lang.t("会话", "Session")) { code { (s.id.get(..12).unwrap_or(&s.id)) "…" } }
                                td data-label=(lang.t("登录时间", "Signed in")) { (i18n::millis(s.created_at)) }
                                td data-label=(lang.t("到期", "Expires")) { (i18n::millis(s.expires_at)) }
                                td {
                                    form method="post" action={ (base) "/end-session" } {
                                        input type="hidden" name="csrf" value=(csrf);
                                        input type="hidden" name="session" value=(s.id);
                                        button.danger type="submit" { (lang.t("结束会话", "End the session")) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        p { a href="/admin" { (lang.t("« 全部用户", "« All users")) } }
    };
    Ok(layout::page(&web, &base, lang.t("用户", "User"), body).into_response())
}

fn course_name(lang: Lang, code: &str) -> String {
    qualifications::COURSES
        .iter()
        .find(|c| c.0 == code)
        .map(|c| lang.t(c.1, c.2).to_string())
        .unwrap_or_else(|| code.to_string())
}

/// `GET /admin/units`: every unit, its people, jobs and the reference data in force.
pub async fn units(State(env): State<Arc<Env>>, web: Web) -> Result<Response, Shown> {
    let lang = web.lang;
    let who = web.session.who.clone();
    let list = env
        .blocking(move |env| admin::units(env, &who))
        .await
        .page(lang)?;
    let body = html! {
        h1 { (lang.t("系统管理 · 单位", "Administration · units")) }
        p.small {
            (lang.t("先新建单位，再在用户管理中新建其用户。", "Create a unit first, then its users (Users)."))
        }
        section.card #units {
            table.list {
                thead { tr {
                    th { (lang.t("单位", "Unit")) } th { (lang.t("人员", "People")) }
                    th { (lang.t("单位负责人", "Leaders")) } th { (lang.t("工单（超期）", "Jobs (overdue)")) }
                    th { (lang.t("规则集 / 权限策略", "Rule set / write policy")) } th { (lang.t("电网网格（受限）", "Grid cells (restricted)")) }
                } }
                tbody {
                    @for u in &list {
                        tr data-unit=(u.unit) {
                            td data-label=(lang.t("单位", "Unit")) {
                                strong { (u.name) } " " code { (u.unit) } br;
                                a.small href={ "/admin/units/" (urlencode(&u.unit)) } { (lang.t("编辑", "edit")) } " · "
                                a.small href={ "/public/" (urlencode(&u.unit)) } { (lang.t("公示页", "public page")) }
                            }
                            td data-label=(lang.t("人员", "People")) {
                                @for (i, (r, n)) in u.roles.iter().enumerate() {
                                    @if i > 0 { "，" } (i18n::role(lang, r)) " " (n)
                                }
                            }
                            td data-label=(lang.t("单位负责人", "Leaders")) {
                                @if u.leaders.is_empty() {
                                    (badge("bad", lang.t("未设置：逾期督办无人接收", "none: late orders reach nobody")))
                                } @else { (u.leaders.join("，")) }
                            }
                            td data-label=(lang.t("工单（超期）", "Jobs (overdue)")) {
                                (u.jobs)
                                @if u.overdue > 0 { " " (badge("overdue", &u.overdue.to_string())) }
                            }
                            td data-label=(lang.t("规则集 / 权限策略", "Rule set / write policy")) { code { (u.rule_set) } br; code { (u.policy) } }
                            td data-label=(lang.t("电网网格（受限）", "Grid cells (restricted)")) {
                                a href={ "/admin/grid?unit=" (urlencode(&u.unit)) } { (u.grid_cells) }
                                @if u.restricted > 0 { " " (badge("warn", &u.restricted.to_string())) }
                            }
                        }
                    }
                }
            }
        }
        section.card #new-unit {
            h2 { (lang.t("新建单位", "New unit")) }
            form.filters method="post" action="/admin/units" {
                input type="hidden" name="csrf" value=(web.session.csrf);
                label { (lang.t("代码（字母、数字、- _ .）", "Code (letters, digits, - _ .)")) input type="text" name="unit" required maxlength="64" pattern="[A-Za-z0-9._\\-]+"; }
                label { (lang.t("名称", "Name")) input type="text" name="name" required maxlength="64"; }
                div.actions { button type="submit" { (lang.t("新建", "Create")) } }
            }
        }
        p { a href="/admin" { (lang.t("« 用户管理", "« Users")) } " · " a href="/admin/reference" { (lang.t("基础数据 »", "Reference data »")) } }
    };
    Ok(layout::page(&web, "/admin/units", lang.t("单位", "Units"), body).into_response())
}

/// `GET /admin/units/{unit}`: a unit's record as customers see it.
pub async fn unit(
    State(env): State<Arc<Env>>,
    web: Web,
    Path(unit): Path<String>,
) -> Result<Response, Shown> {
    let lang = web.lang;
    let who = web.session.who.clone();
    let u = env
        .blocking(move |env| {
            admin::require_admin(&who, "修改单位", "change units")?;
            crate::service::units::get(env, &unit)
        })
        .await
        .page(lang)?;
    let here = format!("/admin/units/{}", urlencode(&u.unit));
    let body = html! {
        h1 { (lang.t("单位信息", "Unit")) " · " code { (u.unit) } }
        p.small.muted { (lang.t("客户在网上办电页面、回执和报装指南上看到的是以下信息，而不是单位代码。",
            "Customers see these on the public pages, receipts and guides, never the unit's code.")) }
        form.stack.card #unit-form method="post" action=(here) {
            input type="hidden" name="csrf" value=(web.session.csrf);
            label { (lang.t("名称（如 邾县供电公司）", "Name (e.g. 邾县供电公司)")) input type="text" name="name" required maxlength="64" value=(u.name); }
            label { (lang.t("营业厅地址", "Service hall address")) input type="text" name="address" maxlength="200" value=(u.address); }
            label { (lang.t("营业时间", "Opening hours")) input type="text" name="hall_hours" maxlength="200" value=(u.hall_hours); }
            label { (lang.t("服务电话", "Hotline")) input type="text" name="hotline" maxlength="32" value=(u.hotline); }
            div.actions { button type="submit" { (lang.t("保存", "Save")) } }
        }
        p { a href="/admin/units" { (lang.t("« 单位", "« Units")) } }
    };
    Ok(layout::page(&web, &here, lang.t("单位信息", "Unit"), body).into_response())
}

/// `POST /admin/units/{unit}`: changes a unit's record.
pub async fn update_unit(
    State(env): State<Arc<Env>>,
    web: Web,
    Path(unit): Path<String>,
    body: Bytes,
) -> Result<Response, Shown> {
    let f = super::Form::parse(&body);
    check_csrf(&web, f.get("csrf"))?;
    let who = web.session.who.clone();
    let record = crate::service::units::Unit {
        unit: unit.clone(),
        name: f.get("name").to_string(),
        address: f.get("address").to_string(),
        hall_hours: f.get("hall_hours").to_string(),
        hotline: f.get("hotline").to_string(),
    };
    env.blocking(move |env| crate::service::units::update(env, &who, &record))
        .await
        .page(web.lang)?;
    Ok(Redirect::to("/admin/units#units").into_response())
}

/// `POST /admin/units`: a new unit.
pub async fn create_unit(
    State(env): State<Arc<Env>>,
    web: Web,
    body: Bytes,
) -> Result<Response, Shown> {
    let f = super::Form::parse(&body);
    check_csrf(&web, f.get("csrf"))?;
    let who = web.session.who.clone();
    let (unit, name) = (f.get("unit").to_string(), f.get("name").to_string());
    env.blocking(move |env| crate::service::units::create(env, &who, &unit, &name))
        .await
        .page(web.lang)?;
    Ok(Redirect::to("/admin/units#units").into_response())
}

/// `POST /admin/users/{username}/{action}`: disable, enable, leader, not-leader, password, role,
/// end-session.
pub async fn act(
    State(env): State<Arc<Env>>,
    web: Web,
    Path((username, action)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, Shown> {
    let f = super::Form::parse(&body);
    check_csrf(&web, f.get("csrf"))?;
    let who = web.session.who.clone();
    let u = username.clone();
    let back = format!("/admin/users/{}", urlencode(&username));
    match action.as_str() {
        "disable" | "enable" => {
            let off = action == "disable";
            env.blocking(move |env| admin::set_disabled(env, &who, &u, off))
                .await
                .page(web.lang)?;
        }
        "leader" | "not-leader" => {
            let on = action == "leader";
            env.blocking(move |env| admin::set_leader(env, &who, &u, on))
                .await
                .page(web.lang)?;
        }
        "password" => {
            let pw = env
                .blocking(move |env| admin::reset_password(env, &who, &u))
                .await
                .page(web.lang)?;
            return Ok(password_page(&web, &username, &pw));
        }
        "role" => {
            let (r, unit) = (f.get("role").to_string(), f.get("unit").to_string());
            env.blocking(move |env| admin::set_role_unit(env, &who, &u, &r, &unit))
                .await
                .page(web.lang)?;
        }
        "qualification" => {
            let (t, k) = (f.get("title").to_string(), f.get("skill").to_string());
            env.blocking(move |env| qualifications::set(env, &who, &u, &t, &k))
                .await
                .page(web.lang)?;
        }
        "training" => {
            let (c, d, n) = (
                f.get("course").to_string(),
                f.get("completed_on").to_string(),
                f.get("certificate").to_string(),
            );
            env.blocking(move |env| qualifications::add_training(env, &who, &u, &c, &d, &n))
                .await
                .page(web.lang)?;
        }
        "remove-training" => {
            let id = f.get("id").to_string();
            env.blocking(move |env| qualifications::remove_training(env, &who, &u, &id))
                .await
                .page(web.lang)?;
        }
        "end-session" => {
            let session = f.get("session").to_string();
            env.blocking(move |env| admin::end_session(env, &who, &u, &session))
                .await
                .page(web.lang)?;
        }
        _ => return Err(Shown(web.lang, crate::error::ServerError::NotFound)),
    }
    Ok(Redirect::to(&back).into_response())
}

/// `POST /admin/devices/{id}/{revoke|restore}`: a lost phone, or letting it back.
pub async fn device(
    State(env): State<Arc<Env>>,
    web: Web,
    Path((device, action)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, Shown> {
    let f = super::Form::parse(&body);
    check_csrf(&web, f.get("csrf"))?;
    let back = super::local_path(f.get("back"))
        .unwrap_or("/admin")
        .to_string();
    let who = web.session.who.clone();
    match action.as_str() {
        "revoke" => env
            .blocking(move |env| admin::revoke_device(env, &who, &device).map(|_| ()))
            .await
            .page(web.lang)?,
        "restore" => env
            .blocking(move |env| admin::restore_device(env, &who, &device))
            .await
            .page(web.lang)?,
        _ => return Err(Shown(web.lang, crate::error::ServerError::NotFound)),
    }
    Ok(Redirect::to(&back).into_response())
}
