//! The `attributes` and `excludedAttributes` query parameters (RFC 7644 §3.4.2.5, §3.9) and
//! the `returned` characteristic (RFC 7643 §7), applied to canonical resources.

use serde_json::{Map, Value};

use crate::scim::error::ScimError;
use crate::scim::resource::{get_ci, resolve_path};
use crate::scim::schema::{AttrType, AttributeDef, ResourceSchema, Returned, SchemaDef, common_attribute};

/// A parsed `attributes` or `excludedAttributes` list: comma-separated attribute paths, each
/// `[urn:]attr[.sub]`, names case-insensitive.
#[derive(Debug, Clone, Default)]
pub struct Projection {
    /// `attributes`: when given, only these (plus `returned: always`) are output.
    include: Option<Vec<Target>>,
    /// `excludedAttributes`: removed from the default set. Empty when `include` is given.
    exclude: Vec<Target>,
}

/// One resolved path of a list, in canonical spelling.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    /// A schema URN alone: all of that schema's attributes. `None` is the core schema.
    Schema(Option<String>),
    /// `[urn:]attr[.sub]`; `ext` is `None` for core and common attributes.
    Attr {
        ext: Option<String>,
        attr: String,
        sub: Option<String>,
    },
}

/// Which sub-attributes of an output complex attribute survive.
#[derive(Debug, Default)]
struct SubFilter {
    /// `attributes` named only these sub-attributes (`name.givenName`).
    only: Option<Vec<String>>,
    /// `excludedAttributes` named these sub-attributes.
    except: Vec<String>,
    /// Sub-attributes named in `attributes`, which releases `returned: request` ones.
    requested: Vec<String>,
}

impl Projection {
    /// `attributes` and `excludedAttributes` query parameters (each optional, comma-separated,
    /// whitespace around commas allowed).
    ///
    /// Both given: RFC 7644 §3.4.2.5 makes them mutually exclusive in a request; `attributes`
    /// is applied and `excludedAttributes` ignored. Unknown attribute names (and unknown schema
    /// URNs) are ignored, as RFC 7644 §3.9 asks of attributes the service provider does not
    /// support. A syntactically invalid path (a filter, more than one `.`, a character outside
    /// RFC 7643 §2.1 `ATTRNAME`) is 400 `invalidPath`. An empty parameter counts as absent and
    /// empty list items are skipped.
    pub fn parse(
        attributes: Option<&str>,
        excluded: Option<&str>,
        schema: &ResourceSchema,
    ) -> Result<Projection, ScimError> {
        if let Some(list) = attributes.filter(|s| !s.trim().is_empty()) {
            let include = parse_list(list, schema)?;
            return Ok(Projection {
                include: Some(include),
                exclude: Vec::new(),
            });
        }
        let exclude = match excluded {
            Some(list) => parse_list(list, schema)?,
            None => Vec::new(),
        };
        Ok(Projection { include: None, exclude })
    }

    /// Neither `attributes` nor `excludedAttributes` names anything: the output is the
    /// `returned: default` and `always` attributes.
    pub fn is_default(&self) -> bool {
        self.include.is_none() && self.exclude.is_empty()
    }

    /// Applies the projection to a canonical resource in place. Extension objects that become
    /// empty are removed, and so is their URN from `schemas`; `schemas` itself always stays.
    pub fn apply(&self, resource: &mut Value, schema: &ResourceSchema) {
        let Some(top) = resource.as_object_mut() else {
            return;
        };
        top.retain(|key, value| self.keep_top(key, value, schema));
        prune_schemas(top, schema);
    }

    /// Whether the top-level attribute (core or extension) will be part of the output, so the
    /// caller can skip reading it from the backend. Unknown attributes are not wanted.
    pub fn wants(&self, urn: Option<&str>, attr: &str, schema: &ResourceSchema) -> bool {
        match resolve_path(schema, urn, attr, None) {
            Some(r) => self.decide(r.extension.map(|e| e.id.as_str()), r.attr).is_some(),
            None => false,
        }
    }

