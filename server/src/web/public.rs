//! Pages without a login: the units' customer managers to choose from, and a job's progress
//! behind its unguessable link. Also the QR code an office prints for the customer.

use super::layout;
use super::{ShowErr, Shown, lang_of};
use crate::i18n::Lang;
use crate::service::Env;
use crate::service::public::{self, Progress};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use maud::{Markup, PreEscaped, html};
use std::net::SocketAddr;
use std::sync::Arc;

/// Counts a request to the customers' pages against its address's limit (they need no login,
/// so every address gets a budget per minute).
pub(super) fn limit(env: &Env, peer: SocketAddr, headers: &HeaderMap) -> Result<String, Shown> {
    let client = crate::service::auth::client_address(
        peer.ip(),
        env.auth.client_ip_header.as_deref(),
        headers,
    );
    env.auth
        .public_limiter
        .check(&client)
        .map_err(|e| Shown(lang_of(headers), e))?;
    Ok(client)
}

/// This server's address as the browser reached it (for links printed as QR codes).
pub fn origin(env: &Env, headers: &HeaderMap) -> String {
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
        })
        .unwrap_or("localhost");
    let scheme = if super::secure(env, headers) {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{host}")
}

/// A QR code of `text` as inline SVG.
pub fn qr_svg(text: &str) -> Markup {
    match qrcode::QrCode::new(text.as_bytes()) {
        Ok(code) => PreEscaped(
            code.render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(160, 160)
                .quiet_zone(true)
                .build(),
        ),
        Err(_) => html! {},
    }
}

/// `GET /public`: the units.
pub async fn units(
    State(env): State<Arc<Env>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, Shown> {
    limit(&env, peer, &headers)?;
    let lang = lang_of(&headers);
    let units = env.blocking(public::units).await.page(lang)?;
    let body = html! {
        main {
            h1 { (lang.t("网上办电", "Apply for electricity online")) }
            p { (lang.t("请选择为您供电的单位：", "Choose the unit that supplies you:")) }
            ul #units {
                @for u in &units {
                    li {
                        a href={ "/public/" (super::urlencode(&u.unit)) } { (u.name) }
                        @if !u.address.is_empty() { span.small.muted { " · " (u.address) } }
                    }
                }
            }
            (hotlines(lang, None))
        }
    };
    Ok(layout::bare_at(lang, "/public", lang.t("网上办电", "Apply online"), body).into_response())
}

