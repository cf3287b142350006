//! Upgrading a DynamoDB table: cases stored before the lists' filter attributes and the published
//! text existed are not found by a title search or on the public reply list until the operator's
//! `mailbox-aws-accounts reindex` writes them again.

mod support;

use mailbox_app::input::SubmitRequest;
use mailbox_app::ports::CaseStore;
use mailbox_app::reports::ReplySearch;
use mailbox_app::service::ListFilter;
use mailbox_domain::{Actor, CaseNumber, Role, UnitId};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reindex_job_brings_cases_of_an_older_table_into_lists_and_search() {
    let support::OnMoto { endpoint, sdk, config, store, instance } = support::on_moto().await;
    let app = instance.app.clone();
    let request = SubmitRequest {
        mailbox: "mayor".into(),
        kind: "complaint".into(),
        title: "路灯不亮".into(),
        body: "小区门口路灯坏了。".into(),
        name: "王小明".into(),
        phone: "13812345678".into(),
        public: true,
    };
    let number = app.submit(&request, None).await.unwrap().number;
    let id = store.get_by_number(&CaseNumber::new(number.as_str())).await.unwrap().unwrap().id;
    mailbox_conformance::story::transferred_and_replied(&app, &id, "已修复。", true).await;

    // The items as an older version wrote them: no filter attributes, no published text.
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let mut case = store.get(&id).await.unwrap().unwrap();
    case.published = None;
    let doc = serde_json::to_string(&case).unwrap();
    for sk in ["CASE", "UNIT#transport"] {
        let mut update = client
            .update_item()
            .table_name(&config.table)
            .key("PK", aws_sdk_dynamodb::types::AttributeValue::S(format!("CASE#{id}")))
            .key("SK", aws_sdk_dynamodb::types::AttributeValue::S(sk.into()))
            .update_expression(if sk == "CASE" {
                "REMOVE tt, mt, hu, due, pr, pw SET doc = :doc"
            } else {
                "REMOVE tt, mt, hu, due"
            });
        if sk == "CASE" {
            update =
                update.expression_attribute_values(":doc", aws_sdk_dynamodb::types::AttributeValue::S(doc.clone()));
        }
        update.send().await.unwrap();
    }
    let xfj = Actor::staff("xfj", Role::Dispatcher, Some(UnitId::new("city-xfj")));
    let jtj = Actor::staff("jtj", Role::Handler, Some(UnitId::new("transport")));
    let by_title = ListFilter { q: Some("路灯".into()), ..ListFilter::default() };
    let replies = ReplySearch { q: Some("路灯".into()), limit: 10, ..ReplySearch::default() };
    assert!(app.inbox(&xfj, &by_title, 10, None).await.unwrap().items.is_empty());
    assert!(app.inbox(&jtj, &by_title, 10, None).await.unwrap().items.is_empty());
    assert!(app.public_replies(&replies).await.unwrap().items.is_empty());

    // The operator's command, with the table's credentials (it reads every case: no function may).
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mailbox-aws-accounts"))
        .arg("reindex")
        .env("TABLE_NAME", &config.table)
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && text.contains("every case written again: 1 written, 0 not"), "{text}");
    assert_eq!(app.inbox(&xfj, &by_title, 10, None).await.unwrap().items.len(), 1, "the dispatcher's list");
    assert_eq!(app.inbox(&jtj, &by_title, 10, None).await.unwrap().items.len(), 1, "the unit's list");
    let found = app.public_replies(&replies).await.unwrap();
    assert_eq!(found.items.len(), 1);
    assert!(!found.items[0].body.contains("13812345678") && !found.items[0].body.contains("王小明"));
}
