//! What new automerge changes touch, and whether their writer may touch it.
//!
//! Every operation of every new change is mapped to the document path it writes (objects are
//! located through automerge's parent links, so writes into hidden or overwritten objects are
//! seen too) and judged against the schema and the policy: the key must be known, the writer's
//! role must hold a right in its section, write-once entries must be new, values must pass the
//! phone's limits, and every change must be the writer's own (its automerge actor).

use super::{Right, WritePolicy};
use crate::codes::{MilestoneEvent, Role};
use crate::job::schema::{self, FieldKind, Section};
use crate::job::{EditContext, Job, JobDoc, local_date};
use crate::validate::{Invalid, is_sha256_hex};
use automerge::legacy::{Key, ObjectId, OpType};
use automerge::{
    ActorId, AutoCommit, ChangeHash, ObjType, Prop, ROOT, ReadDoc, ScalarValue, Value,
};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// Paths recorded per change (a change may splice thousands of characters into one path).
const PATHS_PER_CHANGE: usize = 200;
/// Offending paths reported in a refusal.
const REFUSED_PATHS: usize = 20;
/// The deepest path anybody may write (the schema's deepest is 5: `inspections.<kind>.findings.<id>.text`),
/// also for keys only admins may add.
const MAX_DEPTH: usize = 8;

/// Who writes: the user, their role and unit, and the device (with the automerge actor it
/// writes as).
#[derive(Debug, Clone, Copy)]
pub struct Writer<'a> {
    pub username: &'a str,
    pub role: Role,
    pub unit: &'a str,
    pub device_id: &'a str,
    pub actor: &'a ActorId,
}

/// What one accepted change touched (for the audit trail).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeTouches {
    pub hash: ChangeHash,
    /// The device's clock when the change was made (ms since the epoch).
    pub time_ms: i64,
    pub sections: Vec<Section>,
    /// Dotted paths (at most 200).
    pub paths: Vec<String>,
}

/// The outcome of a successful check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checked {
    pub changes: Vec<ChangeTouches>,
}

impl Checked {
    /// Every section the changes touched.
    pub fn sections(&self) -> BTreeSet<Section> {
        self.changes
            .iter()
            .flat_map(|c| c.sections.iter().copied())
            .collect()
    }
}

/// Why a write is refused: a stable code, the reason in Chinese and English, and the paths.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("{zh} / {en}")]
pub struct Refusal {
    pub code: String,
    pub zh: String,
    pub en: String,
    pub paths: Vec<String>,
}

impl Refusal {
    pub fn new(code: &str, zh: impl Into<String>, en: impl Into<String>) -> Refusal {
        Refusal {
            code: code.to_string(),
            zh: zh.into(),
            en: en.into(),
            paths: Vec::new(),
        }
    }

    fn at(mut self, path: &str) -> Refusal {
        self.paths.push(path.to_string());
        self
    }
}

impl From<Invalid> for Refusal {
    fn from(i: Invalid) -> Self {
        Refusal::new("invalid_value", i.zh, i.en).at(&i.field)
    }
}

/// One write of an operation.
#[derive(Debug)]
enum Op {
    Put(ScalarValue),
    Delete,
    MakeMap,
    MakeText,
    /// A character inserted into or deleted from a text object.
    TextEdit,
}

/// Checks every change `doc` has beyond `before` (empty: the job is new and `doc` is all of
/// it). `before_job` is the typed job at `before` (`None` for a new job). On success returns
/// what each change touched; on refusal the caller must discard `doc` (it holds the changes).
pub fn check_changes(
    doc: &mut JobDoc,
    before: &[ChangeHash],
    before_job: Option<&Job>,
    writer: &Writer,
    policy: &WritePolicy,
) -> Result<Checked, Refusal> {
    let changes = doc.changes_since(before);
    check_these_changes(doc, &changes, before, before_job, writer, policy)
}

