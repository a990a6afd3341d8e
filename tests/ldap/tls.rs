//! The connector's TLS against a slapd that serves it (`slapd::Options::tls`): `ldaps://` and
//! StartTLS verified with `ca_file`, a server certificate from a CA the gateway does not trust
//! (with and without `tls_skip_verify`), and which channels passwords may take.
//!
//! Every test that needs TLS starts a server of its own: one replaces its CA, and the
//! StartTLS test counts the server's extended operations.

use std::path::Path;

use scimgate::connector::ConnectorError;
use scimgate::connector::ldap::config::LdapConnectorConfig;
use scimgate::connector::ldap::pool::Manager;
use serde_json::json;

use crate::harness::Gateway;
use crate::slapd::{self, Slapd};
use crate::{Setup, attr, create_group, create_user, dn_eq, gateway_with, ldap_by_id, ldap_entry, member_ids, tag};

/// How the gateway reaches the directory.
#[derive(Clone, Copy, Debug)]
enum Channel {
    /// `ldaps://` on the TLS port.
    Ldaps,
    /// `ldap://` upgraded with StartTLS (`starttls = true`).
    StartTls,
    /// `ldap://`, unencrypted.
    Plain,
}

/// A slapd of the test's own that serves TLS, or `None` (after a skip message).
async fn tls_server(what: &str) -> Option<Slapd> {
    if !slapd::available_or_skip(what) {
        return None;
    }
    let start = || {
        Slapd::start_with(slapd::Options {
            tls: true,
            ..Default::default()
        })
    };
    Some(tokio::task::spawn_blocking(start).await.expect("start slapd"))
}

fn ca_file_line(path: &Path) -> String {
    format!("ca_file = \"{}\"", path.display())
}

/// The connector line that makes the gateway trust the CA `s` has now.
fn trust_ca_of(s: &Slapd) -> String {
    ca_file_line(&s.ca_file())
}

/// A gateway with the shipped profile (`users` replacements applied) that reaches `s` over
/// `channel`, with the extra connector lines `connector` (trust, password settings).
async fn gateway_over(s: &Slapd, channel: Channel, connector: &str, users: Vec<(&str, &str)>) -> Gateway {
    let url = match channel {
        Channel::Ldaps => s.ldaps_url(),
        Channel::StartTls | Channel::Plain => s.url(),
    };
    let connector = match channel {
        Channel::StartTls => format!("{connector}\nstarttls = true"),
        Channel::Ldaps | Channel::Plain => connector.to_owned(),
    };
    gateway_with(
        s,
        Setup {
            url: Some(&url),
            connector: &connector,
            users,
            ..Default::default()
        },
    )
    .await
}

async fn ready_status(gw: &Gateway) -> u16 {
    gw.get(&format!("{}/readyz", gw.origin())).await.status.as_u16()
}

/// Create, read, patch, filter, group membership and delete of a user through `gw`, each
/// write checked in the directory behind the gateway's back.
async fn crud_round_trip(gw: &Gateway, s: &Slapd, what: &str) {
    let t = tag(what);
    let name = format!("{t}ada");
    let created = create_user(gw, crate::user_body(&name)).await;
    let id = created["id"].as_str().expect("id").to_owned();
    let (dn, a) = ldap_by_id(s, &id).await.expect("the created entry");
    assert!(dn_eq(&dn, &format!("uid={name},{}", slapd::PEOPLE)), "{what}: DN {dn}");
    assert_eq!(attr(&a, "sn"), Some("Jensen"), "{what}");

    let got = gw.get(&format!("/Users/{id}")).await;
    assert_eq!(got.status, 200, "{what}: {}", got.body);
    assert_eq!(got.body, created, "{what}: GET differs from the create response");

    let r = gw
        .patch_ops(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "path": "title", "value": "Analyst"}]),
        )
        .await;
    assert_eq!(r.status, 200, "{what}: {}", r.body);
    let (_, a) = ldap_by_id(s, &id).await.expect("the patched entry");
    assert_eq!(attr(&a, "title"), Some("Analyst"), "{what}");

    let list = gw.filter("/Users", &format!("userName eq \"{name}\"")).await;
    assert_eq!(list.status, 200, "{what}: {}", list.body);
    assert_eq!(list.body["totalResults"], json!(1), "{what}: {}", list.body);
    assert_eq!(list.body["Resources"][0]["id"], json!(id), "{what}");

    let group = create_group(gw, &format!("{t}team"), &[&id]).await;
    let group_id = group["id"].as_str().expect("group id");
    assert_eq!(member_ids(gw, group_id).await, vec![id.clone()], "{what}");

    assert_eq!(gw.delete(&format!("/Users/{id}")).await.status, 204, "{what}");
    assert_eq!(gw.get(&format!("/Users/{id}")).await.status, 404, "{what}");
    assert!(ldap_by_id(s, &id).await.is_none(), "{what}: the entry is still there");
}

