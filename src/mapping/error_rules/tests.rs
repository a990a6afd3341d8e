use crate::config::{Diagnostics, SourceFile};
use crate::connector::faults::{self, Condition, ErrorRules, OpKind, Outcome, Verdict};
use crate::mapping::compile::{Compiled, compile};

const SQL_USERS: &str = r#"
[User]
[User.sql]
table = "users"
id = "id"
[User.attributes]
userName = "login"
"#;

const SQL_GROUPS: &str = r#"
[Group]
[Group.sql]
table = "groups"
id = "id"
[Group.attributes]
displayName = "name"
members = { table = "group_members", key = "group_id", value = "member_id", reference = "User" }
"#;

const LDAP_USERS: &str = r#"
[User]
[User.ldap]
base = "ou=people,dc=example,dc=org"
create_classes = ["inetOrgPerson"]
rdn = "uid"
id = "entryUUID"
[User.attributes]
userName = "uid"
"#;

fn compiled(kind: &str, text: &str) -> Result<Vec<Compiled>, Diagnostics> {
    compile(&[SourceFile::new("m.toml", text)], kind)
}

fn rules_of(kind: &str, text: &str, resource: &str) -> ErrorRules {
    let out = compiled(kind, text).unwrap_or_else(|e| panic!("{e}"));
    out.into_iter()
        .find(|c| c.resource.name == resource)
        .expect("resource")
        .resource
        .entity_spec
        .errors
}

