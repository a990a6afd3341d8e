//! Acceptance test: a mapping written from the documentation alone (`tests/ldap/unseen_layout/`)
//! for a directory laid out unlike the shipped OpenLDAP profile, driven by an independent SCIM
//! checker and by Entra ID and Okta request replays, with every write checked in slapd itself.
//!
//! The layout: users `cn=<userName>,ou=staff,dc=example,dc=org` (inetOrgPerson, RDN `cn`),
//! `employeeType: disabled` for an inactive account; teams `cn=<displayName>,ou=teams,...`
//! (groupOfUniqueNames, `uniqueMember`), an empty team holding the placeholder
//! `cn=team-placeholder,dc=example,dc=org`. The seed below creates the OUs and the placeholder.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value as Json, json};

use crate::harness::{self, Gateway, enc, ids};
use crate::slapd::{self, Slapd};
use crate::{CORE_USER, ENTERPRISE, repo};

const STAFF: &str = "ou=staff,dc=example,dc=org";
const TEAMS: &str = "ou=teams,dc=example,dc=org";
const PLACEHOLDER: &str = "cn=team-placeholder,dc=example,dc=org";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const USER_CLASSES: [&str; 4] = ["top", "person", "organizationalPerson", "inetOrgPerson"];
const TEAM_CLASSES: [&str; 2] = ["top", "groupOfUniqueNames"];

/// The directory's own structure: the two OUs, the placeholder member, and one account an
/// administrator made by hand with an employeeType that is not the disabled marker.
fn seed() -> String {
    format!(
        "dn: {STAFF}
objectClass: organizationalUnit
ou: staff

dn: {TEAMS}
objectClass: organizationalUnit
ou: teams

dn: {PLACEHOLDER}
objectClass: organizationalRole
cn: team-placeholder
description: the member of a team that has no members

dn: cn=hand-made,{STAFF}
objectClass: top
objectClass: person
objectClass: organizationalPerson
objectClass: inetOrgPerson
cn: hand-made
sn: Made
employeeType: contractor
"
    )
}

/// The operator's overlay configuration for this layout (the fixture's is for groupOfNames):
/// memberOf maintained from `uniqueMember` of groupOfUniqueNames, and refint on `uniqueMember`
/// and `manager`, with the team placeholder as the value that replaces a last deleted member.
/// slapd must be stopped: `cn=config` is edited offline with `slapmodify`.
fn overlays_for_this_layout(dir: &std::path::Path) {
    let ldif = format!(
        "dn: olcOverlay={{0}}memberof,olcDatabase={{1}}mdb,cn=config
changetype: modify
replace: olcMemberOfGroupOC
olcMemberOfGroupOC: groupOfUniqueNames
-
replace: olcMemberOfMemberAD
olcMemberOfMemberAD: uniqueMember
-

dn: olcOverlay={{1}}refint,olcDatabase={{1}}mdb,cn=config
changetype: modify
replace: olcRefintAttribute
olcRefintAttribute: uniqueMember
olcRefintAttribute: manager
-
replace: olcRefintNothing
olcRefintNothing: {PLACEHOLDER}
-
"
    );
    let path = dir.join("unseen-layout-overlays.ldif");
    std::fs::write(&path, ldif).expect("write overlay ldif");
    let out = Command::new("/usr/sbin/slapmodify")
        .args(["-n", "0", "-F"])
        .arg(dir.join("slapd.d"))
        .arg("-l")
        .arg(&path)
        .output()
        .expect("run slapmodify");
    assert!(
        out.status.success(),
        "slapmodify: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A fresh slapd seeded with the layout, and a gateway on the mapping under test; `None`
/// (after a skip message) without slapd.
async fn start() -> Option<(Slapd, Gateway)> {
    if !slapd::available_or_skip("unseen layout") {
        return None;
    }
    let s = tokio::task::spawn_blocking(|| {
        Slapd::start_with(slapd::Options {
            seed: seed(),
            ..Default::default()
        })
    })
    .await
    .expect("start slapd");
    // Blocking, on the multi-threaded runtime every test of this module uses.
    tokio::task::block_in_place(|| {
        s.stop();
        overlays_for_this_layout(s.dir());
        s.restart();
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let mappings = repo("tests/ldap/unseen_layout");
    let config = format!(
        r#"
[auth]
tokens = ["{token}"]

[connectors.directory.ldap]
url = "{url}"
bind_dn = "{dn}"
bind_password = "{pw}"

[endpoints.main]
path = "/scim/v2"
connector = "directory"
mappings = ["{users}", "{groups}"]
"#,
        token = harness::TOKEN,
        url = s.url(),
        dn = slapd::ADMIN_DN,
        pw = slapd::ADMIN_PW,
        users = mappings.join("users.toml").display(),
        groups = mappings.join("groups.toml").display(),
    );
    let gw = Gateway::with_config(dir, PathBuf::new(), &config).await;
    Some((s, gw))
}

/// Attribute name (lower-case) → values (sorted), as the directory holds them.
type Attrs = BTreeMap<String, Vec<String>>;

/// A DN in a comparable form: RDN values unescaped (`\,` and slapd's `\2C` alike), types and
/// values lower-cased, then escaped again one way (RFC 4514 §2.4).
fn norm_dn(dn: &str) -> String {
    let mut rdns: Vec<String> = Vec::new();
    let mut cur: Vec<u8> = Vec::new();
    let bytes = dn.as_bytes();
    let mut i = 0;
    let finish = |cur: &mut Vec<u8>, rdns: &mut Vec<String>| {
        let text = String::from_utf8_lossy(cur).into_owned();
        let (ty, value) = text.split_once('\u{0}').unwrap_or(("", &text));
        rdns.push(format!(
            "{}={}",
            ty.trim().to_lowercase(),
            slapd::dn_escape(&value.to_lowercase())
        ));
        cur.clear();
    };
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if i + 1 < bytes.len() => {
                let hex = dn
                    .get(i + 1..i + 3)
                    .filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit()))
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        cur.push(b);
                        i += 3;
                    }
                    None => {
                        cur.push(bytes[i + 1]);
                        i += 2;
                    }
                }
            }
            // The first unescaped `=` of an RDN separates its type (marked with NUL).
            b'=' if !cur.contains(&0) => {
                cur.push(0);
                i += 1;
            }
            b',' => {
                finish(&mut cur, &mut rdns);
                i += 1;
            }
            b' ' if cur.is_empty() || cur.last() == Some(&0) => i += 1,
            b => {
                cur.push(b);
                i += 1;
            }
        }
    }
    finish(&mut cur, &mut rdns);
    rdns.join(",")
}

