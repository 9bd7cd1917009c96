//! Write rights, enforced by the server on its own: every role × every section × add / change /
//! delete, pushed by a raw client that writes automerge directly (no phone-side checks), against
//! the real server; then the same matrix on the phone side through the store's own edits.
//!
//! Every case starts from its own copy of a fully filled job, so cases do not affect each
//! other. The expected answer comes from the write policy itself (`field_core::policy`), the
//! outcome from the server's response and its stored copy; a leak is a forbidden write the
//! server kept, a false refusal an allowed write it refused. Both must be zero.

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ObjId, ObjType, ROOT, ReadDoc, ScalarValue};
use chrono::{DateTime, Utc};
use field_core::codes::{InspectionKind, MilestoneEvent, PhotoPurpose};
use field_core::contract::{self, KeyPair, SignRequest, Signer};
use field_core::job::schema::Section;
use field_core::job::*;
use field_core::policy::{Right, WritePolicy};
use field_core::store::wire_heads;
use field_core::sync::protocol::{self, PushJob, SyncRequest, SyncResponse};
use field_core::{Edit, EditContext, JobKind, Role};
use fieldline_tests::*;
use std::collections::BTreeMap;

const UNIT: &str = "zhuxian";

const USERS: &[(&str, Role)] = &[
    ("cm-li", Role::CustomerManager),
    ("pm-wang", Role::ProjectManager),
    ("office1", Role::OfficeStaff),
    ("disp1", Role::Dispatcher),
    ("admin1", Role::Admin),
];

/// The milestone each role records in its own stage.
fn own_event(role: Role) -> MilestoneEvent {
    match role {
        Role::CustomerManager => MilestoneEvent::SurveyDone,
        Role::ProjectManager => MilestoneEvent::WorksStarted,
        Role::OfficeStaff => MilestoneEvent::HandedOver,
        Role::Dispatcher => MilestoneEvent::ReturnVisitDone,
        Role::Admin => MilestoneEvent::Archived,
    }
}

/// A stage that is not the role's own.
fn foreign_event(role: Role) -> Option<MilestoneEvent> {
    match role {
        Role::CustomerManager => Some(MilestoneEvent::WorksStarted),
        Role::ProjectManager => Some(MilestoneEvent::SurveyDone),
        Role::OfficeStaff => Some(MilestoneEvent::PoweredOn),
        Role::Dispatcher => Some(MilestoneEvent::HandedOver),
        Role::Admin => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Op {
    Add,
    Change,
    Delete,
}

fn at(s: &str) -> DateTime<Utc> {
    fieldline_tests::at(s)
}

fn seed_ctx(device: &str) -> EditContext {
    EditContext {
        actor: "seed".into(),
        device: device.into(),
        now: at("2026-11-03"),
    }
}

/// A supervision order to `manager`, due a week after the base job's day.
fn order_to(manager: &str) -> SupervisionOrder {
    SupervisionOrder {
        manager: Some(manager.into()),
        reason: Some("督办".into()),
        due_on: Some("2026-11-10".parse().unwrap()),
        ..Default::default()
    }
}

/// An action item of meeting `m1` for `owner`.
fn action_to(owner: &str) -> ActionItem {
    ActionItem {
        meeting: Some("m1".into()),
        text: Some("落实".into()),
        owner: Some(owner.into()),
        due_on: Some("2026-11-10".parse().unwrap()),
        ..Default::default()
    }
}

/// The action item `role` records done in the probes: the project manager's own, else the
/// customer manager's (which only they and admins may record).
fn action_of(role: Role) -> &'static str {
    if role == Role::ProjectManager {
        "a2"
    } else {
        "a1"
    }
}

/// The order `role` answers in the probes: the project manager's own, else the customer
/// manager's (which only they and admins may answer).
fn order_of(role: Role) -> &'static str {
    if role == Role::ProjectManager {
        "s2"
    } else {
        "s1"
    }
}

fn pad(seed: f64) -> contract::SignaturePad {
    contract::sample::signature(80, seed)
}

fn fake_sha(n: u64) -> String {
    format!("{:064x}", n)
}

