//! SCIM operations on one endpoint: each is HTTP-free and backend-free, built from the
//! protocol layer (`scim`), the mapping (`mapping`) and a connector.

pub mod bulk;
pub mod error;
pub mod list;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value as Json;

use crate::connector::{ChangeSet, Connector, ReadSet, Record, RelationDelta};
use crate::mapping::ResourceType;
use crate::mapping::model::Target;
use crate::mapping::record::{self, RefContext};
use crate::scim::ScimError;
use crate::scim::filter::FilterLimits;
use crate::scim::patch;
use crate::scim::projection::Projection;
use crate::scim::resource::{self, WriteMode};
use crate::scim::schema::Mutability;

/// Limits of an endpoint, from `[server]`.
#[derive(Debug, Clone)]
pub struct Limits {
    pub filter: FilterLimits,
    pub max_results: u64,
    pub default_count: u64,
    pub bulk_max_operations: usize,
    pub bulk_max_payload_bytes: usize,
    pub max_patch_operations: usize,
}

/// One SCIM service: a base path, its resource types and their connector.
pub struct Endpoint {
    pub name: String,
    /// `/scim/v2`, or `/`.
    pub base_path: String,
    pub connector: Arc<dyn Connector>,
    pub types: Vec<Arc<ResourceType>>,
    pub limits: Limits,
    /// Resource type name → endpoint path, for references; shared by every request.
    ref_endpoints: Arc<BTreeMap<String, String>>,
    /// What requests with the default projection need of each type, parallel to `types`.
    defaults: Vec<TypeDefaults>,
}

/// Per resource type, what the default projection (no `attributes`, no
/// `excludedAttributes`) reads and whether it changes a rendered resource at all.
struct TypeDefaults {
    read: ReadSet,
    /// Some readable attribute (or sub-attribute) is `returned: request` or `never`, or
    /// could render empty: only then does the default projection remove anything.
    projection_needed: bool,
}

impl TypeDefaults {
    fn of(rt: &ResourceType) -> TypeDefaults {
        TypeDefaults {
            read: read_set_for(rt, &Projection::default()),
            projection_needed: default_projection_needed(rt),
        }
    }
}

/// Whether [`Projection::apply`] with the default projection can change what
/// [`record::from_record`] renders for `rt`. It removes attributes and sub-attributes that
/// are `returned: request` or `never` (by the schema the projection reads, and by the
/// mapping's own definitions, to be safe), and values that are empty; `from_record` emits
/// readable mappings only, and an empty value only through a constant or a decimal.
fn default_projection_needed(rt: &ResourceType) -> bool {
    use crate::scim::schema::{AttrType, AttributeDef, Returned};
    let hidden = |d: &AttributeDef| matches!(d.returned, Returned::Request | Returned::Never);
    let hides = |d: &AttributeDef| hidden(d) || d.sub_attributes.iter().any(hidden);
    rt.attrs.iter().filter(|m| m.readable()).any(|m| {
        let in_schema = resource::resolve_path(&rt.schema, m.path.urn.as_deref(), &m.path.attr, None);
        let may_render_empty = match &m.target {
            Target::Constant(v) => !matches!(v, Json::Bool(_) | Json::Number(_) | Json::String(_)),
            Target::Child { subs, .. } => subs.iter().any(|c| hidden(&c.def)),
            // A decimal that is not finite renders as null.
            _ => m.leaf_def.kind == AttrType::Decimal,
        };
        in_schema.is_some_and(|r| hides(r.attr)) || hides(&m.attr_def) || hidden(&m.leaf_def) || may_render_empty
    })
}

/// What a read must fetch beyond the entry's own fields.
fn read_set_for(rt: &ResourceType, projection: &Projection) -> ReadSet {
    let mut read = ReadSet::default();
    for m in &rt.attrs {
        let wanted = projection.wants(m.path.urn.as_deref(), &m.path.attr, &rt.schema);
        match &m.target {
            Target::Child { child, .. } if wanted => {
                read.children.insert(child.clone());
            }
            Target::Relation { relation, .. } if wanted => {
                read.relations.insert(relation.clone());
            }
            _ => {}
        }
    }
    read
}

