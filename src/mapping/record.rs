//! SCIM resource (canonical JSON) ↔ backend record, and the minimal change set between two
//! records.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value as Json, json};

use super::convert::{self, Conversion};
use super::model::*;
use crate::connector::{ChangeSet, Fields, FlagChange, NewRecord, Record, RelationDelta, Row, Value};
use crate::scim::ScimError;
use crate::scim::resource::get_ci;
use crate::scim::schema::{AttrType, Mutability};

/// How references render: the base URL and each resource type's endpoint.
#[derive(Debug, Clone, Default)]
pub struct RefContext {
    /// Absolute base URL of the SCIM endpoint, without a trailing slash.
    pub base_url: String,
    /// Resource type name → endpoint path (`User` → `/Users`). Shared: built once per
    /// endpoint, not per request.
    pub endpoints: std::sync::Arc<BTreeMap<String, String>>,
}

impl RefContext {
    pub fn new(base_url: String, endpoints: std::sync::Arc<BTreeMap<String, String>>) -> RefContext {
        RefContext { base_url, endpoints }
    }

    pub fn location(&self, type_name: &str, id: &str) -> String {
        let ep = self.endpoints.get(type_name).map_or("", String::as_str);
        format!("{}{}/{}", self.base_url, ep, id)
    }
}

fn attr_object<'a>(resource: &'a Json, rt: &ResourceType, m: &AttrMapping) -> Option<&'a Json> {
    let container = match &m.path.urn {
        Some(urn) => get_ci(resource.as_object()?, urn)?,
        None => resource,
    };
    get_ci(container.as_object()?, &m.path.attr)
        .filter(|v| !v.is_null())
        .filter(|_| {
            // A core attribute is never read from inside an extension object or vice versa.
            m.path.urn.as_deref().is_none_or(|u| rt.schema.extension(u).is_some())
        })
}

fn elements(v: Option<&Json>) -> Vec<&Json> {
    match v {
        Some(Json::Array(a)) => a.iter().collect(),
        Some(other) => vec![other],
        None => Vec::new(),
    }
}

fn invalid(m: &AttrMapping, e: impl std::fmt::Display) -> ScimError {
    ScimError::invalid_value(format!("{}: {e}", m.path))
}

fn convert_all(m: &AttrMapping, conv: &Conversion, values: Vec<&Json>) -> Result<Vec<Value>, ScimError> {
    let mut out = Vec::new();
    for v in values.into_iter().filter(|v| !v.is_null()) {
        if let Some(b) = conv.to_backend(v).map_err(|e| invalid(m, e))? {
            out.push(b);
        }
    }
    Ok(out)
}

/// The values a mapping writes, read from a canonical resource.
fn scim_values<'a>(resource: &'a Json, rt: &ResourceType, m: &AttrMapping) -> Vec<&'a Json> {
    let top = attr_object(resource, rt, m);
    match &m.path.sub {
        None => elements(top),
        Some(sub) => elements(top)
            .into_iter()
            .filter_map(|el| el.as_object().and_then(|o| get_ci(o, sub)))
            .flat_map(|v| elements(Some(v)))
            .collect(),
    }
}

