//! The mapping's error rules applied to failed statements.
//!
//! Each statement runs with a [`Role`]: the entity's rules and what the statement does for
//! the operation (the main row's UPDATE is `update`, a join-table insert `add_member`, ...).
//! `ok` skips the failed statement and the transaction goes on; `retry` abandons the
//! transaction (dropping it rolls it back) and the connector runs the whole operation again
//! ([`faults::retrying`]); a status answers at once.

use crate::connector::faults::{self, ErrorRules, Failure, OpKind, Verdict};

use super::map_sqlx;

/// For statements that no mapping rule covers: the health check.
pub static NO_RULES: ErrorRules = ErrorRules(Vec::new());

/// The rules a statement's failure is judged by, and the statement's part in the operation.
#[derive(Clone, Copy)]
pub struct Role<'a> {
    pub rules: &'a ErrorRules,
    pub op: OpKind,
}

impl<'a> Role<'a> {
    pub fn new(rules: &'a ErrorRules, op: OpKind) -> Self {
        Role { rules, op }
    }

    /// What the rules make of a failed statement. Only the database's own errors are theirs
    /// to judge: pool and I/O failures keep their mapping.
    pub fn verdict(&self, error: &sqlx::Error) -> Verdict {
        match error {
            sqlx::Error::Database(db) if !self.rules.is_empty() => {
                let code: i64 = db.code().and_then(|c| c.parse().ok()).unwrap_or(0);
                self.rules.verdict(&faults::sqlite::fault(self.op, code, db.message()))
            }
            _ => Verdict::Default,
        }
    }

    /// The failure of a statement whose failure cannot count as done (a read, a BEGIN).
    pub fn failure(&self, error: sqlx::Error) -> Failure {
        Self::settle(self.verdict(&error), error)
    }

    /// The failure a verdict other than `Ok` makes of `error`.
    pub fn settle(verdict: Verdict, error: sqlx::Error) -> Failure {
        match verdict {
            Verdict::Default | Verdict::Ok => Failure::Error(map_sqlx(error)),
            Verdict::Retry(detail) => Failure::Retry(detail),
            Verdict::Respond(e) => Failure::Error(e),
        }
    }
}
