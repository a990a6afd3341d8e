//! SCIM filter → backend filter tree.
//!
//! Attribute paths resolve through the mapping, literals go through the same converters as
//! writes, and what cannot be pushed down is either a `400 invalidFilter` naming the
//! attribute and operator, or (when the mapping sets `scan_limit`) replaced by a superset
//! and re-checked in memory.

use serde_json::Value as Json;

use super::convert::{Conversion, Literal, iso};
use super::model::*;
use super::record::predicate_holds;
use crate::connector::{CompareOp, FieldRef, Filter, SortKey, Value};
use crate::scim::ScimError;
use crate::scim::filter::{AttrPath, CompareOp as ScimOp, Filter as ScimFilter};
use crate::scim::schema::{AttrType, AttributeDef};

/// A translated filter. When `exact` is false, `filter` selects a superset and the caller
/// must re-check every candidate against the SCIM filter.
#[derive(Debug, Clone, PartialEq)]
pub struct Translated {
    pub filter: Filter,
    pub exact: bool,
}

pub fn op(o: ScimOp) -> CompareOp {
    match o {
        ScimOp::Eq => CompareOp::Eq,
        ScimOp::Ne => CompareOp::Ne,
        ScimOp::Co => CompareOp::Contains,
        ScimOp::Sw => CompareOp::StartsWith,
        ScimOp::Ew => CompareOp::EndsWith,
        ScimOp::Gt => CompareOp::Gt,
        ScimOp::Ge => CompareOp::Ge,
        ScimOp::Lt => CompareOp::Lt,
        ScimOp::Le => CompareOp::Le,
    }
}

/// Translates a parsed SCIM filter for one resource type.
pub fn translate(f: &ScimFilter, rt: &ResourceType) -> Result<Translated, ScimError> {
    let mut t = Translator { rt, exact: true };
    let filter = t.node(f, true)?;
    Ok(Translated { filter, exact: t.exact })
}

struct Translator<'a> {
    rt: &'a ResourceType,
    exact: bool,
}

/// A term the backend cannot evaluate.
struct Unpushable(String);

