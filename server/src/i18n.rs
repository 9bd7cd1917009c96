//! The two languages of the office pages (Simplified Chinese by default, English by a toggle), the
//! labels of the job document's fields, and how values read to a person.

use field_core::codes::*;
use serde_json::Value as Json;

/// The language of a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl Lang {
    pub fn parse(s: &str) -> Lang {
        if s.eq_ignore_ascii_case("en") {
            Lang::En
        } else {
            Lang::Zh
        }
    }

    /// The `lang` attribute of `<html>`.
    pub fn html(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    /// The other language (for the toggle).
    pub fn other(self) -> Lang {
        match self {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }

    /// Picks the text of this language.
    pub fn t<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }
}

/// Field labels, in the order fields are shown: `(key, zh, en)`.
pub const FIELDS: &[(&str, &str, &str)] = &[
    ("name", "名称", "name"),
    ("id_number", "证件号码", "ID number"),
    ("contact_name", "联系人", "contact"),
    ("contact_phone", "联系电话", "contact phone"),
    ("address", "用电地址", "address"),
    ("account_no", "户号", "account number"),
    ("filed_by_agent", "委托代理办理", "filed by an agent"),
    ("phone", "电话", "phone"),
    ("project_name", "项目名称", "project"),
    ("industry", "行业", "industry"),
    ("channel", "受理渠道", "channel"),
    ("capacity_kva", "申请容量（千伏安）", "capacity (kVA)"),
    ("voltage", "电压等级", "voltage"),
    ("tariff", "电价类别", "tariff"),
    ("importance", "重要性", "importance"),
    ("source", "电源", "supply source"),
    (
        "grid_distance_m",
        "接入距离（米）",
        "distance to the grid (m)",
    ),
    (
        "replacement_share_pct",
        "电能替代占比（%）",
        "electric replacement (%)",
    ),
    ("ev_charging", "充换电设施", "EV charging"),
    ("dev_zone", "开发区", "development zone"),
    ("rural", "农村", "rural"),
    ("special_industry", "特殊行业", "special industry"),
    ("grid_health", "电网健康状况", "grid health"),
    ("wanted_on", "期望送电日期", "wanted power-on date"),
    (
        "key_project",
        "重点项目（绿色通道）",
        "key project (green channel)",
    ),
    (
        "chief_service_officer",
        "首席服务官",
        "chief service officer",
    ),
    ("fees_due", "应缴费用", "fees due"),
    ("supply_management", "供电管理方式", "supply management"),
    ("customer_manager", "客户经理", "customer manager"),
    (
        "customer_manager_name",
        "客户经理姓名",
        "customer manager's name",
    ),
    (
        "customer_chose_manager",
        "客户自选经理",
        "chosen by the customer",
    ),
    ("project_manager", "项目经理", "project manager"),
    (
        "project_manager_name",
        "项目经理姓名",
        "project manager's name",
    ),
    ("assigned_at", "派工时间", "assigned"),
    (
        "pm_released_at",
        "项目经理释放时间",
        "project manager released",
    ),
    ("surveyed_at", "勘查时间", "surveyed"),
    ("surveyor", "勘查人", "surveyor"),
    ("address_verified", "地址已核实", "address verified"),
    ("load_nature", "负荷性质", "load nature"),
    ("capacity_verified", "容量已核实", "capacity verified"),
    ("category_verified", "用电类别已核实", "category verified"),
    (
        "verified_capacity_kva",
        "核定容量（千伏安）",
        "verified capacity (kVA)",
    ),
    (
        "direct_install",
        "勘查装表一岗制",
        "survey and install in one visit",
    ),
    ("access_point", "接入点", "access point"),
    ("findings", "勘查意见", "findings"),
    ("metering_point", "计量点", "metering point"),
    ("metering_method", "计量方式", "metering method"),
    ("property_boundary", "产权分界点", "property boundary"),
    (
        "utility_invests_to_red_line",
        "投资到红线",
        "utility invests to the red line",
    ),
    ("reply_mode", "答复方式", "reply mode"),
    ("replied_at", "答复时间", "replied"),
    ("valid_until_on", "有效期至", "valid until"),
    ("project_no", "工程编号", "project number"),
    ("utility_invested", "供电公司投资", "utility invested"),
    ("planned_start_on", "计划开工", "planned start"),
    ("planned_finish_on", "计划竣工", "planned finish"),
    ("progress_pct", "进度（%）", "progress (%)"),
    ("designer", "设计单位", "designer"),
    ("plan", "设计方案", "design"),
    ("approved_at", "批准时间", "approved"),
    ("approved_by", "批准人", "approved by"),
    ("accepted_at", "验收时间", "accepted"),
    ("accepted_by", "验收人", "accepted by"),
    ("passed", "合格", "passed"),
    ("remarks", "备注", "remarks"),
    ("amount_yuan", "金额（元）", "amount (yuan)"),
    ("settled_at", "结算时间", "settled"),
    ("documents_complete", "资料齐全", "documents complete"),
    ("spec", "规格", "specification"),
    ("quantity", "数量", "quantity"),
    ("unit", "单位", "unit"),
    ("requisition_no", "领料单号", "requisition"),
    ("requisitioned", "已领料", "requisitioned"),
    ("received", "已到货", "received"),
    ("kind", "类别", "kind"),
    ("number", "编号", "number"),
    ("authority", "发证机关", "authority"),
    ("issued_on", "签发日期", "issued"),
    ("expires_on", "有效期至", "expires"),
    ("at", "时间", "time"),
    ("author", "记录人", "author"),
    ("text", "内容", "text"),
    ("safety_ok", "安全合格", "safety ok"),
    ("quality_ok", "质量合格", "quality ok"),
    ("requested_at", "受理时间", "requested"),
    ("inspector", "检查人", "inspector"),
    ("written_notice", "一次性书面告知", "written notice given"),
    ("severity", "严重程度", "severity"),
    ("raised_by", "提出人", "raised by"),
    ("raised_at", "提出时间", "raised"),
    ("resolved", "已整改", "resolved"),
    ("resolved_at", "整改时间", "resolved at"),
    ("meter_asset_no", "电能表资产编号", "meter asset number"),
    ("initial_reading", "起度", "initial reading"),
    ("ct_ratio", "互感器变比", "CT ratio"),
    ("installer", "装表人", "installer"),
    ("installed_at", "装表时间", "installed"),
    ("powered_on_at", "送电时间", "powered on"),
    ("position", "位置", "position"),
    ("visited_at", "回访时间", "visited"),
    ("visitor", "回访人", "visitor"),
    ("satisfaction", "满意度", "satisfaction"),
    ("plan_replied_at", "所确认方案的答复时间", "reply confirmed"),
    ("plan_confirmed_at", "客户确认方案时间", "plan confirmed"),
    (
        "plan_question",
        "客户对方案的疑问",
        "the customer's question",
    ),
    ("plan_question_at", "提问时间", "asked"),
    ("rating", "客户评价（分）", "the customer's rating"),
    ("rating_comment", "客户评价意见", "the customer's comment"),
    ("rated_at", "评价时间", "rated"),
    ("fees_yuan", "应缴费用（元）", "fees due (yuan)"),
    ("fees_basis", "收费依据", "basis of the fees"),
    ("power_on_agreed_on", "约定送电日期", "agreed power-on date"),
    ("due_on", "期限", "due by"),
    ("comment", "意见", "comment"),
    ("state", "状态", "state"),
    ("reviewer", "审核人", "reviewer"),
    ("reviewed_at", "审核时间", "reviewed"),
    ("doc_type", "资料类型", "document"),
    ("collected", "已收取", "collected"),
    ("original_seen", "已验原件", "original seen"),
    ("collected_by", "收资人", "collected by"),
    ("collected_at", "收资时间", "collected at"),
    ("note", "备注", "note"),
    ("event", "事件", "event"),
    ("actor", "记录人", "recorded by"),
    ("recorded_at", "录入时间", "entered"),
    ("device", "设备", "device"),
    ("taken_at", "拍摄时间", "taken at"),
    ("captured_at", "入档时间", "added at"),
    ("reason", "原因", "reason"),
    ("started_at", "开始", "started"),
    ("started_by", "发起人", "started by"),
    ("ended_at", "结束", "ended"),
    ("ended_by", "结束人", "ended by"),
    ("issued_at", "督办时间", "issued"),
    ("issued_by", "督办人", "issued by"),
    ("issued_by_name", "督办人姓名", "issuer's name"),
    ("manager", "被督办人", "addressed to"),
    ("manager_name", "被督办人姓名", "addressee's name"),
    ("stage", "环节", "stage"),
    ("due_on", "办结期限", "deadline"),
    ("closed_at", "办结时间", "closed"),
    ("closed_by", "办结人", "closed by"),
    ("answered_by", "答复人", "answered by"),
    ("answered_at", "答复时间", "answered"),
    ("escalated_at", "升级时间", "escalated"),
    ("leaders", "单位负责人", "unit leaders"),
    ("leader_names", "单位负责人姓名", "leaders' names"),
    ("held_on", "会议日期", "held on"),
    ("place", "地点", "place"),
    ("organizer", "组织人", "organizer"),
    ("organizer_name", "组织人姓名", "organizer's name"),
    ("attendees", "参会人员", "attendees"),
    ("topics", "议题", "topics"),
    ("decisions", "会议决定", "decisions"),
    ("meeting", "所属会议", "meeting"),
    ("owner", "责任人", "owner"),
    ("owner_name", "责任人姓名", "owner's name"),
    ("done_at", "办结时间", "done"),
    ("done_by", "办结人", "done by"),
    ("planned_on", "计划接电日期", "planned power-on"),
    ("window_start_at", "接电时段开始", "window starts"),
    ("window_end_at", "接电时段结束", "window ends"),
    ("proposed_by", "报送人", "proposed by"),
    ("proposed_at", "报送时间", "proposed"),
    ("lines", "停电线路", "lines switched off"),
    (
        "transformers",
        "停电台区/变压器",
        "transformers switched off",
    ),
    ("starts_at", "停电开始", "outage starts"),
    ("ends_at", "停电结束", "outage ends"),
    ("customers_affected", "影响户数", "customers affected"),
    ("approval_no", "停电计划批准编号", "approval number"),
    ("filed_by", "报送人", "filed by"),
    ("filed_at", "报送时间", "filed"),
    ("decided_at", "批复时间", "decided"),
    (
        "designer_firm",
        "设计单位（登记编号）",
        "design firm (register id)",
    ),
    ("designer_name", "设计单位名称", "design firm"),
    (
        "builder_firm",
        "施工单位（登记编号）",
        "construction firm (register id)",
    ),
    ("builder_name", "施工单位名称", "construction firm"),
    ("works_start_on", "客户工程开工日期", "works start"),
    ("works_finish_on", "客户工程竣工日期", "works finish"),
    ("checked_by", "审核登记人", "checked by"),
    ("checked_at", "审核登记时间", "checked"),
    ("design_id", "典型设计编号", "typical design"),
    ("catalogue", "典型设计目录", "catalogue"),
    ("catalogue_version", "目录版本", "catalogue version"),
    ("title", "名称", "title"),
    (
        "cost_low_yuan",
        "典型造价下限（元）",
        "typical cost from (yuan)",
    ),
    (
        "cost_high_yuan",
        "典型造价上限（元）",
        "typical cost to (yuan)",
    ),
    ("picked_by", "选定人", "picked by"),
    ("picked_at", "选定时间", "picked"),
    ("ends_on", "临时用电截止日期", "temporary supply ends"),
    (
        "transformer_asset_no",
        "租赁变压器资产编号",
        "rented transformer's asset number",
    ),
    (
        "transformer_kva",
        "租赁变压器容量（千伏安）",
        "rented transformer (kVA)",
    ),
    ("rented_from_on", "租赁起始日期", "rented from"),
    ("rented_to_on", "租赁截止日期", "rented to"),
    ("removed_at", "拆除时间", "removed"),
    ("removed_by", "拆除登记人", "removal recorded by"),
    ("leader", "带队公司领导", "leading company officer"),
    ("leader_name", "带队领导姓名", "leader's name"),
    ("grid_manager", "网格经理", "grid manager"),
    ("grid_manager_name", "网格经理姓名", "grid manager's name"),
    (
        "customer_manager_name",
        "客户经理姓名",
        "customer manager's name",
    ),
    ("every_days", "走访周期（天）", "visit every (days)"),
    ("starts_on", "首次走访日期", "first visit due"),
    ("visited_on", "走访日期", "visited on"),
    ("participants", "走访人员", "visitors"),
    (
        "leader_present",
        "公司领导带队",
        "led by the company officer",
    ),
    ("recorded_by", "记录人", "recorded by"),
    ("notes", "备注", "notes"),
    ("job_no", "工单号", "job number"),
    ("created_at", "创建时间", "created"),
];

