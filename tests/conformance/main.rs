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