impl Translator<'_> {
    fn node(&mut self, f: &ScimFilter, positive: bool) -> Result<Filter, ScimError> {
        let result = match f {
            ScimFilter::And(items) => Ok(Filter::and(
                items.iter().map(|i| self.node(i, positive)).collect::<Result<_, _>>()?,
            )),
            ScimFilter::Or(items) => Ok(Filter::or(
                items.iter().map(|i| self.node(i, positive)).collect::<Result<_, _>>()?,
            )),
            ScimFilter::Not(inner) => Ok(Filter::negate(self.node(inner, !positive)?)),
            ScimFilter::Compare { path, op: o, value } => self.compare(path, *o, value),
            ScimFilter::Present(path) => self.present(path),
            ScimFilter::ValuePath { path, filter } => self.value_path(path, filter),
        };
        match result {
            Ok(f) => Ok(f),
            Err(Unpushable(why)) => match self.rt.scan_limit {
                // A superset: `true` where the term counts positively, `false` under a `not`.
                Some(_) => {
                    self.exact = false;
                    Ok(if positive { Filter::True } else { Filter::False })
                }
                None => Err(ScimError::invalid_filter(format!(
                    "{why}; set scan_limit on [{}] to evaluate such terms in memory",
                    self.rt.name
                ))),
            },
        }
    }

    fn core_urn<'p>(&self, path: &'p AttrPath) -> Option<&'p str> {
        path.urn
            .as_deref()
            .filter(|u| !u.eq_ignore_ascii_case(&self.rt.schema.core.id))
    }

    fn compare(&mut self, path: &AttrPath, o: ScimOp, value: &Json) -> Result<Filter, Unpushable> {
        let urn = self.core_urn(path);
        if let Some(f) = self.common_attribute(urn, path, o, value)? {
            return Ok(f);
        }
        let Some(resolved) = self.rt.schema.resolve(urn, &path.attr, None) else {
            return self.unknown(path, o);
        };
        let attr_def = resolved.attr.clone();
        let sub = match (&path.sub, attr_def.kind) {
            (Some(s), _) => Some(s.clone()),
            // RFC 7644 §3.4.2.2: a filter on a multi-valued complex attribute means its `value`.
            (None, AttrType::Complex) if attr_def.sub("value").is_some() => Some("value".into()),
            (None, AttrType::Complex) => {
                return Err(Unpushable(format!(
                    "`{path}` is complex; filter on one of its sub-attributes"
                )));
            }
            (None, _) => None,
        };
        let urn_owned = resolved.extension.map(|e| e.id.clone());
        let mut terms = Vec::new();
        let mappings: Vec<&AttrMapping> = self
            .rt
            .mappings_of(urn_owned.as_deref(), &attr_def.name)
            .filter(|m| m.readable())
            .collect();
        for m in mappings {
            if let Some(t) = self.compare_mapping(m, sub.as_deref(), o, value)? {
                terms.push(t);
            }
        }
        if terms.is_empty() {
            // The attribute is known but this part of it is not stored: nothing can match.
            return self.unknown(path, o);
        }
        Ok(Filter::or(terms))
    }

    /// `id`, `externalId` when ignored, and `meta.*`.
    fn common_attribute(
        &mut self,
        urn: Option<&str>,
        path: &AttrPath,
        o: ScimOp,
        value: &Json,
    ) -> Result<Option<Filter>, Unpushable> {
        if urn.is_some() {
            return Ok(None);
        }
        let attr = path.attr.to_ascii_lowercase();
        if attr == "id" && path.sub.is_none() {
            let Some(text) = scalar_text(value) else {
                return Ok(Some(Filter::False));
            };
            return Ok(Some(Filter::Compare {
                field: FieldRef::Id,
                op: op(o),
                value: Value::Text(text),
                ignore_case: false,
            }));
        }
        if attr == "meta" {
            let sub = path.sub.as_deref().unwrap_or_default().to_ascii_lowercase();
            let field = match sub.as_str() {
                "created" if self.rt.meta.has_created => FieldRef::Created,
                "lastmodified" if self.rt.meta.has_modified => FieldRef::Modified,
                "resourcetype" if o == ScimOp::Eq => {
                    let same = value.as_str().is_some_and(|v| v.eq_ignore_ascii_case(&self.rt.name));
                    return Ok(Some(if same { Filter::True } else { Filter::False }));
                }
                _ => {
                    return Err(Unpushable(format!(
                        "filtering on `{path}` with `{}` is not supported by this mapping",
                        o.as_str()
                    )));
                }
            };
            if matches!(o, ScimOp::Co | ScimOp::Sw | ScimOp::Ew) {
                return Err(Unpushable(format!(
                    "`{}` is not defined for the dateTime `{path}`",
                    o.as_str()
                )));
            }
            let Some(dt) = value
                .as_str()
                .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            else {
                return Ok(Some(Filter::False));
            };
            let literal = Value::Text(iso(&dt.with_timezone(&chrono::Utc)));
            return Ok(Some(Filter::Compare {
                field,
                op: op(o),
                value: literal,
                ignore_case: false,
            }));
        }
        if self.rt.is_ignored(None, &path.attr) {
            return Ok(Some(self.ignored_term(path, o)?));
        }
        Ok(None)
    }

    fn ignored_term(&self, path: &AttrPath, o: ScimOp) -> Result<Filter, Unpushable> {
        match o {
            ScimOp::Eq => Ok(Filter::False),
            ScimOp::Ne => Ok(Filter::True),
            _ => Err(Unpushable(format!(
                "`{path}` is not stored by this mapping; only `eq` and `ne` are answered"
            ))),
        }
    }

    /// An attribute the mapping does not know. Entra probes with `eq` on attributes nobody
    /// maps (`PLACEHOLDER eq "<guid>"`), and expects an empty list.
    fn unknown(&self, path: &AttrPath, o: ScimOp) -> Result<Filter, Unpushable> {
        if self.rt.is_ignored(self.core_urn(path), &path.attr) {
            return self.ignored_term(path, o);
        }
        match o {
            ScimOp::Eq => Ok(Filter::False),
            _ => Err(Unpushable(format!(
                "`{path}` is not an attribute this endpoint maps (operator `{}`)",
                o.as_str()
            ))),
        }
    }

    fn compare_mapping(
        &mut self,
        m: &AttrMapping,
        sub: Option<&str>,
        o: ScimOp,
        value: &Json,
    ) -> Result<Option<Filter>, Unpushable> {
        let sub_matches = |s: Option<&String>| match (s, sub) {
            (None, None) => true,
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            _ => false,
        };
        let describe = || format!("`{}` with `{}`", m.path, o.as_str());
        Ok(match &m.target {
            Target::Field { field, conv } if sub_matches(m.path.sub.as_ref()) => Some(
                field_compare(FieldRef::Field(field.clone()), conv, &m.leaf_def, o, value)
                    .map_err(|_| Unpushable(format!("{} cannot be pushed through its converter", describe())))?,
            ),
            Target::Typed { field, conv, .. } if sub_matches(m.path.sub.as_ref()) => Some(
                field_compare(FieldRef::Field(field.clone()), conv, &m.leaf_def, o, value)
                    .map_err(|_| Unpushable(format!("{} cannot be pushed through its converter", describe())))?,
            ),
            // An element of this type exists only where its column holds a value.
            Target::Typed { type_value, field, .. } if sub.is_some_and(|s| s.eq_ignore_ascii_case("type")) => {
                Some(Filter::and(vec![
                    constant_compare(&Json::String(type_value.clone()), o, value, false),
                    Filter::Present(FieldRef::Field(field.clone())),
                ]))
            }
            Target::Reference { field, conv, .. } if sub.is_some_and(|s| s.eq_ignore_ascii_case("value")) => Some(
                field_compare(FieldRef::Field(field.clone()), conv, &m.leaf_def, o, value)
                    .map_err(|_| Unpushable(describe()))?,
            ),
            Target::Predicate { .. } if sub.is_none() => Some(self.predicate_compare(m, o, value)?),
            Target::Constant(c) if sub.is_none() => Some(constant_compare(c, o, value, m.leaf_def.case_exact)),
            Target::Child { child, subs } => {
                let Some(col) = subs
                    .iter()
                    .find(|c| sub.is_some_and(|s| s.eq_ignore_ascii_case(&c.sub)))
                else {
                    return Ok(None);
                };
                let inner = field_compare(FieldRef::Field(col.column.clone()), &col.conv, &col.def, o, value)
                    .map_err(|_| Unpushable(describe()))?;
                Some(child_term(child, inner, o))
            }
            Target::Relation { relation, .. } if sub.is_some_and(|s| s.eq_ignore_ascii_case("value")) => {
                let Some(id) = scalar_text(value) else {
                    return Ok(Some(Filter::False));
                };
                let related = Filter::Related {
                    relation: relation.clone(),
                    ids: Some(vec![id]),
                };
                match o {
                    ScimOp::Eq => Some(related),
                    ScimOp::Ne => Some(Filter::negate(related)),
                    _ => return Err(Unpushable(format!("{} is not supported on membership", describe()))),
                }
            }
            Target::Relation { target, .. } if sub.is_some_and(|s| s.eq_ignore_ascii_case("type")) => {
                Some(constant_compare(&Json::String(target.clone()), o, value, false))
            }
            _ => None,
        })
    }

    fn predicate_compare(&self, m: &AttrMapping, o: ScimOp, value: &Json) -> Result<Filter, Unpushable> {
        let Target::Predicate {
            field,
            predicate,
            holds_means,
            ..
        } = &m.target
        else {
            return Ok(Filter::False);
        };
        let wanted = match value {
            Json::Bool(b) => *b,
            Json::String(s) if s.eq_ignore_ascii_case("true") => true,
            Json::String(s) if s.eq_ignore_ascii_case("false") => false,
            _ => return Ok(Filter::False),
        };
        let holds = predicate_filter(field, predicate);
        let positive = if wanted == *holds_means {
            holds
        } else {
            Filter::negate(holds)
        };
        match o {
            ScimOp::Eq => Ok(positive),
            ScimOp::Ne => Ok(Filter::negate(positive)),
            _ => Err(Unpushable(format!(
                "`{}` is a boolean; only `eq`, `ne` and `pr` apply",
                m.path
            ))),
        }
    }

    fn present(&mut self, path: &AttrPath) -> Result<Filter, Unpushable> {
        let urn = self.core_urn(path);
        if urn.is_none() && path.attr.eq_ignore_ascii_case("id") {
            return Ok(Filter::True);
        }
        if urn.is_none() && path.attr.eq_ignore_ascii_case("meta") {
            return Ok(Filter::True);
        }
        let Some(resolved) = self.rt.schema.resolve(urn, &path.attr, None) else {
            return Ok(Filter::False);
        };
        let urn_owned = resolved.extension.map(|e| e.id.clone());
        let name = resolved.attr.name.clone();
        let sub = path.sub.as_deref();
        let mut terms = Vec::new();
        for m in self
            .rt
            .mappings_of(urn_owned.as_deref(), &name)
            .filter(|m| m.readable())
        {
            let sub_ok = sub.is_none()
                || m.path
                    .sub
                    .as_deref()
                    .is_some_and(|s| sub.is_some_and(|x| x.eq_ignore_ascii_case(s)));
            let t = match &m.target {
                Target::Field { field, .. } | Target::Typed { field, .. } | Target::Reference { field, .. }
                    if sub_ok =>
                {
                    Filter::Present(FieldRef::Field(field.clone()))
                }
                Target::Predicate { .. } | Target::Constant(_) => Filter::True,
                Target::Child { child, subs } => {
                    let inner = match sub {
                        None => Filter::True,
                        Some(s) => match subs.iter().find(|c| c.sub.eq_ignore_ascii_case(s)) {
                            Some(c) => Filter::Present(FieldRef::Field(c.column.clone())),
                            None => continue,
                        },
                    };
                    Filter::Child {
                        child: child.clone(),
                        filter: Box::new(inner),
                    }
                }
                Target::Relation { relation, .. } => Filter::Related {
                    relation: relation.clone(),
                    ids: None,
                },
                _ => continue,
            };
            terms.push(t);
        }
        Ok(Filter::or(terms))
    }

    /// `emails[type eq "work" and value co "@example.com"]`.
    fn value_path(&mut self, path: &AttrPath, inner: &ScimFilter) -> Result<Filter, Unpushable> {
        let urn = self.core_urn(path);
        let Some(resolved) = self.rt.schema.resolve(urn, &path.attr, None) else {
            return Ok(Filter::False);
        };
        let urn_owned = resolved.extension.map(|e| e.id.clone());
        let name = resolved.attr.name.clone();
        let mappings: Vec<AttrMapping> = self
            .rt
            .mappings_of(urn_owned.as_deref(), &name)
            .filter(|m| m.readable())
            .cloned()
            .collect();
        let mut terms = Vec::new();
        // Child tables evaluate the whole inner filter on one row.
        for m in &mappings {
            if let Target::Child { child, subs } = &m.target {
                let scope = ElementScope::Columns(subs);
                let f = self.element_filter(inner, &scope, &m.path)?;
                terms.push(Filter::Child {
                    child: child.clone(),
                    filter: Box::new(f),
                });
            }
            if let Target::Relation { relation, target } = &m.target {
                let scope = ElementScope::Relation { relation, target };
                terms.push(self.element_filter(inner, &scope, &m.path)?);
            }
        }
        // Per-type fields: one element kind per type; `type` is a constant there.
        let typed: Vec<&AttrMapping> = mappings
            .iter()
            .filter(|m| matches!(m.target, Target::Typed { .. } | Target::Field { .. }))
            .collect();
        let mut type_values: Vec<Option<String>> = typed
            .iter()
            .map(|m| match &m.target {
                Target::Typed { type_value, .. } => Some(type_value.clone()),
                _ => None,
            })
            .collect();
        let mut seen = Vec::new();
        type_values.retain(|t| {
            let fresh = !seen.contains(t);
            seen.push(t.clone());
            fresh
        });
        for tv in type_values {
            let members: Vec<&AttrMapping> = typed
                .iter()
                .copied()
                .filter(|m| match &m.target {
                    Target::Typed { type_value, .. } => Some(type_value) == tv.as_ref(),
                    _ => tv.is_none(),
                })
                .collect();
            let scope = ElementScope::Fields {
                type_value: tv.as_deref(),
                mappings: &members,
            };
            let path = members.first().map(|m| m.path.clone());
            if let Some(p) = path {
                // The element exists only where one of its columns holds a value.
                let exists = Filter::or(
                    members
                        .iter()
                        .filter_map(|m| match &m.target {
                            Target::Typed { field, .. } | Target::Field { field, .. } => {
                                Some(Filter::Present(FieldRef::Field(field.clone())))
                            }
                            _ => None,
                        })
                        .collect(),
                );
                let element = self.element_filter(inner, &scope, &p)?;
                terms.push(if constrains(&element) {
                    element
                } else {
                    Filter::and(vec![element, exists])
                });
            }
        }
        Ok(Filter::or(terms))
    }

    fn element_filter(
        &mut self,
        f: &ScimFilter,
        scope: &ElementScope<'_>,
        attr: &ScimPath,
    ) -> Result<Filter, Unpushable> {
        match f {
            ScimFilter::And(items) => Ok(Filter::and(
                items
                    .iter()
                    .map(|i| self.element_filter(i, scope, attr))
                    .collect::<Result<_, _>>()?,
            )),
            ScimFilter::Or(items) => Ok(Filter::or(
                items
                    .iter()
                    .map(|i| self.element_filter(i, scope, attr))
                    .collect::<Result<_, _>>()?,
            )),
            ScimFilter::Not(inner) => Ok(Filter::negate(self.element_filter(inner, scope, attr)?)),
            ScimFilter::ValuePath { .. } => Err(Unpushable("value paths cannot nest".into())),
            ScimFilter::Present(p) => Ok(match scope.resolve(&p.attr) {
                Some(ElementTarget::Field(field, _, _)) => Filter::Present(FieldRef::Field(field)),
                Some(ElementTarget::Constant(_)) => Filter::True,
                Some(ElementTarget::RelationValue(relation)) => Filter::Related { relation, ids: None },
                None => Filter::False,
            }),
            ScimFilter::Compare { path, op: o, value } => match scope.resolve(&path.attr) {
                Some(ElementTarget::Field(field, conv, def)) => {
                    field_compare(FieldRef::Field(field), &conv, &def, *o, value).map_err(|_| {
                        Unpushable(format!(
                            "`{}.{}` with `{}` cannot be pushed through its converter",
                            attr.attr,
                            path.attr,
                            o.as_str()
                        ))
                    })
                }
                Some(ElementTarget::Constant(c)) => Ok(constant_compare(&c, *o, value, false)),
                Some(ElementTarget::RelationValue(relation)) => {
                    let Some(id) = scalar_text(value) else {
                        return Ok(Filter::False);
                    };
                    let rel = Filter::Related {
                        relation,
                        ids: Some(vec![id]),
                    };
                    match o {
                        ScimOp::Eq => Ok(rel),
                        ScimOp::Ne => Ok(Filter::negate(rel)),
                        _ => Err(Unpushable(format!(
                            "`{}.value` with `{}` is not supported on membership",
                            attr.attr,
                            o.as_str()
                        ))),
                    }
                }
                None if *o == ScimOp::Eq => Ok(Filter::False),
                None => Err(Unpushable(format!("`{}.{}` is not mapped", attr.attr, path.attr))),
            },
        }
    }
}

