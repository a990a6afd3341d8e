//! RFC 4515 filters rendered from the backend-neutral [`Filter`] tree.
//!
//! Case: the attribute's matching rule decides on the server. When the subschema was read
//! (OpenLDAP), an equality whose rule folds case but must not (or the reverse) names the
//! right rule by extensible match (`(title:caseExactMatch:=x)`); a substring or unknown
//! rule cannot be named, so a case-sensitive term is sent as a superset and listed by
//! [`unsupported`] (the engine re-checks or refuses). Literals without cased letters are
//! exact either way. Ordering terms on attributes without an ORDERING rule are refused.
//!
//! Ids inside `Related` terms and reference comparisons (a manager) become DNs through a
//! resolver: the connector resolves every id of a filter in one batched search first.

use crate::connector::{CompareOp, ConnectorError, FieldRef, Filter, Unsupported, Value};

use super::entity::Entity;
use super::schema::Schema;
use super::values;

/// Matches every entry: an empty AND.
pub const ALL: &str = "(objectClass=*)";
/// Matches nothing: an empty OR, `False`.
pub const NONE: &str = "(!(objectClass=*))";
/// LDAP_MATCHING_RULE_BIT_AND.
pub const BIT_AND: &str = "1.2.840.113556.1.4.803";

/// Escapes an assertion value (RFC 4515 §3): `*` `(` `)` `\` NUL as `\2a` `\28` `\29` `\5c`
/// `\00`; everything else (UTF-8 included) as is.
pub fn escape_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '*' => out.push_str("\\2a"),
            '(' => out.push_str("\\28"),
            ')' => out.push_str("\\29"),
            '\\' => out.push_str("\\5c"),
            '\0' => out.push_str("\\00"),
            c => out.push(c),
        }
    }
    out
}

/// Every byte as `\xx`: binary assertion values (objectGUID).
pub fn escape_bytes(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("\\{b:02x}")).collect()
}

/// Turns an id into the DN of its entry; `None` when no such entry exists.
pub type Resolver<'a> = &'a dyn Fn(&str) -> Option<String>;

pub struct Render<'a> {
    pub entity: &'a Entity,
    pub dn_of: Resolver<'a>,
    /// The directory's matching rules, when its schema was read (not on AD, not offline).
    pub schema: Option<&'a Schema>,
    /// For [`unsupported`]: also refuse what [`Render::render`] can only approximate by a
    /// superset (a case-sensitive comparison the directory folds). A search renders the
    /// superset; the engine, told by `unsupported`, re-checks or refuses.
    pub strict: bool,
}

/// A rendered comparison's assertion value, or the knowledge that the literal is impossible.
enum Literal {
    Value(String),
    Impossible,
}

