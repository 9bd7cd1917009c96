//! Photos (a gallery per job and checklist group, a full-size viewer with ← / →, each photo's
//! facts and whether the stored original still matches its SHA-256) and signed contracts (the
//! text, both signatures, the verification result, the PDF).

use super::jobs::{heading, load, tabs};
use super::layout::{self, badge};
use super::{ShowErr, Shown, Web};
use crate::error::ServerError;
use crate::i18n::{self, Lang};
use crate::service::view::JobView;
use crate::service::{Env, contracts};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use field_core::contract::SignaturePad;
use field_core::job::Photo;
use maud::{Markup, html};
use std::sync::Arc;

/// The job's photos in gallery order with the title of their group.
fn ordered(lang: Lang, v: &JobView) -> Vec<(String, &str, &Photo)> {
    let mut out: Vec<(usize, String, Option<String>, &str, &Photo)> = v
        .job
        .photos
        .iter()
        .map(|(id, p)| {
            let group = p.checklist_group.as_deref().and_then(|g| {
                v.checklist.iter().position(|r| r.group.key == g).map(|i| {
                    (
                        i,
                        lang.t(
                            &v.checklist[i].group.label.zh,
                            &v.checklist[i].group.label.en,
                        )
                        .to_string(),
                    )
                })
            });
            let (rank, title) = match group {
                Some((i, t)) => (i, format!("{} · {t}", lang.t("收资", "Checklist"))),
                None => (
                    usize::MAX,
                    p.purpose
                        .map(|x| lang.t(x.zh(), x.en()).to_string())
                        .unwrap_or_else(|| lang.t("其他照片", "Other photos").into()),
                ),
            };
            (
                rank,
                title,
                p.taken_at.map(|t| t.to_rfc3339()),
                id.as_str(),
                p,
            )
        })
        .collect();
    out.sort_by(|a, b| (a.0, &a.1, &a.2, a.3).cmp(&(b.0, &b.1, &b.2, b.3)));
    out.into_iter().map(|(_, t, _, id, p)| (t, id, p)).collect()
}

fn thumb(p: &Photo) -> Option<&str> {
    p.thumbnail_sha256
        .as_deref()
        .or(p.display_sha256.as_deref())
        .or(p.original_sha256.as_deref())
}

/// `GET /jobs/{id}/photos`.
pub async fn gallery(
    State(env): State<Arc<Env>>,
    web: Web,
    Path(id): Path<String>,
) -> Result<Response, Shown> {
    let v = load(&env, &web, &id).await?;
    let lang = web.lang;
    let photos = ordered(lang, &v);
    let mut groups: Vec<(String, Vec<(&str, &Photo)>)> = Vec::new();
    for (title, pid, p) in &photos {
        match groups.last_mut() {
            Some((t, list)) if t == title => list.push((pid, p)),
            _ => groups.push((title.clone(), vec![(pid, p)])),
        }
    }
    let body = html! {
        (heading(lang, &v))
        (tabs(&web, &v, "photos"))
        @if photos.is_empty() {
            p.notice { (lang.t("此工单还没有照片。", "This job has no photos yet.")) }
        }
        @for (title, list) in &groups {
            section.card {
                h2 { (title) " (" (list.len()) ")" }
                div.gallery {
                    @for (pid, p) in list {
                        figure {
                            a href={ "/jobs/" (v.job.id) "/photos/" (pid) } {
                                @if let Some(t) = thumb(p) {
                                    img src={ "/api/v1/blobs/" (t) } loading="lazy" decoding="async"
                                        alt=(p.caption.as_deref().unwrap_or(lang.t("照片", "photo")));
                                }
                            }
                            figcaption {
                                (p.caption.as_deref().unwrap_or(""))
                                br;
                                (p.taken_at.map(i18n::instant).unwrap_or_default())
                            }
                        }
                    }
                }
            }
        }
    };
    let title = format!("{} {}", v.job.job_no, lang.t("照片", "photos"));
    Ok(layout::page(&web, &format!("/jobs/{id}/photos"), &title, body).into_response())
}

