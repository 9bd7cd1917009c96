//! The time-limit engine (时限): for every stage of domain.md, when its clock started, when it is
//! due, working days used, the intervals it was paused while waiting on the customer, and its
//! state. A pure function of the job document, the rule set in force when the job was accepted
//! and the calendar, so the phone and the server give the same answers.

use crate::calendar::Calendar;
use crate::codes::{JobKind, MilestoneEvent as E, Source, Voltage};
use crate::job::{Job, local_date};
use crate::rules::{Outcome, RuleSet};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Stages with a time limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Counter to customer manager, same day.
    Handover,
    /// Low-voltage small/micro enterprise, application to power-on.
    WholeJob,
    /// Supply plan reply (high voltage, residential communities).
    SupplyPlanReply,
    /// Administrative approval of access works over the exemption distance.
    AccessApproval,
    DesignReview,
    MidInspection,
    CompletionInspection,
    /// Power-on after inspection passed, contract signed and fees paid.
    PowerOn,
    /// Utility-invested supporting works.
    SupportingWorks,
}

impl Stage {
    /// The stable code (as serialized).
    pub fn code(self) -> &'static str {
        match self {
            Stage::Handover => "handover",
            Stage::WholeJob => "whole_job",
            Stage::SupplyPlanReply => "supply_plan_reply",
            Stage::AccessApproval => "access_approval",
            Stage::DesignReview => "design_review",
            Stage::MidInspection => "mid_inspection",
            Stage::CompletionInspection => "completion_inspection",
            Stage::PowerOn => "power_on",
            Stage::SupportingWorks => "supporting_works",
        }
    }

    pub fn parse(code: &str) -> Option<Stage> {
        Stage::ALL.iter().copied().find(|s| s.code() == code)
    }

    pub const ALL: &'static [Stage] = &[
        Stage::Handover,
        Stage::WholeJob,
        Stage::SupplyPlanReply,
        Stage::AccessApproval,
        Stage::DesignReview,
        Stage::MidInspection,
        Stage::CompletionInspection,
        Stage::PowerOn,
        Stage::SupportingWorks,
    ];

    pub fn zh(self) -> &'static str {
        match self {
            Stage::Handover => "受理转派",
            Stage::WholeJob => "全流程（小微企业）",
            Stage::SupplyPlanReply => "供电方案答复",
            Stage::AccessApproval => "行政审批",
            Stage::DesignReview => "设计审查",
            Stage::MidInspection => "中间检查",
            Stage::CompletionInspection => "竣工检验",
            Stage::PowerOn => "装表送电",
            Stage::SupportingWorks => "配套工程",
        }
    }

    pub fn en(self) -> &'static str {
        match self {
            Stage::Handover => "hand-over",
            Stage::WholeJob => "whole job (small/micro)",
            Stage::SupplyPlanReply => "supply plan reply",
            Stage::AccessApproval => "access approval",
            Stage::DesignReview => "design review",
            Stage::MidInspection => "mid inspection",
            Stage::CompletionInspection => "completion inspection",
            Stage::PowerOn => "power-on",
            Stage::SupportingWorks => "supporting works",
        }
    }
}

/// State of a stage's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlaState {
    /// Ended late.
    Missed,
    /// Running and past due.
    Overdue,
    /// Running, due within the threshold.
    DueSoon,
    OnTrack,
    /// The clock has not started.
    NotStarted,
    /// Ended in time.
    Met,
}

impl SlaState {
    pub fn as_str(self) -> &'static str {
        match self {
            SlaState::Missed => "missed",
            SlaState::Overdue => "overdue",
            SlaState::DueSoon => "due_soon",
            SlaState::OnTrack => "on_track",
            SlaState::NotStarted => "not_started",
            SlaState::Met => "met",
        }
    }

    pub fn zh(self) -> &'static str {
        match self {
            SlaState::Missed => "已超期完成",
            SlaState::Overdue => "已超期",
            SlaState::DueSoon => "即将到期",
            SlaState::OnTrack => "正常",
            SlaState::NotStarted => "未开始",
            SlaState::Met => "按时完成",
        }
    }
}

