//! Exports: the filtered job list as CSV (streamed page by page) and XLSX, a job's 一户一档
//! archive (a readable PDF summary of every section, the job as JSON and as its automerge file,
//! photo originals, contract archives) written to a scratch file and streamed, and the one-time
//! written notice (一次性书面告知书) of the completion inspection. Every export is audited.

use super::listing::{self, ListFilter};
use super::view::{self, JobView};
use super::{Env, audit, contracts, jobs};
use crate::authz::Principal;
use crate::error::ServerError;
use crate::i18n::{self, Lang};
use crate::store::{AuditEntry, JobListRow};
use field_core::InspectionKind;
use field_core::report::{Report, ReportBlock};
use serde_json::{Map, Value as Json};
use std::collections::BTreeMap;
use std::io::{Seek, Write};
use std::sync::Arc;

/// The columns of a list export.
pub fn columns(lang: Lang) -> Vec<String> {
    [
        ("工单号", "job number"),
        ("客户", "customer"),
        ("用电地址", "address"),
        ("业务类型", "kind"),
        ("环节", "stage"),
        ("时限状态", "time limit"),
        ("最近到期日", "next due"),
        ("审核状态", "review"),
        ("客户经理", "customer manager"),
        ("项目经理", "project manager"),
        ("受理日期", "accepted"),
        ("重点项目", "key project"),
        ("供电单位", "unit"),
        ("最近变更", "last changed"),
        ("工单 ID", "job id"),
    ]
    .iter()
    .map(|(zh, en)| lang.t(zh, en).to_string())
    .collect()
}

fn code<T>(
    lang: Lang,
    parse: impl Fn(&str) -> Option<T>,
    label: impl Fn(T) -> (&'static str, &'static str),
    v: &str,
) -> String {
    parse(v)
        .map(|c| {
            let (zh, en) = label(c);
            lang.t(zh, en).to_string()
        })
        .unwrap_or_else(|| v.to_string())
}

/// The cells of one list row, in [`columns`] order. `names`: username → display name.
pub fn cells(lang: Lang, r: &JobListRow, names: &BTreeMap<String, String>) -> Vec<String> {
    use field_core::codes::{JobKind, JobStatus};
    let name = |u: &Option<String>| {
        u.as_deref()
            .map(|u| names.get(u).cloned().unwrap_or_else(|| u.to_string()))
            .unwrap_or_default()
    };
    vec![
        r.job_no.clone(),
        r.customer_name.clone(),
        r.address.clone(),
        code(lang, JobKind::parse, |k| (k.zh(), k.en()), &r.kind),
        code(lang, JobStatus::parse, |k| (k.zh(), k.en()), &r.status),
        r.sla_state
            .as_deref()
            .map(|s| i18n::sla(lang, s))
            .unwrap_or_default(),
        r.next_due.clone().unwrap_or_default(),
        i18n::review_state(lang, r.review_state.as_deref().unwrap_or("none")),
        name(&r.customer_manager),
        name(&r.project_manager),
        r.accepted_on.clone(),
        if r.key_project {
            lang.t("是", "yes")
        } else {
            ""
        }
        .to_string(),
        r.unit.clone(),
        i18n::millis(r.updated_at),
        r.job_id.clone(),
    ]
}

/// One CSV line (RFC 4180 quoting, CRLF). Cells that a spreadsheet would run as a formula
/// (`=`, `+`, `-`, `@`, tab, CR first) get a leading `'`.
pub fn csv_line(cells: &[String]) -> String {
    let mut out = String::new();
    for (i, c) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let risky = c.starts_with(['=', '+', '-', '@', '\t', '\r']);
        let cell = if risky { format!("'{c}") } else { c.clone() };
        if cell.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&cell.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(&cell);
        }
    }
    out.push_str("\r\n");
    out
}

fn names(env: &Env, who: &Principal) -> Result<BTreeMap<String, String>, ServerError> {
    Ok(listing::people(env, who)?
        .into_iter()
        .map(|(u, n, _)| (u, n))
        .collect())
}

