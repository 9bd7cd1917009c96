//! The written receipt (书面回执): at each step the customer is told in writing what was done, the
//! next step's time limit as a date, and whom to contact, with a QR code of their progress page.
//! The phone and the server build the same [`Report`] from the job and its time limits; the PDF
//! renderer (`contract-pdf`) typesets it.

use crate::job::{Job, local_date};
use crate::report::{Report, ReportBlock};
use crate::sla::TimeLimits;
use chrono::{DateTime, Utc};

fn day(d: chrono::NaiveDate) -> String {
    d.format("%Y年%-m月%-d日").to_string()
}

/// The receipt for `job` as of `now`, with its time limits as of today. `progress_url` is the
/// customer's progress page (`None` while the job has not reached the server yet).
pub fn written_receipt(
    job: &Job,
    limits: &TimeLimits,
    progress_url: Option<&str>,
    now: DateTime<Utc>,
) -> Report {
    let a = &job.assignment;
    let mut fields = vec![
        ("工单号".to_string(), job.job_no.clone()),
        (
            "客户".to_string(),
            job.customer.name.clone().unwrap_or_default(),
        ),
        ("业务类别".to_string(), job.kind.zh().to_string()),
        ("受理日期".to_string(), day(job.accepted_on())),
        ("当前进度".to_string(), job.status().zh().to_string()),
    ];
    if let Some(address) = &job.customer.address {
        fields.insert(2, ("用电地址".to_string(), address.clone()));
    }
    let mut blocks = vec![ReportBlock::Fields(fields)];

    // What was done last.
    if let Some((_, m)) = job.timeline().last()
        && let (Some(event), Some(at)) = (m.event, m.at)
    {
        blocks.push(ReportBlock::Heading("本环节办理情况".into()));
        blocks.push(ReportBlock::Para(format!(
            "{}已于 {} 完成“{}”。",
            job.customer.name.as_deref().unwrap_or("您的用电申请"),
            day(local_date(at)),
            event.zh()
        )));
    }

    // What comes next, and by when.
    blocks.push(ReportBlock::Heading("下一环节及办理时限".into()));
    let running: Vec<Vec<String>> = limits
        .clocks
        .iter()
        .filter(|c| c.started_on.is_some() && c.ended_on.is_none())
        .map(|c| {
            vec![
                c.stage.zh().to_string(),
                if c.limit_days == 0 {
                    "当日".to_string()
                } else {
                    format!("{} 个工作日", c.limit_days)
                },
                c.due_on.map(day).unwrap_or_else(|| "—".into()),
                if c.paused_now {
                    "等待客户，暂停计时".to_string()
                } else {
                    String::new()
                },
            ]
        })
        .collect();
    if running.is_empty() {
        blocks.push(ReportBlock::Para(
            "目前没有正在计时的环节（已办结，或待您提供资料后继续）。".into(),
        ));
    } else {
        blocks.push(ReportBlock::Table {
            header: vec![
                "环节".into(),
                "时限".into(),
                "最迟办结日期".into(),
                "说明".into(),
            ],
            rows: running,
        });
    }
    blocks.push(ReportBlock::Note(
        "时限按工作日计算（不含法定节假日），等待客户提供资料或完成受电工程期间暂停计时。".into(),
    ));

    // Whom to contact.
    blocks.push(ReportBlock::Heading("联系人".into()));
    let mut contact = Vec::new();
    if let Some(cm) = &a.customer_manager {
        let name = a
            .customer_manager_name
            .clone()
            .unwrap_or_else(|| cm.clone());
        contact.push(("客户经理".to_string(), format!("{name}（工号 {cm}）")));
    }
    if let (Some(pm), None) = (&a.project_manager, a.pm_released_at) {
        let name = a.project_manager_name.clone().unwrap_or_else(|| pm.clone());
        contact.push(("项目经理".to_string(), format!("{name}（工号 {pm}）")));
    }
    if contact.is_empty() {
        blocks.push(ReportBlock::Para(
            "营业厅正在为您安排客户经理，安排后将通知您。".into(),
        ));
    } else {
        blocks.push(ReportBlock::Fields(contact));
    }

    match progress_url {
        Some(url) => blocks.push(ReportBlock::Qr {
            text: url.to_string(),
            caption: format!("扫码或打开链接查看办电进度（不含个人信息）：\n{url}"),
        }),
        None => blocks.push(ReportBlock::Note(
            "工单同步到服务器后，可向客户经理索取带进度查询二维码的回执。".into(),
        )),
    }

    Report {
        title: "业扩报装书面回执".into(),
        subtitle: format!("{} · {}", job.unit, job.job_no),
        footer: format!(
            "{} · 出具时间 {}",
            job.job_no,
            now.with_timezone(&crate::job::china_offset())
                .format("%Y-%m-%d %H:%M")
        ),
        blocks,
        signatures: vec!["客户签收".into(), "客户经理".into()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Calendar, JobDoc, JobKind, NewJob, RuleSet};

    #[test]
    fn the_receipt_names_the_next_step_its_date_and_the_contact() {
        let accepted = chrono::Utc::now();
        let new = NewJob {
            id: None,
            job_no: Some("YK-R1".into()),
            kind: JobKind::LowVoltageSmallMicro,
            unit: "zhuxian".into(),
            accepted_at: accepted,
            customer: crate::job::Customer {
                name: Some("周建国".into()),
                ..Default::default()
            },
            application: Default::default(),
        };
        let ctx = crate::EditContext {
            actor: "office1".into(),
            device: "d".into(),
            now: accepted,
        };
        let mut doc = JobDoc::create(
            automerge::ActorId::random(),
            &new,
            &RuleSet::default(),
            &ctx,
        )
        .unwrap();
        doc.apply(
            &crate::Edit::UpdateAssignment(crate::job::Assignment {
                customer_manager: Some("cm-li".into()),
                customer_manager_name: Some("李强".into()),
                ..Default::default()
            }),
            &ctx,
        )
        .unwrap();
        let job = doc.job().unwrap();
        let today = local_date(accepted);
        let limits =
            crate::sla::time_limits(&job, &RuleSet::default(), &Calendar::embedded(), today);
        let r = written_receipt(&job, &limits, Some("https://x/p/abc.def"), accepted);
        let text = format!("{r:?}");
        assert!(text.contains("全流程（小微企业）"), "{text}");
        let due = limits.next_due().unwrap();
        assert!(text.contains(&day(due)), "the due date: {text}");
        assert!(text.contains("李强（工号 cm-li）"), "{text}");
        assert!(
            r.blocks.iter().any(
                |b| matches!(b, ReportBlock::Qr { text, .. } if text == "https://x/p/abc.def")
            )
        );
        let offline = written_receipt(&job, &limits, None, accepted);
        assert!(
            !offline
                .blocks
                .iter()
                .any(|b| matches!(b, ReportBlock::Qr { .. }))
        );
    }
}
