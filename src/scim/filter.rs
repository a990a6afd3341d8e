//! SCIM filters and attribute paths (RFC 7644 §3.4.2.2, §3.5.2), and their in-memory evaluation.
//!
//! The parser is a hand-written recursive descent over bytes. It follows the RFC 7644 §3.4.2.2
//! ABNF with the leniencies real clients (Microsoft Entra ID, Okta) need: case-insensitive
//! keywords, unquoted comparison values, extra whitespace, and `not (…)` with a space. Every
//! recursion goes through a depth check, and every comparison or presence test through a term
//! budget, so hostile input fails fast with `400 invalidFilter` instead of exhausting the stack.
//!
//! Byte positions in error messages are 0-based offsets into the input.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

use chrono::{DateTime, FixedOffset};
use serde_json::{Map, Number, Value};

use crate::scim::error::ScimError;

// ---------------------------------------------------------------------------------------------
// Attribute paths
// ---------------------------------------------------------------------------------------------

/// `[urn ":"] attr ["." sub]`. Names keep the client's spelling; resolution is case-insensitive elsewhere.
///
/// RFC 7644 §3.10: an attribute may be qualified by its schema URN, e.g.
/// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value`.
#[derive(Debug, Clone, PartialEq)]
pub struct AttrPath {
    pub urn: Option<String>,
    pub attr: String,
    pub sub: Option<String>,
}

impl AttrPath {
    /// Parses `[urn ":"] attr ["." sub]`; errors are `400 invalidPath`.
    pub fn parse(s: &str) -> Result<AttrPath, ScimError> {
        split_attr_path(s).map_err(|why| ScimError::invalid_path(format!("invalid attribute path: {why}")))
    }

    /// An unqualified path `attr` with no sub-attribute.
    pub fn simple(attr: impl Into<String>) -> AttrPath {
        AttrPath {
            urn: None,
            attr: attr.into(),
            sub: None,
        }
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.attr)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// Splits a path token; the error is a reason without position, so each caller can frame it.
///
/// A schema URN itself contains `:` and `.` (`…:core:2.0:User`), so the URN is everything before
/// the last `:` and only the remainder is split on `.`.
fn split_attr_path(s: &str) -> Result<AttrPath, String> {
    if s.is_empty() {
        return Err("the attribute path is empty".into());
    }
    let (urn, rest) = if s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:")) {
        let cut = s.rfind(':').unwrap_or(3);
        let (urn, rest) = (&s[..cut], &s[cut + 1..]);
        if urn.len() <= 4 || !urn.bytes().all(is_urn_byte) {
            return Err(format!("'{urn}' is not a valid schema URN"));
        }
        (Some(urn.to_string()), rest)
    } else {
        if s.contains(':') {
            return Err(format!("'{s}' contains ':' but does not start with a schema URN"));
        }
        (None, s)
    };
    let (attr, sub) = match rest.split_once('.') {
        Some((attr, sub)) => (attr, Some(sub)),
        None => (rest, None),
    };
    if attr.is_empty() {
        return Err(format!("expected an attribute name in '{s}'"));
    }
    if !is_valid_name(attr) {
        return Err(format!("'{attr}' is not a valid attribute name"));
    }
    if let Some(sub) = sub
        && !is_valid_name(sub)
    {
        return Err(format!("'{sub}' is not a valid sub-attribute name"));
    }
    Ok(AttrPath {
        urn,
        attr: attr.to_string(),
        sub: sub.map(str::to_string),
    })
}

/// RFC 7643 §2.1: `ATTRNAME = ALPHA *(nameChar)`, `nameChar = "-" / "_" / DIGIT / ALPHA`;
/// `$ref` is the one reserved name outside that grammar (RFC 7643 §2.3.7).
fn is_valid_name(s: &str) -> bool {
    if s.eq_ignore_ascii_case("$ref") {
        return true;
    }
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'$'
}

fn is_urn_byte(b: u8) -> bool {
    b.is_ascii_graphic() && !matches!(b, b'"' | b'[' | b']' | b'(' | b')' | b'\\')
}

// ---------------------------------------------------------------------------------------------
// Filter AST
// ---------------------------------------------------------------------------------------------

/// Attribute operators of RFC 7644 §3.4.2.2, Table 3 (`pr` is [`Filter::Present`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    /// Operators are case-insensitive (RFC 7644 §3.4.2.2: "Attribute names and attribute
    /// operators used in filters are case insensitive").
    pub fn from_keyword(word: &str) -> Option<CompareOp> {
        const ALL: [CompareOp; 9] = [
            CompareOp::Eq,
            CompareOp::Ne,
            CompareOp::Co,
            CompareOp::Sw,
            CompareOp::Ew,
            CompareOp::Gt,
            CompareOp::Ge,
            CompareOp::Lt,
            CompareOp::Le,
        ];
        ALL.into_iter().find(|op| op.as_str().eq_ignore_ascii_case(word))
    }

    /// `gt`, `ge`, `lt`, `le`: the operators that need an ordering.
    pub fn is_ordering(self) -> bool {
        matches!(self, CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le)
    }

    /// `co`, `sw`, `ew`: the operators that only make sense on text.
    pub fn is_substring(self) -> bool {
        matches!(self, CompareOp::Co | CompareOp::Sw | CompareOp::Ew)
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed SCIM filter (RFC 7644 §3.4.2.2).
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `value` is a String, Number, Bool or Null.
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: Value,
    },
    Present(AttrPath),
    /// Flattened: `And(a, And(b, c))` becomes `And(a, b, c)`.
    And(Vec<Filter>),
    /// Flattened likewise.
    Or(Vec<Filter>),
    Not(Box<Filter>),
    /// `emails[type eq "work" and primary eq true]`; paths inside are relative to the element
    /// (their `urn` is None and `attr` is the sub-attribute name, e.g. "type").
    ValuePath {
        path: AttrPath,
        filter: Box<Filter>,
    },
}

/// Renders the filter in canonical RFC 7644 syntax; parsing the output yields the same AST
/// (for ASTs the parser produces), which makes it safe for logs and for re-issuing requests.
impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Compare { path, op, value } => write!(f, "{path} {op} {value}"),
            Filter::Present(path) => write!(f, "{path} pr"),
            Filter::And(items) => write_joined(f, items, " and ", |i| !is_leaf(i)),
            Filter::Or(items) => write_joined(f, items, " or ", |i| matches!(i, Filter::Or(_))),
            Filter::Not(inner) => write!(f, "not ({inner})"),
            Filter::ValuePath { path, filter } => write!(f, "{path}[{filter}]"),
        }
    }
}

fn is_leaf(filter: &Filter) -> bool {
    !matches!(filter, Filter::And(_) | Filter::Or(_))
}

fn write_joined(
    f: &mut fmt::Formatter<'_>,
    items: &[Filter],
    sep: &str,
    needs_parens: impl Fn(&Filter) -> bool,
) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        if needs_parens(item) {
            write!(f, "({item})")?
        } else {
            write!(f, "{item}")?
        }
    }
    Ok(())
}

/// Budgets that bound the cost of parsing an untrusted filter.
#[derive(Debug, Clone, Copy)]
pub struct FilterLimits {
    /// Longest accepted input, in bytes.
    pub max_len: usize,
    /// Deepest nesting of `(…)`, `not (…)` and `[…]`; `not (…)` counts once.
    pub max_depth: usize,
    /// Most comparison and presence tests.
    pub max_terms: usize,
}

impl Default for FilterLimits {
    fn default() -> Self {
        FilterLimits {
            max_len: 4096,
            max_depth: 16,
            max_terms: 64,
        }
    }
}

/// A PATCH `path` (RFC 7644 §3.5.2): attrPath, or valuePath with optional `.subAttr` after `]`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    /// `sub` is None when `filter` is Some; a sub-attribute after `]` goes to [`PatchPath::sub`].
    pub attr: AttrPath,
    pub filter: Option<Filter>,
    pub sub: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------------------------

const OPERATOR_EXPECTED: &str = "expected a comparison operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr)";
const TERM_EXPECTED: &str = "expected an attribute path, '(' or 'not'";

/// Parses a `filter` query parameter (RFC 7644 §3.4.2.2); errors are `400 invalidFilter`.
pub fn parse_filter(input: &str, limits: &FilterLimits) -> Result<Filter, ScimError> {
    if input.len() > limits.max_len {
        return Err(ScimError::invalid_filter(format!(
            "filter is longer than {} bytes",
            limits.max_len
        )));
    }
    let mut p = Parser::new(input, *limits, Mode::Filter);
    p.skip_ws();
    if p.at_end() {
        return Err(ScimError::invalid_filter("filter is empty"));
    }
    let filter = p.parse_or(Ctx::Top)?;
    p.skip_ws();
    if !p.at_end() {
        let msg = if p.peek() == Some(b')') {
            "unbalanced ')'"
        } else {
            "expected 'and', 'or' or end of filter"
        };
        return Err(p.err(p.pos, msg));
    }
    Ok(filter)
}

