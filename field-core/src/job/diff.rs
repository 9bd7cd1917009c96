//! What changed in a job between two points of its history, field by field (the office's
//! "changed since the last review").

use super::JobDoc;
use super::schema::{dotted, scalar_json};
use automerge::{ChangeHash, PatchAction, Prop, ReadDoc, Value};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use std::collections::BTreeMap;

/// How a field changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// Set (new or changed); `value` is the value now.
    Set,
    /// Removed.
    Removed,
    /// Text edited; `value` is the whole text now.
    Text,
}

/// One field that changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    /// Dotted path, e.g. `survey.load_nature`.
    pub path: String,
    pub kind: ChangeKind,
    pub value: Json,
}

fn prop(p: &Prop) -> String {
    match p {
        Prop::Map(k) => k.clone(),
        Prop::Seq(i) => i.to_string(),
    }
}

impl JobDoc {
    /// The fields that differ between `before` (heads of an earlier point, e.g. the last review)
    /// and now, in path order.
    pub fn changes_since_heads(&mut self, before: &[ChangeHash]) -> Vec<FieldChange> {
        let after = self.heads();
        let am = self.automerge();
        let patches = am.diff(before, &after);
        let mut out: BTreeMap<String, FieldChange> = BTreeMap::new();
        for patch in patches {
            let mut path: Vec<String> = patch.path.iter().map(|(_, p)| prop(p)).collect();
            match patch.action {
                PatchAction::PutMap {
                    key,
                    value: (Value::Scalar(s), _),
                    ..
                } => {
                    path.push(key);
                    let p = dotted(&path);
                    out.insert(
                        p.clone(),
                        FieldChange {
                            path: p,
                            kind: ChangeKind::Set,
                            value: scalar_json(&s),
                        },
                    );
                }
                PatchAction::DeleteMap { key } => {
                    path.push(key);
                    let p = dotted(&path);
                    out.insert(
                        p.clone(),
                        FieldChange {
                            path: p,
                            kind: ChangeKind::Removed,
                            value: Json::Null,
                        },
                    );
                }
                PatchAction::SpliceText { .. } | PatchAction::DeleteSeq { .. } => {
                    let p = dotted(&path);
                    let text = am.text(&patch.obj).unwrap_or_default();
                    out.insert(
                        p.clone(),
                        FieldChange {
                            path: p,
                            kind: ChangeKind::Text,
                            value: Json::String(text),
                        },
                    );
                }
                _ => {}
            }
        }
        out.into_values().collect()
    }
}
