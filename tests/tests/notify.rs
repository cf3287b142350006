//! Notifications that reach people, through the real delivery adapters to real servers: an SMTP
//! server (aiosmtpd) and an SMS gateway stand-in that checks every request's signature as the
//! provider documents it. Staff get e-mail and SMS on the channels they chose; a citizen with a
//! mobile number gets an SMS when the case is accepted and replied (the number and where to look —
//! never the query code, never a text); non-urgent SMS wait for the morning; failures are retried
//! with backoff and delivered once; what keeps failing is dead, with its log, for administrators.

use mailbox_app::accounts::{seed_demo_accounts, AccountStore};
use mailbox_app::delivery::{Channels, DeliveryStatus, DeliveryStore, SmsTemplate};
use mailbox_app::input::SubmitRequest;
use mailbox_app::notify::Delivering;
use mailbox_app::ports::CaseStore;
use mailbox_conformance::standins::{Standin, SMS_KEY_ID, SMS_SECRET, SMS_SIGN_NAME};
use mailbox_domain::workflow::Command;
use mailbox_domain::{Actor, CaseNumber, DeadlineClass, DispatchMode, Role, UnitId};
use mailbox_notify::{SmsGateway, SmsGatewayConfig, SmtpSender};
use mailbox_tests::{at, Harness};
use std::sync::Arc;

struct World {
    h: Harness,
    smtp: Standin,
    sms: Standin,
}

/// A harness whose app delivers through the two stand-ins (each failing its first `fail` requests),
/// with the demo accounts: 市信访局 (xfj) with a work mobile, 交通运输局 (jtj) by e-mail only.
async fn world(label: &str, now: &str, fail_smtp: u32, fail_sms: u32, secret: &str) -> World {
    let h = Harness::new(label, at(now));
    let (smtp, sms) = (Standin::smtp(fail_smtp), Standin::sms(fail_sms));
    assert!(seed_demo_accounts(&h.store).await.unwrap());
    let mut xfj = h.store.account("xfj").await.unwrap().unwrap();
    xfj.phone = Some("13800000001".into());
    h.store.put_account(&xfj).await.unwrap();
    let mut jtj = h.store.account("jtj").await.unwrap().unwrap();
    jtj.phone = Some("13800000002".into());
    jtj.notify_sms = false;
    h.store.put_account(&jtj).await.unwrap();
    let config = SmsGatewayConfig {
        url: format!("{}/", sms.url("http")),
        key_id: SMS_KEY_ID.into(),
        secret: secret.into(),
        sign_name: SMS_SIGN_NAME.into(),
        templates: Default::default(),
    };
    let channels = Channels {
        email: Some(Arc::new(SmtpSender::new(&smtp.url("smtp"), "市长信箱 <noreply@mailbox.example.gov.cn>").unwrap())),
        sms: Some(Arc::new(SmsGateway::new(config))),
    };
    let store = Arc::new(h.store.clone());
    h.app.set_delivery(Delivering { store: store.clone(), accounts: store, channels });
    World { h, smtp, sms }
}

fn request() -> SubmitRequest {
    SubmitRequest {
        mailbox: "mayor".into(),
        kind: "complaint".into(),
        title: "王小明反映幸福小区电梯停运".into(),
        body: "幸福小区三号楼电梯停运三个月，我是王小明，电话 139 1234 5678。".into(),
        name: "王小明".into(),
        phone: "+86 139 1234 5678".into(),
        public: true,
    }
}

fn xfj() -> Actor {
    Actor::staff("xfj", Role::Dispatcher, Some(UnitId::new("city-xfj")))
}

fn transfer_to_transport() -> Command {
    Command::Dispatch {
        mode: DispatchMode::Transfer,
        lead: UnitId::new("transport"),
        co_handlers: vec![],
        class: DeadlineClass::Standard,
        special_days: None,
    }
}

