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
    let script = repo("tests/conformance/scim2_tester_run.py");
    let base = gw.base.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python())
            .arg(script)
            .arg(base)
            .arg(crate::harness::TOKEN)
            // `active` is derived from the lock attribute: it always has a value, so a
            // `remove` sets it to its default (true), which RFC 7644 §3.5.2.2 allows for an
            // attribute the server defines.
            .arg("--allow=did not remove attribute 'active'")
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
    eprintln!(
        "scim2-tester on OpenLDAP: {}",
        stdout.lines().last().unwrap_or_default()
    );
}