/// Creates a user with a password through `gw`, changes it with a PATCH, and checks with
/// binds that the directory took each one (and that nothing stored it in clear text).
async fn password_round_trip(gw: &Gateway, s: &Slapd, what: &str) {
    let mut body = crate::user_body(&format!("{}carl", tag(what)));
    body["password"] = json!("First-Passw0rd");
    let u = create_user(gw, body).await;
    assert!(u.get("password").is_none(), "{what}: the password is never returned");
    let id = u["id"].as_str().expect("id").to_owned();
    let (dn, a) = ldap_by_id(s, &id).await.expect("the created entry");
    let stored = attr(&a, "userPassword").unwrap_or_default().to_owned();
    assert!(
        stored.starts_with('{') && !stored.contains("First-Passw0rd"),
        "{what}: stored hashed: {stored}"
    );
    s.bind_as(&dn, "First-Passw0rd")
        .await
        .unwrap_or_else(|e| panic!("{what}: bind with the first password: {e}"));

    let r = gw
        .patch_ops(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "path": "password", "value": "Second-Passw0rd"}]),
        )
        .await;
    assert!(r.status.is_success(), "{what}: {}", r.body);
    s.bind_as(&dn, "Second-Passw0rd")
        .await
        .unwrap_or_else(|e| panic!("{what}: bind with the new password: {e}"));
    assert!(
        s.bind_as(&dn, "First-Passw0rd").await.is_err(),
        "{what}: the old password still binds"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crud_over_ldaps_with_ca_file() {
    let Some(s) = tls_server("ldaps test").await else {
        return;
    };
    let gw = gateway_over(&s, Channel::Ldaps, &trust_ca_of(&s), Vec::new()).await;
    crud_round_trip(&gw, &s, "ldaps").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crud_over_starttls_with_ca_file() {
    let Some(s) = tls_server("StartTLS test").await else {
        return;
    };
    // The plain port serves LDAP too: only the StartTLS extended operation shows that the
    // gateway upgraded its connection. Nothing else on this server sends extended operations.
    let extended = |counts: &std::collections::BTreeMap<String, u64>| counts.get("Extended").copied().unwrap_or(0);
    let before = extended(&s.op_counts().await);
    let gw = gateway_over(&s, Channel::StartTls, &trust_ca_of(&s), Vec::new()).await;
    crud_round_trip(&gw, &s, "starttls").await;
    let upgrades = extended(&s.op_counts().await) - before;
    assert!(upgrades >= 1, "the gateway's connections sent no StartTLS");
}

/// The password extended operation (the shipped profile's `password = "exop"`) over StartTLS,
/// without `allow_plaintext_passwords`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_exop_over_starttls() {
    let Some(s) = tls_server("password exop over StartTLS").await else {
        return;
    };
    let gw = gateway_over(&s, Channel::StartTls, &trust_ca_of(&s), Vec::new()).await;
    password_round_trip(&gw, &s, "exop-starttls").await;
}

/// A `{SSHA}` userPassword written as an attribute over `ldaps://`, without
/// `allow_plaintext_passwords`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_hashed_attribute_over_ldaps() {
    let Some(s) = tls_server("hashed password over ldaps").await else {
        return;
    };
    let hashed_attribute = vec![
        (r#"password = "exop""#, r#"password = "attribute""#),
        (
            r#"password = "userPassword""#,
            r#"password = { to = "userPassword", convert = "hash:ssha" }"#,
        ),
    ];
    let gw = gateway_over(&s, Channel::Ldaps, &trust_ca_of(&s), hashed_attribute).await;
    password_round_trip(&gw, &s, "ssha-ldaps").await;
}

/// Over `ldap://` without StartTLS a password is refused with 403 before anything is written,
/// on create and on PATCH, unless `allow_plaintext_passwords` is set (README, "Running it").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_stay_off_plain_connections() {
    let Some(s) = tls_server("plain-connection passwords").await else {
        return;
    };
    let plain = gateway_over(&s, Channel::Plain, "", Vec::new()).await;
    let t = tag("plainpw");

    let refused_name = format!("{t}refused");
    let mut body = crate::user_body(&refused_name);
    body["password"] = json!("Some-Passw0rd");
    let r = plain.post("/Users", &body).await;
    assert_eq!(r.status, 403, "create with a password over plain ldap://: {}", r.body);
    assert!(
        ldap_entry(&s, slapd::PEOPLE, &format!("(uid={refused_name})"))
            .await
            .is_none(),
        "a refused create left an entry"
    );

    let u = create_user(&plain, crate::user_body(&format!("{t}nopw"))).await;
    let id = u["id"].as_str().expect("id").to_owned();
    let set_password = json!([{"op": "replace", "path": "password", "value": "Later-Passw0rd"}]);
    let r = plain.patch_ops(&format!("/Users/{id}"), set_password.clone()).await;
    assert_eq!(r.status, 403, "PATCH of a password over plain ldap://: {}", r.body);
    let (dn, a) = ldap_by_id(&s, &id).await.expect("entry");
    assert_eq!(attr(&a, "userPassword"), None, "a refused PATCH wrote a password");

    // The rule is about the channel, not the URL: ldap:// upgraded with StartTLS may carry it.
    let upgraded = gateway_over(&s, Channel::StartTls, &trust_ca_of(&s), Vec::new()).await;
    let r = upgraded.patch_ops(&format!("/Users/{id}"), set_password).await;
    assert!(r.status.is_success(), "PATCH of a password over StartTLS: {}", r.body);
    s.bind_as(&dn, "Later-Passw0rd").await.expect("bind with the password");

    // The documented opt-out for test directories.
    let allowed = gateway_over(&s, Channel::Plain, "allow_plaintext_passwords = true", Vec::new()).await;
    let r = allowed
        .patch_ops(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "path": "password", "value": "Plain-Passw0rd"}]),
        )
        .await;
    assert!(r.status.is_success(), "with allow_plaintext_passwords: {}", r.body);
    s.bind_as(&dn, "Plain-Passw0rd").await.expect("bind with the password");
}

