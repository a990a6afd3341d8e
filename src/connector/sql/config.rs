//! Configuration of the SQL connector: the `[connectors.NAME.sql]` table of the gateway
//! configuration and the `[RESOURCE.sql]` part of a mapping file.

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

fn default_max_connections() -> u32 {
    8
}

fn default_connect_timeout_ms() -> u64 {
    5_000
}

fn default_statement_timeout_ms() -> u64 {
    10_000
}

fn default_touch() -> bool {
    true
}

/// The `[connectors.NAME.sql]` table: how to reach the database.
///
/// ```toml
/// [connectors.hr.sql]
/// url = "sqlite:hr.db?mode=rwc"
/// max_connections = 8
/// init = ["CREATE TABLE IF NOT EXISTS users (id TEXT PRIMARY KEY, user_name TEXT NOT NULL)"]
/// ```
#[derive(Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlConnectorConfig {
    /// The database URL; its scheme picks the SQL dialect. `sqlite:path.db` (add
    /// `?mode=rwc` to create the file when missing) or `sqlite::memory:` (a private
    /// in-memory database, served over a single connection). `postgres://`, `mysql://` and
    /// `mssql://` are reserved for dialects not yet built into this binary. Write the secret
    /// parts through the configuration's env/file indirection, never inline.
    #[serde(deserialize_with = "crate::secret::deserialize_resolved")]
    pub url: String,
    /// Upper bound on open connections to the database. Default 8. In-memory SQLite
    /// databases always use one connection (each connection would otherwise see its own
    /// database).
    #[serde(default = "default_max_connections")]
    pub max_connections: u32,
    /// How long to wait for a connection (opening one, or one from a busy pool) before the
    /// backend is reported unavailable, in milliseconds. Default 5000.
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// Time limit for one connector operation (a read, or a write transaction with all its
    /// statements), in milliseconds; past it the request fails with a timeout and the
    /// transaction is rolled back. Also used as SQLite's busy timeout. Default 10000.
    #[serde(default = "default_statement_timeout_ms")]
    pub statement_timeout_ms: u64,
    /// SQL statements run once, in order, when the gateway starts, typically
    /// `CREATE TABLE IF NOT EXISTS ...` to set up a schema. They must be safe to run on every
    /// start. Default: none.
    #[serde(default)]
    pub init: Vec<String>,
    /// Files of SQL statements (several per file, `;`-separated), paths relative to the
    /// configuration file, e.g. `init_files = ["schema.sql"]`. Read at start-up and run after
    /// `init`, in order, under the same rules.
    #[serde(default)]
    pub init_files: Vec<PathBuf>,
}

/// The URL may carry a password: never print it.
impl fmt::Debug for SqlConnectorConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = self.url.split(':').next().unwrap_or_default();
        f.debug_struct("SqlConnectorConfig")
            .field("url", &format_args!("{scheme}:<redacted>"))
            .field("max_connections", &self.max_connections)
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .field("statement_timeout_ms", &self.statement_timeout_ms)
            .field("init", &format_args!("<{} statements>", self.init.len()))
            .field("init_files", &self.init_files)
            .finish()
    }
}

