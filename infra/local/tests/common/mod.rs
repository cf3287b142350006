//! A real `mailbox serve` process on a free port with a fresh data folder, and an HTTP client.
#![allow(dead_code)]

use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const PASSWORD: &str = "mailbox-demo";

pub struct Server {
    pub child: Child,
    pub base: String,
    pub dir: PathBuf,
    /// The data folder when the server made it ([`Server::start`]); removed after the server stops.
    owned_dir: Option<tempfile::TempDir>,
}

/// A fresh folder, removed when the returned guard is dropped.
pub fn temp_dir(label: &str) -> tempfile::TempDir {
    tempfile::Builder::new().prefix(&format!("mailbox-e2e-{label}-")).tempdir().unwrap()
}

impl Server {
    pub fn start(label: &str) -> Server {
        let dir = temp_dir(label);
        let mut server = Server::start_in(dir.path());
        server.owned_dir = Some(dir);
        server
    }

    /// Starts a server whose log (level info) goes to the file `serve.log` of its folder, as when
    /// it runs without a terminal.
    pub fn start_logging(label: &str) -> Server {
        let dir = temp_dir(label);
        let log = std::fs::File::create(dir.path().join("serve.log")).unwrap();
        let mut server = Server::spawn(dir.path(), "info", Stdio::from(log), &["--demo"]);
        server.owned_dir = Some(dir);
        server
    }

    /// Starts a server on `dir` (reusing its database if there is one) and waits until it listens.
    pub fn start_in(dir: &Path) -> Server {
        Server::spawn(dir, "warn", Stdio::inherit(), &["--demo"])
    }

    /// Starts a demo server on `dir` with these environment variables (a test hook, say).
    pub fn start_in_env(dir: &Path, env: &[(&str, &str)]) -> Server {
        Server::spawn_env(dir, "warn", Stdio::inherit(), &["--demo"], env)
    }

    /// Starts a demo server with more options of `mailbox serve` and environment variables.
    pub fn start_with_env(label: &str, options: &[&str], env: &[(&str, &str)]) -> Server {
        let dir = temp_dir(label);
        let options: Vec<&str> = std::iter::once("--demo").chain(options.iter().copied()).collect();
        let mut server = Server::spawn_env(dir.path(), "warn", Stdio::inherit(), &options, env);
        server.owned_dir = Some(dir);
        server
    }

    /// Starts a demo server with more options of `mailbox serve`.
    pub fn start_with(label: &str, options: &[&str]) -> Server {
        let dir = temp_dir(label);
        let options: Vec<&str> = std::iter::once("--demo").chain(options.iter().copied()).collect();
        let mut server = Server::spawn(dir.path(), "warn", Stdio::inherit(), &options);
        server.owned_dir = Some(dir);
        server
    }

    /// Starts a server as a city runs it: no demo accounts, only `options`.
    pub fn start_production(dir: &Path, options: &[&str]) -> Server {
        Server::spawn(dir, "warn", Stdio::inherit(), options)
    }

    fn spawn(dir: &Path, log_level: &str, stderr: Stdio, options: &[&str]) -> Server {
        Server::spawn_env(dir, log_level, stderr, options, &[])
    }

    fn spawn_env(dir: &Path, log_level: &str, stderr: Stdio, options: &[&str], env: &[(&str, &str)]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mailbox"))
            .args(["serve", "--data-dir", dir.to_str().unwrap(), "--addr", "127.0.0.1:0", "--sweep-interval", "1"])
            .args(options)
            .envs(env.iter().copied())
            .env("RUST_LOG", log_level)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("mailbox starts");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().expect("a first line").unwrap();
        let base = first
            .split("listening on ")
            .nth(1)
            .unwrap_or_else(|| panic!("unexpected banner {first}"))
            .trim()
            .to_owned();
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server { child, base, dir: dir.to_path_buf(), owned_dir: None }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn client() -> Client {
    Client::builder().timeout(Duration::from_secs(30)).build().unwrap()
}

pub struct Api {
    pub http: Client,
    pub base: String,
}

pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
}

impl Api {
    pub fn new(server: &Server) -> Api {
        Api { http: client(), base: server.base.clone() }
    }

    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Reply {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status();
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply { status, body }
    }

    pub async fn login(&self, user: &str) -> String {
        let r = self
            .call(Method::POST, "/api/v1/auth/login", None, Some(json!({"username": user, "password": PASSWORD})))
            .await;
        assert_eq!(r.status, 200, "login {user}: {}", r.body);
        r.body["token"].as_str().unwrap().to_owned()
    }

    /// Submits a message; returns (number, query code).
    pub async fn submit(&self, mailbox: &str, kind: &str, public: bool) -> (String, String) {
        let body = json!({
            "mailbox": mailbox, "kind": kind, "title": "小区门口道路破损严重",
            "body": "某小区门口道路坑洼，雨天积水。我叫王小明，电话13812345678。",
            "name": "王小明", "phone": "13812345678", "public": public
        });
        let r = self.call(Method::POST, "/api/v1/cases", None, Some(body)).await;
        assert_eq!(r.status, 201, "{}", r.body);
        (r.body["number"].as_str().unwrap().into(), r.body["query_code"].as_str().unwrap().into())
    }

    pub async fn citizen(&self, number: &str, code: &str) -> Reply {
        self.call(Method::GET, &format!("/api/v1/cases/{number}?query_code={code}"), None, None).await
    }

    /// The case id of a number, as a dispatcher finds it in the inbox.
    pub async fn find(&self, token: &str, number: &str) -> Value {
        let r = self.call(Method::GET, "/api/v1/staff/inbox?limit=500", Some(token), None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["number"] == number)
            .cloned()
            .unwrap_or_else(|| panic!("{number} not in inbox"))
    }

    /// Performs an action; returns the reply (status and case view).
    pub async fn act(&self, token: &str, id: &str, version: Option<u64>, command: Value) -> Reply {
        let action = command["action"].as_str().unwrap().to_owned();
        let body = json!({"version": version, "command": command});
        self.call(Method::POST, &format!("/api/v1/staff/cases/{id}/actions/{action}"), Some(token), Some(body)).await
    }

    /// Performs an action that must succeed; returns the case view.
    pub async fn ok(&self, token: &str, id: &str, command: Value) -> Value {
        let r = self.act(token, id, None, command.clone()).await;
        assert_eq!(r.status, 200, "{command}: {}", r.body);
        r.body
    }
}
