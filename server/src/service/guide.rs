//! Open information (办事公开, seed 001 §2.4 and §4.1.1): per unit and kind of job, the steps, the
//! documents, the time limits from the rule set in force (the data the clocks use), the fees and
//! their basis from the fee schedule in force, and the customer's rights — as a public page and
//! as the PDF guide (供电业务报装指南) handed out at the counter.

use super::Env;
use super::units::Unit;
use crate::error::ServerError;
use field_core::JobKind;
use field_core::guide::{Guide, GuideHeader};

/// A unit's guide for one kind.
pub struct UnitGuide {
    pub unit: Unit,
    pub guide: Guide,
}

fn kind(code: &str) -> Result<JobKind, ServerError> {
    JobKind::parse(code).ok_or(ServerError::NotFound)
}

/// The guide of `unit` for the kind coded `kind` (not found for an unknown unit or kind).
pub fn for_kind(env: &Env, unit: &str, kind_code: &str) -> Result<UnitGuide, ServerError> {
    let kind = kind(kind_code)?;
    let unit = super::units::get(env, unit)?;
    let today = field_core::job::local_date(chrono::Utc::now());
    let (rules, fees) = (env.rules(), env.fees());
    let guide = field_core::guide::guide(
        rules.in_force(&unit.unit, today),
        fees.in_force(&unit.unit, today),
        kind,
    );
    Ok(UnitGuide { unit, guide })
}

/// The guide as a PDF, in Chinese (or English), with the link to apply online as a QR code.
/// CPU-bound: call it from a blocking thread.
pub fn pdf(
    env: &Env,
    unit: &str,
    kind_code: &str,
    english: bool,
    apply_link: &str,
) -> Result<Vec<u8>, ServerError> {
    let g = for_kind(env, unit, kind_code)?;
    let report = g.guide.report(&GuideHeader {
        unit_name: g.unit.name.clone(),
        address: g.unit.address.clone(),
        hall_hours: g.unit.hall_hours.clone(),
        hotline: g.unit.hotline.clone(),
        apply_link: apply_link.to_string(),
        english,
    });
    crate::pdf::render_report(&report)?.ok_or_else(super::exports::no_pdf)
}
