//! `/Bulk` (RFC 7644 §3.7): operations in order, `bulkId` references, `failOnErrors`.

use std::collections::BTreeMap;

use serde_json::{Value as Json, json};

use super::{Endpoint, Preconditions};
use crate::scim::ScimError;
use crate::scim::projection::Projection;
use crate::scim::resource::get_ci;

pub const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
pub const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";

impl Endpoint {
    /// Runs a bulk request. The body size was checked by the HTTP layer.
    pub async fn bulk(&self, body: &Json, base_url: &str) -> Result<Json, ScimError> {
        let obj = body
            .as_object()
            .ok_or_else(|| ScimError::invalid_syntax("a BulkRequest must be a JSON object"))?;
        if let Some(schemas) = get_ci(obj, "schemas")
            && !schemas.as_array().is_some_and(|a| {
                a.iter()
                    .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(BULK_REQUEST)))
            })
        {
            return Err(ScimError::invalid_syntax(format!(
                "schemas must contain {BULK_REQUEST}"
            )));
        }
        let ops = get_ci(obj, "Operations")
            .and_then(Json::as_array)
            .ok_or_else(|| ScimError::invalid_syntax("Operations must be an array"))?;
        if ops.len() > self.limits.bulk_max_operations {
            return Err(ScimError::new(
                413,
                None,
                format!(
                    "the request has {} operations; maxOperations is {}",
                    ops.len(),
                    self.limits.bulk_max_operations
                ),
            ));
        }
        let fail_on_errors = match get_ci(obj, "failOnErrors") {
            None | Some(Json::Null) => None,
            Some(v) => Some(
                v.as_u64()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| ScimError::invalid_value("failOnErrors must be a positive integer"))?,
            ),
        };
        let mut ids: BTreeMap<String, String> = BTreeMap::new();
        let mut results = Vec::new();
        let mut errors = 0u64;
        for op in ops {
            let result = self.bulk_operation(op, &mut ids, base_url).await;
            if result
                .get("status")
                .and_then(Json::as_str)
                .is_some_and(|s| !s.starts_with('2'))
            {
                errors += 1;
            }
            results.push(result);
            if fail_on_errors.is_some_and(|limit| errors >= limit) {
                break;
            }
        }
        Ok(json!({"schemas": [BULK_RESPONSE], "Operations": results}))
    }

    async fn bulk_operation(&self, op: &Json, ids: &mut BTreeMap<String, String>, base_url: &str) -> Json {
        let Some(obj) = op.as_object() else {
            return error_result(
                None,
                None,
                &ScimError::invalid_syntax("each operation must be an object"),
            );
        };
        let method = get_ci(obj, "method")
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_ascii_uppercase();
        let bulk_id = get_ci(obj, "bulkId").and_then(Json::as_str).map(str::to_owned);
        let result = self
            .run_bulk_operation(obj, &method, bulk_id.as_deref(), ids, base_url)
            .await;
        match result {
            Ok((status, location, version)) => {
                let mut out = json!({"method": method, "status": status.to_string()});
                if let Some(b) = &bulk_id {
                    out["bulkId"] = json!(b);
                }
                if let Some(l) = location {
                    out["location"] = json!(l);
                }
                if let Some(v) = version {
                    out["version"] = json!(v);
                }
                out
            }
            Err(e) => {
                if e.status >= 500 {
                    tracing::error!(cause = e.cause.as_deref().unwrap_or(""), "bulk operation failed");
                }
                error_result(Some(&method), bulk_id.as_deref(), &e)
            }
        }
    }

    async fn run_bulk_operation(
        &self,
        obj: &serde_json::Map<String, Json>,
        method: &str,
        bulk_id: Option<&str>,
        ids: &mut BTreeMap<String, String>,
        base_url: &str,
    ) -> Result<(u16, Option<String>, Option<String>), ScimError> {
        let path = get_ci(obj, "path")
            .and_then(Json::as_str)
            .ok_or_else(|| ScimError::invalid_syntax("operation has no path"))?;
        let path = resolve_bulk_ids(&Json::String(path.to_owned()), ids)?;
        let path = path.as_str().unwrap_or_default();
        let mut segments = path.trim_matches('/').splitn(2, '/');
        let type_segment = segments.next().unwrap_or_default();
        let id = segments.next();
        let rt = self
            .resource_type(type_segment)
            .ok_or_else(|| ScimError::invalid_path(format!("{path:?} names no resource type")))?
            .clone();
        let data = get_ci(obj, "data").map(|d| resolve_bulk_ids(d, ids)).transpose()?;
        let pre = Preconditions {
            if_match: get_ci(obj, "version").and_then(Json::as_str).map(str::to_owned),
            if_none_match: None,
        };
        let projection = Projection::default();
        let need_data = || {
            data.as_ref()
                .ok_or_else(|| ScimError::invalid_syntax("operation has no data"))
        };
        let need_id = || {
            id.ok_or_else(|| ScimError::invalid_path(format!("{method} needs a path with an id, e.g. /Users/2819c223")))
        };
        match method {
            "POST" => {
                let bulk_id = bulk_id.ok_or_else(|| ScimError::invalid_syntax("POST operations need a bulkId"))?;
                let created = self.create(&rt, need_data()?, &projection, base_url).await?;
                let new_id = created
                    .json
                    .get("id")
                    .and_then(Json::as_str)
                    .unwrap_or_default()
                    .to_owned();
                ids.insert(bulk_id.to_owned(), new_id);
                Ok((201, location(&created.json), created.version))
            }
            "PUT" => {
                let r = self
                    .replace(&rt, need_id()?, need_data()?, &projection, &pre, base_url)
                    .await?;
                Ok((200, location(&r.json), r.version))
            }
            "PATCH" => {
                let r = self.patch(&rt, need_id()?, need_data()?, None, &pre, base_url).await?;
                let loc = format!("{}{}/{}", base_url.trim_end_matches('/'), rt.endpoint, need_id()?);
                Ok((
                    if r.is_some() { 200 } else { 204 },
                    Some(loc),
                    r.and_then(|r| r.version),
                ))
            }
            "DELETE" => {
                self.delete(&rt, need_id()?, &pre, base_url).await?;
                Ok((204, None, None))
            }
            other => Err(ScimError::invalid_syntax(format!(
                "method {other:?} is not one of POST, PUT, PATCH, DELETE"
            ))),
        }
    }
}

