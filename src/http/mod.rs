//! The HTTP edge: router, authentication, request ids, limits, and SCIM dispatch.
//!
//! Routing is done by hand after the auth layer, because SCIM clients send paths that an
//! exact router would refuse: any case (`/users`), doubled slashes (`//Users`) and a
//! configurable base path.

pub mod auth;
pub mod discovery;
pub mod response;
mod routes;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
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

/// The request id of the current request, set by [`request_id`].
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Builds the application router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(routes::dispatch)
        .layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .layer(middleware::from_fn(request_id))
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

async fn request_id(mut req: Request, next: Next) -> Response {
    let id = uuid::Uuid::new_v4().to_string();
    req.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path());
    let started = std::time::Instant::now();
    let mut response = tracing::Instrument::instrument(next.run(req), span.clone()).await;
    span.in_scope(|| {
        tracing::info!(
            status = response.status().as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "handled"
        );
    });
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", v);
    }
    response
}

async fn authenticate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if path == "/healthz" || path == "/readyz" {
        return next.run(req).await;
    }
    let authorization = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    if state.credentials.check(authorization) {
        return next.run(req).await;
    }
    let rid = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let detail = if authorization.is_some() {
        "the credentials are not valid"
    } else {
        "authentication is required"
    };
    let mut r = response::error(&ScimError::new(401, None, detail), &rid);
    if let Ok(v) = HeaderValue::from_str(&state.credentials.challenge()) {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    r
}