/// A resource as the engine returns it: the SCIM JSON and its version (for `ETag`).
#[derive(Debug, Clone)]
pub struct Resource {
    pub json: Json,
    pub version: Option<String>,
}

/// `If-Match` / `If-None-Match` as sent.
#[derive(Debug, Clone, Default)]
pub struct Preconditions {
    pub if_match: Option<String>,
    pub if_none_match: Option<String>,
}

/// Outcome of a GET with `If-None-Match`.
pub enum Got {
    Resource(Resource),
    NotModified { version: String },
}

/// A strong or weak ETag list matches `version` (`W/"3"`), or `*`.
pub fn etag_matches(header: &str, version: &str) -> bool {
    let strip = |t: &str| t.trim().trim_start_matches("W/").trim_matches('"').to_owned();
    let wanted = strip(version);
    header.split(',').any(|t| t.trim() == "*" || strip(t) == wanted)
}

impl Endpoint {
    pub fn new(
        name: String,
        base_path: String,
        connector: Arc<dyn Connector>,
        types: Vec<Arc<ResourceType>>,
        limits: Limits,
    ) -> Endpoint {
        let ref_endpoints = Arc::new(types.iter().map(|t| (t.name.clone(), t.endpoint.clone())).collect());
        let defaults = types.iter().map(|t| TypeDefaults::of(t)).collect();
        Endpoint {
            name,
            base_path,
            connector,
            types,
            limits,
            ref_endpoints,
            defaults,
        }
    }

    /// The precomputed defaults of one of this endpoint's types (`None` for a type that is
    /// not one of `types`, which then gets computed per request).
    fn defaults_of(&self, rt: &ResourceType) -> Option<&TypeDefaults> {
        let i = self.types.iter().position(|t| std::ptr::eq(&**t, rt))?;
        self.defaults.get(i)
    }

    pub fn resource_type(&self, endpoint_segment: &str) -> Option<&Arc<ResourceType>> {
        self.types.iter().find(|t| {
            t.endpoint
                .trim_start_matches('/')
                .eq_ignore_ascii_case(endpoint_segment)
        })
    }

    pub fn refs(&self, base_url: &str) -> RefContext {
        RefContext::new(base_url.trim_end_matches('/').to_owned(), self.ref_endpoints.clone())
    }

