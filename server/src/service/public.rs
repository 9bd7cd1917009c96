//! The customer's view, without a login: a unit's customer managers to choose from (客户自选业务
//! 经理: name and work number, jobs handled, open jobs, average satisfaction), and each job's
//! progress behind an unguessable link (the stage, the next step's due date, whom to contact —
//! nothing personal beyond the job itself).

use super::Env;
use crate::error::ServerError;
use field_core::MilestoneEvent;
use rand::RngCore;
use serde::{Deserialize, Serialize};

/// `server_state` key of the secret progress links are derived from.
use super::server_edits::{PROGRESS_SECRET as SECRET, progress_mac as mac};

/// A customer manager as the public sees them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublicManager {
    /// The work number (工号): the user's number in Fieldline, never the login name, which
    /// would tell a stranger whom to try passwords on.
    pub work_number: String,
    /// The login name: for the signed-in office's assignment form only, never on a public page.
    #[serde(skip)]
    pub username: String,
    pub name: String,
    pub handled: i64,
    pub open: i64,
    pub satisfaction: Option<f64>,
    pub visits: i64,
}

/// A job's progress as its customer sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub job_no: String,
    pub unit: String,
    pub kind: field_core::JobKind,
    pub status: field_core::JobStatus,
    pub accepted_on: chrono::NaiveDate,
    /// The running stage due first, and its due date.
    pub next: Option<(field_core::sla::Stage, chrono::NaiveDate)>,
    /// Steps done so far: event and China-time day, in order.
    pub steps: Vec<(MilestoneEvent, chrono::NaiveDate)>,
    /// The customer manager to contact: name and work number (never the login name).
    pub contact: Option<(String, String)>,
    /// What the customer gave, as the link may show it: name, masked document number, masked
    /// phone number.
    pub customer: Option<Given>,
    /// The unit as customers know it.
    pub unit_record: Option<super::units::Unit>,
    /// The supply plan's parts meant for the customer, once it was replied.
    pub plan: Option<PlanForCustomer>,
    /// Whether the customer confirmed the plan as last replied.
    pub plan_confirmed: bool,
    /// What the customer said so far.
    pub voice: field_core::job::CustomerVoice,
    /// Whether the job is powered on (the customer may rate it then).
    pub powered_on: bool,
    /// The planned power-on (接电计划): the day, and the window in China time (`HH:MM`), once
    /// the customer manager proposed it; with whether the outage it needs is approved.
    pub connection: Option<Connection>,
    /// The typical design picked for the job with its typical cost range (典型设计和典型造价).
    pub typical_design: Option<field_core::job::TypicalDesign>,
}

/// The planned power-on as the customer sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Connection {
    pub planned_on: chrono::NaiveDate,
    pub window: Option<(String, String)>,
    /// `None`: no outage plan filed; else whether it is approved.
    pub outage_approved: Option<bool>,
}

fn connection(job: &field_core::Job) -> Option<Connection> {
    let p = &job.power_on_plan;
    let hm = |t: chrono::DateTime<chrono::Utc>| {
        t.with_timezone(&field_core::job::china_offset())
            .format("%H:%M")
            .to_string()
    };
    let outage = &job.outage_plan;
    Some(Connection {
        planned_on: p.planned_on?,
        window: p
            .window_start_at
            .zip(p.window_end_at)
            .map(|(a, b)| (hm(a), hm(b))),
        outage_approved: outage
            .starts_at
            .map(|_| outage.state == Some(field_core::OutageState::Approved)),
    })
}

/// The parts of the supply plan (供电方案) meant for the customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanForCustomer {
    pub replied_on: Option<chrono::NaiveDate>,
    pub source: Option<field_core::Source>,
    pub voltage: Option<field_core::Voltage>,
    pub capacity_kva: Option<f64>,
    pub metering_point: Option<String>,
    pub property_boundary: Option<String>,
    pub fees_yuan: Option<f64>,
    pub fees_basis: Option<String>,
    pub power_on_agreed_on: Option<chrono::NaiveDate>,
}

/// What a customer gave, masked for whoever holds the link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Given {
    pub name: String,
    pub id_number: String,
    pub phone: String,
}

impl Given {
    /// The name as given, the document and phone numbers masked.
    pub fn masked(name: &str, id_number: &str, phone: &str) -> Given {
        Given {
            name: name.to_string(),
            id_number: field_core::validate::mask_id(id_number),
            phone: field_core::validate::mask_phone(phone),
        }
    }
}

/// What a tracking link opens: the job's progress, or the application it was made from while
/// the counter has not accepted it.
#[derive(Debug, Clone, PartialEq)]
pub enum Tracking {
    Job(Box<Progress>),
    Application(
        Box<super::applications::ApplicationView>,
        Option<super::units::Unit>,
    ),
}

