//! Conversions between backend [`Value`]s and LDAP attribute values.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Timelike, Utc};

use crate::connector::Value;

/// Attributes whose values are binary whatever their bytes look like: read as
/// `Value::Bytes`. Any other value that is not UTF-8 is read as bytes as well.
const BINARY: &[&str] = &[
    "objectguid",
    "objectsid",
    "jpegphoto",
    "photo",
    "thumbnailphoto",
    "usercertificate",
    "cacertificate",
    "usersmimecertificate",
    "userpkcs12",
    "audio",
    "ms-ds-consistencyguid",
    "msexchmailboxguid",
    "unicodepwd",
];

pub fn is_binary(attr: &str) -> bool {
    let base = attr.split(';').next().unwrap_or(attr).to_ascii_lowercase();
    BINARY.contains(&base.as_str()) || attr.to_ascii_lowercase().ends_with(";binary")
}

/// A stored value as read: text when the attribute is not binary and the bytes are UTF-8.
pub fn from_bytes(attr: &str, bytes: Vec<u8>) -> Value {
    if is_binary(attr) {
        return Value::Bytes(bytes);
    }
    match String::from_utf8(bytes) {
        Ok(s) => Value::Text(s),
        Err(e) => Value::Bytes(e.into_bytes()),
    }
}

/// The bytes written for a value: text as UTF-8, integers in decimal, booleans as LDAP's
/// `TRUE`/`FALSE`.
pub fn to_bytes(value: &Value) -> Vec<u8> {
    match value {
        Value::Text(s) => s.as_bytes().to_vec(),
        Value::Int(i) => i.to_string().into_bytes(),
        Value::Float(x) => x.to_string().into_bytes(),
        Value::Bool(b) => if *b { "TRUE" } else { "FALSE" }.as_bytes().to_vec(),
        Value::Bytes(b) => b.clone(),
    }
}

/// An integer flags value (`userAccountControl`), from a field value.
pub fn as_int(value: &Value) -> Option<i64> {
    match value {
        Value::Int(i) => Some(*i),
        Value::Text(t) => t.trim().parse().ok(),
        Value::Bytes(b) => std::str::from_utf8(b).ok()?.trim().parse().ok(),
        Value::Bool(_) | Value::Float(_) => None,
    }
}

/// GeneralizedTime (`20240102030405Z`, AD's `20240102030405.0Z`, offsets) → RFC 3339 in
/// UTC (`2024-01-02T03:04:05Z`). `None` when the text is not a GeneralizedTime.
pub fn generalized_to_rfc3339(text: &str) -> Option<String> {
    let t = text.trim();
    let (main, zone) = match t.find(['Z', 'z', '+', '-']) {
        Some(i) => (&t[..i], &t[i..]),
        None => (t, "Z"),
    };
    let (digits, fraction) = match main.split_once(['.', ',']) {
        Some((d, f)) => (d, f),
        None => (main, ""),
    };
    if digits.len() < 10 || !digits.bytes().all(|b| b.is_ascii_digit()) || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    // Every GET formats two timestamps per entry: fields are read directly rather than
    // through chrono's format-string parser.
    let field = |at: usize, len: usize| digits.get(at..at + len).map_or(Some(0), |d| d.parse::<u32>().ok());
    let year = i32::try_from(field(0, 4)?).ok()?;
    let naive = NaiveDate::from_ymd_opt(year, field(4, 2)?, field(6, 2)?)?.and_hms_opt(
        field(8, 2)?,
        field(10, 2)?,
        field(12, 2)?,
    )?;
    let offset_secs = match zone {
        "Z" | "z" => 0,
        z if z.len() == 5 || z.len() == 3 => {
            let sign = if z.starts_with('-') { -1 } else { 1 };
            let h: i32 = z[1..3].parse().ok()?;
            let m: i32 = if z.len() == 5 { z[3..5].parse().ok()? } else { 0 };
            sign * (h * 3600 + m * 60)
        }
        _ => return None,
    };
    let utc = Utc.from_utc_datetime(&naive) - chrono::Duration::seconds(i64::from(offset_secs));
    Some(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        utc.year(),
        utc.month(),
        utc.day(),
        utc.hour(),
        utc.minute(),
        utc.second()
    ))
}

/// RFC 3339 text (the engine's literal) → GeneralizedTime in UTC (`20240102030405Z`).
pub fn rfc3339_to_generalized(text: &str) -> Option<String> {
    let dt = DateTime::parse_from_rfc3339(text.trim()).ok()?;
    Some(dt.with_timezone(&Utc).format("%Y%m%d%H%M%SZ").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_timestamps() {
        assert_eq!(
            generalized_to_rfc3339("20240102030405Z").as_deref(),
            Some("2024-01-02T03:04:05Z")
        );
        assert_eq!(
            generalized_to_rfc3339("20240102030405.0Z").as_deref(),
            Some("2024-01-02T03:04:05Z")
        );
        assert_eq!(
            generalized_to_rfc3339("20240102030405+0100").as_deref(),
            Some("2024-01-02T02:04:05Z")
        );
        assert_eq!(
            generalized_to_rfc3339("202401020304Z").as_deref(),
            Some("2024-01-02T03:04:00Z")
        );
        assert_eq!(generalized_to_rfc3339("yesterday"), None);
        assert_eq!(
            rfc3339_to_generalized("2024-01-02T03:04:05Z").as_deref(),
            Some("20240102030405Z")
        );
        assert_eq!(
            rfc3339_to_generalized("2024-01-02T04:04:05.123+01:00").as_deref(),
            Some("20240102030405Z")
        );
        assert_eq!(rfc3339_to_generalized("2024-01-02"), None);
    }

    #[test]
    fn converts_values() {
        assert_eq!(to_bytes(&Value::Bool(true)), b"TRUE");
        assert_eq!(to_bytes(&Value::Int(-5)), b"-5");
        assert_eq!(from_bytes("objectGUID", b"abc".to_vec()), Value::Bytes(b"abc".to_vec()));
        assert_eq!(from_bytes("cn", b"abc".to_vec()), Value::Text("abc".into()));
        assert_eq!(from_bytes("cn", vec![0xff]), Value::Bytes(vec![0xff]));
        assert_eq!(
            from_bytes("userCertificate;binary", b"x".to_vec()),
            Value::Bytes(b"x".to_vec())
        );
        assert_eq!(as_int(&Value::Text("512".into())), Some(512));
    }
}
