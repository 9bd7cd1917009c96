//! The schema of the job document as data: which keys exist, what each one holds, and which
//! section (the unit of write rights, see [`crate::policy`]) it belongs to.
//!
//! The typed sections (`sections.rs`) describe themselves through the `section!` macro, so this
//! schema cannot drift from the structs the app reads and writes. The server checks every key a
//! pushed change writes against it (a key it does not know is refused for everyone but admins),
//! and the phone runs the same check before it stores an edit.

use super::Inspection;
use super::sections::*;
use crate::codes::{InspectionKind, JobKind, SpecialLoad};
use crate::validate::{Invalid, check_id, check_patch};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value as Json};
use std::collections::BTreeMap;

/// What a key of the document holds.
#[derive(Clone, Copy)]
pub enum FieldKind {
    /// Text field (names, numbers, free text): an automerge `str`.
    Str,
    /// Integer.
    Int,
    /// Quantity: `f64` (an integer is accepted).
    Float,
    Bool,
    /// Instant (`*_at`): an automerge timestamp.
    Instant,
    /// Calendar date (`*_on`): a `YYYY-MM-DD` string.
    Date,
    /// A coded value: one of these codes.
    Code(&'static [&'static str]),
    /// A map with fixed keys.
    Map(fn(&str) -> Option<FieldKind>),
    /// A collection: a map keyed by client-chosen ids whose entries are maps.
    Entries(fn(&str) -> Option<FieldKind>),
    /// A map of flags: keyed by a code or an id, each `true` or `false`.
    Flags(Option<&'static [&'static str]>),
    /// Automerge text (the notes).
    Text,
}

impl std::fmt::Debug for FieldKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FieldKind::Str => "str",
            FieldKind::Int => "int",
            FieldKind::Float => "float",
            FieldKind::Bool => "bool",
            FieldKind::Instant => "instant",
            FieldKind::Date => "date",
            FieldKind::Code(_) => "code",
            FieldKind::Map(_) => "map",
            FieldKind::Entries(_) => "entries",
            FieldKind::Flags(_) => "flags",
            FieldKind::Text => "text",
        })
    }
}

impl FieldKind {
    /// Whether the key holds an object (map or text) rather than a scalar.
    pub fn is_object(self) -> bool {
        matches!(
            self,
            FieldKind::Map(_) | FieldKind::Entries(_) | FieldKind::Flags(_) | FieldKind::Text
        )
    }
}

/// A struct that knows the keys of its map.
pub trait Schema {
    fn field(key: &str) -> Option<FieldKind>;
}

/// The kind of value a Rust type is stored as.
pub trait ValueKind {
    const KIND: FieldKind;
}

impl ValueKind for String {
    const KIND: FieldKind = FieldKind::Str;
}
impl ValueKind for i64 {
    const KIND: FieldKind = FieldKind::Int;
}
impl ValueKind for f64 {
    const KIND: FieldKind = FieldKind::Float;
}
impl ValueKind for bool {
    const KIND: FieldKind = FieldKind::Bool;
}
impl ValueKind for DateTime<Utc> {
    const KIND: FieldKind = FieldKind::Instant;
}
impl ValueKind for NaiveDate {
    const KIND: FieldKind = FieldKind::Date;
}
impl<T: Schema> ValueKind for BTreeMap<String, T> {
    const KIND: FieldKind = FieldKind::Entries(T::field);
}
impl ValueKind for BTreeMap<String, bool> {
    const KIND: FieldKind = FieldKind::Flags(None);
}

macro_rules! coded_kind {
    ($($t:ty),*) => {
        $(impl ValueKind for $t {
            const KIND: FieldKind = FieldKind::Code(<$t>::CODES);
        })*
    };
}
coded_kind!(
    crate::codes::Voltage,
    crate::codes::Tariff,
    crate::codes::Importance,
    crate::codes::Source,
    crate::codes::DevZone,
    crate::codes::GridHealth,
    crate::codes::ReviewState,
    crate::codes::MilestoneEvent,
    crate::codes::PhotoPurpose,
    crate::codes::OutageState
);

