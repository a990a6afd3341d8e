//! What Entra ID and Okta send (`/work/shared/IDP-DIALECTS.md`), a representative subset,
//! over HTTP against the OpenLDAP profile.

use serde_json::json;

use crate::harness::ids;
use crate::{ENTERPRISE, attr, create_group, create_user, dn_eq, gateway, ldap_by_id, member_ids, server, tag};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entra_test_connection_probe() {
    let Some(s) = server() else { return };
    let gw = gateway(s).await;
    let guid = uuid::Uuid::new_v4();
    // Raw request: no User-Agent, spaces as `+` and `%20`. (A raw `"` is refused by the HTTP
    // stack before the gateway sees it: a known gap pinned in tests/e2e/dialects.rs.)
    for target in [
        format!("/Users?filter=userName+eq+%22{guid}%22"),
        format!("/Users?filter=PLACEHOLDER%20eq%20%22{guid}%22"),
        format!("/Users?filter=externalId+eq+%22{guid}%22"),
        format!("/Groups?filter=displayName+eq+%22{guid}%22"),
        format!("//Users?filter=userName+eq+%22{guid}%22"),
    ] {
        let (status, body) = gw.raw_http("GET", &target, None).await;
        assert_eq!(status, 200, "{target}: {body}");
        assert_eq!(body["totalResults"], json!(0), "{target}: {body}");
        assert_eq!(body["Resources"].as_array().map_or(0, Vec::len), 0);
    }
    // Unquoted values (some clients).
    let (status, body) = gw.raw_http("GET", "/Users?filter=userName+eq+nobody-here", None).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entra_pathless_replace() {
    let Some(s) = server() else { return };
    let gw = gateway(s).await;
    let t = tag("pathless");
    let u = create_user(&gw, crate::user_body(&format!("{t}adele"))).await;
    let id = u["id"].as_str().unwrap().to_owned();
    let r = gw
        .patch_ops(
            &format!("/Users/{id}"),
            json!([{"op": "Replace", "value": {
                "displayName": "Adele Vance",
                "name.givenName": "Adele",
                "name.familyName": "Vance",
                "title": "Retail Manager",
                "emails[type eq \"work\"].value": format!("{t}adele@contoso.com"),
                "phoneNumbers[type eq \"mobile\"].value": "+1 425 555 0109",
                "addresses[type eq \"work\"].locality": "Bellevue",
                format!("{ENTERPRISE}:employeeNumber"): "42",
                format!("{ENTERPRISE}:department"): "Retail",
                "active": "True",
                "id": id,
            }}]),
        )
        .await;
    assert!(r.status.is_success(), "{} {}", r.status, r.body);
    let (_, a) = ldap_by_id(s, &id).await.expect("entry");
    assert_eq!(attr(&a, "displayName"), Some("Adele Vance"));
    assert_eq!(attr(&a, "cn"), Some("Adele Vance"), "cn recomputed");
    assert_eq!(attr(&a, "sn"), Some("Vance"));
    assert_eq!(attr(&a, "title"), Some("Retail Manager"));
    assert_eq!(attr(&a, "mail"), Some(format!("{t}adele@contoso.com").as_str()));
    assert_eq!(attr(&a, "mobile"), Some("+1 425 555 0109"));
    assert_eq!(attr(&a, "l"), Some("Bellevue"));
    assert_eq!(attr(&a, "employeeNumber"), Some("42"));
    assert_eq!(attr(&a, "departmentNumber"), Some("Retail"));
    // Clearing: replace with "" and null.
    let r = gw
        .patch_ops(
            &format!("/Users/{id}"),
            json!([
                {"op": "replace", "path": "title", "value": ""},
                {"op": "replace", "path": "phoneNumbers[type eq \"mobile\"].value", "value": null}
            ]),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    let (_, a) = ldap_by_id(s, &id).await.expect("entry");
    assert_eq!(attr(&a, "title"), None);
    assert_eq!(attr(&a, "mobile"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entra_membership_batches_and_okta_rename_first() {
    let Some(s) = server() else { return };
    let gw = gateway(s).await;
    let t = tag("batch");
    let mut u = Vec::new();
    for i in 0..4 {
        u.push(
            create_user(&gw, crate::user_body(&format!("{t}u{i}"))).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let g = create_group(&gw, &format!("{t}Retail"), &[]).await;
    let gid = g["id"].as_str().unwrap().to_owned();
    // Entra: adds and removes in one request, op names capitalised.
    let r = gw
        .patch_ops(
            &format!("/Groups/{gid}"),
            json!([
                {"op": "Add", "path": "members", "value": [{"value": u[0]}, {"value": u[1]}, {"value": u[2]}]},
                {"op": "Remove", "path": "members", "value": [{"value": u[1]}]}
            ]),
        )
        .await;
    assert!(r.status == 204 || r.status == 200, "{} {}", r.status, r.body);
    let mut want = vec![u[0].clone(), u[2].clone()];
    want.sort();
    assert_eq!(member_ids(&gw, &gid).await, want);
    // Okta: rename, then membership.
    let r = gw
        .patch_ops(
            &format!("/Groups/{gid}"),
            json!([{"op": "replace", "value": {"id": gid, "displayName": format!("{t}Retail EU")}}]),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    let r = gw
        .patch_ops(
            &format!("/Groups/{gid}"),
            json!([{"op": "add", "path": "members", "value": [{"value": u[3]}]}]),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    assert_eq!(member_ids(&gw, &gid).await.len(), 3);
    let (dn, _) = ldap_by_id(s, &gid).await.expect("group");
    assert!(dn_eq(&dn, &format!("cn={t}Retail EU,{}", crate::slapd::GROUPS)), "{dn}");
    // The group PATCH does not return the member list.
    assert!(r.body.get("members").is_none(), "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manager_in_every_form() {
    let Some(s) = server() else { return };
    let gw = gateway(s).await;
    let t = tag("mgr");
    let m = create_user(&gw, crate::user_body(&format!("{t}boss"))).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let e = create_user(&gw, crate::user_body(&format!("{t}emp"))).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (mdn, _) = ldap_by_id(s, &m).await.expect("manager");
    let path = format!("{ENTERPRISE}:manager");
    for value in [
        json!(m),
        json!({"value": m}),
        json!([{"$ref": format!("../Users/{m}"), "value": m}]),
        json!({"Value": m}),
    ] {
        let r = gw
            .patch_ops(
                &format!("/Users/{e}"),
                json!([{"op": "replace", "path": path, "value": value}]),
            )
            .await;
        assert!(r.status.is_success(), "manager {value}: {}", r.body);
        let (_, a) = ldap_by_id(s, &e).await.expect("entry");
        assert!(
            dn_eq(attr(&a, "manager").unwrap_or_default(), &mdn),
            "manager {value}: {:?}",
            attr(&a, "manager")
        );
        let got = gw.get(&format!("/Users/{e}")).await;
        assert_eq!(got.body[ENTERPRISE]["manager"]["value"], json!(m), "{}", got.body);
        // Clear it again.
        let r = gw
            .patch_ops(
                &format!("/Users/{e}"),
                json!([{"op": "replace", "path": path, "value": {"value": ""}}]),
            )
            .await;
        assert!(r.status.is_success(), "{}", r.body);
        let (_, a) = ldap_by_id(s, &e).await.expect("entry");
        assert_eq!(attr(&a, "manager"), None, "{{\"value\": \"\"}} removes the manager");
    }
    let r = gw
        .filter("/Users", &format!("{ENTERPRISE}:manager.value eq \"{m}\""))
        .await;
    assert!(ids(&r.body).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_create_echoes_and_placeholder_password() {
    let Some(s) = server() else { return };
    let gw = gateway(s).await;
    let t = tag("okta");
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:example:unknown:schema"],
        "userName": format!("{t}ok@example.com"),
        "name": {"givenName": "Okta", "familyName": "User"},
        "emails": [{"primary": "True", "value": format!("{t}ok@example.com"), "type": "work"}],
        "displayName": "Okta User",
        "locale": "en-US",
        "externalId": "00u1abcd2EFGH3ijk4x7",
        "groups": [],
        "active": "true",
        "id": "ignored",
        "meta": {"resourceType": "User"}
    });
    let r = gw.post("/Users", &body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["active"], json!(true));
    let id = r.id();
    assert_ne!(id, "ignored");
    let found = gw.filter("/Users", &format!("userName eq \"{t}OK@EXAMPLE.COM\"")).await;
    assert_eq!(ids(&found.body), vec![id.clone()], "userName eq is case-insensitive");
}
