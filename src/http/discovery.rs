//! `/ServiceProviderConfig`, `/ResourceTypes` and `/Schemas` (RFC 7643 §5–§7, RFC 7644 §4),
//! generated from the mappings.

use serde_json::{Value as Json, json};

use crate::engine::Endpoint;
use crate::engine::list::LIST_RESPONSE;
use crate::scim::ScimError;
use crate::scim::schema::SchemaDef;

/// RFC 7643 §5, with RFC 9865 §3 `pagination`.
pub fn service_provider_config(ep: &Endpoint, base_url: &str, basic_auth: bool) -> Json {
    let caps = ep.types.first().map(|t| ep.connector.capabilities(t.entity).clone());
    let cursor = caps.as_ref().is_some_and(|c| c.cursor_paging);
    let sort = caps.as_ref().is_some_and(|c| c.sort);
    let change_password = ep.types.iter().any(|t| {
        t.attrs
            .iter()
            .any(|m| m.path.urn.is_none() && m.path.attr == "password")
    });
    let mut schemes = vec![json!({
        "type": "oauthbearertoken",
        "name": "OAuth Bearer Token",
        "description": "Authentication with a bearer token (RFC 6750)",
        "specUri": "https://www.rfc-editor.org/rfc/rfc6750",
        "primary": true,
    })];
    if basic_auth {
        schemes.push(json!({
            "type": "httpbasic",
            "name": "HTTP Basic",
            "description": "Authentication with a user name and password (RFC 7617)",
            "specUri": "https://www.rfc-editor.org/rfc/rfc7617",
        }));
    }
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": "https://github.com/scimgate/scimgate",
        "patch": {"supported": true},
        "bulk": {
            "supported": true,
            "maxOperations": ep.limits.bulk_max_operations,
            "maxPayloadSize": ep.limits.bulk_max_payload_bytes,
        },
        "filter": {"supported": true, "maxResults": ep.limits.max_results},
        "changePassword": {"supported": change_password},
        "sort": {"supported": sort},
        "etag": {"supported": true},
        "pagination": {
            "cursor": cursor,
            "index": true,
            "defaultPaginationMethod": "index",
            "defaultPageSize": ep.limits.default_count,
            "maxPageSize": ep.limits.max_results,
        },
        "authenticationSchemes": schemes,
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base_url}/ServiceProviderConfig"),
        },
    })
}

fn resource_type_json(ep: &Endpoint, name: &str, base_url: &str) -> Option<Json> {
    let rt = ep.types.iter().find(|t| t.name.eq_ignore_ascii_case(name))?;
    Some(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": rt.name,
        "name": rt.name,
        "endpoint": rt.endpoint,
        "description": rt.description,
        "schema": rt.schema.core.id,
        "schemaExtensions": rt.schema.extensions.iter().map(|e| json!({"schema": e.id, "required": false})).collect::<Vec<_>>(),
        "meta": {"resourceType": "ResourceType", "location": format!("{base_url}/ResourceTypes/{}", rt.name)},
    }))
}

/// `/ResourceTypes` or `/ResourceTypes/{name}`.
pub fn resource_types(ep: &Endpoint, name: Option<&str>, base_url: &str) -> Result<Json, ScimError> {
    match name {
        Some(n) => {
            resource_type_json(ep, n, base_url).ok_or_else(|| ScimError::not_found(format!("no resource type {n:?}")))
        }
        None => {
            let all: Vec<Json> = ep
                .types
                .iter()
                .filter_map(|t| resource_type_json(ep, &t.name, base_url))
                .collect();
            Ok(list(all))
        }
    }
}

fn schemas_of(ep: &Endpoint) -> Vec<&SchemaDef> {
    let mut out: Vec<&SchemaDef> = Vec::new();
    for t in &ep.types {
        for s in std::iter::once(&t.schema.core).chain(&t.schema.extensions) {
            if !out.iter().any(|o| o.id == s.id) {
                out.push(s);
            }
        }
    }
    out
}

/// `/Schemas` or `/Schemas/{urn}`.
pub fn schemas(ep: &Endpoint, id: Option<&str>, base_url: &str) -> Result<Json, ScimError> {
    let all = schemas_of(ep);
    match id {
        Some(urn) => all
            .iter()
            .find(|s| s.id.eq_ignore_ascii_case(urn))
            .map(|s| s.to_json(base_url))
            .ok_or_else(|| ScimError::not_found(format!("no schema {urn:?}"))),
        None => Ok(list(all.iter().map(|s| s.to_json(base_url)).collect())),
    }
}

fn list(resources: Vec<Json>) -> Json {
    json!({
        "schemas": [LIST_RESPONSE],
        "totalResults": resources.len(),
        "itemsPerPage": resources.len(),
        "startIndex": 1,
        "Resources": resources,
    })
}