/// The user attributes (`*`, no operational ones) of the entries one level below `base`
/// that match `filter`: at most one, as (normalised DN, attributes). Values of DN-valued
/// attributes (`manager`, `uniqueMember`) are normalised too.
async fn entry(s: &Slapd, base: &str, filter: &str) -> Option<(String, Attrs)> {
    use ldap3::{Scope, SearchEntry};
    let mut ldap = s.admin().await;
    let (entries, _) = ldap
        .search(base, Scope::OneLevel, filter, vec!["*"])
        .await
        .expect("ldap search")
        .success()
        .expect("ldap search result");
    let _ = ldap.unbind().await;
    assert!(entries.len() <= 1, "{filter} matched {} entries", entries.len());
    entries.into_iter().next().map(|e| {
        let e = SearchEntry::construct(e);
        let attrs = e
            .attrs
            .into_iter()
            .map(|(k, v)| {
                let k = k.to_lowercase();
                let mut v: Vec<String> = if k == "manager" || k == "uniquemember" {
                    v.iter().map(|d| norm_dn(d)).collect()
                } else {
                    v
                };
                v.sort();
                (k, v)
            })
            .collect();
        (norm_dn(&e.dn), attrs)
    })
}

/// The entry whose entryUUID is `id`, one level below `base`; panics when there is none.
async fn by_id(s: &Slapd, base: &str, id: &str) -> (String, Attrs) {
    entry(s, base, &format!("(entryUUID={id})"))
        .await
        .unwrap_or_else(|| panic!("no entry with entryUUID {id} under {base}"))
}

/// The expected attributes: `(name, values)`, names matched case-insensitively.
fn attrs(pairs: &[(&str, &[&str])]) -> Attrs {
    pairs
        .iter()
        .map(|(k, v)| {
            let k = k.to_lowercase();
            let mut v: Vec<String> = if k == "manager" || k == "uniquemember" {
                v.iter().map(|d| norm_dn(d)).collect()
            } else {
                v.iter().map(|s| (*s).to_owned()).collect()
            };
            v.sort();
            (k, v)
        })
        .collect()
}

fn user_dn(user_name: &str) -> String {
    norm_dn(&format!("cn={},{STAFF}", slapd::dn_escape(user_name)))
}

fn team_dn(name: &str) -> String {
    norm_dn(&format!("cn={},{TEAMS}", slapd::dn_escape(name)))
}

fn ops(ops: Json) -> Json {
    json!({"schemas": [PATCH_OP], "Operations": ops})
}

/// `GET /Users` (or `/Groups`) with `filter` and extra query text; asserts 200.
async fn list(gw: &Gateway, resource: &str, filter: &str, extra: &str) -> Json {
    let r = gw.get(&format!("{resource}?filter={}{extra}", enc(filter))).await;
    assert_eq!(r.status, 200, "GET {resource} filter {filter}: {}", r.body);
    r.body
}

// ---------------------------------------------------------------------------------------------
// 1. scim2-tester
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unseen_layout_passes_scim2_tester() {
    if !crate::conformance::tester_available() {
        return;
    }
    let Some((_s, gw)) = start().await else {
        return;
    };
    // `active` is derived from employeeType (false exactly when it is "disabled"): it always
    // has a value, and removing it removes the marker, so it reads true afterwards. RFC 7643
    // §4.1 leaves `active`'s meaning to the service provider and RFC 7644 §3.5.2.2 lets a
    // server give a removed attribute its default.
    let summary = crate::conformance::run_tester(&gw.base, &["did not remove attribute 'active'"]).await;
    eprintln!("scim2-tester on the unseen layout: {summary}");
}

/// The mapping's own offline cases (`[[User.test]]`, `[[Group.test]]`): what each request
/// becomes in the directory, without one.
#[test]
fn unseen_layout_offline_cases() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mappings = repo("tests/ldap/unseen_layout");
    let config = dir.path().join("scimgate.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[connectors.directory.ldap]
url = "ldap://127.0.0.1:1/"
bind_dn = "{dn}"
bind_password = "unused"

[endpoints.main]
path = "/scim/v2"
connector = "directory"
mappings = ["{users}", "{groups}"]
"#,
            dn = slapd::ADMIN_DN,
            users = mappings.join("users.toml").display(),
            groups = mappings.join("groups.toml").display(),
        ),
    )
    .expect("write config");
    let out = Command::new(env!("CARGO_BIN_EXE_scimgate"))
        .arg("test")
        .arg("--config")
        .arg(&config)
        .output()
        .expect("run scimgate test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "scimgate test failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("10 passed, 0 failed"), "{stdout}");
}

