//! `mailbox-aws-setup` as a real process: the functions' own configuration from the environment
//! (a table made in `AWS_REGION`, where a function started with that region looks for it), flags
//! overriding it, and a one-line usage error without a backtrace.

use mailbox_aws::sdk_config_at;
use mailbox_conformance::moto;
use std::process::Command;

fn setup() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mailbox-aws-setup"));
    for k in ["AWS_ENDPOINT_URL", "AWS_REGION", "TABLE_NAME", "QUEUE_PREFIX", "RUST_BACKTRACE"] {
        c.env_remove(k);
    }
    c.env("RUST_BACKTRACE", "1");
    c
}

#[test]
fn missing_or_unknown_arguments_are_one_line() {
    for args in
        [vec![], vec!["--endpoint", "http://127.0.0.1:9"], vec!["--table", "t", "--frobnicate"], vec!["--table"]]
    {
        let out = setup().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("mailbox-aws-setup: ") && err.contains("usage:"), "{err}");
        assert!(!err.contains("backtrace") && !err.contains("panicked"), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_table_is_made_in_the_region_of_the_environment_and_flags_override() {
    let endpoint = moto::moto();
    let table = moto::unique("setup");
    let out = setup()
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_REGION", "cn-north-1")
        .env("TABLE_NAME", &table)
        .env("QUEUE_PREFIX", format!("{table}-"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let in_region = |region: &'static str, table: String| async move {
        let sdk = sdk_config_at(moto::moto(), region).await;
        aws_sdk_dynamodb::Client::new(&sdk).describe_table().table_name(table).send().await.is_ok()
    };
    assert!(in_region("cn-north-1", table.clone()).await, "made where the functions will look");
    assert!(!in_region("us-east-1", table.clone()).await, "not in a region the functions do not use");
    let sqs = aws_sdk_sqs::Client::new(&sdk_config_at(endpoint, "cn-north-1").await);
    assert!(sqs.get_queue_url().queue_name(format!("{table}-jobs")).send().await.is_ok(), "queues with the prefix");

    // Flags override the environment.
    let other = moto::unique("setup");
    let out = setup()
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_REGION", "cn-north-1")
        .env("TABLE_NAME", &table)
        .args(["--region", "us-east-1", "--table", &other])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(in_region("us-east-1", other).await);
}