fn audited(
    env: &Env,
    who: &Principal,
    job_id: Option<&str>,
    detail: Json,
) -> Result<(), ServerError> {
    audit::record(
        env,
        AuditEntry {
            job_id: job_id.map(str::to_string),
            detail,
            ..audit::by(who, "export")
        },
    )
}

/// Writes the CSV of `filter` for `who`, page by page, to `out` (UTF-8 with a BOM so Excel
/// reads the Chinese). Returns the number of jobs.
pub fn write_csv(
    env: &Env,
    who: &Principal,
    filter: &ListFilter,
    lang: Lang,
    mut out: impl FnMut(String) -> Result<(), ServerError>,
) -> Result<usize, ServerError> {
    let names = names(env, who)?;
    let mut buf = String::from("\u{feff}");
    buf.push_str(&csv_line(&columns(lang)));
    let n = listing::each(env, who, filter, |r| {
        buf.push_str(&csv_line(&cells(lang, r, &names)));
        if buf.len() > 64 * 1024 {
            out(std::mem::take(&mut buf))?;
        }
        Ok(())
    })?;
    if !buf.is_empty() {
        out(buf)?;
    }
    audited(
        env,
        who,
        None,
        serde_json::json!({ "what": "csv", "jobs": n, "filter": filter }),
    )?;
    Ok(n)
}

fn xlsx_err(e: rust_xlsxwriter::XlsxError) -> ServerError {
    ServerError::Internal(format!("xlsx: {e}"))
}

/// Writes the XLSX of `filter` for `who` to `out` (rows streamed to scratch files, not held in
/// memory). Returns the number of jobs.
pub fn write_xlsx<W: Write + Seek + Send>(
    env: &Env,
    who: &Principal,
    filter: &ListFilter,
    lang: Lang,
    out: W,
) -> Result<usize, ServerError> {
    use rust_xlsxwriter::{Format, Workbook};
    std::fs::create_dir_all(&env.tmp_dir).map_err(|e| ServerError::Io(e.to_string()))?;
    let names = names(env, who)?;
    let mut wb = Workbook::new();
    wb.set_tempdir(&env.tmp_dir).map_err(xlsx_err)?;
    let ws = wb.add_worksheet_with_constant_memory().map_err(xlsx_err)?;
    ws.set_name(lang.t("工单", "Jobs")).map_err(xlsx_err)?;
    let bold = Format::new().set_bold();
    let cols = columns(lang);
    let widths = [16, 22, 30, 14, 12, 12, 12, 12, 14, 14, 12, 8, 10, 18, 34];
    for (c, h) in cols.iter().enumerate() {
        ws.set_column_width(c as u16, widths.get(c).copied().unwrap_or(14))
            .map_err(xlsx_err)?;
        ws.write_string_with_format(0, c as u16, h, &bold)
            .map_err(xlsx_err)?;
    }
    ws.set_freeze_panes(1, 0).map_err(xlsx_err)?;
    let mut row = 0u32;
    let n = listing::each(env, who, filter, |r| {
        row += 1;
        for (c, v) in cells(lang, r, &names).iter().enumerate() {
            ws.write_string(row, c as u16, v).map_err(xlsx_err)?;
        }
        Ok(())
    })?;
    wb.save_to_writer(out).map_err(xlsx_err)?;
    audited(
        env,
        who,
        None,
        serde_json::json!({ "what": "xlsx", "jobs": n, "filter": filter }),
    )?;
    Ok(n)
}

fn is_scalar(v: &Json) -> bool {
    !matches!(v, Json::Object(_) | Json::Array(_))
}

