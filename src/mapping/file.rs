//! The mapping file as written: serde structs, one per table, with spans for error reports.
//!
//! `mappings/README.md` documents every key; the doc comments here are its source.

use std::fmt;

use indexmap::IndexMap;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_spanned::Spanned;

/// A whole mapping file: resource types by name, plus shared lookups and error rules.
#[derive(Debug, Clone, Default)]
pub struct MappingFile {
    pub resources: IndexMap<String, Spanned<ResourceFile>>,
    /// `[lookups.NAME]`: finite maps shared by the file's attributes.
    pub lookups: IndexMap<String, Spanned<LookupFile>>,
    /// `[[errors]]`: rules for every resource type of the file, tried after its own.
    pub errors: Vec<Spanned<ErrorRuleFile>>,
}

impl<'de> Deserialize<'de> for MappingFile {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct FileVisitor;
        impl<'de> Visitor<'de> for FileVisitor {
            type Value = MappingFile;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("resource type tables such as [User] and an optional [lookups] table")
            }
            // A hand-written visitor (rather than `#[serde(flatten)]`) keeps the spans of
            // everything inside a resource table, so errors point at their line.
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MappingFile, A::Error> {
                let mut file = MappingFile::default();
                while let Some(key) = map.next_key::<String>()? {
                    if key == "lookups" {
                        file.lookups = map.next_value()?;
                    } else if key == "errors" {
                        file.errors = map.next_value()?;
                    } else if key.chars().next().is_some_and(|c| c.is_ascii_uppercase()) {
                        let resource = map.next_value()?;
                        file.resources.insert(key, resource);
                    } else {
                        return Err(de::Error::custom(format!(
                            "unknown top-level table `{key}`: a resource type name starts with an upper-case letter ([User], [Group]); the other tables are [lookups] and [[errors]]"
                        )));
                    }
                }
                Ok(file)
            }
        }
        d.deserialize_map(FileVisitor)
    }
}

/// `[User]`, `[Group]` or any resource type.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceFile {
    /// URL path segment, e.g. `/Users`. Default: the type name plus `s`.
    pub endpoint: Option<String>,
    /// Core schema URN. Default: the standard one for `User` and `Group`; required otherwise.
    pub schema: Option<Spanned<String>>,
    pub description: Option<String>,
    /// Schema extensions: `enterprise` or a URN.
    #[serde(default)]
    pub extensions: Vec<Spanned<String>>,
    /// SCIM attributes accepted but never stored or returned; `eq` on them matches nothing.
    #[serde(default)]
    pub ignore: Vec<Spanned<String>>,
    /// Opt-in in-memory evaluation of filter and sort terms the backend cannot do, on at most
    /// this many candidates.
    pub scan_limit: Option<usize>,
    /// The LDAP part: where entries live and how they are named.
    #[cfg(feature = "connector-ldap")]
    pub ldap: Option<Spanned<crate::connector::ldap::config::LdapEntityConfig>>,
    /// The SQL part: where and how the type is stored.
    #[cfg(feature = "connector-sqlite")]
    pub sql: Option<Spanned<crate::connector::sql::config::SqlEntityConfig>>,
    /// SCIM attribute path → backend location.
    #[serde(default)]
    pub attributes: IndexMap<Spanned<String>, Spanned<AttrEntry>>,
    /// Backend fields with no SCIM source, computed from templates or constants.
    #[serde(default)]
    pub compute: IndexMap<Spanned<String>, Spanned<ComputeSpec>>,
    /// `[[User.test]]`: cases `scimgate test` runs without a backend.
    #[serde(default)]
    pub test: Vec<Spanned<TestSpec>>,
    /// `[[User.errors]]`: error rules of this type, tried before the file's `[[errors]]`.
    #[serde(default)]
    pub errors: Vec<Spanned<ErrorRuleFile>>,
}