impl Render<'_> {
    pub fn render(&self, filter: &Filter) -> Result<String, ConnectorError> {
        Ok(match filter {
            Filter::True => ALL.to_owned(),
            Filter::False => NONE.to_owned(),
            Filter::And(terms) if terms.is_empty() => ALL.to_owned(),
            Filter::Or(terms) if terms.is_empty() => NONE.to_owned(),
            Filter::And(terms) => format!("(&{})", self.all(terms)?),
            Filter::Or(terms) => format!("(|{})", self.all(terms)?),
            Filter::Not(inner) => format!("(!{})", self.render(inner)?),
            Filter::Present(field) => format!("({}=*)", self.attribute(field)?),
            Filter::Compare {
                field,
                op,
                value,
                ignore_case,
            } => self.compare(field, *op, value, *ignore_case)?,
            Filter::Child { child, .. } => {
                return Err(ConnectorError::Unsupported(format!(
                    "LDAP has no child tables: cannot filter on `{child}` rows"
                )));
            }
            Filter::Related { relation, ids } => self.related(relation, ids.as_deref())?,
            Filter::Bits { field, mask } => {
                let attr = self.attribute(&FieldRef::Field(field.clone()))?;
                format!("({attr}:{BIT_AND}:={mask})")
            }
        })
    }

    fn all(&self, terms: &[Filter]) -> Result<String, ConnectorError> {
        terms.iter().map(|t| self.render(t)).collect()
    }

    fn attribute(&self, field: &FieldRef) -> Result<String, ConnectorError> {
        let e = self.entity;
        match field {
            FieldRef::Id => Ok(e.id_attr().to_owned()),
            FieldRef::Created => e.cfg.created.clone().ok_or_else(|| {
                ConnectorError::Unsupported(format!("{} maps no creation timestamp attribute", e.name()))
            }),
            FieldRef::Modified => e.cfg.modified.clone().ok_or_else(|| {
                ConnectorError::Unsupported(format!("{} maps no modification timestamp attribute", e.name()))
            }),
            FieldRef::Field(name) => {
                if e.is_password(name) {
                    return Err(ConnectorError::Unsupported(format!(
                        "`{name}` is write-only and cannot be searched"
                    )));
                }
                e.field_of(name)
                    .map(str::to_owned)
                    .ok_or_else(|| ConnectorError::Unsupported(format!("{} has no field `{name}`", e.name())))
            }
        }
    }

    fn literal(&self, field: &FieldRef, op: CompareOp, value: &Value) -> Result<Literal, ConnectorError> {
        let e = self.entity;
        let eq_only = |what: &str| {
            if matches!(op, CompareOp::Eq | CompareOp::Ne) {
                Ok(())
            } else {
                Err(ConnectorError::Unsupported(format!(
                    "{what} supports only eq and ne, not {}",
                    op.as_str()
                )))
            }
        };
        match field {
            FieldRef::Id => {
                eq_only("the id")?;
                let text = value_text(value);
                Ok(e.id_assertion(&text).map_or(Literal::Impossible, Literal::Value))
            }
            FieldRef::Created | FieldRef::Modified => Ok(value
                .as_text()
                .and_then(values::rfc3339_to_generalized)
                .map_or(Literal::Impossible, Literal::Value)),
            FieldRef::Field(name) if e.reference(name).is_some() => {
                eq_only(&format!("the reference `{name}`"))?;
                Ok((self.dn_of)(&value_text(value))
                    .map(|dn| Literal::Value(escape_value(&dn)))
                    .unwrap_or(Literal::Impossible))
            }
            FieldRef::Field(_) => Ok(Literal::Value(match value {
                Value::Bytes(b) => escape_bytes(b),
                other => escape_value(&String::from_utf8_lossy(&values::to_bytes(other))),
            })),
        }
    }

    /// Case for text comparisons on mapped fields. An equality whose rule folds case when
    /// the comparison must not (or the reverse) names the right rule by extensible match:
    /// `(title:caseExactMatch:=x)`. Returns that term and whether it applies. Substring and
    /// ordering rules cannot be named in a filter: a mismatch there, or an attribute whose
    /// rule is not known, is rendered as is (a superset for case-sensitive terms) and refused
    /// in strict mode.
    fn equality(
        &self,
        field: &FieldRef,
        a: &str,
        op: CompareOp,
        value: &Value,
        ignore_case: bool,
    ) -> Result<(String, bool), ConnectorError> {
        let FieldRef::Field(name) = field else {
            return Ok((String::new(), false));
        };
        if !matches!(value, Value::Text(_)) || self.entity.reference(name).is_some() {
            return Ok((String::new(), false));
        }
        // A literal without cased letters (`%_*`, digits) compares the same either way.
        let text = value_text(value);
        if text.chars().all(|c| c.to_lowercase().eq(c.to_uppercase())) {
            return Ok((String::new(), false));
        }
        let lower = a.to_ascii_lowercase();
        let rule = match op {
            CompareOp::Eq | CompareOp::Ne => self.schema.and_then(|s| s.equality.get(&lower)),
            CompareOp::Contains | CompareOp::StartsWith | CompareOp::EndsWith => {
                self.schema.and_then(|s| s.substr.get(&lower))
            }
            _ => self.schema.and_then(|s| s.equality.get(&lower)),
        };
        let folds = rule.map(|r| r.contains("ignore"));
        let eq_op = matches!(op, CompareOp::Eq | CompareOp::Ne);
        if eq_op && let Some(rule) = rule {
            let named = match (rule.as_str(), ignore_case) {
                ("caseignorematch", false) => Some("caseExactMatch"),
                ("caseignoreia5match", false) => Some("caseExactIA5Match"),
                ("caseexactmatch", true) => Some("caseIgnoreMatch"),
                ("caseexactia5match", true) => Some("caseIgnoreIA5Match"),
                _ => None,
            };
            if let Some(named) = named {
                return Ok((format!("({a}:{named}:={})", escape_value(&text)), true));
            }
            return Ok((String::new(), false));
        }
        // Case-sensitive text the directory may fold: a superset.
        let folded = match folds {
            Some(folds) => folds != ignore_case && !ignore_case,
            None => !ignore_case,
        };
        let narrowed = folds == Some(false) && ignore_case && rule.is_some_and(|r| r.contains("exact"));
        if self.strict && (folded || narrowed) {
            return Err(ConnectorError::Unsupported(format!(
                "`{a}`: the directory's matching rule {} case for {}; the term is rendered as a superset",
                if narrowed { "respects" } else { "may fold" },
                op.as_str()
            )));
        }
        if narrowed {
            return Err(ConnectorError::Unsupported(format!(
                "`{a}` matches case-exactly: a case-insensitive {} cannot be evaluated",
                op.as_str()
            )));
        }
        Ok((String::new(), false))
    }

    fn compare(
        &self,
        field: &FieldRef,
        op: CompareOp,
        value: &Value,
        ignore_case: bool,
    ) -> Result<String, ConnectorError> {
        let a = self.attribute(field)?;
        let ordering = matches!(op, CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le);
        if ordering
            && !matches!(field, FieldRef::Id)
            && let Some(schema) = self.schema
            && !schema.ordered.contains(&a.to_ascii_lowercase())
        {
            return Err(ConnectorError::Unsupported(format!(
                "`{a}` has no ORDERING rule in the directory's schema: {} cannot be evaluated",
                op.as_str()
            )));
        }
        let v = match self.literal(field, op, value)? {
            Literal::Value(v) => v,
            Literal::Impossible if op == CompareOp::Ne => return Ok(ALL.to_owned()),
            Literal::Impossible => return Ok(NONE.to_owned()),
        };
        let (eq, exact) = self.equality(field, &a, op, value, ignore_case)?;
        Ok(match op {
            CompareOp::Eq if exact => eq,
            CompareOp::Ne if exact => format!("(!{eq})"),
            CompareOp::Eq => format!("({a}={v})"),
            CompareOp::Ne => format!("(!({a}={v}))"),
            CompareOp::Contains if v.is_empty() => format!("({a}=*)"),
            CompareOp::StartsWith if v.is_empty() => format!("({a}=*)"),
            CompareOp::EndsWith if v.is_empty() => format!("({a}=*)"),
            CompareOp::Contains => format!("({a}=*{v}*)"),
            CompareOp::StartsWith => format!("({a}={v}*)"),
            CompareOp::EndsWith => format!("({a}=*{v})"),
            CompareOp::Gt => format!("(&({a}>={v})(!({a}={v})))"),
            CompareOp::Ge => format!("({a}>={v})"),
            CompareOp::Lt => format!("(&({a}<={v})(!({a}={v})))"),
            CompareOp::Le => format!("({a}<={v})"),
        })
    }

    fn related(&self, relation: &str, ids: Option<&[String]>) -> Result<String, ConnectorError> {
        let rel = self.entity.relation(relation)?;
        let attr = rel.attribute.as_deref().unwrap_or_default();
        let Some(ids) = ids else {
            // Linked to anything: the placeholder member is not a link.
            return Ok(match &rel.empty {
                Some(empty) => format!("(&({attr}=*)(!({attr}={})))", escape_value(empty)),
                None => format!("({attr}=*)"),
            });
        };
        let terms: Vec<String> = ids
            .iter()
            .filter_map(|id| (self.dn_of)(id))
            .map(|dn| format!("({attr}={})", escape_value(&dn)))
            .collect();
        Ok(match terms.len() {
            0 => NONE.to_owned(),
            1 => terms.concat(),
            _ => format!("(|{})", terms.concat()),
        })
    }
}