/// A part of the document as report blocks: its scalars as fields, record maps as tables.
fn report_part(lang: Lang, obj: &Map<String, Json>, out: &mut Vec<ReportBlock>) {
    let rows: Vec<(String, String)> = obj
        .iter()
        .filter(|(_, v)| is_scalar(v))
        .map(|(k, v)| (i18n::field(lang, k), i18n::value(lang, k, v)))
        .collect();
    if !rows.is_empty() {
        out.push(ReportBlock::Fields(rows));
    }
    for (k, child) in obj.iter() {
        let Some(m) = child.as_object() else { continue };
        if m.is_empty() {
            continue;
        }
        out.push(ReportBlock::Subheading(i18n::path(lang, k)));
        if m.values().all(Json::is_object)
            && !matches!(k.as_str(), "design" | "acceptance" | "settlement")
        {
            let mut cols: Vec<&str> = Vec::new();
            for r in m.values().filter_map(Json::as_object) {
                for (c, v) in r {
                    if is_scalar(v) && !cols.contains(&c.as_str()) {
                        cols.push(c);
                    }
                }
            }
            if cols.is_empty() {
                // Records with only nested parts: listed part by part instead of as a table.
                report_part(lang, m, out);
                continue;
            }
            let mut recs: Vec<&Map<String, Json>> =
                m.values().filter_map(Json::as_object).collect();
            recs.sort_by_key(|r| {
                ["at", "raised_at", "started_at"]
                    .iter()
                    .find_map(|k| r.get(*k).and_then(Json::as_str))
                    .unwrap_or("")
                    .to_string()
            });
            out.push(ReportBlock::Table {
                header: cols.iter().map(|c| i18n::field(lang, c)).collect(),
                rows: recs
                    .iter()
                    .map(|r| {
                        cols.iter()
                            .map(|c| {
                                r.get(*c)
                                    .map(|v| i18n::value(lang, c, v))
                                    .unwrap_or_default()
                            })
                            .collect()
                    })
                    .collect(),
            });
        } else {
            report_part(lang, m, out);
        }
    }
}

