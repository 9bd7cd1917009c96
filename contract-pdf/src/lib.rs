//! Supply contracts as PDF, rendered with typst as a library.
//!
//! The page carries the canonical contract text (exactly the signed text, line by line), both
//! handwritten signatures as vector graphics (SVG from the raw strokes), a signing record
//! (time, device, GPS, photo and manifest hashes, the server's receipt) and the text's SHA-256 in
//! every page footer. Fonts are embedded (subset) in the PDF: Noto Serif/Sans CJK SC from the
//! font directories given (Debian `fonts-noto-cjk`), with the app's bundled Noto Sans SC subset
//! as the last resort.
//!
//! typst is a heavy build: only the server and the phone's `pdf` feature depend on this crate.

use field_core::contract::{Manifest, Receipt, SignaturePad};
use field_core::job::{Contract, Job};
pub use field_core::report::{Report, ReportBlock};
use std::path::PathBuf;
use typst::foundations::{Array, Bytes, Dict, IntoValue, Value};
use typst_as_lib::{TypstEngine, TypstTemplateCollection};
use typst_layout::PagedDocument;

const TEMPLATE: &str = include_str!("template.typ");
const REPORT: &str = include_str!("report.typ");
const CONTRACT_FILE: &str = "/contract.typ";
const REPORT_FILE: &str = "/report.typ";
const FALLBACK_FONT: &[u8] =
    include_bytes!("../../field-core/data/fonts/NotoSansSC-Bold-GB2312.otf");

/// Where Debian and most Linux distributions put the Noto CJK fonts.
pub const DEFAULT_FONT_DIRS: &[&str] = &[
    "/usr/share/fonts/opentype/noto",
    "/usr/share/fonts/noto-cjk",
];

/// Errors of PDF rendering.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("合同数据不完整：{0} / the contract record is incomplete: {0}")]
    Incomplete(&'static str),
    #[error("读取字体失败 / cannot read fonts: {0}")]
    Fonts(String),
    #[error("排版失败 / typesetting failed: {0}")]
    Typeset(String),
}

/// A renderer holding the loaded fonts; build once, render many.
pub struct PdfRenderer {
    engine: TypstEngine<TypstTemplateCollection>,
    font_files: Vec<PathBuf>,
}

impl std::fmt::Debug for PdfRenderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PdfRenderer")
            .field("font_files", &self.font_files)
            .finish()
    }
}

