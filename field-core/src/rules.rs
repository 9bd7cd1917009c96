//! The business rules as data: required documents, service steps, time limits and thresholds,
//! versioned with effective dates. A unit can override the national default with its own set.
//!
//! The checks (`direct_install`, `zero_investment`, …) are pure functions of a job and a rule set
//! and return a [`Verdict`] with bilingual reasons, so the phone and the server agree.

use crate::codes::*;
use crate::job::Job;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// A label in both languages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    pub zh: String,
    pub en: String,
}

fn label(zh: &str, en: &str) -> Label {
    Label {
        zh: zh.to_string(),
        en: en.to_string(),
    }
}

/// When a document group is required.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    Always,
    /// The customer is an important customer (GB/T 29328-2018).
    ImportantCustomer,
    /// Mining and other specially licensed industries.
    SpecialIndustry,
    /// The job is filed by an agent.
    Agent,
}

/// One accepted document within a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocOption {
    pub key: String,
    pub label: Label,
    /// This document must be seen in original (not a copy).
    #[serde(default)]
    pub original: bool,
}

/// A group of documents of which one must be collected (e.g. "subject proof").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocGroup {
    pub key: String,
    pub label: Label,
    pub when: Condition,
    pub options: Vec<DocOption>,
    /// Accepted only in rural areas (e.g. the village committee's property letter).
    #[serde(default)]
    pub rural_options: Vec<DocOption>,
}

/// Documents and service steps for one job kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KindRules {
    pub kind: JobKind,
    pub documents: Vec<DocGroup>,
    /// Service steps (服务环节) when the utility invests to the red line.
    pub steps: Vec<Label>,
    /// Extra steps when it does not (e.g. the customer's external works).
    #[serde(default)]
    pub extra_steps_without_investment: Vec<Label>,
    /// Design review and mid inspection are always required for this kind.
    #[serde(default)]
    pub inspections_always: bool,
}

/// Time limits in working days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub handover: u32,
    pub small_micro_whole_job: u32,
    pub plan_reply_single: u32,
    pub plan_reply_dual: u32,
    pub access_approval: u32,
    pub design_review: u32,
    pub mid_inspection: u32,
    pub completion_inspection: u32,
    pub power_on: u32,
    pub supporting_works_10kv: u32,
    pub supporting_works_small_micro: u32,
    /// Green channel (绿色通道): a key project's limits are this percent of the others (rounded
    /// up; same-day stays same-day). `None`: key projects keep the normal limits.
    #[serde(default)]
    pub key_project_percent: Option<u32>,
}

impl Limits {
    /// The limit of a stage for a job, key projects tightened by `key_project_percent`.
    pub fn for_job(&self, days: u32, key_project: bool) -> u32 {
        match (key_project, self.key_project_percent) {
            (true, Some(pct)) => (days * pct.min(100)).div_ceil(100),
            _ => days,
        }
    }
}

/// Thresholds of the eligibility checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// Access works up to this length are exempt from approval (承诺备案).
    pub approval_exempt_max_m: f64,
    /// Single-source 10(20) kV up to this capacity gets its supply plan on site.
    pub onsite_reply_max_kva: f64,
    /// Electric-replacement share above which HV projects are zero-investment.
    pub replacement_share_min_pct: f64,
    /// Largest low-voltage capacity installed directly in one visit.
    pub direct_install_max_kva: f64,
    /// "Due soon" when this many working days or fewer remain.
    pub due_soon_working_days: u32,
    /// Early warnings (时限预警) when a running clock has used this share of its limit, in
    /// percent, ascending.
    #[serde(default = "default_warn_percent")]
    pub warn_percent: Vec<u32>,
    /// A return visit (回访) is due this many days after power-on.
    #[serde(default = "default_return_visit_after_days")]
    pub return_visit_after_days: u32,
    /// A return visit scored at or below this (1–5) opens a follow-up.
    #[serde(default = "default_low_satisfaction_max")]
    pub low_satisfaction_max: i64,
    /// Assigning a manager who falls short of the seed's conditions (seed 003 第五条/第六条):
    /// `warn` (the default) or `block`.
    #[serde(default)]
    pub manager_qualification: crate::qualification::QualificationRule,
}

fn default_return_visit_after_days() -> u32 {
    3
}

