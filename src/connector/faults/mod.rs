//! Mapping-level error rules (`[[errors]]`, `[[X.errors]]`), in backend-neutral terms.
//!
//! A connector that meets a failed backend operation describes it as a [`Fault`]: the role
//! of the operation ([`OpKind`]), the codes the backend gave ([`FaultCode`]) and its
//! diagnostic text. The entity's [`ErrorRules`] (compiled from the mapping into
//! [`EntitySpec::errors`](super::EntitySpec)) are asked first; only when no rule matches
//! does the connector apply its own default mapping. The per-kind vocabularies (LDAP result
//! code names, SQLite result codes) live in [`ldap`] and [`sqlite`], without any dependency
//! on the backends' libraries, so that `scimgate check` validates rules in any build.

pub mod ldap;
pub mod sqlite;

use std::fmt;
use std::future::Future;
use std::time::Duration;

use super::ConnectorError;

/// The role of a backend operation, as a rule's `op` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpKind {
    Create,
    Get,
    Search,
    Update,
    Delete,
    AddMember,
    RemoveMember,
}

impl OpKind {
    pub const ALL: [OpKind; 7] = [
        OpKind::Create,
        OpKind::Get,
        OpKind::Search,
        OpKind::Update,
        OpKind::Delete,
        OpKind::AddMember,
        OpKind::RemoveMember,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OpKind::Create => "create",
            OpKind::Get => "get",
            OpKind::Search => "search",
            OpKind::Update => "update",
            OpKind::Delete => "delete",
            OpKind::AddMember => "add_member",
            OpKind::RemoveMember => "remove_member",
        }
    }

    pub fn parse(name: &str) -> Option<OpKind> {
        OpKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// Whether a failure of this operation can stand for its success (`as = "ok"`): only a
    /// write whose effect may already be in place. A create or a read that failed has
    /// nothing to return.
    pub fn may_count_as_done(self) -> bool {
        matches!(
            self,
            OpKind::Update | OpKind::Delete | OpKind::AddMember | OpKind::RemoveMember
        )
    }
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The keys of a rule's `match` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchKey {
    Ldap,
    SqlState,
    Errno,
    Constraint,
    Status,
    Code,
    Fault,
    Message,
}

impl MatchKey {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchKey::Ldap => "ldap",
            MatchKey::SqlState => "sqlstate",
            MatchKey::Errno => "errno",
            MatchKey::Constraint => "constraint",
            MatchKey::Status => "status",
            MatchKey::Code => "code",
            MatchKey::Fault => "fault",
            MatchKey::Message => "message",
        }
    }

    /// The connector kinds whose failures can carry this key. `sqlstate` belongs to the SQL
    /// kind as a whole: SQLite reports none, PostgreSQL, MySQL and SQL Server do, and one
    /// mapping file may serve several dialects.
    pub fn kinds(self) -> &'static [&'static str] {
        match self {
            MatchKey::Ldap => &["ldap"],
            MatchKey::SqlState | MatchKey::Errno | MatchKey::Constraint => &["sql"],
            MatchKey::Status | MatchKey::Code | MatchKey::Fault => &["http"],
            MatchKey::Message => &["ldap", "sql", "http"],
        }
    }

    /// The keys a connector kind's failures can carry.
    pub fn of_kind(kind: &str) -> Vec<MatchKey> {
        [
            MatchKey::Ldap,
            MatchKey::SqlState,
            MatchKey::Errno,
            MatchKey::Constraint,
            MatchKey::Status,
            MatchKey::Code,
            MatchKey::Fault,
            MatchKey::Message,
        ]
        .into_iter()
        .filter(|k| k.kinds().contains(&kind))
        .collect()
    }
}

/// Whether the connectors of `kind` can repeat a failed `op` without doing it twice. LDAP
/// operations are atomic and SQL operations are transactions, so both can; an HTTP create
/// (a POST) may have taken effect before the failure was reported.
pub fn repeatable(kind: &str, op: Option<OpKind>) -> bool {
    match kind {
        "http" => !matches!(op, None | Some(OpKind::Create)),
        _ => true,
    }
}

