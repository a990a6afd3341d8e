//! Bad input: every refusal has the right status and `scimType`, and leaves the database as
//! it was.

use reqwest::Method;
use serde_json::{Value as Json, json};

use crate::harness::{Gateway, Reply, TOKEN, enc, patch_body, user, user_names};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// A user and a group with that user as a member, to have something to damage.
async fn populated() -> (Gateway, String, String) {
    let gw = Gateway::quickstart().await;
    let mut body = user("bjensen");
    body["title"] = json!("Guide");
    let uid = gw.post("/Users", &body).await.id();
    let g = gw
        .post("/Groups", &json!({"displayName": "G", "members": [{"value": uid}]}))
        .await;
    assert_eq!(g.status, 201, "{}", g.body);
    (gw, uid, g.id())
}

fn refused(r: &Reply, status: u16, scim_type: Option<&str>, what: &str) {
    assert_eq!(r.status, status, "{what}: {}", r.body);
    assert_eq!(r.scim_type(), scim_type, "{what}: {}", r.body);
    assert_eq!(
        r.body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:Error"]),
        "{what}"
    );
    assert_eq!(r.body["status"], status.to_string(), "{what}");
    assert_eq!(r.header("content-type"), Some("application/scim+json"), "{what}");
}

async fn send_text(gw: &Gateway, method: Method, path: &str, body: &str) -> Reply {
    gw.raw(method, path, Some(body.to_owned()), &[]).await
}

#[tokio::test]
async fn rfc7644_3_12_malformed_json_is_400_invalid_syntax() {
    let (gw, uid, gid) = populated().await;
    let before = gw.snapshot().await;
    let user_path = format!("/Users/{uid}");
    let group_path = format!("/Groups/{gid}");
    for text in [
        "{",
        "{\"userName\": }",
        "not json",
        "{\"userName\": \"x\",}",
        "",
        "{\"a\":1}{",
    ] {
        for (m, p) in [
            (Method::POST, "/Users"),
            (Method::PUT, user_path.as_str()),
            (Method::PATCH, user_path.as_str()),
            (Method::PATCH, group_path.as_str()),
            (Method::POST, "/Groups"),
            (Method::POST, "/Bulk"),
            (Method::POST, "/Users/.search"),
            (Method::POST, "/.search"),
        ] {
            let r = send_text(&gw, m.clone(), p, text).await;
            refused(&r, 400, Some("invalidSyntax"), &format!("{m} {p} {text:?}"));
        }
    }
    assert_eq!(gw.snapshot().await, before);
}

#[tokio::test]
async fn rfc7644_3_12_json_that_is_not_an_object_is_400_invalid_syntax() {
    let (gw, uid, gid) = populated().await;
    let before = gw.snapshot().await;
    for text in ["[]", "[{\"userName\": \"x\"}]", "\"bjensen\"", "5", "null", "true"] {
        for (m, p) in [
            (Method::POST, "/Users".to_owned()),
            (Method::PUT, format!("/Users/{uid}")),
            (Method::PATCH, format!("/Users/{uid}")),
            (Method::PATCH, format!("/Groups/{gid}")),
            (Method::POST, "/Bulk".to_owned()),
            (Method::POST, "/Users/.search".to_owned()),
        ] {
            let r = send_text(&gw, m.clone(), &p, text).await;
            refused(&r, 400, Some("invalidSyntax"), &format!("{m} {p} {text}"));
        }
    }
    // A PatchOp whose Operations is not an array, or whose operation is not an object.
    for body in [
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}),
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": {"op": "add"}}),
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ["add"]}),
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"path": "title", "value": "x"}]}),
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "move", "path": "title", "value": "x"}]}),
    ] {
        let r = gw.patch(&format!("/Users/{uid}"), &body).await;
        refused(&r, 400, Some("invalidSyntax"), &body.to_string());
    }
    assert_eq!(gw.snapshot().await, before);
}

