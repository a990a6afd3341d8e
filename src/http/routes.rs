//! SCIM dispatch: path → endpoint → operation.

use std::borrow::Cow;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::Response;
use serde_json::Value as Json;

use super::response::{self, preconditions};
use super::{AppState, RequestId, discovery};
use crate::engine::list::ListParams;
use crate::engine::{Endpoint, Got};
use crate::scim::projection::Projection;
use crate::scim::{ScimError, ScimType};

/// The fallback handler: every SCIM path goes through here.
pub async fn dispatch(State(state): State<AppState>, mut req: Request) -> Response {
    // Only this handler reads the request id, so it is taken rather than copied.
    let rid = req
        .extensions_mut()
        .remove::<RequestId>()
        .map(|r| r.0)
        .unwrap_or_default();
    let Ok(_permit) = tokio::time::timeout(std::time::Duration::from_millis(250), state.permits.acquire()).await else {
        return response::error(
            &ScimError::new(429, None, "too many concurrent requests; try again shortly").with_retry_after(1),
            &rid,
        );
    };
    let timeout = state.settings.request_timeout;
    match tokio::time::timeout(timeout, handle(&state, req)).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => response::error(&e, &rid),
        Err(_) => response::error(
            &ScimError::unavailable("the request took too long").with_cause(format!("request timeout of {timeout:?}")),
            &rid,
        ),
    }
}

/// Splits a request path into an endpoint and the SCIM segments after its base path.
/// Doubled slashes are collapsed and the base path compares case-insensitively. Segments
/// borrow from the path unless they are percent-encoded.
fn route<'a, 'p>(state: &'a AppState, path: &'p str) -> Option<(&'a Endpoint, Vec<Cow<'p, str>>)> {
    let mut segments: Vec<Cow<'p, str>> = path.split('/').filter(|s| !s.is_empty()).map(percent_decode).collect();
    let (ep, n) = state
        .endpoints
        .iter()
        .filter_map(|ep| Some((ep.as_ref(), base_len(&ep.base_path, &segments)?)))
        // The longest base path wins, so `/` and `/hr` can coexist.
        .max_by_key(|(_, n)| *n)?;
    segments.drain(..n);
    Some((ep, segments))
}

/// How many leading segments `base_path` takes, when the path is under it.
fn base_len(base_path: &str, segments: &[Cow<'_, str>]) -> Option<usize> {
    let mut n = 0;
    for b in base_path.split('/').filter(|s| !s.is_empty()) {
        if !segments.get(n).is_some_and(|s| b.eq_ignore_ascii_case(s)) {
            return None;
        }
        n += 1;
    }
    Some(n)
}

fn percent_decode(s: &str) -> Cow<'_, str> {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy()
}

/// The absolute base URL of an endpoint as the client sees it.
fn base_url(state: &AppState, ep: &Endpoint, headers: &HeaderMap) -> String {
    let s = &state.settings;
    let base = if ep.base_path == "/" { "" } else { ep.base_path.as_str() };
    let joined = |origin: &str| {
        let mut url = String::with_capacity(origin.len() + base.len());
        url.push_str(origin);
        url.push_str(base);
        url
    };
    match &s.public_url {
        Some(u) => joined(u.trim_end_matches('/')),
        None if s.trust_forwarded => {
            let h = |name: &str| {
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(|v| v.split(',').next().unwrap_or(v).trim())
            };
            let proto = h("x-forwarded-proto").unwrap_or("http");
            match h("x-forwarded-host").or_else(|| h("host")) {
                Some(host) => format!("{proto}://{host}{base}"),
                None => joined(&s.listen_url),
            }
        }
        None => joined(&s.listen_url),
    }
}

async fn read_body(req: Request, limit: usize) -> Result<(HeaderMap, Json), ScimError> {
    let (parts, body) = req.into_parts();
    if let Some(ct) = parts.headers.get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or_default().to_ascii_lowercase();
        let media = ct.split(';').next().unwrap_or_default().trim();
        if media != "application/scim+json" && media != "application/json" {
            return Err(ScimError::new(
                415,
                None,
                format!("unsupported media type {media:?}; send application/scim+json"),
            ));
        }
    }
    let bytes: Bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| ScimError::new(413, None, format!("the request body is larger than {limit} bytes")))?;
    let json = serde_json::from_slice(&bytes)
        .map_err(|e| ScimError::invalid_syntax(format!("the body is not valid JSON: {e}")))?;
    Ok((parts.headers, json))
}

