//! `[[errors]]` rules on SQLite: a rule's answer beats the connector's default mapping, an
//! unmatched failure keeps its default, `ok` makes a membership failure count as done,
//! `retry` ends in 503, and a 5xx answer shows no backend text.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::{Gateway, TOKEN};

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS people (
    id TEXT PRIMARY KEY,
    login TEXT NOT NULL UNIQUE,
    nick TEXT UNIQUE,
    title TEXT CONSTRAINT title_not_reserved CHECK (title IS NULL OR title <> 'root'),
    family_name TEXT CHECK (family_name IS NULL OR length(family_name) < 20)
);
CREATE TRIGGER IF NOT EXISTS people_archived BEFORE UPDATE OF family_name ON people
    WHEN NEW.family_name = 'archived' BEGIN SELECT RAISE(ABORT, 'E404 archived person'); END;
CREATE TRIGGER IF NOT EXISTS people_broken BEFORE UPDATE OF family_name ON people
    WHEN NEW.family_name = 'broken' BEGIN SELECT RAISE(ABORT, 'E500 table people_secret is corrupt'); END;
CREATE TRIGGER IF NOT EXISTS people_locked BEFORE UPDATE OF family_name ON people
    WHEN NEW.family_name = 'locked' BEGIN SELECT RAISE(ABORT, 'E503 row is locked'); END;
CREATE TABLE IF NOT EXISTS teams (id TEXT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS team_members (team_id TEXT NOT NULL, person_id TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS team_members_frozen BEFORE INSERT ON team_members
    WHEN (SELECT nick FROM people WHERE id = NEW.person_id) = 'frozen'
    BEGIN SELECT RAISE(ABORT, 'FROZEN: the person cannot join teams'); END;
"#;

const USERS: &str = r#"
[User]
ignore = ["externalId"]

[User.sql]
table = "people"
id = { to = "id", generated = "uuid" }

[User.attributes]
userName = { to = "login", required = true }
nickName = "nick"
title = "title"
"name.familyName" = "family_name"

# The named CHECK: reserved titles are not the client's to fix by changing a value's form.
[[User.errors]]
match = { errno = "SQLITE_CONSTRAINT_CHECK", constraint = "title_not_reserved" }
as = "403"

# A taken nickname on update only; on create the default (409 uniqueness) stays.
[[User.errors]]
match = { errno = 2067, message = "people\\.nick" }
op = "update"
as = "409 mutability"

[[errors]]
match = { errno = "SQLITE_CONSTRAINT_TRIGGER", message = "^E404" }
as = "404"

[[errors]]
match = { errno = "SQLITE_CONSTRAINT_TRIGGER", message = "^E500" }
as = "500"

[[errors]]
match = { errno = 1811, message = "^E503" }
op = "update"
as = "retry"
"#;

const GROUPS: &str = r#"
[Group]
[Group.sql]
table = "teams"
id = { to = "id", generated = "uuid" }

[Group.attributes]
displayName = { to = "name", required = true }
members = { table = "team_members", key = "team_id", value = "person_id", reference = "User" }

[[Group.errors]]
match = { errno = "SQLITE_CONSTRAINT_TRIGGER", message = "^FROZEN:" }
op = "add_member"
as = "ok"
"#;

async fn gateway() -> Gateway {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("rules.db");
    for (name, text) in [("schema.sql", SCHEMA), ("users.toml", USERS), ("groups.toml", GROUPS)] {
        std::fs::write(dir.path().join(name), text).expect("write");
    }
    let config = format!(
        "[auth]\ntokens = [\"{TOKEN}\"]\n[connectors.db.sql]\nurl = \"sqlite:{}?mode=rwc\"\ninit_files = [\"schema.sql\"]\n[endpoints.main]\npath = \"/scim/v2\"\nconnector = \"db\"\nmappings = [\"users.toml\", \"groups.toml\"]\n",
        db.display()
    );
    Gateway::with_config(dir, db, &config).await
}

fn user(login: &str) -> serde_json::Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": login})
}

async fn create(gw: &Gateway, body: serde_json::Value) -> String {
    let r = gw.post("/Users", &body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.id()
}

async fn set_family_name(gw: &Gateway, id: &str, value: &str) -> crate::harness::Reply {
    gw.patch_ops(
        &format!("/Users/{id}"),
        json!([{"op": "replace", "path": "name.familyName", "value": value}]),
    )
    .await
}

#[tokio::test]
async fn a_rule_answers_before_the_default_and_unmatched_failures_keep_theirs() {
    let gw = gateway().await;

    // The named CHECK → the rule's 403; the unnamed CHECK on family_name → default 400 invalidValue.
    let mut body = user("ann");
    body["title"] = json!("root");
    let r = gw.post("/Users", &body).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.scim_type(), None);
    let mut body = user("ann");
    body["name"] = json!({"familyName": "a name far longer than twenty"});
    let r = gw.post("/Users", &body).await;
    assert_eq!(
        (r.status.as_u16(), r.scim_type()),
        (400, Some("invalidValue")),
        "{}",
        r.body
    );

    // A taken nickname: the rule names `update`, so a create keeps the default 409 uniqueness ...
    let mut body = user("ann");
    body["nickName"] = json!("annie");
    let ann = create(&gw, body).await;
    let mut body = user("bob");
    body["nickName"] = json!("annie");
    let r = gw.post("/Users", &body).await;
    assert_eq!(
        (r.status.as_u16(), r.scim_type()),
        (409, Some("uniqueness")),
        "{}",
        r.body
    );
    // ... and an update gets the rule's scimType.
    let bob = create(&gw, user("bob")).await;
    let r = gw
        .patch_ops(
            &format!("/Users/{bob}"),
            json!([{"op": "replace", "path": "nickName", "value": "annie"}]),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.scim_type()),
        (409, Some("mutability")),
        "{}",
        r.body
    );
    // A duplicate userName matches no rule: the default.
    let r = gw.post("/Users", &user("ann")).await;
    assert_eq!(
        (r.status.as_u16(), r.scim_type()),
        (409, Some("uniqueness")),
        "{}",
        r.body
    );

    // File-level rules apply to every type of the file: a trigger's E404 becomes 404.
    let r = set_family_name(&gw, &ann, "archived").await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(
        gw.db_scalar(&format!(
            "SELECT count(*) FROM people WHERE id = '{ann}' AND family_name IS NULL"
        ))
        .await,
        1,
        "the failed update changed nothing"
    );
}

