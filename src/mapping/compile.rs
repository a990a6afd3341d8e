//! Compiles mapping files into [`ResourceType`]s, reporting every error with its position.

use std::collections::BTreeMap;
use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::Value as Json;
use serde_spanned::Spanned;

use super::convert::{Conversion, Converter, Unknown, ValueMap};
use super::error_rules::RuleSite;
use super::file::{AttrEntry, AttrSpec, MappingFile, Predicate, ResourceFile, SubLocation};
use super::model::*;
use crate::config::{Diagnostic, Diagnostics, SourceFile};
use crate::connector::faults::{ErrorRule, ErrorRules};
use crate::connector::{ChildSpec, EntityId, EntitySpec, ReferenceSpec, RelationSpec, Value};
use crate::scim::filter::{CompareOp as ScimOp, Filter as ScimFilter, FilterLimits, parse_patch_path};
use crate::scim::schema::{self, AttrType, AttributeDef, Mutability, ResourceSchema, Returned, SchemaDef, Uniqueness};

/// The kind-specific part of a resource type, handed to its connector.
#[derive(Debug, Clone)]
pub enum BackendPart {
    #[cfg(feature = "connector-sqlite")]
    Sql(crate::connector::sql::config::SqlEntityConfig),
    #[cfg(feature = "connector-ldap")]
    Ldap(crate::connector::ldap::config::LdapEntityConfig),
}

/// One compiled resource type and its connector part.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub resource: ResourceType,
    pub part: BackendPart,
    /// The file it came from and its `[[X.test]]` cases, for `scimgate test`.
    pub source: SourceFile,
    pub tests: Vec<Spanned<super::file::TestSpec>>,
}

/// Parses a mapping file's text.
pub fn parse_file(source: &SourceFile) -> Result<MappingFile, Diagnostics> {
    toml::from_str(&source.text).map_err(|e| Diagnostics::from(source.toml_error(&e)))
}

