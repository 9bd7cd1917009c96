//! Managers' qualifications (任职条件, seed 003 第五条/第六条): each user's title, skill grade and
//! trainings, kept by admins; the counter sees a manager who falls short flagged before
//! assigning them, and is refused when the unit's rule set says `block`.

use super::{Env, audit, now_ms};
use crate::authz::Principal;
use crate::error::ServerError;
use crate::store::{QualificationRow, TrainingRow};
use field_core::Role;
use field_core::qualification::{
    QualificationRule, Qualifications, Skill, Title, Training, shortfalls,
};
use field_core::rules::Reason;
use std::collections::HashMap;

/// Every user's qualifications in `unit`, by user name (users with nothing recorded have none).
pub fn of_unit(env: &Env, unit: &str) -> Result<HashMap<String, Qualifications>, ServerError> {
    Ok(read(env, unit)?.0)
}

/// The qualifications of `unit`'s users and the training rows they were built from.
fn read(
    env: &Env,
    unit: &str,
) -> Result<(HashMap<String, Qualifications>, Vec<TrainingRow>), ServerError> {
    let tx = env.store.read()?;
    let mut out: HashMap<String, Qualifications> = HashMap::new();
    for q in tx.qualifications_of(unit)? {
        let e = out.entry(q.username).or_default();
        e.title = Title::parse(&q.title).unwrap_or(Title::None);
        e.skill = Skill::parse(&q.skill).unwrap_or(Skill::None);
    }
    let rows = tx.trainings_of(unit)?;
    for t in &rows {
        let Ok(day) = chrono::NaiveDate::parse_from_str(&t.completed_on, "%Y-%m-%d") else {
            continue;
        };
        out.entry(t.username.clone())
            .or_default()
            .trainings
            .push(Training {
                course: t.course.clone(),
                completed_on: day,
                certificate: t.certificate.clone(),
            });
    }
    Ok((out, rows))
}

/// A user's qualifications and the ids of their trainings (the admin's page).
pub fn of_user(
    env: &Env,
    unit: &str,
    username: &str,
) -> Result<(Qualifications, Vec<TrainingRow>), ServerError> {
    let (mut all, rows) = read(env, unit)?;
    let rows = rows
        .into_iter()
        .filter(|t| t.username == username)
        .collect();
    Ok((all.remove(username).unwrap_or_default(), rows))
}

/// Where `username` (of `role`) falls short in `unit`'s eyes, and whether the unit blocks it.
fn check(
    env: &Env,
    unit: &str,
    username: &str,
    role: Role,
) -> Result<(Vec<Reason>, QualificationRule), ServerError> {
    let q = of_unit(env, unit)?.remove(username).unwrap_or_default();
    let today = field_core::job::local_date(chrono::Utc::now());
    let rule = env
        .rules()
        .in_force(unit, today)
        .thresholds
        .manager_qualification;
    Ok((shortfalls(role, &q), rule))
}

/// Refuses assigning `username` as `role` in `unit` when they fall short and the unit blocks it.
pub fn require(env: &Env, unit: &str, username: &str, role: Role) -> Result<(), ServerError> {
    let (short, rule) = check(env, unit, username, role)?;
    if short.is_empty() || rule == QualificationRule::Warn {
        return Ok(());
    }
    let zh: Vec<&str> = short.iter().map(|r| r.zh.as_str()).collect();
    let en: Vec<&str> = short.iter().map(|r| r.en.as_str()).collect();
    Err(ServerError::bad(
        "unqualified",
        format!("{username} 不符合{}任职条件：{}", role.zh(), zh.join("；")),
        format!(
            "{username} does not meet the conditions for a {}: {}",
            role.en(),
            en.join("; ")
        ),
    ))
}

fn user_in(env: &Env, username: &str) -> Result<String, ServerError> {
    env.store
        .read()?
        .user_by_name(username)?
        .map(|u| u.unit)
        .ok_or(ServerError::NotFound)
}

