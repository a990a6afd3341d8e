//! SCIM responses: `application/scim+json`, errors as RFC 7644 §3.12 JSON.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value as Json, json};

use crate::scim::ScimError;

pub const SCIM_JSON: &str = "application/scim+json";
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// A JSON body with the SCIM media type.
pub fn scim_json(status: StatusCode, body: &Json) -> Response {
    // Room for a typical resource up front, instead of growing from serde_json's 128 bytes.
    let mut bytes = Vec::with_capacity(1024);
    if serde_json::to_writer(&mut bytes, body).is_err() {
        // `Value` always serializes; this keeps the body valid JSON regardless.
        bytes = b"{}".to_vec();
    }
    let mut r = (status, bytes).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
    r
}

/// A resource with its `ETag` (and `Location` for 201).
pub fn resource(status: StatusCode, body: &Json, version: Option<&str>) -> Response {
    let mut r = scim_json(status, body);
    if let Some(v) = version.and_then(|v| HeaderValue::from_str(v).ok()) {
        r.headers_mut().insert(header::ETAG, v);
    }
    if status == StatusCode::CREATED
        && let Some(loc) = body
            .pointer("/meta/location")
            .and_then(Json::as_str)
            .and_then(|l| HeaderValue::from_str(l).ok())
    {
        r.headers_mut().insert(header::LOCATION, loc);
    }
    r
}

/// Renders an error. A 5xx detail names the request id; its cause is logged, not sent.
pub fn error(e: &ScimError, request_id: &str) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let detail = if e.status >= 500 {
        format!("{} (request id {request_id})", e.detail)
    } else {
        e.detail.clone()
    };
    if e.status >= 500 {
        tracing::error!(status = e.status, cause = e.cause.as_deref().unwrap_or("-"), detail = %e.detail, "request failed");
    } else if let Some(cause) = &e.cause {
        tracing::warn!(status = e.status, cause = cause.as_str(), "request refused");
    }
    let mut body = json!({"schemas": [ERROR_SCHEMA], "status": e.status.to_string(), "detail": detail});
    if let Some(t) = e.scim_type {
        body["scimType"] = json!(t.as_str());
    }
    let mut r = scim_json(status, &body);
    if let Some(s) = e.retry_after {
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
    }
    r
}

/// `If-Match` / `If-None-Match` from request headers.
pub fn preconditions(headers: &HeaderMap) -> crate::engine::Preconditions {
    let get = |h: header::HeaderName| headers.get(h).and_then(|v| v.to_str().ok()).map(str::to_owned);
    crate::engine::Preconditions {
        if_match: get(header::IF_MATCH),
        if_none_match: get(header::IF_NONE_MATCH),
    }
}
