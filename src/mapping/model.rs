//! The compiled mapping of one resource type: what the engine and the translators use.

use serde_json::Value as Json;

use super::convert::Conversion;
use crate::connector::{EntityId, EntitySpec, Value};
use crate::scim::schema::{AttributeDef, ResourceSchema};

/// A SCIM attribute path with canonical names: `urn` is `None` for the core schema.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ScimPath {
    pub urn: Option<String>,
    pub attr: String,
    pub sub: Option<String>,
}

impl std::fmt::Display for ScimPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(u) = &self.urn {
            write!(f, "{u}:")?;
        }
        f.write_str(&self.attr)?;
        if let Some(s) = &self.sub {
            write!(f, ".{s}")?;
        }
        Ok(())
    }
}

/// A predicate on one field, defining a boolean.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldPredicate {
    Eq(Value),
    Ne(Value),
    In(Vec<Value>),
    Absent,
    Present,
    /// Every bit of the mask is set.
    Bits(i64),
}

/// What writing a boolean does to its field.
#[derive(Debug, Clone, PartialEq)]
pub enum BoolWrite {
    Set(Value),
    Clear,
    /// Set or clear these bits, keeping the field's other bits.
    SetBits(i64),
    ClearBits(i64),
}

/// Where a mapped attribute lives and how it is converted.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// One field: a simple attribute, a sub-attribute of a complex one, or every `value` of a
    /// multi-valued attribute.
    Field { field: String, conv: Conversion },
    /// A boolean defined by a predicate on a field (`true_when` / `false_when`).
    Predicate {
        field: String,
        predicate: FieldPredicate,
        /// The boolean's value when the predicate holds.
        holds_means: bool,
        write_true: BoolWrite,
        write_false: BoolWrite,
    },
    /// One sub-attribute of the elements with one `type`: `emails[type eq "work"].value`.
    Typed {
        type_value: String,
        field: String,
        conv: Conversion,
    },
    /// A multi-valued attribute stored as rows of a child table.
    Child { child: String, subs: Vec<ChildColumn> },
    /// A many-to-many link: group members, a user's groups.
    Relation { relation: String, target: String },
    /// A single reference stored as the target's id in a field: `manager`.
    Reference {
        field: String,
        conv: Conversion,
        target: String,
    },
    /// A fixed value, never stored.
    Constant(Json),
}

/// A sub-attribute of a child-table attribute.
#[derive(Debug, Clone, PartialEq)]
pub struct ChildColumn {
    pub sub: String,
    pub column: String,
    pub conv: Conversion,
    pub def: AttributeDef,
}

/// One row of the attribute table, compiled.
#[derive(Debug, Clone, PartialEq)]
pub struct AttrMapping {
    pub path: ScimPath,
    /// Definition of the top-level attribute (with the mapping's overrides applied).
    pub attr_def: AttributeDef,
    /// Definition of the mapped leaf: the sub-attribute when `path.sub` is set.
    pub leaf_def: AttributeDef,
    pub target: Target,
    /// SCIM value used on create when the client sends none.
    pub default: Option<Json>,
}

impl AttrMapping {
    pub fn readable(&self) -> bool {
        !matches!(self.leaf_def.mutability, crate::scim::schema::Mutability::WriteOnly)
    }
    pub fn writable(&self) -> bool {
        self.leaf_def.mutability.writable() && !matches!(self.target, Target::Constant(_))
    }
}

/// A backend field computed from a template or a constant.
#[derive(Debug, Clone, PartialEq)]
pub struct Computed {
    pub field: String,
    pub template: Option<String>,
    pub value: Option<Value>,
    pub on_create_only: bool,
}

/// How `meta.created` and `meta.lastModified` are read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetaMapping {
    pub has_created: bool,
    pub has_modified: bool,
    pub has_version: bool,
}

/// The compiled mapping of one resource type.
#[derive(Debug, Clone)]
pub struct ResourceType {
    pub name: String,
    /// `/Users`
    pub endpoint: String,
    pub description: String,
    pub schema: ResourceSchema,
    pub entity: EntityId,
    pub entity_spec: EntitySpec,
    pub attrs: Vec<AttrMapping>,
    /// Attributes accepted and dropped: `(urn, attr)`.
    pub ignored: Vec<(Option<String>, String)>,
    pub scan_limit: Option<usize>,
    pub compute: Vec<Computed>,
    pub meta: MetaMapping,
    pub templates: std::sync::Arc<handlebars::Handlebars<'static>>,
}

impl ResourceType {
    /// Mappings of one top-level attribute (several for per-type or per-sub mappings).
    pub fn mappings_of<'a>(
        &'a self,
        urn: Option<&'a str>,
        attr: &'a str,
    ) -> impl Iterator<Item = &'a AttrMapping> + 'a {
        self.attrs.iter().filter(move |m| {
            m.path.attr.eq_ignore_ascii_case(attr)
                && match (&m.path.urn, urn) {
                    (None, None) => true,
                    (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                    (None, Some(b)) => b.eq_ignore_ascii_case(&self.schema.core.id),
                    (Some(_), None) => true,
                }
        })
    }

    /// Multi-valued references clients write (group `members`): PATCH turns operations on
    /// them into value deltas instead of reading the whole list.
    pub fn delta_attributes(&self) -> Vec<&str> {
        self.attrs
            .iter()
            .filter(|m| m.writable() && matches!(m.target, Target::Relation { .. }))
            .map(|m| m.attr_def.name.as_str())
            .collect()
    }

    pub fn is_ignored(&self, urn: Option<&str>, attr: &str) -> bool {
        self.ignored.iter().any(|(u, a)| {
            a.eq_ignore_ascii_case(attr)
                && match (u, urn) {
                    (Some(x), Some(y)) => x.eq_ignore_ascii_case(y),
                    _ => true,
                }
        })
    }

    /// The relation name backing a multi-valued reference attribute, e.g. `members`.
    pub fn relation_of<'a>(&'a self, urn: Option<&'a str>, attr: &'a str) -> Option<&'a str> {
        self.mappings_of(urn, attr).find_map(|m| match &m.target {
            Target::Relation { relation, .. } => Some(relation.as_str()),
            _ => None,
        })
    }
}