// ---------------------------------------------------------------------------------------------
// 2. Microsoft Entra ID
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unseen_layout_entra_replay() {
    let Some((s, gw)) = start().await else {
        return;
    };

    // Test Connection: a made-up attribute, then attributes Entra correlates on.
    let guid = uuid::Uuid::new_v4().to_string();
    for probe in [
        format!("PLACEHOLDER eq \"{guid}\""),
        format!("userName eq \"{guid}\""),
        format!("externalId eq \"{guid}\""),
    ] {
        let l = list(&gw, "/Users", &probe, "").await;
        assert_eq!(l["totalResults"], 0, "{probe}: {l}");
        assert!(ids(&l).is_empty(), "{probe}: {l}");
    }

    // The hand-made account: employeeType "contractor" is not the disabled marker.
    let l = list(&gw, "/Users", "userName eq \"hand-made\"", "").await;
    assert_eq!(l["totalResults"], 1, "{l}");
    assert_eq!(l["Resources"][0]["active"], true, "{l}");
    let l = list(&gw, "/Users", "userName eq \"hand-made\" and active eq true", "").await;
    assert_eq!(
        l["totalResults"], 1,
        "active eq true must include other employeeTypes: {l}"
    );

    // The manager first (Entra provisions in any order; this one is simple).
    let boss = "mia.boss@contoso.com";
    assert_eq!(
        list(&gw, "/Users", &format!("userName eq \"{boss}\""), "").await["totalResults"],
        0
    );
    let r = gw
        .post(
            "/Users",
            &json!({
                "schemas": [CORE_USER, ENTERPRISE],
                "externalId": "mia",
                "userName": boss,
                "active": true,
                "displayName": "Mia Boss",
                "name": {"formatted": "Mia Boss", "familyName": "Boss", "givenName": "Mia"},
                "emails": [{"primary": true, "type": "work", "value": boss}],
            }),
        )
        .await;
    assert_eq!(r.status, 201, "create manager: {}", r.body);
    let boss_id = r.id();
    let (dn, a) = by_id(&s, STAFF, &boss_id).await;
    assert_eq!(dn, user_dn(boss));
    assert_eq!(
        a,
        attrs(&[
            ("objectClass", &USER_CLASSES),
            ("cn", &[boss]),
            ("carLicense", &["mia"]),
            ("displayName", &["Mia Boss"]),
            ("givenName", &["Mia"]),
            ("sn", &["Boss"]),
            ("mail", &[boss]),
        ]),
        "manager entry"
    );

    // userName lookup, then POST with the enterprise extension (Entra's default mappings).
    let ann = "ann.lee@contoso.com";
    let l = list(&gw, "/Users", &format!("userName eq \"{ann}\""), "").await;
    assert_eq!(l["totalResults"], 0, "{l}");
    let r = gw
        .post(
            "/Users",
            &json!({
                "schemas": [CORE_USER, ENTERPRISE],
                "externalId": "annlee",
                "userName": ann,
                "active": true,
                "displayName": "Ann Lee",
                "title": "Engineer",
                "emails": [{"primary": true, "type": "work", "value": ann}],
                "name": {"formatted": "Ann Lee", "familyName": "Lee", "givenName": "Ann"},
                "phoneNumbers": [
                    {"primary": true, "type": "work", "value": "+1 425 555 0100"},
                    {"type": "mobile", "value": "+1 425 555 0199"}
                ],
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                    "employeeNumber": "E-1001",
                    "department": "Engineering",
                    "organization": "Contoso",
                    "manager": {"value": boss_id}
                }
            }),
        )
        .await;
    assert_eq!(r.status, 201, "create user: {}", r.body);
    let ann_id = r.id();
    assert_eq!(r.body["active"], true, "{}", r.body);
    assert_eq!(r.body[ENTERPRISE]["manager"]["value"], boss_id.as_str(), "{}", r.body);
    let (dn, a) = by_id(&s, STAFF, &ann_id).await;
    assert_eq!(dn, user_dn(ann), "DN: RDN cn=<userName> under ou=staff");
    let boss_dn = user_dn(boss);
    assert_eq!(
        a,
        attrs(&[
            ("objectClass", &USER_CLASSES),
            ("cn", &[ann]),
            ("carLicense", &["annlee"]),
            ("displayName", &["Ann Lee"]),
            ("givenName", &["Ann"]),
            ("sn", &["Lee"]),
            ("title", &["Engineer"]),
            ("mail", &[ann]),
            ("telephoneNumber", &["+1 425 555 0100"]),
            ("mobile", &["+1 425 555 0199"]),
            ("employeeNumber", &["E-1001"]),
            ("departmentNumber", &["Engineering"]),
            ("o", &["Contoso"]),
            ("manager", &[boss_dn.as_str()]),
        ]),
        "created user: active=true writes no employeeType"
    );
    // Entra's correlation lookups find it.
    for f in [
        format!("userName eq \"{ann}\""),
        "externalId eq \"annlee\"".to_owned(),
        format!("emails[type eq \"work\"].value eq \"{ann}\""),
    ] {
        let l = list(&gw, "/Users", &f, "").await;
        assert_eq!(ids(&l), vec![ann_id.clone()], "{f}: {l}");
    }

    // PATCH: Replace without a path (the value object's keys are paths), Add on a filtered path.
    let r = gw
        .patch(
            &format!("/Users/{ann_id}"),
            &ops(json!([
                {"op": "Replace", "value": {
                    "displayName": "Ann B. Lee",
                    "name.givenName": "Annie",
                    "title": "Lead Engineer",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Platform",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "E-2002"
                }},
                {"op": "Add", "path": "phoneNumbers[type eq \"work\"].value", "value": "+1 425 555 0111"},
                {"op": "Remove", "path": "phoneNumbers[type eq \"mobile\"].value"}
            ])),
        )
        .await;
    assert!(
        r.status == 200 || r.status == 204,
        "pathless replace: {} {}",
        r.status,
        r.body
    );
    let (dn, a) = by_id(&s, STAFF, &ann_id).await;
    assert_eq!(dn, user_dn(ann));
    assert_eq!(
        a,
        attrs(&[
            ("objectClass", &USER_CLASSES),
            ("cn", &[ann]),
            ("carLicense", &["annlee"]),
            ("displayName", &["Ann B. Lee"]),
            ("givenName", &["Annie"]),
            ("sn", &["Lee"]),
            ("title", &["Lead Engineer"]),
            ("mail", &[ann]),
            ("telephoneNumber", &["+1 425 555 0111"]),
            ("employeeNumber", &["E-2002"]),
            ("departmentNumber", &["Platform"]),
            ("o", &["Contoso"]),
            ("manager", &[boss_dn.as_str()]),
        ]),
        "after the pathless replace"
    );

    // Manager removed the way Entra does it (empty value through the full URN path).
    let r = gw
        .patch(
            &format!("/Users/{ann_id}"),
            &ops(json!([{"op": "Replace", "path": format!("{ENTERPRISE}:manager"), "value": ""}])),
        )
        .await;
    assert!(
        r.status == 200 || r.status == 204,
        "remove manager: {} {}",
        r.status,
        r.body
    );
    let (_, a) = by_id(&s, STAFF, &ann_id).await;
    assert!(!a.contains_key("manager"), "manager must be gone: {a:?}");
    // ... and set again as a bare id.
    let r = gw
        .patch(
            &format!("/Users/{ann_id}"),
            &ops(json!([{"op": "Add", "path": format!("{ENTERPRISE}:manager"), "value": boss_id}])),
        )
        .await;
    assert!(
        r.status == 200 || r.status == 204,
        "set manager: {} {}",
        r.status,
        r.body
    );
    let (_, a) = by_id(&s, STAFF, &ann_id).await;
    assert_eq!(a.get("manager"), Some(&vec![boss_dn.clone()]), "{a:?}");

    // Disable with "False" as a string: employeeType flips to the marker.
    let r = gw
        .patch(
            &format!("/Users/{ann_id}"),
            &ops(json!([{"op": "Replace", "path": "active", "value": "False"}])),
        )
        .await;
    assert!(r.status == 200 || r.status == 204, "disable: {} {}", r.status, r.body);
    let (_, a) = by_id(&s, STAFF, &ann_id).await;
    assert_eq!(a.get("employeetype"), Some(&vec!["disabled".to_owned()]), "{a:?}");
    let g = gw.get(&format!("/Users/{ann_id}")).await;
    assert_eq!(g.status, 200, "a disabled user is still readable: {}", g.body);
    assert_eq!(g.body["active"], false, "{}", g.body);
    let l = list(&gw, "/Users", &format!("userName eq \"{ann}\" and active eq false"), "").await;
    assert_eq!(ids(&l), vec![ann_id.clone()], "{l}");
    let l = list(&gw, "/Users", "active eq true", "").await;
    assert!(!ids(&l).contains(&ann_id), "a disabled user is not active: {l}");
    // Re-enable with "True": the marker goes, nothing else is written.
    let r = gw
        .patch(
            &format!("/Users/{ann_id}"),
            &ops(json!([{"op": "Replace", "path": "active", "value": "True"}])),
        )
        .await;
    assert!(r.status == 200 || r.status == 204, "enable: {} {}", r.status, r.body);
    let (_, a) = by_id(&s, STAFF, &ann_id).await;
    assert!(!a.contains_key("employeetype"), "{a:?}");
    assert_eq!(gw.get(&format!("/Users/{ann_id}")).await.body["active"], true);

    // A second member for the team.
    let bob = "bob.ray@contoso.com";
    let r = gw
        .post(
            "/Users",
            &json!({
                "schemas": [CORE_USER, ENTERPRISE],
                "externalId": "bobray",
                "userName": bob,
                "active": "True",
                "name": {"familyName": "Ray", "givenName": "Bob"},
                "emails": [{"primary": "True", "type": "work", "value": bob}],
            }),
        )
        .await;
    assert_eq!(r.status, 201, "create bob: {}", r.body);
    let bob_id = r.id();
    let bob_dn = user_dn(bob);
    let ann_dn = user_dn(ann);

    // Groups: lookup by displayName, create without members, then membership PATCHes.
    let team = "Platform Team";
    let l = list(
        &gw,
        "/Groups",
        &format!("displayName eq \"{team}\""),
        "&excludedAttributes=members",
    )
    .await;
    assert_eq!(l["totalResults"], 0, "{l}");
    let r = gw
        .post(
            "/Groups",
            &json!({"schemas": [GROUP], "externalId": "platform-team", "displayName": team, "members": []}),
        )
        .await;
    assert_eq!(r.status, 201, "create team: {}", r.body);
    let team_id = r.id();
    let team_attrs = |members: &[&str], name: &str| {
        attrs(&[
            ("objectClass", &TEAM_CLASSES),
            ("cn", &[name]),
            ("businessCategory", &["platform-team"]),
            ("uniqueMember", members),
        ])
    };
    let (dn, a) = by_id(&s, TEAMS, &team_id).await;
    assert_eq!(dn, team_dn(team));
    assert_eq!(
        a,
        team_attrs(&[PLACEHOLDER], team),
        "an empty team holds the placeholder"
    );
    let g = gw.get(&format!("/Groups/{team_id}")).await;
    assert!(
        g.body
            .get("members")
            .is_none_or(|m| m.as_array().is_some_and(Vec::is_empty)),
        "the placeholder is never shown: {}",
        g.body
    );

    let r = gw
        .patch(
            &format!("/Groups/{team_id}"),
            &ops(json!([{"op": "Add", "path": "members", "value": [{"value": ann_id}, {"value": bob_id}]}])),
        )
        .await;
    assert!(
        r.status == 200 || r.status == 204,
        "add members: {} {}",
        r.status,
        r.body
    );
    let (_, a) = by_id(&s, TEAMS, &team_id).await;
    assert_eq!(
        a,
        team_attrs(&[&ann_dn, &bob_dn], team),
        "placeholder dropped when members arrive"
    );
    let l = list(&gw, "/Groups", &format!("members.value eq \"{ann_id}\""), "").await;
    assert_eq!(ids(&l), vec![team_id.clone()], "{l}");
    // memberOf (maintained by the directory from uniqueMember) is the user's groups.
    let u = gw.get(&format!("/Users/{ann_id}")).await;
    assert_eq!(u.body["groups"][0]["value"], team_id.as_str(), "{}", u.body);

    // Adding a member who is already there changes nothing.
    let r = gw
        .patch(
            &format!("/Groups/{team_id}"),
            &ops(json!([{"op": "Add", "path": "members", "value": [{"value": ann_id}]}])),
        )
        .await;
    assert!(
        r.status == 200 || r.status == 204,
        "re-add member: {} {}",
        r.status,
        r.body
    );
    assert_eq!(
        by_id(&s, TEAMS, &team_id).await.1,
        team_attrs(&[&ann_dn, &bob_dn], team)
    );

    let r = gw
        .patch(
            &format!("/Groups/{team_id}"),
            &ops(json!([{"op": "Remove", "path": "members", "value": [{"value": ann_id}]}])),
        )
        .await;
    assert!(
        r.status == 200 || r.status == 204,
        "remove member: {} {}",
        r.status,
        r.body
    );
    assert_eq!(by_id(&s, TEAMS, &team_id).await.1, team_attrs(&[&bob_dn], team));

    let r = gw
        .patch(
            &format!("/Groups/{team_id}"),
            &ops(json!([{"op": "Remove", "path": "members", "value": [{"value": bob_id}]}])),
        )
        .await;
    assert!(
        r.status == 200 || r.status == 204,
        "remove last member: {} {}",
        r.status,
        r.body
    );
    assert_eq!(
        by_id(&s, TEAMS, &team_id).await.1,
        team_attrs(&[PLACEHOLDER], team),
        "placeholder restored when the last member leaves"
    );

    // Rename the team: the DN follows, the id stays, the members stay.
    let r = gw
        .patch(
            &format!("/Groups/{team_id}"),
            &ops(json!([{"op": "Add", "path": "members", "value": [{"value": bob_id}]}])),
        )
        .await;
    assert!(
        r.status == 200 || r.status == 204,
        "add member: {} {}",
        r.status,
        r.body
    );
    let renamed = "Platform, Core & Tools";
    let r = gw
        .patch(
            &format!("/Groups/{team_id}"),
            &ops(json!([{"op": "Replace", "path": "displayName", "value": renamed}])),
        )
        .await;
    assert!(
        r.status == 200 || r.status == 204,
        "rename team: {} {}",
        r.status,
        r.body
    );
    let (dn, a) = by_id(&s, TEAMS, &team_id).await;
    assert_eq!(dn, team_dn(renamed), "ModifyDN to the new cn, escaped");
    assert_eq!(a, team_attrs(&[&bob_dn], renamed));
    assert!(entry(&s, TEAMS, "(cn=Platform Team)").await.is_none(), "old name gone");
    let l = list(
        &gw,
        "/Groups",
        &format!("displayName eq \"{renamed}\""),
        "&excludedAttributes=members",
    )
    .await;
    assert_eq!(ids(&l), vec![team_id.clone()], "{l}");

    // DELETE: the user, then the team; both gone from the directory; a second DELETE is 404.
    let r = gw
        .patch(
            &format!("/Groups/{team_id}"),
            &ops(json!([{"op": "Remove", "path": "members", "value": [{"value": bob_id}]}])),
        )
        .await;
    assert!(
        r.status == 200 || r.status == 204,
        "remove member: {} {}",
        r.status,
        r.body
    );
    let r = gw.delete(&format!("/Users/{bob_id}")).await;
    assert_eq!(r.status, 204, "delete user: {}", r.body);
    assert!(entry(&s, STAFF, &format!("(entryUUID={bob_id})")).await.is_none());
    assert_eq!(gw.get(&format!("/Users/{bob_id}")).await.status, 404);
    assert_eq!(gw.delete(&format!("/Users/{bob_id}")).await.status, 404);
    let r = gw.delete(&format!("/Groups/{team_id}")).await;
    assert_eq!(r.status, 204, "delete team: {}", r.body);
    assert!(entry(&s, TEAMS, &format!("(entryUUID={team_id})")).await.is_none());
    assert_eq!(gw.delete(&format!("/Groups/{team_id}")).await.status, 404);
    // The placeholder itself is directory structure: still there.
    assert!(entry(&s, slapd::SUFFIX, "(cn=team-placeholder)").await.is_some());
    // The others are untouched.
    assert!(by_id(&s, STAFF, &ann_id).await.1.contains_key("manager"));
}

