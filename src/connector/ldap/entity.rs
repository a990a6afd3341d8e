//! An entity's resolved configuration: its spec, its `[X.ldap]` part, and the derived
//! names (id attribute, password field, attribute → field lookup).

use std::collections::HashMap;

use super::ad;
use super::config::{IdFormat, LdapEntityConfig, PasswordWrite, SearchScope};
use super::dn;
use super::filter::escape_bytes;
use super::placement::Placement;
use crate::connector::{ConnectorError, EntitySpec, ReferenceSpec, RelationSpec};

pub struct Entity {
    pub spec: EntitySpec,
    pub cfg: LdapEntityConfig,
    /// Lower-cased attribute name → field name.
    by_attr: HashMap<String, String>,
    /// The write-only field that carries the password, if any.
    pub password_field: Option<String>,
    /// Where entries live: `parent`, fixed or a template over the entry's fields.
    pub placement: Placement,
}

impl Entity {
    /// Checks one entity without I/O; `count` is the number of entities (relation targets).
    pub fn resolve(spec: EntitySpec, cfg: LdapEntityConfig, count: usize) -> Result<Entity, Vec<String>> {
        let mut errors = Vec::new();
        let name = spec.name.clone();
        let has = |f: &str| spec.fields.iter().any(|x| x.eq_ignore_ascii_case(f));
        let (part_errors, placement) = check_part(&spec.fields, &cfg);
        errors.extend(part_errors.into_iter().map(|e| format!("{name}: {e}")));
        for rel in &spec.relations {
            if rel.attribute.as_deref().is_none_or(str::is_empty) {
                errors.push(format!("{name}: relation `{}` has no LDAP attribute", rel.name));
            }
            if rel.targets.is_empty() || rel.targets.iter().any(|t| t.0 >= count) {
                errors.push(format!("{name}: relation `{}` has an unknown target", rel.name));
            }
            if let Some(empty) = &rel.empty
                && let Err(e) = dn::parse(empty)
            {
                errors.push(format!("{name}: relation `{}` placeholder: {e}", rel.name));
            }
        }
        for r in &spec.references {
            if !has(&r.field) {
                errors.push(format!("{name}: reference `{}` is not a mapped field", r.field));
            }
            if r.targets.is_empty() || r.targets.iter().any(|t| t.0 >= count) {
                errors.push(format!("{name}: reference `{}` has an unknown target", r.field));
            }
        }
        let password_field = match &cfg.password_field {
            Some(f) => {
                if !has(f) {
                    errors.push(format!("{name}: password_field `{f}` is not a mapped field"));
                }
                Some(f.clone())
            }
            None => spec
                .fields
                .iter()
                .find(|f| f.eq_ignore_ascii_case("userPassword") || f.eq_ignore_ascii_case("unicodePwd"))
                .cloned(),
        };
        if cfg.password == PasswordWrite::Exop && password_field.is_none() {
            errors.push(format!(
                "{name}: password = \"exop\" needs a password field (`userPassword` or `password_field`)"
            ));
        }
        let Some(placement) = placement.filter(|_| errors.is_empty()) else {
            return Err(errors);
        };
        let by_attr = spec
            .fields
            .iter()
            .map(|f| (f.to_ascii_lowercase(), f.clone()))
            .collect();
        Ok(Entity {
            spec,
            cfg,
            by_attr,
            password_field,
            placement,
        })
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }

    pub fn id_attr(&self) -> &str {
        &self.cfg.id.to
    }

    pub fn scope(&self) -> ldap3::Scope {
        match self.cfg.search_scope {
            SearchScope::Sub => ldap3::Scope::Subtree,
            SearchScope::One => ldap3::Scope::OneLevel,
        }
    }

    /// The parent DN of an entry with these field values; a rendered parent outside `base`
    /// is refused, since the entry would vanish from every read.
    pub fn parent_for(&self, value_of: impl Fn(&str) -> Option<String>) -> Result<String, ConnectorError> {
        let parent = self.placement.render(value_of)?;
        if self.placement.is_template() && !dn::is_under(&parent, &self.cfg.base) {
            return Err(ConnectorError::InvalidValue {
                field: self.placement.inputs().first().cloned(),
                detail: format!("the entry would be placed at `{parent}`, outside `{}`", self.cfg.base),
            });
        }
        Ok(parent)
    }

    /// The field an attribute returned by the server belongs to (case-insensitive,
    /// options such as `;binary` ignored).
    pub fn field_of(&self, attr: &str) -> Option<&str> {
        let base = attr.split(';').next().unwrap_or(attr);
        self.by_attr.get(&base.to_ascii_lowercase()).map(String::as_str)
    }