    fn keep_top(&self, key: &str, value: &mut Value, schema: &ResourceSchema) -> bool {
        if key.eq_ignore_ascii_case("schemas") {
            return true;
        }
        if let Some(ext) = schema.extension(key) {
            return self.keep_extension(ext, value);
        }
        match schema.core.attribute(key).or_else(|| common_attribute(key)) {
            Some(def) => self.keep_attr(None, def, value),
            // Not in the schema (the canonical form should not have any): only the default
            // projection passes it through, since nothing can name it.
            None => self.include.is_none(),
        }
    }

    fn keep_extension(&self, ext: &SchemaDef, value: &mut Value) -> bool {
        let Some(attrs) = value.as_object_mut() else {
            return self.include.is_none();
        };
        attrs.retain(|key, value| match ext.attribute(key) {
            Some(def) => self.keep_attr(Some(&ext.id), def, value),
            None => self.include.is_none(),
        });
        !attrs.is_empty()
    }

    fn keep_attr(&self, ext: Option<&str>, def: &AttributeDef, value: &mut Value) -> bool {
        let Some(filter) = self.decide(ext, def) else {
            return false;
        };
        if def.kind == AttrType::Complex {
            filter_complex(value, def, &filter);
        }
        !is_empty(value)
    }

    /// Whether a top-level attribute is output (RFC 7643 §7 `returned`; RFC 7644 §3.9), and if
    /// so which of its sub-attributes.
    fn decide(&self, ext: Option<&str>, def: &AttributeDef) -> Option<SubFilter> {
        if def.returned == Returned::Never {
            return None;
        }
        match &self.include {
            Some(list) => decide_included(list, ext, def),
            None => self.decide_default(ext, def),
        }
    }

    /// Without `attributes`: the `default` and `always` ones, minus `excludedAttributes`
    /// (which cannot remove `always` ones).
    fn decide_default(&self, ext: Option<&str>, def: &AttributeDef) -> Option<SubFilter> {
        match def.returned {
            Returned::Always => Some(SubFilter::default()),
            Returned::Never | Returned::Request => None,
            Returned::Default => {
                let list = &self.exclude;
                if names_attr(list, ext, def) || names_schema(list, ext) {
                    return None;
                }
                let except = named_subs(list, ext, def);
                Some(SubFilter {
                    except,
                    ..SubFilter::default()
                })
            }
        }
    }
}

/// With `attributes`: the named ones plus `returned: always`. A schema URN alone names that
/// schema's attributes as the default projection would return them (not `request` ones).
fn decide_included(list: &[Target], ext: Option<&str>, def: &AttributeDef) -> Option<SubFilter> {
    let requested = named_subs(list, ext, def);
    let by_schema = names_schema(list, ext) && def.returned == Returned::Default;
    if def.returned == Returned::Always || names_attr(list, ext, def) || by_schema {
        return Some(SubFilter {
            requested,
            ..SubFilter::default()
        });
    }
    if requested.is_empty() {
        return None;
    }
    Some(SubFilter {
        only: Some(requested.clone()),
        requested,
        ..SubFilter::default()
    })
}

impl SubFilter {
    fn keeps(&self, sub: &AttributeDef) -> bool {
        let named = |list: &[String]| contains_ci(list, &sub.name);
        match sub.returned {
            Returned::Never => false,
            Returned::Always => true,
            _ if self.only.is_some() => self.only.as_deref().is_some_and(named),
            Returned::Request => named(&self.requested),
            Returned::Default => !named(&self.except),
        }
    }
}

fn parse_list(list: &str, schema: &ResourceSchema) -> Result<Vec<Target>, ScimError> {
    let mut targets = Vec::new();
    for raw in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if let Some(target) = parse_path(raw, schema)? {
            targets.push(target);
        }
    }
    Ok(targets)
}

