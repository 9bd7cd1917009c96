//! 申请用电 without a login (`/public/{unit}/apply`): the customer's form, with the photo of their
//! ID card or licence and the customer manager they choose from the unit's list. A filed
//! application sends the browser to its tracking page; a refused one shows the form again with
//! the message and what was typed (the photo must be chosen again).

use super::layout;
use super::public::hotlines;
use super::{ShowErr, Shown, lang_of};
use crate::error::ServerError;
use crate::i18n::Lang;
use crate::service::Env;
use crate::service::applications::{self, ApplyInput};
use crate::service::public::PublicManager;
use crate::service::units::Unit;
use axum::extract::{ConnectInfo, Multipart, Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use field_core::JobKind;
use maud::{Markup, html};
use std::net::SocketAddr;
use std::sync::Arc;

/// Largest body of the form: the photo and a little text.
pub const APPLY_BODY_MAX: usize = applications::PHOTO_MAX_BYTES + 64 * 1024;
/// Largest text field of the form, bytes.
const FIELD_MAX: usize = 4 * 1024;
/// Most parts a form may have.
const PARTS_MAX: usize = 16;

fn page(
    lang: Lang,
    unit: &Unit,
    managers: &[PublicManager],
    input: &ApplyInput,
    error: Option<&str>,
) -> Markup {
    let v = |s: &Option<String>| s.clone().unwrap_or_default();
    html! {
        main {
            h1 { (lang.t("申请用电", "Apply for electricity")) " · " (unit.name) }
            p.small.muted {
                (lang.t("一证受理：只需上传身份证（单位客户为营业执照）照片即可提交，其余资料由客户经理上门时收取。",
                    "One document is enough to apply: a photo of your ID card (a company's business licence); your customer manager collects the rest."))
            }
            @if let Some(e) = error { p.error #apply-error role="alert" { (e) } }
            form.stack.card #apply method="post" enctype="multipart/form-data" action={ "/public/" (super::urlencode(&unit.unit)) "/apply" } {
                label { (lang.t("业务类型", "Kind"))
                    select name="kind" required {
                        @for k in JobKind::ALL {
                            option value=(k.as_str()) selected[input.kind == k.as_str()] { (lang.t(k.zh(), k.en())) }
                        }
                    }
                }
                label { (lang.t("客户或单位名称", "Customer or company name"))
                    input type="text" name="name" required maxlength="200" autocomplete="name" value=(input.name); }
                label { (lang.t("身份证号或统一社会信用代码", "Resident ID number or unified social credit code"))
                    input type="text" name="id_number" required maxlength="18" value=(input.id_number); }
                label { (lang.t("联系电话", "Phone"))
                    input type="tel" name="phone" required maxlength="20" autocomplete="tel" value=(input.phone); }
                label { (lang.t("用电地址", "Address"))
                    input type="text" name="address" required maxlength="200" autocomplete="street-address" value=(input.address); }
                label { (lang.t("申请容量（千伏安，选填）", "Capacity, kVA (optional)"))
                    input type="number" name="capacity_kva" min="0.1" step="0.1" value=(input.capacity_kva.map(|c| c.to_string()).unwrap_or_default()); }
                label { (lang.t("期望送电日期（选填）", "Wanted power-on date (optional)"))
                    input type="date" name="wanted_on" value=(v(&input.wanted_on)); }
                label { (lang.t("证件照片（身份证或营业执照，JPEG 或 PNG，10 MB 以内）", "Photo of the ID card or business licence (JPEG or PNG, up to 10 MB)"))
                    input type="file" name="photo" accept="image/jpeg,image/png" required; }
                label { (lang.t("自选客户经理（选填）", "Choose your customer manager (optional)"))
                    select name="manager" {
                        option value="" { (lang.t("由营业厅安排", "let the service hall assign one")) }
                        @for m in managers {
                            option value=(m.work_number) selected[input.manager.as_deref() == Some(m.work_number.as_str())] {
                                (m.name) "（" (lang.t("工号 ", "no. ")) (m.work_number) "）· "
                                (lang.t("已办 ", "handled ")) (m.handled) " · " (lang.t("在办 ", "open ")) (m.open) " · "
                                (lang.t("满意度 ", "satisfaction ")) (m.satisfaction.map(|s| format!("{s:.1}")).unwrap_or_else(|| "—".into()))
                            }
                        }
                    }
                }
                p.small.muted {
                    (lang.t("您提交的信息仅用于办理本次用电业务，证件照片只有营业厅和您的客户经理可以查看。",
                        "What you give is used for this application only; the photo is seen only by the service hall and your customer manager."))
                }
                div.actions { button type="submit" { (lang.t("提交申请", "File the application")) } }
            }
            (hotlines(lang, Some(unit)))
        }
    }
}

async fn unit_and_managers(
    env: &Arc<Env>,
    unit: &str,
) -> Result<(Unit, Vec<PublicManager>), ServerError> {
    let u = unit.to_string();
    env.blocking(move |env| {
        let record = crate::service::units::get(env, &u)?;
        let managers = match crate::service::public::managers(env, &u) {
            Err(ServerError::NotFound) => Vec::new(),
            other => other?,
        };
        Ok((record, managers))
    })
    .await
}

/// `GET /public/{unit}/apply`: the form.
pub async fn form(
    State(env): State<Arc<Env>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(unit): Path<String>,
) -> Result<Response, Shown> {
    super::public::limit(&env, peer, &headers)?;
    let lang = lang_of(&headers);
    let (record, managers) = unit_and_managers(&env, &unit).await.page(lang)?;
    let here = format!("/public/{}/apply", super::urlencode(&unit));
    let title = lang.t("申请用电", "Apply for electricity");
    let body = page(lang, &record, &managers, &ApplyInput::default(), None);
    Ok(layout::bare_at(lang, &here, title, body).into_response())
}

/// Reads the form's parts: the text fields (each bounded) and the photo (bounded by the body
/// limit); an unknown part is refused.
async fn read_form(mut parts: Multipart) -> Result<(ApplyInput, Vec<u8>), ServerError> {
    let mut input = ApplyInput::default();
    let mut photo = Vec::new();
    let unreadable = |e: axum::extract::multipart::MultipartError| {
        ServerError::bad(
            "invalid_form",
            format!("表单无法读取（可能是照片超过 10 MB）：{e}"),
            format!("the form could not be read (the photo may be over 10 MB): {e}"),
        )
    };
    let mut n = 0;
    while let Some(mut field) = parts.next_field().await.map_err(unreadable)? {
        n += 1;
        if n > PARTS_MAX {
            return Err(ServerError::bad(
                "invalid_form",
                "表单项过多",
                "too many form fields",
            ));
        }
        let name = field.name().unwrap_or_default().to_string();
        if name == "photo" {
            while let Some(chunk) = field.chunk().await.map_err(unreadable)? {
                if photo.len() + chunk.len() > applications::PHOTO_MAX_BYTES {
                    return Err(ServerError::bad(
                        "invalid_photo",
                        "照片超过 10 MB",
                        "the photo is over 10 MB",
                    ));
                }
                photo.extend_from_slice(&chunk);
            }
            continue;
        }
        let mut text = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(unreadable)? {
            if text.len() + chunk.len() > FIELD_MAX {
                return Err(ServerError::bad(
                    "invalid_form",
                    "填写内容过长",
                    "a field is too long",
                ));
            }
            text.extend_from_slice(&chunk);
        }
        let text = String::from_utf8(text)
            .map_err(|_| ServerError::bad("invalid_form", "文字编码无效", "text is not UTF-8"))?;
        let opt = |t: String| Some(t).filter(|t| !t.trim().is_empty());
        match name.as_str() {
            "kind" => input.kind = text,
            "name" => input.name = text,
            "id_number" => input.id_number = text,
            "phone" => input.phone = text,
            "address" => input.address = text,
            "capacity_kva" => {
                input.capacity_kva = match text.trim() {
                    "" => None,
                    t => Some(t.parse::<f64>().map_err(|_| {
                        ServerError::bad(
                            "invalid_value",
                            "申请容量应为数字",
                            "the capacity must be a number",
                        )
                    })?),
                }
            }
            "wanted_on" => input.wanted_on = opt(text),
            "manager" => input.manager = opt(text),
            _ => {
                return Err(ServerError::bad(
                    "invalid_form",
                    "未知的表单项",
                    "unknown form field",
                ));
            }
        }
    }
    Ok((input, photo))
}

/// `POST /public/{unit}/apply`: files the application; to its tracking page, or the form again
/// with the message.
pub async fn submit(
    State(env): State<Arc<Env>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(unit): Path<String>,
    parts: Multipart,
) -> Result<Response, Shown> {
    let who = super::public::limit(&env, peer, &headers)?;
    let lang = lang_of(&headers);
    let (input, photo) = read_form(parts).await.page(lang)?;
    match applications::file(&env, unit.clone(), input.clone(), photo, who).await {
        Ok(filed) => {
            let how = if filed.duplicate { "again" } else { "1" };
            Ok(Redirect::to(&format!(
                "/p/{}?filed={how}",
                super::urlencode(&filed.token)
            ))
            .into_response())
        }
        Err(e @ (ServerError::BadRequest { .. } | ServerError::Conflict { .. })) => {
            let (record, managers) = unit_and_managers(&env, &unit).await.page(lang)?;
            let (_, zh, en) = e.describe();
            let status = crate::http::error::status(&e);
            let here = format!("/public/{}/apply", super::urlencode(&unit));
            let body = page(lang, &record, &managers, &input, Some(lang.t(&zh, &en)));
            let title = lang.t("申请用电", "Apply for electricity");
            Ok((status, layout::bare_at(lang, &here, title, body)).into_response())
        }
        Err(e) => Err(Shown(lang, e)),
    }
}
