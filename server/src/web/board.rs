//! 调度台 (the dispatch board): time-limit warnings per stage and per manager, and the list of
//! warnings, most urgent first. Every count links to the board filtered by it.

use super::layout::{self, badge};
use super::{ShowErr, Shown, Web};
use crate::i18n::Lang;
use crate::service::Env;
use crate::service::board::{self, BoardFilter};
use crate::service::listing;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use field_core::sla::Stage;
use maud::{Markup, html};
use std::sync::Arc;

/// A warning level's label.
pub fn warning_label(lang: Lang, code: &str) -> String {
    match code {
        "overdue" => lang.t("已超期", "overdue").into(),
        "due_soon" => lang.t("即将到期", "due soon").into(),
        other => match other.strip_prefix("used_") {
            Some(p) => format!("{}{p}%", lang.t("已用时限 ", "used ")),
            None => other.to_string(),
        },
    }
}

/// The badge class of a warning level.
fn warning_class(code: &str) -> &'static str {
    match code {
        "overdue" => "overdue",
        "due_soon" => "due_soon",
        _ => "warn",
    }
}

pub fn stage_label(lang: Lang, code: &str) -> String {
    Stage::parse(code)
        .map(|s| lang.t(s.zh(), s.en()).to_string())
        .unwrap_or_else(|| code.to_string())
}