/// A user's public work number (工号), from their number in Fieldline.
pub fn work_number(user_id: i64) -> String {
    format!("{user_id:06}")
}

/// Most units a node keeps lists of (a flood of made-up unit names cannot grow it further).
const CACHE_UNITS_MAX: usize = 1_000;

/// A unit's list and when it was counted (`None`: the unit has no customer managers).
type Cached = (std::time::Instant, Option<Vec<PublicManager>>);

/// The public lists of the units, each counted at most once a minute (`public_cache_seconds`)
/// per node: the anonymous page never runs the aggregate over a unit's jobs per request.
#[derive(Default)]
pub struct PublicCache {
    /// How long a list is reused.
    pub keep: std::time::Duration,
    lists: std::sync::Mutex<std::collections::HashMap<String, Cached>>,
}

impl PublicCache {
    /// A cache that reuses each list for `keep`.
    pub fn new(keep: std::time::Duration) -> PublicCache {
        PublicCache {
            keep,
            lists: Default::default(),
        }
    }

    fn get(&self, unit: &str) -> Option<Option<Vec<PublicManager>>> {
        let lists = self.lists.lock().unwrap_or_else(|p| p.into_inner());
        lists
            .get(unit)
            .filter(|(at, _)| at.elapsed() < self.keep)
            .map(|(_, l)| l.clone())
    }

    fn put(&self, unit: &str, list: Option<Vec<PublicManager>>) {
        let mut lists = self.lists.lock().unwrap_or_else(|p| p.into_inner());
        if lists.len() >= CACHE_UNITS_MAX {
            lists.retain(|_, (at, _)| at.elapsed() < self.keep);
            if lists.len() >= CACHE_UNITS_MAX {
                lists.clear();
            }
        }
        lists.insert(unit.to_string(), (std::time::Instant::now(), list));
    }
}

/// Units with a public page.
pub fn units(env: &Env) -> Result<Vec<super::units::Unit>, ServerError> {
    super::units::list(env)
}

/// The customer managers of `unit` (not found for a unit without any), from the node's cache
/// when counted recently ([`PublicCache::keep`]).
pub fn managers(env: &Env, unit: &str) -> Result<Vec<PublicManager>, ServerError> {
    let unit: String = unit.chars().take(64).collect();
    let list = match env.public.get(&unit) {
        Some(list) => list,
        None => {
            let list = count_managers(env, &unit)?;
            env.public.put(&unit, list.clone());
            list
        }
    };
    list.ok_or(ServerError::NotFound)
}

/// The customer managers of `unit` counted now (`None`: the unit has none).
pub fn count_managers(env: &Env, unit: &str) -> Result<Option<Vec<PublicManager>>, ServerError> {
    let tx = env.store.read()?;
    let ids: std::collections::HashMap<String, i64> = tx.user_ids(unit)?.into_iter().collect();
    let people: Vec<(String, String)> = tx
        .users_of(Some(unit))?
        .into_iter()
        .filter(|(_, _, role)| role == "customer_manager")
        .map(|(username, display, _)| (username, display))
        .collect();
    if people.is_empty() {
        return Ok(None);
    }
    let stats = tx.manager_stats(unit)?;
    Ok(Some(
        people
            .into_iter()
            .map(|(username, display)| {
                let s = stats.iter().find(|s| s.username == username);
                PublicManager {
                    name: display,
                    handled: s.map(|s| s.handled).unwrap_or(0),
                    open: s.map(|s| s.open).unwrap_or(0),
                    satisfaction: s.and_then(|s| s.satisfaction),
                    visits: s.map(|s| s.visits).unwrap_or(0),
                    work_number: ids
                        .get(&username)
                        .copied()
                        .map(work_number)
                        .unwrap_or_default(),
                    username,
                }
            })
            .collect(),
    ))
}

fn secret(env: &Env) -> Result<Vec<u8>, ServerError> {
    if let Some(s) = env.store.read()?.state(SECRET)? {
        return Ok(s.into_bytes());
    }
    let mut tx = env.store.write()?;
    // Another request may have created it meanwhile (inside this write, nobody else can).
    if let Some(s) = tx.state(SECRET)? {
        return Ok(s.into_bytes());
    }
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let s: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    tx.set_state(SECRET, &s)?;
    tx.commit()?;
    Ok(s.into_bytes())
}

/// The token of a job's progress page: its id and a MAC only the server can make.
pub fn token(env: &Env, job_id: &str) -> Result<String, ServerError> {
    Ok(format!("{job_id}.{}", mac(&secret(env)?, job_id)))
}

