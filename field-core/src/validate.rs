//! Input validation with bilingual messages. Every edit is checked before it touches a document,
//! so invalid input never changes what is stored.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

/// Text limits (in characters).
pub const SHORT_TEXT_MAX: usize = 200;
pub const LONG_TEXT_MAX: usize = 4_000;
pub const NOTES_MAX: usize = 100_000;
pub const ID_MAX: usize = 64;

/// The days a date or an instant may name: nothing in a job happens before 2000 or after 2100,
/// and no value a client sends may make a clock or a calendar count further than this. The write
/// policy carries its own window (this one by default, [`crate::policy::WritePolicy::dates`]);
/// the mapping reads a value outside this one as absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateWindow {
    pub earliest: NaiveDate,
    pub latest: NaiveDate,
}

impl Default for DateWindow {
    fn default() -> Self {
        DateWindow {
            earliest: NaiveDate::from_ymd_opt(2000, 1, 1).expect("a date"),
            latest: NaiveDate::from_ymd_opt(2100, 12, 31).expect("a date"),
        }
    }
}

impl DateWindow {
    pub fn contains(&self, day: NaiveDate) -> bool {
        (self.earliest..=self.latest).contains(&day)
    }

    /// Whether an instant falls on a day of the window (China time).
    pub fn contains_instant(&self, at: DateTime<Utc>) -> bool {
        self.contains(crate::job::local_date(at))
    }

    /// `Ok` inside the window; otherwise a bilingual error naming `field`.
    pub fn check(&self, field: &str, day: NaiveDate) -> Result<(), Invalid> {
        if self.contains(day) {
            return Ok(());
        }
        Err(Invalid::new(
            field,
            format!(
                "{field}：日期 {day} 超出允许范围 {}–{}",
                self.earliest, self.latest
            ),
            format!(
                "{field}: {day} is outside the allowed dates {}–{}",
                self.earliest, self.latest
            ),
        ))
    }
}

/// The media types a photo's original may have: exactly the formats the phone's ingest decodes
/// (its display copy and thumbnail are always JPEG). The server checks each blob's leading bytes
/// against the type its photo records declare.
pub const PHOTO_MIME_TYPES: &[&str] = &[
    "image/jpeg",
    "image/png",
    "image/webp",
    "image/gif",
    "image/bmp",
    "image/tiff",
];

