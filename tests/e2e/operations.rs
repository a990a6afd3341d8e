//! Operations: several endpoints in one process, absolute URLs behind a proxy, shutdown.

use serde_json::json;

use crate::harness::{Gateway, TOKEN, repo_path, user};

/// Two SCIM services on one listener: each has its own base path, database and ids.
#[tokio::test]
async fn two_endpoints_serve_separate_backends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let m = repo_path("mappings/quickstart");
    let db = dir.path().join("hr.db");
    let config = format!(
        r#"
[auth]
tokens = ["{TOKEN}"]
[connectors.hr.sql]
url = "sqlite:{hr}?mode=rwc"
init_files = ["{schema}"]
[connectors.lab.sql]
url = "sqlite:{lab}?mode=rwc"
init_files = ["{schema}"]
[endpoints.hr]
path = "/scim/v2"
connector = "hr"
mappings = ["{users}", "{groups}"]
[endpoints.lab]
path = "/lab/scim"
connector = "lab"
mappings = ["{users}", "{groups}"]
"#,
        hr = db.display(),
        lab = dir.path().join("lab.db").display(),
        schema = m.join("schema.sql").display(),
        users = m.join("users.toml").display(),
        groups = m.join("groups.toml").display(),
    );
    let gw = Gateway::with_config(dir, db, &config).await;
    let lab = format!("{}/lab/scim", gw.origin());
    assert_eq!(gw.post("/Users", &user("hr-only")).await.status, 201);
    let in_lab = gw.post(&format!("{lab}/Users"), &user("lab-only")).await;
    assert_eq!(in_lab.status, 201, "{}", in_lab.body);
    assert_eq!(in_lab.body["meta"]["location"], format!("{lab}/Users/{}", in_lab.id()));
    assert_eq!(gw.get("/Users").await.body["totalResults"], 1);
    assert_eq!(
        gw.get(&format!("{lab}/Users?filter=userName+eq+%22hr-only%22"))
            .await
            .body["totalResults"],
        0
    );
    let types = gw.get(&format!("{lab}/ResourceTypes/User")).await;
    assert_eq!(types.body["meta"]["location"], format!("{lab}/ResourceTypes/User"));
    // Paths outside both endpoints are SCIM 404s.
    assert_eq!(gw.get(&format!("{}/other/Users", gw.origin())).await.status, 404);
}

/// `meta.location` comes from `public_url`, or from forwarded headers only when trusted.
#[tokio::test]
async fn absolute_urls_follow_public_url_and_trusted_forwarded_headers() {
    let untrusted = Gateway::with_server_settings("").await;
    let r = untrusted
        .raw(
            reqwest::Method::POST,
            "/Users",
            Some(user("u1").to_string()),
            &[("X-Forwarded-Host", "evil.example"), ("X-Forwarded-Proto", "https")],
        )
        .await;
    assert_eq!(r.status, 201);
    let loc = r.body["meta"]["location"].as_str().unwrap_or_default().to_owned();
    assert!(loc.starts_with(&untrusted.origin()), "{loc}");

    let trusted = Gateway::with_server_settings("trust_forwarded = true").await;
    let r = trusted
        .raw(
            reqwest::Method::POST,
            "/Users",
            Some(user("u2").to_string()),
            &[("X-Forwarded-Host", "scim.example.com"), ("X-Forwarded-Proto", "https")],
        )
        .await;
    assert_eq!(
        r.body["meta"]["location"],
        format!("https://scim.example.com/scim/v2/Users/{}", r.id())
    );

    let public = Gateway::with_server_settings("public_url = \"https://id.example.org/\"").await;
    let r = public.post("/Users", &user("u3")).await;
    assert_eq!(
        r.body["meta"]["location"],
        format!("https://id.example.org/scim/v2/Users/{}", r.id())
    );
    let g = public
        .post("/Groups", &json!({"displayName": "G", "members": [{"value": r.id()}]}))
        .await;
    assert_eq!(
        g.body["members"][0]["$ref"],
        format!("https://id.example.org/scim/v2/Users/{}", r.id())
    );
}

/// A membership-only PATCH goes straight to the backend; an unknown group is still a 404 and
/// writes nothing.
#[tokio::test]
async fn membership_patch_on_an_unknown_group_is_404() {
    let gw = Gateway::quickstart().await;
    let u = gw.post("/Users", &user("m1")).await.id();
    let before = gw.snapshot().await;
    let r = gw
        .patch(
            "/Groups/00000000-0000-4000-8000-000000000000",
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "add", "path": "members", "value": [{"value": u}]}]}),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(gw.snapshot().await, before);
}
