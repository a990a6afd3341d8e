//! Normalising resource bodies that clients send (RFC 7643 §2, §7; RFC 7644 §3.3, §3.5.1) into
//! scimgate's canonical JSON form.
//!
//! The canonical form: a JSON object with a `schemas` array; `id`, `externalId`, `meta` and the
//! core schema's attributes at top level under their canonical names; extension attributes in an
//! object under the extension's canonical URN.
//!
//! The rules are deliberately lenient where real identity providers (Microsoft Entra ID, Okta)
//! deviate from the RFCs in harmless ways (wrong `schemas`, stringified JSON, `"True"`, `""` for
//! "clear"), and strict where accepting the value would store something wrong (type mismatches).

use serde_json::{Map, Value};

use crate::scim::error::ScimError;
use crate::scim::schema::{AttrType, AttributeDef, Mutability, Resolved, ResourceSchema, SchemaDef, common_attribute};

/// What the request is: decides how read-only / immutable attributes are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    Create,
    Replace,
}

impl WriteMode {
    /// Whether a client-supplied top-level value with this mutability is kept.
    ///
    /// RFC 7644 §3.3 and §3.5.1: `readOnly` values sent by the client SHALL be ignored, on
    /// create as on replace. `immutable` values are kept in both modes: on replace the engine
    /// compares them with the stored value and answers 400 `mutability` if they differ, which
    /// it cannot do if they are dropped here.
    fn keeps(self, mutability: Mutability) -> bool {
        match self {
            WriteMode::Create | WriteMode::Replace => mutability.writable(),
        }
    }
}

/// Turns a client body into the canonical form, keeping only attributes the schema knows.
///
/// Unknown attributes, unknown schema URN keys, read-only attributes and `null`s are dropped
/// silently; type mismatches are 400 `invalidValue`. The input `schemas` is ignored (clients
/// send wrong ones) and recomputed: the core URN plus every extension with output attributes.
/// Required attributes are not checked here; see [`missing_required`].
pub fn normalize(body: &Value, schema: &ResourceSchema, mode: WriteMode) -> Result<Value, ScimError> {
    let Value::Object(input) = body else {
        return Err(ScimError::invalid_syntax("the request body must be a JSON object"));
    };
    let mut core = Map::new();
    let mut extensions = vec![Map::new(); schema.extensions.len()];
    for (key, value) in input {
        match route(key, schema) {
            Route::Ignore => {}
            Route::Schema(slot) => {
                let (def, out) = slot_target(slot, schema, &mut core, &mut extensions);
                put_schema_object(value, def, slot, mode, out)?;
            }
            Route::Attribute(slot, def) => {
                let (sdef, out) = slot_target(slot, schema, &mut core, &mut extensions);
                put(out, def, value, &error_path(sdef, slot, &def.name), mode)?;
            }
        }
    }
    Ok(assemble(schema, core, extensions))
}

/// Canonicalises one attribute value (used by PATCH for `value`s): `def` is the attribute's
/// definition. Read-only sub-attributes are dropped; the attribute's own mutability is the
/// caller's business (a PATCH of a read-only attribute is a `mutability` error, not a no-op).
///
/// Returns `Value::Null` when the value amounts to "no value" (`null`, `""`, `[]`,
/// `{"value": ""}`), which PATCH treats as clearing the attribute.
pub fn normalize_value(value: &Value, def: &AttributeDef, path_for_errors: &str) -> Result<Value, ScimError> {
    Ok(canonical(value, def, path_for_errors)?.unwrap_or(Value::Null))
}

/// Names (canonical dotted paths) of `required` attributes missing from a canonical resource
/// (top-level and extension attributes; required sub-attributes only when the parent is
/// present). RFC 7643 §7 `required`.
///
/// Extension attributes are named by their fully qualified path (`urn:...:User:employeeNumber`,
/// RFC 7644 §3.10). Read-only attributes are skipped: the service provider assigns them.
pub fn missing_required(resource: &Value, schema: &ResourceSchema) -> Vec<String> {
    let empty = Map::new();
    let top = resource.as_object().unwrap_or(&empty);
    let mut missing = Vec::new();
    required_in(top, &schema.core.attributes, "", &mut missing);
    for ext in &schema.extensions {
        let attrs = get_ci(top, &ext.id).and_then(Value::as_object).unwrap_or(&empty);
        required_in(attrs, &ext.attributes, &format!("{}:", ext.id), &mut missing);
    }
    missing
}

/// Case-insensitive key lookup (RFC 7643 §2.1: attribute names are case insensitive). An exact
/// match wins over a case-insensitive one.
pub fn get_ci<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key)
        .or_else(|| obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))
}

/// The value of a (core or extension) attribute in a canonical resource, or `None` when it is
/// absent or `null`. `attr` may name a sub-attribute of a single-valued complex attribute as
/// `name.givenName`; `urn` qualifies the attribute as in RFC 7644 §3.10 (unqualified names are
/// looked up in the core schema first, then the extensions).
pub fn attribute_value<'a>(
    resource: &'a Value,
    schema: &ResourceSchema,
    urn: Option<&str>,
    attr: &str,
) -> Option<&'a Value> {
    let (name, sub) = match attr.split_once('.') {
        Some((name, sub)) => (name, Some(sub)),
        None => (attr, None),
    };
    let resolved = resolve_path(schema, urn, name, sub)?;
    let top = resource.as_object()?;
    let container = match resolved.extension {
        Some(ext) => get_ci(top, &ext.id)?.as_object()?,
        None => top,
    };
    let value = get_ci(container, &resolved.attr.name)?;
    let value = match resolved.sub {
        Some(sub) => get_ci(value.as_object()?, &sub.name)?,
        None => value,
    };
    (!value.is_null()).then_some(value)
}

