//! The happy path of every operation, once.

use serde_json::json;

use crate::harness::{Gateway, user};

#[tokio::test]
async fn create_get_filter_patch_delete_user() {
    let gw = Gateway::quickstart().await;
    let created = gw.post("/Users", &user("bjensen")).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.id();
    assert_eq!(created.body["userName"], "bjensen");
    assert_eq!(created.body["meta"]["resourceType"], "User");
    assert_eq!(created.body["meta"]["location"], format!("{}/Users/{id}", gw.base));
    assert_eq!(
        created.header("location"),
        Some(format!("{}/Users/{id}", gw.base).as_str())
    );
    assert!(created.header("etag").is_some());

    let got = gw.get(&format!("/Users/{id}")).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["emails"][0]["value"], "bjensen@example.com");

    let found = gw.get("/Users?filter=userName%20eq%20%22BJENSEN%22").await;
    assert_eq!(found.status, 200, "{}", found.body);
    assert_eq!(found.body["totalResults"], 1);
    assert_eq!(found.body["Resources"][0]["id"], id.as_str());

    let patched = gw
        .patch(
            &format!("/Users/{id}"),
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "path": "active", "value": false}]}),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.body["active"], false);
    assert_eq!(gw.db_scalar("SELECT active FROM users").await, 0);

    assert_eq!(gw.delete(&format!("/Users/{id}")).await.status, 204);
    assert_eq!(gw.get(&format!("/Users/{id}")).await.status, 404);
    assert_eq!(gw.delete(&format!("/Users/{id}")).await.status, 404);
}

#[tokio::test]
async fn group_membership_patch_adds_and_removes_only_named_members() {
    let gw = Gateway::quickstart().await;
    let a = gw.post("/Users", &user("a")).await.id();
    let b = gw.post("/Users", &user("b")).await.id();
    let g = gw
        .post("/Groups", &json!({"displayName": "Sales", "members": [{"value": a}]}))
        .await;
    assert_eq!(g.status, 201, "{}", g.body);
    let gid = g.id();
    let r = gw
        .patch(
            &format!("/Groups/{gid}"),
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "Add", "path": "members", "value": [{"value": b}]},
                                   {"op": "Remove", "path": format!("members[value eq \"{a}\"]")}]}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let members = gw.get(&format!("/Groups/{gid}")).await.body["members"].clone();
    assert_eq!(members.as_array().map(Vec::len), Some(1));
    assert_eq!(members[0]["value"], b.as_str());
    let without = gw.get(&format!("/Groups/{gid}?excludedAttributes=members")).await;
    assert!(without.body.get("members").is_none());
}
