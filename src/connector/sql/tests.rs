// Tests set up and inspect the database directly.
#![allow(clippy::disallowed_methods)]
//! Live tests against SQLite databases in temporary files, with a quickstart-like schema.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use super::*;
use crate::connector::{ChildSpec, CompareOp, Fields, RelationDelta, RelationSpec, SortKey};

const USER: EntityId = EntityId(0);
const GROUP: EntityId = EntityId(1);

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS users (
        id TEXT PRIMARY KEY,
        user_name TEXT NOT NULL,
        title TEXT,
        active INTEGER,
        manager_id TEXT REFERENCES users(id),
        retired_at TEXT,
        version INTEGER NOT NULL DEFAULT 1,
        created_at TEXT,
        updated_at TEXT)",
    "CREATE UNIQUE INDEX IF NOT EXISTS users_user_name ON users(lower(user_name))",
    "CREATE TABLE IF NOT EXISTS user_emails (
        user_id TEXT NOT NULL REFERENCES users(id),
        value TEXT NOT NULL,
        type TEXT,
        is_primary INTEGER)",
    "CREATE TABLE IF NOT EXISTS groups (
        id INTEGER PRIMARY KEY,
        display_name TEXT NOT NULL UNIQUE,
        version INTEGER,
        created_at TEXT,
        updated_at TEXT)",
    "CREATE TABLE IF NOT EXISTS group_members (
        group_id INTEGER NOT NULL REFERENCES groups(id),
        member_id TEXT NOT NULL,
        PRIMARY KEY (group_id, member_id))",
];

fn relation(name: &str, targets: Vec<EntityId>, key: &str, value: &str) -> RelationSpec {
    RelationSpec {
        name: name.into(),
        targets,
        attribute: None,
        table: Some("group_members".into()),
        key: Some(key.into()),
        value: Some(value.into()),
        set: BTreeMap::new(),
        empty: None,
    }
}

fn entities() -> Vec<(EntitySpec, SqlEntityConfig)> {
    let user = EntitySpec {
        name: "User".into(),
        fields: ["user_name", "title", "active", "manager_id"]
            .map(String::from)
            .to_vec(),
        children: vec![ChildSpec {
            name: "emails".into(),
            table: "user_emails".into(),
            key: "user_id".into(),
            columns: ["value", "type", "is_primary"].map(String::from).to_vec(),
        }],
        relations: vec![relation("groups", vec![GROUP], "member_id", "group_id")],
        ..Default::default()
    };
    let user_cfg = toml::from_str(
        r#"
        table = "users"
        scope = "retired_at IS NULL"
        id = { to = "id", generated = "uuid" }
        version = "version"
        created = "created_at"
        modified = "updated_at"
        "#,
    )
    .unwrap();
    let group = EntitySpec {
        name: "Group".into(),
        fields: vec!["display_name".into()],
        children: vec![],
        relations: vec![relation("members", vec![USER, GROUP], "group_id", "member_id")],
        ..Default::default()
    };
    let group_cfg = toml::from_str(
        r#"
        table = "groups"
        id = "id"
        version = "version"
        created = "created_at"
        modified = { to = "updated_at", generated = "gateway" }
        "#,
    )
    .unwrap();
    vec![(user, user_cfg), (group, group_cfg)]
}

/// A connector on a fresh database file, removed on drop.
struct Db {
    c: SqlConnector,
    path: PathBuf,
}

impl Drop for Db {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.path.display()));
        }
    }
}

fn config(url: String) -> SqlConnectorConfig {
    SqlConnectorConfig {
        url,
        max_connections: 4,
        connect_timeout_ms: 5000,
        statement_timeout_ms: 10000,
        init: SCHEMA.iter().map(|s| s.to_string()).collect(),
        init_files: Vec::new(),
    }
}

async fn db() -> Db {
    let path = std::env::temp_dir().join(format!("scimgate-sql-{}.db", uuid::Uuid::new_v4()));
    let c = build(&config(format!("sqlite:{}?mode=rwc", path.display())), entities())
        .await
        .unwrap();
    Db { c, path }
}

impl Db {
    async fn scalar(&self, sql: &str) -> i64 {
        let pool = self.c.pool.as_ref().unwrap();
        sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql.to_owned()))
            .fetch_one(pool)
            .await
            .unwrap()
    }

    async fn raw(&self, sql: &str) {
        sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
            .execute(self.c.pool.as_ref().unwrap())
            .await
            .unwrap();
    }

    fn take_log(&self) -> Vec<String> {
        std::mem::take(&mut *self.c.log.lock().unwrap())
    }

    async fn user(&self, name: &str) -> Record {
        self.c.create(USER, &new_user(name, &[])).await.unwrap()
    }

    async fn group(&self, name: &str, members: &[&str]) -> Record {
        let record = NewRecord {
            fields: fields(&[("display_name", name)]),
            relations: BTreeMap::from([("members".to_owned(), members.iter().map(|m| m.to_string()).collect())]),
            ..NewRecord::default()
        };
        self.c.create(GROUP, &record).await.unwrap()
    }

    async fn members(&self, group: &str) -> Vec<String> {
        let read = ReadSet {
            relations: BTreeSet::from(["members".to_owned()]),
            ..ReadSet::default()
        };
        let g = self.c.get(GROUP, group, &read).await.unwrap().unwrap();
        let mut m = g.relations["members"].clone();
        m.sort();
        m
    }
}

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

fn fields(pairs: &[(&str, &str)]) -> Fields {
    pairs.iter().map(|(k, v)| (k.to_string(), vec![text(v)])).collect()
}

fn email(value: &str, kind: &str) -> Row {
    Row::from([("value".to_owned(), text(value)), ("type".to_owned(), text(kind))])
}