fn value_text(value: &Value) -> String {
    match value {
        Value::Text(s) => s.clone(),
        other => String::from_utf8_lossy(&values::to_bytes(other)).into_owned(),
    }
}

/// The ids a filter needs as DNs, with the entities they may belong to: `Related` ids and
/// reference comparisons. The connector resolves them in one batched search.
pub fn ids_to_resolve(entity: &Entity, filter: &Filter, out: &mut Vec<(Vec<crate::connector::EntityId>, String)>) {
    match filter {
        Filter::And(terms) | Filter::Or(terms) => terms.iter().for_each(|t| ids_to_resolve(entity, t, out)),
        Filter::Not(inner) => ids_to_resolve(entity, inner, out),
        Filter::Related {
            relation,
            ids: Some(ids),
        } => {
            if let Ok(rel) = entity.relation(relation) {
                out.extend(ids.iter().map(|id| (rel.targets.clone(), id.clone())));
            }
        }
        Filter::Compare {
            field: FieldRef::Field(name),
            value,
            ..
        } => {
            if let Some(r) = entity.reference(name) {
                out.push((r.targets.clone(), value_text(value)));
            }
        }
        _ => {}
    }
}

/// The leaf terms the connector cannot render: child filters, unknown or write-only fields,
/// timestamps the entity does not map, and operators other than eq/ne on ids and references.
pub fn unsupported(entity: &Entity, schema: Option<&Schema>, filter: &Filter, out: &mut Vec<Unsupported>) {
    match filter {
        Filter::And(terms) | Filter::Or(terms) => terms.iter().for_each(|t| unsupported(entity, schema, t, out)),
        Filter::Not(inner) => unsupported(entity, schema, inner, out),
        Filter::True | Filter::False => {}
        leaf => {
            let any = |id: &str| Some(format!("<dn of id {id}>"));
            let r = Render {
                entity,
                dn_of: &any,
                schema,
                strict: true,
            };
            if let Err(e) = r.render(leaf) {
                let (field, op) = match leaf {
                    Filter::Compare { field, op, .. } => (field.clone(), Some(*op)),
                    Filter::Present(field) => (field.clone(), None),
                    Filter::Child { child, .. } => (FieldRef::Field(child.clone()), None),
                    Filter::Related { relation, .. } => (FieldRef::Field(relation.clone()), None),
                    Filter::Bits { field, .. } => (FieldRef::Field(field.clone()), None),
                    _ => (FieldRef::Id, None),
                };
                out.push(Unsupported {
                    field,
                    op,
                    reason: e.to_string(),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::config::LdapEntityConfig;
    use super::*;
    use crate::connector::{EntityId, EntitySpec, ReferenceSpec, RelationSpec};

    pub(crate) fn users() -> Entity {
        let spec = EntitySpec {
            name: "User".into(),
            fields: [
                "uid",
                "mail",
                "cn",
                "title",
                "manager",
                "userAccountControl",
                "userPassword",
            ]
            .map(String::from)
            .to_vec(),
            relations: vec![RelationSpec {
                name: "groups".into(),
                targets: vec![EntityId(0)],
                attribute: Some("memberOf".into()),
                table: None,
                key: None,
                value: None,
                set: Default::default(),
                empty: None,
            }],
            references: vec![ReferenceSpec {
                field: "manager".into(),
                targets: vec![EntityId(0)],
            }],
            children: vec![],
            errors: Default::default(),
        };
        let cfg: LdapEntityConfig = toml::from_str(
            r#"
            base = "ou=people,dc=example,dc=org"
            scope = "(objectClass=inetOrgPerson)"
            create_classes = ["top", "inetOrgPerson"]
            rdn = "uid"
            id = "entryUUID"
            version = "entryCSN"
            created = "createTimestamp"
            modified = "modifyTimestamp"
            "#,
        )
        .unwrap();
        Entity::resolve(spec, cfg, 1).unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn text(field: &str, op: CompareOp, v: &str) -> Filter {
        Filter::Compare {
            field: FieldRef::Field(field.into()),
            op,
            value: Value::Text(v.into()),
            ignore_case: true,
        }
    }

    fn render(f: &Filter) -> String {
        let e = users();
        let dn_of = |id: &str| (id != "gone").then(|| format!("uid={id},ou=people,dc=example,dc=org"));
        Render {
            entity: &e,
            dn_of: &dn_of,
            schema: None,
            strict: false,
        }
        .render(f)
        .unwrap()
    }

    #[test]
    fn escapes_assertion_values() {
        assert_eq!(escape_value("a*b(c)d\\e\0f"), "a\\2ab\\28c\\29d\\5ce\\00f");
        assert_eq!(escape_value("Zoë"), "Zoë");
        assert_eq!(escape_bytes(&[0x40, 0xfc, 0x00]), "\\40\\fc\\00");
    }

    #[test]
    fn renders_every_operator() {
        use CompareOp::*;
        let cases = [
            (Eq, "(mail=a@x)"),
            (Ne, "(!(mail=a@x))"),
            (Contains, "(mail=*a@x*)"),
            (StartsWith, "(mail=a@x*)"),
            (EndsWith, "(mail=*a@x)"),
            (Gt, "(&(mail>=a@x)(!(mail=a@x)))"),
            (Ge, "(mail>=a@x)"),
            (Lt, "(&(mail<=a@x)(!(mail=a@x)))"),
            (Le, "(mail<=a@x)"),
        ];
        for (op, want) in cases {
            assert_eq!(render(&text("mail", op, "a@x")), want, "{op:?}");
        }
        assert_eq!(render(&text("mail", Contains, "*(x)\\")), "(mail=*\\2a\\28x\\29\\5c*)");
        assert_eq!(render(&text("mail", StartsWith, "")), "(mail=*)");
    }

    #[test]
    fn renders_every_node() {
        let a = text("uid", CompareOp::Eq, "ann");
        let b = text("cn", CompareOp::Eq, "Ann");
        assert_eq!(render(&Filter::True), "(objectClass=*)");
        assert_eq!(render(&Filter::False), "(!(objectClass=*))");
        assert_eq!(render(&Filter::And(vec![])), "(objectClass=*)");
        assert_eq!(render(&Filter::Or(vec![])), "(!(objectClass=*))");
        assert_eq!(render(&Filter::And(vec![a.clone(), b.clone()])), "(&(uid=ann)(cn=Ann))");
        assert_eq!(render(&Filter::Or(vec![a.clone(), b])), "(|(uid=ann)(cn=Ann))");
        assert_eq!(render(&Filter::Not(Box::new(a))), "(!(uid=ann))");
        assert_eq!(render(&Filter::Present(FieldRef::Field("title".into()))), "(title=*)");
        assert_eq!(render(&Filter::Present(FieldRef::Id)), "(entryUUID=*)");
        assert_eq!(
            render(&Filter::Bits {
                field: "userAccountControl".into(),
                mask: 2
            }),
            "(userAccountControl:1.2.840.113556.1.4.803:=2)"
        );
        assert_eq!(
            render(&Filter::Compare {
                field: FieldRef::Modified,
                op: CompareOp::Gt,
                value: Value::Text("2024-01-02T03:04:05Z".into()),
                ignore_case: false
            }),
            "(&(modifyTimestamp>=20240102030405Z)(!(modifyTimestamp=20240102030405Z)))"
        );
        assert_eq!(
            render(&Filter::Compare {
                field: FieldRef::Field("userAccountControl".into()),
                op: CompareOp::Eq,
                value: Value::Int(512),
                ignore_case: false
            }),
            "(userAccountControl=512)"
        );
    }

    #[test]
    fn renders_ids_relations_and_references() {
        let id = "6b29fc40-ca47-1067-b31d-00dd010662da";
        let by_id = |op, v: &str| Filter::Compare {
            field: FieldRef::Id,
            op,
            value: Value::Text(v.into()),
            ignore_case: false,
        };
        assert_eq!(render(&by_id(CompareOp::Eq, id)), format!("(entryUUID={id})"));
        assert_eq!(render(&by_id(CompareOp::Eq, "abc")), NONE);
        assert_eq!(render(&by_id(CompareOp::Ne, "abc")), ALL);
        let rel = |ids: Option<Vec<&str>>| Filter::Related {
            relation: "groups".into(),
            ids: ids.map(|v| v.into_iter().map(String::from).collect()),
        };
        assert_eq!(
            render(&rel(Some(vec!["a", "gone", "b"]))),
            "(|(memberOf=uid=a,ou=people,dc=example,dc=org)(memberOf=uid=b,ou=people,dc=example,dc=org))"
        );
        assert_eq!(render(&rel(Some(vec!["gone"]))), NONE);
        assert_eq!(render(&rel(Some(vec![]))), NONE);
        assert_eq!(render(&rel(None)), "(memberOf=*)");
        assert_eq!(
            render(&text("manager", CompareOp::Eq, "b")),
            "(manager=uid=b,ou=people,dc=example,dc=org)"
        );
        assert_eq!(render(&text("manager", CompareOp::Ne, "gone")), ALL);
    }

    #[test]
    fn reports_what_it_cannot_render() {
        let e = users();
        let f = Filter::And(vec![
            Filter::Child {
                child: "emails".into(),
                filter: Box::new(Filter::True),
            },
            text("nope", CompareOp::Eq, "x"),
            text("manager", CompareOp::Contains, "x"),
            text("userPassword", CompareOp::Eq, "x"),
            text("mail", CompareOp::Eq, "x"),
        ]);
        let mut out = Vec::new();
        let schema = Schema {
            ordered: ["createtimestamp".to_owned()].into(),
            equality: [("mail".to_owned(), "caseignoreia5match".to_owned())].into(),
            substr: [("mail".to_owned(), "caseignoreia5substringsmatch".to_owned())].into(),
        };
        unsupported(&e, Some(&schema), &f, &mut out);
        assert_eq!(out.len(), 4, "{out:?}");
        let cs = |op| Filter::Compare {
            field: FieldRef::Field("mail".into()),
            op,
            value: Value::Text("A(b".into()),
            ignore_case: false,
        };
        let r = Render {
            entity: &e,
            dn_of: &|_| None,
            schema: Some(&schema),
            strict: false,
        };
        assert_eq!(
            r.render(&cs(CompareOp::Eq)).unwrap(),
            "(mail:caseExactIA5Match:=A\\28b)"
        );
        assert_eq!(
            r.render(&cs(CompareOp::Ne)).unwrap(),
            "(!(mail:caseExactIA5Match:=A\\28b))"
        );
        assert_eq!(
            r.render(&cs(CompareOp::Contains)).unwrap(),
            "(mail=*A\\28b*)",
            "a superset"
        );
        let mut out = Vec::new();
        unsupported(&e, Some(&schema), &cs(CompareOp::Contains), &mut out);
        assert_eq!(out.len(), 1, "listed: the directory folds case in substrings");
        let mut out = Vec::new();
        unsupported(&e, Some(&schema), &cs(CompareOp::Eq), &mut out);
        assert!(out.is_empty(), "{out:?}");
        let ordered = schema;
        let f = Filter::And(vec![
            text("uid", CompareOp::Gt, "x"),
            text("uid", CompareOp::Ge, "x"),
            text("uid", CompareOp::Eq, "x"),
            Filter::Compare {
                field: FieldRef::Created,
                op: CompareOp::Lt,
                value: Value::Text("2024-01-02T03:04:05Z".into()),
                ignore_case: false,
            },
        ]);
        let mut out = Vec::new();
        unsupported(&e, Some(&ordered), &f, &mut out);
        assert_eq!(out.len(), 2, "uid has no ordering rule: {out:?}");
    }
    #[test]
    fn an_existing_entry_is_blamed_on_the_attribute_the_directory_names() {
        let e = users();
        assert_eq!(
            super::super::LdapConnector::conflicting_field(&e, "Entry Already Exists"),
            "uid"
        );
        assert_eq!(
            super::super::LdapConnector::conflicting_field(&e, "mail: value already in use"),
            "mail"
        );
        let samba = "00002071: samldb: samAccountName 'cline' already in use!";
        assert_eq!(
            super::super::LdapConnector::conflicting_field(&e, samba),
            "uid",
            "not a field of this entity"
        );
        // Only whole words count: the `cn` in `cname` is not the cn field.
        assert_eq!(
            super::super::LdapConnector::conflicting_field(&e, "the cname is taken"),
            "uid"
        );
    }
}
