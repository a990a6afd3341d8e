//! LDAP integration tests: the OpenLDAP profile (`mappings/openldap/`) served over HTTP by an
//! in-process gateway, pointed at a throwaway slapd (`slapd.rs`), with checks made directly
//! in the directory (ldap3) behind the gateway's back.
//!
//! Needs the `connector-ldap` feature and `/usr/sbin/slapd`. Without slapd every test prints
//! `SKIPPED: slapd not installed` and passes, unless `SCIMGATE_REQUIRE_LDAP=1` (set by
//! tests/run-all.sh), which turns the skip into a failure.
//!
//! One slapd serves the whole binary (started on first use, seeded offline with
//! [`BULK_USERS`] users under `ou=bulk,ou=people`); tests isolate themselves by unique name
//! prefixes. Tests that stop the server or count its operations start their own.
//! The Samba AD test runs only with `SCIMGATE_SAMBA_AD=1`.

#![cfg(feature = "connector-ldap")]

#[path = "../e2e/harness.rs"]
#[allow(dead_code)]
mod harness;
mod slapd;

mod conformance;
mod cost;
mod crud;
mod dialects;
mod error_rules;
mod filters;
mod groups;
mod injection;
mod lifecycle;
mod moves;
mod outage;
mod paging;
mod samba;
mod tls;
mod unseen_layout;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use harness::Gateway;
use serde_json::{Value as Json, json};
use slapd::Slapd;

/// Users seeded offline under `ou=bulk,ou=people`: more than the server's size limit (500).
pub const BULK_USERS: usize = 600;
pub const BULK_PREFIX: &str = "bulk-";

pub const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// The shared slapd, or `None` (after a skip message) when slapd is not installed.
pub fn server() -> Option<&'static Slapd> {
    static SERVER: OnceLock<Option<Slapd>> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            slapd::available_or_skip("tests/ldap").then(|| {
                let mut seed = format!(
                    "dn: ou=bulk,{}\nobjectClass: organizationalUnit\nou: bulk\n\n",
                    slapd::PEOPLE
                );
                seed.push_str(&slapd::bulk_users_ldif(
                    &format!("ou=bulk,{}", slapd::PEOPLE),
                    BULK_PREFIX,
                    BULK_USERS,
                ));
                Slapd::start_with(slapd::Options {
                    seed,
                    ..Default::default()
                })
            })
        })
        .as_ref()
}

