//! slapd killed and restarted mid-test: 503 while it is down, recovery without a restart of
//! the gateway.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::slapd::{self, Slapd};
use crate::{Setup, create_user, gateway_with, tag};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slapd_killed_and_restarted() {
    if !slapd::available_or_skip("outage test") {
        return;
    }
    // Its own server: stopping the shared one would break the other tests.
    let s = tokio::task::spawn_blocking(Slapd::start).await.expect("start slapd");
    let gw = gateway_with(
        &s,
        Setup {
            connector: "connect_timeout_ms = 1000\noperation_timeout_ms = 2000\npool_size = 2",
            server: "request_timeout_ms = 8000",
            ..Default::default()
        },
    )
    .await;
    let t = tag("down");
    let u = create_user(&gw, crate::user_body(&format!("{t}a"))).await;
    let id = u["id"].as_str().unwrap().to_owned();
    assert_eq!(gw.get(&format!("/Users/{id}")).await.status, 200);

    // Down.
    let pid = s.pid().expect("pid");
    let server = std::sync::Arc::new(s);
    let stopper = server.clone();
    tokio::task::spawn_blocking(move || stopper.stop()).await.expect("stop");
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists() || server.pid().is_none());
    let started = Instant::now();
    for (what, r) in [
        ("GET by id", gw.get(&format!("/Users/{id}")).await),
        ("list", gw.filter("/Users", &format!("userName sw \"{t}\"")).await),
        ("create", gw.post("/Users", &crate::user_body(&format!("{t}b"))).await),
        (
            "patch",
            gw.patch_ops(
                &format!("/Users/{id}"),
                json!([{"op": "replace", "path": "title", "value": "x"}]),
            )
            .await,
        ),
    ] {
        assert_eq!(r.status, 503, "{what} while slapd is down: {}", r.body);
        assert!(r.header("retry-after").is_some(), "{what}: 503 without Retry-After");
    }
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "answers while down took {:?}",
        started.elapsed()
    );
    let ready = gw.get(&format!("{}/readyz", gw.origin())).await;
    assert_ne!(ready.status, 200, "/readyz while slapd is down");

    // Up again, same port and data: the gateway recovers by itself.
    let starter = server.clone();
    tokio::task::spawn_blocking(move || starter.restart())
        .await
        .expect("restart");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = gw.get(&format!("/Users/{id}")).await;
        if r.status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the gateway did not recover: {} {}",
            r.status,
            r.body
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let r = gw.post("/Users", &crate::user_body(&format!("{t}c"))).await;
    assert_eq!(r.status, 201, "create after recovery: {}", r.body);
    let r = gw.filter("/Users", &format!("userName sw \"{t}\"")).await;
    assert_eq!(r.body["totalResults"], json!(2), "{}", r.body);
}
