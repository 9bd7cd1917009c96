//! 考核 (assessment): a unit's month as tables and server-drawn SVG bar charts, with CSV and
//! XLSX exports of the per-manager table.

use super::exports::attachment;
use super::layout;
use super::{ShowErr, Shown, Web, query};
use crate::error::ServerError;
use crate::i18n::Lang;
use crate::service::Env;
use crate::service::assessment::{self, Assessment, AssessmentFilter};
use crate::service::exports::csv_line;
use crate::service::listing;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use field_core::JobKind;
use maud::{Markup, PreEscaped, html};
use std::sync::Arc;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A horizontal bar chart: one bar per `(label, value, shown text)`, scaled to `max`.
fn bars(title: &str, items: &[(String, f64, String)], max: f64, color: &str) -> Markup {
    let row = 26.0;
    let (label_w, bar_w) = (170.0, 360.0);
    let height = 10.0 + row * items.len() as f64;
    let mut svg = format!(
        r#"<svg class="chart" role="img" aria-label="{t}" viewBox="0 0 {w} {height}" width="{w}" xmlns="http://www.w3.org/2000/svg"><title>{t}</title>"#,
        t = escape(title),
        w = label_w + bar_w + 90.0,
    );
    for (i, (label, value, text)) in items.iter().enumerate() {
        let y = 5.0 + row * i as f64;
        let len = if max > 0.0 { bar_w * value / max } else { 0.0 };
        svg.push_str(&format!(
            r##"<text x="{lx}" y="{ty}" text-anchor="end" font-size="13" fill="#333">{l}</text><rect x="{bx}" y="{y}" width="{len:.1}" height="18" rx="3" fill="{color}"/><text x="{vx:.1}" y="{ty}" font-size="13" fill="#333">{v}</text>"##,
            lx = label_w - 8.0,
            ty = y + 14.0,
            l = escape(label),
            bx = label_w,
            vx = label_w + len + 6.0,
            v = escape(text),
        ));
    }
    svg.push_str("</svg>");
    PreEscaped(svg)
}

fn kind_label(lang: Lang, code: &str) -> String {
    JobKind::parse(code)
        .map(|k| lang.t(k.zh(), k.en()).to_string())
        .unwrap_or_else(|| code.to_string())
}

fn pct(v: Option<f64>) -> String {
    v.map(|r| format!("{r:.1}%")).unwrap_or_else(|| "—".into())
}

fn num(v: Option<f64>) -> String {
    v.map(|r| format!("{r:.2}")).unwrap_or_else(|| "—".into())
}

/// The per-manager table as rows of cells (page, CSV and XLSX share it).
fn manager_rows(lang: Lang, a: &Assessment, name: &dyn Fn(&str) -> String) -> Vec<Vec<String>> {
    let mut rows = vec![
        [
            lang.t("客户经理", "customer manager"),
            lang.t("送电户数", "powered on"),
            lang.t(
                "平均接电时间（工作日）",
                "average connection time (working days)",
            ),
            lang.t("环节按时率", "stages on time"),
            lang.t("回访数", "visits"),
            lang.t("客户评价数", "customer ratings"),
            lang.t("平均满意度", "average satisfaction"),
            lang.t("低分回访", "low scores"),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>(),
    ];
    for m in &a.managers {
        rows.push(vec![
            name(&m.manager),
            m.connection.jobs.to_string(),
            if m.connection.jobs > 0 {
                format!("{:.1}", m.connection.avg_working_days)
            } else {
                "—".into()
            },
            pct(m.on_time.rate()),
            m.satisfaction.visits.to_string(),
            m.satisfaction.ratings.to_string(),
            num(m.satisfaction.average),
            m.satisfaction.low.to_string(),
        ]);
    }
    rows
}

async fn load(
    env: &Arc<Env>,
    web: &Web,
    filter: AssessmentFilter,
) -> Result<(Assessment, Vec<(String, String, String)>), Shown> {
    let who = web.session.who.clone();
    env.blocking(move |env| {
        Ok((
            assessment::assess(env, &who, &filter)?,
            listing::people(env, &who)?,
        ))
    })
    .await
    .page(web.lang)
}

fn namer(lang: Lang, people: &[(String, String, String)]) -> impl Fn(&str) -> String + '_ {
    move |u: &str| {
        if u.is_empty() {
            return lang.t("（未派工）", "(unassigned)").to_string();
        }
        people
            .iter()
            .find(|(n, _, _)| n == u)
            .map(|(_, d, _)| d.clone())
            .unwrap_or_else(|| u.to_string())
    }
}

