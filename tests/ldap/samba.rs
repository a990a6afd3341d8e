//! The Active Directory profile (`mappings/active-directory/`) against a real Samba 4 AD DC,
//! only with `SCIMGATE_SAMBA_AD=1` (root, and the fixed ports 389/636/3268/3269 free; one DC
//! per machine). CI does not depend on it.
//!
//! Provision (~5 s) into a temp dir, `server services = ldap` only, simple binds allowed on
//! 389, then `samba -i -M single` in the foreground: in interactive mode samba exits when its
//! stdin closes, so the test holds the pipe and closes it to stop it (also when the test
//! process dies). `ldb:nosync` keeps the 1600 bulk adds of the range section to seconds.
//!
//! After the basic flow: sAMAccountName computed from the UPN and its collisions, a group of
//! 1600 members (over AD's MaxValRange of 1500; Samba returns all values on a plain read,
//! so the gateway's `;range=` following is not exercised here), and a manager reference
//! whose target is deleted directly.

use std::collections::{BTreeSet, HashSet};
use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::{Gateway, ids};
use crate::{ENTERPRISE, repo, tag};

const REALM: &str = "CORP.EXAMPLE.COM";
const BASE: &str = "DC=corp,DC=example,DC=com";
const ADMIN_PW: &str = "Adm1n-Passw0rd!";