/// A TLS server and a gateway that trusted its CA, after the server's CA and certificate were
/// replaced (and slapd restarted): the gateway no longer trusts the server. With the id of
/// a user created while it still did.
async fn server_behind_a_replaced_ca(what: &str, channel: Channel) -> Option<(Slapd, Gateway, String)> {
    let s = tls_server(what).await?;
    let gw = gateway_over(&s, channel, &trust_ca_of(&s), Vec::new()).await;
    let u = create_user(&gw, crate::user_body(&format!("{}before", tag("replaced-ca")))).await;
    let id = u["id"].as_str().expect("id").to_owned();
    tokio::task::block_in_place(|| s.replace_ca());
    Some((s, gw, id))
}

/// A certificate from a CA the gateway does not trust is the backend being unavailable: 503
/// with Retry-After and the request id, not ready, and nothing of the certificate or the TLS
/// error in what the client sees. Trusting the new CA is all it takes to work again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_certificate_is_backend_unavailable() {
    for channel in [Channel::Ldaps, Channel::StartTls] {
        let Some((s, gw, id)) = server_behind_a_replaced_ca("untrusted certificate", channel).await else {
            return;
        };
        let t = tag("untrusted");
        for (what, r) in [
            ("GET by id", gw.get(&format!("/Users/{id}")).await),
            ("list", gw.filter("/Users", &format!("userName sw \"{t}\"")).await),
            ("create", gw.post("/Users", &crate::user_body(&format!("{t}x"))).await),
        ] {
            let what = format!("{channel:?} {what}");
            assert_eq!(r.status, 503, "{what} with an untrusted certificate: {}", r.body);
            assert!(r.header("retry-after").is_some(), "{what}: 503 without Retry-After");
            let rid = r.header("x-request-id").expect("x-request-id");
            let detail = r.body["detail"].as_str().unwrap_or_default();
            assert!(
                detail.contains(rid),
                "{what}: the detail names no request id: {}",
                r.body
            );
            let text = r.body.to_string().to_lowercase();
            for leak in [
                "certificate",
                "issuer",
                "rustls",
                "tls",
                "x509",
                "handshake",
                "verif",
                "scimgate test ca",
                "127.0.",
            ] {
                assert!(!text.contains(leak), "{what}: {leak:?} leaked: {text}");
            }
        }
        let ready = gw.get(&format!("{}/readyz", gw.origin())).await;
        assert_eq!(ready.status, 503, "{channel:?}: /readyz with an untrusted certificate");
        assert!(
            !ready.body.to_string().to_lowercase().contains("certificate"),
            "{channel:?}: /readyz leaked: {}",
            ready.body
        );

        // The same server, trusted: it is up, and only the trust was missing.
        let trusting = gateway_over(&s, channel, &trust_ca_of(&s), Vec::new()).await;
        assert_eq!(ready_status(&trusting).await, 200, "{channel:?}: with the new CA");
        assert_eq!(trusting.get(&format!("/Users/{id}")).await.status, 200, "{channel:?}");
    }
}