/// A job with every section filled, two signed contracts (c1 countersigned by the server, c2 by
/// an unregistered device so it has no receipt), a photo, a milestone, a closed pause and
/// notes, assigned to cm-li and pm-wang.
fn base_job(n: usize, keys: &(KeyPair, KeyPair)) -> JobDoc {
    let mut new = contract::sample::residential_job(
        &format!("YK-RIGHTS-{n:04}"),
        &format!("权限客户{n}"),
        at("2026-11-02"),
    );
    new.unit = UNIT.into();
    let ctx = seed_ctx("seed-device");
    let mut doc = JobDoc::create(
        ActorId::from(format!("seed-{n}").as_bytes()),
        &new,
        &field_core::RuleSet::default(),
        &ctx,
    )
    .unwrap();
    let group = doc.job().unwrap().checklist.keys().next().unwrap().clone();
    let edits = vec![
        Edit::UpdateAgent(Agent {
            filed_by_agent: Some(false),
            ..Default::default()
        }),
        Edit::CheckDocument {
            group,
            item: ChecklistItem {
                collected: Some(true),
                ..Default::default()
            },
        },
        Edit::UpdateAssignment(Assignment {
            customer_manager: Some("cm-li".into()),
            customer_manager_name: Some("李".into()),
            project_manager: Some("pm-wang".into()),
            ..Default::default()
        }),
        Edit::UpdateSurvey(Survey {
            surveyor: Some("李".into()),
            ..Default::default()
        }),
        Edit::UpdateSupplyPlan(SupplyPlan {
            access_point: Some("1号杆".into()),
            ..Default::default()
        }),
        Edit::UpdateInspection {
            kind: InspectionKind::Completion,
            inspection: Inspection {
                inspector: Some("李".into()),
                ..Default::default()
            },
        },
        Edit::UpdateProject(Project {
            project_no: Some("PJ-1".into()),
            ..Default::default()
        }),
        Edit::PutConstructionLog {
            id: "log-1".into(),
            log: ConstructionLog {
                text: Some("开工".into()),
                ..Default::default()
            },
        },
        Edit::UpdateMetering(Metering {
            meter_asset_no: Some("3200001".into()),
            ..Default::default()
        }),
        Edit::AddPhoto {
            id: "p1".into(),
            photo: Photo {
                purpose: Some(PhotoPurpose::Survey),
                original_sha256: Some(fake_sha(1)),
                display_sha256: Some(fake_sha(2)),
                thumbnail_sha256: Some(fake_sha(3)),
                ..Default::default()
            },
        },
        Edit::StartWaiting {
            id: "w1".into(),
            reason: "等客户".into(),
            at: at("2026-11-02"),
        },
        Edit::EndWaiting {
            at: at("2026-11-03"),
        },
        Edit::UpdateReturnVisit(ReturnVisit {
            channel: Some("电话".into()),
            ..Default::default()
        }),
        Edit::UpdateCustomerVoice(CustomerVoice {
            plan_question: Some("何时送电？".into()),
            ..Default::default()
        }),
        Edit::UpdateReview(Review {
            state: Some(field_core::ReviewState::Pending),
            ..Default::default()
        }),
        Edit::SetNotes {
            text: "基础备注".into(),
        },
        Edit::IssueSupervision {
            id: "s1".into(),
            order: order_to("cm-li"),
        },
        Edit::IssueSupervision {
            id: "s2".into(),
            order: order_to("pm-wang"),
        },
        Edit::AnswerSupervision {
            id: "s1".into(),
            text: "初步答复".into(),
            at: at("2026-11-03"),
        },
        Edit::AnswerSupervision {
            id: "s2".into(),
            text: "初步答复".into(),
            at: at("2026-11-03"),
        },
        Edit::RecordEscalation {
            id: "s1".into(),
            escalation: SupervisionEscalation {
                escalated_at: Some(at("2026-11-03")),
                leaders: Some("lead1".into()),
                leader_names: Some("周".into()),
            },
        },
        Edit::PutMeeting {
            id: "m1".into(),
            meeting: Meeting {
                held_on: Some("2026-11-03".parse().unwrap()),
                place: Some("会议室".into()),
                topics: Some("进度".into()),
                ..Default::default()
            },
        },
        Edit::PutAction {
            id: "a1".into(),
            action: action_to("cm-li"),
        },
        Edit::PutAction {
            id: "a2".into(),
            action: action_to("pm-wang"),
        },
        Edit::CompleteAction {
            id: "a1".into(),
            at: at("2026-11-03"),
            note: Some("初步".into()),
        },
        Edit::CompleteAction {
            id: "a2".into(),
            at: at("2026-11-03"),
            note: Some("初步".into()),
        },
        Edit::UpdatePowerOnPlan(PowerOnPlan {
            planned_on: Some("2026-11-20".parse().unwrap()),
            ..Default::default()
        }),
        Edit::UpdateOutagePlan(OutagePlan {
            lines: Some("10千伏城东线".into()),
            ..Default::default()
        }),
        Edit::UpdateCustomerWorks(CustomerWorks {
            designer_firm: Some("hd-design".into()),
            ..Default::default()
        }),
        Edit::PickTypicalDesign(TypicalDesign {
            design_id: Some("lv-res-single".into()),
            title: Some("单相表箱".into()),
            ..Default::default()
        }),
        Edit::UpdateTemporarySupply(TemporarySupply {
            transformer_asset_no: Some("ZB-1".into()),
            ..Default::default()
        }),
        Edit::UpdateVisitPlan(VisitPlan {
            every_days: Some(90),
            ..Default::default()
        }),
        Edit::AddKeyVisit {
            id: "v1".into(),
            visit: KeyVisit {
                visited_on: Some("2026-11-03".parse().unwrap()),
                findings: Some("正常".into()),
                ..Default::default()
            },
        },
    ];
    for e in &edits {
        doc.apply(e, &ctx).unwrap();
    }
    for (id, device, key) in [
        ("c1", "seed-device", &keys.0),
        ("c2", "seed-device-2", &keys.1),
    ] {
        let job = doc.job().unwrap();
        let signed = contract::sign(
            &job,
            &SignRequest {
                contract_id: id.into(),
                template: None,
                inputs: [("supplier", "示范供电公司"), ("manager_name", "李")]
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                amends: None,
                customer_name: None,
                customer: pad(0.0),
                manager: pad(1.0),
                photo_ids: vec![],
                gps: None,
            },
            &Signer {
                user: "seed".into(),
                device_id: device.into(),
                device_time: at("2026-11-03"),
            },
            key,
        )
        .unwrap();
        doc.apply(
            &Edit::SignContract {
                id: id.into(),
                contract: signed,
            },
            &seed_ctx(device),
        )
        .unwrap();
    }
    doc
}

/// The object at a dotted path.
fn obj(doc: &AutoCommit, path: &str) -> ObjId {
    let mut o = ROOT;
    for key in path.split('.').filter(|k| !k.is_empty()) {
        o = match doc.get(&o, key).unwrap() {
            Some((automerge::Value::Object(_), id)) => id,
            other => panic!("{path}: {key} is {other:?}"),
        };
    }
    o
}

fn put(doc: &mut AutoCommit, path: &str, key: &str, v: impl Into<ScalarValue>) {
    let o = obj(doc, path);
    doc.put(&o, key, v).unwrap();
}

fn del(doc: &mut AutoCommit, path: &str, key: &str) {
    let o = obj(doc, path);
    doc.delete(&o, key).unwrap();
}

fn entry(doc: &mut AutoCommit, path: &str, id: &str, fields: &[(&str, ScalarValue)]) {
    let parent = obj(doc, path);
    let e = doc.put_object(&parent, id, ObjType::Map).unwrap();
    for (k, v) in fields {
        doc.put(&e, *k, v.clone()).unwrap();
    }
}

fn s(v: &str) -> ScalarValue {
    ScalarValue::Str(v.into())
}

fn ts(t: &str) -> ScalarValue {
    ScalarValue::Timestamp(at(t).timestamp_millis())
}

/// One raw write: what a role tries in a section.
struct Who<'a> {
    user: &'a str,
    device: String,
}

fn photo_fields(author: &str, device: &str, n: u64) -> Vec<(&'static str, ScalarValue)> {
    vec![
        ("purpose", s("survey")),
        ("author", s(author)),
        ("device", s(device)),
        ("original_sha256", s(&fake_sha(n))),
        ("display_sha256", s(&fake_sha(n + 1))),
        ("thumbnail_sha256", s(&fake_sha(n + 2))),
    ]
}

