//! Deactivation (two encodings of `active`), passwords (exop and `{SSHA}`), dangling
//! references.

use serde_json::json;

use crate::harness::ids;
use crate::{ENTERPRISE, Setup, attr, create_user, gateway, gateway_with, ldap_by_id, server, tag};

async fn set_active(gw: &crate::harness::Gateway, id: &str, value: serde_json::Value) {
    let r = gw
        .patch_ops(
            &format!("/Users/{id}"),
            json!([{"op": "Replace", "path": "active", "value": value}]),
        )
        .await;
    assert!(r.status.is_success(), "active={value}: {} {}", r.status, r.body);
}

async fn active_of(gw: &crate::harness::Gateway, id: &str) -> serde_json::Value {
    let r = gw.get(&format!("/Users/{id}")).await;
    assert_eq!(r.status, 200, "a disabled user still comes back from GET: {}", r.body);
    r.body["active"].clone()
}

/// ppolicy's lock attribute: `pwdAccountLockedTime: 000001010000Z` locks; deleting it
/// unlocks. A locked user cannot bind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deactivate_with_the_ppolicy_lock() {
    let Some(s) = server() else { return };
    let gw = gateway_with(
        s,
        Setup {
            connector: "allow_plaintext_passwords = true",
            ..Default::default()
        },
    )
    .await;
    let t = tag("lock");
    let mut body = crate::user_body(&format!("{t}ann"));
    body["password"] = json!("Initial-Passw0rd");
    let u = create_user(&gw, body).await;
    let id = u["id"].as_str().unwrap().to_owned();
    let (dn, _) = ldap_by_id(s, &id).await.expect("entry");
    s.bind_as(&dn, "Initial-Passw0rd").await.expect("an active user binds");

    set_active(&gw, &id, json!("False")).await;
    let (_, a) = ldap_by_id(s, &id).await.expect("entry");
    assert_eq!(attr(&a, "pwdAccountLockedTime"), Some("000001010000Z"));
    assert_eq!(active_of(&gw, &id).await, json!(false));
    assert!(
        s.bind_as(&dn, "Initial-Passw0rd").await.is_err(),
        "a locked user must not bind"
    );
    let r = gw
        .filter("/Users", &format!("userName sw \"{t}\" and active eq false"))
        .await;
    assert_eq!(ids(&r.body), vec![id.clone()], "{}", r.body);

    set_active(&gw, &id, json!(true)).await;
    let (_, a) = ldap_by_id(s, &id).await.expect("entry");
    assert_eq!(attr(&a, "pwdAccountLockedTime"), None, "reactivation deletes the lock");
    assert_eq!(active_of(&gw, &id).await, json!(true));
    s.bind_as(&dn, "Initial-Passw0rd")
        .await
        .expect("a reactivated user binds");

    // Okta: a full PUT with active false.
    let mut put = gw.get(&format!("/Users/{id}")).await.body;
    put["active"] = json!(false);
    let r = gw.put(&format!("/Users/{id}"), &put).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(active_of(&gw, &id).await, json!(false));
    // Created inactive.
    let mut body = crate::user_body(&format!("{t}born-locked"));
    body["active"] = json!(false);
    let u = create_user(&gw, body).await;
    assert_eq!(u["active"], json!(false));
}

/// A status attribute with a value for each side: `employeeType` active / disabled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deactivate_with_a_status_attribute() {
    let Some(s) = server() else { return };
    let gw = gateway_with(
        s,
        Setup {
            users: vec![(
                r#"active = { to = "pwdAccountLockedTime", false_when = { eq = "000001010000Z" } }"#,
                r#"active = { to = "employeeType", values = { true = "active", false = "disabled" }, default = true }"#,
            )],
            ..Default::default()
        },
    )
    .await;
    let t = tag("status");
    let u = create_user(&gw, crate::user_body(&format!("{t}bob"))).await;
    let id = u["id"].as_str().unwrap().to_owned();
    let (_, a) = ldap_by_id(s, &id).await.expect("entry");
    assert_eq!(attr(&a, "employeeType"), Some("active"));
    set_active(&gw, &id, json!(false)).await;
    let (_, a) = ldap_by_id(s, &id).await.expect("entry");
    assert_eq!(attr(&a, "employeeType"), Some("disabled"));
    assert_eq!(attr(&a, "pwdAccountLockedTime"), None);
    assert_eq!(active_of(&gw, &id).await, json!(false));
    let r = gw
        .filter("/Users", &format!("userName sw \"{t}\" and active eq false"))
        .await;
    assert_eq!(ids(&r.body), vec![id.clone()]);
    set_active(&gw, &id, json!("True")).await;
    let (_, a) = ldap_by_id(s, &id).await.expect("entry");
    assert_eq!(attr(&a, "employeeType"), Some("active"));
    assert_eq!(active_of(&gw, &id).await, json!(true));
}