/// The report `scimgate check` prints for a mapping that must not compile.
fn report(kind: &str, text: &str) -> String {
    match compiled(kind, text) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn rules_compile_type_first_then_file_in_order() {
    let text = format!(
        r#"{SQL_USERS}
[[User.errors]]
match = {{ errno = "SQLITE_CONSTRAINT_CHECK", constraint = "title_ok" }}
as = "400 invalidValue"

[[errors]]
match = {{ errno = 2067, message = "^UNIQUE" }}
op = "update"
as = "409 mutability"

[[errors]]
match = {{ errno = "SQLITE_BUSY" }}
as = "retry"
"#
    );
    let rules = rules_of("sql", &text, "User");
    assert_eq!(rules.0.len(), 3);
    assert_eq!(rules.0[0].origin, "m.toml:9");
    assert_eq!(
        rules.0[0].outcome,
        Outcome::Respond {
            status: 400,
            scim_type: Some("invalidValue".into())
        }
    );
    assert_eq!(rules.0[1].op, Some(OpKind::Update));
    assert!(matches!(rules.0[1].conditions[1], Condition::Message(_)));
    assert_eq!(rules.0[2].outcome, Outcome::Retry);
    let check = faults::sqlite::fault(OpKind::Create, 275, "CHECK constraint failed: title_ok");
    assert!(matches!(rules.verdict(&check), Verdict::Respond(_)));
}

#[test]
fn ldap_codes_are_numbers_or_rfc_names_and_ok_fits_memberships() {
    let text = format!(
        r#"{SQL_USERS}{SQL_GROUPS}
[[Group.errors]]
match = {{ errno = 1811, message = "ALREADY_IN_GROUP" }}
op = "add_member"
as = "ok"
"#
    );
    assert_eq!(rules_of("sql", &text, "Group").0[0].outcome, Outcome::Ok);
    assert!(rules_of("sql", &text, "User").is_empty());
    let ldap = format!(
        r#"{LDAP_USERS}
[[User.errors]]
match = {{ ldap = "unwillingToPerform", message = "0000052D" }}
as = "400 invalidValue"

[[User.errors]]
match = {{ ldap = 50 }}
op = "delete"
as = "404"
"#
    );
    let rules = rules_of("ldap", &ldap, "User");
    assert_eq!(rules.0[0].conditions[0], Condition::Ldap(53));
    assert_eq!(rules.0[1].conditions[0], Condition::Ldap(50));
}

#[test]
fn a_key_of_another_kind_is_reported_at_its_position_with_a_hint() {
    let text = format!("{LDAP_USERS}\n[[User.errors]]\nmatch = {{ sqlstate = \"23505\" }}\nas = \"409\"\n");
    let r = report("ldap", &text);
    assert!(
        r.contains("m.toml:12:22: `User.errors.match.sqlstate`: `sqlstate` cannot occur on a ldap connector: its failures carry ldap, message"),
        "{r}"
    );
    assert!(r.contains("hint: for example match = { ldap = "), "{r}");
    let text = format!("{SQL_USERS}\n[[errors]]\nmatch = {{ ldap = 68 }}\nas = \"409\"\n");
    let r = report("sql", &text);
    assert!(
        r.contains("`errors.match.ldap`: `ldap` cannot occur on a sql connector"),
        "{r}"
    );
    let text = format!("{SQL_USERS}\n[[errors]]\nmatch = {{ status = 409 }}\nas = \"409\"\n");
    assert!(report("sql", &text).contains("`status` cannot occur on a sql connector"));
}

#[test]
fn bad_outcomes_are_reported() {
    let cases: &[(&str, &str)] = &[
        (r#"as = "418""#, "418 is not a status a backend failure can answer with"),
        (r#"as = "200""#, "200 is not a status"),
        (r#"as = "400 invalidThing""#, "unknown scimType \"invalidThing\""),
        (r#"as = "400 invalidvalue""#, "unknown scimType \"invalidvalue\""),
        (r#"as = "404 invalidValue""#, "a scimType goes with 400 or 409, not 404"),
        (r#"as = "400 invalidValue extra""#, "unexpected \"extra\""),
        (r#"as = "fail""#, "\"fail\" is not an outcome"),
        (r#"as = "ok""#, "`as = \"ok\"` needs an `op`"),
        ("op = \"create\"\nas = \"ok\"", "a failed `create` cannot count as done"),
        ("op = \"get\"\nas = \"ok\"", "a failed `get` cannot count as done"),
        ("op = \"modify\"\nas = \"409\"", "unknown operation \"modify\""),
        (
            "op = \"add_member\"\nas = \"ok\"",
            "this resource type has no memberships",
        ),
    ];
    for (rest, want) in cases {
        let text = format!("{SQL_USERS}\n[[User.errors]]\nmatch = {{ errno = 19 }}\n{rest}\n");
        let r = report("sql", &text);
        assert!(r.contains(want), "{rest}: {r}");
        assert!(r.contains("m.toml:1") && r.contains("hint: "), "{r}");
    }
}

#[test]
fn bad_match_values_are_reported() {
    let cases: &[(&str, &str, &str)] = &[
        ("ldap", r#"message = "([unclosed""#, "not a regular expression"),
        (
            "ldap",
            r#"ldap = "noSuchResult""#,
            "\"noSuchResult\" is not an LDAP result code",
        ),
        ("ldap", "ldap = 9", "9 is not an LDAP result code"),
        ("ldap", "ldap = 0", "0 (success) does not report a failure"),
        ("sql", r#"sqlstate = "2350""#, "\"2350\" is not a SQLSTATE"),
        (
            "sql",
            r#"errno = "SQLITE_NOPE""#,
            "\"SQLITE_NOPE\" is not a result code name",
        ),
        ("sql", r#"constraint = " ""#, "`constraint` is empty"),
    ];
    for (kind, m, want) in cases {
        let head = if *kind == "ldap" { LDAP_USERS } else { SQL_USERS };
        let text = format!("{head}\n[[errors]]\nmatch = {{ {m} }}\nas = \"400\"\n");
        let r = report(kind, &text);
        assert!(r.contains(want), "{m}: {r}");
        let match_line = head.lines().count() + 3;
        assert!(
            r.contains(&format!("m.toml:{match_line}:")),
            "{m}: reported at the match line: {r}"
        );
    }
    let r = report("sql", &format!("{SQL_USERS}\n[[errors]]\nmatch = {{}}\nas = \"400\"\n"));
    assert!(r.contains("`match` names no condition"), "{r}");
    let r = report(
        "sql",
        &format!("{SQL_USERS}\n[[errors]]\nmatch = {{ sqlstat = \"23505\" }}\nas = \"400\"\n"),
    );
    assert!(r.contains("unknown field `sqlstat`"), "{r}");
    let r = report("sql", &format!("{SQL_USERS}\n[[errors]]\nmatch = {{ errno = 19 }}\n"));
    assert!(r.contains("missing field `as`"), "{r}");
}

#[test]
fn every_bad_rule_is_reported_at_once() {
    let text = format!(
        "{SQL_USERS}\n[[errors]]\nmatch = {{ ldap = 68 }}\nas = \"418\"\n\n[[User.errors]]\nmatch = {{ errno = 19 }}\nas = \"ok\"\n"
    );
    let r = report("sql", &text);
    assert!(r.contains("3 error(s)"), "{r}");
}
