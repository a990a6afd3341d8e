//! LDAP benchmark of the OpenLDAP profile (`mappings/openldap/`): `cargo bench --bench ldap`.
//!
//! Two throwaway slapd instances (`tests/ldap/slapd.rs`) are seeded offline with slapadd: a
//! large one with `BENCH_LDAP_USERS` users (default 100,000), a group of 50,000 members
//! and empty groups for provisioning, and a small one with a tenth of the users. The release
//! `scimgate` binary serves the OpenLDAP profile in front of each. Every gateway figure is
//! reported next to the same work done directly with ldap3 from this process, in the same
//! run, at the same concurrency, over as many connections as the gateway's pool holds:
//! load generator, gateway and slapd share one machine, so only the ratios mean something.
//!
//! 1. `GET /Users?filter=userName eq "<random seeded uid>"` vs the search the gateway makes
//!    (same base, filter and attribute list, read from `scimgate map`), concurrency 16.
//! 2. The same at 100k and at 10k entries: latency ratio 100k/10k.
//! 3. One member added to (then removed from) a 50,000-member group: a PATCH vs a
//!    one-value modify, alternating, sequentially.
//! 4. Provisioning: users created with POST (concurrency 16), then added to groups with
//!    PATCH batches of 100, vs direct Adds of the same attributes (checked against
//!    `scimgate map --create`) and modify-adds of the same batches.
//!
//! Without `--bench` (`cargo test --all-targets`) it is a smoke run: 200 users, 0.3 s per
//! scenario, debug build, figures that mean nothing. Without /usr/sbin/slapd: SKIPPED.
//!
//! Environment: `BENCH_LDAP_USERS` (default 100000), `BENCH_LDAP_PROVISION` (default
//! 10000), `BENCH_SECONDS` (default 5) per scenario.

#[path = "../ldap/slapd.rs"]
mod slapd;

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::future::Future;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ldap3::{Ldap, Mod, Scope, SearchEntry};
use serde_json::{Value as Json, json};
use slapd::{ADMIN_DN, ADMIN_PW, GROUPS, PEOPLE, Slapd};

const TOKEN: &str = "bench-token";
/// Concurrent workers of the filter and create scenarios, and the gateway's pool size.
const CONCURRENCY: usize = 16;
/// Members per provisioning PATCH.
const BATCH: usize = 100;
const BIG_GROUP: usize = 50_000;
const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// What the OpenLDAP profile searches for `userName eq "X"`, X = [`PROBE`].
const EXPECTED_FILTER: &str = "(&(objectClass=inetOrgPerson)(uid=probe))";
const PROBE: &str = "probe";