/// Parses a PATCH operation `path` (RFC 7644 §3.5.2):
/// `attrPath / valuePath [subAttr]`; errors are `400 invalidPath`.
pub fn parse_patch_path(input: &str, limits: &FilterLimits) -> Result<PatchPath, ScimError> {
    if input.len() > limits.max_len {
        return Err(ScimError::invalid_path(format!(
            "path is longer than {} bytes",
            limits.max_len
        )));
    }
    let mut p = Parser::new(input, *limits, Mode::Path);
    p.skip_ws();
    if p.at_end() {
        return Err(ScimError::invalid_path("path is empty"));
    }
    let start = p.pos;
    let token = p.take_while(|b| !is_delimiter(b));
    if token.is_empty() {
        return Err(p.err(start, "expected an attribute path"));
    }
    let attr = split_attr_path(token).map_err(|why| p.err(start, why))?;
    p.skip_ws();
    let mut path = PatchPath {
        attr,
        filter: None,
        sub: None,
    };
    if p.peek() == Some(b'[') {
        path.filter = Some(p.parse_bracket_filter(start, &path.attr, Ctx::Top)?);
        if p.peek() == Some(b'.') {
            p.pos += 1;
            let at = p.pos;
            let name = p.take_while(is_name_byte);
            if !is_valid_name(name) {
                return Err(p.err(at, "expected a sub-attribute name after '].'"));
            }
            path.sub = Some(name.to_string());
        }
    }
    p.skip_ws();
    if !p.at_end() {
        let msg = if path.filter.is_some() {
            "expected '.' and a sub-attribute name, or end of path"
        } else {
            "expected '[' or end of path"
        };
        return Err(p.err(p.pos, msg));
    }
    Ok(path)
}

/// Which error the parser reports: a filter parameter or a PATCH path.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Filter,
    Path,
}

/// Whether the parser is inside `attr[…]`, where value filters cannot nest (RFC 7644 §3.4.2.2
/// `valFilter`) and paths name sub-attributes of the enclosing attribute.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    Top,
    Brackets,
}

/// Bytes that end an attribute path or an unquoted value.
fn is_delimiter(b: u8) -> bool {
    is_ws(b) || matches!(b, b'(' | b')' | b'[' | b']' | b'"')
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
    depth: usize,
    terms: usize,
    limits: FilterLimits,
    mode: Mode,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str, limits: FilterLimits, mode: Mode) -> Self {
        Parser {
            src,
            pos: 0,
            depth: 0,
            terms: 0,
            limits,
            mode,
        }
    }

    fn err(&self, at: usize, msg: impl fmt::Display) -> ScimError {
        match self.mode {
            Mode::Filter => ScimError::invalid_filter(format!("invalid filter at byte {at}: {msg}")),
            Mode::Path => ScimError::invalid_path(format!("invalid path at byte {at}: {msg}")),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.src.as_bytes().get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.src.len()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(is_ws) {
            self.pos += 1;
        }
    }

    /// Consumes bytes while `pred` holds. Callers stop only on ASCII bytes, so the slice always
    /// falls on character boundaries; `get` keeps that an invariant rather than a panic.
    fn take_while(&mut self, pred: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(&pred) {
            self.pos += 1;
        }
        self.src.get(start..self.pos).unwrap_or("")
    }

    /// The run of ASCII letters and digits at `at`: keywords are recognised only as whole words.
    fn word_at(&self, at: usize) -> &'a str {
        let bytes = self.src.as_bytes();
        let mut end = at;
        while bytes.get(end).is_some_and(u8::is_ascii_alphanumeric) {
            end += 1;
        }
        self.src.get(at..end).unwrap_or("")
    }

    fn eat_keyword(&mut self, keyword: &str) -> bool {
        self.skip_ws();
        let word = self.word_at(self.pos);
        if word.eq_ignore_ascii_case(keyword) {
            self.pos += word.len();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, byte: u8, msg: &str) -> Result<(), ScimError> {
        self.skip_ws();
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.err(self.pos, msg))
        }
    }

    /// Every recursive descent passes through here, which bounds stack use by `max_depth`.
    fn enter(&mut self, at: usize) -> Result<(), ScimError> {
        self.depth += 1;
        if self.depth > self.limits.max_depth {
            return Err(self.err(at, format!("nesting is deeper than {} levels", self.limits.max_depth)));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    fn count_term(&mut self, at: usize) -> Result<(), ScimError> {
        self.terms += 1;
        if self.terms > self.limits.max_terms {
            return Err(self.err(at, format!("more than {} comparisons", self.limits.max_terms)));
        }
        Ok(())
    }

    /// `or` binds loosest (RFC 7644 §3.4.2.2, Table 5 precedence: not > and > or).
    fn parse_or(&mut self, ctx: Ctx) -> Result<Filter, ScimError> {
        let mut items = vec![self.parse_and(ctx)?];
        while self.eat_keyword("or") {
            items.push(self.parse_and(ctx)?);
        }
        Ok(join(items, false))
    }

    fn parse_and(&mut self, ctx: Ctx) -> Result<Filter, ScimError> {
        let mut items = vec![self.parse_unary(ctx)?];
        while self.eat_keyword("and") {
            items.push(self.parse_unary(ctx)?);
        }
        Ok(join(items, true))
    }

    fn parse_unary(&mut self, ctx: Ctx) -> Result<Filter, ScimError> {
        self.skip_ws();
        let start = self.pos;
        match self.peek() {
            None => Err(self.err(start, TERM_EXPECTED)),
            Some(b'(') => {
                self.pos += 1;
                self.parse_group(start, ctx)
            }
            Some(_) => match self.not_paren_at(start) {
                Some(open) => {
                    self.pos = open + 1;
                    Ok(Filter::Not(Box::new(self.parse_group(start, ctx)?)))
                }
                None => self.parse_attr_expr(ctx),
            },
        }
    }

    /// If `not` starts at `at` and is followed (after optional whitespace) by `(`, the position
    /// of that `(`. RFC 7644 requires the parentheses, so `not` without them is an attribute name.
    fn not_paren_at(&self, at: usize) -> Option<usize> {
        let word = self.word_at(at);
        if !word.eq_ignore_ascii_case("not") {
            return None;
        }
        let bytes = self.src.as_bytes();
        let mut i = at + word.len();
        while bytes.get(i).copied().is_some_and(is_ws) {
            i += 1;
        }
        (bytes.get(i) == Some(&b'(')).then_some(i)
    }

    /// The rest of `( filter )`, after the `(`.
    fn parse_group(&mut self, start: usize, ctx: Ctx) -> Result<Filter, ScimError> {
        self.enter(start)?;
        let inner = self.parse_or(ctx)?;
        self.expect(b')', "expected 'and', 'or' or ')'")?;
        self.leave();
        Ok(inner)
    }

    /// `attrPath "pr"`, `attrPath compareOp compValue`, or `attrPath "[" valFilter "]"`.
    fn parse_attr_expr(&mut self, ctx: Ctx) -> Result<Filter, ScimError> {
        let start = self.pos;
        let token = self.take_while(|b| !is_delimiter(b));
        if token.is_empty() {
            return Err(self.err(start, TERM_EXPECTED));
        }
        let path = split_attr_path(token).map_err(|why| self.err(start, why))?;
        self.skip_ws();
        if self.peek() == Some(b'[') {
            let filter = self.parse_bracket_filter(start, &path, ctx)?;
            // Entra ID filters with `emails[type eq "work"].value eq "x"`, which RFC 7644's
            // grammar does not have; it means "an element matches both", so it becomes one
            // value path with the trailing comparison ANDed inside.
            let filter = if self.peek() == Some(b'.') {
                self.pos += 1;
                let sub_at = self.pos;
                let sub = self.take_while(|b| !is_delimiter(b) && b != b'.');
                if sub.is_empty() {
                    return Err(self.err(sub_at, "expected a sub-attribute name after ']."));
                }
                let sub_path = AttrPath::simple(sub);
                let trailing = self.parse_comparison(sub_at, sub, sub_path)?;
                Filter::And(vec![filter, trailing])
            } else {
                filter
            };
            return Ok(Filter::ValuePath {
                path,
                filter: Box::new(filter),
            });
        }
        if ctx == Ctx::Brackets && (path.urn.is_some() || path.sub.is_some()) {
            return Err(self.err(start, "inside '[…]' a path names a sub-attribute, without a URN or '.'"));
        }
        self.parse_comparison(start, token, path)
    }

    /// `"pr"` or `compareOp compValue` after an attribute path.
    fn parse_comparison(&mut self, start: usize, token: &str, path: AttrPath) -> Result<Filter, ScimError> {
        self.skip_ws();
        let op_at = self.pos;
        let word = self.take_while(|b| b.is_ascii_alphanumeric());
        if word.eq_ignore_ascii_case("pr") {
            self.count_term(start)?;
            return Ok(Filter::Present(path));
        }
        let Some(op) = CompareOp::from_keyword(word) else {
            return Err(if token.eq_ignore_ascii_case("not") {
                self.err(start + token.len(), "expected '(' after 'not'")
            } else {
                self.err(op_at, OPERATOR_EXPECTED)
            });
        };
        self.count_term(start)?;
        let value = self.parse_comp_value()?;
        Ok(Filter::Compare { path, op, value })
    }

    /// `"[" valFilter "]"` after `path`; leaves the parser just past the `]`.
    fn parse_bracket_filter(&mut self, start: usize, path: &AttrPath, ctx: Ctx) -> Result<Filter, ScimError> {
        if ctx == Ctx::Brackets {
            return Err(self.err(self.pos, "value filters cannot be nested"));
        }
        if path.sub.is_some() {
            return Err(self.err(start, "'[' must follow an attribute name without a sub-attribute"));
        }
        let open = self.pos;
        self.pos += 1;
        self.enter(open)?;
        let inner = self.parse_or(Ctx::Brackets)?;
        self.expect(b']', "expected 'and', 'or' or ']'")?;
        self.leave();
        Ok(inner)
    }

    /// `compValue = false / null / true / number / string` (RFC 7644 §3.4.2.2), plus the bare
    /// words some clients send unquoted (`externalId eq jyoung`), taken as strings.
    fn parse_comp_value(&mut self) -> Result<Value, ScimError> {
        self.skip_ws();
        let start = self.pos;
        match self.peek() {
            Some(b'"') => self.parse_string().map(Value::String),
            Some(b) if !is_delimiter(b) => {
                let token = self.take_while(|b| !is_delimiter(b));
                classify_bare(token).map_err(|why| self.err(start, why))
            }
            _ => Err(self.err(
                start,
                "expected a comparison value (a string, number, true, false or null)",
            )),
        }
    }

    /// A JSON string (RFC 8259 §7); serde_json decodes the escapes so they behave exactly as JSON.
    fn parse_string(&mut self) -> Result<String, ScimError> {
        let start = self.pos;
        let bytes = self.src.as_bytes();
        let mut i = start + 1;
        loop {
            match bytes.get(i) {
                None => return Err(self.err(start, "unterminated string literal")),
                Some(b'\\') => i += 2,
                Some(b'"') => break,
                Some(_) => i += 1,
            }
        }
        let literal = self.src.get(start..=i).unwrap_or("");
        let text = serde_json::from_str::<String>(literal)
            .map_err(|e| self.err(start, format!("invalid string literal: {e}")))?;
        self.pos = i + 1;
        Ok(text)
    }
}

/// Builds `And`/`Or` from operands, splicing in operands of the same kind.
fn join(mut items: Vec<Filter>, is_and: bool) -> Filter {
    if items.len() == 1
        && let Some(only) = items.pop()
    {
        return only;
    }
    let mut flat = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Filter::And(inner) if is_and => flat.extend(inner),
            Filter::Or(inner) if !is_and => flat.extend(inner),
            other => flat.push(other),
        }
    }
    if is_and { Filter::And(flat) } else { Filter::Or(flat) }
}

