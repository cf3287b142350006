//! Crash safety: SIGKILL the server during a stream of submissions, restart it on the same data,
//! and check that every submission answered 201 is there, and that clients retrying with their
//! idempotency keys get the same case back and never a second one.

mod common;

use common::*;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const CLIENTS: usize = 8;
const PER_CLIENT: usize = 40;

fn body(key: &str) -> Value {
    json!({"mailbox": "mayor", "kind": "complaint", "title": format!("崩溃测试 {key}"), "body": "路灯不亮",
           "name": "赵六", "phone": "13700000000", "public": false})
}

#[derive(Default)]
struct Log {
    /// Every key sent, answered or not.
    attempted: Vec<String>,
    /// key → (number, query code) for answers with 201.
    answered: HashMap<String, (String, String)>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_server_loses_no_answered_submission_and_retries_make_no_duplicates() {
    let dir = temp_dir("crash");
    let mut server = Server::start_in(dir.path());
    let log = Arc::new(Mutex::new(Log::default()));
    let answered = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let (log, answered, url) = (log.clone(), answered.clone(), server.url("/api/v1/cases"));
        tasks.push(tokio::spawn(async move {
            let http = client();
            for i in 0..PER_CLIENT {
                let key = format!("crash-test-key-{c}-{i}");
                log.lock().unwrap().attempted.push(key.clone());
                let sent = http.post(&url).header("idempotency-key", &key).json(&body(&key)).send().await;
                let Ok(resp) = sent else { return }; // the server is gone
                let status = resp.status();
                assert!(!status.is_server_error(), "{status}");
                let Ok(v) = resp.json::<Value>().await else { return };
                if status == 201 {
                    let entry =
                        (v["number"].as_str().unwrap().to_owned(), v["query_code"].as_str().unwrap().to_owned());
                    log.lock().unwrap().answered.insert(key, entry);
                    answered.fetch_add(1, Ordering::SeqCst);
                }
            }
        }));
    }
    // Kill in the middle of the stream.
    for _ in 0..600 {
        if answered.load(Ordering::SeqCst) >= 60 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.kill(); // SIGKILL: no shutdown, no flush
    for t in tasks {
        t.await.unwrap();
    }
    let log = Arc::try_unwrap(log).ok().unwrap().into_inner().unwrap();
    assert!(log.answered.len() >= 60, "the stream was running when the server died");
    assert!(log.attempted.len() < CLIENTS * PER_CLIENT, "the kill interrupted the stream");

    let server = Server::start_in(dir.path());
    let api = Api::new(&server);
    for (key, (number, code)) in &log.answered {
        let r = api.citizen(number, code).await;
        assert_eq!(r.status, 200, "{key}: answered 201 before the crash, must survive it");
    }
    // Every client retries everything it sent, answered or not.
    for key in &log.attempted {
        let r = api
            .http
            .post(server.url("/api/v1/cases"))
            .header("idempotency-key", key)
            .json(&body(key))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{key}");
        let v: Value = r.json().await.unwrap();
        if let Some((number, code)) = log.answered.get(key) {
            assert_eq!(v["number"].as_str().unwrap(), number, "{key}: a retry returns the same case");
            assert_eq!(v["query_code"].as_str().unwrap(), code);
            assert_eq!(v["replayed"], true);
        }
    }
    let zfb = api.login("zfb").await;
    let all = api.call(Method::GET, "/api/v1/staff/inbox?limit=500", Some(&zfb), None).await;
    let titles: Vec<&str> = all.body.as_array().unwrap().iter().map(|c| c["title"].as_str().unwrap()).collect();
    assert_eq!(titles.len(), log.attempted.len(), "one case per idempotency key, no duplicates");
    let mut unique = titles.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), titles.len());
}