fn main() {
    if !slapd::available_or_skip("bench ldap") {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

struct Sizes {
    smoke: bool,
    seconds: f64,
    warmup: f64,
    users: usize,
    small_users: usize,
    big_group: usize,
    provision: usize,
    prov_groups: usize,
}

impl Sizes {
    fn from_env() -> Sizes {
        let smoke = !std::env::args().any(|a| a == "--bench");
        let env = |name: &str, default: f64| {
            std::env::var(name)
                .ok()
                .and_then(|s| s.parse::<f64>().ok())
                .unwrap_or(default)
        };
        let users = if smoke {
            200
        } else {
            env("BENCH_LDAP_USERS", 100_000.0) as usize
        }
        .max(20);
        let provision = if smoke {
            200
        } else {
            env("BENCH_LDAP_PROVISION", 10_000.0) as usize
        }
        .max(1);
        let seconds = if smoke { 0.3 } else { env("BENCH_SECONDS", 5.0) };
        Sizes {
            smoke,
            seconds,
            warmup: if smoke { 0.1 } else { 1.0 },
            users,
            small_users: users / 10,
            // Half the users at most: the member added in scenario 3 must not be in it.
            big_group: BIG_GROUP.min(users / 2),
            provision,
            prov_groups: provision.div_ceil(BATCH).clamp(1, 10),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Seed data and the provisioned entries.

fn seed_uid(i: usize) -> String {
    format!("u-{i:05}")
}

fn seed_dn(i: usize) -> String {
    format!("uid={},{PEOPLE}", seed_uid(i))
}

/// Provisioned users: `pg-…` through the gateway, `pd-…` directly; both coexist.
fn prov_uid(side: &str, i: usize) -> String {
    format!("{side}-{i:05}")
}

fn prov_group(side: &str, g: usize) -> String {
    format!("prov-{side}-{g}")
}

/// `users` inetOrgPersons, a groupOfNames `big` holding the first `big_group` of them, and
/// `prov_groups` empty groups (the placeholder member) per provisioning side.
fn seed_ldif(users: usize, big_group: usize, prov_groups: usize) -> String {
    let mut s = slapd::bulk_users_ldif(PEOPLE, "u-", users);
    if big_group > 0 {
        s.reserve(big_group * 48);
        let _ = writeln!(
            s,
            "dn: cn=big,{GROUPS}\nobjectClass: top\nobjectClass: groupOfNames\ncn: big"
        );
        for i in 0..big_group {
            let _ = writeln!(s, "member: {}", seed_dn(i));
        }
        s.push('\n');
    }
    for side in ["pg", "pd"] {
        for g in 0..prov_groups {
            let cn = prov_group(side, g);
            let _ = writeln!(
                s,
                "dn: cn={cn},{GROUPS}\nobjectClass: top\nobjectClass: groupOfNames\ncn: {cn}\nmember: {}\n",
                slapd::PLACEHOLDER
            );
        }
    }
    s
}

/// The SCIM body of provisioned user `i`.
fn prov_body(uid: &str, i: usize) -> Json {
    json!({
        "schemas": [CORE_USER],
        "userName": uid,
        "active": true,
        "displayName": format!("Prov User {i}"),
        "name": {"givenName": "Prov", "familyName": format!("User {i}")},
        "emails": [{"value": format!("{uid}@example.com"), "type": "work", "primary": true}],
    })
}

/// The entry the gateway writes for [`prov_body`] (checked against `scimgate map --create`).
fn prov_attrs(uid: &str, i: usize) -> Vec<(&'static str, Vec<String>)> {
    vec![
        (
            "objectClass",
            ["top", "person", "organizationalPerson", "inetOrgPerson"]
                .into_iter()
                .map(String::from)
                .collect(),
        ),
        ("cn", vec![format!("Prov User {i}")]),
        ("displayName", vec![format!("Prov User {i}")]),
        ("givenName", vec!["Prov".into()]),
        ("mail", vec![format!("{uid}@example.com")]),
        ("sn", vec![format!("User {i}")]),
        ("uid", vec![uid.to_owned()]),
    ]
}

/// A well-spread, reproducible index in `0..m` for request `n` (the same sequence for the
/// gateway and the direct run).
fn pick(n: usize, m: usize) -> usize {
    let mut z = (n as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) % m as u64) as usize
}

// ---------------------------------------------------------------------------------------
// The gateway process.

struct Gateway {
    child: Child,
    /// `http://127.0.0.1:PORT/scim/v2`
    base: String,
    dir: tempfile::TempDir,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port")
}

/// The shipped OpenLDAP mappings and a scimgate.toml pointing at `s`, in a temp dir.
fn write_config(s: &Slapd) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let profile = Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings/openldap");
    for f in ["users.toml", "groups.toml"] {
        std::fs::copy(profile.join(f), dir.path().join(f)).expect("copy mapping");
    }
    let config = format!(
        r#"[auth]
tokens = ["{TOKEN}"]

[connectors.directory.ldap]
url = "{url}"
bind_dn = "{ADMIN_DN}"
bind_password = {{ env = "LDAP_BIND_PASSWORD" }}
page_size = 500
pool_size = {CONCURRENCY}

[endpoints.main]
path = "/scim/v2"
connector = "directory"
mappings = ["users.toml", "groups.toml"]
"#,
        url = s.url()
    );
    std::fs::write(dir.path().join("scimgate.toml"), config).expect("write scimgate.toml");
    dir
}

async fn start_gateway(s: &Slapd, client: &reqwest::Client) -> Gateway {
    let dir = write_config(s);
    let port = free_port();
    let log = std::fs::File::create(dir.path().join("gateway.log")).expect("log");
    let child = Command::new(env!("CARGO_BIN_EXE_scimgate"))
        .arg("serve")
        .arg("--config")
        .arg(dir.path().join("scimgate.toml"))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("LDAP_BIND_PASSWORD", ADMIN_PW)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn scimgate");
    let gw = Gateway {
        child,
        base: format!("http://127.0.0.1:{port}/scim/v2"),
        dir,
    };
    let started = Instant::now();
    loop {
        if let Ok(r) = client.get(format!("http://127.0.0.1:{port}/readyz")).send().await
            && r.status() == 200
        {
            return gw;
        }
        if started.elapsed() > Duration::from_secs(20) {
            let log = std::fs::read_to_string(gw.dir.path().join("gateway.log")).unwrap_or_default();
            panic!("the gateway did not become ready in 20 s:\n{log}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// `scimgate map --offline` with the bench's config.
fn map(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_scimgate"))
        .arg("map")
        .arg("--config")
        .arg(dir.join("scimgate.toml"))
        .arg("--offline")
        .args(args)
        .env("LDAP_BIND_PASSWORD", ADMIN_PW)
        .output()
        .expect("scimgate map");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "scimgate map {args:?}: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// The attribute list of the search the gateway makes for `userName eq "…"`, after checking
/// its base and filter are the ones the direct run uses.
fn filter_attrs(dir: &Path) -> Vec<String> {
    let text = map(
        dir,
        &[
            "--resource-type",
            "User",
            "--filter",
            &format!("userName eq \"{PROBE}\""),
        ],
    );
    let line = text
        .lines()
        .find(|l| l.starts_with("search "))
        .unwrap_or_else(|| panic!("no search in: {text}"));
    assert!(
        line.contains(&format!("base=\"{PEOPLE}\" scope=sub filter=\"{EXPECTED_FILTER}\"")),
        "the profile searches differently now: {line}"
    );
    let attrs = line
        .split_once("attrs=[")
        .and_then(|(_, rest)| rest.split_once(']'))
        .map(|(a, _)| a)
        .unwrap_or_else(|| panic!("no attrs in: {line}"));
    attrs.split(',').map(|a| a.trim().to_owned()).collect()
}

/// Checks that the direct Adds write what the gateway writes for the same body.
fn check_create_attrs(dir: &Path) {
    let uid = prov_uid("pg", 7);
    let file = dir.join("create.json");
    std::fs::write(&file, prov_body(&uid, 7).to_string()).expect("write body");
    let text = map(
        dir,
        &[
            "--resource-type",
            "User",
            "--create",
            file.to_str().expect("utf-8 path"),
        ],
    );
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(format!("dn: uid={uid},{PEOPLE}").as_str()), "{text}");
    assert_eq!(lines.next(), Some("changetype: add"), "{text}");
    let mut gateway: Vec<String> = lines
        .take_while(|l| !l.is_empty() && !l.starts_with("search ") && !l.starts_with("--"))
        .map(str::to_owned)
        .collect();
    let mut direct: Vec<String> = prov_attrs(&uid, 7)
        .into_iter()
        .flat_map(|(a, vs)| vs.into_iter().map(move |v| format!("{a}: {v}")))
        .collect();
    gateway.sort();
    direct.sort();
    assert_eq!(
        gateway, direct,
        "the gateway writes other attributes than the direct Adds"
    );
}

// ---------------------------------------------------------------------------------------
// Load generation.

#[derive(Debug, Clone, Default)]
struct Figures {
    requests: usize,
    errors: usize,
    first_error: Option<String>,
    elapsed: Duration,
    rps: f64,
    p50: Duration,
    p99: Duration,
    mean: Duration,
}

fn figures(mut latencies: Vec<Duration>, errors: Vec<String>, elapsed: Duration) -> Figures {
    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    let mean = if latencies.is_empty() {
        Duration::ZERO
    } else {
        latencies.iter().sum::<Duration>() / latencies.len() as u32
    };
    Figures {
        requests: latencies.len(),
        errors: errors.len(),
        first_error: errors.into_iter().next(),
        elapsed,
        rps: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: pct(0.50),
        p99: pct(0.99),
        mean,
    }
}

type Outcome = Result<(), String>;
type BoxedOutcome = std::pin::Pin<Box<dyn Future<Output = Outcome> + Send>>;

/// Runs `op(worker, n)` from `concurrency` workers for `seconds`; `n` counts the requests.
async fn load<F, Fut>(concurrency: usize, seconds: f64, op: F) -> Figures
where
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send,
{
    let op = Arc::new(op);
    let counter = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(seconds);
    let tasks: Vec<_> = (0..concurrency)
        .map(|w| {
            let (op, counter) = (op.clone(), counter.clone());
            tokio::spawn(async move {
                let (mut latencies, mut errors) = (Vec::new(), Vec::new());
                while Instant::now() < deadline {
                    let n = counter.fetch_add(1, Ordering::Relaxed);
                    let t = Instant::now();
                    if let Err(e) = op(w, n).await {
                        errors.push(e);
                    }
                    latencies.push(t.elapsed());
                }
                (latencies, errors)
            })
        })
        .collect();
    let (mut latencies, mut errors) = (Vec::new(), Vec::new());
    for t in tasks {
        let (l, e) = t.await.expect("worker");
        latencies.extend(l);
        errors.extend(e);
    }
    figures(latencies, errors, started.elapsed())
}

/// Runs jobs `0..total` from `concurrency` workers, worker `w` taking `w, w + c, w + 2c…`
/// in order; returns the figures and each job's value.
async fn jobs<T, F, Fut>(concurrency: usize, total: usize, op: F) -> (Figures, Vec<Option<T>>)
where
    T: Send + 'static,
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, String>> + Send,
{
    let op = Arc::new(op);
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency.min(total))
        .map(|w| {
            let op = op.clone();
            tokio::spawn(async move {
                let mut out = Vec::new();
                for n in (w..total).step_by(concurrency) {
                    let t = Instant::now();
                    let r = op(w, n).await;
                    out.push((n, t.elapsed(), r));
                }
                out
            })
        })
        .collect();
    let mut values: Vec<Option<T>> = (0..total).map(|_| None).collect();
    let (mut latencies, mut errors) = (Vec::new(), Vec::new());
    for t in tasks {
        for (n, l, r) in t.await.expect("worker") {
            latencies.push(l);
            match r {
                Ok(v) => values[n] = Some(v),
                Err(e) => errors.push(e),
            }
        }
    }
    (figures(latencies, errors, started.elapsed()), values)
}

/// What slapd did during a measured phase, and the CPU each process used.
#[derive(Debug, Default)]
struct Extra {
    /// Completed operations per type (cn=Monitor).
    ops: BTreeMap<String, u64>,
    /// CPU time (user + system) of slapd, the gateway and this load generator.
    cpu: [Duration; 3],
}

/// User + system CPU time of a process (/proc/PID/stat, in clock ticks of 10 ms).
fn cpu_time(pid: Option<u32>) -> Duration {
    let Some(pid) = pid else { return Duration::ZERO };
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name: state is the 3rd field, utime the 14th, stime the 15th.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, r)| r.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// Runs `f` and returns what slapd `s` counted meanwhile and the CPU used by slapd, the
/// gateway and this process.
async fn measured<T>(s: &Slapd, gw: &Gateway, smoke: bool, f: impl Future<Output = T>) -> (T, Extra) {
    let pids = [s.pid(), Some(gw.child.id()), Some(std::process::id())];
    let before = s.op_counts().await;
    let cpu_before = pids.map(cpu_time);
    let out = f.await;
    let cpu_after = pids.map(cpu_time);
    // slapd counts an operation completed a moment after it has answered.
    tokio::time::sleep(Duration::from_millis(if smoke { 50 } else { 300 })).await;
    let after = s.op_counts().await;
    let mut ops: BTreeMap<String, u64> = after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0)))
        .filter(|(_, v)| *v > 0)
        .collect();
    // The monitor readings themselves: the first one's search and unbind complete in
    // between, and so does the second one's bind.
    for op in ["Search", "Unbind", "Bind"] {
        if let Some(n) = ops.get_mut(op) {
            *n = n.saturating_sub(1);
        }
    }
    ops.retain(|_, n| *n > 0);
    let cpu = [0, 1, 2].map(|i| cpu_after[i].saturating_sub(cpu_before[i]));
    (out, Extra { ops, cpu })
}

fn per_request(ops: &BTreeMap<String, u64>, requests: usize) -> String {
    let parts: Vec<String> = ops
        .iter()
        .map(|(k, v)| (k, *v as f64 / requests.max(1) as f64))
        .filter(|(_, v)| *v >= 0.005)
        .map(|(k, v)| format!("{k} {v:.2}"))
        .collect();
    parts.join(", ")
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

struct Report {
    rows: Vec<(String, Figures)>,
}

impl Report {
    fn header(&self) {
        println!(
            "{:<50} {:>9} {:>8} {:>8} {:>8} {:>8} {:>7} {:>6}",
            "scenario", "req/s", "p50 ms", "p99 ms", "mean ms", "total s", "reqs", "errors"
        );
    }

    fn row(&mut self, name: &str, f: &Figures, extra: &Extra) {
        println!(
            "{name:<50} {:>9.0} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>7} {:>6}",
            f.rps,
            ms(f.p50),
            ms(f.p99),
            ms(f.mean),
            f.elapsed.as_secs_f64(),
            f.requests,
            f.errors
        );
        let us = |d: Duration| d.as_secs_f64() * 1e6 / f.requests.max(1) as f64;
        println!(
            "{:<50} per request: slapd ops {}; CPU µs slapd {:.0}, gateway {:.0}, load generator {:.0}",
            "",
            per_request(&extra.ops, f.requests),
            us(extra.cpu[0]),
            us(extra.cpu[1]),
            us(extra.cpu[2])
        );
        self.rows.push((name.to_owned(), f.clone()));
    }
}

fn status_ok(status: reqwest::StatusCode, want: &[u16], body: &[u8]) -> Outcome {
    if want.contains(&status.as_u16()) {
        Ok(())
    } else {
        Err(format!(
            "HTTP {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        ))
    }
}

async fn resource_id(client: &reqwest::Client, base: &str, resource: &str, filter: &str) -> String {
    let r = client
        .get(format!("{base}/{resource}"))
        .query(&[("filter", filter), ("excludedAttributes", "members")])
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("lookup");
    let j: Json = r.json().await.expect("json");
    j["Resources"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{resource} {filter}: {j}"))
        .to_owned()
}

// ---------------------------------------------------------------------------------------
// Scenarios.

fn gateway_filter(
    client: &reqwest::Client,
    base: &str,
    users: usize,
    offset: usize,
) -> impl Fn(usize, usize) -> BoxedOutcome + Send + Sync + 'static {
    let (client, base) = (client.clone(), base.to_owned());
    move |_, n| {
        let url = format!(
            "{base}/Users?filter=userName%20eq%20%22{}%22",
            seed_uid(pick(n + offset, users))
        );
        let c = client.clone();
        Box::pin(async move {
            let r = c.get(url).bearer_auth(TOKEN).send().await.map_err(|e| e.to_string())?;
            let status = r.status();
            let body = r.bytes().await.map_err(|e| e.to_string())?;
            status_ok(status, &[200], &body)?;
            if body.windows(16).any(|w| w == b"\"totalResults\":1") {
                Ok(())
            } else {
                Err(format!("not one result: {}", String::from_utf8_lossy(&body)))
            }
        })
    }
}

/// `paged`: with the Simple Paged Results control the gateway sends (page size 500), to
/// tell the directory's share of the difference from the gateway's.
fn direct_filter(
    conns: &[Ldap],
    attrs: &Arc<Vec<String>>,
    users: usize,
    offset: usize,
    paged: bool,
) -> impl Fn(usize, usize) -> BoxedOutcome + Send + Sync + 'static {
    let (conns, attrs) = (conns.to_vec(), attrs.clone());
    move |w, n| {
        let mut ldap = conns[w].clone();
        let attrs = attrs.clone();
        let filter = format!(
            "(&(objectClass=inetOrgPerson)(uid={}))",
            seed_uid(pick(n + offset, users))
        );
        Box::pin(async move {
            if paged {
                ldap.with_controls(ldap3::controls::PagedResults {
                    size: 500,
                    cookie: Vec::new(),
                });
            }
            let (entries, _) = ldap
                .search(PEOPLE, Scope::Subtree, &filter, attrs.as_slice())
                .await
                .map_err(|e| e.to_string())?
                .success()
                .map_err(|e| e.to_string())?;
            let entries: Vec<SearchEntry> = entries.into_iter().map(SearchEntry::construct).collect();
            if entries.len() == 1 {
                Ok(())
            } else {
                Err(format!("{filter}: {} entries", entries.len()))
            }
        })
    }
}

async fn connections(s: &Slapd, n: usize) -> Vec<Ldap> {
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        v.push(s.admin().await);
    }
    v
}

async fn run() {
    let sz = Sizes::from_env();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .timeout(Duration::from_secs(120))
        .build()
        .expect("client");

    // Seeding (offline, slapadd), then the two gateways.
    let t = Instant::now();
    let seed = seed_ldif(sz.users, sz.big_group, sz.prov_groups);
    let ldif_time = t.elapsed();
    let ldif_mib = seed.len() as f64 / (1 << 20) as f64;
    let t = Instant::now();
    let big = tokio::task::spawn_blocking(move || {
        Slapd::start_with(slapd::Options {
            seed,
            ..Default::default()
        })
    })
    .await
    .expect("start slapd");
    let big_seed_time = t.elapsed();
    let small_users = sz.small_users;
    let t = Instant::now();
    let small = tokio::task::spawn_blocking(move || {
        Slapd::start_with(slapd::Options {
            seed: slapd::bulk_users_ldif(PEOPLE, "u-", small_users),
            ..Default::default()
        })
    })
    .await
    .expect("start slapd");
    let small_seed_time = t.elapsed();
    let gw_big = start_gateway(&big, &client).await;
    let gw_small = start_gateway(&small, &client).await;
    let attrs = Arc::new(filter_attrs(gw_big.dir.path()));
    check_create_attrs(gw_big.dir.path());
    let conns_big = connections(&big, CONCURRENCY).await;
    let conns_small = connections(&small, CONCURRENCY).await;

    println!(
        "scimgate LDAP bench{}: slapd (mdb, memberof/refint/ppolicy/sssvlv), OpenLDAP profile, gateway pool {CONCURRENCY}, {} s per scenario, 2 runtime threads in the load generator",
        if sz.smoke {
            " (SMOKE RUN: debug build, figures mean nothing)"
        } else {
            ""
        },
        sz.seconds
    );
    println!(
        "seeded offline: {} users + a {}-member group + {} groups: LDIF {ldif_mib:.1} MiB built in {:.2} s, slapadd + start {:.2} s; {} users: slapadd + start {:.2} s",
        sz.users,
        sz.big_group,
        2 * sz.prov_groups,
        ldif_time.as_secs_f64(),
        big_seed_time.as_secs_f64(),
        sz.small_users,
        small_seed_time.as_secs_f64()
    );
    println!("search attributes ({}): {}\n", attrs.len(), attrs.join(","));

    let mut report = Report { rows: Vec::new() };
    report.header();
    let k_big = format!("{}k", sz.users as f64 / 1000.0);
    let k_small = format!("{}k", sz.small_users as f64 / 1000.0);

    // 1 + 2. userName eq filter: direct vs gateway, at N and at N/10 entries.
    let mut filter_rows = BTreeMap::new();
    for (label, s, gw, conns, users) in [
        (&k_big, &big, &gw_big, &conns_big, sz.users),
        (&k_small, &small, &gw_small, &conns_small, sz.small_users),
    ] {
        // Warm-up with other uids: caches, the gateway's pool.
        load(
            CONCURRENCY,
            sz.warmup,
            direct_filter(conns, &attrs, users, 1 << 40, false),
        )
        .await;
        load(
            CONCURRENCY,
            sz.warmup,
            gateway_filter(&client, &gw.base, users, 1 << 41),
        )
        .await;
        let (direct, extra) = measured(
            s,
            gw,
            sz.smoke,
            load(CONCURRENCY, sz.seconds, direct_filter(conns, &attrs, users, 0, false)),
        )
        .await;
        report.row(
            &format!("filter uid eq, {label} entries: direct ldap3"),
            &direct,
            &extra,
        );
        if users == sz.users {
            let (paged, extra) = measured(
                s,
                gw,
                sz.smoke,
                load(CONCURRENCY, sz.seconds, direct_filter(conns, &attrs, users, 0, true)),
            )
            .await;
            report.row(
                &format!("filter uid eq, {label} entries: direct ldap3, paged control (info)"),
                &paged,
                &extra,
            );
        }
        let (gateway, extra) = measured(
            s,
            gw,
            sz.smoke,
            load(CONCURRENCY, sz.seconds, gateway_filter(&client, &gw.base, users, 0)),
        )
        .await;
        report.row(
            &format!("filter userName eq, {label} entries: gateway"),
            &gateway,
            &extra,
        );
        filter_rows.insert(users, (direct, gateway));
    }
    drop(conns_small);
    drop(gw_small);
    drop(small);

    // 3. One member in and out of the 50k group, sequentially.
    let newcomer = sz.users - 1;
    let big_gid = resource_id(&client, &gw_big.base, "Groups", "displayName eq \"big\"").await;
    let newcomer_id = resource_id(
        &client,
        &gw_big.base,
        "Users",
        &format!("userName eq \"{}\"", seed_uid(newcomer)),
    )
    .await;
    let direct_member = {
        let conn = conns_big[0].clone();
        move |_: usize, n: usize| {
            let mut ldap = conn.clone();
            async move {
                let dn = seed_dn(newcomer);
                let values = HashSet::from([dn.as_str()]);
                let m = if n.is_multiple_of(2) {
                    Mod::Add("member", values)
                } else {
                    Mod::Delete("member", values)
                };
                ldap.modify(&format!("cn=big,{GROUPS}"), vec![m])
                    .await
                    .map_err(|e| e.to_string())?
                    .success()
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        }
    };
    let gateway_member = {
        let (c, url, id) = (client.clone(), format!("{}/Groups/{big_gid}", gw_big.base), newcomer_id);
        move |_: usize, n: usize| {
            let op = if n.is_multiple_of(2) { "add" } else { "remove" };
            let body = json!({"schemas": [PATCH_OP],
                              "Operations": [{"op": op, "path": "members", "value": [{"value": id}]}]});
            let (c, url) = (c.clone(), url.clone());
            async move {
                let r = c
                    .patch(url)
                    .bearer_auth(TOKEN)
                    .json(&body)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                let status = r.status();
                let b = r.bytes().await.map_err(|e| e.to_string())?;
                status_ok(status, &[200, 204], &b)
            }
        }
    };
    let direct_member = Arc::new(direct_member);
    let gateway_member = Arc::new(gateway_member);
    // Each run ends with the member removed: an odd count gets one more (unmeasured) removal.
    let balance = |f: &Figures| f.requests % 2 == 1;
    {
        let d = direct_member.clone();
        let w = load(1, sz.warmup, move |a, n| d(a, n)).await;
        if balance(&w) {
            direct_member(0, 1).await.expect("balance");
        }
    }
    let (direct_big, extra) = measured(&big, &gw_big, sz.smoke, {
        let d = direct_member.clone();
        load(1, sz.seconds, move |a, n| d(a, n))
    })
    .await;
    if balance(&direct_big) {
        direct_member(0, 1).await.expect("balance");
    }
    report.row(
        &format!("member +/- on a {}-member group: direct modify", sz.big_group),
        &direct_big,
        &extra,
    );
    {
        let g = gateway_member.clone();
        let w = load(1, sz.warmup, move |a, n| g(a, n)).await;
        if balance(&w) {
            gateway_member(0, 1).await.expect("balance");
        }
    }
    let (gateway_big, extra) = measured(&big, &gw_big, sz.smoke, {
        let g = gateway_member.clone();
        load(1, sz.seconds, move |a, n| g(a, n))
    })
    .await;
    if balance(&gateway_big) {
        gateway_member(0, 1).await.expect("balance");
    }
    report.row(
        &format!("member +/- on a {}-member group: gateway PATCH", sz.big_group),
        &gateway_big,
        &extra,
    );

    // 4. Provisioning: creates at concurrency 16, then PATCH batches of 100 members, one
    // worker per group (batches to one group are sequential).
    let batches = sz.provision.div_ceil(BATCH);
    let provision = sz.provision;
    let batch = move |b: usize| b * BATCH..((b + 1) * BATCH).min(provision);
    let ((gw_create, ids), extra) = measured(&big, &gw_big, sz.smoke, {
        let (c, url) = (client.clone(), format!("{}/Users", gw_big.base));
        jobs(CONCURRENCY, sz.provision, move |_, i| {
            let (c, url) = (c.clone(), url.clone());
            let body = prov_body(&prov_uid("pg", i), i);
            async move {
                let r = c
                    .post(url)
                    .bearer_auth(TOKEN)
                    .json(&body)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                let status = r.status();
                let b = r.bytes().await.map_err(|e| e.to_string())?;
                status_ok(status, &[201], &b)?;
                let j: Json = serde_json::from_slice(&b).map_err(|e| e.to_string())?;
                j["id"].as_str().map(str::to_owned).ok_or_else(|| format!("no id: {j}"))
            }
        })
    })
    .await;
    report.row(
        &format!("provision {} users: gateway POST", sz.provision),
        &gw_create,
        &extra,
    );
    let ids: Arc<Vec<String>> = Arc::new(ids.into_iter().map(Option::unwrap_or_default).collect());
    let mut group_ids = Vec::new();
    for g in 0..sz.prov_groups {
        group_ids.push(
            resource_id(
                &client,
                &gw_big.base,
                "Groups",
                &format!("displayName eq \"{}\"", prov_group("pg", g)),
            )
            .await,
        );
    }
    let ((gw_patch, _), extra) = measured(&big, &gw_big, sz.smoke, {
        let (c, base, group_ids, ids) = (client.clone(), gw_big.base.clone(), group_ids.clone(), ids.clone());
        let groups = sz.prov_groups;
        jobs(groups, batches, move |_, b| {
            let members: Vec<Json> = ids[batch(b)].iter().map(|id| json!({"value": id})).collect();
            let body = json!({"schemas": [PATCH_OP],
                              "Operations": [{"op": "add", "path": "members", "value": members}]});
            let (c, url) = (c.clone(), format!("{base}/Groups/{}", group_ids[b % groups]));
            async move {
                let r = c
                    .patch(url)
                    .bearer_auth(TOKEN)
                    .json(&body)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                let status = r.status();
                let b = r.bytes().await.map_err(|e| e.to_string())?;
                status_ok(status, &[200, 204], &b)
            }
        })
    })
    .await;
    report.row(
        &format!("  then {batches} PATCHes of {BATCH} members: gateway"),
        &gw_patch,
        &extra,
    );

    let ((direct_add, _), extra) = measured(&big, &gw_big, sz.smoke, {
        let conns = conns_big.clone();
        jobs(CONCURRENCY, sz.provision, move |w, i| {
            let mut ldap = conns[w].clone();
            async move {
                let uid = prov_uid("pd", i);
                let attrs = prov_attrs(&uid, i);
                let attrs: Vec<(&str, HashSet<&str>)> = attrs
                    .iter()
                    .map(|(a, vs)| (*a, vs.iter().map(String::as_str).collect()))
                    .collect();
                ldap.add(&format!("uid={uid},{PEOPLE}"), attrs)
                    .await
                    .map_err(|e| e.to_string())?
                    .success()
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        })
    })
    .await;
    report.row(
        &format!("provision {} users: direct add", sz.provision),
        &direct_add,
        &extra,
    );
    let ((direct_patch, _), extra) = measured(&big, &gw_big, sz.smoke, {
        let conns = conns_big.clone();
        let groups = sz.prov_groups;
        jobs(groups, batches, move |w, b| {
            let mut ldap = conns[w].clone();
            let dns: Vec<String> = batch(b)
                .map(|i| format!("uid={},{PEOPLE}", prov_uid("pd", i)))
                .collect();
            let group = format!("cn={},{GROUPS}", prov_group("pd", b % groups));
            async move {
                let values: HashSet<&str> = dns.iter().map(String::as_str).collect();
                ldap.modify(&group, vec![Mod::Add("member", values)])
                    .await
                    .map_err(|e| e.to_string())?
                    .success()
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        })
    })
    .await;
    report.row(
        &format!("  then {batches} modify-adds of {BATCH} members: direct"),
        &direct_patch,
        &extra,
    );

    let (_, gw_hwm) = rss_kib(gw_big.child.id());
    let (_, slapd_hwm) = big.pid().map(rss_kib).unwrap_or_default();
    let (_, bench_hwm) = rss_kib(std::process::id());

    // Ratios vs the targets.
    println!(
        "\nratios (gateway vs direct, same run){}:",
        if sz.smoke { " — smoke run, not meaningful" } else { "" }
    );
    let line = |what: String, value: String, target: &str, ok: Option<bool>, note: String| {
        let verdict = match ok {
            Some(true) => "ok",
            Some(false) => "MISSED",
            None => "",
        };
        let text = format!("  {what:<52} {value:>15}   {target:<15} {verdict:<6} {note}");
        println!("{}", text.trim_end());
    };
    let (d_big, g_big) = &filter_rows[&sz.users];
    let (d_small, g_small) = &filter_rows[&sz.small_users];
    let thr = 100.0 * g_big.rps / d_big.rps;
    line(
        format!("filter throughput gateway/direct, {k_big} entries"),
        format!("{thr:.1}%"),
        "target >= 70%",
        Some(thr >= 70.0),
        String::new(),
    );
    line(
        format!("filter throughput gateway/direct, {k_small} entries"),
        format!("{:.1}%", 100.0 * g_small.rps / d_small.rps),
        "(info)",
        None,
        String::new(),
    );
    let r50 = g_big.p50.as_secs_f64() / g_small.p50.as_secs_f64();
    let r99 = g_big.p99.as_secs_f64() / g_small.p99.as_secs_f64();
    line(
        format!("gateway filter latency p50, {k_big}/{k_small}"),
        format!("{r50:.2}x"),
        "target <= 1.5x",
        Some(r50 <= 1.5),
        String::new(),
    );
    line(
        format!("gateway filter latency p99, {k_big}/{k_small}"),
        format!("{r99:.2}x"),
        "target <= 1.5x",
        Some(r99 <= 1.5),
        String::new(),
    );
    line(
        format!("direct filter latency p50 / p99, {k_big}/{k_small}"),
        format!(
            "{:.2}x / {:.2}x",
            d_big.p50.as_secs_f64() / d_small.p50.as_secs_f64(),
            d_big.p99.as_secs_f64() / d_small.p99.as_secs_f64()
        ),
        "(info)",
        None,
        String::new(),
    );
    let member = gateway_big.mean.as_secs_f64() / direct_big.mean.as_secs_f64();
    line(
        format!("member +/- on a {}-member group, mean gw/direct", sz.big_group),
        format!("{member:.2}x"),
        "target <= 1.2x",
        Some(member <= 1.2),
        format!("({:.2} ms vs {:.2} ms)", ms(gateway_big.mean), ms(direct_big.mean)),
    );
    let gw_total = gw_create.elapsed + gw_patch.elapsed;
    let direct_total = direct_add.elapsed + direct_patch.elapsed;
    let prov = gw_total.as_secs_f64() / direct_total.as_secs_f64();
    line(
        format!("provisioning {} users, total time gw/direct", sz.provision),
        format!("{prov:.2}x"),
        "target <= 2x",
        Some(prov <= 2.0),
        format!(
            "({:.2} s vs {:.2} s; creates {:.2}x, memberships {:.2}x)",
            gw_total.as_secs_f64(),
            direct_total.as_secs_f64(),
            gw_create.elapsed.as_secs_f64() / direct_add.elapsed.as_secs_f64(),
            gw_patch.elapsed.as_secs_f64() / direct_patch.elapsed.as_secs_f64()
        ),
    );
    println!(
        "\npeak resident memory: gateway {:.1} MiB, slapd ({k_big}) {:.1} MiB, load generator {:.1} MiB",
        gw_hwm as f64 / 1024.0,
        slapd_hwm as f64 / 1024.0,
        bench_hwm as f64 / 1024.0
    );

    let failed: Vec<String> = report
        .rows
        .iter()
        .filter(|(_, f)| f.errors > 0)
        .map(|(name, f)| {
            format!(
                "{name}: {} errors, first: {}",
                f.errors,
                f.first_error.as_deref().unwrap_or("")
            )
        })
        .collect();
    assert!(failed.is_empty(), "requests failed:\n{}", failed.join("\n"));
}