fn template_of(record: &serde_json::Value) -> &str {
    record["template"].as_str().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_and_citizens_hear_on_their_channels_and_night_sms_wait_for_the_morning() {
    // A Tuesday, 10:00 China time.
    let w = world("notify-life", "2026-12-01T10:00:00+08:00", 0, 0, SMS_SECRET).await;
    let h = &w.h;
    let submitted = h.app.submit(&request(), None).await.unwrap();
    let id = h.store.get_by_number(&CaseNumber::new(submitted.number.as_str())).await.unwrap().unwrap().id;
    h.settle().await;
    // The dispatcher: a new case waits — by e-mail and by SMS (a template and its parameters).
    let mails = w.smtp.received();
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0]["to"], serde_json::json!(["xfj@example.gov.cn"]));
    assert!(mails[0]["subject"].as_str().unwrap().starts_with("【市长信箱】新留言待受理："), "{mails:?}");
    assert!(!mails[0]["subject"].as_str().unwrap().contains("王小明"), "the title is masked: {mails:?}");
    let sms = w.sms.received();
    assert_eq!(sms.len(), 1, "{sms:?}");
    assert_eq!((sms[0]["phone"].as_str(), template_of(&sms[0])), (Some("13800000001"), "MAILBOX_STAFF_NOTICE"));
    assert_eq!(sms[0]["params"], serde_json::json!({"number": submitted.number, "topic": "新留言待受理"}));
    assert_eq!(sms[0]["sign_name"], SMS_SIGN_NAME);

    // Accepted: the citizen's mobile (typed with +86 and spaces) gets the accepted template.
    h.app.act(&xfj(), &id, None, Command::Accept).await.unwrap();
    h.settle().await;
    let sms = w.sms.received();
    assert_eq!(sms.len(), 2, "{sms:?}");
    assert_eq!((sms[1]["phone"].as_str(), template_of(&sms[1])), (Some("13912345678"), "MAILBOX_CITIZEN_ACCEPTED"));
    assert_eq!(sms[1]["params"], serde_json::json!({"number": submitted.number}));

    // Transferred to 交通运输局: its handler chose e-mail only.
    h.app.act(&xfj(), &id, None, transfer_to_transport()).await.unwrap();
    h.settle().await;
    let mails = w.smtp.received();
    let to_jtj: Vec<&serde_json::Value> = mails.iter().filter(|m| m["to"][0] == "jtj@example.gov.cn").collect();
    assert_eq!(to_jtj.len(), 1, "{mails:?}");
    assert!(to_jtj[0]["subject"].as_str().unwrap().starts_with("【市长信箱】新转办留言："));
    assert!(to_jtj[0]["body"].as_str().unwrap().contains(&submitted.number));
    assert!(w.sms.received().iter().all(|s| s["phone"] != "13800000002"), "jtj turned SMS off");
    // A supervisor's 督办 reaches the unit at once.
    let zfb = Actor::staff("zfb", Role::Supervisor, Some(UnitId::new("city-gov-office")));
    h.app.act(&zfb, &id, None, Command::Supervise { note: "请加快办理".into() }).await.unwrap();
    h.settle().await;
    let supervised: Vec<_> = w.smtp.received().into_iter().filter(|m| m["to"][0] == "jtj@example.gov.cn").collect();
    assert!(
        supervised.last().unwrap()["subject"].as_str().unwrap().starts_with("【市长信箱】督办："),
        "{supervised:?}"
    );

    // Replied at 23:00: the e-mails go, the citizen's SMS waits for 08:00.
    h.clock.set(at("2026-12-01T23:00:00+08:00"));
    let jtj = Actor::staff("jtj", Role::Handler, Some(UnitId::new("transport")));
    h.app.act(&jtj, &id, None, Command::Receive).await.unwrap();
    h.app
        .act(&jtj, &id, None, Command::Reply { text: "已联系王小明，电梯已修复。".into(), public: true })
        .await
        .unwrap();
    h.settle().await;
    assert_eq!(w.sms.received().len(), 2, "nothing sent at night");
    let held = h.store.due_deliveries(at("2026-12-02T08:00:00+08:00"), 10).await.unwrap();
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0].next_at, at("2026-12-02T08:00:00+08:00"));
    h.clock.set(at("2026-12-02T07:59:00+08:00"));
    assert_eq!(h.app.retry_deliveries().await.unwrap().sent, 0);
    h.clock.set(at("2026-12-02T08:00:00+08:00"));
    assert_eq!(h.app.retry_deliveries().await.unwrap().sent, 1);
    let sms = w.sms.received();
    assert_eq!(template_of(&sms[2]), "MAILBOX_CITIZEN_REPLIED");

    // Never the query code, never the message or the reply, in any SMS or e-mail.
    let everything = format!("{:?}{:?}", w.sms.received(), w.smtp.received());
    for secret in [submitted.query_code.as_str(), "王小明", "电梯已修复", "1391234"] {
        let count = everything.matches(secret).count();
        let allowed = if secret == "1391234" { 3 } else { 0 }; // the citizen's own number, as the SMS's address
        assert!(count <= allowed, "{secret} appears {count} times: {everything}");
    }
    // Each delivery once, whatever ran twice: consumers again change nothing.
    h.settle().await;
    assert_eq!(h.app.retry_deliveries().await.unwrap().sent, 0);
    let out_ids: std::collections::HashSet<String> =
        w.sms.received().iter().map(|s| s["out_id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(out_ids.len(), w.sms.received().len(), "one idempotency key per message");
}

/// 紧急件: at 23:00 an ordinary new case's SMS waits for the morning, an urgent one goes at once, and
/// the urgent case is first in the inbox. 热点件: the third similar message in 30 days tells the
/// supervisors once; a fourth does not again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn urgent_cases_are_told_at_once_and_a_third_repeat_tells_the_supervisors_once() {
    let w = world("notify-urgent", "2026-12-01T23:00:00+08:00", 0, 0, SMS_SECRET).await;
    let h = &w.h;
    let ordinary = h.app.submit(&request(), None).await.unwrap();
    h.clock.advance(chrono::Duration::minutes(1));
    let mut wages = request();
    wages.title = "工地拖欠工资几十名工人聚集".into();
    wages.body = "工地拖欠工资半年，今晚几十名工人们在项目部门口讨薪，情绪激动，请马上派人处理。".into();
    let urgent = h.app.submit(&wages, None).await.unwrap();
    h.settle().await;
    let sms = w.sms.received();
    assert_eq!(sms.len(), 1, "only the urgent case's SMS goes at night: {sms:?}");
    assert_eq!(sms[0]["params"], serde_json::json!({"number": urgent.number, "topic": "紧急留言待受理"}));
    let subjects: Vec<String> = w.smtp.received().iter().map(|m| m["subject"].as_str().unwrap().to_owned()).collect();
    assert!(subjects.iter().any(|s| s.starts_with("【市长信箱】【紧急】新留言待受理（群体讨薪）：")), "{subjects:?}");
    assert!(subjects.iter().any(|s| s.starts_with("【市长信箱】新留言待受理：")), "{subjects:?}");
    let inbox = h.app.inbox(&xfj(), &Default::default(), 10, None).await.unwrap();
    let order: Vec<&str> = inbox.items.iter().map(|c| c.number.as_str()).collect();
    assert_eq!(order, [urgent.number.as_str(), ordinary.number.as_str()], "the urgent case first");
    assert!(inbox.items[0].urgent && !inbox.items[1].urgent);
    let held = h.store.due_deliveries(at("2026-12-02T08:00:00+08:00"), 10).await.unwrap();
    assert_eq!(held.len(), 1, "the ordinary SMS waits: {held:?}");

    // Four messages on one matter, a day apart. (With the first they also make a hot topic, 舆情,
    // whose own alert is checked in tests/tests/opinion.rs: only the 热点件 alerts count here.)
    let to_supervisors = |w: &World| {
        let hot_case = |m: &serde_json::Value| m["subject"].as_str().is_some_and(|s| s.contains("热点件"));
        w.smtp.received().into_iter().filter(|m| m["to"][0] == "zfb@example.gov.cn" && hot_case(m)).collect::<Vec<_>>()
    };
    let mut numbers = Vec::new();
    for (i, name) in ["孙七", "李四", "张三", "赵六"].iter().enumerate() {
        h.clock.advance(chrono::Duration::days(1));
        let mut again = request();
        again.name = (*name).into();
        again.phone = format!("1390000000{i}"); // four citizens: one writing four times is no hot case
        again.title = format!("再次反映幸福小区电梯停运{}", "！".repeat(i + 1));
        again.body = "幸福小区三号楼电梯停运三个月，物业公司一直不维修，老人上下楼困难。".into();
        numbers.push(h.app.submit(&again, None).await.unwrap().number);
        h.settle().await;
        let alerts = to_supervisors(&w);
        let expected = if i < 2 { 0 } else { 1 };
        assert_eq!(alerts.len(), expected, "after message {}: {alerts:?}", i + 1);
    }
    let alert = &to_supervisors(&w)[0];
    assert!(alert["subject"].as_str().unwrap().starts_with("【市长信箱】热点件："), "{alert}");
    assert!(alert["body"].as_str().unwrap().contains(&numbers[2]), "{alert}");
    let third = h.store.get_by_number(&CaseNumber::new(numbers[2].as_str())).await.unwrap().unwrap();
    let hot = third.triage.unwrap().hot.expect("the third is hot");
    assert_eq!((hot.count, hot.alert, hot.first.as_str()), (3, true, numbers[0].as_str()));
    let fourth = h.store.get_by_number(&CaseNumber::new(numbers[3].as_str())).await.unwrap().unwrap();
    let hot = fourth.triage.unwrap().hot.expect("the fourth is hot too");
    assert_eq!((hot.count, hot.alert), (4, false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_sends_are_retried_with_backoff_and_delivered_once() {
    let w = world("notify-retry", "2026-12-01T10:00:00+08:00", 1, 1, SMS_SECRET).await;
    let h = &w.h;
    h.app.submit(&request(), None).await.unwrap();
    h.settle().await;
    assert!(w.smtp.received().is_empty() && w.sms.received().is_empty(), "both refused the first time");
    let pending = h.store.due_deliveries(at("2026-12-01T10:01:00+08:00"), 10).await.unwrap();
    assert_eq!(pending.len(), 2, "both wait a minute: {pending:?}");
    h.clock.set(at("2026-12-01T10:00:30+08:00"));
    assert_eq!(h.app.retry_deliveries().await.unwrap().sent, 0, "not before the backoff");
    h.clock.set(at("2026-12-01T10:01:00+08:00"));
    assert_eq!(h.app.retry_deliveries().await.unwrap().sent, 2);
    assert_eq!((w.smtp.received().len(), w.sms.received().len()), (1, 1), "each once");
    let log = h.store.recent_deliveries(Some(DeliveryStatus::Sent), 10).await.unwrap();
    assert_eq!(log.len(), 2);
    for d in &log {
        assert_eq!(d.log.iter().map(|a| a.ok).collect::<Vec<_>>(), [false, true], "{d:?}");
        assert!(d.provider_id.is_some());
    }
    h.clock.set(at("2026-12-01T12:00:00+08:00"));
    assert_eq!(h.app.retry_deliveries().await.unwrap().sent, 0, "nothing sent twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_keeps_failing_is_dead_with_its_log_and_a_bad_signature_is_refused_at_once() {
    // The gateway is down for good: six tries over about eight and a half hours, then dead.
    let w = world("notify-dead", "2026-12-01T09:00:00+08:00", 0, 1000, SMS_SECRET).await;
    let h = &w.h;
    h.app.submit(&request(), None).await.unwrap();
    h.settle().await;
    for _ in 0..10 {
        h.clock.advance(chrono::Duration::hours(6));
        h.app.retry_deliveries().await.unwrap();
    }
    let dead = h.store.recent_deliveries(Some(DeliveryStatus::Dead), 10).await.unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].attempts, mailbox_app::delivery::MAX_ATTEMPTS);
    assert_eq!(dead[0].log.len(), 6);
    assert!(dead[0].log.iter().all(|a| !a.ok && a.detail.contains("isp.SYSTEM_ERROR")), "{:?}", dead[0].log);
    assert_eq!(w.smtp.received().len(), 1, "the e-mail went");
    // An administrator sends it again once the gateway is back: here it is still down, so it
    // fails once more and waits.
    h.app.send_again(&dead[0].key).await.unwrap();
    let again = h.store.delivery(&dead[0].key).await.unwrap().unwrap();
    assert_eq!((again.status, again.log.len()), (DeliveryStatus::Pending, 7));

    // A wrong secret: the stand-in finds the signature wrong; no retry helps, dead at once.
    let w = world("notify-signature", "2026-12-01T10:00:00+08:00", 0, 0, "not-the-secret").await;
    w.h.app.submit(&request(), None).await.unwrap();
    w.h.settle().await;
    let dead = w.h.store.recent_deliveries(Some(DeliveryStatus::Dead), 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert!(dead[0].log[0].detail.contains("SignatureDoesNotMatch"), "{:?}", dead[0].log);
    assert!(w.sms.received().is_empty());
    assert_eq!(SmsTemplate::StaffNotice.default_code(), "MAILBOX_STAFF_NOTICE");
}