/// Writes the probe of `(section, op)` into `doc` as `who`.
fn probe(doc: &mut AutoCommit, section: Section, op: Op, who: &Who, role: Role) {
    use Op::*;
    use Section as S;
    let group = doc.keys(obj(doc, "checklist")).next().unwrap();
    match (section, op) {
        (S::Identity, Change) => put(doc, "", "job_no", "YK-FORGED"),
        (S::Identity, Delete) => del(doc, "", "job_no"),
        (S::Customer, Add) => put(doc, "customer", "account_no", "0001"),
        (S::Customer, Change) => put(doc, "customer", "name", "改名"),
        (S::Customer, Delete) => del(doc, "customer", "name"),
        (S::Agent, Add) => put(doc, "agent", "name", "代理人"),
        (S::Agent, Change) => put(doc, "agent", "filed_by_agent", true),
        (S::Agent, Delete) => del(doc, "agent", "filed_by_agent"),
        (S::Application, Add) => put(doc, "application", "industry", "制造"),
        (S::Application, Change) => put(doc, "application", "capacity_kva", 99.0),
        (S::Application, Delete) => del(doc, "application", "capacity_kva"),
        (S::Checklist, Add) => put(doc, &format!("checklist.{group}"), "note", "已收"),
        (S::Checklist, Change) => put(doc, &format!("checklist.{group}"), "collected", false),
        (S::Checklist, Delete) => del(doc, &format!("checklist.{group}"), "collected"),
        (S::Assignment, Add) => put(doc, "assignment", "project_manager_name", "王"),
        (S::Assignment, Change) => put(doc, "assignment", "customer_manager_name", "冒名"),
        (S::Assignment, Delete) => del(doc, "assignment", "customer_manager_name"),
        (S::Survey, Add) => put(doc, "survey", "load_nature", "一般负荷"),
        (S::Survey, Change) => put(doc, "survey", "surveyor", "冒名"),
        (S::Survey, Delete) => del(doc, "survey", "surveyor"),
        (S::SupplyPlan, Add) => put(doc, "supply_plan", "metering_point", "表箱"),
        (S::SupplyPlan, Change) => put(doc, "supply_plan", "access_point", "2号杆"),
        (S::SupplyPlan, Delete) => del(doc, "supply_plan", "access_point"),
        (S::Inspections, Add) => entry(
            doc,
            "inspections.completion.findings",
            "f-new",
            &[("text", s("接地不良"))],
        ),
        (S::Inspections, Change) => put(doc, "inspections.completion", "inspector", "冒名"),
        (S::Inspections, Delete) => del(doc, "inspections.completion", "inspector"),
        (S::Project, Add) => entry(doc, "project.logs", "log-new", &[("text", s("伪造日志"))]),
        (S::Project, Change) => put(doc, "project", "project_no", "PJ-X"),
        (S::Project, Delete) => del(doc, "project.logs", "log-1"),
        (S::Metering, Add) => put(doc, "metering", "ct_ratio", "100/5"),
        (S::Metering, Change) => put(doc, "metering", "meter_asset_no", "3200002"),
        (S::Metering, Delete) => del(doc, "metering", "meter_asset_no"),
        (S::Contracts, Add) => entry(
            doc,
            "contracts",
            "c-forged",
            &[("title", s("伪造合同")), ("text", s("……"))],
        ),
        (S::Contracts, Change) => put(doc, "contracts.c1", "title", "改过的合同"),
        (S::Contracts, Delete) => del(doc, "contracts", "c1"),
        (S::ContractReceipts, Add) => entry(
            doc,
            "contracts.c2",
            "receipt",
            &[("signature", s("00")), ("receipt", s("{}"))],
        ),
        (S::ContractReceipts, Change) => put(doc, "contracts.c1.receipt", "signature", "00"),
        (S::ContractReceipts, Delete) => del(doc, "contracts.c1", "receipt"),
        (S::Photos, Add) => entry(
            doc,
            "photos",
            &format!("p-{}", who.user),
            &photo_fields(who.user, &who.device, 10),
        ),
        (S::Photos, Change) => put(doc, "photos.p1", "caption", "改过的说明"),
        (S::Photos, Delete) => del(doc, "photos", "p1"),
        (S::Milestones, Add) => entry(
            doc,
            "milestones",
            &format!("m-{}", who.user),
            &[
                ("event", s(own_event(role).as_str())),
                ("at", s("2026-11-04T01:00:00.000Z")),
                ("actor", s(who.user)),
                ("device", s(&who.device)),
                ("recorded_at", ts("2026-11-04")),
            ],
        ),
        (S::Milestones, Change) => put(doc, "milestones.accepted", "note", "改过"),
        (S::Milestones, Delete) => del(doc, "milestones", "accepted"),
        (S::Pauses, Add) => entry(
            doc,
            "pauses",
            "w2",
            &[
                ("reason", s("再等")),
                ("started_at", ts("2026-11-04")),
                ("started_by", s(who.user)),
            ],
        ),
        (S::Pauses, Change) => put(doc, "pauses.w1", "reason", "改过"),
        (S::Pauses, Delete) => del(doc, "pauses", "w1"),
        (S::ReturnVisit, Add) => put(doc, "return_visit", "comment", "满意"),
        (S::ReturnVisit, Change) => put(doc, "return_visit", "channel", "上门"),
        (S::ReturnVisit, Delete) => del(doc, "return_visit", "channel"),
        (S::CustomerVoice, Add) => put(doc, "customer_voice", "rating_comment", "很好"),
        (S::CustomerVoice, Change) => put(doc, "customer_voice", "plan_question", "改过的问题"),
        (S::CustomerVoice, Delete) => del(doc, "customer_voice", "plan_question"),
        (S::Review, Add) => put(doc, "review", "comment", "通过"),
        (S::Review, Change) => put(doc, "review", "state", "approved"),
        (S::Review, Delete) => del(doc, "review", "state"),
        (S::Notes, Add) => {
            let n = obj(doc, "notes");
            let len = doc.length(&n);
            doc.splice_text(&n, len, 0, "追加").unwrap();
        }
        (S::Notes, Change) => {
            let n = obj(doc, "notes");
            doc.splice_text(&n, 0, 2, "改写").unwrap();
        }
        (S::Notes, Delete) => {
            let n = obj(doc, "notes");
            doc.splice_text(&n, 0, 2, "").unwrap();
        }
        (S::Supervision, Add) => entry(
            doc,
            "supervision",
            "s-new",
            &[
                ("reason", s("伪造督办")),
                ("manager", s("cm-li")),
                ("due_on", s("2026-11-20")),
            ],
        ),
        (S::Supervision, Change) => put(doc, "supervision.s1", "due_on", "2026-12-31"),
        (S::Supervision, Delete) => del(doc, "supervision.s1", "reason"),
        (S::SupervisionAnswers, Add) => put(
            doc,
            &format!("supervision.{}.answer", order_of(role)),
            "answered_at",
            ts("2026-11-04"),
        ),
        (S::SupervisionAnswers, Change) => put(
            doc,
            &format!("supervision.{}.answer", order_of(role)),
            "text",
            "改过的答复",
        ),
        (S::SupervisionAnswers, Delete) => del(
            doc,
            &format!("supervision.{}.answer", order_of(role)),
            "text",
        ),
        (S::SupervisionEscalations, Add) => entry(
            doc,
            "supervision.s2",
            "escalation",
            &[("escalated_at", ts("2026-11-04")), ("leaders", s("lead1"))],
        ),
        (S::SupervisionEscalations, Change) => {
            put(doc, "supervision.s1.escalation", "leaders", "nobody")
        }
        (S::SupervisionEscalations, Delete) => del(doc, "supervision.s1.escalation", "leaders"),
        (S::Meetings, Add) => entry(
            doc,
            "meetings",
            "m-new",
            &[("topics", s("伪造会议")), ("held_on", s("2026-11-04"))],
        ),
        (S::Meetings, Change) => put(doc, "meetings.m1", "place", "别处"),
        (S::Meetings, Delete) => del(doc, "meetings", "m1"),
        (S::Actions, Add) => entry(
            doc,
            "actions",
            "a-new",
            &[
                ("meeting", s("m1")),
                ("text", s("新事项")),
                ("owner", s("cm-li")),
                ("due_on", s("2026-11-12")),
            ],
        ),
        (S::Actions, Change) => put(doc, "actions.a1", "text", "改过的事项"),
        (S::Actions, Delete) => del(doc, "actions.a1", "text"),
        (S::ActionProgress, Add) => put(
            doc,
            &format!("actions.{}.done", action_of(role)),
            "done_at",
            ts("2026-11-04"),
        ),
        (S::ActionProgress, Change) => put(
            doc,
            &format!("actions.{}.done", action_of(role)),
            "note",
            "改过",
        ),
        (S::ActionProgress, Delete) => {
            del(doc, &format!("actions.{}.done", action_of(role)), "note")
        }
        (S::PowerOnPlan, Add) => put(doc, "power_on_plan", "note", "上午"),
        (S::PowerOnPlan, Change) => put(doc, "power_on_plan", "planned_on", "2026-11-25"),
        (S::PowerOnPlan, Delete) => del(doc, "power_on_plan", "planned_on"),
        (S::OutagePlan, Add) => put(doc, "outage_plan", "approval_no", "TD-1"),
        (S::OutagePlan, Change) => put(doc, "outage_plan", "lines", "别的线路"),
        (S::OutagePlan, Delete) => del(doc, "outage_plan", "lines"),
        (S::CustomerWorks, Add) => put(doc, "customer_works", "builder_firm", "jc-build"),
        (S::CustomerWorks, Change) => put(doc, "customer_works", "designer_firm", "other"),
        (S::CustomerWorks, Delete) => del(doc, "customer_works", "designer_firm"),
        (S::TypicalDesign, Add) => put(doc, "typical_design", "catalogue", "national-designs"),
        (S::TypicalDesign, Change) => put(doc, "typical_design", "title", "改过"),
        (S::TypicalDesign, Delete) => del(doc, "typical_design", "title"),
        (S::TemporarySupply, Add) => put(doc, "temporary_supply", "note", "临时"),
        (S::TemporarySupply, Change) => {
            put(doc, "temporary_supply", "transformer_asset_no", "ZB-2")
        }
        (S::TemporarySupply, Delete) => del(doc, "temporary_supply", "transformer_asset_no"),
        (S::VisitPlan, Add) => put(doc, "visit_plan", "leader_name", "周"),
        (S::VisitPlan, Change) => put(doc, "visit_plan", "every_days", 30i64),
        (S::VisitPlan, Delete) => del(doc, "visit_plan", "every_days"),
        (S::KeyVisits, Add) => entry(
            doc,
            "key_visits",
            &format!("v-{}", who.user),
            &[
                ("visited_on", s("2026-11-04")),
                ("recorded_by", s(who.user)),
            ],
        ),
        (S::KeyVisits, Change) => put(doc, "key_visits.v1", "findings", "改过"),
        (S::KeyVisits, Delete) => del(doc, "key_visits", "v1"),
        (S::Identity, Add) => unreachable!("creating a job is its own case"),
    }
}

