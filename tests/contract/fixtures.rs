//! Fixture builders: one per backend. Each builds a connector through the library's own
//! pipeline (config → compiled mappings → connector) and finds the backend names in the
//! compiled mappings, so the cases stay backend-neutral.

use std::path::Path;

use scimgate::app::{Files, connector_for, plan};
use scimgate::config::Config;
use scimgate::connector::Capabilities;
use scimgate::mapping::compile::BackendPart;
use scimgate::mapping::model::{ResourceType, Target};

use crate::fixture::{ChildInfo, Fixture, ScopeInfo};

/// The field a top-level core attribute maps to (`userName` → `user_name`).
fn field_of(rt: &ResourceType, attr: &str) -> String {
    rt.attrs
        .iter()
        .find_map(|m| match &m.target {
            Target::Field { field, .. } if m.path.attr == attr && m.path.sub.is_none() => Some(field.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{} maps no field for {attr}", rt.name))
}

fn relation_of(rt: &ResourceType, attr: &str) -> String {
    rt.attrs
        .iter()
        .find_map(|m| match &m.target {
            Target::Relation { relation, .. } if m.path.attr == attr => Some(relation.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{} maps no relation for {attr}", rt.name))
}

fn child_of(rt: &ResourceType, attr: &str) -> Option<ChildInfo> {
    rt.attrs.iter().find_map(|m| match &m.target {
        Target::Child { child, subs } if m.path.attr == attr => {
            let spec = rt
                .entity_spec
                .children
                .iter()
                .find(|c| &c.name == child)
                .unwrap_or_else(|| panic!("{}: child {child} not in the entity spec", rt.name));
            let column = |sub: &str| subs.iter().find(|c| c.sub == sub).map(|c| c.column.clone());
            Some(ChildInfo {
                name: child.clone(),
                key: spec.key.clone(),
                value: column("value").unwrap_or_else(|| panic!("{}: {attr} has no value column", rt.name)),
                kind: column("type"),
            })
        }
        _ => None,
    })
}

/// Loads `config_text` (written to `dir/scimgate.toml`), compiles the first endpoint and
/// connects its connector.
async fn build(
    dir: &Path,
    config_text: &str,
) -> (
    scimgate::app::EndpointPlan,
    std::sync::Arc<dyn scimgate::connector::Connector>,
) {
    let path = dir.join("scimgate.toml");
    std::fs::write(&path, config_text).expect("write config");
    let config = Config::load(&path).unwrap_or_else(|e| panic!("config: {e}"));
    let mut plans = plan(&config, Files::Disk).unwrap_or_else(|e| panic!("plan: {e}"));
    assert!(!plans.is_empty(), "the config has no endpoint");
    let p = plans.swap_remove(0);
    let connector = connector_for(&p, &config, Files::Disk, false)
        .await
        .unwrap_or_else(|e| panic!("connector: {e}"));
    (p, connector)
}

/// Removes scratch directories of earlier runs (shared fixtures are never dropped). Only old
/// ones: another test run may be using a recent one.
fn remove_stale_dirs() {
    let Ok(entries) = std::fs::read_dir(env!("CARGO_TARGET_TMPDIR")) else {
        return;
    };
    for e in entries.flatten() {
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|d| d.as_secs() > 3600));
        if old && e.file_name().to_string_lossy().starts_with("contract-sqlite-") {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// The key, version and timestamp columns of an entity: the connector maintains them.
fn managed_fields(part: &BackendPart) -> Vec<String> {
    match part {
        BackendPart::Sql(sql) => std::iter::once(&sql.id)
            .chain(sql.version.iter())
            .chain(sql.created.iter())
            .chain(sql.modified.iter())
            .map(|loc| loc.to.clone())
            .collect(),
        #[cfg(feature = "connector-ldap")]
        BackendPart::Ldap(l) => std::iter::once(&l.id.to)
            .chain(l.version.iter())
            .chain(l.created.iter())
            .chain(l.modified.iter())
            .cloned()
            .collect(),
    }
}

/// The quickstart mappings on a fresh SQLite file. Always available.
pub async fn sqlite() -> Option<Fixture> {
    sqlite_with(None).await
}

/// The quickstart mappings with a `scope` on users: a user whose title is `retired` is
/// outside the mapping.
pub async fn sqlite_scoped() -> Option<Fixture> {
    sqlite_with(Some("title IS NULL OR title <> 'retired'")).await
}

async fn sqlite_with(user_scope: Option<&str>) -> Option<Fixture> {
    // Shared fixtures live in statics and are never dropped, so their files go under Cargo's
    // scratch directory for integration tests rather than the system temp dir.
    remove_stale_dirs();
    let dir = tempfile::Builder::new()
        .prefix("contract-sqlite-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("temp dir");
    let mappings = Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings/quickstart");
    let users_toml = match user_scope {
        None => mappings.join("users.toml"),
        Some(scope) => {
            let original = std::fs::read_to_string(mappings.join("users.toml")).expect("read users.toml");
            let marker = "[User.sql]\n";
            assert!(original.contains(marker), "users.toml has no [User.sql] table");
            let scoped = original.replacen(marker, &format!("{marker}scope = {scope:?}\n"), 1);
            let path = dir.path().join("users.toml");
            std::fs::write(&path, scoped).expect("write users.toml");
            path
        }
    };
    let config = format!(
        r#"
[connectors.c.sql]
url = "sqlite:{db}?mode=rwc"
init_files = ["{schema}"]

[endpoints.main]
path = "/"
connector = "c"
mappings = ["{users}", "{groups}"]
"#,
        db = dir.path().join("c.db").display(),
        schema = mappings.join("schema.sql").display(),
        users = users_toml.display(),
        groups = mappings.join("groups.toml").display(),
    );
    let (plan, connector) = build(dir.path(), &config).await;
    let resource = |name: &str| {
        &plan
            .compiled
            .iter()
            .find(|c| c.resource.name == name)
            .unwrap_or_else(|| panic!("no {name} resource type"))
            .resource
    };
    let managed = managed_fields(
        &plan
            .compiled
            .iter()
            .find(|c| c.resource.name == "User")
            .expect("User")
            .part,
    );
    let user = resource("User");
    let group = resource("Group");
    Some(Fixture {
        kind: if user_scope.is_some() {
            "sqlite-scoped"
        } else {
            "sqlite"
        },
        users: user.entity,
        groups: group.entity,
        user_name: field_of(user, "userName"),
        display_name: field_of(user, "displayName"),
        title: field_of(user, "title"),
        group_name: field_of(group, "displayName"),
        emails: child_of(user, "emails"),
        members: relation_of(group, "members"),
        user_groups: relation_of(user, "groups"),
        managed_user_fields: managed,
        case_insensitive_unique: true,
        case_exact_substrings: true,
        text_ordering: true,
        scope: user_scope.map(|_| ScopeInfo {
            field: field_of(user, "title"),
            outside: "retired".into(),
        }),
        single_valued_fields: true,
        expected_capabilities: Some(Capabilities {
            sort: true,
            offset_paging: true,
            cursor_paging: true,
            total: true,
            transactions: true,
            native_version_check: true,
        }),
        connector,
        _keep: Box::new(dir),
    })
}

// ---------------------------------------------------------------------------------------
// LDAP: a throwaway slapd (tests/ldap/slapd.rs) per fixture.

#[cfg(feature = "connector-ldap")]
#[path = "../ldap/slapd.rs"]
mod slapd;

/// The users of the LDAP contract fixture. The contract creates users from `userName` alone,
/// and inetOrgPerson requires `cn` and `sn` (the shipped profile computes them in the mapping
/// layer, which the contract bypasses), so the fixture's users are `account` entries
/// (MUST uid) with `extensibleObject` for `displayName` and `title`. Groups are the shipped
/// OpenLDAP profile's groupOfNames, with its placeholder member.
#[cfg(feature = "connector-ldap")]
const LDAP_USERS: &str = r#"
[User]

[User.ldap]
base = "ou=people,dc=example,dc=org"
scope = "SCOPE"
create_classes = ["top", "account", "extensibleObject"]
rdn = "uid"
id = "entryUUID"
version = "entryCSN"
created = "createTimestamp"
modified = "modifyTimestamp"

[User.attributes]
userName = { to = "uid", required = true, unique = true }
displayName = "displayName"
title = "title"
groups = { to = "memberOf", reference = "Group", mutability = "readOnly" }
"#;

/// A fresh slapd with the LDAP contract mappings.
pub async fn ldap() -> Option<Fixture> {
    ldap_with(None).await
}

/// The same with a scope on users: a user whose title is `retired` is outside the mapping.
pub async fn ldap_scoped() -> Option<Fixture> {
    ldap_with(Some("(&(objectClass=account)(!(title=retired)))")).await
}

#[cfg(not(feature = "connector-ldap"))]
async fn ldap_with(_scope: Option<&str>) -> Option<Fixture> {
    eprintln!("SKIPPED: built without the connector-ldap feature");
    None
}

#[cfg(feature = "connector-ldap")]
async fn ldap_with(user_scope: Option<&str>) -> Option<Fixture> {
    if !slapd::available_or_skip("contract suite, ldap fixture") {
        return None;
    }
    let server = tokio::task::spawn_blocking(slapd::Slapd::start)
        .await
        .expect("start slapd");
    // The mapping files go into slapd's directory, which is removed when slapd stops (also
    // when the test binary exits without dropping the shared fixture).
    let dir = server.dir().to_path_buf();
    let users = dir.join("users.toml");
    std::fs::write(
        &users,
        LDAP_USERS.replace("SCOPE", user_scope.unwrap_or("(objectClass=account)")),
    )
    .expect("write users.toml");
    let groups = Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings/openldap/groups.toml");
    let config = format!(
        r#"
[connectors.c.ldap]
url = "{url}"
bind_dn = "{dn}"
bind_password = "{pw}"

[endpoints.main]
path = "/"
connector = "c"
mappings = ["{users}", "{groups}"]
"#,
        url = server.url(),
        dn = slapd::ADMIN_DN,
        pw = slapd::ADMIN_PW,
        users = users.display(),
        groups = groups.display(),
    );
    let (plan, connector) = build(&dir, &config).await;
    let resource = |name: &str| {
        &plan
            .compiled
            .iter()
            .find(|c| c.resource.name == name)
            .unwrap_or_else(|| panic!("no {name} resource type"))
            .resource
    };
    let managed = managed_fields(
        &plan
            .compiled
            .iter()
            .find(|c| c.resource.name == "User")
            .expect("User")
            .part,
    );
    let user = resource("User");
    let group = resource("Group");
    Some(Fixture {
        kind: if user_scope.is_some() { "ldap-scoped" } else { "ldap" },
        users: user.entity,
        groups: group.entity,
        user_name: field_of(user, "userName"),
        display_name: field_of(user, "displayName"),
        title: field_of(user, "title"),
        group_name: field_of(group, "displayName"),
        emails: None,
        members: relation_of(group, "members"),
        user_groups: relation_of(user, "groups"),
        managed_user_fields: managed,
        // uid is the RDN: `uid=Ann` and `uid=ann` are the same DN.
        case_insensitive_unique: true,
        case_exact_substrings: false,
        text_ordering: false,
        scope: user_scope.map(|_| ScopeInfo {
            field: field_of(user, "title"),
            outside: "retired".into(),
        }),
        single_valued_fields: false,
        expected_capabilities: None,
        connector,
        _keep: Box::new(server),
    })
}