fn rules_field(key: &str) -> Option<FieldKind> {
    RulesRef::field(key)
}

fn inspections_field(key: &str) -> Option<FieldKind> {
    InspectionKind::parse(key).map(|_| Inspection::KIND)
}

fn special_loads() -> FieldKind {
    FieldKind::Flags(Some(SpecialLoad::CODES))
}

fn application_field(key: &str) -> Option<FieldKind> {
    match key {
        "special_loads" => Some(special_loads()),
        _ => Application::field(key),
    }
}

/// The keys of the document root.
pub fn root_field(key: &str) -> Option<FieldKind> {
    Some(match key {
        "schema_version" => FieldKind::Int,
        "id" | "job_no" | "unit" | "progress_token" => FieldKind::Str,
        "kind" => FieldKind::Code(JobKind::CODES),
        "created_at" => FieldKind::Instant,
        "rules" => FieldKind::Map(rules_field),
        "customer" => Customer::KIND,
        "agent" => Agent::KIND,
        "application" => FieldKind::Map(application_field),
        "checklist" => FieldKind::Entries(ChecklistItem::field),
        "assignment" => Assignment::KIND,
        "survey" => Survey::KIND,
        "supply_plan" => SupplyPlan::KIND,
        "project" => Project::KIND,
        "inspections" => FieldKind::Map(inspections_field),
        "metering" => Metering::KIND,
        "return_visit" => ReturnVisit::KIND,
        "customer_voice" => CustomerVoice::KIND,
        "review" => Review::KIND,
        "milestones" => FieldKind::Entries(Milestone::field),
        "pauses" => FieldKind::Entries(Pause::field),
        "photos" => FieldKind::Entries(Photo::field),
        "contracts" => FieldKind::Entries(Contract::field),
        "supervision" => FieldKind::Entries(SupervisionOrder::field),
        "meetings" => FieldKind::Entries(Meeting::field),
        "actions" => FieldKind::Entries(ActionItem::field),
        "power_on_plan" => PowerOnPlan::KIND,
        "outage_plan" => OutagePlan::KIND,
        "customer_works" => CustomerWorks::KIND,
        "typical_design" => TypicalDesign::KIND,
        "temporary_supply" => TemporarySupply::KIND,
        "visit_plan" => VisitPlan::KIND,
        "key_visits" => FieldKind::Entries(KeyVisit::field),
        "notes" => FieldKind::Text,
        _ => return None,
    })
}

crate::codes::coded_enum! {
    /// Parts of the job document that write rights are given for.
    Section {
        Identity = "identity", "工单标识（编号、类别、单位、规则）", "job identity (number, kind, unit, rules)";
        Customer = "customer", "客户信息", "customer";
        Agent = "agent", "委托代理人", "agent";
        Application = "application", "用电申请", "application";
        Checklist = "checklist", "收资清单", "document checklist";
        Assignment = "assignment", "双经理派工", "assignment";
        Survey = "survey", "现场勘查", "site survey";
        SupplyPlan = "supply_plan", "供电方案", "supply plan";
        Inspections = "inspections", "受电工程检查", "inspections";
        Project = "project", "配套工程", "supporting project";
        Metering = "metering", "计量装置与封印", "metering and seals";
        Contracts = "contracts", "供用电合同", "supply contracts";
        ContractReceipts = "contract_receipts", "合同服务器回执", "contract receipts";
        Photos = "photos", "照片", "photos";
        Milestones = "milestones", "里程碑", "milestones";
        Pauses = "pauses", "等待客户（暂停计时）", "waiting on the customer";
        ReturnVisit = "return_visit", "回访", "return visit";
        CustomerVoice = "customer_voice", "客户意见（方案确认、评价）", "the customer's word (plan confirmation, rating)";
        Review = "review", "审核", "office review";
        Supervision = "supervision", "督办", "supervision orders";
        SupervisionAnswers = "supervision_answers", "督办答复", "supervision answers";
        SupervisionEscalations = "supervision_escalations", "督办升级", "supervision escalations";
        Meetings = "meetings", "项目协调推进会", "coordination meetings";
        Actions = "actions", "会议待办事项", "meeting action items";
        ActionProgress = "action_progress", "待办事项办结", "action items done";
        PowerOnPlan = "power_on_plan", "接电计划", "connection plan";
        OutagePlan = "outage_plan", "停电计划", "outage plan";
        CustomerWorks = "customer_works", "客户工程设计施工单位", "the customer's design and construction firms";
        TypicalDesign = "typical_design", "典型设计与造价", "typical design and cost";
        TemporarySupply = "temporary_supply", "临时用电与变压器租赁", "temporary supply and transformer rental";
        VisitPlan = "visit_plan", "重要客户走访计划", "important-customer visit plan";
        KeyVisits = "key_visits", "重要客户走访记录", "important-customer visits";
        Notes = "notes", "备注", "notes";
    }
}