/// Font files (`.ttc`, `.otf`, `.ttf`) of the Noto CJK families in `dirs`.
fn cjk_font_files(dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let name = p
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            let font = [".ttc", ".otf", ".ttf"].iter().any(|x| name.ends_with(x));
            // Regular and bold of the serif (body) and sans (headings, footer) families.
            let wanted = name.starts_with("NotoSerifCJK") || name.starts_with("NotoSansCJK");
            if font && wanted && (name.contains("-Regular") || name.contains("-Bold")) {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}

impl PdfRenderer {
    /// Loads the Noto CJK fonts found in `dirs` (none found: the bundled subset only).
    pub fn from_font_dirs(dirs: &[PathBuf]) -> Result<PdfRenderer, PdfError> {
        let files = cjk_font_files(dirs);
        let mut fonts: Vec<Vec<u8>> = Vec::new();
        for f in &files {
            fonts.push(
                std::fs::read(f).map_err(|e| PdfError::Fonts(format!("{}: {e}", f.display())))?,
            );
        }
        fonts.push(FALLBACK_FONT.to_vec());
        let engine = TypstEngine::builder()
            .fonts(fonts)
            .with_static_source_file_resolver([(CONTRACT_FILE, TEMPLATE), (REPORT_FILE, REPORT)])
            .build();
        Ok(PdfRenderer {
            engine,
            font_files: files,
        })
    }

    /// The default font directories, or `FIELDLINE_PDF_FONT_DIR` when set.
    pub fn with_default_fonts() -> Result<PdfRenderer, PdfError> {
        let dirs: Vec<PathBuf> = match std::env::var_os("FIELDLINE_PDF_FONT_DIR") {
            Some(d) => vec![PathBuf::from(d)],
            None => DEFAULT_FONT_DIRS.iter().map(PathBuf::from).collect(),
        };
        Self::from_font_dirs(&dirs)
    }

    /// The font files in use (empty: only the bundled fallback subset).
    pub fn font_files(&self) -> &[PathBuf] {
        &self.font_files
    }

    /// Renders contract `contract_id` of `job`.
    pub fn render(&self, job: &Job, contract_id: &str) -> Result<Vec<u8>, PdfError> {
        let c = job
            .contracts
            .get(contract_id)
            .ok_or(PdfError::Incomplete("no such contract"))?;
        let inputs = inputs(job, c)?;
        let doc: PagedDocument = self
            .engine
            .compile_with_input(CONTRACT_FILE, inputs)
            .output
            .map_err(|e| PdfError::Typeset(format!("{e:?}")))?;
        typst_pdf::pdf(&doc, &typst_pdf::PdfOptions::default())
            .map_err(|e| PdfError::Typeset(format!("{e:?}")))
    }

    /// Renders a plain report (a job's summary, a written notice).
    pub fn render_report(&self, report: &Report) -> Result<Vec<u8>, PdfError> {
        let doc: PagedDocument = self
            .engine
            .compile_with_input(REPORT_FILE, report_inputs(report))
            .output
            .map_err(|e| PdfError::Typeset(format!("{e:?}")))?;
        typst_pdf::pdf(&doc, &typst_pdf::PdfOptions::default())
            .map_err(|e| PdfError::Typeset(format!("{e:?}")))
    }
}

fn strings(items: &[String]) -> Value {
    Value::Array(items.iter().map(|s| s.as_str().into_value()).collect())
}

fn report_inputs(report: &Report) -> Dict {
    let blocks: Array = report
        .blocks
        .iter()
        .map(|b| {
            let mut d = Dict::new();
            let (kind, text) = match b {
                ReportBlock::Heading(t) => ("heading", t.as_str()),
                ReportBlock::Subheading(t) => ("subheading", t.as_str()),
                ReportBlock::Para(t) => ("para", t.as_str()),
                ReportBlock::Note(t) => ("note", t.as_str()),
                ReportBlock::Fields(rows) => {
                    let rows: Array = rows
                        .iter()
                        .map(|(k, v)| strings(&[k.clone(), v.clone()]))
                        .collect();
                    d.insert("rows".into(), Value::Array(rows));
                    ("fields", "")
                }
                ReportBlock::Qr { text, caption } => {
                    // A link too long for a QR code is left out: the caption still prints it.
                    if let Ok(code) = qrcode::QrCode::new(text.as_bytes()) {
                        let svg = code
                            .render::<qrcode::render::svg::Color<'_>>()
                            .quiet_zone(true)
                            .build();
                        d.insert("svg".into(), Value::Bytes(Bytes::new(svg.into_bytes())));
                    }
                    ("qr", caption.as_str())
                }
                ReportBlock::Table { header, rows } => {
                    let width = header.len().max(1);
                    let rows: Array = rows
                        .iter()
                        .map(|r| {
                            let mut r = r.clone();
                            r.resize(width, String::new());
                            strings(&r)
                        })
                        .collect();
                    d.insert("header".into(), strings(header));
                    d.insert("rows".into(), Value::Array(rows));
                    ("table", "")
                }
            };
            d.insert("kind".into(), kind.into_value());
            d.insert("text".into(), text.into_value());
            Value::Dict(d)
        })
        .collect();
    let mut d = Dict::new();
    d.insert("title".into(), report.title.as_str().into_value());
    d.insert("subtitle".into(), report.subtitle.as_str().into_value());
    d.insert("footer".into(), report.footer.as_str().into_value());
    d.insert("blocks".into(), Value::Array(blocks));
    d.insert("signatures".into(), strings(&report.signatures));
    d
}

fn block(kind: &str, text: &str) -> Value {
    let mut d = Dict::new();
    d.insert("kind".into(), kind.into_value());
    d.insert("text".into(), text.into_value());
    Value::Dict(d)
}

/// The canonical text as typeset blocks: title, subtitle, clause headings, paragraphs.
fn blocks(text: &str) -> Array {
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            let heading = line.starts_with('第')
                && line.chars().take(6).any(|c| c == '条')
                && line.contains(' ');
            let kind = match i {
                0 => "title",
                1 => "subtitle",
                _ if line.is_empty() => "blank",
                _ if heading => "heading",
                _ => "para",
            };
            block(kind, line)
        })
        .collect()
}

fn row(label: &str, value: impl Into<String>) -> Value {
    let mut d = Dict::new();
    d.insert("label".into(), label.into_value());
    d.insert("value".into(), value.into().into_value());
    Value::Dict(d)
}

fn svg(strokes: Option<&str>) -> Result<Value, PdfError> {
    let pad = SignaturePad::from_json(
        "signature",
        strokes.ok_or(PdfError::Incomplete("signature strokes"))?,
    )
    .map_err(|_| PdfError::Incomplete("readable signature strokes"))?;
    Ok(Value::Bytes(Bytes::new(pad.to_svg().into_bytes())))
}

