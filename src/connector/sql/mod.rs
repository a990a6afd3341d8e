//! The SQL connector: resources stored as rows of a main table, multi-valued attributes as
//! child tables, and memberships as join tables.
//!
//! Only SQLite is built today; [`dialect::Dialect`] holds everything that differs between
//! databases. Statements are rendered by the pure functions of [`render`], so that
//! [`Connector::explain`] shows exactly what the operations run. Every write is one
//! transaction; every operation is bounded by `statement_timeout_ms`.
//!
//! A read is one statement: child rows and linked ids come with the main row as JSON
//! arrays aggregated by correlated subqueries ([`dialect::Dialect::json_rows`]), and a
//! search's total with its page, so reads need no transaction: a single SELECT sees one
//! snapshot.
//!
//! Child tables are read back in insertion order (SQLite's `rowid`), so they must not be
//! `WITHOUT ROWID` tables.
//!
//! A failed statement goes through the mapping's error rules before the default mapping
//! ([`rules`]); a rule's `retry` runs the whole operation again.

pub mod config;
pub mod dialect;
pub mod json;
pub mod render;
mod rules;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::future::Future;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
};
use sqlx::{AssertSqlSafe, Decode, Row as _, Sqlite, SqliteConnection, TypeInfo, ValueRef};

pub use config::{FieldLoc, Generated, IdKind, SqlConnectorConfig, SqlEntityConfig, StampKind, VersionKind};
use dialect::Dialect;
use render::{Entity, PageLayout, Part, Renderer, Statement, child_columns, join_of};
use rules::{NO_RULES, Role};

use crate::connector::faults::{self, Failure, OpKind};
use crate::connector::{
    Capabilities, ChangeSet, Connector, ConnectorError, EntityId, EntitySpec, FieldRef, Fields, Filter, NewRecord,
    Operation, PageRequest, Query, ReadSet, Record, Row, SearchPage, Unsupported, Value,
};

/// Capabilities reported for an entity id the connector does not know.
static NO_CAPABILITIES: Capabilities = Capabilities {
    sort: false,
    offset_paging: false,
    cursor_paging: false,
    total: false,
    transactions: false,
    native_version_check: false,
};

/// A connector serving every entity of one `[connectors.NAME]` table over one pool.
pub struct SqlConnector {
    dialect: Dialect,
    entities: Vec<Entity>,
    capabilities: Vec<Capabilities>,
    /// `None` when built offline for dry runs.
    pool: Option<SqlitePool>,
    statement_timeout: Duration,
    /// GET-by-id statement texts per entity and read set: rendering them is a tenth of a
    /// GET's CPU, and they differ only in the bound id.
    select_by_id: std::sync::Mutex<std::collections::HashMap<(String, ReadSet), String>>,
    /// Every statement run, for tests that count queries.
    #[cfg(test)]
    log: std::sync::Mutex<Vec<String>>,
}

/// Checks a connector configuration and its entities without any I/O: the URL's dialect,
/// pool settings, identifiers, generation kinds and relation targets. Returns every problem
/// found, empty when the configuration is usable.
pub fn validate(config: &SqlConnectorConfig, entities: &[(EntitySpec, SqlEntityConfig)]) -> Vec<String> {
    match resolve(config, entities.to_vec()) {
        Ok(_) => Vec::new(),
        Err(errors) => errors,
    }
}

fn resolve(
    config: &SqlConnectorConfig,
    entities: Vec<(EntitySpec, SqlEntityConfig)>,
) -> Result<(Dialect, Vec<Entity>), Vec<String>> {
    let mut errors = Vec::new();
    let dialect = Dialect::from_url(&config.url).map_err(|e| errors.push(e)).ok();
    if config.max_connections == 0 {
        errors.push("`max_connections` must be at least 1".to_owned());
    }
    if config.connect_timeout_ms == 0 || config.statement_timeout_ms == 0 {
        errors.push("`connect_timeout_ms` and `statement_timeout_ms` must be positive".to_owned());
    }
    let count = entities.len();
    let mut resolved = Vec::with_capacity(count);
    for (spec, cfg) in entities {
        match Entity::resolve(spec, &cfg, count) {
            Ok(e) => resolved.push(e),
            Err(mut es) => errors.append(&mut es),
        }
    }
    match dialect {
        Some(d) if errors.is_empty() => Ok((d, resolved)),
        _ => Err(errors),
    }
}

/// Builds a connector without touching the database: `explain` works, every operation
/// that needs the database reports it unavailable. For dry runs (`scimgate map`).
pub fn build_offline(
    config: &SqlConnectorConfig,
    entities: Vec<(EntitySpec, SqlEntityConfig)>,
) -> Result<SqlConnector, ConnectorError> {
    let (dialect, entities) = resolve(config, entities).map_err(config_error)?;
    let capabilities = entities
        .iter()
        .map(|e| Capabilities {
            sort: true,
            offset_paging: true,
            cursor_paging: true,
            total: true,
            transactions: true,
            native_version_check: e.version.is_some(),
        })
        .collect();
    Ok(SqlConnector {
        dialect,
        entities,
        capabilities,
        pool: None,
        statement_timeout: Duration::from_millis(config.statement_timeout_ms),
        select_by_id: Default::default(),
        #[cfg(test)]
        log: std::sync::Mutex::new(Vec::new()),
    })
}

