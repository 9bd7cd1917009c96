//! The customer's design and construction firms (客户工程设计、施工单位资质, seed 003 第三条(二)):
//! a register of firms per unit (reference data of kind `contractor_firms`, versioned like rule
//! sets) with each firm's qualification, grade, certificate and its validity; and the rule that
//! a firm named on a job has the right role, a grade that covers the job's voltage, and a
//! certificate valid over the works' dates. Phone and server judge with the same function.

use crate::codes::{FirmRole, Voltage};
use crate::job::Job;
use crate::rules::Label;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// One firm and its qualification certificate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Firm {
    pub id: String,
    pub name: String,
    pub role: FirmRole,
    /// The qualification (e.g. 承装（修、试）电力设施许可证, 工程设计电力行业资质).
    pub qualification: String,
    /// 1 = the highest grade (一级 / 甲级); design grades are 1–3 (甲乙丙), construction 1–5
    /// (一至五级).
    pub grade: u8,
    pub certificate_no: String,
    pub valid_from: NaiveDate,
    pub valid_until: NaiveDate,
}

impl Firm {
    /// The highest voltage (kV) the firm's grade covers (`None`: every voltage). Construction
    /// licences (承装（修、试）电力设施许可证): 一级 any, 二级 ≤ 330 kV, 三级 ≤ 110 kV,
    /// 四级 ≤ 35 kV, 五级 ≤ 10 kV; design (电力行业设计资质): 甲级 any, 乙级 ≤ 220 kV,
    /// 丙级 ≤ 110 kV.
    pub fn max_kv(&self) -> Option<f64> {
        match (self.role, self.grade) {
            (_, 1) => None,
            (FirmRole::Construction, 2) => Some(330.0),
            (FirmRole::Construction, 3) | (FirmRole::Design, 3) => Some(110.0),
            (FirmRole::Construction, 4) => Some(35.0),
            (FirmRole::Construction, _) => Some(10.0),
            (FirmRole::Design, _) => Some(220.0),
        }
    }

    /// The grade as people name it (一级 / 甲级 …).
    pub fn grade_label(&self) -> Label {
        let zh = match (self.role, self.grade) {
            (FirmRole::Design, 1) => "甲级",
            (FirmRole::Design, 2) => "乙级",
            (FirmRole::Design, _) => "丙级",
            (_, 1) => "一级",
            (_, 2) => "二级",
            (_, 3) => "三级",
            (_, 4) => "四级",
            _ => "五级",
        };
        Label {
            zh: zh.into(),
            en: format!("grade {}", self.grade),
        }
    }
}

/// A unit's register of firms from a day on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FirmRegister {
    pub id: String,
    pub version: u32,
    pub effective_from: NaiveDate,
    pub unit: Option<String>,
    #[serde(default)]
    pub description: String,
    pub firms: Vec<Firm>,
}

crate::book::versioned!(FirmRegister);

/// Why a register is refused.
#[derive(Debug, thiserror::Error)]
pub enum FirmError {
    #[error("资质登记格式错误 / the register of firms is malformed: {0}")]
    Malformed(#[from] serde_json::Error),
    #[error("资质登记无效：{zh} / the register of firms is invalid: {en}")]
    Invalid { zh: String, en: String },
}

const FIRMS_MAX: usize = 2000;

impl FirmRegister {
    /// Parses and checks a register: a unit, 1–2,000 firms with distinct ids, names and
    /// certificate numbers present (≤ 200 characters), grades in range, validity in order.
    pub fn from_json(json: &str) -> Result<FirmRegister, FirmError> {
        let r: FirmRegister = serde_json::from_str(json)?;
        let invalid = |zh: String, en: String| Err(FirmError::Invalid { zh, en });
        if let Err((zh, en)) =
            crate::book::check_set(&r.id, r.firms.len(), FIRMS_MAX, ("单位", "firms"))
        {
            return invalid(zh, en);
        }
        if r.unit.as_deref().is_none_or(|u| u.trim().is_empty()) {
            return invalid(
                "资质登记属于一个单位，缺少单位".into(),
                "a register belongs to a unit; the unit is missing".into(),
            );
        }
        let mut ids = std::collections::BTreeSet::new();
        for (i, f) in r.firms.iter().enumerate() {
            let n = i + 1;
            if crate::validate::check_id("firm.id", &f.id).is_err() || !ids.insert(&f.id) {
                return invalid(
                    format!("第 {n} 家的编号无效或重复"),
                    format!("firm {n}: the id is invalid or repeated"),
                );
            }
            let bad = |t: &str| crate::book::bad_text(t, 200);
            if bad(&f.name) || bad(&f.qualification) || bad(&f.certificate_no) {
                return invalid(
                    format!("第 {n} 家的名称、资质或证书编号缺失或过长（最多 200 字）"),
                    format!(
                        "firm {n}: the name, qualification or certificate number is missing or too long (at most 200)"
                    ),
                );
            }
            let top = match f.role {
                FirmRole::Design => 3,
                FirmRole::Construction => 5,
            };
            if !(1..=top).contains(&f.grade) {
                return invalid(
                    format!("第 {n} 家的资质等级应为 1–{top}"),
                    format!("firm {n}: the grade is 1–{top}"),
                );
            }
            if f.valid_until < f.valid_from {
                return invalid(
                    format!("第 {n} 家的证书有效期结束早于开始"),
                    format!("firm {n}: the certificate expires before it is valid"),
                );
            }
        }
        Ok(r)
    }