/// A return visit's contact channels: `(code, zh, en)`.
pub const VISIT_CHANNELS: &[(&str, &str, &str)] = &[
    ("phone", "电话", "phone"),
    ("on_site", "上门", "on site"),
    ("sms", "短信", "SMS"),
    ("wechat", "微信", "WeChat"),
];

/// A label for the last key of a document path (`customer.contact_phone` → 联系电话).
pub fn field(lang: Lang, key: &str) -> String {
    match FIELDS.iter().find(|(k, _, _)| *k == key) {
        Some((_, zh, en)) => lang.t(zh, en).to_string(),
        None if key == "special_loads" => lang.t("特殊负荷", "special loads").to_string(),
        None => key.to_string(),
    }
}

/// Where a field is shown among its section's fields (unknown keys last, by name).
pub fn field_rank(key: &str) -> usize {
    FIELDS
        .iter()
        .position(|(k, _, _)| *k == key)
        .unwrap_or(FIELDS.len())
}

/// A label for a whole dotted path: the labels of its fixed keys, ids kept as they are.
pub fn path(lang: Lang, dotted: &str) -> String {
    let mut parts = Vec::new();
    let count = dotted.split('.').count();
    for (i, key) in dotted.split('.').enumerate() {
        let last = i + 1 == count;
        let section = match key {
            // A map of findings inside a section; the survey's `findings` is a text field.
            "findings"
                if !last || !(dotted.starts_with("survey") || dotted.starts_with("key_visits")) =>
            {
                Some(lang.t("整改意见", "findings"))
            }
            "customer" => Some(lang.t("客户", "customer")),
            "agent" => Some(lang.t("代理人", "agent")),
            "application" => Some(lang.t("用电申请", "application")),
            "checklist" => Some(lang.t("收资清单", "checklist")),
            "assignment" => Some(lang.t("派工", "assignment")),
            "survey" => Some(lang.t("现场勘查", "survey")),
            "supply_plan" => Some(lang.t("供电方案", "supply plan")),
            "project" => Some(lang.t("配套工程", "project")),
            "logs" => Some(lang.t("施工日志", "logs")),
            "materials" => Some(lang.t("物资", "materials")),
            "permits" => Some(lang.t("许可", "permits")),
            "design" => Some(lang.t("设计", "design")),
            "acceptance" => Some(lang.t("验收", "acceptance")),
            "settlement" => Some(lang.t("结算", "settlement")),
            "inspections" => Some(lang.t("受电工程检查", "inspections")),
            "design_review" => Some(lang.t("设计审查", "design review")),
            "mid" => Some(lang.t("中间检查", "mid inspection")),
            "completion" => Some(lang.t("竣工检验", "completion inspection")),
            "metering" => Some(lang.t("计量装置", "metering")),
            "seals" => Some(lang.t("封印", "seals")),
            "return_visit" => Some(lang.t("回访", "return visit")),
            "customer_voice" => Some(lang.t("客户意见", "the customer's word")),
            "review" => Some(lang.t("审核", "review")),
            "milestones" => Some(lang.t("里程碑", "milestones")),
            "pauses" => Some(lang.t("等待客户", "waiting")),
            "photos" => Some(lang.t("照片", "photos")),
            "contracts" => Some(lang.t("合同", "contracts")),
            "receipt" => Some(lang.t("回执", "receipt")),
            "special_loads" => Some(lang.t("特殊负荷", "special loads")),
            "identity" => Some(lang.t("工单标识", "job identity")),
            "contract_receipts" => Some(lang.t("合同回执", "contract receipts")),
            "supervision" => Some(lang.t("督办", "supervision")),
            "answer" => Some(lang.t("答复", "answer")),
            "escalation" => Some(lang.t("升级", "escalation")),
            "supervision_answers" => Some(lang.t("督办答复", "supervision answers")),
            "supervision_escalations" => Some(lang.t("督办升级", "supervision escalations")),
            "meetings" => Some(lang.t("项目协调推进会", "coordination meetings")),
            "actions" => Some(lang.t("会议待办事项", "action items")),
            "done" => Some(lang.t("办结", "done")),
            "action_progress" => Some(lang.t("待办事项办结", "action items done")),
            "power_on_plan" => Some(lang.t("接电计划", "connection plan")),
            "outage_plan" => Some(lang.t("停电计划", "outage plan")),
            "customer_works" => Some(lang.t("客户工程设计施工单位", "the customer's firms")),
            "typical_design" => Some(lang.t("典型设计与造价", "typical design and cost")),
            "temporary_supply" => Some(lang.t("临时用电与变压器租赁", "temporary supply")),
            "visit_plan" => Some(lang.t("重要客户走访计划", "visit plan")),
            "key_visits" => Some(lang.t("重要客户走访记录", "important-customer visits")),
            _ => None,
        };
        parts.push(match section {
            Some(s) => s.to_string(),
            None => field(lang, key),
        });
    }
    parts.join(" › ")
}

