//! The customer's guide (供电业务报装指南, seed 001 §4.1.1): for one kind of job, the service
//! steps, the documents to bring, the time limits, the fees and their basis, and the customer's
//! rights — built from the rule set in force (the very data the clocks use) and the fee schedule
//! in force, so the public page, the PDF handed out at the counter and the phone never disagree
//! with what the clocks count. Pure: the server renders it as a page or a PDF (through
//! [`crate::report::Report`]), the phone as it likes.

use crate::codes::JobKind;
use crate::fees::{FeeItem, FeeSchedule};
use crate::rules::{Condition, Label, RuleSet};
use crate::sla::Stage;

/// A group of documents: one of `options` (or, in rural areas, of `rural_options`).
#[derive(Debug, Clone, PartialEq)]
pub struct GuideDocuments {
    pub label: Label,
    /// When the group is needed.
    pub when: Label,
    pub options: Vec<Label>,
    pub rural_options: Vec<Label>,
    /// Any option must be shown in original.
    pub original: bool,
}

/// A time limit: the stage, when it applies, and the limit in working days (0: the same day).
#[derive(Debug, Clone, PartialEq)]
pub struct GuideLimit {
    pub stage: Stage,
    pub when: Label,
    pub working_days: u32,
}

/// Everything a guide says for one kind.
#[derive(Debug, Clone, PartialEq)]
pub struct Guide {
    pub kind: JobKind,
    /// `id vN` of the rule set and of the fee schedule it was built from.
    pub rule_set: String,
    pub fee_schedule: String,
    pub steps: Vec<Label>,
    /// Steps added when the utility does not invest to the red line.
    pub extra_steps: Vec<Label>,
    pub documents: Vec<GuideDocuments>,
    pub limits: Vec<GuideLimit>,
    pub fees: Vec<FeeItem>,
    pub rights: Vec<Label>,
}

fn l(zh: &str, en: &str) -> Label {
    Label {
        zh: zh.into(),
        en: en.into(),
    }
}

fn when(c: Condition) -> Label {
    match c {
        Condition::Always => l("必备", "always"),
        Condition::ImportantCustomer => l("重要客户", "important customers"),
        Condition::SpecialIndustry => l("采矿等特种行业", "mining and other licensed industries"),
        Condition::Agent => l("委托他人办理时", "when an agent files for you"),
    }
}

/// The guide for `kind` from `rules` and `fees`.
pub fn guide(rules: &RuleSet, fees: &FeeSchedule, kind: JobKind) -> Guide {
    let k = rules.kind(kind);
    let documents = rules
        .document_groups(kind)
        .into_iter()
        .map(|g| GuideDocuments {
            label: g.label.clone(),
            when: when(g.when),
            options: g.options.iter().map(|o| o.label.clone()).collect(),
            rural_options: g.rural_options.iter().map(|o| o.label.clone()).collect(),
            original: g.options.iter().any(|o| o.original),
        })
        .collect();
    Guide {
        kind,
        rule_set: format!("{} v{}", rules.id, rules.version),
        fee_schedule: format!("{} v{}", fees.id, fees.version),
        steps: k.map(|k| k.steps.clone()).unwrap_or_default(),
        extra_steps: k
            .map(|k| k.extra_steps_without_investment.clone())
            .unwrap_or_default(),
        documents,
        limits: limits(rules, kind),
        fees: fees.for_kind(kind).cloned().collect(),
        rights: rights(),
    }
}

