//! List and search (RFC 7644 §3.4.2, §3.4.3) with index and cursor paging (RFC 9865).

use serde_json::{Value as Json, json};

use super::{Endpoint, Resource};
use crate::connector::{Filter, PageRequest, Query};
use crate::mapping::ResourceType;
use crate::mapping::filter::{sort_key, translate};
use crate::scim::filter::{AttrPath, matches, parse_filter, validate};
use crate::scim::projection::Projection;
use crate::scim::{ScimError, ScimType};

pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// The query parameters (or `/.search` body) of a list request.
#[derive(Debug, Clone, Default)]
pub struct ListParams {
    pub filter: Option<String>,
    pub sort_by: Option<String>,
    pub sort_order: Option<String>,
    pub start_index: Option<i64>,
    pub count: Option<i64>,
    /// RFC 9865: `Some("")` asks for the first page with cursor paging.
    pub cursor: Option<String>,
    pub attributes: Option<String>,
    pub excluded_attributes: Option<String>,
}

impl Endpoint {
    /// GET /{type} and POST /{type}/.search
    pub async fn list(&self, rt: &ResourceType, params: &ListParams, base_url: &str) -> Result<Json, ScimError> {
        let projection = Projection::parse(
            params.attributes.as_deref(),
            params.excluded_attributes.as_deref(),
            &rt.schema,
        )?;
        let scim_filter = match params.filter.as_deref().map(str::trim).filter(|f| !f.is_empty()) {
            Some(text) => {
                let f = parse_filter(text, &self.limits.filter)?;
                validate(&f, &rt.schema)?;
                Some(f)
            }
            None => None,
        };
        let translated = match &scim_filter {
            Some(f) => translate(f, rt)?,
            None => crate::mapping::filter::Translated {
                filter: Filter::True,
                exact: true,
            },
        };
        let descending = match params.sort_order.as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("ascending") => false,
            Some("descending") => true,
            Some(other) => {
                return Err(ScimError::invalid_value(format!(
                    "sortOrder {other:?} is neither \"ascending\" nor \"descending\""
                )));
            }
        };
        let sort_path = match &params.sort_by {
            Some(s) if !s.trim().is_empty() => {
                Some(AttrPath::parse(s.trim()).map_err(|e| ScimError::invalid_value(e.detail))?)
            }
            _ => None,
        };
        // A backend without sorting gets no sort key; the sort then happens in memory
        // within `scan_limit`, or the request is refused.
        let can_sort = self.connector.capabilities(rt.entity).sort;
        if let Some(p) = &sort_path {
            let urn = p.urn.as_deref().filter(|u| !u.eq_ignore_ascii_case(&rt.schema.core.id));
            let known = rt.schema.resolve(urn, &p.attr, p.sub.as_deref()).is_some()
                || (urn.is_none() && ["id", "meta", "externalid"].contains(&p.attr.to_ascii_lowercase().as_str()));
            if !known {
                return Err(ScimError::invalid_value(format!(
                    "sortBy {p} names no attribute of {}",
                    rt.name
                )));
            }
        }
        let sort = sort_path
            .as_ref()
            .and_then(|p| sort_key(p, descending, rt))
            .filter(|_| can_sort);
        let sort_in_memory = sort_path.is_some() && sort.is_none();

        // RFC 7644 §3.4.2.4: startIndex < 1 is 1; a negative count is 0.
        let start_index = params.start_index.unwrap_or(1).max(1) as u64;
        let count = params
            .count
            .map_or(self.limits.default_count, |c| c.max(0) as u64)
            .min(self.limits.max_results);
        let read = self.read_set(rt, &projection).into_owned();
        let refs = self.refs(base_url);

        let unsupported = self.connector.unsupported(rt.entity, &translated.filter);
        if !translated.exact || sort_in_memory || !unsupported.is_empty() {
            if let Some(u) = unsupported.first()
                && rt.scan_limit.is_none()
            {
                return Err(ScimError::invalid_filter(format!(
                    "the backend cannot filter on {} ({})",
                    u.field, u.reason
                )));
            }
            return self
                .list_in_memory(
                    rt,
                    params,
                    scim_filter.as_ref(),
                    &translated.filter,
                    sort_path.as_ref(),
                    descending,
                    start_index,
                    count,
                    &projection,
                    base_url,
                )
                .await;
        }

