//! The demo's project side (used by `demo`): two high-voltage jobs carry a coordination meeting
//! with one late action item and one due soon, a connection plan and an outage plan awaiting
//! approval, the typical design picked with its cost range, the customer's firms (one builder's
//! licence ending before the works do), a rented transformer due back within days, and an
//! important customer whose visit is overdue; plus the unit's register of firms.

use chrono::{DateTime, Duration, TimeZone, Utc};
use field_core::job::{
    ActionItem, Application, CustomerWorks, JobDoc, KeyVisit, Meeting, OutagePlan, PowerOnPlan,
    TemporarySupply, VisitPlan,
};
use field_core::{Edit, EditContext, Importance, OutageState};

/// The demo unit's register of the customer's design and construction firms.
pub const FIRMS: &str = r#"{"id": "zhuxian-firms", "version": 1, "effective_from": "2020-01-01",
  "unit": "zhuxian", "description": "演示：本单位登记的客户工程设计、施工单位", "firms": [
  {"id": "hd-design", "name": "华电工程设计院", "role": "design", "qualification": "工程设计电力行业资质",
   "grade": 2, "certificate_no": "A142000001", "valid_from": "2024-01-01", "valid_until": "2028-12-31"},
  {"id": "xd-build", "name": "兴达电力安装公司", "role": "construction", "qualification": "承装（修、试）电力设施许可证",
   "grade": 4, "certificate_no": "6-1-00321-2021", "valid_from": "2021-06-01", "valid_until": "2026-12-31"},
  {"id": "jc-build", "name": "建诚电力工程公司", "role": "construction", "qualification": "承装（修、试）电力设施许可证",
   "grade": 3, "certificate_no": "5-1-00088-2023", "valid_from": "2023-03-01", "valid_until": "2029-02-28"}]}"#;

/// Who writes the project side in the demo: the customer manager's phone, the project manager's
/// and the counter's desk, each with its context maker.
pub struct Writers<'a> {
    pub cm: &'a str,
    /// The customer manager's name.
    pub cm_name: &'a str,
    pub cm_ctx: &'a dyn Fn(DateTime<Utc>) -> (EditContext, automerge::ActorId),
    pub pm_ctx: &'a dyn Fn(DateTime<Utc>) -> (EditContext, automerge::ActorId),
    pub office_ctx: &'a dyn Fn(DateTime<Utc>) -> (EditContext, automerge::ActorId),
}

fn apply(
    doc: &mut JobDoc,
    who: &dyn Fn(DateTime<Utc>) -> (EditContext, automerge::ActorId),
    at: DateTime<Utc>,
    edit: &Edit,
) -> Result<(), field_core::job::JobError> {
    let (ctx, actor) = who(at);
    doc.automerge().set_actor(actor);
    doc.apply(edit, &ctx).map(|_| ())
}

fn day(t: DateTime<Utc>) -> chrono::NaiveDate {
    field_core::job::local_date(t)
}