// ---------------------------------------------------------------------------------------------
// 3. Okta
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unseen_layout_okta_replay() {
    let Some((s, gw)) = start().await else {
        return;
    };
    let paging = "&startIndex=1&count=100";

    // Import / match: userName eq with paging parameters.
    let jo = "jo.kim@okta-corp.example";
    let l = list(&gw, "/Users", &format!("userName eq \"{jo}\""), paging).await;
    assert_eq!(l["totalResults"], 0, "{l}");
    assert_eq!(l["startIndex"], 1, "{l}");

    // Push New Users: Okta's create, with a placeholder password and a locale (both unmapped).
    let create = json!({
        "schemas": [CORE_USER],
        "userName": jo,
        "name": {"givenName": "Jo", "familyName": "Kim"},
        "emails": [{"primary": true, "value": jo, "type": "work"}],
        "displayName": "Jo Kim",
        "locale": "en-US",
        "externalId": "00u1abcd",
        "groups": [],
        "password": "Tmp-Placeholder-1!",
        "active": true
    });
    let r = gw.post("/Users", &create).await;
    assert_eq!(r.status, 201, "okta create: {}", r.body);
    let jo_id = r.id();
    assert!(r.body.get("password").is_none(), "{}", r.body);
    let (dn, a) = by_id(&s, STAFF, &jo_id).await;
    assert_eq!(dn, user_dn(jo));
    let created = attrs(&[
        ("objectClass", &USER_CLASSES),
        ("cn", &[jo]),
        ("carLicense", &["00u1abcd"]),
        ("displayName", &["Jo Kim"]),
        ("givenName", &["Jo"]),
        ("sn", &["Kim"]),
        ("mail", &[jo]),
    ]);
    assert_eq!(a, created, "unmapped password and locale are not written");

    let l = list(&gw, "/Users", &format!("userName eq \"{jo}\""), "&startIndex=1&count=2").await;
    assert_eq!(ids(&l), vec![jo_id.clone()], "{l}");
    assert_eq!(l["totalResults"], 1, "{l}");
    assert_eq!(l["itemsPerPage"], 1, "{l}");

    // Profile Updates: a full PUT echoing back what Okta got (id, meta, groups) with changes:
    // a title and a phone arrive, the displayName goes, the email changes.
    let mut current = gw.get(&format!("/Users/{jo_id}")).await.body;
    current["name"] = json!({"givenName": "Joanna", "familyName": "Kim"});
    current["emails"] = json!([{"primary": true, "value": "joanna.kim@okta-corp.example", "type": "work"}]);
    current["title"] = json!("Analyst");
    current["phoneNumbers"] = json!([{"value": "+44 20 7946 0000", "type": "work"}]);
    current["groups"] = json!([]);
    current["password"] = json!("Tmp-Placeholder-1!");
    current.as_object_mut().expect("object").remove("displayName");
    let r = gw.put(&format!("/Users/{jo_id}"), &current).await;
    assert_eq!(r.status, 200, "okta put: {}", r.body);
    let (dn, a) = by_id(&s, STAFF, &jo_id).await;
    assert_eq!(dn, user_dn(jo));
    assert_eq!(
        a,
        attrs(&[
            ("objectClass", &USER_CLASSES),
            ("cn", &[jo]),
            ("carLicense", &["00u1abcd"]),
            ("givenName", &["Joanna"]),
            ("sn", &["Kim"]),
            ("mail", &["joanna.kim@okta-corp.example"]),
            ("title", &["Analyst"]),
            ("telephoneNumber", &["+44 20 7946 0000"]),
        ]),
        "PUT replaces the whole user: displayName cleared"
    );

    // Deactivate: PATCH with a path.
    let r = gw
        .patch(
            &format!("/Users/{jo_id}"),
            &ops(json!([{"op": "replace", "path": "active", "value": false}])),
        )
        .await;
    assert!(
        r.status == 200 || r.status == 204,
        "deactivate: {} {}",
        r.status,
        r.body
    );
    let (_, a) = by_id(&s, STAFF, &jo_id).await;
    assert_eq!(a.get("employeetype"), Some(&vec!["disabled".to_owned()]), "{a:?}");
    assert_eq!(a.len(), 9, "only employeeType was added: {a:?}");
    let l = list(&gw, "/Users", &format!("userName eq \"{jo}\""), paging).await;
    assert_eq!(l["Resources"][0]["active"], false, "{l}");

    // Reactivate with a PUT (Okta's other form), then deactivate with a PUT.
    let mut current = gw.get(&format!("/Users/{jo_id}")).await.body;
    current["active"] = json!(true);
    let r = gw.put(&format!("/Users/{jo_id}"), &current).await;
    assert_eq!(r.status, 200, "put active=true: {}", r.body);
    let (_, a) = by_id(&s, STAFF, &jo_id).await;
    assert!(!a.contains_key("employeetype"), "{a:?}");
    current["active"] = json!(false);
    let r = gw.put(&format!("/Users/{jo_id}"), &current).await;
    assert_eq!(r.status, 200, "put active=false: {}", r.body);
    assert_eq!(r.body["active"], false, "{}", r.body);
    let (_, a) = by_id(&s, STAFF, &jo_id).await;
    assert_eq!(a.get("employeetype"), Some(&vec!["disabled".to_owned()]), "{a:?}");

    // A second user for the groups.
    let lu = "lu.chen@okta-corp.example";
    let r = gw
        .post(
            "/Users",
            &json!({
                "schemas": [CORE_USER],
                "userName": lu,
                "name": {"givenName": "Lu", "familyName": "Chen"},
                "emails": [{"primary": true, "value": lu, "type": "work"}],
                "active": true
            }),
        )
        .await;
    assert_eq!(r.status, 201, "create lu: {}", r.body);
    let lu_id = r.id();
    let (jo_dn, lu_dn) = (user_dn(jo), user_dn(lu));

    // Push Groups: create with members, then PATCH replace members, rename, remove.
    let name = "Okta Pushed";
    let l = list(&gw, "/Groups", &format!("displayName eq \"{name}\""), paging).await;
    assert_eq!(l["totalResults"], 0, "{l}");
    let r = gw
        .post(
            "/Groups",
            &json!({"schemas": [GROUP], "displayName": name, "members": [{"value": jo_id, "display": jo}]}),
        )
        .await;
    assert_eq!(r.status, 201, "okta group create: {}", r.body);
    let gid = r.id();
    let team =
        |members: &[&str], cn: &str| attrs(&[("objectClass", &TEAM_CLASSES), ("cn", &[cn]), ("uniqueMember", members)]);
    let (dn, a) = by_id(&s, TEAMS, &gid).await;
    assert_eq!(dn, team_dn(name));
    assert_eq!(a, team(&[&jo_dn], name), "created with its member, no placeholder");

    let r = gw
        .patch(
            &format!("/Groups/{gid}"),
            &ops(json!([{"op": "replace", "path": "members", "value": [
                {"value": jo_id, "display": jo}, {"value": lu_id, "display": lu}
            ]}])),
        )
        .await;
    assert!(
        r.status == 200 || r.status == 204,
        "replace members: {} {}",
        r.status,
        r.body
    );
    assert_eq!(by_id(&s, TEAMS, &gid).await.1, team(&[&jo_dn, &lu_dn], name));

    let r = gw
        .patch(
            &format!("/Groups/{gid}"),
            &ops(json!([{"op": "replace", "path": "members", "value": [{"value": lu_id, "display": lu}]}])),
        )
        .await;
    assert!(
        r.status == 200 || r.status == 204,
        "replace members: {} {}",
        r.status,
        r.body
    );
    assert_eq!(by_id(&s, TEAMS, &gid).await.1, team(&[&lu_dn], name));

    // Okta renames before it changes membership: pathless replace that echoes the id.
    let renamed = "Okta Pushed (renamed)";
    let r = gw
        .patch(
            &format!("/Groups/{gid}"),
            &ops(json!([{"op": "replace", "value": {"id": gid, "displayName": renamed}}])),
        )
        .await;
    assert!(r.status == 200 || r.status == 204, "rename: {} {}", r.status, r.body);
    let (dn, a) = by_id(&s, TEAMS, &gid).await;
    assert_eq!(dn, team_dn(renamed));
    assert_eq!(a, team(&[&lu_dn], renamed));

    let r = gw
        .patch(
            &format!("/Groups/{gid}"),
            &ops(json!([{"op": "remove", "path": format!("members[value eq \"{lu_id}\"]")}])),
        )
        .await;
    assert!(
        r.status == 200 || r.status == 204,
        "remove member: {} {}",
        r.status,
        r.body
    );
    assert_eq!(by_id(&s, TEAMS, &gid).await.1, team(&[PLACEHOLDER], renamed));

    // Replace with one member, then with an empty list: the placeholder comes back.
    let r = gw
        .patch(
            &format!("/Groups/{gid}"),
            &ops(json!([{"op": "replace", "path": "members", "value": [{"value": jo_id}]}])),
        )
        .await;
    assert!(
        r.status == 200 || r.status == 204,
        "replace members: {} {}",
        r.status,
        r.body
    );
    assert_eq!(by_id(&s, TEAMS, &gid).await.1, team(&[&jo_dn], renamed));
    let r = gw
        .patch(
            &format!("/Groups/{gid}"),
            &ops(json!([{"op": "replace", "path": "members", "value": []}])),
        )
        .await;
    assert!(
        r.status == 200 || r.status == 204,
        "empty members: {} {}",
        r.status,
        r.body
    );
    assert_eq!(by_id(&s, TEAMS, &gid).await.1, team(&[PLACEHOLDER], renamed));

    let l = list(&gw, "/Groups", &format!("displayName eq \"{renamed}\""), paging).await;
    assert_eq!(ids(&l), vec![gid.clone()], "{l}");

    // Incremental import and paging over the whole OU (the hand-made account, Jo, Lu).
    let l = list(&gw, "/Users", "meta.lastModified gt \"2000-01-01T00:00:00Z\"", paging).await;
    assert_eq!(l["totalResults"], 3, "{l}");
    let r = gw.get("/Users?sortBy=userName&startIndex=2&count=1").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["totalResults"], 3, "{}", r.body);
    assert_eq!(r.body["startIndex"], 2, "{}", r.body);
    assert_eq!(
        r.body["Resources"][0]["userName"], jo,
        "hand-made < jo.kim < lu.chen: {}",
        r.body
    );
    let r = gw.get("/Users?count=0").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["totalResults"], 3, "{}", r.body);
    assert!(ids(&r.body).is_empty(), "{}", r.body);

    // Okta deletes groups (never users).
    assert_eq!(gw.delete(&format!("/Groups/{gid}")).await.status, 204);
    assert!(entry(&s, TEAMS, &format!("(entryUUID={gid})")).await.is_none());
    // Both users still there, Jo still disabled.
    assert_eq!(
        by_id(&s, STAFF, &jo_id).await.1.get("employeetype"),
        Some(&vec!["disabled".to_owned()])
    );
    assert!(entry(&s, STAFF, &format!("(entryUUID={lu_id})")).await.is_some());
}