/// `[[errors]]` / `[[X.errors]]`: what a backend failure means, for failures the connector's
/// defaults map wrongly.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorRuleFile {
    /// The failure's codes and text; every key given must match.
    #[serde(rename = "match")]
    pub match_: Spanned<MatchFile>,
    /// The operation the rule is for: `create`, `get`, `search`, `update`, `delete`,
    /// `add_member` or `remove_member`. Default: every operation.
    pub op: Option<Spanned<String>>,
    /// `"ok"`, `"retry"` or `"<status> [scimType]"`.
    #[serde(rename = "as")]
    pub as_: Spanned<String>,
}

/// The keys of a rule's `match`; which ones a failure can carry depends on the connector kind.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchFile {
    /// LDAP result code: a number (`68`) or its RFC 4511 name (`"entryAlreadyExists"`).
    pub ldap: Option<Spanned<CodeValue>>,
    /// SQLSTATE: five characters, or a two-character class.
    pub sqlstate: Option<Spanned<String>>,
    /// Vendor error number, or its name (`"SQLITE_CONSTRAINT_CHECK"`).
    pub errno: Option<Spanned<CodeValue>>,
    /// Constraint name, as the database reports it.
    pub constraint: Option<Spanned<String>>,
    /// HTTP status of an API's answer.
    pub status: Option<Spanned<i64>>,
    /// An API's business error code.
    pub code: Option<Spanned<CodeValue>>,
    /// A SOAP fault code.
    pub fault: Option<Spanned<String>>,
    /// A regular expression searched for in the backend's diagnostic text.
    pub message: Option<Spanned<String>>,
}

/// A code written as a number or as a name.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum CodeValue {
    Number(i64),
    Name(String),
}

/// An attribute table entry: a bare location string, or a table of keys.
#[derive(Debug, Clone)]
pub enum AttrEntry {
    Location(String),
    Spec(Box<AttrSpec>),
}

impl<'de> Deserialize<'de> for AttrEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct EntryVisitor;
        impl<'de> Visitor<'de> for EntryVisitor {
            type Value = AttrEntry;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a backend location (\"column\") or a table such as { to = \"column\", required = true }")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<AttrEntry, E> {
                Ok(AttrEntry::Location(v.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<AttrEntry, A::Error> {
                AttrSpec::deserialize(de::value::MapAccessDeserializer::new(map)).map(|s| AttrEntry::Spec(Box::new(s)))
            }
        }
        d.deserialize_any(EntryVisitor)
    }
}

/// One string or a list of strings.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// The keys of an attribute mapping.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttrSpec {
    /// The backend location: a column, an LDAP attribute.
    pub to: Option<String>,
    /// Converters applied on the way to the backend (and inverted on the way back).
    pub convert: Option<Spanned<OneOrMany>>,
    /// A finite map of SCIM value → backend value (`{ true = 1, false = 0 }`).
    pub values: Option<Spanned<IndexMap<String, toml::Value>>>,
    /// What to do with a value that `values` or `lookup` does not list:
    /// `reject` (400, the default), `pass` (keep it as is) or `drop` (treat it as absent).
    pub unknown: Option<Spanned<String>>,
    /// A `[lookups.NAME]` map, as `values` shared between attributes.
    pub lookup: Option<Spanned<String>>,
    pub required: Option<bool>,
    pub unique: Option<bool>,
    #[serde(rename = "caseExact")]
    pub case_exact: Option<bool>,
    /// `readOnly`, `readWrite`, `immutable` or `writeOnly`; also the direction of the mapping.
    pub mutability: Option<Spanned<String>>,
    /// `always`, `never`, `default` or `request`.
    pub returned: Option<Spanned<String>>,
    /// SCIM value used on create when the client sends none.
    pub default: Option<toml::Value>,
    /// A fixed SCIM value, returned on read and never stored.
    pub constant: Option<toml::Value>,
    /// Boolean defined by a predicate on the backend field: true when it holds.
    pub true_when: Option<Spanned<Predicate>>,
    /// Boolean defined by a predicate on the backend field: false when it holds.
    pub false_when: Option<Spanned<Predicate>>,
    /// The resource type a reference points to (`manager`, `members`, `groups`).
    pub reference: Option<Spanned<String>>,
    /// Child or join table.
    pub table: Option<String>,
    /// Column holding the owner's id in `table`.
    pub key: Option<String>,
    /// Location of the `value` sub-attribute (child table), or of the linked id (join table).
    pub value: Option<SubLocation>,
    /// Location of the `type` sub-attribute in a child table.
    #[serde(rename = "type")]
    pub type_: Option<SubLocation>,
    /// Location of the `primary` sub-attribute in a child table.
    pub primary: Option<SubLocation>,
    /// Location of the `display` sub-attribute in a child table.
    pub display: Option<SubLocation>,
    /// Extra columns written on rows inserted into a join table.
    #[serde(default)]
    pub set: IndexMap<String, String>,
    /// Placeholder member where the backend forbids an empty group.
    pub empty: Option<String>,
    /// SCIM data type, for an attribute outside the standard schemas.
    pub datatype: Option<Spanned<String>>,
    /// Whether a custom attribute is multi-valued.
    #[serde(rename = "multiValued")]
    pub multi_valued: Option<bool>,
    /// Description of a custom attribute in `/Schemas`.
    pub description: Option<String>,
}

