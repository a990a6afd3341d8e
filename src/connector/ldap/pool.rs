//! A deadpool of bound `ldap3` connections.
//!
//! `create` connects within `connect_timeout_ms` (TCP, `ldaps://` or StartTLS over rustls
//! with the aws-lc-rs provider), then binds. `recycle` is cheap: it only checks that the
//! connection's driver is still running, plus a rootDSE read when the connection sat idle
//! for a minute (servers and firewalls drop idle connections silently). A connection that
//! died is replaced, so a directory that went down gives `Unavailable` while it is down and
//! the pool recovers by itself when it is back.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError, Scope};
use rustls::ClientConfig;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

use super::config::LdapConnectorConfig;
use super::errors;
use super::ops::{oid, parse_entry};
use crate::connector::ConnectorError;

pub type Pool = managed::Pool<Manager>;
pub type Conn = managed::Object<Manager>;

pub struct Manager {
    url: String,
    starttls: bool,
    bind_dn: String,
    bind_password: String,
    tls: Option<Arc<ClientConfig>>,
    skip_verify: bool,
    connect_timeout: Duration,
}

impl Manager {
    pub fn new(config: &LdapConnectorConfig) -> Result<Manager, ConnectorError> {
        if config.tls_skip_verify {
            tracing::warn!(
                target: "scimgate::connector::ldap",
                "tls_skip_verify is set: the directory's certificate is not verified (test directories only)"
            );
        }
        Ok(Manager {
            url: config.url.clone(),
            starttls: config.starttls,
            bind_dn: config.bind_dn.clone(),
            bind_password: config.bind_password.clone(),
            tls: tls_config(config)?,
            skip_verify: config.tls_skip_verify,
            connect_timeout: Duration::from_millis(config.connect_timeout_ms),
        })
    }

    /// Opens and binds one connection.
    pub async fn connect(&self) -> Result<Ldap, ConnectorError> {
        let mut settings = LdapConnSettings::new()
            .set_conn_timeout(self.connect_timeout)
            .set_starttls(self.starttls)
            .set_no_tls_verify(self.skip_verify);
        if let Some(tls) = &self.tls {
            settings = settings.set_config(tls.clone());
        }
        let t = self.connect_timeout;
        let open = async {
            let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &self.url)
                .await
                .map_err(|e| match e {
                    // The only LDAP result a connect reads is the StartTLS response. A refusal
                    // (a server without TLS answers protocolError) leaves no encrypted channel:
                    // the directory is unusable, like one whose certificate fails, not broken.
                    LdapError::LdapResult { result } => ConnectorError::Unavailable(format!(
                        "the directory refused StartTLS: {} (result code {})",
                        result.text, result.rc
                    )),
                    e => errors::from_ldap(e, t),
                })?;
            tokio::spawn(async move {
                if let Err(e) = conn.drive().await {
                    tracing::debug!(target: "scimgate::connector::ldap", error = %e, "connection ended");
                }
            });
            let bound = ldap
                .simple_bind(&self.bind_dn, &self.bind_password)
                .await
                .map_err(|e| errors::from_ldap(e, t))?;
            if bound.rc != 0 {
                return Err(match errors::from_code(bound.rc, &bound.text) {
                    ConnectorError::Forbidden(m) => {
                        ConnectorError::Forbidden(format!("bind as the gateway failed: {m}"))
                    }
                    other => other,
                });
            }
            Ok(ldap)
        };
        match tokio::time::timeout(t, open).await {
            Ok(Ok(ldap)) => Ok(ldap),
            // A refused or timed-out connect is the directory being unreachable.
            Ok(Err(ConnectorError::Timeout(_))) | Err(_) => Err(ConnectorError::Unavailable(format!(
                "no connection to the directory within {t:?}"
            ))),
            Ok(Err(e)) => Err(e),
        }
    }
}

impl managed::Manager for Manager {
    type Type = Ldap;
    type Error = ConnectorError;

    async fn create(&self) -> Result<Ldap, ConnectorError> {
        self.connect().await
    }

    async fn recycle(&self, ldap: &mut Ldap, metrics: &Metrics) -> RecycleResult<ConnectorError> {
        if ldap.is_closed() {
            return Err(RecycleError::message("the connection is closed"));
        }
        if metrics.last_used() > Duration::from_secs(60) {
            read_root_dse(ldap, self.connect_timeout)
                .await
                .map_err(RecycleError::Backend)?;
        }
        Ok(())
    }
}

pub fn build_pool(config: &LdapConnectorConfig) -> Result<Pool, ConnectorError> {
    let t = Some(Duration::from_millis(config.connect_timeout_ms));
    Pool::builder(Manager::new(config)?)
        .max_size(config.pool_size)
        .runtime(deadpool::Runtime::Tokio1)
        .wait_timeout(t)
        .create_timeout(t)
        .recycle_timeout(t)
        .build()
        .map_err(|e| ConnectorError::Backend(format!("LDAP pool: {e}")))
}