/// [`check_changes`] for `changes`, which the caller already has: exactly the changes `doc`
/// holds beyond `before` (collecting them again costs as much as the check).
pub fn check_these_changes(
    doc: &mut JobDoc,
    changes: &[automerge::Change],
    before: &[ChangeHash],
    before_job: Option<&Job>,
    writer: &Writer,
    policy: &WritePolicy,
) -> Result<Checked, Refusal> {
    let after = doc.job().map_err(|e| {
        Refusal::new(
            "not_a_job",
            format!("不是有效的工单文档：{e}"),
            format!("not a valid job document: {e}"),
        )
    })?;
    let mut judge = Judge {
        loc: Locator::new(doc.automerge_ref()),
        before,
        writer,
        policy,
        after: &after,
        failures: Vec::new(),
        added: BTreeMap::new(),
        notes: false,
    };
    let mut out = Vec::with_capacity(changes.len());
    for change in changes {
        if change.actor_id() != writer.actor {
            return Err(Refusal::new(
                "foreign_actor",
                "变更不是由本设备写入的（只能提交本设备自己的修改）",
                format!(
                    "a change was written by another device (actor {}): a device may push only its own changes",
                    change.actor_id().to_hex_string()
                ),
            ));
        }
        let mut sections = BTreeSet::new();
        let mut paths = BTreeSet::new();
        // Characters typed into one text object are judged once per change.
        let mut text_edits: HashSet<ObjectId> = HashSet::new();
        for raw in change.decode().operations {
            let in_text = matches!(raw.key, Key::Seq(_))
                && matches!(raw.action, OpType::Put(_) | OpType::Delete);
            if in_text && text_edits.contains(&raw.obj) {
                continue;
            }
            let (path, op) = judge.loc.locate(&raw)?;
            if matches!(op, Op::TextEdit) {
                text_edits.insert(raw.obj.clone());
            }
            let dotted = schema::dotted(&path);
            if let Some(s) = schema::section_of(&path) {
                sections.insert(s);
            }
            if paths.len() < PATHS_PER_CHANGE {
                paths.insert(dotted);
            }
            judge.judge(&path, op);
        }
        out.push(ChangeTouches {
            hash: change.hash(),
            time_ms: change.timestamp().saturating_mul(1000),
            sections: sections.into_iter().collect(),
            paths: paths.into_iter().collect(),
        });
    }
    judge.check_entries(before_job);
    if judge.notes
        && let Err(e) = schema::check_notes(&after.notes)
    {
        judge.fail(e.into());
    }
    match judge.failures.first() {
        None => Ok(Checked { changes: out }),
        Some(first) => {
            let mut refusal = Refusal::new(&first.code, first.zh.clone(), first.en.clone());
            let mut seen = BTreeSet::new();
            for f in &judge.failures {
                for p in &f.paths {
                    if seen.insert(p.clone()) && refusal.paths.len() < REFUSED_PATHS {
                        refusal.paths.push(p.clone());
                    }
                }
            }
            Err(refusal)
        }
    }
}

struct Judge<'a> {
    loc: Locator<'a>,
    before: &'a [ChangeHash],
    writer: &'a Writer<'a>,
    policy: &'a WritePolicy,
    after: &'a Job,
    failures: Vec<Refusal>,
    /// Write-once entries added, by section.
    added: BTreeMap<Section, BTreeSet<Vec<String>>>,
    notes: bool,
}

fn not_schema(path: &str, what: &str, what_en: &str) -> Refusal {
    Refusal::new(
        "not_schema",
        format!("{path}：{what}不属于工单文档结构"),
        format!("{path}: {what_en} are not part of the job document"),
    )
    .at(path)
}

fn role_zh(role: Role) -> &'static str {
    role.zh()
}

/// Maps operations to the document paths they write.
struct Locator<'a> {
    am: &'a AutoCommit,
    /// Resolved object paths (and whether the object is text).
    objects: HashMap<ObjectId, (Vec<String>, bool)>,
}

impl<'a> Locator<'a> {
    fn new(am: &'a AutoCommit) -> Self {
        Locator {
            am,
            objects: HashMap::new(),
        }
    }

    /// The path of the object an operation targets, and whether it is text.
    fn object(&mut self, obj: &ObjectId) -> Result<(Vec<String>, bool), Refusal> {
        if let Some(found) = self.objects.get(obj) {
            return Ok(found.clone());
        }
        let found = match obj {
            ObjectId::Root => (Vec::new(), false),
            ObjectId::Id(id) => {
                let name = format!("{}@{}", id.counter(), id.actor().to_hex_string());
                let unknown = || {
                    Refusal::new(
                        "not_schema",
                        "变更引用了不存在的对象",
                        format!("a change refers to an object that does not exist ({name})"),
                    )
                };
                let exid = self.am.import_obj(&name).map_err(|_| unknown())?;
                let kind = self.am.object_type(&exid).map_err(|_| unknown())?;
                let mut path = Vec::new();
                for (_, prop) in self.am.parents(&exid).map_err(|_| unknown())?.path() {
                    match prop {
                        Prop::Map(k) => path.push(k),
                        Prop::Seq(_) => {
                            return Err(not_schema(&schema::dotted(&path), "列表", "lists"));
                        }
                    }
                }
                (path, kind == ObjType::Text)
            }
        };
        self.objects.insert(obj.clone(), found.clone());
        Ok(found)
    }