fn default_low_satisfaction_max() -> i64 {
    2
}

fn default_warn_percent() -> Vec<u32> {
    vec![50, 75, 90]
}

/// A versioned, dated rule set; `unit = None` is the default for every unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleSet {
    pub id: String,
    pub version: u32,
    pub effective_from: NaiveDate,
    #[serde(default)]
    pub unit: Option<String>,
    pub kinds: Vec<KindRules>,
    pub agent_documents: Vec<DocGroup>,
    pub limits: Limits,
    pub thresholds: Thresholds,
}

/// Outcome of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Yes,
    No,
    /// Facts the check needs are not filled in yet.
    Unknown,
}

/// A reason behind a verdict, with a stable code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    pub code: String,
    pub zh: String,
    pub en: String,
}

/// The answer of a check and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub outcome: Outcome,
    pub reasons: Vec<Reason>,
}

/// Collects reasons; the outcome is No if any blocking reason, else Unknown if a fact is
/// missing, else Yes.
struct VerdictBuilder {
    no: bool,
    unknown: bool,
    reasons: Vec<Reason>,
}

impl VerdictBuilder {
    fn new() -> Self {
        VerdictBuilder {
            no: false,
            unknown: false,
            reasons: Vec::new(),
        }
    }
    fn reason(&mut self, code: &str, zh: String, en: String) {
        self.reasons.push(Reason {
            code: code.to_string(),
            zh,
            en,
        });
    }
    fn yes(&mut self, code: &str, zh: impl Into<String>, en: impl Into<String>) {
        self.reason(code, zh.into(), en.into());
    }
    fn no(&mut self, code: &str, zh: impl Into<String>, en: impl Into<String>) {
        self.no = true;
        self.reason(code, zh.into(), en.into());
    }
    fn missing(&mut self, code: &str, zh: impl Into<String>, en: impl Into<String>) {
        self.unknown = true;
        self.reason(code, zh.into(), en.into());
    }
    fn build(self) -> Verdict {
        let outcome = if self.no {
            Outcome::No
        } else if self.unknown {
            Outcome::Unknown
        } else {
            Outcome::Yes
        };
        Verdict {
            outcome,
            reasons: self.reasons,
        }
    }
}

/// Capacity within `max` kVA: yes; above: no; not filled in: unknown.
fn check_capacity(v: &mut VerdictBuilder, capacity: Option<f64>, max: f64) {
    match capacity {
        Some(c) if c <= max => v.yes(
            "capacity_ok",
            format!("容量 {c} 千伏安，不超过 {max}"),
            format!("capacity {c} kVA within {max} kVA"),
        ),
        Some(c) => v.no(
            "capacity_over",
            format!("容量 {c} 千伏安，超过上限 {max}"),
            format!("capacity {c} kVA exceeds {max} kVA"),
        ),
        None => v.missing(
            "capacity_missing",
            "未填写申请容量",
            "capacity not filled in",
        ),
    }
}

/// A verdict that is Yes as soon as one path qualifies, No when none can.
fn any_of(paths: Vec<(Outcome, Reason)>) -> Verdict {
    let outcome = if paths.iter().any(|(o, _)| *o == Outcome::Yes) {
        Outcome::Yes
    } else if paths.iter().any(|(o, _)| *o == Outcome::Unknown) {
        Outcome::Unknown
    } else {
        Outcome::No
    };
    let reasons = paths
        .into_iter()
        .filter(|(o, _)| outcome == Outcome::No || *o == outcome)
        .map(|(_, r)| r)
        .collect();
    Verdict { outcome, reasons }
}

fn reason(code: &str, zh: impl Into<String>, en: impl Into<String>) -> Reason {
    Reason {
        code: code.to_string(),
        zh: zh.into(),
        en: en.into(),
    }
}

/// A required document group for one job, resolved from the rules and the job's facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequiredGroup {
    pub group: DocGroup,
    pub required: bool,
    pub collected: bool,
}

impl RuleSet {
    pub fn kind(&self, kind: JobKind) -> Option<&KindRules> {
        self.kinds.iter().find(|k| k.kind == kind)
    }