/// Builds a connector: validates, connects the pool (foreign keys on, WAL journal, busy
/// timeout = statement timeout) and runs the `init` statements. `init_files` are the
/// caller's to read: it appends their text to `init` first.
pub async fn build(
    config: &SqlConnectorConfig,
    entities: Vec<(EntitySpec, SqlEntityConfig)>,
) -> Result<SqlConnector, ConnectorError> {
    let mut connector = build_offline(config, entities)?;
    let pool = connect(config).await?;
    for (n, sql) in config.init.iter().enumerate() {
        // The init scripts are the operator's own DDL from the config, never request data.
        #[allow(clippy::disallowed_methods)]
        let run = sqlx::raw_sql(AssertSqlSafe(sql.clone())).execute(&pool);
        match tokio::time::timeout(connector.statement_timeout, run).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                return Err(ConnectorError::Backend(format!(
                    "init statement #{}: {}",
                    n + 1,
                    map_sqlx(e)
                )));
            }
            Err(_) => return Err(ConnectorError::Timeout(connector.statement_timeout)),
        }
    }
    connector.pool = Some(pool);
    Ok(connector)
}

fn config_error(errors: Vec<String>) -> ConnectorError {
    let unbuilt = errors.iter().find(|e| e.contains("not built into this binary"));
    match unbuilt {
        Some(e) => ConnectorError::Unsupported(e.clone()),
        None => ConnectorError::InvalidValue {
            field: None,
            detail: errors.join("; "),
        },
    }
}

async fn connect(config: &SqlConnectorConfig) -> Result<SqlitePool, ConnectorError> {
    let statement_timeout = Duration::from_millis(config.statement_timeout_ms);
    let connect_timeout = Duration::from_millis(config.connect_timeout_ms);
    // The URL is never echoed: it may carry credentials.
    let options = SqliteConnectOptions::from_str(&config.url)
        .map_err(|e| ConnectorError::InvalidValue {
            field: Some("url".into()),
            detail: e.to_string(),
        })?
        .foreign_keys(true)
        .journal_mode(SqliteJournalMode::Wal)
        .busy_timeout(statement_timeout);
    // An in-memory database lives as long as a connection to it: keep exactly one, forever.
    let memory = config.url.contains(":memory:") || config.url.contains("mode=memory");
    // No ping before each acquire: the database is in-process, and a ping is one more
    // round trip to the connection's worker thread on every operation. A dead worker
    // still fails the statement (reported unavailable), and sqlx tests every connection
    // when it is released.
    let mut pool = SqlitePoolOptions::new()
        .max_connections(if memory { 1 } else { config.max_connections })
        .acquire_timeout(connect_timeout)
        .test_before_acquire(false);
    if memory {
        pool = pool.min_connections(1).idle_timeout(None).max_lifetime(None);
    }
    match tokio::time::timeout(connect_timeout, pool.connect_with(options)).await {
        Ok(result) => result.map_err(map_sqlx),
        Err(_) => Err(ConnectorError::Unavailable(format!(
            "no connection within {connect_timeout:?}"
        ))),
    }
}

/// Maps a sqlx error onto the connector's error kinds, by SQLite (extended) result code.
fn map_sqlx(error: sqlx::Error) -> ConnectorError {
    match error {
        sqlx::Error::Database(db) => {
            let code: i32 = db.code().and_then(|c| c.parse().ok()).unwrap_or(0);
            map_sqlite_code(code, db.message())
        }
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed | sqlx::Error::Io(_) => {
            ConnectorError::Unavailable(error.to_string())
        }
        other => ConnectorError::Backend(other.to_string()),
    }
}

fn map_sqlite_code(code: i32, message: &str) -> ConnectorError {
    let detail = message.to_owned();
    match code {
        // SQLITE_CONSTRAINT_UNIQUE, SQLITE_CONSTRAINT_PRIMARYKEY
        2067 | 1555 => ConnectorError::Conflict {
            field: constraint_column(message),
            detail,
        },
        // SQLITE_CONSTRAINT_NOTNULL
        1299 => ConnectorError::InvalidValue {
            field: constraint_column(message),
            detail,
        },
        // SQLITE_CONSTRAINT_FOREIGNKEY
        787 => ConnectorError::DanglingReference(detail),
        _ => match code & 0xff {
            // SQLITE_CONSTRAINT (CHECK, triggers' RAISE), SQLITE_TOOBIG, SQLITE_MISMATCH, SQLITE_RANGE
            19 | 18 | 20 | 25 => ConnectorError::InvalidValue { field: None, detail },
            // SQLITE_BUSY, SQLITE_LOCKED
            5 | 6 => ConnectorError::Busy(detail),
            // SQLITE_IOERR, SQLITE_CANTOPEN, SQLITE_NOTADB, SQLITE_CORRUPT, SQLITE_FULL
            10 | 14 | 26 | 11 | 13 => ConnectorError::Unavailable(detail),
            // SQLITE_PERM, SQLITE_READONLY, SQLITE_AUTH
            3 | 8 | 23 => ConnectorError::Forbidden(detail),
            _ => ConnectorError::Backend(detail),
        },
    }
}