    /// What a read must fetch beyond the entry's own fields.
    fn read_set(&self, rt: &ResourceType, projection: &Projection) -> Cow<'_, ReadSet> {
        match self.defaults_of(rt) {
            Some(d) if projection.is_default() => Cow::Borrowed(&d.read),
            _ => Cow::Owned(read_set_for(rt, projection)),
        }
    }

    /// Every child and relation: what a full read (PUT) needs.
    fn read_all(&self, rt: &ResourceType) -> ReadSet {
        ReadSet {
            children: rt.entity_spec.children.iter().map(|c| c.name.clone()).collect(),
            relations: rt.entity_spec.relations.iter().map(|r| r.name.clone()).collect(),
        }
    }

    fn render(
        &self,
        record: &Record,
        rt: &ResourceType,
        refs: &RefContext,
        projection: Option<&Projection>,
    ) -> Resource {
        let mut json = record::from_record(record, rt, refs);
        record::finish_meta(&mut json, rt, refs);
        let version = json
            .get("meta")
            .and_then(|m| m.get("version"))
            .and_then(Json::as_str)
            .map(str::to_owned);
        if let Some(p) = projection {
            // The default projection changes nothing unless the type has something to hide.
            let no_op = p.is_default() && self.defaults_of(rt).is_some_and(|d| !d.projection_needed);
            if no_op {
                // Every debug build (and so every end-to-end test) checks the claim.
                #[cfg(debug_assertions)]
                {
                    let mut projected = json.clone();
                    p.apply(&mut projected, &rt.schema);
                    debug_assert_eq!(projected, json, "the default projection changed a {} resource", rt.name);
                }
            } else {
                p.apply(&mut json, &rt.schema);
            }
        }
        Resource { json, version }
    }

    async fn fetch(&self, rt: &ResourceType, id: &str, read: &ReadSet) -> Result<Record, ScimError> {
        self.connector
            .get(rt.entity, id, read)
            .await?
            .ok_or_else(|| ScimError::not_found(format!("{} {id:?} not found", rt.name)))
    }

    /// GET /{type}/{id}
    pub async fn get(
        &self,
        rt: &ResourceType,
        id: &str,
        projection: &Projection,
        pre: &Preconditions,
        base_url: &str,
    ) -> Result<Got, ScimError> {
        let refs = self.refs(base_url);
        let record = self.fetch(rt, id, &self.read_set(rt, projection)).await?;
        let resource = self.render(&record, rt, &refs, Some(projection));
        if let (Some(inm), Some(v)) = (&pre.if_none_match, &resource.version)
            && etag_matches(inm, v)
        {
            return Ok(Got::NotModified { version: v.clone() });
        }
        Ok(Got::Resource(resource))
    }

    /// POST /{type}
    pub async fn create(
        &self,
        rt: &ResourceType,
        body: &Json,
        projection: &Projection,
        base_url: &str,
    ) -> Result<Resource, ScimError> {
        let new = new_record(rt, body)?;
        self.check_unique(rt, &new.fields, None).await?;
        let stored = (self.connector.create(rt.entity, &new).await).map_err(|e| in_scim_terms(rt, e))?;
        let refs = self.refs(base_url);
        Ok(self.render(&stored, rt, &refs, Some(projection)))
    }

    /// PUT /{type}/{id}: the mapped attributes become what the body says.
    pub async fn replace(
        &self,
        rt: &ResourceType,
        id: &str,
        body: &Json,
        projection: &Projection,
        pre: &Preconditions,
        base_url: &str,
    ) -> Result<Resource, ScimError> {
        let refs = self.refs(base_url);
        let current = self.fetch(rt, id, &self.read_all(rt)).await?;
        let current_view = self.render(&current, rt, &refs, None);
        check_if_match(pre, &current_view)?;
        let view = resource::normalize(body, &rt.schema, WriteMode::Replace)?;
        check_immutable(rt, &current_view.json, &view)?;
        check_required(&view, rt)?;
        let old = record::to_record(&current_view.json, rt, false)?;
        let new = record::to_record(&view, rt, false)?;
        let changes = record::diff(&old, &new, rt);
        self.write(rt, id, &changes, current_view.version.as_deref(), pre)
            .await?;
        self.reread(rt, id, projection, &refs).await
    }

    /// PATCH /{type}/{id}. Returns `None` when the response carries no body (204): for types
    /// with relations (groups), unless attributes were asked for.
    pub async fn patch(
        &self,
        rt: &ResourceType,
        id: &str,
        body: &Json,
        projection: Option<&Projection>,
        pre: &Preconditions,
        base_url: &str,
    ) -> Result<Option<Resource>, ScimError> {
        let ops = patch::parse_patch(body, &self.limits.filter, self.limits.max_patch_operations)?;
        let refs = self.refs(base_url);
        let delta_attrs = rt.delta_attributes();
        // A PATCH that only adds or removes members, with no If-Match, needs nothing from the
        // current resource: the deltas go straight to the backend, which answers 404 itself.
        let only_deltas = pre.if_match.is_none()
            && ops.iter().all(|op| {
                op.path.as_ref().is_some_and(|p| {
                    p.attr.urn.is_none() && delta_attrs.iter().any(|a| a.eq_ignore_ascii_case(&p.attr.attr))
                })
            });
        if only_deltas && projection.is_none() {
            let mut scratch = Json::Object(Default::default());
            let deltas = patch::apply_patch(&mut scratch, &ops, &rt.schema, &delta_attrs)?;
            let changes = ChangeSet {
                relations: relation_deltas(rt, deltas),
                ..Default::default()
            };
            self.write(rt, id, &changes, None, pre).await?;
            return Ok(None);
        }
        // Children are part of the view PATCH edits; relations travel as deltas only, so a
        // membership change never reads the member list.
        let read = ReadSet {
            children: self.read_all(rt).children,
            relations: Default::default(),
        };
        let current = self.fetch(rt, id, &read).await?;
        let current_view = self.render(&current, rt, &refs, None);
        check_if_match(pre, &current_view)?;
        let changes = patch_changes(rt, &current_view.json, &ops)?;
        self.write(rt, id, &changes, current_view.version.as_deref(), pre)
            .await?;
        let quiet = !delta_attrs.is_empty() && projection.is_none();
        if quiet {
            return Ok(None);
        }
        let default = Projection::default();
        self.reread(rt, id, projection.unwrap_or(&default), &refs)
            .await
            .map(Some)
    }

    /// DELETE /{type}/{id}
    pub async fn delete(
        &self,
        rt: &ResourceType,
        id: &str,
        pre: &Preconditions,
        base_url: &str,
    ) -> Result<(), ScimError> {
        let expected = match &pre.if_match {
            Some(h) if h.trim() != "*" => {
                let refs = self.refs(base_url);
                let current = self.fetch(rt, id, &ReadSet::default()).await?;
                let view = self.render(&current, rt, &refs, None);
                check_if_match(pre, &view)?;
                current.meta.version.clone()
            }
            _ => None,
        };
        self.connector.delete(rt.entity, id, expected.as_deref()).await?;
        Ok(())
    }

    async fn write(
        &self,
        rt: &ResourceType,
        id: &str,
        changes: &ChangeSet,
        version: Option<&str>,
        pre: &Preconditions,
    ) -> Result<(), ScimError> {
        if changes.is_empty() {
            return Ok(());
        }
        self.check_unique(rt, &changes.fields, Some(id)).await?;
        // The backend re-checks the version at write time when it can (no lost update);
        // only a backend version is passed down, never a content digest.
        let expected = if pre.if_match.is_some() && rt.meta.has_version {
            version.map(|v| v.trim_start_matches("W/").trim_matches('"').to_owned())
        } else {
            None
        };
        self.connector
            .modify(rt.entity, id, changes, expected.as_deref())
            .await
            .map_err(|e| in_scim_terms(rt, e))?;
        Ok(())
    }

    async fn reread(
        &self,
        rt: &ResourceType,
        id: &str,
        projection: &Projection,
        refs: &RefContext,
    ) -> Result<Resource, ScimError> {
        let record = self.fetch(rt, id, &self.read_set(rt, projection)).await?;
        Ok(self.render(&record, rt, refs, Some(projection)))
    }

    /// `unique` attributes: a clear 409 before the write, also on schemas without a unique
    /// index. The backend's own constraint still decides races.
    async fn check_unique(
        &self,
        rt: &ResourceType,
        fields: &crate::connector::Fields,
        own_id: Option<&str>,
    ) -> Result<(), ScimError> {
        use crate::connector::{CompareOp, FieldRef, Filter, PageRequest, Query};
        for m in rt
            .attrs
            .iter()
            .filter(|m| m.leaf_def.uniqueness != crate::scim::schema::Uniqueness::None)
        {
            let Target::Field { field, .. } = &m.target else {
                continue;
            };
            let Some(value) = fields.get(field).and_then(|v| v.first()) else {
                continue;
            };
            let mut terms = vec![Filter::Compare {
                field: FieldRef::Field(field.clone()),
                op: CompareOp::Eq,
                value: value.clone(),
                ignore_case: !m.leaf_def.case_exact && matches!(value, crate::connector::Value::Text(_)),
            }];
            if let Some(id) = own_id {
                terms.push(Filter::negate(Filter::Compare {
                    field: FieldRef::Id,
                    op: CompareOp::Eq,
                    value: crate::connector::Value::Text(id.to_owned()),
                    ignore_case: false,
                }));
            }
            let query = Query {
                filter: Filter::and(terms),
                sort: None,
                page: PageRequest::Offset { offset: 0, count: 1 },
                read: ReadSet::default(),
                want_total: false,
            };
            if !self.connector.search(rt.entity, &query).await?.records.is_empty() {
                return Err(ScimError::uniqueness(format!(
                    "{} {} is already taken",
                    m.path,
                    crate::connector::Value::to_string(value)
                )));
            }
        }
        Ok(())
    }
}