fn code_label(lang: Lang, key: &str, v: &str) -> Option<String> {
    macro_rules! code {
        ($t:ty) => {
            <$t>::parse(v).map(|c| lang.t(c.zh(), c.en()).to_string())
        };
    }
    match key {
        "voltage" => code!(Voltage),
        "tariff" => code!(Tariff),
        "importance" => code!(Importance),
        "source" => code!(Source),
        "dev_zone" => code!(DevZone),
        "grid_health" => code!(GridHealth),
        "kind" => code!(JobKind),
        "status" => code!(JobStatus),
        "event" => code!(MilestoneEvent),
        "state" => code!(ReviewState).or_else(|| code!(OutageState)),
        "purpose" => code!(PhotoPurpose),
        "channel" => VISIT_CHANNELS
            .iter()
            .find(|(c, _, _)| *c == v)
            .map(|(_, zh, en)| lang.t(zh, en).to_string()),
        "severity" => match v {
            "must_fix" => Some(lang.t("必须整改", "must fix").to_string()),
            "advice" => Some(lang.t("建议", "advice").to_string()),
            _ => None,
        },
        _ => None,
    }
}

/// An instant as China local time, `2026-11-03 09:00`.
pub fn instant(t: chrono::DateTime<chrono::Utc>) -> String {
    t.with_timezone(&field_core::job::china_offset())
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

/// Milliseconds since the epoch as China local time.
pub fn millis(ms: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
        .map(instant)
        .unwrap_or_default()
}

/// How the value of `key` reads to a person: codes by their labels, flags as 是/否, instants
/// in China time.
pub fn value(lang: Lang, key: &str, v: &Json) -> String {
    match v {
        Json::Null => "—".into(),
        Json::Bool(b) => lang
            .t(if *b { "是" } else { "否" }, if *b { "yes" } else { "no" })
            .into(),
        Json::Number(n) => n.to_string(),
        Json::String(s) => {
            if let Some(l) = code_label(lang, key, s) {
                return l;
            }
            if (key == "at" || key.ends_with("_at"))
                && let Ok(t) = chrono::DateTime::parse_from_rfc3339(s)
            {
                return instant(t.with_timezone(&chrono::Utc));
            }
            s.clone()
        }
        other => other.to_string(),
    }
}

/// A role's name.
pub fn role(lang: Lang, r: &str) -> String {
    Role::parse(r)
        .map(|r| lang.t(r.zh(), r.en()).to_string())
        .unwrap_or_else(|| r.to_string())
}

/// A time-limit state's name.
pub fn sla(lang: Lang, s: &str) -> String {
    let (zh, en) = match s {
        "met" => ("已按时完成", "met"),
        "missed" => ("超时完成", "missed"),
        "overdue" => ("已超期", "overdue"),
        "due_soon" => ("即将到期", "due soon"),
        "on_track" => ("正常", "on track"),
        "not_started" => ("未开始", "not started"),
        other => (other, other),
    };
    lang.t(zh, en).to_string()
}

/// A review state's name (`none`: never submitted or reviewed).
pub fn review_state(lang: Lang, s: &str) -> String {
    match s {
        "none" => lang.t("未提交", "not submitted").into(),
        other => ReviewState::parse(other)
            .map(|r| lang.t(r.zh(), r.en()).to_string())
            .unwrap_or_else(|| other.to_string()),
    }
}