fn query_params(req: &Request) -> Vec<(String, String)> {
    let q = req.uri().query().unwrap_or_default();
    serde_urlencoded::from_str::<Vec<(String, String)>>(q).unwrap_or_default()
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn parse_int(params: &[(String, String)], name: &str) -> Result<Option<i64>, ScimError> {
    param(params, name)
        .map(|v| {
            v.trim()
                .parse::<i64>()
                .map_err(|_| ScimError::invalid_value(format!("{name} must be an integer, not {v:?}")))
        })
        .transpose()
}

fn list_params_from_query(params: &[(String, String)]) -> Result<ListParams, ScimError> {
    Ok(ListParams {
        filter: param(params, "filter").map(str::to_owned),
        sort_by: param(params, "sortBy").map(str::to_owned),
        sort_order: param(params, "sortOrder").map(str::to_owned),
        start_index: parse_int(params, "startIndex")?,
        count: parse_int(params, "count")?,
        cursor: param(params, "cursor").map(str::to_owned),
        attributes: param(params, "attributes").map(str::to_owned),
        excluded_attributes: param(params, "excludedAttributes").map(str::to_owned),
    })
}

/// RFC 7644 §3.4.3: a SearchRequest body.
fn list_params_from_body(body: &Json) -> Result<ListParams, ScimError> {
    let obj = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("a SearchRequest must be a JSON object"))?;
    let get = |k: &str| crate::scim::resource::get_ci(obj, k);
    let text = |k: &str| -> Result<Option<String>, ScimError> {
        match get(k) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::String(s)) => Ok(Some(s.clone())),
            Some(Json::Array(a)) if k.ends_with("ttributes") => {
                Ok(Some(a.iter().filter_map(Json::as_str).collect::<Vec<_>>().join(",")))
            }
            Some(_) => Err(ScimError::invalid_value(format!("{k} must be a string"))),
        }
    };
    let int = |k: &str| -> Result<Option<i64>, ScimError> {
        match get(k) {
            None | Some(Json::Null) => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| ScimError::invalid_value(format!("{k} must be an integer"))),
        }
    };
    Ok(ListParams {
        filter: text("filter")?,
        sort_by: text("sortBy")?,
        sort_order: text("sortOrder")?,
        start_index: int("startIndex")?,
        count: int("count")?,
        cursor: text("cursor")?,
        attributes: text("attributes")?,
        excluded_attributes: text("excludedAttributes")?,
    })
}

fn method_not_allowed(allowed: &str) -> ScimError {
    ScimError::new(405, None, format!("method not allowed here; allowed: {allowed}"))
}

/// The first segments that name an operation rather than a resource type or id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    ServiceProviderConfig,
    ResourceTypes,
    Schemas,
    Me,
    Bulk,
    Search,
    Other,
}

impl Tag {
    fn of(segment: Option<&Cow<'_, str>>) -> Tag {
        let Some(s) = segment else { return Tag::Other };
        [
            ("serviceproviderconfig", Tag::ServiceProviderConfig),
            ("resourcetypes", Tag::ResourceTypes),
            ("schemas", Tag::Schemas),
            ("me", Tag::Me),
            ("bulk", Tag::Bulk),
            (".search", Tag::Search),
        ]
        .into_iter()
        .find(|(name, _)| s.eq_ignore_ascii_case(name))
        .map_or(Tag::Other, |(_, tag)| tag)
    }
}