/// The backend entry a create body becomes: normalised, with required attributes checked.
/// Shared by the server and the dry runs (`scimgate map`, `scimgate test`).
pub fn new_record(rt: &ResourceType, body: &Json) -> Result<crate::connector::NewRecord, ScimError> {
    let view = resource::normalize(body, &rt.schema, WriteMode::Create)?;
    check_required(&view, rt)?;
    Ok(record::prune_for_create(record::to_record(&view, rt, true)?))
}

/// The minimal change set PATCH operations make to a resource's SCIM view: field changes
/// from the two records' diff, memberships as value deltas. Shared with the dry runs.
pub fn patch_changes(rt: &ResourceType, current: &Json, ops: &[patch::PatchOp]) -> Result<ChangeSet, ScimError> {
    let mut view = current.clone();
    let deltas = patch::apply_patch(&mut view, ops, &rt.schema, &rt.delta_attributes())?;
    check_required_kept(current, &view, rt)?;
    let old = record::to_record(current, rt, false)?;
    let new = record::to_record(&view, rt, false)?;
    let mut changes = record::diff(&old, &new, rt);
    changes.relations = relation_deltas(rt, deltas);
    Ok(changes)
}

/// PATCH value deltas keyed by relation name.
fn relation_deltas(rt: &ResourceType, deltas: BTreeMap<String, patch::ValueDelta>) -> BTreeMap<String, RelationDelta> {
    deltas
        .into_iter()
        .map(|(attr, d)| {
            let relation = rt.relation_of(None, &attr).unwrap_or(&attr).to_owned();
            let delta = RelationDelta {
                remove_all: d.remove_all,
                add: d.add,
                remove: d.remove,
            };
            (relation, delta)
        })
        .collect()
}