/// [`ResourceSchema::resolve`], plus the common attributes (`id`, `externalId`, `meta`) when
/// qualified with the core URN (`urn:...:core:2.0:User:id`), which `resolve` does not cover.
pub(crate) fn resolve_path<'s>(
    schema: &'s ResourceSchema,
    urn: Option<&str>,
    attr: &str,
    sub: Option<&str>,
) -> Option<Resolved<'s>> {
    schema.resolve(urn, attr, sub).or_else(|| {
        let core_qualified = urn.is_some_and(|u| u.eq_ignore_ascii_case(&schema.core.id));
        let def = common_attribute(attr).filter(|_| core_qualified)?;
        let sub = match sub {
            Some(s) => Some(def.sub(s)?),
            None => None,
        };
        Some(Resolved {
            extension: None,
            attr: def,
            sub,
        })
    })
}

// ---------------------------------------------------------------------------------------------
// Routing top-level keys

/// Which schema a top-level key belongs to: the core schema or the extension at this index.
#[derive(Debug, Clone, Copy)]
enum Slot {
    Core,
    Extension(usize),
}

/// What to do with one top-level key of a body.
enum Route<'s> {
    Ignore,
    /// The key is a schema URN; its value is an object of that schema's attributes.
    Schema(Slot),
    /// The key is an attribute (possibly URN-qualified, `urn:...:User:employeeNumber`).
    Attribute(Slot, &'s AttributeDef),
}

fn route<'s>(key: &str, schema: &'s ResourceSchema) -> Route<'s> {
    if key.eq_ignore_ascii_case("schemas") {
        return Route::Ignore;
    }
    if let Some(slot) = slot_of_urn(key, schema) {
        return Route::Schema(slot);
    }
    if let Some((slot, name)) = split_qualified(key, schema) {
        return match slot_schema(slot, schema).and_then(|s| schema_attribute(s, slot, name)) {
            Some(def) => Route::Attribute(slot, def),
            None => Route::Ignore,
        };
    }
    match schema_attribute(&schema.core, Slot::Core, key) {
        Some(def) => Route::Attribute(Slot::Core, def),
        None => Route::Ignore,
    }
}

/// The slot of a key that is exactly a schema URN (case-insensitively, RFC 7643 §2.1).
fn slot_of_urn(key: &str, schema: &ResourceSchema) -> Option<Slot> {
    if key.eq_ignore_ascii_case(&schema.core.id) {
        return Some(Slot::Core);
    }
    (schema.extensions.iter())
        .position(|e| e.id.eq_ignore_ascii_case(key))
        .map(Slot::Extension)
}

/// Splits `urn:...:User:attr` into the schema slot and `attr`. Some clients flatten extension
/// attributes this way (the RFC 7644 §3.10 path notation) instead of nesting them.
fn split_qualified<'k>(key: &'k str, schema: &ResourceSchema) -> Option<(Slot, &'k str)> {
    let (urn, name) = key.rsplit_once(':')?;
    Some((slot_of_urn(urn, schema)?, name))
}

fn slot_schema(slot: Slot, schema: &ResourceSchema) -> Option<&SchemaDef> {
    match slot {
        Slot::Core => Some(&schema.core),
        Slot::Extension(i) => schema.extensions.get(i),
    }
}

/// An attribute of a schema; the core slot also holds the common attributes (RFC 7643 §3.1).
fn schema_attribute<'s>(def: &'s SchemaDef, slot: Slot, name: &str) -> Option<&'s AttributeDef> {
    let common = || matches!(slot, Slot::Core).then(|| common_attribute(name)).flatten();
    def.attribute(name).or_else(common)
}

/// The schema and output map of a slot. `slot` always comes from `route`, so the index exists;
/// the core schema is the fallback only to avoid a panic path.
fn slot_target<'a>(
    slot: Slot,
    schema: &'a ResourceSchema,
    core: &'a mut Map<String, Value>,
    extensions: &'a mut [Map<String, Value>],
) -> (&'a SchemaDef, &'a mut Map<String, Value>) {
    match slot {
        Slot::Extension(i) => match (schema.extensions.get(i), extensions.get_mut(i)) {
            (Some(def), Some(out)) => (def, out),
            _ => (&schema.core, core),
        },
        Slot::Core => (&schema.core, core),
    }
}

/// How an attribute is named in error messages: `userName`, or `urn:...:User:employeeNumber`
/// for extension attributes (RFC 7644 §3.10).
fn error_path(def: &SchemaDef, slot: Slot, name: &str) -> String {
    match slot {
        Slot::Core => name.to_owned(),
        Slot::Extension(_) => format!("{}:{name}", def.id),
    }
}