/// `GET /assessment?month=YYYY-MM[&unit=]`.
pub async fn page(
    State(env): State<Arc<Env>>,
    web: Web,
    Query(filter): Query<AssessmentFilter>,
) -> Result<Response, Shown> {
    let lang = web.lang;
    let (a, people) = load(&env, &web, filter.clone()).await?;
    let name = namer(lang, &people);
    let q = query(&[("month", a.month.as_str()), ("unit", filter.unit.as_str())]);
    let kinds: Vec<(String, f64, String)> = a
        .by_kind
        .iter()
        .map(|(k, t)| {
            (
                kind_label(lang, k),
                t.avg_working_days,
                format!("{:.1}（{}）", t.avg_working_days, t.jobs),
            )
        })
        .collect();
    let max_days = kinds.iter().map(|k| k.1).fold(0.0, f64::max);
    let stages: Vec<(String, f64, String)> = a
        .by_stage
        .iter()
        .map(|(s, t)| {
            (
                super::board::stage_label(lang, s),
                t.rate().unwrap_or(0.0),
                format!("{}（{}/{}）", pct(t.rate()), t.met, t.met + t.missed),
            )
        })
        .collect();
    let rows = manager_rows(lang, &a, &name);
    let body = html! {
        h1 { (lang.t("考核", "Assessment")) " · " (a.month) }
        form.filters.card method="get" action="/assessment" {
            label {
                (lang.t("月份", "Month"))
                input type="month" name="month" value=(a.month) required;
            }
            @if web.session.who.role == field_core::Role::Admin {
                label {
                    (lang.t("单位（空：全部）", "Unit (empty: all)"))
                    input type="text" name="unit" value=(filter.unit) maxlength="64";
                }
            }
            div.actions {
                button type="submit" { (lang.t("查看", "Show")) }
                a.button.secondary href={ "/assessment.csv?" (q) } download { "CSV" }
                a.button.secondary href={ "/assessment.xlsx?" (q) } download { "Excel (XLSX)" }
            }
        }
        section.card #summary {
            h2 { (lang.t("本月概况", "The month")) }
            dl.fields {
                dt { (lang.t("统计期", "Period")) } dd { (a.from) " — " (a.to) }
                dt { (lang.t("送电户数", "Powered on")) } dd { (a.total.jobs) }
                dt { (lang.t("平均接电时间", "Average connection time")) }
                dd { @if a.total.jobs > 0 { (format!("{:.1}", a.total.avg_working_days)) (lang.t(" 个工作日", " working days")) } @else { "—" } }
                dt { (lang.t("环节按时率", "Stages on time")) } dd { (pct(a.on_time.rate())) " (" (a.on_time.met) "/" (a.on_time.met + a.on_time.missed) ")" }
                dt { (lang.t("回访满意度", "Satisfaction")) }
                dd #satisfaction-total { (num(a.satisfaction.average)) " · " (a.satisfaction.visits) (lang.t(" 次回访，", " visits, ")) (a.satisfaction.ratings) (lang.t(" 次客户评价，低分 ", " customer ratings, low ")) (a.satisfaction.low) }
            }
        }
        section.card #by-kind {
            h2 { (lang.t("平均接电时间（工作日，按业务类型）", "Average connection time (working days, by kind)")) }
            @if kinds.is_empty() { p.muted { (lang.t("本月没有送电的工单。", "Nothing was powered on this month.")) } }
            @else { (bars(lang.t("平均接电时间", "Average connection time"), &kinds, max_days, "#1f6fb2")) }
        }
        section.card #by-stage {
            h2 { (lang.t("各环节按时率（本月结束的环节）", "On time per stage (stages ended this month)")) }
            @if stages.is_empty() { p.muted { (lang.t("本月没有结束的环节。", "No stage ended this month.")) } }
            @else { (bars(lang.t("按时率", "On time"), &stages, 100.0, "#2e8b57")) }
        }
        section.card #by-manager {
            h2 { (lang.t("客户经理", "Customer managers")) }
            table.list {
                thead { tr { @for h in &rows[0] { th { (h) } } } }
                tbody {
                    @for r in &rows[1..] {
                        tr { @for (i, c) in r.iter().enumerate() { td data-label=(rows[0][i]) { (c) } } }
                    }
                }
            }
        }
        section.card #projects {
            h2 { (lang.t("在建配套工程", "Supporting projects under way")) }
            @if a.projects.is_empty() { p.muted { (lang.t("没有在建的配套工程。", "No supporting project under way.")) } }
            @else {
                table.list {
                    thead { tr {
                        th { (lang.t("项目经理", "Project manager")) } th { (lang.t("在建", "Under way")) }
                        th { (lang.t("超期", "Overdue")) } th { (lang.t("平均进度", "Average progress")) }
                    } }
                    tbody {
                        @for p in &a.projects {
                            tr {
                                td data-label=(lang.t("项目经理", "Project manager")) { (name(&p.manager)) }
                                td data-label=(lang.t("在建", "Under way")) { (p.running) }
                                td data-label=(lang.t("超期", "Overdue")) { (p.overdue) }
                                td data-label=(lang.t("平均进度", "Average progress")) { (pct(p.avg_progress)) }
                            }
                        }
                    }
                }
            }
        }
    };
    let here = format!("/assessment?{q}");
    Ok(layout::page(&web, &here, lang.t("考核", "Assessment"), body).into_response())
}