enum ElementScope<'a> {
    Columns(&'a [ChildColumn]),
    Fields {
        type_value: Option<&'a str>,
        mappings: &'a [&'a AttrMapping],
    },
    Relation {
        relation: &'a str,
        target: &'a str,
    },
}

enum ElementTarget {
    Field(String, Conversion, AttributeDef),
    Constant(Json),
    RelationValue(String),
}

impl ElementScope<'_> {
    fn resolve(&self, sub: &str) -> Option<ElementTarget> {
        match self {
            ElementScope::Columns(cols) => cols
                .iter()
                .find(|c| c.sub.eq_ignore_ascii_case(sub))
                .map(|c| ElementTarget::Field(c.column.clone(), c.conv.clone(), c.def.clone())),
            ElementScope::Fields { type_value, mappings } => {
                if sub.eq_ignore_ascii_case("type") {
                    return type_value.map(|t| ElementTarget::Constant(Json::String(t.to_owned())));
                }
                mappings.iter().find_map(|m| match &m.target {
                    Target::Typed { field, conv, .. } | Target::Field { field, conv }
                        if m.path.sub.as_deref().unwrap_or("value").eq_ignore_ascii_case(sub) =>
                    {
                        Some(ElementTarget::Field(field.clone(), conv.clone(), m.leaf_def.clone()))
                    }
                    _ => None,
                })
            }
            ElementScope::Relation { relation, target } => {
                if sub.eq_ignore_ascii_case("value") {
                    Some(ElementTarget::RelationValue((*relation).to_owned()))
                } else if sub.eq_ignore_ascii_case("type") {
                    Some(ElementTarget::Constant(Json::String((*target).to_owned())))
                } else {
                    None
                }
            }
        }
    }
}