/// The column named by `UNIQUE constraint failed: users.user_name`; `None` for several
/// columns or an expression index (`... failed: index 'users_lower_name'`).
fn constraint_column(message: &str) -> Option<String> {
    let (_, target) = message.split_once("failed: ")?;
    if target.contains(',') || target.starts_with("index ") {
        return None;
    }
    target.rsplit('.').next().map(|c| c.trim().to_owned())
}

fn now() -> Value {
    Value::Text(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// The one place a rendered statement meets sqlx: its text comes from the renderer (config
/// identifiers only) and every value is bound.
#[allow(clippy::disallowed_methods)]
fn to_query(st: &Statement) -> sqlx::query::Query<'static, Sqlite, SqliteArguments> {
    st.params
        .iter()
        .fold(sqlx::query(AssertSqlSafe(st.sql.clone())), |q, v| match v {
            Value::Bool(b) => q.bind(*b),
            Value::Int(i) => q.bind(*i),
            Value::Float(x) => q.bind(*x),
            Value::Text(s) => q.bind(s.clone()),
            Value::Bytes(b) => q.bind(b.clone()),
        })
}

/// A column of a result row as a [`Value`], `None` for NULL. Goes by the stored value's
/// type, since SQLite columns are not typed.
fn column_value(row: &SqliteRow, index: usize) -> Result<Option<Value>, ConnectorError> {
    enum Kind {
        Int,
        Float,
        Blob,
        Text,
    }
    let raw = row.try_get_raw(index).map_err(map_sqlx)?;
    if raw.is_null() {
        return Ok(None);
    }
    let kind = match raw.type_info().name() {
        "INTEGER" | "BOOLEAN" => Kind::Int,
        "REAL" => Kind::Float,
        "BLOB" => Kind::Blob,
        _ => Kind::Text,
    };
    let decoded = |e: sqlx::error::BoxDynError| ConnectorError::Backend(format!("column #{index}: {e}"));
    let value = match kind {
        Kind::Int => Value::Int(<i64 as Decode<Sqlite>>::decode(raw).map_err(decoded)?),
        Kind::Float => Value::Float(<f64 as Decode<Sqlite>>::decode(raw).map_err(decoded)?),
        Kind::Blob => Value::Bytes(<Vec<u8> as Decode<Sqlite>>::decode(raw).map_err(decoded)?),
        Kind::Text => Value::Text(<String as Decode<Sqlite>>::decode(raw).map_err(decoded)?),
    };
    Ok(Some(value))
}

/// An id, version or linked id as the string the contract carries.
fn value_string(value: &Value) -> String {
    match value {
        Value::Text(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::Float(x) => x.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Bytes(b) => b.iter().map(|byte| format!("{byte:02x}")).collect(),
    }
}

/// Where a page of search results starts, decoded from the request.
enum Window {
    /// `LIMIT/OFFSET`; `cursor` tells whether the caller pages by cursor.
    Offset { offset: u64, count: u64, cursor: bool },
    /// Keyset paging on the id: rows after `after` (`None` for the first page).
    Keyset { after: Option<String>, count: u64 },
}

fn invalid_cursor() -> ConnectorError {
    ConnectorError::InvalidValue {
        field: None,
        detail: "invalid cursor".to_owned(),
    }
}

/// Keyset cursors are `k` + the hex of the last id's UTF-8 bytes (`k` alone: the start);
/// offset cursors, used when a sort key is given, are `o` + the offset.
fn encode_keyset(after: Option<&str>) -> String {
    let hex: String = after.unwrap_or_default().bytes().map(|b| format!("{b:02x}")).collect();
    format!("k{hex}")
}

fn decode_keyset(hex: &str) -> Result<Option<String>, ConnectorError> {
    if hex.is_empty() {
        return Ok(None);
    }
    if !hex.len().is_multiple_of(2) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid_cursor());
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| invalid_cursor()))
        .collect::<Result<Vec<u8>, _>>()?;
    String::from_utf8(bytes).map(Some).map_err(|_| invalid_cursor())
}

fn window(query: &Query) -> Result<Window, ConnectorError> {
    match (&query.page, &query.sort) {
        (PageRequest::Offset { offset, count }, _) => Ok(Window::Offset {
            offset: *offset,
            count: *count,
            cursor: false,
        }),
        (PageRequest::Cursor { cursor, count }, None) => {
            let after = match cursor.as_deref() {
                None => None,
                Some(c) => decode_keyset(c.strip_prefix('k').ok_or_else(invalid_cursor)?)?,
            };
            Ok(Window::Keyset { after, count: *count })
        }
        (PageRequest::Cursor { cursor, count }, Some(_)) => {
            let offset = match cursor.as_deref() {
                None => 0,
                Some(c) => c
                    .strip_prefix('o')
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(invalid_cursor)?,
            };
            Ok(Window::Offset {
                offset,
                count: *count,
                cursor: true,
            })
        }
    }
}

/// The statements of one modify, in execution order.
struct ModifyPlan {
    /// The UPDATE of the main row, when anything is set on it.
    update: Option<Statement>,
    /// Reads the row's version: the existence and version check when there is no UPDATE,
    /// and the "not found or changed?" question when the UPDATE matched nothing.
    check: Statement,
    /// Child-table and join-table statements, with their part in the operation (`update` for
    /// child tables, `add_member` / `remove_member` for links), which the error rules match.
    rest: Vec<(OpKind, Statement)>,
}

