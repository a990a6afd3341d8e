//! Converters between SCIM values and backend values (mapping key `convert`, `values`,
//! `lookup`). Each converter has an inverse and states which filter operators survive it, so
//! a filter literal goes through the same conversion as a write.

use std::fmt;

use argon2::password_hash::PasswordHasher;
use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use serde_json::Value as Json;

use crate::connector::{CompareOp, Value};
use crate::scim::schema::AttrType;

/// Why a value could not be converted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvertError(pub String);

impl fmt::Display for ConvertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn err<T>(msg: impl Into<String>) -> Result<T, ConvertError> {
    Err(ConvertError(msg.into()))
}

/// How a boolean is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoolForm {
    /// `1` / `0`.
    Int,
    /// `Y` / `N`.
    YesNo,
    /// `TRUE` / `FALSE` (LDAP Boolean syntax).
    Text,
    /// The backend's own boolean.
    Native,
}

/// How a timestamp is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateTimeForm {
    /// RFC 3339 text with milliseconds, `2024-01-02T03:04:05.678Z`.
    Iso,
    /// `2024-01-02 03:04:05`, understood as UTC.
    NaiveUtc,
    /// LDAP GeneralizedTime, `20240102030405Z`.
    Generalized,
    /// Seconds since the epoch.
    Epoch,
    /// Milliseconds since the epoch.
    EpochMs,
    /// A date only, `2024-01-02`.
    Date,
}

/// What a value absent from a finite map becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unknown {
    Reject,
    Pass,
    Drop,
}

/// A finite map between SCIM values (by their text form) and backend values.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueMap {
    pub pairs: Vec<(String, Value)>,
    pub unknown: Unknown,
}

/// One conversion step.
#[derive(Debug, Clone, PartialEq)]
pub enum Converter {
    Lower,
    Upper,
    Trim,
    Int,
    Float,
    Text,
    Bool(BoolForm),
    DateTime(DateTimeForm),
    Values(ValueMap),
    /// The backend adds text around the SCIM value (`affix:,@corp.example`: SCIM `ann`,
    /// backend `ann@corp.example`).
    Affix {
        prefix: String,
        suffix: String,
    },
    /// The SCIM value carries text the backend leaves out (`strip:,@contoso.com`: SCIM
    /// `ann@contoso.com`, backend `ann`); a value without it cannot be stored.
    Strip {
        prefix: String,
        suffix: String,
    },
    /// BCP 47 tags in SCIM (`en-US`), POSIX locales in the backend (`en_US`; a codeset or
    /// modifier such as `.UTF-8` is dropped on read).
    LocalePosix,
    /// One-way hash for passwords (`hash:argon2`).
    HashArgon2,
    /// Salted SHA for directories that store what they are sent (`hash:ssha`,
    /// `hash:ssha256`, `hash:ssha512`): `{SSHA}base64(digest || salt)`, RFC 2307 style.
    HashSsha(SshaScheme),
}

/// The digest of an `{SSHA*}` password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SshaScheme {
    Sha1,
    Sha256,
    Sha512,
}

