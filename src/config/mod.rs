//! `scimgate.toml`: server settings, authentication, connectors and endpoints.
//!
//! Loading is pure: it parses and validates, and reports every error with its file, line,
//! column and a hint. Connecting to backends happens later, in [`crate::app`].

pub mod diagnostic;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_spanned::Spanned;

pub use diagnostic::{Diagnostic, Diagnostics, SourceFile};

use crate::secret::SecretSource;

/// The whole `scimgate.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub auth: AuthConfig,
    /// `[connectors.NAME.KIND]`: one backend each. The inner table names the kind, so an
    /// unknown key is reported at its own line.
    #[serde(default)]
    pub connectors: BTreeMap<String, Spanned<ConnectorConfig>>,
    /// `[endpoints.NAME]`: a SCIM base path bound to a connector and its mapping files.
    #[serde(default)]
    pub endpoints: BTreeMap<String, Spanned<EndpointConfig>>,
}

/// `[server]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on; `scimgate serve --listen` overrides it. Default `127.0.0.1:8080`.
    pub listen: SocketAddr,
    /// The public base URL clients use (`https://scim.example.com`), used for
    /// `meta.location`. Without it, the URL is built from the listen address, or from `Host`
    /// and `X-Forwarded-*` when `trust_forwarded` is on.
    pub public_url: Option<String>,
    /// Trust `Host`, `X-Forwarded-Proto` and `X-Forwarded-Host` to build absolute URLs. Only
    /// turn this on behind a proxy that sets them.
    pub trust_forwarded: bool,
    /// Largest accepted request body, in bytes (413 above it). Default 1 MiB.
    pub max_body_bytes: usize,
    /// Time limit for a whole request, in milliseconds (503 after it). Default 30000.
    pub request_timeout_ms: u64,
    /// Requests served at once; more wait briefly, then get 429. Default 256.
    pub max_concurrent_requests: usize,
    /// The most resources one list response returns (`maxResults`). Default 1000.
    pub max_results: u64,
    /// Page size when a client gives no `count`. Default 100.
    pub default_count: u64,
    /// Longest accepted filter, in bytes. Default 4096.
    pub max_filter_length: usize,
    /// Deepest nesting of parentheses, `not` and value paths in a filter. Default 16.
    pub max_filter_depth: usize,
    /// Most comparisons in one filter. Default 64.
    pub max_filter_terms: usize,
    /// Most operations in one `/Bulk` request. Default 1000.
    pub bulk_max_operations: usize,
    /// Largest `/Bulk` body, in bytes. Default 1 MiB.
    pub bulk_max_payload_bytes: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            trust_forwarded: false,
            max_body_bytes: 1 << 20,
            request_timeout_ms: 30_000,
            max_concurrent_requests: 256,
            max_results: 1000,
            default_count: 100,
            max_filter_length: 4096,
            max_filter_depth: 16,
            max_filter_terms: 64,
            bulk_max_operations: 1000,
            bulk_max_payload_bytes: 1 << 20,
        }
    }
}

/// `[auth]`: who may call the API. `/healthz` and `/readyz` need no credentials.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Accepted bearer tokens: `{ env = "VAR" }` or `{ file = "path" }`. `SCIMGATE_TOKEN`,
    /// when set, is always accepted too; with no token at all, `serve` generates one and
    /// prints it once.
    pub tokens: Vec<SecretSource>,
    /// Accepted HTTP basic credentials (Okta can use basic auth).
    pub basic: Vec<BasicCredential>,
}

/// One `[[auth.basic]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicCredential {
    pub username: String,
    pub password: SecretSource,
}

/// `[connectors.NAME.KIND]`: externally tagged by kind.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
pub enum ConnectorConfig {
    #[cfg(feature = "connector-sqlite")]
    Sql(crate::connector::sql::config::SqlConnectorConfig),
    #[cfg(feature = "connector-ldap")]
    Ldap(crate::connector::ldap::config::LdapConnectorConfig),
}

impl ConnectorConfig {
    pub fn kind(&self) -> &'static str {
        match self {
            #[cfg(feature = "connector-sqlite")]
            ConnectorConfig::Sql(_) => "sql",
            #[cfg(feature = "connector-ldap")]
            ConnectorConfig::Ldap(_) => "ldap",
        }
    }
}

/// `[endpoints.NAME]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointConfig {
    /// Base path of this SCIM service, e.g. `/scim/v2`. Default `/`.
    #[serde(default = "default_path")]
    pub path: String,
    /// The `[connectors.NAME]` this endpoint uses.
    pub connector: Spanned<String>,
    /// Mapping files, relative to this config file.
    pub mappings: Vec<Spanned<String>>,
}

fn default_path() -> String {
    "/".into()
}

/// A parsed and validated config, with the directory relative paths resolve against.
#[derive(Debug, Clone)]
pub struct Config {
    pub source: SourceFile,
    pub base_dir: PathBuf,
    pub file: ConfigFile,
}

impl Config {
    /// Reads and validates `scimgate.toml`.
    pub fn load(path: &Path) -> Result<Config, Diagnostics> {
        let source = SourceFile::read(path)?;
        let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Self::parse(source, base_dir)
    }

