//! Contract PDFs on the phone: only with the `pdf` feature (typst adds several MB to the app).

use crate::error::FieldlineError;
use field_core::Job;

#[cfg(feature = "pdf")]
pub fn render(job: &Job, contract_id: &str) -> Result<Vec<u8>, FieldlineError> {
    use std::sync::OnceLock;
    static RENDERER: OnceLock<Result<contract_pdf::PdfRenderer, String>> = OnceLock::new();
    let failed = |e: String| FieldlineError::Storage {
        zh: format!("合同 PDF 生成失败：{e}"),
        en: format!("the contract PDF could not be made: {e}"),
    };
    let renderer = RENDERER
        .get_or_init(|| contract_pdf::PdfRenderer::with_default_fonts().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| failed(e.clone()))?;
    renderer
        .render(job, contract_id)
        .map_err(|e| failed(e.to_string()))
}

#[cfg(not(feature = "pdf"))]
pub fn render(_job: &Job, _contract_id: &str) -> Result<Vec<u8>, FieldlineError> {
    Err(FieldlineError::Refused {
        code: "pdf_not_built".into(),
        zh: "此版本未包含合同 PDF 功能，请在服务器端下载".into(),
        en: "this build has no contract PDFs: download it from the server".into(),
    })
}