/// The readable summary of every section of a job (the PDF of 一户一档).
pub fn summary_report(lang: Lang, v: &JobView) -> Report {
    let j = &v.job;
    let mut b = Vec::new();
    b.push(ReportBlock::Fields(vec![
        (lang.t("工单号", "job number").into(), j.job_no.clone()),
        (
            lang.t("业务类型", "kind").into(),
            lang.t(j.kind.zh(), j.kind.en()).into(),
        ),
        (
            lang.t("环节", "stage").into(),
            lang.t(j.status().zh(), j.status().en()).into(),
        ),
        (lang.t("供电单位", "unit").into(), j.unit.clone()),
        (
            lang.t("受理时间", "accepted").into(),
            i18n::instant(j.accepted_at()),
        ),
        (lang.t("规则集", "rule set").into(), v.rule_set.clone()),
    ]));
    if !v.conflicts.is_empty() {
        b.push(ReportBlock::Heading(
            lang.t(
                "同一字段被多人修改",
                "Fields changed by more than one person",
            )
            .into(),
        ));
        b.push(ReportBlock::Table {
            header: vec![
                lang.t("字段", "field").into(),
                lang.t("各方的值", "values").into(),
            ],
            rows: v
                .conflicts
                .iter()
                .map(|c| {
                    let key = c.path.rsplit('.').next().unwrap_or("");
                    vec![
                        i18n::path(lang, &c.path),
                        c.values
                            .iter()
                            .map(|x| {
                                let by =
                                    x.author.username.clone().unwrap_or_else(|| {
                                        x.author.actor.chars().take(8).collect()
                                    });
                                format!("「{}」（{by}）", i18n::value(lang, key, &x.value))
                            })
                            .collect::<Vec<_>>()
                            .join("；"),
                    ]
                })
                .collect(),
        });
    }
    b.push(ReportBlock::Heading(lang.t("时限", "Time limits").into()));
    b.push(ReportBlock::Table {
        header: [
            ("环节", "stage"),
            ("时限", "limit"),
            ("开始", "started"),
            ("到期", "due"),
            ("完成", "ended"),
            ("已用", "used"),
            ("状态", "state"),
        ]
        .iter()
        .map(|(zh, en)| lang.t(zh, en).to_string())
        .collect(),
        rows: v
            .time_limits
            .clocks
            .iter()
            .map(|c| {
                let d = |x: Option<chrono::NaiveDate>| x.map(|d| d.to_string()).unwrap_or_default();
                vec![
                    lang.t(c.stage.zh(), c.stage.en()).to_string(),
                    c.limit_days.to_string(),
                    d(c.started_on),
                    d(c.due_on),
                    d(c.ended_on),
                    c.used_days.to_string(),
                    i18n::sla(lang, c.state.as_str()),
                ]
            })
            .collect(),
    });
    b.push(ReportBlock::Heading(
        lang.t("规则判定", "Rule verdicts").into(),
    ));
    for n in &v.verdicts {
        let outcome = match n.verdict.outcome {
            field_core::rules::Outcome::Yes => lang.t("是", "yes"),
            field_core::rules::Outcome::No => lang.t("否", "no"),
            field_core::rules::Outcome::Unknown => lang.t("待定", "unknown"),
        };
        b.push(ReportBlock::Subheading(format!(
            "{}：{outcome}",
            lang.t(n.zh, n.en)
        )));
        for r in &n.verdict.reasons {
            b.push(ReportBlock::Note(format!("· {}", lang.t(&r.zh, &r.en))));
        }
    }
    b.push(ReportBlock::Heading(lang.t("收资清单", "Checklist").into()));
    b.push(ReportBlock::Table {
        header: [
            ("资料", "document"),
            ("要求", "needed"),
            ("已收", "collected"),
        ]
        .iter()
        .map(|(zh, en)| lang.t(zh, en).to_string())
        .collect(),
        rows: v
            .checklist
            .iter()
            .map(|g| {
                vec![
                    lang.t(&g.group.label.zh, &g.group.label.en).to_string(),
                    if g.required {
                        lang.t("必需", "required")
                    } else {
                        lang.t("视情况", "if applicable")
                    }
                    .into(),
                    if g.collected {
                        lang.t("是", "yes")
                    } else {
                        lang.t("否", "no")
                    }
                    .into(),
                ]
            })
            .collect(),
    });
    for key in [
        "customer",
        "agent",
        "application",
        "assignment",
        "survey",
        "supply_plan",
        "project",
        "inspections",
        "metering",
        "return_visit",
        "review",
    ] {
        b.push(ReportBlock::Heading(i18n::path(lang, key)));
        match v.document.get(key).and_then(Json::as_object) {
            Some(m) if !m.is_empty() => report_part(lang, m, &mut b),
            _ => b.push(ReportBlock::Note(
                lang.t("尚未填写", "not filled in yet").into(),
            )),
        }
    }
    b.push(ReportBlock::Heading(lang.t("办理进度", "Timeline").into()));
    b.push(ReportBlock::Table {
        header: [
            ("时间", "time"),
            ("事件", "event"),
            ("记录人", "by"),
            ("备注", "note"),
        ]
        .iter()
        .map(|(zh, en)| lang.t(zh, en).to_string())
        .collect(),
        rows: j
            .timeline()
            .iter()
            .map(|(_, m)| {
                vec![
                    m.at.map(i18n::instant).unwrap_or_default(),
                    m.event
                        .map(|e| lang.t(e.zh(), e.en()).to_string())
                        .unwrap_or_default(),
                    m.actor.clone().unwrap_or_default(),
                    m.note.clone().unwrap_or_default(),
                ]
            })
            .collect(),
    });
    b.push(ReportBlock::Heading(lang.t("照片", "Photos").into()));
    b.push(ReportBlock::Table {
        header: [
            ("照片", "photo"),
            ("说明", "caption"),
            ("拍摄时间", "taken"),
            ("拍摄人", "author"),
            ("原图 SHA-256", "original SHA-256"),
        ]
        .iter()
        .map(|(zh, en)| lang.t(zh, en).to_string())
        .collect(),
        rows: j
            .photos
            .iter()
            .map(|(id, p)| {
                vec![
                    id.clone(),
                    p.caption.clone().unwrap_or_default(),
                    p.taken_at.map(i18n::instant).unwrap_or_default(),
                    p.author_name
                        .clone()
                        .or(p.author.clone())
                        .unwrap_or_default(),
                    p.original_sha256.clone().unwrap_or_default(),
                ]
            })
            .collect(),
    });
    if !j.notes.is_empty() {
        b.push(ReportBlock::Heading(lang.t("备注", "Notes").into()));
        b.push(ReportBlock::Para(j.notes.clone()));
    }
    Report {
        title: lang
            .t("业扩报装一户一档", "New connection: customer file")
            .into(),
        subtitle: format!(
            "{} · {} · {}{}",
            j.job_no,
            j.customer.name.as_deref().unwrap_or(""),
            lang.t("导出于 ", "exported "),
            i18n::instant(chrono::Utc::now())
        ),
        footer: format!("{} {}", lang.t("工单", "job"), j.job_no),
        blocks: b,
        signatures: vec![],
    }
}