struct Dc {
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Dc {
    fn admin_dn() -> String {
        format!("CN=Administrator,CN=Users,{BASE}")
    }

    fn start() -> Result<Dc, String> {
        let dir = tempfile::Builder::new()
            .prefix("scimgate-samba-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let d = dir.path();
        let out = Command::new("samba-tool")
            .args(["domain", "provision"])
            .arg(format!("--targetdir={}", d.display()))
            .args([
                &format!("--realm={REALM}"),
                "--domain=CORP",
                "--server-role=dc",
                "--dns-backend=NONE",
                &format!("--adminpass={ADMIN_PW}"),
                "--use-rfc2307",
                "--option=interfaces=lo",
                "--option=bind interfaces only=yes",
            ])
            .output()
            .map_err(|e| format!("samba-tool: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "provision failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let conf = d.join("etc/smb.conf");
        let text = std::fs::read_to_string(&conf).map_err(|e| e.to_string())?;
        let extra = format!(
            "[global]\n\tserver services = ldap\n\tldap server require strong auth = no\n\tldb:nosync = true\n\tlog file = {}/log.samba\n\tpid directory = {}/pid\n",
            d.display(),
            d.display()
        );
        std::fs::create_dir_all(d.join("pid")).map_err(|e| e.to_string())?;
        std::fs::write(&conf, text.replacen("[global]\n", &extra, 1)).map_err(|e| e.to_string())?;
        let child = Command::new("samba")
            .args(["-i", "-M", "single", "-s"])
            .arg(&conf)
            .stdin(Stdio::piped())
            .stdout(std::fs::File::create(d.join("samba.out")).map_err(|e| e.to_string())?)
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("samba: {e}"))?;
        let mut dc = Dc {
            dir,
            child: Some(child),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect("127.0.0.1:389").is_err() {
            if let Some(c) = dc.child.as_mut()
                && let Ok(Some(status)) = c.try_wait()
            {
                return Err(format!("samba exited: {status}"));
            }
            if Instant::now() > deadline {
                return Err("samba not listening on 389 after 30 s".into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(dc)
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Dc {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // EOF on stdin stops an interactive samba; SIGTERM that pid if it lingers.
            if let Some(mut stdin) = c.stdin.take() {
                let _ = stdin.flush();
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = Command::new("kill").args(["-TERM", &c.id().to_string()]).status();
            let _ = c.wait();
        }
    }
}

async fn ad_gateway(dc: &Dc) -> Gateway {
    let dir = tempfile::tempdir().expect("temp dir");
    let profile = repo("mappings/active-directory");
    let config = format!(
        r#"
[auth]
tokens = ["{token}"]

[connectors.ad.ldap]
url = "ldap://127.0.0.1:389"
bind_dn = "{dn}"
bind_password = "{pw}"
allow_plaintext_passwords = true

[endpoints.main]
path = "/scim/v2"
connector = "ad"
mappings = ["{users}", "{groups}"]
"#,
        token = crate::harness::TOKEN,
        dn = Dc::admin_dn(),
        pw = ADMIN_PW,
        users = profile.join("users.toml").display(),
        groups = profile.join("groups.toml").display(),
    );
    let _ = dc.path();
    Gateway::with_config(dir, PathBuf::new(), &config).await
}

async fn bind(dn: &str, pw: &str) -> Result<(), String> {
    let (conn, mut ldap) = ldap3::LdapConnAsync::new("ldap://127.0.0.1:389")
        .await
        .map_err(|e| e.to_string())?;
    ldap3::drive!(conn);
    let r = ldap.simple_bind(dn, pw).await.map_err(|e| e.to_string())?;
    let _ = ldap.unbind().await;
    if r.rc == 0 {
        Ok(())
    } else {
        Err(format!("rc {} {}", r.rc, r.text))
    }
}

async fn uac(upn: &str) -> i64 {
    use ldap3::{Scope, SearchEntry};
    let (conn, mut ldap) = ldap3::LdapConnAsync::new("ldap://127.0.0.1:389")
        .await
        .expect("connect");
    ldap3::drive!(conn);
    ldap.simple_bind(&Dc::admin_dn(), ADMIN_PW)
        .await
        .expect("bind")
        .success()
        .expect("bind ok");
    let (rs, _) = ldap
        .search(
            &format!("CN=Users,{BASE}"),
            Scope::OneLevel,
            &format!("(userPrincipalName={upn})"),
            vec!["userAccountControl"],
        )
        .await
        .expect("search")
        .success()
        .expect("search ok");
    let e = SearchEntry::construct(rs.into_iter().next().expect("the user"));
    e.attrs["userAccountControl"][0].parse().expect("uac")
}

/// A connection bound as Administrator, for checks and writes behind the gateway's back.
async fn admin() -> ldap3::Ldap {
    let (conn, mut ldap) = ldap3::LdapConnAsync::new("ldap://127.0.0.1:389")
        .await
        .expect("connect");
    ldap3::drive!(conn);
    ldap.simple_bind(&Dc::admin_dn(), ADMIN_PW)
        .await
        .expect("bind")
        .success()
        .expect("bind ok");
    ldap
}

/// The entries of CN=Users matching `filter` (one level), with `attrs`.
async fn users_where(ldap: &mut ldap3::Ldap, filter: &str, attrs: Vec<&str>) -> Vec<ldap3::SearchEntry> {
    let (rs, _) = ldap
        .search(&format!("CN=Users,{BASE}"), ldap3::Scope::OneLevel, filter, attrs)
        .await
        .expect("search")
        .success()
        .expect("search ok");
    rs.into_iter().map(ldap3::SearchEntry::construct).collect()
}

/// The one entry whose userPrincipalName is `upn`.
async fn by_upn(upn: &str, attrs: Vec<&str>) -> ldap3::SearchEntry {
    let mut ldap = admin().await;
    let mut found = users_where(
        &mut ldap,
        &format!("(userPrincipalName={})", ldap3::ldap_escape(upn)),
        attrs,
    )
    .await;
    let _ = ldap.unbind().await;
    assert_eq!(found.len(), 1, "one entry with UPN {upn}");
    found.remove(0)
}

/// The text values of `name` (attribute names compared without case).
fn text_attr<'a>(e: &'a ldap3::SearchEntry, name: &str) -> Option<&'a Vec<String>> {
    e.attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// `objectGUID` as AD shows it (the first three groups little-endian), the gateway's id.
/// A GUID whose 16 bytes happen to be valid UTF-8 lands in `attrs`, not `bin_attrs`.
fn guid_of(e: &ldap3::SearchEntry) -> String {
    let bytes = e
        .bin_attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("objectGUID"))
        .map(|(_, v)| v[0].clone())
        .or_else(|| text_attr(e, "objectGUID").map(|v| v[0].as_bytes().to_vec()))
        .unwrap_or_else(|| panic!("{} has no objectGUID", e.dn));
    uuid::Uuid::from_slice_le(&bytes).expect("16 bytes").to_string()
}

/// What `[User.compute] sAMAccountName` should give without externalId: the UPN's local
/// part without `"/\[]:;|=,+*?<>`, at most 20 characters.
fn expected_sam(upn: &str) -> String {
    let local = upn.split_once('@').map_or(upn, |(l, _)| l);
    local
        .chars()
        .filter(|c| !"\"/\\[]:;|=,+*?<>".contains(*c))
        .take(20)
        .collect()
}

/// The member ids of a group through the gateway, as a set (GET `path`).
async fn member_set(gw: &Gateway, path: &str) -> BTreeSet<String> {
    let r = gw.get(path).await;
    assert_eq!(r.status, 200, "GET {path}: {}", r.body);
    r.body["members"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| m["value"].as_str().expect("member value").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// A user created inactive (no password) through the gateway; returns its id.
async fn inactive_user(gw: &Gateway, upn: &str, external_id: Option<&str>) -> crate::harness::Reply {
    let mut body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": upn,
        "active": false,
        "name": {"familyName": "Cline"},
    });
    if let Some(x) = external_id {
        body["externalId"] = json!(x);
    }
    gw.post("/Users", &body).await
}

/// Section 1: sAMAccountName is computed on create from the UPN when no externalId is sent, and two
/// UPNs with the same local part in different suffixes collide on it.
async fn sam_account_name(gw: &Gateway, t: &str) {
    let h = &t[3..9];
    // Forbidden characters inside the first 20, and a local part longer than 20 once cleaned.
    let upn = format!("{h}+c[1]christie.cline@corp.example.com");
    let r = inactive_user(gw, &upn, None).await;
    assert_eq!(r.status, 201, "create without externalId: {}", r.body);
    let id = r.id();
    let want = expected_sam(&upn);
    assert_eq!(want, format!("{h}c1christie.cli"), "the expectation itself");
    let e = by_upn(&upn, vec!["sAMAccountName", "objectGUID"]).await;
    assert_eq!(
        text_attr(&e, "sAMAccountName"),
        Some(&vec![want.clone()]),
        "sAMAccountName computed from the UPN: {:?}",
        e.attrs
    );
    assert_eq!(guid_of(&e), id, "the id is the objectGUID");
    // The gateway reads it back as externalId.
    let got = gw.get(&format!("/Users/{id}")).await;
    assert_eq!(got.body["externalId"], json!(want), "{}", got.body);

    // Every forbidden character, in a UPN (and so a CN) that needs DN escaping.
    let odd = format!("{h}a\"b/c\\d[e]f:g;h|i=j,k+l*m?n<o>p@corp.example.com");
    let r = inactive_user(gw, &odd, None).await;
    assert_eq!(r.status, 201, "create {odd:?}: {}", r.body);
    let e = by_upn(&odd, vec!["sAMAccountName"]).await;
    assert_eq!(
        text_attr(&e, "sAMAccountName"),
        Some(&vec![format!("{h}abcdefghijklmn")]),
        "{:?}",
        e.attrs
    );
    assert_eq!(expected_sam(&odd), format!("{h}abcdefghijklmn"));
    let got = gw.get(&format!("/Users/{}", r.id())).await;
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(got.body["userName"], json!(odd), "{}", got.body);

    // The README: AD refuses an enabled account without a password.
    let nopw = format!("{h}no.password@corp.example.com");
    let r = gw
        .post(
            "/Users",
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": nopw, "externalId": format!("n{h}"), "active": true}),
        )
        .await;
    // Samba differs from AD here: it takes userAccountControl 512 without a password.
    eprintln!("samba: an enabled user without a password -> {} {}", r.status, r.body);
    if r.status.is_success() {
        eprintln!("samba: its userAccountControl: {}", uac(&nopw).await);
    }

    // With externalId: that, verbatim.
    let upn_x = format!("{h}with.external.id@corp.example.com");
    let r = inactive_user(gw, &upn_x, Some(&format!("x{h}"))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let e = by_upn(&upn_x, vec!["sAMAccountName"]).await;
    assert_eq!(text_attr(&e, "sAMAccountName"), Some(&vec![format!("x{h}")]));

    // The same local part in another UPN suffix computes the same sAMAccountName.
    let other = format!("{h}+c[1]christie.cline@other.example.com");
    let r = inactive_user(gw, &other, None).await;
    eprintln!(
        "samba: same sAMAccountName in another UPN suffix -> {} {}",
        r.status, r.body
    );
    assert_eq!(r.status, 409, "collision on sAMAccountName: {}", r.body);
    assert_eq!(r.scim_type(), Some("uniqueness"), "{}", r.body);
    let mut ldap = admin().await;
    assert!(
        users_where(
            &mut ldap,
            &format!("(userPrincipalName={})", ldap3::ldap_escape(&other)),
            vec!["cn"]
        )
        .await
        .is_empty(),
        "nothing was created for the refused user"
    );
    // What Samba answers to a duplicate sAMAccountName itself (the gateway calls any 68 on
    // add a conflict on the RDN).
    let r = ldap
        .add(
            &format!("CN={h}dup,CN=Users,{BASE}"),
            vec![
                ("objectClass", HashSet::from(["user"])),
                ("sAMAccountName", HashSet::from([want.as_str()])),
            ],
        )
        .await
        .expect("add");
    eprintln!(
        "samba: a direct add with a taken sAMAccountName -> rc {} {:?}",
        r.rc, r.text
    );
    assert_eq!(r.rc, 68, "entryAlreadyExists, as AD (ERROR_USER_EXISTS)");
    let _ = ldap.unbind().await;
    // With an externalId of its own it goes through.
    let r = inactive_user(gw, &other, Some(&format!("o{h}"))).await;
    assert_eq!(r.status, 201, "{}", r.body);
}

/// Section 2: a group with more members than AD's MaxValRange (1500): the gateway follows
/// `member;range=` and returns them all; PATCH add/remove of one member on such a group.
async fn range_retrieval(gw: &Gateway, t: &str) {
    const N: usize = 1600;
    const WORKERS: usize = 8;
    let h = &t[3..11];
    let cn = |i: usize| format!("{t}b{i:04}");
    let dn = |i: usize| format!("CN={},CN=Users,{BASE}", cn(i));
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for w in 0..WORKERS {
        let t = t.to_owned();
        let h = h.to_owned();
        set.spawn(async move {
            let mut ldap = admin().await;
            for i in (w..N).step_by(WORKERS) {
                let cn = format!("{t}b{i:04}");
                let sam = format!("b{h}{i:04}");
                let upn = format!("{cn}@corp.example.com");
                ldap.add(
                    &format!("CN={cn},CN=Users,{BASE}"),
                    vec![
                        (
                            "objectClass",
                            HashSet::from(["top", "person", "organizationalPerson", "user"]),
                        ),
                        ("cn", HashSet::from([cn.as_str()])),
                        ("sAMAccountName", HashSet::from([sam.as_str()])),
                        ("userPrincipalName", HashSet::from([upn.as_str()])),
                    ],
                )
                .await
                .expect("add")
                .success()
                .unwrap_or_else(|e| panic!("add {cn}: {e}"));
            }
            let _ = ldap.unbind().await;
        });
    }
    while let Some(r) = set.join_next().await {
        r.expect("add worker");
    }
    eprintln!("samba: {N} users added over LDAP in {:?}", started.elapsed());

    // Their ids, read directly, 100 per search (under Samba's MaxPageSize of 1000).
    let mut ldap = admin().await;
    let mut all = BTreeSet::new();
    for k in 0..N.div_ceil(100) {
        for e in users_where(&mut ldap, &format!("(cn={t}b{k:02}*)"), vec!["objectGUID"]).await {
            all.insert(guid_of(&e));
        }
    }
    assert_eq!(all.len(), N, "every bulk user read back");

    let r = gw
        .post(
            "/Groups",
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": format!("{t}Big")}),
        )
        .await;
    assert_eq!(r.status, 201, "group: {}", r.body);
    let gid = r.id();
    let gdn = format!("CN={t}Big,CN=Users,{BASE}");
    for chunk in (0..N).collect::<Vec<_>>().chunks(200) {
        let dns: Vec<String> = chunk.iter().map(|&i| dn(i)).collect();
        ldap.modify(
            &gdn,
            vec![ldap3::Mod::Add(
                "member",
                dns.iter().map(String::as_str).collect::<HashSet<_>>(),
            )],
        )
        .await
        .expect("modify")
        .success()
        .expect("add members");
    }
    // What Samba itself does with a plain read of 1600 values (AD: member;range=0-1499).
    let (rs, _) = ldap
        .search(&gdn, ldap3::Scope::Base, "(objectClass=*)", vec!["member"])
        .await
        .expect("search")
        .success()
        .expect("read group");
    let raw = ldap3::SearchEntry::construct(rs.into_iter().next().expect("the group"));
    let shape: Vec<(String, usize)> = raw.attrs.iter().map(|(k, v)| (k.clone(), v.len())).collect();
    eprintln!("samba: a plain read of `member` returns {shape:?}");

    let started = Instant::now();
    let got = member_set(gw, &format!("/Groups/{gid}")).await;
    eprintln!("samba: GET of a {N}-member group took {:?}", started.elapsed());
    assert_eq!(got.len(), N, "all {N} members");
    assert_eq!(got, all, "exactly the bulk users' objectGUIDs");
    assert_eq!(member_set(gw, &format!("/Groups/{gid}?attributes=members")).await, all);
    let r = gw.get(&format!("/Groups/{gid}?excludedAttributes=members")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body.get("members").is_none(),
        "excludedAttributes=members: {}",
        r.body
    );
    assert_eq!(r.body["displayName"], json!(format!("{t}Big")), "{}", r.body);
    // The list form too.
    let r = gw
        .get(&format!(
            "/Groups?filter={}&attributes=members",
            crate::harness::enc(&format!("displayName eq \"{t}Big\""))
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let listed: BTreeSet<String> = r.body["Resources"][0]["members"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|m| m["value"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(listed, all, "members in a list response");

    // PATCH: add one, remove one.
    let upn = format!("{t}joiner@corp.example.com");
    let r = inactive_user(gw, &upn, Some(&format!("j{h}"))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let joiner = r.id();
    let leaver = all.iter().nth(777).expect("a member").clone();
    let r = gw
        .patch_ops(
            &format!("/Groups/{gid}"),
            json!([
                {"op": "add", "path": "members", "value": [{"value": joiner}]},
                {"op": "remove", "path": "members", "value": [{"value": leaver}]},
            ]),
        )
        .await;
    assert!(r.status.is_success(), "patch: {}", r.body);
    let mut want = all.clone();
    want.insert(joiner.clone());
    want.remove(&leaver);
    let got = member_set(gw, &format!("/Groups/{gid}")).await;
    assert_eq!(got.len(), N, "one in, one out");
    assert_eq!(got, want, "exactly the expected members after the PATCH");
    // Directly: the member attribute, all ranges.
    let (rs, _) = ldap
        .search(&gdn, ldap3::Scope::Base, "(objectClass=*)", vec!["member;range=0-*"])
        .await
        .expect("search")
        .success()
        .expect("read group");
    let raw = ldap3::SearchEntry::construct(rs.into_iter().next().expect("the group"));
    let n: usize = raw.attrs.values().map(Vec::len).sum();
    assert_eq!(
        n,
        N,
        "the directory holds {N} members: {:?}",
        raw.attrs.keys().collect::<Vec<_>>()
    );
    // memberOf of a member of the big group, and of the one that left.
    let u = gw.get(&format!("/Users/{joiner}")).await;
    assert_eq!(u.body["groups"][0]["value"], json!(gid), "{}", u.body);
    let u = gw.get(&format!("/Users/{leaver}")).await;
    assert_eq!(u.status, 200, "{}", u.body);
    assert!(u.body.get("groups").is_none(), "{}", u.body);
    let _ = ldap.unbind().await;
}

/// Section 3: enterprise:manager is a DN reference to another user; after the manager's entry is
/// deleted behind the gateway's back the user still reads.
async fn manager_reference(gw: &Gateway, t: &str) {
    let h = &t[3..11];
    let boss_upn = format!("{t}boss@corp.example.com");
    let r = inactive_user(gw, &boss_upn, Some(&format!("m{h}"))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let boss = r.id();
    let emp_upn = format!("{t}employee@corp.example.com");
    let r = inactive_user(gw, &emp_upn, Some(&format!("e{h}"))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let emp = r.id();
    let r = gw
        .patch_ops(
            &format!("/Users/{emp}"),
            json!([{"op": "replace", "path": format!("{ENTERPRISE}:manager"), "value": {"value": boss}}]),
        )
        .await;
    assert!(r.status.is_success(), "set manager: {}", r.body);
    let got = gw.get(&format!("/Users/{emp}")).await;
    assert_eq!(got.body[ENTERPRISE]["manager"]["value"], json!(boss), "{}", got.body);
    let boss_dn = format!("CN={boss_upn},CN=Users,{BASE}");
    let e = by_upn(&emp_upn, vec!["manager"]).await;
    assert!(
        text_attr(&e, "manager").is_some_and(|v| v.len() == 1 && v[0].eq_ignore_ascii_case(&boss_dn)),
        "manager is the boss's DN: {:?}",
        e.attrs
    );
    let b = by_upn(&boss_upn, vec!["directReports"]).await;
    eprintln!(
        "samba: the manager's directReports: {:?}",
        text_attr(&b, "directReports")
    );
    let r = gw
        .filter("/Users", &format!("{ENTERPRISE}:manager.value eq \"{boss}\""))
        .await;
    assert_eq!(ids(&r.body), vec![emp.clone()], "{}", r.body);

    // Delete the manager directly.
    let mut ldap = admin().await;
    ldap.delete(&boss_dn)
        .await
        .expect("delete")
        .success()
        .expect("delete the manager");
    let _ = ldap.unbind().await;
    let e = by_upn(&emp_upn, vec!["manager"]).await;
    eprintln!(
        "samba: after deleting the manager, the user's manager attribute is {:?}",
        text_attr(&e, "manager")
    );
    let got = gw.get(&format!("/Users/{emp}")).await;
    assert_eq!(got.status, 200, "the user still reads: {}", got.body);
    assert!(
        got.body.get(ENTERPRISE).is_none_or(|x| x.get("manager").is_none()),
        "no manager any more: {}",
        got.body
    );
    assert_eq!(gw.get(&format!("/Users/{boss}")).await.status, 404);
    let r = gw
        .filter("/Users", &format!("{ENTERPRISE}:manager.value eq \"{boss}\""))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(ids(&r.body).is_empty(), "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_directory_profile_against_samba() {
    if std::env::var("SCIMGATE_SAMBA_AD").as_deref() != Ok("1") {
        eprintln!("SKIPPED: set SCIMGATE_SAMBA_AD=1 to run the Samba AD DC test (root, ports 389/636)");
        return;
    }
    let dc = tokio::task::spawn_blocking(Dc::start)
        .await
        .expect("join")
        .unwrap_or_else(|e| panic!("Samba AD DC: {e}"));
    let gw = ad_gateway(&dc).await;
    let t = tag("ad");
    let upn = format!("{t}adele@corp.example.com");
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "userName": upn,
        "externalId": "adele",
        "active": true,
        "password": "Str0ng-Passw0rd!",
        "displayName": "Adele Vance",
        "name": {"givenName": "Adele", "familyName": "Vance"},
        "emails": [{"value": upn, "type": "work"}],
        ENTERPRISE: {"department": "Retail", "employeeNumber": "42"}
    });
    let r = gw.post("/Users", &body).await;
    assert_eq!(r.status, 201, "create: {}", r.body);
    let id = r.id();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "objectGUID as a GUID string: {id}");
    assert_eq!(r.body["active"], json!(true), "{}", r.body);
    assert_eq!(r.body["externalId"], json!("adele"));
    assert_eq!(uac(&upn).await & 2, 0, "enabled");
    let e = by_upn(&upn, vec!["sAMAccountName", "objectGUID"]).await;
    assert_eq!(
        text_attr(&e, "sAMAccountName"),
        Some(&vec!["adele".to_owned()]),
        "sAMAccountName is the externalId"
    );
    assert_eq!(guid_of(&e), id, "the id is the objectGUID as AD shows it");
    bind(&upn, "Str0ng-Passw0rd!")
        .await
        .expect("the new user binds with its UPN");
    let got = gw.get(&format!("/Users/{id}")).await;
    assert_eq!(got.status, 200, "{}", got.body);

    // Disable: the ACCOUNTDISABLE bit only.
    let before = uac(&upn).await;
    let r = gw
        .patch_ops(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "path": "active", "value": false}]),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    assert_eq!(uac(&upn).await, before | 2, "only bit 0x2 set");
    assert!(
        bind(&upn, "Str0ng-Passw0rd!").await.is_err(),
        "a disabled account does not bind"
    );
    let r = gw
        .filter("/Users", &format!("userName eq \"{upn}\" and active eq false"))
        .await;
    assert_eq!(ids(&r.body), vec![id.clone()], "{}", r.body);
    let r = gw
        .patch_ops(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "path": "active", "value": true}]),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    assert_eq!(uac(&upn).await, before);

    // Groups and membership.
    let r = gw
        .post("/Groups", &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": format!("{t}Retail"), "members": [{"value": id}]}))
        .await;
    assert_eq!(r.status, 201, "group: {}", r.body);
    let gid = r.id();
    let u = gw.get(&format!("/Users/{id}")).await;
    assert_eq!(u.body["groups"][0]["value"], json!(gid), "memberOf: {}", u.body);
    let r = gw
        .patch_ops(
            &format!("/Groups/{gid}"),
            json!([{"op": "remove", "path": "members", "value": [{"value": id}]}]),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    let g = gw.get(&format!("/Groups/{gid}")).await;
    assert!(
        g.body
            .get("members")
            .is_none_or(|m| m.as_array().is_some_and(|a| a.is_empty())),
        "{}",
        g.body
    );

    // Rename (the RDN is cn = userName).
    let upn2 = format!("{t}adele.vance@corp.example.com");
    let r = gw
        .patch_ops(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "path": "userName", "value": upn2}]),
        )
        .await;
    assert!(r.status.is_success(), "rename: {}", r.body);
    assert_eq!(gw.get(&format!("/Users/{id}")).await.body["userName"], json!(upn2));

    assert_eq!(gw.delete(&format!("/Groups/{gid}")).await.status, 204);
    assert_eq!(gw.delete(&format!("/Users/{id}")).await.status, 204);
    assert_eq!(gw.get(&format!("/Users/{id}")).await.status, 404);

    sam_account_name(&gw, &t).await;
    manager_reference(&gw, &t).await;
    range_retrieval(&gw, &t).await;
    drop(gw);
    drop(dc);
}