fn new_user(name: &str, emails: &[Row]) -> NewRecord {
    NewRecord {
        fields: fields(&[("user_name", name)]),
        children: BTreeMap::from([("emails".to_owned(), emails.to_vec())]),
        ..NewRecord::default()
    }
}

fn all() -> ReadSet {
    ReadSet {
        children: BTreeSet::from(["emails".to_owned()]),
        relations: BTreeSet::from(["groups".to_owned()]),
    }
}

fn eq(field: &str, value: &str, ignore_case: bool) -> Filter {
    Filter::Compare {
        field: FieldRef::Field(field.into()),
        op: CompareOp::Eq,
        value: text(value),
        ignore_case,
    }
}

fn query(filter: Filter, page: PageRequest) -> Query {
    Query {
        filter,
        sort: None,
        page,
        read: ReadSet::default(),
        want_total: false,
    }
}

fn offset(offset: u64, count: u64) -> PageRequest {
    PageRequest::Offset { offset, count }
}

async fn names(c: &SqlConnector, filter: Filter) -> Vec<String> {
    let page = c.search(USER, &query(filter, offset(0, 100))).await.unwrap();
    let mut out: Vec<String> = page
        .records
        .iter()
        .map(|r| r.fields["user_name"][0].as_text().unwrap().to_owned())
        .collect();
    out.sort();
    out
}