/// The one-time written notice (一次性书面告知书) of the completion inspection: every finding at
/// once. `None` when the inspection raised none.
pub fn notice_report(lang: Lang, v: &JobView, kind: InspectionKind) -> Option<Report> {
    let j = &v.job;
    let insp = v
        .document
        .pointer(&format!("/inspections/{}", kind.as_str()))?
        .as_object()?;
    let findings = insp.get("findings")?.as_object()?;
    if findings.is_empty() {
        return None;
    }
    let mut list: Vec<&Map<String, Json>> = findings.values().filter_map(Json::as_object).collect();
    list.sort_by_key(|f| {
        f.get("raised_at")
            .and_then(Json::as_str)
            .unwrap_or("")
            .to_string()
    });
    let s = |m: &Map<String, Json>, k: &str| {
        m.get(k)
            .map(|v| i18n::value(lang, k, v))
            .unwrap_or_default()
    };
    let mut b = vec![ReportBlock::Fields(vec![
        (
            lang.t("客户", "customer").into(),
            j.customer.name.clone().unwrap_or_default(),
        ),
        (
            lang.t("用电地址", "address").into(),
            j.customer.address.clone().unwrap_or_default(),
        ),
        (lang.t("工单号", "job number").into(), j.job_no.clone()),
        (
            lang.t("项目名称", "project").into(),
            j.application.project_name.clone().unwrap_or_default(),
        ),
        (
            lang.t("报验时间", "inspection requested").into(),
            s(insp, "requested_at"),
        ),
        (
            lang.t("检验时间", "inspected").into(),
            s(insp, "replied_at"),
        ),
        (lang.t("检验人", "inspector").into(), s(insp, "inspector")),
    ])];
    b.push(ReportBlock::Para(if lang == Lang::En {
        format!(
            "The {} of your works found the problems below. They are all listed here at once: please fix each one and then request it again. The utility's time limit is paused meanwhile.",
            kind.en()
        )
    } else {
        format!(
            "经{}，贵方受电工程存在下列问题。现将全部问题一次性书面告知，请逐项整改，完成后再次申请。整改期间暂停计算供电企业办理时限。",
            kind.zh()
        )
    }));
    b.push(ReportBlock::Table {
        header: [
            ("序号", "no."),
            ("问题及整改要求", "problem and what to fix"),
            ("严重程度", "severity"),
            ("提出人", "raised by"),
            ("提出时间", "raised"),
            ("已整改", "fixed"),
        ]
        .iter()
        .map(|(zh, en)| lang.t(zh, en).to_string())
        .collect(),
        rows: list
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let severity = s(f, "severity");
                vec![
                    (i + 1).to_string(),
                    s(f, "text"),
                    severity,
                    s(f, "raised_by"),
                    s(f, "raised_at"),
                    s(f, "resolved"),
                ]
            })
            .collect(),
    });
    b.push(ReportBlock::Note(format!(
        "{} {}",
        lang.t("共", "In all"),
        lang.t(
            &format!("{} 项。", list.len()),
            &format!("{} findings.", list.len())
        )
    )));
    Some(Report {
        title: if lang == Lang::En {
            format!("One-time written notice of the {}", kind.en())
        } else {
            format!("受电工程{}一次性书面告知书", kind.zh())
        },
        subtitle: format!("{} · {}", j.job_no, j.unit),
        footer: format!("{} {}", lang.t("工单", "job"), j.job_no),
        blocks: b,
        signatures: vec![
            lang.t("检验人", "Inspector").into(),
            lang.t("客户签收", "Received by the customer").into(),
            lang.t("日期", "Date").into(),
        ],
    })
}