/// Whether a filter can only hold where some field it names has a value, so an element's
/// existence needs no separate presence test.
fn constrains(f: &Filter) -> bool {
    match f {
        Filter::Compare { op, .. } => *op != CompareOp::Ne,
        Filter::Present(_) | Filter::False | Filter::Bits { .. } => true,
        Filter::And(items) => items.iter().any(constrains),
        Filter::Or(items) => items.iter().all(constrains),
        Filter::True | Filter::Not(_) | Filter::Child { .. } | Filter::Related { .. } => false,
    }
}

/// `ne` on a child means "no row equals", not "some row differs".
fn child_term(child: &str, inner: Filter, o: ScimOp) -> Filter {
    match (o, inner) {
        (
            ScimOp::Ne,
            Filter::Compare {
                field,
                value,
                ignore_case,
                ..
            },
        ) => Filter::negate(Filter::Child {
            child: child.to_owned(),
            filter: Box::new(Filter::Compare {
                field,
                op: CompareOp::Eq,
                value,
                ignore_case,
            }),
        }),
        (_, inner) => Filter::Child {
            child: child.to_owned(),
            filter: Box::new(inner),
        },
    }
}

/// One comparison through a converter. `Err` when the operator does not survive it.
fn field_compare(
    field: FieldRef,
    conv: &Conversion,
    def: &AttributeDef,
    o: ScimOp,
    value: &Json,
) -> Result<Filter, ()> {
    if value.is_null() {
        // `attr eq null` asks for absence (RFC 7644 §3.4.2.2 treats null as unassigned).
        return Ok(match o {
            ScimOp::Eq => Filter::negate(Filter::Present(field)),
            ScimOp::Ne => Filter::Present(field),
            _ => Filter::False,
        });
    }
    let literal_json = match (def.kind, value) {
        // Clients send booleans as strings too ("True").
        (AttrType::Boolean, Json::String(s)) if s.eq_ignore_ascii_case("true") => Json::Bool(true),
        (AttrType::Boolean, Json::String(s)) if s.eq_ignore_ascii_case("false") => Json::Bool(false),
        (AttrType::DateTime, Json::String(s)) => match chrono::DateTime::parse_from_rfc3339(s) {
            Ok(dt) => Json::String(iso(&dt.with_timezone(&chrono::Utc))),
            Err(_) => return Ok(if o == ScimOp::Ne { Filter::True } else { Filter::False }),
        },
        _ => value.clone(),
    };
    let backend_op = op(o);
    match conv.literal(backend_op, &literal_json) {
        Literal::Value(v) => Ok(Filter::Compare {
            field,
            op: backend_op,
            ignore_case: def.kind == AttrType::String && !def.case_exact && matches!(v, Value::Text(_)),
            value: v,
        }),
        Literal::Impossible => Ok(match o {
            ScimOp::Ne => Filter::True,
            _ => Filter::False,
        }),
        Literal::Unsupported => Err(()),
    }
}

