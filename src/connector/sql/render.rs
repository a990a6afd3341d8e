//! Pure SQL rendering: filters to `WHERE` fragments, and the statements of every connector
//! operation, as text plus bound parameters.
//!
//! Request data never enters SQL text: every value is a bound parameter. Identifiers come
//! only from configuration that [`Entity::resolve`] validated. Every statement on the main
//! table uses the alias `t`, so `EXISTS` subqueries (and the mapping's scope) can refer to
//! the outer row.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::config::{IdKind, SqlEntityConfig, StampKind, VersionKind};
use super::dialect::{self, Dialect};
use crate::connector::{
    ChildSpec, CompareOp, ConnectorError, EntitySpec, FieldRef, Fields, Filter, FlagChange, ReadSet, RelationSpec, Row,
    SortKey, Value,
};

/// The main table's alias in every statement.
const MAIN: &str = "t";

/// The page's derived table in a search that reads children, relations or the total.
const PAGE: &str = "p";

/// The derived table holding the total in such a search, and its column.
const COUNTED: &str = "n";
const TOTAL: &str = "__total";

/// A column that is 1 on every row of the page: NULL marks the row a search returns when
/// its page is empty, which only carries the total.
const HIT: &str = "__hit";

/// Most values bound in one statement; SQLite builds before 3.32 allow 999.
const MAX_PARAMS: usize = 900;

/// A child table or relation read along with the main row, as one JSON column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Child(String),
    Relation(String),
}

/// The JSON columns a read of `read` selects after the main columns, in order: the
/// children, then the relations, each by name.
pub fn nested_parts(read: &ReadSet) -> Vec<Part> {
    let children = read.children.iter().map(|c| Part::Child(c.clone()));
    children
        .chain(read.relations.iter().map(|r| Part::Relation(r.clone())))
        .collect()
}

/// The columns a child read returns, in order: the mapped columns but the owner key.
pub fn child_columns(child: &ChildSpec) -> impl Iterator<Item = &String> {
    child.columns.iter().filter(|c| **c != child.key)
}

/// Where the columns of a search result row are: the main columns (those of
/// [`Entity::columns`]), then one JSON column per part, then with a total the total and
/// the page-row marker.
#[derive(Debug, Clone, PartialEq)]
pub struct PageLayout {
    pub parts: Vec<Part>,
    /// Index of the total column, when there is one; the marker follows it.
    pub total: Option<usize>,
}

impl PageLayout {
    pub fn new(entity: &Entity, read: &ReadSet, total: bool) -> PageLayout {
        let parts = nested_parts(read);
        let total = total.then(|| entity.columns.len() + parts.len());
        PageLayout { parts, total }
    }
}

/// A main-table column a read selects, and what it means for a record.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    pub id: bool,
    pub version: bool,
    pub created: bool,
    pub modified: bool,
    /// A mapped field.
    pub field: bool,
}

/// One SQL statement with its bound parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub sql: String,
    pub params: Vec<Value>,
}

/// `SQL -- params: [..]`, the form `explain` shows.
impl fmt::Display for Statement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.sql)?;
        if !self.params.is_empty() {
            let params: Vec<String> = self.params.iter().map(Value::to_string).collect();
            write!(f, " -- params: [{}]", params.join(", "))?;
        }
        Ok(())
    }
}

/// Accumulates bound parameters while SQL text is rendered in reading order.
struct Binder {
    dialect: Dialect,
    params: Vec<Value>,
    aliases: usize,
}

impl Binder {
    fn new(dialect: Dialect) -> Binder {
        Binder {
            dialect,
            params: Vec::new(),
            aliases: 0,
        }
    }

    /// The placeholder the next bound value will get.
    fn next_placeholder(&self) -> String {
        self.dialect.placeholder(self.params.len() + 1)
    }

    fn bind(&mut self, value: Value) -> String {
        let placeholder = self.next_placeholder();
        self.params.push(value);
        placeholder
    }

    fn bind_all(&mut self, values: impl IntoIterator<Item = Value>) -> String {
        values.into_iter().map(|v| self.bind(v)).collect::<Vec<_>>().join(", ")
    }

    /// A fresh alias for a subquery (`c1`, `j2`), unique within the statement.
    fn alias(&mut self, prefix: &str) -> String {
        self.aliases += 1;
        format!("{prefix}{}", self.aliases)
    }

    fn finish(self, sql: String) -> Statement {
        Statement {
            sql,
            params: self.params,
        }
    }
}

/// One entity's configuration, validated and resolved for rendering.
#[derive(Debug, Clone, PartialEq)]
pub struct Entity {
    pub spec: EntitySpec,
    pub table: String,
    pub scope: Option<String>,
    pub id: String,
    pub id_kind: IdKind,
    pub version: Option<(String, VersionKind)>,
    pub created: Option<(String, StampKind)>,
    pub modified: Option<(String, StampKind)>,
    pub touch: bool,
    /// The main-table columns a read selects, in order: id, version, created, modified,
    /// then the mapped fields not already among them.
    pub columns: Vec<Column>,
}

/// A relation whose join table is known (validation guarantees it for SQL relations).
pub struct Join<'a> {
    pub table: &'a str,
    pub key: &'a str,
    pub value: &'a str,
    pub set: &'a std::collections::BTreeMap<String, String>,
}

pub fn join_of(relation: &RelationSpec) -> Result<Join<'_>, ConnectorError> {
    match (&relation.table, &relation.key, &relation.value) {
        (Some(table), Some(key), Some(value)) => Ok(Join {
            table,
            key,
            value,
            set: &relation.set,
        }),
        _ => Err(ConnectorError::Unsupported(format!(
            "relation `{}` needs `table`, `key` and `value` for SQL",
            relation.name
        ))),
    }
}

impl Entity {
    /// Validates identifiers and generation kinds; `entities` is the number of entities
    /// the connector serves (for relation targets). Collects every problem.
    pub fn resolve(spec: EntitySpec, cfg: &SqlEntityConfig, entities: usize) -> Result<Entity, Vec<String>> {
        let mut errors = Vec::new();
        let name = spec.name.clone();
        let mut check = |r: Result<(), String>| {
            if let Err(e) = r {
                errors.push(format!("{name}: {e}"));
            }
        };
        check(dialect::validate_table("table", &cfg.table));
        check(dialect::validate_column("id column", cfg.id.column()));
        for (role, loc) in [
            ("version", &cfg.version),
            ("created", &cfg.created),
            ("modified", &cfg.modified),
        ] {
            if let Some(loc) = loc {
                check(dialect::validate_column(&format!("{role} column"), loc.column()));
            }
        }
        for field in &spec.fields {
            check(dialect::validate_column("field", field));
        }
        if let Some(scope) = &cfg.scope {
            // The scope is trusted SQL, but a `;` can only mean a second statement.
            if scope.trim().is_empty() || scope.contains(';') {
                check(Err(
                    "`scope` must be a single SQL predicate (non-empty, no `;`)".to_owned()
                ));
            }
        }
        for child in &spec.children {
            check(dialect::validate_table(
                &format!("child `{}` table", child.name),
                &child.table,
            ));
            check(dialect::validate_column(
                &format!("child `{}` key", child.name),
                &child.key,
            ));
            for col in &child.columns {
                check(dialect::validate_column(&format!("child `{}` column", child.name), col));
            }
        }
        for rel in &spec.relations {
            check(check_relation(rel, entities));
        }
        check(unique_names("child", spec.children.iter().map(|c| &c.name)));
        check(unique_names("relation", spec.relations.iter().map(|r| &r.name)));
        let kinds = (
            cfg.id_kind(),
            cfg.version_kind(),
            cfg.created_kind(),
            cfg.modified_kind(),
        );
        let (id_kind, version, created, modified) = match kinds {
            (Ok(i), Ok(v), Ok(c), Ok(m)) => (i, v, c, m),
            (i, v, c, m) => {
                let all = [i.err(), v.err(), c.err(), m.err()];
                errors.extend(all.into_iter().flatten().map(|e| format!("{}: {e}", spec.name)));
                return Err(errors);
            }
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        let col = |loc: &Option<super::config::FieldLoc>| loc.as_ref().map(|l| l.column().to_owned());
        let mut entity = Entity {
            table: cfg.table.clone(),
            scope: cfg.scope.clone(),
            id: cfg.id.column().to_owned(),
            id_kind,
            version: col(&cfg.version).zip(version),
            created: col(&cfg.created).zip(created),
            modified: col(&cfg.modified).zip(modified),
            touch: cfg.touch,
            spec,
            columns: Vec::new(),
        };
        entity.columns = entity.resolve_columns();
        Ok(entity)
    }

    pub fn child(&self, name: &str) -> Result<&ChildSpec, ConnectorError> {
        self.spec
            .children
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| ConnectorError::Unsupported(format!("{} has no child table `{name}`", self.spec.name)))
    }

