//! The connector contract: what every backend (SQL, LDAP, HTTP) implements.
//!
//! A connector knows nothing of SCIM. It sees backend field names, backend values, a
//! backend-neutral [`Filter`] tree, and a [`ChangeSet`]. The mapping layer produces all of
//! them; `connectors/SPEC.md` states the behaviour every implementation must have, and the
//! shared contract suite in `tests/` checks it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use async_trait::async_trait;

pub mod faults;
#[cfg(feature = "connector-ldap")]
pub mod ldap;
#[cfg(feature = "connector-sqlite")]
pub mod sql;

/// A value as a backend stores it. Connectors convert these to and from native types.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    Bytes(Vec<u8>),
}

impl Value {
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Text(s) => write!(f, "{s:?}"),
            Value::Bytes(b) => write!(f, "<{} bytes>", b.len()),
        }
    }
}

/// Field values of one entry or row. A field with no value is absent from the map; SQL
/// columns hold at most one value, LDAP attributes any number.
pub type Fields = BTreeMap<String, Vec<Value>>;

/// One row of a child table (a multi-valued attribute stored as rows), keyed by column.
pub type Row = BTreeMap<String, Value>;

/// Identifies an entity (a resource type's backend side) within one connector: the index of
/// its [`EntitySpec`] in the list the connector was built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntityId(pub usize);

/// Where a multi-valued attribute's rows live (a child table).
#[derive(Debug, Clone, PartialEq)]
pub struct ChildSpec {
    /// The name the mapping uses for it (the SCIM attribute, e.g. `emails`).
    pub name: String,
    pub table: String,
    /// The column holding the owner's id.
    pub key: String,
    /// The columns the mapping reads and writes.
    pub columns: Vec<String>,
}

/// A many-to-many link to another entity (group members, a user's groups).
#[derive(Debug, Clone, PartialEq)]
pub struct RelationSpec {
    pub name: String,
    /// The entities a linked id may belong to (e.g. members may be users or groups).
    pub targets: Vec<EntityId>,
    /// Location, in the kind's syntax: an attribute (`member`) for LDAP ...
    pub attribute: Option<String>,
    /// ... or a join table with the owner's key column and the linked id's column for SQL.
    pub table: Option<String>,
    pub key: Option<String>,
    pub value: Option<String>,
    /// Extra columns written on inserted join rows.
    pub set: BTreeMap<String, String>,
    /// Placeholder value where the schema forbids an empty relation.
    pub empty: Option<String>,
}

/// A single-valued field that holds another entity's id in SCIM (a manager). Backends that
/// store references natively (an LDAP DN) translate id ↔ native value; others store the id.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceSpec {
    pub field: String,
    pub targets: Vec<EntityId>,
}

/// What the mapping tells a connector about one entity when it is built.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EntitySpec {
    /// The resource type name, for messages and logs.
    pub name: String,
    /// Every field the mapping reads or writes.
    pub fields: Vec<String>,
    pub children: Vec<ChildSpec>,
    pub relations: Vec<RelationSpec>,
    /// Fields among `fields` that hold references to other entities.
    pub references: Vec<ReferenceSpec>,
    /// The mapping's `[[errors]]` rules, asked before the connector's default error mapping.
    pub errors: faults::ErrorRules,
}

/// Comparison operators of the backend filter tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    Eq,
    Ne,
    Contains,
    StartsWith,
    EndsWith,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Contains => "co",
            CompareOp::StartsWith => "sw",
            CompareOp::EndsWith => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }
}

/// Which field a filter term or sort key addresses.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FieldRef {
    /// The entity's immutable key.
    Id,
    /// The creation timestamp field named in the connector part.
    Created,
    /// The modification timestamp field named in the connector part.
    Modified,
    /// A mapped field (an entity field, or a child column inside [`Filter::Child`]).
    Field(String),
}

impl fmt::Display for FieldRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldRef::Id => f.write_str("<id>"),
            FieldRef::Created => f.write_str("<created>"),
            FieldRef::Modified => f.write_str("<modified>"),
            FieldRef::Field(n) => f.write_str(n),
        }
    }
}

/// The backend-neutral filter tree. Every connector renders it natively (a SQL `WHERE` with
/// bound parameters, an RFC 4515 filter, query parameters) or reports what it cannot express.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    True,
    False,
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Compare {
        field: FieldRef,
        op: CompareOp,
        value: Value,
        /// Compare text case-insensitively.
        ignore_case: bool,
    },
    Present(FieldRef),
    /// Some row of the child table matches; fields inside refer to its columns.
    Child {
        child: String,
        filter: Box<Filter>,
    },
    /// The relation links to one of `ids` (or to anything when `ids` is `None`).
    Related {
        relation: String,
        ids: Option<Vec<String>>,
    },
    /// Every bit of `mask` is set in the integer field (AD `userAccountControl`).
    Bits {
        field: String,
        mask: i64,
    },
}