fn link(filter: &BoardFilter, set: &[(&'static str, &str)]) -> String {
    super::filter_link("/board", filter.pairs(), set)
}

/// A count table: one row per key, one column per warning level.
fn matrix(
    lang: Lang,
    filter: &BoardFilter,
    levels: &[String],
    counts: &[(String, String, i64)],
    param: &'static str,
    label: &dyn Fn(&str) -> String,
    heading: &str,
) -> Markup {
    let mut keys: Vec<&str> = Vec::new();
    for (k, _, _) in counts {
        if !keys.contains(&k.as_str()) {
            keys.push(k);
        }
    }
    let cell = |k: &str, w: &str| {
        counts
            .iter()
            .find(|(a, b, _)| a == k && b == w)
            .map(|c| c.2)
            .unwrap_or(0)
    };
    html! {
        table.list.matrix {
            thead { tr {
                th { (heading) }
                @for w in levels { th { (warning_label(lang, w)) } }
                th { (lang.t("合计", "total")) }
            } }
            tbody {
                @for k in &keys {
                    tr {
                        td data-label=(heading) {
                            a href=(link(filter, &[(param, k)])) { (label(k)) }
                        }
                        @for w in levels {
                            @let n = cell(k, w);
                            td data-label=(warning_label(lang, w)) {
                                @if n > 0 {
                                    a href=(link(filter, &[(param, k), ("warning", w.as_str())])) {
                                        (badge(warning_class(w), &n.to_string()))
                                    }
                                } @else { span.muted { "0" } }
                            }
                        }
                        td data-label=(lang.t("合计", "total")) {
                            (counts.iter().filter(|(a, _, _)| a == k).map(|c| c.2).sum::<i64>())
                        }
                    }
                }
            }
        }
    }
}

/// `GET /board?…`.
pub async fn page(
    State(env): State<Arc<Env>>,
    web: Web,
    Query(filter): Query<BoardFilter>,
) -> Result<Response, Shown> {
    let lang = web.lang;
    let (who, f) = (web.session.who.clone(), filter.clone());
    let (b, people) = env
        .blocking(move |env| Ok((board::board(env, &who, &f)?, listing::people(env, &who)?)))
        .await
        .page(lang)?;
    let name = |u: &str| -> String {
        if u.is_empty() {
            return lang.t("（未派工）", "(unassigned)").to_string();
        }
        people
            .iter()
            .find(|(n, _, _)| n == u)
            .map(|(_, d, _)| d.clone())
            .unwrap_or_else(|| u.to_string())
    };
    let managers: Vec<(String, String)> = people
        .iter()
        .filter(|(_, _, r)| r == "customer_manager" || r == "project_manager")
        .map(|(u, d, _)| (u.clone(), format!("{d}（{u}）")))
        .collect();
    let any = lang.t("全部", "any");
    let total: i64 = b.counts.by_stage.iter().map(|c| c.2).sum();
    let body = html! {
        h1 { (lang.t("调度台 · 时限预警", "Dispatch board · time-limit warnings")) }
        details.card.filter-box open data-active=(filter.pairs().len()) {
            summary { (lang.t("筛选条件", "Filters")) }
            form.filters method="get" action="/board" {
                label {
                    (lang.t("环节", "Stage"))
                    select name="stage" {
                        option value="" { (any) }
                        @for s in Stage::ALL {
                            option value=(s.code()) selected[filter.stage == s.code()] { (lang.t(s.zh(), s.en())) }
                        }
                    }
                }
                label {
                    (lang.t("预警级别", "Warning"))
                    select name="warning" {
                        option value="" { (any) }
                        @for w in &b.levels {
                            option value=(w) selected[&filter.warning == w] { (warning_label(lang, w)) }
                        }
                    }
                }
                label {
                    (lang.t("客户经理或项目经理", "Customer or project manager"))
                    select name="manager" {
                        option value="" { (any) }
                        @for (u, d) in &managers {
                            option value=(u) selected[&filter.manager == u] { (d) }
                        }
                    }
                }
                label {
                    (lang.t("仅重点项目（绿色通道）", "Key projects only (green channel)"))
                    select name="key" {
                        option value="" { (any) }
                        option value="1" selected[filter.key == "1"] { (lang.t("是", "yes")) }
                    }
                }
                div.actions {
                    button type="submit" { (lang.t("筛选", "Filter")) }
                    a.button.secondary href="/board" { (lang.t("清除", "Clear")) }
                }
            }
        }
        section.card #by-stage {
            h2 { (lang.t("按环节", "By stage")) " · " (lang.t("共 ", "")) (total) (lang.t(" 项预警", " warnings")) }
            @if b.counts.by_stage.is_empty() {
                p.notice { (lang.t("没有时限预警。", "No time-limit warnings.")) }
            } @else {
                (matrix(lang, &filter, &b.levels, &b.counts.by_stage, "stage", &|s| stage_label(lang, s), lang.t("环节", "Stage")))
            }
        }
        @if !b.counts.by_manager.is_empty() {
            section.card #by-manager {
                h2 { (lang.t("按客户经理", "By customer manager")) }
                (matrix(lang, &filter, &b.levels, &b.counts.by_manager, "manager", &name, lang.t("客户经理", "Customer manager")))
            }
        }
        section.card #warnings {
            h2 { (lang.t("预警工单（最紧急在前）", "Warnings, most urgent first")) }
            @if b.rows.is_empty() {
                p.muted { (lang.t("没有符合条件的预警。", "No warnings match.")) }
            } @else {
                table.list {
                    thead { tr {
                        th { (lang.t("工单号", "Job no.")) } th { (lang.t("客户", "Customer")) }
                        th { (lang.t("环节", "Stage")) } th { (lang.t("到期日", "Due")) }
                        th { (lang.t("已用 / 时限（工作日）", "Used / limit (working days)")) }
                        th { (lang.t("预警", "Warning")) }
                        th { (lang.t("客户经理", "Customer manager")) } th { (lang.t("项目经理", "Project manager")) }
                    } }
                    tbody {
                        @for r in &b.rows {
                            tr class=[r.key_project.then_some("key")] {
                                td data-label=(lang.t("工单号", "Job no.")) {
                                    a href={ "/jobs/" (r.job_id) "#time-limits" } { (r.job_no) }
                                    @if r.key_project { " " (badge("key", lang.t("重点", "key"))) }
                                }
                                td data-label=(lang.t("客户", "Customer")) { (r.customer_name) }
                                td data-label=(lang.t("环节", "Stage")) {
                                    (stage_label(lang, &r.clock.stage))
                                    @if r.clock.paused { " " span.small.muted { (lang.t("（暂停计时）", "(paused)")) } }
                                }
                                td data-label=(lang.t("到期日", "Due")) { (r.clock.due_on.as_deref().unwrap_or("—")) }
                                td data-label=(lang.t("已用 / 时限（工作日）", "Used / limit (working days)")) {
                                    (r.clock.used_days) " / "
                                    @if r.clock.limit_days == 0 { (lang.t("当日", "same day")) } @else { (r.clock.limit_days) }
                                }
                                td data-label=(lang.t("预警", "Warning")) {
                                    @if let Some(w) = &r.clock.warning { (badge(warning_class(w), &warning_label(lang, w))) }
                                }
                                td.who data-label=(lang.t("客户经理", "Customer manager")) {
                                    (r.customer_manager.as_deref().map(&name).unwrap_or_default())
                                }
                                td.who data-label=(lang.t("项目经理", "Project manager")) {
                                    (r.project_manager.as_deref().map(&name).unwrap_or_default())
                                }
                            }
                        }
                    }
                }
                @if b.rows.len() as u32 >= board::ROWS_MAX {
                    p.small.muted { (lang.t("只列出最紧急的 ", "Only the most urgent ")) (board::ROWS_MAX) (lang.t(" 项；请筛选。", "; filter to see others.")) }
                }
            }
        }
    };
    let visit_list = |rows: &[crate::store::JobListRow], id: &str, title: String, empty: &str| {
        html! {
            section.card id=(id) {
                h2 { (title) " · " (rows.len()) }
                @if rows.is_empty() {
                    p.muted { (empty) }
                } @else {
                    table.list {
                        thead { tr {
                            th { (lang.t("工单号", "Job no.")) } th { (lang.t("客户", "Customer")) }
                            th { (lang.t("送电日期", "Powered on")) }
                            th { (lang.t("客户经理", "Customer manager")) }
                        } }
                        tbody {
                            @for r in rows {
                                tr class=[r.key_project.then_some("key")] {
                                    td data-label=(lang.t("工单号", "Job no.")) {
                                        a href={ "/jobs/" (r.job_id) "#visit-form" } { (r.job_no) }
                                    }
                                    td data-label=(lang.t("客户", "Customer")) { (r.customer_name) }
                                    td data-label=(lang.t("送电日期", "Powered on")) { (r.powered_on.as_deref().unwrap_or("—")) }
                                    td.who data-label=(lang.t("客户经理", "Customer manager")) {
                                        (r.customer_manager.as_deref().map(&name).unwrap_or_default())
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    let body = html! {
        (body)
        @if !b.late_applications.is_empty() {
            section.card #late-applications {
                h2 { (lang.t("线上申请未当日受理", "Online applications not started the same working day")) " " (layout::badge("overdue", &b.late_applications.len().to_string())) }
                table.list {
                    thead { tr {
                        th { (lang.t("申请编号", "Number")) } th { (lang.t("提交时间", "Filed")) } th { (lang.t("申请人", "Applicant")) }
                    } }
                    tbody {
                        @for a in &b.late_applications {
                            tr {
                                td data-label=(lang.t("申请编号", "Number")) { a href={ "/applications/" (a.id) } { (a.number) } }
                                td data-label=(lang.t("提交时间", "Filed")) { (a.filed_at) }
                                td data-label=(lang.t("申请人", "Applicant")) { (a.applicant) }
                            }
                        }
                    }
                }
            }
        }
        (agenda_list(lang, &b.agenda, &name))
        (super::supervision::board_list(lang, &b.supervision, &b.today, &web.session.who.username))
        (visit_list(
            &b.visits_due,
            "visits-due",
            format!("{}{}{}", lang.t("待回访（送电满 ", "Return visits due ("), b.visit_after_days, lang.t(" 天）", " days after power-on)")),
            lang.t("没有待回访的工单。", "No return visits due."),
        ))
        (visit_list(
            &b.follow_ups,
            "follow-ups",
            lang.t("低分回访待跟进", "Low scores to follow up").to_string(),
            lang.t("没有待跟进的低分回访。", "No low scores to follow up."),
        ))
    };
    let here = link(&filter, &[]);
    Ok(layout::page(&web, &here, lang.t("调度台", "Dispatch board"), body).into_response())
}

/// The board's agenda: meeting action items, planned power-on and outages by date, rented
/// transformers to remove and important-customer visits, late first.
fn agenda_list(
    lang: Lang,
    items: &[crate::service::board::BoardAgendaItem],
    name: &dyn Fn(&str) -> String,
) -> Markup {
    use field_core::agenda::{AgendaKind, AgendaState};
    let late = items.iter().filter(|i| i.state == "late").count();
    html! {
        section.card #agenda {
            h2 {
                (lang.t("日程与逾期事项（未来 14 天）", "Agenda and overdue items (next 14 days)"))
                @if late > 0 { " " (layout::badge("overdue", &late.to_string())) }
            }
            @if items.is_empty() {
                p.muted { (lang.t("没有待办日程。", "Nothing on the agenda.")) }
            } @else {
                table.list {
                    thead { tr {
                        th { (lang.t("日期", "Day")) } th { (lang.t("事项", "Item")) }
                        th { (lang.t("工单", "Job")) } th { (lang.t("责任人", "Owner")) }
                        th { (lang.t("内容", "What")) } th { (lang.t("状态", "State")) }
                    } }
                    tbody {
                        @for i in items {
                            @let kind = AgendaKind::parse(&i.item.kind);
                            @let state = AgendaState::parse(&i.state);
                            tr.agenda-row data-kind=(i.item.kind) data-state=(i.state) {
                                td data-label=(lang.t("日期", "Day")) { (i.item.due_on) }
                                td data-label=(lang.t("事项", "Item")) { (kind.map(|k| lang.t(k.zh(), k.en())).unwrap_or(&i.item.kind)) }
                                td data-label=(lang.t("工单", "Job")) {
                                    a href={ "/jobs/" (i.item.job_id) } { (i.item.job_no) } " " span.small { (i.item.customer_name) }
                                }
                                td.who data-label=(lang.t("责任人", "Owner")) { (name(i.item.owner.as_deref().unwrap_or(""))) }
                                td data-label=(lang.t("内容", "What")) { (i.item.title) }
                                td data-label=(lang.t("状态", "State")) {
                                    @let class = match i.state.as_str() { "late" => "overdue", "due_soon" => "due_soon", _ => "ok" };
                                    (layout::badge(class, state.map(|s| lang.t(s.zh(), s.en())).unwrap_or(&i.state)))
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