/// The attributes under a schema URN key (`"urn:...:enterprise:2.0:User": {...}`).
fn put_schema_object(
    value: &Value,
    def: &SchemaDef,
    slot: Slot,
    mode: WriteMode,
    out: &mut Map<String, Value>,
) -> Result<(), ScimError> {
    let attrs = match value {
        Value::Null => return Ok(()),
        Value::Object(attrs) => attrs,
        _ => {
            let detail = format!("\"{}\" must be an object", def.id);
            return Err(ScimError::invalid_value(detail));
        }
    };
    for (key, value) in attrs {
        if let Some(attr) = schema_attribute(def, slot, key) {
            put(out, attr, value, &error_path(def, slot, &attr.name), mode)?;
        }
    }
    Ok(())
}

/// Canonicalises one top-level attribute into `out` under its canonical name.
fn put(
    out: &mut Map<String, Value>,
    def: &AttributeDef,
    value: &Value,
    path: &str,
    mode: WriteMode,
) -> Result<(), ScimError> {
    if !mode.keeps(def.mutability) {
        return Ok(());
    }
    if let Some(value) = canonical(value, def, path)? {
        out.insert(def.name.clone(), value);
    }
    Ok(())
}

/// The output object: `schemas` first, then core attributes, then non-empty extensions.
fn assemble(schema: &ResourceSchema, core: Map<String, Value>, extensions: Vec<Map<String, Value>>) -> Value {
    let mut urns = vec![Value::String(schema.core.id.clone())];
    let mut out = Map::new();
    // Inserted first so that it comes first in the output; filled in below.
    out.insert("schemas".to_owned(), Value::Null);
    out.extend(core);
    for (ext, attrs) in schema.extensions.iter().zip(extensions) {
        if !attrs.is_empty() {
            urns.push(Value::String(ext.id.clone()));
            out.insert(ext.id.clone(), Value::Object(attrs));
        }
    }
    out.insert("schemas".to_owned(), Value::Array(urns));
    Value::Object(out)
}

// ---------------------------------------------------------------------------------------------
// Values

/// The canonical form of an attribute value, or `None` when it amounts to "no value".
fn canonical(value: &Value, def: &AttributeDef, path: &str) -> Result<Option<Value>, ScimError> {
    if value.is_null() {
        Ok(None)
    } else if def.multi_valued {
        multi_valued(value, def, path)
    } else if def.kind == AttrType::Complex {
        single_complex(value, def, path)
    } else {
        simple(value, def, path, true)
    }
}

/// RFC 7643 §2.4 multi-valued attributes. A single value is wrapped in an array (some clients
/// send one object where an array belongs); empty results are "no value"; at most one `primary`.
fn multi_valued(value: &Value, def: &AttributeDef, path: &str) -> Result<Option<Value>, ScimError> {
    let items = match value {
        Value::Array(items) => items.as_slice(),
        single => std::slice::from_ref(single),
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        if let Some(v) = element(item, def, path)? {
            out.push(v);
        }
    }
    check_single_primary(&out, path)?;
    Ok((!out.is_empty()).then_some(Value::Array(out)))
}

/// One element of a multi-valued attribute.
fn element(item: &Value, def: &AttributeDef, path: &str) -> Result<Option<Value>, ScimError> {
    if def.kind != AttrType::Complex {
        return simple(item, def, path, false);
    }
    match item {
        Value::Null => Ok(None),
        Value::Object(obj) => complex_object(obj, def, path),
        // Entra ID sends `roles` elements as stringified JSON objects.
        Value::String(s) => match parse_stringified(s) {
            Some(obj) => complex_object(&obj, def, path),
            None => bare_value(s, def, path),
        },
        _ => Err(ScimError::invalid_value(format!("\"{path}\" elements must be objects"))),
    }
}

/// A string that holds a JSON object, as Entra ID sends for `roles`.
fn parse_stringified(s: &str) -> Option<Map<String, Value>> {
    if !s.trim_start().starts_with('{') {
        return None;
    }
    match serde_json::from_str(s) {
        Ok(Value::Object(obj)) => Some(obj),
        _ => None,
    }
}

/// A bare string where a complex value with a `value` sub-attribute is expected
/// (`"roles": ["admin"]`, Entra's `"manager": "123"`) means `{"value": s}`; `""` means none.
fn bare_value(s: &str, def: &AttributeDef, path: &str) -> Result<Option<Value>, ScimError> {
    let Some(value_def) = def.sub("value") else {
        return Err(ScimError::invalid_value(format!("\"{path}\" must be an object")));
    };
    if s.is_empty() {
        return Ok(None);
    }
    let mut obj = Map::new();
    obj.insert(value_def.name.clone(), Value::String(s.to_owned()));
    Ok(Some(Value::Object(obj)))
}

/// RFC 7643 §2.4: "The primary attribute value 'true' MUST appear no more than once."
fn check_single_primary(items: &[Value], path: &str) -> Result<(), ScimError> {
    let primaries = (items.iter())
        .filter_map(Value::as_object)
        .filter(|obj| get_ci(obj, "primary") == Some(&Value::Bool(true)))
        .count();
    if primaries > 1 {
        return Err(ScimError::invalid_value(format!(
            "\"{path}\" has {primaries} values with \"primary\": true; at most one is allowed"
        )));
    }
    Ok(())
}

