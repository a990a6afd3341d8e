//! SQLite result codes by number and name, and the [`Fault`] of a failed statement.
//!
//! SQLite reports no SQLSTATE. A failure carries its extended result code and its primary
//! code as `errno` (so `errno = 19` matches every constraint failure and `errno = 2067` only
//! UNIQUE), and the constraint its message names as `constraint`.

use super::{Fault, FaultCode, OpKind};

/// Primary result codes, and the extended codes a mapping is likely to name.
pub const RESULT_CODES: &[(i64, &str)] = &[
    (1, "SQLITE_ERROR"),
    (2, "SQLITE_INTERNAL"),
    (3, "SQLITE_PERM"),
    (4, "SQLITE_ABORT"),
    (5, "SQLITE_BUSY"),
    (6, "SQLITE_LOCKED"),
    (7, "SQLITE_NOMEM"),
    (8, "SQLITE_READONLY"),
    (9, "SQLITE_INTERRUPT"),
    (10, "SQLITE_IOERR"),
    (11, "SQLITE_CORRUPT"),
    (12, "SQLITE_NOTFOUND"),
    (13, "SQLITE_FULL"),
    (14, "SQLITE_CANTOPEN"),
    (15, "SQLITE_PROTOCOL"),
    (16, "SQLITE_EMPTY"),
    (17, "SQLITE_SCHEMA"),
    (18, "SQLITE_TOOBIG"),
    (19, "SQLITE_CONSTRAINT"),
    (20, "SQLITE_MISMATCH"),
    (21, "SQLITE_MISUSE"),
    (22, "SQLITE_NOLFS"),
    (23, "SQLITE_AUTH"),
    (24, "SQLITE_FORMAT"),
    (25, "SQLITE_RANGE"),
    (26, "SQLITE_NOTADB"),
    (261, "SQLITE_BUSY_RECOVERY"),
    (262, "SQLITE_LOCKED_SHAREDCACHE"),
    (275, "SQLITE_CONSTRAINT_CHECK"),
    (517, "SQLITE_BUSY_SNAPSHOT"),
    (531, "SQLITE_CONSTRAINT_COMMITHOOK"),
    (773, "SQLITE_BUSY_TIMEOUT"),
    (787, "SQLITE_CONSTRAINT_FOREIGNKEY"),
    (1043, "SQLITE_CONSTRAINT_FUNCTION"),
    (1299, "SQLITE_CONSTRAINT_NOTNULL"),
    (1555, "SQLITE_CONSTRAINT_PRIMARYKEY"),
    (1811, "SQLITE_CONSTRAINT_TRIGGER"),
    (2067, "SQLITE_CONSTRAINT_UNIQUE"),
    (2323, "SQLITE_CONSTRAINT_VTAB"),
    (2579, "SQLITE_CONSTRAINT_ROWID"),
    (2835, "SQLITE_CONSTRAINT_PINNED"),
    (3091, "SQLITE_CONSTRAINT_DATATYPE"),
];

pub fn name_of(code: i64) -> Option<&'static str> {
    RESULT_CODES.iter().find(|(c, _)| *c == code).map(|(_, n)| *n)
}

/// Whether `name` is a SQLite result code name this table knows (case-insensitive).
pub fn is_known_name(name: &str) -> bool {
    RESULT_CODES.iter().any(|(_, n)| n.eq_ignore_ascii_case(name))
}

/// The constraint a SQLite message names: `CHECK constraint failed: age_positive` gives
/// `age_positive` (the expression when the CHECK is unnamed), `UNIQUE constraint failed:
/// users.login` gives `users.login`, `... failed: index 'users_lower_login'` the index.
pub fn constraint_in(message: &str) -> Option<String> {
    let (_, target) = message.split_once("constraint failed: ")?;
    let target = target.trim();
    let target = target
        .strip_prefix("index '")
        .and_then(|t| t.strip_suffix('\''))
        .unwrap_or(target);
    (!target.is_empty()).then(|| target.to_owned())
}

/// A failed statement: its extended and primary result codes and the constraint named.
pub fn fault(op: OpKind, code: i64, message: &str) -> Fault {
    let mut codes = vec![FaultCode::Errno {
        code,
        name: name_of(code),
    }];
    let primary = code & 0xff;
    if primary != code {
        codes.push(FaultCode::Errno {
            code: primary,
            name: name_of(primary),
        });
    }
    codes.extend(constraint_in(message).map(FaultCode::Constraint));
    Fault {
        op,
        codes,
        message: message.to_owned(),
    }
}