/// A code a backend reported with a failure, under the `match` key it answers to.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultCode {
    /// An LDAP result code with its RFC name (`68`, `entryAlreadyExists`).
    Ldap {
        code: u32,
        name: Option<&'static str>,
    },
    SqlState(String),
    /// A vendor's error number with its symbolic name where it has one (SQLite `2067`,
    /// `SQLITE_CONSTRAINT_UNIQUE`).
    Errno {
        code: i64,
        name: Option<&'static str>,
    },
    Constraint(String),
    Status(u16),
    Code(String),
    Fault(String),
}

impl fmt::Display for FaultCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultCode::Ldap { code, name } => write!(f, "ldap {code} {}", name.unwrap_or("?")),
            FaultCode::SqlState(s) => write!(f, "sqlstate {s}"),
            FaultCode::Errno { code, name } => write!(f, "errno {code} {}", name.unwrap_or("?")),
            FaultCode::Constraint(c) => write!(f, "constraint {c}"),
            FaultCode::Status(s) => write!(f, "status {s}"),
            FaultCode::Code(c) => write!(f, "code {c}"),
            FaultCode::Fault(c) => write!(f, "fault {c}"),
        }
    }
}

/// A failed backend operation, described without the backend's library types.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub op: OpKind,
    pub codes: Vec<FaultCode>,
    /// The backend's diagnostic text; what `match.message` is matched against.
    pub message: String,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed (", self.op)?;
        for (i, c) in self.codes.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{c}")?;
        }
        write!(f, "): {}", self.message)
    }
}

/// An `errno` to match: a number, or a symbolic name (case-insensitive).
#[derive(Debug, Clone, PartialEq)]
pub enum Errno {
    Number(i64),
    Name(String),
}

/// A `sqlstate` to match: five characters, or a two-character class (`23` = any integrity
/// constraint violation).
#[derive(Debug, Clone, PartialEq)]
pub struct SqlState(pub String);

/// One condition of a rule's `match`; a rule matches when all of its conditions do.
#[derive(Debug, Clone)]
pub enum Condition {
    Ldap(u32),
    SqlState(SqlState),
    Errno(Errno),
    /// Constraint names compare case-insensitively, as SQL identifiers do.
    Constraint(String),
    Status(u16),
    Code(String),
    Fault(String),
    Message(regex_lite::Regex),
}

impl PartialEq for Condition {
    fn eq(&self, other: &Self) -> bool {
        use Condition as C;
        match (self, other) {
            (C::Ldap(a), C::Ldap(b)) => a == b,
            (C::SqlState(a), C::SqlState(b)) => a == b,
            (C::Errno(a), C::Errno(b)) => a == b,
            (C::Constraint(a), C::Constraint(b)) | (C::Code(a), C::Code(b)) | (C::Fault(a), C::Fault(b)) => a == b,
            (C::Status(a), C::Status(b)) => a == b,
            (C::Message(a), C::Message(b)) => a.as_str() == b.as_str(),
            _ => false,
        }
    }
}

impl Condition {
    fn matches(&self, fault: &Fault) -> bool {
        let any = |f: &dyn Fn(&FaultCode) -> bool| fault.codes.iter().any(f);
        match self {
            Condition::Ldap(want) => any(&|c| matches!(c, FaultCode::Ldap { code, .. } if code == want)),
            Condition::SqlState(SqlState(want)) => {
                any(&|c| matches!(c, FaultCode::SqlState(s) if s.len() == 5 && s.starts_with(want.as_str())))
            }
            Condition::Errno(Errno::Number(want)) => {
                any(&|c| matches!(c, FaultCode::Errno { code, .. } if code == want))
            }
            Condition::Errno(Errno::Name(want)) => {
                any(&|c| matches!(c, FaultCode::Errno { name: Some(name), .. } if name.eq_ignore_ascii_case(want)))
            }
            Condition::Constraint(want) => {
                any(&|c| matches!(c, FaultCode::Constraint(name) if name.eq_ignore_ascii_case(want)))
            }
            Condition::Status(want) => any(&|c| matches!(c, FaultCode::Status(s) if s == want)),
            Condition::Code(want) => any(&|c| matches!(c, FaultCode::Code(s) if s == want)),
            Condition::Fault(want) => any(&|c| matches!(c, FaultCode::Fault(s) if s == want)),
            Condition::Message(re) => re.is_match(&fault.message),
        }
    }
}