/// The stages the clocks count for `kind` (`sla::time_limits` decides per job; here each with
/// when it applies).
fn limits(rules: &RuleSet, kind: JobKind) -> Vec<GuideLimit> {
    let lim = &rules.limits;
    let t = &rules.thresholds;
    let hv_like = matches!(kind, JobKind::HighVoltage | JobKind::ResidentialCommunity);
    let inspections_always = rules.kind(kind).is_some_and(|k| k.inspections_always);
    let mut out = vec![GuideLimit {
        stage: Stage::Handover,
        when: l(
            "受理后转客户经理",
            "from acceptance to your customer manager",
        ),
        working_days: lim.handover,
    }];
    let mut push = |stage, when, working_days| {
        out.push(GuideLimit {
            stage,
            when,
            working_days,
        })
    };
    if kind == JobKind::LowVoltageSmallMicro {
        push(
            Stage::WholeJob,
            l("受理至送电全过程", "the whole job, application to power-on"),
            lim.small_micro_whole_job,
        );
    }
    if hv_like {
        push(
            Stage::SupplyPlanReply,
            l("单电源", "single source"),
            lim.plan_reply_single,
        );
        push(
            Stage::SupplyPlanReply,
            l("双电源", "dual source"),
            lim.plan_reply_dual,
        );
    }
    push(
        Stage::AccessApproval,
        Label {
            zh: format!(
                "接入工程超过 {:.0} 米需行政审批时（{:.0} 米及以内免审批、承诺备案）",
                t.approval_exempt_max_m, t.approval_exempt_max_m
            ),
            en: format!(
                "when access works over {:.0} m need approval ({:.0} m or less: exempt, filed on commitment)",
                t.approval_exempt_max_m, t.approval_exempt_max_m
            ),
        },
        lim.access_approval,
    );
    if hv_like || inspections_always {
        let w = if inspections_always {
            l("必经环节", "always")
        } else {
            l(
                "重要或有特殊负荷（谐波、冲击、波动、不对称）的客户",
                "important customers and special loads (harmonic, impact, fluctuating, asymmetric)",
            )
        };
        push(Stage::DesignReview, w.clone(), lim.design_review);
        push(Stage::MidInspection, w, lim.mid_inspection);
        push(
            Stage::CompletionInspection,
            l(
                "竣工检验答复（问题一次性书面告知）",
                "completion inspection reply (every finding told once, in writing)",
            ),
            lim.completion_inspection,
        );
    }
    push(
        Stage::PowerOn,
        l(
            "检验合格、合同签订、费用结清后",
            "after inspection passed, contract signed and fees paid",
        ),
        lim.power_on,
    );
    if kind == JobKind::LowVoltageSmallMicro {
        push(
            Stage::SupportingWorks,
            l(
                "供电公司投资的配套工程（现场勘查后即开工）",
                "utility-invested supporting works (started on site after the survey)",
            ),
            lim.supporting_works_small_micro,
        );
    } else if hv_like {
        push(
            Stage::SupportingWorks,
            l(
                "供电公司投资的 10 千伏配套工程",
                "utility-invested 10 kV supporting works",
            ),
            lim.supporting_works_10kv,
        );
    }
    out
}

/// The customer's rights the seeds promise.
fn rights() -> Vec<Label> {
    vec![
        l(
            "自主选择客户经理（客户自选业务经理），并对服务进行评价。",
            "Choose your customer manager yourself, and rate the service.",
        ),
        l(
            "自主选择受电工程的设计、施工和设备材料供应单位，供电企业不指定（三不指定）。",
            "Choose the designer, builder and suppliers of your own works: the utility designates none.",
        ),
        l(
            "每个环节获得书面回执并被告知下一环节的办理时限；检验发现的问题一次性书面告知。",
            "Get a written receipt at every step with the next step's time limit; every inspection finding told once, in writing.",
        ),
        l(
            "通过办电进度链接随时查询进度、确认供电方案。",
            "Follow your application and confirm the supply plan through your progress link at any time.",
        ),
        l(
            "对服务不满意可拨打供电服务热线 95598 或能源监管投诉举报热线 12398。",
            "If unhappy with the service, call 95598 (electricity service) or 12398 (energy regulation complaints).",
        ),
    ]
}

/// How a guide is printed: the unit as customers know it and the language.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GuideHeader {
    pub unit_name: String,
    pub address: String,
    pub hall_hours: String,
    pub hotline: String,
    /// Where to apply online (printed as a QR code).
    pub apply_link: String,
    pub english: bool,
}