/// The `[RESOURCE.sql]` part of a mapping file: where one resource type's rows live.
///
/// ```toml
/// [User.sql]
/// table = "users"
/// scope = "retired_at IS NULL"
/// id = { to = "id", generated = "uuid" }
/// version = "version"
/// created = "created_at"
/// modified = "updated_at"
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlEntityConfig {
    /// The main table, `name` or `schema.name`. Identifiers (tables and columns) are plain
    /// `[A-Za-z_][A-Za-z0-9_]*` names; the connector quotes them.
    pub table: String,
    /// A raw SQL predicate ANDed into every read, update and delete of this resource type,
    /// e.g. `retired_at IS NULL` or `tenant = 'acme'`: rows outside it do not exist for SCIM.
    /// It is written by the mapping author and trusted as is; columns of the main table may
    /// be written bare or qualified with the alias `t` (`t.tenant`). Rows created through
    /// SCIM must satisfy it (set its columns with database defaults), or the create fails.
    #[serde(default)]
    pub scope: Option<String>,
    /// The key column. A column name, or a table `{ to = "col", generated = "..." }` where
    /// `generated` is `database` (default: an INTEGER/identity key assigned by the database
    /// and read back with `RETURNING`) or `uuid` (the gateway assigns a random v4 UUID
    /// string).
    pub id: FieldLoc,
    /// The column holding the entry's version, reported as the ETag. `generated` is
    /// `increment` (default: an integer column the gateway sets to 1 on insert and to
    /// `col + 1` on every update) or `database` (maintained by triggers or a rowversion
    /// type; never written). Without it, versions are not checked by the database.
    #[serde(default)]
    pub version: Option<FieldLoc>,
    /// The creation timestamp column. `generated` is `gateway` (default: the connector
    /// writes the current UTC time as RFC 3339 text with milliseconds,
    /// `2024-01-02T03:04:05.678Z`) or `database` (a column default; never written).
    #[serde(default)]
    pub created: Option<FieldLoc>,
    /// The modification timestamp column; `generated` as for `created`. The gateway
    /// writes it on insert and on every update.
    #[serde(default)]
    pub modified: Option<FieldLoc>,
    /// Whether writes that only touch child tables or join tables (a new email, a group
    /// member added) also bump the main row's `version` and `modified`. Default true, so
    /// ETags change whenever the SCIM resource does.
    #[serde(default = "default_touch")]
    pub touch: bool,
}

/// Who produces a column's value. Which ones apply depends on the column's role: see the
/// fields of [`SqlEntityConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Generated {
    /// The database (identity/INTEGER key, trigger, rowversion, column default).
    Database,
    /// The gateway writes it (timestamps).
    Gateway,
    /// The gateway writes a random v4 UUID (keys).
    Uuid,
    /// The gateway writes 1, then `col + 1` on every update (versions).
    Increment,
}

impl Generated {
    fn as_str(self) -> &'static str {
        match self {
            Generated::Database => "database",
            Generated::Gateway => "gateway",
            Generated::Uuid => "uuid",
            Generated::Increment => "increment",
        }
    }
}

/// A column of the main table, written as a plain string (`"col"`) or as a table
/// `{ to = "col", generated = "database" }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldLoc {
    /// The column name.
    pub to: String,
    /// Who produces the value; `None` means the role's default.
    pub generated: Option<Generated>,
}

impl FieldLoc {
    pub fn column(&self) -> &str {
        &self.to
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldLocTable {
    to: String,
    #[serde(default)]
    generated: Option<Generated>,
}

impl<'de> Deserialize<'de> for FieldLoc {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // A hand-written visitor rather than `untagged`, so that a typo inside the table
        // form reports the offending key instead of "did not match any variant".
        struct LocVisitor;

        impl<'de> Visitor<'de> for LocVisitor {
            type Value = FieldLoc;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a column name or a table { to = \"column\", generated = \"...\" }")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<FieldLoc, E> {
                Ok(FieldLoc {
                    to: v.to_owned(),
                    generated: None,
                })
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<FieldLoc, A::Error> {
                let t = FieldLocTable::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(FieldLoc {
                    to: t.to,
                    generated: t.generated,
                })
            }
        }

        deserializer.deserialize_any(LocVisitor)
    }
}

/// How the key is assigned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    /// An integer key assigned by the database.
    Database,
    /// A v4 UUID string assigned by the gateway.
    Uuid,
}

/// How the version column is maintained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionKind {
    Increment,
    Database,
}

/// How a timestamp column is maintained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StampKind {
    Gateway,
    Database,
}