/// The notice PDF of an inspection of a job for `who`; printing it records the notice as given
/// (`inspections.<kind>.written_notice`, written on `who`'s behalf so the manager's phone shows
/// it). Errors: not found, no findings, no PDF support.
pub fn notice_pdf(
    env: &Env,
    who: &Principal,
    job_id: &str,
    kind: InspectionKind,
    lang: Lang,
) -> Result<Vec<u8>, ServerError> {
    let v = view::job_view(env, who, job_id)?;
    let report = notice_report(lang, &v, kind).ok_or_else(|| {
        ServerError::bad(
            "no_findings",
            format!("{}没有提出整改意见，无需书面告知", kind.zh()),
            format!(
                "the {} raised no findings: there is nothing to notify",
                kind.en()
            ),
        )
    })?;
    let pdf = crate::pdf::render_report(&report)?.ok_or_else(no_pdf)?;
    if v.job.inspections.get(kind).written_notice != Some(true) {
        super::on_behalf::write(
            env,
            who,
            job_id,
            || Ok(()),
            |_, _| {
                Ok(vec![field_core::Edit::UpdateInspection {
                    kind,
                    inspection: field_core::job::Inspection {
                        written_notice: Some(true),
                        ..Default::default()
                    },
                }])
            },
            |_, _| Ok(()),
        )?;
    }
    audited(
        env,
        who,
        Some(job_id),
        serde_json::json!({ "what": "written_notice", "inspection": kind.as_str() }),
    )?;
    Ok(pdf)
}

/// The inspections of a job with findings: those a written notice can be printed for.
pub fn notice_kinds(v: &JobView) -> Vec<InspectionKind> {
    InspectionKind::ALL
        .iter()
        .copied()
        .filter(|k| {
            v.document
                .pointer(&format!("/inspections/{}/findings", k.as_str()))
                .and_then(Json::as_object)
                .is_some_and(|m| !m.is_empty())
        })
        .collect()
}

/// The written receipt (书面回执) of a job for `who`: what was done, the next step's time limit as
/// a date, whom to contact, and the QR code of the customer's progress page at `origin`.
pub fn receipt_pdf(
    env: &Env,
    who: &Principal,
    job_id: &str,
    origin: &str,
) -> Result<Vec<u8>, ServerError> {
    let v = view::job_view(env, who, job_id)?;
    let url = format!("{origin}/p/{}", super::public::token(env, job_id)?);
    let report = field_core::written_receipt::written_receipt(
        &v.job,
        &v.time_limits,
        Some(&url),
        chrono::Utc::now(),
    );
    let pdf = crate::pdf::render_report(&report)?.ok_or_else(no_pdf)?;
    audited(
        env,
        who,
        Some(job_id),
        serde_json::json!({ "what": "written_receipt" }),
    )?;
    Ok(pdf)
}

/// The error of a PDF asked of a server built without the `pdf` feature.
pub fn no_pdf() -> ServerError {
    ServerError::NotImplemented {
        code: "pdf_not_built",
        zh: "此服务器构建时未启用 PDF 功能".into(),
        en: "this server was built without the pdf feature".into(),
    }
}

fn zip_err(e: zip::result::ZipError) -> ServerError {
    ServerError::Io(format!("zip: {e}"))
}

fn io_err(e: std::io::Error) -> ServerError {
    ServerError::Io(e.to_string())
}

/// One photo file of a customer file: the first photo naming it, and the others that do too.
struct ArchiveOriginal {
    photo_id: String,
    sha256: String,
    ext: &'static str,
    bytes: u64,
}

