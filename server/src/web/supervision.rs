//! 督办 in the browser: the orders on a job's page (with the dispatcher's forms to issue and close
//! them), the board's list of open orders, and their POST handlers.

use super::layout::badge;
use super::{Form, ShowErr, Shown, Web, check_csrf};
use crate::i18n::{self, Lang};
use crate::service::Env;
use crate::service::supervision::{self, IssueInput};
use crate::service::view::JobView;
use crate::store::SupervisionRow;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use field_core::job::SupervisionOrder;
use field_core::sla::Stage;
use maud::{Markup, html};
use std::sync::Arc;

/// Where an order stands: `closed`, `answered`, `escalated`, `late` (unanswered past its
/// deadline, not escalated yet) or `open`.
fn state(closed: bool, answered: bool, escalated: bool, due_on: &str, today: &str) -> &'static str {
    if closed {
        "closed"
    } else if answered {
        "answered"
    } else if escalated {
        "escalated"
    } else if due_on < today {
        "late"
    } else {
        "open"
    }
}

fn state_badge(lang: Lang, code: &str) -> Markup {
    let (class, zh, en) = match code {
        "closed" => ("closed", "已办结", "closed"),
        "answered" => ("ok", "已答复", "answered"),
        "escalated" => (
            "overdue",
            "已升级至单位负责人",
            "escalated to the unit's leader",
        ),
        "late" => ("overdue", "逾期未答复", "late, unanswered"),
        _ => ("warn", "待答复", "awaiting an answer"),
    };
    badge(class, lang.t(zh, en))
}

fn order_state(o: &SupervisionOrder, today: &str) -> &'static str {
    state(
        !o.is_open(),
        o.is_answered(),
        o.escalation.escalated_at.is_some(),
        &o.due_on.map(|d| d.to_string()).unwrap_or_default(),
        today,
    )
}

fn today() -> String {
    field_core::job::local_date(chrono::Utc::now()).to_string()
}

fn stage_name(lang: Lang, code: Option<&str>) -> String {
    code.map(|c| super::board::stage_label(lang, c))
        .unwrap_or_else(|| lang.t("整体", "whole job").to_string())
}

/// The job page's 督办 card: every order, and for dispatchers the forms.
pub fn card(env: &Env, web: &Web, v: &JobView) -> Markup {
    let lang = web.lang;
    let may = supervision::may_issue(env, &web.session.who);
    let job = &v.job;
    if job.supervision.is_empty() && !may {
        return html! {};
    }
    let today = today();
    let mut orders: Vec<(&String, &SupervisionOrder)> = job.supervision.iter().collect();
    orders.sort_by_key(|(id, o)| (o.issued_at, *id));
    let a = &job.assignment;
    let managers: Vec<(&str, String)> = [
        (
            "customer_manager",
            lang.t("客户经理", "customer manager"),
            &a.customer_manager,
            &a.customer_manager_name,
        ),
        (
            "project_manager",
            lang.t("项目经理", "project manager"),
            &a.project_manager,
            &a.project_manager_name,
        ),
    ]
    .into_iter()
    .filter_map(|(code, role, user, name)| {
        let user = user.as_deref().filter(|u| !u.is_empty())?;
        Some((code, format!("{role}：{}", name.as_deref().unwrap_or(user))))
    })
    .collect();
    let csrf = &web.session.csrf;
    html! {
        section.card #supervision {
            h2 { (lang.t("督办", "Supervision orders")) " · " (orders.len()) }
            @if orders.is_empty() {
                p.muted { (lang.t("尚无督办。", "No supervision orders yet.")) }
            }
            @for (id, o) in &orders {
                @let st = order_state(o, &today);
                article.order id={ "order-" (id) } data-state=(st) {
                    p {
                        (state_badge(lang, st)) " "
                        strong { (o.reason.as_deref().unwrap_or("")) }
                    }
                    dl.fields {
                        dt { (lang.t("被督办人", "Addressed to")) }
                        dd { (o.manager_name.as_deref().or(o.manager.as_deref()).unwrap_or("")) }
                        dt { (lang.t("环节", "Stage")) }
                        dd { (stage_name(lang, o.stage.as_deref())) }
                        dt { (lang.t("办结期限", "Deadline")) }
                        dd { (o.due_on.map(|d| d.to_string()).unwrap_or_default()) }
                        dt { (lang.t("督办人", "Issued by")) }
                        dd {
                            (o.issued_by_name.as_deref().or(o.issued_by.as_deref()).unwrap_or(""))
                            " · " (o.issued_at.map(i18n::instant).unwrap_or_default())
                        }
                        @if let Some(t) = &o.answer.text {
                            dt { (lang.t("答复", "Answer")) }
                            dd {
                                (t) br;
                                span.small.muted {
                                    @if o.answer.answered_by == o.manager {
                                        (o.manager_name.as_deref().or(o.manager.as_deref()).unwrap_or(""))
                                    } @else {
                                        (o.answer.answered_by.as_deref().unwrap_or(""))
                                    }
                                    " · "
                                    (o.answer.answered_at.map(i18n::instant).unwrap_or_default())
                                }
                            }
                        }
                        @if let Some(at) = o.escalation.escalated_at {
                            dt { (lang.t("升级", "Escalated")) }
                            dd {
                                (i18n::instant(at)) " → "
                                @match o.escalation.leader_names.as_deref().filter(|n| !n.is_empty()) {
                                    Some(n) => (n),
                                    None => span.muted { (lang.t("（本单位未设负责人）", "(the unit has no leader set)")) },
                                }
                            }
                        }
                        @if let Some(at) = o.closed_at {
                            dt { (lang.t("办结", "Closed")) }
                            dd { (i18n::instant(at)) " " (o.remarks.as_deref().unwrap_or("")) }
                        }
                    }
                    @if may && o.is_open() {
                        form.inline-form.no-print method="post" action={ "/jobs/" (job.id) "/supervision/" (id) "/close" } {
                            input type="hidden" name="csrf" value=(csrf);
                            label {
                                (lang.t("办结意见", "Remarks"))
                                input type="text" name="remarks" maxlength=(supervision::TEXT_MAX);
                            }
                            button.secondary type="submit" { (lang.t("办结", "Close")) }
                        }
                    }
                }
            }
            @if may {
                @if managers.is_empty() {
                    p.muted.no-print { (lang.t("工单尚未指派经理，暂不能督办。", "The job has no manager yet: nobody to order.")) }
                } @else {
                    details.no-print #supervision-form open[orders.is_empty()] {
                        summary { (lang.t("发起督办", "Issue a supervision order")) }
                        form.stack method="post" action={ "/jobs/" (job.id) "/supervision" } {
                            input type="hidden" name="csrf" value=(csrf);
                            fieldset {
                                legend { (lang.t("督办对象", "Addressed to")) }
                                @for (i, (code, label)) in managers.iter().enumerate() {
                                    label.inline {
                                        input type="radio" name="to" value=(code) required checked[i == 0];
                                        " " (label)
                                    }
                                }
                            }
                            label {
                                (lang.t("环节", "Stage"))
                                select name="stage" {
                                    option value="" { (lang.t("整体", "whole job")) }
                                    @for c in v.time_limits.clocks.iter().filter(|c| c.started_on.is_some() && c.ended_on.is_none()) {
                                        option value=(c.stage.code()) { (lang.t(c.stage.zh(), c.stage.en())) }
                                    }
                                }
                            }
                            label {
                                (lang.t("督办事由", "Reason"))
                                textarea name="reason" required maxlength=(supervision::TEXT_MAX) {}
                            }
                            label {
                                (lang.t("办结期限", "Deadline"))
                                input type="date" name="due_on" required min=(today) value=(today);
                            }
                            div.actions { button type="submit" { (lang.t("发起督办", "Issue the order")) } }
                        }
                    }
                }
            }
        }
    }
}