/// A pause interval in days: the clock stops on the working days in `(from, to]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PausedInterval {
    pub from: NaiveDate,
    /// `None` while still waiting.
    pub to: Option<NaiveDate>,
}

/// The clock of one stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageClock {
    pub stage: Stage,
    pub limit_days: u32,
    pub started_on: Option<NaiveDate>,
    pub ended_on: Option<NaiveDate>,
    pub due_on: Option<NaiveDate>,
    /// Working days used, pauses excluded.
    pub used_days: i64,
    pub paused_days: i64,
    pub paused: Vec<PausedInterval>,
    pub paused_now: bool,
    pub state: SlaState,
    /// Some day involved falls in a year without calendar data (Mon–Fri guess).
    pub provisional: bool,
}

/// How urgent a running clock is on the dispatch board (时限预警), most urgent first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Warning {
    Overdue,
    DueSoon,
    /// At least this percent of the limit used (one of the rule set's `warn_percent`).
    Used(u32),
}

impl Warning {
    /// A stable code: `overdue`, `due_soon`, `used_90`…
    pub fn code(self) -> String {
        match self {
            Warning::Overdue => "overdue".into(),
            Warning::DueSoon => "due_soon".into(),
            Warning::Used(p) => format!("used_{p}"),
        }
    }

    /// Sorts most urgent first (larger is more urgent).
    pub fn rank(self) -> u32 {
        match self {
            Warning::Overdue => 1_000,
            Warning::DueSoon => 900,
            Warning::Used(p) => p.min(899),
        }
    }
}

impl StageClock {
    /// Whether the clock is running (started, not ended).
    pub fn running(&self) -> bool {
        self.started_on.is_some() && self.ended_on.is_none()
    }

    /// The warning a running clock raises with `thresholds`, if any.
    pub fn warning(&self, thresholds: &crate::rules::Thresholds) -> Option<Warning> {
        if !self.running() {
            return None;
        }
        match self.state {
            SlaState::Overdue => return Some(Warning::Overdue),
            SlaState::DueSoon => return Some(Warning::DueSoon),
            _ => {}
        }
        let limit = i64::from(self.limit_days.max(1));
        thresholds
            .warn_percent
            .iter()
            .copied()
            .filter(|p| self.used_days * 100 >= i64::from(*p) * limit)
            .max()
            .map(Warning::Used)
    }
}

/// The job's time-limit picture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeLimits {
    pub clocks: Vec<StageClock>,
}

impl TimeLimits {
    /// The worst state among running or finished clocks (Missed < Overdue < DueSoon < OnTrack…).
    pub fn worst(&self) -> Option<SlaState> {
        self.clocks
            .iter()
            .map(|c| c.state)
            .filter(|s| *s != SlaState::NotStarted)
            .min()
    }

    /// The earliest due date among running clocks.
    pub fn next_due(&self) -> Option<NaiveDate> {
        self.clocks
            .iter()
            .filter(|c| c.started_on.is_some() && c.ended_on.is_none())
            .filter_map(|c| c.due_on)
            .min()
    }

    pub fn get(&self, stage: Stage) -> Option<&StageClock> {
        self.clocks.iter().find(|c| c.stage == stage)
    }
}