/// `GET /jobs/{id}/photos/{pid}`.
pub async fn viewer(
    State(env): State<Arc<Env>>,
    web: Web,
    Path((id, pid)): Path<(String, String)>,
) -> Result<Response, Shown> {
    let v = load(&env, &web, &id).await?;
    let lang = web.lang;
    let photos = ordered(lang, &v);
    let Some(at) = photos.iter().position(|(_, p, _)| *p == pid) else {
        return Err(Shown(lang, ServerError::NotFound));
    };
    let (group, _, p) = &photos[at];
    let prev = at.checked_sub(1).map(|i| photos[i].1);
    let next = photos.get(at + 1).map(|(_, id, _)| *id);
    let check = match p.original_sha256.as_deref() {
        Some(sha) if field_core::validate::is_sha256_hex(sha) => {
            Some(env.blobs.stored_sha256(sha).await.page(lang)?)
        }
        _ => None,
    };
    let shown = p.display_sha256.as_deref().or(p.original_sha256.as_deref());
    let row = |k: &str, val: String| html! { dt { (i18n::field(lang, k)) } dd { (val) } };
    let body = html! {
        (heading(lang, &v))
        (tabs(&web, &v, "photos"))
        section.card.viewer {
            h2 { (group) " · " (at + 1) " / " (photos.len()) }
            div.pager.no-print {
                @if let Some(p) = prev { a rel="prev" href={ "/jobs/" (id) "/photos/" (p) } { (lang.t("« 上一张", "« Previous")) } } @else { span {} }
                a href={ "/jobs/" (id) "/photos" } { (lang.t("全部照片", "All photos")) }
                @if let Some(n) = next { a rel="next" href={ "/jobs/" (id) "/photos/" (n) } { (lang.t("下一张 »", "Next »")) } } @else { span {} }
            }
            @if let Some(s) = shown {
                img src={ "/api/v1/blobs/" (s) } alt=(p.caption.as_deref().unwrap_or(lang.t("照片", "photo")));
            }
            p.small.muted.no-print { (lang.t("键盘 ← → 切换照片。", "Use ← and → to move between photos.")) }
        }
        section.card {
            h2 { (lang.t("照片信息", "About this photo")) }
            dl.fields {
                @if let Some(c) = &p.caption { (row("text", c.clone())) }
                @if let Some(x) = p.purpose { dt { (lang.t("用途", "purpose")) } dd { (lang.t(x.zh(), x.en())) } }
                (row("taken_at", p.taken_at.map(i18n::instant).unwrap_or("—".into())))
                (row("captured_at", p.captured_at.map(i18n::instant).unwrap_or("—".into())))
                dt { (lang.t("位置（GPS）", "location (GPS)")) }
                dd {
                    @match (p.latitude, p.longitude) {
                        (Some(la), Some(lo)) => {
                            (format!("{la:.6}, {lo:.6}"))
                            @if let Some(acc) = p.gps_accuracy_m { " ±" (format!("{acc:.0}")) " m" }
                            @if let Some(src) = &p.gps_source {
                                " · " (match src.as_str() {
                                    "device" => lang.t("手机定位", "phone location"),
                                    "exif" => lang.t("照片 EXIF", "photo EXIF"),
                                    other => other,
                                })
                            }
                        },
                        _ => (lang.t("无定位", "no location")),
                    }
                }
                (row("author", match (&p.author_name, &p.author) {
                    (Some(n), Some(a)) => format!("{n}（{a}）"),
                    (None, Some(a)) => a.clone(),
                    _ => "—".into(),
                }))
                (row("device", p.device.clone().unwrap_or("—".into())))
                @if let Some(c) = &p.camera { dt { (lang.t("相机", "camera")) } dd { (c) } }
                @if let Some(w) = &p.watermark {
                    dt { (lang.t("水印文字", "watermark")) }
                    dd #watermark { @for line in w.lines() { (line) br; } }
                }
                dt { (lang.t("原图尺寸", "original size")) }
                dd {
                    (p.width.unwrap_or(0)) " × " (p.height.unwrap_or(0)) " · "
                    (format!("{:.1}", p.original_bytes.unwrap_or(0) as f64 / 1024.0)) " KiB"
                    @if let Some(m) = &p.original_mime { " · " (m) }
                }
                dt { "SHA-256" }
                dd { code.small { (p.original_sha256.as_deref().unwrap_or("—")) } }
                dt { (lang.t("原图校验", "original check")) }
                dd #original-check {
                    @match (&check, p.original_sha256.as_deref()) {
                        (Some(Some(h)), Some(want)) if h == want => (badge("ok", lang.t("存储的原图与记录的 SHA-256 一致", "the stored original matches its SHA-256"))),
                        (Some(Some(_)), _) => (badge("bad", lang.t("存储的原图与记录的 SHA-256 不一致！", "the stored original does NOT match its SHA-256!"))),
                        (Some(None), _) => (badge("warn", lang.t("原图尚未上传到服务器", "the original is not uploaded yet"))),
                        _ => (badge("warn", lang.t("无原图记录", "no original recorded"))),
                    }
                }
            }
            @if let (Some(Some(_)), Some(sha)) = (&check, p.original_sha256.as_deref()) {
                p.actions.no-print {
                    a.button.secondary href={ "/api/v1/blobs/" (sha) } download { (lang.t("下载原图", "Download the original")) }
                }
            }
        }
    };
    let title = format!("{} {}", v.job.job_no, lang.t("照片", "photo"));
    Ok(layout::page(&web, &format!("/jobs/{id}/photos/{pid}"), &title, body).into_response())
}