    /// Every document group that may apply to a job of this kind (used to lay out the checklist).
    pub fn document_groups(&self, kind: JobKind) -> Vec<&DocGroup> {
        self.kind(kind)
            .map(|k| k.documents.iter().collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .chain(self.agent_documents.iter())
            .collect()
    }

    /// Which groups this job needs, and whether each is collected.
    pub fn required_documents(&self, job: &Job) -> Vec<RequiredGroup> {
        let important = job
            .application
            .importance
            .is_some_and(|i| i != Importance::Normal);
        let special = job.application.special_industry.unwrap_or(false);
        let agent = job.agent.filed_by_agent.unwrap_or(false);
        self.document_groups(job.kind)
            .into_iter()
            .map(|g| {
                let required = match g.when {
                    Condition::Always => true,
                    Condition::ImportantCustomer => important,
                    Condition::SpecialIndustry => special,
                    Condition::Agent => agent,
                };
                // Where the seed demands an original (原件), seeing it is part of collecting.
                let collected = job.checklist.get(&g.key).is_some_and(|c| {
                    let original = c.doc_type.as_deref().is_some_and(|t| {
                        g.options
                            .iter()
                            .chain(g.rural_options.iter())
                            .any(|o| o.key == t && o.original)
                    });
                    c.collected == Some(true) && (!original || c.original_seen == Some(true))
                });
                RequiredGroup {
                    group: g.clone(),
                    required,
                    collected,
                }
            })
            .collect()
    }

    /// Service steps (服务环节) for the job: 3 or 4 for high voltage depending on investment.
    pub fn service_steps(&self, job: &Job) -> Vec<Label> {
        let Some(k) = self.kind(job.kind) else {
            return Vec::new();
        };
        let mut steps = k.steps.clone();
        let invested = self.zero_investment(job).outcome == Outcome::Yes
            || job.supply_plan.utility_invests_to_red_line == Some(true);
        if !invested && !k.extra_steps_without_investment.is_empty() {
            let last = steps.pop();
            steps.extend(k.extra_steps_without_investment.iter().cloned());
            steps.extend(last);
        }
        steps
    }

    /// Zero investment to the red line (零投资): the utility builds everything outside it.
    pub fn zero_investment(&self, job: &Job) -> Verdict {
        let a = &job.application;
        let t = &self.thresholds;
        let mut paths = Vec::new();
        if job.kind == JobKind::LowVoltageSmallMicro {
            paths.push((
                Outcome::Yes,
                reason(
                    "small_micro",
                    "低压小微企业，供电公司投资到红线",
                    "low-voltage small/micro enterprise: the utility invests to the red line",
                ),
            ));
        }
        match a.tariff {
            Some(Tariff::Agricultural) => paths.push((
                Outcome::Yes,
                reason(
                    "agricultural",
                    "执行农业生产电价",
                    "billed on the agricultural tariff",
                ),
            )),
            Some(Tariff::Residential) => match a.voltage {
                Some(v) if v.is_below_1kv() => paths.push((
                    Outcome::Yes,
                    reason(
                        "residential_below_1kv",
                        "1千伏以下执行居民电价",
                        "residential tariff below 1 kV",
                    ),
                )),
                Some(_) => paths.push((
                    Outcome::No,
                    reason(
                        "residential_above_1kv",
                        "居民电价但电压等级在1千伏及以上",
                        "residential tariff but supplied at 1 kV or above",
                    ),
                )),
                None => paths.push((
                    Outcome::Unknown,
                    reason(
                        "voltage_missing",
                        "未填写电压等级",
                        "voltage level not filled in",
                    ),
                )),
            },
            Some(Tariff::CommercialIndustrial) | Some(Tariff::LargeIndustrial) => match a.dev_zone {
                Some(DevZone::Provincial) | Some(DevZone::National) => paths.push((
                    Outcome::Yes,
                    reason(
                        "dev_zone",
                        "省级及以上开发区内执行工商业电价",
                        "commercial/industrial tariff in a provincial-or-higher development zone",
                    ),
                )),
                Some(_) => paths.push((
                    Outcome::No,
                    reason(
                        "not_in_zone",
                        "不在省级及以上开发区",
                        "not in a provincial-or-higher development zone",
                    ),
                )),
                None => paths.push((
                    Outcome::Unknown,
                    reason(
                        "zone_missing",
                        "未填写是否位于开发区",
                        "development zone not filled in",
                    ),
                )),
            },
            None => paths.push((
                Outcome::Unknown,
                reason("tariff_missing", "未填写电价类别", "tariff not filled in"),
            )),
        }
        if job.kind == JobKind::HighVoltage {
            if a.ev_charging == Some(true) {
                paths.push((
                    Outcome::Yes,
                    reason(
                        "ev_charging",
                        "高压电动汽车充换电项目",
                        "high-voltage EV charging project",
                    ),
                ));
            }
            match a.replacement_share_pct {
                Some(p) if p > t.replacement_share_min_pct => paths.push((
                    Outcome::Yes,
                    reason(
                        "electric_replacement",
                        format!(
                            "电能替代容量占比 {p}% 高于 {}%",
                            t.replacement_share_min_pct
                        ),
                        format!(
                            "electric replacement is {p}% of capacity, above {}%",
                            t.replacement_share_min_pct
                        ),
                    ),
                )),
                Some(p) => paths.push((
                    Outcome::No,
                    reason(
                        "replacement_low",
                        format!(
                            "电能替代容量占比 {p}% 未超过 {}%",
                            t.replacement_share_min_pct
                        ),
                        format!(
                            "electric replacement is {p}%, not above {}%",
                            t.replacement_share_min_pct
                        ),
                    ),
                )),
                None => {}
            }
        }
        any_of(paths)
    }

    /// Access works within the threshold need no administrative approval (承诺备案).
    pub fn approval_exempt(&self, job: &Job) -> Verdict {
        let max = self.thresholds.approval_exempt_max_m;
        let mut v = VerdictBuilder::new();
        match job.application.grid_distance_m {
            Some(d) if d <= max => v.yes(
                "within_150m",
                format!("接入距离 {d} 米，不超过 {max} 米，免审批（承诺备案）"),
                format!("access works of {d} m, within {max} m: exempt, commitment filing"),
            ),
            Some(d) => v.no(
                "over_150m",
                format!(
                    "接入距离 {d} 米，超过 {max} 米，需行政审批（{} 个工作日内）",
                    self.limits.access_approval
                ),
                format!(
                    "access works of {d} m exceed {max} m: approval needed within {} working days",
                    self.limits.access_approval
                ),
            ),
            None => v.missing(
                "distance_missing",
                "未填写接入距离",
                "distance to the grid not filled in",
            ),
        }
        v.build()
    }

    /// Supply plan replied on site: single source, 10(20) kV, capacity within the threshold.
    pub fn onsite_plan_reply(&self, job: &Job) -> Verdict {
        let a = &job.application;
        let max = self.thresholds.onsite_reply_max_kva;
        let mut v = VerdictBuilder::new();
        match a.source {
            Some(Source::Single) => v.yes("single_source", "单电源", "single source"),
            Some(Source::Dual) => v.no(
                "dual_source",
                "双电源不能现场答复",
                "dual source: no on-site reply",
            ),
            None => v.missing(
                "source_missing",
                "未填写电源数量",
                "number of sources not filled in",
            ),
        }
        match a.voltage {
            Some(Voltage::Kv10) | Some(Voltage::Kv20) => v.yes(
                "voltage_10_20",
                "10（20）千伏供电",
                "supplied at 10 (20) kV",
            ),
            Some(x) => v.no(
                "voltage_other",
                format!("供电电压 {} 不是 10（20）千伏", x.zh()),
                format!("supplied at {}, not 10 (20) kV", x.en()),
            ),
            None => v.missing(
                "voltage_missing",
                "未填写电压等级",
                "voltage level not filled in",
            ),
        }
        check_capacity(&mut v, a.capacity_kva, max);
        v.build()
    }

    /// Design review and mid inspection are required for important or special loads and new
    /// residential communities.
    pub fn inspections_required(&self, job: &Job) -> Verdict {
        let a = &job.application;
        let mut paths = Vec::new();
        if self.kind(job.kind).is_some_and(|k| k.inspections_always) {
            paths.push((
                Outcome::Yes,
                reason("community", "新建住宅小区", "new residential community"),
            ));
        }
        match a.importance {
            Some(Importance::Normal) => paths.push((
                Outcome::No,
                reason("normal_load", "普通负荷", "normal load"),
            )),
            Some(i) => paths.push((
                Outcome::Yes,
                reason("important", i.zh().to_string(), i.en().to_string()),
            )),
            None => paths.push((
                Outcome::Unknown,
                reason(
                    "importance_missing",
                    "未填写负荷重要性",
                    "load importance not filled in",
                ),
            )),
        }
        let special = a.special_load_list();
        if special.is_empty() {
            paths.push((
                Outcome::No,
                reason("no_special_load", "无特殊负荷", "no special loads"),
            ));
        } else {
            let zh: Vec<&str> = special.iter().map(|s| s.zh()).collect();
            let en: Vec<&str> = special.iter().map(|s| s.en()).collect();
            paths.push((
                Outcome::Yes,
                reason(
                    "special_load",
                    format!("特殊负荷：{}", zh.join("、")),
                    format!("special loads: {}", en.join(", ")),
                ),
            ));
        }
        any_of(paths)
    }

    /// Survey-and-install in one visit (勘查装表一岗制): the site meets direct-install conditions.
    pub fn direct_install(&self, job: &Job) -> Verdict {
        let a = &job.application;
        let mut v = VerdictBuilder::new();
        if job.kind.is_low_voltage() {
            v.yes("low_voltage", "低压报装", "low-voltage job");
        } else {
            v.no(
                "not_low_voltage",
                format!("{}不能直接装表", job.kind.zh()),
                format!("{} jobs cannot be installed directly", job.kind.en()),
            );
        }
        let max = self.thresholds.direct_install_max_kva;
        check_capacity(&mut v, a.capacity_kva, max);
        match a.grid_health {
            Some(GridHealth::Sick) => v.no(
                "grid_restricted",
                "电网网格为病态，接入受限：先接入满足基本用电，同步启动改造",
                "grid cell is sick (access restricted): connect for basic needs, upgrade in parallel",
            ),
            Some(h) => v.yes(
                "grid_ok",
                format!("电网网格{}", h.zh()),
                format!("grid cell {}", h.en()),
            ),
            None => v.missing("grid_missing", "未填写电网健康状态", "grid cell health not filled in"),
        }
        let s = &job.survey;
        for (flag, code, zh, en) in [
            (s.address_verified, "address", "用电地址", "address"),
            (s.capacity_verified, "capacity", "用电容量", "capacity"),
            (
                s.category_verified,
                "category",
                "用电类别",
                "electricity category",
            ),
        ] {
            match flag {
                Some(true) => {}
                Some(false) => v.no(
                    &format!("{code}_mismatch"),
                    format!("现场核实{zh}不符"),
                    format!("survey found the {en} does not match"),
                ),
                None => v.missing(
                    &format!("{code}_unverified"),
                    format!("尚未核实{zh}"),
                    format!("{en} not verified yet"),
                ),
            }
        }
        if s.load_nature.as_deref().is_none_or(str::is_empty) {
            v.missing(
                "load_nature_missing",
                "尚未核实负荷性质",
                "load nature not verified yet",
            );
        }
        let missing: Vec<RequiredGroup> = self
            .required_documents(job)
            .into_iter()
            .filter(|g| g.required && !g.collected)
            .collect();
        if missing.is_empty() {
            v.yes("documents_complete", "资料齐全", "documents complete");
        } else {
            let zh: Vec<&str> = missing.iter().map(|g| g.group.label.zh.as_str()).collect();
            let en: Vec<&str> = missing.iter().map(|g| g.group.label.en.as_str()).collect();
            v.missing(
                "documents_missing",
                format!("缺少资料：{}", zh.join("、")),
                format!("documents missing: {}", en.join(", ")),
            );
        }
        v.build()
    }
}

fn opt(key: &str, zh: &str, en: &str) -> DocOption {
    DocOption {
        key: key.to_string(),
        label: label(zh, en),
        original: false,
    }
}

fn group(key: &str, zh: &str, en: &str, when: Condition, options: Vec<DocOption>) -> DocGroup {
    DocGroup {
        key: key.to_string(),
        label: label(zh, en),
        when,
        options,
        rural_options: Vec::new(),
    }
}

fn subject_proof() -> DocGroup {
    group(
        "subject_proof",
        "主体证明",
        "proof of the applicant",
        Condition::Always,
        vec![
            opt("business_licence", "营业执照", "business licence"),
            opt(
                "org_code",
                "组织机构代码证",
                "organisation code certificate",
            ),
            opt(
                "religious_site",
                "宗教活动场所登记证",
                "religious site registration",
            ),
            opt(
                "social_group",
                "社会团体法人登记证书",
                "social organisation registration",
            ),
            opt(
                "military_letter",
                "军队或武警出具的证明",
                "letter from the military or armed police",
            ),
        ],
    )
}

fn property_proof() -> DocGroup {
    let mut g = group(
        "property_proof",
        "产权证明",
        "proof of property",
        Condition::Always,
        vec![
            opt("property_cert", "产权证", "property certificate"),
            opt(
                "state_land_cert",
                "国有土地使用证",
                "state land use certificate",
            ),
            opt(
                "collective_land_cert",
                "集体土地使用证",
                "collective land use certificate",
            ),
            opt("purchase_contract", "购房合同", "home purchase contract"),
            opt("legal_document", "法律文书", "legal document"),
            opt(
                "property_proof_letter",
                "产权合法证明",
                "proof of lawful property",
            ),
        ],
    );
    g.rural_options = vec![village_letter()];
    g
}

/// The village committee's property letter, in original: rural low-voltage customers (seed 001).
fn village_letter() -> DocOption {
    DocOption {
        key: "village_committee_letter".into(),
        label: label(
            "村委会及以上出具的产权证明（原件）",
            "village committee's property letter (original)",
        ),
        original: true,
    }
}

/// 10 kV property proof: the usual documents or a lease (seed 001 §4.1.2).
fn property_proof_or_lease() -> DocGroup {
    let mut g = property_proof();
    g.label = label("产权证明或租赁合同", "proof of property or lease");
    g.options.push(opt("lease", "房屋租赁合同", "lease"));
    g
}

fn step(zh: &str, en: &str) -> Label {
    label(zh, en)
}

impl Default for RuleSet {
    /// The national default of domain.md.
    fn default() -> RuleSet {
        let application = step("用电申请", "application");
        let plan = step("供电方案答复", "supply plan reply");
        let install = step("装表接电", "install and power on");
        let external = step("客户外部工程实施", "customer's external works");
        let report = |zh: &str, en: &str| {
            group(
                "application_report",
                zh,
                en,
                Condition::Always,
                vec![opt("application_report", zh, en)],
            )
        };
        let single = |key: &str, zh: &str, en: &str, when: Condition| {
            group(key, zh, en, when, vec![opt(key, zh, en)])
        };
        RuleSet {
            id: "national-default".into(),
            version: 1,
            effective_from: NaiveDate::from_ymd_opt(2020, 1, 1).expect("valid date"),
            unit: None,
            kinds: vec![
                KindRules {
                    kind: JobKind::LowVoltageResidential,
                    documents: vec![
                        group(
                            "property_proof",
                            "房屋产权证明",
                            "proof of home ownership",
                            Condition::Always,
                            vec![
                                opt("property_cert", "产权证", "property certificate"),
                                opt("purchase_contract", "购房合同", "home purchase contract"),
                                opt(
                                    "property_proof_letter",
                                    "其他产权证明",
                                    "other proof of ownership",
                                ),
                            ],
                        ),
                        single(
                            "owner_id",
                            "产权人身份证",
                            "owner's ID card",
                            Condition::Always,
                        ),
                    ],
                    steps: vec![application.clone(), install.clone()],
                    extra_steps_without_investment: vec![],
                    inspections_always: false,
                },
                KindRules {
                    kind: JobKind::LowVoltageSmallMicro,
                    documents: vec![subject_proof(), property_proof()],
                    steps: vec![application.clone(), install.clone()],
                    extra_steps_without_investment: vec![],
                    inspections_always: false,
                },
                KindRules {
                    kind: JobKind::LowVoltageOther,
                    documents: vec![
                        group(
                            "subject_proof",
                            "营业执照或组织机构代码证",
                            "business licence or organisation code",
                            Condition::Always,
                            vec![
                                opt("business_licence", "营业执照", "business licence"),
                                opt(
                                    "org_code",
                                    "组织机构代码证",
                                    "organisation code certificate",
                                ),
                            ],
                        ),
                        single(
                            "legal_rep_id",
                            "法定代表人身份证",
                            "legal representative's ID",
                            Condition::Always,
                        ),
                        group(
                            "property_proof",
                            "房产证或租赁合同",
                            "property deed or lease",
                            Condition::Always,
                            vec![
                                opt("property_cert", "房产证", "property deed"),
                                opt("lease", "房屋租赁合同", "lease"),
                            ],
                        ),
                    ],
                    steps: vec![application.clone(), install.clone()],
                    extra_steps_without_investment: vec![],
                    inspections_always: false,
                },
                KindRules {
                    kind: JobKind::HighVoltage,
                    documents: vec![
                        subject_proof(),
                        property_proof(),
                        single(
                            "government_approval",
                            "政府部门批复、核准或备案文件（重要客户）",
                            "government approval or filing (important customers)",
                            Condition::ImportantCustomer,
                        ),
                        report(
                            "用电申请报告",
                            "application report (name, project, address, nature, capacity, industry, wanted date, contact)",
                        ),
                        single(
                            "equipment_list",
                            "用电设备清单",
                            "equipment list",
                            Condition::Always,
                        ),
                        single("site_plan", "规划平面图", "site plan", Condition::Always),
                        single(
                            "project_approval",
                            "政府立项批复文件及规划选址意见书",
                            "project approval and site-selection opinion",
                            Condition::Always,
                        ),
                        single(
                            "special_industry_permit",
                            "特种行业许可证照（如采矿）",
                            "special-industry permit (e.g. mining)",
                            Condition::SpecialIndustry,
                        ),
                    ],
                    steps: vec![application.clone(), plan.clone(), install.clone()],
                    extra_steps_without_investment: vec![external.clone()],
                    inspections_always: false,
                },
                KindRules {
                    kind: JobKind::ResidentialCommunity,
                    documents: vec![report(
                        "用电申请报告（含小区建成后的供电管理方式）",
                        "application report incl. how supply is managed after completion",
                    )],
                    steps: vec![application, plan, install],
                    extra_steps_without_investment: vec![external],
                    inspections_always: true,
                },
            ],
            agent_documents: vec![
                DocGroup {
                    key: "agent_authorisation".into(),
                    label: label(
                        "授权委托书或单位介绍信（原件）",
                        "authorisation letter (original)",
                    ),
                    when: Condition::Agent,
                    options: vec![DocOption {
                        key: "authorisation_letter".into(),
                        label: label("授权委托书或单位介绍信", "authorisation letter"),
                        original: true,
                    }],
                    rural_options: vec![],
                },
                single(
                    "agent_id",
                    "经办人有效身份证明",
                    "agent's ID",
                    Condition::Agent,
                ),
            ],
            limits: Limits {
                handover: 0,
                small_micro_whole_job: 15,
                plan_reply_single: 10,
                plan_reply_dual: 18,
                access_approval: 2,
                design_review: 3,
                mid_inspection: 2,
                completion_inspection: 3,
                power_on: 3,
                supporting_works_10kv: 10,
                supporting_works_small_micro: 5,
                key_project_percent: None,
            },
            thresholds: Thresholds {
                approval_exempt_max_m: 150.0,
                onsite_reply_max_kva: 1250.0,
                replacement_share_min_pct: 50.0,
                direct_install_max_kva: 160.0,
                due_soon_working_days: 1,
                warn_percent: default_warn_percent(),
                return_visit_after_days: default_return_visit_after_days(),
                low_satisfaction_max: default_low_satisfaction_max(),
                manager_qualification: Default::default(),
            },
        }
    }
}

/// Errors loading rule sets.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("规则数据格式错误 / rule set is malformed: {0}")]
    Malformed(#[from] serde_json::Error),
    #[error("规则集 {id} 缺少作业类型 {kind} / rule set {id} has no rules for job kind {kind}")]
    MissingKind { id: String, kind: JobKind },
}

/// Something versioned that takes effect on a date, for every unit or for one.
pub(crate) trait Dated {
    fn unit(&self) -> Option<&str>;
    fn effective_from(&self) -> NaiveDate;
    fn version(&self) -> u32;
}

/// The item in force for `unit` on `date`: the unit's own if one is effective, else the
/// default; among those the latest effective date, then the highest version; before any is
/// effective, the earliest.
pub(crate) fn in_force_of<'a, T: Dated>(
    items: &'a [T],
    unit: &str,
    date: NaiveDate,
) -> Option<&'a T> {
    let pick = |unit_match: bool| {
        items
            .iter()
            .filter(|s| s.effective_from() <= date)
            .filter(|s| match s.unit() {
                Some(u) => unit_match && u == unit,
                None => !unit_match,
            })
            .max_by_key(|s| (s.effective_from(), s.version()))
    };
    pick(true)
        .or_else(|| pick(false))
        .or_else(|| items.iter().min_by_key(|s| s.effective_from()))
}