#[tokio::test]
async fn rfc7643_2_3_wrong_types_are_400_invalid_value() {
    let (gw, uid, _) = populated().await;
    let before = gw.snapshot().await;
    let cases = [
        json!({"userName": 5}),
        json!({"userName": true}),
        json!({"userName": ["a", "b"]}),
        json!({"userName": {"value": "x"}}),
        json!({"userName": "ok1", "active": "maybe"}),
        json!({"userName": "ok2", "active": 2}),
        json!({"userName": "ok3", "title": 7}),
        json!({"userName": "ok4", "name": "Barbara Jensen"}),
        json!({"userName": "ok5", "name": {"givenName": 1}}),
        json!({"userName": "ok6", "emails": [5]}),
        json!({"userName": "ok7", "emails": [{"value": 5}]}),
        json!({"userName": "ok8", "emails": [{"value": "a@x.com", "primary": "yes"}]}),
        json!({"userName": "ok9", "emails": [{"value": "a@x.com", "primary": true}, {"value": "b@x.com", "primary": true}]}),
        json!({"userName": "ok10", ENTERPRISE: {"employeeNumber": 12}}),
        json!({"userName": "ok11", ENTERPRISE: "x"}),
    ];
    for body in &cases {
        let r = gw.post("/Users", body).await;
        refused(&r, 400, Some("invalidValue"), &format!("POST {body}"));
        let r = gw.put(&format!("/Users/{uid}"), body).await;
        refused(&r, 400, Some("invalidValue"), &format!("PUT {body}"));
    }
    for (p, value) in [
        ("active", json!("maybe")),
        ("userName", json!(5)),
        ("title", json!({"a": 1})),
        ("emails", json!([{"value": 5}])),
        ("name.givenName", json!(["a"])),
    ] {
        let r = gw
            .patch_ops(
                &format!("/Users/{uid}"),
                json!([{"op": "replace", "path": p, "value": value}]),
            )
            .await;
        refused(&r, 400, Some("invalidValue"), &format!("PATCH {p} {value}"));
    }
    let r = gw.post("/Groups", &json!({"displayName": 5})).await;
    refused(&r, 400, Some("invalidValue"), "group displayName 5");
    // A bare string member is read as an id, which names no user.
    let r = gw
        .post("/Groups", &json!({"displayName": "X", "members": "nope"}))
        .await;
    refused(&r, 400, Some("invalidValue"), "members nope");
    assert_eq!(gw.snapshot().await, before);
}