impl Converter {
    /// Parses a `convert` entry such as `lower`, `bool:yn`, `datetime:naive-utc`, `affix:,@corp.example`.
    pub fn parse(spec: &str) -> Result<Converter, String> {
        let (name, arg) = spec.split_once(':').map_or((spec, None), |(n, a)| (n, Some(a)));
        let form = |options: &str| format!("`{spec}` is not a converter form; use one of {options}");
        Ok(match (name, arg) {
            ("lower", None) => Converter::Lower,
            ("upper", None) => Converter::Upper,
            ("trim", None) => Converter::Trim,
            ("int", None) => Converter::Int,
            ("float", None) => Converter::Float,
            ("text", None) => Converter::Text,
            ("bool", Some(f)) => Converter::Bool(match f {
                "int" => BoolForm::Int,
                "yn" => BoolForm::YesNo,
                "text" => BoolForm::Text,
                "native" => BoolForm::Native,
                _ => return Err(form("bool:int, bool:yn, bool:text, bool:native")),
            }),
            ("datetime", Some(f)) => Converter::DateTime(match f {
                "iso" => DateTimeForm::Iso,
                "naive-utc" => DateTimeForm::NaiveUtc,
                "generalized" => DateTimeForm::Generalized,
                "epoch" => DateTimeForm::Epoch,
                "epoch-ms" => DateTimeForm::EpochMs,
                "date" => DateTimeForm::Date,
                _ => {
                    return Err(form(
                        "datetime:iso, datetime:naive-utc, datetime:generalized, datetime:epoch, datetime:epoch-ms, datetime:date",
                    ));
                }
            }),
            ("affix", Some(a)) => {
                let (prefix, suffix) = a.split_once(',').unwrap_or((a, ""));
                Converter::Affix {
                    prefix: prefix.to_owned(),
                    suffix: suffix.to_owned(),
                }
            }
            ("strip", Some(a)) => {
                let (prefix, suffix) = a.split_once(',').unwrap_or((a, ""));
                if prefix.is_empty() && suffix.is_empty() {
                    return Err(form(
                        "strip:<prefix>,<suffix> with at least one of them, e.g. strip:,@contoso.com",
                    ));
                }
                Converter::Strip {
                    prefix: prefix.to_owned(),
                    suffix: suffix.to_owned(),
                }
            }
            ("locale", Some("posix")) => Converter::LocalePosix,
            ("locale", _) => return Err(form("locale:posix")),
            ("hash", Some("argon2")) => Converter::HashArgon2,
            ("hash", Some("ssha")) => Converter::HashSsha(SshaScheme::Sha1),
            ("hash", Some("ssha256")) => Converter::HashSsha(SshaScheme::Sha256),
            ("hash", Some("ssha512")) => Converter::HashSsha(SshaScheme::Sha512),
            ("hash", _) => return Err(form("hash:argon2, hash:ssha, hash:ssha256, hash:ssha512")),
            _ => {
                return Err(format!(
                    "unknown converter `{spec}`; converters are lower, upper, trim, int, float, text, bool:<form>, datetime:<form>, affix:<prefix>,<suffix>, strip:<prefix>,<suffix>, locale:posix, hash:argon2, hash:ssha, hash:ssha256, hash:ssha512"
                ));
            }
        })
    }

    fn to_backend(&self, v: Value) -> Result<Option<Value>, ConvertError> {
        Ok(Some(match self {
            Converter::Lower => map_text(v, |s| s.to_lowercase())?,
            Converter::Upper => map_text(v, |s| s.to_uppercase())?,
            Converter::Trim => map_text(v, |s| s.trim().to_owned())?,
            Converter::Int => Value::Int(as_int(&v)?),
            Converter::Float => Value::Float(as_float(&v)?),
            Converter::Text => Value::Text(text_form(&v)),
            Converter::Bool(form) => bool_to_backend(as_bool(&v)?, *form),
            Converter::DateTime(form) => datetime_to_backend(&as_datetime(&v)?, *form),
            Converter::Values(map) => return map.to_backend(v),
            Converter::Affix { prefix, suffix } => map_text(v, |s| format!("{prefix}{s}{suffix}"))?,
            Converter::Strip { prefix, suffix } => match &v {
                Value::Text(s) => match s
                    .strip_prefix(prefix.as_str())
                    .and_then(|r| r.strip_suffix(suffix.as_str()))
                {
                    Some(inner) if !inner.is_empty() => Value::Text(inner.to_owned()),
                    _ => return err(format!("{s:?} does not have the form {prefix}…{suffix}")),
                },
                _ => v,
            },
            Converter::LocalePosix => map_text(v, |s| s.replace('-', "_"))?,
            Converter::HashArgon2 => Value::Text(hash_argon2(&text_form(&v))?),
            Converter::HashSsha(scheme) => Value::Text(hash_ssha(&text_form(&v), *scheme)),
        }))
    }

