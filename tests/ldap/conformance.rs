//! The independent checker (scim2-tester, PyPI) against the OpenLDAP profile on slapd: the
//! same suite the SQLite quickstart passes (tests/conformance).

use std::process::Command;

use crate::slapd::{self, Slapd};
use crate::{Setup, gateway_with, repo};

fn python() -> String {
    std::env::var("SCIMGATE_PYTHON").unwrap_or_else(|_| "python3".into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scim2_tester_passes_against_the_openldap_profile() {
    if !slapd::available_or_skip("scim2-tester on OpenLDAP") {
        return;
    }
    if !tester_available() {
        return;
    }
    // A directory of its own: the checker expects a new resource on the first list page.
    let s = tokio::task::spawn_blocking(|| Slapd::start_with(slapd::Options::default()))
        .await
        .expect("start slapd");
    // The shipped profile ignores externalId (inetOrgPerson has no attribute meant for it);
    // the checker round-trips it, so this variant keeps it in `description`. The loopback
    // directory has no TLS: let the checker's passwords through.
    let setup = Setup {
        users: vec![
            ("ignore = [\"externalId\"]", ""),
            ("[User.attributes]", "[User.attributes]\nexternalId = \"description\""),
        ],
        groups: vec![
            ("ignore = [\"externalId\"]", ""),
            ("[Group.attributes]", "[Group.attributes]\nexternalId = \"description\""),
        ],
        connector: "allow_plaintext_passwords = true",
        ..Default::default()
    };
    let gw = gateway_with(&s, setup).await;
    // `active` is derived from the lock attribute: it always has a value, so a `remove` sets
    // it to its default (true), which RFC 7644 §3.5.2.2 allows for an attribute the server
    // defines.
    let summary = run_tester(&gw.base, &["did not remove attribute 'active'"]).await;
    eprintln!("scim2-tester on OpenLDAP: {summary}");
}

/// Whether scim2-tester can run; without it the test is skipped, unless
/// `SCIMGATE_REQUIRE_CONFORMANCE` is set (tests/run-all.sh), which fails it.
pub fn tester_available() -> bool {
    let available = Command::new(python())
        .args(["-c", "import scim2_tester, scim2_client.engines.httpx2"])
        .status()
        .is_ok_and(|st| st.success());
    if !available {
        assert!(
            std::env::var("SCIMGATE_REQUIRE_CONFORMANCE").is_err(),
            "scim2-tester is not installed: pip install 'scim2-tester[httpx2]==0.5.2'"
        );
        eprintln!("SKIPPED: scim2-tester is not installed (tests/run-all.sh installs it)");
    }
    available
}

/// Runs scim2-tester against `base` with the findings `allowed` declared; panics with every
/// finding unless it passes. Returns its summary line.
pub async fn run_tester(base: &str, allowed: &[&str]) -> String {
    let script = repo("tests/conformance/scim2_tester_run.py");
    let mut command = Command::new(python());
    command.arg(script).arg(base).arg(crate::harness::TOKEN);
    command.args(allowed.iter().map(|a| format!("--allow={a}")));
    let output = tokio::task::spawn_blocking(move || command.output().expect("run python"))
        .await
        .expect("join");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let failures: Vec<&str> = stdout.lines().filter(|l| !l.starts_with("SUCCESS")).collect();
    // Allowed findings and skips are shown even when the run passes.
    eprintln!("scim2-tester, every line that is not SUCCESS:\n{}", failures.join("\n"));
    assert!(
        output.status.success(),
        "scim2-tester reported failures:\n{}\n{}",
        failures.join("\n"),
        String::from_utf8_lossy(&output.stderr)
    );
    stdout.lines().last().unwrap_or_default().to_owned()
}
