//! The Entra ID default mapping against an application schema scimgate did not create
//! (mappings/entra-id): integer keys, status codes, one column per email and phone type.

// Tests set up and inspect the database directly, behind the gateway's back.
#![allow(clippy::disallowed_methods)]

use serde_json::json;

use crate::harness::{Gateway, repo_path};

async fn app_gateway() -> Gateway {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("app.db");
    // The application owns the schema: create it outside the gateway.
    {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite:{}?mode=rwc", db.display()))
            .await
            .expect("db");
        let ddl = std::fs::read_to_string(repo_path("mappings/entra-id/schema.sql")).expect("schema");
        sqlx::raw_sql(sqlx::AssertSqlSafe(ddl))
            .execute(&mut conn)
            .await
            .expect("ddl");
    }
    let m = repo_path("mappings/entra-id");
    let config = format!(
        "[auth]\ntokens = [\"{}\"]\n[connectors.app.sql]\nurl = \"sqlite:{}\"\n[endpoints.main]\npath = \"/scim/v2\"\nconnector = \"app\"\nmappings = [\"{}\", \"{}\"]\n",
        crate::harness::TOKEN,
        db.display(),
        m.join("users.toml").display(),
        m.join("groups.toml").display()
    );
    Gateway::with_config(dir, db, &config).await
}

async fn text(gw: &Gateway, sql: &str) -> String {
    use sqlx::Connection;
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite:{}", gw.db.display()))
        .await
        .expect("db");
    let row: (Option<String>,) = sqlx::query_as(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(&mut conn)
        .await
        .expect("query");
    row.0.unwrap_or_default()
}

#[tokio::test]
async fn entra_provisioning_cycle_writes_exactly_the_mapped_columns() {
    let gw = app_gateway().await;
    let manager = gw
        .post("/Users", &json!({"userName": "MeganB@contoso.com", "name": {"givenName": "Megan", "familyName": "Bowen"}, "active": true}))
        .await;
    assert_eq!(manager.status, 201, "{}", manager.body);
    let manager_id = manager.id();
    assert!(
        manager_id.parse::<i64>().is_ok(),
        "the id is the integer key: {manager_id}"
    );

    let adele = gw
        .post(
            "/Users",
            &json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
                "externalId": "AdeleV", "userName": "AdeleV@contoso.com", "active": true, "displayName": "Adele Vance",
                "emails": [{"primary": true, "type": "work", "value": "AdeleV@contoso.com"}],
                "phoneNumbers": [{"type": "mobile", "value": "+1 555 0100"}, {"type": "fax", "value": "+1 555 0199"}],
                "addresses": [{"type": "work", "locality": "Seattle", "postalCode": "98101", "country": "US"}],
                "name": {"familyName": "Vance", "givenName": "Adele"},
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Retail", "employeeNumber": "1001", "manager": {"value": manager_id}}
            }),
        )
        .await;
    assert_eq!(adele.status, 201, "{}", adele.body);
    let id = adele.id();
    let row = |col: &str| format!("SELECT CAST({col} AS TEXT) FROM app_user WHERE user_id = {id}");
    assert_eq!(text(&gw, &row("login")).await, "AdeleV@contoso.com");
    assert_eq!(text(&gw, &row("status")).await, "A");
    assert_eq!(text(&gw, &row("mobile")).await, "+1 555 0100");
    assert_eq!(text(&gw, &row("fax")).await, "+1 555 0199");
    assert_eq!(text(&gw, &row("phone")).await, "");
    assert_eq!(text(&gw, &row("city")).await, "Seattle");
    assert_eq!(text(&gw, &row("manager_user_id")).await, manager_id);
    assert_eq!(
        adele.body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["manager"]["value"],
        manager_id.as_str()
    );

    // Entra's lookups.
    let by_name = gw.get("/Users?filter=userName+eq+%22adelev%40contoso.com%22").await;
    assert_eq!(by_name.body["totalResults"], 1, "{}", by_name.body);
    let by_mail = gw
        .get("/Users?filter=emails%5Btype+eq+%22work%22%5D.value+eq+%22AdeleV%40contoso.com%22")
        .await;
    assert_eq!(by_mail.body["totalResults"], 1, "{}", by_mail.body);
    let by_external = gw.get("/Users?filter=externalId+eq+%22AdeleV%22").await;
    assert_eq!(by_external.body["totalResults"], 1);

    // Soft delete in Entra: active=false becomes status 'I'; the user is still there.
    let off = gw
        .patch(
            &format!("/Users/{id}"),
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "Replace", "path": "active", "value": "False"},
                                   {"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": ""}]}),
        )
        .await;
    assert_eq!(off.status, 200, "{}", off.body);
    assert_eq!(text(&gw, &row("status")).await, "I");
    assert_eq!(text(&gw, &row("manager_user_id")).await, "");
    assert_eq!(gw.get("/Users?filter=active+eq+false").await.body["totalResults"], 1);

    // Groups: the role table, with the join rows stamped `granted_by = 'scim'`.
    let role = gw
        .post("/Groups", &json!({"displayName": "Retail", "externalId": "retail"}))
        .await;
    assert_eq!(role.status, 201, "{}", role.body);
    let gid = role.id();
    let add = gw
        .patch(
            &format!("/Groups/{gid}"),
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "Add", "path": "members", "value": [{"value": id}, {"value": manager_id}]}]}),
        )
        .await;
    assert_eq!(add.status, 204, "{}", add.body);
    assert_eq!(
        gw.db_scalar(&format!(
            "SELECT count(*) FROM app_user_role WHERE role_id = {gid} AND granted_by = 'scim'"
        ))
        .await,
        2
    );
    let groups = gw.get(&format!("/Users/{id}?attributes=groups")).await;
    assert_eq!(groups.body["groups"][0]["value"], gid.as_str(), "{}", groups.body);

    // A user id that is not a number cannot exist: 404, not 500.
    assert_eq!(gw.get("/Users/abc").await.status, 404);
    assert_eq!(gw.delete(&format!("/Users/{id}")).await.status, 204);
    assert_eq!(
        gw.db_scalar(&format!("SELECT count(*) FROM app_user_role WHERE user_id = {id}"))
            .await,
        0
    );
}

