//! Full CRUD over HTTP through the OpenLDAP profile, checked in the directory.

use serde_json::json;

use crate::harness::{enc, patch_body};
use crate::{
    ENTERPRISE, attr, attr_all, create_group, create_user, dn_eq, gateway, ldap_by_id, member_ids, server, slapd, tag,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_create_read_replace_patch_delete() {
    let Some(s) = server() else { return };
    let gw = gateway(s).await;
    let t = tag("crud");
    let name = format!("{t}bjensen");
    let mut body = crate::user_body(&name);
    body["title"] = json!("Tour Guide");
    body["preferredLanguage"] = json!("en-US");
    body["phoneNumbers"] = json!([
        {"value": "+1 555 0100", "type": "work"},
        {"value": "+1 555 0199", "type": "mobile"},
        {"value": "+1 555 0111", "type": "fax"}
    ]);
    body["addresses"] = json!([{
        "type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood",
        "region": "CA", "postalCode": "91608", "formatted": "Building 4"
    }]);
    body[ENTERPRISE] =
        json!({"employeeNumber": "701984", "department": "Tour Operations", "organization": "Universal"});
    body["externalId"] = json!("bjensen-ext");
    let created = create_user(&gw, body).await;
    let id = created["id"].as_str().expect("id").to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "the id is the entryUUID: {id}");
    assert_eq!(created["userName"], json!(name));
    assert_eq!(created["title"], json!("Tour Guide"));
    assert_eq!(created["active"], json!(true));
    assert_eq!(created["name"]["familyName"], json!("Jensen"));
    assert_eq!(created[ENTERPRISE]["department"], json!("Tour Operations"));
    assert!(created.get("externalId").is_none(), "externalId is ignored: {created}");
    assert!(created.get("password").is_none());
    let meta = &created["meta"];
    assert!(
        meta["version"].as_str().is_some_and(|v| v.starts_with("W/\"")),
        "{meta}"
    );
    for k in ["created", "lastModified"] {
        let v = meta[k].as_str().unwrap_or_else(|| panic!("meta.{k} missing: {meta}"));
        assert!(chrono_like(v), "meta.{k} is RFC 3339: {v}");
    }

    // In the directory.
    let (dn, a) = ldap_by_id(s, &id).await.expect("entry by entryUUID");
    assert!(dn_eq(&dn, &format!("uid={name},{}", slapd::PEOPLE)), "DN {dn}");
    assert_eq!(attr(&a, "cn"), Some("Barbara Jensen"), "cn is computed");
    assert_eq!(attr(&a, "sn"), Some("Jensen"));
    assert_eq!(attr(&a, "givenName"), Some("Barbara"));
    assert_eq!(attr(&a, "mail"), Some(format!("{name}@example.com").as_str()));
    assert_eq!(attr(&a, "telephoneNumber"), Some("+1 555 0100"));
    assert_eq!(attr(&a, "mobile"), Some("+1 555 0199"));
    assert_eq!(attr(&a, "facsimileTelephoneNumber"), Some("+1 555 0111"));
    assert_eq!(attr(&a, "street"), Some("100 Universal City Plaza"));
    assert_eq!(attr(&a, "l"), Some("Hollywood"));
    assert_eq!(attr(&a, "st"), Some("CA"));
    assert_eq!(attr(&a, "postalCode"), Some("91608"));
    assert_eq!(attr(&a, "physicalDeliveryOfficeName"), Some("Building 4"));
    assert_eq!(attr(&a, "employeeNumber"), Some("701984"));
    assert_eq!(attr(&a, "departmentNumber"), Some("Tour Operations"));
    assert_eq!(attr(&a, "o"), Some("Universal"));
    assert_eq!(attr(&a, "preferredLanguage"), Some("en-US"));
    assert_eq!(attr(&a, "pwdAccountLockedTime"), None, "active user is not locked");
    let mut classes: Vec<String> = attr_all(&a, "objectClass").iter().map(|c| c.to_lowercase()).collect();
    classes.sort();
    assert_eq!(classes, ["inetorgperson", "organizationalperson", "person", "top"]);

    // GET returns the same resource.
    let got = gw.get(&format!("/Users/{id}")).await;
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(got.body, created, "GET differs from the create response");

    // PUT: change the title, drop the mobile number.
    let mut put = created.clone();
    put["title"] = json!("Senior Tour Guide");
    put["phoneNumbers"] = json!([{"value": "+1 555 0100", "type": "work"}, {"value": "+1 555 0111", "type": "fax"}]);
    let r = gw.put(&format!("/Users/{id}"), &put).await;
    assert_eq!(r.status, 200, "PUT: {}", r.body);
    assert_eq!(r.body["title"], json!("Senior Tour Guide"));
    assert_ne!(
        r.body["meta"]["version"], created["meta"]["version"],
        "PUT must change the version"
    );
    let (_, a) = ldap_by_id(s, &id).await.expect("entry");
    assert_eq!(attr(&a, "title"), Some("Senior Tour Guide"));
    assert_eq!(attr(&a, "mobile"), None, "PUT without the mobile number deletes it");
    assert_eq!(attr(&a, "telephoneNumber"), Some("+1 555 0100"));

    // PATCH the given name: cn is recomputed.
    let r = gw
        .patch_ops(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "path": "name.givenName", "value": "Babs"}]),
        )
        .await;
    assert!(r.status == 200 || r.status == 204, "PATCH: {} {}", r.status, r.body);
    let (_, a) = ldap_by_id(s, &id).await.expect("entry");
    assert_eq!(attr(&a, "givenName"), Some("Babs"));
    assert_eq!(attr(&a, "cn"), Some("Babs Jensen"), "cn recomputed from its inputs");

    // PATCH remove clears the attribute.
    let r = gw
        .patch_ops(&format!("/Users/{id}"), json!([{"op": "remove", "path": "title"}]))
        .await;
    assert!(
        r.status == 200 || r.status == 204,
        "PATCH remove: {} {}",
        r.status,
        r.body
    );
    let (_, a) = ldap_by_id(s, &id).await.expect("entry");
    assert_eq!(attr(&a, "title"), None);

    // DELETE.
    assert_eq!(gw.delete(&format!("/Users/{id}")).await.status, 204);
    assert_eq!(gw.get(&format!("/Users/{id}")).await.status, 404);
    assert_eq!(gw.delete(&format!("/Users/{id}")).await.status, 404);
    assert!(ldap_by_id(s, &id).await.is_none(), "the entry is gone");
}

