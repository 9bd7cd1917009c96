//! The mapping between automerge maps and JSON values, used both to read typed sections out of a
//! document and to write patches into it field by field.
//!
//! Reading walks the document and records every key with concurrent values as a [`Conflict`]
//! (the deterministic winner is what the typed structs see). If two replicas concurrently created
//! a map at the same key, the maps are merged on read so neither side's fields disappear.

use automerge::{ObjId, ObjType, ReadDoc, ScalarValue, Value, transaction::Transactable};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value as Json};

/// A key where concurrent writes left more than one value. `winner` is what readers see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conflict {
    /// Dotted path, e.g. `customer.contact_phone`.
    pub path: String,
    pub winner: Json,
    pub others: Vec<Json>,
    /// The automerge actors (hex) that wrote the winner and each other value, in order: who
    /// wrote what, once mapped to devices and users.
    #[serde(default)]
    pub winner_actor: String,
    #[serde(default)]
    pub other_actors: Vec<String>,
}

fn actor_of(id: &ObjId) -> String {
    match id {
        ObjId::Id(_, actor, _) => actor.to_hex_string(),
        ObjId::Root => String::new(),
    }
}

/// Errors of the mapping layer.
#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    #[error("automerge: {0}")]
    Automerge(#[from] automerge::AutomergeError),
    #[error("字段 {field} 的值无效 / invalid value for {field}: {reason}")]
    Value { field: String, reason: String },
    #[error("{path} 嵌套超过 {MAX_NESTING} 层 / {path} is nested deeper than {MAX_NESTING} levels")]
    TooDeep { path: String },
}

/// How deep readers follow nested objects (the schema needs 5; anything deeper is refused
/// instead of exhausting the stack).
pub const MAX_NESTING: usize = 32;

/// Deserializes a field leniently: a value of the wrong type or an unknown code (written by a
/// newer app, say) reads as `None` instead of failing the whole job.
///
/// Dates and instants outside [`crate::validate::DateWindow`] read as `None` too: no stored
/// value, however it got there, reaches the clocks or the rules as a day they would count to.
pub fn lenient<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned + 'static,
{
    let v = Json::deserialize(d)?;
    let value: Option<T> = serde_json::from_value(v).ok();
    Ok(value.filter(|t| within_window(t)))
}

/// Whether a typed value that is a date or an instant lies within the window (other types: yes).
fn within_window<T: 'static>(value: &T) -> bool {
    let any = value as &dyn std::any::Any;
    let window = crate::validate::DateWindow::default();
    if let Some(day) = any.downcast_ref::<chrono::NaiveDate>() {
        window.contains(*day)
    } else if let Some(at) = any.downcast_ref::<DateTime<Utc>>() {
        window.contains_instant(*at)
    } else {
        true
    }
}

/// Like [`lenient`] for nested parts that have a default.
pub fn lenient_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned + Default,
{
    let v = Json::deserialize(d)?;
    Ok(serde_json::from_value(v).unwrap_or_default())
}

