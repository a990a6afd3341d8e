use super::*;

fn rule(conditions: Vec<Condition>, op: Option<OpKind>, outcome: Outcome) -> ErrorRule {
    ErrorRule {
        conditions,
        op,
        outcome,
        origin: "m.toml:1".into(),
    }
}

fn re(p: &str) -> Condition {
    Condition::Message(regex_lite::Regex::new(p).expect("regex"))
}

fn respond(status: u16, scim_type: Option<&str>) -> Outcome {
    Outcome::Respond {
        status,
        scim_type: scim_type.map(str::to_owned),
    }
}

fn status_of(v: Verdict) -> Option<(u16, Option<String>)> {
    match v {
        Verdict::Respond(ConnectorError::Mapped { status, scim_type, .. }) => Some((status, scim_type)),
        _ => None,
    }
}

#[test]
fn ldap_codes_match_by_number_whatever_name_the_rule_used() {
    assert_eq!(ldap::code_named("entryAlreadyExists"), Some(68));
    assert_eq!(ldap::code_named("UNWILLINGTOPERFORM"), Some(53));
    assert_eq!(ldap::name_of(50), Some("insufficientAccessRights"));
    assert_eq!(ldap::code_named("noSuchThing"), None);
    assert!(!ldap::is_failure(0) && !ldap::is_failure(6) && ldap::is_failure(32));
    let fault = ldap::fault(OpKind::Update, 53, "0000052D: Constraint violation");
    let r = rule(
        vec![Condition::Ldap(53), re("0000052D")],
        None,
        respond(400, Some("invalidValue")),
    );
    assert!(r.matches(&fault));
    assert!(!r.matches(&ldap::fault(OpKind::Update, 53, "no global superior knowledge")));
    assert!(!r.matches(&ldap::fault(OpKind::Update, 19, "0000052D")));
}

#[test]
fn sqlite_faults_carry_extended_and_primary_codes_and_the_constraint() {
    let f = sqlite::fault(OpKind::Create, 275, "CHECK constraint failed: age_positive");
    assert!(f.codes.contains(&FaultCode::Errno {
        code: 275,
        name: Some("SQLITE_CONSTRAINT_CHECK")
    }));
    assert!(f.codes.contains(&FaultCode::Errno {
        code: 19,
        name: Some("SQLITE_CONSTRAINT")
    }));
    assert!(f.codes.contains(&FaultCode::Constraint("age_positive".into())));
    for c in [
        Condition::Errno(Errno::Number(275)),
        Condition::Errno(Errno::Number(19)),
        Condition::Errno(Errno::Name("sqlite_constraint_check".into())),
        Condition::Constraint("AGE_POSITIVE".into()),
    ] {
        assert!(rule(vec![c.clone()], None, Outcome::Retry).matches(&f), "{c:?}");
    }
    assert!(!rule(vec![Condition::Errno(Errno::Number(2067))], None, Outcome::Retry).matches(&f));
    assert_eq!(
        sqlite::constraint_in("UNIQUE constraint failed: index 'users_lower_login'").as_deref(),
        Some("users_lower_login")
    );
    assert_eq!(
        sqlite::constraint_in("UNIQUE constraint failed: users.login").as_deref(),
        Some("users.login")
    );
    assert_eq!(sqlite::constraint_in("FOREIGN KEY constraint failed"), None);
}

#[test]
fn sqlstate_matches_exactly_or_by_class_and_never_on_sqlite() {
    let pg = Fault {
        op: OpKind::Create,
        codes: vec![FaultCode::SqlState("23505".into())],
        message: "duplicate key".into(),
    };
    let class = rule(vec![Condition::SqlState(SqlState("23".into()))], None, Outcome::Retry);
    let exact = rule(
        vec![Condition::SqlState(SqlState("23505".into()))],
        None,
        Outcome::Retry,
    );
    let other = rule(
        vec![Condition::SqlState(SqlState("23503".into()))],
        None,
        Outcome::Retry,
    );
    assert!(class.matches(&pg) && exact.matches(&pg) && !other.matches(&pg));
    assert!(!class.matches(&sqlite::fault(OpKind::Create, 2067, "UNIQUE constraint failed: t.a")));
}

