//! Every filter operator over HTTP, against the OpenLDAP profile.

use std::collections::BTreeSet;

use serde_json::json;

use crate::harness::{Gateway, user_names};
use crate::{ENTERPRISE, create_user, gateway, server, tag};

/// What a filter must give: exactly these users (names without the tag), or exactly these
/// users *or* 400 invalidFilter (an operator the directory's schema cannot evaluate, e.g.
/// ordering on an attribute without an ORDERING rule: the connector may refuse it, but must
/// never answer a wrong list).
enum Want<'a> {
    Exactly(&'a [&'a str]),
    Includes(&'a [&'a str]),
    ExactlyOr400(&'a [&'a str]),
    Invalid,
}

async fn names(gw: &Gateway, t: &str, filter: &str) -> Result<BTreeSet<String>, (u16, serde_json::Value)> {
    let full = format!("userName sw \"{t}\" and ({filter})");
    let r = gw.filter("/Users", &full).await;
    if r.status != 200 {
        return Err((r.status.as_u16(), r.body));
    }
    Ok(user_names(&r.body)
        .into_iter()
        .map(|n| n.strip_prefix(t).unwrap_or(&n).to_owned())
        .collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operator() {
    let Some(s) = server() else { return };
    let gw = gateway(s).await;
    let t = tag("flt");
    // alice: title Engineer, employeeNumber 100, mail @a.example, manager carol.
    // bob:   title engineer, employeeNumber 200, mail @b.example, inactive.
    // carol: no title, no employee number, mail @a.example.
    let carol = create_user(&gw, crate::user_body(&format!("{t}carol"))).await;
    let carol_id = carol["id"].as_str().unwrap().to_owned();
    let mut a = crate::user_body(&format!("{t}alice"));
    a["title"] = json!("Engineer");
    a["displayName"] = json!("Alice A*(x)");
    a["emails"] = json!([{"value": format!("{t}alice@a.example"), "type": "work"}]);
    a[ENTERPRISE] = json!({"employeeNumber": "100", "manager": {"value": carol_id}});
    let alice = create_user(&gw, a).await;
    let mut b = crate::user_body(&format!("{t}bob"));
    b["title"] = json!("engineer");
    b["active"] = json!(false);
    b["emails"] = json!([{"value": format!("{t}bob@b.example"), "type": "work"}]);
    b[ENTERPRISE] = json!({"employeeNumber": "200"});
    create_user(&gw, b).await;
    // carol's mail is the default <name>@example.com; patch it to @a.example.
    let r = gw
        .patch_ops(
            &format!("/Users/{carol_id}"),
            json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": format!("{t}carol@a.example")}]),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    let alice_id = alice["id"].as_str().unwrap().to_owned();
    let alice_modified = alice["meta"]["lastModified"].as_str().unwrap().to_owned();

    let cases: Vec<(String, Want)> = vec![
        ("title eq \"engineer\"".into(), Want::Exactly(&["alice", "bob"])),
        ("title eq \"ENGINEER\"".into(), Want::Exactly(&["alice", "bob"])),
        ("title ne \"Engineer\"".into(), Want::Exactly(&["carol"])),
        ("title pr".into(), Want::Exactly(&["alice", "bob"])),
        ("not (title pr)".into(), Want::Exactly(&["carol"])),
        ("displayName co \"*(x)\"".into(), Want::Exactly(&["alice"])),
        ("displayName co \"*\"".into(), Want::Exactly(&["alice"])),
        (format!("userName sw \"{t}b\""), Want::Exactly(&["bob"])),
        ("userName ew \"ol\"".into(), Want::Exactly(&["carol"])),
        (
            "emails[type eq \"work\"].value ew \"@a.example\"".into(),
            Want::Exactly(&["alice", "carol"]),
        ),
        (
            "emails[type eq \"work\" and value co \"@b.\"]".into(),
            Want::Exactly(&["bob"]),
        ),
        ("emails.value sw \"nobody\"".into(), Want::Exactly(&[])),
        (
            format!("emails[type eq \"work\"].value eq \"{t}ALICE@a.example\""),
            Want::Exactly(&["alice"]),
        ),
        (
            "title eq \"engineer\" and active eq true".into(),
            Want::Exactly(&["alice"]),
        ),
        ("active eq false".into(), Want::Exactly(&["bob"])),
        ("active eq true".into(), Want::Exactly(&["alice", "carol"])),
        ("title eq \"x\" or not (title pr)".into(), Want::Exactly(&["carol"])),
        (
            "not (title eq \"engineer\" or userName ew \"ol\")".into(),
            Want::Exactly(&[]),
        ),
        (format!("id eq \"{alice_id}\""), Want::Exactly(&["alice"])),
        (format!("id ne \"{alice_id}\""), Want::Exactly(&["bob", "carol"])),
        ("id eq \"*\"".into(), Want::Exactly(&[])),
        (
            format!("{ENTERPRISE}:manager.value eq \"{carol_id}\""),
            Want::Exactly(&["alice"]),
        ),
        (
            format!("{ENTERPRISE}:employeeNumber eq \"200\""),
            Want::Exactly(&["bob"]),
        ),
        (
            format!("meta.lastModified ge \"{alice_modified}\""),
            Want::Includes(&["alice"]),
        ),
        (
            "meta.lastModified gt \"2000-01-01T00:00:00Z\"".into(),
            Want::Exactly(&["alice", "bob", "carol"]),
        ),
        (
            "meta.lastModified lt \"2000-01-01T00:00:00Z\"".into(),
            Want::Exactly(&[]),
        ),
        (
            "meta.created le \"2999-01-01T00:00:00Z\"".into(),
            Want::Exactly(&["alice", "bob", "carol"]),
        ),
        ("meta.created gt \"2999-01-01T00:00:00Z\"".into(), Want::Exactly(&[])),
        (format!("userName gt \"{t}bob\""), Want::ExactlyOr400(&["carol"])),
        (format!("userName ge \"{t}bob\""), Want::ExactlyOr400(&["bob", "carol"])),
        (format!("userName lt \"{t}bob\""), Want::ExactlyOr400(&["alice"])),
        (format!("userName le \"{t}bob\""), Want::ExactlyOr400(&["alice", "bob"])),
        (
            format!("{ENTERPRISE}:employeeNumber gt \"150\""),
            Want::ExactlyOr400(&["bob"]),
        ),
        ("PLACEHOLDER eq \"x\"".into(), Want::Exactly(&[])),
        ("externalId eq \"x\"".into(), Want::Exactly(&[])),
        ("externalId co \"x\"".into(), Want::Invalid),
        ("active gt true".into(), Want::Invalid),
        ("title eq".into(), Want::Invalid),
    ];
    let mut failures = Vec::new();
    for (filter, want) in &cases {
        let got = names(&gw, &t, filter).await;
        let ok = match (want, &got) {
            (Want::Exactly(w), Ok(g)) => set(w) == *g,
            (Want::Includes(w), Ok(g)) => set(w).is_subset(g),
            (Want::ExactlyOr400(w), Ok(g)) => set(w) == *g,
            (Want::ExactlyOr400(_), Err((400, b))) => b["scimType"] == json!("invalidFilter"),
            (Want::Invalid, Err((400, b))) => b["scimType"] == json!("invalidFilter"),
            _ => false,
        };
        if !ok {
            let w = match want {
                Want::Exactly(w) => format!("{w:?}"),
                Want::Includes(w) => format!("at least {w:?}"),
                Want::ExactlyOr400(w) => format!("{w:?} or 400 invalidFilter"),
                Want::Invalid => "400 invalidFilter".into(),
            };
            failures.push(format!("  {filter}\n    expected {w}\n    got      {got:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} filter(s) wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// Filter values reach the directory escaped: `*`, `(`, `)`, `\` and NUL are literals.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filter_values_are_escaped() {
    let Some(s) = server() else { return };
    let gw = gateway(s).await;
    let t = tag("esc");
    for (n, display) in [("a", "a*b"), ("b", "a(b)"), ("c", "a\\b"), ("d", "axb"), ("e", "plain")] {
        let mut u = crate::user_body(&format!("{t}{n}"));
        u["displayName"] = json!(display);
        create_user(&gw, u).await;
    }
    let cases: &[(&str, &[&str])] = &[
        ("displayName eq \"a*b\"", &["a"]),
        ("displayName eq \"*\"", &[]),
        ("displayName co \"*\"", &["a"]),
        ("displayName sw \"a(\"", &["b"]),
        ("displayName eq \"a(b)\"", &["b"]),
        ("displayName co \")\"", &["b"]),
        ("displayName eq \"a\\\\b\"", &["c"]),
        ("displayName co \"\\\\\"", &["c"]),
        ("displayName eq \"a*)(uid=*\"", &[]),
        ("displayName eq \"x)(|(uid=*\"", &[]),
        ("displayName eq \"a\\u0000b\"", &[]),
    ];
    for (filter, want) in cases {
        let got = names(&gw, &t, filter).await;
        assert_eq!(got, Ok(set(want)), "{filter}");
    }
}
