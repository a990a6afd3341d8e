//! Wiring: config → compiled mappings → connectors → endpoints → HTTP state.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::config::{Config, ConnectorConfig, Diagnostic, Diagnostics, SourceFile, normalize_base_path};
use crate::connector::Connector;
use crate::engine::{Endpoint, Limits};
use crate::http::{AppState, Credentials, HttpSettings};
use crate::mapping::compile::{self, BackendPart, Compiled};
use crate::scim::filter::FilterLimits;
use crate::secret::Secret;

/// Where config and mapping files come from: the file system, or the embedded quickstart.
#[derive(Debug, Clone, Copy)]
pub enum Files {
    Disk,
    Builtin,
}

impl Files {
    pub fn read(self, path: &Path) -> Result<SourceFile, Diagnostic> {
        match self {
            Files::Disk => SourceFile::read(path),
            Files::Builtin => crate::quickstart::read(path),
        }
    }
}

/// Loads a config from disk, or the built-in quickstart when `path` is `None`.
pub fn load_config(path: Option<&Path>) -> Result<(Config, Files), Diagnostics> {
    match path {
        Some(p) => Ok((Config::load(p)?, Files::Disk)),
        None => {
            let source = crate::quickstart::config_source();
            Ok((
                Config::parse(source, PathBuf::from(crate::quickstart::BUILTIN_DIR))?,
                Files::Builtin,
            ))
        }
    }
}

/// An endpoint's compiled mappings, before any connection is made.
pub struct EndpointPlan {
    pub name: String,
    pub path: String,
    pub connector_name: String,
    pub connector: ConnectorConfig,
    pub compiled: Vec<Compiled>,
}

/// Compiles every endpoint's mapping files. Pure: no backend is contacted.
pub fn plan(config: &Config, files: Files) -> Result<Vec<EndpointPlan>, Diagnostics> {
    let mut errors = Diagnostics::default();
    let mut plans = Vec::new();
    for (name, ep) in &config.file.endpoints {
        let ep = ep.get_ref();
        let connector_name = ep.connector.get_ref().clone();
        let Some(connector) = config.file.connectors.get(&connector_name) else {
            continue;
        };
        let mut sources = Vec::new();
        for m in &ep.mappings {
            match files.read(&config.resolve_path(m.get_ref())) {
                Ok(s) => sources.push(s),
                Err(mut d) => {
                    let (line, column) = config.source.position(m.span().start);
                    d.message = format!(
                        "{} (listed in {}:{line}:{column})",
                        d.message,
                        config.source.path.display()
                    );
                    errors.push(d);
                }
            }
        }
        let connector = connector.get_ref().clone();
        match compile::compile(&sources, connector.kind()) {
            Ok(compiled) => plans.push(EndpointPlan {
                name: name.clone(),
                path: normalize_base_path(&ep.path),
                connector_name,
                connector,
                compiled,
            }),
            Err(e) => errors.extend(e),
        }
    }
    if errors.is_empty() { Ok(plans) } else { Err(errors) }
}

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Config(Diagnostics),
    #[error("connector {name}: {message}")]
    Connector { name: String, message: String },
    #[error("{0}")]
    Secret(String),
}

/// Builds a connector for one endpoint. With `offline`, nothing is contacted (dry runs).
pub async fn connector_for(
    plan: &EndpointPlan,
    config: &Config,
    files: Files,
    offline: bool,
) -> Result<Arc<dyn Connector>, StartError> {
    let err = |message: String| StartError::Connector {
        name: plan.connector_name.clone(),
        message,
    };
    match &plan.connector {
        #[cfg(feature = "connector-sqlite")]
        ConnectorConfig::Sql(sql) => {
            use crate::connector::sql;
            let mut resolved = sql.clone();
            for f in &sql.init_files {
                let text = files
                    .read(&config.resolve_path(&f.to_string_lossy()))
                    .map_err(|d| err(d.to_string()))?;
                resolved.init.push(text.text);
            }
            let entities = entity_parts(plan, |p| match p {
                BackendPart::Sql(part) => Some(part),
                #[allow(unreachable_patterns)]
                _ => None,
            });
            let built = if offline {
                sql::build_offline(&resolved, entities)
            } else {
                sql::build(&resolved, entities).await
            };
            Ok(Arc::new(built.map_err(|e| err(e.to_string()))?))
        }
        #[cfg(feature = "connector-ldap")]
        ConnectorConfig::Ldap(ldap_config) => {
            use crate::connector::ldap;
            let entities = entity_parts(plan, |p| match p {
                BackendPart::Ldap(part) => Some(part),
                #[allow(unreachable_patterns)]
                _ => None,
            });
            // Like the mapping files, a relative CA file is found next to scimgate.toml.
            let mut ldap_config = ldap_config.clone();
            if let Some(ca) = &ldap_config.ca_file {
                ldap_config.ca_file = Some(config.resolve_path(&ca.to_string_lossy()));
            }
            let built = if offline {
                ldap::build_offline(&ldap_config, entities)
            } else {
                ldap::build(&ldap_config, entities).await
            };
            built.map_err(|e| err(e.to_string()))
        }
    }
}

