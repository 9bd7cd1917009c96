//! 工单列表: filters in the URL, sort, keyset paging, totals and counts per state, exports of the
//! same filter.

use super::layout::{self, badge};
use super::{ShowErr, Shown, Web, query};
use crate::i18n::{self, Lang};
use crate::service::listing::{self, ListFilter, Listing};
use crate::service::{Env, review};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use field_core::codes::{JobKind, JobStatus, ReviewState};
use maud::{Markup, html};
use std::sync::Arc;

const SLA_STATES: &[&str] = &["overdue", "due_soon", "on_track", "missed", "met"];

fn kind_label(lang: Lang, code: &str) -> String {
    JobKind::parse(code)
        .map(|k| lang.t(k.zh(), k.en()).to_string())
        .unwrap_or_else(|| code.to_string())
}

fn status_label(lang: Lang, code: &str) -> String {
    JobStatus::parse(code)
        .map(|k| lang.t(k.zh(), k.en()).to_string())
        .unwrap_or_else(|| code.to_string())
}

/// The URL of the list with `filter` changed by `set` (paging dropped).
fn link(filter: &ListFilter, set: &[(&'static str, &str)]) -> String {
    super::filter_link("/jobs", filter.pairs(), set)
}

fn select(
    name: &str,
    label: &str,
    current: &str,
    options: &[(String, String)],
    any: &str,
) -> Markup {
    html! {
        label {
            (label)
            select name=(name) {
                option value="" { (any) }
                @for (v, text) in options {
                    option value=(v) selected[current == v] { (text) }
                }
            }
        }
    }
}

fn chips(
    lang: Lang,
    filter: &ListFilter,
    key: &'static str,
    current: &str,
    counts: &[(String, i64)],
    label: impl Fn(&str) -> String,
) -> Markup {
    html! {
        div.chips {
            a class=[current.is_empty().then_some("on")] href=(link(filter, &[(key, "")])) {
                (lang.t("全部", "all"))
            }
            @for (code, n) in counts {
                @if !code.is_empty() {
                    a class=[(current == code).then_some("on")] href=(link(filter, &[(key, code)])) {
                        (label(code)) " " (n)
                    }
                }
            }
        }
    }
}

fn filters(web: &Web, f: &ListFilter, people: &[(String, String, String)]) -> Markup {
    let lang = web.lang;
    let any = lang.t("全部", "any");
    let kinds: Vec<(String, String)> = JobKind::ALL
        .iter()
        .map(|k| (k.as_str().into(), lang.t(k.zh(), k.en()).into()))
        .collect();
    let statuses: Vec<(String, String)> = JobStatus::ALL
        .iter()
        .map(|k| (k.as_str().into(), lang.t(k.zh(), k.en()).into()))
        .collect();
    let mut reviews: Vec<(String, String)> =
        vec![("none".into(), i18n::review_state(lang, "none"))];
    reviews.extend(
        ReviewState::ALL
            .iter()
            .map(|k| (k.as_str().into(), lang.t(k.zh(), k.en()).into())),
    );
    let slas: Vec<(String, String)> = SLA_STATES
        .iter()
        .map(|s| (s.to_string(), i18n::sla(lang, s)))
        .collect();
    let of_role = |role: &str| -> Vec<(String, String)> {
        people
            .iter()
            .filter(|(_, _, r)| r == role)
            .map(|(u, n, _)| (u.clone(), format!("{n}（{u}）")))
            .collect()
    };
    let sorts: Vec<(String, String)> = vec![
        (
            "updated".into(),
            lang.t("最近变更", "recently changed").into(),
        ),
        ("due".into(), lang.t("到期日", "due date").into()),
        ("accepted".into(), lang.t("受理日期", "accepted").into()),
        ("job_no".into(), lang.t("工单号", "job number").into()),
    ];
    let active = f.pairs().iter().filter(|(k, _)| *k != "sort").count();
    html! {
        details.card.filter-box open data-active=(active) {
            summary {
                (lang.t("筛选条件", "Filters"))
                @if active > 0 { " (" (active) ")" }
            }
        form.filters method="get" action="/jobs" role="search" {
            label {
                (lang.t("搜索（客户、地址、工单号）", "Search (customer, address, job no.)"))
                input type="text" name="q" value=(f.q) maxlength="100";
            }
            (select("kind", lang.t("业务类型", "Kind"), &f.kind, &kinds, any))
            (select("status", lang.t("环节", "Stage"), &f.status, &statuses, any))
            (select("review", lang.t("审核状态", "Review"), &f.review, &reviews, any))
            (select("sla", lang.t("时限状态", "Time limit"), &f.sla, &slas, any))
            (select("cm", lang.t("客户经理", "Customer manager"), &f.cm, &of_role("customer_manager"), any))
            (select("pm", lang.t("项目经理", "Project manager"), &f.pm, &of_role("project_manager"), any))
            label {
                (lang.t("受理日期从", "Accepted from"))
                input type="date" name="from" value=(f.from);
            }
            label {
                (lang.t("受理日期至", "Accepted to"))
                input type="date" name="to" value=(f.to);
            }
            (select("sort", lang.t("排序", "Sort by"), &f.sort, &sorts, lang.t("最近变更", "recently changed")))
            label {
                (lang.t("仅重点项目", "Key projects only"))
                select name="key" {
                    option value="" { (any) }
                    option value="1" selected[f.key == "1"] { (lang.t("是", "yes")) }
                }
            }
            div.actions {
                button type="submit" { (lang.t("筛选", "Filter")) }
                a.button.secondary href="/jobs" { (lang.t("清除", "Clear")) }
            }
        }
        }
    }
}

fn table(lang: Lang, listing: &Listing, names: &dyn Fn(&str) -> String) -> Markup {
    let h = |zh, en| lang.t(zh, en);
    html! {
        table.list {
            thead {
                tr {
                    th { (h("工单号", "Job no.")) }
                    th { (h("客户", "Customer")) }
                    th { (h("业务类型", "Kind")) }
                    th { (h("环节", "Stage")) }
                    th { (h("时限", "Time limit")) }
                    th { (h("审核", "Review")) }
                    th { (h("客户经理", "Customer manager")) }
                    th { (h("项目经理", "Project manager")) }
                    th { (h("受理日期", "Accepted")) }
                }
            }
            tbody {
                @for r in &listing.rows {
                    tr class=[r.key_project.then_some("key")] {
                        td data-label=(h("工单号", "Job no.")) {
                            a href={ "/jobs/" (r.job_id) } { (r.job_no) }
                            @if r.key_project { " " (badge("key", h("重点", "key"))) }
                        }
                        td data-label=(h("客户", "Customer")) {
                            (r.customer_name)
                            @if !r.address.is_empty() { br; span.muted.small { (r.address) } }
                        }
                        td data-label=(h("业务类型", "Kind")) { (kind_label(lang, &r.kind)) }
                        td data-label=(h("环节", "Stage")) { (status_label(lang, &r.status)) }
                        td data-label=(h("时限", "Time limit")) {
                            @if let Some(s) = &r.sla_state { (badge(s, &i18n::sla(lang, s))) }
                            @if let Some(d) = &r.next_due { " " span.small { (h("到期 ", "due ")) (d) } }
                        }
                        td data-label=(h("审核", "Review")) {
                            @let s = r.review_state.as_deref().unwrap_or("none");
                            (badge(s, &i18n::review_state(lang, s)))
                        }
                        td.who data-label=(h("客户经理", "Customer manager")) {
                            (r.customer_manager.as_deref().map(names).unwrap_or_default())
                        }
                        td.who data-label=(h("项目经理", "Project manager")) {
                            (r.project_manager.as_deref().map(names).unwrap_or_default())
                        }
                        td data-label=(h("受理日期", "Accepted")) { (r.accepted_on) }
                    }
                }
            }
        }
    }
}

/// `GET /jobs?…`.
pub async fn page(
    State(env): State<Arc<Env>>,
    web: Web,
    Query(filter): Query<ListFilter>,
) -> Result<Response, Shown> {
    let lang = web.lang;
    let (who, f) = (web.session.who.clone(), filter.clone());
    let (listing, people) = env
        .blocking(move |env| Ok((listing::list(env, &who, &f)?, listing::people(env, &who)?)))
        .await
        .page(lang)?;
    let names = |u: &str| {
        people
            .iter()
            .find(|(n, _, _)| n == u)
            .map(|(_, d, _)| d.clone())
            .unwrap_or_else(|| u.to_string())
    };
    let c = &listing.counts;
    let export_q = query(&filter.pairs());
    let suffix = if export_q.is_empty() {
        String::new()
    } else {
        format!("?{export_q}")
    };
    let here = link(&filter, &[]);
    let title = if filter.review == "pending" {
        lang.t("待审核工单", "Jobs to review")
    } else {
        lang.t("工单列表", "Jobs")
    };
    let body = html! {
        h1 { (title) }
        (filters(&web, &filter, &people))
        div.card {
            p {
                strong { (lang.t("共 ", "")) (c.total) (lang.t(" 件", " jobs")) }
                @if review::may_review(&env, &web.session.who) {
                    " · " a href=(link(&filter, &[("review", "pending")])) { (lang.t("只看待审核", "only those to review")) }
                }
            }
            (chips(lang, &filter, "status", &filter.status, &c.by_status, |s| status_label(lang, s)))
            (chips(lang, &filter, "sla", &filter.sla, &c.by_sla_state, |s| i18n::sla(lang, s)))
            (chips(lang, &filter, "review", &filter.review, &c.by_review_state, |s| i18n::review_state(lang, s)))
            div.actions.no-print {
                span.muted { (lang.t("导出当前筛选结果：", "Export this selection:")) }
                a.button.secondary href={ "/jobs/export.csv" (suffix) } download { "CSV" }
                a.button.secondary href={ "/jobs/export.xlsx" (suffix) } download { "Excel (XLSX)" }
            }
        }
        @if listing.rows.is_empty() {
            p.notice { (lang.t("没有符合条件的工单。", "No jobs match.")) }
        } @else {
            (table(lang, &listing, &names))
        }
        div.pager {
            @if !filter.after.is_empty() {
                a href=(here) { (lang.t("« 第一页", "« First page")) }
            } @else { span {} }
            @if let Some(next) = &listing.next {
                a rel="next" href=(link(&filter, &[("after", next.as_str())])) { (lang.t("下一页 »", "Next page »")) }
            }
        }
    };
    let here_full = if filter.after.is_empty() {
        here.clone()
    } else {
        link(&filter, &[("after", filter.after.as_str())])
    };
    Ok(layout::page(&web, &here_full, title, body).into_response())
}
