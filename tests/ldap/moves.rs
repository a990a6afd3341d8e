//! Moves: a `parent` template over the entry's own attributes places users by department,
//! and a change of department is a ModifyDN with newSuperior (the id stays).

use serde_json::json;

use crate::harness::{Gateway, Reply};
use crate::slapd::{self, Slapd};
use scimgate::connector::ldap::dn;

use crate::{Setup, attr, create_group, create_user, gateway_with, ldap_by_id, member_ids, tag, user_body};

/// DNs compared in their normal form: slapd answers with hex escapes (`\2C`) where the
/// request had `\,`.
fn dn_eq(a: &str, b: &str) -> bool {
    dn::normalize(a) == dn::normalize(b)
}

/// The OpenLDAP profile with users placed under `ou=<departmentNumber>` when there is one.
async fn by_department(s: &Slapd) -> Gateway {
    gateway_with(
        s,
        Setup {
            users: vec![(
                "rdn = \"uid\"\n",
                "rdn = \"uid\"\nparent = \"{{#if departmentNumber}}ou={{departmentNumber}},{{/if}}ou=people,dc=example,dc=org\"\n",
            )],
            ..Default::default()
        },
    )
    .await
}

fn add_ou(s: &Slapd, name: &str) -> String {
    let dn = format!("ou={},{}", slapd::dn_escape(name), slapd::PEOPLE);
    s.ldapadd(&format!("dn: {dn}\nobjectClass: organizationalUnit\nou: {name}\n"));
    dn
}

fn department() -> String {
    format!("{}:department", crate::ENTERPRISE)
}

async fn set_department(gw: &Gateway, id: &str, value: serde_json::Value) -> Reply {
    gw.patch_ops(
        &format!("/Users/{id}"),
        json!([{"op": "replace", "path": department(), "value": value}]),
    )
    .await
}

async fn dn_of(s: &Slapd, id: &str) -> String {
    ldap_by_id(s, id).await.expect("entry by entryUUID").0
}

#[tokio::test]
async fn a_changed_department_moves_the_entry_and_keeps_id_and_groups() {
    let Some(s) = crate::server() else { return };
    let gw = by_department(s).await;
    let t = tag("move");
    let sales = add_ou(s, &format!("{t}Sales"));
    let emea = add_ou(s, &format!("{t}Sales, EMEA + APAC"));

    let mut body = user_body(&format!("{t}ann"));
    body[crate::ENTERPRISE] = json!({"department": format!("{t}Sales")});
    let id = create_user(&gw, body).await["id"].as_str().unwrap().to_owned();
    let dn = dn_of(s, &id).await;
    assert!(dn_eq(&dn, &format!("uid={t}ann,{sales}")), "placed by department: {dn}");
    let group = create_group(&gw, &format!("{t}team"), &[&id]).await;
    let gid = group["id"].as_str().unwrap();

    // Into an OU whose name needs escaping in a DN.
    let r = set_department(&gw, &id, json!(format!("{t}Sales, EMEA + APAC"))).await;
    assert_eq!(r.status, 200, "move: {}", r.body);
    let moved = dn_of(s, &id).await;
    assert!(dn_eq(&moved, &format!("uid={t}ann,{emea}")), "moved: {moved}");
    assert_eq!(r.body["id"], id.as_str());
    let got = gw.get(&format!("/Users/{id}")).await;
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(
        got.body[crate::ENTERPRISE]["department"],
        format!("{t}Sales, EMEA + APAC")
    );
    assert_eq!(member_ids(&gw, gid).await, vec![id.clone()], "refint follows the move");

    // A rename and a move in one request: one ModifyDN.
    let r = gw
        .patch_ops(
            &format!("/Users/{id}"),
            json!([
                {"op": "replace", "path": "userName", "value": format!("{t}anna")},
                {"op": "replace", "path": department(), "value": format!("{t}Sales")},
            ]),
        )
        .await;
    assert_eq!(r.status, 200, "rename and move: {}", r.body);
    let dn = dn_of(s, &id).await;
    assert!(dn_eq(&dn, &format!("uid={t}anna,{sales}")), "renamed and moved: {dn}");

    // No department: back to the default parent.
    let r = gw
        .patch_ops(&format!("/Users/{id}"), json!([{"op": "remove", "path": department()}]))
        .await;
    assert_eq!(r.status, 200, "remove department: {}", r.body);
    let dn = dn_of(s, &id).await;
    assert!(
        dn_eq(&dn, &format!("uid={t}anna,{}", slapd::PEOPLE)),
        "default parent: {dn}"
    );
    assert_eq!(member_ids(&gw, gid).await, vec![id.clone()]);
}

#[tokio::test]
async fn a_department_without_an_ou_is_400_and_writes_nothing() {
    let Some(s) = crate::server() else { return };
    let gw = by_department(s).await;
    let t = tag("nomove");
    let sales = add_ou(s, &format!("{t}Sales"));
    let mut body = user_body(&format!("{t}bob"));
    body[crate::ENTERPRISE] = json!({"department": format!("{t}Sales")});
    body["title"] = json!("Engineer");
    let id = create_user(&gw, body).await["id"].as_str().unwrap().to_owned();

    // A department that names no OU, and one that tries to name a DN of its own.
    for value in [format!("{t}Nowhere"), format!("x,ou=admins,{}", slapd::SUFFIX)] {
        let r = gw
            .patch_ops(
                &format!("/Users/{id}"),
                json!([
                    {"op": "replace", "path": "title", "value": "Manager"},
                    {"op": "replace", "path": department(), "value": value},
                ]),
            )
            .await;
        assert_eq!(r.status, 400, "{value}: {}", r.body);
        assert_eq!(r.body["scimType"], "invalidValue", "{}", r.body);
        let (dn, attrs) = ldap_by_id(s, &id).await.expect("entry");
        assert!(dn_eq(&dn, &format!("uid={t}bob,{sales}")), "not moved: {dn}");
        assert_eq!(attr(&attrs, "title"), Some("Engineer"), "nothing written");
        assert_eq!(attr(&attrs, "departmentNumber"), Some(format!("{t}Sales").as_str()));
    }

    // A create into a missing OU leaves no entry behind.
    let mut body = user_body(&format!("{t}carl"));
    body[crate::ENTERPRISE] = json!({"department": format!("{t}Nowhere")});
    let r = gw.post("/Users", &body).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.body["scimType"], "invalidValue", "{}", r.body);
    let found = crate::ldap_entry(s, slapd::SUFFIX, &format!("(uid={t}carl)")).await;
    assert!(found.is_none(), "{found:?}");
}