/// One `[urn:]attr[.sub]` path (RFC 7644 §3.10); `None` when it names nothing the schema has.
fn parse_path(raw: &str, schema: &ResourceSchema) -> Result<Option<Target>, ScimError> {
    if let Some(def) = schema.schema(raw) {
        return Ok(Some(Target::Schema(extension_id(def, schema))));
    }
    let (urn, path) = split_urn(raw, schema);
    let invalid = || ScimError::invalid_path(format!("invalid attribute path \"{raw}\""));
    let (attr, sub) = match path.split_once('.') {
        Some((attr, sub)) => (attr, Some(sub)),
        None => (path, None),
    };
    if !is_attr_name(attr) || !sub.is_none_or(is_attr_name) {
        return Err(invalid());
    }
    if urn.is_some_and(|u| schema.schema(u).is_none()) {
        // A well-formed path in a schema this resource type does not have.
        return Ok(None);
    }
    Ok(resolve_path(schema, urn, attr, sub).map(|r| Target::Attr {
        ext: r.extension.map(|e| e.id.clone()),
        attr: r.attr.name.clone(),
        sub: r.sub.map(|s| s.name.clone()),
    }))
}

/// `None` for the core schema, else the extension's canonical URN.
fn extension_id(def: &SchemaDef, schema: &ResourceSchema) -> Option<String> {
    (!def.id.eq_ignore_ascii_case(&schema.core.id)).then(|| def.id.clone())
}

/// Splits a URN-qualified path into URN and `attr[.sub]`. A known schema URN prefix wins (URNs
/// contain `.` and `:`); an unknown `urn:` prefix is split at its last `:`.
fn split_urn<'a>(raw: &'a str, schema: &ResourceSchema) -> (Option<&'a str>, &'a str) {
    for urn in schema.urns() {
        if let Some((head, rest)) = raw.split_at_checked(urn.len())
            && head.eq_ignore_ascii_case(urn)
            && let Some(path) = rest.strip_prefix(':')
        {
            return (Some(head), path);
        }
    }
    let is_urn = raw.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"));
    match raw.rsplit_once(':') {
        Some((urn, path)) if is_urn => (Some(urn), path),
        _ => (None, raw),
    }
}

/// RFC 7643 §2.1 `ATTRNAME = ALPHA *(nameChar)`, `nameChar = "-" / "_" / DIGIT / ALPHA`, plus
/// the `$ref` sub-attribute of §2.3.7.
fn is_attr_name(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    (first_ok && rest_ok) || name.eq_ignore_ascii_case("$ref")
}

fn same_ext(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
        _ => false,
    }
}

fn contains_ci(list: &[String], name: &str) -> bool {
    list.iter().any(|n| n.eq_ignore_ascii_case(name))
}

/// The list names the whole attribute.
fn names_attr(list: &[Target], ext: Option<&str>, def: &AttributeDef) -> bool {
    list.iter().any(|t| {
        matches!(t, Target::Attr { ext: e, attr, sub: None }
            if same_ext(e.as_deref(), ext) && attr.eq_ignore_ascii_case(&def.name))
    })
}

/// The list names the attribute's schema by its URN alone.
fn names_schema(list: &[Target], ext: Option<&str>) -> bool {
    list.iter()
        .any(|t| matches!(t, Target::Schema(e) if same_ext(e.as_deref(), ext)))
}

/// The sub-attributes of the attribute that the list names (`name.givenName`).
fn named_subs(list: &[Target], ext: Option<&str>, def: &AttributeDef) -> Vec<String> {
    let sub_of = |t: &Target| match t {
        Target::Attr {
            ext: e,
            attr,
            sub: Some(sub),
        } if same_ext(e.as_deref(), ext) && attr.eq_ignore_ascii_case(&def.name) => Some(sub.clone()),
        _ => None,
    };
    list.iter().filter_map(sub_of).collect()
}

/// Removes the sub-attributes the filter does not keep, from a complex value or from each
/// element of a multi-valued one; elements left empty are removed (`attributes=emails.display`
/// on emails without a display).
fn filter_complex(value: &mut Value, def: &AttributeDef, filter: &SubFilter) {
    match value {
        Value::Object(obj) => filter_object(obj, def, filter),
        Value::Array(items) => {
            for item in items.iter_mut() {
                if let Some(obj) = item.as_object_mut() {
                    filter_object(obj, def, filter);
                }
            }
            items.retain(|item| !is_empty(item));
        }
        _ => {}
    }
}