    fn to_scim(&self, v: Value) -> Result<Value, ConvertError> {
        Ok(match self {
            Converter::Lower | Converter::Upper | Converter::Trim | Converter::Text => v,
            Converter::Int | Converter::Float => v,
            Converter::Bool(_) => Value::Bool(as_bool(&v)?),
            Converter::DateTime(form) => Value::Text(iso(&datetime_from_backend(&v, *form)?)),
            Converter::Values(map) => map.to_scim(v)?,
            Converter::Affix { prefix, suffix } => match &v {
                Value::Text(s) => {
                    let inner = s.strip_prefix(prefix.as_str()).unwrap_or(s);
                    Value::Text(inner.strip_suffix(suffix.as_str()).unwrap_or(inner).to_owned())
                }
                _ => v,
            },
            Converter::Strip { prefix, suffix } => map_text(v, |s| format!("{prefix}{s}{suffix}"))?,
            Converter::LocalePosix => map_text(v, |s| {
                let tag = s.split(['.', '@']).next().unwrap_or(s);
                tag.replace('_', "-")
            })?,
            Converter::HashArgon2 | Converter::HashSsha(_) => return err("a hashed value cannot be read back"),
        })
    }

    /// A filter operand for `op`: whole values as written, substring fragments with only
    /// the affix that borders them.
    fn fragment_to_backend(&self, op: CompareOp, v: Value) -> Result<Option<Value>, ConvertError> {
        match (self, op) {
            (Converter::Affix { prefix, .. }, CompareOp::StartsWith) => {
                Ok(Some(map_text(v, |s| format!("{prefix}{s}"))?))
            }
            (Converter::Affix { suffix, .. }, CompareOp::EndsWith) => {
                Ok(Some(map_text(v, |s| format!("{s}{suffix}"))?))
            }
            _ => self.to_backend(v),
        }
    }

    /// Whether a filter with `op` can be pushed through this converter.
    fn preserves(&self, op: CompareOp) -> bool {
        use CompareOp::*;
        match self {
            Converter::Lower | Converter::Upper | Converter::Trim | Converter::Text => true,
            // A `sw` fragment gets the prefix, an `ew` fragment the suffix; a `co` fragment
            // could match across the boundary of value and affix.
            Converter::Affix { .. } => matches!(op, Eq | Ne | StartsWith | EndsWith),
            // Whether a fragment reaches into the stripped text is unknown.
            Converter::Strip { .. } => matches!(op, Eq | Ne),
            // `-` ↔ `_` character by character: fragments convert like whole values.
            Converter::LocalePosix => !matches!(op, Gt | Ge | Lt | Le),
            Converter::Int | Converter::Float | Converter::DateTime(_) => matches!(op, Eq | Ne | Gt | Ge | Lt | Le),
            Converter::Bool(_) | Converter::Values(_) => matches!(op, Eq | Ne),
            Converter::HashArgon2 | Converter::HashSsha(_) => false,
        }
    }
}

impl ValueMap {
    fn to_backend(&self, v: Value) -> Result<Option<Value>, ConvertError> {
        let key = text_form(&v);
        match self.pairs.iter().find(|(k, _)| k.eq_ignore_ascii_case(&key)) {
            Some((_, b)) => Ok(Some(b.clone())),
            None => match self.unknown {
                Unknown::Reject => err(format!("{key:?} is not one of {}", self.keys())),
                Unknown::Pass => Ok(Some(v)),
                Unknown::Drop => Ok(None),
            },
        }
    }

    fn to_scim(&self, v: Value) -> Result<Value, ConvertError> {
        let text = text_form(&v);
        match self.pairs.iter().find(|(_, b)| text_form(b) == text) {
            Some((k, _)) => Ok(Value::Text(k.clone())),
            None => match self.unknown {
                Unknown::Reject | Unknown::Drop => err(format!("backend value {text:?} is not in the value map")),
                Unknown::Pass => Ok(v),
            },
        }
    }

