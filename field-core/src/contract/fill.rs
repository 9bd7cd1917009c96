//! Filling a template from a job, and the canonical text of a filled contract.
//!
//! The canonical text is deterministic: the same template, values and header always give the
//! same bytes (UTF-8, `\n` line ends, no trailing spaces, one final newline), so its SHA-256
//! names the text a customer signed.

use super::template::{Format, Template};
use crate::codes::{Importance, Source, Tariff, Voltage};
use crate::job::Job;
use crate::validate::Invalid;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use std::collections::BTreeMap;

/// Which version of a contract this is: 1, or an amendment of an earlier contract.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub version: u32,
    /// The contract number of the contract this one amends.
    pub amends_no: Option<String>,
}

/// A value the contract still needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissingField {
    pub key: String,
    pub zh: String,
    pub en: String,
}

/// A template filled from a job: the values, what is still missing and the text as it reads now
/// (missing values shown as `【待填：…】`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filled {
    pub template_id: String,
    pub template_version: u32,
    pub title: String,
    pub values: BTreeMap<String, String>,
    pub missing: Vec<MissingField>,
    pub text: String,
}

impl Filled {
    /// An error naming every missing value, or `Ok` when the contract can be signed.
    pub fn require_complete(&self) -> Result<(), Invalid> {
        if self.missing.is_empty() {
            return Ok(());
        }
        let zh: Vec<&str> = self.missing.iter().map(|m| m.zh.as_str()).collect();
        let en: Vec<&str> = self.missing.iter().map(|m| m.en.as_str()).collect();
        Err(Invalid::new(
            "contract",
            format!("合同还缺少：{}", zh.join("、")),
            format!("the contract still lacks: {}", en.join(", ")),
        ))
    }
}

/// One line of a value: control characters dropped, runs of white space made one space.
fn normalize(s: &str) -> String {
    s.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn number(n: f64) -> String {
    let s = format!("{n:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn format_value(v: &Json, format: Option<Format>) -> Option<String> {
    let text = match v {
        Json::String(s) => s.clone(),
        Json::Number(n) => number(n.as_f64()?),
        Json::Bool(b) => if *b { "是" } else { "否" }.to_string(),
        _ => return None,
    };
    let label = |s: &str| -> Option<&'static str> {
        match format? {
            Format::Voltage => Voltage::parse(s).map(|c| c.zh()),
            Format::Tariff => Tariff::parse(s).map(|c| c.zh()),
            Format::Source => Source::parse(s).map(|c| c.zh()),
            Format::Importance => Importance::parse(s).map(|c| c.zh()),
            Format::Kva => None,
        }
    };
    let text = match (format, v) {
        (Some(Format::Kva), Json::Number(n)) => format!("{} 千伏安", number(n.as_f64()?)),
        _ => label(&text).map(str::to_string).unwrap_or(text),
    };
    let text = normalize(&text);
    (!text.is_empty()).then_some(text)
}

fn lookup<'a>(job: &'a Json, path: &str) -> Option<&'a Json> {
    path.split('.').try_fold(job, |v, key| v.get(key))
}

/// Fills `template` from `job` and the values given at signing (`input.<name>`).
pub fn fill(
    template: &Template,
    job: &Job,
    inputs: &BTreeMap<String, String>,
    header: &Header,
) -> Filled {
    let job_json = serde_json::to_value(job).unwrap_or(Json::Null);
    let mut values = BTreeMap::new();
    let mut missing = Vec::new();
    for f in &template.fields {
        let found = f
            .from
            .iter()
            .find_map(|src| match src.strip_prefix("input.") {
                Some(name) => inputs
                    .get(name)
                    .map(|s| normalize(s))
                    .filter(|s| !s.is_empty()),
                None => lookup(&job_json, src).and_then(|v| format_value(v, f.format)),
            });
        match found.or_else(|| f.default.clone()) {
            Some(v) => {
                values.insert(f.key.clone(), v);
            }
            None if f.required => missing.push(MissingField {
                key: f.key.clone(),
                zh: f.zh.clone(),
                en: f.en.clone(),
            }),
            None => {}
        }
    }
    let text = render(template, &values, header);
    Filled {
        template_id: template.id.clone(),
        template_version: template.version,
        title: template.title.zh.clone(),
        values,
        missing,
        text,
    }
}