fn inputs(job: &Job, c: &Contract) -> Result<Dict, PdfError> {
    let text = c.text.as_deref().ok_or(PdfError::Incomplete("text"))?;
    let m = Manifest::parse(
        c.manifest
            .as_deref()
            .ok_or(PdfError::Incomplete("manifest"))?,
    )
    .map_err(|_| PdfError::Incomplete("readable manifest"))?;
    let values: std::collections::BTreeMap<String, String> = c
        .values
        .as_deref()
        .and_then(|v| serde_json::from_str(v).ok())
        .unwrap_or_default();
    let mut evidence = vec![
        row("工单 / job", format!("{} ({})", job.job_no, job.id)),
        row(
            "合同 / contract",
            format!("{} 第 {} 版（{}）", m.contract_no, m.version, m.contract_id),
        ),
        row(
            "范本 / template",
            format!("{} v{}", m.template_id, m.template_version),
        ),
        row("签署时间 / signed (device)", m.device_time.clone()),
        row("签署人 / recorded by", m.signer.clone()),
        row("设备 / device", m.device_id.clone()),
        row("设备公钥 / device key", m.device_key.clone()),
    ];
    if let Some(g) = m.gps {
        let acc = g.accuracy_m.map(|a| format!(" ±{a} m")).unwrap_or_default();
        evidence.push(row(
            "位置 / GPS",
            format!("{:.6}, {:.6}{acc}", g.latitude, g.longitude),
        ));
    }
    if let Some(a) = &m.amends {
        evidence.push(row(
            "变更原合同 / amends",
            format!("{} ({a})", m.amends_no.clone().unwrap_or_default()),
        ));
    }
    for s in &m.signatures {
        evidence.push(row(&format!("{} SHA-256", s.role.zh()), s.sha256.clone()));
    }
    for p in &m.photos {
        let purpose =
            field_core::PhotoPurpose::parse(&p.purpose).map_or(p.purpose.as_str(), |c| c.zh());
        evidence.push(row(&format!("照片（{purpose}）SHA-256"), p.sha256.clone()));
    }
    evidence.push(row(
        "签署清单 SHA-256 / manifest",
        c.manifest_sha256.clone().unwrap_or_default(),
    ));
    match c.receipt.receipt.as_deref().map(Receipt::parse) {
        Some(Ok(r)) => {
            evidence.push(row("服务器接收 / server received", r.received_at));
            evidence.push(row("服务器公钥 / server key", r.server_key));
        }
        _ => evidence.push(row(
            "服务器接收 / server received",
            "尚未加签 / not yet countersigned",
        )),
    }
    let mut d = Dict::new();
    d.insert(
        "title".into(),
        c.title.clone().unwrap_or_default().into_value(),
    );
    d.insert(
        "supplier".into(),
        values
            .get("supplier")
            .cloned()
            .unwrap_or_default()
            .into_value(),
    );
    d.insert("contract_no".into(), m.contract_no.clone().into_value());
    d.insert("text_sha256".into(), m.text_sha256.clone().into_value());
    d.insert("blocks".into(), Value::Array(blocks(text)));
    d.insert(
        "customer_name".into(),
        c.customer_name.clone().unwrap_or_default().into_value(),
    );
    d.insert(
        "manager_name".into(),
        c.manager_name.clone().unwrap_or_default().into_value(),
    );
    d.insert("customer_svg".into(), svg(c.customer_strokes.as_deref())?);
    d.insert("manager_svg".into(), svg(c.manager_strokes.as_deref())?);
    d.insert(
        "evidence".into(),
        Value::Array(evidence.into_iter().collect()),
    );
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every block kind, including awkward tables (no columns, short and long rows), typesets.
    #[test]
    fn every_report_block_typesets() {
        let renderer = PdfRenderer::with_default_fonts().expect("fonts");
        let report = Report {
            title: "业扩工单摘要 #1 [x] *y*".into(),
            subtitle: "副标题 $ \\ #".into(),
            footer: "页脚".into(),
            blocks: vec![
                ReportBlock::Heading("客户".into()),
                ReportBlock::Subheading("联系人".into()),
                ReportBlock::Para("正文 #set page(width: 1pt)".into()),
                ReportBlock::Note("小字".into()),
                ReportBlock::Fields(vec![("户名".into(), "城东花园小区".into())]),
                ReportBlock::Fields(vec![]),
                ReportBlock::Table {
                    header: vec![],
                    rows: vec![vec![], vec!["孤立的单元格".into()]],
                },
                ReportBlock::Qr {
                    text: "https://fieldline.example/p/0123456789abcdef.0123456789abcdef".into(),
                    caption: "扫码查看进度\nhttps://fieldline.example/p/0123456789abcdef".into(),
                },
                ReportBlock::Qr {
                    text: "x".repeat(8000),
                    caption: "过长的链接：没有二维码".into(),
                },
                ReportBlock::Table {
                    header: vec!["时间".into(), "内容".into()],
                    rows: vec![
                        vec!["2026-11-30".into()],
                        vec!["a".into(), "b".into(), "多余".into()],
                    ],
                },
            ],
            signatures: vec!["检查人".into(), "客户签收".into()],
        };
        let pdf = renderer.render_report(&report).expect("typesets");
        assert!(pdf.starts_with(b"%PDF"));
        if let Ok(dir) = std::env::var("REPORT_PDF_OUT") {
            std::fs::write(std::path::Path::new(&dir).join("report.pdf"), &pdf).unwrap();
        }
        let empty = renderer
            .render_report(&Report::default())
            .expect("an empty report typesets");
        assert!(empty.starts_with(b"%PDF"));
    }
}