fn location(resource: &Json) -> Option<String> {
    resource
        .pointer("/meta/location")
        .and_then(Json::as_str)
        .map(str::to_owned)
}

fn error_result(method: Option<&str>, bulk_id: Option<&str>, e: &ScimError) -> Json {
    let mut response = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": e.status.to_string(),
        "detail": e.detail,
    });
    if let Some(t) = e.scim_type {
        response["scimType"] = json!(t.as_str());
    }
    let mut out = json!({"status": e.status.to_string(), "response": response});
    if let Some(m) = method {
        out["method"] = json!(m);
    }
    if let Some(b) = bulk_id {
        out["bulkId"] = json!(b);
    }
    out
}

/// Replaces `bulkId:<id>` strings with the ids created earlier in the request.
fn resolve_bulk_ids(v: &Json, ids: &BTreeMap<String, String>) -> Result<Json, ScimError> {
    Ok(match v {
        Json::String(s) => match s.find("bulkId:") {
            Some(pos) => {
                let reference = &s[pos + "bulkId:".len()..];
                let key = reference.split('/').next().unwrap_or(reference);
                let id = ids.get(key).ok_or_else(|| {
                    ScimError::new(
                        409,
                        None,
                        format!("bulkId {key:?} does not refer to a resource created earlier in this request"),
                    )
                })?;
                Json::String(format!("{}{}{}", &s[..pos], id, &reference[key.len()..]))
            }
            None => v.clone(),
        },
        Json::Array(a) => Json::Array(a.iter().map(|x| resolve_bulk_ids(x, ids)).collect::<Result<_, _>>()?),
        Json::Object(o) => Json::Object(
            o.iter()
                .map(|(k, x)| Ok((k.clone(), resolve_bulk_ids(x, ids)?)))
                .collect::<Result<_, ScimError>>()?,
        ),
        other => other.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_ids_resolve_in_nested_values() {
        let ids = BTreeMap::from([("qwerty".to_owned(), "123".to_owned())]);
        let v = json!({"members": [{"type": "User", "value": "bulkId:qwerty"}]});
        assert_eq!(
            resolve_bulk_ids(&v, &ids).unwrap(),
            json!({"members": [{"type": "User", "value": "123"}]})
        );
        assert_eq!(
            resolve_bulk_ids(&json!("/Users/bulkId:qwerty"), &ids).unwrap(),
            json!("/Users/123")
        );
        assert_eq!(resolve_bulk_ids(&json!("bulkId:nope"), &ids).unwrap_err().status, 409);
    }
}