fn constant_compare(c: &Json, o: ScimOp, value: &Json, case_exact: bool) -> Filter {
    let (Some(a), Some(b)) = (scalar_text(c), scalar_text(value)) else {
        return Filter::False;
    };
    let (a, b) = if case_exact {
        (a, b)
    } else {
        (a.to_lowercase(), b.to_lowercase())
    };
    let holds = match o {
        ScimOp::Eq => a == b,
        ScimOp::Ne => a != b,
        ScimOp::Co => a.contains(&b),
        ScimOp::Sw => a.starts_with(&b),
        ScimOp::Ew => a.ends_with(&b),
        ScimOp::Gt => a > b,
        ScimOp::Ge => a >= b,
        ScimOp::Lt => a < b,
        ScimOp::Le => a <= b,
    };
    if holds { Filter::True } else { Filter::False }
}

/// The filter that holds exactly when a boolean's predicate holds.
pub fn predicate_filter(field: &str, p: &FieldPredicate) -> Filter {
    let f = || FieldRef::Field(field.to_owned());
    let eq = |v: &Value| Filter::Compare {
        field: f(),
        op: CompareOp::Eq,
        value: v.clone(),
        ignore_case: matches!(v, Value::Text(_)),
    };
    match p {
        FieldPredicate::Eq(v) => eq(v),
        FieldPredicate::Ne(v) => Filter::and(vec![Filter::Present(f()), Filter::negate(eq(v))]),
        FieldPredicate::In(vs) => Filter::or(vs.iter().map(eq).collect()),
        FieldPredicate::Absent => Filter::negate(Filter::Present(f())),
        FieldPredicate::Present => Filter::Present(f()),
        FieldPredicate::Bits(mask) => Filter::Bits {
            field: field.to_owned(),
            mask: *mask,
        },
    }
}