/// `tls_skip_verify = true` talks to the server whose certificate the CA file no longer
/// verifies, over both TLS channels.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_skip_verify_accepts_an_untrusted_certificate() {
    let Some((s, distrusting, _)) = server_behind_a_replaced_ca("tls_skip_verify", Channel::Ldaps).await else {
        return;
    };
    assert_eq!(ready_status(&distrusting).await, 503, "the certificate is untrusted");
    for channel in [Channel::Ldaps, Channel::StartTls] {
        let gw = gateway_over(&s, channel, "tls_skip_verify = true", Vec::new()).await;
        assert_eq!(ready_status(&gw).await, 200, "{channel:?}");
        crud_round_trip(&gw, &s, &format!("skipverify-{channel:?}").to_lowercase()).await;
    }
}

/// Connects and binds one connection to `url` the way the pool does, with the extra
/// connector lines `connector`: what start-up reports, before any HTTP.
async fn connect_directly(url: &str, connector: &str) -> Result<(), ConnectorError> {
    let config: LdapConnectorConfig = toml::from_str(&format!(
        "url = \"{url}\"\nbind_dn = \"{}\"\nbind_password = \"{}\"\n{connector}",
        slapd::ADMIN_DN,
        slapd::ADMIN_PW
    ))
    .expect("connector config");
    Manager::new(&config)?.connect().await.map(drop)
}

/// Start-up: without `ca_file` the system trust store decides (and does not know the test
/// CA); a CA file is read as a PEM bundle, the system's own bundle (when the machine has one)
/// included; a file without a certificate, or no file, is a configuration error naming
/// `ca_file`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trust_store_and_ca_file_at_start_up() {
    let Some(s) = tls_server("trust store at start-up").await else {
        return;
    };
    let url = s.ldaps_url();
    match connect_directly(&url, "").await {
        Err(ConnectorError::Unavailable(m)) => assert!(m.to_lowercase().contains("certificate"), "{m}"),
        other => panic!("the system trust store accepted the test CA: {other:?}"),
    }

    let system_bundle = std::fs::read_to_string("/etc/ssl/certs/ca-certificates.crt").unwrap_or_default();
    let bundle = s.dir().join("bundle.pem");
    let ours = std::fs::read_to_string(s.ca_file()).expect("read the CA file");
    std::fs::write(&bundle, format!("{system_bundle}\n{ours}")).expect("write the bundle");
    connect_directly(&url, &ca_file_line(&bundle))
        .await
        .expect("the test CA in a bundle of system CAs");

    let key = s.ca_file().with_file_name("server.key");
    for (what, path) in [("a key file", key), ("no file", s.dir().join("missing.pem"))] {
        match connect_directly(&url, &ca_file_line(&path)).await {
            Err(ConnectorError::InvalidValue { field, .. }) => assert_eq!(field.as_deref(), Some("ca_file"), "{what}"),
            other => panic!("ca_file = {what}: {other:?}"),
        }
    }
}

/// A server that refuses StartTLS (the shared one serves no TLS) is unavailable to a gateway
/// that asks for it, like one whose certificate fails: no fallback to the plain connection,
/// and no internal error (a 500 instead of a 503 once the gateway runs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_refused_is_unavailable() {
    let Some(s) = crate::server() else { return };
    match connect_directly(&s.url(), "starttls = true").await {
        Err(ConnectorError::Unavailable(m)) => assert!(m.contains("StartTLS"), "{m}"),
        other => panic!("StartTLS to a server without TLS: {other:?}"),
    }
}