async fn handle(state: &AppState, req: Request) -> Result<Response, ScimError> {
    let path = req.uri().path().to_owned();
    let Some((ep, segments)) = route(state, &path) else {
        return Err(ScimError::not_found(format!("no SCIM endpoint at {path}")));
    };
    let base = base_url(state, ep, req.headers());
    let method = req.method().clone();
    let params = query_params(&req);
    let seg = |i: usize| -> &str { &segments[i] };
    // Only the first two segments decide the operation; they compare case-insensitively.
    let tags = (segments.len(), Tag::of(segments.first()), Tag::of(segments.get(1)));
    let body_limit = state.settings.max_body_bytes;
    let basic = !state.credentials.basic.is_empty();

    match (tags, &method) {
        ((1, Tag::ServiceProviderConfig, _), &Method::GET) => Ok(response::scim_json(
            StatusCode::OK,
            &discovery::service_provider_config(ep, &base, basic),
        )),
        ((1, Tag::ResourceTypes, _), &Method::GET) => Ok(response::scim_json(
            StatusCode::OK,
            &discovery::resource_types(ep, None, &base)?,
        )),
        ((2, Tag::ResourceTypes, _), &Method::GET) => Ok(response::scim_json(
            StatusCode::OK,
            &discovery::resource_types(ep, Some(seg(1)), &base)?,
        )),
        ((1, Tag::Schemas, _), &Method::GET) => Ok(response::scim_json(
            StatusCode::OK,
            &discovery::schemas(ep, None, &base)?,
        )),
        ((2, Tag::Schemas, _), &Method::GET) => Ok(response::scim_json(
            StatusCode::OK,
            &discovery::schemas(ep, Some(seg(1)), &base)?,
        )),
        ((_, Tag::ServiceProviderConfig | Tag::ResourceTypes | Tag::Schemas, _), _) => Err(method_not_allowed("GET")),
        ((_, Tag::Me, _), _) => Err(ScimError::new(
            501,
            None,
            "/Me is not supported: scimgate authenticates provisioning clients, not end users",
        )),
        ((1, Tag::Bulk, _), &Method::POST) => {
            let (_, body) = read_body(req, state.settings.bulk_max_payload_bytes).await?;
            Ok(response::scim_json(StatusCode::OK, &ep.bulk(&body, &base).await?))
        }
        ((1, Tag::Bulk, _), _) => Err(method_not_allowed("POST")),
        ((1, Tag::Search, _), &Method::POST) => {
            let (_, body) = read_body(req, body_limit).await?;
            Ok(response::scim_json(
                StatusCode::OK,
                &search_all(ep, &list_params_from_body(&body)?, &base).await?,
            ))
        }
        ((1, Tag::Search, _), _) => Err(method_not_allowed("POST")),
        ((1, _, _), m) => {
            let rt = ep
                .resource_type(seg(0))
                .ok_or_else(|| ScimError::not_found(format!("no resource type at /{}", seg(0))))?
                .clone();
            match *m {
                Method::GET => Ok(response::scim_json(
                    StatusCode::OK,
                    &ep.list(&rt, &list_params_from_query(&params)?, &base).await?,
                )),
                Method::POST => {
                    let projection = Projection::parse(
                        param(&params, "attributes"),
                        param(&params, "excludedAttributes"),
                        &rt.schema,
                    )?;
                    let (_, body) = read_body(req, body_limit).await?;
                    let created = ep.create(&rt, &body, &projection, &base).await?;
                    Ok(response::resource(
                        StatusCode::CREATED,
                        &created.json,
                        created.version.as_deref(),
                    ))
                }
                _ => Err(method_not_allowed("GET, POST")),
            }
        }
        ((2, _, Tag::Search), &Method::POST) => {
            let rt = ep
                .resource_type(seg(0))
                .ok_or_else(|| ScimError::not_found(format!("no resource type at /{}", seg(0))))?
                .clone();
            let (_, body) = read_body(req, body_limit).await?;
            Ok(response::scim_json(
                StatusCode::OK,
                &ep.list(&rt, &list_params_from_body(&body)?, &base).await?,
            ))
        }
        ((2, _, Tag::Search), _) => Err(method_not_allowed("POST")),
        ((2, _, _), m) => {
            let rt = ep
                .resource_type(seg(0))
                .ok_or_else(|| ScimError::not_found(format!("no resource type at /{}", seg(0))))?
                .clone();
            let id = seg(1).to_owned();
            let pre = preconditions(req.headers());
            let attributes = param(&params, "attributes");
            let excluded = param(&params, "excludedAttributes");
            let projection = Projection::parse(attributes, excluded, &rt.schema)?;
            match *m {
                Method::GET => match ep.get(&rt, &id, &projection, &pre, &base).await? {
                    Got::Resource(r) => Ok(response::resource(StatusCode::OK, &r.json, r.version.as_deref())),
                    Got::NotModified { version } => {
                        let mut r = Response::new(Body::empty());
                        *r.status_mut() = StatusCode::NOT_MODIFIED;
                        if let Ok(v) = version.parse() {
                            r.headers_mut().insert(header::ETAG, v);
                        }
                        Ok(r)
                    }
                },
                Method::PUT => {
                    let (_, body) = read_body(req, body_limit).await?;
                    let r = ep.replace(&rt, &id, &body, &projection, &pre, &base).await?;
                    Ok(response::resource(StatusCode::OK, &r.json, r.version.as_deref()))
                }
                Method::PATCH => {
                    let (_, body) = read_body(req, body_limit).await?;
                    let asked = (attributes.is_some() || excluded.is_some()).then_some(&projection);
                    match ep.patch(&rt, &id, &body, asked, &pre, &base).await? {
                        Some(r) => Ok(response::resource(StatusCode::OK, &r.json, r.version.as_deref())),
                        None => {
                            let mut r = Response::new(Body::empty());
                            *r.status_mut() = StatusCode::NO_CONTENT;
                            Ok(r)
                        }
                    }
                }
                Method::DELETE => {
                    ep.delete(&rt, &id, &pre, &base).await?;
                    let mut r = Response::new(Body::empty());
                    *r.status_mut() = StatusCode::NO_CONTENT;
                    Ok(r)
                }
                _ => Err(method_not_allowed("GET, PUT, PATCH, DELETE")),
            }
        }
        ((0, _, _), _) => Err(ScimError::not_found(
            "this is a SCIM endpoint; try /ServiceProviderConfig",
        )),
        _ => Err(ScimError::not_found(format!("no SCIM resource at {path}"))),
    }
}

