//! LDAP result codes and client errors → [`ConnectorError`].
//!
//! One match over every result code of RFC 4511 and its extensions (RFC 3909, 4528, 4370,
//! 4533); codes not listed are unknown and reported as `Backend`.

use std::time::Duration;

use ldap3::LdapError;

use crate::connector::ConnectorError;

/// The error class of a non-success result code. `text` is the server's diagnostic
/// message, `matched` the matched DN.
pub fn from_code(rc: u32, text: &str) -> ConnectorError {
    let detail = if text.is_empty() {
        format!("LDAP result code {rc}")
    } else {
        format!("LDAP result code {rc}: {text}")
    };
    let backend = |what: &str| ConnectorError::Backend(format!("{what} ({detail})"));
    match rc {
        // Not errors: a caller that hands them here met them where it did not expect them.
        0 | 5 | 6 | 14 => backend("unexpected non-error result"),
        1 => backend("operationsError"),
        2 => backend("protocolError"),
        3 => backend("the directory's time limit was exceeded; the answer is incomplete"),
        4 => backend("the directory's size limit was exceeded; the answer is incomplete"),
        7 | 8 | 13 | 48 | 49 | 123 => ConnectorError::Forbidden(detail),
        10 => backend("the directory returned a referral, which the gateway does not chase"),
        11 => backend("the directory's administrative limit was exceeded"),
        12 => ConnectorError::Unsupported(format!("the directory does not support a critical control ({detail})")),
        16 | 17 | 21 => ConnectorError::InvalidValue {
            field: attribute_in(text),
            detail,
        },
        18 => ConnectorError::Unsupported(format!("the attribute has no matching rule for this filter ({detail})")),
        19 if is_password_policy(text) => password_policy(text),
        19 if is_uniqueness(text) => ConnectorError::Conflict {
            field: attribute_in(text),
            detail,
        },
        19 => ConnectorError::InvalidValue {
            field: attribute_in(text),
            detail,
        },
        20 => ConnectorError::Conflict {
            field: attribute_in(text),
            detail,
        },
        32 => ConnectorError::NotFound,
        33 | 36 => backend("alias problem"),
        34 => ConnectorError::InvalidValue {
            field: None,
            detail: format!("invalid DN ({detail})"),
        },
        50 => ConnectorError::Forbidden(detail),
        51 => ConnectorError::Busy(detail),
        52 => ConnectorError::Unavailable(detail),
        53 if is_password_policy(text) => password_policy(text),
        53 => ConnectorError::Forbidden(format!(
            "the directory is unwilling to perform the operation ({detail})"
        )),
        54 => backend("loop detected"),
        64 | 65 | 67 | 69 => ConnectorError::InvalidValue {
            field: attribute_in(text),
            detail,
        },
        66 => ConnectorError::InvalidValue {
            field: None,
            detail: format!("the entry has subordinate entries ({detail})"),
        },
        68 => ConnectorError::Conflict { field: None, detail },
        71 => backend("the operation affects multiple directory servers"),
        80 => backend("other"),
        // RFC 3909 cancel, abandon
        88 | 118 | 119 | 120 | 121 => backend("the operation was cancelled"),
        122 => ConnectorError::VersionMismatch,
        // RFC 4533 e-syncRefreshRequired
        4096 => backend("sync refresh required"),
        _ => backend("unknown result code"),
    }
}

/// AD's password policy failures carry `0000052D`; OpenLDAP's ppolicy says "password".
fn is_password_policy(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.contains("0000052d") || lower.contains("password")
}

fn password_policy(text: &str) -> ConnectorError {
    ConnectorError::InvalidValue {
        field: None,
        detail: format!("password does not meet the directory's policy ({text})"),
    }
}

fn is_uniqueness(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.contains("unique") || lower.contains("already exists")
}

/// The attribute a diagnostic message names: OpenLDAP starts with `mail: value #0 invalid
/// per syntax`; AD ends its attribute errors with `Att 90290 (userAccountControl)`.
pub fn attribute_in(text: &str) -> Option<String> {
    let is_attr = |s: &str| {
        let mut chars = s.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ';')
    };
    if let Some(at) = text.find("Att ") {
        let rest = &text[at..];
        if let (Some(open), Some(close)) = (rest.find('('), rest.find(')')) {
            let name = rest[open + 1..close].trim();
            if open < close && is_attr(name) {
                return Some(name.to_owned());
            }
        }
    }
    let (head, _) = text.split_once(':')?;
    let head = head.trim();
    (is_attr(head) && !head.chars().all(|c| c.is_ascii_hexdigit())).then(|| head.to_owned())
}