/// The hall's address, hours and hotline, and the national hotlines (95598 for service,
/// 12398 for complaints about energy regulation).
pub fn hotlines(lang: Lang, unit: Option<&crate::service::units::Unit>) -> Markup {
    html! {
        section.card #contacts {
            @if let Some(u) = unit {
                h2 { (u.name) }
                dl.fields {
                    @if !u.address.is_empty() { dt { (lang.t("营业厅地址", "Service hall")) } dd #hall-address { (u.address) } }
                    @if !u.hall_hours.is_empty() { dt { (lang.t("营业时间", "Opening hours")) } dd #hall-hours { (u.hall_hours) } }
                    @if !u.hotline.is_empty() { dt { (lang.t("服务电话", "Hotline")) } dd #hall-hotline { a href={ "tel:" (u.hotline) } { (u.hotline) } } }
                }
            }
            p.small {
                (lang.t("供电服务热线 ", "Electricity service hotline "))
                a href="tel:95598" { strong { "95598" } }
                (lang.t("　·　能源监管投诉举报热线 ", " · Energy regulation complaints "))
                a href="tel:12398" { strong { "12398" } }
            }
        }
    }
}

/// `GET /public/{unit}`: the unit's customer managers.
pub async fn managers(
    State(env): State<Arc<Env>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(unit): Path<String>,
) -> Result<Response, Shown> {
    limit(&env, peer, &headers)?;
    let lang = lang_of(&headers);
    let u = unit.clone();
    let (list, grid, record) = env
        .blocking(move |env| {
            Ok((
                match public::managers(env, &u) {
                    Err(crate::error::ServerError::NotFound) => Vec::new(),
                    other => other?,
                },
                crate::service::grid::cells(env, &u),
                crate::service::units::get(env, &u)?,
            ))
        })
        .await
        .page(lang)?;
    let body = html! {
        main {
            h1 { (record.name) }
            p.actions {
                a.button #apply-link href={ "/public/" (super::urlencode(&unit)) "/apply" } { (lang.t("申请用电", "Apply for electricity")) }
            }
            (hotlines(lang, Some(&record)))
            (super::guide::links(lang, &unit))
            h2 { (lang.t("客户经理公示", "Customer managers")) }
            p.muted {
                (lang.t(
                    "申请用电时，您可以自行选择客户经理。下表为各客户经理的办理情况。",
                    "When you apply, you may choose your customer manager yourself. Their record:",
                ))
            }
            table.list #managers {
                thead { tr {
                    th { (lang.t("客户经理", "Customer manager")) } th { (lang.t("工号", "Work number")) }
                    th { (lang.t("已办理", "Jobs handled")) } th { (lang.t("在办", "Open jobs")) }
                    th { (lang.t("平均满意度", "Average satisfaction")) }
                } }
                tbody {
                    @for m in &list {
                        tr {
                            td data-label=(lang.t("客户经理", "Customer manager")) { (m.name) }
                            td data-label=(lang.t("工号", "Work number")) { (m.work_number) }
                            td data-label=(lang.t("已办理", "Jobs handled")) { (m.handled) }
                            td data-label=(lang.t("在办", "Open jobs")) { (m.open) }
                            td data-label=(lang.t("平均满意度", "Average satisfaction")) {
                                @match m.satisfaction {
                                    Some(s) => { (format!("{s:.1}")) " / 5 (" (m.visits) (lang.t(" 次回访", " visits")) ")" },
                                    None => "—",
                                }
                            }
                        }
                    }
                }
            }
            h2 { (lang.t("电网资源受限信息（接入受限）", "Where the grid restricts new connections")) }
            @if grid.restricted().next().is_none() {
                p.muted #restricted-none { (lang.t("目前没有接入受限的电网网格。", "No grid cell restricts new connections now.")) }
            } @else {
                p.muted {
                    (lang.t("以下网格电网健康状况为亚健康或病态：新装用电先接入满足基本用电需求，同步开展电网升级改造。",
                        "These cells are sub-healthy or sick: new connections are made for basic needs first while the grid is upgraded."))
                }
                table.list #restricted {
                    thead { tr {
                        th { (lang.t("网格", "Cell")) } th { (lang.t("健康状况", "Health")) }
                        th { (lang.t("说明与改造计划", "Notes and upgrade plan")) }
                    } }
                    tbody {
                        @for c in grid.restricted() {
                            tr {
                                td data-label=(lang.t("网格", "Cell")) { (c.name) "（" (c.id) "）" }
                                td data-label=(lang.t("健康状况", "Health")) {
                                    (super::layout::badge(if c.grade == field_core::GridHealth::Sick { "bad" } else { "warn" }, lang.t(c.grade.zh(), c.grade.en())))
                                }
                                td data-label=(lang.t("说明与改造计划", "Notes and upgrade plan")) {
                                    (c.note)
                                    @if !c.upgrade_project.is_empty() { " · " (lang.t("改造项目 ", "upgrade project ")) (c.upgrade_project) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    let here = format!("/public/{}", super::urlencode(&unit));
    Ok(layout::bare_at(lang, &here, &record.name, body).into_response())
}

fn given(lang: Lang, g: &public::Given) -> Markup {
    html! {
        dt { (lang.t("申请人", "Applicant")) } dd #given-name { (g.name) }
        dt { (lang.t("证件号码", "Document number")) } dd #given-id { (g.id_number) }
        dt { (lang.t("联系电话", "Phone")) } dd #given-phone { (g.phone) }
    }
}

fn progress_body(lang: Lang, p: &Progress, token: &str) -> Markup {
    html! {
        main {
            h1 { (lang.t("办电进度", "Your application")) " · " (p.job_no) }
            section.card #progress {
                dl.fields {
                    @if let Some(u) = &p.unit_record { dt { (lang.t("供电单位", "Supplied by")) } dd { (u.name) } }
                    @if let Some(g) = &p.customer { (given(lang, g)) }
                    dt { (lang.t("业务类型", "Kind")) } dd { (lang.t(p.kind.zh(), p.kind.en())) }
                    dt { (lang.t("受理日期", "Accepted on")) } dd { (p.accepted_on) }
                    dt { (lang.t("当前环节", "Current stage")) } dd #stage { strong { (lang.t(p.status.zh(), p.status.en())) } }
                    @if let Some((stage, due)) = &p.next {
                        dt { (lang.t("下一步时限", "Next step due")) }
                        dd #next-due { (lang.t(stage.zh(), stage.en())) " · " (lang.t("最迟 ", "by ")) strong { (due) } }
                    }
                    dt { (lang.t("联系人", "Contact")) }
                    dd #contact {
                        @match &p.contact {
                            Some((name, no)) => { (name) " · " (lang.t("工号 ", "work number ")) (no) },
                            None => (lang.t("营业厅正在为您安排客户经理", "the office is assigning your customer manager")),
                        }
                    }
                }
            }
            @if !p.steps.is_empty() {
                section.card #steps {
                    h2 { (lang.t("已完成的步骤", "Steps done")) }
                    ol { @for (e, d) in &p.steps { li { (d) " · " (lang.t(e.zh(), e.en())) } } }
                }
            }
            @if let Some(c) = &p.connection {
                section.card #connection {
                    h2 { (lang.t("接电安排", "Your power-on")) }
                    dl.fields {
                        dt { (lang.t("计划接电日期", "Planned power-on")) } dd #planned-power-on { (c.planned_on) }
                        @if let Some((a, b)) = &c.window { dt { (lang.t("接电时段", "Window")) } dd { (a) "–" (b) } }
                        @if let Some(ok) = c.outage_approved {
                            dt { (lang.t("配合停电计划", "Outage for the connection")) }
                            dd { @if ok { (lang.t("已批准", "approved")) } @else { (lang.t("报批中，日期以批准为准", "awaiting approval; the day holds once approved")) } }
                        }
                    }
                }
            }
            @if let Some(d) = &p.typical_design {
                section.card #typical-design {
                    h2 { (lang.t("典型设计和典型造价（参考）", "Typical design and typical cost (for reference)")) }
                    dl.fields {
                        dt { (lang.t("典型设计", "Typical design")) } dd { (d.title.clone().unwrap_or_default()) }
                        dt { (lang.t("典型造价", "Typical cost")) }
                        dd #typical-cost {
                            @match (d.cost_low_yuan, d.cost_high_yuan) {
                                (Some(l), Some(h)) if h <= 0.0 && l <= 0.0 => (lang.t("客户无需出资（零投资）", "nothing for you to pay (zero investment)")),
                                (Some(l), Some(h)) => { (format!("{l:.0}–{h:.0}")) (lang.t(" 元", " yuan")) },
                                _ => "—",
                            }
                        }
                    }
                    p.small.muted { (lang.t("造价为同类工程的典型范围，实际以设计和结算为准；客户工程可自主选择有资质的设计、施工单位。", "A typical range for such works; the design and settlement decide. You may choose any qualified design and construction firms for your works.")) }
                }
            }
            @if let Some(plan) = &p.plan { (plan_card(lang, p, plan, token)) }
            @if p.powered_on { (rating_card(lang, p, token)) }
            p.no-print { a href={ "/p/" (token) "/receipt" } { (lang.t("查看并打印回执", "View and print the receipt")) } }
            (hotlines(lang, p.unit_record.as_ref()))
            p.small.muted { (lang.t("本页只显示办理进度和您提交的信息（证件号和电话已部分隐藏）。请妥善保管本链接。", "This page shows the progress and what you gave (document and phone numbers partly hidden). Keep this link private.")) }
        }
    }
}

fn plan_card(lang: Lang, p: &Progress, plan: &public::PlanForCustomer, token: &str) -> Markup {
    let v = &p.voice;
    let dash = || "—".to_string();
    html! {
        section.card #plan {
            h2 { (lang.t("供电方案", "Your supply plan")) }
            dl.fields {
                @if let Some(d) = plan.replied_on { dt { (lang.t("答复日期", "Replied on")) } dd { (d) } }
                dt { (lang.t("供电电源", "Supply source")) } dd { (plan.source.map(|s| lang.t(s.zh(), s.en()).to_string()).unwrap_or_else(dash)) }
                dt { (lang.t("供电电压", "Voltage")) } dd { (plan.voltage.map(|s| lang.t(s.zh(), s.en()).to_string()).unwrap_or_else(dash)) }
                dt { (lang.t("供电容量", "Capacity")) } dd { @if let Some(c) = plan.capacity_kva { (c) " kVA" } @else { "—" } }
                dt { (lang.t("计量点", "Metering point")) } dd { (plan.metering_point.clone().unwrap_or_else(dash)) }
                dt { (lang.t("产权分界点", "Property boundary")) } dd { (plan.property_boundary.clone().unwrap_or_else(dash)) }
                dt { (lang.t("应缴费用", "Fees due")) }
                dd #plan-fees {
                    @match plan.fees_yuan {
                        Some(f) if f > 0.0 => { (format!("{f:.2}")) (lang.t(" 元", " yuan")) },
                        Some(_) => (lang.t("无需缴费", "none")),
                        None => "—",
                    }
                    @if let Some(b) = &plan.fees_basis { br; span.small.muted { (lang.t("收费依据：", "Basis: ")) (b) } }
                }
                dt { (lang.t("约定送电日期", "Agreed power-on date")) } dd #plan-power-on { (plan.power_on_agreed_on.map(|d| d.to_string()).unwrap_or_else(dash)) }
            }
            @if p.plan_confirmed {
                p.notice #plan-confirmed {
                    (lang.t("您已于 ", "You confirmed this plan on "))
                    (v.plan_confirmed_at.map(|t| field_core::job::local_date(t).to_string()).unwrap_or_default())
                    (lang.t(" 确认本方案。", "."))
                }
            } @else {
                @if let Some(q) = &v.plan_question {
                    p.notice #plan-asked { (lang.t("您的问题已转给客户经理：", "Your question went to your customer manager: ")) (q) }
                }
                form.no-print method="post" action={ "/p/" (token) "/plan" } {
                    input type="hidden" name="action" value="confirm";
                    div.actions { button #confirm-plan type="submit" { (lang.t("确认供电方案", "Confirm the supply plan")) } }
                }
                form.stack.no-print #ask-form method="post" action={ "/p/" (token) "/plan" } {
                    input type="hidden" name="action" value="ask";
                    label { (lang.t("对方案有疑问？请留言，客户经理会联系您：", "A question about the plan? Your customer manager will contact you:"))
                        textarea name="question" maxlength="1000" required {} }
                    div.actions { button.secondary type="submit" { (lang.t("提交问题", "Send the question")) } }
                }
            }
        }
    }
}