        let page = match &params.cursor {
            Some(c) => PageRequest::Cursor {
                cursor: Some(c.clone()).filter(|c| !c.is_empty()),
                count,
            },
            None => PageRequest::Offset {
                offset: start_index - 1,
                count,
            },
        };
        let query = Query {
            filter: translated.filter,
            sort,
            page,
            read,
            want_total: true,
        };
        let result = self.connector.search(rt.entity, &query).await.map_err(|e| match e {
            crate::connector::ConnectorError::InvalidValue { field: None, detail } if detail.contains("cursor") => {
                ScimError::bad_request(ScimType::InvalidCursor, "the cursor is not valid")
            }
            other => other.into(),
        })?;
        let resources: Vec<Json> = result
            .records
            .iter()
            .map(|r| self.render(r, rt, &refs, Some(&projection)).json)
            .collect();
        Ok(list_response(
            resources,
            result.total,
            params.cursor.is_none().then_some(start_index),
            result.next_cursor,
        ))
    }

    /// Filter and sort terms the backend cannot do, evaluated on at most `scan_limit`
    /// candidates that the pushed-down superset selects.
    #[allow(clippy::too_many_arguments)]
    async fn list_in_memory(
        &self,
        rt: &ResourceType,
        params: &ListParams,
        scim_filter: Option<&crate::scim::filter::Filter>,
        superset: &Filter,
        sort_path: Option<&AttrPath>,
        descending: bool,
        start_index: u64,
        count: u64,
        projection: &Projection,
        base_url: &str,
    ) -> Result<Json, ScimError> {
        let Some(limit) = rt.scan_limit else {
            let what = sort_path
                .map(|p| format!("sortBy {p}"))
                .unwrap_or_else(|| "this filter".into());
            return Err(ScimError::invalid_value(format!(
                "{what} cannot be evaluated by the backend; set scan_limit on [{}] to allow in-memory evaluation",
                rt.name
            )));
        };
        if params.cursor.is_some() {
            return Err(ScimError::bad_request(
                ScimType::InvalidCursor,
                "cursor paging is not available for filters or sorts evaluated in memory; use startIndex",
            ));
        }
        let refs = self.refs(base_url);
        let query = Query {
            filter: superset.clone(),
            sort: None,
            page: PageRequest::Offset {
                offset: 0,
                count: limit as u64 + 1,
            },
            read: self.read_all(rt),
            want_total: false,
        };
        let candidates = self.connector.search(rt.entity, &query).await?;
        if candidates.records.len() > limit {
            return Err(ScimError::too_many(format!(
                "the filter selects more than {limit} candidates for in-memory evaluation; narrow it"
            )));
        }
        let types = &rt.schema;
        let mut matched: Vec<Resource> = candidates
            .records
            .iter()
            .map(|r| self.render(r, rt, &refs, None))
            .filter(|r| scim_filter.is_none_or(|f| matches(f, &r.json, types)))
            .collect();
        if let Some(path) = sort_path {
            matched.sort_by_cached_key(|r| sort_value(&r.json, path));
            if descending {
                matched.reverse();
            }
        }
        let total = matched.len() as u64;
        let resources: Vec<Json> = matched
            .into_iter()
            .skip((start_index - 1) as usize)
            .take(count as usize)
            .map(|mut r| {
                projection.apply(&mut r.json, &rt.schema);
                r.json
            })
            .collect();
        Ok(list_response(resources, Some(total), Some(start_index), None))
    }
}

/// RFC 7644 §3.4.2.3: multi-valued attributes sort by their primary (else first) value;
/// missing values sort last in ascending order.
fn sort_value(resource: &Json, path: &AttrPath) -> (bool, String) {
    let container = match &path.urn {
        Some(u) => resource.get(u),
        None => Some(resource),
    };
    let attr = container.and_then(|c| c.as_object()).and_then(|o| {
        o.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&path.attr))
            .map(|(_, v)| v)
    });
    let pick = |v: &Json| -> Option<String> {
        let v = match v {
            Json::Array(a) => a
                .iter()
                .find(|e| e.get("primary") == Some(&Json::Bool(true)))
                .or(a.first())?,
            other => other,
        };
        let v = match (&path.sub, v) {
            (Some(s), Json::Object(o)) => o.iter().find(|(k, _)| k.eq_ignore_ascii_case(s)).map(|(_, v)| v)?,
            (None, Json::Object(o)) => o.get("value")?,
            (_, other) => other,
        };
        Some(match v {
            Json::String(s) => s.to_lowercase(),
            other => other.to_string(),
        })
    };
    match attr.and_then(pick) {
        Some(s) => (false, s),
        None => (true, String::new()),
    }
}

fn list_response(
    resources: Vec<Json>,
    total: Option<u64>,
    start_index: Option<u64>,
    next_cursor: Option<String>,
) -> Json {
    let mut out = json!({
        "schemas": [LIST_RESPONSE],
        "totalResults": total.unwrap_or(resources.len() as u64),
        "itemsPerPage": resources.len(),
    });
    if let Some(s) = start_index {
        out["startIndex"] = json!(s);
    }
    if let Some(c) = next_cursor {
        out["nextCursor"] = json!(c);
    }
    out["Resources"] = Json::Array(resources);
    out
}