    /// Parses config text; `base_dir` resolves relative mapping paths.
    pub fn parse(source: SourceFile, base_dir: PathBuf) -> Result<Config, Diagnostics> {
        let file: ConfigFile = toml::from_str(&source.text).map_err(|e| {
            let mut d = source.toml_error(&e);
            if d.message.contains("unknown variant") {
                d.hint = Some(format!(
                    "connector kinds built into this binary: {}; others need a build with their cargo feature (connector-ldap, connector-postgres, ...)",
                    compiled_kinds().join(", ")
                ));
            }
            Diagnostics::from(d)
        })?;
        let config = Config { source, base_dir, file };
        let problems = config.validate();
        if problems.is_empty() { Ok(config) } else { Err(problems) }
    }

    fn validate(&self) -> Diagnostics {
        let mut out = Diagnostics::default();
        let s = &self.file.server;
        if let Some(url) = &s.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            out.push(
                self.source
                    .error(
                        None,
                        Some("server.public_url"),
                        format!("{url:?} is not an http(s) URL"),
                    )
                    .with_hint("for example public_url = \"https://scim.example.com\""),
            );
        }
        if s.default_count == 0 || s.default_count > s.max_results {
            out.push(
                self.source
                    .error(
                        None,
                        Some("server.default_count"),
                        "must be between 1 and server.max_results",
                    )
                    .with_hint("for example default_count = 100"),
            );
        }
        if self.file.endpoints.is_empty() {
            out.push(
                self.source
                    .error(None, Some("endpoints"), "no endpoint is configured")
                    .with_hint("add [endpoints.main] with connector = \"...\" and mappings = [\"...\"]"),
            );
        }
        let mut paths = BTreeMap::new();
        for (name, ep) in &self.file.endpoints {
            let key = format!("endpoints.{name}");
            let path = normalize_base_path(&ep.get_ref().path);
            if let Some(other) = paths.insert(path.clone(), name.clone()) {
                out.push(
                    self.source
                        .error(
                            Some(ep.span()),
                            Some(&key),
                            format!("path {path:?} is also used by endpoints.{other}"),
                        )
                        .with_hint("give every endpoint its own path, e.g. path = \"/hr\""),
                );
            }
            if !ep.get_ref().path.starts_with('/') {
                out.push(
                    self.source
                        .error(Some(ep.span()), Some(&format!("{key}.path")), "must start with /")
                        .with_hint("for example path = \"/scim/v2\""),
                );
            }
            let connector = ep.get_ref().connector.get_ref();
            if !self.file.connectors.contains_key(connector) {
                let known: Vec<_> = self.file.connectors.keys().cloned().collect();
                out.push(
                    self.source
                        .error(
                            Some(ep.get_ref().connector.span()),
                            Some(&format!("{key}.connector")),
                            format!("no connector named {connector:?}"),
                        )
                        .with_hint(format!(
                            "declare [connectors.{connector}.sql], or use one of: {}",
                            known.join(", ")
                        )),
                );
            }
            if ep.get_ref().mappings.is_empty() {
                out.push(
                    self.source
                        .error(
                            Some(ep.span()),
                            Some(&format!("{key}.mappings")),
                            "lists no mapping file",
                        )
                        .with_hint("for example mappings = [\"mappings/users.toml\"]"),
                );
            }
        }
        out
    }

    /// A mapping path from the config, resolved against the config's directory.
    pub fn resolve_path(&self, p: &str) -> PathBuf {
        let path = Path::new(p);
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base_dir.join(path)
        }
    }
}

/// `/scim/v2/` and `scim/v2` become `/scim/v2`; `/` stays `/`.
pub fn normalize_base_path(p: &str) -> String {
    let trimmed = p.trim_matches('/');
    if trimmed.is_empty() {
        "/".into()
    } else {
        format!("/{trimmed}")
    }
}

fn compiled_kinds() -> Vec<&'static str> {
    [
        (cfg!(feature = "connector-sqlite"), "sql (sqlite)"),
        (cfg!(feature = "connector-ldap"), "ldap"),
    ]
    .into_iter()
    .filter(|(on, _)| *on)
    .map(|(_, k)| k)
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, Diagnostics> {
        Config::parse(SourceFile::new("scimgate.toml", text), PathBuf::from("."))
    }

    #[test]
    fn unknown_key_is_reported_at_its_line() {
        let err = parse("[server]\nlisten = \"127.0.0.1:1\"\nlisen = 3\n").unwrap_err();
        let d = &err.0[0];
        assert_eq!((d.line, d.column), (3, 1));
        assert!(d.message.contains("unknown field `lisen`"), "{}", d.message);
        assert!(d.hint.is_some());
    }

    #[test]
    fn endpoint_with_unknown_connector_names_it() {
        let err = parse(
            "[connectors.db.sql]\nurl = \"sqlite::memory:\"\n[endpoints.main]\nconnector = \"dbb\"\nmappings = [\"m.toml\"]\n",
        )
        .unwrap_err();
        assert_eq!(err.0.len(), 1);
        assert_eq!(err.0[0].line, 4);
        assert!(err.0[0].message.contains("no connector named \"dbb\""));
    }

    #[test]
    fn all_errors_are_reported_together() {
        let err = parse(
            "[server]\ndefault_count = 0\npublic_url = \"ftp://x\"\n[connectors.db.sql]\nurl = \"sqlite::memory:\"\n[endpoints.main]\nconnector = \"nope\"\nmappings = []\n",
        )
        .unwrap_err();
        assert_eq!(err.0.len(), 4, "{err}");
    }

    #[test]
    fn base_paths_are_normalized() {
        assert_eq!(normalize_base_path("/scim/v2/"), "/scim/v2");
        assert_eq!(normalize_base_path("/"), "/");
        assert_eq!(normalize_base_path(""), "/");
    }
}