pub fn pool_error(e: managed::PoolError<ConnectorError>) -> ConnectorError {
    match e {
        managed::PoolError::Backend(e) => e,
        managed::PoolError::Timeout(_) => {
            ConnectorError::Unavailable("no directory connection available in time".into())
        }
        managed::PoolError::Closed => ConnectorError::Unavailable("the connection pool is closed".into()),
        managed::PoolError::NoRuntimeSpecified => ConnectorError::Backend("LDAP pool without a runtime".into()),
        managed::PoolError::PostCreateHook(e) => ConnectorError::Backend(e.to_string()),
    }
}

/// A custom rustls configuration when a CA file is given (aws-lc-rs provider, never ring);
/// `None` lets ldap3 use the system trust store.
fn tls_config(config: &LdapConnectorConfig) -> Result<Option<Arc<ClientConfig>>, ConnectorError> {
    if config.ca_file.is_none() && !config.tls_skip_verify {
        return Ok(None);
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ConnectorError::Backend(format!("TLS: {e}")))?;
    let tls = if config.tls_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
            .with_no_client_auth()
    } else {
        let mut roots = rustls::RootCertStore::empty();
        let path = config.ca_file.as_deref().unwrap_or(std::path::Path::new(""));
        let bad = |e: String| ConnectorError::InvalidValue {
            field: Some("ca_file".into()),
            detail: format!("{}: {e}", path.display()),
        };
        for cert in CertificateDer::pem_file_iter(path).map_err(|e| bad(e.to_string()))? {
            roots
                .add(cert.map_err(|e| bad(e.to_string()))?)
                .map_err(|e| bad(e.to_string()))?;
        }
        if roots.is_empty() {
            return Err(bad("no certificate in the file".into()));
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    Ok(Some(Arc::new(tls)))
}

/// Accepts any certificate (`tls_skip_verify`), still checking handshake signatures.
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// What the rootDSE says the server offers; read once at build.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RootDse {
    pub controls: BTreeSet<String>,
    pub extensions: BTreeSet<String>,
    pub vendor: Option<String>,
    /// `supportedCapabilities` lists Active Directory's OID.
    pub active_directory: bool,
    /// Where the schema is published (`cn=Subschema`).
    pub subschema: Option<String>,
}

impl RootDse {
    /// What an offline build assumes (for `explain`): paged results, nothing else.
    pub fn assumed() -> RootDse {
        RootDse {
            controls: [oid::PAGED_RESULTS.to_owned()].into(),
            ..RootDse::default()
        }
    }

    pub fn control(&self, oid: &str) -> bool {
        self.controls.contains(oid)
    }

    /// Virtual List View, with the server-side sort it needs in the same request.
    pub fn virtual_list_view(&self) -> bool {
        self.control(super::vlv::REQUEST_OID) && self.control(oid::SORT)
    }
}

/// `base ""`, scope base, `(objectClass=*)`: the health check and the capability probe.
pub async fn read_root_dse(ldap: &mut Ldap, timeout: Duration) -> Result<RootDse, ConnectorError> {
    let attrs = [
        "supportedControl",
        "supportedExtension",
        "supportedCapabilities",
        "vendorName",
        "vendorVersion",
        "subschemaSubentry",
    ];
    let run = async {
        let mut stream = ldap
            .streaming_search("", Scope::Base, "(objectClass=*)", attrs.to_vec())
            .await?;
        let mut entries = Vec::new();
        while let Some(e) = stream.next().await? {
            entries.push(e);
        }
        let result = stream.finish().await;
        Ok::<_, ldap3::LdapError>((entries, result))
    };
    let (entries, result) = match tokio::time::timeout(timeout, run).await {
        Ok(r) => r.map_err(|e| errors::from_ldap(e, timeout))?,
        Err(_) => return Err(ConnectorError::Timeout(timeout)),
    };
    if result.rc != 0 {
        return Err(errors::from_code(result.rc, &result.text));
    }
    let entry = entries.into_iter().find_map(parse_entry).unwrap_or_default();
    let set = |attr: &str| -> BTreeSet<String> {
        entry
            .get(attr)
            .map(|v| v.iter().map(|b| String::from_utf8_lossy(b).into_owned()).collect())
            .unwrap_or_default()
    };
    let vendor = entry
        .first_text("vendorName")
        .map(|n| match entry.first_text("vendorVersion") {
            Some(v) => format!("{n} {v}"),
            None => n,
        });
    Ok(RootDse {
        controls: set("supportedControl"),
        extensions: set("supportedExtension"),
        active_directory: set("supportedCapabilities").contains(oid::AD_CAPABILITY),
        subschema: entry.first_text("subschemaSubentry"),
        vendor,
    })
}