// ---------------------------------------------------------------------------------------------
// 4. What this layout makes special: RDN cn = userName, escaping, required sn, uniqueness
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unseen_layout_edges() {
    let Some((s, gw)) = start().await else {
        return;
    };
    let body = |user_name: &str| {
        json!({
            "schemas": [CORE_USER],
            "userName": user_name,
            "name": {"givenName": "Pat", "familyName": "O'Brien"},
        })
    };

    // A userName with DN special characters is one escaped RDN value.
    let odd = "o'brien, pat+1@contoso.com";
    let r = gw.post("/Users", &body(odd)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let odd_id = r.id();
    let (dn, a) = by_id(&s, STAFF, &odd_id).await;
    assert_eq!(dn, user_dn(odd));
    assert_eq!(a.get("cn"), Some(&vec![odd.to_owned()]));
    let l = list(&gw, "/Users", &format!("userName eq \"{odd}\""), "").await;
    assert_eq!(ids(&l), vec![odd_id.clone()], "{l}");

    // person requires sn: a user without familyName is refused before the directory is asked.
    let r = gw
        .post("/Users", &json!({"schemas": [CORE_USER], "userName": "no-family"}))
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.scim_type(), Some("invalidValue"), "{}", r.body);
    assert!(entry(&s, STAFF, "(cn=no-family)").await.is_none());

    // userName is unique case-insensitively (cn is caseIgnoreMatch): 409, nothing written.
    let r = gw.post("/Users", &body(&odd.to_uppercase())).await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.scim_type(), Some("uniqueness"), "{}", r.body);

    // Okta's pathless deactivate.
    let r = gw
        .patch(
            &format!("/Users/{odd_id}"),
            &ops(json!([{"op": "replace", "value": {"active": false}}])),
        )
        .await;
    assert!(r.status == 200 || r.status == 204, "{} {}", r.status, r.body);
    assert_eq!(
        by_id(&s, STAFF, &odd_id).await.1.get("employeetype"),
        Some(&vec!["disabled".to_owned()])
    );
    // Entra's pathless work email and a cleared title (replace with null).
    let r = gw
        .patch(
            &format!("/Users/{odd_id}"),
            &ops(json!([
                {"op": "Add", "value": {"emails[type eq \"work\"].value": "pat@contoso.com", "title": "Boss"}},
                {"op": "Replace", "value": {"title": null}}
            ])),
        )
        .await;
    assert!(r.status == 200 || r.status == 204, "{} {}", r.status, r.body);
    let (_, a) = by_id(&s, STAFF, &odd_id).await;
    assert_eq!(a.get("mail"), Some(&vec!["pat@contoso.com".to_owned()]), "{a:?}");
    assert!(!a.contains_key("title"), "{a:?}");

    // A team and a member, then the member is renamed (userName is the RDN: a ModifyDN).
    let r = gw
        .post(
            "/Groups",
            &json!({"schemas": [GROUP], "displayName": "Edge Team", "members": [{"value": odd_id}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let team_id = r.id();
    let r = gw
        .post("/Groups", &json!({"schemas": [GROUP], "displayName": "edge team"}))
        .await;
    assert_eq!(r.status, 409, "displayName is unique: {}", r.body);

    let r = gw
        .patch(
            &format!("/Users/{odd_id}"),
            &ops(json!([{"op": "replace", "path": "userName", "value": "pat.obrien@contoso.com"}])),
        )
        .await;
    assert!(r.status == 200 || r.status == 204, "{} {}", r.status, r.body);
    let (dn, a) = by_id(&s, STAFF, &odd_id).await;
    assert_eq!(dn, user_dn("pat.obrien@contoso.com"), "renamed in place, same id");
    assert_eq!(
        a.get("cn"),
        Some(&vec!["pat.obrien@contoso.com".to_owned()]),
        "old cn value gone"
    );
    // refint (on uniqueMember here) rewrote the membership; the gateway still sees the member.
    let renamed_dn = user_dn("pat.obrien@contoso.com");
    let members = by_id(&s, TEAMS, &team_id).await.1;
    assert_eq!(
        members.get("uniquemember"),
        Some(&vec![renamed_dn.clone()]),
        "{members:?}"
    );
    let g = gw.get(&format!("/Groups/{team_id}")).await;
    assert_eq!(g.body["members"][0]["value"], odd_id.as_str(), "{}", g.body);
    let u = gw.get(&format!("/Users/{odd_id}")).await;
    assert_eq!(
        u.body["groups"][0]["value"],
        team_id.as_str(),
        "memberOf → groups: {}",
        u.body
    );

    // Deleting the last member: refint puts the placeholder back, the team reads empty.
    assert_eq!(gw.delete(&format!("/Users/{odd_id}")).await.status, 204);
    assert!(entry(&s, STAFF, &format!("(entryUUID={odd_id})")).await.is_none());
    let members = by_id(&s, TEAMS, &team_id).await.1;
    assert_eq!(
        members.get("uniquemember"),
        Some(&vec![norm_dn(PLACEHOLDER)]),
        "{members:?}"
    );
    let g = gw.get(&format!("/Groups/{team_id}")).await;
    assert!(
        g.body
            .get("members")
            .is_none_or(|m| m.as_array().is_some_and(Vec::is_empty)),
        "{}",
        g.body
    );

    // Membership edges: `members pr` never counts the placeholder; an unknown member or manager
    // is 400 with nothing written; remove-all and PUT bring the placeholder back.
    let a_id = gw.post("/Users", &body("edge-a")).await.id();
    let a_dn = user_dn("edge-a");
    let team = |members: &[&str]| {
        attrs(&[
            ("objectClass", &TEAM_CLASSES),
            ("cn", &["Edge Team"]),
            ("uniqueMember", members),
        ])
    };
    assert_eq!(list(&gw, "/Groups", "members pr", "").await["totalResults"], 0);
    let unknown = "00000000-0000-0000-0000-000000000000";
    let r = gw
        .patch(
            &format!("/Groups/{team_id}"),
            &ops(json!([{"op": "add", "path": "members", "value": [{"value": unknown}]}])),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.scim_type(), Some("invalidValue"), "{}", r.body);
    assert_eq!(by_id(&s, TEAMS, &team_id).await.1, team(&[PLACEHOLDER]));
    let r = gw
        .post(
            "/Users",
            &json!({"schemas": [CORE_USER, ENTERPRISE], "userName": "edge-b", "name": {"familyName": "B"},
                    ENTERPRISE: {"manager": {"value": unknown}}}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(entry(&s, STAFF, "(cn=edge-b)").await.is_none());
    let r = gw
        .patch(
            &format!("/Groups/{team_id}"),
            &ops(json!([{"op": "add", "path": "members", "value": [{"value": a_id}]}])),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(list(&gw, "/Groups", "members pr", "").await["totalResults"], 1);
    let r = gw
        .patch(
            &format!("/Groups/{team_id}"),
            &ops(json!([{"op": "remove", "path": "members"}])),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(by_id(&s, TEAMS, &team_id).await.1, team(&[PLACEHOLDER]));
    let put = |members: Json| json!({"schemas": [GROUP], "displayName": "Edge Team", "members": members});
    let r = gw
        .put(&format!("/Groups/{team_id}"), &put(json!([{"value": a_id}])))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(by_id(&s, TEAMS, &team_id).await.1, team(&[&a_dn]));
    let r = gw.put(&format!("/Groups/{team_id}"), &put(json!([]))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(by_id(&s, TEAMS, &team_id).await.1, team(&[PLACEHOLDER]));

    // A value the directory's syntax refuses (mail is IA5String) is 400, nothing written.
    let r = gw
        .post(
            "/Users",
            &json!({"schemas": [CORE_USER], "userName": "edge-c", "name": {"familyName": "C"},
                    "emails": [{"type": "work", "value": "ünï@exämple.com"}]}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.body["scimType"], "invalidValue", "{}", r.body);
    let detail = r.body["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("emails[type eq \"work\"].value"),
        "names the SCIM attribute: {detail}"
    );
    assert!(
        !detail.contains("mail ") && !detail.contains("IA5"),
        "no directory internals: {detail}"
    );
    assert!(entry(&s, STAFF, "(cn=edge-c)").await.is_none());

    // A rename onto a taken userName is 409, and the entry keeps its DN.
    let r = gw
        .patch(
            &format!("/Users/{a_id}"),
            &ops(json!([{"op": "replace", "path": "userName", "value": "hand-made"}])),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(by_id(&s, STAFF, &a_id).await.0, a_dn);

    // Renames: a case-only change of userName is a ModifyDN too; a PUT renames and modifies.
    let raw_dn = |base: &'static str, id: String| {
        let s = &s;
        async move {
            let mut ldap = s.admin().await;
            let (es, _) = ldap
                .search(base, ldap3::Scope::OneLevel, &format!("(entryUUID={id})"), vec!["1.1"])
                .await
                .expect("search")
                .success()
                .expect("search result");
            let _ = ldap.unbind().await;
            es.into_iter()
                .map(|e| ldap3::SearchEntry::construct(e).dn)
                .collect::<Vec<_>>()
        }
    };
    let r = gw
        .patch(
            &format!("/Users/{a_id}"),
            &ops(json!([{"op": "replace", "path": "userName", "value": "EDGE-A"}])),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["userName"], "EDGE-A", "{}", r.body);
    assert_eq!(raw_dn(STAFF, a_id.clone()).await, vec![format!("cn=EDGE-A,{STAFF}")]);
    assert_eq!(
        by_id(&s, STAFF, &a_id).await.1.get("cn"),
        Some(&vec!["EDGE-A".to_owned()])
    );
    let before = gw.get(&format!("/Users/{a_id}")).await.body;
    let mut put = before.clone();
    put["userName"] = json!("edge-renamed");
    put["title"] = json!("Tester");
    let r = gw.put(&format!("/Users/{a_id}"), &put).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (dn, a) = by_id(&s, STAFF, &a_id).await;
    assert_eq!(dn, user_dn("edge-renamed"));
    assert_eq!(
        a,
        attrs(&[
            ("objectClass", &USER_CLASSES),
            ("cn", &["edge-renamed"]),
            ("givenName", &["Pat"]),
            ("sn", &["O'Brien"]),
            ("title", &["Tester"]),
        ])
    );
    // The ETag is entryCSN: the version read before the PUT is stale now.
    let stale = before["meta"]["version"].as_str().expect("version").to_owned();
    let r = gw
        .raw(
            reqwest::Method::PATCH,
            &format!("/Users/{a_id}"),
            Some(ops(json!([{"op": "replace", "path": "title", "value": "X"}])).to_string()),
            &[("If-Match", &stale)],
        )
        .await;
    assert_eq!(r.status, 412, "{}", r.body);
    assert_eq!(
        by_id(&s, STAFF, &a_id).await.1.get("title"),
        Some(&vec!["Tester".to_owned()])
    );

    // externalId is caseExact although carLicense folds case in the directory.
    let r = gw
        .patch(
            &format!("/Users/{a_id}"),
            &ops(json!([{"op": "add", "path": "externalId", "value": "Ext-A"}])),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        ids(&list(&gw, "/Users", "externalId eq \"Ext-A\"", "").await),
        vec![a_id.clone()]
    );
    assert_eq!(
        list(&gw, "/Users", "externalId eq \"ext-a\"", "").await["totalResults"],
        0
    );

    // A team renamed by case only: the DN follows.
    let cid = gw
        .post("/Groups", &json!({"schemas": [GROUP], "displayName": "Case Team"}))
        .await
        .id();
    let r = gw
        .patch(
            &format!("/Groups/{cid}"),
            &ops(json!([{"op": "replace", "path": "displayName", "value": "case team"}])),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(raw_dn(TEAMS, cid.clone()).await, vec![format!("cn=case team,{TEAMS}")]);
    assert_eq!(gw.get(&format!("/Groups/{cid}")).await.body["displayName"], "case team");
}