/// The distinct originals of a job's photos, each once (by SHA-256).
fn archive_originals(job: &field_core::Job) -> Vec<ArchiveOriginal> {
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for (pid, p) in &job.photos {
        let Some(sha) = p
            .original_sha256
            .as_deref()
            .filter(|s| field_core::validate::is_sha256_hex(s))
        else {
            continue;
        };
        if !seen.insert(sha.to_string()) {
            continue;
        }
        let ext = match p.original_mime.as_deref() {
            Some("image/png") => "png",
            Some("image/webp") => "webp",
            Some("image/gif") => "gif",
            Some("image/bmp") => "bmp",
            Some("image/tiff") => "tif",
            _ => "jpg",
        };
        out.push(ArchiveOriginal {
            photo_id: pid.clone(),
            sha256: sha.to_string(),
            ext,
            bytes: p.original_bytes.unwrap_or(0).max(0) as u64,
        });
    }
    out
}

fn archive_too_large(bytes: u64, max: u64) -> ServerError {
    let mib = |b: u64| b.div_ceil(1024 * 1024);
    ServerError::TooLarge {
        code: "archive_too_large",
        zh: format!(
            "该工单的照片共 {} MiB，超过一户一档文件的上限 {} MiB：请联系管理员调整 archive_max_mib",
            mib(bytes),
            mib(max)
        ),
        en: format!(
            "this job's photos add up to {} MiB, more than a customer file may hold ({} MiB): ask an admin to raise archive_max_mib",
            mib(bytes),
            mib(max)
        ),
    }
}