fn scalar_text(v: &Json) -> Option<String> {
    match v {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        Json::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `sortBy` → a backend sort key, when the attribute maps to one sortable field.
pub fn sort_key(path: &AttrPath, descending: bool, rt: &ResourceType) -> Option<SortKey> {
    let urn = path
        .urn
        .as_deref()
        .filter(|u| !u.eq_ignore_ascii_case(&rt.schema.core.id));
    if urn.is_none() && path.attr.eq_ignore_ascii_case("id") {
        return Some(SortKey {
            field: FieldRef::Id,
            descending,
            ignore_case: false,
        });
    }
    if urn.is_none() && path.attr.eq_ignore_ascii_case("meta") {
        let field = match path.sub.as_deref().map(str::to_ascii_lowercase).as_deref() {
            Some("created") if rt.meta.has_created => FieldRef::Created,
            Some("lastmodified") if rt.meta.has_modified => FieldRef::Modified,
            _ => return None,
        };
        return Some(SortKey {
            field,
            descending,
            ignore_case: false,
        });
    }
    let resolved = rt.schema.resolve(urn, &path.attr, None)?;
    let urn_owned = resolved.extension.map(|e| e.id.clone());
    let sub = path
        .sub
        .clone()
        .or_else(|| (resolved.attr.kind == AttrType::Complex).then(|| "value".to_owned()));
    rt.mappings_of(urn_owned.as_deref(), &resolved.attr.name)
        .find_map(|m| match &m.target {
            Target::Field { field, .. }
                if !m.attr_def.multi_valued
                    && m.path.sub.as_deref().map(str::to_ascii_lowercase)
                        == sub.as_deref().map(str::to_ascii_lowercase) =>
            {
                Some(SortKey {
                    field: FieldRef::Field(field.clone()),
                    descending,
                    ignore_case: m.leaf_def.kind == AttrType::String && !m.leaf_def.case_exact,
                })
            }
            _ => None,
        })
}

/// Evaluates a predicate for a record's field values (re-exported for the engine's checks).
pub fn holds(p: &FieldPredicate, values: &[Value]) -> bool {
    predicate_holds(p, values)
}