fn is_timestamp(v: &Option<Value>) -> bool {
    let Some(Value::Text(s)) = v else {
        return false;
    };
    s.len() == 24 && s.ends_with('Z') && s.as_bytes()[19] == b'.' && chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

#[tokio::test]
async fn create_with_children_and_relations() {
    let db = db().await;
    let g = db.group("admins", &[]).await;
    assert_eq!(g.id.parse::<i64>().ok(), Some(1));
    let record = NewRecord {
        fields: fields(&[("user_name", "bjensen"), ("title", "Boss")]),
        children: BTreeMap::from([(
            "emails".to_owned(),
            vec![email("b@x.org", "work"), email("b@home.org", "home")],
        )]),
        relations: BTreeMap::from([("groups".to_owned(), vec![g.id.clone()])]),
        ..Default::default()
    };
    let u = db.c.create(USER, &record).await.unwrap();
    assert!(uuid::Uuid::parse_str(&u.id).is_ok(), "{}", u.id);
    assert_eq!(u.meta.version.as_deref(), Some("1"));
    assert!(
        is_timestamp(&u.meta.created) && is_timestamp(&u.meta.modified),
        "{:?}",
        u.meta
    );
    assert_eq!(u.fields["user_name"], vec![text("bjensen")]);
    assert!(!u.fields.contains_key("active"), "NULL columns are absent");
    assert_eq!(
        u.children["emails"],
        vec![email("b@x.org", "work"), email("b@home.org", "home")]
    );
    assert_eq!(u.relations["groups"], vec![g.id.clone()]);
    assert_eq!(db.members(&g.id).await, vec![u.id.clone()]);
}

#[tokio::test]
async fn get_reads_only_what_is_asked() {
    let db = db().await;
    let u =
        db.c.create(USER, &new_user("a", &[email("a@x", "work")]))
            .await
            .unwrap();
    db.take_log();
    let bare = db.c.get(USER, &u.id, &ReadSet::default()).await.unwrap().unwrap();
    let log = db.take_log();
    assert_eq!(log.len(), 1, "{log:?}");
    // Neither the child table nor the join table is read when not asked for.
    assert!(
        !log[0].contains("json_group_array") && !log[0].contains("user_emails") && !log[0].contains("group_members"),
        "{log:?}"
    );
    assert!(bare.children.is_empty() && bare.relations.is_empty());
    let full = db.c.get(USER, &u.id, &all()).await.unwrap().unwrap();
    // One statement, no transaction: the children and relations come as JSON columns.
    let log = db.take_log();
    assert_eq!(log.len(), 1, "{log:?}");
    assert!(
        log[0].contains(r#"AS "__child_emails""#) && log[0].contains(r#"AS "__rel_groups""#),
        "{log:?}"
    );
    let groups_only = ReadSet {
        relations: BTreeSet::from(["groups".to_owned()]),
        ..ReadSet::default()
    };
    db.c.get(USER, &u.id, &groups_only).await.unwrap().unwrap();
    let log = db.take_log();
    assert!(
        log.len() == 1 && !log[0].contains("user_emails") && log[0].contains("group_members"),
        "{log:?}"
    );
    assert_eq!(full.children["emails"].len(), 1);
    assert_eq!(full.relations["groups"], Vec::<String>::new());
    assert!(db.c.get(USER, "no-such-id", &all()).await.unwrap().is_none());
    assert!(db.c.get(GROUP, "abc", &ReadSet::default()).await.unwrap().is_none());
    let unknown = ReadSet {
        children: BTreeSet::from(["phones".to_owned()]),
        ..ReadSet::default()
    };
    assert!(matches!(
        db.c.get(USER, &u.id, &unknown).await,
        Err(ConnectorError::Unsupported(_))
    ));
}

#[tokio::test]
async fn search_filters_sorts_pages_and_counts() {
    let db = db().await;
    for name in ["carol", "alice", "Dave", "bob", "eve"] {
        let emails = [email(&format!("{name}@x"), "work"), email(&format!("{name}@y"), "home")];
        db.c.create(USER, &new_user(name, &emails)).await.unwrap();
    }
    let sort = SortKey {
        field: FieldRef::Field("user_name".into()),
        descending: false,
        ignore_case: true,
    };
    let mut q = query(Filter::Present(FieldRef::Field("user_name".into())), offset(1, 2));
    q.sort = Some(sort.clone());
    q.want_total = true;
    q.read = all();
    db.take_log();
    let page = db.c.search(USER, &q).await.unwrap();
    let got: Vec<_> = page.records.iter().map(|r| r.fields["user_name"][0].clone()).collect();
    assert_eq!(got, vec![text("bob"), text("carol")]);
    assert_eq!(page.total, Some(5));
    assert_eq!(page.next_cursor, None);
    assert_eq!(page.records[0].children["emails"].len(), 2);
    // The page, its emails and groups, and the count: one statement.
    assert_eq!(db.take_log().len(), 1);
    assert_eq!(
        page.records[0].children["emails"],
        vec![email("bob@x", "work"), email("bob@y", "home")]
    );
    assert_eq!(page.records[0].relations["groups"], Vec::<String>::new());

    // An empty page past the end still reports the total.
    let mut past = q.clone();
    past.page = offset(10, 2);
    let empty = db.c.search(USER, &past).await.unwrap();
    assert!(empty.records.is_empty());
    assert_eq!(empty.total, Some(5));
    let mut none = q.clone();
    none.filter = eq("user_name", "nobody", false);
    let empty = db.c.search(USER, &none).await.unwrap();
    assert!(empty.records.is_empty());
    assert_eq!(empty.total, Some(0));

    let mut desc = q.clone();
    desc.sort = Some(SortKey {
        descending: true,
        ..sort.clone()
    });
    desc.page = offset(0, 1);
    let first = db.c.search(USER, &desc).await.unwrap();
    assert_eq!(first.records[0].fields["user_name"], vec![text("eve")]);

    assert_eq!(names(&db.c, eq("user_name", "DAVE", true)).await, vec!["Dave"]);
    assert!(names(&db.c, eq("user_name", "DAVE", false)).await.is_empty());
}

#[tokio::test]
async fn cursor_paging_visits_every_row_once() {
    let db = db().await;
    let mut expected = Vec::new();
    for i in 0..7 {
        expected.push(db.user(&format!("user{i}")).await.id);
    }
    expected.sort();
    for sorted in [false, true] {
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let mut q = query(
                Filter::True,
                PageRequest::Cursor {
                    cursor: cursor.clone(),
                    count: 3,
                },
            );
            if sorted {
                q.sort = Some(SortKey {
                    field: FieldRef::Created,
                    descending: false,
                    ignore_case: false,
                });
            }
            let page = db.c.search(USER, &q).await.unwrap();
            assert!(page.records.len() <= 3);
            seen.extend(page.records.into_iter().map(|r| r.id));
            match page.next_cursor {
                Some(c) => {
                    assert!(c.starts_with(if sorted { 'o' } else { 'k' }), "{c}");
                    cursor = Some(c);
                }
                None => break,
            }
        }
        seen.sort();
        assert_eq!(seen, expected, "sorted: {sorted}");
    }
    for bad in ["zzz", "kxyz", "k0", "o-1"] {
        let q = query(
            Filter::True,
            PageRequest::Cursor {
                cursor: Some(bad.into()),
                count: 3,
            },
        );
        let err = db.c.search(USER, &q).await.unwrap_err();
        assert!(
            matches!(&err, ConnectorError::InvalidValue { detail, .. } if detail == "invalid cursor"),
            "{bad}: {err}"
        );
    }
}

#[tokio::test]
async fn keyset_cursor_on_integer_ids() {
    let db = db().await;
    for i in 0..12 {
        db.group(&format!("g{i}"), &[]).await;
    }
    let q = |cursor| query(Filter::True, PageRequest::Cursor { cursor, count: 5 });
    let p1 = db.c.search(GROUP, &q(None)).await.unwrap();
    let p2 = db.c.search(GROUP, &q(p1.next_cursor.clone())).await.unwrap();
    let p3 = db.c.search(GROUP, &q(p2.next_cursor.clone())).await.unwrap();
    // Integer order, not text order (10 after 9).
    let ids: Vec<String> = [p1, p2, p3.clone()]
        .iter()
        .flat_map(|p| p.records.iter().map(|r| r.id.clone()))
        .collect();
    assert_eq!(ids, (1..=12).map(|i| i.to_string()).collect::<Vec<_>>());
    assert_eq!(p3.next_cursor, None);
}

#[tokio::test]
async fn modify_checks_versions_and_scope() {
    let db = db().await;
    let u = db.user("bjensen").await;
    let change = ChangeSet {
        fields: fields(&[("title", "Boss")]),
        ..ChangeSet::default()
    };
    db.c.modify(USER, &u.id, &change, Some("1")).await.unwrap();
    let after = db.c.get(USER, &u.id, &ReadSet::default()).await.unwrap().unwrap();
    assert_eq!(after.meta.version.as_deref(), Some("2"));
    assert_eq!(after.fields["title"], vec![text("Boss")]);
    assert_eq!(after.meta.created, u.meta.created);

    let stale = db.c.modify(USER, &u.id, &change, Some("1")).await;
    assert!(matches!(stale, Err(ConnectorError::VersionMismatch)), "{stale:?}");
    let missing = db.c.modify(USER, "nope", &change, Some("1")).await;
    assert!(matches!(missing, Err(ConnectorError::NotFound)), "{missing:?}");
    assert!(matches!(
        db.c.modify(USER, "nope", &change, None).await,
        Err(ConnectorError::NotFound)
    ));

    let clear = ChangeSet {
        fields: Fields::from([("title".to_owned(), vec![])]),
        ..ChangeSet::default()
    };
    db.c.modify(USER, &u.id, &clear, None).await.unwrap();
    let cleared = db.c.get(USER, &u.id, &ReadSet::default()).await.unwrap().unwrap();
    assert!(!cleared.fields.contains_key("title"));

    let two = ChangeSet {
        fields: Fields::from([("title".to_owned(), vec![text("a"), text("b")])]),
        ..ChangeSet::default()
    };
    let err = db.c.modify(USER, &u.id, &two, None).await.unwrap_err();
    assert!(err.to_string().contains("column title holds one value"), "{err}");

    // An empty change still checks existence and the version.
    assert!(matches!(
        db.c.modify(USER, &u.id, &ChangeSet::default(), Some("1")).await,
        Err(ConnectorError::VersionMismatch)
    ));
    db.c.modify(USER, &u.id, &ChangeSet::default(), Some("3"))
        .await
        .unwrap();

    // Rows outside the scope do not exist.
    db.raw(&format!("UPDATE users SET retired_at = 'x' WHERE id = '{}'", u.id))
        .await;
    assert!(db.c.get(USER, &u.id, &ReadSet::default()).await.unwrap().is_none());
    assert!(matches!(
        db.c.modify(USER, &u.id, &change, Some("3")).await,
        Err(ConnectorError::NotFound)
    ));
    assert!(matches!(
        db.c.delete(USER, &u.id, None).await,
        Err(ConnectorError::NotFound)
    ));
    assert!(names(&db.c, Filter::True).await.is_empty());
}

#[tokio::test]
async fn child_replacement_touches_the_main_row() {
    let db = db().await;
    let u =
        db.c.create(USER, &new_user("a", &[email("old@x", "work")]))
            .await
            .unwrap();
    let change = ChangeSet {
        children: BTreeMap::from([(
            "emails".to_owned(),
            vec![email("new1@x", "work"), email("new2@x", "home")],
        )]),
        ..ChangeSet::default()
    };
    db.c.modify(USER, &u.id, &change, Some("1")).await.unwrap();
    let after = db.c.get(USER, &u.id, &all()).await.unwrap().unwrap();
    assert_eq!(
        after.children["emails"],
        vec![email("new1@x", "work"), email("new2@x", "home")]
    );
    assert_eq!(after.meta.version.as_deref(), Some("2"));
    // A stale child-only write is refused and changes nothing.
    let stale = ChangeSet {
        children: BTreeMap::from([("emails".to_owned(), vec![])]),
        ..ChangeSet::default()
    };
    assert!(matches!(
        db.c.modify(USER, &u.id, &stale, Some("1")).await,
        Err(ConnectorError::VersionMismatch)
    ));
    assert_eq!(db.scalar("SELECT COUNT(*) FROM user_emails").await, 2);
}

#[tokio::test]
async fn relation_deltas() {
    let db = db().await;
    let users: Vec<String> = [db.user("a").await, db.user("b").await, db.user("c").await]
        .map(|u| u.id)
        .to_vec();
    let g = db.group("team", &[&users[0]]).await;
    let delta = |add: &[&String], remove: &[&String], remove_all| ChangeSet {
        relations: BTreeMap::from([(
            "members".to_owned(),
            RelationDelta {
                remove_all,
                add: add.iter().map(|s| s.to_string()).collect(),
                remove: remove.iter().map(|s| s.to_string()).collect(),
            },
        )]),
        ..ChangeSet::default()
    };
    let mut sorted = users.clone();
    sorted.sort();

    // Adding an existing member, and the same member twice, is idempotent.
    db.c.modify(
        GROUP,
        &g.id,
        &delta(&[&users[0], &users[1], &users[1], &users[2]], &[], false),
        Some("1"),
    )
    .await
    .unwrap();
    assert_eq!(db.members(&g.id).await, sorted);
    db.c.modify(GROUP, &g.id, &delta(&[&users[0]], &[], false), None)
        .await
        .unwrap();
    assert_eq!(db.members(&g.id).await, sorted);
    assert_eq!(
        db.scalar("SELECT version FROM groups").await,
        3,
        "relation writes touch the group"
    );

    db.c.modify(GROUP, &g.id, &delta(&[], &[&users[0], &users[2]], false), None)
        .await
        .unwrap();
    assert_eq!(db.members(&g.id).await, vec![users[1].clone()]);

    db.c.modify(GROUP, &g.id, &delta(&[&users[2]], &[], true), None)
        .await
        .unwrap();
    assert_eq!(db.members(&g.id).await, vec![users[2].clone()]);

    // The number of statements depends on the change, not on the group's size.
    let small = db.group("small", &[]).await;
    let many: Vec<String> = (0..50).map(|i| format!("m{i}")).collect();
    let big = db
        .group("big", &many.iter().map(String::as_str).collect::<Vec<_>>())
        .await;
    let mut counts = Vec::new();
    for id in [&small.id, &big.id] {
        db.take_log();
        db.c.modify(GROUP, id, &delta(&[&users[0]], &[&users[1]], false), None)
            .await
            .unwrap();
        counts.push(db.take_log().len());
    }
    assert_eq!(counts[0], counts[1], "{counts:?}");
    assert_eq!(db.members(&big.id).await.len(), 51);
}

#[tokio::test]
async fn delete_removes_owned_and_referring_rows() {
    let db = db().await;
    let u =
        db.c.create(USER, &new_user("a", &[email("a@x", "work")]))
            .await
            .unwrap();
    let other = db.user("b").await;
    let g = db.group("team", &[&u.id, &other.id]).await;
    let nested = db.group("outer", &[&g.id]).await;

    assert!(matches!(
        db.c.delete(USER, &u.id, Some("7")).await,
        Err(ConnectorError::VersionMismatch)
    ));
    assert_eq!(db.scalar("SELECT COUNT(*) FROM user_emails").await, 1, "rolled back");

    db.c.delete(USER, &u.id, Some("1")).await.unwrap();
    assert!(db.c.get(USER, &u.id, &ReadSet::default()).await.unwrap().is_none());
    assert_eq!(db.scalar("SELECT COUNT(*) FROM user_emails").await, 0);
    assert_eq!(db.members(&g.id).await, vec![other.id.clone()]);
    assert!(matches!(
        db.c.delete(USER, &u.id, None).await,
        Err(ConnectorError::NotFound)
    ));

    // A group: its own member rows and its rows as a member of another group.
    db.c.delete(GROUP, &g.id, None).await.unwrap();
    assert_eq!(db.members(&nested.id).await, Vec::<String>::new());
    assert_eq!(db.scalar("SELECT COUNT(*) FROM group_members").await, 0);
    assert!(matches!(
        db.c.delete(GROUP, "abc", None).await,
        Err(ConnectorError::NotFound)
    ));
}

#[tokio::test]
async fn constraint_violations_map_to_connector_errors() {
    let db = db().await;
    db.user("bjensen").await;
    let dup = db.c.create(USER, &new_user("BJensen", &[])).await;
    assert!(
        matches!(dup, Err(ConnectorError::Conflict { field: None, .. })),
        "{dup:?}"
    );
    db.group("admins", &[]).await;
    let dup =
        db.c.create(
            GROUP,
            &NewRecord {
                fields: fields(&[("display_name", "admins")]),
                ..NewRecord::default()
            },
        )
        .await;
    assert!(
        matches!(&dup, Err(ConnectorError::Conflict { field: Some(f), .. }) if f == "display_name"),
        "{dup:?}"
    );
    let dangling = NewRecord {
        fields: fields(&[("user_name", "x"), ("manager_id", "nobody")]),
        ..NewRecord::default()
    };
    let err = db.c.create(USER, &dangling).await;
    assert!(matches!(err, Err(ConnectorError::DanglingReference(_))), "{err:?}");
    let missing = db.c.create(USER, &NewRecord::default()).await;
    assert!(
        matches!(&missing, Err(ConnectorError::InvalidValue { field: Some(f), .. }) if f == "user_name"),
        "{missing:?}"
    );
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM users").await,
        1,
        "failed creates left nothing"
    );
}