    pub fn relation(&self, name: &str) -> Result<&RelationSpec, ConnectorError> {
        self.spec
            .relations
            .iter()
            .find(|r| r.name == name)
            .ok_or_else(|| ConnectorError::Unsupported(format!("{} has no relation `{name}`", self.spec.name)))
    }

    fn field(&self, name: &str) -> Result<&str, ConnectorError> {
        self.spec
            .fields
            .iter()
            .find(|f| *f == name)
            .map(String::as_str)
            .ok_or_else(|| ConnectorError::Unsupported(format!("{} has no field `{name}`", self.spec.name)))
    }

    /// The typed key for an id string; `None` when it cannot be a key (a non-numeric id
    /// for an integer key), so the caller can answer "not found" without a query.
    pub fn id_value(&self, id: &str) -> Option<Value> {
        match self.id_kind {
            IdKind::Uuid => Some(Value::Text(id.to_owned())),
            IdKind::Database => id.parse::<i64>().ok().map(Value::Int),
        }
    }

    /// The main-table columns a read selects, in order: id, version, created, modified,
    /// then the mapped fields not already among them.
    pub fn select_columns(&self) -> Vec<&str> {
        self.columns.iter().map(|c| c.name.as_str()).collect()
    }

    fn resolve_columns(&self) -> Vec<Column> {
        let mut names = vec![self.id.as_str()];
        names.extend(
            [self.version_column(), self.created_column(), self.modified_column()]
                .into_iter()
                .flatten(),
        );
        for f in &self.spec.fields {
            if !names.contains(&f.as_str()) {
                names.push(f);
            }
        }
        let is = |c: Option<&str>, name: &str| c == Some(name);
        names
            .into_iter()
            .map(|name| Column {
                name: name.to_owned(),
                id: name == self.id,
                version: is(self.version_column(), name),
                created: is(self.created_column(), name),
                modified: is(self.modified_column(), name),
                field: self.spec.fields.iter().any(|f| f == name),
            })
            .collect()
    }

    pub fn version_column(&self) -> Option<&str> {
        self.version.as_ref().map(|(c, _)| c.as_str())
    }

    pub fn created_column(&self) -> Option<&str> {
        self.created.as_ref().map(|(c, _)| c.as_str())
    }

    pub fn modified_column(&self) -> Option<&str> {
        self.modified.as_ref().map(|(c, _)| c.as_str())
    }

    /// Columns the connector writes itself, which a change set may not set.
    fn managed_columns(&self) -> Vec<&str> {
        let mut cols = vec![self.id.as_str()];
        if let Some((c, VersionKind::Increment)) = &self.version {
            cols.push(c);
        }
        for (c, kind) in [&self.created, &self.modified].into_iter().flatten() {
            if *kind == StampKind::Gateway {
                cols.push(c);
            }
        }
        cols
    }

    fn gateway_created(&self) -> Option<&str> {
        match &self.created {
            Some((c, StampKind::Gateway)) => Some(c),
            _ => None,
        }
    }

    fn gateway_modified(&self) -> Option<&str> {
        match &self.modified {
            Some((c, StampKind::Gateway)) => Some(c),
            _ => None,
        }
    }

    fn incremented_version(&self) -> Option<&str> {
        match &self.version {
            Some((c, VersionKind::Increment)) => Some(c),
            _ => None,
        }
    }
}

fn check_relation(rel: &RelationSpec, entities: usize) -> Result<(), String> {
    let join = join_of(rel).map_err(|e| e.to_string())?;
    let what = |part: &str| format!("relation `{}` {part}", rel.name);
    dialect::validate_table(&what("table"), join.table)?;
    dialect::validate_column(&what("key"), join.key)?;
    dialect::validate_column(&what("value"), join.value)?;
    for col in join.set.keys() {
        dialect::validate_column(&what("`set` column"), col)?;
    }
    match rel.targets.iter().find(|t| t.0 >= entities) {
        Some(t) => Err(format!(
            "relation `{}` targets entity #{} which does not exist",
            rel.name, t.0
        )),
        None => Ok(()),
    }
}

fn unique_names<'a>(what: &str, names: impl Iterator<Item = &'a String>) -> Result<(), String> {
    let mut seen = BTreeSet::new();
    for n in names {
        if !seen.insert(n) {
            return Err(format!("{what} `{n}` is declared twice"));
        }
    }
    Ok(())
}

/// Which table a filter's field names refer to.
#[derive(Clone, Copy)]
enum Target<'a> {
    Main,
    Child { spec: &'a ChildSpec, alias: &'a str },
}

/// Renders statements for one entity.
pub struct Renderer<'a> {
    pub dialect: Dialect,
    pub entity: &'a Entity,
}

fn sql_op(op: CompareOp) -> &'static str {
    match op {
        CompareOp::Eq => "=",
        CompareOp::Ne => "<>",
        CompareOp::Gt => ">",
        CompareOp::Ge => ">=",
        CompareOp::Lt => "<",
        CompareOp::Le => "<=",
        CompareOp::Contains | CompareOp::StartsWith | CompareOp::EndsWith => "LIKE",
    }
}

fn chunks<T>(items: &[T], per_item: usize) -> std::slice::Chunks<'_, T> {
    items.chunks((MAX_PARAMS / per_item.max(1)).max(1))
}

