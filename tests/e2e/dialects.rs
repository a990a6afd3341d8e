//! What Microsoft Entra ID and Okta really send (docs/IDP-DIALECTS.md), rule by rule, over HTTP.

use reqwest::Method;
use serde_json::{Value as Json, json};

use crate::harness::{Gateway, TOKEN, enc, ids, patch_body, user, user_names};

const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const MANAGER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager";

async fn names_for(gw: &Gateway, resource: &str, filter: &str) -> Vec<String> {
    let r = gw.filter(resource, filter).await;
    assert_eq!(r.status, 200, "filter {filter}: {}", r.body);
    let mut names: Vec<String> = r.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x["userName"].as_str().or(x["displayName"].as_str()).map(str::to_owned))
        .collect();
    assert_eq!(r.body["totalResults"], json!(names.len()));
    names.sort();
    names
}

fn v(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

async fn entra_user(gw: &Gateway, name: &str, external_id: &str) -> String {
    let r = gw
        .post(
            "/Users",
            &json!({
                "schemas": [USER_SCHEMA, ENTERPRISE],
                "externalId": external_id,
                "userName": format!("{name}@contoso.com"),
                "active": true,
                "displayName": name,
                "emails": [{"primary": true, "type": "work", "value": format!("{name}@contoso.com")}],
                "name": {"formatted": name, "familyName": "Doe", "givenName": name},
                ENTERPRISE: {"department": "Sales"}
            }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.id()
}

async fn group(gw: &Gateway, name: &str, members: &[&str]) -> String {
    let members: Vec<Json> = members.iter().map(|m| json!({"value": m})).collect();
    let r = gw
        .post(
            "/Groups",
            &json!({"schemas": [GROUP_SCHEMA], "displayName": name, "members": members}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.id()
}

async fn member_ids(gw: &Gateway, gid: &str) -> Vec<String> {
    let mut out: Vec<String> = gw.get(&format!("/Groups/{gid}")).await.body["members"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|m| m["value"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

// ---------------------------------------------------------------------------------------------
// Transport
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn transport_doubled_slash_and_lowercase_paths() {
    let gw = Gateway::quickstart().await;
    let r = gw.post("//Users", &user("a")).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.id();
    assert_eq!(r.body["meta"]["location"], format!("{}/Users/{id}", gw.base));
    assert_eq!(gw.get(&format!("//Users/{id}")).await.status, 200);
    assert_eq!(gw.get(&format!("/users/{id}")).await.status, 200);
    assert_eq!(gw.get(&format!("/USERS/{id}")).await.status, 200);
    assert_eq!(gw.get("/Users/").await.status, 200);
    let r = gw.get("/users?filter=userName%20eq%20%22a%22").await;
    assert_eq!(r.body["totalResults"], 1);
    let r = gw.get(&format!("{}/SCIM/V2/Users", gw.origin())).await;
    assert_eq!(r.status, 200, "the base path compares case-insensitively");
    assert_eq!(gw.get("//ServiceProviderConfig").await.status, 200);
    assert_eq!(gw.get("/groups").await.status, 200);
    let r = gw
        .patch_ops(
            &format!("/users/{id}"),
            json!([{"op": "replace", "path": "title", "value": "t"}]),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(gw.delete(&format!("//users/{id}")).await.status, 204);
}

#[tokio::test]
async fn transport_entra_test_connection_sends_no_user_agent() {
    let gw = Gateway::quickstart().await;
    let guid = "8d2d5b4a-5e6c-4a8e-9f33-0c4a1d9c2b71";
    let (status, body) = gw
        .raw_http("GET", &format!("/Users?filter=userName+eq+%22{guid}%22"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["totalResults"], 0);
    assert_eq!(body["Resources"], json!([]));
}

#[tokio::test]
async fn transport_application_json_is_accepted_and_answered_as_scim_json() {
    let gw = Gateway::quickstart().await;
    let auth = format!("Bearer {TOKEN}");
    for ct in [
        "application/json",
        "application/json; charset=utf-8",
        "Application/SCIM+JSON",
    ] {
        let name = format!("u{}", ct.len());
        let r = gw
            .send(Method::POST, "/Users", Some((ct, user(&name).to_string())), Some(&auth))
            .await;
        assert_eq!(r.status, 201, "{ct}: {}", r.body);
        assert_eq!(r.header("content-type"), Some("application/scim+json"));
        let id = r.id();
        let r = gw
            .send(
                Method::PATCH,
                &format!("/Users/{id}"),
                Some((
                    ct,
                    patch_body(json!([{"op": "replace", "path": "title", "value": "x"}])).to_string(),
                )),
                Some(&auth),
            )
            .await;
        assert_eq!(r.status, 200, "{ct}: {}", r.body);
        assert_eq!(r.header("content-type"), Some("application/scim+json"));
        let r = gw
            .send(
                Method::PUT,
                &format!("/Users/{id}"),
                Some((ct, user(&name).to_string())),
                Some(&auth),
            )
            .await;
        assert_eq!(r.status, 200, "{ct}: {}", r.body);
    }
    let r = gw
        .send(
            Method::POST,
            "/Users/.search",
            Some(("application/json", json!({"filter": "userName eq \"u16\""}).to_string())),
            Some(&auth),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["totalResults"], 1);
}

#[tokio::test]
async fn entra_test_connection_unknown_attribute_eq_is_empty_list() {
    let gw = Gateway::quickstart().await;
    entra_user(&gw, "jdoe", "jdoe").await;
    group(&gw, "Sales", &[]).await;
    let guid = "5f3a1e2b-9c77-4d4f-8a52-7a3cf0e1d0aa";
    for (resource, attr) in [
        ("/Users", "PLACEHOLDER"),
        ("/Users", "userName"),
        ("/Users", "externalId"),
        (
            "/Users",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:PLACEHOLDER",
        ),
        ("/Groups", "PLACEHOLDER"),
        ("/Groups", "displayName"),
        ("/Groups", "externalId"),
    ] {
        let r = gw.filter(resource, &format!("{attr} eq \"{guid}\"")).await;
        assert_eq!(r.status, 200, "{resource} {attr}: {}", r.body);
        assert_eq!(
            r.body["schemas"],
            json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"])
        );
        assert_eq!(r.body["totalResults"], 0, "{resource} {attr}");
        assert_eq!(r.body["Resources"], json!([]));
        assert_eq!(r.body["startIndex"], 1);
    }
    // The probe as Entra encodes it: `+` for spaces, `%22` for quotes.
    let r = gw.get(&format!("/Users?filter=PLACEHOLDER+eq+%22{guid}%22")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["totalResults"], 0);
}

/// IDP-DIALECTS says quotes may arrive raw. Real clients percent-encode them; the HTTP
/// stack (the `http` crate's URI parser, inside hyper) answers a raw `"` in the query with a
/// bare 400 before the request reaches the gateway. This pins that known gap (README,
/// Limitations) so a change in the stack is noticed.
#[tokio::test]
async fn transport_raw_unencoded_quotes_are_refused_by_the_http_stack() {
    let gw = Gateway::quickstart().await;
    entra_user(&gw, "jdoe", "jdoe-ext").await;
    let (status, _) = gw
        .raw_http("GET", "/Users?filter=userName%20eq%20\"jdoe@contoso.com\"", None)
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn transport_spaces_as_plus_or_percent20_and_quotes_raw_or_percent22() {
    let gw = Gateway::quickstart().await;
    entra_user(&gw, "jdoe", "jdoe-ext").await;
    entra_user(&gw, "other", "other-ext").await;
    for target in [
        "/Users?filter=userName+eq+%22jdoe@contoso.com%22",
        "/Users?filter=userName%20eq%20%22jdoe%40contoso.com%22",
        "/Users?filter=externalId+eq+%22jdoe-ext%22&startIndex=1&count=100",
    ] {
        let (status, body) = gw.raw_http("GET", target, None).await;
        assert_eq!(status, 200, "{target}: {body}");
        assert_eq!(body["totalResults"], 1, "{target}: {body}");
        assert_eq!(body["Resources"][0]["userName"], "jdoe@contoso.com");
    }
}

// ---------------------------------------------------------------------------------------------
// Filters
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn entra_filters_user_name_external_id_and_work_email_value() {
    let gw = Gateway::quickstart().await;
    let id = entra_user(&gw, "jdoe", "jdoe-ext").await;
    entra_user(&gw, "other", "other-ext").await;
    let r = gw.filter("/Users", "userName eq \"jdoe@contoso.com\"").await;
    assert_eq!(ids(&r.body), vec![id.clone()]);
    let r = gw.filter("/Users", "externalId eq \"jdoe-ext\"").await;
    assert_eq!(ids(&r.body), vec![id.clone()]);
    let r = gw
        .filter("/Users", "emails[type eq \"work\"].value eq \"jdoe@contoso.com\"")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(ids(&r.body), vec![id.clone()]);
    let r = gw
        .filter("/Users", "emails[type eq \"home\"].value eq \"jdoe@contoso.com\"")
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["totalResults"], 0);
    let r = gw
        .filter(
            "/Users",
            "userName eq \"jdoe@contoso.com\" and externalId eq \"jdoe-ext\"",
        )
        .await;
    assert_eq!(ids(&r.body), vec![id.clone()]);
    let r = gw
        .filter(
            "/Users",
            "userName eq \"jdoe@contoso.com\" and externalId eq \"other-ext\"",
        )
        .await;
    assert_eq!(r.body["totalResults"], 0);
}

#[tokio::test]
async fn entra_groups_by_display_name() {
    let gw = Gateway::quickstart().await;
    let gid = group(&gw, "Sales Team", &[]).await;
    group(&gw, "Sales", &[]).await;
    let r = gw.filter("/Groups", "displayName eq \"Sales Team\"").await;
    assert_eq!(r.status, 200);
    assert_eq!(ids(&r.body), vec![gid.clone()]);
    let r = gw
        .get(&format!(
            "/Groups?filter={}&excludedAttributes=members",
            enc("displayName eq \"sales team\"")
        ))
        .await;
    assert_eq!(ids(&r.body), vec![gid]);
    assert!(r.body["Resources"][0].get("members").is_none());
}

#[tokio::test]
async fn okta_filters_user_name_id_and_last_modified() {
    let gw = Gateway::quickstart().await;
    let a = gw.post("/Users", &user("a@okta.example")).await;
    tokio::time::sleep(std::time::Duration::from_millis(15)).await;
    let b = gw.post("/Users", &user("b@okta.example")).await;
    assert_eq!(
        names_for(&gw, "/Users", "userName eq \"a@okta.example\"").await,
        v(&["a@okta.example"])
    );
    assert_eq!(
        names_for(&gw, "/Users", &format!("id eq \"{}\"", b.id())).await,
        v(&["b@okta.example"])
    );
    let since = a.body["meta"]["lastModified"].as_str().unwrap();
    assert_eq!(
        names_for(&gw, "/Users", &format!("meta.lastModified gt \"{since}\"")).await,
        v(&["b@okta.example"])
    );
    // Okta's incremental import pages through with startIndex/count.
    let r = gw
        .get(&format!(
            "/Users?filter={}&startIndex=1&count=1",
            enc("meta.lastModified gt \"2000-01-01T00:00:00.000Z\"")
        ))
        .await;
    assert_eq!(r.body["totalResults"], 2);
    assert_eq!(r.body["itemsPerPage"], 1);
}

#[tokio::test]
async fn filter_attribute_names_and_operators_are_case_insensitive() {
    let gw = Gateway::quickstart().await;
    entra_user(&gw, "jdoe", "x").await;
    entra_user(&gw, "mary", "y").await;
    assert_eq!(
        names_for(&gw, "/Users", "DisplayName eq \"JDOE\"").await,
        v(&["jdoe@contoso.com"])
    );
    assert_eq!(names_for(&gw, "/Users", "name.FamilyName EQ \"doe\"").await.len(), 2);
    assert_eq!(
        names_for(&gw, "/Users", "emails.Value Eq \"MARY@contoso.com\"").await,
        v(&["mary@contoso.com"])
    );
    assert_eq!(
        names_for(&gw, "/Users", "EMAILS[TYPE EQ \"WORK\"].VALUE SW \"mary\"").await,
        v(&["mary@contoso.com"])
    );
    assert_eq!(
        names_for(&gw, "/Users", &format!("{ENTERPRISE}:Department eq \"sales\""))
            .await
            .len(),
        2
    );
    group(&gw, "Ops", &[]).await;
    assert_eq!(names_for(&gw, "/Groups", "DISPLAYNAME eq \"ops\"").await, v(&["Ops"]));
}

#[tokio::test]
async fn filter_unquoted_bare_value() {
    let gw = Gateway::quickstart().await;
    let id = entra_user(&gw, "jyoung", "jyoung").await;
    entra_user(&gw, "other", "jyoung2").await;
    let r = gw.get("/Users?filter=externalId+eq+jyoung").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(ids(&r.body), vec![id.clone()]);
    let r = gw.filter("/Users", "externalId eq jyoung").await;
    assert_eq!(ids(&r.body), vec![id]);
    let r = gw.filter("/Users", "userName eq jyoung@contoso.com").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["totalResults"], 1);
    // Booleans stay booleans.
    let r = gw.filter("/Users", "active eq true").await;
    assert_eq!(r.body["totalResults"], 2);
}

#[tokio::test]
async fn filter_malformed_is_400_invalid_filter() {
    let gw = Gateway::quickstart().await;
    for f in [
        "userName eq",
        "userName xx \"a\"",
        "(userName eq \"a\"",
        "userName eq \"a",
        "and",
        "emails[type eq \"work\"",
    ] {
        let r = gw.filter("/Users", f).await;
        assert_eq!(r.status, 400, "{f}: {}", r.body);
        assert_eq!(r.scim_type(), Some("invalidFilter"), "{f}");
    }
}

// ---------------------------------------------------------------------------------------------
// Creating
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn create_body_keys_are_case_insensitive() {
    let gw = Gateway::quickstart().await;
    let boss = gw.post("/Users", &user("boss")).await.id();
    let r = gw
        .post(
            "/Users",
            &json!({
                "Schemas": [USER_SCHEMA, ENTERPRISE],
                "UserName": "jdoe",
                "Active": true,
                "NAME": {"GivenName": "John", "familyname": "Doe"},
                "Emails": [{"Value": "jdoe@contoso.com", "Type": "work", "Primary": true}],
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user": {
                    "Department": "Sales", "Manager": {"Value": boss}
                }
            }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["userName"], "jdoe");
    assert_eq!(r.body["name"], json!({"givenName": "John", "familyName": "Doe"}));
    assert_eq!(
        r.body["emails"],
        json!([{"value": "jdoe@contoso.com", "type": "work", "primary": true}])
    );
    assert_eq!(r.body[ENTERPRISE]["department"], "Sales");
    assert_eq!(r.body[ENTERPRISE]["manager"]["value"], boss.as_str());
    let sql = format!(
        "SELECT count(*) FROM users WHERE user_name = 'jdoe' AND given_name = 'John' AND manager_id = '{boss}' AND department = 'Sales'"
    );
    assert_eq!(gw.db_scalar(&sql).await, 1);
    assert_eq!(
        gw.db_scalar("SELECT count(*) FROM user_emails WHERE is_primary = 1")
            .await,
        2
    );
}

#[tokio::test]
async fn create_booleans_as_strings_are_coerced() {
    let gw = Gateway::quickstart().await;
    for (name, active, primary, want_active, want_primary) in [
        ("u1", "False", "True", false, true),
        ("u2", "true", "false", true, false),
        ("u3", "TRUE", "FALSE", true, false),
        ("u4", "false", "true", false, true),
    ] {
        let r = gw
            .post(
                "/Users",
                &json!({"userName": name, "active": active,
                        "emails": [{"value": format!("{name}@x.com"), "primary": primary}]}),
            )
            .await;
        assert_eq!(r.status, 201, "{name}: {}", r.body);
        assert_eq!(r.body["active"], want_active, "{name}");
        assert_eq!(r.body["emails"][0]["primary"], want_primary, "{name}");
    }
    assert_eq!(gw.db_scalar("SELECT count(*) FROM users WHERE active = 0").await, 2);
    let r = gw.filter("/Users", "active eq false").await;
    assert_eq!(r.body["totalResults"], 2);
}

#[tokio::test]
async fn create_ignores_read_only_nulls_unknown_attributes_and_misspelled_urns() {
    let gw = Gateway::quickstart().await;
    let r = gw
        .post(
            "/Users",
            &json!({
                "schemas": [USER_SCHEMA, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:Usr", "urn:bogus"],
                "id": "chosen-by-client",
                "meta": {"resourceType": "User", "created": "2001-01-01T00:00:00Z", "version": "W/\"9\""},
                "groups": [{"value": "g1", "display": "Admins"}],
                "userName": "jdoe",
                "nickName": null,
                "title": null,
                "emails": null,
                "favoriteColor": "blue",
                "name": {"givenName": "John", "pet": "cat"},
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:Usr": {"department": "Lost"},
                "urn:ietf:params:scim:schemas:extension:custom:2.0:User": {"x": 1}
            }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.id();
    assert_ne!(id, "chosen-by-client");
    assert_ne!(r.body["meta"]["created"], "2001-01-01T00:00:00Z");
    assert_eq!(r.body["meta"]["version"], "W/\"1\"");
    assert!(r.body.get("favoriteColor").is_none());
    assert!(r.body.get("groups").is_none_or(|g| g == &json!([])), "{}", r.body);
    assert!(r.body.get("title").is_none());
    assert!(r.body.get(ENTERPRISE).is_none());
    assert_eq!(r.body["name"], json!({"givenName": "John"}));
    assert_eq!(r.body["schemas"], json!([USER_SCHEMA]));
    assert_eq!(gw.db_scalar("SELECT count(*) FROM group_members").await, 0);
    assert_eq!(
        gw.db_scalar("SELECT count(*) FROM users WHERE department IS NULL")
            .await,
        1
    );
    // 201 carries the full resource.
    assert_eq!(gw.get(&format!("/Users/{id}")).await.body, r.body);
}

#[tokio::test]
async fn okta_placeholder_password_on_create_is_stored_hashed_and_never_returned() {
    let gw = Gateway::quickstart().await;
    let mut body = user("okta.user@example.com");
    body["password"] = json!("Placeholder1!");
    let r = gw.post("/Users", &body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(r.body.get("password").is_none());
    let hashed = gw
        .db_scalar("SELECT count(*) FROM users WHERE password_hash LIKE '$argon2%'")
        .await;
    assert_eq!(hashed, 1);
    let r = gw.get(&format!("/Users/{}", r.id())).await;
    assert!(r.body.get("password").is_none());
    let r = gw.filter("/Users", "userName eq \"okta.user@example.com\"").await;
    assert!(r.body["Resources"][0].get("password").is_none());
}

#[tokio::test]
async fn duplicate_user_name_and_group_display_name_are_409_uniqueness() {
    let gw = Gateway::quickstart().await;
    let a = gw.post("/Users", &user("jdoe@contoso.com")).await.id();
    let b = gw.post("/Users", &user("other")).await.id();
    let g = group(&gw, "Sales", &[]).await;
    group(&gw, "Ops", &[]).await;
    let before = gw.snapshot().await;
    for name in ["jdoe@contoso.com", "JDoe@Contoso.com"] {
        let r = gw.post("/Users", &user(name)).await;
        assert_eq!(r.status, 409, "{name}: {}", r.body);
        assert_eq!(r.scim_type(), Some("uniqueness"));
        assert_eq!(r.body["status"], "409");
    }
    for name in ["Sales", "SALES"] {
        let r = gw.post("/Groups", &json!({"displayName": name})).await;
        assert_eq!(r.status, 409, "{name}: {}", r.body);
        assert_eq!(r.scim_type(), Some("uniqueness"));
    }
    // Renames onto a taken name.
    let r = gw
        .patch_ops(
            &format!("/Users/{b}"),
            json!([{"op": "replace", "path": "userName", "value": "JDOE@contoso.com"}]),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.scim_type(), Some("uniqueness"));
    let r = gw.put(&format!("/Users/{b}"), &user("jdoe@CONTOSO.com")).await;
    assert_eq!(r.status, 409);
    let r = gw
        .patch_ops(
            &format!("/Groups/{g}"),
            json!([{"op": "replace", "path": "displayName", "value": "ops"}]),
        )
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(r.scim_type(), Some("uniqueness"));
    assert_eq!(gw.snapshot().await, before);
    // Changing only the case of one's own name is not a conflict.
    let r = gw.put(&format!("/Users/{a}"), &user("JDOE@contoso.com")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["userName"], "JDOE@contoso.com");
}

// ---------------------------------------------------------------------------------------------
// PATCH rules 1–10
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn patch_rule_1_op_is_case_insensitive() {
    let gw = Gateway::quickstart().await;
    let id = gw.post("/Users", &user("a")).await.id();
    let r = gw
        .patch_ops(
            &format!("/Users/{id}"),
            json!([
                {"op": "Add", "path": "nickName", "value": "n"},
                {"op": "Replace", "path": "title", "value": "t"},
                {"op": "REPLACE", "path": "displayName", "value": "d"},
                {"op": "Remove", "path": "nickName"}
            ]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["title"], "t");
    assert_eq!(r.body["displayName"], "d");
    assert!(r.body.get("nickName").is_none());
}

#[tokio::test]
async fn patch_rule_2_add_on_single_valued_replaces() {
    let gw = Gateway::quickstart().await;
    let mut body = user("a");
    body["title"] = json!("Old");
    let id = gw.post("/Users", &body).await.id();
    let r = gw
        .patch_ops(
            &format!("/Users/{id}"),
            json!([
                {"op": "add", "path": "title", "value": "New"},
                {"op": "add", "path": "name.givenName", "value": "Babs"},
                {"op": "add", "path": "active", "value": false},
                {"op": "add", "path": format!("{ENTERPRISE}:department"), "value": "D1"},
                {"op": "add", "path": format!("{ENTERPRISE}:department"), "value": "D2"}
            ]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["title"], "New");
    assert_eq!(r.body["name"]["givenName"], "Babs");
    assert_eq!(r.body["active"], false);
    assert_eq!(r.body[ENTERPRISE]["department"], "D2");
    let sql = format!(
        "SELECT count(*) FROM users WHERE id = '{id}' AND title = 'New' AND given_name = 'Babs' AND active = 0 AND department = 'D2'"
    );
    assert_eq!(gw.db_scalar(&sql).await, 1);
}

#[tokio::test]
async fn patch_rule_3_pathless_with_dotted_and_urn_keys() {
    let gw = Gateway::quickstart().await;
    let id = gw.post("/Users", &user("a")).await.id();
    let r = gw
        .patch_ops(
            &format!("/Users/{id}"),
            json!([{"op": "Replace", "value": {
                "displayName": "Entra Name",
                "name.givenName": "Given",
                "name.familyName": "Family",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "1234",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Dept",
                "emails[type eq \"work\"].value": "new@contoso.com",
                "active": "False"
            }}]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["displayName"], "Entra Name");
    assert_eq!(r.body["name"], json!({"givenName": "Given", "familyName": "Family"}));
    assert_eq!(r.body[ENTERPRISE]["employeeNumber"], "1234");
    assert_eq!(r.body[ENTERPRISE]["department"], "Dept");
    assert_eq!(r.body["emails"][0]["value"], "new@contoso.com");
    assert_eq!(r.body["active"], false);
    let sql = format!(
        "SELECT count(*) FROM users WHERE id = '{id}' AND employee_number = '1234' AND given_name = 'Given' AND active = 0"
    );
    assert_eq!(gw.db_scalar(&sql).await, 1);
    // Pathless add behaves the same.
    let r = gw
        .patch_ops(
            &format!("/Users/{id}"),
            json!([{"op": "add", "value": {"nickName": "Nick", "name.middleName": "M"}}]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["nickName"], "Nick");
    assert_eq!(r.body["name"]["middleName"], "M");
    assert_eq!(r.body["name"]["givenName"], "Given");
}

#[tokio::test]
async fn okta_pathless_value_with_matching_id_is_accepted() {
    let gw = Gateway::quickstart().await;
    let id = gw.post("/Users", &user("a")).await.id();
    let r = gw
        .patch_ops(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "value": {"id": id, "active": false}}]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["active"], false);
    assert_eq!(r.id(), id);
    // A different id is a change of a read-only attribute: refused, nothing written.
    let before = gw.snapshot().await;
    let r = gw
        .patch_ops(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "value": {"id": "someone-else", "active": true}}]),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.scim_type(), Some("mutability"));
    assert_eq!(gw.snapshot().await, before);
    // Okta group rename: {"id", "displayName"}.
    let gid = group(&gw, "Old", &[]).await;
    let r = gw
        .patch_ops(
            &format!("/Groups/{gid}"),
            json!([{"op": "replace", "value": {"id": gid, "displayName": "New"}}]),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(gw.get(&format!("/Groups/{gid}")).await.body["displayName"], "New");
}

#[tokio::test]
async fn patch_rule_4_members_remove_with_value_array_without_value_and_by_filter() {
    let gw = Gateway::quickstart().await;
    let mut users = Vec::new();
    for i in 0..5 {
        users.push(gw.post("/Users", &user(&format!("m{i}"))).await.id());
    }
    let refs: Vec<&str> = users.iter().map(String::as_str).collect();
    let gid = group(&gw, "G", &refs).await;
    let path = format!("/Groups/{gid}");
    // With a value array: only those.
    let r = gw
        .patch_ops(
            &path,
            json!([{"op": "Remove", "path": "members", "value": [{"value": users[0]}, {"value": users[1]}]}]),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(member_ids(&gw, &gid).await, sorted(users[2..].to_vec()));
    // By filter: one.
    let r = gw
        .patch_ops(
            &path,
            json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", users[2])}]),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(member_ids(&gw, &gid).await, sorted(users[3..].to_vec()));
    // Removing a member that is not in the group is harmless.
    let r = gw
        .patch_ops(
            &path,
            json!([{"op": "remove", "path": "members", "value": [{"value": users[0]}]}]),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(member_ids(&gw, &gid).await, sorted(users[3..].to_vec()));
    // Without value: all.
    let r = gw.patch_ops(&path, json!([{"op": "remove", "path": "members"}])).await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(member_ids(&gw, &gid).await, Vec::<String>::new());
    assert_eq!(gw.db_scalar("SELECT count(*) FROM group_members").await, 0);
    // The users themselves are untouched.
    assert_eq!(gw.db_scalar("SELECT count(*) FROM users").await, 5);
}

#[tokio::test]
async fn patch_rule_5_filter_path_creates_the_missing_element() {
    let gw = Gateway::quickstart().await;
    let id = gw.post("/Users", &json!({"userName": "noemail"})).await.id();
    let r = gw
        .patch_ops(
            &format!("/Users/{id}"),
            json!([
                {"op": "add", "path": "emails[type eq \"work\"].value", "value": "w@contoso.com"},
                {"op": "replace", "path": "addresses[type eq \"work\"].locality", "value": "Redmond"},
                {"op": "replace", "path": "addresses[type eq \"work\"].postalCode", "value": "98052"},
                {"op": "replace", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "555-0199"}
            ]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["emails"][0]["value"], "w@contoso.com");
    assert_eq!(r.body["emails"][0]["type"], "work");
    assert_eq!(
        r.body["addresses"],
        json!([{"type": "work", "locality": "Redmond", "postalCode": "98052"}])
    );
    assert_eq!(r.body["phoneNumbers"][0]["value"], "555-0199");
    assert_eq!(r.body["phoneNumbers"][0]["type"], "mobile");
    let sql = format!(
        "SELECT count(*) FROM users WHERE id = '{id}' AND work_locality = 'Redmond' AND work_postal_code = '98052'"
    );
    assert_eq!(gw.db_scalar(&sql).await, 1);
    assert_eq!(
        gw.db_scalar("SELECT count(*) FROM user_emails WHERE value = 'w@contoso.com' AND type = 'work'")
            .await,
        1
    );
    // Again on the now-existing element: updated, not duplicated.
    let r = gw
        .patch_ops(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "w2@contoso.com"}]),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["emails"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["emails"][0]["value"], "w2@contoso.com");
}

#[tokio::test]
async fn patch_rule_6_manager_in_all_four_forms_and_removal() {
    let gw = Gateway::quickstart().await;
    let m1 = gw.post("/Users", &user("m1")).await.id();
    let m2 = gw.post("/Users", &user("m2")).await.id();
    let id = gw.post("/Users", &user("emp")).await.id();
    let path = format!("/Users/{id}");
    let manager_in_db = || format!("SELECT count(*) FROM users WHERE id = '{id}' AND manager_id IS NOT NULL");
    let manager_is = |m: &str| format!("SELECT count(*) FROM users WHERE id = '{id}' AND manager_id = '{m}'");

    let forms = [
        (MANAGER.to_owned(), json!(m1)),
        (MANAGER.to_owned(), json!({"value": m2})),
        (
            MANAGER.to_owned(),
            json!([{"$ref": format!("{}/Users/{m1}", gw.base), "value": m1}]),
        ),
        (format!("{MANAGER}.value"), json!(m2)),
        ("manager".to_owned(), json!({"value": m1})),
    ];
    for (p, value) in forms {
        let r = gw
            .patch_ops(&path, json!([{"op": "Add", "path": p, "value": value}]))
            .await;
        assert_eq!(r.status, 200, "{p} {value}: {}", r.body);
        let want = r.body[ENTERPRISE]["manager"]["value"].as_str().unwrap().to_owned();
        assert!(want == m1 || want == m2);
        assert_eq!(gw.db_scalar(&manager_is(&want)).await, 1, "{p} {value}");
        assert_eq!(
            r.body[ENTERPRISE]["manager"]["$ref"],
            format!("{}/Users/{want}", gw.base),
            "{}",
            r.body
        );
    }
    // Pathless, with the URN key.
    let r = gw
        .patch_ops(&path, json!([{"op": "replace", "value": {MANAGER: m2}}]))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(gw.db_scalar(&manager_is(&m2)).await, 1);
    let r = gw
        .patch_ops(
            &path,
            json!([{"op": "replace", "value": {ENTERPRISE: {"manager": {"value": m1}}}}]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(gw.db_scalar(&manager_is(&m1)).await, 1);

    // Removal: "", null, {"value": ""}, and remove.
    for removal in [json!(""), Json::Null, json!({"value": ""})] {
        let r = gw
            .patch_ops(&path, json!([{"op": "replace", "path": MANAGER, "value": m2}]))
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(gw.db_scalar(&manager_in_db()).await, 1);
        let r = gw
            .patch_ops(&path, json!([{"op": "Replace", "path": MANAGER, "value": removal}]))
            .await;
        assert_eq!(r.status, 200, "{removal}: {}", r.body);
        assert!(
            r.body.get(ENTERPRISE).is_none_or(|e| e.get("manager").is_none()),
            "{}",
            r.body
        );
        assert_eq!(gw.db_scalar(&manager_in_db()).await, 0, "{removal}");
    }
    gw.patch_ops(&path, json!([{"op": "replace", "path": MANAGER, "value": m2}]))
        .await;
    let r = gw.patch_ops(&path, json!([{"op": "remove", "path": MANAGER}])).await;
    assert_eq!(r.status, 200);
    assert_eq!(gw.db_scalar(&manager_in_db()).await, 0);
}

#[tokio::test]
async fn patch_rule_7_entra_stringified_roles_are_accepted_and_ignored_when_unmapped() {
    let gw = Gateway::quickstart().await;
    let id = gw.post("/Users", &user("a")).await.id();
    let before = gw.snapshot().await;
    let r = gw
        .patch_ops(
            &format!("/Users/{id}"),
            json!([{"op": "Add", "path": "roles", "value": [
                "{\"id\":\"7b5c1a3e\",\"value\":\"Admin\",\"displayName\":\"Admin\",\"primary\":true}"
            ]}]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.get("roles").is_none(), "{}", r.body);
    let r = gw
        .patch_ops(
            &format!("/Users/{id}"),
            json!([{"op": "Replace", "path": "roles[primary eq \"True\"].value", "value": "Owner"}]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.get("roles").is_none());
    assert_eq!(gw.snapshot().await, before, "nothing mapped changed");
    // On create too.
    let mut body = user("b");
    body["roles"] = json!(["{\"value\":\"Reader\"}"]);
    let r = gw.post("/Users", &body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(r.body.get("roles").is_none());
}

#[tokio::test]
async fn patch_rule_8_clearing_by_replace_empty_or_null_and_by_remove() {
    let gw = Gateway::quickstart().await;
    let mut body = user("a");
    body["title"] = json!("T");
    body["nickName"] = json!("N");
    body["displayName"] = json!("D");
    body[ENTERPRISE] = json!({"department": "X"});
    let id = gw.post("/Users", &body).await.id();
    let path = format!("/Users/{id}");
    let r = gw
        .patch_ops(
            &path,
            json!([
                {"op": "replace", "path": "title", "value": ""},
                {"op": "replace", "path": "nickName", "value": null},
                {"op": "remove", "path": "displayName"},
                {"op": "replace", "path": format!("{ENTERPRISE}:department"), "value": ""},
                {"op": "replace", "path": "name.givenName", "value": ""}
            ]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    for k in ["title", "nickName", "displayName", ENTERPRISE] {
        assert!(r.body.get(k).is_none(), "{k}: {}", r.body);
    }
    assert_eq!(r.body["name"], json!({"familyName": "Jensen"}));
    let sql = format!(
        "SELECT count(*) FROM users WHERE id = '{id}' AND title IS NULL AND nick_name IS NULL AND display_name IS NULL AND department IS NULL AND given_name IS NULL"
    );
    assert_eq!(gw.db_scalar(&sql).await, 1);
    // Multi-valued: replace with [] / null clears the child rows.
    let r = gw
        .patch_ops(&path, json!([{"op": "replace", "path": "emails", "value": []}]))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.get("emails").is_none());
    assert_eq!(gw.db_scalar("SELECT count(*) FROM user_emails").await, 0);
    // Pathless replace with "" clears too.
    gw.patch_ops(&path, json!([{"op": "add", "path": "title", "value": "again"}]))
        .await;
    let r = gw
        .patch_ops(&path, json!([{"op": "replace", "value": {"title": ""}}]))
        .await;
    assert_eq!(r.status, 200);
    assert!(r.body.get("title").is_none());
    assert_eq!(
        gw.db_scalar(&format!(
            "SELECT count(*) FROM users WHERE id = '{id}' AND title IS NULL"
        ))
        .await,
        1
    );
}

#[tokio::test]
async fn patch_rule_9_operations_apply_in_order_and_atomically() {
    let gw = Gateway::quickstart().await;
    let id = gw.post("/Users", &user("a")).await.id();
    let path = format!("/Users/{id}");
    let r = gw
        .patch_ops(
            &path,
            json!([
                {"op": "add", "path": "title", "value": "first"},
                {"op": "replace", "path": "title", "value": "second"},
                {"op": "remove", "path": "emails"},
                {"op": "add", "path": "emails", "value": [{"value": "n@x.com", "type": "home"}]},
                {"op": "add", "path": "nickName", "value": "temp"},
                {"op": "remove", "path": "nickName"}
            ]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["title"], "second");
    assert_eq!(r.body["emails"][0]["value"], "n@x.com");
    assert_eq!(r.body["emails"].as_array().unwrap().len(), 1);
    assert!(r.body.get("nickName").is_none());
    // One request, one version.
    assert_eq!(r.body["meta"]["version"], "W/\"2\"");

    // A later operation fails: the earlier ones are not applied.
    let before = gw.snapshot().await;
    let r = gw
        .patch_ops(
            &path,
            json!([
                {"op": "replace", "path": "title", "value": "third"},
                {"op": "replace", "path": "emails[type eq \"home\"].value", "value": "z@x.com"},
                {"op": "replace", "path": "id", "value": "nope"}
            ]),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.scim_type(), Some("mutability"));
    assert_eq!(gw.snapshot().await, before);
    let got = gw.get(&path).await;
    assert_eq!(got.body["title"], "second");
    assert_eq!(got.body["emails"][0]["value"], "n@x.com");
}

#[tokio::test]
async fn patch_rule_10_user_patch_200_with_resource_group_patch_204_without_members() {
    let gw = Gateway::quickstart().await;
    let id = gw.post("/Users", &user("a")).await.id();
    let r = gw
        .patch_ops(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "path": "title", "value": "x"}]),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["id"], id.as_str());
    assert_eq!(r.body["userName"], "a");
    assert_eq!(r.header("etag"), Some("W/\"2\""));
    let gid = group(&gw, "G", &[&id]).await;
    let r = gw
        .patch_ops(
            &format!("/Groups/{gid}"),
            json!([{"op": "replace", "path": "displayName", "value": "G2"}]),
        )
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(r.body, Json::Null);
    let r = gw
        .patch(
            &format!("/Groups/{gid}?excludedAttributes=members"),
            &patch_body(json!([{"op": "replace", "path": "externalId", "value": "e"}])),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.get("members").is_none());
    assert_eq!(r.body["externalId"], "e");
}

// ---------------------------------------------------------------------------------------------
// Deprovisioning
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn entra_deprovision_patch_active_false_keeps_the_user_visible() {
    let gw = Gateway::quickstart().await;
    let id = entra_user(&gw, "jdoe", "jdoe-ext").await;
    let r = gw
        .patch_ops(
            &format!("/Users/{id}"),
            json!([{"op": "Replace", "path": "active", "value": "False"}]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["active"], false);
    assert_eq!(
        gw.db_scalar(&format!("SELECT active FROM users WHERE id = '{id}'"))
            .await,
        0
    );
    assert_eq!(gw.get(&format!("/Users/{id}")).await.body["active"], false);
    assert_eq!(
        ids(&gw.filter("/Users", "userName eq \"jdoe@contoso.com\"").await.body),
        vec![id.clone()]
    );
    assert_eq!(
        ids(&gw.filter("/Users", "externalId eq \"jdoe-ext\"").await.body),
        vec![id.clone()]
    );
    assert_eq!(
        ids(&gw.filter("/Users", "active eq false").await.body),
        vec![id.clone()]
    );
    // Reactivation.
    let r = gw
        .patch_ops(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "value": {"active": true}}]),
        )
        .await;
    assert_eq!(r.body["active"], true);
    assert_eq!(
        gw.db_scalar(&format!("SELECT active FROM users WHERE id = '{id}'"))
            .await,
        1
    );
}

#[tokio::test]
async fn okta_put_deactivates_user() {
    let gw = Gateway::quickstart().await;
    let mut body = user("okta@example.com");
    body["password"] = json!("Placeholder1!");
    let created = gw.post("/Users", &body).await;
    let id = created.id();
    let gid = group(&gw, "Everyone", &[&id]).await;
    // Okta echoes everything it got, including id, meta and groups, and sends active false.
    let mut put = gw.get(&format!("/Users/{id}")).await.body;
    put["active"] = json!(false);
    put["groups"] = json!([{"value": gid, "display": "Everyone"}]);
    put["password"] = json!("Placeholder1!");
    let r = gw.put(&format!("/Users/{id}"), &put).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["active"], false);
    assert_eq!(r.body["userName"], "okta@example.com");
    assert_eq!(
        gw.db_scalar(&format!("SELECT active FROM users WHERE id = '{id}'"))
            .await,
        0
    );
    assert_eq!(gw.get(&format!("/Users/{id}")).await.body["active"], false);
    assert_eq!(
        ids(&gw.filter("/Users", "userName eq \"okta@example.com\"").await.body),
        vec![id.clone()]
    );
    // Group membership is untouched by a user PUT.
    assert_eq!(member_ids(&gw, &gid).await, vec![id]);
}

#[tokio::test]
async fn delete_twice_is_204_then_404() {
    let gw = Gateway::quickstart().await;
    let id = gw.post("/Users", &user("a")).await.id();
    let gid = group(&gw, "G", &[]).await;
    assert_eq!(gw.delete(&format!("/Users/{id}")).await.status, 204);
    let r = gw.delete(&format!("/Users/{id}")).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body["status"], "404");
    assert_eq!(gw.delete(&format!("/Groups/{gid}")).await.status, 204);
    assert_eq!(gw.delete(&format!("/Groups/{gid}")).await.status, 404);
    assert_eq!(gw.delete("/Users/never-existed").await.status, 404);
}

// ---------------------------------------------------------------------------------------------
// Groups
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn groups_create_then_membership_patches_in_batches() {
    let gw = Gateway::quickstart().await;
    let mut users = Vec::new();
    for i in 0..8 {
        users.push(gw.post("/Users", &user(&format!("b{i}"))).await.id());
    }
    let gid = group(&gw, "Batch", &[]).await;
    let path = format!("/Groups/{gid}");
    let add = |ids: &[String]| json!({"op": "Add", "path": "members", "value": ids.iter().map(|i| json!({"value": i})).collect::<Vec<_>>()});
    let remove = |ids: &[String]| json!({"op": "Remove", "path": "members", "value": ids.iter().map(|i| json!({"value": i})).collect::<Vec<_>>()});
    let r = gw.patch_ops(&path, json!([add(&users[0..4])])).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = gw
        .patch_ops(&path, json!([add(&users[4..8]), remove(&users[0..2])]))
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(member_ids(&gw, &gid).await, sorted(users[2..8].to_vec()));
    // Adding members already present is idempotent.
    let r = gw.patch_ops(&path, json!([add(&users[2..4])])).await;
    assert_eq!(r.status, 204);
    assert_eq!(gw.db_scalar("SELECT count(*) FROM group_members").await, 6);
    // The user side shows the membership.
    let u = gw.get(&format!("/Users/{}", users[5])).await;
    assert_eq!(u.body["groups"][0]["value"], gid.as_str());
    let r = gw
        .filter("/Groups", &format!("members[value eq \"{}\"]", users[5]))
        .await;
    assert_eq!(ids(&r.body), vec![gid.clone()]);
}

#[tokio::test]
async fn okta_renames_group_before_membership_change() {
    let gw = Gateway::quickstart().await;
    let a = gw.post("/Users", &user("a")).await.id();
    let b = gw.post("/Users", &user("b")).await.id();
    let gid = group(&gw, "Engineering", &[&a]).await;
    let path = format!("/Groups/{gid}");
    let r = gw
        .patch_ops(
            &path,
            json!([{"op": "replace", "value": {"id": gid, "displayName": "Eng"}}]),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = gw
        .patch_ops(
            &path,
            json!([
                {"op": "add", "path": "members", "value": [{"value": b, "display": "b"}]},
                {"op": "remove", "path": "members", "value": [{"value": a, "display": "a"}]}
            ]),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let g = gw.get(&path).await;
    assert_eq!(g.body["displayName"], "Eng");
    assert_eq!(member_ids(&gw, &gid).await, vec![b]);
    assert_eq!(
        ids(&gw.filter("/Groups", "displayName eq \"Eng\"").await.body),
        vec![gid.clone()]
    );
    assert_eq!(
        gw.filter("/Groups", "displayName eq \"Engineering\"").await.body["totalResults"],
        0
    );
    // Okta may also PUT the group with its members.
    let r = gw
        .put(
            &path,
            &json!({"schemas": [GROUP_SCHEMA], "id": gid, "displayName": "Eng", "members": [{"value": a}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(member_ids(&gw, &gid).await, vec![a]);
}

// ---------------------------------------------------------------------------------------------
// Paging and responses
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn paging_answers_integers_and_the_asked_start_index() {
    let gw = Gateway::quickstart().await;
    for i in 0..5 {
        gw.post("/Users", &user(&format!("p{i}"))).await;
    }
    let r = gw.get("/Users?startIndex=3&count=2&sortBy=userName").await;
    assert_eq!(r.status, 200);
    assert!(r.body["totalResults"].is_u64());
    assert!(r.body["itemsPerPage"].is_u64());
    assert!(r.body["startIndex"].is_u64());
    assert_eq!(r.body["totalResults"], 5);
    assert_eq!(r.body["startIndex"], 3);
    assert_eq!(r.body["itemsPerPage"], 2);
    assert_eq!(user_names(&r.body), v(&["p2", "p3"]));
    let r = gw.get("/Groups?startIndex=2&count=10").await;
    assert_eq!(r.body["startIndex"], 2);
    assert_eq!(r.body["totalResults"], 0);
    let r = gw.get("/Users?count=0").await;
    assert_eq!(r.body["totalResults"], 5);
    assert_eq!(r.body["itemsPerPage"], 0);
    let r = gw.post("/Users/.search", &json!({"startIndex": 5, "count": 3})).await;
    assert_eq!(r.body["startIndex"], 5);
    assert_eq!(r.body["itemsPerPage"], 1);
}

/// Entra's bursts: when every request slot is taken (here one, held by a write waiting on a
/// locked database), the next request waits briefly and then gets 429 with Retry-After.
#[tokio::test]
async fn entra_burst_beyond_capacity_is_429_with_retry_after() {
    let gw = Gateway::with_settings("max_concurrent_requests = 1", "statement_timeout_ms = 1500").await;
    let uid = gw.post("/Users", &user("a")).await.id();
    let lock = gw.db_lock().await;
    let path = format!("/Users/{uid}");
    let slow = gw.patch_ops(&path, json!([{"op": "replace", "path": "title", "value": "x"}]));
    let burst = async {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        gw.filter("/Users", "userName eq \"a\"").await
    };
    let (slow, burst) = tokio::join!(slow, burst);
    assert_eq!(burst.status, 429, "{}", burst.body);
    assert_eq!(burst.header("retry-after"), Some("1"));
    assert_eq!(
        burst.body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
    );
    assert!(
        slow.status == 429 || slow.status == 503,
        "{}: {}",
        slow.status,
        slow.body
    );
    lock.release().await;
    assert_eq!(gw.filter("/Users", "userName eq \"a\"").await.status, 200);
}
