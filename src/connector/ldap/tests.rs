//! Live tests against a throwaway slapd (one per test, killed by pid on drop). Skipped with
//! a message when `/usr/sbin/slapd` is missing. The main integration suite is `tests/ldap`.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::*;
use crate::connector::{CompareOp, Filter, ReferenceSpec, RelationDelta, RelationSpec, SortKey as QuerySort};

const SUFFIX: &str = "dc=example,dc=org";
const ADMIN: &str = "cn=admin,dc=example,dc=org";
const PW: &str = "secret";
const PLACEHOLDER: &str = "cn=empty,dc=example,dc=org";
const UUID: &str = "6b29fc40-ca47-1067-b31d-00dd010662da";
const USERS: EntityId = EntityId(0);
const GROUPS: EntityId = EntityId(1);

struct Slapd {
    child: Child,
    /// `host:port`. Each server gets its own loopback address (127.0.x.y), so a port freed
    /// and reused by a parallel test's server can never be mistaken for this one.
    addr: String,
    _dir: tempfile::TempDir,
}

impl Drop for Slapd {
    fn drop(&mut self) {
        // SIGTERM to this pid only, then reap it.
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
    }
}

fn config_ldif(dir: &Path) -> String {
    let d = dir.display();
    format!(
        "dn: cn=config\nobjectClass: olcGlobal\ncn: config\nolcPidFile: {d}/slapd.pid\nolcLogLevel: none\n\n\
         dn: cn=module{{0}},cn=config\nobjectClass: olcModuleList\ncn: module{{0}}\nolcModulePath: /usr/lib/ldap\n\
         olcModuleLoad: back_mdb\nolcModuleLoad: memberof\nolcModuleLoad: refint\nolcModuleLoad: sssvlv\n\n\
         dn: cn=schema,cn=config\nobjectClass: olcSchemaConfig\ncn: schema\n\n\
         include: file:///etc/ldap/schema/core.ldif\n\ninclude: file:///etc/ldap/schema/cosine.ldif\n\n\
         include: file:///etc/ldap/schema/inetorgperson.ldif\n\n\
         dn: olcDatabase={{-1}}frontend,cn=config\nobjectClass: olcDatabaseConfig\nobjectClass: olcFrontendConfig\n\
         olcDatabase: {{-1}}frontend\n\n\
         dn: olcDatabase={{1}}mdb,cn=config\nobjectClass: olcDatabaseConfig\nobjectClass: olcMdbConfig\n\
         olcDatabase: {{1}}mdb\nolcSuffix: {SUFFIX}\nolcDbDirectory: {d}/data\nolcRootDN: {ADMIN}\nolcRootPW: {PW}\n\
         olcDbMaxSize: 1073741824\nolcDbNoSync: TRUE\nolcDbIndex: objectClass eq\nolcDbIndex: uid eq,sub\n\
         olcDbIndex: cn eq,sub\nolcDbIndex: member eq\nolcDbIndex: memberOf eq\nolcDbIndex: entryUUID eq\n\n\
         dn: olcOverlay={{0}}memberof,olcDatabase={{1}}mdb,cn=config\nobjectClass: olcOverlayConfig\n\
         objectClass: olcMemberOf\nolcOverlay: {{0}}memberof\nolcMemberOfRefInt: TRUE\n\
         olcMemberOfGroupOC: groupOfNames\nolcMemberOfMemberAD: member\nolcMemberOfMemberOfAD: memberOf\n\n\
         dn: olcOverlay={{1}}refint,olcDatabase={{1}}mdb,cn=config\nobjectClass: olcOverlayConfig\n\
         objectClass: olcRefintConfig\nolcOverlay: {{1}}refint\nolcRefintAttribute: member\n\n\
         dn: olcOverlay={{2}}sssvlv,olcDatabase={{1}}mdb,cn=config\nobjectClass: olcOverlayConfig\n\
         objectClass: olcSssVlvConfig\nolcOverlay: {{2}}sssvlv\n"
    )
}