/// Computes every stage that applies to the job, as of `today`.
pub fn time_limits(job: &Job, rules: &RuleSet, cal: &Calendar, today: NaiveDate) -> TimeLimits {
    let l = &rules.limits;
    let hv_like = matches!(
        job.kind,
        JobKind::HighVoltage | JobKind::ResidentialCommunity
    );
    let pauses = pause_intervals(job);
    let day = |e: E| job.first(e).map(local_date);
    let accepted = Some(job.accepted_on());
    let inspections = rules.inspections_required(job).outcome == Outcome::Yes;
    let mut clocks = Vec::new();
    let key_project = job.application.key_project == Some(true);
    let mut push = |stage: Stage, limit: u32, start: Option<NaiveDate>, end: Option<NaiveDate>| {
        let limit = l.for_job(limit, key_project);
        clocks.push(clock(stage, limit, start, end, &pauses, cal, today, rules));
    };

    push(Stage::Handover, l.handover, accepted, day(E::HandedOver));
    if job.kind == JobKind::LowVoltageSmallMicro {
        push(
            Stage::WholeJob,
            l.small_micro_whole_job,
            accepted,
            day(E::PoweredOn),
        );
    }
    if hv_like {
        let limit = match job.application.source {
            Some(Source::Dual) => l.plan_reply_dual,
            _ => l.plan_reply_single,
        };
        push(
            Stage::SupplyPlanReply,
            limit,
            accepted,
            day(E::SupplyPlanReplied),
        );
    }
    let over_exempt = job
        .application
        .grid_distance_m
        .is_some_and(|d| d > rules.thresholds.approval_exempt_max_m);
    if over_exempt || job.first(E::ApprovalApplied).is_some() {
        push(
            Stage::AccessApproval,
            l.access_approval,
            day(E::ApprovalApplied),
            day(E::ApprovalGranted),
        );
    }
    if inspections || job.first(E::DesignReviewRequested).is_some() {
        push(
            Stage::DesignReview,
            l.design_review,
            day(E::DesignReviewRequested),
            day(E::DesignReviewReplied),
        );
    }
    if inspections || job.first(E::MidInspectionRequested).is_some() {
        push(
            Stage::MidInspection,
            l.mid_inspection,
            day(E::MidInspectionRequested),
            day(E::MidInspectionReplied),
        );
    }
    if hv_like || job.first(E::CompletionInspectionRequested).is_some() {
        push(
            Stage::CompletionInspection,
            l.completion_inspection,
            day(E::CompletionInspectionRequested),
            day(E::CompletionInspectionReplied),
        );
    }
    // Power-on: the clock starts when every precondition holds.
    let mut preconditions = vec![day(E::ContractSigned)];
    if hv_like {
        preconditions.push(day(E::CompletionInspectionPassed));
    }
    if job
        .application
        .fees_due
        .unwrap_or(job.kind == JobKind::HighVoltage)
    {
        preconditions.push(day(E::FeesPaid));
    }
    let power_start = preconditions
        .iter()
        .copied()
        .collect::<Option<Vec<_>>>()
        .and_then(|days| days.into_iter().max());
    push(Stage::PowerOn, l.power_on, power_start, day(E::PoweredOn));
    // Utility-invested supporting works: 10 kV from the plan reply; small/micro from the survey,
    // where the works start on site.
    if job.project.utility_invested == Some(true) {
        if job.kind == JobKind::LowVoltageSmallMicro {
            push(
                Stage::SupportingWorks,
                l.supporting_works_small_micro,
                day(E::SurveyDone).or(day(E::WorksStarted)),
                day(E::WorksCompleted),
            );
        } else if matches!(
            job.project.voltage.or(job.application.voltage),
            Some(Voltage::Kv10) | Some(Voltage::Kv20)
        ) {
            push(
                Stage::SupportingWorks,
                l.supporting_works_10kv,
                day(E::SupplyPlanReplied).or(day(E::WorksStarted)),
                day(E::WorksCompleted),
            );
        }
    }
    TimeLimits { clocks }
}

fn pause_intervals(job: &Job) -> Vec<PausedInterval> {
    let mut out: Vec<PausedInterval> = job
        .pauses
        .values()
        .filter_map(|p| {
            p.started_at.map(|s| PausedInterval {
                from: local_date(s),
                to: p.ended_at.map(local_date),
            })
        })
        .collect();
    out.sort_by_key(|p| (p.from, p.to));
    out
}

