//! 工单详情 (every section, conflicts with their authors, time limits, rule verdicts, the review
//! form), 变更记录 (audit trail and what changed since the last review) and the review itself.

use super::layout::{self, badge};
use super::{ShowErr, Shown, Web, check_csrf};
use crate::error::ServerError;
use crate::i18n::{self, Lang};
use crate::service::review::{self, Outcome, ReviewInput};
use crate::service::view::{self, ConflictView, JobView};
use crate::service::{Env, audit};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use field_core::job::diff::{ChangeKind, FieldChange};
use field_core::rules::Outcome as Verdict;
use field_core::sla::StageClock;
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Map, Value as Json};
use std::sync::Arc;

/// The view of a job for the signed-in browser.
pub async fn load(env: &Arc<Env>, web: &Web, id: &str) -> Result<JobView, Shown> {
    let (who, id) = (web.session.who.clone(), id.to_string());
    env.blocking(move |env| view::job_view(env, &who, &id))
        .await
        .page(web.lang)
}

/// The tabs of a job's pages.
pub fn tabs(web: &Web, v: &JobView, active: &str) -> Markup {
    let lang = web.lang;
    let id = &v.job.id;
    let on = |t: &str| (t == active).then_some("on");
    html! {
        nav.tabs {
            a class=[on("detail")] href={ "/jobs/" (id) } { (lang.t("详情", "Details")) }
            a class=[on("history")] href={ "/jobs/" (id) "/history" } { (lang.t("变更记录", "History")) }
            a class=[on("photos")] href={ "/jobs/" (id) "/photos" } {
                (lang.t("照片", "Photos")) " (" (v.job.photos.len()) ")"
            }
            @for (cid, c) in &v.job.contracts {
                a class=[on(cid)] href={ "/jobs/" (id) "/contracts/" (cid) } {
                    (lang.t("合同", "Contract")) " " (c.contract_no.as_deref().unwrap_or(cid))
                }
            }
            a href={ "/jobs/" (id) "/archive.zip" } download { (lang.t("一户一档", "Customer file")) " (zip)" }
        }
    }
}

/// The job's heading: number, customer and state badges.
pub fn heading(lang: Lang, v: &JobView) -> Markup {
    let j = &v.job;
    let status = j.status();
    let review = j.review.state.map(|s| s.as_str()).unwrap_or("none");
    html! {
        h1 {
            (j.job_no) " · " (j.customer.name.as_deref().unwrap_or("—"))
        }
        p.actions {
            (badge("", lang.t(j.kind.zh(), j.kind.en())))
            (badge("", lang.t(status.zh(), status.en())))
            @if let Some(s) = v.time_limits.worst() {
                (badge(s.as_str(), &i18n::sla(lang, s.as_str())))
            }
            (badge(review, &i18n::review_state(lang, review)))
            @if j.application.key_project == Some(true) {
                (badge("key", lang.t("重点项目 · 绿色通道", "key project · green channel")))
            }
        }
    }
}

fn is_scalar(v: &Json) -> bool {
    !matches!(v, Json::Object(_) | Json::Array(_))
}

/// The scalar fields of an object as a definition list.
fn fields(lang: Lang, obj: &Map<String, Json>, skip: &[&str]) -> Markup {
    let mut list: Vec<(&String, &Json)> = obj
        .iter()
        .filter(|(k, v)| {
            is_scalar(v)
                && !skip.contains(&k.as_str())
                && !matches!(v, Json::String(s) if s.trim().is_empty())
        })
        .collect();
    list.sort_by_key(|(k, _)| (i18n::field_rank(k), k.as_str()));
    html! {
        dl.fields {
            @for (k, v) in list {
                dt { (i18n::field(lang, k)) }
                dd { (i18n::value(lang, k, v)) }
            }
        }
    }
}

fn sort_key(v: &Json) -> String {
    [
        "at",
        "raised_at",
        "started_at",
        "recorded_at",
        "held_on",
        "visited_on",
        "due_on",
    ]
    .iter()
    .find_map(|k| v.get(*k).and_then(Json::as_str))
    .unwrap_or("")
    .to_string()
}

