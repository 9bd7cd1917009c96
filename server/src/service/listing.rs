//! Job lists for the office: the caller's scope, filters from a URL, a sort, keyset pages and
//! the totals per state. The same filter drives the page, its exports and its bulk actions.

use super::Env;
use crate::authz;
use crate::authz::Principal;
use crate::error::ServerError;
use crate::store::{JobCounts, JobListQuery, JobListRow, ListSort};
use field_core::Role;
use serde::{Deserialize, Serialize};

/// Default and largest page.
pub const PAGE_DEFAULT: u32 = 50;
pub const PAGE_MAX: u32 = 500;

/// Filters as they come from a URL (empty means "any").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ListFilter {
    pub kind: String,
    pub status: String,
    pub review: String,
    pub sla: String,
    pub cm: String,
    pub pm: String,
    /// Accepted from / to, YYYY-MM-DD.
    pub from: String,
    pub to: String,
    /// Customer, address or job number.
    pub q: String,
    /// `updated` (default), `due`, `accepted`, `job_no`.
    pub sort: String,
    /// `1`: key projects (green channel) only.
    pub key: String,
    /// Return visit: `due`, `follow_up` or `done`.
    pub visit: String,
    /// The `next` of the previous page.
    pub after: String,
    pub limit: Option<u32>,
}

impl ListFilter {
    /// The filter as URL query pairs (without paging), for links and exports.
    pub fn pairs(&self) -> Vec<(&'static str, &str)> {
        [
            ("kind", self.kind.as_str()),
            ("status", &self.status),
            ("review", &self.review),
            ("sla", &self.sla),
            ("cm", &self.cm),
            ("pm", &self.pm),
            ("from", &self.from),
            ("to", &self.to),
            ("q", &self.q),
            ("sort", &self.sort),
            ("key", &self.key),
            ("visit", &self.visit),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .collect()
    }

    pub fn sort(&self) -> ListSort {
        match self.sort.as_str() {
            "due" => ListSort::Due,
            "accepted" => ListSort::Accepted,
            "job_no" => ListSort::JobNo,
            _ => ListSort::Updated,
        }
    }

    fn date(field: &'static str, v: &str) -> Result<Option<String>, ServerError> {
        if v.is_empty() {
            return Ok(None);
        }
        chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
            .ok()
            .filter(|d| d.to_string() == v)
            .map(Some)
            .ok_or(())
            .map(|d| d.map(|d| d.to_string()))
            .map_err(|_| {
                ServerError::bad(
                    "bad_filter",
                    format!("{field} 不是日期（YYYY-MM-DD）"),
                    format!("{field} is not a date (YYYY-MM-DD)"),
                )
            })
    }

    /// The store query for `who` (their scope), validated.
    /// The page size asked for (default [`PAGE_DEFAULT`]), refused outside 1..=[`PAGE_MAX`].
    pub fn page_size(&self) -> Result<u32, ServerError> {
        match self.limit {
            None => Ok(PAGE_DEFAULT),
            Some(n) if (1..=PAGE_MAX).contains(&n) => Ok(n),
            Some(_) => Err(ServerError::bad(
                "bad_limit",
                format!("每页条数须在 1 到 {PAGE_MAX} 之间"),
                format!("the page size must be between 1 and {PAGE_MAX}"),
            )),
        }
    }

    pub fn query(&self, who: &Principal, limit: u32) -> Result<JobListQuery, ServerError> {
        let text = |s: &str| Some(s.trim().to_string()).filter(|v| !v.is_empty());
        let after = match self.after.rsplit_once('~') {
            Some((k, id)) if !id.is_empty() => Some((k.to_string(), id.to_string())),
            _ if self.after.is_empty() => None,
            _ => {
                return Err(ServerError::bad(
                    "bad_cursor",
                    "翻页标记无效",
                    "the page cursor is invalid",
                ));
            }
        };
        let (unit, assigned_to) = match who.role {
            Role::Admin => (None, None),
            r if authz::sees_unit(r) => (Some(who.unit.clone()), None),
            _ => (None, Some(who.username.clone())),
        };
        if self.q.chars().count() > 100 {
            return Err(ServerError::bad(
                "bad_filter",
                "搜索词过长（最多 100 字）",
                "the search text is too long (at most 100 characters)",
            ));
        }
        Ok(JobListQuery {
            unit,
            assigned_to,
            kind: text(&self.kind),
            status: text(&self.status),
            review_state: text(&self.review),
            sla_state: text(&self.sla),
            customer_manager: text(&self.cm),
            project_manager: text(&self.pm),
            accepted_from: Self::date("from", &self.from)?,
            accepted_to: Self::date("to", &self.to)?,
            text: text(&self.q),
            key_project: (self.key == "1").then_some(true),
            visit_state: match self.visit.as_str() {
                "" => None,
                v @ ("due" | "follow_up" | "done") => Some(v.to_string()),
                _ => {
                    return Err(ServerError::bad(
                        "bad_filter",
                        "未知的回访状态",
                        "unknown return-visit state",
                    ));
                }
            },
            powered_on_until: None,
            sort: self.sort(),
            after,
            limit,
        })
    }
}

/// One page of a list with the totals of its filter.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Listing {
    pub rows: Vec<JobListRow>,
    pub counts: JobCounts,
    /// Pass as `after` for the next page.
    pub next: Option<String>,
}

/// The page of jobs `filter` selects for `who`.
pub fn list(env: &Env, who: &Principal, filter: &ListFilter) -> Result<Listing, ServerError> {
    let limit = filter.page_size()?;
    let mut q = filter.query(who, limit + 1)?;
    let tx = env.store.read()?;
    let mut rows = tx.list_jobs(&q)?;
    let next = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last().map(|r| format!("{}~{}", r.sort_key, r.job_id))
    } else {
        None
    };
    q.after = None;
    let counts = tx.count_jobs(&q)?;
    Ok(Listing { rows, counts, next })
}

/// Every job `filter` selects for `who` (exports), page by page to `each`.
pub fn each(
    env: &Env,
    who: &Principal,
    filter: &ListFilter,
    mut each: impl FnMut(&JobListRow) -> Result<(), ServerError>,
) -> Result<usize, ServerError> {
    let mut q = filter.query(who, PAGE_MAX)?;
    q.after = None;
    let mut n = 0;
    loop {
        let rows = env.store.read()?.list_jobs(&q)?;
        for r in &rows {
            each(r)?;
        }
        n += rows.len();
        match rows.last() {
            Some(last) if rows.len() == PAGE_MAX as usize => {
                q.after = Some((last.sort_key.clone(), last.job_id.clone()));
            }
            _ => return Ok(n),
        }
    }
}

/// The people a list may be filtered by: `(username, display name, role)` of the caller's unit
/// (every unit for an admin).
pub fn people(env: &Env, who: &Principal) -> Result<Vec<(String, String, String)>, ServerError> {
    let unit = (who.role != Role::Admin).then_some(who.unit.as_str());
    Ok(env.store.read()?.users_of(unit)?)
}