impl Filter {
    /// `And`, simplified: `True` terms dropped, a `False` term wins, nesting flattened.
    pub fn and(terms: Vec<Filter>) -> Filter {
        let mut out = Vec::with_capacity(terms.len());
        for t in terms {
            match t {
                Filter::True => {}
                Filter::False => return Filter::False,
                Filter::And(inner) => out.extend(inner),
                other => out.push(other),
            }
        }
        match out.len() {
            0 => Filter::True,
            1 => out.pop().unwrap_or(Filter::True),
            _ => Filter::And(out),
        }
    }

    /// `Or`, simplified: `False` terms dropped, a `True` term wins, nesting flattened.
    pub fn or(terms: Vec<Filter>) -> Filter {
        let mut out = Vec::with_capacity(terms.len());
        for t in terms {
            match t {
                Filter::False => {}
                Filter::True => return Filter::True,
                Filter::Or(inner) => out.extend(inner),
                other => out.push(other),
            }
        }
        match out.len() {
            0 => Filter::False,
            1 => out.pop().unwrap_or(Filter::False),
            _ => Filter::Or(out),
        }
    }

    /// `Not`, with constants folded and double negation removed.
    pub fn negate(inner: Filter) -> Filter {
        match inner {
            Filter::True => Filter::False,
            Filter::False => Filter::True,
            Filter::Not(f) => *f,
            other => Filter::Not(Box::new(other)),
        }
    }
}

/// A sort key for [`Query`].
#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    pub field: FieldRef,
    pub descending: bool,
    pub ignore_case: bool,
}

/// Which window of a result set to return.
#[derive(Debug, Clone, PartialEq)]
pub enum PageRequest {
    /// `startIndex`/`count`; `offset` is 0-based.
    Offset { offset: u64, count: u64 },
    /// RFC 9865 cursor paging; `cursor` is `None` for the first page.
    Cursor { cursor: Option<String>, count: u64 },
}

/// The parts of an entry beyond its own fields that a read should fetch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ReadSet {
    pub children: BTreeSet<String>,
    pub relations: BTreeSet<String>,
}

/// A search for entries of one entity.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub filter: Filter,
    pub sort: Option<SortKey>,
    pub page: PageRequest,
    pub read: ReadSet,
    /// Whether the caller needs the total number of matches.
    pub want_total: bool,
}

/// Version and timestamps of an entry, as the backend reports them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordMeta {
    pub version: Option<String>,
    pub created: Option<Value>,
    pub modified: Option<Value>,
}

/// One entry as read from the backend.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Record {
    pub id: String,
    pub meta: RecordMeta,
    pub fields: Fields,
    pub children: BTreeMap<String, Vec<Row>>,
    pub relations: BTreeMap<String, Vec<String>>,
}

/// Bits to set and clear in an integer flags field, leaving the others as they are: the
/// connector reads the current value and writes it back changed (AD `userAccountControl`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlagChange {
    pub set: i64,
    pub clear: i64,
}

impl FlagChange {
    /// The flags value after the change.
    pub fn apply(self, current: i64) -> i64 {
        (current & !self.clear) | self.set
    }
}

/// A new entry to create: the id is assigned by the backend.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewRecord {
    pub fields: Fields,
    pub children: BTreeMap<String, Vec<Row>>,
    pub relations: BTreeMap<String, Vec<String>>,
    /// Flag bits, applied on top of the field's value in `fields` (or 0).
    pub flags: BTreeMap<String, FlagChange>,
}

/// Membership changes as value deltas: never a rewrite of the whole list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RelationDelta {
    /// Remove every link before applying `add`.
    pub remove_all: bool,
    pub add: Vec<String>,
    pub remove: Vec<String>,
}

impl RelationDelta {
    pub fn is_empty(&self) -> bool {
        !self.remove_all && self.add.is_empty() && self.remove.is_empty()
    }
}

/// The minimal set of changes to one entry: only what changed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChangeSet {
    /// New values per field; an empty list clears the field.
    pub fields: Fields,
    /// Child tables whose rows are replaced as a whole.
    pub children: BTreeMap<String, Vec<Row>>,
    pub relations: BTreeMap<String, RelationDelta>,
    /// Flag bits to set or clear in integer fields, keeping the other bits.
    pub flags: BTreeMap<String, FlagChange>,
}

impl ChangeSet {
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
            && self.children.is_empty()
            && self.relations.values().all(RelationDelta::is_empty)
            && self.flags.is_empty()
    }
}

/// One page of search results.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchPage {
    pub records: Vec<Record>,
    /// Total number of matches, when asked for and known.
    pub total: Option<u64>,
    /// Cursor of the next page (cursor paging), `None` on the last page.
    pub next_cursor: Option<String>,
}