fn signature(lang: Lang, title: &str, name: Option<&str>, strokes: Option<&str>) -> Markup {
    let svg = strokes.and_then(|s| {
        SignaturePad::from_json("signature", s)
            .ok()
            .map(|p| p.to_svg())
    });
    html! {
        figure {
            @match svg {
                Some(s) => (layout::svg(s)),
                None => p.muted { (lang.t("（无签名）", "(no signature)")) },
            }
            figcaption { (title) "：" (name.unwrap_or("—")) }
        }
    }
}

/// `GET /jobs/{id}/contracts/{cid}`.
pub async fn contract(
    State(env): State<Arc<Env>>,
    web: Web,
    Path((id, cid)): Path<(String, String)>,
) -> Result<Response, Shown> {
    let v = load(&env, &web, &id).await?;
    let lang = web.lang;
    let Some(c) = v.job.contracts.get(&cid) else {
        return Err(Shown(lang, ServerError::NotFound));
    };
    let key = env.server_key().unwrap_or_default();
    let verification = contracts::verify_job(&env, &key, &id, Some(&cid))
        .await
        .page(lang)?
        .pop();
    let body = html! {
        (heading(lang, &v))
        (tabs(&web, &v, &cid))
        section.card {
            h2 { (c.title.as_deref().unwrap_or(lang.t("供用电合同", "Supply contract"))) }
            dl.fields {
                dt { (lang.t("合同编号", "contract no.")) } dd { (c.contract_no.as_deref().unwrap_or("—")) }
                dt { (lang.t("版本", "version")) } dd { (c.version.unwrap_or(1)) }
                dt { (lang.t("签署时间", "signed")) } dd { (c.signed_at.map(i18n::instant).unwrap_or("—".into())) }
                dt { (lang.t("签署设备", "device")) } dd { (c.device.as_deref().unwrap_or("—")) }
                dt { (lang.t("文本 SHA-256", "text SHA-256")) } dd { code.small { (c.text_sha256.as_deref().unwrap_or("—")) } }
            }
            h3 { (lang.t("核验结果", "Verification")) }
            @match &verification {
                Some(ver) => {
                    @let (zh, en) = ver.summary();
                    p #verification { (badge(if ver.is_valid() { "ok" } else { "bad" }, lang.t(&zh, &en))) }
                    @if !ver.altered.is_empty() {
                        ul { @for f in &ver.altered { li { strong { (lang.t(&f.part.zh(), &f.part.en())) } "：" (lang.t(&f.zh, &f.en)) } } }
                    }
                    @if !ver.unchecked.is_empty() {
                        p.small.muted { (lang.t("未能核验：", "Not checked: ")) }
                        ul.small { @for f in &ver.unchecked { li { (lang.t(&f.part.zh(), &f.part.en())) "：" (lang.t(&f.zh, &f.en)) } } }
                    }
                },
                None => p.muted { (lang.t("无法核验", "cannot verify")) },
            }
            p.actions.no-print {
                a.button href={ "/api/v1/jobs/" (id) "/contracts/" (cid) "/pdf" } { (lang.t("下载 PDF", "Download PDF")) }
            }
        }
        section.card {
            h2 { (lang.t("签名", "Signatures")) }
            div.signatures {
                (signature(lang, lang.t("客户", "Customer"), c.customer_name.as_deref(), c.customer_strokes.as_deref()))
                (signature(lang, lang.t("客户经理", "Customer manager"), c.manager_name.as_deref(), c.manager_strokes.as_deref()))
            }
        }
        section.card {
            h2 { (lang.t("合同文本（签署原文）", "Text as signed")) }
            pre.contract { (c.text.as_deref().unwrap_or("")) }
        }
    };
    let title = format!("{} {}", v.job.job_no, lang.t("合同", "contract"));
    Ok(layout::page(&web, &format!("/jobs/{id}/contracts/{cid}"), &title, body).into_response())
}