/// Compiles every resource type of an endpoint; entity ids are assigned in file order.
pub fn compile(sources: &[SourceFile], connector_kind: &str) -> Result<Vec<Compiled>, Diagnostics> {
    let mut errors = Diagnostics::default();
    let mut out = Vec::new();
    for source in sources {
        let file = match parse_file(source) {
            Ok(f) => f,
            Err(e) => {
                errors.extend(e);
                continue;
            }
        };
        let lookups: BTreeMap<String, ValueMap> = file
            .lookups
            .iter()
            .map(|(name, l)| {
                let pairs = l
                    .get_ref()
                    .values
                    .iter()
                    .map(|(k, v)| (k.clone(), toml_to_value(v)))
                    .collect();
                (
                    name.clone(),
                    ValueMap {
                        pairs,
                        unknown: Unknown::Reject,
                    },
                )
            })
            .collect();
        let file_rules = RuleSite {
            source,
            key: "errors".into(),
            kind: connector_kind,
            has_members: None,
        }
        .compile(&file.errors, &mut errors);
        for (name, res) in &file.resources {
            let entity = EntityId(out.len());
            let mut cx = Cx {
                source,
                errors: &mut errors,
                lookups: &lookups,
                resource: name,
                file_rules: &file_rules,
            };
            if let Some(c) = cx.resource_type(name, res, entity, connector_kind) {
                out.push(c);
            }
        }
    }
    resolve_references(&mut out, &mut errors);
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

fn resolve_references(out: &mut [Compiled], errors: &mut Diagnostics) {
    let ids: BTreeMap<String, EntityId> = out
        .iter()
        .map(|c| (c.resource.name.clone(), c.resource.entity))
        .collect();
    for c in out.iter_mut() {
        for rel in &mut c.resource.entity_spec.relations {
            let target = c
                .resource
                .attrs
                .iter()
                .find_map(|m| match &m.target {
                    Target::Relation { relation, target } if *relation == rel.name => Some(target.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            match ids.get(&target) {
                Some(id) => rel.targets = vec![*id],
                None => errors.push(
                    c.source
                        .error(
                            None,
                            Some(&format!("{}.attributes.{}", c.resource.name, rel.name)),
                            format!("reference to unknown resource type {target:?}"),
                        )
                        .with_hint(format!(
                            "known resource types: {}",
                            ids.keys().cloned().collect::<Vec<_>>().join(", ")
                        )),
                ),
            }
        }
        for reference in &mut c.resource.entity_spec.references {
            let target = c.resource.attrs.iter().find_map(|m| match &m.target {
                Target::Reference { field, target, .. } if *field == reference.field => Some(target),
                _ => None,
            });
            reference.targets = target.and_then(|t| ids.get(t)).map(|id| vec![*id]).unwrap_or_default();
        }
        for m in &c.resource.attrs {
            if let Target::Reference { target, .. } = &m.target
                && !ids.contains_key(target)
            {
                errors.push(c.source.error(
                    None,
                    Some(&m.path.to_string()),
                    format!("reference to unknown resource type {target:?}"),
                ));
            }
        }
    }
}

struct Cx<'a> {
    source: &'a SourceFile,
    errors: &'a mut Diagnostics,
    lookups: &'a BTreeMap<String, ValueMap>,
    resource: &'a str,
    /// The file's `[[errors]]`, tried after the type's own.
    file_rules: &'a [ErrorRule],
}

impl Cx<'_> {
    fn err(
        &mut self,
        span: Option<std::ops::Range<usize>>,
        key: &str,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        let d: Diagnostic = self
            .source
            .error(span, Some(&format!("{}.{key}", self.resource)), message)
            .with_hint(hint);
        self.errors.push(d);
    }

    fn resource_type(
        &mut self,
        name: &str,
        res: &Spanned<ResourceFile>,
        entity: EntityId,
        kind: &str,
    ) -> Option<Compiled> {
        let span = Some(res.span());
        let file = res.get_ref();
        let before = self.errors.0.len();

        let core_urn = match &file.schema {
            Some(s) => s.get_ref().clone(),
            None => match schema::schema_alias(name) {
                Some(u) => u.to_owned(),
                None => {
                    self.err(
                        span.clone(),
                        "schema",
                        "a resource type other than User or Group needs a schema URN",
                        format!("schema = \"urn:example:params:scim:schemas:{name}\""),
                    );
                    String::new()
                }
            },
        };
        let core_catalog = schema::standard_schema(&core_urn).unwrap_or_else(|| SchemaDef {
            id: core_urn.clone(),
            name: name.to_owned(),
            description: file.description.clone().unwrap_or_else(|| name.to_owned()),
            attributes: Vec::new(),
        });
        let mut ext_catalogs = Vec::new();
        for ext in &file.extensions {
            let urn = schema::schema_alias(ext.get_ref())
                .map(str::to_owned)
                .unwrap_or_else(|| ext.get_ref().clone());
            if !urn.starts_with("urn:") {
                self.err(
                    Some(ext.span()),
                    "extensions",
                    format!("{:?} is neither a known extension nor a URN", ext.get_ref()),
                    "use \"enterprise\" or a full schema URN",
                );
                continue;
            }
            ext_catalogs.push(schema::standard_schema(&urn).unwrap_or_else(|| SchemaDef {
                id: urn.clone(),
                name: urn.rsplit(':').next().unwrap_or(&urn).to_owned(),
                description: "Extension".into(),
                attributes: Vec::new(),
            }));
        }
        let catalog = ResourceSchema {
            core: core_catalog.clone(),
            extensions: ext_catalogs.clone(),
        };

        let mut attrs = Vec::new();
        for (key, entry) in &file.attributes {
            if let Some(m) = self.attribute(&catalog, key, entry) {
                attrs.push(m);
            }
        }
        let ignored = self.ignored(&catalog, &file.ignore);
        let exposed = expose(&catalog, &attrs);
        self.check_required(&catalog, &attrs, &ignored, span.clone());

        let part = self.backend_part(file, kind, span.clone());
        let (compute, templates) = self.computed(&file.compute);
        let mut entity_spec = entity_spec(name, &attrs, &compute);
        table_locations(file, &mut entity_spec, &attrs);
        #[cfg(feature = "connector-ldap")]
        if let (Some(BackendPart::Ldap(cfg)), Some(spanned)) = (&part, &file.ldap) {
            let (problems, _) = crate::connector::ldap::entity::check_part(&entity_spec.fields, cfg);
            for problem in problems {
                self.err(
                    Some(spanned.span()),
                    "ldap",
                    problem,
                    "see \"The ldap part\" in mappings/README.md",
                );
            }
        }
        entity_spec.errors = self.error_rules(file, kind, &attrs);
        let meta = match &part {
            #[cfg(feature = "connector-sqlite")]
            Some(BackendPart::Sql(s)) => MetaMapping {
                has_created: s.created.is_some(),
                has_modified: s.modified.is_some(),
                has_version: s.version.is_some(),
            },
            #[cfg(feature = "connector-ldap")]
            Some(BackendPart::Ldap(l)) => MetaMapping {
                has_created: l.created.is_some(),
                has_modified: l.modified.is_some(),
                has_version: l.version.is_some(),
            },
            None => MetaMapping::default(),
        };
        if self.errors.0.len() > before {
            return None;
        }
        Some(Compiled {
            resource: ResourceType {
                name: name.to_owned(),
                endpoint: file
                    .endpoint
                    .clone()
                    .map(|e| format!("/{}", e.trim_matches('/')))
                    .unwrap_or_else(|| format!("/{name}s")),
                description: file
                    .description
                    .clone()
                    .unwrap_or_else(|| core_catalog.description.clone()),
                schema: exposed,
                entity,
                entity_spec,
                attrs,
                ignored,
                scan_limit: file.scan_limit,
                compute,
                meta,
                templates: Arc::new(templates),
            },
            part: part?,
            source: self.source.clone(),
            tests: file.test.clone(),
        })
    }

    /// The type's `[[X.errors]]` first, then the file's: the first match wins.
    fn error_rules(&mut self, file: &ResourceFile, kind: &str, attrs: &[AttrMapping]) -> ErrorRules {
        let site = RuleSite {
            source: self.source,
            key: format!("{}.errors", self.resource),
            kind,
            has_members: Some(
                attrs
                    .iter()
                    .any(|m| m.writable() && matches!(m.target, Target::Relation { .. })),
            ),
        };
        let mut rules = site.compile(&file.errors, self.errors);
        rules.extend(self.file_rules.iter().cloned());
        ErrorRules(rules)
    }

    fn backend_part(
        &mut self,
        file: &ResourceFile,
        kind: &str,
        span: Option<std::ops::Range<usize>>,
    ) -> Option<BackendPart> {
        match kind {
            #[cfg(feature = "connector-sqlite")]
            "sql" => match &file.sql {
                Some(s) => Some(BackendPart::Sql(s.get_ref().clone())),
                None => {
                    self.err(
                        span,
                        "sql",
                        format!(
                            "[{}.sql] is missing: the endpoint's connector is a sql connector",
                            self.resource
                        ),
                        format!("add [{}.sql] with table = \"...\" and id = \"...\"", self.resource),
                    );
                    None
                }
            },
            #[cfg(feature = "connector-ldap")]
            "ldap" => match &file.ldap {
                Some(l) => Some(BackendPart::Ldap(l.get_ref().clone())),
                None => {
                    self.err(
                        span,
                        "ldap",
                        format!(
                            "[{}.ldap] is missing: the endpoint's connector is an ldap connector",
                            self.resource
                        ),
                        format!("add [{}.ldap] with base, rdn, id and create_classes", self.resource),
                    );
                    None
                }
            },
            other => {
                self.err(
                    span,
                    "",
                    format!("connector kind {other:?} is not built into this binary"),
                    "rebuild with the connector's cargo feature",
                );
                None
            }
        }
    }

    fn ignored(&mut self, catalog: &ResourceSchema, list: &[Spanned<String>]) -> Vec<(Option<String>, String)> {
        let mut out = Vec::new();
        for item in list {
            let text = expand_alias(item.get_ref());
            match crate::scim::filter::AttrPath::parse(&text) {
                Ok(p) => {
                    let urn = p.urn.clone().filter(|u| !u.eq_ignore_ascii_case(&catalog.core.id));
                    let canonical = catalog
                        .resolve(urn.as_deref(), &p.attr, None)
                        .map(|r| r.attr.name.clone())
                        .unwrap_or(p.attr.clone());
                    out.push((urn, canonical));
                }
                Err(e) => self.err(
                    Some(item.span()),
                    "ignore",
                    e.detail,
                    "for example ignore = [\"externalId\"]",
                ),
            }
        }
        out
    }

    fn check_required(
        &mut self,
        catalog: &ResourceSchema,
        attrs: &[AttrMapping],
        ignored: &[(Option<String>, String)],
        span: Option<std::ops::Range<usize>>,
    ) {
        for def in catalog.core.attributes.iter().filter(|a| a.required) {
            let mapped = attrs.iter().any(|m| m.path.urn.is_none() && m.path.attr == def.name);
            let is_ignored = ignored.iter().any(|(_, a)| a == &def.name);
            if !mapped && !is_ignored {
                self.err(
                    span.clone(),
                    "attributes",
                    format!(
                        "`{}` is required by the {} schema and is not mapped",
                        def.name, catalog.core.name
                    ),
                    format!("map it, e.g. {} = {{ to = \"...\", required = true }}", def.name),
                );
            }
        }
    }

    fn attribute(
        &mut self,
        catalog: &ResourceSchema,
        key: &Spanned<String>,
        entry: &Spanned<AttrEntry>,
    ) -> Option<AttrMapping> {
        let span = Some(key.span());
        let key_text = key.get_ref();
        let spec: AttrSpec = match entry.get_ref() {
            AttrEntry::Location(to) => AttrSpec {
                to: Some(to.clone()),
                ..AttrSpec::default()
            },
            AttrEntry::Spec(s) => (**s).clone(),
        };
        let parsed = match parse_patch_path(&expand_alias(key_text), &FilterLimits::default()) {
            Ok(p) => p,
            Err(e) => {
                self.err(span, key_text, e.detail, "attribute keys are SCIM paths: userName, name.givenName, 'emails[type eq \"work\"].value', \"enterprise:department\"");
                return None;
            }
        };
        let urn = parsed
            .attr
            .urn
            .clone()
            .filter(|u| !u.eq_ignore_ascii_case(&catalog.core.id));
        let type_value = match &parsed.filter {
            None => None,
            Some(ScimFilter::Compare {
                path,
                op: ScimOp::Eq,
                value: Json::String(v),
            }) if path.attr.eq_ignore_ascii_case("type") && path.sub.is_none() => Some(v.clone()),
            Some(_) => {
                self.err(
                    span,
                    key_text,
                    "only a [type eq \"...\"] filter can select the elements a mapping stores",
                    "for example 'emails[type eq \"work\"].value' = \"mail\"",
                );
                return None;
            }
        };
        let sub_name = parsed.sub.clone().or(parsed.attr.sub.clone());

        let (mut attr_def, urn) = match catalog.resolve(urn.as_deref(), &parsed.attr.attr, None) {
            Some(r) => (r.attr.clone(), r.extension.map(|e| e.id.clone())),
            None => match self.custom_def(&parsed.attr.attr, sub_name.as_deref(), &spec, key_text, span.clone()) {
                Some(d) => {
                    if let Some(u) = &urn
                        && catalog.extension(u).is_none()
                    {
                        self.err(
                            span,
                            key_text,
                            format!("schema {u} is not listed in `extensions`"),
                            format!("add extensions = [\"{u}\"]"),
                        );
                        return None;
                    }
                    (d, urn)
                }
                None => return None,
            },
        };
        if parsed.attr.attr == "id" || parsed.attr.attr == "meta" {
            self.err(
                span,
                key_text,
                "`id` and `meta` come from the connector part (id, version, created, modified)",
                format!("set id = \"...\" in [{}.sql]", self.resource),
            );
            return None;
        }
        let mut leaf_def = match &sub_name {
            Some(s) => match attr_def.sub(s) {
                Some(d) => d.clone(),
                None if spec.datatype.is_some() => self.custom_def(s, None, &spec, key_text, span.clone())?,
                None => {
                    self.err(
                        span,
                        key_text,
                        format!("`{}` has no sub-attribute `{s}`", attr_def.name),
                        format!(
                            "sub-attributes: {}",
                            attr_def
                                .sub_attributes
                                .iter()
                                .map(|a| a.name.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    );
                    return None;
                }
            },
            None => attr_def.clone(),
        };
        self.apply_overrides(&spec, &mut leaf_def, key_text);
        if sub_name.is_none() {
            attr_def = leaf_def.clone();
        }

        let target = self.target(&spec, &attr_def, &leaf_def, type_value, key_text, span.clone())?;
        let default = spec.default.as_ref().map(toml_to_json);
        Some(AttrMapping {
            path: ScimPath {
                urn,
                attr: attr_def.name.clone(),
                sub: sub_name
                    .map(|_| leaf_def.name.clone())
                    .filter(|_| !matches!(target, Target::Child { .. } | Target::Relation { .. })),
            },
            attr_def,
            leaf_def,
            target,
            default,
        })
    }

    fn custom_def(
        &mut self,
        name: &str,
        sub: Option<&str>,
        spec: &AttrSpec,
        key: &str,
        span: Option<std::ops::Range<usize>>,
    ) -> Option<AttributeDef> {
        let Some(dt) = &spec.datatype else {
            self.err(
                span,
                key,
                format!("`{name}` is not an attribute of this resource type's schemas"),
                "fix the name, or declare a custom attribute with datatype = \"string\"",
            );
            return None;
        };
        if sub.is_some() {
            self.err(
                span,
                key,
                "a custom attribute cannot have sub-attributes",
                "map it as a top-level attribute",
            );
            return None;
        }
        let Some(kind) = AttrType::parse(dt.get_ref()).filter(|k| *k != AttrType::Complex) else {
            self.err(
                Some(dt.span()),
                key,
                format!("{:?} is not a SCIM data type", dt.get_ref()),
                "string, boolean, decimal, integer, dateTime, binary or reference",
            );
            return None;
        };
        Some(AttributeDef {
            name: name.to_owned(),
            kind,
            multi_valued: spec.multi_valued.unwrap_or(false),
            description: spec.description.clone().unwrap_or_default(),
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            canonical_values: Vec::new(),
            reference_types: if kind == AttrType::Reference {
                vec!["external".into()]
            } else {
                Vec::new()
            },
            sub_attributes: Vec::new(),
        })
    }

    fn apply_overrides(&mut self, spec: &AttrSpec, def: &mut AttributeDef, key: &str) {
        if let Some(r) = spec.required {
            def.required = r;
        }
        if let Some(u) = spec.unique {
            def.uniqueness = if u { Uniqueness::Server } else { Uniqueness::None };
        }
        if let Some(c) = spec.case_exact {
            def.case_exact = c;
        }
        if let Some(m) = &spec.mutability {
            match Mutability::parse(m.get_ref()) {
                Some(v) => def.mutability = v,
                None => self.err(
                    Some(m.span()),
                    key,
                    format!("{:?} is not a mutability", m.get_ref()),
                    "readOnly, readWrite, immutable or writeOnly",
                ),
            }
        }
        if let Some(r) = &spec.returned {
            match Returned::parse(r.get_ref()) {
                Some(v) => def.returned = v,
                None => self.err(
                    Some(r.span()),
                    key,
                    format!("{:?} is not a `returned` value", r.get_ref()),
                    "always, never, default or request",
                ),
            }
        }
        if def.mutability == Mutability::WriteOnly {
            def.returned = Returned::Never;
        }
        if spec.constant.is_some() {
            def.mutability = Mutability::ReadOnly;
        }
        if let Some(d) = &spec.description {
            def.description = d.clone();
        }
    }

    fn target(
        &mut self,
        spec: &AttrSpec,
        attr_def: &AttributeDef,
        leaf_def: &AttributeDef,
        type_value: Option<String>,
        key: &str,
        span: Option<std::ops::Range<usize>>,
    ) -> Option<Target> {
        if let Some(c) = &spec.constant {
            return Some(Target::Constant(toml_to_json(c)));
        }
        let is_reference = spec.reference.is_some()
            || (attr_def.kind == AttrType::Complex
                && attr_def.sub("value").is_some_and(|_| attr_def.sub("$ref").is_some())
                && attr_def.multi_valued
                && spec.table.is_some()
                && spec.type_.is_none());
        if spec.table.is_some() {
            let (Some(_), Some(_)) = (&spec.table, &spec.key) else {
                self.err(
                    span,
                    key,
                    "a child or join table needs `key` (the column holding the owner's id)",
                    "table = \"user_emails\", key = \"user_id\", value = \"address\"",
                );
                return None;
            };
            if !attr_def.multi_valued {
                self.err(
                    span,
                    key,
                    format!(
                        "`{}` is single-valued; only multi-valued attributes live in a table",
                        attr_def.name
                    ),
                    "map it with `to` instead",
                );
                return None;
            }
            if spec.value.is_none() {
                self.err(span, key, "a table mapping needs `value`", "value = \"column\"");
                return None;
            }
            if is_reference {
                let target = spec
                    .reference
                    .as_ref()
                    .map(|r| r.get_ref().clone())
                    .unwrap_or_else(|| default_reference_target(&attr_def.name));
                return Some(Target::Relation {
                    relation: attr_def.name.clone(),
                    target,
                });
            }
            let mut subs = Vec::new();
            for (sub, loc) in [
                ("value", &spec.value),
                ("type", &spec.type_),
                ("primary", &spec.primary),
                ("display", &spec.display),
            ] {
                let Some(loc) = loc else { continue };
                let Some(def) = attr_def.sub(sub) else {
                    self.err(
                        span.clone(),
                        key,
                        format!("`{}` has no sub-attribute `{sub}`", attr_def.name),
                        "remove the key",
                    );
                    continue;
                };
                let conv = self.sub_conversion(loc, key, span.clone())?;
                subs.push(ChildColumn {
                    sub: def.name.clone(),
                    column: loc.column().to_owned(),
                    conv,
                    def: def.clone(),
                });
            }
            return Some(Target::Child {
                child: attr_def.name.clone(),
                subs,
            });
        }
        let Some(to) = spec.to.clone() else {
            self.err(span, key, "the mapping has no location", "add to = \"column\"");
            return None;
        };
        if let Some(target) = &spec.reference {
            if attr_def.multi_valued {
                return Some(Target::Relation {
                    relation: attr_def.name.clone(),
                    target: target.get_ref().clone(),
                });
            }
            let conv = self.conversion(spec, leaf_def, key)?;
            return Some(Target::Reference {
                field: to,
                conv,
                target: target.get_ref().clone(),
            });
        }
        if let Some(t) = type_value {
            let conv = self.conversion(spec, leaf_def, key)?;
            return Some(Target::Typed {
                type_value: t,
                field: to,
                conv,
            });
        }
        if spec.true_when.is_some() || spec.false_when.is_some() {
            return self.predicate(spec, leaf_def, to, key, span);
        }
        if leaf_def.kind == AttrType::Complex {
            self.err(
                span,
                key,
                format!(
                    "`{}` is complex: map its sub-attributes (e.g. {}.{})",
                    leaf_def.name,
                    leaf_def.name,
                    leaf_def.sub_attributes.first().map_or("value", |s| s.name.as_str())
                ),
                "or use a child table with `table`",
            );
            return None;
        }
        let conv = self.conversion(spec, leaf_def, key)?;
        Some(Target::Field { field: to, conv })
    }

    fn predicate(
        &mut self,
        spec: &AttrSpec,
        def: &AttributeDef,
        field: String,
        key: &str,
        span: Option<std::ops::Range<usize>>,
    ) -> Option<Target> {
        if def.kind != AttrType::Boolean {
            self.err(
                span,
                key,
                "true_when / false_when define booleans only",
                "remove them, or map a boolean attribute such as active",
            );
            return None;
        }
        let (pred, holds_means) = match (&spec.true_when, &spec.false_when) {
            (Some(p), None) => (p, true),
            (None, Some(p)) => (p, false),
            _ => {
                self.err(
                    span,
                    key,
                    "give either true_when or false_when, not both",
                    "false_when = { eq = \"1\" }",
                );
                return None;
            }
        };
        let predicate = match compile_predicate(pred.get_ref()) {
            Ok(p) => p,
            Err(msg) => {
                self.err(
                    Some(pred.span()),
                    key,
                    msg,
                    "exactly one of eq, ne, in, absent = true, present = true",
                );
                return None;
            }
        };
        // Writing the side where the predicate holds stores its value; the other side clears.
        let holding = match &predicate {
            FieldPredicate::Eq(v) => BoolWrite::Set(v.clone()),
            FieldPredicate::In(vs) if !vs.is_empty() => BoolWrite::Set(vs[0].clone()),
            FieldPredicate::Absent => BoolWrite::Clear,
            FieldPredicate::Bits(mask) => BoolWrite::SetBits(*mask),
            _ => {
                self.err(
                    Some(pred.span()),
                    key,
                    "this predicate does not say what to write",
                    "use eq, in or absent, which have a natural write",
                );
                return None;
            }
        };
        let other = match &predicate {
            FieldPredicate::Absent => {
                self.err(
                    Some(pred.span()),
                    key,
                    "`absent` alone does not say what to write for the other value",
                    "use eq with the value that means it instead",
                );
                return None;
            }
            FieldPredicate::Bits(mask) => BoolWrite::ClearBits(*mask),
            _ => BoolWrite::Clear,
        };
        let (write_true, write_false) = if holds_means {
            (holding, other)
        } else {
            (other, holding)
        };
        Some(Target::Predicate {
            field,
            predicate,
            holds_means,
            write_true,
            write_false,
        })
    }

    fn conversion(&mut self, spec: &AttrSpec, def: &AttributeDef, key: &str) -> Option<Conversion> {
        let mut steps = Vec::new();
        if let Some(c) = &spec.convert {
            for s in c.get_ref().to_vec() {
                match Converter::parse(&s) {
                    Ok(conv) => steps.push(conv),
                    Err(msg) => {
                        self.err(
                            Some(c.span()),
                            key,
                            msg,
                            "see the converter table in mappings/README.md",
                        );
                        return None;
                    }
                }
            }
        }
        let unknown = match spec.unknown.as_ref().map(|u| u.get_ref().as_str()) {
            None | Some("reject") => Unknown::Reject,
            Some("pass") => Unknown::Pass,
            Some("drop") => Unknown::Drop,
            Some(other) => {
                let span = spec.unknown.as_ref().map(|u| u.span());
                self.err(
                    span,
                    key,
                    format!("{other:?} is not an unknown-value policy"),
                    "reject, pass or drop",
                );
                return None;
            }
        };
        if let Some(values) = &spec.values {
            let pairs = values
                .get_ref()
                .iter()
                .map(|(k, v)| (k.clone(), toml_to_value(v)))
                .collect();
            steps.push(Converter::Values(ValueMap { pairs, unknown }));
        }
        if let Some(name) = &spec.lookup {
            match self.lookups.get(name.get_ref()) {
                Some(map) => steps.push(Converter::Values(ValueMap { unknown, ..map.clone() })),
                None => {
                    self.err(
                        Some(name.span()),
                        key,
                        format!("no [lookups.{}] table in this file", name.get_ref()),
                        format!("add [lookups.{}] values = {{ ... }}", name.get_ref()),
                    );
                    return None;
                }
            }
        }
        if steps
            .iter()
            .any(|s| matches!(s, Converter::HashArgon2 | Converter::HashSsha(_)))
            && def.mutability != Mutability::WriteOnly
        {
            self.err(
                spec.convert.as_ref().map(|c| c.span()),
                key,
                "a hashed attribute cannot be read back",
                "set mutability = \"writeOnly\" (password is writeOnly already)",
            );
            return None;
        }
        Some(Conversion::new(steps))
    }

    fn sub_conversion(
        &mut self,
        loc: &SubLocation,
        key: &str,
        span: Option<std::ops::Range<usize>>,
    ) -> Option<Conversion> {
        let SubLocation::Spec { values, convert, .. } = loc else {
            return Some(Conversion::default());
        };
        let mut steps = Vec::new();
        for s in convert.as_ref().map(|c| c.to_vec()).unwrap_or_default() {
            match Converter::parse(&s) {
                Ok(c) => steps.push(c),
                Err(msg) => {
                    self.err(span.clone(), key, msg, "see the converter table in mappings/README.md");
                    return None;
                }
            }
        }
        if let Some(values) = values {
            let pairs = values.iter().map(|(k, v)| (k.clone(), toml_to_value(v))).collect();
            steps.push(Converter::Values(ValueMap {
                pairs,
                unknown: Unknown::Reject,
            }));
        }
        Some(Conversion::new(steps))
    }

    fn computed(
        &mut self,
        table: &IndexMap<Spanned<String>, Spanned<super::file::ComputeSpec>>,
    ) -> (Vec<Computed>, handlebars::Handlebars<'static>) {
        let mut hb = handlebars::Handlebars::new();
        hb.set_strict_mode(true);
        hb.register_escape_fn(handlebars::no_escape);
        super::template_helpers::register(&mut hb);
        let mut out = Vec::new();
        for (field, spec) in table {
            let s = spec.get_ref();
            let key = format!("compute.{}", field.get_ref());
            let on_create_only = match s.when.get_ref().as_str() {
                "create" => true,
                "inputs" => false,
                other => {
                    self.err(
                        Some(s.when.span()),
                        &key,
                        format!("{other:?} is not a `when`"),
                        "create or inputs",
                    );
                    continue;
                }
            };
            match (&s.template, &s.value) {
                (Some(t), None) => {
                    if let Err(e) = hb.register_template_string(field.get_ref(), t) {
                        self.err(
                            Some(spec.span()),
                            &key,
                            format!("template error: {e}"),
                            format!(
                                "handlebars syntax: {{{{name.givenName}}}} {{{{name.familyName}}}}; helpers: {}",
                                super::template_helpers::NAMES.join(", ")
                            ),
                        );
                        continue;
                    }
                    out.push(Computed {
                        field: field.get_ref().clone(),
                        template: Some(t.clone()),
                        value: None,
                        on_create_only,
                    });
                }
                (None, Some(v)) => out.push(Computed {
                    field: field.get_ref().clone(),
                    template: None,
                    value: Some(toml_to_value(v)),
                    on_create_only,
                }),
                _ => self.err(
                    Some(spec.span()),
                    &key,
                    "give either `template` or `value`",
                    "full_name = { template = \"{{name.givenName}} {{name.familyName}}\" }",
                ),
            }
        }
        (out, hb)
    }
}

fn default_reference_target(attr: &str) -> String {
    match attr {
        "groups" => "Group".into(),
        _ => "User".into(),
    }
}

fn compile_predicate(p: &Predicate) -> Result<FieldPredicate, String> {
    let mut found = Vec::new();
    if let Some(v) = &p.eq {
        found.push(FieldPredicate::Eq(toml_to_value(v)));
    }
    if let Some(v) = &p.ne {
        found.push(FieldPredicate::Ne(toml_to_value(v)));
    }
    if let Some(vs) = &p.in_ {
        found.push(FieldPredicate::In(vs.iter().map(toml_to_value).collect()));
    }
    if p.absent == Some(true) {
        found.push(FieldPredicate::Absent);
    }
    if p.present == Some(true) {
        found.push(FieldPredicate::Present);
    }
    match p.bits {
        Some(mask) if mask > 0 => found.push(FieldPredicate::Bits(mask)),
        Some(_) => return Err("`bits` must be a positive mask, e.g. bits = 2".into()),
        None => {}
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err("the predicate is empty".into()),
        _ => Err("the predicate has more than one test".into()),
    }
}

/// `enterprise:manager` → the full enterprise URN path.
fn expand_alias(key: &str) -> String {
    match key.split_once(':') {
        Some((alias, rest)) if !alias.eq_ignore_ascii_case("urn") => match schema::schema_alias(alias) {
            Some(urn) => format!("{urn}:{rest}"),
            None => key.to_owned(),
        },
        _ => key.to_owned(),
    }
}

/// The schemas as `/Schemas` shows them: only what is mapped, sub-attributes included.
fn expose(catalog: &ResourceSchema, attrs: &[AttrMapping]) -> ResourceSchema {
    let pick = |schema: &SchemaDef, urn: Option<&str>| SchemaDef {
        attributes: schema
            .attributes
            .iter()
            .chain(
                attrs
                    .iter()
                    .filter(|m| m.path.urn.as_deref() == urn && schema.attribute(&m.attr_def.name).is_none())
                    .map(|m| &m.attr_def),
            )
            .filter_map(|def| {
                exposed_attr(
                    def,
                    attrs
                        .iter()
                        .filter(|m| m.path.urn.as_deref() == urn && m.path.attr == def.name),
                )
            })
            .fold(Vec::<AttributeDef>::new(), |mut acc, d| {
                if !acc.iter().any(|a| a.name == d.name) {
                    acc.push(d);
                }
                acc
            }),
        ..schema.clone()
    };
    ResourceSchema {
        core: pick(&catalog.core, None),
        extensions: catalog.extensions.iter().map(|e| pick(e, Some(&e.id))).collect(),
    }
}

fn exposed_attr<'a>(
    catalog_def: &AttributeDef,
    mut mappings: impl Iterator<Item = &'a AttrMapping>,
) -> Option<AttributeDef> {
    let first = mappings.next()?;
    let all: Vec<&AttrMapping> = std::iter::once(first).chain(mappings).collect();
    let mut def = if first.path.sub.is_none() {
        first.attr_def.clone()
    } else {
        catalog_def.clone()
    };
    if def.kind != AttrType::Complex {
        return Some(def);
    }
    let mut subs: Vec<String> = Vec::new();
    for m in &all {
        match &m.target {
            Target::Child { subs: cols, .. } => subs.extend(cols.iter().map(|c| c.sub.clone())),
            Target::Relation { .. } => subs.extend(["value", "$ref", "type"].map(String::from)),
            Target::Reference { .. } => subs.extend(["value", "$ref"].map(String::from)),
            Target::Typed { .. } => {
                subs.push("type".into());
                subs.extend(m.path.sub.clone());
            }
            _ => subs.extend(m.path.sub.clone()),
        }
    }
    let overrides: BTreeMap<&str, &AttributeDef> = all
        .iter()
        .filter(|m| m.path.sub.is_some())
        .map(|m| (m.leaf_def.name.as_str(), &m.leaf_def))
        .collect();
    def.sub_attributes = def
        .sub_attributes
        .iter()
        .filter(|s| subs.iter().any(|n| n.eq_ignore_ascii_case(&s.name)))
        .map(|s| {
            overrides
                .get(s.name.as_str())
                .map_or_else(|| s.clone(), |o| (*o).clone())
        })
        .collect();
    // Only the types the mapping stores are offered, so clients do not send others.
    let stored_types: Vec<String> = all
        .iter()
        .filter_map(|m| match &m.target {
            Target::Typed { type_value, .. } => Some(type_value.clone()),
            _ => None,
        })
        .fold(Vec::new(), |mut acc, t| {
            if !acc.contains(&t) {
                acc.push(t);
            }
            acc
        });
    if !stored_types.is_empty()
        && let Some(t) = def.sub_attributes.iter_mut().find(|s| s.name == "type")
    {
        t.canonical_values = stored_types;
    }
    if all.iter().any(|m| m.path.sub.is_some()) {
        // A complex attribute with a required sub-attribute must be sent (RFC 7643 §2.2).
        def.required = all
            .iter()
            .any(|m| m.attr_def.required || (m.path.sub.is_some() && m.leaf_def.required));
    }
    Some(def)
}

fn entity_spec(name: &str, attrs: &[AttrMapping], compute: &[Computed]) -> EntitySpec {
    let mut fields: Vec<String> = Vec::new();
    let mut add = |f: &str| {
        if !fields.iter().any(|x| x == f) {
            fields.push(f.to_owned());
        }
    };
    for m in attrs {
        match &m.target {
            Target::Field { field, .. }
            | Target::Predicate { field, .. }
            | Target::Typed { field, .. }
            | Target::Reference { field, .. } => add(field),
            Target::Child { .. } | Target::Relation { .. } | Target::Constant(_) => {}
        }
    }
    for c in compute {
        add(&c.field);
    }
    // Targets are filled in once every resource type has an id (`resolve_references`).
    let references = attrs
        .iter()
        .filter_map(|m| match &m.target {
            Target::Reference { field, .. } => Some(ReferenceSpec {
                field: field.clone(),
                targets: Vec::new(),
            }),
            _ => None,
        })
        .collect();
    // Child and relation locations come from the raw table (`table_locations`).
    EntitySpec {
        name: name.to_owned(),
        fields,
        children: Vec::new(),
        relations: Vec::new(),
        references,
        errors: Default::default(),
    }
}

/// Fills the child and relation locations of an entity spec from the raw attribute table
/// (they are not part of [`Target`], which stays backend-neutral).
pub fn table_locations(file: &ResourceFile, spec: &mut EntitySpec, attrs: &[AttrMapping]) {
    for m in attrs {
        let Some((_, entry)) = file.attributes.iter().find(|(k, _)| {
            let text = expand_alias(k.get_ref());
            text.split(['[', '.']).next().is_some_and(|a| {
                a.rsplit(':')
                    .next()
                    .is_some_and(|x| x.eq_ignore_ascii_case(&m.attr_def.name))
            })
        }) else {
            continue;
        };
        let AttrEntry::Spec(s) = entry.get_ref() else { continue };
        match &m.target {
            Target::Child { child, subs } if !spec.children.iter().any(|c| &c.name == child) => {
                spec.children.push(ChildSpec {
                    name: child.clone(),
                    table: s.table.clone().unwrap_or_default(),
                    key: s.key.clone().unwrap_or_default(),
                    columns: subs.iter().map(|c| c.column.clone()).collect(),
                })
            }
            Target::Relation { relation, .. } if !spec.relations.iter().any(|r| &r.name == relation) => {
                spec.relations.push(RelationSpec {
                    name: relation.clone(),
                    targets: Vec::new(),
                    attribute: if s.table.is_none() { s.to.clone() } else { None },
                    table: s.table.clone(),
                    key: s.key.clone(),
                    value: s.value.as_ref().map(|v| v.column().to_owned()),
                    set: s.set.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                    empty: s.empty.clone(),
                })
            }
            _ => {}
        }
    }
}

pub fn toml_to_value(v: &toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::Text(s.clone()),
        toml::Value::Integer(i) => Value::Int(*i),
        toml::Value::Float(f) => Value::Float(*f),
        toml::Value::Boolean(b) => Value::Bool(*b),
        other => Value::Text(other.to_string()),
    }
}

pub fn toml_to_json(v: &toml::Value) -> Json {
    serde_json::to_value(v).unwrap_or(Json::Null)
}
