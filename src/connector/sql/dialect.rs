//! The one place where SQL dialects differ. Only SQLite is built today; every method is a
//! `match` so Postgres, MySQL and SQL Server slot in as new variants without touching the
//! renderer.

use crate::connector::CompareOp;

/// A SQL dialect, picked from the database URL's scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
}

impl Dialect {
    /// The dialect a database URL asks for. Only the scheme is ever quoted in errors: the
    /// rest of the URL may hold a password.
    pub fn from_url(url: &str) -> Result<Dialect, String> {
        let scheme = url.split(':').next().unwrap_or_default().to_ascii_lowercase();
        let reserved = match scheme.as_str() {
            "sqlite" => return Ok(Dialect::Sqlite),
            "postgres" | "postgresql" => "postgres",
            "mysql" | "mariadb" => "mysql",
            "mssql" | "sqlserver" => "mssql",
            _ => {
                return Err(format!(
                    "unknown database URL scheme `{scheme}:`; expected sqlite:, postgres://, mysql:// or mssql://"
                ));
            }
        };
        Err(format!("the {reserved} dialect is not built into this binary yet"))
    }

    /// The placeholder of the `n`th (1-based) bound parameter.
    pub fn placeholder(self, _n: usize) -> String {
        // Postgres: `$n`; SQL Server: `@Pn`; MySQL: `?`.
        match self {
            Dialect::Sqlite => "?".to_owned(),
        }
    }

    /// Quotes a validated identifier; a dotted `schema.table` is quoted part by part.
    pub fn quote(self, ident: &str) -> String {
        // MySQL: backticks; SQL Server: brackets. Validation rules out the quote
        // characters themselves, so no escaping is needed.
        let (open, close) = match self {
            Dialect::Sqlite => ('"', '"'),
        };
        ident
            .split('.')
            .map(|part| format!("{open}{part}{close}"))
            .collect::<Vec<_>>()
            .join(".")
    }

    /// An expression folded for case-insensitive comparison. SQLite's `lower` folds ASCII
    /// only, like its `LIKE`; an ICU build or a `COLLATE` would be needed for more.
    pub fn fold_case(self, expr: &str) -> String {
        match self {
            Dialect::Sqlite => format!("lower({expr})"),
        }
    }

    /// A substring match (`co`, `sw`, `ew`) of `lhs` against a pattern bound at
    /// `placeholder`; returns the SQL and the parameter to bind.
    ///
    /// SQLite's `LIKE` ignores ASCII case, so a case-sensitive match there uses `GLOB`
    /// (which never ignores case) with its own escaping.
    pub fn text_match(
        self,
        lhs: &str,
        op: CompareOp,
        value: &str,
        ignore_case: bool,
        placeholder: &str,
    ) -> (String, String) {
        let (lead, trail) = match op {
            CompareOp::StartsWith => (false, true),
            CompareOp::EndsWith => (true, false),
            _ => (true, true),
        };
        match self {
            Dialect::Sqlite if ignore_case => {
                let sql = format!(
                    "{} LIKE {} ESCAPE '\\'",
                    self.fold_case(lhs),
                    self.fold_case(placeholder)
                );
                (sql, wrap(&escape_like(value), lead, trail, '%'))
            }
            Dialect::Sqlite => (
                format!("{lhs} GLOB {placeholder}"),
                wrap(&escape_glob(value), lead, trail, '*'),
            ),
        }
    }

    /// `NOT` of a predicate, with SQL's unknown (a comparison with NULL) counted as false
    /// first, so that `not (title eq "x")` matches rows without a title.
    pub fn negate(self, predicate: &str) -> String {
        // Postgres: COALESCE(.., FALSE); SQL Server: CASE WHEN .. THEN 1 ELSE 0 END = 0.
        match self {
            Dialect::Sqlite => format!("NOT COALESCE({predicate}, 0)"),
        }
    }

    /// One `ORDER BY` term. SCIM sorts missing values last when ascending and first when
    /// descending.
    pub fn order_term(self, expr: &str, descending: bool) -> String {
        // MySQL and SQL Server lack NULLS FIRST/LAST: they would order by `expr IS NULL` first.
        match (self, descending) {
            (Dialect::Sqlite, false) => format!("{expr} ASC NULLS LAST"),
            (Dialect::Sqlite, true) => format!("{expr} DESC NULLS FIRST"),
        }
    }

    /// The window clause; placeholders were bound limit first, then offset.
    pub fn limit_offset(self, limit: &str, offset: Option<&str>) -> String {
        // SQL Server: OFFSET .. ROWS FETCH NEXT .. ROWS ONLY (needs an ORDER BY, which
        // every paged query here has).
        match (self, offset) {
            (Dialect::Sqlite, Some(offset)) => format!("LIMIT {limit} OFFSET {offset}"),
            (Dialect::Sqlite, None) => format!("LIMIT {limit}"),
        }
    }