impl<'a> Renderer<'a> {
    pub fn new(dialect: Dialect, entity: &'a Entity) -> Renderer<'a> {
        Renderer { dialect, entity }
    }

    fn q(&self, ident: &str) -> String {
        self.dialect.quote(ident)
    }

    /// `alias."col"`
    fn qc(&self, alias: &str, col: &str) -> String {
        format!("{alias}.{}", self.q(col))
    }

    fn main_id(&self) -> String {
        self.qc(MAIN, &self.entity.id)
    }

    fn select_list(&self, alias: &str) -> String {
        self.entity
            .columns
            .iter()
            .map(|c| self.qc(alias, &c.name))
            .collect::<Vec<_>>()
            .join(", ")
    }

    // ---- filters ------------------------------------------------------------------

    /// The `WHERE` fragment of a filter over the main table (no scope), with its params.
    pub fn filter(&self, filter: &Filter) -> Result<(String, Vec<Value>), ConnectorError> {
        let mut b = Binder::new(self.dialect);
        let sql = self.render(&mut b, filter, Target::Main)?;
        Ok((sql, b.params))
    }

    fn render(&self, b: &mut Binder, filter: &Filter, target: Target<'_>) -> Result<String, ConnectorError> {
        Ok(match filter {
            Filter::True => "1=1".to_owned(),
            Filter::False => "1=0".to_owned(),
            Filter::And(terms) => self.render_list(b, terms, target, " AND ", "1=1")?,
            Filter::Or(terms) => self.render_list(b, terms, target, " OR ", "1=0")?,
            Filter::Not(inner) => self.dialect.negate(&self.render(b, inner, target)?),
            Filter::Compare {
                field,
                op,
                value,
                ignore_case,
            } => self.render_compare(b, field, *op, value, *ignore_case, target)?,
            Filter::Present(field) => self.render_present(field, target)?,
            Filter::Child { child, filter } => self.render_child(b, child, filter, target)?,
            Filter::Related { relation, ids } => self.render_related(b, relation, ids.as_deref(), target)?,
            Filter::Bits { field, mask } => {
                let col = self.column(&FieldRef::Field(field.clone()), target)?;
                let (m1, m2) = (b.bind(Value::Int(*mask)), b.bind(Value::Int(*mask)));
                format!("(coalesce({col}, 0) & {m1}) = {m2}")
            }
        })
    }

    fn render_list(
        &self,
        b: &mut Binder,
        terms: &[Filter],
        target: Target<'_>,
        sep: &str,
        empty: &str,
    ) -> Result<String, ConnectorError> {
        match terms {
            [] => Ok(empty.to_owned()),
            [one] => self.render(b, one, target),
            _ => {
                let parts = terms
                    .iter()
                    .map(|t| self.render(b, t, target))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(format!("({})", parts.join(sep)))
            }
        }
    }

    /// The main-table column a field reference names.
    fn main_column(&self, field: &FieldRef) -> Result<&'a str, ConnectorError> {
        let e = self.entity;
        let stamp = |loc: &'a Option<(String, StampKind)>, what: &str| {
            loc.as_ref()
                .map(|(c, _)| c.as_str())
                .ok_or_else(|| ConnectorError::Unsupported(format!("{} has no {what} column", e.spec.name)))
        };
        match field {
            FieldRef::Field(name) => e.field(name),
            FieldRef::Id => Ok(&e.id),
            FieldRef::Created => stamp(&e.created, "created"),
            FieldRef::Modified => stamp(&e.modified, "modified"),
        }
    }

    /// The SQL expression of a field reference in the given table.
    fn column(&self, field: &FieldRef, target: Target<'_>) -> Result<String, ConnectorError> {
        match (field, target) {
            (_, Target::Main) => Ok(self.qc(MAIN, self.main_column(field)?)),
            (FieldRef::Field(name), Target::Child { spec, alias }) => match spec.columns.iter().find(|c| *c == name) {
                Some(col) => Ok(self.qc(alias, col)),
                None => Err(ConnectorError::Unsupported(format!(
                    "child `{}` has no column `{name}`",
                    spec.name
                ))),
            },
            (other, Target::Child { spec, .. }) => Err(ConnectorError::Unsupported(format!(
                "{other} cannot be used inside child `{}`",
                spec.name
            ))),
        }
    }

    fn render_compare(
        &self,
        b: &mut Binder,
        field: &FieldRef,
        op: CompareOp,
        value: &Value,
        ignore_case: bool,
        target: Target<'_>,
    ) -> Result<String, ConnectorError> {
        let col = self.column(field, target)?;
        let mut value = value.clone();
        if matches!(field, FieldRef::Id) && matches!(target, Target::Main) {
            match self.id_literal(&value) {
                Some(v) => value = v,
                // An integer key never equals a non-numeric literal.
                None if op == CompareOp::Ne => return Ok("1=1".to_owned()),
                None => return Ok("1=0".to_owned()),
            }
        }
        let ignore_case = ignore_case && matches!(value, Value::Text(_));
        match op {
            CompareOp::Contains | CompareOp::StartsWith | CompareOp::EndsWith => {
                let text = match &value {
                    Value::Text(s) => s.clone(),
                    other => {
                        return Err(ConnectorError::Unsupported(format!(
                            "`{}` needs a text value, got {other}",
                            op.as_str()
                        )));
                    }
                };
                let placeholder = b.next_placeholder();
                let (sql, pattern) = self.dialect.text_match(&col, op, &text, ignore_case, &placeholder);
                b.bind(Value::Text(pattern));
                Ok(sql)
            }
            _ => {
                let (lhs, rhs) = if ignore_case {
                    (self.dialect.fold_case(&col), self.dialect.fold_case(&b.bind(value)))
                } else {
                    (col.clone(), b.bind(value))
                };
                let cmp = format!("{lhs} {} {rhs}", sql_op(op));
                // SCIM `ne` matches entries without the attribute; SQL's `<>` does not.
                Ok(if op == CompareOp::Ne {
                    format!("({cmp} OR {col} IS NULL)")
                } else {
                    cmp
                })
            }
        }
    }

    /// The literal to compare an id with, typed like the key; `None` when no key can match.
    fn id_literal(&self, value: &Value) -> Option<Value> {
        match (self.entity.id_kind, value) {
            (IdKind::Database, Value::Text(s)) => s.trim().parse::<i64>().ok().map(Value::Int),
            (IdKind::Database, Value::Int(i)) => Some(Value::Int(*i)),
            (IdKind::Database, _) => None,
            (IdKind::Uuid, other) => Some(other.clone()),
        }
    }

    fn render_present(&self, field: &FieldRef, target: Target<'_>) -> Result<String, ConnectorError> {
        let col = self.column(field, target)?;
        Ok(match field {
            FieldRef::Id => format!("{col} IS NOT NULL"),
            _ => format!("({col} IS NOT NULL AND {col} <> '')"),
        })
    }

    fn render_child(
        &self,
        b: &mut Binder,
        child: &str,
        filter: &Filter,
        target: Target<'_>,
    ) -> Result<String, ConnectorError> {
        if let Target::Child { spec, .. } = target {
            return Err(ConnectorError::Unsupported(format!(
                "child filter inside child `{}`",
                spec.name
            )));
        }
        let spec = self.entity.child(child)?;
        let alias = b.alias("c");
        let inner = self.render(b, filter, Target::Child { spec, alias: &alias })?;
        Ok(format!(
            "EXISTS (SELECT 1 FROM {} AS {alias} WHERE {} = {} AND {inner})",
            self.q(&spec.table),
            self.qc(&alias, &spec.key),
            self.main_id()
        ))
    }

    fn render_related(
        &self,
        b: &mut Binder,
        relation: &str,
        ids: Option<&[String]>,
        target: Target<'_>,
    ) -> Result<String, ConnectorError> {
        if let Target::Child { spec, .. } = target {
            return Err(ConnectorError::Unsupported(format!(
                "relation filter inside child `{}`",
                spec.name
            )));
        }
        let join = join_of(self.entity.relation(relation)?)?;
        if ids.is_some_and(<[String]>::is_empty) {
            return Ok("1=0".to_owned());
        }
        let alias = b.alias("j");
        let mut sql = format!(
            "EXISTS (SELECT 1 FROM {} AS {alias} WHERE {} = {}",
            self.q(join.table),
            self.qc(&alias, join.key),
            self.main_id()
        );
        if let Some(ids) = ids {
            let list = b.bind_all(ids.iter().map(|i| Value::Text(i.clone())));
            sql.push_str(&format!(" AND {} IN ({list})", self.qc(&alias, join.value)));
        }
        sql.push(')');
        Ok(sql)
    }

    // ---- reads --------------------------------------------------------------------

    /// `WHERE` text for the scope, the filter and extra conditions, in that order.
    fn where_clause(&self, b: &mut Binder, filter: &Filter) -> Result<String, ConnectorError> {
        let mut parts = Vec::new();
        if let Some(scope) = &self.entity.scope {
            parts.push(format!("({scope})"));
        }
        if *filter != Filter::True {
            parts.push(self.render(b, filter, Target::Main)?);
        }
        Ok(if parts.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", parts.join(" AND "))
        })
    }

    /// `WHERE t.id = ? AND (scope)`.
    fn where_id(&self, b: &mut Binder, id: Value) -> String {
        let mut sql = format!(" WHERE {} = {}", self.main_id(), b.bind(id));
        if let Some(scope) = &self.entity.scope {
            sql.push_str(&format!(" AND ({scope})"));
        }
        sql
    }

    /// The main row by id, within the scope, with the children and relations in `read` as
    /// JSON columns after the main columns (see [`nested_parts`]): one statement.
    pub fn select_by_id(&self, id: Value, read: &ReadSet) -> Result<Statement, ConnectorError> {
        let mut b = Binder::new(self.dialect);
        let mut head = format!("SELECT {}", self.select_list(MAIN));
        for nested in self.nested_columns(MAIN, read)? {
            head.push_str(", ");
            head.push_str(&nested);
        }
        head.push_str(&format!(" FROM {} AS {MAIN}", self.q(&self.entity.table)));
        let sql = head + &self.where_id(&mut b, id);
        Ok(b.finish(sql))
    }

    /// The JSON columns reading `read` for the row whose alias is `owner`, in the order of
    /// [`nested_parts`], each named after its part (`"__child_emails"`, `"__rel_groups"`).
    fn nested_columns(&self, owner: &str, read: &ReadSet) -> Result<Vec<String>, ConnectorError> {
        let owner_id = self.qc(owner, &self.entity.id);
        nested_parts(read)
            .into_iter()
            .enumerate()
            .map(|(n, part)| {
                let (sql, name) = match &part {
                    Part::Child(name) => {
                        let child = self.entity.child(name)?;
                        let cols: Vec<String> = child_columns(child).map(|c| self.qc("c", c)).collect();
                        let cond = format!("{} = {owner_id}", self.qc("c", &child.key));
                        let sql = self.dialect.json_rows(&cols, &self.q(&child.table), "c", &cond);
                        (sql, format!("__child_{name}"))
                    }
                    Part::Relation(name) => {
                        let join = join_of(self.entity.relation(name)?)?;
                        let cond = format!("{} = {owner_id}", self.qc("j", join.key));
                        let sql = self
                            .dialect
                            .json_rows(&[self.qc("j", join.value)], &self.q(join.table), "j", &cond);
                        (sql, format!("__rel_{name}"))
                    }
                };
                // Part names come from the mapping, not from validated identifiers.
                let name = if dialect::is_plain_ident(&name) {
                    name
                } else {
                    format!("__part_{n}")
                };
                Ok(format!("{sql} AS {}", self.q(&name)))
            })
            .collect()
    }

    /// The version (or just existence) of a row within the scope: tells "not found" from
    /// "version mismatch" after a write matched nothing.
    pub fn select_version(&self, id: Value) -> Statement {
        let mut b = Binder::new(self.dialect);
        let col = self
            .entity
            .version
            .as_ref()
            .map_or("1".to_owned(), |(c, _)| self.qc(MAIN, c));
        let sql = format!("SELECT {col} FROM {} AS {MAIN}", self.q(&self.entity.table)) + &self.where_id(&mut b, id);
        b.finish(sql)
    }

    /// One page of matches, main columns only. `after` is the keyset cursor (the last id
    /// seen); `offset` is `None` for keyset paging.
    pub fn select_page(
        &self,
        filter: &Filter,
        sort: Option<&SortKey>,
        after: Option<Value>,
        limit: u64,
        offset: Option<u64>,
    ) -> Result<Statement, ConnectorError> {
        let mut b = Binder::new(self.dialect);
        let sql = self.page_sql(&mut b, "", false, filter, sort, after, limit, offset)?;
        Ok(b.finish(sql))
    }

    /// One page of matches as one statement, with the children and relations in `read`
    /// (JSON columns after the main columns, as for [`Renderer::select_by_id`]) and, when
    /// `total`, the number of matches, then a column that is NULL on the one row returned
    /// when the page is empty (see [`PageLayout`]). Without either, [`Renderer::select_page`].
    ///
    /// The page is cut in a derived table first and the JSON columns are computed outside
    /// it, for the page's rows only: in the same SELECT as an `ORDER BY` that needs a sort,
    /// they would be computed for every match. The total comes from an uncorrelated COUNT,
    /// evaluated once; the page is LEFT JOINed to it so that an empty page still reports it.
    /// The window is literal (see `page_sql`), so this statement, which every list request
    /// runs, is prepared once per connection and window.
    #[allow(clippy::too_many_arguments)]
    pub fn select_page_with(
        &self,
        filter: &Filter,
        sort: Option<&SortKey>,
        after: Option<Value>,
        limit: u64,
        offset: Option<u64>,
        read: &ReadSet,
        total: bool,
    ) -> Result<Statement, ConnectorError> {
        let nested = self.nested_columns(PAGE, read)?;
        if nested.is_empty() && !total {
            return self.select_page(filter, sort, after, limit, offset);
        }
        let mut b = Binder::new(self.dialect);
        let mut select = vec![self.select_list(PAGE)];
        select.extend(nested);
        let from = if total {
            select.push(format!("{COUNTED}.{}", self.q(TOTAL)));
            select.push(format!("{PAGE}.{}", self.q(HIT)));
            let count = format!(
                "SELECT COUNT(*) AS {} FROM {} AS {MAIN}{}",
                self.q(TOTAL),
                self.q(&self.entity.table),
                self.where_clause(&mut b, filter)?
            );
            let hit = format!("1 AS {}, ", self.q(HIT));
            let page = self.page_sql(&mut b, &hit, true, filter, sort, after, limit, offset)?;
            format!("({count}) AS {COUNTED} LEFT JOIN ({page}) AS {PAGE} ON 1=1")
        } else {
            let page = self.page_sql(&mut b, "", true, filter, sort, after, limit, offset)?;
            format!("({page}) AS {PAGE}")
        };
        let sql = format!(
            "SELECT {} FROM {from} ORDER BY {}",
            select.join(", "),
            self.order_by_on(PAGE, sort)?
        );
        Ok(b.finish(sql))
    }

    /// The SELECT of one page over the main table; `extra` is put before the columns.
    /// With `literal_window`, LIMIT and OFFSET are written as numbers rather than bound:
    /// SQLite plans with the value of a bound LIMIT, so it re-prepares such a statement
    /// on every execution and its statement cache never hits. They are numbers the
    /// connector formats, never request text.
    #[allow(clippy::too_many_arguments)]
    fn page_sql(
        &self,
        b: &mut Binder,
        extra: &str,
        literal_window: bool,
        filter: &Filter,
        sort: Option<&SortKey>,
        after: Option<Value>,
        limit: u64,
        offset: Option<u64>,
    ) -> Result<String, ConnectorError> {
        let mut sql = format!(
            "SELECT {extra}{} FROM {} AS {MAIN}",
            self.select_list(MAIN),
            self.q(&self.entity.table)
        );
        let mut where_sql = self.where_clause(b, filter)?;
        if let Some(after) = after {
            let cond = format!("{} > {}", self.main_id(), b.bind(after));
            where_sql = if where_sql.is_empty() {
                format!(" WHERE {cond}")
            } else {
                format!("{where_sql} AND {cond}")
            };
        }
        sql.push_str(&where_sql);
        sql.push_str(&format!(" ORDER BY {}", self.order_by_on(MAIN, sort)?));
        let (limit, offset) = if literal_window {
            (clamp(limit).to_string(), offset.map(|o| clamp(o).to_string()))
        } else {
            (
                b.bind(Value::Int(clamp(limit))),
                offset.map(|o| b.bind(Value::Int(clamp(o)))),
            )
        };
        sql.push_str(&format!(" {}", self.dialect.limit_offset(&limit, offset.as_deref())));
        Ok(sql)
    }

    /// The sort key, then the id so that equal keys page in a stable order; over the
    /// main-table columns of the row aliased `alias`.
    fn order_by_on(&self, alias: &str, sort: Option<&SortKey>) -> Result<String, ConnectorError> {
        let id = self.qc(alias, &self.entity.id);
        let asc = format!("{id} ASC");
        let Some(sort) = sort else { return Ok(asc) };
        if sort.field == FieldRef::Id {
            return Ok(format!("{id} {}", if sort.descending { "DESC" } else { "ASC" }));
        }
        let col = self.qc(alias, self.main_column(&sort.field)?);
        let expr = if sort.ignore_case {
            self.dialect.fold_case(&col)
        } else {
            col
        };
        Ok(format!("{}, {asc}", self.dialect.order_term(&expr, sort.descending)))
    }

    pub fn count(&self, filter: &Filter) -> Result<Statement, ConnectorError> {
        let mut b = Binder::new(self.dialect);
        let sql = format!("SELECT COUNT(*) FROM {} AS {MAIN}", self.q(&self.entity.table))
            + &self.where_clause(&mut b, filter)?;
        Ok(b.finish(sql))
    }

    // ---- writes -------------------------------------------------------------------

    /// The one value of a field, `None` to clear it; rejects fields outside the spec and
    /// columns the connector maintains.
    fn single_value<'v>(&self, name: &str, values: &'v [Value]) -> Result<(&str, Option<&'v Value>), ConnectorError> {
        let col = self.entity.field(name)?;
        if self.entity.managed_columns().contains(&col) {
            return Err(ConnectorError::InvalidValue {
                field: Some(col.to_owned()),
                detail: format!("column {col} is maintained by the connector"),
            });
        }
        match values {
            [] => Ok((col, None)),
            [one] => Ok((col, Some(one))),
            _ => Err(ConnectorError::InvalidValue {
                field: Some(col.to_owned()),
                detail: format!("column {col} holds one value"),
            }),
        }
    }

    /// The INSERT of a new main row. `id` is the gateway-generated key (uuid ids), `now`
    /// the timestamp written to gateway-maintained columns.
    pub fn insert_main(&self, fields: &Fields, id: Option<Value>, now: &Value) -> Result<Statement, ConnectorError> {
        let e = self.entity;
        let mut b = Binder::new(self.dialect);
        let mut cols = Vec::new();
        let mut vals = Vec::new();
        let mut push = |b: &mut Binder, col: &str, v: Value| {
            cols.push(self.q(col));
            vals.push(b.bind(v));
        };
        if let Some(id) = id {
            push(&mut b, &e.id, id);
        }
        for (name, values) in fields {
            if let (col, Some(v)) = self.single_value(name, values)? {
                push(&mut b, col, v.clone());
            }
        }
        if let Some(col) = e.incremented_version() {
            push(&mut b, col, Value::Int(1));
        }
        for col in [e.gateway_created(), e.gateway_modified()].into_iter().flatten() {
            push(&mut b, col, now.clone());
        }
        let table = self.q(&e.table);
        let mut sql = if cols.is_empty() {
            format!("INSERT INTO {table} DEFAULT VALUES")
        } else {
            format!("INSERT INTO {table} ({}) VALUES ({})", cols.join(", "), vals.join(", "))
        };
        if e.id_kind == IdKind::Database {
            sql.push_str(&self.dialect.returning(&self.q(&e.id)));
        }
        Ok(b.finish(sql))
    }

    /// The UPDATE of the main row for a change: changed fields, and when `bump` the
    /// version and modification time. `None` when there is nothing to set.
    pub fn update_main(
        &self,
        id: Value,
        fields: &Fields,
        flags: &BTreeMap<String, FlagChange>,
        bump: bool,
        expected_version: Option<&str>,
        now: &Value,
    ) -> Result<Option<Statement>, ConnectorError> {
        let e = self.entity;
        let mut b = Binder::new(self.dialect);
        let mut sets = Vec::new();
        for (name, values) in fields {
            let (col, value) = self.single_value(name, values)?;
            let rhs = value.map_or("NULL".to_owned(), |v| b.bind(v.clone()));
            sets.push(format!("{} = {rhs}", self.q(col)));
        }
        // Only the named bits change; the others keep whatever the database holds.
        for (name, change) in flags {
            let col = self.q(e.field(name)?);
            let (clear, set) = (b.bind(Value::Int(change.clear)), b.bind(Value::Int(change.set)));
            sets.push(format!("{col} = ((coalesce({col}, 0) & ~{clear}) | {set})"));
        }
        if sets.is_empty() && !bump {
            return Ok(None);
        }
        if let Some(col) = e.incremented_version() {
            sets.push(format!("{0} = {0} + 1", self.q(col)));
        }
        if let Some(col) = e.gateway_modified() {
            sets.push(format!("{} = {}", self.q(col), b.bind(now.clone())));
        }
        if sets.is_empty() {
            return Ok(None);
        }
        let mut sql = format!("UPDATE {} AS {MAIN} SET {}", self.q(&e.table), sets.join(", "));
        sql.push_str(&self.where_id(&mut b, id));
        sql.push_str(&self.version_guard(&mut b, expected_version)?);
        Ok(Some(b.finish(sql)))
    }

    /// ` AND t."version" = ?` when a version is expected.
    fn version_guard(&self, b: &mut Binder, expected: Option<&str>) -> Result<String, ConnectorError> {
        let Some(expected) = expected else {
            return Ok(String::new());
        };
        let Some((col, _)) = &self.entity.version else {
            return Err(ConnectorError::Unsupported(format!(
                "{} has no version column to check an expected version against",
                self.entity.spec.name
            )));
        };
        Ok(format!(
            " AND {} = {}",
            self.qc(MAIN, col),
            b.bind(version_value(expected))
        ))
    }

    pub fn delete_main(&self, id: Value, expected_version: Option<&str>) -> Result<Statement, ConnectorError> {
        let mut b = Binder::new(self.dialect);
        let mut sql = format!("DELETE FROM {} AS {MAIN}", self.q(&self.entity.table));
        sql.push_str(&self.where_id(&mut b, id));
        sql.push_str(&self.version_guard(&mut b, expected_version)?);
        Ok(b.finish(sql))
    }

    /// `DELETE FROM table WHERE col = ?`: child rows or join rows of one owner.
    pub fn delete_where(&self, table: &str, column: &str, owner: Value) -> Statement {
        let mut b = Binder::new(self.dialect);
        let sql = format!(
            "DELETE FROM {} WHERE {} = {}",
            self.q(table),
            self.q(column),
            b.bind(owner)
        );
        b.finish(sql)
    }

    /// Multi-row INSERTs of child rows; columns absent from a row are written as NULL.
    pub fn insert_children(
        &self,
        child: &ChildSpec,
        owner: &Value,
        rows: &[Row],
    ) -> Result<Vec<Statement>, ConnectorError> {
        for row in rows {
            if let Some(bad) = row.keys().find(|k| !child.columns.contains(k) || **k == child.key) {
                return Err(ConnectorError::Unsupported(format!(
                    "child `{}` has no writable column `{bad}`",
                    child.name
                )));
            }
        }
        let cols: Vec<&String> = child
            .columns
            .iter()
            .filter(|c| rows.iter().any(|r| r.contains_key(*c)))
            .collect();
        let mut head = vec![self.q(&child.key)];
        head.extend(cols.iter().map(|c| self.q(c)));
        let head = format!("INSERT INTO {} ({}) VALUES ", self.q(&child.table), head.join(", "));
        Ok(chunks(rows, cols.len() + 1)
            .map(|chunk| {
                let mut b = Binder::new(self.dialect);
                let tuples: Vec<String> = chunk
                    .iter()
                    .map(|row| {
                        let mut vals = vec![b.bind(owner.clone())];
                        vals.extend(
                            cols.iter()
                                .map(|c| row.get(*c).map_or("NULL".to_owned(), |v| b.bind(v.clone()))),
                        );
                        format!("({})", vals.join(", "))
                    })
                    .collect();
                b.finish(head.clone() + &tuples.join(", "))
            })
            .collect())
    }

    /// Links an owner to ids, skipping links that already exist, so adding is idempotent
    /// whether or not the join table has a unique key. One statement per chunk of ids;
    /// `ids` must be free of duplicates.
    pub fn insert_links(
        &self,
        relation: &RelationSpec,
        owner: &Value,
        ids: &[String],
    ) -> Result<Vec<Statement>, ConnectorError> {
        let join = join_of(relation)?;
        let mut cols = vec![self.q(join.key), self.q(join.value)];
        cols.extend(join.set.keys().map(|c| self.q(c)));
        Ok(chunks(ids, 1)
            .map(|chunk| {
                let mut b = Binder::new(self.dialect);
                let key = b.bind(owner.clone());
                let extras: Vec<String> = join.set.values().map(|v| b.bind(Value::Text(v.clone()))).collect();
                let placeholders: Vec<String> = chunk.iter().map(|id| b.bind(Value::Text(id.clone()))).collect();
                let (source, value) = self.dialect.values_table(&placeholders, "v");
                let mut select = vec![key, value.clone()];
                select.extend(extras);
                let sql = format!(
                    "INSERT INTO {table} ({}) SELECT {} FROM {source} WHERE NOT EXISTS (SELECT 1 FROM {table} AS x WHERE {} = {} AND {} = {value})",
                    cols.join(", "),
                    select.join(", "),
                    self.qc("x", join.key),
                    b.bind(owner.clone()),
                    self.qc("x", join.value),
                    table = self.q(join.table),
                );
                b.finish(sql)
            })
            .collect())
    }

    /// Unlinks an owner from some ids.
    pub fn delete_links(
        &self,
        relation: &RelationSpec,
        owner: &Value,
        ids: &[String],
    ) -> Result<Vec<Statement>, ConnectorError> {
        let join = join_of(relation)?;
        Ok(chunks(ids, 1)
            .map(|chunk| {
                let mut b = Binder::new(self.dialect);
                let key = b.bind(owner.clone());
                let list = b.bind_all(chunk.iter().map(|i| Value::Text(i.clone())));
                let sql = format!(
                    "DELETE FROM {} WHERE {} = {key} AND {} IN ({list})",
                    self.q(join.table),
                    self.q(join.key),
                    self.q(join.value)
                );
                b.finish(sql)
            })
            .collect())
    }
}

