//! Starts a gateway in-process on a free loopback port, backed by a throwaway SQLite file
//! with the quickstart mappings, and talks to it over real HTTP.

// Tests set up and inspect the database directly, behind the gateway's back.
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};

use reqwest::{Method, StatusCode, header::HeaderMap};
use serde_json::Value as Json;

pub const TOKEN: &str = "e2e-test-token";

pub struct Gateway {
    pub base: String,
    pub client: reqwest::Client,
    pub db: PathBuf,
    pub dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Json,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn scim_type(&self) -> Option<&str> {
        self.body.get("scimType").and_then(Json::as_str)
    }
    pub fn id(&self) -> String {
        self.body["id"].as_str().expect("response has an id").to_owned()
    }
}

pub fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

impl Gateway {
    /// The quickstart mappings on a fresh database.
    pub async fn quickstart() -> Gateway {
        Self::with_server_settings("").await
    }

    /// The quickstart with extra `[server]` keys (TOML lines).
    pub async fn with_server_settings(server: &str) -> Gateway {
        Self::with_settings(server, "").await
    }

    /// The quickstart with extra `[server]` keys and extra `[connectors.db.sql]` keys.
    pub async fn with_settings(server: &str, connector: &str) -> Gateway {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("scim.db");
        let mappings = repo_path("mappings/quickstart");
        let config = format!(
            r#"
[server]
{server}

[auth]
tokens = ["{TOKEN}"]

[connectors.db.sql]
url = "sqlite:{db}?mode=rwc"
init_files = ["{schema}"]
{connector}

[endpoints.main]
path = "/scim/v2"
connector = "db"
mappings = ["{users}", "{groups}"]
"#,
            db = db.display(),
            schema = mappings.join("schema.sql").display(),
            users = mappings.join("users.toml").display(),
            groups = mappings.join("groups.toml").display(),
        );
        Self::with_config(dir, db, &config).await
    }

    pub async fn with_config(dir: tempfile::TempDir, db: PathBuf, config_text: &str) -> Gateway {
        let path = dir.path().join("scimgate.toml");
        std::fs::write(&path, config_text).expect("write config");
        let config = scimgate::config::Config::load(&path).unwrap_or_else(|e| panic!("config: {e}"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let app = scimgate::app::build(&config, scimgate::app::Files::Disk, Some(addr))
            .await
            .unwrap_or_else(|e| panic!("build: {e}"));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(scimgate::http::serve(listener, app.state, async move {
            let _ = rx.await;
        }));
        Gateway {
            base: format!("http://{addr}/scim/v2"),
            client: reqwest::Client::new(),
            db,
            dir,
            shutdown: Some(tx),
        }
    }

    pub async fn raw(&self, method: Method, path: &str, body: Option<String>, headers: &[(&str, &str)]) -> Reply {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{}", self.base, path)
        };
        let mut req = self
            .client
            .request(method, url)
            .header("Authorization", format!("Bearer {TOKEN}"));
        if let Some(b) = body {
            req = req.header("Content-Type", "application/scim+json").body(b);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let body = if text.is_empty() {
            Json::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Json::String(text))
        };
        Reply { status, headers, body }
    }

    /// A request with full control over the body's content type and the `Authorization`
    /// header (`None` sends none).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<(&str, String)>,
        authorization: Option<&str>,
    ) -> Reply {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{}", self.base, path)
        };
        let mut req = self.client.request(method, url);
        if let Some(a) = authorization {
            req = req.header("Authorization", a);
        }
        if let Some((content_type, b)) = body {
            req = req.header("Content-Type", content_type).body(b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let body = if text.is_empty() {
            Json::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Json::String(text))
        };
        Reply { status, headers, body }
    }