fn rating_card(lang: Lang, p: &Progress, token: &str) -> Markup {
    let v = &p.voice;
    html! {
        section.card #rating {
            h2 { (lang.t("服务评价", "Rate our service")) }
            @if let Some(r) = v.rating {
                p.notice #rated { (lang.t("感谢您的评价：", "Thank you for your rating: ")) strong { (r) (lang.t(" 分", " / 5")) } }
            } @else {
                form.stack method="post" action={ "/p/" (token) "/rating" } {
                    fieldset #stars {
                        legend { (lang.t("您对本次办电服务和客户经理的满意度（1–5 分）", "How satisfied are you with the service and your customer manager (1–5)?")) }
                        @for n in 1..=5 {
                            label.inline { input type="radio" name="score" value=(n) required; (n) }
                        }
                    }
                    label { (lang.t("意见和建议（选填）", "Comments (optional)")) textarea name="comment" maxlength="1000" {} }
                    div.actions { button #rate type="submit" { (lang.t("提交评价", "Send the rating")) } }
                }
            }
        }
    }
}

/// `POST /p/{token}/plan`: the customer confirms the supply plan (`action=confirm`) or asks
/// about it (`action=ask`, `question`).
pub async fn plan(
    State(env): State<Arc<Env>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(token): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, Shown> {
    limit(&env, peer, &headers)?;
    let lang = lang_of(&headers);
    let f = super::Form::parse(&body);
    let (action, question) = (f.get("action").to_string(), f.get("question").to_string());
    let t = token.clone();
    env.blocking(move |env| match action.as_str() {
        "confirm" => crate::service::customer_voice::confirm_plan(env, &t),
        "ask" => crate::service::customer_voice::ask(env, &t, &question),
        _ => Err(crate::error::ServerError::bad(
            "invalid_value",
            "未知的操作",
            "unknown action",
        )),
    })
    .await
    .page(lang)?;
    Ok(
        axum::response::Redirect::to(&format!("/p/{}#plan", super::urlencode(&token)))
            .into_response(),
    )
}

/// `POST /p/{token}/rating`: the customer's rating (`score` 1–5, `comment`), once.
pub async fn rating(
    State(env): State<Arc<Env>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(token): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, Shown> {
    limit(&env, peer, &headers)?;
    let lang = lang_of(&headers);
    let f = super::Form::parse(&body);
    let score = f.get("score").trim().parse::<i64>().unwrap_or(0);
    let comment = f.get("comment").to_string();
    let t = token.clone();
    env.blocking(move |env| crate::service::customer_voice::rate(env, &t, score, &comment))
        .await
        .page(lang)?;
    Ok(
        axum::response::Redirect::to(&format!("/p/{}#rating", super::urlencode(&token)))
            .into_response(),
    )
}

fn application_state(lang: Lang, state: &str) -> Markup {
    match state {
        "pending" => super::layout::badge("pending", lang.t("待受理", "waiting at the counter")),
        "declined" => super::layout::badge("bad", lang.t("不予受理", "declined")),
        _ => super::layout::badge("ok", lang.t("已受理", "accepted")),
    }
}

fn application_body(
    lang: Lang,
    a: &crate::service::applications::ApplicationView,
    unit: Option<&crate::service::units::Unit>,
    token: &str,
    filed: Option<&str>,
) -> Markup {
    let d = &a.detail;
    let g = public::Given::masked(&d.name, &d.id_number, &d.phone);
    html! {
        main {
            h1 { (lang.t("用电申请", "Your application")) " · " (a.number) }
            @match filed {
                Some("again") => p.notice #filed { (lang.t("您已提交过相同的申请，以下是该申请的办理情况。", "You had filed this application before: here is where it stands.")) },
                Some(_) => p.notice #filed { (lang.t("申请已提交。请保存本页链接，随时查询办理进度。", "Your application was filed. Keep this page's link to follow it.")) },
                None => {},
            }
            section.card #progress {
                dl.fields {
                    @if let Some(u) = unit { dt { (lang.t("供电单位", "Supplied by")) } dd { (u.name) } }
                    (given(lang, &g))
                    dt { (lang.t("业务类型", "Kind")) } dd { (lang.t(d.kind.zh(), d.kind.en())) }
                    dt { (lang.t("提交时间", "Filed")) } dd { (crate::i18n::millis(a.filed_at.timestamp_millis())) }
                    dt { (lang.t("状态", "State")) } dd #stage { (application_state(lang, &a.state)) }
                    @if let Some((_, name, no)) = &d.manager {
                        dt { (lang.t("您选择的客户经理", "The customer manager you chose")) } dd #chosen { (name) " · " (lang.t("工号 ", "work number ")) (no) }
                    }
                    @if let Some(r) = &a.reason {
                        dt { (lang.t("不予受理原因", "Why it was declined")) } dd #reason { (r) }
                    }
                }
                @if a.state == "pending" {
                    p.small { (lang.t("营业厅将在工作日当天处理线上申请，受理后本页显示办理进度。", "The service hall handles online applications the same working day; once accepted, this page shows the progress.")) }
                }
            }
            p.no-print { a #receipt-link href={ "/p/" (token) "/receipt" } { (lang.t("查看并打印回执", "View and print the receipt")) } }
            (hotlines(lang, unit))
            p.small.muted { (lang.t("证件号和电话已部分隐藏。请妥善保管本链接。", "Document and phone numbers are partly hidden. Keep this link private.")) }
        }
    }
}

/// `?filed=…` after filing an application.
#[derive(serde::Deserialize, Default)]
pub struct TrackQuery {
    #[serde(default)]
    filed: Option<String>,
}

/// `GET /p/{token}`: a job's progress, or the application it is made from.
pub async fn progress(
    State(env): State<Arc<Env>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(token): Path<String>,
    axum::extract::Query(q): axum::extract::Query<TrackQuery>,
) -> Result<Response, Shown> {
    limit(&env, peer, &headers)?;
    let lang = lang_of(&headers);
    let here = format!("/p/{}", super::urlencode(&token));
    let t = token.clone();
    let tracked = env
        .blocking(move |env| public::track(env, &t))
        .await
        .page(lang)?;
    let body = match &tracked {
        public::Tracking::Job(p) => progress_body(lang, p, &super::urlencode(&token)),
        public::Tracking::Application(a, unit) => application_body(
            lang,
            a,
            unit.as_ref(),
            &super::urlencode(&token),
            q.filed.as_deref(),
        ),
    };
    Ok(layout::bare_at(lang, &here, lang.t("办电进度", "Your application"), body).into_response())
}

/// `GET /p/{token}/receipt`: the applicant's receipt (回执), printable.
pub async fn receipt(
    State(env): State<Arc<Env>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Result<Response, Shown> {
    limit(&env, peer, &headers)?;
    let lang = lang_of(&headers);
    let here = format!("/p/{}/receipt", super::urlencode(&token));
    let t = token.clone();
    let tracked = env
        .blocking(move |env| public::track(env, &t))
        .await
        .page(lang)?;
    let link = format!("{}/p/{}", origin(&env, &headers), super::urlencode(&token));
    let public::Receipt {
        number,
        unit,
        kind,
        given: customer,
        when: filed,
        manager,
        state,
    } = public::receipt(&tracked, lang == Lang::En);
    let body = html! {
        main.receipt {
            h1 { (lang.t("用电申请回执", "Application receipt")) }
            section.card #receipt {
                dl.fields {
                    dt { (lang.t("编号", "Number")) } dd #receipt-number { strong { (number) } }
                    @if let Some(u) = &unit { dt { (lang.t("供电单位", "Supplied by")) } dd { (u.name) } }
                    dt { (lang.t("业务类型", "Kind")) } dd { (lang.t(kind.zh(), kind.en())) }
                    @if let Some(g) = &customer { (given(lang, g)) }
                    dt { (lang.t("提交 / 受理", "Filed / accepted")) } dd { (filed) }
                    dt { (lang.t("状态", "State")) } dd { (state) }
                    @if let Some((n, w)) = &manager { dt { (lang.t("客户经理", "Customer manager")) } dd { (n) " · " (lang.t("工号 ", "work number ")) (w) } }
                }
                div.progress-link {
                    div.qr { (qr_svg(&link)) }
                    p.small { (lang.t("扫码或访问以下链接查询办理进度：", "Scan, or open this link to follow your application:")) br; code { (link) } }
                }
            }
            (hotlines(lang, unit.as_ref()))
            p.no-print.actions {
                button type="button" data-print hidden { (lang.t("打印回执", "Print the receipt")) }
                a.button.secondary #receipt-pdf href={ "/p/" (super::urlencode(&token)) "/receipt.pdf" } { (lang.t("下载 PDF 回执", "Download the PDF")) }
                a href={ "/p/" (super::urlencode(&token)) } { (lang.t("返回办理进度", "Back to the progress")) }
            }
        }
    };
    Ok(layout::bare_at(
        lang,
        &here,
        lang.t("用电申请回执", "Application receipt"),
        body,
    )
    .into_response())
}

/// `GET /p/{token}/receipt.pdf`: the applicant's receipt as a PDF.
pub async fn receipt_pdf(
    State(env): State<Arc<Env>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Result<Response, Shown> {
    limit(&env, peer, &headers)?;
    let lang = lang_of(&headers);
    let link = format!("{}/p/{}", origin(&env, &headers), super::urlencode(&token));
    let english = lang == Lang::En;
    let pdf = env
        .blocking(move |env| public::receipt_pdf(env, &token, &link, english))
        .await
        .page(lang)?;
    Ok(super::exports::inline_pdf("用电申请回执.pdf", pdf))
}
