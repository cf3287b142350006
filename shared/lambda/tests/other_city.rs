//! Another city's organisation on the AWS deployment: `ORG_CONFIG` names tests/config/small-city.toml
//! (溪山市, its own case prefix, units and a 3-working-day simple deadline); a case is submitted,
//! accepted, dispatched to one of its bureaus, received and replied on DynamoDB and SQS (moto).

mod support;

use mailbox_app::input::SubmitRequest;
use mailbox_aws::{sdk_config, DynamoStore, SqsQueues};
use mailbox_conformance::moto;
use mailbox_domain::deadline::DeadlineClass;
use mailbox_domain::workflow::Command;
use mailbox_domain::{Actor, CaseStatus, DispatchMode, Role, UnitId};
use mailbox_lambda::{queue_names, Config};
use std::path::PathBuf;
use tower::ServiceExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_of_another_city_on_dynamodb() {
    let endpoint = support::moto_env();
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/config/small-city.toml");
    let table = moto::unique("city");
    let config = Config {
        table: table.clone(),
        queue_prefix: format!("{}-", moto::unique("xs")),
        queue_url_prefix: Some(format!("{endpoint}/123456789012/")),
        org_config: Some(file),
        attachments_bucket: "files".into(),
    };
    let org = config.organisation().unwrap();
    assert_eq!(org.name, "溪山市");
    let sdk = sdk_config(Some(endpoint)).await;
    DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), config.table.clone()).create_table().await.unwrap();
    let queues: Vec<String> = queue_names(&org).iter().map(|q| format!("{}{q}", config.queue_prefix)).collect();
    assert!(queues.iter().any(|q| q.ends_with("handoff-dongcheng")), "one hand-off queue per jurisdiction of the file");
    SqsQueues::create(&aws_sdk_sqs::Client::new(&sdk), &queues, 3).await.unwrap();

    let instance = mailbox_lambda::instance(&config).await.unwrap();
    let app = instance.app.clone();
    assert_eq!(app.org.name, "溪山市", "the functions run the file's organisation");
    let request = SubmitRequest {
        mailbox: "mayor".into(),
        kind: "suggestion".into(),
        title: "公园路灯不亮".into(),
        body: "东风街道滨河公园的路灯坏了一周，晚上散步很不安全。".into(),
        name: "周小溪".into(),
        phone: "13912345678".into(),
        public: true,
    };
    // A mailbox of Guang'an is unknown here.
    let elsewhere = SubmitRequest { mailbox: "linshui-head".into(), ..request.clone() };
    assert!(app.submit(&elsewhere, None).await.is_err());
    let submitted = app.submit(&request, None).await.unwrap();
    assert!(submitted.number.starts_with("XS"), "{}", submitted.number);

    let dispatcher = Actor::staff("xfj", Role::Dispatcher, Some(UnitId::new("city-xfj")));
    let handler = Actor::staff("parks-1", Role::Handler, Some(UnitId::new("parks")));
    let case =
        app.store.get_by_number(&mailbox_domain::CaseNumber::new(submitted.number.as_str())).await.unwrap().unwrap();
    app.act(&dispatcher, &case.id, None, Command::Accept).await.unwrap();
    // A unit of Guang'an is no unit here.
    let water = Command::Dispatch {
        mode: DispatchMode::Transfer,
        lead: UnitId::new("water"),
        co_handlers: vec![],
        class: DeadlineClass::Simple,
        special_days: None,
    };
    assert!(app.act(&dispatcher, &case.id, None, water).await.is_err());
    let dispatch = Command::Dispatch {
        mode: DispatchMode::Transfer,
        lead: UnitId::new("parks"),
        co_handlers: vec![],
        class: DeadlineClass::Simple,
        special_days: None,
    };
    app.act(&dispatcher, &case.id, None, dispatch).await.unwrap();
    let received = app.act(&handler, &case.id, None, Command::Receive).await.unwrap();
    assert_eq!(received.deadline.as_ref().unwrap().base_days, 3, "the city's own deadline policy");
    let reply = Command::Reply { text: "路灯已于今日修复。".into(), public: true };
    let replied = app.act(&handler, &case.id, None, reply).await.unwrap();
    assert_eq!(replied.status, CaseStatus::Replied);

    // The same table with a file that leaves out the unit of that replied case: no instance starts.
    let reorganised = std::env::temp_dir().join(format!("{}.toml", moto::unique("reorganised")));
    let text = std::fs::read_to_string(config.org_config.as_ref().unwrap()).unwrap();
    let without_parks =
        text.replace("id = \"parks\"\nname = \"溪山市园林局\"", "id = \"gardens\"\nname = \"溪山市园林绿化局\"");
    assert_ne!(text, without_parks);
    std::fs::write(&reorganised, without_parks).unwrap();
    let refused = mailbox_lambda::instance(&Config { org_config: Some(reorganised.clone()), ..config }).await;
    let _ = std::fs::remove_file(&reorganised);
    let message = refused.err().expect("refused").to_string();
    assert!(message.contains("unit `parks` (1 open cases)"), "{message}");

    // Readiness: the function answers 200 while its table answers, 503 once it is gone.
    let router = mailbox_lambda::http_router(instance, mailbox_app::http::Routes::Submit);
    let readyz = || async {
        let request = axum::http::Request::get("/readyz").body(axum::body::Body::empty()).unwrap();
        router.clone().oneshot(request).await.unwrap().status().as_u16()
    };
    assert_eq!(readyz().await, 200);
    aws_sdk_dynamodb::Client::new(&sdk).delete_table().table_name(&table).send().await.unwrap();
    assert_eq!(readyz().await, 503);
}