/// A single-valued complex attribute. When it has a `value` sub-attribute (the enterprise
/// `manager`), IdPs also send a bare id string and a one-element array (Entra, Okta).
fn single_complex(value: &Value, def: &AttributeDef, path: &str) -> Result<Option<Value>, ScimError> {
    let has_value_sub = def.sub("value").is_some();
    match value {
        Value::Object(obj) => complex_object(obj, def, path),
        Value::String(s) if has_value_sub => bare_value(s, def, path),
        Value::Array(items) if has_value_sub => match items.as_slice() {
            [] => Ok(None),
            [only] => single_complex(only, def, path),
            _ => Err(ScimError::invalid_value(format!(
                "\"{path}\" is single-valued but {} values were given",
                items.len()
            ))),
        },
        _ => Err(ScimError::invalid_value(format!("\"{path}\" must be an object"))),
    }
}

/// A complex value: sub-attributes canonicalised, unknown and read-only ones dropped
/// (RFC 7643 §2.3.8; e.g. `members[].display` is read-only). An object whose `value` is `""` or
/// `null` means "no value" (IdPs clear `manager` with `{"value": ""}`).
fn complex_object(obj: &Map<String, Value>, def: &AttributeDef, path: &str) -> Result<Option<Value>, ScimError> {
    if clears_value(obj, def) {
        return Ok(None);
    }
    let mut out = Map::new();
    for (key, value) in obj {
        let Some(sub) = def.sub(key).filter(|s| s.mutability.writable()) else {
            continue;
        };
        if let Some(v) = canonical(value, sub, &format!("{path}.{}", sub.name))? {
            out.insert(sub.name.clone(), v);
        }
    }
    Ok((!out.is_empty()).then_some(Value::Object(out)))
}

fn clears_value(obj: &Map<String, Value>, def: &AttributeDef) -> bool {
    def.sub("value").is_some()
        && match get_ci(obj, "value") {
            Some(Value::Null) => true,
            Some(Value::String(s)) => s.is_empty(),
            _ => false,
        }
}

/// A simple (non-complex) value. `""` for a single-valued attribute means "no value": IdPs send
/// it to clear an attribute. Other strings are kept exactly as sent (no trimming).
fn simple(value: &Value, def: &AttributeDef, path: &str, single: bool) -> Result<Option<Value>, ScimError> {
    if value.is_null() || (single && value.as_str() == Some("")) {
        return Ok(None);
    }
    coerce(value, def.kind, path).map(Some)
}

/// RFC 7643 §2.3 data types. The only coercion is `"true"`/`"false"` (any case) to a boolean,
/// which Entra ID sends for `active`.
fn coerce(value: &Value, kind: AttrType, path: &str) -> Result<Value, ScimError> {
    let accepted = match kind {
        AttrType::String | AttrType::Reference | AttrType::Binary => value.is_string().then(|| value.clone()),
        AttrType::Boolean => as_bool(value).map(Value::Bool),
        AttrType::Integer => (value.is_i64() || value.is_u64()).then(|| value.clone()),
        AttrType::Decimal => value.is_number().then(|| value.clone()),
        AttrType::DateTime => (value.as_str()).filter(|s| is_rfc3339(s)).map(|_| value.clone()),
        // A scalar where an object is needed.
        AttrType::Complex => None,
    };
    accepted.ok_or_else(|| ScimError::invalid_value(format!("\"{path}\" must be {}", expected(kind))))
}

fn as_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

fn expected(kind: AttrType) -> &'static str {
    match kind {
        AttrType::String | AttrType::Reference | AttrType::Binary => "a string",
        AttrType::Boolean => "a boolean",
        AttrType::Integer => "an integer",
        AttrType::Decimal => "a number",
        AttrType::DateTime => "an RFC 3339 date-time",
        AttrType::Complex => "an object",
    }
}

// ---------------------------------------------------------------------------------------------
// RFC 3339 date-times (RFC 7643 §2.3.5 refers to xsd:dateTime, which RFC 3339 profiles)

/// Strict `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`, with calendar-valid dates. The lowercase `t`
/// and `z` that RFC 3339 §5.6 permits are accepted.
fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    let (Some(date), Some(time)) = (b.get(..10), b.get(10..19)) else {
        return false;
    };
    valid_date(date) && matches!(time[0], b'T' | b't') && valid_time(&time[1..]) && valid_fraction_and_zone(&b[19..])
}

/// Digits as a number; `None` if empty or any byte is not an ASCII digit.
fn number(digits: &[u8]) -> Option<u32> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u32, |acc, c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