fn check_if_match(pre: &Preconditions, current: &Resource) -> Result<(), ScimError> {
    if let Some(h) = &pre.if_match {
        let ok = match &current.version {
            Some(v) => etag_matches(h, v),
            None => h.trim() == "*",
        };
        if !ok {
            return Err(ScimError::precondition_failed(
                "the resource has changed since the given version (If-Match)",
            ));
        }
    }
    Ok(())
}

fn check_required(view: &Json, rt: &ResourceType) -> Result<(), ScimError> {
    let missing = resource::missing_required(view, &rt.schema);
    if missing.is_empty() {
        Ok(())
    } else {
        Err(ScimError::invalid_value(format!(
            "required attribute(s) missing: {}",
            missing.join(", ")
        )))
    }
}

/// A write error that names a backend field, renamed to the SCIM attribute mapped to it: the
/// client sent `userName`, not `uid`. A field no attribute maps (a computed one) keeps its name.
fn in_scim_terms(rt: &ResourceType, e: crate::connector::ConnectorError) -> ScimError {
    use crate::connector::ConnectorError;
    use crate::mapping::model::Target;
    let scim_name = |field: String| {
        rt.attrs
            .iter()
            .find(|m| match &m.target {
                Target::Field { field: f, .. }
                | Target::Predicate { field: f, .. }
                | Target::Typed { field: f, .. }
                | Target::Reference { field: f, .. } => f.eq_ignore_ascii_case(&field),
                _ => false,
            })
            .map_or(field, |m| match &m.target {
                Target::Typed { type_value, .. } => format!(
                    "{}[type eq \"{type_value}\"].{}",
                    m.path.attr,
                    m.path.sub.as_deref().unwrap_or("value")
                ),
                _ => m.path.to_string(),
            })
    };
    let renamed = match e {
        ConnectorError::Conflict { field, detail } => ConnectorError::Conflict {
            field: field.map(scim_name),
            detail,
        },
        ConnectorError::InvalidValue { field, detail } => ConnectorError::InvalidValue {
            field: field.map(scim_name),
            detail,
        },
        other => other,
    };
    ScimError::from(renamed)
}

