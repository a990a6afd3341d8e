//! A throwaway OpenLDAP server for tests (`/work/shared/BACKENDS.md`, "The fixture pattern").
//!
//! temp dir → free loopback port → `cn=config` built offline with `slapadd -n 0` → optional
//! offline seed with `slapadd -n 1` → `slapd -d 0` in the foreground → readiness probe with a
//! deadline (a new port when the first one was taken meanwhile). The server has the schemas
//! core, cosine, inetorgperson and nis; the modules back_mdb, memberof, refint, ppolicy and
//! sssvlv; one mdb database `dc=example,dc=org` (rootdn `cn=admin,dc=example,dc=org`,
//! password [`ADMIN_PW`]); `olcSizeLimit: 500`; and a read-only `cn=Monitor` database for
//! counting operations.
//!
//! With [`Options::tls`] it also serves StartTLS and `ldaps://` (a second port), with a server
//! certificate for its loopback address from a throwaway CA made with the `openssl` CLI.
//!
//! slapd is started by a small `sh` supervisor that holds the read end of a pipe from the
//! test process: when the test binary exits by any route (a panic, a statics-never-dropped
//! exit, SIGKILL), the pipe closes and the supervisor sends SIGTERM to *that* slapd pid and
//! waits for it, then removes the data directory (statics are never dropped, so this is
//! also the clean-up of a fixture shared by a whole test binary). `Drop` and [`Slapd::stop`]
//! stop it explicitly. Nothing is ever killed by name.
//!
//! Shared by `tests/ldap` and `tests/contract` (through `#[path]`).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const SLAPD: &str = "/usr/sbin/slapd";
pub const SLAPADD: &str = "/usr/sbin/slapadd";
pub const SUFFIX: &str = "dc=example,dc=org";
pub const ADMIN_DN: &str = "cn=admin,dc=example,dc=org";
pub const ADMIN_PW: &str = "admin-secret";
pub const PEOPLE: &str = "ou=people,dc=example,dc=org";
pub const GROUPS: &str = "ou=groups,dc=example,dc=org";
/// The entry a group with no members holds in `member` (groupOfNames requires one).
pub const PLACEHOLDER: &str = "cn=empty-membership,dc=example,dc=org";
/// The server's size limit: a search past it must use the paged results control.
pub const SIZE_LIMIT: usize = 500;

/// Whether slapd (and slapadd) are installed.
pub fn installed() -> bool {
    Path::new(SLAPD).exists() && Path::new(SLAPADD).exists()
}

/// `true` when the tests may use slapd. Without it: a skip message, or a failure when
/// `SCIMGATE_REQUIRE_LDAP=1` (tests/run-all.sh installs slapd and sets it).
pub fn available_or_skip(what: &str) -> bool {
    if installed() {
        return true;
    }
    assert!(
        std::env::var("SCIMGATE_REQUIRE_LDAP").as_deref() != Ok("1"),
        "SCIMGATE_REQUIRE_LDAP=1 but slapd is not installed (apt-get install slapd ldap-utils)"
    );
    eprintln!("SKIPPED: slapd not installed ({what})");
    false
}

/// What to load offline before the first start.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// LDIF added with `slapadd -n 1` after the base entries (no overlays run: no memberOf).
    pub seed: String,
    /// Also serve TLS: StartTLS on the `ldap://` port and `ldaps://` on a second port, with a
    /// server certificate issued by a throwaway CA ([`Slapd::ca_file`]).
    pub tls: bool,
}

struct Running {
    supervisor: Child,
    stdin: Option<ChildStdin>,
    pid: u32,
}

/// One running (or stopped) slapd with its data directory.
pub struct Slapd {
    dir: tempfile::TempDir,
    /// A loopback address of this instance's own (127.0.x.y): a port freed and reused by a
    /// server another test started in parallel can never be mistaken for this one.
    host: String,
    port: u16,
    /// The `ldaps://` port, when started with [`Options::tls`].
    tls_port: Option<u16>,
    running: Mutex<Option<Running>>,
}

