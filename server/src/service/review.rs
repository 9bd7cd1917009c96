//! The office review (审核): approve, or return with findings. The outcome is written into the
//! job document's `review` section as a change the server makes on the reviewer's behalf (their
//! rights are checked first; the audit names them), so it reaches the managers' phones by
//! ordinary sync. Each review records the document heads it saw, so the next one can see what
//! changed since.

use super::{Env, now_ms, on_behalf};
use crate::authz;
use crate::authz::Principal;
use crate::error::ServerError;
use crate::store::ReviewRow;
use automerge::ChangeHash;
use field_core::Edit;
use field_core::codes::ReviewState;
use field_core::job::diff::FieldChange;
use field_core::job::schema::Section;
use field_core::job::{Finding, FindingTarget, Review};
use field_core::policy::Right;
use serde::{Deserialize, Serialize};

/// Most findings one review may raise.
pub const FINDINGS_MAX: usize = 50;
/// Longest comment and finding, in characters.
pub const COMMENT_MAX: usize = 2000;
pub const FINDING_MAX: usize = 500;

/// What the reviewer decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Approve,
    Return,
}

/// A review as the reviewer submits it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReviewInput {
    pub outcome: Outcome,
    /// 审核意见.
    #[serde(default)]
    pub comment: String,
    /// One finding per entry (empty ones are ignored).
    #[serde(default)]
    pub findings: Vec<String>,
}

impl ReviewInput {
    /// The JSON Schema of a review (OpenAPI): approve (comment optional), or return with a
    /// comment or at least one finding that says something; no control characters but tab and
    /// newline. Written as JSON because the OpenAPI model cannot say `contains`.
    pub fn json_schema() -> serde_json::Value {
        let clean = r"^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*$";
        let text = |max: usize| serde_json::json!({ "type": "string", "maxLength": max, "pattern": clean });
        let said = |max: usize| serde_json::json!({ "allOf": [text(max), { "type": "string", "pattern": r"\S" }] });
        let findings = serde_json::json!({ "type": "array", "items": text(FINDING_MAX), "maxItems": FINDINGS_MAX });
        let some_finding = serde_json::json!({
            "type": "array", "maxItems": FINDINGS_MAX, "minItems": 1,
            "items": text(FINDING_MAX), "contains": said(FINDING_MAX)
        });
        serde_json::json!({ "anyOf": [
            {
                "type": "object", "required": ["outcome"],
                "properties": { "outcome": { "type": "string", "enum": ["approve"] }, "comment": text(COMMENT_MAX), "findings": findings },
            },
            {
                "type": "object", "required": ["outcome", "comment"],
                "properties": { "outcome": { "type": "string", "enum": ["return"] }, "comment": said(COMMENT_MAX), "findings": findings },
            },
            {
                "type": "object", "required": ["outcome", "findings"],
                "properties": { "outcome": { "type": "string", "enum": ["return"] }, "comment": text(COMMENT_MAX), "findings": some_finding },
            },
        ]})
    }
}

impl utoipa::PartialSchema for ReviewInput {
    /// A placeholder: the served document carries [`ReviewInput::json_schema`].
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::Object::new().into()
    }
}

impl utoipa::ToSchema for ReviewInput {}

/// Whether `who` may review jobs at all (the write policy's `review` section).
pub fn may_review(env: &Env, who: &Principal) -> bool {
    env.policy(&who.unit).right(Section::Review, who.role) == Some(Right::Write)
}

fn heads_bytes(heads: &[ChangeHash]) -> Vec<u8> {
    heads.iter().flat_map(|h| h.0).collect()
}

fn heads_of(bytes: &[u8]) -> Vec<ChangeHash> {
    bytes
        .chunks_exact(32)
        .filter_map(|c| ChangeHash::try_from(c).ok())
        .collect()
}