/// The section a document path belongs to, or `None` for a root key the schema does not know.
pub fn section_of<S: AsRef<str>>(path: &[S]) -> Option<Section> {
    let key = |i: usize| path.get(i).map(AsRef::as_ref);
    Some(match key(0)? {
        "schema_version" | "id" | "job_no" | "kind" | "unit" | "created_at" | "rules"
        | "progress_token" => Section::Identity,
        "customer" => Section::Customer,
        "agent" => Section::Agent,
        "application" => Section::Application,
        // A photo linked to a document group is part of the photo, not of the checklist.
        "checklist" if key(2) == Some("photos") && path.len() >= 4 => Section::Photos,
        "checklist" => Section::Checklist,
        "assignment" => Section::Assignment,
        "survey" => Section::Survey,
        "supply_plan" => Section::SupplyPlan,
        "inspections" => Section::Inspections,
        "project" => Section::Project,
        "metering" => Section::Metering,
        "contracts" if key(2) == Some("receipt") => Section::ContractReceipts,
        "contracts" => Section::Contracts,
        "photos" => Section::Photos,
        "milestones" => Section::Milestones,
        "pauses" => Section::Pauses,
        "return_visit" => Section::ReturnVisit,
        "customer_voice" => Section::CustomerVoice,
        "review" => Section::Review,
        "supervision" if key(2) == Some("answer") => Section::SupervisionAnswers,
        "supervision" if key(2) == Some("escalation") => Section::SupervisionEscalations,
        "supervision" => Section::Supervision,
        "meetings" => Section::Meetings,
        "actions" if key(2) == Some("done") => Section::ActionProgress,
        "actions" => Section::Actions,
        "power_on_plan" => Section::PowerOnPlan,
        "outage_plan" => Section::OutagePlan,
        "customer_works" => Section::CustomerWorks,
        "typical_design" => Section::TypicalDesign,
        "temporary_supply" => Section::TemporarySupply,
        "visit_plan" => Section::VisitPlan,
        "key_visits" => Section::KeyVisits,
        "notes" => Section::Notes,
        _ => return None,
    })
}

/// For write-once collections: how many keys of the path name the entry (e.g. `photos.<id>`,
/// `checklist.<group>.photos.<id>`, `milestones.<id>`, `contracts.<id>`).
pub fn entry_len<S: AsRef<str>>(section: Section, path: &[S]) -> Option<usize> {
    match section {
        Section::Photos if path.first().map(AsRef::as_ref) == Some("checklist") => Some(4),
        Section::Photos | Section::Milestones | Section::Contracts | Section::KeyVisits => Some(2),
        _ => None,
    }
}

/// A path resolved against the schema.
#[derive(Debug, Clone, Copy)]
pub struct Resolved {
    pub kind: FieldKind,
    /// The last key is a client-chosen id (an entry of a collection or a flag), not a fixed key.
    pub last_is_id: bool,
}

/// Why a path is not in the schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownPath {
    pub path: String,
}

/// Dotted form of a path (`project.logs.<id>.text`).
pub fn dotted<S: AsRef<str>>(path: &[S]) -> String {
    path.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(".")
}