/// `YYYY-MM-DD` (exactly 10 bytes).
fn valid_date(d: &[u8]) -> bool {
    if d[4] != b'-' || d[7] != b'-' {
        return false;
    }
    match (number(&d[..4]), number(&d[5..7]), number(&d[8..10])) {
        (Some(y), Some(m), Some(day)) => (1..=12).contains(&m) && (1..=days_in_month(y, m)).contains(&day),
        _ => false,
    }
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `HH:MM:SS` (exactly 8 bytes); second 60 is a leap second (RFC 3339 §5.7).
fn valid_time(t: &[u8]) -> bool {
    t[2] == b':' && t[5] == b':' && in_range(&t[..2], 23) && in_range(&t[3..5], 59) && in_range(&t[6..8], 60)
}

fn in_range(digits: &[u8], max: u32) -> bool {
    number(digits).is_some_and(|n| n <= max)
}

/// `[.digits](Z|±HH:MM)`.
fn valid_fraction_and_zone(rest: &[u8]) -> bool {
    let zone = match rest.strip_prefix(b".") {
        Some(frac) => {
            let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
            if n == 0 {
                return false;
            }
            &frac[n..]
        }
        None => rest,
    };
    match zone {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => in_range(&[*h1, *h2], 23) && in_range(&[*m1, *m2], 59),
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------
// Required attributes

fn required_in(obj: &Map<String, Value>, defs: &[AttributeDef], prefix: &str, missing: &mut Vec<String>) {
    // Read-only attributes are assigned by the service provider, never by the client.
    for def in defs.iter().filter(|d| d.mutability.writable()) {
        match get_ci(obj, &def.name).filter(|v| has_value(v)) {
            // An absent complex attribute is reported by the required sub-attributes it lacks
            // (`name.familyName`), which is what the client has to send.
            None if def.required => {
                let subs: Vec<&AttributeDef> = (def.sub_attributes.iter())
                    .filter(|s| s.required && s.mutability.writable())
                    .collect();
                if subs.is_empty() {
                    missing.push(format!("{prefix}{}", def.name));
                }
                missing.extend(subs.iter().map(|s| format!("{prefix}{}.{}", def.name, s.name)));
            }
            None => {}
            Some(value) => required_subs(value, def, prefix, missing),
        }
    }
}

/// Required sub-attributes of a present complex attribute; for a multi-valued one, every
/// element must have them. Each missing sub-attribute is reported once.
fn required_subs(value: &Value, def: &AttributeDef, prefix: &str, missing: &mut Vec<String>) {
    let elements: Vec<&Map<String, Value>> = match value {
        Value::Object(obj) => vec![obj],
        Value::Array(items) => items.iter().filter_map(Value::as_object).collect(),
        _ => Vec::new(),
    };
    let required = (def.sub_attributes.iter()).filter(|s| s.required && s.mutability.writable());
    for sub in required {
        let absent = |e: &&Map<String, Value>| !get_ci(e, &sub.name).is_some_and(has_value);
        if elements.iter().any(absent) {
            missing.push(format!("{prefix}{}.{}", def.name, sub.name));
        }
    }
}

/// Whether a value counts as present: not `null`, `""` or `[]` (RFC 7643 §2.5 treats
/// unassigned, null and empty array alike).
fn has_value(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => !items.is_empty(),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::error::ScimType;
    use crate::scim::schema::ENTERPRISE_USER;
    use serde_json::json;

    use crate::scim::schema::fixtures::{group_schema, user_schema};

    fn create(body: Value) -> Result<Value, ScimError> {
        normalize(&body, &user_schema(), WriteMode::Create)
    }

    fn ok(body: Value) -> Value {
        match create(body) {
            Ok(v) => v,
            Err(e) => panic!("unexpected error: {e}"),
        }
    }

    fn err(body: Value) -> ScimError {
        match create(body) {
            Ok(v) => panic!("expected an error, got {v}"),
            Err(e) => e,
        }
    }

    fn assert_invalid_value(e: ScimError, detail: &str) {
        assert_eq!((e.status, e.scim_type), (400, Some(ScimType::InvalidValue)));
        assert_eq!(e.detail, detail);
    }

    /// A user schema with one extra attribute of the given type, for the type rules that the
    /// standard catalogue has no attribute for.
    fn schema_with(name: &str, kind: AttrType, multi: bool) -> ResourceSchema {
        let mut schema = user_schema();
        let mut def = schema.core.attributes[2].clone(); // displayName: a plain string
        def.name = name.to_owned();
        def.kind = kind;
        def.multi_valued = multi;
        schema.core.attributes.push(def);
        schema
    }

    fn with(schema: &ResourceSchema, body: Value) -> Result<Value, ScimError> {
        normalize(&body, schema, WriteMode::Create)
    }

    #[test]
    fn rfc7644_3_12_body_not_an_object_is_invalid_syntax() {
        for body in [json!([]), json!("x"), json!(null), json!(1)] {
            let e = err(body);
            assert_eq!((e.status, e.scim_type), (400, Some(ScimType::InvalidSyntax)));
        }
    }

    #[test]
    fn rfc7643_2_1_attribute_names_case_insensitive_at_every_level() {
        let out = ok(json!({
            "UserName": "bjensen",
            "NAME": {"GivenName": "Barbara", "familyname": "Jensen"},
            "Emails": [{"Value": "b@example.com", "Primary": true, "TYPE": "work"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                "Manager": {"Value": "42"}, "EMPLOYEENUMBER": "7"
            }
        }));
        assert_eq!(
            out,
            json!({
                "schemas": [
                    "urn:ietf:params:scim:schemas:core:2.0:User",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
                ],
                "userName": "bjensen",
                "name": {"givenName": "Barbara", "familyName": "Jensen"},
                "emails": [{"value": "b@example.com", "primary": true, "type": "work"}],
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                    "manager": {"value": "42"}, "employeeNumber": "7"
                }
            })
        );
    }

    #[test]
    fn rfc7643_2_1_schema_urn_keys_case_insensitive() {
        let out = ok(json!({
            "userName": "u",
            "URN:IETF:params:scim:schemas:extension:Enterprise:2.0:user": {"department": "R&D"}
        }));
        assert_eq!(
            out,
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE_USER],
                "userName": "u",
                ENTERPRISE_USER: {"department": "R&D"}
            })
        );
    }

    #[test]
    fn unknown_attributes_and_misspelled_urns_dropped() {
        let out = ok(json!({
            "userName": "u",
            "favouriteColour": "blue",
            "name": {"givenName": "B", "nickname": "x"},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:Usr": {"department": "x"},
            "urn:ietf:params:scim:schemas:extension:custom:2.0:User": {"a": 1}
        }));
        assert_eq!(
            out,
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "u",
                "name": {"givenName": "B"}
            })
        );
    }

    #[test]
    fn okta_put_echoes_id_and_meta() {
        // Okta's PUT sends back the whole resource it last read, read-only attributes included.
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": "2819c223",
            "userName": "bjensen@example.com",
            "externalId": "00u1",
            "active": true,
            "groups": [{"value": "g1", "display": "Admins"}],
            "meta": {"resourceType": "User", "created": "2024-01-01T00:00:00Z"}
        });
        let out = normalize(&body, &user_schema(), WriteMode::Replace);
        assert_eq!(
            out,
            Ok(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "bjensen@example.com",
                "externalId": "00u1",
                "active": true
            }))
        );
    }

    #[test]
    fn rfc7643_4_2_members_display_is_read_only_and_value_immutable_kept() {
        let body = json!({
            "displayName": "Admins",
            "members": [{"value": "u1", "display": "Babs", "type": "User"}, "u2"]
        });
        let expected = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Admins",
            "members": [{"value": "u1", "type": "User"}, {"value": "u2"}]
        });
        for mode in [WriteMode::Create, WriteMode::Replace] {
            assert_eq!(normalize(&body, &group_schema(), mode), Ok(expected.clone()));
        }
    }

    #[test]
    fn nulls_and_empty_arrays_dropped() {
        let out = ok(json!({
            "userName": "u",
            "displayName": null,
            "emails": [],
            "phoneNumbers": [null],
            "name": {"givenName": null},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": null}
        }));
        assert_eq!(
            out,
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "u"})
        );
    }

    #[test]
    fn input_schemas_ignored_even_when_malformed() {
        let expected = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "u"
        });
        for schemas in [
            json!(["urn:ietf:params:scim:schemas:core:2.0:Group"]),
            json!("urn:ietf:params:scim:schemas:core:2.0:User"),
            json!([1, {}]),
            json!([ENTERPRISE_USER]),
        ] {
            assert_eq!(ok(json!({"schemas": schemas, "userName": "u"})), expected);
        }
    }

    #[test]
    fn rfc7643_2_3_1_string_type_checked() {
        assert_invalid_value(err(json!({"userName": 12})), "\"userName\" must be a string");
        assert_invalid_value(
            err(json!({"name": {"givenName": true}})),
            "\"name.givenName\" must be a string",
        );
        assert_invalid_value(
            err(json!({ENTERPRISE_USER: {"department": 5}})),
            "\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department\" must be a string",
        );
    }

    #[test]
    fn entra_active_as_string_boolean() {
        let base = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "u"});
        for (sent, stored) in [("True", true), ("False", false), ("true", true), ("FALSE", false)] {
            let mut expected = base.clone();
            expected["active"] = json!(stored);
            assert_eq!(ok(json!({"userName": "u", "active": sent})), expected);
        }
        let out = ok(json!({"userName": "u", "emails": [{"value": "a", "primary": "True"}]}));
        assert_eq!(out["emails"], json!([{"value": "a", "primary": true}]));
    }

    #[test]
    fn rfc7643_2_3_2_boolean_rejects_other_values() {
        for bad in [json!("yes"), json!(1), json!({})] {
            assert_invalid_value(err(json!({"active": bad})), "\"active\" must be a boolean");
        }
    }

    #[test]
    fn rfc7643_2_3_4_integer_and_2_3_3_decimal() {
        let schema = schema_with("age", AttrType::Integer, false);
        assert_eq!(
            with(&schema, json!({"age": 42})).map(|v| v["age"].clone()),
            Ok(json!(42))
        );
        for bad in [json!("42"), json!(4.5), json!(true)] {
            assert_invalid_value(
                with(&schema, json!({"age": bad})).unwrap_err(),
                "\"age\" must be an integer",
            );
        }
        let schema = schema_with("score", AttrType::Decimal, false);
        assert_eq!(
            with(&schema, json!({"score": 4.5})).map(|v| v["score"].clone()),
            Ok(json!(4.5))
        );
        assert_eq!(
            with(&schema, json!({"score": 4})).map(|v| v["score"].clone()),
            Ok(json!(4))
        );
        assert_invalid_value(
            with(&schema, json!({"score": "4.5"})).unwrap_err(),
            "\"score\" must be a number",
        );
    }

    #[test]
    fn rfc7643_2_3_5_date_time() {
        let schema = schema_with("hired", AttrType::DateTime, false);
        let good = "2008-01-23T04:56:22Z";
        assert_eq!(
            with(&schema, json!({"hired": good})).map(|v| v["hired"].clone()),
            Ok(json!(good))
        );
        assert_invalid_value(
            with(&schema, json!({"hired": "2008-01-23"})).unwrap_err(),
            "\"hired\" must be an RFC 3339 date-time",
        );
    }

    #[test]
    fn rfc3339_strict_check() {
        for good in [
            "2008-01-23T04:56:22Z",
            "2008-01-23t04:56:22z",
            "2008-01-23T04:56:22.123456Z",
            "2008-01-23T04:56:22+05:30",
            "2008-01-23T04:56:22.5-08:00",
            "2024-02-29T23:59:60Z",
        ] {
            assert!(is_rfc3339(good), "{good}");
        }
        for bad in [
            "",
            "2008-01-23",
            "2008-01-23 04:56:22Z",
            "2008-01-23T04:56:22",
            "2008-01-23T04:56:22.Z",
            "2008-13-23T04:56:22Z",
            "2023-02-29T04:56:22Z",
            "2008-01-23T24:00:00Z",
            "2008-01-23T04:60:00Z",
            "2008-01-23T04:56:22+0530",
            "2008-01-23T04:56:22+24:00",
            "2008-01-23T04:56:22Zjunk",
            "2008-1-23T04:56:22Z",
            "２008-01-23T04:56:22Z",
        ] {
            assert!(!is_rfc3339(bad), "{bad}");
        }
    }

    #[test]
    fn rfc7643_2_4_single_value_wrapped_in_array() {
        let out = ok(json!({"emails": {"value": "a@example.com", "type": "work"}}));
        assert_eq!(out["emails"], json!([{"value": "a@example.com", "type": "work"}]));
    }

    #[test]
    fn entra_roles_stringified_json() {
        let out = ok(json!({
            "roles": [
                "{\"primary\":true,\"type\":\"WindowsAzureActiveDirectoryRole\",\"value\":\"Admin\"}",
                "Reader"
            ]
        }));
        assert_eq!(
            out["roles"],
            json!([
                {"primary": true, "type": "WindowsAzureActiveDirectoryRole", "value": "Admin"},
                {"value": "Reader"}
            ])
        );
        // A string that only looks like JSON is a bare value.
        let out = ok(json!({"roles": ["{not json"]}));
        assert_eq!(out["roles"], json!([{"value": "{not json"}]));
    }

    #[test]
    fn rfc7643_2_4_more_than_one_primary_rejected() {
        let e = err(json!({"emails": [
            {"value": "a", "primary": true},
            {"value": "b", "Primary": "true"}
        ]}));
        assert_invalid_value(
            e,
            "\"emails\" has 2 values with \"primary\": true; at most one is allowed",
        );
        // One primary and explicit false are fine.
        let out = ok(json!({"emails": [{"value": "a", "primary": true}, {"value": "b", "primary": false}]}));
        assert_eq!(
            out["emails"],
            json!([{"value": "a", "primary": true}, {"value": "b", "primary": false}])
        );
    }

    #[test]
    fn multi_valued_element_type_errors() {
        assert_invalid_value(err(json!({"emails": [1]})), "\"emails\" elements must be objects");
        assert_invalid_value(
            err(json!({"addresses": ["Main St"]})),
            "\"addresses\" must be an object",
        );
        assert_invalid_value(
            err(json!({"emails": [{"value": "a", "primary": "maybe"}]})),
            "\"emails.primary\" must be a boolean",
        );
    }

    #[test]
    fn manager_four_forms() {
        let manager = |m: Value| ok(json!({ENTERPRISE_USER: {"manager": m}}));
        let expected = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE_USER],
            ENTERPRISE_USER: {"manager": {"value": "123"}}
        });
        assert_eq!(manager(json!("123")), expected);
        assert_eq!(manager(json!({"value": "123"})), expected);
        assert_eq!(manager(json!({"Value": "123", "displayName": "Boss"})), expected);
        assert_eq!(
            manager(json!([{"$ref": "../Users/123", "value": "123"}])),
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE_USER],
                ENTERPRISE_USER: {"manager": {"$ref": "../Users/123", "value": "123"}}
            })
        );
        let none = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]});
        for cleared in [
            json!(""),
            json!({"value": ""}),
            json!({"value": null}),
            json!(null),
            json!([]),
        ] {
            assert_eq!(manager(cleared), none);
        }
    }

    #[test]
    fn manager_array_of_two_rejected() {
        let e = err(json!({ENTERPRISE_USER: {"manager": [{"value": "1"}, {"value": "2"}]}}));
        assert_invalid_value(
            e,
            "\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager\" is single-valued but 2 values were given",
        );
        // `name` has no `value` sub-attribute, so the lenient forms do not apply.
        assert_invalid_value(err(json!({"name": "Babs"})), "\"name\" must be an object");
    }

    #[test]
    fn strings_kept_untrimmed_and_empty_string_means_absent() {
        let out = ok(json!({
            "userName": " bjensen ",
            "displayName": "",
            "active": "",
            "name": {"givenName": "", "familyName": "Jensen "},
            ENTERPRISE_USER: {"department": ""}
        }));
        assert_eq!(
            out,
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": " bjensen ",
                "name": {"familyName": "Jensen "}
            })
        );
    }

    #[test]
    fn rfc7643_4_1_password_write_only_is_kept() {
        assert_eq!(ok(json!({"password": "t1meMa$heen"}))["password"], json!("t1meMa$heen"));
    }

    #[test]
    fn rfc7644_3_10_flattened_qualified_names_and_core_urn_object() {
        let out = ok(json!({
            "urn:ietf:params:scim:schemas:core:2.0:User": {"userName": "u"},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "7",
            "urn:ietf:params:scim:schemas:core:2.0:User:displayName": "U"
        }));
        assert_eq!(
            out,
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE_USER],
                "userName": "u",
                "displayName": "U",
                ENTERPRISE_USER: {"employeeNumber": "7"}
            })
        );
    }

    #[test]
    fn extension_value_must_be_an_object() {
        assert_invalid_value(
            err(json!({ENTERPRISE_USER: "x"})),
            "\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\" must be an object",
        );
    }

    #[test]
    fn normalize_value_for_patch() {
        let schema = user_schema();
        let emails = schema.core.attribute("emails").expect("emails");
        assert_eq!(
            normalize_value(&json!({"Value": "a", "display": "A"}), emails, "emails"),
            Ok(json!([{"value": "a", "display": "A"}]))
        );
        let group = group_schema();
        let members = group.core.attribute("members").expect("members");
        assert_eq!(
            normalize_value(&json!([{"value": "u1", "display": "x"}]), members, "members"),
            Ok(json!([{"value": "u1"}]))
        );
        let active = schema.core.attribute("active").expect("active");
        assert_eq!(normalize_value(&json!("False"), active, "active"), Ok(json!(false)));
        let manager = schema.resolve(None, "manager", None).expect("manager").attr;
        assert_eq!(normalize_value(&json!(""), manager, "manager"), Ok(Value::Null));
        assert_eq!(
            normalize_value(&json!("9"), manager, "manager"),
            Ok(json!({"value": "9"}))
        );
        let e = normalize_value(&json!(3), active, "active").unwrap_err();
        assert_invalid_value(e, "\"active\" must be a boolean");
    }

    #[test]
    fn rfc7643_7_missing_required() {
        let schema = user_schema();
        assert_eq!(
            missing_required(&json!({"displayName": "x"}), &schema),
            vec!["userName"]
        );
        assert_eq!(missing_required(&json!({"userName": ""}), &schema), vec!["userName"]);
        assert!(missing_required(&json!({"userName": "u"}), &schema).is_empty());
        assert_eq!(missing_required(&json!({}), &group_schema()), vec!["displayName"]);
    }

    #[test]
    fn missing_required_sub_attributes_and_extensions() {
        let mut schema = user_schema();
        let mut emails = schema.core.attribute("emails").expect("emails").clone();
        emails.sub_attributes[0].required = true; // emails.value
        schema.core.attributes.retain(|a| a.name != "emails");
        schema.core.attributes.push(emails);
        schema.extensions[0].attributes[0].required = true; // employeeNumber
        let missing = missing_required(
            &json!({"userName": "u", "emails": [{"value": "a"}, {"type": "work"}]}),
            &schema,
        );
        assert_eq!(
            missing,
            vec![
                "emails.value",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"
            ]
        );
        // Without emails the sub-attribute is not required.
        let missing = missing_required(
            &json!({"userName": "u", ENTERPRISE_USER: {"employeeNumber": "1"}}),
            &schema,
        );
        assert!(missing.is_empty(), "{missing:?}");
    }

    #[test]
    fn get_ci_prefers_exact_match() {
        let obj = json!({"Value": 1, "value": 2});
        let obj = obj.as_object().expect("object");
        assert_eq!(get_ci(obj, "value"), Some(&json!(2)));
        assert_eq!(get_ci(obj, "VALUE"), Some(&json!(1)));
        assert_eq!(get_ci(obj, "other"), None);
    }

    #[test]
    fn attribute_value_core_extension_and_sub() {
        let schema = user_schema();
        let r = json!({
            "schemas": [], "id": "1", "userName": "u", "name": {"givenName": "B"},
            "displayName": null,
            ENTERPRISE_USER: {"department": "R&D"}
        });
        assert_eq!(attribute_value(&r, &schema, None, "UserName"), Some(&json!("u")));
        assert_eq!(attribute_value(&r, &schema, None, "name.givenName"), Some(&json!("B")));
        assert_eq!(attribute_value(&r, &schema, None, "department"), Some(&json!("R&D")));
        assert_eq!(
            attribute_value(&r, &schema, Some(ENTERPRISE_USER), "department"),
            Some(&json!("R&D"))
        );
        assert_eq!(
            attribute_value(&r, &schema, Some(&schema.core.id), "id"),
            Some(&json!("1"))
        );
        assert_eq!(attribute_value(&r, &schema, None, "displayName"), None);
        assert_eq!(attribute_value(&r, &schema, Some(ENTERPRISE_USER), "userName"), None);
        assert_eq!(attribute_value(&r, &schema, None, "nope"), None);
    }
}