#[tokio::test]
async fn sql_metacharacters_are_plain_data() {
    let db = db().await;
    let nasty = [
        "'; DROP TABLE users; --",
        "100%",
        "a_b",
        r"back\slash",
        "[x]*?",
        "\"quoted\"",
    ];
    for (i, v) in nasty.iter().enumerate() {
        let record = NewRecord {
            fields: fields(&[("user_name", &format!("u{i}")), ("title", v)]),
            ..NewRecord::default()
        };
        let u = db.c.create(USER, &record).await.unwrap();
        assert_eq!(u.fields["title"], vec![text(v)]);
    }
    db.user("plain").await;
    let titled = |op, v: &str, ic| Filter::Compare {
        field: FieldRef::Field("title".into()),
        op,
        value: text(v),
        ignore_case: ic,
    };
    for (i, v) in nasty.iter().enumerate() {
        for ic in [false, true] {
            let want = vec![format!("u{i}")];
            assert_eq!(names(&db.c, titled(CompareOp::Eq, v, ic)).await, want, "eq {v}");
            assert_eq!(names(&db.c, titled(CompareOp::Contains, v, ic)).await, want, "co {v}");
            assert_eq!(names(&db.c, titled(CompareOp::StartsWith, v, ic)).await, want, "sw {v}");
            assert_eq!(names(&db.c, titled(CompareOp::EndsWith, v, ic)).await, want, "ew {v}");
        }
    }
    for (wild, want) in [
        ("%", vec!["u1"]),
        ("_", vec!["u2"]),
        ("\\", vec!["u3"]),
        ("*", vec!["u4"]),
        ("?", vec!["u4"]),
    ] {
        for ic in [false, true] {
            assert_eq!(
                names(&db.c, titled(CompareOp::Contains, wild, ic)).await,
                want,
                "co {wild} ic={ic}"
            );
        }
    }
    assert_eq!(db.scalar("SELECT COUNT(*) FROM users").await, 7);
}

