//! `mailbox serve --smtp … --sms-gateway …`: notifications reach staff by e-mail through a real SMTP
//! server and citizens by SMS through the gateway stand-in (which checks each request's signature),
//! from the same process that serves the site; an administrator sees every delivery with its log
//! in the console, and staff choose their channels.

mod common;

use common::*;
use mailbox_conformance::standins::{Standin, SMS_KEY_ID, SMS_SECRET, SMS_SIGN_NAME};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..150 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: not within 15 s");
}

async fn console(server: &Server, user: &str) -> reqwest::Client {
    let jar = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let r =
        jar.post(server.url("/api/v1/auth/login")).json(&json!({"username": user, "password": PASSWORD})).send().await;
    assert_eq!(r.unwrap().status(), 200);
    jar
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_served_system_sends_e_mail_and_sms_and_shows_its_deliveries() {
    let (smtp, sms) = (Standin::smtp(0), Standin::sms(0));
    let (smtp_url, sms_url) = (smtp.url("smtp"), format!("{}/", sms.url("http")));
    let options =
        ["--smtp", &smtp_url, "--mail-from", "市长信箱 <noreply@mailbox.example.gov.cn>", "--sms-gateway", &sms_url];
    let env = [("SMS_KEY_ID", SMS_KEY_ID), ("SMS_KEY_SECRET", SMS_SECRET), ("SMS_SIGN_NAME", SMS_SIGN_NAME)];
    let server = Server::start_with_env("notify", &options, &env);
    let api = Api::new(&server);

    // A new message: the city's 信访局 hears of it by e-mail (demo accounts have work addresses).
    let (number, code) = api.submit("mayor", "complaint", false).await;
    wait_for("the dispatcher's e-mail", || {
        smtp.received()
            .iter()
            .any(|m| m["to"][0] == "xfj@example.gov.cn" && m["body"].as_str().unwrap_or("").contains(&number))
    })
    .await;
    let mail = smtp.received().into_iter().find(|m| m["to"][0] == "xfj@example.gov.cn").unwrap();
    assert!(mail["subject"].as_str().unwrap().starts_with("【市长信箱】新留言待受理："), "{mail}");
    assert_eq!(mail["from"], "noreply@mailbox.example.gov.cn");

    // Accepted and transferred: the handling unit's staff get e-mail; the citizen an SMS (at
    // night it waits for 08:00 China time — then the console lists it as waiting).
    let xfj = api.login("xfj").await;
    let id = api.find(&xfj, &number).await["id"].as_str().unwrap().to_owned();
    api.ok(&xfj, &id, json!({"action": "accept"})).await;
    api.ok(&xfj, &id, json!({"action": "dispatch", "mode": "transfer", "lead": "transport", "class": "standard"}))
        .await;
    wait_for("the handling unit's e-mail", || smtp.received().iter().any(|m| m["to"][0] == "jtj@example.gov.cn")).await;

    let admin = console(&server, "admin").await;
    let mut page = String::new();
    wait_for("the citizen's SMS in the delivery log", || {
        page = fetch_text(admin.get(server.url("/console/admin")));
        page.contains("您的留言（编号${number}）已受理")
    })
    .await;
    assert!(page.contains("通知投递") && page.contains("jtj") && page.contains("留言人"), "{page}");
    assert!(!page.contains("13812345678"), "the citizen's number is not in the log");
    let hour = (chrono::Utc::now() + chrono::Duration::hours(8)).format("%H").to_string().parse::<u32>().unwrap();
    if (8..22).contains(&hour) {
        wait_for("the citizen's SMS", || sms.received().iter().any(|s| s["template"] == "MAILBOX_CITIZEN_ACCEPTED"))
            .await;
        let sent = sms.received().into_iter().find(|s| s["template"] == "MAILBOX_CITIZEN_ACCEPTED").unwrap();
        assert_eq!(sent["phone"], "13812345678");
        assert_eq!(sent["params"], json!({"number": number}));
    } else {
        assert!(page.contains("待发送"), "held for the morning: {page}");
    }
    assert!(!format!("{:?}", sms.received()).contains(&code), "never the query code");

    // A handler turns e-mail off: the next notification of the unit reaches the others only.
    let jtj = console(&server, "jtj").await;
    let form = jtj.get(server.url("/console/notifications")).send().await.unwrap().text().await.unwrap();
    assert!(form.contains("jtj@example.gov.cn"), "{form}");
    let csrf = regex::Regex::new(r#"name="csrf" value="([^"]+)""#).unwrap().captures(&form).unwrap()[1].to_owned();
    let saved = jtj
        .post(server.url("/console/notifications"))
        .form(&[("csrf", csrf.as_str()), ("sms", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), 200);
    let before = smtp.received().iter().filter(|m| m["to"][0] == "jtj@example.gov.cn").count();
    api.ok(&xfj, &id, json!({"action": "urge", "note": "请尽快办理"})).await;
    // The urge reaches the outbox at once and the unit's other channels; e-mail to jtj stays off.
    let gov = api.login("jtj").await;
    wait_for("the urge in the outbox", || {
        let outbox: Value = outbox_of(&api, &gov);
        outbox.as_array().is_some_and(|a| a.iter().any(|n| n["subject"].as_str().unwrap_or("").starts_with("催办")))
    })
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(smtp.received().iter().filter(|m| m["to"][0] == "jtj@example.gov.cn").count(), before);
}

/// Blocks on a request from inside the polling closure (the test's runtime has two workers).
fn fetch_text(request: reqwest::RequestBuilder) -> String {
    tokio::task::block_in_place(|| {
        tokio::runtime::Handle::current().block_on(async { request.send().await.unwrap().text().await.unwrap() })
    })
}

fn outbox_of(api: &Api, token: &str) -> Value {
    tokio::task::block_in_place(|| {
        tokio::runtime::Handle::current()
            .block_on(async { api.call(Method::GET, "/api/v1/staff/outbox", Some(token), None).await.body })
    })
}

/// A delivery the mail server refuses for good is dead at once; the administrator sees it in the
/// console with its log, and sending it again tries once more (and logs that try too). Only an
/// administrator may.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_delivery_is_shown_to_administrators_who_can_send_it_again() {
    let smtp = Standin::smtp_refusing();
    let smtp_url = smtp.url("smtp");
    let server = Server::start_with("notify-dead", &["--smtp", &smtp_url]);
    let api = Api::new(&server);
    api.submit("mayor", "complaint", false).await;
    let admin = console(&server, "admin").await;
    let mut page = String::new();
    wait_for("the dead delivery in the console", || {
        page = fetch_text(admin.get(server.url("/console/admin")));
        page.contains("发送失败（已停止重试）") && page.contains("重新发送") && page.contains("550")
    })
    .await;
    assert!(page.contains("xfj"), "{page}");
    assert!(!page.contains("新留言待受理："), "administrators do not read the case's title: {page}");
    let csrf = regex::Regex::new(r#"name="csrf" value="([^"]+)""#).unwrap().captures(&page).unwrap()[1].to_owned();
    let key = regex::Regex::new(r#"name="key" value="([^"]+)""#).unwrap().captures(&page).unwrap()[1].to_owned();
    let key = key.replace("&amp;", "&");
    // A dispatcher cannot, and a form without the session's token is refused.
    let xfj = console(&server, "xfj").await;
    let not_admin = xfj.post(server.url("/console/admin/deliveries/retry")).form(&[("key", key.as_str())]).send().await;
    assert_eq!(not_admin.unwrap().status(), 403);
    let forged = admin.post(server.url("/console/admin/deliveries/retry")).form(&[("key", key.as_str())]).send().await;
    assert_eq!(forged.unwrap().status(), 403);
    let again = admin
        .post(server.url("/console/admin/deliveries/retry"))
        .form(&[("csrf", csrf.as_str()), ("key", key.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
    let page = again.text().await.unwrap();
    assert!(page.contains("已重新发送"), "{page}");
    assert_eq!(page.matches("550").count(), 4, "two tries, each in the dead list and in the latest list: {page}");
}