    fn keys(&self) -> String {
        self.pairs
            .iter()
            .map(|(k, _)| format!("{k:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A chain of converters, applied in order towards the backend and in reverse towards SCIM.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Conversion {
    pub steps: Vec<Converter>,
}

/// A filter literal after conversion.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Value(Value),
    /// The literal cannot be stored by the backend, so no entry can equal it.
    Impossible,
    /// The operator does not survive the conversion.
    Unsupported,
}

impl Conversion {
    pub fn new(steps: Vec<Converter>) -> Self {
        Conversion { steps }
    }

    pub fn is_one_way(&self) -> bool {
        self.steps
            .iter()
            .any(|s| matches!(s, Converter::HashArgon2 | Converter::HashSsha(_)))
    }

    /// SCIM value (a JSON scalar) → backend value; `None` when a map says to drop it.
    pub fn to_backend(&self, v: &Json) -> Result<Option<Value>, ConvertError> {
        let mut current = json_to_value(v)?;
        for step in &self.steps {
            match step.to_backend(current)? {
                Some(next) => current = next,
                None => return Ok(None),
            }
        }
        Ok(Some(current))
    }

    /// Backend value → SCIM value of the given type.
    pub fn to_scim(&self, v: &Value, kind: AttrType) -> Result<Json, ConvertError> {
        let mut current = v.clone();
        for step in self.steps.iter().rev() {
            current = step.to_scim(current)?;
        }
        value_to_json(current, kind)
    }

    /// A filter literal for `op`, converted as a write would be (a `sw`/`ew` fragment gets
    /// only the affix on its side).
    pub fn literal(&self, op: CompareOp, v: &Json) -> Literal {
        if !self.steps.iter().all(|s| s.preserves(op)) {
            return Literal::Unsupported;
        }
        let converted = json_to_value(v).and_then(|mut current| {
            for step in &self.steps {
                match step.fragment_to_backend(op, current)? {
                    Some(next) => current = next,
                    None => return Ok(None),
                }
            }
            Ok(Some(current))
        });
        match converted {
            Ok(Some(value)) => Literal::Value(value),
            Ok(None) | Err(_) => Literal::Impossible,
        }
    }

    /// Whether the chain allows `op` at all.
    pub fn supports(&self, op: CompareOp) -> bool {
        self.steps.iter().all(|s| s.preserves(op))
    }
}

/// A JSON scalar as a backend value, before any converter.
pub fn json_to_value(v: &Json) -> Result<Value, ConvertError> {
    Ok(match v {
        Json::String(s) => Value::Text(s.clone()),
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(0.0)),
        },
        Json::Null => return err("null is not a value"),
        Json::Array(_) | Json::Object(_) => return err("expected a single value"),
    })
}

/// A backend value as JSON of the SCIM type.
pub fn value_to_json(v: Value, kind: AttrType) -> Result<Json, ConvertError> {
    Ok(match kind {
        AttrType::Boolean => Json::Bool(as_bool(&v)?),
        AttrType::Integer => Json::from(as_int(&v)?),
        AttrType::Decimal => serde_json::Number::from_f64(as_float(&v)?)
            .map(Json::Number)
            .unwrap_or(Json::Null),
        AttrType::DateTime => Json::String(iso(&as_datetime(&v)?)),
        AttrType::Binary => match v {
            Value::Bytes(b) => {
                use base64::Engine;
                Json::String(base64::engine::general_purpose::STANDARD.encode(b))
            }
            other => Json::String(text_form(&other)),
        },
        AttrType::String | AttrType::Reference | AttrType::Complex => Json::String(text_form(&v)),
    })
}

/// The text form of a value: what a finite map keys on and what text columns receive.
pub fn text_form(v: &Value) -> String {
    match v {
        Value::Text(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(x) => x.to_string(),
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
    }
}

fn map_text(v: Value, f: impl FnOnce(&str) -> String) -> Result<Value, ConvertError> {
    match v {
        Value::Text(s) => Ok(Value::Text(f(&s))),
        other => Ok(other),
    }
}

fn as_int(v: &Value) -> Result<i64, ConvertError> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::Bool(b) => Ok(i64::from(*b)),
        Value::Float(x) if x.fract() == 0.0 => Ok(*x as i64),
        Value::Text(s) => s
            .trim()
            .parse()
            .map_err(|_| ConvertError(format!("{s:?} is not an integer"))),
        other => err(format!("{other} is not an integer")),
    }
}

