//! Load benchmark of the quickstart: `cargo bench --bench gateway`.
//!
//! Starts the release `scimgate` binary on a fresh SQLite database and a bare axum server
//! that answers every request with the bytes of one GET-by-id response, then drives both
//! from this process with keep-alive HTTP/1.1 connections. Every figure is reported next to
//! a baseline measured in the same run, because absolute numbers on a shared 2-core machine
//! say little. Also measured: process start to `/readyz` 200, and the gateway's resident
//! memory while serving 64 concurrent connections.
//!
//! Environment: `BENCH_SECONDS` (default 5) per scenario, `BENCH_USERS` (default 2000) seeded.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};

const TOKEN: &str = "bench-token";

fn main() {
    if std::env::args().nth(1).as_deref() == Some("--baseline-server") {
        return baseline_server();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

/// The bare handler: same bytes, same media type, no work.
fn baseline_server() {
    let body = std::fs::read(std::env::args().nth(2).expect("body file")).expect("read body");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let body = axum::body::Bytes::from(body);
        let app = axum::Router::new().fallback(move || {
            let body = body.clone();
            async move { ([(axum::http::header::CONTENT_TYPE, "application/scim+json")], body) }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        println!("{}", listener.local_addr().expect("addr").port());
        axum::serve(listener, app).await.expect("serve");
    });
}

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
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

/// Spawns the gateway and returns it with the time from spawn to the first `/readyz` 200.
async fn start_gateway(dir: &std::path::Path, client: &reqwest::Client) -> (Server, Duration) {
    let port = free_port();
    let started = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_scimgate"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .current_dir(dir)
        .env("SCIMGATE_TOKEN", TOKEN)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn scimgate");
    let base = format!("http://127.0.0.1:{port}");
    loop {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await
            && r.status() == 200
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "gateway did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    (Server { child, base }, started.elapsed())
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

#[derive(Debug, Clone)]
struct Figures {
    requests: usize,
    errors: usize,
    rps: f64,
    p50: Duration,
    p99: Duration,
}

/// Runs `make_request` from `concurrency` workers for `seconds`.
async fn load<F, Fut>(concurrency: usize, seconds: f64, make_request: F) -> Figures
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let make_request = Arc::new(make_request);
    let counter = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let make_request = make_request.clone();
        let counter = counter.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0;
            while Instant::now() < deadline {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let t = Instant::now();
                if !make_request(n).await {
                    errors += 1;
                }
                latencies.push(t.elapsed());
            }
            (latencies, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.expect("worker");
        all.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Figures {
        requests: all.len(),
        errors,
        rps: all.len() as f64 / elapsed,
        p50: pct(0.50),
        p99: pct(0.99),
    }
}

fn row(name: &str, f: &Figures, baseline: Option<&Figures>) {
    let ratio = baseline
        .map(|b| format!("{:>6.1}%", 100.0 * f.rps / b.rps))
        .unwrap_or_else(|| "      -".into());
    println!(
        "{name:<34} {:>9.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  {ratio} of bare  ({} requests, {} errors)",
        f.rps,
        f.p50.as_secs_f64() * 1000.0,
        f.p99.as_secs_f64() * 1000.0,
        f.requests,
        f.errors
    );
}

async fn run() {
    // `cargo test --all-targets` runs this binary without `--bench`: a short smoke run that
    // proves the harness works, with figures that mean nothing (debug build).
    let smoke = !std::env::args().any(|a| a == "--bench");
    let env = |name: &str, default: f64| std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default);
    let seconds = if smoke { 0.2 } else { env("BENCH_SECONDS", 5.0) };
    let users = if smoke { 20 } else { env("BENCH_USERS", 2000.0) as usize };
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .expect("client");
    let dir = tempfile::tempdir().expect("tempdir");

    // Start-up: median of 5 cold starts on a fresh database each.
    let mut starts = Vec::new();
    for i in 0..5 {
        let d = dir.path().join(format!("start{i}"));
        std::fs::create_dir_all(&d).expect("dir");
        let (server, t) = start_gateway(&d, &client).await;
        starts.push(t);
        drop(server);
    }
    starts.sort();

    let (gateway, _) = start_gateway(dir.path(), &client).await;
    let base = gateway.base.clone();
    let auth = format!("Bearer {TOKEN}");
    let mut ids = Vec::with_capacity(users);
    for i in 0..users {
        let body = json!({"userName": format!("user{i:06}"), "displayName": format!("User {i}"),
                          "name": {"givenName": "Bench", "familyName": format!("User{i}")},
                          "emails": [{"value": format!("user{i}@example.com"), "type": "work", "primary": true}]});
        let r = client
            .post(format!("{base}/Users"))
            .header("Authorization", &auth)
            .json(&body)
            .send()
            .await
            .expect("seed");
        assert_eq!(r.status(), 201, "seeding failed");
        let j: Json = r.json().await.expect("json");
        ids.push(j["id"].as_str().expect("id").to_owned());
    }
    let sample = client
        .get(format!("{base}/Users/{}", ids[0]))
        .header("Authorization", &auth)
        .send()
        .await
        .expect("get");
    let sample_body = sample.bytes().await.expect("body");
    let body_file = dir.path().join("sample.json");
    std::fs::write(&body_file, &sample_body).expect("write sample");

    let mut baseline_child = Command::new(std::env::current_exe().expect("exe"))
        .arg("--baseline-server")
        .arg(&body_file)
        .stdout(Stdio::piped())
        .spawn()
        .expect("baseline");
    let mut port_line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(baseline_child.stdout.take().expect("stdout")),
        &mut port_line,
    )
    .expect("port");
    let baseline = Server {
        child: baseline_child,
        base: format!("http://127.0.0.1:{}", port_line.trim()),
    };

    let ids = Arc::new(ids);
    let concurrency = 16;
    println!(
        "scimgate bench: {users} users seeded, {seconds} s per scenario, concurrency {concurrency}, 2 runtime threads in the load generator\n"
    );

    let bare = {
        let (c, b) = (client.clone(), baseline.base.clone());
        let ids = ids.clone();
        load(concurrency, seconds, move |n| {
            let (c, url) = (c.clone(), format!("{b}/Users/{}", ids[n % ids.len()]));
            async move { c.get(url).send().await.is_ok_and(|r| r.status() == 200) }
        })
        .await
    };
    row("bare axum handler (same bytes)", &bare, None);

    let get = {
        let (c, b, a) = (client.clone(), base.clone(), auth.clone());
        let ids = ids.clone();
        load(concurrency, seconds, move |n| {
            let (c, a, url) = (
                c.clone(),
                a.clone(),
                format!("{b}/Users/{}", ids[(n * 7919) % ids.len()]),
            );
            async move {
                c.get(url)
                    .header("Authorization", a)
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == 200)
            }
        })
        .await
    };
    row("GET /Users/{id}", &get, Some(&bare));

    let filter = {
        let (c, b, a) = (client.clone(), base.clone(), auth.clone());
        let n_users = users;
        load(concurrency, seconds, move |n| {
            let url = format!("{b}/Users?filter=userName%20eq%20%22user{:06}%22", (n * 7919) % n_users);
            let (c, a) = (c.clone(), a.clone());
            async move {
                c.get(url)
                    .header("Authorization", a)
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == 200)
            }
        })
        .await
    };
    row("GET /Users?filter=userName eq", &filter, Some(&bare));

    let create = {
        let (c, b, a) = (client.clone(), base.clone(), auth.clone());
        load(concurrency, seconds, move |n| {
            let (c, a, url) = (c.clone(), a.clone(), format!("{b}/Users"));
            let body = json!({"userName": format!("new{n:08}"), "name": {"givenName": "N", "familyName": "N"},
                              "emails": [{"value": format!("new{n}@example.com"), "type": "work"}]});
            async move {
                c.post(url)
                    .header("Authorization", a)
                    .json(&body)
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == 201)
            }
        })
        .await
    };
    row("POST /Users", &create, Some(&bare));

    let patch = {
        let (c, b, a) = (client.clone(), base.clone(), auth.clone());
        let ids = ids.clone();
        load(concurrency, seconds, move |n| {
            let (c, a, url) = (c.clone(), a.clone(), format!("{b}/Users/{}", ids[(n * 7919) % ids.len()]));
            let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                              "Operations": [{"op": "replace", "path": "displayName", "value": format!("Renamed {n}")}]});
            async move { c.patch(url).header("Authorization", a).json(&body).send().await.is_ok_and(|r| r.status() == 200) }
        })
        .await
    };
    row("PATCH /Users/{id} (displayName)", &patch, Some(&bare));

    // Memory while 64 connections are busy.
    let pid = gateway.child.id();
    let (rss_before, _) = rss_kib(pid);
    let sampler = tokio::spawn(async move {
        let mut peak = 0;
        for _ in 0..((seconds * 20.0) as usize) {
            peak = peak.max(rss_kib(pid).0);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        peak
    });
    let get64 = {
        let (c, b, a) = (client.clone(), base.clone(), auth.clone());
        let ids = ids.clone();
        load(64, seconds, move |n| {
            let (c, a, url) = (
                c.clone(),
                a.clone(),
                format!("{b}/Users/{}", ids[(n * 7919) % ids.len()]),
            );
            async move {
                c.get(url)
                    .header("Authorization", a)
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == 200)
            }
        })
        .await
    };
    let peak = sampler.await.expect("sampler");
    row("GET /Users/{id}, 64 connections", &get64, Some(&bare));
    let (_, hwm) = rss_kib(pid);

    println!();
    println!(
        "start to /readyz 200: median {:.1} ms (min {:.1}, max {:.1}) over 5 cold starts",
        starts[2].as_secs_f64() * 1000.0,
        starts[0].as_secs_f64() * 1000.0,
        starts[4].as_secs_f64() * 1000.0
    );
    println!(
        "resident memory: {:.1} MiB idle after load, {:.1} MiB peak at 64 connections (VmHWM {:.1} MiB)",
        rss_before as f64 / 1024.0,
        peak as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
    println!(
        "GET by id throughput: {:.1}% of the bare handler (target >= 50%)",
        100.0 * get.rps / bare.rps
    );
}
