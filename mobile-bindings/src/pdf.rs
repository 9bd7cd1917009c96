//! Contract PDFs and written receipts on the phone: only with the `pdf` feature (typst adds
//! several MB to the app).

use crate::error::FieldlineError;
use field_core::Job;
use field_core::report::Report;

#[cfg(feature = "pdf")]
fn failed(e: String) -> FieldlineError {
    FieldlineError::Storage {
        zh: format!("PDF 生成失败：{e}"),
        en: format!("the PDF could not be made: {e}"),
    }
}

/// The renderer, with its fonts loaded once.
#[cfg(feature = "pdf")]
fn renderer() -> Result<&'static contract_pdf::PdfRenderer, FieldlineError> {
    use std::sync::OnceLock;
    static RENDERER: OnceLock<Result<contract_pdf::PdfRenderer, String>> = OnceLock::new();
    RENDERER
        .get_or_init(|| contract_pdf::PdfRenderer::with_default_fonts().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| failed(e.clone()))
}

#[cfg(feature = "pdf")]
pub fn render(job: &Job, contract_id: &str) -> Result<Vec<u8>, FieldlineError> {
    renderer()?
        .render(job, contract_id)
        .map_err(|e| failed(e.to_string()))
}

#[cfg(feature = "pdf")]
pub fn render_report(report: &Report) -> Result<Vec<u8>, FieldlineError> {
    renderer()?
        .render_report(report)
        .map_err(|e| failed(e.to_string()))
}

#[cfg(not(feature = "pdf"))]
fn not_built() -> FieldlineError {
    FieldlineError::Refused {
        code: "pdf_not_built".into(),
        zh: "此版本未包含 PDF 功能，请在服务器端下载".into(),
        en: "this build makes no PDFs: download it from the server".into(),
    }
}

#[cfg(not(feature = "pdf"))]
pub fn render(_job: &Job, _contract_id: &str) -> Result<Vec<u8>, FieldlineError> {
    Err(not_built())
}

#[cfg(not(feature = "pdf"))]
pub fn render_report(_report: &Report) -> Result<Vec<u8>, FieldlineError> {
    Err(not_built())
}
