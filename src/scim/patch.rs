//! PATCH (RFC 7644 §3.5.2): parsing a `PatchOp` request and applying it to a canonical resource.
//!
//! Operations follow the RFC, with the deviations real identity providers need (Microsoft Entra
//! ID, Okta): case-insensitive `op`, pathless `add`/`replace` whose value keys are themselves
//! paths (`name.givenName`, `urn:…:User:employeeNumber`), `id` echoed in a pathless value, the
//! enterprise `manager` in four shapes, stringified JSON `roles`, and `""` meaning "clear".
//!
//! Values are canonicalised by [`normalize_value`] (resource.rs) and value filters evaluated by
//! [`matches_element`] (filter.rs); this module only decides *where* a value goes.
//!
//! Attributes listed as "delta attributes" (a Group's `members`, stored as links and never read
//! in full) are not touched in the resource: their operations become [`ValueDelta`]s.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::scim::error::ScimError;
use crate::scim::filter::{
    AttrInfo, AttrPath, AttrTypes, CompareOp, Filter, FilterLimits, PatchPath, ValueKind, matches_element,
    parse_patch_path, validate,
};
use crate::scim::resource::{get_ci, normalize_value, resolve_path};
use crate::scim::schema::{AttrType, AttributeDef, Mutability, ResourceSchema, SchemaDef, standard_schema};

/// The message schema of a PATCH request body (RFC 7644 §3.5.2).
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// RFC 7644 §3.5.2: `"op"` is one of these three.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchOpKind {
    Add,
    Remove,
    Replace,
}

impl PatchOpKind {
    /// Case-insensitive: Entra ID sends `Add`/`Replace`/`Remove`, some clients `REPLACE`.
    pub fn parse(s: &str) -> Option<PatchOpKind> {
        [PatchOpKind::Add, PatchOpKind::Remove, PatchOpKind::Replace]
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PatchOpKind::Add => "add",
            PatchOpKind::Remove => "remove",
            PatchOpKind::Replace => "replace",
        }
    }
}

/// One operation of a PATCH request. `value` is `Some(Value::Null)` when the client sent
/// `"value": null`, `None` when it sent no `value` at all.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOp {
    pub op: PatchOpKind,
    pub path: Option<PatchPath>,
    pub value: Option<Value>,
}

/// Membership changes, as value deltas, composed in operation order.
///
/// The resulting set is `(remove_all ? ∅ : current − remove) ∪ add`. An id appears at most
/// once, and never in both `add` and `remove`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ValueDelta {
    pub remove_all: bool,
    pub add: Vec<String>,
    pub remove: Vec<String>,
}

impl ValueDelta {
    fn add_id(&mut self, id: String) {
        self.remove.retain(|r| *r != id);
        if !self.add.contains(&id) {
            self.add.push(id);
        }
    }

    /// A later remove undoes an earlier add of the same id, and must still be listed: the id
    /// may have been a member before this request (RFC 7644 §3.5.2 applies operations in order).
    fn remove_id(&mut self, id: String) {
        self.add.retain(|a| *a != id);
        if !self.remove_all && !self.remove.contains(&id) {
            self.remove.push(id);
        }
    }

    fn clear(&mut self) {
        self.remove_all = true;
        self.add.clear();
        self.remove.clear();
    }

    fn is_empty(&self) -> bool {
        !self.remove_all && self.add.is_empty() && self.remove.is_empty()
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

/// Parses an RFC 7644 §3.5.2 PatchOp request body.
///
/// `schemas` must list [`PATCH_OP`] (case-insensitively) when present; a body without `schemas`
/// is accepted (lenient). `Operations` (key case-insensitive) must be a non-empty array of at
/// most `max_ops` operations. Errors name the operation as `Operations[i]`.
pub fn parse_patch(body: &Value, limits: &FilterLimits, max_ops: usize) -> Result<Vec<PatchOp>, ScimError> {
    let Value::Object(obj) = body else {
        return Err(ScimError::invalid_syntax(
            "the PATCH request body must be a JSON object",
        ));
    };
    check_message_schema(obj)?;
    let ops = match get_ci(obj, "Operations") {
        Some(Value::Array(ops)) if !ops.is_empty() => ops,
        _ => {
            return Err(ScimError::invalid_syntax(
                "\"Operations\" must be a non-empty array (RFC 7644 §3.5.2)",
            ));
        }
    };
    if ops.len() > max_ops {
        return Err(ScimError::invalid_value(format!(
            "the request has {} operations; at most {max_ops} are accepted per PATCH",
            ops.len()
        )));
    }
    (ops.iter().enumerate())
        .map(|(i, op)| parse_op(op, limits).map_err(|e| in_operation(e, i)))
        .collect()
}

/// RFC 7644 §3.5.2: the body's `schemas` is the PatchOp message URN. Okta and Entra send it;
/// a missing (or null) `schemas` is tolerated, a wrong one is not.
fn check_message_schema(obj: &Map<String, Value>) -> Result<(), ScimError> {
    let is_patch_op = |v: &Value| v.as_str().is_some_and(|s| s.eq_ignore_ascii_case(PATCH_OP));
    let listed = match get_ci(obj, "schemas") {
        None | Some(Value::Null) => true,
        Some(Value::Array(items)) => items.iter().any(is_patch_op),
        Some(single) => is_patch_op(single),
    };
    if listed {
        Ok(())
    } else {
        Err(ScimError::invalid_syntax(format!(
            "\"schemas\" must contain \"{PATCH_OP}\""
        )))
    }
}

fn parse_op(op: &Value, limits: &FilterLimits) -> Result<PatchOp, ScimError> {
    let Value::Object(obj) = op else {
        return Err(ScimError::invalid_syntax("an operation must be a JSON object"));
    };
    let kind = match get_ci(obj, "op") {
        Some(Value::String(s)) => PatchOpKind::parse(s).ok_or_else(|| {
            ScimError::invalid_syntax(format!(
                "unknown op \"{s}\"; expected \"add\", \"remove\" or \"replace\""
            ))
        })?,
        _ => {
            return Err(ScimError::invalid_syntax(
                "\"op\" must be \"add\", \"remove\" or \"replace\"",
            ));
        }
    };
    let path = match get_ci(obj, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(parse_patch_path(s, limits)?),
        Some(_) => return Err(ScimError::invalid_path("\"path\" must be a string")),
    };
    Ok(PatchOp {
        op: kind,
        path,
        value: get_ci(obj, "value").cloned(),
    })
}

fn in_operation(e: ScimError, index: usize) -> ScimError {
    ScimError {
        detail: format!("Operations[{index}]: {}", e.detail),
        ..e
    }
}

// ---------------------------------------------------------------------------------------------
// Attribute types for the filter evaluator
// ---------------------------------------------------------------------------------------------

/// Lets value filters in PATCH paths (`emails[type eq "work"]`) compare by the schema's types
/// and `caseExact` (RFC 7644 §3.4.2.2), e.g. `roles[primary eq "True"]` as a boolean.
impl AttrTypes for ResourceSchema {
    fn info(&self, urn: Option<&str>, attr: &str, sub: Option<&str>) -> Option<AttrInfo> {
        let def = resolve_path(self, urn, attr, sub)?.leaf();
        Some(AttrInfo {
            kind: value_kind(def.kind),
            case_exact: def.case_exact,
            multi_valued: def.multi_valued,
        })
    }
}

fn value_kind(kind: AttrType) -> ValueKind {
    match kind {
        AttrType::String => ValueKind::String,
        AttrType::Boolean => ValueKind::Boolean,
        AttrType::Decimal => ValueKind::Decimal,
        AttrType::Integer => ValueKind::Integer,
        AttrType::DateTime => ValueKind::DateTime,
        AttrType::Binary => ValueKind::Binary,
        AttrType::Reference => ValueKind::Reference,
        AttrType::Complex => ValueKind::Complex,
    }
}

// ---------------------------------------------------------------------------------------------
// Applying
// ---------------------------------------------------------------------------------------------

/// Applies `ops` in order to `resource` (canonical JSON), except operations on the attributes
/// named in `delta_attrs`, which become [`ValueDelta`]s keyed by canonical attribute name
/// (`urn:…:name` for an extension attribute).
///
/// All-or-nothing (RFC 7644 §3.5.2: "the operation is atomic"): on error `resource` may be
/// partially modified and the caller discards it. Required attributes are not checked here.
pub fn apply_patch(
    resource: &mut Value,
    ops: &[PatchOp],
    schema: &ResourceSchema,
    delta_attrs: &[&str],
) -> Result<BTreeMap<String, ValueDelta>, ScimError> {
    let top =
        (resource.as_object_mut()).ok_or_else(|| ScimError::internal("PATCH target resource is not a JSON object"))?;
    let mut patcher = Patcher {
        schema,
        delta_attrs,
        deltas: BTreeMap::new(),
    };
    for op in ops {
        patcher.apply_op(top, op)?;
    }
    sync_schemas(top, schema);
    let mut deltas = patcher.deltas;
    deltas.retain(|_, d| !d.is_empty());
    Ok(deltas)
}

/// What one path receives.
#[derive(Clone, Copy)]
enum Action<'v> {
    /// `add` (appends to multi-valued attributes) or `replace`.
    Set { add: bool, value: &'v Value },
    /// `remove`; a `value` selects the values of a multi-valued attribute to remove.
    Remove { value: Option<&'v Value> },
}

/// Where a path comes from: the strictness differs (RFC 7644 §3.5.2 vs. the leniency of
/// create, RFC 7644 §3.3, which pathless values are treated like).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// An operation's `path`: unknown and read-only attributes are errors.
    Path,
    /// A key of a pathless operation's value object: unknown and read-only ones are ignored.
    ValueKey,
}

/// An attribute a path designates, resolved against the schema.
struct Target<'s, 'p> {
    ext: Option<&'s SchemaDef>,
    attr: &'s AttributeDef,
    filter: Option<&'p Filter>,
    sub: Option<&'s AttributeDef>,
    /// The canonical path, for error messages (`name.givenName`, `urn:…:User:manager`).
    shown: String,
}

enum Resolution<'s, 'p> {
    Attr(Target<'s, 'p>),
    /// The path is a schema URN alone; `None` is the core schema.
    Schema(Option<&'s SchemaDef>),
    Unknown,
}

struct Patcher<'a> {
    schema: &'a ResourceSchema,
    delta_attrs: &'a [&'a str],
    deltas: BTreeMap<String, ValueDelta>,
}

impl Patcher<'_> {
    fn apply_op(&mut self, top: &mut Map<String, Value>, op: &PatchOp) -> Result<(), ScimError> {
        let add = op.op == PatchOpKind::Add;
        match (op.op, &op.path) {
            (PatchOpKind::Remove, None) => Err(ScimError::no_target(
                "a remove operation needs a path (RFC 7644 §3.5.2.2)",
            )),
            (PatchOpKind::Remove, Some(path)) => {
                let action = Action::Remove {
                    value: op.value.as_ref(),
                };
                self.at_path(top, path, action, Origin::Path)
            }
            (_, path) => {
                let value = op.value.as_ref().ok_or_else(|| {
                    ScimError::invalid_value(format!(
                        "a {} operation needs a value (RFC 7644 §3.5.2)",
                        op.op.as_str()
                    ))
                })?;
                match path {
                    Some(path) => self.at_path(top, path, Action::Set { add, value }, Origin::Path),
                    None => self.pathless(top, add, value),
                }
            }
        }
    }