/// A sub-attribute's location inside a child table: a column name or `{ to, values, convert }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum SubLocation {
    Column(String),
    Spec {
        to: String,
        #[serde(default)]
        values: Option<IndexMap<String, toml::Value>>,
        #[serde(default)]
        convert: Option<OneOrMany>,
    },
}

impl SubLocation {
    pub fn column(&self) -> &str {
        match self {
            SubLocation::Column(c) => c,
            SubLocation::Spec { to, .. } => to,
        }
    }
}

/// A predicate on one backend field, defining a boolean (`active`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Predicate {
    /// The field equals this value.
    pub eq: Option<toml::Value>,
    /// The field has a value different from this one.
    pub ne: Option<toml::Value>,
    /// The field equals one of these values.
    #[serde(rename = "in")]
    pub in_: Option<Vec<toml::Value>>,
    /// The field has no value (`absent = true`).
    pub absent: Option<bool>,
    /// The field has a value (`present = true`).
    pub present: Option<bool>,
    /// Every bit of this mask is set in the integer field (`bits = 2`: AD's ACCOUNTDISABLE).
    /// Writes set or clear only these bits and keep the others.
    pub bits: Option<i64>,
}

/// `[X.compute]` entries.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComputeSpec {
    /// A handlebars template over SCIM paths (strict: a missing input is an error).
    pub template: Option<String>,
    /// A constant.
    pub value: Option<toml::Value>,
    /// `create` (written once) or `inputs` (written on create and whenever an input changes).
    #[serde(default = "default_when")]
    pub when: Spanned<String>,
}

fn default_when() -> Spanned<String> {
    Spanned::new(0..0, "inputs".to_owned())
}

/// `[[X.test]]`: one input and the backend operations it must produce.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestSpec {
    pub name: Option<String>,
    /// A SCIM filter.
    pub filter: Option<String>,
    /// A SCIM create body (JSON).
    pub create: Option<String>,
    /// A SCIM PATCH body (JSON), applied to `given`.
    pub patch: Option<String>,
    /// A SCIM PUT body (JSON), applied to `given`.
    pub put: Option<String>,
    /// The backend record before a `patch`/`put`: field → value.
    #[serde(default)]
    pub given: IndexMap<String, toml::Value>,
    /// The id of the `given` record. Default `"1"`; LDAP keys need a UUID or GUID form.
    pub id: Option<String>,
    /// Expected SQL statements (exact text, parameters shown after `-- params:`).
    pub sql: Option<OneOrMany>,
    /// Expected SCIM error, e.g. `"400 invalidFilter"`.
    pub scim_error: Option<String>,
}

/// `[lookups.NAME]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookupFile {
    /// SCIM value → backend value.
    pub values: IndexMap<String, toml::Value>,
}