    pub fn has_field(&self, name: &str) -> bool {
        self.field_of(name).is_some()
    }

    pub fn is_password(&self, field: &str) -> bool {
        self.password_field
            .as_deref()
            .is_some_and(|p| p.eq_ignore_ascii_case(field))
    }

    pub fn relation(&self, name: &str) -> Result<&RelationSpec, ConnectorError> {
        self.spec
            .relations
            .iter()
            .find(|r| r.name == name)
            .ok_or_else(|| ConnectorError::Unsupported(format!("{} has no relation `{name}`", self.name())))
    }

    pub fn reference(&self, field: &str) -> Option<&ReferenceSpec> {
        self.spec
            .references
            .iter()
            .find(|r| r.field.eq_ignore_ascii_case(field))
    }

    /// Attributes the directory maintains: id, version, timestamps. Writes refuse them.
    pub fn is_managed(&self, field: &str) -> bool {
        let eq = |a: Option<&str>| a.is_some_and(|a| a.eq_ignore_ascii_case(field));
        eq(Some(self.id_attr()))
            || eq(self.cfg.version.as_deref())
            || eq(self.cfg.created.as_deref())
            || eq(self.cfg.modified.as_deref())
    }

    /// The escaped assertion value of an id, `None` when the string cannot be an id
    /// (not a UUID for `entryUUID`, not a GUID for `format = "guid"`, empty).
    pub fn id_assertion(&self, id: &str) -> Option<String> {
        match self.cfg.id.format {
            IdFormat::Guid => ad::guid_from_string(id).map(|b| escape_bytes(&b)),
            IdFormat::Text if self.id_attr().eq_ignore_ascii_case("entryUUID") => {
                ad::is_uuid(id).then(|| super::filter::escape_value(&id.to_ascii_lowercase()))
            }
            IdFormat::Text => (!id.is_empty()).then(|| super::filter::escape_value(id)),
        }
    }

    /// `(<idattr>=<escaped id>)`, `None` for an impossible id.
    pub fn id_filter(&self, id: &str) -> Option<String> {
        self.id_assertion(id).map(|v| format!("({}={v})", self.id_attr()))
    }

    /// The id of an entry from its id attribute's raw value.
    pub fn id_from_bytes(&self, bytes: &[u8]) -> Option<String> {
        match self.cfg.id.format {
            IdFormat::Guid => ad::guid_to_string(bytes),
            IdFormat::Text => String::from_utf8(bytes.to_vec()).ok(),
        }
    }

    /// `(&<scope><inner>)`.
    pub fn scoped(&self, inner: &str) -> String {
        format!("(&{}{inner})", self.cfg.scope)
    }
}

/// The checks of an `[X.ldap]` part that need only the entity's mapped fields; `scimgate
/// check` reports them at the part's position. The placement, when `parent` is usable.
pub fn check_part(fields: &[String], cfg: &LdapEntityConfig) -> (Vec<String>, Option<Placement>) {
    let mut errors = Vec::new();
    if !fields.iter().any(|x| x.eq_ignore_ascii_case(&cfg.rdn)) {
        errors.push(format!(
            "the rdn attribute `{}` must be one of the mapped fields",
            cfg.rdn
        ));
    }
    if let Err(e) = dn::parse(&cfg.base) {
        errors.push(format!("base: {e}"));
    }
    let placement = match Placement::parse(cfg.parent.as_deref(), &cfg.base, fields) {
        Ok(p) => {
            if let Placement::Fixed(parent) = &p
                && !dn::is_under(parent, &cfg.base)
            {
                errors.push(format!(
                    "parent `{parent}` is not under base `{}`: new entries would be invisible",
                    cfg.base
                ));
            }
            if p.is_template() && cfg.search_scope == SearchScope::One {
                errors.push("a parent template places entries below base; use search_scope = \"sub\"".into());
            }
            Some(p)
        }
        Err(e) => {
            errors.push(format!("parent: {e}"));
            None
        }
    };
    if ldap3::parse_filter(&cfg.scope).is_err() {
        errors.push(format!("scope `{}` is not an RFC 4515 filter", cfg.scope));
    }
    if cfg.create_classes.is_empty() {
        errors.push("create_classes must name at least one objectClass".into());
    }
    if cfg.id.to.is_empty() {
        errors.push("the id attribute is empty".into());
    }
    (errors, placement)
}