/// `"emails": "x"`: a bare string for a multi-valued complex attribute is read as
/// `[{"value": "x"}]` (the leniency Entra's stringified values need), not refused.
#[tokio::test]
async fn bare_string_for_multi_valued_emails_is_its_value() {
    let gw = Gateway::quickstart().await;
    let r = gw
        .post("/Users", &json!({"userName": "a", "emails": "a@example.com"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["emails"][0]["value"], "a@example.com");
}

#[tokio::test]
async fn body_over_the_limit_is_413() {
    let gw = Gateway::with_server_settings("max_body_bytes = 1024\nbulk_max_payload_bytes = 2048").await;
    let uid = gw.post("/Users", &user("a")).await.id();
    let before = gw.snapshot().await;
    let mut big = user("b");
    big["title"] = json!("x".repeat(2000));
    for (m, p) in [
        (Method::POST, "/Users".to_owned()),
        (Method::PUT, format!("/Users/{uid}")),
        (Method::POST, "/Users/.search".to_owned()),
    ] {
        let r = gw.raw(m.clone(), &p, Some(big.to_string()), &[]).await;
        refused(&r, 413, None, &format!("{m} {p}"));
    }
    let r = gw
        .patch(
            &format!("/Users/{uid}"),
            &patch_body(json!([{"op": "replace", "path": "title", "value": "x".repeat(2000)}])),
        )
        .await;
    refused(&r, 413, None, "PATCH");
    // Bulk has its own, larger limit.
    let ops: Vec<Json> = (0..30)
        .map(|i| json!({"method": "POST", "path": "/Users", "bulkId": format!("b{i}"), "data": user(&format!("bulk{i}"))}))
        .collect();
    let r = gw
        .post(
            "/Bulk",
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": ops}),
        )
        .await;
    refused(&r, 413, None, "bulk");
    assert_eq!(gw.snapshot().await, before);
    // Just under the limit still works.
    let mut ok = user("c");
    ok["title"] = json!("x".repeat(500));
    assert_eq!(gw.post("/Users", &ok).await.status, 201);
}

#[tokio::test]
async fn unsupported_content_type_is_415() {
    let (gw, uid, _) = populated().await;
    let before = gw.snapshot().await;
    let auth = format!("Bearer {TOKEN}");
    for ct in [
        "text/plain",
        "application/xml",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ] {
        for (m, p) in [
            (Method::POST, "/Users".to_owned()),
            (Method::PUT, format!("/Users/{uid}")),
            (Method::PATCH, format!("/Users/{uid}")),
            (Method::POST, "/Bulk".to_owned()),
        ] {
            let r = gw
                .send(m.clone(), &p, Some((ct, user("zz").to_string())), Some(&auth))
                .await;
            refused(&r, 415, None, &format!("{m} {p} {ct}"));
        }
    }
    assert_eq!(gw.snapshot().await, before);
}

#[tokio::test]
async fn filters_over_the_budget_are_400_invalid_filter() {
    let gw = Gateway::quickstart().await;
    gw.post("/Users", &user("a")).await;
    // Default budget: 4096 bytes, depth 16, 64 comparisons.
    let long = format!("userName eq \"{}\"", "x".repeat(5000));
    let deep = format!("{}userName eq \"a\"{}", "(".repeat(40), ")".repeat(40));
    let deep_not = format!("{}userName eq \"a\"{}", "not (".repeat(20), ")".repeat(20));
    let many = (0..100)
        .map(|i| format!("userName eq \"u{i}\""))
        .collect::<Vec<_>>()
        .join(" or ");
    let deep_value_path = format!("emails[{}value eq \"a\"{}]", "(".repeat(30), ")".repeat(30));
    for f in [&long, &deep, &deep_not, &many, &deep_value_path] {
        let r = gw.post("/Users/.search", &json!({"filter": f})).await;
        refused(&r, 400, Some("invalidFilter"), &f[..40.min(f.len())]);
    }
    let r = gw.filter("/Users", &many).await;
    refused(&r, 400, Some("invalidFilter"), "many via GET");
    let r = gw.filter("/Users", &deep).await;
    refused(&r, 400, Some("invalidFilter"), "deep via GET");
    // Within the budget: fine.
    let ok = (0..60)
        .map(|i| format!("userName eq \"u{i}\""))
        .collect::<Vec<_>>()
        .join(" or ");
    assert_eq!(gw.filter("/Users", &ok).await.status, 200);
    // A PATCH path filter has the same budget.
    let r = gw
        .patch_ops(
            "/Users/whatever",
            json!([{"op": "remove", "path": format!("emails[{}]", many.replace("userName", "value"))}]),
        )
        .await;
    refused(&r, 400, Some("invalidPath"), "patch path over budget");
}

#[tokio::test]
async fn garbage_filters_are_400_invalid_filter() {
    let gw = Gateway::quickstart().await;
    gw.post("/Users", &user("a")).await;
    for f in [
        "userName",
        "userName eq",
        "eq \"a\"",
        "userName eq \"a\" and",
        "userName eq \"a\" or or userName eq \"b\"",
        "userName eq \"a\")",
        "((userName eq \"a\")",
        "userName ~ \"a\"",
        "userName eq \"a\" userName eq \"b\"",
        "emails[type eq \"work\"",
        "emails[type eq \"work\"]]",
        "emails[]",
        "emails[emails[type eq \"x\"]]",
        "not userName eq \"a\"",
        "userName eq \"a\\\"",
        "\u{0}",
        "🙂 eq 1",
        "userName.. eq \"a\"",
        "userName eq \"a\" and (",
        "active co \"t\"",
        "meta.lastModified gt \"yesterday\"",
    ] {
        let r = gw.filter("/Users", f).await;
        refused(&r, 400, Some("invalidFilter"), f);
    }
}

#[tokio::test]
async fn unknown_attribute_with_co_is_400_invalid_filter() {
    let gw = Gateway::quickstart().await;
    for f in [
        "PLACEHOLDER co \"x\"",
        "PLACEHOLDER sw \"x\"",
        "PLACEHOLDER gt \"x\"",
        "nickname.foo co \"x\"",
    ] {
        let r = gw.filter("/Users", f).await;
        refused(&r, 400, Some("invalidFilter"), f);
    }
    let r = gw.filter("/Groups", "PLACEHOLDER co \"x\"").await;
    refused(&r, 400, Some("invalidFilter"), "groups");
}

#[tokio::test]
async fn sql_metacharacters_are_stored_and_found_literally() {
    let gw = Gateway::quickstart().await;
    let nasty = [
        "'; DROP TABLE users; --",
        "a%b",
        "a_b",
        "aXb",
        "a\\b",
        "a\"b",
        "O'Brien",
        "%",
        "_",
        "\\",
        "a%",
        "robert'); DELETE FROM users WHERE ('1'='1",
    ];
    let mut ids_ = Vec::new();
    for (i, n) in nasty.iter().enumerate() {
        let r = gw
            .post(
                "/Users",
                &json!({
                    "userName": n,
                    "externalId": n,
                    "displayName": n,
                    "title": n,
                    "nickName": n,
                    "name": {"givenName": n, "familyName": n},
                    "emails": [{"value": format!("{i}{n}@x.com"), "type": n}],
                    ENTERPRISE: {"department": n}
                }),
            )
            .await;
        assert_eq!(r.status, 201, "{n}: {}", r.body);
        for field in ["userName", "externalId", "displayName", "title", "nickName"] {
            assert_eq!(r.body[field], *n, "{field} of {n}");
        }
        assert_eq!(r.body["name"]["givenName"], *n);
        assert_eq!(r.body["emails"][0]["type"], *n);
        assert_eq!(r.body[ENTERPRISE]["department"], *n);
        ids_.push(r.id());
    }
    assert_eq!(gw.db_scalar("SELECT count(*) FROM users").await, nasty.len() as i64);
    // A JSON string literal for each value inside a SCIM filter.
    let lit = |s: &str| serde_json::to_string(s).unwrap();
    for (i, n) in nasty.iter().enumerate() {
        for attr in [
            "userName",
            "externalId",
            "title",
            "name.givenName",
            ENTERPRISE_DEPT,
            "emails.type",
        ] {
            let r = gw.filter("/Users", &format!("{attr} eq {}", lit(n))).await;
            assert_eq!(r.status, 200, "{attr} eq {n}: {}", r.body);
            assert_eq!(
                crate::harness::ids(&r.body),
                vec![ids_[i].clone()],
                "{attr} eq {n:?} must match exactly one"
            );
        }
    }
    let names = |r: &Reply| {
        let mut v = user_names(&r.body);
        v.sort();
        v
    };
    let mut want = vec!["%", "a%", "a%b"];
    want.sort();
    assert_eq!(names(&gw.filter("/Users", "userName co \"%\"").await), want);
    assert_eq!(names(&gw.filter("/Users", "userName sw \"a_\"").await), vec!["a_b"]);
    assert_eq!(names(&gw.filter("/Users", "userName ew \"_b\"").await), vec!["a_b"]);
    assert_eq!(names(&gw.filter("/Users", "userName eq \"a_b\"").await), vec!["a_b"]);
    assert_eq!(
        names(&gw.filter("/Users", "userName sw \"a%\"").await),
        vec!["a%", "a%b"]
    );
    let mut backslashes = vec!["\\", "a\\b"];
    backslashes.sort();
    assert_eq!(names(&gw.filter("/Users", "userName co \"\\\\\"").await), backslashes);
    assert_eq!(names(&gw.filter("/Users", "userName co \"\\\"\"").await), vec!["a\"b"]);
    assert_eq!(names(&gw.filter("/Users", "userName co \"'\"").await).len(), 3);
    assert_eq!(
        names(&gw.filter("/Users", "title co \"DROP TABLE\"").await),
        vec!["'; DROP TABLE users; --"]
    );
    assert_eq!(
        names(&gw.filter("/Users", "emails.value sw \"1a%\"").await),
        vec!["a%b"]
    );
    // Sorting and paging over them works too.
    let r = gw.get("/Users?sortBy=userName&count=100").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["totalResults"], nasty.len());
    // PATCH with metacharacters in a value filter.
    let r = gw
        .patch_ops(
            &format!("/Users/{}", ids_[0]),
            json!([{"op": "replace", "path": format!("emails[type eq {}].value", lit(nasty[0])), "value": "ok@x.com"}]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["emails"][0]["value"], "ok@x.com");
    assert_eq!(gw.db_scalar("SELECT count(*) FROM users").await, nasty.len() as i64);
    // Groups too.
    let r = gw
        .post("/Groups", &json!({"displayName": nasty[0], "externalId": "100%_\\"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = gw.filter("/Groups", &format!("displayName eq {}", lit(nasty[0]))).await;
    assert_eq!(r.body["totalResults"], 1);
    let r = gw.filter("/Groups", "externalId eq \"100%_\\\\\"").await;
    assert_eq!(r.body["totalResults"], 1);
    let r = gw.filter("/Groups", "externalId eq \"100XX\\\\\"").await;
    assert_eq!(r.body["totalResults"], 0);
}

const ENTERPRISE_DEPT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department";

#[tokio::test]
async fn rfc7644_3_5_2_invalid_patch_paths_are_400_invalid_path() {
    let (gw, uid, gid) = populated().await;
    let before = gw.snapshot().await;
    for path in [
        "foo",
        "name.nope",
        "title[value eq \"x\"]",
        "urn:ietf:params:scim:schemas:extension:unknown:2.0:User:foo",
        "emails[type eq \"work\"].nope",
        "userName.sub",
    ] {
        for op in ["add", "replace", "remove"] {
            let r = gw
                .patch_ops(
                    &format!("/Users/{uid}"),
                    json!([{"op": op, "path": path, "value": "x"}]),
                )
                .await;
            refused(&r, 400, Some("invalidPath"), &format!("{op} {path}"));
        }
    }
    // Unparseable paths.
    for path in ["emails[type eq", "emails]", "", "a b c", "emails[type eq \"work\"]]"] {
        let r = gw
            .patch_ops(
                &format!("/Users/{uid}"),
                json!([{"op": "replace", "path": path, "value": "x"}]),
            )
            .await;
        refused(&r, 400, Some("invalidPath"), path);
    }
    let r = gw
        .patch_ops(
            &format!("/Groups/{gid}"),
            json!([{"op": "add", "path": "nope", "value": "x"}]),
        )
        .await;
    refused(&r, 400, Some("invalidPath"), "group");
    assert_eq!(gw.snapshot().await, before);
}

#[tokio::test]
async fn rfc7644_3_5_2_patch_on_read_only_is_400_mutability() {
    let (gw, uid, gid) = populated().await;
    let before = gw.snapshot().await;
    for (op, path, value) in [
        ("replace", "id", json!("new-id")),
        ("add", "id", json!("new-id")),
        ("remove", "id", Json::Null),
        ("replace", "meta.created", json!("2000-01-01T00:00:00Z")),
        ("add", "groups", json!([{"value": gid}])),
        ("replace", "urn:ietf:params:scim:schemas:core:2.0:User:id", json!("x")),
    ] {
        let r = gw
            .patch_ops(
                &format!("/Users/{uid}"),
                json!([{"op": op, "path": path, "value": value}]),
            )
            .await;
        refused(&r, 400, Some("mutability"), &format!("{op} {path}"));
    }
    let r = gw
        .patch_ops(
            &format!("/Groups/{gid}"),
            json!([{"op": "replace", "path": "id", "value": "x"}]),
        )
        .await;
    refused(&r, 400, Some("mutability"), "group id");
    assert_eq!(gw.snapshot().await, before);
}

#[tokio::test]
async fn rfc7644_3_5_2_2_remove_without_path_is_400_no_target() {
    let (gw, uid, gid) = populated().await;
    let before = gw.snapshot().await;
    let r = gw.patch_ops(&format!("/Users/{uid}"), json!([{"op": "remove"}])).await;
    refused(&r, 400, Some("noTarget"), "user");
    let r = gw
        .patch_ops(
            &format!("/Users/{uid}"),
            json!([{"op": "remove", "value": {"title": "Guide"}}]),
        )
        .await;
    refused(&r, 400, Some("noTarget"), "user with value");
    let r = gw.patch_ops(&format!("/Groups/{gid}"), json!([{"op": "Remove"}])).await;
    refused(&r, 400, Some("noTarget"), "group");
    assert_eq!(gw.snapshot().await, before);
}

#[tokio::test]
async fn rfc7643_missing_required_attribute_is_400_invalid_value() {
    let (gw, uid, gid) = populated().await;
    let before = gw.snapshot().await;
    for body in [
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "displayName": "x"}),
        json!({"userName": null}),
        json!({"userName": ""}),
        json!({}),
    ] {
        let r = gw.post("/Users", &body).await;
        refused(&r, 400, Some("invalidValue"), &format!("POST {body}"));
        let r = gw.put(&format!("/Users/{uid}"), &body).await;
        refused(&r, 400, Some("invalidValue"), &format!("PUT {body}"));
    }
    let r = gw.post("/Groups", &json!({"externalId": "x"})).await;
    refused(&r, 400, Some("invalidValue"), "group");
    let r = gw.put(&format!("/Groups/{gid}"), &json!({"members": []})).await;
    refused(&r, 400, Some("invalidValue"), "group put");
    // PATCH removing or blanking a required attribute.
    for op in [
        json!({"op": "remove", "path": "userName"}),
        json!({"op": "replace", "path": "userName", "value": ""}),
        json!({"op": "replace", "path": "userName", "value": null}),
        json!({"op": "replace", "value": {"userName": ""}}),
    ] {
        let r = gw.patch_ops(&format!("/Users/{uid}"), json!([op])).await;
        refused(&r, 400, Some("invalidValue"), &format!("PATCH {op}"));
    }
    let r = gw
        .patch_ops(
            &format!("/Groups/{gid}"),
            json!([{"op": "remove", "path": "displayName"}]),
        )
        .await;
    refused(&r, 400, Some("invalidValue"), "group displayName");
    assert_eq!(gw.snapshot().await, before);
    assert_eq!(gw.get(&format!("/Users/{uid}")).await.body["userName"], "bjensen");
}

#[tokio::test]
async fn reference_to_a_resource_that_does_not_exist_is_400_and_unchanged() {
    let (gw, uid, gid) = populated().await;
    let before = gw.snapshot().await;
    let r = gw
        .post(
            "/Groups",
            &json!({"displayName": "New", "members": [{"value": uid}, {"value": "no-such-user"}]}),
        )
        .await;
    refused(&r, 400, Some("invalidValue"), "create group");
    let r = gw
        .patch_ops(
            &format!("/Groups/{gid}"),
            json!([
                {"op": "replace", "path": "displayName", "value": "Renamed"},
                {"op": "add", "path": "members", "value": [{"value": "no-such-user"}]}
            ]),
        )
        .await;
    refused(&r, 400, Some("invalidValue"), "patch group");
    let r = gw
        .put(
            &format!("/Groups/{gid}"),
            &json!({"displayName": "G", "members": [{"value": "no-such-user"}]}),
        )
        .await;
    refused(&r, 400, Some("invalidValue"), "put group");
    let r = gw
        .patch_ops(
            &format!("/Users/{uid}"),
            json!([
                {"op": "replace", "path": "title", "value": "Changed"},
                {"op": "replace", "path": format!("{ENTERPRISE}:manager"), "value": "no-such-user"}
            ]),
        )
        .await;
    refused(&r, 400, Some("invalidValue"), "manager");
    let mut body = user("new");
    body[ENTERPRISE] = json!({"manager": {"value": "no-such-user"}});
    let r = gw.post("/Users", &body).await;
    refused(&r, 400, Some("invalidValue"), "create with manager");
    assert_eq!(gw.snapshot().await, before);
    let g = gw.get(&format!("/Groups/{gid}")).await;
    assert_eq!(g.body["displayName"], "G");
    assert_eq!(gw.get(&format!("/Users/{uid}")).await.body["title"], "Guide");
}

#[tokio::test]
async fn rfc7644_3_4_2_4_invalid_paging_and_sorting_parameters_are_400() {
    let (gw, _, _) = populated().await;
    for q in [
        "startIndex=abc",
        "count=ten",
        "startIndex=1.5",
        "count=1e3",
        "count=",
        "startIndex=%20",
        "count=99999999999999999999999",
    ] {
        let r = gw.get(&format!("/Users?{q}")).await;
        refused(&r, 400, Some("invalidValue"), q);
    }
    for q in ["sortOrder=sideways", "sortBy=userName&sortOrder=asc", "sortOrder=1"] {
        let r = gw.get(&format!("/Users?{q}")).await;
        refused(&r, 400, Some("invalidValue"), q);
    }
    for body in [
        json!({"startIndex": "1"}),
        json!({"count": "x"}),
        json!({"filter": 5}),
        json!({"sortOrder": "up"}),
    ] {
        let r = gw.post("/Users/.search", &body).await;
        refused(&r, 400, Some("invalidValue"), &body.to_string());
    }
    let r = gw.get(&format!("/Users?sortBy={}", enc("emails[type eq"))).await;
    refused(&r, 400, Some("invalidValue"), "sortBy junk");
}

#[tokio::test]
async fn rfc9865_invalid_cursor_is_400_invalid_cursor() {
    let (gw, _, _) = populated().await;
    for c in ["garbage", "AAAA", "eyJ4IjoxfQ", "%27%3B%20DROP%20TABLE%20users", "-1"] {
        let r = gw.get(&format!("/Users?cursor={c}&count=1")).await;
        refused(&r, 400, Some("invalidCursor"), c);
    }
    let r = gw
        .post("/Users/.search", &json!({"cursor": "garbage", "count": 1}))
        .await;
    refused(&r, 400, Some("invalidCursor"), "search");
    let r = gw.post("/.search", &json!({"cursor": "", "count": 1})).await;
    refused(&r, 400, Some("invalidCursor"), "root search");
    assert_eq!(gw.db_scalar("SELECT count(*) FROM users").await, 1);
}

#[tokio::test]
async fn rfc7644_3_7_bulk_over_max_operations_is_413() {
    let gw = Gateway::with_server_settings("bulk_max_operations = 2").await;
    let before = gw.snapshot().await;
    let ops: Vec<Json> = (0..3)
        .map(|i| json!({"method": "POST", "path": "/Users", "bulkId": format!("b{i}"), "data": user(&format!("u{i}"))}))
        .collect();
    let r = gw
        .post(
            "/Bulk",
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": ops}),
        )
        .await;
    refused(&r, 413, None, "bulk");
    assert_eq!(gw.snapshot().await, before);
    let r = gw.get("/ServiceProviderConfig").await;
    assert_eq!(r.body["bulk"]["maxOperations"], 2);
    // At the limit: fine.
    let r = gw
        .post(
            "/Bulk",
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": ops[..2]}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(gw.db_scalar("SELECT count(*) FROM users").await, 2);
}

#[tokio::test]
async fn bulk_request_without_operations_or_with_bad_schema_is_400() {
    let gw = Gateway::quickstart().await;
    for body in [
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"]}),
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": []}),
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": "x"}),
    ] {
        let r = gw.post("/Bulk", &body).await;
        refused(&r, 400, Some("invalidSyntax"), &body.to_string());
    }
    let r = gw
        .post(
            "/Bulk",
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "failOnErrors": "x", "Operations": []}),
        )
        .await;
    refused(&r, 400, Some("invalidValue"), "failOnErrors");
    // Bad operations fail one by one inside a 200.
    let r = gw
        .post(
            "/Bulk",
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [
                {"method": "POST", "path": "/Users", "data": user("no-bulk-id")},
                {"method": "GET", "path": "/Users"},
                {"method": "POST", "path": "/Nope", "bulkId": "x", "data": {}},
                {"method": "DELETE", "path": "/Users/missing"}
            ]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let statuses: Vec<&str> = r.body["Operations"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o["status"].as_str())
        .collect();
    assert_eq!(statuses, vec!["400", "400", "400", "404"]);
    assert_eq!(gw.db_scalar("SELECT count(*) FROM users").await, 0);
}

/// A backend failure is a 5xx whose detail names the request id and nothing of the backend.
#[tokio::test]
async fn backend_errors_never_leak_backend_text() {
    let (gw, uid, _) = populated().await;
    // Drop a child table behind the gateway's back: reads of users now fail inside SQLite.
    gw.db_exec("DROP TABLE user_phones").await;
    for r in [
        gw.get(&format!("/Users/{uid}")).await,
        gw.get("/Users").await,
        gw.post("/Users", &json!({"userName": "x", "phoneNumbers": [{"value": "1"}]}))
            .await,
    ] {
        assert!(r.status.is_server_error(), "{}: {}", r.status, r.body);
        let rid = r.header("x-request-id").unwrap().to_owned();
        let detail = r.body["detail"].as_str().unwrap();
        assert!(detail.contains(&rid), "{detail}");
        let text = r.body.to_string().to_lowercase();
        for leak in ["user_phones", "no such table", "sqlite", "select", "sqlx"] {
            assert!(!text.contains(leak), "{leak} leaked: {text}");
        }
        assert_eq!(
            r.body["schemas"],
            json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
        );
    }
}

/// A locked (busy) database: 429 with Retry-After, or 503 when the statement timeout fires
/// first; never a 400, never backend text, and nothing written.
#[tokio::test]
async fn busy_backend_is_429_or_503_with_retry_after() {
    let gw = Gateway::with_settings("", "statement_timeout_ms = 300").await;
    let uid = gw.post("/Users", &user("a")).await.id();
    let before = gw.snapshot().await;
    let lock = gw.db_lock().await;
    for r in [
        gw.post("/Users", &user("b")).await,
        gw.patch_ops(
            &format!("/Users/{uid}"),
            json!([{"op": "replace", "path": "title", "value": "x"}]),
        )
        .await,
    ] {
        assert!(r.status == 429 || r.status == 503, "{}: {}", r.status, r.body);
        assert!(r.header("retry-after").is_some_and(|s| s.parse::<u64>().is_ok()));
        let text = r.body.to_string().to_lowercase();
        assert!(!text.contains("locked") && !text.contains("sqlite"), "{text}");
    }
    lock.release().await;
    assert_eq!(gw.snapshot().await, before);
    assert_eq!(gw.post("/Users", &user("b")).await.status, 201);
}

/// Ruins the database file under a running gateway. A committed write moves the WAL index,
/// so the gateway's pooled connections drop their page caches; the checkpoint moves every page
/// into the main file, which is then overwritten with garbage.
async fn ruin_database(gw: &Gateway) {
    gw.db_exec("UPDATE users SET nick_name = 'x'; PRAGMA wal_checkpoint(TRUNCATE)")
        .await;
    let len = std::fs::metadata(&gw.db).unwrap().len() as usize;
    std::fs::write(&gw.db, vec![0x5Au8; len.max(4096)]).unwrap();
    assert!(gw.dir.path().join("scim.db").exists());
}

/// The backend is down (its file is garbage): 503 with Retry-After, never a 400, and never
/// backend text.
#[tokio::test]
async fn unreachable_backend_is_503_not_400() {
    let gw = Gateway::quickstart().await;
    let uid = gw.post("/Users", &user("a")).await.id();
    ruin_database(&gw).await;
    for r in [
        gw.get(&format!("/Users/{uid}")).await,
        gw.get("/Users?filter=userName%20eq%20%22a%22").await,
        gw.post("/Users", &user("b")).await,
        gw.patch_ops(
            &format!("/Users/{uid}"),
            json!([{"op": "replace", "path": "title", "value": "x"}]),
        )
        .await,
        gw.delete(&format!("/Users/{uid}")).await,
    ] {
        assert_eq!(r.status, 503, "{}", r.body);
        assert!(r.header("retry-after").is_some());
        let rid = r.header("x-request-id").unwrap();
        assert!(r.body["detail"].as_str().unwrap().contains(rid));
        let text = r.body.to_string().to_lowercase();
        assert!(
            !text.contains("sqlite") && !text.contains("not a database") && !text.contains("malformed"),
            "{text}"
        );
    }
}

/// `/readyz` must notice a backend that cannot serve requests.
#[tokio::test]
async fn readyz_is_503_when_the_database_is_unusable() {
    let gw = Gateway::quickstart().await;
    gw.post("/Users", &user("a")).await;
    let ready = gw
        .send(Method::GET, &format!("{}/readyz", gw.origin()), None, None)
        .await;
    assert_eq!(ready.status, 200);
    ruin_database(&gw).await;
    assert_eq!(gw.get("/Users").await.status, 503);
    let ready = gw
        .send(Method::GET, &format!("{}/readyz", gw.origin()), None, None)
        .await;
    assert_eq!(ready.status, 503, "{}", ready.body);
}