fn as_float(v: &Value) -> Result<f64, ConvertError> {
    match v {
        Value::Float(x) => Ok(*x),
        Value::Int(i) => Ok(*i as f64),
        Value::Text(s) => s
            .trim()
            .parse()
            .map_err(|_| ConvertError(format!("{s:?} is not a number"))),
        other => err(format!("{other} is not a number")),
    }
}

/// Reads every common boolean encoding, so a column written by other software still reads.
pub fn as_bool(v: &Value) -> Result<bool, ConvertError> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::Int(i) => Ok(*i != 0),
        Value::Text(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "t" | "1" | "y" | "yes" | "on" => Ok(true),
            "false" | "f" | "0" | "n" | "no" | "off" => Ok(false),
            _ => err(format!("{s:?} is not a boolean")),
        },
        Value::Bytes(b) if b.len() == 1 => Ok(b[0] != 0),
        other => err(format!("{other} is not a boolean")),
    }
}

fn bool_to_backend(b: bool, form: BoolForm) -> Value {
    match form {
        BoolForm::Int => Value::Int(i64::from(b)),
        BoolForm::YesNo => Value::Text(if b { "Y" } else { "N" }.into()),
        BoolForm::Text => Value::Text(if b { "TRUE" } else { "FALSE" }.into()),
        BoolForm::Native => Value::Bool(b),
    }
}

fn as_datetime(v: &Value) -> Result<DateTime<Utc>, ConvertError> {
    match v {
        Value::Text(s) => parse_datetime_text(s).ok_or_else(|| ConvertError(format!("{s:?} is not a dateTime"))),
        Value::Int(i) => Utc
            .timestamp_opt(*i, 0)
            .single()
            .ok_or_else(|| ConvertError(format!("{i} is out of range"))),
        other => err(format!("{other} is not a dateTime")),
    }
}

/// RFC 3339, or the common SQL text forms understood as UTC.
fn parse_datetime_text(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(n) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(n.and_utc());
        }
    }
    None
}

fn datetime_to_backend(dt: &DateTime<Utc>, form: DateTimeForm) -> Value {
    match form {
        DateTimeForm::Iso => Value::Text(iso(dt)),
        DateTimeForm::NaiveUtc => Value::Text(dt.format("%Y-%m-%d %H:%M:%S").to_string()),
        DateTimeForm::Generalized => Value::Text(dt.format("%Y%m%d%H%M%SZ").to_string()),
        DateTimeForm::Epoch => Value::Int(dt.timestamp()),
        DateTimeForm::EpochMs => Value::Int(dt.timestamp_millis()),
        DateTimeForm::Date => Value::Text(dt.format("%Y-%m-%d").to_string()),
    }
}

fn datetime_from_backend(v: &Value, form: DateTimeForm) -> Result<DateTime<Utc>, ConvertError> {
    let bad = || ConvertError(format!("backend value {v} is not a {form:?} timestamp"));
    match (form, v) {
        (DateTimeForm::Generalized, Value::Text(s)) => {
            let digits = s.trim_end_matches('Z');
            let main = digits.split(['.', ',']).next().unwrap_or(digits);
            NaiveDateTime::parse_from_str(main, "%Y%m%d%H%M%S")
                .map(|n| n.and_utc())
                .map_err(|_| bad())
        }
        (DateTimeForm::EpochMs, Value::Int(i)) => Utc.timestamp_millis_opt(*i).single().ok_or_else(bad),
        (DateTimeForm::Date, Value::Text(s)) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|n| n.and_utc())
            .ok_or_else(bad),
        _ => as_datetime(v),
    }
}

