//! `mailbox-aws-accounts` against DynamoDB (moto): the first administrator of a new deployment is
//! made with it and signs in through the console's own sign-in; a weak password is refused; a
//! disabled account is refused at sign-in. Configuration from the environment, as the functions.

use mailbox_app::accounts::LocalAuth;
use mailbox_aws::{sdk_config, DynamoStore};
use mailbox_conformance::moto;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;

fn run(table: &str, endpoint: &str, args: &[&str], stdin: &str) -> (bool, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mailbox-aws-accounts"))
        .args(args)
        .env("TABLE_NAME", table)
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_administrator_of_a_deployment_is_made_with_the_accounts_command() {
    let endpoint = moto::moto();
    let table = moto::unique("accounts");
    let sdk = sdk_config(Some(endpoint)).await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), table.clone());
    store.create_table().await.unwrap();

    let create = ["create", "--username", "admin", "--name", "系统管理员", "--role", "admin"];
    let (ok, out) = run(&table, endpoint, &create, "admin12345\n");
    assert!(!ok && out.contains("12"), "a weak password is refused: {out}");
    let (ok, out) = run(&table, endpoint, &create, "Guang-an-city-hall-2026\n");
    assert!(ok, "{out}");
    let (ok, out) = run(&table, endpoint, &["list"], "");
    assert!(ok && out.contains("admin") && out.contains("active"), "{out}");

    let auth = LocalAuth { accounts: Arc::new(store.clone()), limits: Arc::new(store.clone()) };
    let now = chrono::Utc::now();
    assert!(auth.login("admin", "Guang-an-city-hall-2026", "192.0.2.1", now).await.is_ok());
    let (ok, out) = run(&table, endpoint, &["disable", "admin"], "");
    assert!(ok, "{out}");
    assert!(auth.login("admin", "Guang-an-city-hall-2026", "192.0.2.1", now).await.is_err());
    let (ok, out) = run(&table, endpoint, &["disable", "nobody"], "");
    assert!(!ok && out.lines().count() == 1, "{out}");
}