    /// Sends `METHOD target HTTP/1.1` byte for byte over a plain TCP connection, with the
    /// bearer token and nothing else (no User-Agent), so the request target can hold what
    /// an HTTP client library would re-encode (raw `"`, `+`). `target` is appended to the
    /// base path. Returns the status and the parsed body.
    pub async fn raw_http(&self, method: &str, target: &str, body: Option<(&str, &str)>) -> (u16, Json) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let rest = self.base.trim_start_matches("http://");
        let (authority, base_path) = rest.split_once('/').expect("base has a path");
        let mut req = format!(
            "{method} /{base_path}{target} HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n"
        );
        if let Some((content_type, b)) = body {
            req.push_str(&format!(
                "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
                b.len()
            ));
        }
        req.push_str("\r\n");
        if let Some((_, b)) = body {
            req.push_str(b);
        }
        let mut stream = tokio::net::TcpStream::connect(authority).await.expect("connect");
        stream.write_all(req.as_bytes()).await.expect("write");
        let mut out = Vec::new();
        stream.read_to_end(&mut out).await.expect("read");
        let text = String::from_utf8_lossy(&out).into_owned();
        let status: u16 = text
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status line: {text}"));
        let (head, payload) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let payload = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
            dechunk(payload)
        } else {
            payload.to_owned()
        };
        let body = if payload.is_empty() {
            Json::Null
        } else {
            serde_json::from_str(&payload).unwrap_or(Json::String(payload))
        };
        (status, body)
    }

    /// The origin (`http://127.0.0.1:port`), for paths outside the SCIM base.
    pub fn origin(&self) -> String {
        self.base.trim_end_matches("/scim/v2").to_owned()
    }

    /// GET of a list with `filter` percent-encoded (and optional extra query text).
    pub async fn filter(&self, resource: &str, filter: &str) -> Reply {
        self.get(&format!("{resource}?filter={}", enc(filter))).await
    }

    /// PATCH with a PatchOp body made of `ops`.
    pub async fn patch_ops(&self, path: &str, ops: Json) -> Reply {
        self.patch(path, &patch_body(ops)).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.raw(Method::GET, path, None, &[]).await
    }
    pub async fn post(&self, path: &str, body: &Json) -> Reply {
        self.raw(Method::POST, path, Some(body.to_string()), &[]).await
    }
    pub async fn put(&self, path: &str, body: &Json) -> Reply {
        self.raw(Method::PUT, path, Some(body.to_string()), &[]).await
    }
    pub async fn patch(&self, path: &str, body: &Json) -> Reply {
        self.raw(Method::PATCH, path, Some(body.to_string()), &[]).await
    }
    pub async fn delete(&self, path: &str) -> Reply {
        self.raw(Method::DELETE, path, None, &[]).await
    }

    /// Runs a query directly against the backing database (for "nothing was written").
    pub async fn db_scalar(&self, sql: &str) -> i64 {
        use sqlx::Connection;
        let url = format!("sqlite:{}", self.db.display());
        let mut conn = sqlx::SqliteConnection::connect(&url).await.expect("open db");
        let row: (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_one(&mut conn)
            .await
            .expect("query");
        row.0
    }

    /// Runs `;`-separated statements directly against the backing database, behind the
    /// gateway's back (to break or change it).
    pub async fn db_exec(&self, sql: &str) {
        use sqlx::Connection;
        let url = format!("sqlite:{}", self.db.display());
        let mut conn = sqlx::SqliteConnection::connect(&url).await.expect("open db");
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&mut conn)
            .await
            .expect("statement");
    }

    /// Holds the database's write lock (an open `BEGIN EXCLUSIVE` transaction with a write)
    /// until [`DbLock::release`].
    pub async fn db_lock(&self) -> DbLock {
        use sqlx::Connection;
        let url = format!("sqlite:{}", self.db.display());
        let mut conn = sqlx::SqliteConnection::connect(&url).await.expect("open db");
        sqlx::raw_sql(sqlx::AssertSqlSafe(
            "BEGIN EXCLUSIVE; UPDATE users SET nick_name = 'locked'".to_owned(),
        ))
        .execute(&mut conn)
        .await
        .expect("lock");
        DbLock(conn)
    }

    /// Row counts of every quickstart table, to assert a failed request changed nothing.
    pub async fn snapshot(&self) -> Vec<i64> {
        let mut out = Vec::new();
        for t in ["users", "user_emails", "user_phones", "groups", "group_members"] {
            out.push(self.db_scalar(&format!("SELECT count(*) FROM {t}")).await);
        }
        out.push(self.db_scalar("SELECT coalesce(sum(version), 0) FROM users").await);
        out.push(self.db_scalar("SELECT coalesce(sum(version), 0) FROM groups").await);
        out
    }
}

pub struct DbLock(sqlx::SqliteConnection);

impl DbLock {
    /// Rolls the locking transaction back and closes the connection.
    pub async fn release(mut self) {
        sqlx::raw_sql(sqlx::AssertSqlSafe("ROLLBACK".to_owned()))
            .execute(&mut self.0)
            .await
            .expect("rollback");
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub fn user(name: &str) -> Json {
    serde_json::json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": name,
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "emails": [{"value": format!("{name}@example.com"), "type": "work", "primary": true}],
        "active": true
    })
}

/// Percent-encodes a query value (spaces as `%20`, quotes as `%22`).
pub fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// A PatchOp request body.
pub fn patch_body(ops: Json) -> Json {
    serde_json::json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

/// The `id`s of a ListResponse, in order.
pub fn ids(list: &Json) -> Vec<String> {
    list["Resources"]
        .as_array()
        .map(|a| a.iter().filter_map(|r| r["id"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// The `userName`s of a ListResponse, in order.
pub fn user_names(list: &Json) -> Vec<String> {
    list["Resources"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r["userName"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}