fn chrono_like(v: &str) -> bool {
    // 2024-01-02T03:04:05Z or with fractions / offset.
    v.len() >= 20 && v.as_bytes()[4] == b'-' && v.as_bytes()[10] == b'T'
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_user_name_is_409_case_insensitively() {
    let Some(s) = server() else { return };
    let gw = gateway(s).await;
    let t = tag("dup");
    create_user(&gw, crate::user_body(&format!("{t}ann"))).await;
    for name in [format!("{t}ann"), format!("{t}ANN").to_uppercase()] {
        let r = gw.post("/Users", &crate::user_body(&name)).await;
        assert_eq!(r.status, 409, "{name}: {}", r.body);
        assert_eq!(r.scim_type(), Some("uniqueness"));
    }
    let list = gw.filter("/Users", &format!("userName sw \"{t}\"")).await;
    assert_eq!(list.body["totalResults"], json!(1), "{}", list.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_without_required_family_name_is_400() {
    let Some(s) = server() else { return };
    let gw = gateway(s).await;
    let t = tag("nosn");
    let mut body = crate::user_body(&format!("{t}x"));
    body["name"] = json!({"givenName": "Only"});
    let r = gw.post("/Users", &body).await;
    assert_eq!(r.status, 400, "{}", r.body);
    let list = gw.filter("/Users", &format!("userName sw \"{t}\"")).await;
    assert_eq!(
        list.body["totalResults"],
        json!(0),
        "nothing was created: {}",
        list.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_create_read_rename_delete() {
    let Some(s) = server() else { return };
    let gw = gateway(s).await;
    let t = tag("gcrud");
    let u1 = create_user(&gw, crate::user_body(&format!("{t}u1"))).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let u2 = create_user(&gw, crate::user_body(&format!("{t}u2"))).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let g = create_group(&gw, &format!("{t}Sales"), &[&u1, &u2]).await;
    let gid = g["id"].as_str().unwrap().to_owned();
    let mut want = vec![u1.clone(), u2.clone()];
    want.sort();
    assert_eq!(member_ids(&gw, &gid).await, want);
    // memberOf (User.groups) is maintained by the overlay.
    let u = gw.get(&format!("/Users/{u1}")).await;
    assert_eq!(u.body["groups"][0]["value"], json!(gid), "groups: {}", u.body);
    let (dn, a) = ldap_by_id(s, &gid).await.expect("group entry");
    assert!(dn_eq(&dn, &format!("cn={t}Sales,{}", slapd::GROUPS)), "{dn}");
    assert_eq!(attr_all(&a, "member").len(), 2);

    // Rename: ModifyDN, same id.
    let r = gw
        .patch_ops(
            &format!("/Groups/{gid}"),
            json!([{"op": "replace", "path": "displayName", "value": format!("{t}Sales EMEA")}]),
        )
        .await;
    assert!(r.status == 200 || r.status == 204, "rename: {} {}", r.status, r.body);
    let (dn, _) = ldap_by_id(s, &gid).await.expect("group entry after rename");
    assert!(dn_eq(&dn, &format!("cn={t}Sales EMEA,{}", slapd::GROUPS)), "{dn}");
    let got = gw.get(&format!("/Groups/{gid}")).await;
    assert_eq!(got.body["displayName"], json!(format!("{t}Sales EMEA")));
    assert_eq!(member_ids(&gw, &gid).await, want, "members survive the rename");
    let by_name = gw.filter("/Groups", &format!("displayName eq \"{t}Sales EMEA\"")).await;
    assert_eq!(crate::harness::ids(&by_name.body), vec![gid.clone()]);

    // excludedAttributes=members
    let r = gw
        .get(&format!(
            "/Groups?filter={}&excludedAttributes=members",
            enc(&format!("displayName eq \"{t}Sales EMEA\""))
        ))
        .await;
    assert_eq!(r.status, 200);
    assert!(r.body["Resources"][0].get("members").is_none(), "{}", r.body);

    assert_eq!(gw.delete(&format!("/Groups/{gid}")).await.status, 204);
    assert_eq!(gw.get(&format!("/Groups/{gid}")).await.status, 404);
    let u = gw.get(&format!("/Users/{u1}")).await;
    assert!(
        u.body
            .get("groups")
            .is_none_or(|g| g.as_array().is_some_and(|a| a.is_empty())),
        "the deleted group is gone from memberOf: {}",
        u.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn if_match_with_a_stale_version_is_412() {
    let Some(s) = server() else { return };
    let gw = gateway(s).await;
    let t = tag("etag");
    let u = create_user(&gw, crate::user_body(&format!("{t}x"))).await;
    let id = u["id"].as_str().unwrap();
    let v1 = u["meta"]["version"].as_str().unwrap().to_owned();
    let ops = patch_body(json!([{"op": "replace", "path": "title", "value": "one"}]));
    let r = gw
        .raw(
            reqwest::Method::PATCH,
            &format!("/Users/{id}"),
            Some(ops.to_string()),
            &[("If-Match", &v1)],
        )
        .await;
    assert!(r.status == 200 || r.status == 204, "{} {}", r.status, r.body);
    let ops = patch_body(json!([{"op": "replace", "path": "title", "value": "two"}]));
    let r = gw
        .raw(
            reqwest::Method::PATCH,
            &format!("/Users/{id}"),
            Some(ops.to_string()),
            &[("If-Match", &v1)],
        )
        .await;
    assert_eq!(r.status, 412, "{}", r.body);
    let (_, a) = ldap_by_id(s, id).await.expect("entry");
    assert_eq!(attr(&a, "title"), Some("one"));
}