/// Records a user's title and skill grade, as the admin `who`.
pub fn set(
    env: &Env,
    who: &Principal,
    username: &str,
    title: &str,
    skill: &str,
) -> Result<(), ServerError> {
    super::admin::require_admin(who, "记录任职资格", "record qualifications")?;
    user_in(env, username)?;
    let bad = || {
        ServerError::bad(
            "invalid_value",
            "未知的职称或技能等级",
            "unknown title or skill grade",
        )
    };
    let title = Title::parse(title).ok_or_else(bad)?;
    let skill = Skill::parse(skill).ok_or_else(bad)?;
    let mut tx = env.store.write()?;
    tx.set_qualification(
        &QualificationRow {
            username: username.to_string(),
            title: title.as_str().into(),
            skill: skill.as_str().into(),
        },
        now_ms(),
        &who.username,
    )?;
    let mut entry = audit::by(who, "qualification_set");
    entry.detail =
        serde_json::json!({ "user": username, "title": title.as_str(), "skill": skill.as_str() });
    audit::append(&mut *tx, entry)?;
    tx.commit()?;
    Ok(())
}

/// The courses the form offers: `(code, zh, en)`.
pub const COURSES: &[(&str, &str, &str)] = &[
    (
        field_core::qualification::BUSINESS_EXPANSION_COURSE,
        "业扩报装业务培训",
        "business-expansion training",
    ),
    ("safety", "安全规程培训", "safety rules training"),
    (
        "marketing_system",
        "营销业务系统培训",
        "marketing system training",
    ),
];

/// Records a training a user passed, as the admin `who`.
pub fn add_training(
    env: &Env,
    who: &Principal,
    username: &str,
    course: &str,
    completed_on: &str,
    certificate: &str,
) -> Result<(), ServerError> {
    super::admin::require_admin(who, "记录培训", "record trainings")?;
    user_in(env, username)?;
    if !COURSES.iter().any(|c| c.0 == course) {
        return Err(ServerError::bad(
            "invalid_value",
            "未知的培训课程",
            "unknown course",
        ));
    }
    let day = chrono::NaiveDate::parse_from_str(completed_on.trim(), "%Y-%m-%d")
        .ok()
        .filter(|d| {
            let today = field_core::job::local_date(chrono::Utc::now());
            *d <= today && d.format("%Y").to_string().as_str() >= "1980"
        })
        .ok_or_else(|| {
            ServerError::bad(
                "invalid_value",
                "结业日期应为 1980 年至今的 YYYY-MM-DD",
                "the completion date is YYYY-MM-DD, from 1980 to today",
            )
        })?;
    let certificate = certificate.trim();
    if certificate.chars().count() > 64 || certificate.chars().any(char::is_control) {
        return Err(ServerError::bad(
            "invalid_value",
            "证书编号最多 64 个字符",
            "the certificate number is at most 64 characters",
        ));
    }
    let row = TrainingRow {
        id: uuid::Uuid::new_v4().simple().to_string(),
        username: username.to_string(),
        course: course.to_string(),
        completed_on: day.to_string(),
        certificate: certificate.to_string(),
        recorded_at: now_ms(),
        recorded_by: who.username.clone(),
    };
    let mut tx = env.store.write()?;
    tx.insert_training(&row)?;
    let mut entry = audit::by(who, "training_recorded");
    entry.detail =
        serde_json::json!({ "user": username, "course": course, "completed_on": row.completed_on });
    audit::append(&mut *tx, entry)?;
    tx.commit()?;
    Ok(())
}

/// Removes a training recorded by mistake, as the admin `who`.
pub fn remove_training(
    env: &Env,
    who: &Principal,
    username: &str,
    id: &str,
) -> Result<(), ServerError> {
    super::admin::require_admin(who, "删除培训记录", "remove trainings")?;
    let mut tx = env.store.write()?;
    if !tx.delete_training(id, username)? {
        return Err(ServerError::NotFound);
    }
    let mut entry = audit::by(who, "training_removed");
    entry.detail = serde_json::json!({ "user": username, "id": id });
    audit::append(&mut *tx, entry)?;
    tx.commit()?;
    Ok(())
}