    /// RFC 7644 §3.5.2.1 / §3.5.2.3 without `path`: the value is an object whose keys are
    /// attribute paths (Entra sends `name.givenName` and `urn:…:User:employeeNumber` keys).
    fn pathless(&mut self, top: &mut Map<String, Value>, add: bool, value: &Value) -> Result<(), ScimError> {
        let Value::Object(attrs) = value else {
            return Err(ScimError::invalid_value(
                "without a path, the value must be an object of attributes (RFC 7644 §3.5.2.1)",
            ));
        };
        for (key, value) in attrs {
            let action = Action::Set { add, value };
            if key.eq_ignore_ascii_case("schemas") {
                continue;
            }
            if key.eq_ignore_ascii_case("id") {
                check_same_id(top, value)?;
                continue;
            }
            if let Some(slot) = urn_slot(self.schema, key) {
                self.at_schema(top, slot, action)?;
                continue;
            }
            // Like create, a key that is not even a path is ignored rather than rejected.
            if let Ok(path) = parse_patch_path(key, &FilterLimits::default()) {
                self.at_path(top, &path, action, Origin::ValueKey)?;
            }
        }
        Ok(())
    }

    fn at_path(
        &mut self,
        top: &mut Map<String, Value>,
        path: &PatchPath,
        action: Action<'_>,
        origin: Origin,
    ) -> Result<(), ScimError> {
        let target = match resolve_target(self.schema, path)? {
            Resolution::Schema(slot) => return self.at_schema(top, slot, action),
            Resolution::Unknown if origin == Origin::ValueKey => return Ok(()),
            // A standard attribute the mapping does not store (Entra's `roles`): ignored like
            // an unknown attribute in a body, not refused, so a provisioning job keeps going.
            Resolution::Unknown if names_unmapped_standard_attribute(self.schema, path) => return Ok(()),
            Resolution::Unknown => {
                return Err(ScimError::invalid_path(format!(
                    "path '{}' does not name an attribute of this resource",
                    show(path)
                )));
            }
            Resolution::Attr(target) => target,
        };
        if is_read_only(&target) {
            // RFC 7644 §3.5.2: modifying a readOnly attribute is a `mutability` error; in a
            // pathless value it is ignored, as RFC 7644 §3.3 ignores readOnly values on create.
            return match origin {
                Origin::ValueKey => Ok(()),
                Origin::Path => Err(ScimError::mutability(format!(
                    "attribute '{}' is readOnly and cannot be modified",
                    target.shown
                ))),
            };
        }
        if self.is_delta(&target) {
            return self.delta(&target, action);
        }
        let types: &dyn AttrTypes = self.schema;
        let container = container(top, target.ext)?;
        match action {
            Action::Set { add, value } => set(container, &target, add, value, types),
            Action::Remove { value } => remove(container, &target, value, types),
        }
    }

    /// A path or pathless key that is a schema URN: its value is an object of that schema's
    /// attributes (RFC 7644 §3.5.2.1 example with the enterprise extension).
    fn at_schema(
        &mut self,
        top: &mut Map<String, Value>,
        slot: Option<&SchemaDef>,
        action: Action<'_>,
    ) -> Result<(), ScimError> {
        let urn = slot.map_or(&self.schema.core.id, |ext| &ext.id);
        match action {
            Action::Set {
                value: Value::Object(attrs),
                add,
            } => {
                for (key, value) in attrs {
                    let Ok(mut path) = parse_patch_path(key, &FilterLimits::default()) else {
                        continue;
                    };
                    path.attr.urn.get_or_insert_with(|| urn.clone());
                    self.at_path(top, &path, Action::Set { add, value }, Origin::ValueKey)?;
                }
                Ok(())
            }
            Action::Set { value: Value::Null, .. } | Action::Remove { .. } => remove_extension(top, slot),
            Action::Set { .. } => Err(ScimError::invalid_value(format!(
                "the value of '{urn}' must be an object of its attributes"
            ))),
        }
    }

    fn is_delta(&self, t: &Target<'_, '_>) -> bool {
        let key = delta_key(t);
        (self.delta_attrs.iter()).any(|d| d.eq_ignore_ascii_case(&t.attr.name) || d.eq_ignore_ascii_case(&key))
    }

    /// Operations on a delta attribute (RFC 7644 §3.5.2 on `members`), recorded as id changes.
    fn delta(&mut self, t: &Target<'_, '_>, action: Action<'_>) -> Result<(), ScimError> {
        if t.sub.is_some() {
            return Err(ScimError::invalid_path(format!(
                "'{}' is changed by whole values only; a sub-attribute path is not supported",
                t.attr.name
            )));
        }
        match action {
            Action::Set { add, value } => {
                if t.filter.is_some() {
                    return Err(ScimError::invalid_path(format!(
                        "an {} of '{}' cannot use a value filter",
                        if add { "add" } else { "replace" },
                        t.attr.name
                    )));
                }
                let ids = member_ids(value, &t.shown)?;
                let delta = self.deltas.entry(delta_key(t)).or_default();
                if !add {
                    delta.clear();
                }
                ids.into_iter().for_each(|id| delta.add_id(id));
            }
            Action::Remove { value } => {
                let ids = match (t.filter, value.filter(|v| !v.is_null())) {
                    (Some(filter), _) => filter_ids(filter, &t.shown)?,
                    (None, Some(value)) => member_ids(value, &t.shown)?,
                    (None, None) => {
                        self.deltas.entry(delta_key(t)).or_default().clear();
                        return Ok(());
                    }
                };
                let delta = self.deltas.entry(delta_key(t)).or_default();
                ids.into_iter().for_each(|id| delta.remove_id(id));
            }
        }
        Ok(())
    }
}

/// Okta repeats the resource's `id` in a pathless value; anything else would change a readOnly
/// attribute (RFC 7643 §3.1).
fn check_same_id(top: &Map<String, Value>, value: &Value) -> Result<(), ScimError> {
    if value.is_null() || get_ci(top, "id") == Some(value) {
        Ok(())
    } else {
        Err(ScimError::mutability(
            "\"id\" is readOnly; a PATCH value may repeat the resource's id but not change it",
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Path resolution
// ---------------------------------------------------------------------------------------------

fn resolve_target<'s, 'p>(schema: &'s ResourceSchema, path: &'p PatchPath) -> Result<Resolution<'s, 'p>, ScimError> {
    if let Some(slot) = whole_schema(schema, path) {
        return Ok(Resolution::Schema(slot));
    }
    let a = &path.attr;
    let Some(resolved) = resolve_path(schema, a.urn.as_deref(), &a.attr, None) else {
        return Ok(Resolution::Unknown);
    };
    let attr = resolved.attr;
    let sub = match a.sub.as_deref().or(path.sub.as_deref()) {
        Some(name) => match attr.sub(name) {
            Some(def) => Some(def),
            None => return Ok(Resolution::Unknown),
        },
        None => None,
    };
    if let Some(filter) = &path.filter {
        if !(attr.multi_valued && attr.kind == AttrType::Complex) {
            return Err(ScimError::invalid_path(format!(
                "path '{}': a value filter applies only to a multi-valued complex attribute",
                show(path)
            )));
        }
        // Operator/type mismatches (`emails[primary gt true]`) are invalidFilter, as in a query.
        let whole = Filter::ValuePath {
            path: AttrPath {
                urn: resolved.extension.map(|e| e.id.clone()),
                attr: attr.name.clone(),
                sub: None,
            },
            filter: Box::new(filter.clone()),
        };
        validate(&whole, schema)?;
    }
    Ok(Resolution::Attr(Target {
        ext: resolved.extension,
        attr,
        filter: path.filter.as_ref(),
        sub,
        shown: canonical_path(resolved.extension, attr, sub),
    }))
}

/// A path that is a schema URN alone. The path parser splits such a URN at its last `:`
/// (`…:enterprise:2.0` + `User`), so the parts are joined back.
/// Whether `path` names an attribute (and sub-attribute) of the RFC 7643 catalogue entry of
/// one of the resource's own schemas: `roles` or `roles[primary eq "True"].value` on a User.
fn names_unmapped_standard_attribute(schema: &ResourceSchema, path: &PatchPath) -> bool {
    let a = &path.attr;
    let urn = match a.urn.as_deref() {
        None => schema.core.id.as_str(),
        Some(u) if schema.schema(u).is_some() => u,
        Some(_) => return false,
    };
    let Some(standard) = standard_schema(urn) else {
        return false;
    };
    let Some(attr) = standard.attribute(&a.attr) else {
        return false;
    };
    match a.sub.as_deref().or(path.sub.as_deref()) {
        Some(sub) => attr.sub(sub).is_some(),
        None => true,
    }
}

fn whole_schema<'s>(schema: &'s ResourceSchema, path: &PatchPath) -> Option<Option<&'s SchemaDef>> {
    let urn = path.attr.urn.as_deref()?;
    if path.filter.is_some() || path.sub.is_some() || path.attr.sub.is_some() {
        return None;
    }
    urn_slot(schema, &format!("{urn}:{}", path.attr.attr))
}

/// The schema a key names exactly: `Some(None)` for the core schema, `Some(Some(ext))` for an
/// extension (RFC 7643 §2.1: compared case-insensitively).
fn urn_slot<'s>(schema: &'s ResourceSchema, key: &str) -> Option<Option<&'s SchemaDef>> {
    if key.eq_ignore_ascii_case(&schema.core.id) {
        Some(None)
    } else {
        schema.extension(key).map(Some)
    }
}

