//! A job as the office reads it: the typed job, the whole document tree, same-field conflicts
//! with who wrote each value, the time limits of every stage and the rule verdicts. The web
//! pages and the JSON API both show this one view.

use super::Env;
use super::docs::server_actor;
use crate::authz;
use crate::authz::Principal;
use crate::error::ServerError;
use crate::store::{ReadTx, ReviewRow};
use field_core::Job;
use field_core::rules::{RequiredGroup, Verdict};
use field_core::sla::{self, TimeLimits};
use serde::Serialize;
use serde_json::Value as Json;
use std::collections::BTreeMap;

/// Who wrote a value, as far as the server knows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Author {
    /// The automerge actor (hex).
    pub actor: String,
    pub device: Option<String>,
    pub username: Option<String>,
    pub display_name: Option<String>,
    /// Written by the server on someone's behalf (a review); the audit trail names them.
    pub server: bool,
}

/// One value of a conflicted field and its author.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ConflictValue {
    #[schema(value_type = serde_json::Value)]
    pub value: Json,
    pub author: Author,
    /// The value automerge shows by default (every replica picks the same one).
    pub shown: bool,
}

/// A field two people set concurrently: every value is kept.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ConflictView {
    pub path: String,
    pub values: Vec<ConflictValue>,
}

/// A rule verdict with the name of its check.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct NamedVerdict {
    /// `direct_install`, `zero_investment`, `approval_exempt`, `onsite_plan_reply`.
    pub check: &'static str,
    pub zh: &'static str,
    pub en: &'static str,
    #[schema(value_type = Object)]
    pub verdict: Verdict,
}

/// Everything the office sees of one job.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct JobView {
    /// The typed job (see `docs/job-document.md`).
    #[schema(value_type = Object)]
    pub job: Job,
    /// The whole document (every nested part).
    #[schema(value_type = Object)]
    pub document: Json,
    pub conflicts: Vec<ConflictView>,
    /// Every stage's clock: limit, start, due date, working days used, pauses, state.
    #[schema(value_type = Object)]
    pub time_limits: TimeLimits,
    pub verdicts: Vec<NamedVerdict>,
    /// The rule set the job is judged by.
    pub rule_set: String,
    /// The document groups of the checklist: which are required, which collected.
    #[schema(value_type = Vec<Object>)]
    pub checklist: Vec<RequiredGroup>,
    /// The verdicts on the customer's design and construction firms the job names, against its
    /// unit's register of firms in force today.
    #[schema(value_type = Vec<Object>)]
    pub firm_checks: Vec<field_core::firms::FirmCheck>,
    /// The last review recorded by the server, if any.
    #[serde(skip)]
    pub last_review: Option<ReviewRow>,
}

fn authors(tx: &dyn ReadTx, actors: &[String]) -> Result<BTreeMap<String, Author>, ServerError> {
    let server = server_actor().to_hex_string();
    let mut out: BTreeMap<String, Author> = actors
        .iter()
        .map(|a| {
            (
                a.clone(),
                Author {
                    actor: a.clone(),
                    server: *a == server,
                    ..Default::default()
                },
            )
        })
        .collect();
    for (actor, device, username, name) in tx.actor_devices(actors)? {
        if let Some(a) = out.get_mut(&actor) {
            a.device = Some(device);
            a.username = Some(username);
            a.display_name = Some(name);
        }
    }
    Ok(out)
}

/// The view of `job_id` for `who` (404 for a job they may not see).
pub fn job_view(env: &Env, who: &Principal, job_id: &str) -> Result<JobView, ServerError> {
    let tx = env.store.read()?;
    if !authz::can_read_job(&*tx, who, job_id)? {
        return Err(ServerError::NotFound);
    }
    let mut loaded = env
        .docs
        .checkout(&*tx, job_id)?
        .ok_or(ServerError::NotFound)?;
    let read = loaded.doc.job().and_then(|job| {
        let (document, conflicts) = loaded.doc.to_json()?;
        Ok((job, document, conflicts))
    });
    env.docs.checkin(job_id, loaded);
    let (job, document, raw) = read.map_err(|e| ServerError::Internal(e.to_string()))?;
    let actors: Vec<String> = raw
        .iter()
        .flat_map(|c| std::iter::once(&c.winner_actor).chain(&c.other_actors))
        .filter(|a| !a.is_empty())
        .cloned()
        .collect();
    let by_actor = authors(&*tx, &actors)?;
    let author = |a: &str| {
        by_actor.get(a).cloned().unwrap_or(Author {
            actor: a.to_string(),
            ..Default::default()
        })
    };
    let conflicts = raw
        .iter()
        .map(|c| ConflictView {
            path: c.path.clone(),
            values: std::iter::once(ConflictValue {
                value: c.winner.clone(),
                author: author(&c.winner_actor),
                shown: true,
            })
            .chain(c.others.iter().enumerate().map(|(i, v)| ConflictValue {
                value: v.clone(),
                author: author(c.other_actors.get(i).map(String::as_str).unwrap_or("")),
                shown: false,
            }))
            .collect(),
        })
        .collect();
    let book = env.rules();
    let rules = book.for_job(&job);
    let today = field_core::job::local_date(chrono::Utc::now());
    let time_limits = sla::time_limits(&job, rules, &env.calendar(), today);
    // Judged with its grid cell's current grade, when it names a published cell.
    let grid = env.grid();
    let judged = grid.judged(&job);
    let verdicts = vec![
        NamedVerdict {
            check: "direct_install",
            zh: "勘查装表“一岗制”",
            en: "survey and install in one visit",
            verdict: rules.direct_install(&judged),
        },
        NamedVerdict {
            check: "zero_investment",
            zh: "“三零”零投资",
            en: "zero investment for the customer",
            verdict: rules.zero_investment(&judged),
        },
        NamedVerdict {
            check: "approval_exempt",
            zh: "免于行政审批",
            en: "exempt from administrative approval",
            verdict: rules.approval_exempt(&judged),
        },
        NamedVerdict {
            check: "onsite_plan_reply",
            zh: "现场答复供电方案",
            en: "supply plan replied on site",
            verdict: rules.onsite_plan_reply(&judged),
        },
    ];
    let rule_set = format!("{} v{}", rules.id, rules.version);
    let checklist = rules.required_documents(&job);
    let last_review = tx.last_review(job_id)?;
    let firm_checks = field_core::firms::check(&job, env.firms().in_force(&job.unit, today), today);
    Ok(JobView {
        firm_checks,
        job,
        document,
        conflicts,
        time_limits,
        verdicts,
        rule_set,
        checklist,
        last_review,
    })
}
