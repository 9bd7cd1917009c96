//! Contract templates (合同范本) as versioned data: which fields a contract needs, where each
//! comes from in the job, and the clause text with `{field}` placeholders. The templates shipped
//! with the app are compiled in from `data/contracts/*.json`.

use super::ContractError;
use crate::codes::JobKind;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::sync::OnceLock;

const EMBEDDED: &[&str] = &[
    include_str!("../../data/contracts/lv_residential.v1.json"),
    include_str!("../../data/contracts/lv_non_residential.v1.json"),
    include_str!("../../data/contracts/hv.v1.json"),
];

/// A text in Chinese and English.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    pub zh: String,
    pub en: String,
}

/// How a value read from the job is written into the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// A number of kVA: `100 千伏安`.
    Kva,
    Voltage,
    Tariff,
    Source,
    Importance,
}

/// One value the contract needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldSpec {
    pub key: String,
    pub zh: String,
    pub en: String,
    /// Where to read it, first present wins: a dotted path into the job (`customer.name`) or
    /// `input.<name>` for a value given at signing.
    pub from: Vec<String>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub default: Option<String>,
    #[serde(default)]
    pub format: Option<Format>,
}

/// A numbered clause: its heading and paragraphs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clause {
    pub heading: String,
    pub body: Vec<String>,
}

/// A contract template, identified by `id` and `version`. A published version never changes;
/// a changed text is a new version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Template {
    pub id: String,
    pub version: u32,
    pub title: Label,
    pub kinds: Vec<JobKind>,
    pub fields: Vec<FieldSpec>,
    pub preamble: Vec<String>,
    pub clauses: Vec<Clause>,
    pub closing: Vec<String>,
}

/// The `{name}` placeholders of a line, in order.
pub(super) fn placeholders(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end) => {
                out.push(&after[..end]);
                rest = &after[end + 1..];
            }
            None => break,
        }
    }
    out
}

impl Template {
    /// Parses and checks a template: unique field keys, every placeholder names a field, every
    /// field has a source.
    pub fn from_json(json: &str) -> Result<Template, ContractError> {
        let t: Template = serde_json::from_str(json)
            .map_err(|e| ContractError::Template(format!("JSON: {e}")))?;
        let bad =
            |detail: String| ContractError::Template(format!("{} v{}: {detail}", t.id, t.version));
        if crate::validate::check_id("template.id", &t.id).is_err() || t.version == 0 {
            return Err(bad(
                "id must be 1–64 of [A-Za-z0-9_-] and version ≥ 1".into()
            ));
        }
        if t.kinds.is_empty() {
            return Err(bad("no job kinds".into()));
        }
        let mut keys = BTreeSet::new();
        for f in &t.fields {
            if !keys.insert(f.key.as_str()) {
                return Err(bad(format!("field {} twice", f.key)));
            }
            if f.from.is_empty() {
                return Err(bad(format!("field {} has no source", f.key)));
            }
        }
        for line in t.lines() {
            for p in placeholders(line) {
                if !keys.contains(p) {
                    return Err(bad(format!("placeholder {{{p}}} names no field")));
                }
            }
        }
        Ok(t)
    }

    /// Every line that may hold placeholders.
    fn lines(&self) -> impl Iterator<Item = &str> {
        self.preamble
            .iter()
            .chain(
                self.clauses
                    .iter()
                    .flat_map(|c| std::iter::once(&c.heading).chain(&c.body)),
            )
            .chain(&self.closing)
            .map(String::as_str)
    }

    pub fn field(&self, key: &str) -> Option<&FieldSpec> {
        self.fields.iter().find(|f| f.key == key)
    }
}

/// The templates shipped with the app.
pub fn templates() -> &'static [Template] {
    static ALL: OnceLock<Vec<Template>> = OnceLock::new();
    ALL.get_or_init(|| {
        EMBEDDED
            .iter()
            .map(|j| {
                Template::from_json(j).expect("embedded contract templates are checked by tests")
            })
            .collect()
    })
}

/// One template by id and version.
pub fn template(id: &str, version: u32) -> Result<&'static Template, ContractError> {
    templates()
        .iter()
        .find(|t| t.id == id && t.version == version)
        .ok_or_else(|| ContractError::UnknownTemplate {
            id: id.to_string(),
            version,
        })
}

/// The newest template for a job kind.
pub fn template_for(kind: JobKind) -> Result<&'static Template, ContractError> {
    templates()
        .iter()
        .filter(|t| t.kinds.contains(&kind))
        .max_by_key(|t| t.version)
        .ok_or(ContractError::NoTemplate(kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_checked_template() {
        assert_eq!(templates().len(), EMBEDDED.len());
        for kind in JobKind::ALL {
            let t = template_for(*kind).unwrap();
            assert!(t.kinds.contains(kind));
            assert!(t.field("customer").is_some() && t.field("signed_on").is_some());
        }
    }

    #[test]
    fn bad_templates_are_refused() {
        let good = EMBEDDED[0];
        let typo = good.replacen("{address}", "{adress}", 1);
        let e = Template::from_json(&typo).unwrap_err().to_string();
        assert!(e.contains("adress"), "{e}");
        assert!(Template::from_json("{}").is_err());
        assert_eq!(placeholders("a{b}c{d}e{"), vec!["b", "d"]);
    }
}