fn is_read_only(t: &Target<'_, '_>) -> bool {
    t.attr.mutability == Mutability::ReadOnly || t.sub.is_some_and(|s| s.mutability == Mutability::ReadOnly)
}

/// RFC 7644 §3.10 notation: `urn:…:User:manager.value` for extension attributes.
fn canonical_path(ext: Option<&SchemaDef>, attr: &AttributeDef, sub: Option<&AttributeDef>) -> String {
    let mut out = ext.map(|e| format!("{}:", e.id)).unwrap_or_default();
    out.push_str(&attr.name);
    if let Some(sub) = sub {
        out.push('.');
        out.push_str(&sub.name);
    }
    out
}

fn delta_key(t: &Target<'_, '_>) -> String {
    canonical_path(t.ext, t.attr, None)
}

/// The path as the client wrote it (canonical syntax), for error messages.
fn show(path: &PatchPath) -> String {
    let mut out = path.attr.to_string();
    if let Some(filter) = &path.filter {
        out.push_str(&format!("[{filter}]"));
    }
    if let Some(sub) = &path.sub {
        out.push('.');
        out.push_str(sub);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// add / replace
// ---------------------------------------------------------------------------------------------

fn set(
    container: &mut Map<String, Value>,
    t: &Target<'_, '_>,
    add: bool,
    raw: &Value,
    types: &dyn AttrTypes,
) -> Result<(), ScimError> {
    match (t.filter, t.sub) {
        (Some(filter), sub) => set_filtered(container, t, filter, sub, raw, types),
        (None, Some(_)) if t.attr.multi_valued => Err(ScimError::invalid_path(format!(
            "path '{}': a sub-attribute of the multi-valued attribute '{}' needs a value filter, \
             e.g. {}[type eq \"work\"].{}",
            t.shown,
            t.attr.name,
            t.attr.name,
            t.sub.map_or("value", |s| s.name.as_str())
        ))),
        (None, Some(sub)) => set_sub(container, t, sub, raw),
        (None, None) => set_whole(container, t, add, raw),
    }
}

/// A whole attribute. RFC 7644 §3.5.2.1: `add` on a single-valued attribute replaces it and on
/// a multi-valued one appends; §3.5.2.3: `replace` of a multi-valued attribute replaces all
/// values. Complex single-valued attributes merge in both (§3.5.2.1, §3.5.2.3: "Sub-attributes
/// that are not specified in the value parameter are left unchanged").
fn set_whole(container: &mut Map<String, Value>, t: &Target<'_, '_>, add: bool, raw: &Value) -> Result<(), ScimError> {
    let def = t.attr;
    let old = present(get_ci(container, &def.name)).cloned();
    let new = if def.multi_valued {
        let new = normalize_value(raw, def, &t.shown)?;
        if add {
            append(old.as_ref(), new, def)
        } else {
            non_null(new)
        }
    } else if def.kind == AttrType::Complex {
        merge_complex(old.as_ref(), raw, def, &t.shown)?
    } else {
        non_null(normalize_value(raw, def, &t.shown)?)
    };
    check_immutable(def, old.as_ref(), new.as_ref(), &t.shown)?;
    write(container, &def.name, new);
    Ok(())
}

/// Merges a single-valued complex value into the stored one.
///
/// Sub-attributes sent as `null` or `""` are cleared (`name: {"middleName": ""}`), by the rule
/// of [`with_content`]: clearing a manager's `value` clears the manager. When the attribute has
/// a `value` sub-attribute (the enterprise `manager`), the value identifies what the attribute
/// points at, so a different `value` replaces the attribute wholesale: the other sub-attributes
/// (`$ref`, `displayName`) described the old target. Non-object forms
/// (`"id"`, `[{"value": "id"}]`, `""`) are taken whole, as [`normalize_value`] reads them.
fn merge_complex(
    old: Option<&Value>,
    raw: &Value,
    def: &AttributeDef,
    shown: &str,
) -> Result<Option<Value>, ScimError> {
    let new = normalize_value(raw, def, shown)?;
    let Value::Object(raw_obj) = raw else {
        return Ok(non_null(new));
    };
    let cleared = cleared_subs(raw_obj, def);
    let new_obj = new.as_object().cloned().unwrap_or_default();
    let old_obj = old.and_then(Value::as_object);
    let identity_changed = def.sub("value").is_some()
        && get_ci(&new_obj, "value").is_some_and(|v| old_obj.and_then(|o| get_ci(o, "value")) != Some(v));
    if identity_changed {
        return Ok(non_empty(new_obj));
    }
    let mut merged = old_obj.cloned().unwrap_or_default();
    let clears = !cleared.is_empty();
    for sub in cleared {
        remove_ci(&mut merged, &sub.name);
    }
    merged.extend_ci(new_obj);
    Ok(if clears {
        with_content(merged, def)
    } else {
        non_empty(merged)
    })
}

/// Writable sub-attributes a raw object sets to `null` or `""`, i.e. asks to clear.
fn cleared_subs<'d>(raw: &Map<String, Value>, def: &'d AttributeDef) -> Vec<&'d AttributeDef> {
    (raw.iter())
        .filter(|(_, v)| v.is_null() || v.as_str() == Some(""))
        .filter_map(|(k, _)| def.sub(k))
        .filter(|s| s.mutability.writable())
        .collect()
}

/// `name.givenName`, `manager.value`: one sub-attribute of a single-valued complex attribute.
fn set_sub(
    container: &mut Map<String, Value>,
    t: &Target<'_, '_>,
    sub: &AttributeDef,
    raw: &Value,
) -> Result<(), ScimError> {
    let def = t.attr;
    let new = non_null(normalize_value(raw, sub, &t.shown)?);
    let old = present(get_ci(container, &def.name)).cloned();
    let mut obj = old.as_ref().and_then(Value::as_object).cloned().unwrap_or_default();
    let old_sub = present(get_ci(&obj, &sub.name)).cloned();
    check_immutable(sub, old_sub.as_ref(), new.as_ref(), &t.shown)?;
    let result = match new {
        None => {
            remove_ci(&mut obj, &sub.name);
            with_content(obj, def)
        }
        // A new `value` is a new target: drop the old target's `$ref` and display name.
        Some(new) if is_value_sub(sub) && old_sub.as_ref() != Some(&new) => {
            non_empty(Map::from_iter([(sub.name.clone(), new)]))
        }
        Some(new) => {
            write(&mut obj, &sub.name, Some(new));
            non_empty(obj)
        }
    };
    let attr_path = canonical_path(t.ext, def, None);
    check_immutable(def, old.as_ref(), result.as_ref(), &attr_path)?;
    write(container, &def.name, result);
    Ok(())
}

/// `emails[type eq "work"]` or `emails[type eq "work"].value` with add/replace: updates the
/// matching elements. When none matches, Entra and Okta expect the element to be created, which
/// is only well-defined when the filter is `eq` terms joined by `and` (their fields seed it);
/// otherwise RFC 7644 §3.5.2.3 `noTarget`.
fn set_filtered(
    container: &mut Map<String, Value>,
    t: &Target<'_, '_>,
    filter: &Filter,
    sub: Option<&AttributeDef>,
    raw: &Value,
    types: &dyn AttrTypes,
) -> Result<(), ScimError> {
    let def = t.attr;
    let old = present(get_ci(container, &def.name)).cloned();
    let mut items = elements_of(old.as_ref());
    let hits = hit_mask(&items, t, filter, types);
    // The fields to write into each matching element; `None` clears.
    let update: Option<Map<String, Value>> = match sub {
        Some(sub) => non_null(normalize_value(raw, sub, &t.shown)?).map(|v| Map::from_iter([(sub.name.clone(), v)])),
        None => normalize_element(raw, def, &t.shown)?,
    };
    let Some(update) = update else {
        // Clearing: same as remove on this path.
        items = strip_hits(items, &hits, sub, def);
        return finish_items(container, def, old, items, &[], &t.shown);
    };
    let mut touched = Vec::new();
    if hits.iter().any(|h| *h) {
        for (i, item) in items.iter_mut().enumerate().filter(|(i, _)| hits[*i]) {
            if let Value::Object(obj) = item {
                check_sub_immutability(obj, &update, def, &t.shown)?;
                obj.extend_ci(update.clone());
                touched.push(i);
            }
        }
    } else {
        let mut seed = seed_from_filter(filter, &t.shown)?;
        seed.extend_ci(update);
        if let Some(created) = normalize_element(&Value::Object(seed), def, &t.shown)? {
            items.push(Value::Object(created));
            touched.push(items.len() - 1);
        }
    }
    finish_items(container, def, old, items, &touched, &t.shown)
}

/// Writes back a multi-valued attribute after an element-level change.
fn finish_items(
    container: &mut Map<String, Value>,
    def: &AttributeDef,
    old: Option<Value>,
    mut items: Vec<Value>,
    touched: &[usize],
    shown: &str,
) -> Result<(), ScimError> {
    keep_one_primary(&mut items, touched);
    let new = non_empty_array(items);
    check_immutable(def, old.as_ref(), new.as_ref(), shown)?;
    write(container, &def.name, new);
    Ok(())
}

/// An element built from the filter's `eq` terms: `emails[type eq "work"]` seeds
/// `{"type": "work"}`. Types are fixed later by [`normalize_value`] (`"True"` → `true`).
fn seed_from_filter(filter: &Filter, shown: &str) -> Result<Map<String, Value>, ScimError> {
    let terms = match filter {
        Filter::And(items) => items.as_slice(),
        single => std::slice::from_ref(single),
    };
    let mut seed = Map::new();
    for term in terms {
        match term {
            Filter::Compare {
                path:
                    AttrPath {
                        urn: None,
                        attr,
                        sub: None,
                    },
                op: CompareOp::Eq,
                value,
            } if !value.is_null() => {
                seed.insert(attr.clone(), value.clone());
            }
            _ => {
                return Err(ScimError::no_target(format!(
                    "no value of '{shown}' matches the filter, and a new one can be created only \
                     from 'eq' comparisons joined by 'and'"
                )));
            }
        }
    }
    Ok(seed)
}