#[tokio::test]
async fn a_5xx_answer_shows_no_backend_text() {
    let gw = gateway().await;
    let id = create(&gw, user("carl")).await;
    let r = set_family_name(&gw, &id, "broken").await;
    assert_eq!(r.status, 500, "{}", r.body);
    let detail = r.body["detail"].as_str().unwrap_or_default();
    assert!(
        !detail.contains("people_secret") && !detail.contains("E500"),
        "{detail}"
    );
    let request_id = r.header("x-request-id").expect("request id");
    assert!(detail.contains(request_id), "{detail}");
}

#[tokio::test]
async fn retry_repeats_the_transaction_then_answers_503() {
    let gw = gateway().await;
    let id = create(&gw, user("dora")).await;
    let started = Instant::now();
    let r = set_family_name(&gw, &id, "locked").await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.header("retry-after").is_some());
    // Three retries after 50, 100 and 200 ms.
    assert!(
        started.elapsed() >= Duration::from_millis(350),
        "{:?}",
        started.elapsed()
    );
    let r = set_family_name(&gw, &id, "Doe").await;
    assert_eq!(r.status, 200, "other updates are unaffected: {}", r.body);
}

#[tokio::test]
async fn ok_counts_a_failed_membership_insert_as_done() {
    let gw = gateway().await;
    let eve = create(&gw, user("eve")).await;
    let mut body = user("frank");
    body["nickName"] = json!("frozen");
    let frank = create(&gw, body).await;
    let team = gw
        .post(
            "/Groups",
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "ops"}),
        )
        .await;
    assert_eq!(team.status, 201, "{}", team.body);
    let team = team.id();
    let add = |member: &str| json!([{"op": "add", "path": "members", "value": [{"value": member}]}]);
    let r = gw.patch_ops(&format!("/Groups/{team}"), add(&frank)).await;
    assert!(
        r.status.is_success(),
        "the rule counts the refused insert as done: {}",
        r.body
    );
    let r = gw.patch_ops(&format!("/Groups/{team}"), add(&eve)).await;
    assert!(r.status.is_success(), "{}", r.body);
    assert_eq!(
        gw.db_scalar(&format!("SELECT count(*) FROM team_members WHERE team_id = '{team}'"))
            .await,
        1,
        "only eve joined"
    );
    // On create the same failure is no membership change: `ok` does not apply, the default does.
    let r = gw
        .post(
            "/Groups",
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "dev", "members": [{"value": frank}]}),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.scim_type()),
        (400, Some("invalidValue")),
        "{}",
        r.body
    );
}
