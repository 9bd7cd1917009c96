//! 派工 on a job's page: the counter assigns the customer manager (recording whether the customer
//! chose them from the published list) and appoints the project manager (with who approved it).

use super::{Form, ShowErr, Shown, Web, check_csrf};
use crate::service::Env;
use crate::service::assignment::{self, AssignInput, PmLoad};
use crate::service::public::PublicManager;
use crate::service::view::JobView;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use std::sync::Arc;

/// The candidates the form offers for a job's unit.
pub struct Candidates {
    pub customer_managers: Vec<PublicManager>,
    pub project_managers: Vec<PmLoad>,
    /// Where each candidate falls short of the seed's conditions (任职条件), by user name.
    pub shortfalls: std::collections::HashMap<String, Vec<field_core::rules::Reason>>,
    /// Whether the unit blocks assigning them (else a warning).
    pub blocks: bool,
}

impl Candidates {
    fn flag(&self, lang: crate::i18n::Lang, username: &str) -> &'static str {
        match self.shortfalls.get(username) {
            Some(s) if !s.is_empty() => lang.t(" ⚠ 资格不符", " ⚠ falls short"),
            _ => "",
        }
    }
}

/// Where the candidates fall short, for the counter's forms.
pub fn shortfalls_card(lang: crate::i18n::Lang, c: &Candidates) -> Markup {
    let short: Vec<(&String, &Vec<field_core::rules::Reason>)> =
        c.shortfalls.iter().filter(|(_, r)| !r.is_empty()).collect();
    if short.is_empty() {
        return html! {};
    }
    let mut short = short;
    short.sort_by(|a, b| a.0.cmp(b.0));
    html! {
        div.notice.small #qualification-warning {
            @if c.blocks {
                (lang.t("本单位规则：不符合任职条件的经理不能派工。", "This unit's rules: a manager who falls short cannot be assigned."))
            } @else {
                (lang.t("提示：以下经理不符合任职条件，派工前请核实。", "Note: these managers fall short of the conditions; check before assigning."))
            }
            ul { @for (u, reasons) in short { li { code { (u) } "：" @for (i, r) in reasons.iter().enumerate() { @if i > 0 { "；" } (lang.t(&r.zh, &r.en)) } } } }
        }
    }
}

/// Loads the candidates when `who` may assign (else `None`: no form).
pub fn candidates(
    env: &Env,
    who: &crate::authz::Principal,
    unit: &str,
) -> Result<Option<Candidates>, crate::error::ServerError> {
    if !assignment::may_assign(env, who) {
        return Ok(None);
    }
    let customer_managers = assignment::customer_managers(env, unit)?;
    let project_managers = assignment::project_managers(env, unit)?;
    let quals = crate::service::qualifications::of_unit(env, unit)?;
    let none = field_core::qualification::Qualifications::default();
    let mut shortfalls = std::collections::HashMap::new();
    for (name, role) in customer_managers
        .iter()
        .map(|m| (&m.username, field_core::Role::CustomerManager))
        .chain(
            project_managers
                .iter()
                .map(|p| (&p.username, field_core::Role::ProjectManager)),
        )
    {
        let q = quals.get(name).unwrap_or(&none);
        shortfalls.insert(name.clone(), field_core::qualification::shortfalls(role, q));
    }
    let today = field_core::job::local_date(chrono::Utc::now());
    let blocks = env
        .rules()
        .in_force(unit, today)
        .thresholds
        .manager_qualification
        == field_core::qualification::QualificationRule::Block;
    Ok(Some(Candidates {
        customer_managers,
        project_managers,
        shortfalls,
        blocks,
    }))
}

/// The form, for those who may assign.
pub fn card(web: &Web, v: &JobView, c: Option<&Candidates>) -> Markup {
    let Some(c) = c else {
        return html! {};
    };
    let lang = web.lang;
    let a = &v.job.assignment;
    let released = a.pm_released_at.is_some();
    html! {
        details.card.no-print #assign-form open[a.customer_manager.is_none()] {
            summary { strong { (lang.t("派工：客户经理与项目经理", "Assign the customer and project managers")) } }
            form.stack method="post" action={ "/jobs/" (v.job.id) "/assignment" } {
                input type="hidden" name="csrf" value=(web.session.csrf);
                label {
                    (lang.t("客户经理（办理数 · 在办数 · 满意度）", "Customer manager (jobs handled · open · satisfaction)"))
                    select name="customer_manager" {
                        option value="" { (lang.t("（不变）", "(unchanged)")) }
                        @for m in &c.customer_managers {
                            option value=(m.username) selected[a.customer_manager.as_deref() == Some(m.username.as_str())] {
                                (m.name) "（" (m.work_number) "）· " (m.handled) " · " (m.open) " · "
                                (m.satisfaction.map(|s| format!("{s:.1}")).unwrap_or_else(|| "—".into()))
                                (c.flag(lang, &m.username))
                            }
                        }
                    }
                }
                label.inline {
                    input type="checkbox" name="customer_chose" value="1" checked[a.customer_chose_manager == Some(true)];
                    " " (lang.t("客户从公示名单中自选了该客户经理", "The customer chose this manager from the published list"))
                }
                @if released {
                    p.muted { (lang.t("配套工程已结算，项目经理已自动解聘。", "The project is settled; its project manager was released.")) }
                } @else {
                    label {
                        (lang.t("项目经理（在建配套工程数）", "Project manager (supporting projects running)"))
                        select name="project_manager" {
                            option value="" { (lang.t("（不变）", "(unchanged)")) }
                            @for p in &c.project_managers {
                                option value=(p.username) selected[a.project_manager.as_deref() == Some(p.username.as_str())] {
                                    (p.name) "（" (p.username) "）· " (p.running) (c.flag(lang, &p.username))
                                }
                            }
                        }
                    }
                    label {
                        (lang.t("聘任批准人（主管副总经理）", "Appointment approved by (deputy general manager)"))
                        input type="text" name="approved_by" maxlength="100";
                    }
                }
                (shortfalls_card(lang, c))
                div.actions { button type="submit" { (lang.t("保存派工", "Save the assignment")) } }
            }
        }
    }
}

/// `POST /jobs/{id}/assignment`.
pub async fn assign(
    State(env): State<Arc<Env>>,
    web: Web,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, Shown> {
    let f = Form::parse(&body);
    check_csrf(&web, f.get("csrf"))?;
    let input = AssignInput {
        customer_manager: f.get("customer_manager").to_string(),
        customer_chose: f.get("customer_chose") == "1",
        project_manager: f.get("project_manager").to_string(),
        approved_by: f.get("approved_by").to_string(),
    };
    let (who, i) = (web.session.who.clone(), id.clone());
    env.blocking(move |env| assignment::assign(env, &who, &i, &input))
        .await
        .page(web.lang)?;
    Ok(Redirect::to(&format!("/jobs/{id}?done=assigned#assignment")).into_response())
}