/// What the policy says of `(role, section, op)`.
fn expected(policy: &WritePolicy, role: Role, section: Section, op: Op) -> bool {
    match section {
        Section::Identity => op == Op::Add && policy.may_create(role),
        Section::ContractReceipts | Section::SupervisionEscalations => false,
        _ => match policy.right(section, role) {
            Some(Right::Write) => true,
            Some(Right::Add) => op == Op::Add,
            None => false,
        },
    }
}

struct RawClient {
    phone: Phone,
    role: Role,
    token: String,
    device: String,
    actor: ActorId,
}

impl RawClient {
    async fn push(&self, server: &TestServer, push: Vec<PushJob>) -> SyncResponse {
        let body = protocol::encode(&SyncRequest {
            protocol: 1,
            device_id: self.device.clone(),
            cursor: u64::MAX,
            push,
            messages: vec![],
            page_bytes: Some(1),
        });
        let resp = reqwest::Client::new()
            .post(format!("{}/api/v1/sync", server.url()))
            .bearer_auth(&self.token)
            .header("fieldline-protocol", "1")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        protocol::decode(&resp.bytes().await.unwrap(), 1 << 30).unwrap()
    }
}

/// A probe to write: client index, base index, what, expected, the write.
type Planned = (
    usize,
    usize,
    String,
    bool,
    Box<dyn Fn(&mut AutoCommit, &Who)>,
);

struct Case {
    role: Role,
    what: String,
    expect: bool,
    job: String,
    base_heads: Vec<automerge::ChangeHash>,
    push: PushJob,
}