    /// The suffix of an INSERT that returns the database-assigned key.
    pub fn returning(self, column: &str) -> String {
        // SQL Server: OUTPUT INSERTED.col before VALUES; MySQL: LAST_INSERT_ID().
        match self {
            Dialect::Sqlite => format!(" RETURNING {column}"),
        }
    }

    /// An expression giving child rows in insertion order, so multi-valued attributes read
    /// back in the order they were written.
    pub fn insertion_order(self, alias: &str) -> String {
        // Elsewhere: the child's columns.
        match self {
            Dialect::Sqlite => format!("{alias}.rowid"),
        }
    }

    /// A correlated subquery that gathers the rows of `table AS alias` matching `condition`
    /// into one JSON array, so that a read fetches child rows and linked ids in the same
    /// statement as the owner's row: one inner array per row holding `columns` (SQL
    /// expressions over `alias`) in order, rows in insertion order, `[]` when nothing
    /// matches. `table` is quoted already.
    ///
    /// Every dialect produces the shape [`super::json::decode_rows`] reads: a value is a
    /// JSON `null`, number or string, or a tagged array for what plain JSON cannot carry
    /// exactly: `["x", hex]` for binary data and `["f", text]` for a floating-point number
    /// in a form that round-trips.
    pub fn json_rows(self, columns: &[String], table: &str, alias: &str, condition: &str) -> String {
        // Postgres: COALESCE(json_agg(json_build_array(..) ORDER BY ..), '[]'); MySQL:
        // JSON_ARRAYAGG(JSON_ARRAY(..)); SQL Server: a FOR JSON PATH subquery.
        match self {
            Dialect::Sqlite => {
                let values = columns
                    .iter()
                    .map(|c| self.json_value(c))
                    .collect::<Vec<_>>()
                    .join(", ");
                format!(
                    "(SELECT json_group_array(json_array({values}) ORDER BY {}) FROM {table} AS {alias} WHERE {condition})",
                    self.insertion_order(alias)
                )
            }
        }
    }

    /// One value of [`Dialect::json_rows`]. SQLite's JSON functions reject BLOBs (or, worse,
    /// embed one that happens to parse as JSONB) and print REALs with 15 significant digits,
    /// so both are tagged; `quote` prints a REAL so that it reads back exactly. SQLite
    /// columns are not typed, so the test is on each stored value.
    fn json_value(self, expr: &str) -> String {
        match self {
            Dialect::Sqlite => format!(
                "CASE typeof({expr}) WHEN 'blob' THEN json_array('x', hex({expr})) WHEN 'real' THEN json_array('f', quote({expr})) ELSE {expr} END"
            ),
        }
    }

    /// A derived table of one-column rows, `(VALUES (?), (?)) AS alias`, and the name by
    /// which its column is referred to.
    pub fn values_table(self, placeholders: &[String], alias: &str) -> (String, String) {
        // Postgres: `AS alias(v)`; SQL Server: the same with `(VALUES ...)`.
        let rows = placeholders
            .iter()
            .map(|p| format!("({p})"))
            .collect::<Vec<_>>()
            .join(", ");
        match self {
            Dialect::Sqlite => (format!("(VALUES {rows}) AS {alias}"), format!("{alias}.column1")),
        }
    }

    /// How a write transaction starts. SQLite takes the write lock up front so two writers
    /// wait on the busy timeout instead of failing on a read-to-write upgrade.
    pub fn begin_write(self) -> &'static str {
        match self {
            Dialect::Sqlite => "BEGIN IMMEDIATE",
        }
    }
}

fn wrap(escaped: &str, lead: bool, trail: bool, wildcard: char) -> String {
    let mut out = String::with_capacity(escaped.len() + 2);
    if lead {
        out.push(wildcard);
    }
    out.push_str(escaped);
    if trail {
        out.push(wildcard);
    }
    out
}

/// Escapes a literal for `LIKE ... ESCAPE '\'`.
pub fn escape_like(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Escapes a literal for SQLite's `GLOB`, which has no escape character: metacharacters
/// become one-character sets.
fn escape_glob(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '*' | '?' | '[' => {
                out.push('[');
                out.push(c);
                out.push(']');
            }
            _ => out.push(c),
        }
    }
    out
}