/// Writes the 一户一档 archive of `job_id` into a scratch file (already unlinked: it vanishes
/// when dropped) and returns it rewound, with its size and a file name. Holds at most one photo
/// in memory at a time.
pub async fn archive(
    env: &Arc<Env>,
    who: &Principal,
    job_id: &str,
    lang: Lang,
) -> Result<(std::fs::File, u64, String), ServerError> {
    let (w, id) = (who.clone(), job_id.to_string());
    let (v, automerge) = env
        .blocking(move |env| Ok((view::job_view(env, &w, &id)?, jobs::document(env, &w, &id)?)))
        .await?;
    // At most so many archives build at once; the others are told to come back.
    let _permit = env.archives.try_acquire().map_err(|_| ServerError::Busy {
        code: "archive_busy",
        zh: "正在生成其他一户一档文件，请稍后重试".into(),
        en: "other customer files are being built: try again shortly".into(),
    })?;
    // Each photo file once, however many photo records name it; their sizes were checked
    // against the uploads, so the archive's size is known before anything is written.
    let originals = archive_originals(&v.job);
    let photo_bytes: u64 = originals.iter().map(|o| o.bytes).sum();
    if photo_bytes > env.archive_max_bytes {
        return Err(archive_too_large(photo_bytes, env.archive_max_bytes));
    }
    let max_bytes = env.archive_max_bytes;
    // Every photo file the server has received must be there: never a partial customer file.
    let mut wanted: Vec<String> = originals.iter().map(|o| o.sha256.clone()).collect();
    wanted.extend(contracts::manifest_photos(&v.job, v.job.contracts.keys()));
    super::integrity::require(env, wanted).await?;
    let summary = {
        let report = summary_report(lang, &v);
        tokio::task::spawn_blocking(move || crate::pdf::render_report(&report))
            .await
            .map_err(|e| ServerError::Internal(e.to_string()))??
    };
    // Contract archives: each written to a scratch directory by the contract export.
    std::fs::create_dir_all(&env.tmp_dir).map_err(io_err)?;
    let scratch = tempfile::tempdir_in(&env.tmp_dir).map_err(io_err)?;
    let mut contract_files = Vec::new();
    for cid in v.job.contracts.keys() {
        let dir = scratch.path().join(cid);
        let job = v.job.clone();
        let c = cid.clone();
        let pdf = tokio::task::spawn_blocking(move || crate::pdf::render(&job, &c))
            .await
            .map_err(|e| ServerError::Internal(e.to_string()))?
            .ok()
            .flatten();
        for path in contracts::export(&env.blobs, &v.job, cid, &dir, pdf).await? {
            let rel = path
                .strip_prefix(scratch.path())
                .map_err(|e| ServerError::Internal(e.to_string()))?
                .to_string_lossy()
                .replace('\\', "/");
            contract_files.push((format!("contracts/{rel}"), path));
        }
    }
    let env2 = env.clone();
    let handle = tokio::runtime::Handle::current();
    let name = format!("{}-一户一档.zip", v.job.job_no);
    let job_no = v.job.job_no.clone();
    let (file, size) = tokio::task::spawn_blocking(move || -> Result<(std::fs::File, u64), ServerError> {
        use zip::CompressionMethod::{Deflated, Stored};
        use zip::write::SimpleFileOptions;
        let now = chrono::Utc::now().with_timezone(&field_core::job::china_offset());
        use chrono::{Datelike, Timelike};
        let stamp = zip::DateTime::from_date_and_time(
            now.year().clamp(1980, 2107) as u16,
            now.month() as u8,
            now.day() as u8,
            now.hour() as u8,
            now.minute() as u8,
            now.second() as u8,
        )
        .unwrap_or_default();
        let deflated = SimpleFileOptions::default()
            .compression_method(Deflated)
            .last_modified_time(stamp)
            .large_file(true);
        let stored = deflated.compression_method(Stored);
        let file = tempfile::tempfile_in(&env2.tmp_dir).map_err(io_err)?;
        let mut zip = zip::ZipWriter::new(file);
        let put = |zip: &mut zip::ZipWriter<std::fs::File>, name: &str, bytes: &[u8], opts: SimpleFileOptions| -> Result<(), ServerError> {
            zip.start_file(name, opts).map_err(zip_err)?;
            zip.write_all(bytes).map_err(io_err)
        };
        let readme = format!(
            "{job_no} 一户一档 / customer file\r\n\r\n\
             summary.pdf        各部分内容汇总（可阅读）/ every section, readable\r\n\
             job.json           工单文档（JSON）/ the job document as JSON\r\n\
             job.automerge      工单文档（automerge 原文件）/ the automerge file itself\r\n\
             photos/            照片原图，每个文件一次（文件名为照片编号和 SHA-256）/ photo originals, each file once, named by photo and SHA-256\r\n\
             contracts/         合同档案（可用 fieldline contract verify --archive 核验）/ contract archives\r\n"
        );
        put(&mut zip, "README.txt", readme.as_bytes(), deflated)?;
        if let Some(pdf) = &summary {
            put(&mut zip, "summary.pdf", pdf, deflated)?;
        }
        let json = serde_json::to_vec_pretty(&serde_json::json!({
            "job": v.job,
            "document": v.document,
            "conflicts": v.conflicts,
            "time_limits": v.time_limits,
            "verdicts": v.verdicts,
        }))
        .map_err(|e| ServerError::Internal(e.to_string()))?;
        put(&mut zip, "job.json", &json, deflated)?;
        put(&mut zip, "job.automerge", &automerge, stored)?;
        let mut written: u64 = 0;
        for o in &originals {
            match handle.block_on(env2.blobs.get(&o.sha256)) {
                Ok(bytes) => {
                    // The sizes were checked before; a blob larger than recorded stops here.
                    written += bytes.len() as u64;
                    if written > max_bytes {
                        return Err(archive_too_large(written, max_bytes));
                    }
                    put(&mut zip, &format!("photos/{}-{}.{}", o.photo_id, o.sha256, o.ext), &bytes, stored)?;
                }
                Err(ServerError::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
        for (name, path) in &contract_files {
            let bytes = std::fs::read(path).map_err(io_err)?;
            put(&mut zip, name, &bytes, deflated)?;
        }
        let mut file = zip.finish().map_err(zip_err)?;
        let size = file.stream_position().map_err(io_err)?;
        file.rewind().map_err(io_err)?;
        Ok((file, size))
    })
    .await
    .map_err(|e| ServerError::Internal(e.to_string()))??;
    drop(scratch);
    let (w, id) = (who.clone(), job_id.to_string());
    env.blocking(move |env| {
        audited(
            env,
            &w,
            Some(&id),
            serde_json::json!({ "what": "archive", "bytes": size }),
        )
    })
    .await?;
    Ok((file, size, name))
}