#[tokio::test]
async fn the_server_refuses_every_write_the_policy_forbids() {
    let server = TestServer::start().await;
    for (u, r) in USERS {
        server.add_user(u, *r, UNIT);
    }
    server.add_user("cm-other", Role::CustomerManager, "other-unit");
    let mut clients = Vec::new();
    for (u, r) in USERS {
        let phone = Phone::login(&server, u).await;
        clients.push(RawClient {
            token: phone.store.sync_setting("token").unwrap().unwrap(),
            device: phone.store.device().device_id,
            actor: phone.store.device().actor,
            phone,
            role: *r,
        });
    }
    let policy = WritePolicy::default();
    // Register the seed's contract key so the server countersigns c1 (c2's key stays unknown).
    let keys = (KeyPair::generate(), KeyPair::generate());
    {
        let env = server.env();
        let admin = env
            .store
            .read()
            .unwrap()
            .user_by_name("admin1")
            .unwrap()
            .unwrap();
        let mut tx = env.store.write().unwrap();
        tx.upsert_device(&fieldline_server::store::DeviceRow {
            device_id: "seed-device".into(),
            user_id: admin.id,
            last_seen: 0,
            public_key: Some(keys.0.public_hex()),
            actor: None,
        })
        .unwrap();
        tx.commit().unwrap();
    }

    let sections: Vec<Section> = Section::ALL.to_vec();
    let mut cases: Vec<Case> = Vec::new();
    let mut bases: Vec<JobDoc> = Vec::new();
    let next_base = |bases: &mut Vec<JobDoc>| {
        let d = base_job(bases.len(), &keys);
        bases.push(d);
        bases.len() - 1
    };
    // Probes written by each role on its own copy of a base job.
    let mut planned: Vec<Planned> = Vec::new();
    for (ci, c) in clients.iter().enumerate() {
        let role = c.role;
        for section in &sections {
            for op in [Op::Add, Op::Change, Op::Delete] {
                let (section, op) = (*section, op);
                if section == Section::Identity && op == Op::Add {
                    continue;
                }
                if section == Section::Contracts && op == Op::Add && role == Role::CustomerManager {
                    // The honest case is signed on the phone below.
                    continue;
                }
                let b = next_base(&mut bases);
                planned.push((
                    ci,
                    b,
                    format!("{}:{:?}", section.as_str(), op),
                    expected(&policy, role, section, op),
                    Box::new(move |doc, who| probe(doc, section, op, who, role)),
                ));
            }
        }
        // Beyond the table: a key the schema does not know, another stage's milestone, a photo
        // credited to someone else.
        let b = next_base(&mut bases);
        planned.push((
            ci,
            b,
            "unknown_key".into(),
            policy.may_write_unknown(role),
            Box::new(|doc, _| put(doc, "customer", "favourite_colour", "蓝")),
        ));
        if let Some(e) = foreign_event(role) {
            let b = next_base(&mut bases);
            planned.push((
                ci,
                b,
                format!("milestone:{}", e.as_str()),
                false,
                Box::new(move |doc, who| {
                    entry(
                        doc,
                        "milestones",
                        "m-foreign",
                        &[
                            ("event", s(e.as_str())),
                            ("at", s("2026-11-04T01:00:00.000Z")),
                            ("actor", s(who.user)),
                            ("device", s(&who.device)),
                        ],
                    )
                }),
            ));
        }
        // Changes written as another device, or as the server itself.
        let b = next_base(&mut bases);
        planned.push((
            ci,
            b,
            "actor:another_device".into(),
            false,
            Box::new(|doc, _| {
                doc.set_actor(ActorId::random());
                put(doc, "", "notes_x", "冒充");
                put(doc, "customer", "account_no", "0002");
            }),
        ));
        let b = next_base(&mut bases);
        planned.push((
            ci,
            b,
            "actor:the_server".into(),
            false,
            Box::new(|doc, _| {
                doc.set_actor(ActorId::from(b"fieldline-server".as_slice()));
                put(doc, "customer", "account_no", "0003");
            }),
        ));
        // Nested deeper than any schema path, under a key only admins may add.
        let b = next_base(&mut bases);
        planned.push((
            ci,
            b,
            "unknown_key:nested_deep".into(),
            false,
            Box::new(|doc, _| {
                let mut o = obj(doc, "customer");
                for i in 0..12 {
                    o = doc.put_object(&o, format!("n{i}"), ObjType::Map).unwrap();
                }
                doc.put(&o, "leaf", 1).unwrap();
            }),
        ));
        // An order addressed to someone else, or an answer credited to someone else.
        let b = next_base(&mut bases);
        planned.push((
            ci,
            b,
            "supervision:answer_another's_order".into(),
            role == Role::Admin,
            Box::new(move |doc, _| {
                let other = if role == Role::ProjectManager {
                    "s1"
                } else {
                    "s2"
                };
                put(doc, &format!("supervision.{other}.answer"), "text", "代答");
            }),
        ));
        let b = next_base(&mut bases);
        planned.push((
            ci,
            b,
            "supervision:answer_as_another".into(),
            role == Role::Admin,
            Box::new(move |doc, _| {
                put(
                    doc,
                    &format!("supervision.{}.answer", order_of(role)),
                    "answered_by",
                    "somebody",
                );
            }),
        ));
        let b = next_base(&mut bases);
        planned.push((
            ci,
            b,
            "photo:someone_else's".into(),
            false,
            Box::new(|doc, who| {
                entry(
                    doc,
                    "photos",
                    "p-other",
                    &photo_fields("somebody", &who.device, 20),
                )
            }),
        ));
    }
    // One more base for the honest contract, signed on the customer manager's phone.
    let contract_base = next_base(&mut bases);
    // Store the bases (trusted seeding, as the demo does).
    {
        let env = server.env().clone();
        let mut tx = env.store.write().unwrap();
        for d in bases.iter_mut() {
            fieldline_server::service::jobs::import_trusted(&mut *tx, &env, "seed", d).unwrap();
        }
        tx.commit().unwrap();
    }
    // The server countersigned c1 of every base: take its copy as the base.
    let mut server_bases = Vec::with_capacity(bases.len());
    for d in bases.iter_mut() {
        let id = d.job().unwrap().id;
        let mut sb = d.fork_as(ActorId::random());
        let bytes = fieldline_server::service::jobs::document(
            server.env(),
            &fieldline_server::authz::Principal {
                user_id: 0,
                username: "admin1".into(),
                display_name: String::new(),
                role: Role::Admin,
                unit: UNIT.into(),
                device_id: "matrix".into(),
                actor: None,
            },
            &id,
        )
        .unwrap();
        sb.apply_remote(&bytes).unwrap();
        assert!(sb.job().unwrap().contracts["c1"].receipt.receipt.is_some());
        server_bases.push((id, bytes));
    }
    for (ci, b, what, expect, write) in planned {
        let c = &clients[ci];
        let (job_id, bytes) = &server_bases[b];
        let mut doc = load(bytes, &c.actor);
        let base_heads = doc.get_heads();
        let who = Who {
            user: USERS[ci].0,
            device: c.device.clone(),
        };
        write(&mut doc, &who);
        doc.commit();
        cases.push(Case {
            role: c.role,
            what,
            expect,
            job: job_id.clone(),
            push: PushJob {
                job_id: job_id.clone(),
                changes: doc.save_after(&base_heads),
                heads: wire_heads(&doc.get_heads()),
            },
            base_heads,
        });
    }
    // Creating a job: each role, in its own unit and in another.
    for (c, unit) in clients.iter().flat_map(|c| [(c, UNIT), (c, "other-unit")]) {
        let mut new = contract::sample::residential_job("YK-NEW", "新客户", at("2026-11-02"));
        new.unit = unit.into();
        let ctx = EditContext {
            actor: c.phone.user.clone(),
            device: c.device.clone(),
            now: at("2026-11-02"),
        };
        let mut doc =
            JobDoc::create(c.actor.clone(), &new, &field_core::RuleSet::default(), &ctx).unwrap();
        let id = doc.job().unwrap().id;
        cases.push(Case {
            role: c.role,
            what: format!("identity:Add in {unit}"),
            expect: policy.may_create(c.role) && (unit == UNIT || c.role == Role::Admin),
            job: id.clone(),
            base_heads: vec![],
            push: PushJob {
                job_id: id,
                changes: doc.save(),
                heads: wire_heads(&doc.heads()),
            },
        });
    }
    // The honest contract: signed on the customer manager's phone (its own checks pass), pushed
    // raw like everything else.
    {
        let cm = &clients[0];
        let (job_id, bytes) = &server_bases[contract_base];
        cm.phone.store.merge_remote(job_id, bytes).unwrap();
        cm.phone
            .store
            .sign_contract(
                job_id,
                "cm-li",
                &SignRequest {
                    contract_id: "c-honest".into(),
                    template: None,
                    inputs: [("supplier", "示范供电公司"), ("manager_name", "李")]
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                    amends: None,
                    customer_name: None,
                    customer: pad(2.0),
                    manager: pad(3.0),
                    photo_ids: vec!["p1".into()],
                    gps: None,
                },
            )
            .unwrap();
        let mut doc = load(&cm.phone.store.document_bytes(job_id).unwrap(), &cm.actor);
        let base_heads = load(bytes, &cm.actor).get_heads();
        cases.push(Case {
            role: Role::CustomerManager,
            what: "contracts:Add".into(),
            expect: true,
            job: job_id.clone(),
            push: PushJob {
                job_id: job_id.clone(),
                changes: doc.save_after(&base_heads),
                heads: wire_heads(&doc.get_heads()),
            },
            base_heads,
        });
    }

    // Push every case, one request per case, and compare with the server's copy.
    let mut leaks = Vec::new();
    let mut false_refusals = Vec::new();
    let mut table: BTreeMap<(String, Role), bool> = BTreeMap::new();
    for case in &cases {
        let client = clients.iter().find(|c| c.role == case.role).unwrap();
        let resp = client.push(&server, vec![case.push.clone()]).await;
        let acked = resp.acks.iter().any(|a| a.job_id == case.job);
        let refused = resp.rejected.iter().find(|r| r.job_id == case.job);
        assert!(acked != refused.is_some(), "{}: {resp:?}", case.what);
        if let Some(r) = refused {
            assert!(!r.zh.is_empty() && !r.en.is_empty(), "{r:?}");
        }
        // The server's copy agrees with its answer.
        let stored = server_heads(&server, &case.job).await;
        let kept = match &stored {
            None => false,
            Some(h) => {
                *h != {
                    let mut b = case.base_heads.clone();
                    b.sort();
                    b
                }
            }
        };
        assert_eq!(
            kept, acked,
            "{}: answer and stored copy disagree",
            case.what
        );
        table.insert((case.what.clone(), case.role), acked);
        if acked && !case.expect {
            leaks.push(format!("{:?} {}", case.role, case.what));
        }
        if !acked && case.expect {
            false_refusals.push(format!(
                "{:?} {}: {:?}",
                case.role,
                case.what,
                refused.map(|r| (&r.code, &r.en))
            ));
        }
    }
    eprintln!(
        "authorization matrix (server, raw client): {} cases, {} leaks, {} false refusals",
        cases.len(),
        leaks.len(),
        false_refusals.len()
    );
    assert!(leaks.is_empty(), "leaks: {leaks:#?}");
    assert!(
        false_refusals.is_empty(),
        "false refusals: {false_refusals:#?}"
    );
}