pub(crate) fn is_plain_ident(part: &str) -> bool {
    let mut chars = part.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Checks a column name from the configuration: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn validate_column(what: &str, name: &str) -> Result<(), String> {
    if is_plain_ident(name) {
        Ok(())
    } else {
        Err(format!(
            "{what} `{name}` is not a plain column name ([A-Za-z_][A-Za-z0-9_]*)"
        ))
    }
}

/// Checks a table name from the configuration: a plain name, optionally `schema.table`.
pub fn validate_table(what: &str, name: &str) -> Result<(), String> {
    let parts: Vec<&str> = name.split('.').collect();
    if parts.len() <= 2 && parts.iter().all(|p| is_plain_ident(p)) {
        Ok(())
    } else {
        Err(format!(
            "{what} `{name}` is not a plain table name (`table` or `schema.table`, each [A-Za-z_][A-Za-z0-9_]*)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: Dialect = Dialect::Sqlite;

    #[test]
    fn picks_dialect_from_url() {
        assert_eq!(Dialect::from_url("sqlite::memory:"), Ok(Dialect::Sqlite));
        assert_eq!(Dialect::from_url("sqlite:data/x.db?mode=rwc"), Ok(Dialect::Sqlite));
        assert_eq!(
            Dialect::from_url("postgres://u:pw@h/db"),
            Err("the postgres dialect is not built into this binary yet".to_owned())
        );
        assert_eq!(
            Dialect::from_url("mysql://h/db"),
            Err("the mysql dialect is not built into this binary yet".to_owned())
        );
        let e = Dialect::from_url("oracle://u:pw@h").unwrap_err();
        assert!(e.contains("`oracle:`") && !e.contains("pw"), "{e}");
    }

    #[test]
    fn quoting_and_placeholders() {
        assert_eq!(D.quote("users"), "\"users\"");
        assert_eq!(D.quote("hr.users"), "\"hr\".\"users\"");
        assert_eq!(D.placeholder(3), "?");
    }

    #[test]
    fn identifiers() {
        assert!(validate_column("column", "user_name").is_ok());
        assert!(validate_column("column", "_x9").is_ok());
        for bad in ["", "9a", "a b", "a\"b", "a.b", "a;--", "é"] {
            assert!(validate_column("column", bad).is_err(), "{bad}");
        }
        assert!(validate_table("table", "hr.users").is_ok());
        for bad in ["a.b.c", ".a", "a.", "a-b", "[a]"] {
            assert!(validate_table("table", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn case_insensitive_like() {
        let (sql, p) = D.text_match("t.\"n\"", CompareOp::Contains, "a%b_c\\d", true, "?");
        assert_eq!(sql, "lower(t.\"n\") LIKE lower(?) ESCAPE '\\'");
        assert_eq!(p, "%a\\%b\\_c\\\\d%");
        assert_eq!(D.text_match("c", CompareOp::StartsWith, "ab", true, "?").1, "ab%");
        assert_eq!(D.text_match("c", CompareOp::EndsWith, "ab", true, "?").1, "%ab");
    }

    #[test]
    fn case_sensitive_glob() {
        let (sql, p) = D.text_match("c", CompareOp::Contains, "a*b?[c]%_", false, "?");
        assert_eq!(sql, "c GLOB ?");
        assert_eq!(p, "*a[*]b[?][[]c]%_*");
        assert_eq!(D.text_match("c", CompareOp::StartsWith, "x", false, "?").1, "x*");
    }

    #[test]
    fn clauses() {
        assert_eq!(D.negate("c = ?"), "NOT COALESCE(c = ?, 0)");
        assert_eq!(D.order_term("c", false), "c ASC NULLS LAST");
        assert_eq!(D.order_term("c", true), "c DESC NULLS FIRST");
        assert_eq!(D.limit_offset("?", Some("?")), "LIMIT ? OFFSET ?");
        assert_eq!(D.limit_offset("?", None), "LIMIT ?");
        assert_eq!(D.returning("\"id\""), " RETURNING \"id\"");
        assert_eq!(D.fold_case("x"), "lower(x)");
        assert_eq!(D.insertion_order("c"), "c.rowid");
        let (from, col) = D.values_table(&["?".into(), "?".into()], "v");
        assert_eq!(from, "(VALUES (?), (?)) AS v");
        assert_eq!(col, "v.column1");
        assert_eq!(D.begin_write(), "BEGIN IMMEDIATE");
    }

    #[test]
    fn json_rows_tags_blobs_and_reals() {
        let sql = D.json_rows(&["c.\"v\"".into()], "\"kids\"", "c", "c.\"k\" = t.\"id\"");
        assert_eq!(
            sql,
            r#"(SELECT json_group_array(json_array(CASE typeof(c."v") WHEN 'blob' THEN json_array('x', hex(c."v")) WHEN 'real' THEN json_array('f', quote(c."v")) ELSE c."v" END) ORDER BY c.rowid) FROM "kids" AS c WHERE c."k" = t."id")"#
        );
    }
}
