//! The `notify` function on DynamoDB, SQS and EventBridge (moto), delivering through a real SMTP
//! server and the SMS gateway stand-in: the table's stream → relay → bus → the triage and notify
//! queues → e-mail to the staff of the units concerned, an SMS recorded for the citizen; the
//! delivery records in the table; nothing sent twice when the queues deliver again.

mod support;

use mailbox_app::delivery::{DeliveryStatus, DeliveryStore};
use mailbox_app::input::SubmitRequest;
use mailbox_app::ports::{CaseStore, HandoffQueue};
use mailbox_aws::{sdk_config, DynamoStore, SqsQueues};
use mailbox_conformance::moto;
use mailbox_conformance::standins::{Standin, SMS_KEY_ID, SMS_SECRET};
use mailbox_domain::workflow::Command;
use mailbox_domain::{Actor, CaseNumber, DeadlineClass, DispatchMode, Role, UnitId};
use mailbox_lambda::{handle_sqs, handle_stream, queue_names, Config, Consumer};
use std::time::Duration;

/// What Lambda's SQS integration does with one queue until it is empty; the bodies it handled.
async fn drain(app: &mailbox_app::App, queues: &SqsQueues, queue: &str, consumer: Consumer) -> Vec<String> {
    let mut bodies = Vec::new();
    for _ in 0..10 {
        let batch = queues.receive(queue, 10, Duration::from_secs(30)).await.unwrap();
        if batch.is_empty() {
            break;
        }
        let event = support::sqs_event(&batch.iter().map(|m| m.body.clone()).collect::<Vec<_>>());
        assert!(handle_sqs(app, consumer, event).await.batch_item_failures.is_empty());
        for m in batch {
            queues.delete(queue, &m.receipt).await.unwrap();
            bodies.push(m.body);
        }
    }
    bodies
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_are_delivered_from_the_bus_on_aws() {
    let (smtp, sms) = (Standin::smtp(0), Standin::sms(0));
    let endpoint = moto::moto();
    for (k, v) in [
        ("AWS_ENDPOINT_URL", endpoint.to_owned()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ("SMTP_URL", smtp.url("smtp")),
        ("MAIL_FROM", "市长信箱 <noreply@mailbox.example.gov.cn>".into()),
        ("SMS_GATEWAY_URL", format!("{}/", sms.url("http"))),
        ("SMS_KEY_ID", SMS_KEY_ID.into()),
        ("SMS_KEY_SECRET", SMS_SECRET.into()),
    ] {
        std::env::set_var(k, v);
    }
    let sdk = sdk_config(Some(endpoint)).await;
    let prefix = format!("{}-", moto::unique("notify"));
    let config = Config {
        table: moto::unique("notify"),
        queue_prefix: prefix.clone(),
        queue_url_prefix: Some(format!("{endpoint}/123456789012/")),
        org_config: None,
        attachments_bucket: "files".into(),
    };
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), config.table.clone());
    store.create_table().await.unwrap();
    let org = mailbox_domain::Organisation::guangan();
    let sqs_client = aws_sdk_sqs::Client::new(&sdk);
    let physical: Vec<String> = queue_names(&org).iter().map(|q| format!("{prefix}{q}")).collect();
    SqsQueues::create(&sqs_client, &physical, 3).await.unwrap();
    let pairs: Vec<(String, String)> =
        queue_names(&org).into_iter().map(|q| (q.clone(), format!("{prefix}{q}"))).collect();
    let queues = SqsQueues::connect_as(sqs_client, &pairs).await.unwrap();
    let bus = support::bus(&sdk, &moto::unique("bus"), &prefix).await;
    let mut stream = support::StreamPump::new(&sdk, &config.table).await;
    let instance = mailbox_lambda::instance(&config).await.unwrap();
    assert!(mailbox_app::accounts::seed_demo_accounts(&store).await.unwrap());
    let app = instance.app.clone();
    let mut relay = async || {
        let response = handle_stream(&bus, stream.next_batch().await).await;
        assert!(response.batch_item_failures.is_empty());
    };

    let request = SubmitRequest {
        mailbox: "mayor".into(),
        kind: "help".into(),
        title: "路灯不亮".into(),
        body: "某路段路灯已坏一周，夜间出行不便。".into(),
        name: "赵六".into(),
        phone: "13700000000".into(),
        public: false,
    };
    let submitted = app.submit(&request, None).await.unwrap();
    let id = store.get_by_number(&CaseNumber::new(submitted.number.as_str())).await.unwrap().unwrap().id;
    relay().await;
    assert_eq!(drain(&app, &queues, "triage", Consumer::Triage).await.len(), 1);
    let mails = smtp.received();
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0]["to"], serde_json::json!(["xfj@example.gov.cn"]));

    let xfj = Actor::staff("xfj", Role::Dispatcher, Some(UnitId::new("city-xfj")));
    app.act(&xfj, &id, None, Command::Accept).await.unwrap();
    let dispatch = Command::Dispatch {
        mode: DispatchMode::Transfer,
        lead: UnitId::new("transport"),
        co_handlers: vec![],
        class: DeadlineClass::Standard,
        special_days: None,
    };
    app.act(&xfj, &id, None, dispatch).await.unwrap();
    relay().await;
    let handled = drain(&app, &queues, "notify", Consumer::Notify).await;
    assert_eq!(handled.len(), 2, "CaseAccepted and CaseDispatched");
    let to_unit: Vec<_> = smtp.received().into_iter().filter(|m| m["to"][0] == "jtj@example.gov.cn").collect();
    assert_eq!(to_unit.len(), 1);
    assert!(to_unit[0]["subject"].as_str().unwrap().starts_with("【市长信箱】新转办留言："));
    // The citizen's SMS is recorded in the table (sent now in the day, held at night).
    let log = store.recent_deliveries(None, 50).await.unwrap();
    let citizen: Vec<_> =
        log.iter().filter(|d| matches!(d.recipient, mailbox_app::delivery::Recipient::Citizen { .. })).collect();
    assert_eq!(citizen.len(), 1, "{log:?}");
    assert!(matches!(citizen[0].status, DeliveryStatus::Sent | DeliveryStatus::Pending));
    if citizen[0].status == DeliveryStatus::Sent {
        assert_eq!(sms.received()[0]["phone"], "13700000000");
    }

    // The queue delivers both again: nothing is sent twice.
    let mails_before = smtp.received().len();
    for body in handled {
        queues.send("notify", &body).await.unwrap();
    }
    drain(&app, &queues, "notify", Consumer::Notify).await;
    assert_eq!(smtp.received().len(), mails_before);
    assert_eq!(store.recent_deliveries(None, 50).await.unwrap().len(), log.len());
}