/// `active` as one bit of a flags column (AD's `userAccountControl` ACCOUNTDISABLE = 2):
/// writes touch only that bit, reads and filters test only that bit.
#[tokio::test]
async fn active_as_a_flag_bit_changes_only_that_bit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("flags.db");
    std::fs::write(
        dir.path().join("schema.sql"),
        "CREATE TABLE IF NOT EXISTS acct (id INTEGER PRIMARY KEY, login TEXT NOT NULL UNIQUE, uac INTEGER);",
    )
    .expect("schema");
    std::fs::write(
        dir.path().join("users.toml"),
        r#"
[User]
[User.sql]
table = "acct"
id = "id"
[User.attributes]
userName = { to = "login", required = true }
active = { to = "uac", false_when = { bits = 2 }, default = true }
[User.compute]
uac = { value = 512, when = "create" }
"#,
    )
    .expect("mapping");
    let config = format!(
        "[auth]\ntokens = [\"{}\"]\n[connectors.db.sql]\nurl = \"sqlite:{}?mode=rwc\"\ninit_files = [\"schema.sql\"]\n[endpoints.main]\npath = \"/scim/v2\"\nconnector = \"db\"\nmappings = [\"users.toml\"]\n",
        crate::harness::TOKEN,
        db.display()
    );
    let gw = Gateway::with_config(dir, db, &config).await;
    let on = gw.post("/Users", &json!({"userName": "on"})).await;
    assert_eq!(on.status, 201, "{}", on.body);
    let off = gw.post("/Users", &json!({"userName": "off", "active": false})).await;
    assert_eq!(off.body["active"], false);
    assert_eq!(gw.db_scalar("SELECT uac FROM acct WHERE login = 'on'").await, 512);
    assert_eq!(gw.db_scalar("SELECT uac FROM acct WHERE login = 'off'").await, 514);

    // Another application sets DONT_EXPIRE_PASSWORD (0x10000); a disable keeps it.
    gw.db_exec("UPDATE acct SET uac = uac | 65536 WHERE login = 'on'").await;
    let id = on.id();
    let r = gw
        .patch(
            &format!("/Users/{id}"),
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "path": "active", "value": false}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        gw.db_scalar("SELECT uac FROM acct WHERE login = 'on'").await,
        512 | 65536 | 2
    );
    assert_eq!(gw.get("/Users?filter=active+eq+false").await.body["totalResults"], 2);
    assert_eq!(gw.get("/Users?filter=active+eq+true").await.body["totalResults"], 0);
    let r = gw
        .patch(
            &format!("/Users/{id}"),
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "path": "active", "value": true}]}),
        )
        .await;
    assert_eq!(r.body["active"], true);
    assert_eq!(
        gw.db_scalar("SELECT uac FROM acct WHERE login = 'on'").await,
        512 | 65536
    );
}