fn seed() -> String {
    format!(
        "dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n\n\
         dn: ou=people,{SUFFIX}\nobjectClass: organizationalUnit\nou: people\n\n\
         dn: ou=groups,{SUFFIX}\nobjectClass: organizationalUnit\nou: groups\n\n\
         dn: {PLACEHOLDER}\nobjectClass: organizationalRole\ncn: empty\n"
    )
}

fn start() -> Option<Slapd> {
    if !Path::new("/usr/sbin/slapd").exists() {
        eprintln!("SKIPPED: /usr/sbin/slapd is not installed");
        return None;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    std::fs::create_dir_all(root.join("slapd.d")).unwrap();
    std::fs::create_dir_all(root.join("data")).unwrap();
    std::fs::write(root.join("config.ldif"), config_ldif(root)).unwrap();
    std::fs::write(root.join("seed.ldif"), seed()).unwrap();
    for (db, file) in [("0", "config.ldif"), ("1", "seed.ldif")] {
        let out = Command::new("/usr/sbin/slapadd")
            .args(["-q", "-n", db, "-F"])
            .arg(root.join("slapd.d"))
            .arg("-l")
            .arg(root.join(file))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "slapadd -n {db}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for _ in 0..5 {
        let id = uuid::Uuid::new_v4();
        let host = format!("127.0.{}.{}", id.as_bytes()[0], id.as_bytes()[1].max(1));
        let port = TcpListener::bind((host.as_str(), 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("{host}:{port}");
        let mut child = Command::new("/usr/sbin/slapd")
            .arg("-F")
            .arg(root.join("slapd.d"))
            .args(["-h", &format!("ldap://{addr}/"), "-d", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            if TcpStream::connect(addr.as_str()).is_ok() {
                return Some(Slapd { child, addr, _dir: dir });
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = Command::new("kill").arg(child.id().to_string()).status();
        let _ = child.wait();
    }
    panic!("slapd did not start");
}

fn connector_config(addr: &str, page_size: i32) -> LdapConnectorConfig {
    toml::from_str(&format!(
        r#"
        url = "ldap://{addr}"
        bind_dn = "{ADMIN}"
        bind_password = "{PW}"
        page_size = {page_size}
        pool_size = 2
        "#
    ))
    .unwrap()
}

fn entities() -> Vec<(EntitySpec, LdapEntityConfig)> {
    let users = EntitySpec {
        name: "User".into(),
        fields: ["uid", "cn", "sn", "mail", "title", "manager", "userPassword"]
            .map(String::from)
            .to_vec(),
        relations: vec![RelationSpec {
            name: "groups".into(),
            targets: vec![GROUPS],
            attribute: Some("memberOf".into()),
            table: None,
            key: None,
            value: None,
            set: Default::default(),
            empty: None,
        }],
        references: vec![ReferenceSpec {
            field: "manager".into(),
            targets: vec![USERS],
        }],
        children: vec![],
        errors: Default::default(),
    };
    let groups = EntitySpec {
        name: "Group".into(),
        fields: ["cn", "description"].map(String::from).to_vec(),
        relations: vec![RelationSpec {
            name: "members".into(),
            targets: vec![USERS, GROUPS],
            attribute: Some("member".into()),
            table: None,
            key: None,
            value: None,
            set: Default::default(),
            empty: Some(PLACEHOLDER.into()),
        }],
        references: vec![],
        children: vec![],
        errors: Default::default(),
    };
    let part = |base: &str, scope: &str, classes: &str, rdn: &str, password: &str| -> LdapEntityConfig {
        toml::from_str(&format!(
            r#"
            base = "{base},{SUFFIX}"
            scope = "{scope}"
            create_classes = [{classes}]
            rdn = "{rdn}"
            id = "entryUUID"
            version = "entryCSN"
            created = "createTimestamp"
            modified = "modifyTimestamp"
            password = "{password}"
            "#
        ))
        .unwrap()
    };
    vec![
        (
            users,
            part(
                "ou=people",
                "(objectClass=inetOrgPerson)",
                r#""top", "person", "organizationalPerson", "inetOrgPerson""#,
                "uid",
                "exop",
            ),
        ),
        (
            groups,
            part(
                "ou=groups",
                "(objectClass=groupOfNames)",
                r#""top", "groupOfNames""#,
                "cn",
                "attribute",
            ),
        ),
    ]
}

async fn connect(slapd: &Slapd, page_size: i32) -> LdapConnector {
    build_connector(&connector_config(&slapd.addr, page_size), entities())
        .await
        .unwrap_or_else(|e| panic!("build: {e}"))
}

fn text(s: &str) -> Vec<Value> {
    vec![Value::Text(s.to_owned())]
}

fn user(uid: &str) -> NewRecord {
    let mut r = NewRecord::default();
    r.fields.insert("uid".into(), text(uid));
    r.fields.insert("cn".into(), text(&format!("{uid} cn")));
    r.fields.insert("sn".into(), text("Doe"));
    r
}

fn group(name: &str, members: &[&str]) -> NewRecord {
    let mut r = NewRecord::default();
    r.fields.insert("cn".into(), text(name));
    r.relations
        .insert("members".into(), members.iter().map(|m| m.to_string()).collect());
    r
}

fn members() -> ReadSet {
    ReadSet {
        relations: ["members".to_owned()].into(),
        ..ReadSet::default()
    }
}

fn ops_since(c: &LdapConnector, mark: usize) -> Vec<String> {
    c.log.lock().unwrap()[mark..].to_vec()
}

fn mark(c: &LdapConnector) -> usize {
    c.log.lock().unwrap().len()
}

fn eq(field: &str, v: &str) -> Filter {
    Filter::Compare {
        field: FieldRef::Field(field.into()),
        op: CompareOp::Eq,
        value: Value::Text(v.into()),
        ignore_case: true,
    }
}

fn query(filter: Filter, page: PageRequest) -> Query {
    Query {
        filter,
        sort: None,
        page,
        read: ReadSet::default(),
        want_total: true,
    }
}

#[tokio::test]
async fn crud_rename_and_errors() {
    let Some(slapd) = start() else { return };
    let c = connect(&slapd, 500).await;
    let caps = c.capabilities(USERS).clone();
    assert!(caps.cursor_paging && caps.offset_paging && caps.total && !caps.transactions);
    assert!(caps.sort, "sssvlv is loaded: {:?}", c.root);
    assert!(caps.native_version_check, "slapd 2.5 offers the assertion control");
    c.health().await.unwrap();

    let ann = c.create(USERS, &user("ann")).await.unwrap();
    assert!(ad::is_uuid(&ann.id), "{}", ann.id);
    assert_eq!(ann.fields["uid"], text("ann"));
    assert!(ann.meta.version.is_some());
    let created = ann.meta.created.as_ref().and_then(Value::as_text).unwrap();
    assert!(created.ends_with('Z') && created.contains('T'), "{created}");

    // An id that cannot be a key never reaches the directory.
    let m = mark(&c);
    assert!(c.get(USERS, "not-a-uuid", &ReadSet::default()).await.unwrap().is_none());
    assert!(ops_since(&c, m).is_empty());
    assert!(matches!(
        c.modify(USERS, "nope", &ChangeSet::default(), None).await,
        Err(ConnectorError::NotFound)
    ));

    // A minimal modify: exactly one replace, nothing else touched.
    let mut ch = ChangeSet::default();
    ch.fields.insert("mail".into(), text("ann@example.org"));
    ch.fields.insert("title".into(), vec![]);
    let m = mark(&c);
    c.modify(USERS, &ann.id, &ch, None).await.unwrap();
    let sent = ops_since(&c, m);
    let modify = sent.iter().find(|o| o.contains("changetype: modify")).unwrap();
    assert!(
        modify.ends_with("changetype: modify\nreplace: mail\nmail: ann@example.org\n-\nreplace: title\n-"),
        "{modify}"
    );
    let got = c.get(USERS, &ann.id, &ReadSet::default()).await.unwrap().unwrap();
    assert_eq!(got.fields["mail"], text("ann@example.org"));
    assert!(!got.fields.contains_key("title"));

    // Versions: a stale one is refused by the server (assertion control), the current passes.
    let mut ch = ChangeSet::default();
    ch.fields.insert("title".into(), text("Boss"));
    assert!(matches!(
        c.modify(USERS, &ann.id, &ch, Some("20000101000000.000000Z#000000#000#000000"))
            .await,
        Err(ConnectorError::VersionMismatch)
    ));
    c.modify(USERS, &ann.id, &ch, got.meta.version.as_deref())
        .await
        .unwrap();

    // Errors: duplicate DN, bad syntax, a password over plain LDAP.
    assert!(matches!(
        c.create(USERS, &user("ann")).await,
        Err(ConnectorError::Conflict { field: Some(f), .. }) if f == "uid"
    ));
    let mut bad = user("bad");
    bad.fields.insert("mail".into(), text("ä@x"));
    match c.create(USERS, &bad).await {
        Err(ConnectorError::InvalidValue { field, .. }) => assert_eq!(field.as_deref(), Some("mail")),
        other => panic!("{other:?}"),
    }
    let mut pw = user("pw");
    pw.fields.insert("userPassword".into(), text("Secret123!"));
    assert!(matches!(c.create(USERS, &pw).await, Err(ConnectorError::Forbidden(_))));
    assert!(
        c.search(
            USERS,
            &query(eq("uid", "pw"), PageRequest::Offset { offset: 0, count: 10 })
        )
        .await
        .unwrap()
        .records
        .is_empty(),
        "nothing written"
    );

    // Managers: a reference is written as a DN and read back as the id.
    let mut bob = user("bob");
    bob.fields.insert("manager".into(), text(&ann.id));
    let bob = c.create(USERS, &bob).await.unwrap();
    assert_eq!(bob.fields["manager"], text(&ann.id));
    let found = c
        .search(
            USERS,
            &query(
                Filter::Compare {
                    field: FieldRef::Field("manager".into()),
                    op: CompareOp::Eq,
                    value: Value::Text(ann.id.clone()),
                    ignore_case: false,
                },
                PageRequest::Offset { offset: 0, count: 10 },
            ),
        )
        .await
        .unwrap();
    assert_eq!(found.records.len(), 1);
    assert_eq!(found.records[0].id, bob.id);

    // A group named with every DN special: create, read, rename, delete.
    let name = "Sales, EMEA + APAC";
    let g = c.create(GROUPS, &group(name, &[])).await.unwrap();
    assert_eq!(g.fields["cn"], text(name));
    assert_eq!(
        g.relations["members"],
        Vec::<String>::new(),
        "the placeholder is no member"
    );
    let mut ch = ChangeSet::default();
    ch.fields.insert("cn".into(), text("#Sales; <EMEA> \"x\" = y "));
    let m = mark(&c);
    c.modify(GROUPS, &g.id, &ch, None).await.unwrap();
    assert!(ops_since(&c, m).iter().any(|o| o.contains("changetype: modrdn")));
    let renamed = c.get(GROUPS, &g.id, &members()).await.unwrap().unwrap();
    assert_eq!(renamed.fields["cn"], text("#Sales; <EMEA> \"x\" = y "));
    c.delete(GROUPS, &g.id, None).await.unwrap();
    assert!(c.get(GROUPS, &g.id, &members()).await.unwrap().is_none());
    assert!(matches!(
        c.delete(GROUPS, &g.id, None).await,
        Err(ConnectorError::NotFound)
    ));

    // Plaintext allowed: the password goes by the Password Modify exop, never as text.
    let mut cfg = connector_config(&slapd.addr, 500);
    cfg.allow_plaintext_passwords = true;
    let c2 = build_connector(&cfg, entities()).await.unwrap();
    let m = mark(&c2);
    let pw = c2.create(USERS, &pw).await.unwrap();
    let sent = ops_since(&c2, m).join("\n");
    assert!(sent.contains("extended 1.3.6.1.4.1.4203.1.11.1 on uid=pw,ou=people,dc=example,dc=org"));
    assert!(!sent.contains("Secret123!"));
    let (conn, mut ldap) = ldap3::LdapConnAsync::new(&cfg.url).await.unwrap();
    tokio::spawn(conn.drive());
    let bound = ldap
        .simple_bind("uid=pw,ou=people,dc=example,dc=org", "Secret123!")
        .await
        .unwrap();
    assert_eq!(bound.rc, 0, "the exop set the password");
    assert!(!pw.fields.contains_key("userPassword"), "write-only");
}

#[tokio::test]
async fn membership_deltas_and_placeholder() {
    let Some(slapd) = start() else { return };
    let c = connect(&slapd, 500).await;
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(c.create(USERS, &user(&format!("m{i}"))).await.unwrap().id);
    }
    let g = c.create(GROUPS, &group("team", &[&ids[0], &ids[1]])).await.unwrap();
    let mut got = g.relations["members"].clone();
    got.sort();
    let mut want = vec![ids[0].clone(), ids[1].clone()];
    want.sort();
    assert_eq!(got, want);

    let delta = |add: &[&String], remove: &[&String], remove_all: bool| {
        let mut ch = ChangeSet::default();
        ch.relations.insert(
            "members".into(),
            RelationDelta {
                remove_all,
                add: add.iter().map(|s| s.to_string()).collect(),
                remove: remove.iter().map(|s| s.to_string()).collect(),
            },
        );
        ch
    };
    // Idempotent add and remove: slapd 2.5 offers no Permissive Modify, so a modify that
    // meets an existing member (20) or an absent one (16) is retried one value each; the
    // number of operations depends on the delta only.
    let permissive = c.root.control(oid::PERMISSIVE_MODIFY);
    let m = mark(&c);
    c.modify(GROUPS, &g.id, &delta(&[&ids[1], &ids[2]], &[&ids[5]], false), None)
        .await
        .unwrap();
    let writes = ops_since(&c, m)
        .iter()
        .filter(|o| o.contains("changetype: modify"))
        .count();
    assert_eq!(writes, if permissive { 1 } else { 4 });
    // A plain delta is one modify (plus one compare for the placeholder).
    let m = mark(&c);
    c.modify(GROUPS, &g.id, &delta(&[&ids[3]], &[&ids[1]], false), None)
        .await
        .unwrap();
    let sent = ops_since(&c, m);
    assert_eq!(
        sent.iter().filter(|o| o.contains("changetype: modify")).count(),
        1,
        "{sent:?}"
    );
    c.modify(GROUPS, &g.id, &delta(&[&ids[1]], &[&ids[3]], false), None)
        .await
        .unwrap();
    let got = c.get(GROUPS, &g.id, &members()).await.unwrap().unwrap();
    assert_eq!(got.relations["members"].len(), 3);

    // The user side: memberOf, and a Related filter.
    let u = c
        .get(
            USERS,
            &ids[2],
            &ReadSet {
                relations: ["groups".to_owned()].into(),
                ..ReadSet::default()
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(u.relations["groups"], vec![g.id.clone()]);
    let related = c
        .search(
            GROUPS,
            &query(
                Filter::Related {
                    relation: "members".into(),
                    ids: Some(vec![ids[2].clone(), "6b29fc40-ca47-1067-b31d-00dd010662da".into()]),
                },
                PageRequest::Offset { offset: 0, count: 10 },
            ),
        )
        .await
        .unwrap();
    assert_eq!(related.records.len(), 1);

    // Removing every member brings the placeholder back; a new member removes it.
    c.modify(GROUPS, &g.id, &delta(&[], &[&ids[0], &ids[1], &ids[2]], false), None)
        .await
        .unwrap();
    let got = c.get(GROUPS, &g.id, &members()).await.unwrap().unwrap();
    assert!(got.relations["members"].is_empty());
    c.modify(GROUPS, &g.id, &delta(&[&ids[3]], &[], false), None)
        .await
        .unwrap();
    let got = c.get(GROUPS, &g.id, &members()).await.unwrap().unwrap();
    assert_eq!(got.relations["members"], vec![ids[3].clone()]);
    c.modify(GROUPS, &g.id, &delta(&[], &[], true), None).await.unwrap();
    let got = c.get(GROUPS, &g.id, &members()).await.unwrap().unwrap();
    assert!(got.relations["members"].is_empty());

    // Excluded members are never fetched.
    let m = mark(&c);
    c.get(GROUPS, &g.id, &ReadSet::default()).await.unwrap().unwrap();
    assert!(
        ops_since(&c, m)
            .iter()
            .all(|o| !o.contains("member]") && !o.contains(" member,"))
    );

    // A deleted user leaves no membership (refint) and dangling DNs are omitted anyway.
    c.modify(GROUPS, &g.id, &delta(&[&ids[4]], &[], false), None)
        .await
        .unwrap();
    c.delete(USERS, &ids[4], None).await.unwrap();
    let got = c.get(GROUPS, &g.id, &members()).await.unwrap().unwrap();
    assert!(got.relations["members"].is_empty());
}

#[tokio::test]
async fn paging_totals_sort_and_cursors() {
    let Some(slapd) = start() else { return };
    // A small LDAP page size: every read crosses several pages.
    let c = connect(&slapd, 4).await;
    for i in 0..23 {
        c.create(USERS, &user(&format!("p{i:02}"))).await.unwrap();
    }
    let all = Filter::Compare {
        field: FieldRef::Field("uid".into()),
        op: CompareOp::StartsWith,
        value: Value::Text("p".into()),
        ignore_case: true,
    };
    let page = c
        .search(
            USERS,
            &query(all.clone(), PageRequest::Offset { offset: 20, count: 10 }),
        )
        .await
        .unwrap();
    assert_eq!(page.records.len(), 3);
    assert_eq!(page.total, Some(23));
    let page = c
        .search(USERS, &query(all.clone(), PageRequest::Offset { offset: 5, count: 6 }))
        .await
        .unwrap();
    assert_eq!(page.records.len(), 6);
    assert_eq!(page.total, Some(23));

    // Sorted, descending.
    let mut q = query(all.clone(), PageRequest::Offset { offset: 0, count: 3 });
    q.sort = Some(QuerySort {
        field: FieldRef::Field("uid".into()),
        descending: true,
        ignore_case: false,
    });
    let sorted = c.search(USERS, &q).await.unwrap();
    let uids: Vec<Value> = sorted.records.iter().map(|r| r.fields["uid"][0].clone()).collect();
    assert_eq!(uids, [text("p22"), text("p21"), text("p20")].concat());

    // Cursor paging through live sessions; the last page has no cursor.
    let mut seen = BTreeSet::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let mut q = query(
            all.clone(),
            PageRequest::Cursor {
                cursor: cursor.clone(),
                count: 7,
            },
        );
        q.want_total = false;
        let p = c.search(USERS, &q).await.unwrap();
        pages += 1;
        for r in &p.records {
            assert!(seen.insert(r.id.clone()), "duplicate {}", r.id);
        }
        match p.next_cursor {
            Some(n) => cursor = Some(n),
            None => break,
        }
        assert!(pages < 10);
    }
    assert_eq!(seen.len(), 23);
    assert_eq!(pages, 4);

    // A cursor whose session is gone (another instance, a restart) still works: re-search
    // and skip.
    let first = c
        .search(
            USERS,
            &query(
                all.clone(),
                PageRequest::Cursor {
                    cursor: None,
                    count: 10,
                },
            ),
        )
        .await
        .unwrap();
    let other = connect(&slapd, 4).await;
    let second = other
        .search(
            USERS,
            &query(
                all.clone(),
                PageRequest::Cursor {
                    cursor: first.next_cursor,
                    count: 10,
                },
            ),
        )
        .await
        .unwrap();
    let mut ids: BTreeSet<String> = first.records.iter().map(|r| r.id.clone()).collect();
    ids.extend(second.records.iter().map(|r| r.id.clone()));
    assert_eq!(ids.len(), 20);
    assert!(second.next_cursor.is_some());
    assert!(matches!(
        c.search(USERS, &query(all, PageRequest::Cursor { cursor: Some("junk".into()), count: 10 })).await,
        Err(ConnectorError::InvalidValue { detail, .. }) if detail.contains("cursor")
    ));
}

#[tokio::test]
async fn outage_and_recovery() {
    let Some(mut slapd) = start() else { return };
    let c = connect(&slapd, 500).await;
    c.health().await.unwrap();
    let _ = Command::new("kill").arg(slapd.child.id().to_string()).status();
    let _ = slapd.child.wait();
    assert!(matches!(c.health().await, Err(ConnectorError::Unavailable(_))));
    assert!(matches!(
        c.get(USERS, "6b29fc40-ca47-1067-b31d-00dd010662da", &ReadSet::default())
            .await,
        Err(ConnectorError::Unavailable(_))
    ));
    // Same port and data: the pool reconnects by itself.
    let dir = slapd._dir.path().to_owned();
    slapd.child = Command::new("/usr/sbin/slapd")
        .arg("-F")
        .arg(dir.join("slapd.d"))
        .args(["-h", &format!("ldap://{}/", slapd.addr), "-d", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(slapd.addr.as_str()).is_err() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    c.health().await.unwrap();
}

#[test]
fn explain_renders_what_would_run() {
    let cfg: LdapConnectorConfig = toml::from_str(
        r#"
        url = "ldap://127.0.0.1:1"
        bind_dn = "cn=admin"
        bind_password = "x"
        "#,
    )
    .unwrap();
    let c = connector(&cfg, entities(), RootDse::assumed()).unwrap();
    let mut ann = user("ann");
    ann.fields.insert("userPassword".into(), text("pw"));
    // Plain LDAP: the password is refused even in a dry run.
    assert!(matches!(
        c.explain(USERS, &Operation::Create(&ann)),
        Err(ConnectorError::Forbidden(_))
    ));
    let lines = c
        .explain(GROUPS, &Operation::Create(&group("Sales, EMEA", &[UUID])))
        .unwrap();
    assert!(
        lines[0].starts_with("search base=\"ou=people,dc=example,dc=org\""),
        "{lines:?}"
    );
    assert_eq!(
        lines[2],
        "dn: cn=Sales\\, EMEA,ou=groups,dc=example,dc=org\nchangetype: add\nobjectClass: top\n\
         objectClass: groupOfNames\ncn: Sales, EMEA\nmember: <dn of id 6b29fc40-ca47-1067-b31d-00dd010662da>"
    );
    let lines = c
        .explain(
            USERS,
            &Operation::Search(&query(eq("uid", "a*"), PageRequest::Offset { offset: 0, count: 5 })),
        )
        .unwrap();
    assert_eq!(
        lines[1],
        "search base=\"ou=people,dc=example,dc=org\" scope=sub filter=\"(&(objectClass=inetOrgPerson)(uid=a\\2a))\" \
         attrs=[uid, cn, sn, mail, title, manager, entryUUID, entryCSN, createTimestamp, modifyTimestamp] paged=500"
    );
    let lines = c.explain(USERS, &Operation::Delete { id: "abc" }).unwrap();
    assert!(lines[0].starts_with("-- no statement"));
}
