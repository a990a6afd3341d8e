//! LDAP result codes by number and name (RFC 4511 §4.1.9, RFC 3909, RFC 4370, RFC 4528,
//! RFC 4533), and the [`Fault`] of a failed directory operation.

use super::{Fault, FaultCode, OpKind};

/// Every result code a directory sends, with the name RFC 4511 gives it.
pub const RESULT_CODES: &[(u32, &str)] = &[
    (0, "success"),
    (1, "operationsError"),
    (2, "protocolError"),
    (3, "timeLimitExceeded"),
    (4, "sizeLimitExceeded"),
    (5, "compareFalse"),
    (6, "compareTrue"),
    (7, "authMethodNotSupported"),
    (8, "strongerAuthRequired"),
    (10, "referral"),
    (11, "adminLimitExceeded"),
    (12, "unavailableCriticalExtension"),
    (13, "confidentialityRequired"),
    (14, "saslBindInProgress"),
    (16, "noSuchAttribute"),
    (17, "undefinedAttributeType"),
    (18, "inappropriateMatching"),
    (19, "constraintViolation"),
    (20, "attributeOrValueExists"),
    (21, "invalidAttributeSyntax"),
    (32, "noSuchObject"),
    (33, "aliasProblem"),
    (34, "invalidDNSyntax"),
    (36, "aliasDereferencingProblem"),
    (48, "inappropriateAuthentication"),
    (49, "invalidCredentials"),
    (50, "insufficientAccessRights"),
    (51, "busy"),
    (52, "unavailable"),
    (53, "unwillingToPerform"),
    (54, "loopDetect"),
    (64, "namingViolation"),
    (65, "objectClassViolation"),
    (66, "notAllowedOnNonLeaf"),
    (67, "notAllowedOnRDN"),
    (68, "entryAlreadyExists"),
    (69, "objectClassModsProhibited"),
    (71, "affectsMultipleDSAs"),
    (80, "other"),
    (118, "canceled"),
    (119, "noSuchOperation"),
    (120, "tooLate"),
    (121, "cannotCancel"),
    (122, "assertionFailed"),
    (123, "authorizationDenied"),
    (4096, "e-syncRefreshRequired"),
];

pub fn name_of(code: u32) -> Option<&'static str> {
    RESULT_CODES.iter().find(|(c, _)| *c == code).map(|(_, n)| *n)
}

/// The code of a result name, case-insensitively (`entryalreadyexists` = 68).
pub fn code_named(name: &str) -> Option<u32> {
    RESULT_CODES
        .iter()
        .find(|(_, n)| n.eq_ignore_ascii_case(name))
        .map(|(c, _)| *c)
}

/// Codes that report success or a comparison, never a failure a rule could see.
pub fn is_failure(code: u32) -> bool {
    !matches!(code, 0 | 5 | 6 | 14)
}

/// A failed directory operation: its result code (number and name) and diagnostic text.
pub fn fault(op: OpKind, rc: u32, text: &str) -> Fault {
    Fault {
        op,
        codes: vec![FaultCode::Ldap {
            code: rc,
            name: name_of(rc),
        }],
        message: text.to_owned(),
    }
}