/// `GET /assessment.csv?…`: the per-manager table.
pub async fn csv(
    State(env): State<Arc<Env>>,
    web: Web,
    Query(filter): Query<AssessmentFilter>,
) -> Result<Response, Shown> {
    let lang = web.lang;
    let (a, people) = load(&env, &web, filter).await?;
    let name = namer(lang, &people);
    let mut out = String::from("\u{feff}");
    for r in manager_rows(lang, &a, &name) {
        out.push_str(&csv_line(&r));
    }
    let file = format!("{}-{}.csv", lang.t("考核", "assessment"), a.month);
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, attachment(&file)),
        ],
        out,
    )
        .into_response())
}

/// `GET /assessment.xlsx?…`: the per-manager table as a workbook.
pub async fn xlsx(
    State(env): State<Arc<Env>>,
    web: Web,
    Query(filter): Query<AssessmentFilter>,
) -> Result<Response, Shown> {
    let lang = web.lang;
    let (a, people) = load(&env, &web, filter).await?;
    let name = namer(lang, &people);
    let rows = manager_rows(lang, &a, &name);
    let bytes = (|| -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        sheet.set_name(a.month.as_str())?;
        for (r, row) in rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                match cell.parse::<f64>() {
                    Ok(n) if r > 0 => sheet.write_number(r as u32, c as u16, n)?,
                    _ => sheet.write_string(r as u32, c as u16, cell)?,
                };
            }
        }
        book.save_to_buffer()
    })()
    .map_err(|e| Shown(lang, ServerError::Internal(e.to_string())))?;
    let file = format!("{}-{}.xlsx", lang.t("考核", "assessment"), a.month);
    Ok((
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string(),
            ),
            (header::CONTENT_DISPOSITION, attachment(&file)),
        ],
        bytes,
    )
        .into_response())
}