/// Job `i`'s project side, if it has one (jobs 3 and 13, both high voltage).
pub fn add(
    doc: &mut JobDoc,
    i: usize,
    w: &Writers,
    accepted: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), field_core::job::JobError> {
    match i {
        3 => {
            let met = now - Duration::days(4);
            apply(
                doc,
                w.pm_ctx,
                met,
                &Edit::PutMeeting {
                    id: "demo-meeting-1".into(),
                    meeting: Meeting {
                        held_on: Some(day(met)),
                        place: Some("朱仙供电所三楼会议室".into()),
                        organizer_name: Some("王磊".into()),
                        attendees: Some(format!(
                            "项目经理王磊、客户经理{}、客户代表、兴达电力安装公司",
                            w.cm_name
                        )),
                        topics: Some("配套工程与客户配电室土建交叉作业；接电日期".into()),
                        decisions: Some("客户两日内交付配电室土建；配套电缆随后敷设".into()),
                        ..Default::default()
                    },
                },
            )?;
            for (id, owner, name, text, due) in [
                (
                    "demo-action-1",
                    w.cm,
                    w.cm_name,
                    "督促客户交付配电室土建并拍照上传",
                    -2,
                ),
                (
                    "demo-action-2",
                    "pm-wang",
                    "王磊",
                    "报送停电计划并落实电缆敷设班组",
                    3,
                ),
            ] {
                apply(
                    doc,
                    w.pm_ctx,
                    met,
                    &Edit::PutAction {
                        id: id.into(),
                        action: ActionItem {
                            meeting: Some("demo-meeting-1".into()),
                            text: Some(text.into()),
                            owner: Some(owner.into()),
                            owner_name: Some(name.into()),
                            due_on: Some(day(now + Duration::days(due))),
                            ..Default::default()
                        },
                    },
                )?;
            }
            let on = now + Duration::days(10);
            let window = |h: i64| {
                let midnight = field_core::job::china_offset()
                    .from_local_datetime(&day(on).and_hms_opt(0, 0, 0).unwrap_or_default())
                    .single()
                    .map(|t| t.with_timezone(&Utc))
                    .unwrap_or(on);
                midnight + Duration::hours(h)
            };
            apply(
                doc,
                w.cm_ctx,
                met,
                &Edit::UpdatePowerOnPlan(PowerOnPlan {
                    planned_on: Some(day(on)),
                    window_start_at: Some(window(9)),
                    window_end_at: Some(window(12)),
                    note: Some("客户配电室验收合格后接电".into()),
                    ..Default::default()
                }),
            )?;
            apply(
                doc,
                w.pm_ctx,
                met,
                &Edit::UpdateOutagePlan(OutagePlan {
                    lines: Some("10千伏朱仙线 #23 杆至 #31 杆".into()),
                    transformers: Some("朱仙 3 号公变".into()),
                    starts_at: Some(window(8)),
                    ends_at: Some(window(12)),
                    customers_affected: Some(46),
                    state: Some(OutageState::Submitted),
                    ..Default::default()
                }),
            )?;
            apply(
                doc,
                w.cm_ctx,
                met,
                &Edit::PickTypicalDesign(field_core::job::TypicalDesign {
                    design_id: Some("hv-10kv-box".into()),
                    catalogue: Some("national-designs".into()),
                    catalogue_version: Some(1),
                    title: Some("10千伏箱式变电站单电源接入".into()),
                    cost_low_yuan: Some(250_000.0),
                    cost_high_yuan: Some(600_000.0),
                    ..Default::default()
                }),
            )?;
            apply(
                doc,
                w.cm_ctx,
                met,
                &Edit::UpdateCustomerWorks(CustomerWorks {
                    designer_firm: Some("hd-design".into()),
                    designer_name: Some("华电工程设计院".into()),
                    builder_firm: Some("xd-build".into()),
                    builder_name: Some("兴达电力安装公司".into()),
                    works_start_on: Some(day(accepted + Duration::days(5))),
                    works_finish_on: Some(day(now + Duration::days(40))),
                    ..Default::default()
                }),
            )?;
        }
        13 => {
            apply(
                doc,
                w.office_ctx,
                accepted,
                &Edit::UpdateApplication(Application {
                    importance: Some(Importance::First),
                    ..Default::default()
                }),
            )?;
            let first = accepted + Duration::days(3);
            apply(
                doc,
                w.office_ctx,
                accepted,
                &Edit::UpdateVisitPlan(VisitPlan {
                    leader: Some("leader1".into()),
                    leader_name: Some("周伟".into()),
                    grid_manager: Some("pm-wang".into()),
                    grid_manager_name: Some("王磊".into()),
                    customer_manager: Some(w.cm.into()),
                    customer_manager_name: Some(w.cm_name.into()),
                    every_days: Some(20),
                    starts_on: Some(day(first)),
                }),
            )?;
            apply(
                doc,
                w.cm_ctx,
                first,
                &Edit::AddKeyVisit {
                    id: "demo-visit-1".into(),
                    visit: KeyVisit {
                        visited_on: Some(day(first)),
                        participants: Some(format!("周伟、王磊、{}", w.cm_name)),
                        leader_present: Some(true),
                        findings: Some("双电源切换装置未做联动试验，已请客户限期完成".into()),
                        ..Default::default()
                    },
                },
            )?;
            apply(
                doc,
                w.pm_ctx,
                accepted,
                &Edit::UpdateTemporarySupply(TemporarySupply {
                    ends_on: Some(day(now + Duration::days(3))),
                    transformer_asset_no: Some("ZB-400-0017".into()),
                    transformer_kva: Some(400.0),
                    rented_from_on: Some(day(accepted)),
                    rented_to_on: Some(day(now + Duration::days(3))),
                    note: Some("施工临时用电，工程竣工后拆除".into()),
                    ..Default::default()
                }),
            )?;
        }
        _ => {}
    }
    Ok(())
}