/// A PATCH may not remove a required attribute. One the stored resource already lacks (a
/// backend row written by another application; the empty resource of an offline dry run) is
/// not the PATCH's doing and does not fail an unrelated change.
fn check_required_kept(before: &Json, after: &Json, rt: &ResourceType) -> Result<(), ScimError> {
    let already = resource::missing_required(before, &rt.schema);
    let removed: Vec<String> = resource::missing_required(after, &rt.schema)
        .into_iter()
        .filter(|m| !already.contains(m))
        .collect();
    if removed.is_empty() {
        Ok(())
    } else {
        Err(ScimError::invalid_value(format!(
            "required attribute(s) missing: {}",
            removed.join(", ")
        )))
    }
}

/// RFC 7643 §7: an immutable attribute may be set once; a PUT may repeat it but not change it.
fn check_immutable(rt: &ResourceType, current: &Json, new: &Json) -> Result<(), ScimError> {
    for m in rt
        .attrs
        .iter()
        .filter(|m| m.leaf_def.mutability == Mutability::Immutable && m.path.sub.is_none())
    {
        let get = |j: &Json| resource::attribute_value(j, &rt.schema, m.path.urn.as_deref(), &m.path.attr).cloned();
        if let (Some(a), Some(b)) = (get(current), get(new))
            && a != b
        {
            return Err(ScimError::mutability(format!("{} is immutable", m.path)));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::diagnostic::SourceFile;
    use crate::mapping::compile::compile;
    use crate::scim::schema::Returned;

    fn compiled(dir: &str) -> Vec<ResourceType> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("mappings")
            .join(dir);
        let sources: Vec<SourceFile> = ["users.toml", "groups.toml"]
            .iter()
            .map(|f| {
                let path = root.join(f);
                let text = std::fs::read_to_string(&path).expect("mapping file");
                SourceFile::new(path, text)
            })
            .collect();
        match compile(&sources, "sql") {
            Ok(c) => c.into_iter().map(|c| c.resource).collect(),
            Err(e) => panic!("{e:?}"),
        }
    }

    #[test]
    fn shipped_mappings_skip_the_default_projection() {
        for dir in ["quickstart", "entra-id"] {
            for rt in compiled(dir) {
                assert!(!default_projection_needed(&rt), "{dir}: {}", rt.name);
            }
        }
    }

    #[test]
    fn a_hidden_attribute_or_sub_attribute_needs_the_projection() {
        let users = || {
            compiled("quickstart")
                .into_iter()
                .find(|t| t.name == "User")
                .expect("User")
        };
        let mapped =
            |rt: &ResourceType, attr: &str| rt.attrs.iter().any(|m| m.path.urn.is_none() && m.path.attr == attr);

        let mut rt = users();
        assert!(mapped(&rt, "userName"));
        for a in &mut rt.schema.core.attributes {
            if a.name == "userName" {
                a.returned = Returned::Request;
            }
        }
        assert!(default_projection_needed(&rt));

        let mut rt = users();
        assert!(mapped(&rt, "name"));
        for a in &mut rt.schema.core.attributes {
            if a.name == "name" {
                for sub in &mut a.sub_attributes {
                    sub.returned = Returned::Never;
                }
            }
        }
        assert!(default_projection_needed(&rt));

        let mut rt = users();
        for m in &mut rt.attrs {
            m.attr_def.returned = Returned::Request;
        }
        assert!(default_projection_needed(&rt));
    }

    #[test]
    fn only_the_empty_projection_is_default() {
        let rt = compiled("quickstart")
            .into_iter()
            .find(|t| t.name == "User")
            .expect("User");
        assert!(Projection::default().is_default());
        assert!(Projection::parse(None, None, &rt.schema).unwrap().is_default());
        assert!(Projection::parse(Some(" "), Some(""), &rt.schema).unwrap().is_default());
        assert!(
            !Projection::parse(Some("userName"), None, &rt.schema)
                .unwrap()
                .is_default()
        );
        assert!(
            !Projection::parse(None, Some("emails"), &rt.schema)
                .unwrap()
                .is_default()
        );
    }
}
