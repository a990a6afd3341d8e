//! The one map from connector errors to SCIM errors. No wildcard arm: a new connector error
//! forces a decision here.

use crate::connector::ConnectorError;
use crate::scim::ScimError;

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
        }
    }
}