    pub fn get(&self, id: &str) -> Option<&Firm> {
        self.firms.iter().find(|f| f.id == id)
    }
}

/// Every register known (none until installed).
pub type FirmBook = crate::book::Book<FirmRegister>;

/// The verdict on one firm named on a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FirmCheck {
    pub role: FirmRole,
    pub firm_id: String,
    /// From the register (`None`: not registered).
    pub firm_name: Option<String>,
    pub ok: bool,
    /// Why not (empty when ok).
    pub reasons: Vec<Label>,
}

fn reason(zh: String, en: String) -> Label {
    Label { zh, en }
}

/// Judges the firms a job names (designer and builder) against `register`: registered, the
/// right role, a grade covering the job's voltage, a certificate valid from the works' start (or
/// `today`) to their finish (or `today`).
pub fn check(job: &Job, register: Option<&FirmRegister>, today: NaiveDate) -> Vec<FirmCheck> {
    let w = &job.customer_works;
    let voltage: Option<Voltage> = job.supply_plan.voltage.or(job.application.voltage);
    let from = w.works_start_on.unwrap_or(today);
    let until = w.works_finish_on.unwrap_or(today).max(from);
    [
        (FirmRole::Design, &w.designer_firm),
        (FirmRole::Construction, &w.builder_firm),
    ]
    .into_iter()
    .filter_map(|(role, id)| Some((role, id.as_deref()?)))
    .filter(|(_, id)| !id.trim().is_empty())
    .map(|(role, id)| {
        let firm = register.and_then(|r| r.get(id));
        let mut reasons = Vec::new();
        match firm {
            None => reasons.push(reason(
                format!("{id} 不在本单位的资质登记中"),
                format!("{id} is not in the unit's register of firms"),
            )),
            Some(f) => {
                if f.role != role {
                    reasons.push(reason(
                        format!("{}登记为{}，不是{}", f.name, f.role.zh(), role.zh()),
                        format!("{} is registered as a {}, not a {}", f.name, f.role.en(), role.en()),
                    ));
                }
                if let (Some(v), Some(max)) = (voltage, f.max_kv())
                    && v.kv() > max
                {
                    let g = f.grade_label();
                    reasons.push(reason(
                        format!("{}资质为{}，最高承接 {max} 千伏，本工程为{}", f.name, g.zh, v.zh()),
                        format!("{} holds {}, up to {max} kV; the job is {}", f.name, g.en, v.en()),
                    ));
                }
                if f.valid_from > from || f.valid_until < until {
                    reasons.push(reason(
                        format!(
                            "{}证书 {} 有效期 {} 至 {}，未覆盖工程日期 {from} 至 {until}",
                            f.name, f.certificate_no, f.valid_from, f.valid_until
                        ),
                        format!(
                            "{}'s certificate {} is valid {} to {}, not over the works' dates {from} to {until}",
                            f.name, f.certificate_no, f.valid_from, f.valid_until
                        ),
                    ));
                }
            }
        }
        FirmCheck {
            role,
            firm_id: id.to_string(),
            firm_name: firm.map(|f| f.name.clone()),
            ok: reasons.is_empty(),
            reasons,
        }
    })
    .collect()
}
