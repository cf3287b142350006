//! Backups: `mailbox backup` taken while clients keep submitting, restored with `mailbox restore`
//! into a new folder: the copy is whole, holds every submission answered before the backup began,
//! and its statistics counters agree with its cases. Restore refuses to overwrite a folder.

mod common;

use common::*;
use serde_json::{json, Value};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn mailbox(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mailbox")).args(args).output().expect("mailbox runs")
}

fn text(o: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_during_submissions_restores_whole_and_consistent() {
    let dir = temp_dir("backup-source");
    let server = Server::start_in(dir.path());
    let answered: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for c in 0..4 {
        let (answered, stop, url) = (answered.clone(), stop.clone(), server.url("/api/v1/cases"));
        clients.push(tokio::spawn(async move {
            let http = client();
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                let body = json!({"mailbox": "mayor", "kind": "complaint", "title": format!("备份测试 {c}-{i}"),
                                  "body": "路灯不亮", "name": "赵六", "phone": "13700000000", "public": false});
                let r = http.post(&url).json(&body).send().await.unwrap();
                assert_eq!(r.status(), 201);
                let v: Value = r.json().await.unwrap();
                let entry = (v["number"].as_str().unwrap().to_owned(), v["query_code"].as_str().unwrap().to_owned());
                answered.lock().unwrap().push(entry);
                i += 1;
            }
        }));
    }
    while answered.lock().unwrap().len() < 50 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let before_backup = answered.lock().unwrap().clone();
    let file = dir.path().join("copy.db");
    let file_s = file.to_str().unwrap();
    let data_s = dir.path().to_str().unwrap();
    let out = tokio::task::spawn_blocking({
        let (data_s, file_s) = (data_s.to_owned(), file_s.to_owned());
        move || mailbox(&["backup", "--data-dir", &data_s, "--to", &file_s])
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    stop.store(true, Ordering::SeqCst);
    for c in clients {
        c.await.unwrap();
    }
    assert!(answered.lock().unwrap().len() > before_backup.len(), "submissions went on during the backup");

    // A second backup to the same file is refused: a backup is never overwritten.
    let again = mailbox(&["backup", "--data-dir", data_s, "--to", file_s]);
    assert!(!again.status.success());
    assert!(text(&again).contains("already exists"), "{}", text(&again));

    let restored = temp_dir("backup-restored");
    let target = restored.path().join("data");
    let target_s = target.to_str().unwrap();
    let out = mailbox(&["restore", "--from", file_s, "--data-dir", target_s]);
    assert!(out.status.success(), "{}", text(&out));
    // The restored file is whole.
    let conn = rusqlite::Connection::open(target.join("mailbox.db")).unwrap();
    let integrity: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(integrity, "ok");
    drop(conn);
    // Its counters agree with its cases.
    let out = mailbox(&["stats", "reconcile", "--data-dir", target_s]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("differences: 0"), "{}", text(&out));
    // Restoring over it is refused unless forced.
    let out = mailbox(&["restore", "--from", file_s, "--data-dir", target_s]);
    assert!(!out.status.success());
    assert!(text(&out).contains("not empty"), "{}", text(&out));
    // Every submission answered before the backup began is in the copy.
    let copy = Server::start_in(&target);
    let api = Api::new(&copy);
    for (number, code) in &before_backup {
        assert_eq!(api.citizen(number, code).await.status, 200, "{number} answered before the backup");
    }
    // Something that is no backup is refused and changes nothing.
    let junk = restored.path().join("junk.db");
    std::fs::write(&junk, b"not a database").unwrap();
    let empty = restored.path().join("empty");
    let out = mailbox(&["restore", "--from", junk.to_str().unwrap(), "--data-dir", empty.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(text(&out).contains("not a mailbox backup"), "{}", text(&out));
    assert!(!empty.join("mailbox.db").exists());
}