/// `password = "exop"`: the Password Modify extended operation; the server hashes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_by_extended_operation() {
    let Some(s) = server() else { return };
    let gw = gateway_with(
        s,
        Setup {
            connector: "allow_plaintext_passwords = true",
            ..Default::default()
        },
    )
    .await;
    let t = tag("exop");
    let mut body = crate::user_body(&format!("{t}carl"));
    body["password"] = json!("First-Passw0rd");
    let u = create_user(&gw, body).await;
    assert!(u.get("password").is_none(), "the password is never returned");
    let id = u["id"].as_str().unwrap().to_owned();
    let (dn, a) = ldap_by_id(s, &id).await.expect("entry");
    let stored = attr(&a, "userPassword").unwrap_or_default().to_owned();
    assert!(
        stored.starts_with('{') && !stored.contains("First-Passw0rd"),
        "stored hashed: {stored}"
    );
    s.bind_as(&dn, "First-Passw0rd")
        .await
        .expect("bind with the first password");

    let r = gw
        .patch_ops(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "path": "password", "value": "Second-Passw0rd"}]),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    s.bind_as(&dn, "Second-Passw0rd")
        .await
        .expect("bind with the new password");
    assert!(
        s.bind_as(&dn, "First-Passw0rd").await.is_err(),
        "the old password no longer binds"
    );
    // A password change together with an attribute change.
    let r = gw
        .patch_ops(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "value": {"password": "Third-Passw0rd", "title": "Pilot"}}]),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    s.bind_as(&dn, "Third-Passw0rd")
        .await
        .expect("bind with the third password");
    let (_, a) = ldap_by_id(s, &id).await.expect("entry");
    assert_eq!(attr(&a, "title"), Some("Pilot"));
}

/// Over plain ldap:// the gateway refuses to send passwords unless allowed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_over_plain_ldap_is_refused_by_default() {
    let Some(s) = server() else { return };
    let gw = gateway(s).await;
    let t = tag("plain");
    let mut body = crate::user_body(&format!("{t}x"));
    body["password"] = json!("Some-Passw0rd");
    let r = gw.post("/Users", &body).await;
    if r.status == 201 {
        // Documented behaviour is `allow_plaintext_passwords` (default false): report it.
        panic!(
            "a password was written over plain ldap:// without allow_plaintext_passwords: {}",
            r.body
        );
    }
    assert!(r.status.is_client_error() || r.status.is_server_error(), "{}", r.body);
    let list = gw.filter("/Users", &format!("userName sw \"{t}\"")).await;
    assert_eq!(
        list.body["totalResults"],
        json!(0),
        "a refused create left an entry: {}",
        list.body
    );
}

/// `password = { to = "userPassword", convert = "hash:ssha" }` with `password = "attribute"`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_hashed_ssha_attribute() {
    let Some(s) = server() else { return };
    let gw = gateway_with(
        s,
        Setup {
            users: vec![
                (r#"password = "exop""#, r#"password = "attribute""#),
                (
                    r#"password = "userPassword""#,
                    r#"password = { to = "userPassword", convert = "hash:ssha" }"#,
                ),
            ],
            connector: "allow_plaintext_passwords = true",
            ..Default::default()
        },
    )
    .await;
    let t = tag("ssha");
    let mut body = crate::user_body(&format!("{t}dora"));
    body["password"] = json!("Hashed-Passw0rd");
    let u = create_user(&gw, body).await;
    let id = u["id"].as_str().unwrap().to_owned();
    let (dn, a) = ldap_by_id(s, &id).await.expect("entry");
    let stored = attr(&a, "userPassword").unwrap_or_default().to_owned();
    assert!(stored.starts_with("{SSHA}"), "stored as {{SSHA}}: {stored}");
    s.bind_as(&dn, "Hashed-Passw0rd")
        .await
        .expect("slapd verifies the {SSHA} hash");
    let r = gw
        .patch_ops(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "path": "password", "value": "Other-Passw0rd"}]),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    s.bind_as(&dn, "Other-Passw0rd")
        .await
        .expect("bind with the changed {SSHA} password");
}

/// A manager whose entry was deleted (no refint on `manager`): the user reads without a
/// manager, with no error; filters on the dead id match nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dangling_manager_is_omitted() {
    let Some(s) = server() else { return };
    let gw = gateway(s).await;
    let t = tag("dangle");
    let m = create_user(&gw, crate::user_body(&format!("{t}boss"))).await;
    let mid = m["id"].as_str().unwrap().to_owned();
    let mut e = crate::user_body(&format!("{t}emp"));
    e[ENTERPRISE] = json!({"manager": {"value": mid}});
    let emp = create_user(&gw, e).await;
    let eid = emp["id"].as_str().unwrap().to_owned();
    assert_eq!(emp[ENTERPRISE]["manager"]["value"], json!(mid), "{emp}");
    let (mdn, _) = ldap_by_id(s, &mid).await.expect("manager entry");
    let (_, a) = ldap_by_id(s, &eid).await.expect("employee entry");
    assert!(
        crate::dn_eq(attr(&a, "manager").unwrap_or_default(), &mdn),
        "manager holds the DN"
    );

    // Delete the manager behind the gateway's back.
    let mut ldap = s.admin().await;
    ldap.delete(&mdn).await.expect("delete").success().expect("deleted");
    let _ = ldap.unbind().await;

    let r = gw.get(&format!("/Users/{eid}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body.get(ENTERPRISE).is_none_or(|x| x.get("manager").is_none()),
        "a dangling manager is omitted: {}",
        r.body
    );
    let r = gw
        .filter("/Users", &format!("{ENTERPRISE}:manager.value eq \"{mid}\""))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(ids(&r.body).is_empty());
    // And the list containing the employee still works.
    let r = gw.filter("/Users", &format!("userName sw \"{t}\"")).await;
    assert_eq!(ids(&r.body), vec![eid.clone()], "{}", r.body);
    // Setting a manager that does not exist is 400.
    let r = gw
        .patch_ops(
            &format!("/Users/{eid}"),
            json!([{"op": "replace", "path": format!("{ENTERPRISE}:manager"), "value": mid}]),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
}