/// What a matching rule makes of the failure (`as`).
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The operation counts as done.
    Ok,
    /// Repeat the operation after a short wait, a bounded number of times.
    Retry,
    /// Answer with this status and scimType. The scimType is validated against RFC 7644 at
    /// load and carried as its keyword: connectors know nothing of SCIM.
    Respond { status: u16, scim_type: Option<String> },
}

/// One compiled `[[errors]]` rule.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorRule {
    pub conditions: Vec<Condition>,
    /// `None`: every operation.
    pub op: Option<OpKind>,
    pub outcome: Outcome,
    /// `file:line` of the rule, for the logs: an operator must find the rule that decided.
    pub origin: String,
}

impl ErrorRule {
    pub fn matches(&self, fault: &Fault) -> bool {
        self.op.is_none_or(|op| op == fault.op) && self.conditions.iter().all(|c| c.matches(fault))
    }
}

/// An entity's rules, in the order they are tried: its own (`[[X.errors]]`), then the
/// file's (`[[errors]]`). The first match wins.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ErrorRules(pub Vec<ErrorRule>);

/// What a connector does with a failure.
#[derive(Debug)]
pub enum Verdict {
    /// No rule matched: the connector's own mapping applies.
    Default,
    /// The operation counts as done.
    Ok,
    /// Repeat the operation (after [`retry_delay`]); the text describes the failure.
    Retry(String),
    /// Fail with this error ([`ConnectorError::Mapped`]).
    Respond(ConnectorError),
}

impl ErrorRules {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn first_match(&self, fault: &Fault) -> Option<&ErrorRule> {
        self.0.iter().find(|r| r.matches(fault))
    }

    pub fn verdict(&self, fault: &Fault) -> Verdict {
        let Some(rule) = self.first_match(fault) else {
            return Verdict::Default;
        };
        tracing::debug!(
            target: "scimgate::connector::faults",
            rule = %rule.origin,
            op = %fault.op,
            outcome = ?rule.outcome,
            "an error rule decided"
        );
        let described = format!("{fault} [rule {}]", rule.origin);
        match &rule.outcome {
            // A rule that was not meant for this kind of operation (check refuses it) must
            // not turn a failed read or create into a success.
            Outcome::Ok if !fault.op.may_count_as_done() => Verdict::Default,
            Outcome::Ok => Verdict::Ok,
            Outcome::Retry => Verdict::Retry(described),
            Outcome::Respond { status, scim_type } => Verdict::Respond(ConnectorError::Mapped {
                status: *status,
                scim_type: scim_type.clone(),
                detail: described,
            }),
        }
    }
}

/// How many times a rule's `retry` repeats an operation.
pub const RETRIES: u32 = 3;

/// The wait before retry number `done + 1` (50, 100, 200 ms), `None` when the retries are
/// used up. Short on purpose: the whole operation stays within its time limit.
pub fn retry_delay(done: u32) -> Option<Duration> {
    (done < RETRIES).then(|| Duration::from_millis(50 << done))
}

/// The error once the retries are used up: the backend is treated as unavailable (503).
pub fn retries_exhausted(detail: &str) -> ConnectorError {
    ConnectorError::Unavailable(format!("still failing after {RETRIES} retries: {detail}"))
}

/// The error of a connector operation that may be repeated as a whole (a transaction).
#[derive(Debug)]
pub enum Failure {
    Error(ConnectorError),
    /// A rule asked for a retry; the text describes the failure.
    Retry(String),
}

impl From<ConnectorError> for Failure {
    fn from(e: ConnectorError) -> Self {
        Failure::Error(e)
    }
}

/// Runs a whole operation, again after [`retry_delay`] while it fails with
/// [`Failure::Retry`]; gives up with [`retries_exhausted`].
pub async fn retrying<T, F, Fut>(mut run: F) -> Result<T, ConnectorError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    let mut done = 0;
    loop {
        match run().await {
            Ok(v) => return Ok(v),
            Err(Failure::Error(e)) => return Err(e),
            Err(Failure::Retry(detail)) => match retry_delay(done) {
                Some(wait) => {
                    tokio::time::sleep(wait).await;
                    done += 1;
                }
                None => return Err(retries_exhausted(&detail)),
            },
        }
    }
}

#[cfg(test)]
mod tests;
