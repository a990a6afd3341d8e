//! Independent conformance: runs the `scim2-tester` suite (PyPI) against the quickstart
//! mappings served over HTTP. `tests/run-all.sh` installs it and sets
//! `SCIMGATE_REQUIRE_CONFORMANCE=1`, which turns a missing checker into a failure.

#[path = "../e2e/harness.rs"]
#[allow(dead_code)]
mod harness;

use std::process::Command;

/// The Python that has scim2-tester: `SCIMGATE_PYTHON`, else `python3`.
fn python() -> String {
    std::env::var("SCIMGATE_PYTHON").unwrap_or_else(|_| "python3".into())
}

fn checker_available() -> bool {
    Command::new(python())
        .args(["-c", "import scim2_tester, scim2_client.engines.httpx2"])
        .status()
        .is_ok_and(|s| s.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scim2_tester_passes_against_the_quickstart() {
    if !checker_available() {
        assert!(
            std::env::var("SCIMGATE_REQUIRE_CONFORMANCE").is_err(),
            "scim2-tester is not installed: pip install 'scim2-tester[httpx2]==0.5.2'"
        );
        eprintln!("SKIPPED: scim2-tester is not installed (tests/run-all.sh installs it)");
        return;
    }
    let gw = harness::Gateway::quickstart().await;
    let script = harness::repo_path("tests/conformance/scim2_tester_run.py");
    let base = gw.base.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python())
            .arg(script)
            .arg(base)
            .arg(harness::TOKEN)
            .output()
            .expect("run python")
    })
    .await
    .expect("join");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let failures: Vec<&str> = stdout.lines().filter(|l| !l.starts_with("SUCCESS")).collect();
    assert!(
        output.status.success(),
        "scim2-tester reported failures:\n{}\n{}",
        failures.join("\n"),
        String::from_utf8_lossy(&output.stderr)
    );
    let summary = stdout.lines().last().unwrap_or_default();
    assert!(summary.ends_with("0 failed"), "{summary}");
    eprintln!("scim2-tester: {summary}");
}

/// Every `scimgate.toml` shipped under `mappings/` and `connectors/`.
fn shipped_configs() -> Vec<std::path::PathBuf> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.file_name().is_some_and(|n| n == "scimgate.toml") {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(&harness::repo_path("mappings"), &mut out);
    walk(&harness::repo_path("connectors"), &mut out);
    out.sort();
    out
}

fn scimgate(args: &[&str]) -> std::process::Output {
    // Shipped configs take their database URL from the environment, as in production.
    Command::new(env!("CARGO_BIN_EXE_scimgate"))
        .args(args)
        .env("APP_DB_URL", "sqlite::memory:")
        .env("LDAP_BIND_PASSWORD", "not-used-offline")
        .env("AD_BIND_PASSWORD", "not-used-offline")
        .output()
        .expect("run scimgate")
}

#[test]
fn every_shipped_config_passes_check_and_its_mapping_tests() {
    let configs = shipped_configs();
    assert!(!configs.is_empty(), "no shipped scimgate.toml found");
    for config in configs {
        let text = std::fs::read_to_string(&config).expect("read config");
        if text.contains(".ldap]") && !cfg!(feature = "connector-ldap") {
            eprintln!("SKIPPED {}: built without connector-ldap", config.display());
            continue;
        }
        let c = config.to_string_lossy();
        let check = scimgate(&["check", "--offline", "--config", &c]);
        assert!(
            check.status.success(),
            "check {c}:\n{}",
            String::from_utf8_lossy(&check.stderr)
        );
        let test = scimgate(&["test", "--config", &c]);
        let out = String::from_utf8_lossy(&test.stdout);
        assert!(test.status.success(), "test {c}:\n{out}");
        assert!(!out.contains(" 0 passed"), "{c} has no [[test]] cases:\n{out}");
    }
}

#[test]
fn builtin_quickstart_passes_check_and_tests() {
    assert!(scimgate(&["check", "--offline"]).status.success());
    let test = scimgate(&["test"]);
    assert!(test.status.success(), "{}", String::from_utf8_lossy(&test.stdout));
}

#[test]
fn check_reports_every_error_with_position_and_exit_78() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("m.toml"),
        "[User]\n[User.sql]\ntable = \"u\"\nid = \"id\"\n[User.attributes]\nuserName = { to = \"login\", requird = true }\nnickname = \"nick\"\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("scimgate.toml"),
        "[connectors.db.sql]\nurl = \"sqlite::memory:\"\n[endpoints.main]\nconnector = \"db\"\nmappings = [\"m.toml\"]\n",
    )
    .expect("write");
    let out = scimgate(&[
        "check",
        "--offline",
        "--config",
        &dir.path().join("scimgate.toml").to_string_lossy(),
    ]);
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("m.toml:6:"), "{err}");
    assert!(err.contains("requird"), "{err}");
    assert!(err.contains("hint:"), "{err}");
}

/// The README's quickstart command: `scimgate serve` with no config creates `./scimgate.db`,
/// prints a generated token once, answers with it, and stops cleanly on SIGTERM.
#[test]
fn quickstart_serve_prints_a_token_serves_and_stops_on_sigterm() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_scimgate"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .current_dir(dir.path())
        .env_remove("SCIMGATE_TOKEN")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read token");
    let token = line
        .trim()
        .strip_prefix("SCIMGATE_TOKEN=")
        .expect("token line")
        .to_owned();
    assert!(token.len() >= 32, "{line}");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let status = runtime.block_on(async {
        let client = reqwest::Client::new();
        let url = format!("http://127.0.0.1:{port}/ServiceProviderConfig");
        for _ in 0..200 {
            if let Ok(r) = client.get(&url).bearer_auth(&token).send().await {
                return r.status().as_u16();
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        0
    });
    assert_eq!(status, 200);
    assert!(dir.path().join("scimgate.db").exists());
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let exit = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(std::time::Instant::now() < deadline, "did not stop on SIGTERM");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(exit.success(), "{exit:?}");
}