/// The events of a change are stored with it: a server killed right after committing a submission
/// (before anything else of the request ran) triages the case when it starts again, and one killed
/// right after committing a dispatch to another jurisdiction delivers the hand-off then — each once.
/// (Sent after the commit, as before the outbox, both messages were lost with the process.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_right_after_a_commit_the_case_is_still_triaged_and_handed_off_once() {
    let dir = temp_dir("crash-commit");
    // The first commit of this process is the submission.
    let mut server = Server::start_in_env(dir.path(), &[("MAILBOX_KILL_AFTER_COMMITS", "1")]);
    let api = Api::new(&server);
    let body = json!({"mailbox": "mayor", "kind": "help", "title": "路灯不亮", "body": "某路段路灯已坏一周，夜间出行不便。",
                      "name": "赵六", "phone": "13700000000", "public": false});
    let sent = api
        .http
        .post(server.url("/api/v1/cases"))
        .header("idempotency-key", "crash-commit-key-1")
        .json(&body)
        .send()
        .await;
    assert!(sent.is_err(), "the process died before it answered: {sent:?}");
    let status = server.child.wait().unwrap();
    assert!(!status.success(), "killed: {status:?}");

    // The next process commits the triage, the acceptance, then the dispatch: killed after that.
    let mut server = Server::start_in_env(dir.path(), &[("MAILBOX_KILL_AFTER_COMMITS", "3")]);
    let api = Api::new(&server);
    let xfj = api.login("xfj").await;
    let case = wait_for(&api, &xfj, "the submission is triaged after the restart", |case| {
        case["events"].as_array().unwrap().iter().any(|e| e["event"] == "triaged")
    })
    .await;
    let id = case["case"]["id"].as_str().unwrap().to_owned();
    api.ok(&xfj, &id, json!({"action": "accept"})).await;
    let dispatch = json!({"version": null, "command": {"action": "dispatch", "mode": "transfer", "lead": "linshui-gov", "class": "standard"}});
    let sent = api
        .http
        .post(server.url(&format!("/api/v1/staff/cases/{id}/actions/dispatch")))
        .bearer_auth(&xfj)
        .json(&dispatch)
        .send()
        .await;
    assert!(sent.is_err(), "the process died before it answered: {sent:?}");
    server.child.wait().unwrap();

    let server = Server::start_in(dir.path());
    let api = Api::new(&server);
    let gov = api.login("ls-gov").await;
    let mut handed_off = 0;
    for _ in 0..100 {
        handed_off = handoff_notices(&api, &gov).await;
        if handed_off > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(handed_off, 1, "the hand-off of the dispatch committed before the crash is delivered");
    let xfj = api.login("xfj").await;
    let events =
        api.call(Method::GET, &format!("/api/v1/staff/cases/{id}"), Some(&xfj), None).await.body["events"].clone();
    let kinds: Vec<&str> = events.as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["submitted", "triaged", "accepted", "dispatched"], "each step once");
    // Settled: a second look finds nothing more.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(handoff_notices(&api, &gov).await, 1);
}

/// How many "上级交办留言已送达" notices the unit of `token` has.
async fn handoff_notices(api: &Api, token: &str) -> usize {
    let outbox = api.call(Method::GET, "/api/v1/staff/outbox", Some(token), None).await;
    let notes = outbox.body.as_array().cloned().unwrap_or_default();
    notes.iter().filter(|n| n["subject"].as_str().unwrap_or("").starts_with("上级交办留言已送达")).count()
}

/// The dispatcher's only case, polled until `done` holds.
async fn wait_for(api: &Api, token: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..100 {
        let inbox = api.call(Method::GET, "/api/v1/staff/inbox", Some(token), None).await;
        if let Some(first) = inbox.body.as_array().and_then(|a| a.first()) {
            let id = first["id"].as_str().unwrap();
            let case = api.call(Method::GET, &format!("/api/v1/staff/cases/{id}"), Some(token), None).await.body;
            if done(&case) {
                return case;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: not within 10 s");
}