fn filter_object(obj: &mut Map<String, Value>, def: &AttributeDef, filter: &SubFilter) {
    obj.retain(|key, _| match def.sub(key) {
        Some(sub) => filter.keeps(sub),
        None => filter.only.is_none(),
    });
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Object(obj) => obj.is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

/// Drops from `schemas` the URNs of extensions no longer present (RFC 7643 §3: `schemas` lists
/// the schemas the representation contains).
fn prune_schemas(top: &mut Map<String, Value>, schema: &ResourceSchema) {
    let absent: Vec<&str> = (schema.extensions.iter())
        .filter(|e| get_ci(top, &e.id).is_none())
        .map(|e| e.id.as_str())
        .collect();
    if let Some(Value::Array(urns)) = top.get_mut("schemas") {
        urns.retain(|u| {
            u.as_str()
                .is_none_or(|u| !absent.iter().any(|a| a.eq_ignore_ascii_case(u)))
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::error::ScimType;
    use crate::scim::schema::{CORE_USER, ENTERPRISE_USER, core_group};
    use serde_json::json;

    use crate::scim::schema::fixtures::user_schema;

    fn user() -> Value {
        json!({
            "schemas": [CORE_USER, ENTERPRISE_USER],
            "id": "2819c223",
            "externalId": "bjensen",
            "userName": "bjensen",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "password": "secret",
            "emails": [
                {"value": "b@example.com", "type": "work", "primary": true},
                {"value": "babs@example.org", "type": "home"}
            ],
            "meta": {"resourceType": "User", "version": "W/\"1\""},
            ENTERPRISE_USER: {"department": "R&D", "manager": {"value": "42"}}
        })
    }

    fn project(attributes: Option<&str>, excluded: Option<&str>) -> Value {
        project_with(&user_schema(), user(), attributes, excluded)
    }

    fn project_with(
        schema: &ResourceSchema,
        mut resource: Value,
        attributes: Option<&str>,
        excluded: Option<&str>,
    ) -> Value {
        match Projection::parse(attributes, excluded, schema) {
            Ok(p) => p.apply(&mut resource, schema),
            Err(e) => panic!("unexpected error: {e}"),
        }
        resource
    }

    /// The user schema with `name.middleName` returned `never`, `nickName` returned `request`
    /// and `name.honorificPrefix` returned `request`.
    fn schema_with_returned() -> ResourceSchema {
        let mut schema = user_schema();
        for attr in &mut schema.core.attributes {
            if attr.name == "nickName" {
                attr.returned = Returned::Request;
            }
            for sub in &mut attr.sub_attributes {
                match (attr.name.as_str(), sub.name.as_str()) {
                    ("name", "middleName") => sub.returned = Returned::Never,
                    ("name", "honorificPrefix") => sub.returned = Returned::Request,
                    _ => {}
                }
            }
        }
        schema
    }

    #[test]
    fn rfc7643_7_default_projection_drops_never() {
        let mut expected = user();
        if let Some(obj) = expected.as_object_mut() {
            obj.remove("password");
        }
        assert_eq!(project(None, None), expected);
    }

    #[test]
    #[allow(non_snake_case)] // named after the query it tests
    fn rfc7644_3_9_attributes_userName_returns_id_and_schemas() {
        assert_eq!(
            project(Some("userName"), None),
            json!({"schemas": [CORE_USER], "id": "2819c223", "userName": "bjensen"})
        );
    }

    #[test]
    fn rfc7644_3_9_names_case_insensitive_and_whitespace_around_commas() {
        assert_eq!(
            project(Some(" USERNAME ,  Name.GivenName,"), None),
            json!({
                "schemas": [CORE_USER],
                "id": "2819c223",
                "userName": "bjensen",
                "name": {"givenName": "Barbara"}
            })
        );
    }

    #[test]
    fn rfc7644_3_9_sub_attribute_of_multi_valued() {
        assert_eq!(
            project(Some("emails.value"), None),
            json!({
                "schemas": [CORE_USER],
                "id": "2819c223",
                "emails": [{"value": "b@example.com"}, {"value": "babs@example.org"}]
            })
        );
        assert_eq!(project(Some("emails"), None)["emails"], user()["emails"]);
        // No email has a display: the elements and then the attribute vanish.
        assert_eq!(
            project(Some("emails.display"), None),
            json!({"schemas": [CORE_USER], "id": "2819c223"})
        );
    }

    #[test]
    fn rfc7644_3_9_sub_attribute_and_parent_both_named() {
        let out = project(Some("name.givenName,name"), None);
        assert_eq!(out["name"], json!({"givenName": "Barbara", "familyName": "Jensen"}));
    }

    #[test]
    fn rfc7644_3_9_excluded_sub_attribute_and_whole() {
        let out = project(None, Some("name.givenName,emails.type,meta"));
        assert_eq!(out["name"], json!({"familyName": "Jensen"}));
        assert_eq!(
            out["emails"],
            json!([{"value": "b@example.com", "primary": true}, {"value": "babs@example.org"}])
        );
        assert_eq!(out.get("meta"), None);
        assert_eq!(out["userName"], json!("bjensen"));
    }

    #[test]
    fn rfc7643_7_returned_always_survives_exclusion() {
        let out = project(None, Some("id,schemas,userName"));
        assert_eq!(out["id"], json!("2819c223"));
        assert_eq!(out["schemas"], json!([CORE_USER, ENTERPRISE_USER]));
        assert_eq!(out.get("userName"), None);
    }

    #[test]
    fn rfc7643_7_returned_never_even_if_asked() {
        assert_eq!(
            project(Some("password"), None),
            json!({"schemas": [CORE_USER], "id": "2819c223"})
        );
    }

    #[test]
    fn rfc7643_7_returned_request_only_when_named() {
        let schema = schema_with_returned();
        let mut resource = user();
        resource["nickName"] = json!("Babs");
        resource["name"]["honorificPrefix"] = json!("Ms.");
        resource["name"]["middleName"] = json!("Jane");
        let out = project_with(&schema, resource.clone(), None, None);
        assert_eq!(out.get("nickName"), None);
        assert_eq!(out["name"], json!({"givenName": "Barbara", "familyName": "Jensen"}));
        let out = project_with(&schema, resource.clone(), Some("nickName,name.honorificPrefix"), None);
        assert_eq!(
            out,
            json!({
                "schemas": [CORE_USER],
                "id": "2819c223",
                "nickName": "Babs",
                "name": {"honorificPrefix": "Ms."}
            })
        );
        // Naming `name` whole does not release its `request` or `never` sub-attributes.
        let out = project_with(&schema, resource, Some("name,name.middleName"), None);
        assert_eq!(out["name"], json!({"givenName": "Barbara", "familyName": "Jensen"}));
    }

    #[test]
    fn rfc7644_3_10_urn_qualified_names() {
        assert_eq!(
            project(
                Some(
                    "urn:ietf:params:scim:schemas:core:2.0:User:userName,\
                     urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"
                ),
                None
            ),
            json!({
                "schemas": [CORE_USER, ENTERPRISE_USER],
                "id": "2819c223",
                "userName": "bjensen",
                ENTERPRISE_USER: {"department": "R&D"}
            })
        );
        let out = project(
            None,
            Some("URN:ietf:params:scim:schemas:extension:enterprise:2.0:User:Manager"),
        );
        assert_eq!(out[ENTERPRISE_USER], json!({"department": "R&D"}));
        let out = project(
            Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"),
            None,
        );
        assert_eq!(out[ENTERPRISE_USER], json!({"manager": {"value": "42"}}));
        let out = project(Some("urn:ietf:params:scim:schemas:core:2.0:User:id,department"), None);
        assert_eq!(
            out,
            json!({"schemas": [CORE_USER, ENTERPRISE_USER], "id": "2819c223", ENTERPRISE_USER: {"department": "R&D"}})
        );
    }

    #[test]
    fn rfc7644_3_10_whole_extension_by_urn() {
        let out = project(Some(ENTERPRISE_USER), None);
        assert_eq!(
            out,
            json!({
                "schemas": [CORE_USER, ENTERPRISE_USER],
                "id": "2819c223",
                ENTERPRISE_USER: {"department": "R&D", "manager": {"value": "42"}}
            })
        );
        let out = project(None, Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:user"));
        assert_eq!(out.get(ENTERPRISE_USER), None);
        assert_eq!(out["schemas"], json!([CORE_USER]));
        // The core URN alone names the top-level attributes, common ones included.
        let mut expected = user();
        if let Some(obj) = expected.as_object_mut() {
            obj.remove("password");
            obj.remove(ENTERPRISE_USER);
            obj.insert("schemas".to_owned(), json!([CORE_USER]));
        }
        assert_eq!(project(Some(CORE_USER), None), expected);
    }

    #[test]
    fn extension_emptied_by_exclusion_leaves_schemas() {
        let out = project(None, Some("department,manager"));
        assert_eq!(out.get(ENTERPRISE_USER), None);
        assert_eq!(out["schemas"], json!([CORE_USER]));
    }

    #[test]
    fn rfc7644_3_4_2_5_both_given_attributes_wins() {
        assert_eq!(
            project(Some("userName"), Some("userName,id")),
            json!({"schemas": [CORE_USER], "id": "2819c223", "userName": "bjensen"})
        );
    }

    #[test]
    fn rfc7644_3_9_unknown_names_ignored() {
        let out = project(
            None,
            Some("shoeSize,name.nickname,urn:example:params:scim:schemas:Foo:bar"),
        );
        assert_eq!(out, project(None, None));
        assert_eq!(
            project(Some("shoeSize,displayName"), None),
            json!({"schemas": [CORE_USER], "id": "2819c223"})
        );
        // Empty parameters are absent.
        assert_eq!(project(Some(""), Some(" ")), project(None, None));
    }

    #[test]
    fn rfc7644_3_10_invalid_path_rejected() {
        let schema = user_schema();
        for bad in [
            "emails[type eq \"work\"]",
            "name.givenName.x",
            "user name",
            "1abc",
            "name.",
            ".x",
        ] {
            let e = Projection::parse(Some(bad), None, &schema).expect_err(bad);
            assert_eq!((e.status, e.scim_type), (400, Some(ScimType::InvalidPath)), "{bad}");
            assert_eq!(e.detail, format!("invalid attribute path \"{bad}\""));
            let e = Projection::parse(None, Some(bad), &schema).expect_err(bad);
            assert_eq!(e.scim_type, Some(ScimType::InvalidPath));
        }
    }

    #[test]
    fn group_excluded_members() {
        let schema = ResourceSchema {
            core: core_group(),
            extensions: vec![],
        };
        let group = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "id": "g1",
            "displayName": "Admins",
            "members": [{"value": "u1"}]
        });
        let out = project_with(&schema, group, None, Some("members"));
        assert_eq!(
            out,
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": "g1", "displayName": "Admins"})
        );
    }

    #[test]
    fn wants_follows_returned_and_lists() {
        let schema = ResourceSchema {
            core: core_group(),
            extensions: vec![],
        };
        let parse = |a: Option<&str>, e: Option<&str>| Projection::parse(a, e, &schema).expect("valid projection");
        assert!(Projection::default().wants(None, "members", &schema));
        assert!(!parse(None, Some("members")).wants(None, "members", &schema));
        assert!(!parse(Some("displayName"), None).wants(None, "members", &schema));
        assert!(parse(Some("members.value"), None).wants(None, "members", &schema));
        assert!(parse(Some("displayName"), None).wants(None, "id", &schema));
        assert!(!parse(Some("displayName"), None).wants(None, "meta", &schema));

        let schema = schema_with_returned();
        let default = Projection::default();
        assert!(!default.wants(None, "password", &schema));
        assert!(!default.wants(None, "nickName", &schema));
        assert!(default.wants(Some(ENTERPRISE_USER), "manager", &schema));
        assert!(default.wants(None, "department", &schema));
        assert!(!default.wants(None, "shoeSize", &schema));
        let p = Projection::parse(Some("nickName,password"), None, &schema).expect("valid");
        assert!(p.wants(None, "nickName", &schema));
        assert!(!p.wants(None, "password", &schema));
        let p = Projection::parse(None, Some(ENTERPRISE_USER), &schema).expect("valid");
        assert!(!p.wants(Some(ENTERPRISE_USER), "manager", &schema));
        assert!(p.wants(None, "userName", &schema));
    }
}