/// The board's list of open orders; those escalated to `me` are marked.
pub fn board_list(lang: Lang, rows: &[SupervisionRow], today: &str, me: &str) -> Markup {
    html! {
        section.card #supervision-orders {
            h2 { (lang.t("督办", "Supervision orders")) " · " (rows.len()) }
            @if rows.is_empty() {
                p.muted { (lang.t("没有未办结的督办。", "No open supervision orders.")) }
            } @else {
                table.list {
                    thead { tr {
                        th { (lang.t("工单号", "Job no.")) }
                        th { (lang.t("状态", "State")) }
                        th { (lang.t("被督办人", "Addressed to")) }
                        th { (lang.t("事由", "Reason")) }
                        th { (lang.t("期限", "Deadline")) }
                    } }
                    tbody {
                        @for r in rows {
                            @let st = state(r.closed_at.is_some(), r.answered_at.is_some(), r.escalated_at.is_some(), &r.due_on, today);
                            @let mine = r.leaders.as_deref().is_some_and(|l| l.split(',').any(|u| u == me));
                            tr data-state=(st) class=[mine.then_some("key")] {
                                td data-label=(lang.t("工单号", "Job no.")) {
                                    a href={ "/jobs/" (r.job_id) "#order-" (r.order_id) } { (r.job_no) }
                                }
                                td data-label=(lang.t("状态", "State")) {
                                    (state_badge(lang, st))
                                    @if mine { " " strong { (lang.t("升级给我", "escalated to me")) } }
                                }
                                td.who data-label=(lang.t("被督办人", "Addressed to")) { (r.manager_name) }
                                td data-label=(lang.t("事由", "Reason")) {
                                    (r.reason)
                                    @if let Some(s) = r.stage.as_deref().and_then(Stage::parse) {
                                        " " span.small.muted { "（" (lang.t(s.zh(), s.en())) "）" }
                                    }
                                }
                                td data-label=(lang.t("期限", "Deadline")) { (r.due_on) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn done(id: &str, what: &str) -> Response {
    Redirect::to(&format!("/jobs/{id}?done={what}#supervision")).into_response()
}

/// `POST /jobs/{id}/supervision`.
pub async fn issue(
    State(env): State<Arc<Env>>,
    web: Web,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, Shown> {
    let f = Form::parse(&body);
    check_csrf(&web, f.get("csrf"))?;
    let input = IssueInput {
        to: f.get("to").to_string(),
        stage: f.get("stage").to_string(),
        reason: f.get("reason").to_string(),
        due_on: f.get("due_on").to_string(),
    };
    let (who, i) = (web.session.who.clone(), id.clone());
    env.blocking(move |env| supervision::issue(env, &who, &i, &input))
        .await
        .page(web.lang)?;
    Ok(done(&id, "supervision"))
}

/// `POST /jobs/{id}/supervision/{order}/close`.
pub async fn close(
    State(env): State<Arc<Env>>,
    web: Web,
    Path((id, order)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<Response, Shown> {
    let f = Form::parse(&body);
    check_csrf(&web, f.get("csrf"))?;
    let remarks = f.get("remarks").to_string();
    let (who, i) = (web.session.who.clone(), id.clone());
    env.blocking(move |env| supervision::close(env, &who, &i, &order, &remarks))
        .await
        .page(web.lang)?;
    Ok(done(&id, "supervision_closed"))
}
