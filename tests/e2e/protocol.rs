//! RFC 7644 (protocol) and RFC 7643 (discovery schemas) over HTTP, plus RFC 9865 cursors.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{Value as Json, json};

use crate::harness::{Gateway, TOKEN, enc, ids, patch_body, user, user_names};

const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// Four users with distinct, sortable values:
/// alice (title Engineer, externalId ext-A, work email), bob (Manager, ext-b, home email),
/// carol (Engineer, no externalId, work email at example.org), dave (no title, inactive).
async fn seed(gw: &Gateway) -> Vec<String> {
    let bodies = [
        json!({"schemas": [USER_SCHEMA], "userName": "alice", "externalId": "ext-A", "title": "Engineer",
               "displayName": "Alice Smith", "name": {"givenName": "Alice", "familyName": "Smith"},
               "emails": [{"value": "alice@example.com", "type": "work", "primary": true}]}),
        json!({"schemas": [USER_SCHEMA], "userName": "bob", "externalId": "ext-b", "title": "Manager",
               "displayName": "Bob Jones", "name": {"givenName": "Bob", "familyName": "Jones"},
               "emails": [{"value": "bob@home.example.net", "type": "home"}]}),
        json!({"schemas": [USER_SCHEMA], "userName": "carol", "title": "Engineer", "displayName": "Carol Smith",
               "name": {"givenName": "Carol", "familyName": "Smith"},
               "emails": [{"value": "carol@example.org", "type": "work"}]}),
        json!({"schemas": [USER_SCHEMA], "userName": "dave", "active": false, "displayName": "Dave Brown",
               "name": {"givenName": "Dave", "familyName": "Brown"}}),
    ];
    let mut out = Vec::new();
    for b in bodies {
        let r = gw.post("/Users", &b).await;
        assert_eq!(r.status, 201, "{}", r.body);
        out.push(r.id());
    }
    out
}

/// The userNames a filter selects, sorted.
async fn names_for(gw: &Gateway, filter: &str) -> Vec<String> {
    let r = gw.filter("/Users", filter).await;
    assert_eq!(r.status, 200, "filter {filter}: {}", r.body);
    assert_eq!(r.body["schemas"], json!([LIST]));
    let mut names = user_names(&r.body);
    assert_eq!(
        r.body["totalResults"],
        json!(names.len()),
        "filter {filter}: {}",
        r.body
    );
    names.sort();
    names
}

fn v(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

// ---------------------------------------------------------------------------------------------
// §3.3 create, §3.4.1 get, §3.5.1 put, §3.6 delete
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn rfc7644_3_3_create_returns_201_with_location_etag_and_meta() {
    let gw = Gateway::quickstart().await;
    let r = gw.post("/Users", &user("bjensen")).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.id();
    let location = format!("{}/Users/{id}", gw.base);
    assert_eq!(r.header("location"), Some(location.as_str()));
    assert_eq!(r.header("content-type"), Some("application/scim+json"));
    let meta = &r.body["meta"];
    assert_eq!(meta["resourceType"], "User");
    assert_eq!(meta["location"], location.as_str());
    assert_eq!(meta["version"], "W/\"1\"");
    assert_eq!(r.header("etag"), Some("W/\"1\""));
    assert!(meta["created"].as_str().is_some_and(|s| s.ends_with('Z')), "{meta}");
    assert_eq!(meta["created"], meta["lastModified"]);
    assert_eq!(r.body["schemas"][0], USER_SCHEMA);
    assert_eq!(r.body["userName"], "bjensen");
    assert_eq!(r.body["name"]["givenName"], "Barbara");
    assert_eq!(r.body["active"], true);
    assert_eq!(
        r.body["emails"],
        json!([{"value": "bjensen@example.com", "type": "work", "primary": true}])
    );
    assert_eq!(
        gw.db_scalar("SELECT count(*) FROM users WHERE user_name = 'bjensen'")
            .await,
        1
    );

    let got = gw.get(&format!("/Users/{id}")).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.header("etag"), Some("W/\"1\""));
    assert_eq!(got.body, r.body);

    let group = gw
        .post(
            "/Groups",
            &json!({"schemas": [GROUP_SCHEMA], "displayName": "Admins", "members": [{"value": id}]}),
        )
        .await;
    assert_eq!(group.status, 201, "{}", group.body);
    assert_eq!(group.body["meta"]["resourceType"], "Group");
    assert_eq!(group.body["members"][0]["value"], id.as_str());
    assert_eq!(group.body["members"][0]["$ref"], location.as_str());
    let gid = group.id();
    assert_eq!(
        group.header("location"),
        Some(format!("{}/Groups/{gid}", gw.base).as_str())
    );
}

#[tokio::test]
async fn rfc7644_3_4_1_get_unknown_id_is_404_scim_error() {
    let gw = Gateway::quickstart().await;
    let r = gw.get("/Users/2819c223-7f76-453a-919d-413861904646").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body["schemas"], json!([ERROR]));
    assert_eq!(r.body["status"], "404");
    let r = gw.get("/Groups/nope").await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn rfc7644_3_5_1_put_replaces_and_clears_absent_attributes() {
    let gw = Gateway::quickstart().await;
    let mut body = user("bjensen");
    body["title"] = json!("Tour Guide");
    body["nickName"] = json!("Babs");
    body[ENTERPRISE] = json!({"department": "Tours", "employeeNumber": "701984"});
    body["phoneNumbers"] = json!([{"value": "555-555-5555", "type": "work"}]);
    body["password"] = json!("s3cret!");
    let created = gw.post("/Users", &body).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.id();
    assert_eq!(created.body[ENTERPRISE]["department"], "Tours");

    // Echo the read-only id and meta as a client would; drop title, nickName, the
    // extension and the phone numbers; change the family name.
    let mut put = created.body.clone();
    for k in ["title", "nickName", ENTERPRISE, "phoneNumbers"] {
        put.as_object_mut().unwrap().remove(k);
    }
    put["name"] = json!({"familyName": "Jensen-Smith"});
    put["meta"]["created"] = json!("1999-01-01T00:00:00Z");
    let r = gw.put(&format!("/Users/{id}"), &put).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.id(), id);
    assert_eq!(r.header("etag"), Some("W/\"2\""));
    assert_eq!(r.body["meta"]["version"], "W/\"2\"");
    assert_eq!(r.body["meta"]["created"], created.body["meta"]["created"]);
    assert_eq!(r.body["userName"], "bjensen");
    assert_eq!(r.body["name"], json!({"familyName": "Jensen-Smith"}));
    for k in ["title", "nickName", ENTERPRISE, "phoneNumbers"] {
        assert!(r.body.get(k).is_none(), "{k} should be cleared: {}", r.body);
    }
    let sql = format!(
        "SELECT count(*) FROM users WHERE id = '{id}' AND title IS NULL AND nick_name IS NULL AND department IS NULL AND given_name IS NULL"
    );
    assert_eq!(gw.db_scalar(&sql).await, 1);
    assert_eq!(gw.db_scalar("SELECT count(*) FROM user_phones").await, 0);
    // The password is writeOnly: a client cannot echo it, so its absence keeps it.
    assert_eq!(
        gw.db_scalar("SELECT count(*) FROM users WHERE password_hash LIKE '$argon2%'")
            .await,
        1
    );
    let got = gw.get(&format!("/Users/{id}")).await;
    assert_eq!(got.body, r.body);

    // PUT of an unknown id.
    let r = gw.put("/Users/does-not-exist", &user("x")).await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn rfc7644_3_5_1_put_with_a_different_id_in_the_body_keeps_the_path_id() {
    let gw = Gateway::quickstart().await;
    let id = gw.post("/Users", &user("bjensen")).await.id();
    let mut put = user("bjensen");
    put["id"] = json!("something-else");
    put["title"] = json!("T");
    let r = gw.put(&format!("/Users/{id}"), &put).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.id(), id);
    assert_eq!(
        gw.db_scalar("SELECT count(*) FROM users WHERE id = 'something-else'")
            .await,
        0
    );
}