/// A document as the raw client edits it: the job's text encoding, writing as `actor`.
fn load(bytes: &[u8], actor: &ActorId) -> AutoCommit {
    AutoCommit::load_with_options(
        bytes,
        automerge::LoadOptions::new().text_encoding(automerge::TextEncoding::UnicodeCodePoint),
    )
    .unwrap()
    .with_actor(actor.clone())
}

async fn server_heads(server: &TestServer, job: &str) -> Option<Vec<automerge::ChangeHash>> {
    let id = job.to_string();
    let bytes = server
        .env()
        .blocking(move |env| Ok(env.store.read()?.job_bytes(&id)?))
        .await
        .unwrap()?;
    let mut h = AutoCommit::load(&bytes).unwrap().get_heads();
    h.sort();
    Some(h)
}

/// What the phone did with one edit.
#[derive(Debug, PartialEq, Eq)]
enum PhoneAnswer {
    Stored,
    /// Refused by the write policy (`StoreError::Refused`).
    Refused(String),
    /// Refused by the edit's own validation (e.g. a signed contract cannot change).
    Invalid(String),
}

fn answer<T>(r: Result<T, field_core::StoreError>) -> PhoneAnswer {
    match r {
        Ok(_) => PhoneAnswer::Stored,
        Err(field_core::StoreError::Refused(r)) => PhoneAnswer::Refused(r.code),
        Err(field_core::StoreError::Job(JobError::Invalid(i))) => PhoneAnswer::Invalid(i.field),
        Err(field_core::StoreError::Contract(e)) => PhoneAnswer::Invalid(e.to_string()),
        Err(e) => panic!("unexpected error: {e}"),
    }
}