fn free_port(host: &str) -> u16 {
    let l = TcpListener::bind((host, 0)).expect("bind a loopback port");
    l.local_addr().expect("local addr").port()
}

fn own_loopback_host() -> String {
    let id = uuid::Uuid::new_v4();
    format!("127.0.{}.{}", id.as_bytes()[0], id.as_bytes()[1].max(1))
}

/// The base entries every instance has: the suffix, the two OUs, the placeholder member and
/// a default password policy (with `pwdLockout`, so `pwdAccountLockedTime` locks the
/// account; no lockout after failures).
pub fn base_ldif() -> String {
    format!(
        "dn: {SUFFIX}
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: {PEOPLE}
objectClass: organizationalUnit
ou: people

dn: {GROUPS}
objectClass: organizationalUnit
ou: groups

dn: {PLACEHOLDER}
objectClass: organizationalRole
cn: empty-membership
description: placeholder member of groups that have no members

dn: ou=policies,{SUFFIX}
objectClass: organizationalUnit
ou: policies

dn: cn=default,ou=policies,{SUFFIX}
objectClass: device
objectClass: pwdPolicy
cn: default
pwdAttribute: userPassword
pwdLockout: TRUE
pwdMaxFailure: 0
pwdAllowUserChange: TRUE
"
    )
}

/// Where a TLS instance keeps its CA and server certificate (PEM), under its directory.
fn tls_dir(dir: &Path) -> PathBuf {
    dir.join("tls")
}

/// A fresh throwaway CA in `dir` (`ca.pem`, `ca.key`) and a server certificate it signs
/// (`server.pem`, `server.key`) for `host` as an IP address subjectAltName, plus DNS
/// `localhost`. Over files already there: the old CA no longer verifies the new certificate.
/// P-256 keys, written as unencrypted PKCS#8 PEM, which GnuTLS (Debian's slapd) reads.
fn issue_certificates(dir: &Path, host: &str) {
    std::fs::create_dir_all(dir).expect("mkdir tls");
    // A CA name of its own: a replaced CA is then another issuer, not another key under the
    // name the client already trusts.
    let ca_name = format!("scimgate test CA {}", uuid::Uuid::new_v4().simple());
    let ca_config = format!(
        "[req]
distinguished_name = dn
x509_extensions = ca
prompt = no
[dn]
CN = {ca_name}
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
"
    );
    let server_extensions = format!(
        "basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:{host}, DNS:localhost
authorityKeyIdentifier = keyid
"
    );
    std::fs::write(dir.join("ca.cnf"), ca_config).expect("write ca.cnf");
    std::fs::write(dir.join("server.ext"), server_extensions).expect("write server.ext");
    let openssl = |args: &[&str], what: &str| run(Command::new("openssl").current_dir(dir).args(args), what);
    let new_p256_key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    openssl(
        &[
            &["req", "-x509", "-config", "ca.cnf"],
            &new_p256_key[..],
            &["-keyout", "ca.key", "-out", "ca.pem", "-days", "2"],
        ]
        .concat(),
        "openssl: the test CA",
    );
    openssl(
        &[
            &["req", "-new", "-subj", &format!("/CN={host}")],
            &new_p256_key[..],
            &["-keyout", "server.key", "-out", "server.csr"],
        ]
        .concat(),
        "openssl: the server key and request",
    );
    let serial = format!("0x{}", uuid::Uuid::new_v4().simple());
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            &serial,
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.pem",
        ],
        "openssl: the server certificate",
    );
}

