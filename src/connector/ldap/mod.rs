//! The LDAP connector (OpenLDAP, Active Directory) on `ldap3`. Under construction in this
//! commit: only its configuration exists, and building it reports that.

pub mod config;

use config::{LdapConnectorConfig, LdapEntityConfig};

use super::{ConnectorError, EntitySpec};

/// Builds a connector (connects and binds).
pub async fn build(
    config: &LdapConnectorConfig,
    entities: Vec<(EntitySpec, LdapEntityConfig)>,
) -> Result<std::sync::Arc<dyn super::Connector>, ConnectorError> {
    build_offline(config, entities)
}

/// Builds a connector without touching the directory (dry runs).
pub fn build_offline(
    _config: &LdapConnectorConfig,
    _entities: Vec<(EntitySpec, LdapEntityConfig)>,
) -> Result<std::sync::Arc<dyn super::Connector>, ConnectorError> {
    Err(ConnectorError::Unsupported(
        "the ldap connector is not built yet".into(),
    ))
}
