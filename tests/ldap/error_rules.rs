//! `[[X.errors]]` rules against slapd: a rule's answer beats the connector's default
//! mapping of a result code, the `op` of a rule narrows it, unmatched failures keep their
//! defaults, `ok` counts a failed modify as done and `retry` ends in 503.
//!
//! The mapping writes three attributes slapd's schema does not define, so each write of
//! one fails with 17 undefinedAttributeType ("<attr>: attribute type undefined"), which the
//! connector maps to 400 invalidValue by default.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::Gateway;
use crate::{Setup, create_user, gateway_with, server, tag, user_body};

const RULES: &str = r#"nickName = "scimNickname"
userType = "scimUserType"
profileUrl = "scimProfile"

[[User.errors]]
match = { ldap = "undefinedAttributeType", message = "scimNickname" }
op = "update"
as = "501"

[[User.errors]]
match = { ldap = 17, message = "(?i)^scimusertype" }
op = "update"
as = "ok"

[[User.errors]]
match = { ldap = "undefinedAttributeType", message = "scimProfile" }
as = "retry"

[User.compute]"#;

async fn gateway(s: &crate::slapd::Slapd) -> Gateway {
    gateway_with(
        s,
        Setup {
            users: vec![("[User.compute]", RULES)],
            ..Default::default()
        },
    )
    .await
}

async fn replace(gw: &Gateway, id: &str, path: &str, value: &str) -> crate::harness::Reply {
    gw.patch_ops(
        &format!("/Users/{id}"),
        json!([{"op": "replace", "path": path, "value": value}]),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_decide_before_the_default_mapping_of_result_codes() {
    let Some(s) = server() else { return };
    let gw = gateway(s).await;
    let t = tag("rules");
    let name = format!("{t}ann");
    let id = create_user(&gw, user_body(&name)).await["id"]
        .as_str()
        .expect("id")
        .to_owned();

    // The rule for `update`: 17 on the modify answers 501, and no directory text shows.
    let r = replace(&gw, &id, "nickName", "annie").await;
    assert_eq!(r.status, 501, "{}", r.body);
    let detail = r.body["detail"].as_str().unwrap_or_default();
    assert!(!detail.contains("scimNickname"), "{detail}");

    // The same failure on create is no `update`: the default 400 invalidValue.
    let mut body = user_body(&format!("{t}bob"));
    body["nickName"] = json!("bobby");
    let r = gw.post("/Users", &body).await;
    assert_eq!(
        (r.status.as_u16(), r.scim_type()),
        (400, Some("invalidValue")),
        "{}",
        r.body
    );

    // A failure no rule matches keeps its default: a duplicate entry is 409 uniqueness.
    let r = gw.post("/Users", &user_body(&name)).await;
    assert_eq!(
        (r.status.as_u16(), r.scim_type()),
        (409, Some("uniqueness")),
        "{}",
        r.body
    );

    // `ok`: the failed modify counts as done.
    let r = replace(&gw, &id, "userType", "Employee").await;
    assert!(r.status.is_success(), "{}", r.body);
    assert!(r.body.get("userType").is_none(), "nothing was written: {}", r.body);

    // `retry`: the modify is sent again three times, then 503.
    let started = Instant::now();
    let r = replace(&gw, &id, "profileUrl", "https://example.com/ann").await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.header("retry-after").is_some());
    assert!(
        started.elapsed() >= Duration::from_millis(350),
        "{:?}",
        started.elapsed()
    );

    // The entry is intact and other writes work.
    let r = replace(&gw, &id, "title", "Guide").await;
    assert!(r.status.is_success(), "{}", r.body);
    let r = gw.get(&format!("/Users/{id}")).await;
    assert_eq!(r.body["title"], json!("Guide"), "{}", r.body);
}