fn wrong_kind(role: &str, got: Generated, allowed: &str) -> String {
    format!(
        "`{role}.generated = \"{}\"` is not allowed here; use {allowed}",
        got.as_str()
    )
}

impl SqlEntityConfig {
    pub fn id_kind(&self) -> Result<IdKind, String> {
        match self.id.generated {
            None | Some(Generated::Database) => Ok(IdKind::Database),
            Some(Generated::Uuid) => Ok(IdKind::Uuid),
            Some(other) => Err(wrong_kind("id", other, "\"database\" or \"uuid\"")),
        }
    }

    pub fn version_kind(&self) -> Result<Option<VersionKind>, String> {
        let Some(loc) = &self.version else {
            return Ok(None);
        };
        match loc.generated {
            None | Some(Generated::Increment) => Ok(Some(VersionKind::Increment)),
            Some(Generated::Database) => Ok(Some(VersionKind::Database)),
            Some(other) => Err(wrong_kind("version", other, "\"increment\" or \"database\"")),
        }
    }

    pub fn created_kind(&self) -> Result<Option<StampKind>, String> {
        stamp_kind("created", self.created.as_ref())
    }

    pub fn modified_kind(&self) -> Result<Option<StampKind>, String> {
        stamp_kind("modified", self.modified.as_ref())
    }
}

fn stamp_kind(role: &str, loc: Option<&FieldLoc>) -> Result<Option<StampKind>, String> {
    let Some(loc) = loc else { return Ok(None) };
    match loc.generated {
        None | Some(Generated::Gateway) => Ok(Some(StampKind::Gateway)),
        Some(Generated::Database) => Ok(Some(StampKind::Database)),
        Some(other) => Err(wrong_kind(role, other, "\"gateway\" or \"database\"")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connector_defaults() {
        let c: SqlConnectorConfig = toml::from_str(r#"url = "sqlite::memory:""#).unwrap();
        assert_eq!(c.max_connections, 8);
        assert_eq!(c.connect_timeout_ms, 5000);
        assert_eq!(c.statement_timeout_ms, 10000);
        assert!(c.init.is_empty() && c.init_files.is_empty());
    }

    #[test]
    fn connector_rejects_unknown_keys() {
        let e = toml::from_str::<SqlConnectorConfig>("url = \"sqlite::memory:\"\nmax_conn = 3").unwrap_err();
        assert!(e.to_string().contains("max_conn"), "{e}");
    }

    #[test]
    fn debug_hides_the_url() {
        let c: SqlConnectorConfig = toml::from_str(r#"url = "postgres://u:secret@h/db""#).unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("secret"), "{shown}");
    }

    #[test]
    fn field_loc_forms() {
        let e: SqlEntityConfig = toml::from_str(
            r#"
            table = "users"
            id = { to = "id", generated = "uuid" }
            version = "version"
            created = { to = "created_at", generated = "database" }
            "#,
        )
        .unwrap();
        assert_eq!(e.id.column(), "id");
        assert_eq!(e.id_kind(), Ok(IdKind::Uuid));
        assert_eq!(e.version_kind(), Ok(Some(VersionKind::Increment)));
        assert_eq!(e.created_kind(), Ok(Some(StampKind::Database)));
        assert_eq!(e.modified_kind(), Ok(None));
        assert!(e.touch);
        assert_eq!(e.scope, None);
    }

    #[test]
    fn field_loc_table_rejects_unknown_keys() {
        let e = toml::from_str::<SqlEntityConfig>("table = \"u\"\nid = { to = \"id\", gen = \"uuid\" }").unwrap_err();
        assert!(e.to_string().contains("gen"), "{e}");
    }

    #[test]
    fn generated_must_fit_the_role() {
        let e: SqlEntityConfig =
            toml::from_str("table = \"u\"\nid = { to = \"id\", generated = \"increment\" }").unwrap();
        assert!(e.id_kind().unwrap_err().contains("\"database\" or \"uuid\""));
    }
}