/// The image type `bytes` start with, read from their signature (never from a name or a claim):
/// one of [`PHOTO_MIME_TYPES`], or `None`.
pub fn sniff_image(bytes: &[u8]) -> Option<&'static str> {
    let starts = |sig: &[u8]| bytes.starts_with(sig);
    if starts(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if starts(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.len() >= 12 && starts(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else if starts(b"GIF87a") || starts(b"GIF89a") {
        Some("image/gif")
    } else if starts(b"BM") && bytes.len() >= 26 {
        Some("image/bmp")
    } else if starts(b"II*\0") || starts(b"MM\0*") {
        Some("image/tiff")
    } else {
        None
    }
}

/// One invalid input, explained in Chinese and English.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{zh} / {en}")]
pub struct Invalid {
    pub field: String,
    pub zh: String,
    pub en: String,
}

impl Invalid {
    pub fn new(field: &str, zh: impl Into<String>, en: impl Into<String>) -> Invalid {
        Invalid {
            field: field.to_string(),
            zh: zh.into(),
            en: en.into(),
        }
    }
}

/// Fields that hold free text and may be long.
const LONG_FIELDS: &[&str] = &[
    "findings",
    "plan",
    "text",
    "comment",
    "remarks",
    "note",
    "reason",
    "supply_management",
    "address",
    "property_boundary",
    "plan_question",
    "rating_comment",
    "fees_basis",
    "watermark",
    "attendees",
    "topics",
    "decisions",
    "participants",
    "lines",
    "transformers",
];

/// Numeric ranges by field name: (min, max), both inclusive.
fn number_range(key: &str) -> Option<(f64, f64)> {
    Some(match key {
        "capacity_kva" | "verified_capacity_kva" => (0.0, 10_000_000.0),
        "grid_distance_m" => (0.0, 1_000_000.0),
        "replacement_share_pct" | "progress_pct" => (0.0, 100.0),
        "satisfaction" => (1.0, 5.0),
        "initial_reading" | "quantity" | "amount_yuan" | "fees_yuan" => (0.0, 1e12),
        "rating" => (1.0, 5.0),
        "version" => (0.0, 1e9),
        _ => return None,
    })
}

/// Checks every field of a flat patch by its name: text length, number ranges, finiteness.
pub fn check_patch(section: &str, patch: &Map<String, Json>) -> Result<(), Invalid> {
    for (key, value) in patch {
        let field = format!("{section}.{key}");
        match value {
            Json::String(s) => check_text(&field, key, s)?,
            Json::Number(n) => {
                let f = n.as_f64().unwrap_or(f64::NAN);
                if !f.is_finite() {
                    return Err(Invalid::new(&field, "数值无效", "the number is not finite"));
                }
                if let Some((min, max)) = number_range(key) {
                    if key == "capacity_kva" && f <= 0.0 {
                        return Err(Invalid::new(
                            &field,
                            "申请容量必须大于 0",
                            "capacity must be greater than 0 kVA",
                        ));
                    }
                    if f < min || f > max {
                        return Err(Invalid::new(
                            &field,
                            format!("数值 {f} 超出范围 {min}–{max}"),
                            format!("{f} is outside the allowed range {min}–{max}"),
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn check_text(field: &str, key: &str, s: &str) -> Result<(), Invalid> {
    let max = if LONG_FIELDS.contains(&key) {
        LONG_TEXT_MAX
    } else {
        SHORT_TEXT_MAX
    };
    let len = s.chars().count();
    if len > max {
        return Err(Invalid::new(
            field,
            format!("文字过长（{len} 字，最多 {max} 字）"),
            format!("text too long ({len} characters, at most {max})"),
        ));
    }
    if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(Invalid::new(
            field,
            "文字含有控制字符",
            "text contains control characters",
        ));
    }
    if key.ends_with("phone") && !s.chars().all(|c| c.is_ascii_digit() || "+- ()".contains(c)) {
        return Err(Invalid::new(
            field,
            "电话号码只能包含数字和 + - ( ) 空格",
            "a phone number may contain only digits, spaces and + - ( )",
        ));
    }
    Ok(())
}

/// Checks the length of the notes (characters).
pub fn check_notes_len(len: usize) -> Result<(), Invalid> {
    if len > NOTES_MAX {
        return Err(Invalid::new(
            "notes",
            format!("备注过长（{len} 字，最多 {NOTES_MAX} 字）"),
            format!("notes too long ({len} characters, at most {NOTES_MAX})"),
        ));
    }
    Ok(())
}

/// Checks a client-chosen identifier (entry keys, job ids): 1–64 of `[A-Za-z0-9_-]`.
pub fn check_id(field: &str, id: &str) -> Result<(), Invalid> {
    if id.is_empty()
        || id.len() > ID_MAX
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(Invalid::new(
            field,
            format!("标识 “{id}” 无效（1–64 位字母、数字、- 或 _）"),
            format!("identifier “{id}” is invalid (1–64 letters, digits, - or _)"),
        ));
    }
    Ok(())
}

/// Whether `s` is a lower-case hex SHA-256 (how blobs are named).
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Checks a contact phone number a customer gives: a mainland mobile number (11 digits starting
/// with 1) or a landline with its area code (`0` then 9–11 digits, a `-` after the area code
/// allowed), `+86` in front allowed. Spaces are ignored.
pub fn check_phone_number(field: &str, phone: &str) -> Result<(), Invalid> {
    let digits = normalized_phone(phone);
    let local = digits
        .strip_prefix("86")
        .filter(|_| phone.trim_start().starts_with('+'));
    let n = local.unwrap_or(&digits);
    let mobile = n.len() == 11 && n.starts_with('1');
    let landline = n.starts_with('0') && (10..=12).contains(&n.len());
    let shape_ok = phone
        .chars()
        .all(|c| c.is_ascii_digit() || c == ' ' || c == '-' || c == '+');
    if shape_ok && (mobile || landline) {
        return Ok(());
    }
    Err(Invalid::new(
        field,
        "请填写正确的联系电话：11 位手机号，或带区号的固定电话（如 0710-1234567）",
        "enter a valid phone number: an 11-digit mobile number, or a landline with its area code \
         (e.g. 0710-1234567)",
    ))
}

/// The digits of a phone number (how two spellings of one number compare).
pub fn normalized_phone(phone: &str) -> String {
    phone.chars().filter(char::is_ascii_digit).collect()
}

/// Checks the number of the one document an application is accepted on (一证受理): an 18-digit
/// resident ID number (居民身份证号, its check digit verified) or an 18-character unified social
/// credit code (统一社会信用代码, its check character verified).
pub fn check_id_document(field: &str, number: &str) -> Result<(), Invalid> {
    let n = number.trim().to_ascii_uppercase();
    if resident_id_valid(&n) || credit_code_valid(&n) {
        return Ok(());
    }
    Err(Invalid::new(
        field,
        "证件号码无效：请填写 18 位居民身份证号或 18 位统一社会信用代码",
        "the document number is invalid: enter an 18-digit resident ID number or an \
         18-character unified social credit code",
    ))
}

/// GB 11643: 17 digits and an ISO 7064 MOD 11-2 check character (0–9 or X).
fn resident_id_valid(n: &str) -> bool {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let b = n.as_bytes();
    if b.len() != 18 || !b[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = b[..17]
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    b[17] == CHECK[(sum % 11) as usize]
}

/// GB 32100: 17 characters of the code alphabet and a MOD 31 check character.
fn credit_code_valid(n: &str) -> bool {
    const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    const WEIGHTS: [u32; 17] = [
        1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
    ];
    let b = n.as_bytes();
    if b.len() != 18 {
        return false;
    }
    let mut values = [0u32; 18];
    for (i, c) in b.iter().enumerate() {
        match ALPHABET.iter().position(|a| a == c) {
            Some(v) => values[i] = v as u32,
            None => return false,
        }
    }
    let sum: u32 = values[..17].iter().zip(WEIGHTS).map(|(v, w)| v * w).sum();
    let check = (31 - sum % 31) % 31;
    values[17] == check
}

/// A document number as shown to someone who holds only a link: its first four and last four
/// characters.
pub fn mask_id(number: &str) -> String {
    mask(number.trim(), 4, 4)
}

/// A phone number as shown to someone who holds only a link: its first three and last four
/// digits.
pub fn mask_phone(phone: &str) -> String {
    mask(&normalized_phone(phone), 3, 4)
}

fn mask(s: &str, head: usize, tail: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= head + tail {
        return "*".repeat(chars.len());
    }
    let mut out: String = chars[..head].iter().collect();
    out.push_str(&"*".repeat(chars.len() - head - tail));
    out.extend(&chars[chars.len() - tail..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patch(v: Json) -> Map<String, Json> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn rejects_bad_values_with_both_languages() {
        let e = check_patch("application", &patch(json!({"capacity_kva": -5.0}))).unwrap_err();
        assert_eq!(e.field, "application.capacity_kva");
        assert!(e.zh.contains("容量") && e.en.contains("capacity"));
        assert!(check_patch("return_visit", &patch(json!({"satisfaction": 6}))).is_err());
        assert!(check_patch("customer", &patch(json!({"name": "x".repeat(201)}))).is_err());
        assert!(check_patch("customer", &patch(json!({"contact_phone": "abc"}))).is_err());
        assert!(check_patch("customer", &patch(json!({"name": "张三\u{7}"}))).is_err());
        assert!(
            check_patch(
                "customer",
                &patch(json!({"name": "张三", "contact_phone": "+86 138-0000-0000"}))
            )
            .is_ok()
        );
    }

    #[test]
    fn ids() {
        assert!(check_id("id", "abc-123_X").is_ok());
        assert!(check_id("id", "").is_err());
        assert!(check_id("id", "a.b").is_err());
        assert!(check_id("id", &"a".repeat(65)).is_err());
    }

    #[test]
    fn phone_numbers_are_mobiles_or_landlines_with_area_codes() {
        for ok in [
            "13800138000",
            "+86 138 0013 8000",
            "0710-1234567",
            "010 12345678",
        ] {
            assert!(check_phone_number("p", ok).is_ok(), "{ok}");
        }
        for bad in [
            "12345",
            "1380013800",
            "138001380000",
            "abc13800138000",
            "7101234567",
            "",
        ] {
            assert!(check_phone_number("p", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn id_documents_have_their_check_characters_verified() {
        // A resident ID (GB 11643's example) and a unified social credit code.
        assert!(check_id_document("i", "11010519491231002X").is_ok());
        assert!(check_id_document("i", "11010519491231002x").is_ok());
        assert!(check_id_document("i", "110105194912310021").is_err());
        assert!(check_id_document("i", "91350100M000100Y43").is_ok());
        assert!(check_id_document("i", "91350100M000100Y44").is_err());
        assert!(check_id_document("i", "1234").is_err());
    }

    #[test]
    fn masks_keep_only_the_ends() {
        assert_eq!(mask_id("11010519491231002X"), "1101**********002X");
        assert_eq!(mask_phone("138 0013 8000"), "138****8000");
        assert_eq!(mask_phone("123"), "***");
    }
}
