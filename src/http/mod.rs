//! The HTTP edge: router, authentication, request ids, limits, and SCIM dispatch.
//!
//! Routing is done by hand after the auth layer, because SCIM clients send paths that an
//! exact router would refuse: any case (`/users`), doubled slashes (`//Users`) and a
//! configurable base path.

pub mod auth;
pub mod discovery;
pub mod response;
mod routes;

use std::fmt::Write as _;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::engine::Endpoint;
use crate::scim::ScimError;
pub use auth::Credentials;

/// Everything a request handler needs. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub endpoints: Arc<Vec<Arc<Endpoint>>>,
    pub credentials: Arc<Credentials>,
    pub settings: Arc<HttpSettings>,
    pub permits: Arc<Semaphore>,
}

/// HTTP behaviour from `[server]`.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Base for absolute URLs when set (`https://scim.example.com`).
    pub public_url: Option<String>,
    /// Fallback base when there is no public URL and headers are not trusted.
    pub listen_url: String,
    pub trust_forwarded: bool,
    pub max_body_bytes: usize,
    pub bulk_max_payload_bytes: usize,
    pub request_timeout: Duration,
}

/// The request id of the current request, set by [`edge`].
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Builds the application router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(routes::dispatch)
        .layer(middleware::from_fn_with_state(state.clone(), edge))
        .with_state(state)
}

/// Serves `router` on `listener` until `shutdown` resolves, then drains open requests.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn healthz() -> impl IntoResponse {
    (StatusCode::OK, "ok")
}

/// Ready when every connector answers its health check.
async fn readyz(State(state): State<AppState>) -> Response {
    for ep in state.endpoints.iter() {
        if let Err(e) = ep.connector.health().await {
            tracing::warn!(endpoint = %ep.name, error = %e, "not ready");
            return (StatusCode::SERVICE_UNAVAILABLE, "backend unavailable").into_response();
        }
    }
    (StatusCode::OK, "ready").into_response()
}

/// `x-request-id`.
const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A fresh request id: a per-process random prefix (64 bits, drawn once) and a counter.
/// Unique in practice across processes and restarts, opaque to clients, and free of a
/// system call per request.
fn next_request_id() -> String {
    static PREFIX: OnceLock<String> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| {
        let mut bytes = [0u8; 8];
        if getrandom::fill(&mut bytes).is_err() {
            // No random source: the clock and the process id still separate processes.
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            bytes = (nanos ^ (u64::from(std::process::id()) << 32)).to_be_bytes();
        }
        format!("{:016x}", u64::from_be_bytes(bytes))
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    // Exact capacity, so the header value below takes the buffer without copying.
    let digits = (64 - n.leading_zeros()).max(1).div_ceil(4) as usize;
    let mut id = String::with_capacity(prefix.len() + 1 + digits);
    id.push_str(prefix);
    id.push('-');
    let _ = write!(id, "{n:x}");
    id
}

/// The edge of every request, in one layer: a request id (extension and `x-request-id`
/// header), an info span carrying it with a log line per request, and authentication for
/// everything except `/healthz` and `/readyz`.
async fn edge(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let id = next_request_id();
    req.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path());
    let started = std::time::Instant::now();
    let handled = async {
        let response = match unauthorized(&state, &req, &id) {
            None => next.run(req).await,
            Some(refused) => refused,
        };
        tracing::info!(
            status = response.status().as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "handled"
        );
        response
    };
    let mut response = tracing::Instrument::instrument(handled, span).await;
    if let Ok(v) = HeaderValue::from_maybe_shared(Bytes::from(id)) {
        response.headers_mut().insert(X_REQUEST_ID, v);
    }
    response
}

/// The 401 response for a request that needs credentials and lacks valid ones.
fn unauthorized(state: &AppState, req: &Request, request_id: &str) -> Option<Response> {
    let path = req.uri().path();
    if path == "/healthz" || path == "/readyz" {
        return None;
    }
    let authorization = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    if state.credentials.check(authorization) {
        return None;
    }
    let detail = if authorization.is_some() {
        "the credentials are not valid"
    } else {
        "authentication is required"
    };
    let mut r = response::error(&ScimError::new(401, None, detail), request_id);
    if let Ok(v) = HeaderValue::from_str(&state.credentials.challenge()) {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_unique_and_share_a_random_prefix() {
        let ids: Vec<String> = (0..1000).map(|_| next_request_id()).collect();
        let distinct: std::collections::BTreeSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
        let (prefix, _) = ids[0].split_once('-').expect("prefix-counter");
        assert_eq!(prefix.len(), 16);
        for id in &ids {
            assert!(id.starts_with(prefix) && HeaderValue::from_str(id).is_ok(), "{id}");
            // The exact capacity lets the header value take the buffer without a copy.
            assert_eq!(id.len(), id.capacity(), "{id}");
        }
    }
}