impl Dated for RuleSet {
    fn unit(&self) -> Option<&str> {
        self.unit.as_deref()
    }
    fn effective_from(&self) -> NaiveDate {
        self.effective_from
    }
    fn version(&self) -> u32 {
        self.version
    }
}

/// All rule sets known to a device or server; picks the one in force.
#[derive(Debug, Clone)]
pub struct RuleBook {
    sets: Vec<RuleSet>,
}

impl RuleSet {
    /// The national default, version 2 (from 2026-11-30): seed 001's checklist as written — the
    /// 10 kV checklist also asks for the legal representative's ID and accepts a lease as
    /// property proof (§4.1.2); rural low-voltage residential customers may prove property with
    /// the village committee's letter, in original. Jobs keep the version they were accepted
    /// under.
    pub fn national_v2() -> RuleSet {
        let mut s = RuleSet {
            version: 2,
            effective_from: NaiveDate::from_ymd_opt(2026, 11, 30).expect("valid date"),
            ..RuleSet::default()
        };
        for k in &mut s.kinds {
            match k.kind {
                JobKind::HighVoltage => {
                    for g in &mut k.documents {
                        if g.key == "property_proof" {
                            *g = property_proof_or_lease();
                        }
                    }
                    let at = k
                        .documents
                        .iter()
                        .position(|g| g.key == "property_proof")
                        .unwrap_or(0);
                    k.documents.insert(
                        at,
                        group(
                            "legal_rep_id",
                            "法定代表人（负责人）身份证",
                            "legal representative's ID",
                            Condition::Always,
                            vec![opt(
                                "legal_rep_id",
                                "法定代表人（负责人）身份证",
                                "legal representative's ID",
                            )],
                        ),
                    );
                }
                JobKind::LowVoltageResidential => {
                    for g in &mut k.documents {
                        if g.key == "property_proof" {
                            g.rural_options = vec![village_letter()];
                        }
                    }
                }
                _ => {}
            }
        }
        s
    }
}