/// The phone's edit for `(section, op)`, made by the signed-in user on a fresh copy of a base.
fn phone_probe(
    phone: &Phone,
    job: &str,
    section: Section,
    op: Op,
    role: Role,
) -> Option<PhoneAnswer> {
    use Op::*;
    use Section as S;
    let s = &phone.store;
    let me = phone.user.as_str();
    let group = s.job(job).unwrap().checklist.keys().next().unwrap().clone();
    let edit = |e: Edit| answer(s.edit(job, me, &e));
    Some(match (section, op) {
        (S::Identity, Add) => {
            let mut new =
                contract::sample::residential_job("YK-PHONE", "手机新建", at("2026-11-02"));
            new.unit = UNIT.into();
            answer(s.create_job(me, &new))
        }
        (S::Identity, _) | (_, Delete) => return None,
        (S::Customer, Add) => edit(Edit::UpdateCustomer(Customer {
            account_no: Some("0001".into()),
            ..Default::default()
        })),
        (S::Customer, Change) => edit(Edit::UpdateCustomer(Customer {
            name: Some("改名".into()),
            ..Default::default()
        })),
        (S::Agent, Add) => edit(Edit::UpdateAgent(Agent {
            name: Some("代理人".into()),
            ..Default::default()
        })),
        (S::Agent, Change) => edit(Edit::UpdateAgent(Agent {
            filed_by_agent: Some(true),
            ..Default::default()
        })),
        (S::Application, Add) => edit(Edit::UpdateApplication(Application {
            industry: Some("制造".into()),
            ..Default::default()
        })),
        (S::Application, Change) => edit(Edit::UpdateApplication(Application {
            capacity_kva: Some(99.0),
            ..Default::default()
        })),
        (S::Checklist, Add) => edit(Edit::CheckDocument {
            group,
            item: ChecklistItem {
                note: Some("已收".into()),
                ..Default::default()
            },
        }),
        (S::Checklist, Change) => edit(Edit::CheckDocument {
            group,
            item: ChecklistItem {
                collected: Some(false),
                ..Default::default()
            },
        }),
        (S::Assignment, Add) => edit(Edit::UpdateAssignment(Assignment {
            project_manager_name: Some("王".into()),
            ..Default::default()
        })),
        (S::Assignment, Change) => edit(Edit::UpdateAssignment(Assignment {
            customer_manager_name: Some("冒名".into()),
            ..Default::default()
        })),
        (S::Survey, Add) => edit(Edit::UpdateSurvey(Survey {
            load_nature: Some("一般负荷".into()),
            ..Default::default()
        })),
        (S::Survey, Change) => edit(Edit::UpdateSurvey(Survey {
            surveyor: Some("冒名".into()),
            ..Default::default()
        })),
        (S::SupplyPlan, Add) => edit(Edit::UpdateSupplyPlan(SupplyPlan {
            metering_point: Some("表箱".into()),
            ..Default::default()
        })),
        (S::SupplyPlan, Change) => edit(Edit::UpdateSupplyPlan(SupplyPlan {
            access_point: Some("2号杆".into()),
            ..Default::default()
        })),
        (S::Inspections, Add) => edit(Edit::PutFinding {
            target: FindingTarget::Inspection(InspectionKind::Completion),
            id: "f-new".into(),
            finding: Finding {
                text: Some("接地不良".into()),
                ..Default::default()
            },
        }),
        (S::Inspections, Change) => edit(Edit::UpdateInspection {
            kind: InspectionKind::Completion,
            inspection: Inspection {
                inspector: Some("冒名".into()),
                ..Default::default()
            },
        }),
        (S::Project, Add) => edit(Edit::PutConstructionLog {
            id: "log-new".into(),
            log: ConstructionLog {
                text: Some("日志".into()),
                ..Default::default()
            },
        }),
        (S::Project, Change) => edit(Edit::UpdateProject(Project {
            project_no: Some("PJ-X".into()),
            ..Default::default()
        })),
        (S::Metering, Add) => edit(Edit::UpdateMetering(Metering {
            ct_ratio: Some("100/5".into()),
            ..Default::default()
        })),
        (S::Metering, Change) => edit(Edit::UpdateMetering(Metering {
            meter_asset_no: Some("3200002".into()),
            ..Default::default()
        })),
        (S::Contracts, Add) => answer(
            s.sign_contract(
                job,
                me,
                &SignRequest {
                    contract_id: "c-phone".into(),
                    template: None,
                    inputs: [("supplier", "示范供电公司"), ("manager_name", "李")]
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                    amends: None,
                    customer_name: None,
                    customer: pad(4.0),
                    manager: pad(5.0),
                    photo_ids: vec![],
                    gps: None,
                },
            ),
        ),
        (S::Contracts, Change) => {
            let mut c = s.job(job).unwrap().contracts["c1"].clone();
            c.title = Some("改过的合同".into());
            edit(Edit::SignContract {
                id: "c1".into(),
                contract: c,
            })
        }
        (S::ContractReceipts, _) => edit(Edit::RecordReceipt {
            contract_id: "c2".into(),
            receipt: ContractReceipt {
                receipt: Some("{}".into()),
                signature: Some("00".into()),
                received_at: Some(at("2026-11-04")),
            },
        }),
        (S::Photos, Add) => answer(s.add_photo(
            job,
            me,
            &field_core::photo::sample::jpeg(64, 48, 7, &Default::default()),
            &field_core::store::PhotoInput {
                purpose: PhotoPurpose::Survey,
                caption: None,
                gps: None,
                checklist_group: None,
                author_name: None,
            },
            &Default::default(),
        )),
        (S::Photos, Change) => edit(Edit::AddPhoto {
            id: "p1".into(),
            photo: Photo {
                purpose: Some(PhotoPurpose::Survey),
                original_sha256: Some(fake_sha(99)),
                display_sha256: Some(fake_sha(98)),
                thumbnail_sha256: Some(fake_sha(97)),
                ..Default::default()
            },
        }),
        (S::Milestones, Add) => edit(Edit::AddMilestone {
            id: "m-new".into(),
            milestone: Milestone {
                event: Some(own_event(role)),
                at: Some(at("2026-11-04")),
                ..Default::default()
            },
        }),
        (S::Milestones, Change) => edit(Edit::AddMilestone {
            id: "accepted".into(),
            milestone: Milestone {
                event: Some(MilestoneEvent::Accepted),
                at: Some(at("2026-11-02")),
                note: Some("改过".into()),
                ..Default::default()
            },
        }),
        (S::Pauses, Add) => edit(Edit::StartWaiting {
            id: "w2".into(),
            reason: "再等".into(),
            at: at("2026-11-04"),
        }),
        (S::Pauses, Change) => edit(Edit::StartWaiting {
            id: "w1".into(),
            reason: "改过".into(),
            at: at("2026-11-02"),
        }),
        (S::ReturnVisit, Add) => edit(Edit::UpdateReturnVisit(ReturnVisit {
            comment: Some("满意".into()),
            ..Default::default()
        })),
        (S::ReturnVisit, Change) => edit(Edit::UpdateReturnVisit(ReturnVisit {
            channel: Some("上门".into()),
            ..Default::default()
        })),
        (S::CustomerVoice, Add) => edit(Edit::UpdateCustomerVoice(CustomerVoice {
            rating_comment: Some("很好".into()),
            ..Default::default()
        })),
        (S::CustomerVoice, Change) => edit(Edit::UpdateCustomerVoice(CustomerVoice {
            plan_question: Some("改过的问题".into()),
            ..Default::default()
        })),
        (S::Review, Add) => edit(Edit::UpdateReview(Review {
            comment: Some("通过".into()),
            ..Default::default()
        })),
        (S::Review, Change) => edit(Edit::UpdateReview(Review {
            state: Some(field_core::ReviewState::Approved),
            ..Default::default()
        })),
        (S::Supervision, Add) => edit(Edit::IssueSupervision {
            id: "s-phone".into(),
            // Issued on the phone's clock (today): due later.
            order: SupervisionOrder {
                due_on: Some(field_core::job::local_date(Utc::now()) + chrono::Duration::days(7)),
                ..order_to("cm-li")
            },
        }),
        (S::Supervision, Change) => edit(Edit::IssueSupervision {
            id: "s1".into(),
            order: SupervisionOrder {
                reason: Some("改过的事由".into()),
                ..Default::default()
            },
        }),
        (S::SupervisionAnswers, Add) => edit(Edit::AnswerSupervision {
            id: order_of(role).into(),
            text: "已处理".into(),
            at: at("2026-11-04"),
        }),
        (S::SupervisionAnswers, Change) => edit(Edit::AnswerSupervision {
            id: order_of(role).into(),
            text: "改过的答复".into(),
            at: at("2026-11-05"),
        }),
        (S::SupervisionEscalations, _) => edit(Edit::RecordEscalation {
            id: "s2".into(),
            escalation: SupervisionEscalation {
                escalated_at: Some(at("2026-11-04")),
                leaders: Some("lead1".into()),
                leader_names: None,
            },
        }),
        (S::Meetings, Add) => edit(Edit::PutMeeting {
            id: "m-phone".into(),
            meeting: Meeting {
                held_on: Some("2026-11-04".parse().unwrap()),
                topics: Some("手机上的会".into()),
                ..Default::default()
            },
        }),
        (S::Meetings, Change) => edit(Edit::PutMeeting {
            id: "m1".into(),
            meeting: Meeting {
                place: Some("别处".into()),
                ..Default::default()
            },
        }),
        (S::Actions, Add) => edit(Edit::PutAction {
            id: "a-phone".into(),
            action: action_to("cm-li"),
        }),
        (S::Actions, Change) => return None,
        (S::ActionProgress, Add) => return None,
        (S::ActionProgress, Change) => return None,
        (S::PowerOnPlan, Add) => edit(Edit::UpdatePowerOnPlan(PowerOnPlan {
            note: Some("上午".into()),
            ..Default::default()
        })),
        (S::PowerOnPlan, Change) => edit(Edit::UpdatePowerOnPlan(PowerOnPlan {
            planned_on: Some("2026-11-25".parse().unwrap()),
            ..Default::default()
        })),
        (S::OutagePlan, Add) => edit(Edit::UpdateOutagePlan(OutagePlan {
            approval_no: Some("TD-1".into()),
            ..Default::default()
        })),
        (S::OutagePlan, Change) => edit(Edit::UpdateOutagePlan(OutagePlan {
            lines: Some("别的线路".into()),
            ..Default::default()
        })),
        (S::CustomerWorks, _) => edit(Edit::UpdateCustomerWorks(CustomerWorks {
            builder_firm: Some("jc-build".into()),
            ..Default::default()
        })),
        (S::TypicalDesign, _) => edit(Edit::PickTypicalDesign(TypicalDesign {
            design_id: Some("lv-res-three".into()),
            ..Default::default()
        })),
        (S::TemporarySupply, _) => edit(Edit::UpdateTemporarySupply(TemporarySupply {
            note: Some("临时".into()),
            ..Default::default()
        })),
        (S::VisitPlan, _) => edit(Edit::UpdateVisitPlan(VisitPlan {
            leader_name: Some("周".into()),
            ..Default::default()
        })),
        (S::KeyVisits, Add) => edit(Edit::AddKeyVisit {
            id: "v-phone".into(),
            visit: KeyVisit {
                visited_on: Some("2026-11-04".parse().unwrap()),
                ..Default::default()
            },
        }),
        (S::KeyVisits, Change) => return None,
        (S::Notes, Add) => edit(Edit::SpliceNotes {
            pos: 4,
            delete: 0,
            insert: "追加".into(),
        }),
        (S::Notes, Change) => edit(Edit::SetNotes {
            text: "改写备注".into(),
        }),
    })
}