/// Walks `path` through the schema.
pub fn resolve<S: AsRef<str>>(path: &[S]) -> Result<Resolved, UnknownPath> {
    let unknown = || UnknownPath { path: dotted(path) };
    let mut keys = path.iter().map(AsRef::as_ref);
    let first = keys.next().ok_or_else(unknown)?;
    let mut kind = root_field(first).ok_or_else(unknown)?;
    let mut last_is_id = false;
    for key in keys {
        (kind, last_is_id) = match kind {
            FieldKind::Map(f) => (f(key).ok_or_else(unknown)?, false),
            FieldKind::Entries(f) => {
                check_id("id", key).map_err(|_| unknown())?;
                (FieldKind::Map(f), true)
            }
            FieldKind::Flags(codes) => {
                let known = match codes {
                    Some(codes) => codes.contains(&key),
                    None => check_id("id", key).is_ok(),
                };
                if !known {
                    return Err(unknown());
                }
                (FieldKind::Bool, true)
            }
            _ => return Err(unknown()),
        };
    }
    Ok(Resolved { kind, last_is_id })
}

/// Instants and dates that may not lie before the day the application was accepted (the same
/// fields the phone's edits check).
pub fn follows_acceptance<S: AsRef<str>>(path: &[S]) -> bool {
    let p: Vec<&str> = path.iter().map(AsRef::as_ref).collect();
    matches!(
        p.as_slice(),
        ["application", "wanted_on"]
            | ["survey", "surveyed_at"]
            | ["supply_plan", "replied_at" | "valid_until_on"]
            | ["project", "acceptance", "accepted_at"]
            | ["project", "logs", _, "at"]
            | ["inspections", _, "requested_at"]
            | ["metering", "installed_at" | "powered_on_at"]
            | ["pauses", _, "started_at"]
    ) || matches!(p.as_slice(), ["milestones", id, "at"] if *id != "accepted")
}

/// The day (China time) a value of an instant or date field names: an instant is a timestamp or
/// RFC 3339 text (keys named plain `at`, as the mapping stores them), a date `YYYY-MM-DD` text.
/// `None` for anything else, and for other kinds.
pub fn kind_day(kind: FieldKind, v: &automerge::ScalarValue) -> Option<NaiveDate> {
    use automerge::ScalarValue as V;
    match (kind, v) {
        (FieldKind::Instant, V::Timestamp(ms)) => {
            DateTime::<Utc>::from_timestamp_millis(*ms).map(crate::job::local_date)
        }
        (FieldKind::Instant, V::Str(s)) => DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| crate::job::local_date(t.with_timezone(&Utc))),
        (FieldKind::Date, V::Str(s)) => NaiveDate::parse_from_str(s, "%Y-%m-%d").ok(),
        _ => None,
    }
}

/// A scalar as the mapping layer reads it (JSON), for checks and summaries.
pub fn scalar_json(s: &automerge::ScalarValue) -> Json {
    use automerge::ScalarValue as S;
    match s {
        S::Str(x) => Json::String(x.to_string()),
        S::Int(i) => Json::from(*i),
        S::Uint(u) => Json::from(*u),
        S::F64(f) => serde_json::Number::from_f64(*f)
            .map(Json::Number)
            .unwrap_or(Json::Null),
        S::Timestamp(ms) => DateTime::<Utc>::from_timestamp_millis(*ms)
            .map(|t| Json::String(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)))
            .unwrap_or(Json::Null),
        S::Boolean(b) => Json::Bool(*b),
        S::Counter(c) => Json::from(i64::from(c)),
        _ => Json::Null,
    }
}

fn wrong_type(field: &str, kind: FieldKind) -> Invalid {
    Invalid::new(
        field,
        format!("字段 {field} 的值类型错误（应为 {kind:?}）"),
        format!("{field} holds the wrong type of value (expected {kind:?})"),
    )
}