impl Default for RuleBook {
    fn default() -> Self {
        RuleBook {
            sets: vec![RuleSet::default(), RuleSet::national_v2()],
        }
    }
}

impl RuleBook {
    /// Adds a rule set (e.g. a unit's override, delivered as JSON). Every job kind must be covered.
    pub fn add_json(&mut self, json: &str) -> Result<&RuleSet, RulesError> {
        let set: RuleSet = serde_json::from_str(json)?;
        self.add(set)
    }

    pub fn add(&mut self, set: RuleSet) -> Result<&RuleSet, RulesError> {
        for kind in JobKind::ALL {
            if set.kind(*kind).is_none() {
                return Err(RulesError::MissingKind {
                    id: set.id.clone(),
                    kind: *kind,
                });
            }
        }
        self.sets
            .retain(|s| !(s.id == set.id && s.version == set.version));
        self.sets.push(set);
        Ok(self.sets.last().expect("just pushed"))
    }

    /// The set in force for `unit` on `date`: the unit's own set if one is effective, else the
    /// default; among those, the latest effective date, then the highest version.
    pub fn in_force(&self, unit: &str, date: NaiveDate) -> &RuleSet {
        in_force_of(&self.sets, unit, date).expect("a rule book always holds the default set")
    }

    /// A specific set by id and version (the one recorded in a job when it was accepted).
    pub fn get(&self, id: &str, version: u32) -> Option<&RuleSet> {
        self.sets
            .iter()
            .find(|s| s.id == id && s.version == version)
    }

    /// The set recorded in the job, or the one in force on its acceptance date.
    pub fn for_job(&self, job: &Job) -> &RuleSet {
        let recorded = job.rules.id.as_deref().and_then(|id| {
            job.rules
                .version
                .and_then(|v| u32::try_from(v).ok())
                .and_then(|v| self.get(id, v))
        });
        recorded.unwrap_or_else(|| self.in_force(&job.unit, job.accepted_on()))
    }
}