#[test]
fn the_first_matching_rule_wins_and_op_narrows_it() {
    let rules = ErrorRules(vec![
        rule(vec![Condition::Ldap(20)], Some(OpKind::AddMember), Outcome::Ok),
        rule(vec![Condition::Ldap(20)], None, respond(409, Some("mutability"))),
        rule(vec![Condition::Ldap(20)], None, respond(400, None)),
    ]);
    assert!(matches!(
        rules.verdict(&ldap::fault(OpKind::AddMember, 20, "")),
        Verdict::Ok
    ));
    assert_eq!(
        status_of(rules.verdict(&ldap::fault(OpKind::Update, 20, ""))),
        Some((409, Some("mutability".into())))
    );
    assert!(matches!(
        rules.verdict(&ldap::fault(OpKind::Update, 68, "")),
        Verdict::Default
    ));
    assert!(matches!(
        ErrorRules::default().verdict(&ldap::fault(OpKind::Update, 20, "")),
        Verdict::Default
    ));
}

#[test]
fn ok_never_turns_a_failed_read_or_create_into_a_success() {
    let rules = ErrorRules(vec![rule(vec![Condition::Ldap(50)], None, Outcome::Ok)]);
    for op in [OpKind::Create, OpKind::Get, OpKind::Search] {
        assert!(
            matches!(rules.verdict(&ldap::fault(op, 50, "")), Verdict::Default),
            "{op}"
        );
    }
    assert!(matches!(
        rules.verdict(&ldap::fault(OpKind::Delete, 50, "")),
        Verdict::Ok
    ));
}

#[test]
fn a_mapped_error_describes_the_failure_and_names_the_rule() {
    let rules = ErrorRules(vec![rule(vec![re("^E404")], None, respond(404, None))]);
    let Verdict::Respond(ConnectorError::Mapped { detail, .. }) =
        rules.verdict(&sqlite::fault(OpKind::Update, 1811, "E404 archived"))
    else {
        panic!("expected a mapped error");
    };
    assert!(
        detail.contains("E404 archived") && detail.contains("m.toml:1"),
        "{detail}"
    );
}

#[test]
fn keys_belong_to_kinds() {
    assert_eq!(MatchKey::of_kind("ldap"), vec![MatchKey::Ldap, MatchKey::Message]);
    assert_eq!(
        MatchKey::of_kind("sql"),
        vec![
            MatchKey::SqlState,
            MatchKey::Errno,
            MatchKey::Constraint,
            MatchKey::Message
        ]
    );
    assert!(repeatable("ldap", None) && repeatable("sql", Some(OpKind::Create)));
    assert!(!repeatable("http", Some(OpKind::Create)) && repeatable("http", Some(OpKind::Get)));
    assert_eq!(OpKind::parse("add_member"), Some(OpKind::AddMember));
    assert_eq!(OpKind::parse("modify"), None);
}

#[tokio::test]
async fn retrying_is_bounded_and_ends_unavailable() {
    let mut calls = 0;
    let started = std::time::Instant::now();
    let r: Result<(), ConnectorError> = retrying(|| {
        calls += 1;
        async { Err(Failure::Retry("busy".into())) }
    })
    .await;
    assert_eq!(calls, RETRIES + 1);
    assert!(
        matches!(r, Err(ConnectorError::Unavailable(ref m)) if m.contains("busy")),
        "{r:?}"
    );
    assert!(started.elapsed() >= Duration::from_millis(350));
    let mut calls = 0;
    let r = retrying(|| {
        calls += 1;
        let n = calls;
        async move { if n < 2 { Err(Failure::Retry("x".into())) } else { Ok(n) } }
    })
    .await;
    assert_eq!(r.ok(), Some(2));
}