fn config_ldif(dir: &Path, tls: bool) -> String {
    let data = dir.join("data");
    let d = dir.display();
    let tls = if tls {
        let t = tls_dir(dir);
        format!(
            "olcTLSCACertificateFile: {ca}\nolcTLSCertificateFile: {cert}\nolcTLSCertificateKeyFile: {key}\n",
            ca = t.join("ca.pem").display(),
            cert = t.join("server.pem").display(),
            key = t.join("server.key").display(),
        )
    } else {
        String::new()
    };
    format!(
        "dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: {d}/slapd.pid
olcArgsFile: {d}/slapd.args
olcSizeLimit: {SIZE_LIMIT}
olcLogLevel: none
{tls}
dn: cn=module{{0}},cn=config
objectClass: olcModuleList
cn: module{{0}}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb
olcModuleLoad: memberof
olcModuleLoad: refint
olcModuleLoad: ppolicy
olcModuleLoad: sssvlv

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file:///etc/ldap/schema/core.ldif

include: file:///etc/ldap/schema/cosine.ldif

include: file:///etc/ldap/schema/inetorgperson.ldif

include: file:///etc/ldap/schema/nis.ldif

dn: olcDatabase={{-1}}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {{-1}}frontend

dn: olcDatabase={{0}}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {{0}}config
olcRootDN: cn=admin,cn=config

dn: olcDatabase={{1}}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {{1}}mdb
olcSuffix: {SUFFIX}
olcDbDirectory: {data}
olcRootDN: {ADMIN_DN}
olcRootPW: {ADMIN_PW}
olcDbMaxSize: 1073741824
olcDbNoSync: TRUE
olcDbIndex: objectClass eq
olcDbIndex: uid eq,sub
olcDbIndex: cn eq,sub
olcDbIndex: mail eq,sub
olcDbIndex: member eq
olcDbIndex: memberOf eq
olcDbIndex: entryUUID eq
olcDbIndex: entryCSN eq
olcAccess: to attrs=userPassword by self write by anonymous auth by * none
olcAccess: to * by * read

dn: olcOverlay={{0}}memberof,olcDatabase={{1}}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcMemberOf
olcOverlay: {{0}}memberof
olcMemberOfRefInt: TRUE
olcMemberOfGroupOC: groupOfNames
olcMemberOfMemberAD: member
olcMemberOfMemberOfAD: memberOf

dn: olcOverlay={{1}}refint,olcDatabase={{1}}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcRefintConfig
olcOverlay: {{1}}refint
olcRefintAttribute: member
olcRefintNothing: {PLACEHOLDER}

dn: olcOverlay={{2}}ppolicy,olcDatabase={{1}}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcPPolicyConfig
olcOverlay: {{2}}ppolicy
olcPPolicyDefault: cn=default,ou=policies,{SUFFIX}
olcPPolicyHashCleartext: TRUE

dn: olcOverlay={{3}}sssvlv,olcDatabase={{1}}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcSssVlvConfig
olcOverlay: {{3}}sssvlv

dn: olcDatabase={{2}}monitor,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {{2}}monitor
olcAccess: to * by dn.exact=\"{ADMIN_DN}\" read by * none
",
        data = data.display(),
    )
}