/// One element of a multi-valued complex attribute, canonicalised like the attribute itself
/// (which accepts a bare object, a one-element array, or Entra's stringified JSON).
fn normalize_element(raw: &Value, def: &AttributeDef, shown: &str) -> Result<Option<Map<String, Value>>, ScimError> {
    match normalize_value(raw, def, shown)? {
        Value::Array(items) if items.len() > 1 => Err(ScimError::invalid_value(format!(
            "'{shown}' with a value filter takes one value, not {}",
            items.len()
        ))),
        Value::Array(mut items) => Ok(items.pop().and_then(|v| match v {
            Value::Object(obj) => Some(obj),
            _ => None,
        })),
        _ => Ok(None),
    }
}

/// RFC 7643 §7 `immutable` sub-attributes of an existing element may not change.
fn check_sub_immutability(
    element: &Map<String, Value>,
    update: &Map<String, Value>,
    def: &AttributeDef,
    shown: &str,
) -> Result<(), ScimError> {
    for (key, new) in update {
        if let Some(sub) = def.sub(key) {
            check_immutable(sub, present(get_ci(element, key)), Some(new), shown)?;
        }
    }
    Ok(())
}

/// RFC 7644 §3.5.2.1: "If the target location specifies a multi-valued attribute, a new value
/// is added"; one that is already there is not added twice (equal `value` sub-attributes, by
/// the sub-attribute's caseExact), its other sub-attributes are merged instead so that e.g. a
/// re-sent `primary: true` is not lost.
fn append(old: Option<&Value>, new: Value, def: &AttributeDef) -> Option<Value> {
    let Value::Array(added) = new else {
        // Nothing to add (`[]`, `null`): the attribute is unchanged.
        return old.cloned();
    };
    let mut items = elements_of(old);
    let mut touched = Vec::new();
    for item in added {
        let at = match items.iter().position(|e| same_element(e, &item, def)) {
            Some(i) => {
                if let (Value::Object(existing), Value::Object(given)) = (&mut items[i], item) {
                    existing.extend_ci(given);
                }
                i
            }
            None => {
                items.push(item);
                items.len() - 1
            }
        };
        touched.push(at);
    }
    keep_one_primary(&mut items, &touched);
    non_empty_array(items)
}

fn same_element(a: &Value, b: &Value, def: &AttributeDef) -> bool {
    let value_def = def.sub("value").filter(|_| def.kind == AttrType::Complex);
    let (Some(value_def), Some(x), Some(y)) = (value_def, a.as_object(), b.as_object()) else {
        return a == b;
    };
    match (get_ci(x, "value"), get_ci(y, "value")) {
        (Some(Value::String(p)), Some(Value::String(q))) if !value_def.case_exact => {
            p.to_lowercase() == q.to_lowercase()
        }
        (Some(p), Some(q)) => p == q,
        _ => a == b,
    }
}