impl SqlConnector {
    fn entity(&self, entity: EntityId) -> Result<&Entity, ConnectorError> {
        self.entities
            .get(entity.0)
            .ok_or_else(|| ConnectorError::Unsupported(format!("unknown entity #{}", entity.0)))
    }

    fn renderer<'a>(&self, entity: &'a Entity) -> Renderer<'a> {
        Renderer::new(self.dialect, entity)
    }

    fn pool(&self) -> Result<&SqlitePool, ConnectorError> {
        self.pool
            .as_ref()
            .ok_or_else(|| ConnectorError::Unavailable("the connector was built offline, for dry runs".into()))
    }

    /// Bounds a whole operation by the statement timeout; a transaction cut short is
    /// dropped, which rolls it back.
    async fn timed<T>(&self, op: impl Future<Output = Result<T, ConnectorError>>) -> Result<T, ConnectorError> {
        tokio::time::timeout(self.statement_timeout, op)
            .await
            .unwrap_or(Err(ConnectorError::Timeout(self.statement_timeout)))
    }

    fn trace(&self, st: &Statement) {
        // Parameters are request data (personal data, secrets): only their count is logged.
        tracing::debug!(target: "scimgate::connector::sql", sql = %st.sql, params = st.params.len(), "statement");
        #[cfg(test)]
        if let Ok(mut log) = self.log.lock() {
            log.push(st.sql.clone());
        }
    }

    /// Runs a write statement: the rows it changed, or `None` when it failed and a mapping
    /// rule counts it as done.
    async fn exec(&self, conn: &mut SqliteConnection, st: &Statement, role: Role<'_>) -> Result<Option<u64>, Failure> {
        self.trace(st);
        match to_query(st).execute(conn).await {
            Ok(done) => Ok(Some(done.rows_affected())),
            Err(e) => match role.verdict(&e) {
                faults::Verdict::Ok => Ok(None),
                verdict => Err(Role::settle(verdict, e)),
            },
        }
    }

    async fn fetch(
        &self,
        conn: &mut SqliteConnection,
        st: &Statement,
        role: Role<'_>,
    ) -> Result<Vec<SqliteRow>, Failure> {
        self.trace(st);
        to_query(st).fetch_all(conn).await.map_err(|e| role.failure(e))
    }

    async fn fetch_one(
        &self,
        conn: &mut SqliteConnection,
        st: &Statement,
        role: Role<'_>,
    ) -> Result<Option<SqliteRow>, Failure> {
        self.trace(st);
        to_query(st).fetch_optional(conn).await.map_err(|e| role.failure(e))
    }

    /// Every child table and relation of an entity: what a create reads back.
    fn everything(entity: &Entity) -> ReadSet {
        ReadSet {
            children: entity.spec.children.iter().map(|c| c.name.clone()).collect(),
            relations: entity.spec.relations.iter().map(|r| r.name.clone()).collect(),
        }
    }

    fn check_read_set(entity: &Entity, read: &ReadSet) -> Result<(), ConnectorError> {
        read.children.iter().try_for_each(|c| entity.child(c).map(drop))?;
        read.relations.iter().try_for_each(|r| entity.relation(r).map(drop))
    }

    fn check_version_support(entity: &Entity, expected: Option<&str>) -> Result<(), ConnectorError> {
        if expected.is_some() && entity.version.is_none() {
            return Err(ConnectorError::Unsupported(format!(
                "{} has no version column to check an expected version against",
                entity.spec.name
            )));
        }
        Ok(())
    }

    /// A main-table row as a record (fields only): the columns of [`Entity::columns`],
    /// first in the row.
    fn to_record(entity: &Entity, row: &SqliteRow) -> Result<Record, ConnectorError> {
        let mut record = Record::default();
        for (i, col) in entity.columns.iter().enumerate() {
            let Some(value) = column_value(row, i)? else {
                continue;
            };
            if col.id {
                record.id = value_string(&value);
            }
            if col.version {
                record.meta.version = Some(value_string(&value));
            }
            if col.created {
                record.meta.created = Some(value.clone());
            }
            if col.modified {
                record.meta.modified = Some(value.clone());
            }
            if col.field {
                record.fields.insert(col.name.clone(), vec![value]);
            }
        }
        Ok(record)
    }

    /// A row of a read with JSON columns: the main columns as [`Self::to_record`] reads
    /// them, then one aggregated column per part (see [`render::nested_parts`]). Every
    /// part asked for is present in the record, empty when nothing is linked.
    fn to_full_record(entity: &Entity, parts: &[Part], row: &SqliteRow) -> Result<Record, ConnectorError> {
        let mut record = Self::to_record(entity, row)?;
        for (n, part) in parts.iter().enumerate() {
            let json = match column_value(row, entity.columns.len() + n)? {
                Some(Value::Text(json)) => json,
                None => "[]".to_owned(),
                Some(other) => {
                    return Err(ConnectorError::Backend(format!(
                        "aggregated rows read back as {other}, not JSON text"
                    )));
                }
            };
            match part {
                Part::Child(name) => {
                    let child = entity.child(name)?;
                    let cols: Vec<&String> = child_columns(child).collect();
                    let rows = json::decode_rows(&json, cols.len())?
                        .into_iter()
                        .map(|values| {
                            cols.iter()
                                .zip(values)
                                .filter_map(|(col, v)| Some(((*col).clone(), v?)))
                                .collect::<Row>()
                        })
                        .collect();
                    record.children.insert(name.clone(), rows);
                }
                Part::Relation(name) => {
                    let ids = json::decode_rows(&json, 1)?
                        .into_iter()
                        .filter_map(|values| values.into_iter().next().flatten())
                        .map(|v| value_string(&v))
                        .collect();
                    record.relations.insert(name.clone(), ids);
                }
            }
        }
        Ok(record)
    }

    /// Reads one entry, with the parts in `read`, in one statement.
    async fn get_in(
        &self,
        conn: &mut SqliteConnection,
        entity: &Entity,
        key: Value,
        read: &ReadSet,
        op: OpKind,
    ) -> Result<Option<Record>, Failure> {
        let st = self.select_by_id(entity, key, read)?;
        let role = Role::new(&entity.spec.errors, op);
        let Some(row) = self.fetch_one(conn, &st, role).await? else {
            return Ok(None);
        };
        Ok(Self::to_full_record(entity, &render::nested_parts(read), &row).map(Some)?)
    }

    /// The GET-by-id statement, rendered once per entity and read set; its only parameter is
    /// the id (checked when it is first rendered, otherwise it is rendered every time).
    fn select_by_id(&self, entity: &Entity, key: Value, read: &ReadSet) -> Result<Statement, ConnectorError> {
        let cache_key = (entity.spec.name.clone(), read.clone());
        let cached = self.select_by_id.lock().ok().and_then(|c| c.get(&cache_key).cloned());
        if let Some(sql) = cached {
            return Ok(Statement { sql, params: vec![key] });
        }
        let st = self.renderer(entity).select_by_id(key.clone(), read)?;
        if st.params == [key]
            && let Ok(mut cache) = self.select_by_id.lock()
        {
            cache.insert(cache_key, st.sql.clone());
        }
        Ok(st)
    }

    /// Child rows and links of a new entry; `key` is its id.
    fn create_dependents(
        &self,
        entity: &Entity,
        key: &Value,
        record: &NewRecord,
    ) -> Result<Vec<Statement>, ConnectorError> {
        let r = self.renderer(entity);
        let mut out = Vec::new();
        for (name, rows) in &record.children {
            let child = entity.child(name)?;
            if !rows.is_empty() {
                out.extend(r.insert_children(child, key, rows)?);
            }
        }
        for (name, ids) in &record.relations {
            let rel = entity.relation(name)?;
            let ids = dedup(ids);
            if !ids.is_empty() {
                out.extend(r.insert_links(rel, key, &ids)?);
            }
        }
        Ok(out)
    }

    fn plan_modify(
        &self,
        entity: &Entity,
        key: Value,
        changes: &ChangeSet,
        expected_version: Option<&str>,
        now: &Value,
    ) -> Result<ModifyPlan, ConnectorError> {
        Self::check_version_support(entity, expected_version)?;
        let r = self.renderer(entity);
        let mut rest = Vec::new();
        let tagged = |op: OpKind| move |st: Statement| (op, st);
        for (name, rows) in &changes.children {
            let child = entity.child(name)?;
            rest.push((OpKind::Update, r.delete_where(&child.table, &child.key, key.clone())));
            rest.extend(
                r.insert_children(child, &key, rows)?
                    .into_iter()
                    .map(tagged(OpKind::Update)),
            );
        }
        for (name, delta) in changes.relations.iter().filter(|(_, d)| !d.is_empty()) {
            let rel = entity.relation(name)?;
            let join = join_of(rel)?;
            if delta.remove_all {
                rest.push((OpKind::RemoveMember, r.delete_where(join.table, join.key, key.clone())));
            } else if !delta.remove.is_empty() {
                let deletes = r.delete_links(rel, &key, &dedup(&delta.remove))?;
                rest.extend(deletes.into_iter().map(tagged(OpKind::RemoveMember)));
            }
            if !delta.add.is_empty() {
                let inserts = r.insert_links(rel, &key, &dedup(&delta.add))?;
                rest.extend(inserts.into_iter().map(tagged(OpKind::AddMember)));
            }
        }
        let bump = entity.touch && !rest.is_empty();
        let update = r.update_main(
            key.clone(),
            &changes.fields,
            &changes.flags,
            bump,
            expected_version,
            now,
        )?;
        Ok(ModifyPlan {
            update,
            check: r.select_version(key),
            rest,
        })
    }

    /// Deletes of everything that refers to an entry, then of the entry itself (last).
    fn plan_delete(
        &self,
        entity_id: EntityId,
        key: Value,
        expected_version: Option<&str>,
    ) -> Result<Vec<Statement>, ConnectorError> {
        let entity = self.entity(entity_id)?;
        Self::check_version_support(entity, expected_version)?;
        let r = self.renderer(entity);
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        let mut delete = |table: &str, column: &str| {
            if seen.insert((table.to_owned(), column.to_owned())) {
                out.push(r.delete_where(table, column, key.clone()));
            }
        };
        for child in &entity.spec.children {
            delete(&child.table, &child.key);
        }
        for rel in &entity.spec.relations {
            let join = join_of(rel)?;
            delete(join.table, join.key);
        }
        // Links to this entry held by other entries (a user's memberships in groups).
        for other in &self.entities {
            for rel in other.spec.relations.iter().filter(|r| r.targets.contains(&entity_id)) {
                let join = join_of(rel)?;
                delete(join.table, join.value);
            }
        }
        out.push(r.delete_main(key, expected_version)?);
        Ok(out)
    }

    /// After a write matched no row: was the row missing, or its version different?
    async fn missing_or_changed(&self, conn: &mut SqliteConnection, check: &Statement, role: Role<'_>) -> Failure {
        match self.fetch(conn, check, role).await {
            Ok(rows) if rows.is_empty() => ConnectorError::NotFound.into(),
            Ok(_) => ConnectorError::VersionMismatch.into(),
            Err(e) => e,
        }
    }

    /// The existence and version check of a modify that updates nothing on the main row.
    async fn check_version(
        &self,
        conn: &mut SqliteConnection,
        check: &Statement,
        expected: Option<&str>,
        role: Role<'_>,
    ) -> Result<(), Failure> {
        let Some(row) = self.fetch(conn, check, role).await?.into_iter().next() else {
            return Err(ConnectorError::NotFound.into());
        };
        let Some(expected) = expected else {
            return Ok(());
        };
        match column_value(&row, 0)? {
            Some(v) if value_string(&v) == expected => Ok(()),
            _ => Err(ConnectorError::VersionMismatch.into()),
        }
    }

    async fn create_in(&self, entity_id: EntityId, record: &NewRecord) -> Result<Record, Failure> {
        let entity = self.entity(entity_id)?;
        let role = Role::new(&entity.spec.errors, OpKind::Create);
        let id = match entity.id_kind {
            IdKind::Uuid => Some(Value::Text(uuid::Uuid::new_v4().to_string())),
            IdKind::Database => None,
        };
        let insert = self
            .renderer(entity)
            .insert_main(&with_flags(record), id.clone(), &now())?;
        // Validate the dependents before opening the transaction; rendered again below
        // with the real key.
        self.create_dependents(entity, &Value::Text(String::new()), record)?;
        let mut tx = self
            .pool()?
            .begin_with(self.dialect.begin_write())
            .await
            .map_err(|e| role.failure(e))?;
        let key = match id {
            Some(id) => {
                self.exec(&mut tx, &insert, role).await?;
                id
            }
            None => {
                let rows = self.fetch(&mut tx, &insert, role).await?;
                let first = rows
                    .first()
                    .ok_or_else(|| ConnectorError::Backend("INSERT returned no key".into()))?;
                column_value(first, 0)?.ok_or_else(|| ConnectorError::Backend("INSERT returned a NULL key".into()))?
            }
        };
        for st in self.create_dependents(entity, &key, record)? {
            self.exec(&mut tx, &st, role).await?;
        }
        // Read back inside the transaction: a row the scope hides must not be committed,
        // since SCIM could never see or delete it.
        let created = self
            .get_in(&mut tx, entity, key, &Self::everything(entity), OpKind::Create)
            .await?
            .ok_or_else(|| ConnectorError::InvalidValue {
                field: None,
                detail: format!("the new {} row is outside the mapping's scope", entity.spec.name),
            })?;
        tx.commit().await.map_err(map_sqlx)?;
        Ok(created)
    }

    /// The statement of one page, with its children, relations and total; cursor pages
    /// fetch one row more, to tell whether another page follows.
    fn page_statement(
        r: &Renderer<'_>,
        entity: &Entity,
        query: &Query,
        window: &Window,
    ) -> Result<Statement, ConnectorError> {
        let (read, total) = (&query.read, query.want_total);
        match window {
            Window::Offset { offset, count, cursor } => {
                let limit = if *cursor { count.saturating_add(1) } else { *count };
                r.select_page_with(
                    &query.filter,
                    query.sort.as_ref(),
                    None,
                    limit,
                    Some(*offset),
                    read,
                    total,
                )
            }
            Window::Keyset { after, count } => {
                let after = match after {
                    Some(a) => Some(entity.id_value(a).ok_or_else(invalid_cursor)?),
                    None => None,
                };
                r.select_page_with(&query.filter, None, after, count.saturating_add(1), None, read, total)
            }
        }
    }

    /// One statement, so the page, its children and relations and the total agree
    /// without a transaction.
    async fn search_in(&self, entity: &Entity, query: &Query) -> Result<SearchPage, Failure> {
        Self::check_read_set(entity, &query.read)?;
        let r = self.renderer(entity);
        let window = window(query)?;
        let page = Self::page_statement(&r, entity, query, &window)?;
        let layout = PageLayout::new(entity, &query.read, query.want_total);
        let mut conn = self.pool()?.acquire().await.map_err(map_sqlx)?;
        let rows = self
            .fetch(&mut conn, &page, Role::new(&entity.spec.errors, OpKind::Search))
            .await?;
        drop(conn);
        let mut total = None;
        let mut records = Vec::with_capacity(rows.len());
        for row in &rows {
            if let Some(at) = layout.total {
                let n = row.try_get::<i64, _>(at).map_err(map_sqlx)?;
                total = Some(u64::try_from(n).unwrap_or(0));
                // The one row of an empty page carries only the total.
                if column_value(row, at + 1)?.is_none() {
                    continue;
                }
            }
            records.push(Self::to_full_record(entity, &layout.parts, row)?);
        }
        if query.want_total && total.is_none() {
            return Err(ConnectorError::Backend("the page query returned no total".into()).into());
        }
        let next_cursor = match window {
            Window::Offset { cursor: false, .. } => None,
            Window::Offset {
                offset,
                count,
                cursor: true,
            } => more(&mut records, count).then(|| format!("o{}", offset.saturating_add(count))),
            Window::Keyset { after, count } => more(&mut records, count).then(|| {
                let last = records.last().map(|r| r.id.clone()).or(after);
                encode_keyset(last.as_deref())
            }),
        };
        Ok(SearchPage {
            records,
            total,
            next_cursor,
        })
    }

    async fn modify_in(
        &self,
        entity: &Entity,
        id: &str,
        changes: &ChangeSet,
        expected_version: Option<&str>,
    ) -> Result<(), Failure> {
        let key = entity.id_value(id).ok_or(ConnectorError::NotFound)?;
        let plan = self.plan_modify(entity, key, changes, expected_version, &now())?;
        let role = |op| Role::new(&entity.spec.errors, op);
        let mut tx = self
            .pool()?
            .begin_with(self.dialect.begin_write())
            .await
            .map_err(|e| role(OpKind::Update).failure(e))?;
        match &plan.update {
            Some(update) => {
                if self.exec(&mut tx, update, role(OpKind::Update)).await? == Some(0) {
                    return Err(self
                        .missing_or_changed(&mut tx, &plan.check, role(OpKind::Update))
                        .await);
                }
            }
            None => {
                self.check_version(&mut tx, &plan.check, expected_version, role(OpKind::Update))
                    .await?
            }
        }
        for (op, st) in &plan.rest {
            self.exec(&mut tx, st, role(*op)).await?;
        }
        Ok(tx.commit().await.map_err(map_sqlx)?)
    }

    async fn delete_in(&self, entity_id: EntityId, id: &str, expected_version: Option<&str>) -> Result<(), Failure> {
        let entity = self.entity(entity_id)?;
        let role = Role::new(&entity.spec.errors, OpKind::Delete);
        let key = entity.id_value(id).ok_or(ConnectorError::NotFound)?;
        let mut plan = self.plan_delete(entity_id, key.clone(), expected_version)?;
        let main = plan
            .pop()
            .ok_or_else(|| ConnectorError::Backend("empty delete plan".into()))?;
        let mut tx = self
            .pool()?
            .begin_with(self.dialect.begin_write())
            .await
            .map_err(|e| role.failure(e))?;
        for st in &plan {
            self.exec(&mut tx, st, role).await?;
        }
        if self.exec(&mut tx, &main, role).await? == Some(0) {
            let check = self.renderer(entity).select_version(key);
            return Err(self.missing_or_changed(&mut tx, &check, role).await);
        }
        Ok(tx.commit().await.map_err(map_sqlx)?)
    }

    fn explain_create(&self, entity: &Entity, record: &NewRecord) -> Result<Vec<String>, ConnectorError> {
        let now = Value::Text("<now>".into());
        let (id, key) = match entity.id_kind {
            IdKind::Uuid => (
                Some(Value::Text("<generated uuid>".into())),
                Value::Text("<generated uuid>".into()),
            ),
            IdKind::Database => (None, Value::Text("<new id>".into())),
        };
        let mut out = vec![self.renderer(entity).insert_main(&with_flags(record), id, &now)?];
        out.extend(self.create_dependents(entity, &key, record)?);
        out.push(self.renderer(entity).select_by_id(key, &Self::everything(entity))?);
        Ok(out.iter().map(Statement::to_string).collect())
    }

    fn explain_search(&self, entity: &Entity, query: &Query) -> Result<Vec<String>, ConnectorError> {
        Self::check_read_set(entity, &query.read)?;
        let r = self.renderer(entity);
        let page = Self::page_statement(&r, entity, query, &window(query)?)?;
        Ok(vec![page.to_string()])
    }
}

