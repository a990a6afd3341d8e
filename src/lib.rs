//! scimgate: a SCIM 2.0 service provider that holds no identity data of its own.
//!
//! # Layout
//!
//! A request flows one way through these modules:
//!
//! - [`http`]: axum router, authentication, request ids, body limits, the SCIM JSON
//!   extractor, and the rendering of every error as RFC 7644 §3.12 JSON.
//! - [`engine`]: the protocol operations (get, create, replace, patch, delete, search,
//!   bulk) for one resource type: ETags, projection, paging, PATCH application.
//! - [`scim`]: the protocol's data: schemas, filter and path parsing, PATCH operations,
//!   normalisation of client JSON, projection. It knows nothing of backends.
//! - [`mapping`]: mapping files, compiled; SCIM resource ↔ backend record, SCIM filter →
//!   backend filter tree, and minimal change sets.
//! - [`connector`]: the backend contract and its implementations (SQL on sqlx).
//!
//! [`config`] loads `scimgate.toml`, [`app`] wires config, mappings and connectors
//! together, and [`secret`] keeps credentials out of logs.

pub mod app;
pub mod cli;
pub mod config;
pub mod connector;
pub mod engine;
pub mod http;
pub mod mapping;
pub mod quickstart;
pub mod scim;
pub mod secret;

/// Logs to stderr; `RUST_LOG` sets the level (default `info`), `SCIMGATE_LOG_FORMAT=json`
/// switches to JSON lines.
pub fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var("SCIMGATE_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: draining open requests");
}

#[cfg(not(feature = "connector-sqlite"))]
compile_error!("scimgate needs at least one connector feature, e.g. --features connector-sqlite");
