//! A server run as a city runs it: without `--demo` there are no demo accounts; the first
//! administrator is made with `mailbox accounts create` (password on standard input) and signs in;
//! disabling an account ends its open session at once; a reset forces a new password first.

mod common;

use common::*;
use reqwest::Method;
use serde_json::json;
use std::io::Write;
use std::process::{Command, Stdio};

/// `mailbox accounts …` with `stdin` as its standard input; (success, output).
fn accounts(dir: &std::path::Path, args: &[&str], stdin: &str) -> (bool, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mailbox"))
        .args(["accounts"])
        .args(args)
        .args(["--data-dir", dir.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

async fn login(api: &Api, username: &str, password: &str) -> Reply {
    api.call(Method::POST, "/api/v1/auth/login", None, Some(json!({"username": username, "password": password}))).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_demo_there_are_no_demo_accounts_and_the_first_admin_is_made_on_the_command_line() {
    let dir = temp_dir("production");
    let server = Server::start_production(dir.path(), &[]);
    let api = Api::new(&server);
    assert_eq!(login(&api, "admin", PASSWORD).await.status, 401);
    assert_eq!(login(&api, "xfj", PASSWORD).await.status, 401);

    // The password never on the command line: a weak one is refused with the rule it breaks.
    let create = ["create", "--username", "chen", "--name", "陈管理员", "--role", "admin"];
    let (ok, out) = accounts(dir.path(), &create, "password123\n");
    assert!(!ok && out.contains("12"), "{out}");
    let strong = "Jialing-river-bends-9-times";
    let (ok, out) = accounts(dir.path(), &create, &format!("{strong}\n"));
    assert!(ok, "{out}");
    let (ok, out) = accounts(dir.path(), &create, &format!("{strong}\n"));
    assert!(!ok && out.contains("已存在"), "{out}");
    let admin = login(&api, "chen", strong).await;
    assert_eq!(admin.status, 200, "{}", admin.body);
    assert_eq!(admin.body["user"]["role"], "admin");

    // A handler, created, signs in; disabled, their open session ends at the next request.
    let handler = ["create", "--username", "li-slj", "--name", "李承办", "--role", "handler", "--unit", "water"];
    let (ok, out) = accounts(dir.path(), &handler, "Water-works-and-dams-2026\n");
    assert!(ok, "{out}");
    let li = login(&api, "li-slj", "Water-works-and-dams-2026").await;
    assert_eq!(li.status, 200);
    let token = li.body["token"].as_str().unwrap().to_owned();
    assert_eq!(api.call(Method::GET, "/api/v1/staff/inbox", Some(&token), None).await.status, 200);
    let (ok, out) = accounts(dir.path(), &["disable", "li-slj"], "");
    assert!(ok, "{out}");
    assert_eq!(api.call(Method::GET, "/api/v1/staff/inbox", Some(&token), None).await.status, 401);
    assert_eq!(login(&api, "li-slj", "Water-works-and-dams-2026").await.status, 403);
    let (ok, out) = accounts(dir.path(), &["list"], "");
    assert!(ok && out.contains("li-slj") && out.contains("disabled"), "{out}");
    assert!(!out.contains("argon2"), "no password hashes in the list");

    // Enabled and reset: the next sign-in must choose a new password before anything else.
    assert!(accounts(dir.path(), &["enable", "li-slj"], "").0);
    let (ok, out) = accounts(dir.path(), &["reset-password", "li-slj"], "Temporary-pass-for-li-7\n");
    assert!(ok, "{out}");
    let li = login(&api, "li-slj", "Temporary-pass-for-li-7").await;
    assert_eq!(li.status, 200);
    assert_eq!(li.body["must_change_password"], true, "{}", li.body);
    let token = li.body["token"].as_str().unwrap().to_owned();
    let refused = api.call(Method::GET, "/api/v1/staff/inbox", Some(&token), None).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(refused.body["error"]["code"], "password_change_required");
    let changed = api
        .call(
            Method::POST,
            "/api/v1/auth/password",
            Some(&token),
            Some(json!({"password": "Li-chooses-her-own-words"})),
        )
        .await;
    assert_eq!(changed.status, 204, "{}", changed.body);
    let li = login(&api, "li-slj", "Li-chooses-her-own-words").await;
    assert_eq!(li.status, 200);
    let token = li.body["token"].as_str().unwrap().to_owned();
    assert_eq!(api.call(Method::GET, "/api/v1/staff/inbox", Some(&token), None).await.status, 200);

    // Unknown names and bad input on the command line: one line, non-zero exit, nothing changed.
    let (ok, out) = accounts(dir.path(), &["disable", "nobody"], "");
    assert!(!ok && out.lines().count() == 1, "{out}");
    let (ok, out) = accounts(
        dir.path(),
        &["create", "--username", "x1", "--name", "某", "--role", "handler"],
        "Some-long-password-77\n",
    );
    assert!(!ok && out.contains("单位"), "{out}");
}

/// Another city's organisation file on the embedded deployment: its own mailboxes, units, case
/// prefix and deadlines, a case from submission to reply; then the Guang'an organisation on the
/// same data is refused at start, naming the unit whose open case it would strand.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_citys_organisation_runs_a_case_end_to_end() {
    let org = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/config/small-city.toml");
    let dir = temp_dir("small-city");
    let with_org = |args: &[&str]| -> Vec<String> {
        args.iter().map(|a| a.to_string()).chain(["--org".to_owned(), org.to_owned()]).collect()
    };
    let make = |username: &str, role: &str, unit: &str, password: &str| {
        let args = with_org(&["create", "--username", username, "--name", "工作人员", "--role", role, "--unit", unit]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (ok, out) = accounts(dir.path(), &args, &format!("{password}\n"));
        assert!(ok, "{out}");
    };
    make("xs-xfj", "dispatcher", "city-xfj", "Xishan-letters-bureau-1");
    make("xs-parks", "handler", "parks", "Xishan-parks-and-trees-2");
    let server = Server::start_production(dir.path(), &["--org", org]);
    let api = Api::new(&server);
    let boxes = api.call(Method::GET, "/api/v1/mailboxes", None, None).await;
    let ids: Vec<&str> = boxes.body.as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["mayor", "dongcheng-head", "roads-head"]);
    let submitted = api
        .call(
            Method::POST,
            "/api/v1/cases",
            None,
            Some(json!({"mailbox": "mayor", "kind": "suggestion", "title": "公园路灯不亮", "body": "滨河公园路灯坏了",
                        "name": "周小溪", "phone": "13912345678", "public": true})),
        )
        .await;
    assert_eq!(submitted.status, 201, "{}", submitted.body);
    let number = submitted.body["number"].as_str().unwrap();
    assert!(number.starts_with("XS"), "{number}");

    let token = |r: Reply| r.body["token"].as_str().unwrap().to_owned();
    let xfj = token(login(&api, "xs-xfj", "Xishan-letters-bureau-1").await);
    let parks = token(login(&api, "xs-parks", "Xishan-parks-and-trees-2").await);
    let id = api.find(&xfj, number).await["id"].as_str().unwrap().to_owned();
    api.ok(&xfj, &id, json!({"action": "accept"})).await;
    let guangan_unit = api
        .act(&xfj, &id, None, json!({"action": "dispatch", "mode": "transfer", "lead": "water", "class": "simple"}))
        .await;
    assert_eq!(guangan_unit.status, 400, "a unit of another city: {}", guangan_unit.body);
    api.ok(&xfj, &id, json!({"action": "dispatch", "mode": "transfer", "lead": "parks", "class": "simple"})).await;
    let received = api.ok(&parks, &id, json!({"action": "receive"})).await;
    assert_eq!(received["case"]["deadline"]["base_days"], 3, "the city's own deadline policy");
    let replied = api.ok(&parks, &id, json!({"action": "reply", "text": "路灯已修复。", "public": true})).await;
    assert_eq!(replied["case"]["status"], "replied");
    drop(server);

    // The built-in Guang'an organisation on this data would strand the replied case's unit.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mailbox"))
        .args(["serve", "--data-dir", dir.path().to_str().unwrap(), "--addr", "127.0.0.1:0"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "refused");
    assert!(text.contains("unit `parks` (1 open cases)"), "{text}");
}
