//! The one map from connector errors to SCIM errors. No wildcard arm: a new connector error
//! forces a decision here.

use crate::connector::ConnectorError;
use crate::scim::{ScimError, ScimType};

impl From<ConnectorError> for ScimError {
    fn from(e: ConnectorError) -> Self {
        let cause = e.to_string();
        match e {
            ConnectorError::Unavailable(_) => {
                ScimError::unavailable("the backend is unavailable; try again later").with_cause(cause)
            }
            ConnectorError::Timeout(_) => {
                ScimError::unavailable("the backend did not answer in time; try again later").with_cause(cause)
            }
            ConnectorError::Busy(_) => ScimError::new(429, None, "the backend is busy; try again later")
                .with_retry_after(2)
                .with_cause(cause),
            ConnectorError::Conflict { field, .. } => ScimError::uniqueness(match field {
                Some(f) => format!("a resource with the same value of {f} already exists"),
                None => "a resource with the same unique value already exists".into(),
            })
            .with_cause(cause),
            ConnectorError::NotFound => ScimError::not_found("resource not found"),
            ConnectorError::VersionMismatch => {
                ScimError::precondition_failed("the resource has changed since the given version (If-Match)")
            }
            ConnectorError::InvalidValue { field, .. } => ScimError::invalid_value(match field {
                Some(f) => format!("the backend rejected the value of {f}"),
                None => "the backend rejected a value (a constraint or type check failed)".into(),
            })
            .with_cause(cause),
            ConnectorError::DanglingReference(_) => {
                ScimError::invalid_value("a referenced resource (a member or a manager) does not exist")
                    .with_cause(cause)
            }
            ConnectorError::Forbidden(_) => ScimError::new(
                403,
                None,
                "the backend does not allow this operation for the gateway's account",
            )
            .with_cause(cause),
            ConnectorError::Unsupported(_) => {
                ScimError::new(501, None, "this operation is not supported by the backend").with_cause(cause)
            }
            ConnectorError::Backend(_) => ScimError::internal(cause),
            ConnectorError::Mapped { status, scim_type, .. } => by_rule(status, scim_type.as_deref(), cause),
        }
    }
}

/// The response a mapping's `[[errors]]` rule chose. The detail is generic for every status,
/// as for the default mapping: the backend's text goes to the log with the request id.
fn by_rule(status: u16, scim_type: Option<&str>, cause: String) -> ScimError {
    let scim_type = scim_type.and_then(ScimType::parse);
    match status {
        500 => ScimError::internal(cause),
        503 => ScimError::unavailable("the backend is unavailable; try again later").with_cause(cause),
        429 => ScimError::new(429, None, "the backend is busy; try again later")
            .with_retry_after(2)
            .with_cause(cause),
        status if status >= 500 => {
            ScimError::new(status, None, "the backend could not perform the operation").with_cause(cause)
        }
        400 => ScimError::new(400, scim_type, "the backend rejected the request").with_cause(cause),
        403 => ScimError::new(
            403,
            scim_type,
            "the backend does not allow this operation for the gateway's account",
        )
        .with_cause(cause),
        404 => ScimError::new(404, scim_type, "resource not found").with_cause(cause),
        409 => {
            ScimError::new(409, scim_type, "the request conflicts with the backend's current state").with_cause(cause)
        }
        412 => ScimError::new(412, scim_type, "the resource has changed since the given version").with_cause(cause),
        status => ScimError::new(status, scim_type, "the backend refused the operation").with_cause(cause),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapped(status: u16, scim_type: Option<&str>) -> ScimError {
        ConnectorError::Mapped {
            status,
            scim_type: scim_type.map(str::to_owned),
            detail: "CHECK constraint failed: secret_column_name [rule m.toml:3]".into(),
        }
        .into()
    }

    #[test]
    fn a_rule_chooses_status_and_scim_type_and_the_backend_text_stays_in_the_log() {
        let e = mapped(409, Some("mutability"));
        assert_eq!((e.status, e.scim_type), (409, Some(ScimType::Mutability)));
        let e = mapped(400, Some("invalidValue"));
        assert_eq!((e.status, e.scim_type), (400, Some(ScimType::InvalidValue)));
        assert!(!e.detail.contains("secret_column_name"), "{}", e.detail);
        assert!(e.cause.as_deref().is_some_and(|c| c.contains("secret_column_name")));
        for status in [500, 501, 503] {
            let e = mapped(status, None);
            assert_eq!(e.status, status);
            assert!(!e.detail.contains("secret"), "{}", e.detail);
        }
        assert_eq!(mapped(503, None).retry_after, Some(5));
        assert_eq!(mapped(429, None).retry_after, Some(2));
        assert_eq!(mapped(404, None).status, 404);
    }
}