/// Records a review of `job_id` by `who`. Returns the review's id.
pub fn review(
    env: &Env,
    who: &Principal,
    job_id: &str,
    input: &ReviewInput,
) -> Result<i64, ServerError> {
    let findings: Vec<&str> = input
        .findings
        .iter()
        .map(|f| f.trim())
        .filter(|f| !f.is_empty())
        .collect();
    if input.comment.chars().count() > COMMENT_MAX
        || findings.iter().any(|f| f.chars().count() > FINDING_MAX)
    {
        return Err(ServerError::bad(
            "too_long",
            format!("审核意见最多 {COMMENT_MAX} 字，每条整改事项最多 {FINDING_MAX} 字"),
            format!(
                "a comment is at most {COMMENT_MAX} characters, a finding at most {FINDING_MAX}"
            ),
        ));
    }
    if findings.len() > FINDINGS_MAX {
        return Err(ServerError::bad(
            "too_many_findings",
            format!("一次最多 {FINDINGS_MAX} 条意见"),
            format!("at most {FINDINGS_MAX} findings at once"),
        ));
    }
    if input.outcome == Outcome::Return && findings.is_empty() && input.comment.trim().is_empty() {
        return Err(ServerError::bad(
            "return_needs_reason",
            "退回须写明审核意见或整改事项",
            "returning a job needs a comment or at least one finding",
        ));
    }
    let state = match input.outcome {
        Outcome::Approve => ReviewState::Approved,
        Outcome::Return => ReviewState::Returned,
    };
    let comment = input.comment.trim().to_string();
    on_behalf::write(
        env,
        who,
        job_id,
        || {
            if may_review(env, who) {
                Ok(())
            } else {
                Err(ServerError::forbidden(
                    format!("{}无权审核工单", who.role.zh()),
                    format!("a {} may not review jobs", who.role.en()),
                ))
            }
        },
        |job, now| {
            let mut edits = vec![Edit::UpdateReview(Review {
                state: Some(state),
                reviewer: Some(who.username.clone()),
                reviewed_at: Some(now),
                comment: Some(comment.clone()),
                ..Default::default()
            })];
            if state == ReviewState::Approved {
                // Approval closes the findings of earlier returns: they were fixed.
                edits.extend(
                    job.review
                        .findings
                        .iter()
                        .filter(|(_, f)| f.resolved != Some(true))
                        .map(|(id, _)| Edit::PutFinding {
                            target: FindingTarget::Review,
                            id: id.clone(),
                            finding: Finding {
                                resolved: Some(true),
                                resolved_at: Some(now),
                                ..Default::default()
                            },
                        }),
                );
            }
            edits.extend(findings.iter().map(|text| Edit::PutFinding {
                target: FindingTarget::Review,
                id: uuid::Uuid::new_v4().simple().to_string(),
                finding: Finding {
                    text: Some(text.to_string()),
                    severity: Some("must_fix".into()),
                    raised_by: Some(who.username.clone()),
                    raised_at: Some(now),
                    resolved: Some(false),
                    ..Default::default()
                },
            }));
            Ok(edits)
        },
        |tx, doc| {
            Ok(tx.insert_review(&ReviewRow {
                id: 0,
                job_id: job_id.to_string(),
                at: now_ms(),
                reviewer: who.username.clone(),
                outcome: state.as_str().to_string(),
                comment: comment.clone(),
                heads: heads_bytes(&doc.heads()),
            })?)
        },
    )
}

/// The last review of a job and what changed in the document since (none: never reviewed).
pub fn since_last_review(
    env: &Env,
    who: &Principal,
    job_id: &str,
) -> Result<Option<(ReviewRow, Vec<FieldChange>)>, ServerError> {
    let tx = env.store.read()?;
    if !authz::can_read_job(&*tx, who, job_id)? {
        return Err(ServerError::NotFound);
    }
    let Some(last) = tx.last_review(job_id)? else {
        return Ok(None);
    };
    let mut loaded = env
        .docs
        .checkout(&*tx, job_id)?
        .ok_or(ServerError::NotFound)?;
    let heads: Vec<ChangeHash> = heads_of(&last.heads)
        .into_iter()
        .filter(|h| loaded.doc.has_change(h))
        .collect();
    let changes = loaded.doc.changes_since_heads(&heads);
    env.docs.checkin(job_id, loaded);
    Ok(Some((last, changes)))
}