pub fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// A unique prefix for the names a test creates.
pub fn tag(what: &str) -> String {
    format!("{what}-{}-", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

/// How a test's gateway differs from the shipped OpenLDAP profile.
#[derive(Default)]
pub struct Setup<'a> {
    /// `(from, to)` text replacements applied to the shipped users.toml.
    pub users: Vec<(&'a str, &'a str)>,
    /// `(from, to)` text replacements applied to the shipped groups.toml.
    pub groups: Vec<(&'a str, &'a str)>,
    /// Extra `[server]` lines.
    pub server: &'a str,
    /// Extra `[connectors.directory.ldap]` lines.
    pub connector: &'a str,
    /// The directory URL. Default: the server's `ldap://` URL.
    pub url: Option<&'a str>,
}

/// A gateway serving the shipped OpenLDAP profile at `/scim/v2`, pointed at `s`.
pub async fn gateway(s: &Slapd) -> Gateway {
    gateway_with(s, Setup::default()).await
}

pub async fn gateway_with(s: &Slapd, setup: Setup<'_>) -> Gateway {
    let dir = tempfile::tempdir().expect("temp dir");
    let profile = repo("mappings/openldap");
    let variant = |name: &str, replacements: &[(&str, &str)]| -> PathBuf {
        let mut text = std::fs::read_to_string(profile.join(name)).expect("read profile");
        for (from, to) in replacements {
            assert!(text.contains(from), "{name} has no {from:?}");
            text = text.replace(from, to);
        }
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write mapping");
        path
    };
    let users = variant("users.toml", &setup.users);
    let groups = variant("groups.toml", &setup.groups);
    let config = format!(
        r#"
[server]
{server}

[auth]
tokens = ["{token}"]

[connectors.directory.ldap]
url = "{url}"
bind_dn = "{dn}"
bind_password = "{pw}"
{connector}

[endpoints.main]
path = "/scim/v2"
connector = "directory"
mappings = ["{users}", "{groups}"]
"#,
        server = setup.server,
        token = harness::TOKEN,
        url = setup.url.map_or_else(|| s.url(), str::to_owned),
        dn = slapd::ADMIN_DN,
        pw = slapd::ADMIN_PW,
        connector = setup.connector,
        users = users.display(),
        groups = groups.display(),
    );
    Gateway::with_config(dir, PathBuf::new(), &config).await
}

/// An Entra-style user body.
pub fn user_body(user_name: &str) -> Json {
    json!({
        "schemas": [CORE_USER, ENTERPRISE],
        "userName": user_name,
        "active": true,
        "displayName": format!("{user_name} display"),
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "emails": [{"value": format!("{user_name}@example.com"), "type": "work", "primary": true}],
    })
}

/// Creates a user; panics unless 201. Returns the response body.
pub async fn create_user(gw: &Gateway, body: Json) -> Json {
    let r = gw.post("/Users", &body).await;
    assert_eq!(r.status, 201, "create user {body}: {}", r.body);
    r.body
}

pub async fn create_group(gw: &Gateway, name: &str, members: &[&str]) -> Json {
    let members: Vec<Json> = members.iter().map(|m| json!({"value": m})).collect();
    let r = gw
        .post(
            "/Groups",
            &json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": name,
                "members": members,
            }),
        )
        .await;
    assert_eq!(r.status, 201, "create group {name}: {}", r.body);
    r.body
}

/// The member ids of a group, sorted (GET with attributes=members).
pub async fn member_ids(gw: &Gateway, group_id: &str) -> Vec<String> {
    let r = gw.get(&format!("/Groups/{group_id}?attributes=members")).await;
    assert_eq!(r.status, 200, "get group: {}", r.body);
    let mut ids: Vec<String> = r.body["members"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|m| m["value"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

/// Reads one entry's attributes directly from slapd (as the rootdn), operational ones
/// included. `None` when no entry matches `filter` under `base`.
pub async fn ldap_entry(
    s: &Slapd,
    base: &str,
    filter: &str,
) -> Option<(String, std::collections::HashMap<String, Vec<String>>)> {
    use ldap3::{Scope, SearchEntry};
    let mut ldap = s.admin().await;
    let (entries, _) = ldap
        .search(base, Scope::Subtree, filter, vec!["*", "+"])
        .await
        .expect("ldap search")
        .success()
        .expect("ldap search result");
    let _ = ldap.unbind().await;
    assert!(entries.len() <= 1, "{filter} matched {} entries", entries.len());
    entries.into_iter().next().map(|e| {
        let e = SearchEntry::construct(e);
        let mut attrs = e.attrs;
        for (k, v) in e.bin_attrs {
            attrs.insert(k, v.iter().map(|b| String::from_utf8_lossy(b).into_owned()).collect());
        }
        (e.dn, attrs)
    })
}

/// The entry whose entryUUID is `id`.
pub async fn ldap_by_id(s: &Slapd, id: &str) -> Option<(String, std::collections::HashMap<String, Vec<String>>)> {
    ldap_entry(s, slapd::SUFFIX, &format!("(entryUUID={id})")).await
}

/// First value of an attribute, by case-insensitive name.
pub fn attr<'a>(attrs: &'a std::collections::HashMap<String, Vec<String>>, name: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.first())
        .map(String::as_str)
}

pub fn attr_all(attrs: &std::collections::HashMap<String, Vec<String>>, name: &str) -> Vec<String> {
    attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

/// DNs compared normalised (slapd lower-cases the DNs it returns; AD preserves case).
pub fn dn_eq(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        s.split(',')
            .map(|p| p.trim().to_lowercase())
            .collect::<Vec<_>>()
            .join(",")
    };
    norm(a) == norm(b)
}
