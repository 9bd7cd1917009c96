//! The counter's queue of online applications (`/applications`): check each one (the form, its
//! photo, the manager the customer chose), then accept it on that one document (一证受理) or
//! decline it with a reason the applicant reads.

use super::layout::{self, badge};
use super::{Form, ShowErr, Shown, Web, check_csrf, urlencode};
use crate::service::Env;
use crate::service::applications::{self, AcceptInput, ApplicationView};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use std::sync::Arc;

/// `?state=` of the queue.
#[derive(serde::Deserialize, Default)]
pub struct QueueQuery {
    #[serde(default)]
    state: Option<String>,
}

fn state_badge(web: &Web, a: &ApplicationView) -> Markup {
    match a.state.as_str() {
        "pending" => badge("pending", web.t("待受理", "pending")),
        "declined" => badge("bad", web.t("不予受理", "declined")),
        _ => badge("ok", web.t("已受理", "accepted")),
    }
}

/// `GET /applications`: the unit's online applications, pending first by default.
pub async fn queue(
    State(env): State<Arc<Env>>,
    web: Web,
    Query(q): Query<QueueQuery>,
) -> Result<Response, Shown> {
    let lang = web.lang;
    let who = web.session.who.clone();
    let state = q.state.clone();
    let list = env
        .blocking(move |env| applications::queue(env, &who, state.as_deref()))
        .await
        .page(lang)?;
    let on = q.state.as_deref().unwrap_or("pending");
    let today = field_core::job::local_date(chrono::Utc::now());
    let calendar = env.calendar();
    let body = html! {
        h1 { (web.t("线上申请", "Online applications")) }
        nav.chips {
            @for (code, zh, en) in [("pending", "待受理", "Pending"), ("accepted", "已受理", "Accepted"), ("declined", "不予受理", "Declined"), ("all", "全部", "All")] {
                a.on[on == code] href={ "/applications?state=" (code) } { (web.t(zh, en)) }
            }
        }
        @if list.is_empty() {
            p.muted #queue-empty { (web.t("没有线上申请。", "No online applications.")) }
        } @else {
            table.list #queue {
                thead { tr {
                    th { (web.t("申请编号", "Number")) } th { (web.t("提交时间", "Filed")) }
                    th { (web.t("申请人", "Applicant")) } th { (web.t("业务类型", "Kind")) }
                    th { (web.t("自选客户经理", "Chosen manager")) } th { (web.t("状态", "State")) }
                } }
                tbody {
                    @for a in &list {
                        tr data-id=(a.id) {
                            td data-label=(web.t("申请编号", "Number")) { a href={ "/applications/" (a.id) } { (a.number) } }
                            td data-label=(web.t("提交时间", "Filed")) {
                                (crate::i18n::millis(a.filed_at.timestamp_millis()))
                                @if a.is_late(&calendar, today) {
                                    " " (badge("overdue", web.t("未当日受理", "not started the same day")))
                                }
                            }
                            td data-label=(web.t("申请人", "Applicant")) { (a.detail.name) }
                            td data-label=(web.t("业务类型", "Kind")) { (web.t(a.detail.kind.zh(), a.detail.kind.en())) }
                            td data-label=(web.t("自选客户经理", "Chosen manager")) {
                                @match &a.detail.manager { Some((_, n, w)) => { (n) "（" (w) "）" }, None => "—" }
                            }
                            td data-label=(web.t("状态", "State")) { (state_badge(&web, a)) }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page(
        &web,
        "/applications",
        web.t("线上申请", "Online applications"),
        body,
    )
    .into_response())
}

/// `GET /applications/{id}`: one application, with the forms to accept or decline it.
pub async fn detail(
    State(env): State<Arc<Env>>,
    web: Web,
    Path(id): Path<String>,
) -> Result<Response, Shown> {
    let lang = web.lang;
    let who = web.session.who.clone();
    let w = who.clone();
    let (a, candidates, collect_by) = env
        .blocking(move |env| {
            let a = applications::get(env, &who, &id)?;
            let candidates = super::assignment::candidates(env, &w, &a.unit)?;
            let today = field_core::job::local_date(chrono::Utc::now());
            Ok((a, candidates, env.calendar().add_working_days(today, 5)))
        })
        .await
        .page(lang)?;
    let d = &a.detail;
    let base = format!("/applications/{}", urlencode(&a.id));
    let body = html! {
        h1 { (web.t("线上申请", "Online application")) " · " (a.number) " " (state_badge(&web, &a)) }
        section.card #application {
            dl.fields {
                dt { (web.t("业务类型", "Kind")) } dd { (web.t(d.kind.zh(), d.kind.en())) }
                dt { (web.t("客户或单位名称", "Customer or company")) } dd #app-name { (d.name) }
                dt { (web.t("证件号码", "Document number")) } dd #app-id-number { (d.id_number) }
                dt { (web.t("联系电话", "Phone")) } dd { (d.phone) }
                dt { (web.t("用电地址", "Address")) } dd { (d.address) }
                dt { (web.t("申请容量", "Capacity")) } dd { @if let Some(c) = d.capacity_kva { (c) " kVA" } @else { "—" } }
                dt { (web.t("期望送电日期", "Wanted on")) } dd { @if let Some(w) = d.wanted_on { (w) } @else { "—" } }
                dt { (web.t("自选客户经理", "Chosen manager")) }
                dd #app-manager { @match &d.manager { Some((u, n, w)) => { (n) "（" (web.t("工号 ", "no. ")) (w) " · " code { (u) } "）" }, None => (web.t("未选择：由营业厅安排", "none: the counter assigns")) } }
                dt { (web.t("提交时间", "Filed")) } dd { (crate::i18n::millis(a.filed_at.timestamp_millis())) }
                @if let Some(r) = &a.reason { dt { (web.t("不予受理原因", "Declined because")) } dd #app-reason { (r) } }
                @if let Some(j) = &a.job_id { dt { (web.t("工单", "Job")) } dd { a #app-job href={ "/jobs/" (urlencode(j)) } { (web.t("查看工单", "Open the job")) } } }
            }
            figure {
                a href={ (base) "/photo/display" } {
                    img #app-photo src={ (base) "/photo/thumbnail" } alt=(web.t("证件照片", "ID photo")) width="240";
                }
                figcaption.small.muted { (web.t("证件照片（点击查看大图）", "ID photo (open for the large copy)")) }
            }
        }
        @if a.state == "pending" {
            section.card #accept {
                h2 { (web.t("受理（一证受理）", "Accept (on one document)")) }
                p.small.muted { (web.t("受理后生成工单：证件照作为收资凭证，其余资料标记为后补。", "Accepting makes the job: the photo proves its document group; the others are marked to be collected later.")) }
                form.stack method="post" action={ (base) "/accept" } {
                    input type="hidden" name="csrf" value=(web.session.csrf);
                    @if d.manager.is_none() {
                        label { (web.t("客户经理", "Customer manager"))
                            select name="customer_manager" {
                                option value="" { (web.t("（稍后派工）", "(assign later)")) }
                                @for m in candidates.iter().flat_map(|c| c.customer_managers.iter()) {
                                    option value=(m.username) {
                                        (m.name) "（" (m.work_number) "）· " (m.open) (web.t(" 件在办", " open"))
                                        @if candidates.as_ref().is_some_and(|c| c.shortfalls.get(&m.username).is_some_and(|r| !r.is_empty())) { (web.t(" ⚠ 资格不符", " ⚠ falls short")) }
                                    }
                                }
                            }
                        }
                    } @else {
                        p { (web.t("客户自选的客户经理将被派工。", "The customer manager the customer chose is assigned.")) }
                    }
                    @if let Some(c) = &candidates { (super::assignment::shortfalls_card(lang, c)) }
                    label { (web.t("其余资料补交期限", "Other documents to be collected by"))
                        input type="date" name="collect_by" value=(collect_by); }
                    div.actions { button #accept-button type="submit" { (web.t("受理", "Accept")) } }
                }
            }
            section.card #decline {
                h2 { (web.t("不予受理", "Decline")) }
                form.stack method="post" action={ (base) "/decline" } {
                    input type="hidden" name="csrf" value=(web.session.csrf);
                    label { (web.t("原因（申请人可见）", "Reason (the applicant reads it)"))
                        textarea name="reason" required maxlength="500" {} }
                    div.actions { button.danger type="submit" { (web.t("不予受理", "Decline")) } }
                }
            }
        }
        p { a href="/applications" { (web.t("« 线上申请", "« Online applications")) } }
    };
    Ok(layout::page(&web, &base, web.t("线上申请", "Online application"), body).into_response())
}

/// `GET /applications/{id}/photo/{role}`: the application's photo, for the counter only.
pub async fn photo(
    State(env): State<Arc<Env>>,
    web: Web,
    Path((id, role)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, Shown> {
    let lang = web.lang;
    let who = web.session.who.clone();
    let (sha, mime) = env
        .blocking(move |env| applications::photo(env, &who, &id, &role))
        .await
        .page(lang)?;
    crate::http::uploads::serve_blob(&env, &sha, mime, true, &headers)
        .await
        .page(lang)
}

/// `POST /applications/{id}/accept`.
pub async fn accept(
    State(env): State<Arc<Env>>,
    web: Web,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Shown> {
    let f = Form::parse(&body);
    check_csrf(&web, f.get("csrf"))?;
    let who = web.session.who.clone();
    let input = AcceptInput {
        customer_manager: f.get("customer_manager").to_string(),
        collect_by: Some(f.get("collect_by").to_string()).filter(|s| !s.is_empty()),
    };
    let job = env
        .blocking(move |env| applications::accept(env, &who, &id, &input))
        .await
        .page(web.lang)?;
    Ok(Redirect::to(&format!("/jobs/{}", urlencode(&job))).into_response())
}

/// `POST /applications/{id}/decline`.
pub async fn decline(
    State(env): State<Arc<Env>>,
    web: Web,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Shown> {
    let f = Form::parse(&body);
    check_csrf(&web, f.get("csrf"))?;
    let who = web.session.who.clone();
    let reason = f.get("reason").to_string();
    let back = format!("/applications/{}", urlencode(&id));
    env.blocking(move |env| applications::decline(env, &who, &id, &reason))
        .await
        .page(web.lang)?;
    Ok(Redirect::to(&back).into_response())
}