/// Builds the backend side of a resource: every writable mapped field (empty when absent),
/// child rows and relation ids. With `create`, defaults and create-time computed fields apply.
pub fn to_record(resource: &Json, rt: &ResourceType, create: bool) -> Result<NewRecord, ScimError> {
    let mut rec = NewRecord::default();
    let with_defaults = if create {
        apply_defaults(resource, rt)
    } else {
        resource.clone()
    };
    let resource = &with_defaults;
    for m in rt.attrs.iter().filter(|m| m.writable()) {
        match &m.target {
            Target::Field { field, conv } => {
                let values = convert_all(m, conv, scim_values(resource, rt, m))?;
                rec.fields.entry(field.clone()).or_default().extend(values);
            }
            Target::Predicate {
                field,
                write_true,
                write_false,
                ..
            } => {
                let wanted = scim_values(resource, rt, m).first().and_then(|v| v.as_bool());
                match wanted.map(|b| if b { write_true } else { write_false }) {
                    Some(BoolWrite::SetBits(mask)) => {
                        rec.flags.insert(field.clone(), FlagChange { set: *mask, clear: 0 });
                    }
                    Some(BoolWrite::ClearBits(mask)) => {
                        rec.flags.insert(field.clone(), FlagChange { set: 0, clear: *mask });
                    }
                    Some(BoolWrite::Set(v)) => rec.fields.entry(field.clone()).or_default().push(v.clone()),
                    Some(BoolWrite::Clear) | None => {
                        // A flags field is never cleared as a whole by a boolean.
                        if !matches!(write_true, BoolWrite::SetBits(_) | BoolWrite::ClearBits(_)) {
                            rec.fields.entry(field.clone()).or_default();
                        }
                    }
                }
            }
            Target::Typed {
                type_value,
                field,
                conv,
            } => {
                let top = attr_object(resource, rt, m);
                let sub = m.path.sub.as_deref().unwrap_or("value");
                let picked: Vec<&Json> = elements(top)
                    .into_iter()
                    .filter(|el| {
                        el.as_object()
                            .and_then(|o| get_ci(o, "type"))
                            .and_then(Json::as_str)
                            .is_some_and(|t| t.eq_ignore_ascii_case(type_value))
                    })
                    .filter_map(|el| el.as_object().and_then(|o| get_ci(o, sub)))
                    .collect();
                let values = convert_all(m, conv, picked)?;
                rec.fields.entry(field.clone()).or_default().extend(values);
            }
            Target::Child { child, subs } => {
                let mut rows = Vec::new();
                for el in elements(attr_object(resource, rt, m)) {
                    let Some(obj) = el.as_object() else { continue };
                    let mut row = Row::new();
                    for col in subs {
                        if let Some(v) = get_ci(obj, &col.sub).filter(|v| !v.is_null())
                            && let Some(b) = col.conv.to_backend(v).map_err(|e| invalid(m, e))?
                        {
                            row.insert(col.column.clone(), b);
                        }
                    }
                    if !row.is_empty() {
                        rows.push(row);
                    }
                }
                rec.children.insert(child.clone(), rows);
            }
            Target::Relation { relation, .. } => {
                let mut ids = Vec::new();
                for el in elements(attr_object(resource, rt, m)) {
                    let id = el
                        .as_object()
                        .and_then(|o| get_ci(o, "value"))
                        .and_then(json_id)
                        .or_else(|| json_id(el));
                    match id {
                        Some(id) if !ids.contains(&id) => ids.push(id),
                        Some(_) => {}
                        None => return Err(invalid(m, "each element needs a \"value\" with the member's id")),
                    }
                }
                rec.relations.insert(relation.clone(), ids);
            }
            Target::Reference { field, conv, .. } => {
                let v = attr_object(resource, rt, m)
                    .and_then(|o| o.as_object())
                    .and_then(|o| get_ci(o, "value"))
                    .cloned();
                let values = convert_all(m, conv, v.iter().collect())?;
                rec.fields.insert(field.clone(), values);
            }
            Target::Constant(_) => {}
        }
    }
    compute_fields(resource, rt, create, &mut rec.fields)?;
    Ok(rec)
}