/// Checks one scalar written at `path` (whose schema kind is `kind`) with the same limits the
/// phone's edits apply: type, text length and characters, number ranges, codes, dates.
/// Contract records are checked as a whole elsewhere (their texts exceed the field limits).
pub fn check_value<S: AsRef<str>>(
    path: &[S],
    kind: FieldKind,
    value: &automerge::ScalarValue,
) -> Result<(), Invalid> {
    use automerge::ScalarValue as V;
    let field = dotted(path);
    let key = path.last().map(AsRef::as_ref).unwrap_or_default();
    let parent = dotted(&path[..path.len().saturating_sub(1)]);
    let section = section_of(path);
    let patch_check = |v: Json| {
        if matches!(
            section,
            Some(Section::Contracts | Section::ContractReceipts)
        ) {
            return Ok(());
        }
        let mut m = Map::new();
        m.insert(key.to_string(), v);
        check_patch(&parent, &m)
    };
    match (kind, value) {
        (FieldKind::Str, V::Str(s)) => {
            if key == "id" && path.len() == 1 {
                check_id("job.id", s)?;
            }
            if key == "unit" && path.len() == 1 && s.trim().is_empty() {
                return Err(Invalid::new(
                    "job.unit",
                    "必须填写供电单位",
                    "the unit is required",
                ));
            }
            patch_check(Json::String(s.to_string()))
        }
        (FieldKind::Int, V::Int(_) | V::Uint(_)) => patch_check(scalar_json(value)),
        (FieldKind::Float, V::F64(_) | V::Int(_) | V::Uint(_)) => patch_check(scalar_json(value)),
        (FieldKind::Bool, V::Boolean(_)) => Ok(()),
        // Instants and dates must name a day of the widest window (a write policy may narrow it).
        (FieldKind::Instant | FieldKind::Date, v) if let Some(day) = kind_day(kind, v) => {
            crate::validate::DateWindow::default().check(&field, day)
        }
        (FieldKind::Date, V::Str(_)) => Err(Invalid::new(
            &field,
            format!("字段 {field} 不是有效日期（YYYY-MM-DD）"),
            format!("{field} is not a date (YYYY-MM-DD)"),
        )),
        (FieldKind::Code(codes), V::Str(s)) if codes.contains(&s.as_str()) => Ok(()),
        (FieldKind::Code(codes), V::Str(s)) => Err(Invalid::new(
            &field,
            format!("字段 {field} 的代码 “{s}” 无效"),
            format!(
                "{field}: “{s}” is not one of the codes ({})",
                codes.join(", ")
            ),
        )),
        (kind, _) => Err(wrong_type(&field, kind)),
    }
}