/// RFC 7643 §2.4: "The primary attribute value 'true' MUST appear no more than once." The
/// element this operation wrote wins; the others lose their `primary`.
fn keep_one_primary(items: &mut [Value], touched: &[usize]) {
    let is_primary = |v: &Value| {
        v.as_object()
            .and_then(|o| get_ci(o, "primary"))
            .is_some_and(|p| *p == Value::Bool(true))
    };
    let Some(winner) = (touched.iter().rev().copied()).find(|&i| items.get(i).is_some_and(is_primary)) else {
        return;
    };
    for (i, item) in items.iter_mut().enumerate() {
        if i != winner
            && is_primary(item)
            && let Value::Object(obj) = item
        {
            remove_ci(obj, "primary");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// remove
// ---------------------------------------------------------------------------------------------

/// RFC 7644 §3.5.2.2. Removing what is not there is not an error (the result is the same).
fn remove(
    container: &mut Map<String, Value>,
    t: &Target<'_, '_>,
    raw: Option<&Value>,
    types: &dyn AttrTypes,
) -> Result<(), ScimError> {
    let def = t.attr;
    let Some(old) = present(get_ci(container, &def.name)).cloned() else {
        return Ok(());
    };
    let new = match (t.filter, t.sub) {
        (Some(filter), sub) => {
            let items = elements_of(Some(&old));
            let hits = hit_mask(&items, t, filter, types);
            non_empty_array(strip_hits(items, &hits, sub, def))
        }
        (None, Some(sub)) if def.multi_valued => {
            let items = elements_of(Some(&old));
            let hits = vec![true; items.len()];
            non_empty_array(strip_hits(items, &hits, Some(sub), def))
        }
        (None, Some(sub)) => match old.clone() {
            Value::Object(mut obj) => {
                remove_ci(&mut obj, &sub.name);
                with_content(obj, def)
            }
            _ => None,
        },
        (None, None) => match raw.filter(|v| !v.is_null()) {
            // Some clients name the values to remove in `value` (as Entra does for members).
            Some(values) if def.multi_valued => {
                let gone = normalize_value(values, def, &t.shown)?;
                let gone = elements_of(Some(&gone));
                let mut items = elements_of(Some(&old));
                items.retain(|item| !gone.iter().any(|g| same_element(item, g, def)));
                non_empty_array(items)
            }
            _ => None,
        },
    };
    check_immutable(def, Some(&old), new.as_ref(), &t.shown)?;
    write(container, &def.name, new);
    Ok(())
}

/// Removes the matching elements, or only their `sub` when one is given.
fn strip_hits(items: Vec<Value>, hits: &[bool], sub: Option<&AttributeDef>, def: &AttributeDef) -> Vec<Value> {
    (items.into_iter().zip(hits))
        .filter_map(|(item, hit)| match (hit, sub, item) {
            (false, _, item) => Some(item),
            (true, Some(sub), Value::Object(mut obj)) => {
                remove_ci(&mut obj, &sub.name);
                with_content(obj, def)
            }
            (true, _, _) => None,
        })
        .collect()
}

/// A complex value after one of its sub-attributes was cleared, or `None` when what is left is
/// no value. With a `value` sub-attribute it must still have one: an email without its address
/// or a manager without an id means nothing, and [`normalize_value`] reads `{"value": ""}` as
/// no value too. Without one (`name`, `addresses`), it needs more than the RFC 7643 §2.4
/// labels `type` and `primary`.
fn with_content(obj: Map<String, Value>, def: &AttributeDef) -> Option<Value> {
    let has_content = if def.sub("value").is_some() {
        present(get_ci(&obj, "value")).is_some()
    } else {
        (obj.keys()).any(|k| !k.eq_ignore_ascii_case("type") && !k.eq_ignore_ascii_case("primary"))
    };
    has_content.then_some(Value::Object(obj))
}

fn remove_extension(top: &mut Map<String, Value>, slot: Option<&SchemaDef>) -> Result<(), ScimError> {
    match slot {
        Some(ext) => {
            remove_ci(top, &ext.id);
            Ok(())
        }
        None => Err(ScimError::invalid_path(
            "the core schema's attributes cannot be removed as a whole",
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// Delta attributes
// ---------------------------------------------------------------------------------------------

/// The ids in a `members` value: `[{"value": "id"}]`, `["id"]`, a single one of those, or
/// `null`/`[]` for none. Numbers are taken in their string form (ids are strings).
fn member_ids(value: &Value, shown: &str) -> Result<Vec<String>, ScimError> {
    let items = match value {
        Value::Null => &[][..],
        Value::Array(items) => items.as_slice(),
        single => std::slice::from_ref(single),
    };
    let mut ids: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let id = member_id(item, shown)?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

fn member_id(item: &Value, shown: &str) -> Result<String, ScimError> {
    let id = match item {
        // Stringified JSON, as Entra sends for other multi-valued attributes.
        Value::String(s) if s.trim_start().starts_with('{') => match serde_json::from_str::<Value>(s) {
            Ok(obj @ Value::Object(_)) => return member_id(&obj, shown),
            _ => None,
        },
        Value::Object(obj) => get_ci(obj, "value").and_then(id_text),
        scalar => id_text(scalar),
    };
    id.ok_or_else(|| ScimError::invalid_value(format!("each value of '{shown}' needs a non-empty \"value\" (the id)")))
}

fn id_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The ids a `members[value eq "id"]` filter names (also `… or value eq "id2"`).
fn filter_ids(filter: &Filter, shown: &str) -> Result<Vec<String>, ScimError> {
    let invalid = || {
        ScimError::invalid_path(format!(
            "'{shown}' can be filtered only by 'value eq \"id\"', or several joined by 'or'"
        ))
    };
    match filter {
        Filter::Compare {
            path: AttrPath {
                urn: None,
                attr,
                sub: None,
            },
            op: CompareOp::Eq,
            value,
        } if attr.eq_ignore_ascii_case("value") => Ok(vec![id_text(value).ok_or_else(invalid)?]),
        Filter::Or(items) => {
            let mut ids = Vec::new();
            for item in items {
                for id in filter_ids(item, shown)? {
                    if !ids.contains(&id) {
                        ids.push(id);
                    }
                }
            }
            Ok(ids)
        }
        _ => Err(invalid()),
    }
}

// ---------------------------------------------------------------------------------------------
// JSON helpers
// ---------------------------------------------------------------------------------------------

/// The map an attribute lives in: the resource itself, or its extension object (created empty
/// when missing; [`sync_schemas`] removes it again if it stays empty).
fn container<'r>(
    top: &'r mut Map<String, Value>,
    ext: Option<&SchemaDef>,
) -> Result<&'r mut Map<String, Value>, ScimError> {
    let Some(ext) = ext else {
        return Ok(top);
    };
    let key = key_ci(top, &ext.id);
    let slot = top.entry(key).or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut()
        .ok_or_else(|| ScimError::internal("extension object is not a JSON object"))
}

/// RFC 7644 §3.5.2 keeps `schemas` consistent: an extension URN is listed exactly when the
/// extension has data; empty extension objects are removed. The order is canonical (core
/// first, then extensions in schema order), as resource.rs builds it.
fn sync_schemas(top: &mut Map<String, Value>, schema: &ResourceSchema) {
    let mut urns = vec![Value::String(schema.core.id.clone())];
    for ext in &schema.extensions {
        let key = key_ci(top, &ext.id);
        match top.get(&key) {
            Some(Value::Object(attrs)) if !attrs.is_empty() => urns.push(Value::String(ext.id.clone())),
            _ => {
                top.shift_remove(&key);
            }
        }
    }
    let key = key_ci(top, "schemas");
    top.insert(key, Value::Array(urns));
}

/// The existing key that matches `name` case-insensitively (RFC 7643 §2.1), else `name`.
fn key_ci(map: &Map<String, Value>, name: &str) -> String {
    if map.contains_key(name) {
        return name.to_owned();
    }
    (map.keys())
        .find(|k| k.eq_ignore_ascii_case(name))
        .cloned()
        .unwrap_or_else(|| name.to_owned())
}

/// Sets (`Some`) or removes (`None`) a key, keeping the position of an existing key.
fn write(map: &mut Map<String, Value>, name: &str, value: Option<Value>) {
    let key = key_ci(map, name);
    match value {
        Some(value) => {
            map.insert(key, value);
        }
        None => {
            map.shift_remove(&key);
        }
    }
}

fn remove_ci(map: &mut Map<String, Value>, name: &str) {
    write(map, name, None);
}

/// Case-insensitive `extend`: a key already present in another case is overwritten in place.
trait ExtendCi {
    fn extend_ci(&mut self, other: Map<String, Value>);
}

impl ExtendCi for Map<String, Value> {
    fn extend_ci(&mut self, other: Map<String, Value>) {
        for (key, value) in other {
            write(self, &key, Some(value));
        }
    }
}

fn present(value: Option<&Value>) -> Option<&Value> {
    value.filter(|v| !v.is_null())
}

fn non_null(value: Value) -> Option<Value> {
    (!value.is_null()).then_some(value)
}

fn non_empty(obj: Map<String, Value>) -> Option<Value> {
    (!obj.is_empty()).then_some(Value::Object(obj))
}

/// RFC 7644 §3.5.2.2: "If the attribute is multi-valued and all values are removed, the
/// attribute SHALL be considered unassigned."
fn non_empty_array(items: Vec<Value>) -> Option<Value> {
    (!items.is_empty()).then_some(Value::Array(items))
}

/// The values of a possibly multi-valued attribute as a list.
fn elements_of(value: Option<&Value>) -> Vec<Value> {
    match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(single) => vec![single.clone()],
    }
}

fn hit_mask(items: &[Value], t: &Target<'_, '_>, filter: &Filter, types: &dyn AttrTypes) -> Vec<bool> {
    let urn = t.ext.map(|e| e.id.as_str());
    (items.iter())
        .map(|e| matches_element(filter, urn, &t.attr.name, e, types))
        .collect()
}

fn is_value_sub(sub: &AttributeDef) -> bool {
    sub.name.eq_ignore_ascii_case("value")
}

/// RFC 7643 §7 `immutable`: may be set when unassigned, never changed (or removed) after.
fn check_immutable(def: &AttributeDef, old: Option<&Value>, new: Option<&Value>, shown: &str) -> Result<(), ScimError> {
    if def.mutability == Mutability::Immutable && old.is_some() && old != new {
        return Err(ScimError::mutability(format!(
            "attribute '{shown}' is immutable and already has a value"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::error::ScimType;
    use crate::scim::schema::{CORE_GROUP, CORE_USER, ENTERPRISE_USER};
    use serde_json::json;

    const E: &str = ENTERPRISE_USER;

    use crate::scim::schema::fixtures::{group_schema, user_schema};

    fn user() -> Value {
        json!({
            "schemas": [CORE_USER, E],
            "id": "2819c223",
            "userName": "bjensen",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "displayName": "Babs",
            "active": true,
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "meta": {"resourceType": "User"},
            E: {"employeeNumber": "701984", "manager": {"value": "26118915", "$ref": "../Users/26118915"}}
        })
    }

    fn group() -> Value {
        json!({"schemas": [CORE_GROUP], "id": "g1", "displayName": "Admins"})
    }

    fn body(ops: Value) -> Value {
        json!({"schemas": [PATCH_OP], "Operations": ops})
    }

    fn run(
        resource: Value,
        schema: &ResourceSchema,
        delta_attrs: &[&str],
        ops: Value,
    ) -> Result<(Value, BTreeMap<String, ValueDelta>), ScimError> {
        let ops = parse_patch(&body(ops), &FilterLimits::default(), 100)?;
        let mut resource = resource;
        let deltas = apply_patch(&mut resource, &ops, schema, delta_attrs)?;
        Ok((resource, deltas))
    }

    /// Applies `ops` to [`user`] and returns the result.
    fn patch_user(ops: Value) -> Value {
        patch_user_from(user(), ops)
    }

    fn patch_user_from(resource: Value, ops: Value) -> Value {
        match run(resource, &user_schema(), &[], ops) {
            Ok((v, deltas)) => {
                assert!(deltas.is_empty());
                v
            }
            Err(e) => panic!("unexpected error: {e}"),
        }
    }

    fn user_err(ops: Value) -> ScimError {
        match run(user(), &user_schema(), &[], ops) {
            Ok((v, _)) => panic!("expected an error, got {v}"),
            Err(e) => e,
        }
    }

    /// Applies `ops` to [`group`]: the resource must come back unchanged; returns the deltas.
    fn patch_group(ops: Value) -> BTreeMap<String, ValueDelta> {
        match run(group(), &group_schema(), &["members"], ops) {
            Ok((v, deltas)) => {
                assert_eq!(v, group(), "members must not be written into the resource");
                deltas
            }
            Err(e) => panic!("unexpected error: {e}"),
        }
    }

    fn group_err(ops: Value) -> ScimError {
        match run(group(), &group_schema(), &["members"], ops) {
            Ok((v, _)) => panic!("expected an error, got {v}"),
            Err(e) => e,
        }
    }

    fn members(remove_all: bool, add: &[&str], remove: &[&str]) -> BTreeMap<String, ValueDelta> {
        let strings = |ids: &[&str]| ids.iter().map(|s| (*s).to_owned()).collect();
        BTreeMap::from([(
            "members".to_owned(),
            ValueDelta {
                remove_all,
                add: strings(add),
                remove: strings(remove),
            },
        )])
    }

    /// [`user`] with `f` applied to it.
    fn user_with(f: impl FnOnce(&mut Value)) -> Value {
        let mut u = user();
        f(&mut u);
        u
    }

    fn parse_err(body: Value) -> ScimError {
        match parse_patch(&body, &FilterLimits::default(), 3) {
            Ok(ops) => panic!("expected an error, got {ops:?}"),
            Err(e) => e,
        }
    }

    // --- 1. parsing; op is case-insensitive -------------------------------------------------

    #[test]
    fn rfc7644_3_5_2_op_is_case_insensitive() {
        let ops = parse_patch(
            &body(json!([
                {"op": "Add", "path": "displayName", "value": "x"},
                {"op": "REPLACE", "path": "title", "value": "y"},
                {"op": "remove", "path": "nickName"}
            ])),
            &FilterLimits::default(),
            10,
        )
        .unwrap();
        let kinds: Vec<_> = ops.iter().map(|o| o.op).collect();
        assert_eq!(kinds, [PatchOpKind::Add, PatchOpKind::Replace, PatchOpKind::Remove]);
        assert_eq!(ops[2].value, None);
        let e = parse_err(body(json!([{"op": "merge", "path": "title", "value": "y"}])));
        assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
        assert!(
            e.detail.starts_with("Operations[0]: unknown op \"merge\""),
            "{}",
            e.detail
        );
    }

    #[test]
    fn parse_keys_case_insensitive_and_schemas_lenient() {
        let body = json!({"Operations": [{"OP": "add", "PATH": "title", "VALUE": "x"}]});
        let ops = parse_patch(&body, &FilterLimits::default(), 1).unwrap();
        assert_eq!(ops[0].value, Some(json!("x")));
        assert_eq!(ops[0].path.as_ref().map(|p| p.attr.attr.as_str()), Some("title"));
        let upper = json!({"schemas": [PATCH_OP.to_uppercase()], "operations": [{"op": "remove", "path": "title"}]});
        assert!(parse_patch(&upper, &FilterLimits::default(), 1).is_ok());
    }

    #[test]
    fn parse_wrong_schemas_is_invalid_syntax() {
        let e = parse_err(json!({"schemas": [CORE_USER], "Operations": [{"op": "remove", "path": "title"}]}));
        assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
    }

    #[test]
    fn parse_operations_must_be_non_empty_array() {
        for b in [
            json!({"schemas": [PATCH_OP]}),
            body(json!([])),
            body(json!({"op": "add"})),
        ] {
            assert_eq!(parse_err(b).scim_type, Some(ScimType::InvalidSyntax));
        }
        assert_eq!(parse_err(json!([1])).scim_type, Some(ScimType::InvalidSyntax));
        assert_eq!(parse_err(body(json!([7]))).scim_type, Some(ScimType::InvalidSyntax));
    }

    #[test]
    fn parse_too_many_operations_is_invalid_value() {
        let op = json!({"op": "remove", "path": "title"});
        let e = parse_err(body(json!([op, op, op, op])));
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        assert_eq!(
            e.detail,
            "the request has 4 operations; at most 3 are accepted per PATCH"
        );
    }

    #[test]
    fn parse_bad_path_is_invalid_path() {
        let e = parse_err(body(json!([{"op": "add", "path": "emails[type eq", "value": "x"}])));
        assert_eq!(e.scim_type, Some(ScimType::InvalidPath));
        assert!(e.detail.starts_with("Operations[0]: invalid path"), "{}", e.detail);
        let e = parse_err(body(json!([{"op": "add", "path": 5, "value": "x"}])));
        assert_eq!(e.scim_type, Some(ScimType::InvalidPath));
        let e = parse_err(body(json!([{"op": "add", "value": {}}, {"path": "title"}])));
        assert!(e.detail.starts_with("Operations[1]:"), "{}", e.detail);
    }

    // --- 2. add ----------------------------------------------------------------------------

    #[test]
    fn rfc7644_3_5_2_1_add_on_single_valued_replaces() {
        let out = patch_user(json!([{"op": "add", "path": "displayName", "value": "Barbara J."}]));
        assert_eq!(out, user_with(|u| u["displayName"] = json!("Barbara J.")));
    }

    #[test]
    fn rfc7644_3_5_2_1_add_appends_to_multi_valued() {
        let out = patch_user(json!([
            {"op": "add", "path": "emails", "value": [{"value": "b@work.example", "type": "other"}]},
            {"op": "add", "path": "phoneNumbers", "value": {"value": "555-1234", "type": "work"}}
        ]));
        let expected = user_with(|u| {
            u["emails"]
                .as_array_mut()
                .unwrap()
                .push(json!({"value": "b@work.example", "type": "other"}));
            u["phoneNumbers"] = json!([{"value": "555-1234", "type": "work"}]);
        });
        assert_eq!(out, expected);
    }

    #[test]
    fn add_skips_duplicate_values_case_insensitively() {
        let out = patch_user(json!([
            {"op": "add", "path": "emails", "value": [{"value": "BABS@jensen.org"}, {"value": "babs@jensen.org"}]}
        ]));
        assert_eq!(out, user());
    }

    #[test]
    fn add_primary_clears_other_primary() {
        let out = patch_user(json!([
            {"op": "add", "path": "emails", "value": [{"value": "new@example.com", "primary": true}]}
        ]));
        let expected = user_with(|u| {
            u["emails"] = json!([
                {"value": "bjensen@example.com", "type": "work"},
                {"value": "babs@jensen.org", "type": "home"},
                {"value": "new@example.com", "primary": true}
            ]);
        });
        assert_eq!(out, expected);
        // A duplicate re-sent as primary keeps its place and becomes the primary one.
        let out = patch_user(json!([
            {"op": "add", "path": "emails", "value": [{"value": "babs@jensen.org", "primary": "True"}]}
        ]));
        assert_eq!(
            out["emails"],
            json!([
                {"value": "bjensen@example.com", "type": "work"},
                {"value": "babs@jensen.org", "type": "home", "primary": true}
            ])
        );
    }

    #[test]
    fn rfc7644_3_5_2_3_replace_multi_valued_replaces_all() {
        let out = patch_user(json!([{"op": "replace", "path": "emails", "value": [{"value": "only@example.com"}]}]));
        assert_eq!(out["emails"], json!([{"value": "only@example.com"}]));
    }

    #[test]
    fn rfc7644_3_5_2_3_replace_complex_path_merges_sub_attributes() {
        let out =
            patch_user(json!([{"op": "replace", "path": "name", "value": {"givenName": "Babs", "middleName": "J"}}]));
        assert_eq!(
            out["name"],
            json!({"givenName": "Babs", "familyName": "Jensen", "middleName": "J"})
        );
        let out = patch_user(json!([{"op": "replace", "path": "name.familyName", "value": "Jensen-Smith"}]));
        assert_eq!(
            out["name"],
            json!({"givenName": "Barbara", "familyName": "Jensen-Smith"})
        );
    }

    // --- 3. pathless add / replace ----------------------------------------------------------

    #[test]
    fn entra_pathless_replace_with_urn_keys() {
        let out = patch_user(json!([{
            "op": "Replace",
            "value": {
                "displayName": "B. Jensen",
                "name.givenName": "Barb",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "42",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Sales",
                "ACTIVE": "False"
            }
        }]));
        let expected = user_with(|u| {
            u["displayName"] = json!("B. Jensen");
            u["name"]["givenName"] = json!("Barb");
            u["active"] = json!(false);
            u[E]["employeeNumber"] = json!("42");
            u[E]["department"] = json!("Sales");
        });
        assert_eq!(out, expected);
    }

    #[test]
    fn pathless_add_with_extension_object_and_schemas_key() {
        let start = user_with(|u| {
            u.as_object_mut().unwrap().remove(E);
            u["schemas"] = json!([CORE_USER]);
        });
        let out = patch_user_from(
            start.clone(),
            json!([{
                "op": "add",
                "value": {"schemas": ["whatever"], E: {"costCenter": "4130", "manager": "m1"}}
            }]),
        );
        let mut expected = start;
        expected["schemas"] = json!([CORE_USER, E]);
        expected[E] = json!({"costCenter": "4130", "manager": {"value": "m1"}});
        assert_eq!(out, expected);
    }

    #[test]
    fn okta_pathless_replace_includes_id() {
        let out = patch_user(json!([{
            "op": "replace",
            "value": {"id": "2819c223", "active": false, "meta": {"resourceType": "Nope"}}
        }]));
        assert_eq!(out, user_with(|u| u["active"] = json!(false)));
    }

    #[test]
    fn okta_pathless_id_mismatch_is_mutability() {
        let e = user_err(json!([{"op": "replace", "value": {"id": "other", "active": false}}]));
        assert_eq!(e.scim_type, Some(ScimType::Mutability));
    }

    #[test]
    fn pathless_replace_merges_complex_and_replaces_multi_valued() {
        let out = patch_user(json!([{
            "op": "replace",
            "value": {"name": {"givenName": "Babs"}, "emails": [{"value": "x@example.com", "type": "work"}]}
        }]));
        let expected = user_with(|u| {
            u["name"]["givenName"] = json!("Babs");
            u["emails"] = json!([{"value": "x@example.com", "type": "work"}]);
        });
        assert_eq!(out, expected);
    }

    #[test]
    fn pathless_add_merges_complex_and_appends_multi_valued() {
        let out = patch_user(json!([{
            "op": "add",
            "value": {"name": {"middleName": "Q"}, "emails": [{"value": "x@example.com"}]}
        }]));
        let expected = user_with(|u| {
            u["name"]["middleName"] = json!("Q");
            u["emails"]
                .as_array_mut()
                .unwrap()
                .push(json!({"value": "x@example.com"}));
        });
        assert_eq!(out, expected);
    }

    #[test]
    fn pathless_ignores_unknown_and_read_only_keys() {
        let out = patch_user(json!([{
            "op": "replace",
            "value": {
                "favouriteColour": "blue",
                "groups": [{"value": "g1"}],
                "urn:example:unknown:1.0:User:x": 1,
                "not a path[": 1,
                "name.nickname": "x",
                "nickName": "B"
            }
        }]));
        assert_eq!(out, user_with(|u| u["nickName"] = json!("B")));
    }

    #[test]
    fn pathless_value_must_be_an_object() {
        let e = user_err(json!([{"op": "replace", "value": "x"}]));
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
    }

    // --- 4. delta attributes (Group members) -----------------------------------------------

    #[test]
    fn entra_remove_members_with_value_array() {
        let deltas = patch_group(json!([
            {"op": "Remove", "path": "members", "value": [{"value": "id1"}, {"value": "id2"}]}
        ]));
        assert_eq!(deltas, members(false, &[], &["id1", "id2"]));
        let deltas = patch_group(json!([{"op": "remove", "path": "members", "value": ["id1", 7]}]));
        assert_eq!(deltas, members(false, &[], &["id1", "7"]));
    }

    #[test]
    fn remove_members_without_value_removes_all() {
        assert_eq!(
            patch_group(json!([{"op": "remove", "path": "members"}])),
            members(true, &[], &[])
        );
    }

    #[test]
    fn okta_remove_member_by_filter() {
        let deltas = patch_group(json!([
            {"op": "remove", "path": "members[value eq \"id1\"]"},
            {"op": "remove", "path": "members[value eq \"id2\" or value eq \"id3\"]"}
        ]));
        assert_eq!(deltas, members(false, &[], &["id1", "id2", "id3"]));
        let e = group_err(json!([{"op": "remove", "path": "members[display eq \"Bob\"]"}]));
        assert_eq!(e.scim_type, Some(ScimType::InvalidPath));
        let e = group_err(json!([{"op": "remove", "path": "members[value eq \"a\" and type eq \"User\"]"}]));
        assert_eq!(e.scim_type, Some(ScimType::InvalidPath));
    }

    #[test]
    fn add_and_replace_members() {
        let deltas = patch_group(json!([
            {"op": "add", "path": "members", "value": [{"value": "id1", "display": "Bob"}, {"value": "id1"}, {"value": 12}]}
        ]));
        assert_eq!(deltas, members(false, &["id1", "12"], &[]));
        let deltas = patch_group(json!([{"op": "replace", "path": "members", "value": [{"value": "id9"}]}]));
        assert_eq!(deltas, members(true, &["id9"], &[]));
        let deltas = patch_group(json!([{"op": "replace", "path": "members", "value": []}]));
        assert_eq!(deltas, members(true, &[], &[]));
    }

    #[test]
    fn pathless_members_and_display_name() {
        let (out, deltas) = run(
            group(),
            &group_schema(),
            &["members"],
            json!([{"op": "add", "value": {"members": [{"value": "id1"}], "displayName": "Ops"}}]),
        )
        .unwrap();
        assert_eq!(out, json!({"schemas": [CORE_GROUP], "id": "g1", "displayName": "Ops"}));
        assert_eq!(deltas, members(false, &["id1"], &[]));
        let deltas = patch_group(json!([{"op": "replace", "value": {"Members": ["id2"]}}]));
        assert_eq!(deltas, members(true, &["id2"], &[]));
    }

    #[test]
    fn delta_composition_in_operation_order() {
        // remove_all, then add y: the set becomes exactly {y}.
        let deltas = patch_group(json!([
            {"op": "remove", "path": "members"},
            {"op": "add", "path": "members", "value": [{"value": "y"}]}
        ]));
        assert_eq!(deltas, members(true, &["y"], &[]));
        // remove x, then add x: x ends up a member.
        let deltas = patch_group(json!([
            {"op": "remove", "path": "members", "value": [{"value": "x"}]},
            {"op": "add", "path": "members", "value": [{"value": "x"}]}
        ]));
        assert_eq!(deltas, members(false, &["x"], &[]));
        // Nothing listed twice.
        let deltas = patch_group(json!([
            {"op": "add", "path": "members", "value": ["a", "b"]},
            {"op": "add", "path": "members", "value": ["b", "a"]},
            {"op": "remove", "path": "members", "value": ["c"]},
            {"op": "remove", "path": "members[value eq \"c\"]"}
        ]));
        assert_eq!(deltas, members(false, &["a", "b"], &["c"]));
    }

    /// Deviation from the brief ("add x then remove x → neither"): x may have been a member
    /// before the request, and RFC 7644 §3.5.2 applies operations in order, so x must end up
    /// not a member. The add is cancelled and the remove is kept.
    #[test]
    fn delta_add_then_remove_keeps_the_remove() {
        let deltas = patch_group(json!([
            {"op": "add", "path": "members", "value": [{"value": "x"}]},
            {"op": "remove", "path": "members", "value": [{"value": "x"}]}
        ]));
        assert_eq!(deltas, members(false, &[], &["x"]));
        // After remove_all there is nothing left to remove: neither list names x.
        let deltas = patch_group(json!([
            {"op": "replace", "path": "members", "value": [{"value": "x"}]},
            {"op": "remove", "path": "members[value eq \"x\"]"}
        ]));
        assert_eq!(deltas, members(true, &[], &[]));
    }

    #[test]
    fn members_without_value_are_invalid_value() {
        for value in [
            json!([{"display": "Bob"}]),
            json!([{"value": ""}]),
            json!([true]),
            json!([""]),
        ] {
            let e = group_err(json!([{"op": "add", "path": "members", "value": value}]));
            assert_eq!(e.scim_type, Some(ScimType::InvalidValue), "{value}");
        }
    }

    #[test]
    fn members_sub_attribute_path_and_add_filter_are_invalid_path() {
        let e = group_err(json!([{"op": "add", "path": "members.value", "value": "x"}]));
        assert_eq!(e.scim_type, Some(ScimType::InvalidPath));
        let e = group_err(json!([{"op": "add", "path": "members[value eq \"x\"]", "value": {"value": "x"}}]));
        assert_eq!(e.scim_type, Some(ScimType::InvalidPath));
    }

    // --- 5. value filter paths -------------------------------------------------------------

    #[test]
    fn filter_path_creates_missing_email() {
        let start = user_with(|u| {
            u.as_object_mut().unwrap().remove("emails");
        });
        let out = patch_user_from(
            start.clone(),
            json!([{"op": "Add", "path": "emails[type eq \"work\"].value", "value": "x@example.com"}]),
        );
        let mut expected = start;
        expected["emails"] = json!([{"type": "work", "value": "x@example.com"}]);
        assert_eq!(out, expected);
    }

    #[test]
    fn filter_path_updates_matching_email() {
        let out = patch_user(json!([
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "new@example.com"}
        ]));
        assert_eq!(out, user_with(|u| u["emails"][0]["value"] = json!("new@example.com")));
    }

    #[test]
    fn filter_path_creates_missing_address_locality() {
        let out = patch_user(json!([
            {"op": "replace", "path": "addresses[type eq \"work\"].locality", "value": "Hollywood"},
            {"op": "replace", "path": "addresses[type eq \"work\"].postalCode", "value": "91608"}
        ]));
        let expected = user_with(|u| {
            u["addresses"] = json!([{"type": "work", "locality": "Hollywood", "postalCode": "91608"}]);
        });
        assert_eq!(out, expected);
    }

    #[test]
    fn filter_path_without_eq_terms_is_no_target() {
        let e = user_err(json!([
            {"op": "replace", "path": "emails[type eq \"pager\" or type eq \"other\"].display", "value": "x"}
        ]));
        assert_eq!(e.scim_type, Some(ScimType::NoTarget));
        let e = user_err(json!([{"op": "replace", "path": "emails[value co \"nobody\"].type", "value": "x"}]));
        assert_eq!(e.scim_type, Some(ScimType::NoTarget));
    }

    #[test]
    fn replace_filter_path_without_sub_merges_and_creates() {
        let out = patch_user(json!([
            {"op": "replace", "path": "emails[type eq \"home\"]", "value": {"value": "home@example.com", "display": "Home"}},
            {"op": "replace", "path": "emails[type eq \"other\"]", "value": {"value": "o@example.com"}}
        ]));
        let expected = user_with(|u| {
            u["emails"] = json!([
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "home@example.com", "type": "home", "display": "Home"},
                {"type": "other", "value": "o@example.com"}
            ]);
        });
        assert_eq!(out, expected);
    }

    #[test]
    fn filter_path_primary_moves() {
        let out = patch_user(json!([{"op": "replace", "path": "emails[type eq \"home\"].primary", "value": true}]));
        assert_eq!(
            out["emails"],
            json!([
                {"value": "bjensen@example.com", "type": "work"},
                {"value": "babs@jensen.org", "type": "home", "primary": true}
            ])
        );
    }

    #[test]
    fn remove_filter_path_removes_matching_elements() {
        let out = patch_user(json!([{"op": "remove", "path": "emails[type eq \"work\"]"}]));
        assert_eq!(out["emails"], json!([{"value": "babs@jensen.org", "type": "home"}]));
        let out = patch_user(json!([{"op": "remove", "path": "emails[type eq \"work\"].primary"}]));
        assert_eq!(
            out["emails"][0],
            json!({"value": "bjensen@example.com", "type": "work"})
        );
        // Without its `value` an email is no email: the element goes.
        let out = patch_user(json!([{"op": "remove", "path": "emails[type eq \"home\"].value"}]));
        assert_eq!(
            out["emails"],
            json!([{"value": "bjensen@example.com", "type": "work", "primary": true}])
        );
    }

    #[test]
    fn remove_filter_path_without_match_is_not_an_error() {
        let out = patch_user(json!([
            {"op": "remove", "path": "emails[type eq \"other\"]"},
            {"op": "remove", "path": "phoneNumbers[type eq \"work\"].value"}
        ]));
        assert_eq!(out, user());
    }

    #[test]
    fn removing_every_element_removes_the_attribute() {
        let out = patch_user(json!([{"op": "remove", "path": "emails[value pr]"}]));
        assert_eq!(
            out,
            user_with(|u| {
                u.as_object_mut().unwrap().remove("emails");
            })
        );
    }

    #[test]
    fn filter_on_single_valued_attribute_is_invalid_path() {
        let e = user_err(json!([{"op": "replace", "path": "name[givenName eq \"x\"]", "value": {}}]));
        assert_eq!(e.scim_type, Some(ScimType::InvalidPath));
    }

    #[test]
    fn multi_valued_sub_without_filter() {
        let e = user_err(json!([{"op": "replace", "path": "emails.value", "value": "x"}]));
        assert_eq!(e.scim_type, Some(ScimType::InvalidPath));
        let out = patch_user(json!([{"op": "remove", "path": "emails.type"}]));
        assert_eq!(
            out["emails"],
            json!([{"value": "bjensen@example.com", "primary": true}, {"value": "babs@jensen.org"}])
        );
    }

    #[test]
    fn clearing_last_address_field_drops_the_labelled_element() {
        let start = user_with(|u| u["addresses"] = json!([{"type": "work", "locality": "Hollywood"}]));
        let out = patch_user_from(
            start,
            json!([{"op": "replace", "path": "addresses[type eq \"work\"].locality", "value": ""}]),
        );
        assert_eq!(out, user());
    }

    #[test]
    fn path_filter_type_mismatch_is_invalid_filter() {
        let e = user_err(json!([{"op": "remove", "path": "emails[primary gt true]"}]));
        assert_eq!(e.scim_type, Some(ScimType::InvalidFilter));
    }

    // --- 6. enterprise manager ------------------------------------------------------------

    fn manager_after(path: &str, value: Value) -> Value {
        let out = patch_user(json!([{"op": "replace", "path": path, "value": value}]));
        out[E].get("manager").cloned().unwrap_or(Value::Null)
    }

    const MANAGER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager";

    #[test]
    fn manager_bare_string() {
        assert_eq!(manager_after(MANAGER, json!("m2")), json!({"value": "m2"}));
        assert_eq!(manager_after("manager", json!("m2")), json!({"value": "m2"}));
    }

    #[test]
    fn manager_value_object_replaces_stale_ref() {
        assert_eq!(manager_after(MANAGER, json!({"value": "m2"})), json!({"value": "m2"}));
        // The same manager again: sub-attributes merge.
        assert_eq!(
            manager_after(MANAGER, json!({"value": "26118915"})),
            json!({"value": "26118915", "$ref": "../Users/26118915"})
        );
    }

    #[test]
    fn manager_array_with_ref() {
        assert_eq!(
            manager_after(MANAGER, json!([{"$ref": "../Users/m2", "value": "m2"}])),
            json!({"$ref": "../Users/m2", "value": "m2"})
        );
    }

    #[test]
    fn manager_value_path() {
        assert_eq!(
            manager_after(&format!("{MANAGER}.value"), json!("m2")),
            json!({"value": "m2"})
        );
        assert_eq!(manager_after("manager.value", json!("m2")), json!({"value": "m2"}));
    }

    #[test]
    fn manager_empty_string_removes() {
        for path in [MANAGER.to_owned(), format!("{MANAGER}.value"), "manager".to_owned()] {
            assert_eq!(manager_after(&path, json!("")), Value::Null, "{path}");
            assert_eq!(manager_after(&path, Value::Null), Value::Null, "{path}");
        }
        assert_eq!(manager_after(MANAGER, json!({"value": ""})), Value::Null);
        assert_eq!(manager_after(MANAGER, json!({"value": null})), Value::Null);
        assert_eq!(manager_after(MANAGER, json!([])), Value::Null);
    }

    #[test]
    fn manager_removed_last_extension_attribute_drops_urn() {
        let out = patch_user(json!([
            {"op": "replace", "path": MANAGER, "value": ""},
            {"op": "remove", "path": format!("{E}:employeeNumber")}
        ]));
        let expected = user_with(|u| {
            u.as_object_mut().unwrap().remove(E);
            u["schemas"] = json!([CORE_USER]);
        });
        assert_eq!(out, expected);
    }

    // --- 7. Entra roles --------------------------------------------------------------------

    #[test]
    fn entra_roles_stringified_json() {
        let out = patch_user(json!([{
            "op": "add",
            "path": "roles",
            "value": ["{\"id\":\"r1\",\"value\":\"Admin\",\"displayName\":\"Admin\",\"primary\":true}", "{\"value\":\"Reader\"}"]
        }]));
        assert_eq!(
            out["roles"],
            json!([{"value": "Admin", "primary": true}, {"value": "Reader"}])
        );
    }

    /// Regression (e2e `patch_rule_7_...`): a mapping that does not store `roles` must accept
    /// and ignore Entra's role operations, while a path naming nothing stays `invalidPath`.
    #[test]
    fn unmapped_standard_attribute_paths_are_ignored() {
        let mut schema = user_schema();
        schema.core.attributes.retain(|a| a.name != "roles");
        let ops = json!([
            {"op": "Add", "path": "roles", "value": ["{\"value\":\"Admin\",\"primary\":true}"]},
            {"op": "Replace", "path": "roles[primary eq \"True\"].value", "value": "Owner"},
            {"op": "remove", "path": "roles"},
            {"op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User:roles.value", "value": "x"}
        ]);
        let (out, deltas) = run(user(), &schema, &[], ops).unwrap();
        assert_eq!(out, user());
        assert!(deltas.is_empty());
        for path in ["rolez", "roles.nope", "urn:example:custom:roles"] {
            let e = run(user(), &schema, &[], json!([{"op": "add", "path": path, "value": "x"}])).unwrap_err();
            assert_eq!(e.scim_type, Some(ScimType::InvalidPath), "{path}");
        }
        // The enterprise extension is not one of a Group's schemas.
        let e = run(
            group(),
            &group_schema(),
            &[],
            json!([{"op": "add", "path": format!("{E}:department"), "value": "x"}]),
        )
        .unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidPath));
    }

    #[test]
    fn entra_roles_primary_true_filter_path() {
        let start = user_with(|u| u["roles"] = json!([{"value": "Reader"}, {"value": "Admin", "primary": true}]));
        let out = patch_user_from(
            start.clone(),
            json!([{"op": "replace", "path": "roles[primary eq \"True\"].value", "value": "Owner"}]),
        );
        assert_eq!(
            out["roles"],
            json!([{"value": "Reader"}, {"value": "Owner", "primary": true}])
        );
        // No primary role yet: one is created, with `primary` as a boolean.
        let out = patch_user(json!([{"op": "Add", "path": "roles[primary eq \"True\"].value", "value": "Owner"}]));
        assert_eq!(out["roles"], json!([{"primary": true, "value": "Owner"}]));
    }

    // --- 8. clearing ----------------------------------------------------------------------

    #[test]
    fn replace_with_empty_string_or_null_clears() {
        let expected = user_with(|u| {
            u.as_object_mut().unwrap().remove("displayName");
        });
        assert_eq!(
            patch_user(json!([{"op": "replace", "path": "displayName", "value": ""}])),
            expected
        );
        assert_eq!(
            patch_user(json!([{"op": "replace", "path": "displayName", "value": null}])),
            expected
        );
        assert_eq!(
            patch_user(json!([{"op": "replace", "value": {"displayName": ""}}])),
            expected
        );
        assert_eq!(patch_user(json!([{"op": "remove", "path": "DISPLAYNAME"}])), expected);
    }

    #[test]
    fn clearing_sub_attribute_removes_it_and_then_the_empty_parent() {
        let out = patch_user(json!([{"op": "replace", "path": "name.givenName", "value": ""}]));
        assert_eq!(out["name"], json!({"familyName": "Jensen"}));
        let out = patch_user(json!([{"op": "replace", "value": {"name": {"givenName": null, "middleName": "Q"}}}]));
        assert_eq!(out["name"], json!({"familyName": "Jensen", "middleName": "Q"}));
        let out = patch_user(json!([
            {"op": "remove", "path": "name.givenName"},
            {"op": "remove", "path": "name.familyName"}
        ]));
        assert_eq!(out.get("name"), None);
    }

    #[test]
    fn remove_absent_attribute_is_not_an_error() {
        assert_eq!(patch_user(json!([{"op": "remove", "path": "nickName"}])), user());
    }

    #[test]
    fn remove_named_values_of_multi_valued_attribute() {
        let out = patch_user(json!([{"op": "remove", "path": "emails", "value": [{"value": "BABS@jensen.org"}]}]));
        assert_eq!(
            out["emails"],
            json!([{"value": "bjensen@example.com", "type": "work", "primary": true}])
        );
    }

    // --- 9. errors ------------------------------------------------------------------------

    #[test]
    fn unknown_path_is_invalid_path() {
        let e = user_err(json!([{"op": "replace", "path": "foo", "value": "x"}]));
        assert_eq!(e.scim_type, Some(ScimType::InvalidPath));
        assert_eq!(e.detail, "path 'foo' does not name an attribute of this resource");
        let e = user_err(json!([{"op": "remove", "path": "name.nickname"}]));
        assert_eq!(
            e.detail,
            "path 'name.nickname' does not name an attribute of this resource"
        );
        let e = user_err(json!([{"op": "add", "path": "urn:example:ext:User:x", "value": "x"}]));
        assert_eq!(e.scim_type, Some(ScimType::InvalidPath));
    }

    #[test]
    fn readonly_path_is_mutability_error() {
        for (op, path) in [
            ("replace", "id"),
            ("replace", "meta"),
            ("add", "groups"),
            ("remove", "meta.lastModified"),
            (
                "replace",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName",
            ),
        ] {
            let e = user_err(json!([{"op": op, "path": path, "value": "x"}]));
            assert_eq!(e.scim_type, Some(ScimType::Mutability), "{path}");
        }
    }

    fn schema_with_immutable() -> ResourceSchema {
        let mut schema = user_schema();
        let mut badge = schema.core.attribute("nickName").cloned().unwrap();
        badge.name = "badge".into();
        badge.mutability = Mutability::Immutable;
        schema.core.attributes.push(badge);
        schema
    }

    #[test]
    fn immutable_change_is_mutability_error() {
        let schema = schema_with_immutable();
        let start = user_with(|u| u["badge"] = json!("B-1"));
        for ops in [
            json!([{"op": "replace", "path": "badge", "value": "B-2"}]),
            json!([{"op": "remove", "path": "badge"}]),
            json!([{"op": "replace", "value": {"badge": "B-2"}}]),
        ] {
            let e = run(start.clone(), &schema, &[], ops.clone()).unwrap_err();
            assert_eq!(e.scim_type, Some(ScimType::Mutability), "{ops}");
        }
        // The same value again is no change.
        let (out, _) = run(
            start.clone(),
            &schema,
            &[],
            json!([{"op": "replace", "path": "badge", "value": "B-1"}]),
        )
        .unwrap();
        assert_eq!(out, start);
    }

    #[test]
    fn immutable_may_be_set_when_absent() {
        let (out, _) = run(
            user(),
            &schema_with_immutable(),
            &[],
            json!([{"op": "add", "path": "badge", "value": "B-1"}]),
        )
        .unwrap();
        assert_eq!(out, user_with(|u| u["badge"] = json!("B-1")));
    }

    #[test]
    fn remove_without_path_is_no_target() {
        let e = user_err(json!([{"op": "remove", "value": {"displayName": "x"}}]));
        assert_eq!(e.scim_type, Some(ScimType::NoTarget));
    }

    #[test]
    fn add_or_replace_without_value_is_invalid_value() {
        for op in ["add", "replace"] {
            let e = user_err(json!([{"op": op, "path": "displayName"}]));
            assert_eq!(e.scim_type, Some(ScimType::InvalidValue), "{op}");
        }
    }

    #[test]
    fn wrong_type_is_invalid_value() {
        let e = user_err(json!([{"op": "replace", "path": "active", "value": "yes"}]));
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        assert_eq!(e.detail, "\"active\" must be a boolean");
        let e = user_err(json!([{"op": "replace", "value": {"userName": 5}}]));
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        let e = user_err(json!([{"op": "replace", "path": "emails[type eq \"work\"].primary", "value": "often"}]));
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
    }

    // --- 10. schemas consistency ------------------------------------------------------------

    #[test]
    fn schemas_gains_extension_urn_on_first_attribute() {
        let start = json!({"schemas": [CORE_USER], "id": "1", "userName": "u"});
        let out = patch_user_from(
            start,
            json!([{"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:division", "value": "R&D"}]),
        );
        assert_eq!(
            out,
            json!({"schemas": [CORE_USER, E], "id": "1", "userName": "u", E: {"division": "R&D"}})
        );
    }

    #[test]
    fn schemas_loses_extension_urn_when_emptied() {
        let out = patch_user(json!([{"op": "remove", "path": E}]));
        assert_eq!(out["schemas"], json!([CORE_USER]));
        assert_eq!(out.get(E), None);
        let start = json!({"schemas": [CORE_USER], "id": "1", "userName": "u"});
        // Removing from an absent extension leaves no empty object behind.
        let out = patch_user_from(
            start.clone(),
            json!([{"op": "remove", "path": format!("{E}:division")}]),
        );
        assert_eq!(out, start);
    }

    #[test]
    fn extension_urn_as_path_takes_an_object_of_its_attributes() {
        let out = patch_user(json!([{"op": "replace", "path": E, "value": {"department": "Ops", "bogus": 1}}]));
        assert_eq!(out, user_with(|u| u[E]["department"] = json!("Ops")));
    }

    // --- 11. required attributes are the engine's business -----------------------------------

    #[test]
    fn required_attributes_are_not_checked() {
        let out = patch_user(json!([{"op": "remove", "path": "userName"}]));
        assert_eq!(out.get("userName"), None);
    }

    // --- the AttrTypes adapter ---------------------------------------------------------------

    #[test]
    fn resource_schema_attr_types() {
        let schema = user_schema();
        let info = schema.info(None, "emails", Some("PRIMARY")).unwrap();
        assert_eq!(
            (info.kind, info.case_exact, info.multi_valued),
            (ValueKind::Boolean, false, false)
        );
        let info = schema.info(None, "emails", None).unwrap();
        assert_eq!((info.kind, info.multi_valued), (ValueKind::Complex, true));
        let info = schema.info(Some(CORE_USER), "id", None).unwrap();
        assert!(info.case_exact);
        assert_eq!(
            schema.info(Some(E), "manager", Some("value")).map(|i| i.kind),
            Some(ValueKind::String)
        );
        assert!(schema.info(None, "nope", None).is_none());
    }

    #[test]
    fn case_exact_sub_attribute_filter() {
        // x509Certificates.value is not caseExact in the catalogue; externalId is, but is not
        // multi-valued. Use a schema where `type` of emails is caseExact.
        let mut schema = user_schema();
        let emails = schema.core.attributes.iter_mut().find(|a| a.name == "emails").unwrap();
        emails
            .sub_attributes
            .iter_mut()
            .find(|s| s.name == "type")
            .unwrap()
            .case_exact = true;
        let ops = json!([{"op": "remove", "path": "emails[type eq \"WORK\"]"}]);
        let (out, _) = run(user(), &schema, &[], ops.clone()).unwrap();
        assert_eq!(out, user());
        let (out, _) = run(user(), &user_schema(), &[], ops).unwrap();
        assert_eq!(out["emails"], json!([{"value": "babs@jensen.org", "type": "home"}]));
    }
}