/// RFC 7644 §3.4.3: `POST /.search` at the root searches every resource type. Pages are
/// taken from the concatenation in resource-type order.
async fn search_all(ep: &Endpoint, params: &ListParams, base: &str) -> Result<Json, ScimError> {
    if params.cursor.is_some() {
        return Err(ScimError::bad_request(
            ScimType::InvalidCursor,
            "cursor paging is not available for searches across resource types",
        ));
    }
    let start = params.start_index.unwrap_or(1).max(1) as u64;
    let count = params
        .count
        .map_or(ep.limits.default_count, |c| c.max(0) as u64)
        .min(ep.limits.max_results);
    let mut total = 0u64;
    let mut resources = Vec::new();
    for rt in &ep.types {
        let p = ListParams {
            start_index: Some(1),
            count: Some((start - 1 + count) as i64),
            ..params.clone()
        };
        let page = ep.list(rt, &p, base).await?;
        total += page.get("totalResults").and_then(Json::as_u64).unwrap_or(0);
        if let Some(items) = page.get("Resources").and_then(Json::as_array) {
            resources.extend(items.iter().cloned());
        }
    }
    let page: Vec<Json> = resources
        .into_iter()
        .skip((start - 1) as usize)
        .take(count as usize)
        .collect();
    Ok(serde_json::json!({
        "schemas": [crate::engine::list::LIST_RESPONSE],
        "totalResults": total,
        "itemsPerPage": page.len(),
        "startIndex": start,
        "Resources": page,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segments(path: &str) -> Vec<Cow<'_, str>> {
        path.split('/').filter(|s| !s.is_empty()).map(percent_decode).collect()
    }

    #[test]
    fn segments_collapse_slashes_and_decode_only_when_encoded() {
        let s = segments("//scim/v2//Users/a%20b/");
        assert_eq!(s, ["scim", "v2", "Users", "a b"]);
        assert!(matches!(s[2], Cow::Borrowed(_)));
        assert!(matches!(s[3], Cow::Owned(_)));
        assert_eq!(segments("/x/%FF"), ["x", "\u{FFFD}"]);
    }

    #[test]
    fn base_paths_match_whole_segments_case_insensitively() {
        let s = segments("/SCIM/v2/Users");
        assert_eq!(base_len("/scim/v2", &s), Some(2));
        assert_eq!(base_len("/", &s), Some(0));
        assert_eq!(base_len("/scim/v2/Users/x", &s), None);
        assert_eq!(base_len("/scim/v", &s), None);
        assert_eq!(base_len("/hr", &s), None);
    }

    #[test]
    fn operation_segments_are_case_insensitive() {
        let tag = |s: &str| Tag::of(Some(&Cow::Borrowed(s)));
        assert_eq!(tag("serviceProviderConfig"), Tag::ServiceProviderConfig);
        assert_eq!(tag("RESOURCETYPES"), Tag::ResourceTypes);
        assert_eq!(tag("Schemas"), Tag::Schemas);
        assert_eq!(tag("ME"), Tag::Me);
        assert_eq!(tag("Bulk"), Tag::Bulk);
        assert_eq!(tag(".SEARCH"), Tag::Search);
        assert_eq!(tag("Users"), Tag::Other);
        assert_eq!(tag("search"), Tag::Other);
        assert_eq!(Tag::of(None), Tag::Other);
    }
}