fn classify_bare(token: &str) -> Result<Value, String> {
    if token.eq_ignore_ascii_case("true") {
        return Ok(Value::Bool(true));
    }
    if token.eq_ignore_ascii_case("false") {
        return Ok(Value::Bool(false));
    }
    if token.eq_ignore_ascii_case("null") {
        return Ok(Value::Null);
    }
    if is_json_number(token) {
        // Grammatically a number but not representable (e.g. 1e400): a string would surprise.
        return token
            .parse::<Number>()
            .map(Value::Number)
            .map_err(|_| format!("number {token} is out of range"));
    }
    Ok(Value::String(token.to_string()))
}

/// RFC 8259 §6: `[ "-" ] int [ frac ] [ exp ]`.
fn is_json_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let from = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - from
    };
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            digits(&mut i);
        }
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

// ---------------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------------

/// SCIM data types (RFC 7643 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    String,
    Boolean,
    Integer,
    Decimal,
    DateTime,
    Reference,
    Binary,
    Complex,
}

/// What the evaluator needs to know about an attribute (RFC 7643 §2.2 characteristics).
#[derive(Debug, Clone, Copy)]
pub struct AttrInfo {
    pub kind: ValueKind,
    pub case_exact: bool,
    pub multi_valued: bool,
}

/// Tells the evaluator what an attribute is. `parent` is the enclosing attribute for sub-attributes
/// (for `emails.value` the call is (urn, "emails", Some("value"))). Names are matched case-insensitively by the implementor.
pub trait AttrTypes {
    fn info(&self, urn: Option<&str>, attr: &str, sub: Option<&str>) -> Option<AttrInfo>;
}

/// Evaluates `filter` against a SCIM resource in its JSON form (core attributes at top level,
/// extension attributes under their schema URN key; keys in canonical case but look them up case-insensitively).
///
/// Semantics follow RFC 7644 §3.4.2.2: a comparison on a multi-valued attribute matches if any
/// value matches, and a comparison on a complex attribute compares its `value` sub-attribute.
pub fn matches(filter: &Filter, resource: &Value, types: &dyn AttrTypes) -> bool {
    eval(filter, Scope::Resource(resource), types)
}

/// Evaluates a value-path filter against one element of a multi-valued complex attribute (`attr` is that attribute's name, for looking up sub-attribute types).
pub fn matches_element(filter: &Filter, urn: Option<&str>, attr: &str, element: &Value, types: &dyn AttrTypes) -> bool {
    eval(filter, Scope::Element { urn, attr, element }, types)
}

/// What the paths of a filter are relative to.
#[derive(Clone, Copy)]
enum Scope<'a> {
    Resource(&'a Value),
    /// Inside `attr[…]`: paths name sub-attributes of `attr`.
    Element {
        urn: Option<&'a str>,
        attr: &'a str,
        element: &'a Value,
    },
}

fn eval(filter: &Filter, scope: Scope<'_>, types: &dyn AttrTypes) -> bool {
    match filter {
        Filter::Compare { path, op, value } => {
            let (values, info) = resolve(scope, path, true, types);
            compare_values(&values, *op, value, info)
        }
        Filter::Present(path) => resolve(scope, path, false, types).0.into_iter().any(is_present),
        Filter::And(items) => items.iter().all(|f| eval(f, scope, types)),
        Filter::Or(items) => items.iter().any(|f| eval(f, scope, types)),
        Filter::Not(inner) => !eval(inner, scope, types),
        Filter::ValuePath { path, filter } => match scope {
            Scope::Resource(resource) => lookup_attr(resource, path).is_some_and(|attr_value| {
                elements(attr_value).any(|element| {
                    let scope = Scope::Element {
                        urn: path.urn.as_deref(),
                        attr: &path.attr,
                        element,
                    };
                    eval(filter, scope, types)
                })
            }),
            // The parser never nests value paths (RFC 7644 §3.4.2.2 `valFilter`).
            Scope::Element { .. } => false,
        },
    }
}

/// The non-null values `path` denotes in `scope`, flattened across multi-valued attributes, and
/// their type. With `descend_complex`, a path naming a complex attribute denotes the elements'
/// `value` sub-attributes (RFC 7644 §3.4.2.2: `emails co "x"` compares `emails.value`).
fn resolve<'a>(
    scope: Scope<'a>,
    path: &AttrPath,
    descend_complex: bool,
    types: &dyn AttrTypes,
) -> (Vec<&'a Value>, Option<AttrInfo>) {
    match scope {
        Scope::Resource(resource) => {
            let urn = path.urn.as_deref();
            let attr = path.attr.as_str();
            let Some(attr_value) = lookup_attr(resource, path) else {
                return (Vec::new(), None);
            };
            if let Some(sub) = &path.sub {
                return (sub_values(attr_value, sub), types.info(urn, attr, Some(sub)));
            }
            let info = types.info(urn, attr, None);
            let complex = match info {
                Some(info) => info.kind == ValueKind::Complex,
                None => elements(attr_value).any(Value::is_object),
            };
            if descend_complex && complex {
                (sub_values(attr_value, "value"), types.info(urn, attr, Some("value")))
            } else {
                (elements(attr_value).collect(), info)
            }
        }
        Scope::Element { urn, attr, element } => {
            let info = types.info(urn, attr, Some(&path.attr));
            let values = match element.as_object().and_then(|o| get_ci(o, &path.attr)) {
                Some(v) => match &path.sub {
                    Some(sub) => sub_values(v, sub),
                    None => elements(v).collect(),
                },
                None => Vec::new(),
            };
            (values, info)
        }
    }
}

/// The attribute `path.attr` of `resource`, looking in the extension object when `path.urn`
/// names one. Extension attributes always live under their schema URN key, so a URN without
/// such a key is the resource's core schema, whose attributes are at the top level.
fn lookup_attr<'a>(resource: &'a Value, path: &AttrPath) -> Option<&'a Value> {
    let root = resource.as_object()?;
    let container = match path.urn.as_deref().map(|urn| get_ci(root, urn)) {
        None | Some(None) => root,
        Some(Some(Value::Object(extension))) => extension,
        Some(Some(_)) => return None,
    };
    get_ci(container, &path.attr)
}

/// Attribute names are case-insensitive (RFC 7643 §2.1); try the canonical spelling first.
fn get_ci<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.get(key)
        .or_else(|| map.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))
}