/// Versions are integers in the common case; binding them typed keeps the comparison
/// right even on columns without integer affinity.
fn version_value(version: &str) -> Value {
    version
        .parse::<i64>()
        .map_or_else(|_| Value::Text(version.to_owned()), Value::Int)
}

fn clamp(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::connector::{EntityId, RelationSpec};

    fn users_cfg() -> SqlEntityConfig {
        toml::from_str(
            r#"
            table = "users"
            scope = "retired_at IS NULL"
            id = { to = "id", generated = "uuid" }
            version = "version"
            created = "created_at"
            modified = "updated_at"
            "#,
        )
        .unwrap()
    }

    fn users() -> Entity {
        let spec = EntitySpec {
            name: "User".into(),
            fields: vec!["user_name".into(), "title".into(), "active".into()],
            children: vec![ChildSpec {
                name: "emails".into(),
                table: "user_emails".into(),
                key: "user_id".into(),
                columns: vec!["value".into(), "type".into(), "is_primary".into()],
            }],
            relations: vec![RelationSpec {
                name: "groups".into(),
                targets: vec![EntityId(1)],
                attribute: None,
                table: Some("group_members".into()),
                key: Some("member_id".into()),
                value: Some("group_id".into()),
                set: BTreeMap::new(),
                empty: None,
            }],
            ..Default::default()
        };
        Entity::resolve(spec, &users_cfg(), 2).unwrap()
    }

    fn groups() -> Entity {
        let spec = EntitySpec {
            name: "Group".into(),
            fields: vec!["display_name".into()],
            children: vec![],
            relations: vec![RelationSpec {
                name: "members".into(),
                targets: vec![EntityId(0), EntityId(1)],
                attribute: None,
                table: Some("group_members".into()),
                key: Some("group_id".into()),
                value: Some("member_id".into()),
                set: BTreeMap::from([("source".to_owned(), "scim".to_owned())]),
                empty: None,
            }],
            ..Default::default()
        };
        let cfg: SqlEntityConfig = toml::from_str("table = \"groups\"\nid = \"id\"").unwrap();
        Entity::resolve(spec, &cfg, 2).unwrap()
    }

    fn text(s: &str) -> Value {
        Value::Text(s.to_owned())
    }

    fn cmp(field: &str, op: CompareOp, value: &str, ignore_case: bool) -> Filter {
        Filter::Compare {
            field: FieldRef::Field(field.into()),
            op,
            value: text(value),
            ignore_case,
        }
    }

    fn render(e: &Entity, f: &Filter) -> (String, Vec<Value>) {
        Renderer::new(Dialect::Sqlite, e).filter(f).unwrap()
    }

    #[test]
    fn eq_ignore_case() {
        let (sql, p) = render(&users(), &cmp("user_name", CompareOp::Eq, "BJensen", true));
        assert_eq!(sql, r#"lower(t."user_name") = lower(?)"#);
        assert_eq!(p, vec![text("BJensen")]);
    }

    #[test]
    fn eq_case_exact_and_ordering() {
        assert_eq!(
            render(&users(), &cmp("title", CompareOp::Eq, "x", false)).0,
            r#"t."title" = ?"#
        );
        assert_eq!(
            render(&users(), &cmp("title", CompareOp::Ge, "x", false)).0,
            r#"t."title" >= ?"#
        );
        assert_eq!(
            render(&users(), &cmp("title", CompareOp::Lt, "x", true)).0,
            r#"lower(t."title") < lower(?)"#
        );
    }

    #[test]
    fn contains_escapes_wildcards_in_the_parameter() {
        let (sql, p) = render(&users(), &cmp("user_name", CompareOp::Contains, "a%b_c", true));
        assert_eq!(sql, r#"lower(t."user_name") LIKE lower(?) ESCAPE '\'"#);
        assert_eq!(p, vec![text(r"%a\%b\_c%")]);
        let (sql, p) = render(&users(), &cmp("user_name", CompareOp::EndsWith, "*x", false));
        assert_eq!(sql, r#"t."user_name" GLOB ?"#);
        assert_eq!(p, vec![text("*[*]x")]);
    }

    #[test]
    fn ne_matches_absent_values() {
        let (sql, p) = render(&users(), &cmp("title", CompareOp::Ne, "boss", true));
        assert_eq!(sql, r#"(lower(t."title") <> lower(?) OR t."title" IS NULL)"#);
        assert_eq!(p, vec![text("boss")]);
    }

    #[test]
    fn present() {
        let (sql, p) = render(&users(), &Filter::Present(FieldRef::Field("title".into())));
        assert_eq!(sql, r#"(t."title" IS NOT NULL AND t."title" <> '')"#);
        assert!(p.is_empty());
        assert_eq!(
            render(&users(), &Filter::Present(FieldRef::Id)).0,
            r#"t."id" IS NOT NULL"#
        );
    }

    #[test]
    fn not_counts_unknown_as_false() {
        let f = Filter::Not(Box::new(cmp("title", CompareOp::Eq, "x", false)));
        assert_eq!(render(&users(), &f).0, r#"NOT COALESCE(t."title" = ?, 0)"#);
    }

    #[test]
    fn and_or_nesting() {
        let f = Filter::And(vec![
            cmp("title", CompareOp::Eq, "a", false),
            Filter::Or(vec![
                cmp("user_name", CompareOp::StartsWith, "b", true),
                Filter::Present(FieldRef::Modified),
            ]),
        ]);
        let (sql, p) = render(&users(), &f);
        assert_eq!(
            sql,
            r#"(t."title" = ? AND (lower(t."user_name") LIKE lower(?) ESCAPE '\' OR (t."updated_at" IS NOT NULL AND t."updated_at" <> '')))"#
        );
        assert_eq!(p, vec![text("a"), text("b%")]);
        assert_eq!(render(&users(), &Filter::True).0, "1=1");
        assert_eq!(render(&users(), &Filter::False).0, "1=0");
        assert_eq!(render(&users(), &Filter::And(vec![])).0, "1=1");
        assert_eq!(render(&users(), &Filter::Or(vec![])).0, "1=0");
    }

    #[test]
    fn child_exists() {
        let f = Filter::Child {
            child: "emails".into(),
            filter: Box::new(Filter::And(vec![
                cmp("value", CompareOp::EndsWith, "@example.com", true),
                cmp("type", CompareOp::Eq, "work", false),
            ])),
        };
        let (sql, p) = render(&users(), &f);
        assert_eq!(
            sql,
            r#"EXISTS (SELECT 1 FROM "user_emails" AS c1 WHERE c1."user_id" = t."id" AND (lower(c1."value") LIKE lower(?) ESCAPE '\' AND c1."type" = ?))"#
        );
        assert_eq!(p, vec![text("%@example.com"), text("work")]);
    }

    #[test]
    fn related_exists() {
        let f = Filter::Related {
            relation: "members".into(),
            ids: Some(vec!["u1".into(), "u2".into()]),
        };
        let (sql, p) = render(&groups(), &f);
        assert_eq!(
            sql,
            r#"EXISTS (SELECT 1 FROM "group_members" AS j1 WHERE j1."group_id" = t."id" AND j1."member_id" IN (?, ?))"#
        );
        assert_eq!(p, vec![text("u1"), text("u2")]);
        let any = Filter::Related {
            relation: "members".into(),
            ids: None,
        };
        assert_eq!(
            render(&groups(), &any).0,
            r#"EXISTS (SELECT 1 FROM "group_members" AS j1 WHERE j1."group_id" = t."id")"#
        );
        let none = Filter::Related {
            relation: "members".into(),
            ids: Some(vec![]),
        };
        assert_eq!(render(&groups(), &none).0, "1=0");
    }

    #[test]
    fn id_integer_versus_uuid() {
        let id = |v: &str, op| Filter::Compare {
            field: FieldRef::Id,
            op,
            value: text(v),
            ignore_case: false,
        };
        let (sql, p) = render(&groups(), &id("42", CompareOp::Eq));
        assert_eq!((sql.as_str(), p), (r#"t."id" = ?"#, vec![Value::Int(42)]));
        let (sql, p) = render(&groups(), &id("x'; --", CompareOp::Eq));
        assert_eq!((sql.as_str(), p.len()), ("1=0", 0));
        assert_eq!(render(&groups(), &id("abc", CompareOp::Ne)).0, "1=1");
        let (sql, p) = render(&users(), &id("abc", CompareOp::Eq));
        assert_eq!((sql.as_str(), p), (r#"t."id" = ?"#, vec![text("abc")]));
    }

    #[test]
    fn unknown_names_are_unsupported() {
        let g = groups();
        let r = Renderer::new(Dialect::Sqlite, &g);
        for f in [
            cmp("nope", CompareOp::Eq, "x", false),
            Filter::Present(FieldRef::Created),
            Filter::Child {
                child: "nope".into(),
                filter: Box::new(Filter::True),
            },
            Filter::Related {
                relation: "nope".into(),
                ids: None,
            },
        ] {
            assert!(matches!(r.filter(&f), Err(ConnectorError::Unsupported(_))), "{f:?}");
        }
        let inside = Filter::Child {
            child: "emails".into(),
            filter: Box::new(Filter::Present(FieldRef::Id)),
        };
        assert!(matches!(
            Renderer::new(Dialect::Sqlite, &users()).filter(&inside),
            Err(ConnectorError::Unsupported(_))
        ));
    }

    #[test]
    fn page_with_sort_and_offset() {
        let e = users();
        let r = Renderer::new(Dialect::Sqlite, &e);
        let sort = SortKey {
            field: FieldRef::Field("user_name".into()),
            descending: true,
            ignore_case: true,
        };
        let st = r
            .select_page(
                &cmp("title", CompareOp::Eq, "x", false),
                Some(&sort),
                None,
                10,
                Some(20),
            )
            .unwrap();
        assert_eq!(
            st.sql,
            r#"SELECT t."id", t."version", t."created_at", t."updated_at", t."user_name", t."title", t."active" FROM "users" AS t WHERE (retired_at IS NULL) AND t."title" = ? ORDER BY lower(t."user_name") DESC NULLS FIRST, t."id" ASC LIMIT ? OFFSET ?"#
        );
        assert_eq!(st.params, vec![text("x"), Value::Int(10), Value::Int(20)]);
        let count = r.count(&Filter::True).unwrap();
        assert_eq!(
            count.sql,
            r#"SELECT COUNT(*) FROM "users" AS t WHERE (retired_at IS NULL)"#
        );
    }

    #[test]
    fn keyset_page() {
        let e = groups();
        let r = Renderer::new(Dialect::Sqlite, &e);
        let st = r
            .select_page(&Filter::True, None, Some(Value::Int(7)), 3, None)
            .unwrap();
        assert_eq!(
            st.sql,
            r#"SELECT t."id", t."display_name" FROM "groups" AS t WHERE t."id" > ? ORDER BY t."id" ASC LIMIT ?"#
        );
        assert_eq!(st.params, vec![Value::Int(7), Value::Int(3)]);
    }

    /// The child `emails` and relation `groups` of `users()` as JSON columns over `owner`.
    fn nested_sql(owner: &str) -> String {
        let v = |c: &str| {
            format!(
                r#"CASE typeof(c."{c}") WHEN 'blob' THEN json_array('x', hex(c."{c}")) WHEN 'real' THEN json_array('f', quote(c."{c}")) ELSE c."{c}" END"#
            )
        };
        format!(
            r#"(SELECT json_group_array(json_array({}, {}, {}) ORDER BY c.rowid) FROM "user_emails" AS c WHERE c."user_id" = {owner}."id") AS "__child_emails", (SELECT json_group_array(json_array(CASE typeof(j."group_id") WHEN 'blob' THEN json_array('x', hex(j."group_id")) WHEN 'real' THEN json_array('f', quote(j."group_id")) ELSE j."group_id" END) ORDER BY j.rowid) FROM "group_members" AS j WHERE j."member_id" = {owner}."id") AS "__rel_groups""#,
            v("value"),
            v("type"),
            v("is_primary")
        )
    }

    fn read_all() -> ReadSet {
        ReadSet {
            children: ["emails".to_owned()].into(),
            relations: ["groups".to_owned()].into(),
        }
    }

    #[test]
    fn get_by_id_reads_children_and_relations_in_one_statement() {
        let e = users();
        let r = Renderer::new(Dialect::Sqlite, &e);
        let st = r.select_by_id(text("a"), &read_all()).unwrap();
        assert_eq!(
            st.sql,
            format!(
                r#"SELECT t."id", t."version", t."created_at", t."updated_at", t."user_name", t."title", t."active", {} FROM "users" AS t WHERE t."id" = ? AND (retired_at IS NULL)"#,
                nested_sql("t")
            )
        );
        assert_eq!(st.params, vec![text("a")]);
        // Only what is asked for.
        let bare = r.select_by_id(text("a"), &ReadSet::default()).unwrap();
        assert_eq!(
            bare.sql,
            r#"SELECT t."id", t."version", t."created_at", t."updated_at", t."user_name", t."title", t."active" FROM "users" AS t WHERE t."id" = ? AND (retired_at IS NULL)"#
        );
        let emails = ReadSet {
            children: ["emails".to_owned()].into(),
            ..ReadSet::default()
        };
        let st = r.select_by_id(text("a"), &emails).unwrap();
        assert!(st.sql.contains(r#"AS "__child_emails""#), "{}", st.sql);
        assert!(!st.sql.contains("group_members"), "{}", st.sql);
        assert!(matches!(
            r.select_by_id(
                text("a"),
                &ReadSet {
                    relations: ["nope".to_owned()].into(),
                    ..ReadSet::default()
                }
            ),
            Err(ConnectorError::Unsupported(_))
        ));
    }

    #[test]
    fn page_with_children_relations_and_total() {
        let e = users();
        let r = Renderer::new(Dialect::Sqlite, &e);
        let sort = SortKey {
            field: FieldRef::Field("user_name".into()),
            descending: false,
            ignore_case: true,
        };
        let filter = cmp("title", CompareOp::Eq, "x", false);
        let st = r
            .select_page_with(&filter, Some(&sort), None, 10, Some(20), &read_all(), true)
            .unwrap();
        let cols = r#"t."id", t."version", t."created_at", t."updated_at", t."user_name", t."title", t."active""#;
        assert_eq!(
            st.sql,
            format!(
                r#"SELECT {}, {}, n."__total", p."__hit" FROM (SELECT COUNT(*) AS "__total" FROM "users" AS t WHERE (retired_at IS NULL) AND t."title" = ?) AS n LEFT JOIN (SELECT 1 AS "__hit", {cols} FROM "users" AS t WHERE (retired_at IS NULL) AND t."title" = ? ORDER BY lower(t."user_name") ASC NULLS LAST, t."id" ASC LIMIT 10 OFFSET 20) AS p ON 1=1 ORDER BY lower(p."user_name") ASC NULLS LAST, p."id" ASC"#,
                cols.replace("t.", "p."),
                nested_sql("p")
            )
        );
        assert_eq!(st.params, vec![text("x"), text("x")]);
        assert_eq!(
            PageLayout::new(&e, &read_all(), true),
            PageLayout {
                parts: vec![Part::Child("emails".into()), Part::Relation("groups".into())],
                total: Some(9),
            }
        );

        // Children without a total: a derived table, no join.
        let g = groups();
        let r = Renderer::new(Dialect::Sqlite, &g);
        let members = ReadSet {
            relations: ["members".to_owned()].into(),
            ..ReadSet::default()
        };
        let st = r
            .select_page_with(&Filter::True, None, Some(Value::Int(7)), 3, None, &members, false)
            .unwrap();
        assert_eq!(
            st.sql,
            r#"SELECT p."id", p."display_name", (SELECT json_group_array(json_array(CASE typeof(j."member_id") WHEN 'blob' THEN json_array('x', hex(j."member_id")) WHEN 'real' THEN json_array('f', quote(j."member_id")) ELSE j."member_id" END) ORDER BY j.rowid) FROM "group_members" AS j WHERE j."group_id" = p."id") AS "__rel_members" FROM (SELECT t."id", t."display_name" FROM "groups" AS t WHERE t."id" > ? ORDER BY t."id" ASC LIMIT 3) AS p ORDER BY p."id" ASC"#
        );
        assert_eq!(st.params, vec![Value::Int(7)]);

        // Neither: the plain page.
        let plain = r
            .select_page_with(&Filter::True, None, None, 3, Some(0), &ReadSet::default(), false)
            .unwrap();
        assert_eq!(plain, r.select_page(&Filter::True, None, None, 3, Some(0)).unwrap());
    }

    #[test]
    fn odd_part_names_are_not_spliced_into_sql() {
        let mut e = users();
        e.spec.children[0].name = "e\"mails".into();
        let read = ReadSet {
            children: ["e\"mails".to_owned()].into(),
            ..ReadSet::default()
        };
        let st = Renderer::new(Dialect::Sqlite, &e)
            .select_by_id(text("a"), &read)
            .unwrap();
        assert!(st.sql.contains(r#"AS "__part_0" FROM"#), "{}", st.sql);
    }

    #[test]
    fn insert_update_delete() {
        let e = users();
        let r = Renderer::new(Dialect::Sqlite, &e);
        let fields = Fields::from([
            ("user_name".to_owned(), vec![text("bjensen")]),
            ("title".to_owned(), vec![]),
        ]);
        let now = text("<now>");
        let st = r.insert_main(&fields, Some(text("<generated uuid>")), &now).unwrap();
        assert_eq!(
            st.to_string(),
            r#"INSERT INTO "users" ("id", "user_name", "version", "created_at", "updated_at") VALUES (?, ?, ?, ?, ?) -- params: ["<generated uuid>", "bjensen", 1, "<now>", "<now>"]"#
        );
        let st = r
            .update_main(text("u1"), &fields, &BTreeMap::new(), true, Some("3"), &now)
            .unwrap()
            .unwrap();
        assert_eq!(
            st.to_string(),
            r#"UPDATE "users" AS t SET "title" = NULL, "user_name" = ?, "version" = "version" + 1, "updated_at" = ? WHERE t."id" = ? AND (retired_at IS NULL) AND t."version" = ? -- params: ["bjensen", "<now>", "u1", 3]"#
        );
        assert_eq!(
            r.update_main(text("u1"), &Fields::new(), &BTreeMap::new(), false, None, &now)
                .unwrap(),
            None
        );
        let st = r.delete_main(text("u1"), None).unwrap();
        assert_eq!(
            st.to_string(),
            r#"DELETE FROM "users" AS t WHERE t."id" = ? AND (retired_at IS NULL) -- params: ["u1"]"#
        );
        let g = groups();
        let st = Renderer::new(Dialect::Sqlite, &g)
            .insert_main(&Fields::new(), None, &now)
            .unwrap();
        assert_eq!(st.sql, r#"INSERT INTO "groups" DEFAULT VALUES RETURNING "id""#);
    }

    #[test]
    fn write_guards() {
        let e = users();
        let r = Renderer::new(Dialect::Sqlite, &e);
        let two = Fields::from([("title".to_owned(), vec![text("a"), text("b")])]);
        let err = r.insert_main(&two, None, &text("now")).unwrap_err();
        assert!(err.to_string().contains("column title holds one value"), "{err}");
        let g = groups();
        let err = Renderer::new(Dialect::Sqlite, &g)
            .delete_main(Value::Int(1), Some("1"))
            .unwrap_err();
        assert!(matches!(err, ConnectorError::Unsupported(_)));
    }

    #[test]
    fn child_rows_and_links() {
        let e = users();
        let r = Renderer::new(Dialect::Sqlite, &e);
        let rows = vec![
            Row::from([("value".to_owned(), text("a@x")), ("type".to_owned(), text("work"))]),
            Row::from([("value".to_owned(), text("b@x"))]),
        ];
        let st = r.insert_children(&e.spec.children[0], &text("u1"), &rows).unwrap();
        assert_eq!(
            st[0].to_string(),
            r#"INSERT INTO "user_emails" ("user_id", "value", "type") VALUES (?, ?, ?), (?, ?, NULL) -- params: ["u1", "a@x", "work", "u1", "b@x"]"#
        );
        let g = groups();
        let r = Renderer::new(Dialect::Sqlite, &g);
        let rel = &g.spec.relations[0];
        let st = r
            .insert_links(rel, &Value::Int(5), &["u1".into(), "u2".into()])
            .unwrap();
        assert_eq!(
            st[0].to_string(),
            r#"INSERT INTO "group_members" ("group_id", "member_id", "source") SELECT ?, v.column1, ? FROM (VALUES (?), (?)) AS v WHERE NOT EXISTS (SELECT 1 FROM "group_members" AS x WHERE x."group_id" = ? AND x."member_id" = v.column1) -- params: [5, "scim", "u1", "u2", 5]"#
        );
        let st = r.delete_links(rel, &Value::Int(5), &["u1".into()]).unwrap();
        assert_eq!(
            st[0].to_string(),
            r#"DELETE FROM "group_members" WHERE "group_id" = ? AND "member_id" IN (?) -- params: [5, "u1"]"#
        );
    }

    #[test]
    fn large_batches_are_chunked() {
        let g = groups();
        let r = Renderer::new(Dialect::Sqlite, &g);
        let ids: Vec<String> = (0..2000).map(|i| format!("u{i}")).collect();
        let st = r.insert_links(&g.spec.relations[0], &Value::Int(1), &ids).unwrap();
        assert_eq!(st.len(), 3);
        assert!(st.iter().all(|s| s.params.len() <= MAX_PARAMS + 3));
    }

    #[test]
    fn resolve_reports_bad_identifiers() {
        let mut cfg = users_cfg();
        cfg.table = "users; drop".into();
        cfg.scope = Some("1=1; DROP TABLE users".into());
        let mut spec = users().spec;
        spec.fields.push("bad name".into());
        spec.relations[0].targets.push(EntityId(9));
        let errors = Entity::resolve(spec, &cfg, 2).unwrap_err();
        assert_eq!(errors.len(), 4, "{errors:?}");
    }
}