#[tokio::test]
async fn negation_and_ne_match_absent_values() {
    let db = db().await;
    let titled = NewRecord {
        fields: fields(&[("user_name", "x"), ("title", "boss")]),
        ..NewRecord::default()
    };
    db.c.create(USER, &titled).await.unwrap();
    db.user("untitled").await;
    let not_boss = Filter::Not(Box::new(eq("title", "boss", false)));
    assert_eq!(names(&db.c, not_boss).await, vec!["untitled"]);
    let ne = Filter::Compare {
        field: FieldRef::Field("title".into()),
        op: CompareOp::Ne,
        value: text("BOSS"),
        ignore_case: true,
    };
    assert_eq!(names(&db.c, ne).await, vec!["untitled"]);
    let not_present = Filter::Not(Box::new(Filter::Present(FieldRef::Field("title".into()))));
    assert_eq!(names(&db.c, not_present).await, vec!["untitled"]);
    let not_or = Filter::Not(Box::new(Filter::Or(vec![
        eq("title", "boss", false),
        eq("title", "other", false),
    ])));
    assert_eq!(names(&db.c, not_or).await, vec!["untitled"]);
}

#[tokio::test]
async fn child_and_related_filters() {
    let db = db().await;
    let a =
        db.c.create(USER, &new_user("a", &[email("a@work.org", "work")]))
            .await
            .unwrap();
    let b =
        db.c.create(USER, &new_user("b", &[email("b@home.org", "home")]))
            .await
            .unwrap();
    let g = db.group("team", &[&a.id]).await;
    let work = Filter::Child {
        child: "emails".into(),
        filter: Box::new(Filter::And(vec![
            eq("type", "WORK", true),
            Filter::Compare {
                field: FieldRef::Field("value".into()),
                op: CompareOp::EndsWith,
                value: text("@WORK.org"),
                ignore_case: true,
            },
        ])),
    };
    assert_eq!(names(&db.c, work).await, vec!["a"]);
    let in_team = Filter::Related {
        relation: "groups".into(),
        ids: Some(vec![g.id.clone()]),
    };
    assert_eq!(names(&db.c, in_team.clone()).await, vec!["a"]);
    assert_eq!(names(&db.c, Filter::Not(Box::new(in_team))).await, vec!["b"]);
    let by_member = Filter::Related {
        relation: "members".into(),
        ids: Some(vec![b.id.clone()]),
    };
    let page = db.c.search(GROUP, &query(by_member, offset(0, 10))).await.unwrap();
    assert!(page.records.is_empty());
    let id_eq = Filter::Compare {
        field: FieldRef::Id,
        op: CompareOp::Eq,
        value: text(&g.id),
        ignore_case: false,
    };
    assert_eq!(
        db.c.search(GROUP, &query(id_eq, offset(0, 10)))
            .await
            .unwrap()
            .records
            .len(),
        1
    );
}