/// Each compiled resource type's entity spec with its connector part of one kind. `compile`
/// gives every resource type of an endpoint the part of the endpoint's connector kind.
fn entity_parts<T: Clone>(
    plan: &EndpointPlan,
    pick: impl Fn(&BackendPart) -> Option<&T>,
) -> Vec<(crate::connector::EntitySpec, T)> {
    plan.compiled
        .iter()
        .filter_map(|c| pick(&c.part).map(|p| (c.resource.entity_spec.clone(), p.clone())))
        .collect()
}

/// The running service's parts.
pub struct App {
    pub state: AppState,
    pub listen: SocketAddr,
    /// A token generated because none was configured; `serve` prints it once.
    pub generated_token: Option<String>,
}

/// Builds everything `serve` needs: compiles mappings, connects backends, resolves secrets.
pub async fn build(config: &Config, files: Files, listen: Option<SocketAddr>) -> Result<App, StartError> {
    let plans = plan(config, files).map_err(StartError::Config)?;
    let server = &config.file.server;
    let limits = Limits {
        filter: FilterLimits {
            max_len: server.max_filter_length,
            max_depth: server.max_filter_depth,
            max_terms: server.max_filter_terms,
        },
        max_results: server.max_results,
        default_count: server.default_count,
        bulk_max_operations: server.bulk_max_operations,
        bulk_max_payload_bytes: server.bulk_max_payload_bytes,
        max_patch_operations: server.bulk_max_operations,
    };
    let mut endpoints = Vec::new();
    for plan in &plans {
        let connector = connector_for(plan, config, files, false).await?;
        endpoints.push(Arc::new(Endpoint::new(
            plan.name.clone(),
            plan.path.clone(),
            connector,
            plan.compiled.iter().map(|c| Arc::new(c.resource.clone())).collect(),
            limits.clone(),
        )));
    }
    let (credentials, generated_token) = credentials(config)?;
    let listen = listen.unwrap_or(server.listen);
    let settings = HttpSettings {
        public_url: server.public_url.clone(),
        listen_url: format!("http://{listen}"),
        trust_forwarded: server.trust_forwarded,
        max_body_bytes: server.max_body_bytes,
        bulk_max_payload_bytes: server.bulk_max_payload_bytes,
        request_timeout: Duration::from_millis(server.request_timeout_ms),
    };
    let state = AppState {
        endpoints: Arc::new(endpoints),
        credentials: Arc::new(credentials),
        settings: Arc::new(settings),
        permits: Arc::new(tokio::sync::Semaphore::new(server.max_concurrent_requests.max(1))),
    };
    Ok(App {
        state,
        listen,
        generated_token,
    })
}

/// Configured tokens, plus `SCIMGATE_TOKEN`; with none at all, a generated one.
fn credentials(config: &Config) -> Result<(Credentials, Option<String>), StartError> {
    let auth = &config.file.auth;
    let mut tokens: Vec<Secret> = auth
        .tokens
        .iter()
        .map(|t| t.resolve())
        .collect::<Result<_, _>>()
        .map_err(StartError::Secret)?;
    if let Ok(t) = std::env::var("SCIMGATE_TOKEN")
        && !t.is_empty()
    {
        tokens.push(Secret::new(t));
    }
    let basic = auth
        .basic
        .iter()
        .map(|b| b.password.resolve().map(|p| (b.username.clone(), p)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(StartError::Secret)?;
    let mut generated = None;
    if tokens.is_empty() && basic.is_empty() {
        let t = crate::http::auth::generate_token();
        tokens.push(Secret::new(t.clone()));
        generated = Some(t);
    }
    Ok((Credentials { tokens, basic }, generated))
}
