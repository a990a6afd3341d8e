//! The Active Directory profile (`mappings/active-directory/`) against a real Samba 4 AD DC,
//! only with `SCIMGATE_SAMBA_AD=1` (root, and the fixed ports 389/636/3268/3269 free; one DC
//! per machine). CI does not depend on it.
//!
//! Provision (~5 s) into a temp dir, `server services = ldap` only, simple binds allowed on
//! 389, then `samba -i -M single` in the foreground: in interactive mode samba exits when its
//! stdin closes, so the test holds the pipe and closes it to stop it (also when the test
//! process dies).

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
            "[global]\n\tserver services = ldap\n\tldap server require strong auth = no\n\tlog file = {}/log.samba\n\tpid directory = {}/pid\n",
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
    drop(gw);
    drop(dc);
}