#[tokio::test]
async fn explain_shows_the_statements() {
    let db = db().await;
    let record = NewRecord {
        fields: fields(&[("user_name", "bjensen")]),
        children: BTreeMap::from([("emails".to_owned(), vec![email("b@x", "work")])]),
        ..NewRecord::default()
    };
    let lines = db.c.explain(USER, &Operation::Create(&record)).unwrap();
    assert_eq!(
        lines[0],
        r#"INSERT INTO "users" ("id", "user_name", "version", "created_at", "updated_at") VALUES (?, ?, ?, ?, ?) -- params: ["<generated uuid>", "bjensen", 1, "<now>", "<now>"]"#
    );
    assert_eq!(
        lines[1],
        r#"INSERT INTO "user_emails" ("user_id", "value", "type") VALUES (?, ?, ?) -- params: ["<generated uuid>", "b@x", "work"]"#
    );
    // The read-back is one statement with the emails and groups as JSON columns.
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert!(
        lines[2].starts_with(r#"SELECT t."id", "#)
            && lines[2].contains(r#"AS "__child_emails""#)
            && lines[2].contains(r#"AS "__rel_groups""#)
            && lines[2].ends_with(r#"WHERE t."id" = ? AND (retired_at IS NULL) -- params: ["<generated uuid>"]"#),
        "{}",
        lines[2]
    );

    let q = Query {
        read: all(),
        want_total: true,
        ..query(eq("user_name", "x", true), offset(0, 10))
    };
    let lines = db.c.explain(USER, &Operation::Search(&q)).unwrap();
    // Page, children, relations and total in one statement; the filter is bound twice
    // (the count, then the page).
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(
        lines[0].contains(r#"SELECT COUNT(*) AS "__total""#)
            && lines[0].contains("LIMIT 10 OFFSET 0) AS p")
            && lines[0].ends_with(r#"ORDER BY p."id" ASC -- params: ["x", "x"]"#),
        "{}",
        lines[0]
    );

    let change = ChangeSet {
        fields: fields(&[("title", "t")]),
        ..ChangeSet::default()
    };
    let lines =
        db.c.explain(
            USER,
            &Operation::Modify {
                id: "u1",
                changes: &change,
                expected_version: Some("4"),
            },
        )
        .unwrap();
    assert_eq!(
        lines,
        vec![
            r#"UPDATE "users" AS t SET "title" = ?, "version" = "version" + 1, "updated_at" = ? WHERE t."id" = ? AND (retired_at IS NULL) AND t."version" = ? -- params: ["t", "<now>", "u1", 4]"#
        ]
    );
    let lines = db.c.explain(GROUP, &Operation::Delete { id: "5" }).unwrap();
    assert_eq!(
        lines,
        vec![
            r#"DELETE FROM "group_members" WHERE "group_id" = ? -- params: [5]"#,
            r#"DELETE FROM "group_members" WHERE "member_id" = ? -- params: [5]"#,
            r#"DELETE FROM "groups" AS t WHERE t."id" = ? -- params: [5]"#,
        ]
    );
    // Explaining runs nothing.
    assert_eq!(db.scalar("SELECT COUNT(*) FROM users").await, 0);
}

#[tokio::test]
async fn offline_build_explains_without_a_database() {
    let cfg = config("sqlite:/nonexistent/dir/x.db".into());
    let c = build_offline(&cfg, entities()).unwrap();
    let lines = c.explain(GROUP, &Operation::Delete { id: "x" }).unwrap();
    assert!(lines[0].starts_with("-- no statement"), "{lines:?}");
    assert!(matches!(c.health().await, Err(ConnectorError::Unavailable(_))));
    let err = build(&cfg, entities()).await.err().unwrap();
    assert!(matches!(err, ConnectorError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn build_rejects_other_dialects_and_bad_identifiers() {
    let err = build(&config("postgres://u:pw@localhost/db".into()), entities())
        .await
        .err()
        .unwrap();
    assert!(
        matches!(&err, ConnectorError::Unsupported(m) if m == "the postgres dialect is not built into this binary yet"),
        "{err:?}"
    );
    let mut bad = entities();
    bad[0].1.table = "users; DROP TABLE x".into();
    bad[1].0.fields.push("display name".into());
    let problems = validate(&config("sqlite::memory:".into()), &bad);
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(validate(&config("sqlite::memory:".into()), &entities()).is_empty());
}

#[tokio::test]
async fn in_memory_database_and_health() {
    let c = build(&config("sqlite::memory:".into()), entities()).await.unwrap();
    c.health().await.unwrap();
    let u = c.create(USER, &new_user("mem", &[])).await.unwrap();
    assert!(c.get(USER, &u.id, &ReadSet::default()).await.unwrap().is_some());
    assert!(c.capabilities(USER).native_version_check);
    assert!(c.unsupported(USER, &eq("user_name", "x", true)).is_empty());
    assert_eq!(
        c.unsupported(USER, &Filter::And(vec![eq("nope", "x", false), Filter::True]))
            .len(),
        1
    );
}

#[tokio::test]
async fn a_locked_database_reports_busy_or_timeout() {
    let path = std::env::temp_dir().join(format!("scimgate-sql-{}.db", uuid::Uuid::new_v4()));
    let mut cfg = config(format!("sqlite:{}?mode=rwc", path.display()));
    cfg.statement_timeout_ms = 300;
    let db = Db {
        c: build(&cfg, entities()).await.unwrap(),
        path,
    };
    let u = db.user("a").await;
    let mut locker = db.c.pool.as_ref().unwrap().begin_with("BEGIN IMMEDIATE").await.unwrap();
    sqlx::query("UPDATE users SET title = 'locked'")
        .execute(&mut *locker)
        .await
        .unwrap();
    let change = ChangeSet {
        fields: fields(&[("title", "t")]),
        ..ChangeSet::default()
    };
    let err = db.c.modify(USER, &u.id, &change, None).await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::Busy(_) | ConnectorError::Timeout(_)),
        "{err:?}"
    );
    locker.rollback().await.unwrap();
    db.c.modify(USER, &u.id, &change, None).await.unwrap();
}

#[test]
fn sqlite_codes_map_to_error_kinds() {
    let unique = map_sqlite_code(2067, "UNIQUE constraint failed: users.user_name");
    assert!(matches!(unique, ConnectorError::Conflict { field: Some(f), .. } if f == "user_name"));
    let index = map_sqlite_code(2067, "UNIQUE constraint failed: index 'users_user_name'");
    assert!(matches!(index, ConnectorError::Conflict { field: None, .. }));
    let pair = map_sqlite_code(
        1555,
        "UNIQUE constraint failed: group_members.group_id, group_members.member_id",
    );
    assert!(matches!(pair, ConnectorError::Conflict { field: None, .. }));
    assert!(matches!(
        map_sqlite_code(275, "CHECK constraint failed: x"),
        ConnectorError::InvalidValue { .. }
    ));
    assert!(matches!(
        map_sqlite_code(787, "FOREIGN KEY constraint failed"),
        ConnectorError::DanglingReference(_)
    ));
    assert!(matches!(
        map_sqlite_code(5, "database is locked"),
        ConnectorError::Busy(_)
    ));
    assert!(matches!(
        map_sqlite_code(517, "database is locked"),
        ConnectorError::Busy(_)
    ));
    assert!(matches!(
        map_sqlite_code(14, "unable to open database file"),
        ConnectorError::Unavailable(_)
    ));
    assert!(matches!(
        map_sqlite_code(1, "no such table: x"),
        ConnectorError::Backend(_)
    ));
    assert!(matches!(
        map_sqlx(sqlx::Error::PoolTimedOut),
        ConnectorError::Unavailable(_)
    ));
}

#[test]
fn cursors_round_trip() {
    assert_eq!(encode_keyset(Some("ü-1")), "kc3bc2d31");
    assert_eq!(decode_keyset("c3bc2d31").unwrap().as_deref(), Some("ü-1"));
    assert_eq!(decode_keyset("").unwrap(), None);
    assert!(decode_keyset("ff").is_err(), "not UTF-8");
}

#[tokio::test]
async fn a_create_outside_the_scope_is_rolled_back() {
    let path = std::env::temp_dir().join(format!("scimgate-sql-{}.db", uuid::Uuid::new_v4()));
    let mut cfg = config(format!("sqlite:{}?mode=rwc", path.display()));
    cfg.init
        .push("ALTER TABLE users ADD COLUMN tenant TEXT DEFAULT 'other'".into());
    let mut ents = entities();
    ents[0].1.scope = Some("t.tenant = 'acme'".into());
    let db = Db {
        c: build(&cfg, ents).await.unwrap(),
        path,
    };
    let err =
        db.c.create(USER, &new_user("a", &[email("a@x", "work")]))
            .await
            .unwrap_err();
    assert!(err.to_string().contains("outside the mapping's scope"), "{err}");
    assert_eq!(db.scalar("SELECT COUNT(*) FROM users").await, 0);
    assert_eq!(db.scalar("SELECT COUNT(*) FROM user_emails").await, 0);
}

/// The quickstart schema as `app` passes it: one file, many statements, in one `init`
/// entry; run twice, as on every start.
#[tokio::test]
async fn quickstart_schema_and_mappings() {
    let path = std::env::temp_dir().join(format!("scimgate-sql-{}.db", uuid::Uuid::new_v4()));
    let mut cfg = config(format!("sqlite:{}?mode=rwc", path.display()));
    cfg.init = vec![include_str!("../../../mappings/quickstart/schema.sql").to_owned()];
    let mut ents = entities();
    ents[0].0.fields = ["user_name", "title", "active", "manager_id"]
        .map(String::from)
        .to_vec();
    ents[0].1.scope = None;
    ents[1].1 = toml::from_str(
        r#"
        table = "groups"
        id = { to = "id", generated = "uuid" }
        version = "version"
        created = "created_at"
        modified = "updated_at"
        "#,
    )
    .unwrap();
    ents[1].0.relations[0].targets = vec![USER];
    drop(build(&cfg, ents.clone()).await.unwrap());
    let db = Db {
        c: build(&cfg, ents).await.unwrap(),
        path,
    };
    let record = NewRecord {
        fields: Fields::from([
            ("user_name".to_owned(), vec![text("bjensen")]),
            ("active".to_owned(), vec![Value::Bool(true)]),
        ]),
        children: BTreeMap::from([("emails".to_owned(), vec![email("b@x", "work")])]),
        ..NewRecord::default()
    };
    let u = db.c.create(USER, &record).await.unwrap();
    assert_eq!(
        u.fields["active"],
        vec![Value::Int(1)],
        "booleans read back as integers"
    );
    let g = db.group("admins", &[&u.id]).await;
    assert!(uuid::Uuid::parse_str(&g.id).is_ok());
    let dup =
        db.c.create(
            GROUP,
            &NewRecord {
                fields: fields(&[("display_name", "ADMINS")]),
                ..NewRecord::default()
            },
        )
        .await;
    assert!(matches!(dup, Err(ConnectorError::Conflict { .. })), "{dup:?}");
    let stranger = ChangeSet {
        relations: BTreeMap::from([(
            "members".to_owned(),
            RelationDelta {
                add: vec!["nobody".into()],
                ..RelationDelta::default()
            },
        )]),
        ..ChangeSet::default()
    };
    let err = db.c.modify(GROUP, &g.id, &stranger, None).await;
    assert!(matches!(err, Err(ConnectorError::DanglingReference(_))), "{err:?}");
    db.c.delete(USER, &u.id, None).await.unwrap();
    assert_eq!(db.members(&g.id).await, Vec::<String>::new());
}

/// Child values of every SQLite storage class, NULLs, JSON metacharacters and order survive
/// the JSON aggregation, in `get` and in `search`.
#[tokio::test]
async fn aggregated_children_keep_types_nulls_and_order() {
    let db = db().await;
    let u = db.user("typed").await;
    let g1 = db.group("g1", &[]).await;
    let g2 = db.group("g2", &[]).await;
    let g3 = db.group("g3", &[]).await;
    // Inserted out of id order: insertion order is what reads back.
    for g in [&g3, &g1, &g2] {
        db.raw(&format!(
            "INSERT INTO group_members (group_id, member_id) VALUES ({}, '{}')",
            g.id, u.id
        ))
        .await;
    }
    let rows = [
        // value, type, is_primary
        (r#"'say "hi"]'"#, "'ü ✓ 𝄞'", "1"),
        ("'a],[\"b\\'", "NULL", "NULL"),
        ("'z'", "x'00ff5b22'", "2.5"),
        ("'[1,2]'", "'{\"k\": 1}'", "0.30000000000000004"),
        ("'nul'", "x''", "-9223372036854775808"),
        ("'y'", "'null'", "1e300"),
    ];
    for (value, kind, primary) in rows {
        db.raw(&format!(
            "INSERT INTO user_emails (user_id, value, type, is_primary) VALUES ('{}', {value}, {kind}, {primary})",
            u.id
        ))
        .await;
    }
    let row = |pairs: Vec<(&str, Value)>| -> Row { pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect() };
    let expected = vec![
        row(vec![
            ("value", text(r#"say "hi"]"#)),
            ("type", text("ü ✓ 𝄞")),
            ("is_primary", Value::Int(1)),
        ]),
        row(vec![("value", text("a],[\"b\\"))]),
        row(vec![
            ("value", text("z")),
            ("type", Value::Bytes(vec![0, 255, b'[', b'"'])),
            ("is_primary", Value::Float(2.5)),
        ]),
        row(vec![
            ("value", text("[1,2]")),
            ("type", text(r#"{"k": 1}"#)),
            ("is_primary", Value::Float(0.1 + 0.2)),
        ]),
        row(vec![
            ("value", text("nul")),
            ("type", Value::Bytes(vec![])),
            ("is_primary", Value::Int(i64::MIN)),
        ]),
        row(vec![
            ("value", text("y")),
            ("type", text("null")),
            ("is_primary", Value::Float(1e300)),
        ]),
    ];
    let got = db.c.get(USER, &u.id, &all()).await.unwrap().unwrap();
    assert_eq!(got.children["emails"], expected);
    assert_eq!(
        got.relations["groups"],
        vec![g3.id.clone(), g1.id.clone(), g2.id.clone()]
    );

    let q = Query {
        read: all(),
        want_total: true,
        ..query(eq("user_name", "typed", false), offset(0, 10))
    };
    let page = db.c.search(USER, &q).await.unwrap();
    assert_eq!(page.total, Some(1));
    assert_eq!(page.records.len(), 1);
    assert_eq!(page.records[0], got);

    // Groups list their (text) member ids the same way.
    assert_eq!(db.members(&g1.id).await, vec![u.id.clone()]);
}

/// A sorted search computes the JSON columns for the page's rows only, and returns rows
/// in the sort order with their own children.
#[tokio::test]
async fn sorted_pages_with_children() {
    let db = db().await;
    for name in ["d", "b", "e", "a", "c"] {
        db.c.create(
            USER,
            &new_user(
                name,
                &[email(&format!("{name}@1"), "work"), email(&format!("{name}@2"), "home")],
            ),
        )
        .await
        .unwrap();
    }
    for descending in [false, true] {
        let q = Query {
            sort: Some(SortKey {
                field: FieldRef::Field("user_name".into()),
                descending,
                ignore_case: false,
            }),
            read: all(),
            want_total: true,
            ..query(Filter::True, offset(1, 3))
        };
        let page = db.c.search(USER, &q).await.unwrap();
        let names: Vec<String> = page
            .records
            .iter()
            .map(|r| r.fields["user_name"][0].as_text().unwrap().to_owned())
            .collect();
        let want = if descending { ["d", "c", "b"] } else { ["b", "c", "d"] };
        assert_eq!(names, want);
        for (r, n) in page.records.iter().zip(want) {
            assert_eq!(
                r.children["emails"],
                vec![email(&format!("{n}@1"), "work"), email(&format!("{n}@2"), "home")]
            );
        }
        assert_eq!(page.total, Some(5));
    }
}