#[tokio::test]
async fn rfc7644_3_6_delete_is_204_then_404() {
    let gw = Gateway::quickstart().await;
    let id = gw.post("/Users", &user("bjensen")).await.id();
    let gid = gw
        .post("/Groups", &json!({"displayName": "G", "members": [{"value": id}]}))
        .await
        .id();
    let r = gw.delete(&format!("/Users/{id}")).await;
    assert_eq!(r.status, 204);
    assert_eq!(r.body, Json::Null);
    assert_eq!(gw.get(&format!("/Users/{id}")).await.status, 404);
    assert_eq!(gw.delete(&format!("/Users/{id}")).await.status, 404);
    // The membership went with the user.
    assert_eq!(gw.db_scalar("SELECT count(*) FROM group_members").await, 0);
    let g = gw.get(&format!("/Groups/{gid}")).await;
    assert!(g.body.get("members").is_none_or(|m| m == &json!([])), "{}", g.body);
    assert_eq!(gw.delete(&format!("/Groups/{gid}")).await.status, 204);
    assert_eq!(gw.get(&format!("/Groups/{gid}")).await.status, 404);
}

// ---------------------------------------------------------------------------------------------
// §3.5.2 PATCH
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn rfc7644_3_5_2_1_add_with_value_paths_sub_attributes_and_urns() {
    let gw = Gateway::quickstart().await;
    let id = gw.post("/Users", &user("bjensen")).await.id();
    let path = format!("/Users/{id}");
    let r = gw
        .patch_ops(
            &path,
            json!([
                {"op": "add", "path": "emails", "value": [{"value": "bj@home.example.com", "type": "home", "primary": false}]},
                {"op": "add", "path": "name.middleName", "value": "Ann"},
                {"op": "add", "path": format!("{ENTERPRISE}:department"), "value": "Tours"},
                {"op": "add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "555-0100"},
                {"op": "add", "value": {"nickName": "Babs", "title": "Guide"}}
            ]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("etag"), Some("W/\"2\""));
    assert_eq!(
        r.body["emails"],
        json!([
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "bj@home.example.com", "type": "home", "primary": false}
        ])
    );
    assert_eq!(r.body["name"]["middleName"], "Ann");
    assert_eq!(r.body["name"]["givenName"], "Barbara");
    assert_eq!(r.body[ENTERPRISE]["department"], "Tours");
    // The backend stores a missing `primary` as false (column default).
    assert_eq!(
        r.body["phoneNumbers"],
        json!([{"value": "555-0100", "type": "mobile", "primary": false}])
    );
    assert_eq!(r.body["nickName"], "Babs");
    assert_eq!(r.body["title"], "Guide");
    assert_eq!(
        r.body["schemas"],
        json!([USER_SCHEMA, ENTERPRISE]),
        "the extension URN joins schemas"
    );
    assert_eq!(gw.get(&path).await.body, r.body);
    assert_eq!(gw.db_scalar("SELECT count(*) FROM user_emails").await, 2);
}

/// Entra sends a primary work email plus others without `primary`: the element without it
/// must be stored (the child table's `is_primary` is NOT NULL DEFAULT 0).
#[tokio::test]
async fn rfc7643_4_1_2_emails_where_only_one_carries_primary() {
    let gw = Gateway::quickstart().await;
    let mut body = user("bjensen");
    body["emails"] = json!([
        {"value": "w@example.com", "type": "work", "primary": true},
        {"value": "h@example.com", "type": "home"}
    ]);
    let r = gw.post("/Users", &body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(gw.db_scalar("SELECT count(*) FROM user_emails").await, 2);
    let id = r.id();
    let r = gw
        .patch_ops(
            &format!("/Users/{id}"),
            json!([{"op": "add", "path": "phoneNumbers", "value": [
                {"value": "555-0100", "type": "work", "primary": true},
                {"value": "555-0101", "type": "mobile"}]}]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(gw.db_scalar("SELECT count(*) FROM user_phones").await, 2);
}

#[tokio::test]
async fn rfc7644_3_5_2_3_replace_with_value_filter_and_sub_attribute() {
    let gw = Gateway::quickstart().await;
    let mut body = user("bjensen");
    body["emails"] = json!([
        {"value": "w@example.com", "type": "work", "primary": true},
        {"value": "h@example.com", "type": "home", "primary": false}
    ]);
    let id = gw.post("/Users", &body).await.id();
    let path = format!("/Users/{id}");
    let r = gw
        .patch_ops(
            &path,
            json!([
                {"op": "replace", "path": "emails[type eq \"home\"].value", "value": "h2@example.com"},
                {"op": "replace", "path": "name.familyName", "value": "Jensen-Smith"},
                {"op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User:title", "value": "Boss"},
                {"op": "replace", "path": "active", "value": false}
            ]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["emails"],
        json!([
            {"value": "w@example.com", "type": "work", "primary": true},
            {"value": "h2@example.com", "type": "home", "primary": false}
        ])
    );
    assert_eq!(r.body["name"]["familyName"], "Jensen-Smith");
    assert_eq!(r.body["name"]["givenName"], "Barbara");
    assert_eq!(r.body["title"], "Boss");
    assert_eq!(r.body["active"], false);

    // Replacing a whole multi-valued attribute replaces every element.
    let r = gw
        .patch_ops(
            &path,
            json!([{"op": "replace", "path": "emails", "value": [{"value": "only@example.com", "type": "work"}]}]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["emails"],
        json!([{"value": "only@example.com", "type": "work", "primary": false}])
    );
    assert_eq!(gw.db_scalar("SELECT count(*) FROM user_emails").await, 1);

    // Pathless replace with an extension object.
    let r = gw
        .patch_ops(
            &path,
            json!([{"op": "replace", "value": {ENTERPRISE: {"costCenter": "4130"}, "displayName": "BJ"}}]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body[ENTERPRISE]["costCenter"], "4130");
    assert_eq!(r.body["displayName"], "BJ");
}

#[tokio::test]
async fn rfc7644_3_5_2_2_remove_with_value_filter_sub_attribute_and_urn() {
    let gw = Gateway::quickstart().await;
    let mut body = user("bjensen");
    body["emails"] = json!([
        {"value": "w@example.com", "type": "work", "primary": true},
        {"value": "h@example.com", "type": "home", "primary": false}
    ]);
    body["title"] = json!("T");
    body[ENTERPRISE] = json!({"department": "D", "division": "V"});
    let id = gw.post("/Users", &body).await.id();
    let path = format!("/Users/{id}");
    let r = gw
        .patch_ops(
            &path,
            json!([
                {"op": "remove", "path": "emails[type eq \"home\"]"},
                {"op": "remove", "path": "name.givenName"},
                {"op": "remove", "path": format!("{ENTERPRISE}:department")},
                {"op": "remove", "path": "title"}
            ]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["emails"],
        json!([{"value": "w@example.com", "type": "work", "primary": true}])
    );
    assert_eq!(r.body["name"], json!({"familyName": "Jensen"}));
    assert_eq!(r.body[ENTERPRISE], json!({"division": "V"}));
    assert!(r.body.get("title").is_none());
    let sql = format!(
        "SELECT count(*) FROM users WHERE id = '{id}' AND title IS NULL AND department IS NULL AND given_name IS NULL AND division = 'V'"
    );
    assert_eq!(gw.db_scalar(&sql).await, 1);

    // Removing a sub-attribute of every element matched by a filter.
    let r = gw
        .patch_ops(
            &path,
            json!([{"op": "remove", "path": "emails[value eq \"w@example.com\"].type"}]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["emails"], json!([{"value": "w@example.com", "primary": true}]));

    // A filter that matches nothing on remove: removal is idempotent (IdPs resend removals),
    // 200 with nothing changed.
    let before = gw.snapshot().await;
    let r = gw
        .patch_ops(&path, json!([{"op": "remove", "path": "emails[type eq \"other\"]"}]))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["emails"], json!([{"value": "w@example.com", "primary": true}]));
    assert_eq!(gw.snapshot().await, before);
}

#[tokio::test]
async fn rfc7644_3_5_2_group_patch_is_204_and_returns_200_when_attributes_asked() {
    let gw = Gateway::quickstart().await;
    let a = gw.post("/Users", &user("a")).await.id();
    let gid = gw.post("/Groups", &json!({"displayName": "G"})).await.id();
    let r = gw
        .patch_ops(
            &format!("/Groups/{gid}"),
            json!([{"op": "add", "path": "members", "value": [{"value": a}]}]),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = gw
        .patch(
            &format!("/Groups/{gid}?attributes=displayName"),
            &patch_body(json!([{"op": "replace", "path": "displayName", "value": "G2"}])),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["displayName"], "G2");
    assert_eq!(r.body["id"], gid.as_str());
    assert!(r.body.get("members").is_none(), "{}", r.body);
}

// ---------------------------------------------------------------------------------------------
// §3.4.2.2 filters
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn rfc7644_3_4_2_2_every_comparison_operator() {
    let gw = Gateway::quickstart().await;
    seed(&gw).await;
    let all = v(&["alice", "bob", "carol", "dave"]);
    assert_eq!(names_for(&gw, r#"userName eq "bob""#).await, v(&["bob"]));
    assert_eq!(
        names_for(&gw, r#"userName ne "bob""#).await,
        v(&["alice", "carol", "dave"])
    );
    assert_eq!(
        names_for(&gw, r#"displayName co "Smith""#).await,
        v(&["alice", "carol"])
    );
    assert_eq!(names_for(&gw, r#"userName sw "ca""#).await, v(&["carol"]));
    assert_eq!(names_for(&gw, r#"userName ew "e""#).await, v(&["alice", "dave"]));
    assert_eq!(names_for(&gw, r#"userName gt "bob""#).await, v(&["carol", "dave"]));
    assert_eq!(
        names_for(&gw, r#"userName ge "bob""#).await,
        v(&["bob", "carol", "dave"])
    );
    assert_eq!(names_for(&gw, r#"userName lt "bob""#).await, v(&["alice"]));
    assert_eq!(names_for(&gw, r#"userName le "bob""#).await, v(&["alice", "bob"]));
    assert_eq!(names_for(&gw, "title pr").await, v(&["alice", "bob", "carol"]));
    assert_eq!(names_for(&gw, "externalId pr").await, v(&["alice", "bob"]));
    assert_eq!(names_for(&gw, "userName pr").await, all);
    assert_eq!(names_for(&gw, "active eq false").await, v(&["dave"]));
    assert_eq!(names_for(&gw, "active eq true").await, v(&["alice", "bob", "carol"]));
    assert_eq!(
        names_for(&gw, r#"name.familyName eq "smith""#).await,
        v(&["alice", "carol"])
    );
    assert_eq!(names_for(&gw, r#"emails co "example.com""#).await, v(&["alice"]));
    assert_eq!(names_for(&gw, r#"emails.value ew ".org""#).await, v(&["carol"]));
    assert_eq!(names_for(&gw, r#"emails.type eq "work""#).await, v(&["alice", "carol"]));
    assert_eq!(names_for(&gw, "emails pr").await, v(&["alice", "bob", "carol"]));
    assert_eq!(names_for(&gw, r#"title ne "Engineer""#).await, v(&["bob", "dave"]));
}

#[tokio::test]
async fn rfc7644_3_4_2_2_logical_operators_and_grouping() {
    let gw = Gateway::quickstart().await;
    seed(&gw).await;
    assert_eq!(
        names_for(&gw, r#"title eq "Engineer" and name.givenName eq "Carol""#).await,
        v(&["carol"])
    );
    assert_eq!(
        names_for(&gw, r#"userName eq "bob" or userName eq "dave""#).await,
        v(&["bob", "dave"])
    );
    assert_eq!(
        names_for(&gw, r#"not (title eq "Engineer")"#).await,
        v(&["bob", "dave"])
    );
    // `and` binds tighter than `or`.
    assert_eq!(
        names_for(
            &gw,
            r#"userName eq "bob" or title eq "Engineer" and userName eq "carol""#
        )
        .await,
        v(&["bob", "carol"])
    );
    assert_eq!(
        names_for(
            &gw,
            r#"(userName eq "bob" or title eq "Engineer") and userName ne "carol""#
        )
        .await,
        v(&["alice", "bob"])
    );
    assert_eq!(
        names_for(
            &gw,
            r#"not (userName eq "bob" or userName eq "dave") and active eq true"#
        )
        .await,
        v(&["alice", "carol"])
    );
    assert_eq!(names_for(&gw, r#"((userName eq "alice"))"#).await, v(&["alice"]));
}

#[tokio::test]
async fn rfc7644_3_4_2_2_value_path_filters() {
    let gw = Gateway::quickstart().await;
    seed(&gw).await;
    assert_eq!(
        names_for(&gw, r#"emails[type eq "work" and value co "@example.com"]"#).await,
        v(&["alice"])
    );
    assert_eq!(
        names_for(&gw, r#"emails[type eq "work"]"#).await,
        v(&["alice", "carol"])
    );
    assert_eq!(
        names_for(&gw, r#"emails[type eq "home" or value ew ".org"]"#).await,
        v(&["bob", "carol"])
    );
    assert_eq!(
        names_for(&gw, r#"userName ne "alice" and emails[type eq "work"]"#).await,
        v(&["carol"])
    );
    // Both conditions on the same element: alice's work email is not at example.org.
    assert_eq!(
        names_for(&gw, r#"emails[type eq "work" and value ew "example.org"]"#).await,
        v(&["carol"])
    );
}

/// `addresses[type eq "work"]` is mapped to per-type columns (work_street, ...): the type is a
/// constant there, but a user without any work-address column set has no such element.
#[tokio::test]
async fn rfc7644_3_4_2_2_value_path_on_per_type_columns_needs_an_element() {
    let gw = Gateway::quickstart().await;
    let ids_ = seed(&gw).await;
    let r = gw
        .patch_ops(
            &format!("/Users/{}", ids_[0]),
            json!([{"op": "add", "path": "addresses[type eq \"work\"].locality", "value": "Hollywood"}]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["addresses"], json!([{"type": "work", "locality": "Hollywood"}]));
    assert_eq!(
        names_for(&gw, r#"addresses[locality eq "Hollywood"]"#).await,
        v(&["alice"])
    );
    assert_eq!(names_for(&gw, "addresses pr").await, v(&["alice"]));
    assert_eq!(names_for(&gw, r#"addresses[type eq "work"]"#).await, v(&["alice"]));
    assert_eq!(names_for(&gw, r#"addresses.type eq "work""#).await, v(&["alice"]));
    assert_eq!(
        names_for(&gw, r#"addresses[type eq "home"]"#).await,
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn rfc7644_3_4_2_2_id_and_meta_last_modified() {
    let gw = Gateway::quickstart().await;
    let a = gw.post("/Users", &user("first")).await;
    tokio::time::sleep(std::time::Duration::from_millis(15)).await;
    let b = gw.post("/Users", &user("second")).await;
    let ta = a.body["meta"]["lastModified"].as_str().unwrap().to_owned();
    let tb = b.body["meta"]["lastModified"].as_str().unwrap().to_owned();
    assert!(ta < tb, "{ta} {tb}");
    assert_eq!(names_for(&gw, &format!("id eq \"{}\"", a.id())).await, v(&["first"]));
    assert_eq!(
        names_for(&gw, &format!("meta.lastModified gt \"{ta}\"")).await,
        v(&["second"])
    );
    assert_eq!(
        names_for(&gw, &format!("meta.lastModified ge \"{ta}\"")).await,
        v(&["first", "second"])
    );
    assert_eq!(
        names_for(&gw, &format!("meta.lastModified lt \"{tb}\"")).await,
        v(&["first"])
    );
    assert_eq!(
        names_for(&gw, "meta.lastModified gt \"2000-01-01T00:00:00Z\"").await,
        v(&["first", "second"])
    );
    assert_eq!(
        names_for(&gw, &format!("meta.created le \"{ta}\"")).await,
        v(&["first"])
    );
    assert_eq!(
        names_for(&gw, "meta.resourceType eq \"User\"").await,
        v(&["first", "second"])
    );
    // A later modification moves lastModified.
    tokio::time::sleep(std::time::Duration::from_millis(15)).await;
    let r = gw
        .patch_ops(
            &format!("/Users/{}", a.id()),
            json!([{"op": "replace", "path": "title", "value": "x"}]),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        names_for(&gw, &format!("meta.lastModified gt \"{tb}\"")).await,
        v(&["first"])
    );
}

#[tokio::test]
async fn rfc7644_3_4_2_2_attribute_names_and_operators_are_case_insensitive() {
    let gw = Gateway::quickstart().await;
    seed(&gw).await;
    assert_eq!(names_for(&gw, r#"USERNAME EQ "ALICE""#).await, v(&["alice"]));
    assert_eq!(names_for(&gw, r#"name.FamilyName Eq "jones""#).await, v(&["bob"]));
    assert_eq!(names_for(&gw, r#"emails.Value CO "EXAMPLE.ORG""#).await, v(&["carol"]));
    assert_eq!(
        names_for(&gw, r#"DisplayName sW "bob" AnD NOT (title Pr)"#).await,
        Vec::<String>::new()
    );
    assert_eq!(
        names_for(&gw, r#"DisplayName sW "dave" AnD NOT (title Pr)"#).await,
        v(&["dave"])
    );
    assert_eq!(
        names_for(&gw, r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "Bob""#).await,
        v(&["bob"])
    );
}

#[tokio::test]
async fn rfc7643_2_2_case_exact_attributes_compare_exactly() {
    let gw = Gateway::quickstart().await;
    let ids_ = seed(&gw).await;
    // externalId and id are caseExact; userName, title and emails are not.
    assert_eq!(names_for(&gw, r#"externalId eq "ext-A""#).await, v(&["alice"]));
    assert_eq!(names_for(&gw, r#"externalId eq "EXT-A""#).await, Vec::<String>::new());
    assert_eq!(names_for(&gw, r#"externalId eq "ext-a""#).await, Vec::<String>::new());
    assert_eq!(names_for(&gw, r#"externalId sw "EXT""#).await, Vec::<String>::new());
    assert_eq!(names_for(&gw, r#"externalId sw "ext""#).await, v(&["alice", "bob"]));
    assert_eq!(
        names_for(&gw, &format!("id eq \"{}\"", ids_[0].to_uppercase())).await,
        Vec::<String>::new()
    );
    assert_eq!(names_for(&gw, r#"title eq "engineer""#).await, v(&["alice", "carol"]));
    assert_eq!(
        names_for(&gw, r#"emails.value eq "ALICE@EXAMPLE.COM""#).await,
        v(&["alice"])
    );
}

// ---------------------------------------------------------------------------------------------
// §3.4.2.3 sorting, §3.4.2.4 paging, RFC 9865 cursors
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn rfc7644_3_4_2_3_sort_by_and_sort_order() {
    let gw = Gateway::quickstart().await;
    seed(&gw).await;
    let r = gw.get("/Users?sortBy=userName").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(user_names(&r.body), v(&["alice", "bob", "carol", "dave"]));
    let r = gw.get("/Users?sortBy=userName&sortOrder=descending").await;
    assert_eq!(user_names(&r.body), v(&["dave", "carol", "bob", "alice"]));
    let r = gw.get("/Users?sortBy=name.givenName&sortOrder=ascending").await;
    assert_eq!(user_names(&r.body), v(&["alice", "bob", "carol", "dave"]));
    let r = gw.get("/Users?sortBy=displayName&sortOrder=DESCENDING").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(user_names(&r.body), v(&["dave", "carol", "bob", "alice"]));
    // Missing values sort last in ascending order (RFC 7644 §3.4.2.3).
    let r = gw.get("/Users?sortBy=title").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let names = user_names(&r.body);
    assert_eq!(names.last().map(String::as_str), Some("dave"), "{names:?}");
    assert_eq!(names[2], "bob");
    // Sorting with a filter and paging.
    let r = gw
        .get(&format!(
            "/Users?filter={}&sortBy=userName&sortOrder=descending&startIndex=2&count=1",
            enc("userName ne \"bob\"")
        ))
        .await;
    assert_eq!(r.body["totalResults"], 3);
    assert_eq!(user_names(&r.body), v(&["carol"]));
}

#[tokio::test]
async fn rfc7644_3_4_2_4_start_index_and_count() {
    let gw = Gateway::quickstart().await;
    for i in 0..7 {
        assert_eq!(gw.post("/Users", &user(&format!("u{i}"))).await.status, 201);
    }
    let r = gw.get("/Users?sortBy=userName&startIndex=1&count=3").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["totalResults"], 7);
    assert_eq!(r.body["itemsPerPage"], 3);
    assert_eq!(r.body["startIndex"], 1);
    assert_eq!(user_names(&r.body), v(&["u0", "u1", "u2"]));
    let r = gw.get("/Users?sortBy=userName&startIndex=4&count=3").await;
    assert_eq!(r.body["startIndex"], 4);
    assert_eq!(user_names(&r.body), v(&["u3", "u4", "u5"]));
    let r = gw.get("/Users?sortBy=userName&startIndex=7&count=3").await;
    assert_eq!(r.body["itemsPerPage"], 1);
    assert_eq!(user_names(&r.body), v(&["u6"]));
    let r = gw.get("/Users?startIndex=20&count=3").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["totalResults"], 7);
    assert_eq!(r.body["itemsPerPage"], 0);
    assert_eq!(r.body["Resources"], json!([]));
    // startIndex < 1 is 1; a negative count is 0.
    let r = gw.get("/Users?sortBy=userName&startIndex=0&count=2").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["startIndex"], 1);
    assert_eq!(user_names(&r.body), v(&["u0", "u1"]));
    let r = gw.get("/Users?count=-5").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["itemsPerPage"], 0);
    assert_eq!(r.body["totalResults"], 7);
    // No count: every resource (below the default page size).
    let r = gw.get("/Users").await;
    assert_eq!(r.body["itemsPerPage"], 7);
    assert_eq!(r.body["startIndex"], 1);
}

#[tokio::test]
async fn rfc7644_3_4_2_4_count_zero_returns_only_total_results() {
    let gw = Gateway::quickstart().await;
    seed(&gw).await;
    let r = gw.get("/Users?count=0").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["totalResults"], 4);
    assert_eq!(r.body["itemsPerPage"], 0);
    assert!(r.body["Resources"].as_array().is_none_or(Vec::is_empty), "{}", r.body);
    let r = gw
        .get(&format!("/Users?count=0&filter={}", enc("title eq \"Engineer\"")))
        .await;
    assert_eq!(r.body["totalResults"], 2);
}

#[tokio::test]
async fn rfc9865_cursor_paging_visits_every_resource_once() {
    let gw = Gateway::quickstart().await;
    let mut created = BTreeSet::new();
    for i in 0..7 {
        created.insert(gw.post("/Users", &user(&format!("c{i}"))).await.id());
    }
    let mut seen = Vec::new();
    let mut r = gw.get("/Users?cursor=&count=2").await;
    let mut pages = 0;
    loop {
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.body.get("startIndex").is_none(), "{}", r.body);
        assert_eq!(r.body["totalResults"], 7);
        let page = ids(&r.body);
        assert!(page.len() <= 2);
        assert_eq!(r.body["itemsPerPage"], json!(page.len()));
        seen.extend(page);
        pages += 1;
        assert!(pages <= 4, "too many pages");
        match r.body["nextCursor"].as_str() {
            Some(c) => r = gw.get(&format!("/Users?cursor={}&count=2", enc(c))).await,
            None => break,
        }
    }
    assert_eq!(pages, 4);
    assert_eq!(seen.len(), 7, "{seen:?}");
    assert_eq!(seen.iter().cloned().collect::<BTreeSet<_>>(), created);
}

// ---------------------------------------------------------------------------------------------
// §3.4.2.5 attributes / excludedAttributes, §3.4.3 POST .search
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn rfc7644_3_4_2_5_attributes_and_excluded_attributes() {
    let gw = Gateway::quickstart().await;
    let mut body = user("bjensen");
    body["password"] = json!("t1meMa$heen");
    body["title"] = json!("T");
    let created = gw.post("/Users", &body).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert!(created.body.get("password").is_none(), "{}", created.body);
    let id = created.id();
    // The password is stored hashed, never in clear.
    let clear = gw
        .db_scalar("SELECT count(*) FROM users WHERE password_hash IS NOT NULL AND password_hash <> 't1meMa$heen'")
        .await;
    assert_eq!(clear, 1);

    let r = gw
        .get(&format!("/Users/{id}?attributes=userName,name.familyName"))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let keys: BTreeSet<&str> = r.body.as_object().unwrap().keys().map(String::as_str).collect();
    assert!(
        keys.contains("id") && keys.contains("userName") && keys.contains("name"),
        "{keys:?}"
    );
    assert!(
        !keys.contains("emails") && !keys.contains("title") && !keys.contains("active"),
        "{keys:?}"
    );
    assert_eq!(r.body["name"], json!({"familyName": "Jensen"}));

    let r = gw.get(&format!("/Users/{id}?attributes=password")).await;
    assert_eq!(r.status, 200);
    assert!(r.body.get("password").is_none());

    let r = gw.get(&format!("/Users/{id}?excludedAttributes=emails,title")).await;
    assert!(
        r.body.get("emails").is_none() && r.body.get("title").is_none(),
        "{}",
        r.body
    );
    assert_eq!(r.body["userName"], "bjensen");
    assert_eq!(r.body["id"], id.as_str());

    // id cannot be excluded (returned always).
    let r = gw.get(&format!("/Users/{id}?excludedAttributes=id,userName")).await;
    assert_eq!(r.body["id"], id.as_str());

    let r = gw.get("/Users?attributes=emails.value").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body["Resources"][0]["emails"],
        json!([{"value": "bjensen@example.com"}])
    );
    assert!(r.body["Resources"][0].get("userName").is_none());
    let r = gw.get("/Users?excludedAttributes=name").await;
    assert!(r.body["Resources"][0].get("name").is_none());
    assert!(r.body["Resources"][0].get("password").is_none());

    let gid = gw
        .post("/Groups", &json!({"displayName": "G", "members": [{"value": id}]}))
        .await
        .id();
    let r = gw.get("/Groups?excludedAttributes=members").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["Resources"][0]["displayName"], "G");
    assert!(r.body["Resources"][0].get("members").is_none());
    let r = gw
        .get(&format!(
            "/Groups?filter={}&excludedAttributes=members",
            enc("displayName eq \"G\"")
        ))
        .await;
    assert_eq!(ids(&r.body), vec![gid.clone()]);
    assert!(r.body["Resources"][0].get("members").is_none());
    let r = gw.get(&format!("/Groups/{gid}?attributes=members")).await;
    assert_eq!(r.body["members"][0]["value"], id.as_str());
    assert!(r.body.get("displayName").is_none());
}

#[tokio::test]
async fn rfc7644_3_4_3_post_search_on_a_type_and_at_the_root() {
    let gw = Gateway::quickstart().await;
    seed(&gw).await;
    gw.post("/Groups", &json!({"displayName": "Smith Family"})).await;
    let r = gw
        .post(
            "/Users/.search",
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                    "filter": "title eq \"Engineer\"", "attributes": ["userName"],
                    "sortBy": "userName", "sortOrder": "descending", "startIndex": 1, "count": 10}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/scim+json"));
    assert_eq!(r.body["totalResults"], 2);
    assert_eq!(user_names(&r.body), v(&["carol", "alice"]));
    assert!(r.body["Resources"][0].get("title").is_none());

    let r = gw
        .post(
            "/.search",
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                    "filter": "displayName co \"Smith\""}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["totalResults"], 3);
    let types: Vec<&str> = r.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x["meta"]["resourceType"].as_str())
        .collect();
    assert_eq!(types, vec!["User", "User", "Group"]);

    let r = gw.post("/.search", &json!({"count": 2, "startIndex": 2})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["totalResults"], 5);
    assert_eq!(r.body["startIndex"], 2);
    assert_eq!(r.body["itemsPerPage"], 2);

    // GET on .search is not the way.
    assert_eq!(gw.get("/Users/.search").await.status, 405);
}

// ---------------------------------------------------------------------------------------------
// §3.7 Bulk
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn rfc7644_3_7_bulk_with_bulk_id_references() {
    let gw = Gateway::quickstart().await;
    let r = gw
        .post(
            "/Bulk",
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
            "Operations": [
                {"method": "POST", "path": "/Users", "bulkId": "qwerty", "data": user("alice")},
                {"method": "POST", "path": "/Groups", "bulkId": "ytrewq",
                 "data": {"schemas": [GROUP_SCHEMA], "displayName": "Tour Guides",
                          "members": [{"type": "User", "value": "bulkId:qwerty"}]}},
                {"method": "PATCH", "path": "/Users/bulkId:qwerty",
                 "data": patch_body(json!([{"op": "replace", "path": "title", "value": "Guide"}]))}
            ]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:BulkResponse"])
    );
    let ops = r.body["Operations"].as_array().unwrap();
    assert_eq!(ops.len(), 3);
    assert_eq!(ops[0]["status"], "201");
    assert_eq!(ops[0]["bulkId"], "qwerty");
    assert_eq!(ops[0]["method"], "POST");
    assert_eq!(ops[1]["status"], "201");
    assert_eq!(ops[2]["status"], "200", "{}", r.body);
    let user_loc = ops[0]["location"].as_str().unwrap();
    let uid = user_loc.rsplit('/').next().unwrap().to_owned();
    assert_eq!(user_loc, format!("{}/Users/{uid}", gw.base));
    let group_loc = ops[1]["location"].as_str().unwrap();
    let g = gw.get(group_loc).await;
    assert_eq!(g.status, 200);
    assert_eq!(
        g.body["members"],
        json!([{"value": uid, "$ref": user_loc, "type": "User"}])
    );
    let u = gw.get(user_loc).await;
    assert_eq!(u.body["title"], "Guide");
    assert_eq!(ops[0]["version"], "W/\"1\"");
}

#[tokio::test]
async fn rfc7644_3_7_3_fail_on_errors_stops_processing() {
    let gw = Gateway::quickstart().await;
    gw.post("/Users", &user("taken")).await;
    let body = |fail: Json| {
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "failOnErrors": fail,
        "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "a", "data": user("taken")},
            {"method": "POST", "path": "/Users", "bulkId": "b", "data": {"displayName": "no userName"}},
            {"method": "POST", "path": "/Users", "bulkId": "c", "data": user("fresh")}
        ]})
    };
    let r = gw.post("/Bulk", &body(json!(1))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let ops = r.body["Operations"].as_array().unwrap();
    assert_eq!(ops.len(), 1);
    assert_eq!(ops[0]["status"], "409");
    assert_eq!(ops[0]["response"]["scimType"], "uniqueness");
    assert_eq!(ops[0]["bulkId"], "a");
    assert_eq!(gw.db_scalar("SELECT count(*) FROM users").await, 1);

    let r = gw.post("/Bulk", &body(json!(2))).await;
    let ops = r.body["Operations"].as_array().unwrap();
    assert_eq!(ops.len(), 2);
    assert_eq!(ops[1]["status"], "400");
    assert_eq!(ops[1]["response"]["scimType"], "invalidValue");
    assert_eq!(gw.db_scalar("SELECT count(*) FROM users").await, 1);

    // Without failOnErrors every operation runs.
    let r = gw.post("/Bulk", &body(Json::Null)).await;
    let ops = r.body["Operations"].as_array().unwrap();
    assert_eq!(ops.len(), 3);
    assert_eq!(ops[2]["status"], "201");
    assert_eq!(gw.db_scalar("SELECT count(*) FROM users").await, 2);

    // A reference to an unknown bulkId fails that operation with 409 (RFC 7644 §3.7.2).
    let r = gw
        .post(
            "/Bulk",
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                "Operations": [{"method": "POST", "path": "/Groups", "bulkId": "g",
                                "data": {"displayName": "G", "members": [{"value": "bulkId:nope"}]}}]}),
        )
        .await;
    assert_eq!(r.body["Operations"][0]["status"], "409", "{}", r.body);
    assert_eq!(gw.db_scalar("SELECT count(*) FROM groups").await, 0);
}

// ---------------------------------------------------------------------------------------------
// §3.14 versions
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn rfc7644_3_14_if_match_and_if_none_match() {
    let gw = Gateway::quickstart().await;
    let id = gw.post("/Users", &user("bjensen")).await.id();
    let path = format!("/Users/{id}");
    let patch_title = |t: &str| patch_body(json!([{"op": "replace", "path": "title", "value": t}])).to_string();

    let r = gw
        .raw(Method::PATCH, &path, Some(patch_title("a")), &[("If-Match", "W/\"1\"")])
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("etag"), Some("W/\"2\""));

    // Stale version: 412, nothing written.
    let before = gw.snapshot().await;
    let r = gw
        .raw(Method::PATCH, &path, Some(patch_title("b")), &[("If-Match", "W/\"1\"")])
        .await;
    assert_eq!(r.status, 412, "{}", r.body);
    assert_eq!(r.body["schemas"], json!([ERROR]));
    let r = gw
        .raw(
            Method::PUT,
            &path,
            Some(user("bjensen").to_string()),
            &[("If-Match", "W/\"1\"")],
        )
        .await;
    assert_eq!(r.status, 412);
    let r = gw.raw(Method::DELETE, &path, None, &[("If-Match", "W/\"1\"")]).await;
    assert_eq!(r.status, 412);
    assert_eq!(gw.snapshot().await, before);
    assert_eq!(gw.get(&path).await.body["title"], "a");

    // Current version (weak or strong form, or in a list) succeeds.
    let r = gw
        .raw(
            Method::PUT,
            &path,
            Some(user("bjensen").to_string()),
            &[("If-Match", "W/\"2\"")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("etag"), Some("W/\"3\""));
    let r = gw
        .raw(
            Method::PATCH,
            &path,
            Some(patch_title("c")),
            &[("If-Match", "W/\"9\", W/\"3\"")],
        )
        .await;
    assert_eq!(r.status, 200);
    let r = gw
        .raw(Method::PATCH, &path, Some(patch_title("d")), &[("If-Match", "*")])
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("etag"), Some("W/\"5\""));

    // If-None-Match: 304 on the current version, 200 otherwise.
    let r = gw.raw(Method::GET, &path, None, &[("If-None-Match", "W/\"5\"")]).await;
    assert_eq!(r.status, 304);
    assert_eq!(r.body, Json::Null);
    assert_eq!(r.header("etag"), Some("W/\"5\""));
    let r = gw.raw(Method::GET, &path, None, &[("If-None-Match", "W/\"4\"")]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["title"], "d");

    let r = gw.raw(Method::DELETE, &path, None, &[("If-Match", "W/\"5\"")]).await;
    assert_eq!(r.status, 204);
}

// ---------------------------------------------------------------------------------------------
// §4 discovery
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn rfc7644_4_service_provider_config() {
    let gw = Gateway::quickstart().await;
    let r = gw.get("/ServiceProviderConfig").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/scim+json"));
    let b = &r.body;
    assert_eq!(
        b["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"])
    );
    assert_eq!(b["patch"]["supported"], true);
    assert_eq!(b["bulk"]["supported"], true);
    assert_eq!(b["bulk"]["maxOperations"], 1000);
    assert_eq!(b["bulk"]["maxPayloadSize"], 1 << 20);
    assert_eq!(b["filter"], json!({"supported": true, "maxResults": 1000}));
    assert_eq!(b["changePassword"]["supported"], true);
    assert_eq!(b["sort"]["supported"], true);
    assert_eq!(b["etag"]["supported"], true);
    assert_eq!(b["pagination"]["cursor"], true);
    assert_eq!(b["pagination"]["index"], true);
    assert_eq!(b["authenticationSchemes"][0]["type"], "oauthbearertoken");
    assert_eq!(b["meta"]["location"], format!("{}/ServiceProviderConfig", gw.base));
    // Case-insensitive path.
    assert_eq!(gw.get("/serviceproviderconfig").await.status, 200);
}

#[tokio::test]
async fn rfc7644_4_resource_types() {
    let gw = Gateway::quickstart().await;
    let r = gw.get("/ResourceTypes").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["schemas"], json!([LIST]));
    assert_eq!(r.body["totalResults"], 2);
    let names: Vec<&str> = r.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, vec!["User", "Group"]);
    let r = gw.get("/ResourceTypes/User").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["id"], "User");
    assert_eq!(r.body["endpoint"], "/Users");
    assert_eq!(r.body["schema"], USER_SCHEMA);
    assert_eq!(
        r.body["schemaExtensions"],
        json!([{"schema": ENTERPRISE, "required": false}])
    );
    assert_eq!(r.body["meta"]["location"], format!("{}/ResourceTypes/User", gw.base));
    let r = gw.get("/ResourceTypes/Group").await;
    assert_eq!(r.body["endpoint"], "/Groups");
    assert_eq!(r.body["schema"], GROUP_SCHEMA);
    assert_eq!(gw.get("/ResourceTypes/Nope").await.status, 404);
}

fn attribute<'a>(schema: &'a Json, name: &str) -> Option<&'a Json> {
    schema["attributes"].as_array()?.iter().find(|a| a["name"] == name)
}

#[tokio::test]
async fn rfc7643_7_schemas_list_only_mapped_attributes() {
    let gw = Gateway::quickstart().await;
    let r = gw.get("/Schemas").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let schemas = r.body["Resources"].as_array().unwrap();
    let ids_: BTreeSet<&str> = schemas.iter().filter_map(|s| s["id"].as_str()).collect();
    assert_eq!(ids_, BTreeSet::from([USER_SCHEMA, GROUP_SCHEMA, ENTERPRISE]));
    assert_eq!(r.body["totalResults"], 3);

    let u = gw.get(&format!("/Schemas/{USER_SCHEMA}")).await;
    assert_eq!(u.status, 200);
    let u = u.body;
    for mapped in [
        "userName",
        "name",
        "displayName",
        "emails",
        "phoneNumbers",
        "addresses",
        "active",
        "password",
        "groups",
        "title",
    ] {
        assert!(attribute(&u, mapped).is_some(), "{mapped} is mapped");
    }
    for unmapped in ["roles", "x509Certificates", "ims", "photos", "entitlements"] {
        assert!(attribute(&u, unmapped).is_none(), "{unmapped} is not mapped");
    }
    let password = attribute(&u, "password").unwrap();
    assert_eq!(password["mutability"], "writeOnly");
    assert_eq!(password["returned"], "never");
    let user_name = attribute(&u, "userName").unwrap();
    assert_eq!(user_name["uniqueness"], "server");
    assert_eq!(user_name["required"], true);
    assert_eq!(user_name["caseExact"], false);
    let groups = attribute(&u, "groups").unwrap();
    assert_eq!(groups["mutability"], "readOnly");
    let name_subs: BTreeSet<&str> = attribute(&u, "name").unwrap()["subAttributes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(
        name_subs,
        BTreeSet::from([
            "formatted",
            "givenName",
            "familyName",
            "middleName",
            "honorificPrefix",
            "honorificSuffix"
        ])
    );

    let e = gw.get(&format!("/Schemas/{ENTERPRISE}")).await;
    assert_eq!(e.status, 200);
    let e_attrs: BTreeSet<&str> = e.body["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    assert_eq!(
        e_attrs,
        BTreeSet::from([
            "employeeNumber",
            "costCenter",
            "organization",
            "division",
            "department",
            "manager"
        ])
    );
    let g = gw.get(&format!("/Schemas/{GROUP_SCHEMA}")).await;
    assert_eq!(attribute(&g.body, "displayName").unwrap()["uniqueness"], "server");
    assert!(attribute(&g.body, "members").is_some());
    assert_eq!(gw.get("/Schemas/urn:nope").await.status, 404);
}

// ---------------------------------------------------------------------------------------------
// HTTP edge
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn rfc7644_3_11_me_is_501() {
    let gw = Gateway::quickstart().await;
    let r = gw.get("/Me").await;
    assert_eq!(r.status, 501);
    assert_eq!(r.body["schemas"], json!([ERROR]));
    assert_eq!(r.body["status"], "501");
}

#[tokio::test]
async fn unknown_route_is_404_and_wrong_method_is_405_as_scim_json() {
    let gw = Gateway::quickstart().await;
    for path in ["/Nope", "/Users/a/b", "/"] {
        let r = gw.get(path).await;
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.header("content-type"), Some("application/scim+json"));
        assert_eq!(r.body["schemas"], json!([ERROR]), "{path}");
        assert_eq!(r.body["status"], "404");
    }
    let r = gw.get(&format!("{}/elsewhere", gw.origin())).await;
    assert_eq!(r.status, 404);
    for (m, path) in [
        (Method::DELETE, "/Users"),
        (Method::PUT, "/Users"),
        (Method::POST, "/Users/abc"),
        (Method::POST, "/ServiceProviderConfig"),
        (Method::GET, "/Bulk"),
        (Method::GET, "/.search"),
    ] {
        let r = gw.raw(m.clone(), path, None, &[]).await;
        assert_eq!(r.status, 405, "{m} {path}: {}", r.body);
        assert_eq!(r.body["schemas"], json!([ERROR]));
        assert_eq!(r.body["status"], "405");
    }
}

#[tokio::test]
async fn rfc6750_401_with_www_authenticate_when_token_missing_or_wrong() {
    let gw = Gateway::quickstart().await;
    let before = gw.snapshot().await;
    for auth in [None, Some("Bearer wrong"), Some("Basic Zm9vOmJhcg=="), Some(TOKEN)] {
        let r = gw.send(Method::GET, "/Users", None, auth).await;
        assert_eq!(r.status, 401, "{auth:?}");
        assert_eq!(r.header("www-authenticate"), Some("Bearer realm=\"scimgate\""));
        assert_eq!(r.body["schemas"], json!([ERROR]));
        assert_eq!(r.body["status"], "401");
        let r = gw
            .send(
                Method::POST,
                "/Users",
                Some(("application/scim+json", user("x").to_string())),
                auth,
            )
            .await;
        assert_eq!(r.status, 401);
    }
    assert_eq!(gw.snapshot().await, before);
    let ok = gw
        .send(Method::GET, "/Users", None, Some(&format!("bearer {TOKEN}")))
        .await;
    assert_eq!(ok.status, 200);
}

#[tokio::test]
async fn health_and_readiness_need_no_auth() {
    let gw = Gateway::quickstart().await;
    let r = gw
        .send(Method::GET, &format!("{}/healthz", gw.origin()), None, None)
        .await;
    assert_eq!(r.status, 200);
    let r = gw
        .send(Method::GET, &format!("{}/readyz", gw.origin()), None, None)
        .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn every_response_has_a_request_id_and_the_scim_media_type() {
    let gw = Gateway::quickstart().await;
    let id = gw.post("/Users", &user("x")).await.id();
    let replies = [
        gw.get("/Users").await,
        gw.get(&format!("/Users/{id}")).await,
        gw.get("/Users/missing").await,
        gw.filter("/Users", "bad filter (").await,
        gw.send(Method::GET, "/Users", None, None).await,
        gw.get("/Schemas").await,
    ];
    let mut seen = BTreeSet::new();
    for r in &replies {
        let rid = r.header("x-request-id").expect("x-request-id");
        assert!(!rid.is_empty());
        assert!(seen.insert(rid.to_owned()), "request ids are unique");
        assert_eq!(r.header("content-type"), Some("application/scim+json"), "{}", r.status);
    }
    let r = gw.delete(&format!("/Users/{id}")).await;
    assert!(r.header("x-request-id").is_some());
}
