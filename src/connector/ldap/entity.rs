//! An entity's resolved configuration: its spec, its `[X.ldap]` part, and the derived
//! names (id attribute, password field, attribute → field lookup).

use std::collections::HashMap;

use super::ad;
use super::config::{IdFormat, LdapEntityConfig, PasswordWrite, SearchScope};
use super::dn;
use super::filter::escape_bytes;
use crate::connector::{ConnectorError, EntitySpec, ReferenceSpec, RelationSpec};

pub struct Entity {
    pub spec: EntitySpec,
    pub cfg: LdapEntityConfig,
    /// Lower-cased attribute name → field name.
    by_attr: HashMap<String, String>,
    /// The write-only field that carries the password, if any.
    pub password_field: Option<String>,
}

impl Entity {
    /// Checks one entity without I/O; `count` is the number of entities (relation targets).
    pub fn resolve(spec: EntitySpec, cfg: LdapEntityConfig, count: usize) -> Result<Entity, Vec<String>> {
        let mut errors = Vec::new();
        let name = spec.name.clone();
        let has = |f: &str| spec.fields.iter().any(|x| x.eq_ignore_ascii_case(f));
        if !has(&cfg.rdn) {
            errors.push(format!(
                "{name}: the rdn attribute `{}` must be one of the mapped fields",
                cfg.rdn
            ));
        }
        if let Err(e) = dn::parse(&cfg.base) {
            errors.push(format!("{name}: base: {e}"));
        }
        if let Some(parent) = &cfg.parent
            && let Err(e) = dn::parse(parent)
        {
            errors.push(format!("{name}: parent: {e}"));
        }
        if ldap3::parse_filter(&cfg.scope).is_err() {
            errors.push(format!("{name}: scope `{}` is not an RFC 4515 filter", cfg.scope));
        }
        if cfg.create_classes.is_empty() {
            errors.push(format!("{name}: create_classes must name at least one objectClass"));
        }
        if cfg.id.to.is_empty() {
            errors.push(format!("{name}: the id attribute is empty"));
        }
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
        if !errors.is_empty() {
            return Err(errors);
        }
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

    pub fn parent(&self) -> &str {
        self.cfg.parent.as_deref().unwrap_or(&self.cfg.base)
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