/// Creates the progress-link secret if the store has none yet.
pub fn ensure_secret(env: &Env) -> Result<(), ServerError> {
    secret(env).map(|_| ())
}

/// The id a token names, if the token is one the server made (not found otherwise, without
/// saying why).
pub(crate) fn token_id<'a>(env: &Env, token: &'a str) -> Result<&'a str, ServerError> {
    let (job_id, sent) = token.split_once('.').ok_or(ServerError::NotFound)?;
    if job_id.is_empty()
        || job_id.len() > 64
        || !job_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        || !super::session::same_secret(sent, &mac(&secret(env)?, job_id))
    {
        return Err(ServerError::NotFound);
    }
    Ok(job_id)
}

/// What a tracking token opens: the job's progress, else its application's state.
pub fn track(env: &Env, token: &str) -> Result<Tracking, ServerError> {
    let id = token_id(env, token)?;
    match progress_of(env, id) {
        Err(ServerError::NotFound) => {}
        other => return other.map(|p| Tracking::Job(Box::new(p))),
    }
    let a = super::applications::by_token_id(env, id)?.ok_or(ServerError::NotFound)?;
    let unit = env.store.read()?.unit_record(&a.unit)?;
    Ok(Tracking::Application(Box::new(a), unit))
}

/// The progress of job `job_id` (a tracking token's, already verified).
fn progress_of(env: &Env, job_id: &str) -> Result<Progress, ServerError> {
    let tx = env.store.read()?;
    let mut loaded = env
        .docs
        .checkout(&*tx, job_id)?
        .ok_or(ServerError::NotFound)?;
    let job = loaded
        .doc
        .job()
        .map_err(|e| ServerError::Internal(e.to_string()))?;
    env.docs.checkin(job_id, loaded);
    let today = field_core::job::local_date(chrono::Utc::now());
    let limits =
        field_core::sla::time_limits(&job, env.rules().for_job(&job), &env.calendar(), today);
    let next = limits
        .clocks
        .iter()
        .filter(|c| c.running())
        .filter_map(|c| c.due_on.map(|d| (c.stage, d)))
        .min_by_key(|(_, d)| *d);
    // In the order they happened (the timeline's order), shown by day.
    let steps: Vec<(MilestoneEvent, chrono::NaiveDate)> = job
        .timeline()
        .into_iter()
        .filter_map(|(_, m)| Some((m.event?, field_core::job::local_date(m.at?))))
        .filter(|(e, _)| *e != MilestoneEvent::ReviewSubmitted)
        .collect();
    // The job's customer manager, while an active user of its unit: name and work number.
    let contact = match job.assignment.customer_manager.as_deref() {
        Some(cm) => tx
            .user_by_name(cm)?
            .filter(|u| u.unit == job.unit && !u.disabled)
            .map(|u| (u.display_name, work_number(u.id))),
        None => None,
    };
    let c = &job.customer;
    let customer = c.name.as_deref().map(|name| {
        Given::masked(
            name,
            c.id_number.as_deref().unwrap_or_default(),
            c.contact_phone.as_deref().unwrap_or_default(),
        )
    });
    let unit_record = tx.unit_record(&job.unit)?;
    let sp = &job.supply_plan;
    let replied = sp
        .replied_at
        .or_else(|| job.first(MilestoneEvent::SupplyPlanReplied));
    let plan = replied.map(|at| PlanForCustomer {
        replied_on: Some(field_core::job::local_date(at)),
        source: sp.source,
        voltage: sp.voltage,
        capacity_kva: sp.capacity_kva,
        metering_point: sp.metering_point.clone(),
        property_boundary: sp.property_boundary.clone(),
        fees_yuan: sp.fees_yuan,
        fees_basis: sp.fees_basis.clone(),
        power_on_agreed_on: sp.power_on_agreed_on,
    });
    Ok(Progress {
        connection: connection(&job),
        typical_design: job
            .typical_design
            .design_id
            .is_some()
            .then(|| job.typical_design.clone()),
        plan,
        plan_confirmed: super::customer_voice::plan_confirmed(&job),
        voice: job.customer_voice.clone(),
        powered_on: job.powered_on_at().is_some(),
        customer,
        unit_record,
        job_no: job.job_no.clone(),
        unit: job.unit.clone(),
        kind: job.kind,
        status: job.status(),
        accepted_on: job.accepted_on(),
        next,
        steps,
        contact,
    })
}