fn value_or_gap(template: &Template, values: &BTreeMap<String, String>, key: &str) -> String {
    match values.get(key) {
        Some(v) => v.clone(),
        None => {
            let label = template.field(key).map(|f| f.zh.as_str()).unwrap_or(key);
            format!("【待填：{label}】")
        }
    }
}

/// The canonical text of a contract. Values are substituted once (a value containing `{x}`
/// stays literal).
pub fn render(template: &Template, values: &BTreeMap<String, String>, header: &Header) -> String {
    let mut lines: Vec<String> = vec![
        template.title.zh.clone(),
        format!("（范本 {} 第 {} 版）", template.id, template.version),
    ];
    if let Some(no) = &header.amends_no {
        lines.push(format!(
            "本合同为合同 {no} 的变更（第 {} 版），自签订之日起替代原合同。",
            header.version
        ));
    }
    lines.push(String::new());
    // Substitute segment by segment so a value is never scanned for placeholders again.
    let sub = |line: &str| -> String {
        let mut out = String::new();
        let mut rest = line;
        while let Some(start) = rest.find('{') {
            let Some(len) = rest[start..].find('}') else {
                break;
            };
            out.push_str(&rest[..start]);
            out.push_str(&value_or_gap(
                template,
                values,
                &rest[start + 1..start + len],
            ));
            rest = &rest[start + len + 1..];
        }
        out.push_str(rest);
        out
    };
    lines.extend(template.preamble.iter().map(|l| sub(l)));
    for clause in &template.clauses {
        lines.push(String::new());
        lines.push(sub(&clause.heading));
        lines.extend(clause.body.iter().map(|l| sub(l)));
    }
    lines.push(String::new());
    lines.extend(template.closing.iter().map(|l| sub(l)));
    let mut text: String = lines
        .iter()
        .map(|l| l.trim_end())
        .collect::<Vec<_>>()
        .join("\n");
    text.push('\n');
    text
}

/// The SHA-256 of a canonical text, lower-case hex.
pub fn text_sha256(text: &str) -> String {
    super::sha256_hex(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::JobKind;
    use crate::contract::template::template_for;

    fn values() -> BTreeMap<String, String> {
        [("customer", "张三"), ("address", "示范路 {1} 号")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn rendering_is_deterministic_and_marks_what_is_missing() {
        let t = template_for(JobKind::LowVoltageResidential).unwrap();
        let h = Header {
            version: 1,
            amends_no: None,
        };
        let a = render(t, &values(), &h);
        assert_eq!(a, render(t, &values(), &h));
        assert!(a.ends_with('\n') && !a.contains(" \n") && !a.contains('\r'));
        assert!(a.contains("用电人：张三"));
        assert!(a.contains("示范路 {1} 号"), "values are not re-scanned");
        assert!(a.contains("【待填：供电人】"));
        let amended = render(
            t,
            &values(),
            &Header {
                version: 2,
                amends_no: Some("HT-1".into()),
            },
        );
        assert!(amended.contains("合同 HT-1 的变更（第 2 版）"));
        assert_ne!(text_sha256(&a), text_sha256(&amended));
    }

    #[test]
    fn values_are_normalized() {
        assert_eq!(normalize("  a\r\n b\u{7}c  "), "a b c");
        assert_eq!(number(100.0), "100");
        assert_eq!(number(12.5), "12.5");
        assert_eq!(
            format_value(&Json::from(8.0), Some(Format::Kva)).unwrap(),
            "8 千伏安"
        );
        assert_eq!(
            format_value(&Json::from("0.22kv"), Some(Format::Voltage)).unwrap(),
            "220伏"
        );
    }
}