#[tokio::test]
async fn the_phone_refuses_the_same_writes_before_storing_them() {
    let server = TestServer::start().await;
    for (u, r) in USERS {
        server.add_user(u, *r, UNIT);
    }
    let policy = WritePolicy::default();
    let keys = (KeyPair::generate(), KeyPair::generate());
    let mut cases = 0;
    let mut wrong = Vec::new();
    let mut n = 10_000;
    for (user, role) in USERS {
        let phone = Phone::login(&server, user).await;
        for section in Section::ALL {
            for op in [Op::Add, Op::Change] {
                n += 1;
                let mut base = base_job(n, &keys);
                let id = base.job().unwrap().id;
                phone.store.merge_remote(&id, &base.save()).unwrap();
                let before = phone.store.document_bytes(&id).unwrap();
                let Some(got) = phone_probe(&phone, &id, *section, op, *role) else {
                    continue;
                };
                cases += 1;
                let expect = expected(&policy, *role, *section, op);
                let stored = got == PhoneAnswer::Stored;
                if stored != expect {
                    wrong.push(format!("{role:?} {}:{op:?} → {got:?}", section.as_str()));
                }
                if !stored && *section != Section::Identity {
                    // Refused: nothing of it was stored, nothing waits to be pushed.
                    assert_eq!(phone.store.document_bytes(&id).unwrap(), before);
                    assert!(
                        phone
                            .store
                            .dirty_jobs()
                            .unwrap()
                            .iter()
                            .all(|d| d.job_id != id)
                    );
                }
                // Every refusal that is about rights says so in both languages.
                if let PhoneAnswer::Refused(code) = &got {
                    assert!(!code.is_empty());
                }
            }
        }
        // A milestone of another role's stage.
        if let Some(e) = foreign_event(*role) {
            n += 1;
            let mut base = base_job(n, &keys);
            let id = base.job().unwrap().id;
            phone.store.merge_remote(&id, &base.save()).unwrap();
            let got = answer(phone.store.edit(
                &id,
                user,
                &Edit::AddMilestone {
                    id: "m-foreign".into(),
                    milestone: Milestone {
                        event: Some(e),
                        at: Some(at("2026-11-04")),
                        ..Default::default()
                    },
                },
            ));
            cases += 1;
            if got != PhoneAnswer::Refused("forbidden".into()) {
                wrong.push(format!("{role:?} milestone {e:?} → {got:?}"));
            }
        }
        // Edits as somebody else than the signed-in user.
        let err = phone
            .store
            .create_job(
                "somebody-else",
                &new_job(JobKind::HighVoltage, UNIT, "冒名"),
            )
            .unwrap_err();
        cases += 1;
        assert!(matches!(err, field_core::StoreError::Refused(ref r) if r.code == "other_user"));
    }
    eprintln!(
        "authorization matrix (phone, its own edits): {cases} cases, {} disagreements with the policy",
        wrong.len()
    );
    assert!(wrong.is_empty(), "{wrong:#?}");
}