/// A map of records (logs, findings, materials…) as a table, oldest first.
fn records(lang: Lang, map: &Map<String, Json>) -> Markup {
    let mut rows: Vec<(&String, &Map<String, Json>)> = map
        .iter()
        .filter_map(|(k, v)| v.as_object().map(|o| (k, o)))
        .collect();
    rows.sort_by_key(|(id, o)| (sort_key(&Json::Object((*o).clone())), id.to_string()));
    let mut cols: Vec<&str> = Vec::new();
    for (_, o) in &rows {
        for (k, v) in o.iter() {
            if is_scalar(v) && !cols.contains(&k.as_str()) {
                cols.push(k);
            }
        }
    }
    cols.sort_by_key(|k| (i18n::field_rank(k), *k));
    html! {
        @if rows.is_empty() {
            p.muted { (lang.t("（无）", "(none)")) }
        } @else {
            table.list {
                thead { tr { @for c in &cols { th { (i18n::field(lang, c)) } } } }
                tbody {
                    @for (_, o) in &rows {
                        tr {
                            @for c in &cols {
                                td data-label=(i18n::field(lang, c)) {
                                    (o.get(*c).map(|v| i18n::value(lang, c, v)).unwrap_or_default())
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Whether a part of the document holds anything to show.
fn filled(v: &Json) -> bool {
    match v {
        Json::Null => false,
        Json::Object(m) => m.values().any(filled),
        Json::Array(a) => !a.is_empty(),
        Json::String(s) => !s.is_empty(),
        Json::Bool(_) | Json::Number(_) => true,
    }
}

/// The nested parts of a section in the order they are shown.
const PART_ORDER: &[&str] = &[
    "design_review",
    "mid",
    "completion",
    "design",
    "materials",
    "permits",
    "logs",
    "acceptance",
    "settlement",
    "special_loads",
    "seals",
    "findings",
    "photos",
];

/// Any part of the document: its scalars, then each nested part (record maps as tables).
fn part(lang: Lang, key: &str, v: &Json, depth: usize) -> Markup {
    let Some(obj) = v.as_object() else {
        return html! {};
    };
    let mut nested: Vec<(&String, &Map<String, Json>)> = obj
        .iter()
        .filter(|(_, v)| filled(v))
        .filter_map(|(k, v)| v.as_object().map(|m| (k, m)))
        // A set of flags (special loads) with none on says nothing.
        .filter(|(_, m)| {
            !m.values().all(Json::is_boolean) || m.values().any(|b| b == &Json::Bool(true))
        })
        .collect();
    nested.sort_by_key(|(k, _)| {
        PART_ORDER
            .iter()
            .position(|p| p == k)
            .unwrap_or(PART_ORDER.len())
    });
    html! {
        (fields(lang, obj, &[]))
        @for (k, m) in nested {
            @let title = i18n::path(lang, &format!("{key}.{k}.x")).rsplit(" › ").nth(1).unwrap_or(k).to_string();
            @if depth == 0 { h3 { (title) } } @else { h4 { (title) } }
            @if m.values().all(Json::is_object) && !matches!(k.as_str(), "design" | "acceptance" | "settlement") {
                (records(lang, m))
            } @else if m.values().all(Json::is_boolean) {
                p { (m.iter().filter(|(_, on)| on.as_bool() == Some(true)).map(|(k, _)| special_load(lang, k)).collect::<Vec<_>>().join("、")) }
            } @else {
                (part(lang, &format!("{key}.{k}"), &Json::Object(m.clone()), depth + 1))
            }
        }
    }
}

fn special_load(lang: Lang, code: &str) -> String {
    field_core::codes::SpecialLoad::parse(code)
        .map(|s| lang.t(s.zh(), s.en()).to_string())
        .unwrap_or_else(|| code.to_string())
}

/// Sections that are collections of records (one table row each; a record's nested part, such
/// as an action item's `done`, shown in the same row).
const RECORD_SECTIONS: &[&str] = &["meetings", "actions", "key_visits"];

fn flattened(map: &Map<String, Json>) -> Map<String, Json> {
    map.iter()
        .map(|(id, rec)| {
            let mut flat = Map::new();
            for (k, v) in rec.as_object().into_iter().flatten() {
                match v {
                    Json::Object(inner) => flat.extend(
                        inner
                            .iter()
                            .filter(|(_, v)| is_scalar(v))
                            .map(|(k, v)| (k.clone(), v.clone())),
                    ),
                    _ => {
                        flat.insert(k.clone(), v.clone());
                    }
                }
            }
            (id.clone(), Json::Object(flat))
        })
        .collect()
}

fn section(lang: Lang, doc: &Json, key: &str) -> Markup {
    let v = doc.get(key).cloned().unwrap_or(Json::Null);
    let empty = !filled(&v);
    html! {
        section.card id=(key) {
            h2 { (i18n::path(lang, key)) }
            @if empty {
                p.muted { (lang.t("尚未填写", "Not filled in yet")) }
            } @else if let (true, Some(map)) = (RECORD_SECTIONS.contains(&key), v.as_object()) {
                (records(lang, &flattened(map)))
            } @else {
                (part(lang, key, &v, 0))
            }
        }
    }
}

fn who(lang: Lang, a: &view::Author) -> String {
    match (&a.display_name, &a.username, &a.device) {
        (Some(n), Some(u), Some(d)) => format!("{n}（{u}）· {} {d}", lang.t("设备", "device")),
        _ if a.server => lang
            .t(
                "服务器（代审核人写入）",
                "the server (on a reviewer's behalf)",
            )
            .to_string(),
        _ if a.actor.is_empty() => lang.t("未知", "unknown").to_string(),
        _ => format!(
            "{} {}…",
            lang.t("未登记的设备", "an unregistered device"),
            &a.actor[..a.actor.len().min(8)]
        ),
    }
}

fn conflicts(lang: Lang, list: &[ConflictView]) -> Markup {
    html! {
        @if !list.is_empty() {
            section.card #conflicts {
                h2 { (lang.t("同一字段被多人修改", "Fields changed by more than one person")) }
                p.muted.small {
                    (lang.t(
                        "离线时两人改了同一字段，两个值都已保留；默认显示第一个。请核实后更正。",
                        "Two people changed the same field offline; both values are kept and the first is shown. Check and correct.",
                    ))
                }
                @for c in list {
                    div.conflict {
                        strong { (i18n::path(lang, &c.path)) }
                        ul {
                            @for v in &c.values {
                                li {
                                    @let key = c.path.rsplit('.').next().unwrap_or("");
                                    "「" (i18n::value(lang, key, &v.value)) "」 — " (who(lang, &v.author))
                                    @if v.shown { " " (badge("warn", lang.t("当前显示", "shown"))) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn clock_row(lang: Lang, c: &StageClock) -> Markup {
    let left = i64::from(c.limit_days) - c.used_days;
    let running = c.started_on.is_some() && c.ended_on.is_none();
    html! {
        tr {
            td data-label=(lang.t("环节", "Stage")) { (lang.t(c.stage.zh(), c.stage.en())) }
            td data-label=(lang.t("时限", "Limit")) {
                @if c.limit_days == 0 { (lang.t("当日", "same day")) }
                @else { (c.limit_days) (lang.t(" 个工作日", " working days")) }
            }
            td data-label=(lang.t("开始", "Started")) { (c.started_on.map(|d| d.to_string()).unwrap_or("—".into())) }
            td data-label=(lang.t("到期", "Due")) { (c.due_on.map(|d| d.to_string()).unwrap_or("—".into())) }
            td data-label=(lang.t("完成", "Ended")) { (c.ended_on.map(|d| d.to_string()).unwrap_or("—".into())) }
            td data-label=(lang.t("已用", "Used")) { @if c.started_on.is_some() { (c.used_days) } @else { "—" } }
            td data-label=(lang.t("剩余", "Left")) { @if running { (left) } @else { "—" } }
            td data-label=(lang.t("暂停", "Paused")) {
                @if c.paused_days > 0 || c.paused_now {
                    (c.paused_days) (lang.t(" 天", " days"))
                    @for p in &c.paused {
                        br; span.small.muted { (p.from) " → " (p.to.map(|d| d.to_string()).unwrap_or_else(|| lang.t("至今", "now").into())) }
                    }
                } @else { "—" }
            }
            td data-label=(lang.t("状态", "State")) {
                (badge(c.state.as_str(), &i18n::sla(lang, c.state.as_str())))
                @if c.provisional { " " span.small.muted { (lang.t("（日历数据不足，暂估）", "(provisional: no calendar data)")) } }
            }
        }
    }
}

fn time_limits(lang: Lang, v: &JobView) -> Markup {
    html! {
        section.card #time-limits {
            h2 { (lang.t("时限", "Time limits")) }
            @if v.time_limits.clocks.is_empty() {
                p.muted { (lang.t("此类业务无分环节时限。", "No stage limits apply to this kind.")) }
            } @else {
                table.list {
                    thead { tr {
                        th { (lang.t("环节", "Stage")) } th { (lang.t("时限", "Limit")) }
                        th { (lang.t("开始", "Started")) } th { (lang.t("到期", "Due")) }
                        th { (lang.t("完成", "Ended")) } th { (lang.t("已用", "Used")) }
                        th { (lang.t("剩余", "Left")) } th { (lang.t("暂停", "Paused")) }
                        th { (lang.t("状态", "State")) }
                    } }
                    tbody { @for c in &v.time_limits.clocks { (clock_row(lang, c)) } }
                }
            }
            p.small.muted { (lang.t("规则集：", "Rule set: ")) (v.rule_set) }
        }
    }
}

fn verdicts(lang: Lang, v: &JobView) -> Markup {
    html! {
        section.card #verdicts {
            h2 { (lang.t("规则判定", "Rule verdicts")) }
            @for n in &v.verdicts {
                @let (class, text) = match n.verdict.outcome {
                    Verdict::Yes => ("ok", lang.t("是", "yes")),
                    Verdict::No => ("bad", lang.t("否", "no")),
                    Verdict::Unknown => ("warn", lang.t("待定（信息不全）", "unknown (facts missing)")),
                };
                h3 { (lang.t(n.zh, n.en)) " " (badge(class, text)) }
                ul.small {
                    @for r in &n.verdict.reasons { li { (lang.t(&r.zh, &r.en)) } }
                }
            }
            @for c in &v.firm_checks {
                @let (class, text) = if c.ok { ("ok", lang.t("资质符合", "qualified")) } else { ("bad", lang.t("资质不符", "not qualified")) };
                h3.firm-check data-role=(c.role.as_str()) {
                    (lang.t(c.role.zh(), c.role.en())) (lang.t("资质：", " qualification: "))
                    (c.firm_name.as_deref().unwrap_or(&c.firm_id)) " " (badge(class, text))
                }
                ul.small {
                    @for r in &c.reasons { li { (lang.t(&r.zh, &r.en)) } }
                }
            }
        }
    }
}

fn checklist(lang: Lang, v: &JobView) -> Markup {
    let doc = &v.document;
    html! {
        section.card #checklist {
            h2 { (lang.t("收资清单", "Checklist")) }
            @if v.checklist.is_empty() {
                p.muted { (lang.t("（无）", "(none)")) }
            }
            table.list {
                thead { tr {
                    th { (lang.t("资料", "Document")) } th { (lang.t("要求", "Needed")) }
                    th { (lang.t("收取情况", "Collected")) } th { (lang.t("照片", "Photos")) }
                } }
                tbody {
                    @for g in &v.checklist {
                        @let item = doc.pointer(&format!("/checklist/{}", g.group.key)).and_then(Json::as_object);
                        tr {
                            td data-label=(lang.t("资料", "Document")) { (lang.t(&g.group.label.zh, &g.group.label.en)) }
                            td data-label=(lang.t("要求", "Needed")) {
                                @if g.required { (lang.t("必需", "required")) } @else { span.muted { (lang.t("视情况", "if applicable")) } }
                            }
                            td data-label=(lang.t("收取情况", "Collected")) {
                                @if g.collected { (badge("ok", lang.t("已收", "collected"))) }
                                @else if g.required { (badge("bad", lang.t("未收", "missing"))) }
                                @if let Some(item) = item {
                                    @let doc_type = item.get("doc_type").and_then(Json::as_str).unwrap_or("");
                                    @let option = g.group.options.iter().chain(&g.group.rural_options).find(|o| o.key == doc_type);
                                    @if let Some(o) = option { " " (lang.t(&o.label.zh, &o.label.en)) }
                                    (fields(lang, item, &["doc_type", "collected"]))
                                }
                            }
                            td data-label=(lang.t("照片", "Photos")) {
                                @let photos = photos_of_group(v, &g.group.key);
                                @if photos.is_empty() { span.muted { "—" } }
                                @for (pid, thumb) in photos {
                                    a href={ "/jobs/" (v.job.id) "/photos/" (pid) } {
                                        @if let Some(t) = thumb {
                                            img src={ "/api/v1/blobs/" (t) } alt=(lang.t("证明照片", "proof photo")) loading="lazy" width="64" height="48" class="proof-thumb";
                                        } @else { (pid) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The photos of a checklist group: `(photo id, thumbnail hash)`.
pub fn photos_of_group<'a>(v: &'a JobView, group: &str) -> Vec<(&'a str, Option<&'a str>)> {
    let linked = v
        .document
        .pointer(&format!("/checklist/{group}/photos"))
        .and_then(Json::as_object);
    v.job
        .photos
        .iter()
        .filter(|(pid, p)| {
            p.checklist_group.as_deref() == Some(group)
                || linked.is_some_and(|m| m.get(pid.as_str()).and_then(Json::as_bool) == Some(true))
        })
        .map(|(pid, p)| (pid.as_str(), p.thumbnail_sha256.as_deref()))
        .collect()
}

fn milestones(lang: Lang, v: &JobView) -> Markup {
    html! {
        section.card #milestones {
            h2 { (lang.t("办理进度", "Timeline")) }
            table.list {
                thead { tr {
                    th { (lang.t("时间", "Time")) } th { (lang.t("事件", "Event")) }
                    th { (lang.t("记录人", "By")) } th { (lang.t("备注", "Note")) }
                } }
                tbody {
                    @for (_, m) in v.job.timeline() {
                        tr {
                            td data-label=(lang.t("时间", "Time")) { (m.at.map(i18n::instant).unwrap_or_default()) }
                            td data-label=(lang.t("事件", "Event")) { (m.event.map(|e| lang.t(e.zh(), e.en()).to_string()).unwrap_or_default()) }
                            td data-label=(lang.t("记录人", "By")) { (m.actor.as_deref().unwrap_or("")) }
                            td data-label=(lang.t("备注", "Note")) { (m.note.as_deref().unwrap_or("")) }
                        }
                    }
                }
            }
            @if !v.job.pauses.is_empty() {
                h3 { (lang.t("等待客户（时限暂停）", "Waiting on the customer (clocks paused)")) }
                (records(lang, v.document.get("pauses").and_then(Json::as_object).unwrap_or(&Map::new())))
            }
        }
    }
}

fn review_card(web: &Web, v: &JobView, may_review: bool) -> Markup {
    let lang = web.lang;
    let r = &v.job.review;
    let state = r.state.map(|s| s.as_str()).unwrap_or("none");
    let findings = v
        .document
        .pointer("/review/findings")
        .and_then(Json::as_object)
        .cloned()
        .unwrap_or_default();
    html! {
        section.card #review {
            h2 { (lang.t("审核", "Review")) " " (badge(state, &i18n::review_state(lang, state))) }
            @if let Some(doc) = v.document.get("review").and_then(Json::as_object) {
                (fields(lang, doc, &["state"]))
            }
            @if !findings.is_empty() {
                h3 { (lang.t("审核意见（整改事项）", "Findings")) }
                (records(lang, &findings))
            }
            @if let Some(last) = &v.last_review {
                p.small.muted {
                    (lang.t("上次审核：", "Last review: ")) (i18n::millis(last.at)) " · " (last.reviewer) " · "
                    (i18n::review_state(lang, &last.outcome)) " · "
                    a href={ "/jobs/" (v.job.id) "/history#since-review" } { (lang.t("查看此后的变更", "see what changed since")) }
                }
            }
            @if may_review && state == "pending" {
                (review_form(web, v))
            } @else if may_review {
                details.no-print {
                    summary { (lang.t("重新审核", "Review again")) }
                    (review_form(web, v))
                }
            }
        }
    }
}

/// The review form: a comment, findings (for a return) and the two outcomes.
fn review_form(web: &Web, v: &JobView) -> Markup {
    let lang = web.lang;
    html! {
                form.stack method="post" action={ "/jobs/" (v.job.id) "/review" } {
                    input type="hidden" name="csrf" value=(web.session.csrf);
                    label {
                        (lang.t("审核意见", "Comment"))
                        textarea name="comment" maxlength="2000" {}
                    }
                    fieldset {
                        legend { (lang.t("整改事项（退回时逐条填写）", "Findings (one per field when returning)")) }
                        div #findings .findings {
                            input type="text" name="finding" maxlength="500" aria-label=(lang.t("整改事项", "finding"));
                            input type="text" name="finding" maxlength="500" aria-label=(lang.t("整改事项", "finding"));
                        }
                        button.secondary #add-finding type="button" hidden { (lang.t("再加一条", "Add another")) }
                    }
                    div.actions {
                        button type="submit" name="outcome" value="approve" { (lang.t("通过", "Approve")) }
                        button.danger type="submit" name="outcome" value="return" { (lang.t("退回", "Return")) }
                    }
                }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Done {
    pub done: String,
}

/// `GET /jobs/{id}`.
pub async fn detail(
    State(env): State<Arc<Env>>,
    headers: axum::http::HeaderMap,
    web: Web,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> Result<Response, Shown> {
    let v = load(&env, &web, &id).await?;
    let lang = web.lang;
    let (i, who, unit) = (id.clone(), web.session.who.clone(), v.job.unit.clone());
    let (token, candidates, people) = env
        .blocking(move |env| {
            Ok((
                crate::service::public::token(env, &i)?,
                super::assignment::candidates(env, &who, &unit)?,
                // The visit plan's form offers the unit's people to those who may set it.
                if crate::service::key_visits::may_plan(env, &who) {
                    env.store.read()?.users_of(Some(&unit))?
                } else {
                    Vec::new()
                },
            ))
        })
        .await
        .page(lang)?;
    let progress_url = format!("{}/p/{token}", super::public::origin(&env, &headers));
    let may = review::may_review(&env, &web.session.who);
    let doc = &v.document;
    let notices = crate::service::exports::notice_kinds(&v);
    let body = html! {
            (heading(lang, &v))
            (tabs(&web, &v, "detail"))
            @match done.done.as_str() {
                "approve" => p.notice role="status" { (lang.t("已审核通过，结果将随同步送达客户经理手机。", "Approved; the managers' phones get it with their next sync.")) },
                "return" => p.notice role="status" { (lang.t("已退回，整改事项将随同步送达客户经理手机。", "Returned; the findings reach the managers' phones with their next sync.")) },
                "visit" => p.notice role="status" { (lang.t("回访已记录。", "The return visit is recorded.")) },
                "follow_up" => p.notice role="status" { (lang.t("跟进情况已记录。", "The follow-up is recorded.")) },
                "assigned" => p.notice role="status" { (lang.t("派工已保存，工单将随同步送达经理手机。", "The assignment is saved; the managers' phones get the job with their next sync.")) },
                "supervision" => p.notice role="status" { (lang.t("督办已发出，将随同步送达经理手机。", "The order is issued; the manager's phone gets it with the next sync.")) },
                "supervision_closed" => p.notice role="status" { (lang.t("督办已办结。", "The order is closed.")) },
                "visit_plan" => p.notice role="status" { (lang.t("走访计划已保存，将随同步送达客户经理手机。", "The visit plan is saved; the customer manager's phone gets it with the next sync.")) },
                _ => {},
            }
            p.actions.no-print {
                a.button.secondary #receipt-link href={ "/jobs/" (v.job.id) "/receipt.pdf" } {
                    (lang.t("书面回执（PDF，含进度二维码）", "Written receipt (PDF with the progress QR code)"))
                }
                a.button.secondary #guide-link href={ "/public/" (super::urlencode(&v.job.unit)) "/guide/" (v.job.kind.as_str()) "/pdf" } {
                    (lang.t("报装指南（PDF，交客户）", "Guide for the customer (PDF)"))
                }
                @for k in &notices {
                    a.button.secondary.notice-link href={ "/jobs/" (v.job.id) "/notice.pdf?inspection=" (k.as_str()) } {
                        (lang.t(k.zh(), k.en())) (lang.t("一次性书面告知书（PDF）", ": one-time written notice (PDF)"))
                        @if v.job.inspections.get(*k).written_notice == Some(true) { (lang.t("（已告知）", " (given)")) }
                    }
                }
            }
            (conflicts(lang, &v.conflicts))
            (super::visits::card(&env, &web, &v))
            (review_card(&web, &v, may))
            (time_limits(lang, &v))
            (super::supervision::card(&env, &web, &v))
            (verdicts(lang, &v))
            (section(lang, doc, "customer"))
            (section(lang, doc, "agent"))
            (section(lang, doc, "application"))
            (checklist(lang, &v))
    (super::assignment::card(&web, &v, candidates.as_ref()))
            (section(lang, doc, "assignment"))
            (section(lang, doc, "survey"))
            (section(lang, doc, "supply_plan"))
            (section(lang, doc, "project"))
            (section(lang, doc, "inspections"))
            (section(lang, doc, "metering"))
            (section(lang, doc, "return_visit"))
            (section(lang, doc, "customer_voice"))
            (section(lang, doc, "customer_works"))
            (section(lang, doc, "typical_design"))
            (section(lang, doc, "power_on_plan"))
            (section(lang, doc, "outage_plan"))
            (section(lang, doc, "meetings"))
            (section(lang, doc, "actions"))
            (section(lang, doc, "temporary_supply"))
            (super::key_visits::card(&env, &web, &v, &people))
            (section(lang, doc, "key_visits"))
            (milestones(lang, &v))
            section.card #progress-link {
                h2 { (lang.t("客户查询办电进度", "The customer's progress page")) }
                div.progress-link {
                    div.qr { (super::public::qr_svg(&progress_url)) }
                    p.small {
                        (lang.t("请客户扫码或打开此链接查看进度、确认方案和评价（证件号和电话部分隐藏）：", "The customer scans this or opens the link to follow the job, confirm the plan and rate us (document and phone numbers partly hidden):"))
                        br; a href=(progress_url) { code { (progress_url) } }
                    }
                }
            }
            section.card #notes {
                h2 { (lang.t("备注", "Notes")) }
                @if v.job.notes.is_empty() { p.muted { (lang.t("（无）", "(none)")) } }
                @else { p.pre { (v.job.notes) } }
            }
        };
    let title = format!("{} {}", v.job.job_no, lang.t("工单详情", "job"));
    Ok(layout::page(&web, &format!("/jobs/{id}"), &title, body).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Before {
    /// The audit trail's page cursor (newest first).
    pub before: Option<i64>,
}

fn change_kind(lang: Lang, k: ChangeKind) -> &'static str {
    match k {
        ChangeKind::Set => lang.t("设为", "set"),
        ChangeKind::Removed => lang.t("删除", "removed"),
        ChangeKind::Text => lang.t("文字修改为", "text now"),
    }
}

fn diff(lang: Lang, changes: &[FieldChange]) -> Markup {
    html! {
        @if changes.is_empty() {
            p.muted { (lang.t("上次审核后没有变更。", "Nothing changed since the last review.")) }
        } @else {
            table.list {
                thead { tr { th { (lang.t("字段", "Field")) } th { (lang.t("变更", "Change")) } th { (lang.t("现值", "Value now")) } } }
                tbody {
                    @for c in changes {
                        @let key = c.path.rsplit('.').next().unwrap_or("");
                        tr {
                            td data-label=(lang.t("字段", "Field")) { (i18n::path(lang, &c.path)) }
                            td data-label=(lang.t("变更", "Change")) { (change_kind(lang, c.kind)) }
                            td data-label=(lang.t("现值", "Value now")) {
                                @if c.kind != ChangeKind::Removed { (i18n::value(lang, key, &c.value)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn audit_kind(lang: Lang, k: &str) -> String {
    let (zh, en) = match k {
        "change" => ("修改", "change"),
        "push_refused" => ("拒收", "refused"),
        "download" => ("下载", "download"),
        "contract_verified" => ("核验合同", "contract verified"),
        "contract_exported" => ("导出合同", "contract exported"),
        "review" => ("审核", "review"),
        "export" => ("导出", "export"),
        other => return other.to_string(),
    };
    lang.t(zh, en).to_string()
}

/// `GET /jobs/{id}/history`.
pub async fn history(
    State(env): State<Arc<Env>>,
    web: Web,
    Path(id): Path<String>,
    Query(q): Query<Before>,
) -> Result<Response, Shown> {
    let v = load(&env, &web, &id).await?;
    let lang = web.lang;
    let (who, i) = (web.session.who.clone(), id.clone());
    let (trail, since) = env
        .blocking(move |env| {
            Ok((
                audit::recent(env, &who, &i, q.before, 100)?,
                review::since_last_review(env, &who, &i)?,
            ))
        })
        .await
        .page(lang)?;
    let body = html! {
        (heading(lang, &v))
        (tabs(&web, &v, "history"))
        section.card #since-review {
            h2 { (lang.t("上次审核后的变更", "Changed since the last review")) }
            @match &since {
                None => p.muted { (lang.t("尚未审核过。", "Not reviewed yet.")) },
                Some((last, changes)) => {
                    p.small.muted {
                        (i18n::millis(last.at)) " · " (last.reviewer) " · " (i18n::review_state(lang, &last.outcome))
                    }
                    (diff(lang, changes))
                }
            }
        }
        section.card #audit {
            h2 { (lang.t("审计记录", "Audit trail")) }
            table.list {
                thead { tr {
                    th { (lang.t("时间", "Time")) } th { (lang.t("人员", "Who")) } th { (lang.t("设备", "Device")) }
                    th { (lang.t("操作", "What")) } th { (lang.t("涉及部分", "Sections")) }
                } }
                tbody {
                    @for e in &trail.entries {
                        tr {
                            td data-label=(lang.t("时间", "Time")) {
                                (i18n::millis(e.at))
                                @if let Some(d) = e.device_time {
                                    @if (d - e.at).abs() > 60_000 {
                                        br; span.small.muted { (lang.t("设备时间 ", "device time ")) (i18n::millis(d)) }
                                    }
                                }
                            }
                            td data-label=(lang.t("人员", "Who")) {
                                (e.username.as_deref().unwrap_or("—"))
                                @if let Some(r) = &e.role { " · " (i18n::role(lang, r)) }
                            }
                            td data-label=(lang.t("设备", "Device")) { (e.device_id.as_deref().unwrap_or("—")) }
                            td data-label=(lang.t("操作", "What")) {
                                (audit_kind(lang, &e.kind))
                                @if let Some(h) = &e.change_hash { br; code.small.muted { (&h[..h.len().min(12)]) } }
                            }
                            td data-label=(lang.t("涉及部分", "Sections")) {
                                (e.sections.iter().map(|s| i18n::path(lang, s)).collect::<Vec<_>>().join("、"))
                            }
                        }
                    }
                }
            }
            @if let Some(next) = trail.next_before {
                div.pager { span {} a rel="next" href={ "/jobs/" (id) "/history?before=" (next) } { (lang.t("更早的记录 »", "Older entries »")) } }
            }
        }
    };
    let title = format!("{} {}", v.job.job_no, lang.t("变更记录", "history"));
    Ok(layout::page(&web, &format!("/jobs/{id}/history"), &title, body).into_response())
}

/// The review form: outcome, comment and any number of `finding` fields.
pub fn parse_review(body: &[u8]) -> Result<(String, ReviewInput), ServerError> {
    let mut csrf = String::new();
    let mut outcome = None;
    let mut comment = String::new();
    let mut findings = Vec::new();
    for (k, v) in form_urlencoded::parse(body) {
        match k.as_ref() {
            "csrf" => csrf = v.into_owned(),
            "outcome" => {
                outcome = match v.as_ref() {
                    "approve" => Some(Outcome::Approve),
                    "return" => Some(Outcome::Return),
                    _ => None,
                }
            }
            "comment" => comment = v.into_owned(),
            "finding" => findings.push(v.into_owned()),
            _ => {}
        }
    }
    let outcome = outcome.ok_or_else(|| {
        ServerError::bad(
            "bad_outcome",
            "请选择“通过”或“退回”",
            "choose approve or return",
        )
    })?;
    Ok((
        csrf,
        ReviewInput {
            outcome,
            comment,
            findings,
        },
    ))
}

/// `POST /jobs/{id}/review`.
pub async fn review(
    State(env): State<Arc<Env>>,
    web: Web,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Shown> {
    let (csrf, input) = parse_review(&body).page(web.lang)?;
    check_csrf(&web, &csrf)?;
    let outcome = input.outcome;
    let (who, i) = (web.session.who.clone(), id.clone());
    env.blocking(move |env| review::review(env, &who, &i, &input))
        .await
        .page(web.lang)?;
    let done = match outcome {
        Outcome::Approve => "approve",
        Outcome::Return => "return",
    };
    Ok(Redirect::to(&format!("/jobs/{id}?done={done}#review")).into_response())
}
