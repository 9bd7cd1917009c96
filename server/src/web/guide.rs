//! The customer's guide (供电业务报装指南) per unit and kind, without a login: a page and the PDF
//! (also what the counter hands out and the phone prints).

use super::layout;
use super::public::{hotlines, limit, origin};
use super::{ShowErr, Shown, lang_of};
use crate::i18n::Lang;
use crate::service::Env;
use crate::service::guide::{self, UnitGuide};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use field_core::JobKind;
use maud::{Markup, html};
use std::net::SocketAddr;
use std::sync::Arc;

/// Links to every kind's guide of `unit` (the unit's public page lists them).
pub fn links(lang: Lang, unit: &str) -> Markup {
    let u = super::urlencode(unit);
    html! {
        section.card #guides {
            h2 { (lang.t("办电指南：办理环节、所需资料、时限、收费", "Guides: steps, documents, time limits, fees")) }
            ul {
                @for k in JobKind::ALL {
                    li {
                        a href={ "/public/" (u) "/guide/" (k.as_str()) } { (lang.t(k.zh(), k.en())) }
                        " · "
                        a.small href={ "/public/" (u) "/guide/" (k.as_str()) "/pdf" } { (lang.t("下载 PDF", "PDF")) }
                    }
                }
            }
        }
    }
}

fn body(lang: Lang, g: &UnitGuide) -> Markup {
    let t = |l: &field_core::rules::Label| lang.t(&l.zh, &l.en).to_string();
    let guide = &g.guide;
    let u = super::urlencode(&g.unit.unit);
    html! {
        main {
            h1 { (lang.t("供电业务报装指南", "Guide to applying for electricity")) " · " (lang.t(guide.kind.zh(), guide.kind.en())) }
            p.actions.no-print {
                a.button href={ "/public/" (u) "/apply" } { (lang.t("网上申请用电", "Apply online")) }
                a.button.secondary #guide-pdf href={ "/public/" (u) "/guide/" (guide.kind.as_str()) "/pdf" } { (lang.t("下载 PDF 指南", "Download the PDF")) }
            }
            section.card #steps {
                h2 { (lang.t("办理环节", "Steps")) }
                ol { @for s in &guide.steps { li { (t(s)) } } }
                @if !guide.extra_steps.is_empty() {
                    p.small.muted { (lang.t("不符合投资至红线条件时另有：", "When the utility does not invest to the red line, also: "))
                        @for (i, s) in guide.extra_steps.iter().enumerate() { @if i > 0 { "、" } (t(s)) } }
                }
            }
            section.card #documents {
                h2 { (lang.t("所需资料", "Documents")) }
                p.small { (lang.t("一证受理：凭身份证（单位客户为营业执照）即可受理，其余资料可由客户经理上门收取。", "One document is enough to apply; your customer manager collects the rest.")) }
                table.list {
                    thead { tr { th { (lang.t("资料", "Document")) } th { (lang.t("何时需要", "When")) } th { (lang.t("可提供其一", "Any one of")) } } }
                    tbody {
                        @for d in &guide.documents {
                            tr {
                                td data-label=(lang.t("资料", "Document")) { (t(&d.label)) }
                                td data-label=(lang.t("何时需要", "When")) { (t(&d.when)) }
                                td data-label=(lang.t("可提供其一", "Any one of")) {
                                    @for (i, o) in d.options.iter().enumerate() { @if i > 0 { "、" } (t(o)) }
                                    @if !d.rural_options.is_empty() { br; span.small.muted { (lang.t("农村地区也可：", "In rural areas also: ")) @for (i, o) in d.rural_options.iter().enumerate() { @if i > 0 { "、" } (t(o)) } } }
                                    @if d.original { br; span.small.muted { (lang.t("须验原件", "original shown")) } }
                                }
                            }
                        }
                    }
                }
            }
            section.card #limits {
                h2 { (lang.t("办理时限（工作日）", "Time limits (working days)")) }
                table.list {
                    thead { tr { th { (lang.t("环节", "Stage")) } th { (lang.t("适用", "Applies")) } th { (lang.t("时限", "Limit")) } } }
                    tbody {
                        @for l in &guide.limits {
                            tr data-stage=(l.stage.code()) {
                                td data-label=(lang.t("环节", "Stage")) { (lang.t(l.stage.zh(), l.stage.en())) }
                                td data-label=(lang.t("适用", "Applies")) { (t(&l.when)) }
                                td.days data-label=(lang.t("时限", "Limit")) {
                                    @if l.working_days == 0 { (lang.t("当日", "the same day")) } @else { "≤ " (l.working_days) (lang.t(" 个工作日", " working days")) }
                                }
                            }
                        }
                    }
                }
                p.small.muted { (lang.t("客户原因等待期间不计入时限。", "Time spent waiting on the customer does not count.")) }
            }
            section.card #fees {
                h2 { (lang.t("收费标准和收费依据", "Fees and their basis")) }
                table.list {
                    thead { tr { th { (lang.t("项目", "Item")) } th { (lang.t("标准", "Standard")) } th { (lang.t("依据", "Basis")) } } }
                    tbody {
                        @for f in &guide.fees {
                            tr {
                                td data-label=(lang.t("项目", "Item")) { (t(&f.item)) }
                                td data-label=(lang.t("标准", "Standard")) { (t(&f.standard)) }
                                td data-label=(lang.t("依据", "Basis")) { (t(&f.basis)) }
                            }
                        }
                    }
                }
            }
            section.card #rights {
                h2 { (lang.t("您的权利", "Your rights")) }
                ul { @for r in &guide.rights { li { (t(r)) } } }
            }
            (hotlines(lang, Some(&g.unit)))
            p.small.muted { (lang.t("依据：规则集 ", "From: rule set ")) (guide.rule_set) (lang.t("；收费标准 ", "; fee schedule ")) (guide.fee_schedule) }
        }
    }
}

/// `GET /public/{unit}/guide/{kind}`.
pub async fn page(
    State(env): State<Arc<Env>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path((unit, kind)): Path<(String, String)>,
) -> Result<Response, Shown> {
    limit(&env, peer, &headers)?;
    let lang = lang_of(&headers);
    let here = format!(
        "/public/{}/guide/{}",
        super::urlencode(&unit),
        super::urlencode(&kind)
    );
    let g = env
        .blocking(move |env| guide::for_kind(env, &unit, &kind))
        .await
        .page(lang)?;
    let title = lang.t("供电业务报装指南", "Guide to applying for electricity");
    Ok(layout::bare_at(lang, &here, title, body(lang, &g)).into_response())
}

/// `GET /public/{unit}/guide/{kind}/pdf`.
pub async fn pdf(
    State(env): State<Arc<Env>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path((unit, kind)): Path<(String, String)>,
) -> Result<Response, Shown> {
    limit(&env, peer, &headers)?;
    let lang = lang_of(&headers);
    let link = format!(
        "{}/public/{}/apply",
        origin(&env, &headers),
        super::urlencode(&unit)
    );
    let name = format!("报装指南-{kind}.pdf");
    let english = lang == Lang::En;
    let pdf = env
        .blocking(move |env| guide::pdf(env, &unit, &kind, english, &link))
        .await
        .page(lang)?;
    Ok(super::exports::inline_pdf(&name, pdf))
}