fn run(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Slapd {
    /// Starts an instance with the base entries only.
    pub fn start() -> Slapd {
        Self::start_with(Options::default())
    }

    /// Starts an instance; `options.seed` is loaded offline first (fast, but no overlays).
    pub fn start_with(options: Options) -> Slapd {
        let parent = std::env::var_os("SCIMGATE_LDAP_TMPDIR")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        let dir = tempfile::Builder::new()
            .prefix("scimgate-slapd-")
            .tempdir_in(parent)
            .expect("temp dir");
        let root = dir.path();
        std::fs::create_dir_all(root.join("slapd.d")).expect("mkdir slapd.d");
        std::fs::create_dir_all(root.join("data")).expect("mkdir data");
        let host = own_loopback_host();
        if options.tls {
            issue_certificates(&tls_dir(root), &host);
        }
        std::fs::write(root.join("config.ldif"), config_ldif(root, options.tls)).expect("write config.ldif");
        run(
            Command::new(SLAPADD)
                .args(["-n", "0", "-F"])
                .arg(root.join("slapd.d"))
                .arg("-l")
                .arg(root.join("config.ldif")),
            "slapadd -n 0 (cn=config)",
        );
        let mut seed = base_ldif();
        if !options.seed.trim().is_empty() {
            seed.push('\n');
            seed.push_str(&options.seed);
        }
        std::fs::write(root.join("seed.ldif"), seed).expect("write seed.ldif");
        run(
            Command::new(SLAPADD)
                .args(["-q", "-n", "1", "-F"])
                .arg(root.join("slapd.d"))
                .arg("-l")
                .arg(root.join("seed.ldif")),
            "slapadd -n 1 (seed)",
        );
        let s = Slapd {
            dir,
            host,
            port: 0,
            tls_port: options.tls.then_some(0),
            running: Mutex::new(None),
        };
        s.launch_on_free_port()
    }

    fn launch_on_free_port(mut self) -> Slapd {
        let mut last = String::new();
        for _ in 0..8 {
            self.port = free_port(&self.host);
            if self.tls_port.is_some() {
                self.tls_port = Some(free_port(&self.host));
            }
            match self.launch() {
                Ok(r) => {
                    *self.running.lock().unwrap() = Some(r);
                    return self;
                }
                // The port was taken between the probe and slapd's bind: try another one.
                Err(e) => last = e,
            }
        }
        panic!("slapd did not start: {last}");
    }

    /// Spawns slapd on `self.port` under the supervisor and waits until it answers.
    fn launch(&self) -> Result<Running, String> {
        let root = self.dir.path();
        let log = root.join("slapd.log");
        let listen = match self.tls_port {
            Some(_) => format!("{} {}", self.url(), self.ldaps_url()),
            None => self.url(),
        };
        // The supervisor: starts slapd, prints its pid, then blocks on stdin. EOF (the test
        // process closed the pipe or exited) → SIGTERM to that pid, wait for it.
        let script = r#"
"$0" "$@" </dev/null >&2 &
pid=$!
echo "$pid"
cat >/dev/null
kill -TERM "$pid" 2>/dev/null
wait "$pid"
if [ -f "$SLAPD_DIR/.remove-on-exit" ]; then rm -rf "$SLAPD_DIR"; fi
"#;
        std::fs::write(root.join(".remove-on-exit"), "").map_err(|e| e.to_string())?;
        let mut supervisor = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg(SLAPD)
            .arg("-F")
            .arg(root.join("slapd.d"))
            .arg("-h")
            .arg(&listen)
            .args(["-d", "0"])
            .env("SLAPD_DIR", root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).map_err(|e| e.to_string())?)
            .spawn()
            .map_err(|e| format!("spawn slapd: {e}"))?;
        let mut out = supervisor.stdout.take().expect("stdout");
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        while out.read(&mut byte).map_err(|e| e.to_string())? == 1 && byte[0] != b'\n' {
            line.push(byte[0]);
        }
        let pid: u32 = String::from_utf8_lossy(&line)
            .trim()
            .parse()
            .map_err(|_| "the supervisor printed no pid".to_string())?;
        let stdin = supervisor.stdin.take();
        let mut running = Running { supervisor, stdin, pid };
        let deadline = Instant::now() + Duration::from_secs(10);
        let addr: SocketAddr = format!("{}:{}", self.host, self.port).parse().expect("addr");
        loop {
            if !pid_alive(pid) {
                stop_running(&mut running);
                let log = std::fs::read_to_string(&log).unwrap_or_default();
                return Err(format!("slapd exited on port {}: {log}", self.port));
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
                && self.probe()
                && self
                    .tls_port
                    .is_none_or(|p| TcpStream::connect((self.host.as_str(), p)).is_ok())
            {
                return Ok(running);
            }
            if Instant::now() > deadline {
                stop_running(&mut running);
                return Err(format!("slapd on port {} not ready after 10 s", self.port));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// An anonymous LDAP bind followed by a base search of the rootDSE, over a raw socket
    /// (no client library needed): the server answers LDAP, not just TCP.
    fn probe(&self) -> bool {
        let Ok(mut s) = TcpStream::connect((self.host.as_str(), self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
        // BindRequest, messageID 1, version 3, name "", simple "".
        let bind = [
            0x30, 0x0c, 0x02, 0x01, 0x01, 0x60, 0x07, 0x02, 0x01, 0x03, 0x04, 0x00, 0x80, 0x00,
        ];
        if s.write_all(&bind).is_err() {
            return false;
        }
        let mut buf = [0u8; 64];
        // BindResponse (0x61) with resultCode 0.
        matches!(s.read(&mut buf), Ok(n) if n >= 14 && buf[5] == 0x61 && buf[9] == 0x00)
    }

    pub fn url(&self) -> String {
        format!("ldap://{}:{}/", self.host, self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The `ldaps://` URL of an instance started with [`Options::tls`].
    pub fn ldaps_url(&self) -> String {
        let port = self
            .tls_port
            .expect("ldaps_url: slapd was started without Options::tls");
        format!("ldaps://{}:{port}/", self.host)
    }

    /// The PEM file of the CA that issued the server's certificate ([`Options::tls`]).
    pub fn ca_file(&self) -> PathBuf {
        assert!(
            self.tls_port.is_some(),
            "ca_file: slapd was started without Options::tls"
        );
        tls_dir(self.dir.path()).join("ca.pem")
    }

    /// Replaces the CA and the server certificate with new ones (same files) and restarts
    /// slapd, which reads them only at start: a client that trusts the old CA no longer
    /// trusts the server, and the restart closed every connection it had verified before.
    pub fn replace_ca(&self) {
        assert!(
            self.tls_port.is_some(),
            "replace_ca: slapd was started without Options::tls"
        );
        issue_certificates(&tls_dir(self.dir.path()), &self.host);
        self.restart();
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The pid of the running slapd, if it runs.
    pub fn pid(&self) -> Option<u32> {
        self.running.lock().unwrap().as_ref().map(|r| r.pid)
    }

    /// SIGTERM to slapd, and wait until it has exited. The data stays.
    pub fn stop(&self) {
        // Without the marker, the supervisor leaves the directory in place.
        let _ = std::fs::remove_file(self.dir.path().join(".remove-on-exit"));
        if let Some(mut r) = self.running.lock().unwrap().take() {
            stop_running(&mut r);
        }
    }

    /// Starts slapd again on the same port with the same data.
    pub fn restart(&self) {
        self.stop();
        let mut last = String::new();
        for _ in 0..50 {
            match self.launch() {
                Ok(r) => {
                    *self.running.lock().unwrap() = Some(r);
                    return;
                }
                Err(e) => {
                    last = e;
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
        panic!("slapd did not restart on port {}: {last}", self.port);
    }

    /// Adds entries online with `ldapadd` (overlays run: memberOf is maintained).
    pub fn ldapadd(&self, ldif: &str) {
        self.ldap_tool("ldapadd", ldif);
    }

    /// Applies an LDIF change set online with `ldapmodify`.
    pub fn ldapmodify(&self, ldif: &str) {
        self.ldap_tool("ldapmodify", ldif);
    }

    fn ldap_tool(&self, tool: &str, ldif: &str) {
        let mut child = Command::new(tool)
            .args(["-x", "-c", "-H", &self.url(), "-D", ADMIN_DN, "-w", ADMIN_PW])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{tool} (ldap-utils): {e}"));
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(ldif.as_bytes())
            .expect("write ldif");
        let out = child.wait_with_output().expect("wait");
        assert!(
            out.status.success(),
            "{tool} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A connection bound as the rootdn (ldap3), for checks behind the gateway's back.
    #[cfg(feature = "connector-ldap")]
    pub async fn admin(&self) -> ldap3::Ldap {
        self.bind_as(ADMIN_DN, ADMIN_PW)
            .await
            .unwrap_or_else(|e| panic!("admin bind: {e}"))
    }

    /// A connection bound as `dn`; `Err` when the bind fails (wrong password, locked).
    #[cfg(feature = "connector-ldap")]
    pub async fn bind_as(&self, dn: &str, password: &str) -> Result<ldap3::Ldap, String> {
        let (conn, mut ldap) = ldap3::LdapConnAsync::new(&self.url())
            .await
            .map_err(|e| e.to_string())?;
        ldap3::drive!(conn);
        let r = ldap.simple_bind(dn, password).await.map_err(|e| e.to_string())?;
        if r.rc != 0 {
            return Err(format!("bind {dn}: rc {} {}", r.rc, r.text));
        }
        Ok(ldap)
    }

    /// Completed operations per type (Search, Modify, Add, Delete, Modrdn, Extended, Bind,
    /// ...) from `cn=Monitor`. The monitor search itself counts as one Search once it has
    /// completed (so a difference of two readings includes the first reading).
    #[cfg(feature = "connector-ldap")]
    pub async fn op_counts(&self) -> std::collections::BTreeMap<String, u64> {
        use ldap3::{Scope, SearchEntry};
        let mut ldap = self.admin().await;
        let (entries, _) = ldap
            .search(
                "cn=Operations,cn=Monitor",
                Scope::OneLevel,
                "(objectClass=*)",
                vec!["monitorOpCompleted", "cn"],
            )
            .await
            .expect("monitor search")
            .success()
            .expect("monitor search result");
        let _ = ldap.unbind().await;
        entries
            .into_iter()
            .map(SearchEntry::construct)
            .map(|e| {
                let name = e.attrs.get("cn").and_then(|v| v.first()).cloned().unwrap_or_default();
                let n = e
                    .attrs
                    .get("monitorOpCompleted")
                    .and_then(|v| v.first())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                (name, n)
            })
            .collect()
    }
}

fn pid_alive(pid: u32) -> bool {
    // /proc/PID exists and the process is not a zombie.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// SIGTERM to that slapd pid (through the supervisor: closing its stdin), then wait.
fn stop_running(r: &mut Running) {
    // Direct SIGTERM to slapd's own pid, then let the supervisor reap it.
    let _ = Command::new("kill")
        .args(["-TERM", &r.pid.to_string()])
        .stderr(Stdio::null())
        .status();
    drop(r.stdin.take());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match r.supervisor.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => {
                // slapd ignored SIGTERM for 10 s: SIGKILL that pid, then the supervisor.
                let _ = Command::new("kill").args(["-KILL", &r.pid.to_string()]).status();
                let _ = r.supervisor.kill();
                let _ = r.supervisor.wait();
                break;
            }
        }
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `n` inetOrgPerson entries under `parent` named `{prefix}{i:05}` (for offline seeding).
pub fn bulk_users_ldif(parent: &str, prefix: &str, n: usize) -> String {
    let mut s = String::with_capacity(n * 200);
    for i in 0..n {
        let uid = format!("{prefix}{i:05}");
        s.push_str(&format!(
            "dn: uid={uid},{parent}\nobjectClass: top\nobjectClass: person\nobjectClass: organizationalPerson\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: Bulk {i}\nsn: {i:05}\ngivenName: Bulk\n\n"
        ));
    }
    s
}

/// Escapes a value for a DN attribute value (RFC 4514 §2.4).
pub fn dn_escape(v: &str) -> String {
    let mut out = String::new();
    let n = v.chars().count();
    for (i, c) in v.chars().enumerate() {
        match c {
            ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=' => {
                out.push('\\');
                out.push(c);
            }
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i + 1 == n => out.push_str("\\ "),
            '\0' => out.push_str("\\00"),
            c => out.push(c),
        }
    }
    out
}
