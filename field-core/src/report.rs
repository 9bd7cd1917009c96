//! A plain printable document (a job's summary, the one-time written notice, a receipt) as
//! data: the PDF renderer (`contract-pdf`) typesets it. No dependencies, so the phone and the
//! server can describe a report without linking the typesetter.

/// One block of a [`Report`].
#[derive(Debug, Clone, PartialEq)]
pub enum ReportBlock {
    Heading(String),
    Subheading(String),
    Para(String),
    /// Small grey text.
    Note(String),
    /// Label / value rows.
    Fields(Vec<(String, String)>),
    /// A QR code of `text` (a link), with a caption beside it.
    Qr {
        text: String,
        caption: String,
    },
    /// A table with a header row; every row has as many cells as the header.
    Table {
        header: Vec<String>,
        rows: Vec<Vec<String>>,
    },
}

/// A plain document: a title, blocks, and signature lines at the end.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    pub title: String,
    pub subtitle: String,
    /// Printed at the foot of every page beside the page number.
    pub footer: String,
    pub blocks: Vec<ReportBlock>,
    /// Labels of signature lines (e.g. 检查人, 客户签收).
    pub signatures: Vec<String>,
}