/// Checks the merged notes against the phone's limit.
pub fn check_notes(notes: &str) -> Result<(), Invalid> {
    crate::validate::check_notes_len(notes.chars().count())
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::ScalarValue as V;

    fn p(s: &str) -> Vec<&str> {
        s.split('.').collect()
    }

    #[test]
    fn paths_resolve_through_sections_entries_and_flags() {
        assert!(matches!(
            resolve(&p("customer.name")).unwrap().kind,
            FieldKind::Str
        ));
        assert!(matches!(
            resolve(&p("project.logs.abc-1.progress_pct")).unwrap().kind,
            FieldKind::Float
        ));
        let r = resolve(&p("project.logs.abc-1")).unwrap();
        assert!(r.last_is_id && matches!(r.kind, FieldKind::Map(_)));
        assert!(matches!(
            resolve(&p("inspections.completion.findings.f1.text"))
                .unwrap()
                .kind,
            FieldKind::Str
        ));
        assert!(matches!(
            resolve(&p("application.special_loads.harmonic"))
                .unwrap()
                .kind,
            FieldKind::Bool
        ));
        assert!(resolve(&p("application.special_loads.magic")).is_err());
        assert!(matches!(
            resolve(&p("checklist.subject_proof.photos.ph-1"))
                .unwrap()
                .kind,
            FieldKind::Bool
        ));
        assert!(matches!(
            resolve(&p("contracts.c1.receipt.signature")).unwrap().kind,
            FieldKind::Str
        ));
        assert!(resolve(&p("customer.favourite_colour")).is_err());
        assert!(resolve(&p("inspections.final")).is_err());
        assert!(resolve(&p("secret")).is_err());
        assert!(resolve(&p("customer.name.deeper")).is_err());
        assert!(resolve(&p("photos.bad id!")).is_err());
    }

    #[test]
    fn sections_and_write_once_entries() {
        assert_eq!(section_of(&p("kind")), Some(Section::Identity));
        assert_eq!(section_of(&p("rules.version")), Some(Section::Identity));
        assert_eq!(
            section_of(&p("checklist.g1.photos.ph1")),
            Some(Section::Photos)
        );
        assert_eq!(
            section_of(&p("checklist.g1.photos")),
            Some(Section::Checklist)
        );
        assert_eq!(
            section_of(&p("checklist.g1.note")),
            Some(Section::Checklist)
        );
        assert_eq!(
            section_of(&p("contracts.c1.receipt.signature")),
            Some(Section::ContractReceipts)
        );
        assert_eq!(
            section_of(&p("contracts.c1.text")),
            Some(Section::Contracts)
        );
        assert_eq!(section_of(&p("nope")), None);
        assert_eq!(
            entry_len(Section::Photos, &p("checklist.g1.photos.ph1")),
            Some(4)
        );
        assert_eq!(
            entry_len(Section::Milestones, &p("milestones.m1.at")),
            Some(2)
        );
        assert_eq!(entry_len(Section::Survey, &p("survey.surveyor")), None);
    }

    #[test]
    fn values_are_checked_like_the_phone_checks_them() {
        let k = |s: &str| resolve(&p(s)).unwrap().kind;
        assert!(
            check_value(
                &p("customer.name"),
                k("customer.name"),
                &V::Str("张三".into())
            )
            .is_ok()
        );
        let long = "x".repeat(201);
        assert!(
            check_value(
                &p("customer.name"),
                k("customer.name"),
                &V::Str(long.into())
            )
            .is_err()
        );
        assert!(
            check_value(
                &p("customer.contact_phone"),
                k("customer.contact_phone"),
                &V::Str("call me".into())
            )
            .is_err()
        );
        assert!(check_value(&p("customer.name"), k("customer.name"), &V::Int(3)).is_err());
        assert!(
            check_value(
                &p("return_visit.satisfaction"),
                k("return_visit.satisfaction"),
                &V::Int(9)
            )
            .is_err()
        );
        assert!(
            check_value(
                &p("application.voltage"),
                k("application.voltage"),
                &V::Str("10kv".into())
            )
            .is_ok()
        );
        assert!(
            check_value(
                &p("application.voltage"),
                k("application.voltage"),
                &V::Str("9000kv".into())
            )
            .is_err()
        );
        assert!(
            check_value(
                &p("application.wanted_on"),
                k("application.wanted_on"),
                &V::Str("2026-02-30".into())
            )
            .is_err()
        );
        assert!(
            check_value(
                &p("survey.surveyed_at"),
                k("survey.surveyed_at"),
                &V::Str("now".into())
            )
            .is_err()
        );
        // 2026-11-02 and 1970-01-01: instants outside 2000–2100 are refused.
        assert!(
            check_value(
                &p("survey.surveyed_at"),
                k("survey.surveyed_at"),
                &V::Timestamp(1_794_000_000_000)
            )
            .is_ok()
        );
        assert!(
            check_value(
                &p("survey.surveyed_at"),
                k("survey.surveyed_at"),
                &V::Timestamp(0)
            )
            .is_err()
        );
        assert!(
            check_value(
                &p("application.wanted_on"),
                k("application.wanted_on"),
                &V::Str("2101-01-01".into())
            )
            .is_err()
        );
        assert!(follows_acceptance(&p("milestones.m1.at")));
        assert!(!follows_acceptance(&p("milestones.accepted.at")));
        assert!(!follows_acceptance(&p("photos.p1.taken_at")));
    }
}