    /// The path an operation writes and what it does there.
    fn locate(&mut self, op: &automerge::legacy::Op) -> Result<(Vec<String>, Op), Refusal> {
        let (mut path, is_text) = self.object(&op.obj)?;
        let here = schema::dotted(&path);
        match &op.key {
            Key::Map(k) if !is_text => path.push(k.to_string()),
            Key::Seq(_) if is_text => {
                return match op.action {
                    OpType::Put(_) | OpType::Delete => Ok((path, Op::TextEdit)),
                    OpType::MarkBegin(_) | OpType::MarkEnd(_) => {
                        Err(not_schema(&here, "文本格式标记", "text marks"))
                    }
                    _ => Err(not_schema(&here, "文本中的对象", "objects inside text")),
                };
            }
            _ => return Err(not_schema(&here, "列表", "lists")),
        }
        let dotted = || schema::dotted(&path);
        let op = match &op.action {
            OpType::Put(v) => Op::Put(v.clone()),
            OpType::Delete => Op::Delete,
            OpType::Make(ObjType::Map) => Op::MakeMap,
            OpType::Make(ObjType::Text) => Op::MakeText,
            OpType::Make(_) => return Err(not_schema(&dotted(), "列表和表", "lists and tables")),
            OpType::Increment(_) => return Err(not_schema(&dotted(), "计数器", "counters")),
            OpType::MarkBegin(_) | OpType::MarkEnd(_) => {
                return Err(not_schema(&dotted(), "文本格式标记", "text marks"));
            }
        };
        Ok((path, op))
    }
}

/// The dotted paths each change writes (for readable summaries; nothing is judged). Operations
/// that fit no path are listed as `?`.
pub fn touched_paths(
    doc: &JobDoc,
    changes: &[automerge::Change],
) -> Vec<(ChangeHash, Vec<String>)> {
    let mut loc = Locator::new(doc.automerge_ref());
    changes
        .iter()
        .map(|c| {
            let mut paths = BTreeSet::new();
            for op in c.decode().operations {
                if paths.len() >= PATHS_PER_CHANGE {
                    break;
                }
                match loc.locate(&op) {
                    Ok((path, _)) => paths.insert(schema::dotted(&path)),
                    Err(_) => paths.insert("?".to_string()),
                };
            }
            (c.hash(), paths.into_iter().collect())
        })
        .collect()
}