/// Drops the lookahead row of a cursor page; tells whether there was one.
fn more(records: &mut Vec<Record>, count: u64) -> bool {
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    if records.len() > count {
        records.truncate(count);
        true
    } else {
        false
    }
}

fn dedup(ids: &[String]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    ids.iter().filter(|i| seen.insert(i.as_str())).cloned().collect()
}

/// The leaf terms of a filter that cannot be rendered (names outside the entity).
fn unsupported_terms(r: &Renderer<'_>, filter: &Filter, out: &mut Vec<Unsupported>) {
    match filter {
        Filter::And(terms) | Filter::Or(terms) => terms.iter().for_each(|t| unsupported_terms(r, t, out)),
        Filter::Not(inner) => unsupported_terms(r, inner, out),
        Filter::True | Filter::False => {}
        leaf => {
            if let Err(e) = r.filter(leaf) {
                let (field, op) = match leaf {
                    Filter::Compare { field, op, .. } => (field.clone(), Some(*op)),
                    Filter::Present(field) => (field.clone(), None),
                    Filter::Child { child, .. } => (FieldRef::Field(child.clone()), None),
                    Filter::Related { relation, .. } => (FieldRef::Field(relation.clone()), None),
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

#[async_trait]
impl Connector for SqlConnector {
    fn kind(&self) -> &'static str {
        "sql"
    }

    fn capabilities(&self, entity: EntityId) -> &Capabilities {
        self.capabilities.get(entity.0).unwrap_or(&NO_CAPABILITIES)
    }

    /// SQL renders every filter node; only names the entity does not have are reported
    /// (the mapping layer never sends them).
    fn unsupported(&self, entity: EntityId, filter: &Filter) -> Vec<Unsupported> {
        let mut out = Vec::new();
        if let Ok(e) = self.entity(entity) {
            unsupported_terms(&self.renderer(e), filter, &mut out);
        }
        out
    }

    async fn health(&self) -> Result<(), ConnectorError> {
        let pool = self.pool()?;
        self.timed(async {
            let mut conn = pool.acquire().await.map_err(map_sqlx)?;
            let schema_page = Statement {
                // Reads the schema page, so a corrupt or vanished file is caught (`SELECT 1` reads nothing).
                sql: "SELECT count(*) FROM sqlite_master".into(),
                params: Vec::new(),
            };
            match self
                .fetch(&mut conn, &schema_page, Role::new(&NO_RULES, OpKind::Get))
                .await
            {
                Ok(_) => Ok(()),
                Err(Failure::Error(e)) => Err(e),
                Err(Failure::Retry(detail)) => Err(faults::retries_exhausted(&detail)),
            }
        })
        .await
    }

    async fn create(&self, entity: EntityId, record: &NewRecord) -> Result<Record, ConnectorError> {
        self.timed(faults::retrying(|| self.create_in(entity, record))).await
    }

    async fn get(&self, entity: EntityId, id: &str, read: &ReadSet) -> Result<Option<Record>, ConnectorError> {
        let e = self.entity(entity)?;
        Self::check_read_set(e, read)?;
        let Some(key) = e.id_value(id) else {
            return Ok(None);
        };
        let pool = self.pool()?;
        // One SELECT: consistent on its own, no transaction needed.
        self.timed(faults::retrying(|| async {
            let mut conn = pool.acquire().await.map_err(map_sqlx)?;
            self.get_in(&mut conn, e, key.clone(), read, OpKind::Get).await
        }))
        .await
    }

    async fn search(&self, entity: EntityId, query: &Query) -> Result<SearchPage, ConnectorError> {
        let e = self.entity(entity)?;
        self.timed(faults::retrying(|| self.search_in(e, query))).await
    }

    async fn modify(
        &self,
        entity: EntityId,
        id: &str,
        changes: &ChangeSet,
        expected_version: Option<&str>,
    ) -> Result<(), ConnectorError> {
        let e = self.entity(entity)?;
        self.timed(faults::retrying(|| self.modify_in(e, id, changes, expected_version)))
            .await
    }

    async fn delete(&self, entity: EntityId, id: &str, expected_version: Option<&str>) -> Result<(), ConnectorError> {
        self.timed(faults::retrying(|| self.delete_in(entity, id, expected_version)))
            .await
    }

    fn explain(&self, entity: EntityId, operation: &Operation<'_>) -> Result<Vec<String>, ConnectorError> {
        let e = self.entity(entity)?;
        let no_key = |id: &str| vec![format!("-- no statement: `{id}` cannot be a key of {}", e.spec.name)];
        match *operation {
            Operation::Create(record) => self.explain_create(e, record),
            Operation::Search(query) => self.explain_search(e, query),
            Operation::Modify {
                id,
                changes,
                expected_version,
            } => {
                let Some(key) = e.id_value(id) else {
                    return Ok(no_key(id));
                };
                let plan = self.plan_modify(e, key, changes, expected_version, &Value::Text("<now>".into()))?;
                let first = plan.update.unwrap_or(plan.check);
                Ok(std::iter::once(&first)
                    .chain(plan.rest.iter().map(|(_, st)| st))
                    .map(Statement::to_string)
                    .collect())
            }
            Operation::Delete { id } => {
                let Some(key) = e.id_value(id) else {
                    return Ok(no_key(id));
                };
                Ok(self
                    .plan_delete(entity, key, None)?
                    .iter()
                    .map(Statement::to_string)
                    .collect())
            }
        }
    }
}

/// The fields of a new entry with its flag bits applied to their base values (0 when the
/// field has none).
fn with_flags(record: &NewRecord) -> Fields {
    let mut fields = record.fields.clone();
    for (name, change) in &record.flags {
        let base = match fields.get(name).and_then(|v| v.first()) {
            Some(Value::Int(i)) => *i,
            Some(Value::Text(t)) => t.trim().parse().unwrap_or(0),
            _ => 0,
        };
        fields.insert(name.clone(), vec![Value::Int(change.apply(base))]);
    }
    fields
}