fn json_id(v: &Json) -> Option<String> {
    match v {
        Json::String(s) if !s.is_empty() => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn apply_defaults(resource: &Json, rt: &ResourceType) -> Json {
    let mut out = resource.clone();
    for m in rt.attrs.iter().filter(|m| m.default.is_some() && m.path.sub.is_none()) {
        if attr_object(&out, rt, m).is_some() {
            continue;
        }
        let Some(obj) = out.as_object_mut() else { break };
        let container = match &m.path.urn {
            Some(urn) => match obj.entry(urn.clone()).or_insert_with(|| json!({})).as_object_mut() {
                Some(c) => c,
                None => continue,
            },
            None => obj,
        };
        container.insert(m.path.attr.clone(), m.default.clone().unwrap_or(Json::Null));
    }
    out
}

fn compute_fields(resource: &Json, rt: &ResourceType, create: bool, fields: &mut Fields) -> Result<(), ScimError> {
    if rt.compute.is_empty() {
        return Ok(());
    }
    let context = template_context(resource, rt);
    for c in rt.compute.iter().filter(|c| create || !c.on_create_only) {
        let value = match (&c.template, &c.value) {
            (Some(_), _) => match rt.templates.render(&c.field, &context) {
                Ok(text) => Value::Text(text),
                Err(e) if create => {
                    return Err(ScimError::invalid_value(format!(
                        "cannot compute backend field {}: {}",
                        c.field,
                        template_error_reason(&e)
                    )));
                }
                // On an update a missing input leaves the stored value as it is, so a change
                // to unrelated attributes never fails on a template.
                Err(e) => {
                    tracing::debug!(field = %c.field, error = %template_error_reason(&e), "computed field left unchanged");
                    continue;
                }
            },
            (None, Some(v)) => v.clone(),
            (None, None) => continue,
        };
        fields.insert(c.field.clone(), vec![value]);
    }
    Ok(())
}

fn template_error_reason(e: &handlebars::RenderError) -> String {
    match e.reason() {
        handlebars::RenderErrorReason::MissingVariable(Some(v)) => format!("the attribute {v} it uses has no value"),
        other => other.to_string(),
    }
}

/// Templates see the canonical resource, with each extension also reachable by its short
/// name (`{{enterprise.department}}`).
fn template_context(resource: &Json, rt: &ResourceType) -> Json {
    let mut ctx = resource.clone();
    if let Some(obj) = ctx.as_object_mut() {
        for ext in &rt.schema.extensions {
            if let Some(v) = resource.get(&ext.id) {
                obj.insert(ext.name.to_ascii_lowercase().replace("user", ""), v.clone());
                obj.insert(ext.name.clone(), v.clone());
            }
        }
    }
    ctx
}

/// Builds the SCIM view of a backend record (without `meta.location`, which needs the
/// request's base URL: see [`finish_meta`]).
pub fn from_record(record: &Record, rt: &ResourceType, refs: &RefContext) -> Json {
    let mut out = Map::new();
    out.insert("schemas".into(), json!([rt.schema.core.id]));
    out.insert("id".into(), Json::String(record.id.clone()));
    for m in rt.attrs.iter().filter(|m| m.readable()) {
        let value = read_mapping(record, m, refs);
        let container = match &m.path.urn {
            Some(urn) => out.entry(urn.clone()).or_insert_with(|| json!({})).as_object_mut(),
            None => Some(&mut out),
        };
        if let (Some(container), Some(value)) = (container, value) {
            place(container, m, value);
        }
    }
    let mut schemas = vec![json!(rt.schema.core.id)];
    for ext in &rt.schema.extensions {
        match out.get(&ext.id) {
            Some(Json::Object(o)) if !o.is_empty() => schemas.push(json!(ext.id)),
            Some(_) => {
                out.remove(&ext.id);
            }
            None => {}
        }
    }
    out.insert("schemas".into(), Json::Array(schemas));
    out.insert("meta".into(), meta(record, rt));
    Json::Object(out)
}

/// What one mapping contributes, before it is placed into the resource.
enum Piece {
    Scalar(Json),
    Many(Vec<Json>),
    /// Elements of a multi-valued complex attribute with one type.
    Typed {
        type_value: String,
        values: Vec<Json>,
    },
}

fn read_values(record: &Record, m: &AttrMapping, field: &str, conv: &Conversion) -> Vec<Json> {
    record
        .fields
        .get(field)
        .into_iter()
        .flatten()
        .filter_map(|v| match conv.to_scim(v, m.leaf_def.kind) {
            Ok(j) => Some(j),
            Err(e) => {
                tracing::warn!(attribute = %m.path, field, error = %e, "backend value cannot be converted; omitted");
                None
            }
        })
        .collect()
}

fn read_mapping(record: &Record, m: &AttrMapping, refs: &RefContext) -> Option<Piece> {
    match &m.target {
        Target::Field { field, conv } => {
            let mut values = read_values(record, m, field, conv);
            if values.is_empty() {
                None
            } else if m.attr_def.multi_valued || m.leaf_def.multi_valued {
                Some(Piece::Many(values))
            } else {
                Some(Piece::Scalar(values.swap_remove(0)))
            }
        }
        Target::Predicate {
            field,
            predicate,
            holds_means,
            ..
        } => {
            let values = record.fields.get(field).map(Vec::as_slice).unwrap_or_default();
            Some(Piece::Scalar(Json::Bool(
                predicate_holds(predicate, values) == *holds_means,
            )))
        }
        Target::Typed {
            type_value,
            field,
            conv,
        } => {
            let values = read_values(record, m, field, conv);
            (!values.is_empty()).then(|| Piece::Typed {
                type_value: type_value.clone(),
                values,
            })
        }
        Target::Child { child, subs } => {
            let rows = record.children.get(child)?;
            let els: Vec<Json> = rows
                .iter()
                .map(|row| {
                    let mut el = Map::new();
                    for col in subs {
                        if let Some(v) = row.get(&col.column)
                            && let Ok(j) = col.conv.to_scim(v, col.def.kind)
                        {
                            el.insert(col.sub.clone(), j);
                        }
                    }
                    Json::Object(el)
                })
                .filter(|el| el.as_object().is_some_and(|o| !o.is_empty()))
                .collect();
            (!els.is_empty()).then_some(Piece::Many(els))
        }
        Target::Relation { relation, target } => {
            let ids = record.relations.get(relation)?;
            let els: Vec<Json> = ids
                .iter()
                .map(|id| json!({"value": id, "$ref": refs.location(target, id), "type": target}))
                .collect();
            (!els.is_empty()).then_some(Piece::Many(els))
        }
        Target::Reference { field, conv, target } => {
            let id = read_values(record, m, field, conv).into_iter().next()?;
            let id_text = id.as_str().map(str::to_owned).unwrap_or_else(|| id.to_string());
            Some(Piece::Scalar(
                json!({"value": id_text, "$ref": refs.location(target, &id_text)}),
            ))
        }
        Target::Constant(v) => Some(Piece::Scalar(v.clone())),
    }
}

/// Whether a predicate holds for a field's values (text forms compared case-insensitively).
pub fn predicate_holds(p: &FieldPredicate, values: &[Value]) -> bool {
    let eq = |a: &Value, b: &Value| convert::text_form(a).eq_ignore_ascii_case(&convert::text_form(b));
    match p {
        FieldPredicate::Eq(x) => values.iter().any(|v| eq(v, x)),
        FieldPredicate::Ne(x) => !values.is_empty() && !values.iter().any(|v| eq(v, x)),
        FieldPredicate::In(xs) => values.iter().any(|v| xs.iter().any(|x| eq(v, x))),
        FieldPredicate::Absent => values.is_empty(),
        FieldPredicate::Present => !values.is_empty(),
        FieldPredicate::Bits(mask) => values.iter().any(|v| match v {
            Value::Int(i) => i & mask == *mask,
            other => convert::text_form(other)
                .trim()
                .parse::<i64>()
                .is_ok_and(|i| i & mask == *mask),
        }),
    }
}

fn place(container: &mut Map<String, Json>, m: &AttrMapping, piece: Piece) {
    let attr = m.path.attr.clone();
    match (piece, &m.path.sub) {
        (Piece::Scalar(v), None) => {
            container.insert(attr, v);
        }
        (Piece::Many(vs), None) => {
            let arr = container.entry(attr).or_insert_with(|| json!([]));
            if let Some(a) = arr.as_array_mut() {
                a.extend(vs);
            }
        }
        (Piece::Scalar(v), Some(sub)) => {
            let obj = container.entry(attr).or_insert_with(|| json!({}));
            if let Some(o) = obj.as_object_mut() {
                o.insert(sub.clone(), v);
            }
        }
        (Piece::Many(vs), Some(sub)) => {
            let arr = container.entry(attr).or_insert_with(|| json!([]));
            if let Some(a) = arr.as_array_mut() {
                a.extend(vs.into_iter().map(|v| json!({ sub.clone(): v })));
            }
        }
        (Piece::Typed { type_value, values }, sub) => {
            let sub = sub.clone().unwrap_or_else(|| "value".into());
            let arr = container.entry(attr).or_insert_with(|| json!([]));
            let Some(a) = arr.as_array_mut() else { return };
            for v in values {
                // Sub-attributes of one type (addresses[type eq "work"].locality, .region)
                // gather into one element.
                let slot = a.iter_mut().find(|el| {
                    el.get("type").and_then(Json::as_str) == Some(type_value.as_str()) && el.get(&sub).is_none()
                });
                match slot {
                    Some(el) => {
                        if let Some(o) = el.as_object_mut() {
                            o.insert(sub.clone(), v);
                        }
                    }
                    None => a.push(json!({ sub.clone(): v, "type": type_value })),
                }
            }
        }
    }
}

fn meta(record: &Record, rt: &ResourceType) -> Json {
    let mut meta = Map::new();
    meta.insert("resourceType".into(), json!(rt.name));
    let ts = |v: &Option<Value>| {
        v.as_ref()
            .and_then(|v| convert::value_to_json(v.clone(), AttrType::DateTime).ok())
    };
    if let Some(c) = ts(&record.meta.created) {
        meta.insert("created".into(), c);
    }
    if let Some(m) = ts(&record.meta.modified) {
        meta.insert("lastModified".into(), m);
    }
    if let Some(v) = &record.meta.version {
        meta.insert("version".into(), json!(format!("W/\"{v}\"")));
    }
    Json::Object(meta)
}

/// Completes `meta`: the location, and a content-derived version when the backend has none.
pub fn finish_meta(resource: &mut Json, rt: &ResourceType, refs: &RefContext) {
    let id = resource.get("id").and_then(Json::as_str).unwrap_or_default().to_owned();
    let needs_version = resource.pointer("/meta/version").is_none();
    let digest = needs_version.then(|| content_version(resource));
    if let Some(meta) = resource.get_mut("meta").and_then(Json::as_object_mut) {
        meta.insert("location".into(), json!(refs.location(&rt.name, &id)));
        if let Some(d) = digest {
            meta.insert("version".into(), json!(format!("W/\"{d}\"")));
        }
    }
}

/// A version derived from the resource's content (FNV-1a), for backends without one.
fn content_version(resource: &Json) -> String {
    let text = resource.to_string();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Fields written only from write-only attributes (passwords): absent means "unchanged".
fn write_only_fields(rt: &ResourceType) -> BTreeSet<&str> {
    rt.attrs
        .iter()
        .filter(|m| m.leaf_def.mutability == Mutability::WriteOnly)
        .filter_map(|m| match &m.target {
            Target::Field { field, .. } => Some(field.as_str()),
            _ => None,
        })
        .collect()
}

/// The minimal change set that turns `old` into `new`: only fields that differ, whole child
/// lists that differ, and relation deltas.
pub fn diff(old: &NewRecord, new: &NewRecord, rt: &ResourceType) -> ChangeSet {
    let write_only = write_only_fields(rt);
    let create_only: BTreeSet<&str> = rt
        .compute
        .iter()
        .filter(|c| c.on_create_only)
        .map(|c| c.field.as_str())
        .collect();
    let mut cs = ChangeSet::default();
    for (field, values) in &new.fields {
        if create_only.contains(field.as_str()) || (write_only.contains(field.as_str()) && values.is_empty()) {
            continue;
        }
        let before = old.fields.get(field).map(Vec::as_slice).unwrap_or_default();
        if before != values.as_slice() {
            cs.fields.insert(field.clone(), values.clone());
        }
    }
    for (field, change) in &new.flags {
        if old.flags.get(field) != Some(change) {
            cs.flags.insert(field.clone(), *change);
        }
    }
    for (child, rows) in &new.children {
        if old.children.get(child) != Some(rows) {
            cs.children.insert(child.clone(), rows.clone());
        }
    }
    for (rel, ids) in &new.relations {
        let before: BTreeSet<&String> = old.relations.get(rel).into_iter().flatten().collect();
        let after: BTreeSet<&String> = ids.iter().collect();
        let delta = RelationDelta {
            remove_all: false,
            add: after.difference(&before).map(|s| (*s).clone()).collect(),
            remove: before.difference(&after).map(|s| (*s).clone()).collect(),
        };
        if !delta.is_empty() {
            cs.relations.insert(rel.clone(), delta);
        }
    }
    cs
}

/// Drops empty fields, children and relations: a new entry only carries what has a value.
pub fn prune_for_create(mut rec: NewRecord) -> NewRecord {
    rec.fields.retain(|_, v| !v.is_empty());
    rec.children.retain(|_, v| !v.is_empty());
    rec.relations.retain(|_, v| !v.is_empty());
    rec
}