/// The days `(from, to]` the clock stood still between `start` and `stop`, merged and sorted
/// (an open pause runs to `stop`).
fn paused_spans(
    pauses: &[PausedInterval],
    start: NaiveDate,
    stop: NaiveDate,
) -> Vec<(NaiveDate, NaiveDate)> {
    let mut spans: Vec<(NaiveDate, NaiveDate)> = pauses
        .iter()
        .map(|p| (p.from.max(start), p.to.unwrap_or(stop).min(stop)))
        .filter(|(from, to)| from < to)
        .collect();
    spans.sort_unstable();
    let mut merged: Vec<(NaiveDate, NaiveDate)> = Vec::with_capacity(spans.len());
    for (from, to) in spans {
        match merged.last_mut() {
            Some(last) if from <= last.1 => last.1 = last.1.max(to),
            _ => merged.push((from, to)),
        }
    }
    merged
}

/// The day the unpaused working days after `start` reach `limit` (> 0), skipping `spans`.
fn due_after(
    cal: &Calendar,
    start: NaiveDate,
    limit: u32,
    spans: &[(NaiveDate, NaiveDate)],
) -> NaiveDate {
    let mut left = i64::from(limit);
    let mut cursor = start;
    for &(from, to) in spans {
        if to <= cursor {
            continue;
        }
        let free = cal.working_days_between(cursor, from.max(cursor));
        if free >= left {
            break;
        }
        left -= free;
        cursor = to;
    }
    cal.add_working_days(cursor, u32::try_from(left).unwrap_or(u32::MAX))
}

#[allow(clippy::too_many_arguments)]
fn clock(
    stage: Stage,
    limit: u32,
    start: Option<NaiveDate>,
    end: Option<NaiveDate>,
    pauses: &[PausedInterval],
    cal: &Calendar,
    today: NaiveDate,
    rules: &RuleSet,
) -> StageClock {
    let Some(start) = start else {
        return StageClock {
            stage,
            limit_days: limit,
            started_on: None,
            ended_on: None,
            due_on: None,
            used_days: 0,
            paused_days: 0,
            paused: Vec::new(),
            paused_now: false,
            state: SlaState::NotStarted,
            provisional: false,
        };
    };
    let end = end.filter(|e| *e >= start);
    let stop = end.unwrap_or(today).max(start);
    // Pauses that touch the stage's window; an open pause counts up to `stop`.
    let relevant: Vec<PausedInterval> = pauses
        .iter()
        .filter(|p| p.to.is_none_or(|to| to > start) && p.from < stop)
        .copied()
        .collect();
    let paused_now = end.is_none() && relevant.iter().any(|p| p.to.is_none());
    // Counted, never walked: any span costs the same few lookups.
    let spans = paused_spans(&relevant, start, stop);
    let paused_days: i64 = spans
        .iter()
        .map(|&(from, to)| cal.working_days_between(from, to))
        .sum();
    let used = cal.working_days_between(start, stop) - paused_days;
    // Due: the day the unpaused count reaches the limit; a limit of 0 means "the same working day".
    // Days after `stop` are treated as unpaused (an open pause is assumed to end today).
    let due = if limit == 0 {
        cal.working_day_on_or_after(start)
    } else {
        due_after(cal, start, limit, &spans)
    };
    let state = match end {
        Some(e) if e <= due => SlaState::Met,
        Some(_) => SlaState::Missed,
        None if today > due => SlaState::Overdue,
        None if cal.working_days_between(today, due)
            <= rules.thresholds.due_soon_working_days as i64 =>
        {
            SlaState::DueSoon
        }
        None => SlaState::OnTrack,
    };
    StageClock {
        stage,
        limit_days: limit,
        started_on: Some(start),
        ended_on: end,
        due_on: Some(due),
        used_days: used,
        paused_days,
        paused: relevant,
        paused_now,
        state,
        provisional: cal.is_range_provisional(start, due.max(stop)),
    }
}