/// What an applicant's receipt (回执) states.
#[derive(Debug, Clone, PartialEq)]
pub struct Receipt {
    /// The application's number, or the job's once accepted.
    pub number: String,
    pub unit: Option<super::units::Unit>,
    pub kind: field_core::JobKind,
    pub given: Option<Given>,
    /// When it was filed (China time) or accepted (the day).
    pub when: String,
    /// The customer manager: name and work number.
    pub manager: Option<(String, String)>,
    /// Where it stands, in the reader's language.
    pub state: String,
}

/// The receipt of what a tracking link opens.
pub fn receipt(t: &Tracking, english: bool) -> Receipt {
    let s = |zh: &str, en: &str| {
        if english {
            en.to_string()
        } else {
            zh.to_string()
        }
    };
    match t {
        Tracking::Job(p) => Receipt {
            number: p.job_no.clone(),
            unit: p.unit_record.clone(),
            kind: p.kind,
            given: p.customer.clone(),
            when: p.accepted_on.to_string(),
            manager: p.contact.clone(),
            state: if english {
                p.status.en()
            } else {
                p.status.zh()
            }
            .to_string(),
        },
        Tracking::Application(a, unit) => Receipt {
            number: a.number.clone(),
            unit: unit.clone(),
            kind: a.detail.kind,
            given: Some(Given::masked(
                &a.detail.name,
                &a.detail.id_number,
                &a.detail.phone,
            )),
            when: a
                .filed_at
                .with_timezone(&field_core::job::china_offset())
                .format("%Y-%m-%d %H:%M")
                .to_string(),
            manager: a.detail.manager.clone().map(|(_, n, w)| (n, w)),
            state: match a.state.as_str() {
                "pending" => s("待受理", "waiting at the counter"),
                "declined" => s("不予受理", "declined"),
                _ => s("已受理", "accepted"),
            },
        },
    }
}

/// The applicant's receipt (回执) as a PDF: the number, the unit, what they gave (masked), the
/// chosen or assigned manager, and the tracking link as a QR code. CPU-bound: call it from a
/// blocking thread.
pub fn receipt_pdf(
    env: &Env,
    token: &str,
    link: &str,
    english: bool,
) -> Result<Vec<u8>, ServerError> {
    use field_core::report::{Report, ReportBlock as B};
    let s = |zh: &str, en: &str| {
        if english {
            en.to_string()
        } else {
            zh.to_string()
        }
    };
    let Receipt {
        number,
        unit,
        kind,
        given,
        when,
        manager,
        state,
    } = receipt(&track(env, token)?, english);
    let mut fields = vec![(s("编号", "Number"), number)];
    if let Some(u) = &unit {
        fields.push((s("供电单位", "Supplied by"), u.name.clone()));
    }
    fields.push((
        s("业务类型", "Kind"),
        if english { kind.en() } else { kind.zh() }.to_string(),
    ));
    if let Some(g) = given {
        fields.push((s("申请人", "Applicant"), g.name));
        fields.push((s("证件号码", "Document number"), g.id_number));
        fields.push((s("联系电话", "Phone"), g.phone));
    }
    fields.push((s("提交 / 受理", "Filed / accepted"), when));
    fields.push((s("状态", "State"), state));
    if let Some((n, w)) = manager {
        fields.push((s("客户经理", "Customer manager"), format!("{n} · {w}")));
    }
    let mut blocks = vec![B::Fields(fields)];
    blocks.push(B::Qr {
        text: link.to_string(),
        caption: format!(
            "{}{link}",
            s(
                "扫码或访问以下链接查询办理进度：",
                "Scan, or open this link to follow your application: "
            )
        ),
    });
    if let Some(u) = &unit {
        let mut contact = vec![];
        if !u.address.is_empty() {
            contact.push((s("营业厅地址", "Service hall"), u.address.clone()));
        }
        if !u.hall_hours.is_empty() {
            contact.push((s("营业时间", "Opening hours"), u.hall_hours.clone()));
        }
        if !u.hotline.is_empty() {
            contact.push((s("服务电话", "Hotline"), u.hotline.clone()));
        }
        if !contact.is_empty() {
            blocks.push(B::Fields(contact));
        }
    }
    blocks.push(B::Note(s(
        "供电服务热线 95598 · 能源监管投诉举报热线 12398。证件号和电话已部分隐藏，请妥善保管本回执。",
        "Electricity service 95598 · energy regulation complaints 12398. Document and phone numbers are partly hidden; keep this receipt private.",
    )));
    let report = Report {
        title: s("用电申请回执", "Application receipt"),
        subtitle: unit.map(|u| u.name).unwrap_or_default(),
        footer: s("Fieldline 网上办电", "Fieldline online applications"),
        blocks,
        signatures: Vec::new(),
    };
    crate::pdf::render_report(&report)?.ok_or_else(super::exports::no_pdf)
}
