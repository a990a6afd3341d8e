//! Compiles `[[errors]]` and `[[X.errors]]` into [`ErrorRule`]s, reporting every bad rule
//! at the position of the key that is wrong, with a hint.

use serde_spanned::Spanned;

use super::file::{CodeValue, ErrorRuleFile, MatchFile};
use crate::config::{Diagnostics, SourceFile};
use crate::connector::faults::{self, Condition, Errno, ErrorRule, MatchKey, OpKind, Outcome, SqlState};
use crate::scim::ScimType;

/// The statuses a rule may answer with: those the SCIM layer emits for a backend failure.
pub const STATUSES: [u16; 9] = [400, 403, 404, 409, 412, 429, 500, 501, 503];

/// Where the rules are written and what they apply to.
pub struct RuleSite<'a> {
    pub source: &'a SourceFile,
    /// `errors` for the file's rules, `User.errors` for a resource type's.
    pub key: String,
    /// The connector kind of the endpoint: `ldap`, `sql` or `http`.
    pub kind: &'a str,
    /// Whether the resource type has memberships; `None` for the file's rules, which serve
    /// every type of the file.
    pub has_members: Option<bool>,
}

impl RuleSite<'_> {
    /// Compiles every rule; bad ones are reported to `errors` and left out.
    pub fn compile(&self, rules: &[Spanned<ErrorRuleFile>], errors: &mut Diagnostics) -> Vec<ErrorRule> {
        rules.iter().filter_map(|r| self.rule(r, errors)).collect()
    }

    fn err(&self, errors: &mut Diagnostics, span: std::ops::Range<usize>, sub: &str, message: String, hint: &str) {
        let key = format!("{}.{sub}", self.key);
        errors.push(self.source.error(Some(span), Some(&key), message).with_hint(hint));
    }

    fn rule(&self, rule: &Spanned<ErrorRuleFile>, errors: &mut Diagnostics) -> Option<ErrorRule> {
        let before = errors.0.len();
        let file = rule.get_ref();
        let conditions = self.conditions(&file.match_, errors);
        let op = file.op.as_ref().and_then(|op| self.op(op, errors));
        let outcome = self.outcome(&file.as_, file.op.as_ref(), op, errors);
        if errors.0.len() > before {
            return None;
        }
        let (line, _) = self.source.position(rule.span().start);
        Some(ErrorRule {
            conditions,
            op,
            outcome: outcome?,
            origin: format!("{}:{line}", self.source.path.display()),
        })
    }

    fn conditions(&self, m: &Spanned<MatchFile>, errors: &mut Diagnostics) -> Vec<Condition> {
        let file = m.get_ref();
        let mut out = Vec::new();
        let mut given = 0;
        let mut check_kind = |key: MatchKey, span: std::ops::Range<usize>, errors: &mut Diagnostics| {
            given += 1;
            let fits = key.kinds().contains(&self.kind);
            if !fits {
                let carried: Vec<&str> = MatchKey::of_kind(self.kind).iter().map(|k| k.as_str()).collect();
                self.err(
                    errors,
                    span,
                    &format!("match.{}", key.as_str()),
                    format!(
                        "`{}` cannot occur on a {} connector: its failures carry {}",
                        key.as_str(),
                        self.kind,
                        carried.join(", ")
                    ),
                    example_for(self.kind),
                );
            }
            fits
        };
        if let Some(v) = &file.ldap
            && check_kind(MatchKey::Ldap, v.span(), errors)
        {
            out.extend(self.ldap_code(v, errors).map(Condition::Ldap));
        }
        if let Some(v) = &file.sqlstate
            && check_kind(MatchKey::SqlState, v.span(), errors)
        {
            out.extend(self.sqlstate(v, errors).map(Condition::SqlState));
        }
        if let Some(v) = &file.errno
            && check_kind(MatchKey::Errno, v.span(), errors)
        {
            out.extend(self.errno(v, errors).map(Condition::Errno));
        }
        if let Some(v) = &file.constraint
            && check_kind(MatchKey::Constraint, v.span(), errors)
        {
            out.extend(self.text(v, "constraint", errors).map(Condition::Constraint));
        }
        if let Some(v) = &file.status
            && check_kind(MatchKey::Status, v.span(), errors)
        {
            match u16::try_from(*v.get_ref()).ok().filter(|s| (100..=599).contains(s)) {
                Some(s) => out.push(Condition::Status(s)),
                None => self.err(
                    errors,
                    v.span(),
                    "match.status",
                    format!("{} is not an HTTP status", v.get_ref()),
                    "write the status the API answers with, e.g. status = 409",
                ),
            }
        }
        if let Some(v) = &file.code
            && check_kind(MatchKey::Code, v.span(), errors)
        {
            let text = match v.get_ref() {
                CodeValue::Number(n) => n.to_string(),
                CodeValue::Name(s) => s.clone(),
            };
            out.extend(
                self.text(&Spanned::new(v.span(), text), "code", errors)
                    .map(Condition::Code),
            );
        }
        if let Some(v) = &file.fault
            && check_kind(MatchKey::Fault, v.span(), errors)
        {
            out.extend(self.text(v, "fault", errors).map(Condition::Fault));
        }
        if let Some(v) = &file.message
            && check_kind(MatchKey::Message, v.span(), errors)
        {
            match regex_lite::Regex::new(v.get_ref()) {
                Ok(re) => out.push(Condition::Message(re)),
                Err(e) => self.err(
                    errors,
                    v.span(),
                    "match.message",
                    format!("not a regular expression: {e}"),
                    "message is a regular expression searched for in the backend's text; escape . ( [ with \\\\ in a basic string, or use a literal string '...'",
                ),
            }
        }
        if given == 0 {
            self.err(
                errors,
                m.span(),
                "match",
                "`match` names no condition".into(),
                example_for(self.kind),
            );
        }
        out
    }

    fn ldap_code(&self, v: &Spanned<CodeValue>, errors: &mut Diagnostics) -> Option<u32> {
        let code = match v.get_ref() {
            CodeValue::Number(n) => u32::try_from(*n).ok().filter(|c| faults::ldap::name_of(*c).is_some()),
            CodeValue::Name(name) => faults::ldap::code_named(name),
        };
        let Some(code) = code else {
            self.err(
                errors,
                v.span(),
                "match.ldap",
                format!("{} is not an LDAP result code", show(v.get_ref())),
                "write the number or the RFC 4511 name, e.g. 50 or \"insufficientAccessRights\", 53 or \"unwillingToPerform\"",
            );
            return None;
        };
        if !faults::ldap::is_failure(code) {
            self.err(
                errors,
                v.span(),
                "match.ldap",
                format!(
                    "{} ({}) does not report a failure",
                    code,
                    faults::ldap::name_of(code).unwrap_or("?")
                ),
                "rules see failed operations only",
            );
            return None;
        }
        Some(code)
    }

    fn sqlstate(&self, v: &Spanned<String>, errors: &mut Diagnostics) -> Option<SqlState> {
        let s = v.get_ref();
        let well_formed = matches!(s.len(), 2 | 5) && s.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase());
        if !well_formed {
            self.err(
                errors,
                v.span(),
                "match.sqlstate",
                format!("{s:?} is not a SQLSTATE"),
                "five digits or upper-case letters (\"23505\"), or a two-character class (\"23\"); SQLite reports no SQLSTATE: use errno there",
            );
            return None;
        }
        Some(SqlState(s.clone()))
    }

    fn errno(&self, v: &Spanned<CodeValue>, errors: &mut Diagnostics) -> Option<Errno> {
        match v.get_ref() {
            CodeValue::Number(n) => Some(Errno::Number(*n)),
            CodeValue::Name(name) if faults::sqlite::is_known_name(name) => Some(Errno::Name(name.clone())),
            CodeValue::Name(name) => {
                self.err(
                    errors,
                    v.span(),
                    "match.errno",
                    format!("{name:?} is not a result code name this build knows"),
                    "write the number, or a SQLite name such as \"SQLITE_CONSTRAINT_CHECK\" or \"SQLITE_CONSTRAINT_UNIQUE\"",
                );
                None
            }
        }
    }

    fn text(&self, v: &Spanned<String>, key: &str, errors: &mut Diagnostics) -> Option<String> {
        if v.get_ref().trim().is_empty() {
            self.err(
                errors,
                v.span(),
                &format!("match.{key}"),
                format!("`{key}` is empty"),
                "write the value the backend reports",
            );
            return None;
        }
        Some(v.get_ref().clone())
    }

    fn op(&self, op: &Spanned<String>, errors: &mut Diagnostics) -> Option<OpKind> {
        let Some(kind) = OpKind::parse(op.get_ref()) else {
            let all: Vec<&str> = OpKind::ALL.iter().map(|k| k.as_str()).collect();
            self.err(
                errors,
                op.span(),
                "op",
                format!(
                    "unknown operation {:?}; operations are {}",
                    op.get_ref(),
                    all.join(", ")
                ),
                "named actions ([X.actions]) are not built yet, so a rule cannot name one",
            );
            return None;
        };
        if matches!(kind, OpKind::AddMember | OpKind::RemoveMember) && self.has_members == Some(false) {
            self.err(
                errors,
                op.span(),
                "op",
                format!("this resource type has no memberships, so `{kind}` never happens"),
                "put the rule under the type that maps members, or use op = \"update\"",
            );
            return None;
        }
        Some(kind)
    }

    fn outcome(
        &self,
        as_: &Spanned<String>,
        op_written: Option<&Spanned<String>>,
        op: Option<OpKind>,
        errors: &mut Diagnostics,
    ) -> Option<Outcome> {
        let text = as_.get_ref().trim();
        match text {
            "ok" => {
                if op_written.is_none() {
                    self.err(
                        errors,
                        as_.span(),
                        "as",
                        "`as = \"ok\"` needs an `op`: it makes a failure count as success".into(),
                        "add op = \"update\", \"delete\", \"add_member\" or \"remove_member\"",
                    );
                    return None;
                }
                if let Some(op) = op.filter(|o| !o.may_count_as_done()) {
                    self.err(
                        errors,
                        as_.span(),
                        "as",
                        format!("a failed `{op}` cannot count as done: there is nothing to return"),
                        "\"ok\" fits update, delete, add_member and remove_member; answer a status instead, e.g. as = \"409 uniqueness\"",
                    );
                    return None;
                }
                Some(Outcome::Ok)
            }
            "retry" => {
                if !faults::repeatable(self.kind, op) {
                    self.err(
                        errors,
                        as_.span(),
                        "as",
                        format!(
                            "a {} connector cannot safely repeat {}",
                            self.kind,
                            op.map_or("every operation".to_owned(), |o| format!("`{o}`"))
                        ),
                        "name an operation that can be repeated with op = \"...\", or answer a status",
                    );
                    return None;
                }
                Some(Outcome::Retry)
            }
            _ => self.respond(as_, text, errors),
        }
    }

    fn respond(&self, as_: &Spanned<String>, text: &str, errors: &mut Diagnostics) -> Option<Outcome> {
        const HINT: &str = "as = \"ok\", \"retry\" or \"<status> [scimType]\", e.g. \"400 invalidValue\", \"409 uniqueness\", \"403\", \"503\"";
        let mut words = text.split_whitespace();
        let status = words.next().and_then(|w| w.parse::<u16>().ok());
        let Some(status) = status else {
            self.err(errors, as_.span(), "as", format!("{text:?} is not an outcome"), HINT);
            return None;
        };
        if !STATUSES.contains(&status) {
            let list: Vec<String> = STATUSES.iter().map(u16::to_string).collect();
            self.err(
                errors,
                as_.span(),
                "as",
                format!("{status} is not a status a backend failure can answer with"),
                &format!("use one of {}", list.join(", ")),
            );
            return None;
        }
        let scim_type = match words.next() {
            None => None,
            Some(word) => {
                let Some(t) = ScimType::parse(word) else {
                    let all: Vec<&str> = ScimType::ALL.iter().map(|t| t.as_str()).collect();
                    let hint = match all.iter().find(|t| t.eq_ignore_ascii_case(word)) {
                        Some(t) => format!("clients compare scimType exactly: write {t}"),
                        None => format!("RFC 7644 defines {}", all.join(", ")),
                    };
                    self.err(errors, as_.span(), "as", format!("unknown scimType {word:?}"), &hint);
                    return None;
                };
                if !matches!(status, 400 | 409) {
                    self.err(
                        errors,
                        as_.span(),
                        "as",
                        format!("a scimType goes with 400 or 409, not {status}"),
                        &format!("write as = \"{status}\""),
                    );
                    return None;
                }
                Some(t.as_str().to_owned())
            }
        };
        if let Some(extra) = words.next() {
            self.err(
                errors,
                as_.span(),
                "as",
                format!("unexpected {extra:?} after the scimType"),
                HINT,
            );
            return None;
        }
        Some(Outcome::Respond { status, scim_type })
    }
}

fn show(v: &CodeValue) -> String {
    match v {
        CodeValue::Number(n) => n.to_string(),
        CodeValue::Name(s) => format!("{s:?}"),
    }
}

fn example_for(kind: &str) -> &'static str {
    match kind {
        "ldap" => "for example match = { ldap = \"unwillingToPerform\", message = \"0000052D\" }",
        "sql" => "for example match = { errno = \"SQLITE_CONSTRAINT_CHECK\", constraint = \"age_positive\" }",
        _ => "for example match = { status = 409, code = \"ALREADY_IN_GROUP\" }",
    }
}

#[cfg(test)]
mod tests;