/// What a connector can do; drives validation at load, `/ServiceProviderConfig`, and the
/// choice between push-down and in-memory evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct Capabilities {
    pub sort: bool,
    pub offset_paging: bool,
    pub cursor_paging: bool,
    /// The backend can count matches without reading them.
    pub total: bool,
    /// Writes of one request (fields, child rows, relations) are atomic.
    pub transactions: bool,
    /// `expected_version` is checked by the backend at write time (no race).
    pub native_version_check: bool,
}

/// A filter term a connector cannot express.
#[derive(Debug, Clone, PartialEq)]
pub struct Unsupported {
    pub field: FieldRef,
    pub op: Option<CompareOp>,
    pub reason: String,
}

/// Errors a connector reports. The HTTP edge maps each to one SCIM status; see
/// `engine::error`.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// The backend cannot be reached or refused the connection.
    #[error("backend unavailable: {0}")]
    Unavailable(String),
    /// The backend did not answer within the configured time.
    #[error("backend timed out after {0:?}")]
    Timeout(std::time::Duration),
    /// The backend is overloaded or rate-limited the request.
    #[error("backend busy: {0}")]
    Busy(String),
    /// A uniqueness constraint rejected the write.
    #[error("uniqueness violation: {detail}")]
    Conflict { field: Option<String>, detail: String },
    /// The entry does not exist (or is outside the scope).
    #[error("no such entry")]
    NotFound,
    /// `expected_version` did not match.
    #[error("version mismatch")]
    VersionMismatch,
    /// The backend rejected a value (syntax, length, type).
    #[error("invalid value{}: {detail}", field.as_deref().map(|f| format!(" for {f}")).unwrap_or_default())]
    InvalidValue { field: Option<String>, detail: String },
    /// A referenced entry (a member, a manager) does not exist.
    #[error("referenced entry not found: {0}")]
    DanglingReference(String),
    /// The backend denied the operation to the gateway's account.
    #[error("access denied: {0}")]
    Forbidden(String),
    /// The request needs something the connector cannot do.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// Anything else the backend reported; logged, never shown to clients.
    #[error("backend error: {0}")]
    Backend(String),
    /// A mapping's `[[errors]]` rule chose the response: an HTTP status (4xx or 5xx) and a
    /// SCIM `scimType` keyword. `detail` describes the backend failure; it is logged, and
    /// shown to no client.
    #[error("backend error answered with {status} by a mapping rule: {detail}")]
    Mapped {
        status: u16,
        scim_type: Option<String>,
        detail: String,
    },
}

/// A backend. One instance serves every entity of one `[connectors.NAME]` table.
#[async_trait]
pub trait Connector: Send + Sync + 'static {
    /// `sql`, `ldap` or `http`.
    fn kind(&self) -> &'static str;

    fn capabilities(&self, entity: EntityId) -> &Capabilities;

    /// Filter terms the connector cannot render, so the engine can reject them with a clear
    /// error or evaluate them in memory when the mapping allows it.
    fn unsupported(&self, entity: EntityId, filter: &Filter) -> Vec<Unsupported>;

    /// Checks that the backend answers (`/readyz`, `scimgate check`).
    async fn health(&self) -> Result<(), ConnectorError>;

    /// Creates an entry and returns it as stored (id, version and timestamps assigned).
    async fn create(&self, entity: EntityId, record: &NewRecord) -> Result<Record, ConnectorError>;

    /// Reads one entry by id; `None` when it does not exist or is outside the scope.
    async fn get(&self, entity: EntityId, id: &str, read: &ReadSet) -> Result<Option<Record>, ConnectorError>;

    async fn search(&self, entity: EntityId, query: &Query) -> Result<SearchPage, ConnectorError>;

    /// Applies a change set. With `expected_version`, fails with `VersionMismatch` when the
    /// entry has changed since.
    async fn modify(
        &self,
        entity: EntityId,
        id: &str,
        changes: &ChangeSet,
        expected_version: Option<&str>,
    ) -> Result<(), ConnectorError>;

    async fn delete(&self, entity: EntityId, id: &str, expected_version: Option<&str>) -> Result<(), ConnectorError>;

    /// Renders the native operations a request would produce, without running them
    /// (`scimgate map`, `scimgate test`). One line per operation.
    fn explain(&self, entity: EntityId, operation: &Operation<'_>) -> Result<Vec<String>, ConnectorError>;
}

/// An operation to explain (dry run).
#[derive(Debug, Clone, Copy)]
pub enum Operation<'a> {
    Create(&'a NewRecord),
    Search(&'a Query),
    Modify {
        id: &'a str,
        changes: &'a ChangeSet,
        expected_version: Option<&'a str>,
    },
    Delete {
        id: &'a str,
    },
}