impl Judge<'_> {
    fn fail(&mut self, r: Refusal) {
        self.failures.push(r);
    }

    /// Whether `path` held anything before the new changes.
    fn existed(&self, path: &[String]) -> bool {
        if self.before.is_empty() {
            return false;
        }
        let am = self.loc.am;
        let mut obj = ROOT;
        for (i, key) in path.iter().enumerate() {
            if i + 1 == path.len() {
                return am
                    .get_all_at(&obj, key.as_str(), self.before)
                    .is_ok_and(|v| !v.is_empty());
            }
            match am.get_at(&obj, key.as_str(), self.before) {
                Ok(Some((Value::Object(_), id))) => obj = id,
                _ => return false,
            }
        }
        true
    }

    fn judge(&mut self, path: &[String], op: Op) {
        let dotted = schema::dotted(path);
        let role = self.writer.role;
        if path.len() > MAX_DEPTH {
            return self.fail(
                Refusal::new(
                    "too_deep",
                    format!("{dotted}：嵌套过深（最多 {MAX_DEPTH} 层）"),
                    format!("{dotted}: nested deeper than {MAX_DEPTH} levels"),
                )
                .at(&dotted),
            );
        }
        let section = schema::section_of(path);
        let resolved = match schema::resolve(path) {
            Ok(r) => Some(r),
            // Only roles the policy allows (admins) write keys the schema does not know, and
            // still only where they may write (never identity, receipts or stored entries).
            Err(_) if self.policy.may_write_unknown(role) => None,
            Err(_) => {
                return self.fail(
                    Refusal::new(
                        "unknown_key",
                        format!("{dotted}：服务器不认识这个字段（请更新应用）"),
                        format!(
                            "{dotted}: the server's schema does not know this key (update the app)"
                        ),
                    )
                    .at(&dotted),
                );
            }
        };
        let Some(section) = section else {
            // An unknown root key, written by a role allowed to.
            return;
        };
        if let Some(resolved) = resolved {
            // The shape of the write must fit the schema.
            let fits = match &op {
                Op::TextEdit | Op::MakeText => matches!(resolved.kind, FieldKind::Text),
                Op::MakeMap => {
                    matches!(
                        resolved.kind,
                        FieldKind::Map(_) | FieldKind::Entries(_) | FieldKind::Flags(_)
                    )
                }
                Op::Put(_) => !resolved.kind.is_object(),
                Op::Delete => true,
            };
            if !fits {
                return self.fail(
                    Refusal::new(
                        "not_schema",
                        format!("{dotted}：写入的类型与工单文档结构不符"),
                        format!("{dotted}: the write does not fit the job document's schema"),
                    )
                    .at(&dotted),
                );
            }
            if let Op::Put(v) = &op {
                if let Err(e) = schema::check_value(path, resolved.kind, v) {
                    return self.fail(e.into());
                }
                if let Some(day) = schema::kind_day(resolved.kind, v)
                    && let Err(e) = self.policy.dates.check(&dotted, day)
                {
                    return self.fail(e.into());
                }
                if schema::follows_acceptance(path) && self.before_acceptance(v) {
                    return self.fail(
                        Refusal::new(
                            "invalid_value",
                            format!("{dotted}：日期早于受理日期 {}", self.after.accepted_on()),
                            format!(
                                "{dotted}: the date is before the application was accepted ({})",
                                self.after.accepted_on()
                            ),
                        )
                        .at(&dotted),
                    );
                }
            }
        }
        if section == Section::Notes {
            self.notes = true;
        }
        // A value rule lets a role write one value at one path outside its sections.
        if let Op::Put(ScalarValue::Str(v)) = &op
            && self.policy.may_put_value(&dotted, role, v)
        {
            return;
        }
        let forbidden = |zh_what: &str, en_what: &str| {
            Refusal::new(
                "forbidden",
                format!(
                    "{}无权{zh_what}“{}”（{dotted}）",
                    role_zh(role),
                    section.zh()
                ),
                format!(
                    "a {} may not {en_what} the {} section ({dotted})",
                    role.en(),
                    section.en()
                ),
            )
            .at(&dotted)
        };
        match section {
            Section::Identity => {
                let creating = self.before.is_empty();
                let own_unit = role == Role::Admin || self.after.unit == self.writer.unit;
                if !creating {
                    return self.fail(
                        Refusal::new(
                            "identity_immutable",
                            format!("工单标识（编号、类别、单位、规则）创建后不可修改（{dotted}）"),
                            format!("a job's identity (number, kind, unit, rules) never changes after it is created ({dotted})"),
                        )
                        .at(&dotted),
                    );
                }
                if !self.policy.may_create(role) {
                    return self.fail(forbidden("创建工单，涉及", "create jobs, which writes"));
                }
                if !own_unit {
                    return self.fail(
                        Refusal::new(
                            "other_unit",
                            format!("不能为其他单位（{}）创建工单", self.after.unit),
                            format!(
                                "you cannot create jobs for another unit ({})",
                                self.after.unit
                            ),
                        )
                        .at(&dotted),
                    );
                }
                return;
            }
            Section::ContractReceipts | Section::SupervisionEscalations => {
                return self.fail(
                    Refusal::new(
                        "server_only",
                        format!("“{}”只能由服务器写入（{dotted}）", section.zh()),
                        format!("only the server writes {} ({dotted})", section.en()),
                    )
                    .at(&dotted),
                );
            }
            _ => {}
        }
        let layout = matches!(op, Op::MakeMap | Op::MakeText)
            && resolved.is_some_and(|r| !r.last_is_id)
            && !self.existed(path);
        if matches!(
            section,
            Section::SupervisionAnswers | Section::ActionProgress
        ) && role != Role::Admin
            && !layout
            && let Err(r) = self.check_answerer(section, path, &op, &dotted)
        {
            return self.fail(r);
        }
        match self.policy.right(section, role) {
            Some(Right::Write) => {}
            Some(Right::Add) => {
                let n = schema::entry_len(section, path).unwrap_or(path.len());
                if path.len() < n {
                    // The collection itself: may be laid out once, never replaced.
                    if !layout {
                        self.fail(forbidden("替换", "replace"));
                    }
                    return;
                }
                let entry = &path[..n];
                if matches!(op, Op::Delete) || self.existed(entry) {
                    return self.fail(
                        Refusal::new(
                            "write_once",
                            format!("“{}”记录后不可修改或删除（{dotted}）", section.zh()),
                            format!(
                                "{} are written once and never changed or deleted ({dotted})",
                                section.en()
                            ),
                        )
                        .at(&dotted),
                    );
                }
                self.added
                    .entry(section)
                    .or_default()
                    .insert(entry.to_vec());
            }
            // An empty container at a fixed key (a section laid out when the job is created,
            // or one an older document lacks) writes nothing anybody reads.
            None if layout => {}
            None => self.fail(forbidden("修改", "write")),
        }
    }

    /// A supervision order is answered only by the manager it is addressed to, and an action
    /// item recorded done only by its owner, as themselves.
    fn check_answerer(
        &self,
        section: Section,
        path: &[String],
        op: &Op,
        dotted: &str,
    ) -> Result<(), Refusal> {
        let me = self.writer.username;
        let id = path.get(1);
        let (addressee, by_key) = if section == Section::ActionProgress {
            let owner = id.and_then(|id| self.after.actions.get(id));
            (owner.and_then(|a| a.owner.as_deref()), "done_by")
        } else {
            let order = id.and_then(|id| self.after.supervision.get(id));
            (order.and_then(|o| o.manager.as_deref()), "answered_by")
        };
        if addressee != Some(me) {
            return Err(if section == Section::ActionProgress {
                Refusal::new(
                    "not_owner",
                    format!("只有待办事项的责任人本人可以办结（{dotted}）"),
                    format!("only an action item's owner may record it done ({dotted})"),
                )
            } else {
                Refusal::new(
                    "not_addressee",
                    format!("只有被督办人本人可以答复督办单（{dotted}）"),
                    format!(
                        "only the manager a supervision order is addressed to may answer it ({dotted})"
                    ),
                )
            }
            .at(dotted));
        }
        if path.last().map(String::as_str) == Some(by_key)
            && !matches!(op, Op::Put(ScalarValue::Str(v)) if v.as_str() == me)
        {
            return Err(Refusal::new(
                "not_own",
                format!("答复人必须是本人（{dotted}）"),
                format!("an answer is recorded by its author ({dotted})"),
            )
            .at(dotted));
        }
        Ok(())
    }

    fn before_acceptance(&self, v: &ScalarValue) -> bool {
        let accepted = self.after.accepted_on();
        match v {
            ScalarValue::Timestamp(ms) => DateTime::<Utc>::from_timestamp_millis(*ms)
                .is_some_and(|t| local_date(t) < accepted),
            ScalarValue::Str(s) => match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
                Ok(d) => d < accepted,
                Err(_) => DateTime::parse_from_rfc3339(s)
                    .is_ok_and(|t| local_date(t.with_timezone(&Utc)) < accepted),
            },
            _ => false,
        }
    }

    /// Write-once entries that were added: whole, the writer's own, and within the policy.
    fn check_entries(&mut self, before_job: Option<&Job>) {
        let added = std::mem::take(&mut self.added);
        for (section, entries) in &added {
            for entry in entries {
                if let Err(r) = self.check_entry(*section, entry, before_job) {
                    let dotted = schema::dotted(entry);
                    let r = if r.paths.is_empty() { r.at(&dotted) } else { r };
                    self.fail(r);
                }
            }
        }
    }

    fn check_entry(
        &self,
        section: Section,
        entry: &[String],
        before_job: Option<&Job>,
    ) -> Result<(), Refusal> {
        let w = self.writer;
        let incomplete = |what_zh: &str, what_en: &str| {
            Refusal::new(
                "invalid_value",
                format!("{what_zh}记录不完整"),
                format!("the {what_en} record is incomplete"),
            )
        };
        let not_own = |what_zh: &str, what_en: &str| {
            Refusal::new(
                "not_own",
                format!("只能记录本人在本设备上的{what_zh}"),
                format!("a {what_en} must be recorded by its author on their own device"),
            )
        };
        match (section, entry) {
            (Section::Photos, [_, id]) => {
                let p = self
                    .after
                    .photos
                    .get(id)
                    .ok_or_else(|| incomplete("照片", "photo"))?;
                if p.author.as_deref() != Some(w.username)
                    || p.device.as_deref() != Some(w.device_id)
                {
                    return Err(not_own("照片", "photo"));
                }
                let hashes = [&p.original_sha256, &p.display_sha256, &p.thumbnail_sha256];
                if !hashes
                    .iter()
                    .all(|h| h.as_deref().is_some_and(is_sha256_hex))
                {
                    return Err(Refusal::new(
                        "invalid_value",
                        "照片缺少有效的 SHA-256 摘要",
                        "a photo needs a valid SHA-256 for each of its blobs",
                    ));
                }
                if let Some(mime) = &p.original_mime
                    && !crate::validate::PHOTO_MIME_TYPES.contains(&mime.as_str())
                {
                    return Err(Refusal::new(
                        "invalid_value",
                        format!(
                            "照片原图类型 {mime} 不受支持（仅限 JPEG、PNG、WebP、GIF、BMP、TIFF）"
                        ),
                        format!(
                            "a photo's original may not be of type {mime} (JPEG, PNG, WebP, GIF, BMP or TIFF only)"
                        ),
                    ));
                }
                if let Some(g) = &p.checklist_group
                    && !self.after.checklist.contains_key(g)
                {
                    return Err(Refusal::new(
                        "invalid_value",
                        format!("收资清单中没有 {g} 这一项"),
                        format!("the checklist has no group {g}"),
                    ));
                }
                Ok(())
            }
            (Section::Photos, [_, group, _, photo_id]) => {
                let linked = self
                    .after
                    .checklist
                    .get(group)
                    .and_then(|g| g.photos.get(photo_id))
                    .copied();
                if linked != Some(true) || !self.after.photos.contains_key(photo_id) {
                    return Err(Refusal::new(
                        "invalid_value",
                        "收资照片链接无效：照片不存在",
                        "a checklist photo link must name a photo of the job",
                    ));
                }
                Ok(())
            }
            (Section::Milestones, [_, id]) => {
                let m = self
                    .after
                    .milestones
                    .get(id)
                    .ok_or_else(|| incomplete("里程碑", "milestone"))?;
                let (Some(event), Some(at)) = (m.event, m.at) else {
                    return Err(incomplete("里程碑", "milestone"));
                };
                if !self.policy.may_add_event(w.role, event) {
                    return Err(Refusal::new(
                        "forbidden",
                        format!("{}无权记录里程碑“{}”", w.role.zh(), event.zh()),
                        format!(
                            "a {} may not record the milestone “{}”",
                            w.role.en(),
                            event.en()
                        ),
                    ));
                }
                if m.actor.as_deref() != Some(w.username)
                    || m.device.as_deref() != Some(w.device_id)
                {
                    return Err(not_own("里程碑", "milestone"));
                }
                if event != MilestoneEvent::Accepted && local_date(at) < self.after.accepted_on() {
                    return Err(Refusal::new(
                        "invalid_value",
                        format!("里程碑日期早于受理日期 {}", self.after.accepted_on()),
                        format!(
                            "the milestone is before the application was accepted ({})",
                            self.after.accepted_on()
                        ),
                    ));
                }
                Ok(())
            }
            (Section::Contracts, [_, id]) => {
                let c = self
                    .after
                    .contracts
                    .get(id)
                    .ok_or_else(|| incomplete("合同", "contract"))?;
                // The job as it was, plus whatever else this push added (photos the contract
                // names, an amended original), minus the contract itself.
                let mut base = self.after.clone();
                base.contracts.remove(id);
                if let Some(b) = before_job
                    && b.contracts.contains_key(id)
                {
                    return Err(Refusal::new(
                        "write_once",
                        "合同已签署，不可修改",
                        "the contract is signed and cannot be changed",
                    ));
                }
                let ctx = EditContext {
                    actor: w.username.to_string(),
                    device: w.device_id.to_string(),
                    now: c.signed_at.unwrap_or_else(Utc::now),
                };
                crate::job::check_signed_contract(&base, &ctx, id, c)?;
                Ok(())
            }
            (Section::KeyVisits, [_, id]) => {
                let v = self
                    .after
                    .key_visits
                    .get(id)
                    .ok_or_else(|| incomplete("走访", "visit"))?;
                if v.visited_on.is_none() {
                    return Err(incomplete("走访", "visit"));
                }
                if v.recorded_by.as_deref() != Some(w.username) {
                    return Err(not_own("走访记录", "visit"));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}