/// The values of a possibly multi-valued attribute, skipping nulls.
fn elements(value: &Value) -> impl Iterator<Item = &Value> {
    let slice = match value {
        Value::Array(items) => items.as_slice(),
        single => std::slice::from_ref(single),
    };
    slice.iter().filter(|v| !v.is_null())
}

fn sub_values<'a>(value: &'a Value, sub: &str) -> Vec<&'a Value> {
    elements(value)
        .filter_map(|e| e.as_object().and_then(|o| get_ci(o, sub)))
        .flat_map(elements)
        .collect()
}

/// RFC 7644 §3.4.2.2 `pr`: "If the attribute has a non-empty value, or if it contains a
/// non-empty node for complex attributes, there is a match."
fn is_present(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => items.iter().any(is_present),
        Value::Object(map) => !map.is_empty(),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

fn compare_values(values: &[&Value], op: CompareOp, literal: &Value, info: Option<AttrInfo>) -> bool {
    match op {
        // No value equals the literal, which includes an absent attribute.
        CompareOp::Ne => !compare_values(values, CompareOp::Eq, literal, info),
        // `eq null` asks whether the attribute is unassigned (RFC 7643 §2.5).
        _ if literal.is_null() => op == CompareOp::Eq && !values.iter().any(|v| is_present(v)),
        _ => values.iter().any(|v| compare_one(v, op, literal, info)),
    }
}

/// One value against the literal, by the attribute's type; when the literal does not fit the
/// type, the comparison falls back to the literal's string form.
fn compare_one(value: &Value, op: CompareOp, literal: &Value, info: Option<AttrInfo>) -> bool {
    let case_exact = info.is_some_and(|i| i.case_exact);
    match info.map(|i| i.kind) {
        Some(ValueKind::Boolean) => {
            return op == CompareOp::Eq && matches!((as_bool(value), as_bool(literal)), (Some(a), Some(b)) if a == b);
        }
        Some(ValueKind::Binary) if op.is_ordering() => return false,
        Some(ValueKind::Integer | ValueKind::Decimal) if !op.is_substring() => {
            if let (Some(a), Some(b)) = (as_number(value), as_number(literal)) {
                return number_cmp(&a, &b).is_some_and(|ord| ordering_holds(op, ord));
            }
        }
        Some(ValueKind::DateTime) if !op.is_substring() => {
            if let (Some(a), Some(b)) = (as_datetime(value), as_datetime(literal)) {
                return ordering_holds(op, a.cmp(&b));
            }
        }
        _ => {}
    }
    compare_text(value, op, literal, case_exact)
}

fn compare_text(value: &Value, op: CompareOp, literal: &Value, case_exact: bool) -> bool {
    let (Some(a), Some(b)) = (scalar_text(value), scalar_text(literal)) else {
        return false;
    };
    let (a, b) = if case_exact {
        (a, b)
    } else {
        (Cow::Owned(a.to_lowercase()), Cow::Owned(b.to_lowercase()))
    };
    match op {
        CompareOp::Co => a.contains(b.as_ref()),
        CompareOp::Sw => a.starts_with(b.as_ref()),
        CompareOp::Ew => a.ends_with(b.as_ref()),
        _ => ordering_holds(op, a.cmp(&b)),
    }
}

fn ordering_holds(op: CompareOp, ord: Ordering) -> bool {
    match op {
        CompareOp::Eq => ord == Ordering::Equal,
        CompareOp::Ne => ord != Ordering::Equal,
        CompareOp::Gt => ord == Ordering::Greater,
        CompareOp::Ge => ord != Ordering::Less,
        CompareOp::Lt => ord == Ordering::Less,
        CompareOp::Le => ord != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

fn scalar_text(value: &Value) -> Option<Cow<'_, str>> {
    match value {
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        _ => None,
    }
}

/// Booleans, and the strings "true"/"false" in any case: Entra ID sends `primary eq "True"`.
fn as_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

fn as_number(value: &Value) -> Option<Number> {
    match value {
        Value::Number(n) => Some(n.clone()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Exact for integers; decimals compare as f64, which is what JSON numbers carry anyway.
fn number_cmp(a: &Number, b: &Number) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return Some(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return Some(x.cmp(&y));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

/// RFC 7643 §2.3.5: dateTime is an xsd:dateTime, which SCIM restricts to RFC 3339 with offset.
fn as_datetime(value: &Value) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(value.as_str()?.trim()).ok()
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

/// Checks operator/type combinations: `gt/ge/lt/le` on Boolean or Binary → invalidFilter; `co/sw/ew` on Boolean → invalidFilter;
/// DateTime literal that is not RFC 3339 for gt/ge/lt/le/eq → invalidFilter ("... is not an RFC 3339 dateTime"). Unknown attributes are NOT an error here.
pub fn validate(filter: &Filter, types: &dyn AttrTypes) -> Result<(), ScimError> {
    validate_in(filter, None, types)
}

/// `parent` is the enclosing `attr[…]` (its URN and name) for paths inside a value filter.
fn validate_in(filter: &Filter, parent: Option<(Option<&str>, &str)>, types: &dyn AttrTypes) -> Result<(), ScimError> {
    match filter {
        Filter::Compare { path, op, value } => match compare_info(path, parent, types) {
            Some(info) => check_compare(path, parent, *op, value, info),
            None => Ok(()),
        },
        Filter::Present(_) => Ok(()),
        Filter::And(items) | Filter::Or(items) => items.iter().try_for_each(|f| validate_in(f, parent, types)),
        Filter::Not(inner) => validate_in(inner, parent, types),
        Filter::ValuePath { path, filter } => validate_in(filter, Some((path.urn.as_deref(), &path.attr)), types),
    }
}

/// The type a comparison is evaluated against, mirroring [`resolve`].
fn compare_info(path: &AttrPath, parent: Option<(Option<&str>, &str)>, types: &dyn AttrTypes) -> Option<AttrInfo> {
    if let Some((urn, attr)) = parent {
        return types.info(urn, attr, Some(&path.attr));
    }
    let urn = path.urn.as_deref();
    if let Some(sub) = &path.sub {
        return types.info(urn, &path.attr, Some(sub));
    }
    match types.info(urn, &path.attr, None) {
        Some(info) if info.kind == ValueKind::Complex => types.info(urn, &path.attr, Some("value")),
        other => other,
    }
}

fn check_compare(
    path: &AttrPath,
    parent: Option<(Option<&str>, &str)>,
    op: CompareOp,
    literal: &Value,
    info: AttrInfo,
) -> Result<(), ScimError> {
    let shown = match parent {
        Some((_, attr)) => format!("{attr}.{path}"),
        None => path.to_string(),
    };
    let unsupported = match info.kind {
        ValueKind::Boolean => op.is_ordering() || op.is_substring(),
        ValueKind::Binary => op.is_ordering(),
        _ => false,
    };
    if unsupported {
        let kind = if info.kind == ValueKind::Boolean {
            "boolean"
        } else {
            "binary"
        };
        return Err(ScimError::invalid_filter(format!(
            "operator '{op}' cannot be used with {kind} attribute '{shown}'"
        )));
    }
    let needs_instant = op.is_ordering() || op == CompareOp::Eq;
    if info.kind == ValueKind::DateTime && needs_instant && !literal.is_null() && as_datetime(literal).is_none() {
        return Err(ScimError::invalid_filter(format!(
            "{literal} is not an RFC 3339 dateTime (attribute '{shown}')"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    fn parse(s: &str) -> Filter {
        match parse_filter(s, &FilterLimits::default()) {
            Ok(f) => f,
            Err(e) => panic!("{s:?} did not parse: {e}"),
        }
    }

    fn parse_err(s: &str) -> ScimError {
        match parse_filter(s, &FilterLimits::default()) {
            Ok(f) => panic!("{s:?} parsed as {f:?}"),
            Err(e) => e,
        }
    }

    fn path(s: &str) -> AttrPath {
        match AttrPath::parse(s) {
            Ok(p) => p,
            Err(e) => panic!("{s:?}: {e}"),
        }
    }

    fn cmp(p: &str, op: CompareOp, value: Value) -> Filter {
        Filter::Compare {
            path: path(p),
            op,
            value,
        }
    }

    fn pr(p: &str) -> Filter {
        Filter::Present(path(p))
    }

    fn vp(p: &str, filter: Filter) -> Filter {
        Filter::ValuePath {
            path: path(p),
            filter: Box::new(filter),
        }
    }

    fn patch(s: &str) -> PatchPath {
        match parse_patch_path(s, &FilterLimits::default()) {
            Ok(p) => p,
            Err(e) => panic!("{s:?}: {e}"),
        }
    }

    use CompareOp::*;

    // --- RFC 7644 §3.4.2.2, the example filters ------------------------------------------------

    #[test]
    fn rfc7644_3_4_2_2_simple_comparisons() {
        assert_eq!(parse(r#"userName eq "bjensen""#), cmp("userName", Eq, json!("bjensen")));
        assert_eq!(
            parse(r#"name.familyName co "O'Malley""#),
            Filter::Compare {
                path: AttrPath {
                    urn: None,
                    attr: "name".into(),
                    sub: Some("familyName".into())
                },
                op: Co,
                value: json!("O'Malley"),
            }
        );
        assert_eq!(parse(r#"userName sw "J""#), cmp("userName", Sw, json!("J")));
        assert_eq!(parse("title pr"), pr("title"));
    }

    #[test]
    fn rfc7644_3_4_2_2_urn_qualified_path() {
        let f = parse(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#);
        assert_eq!(
            f,
            Filter::Compare {
                path: AttrPath {
                    urn: Some("urn:ietf:params:scim:schemas:core:2.0:User".into()),
                    attr: "userName".into(),
                    sub: None,
                },
                op: Sw,
                value: json!("J"),
            }
        );
    }

    #[test]
    fn rfc7644_3_4_2_2_date_comparisons() {
        for (op, word) in [(Gt, "gt"), (Ge, "ge"), (Lt, "lt"), (Le, "le")] {
            let text = format!(r#"meta.lastModified {word} "2011-05-13T04:42:34Z""#);
            assert_eq!(
                parse(&text),
                cmp("meta.lastModified", op, json!("2011-05-13T04:42:34Z"))
            );
        }
    }

    #[test]
    fn rfc7644_3_4_2_2_logical_operators() {
        assert_eq!(
            parse(r#"title pr and userType eq "Employee""#),
            Filter::And(vec![pr("title"), cmp("userType", Eq, json!("Employee"))])
        );
        assert_eq!(
            parse(r#"title pr or userType eq "Intern""#),
            Filter::Or(vec![pr("title"), cmp("userType", Eq, json!("Intern"))])
        );
        assert_eq!(
            parse(r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#),
            cmp("schemas", Eq, json!(ENTERPRISE))
        );
    }

    #[test]
    fn rfc7644_3_4_2_2_grouping() {
        assert_eq!(
            parse(r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#),
            Filter::And(vec![
                cmp("userType", Eq, json!("Employee")),
                Filter::Or(vec![
                    cmp("emails", Co, json!("example.com")),
                    cmp("emails.value", Co, json!("example.org")),
                ]),
            ])
        );
        assert_eq!(
            parse(r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#),
            Filter::And(vec![
                cmp("userType", Ne, json!("Employee")),
                Filter::Not(Box::new(Filter::Or(vec![
                    cmp("emails", Co, json!("example.com")),
                    cmp("emails.value", Co, json!("example.org")),
                ]))),
            ])
        );
        assert_eq!(
            parse(r#"userType eq "Employee" and (emails.type eq "work")"#),
            Filter::And(vec![
                cmp("userType", Eq, json!("Employee")),
                cmp("emails.type", Eq, json!("work")),
            ])
        );
    }

    #[test]
    fn rfc7644_3_4_2_2_value_paths() {
        assert_eq!(
            parse(r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#),
            Filter::And(vec![
                cmp("userType", Eq, json!("Employee")),
                vp(
                    "emails",
                    Filter::And(vec![
                        cmp("type", Eq, json!("work")),
                        cmp("value", Co, json!("@example.com")),
                    ])
                ),
            ])
        );
        assert_eq!(
            parse(
                r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#
            ),
            Filter::Or(vec![
                vp(
                    "emails",
                    Filter::And(vec![
                        cmp("type", Eq, json!("work")),
                        cmp("value", Co, json!("@example.com")),
                    ])
                ),
                vp(
                    "ims",
                    Filter::And(vec![
                        cmp("type", Eq, json!("xmpp")),
                        cmp("value", Co, json!("@foo.com")),
                    ])
                ),
            ])
        );
    }

    #[test]
    fn value_path_with_nested_logic_and_parentheses() {
        assert_eq!(
            parse(r#"emails[ (type eq "work" or type eq "home") and not (primary eq false) ]"#),
            vp(
                "emails",
                Filter::And(vec![
                    Filter::Or(vec![cmp("type", Eq, json!("work")), cmp("type", Eq, json!("home")),]),
                    Filter::Not(Box::new(cmp("primary", Eq, json!(false)))),
                ])
            )
        );
        assert!(
            parse_err(r#"emails[type eq "work" and x[value eq "y"]]"#)
                .detail
                .contains("nested")
        );
        assert!(
            parse_err(r#"emails[name.givenName eq "y"]"#)
                .detail
                .contains("sub-attribute")
        );
        assert!(parse_err(r#"emails.value[type eq "work"]"#).detail.contains("'['"));
        assert!(parse_err(r#"emails[type eq "work""#).detail.contains("']'"));
    }

    // --- RFC 7644 §3.4.2.2 precedence, case-insensitivity -----------------------------------

    #[test]
    fn precedence_not_and_or() {
        assert_eq!(
            parse("a pr or b pr and c pr"),
            Filter::Or(vec![pr("a"), Filter::And(vec![pr("b"), pr("c")])])
        );
        assert_eq!(
            parse("a pr and b pr or c pr"),
            Filter::Or(vec![Filter::And(vec![pr("a"), pr("b")]), pr("c")])
        );
        assert_eq!(
            parse("not(a pr) and b pr"),
            Filter::And(vec![Filter::Not(Box::new(pr("a"))), pr("b")])
        );
    }

    #[test]
    fn and_or_are_flattened() {
        assert_eq!(
            parse("a pr and (b pr and c pr)"),
            Filter::And(vec![pr("a"), pr("b"), pr("c")])
        );
        assert_eq!(
            parse("((a pr or b pr) or c pr) or d pr"),
            Filter::Or(vec![pr("a"), pr("b"), pr("c"), pr("d")])
        );
        assert_eq!(parse("(((a pr)))"), pr("a"));
    }

    #[test]
    fn operators_and_keywords_are_case_insensitive() {
        assert_eq!(parse(r#"userName EQ "x""#), cmp("userName", Eq, json!("x")));
        assert_eq!(parse(r#"DisplayName Eq "X""#), cmp("DisplayName", Eq, json!("X")));
        assert_eq!(
            parse("title PR And active eq TRUE Or NOT (x eq NULL)"),
            Filter::Or(vec![
                Filter::And(vec![pr("title"), cmp("active", Eq, json!(true))]),
                Filter::Not(Box::new(cmp("x", Eq, Value::Null))),
            ])
        );
        assert_eq!(parse("a Pr"), pr("a"));
    }

    #[test]
    fn not_requires_parentheses_but_allows_whitespace() {
        assert_eq!(parse("not (a pr)"), Filter::Not(Box::new(pr("a"))));
        assert_eq!(parse("not\t(a pr)"), Filter::Not(Box::new(pr("a"))));
        assert_eq!(parse("not(a pr)"), Filter::Not(Box::new(pr("a"))));
        let e = parse_err("not a pr");
        assert_eq!(e.detail, "invalid filter at byte 3: expected '(' after 'not'");
        // Without a following "(", `not` is an attribute like any other.
        assert_eq!(parse(r#"not eq "x""#), cmp("not", Eq, json!("x")));
    }

    #[test]
    fn whitespace_is_tolerated_around_tokens() {
        assert_eq!(
            parse("  ( a pr )   and\t\t( b  eq  1 )  "),
            Filter::And(vec![pr("a"), cmp("b", Eq, json!(1))])
        );
        assert_eq!(
            parse(r#"emails [ type eq "work" ]"#),
            vp("emails", cmp("type", Eq, json!("work")))
        );
    }

    // --- literals ---------------------------------------------------------------------------

    #[test]
    fn unquoted_values_from_real_clients() {
        assert_eq!(parse("externalId eq jyoung"), cmp("externalId", Eq, json!("jyoung")));
        assert_eq!(
            parse("members[value eq 2819c223-7f76-453a-919d-413861904646]"),
            vp(
                "members",
                cmp("value", Eq, json!("2819c223-7f76-453a-919d-413861904646"))
            )
        );
        assert_eq!(
            parse("mail eq a@b.com and x pr"),
            Filter::And(vec![cmp("mail", Eq, json!("a@b.com")), pr("x"),])
        );
        assert_eq!(parse("active eq False"), cmp("active", Eq, json!(false)));
        assert_eq!(parse("manager eq Null"), cmp("manager", Eq, Value::Null));
        assert_eq!(parse("n eq 42"), cmp("n", Eq, json!(42)));
        assert_eq!(parse("n eq 0123"), cmp("n", Eq, json!("0123")));
        assert_eq!(parse("(id eq abc)"), cmp("id", Eq, json!("abc")));
    }

    #[test]
    fn string_literals_use_json_escapes() {
        assert_eq!(parse(r#"a eq "say \"hi\"""#), cmp("a", Eq, json!("say \"hi\"")));
        assert_eq!(parse(r#"a eq "back\\slash""#), cmp("a", Eq, json!("back\\slash")));
        assert_eq!(parse(r#"a eq "line\nbreak\t""#), cmp("a", Eq, json!("line\nbreak\t")));
        assert_eq!(parse(r#"a eq "caf\u00e9""#), cmp("a", Eq, json!("café")));
        assert_eq!(parse(r#"a eq "\ud83d\ude00""#), cmp("a", Eq, json!("😀")));
        assert_eq!(parse(r#"a eq "a/b\/c""#), cmp("a", Eq, json!("a/b/c")));
        assert_eq!(parse(r#"a eq "ünïcødé""#), cmp("a", Eq, json!("ünïcødé")));
        assert_eq!(parse(r#"a eq """#), cmp("a", Eq, json!("")));
        assert_eq!(
            parse(r#"a eq "(not) [a] and or""#),
            cmp("a", Eq, json!("(not) [a] and or"))
        );
        assert!(
            parse_err(r#"a eq "bad \q escape""#)
                .detail
                .contains("invalid string literal")
        );
        assert_eq!(
            parse_err(r#"a eq "unterminated"#).detail,
            "invalid filter at byte 5: unterminated string literal"
        );
        assert_eq!(
            parse_err(r#"a eq "ends in backslash\"#).detail,
            "invalid filter at byte 5: unterminated string literal"
        );
    }

    #[test]
    fn number_literals() {
        assert_eq!(parse("n eq -7"), cmp("n", Eq, json!(-7)));
        assert_eq!(parse("n gt 1.5"), cmp("n", Gt, json!(1.5)));
        assert_eq!(parse("n lt 2e3"), cmp("n", Lt, json!(2000.0)));
        assert_eq!(parse("n le -1.25E-2"), cmp("n", Le, json!(-0.0125)));
        assert_eq!(parse("n eq 18446744073709551615"), cmp("n", Eq, json!(u64::MAX)));
        assert!(parse_err("n eq 1e400").detail.contains("out of range"));
        // Not JSON numbers, so they are bare strings.
        assert_eq!(parse("n eq 1."), cmp("n", Eq, json!("1.")));
        assert_eq!(parse("n eq +1"), cmp("n", Eq, json!("+1")));
        assert_eq!(parse("n eq 1e"), cmp("n", Eq, json!("1e")));
    }

    #[test]
    fn present_takes_no_value() {
        assert!(parse_err(r#"title pr "x""#).detail.contains("expected 'and', 'or'"));
    }

    // --- errors and budgets -----------------------------------------------------------------

    #[test]
    fn errors_name_position_and_expectation() {
        let e = parse_err(r#"userName xx "x""#);
        assert_eq!(e.status, 400);
        assert_eq!(e.scim_type, Some(crate::scim::error::ScimType::InvalidFilter));
        assert_eq!(
            e.detail,
            "invalid filter at byte 9: expected a comparison operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr)"
        );
        assert_eq!(
            parse_err("userName eq").detail,
            "invalid filter at byte 11: expected a comparison value (a string, number, true, false or null)"
        );
        assert_eq!(
            parse_err("a pr and").detail,
            "invalid filter at byte 8: expected an attribute path, '(' or 'not'"
        );
        assert_eq!(parse_err("a pr)").detail, "invalid filter at byte 4: unbalanced ')'");
        assert_eq!(
            parse_err("(a pr").detail,
            "invalid filter at byte 5: expected 'and', 'or' or ')'"
        );
        assert_eq!(
            parse_err("a pr b pr").detail,
            "invalid filter at byte 5: expected 'and', 'or' or end of filter"
        );
        assert!(
            parse_err("a.b.c pr")
                .detail
                .starts_with("invalid filter at byte 0: 'b.c'")
        );
        assert!(parse_err("1abc pr").detail.contains("not a valid attribute name"));
        assert!(parse_err("a:b pr").detail.contains("schema URN"));
    }

    #[test]
    fn empty_filter_is_invalid() {
        for s in ["", "   ", "\t"] {
            let e = parse_err(s);
            assert_eq!(e.scim_type, Some(crate::scim::error::ScimType::InvalidFilter));
            assert_eq!(e.detail, "filter is empty");
        }
    }

    #[test]
    fn budget_length() {
        let limits = FilterLimits::default();
        let padded = format!("a pr{}", " ".repeat(4096 - 4));
        assert!(parse_filter(&padded, &limits).is_ok());
        let e = parse_filter(&format!("{padded} "), &limits).unwrap_err();
        assert_eq!(e.detail, "filter is longer than 4096 bytes");
        assert_eq!(e.scim_type, Some(crate::scim::error::ScimType::InvalidFilter));
    }

    #[test]
    fn budget_depth() {
        let nested = |n: usize| format!("{}a pr{}", "(".repeat(n), ")".repeat(n));
        assert!(parse_filter(&nested(16), &FilterLimits::default()).is_ok());
        assert!(
            parse_err(&nested(17))
                .detail
                .contains("nesting is deeper than 16 levels")
        );
        let nots = |n: usize| format!("{}a pr{}", "not (".repeat(n), ")".repeat(n));
        assert!(parse_filter(&nots(16), &FilterLimits::default()).is_ok());
        assert!(parse_err(&nots(17)).detail.contains("nesting"));
        let tight = FilterLimits {
            max_depth: 1,
            ..FilterLimits::default()
        };
        assert!(parse_filter(r#"emails[type eq "w"]"#, &tight).is_ok());
        assert!(parse_filter(r#"(emails[type eq "w"])"#, &tight).is_err());
    }

    #[test]
    fn budget_depth_fails_fast_on_huge_input() {
        let limits = FilterLimits {
            max_len: 1_000_000,
            ..FilterLimits::default()
        };
        let e = parse_filter(&"(".repeat(100_000), &limits).unwrap_err();
        assert!(e.detail.contains("nesting"), "{}", e.detail);
        let e = parse_filter(&"not(".repeat(100_000), &limits).unwrap_err();
        assert!(e.detail.contains("nesting"), "{}", e.detail);
        let e = parse_patch_path(&format!("a[{}", "(".repeat(100_000)), &limits).unwrap_err();
        assert!(e.detail.contains("nesting"), "{}", e.detail);
    }

    #[test]
    fn budget_terms() {
        let terms = |n: usize| vec!["a pr"; n].join(" or ");
        assert!(parse_filter(&terms(64), &FilterLimits::default()).is_ok());
        assert!(parse_err(&terms(65)).detail.contains("more than 64 comparisons"));
        let in_brackets = format!("emails[{}]", vec!["type eq 1"; 65].join(" and "));
        assert!(parse_err(&in_brackets).detail.contains("more than 64"));
    }

    // --- attribute paths ------------------------------------------------------------------

    #[test]
    fn attr_path_parse_and_display_round_trip() {
        for s in [
            "userName",
            "name.givenName",
            "emails.$ref",
            "$ref",
            "x-custom_attr9",
            "urn:ietf:params:scim:schemas:core:2.0:User:userName",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
            "URN:example:ext:attr.sub",
        ] {
            assert_eq!(path(s).to_string(), s);
        }
        assert_eq!(
            path("URN:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName"),
            AttrPath {
                urn: Some("URN:ietf:params:scim:schemas:extension:enterprise:2.0:User".into()),
                attr: "manager".into(),
                sub: Some("displayName".into()),
            }
        );
        for bad in [
            "", "a.b.c", "1a", "a.", ".a", "a b", "urn:", "urn:x", "urn::a", "a:b", "urn:x:",
        ] {
            let e = AttrPath::parse(bad).unwrap_err();
            assert_eq!(e.scim_type, Some(crate::scim::error::ScimType::InvalidPath), "{bad:?}");
        }
    }

    // --- RFC 7644 §3.5.2 PATCH paths ------------------------------------------------------

    #[test]
    fn rfc7644_3_5_2_patch_paths() {
        assert_eq!(
            patch("name.familyName"),
            PatchPath {
                attr: path("name.familyName"),
                filter: None,
                sub: None
            }
        );
        assert_eq!(
            patch(r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#),
            PatchPath {
                attr: path("members"),
                filter: Some(cmp("value", Eq, json!("2819c223-7f76-453a-919d-413861904646"))),
                sub: None,
            }
        );
        assert_eq!(
            patch(r#"emails[type eq "work"].value"#),
            PatchPath {
                attr: path("emails"),
                filter: Some(cmp("type", Eq, json!("work"))),
                sub: Some("value".into()),
            }
        );
        assert_eq!(
            patch(r#"addresses[type eq "work"].streetAddress"#),
            PatchPath {
                attr: path("addresses"),
                filter: Some(cmp("type", Eq, json!("work"))),
                sub: Some("streetAddress".into()),
            }
        );
    }

    #[test]
    fn patch_paths_with_urns() {
        assert_eq!(
            patch("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"),
            PatchPath {
                attr: AttrPath {
                    urn: Some(ENTERPRISE.into()),
                    attr: "manager".into(),
                    sub: Some("value".into()),
                },
                filter: None,
                sub: None,
            }
        );
        assert_eq!(
            patch("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"),
            PatchPath {
                attr: AttrPath {
                    urn: Some(ENTERPRISE.into()),
                    attr: "employeeNumber".into(),
                    sub: None,
                },
                filter: None,
                sub: None,
            }
        );
    }

    #[test]
    fn entra_patch_path_with_string_boolean() {
        assert_eq!(
            patch(r#"roles[primary eq "True"].value"#),
            PatchPath {
                attr: path("roles"),
                filter: Some(cmp("primary", Eq, json!("True"))),
                sub: Some("value".into()),
            }
        );
    }

    #[test]
    fn patch_path_errors_are_invalid_path() {
        for bad in [
            "",
            " ",
            "emails[",
            r#"emails[type eq "work"]value"#,
            r#"emails[type eq "work"]."#,
            r#"emails[type eq "work"].a.b"#,
            r#"name.givenName[type eq "x"]"#,
            "a b",
            "a.b.c",
            r#"emails[type eq "work"] x"#,
            r#"emails[type xx "work"]"#,
        ] {
            let e = parse_patch_path(bad, &FilterLimits::default()).unwrap_err();
            assert_eq!(
                e.scim_type,
                Some(crate::scim::error::ScimType::InvalidPath),
                "{bad:?}: {e}"
            );
        }
        let e = parse_patch_path(r#"emails[type xx "work"]"#, &FilterLimits::default()).unwrap_err();
        assert!(
            e.detail
                .starts_with("invalid path at byte 12: expected a comparison operator")
        );
        let long = "a".repeat(5000);
        let e = parse_patch_path(&long, &FilterLimits::default()).unwrap_err();
        assert_eq!(e.detail, "path is longer than 4096 bytes");
    }

    #[test]
    fn real_client_filters() {
        // Entra ID provisioning
        assert_eq!(
            parse(r#"userName eq "AlexW@contoso.com""#),
            cmp("userName", Eq, json!("AlexW@contoso.com"))
        );
        assert_eq!(
            parse(r#"externalId eq "0a1b2c" and displayName eq "Sales""#),
            Filter::And(vec![
                cmp("externalId", Eq, json!("0a1b2c")),
                cmp("displayName", Eq, json!("Sales")),
            ])
        );
        assert_eq!(
            parse(r#"id eq "g1" and members[value eq "u1"]"#),
            Filter::And(vec![
                cmp("id", Eq, json!("g1")),
                vp("members", cmp("value", Eq, json!("u1")))
            ])
        );
        // Okta
        assert_eq!(
            parse(r#"userName eq "isaac.brock@example.com""#),
            cmp("userName", Eq, json!("isaac.brock@example.com"))
        );
    }

    #[test]
    fn display_round_trips() {
        for s in [
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
            r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
            r#"a eq "q\"uote" and (b pr or c gt 1.5) and d eq null"#,
            "urn:ietf:params:scim:schemas:core:2.0:User:userName sw \"J\"",
        ] {
            let f = parse(s);
            assert_eq!(parse(&f.to_string()), f, "{s}");
        }
    }

    // --- never panic ------------------------------------------------------------------------

    /// xorshift64*: deterministic, so a failure reproduces.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    const SAMPLES: &[&str] = &[
        r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
        r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
        r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
        r#"meta.lastModified gt "2011-05-13T04:42:34Z" and a eq "caf\u00e9 \"x\"""#,
        r#"roles[primary eq "True"].value"#,
        "externalId eq jyoung or n ge -1.5e3 or active eq TRUE",
    ];

    fn exercise(input: &str) {
        let limits = FilterLimits {
            max_len: 512,
            max_depth: 6,
            max_terms: 12,
        };
        if let Ok(f) = parse_filter(input, &limits) {
            let _ = validate(&f, &Schema);
            let _ = matches(&f, &sample_user(), &Schema);
            // What parses must render to something that parses to the same thing.
            let again = parse_filter(&f.to_string(), &FilterLimits::default());
            assert_eq!(again.as_ref().ok(), Some(&f), "{input:?} -> {f}");
        }
        if let Ok(p) = parse_patch_path(input, &limits)
            && let Some(f) = &p.filter
        {
            let _ = matches_element(f, None, &p.attr.attr, &json!({"value": "x"}), &Schema);
        }
        let _ = AttrPath::parse(input);
    }

    #[test]
    fn never_panics_on_truncations() {
        for s in SAMPLES {
            for (i, _) in s.char_indices() {
                exercise(&s[..i]);
                exercise(&s[i..]);
            }
        }
    }

    #[test]
    fn never_panics_on_garbage() {
        const ALPHABET: &[&str] = &[
            "(", ")", "[", "]", "\"", "\\", ".", ":", " ", "\t", "a", "eq", " and ", " or ", "not", "pr", "urn:", "1",
            "-", "e", "é", "😀", "\\u", "true", "null", "$ref", "].",
        ];
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for _ in 0..20_000 {
            let len = rng.below(24);
            let s: String = (0..len).map(|_| ALPHABET[rng.below(ALPHABET.len())]).collect();
            exercise(&s);
        }
        for _ in 0..5_000 {
            let len = rng.below(40);
            let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            exercise(&String::from_utf8_lossy(&bytes));
        }
        // Mutations of valid filters: replace one byte-sized piece with a random token.
        for _ in 0..5_000 {
            let s = SAMPLES[rng.below(SAMPLES.len())];
            let cut: Vec<usize> = s.char_indices().map(|(i, _)| i).collect();
            let at = cut[rng.below(cut.len())];
            let mutated = format!("{}{}{}", &s[..at], ALPHABET[rng.below(ALPHABET.len())], &s[at..]);
            exercise(&mutated);
        }
    }

    // --- evaluation -------------------------------------------------------------------------

    struct Schema;

    impl AttrTypes for Schema {
        fn info(&self, urn: Option<&str>, attr: &str, sub: Option<&str>) -> Option<AttrInfo> {
            use ValueKind::*;
            let info = |kind, case_exact, multi_valued| {
                Some(AttrInfo {
                    kind,
                    case_exact,
                    multi_valued,
                })
            };
            let enterprise = urn.is_some_and(|u| u.eq_ignore_ascii_case(ENTERPRISE));
            let attr = attr.to_ascii_lowercase();
            let sub = sub.map(str::to_ascii_lowercase);
            match (enterprise, attr.as_str(), sub.as_deref()) {
                (true, "employeenumber", None) => info(String, false, false),
                (true, "manager", None) => info(Complex, false, false),
                (true, "manager", Some("value")) => info(String, false, false),
                (true, _, _) => None,
                (_, "id", None) => info(String, true, false),
                (_, "username" | "usertype" | "title", None) => info(String, false, false),
                (_, "externalid", None) => info(String, true, false),
                (_, "active", None) => info(Boolean, false, false),
                (_, "logincount", None) => info(Integer, false, false),
                (_, "score", None) => info(Decimal, false, false),
                (_, "name", None) => info(Complex, false, false),
                (_, "name", Some(_)) => info(String, false, false),
                (_, "emails" | "roles", None) => info(Complex, false, true),
                (_, "emails" | "roles", Some("value" | "type")) => info(String, false, false),
                (_, "emails" | "roles", Some("primary")) => info(Boolean, false, false),
                (_, "x509certificates", None) => info(Complex, false, true),
                (_, "x509certificates", Some("value")) => info(Binary, true, false),
                (_, "meta", None) => info(Complex, false, false),
                (_, "meta", Some("created" | "lastmodified")) => info(DateTime, false, false),
                (_, "meta", Some(_)) => info(String, true, false),
                _ => None,
            }
        }
    }

    fn sample_user() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
            "id": "2819c223",
            "externalId": "Ext-1",
            "userName": "BJensen@Example.com",
            "name": { "familyName": "O'Malley", "givenName": "Barbara" },
            "title": "",
            "userType": "Employee",
            "active": true,
            "loginCount": 12,
            "score": 4.5,
            "nickName": "Babs",
            "emails": [
                { "value": "bjensen@example.com", "type": "work", "primary": true },
                { "value": "babs@jensen.org", "type": "home" }
            ],
            "roles": [ { "value": "admin", "primary": "True" } ],
            "phoneNumbers": [],
            "addresses": [{}],
            "x509Certificates": [ { "value": "TUlJRE" } ],
            "meta": {
                "created": "2010-01-23T04:56:22Z",
                "lastModified": "2011-05-13T04:42:34+02:00"
            },
            ENTERPRISE: { "employeeNumber": "701984", "manager": { "value": "26118915" } }
        })
    }

    fn eval_str(filter: &str) -> bool {
        matches(&parse(filter), &sample_user(), &Schema)
    }

    #[test]
    fn eval_case_insensitive_vs_case_exact() {
        assert!(eval_str(r#"userName eq "bjensen@example.com""#));
        assert!(eval_str(r#"USERNAME eq "BJENSEN@EXAMPLE.COM""#));
        assert!(eval_str(r#"externalId eq "Ext-1""#));
        assert!(!eval_str(r#"externalId eq "ext-1""#));
        assert!(eval_str(r#"name.familyName co "o'mal""#));
        assert!(eval_str(r#"userName sw "bjen" and userName ew ".COM""#));
        // Unknown attributes compare as case-insensitive strings.
        assert!(eval_str(r#"nickName eq "BABS""#));
        assert!(eval_str("nickName eq babs"));
        // Unicode-aware folding.
        let user = json!({"displayName": "ÉCOLE"});
        assert!(matches(&parse(r#"displayName eq "école""#), &user, &Schema));
    }

    #[test]
    fn eval_multi_valued_any_match() {
        assert!(eval_str(r#"emails co "jensen.org""#));
        assert!(eval_str(r#"emails.value eq "BJENSEN@example.com""#));
        assert!(eval_str(r#"emails.type eq "home""#));
        assert!(!eval_str(r#"emails.type eq "other""#));
        assert!(eval_str(
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#
        ));
        assert!(!eval_str(
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#
        ));
        assert!(eval_str(
            r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#
        ));
    }

    #[test]
    fn eval_value_paths() {
        assert!(eval_str(r#"emails[type eq "work" and value co "@example.com"]"#));
        assert!(!eval_str(r#"emails[type eq "home" and value co "@example.com"]"#));
        assert!(eval_str(r#"emails[type eq "work" and primary eq true]"#));
        assert!(eval_str(r#"emails[not (primary pr)]"#));
        assert!(eval_str(r#"roles[primary eq "True"]"#));
        assert!(eval_str("roles[primary eq true]"));
        assert!(!eval_str(r#"ims[type eq "xmpp"]"#));
        let f = parse(r#"type eq "work" and primary eq "TRUE""#);
        let element = json!({"type": "Work", "primary": true});
        assert!(matches_element(&f, None, "emails", &element, &Schema));
        assert!(!matches_element(&f, None, "emails", &json!({"type": "home"}), &Schema));
    }

    #[test]
    fn eval_datetime_ordering() {
        // lastModified is 2011-05-13T02:42:34Z as an instant.
        assert!(eval_str(r#"meta.lastModified gt "2011-05-13T02:00:00Z""#));
        assert!(eval_str(r#"meta.lastModified lt "2011-05-13T04:42:34Z""#));
        assert!(eval_str(r#"meta.lastModified eq "2011-05-13T02:42:34.000Z""#));
        assert!(eval_str(r#"meta.lastModified ge "2011-05-13T02:42:34Z""#));
        assert!(eval_str(r#"meta.lastModified le "2011-05-13T02:42:34Z""#));
        assert!(!eval_str(r#"meta.lastModified gt "2011-05-13T02:42:34Z""#));
        assert!(eval_str(r#"meta.created lt "2011-05-13T04:42:34Z""#));
    }

    #[test]
    fn eval_numbers_and_booleans() {
        assert!(eval_str("loginCount gt 9"));
        assert!(eval_str("loginCount eq 12.0"));
        assert!(eval_str(r#"loginCount le "12""#));
        assert!(!eval_str("loginCount lt 12"));
        assert!(eval_str("score ge 4.5 and score lt 5"));
        assert!(eval_str("active eq true"));
        assert!(eval_str(r#"active eq "TRUE""#));
        assert!(!eval_str("active eq false"));
        assert!(eval_str("active ne false"));
        assert!(!eval_str("active gt false"));
        assert!(!eval_str(r#"x509Certificates.value gt "A""#));
        assert!(eval_str(r#"x509Certificates.value eq "TUlJRE""#));
        // String attributes compare the literal's string form.
        assert!(matches(&parse("title eq 42"), &json!({"title": "42"}), &Schema));
        // Ordering on strings is lexicographic.
        assert!(eval_str(r#"userName gt "A" and userName lt "c""#));
    }

    #[test]
    fn eval_ne_and_null_and_present() {
        assert!(eval_str(r#"displayName ne "x""#), "ne matches an absent attribute");
        assert!(!eval_str(r#"userType ne "employee""#));
        assert!(eval_str("displayName eq null"));
        assert!(!eval_str("userName eq null"));
        assert!(eval_str("userName ne null"));
        assert!(!eval_str("title pr"), "empty string is not present");
        assert!(!eval_str("phoneNumbers pr"), "empty array is not present");
        assert!(!eval_str("addresses pr"), "empty object is not present");
        assert!(!eval_str("displayName pr"));
        assert!(eval_str("emails pr and name.givenName pr and active pr"));
        assert!(eval_str("title eq null"));
        assert!(!eval_str("displayName gt null"));
        assert!(eval_str("not (displayName pr)"));
    }

    #[test]
    fn eval_extension_attributes() {
        let u = ENTERPRISE;
        assert!(eval_str(&format!(r#"{u}:employeeNumber eq "701984""#)));
        assert!(eval_str(&format!(r#"{u}:manager.value eq "26118915""#)));
        assert!(eval_str(&format!(r#"{u}:manager eq "26118915""#)));
        assert!(eval_str(&format!("{}:employeeNumber pr", u.to_ascii_uppercase())));
        assert!(!eval_str(&format!("{u}:costCenter pr")));
        // The core schema URN addresses top-level attributes.
        assert!(eval_str(
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "B""#
        ));
    }

    // --- validation -------------------------------------------------------------------------

    fn validate_str(s: &str) -> Result<(), ScimError> {
        validate(&parse(s), &Schema)
    }

    #[test]
    fn validate_operator_type_combinations() {
        assert!(validate_str(r#"userName gt "a" and meta.lastModified gt "2011-05-13T04:42:34Z""#).is_ok());
        assert!(validate_str("unknownAttr gt true and x.y co 1").is_ok());
        let e = validate_str("active gt true").unwrap_err();
        assert_eq!(e.scim_type, Some(crate::scim::error::ScimType::InvalidFilter));
        assert_eq!(e.detail, "operator 'gt' cannot be used with boolean attribute 'active'");
        assert!(validate_str(r#"active co "t""#).is_err());
        assert!(validate_str("active eq true and active ne false").is_ok());
        assert!(validate_str(r#"x509Certificates.value le "x""#).is_err());
        assert!(validate_str(r#"x509Certificates.value eq "x""#).is_ok());
        assert!(
            validate_str(r#"emails[primary sw "t"]"#)
                .unwrap_err()
                .detail
                .contains("'emails.primary'")
        );
        assert!(validate_str(r#"not (emails[type eq "w" and primary lt true])"#).is_err());
        let e = validate_str(r#"meta.lastModified gt "yesterday""#).unwrap_err();
        assert_eq!(
            e.detail,
            r#""yesterday" is not an RFC 3339 dateTime (attribute 'meta.lastModified')"#
        );
        assert!(validate_str("meta.created eq 5").is_err());
        assert!(validate_str(r#"meta.created co "2011""#).is_ok());
        assert!(validate_str("meta.created eq null").is_ok());
    }
}

/// Property: every filter tree prints as text that parses back to the same tree.
#[cfg(test)]
mod round_trip {
    use proptest::prelude::*;

    use super::*;

    fn name() -> impl Strategy<Value = String> {
        "[a-zA-Z][a-zA-Z0-9_-]{0,8}"
    }

    fn path() -> impl Strategy<Value = AttrPath> {
        (
            prop::option::of(Just(
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User".to_owned(),
            )),
            name(),
            prop::option::of(name()),
        )
            .prop_map(|(urn, attr, sub)| AttrPath { urn, attr, sub })
    }

    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            any::<String>().prop_map(Value::String),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            Just(Value::Null),
        ]
    }

    fn op() -> impl Strategy<Value = CompareOp> {
        prop_oneof![
            Just(CompareOp::Eq),
            Just(CompareOp::Ne),
            Just(CompareOp::Co),
            Just(CompareOp::Sw),
            Just(CompareOp::Ew),
            Just(CompareOp::Gt),
            Just(CompareOp::Ge),
            Just(CompareOp::Lt),
            Just(CompareOp::Le),
        ]
    }

    fn leaf() -> impl Strategy<Value = Filter> {
        prop_oneof![
            (path(), op(), value()).prop_map(|(path, op, value)| Filter::Compare { path, op, value }),
            path().prop_map(Filter::Present),
        ]
    }

    fn filter() -> impl Strategy<Value = Filter> {
        leaf().prop_recursive(4, 24, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 2..4).prop_map(Filter::And),
                prop::collection::vec(inner.clone(), 2..4).prop_map(Filter::Or),
                inner.prop_map(|f| Filter::Not(Box::new(f))),
            ]
        })
    }

    /// The parser flattens nested `and`/`or`; build the tree it would produce.
    fn normalize(f: Filter) -> Filter {
        match f {
            Filter::And(items) => Filter::And(
                items
                    .into_iter()
                    .map(normalize)
                    .flat_map(|i| if let Filter::And(x) = i { x } else { vec![i] })
                    .collect(),
            ),
            Filter::Or(items) => Filter::Or(
                items
                    .into_iter()
                    .map(normalize)
                    .flat_map(|i| if let Filter::Or(x) = i { x } else { vec![i] })
                    .collect(),
            ),
            Filter::Not(inner) => Filter::Not(Box::new(normalize(*inner))),
            other => other,
        }
    }

    proptest! {
        #[test]
        fn display_then_parse_is_identity(f in filter()) {
            let expected = normalize(f);
            let text = expected.to_string();
            let limits = FilterLimits { max_len: 1 << 20, max_depth: 64, max_terms: 1024 };
            let parsed = parse_filter(&text, &limits);
            prop_assert_eq!(parsed.as_ref().ok(), Some(&expected), "text: {}", text);
        }
    }
}