impl Guide {
    /// The guide as a printable document.
    pub fn report(&self, h: &GuideHeader) -> crate::report::Report {
        use crate::report::{Report, ReportBlock as B};
        let t = |l: &Label| {
            if h.english {
                l.en.clone()
            } else {
                l.zh.clone()
            }
        };
        let s = |zh: &str, en: &str| {
            if h.english {
                en.to_string()
            } else {
                zh.to_string()
            }
        };
        let kind = if h.english {
            self.kind.en()
        } else {
            self.kind.zh()
        };
        let mut blocks = vec![B::Fields(
            [
                (s("供电单位", "Supplied by"), h.unit_name.clone()),
                (s("营业厅地址", "Service hall"), h.address.clone()),
                (s("营业时间", "Opening hours"), h.hall_hours.clone()),
                (s("服务电话", "Hotline"), h.hotline.clone()),
                (
                    s("全国热线", "National hotlines"),
                    s(
                        "95598（供电服务）、12398（能源监管投诉举报）",
                        "95598 (service), 12398 (energy regulation complaints)",
                    ),
                ),
            ]
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .collect(),
        )];
        blocks.push(B::Heading(s("一、办理环节", "1. Steps")));
        let steps: Vec<String> = self
            .steps
            .iter()
            .enumerate()
            .map(|(i, st)| format!("{}. {}", i + 1, t(st)))
            .collect();
        blocks.push(B::Para(steps.join("　")));
        if !self.extra_steps.is_empty() {
            blocks.push(B::Note(format!(
                "{}{}",
                s(
                    "不符合投资至红线条件时另有：",
                    "When the utility does not invest to the red line, also: "
                ),
                self.extra_steps
                    .iter()
                    .map(t)
                    .collect::<Vec<_>>()
                    .join("、")
            )));
        }
        blocks.push(B::Heading(s("二、所需资料", "2. Documents")));
        blocks.push(B::Para(s(
            "一证受理：凭身份证（单位客户为营业执照）即可受理，其余资料可由客户经理上门收取。",
            "One document is enough to apply (an ID card, or a business licence); your customer manager collects the rest.",
        )));
        blocks.push(B::Table {
            header: vec![
                s("资料", "Document"),
                s("何时需要", "When"),
                s("可提供其一", "Any one of"),
            ],
            rows: self
                .documents
                .iter()
                .map(|d| {
                    let mut options = d.options.iter().map(t).collect::<Vec<_>>().join("、");
                    if !d.rural_options.is_empty() {
                        options.push_str(&format!(
                            "{}{}",
                            s("；农村地区也可：", "; in rural areas also: "),
                            d.rural_options.iter().map(t).collect::<Vec<_>>().join("、")
                        ));
                    }
                    if d.original {
                        options.push_str(&s("（须验原件）", " (original shown)"));
                    }
                    vec![t(&d.label), t(&d.when), options]
                })
                .collect(),
        });
        blocks.push(B::Heading(s(
            "三、办理时限（工作日）",
            "3. Time limits (working days)",
        )));
        blocks.push(B::Table {
            header: vec![s("环节", "Stage"), s("适用", "Applies"), s("时限", "Limit")],
            rows: self
                .limits
                .iter()
                .map(|x| {
                    let days = if x.working_days == 0 {
                        s("当日", "the same day")
                    } else {
                        format!("≤ {} {}", x.working_days, s("个工作日", "working days"))
                    };
                    let stage = if h.english {
                        x.stage.en()
                    } else {
                        x.stage.zh()
                    };
                    vec![stage.to_string(), t(&x.when), days]
                })
                .collect(),
        });
        blocks.push(B::Note(s(
            "客户原因等待期间不计入时限。",
            "Time spent waiting on the customer does not count.",
        )));
        blocks.push(B::Heading(s(
            "四、收费标准和收费依据",
            "4. Fees and their basis",
        )));
        blocks.push(B::Table {
            header: vec![s("项目", "Item"), s("标准", "Standard"), s("依据", "Basis")],
            rows: self
                .fees
                .iter()
                .map(|f| vec![t(&f.item), t(&f.standard), t(&f.basis)])
                .collect(),
        });
        blocks.push(B::Heading(s("五、您的权利", "5. Your rights")));
        for r in &self.rights {
            blocks.push(B::Para(format!("· {}", t(r))));
        }
        if !h.apply_link.is_empty() {
            blocks.push(B::Qr {
                text: h.apply_link.clone(),
                caption: format!(
                    "{}{}",
                    s("扫码网上办电：", "Scan to apply online: "),
                    h.apply_link
                ),
            });
        }
        Report {
            title: format!(
                "{} · {}",
                s("供电业务报装指南", "Guide to applying for electricity"),
                kind
            ),
            subtitle: h.unit_name.clone(),
            footer: format!(
                "{} {} · {} {}",
                s("规则集", "rule set"),
                self.rule_set,
                s("收费标准", "fees"),
                self.fee_schedule
            ),
            blocks,
            signatures: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RuleBook;

    #[test]
    fn the_guide_says_what_the_clocks_count() {
        let book = RuleBook::default();
        let day = chrono::NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        let rules = book.in_force("zhuxian", day);
        let fees = crate::fees::FeeBook::default();
        let g = guide(
            rules,
            fees.in_force("zhuxian", day),
            JobKind::LowVoltageSmallMicro,
        );
        let whole = g
            .limits
            .iter()
            .find(|l| l.stage == Stage::WholeJob)
            .unwrap();
        assert_eq!(whole.working_days, rules.limits.small_micro_whole_job);
        assert!(g.documents.iter().any(|d| d.label.zh == "主体证明"));
        assert!(g.fees.iter().any(|f| f.standard.zh.contains("零投资")));
        let hv = guide(rules, fees.in_force("zhuxian", day), JobKind::HighVoltage);
        let dual = hv
            .limits
            .iter()
            .find(|l| l.stage == Stage::SupplyPlanReply && l.when.zh == "双电源")
            .unwrap();
        assert_eq!(dual.working_days, rules.limits.plan_reply_dual);
        let r = hv.report(&GuideHeader {
            unit_name: "邾县供电公司".into(),
            ..Default::default()
        });
        assert!(r.title.contains("报装指南") && r.title.contains("高压"));
        assert_eq!(r.subtitle, "邾县供电公司");
    }
}