/// RFC 3339 in UTC with milliseconds: the one dateTime form scimgate emits.
pub fn iso(dt: &DateTime<Utc>) -> String {
    dt.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn hash_ssha(password: &str, scheme: SshaScheme) -> String {
    use base64::Engine;
    use sha2::Digest;
    let mut salt = [0u8; 8];
    getrandom::fill(&mut salt).expect("the operating system's random source is unavailable");
    let digest = |mut h: Box<dyn sha2::digest::DynDigest>| {
        h.update(password.as_bytes());
        h.update(&salt);
        h.finalize().into_vec()
    };
    let (label, mut bytes) = match scheme {
        SshaScheme::Sha1 => ("SSHA", digest(Box::new(sha1::Sha1::new()))),
        SshaScheme::Sha256 => ("SSHA256", digest(Box::new(sha2::Sha256::new()))),
        SshaScheme::Sha512 => ("SSHA512", digest(Box::new(sha2::Sha512::new()))),
    };
    bytes.extend_from_slice(&salt);
    format!("{{{label}}}{}", base64::engine::general_purpose::STANDARD.encode(bytes))
}

fn hash_argon2(password: &str) -> Result<String, ConvertError> {
    argon2::Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| ConvertError(format!("cannot hash the password: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn conv(specs: &[&str]) -> Conversion {
        Conversion::new(specs.iter().map(|s| Converter::parse(s).unwrap()).collect())
    }

    #[test]
    fn bool_forms_write_their_form_and_read_every_form() {
        let c = conv(&["bool:yn"]);
        assert_eq!(c.to_backend(&json!(true)).unwrap(), Some(Value::Text("Y".into())));
        for stored in [
            Value::Int(1),
            Value::Text("TRUE".into()),
            Value::Text("y".into()),
            Value::Bool(true),
        ] {
            assert_eq!(c.to_scim(&stored, AttrType::Boolean).unwrap(), json!(true));
        }
        assert_eq!(
            conv(&["bool:int"]).to_backend(&json!(false)).unwrap(),
            Some(Value::Int(0))
        );
    }

    #[test]
    fn datetime_forms_round_trip() {
        let c = conv(&["datetime:generalized"]);
        let b = c.to_backend(&json!("2024-01-02T03:04:05Z")).unwrap().unwrap();
        assert_eq!(b, Value::Text("20240102030405Z".into()));
        assert_eq!(
            c.to_scim(&b, AttrType::DateTime).unwrap(),
            json!("2024-01-02T03:04:05.000Z")
        );
        let naive = conv(&["datetime:naive-utc"]);
        assert_eq!(
            naive
                .to_scim(&Value::Text("2024-01-02 03:04:05".into()), AttrType::DateTime)
                .unwrap(),
            json!("2024-01-02T03:04:05.000Z")
        );
    }

    #[test]
    fn impossible_literals_match_nothing() {
        assert_eq!(
            conv(&["int"]).literal(CompareOp::Eq, &json!("abc")),
            Literal::Impossible
        );
        assert_eq!(
            conv(&["int"]).literal(CompareOp::Contains, &json!("1")),
            Literal::Unsupported
        );
        assert_eq!(
            conv(&["int"]).literal(CompareOp::Gt, &json!("7")),
            Literal::Value(Value::Int(7))
        );
    }

    #[test]
    fn value_maps_follow_the_unknown_policy() {
        let map = |unknown| {
            Conversion::new(vec![Converter::Values(ValueMap {
                pairs: vec![("work".into(), Value::Text("OFFICE".into()))],
                unknown,
            })])
        };
        assert_eq!(
            map(Unknown::Reject).to_backend(&json!("Work")).unwrap(),
            Some(Value::Text("OFFICE".into()))
        );
        assert!(map(Unknown::Reject).to_backend(&json!("home")).is_err());
        assert_eq!(map(Unknown::Drop).to_backend(&json!("home")).unwrap(), None);
        assert_eq!(
            map(Unknown::Pass).to_backend(&json!("home")).unwrap(),
            Some(Value::Text("home".into()))
        );
        assert_eq!(
            map(Unknown::Reject)
                .to_scim(&Value::Text("OFFICE".into()), AttrType::String)
                .unwrap(),
            json!("work")
        );
    }

    #[test]
    fn affix_strips_on_read() {
        let c = conv(&["affix:,@corp.example"]);
        assert_eq!(
            c.to_backend(&json!("ann")).unwrap(),
            Some(Value::Text("ann@corp.example".into()))
        );
        assert_eq!(
            c.to_scim(&Value::Text("ann@corp.example".into()), AttrType::String)
                .unwrap(),
            json!("ann")
        );
    }

    #[test]
    fn affix_fragments_get_only_their_side() {
        let c = conv(&["affix:u-,@corp.example"]);
        let lit = |op, v: &str| c.literal(op, &json!(v));
        assert_eq!(
            lit(CompareOp::Eq, "ann"),
            Literal::Value(Value::Text("u-ann@corp.example".into()))
        );
        assert_eq!(
            lit(CompareOp::StartsWith, "an"),
            Literal::Value(Value::Text("u-an".into()))
        );
        assert_eq!(
            lit(CompareOp::EndsWith, "nn"),
            Literal::Value(Value::Text("nn@corp.example".into()))
        );
        assert_eq!(lit(CompareOp::Contains, "n"), Literal::Unsupported);
    }

    #[test]
    fn strip_keeps_the_upn_suffix_out_of_the_backend() {
        let c = conv(&["strip:,@contoso.com"]);
        assert_eq!(
            c.to_backend(&json!("ann@contoso.com")).unwrap(),
            Some(Value::Text("ann".into()))
        );
        assert!(
            c.to_backend(&json!("ann@other.com")).is_err(),
            "a foreign suffix cannot be stored"
        );
        assert!(c.to_backend(&json!("@contoso.com")).is_err());
        assert_eq!(
            c.to_scim(&Value::Text("ann".into()), AttrType::String).unwrap(),
            json!("ann@contoso.com")
        );
        assert_eq!(
            c.literal(CompareOp::Eq, &json!("ann@contoso.com")),
            Literal::Value(Value::Text("ann".into()))
        );
        assert_eq!(c.literal(CompareOp::Eq, &json!("bob@other.com")), Literal::Impossible);
        assert_eq!(c.literal(CompareOp::StartsWith, &json!("an")), Literal::Unsupported);
        assert!(Converter::parse("strip:,").is_err());
    }

    #[test]
    fn posix_locales() {
        let c = conv(&["locale:posix"]);
        assert_eq!(
            c.to_backend(&json!("en-US")).unwrap(),
            Some(Value::Text("en_US".into()))
        );
        for stored in ["en_US", "en_US.UTF-8", "en_US@euro"] {
            assert_eq!(
                c.to_scim(&Value::Text(stored.into()), AttrType::String).unwrap(),
                json!("en-US")
            );
        }
        assert_eq!(
            c.literal(CompareOp::StartsWith, &json!("en-")),
            Literal::Value(Value::Text("en_".into()))
        );
        assert_eq!(c.literal(CompareOp::Gt, &json!("en")), Literal::Unsupported);
        assert!(Converter::parse("locale:lcid").is_err());
    }

    #[test]
    fn argon2_hash_is_one_way_and_salted() {
        let c = conv(&["hash:argon2"]);
        let a = c.to_backend(&json!("s3cret")).unwrap().unwrap();
        let b = c.to_backend(&json!("s3cret")).unwrap().unwrap();
        assert_ne!(a, b);
        assert!(text_form(&a).starts_with("$argon2"));
        assert!(c.to_scim(&a, AttrType::String).is_err());
    }

    #[test]
    fn ssha_hashes_verify_with_their_salt() {
        use base64::Engine;
        use sha1::Digest;
        let c = conv(&["hash:ssha"]);
        let stored = text_form(&c.to_backend(&json!("secret")).unwrap().unwrap());
        let raw = base64::engine::general_purpose::STANDARD
            .decode(stored.strip_prefix("{SSHA}").unwrap())
            .unwrap();
        let (digest, salt) = raw.split_at(20);
        let mut h = sha1::Sha1::new();
        h.update(b"secret");
        h.update(salt);
        assert_eq!(h.finalize().as_slice(), digest);
        assert!(text_form(&conv(&["hash:ssha512"]).to_backend(&json!("x")).unwrap().unwrap()).starts_with("{SSHA512}"));
    }

    #[test]
    fn unknown_converter_lists_the_known_ones() {
        let e = Converter::parse("lowercase").unwrap_err();
        assert!(e.contains("lower, upper"), "{e}");
    }
}