/// A client-side error: connection problems are `Unavailable`, a result wrapped as an error
/// is mapped by its code.
pub fn from_ldap(error: LdapError, timeout: Duration) -> ConnectorError {
    match error {
        LdapError::LdapResult { result } => from_code(result.rc, &result.text),
        LdapError::Timeout { .. } => ConnectorError::Timeout(timeout),
        LdapError::Io { .. }
        | LdapError::OpSend { .. }
        | LdapError::ResultRecv { .. }
        | LdapError::IdScrubSend { .. }
        | LdapError::MiscSend { .. }
        | LdapError::EndOfStream
        | LdapError::Rustls { .. }
        | LdapError::DNSName { .. } => ConnectorError::Unavailable(error.to_string()),
        LdapError::UrlParsing { .. } | LdapError::UnknownScheme(_) => ConnectorError::InvalidValue {
            field: Some("url".into()),
            detail: error.to_string(),
        },
        other => ConnectorError::Backend(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(e: ConnectorError) -> String {
        format!("{e:?}")
            .split([' ', '(', '{'])
            .next()
            .unwrap_or_default()
            .to_owned()
    }

    #[test]
    fn maps_result_codes() {
        let cases: &[(u32, &str, &str)] = &[
            (68, "Already exists", "Conflict"),
            (19, "some attributes not unique", "Conflict"),
            (19, "non-unique", "Conflict"),
            (
                19,
                "0000052D: Constraint violation - check_password_restrictions",
                "InvalidValue",
            ),
            (19, "maxlength", "InvalidValue"),
            (20, "member: value #0 provided more than once", "Conflict"),
            (32, "", "NotFound"),
            (21, "mail: value #0 invalid per syntax", "InvalidValue"),
            (16, "modify/delete: title: no such attribute", "InvalidValue"),
            (17, "", "InvalidValue"),
            (50, "no write access", "Forbidden"),
            (49, "", "Forbidden"),
            (8, "", "Forbidden"),
            (13, "", "Forbidden"),
            (51, "", "Busy"),
            (52, "", "Unavailable"),
            (
                53,
                "0000052D: SvcErr: DSID-031A12D2, problem 5003 (WILL_NOT_PERFORM)",
                "InvalidValue",
            ),
            (53, "no global superior knowledge", "Forbidden"),
            (3, "", "Backend"),
            (4, "", "Backend"),
            (122, "", "VersionMismatch"),
            (
                65,
                "object class 'groupOfNames' requires attribute 'member'",
                "InvalidValue",
            ),
            (64, "", "InvalidValue"),
            (66, "", "InvalidValue"),
            (80, "", "Backend"),
            (12, "", "Unsupported"),
            (18, "", "Unsupported"),
            (10, "", "Backend"),
            (999, "", "Backend"),
        ];
        for (rc, text, want) in cases {
            assert_eq!(class(from_code(*rc, text)), *want, "rc {rc} {text:?}");
        }
    }

    #[test]
    fn finds_the_attribute_in_diagnostics() {
        let field = |rc, text| match from_code(rc, text) {
            ConnectorError::InvalidValue { field, .. } | ConnectorError::Conflict { field, .. } => field,
            _ => None,
        };
        assert_eq!(field(21, "mail: value #0 invalid per syntax").as_deref(), Some("mail"));
        assert_eq!(
            field(
                21,
                "00000057: LdapErr: DSID-0C090D8A, problem 1001 (NO_ATTRIBUTE_OR_VAL), data 0, Att 90290 (userAccountControl)"
            )
            .as_deref(),
            Some("userAccountControl")
        );
        assert_eq!(field(21, "00000057: LdapErr: DSID-0C090D8A, comment: Error"), None);
        assert_eq!(field(19, "constraint violation"), None);
    }

    #[test]
    fn maps_client_errors() {
        let t = Duration::from_millis(5);
        let io = LdapError::Io {
            source: std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused"),
        };
        assert_eq!(class(from_ldap(io, t)), "Unavailable");
        assert_eq!(class(from_ldap(LdapError::EndOfStream, t)), "Unavailable");
        assert_eq!(class(from_ldap(LdapError::FilterParsing, t)), "Backend");
    }
}
