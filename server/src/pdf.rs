//! Contract PDFs for the archive (feature `pdf`, on by default: typst is a heavy build, so a
//! server built without it stores and verifies contracts but renders no PDF).

use crate::error::ServerError;
use field_core::Job;

/// Renders contract `contract_id` of `job`, or `None` when built without the `pdf` feature.
/// CPU-bound (hundreds of ms): call it from a blocking thread.
#[cfg(feature = "pdf")]
pub fn render(job: &Job, contract_id: &str) -> Result<Option<Vec<u8>>, ServerError> {
    renderer()?
        .render(job, contract_id)
        .map(Some)
        .map_err(|e| ServerError::Internal(e.to_string()))
}

/// The renderer, with its fonts loaded once.
#[cfg(feature = "pdf")]
fn renderer() -> Result<&'static contract_pdf::PdfRenderer, ServerError> {
    use std::sync::OnceLock;
    static RENDERER: OnceLock<Result<contract_pdf::PdfRenderer, String>> = OnceLock::new();
    let renderer = RENDERER
        .get_or_init(|| {
            let r = contract_pdf::PdfRenderer::with_default_fonts().map_err(|e| e.to_string())?;
            if r.font_files().is_empty() {
                tracing::warn!(
                    "no Noto CJK fonts found (install fonts-noto-cjk or set FIELDLINE_PDF_FONT_DIR): \
                     contract PDFs use the bundled bold subset only"
                );
            }
            Ok(r)
        })
        .as_ref()
        .map_err(|e| ServerError::Internal(e.clone()))?;
    Ok(renderer)
}

#[cfg(not(feature = "pdf"))]
pub fn render(_job: &Job, _contract_id: &str) -> Result<Option<Vec<u8>>, ServerError> {
    Ok(None)
}

/// Renders a report (a job's summary, the one-time written notice), or `None` when built
/// without the `pdf` feature. CPU-bound: call it from a blocking thread.
#[cfg(feature = "pdf")]
pub fn render_report(report: &field_core::report::Report) -> Result<Option<Vec<u8>>, ServerError> {
    renderer()?
        .render_report(report)
        .map(Some)
        .map_err(|e| ServerError::Internal(e.to_string()))
}

#[cfg(not(feature = "pdf"))]
pub fn render_report(_report: &field_core::report::Report) -> Result<Option<Vec<u8>>, ServerError> {
    Ok(None)
}
