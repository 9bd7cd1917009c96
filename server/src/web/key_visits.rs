//! The job page's card for an important customer's visit plan (重要客户“1+1+1”走访): the plan
//! and the visits recorded on the customer manager's phone, and for the counter and dispatch a
//! form to set the plan.

use super::{Form, ShowErr, Shown, Web, check_csrf};
use crate::i18n::Lang;
use crate::service::Env;
use crate::service::key_visits::{self, PlanInput};
use crate::service::view::JobView;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use std::sync::Arc;

/// The unit's active users, `(username, display name, role)`, for the form's choices.
pub type People = Vec<(String, String, String)>;

fn choose(
    lang: Lang,
    name: &str,
    people: &People,
    current: Option<&str>,
    only: Option<&str>,
) -> Markup {
    html! {
        select name=(name) required {
            option value="" { "—" }
            @for (u, d, r) in people.iter().filter(|(_, _, r)| only.is_none_or(|o| o == r)) {
                option value=(u) selected[current == Some(u.as_str())] { (d) " (" (u) ", " (crate::i18n::role(lang, r)) ")" }
            }
        }
    }
}

/// The card: the plan, the next visit due, the visits, and the form for those who may.
pub fn card(env: &Env, web: &Web, v: &JobView, people: &People) -> Markup {
    let lang = web.lang;
    let may = key_visits::may_plan(env, &web.session.who);
    let job = &v.job;
    let p = &job.visit_plan;
    let important = job
        .application
        .importance
        .is_some_and(|i| i != field_core::Importance::Normal);
    if !may && p.every_days.is_none() {
        return html! {};
    }
    let next = field_core::agenda::next_key_visit(job);
    let today = field_core::job::local_date(chrono::Utc::now());
    html! {
        section.card #key-visit-plan {
            h2 { (lang.t("重要客户走访（“1+1+1”）", "Important-customer visits (“1+1+1”)")) }
            @if let Some(every) = p.every_days {
                dl.fields {
                    dt { (lang.t("带队公司领导", "Led by")) } dd { (p.leader_name.as_deref().unwrap_or("—")) }
                    dt { (lang.t("网格经理", "Grid manager")) } dd { (p.grid_manager_name.as_deref().unwrap_or("—")) }
                    dt { (lang.t("客户经理", "Customer manager")) } dd { (p.customer_manager_name.as_deref().unwrap_or("—")) }
                    dt { (lang.t("走访周期", "Every")) } dd { (every) (lang.t(" 天", " days")) }
                    @if let Some(n) = next {
                        dt { (lang.t("下次走访", "Next visit due")) }
                        dd #next-visit {
                            (n)
                            @if n < today { " " (super::layout::badge("overdue", lang.t("已逾期", "late"))) }
                        }
                    }
                }
                p.small.muted { (lang.t("走访记录由客户经理在手机上填写（见下方“重要客户走访记录”）。", "Visits are recorded on the customer manager's phone (see the visits below).")) }
            } @else {
                p.muted {
                    @if important { (lang.t("重要客户，尚未制定走访计划。", "An important customer without a visit plan yet.")) }
                    @else { (lang.t("尚无走访计划。", "No visit plan.")) }
                }
            }
            @if may {
                details.no-print #visit-plan-form open[important && p.every_days.is_none()] {
                    summary { (lang.t("制定或修改走访计划", "Set the visit plan")) }
                    form.stack method="post" action={ "/jobs/" (job.id) "/visit-plan" } {
                        input type="hidden" name="csrf" value=(web.session.csrf);
                        label { (lang.t("带队公司领导", "Leading company officer")) (choose(lang, "leader", people, p.leader.as_deref(), None)) }
                        label { (lang.t("网格经理", "Grid manager")) (choose(lang, "grid_manager", people, p.grid_manager.as_deref(), None)) }
                        label { (lang.t("客户经理", "Customer manager")) (choose(lang, "customer_manager", people, p.customer_manager.as_deref().or(job.assignment.customer_manager.as_deref()), Some("customer_manager"))) }
                        label { (lang.t("走访周期（天）", "Every (days)"))
                            input type="number" name="every_days" min="1" max="366" required value=(p.every_days.unwrap_or(90)); }
                        label { (lang.t("首次走访日期", "First visit due"))
                            input type="date" name="starts_on" required value=(p.starts_on.unwrap_or(today)); }
                        div.actions { button type="submit" { (lang.t("保存走访计划", "Save the plan")) } }
                    }
                }
            }
        }
    }
}

/// `POST /jobs/{id}/visit-plan`.
pub async fn set_plan(
    State(env): State<Arc<Env>>,
    web: Web,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, Shown> {
    let f = Form::parse(&body);
    check_csrf(&web, f.get("csrf"))?;
    let input = PlanInput {
        leader: f.get("leader").to_string(),
        grid_manager: f.get("grid_manager").to_string(),
        customer_manager: f.get("customer_manager").to_string(),
        every_days: f.get("every_days").to_string(),
        starts_on: f.get("starts_on").to_string(),
    };
    let (who, i) = (web.session.who.clone(), id.clone());
    env.blocking(move |env| key_visits::set_plan(env, &who, &i, &input))
        .await
        .page(web.lang)?;
    Ok(Redirect::to(&format!("/jobs/{id}?done=visit_plan#key-visit-plan")).into_response())
}
