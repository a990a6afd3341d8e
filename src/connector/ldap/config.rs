//! The `[connectors.NAME.ldap]` table and the `[RESOURCE.ldap]` part of mapping files.

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

/// How to reach and bind to the directory.
///
/// ```toml
/// [connectors.dir.ldap]
/// url = "ldaps://ldap.example.org"
/// bind_dn = "cn=scimgate,ou=system,dc=example,dc=org"
/// bind_password = { env = "DIR_BIND_PASSWORD" }
/// ```
#[derive(Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LdapConnectorConfig {
    /// `ldap://host[:port]` or `ldaps://host[:port]`.
    pub url: String,
    /// Upgrade an `ldap://` connection with StartTLS (RFC 4513 §3) before binding.
    #[serde(default)]
    pub starttls: bool,
    /// The DN the gateway binds as (simple bind).
    pub bind_dn: String,
    /// The bind password: `{ env = "VAR" }` or `{ file = "path" }`.
    #[serde(deserialize_with = "crate::secret::deserialize_resolved")]
    pub bind_password: String,
    /// PEM file with the CA certificates that sign the server's certificate. Default: the
    /// system's trust store.
    pub ca_file: Option<PathBuf>,
    /// Skip certificate verification (logs a warning at start-up). For test directories only.
    #[serde(default)]
    pub tls_skip_verify: bool,
    /// Connections kept open and bound. Default 8.
    #[serde(default = "default_pool_size")]
    pub pool_size: usize,
    /// Time to connect and bind, in milliseconds. Default 5000.
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// Time limit of one operation (a search page, a modify), in milliseconds. Default 10000.
    #[serde(default = "default_operation_timeout_ms")]
    pub operation_timeout_ms: u64,
    /// Page size of the Simple Paged Results control (RFC 2696); keep it at or below the
    /// server's size limit. Default 500.
    #[serde(default = "default_page_size")]
    pub page_size: i32,
    /// Allow writing passwords over a connection that is not encrypted. Active Directory
    /// refuses `unicodePwd` then anyway; the gateway refuses it itself unless this is set.
    #[serde(default)]
    pub allow_plaintext_passwords: bool,
}

fn default_pool_size() -> usize {
    8
}
fn default_connect_timeout_ms() -> u64 {
    5000
}
fn default_operation_timeout_ms() -> u64 {
    10_000
}
fn default_page_size() -> i32 {
    500
}

/// The bind password never reaches a log line.
impl fmt::Debug for LdapConnectorConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LdapConnectorConfig")
            .field("url", &self.url)
            .field("starttls", &self.starttls)
            .field("bind_dn", &self.bind_dn)
            .field("bind_password", &"<redacted>")
            .field("ca_file", &self.ca_file)
            .field("tls_skip_verify", &self.tls_skip_verify)
            .field("pool_size", &self.pool_size)
            .field("page_size", &self.page_size)
            .finish()
    }
}

/// The search scope below `base`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchScope {
    /// The whole subtree (default).
    #[default]
    Sub,
    /// Direct children of `base` only.
    One,
}

/// How the immutable key is encoded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdFormat {
    /// A text value used as is (OpenLDAP `entryUUID`).
    #[default]
    Text,
    /// A 16-byte binary GUID shown in its canonical string form (AD `objectGUID`).
    Guid,
}

/// The attribute holding the entry's immutable key: `"entryUUID"` or
/// `{ to = "objectGUID", format = "guid" }`.
#[derive(Debug, Clone, PartialEq)]
pub struct IdAttribute {
    pub to: String,
    pub format: IdFormat,
}

impl<'de> Deserialize<'de> for IdAttribute {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Table {
            to: String,
            #[serde(default)]
            format: IdFormat,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Name(String),
            Table(Table),
        }
        Ok(match Form::deserialize(d)? {
            Form::Name(to) => IdAttribute {
                to,
                format: IdFormat::Text,
            },
            Form::Table(t) => IdAttribute {
                to: t.to,
                format: t.format,
            },
        })
    }
}

/// How a mapped password field is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PasswordWrite {
    /// As an attribute value in the modify, as the mapping converted it (e.g. `hash:ssha`).
    #[default]
    Attribute,
    /// With the Password Modify extended operation (RFC 3062), after the main write.
    Exop,
    /// As AD `unicodePwd`: the password in double quotes, UTF-16LE; refused over plain LDAP.
    Unicodepwd,
}

/// `[User.ldap]`: where a resource type's entries live and how they are named.
///
/// ```toml
/// [User.ldap]
/// base = "ou=people,dc=example,dc=org"
/// scope = "(objectClass=inetOrgPerson)"
/// create_classes = ["top", "person", "organizationalPerson", "inetOrgPerson"]
/// rdn = "uid"
/// id = "entryUUID"
/// version = "entryCSN"
/// created = "createTimestamp"
/// modified = "modifyTimestamp"
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LdapEntityConfig {
    /// Search base of every read.
    pub base: String,
    /// An RFC 4515 filter ANDed into every search, GET by id included. Default
    /// `(objectClass=*)`.
    #[serde(default = "default_scope")]
    pub scope: String,
    /// `sub` (default) or `one`.
    #[serde(default)]
    pub search_scope: SearchScope,
    /// `objectClass` values written on create.
    pub create_classes: Vec<String>,
    /// The naming attribute: DN = `<rdn>=<value>,<parent>`. A changed value is a ModifyDN.
    pub rdn: String,
    /// Where new entries go. Default: `base`.
    pub parent: Option<String>,
    /// The immutable key: `entryUUID` (OpenLDAP) or `{ to = "objectGUID", format = "guid" }`.
    pub id: IdAttribute,
    /// Version attribute for `meta.version` and `If-Match`: `entryCSN` or `uSNChanged`.
    pub version: Option<String>,
    /// Creation timestamp (`createTimestamp`, AD `whenCreated`).
    pub created: Option<String>,
    /// Modification timestamp (`modifyTimestamp`, AD `whenChanged`).
    pub modified: Option<String>,
    /// How a mapped password field is written: `attribute` (default), `exop`, `unicodepwd`.
    #[serde(default)]
    pub password: PasswordWrite,
    /// The field that carries the password (write-only: never read back, never searched).
    /// Default: the mapped field named `userPassword` or `unicodePwd` (case-insensitive),
    /// which is what the mapping's `password` attribute maps to in the shipped profiles.
    /// Set it when the password is mapped to another attribute name. With
    /// `password = "exop"` the field is not written as an attribute: its value goes to the
    /// Password Modify extended operation after the add or modify. With `unicodepwd` the
    /// value is written to `unicodePwd` as AD wants it, whatever the field is called. A
    /// password is refused over a connection that is neither `ldaps://` nor StartTLS unless
    /// `allow_plaintext_passwords` is set.
    #[serde(default)]
    pub password_field: Option<String>,
}

fn default_scope() -> String {
    "(objectClass=*)".into()
}