fn scalar_to_json(s: &ScalarValue) -> Json {
    match s {
        ScalarValue::Str(x) => Json::String(x.to_string()),
        ScalarValue::Int(i) => Json::from(*i),
        ScalarValue::Uint(u) => Json::from(*u),
        ScalarValue::F64(f) => serde_json::Number::from_f64(*f)
            .map(Json::Number)
            .unwrap_or(Json::Null),
        ScalarValue::Counter(c) => Json::from(i64::from(c)),
        ScalarValue::Timestamp(ms) => DateTime::<Utc>::from_timestamp_millis(*ms)
            .map(|t| Json::String(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)))
            .unwrap_or(Json::Null),
        ScalarValue::Boolean(b) => Json::Bool(*b),
        ScalarValue::Null => Json::Null,
        ScalarValue::Bytes(b) => Json::String(b.iter().map(|x| format!("{x:02x}")).collect()),
        _ => Json::Null,
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Reads the value at `obj[key]` (winner), merging concurrently created maps.
fn read_prop<R: ReadDoc>(
    doc: &R,
    obj: &ObjId,
    key: &str,
    path: &str,
    conflicts: &mut Vec<Conflict>,
    depth: usize,
) -> Result<Json, MappingError> {
    let Some((winner, winner_id)) = doc.get(obj, key)? else {
        return Ok(Json::Null);
    };
    let all = doc.get_all(obj, key)?;
    let here = join(path, key);
    match winner {
        Value::Scalar(s) => {
            let value = scalar_to_json(&s);
            if all.len() > 1 {
                let others = all
                    .iter()
                    .filter(|(_, id)| *id != winner_id)
                    .map(|(v, id)| match v {
                        Value::Scalar(s) => scalar_to_json(s),
                        Value::Object(_) => read_at(doc, id, &here, &mut Vec::new(), depth + 1)
                            .unwrap_or(Json::Null),
                    })
                    .collect();
                conflicts.push(Conflict {
                    path: here,
                    winner: value.clone(),
                    others,
                    winner_actor: actor_of(&winner_id),
                    other_actors: all
                        .iter()
                        .filter(|(_, id)| *id != winner_id)
                        .map(|(_, id)| actor_of(id))
                        .collect(),
                });
            }
            Ok(value)
        }
        Value::Object(ObjType::Map) => {
            let mut merged = match read_at(doc, &winner_id, &here, conflicts, depth + 1)? {
                Json::Object(m) => m,
                _ => Map::new(),
            };
            // Concurrently created maps at the same key: keep the losers' fields too.
            for (v, id) in all.iter().filter(|(_, id)| *id != winner_id) {
                if let Value::Object(ObjType::Map) = v
                    && let Json::Object(m) = read_at(doc, id, &here, &mut Vec::new(), depth + 1)?
                {
                    for (k, v) in m {
                        merged.entry(k).or_insert(v);
                    }
                }
            }
            Ok(Json::Object(merged))
        }
        Value::Object(_) => read_at(doc, &winner_id, &here, conflicts, depth + 1),
    }
}

/// Reads any object (map, list, text) into JSON, at most [`MAX_NESTING`] levels deep.
pub fn read_object<R: ReadDoc>(
    doc: &R,
    obj: &ObjId,
    path: &str,
    conflicts: &mut Vec<Conflict>,
) -> Result<Json, MappingError> {
    read_at(doc, obj, path, conflicts, 0)
}

fn read_at<R: ReadDoc>(
    doc: &R,
    obj: &ObjId,
    path: &str,
    conflicts: &mut Vec<Conflict>,
    depth: usize,
) -> Result<Json, MappingError> {
    if depth > MAX_NESTING {
        return Err(MappingError::TooDeep {
            path: path.to_string(),
        });
    }
    match doc.object_type(obj)? {
        ObjType::Map | ObjType::Table => {
            // One pass over the map; only keys with concurrent values take the slow path.
            let mut out = Map::new();
            let mut slow = Vec::new();
            let mut nested = Vec::new();
            for item in doc.map_range(obj, ..) {
                if item.conflict {
                    slow.push(item.key.into_owned());
                    continue;
                }
                if matches!(item.value, automerge::ValueRef::Object(_)) {
                    nested.push((item.key.to_string(), item.id()));
                } else if let Value::Scalar(s) = Value::from(item.value) {
                    out.insert(item.key.into_owned(), scalar_to_json(&s));
                }
            }
            for (key, id) in nested {
                let v = read_at(doc, &id, &join(path, &key), conflicts, depth + 1)?;
                out.insert(key, v);
            }
            for key in slow {
                let v = read_prop(doc, obj, &key, path, conflicts, depth)?;
                out.insert(key, v);
            }
            Ok(Json::Object(out))
        }
        ObjType::Text => Ok(Json::String(doc.text(obj)?)),
        ObjType::List => {
            let mut out = Vec::new();
            for i in 0..doc.length(obj) {
                match doc.get(obj, i)? {
                    Some((Value::Scalar(s), _)) => out.push(scalar_to_json(&s)),
                    Some((Value::Object(_), id)) => out.push(read_at(
                        doc,
                        &id,
                        &join(path, &i.to_string()),
                        conflicts,
                        depth + 1,
                    )?),
                    None => out.push(Json::Null),
                }
            }
            Ok(Json::Array(out))
        }
    }
}

/// The map object at `obj[key]`, if there is one (the winner when maps were created concurrently).
pub fn get_map<R: ReadDoc>(doc: &R, obj: &ObjId, key: &str) -> Result<Option<ObjId>, MappingError> {
    Ok(match doc.get(obj, key)? {
        Some((Value::Object(ObjType::Map), id)) => Some(id),
        _ => None,
    })
}

/// The map at `obj[key]`, created when missing.
pub fn ensure_map<T: Transactable + ReadDoc>(
    tx: &mut T,
    obj: &ObjId,
    key: &str,
) -> Result<ObjId, MappingError> {
    match get_map(tx, obj, key)? {
        Some(id) => Ok(id),
        None => Ok(tx.put_object(obj, key, ObjType::Map)?),
    }
}

/// Converts one JSON scalar of a patch to the automerge scalar stored for `key`.
pub fn json_to_scalar(key: &str, v: &Json) -> Result<ScalarValue, MappingError> {
    let bad = |reason: &str| MappingError::Value {
        field: key.to_string(),
        reason: reason.to_string(),
    };
    Ok(match v {
        Json::Bool(b) => ScalarValue::Boolean(*b),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                ScalarValue::Int(i)
            } else {
                let f = n.as_f64().ok_or_else(|| bad("number out of range"))?;
                ScalarValue::F64(f)
            }
        }
        Json::String(s) if key.ends_with("_at") => {
            let t = DateTime::parse_from_rfc3339(s).map_err(|_| bad("not an RFC 3339 instant"))?;
            ScalarValue::Timestamp(t.timestamp_millis())
        }
        Json::String(s) => ScalarValue::Str(s.as_str().into()),
        Json::Null => ScalarValue::Null,
        Json::Array(_) | Json::Object(_) => return Err(bad("nested values are not allowed here")),
    })
}

/// Writes every non-null field of a flat JSON object into the map `obj`, skipping fields whose
/// stored value is already equal (so re-applying an edit adds no operations and no conflicts).
/// Returns how many fields were written.
pub fn put_patch<T: Transactable + ReadDoc>(
    tx: &mut T,
    obj: &ObjId,
    patch: &Map<String, Json>,
) -> Result<usize, MappingError> {
    let mut written = 0;
    for (key, value) in patch {
        if value.is_null() {
            continue;
        }
        let scalar = json_to_scalar(key, value)?;
        let unchanged = match tx.get_all(obj, key.as_str())?.as_slice() {
            [(Value::Scalar(current), _)] => current.as_ref() == &scalar,
            _ => false,
        };
        if !unchanged {
            tx.put(obj, key.as_str(), scalar)?;
            written += 1;
        }
    }
    Ok(written)
}
