//! The 舆情 desk through the use cases (SQLite, a manual clock): an item recorded with its related
//! cases, sent to a unit (told in its outbox), answered by that unit only, closed by the desk; units
//! see what was sent to them and nothing else; the weekly report combines the week's hot topics,
//! surges and items. (Both deployments' stores pass the `OpinionDesk` conformance suite.)

use chrono::Duration;
use mailbox_app::desk::ItemRequest;
use mailbox_app::input::SubmitRequest;
use mailbox_app::ports::CaseStore;
use mailbox_app::AppError;
use mailbox_domain::opinion::ItemStatus;
use mailbox_domain::{Actor, Role, UnitId};
use mailbox_tests::{at, Harness};

fn staff(user: &str, role: Role, unit: &str) -> Actor {
    Actor::staff(user, role, Some(UnitId::new(unit)))
}

fn request(related: &str) -> ItemRequest {
    ItemRequest {
        platform: "微博".into(),
        link: "https://weibo.example/post/123".into(),
        found_at: "2026-03-02T08:30".into(),
        summary: "网友发帖称幸福小区下水道堵塞一个多月，污水横流，多人转发。".into(),
        severity: "major".into(),
        related: related.into(),
    }
}

fn code(r: Result<impl std::fmt::Debug, AppError>) -> String {
    match r {
        Err(AppError::Invalid { field, .. }) => format!("invalid:{}", field.unwrap_or("-")),
        Err(AppError::Conflict { code, .. }) => code.to_owned(),
        Err(e) => format!("{e:?}"),
        Ok(_) => "ok".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_goes_to_a_unit_and_back_and_the_week_is_reported() {
    let h = Harness::new("desk", at("2026-03-02T09:00:00+08:00"));
    let app = &h.app;
    // Three citizens on one matter: a hot topic this week, and a case to relate the item to.
    let mut numbers = Vec::new();
    for (i, (title, body)) in [
        ("幸福小区下水道堵塞", "幸福小区的下水道堵塞一个多月了，污水流到路面，臭气熏天，请尽快疏通。"),
        ("幸福小区污水横流无人管", "小区门口污水横流，下水道堵了很久，物业说不归他们管，希望有关部门处理。"),
        ("反映幸福小区排水问题", "幸福小区下水道经常堵塞，一下雨污水就漫到楼道里，居民出行很不方便。"),
    ]
    .iter()
    .enumerate()
    {
        let r = SubmitRequest {
            mailbox: "mayor".into(),
            kind: "complaint".into(),
            title: (*title).into(),
            body: (*body).into(),
            name: "居民".into(),
            phone: format!("1390000030{i}"),
            public: true,
        };
        numbers.push(app.submit(&r, None).await.unwrap().number);
        h.settle().await;
        h.clock.advance(Duration::hours(3));
    }

    let yq = staff("yq", Role::Opinion, "city-gov-office");
    let jtj = staff("jtj", Role::Handler, "transport");
    let slj = staff("slj", Role::Handler, "water");
    // Bad input is refused field by field; only the desk and supervisors record.
    assert!(matches!(app.record_item(&jtj, &request("")).await, Err(AppError::Forbidden(_))));
    let mut bad = request("");
    bad.link = "javascript:alert(1)".into();
    assert_eq!(code(app.record_item(&yq, &bad).await), "invalid:link");
    assert_eq!(code(app.record_item(&yq, &request("GA209901010001")).await), "invalid:related");
    assert_eq!(code(app.record_item(&yq, &request("<script>")).await), "invalid:related");
    let mut bad = request("");
    bad.severity = "catastrophic".into();
    assert_eq!(code(app.record_item(&yq, &bad).await), "invalid:severity");
    let mut bad = request("");
    bad.found_at = "2026-03-09T08:30".into();
    assert_eq!(code(app.record_item(&yq, &bad).await), "invalid:found_at");
    let item = app.record_item(&yq, &request(&format!("{} {}", numbers[0], numbers[0].to_lowercase()))).await.unwrap();
    assert_eq!(item.related.len(), 1, "one case, named twice");
    assert_eq!(item.status, ItemStatus::Recorded);

    // Units see nothing until it is sent to them; then only that unit.
    assert!(app.opinion_items(&jtj).await.unwrap().is_empty());
    assert!(matches!(app.opinion_item(&jtj, &item.id).await, Err(AppError::NotFound)));
    assert!(matches!(app.send_item(&jtj, &item.id, "transport", 1).await, Err(AppError::NotFound)));
    let sent = app.send_item(&yq, &item.id, "transport", item.version).await.unwrap();
    assert_eq!((sent.status, sent.unit.as_ref().map(|u| u.as_str())), (ItemStatus::Sent, Some("transport")));
    let told = h.store.notifications(Some(&UnitId::new("transport")), None, 10).await.unwrap().items;
    assert!(told.iter().any(|n| n.subject == "新的舆情信息待核实（较大）"), "{told:?}");
    assert_eq!(app.opinion_items(&jtj).await.unwrap().len(), 1);
    let theirs = app.opinion_item(&jtj, &item.id).await.unwrap();
    assert!(theirs.related.is_empty(), "a case the unit may not see is not named to it: {:?}", theirs.related);
    assert_eq!(app.opinion_item(&yq, &item.id).await.unwrap().related.len(), 1);
    assert!(app.opinion_items(&slj).await.unwrap().is_empty());
    assert!(matches!(app.opinion_item(&slj, &item.id).await, Err(AppError::NotFound)));
    assert!(matches!(app.answer_item(&slj, &item.id, "已核实", sent.version).await, Err(AppError::NotFound)));
    assert!(matches!(app.opinion_item(&yq, "Y../../x").await, Err(AppError::NotFound)));

    // The unit answers once, over the version it saw; the desk closes it.
    assert_eq!(code(app.answer_item(&jtj, &item.id, "已核实", item.version).await), "stale_version");
    assert_eq!(code(app.answer_item(&jtj, &item.id, "  ", sent.version).await), "invalid:text");
    let answered = app.answer_item(&jtj, &item.id, "已核实，下水道已于3月3日疏通。", sent.version).await.unwrap();
    assert_eq!(code(app.answer_item(&jtj, &item.id, "再答一次", answered.version).await), "illegal_transition");
    assert!(matches!(app.close_item(&jtj, &item.id, answered.version).await, Err(AppError::Forbidden(_))));
    let closed = app.close_item(&yq, &item.id, answered.version).await.unwrap();
    assert_eq!(closed.status, ItemStatus::Closed);
    let steps: Vec<&str> = closed.history.iter().map(|s| s.what.as_str()).collect();
    assert_eq!(steps, ["录入", "交 广安市交通运输局 核实答复", "答复", "办结"]);

    // The weekly report: the week's hot topic, the item; for the desk and supervisors only.
    let week = chrono::NaiveDate::from_ymd_opt(2026, 3, 4).unwrap();
    let report = app.weekly_report(&yq, week).await.unwrap();
    assert_eq!(report.week, chrono::NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(), "any day is taken to its week");
    assert_eq!(report.topics.len(), 1);
    assert_eq!(report.topics[0].cases, numbers);
    assert_eq!(report.items.len(), 1);
    let table = mailbox_app::desk::report_table(&app.org, &report);
    let kinds: Vec<String> = table
        .rows
        .iter()
        .map(|r| match &r[0] {
            mailbox_app::export::Cell::Text(t) => t.clone(),
            _ => String::new(),
        })
        .collect();
    assert_eq!(kinds, ["热点话题", "舆情信息"]);
    let next = app.weekly_report(&yq, week + Duration::weeks(1)).await.unwrap();
    assert!(next.topics.is_empty() && next.items.is_empty(), "another week's");
    let xfj = staff("xfj", Role::Dispatcher, "city-xfj");
    assert!(matches!(app.weekly_report(&xfj, week).await, Err(AppError::Forbidden(_))));
    assert!(app.opinion_items(&xfj).await.unwrap().is_empty());
    let zfb = staff("zfb", Role::Supervisor, "city-gov-office");
    assert_eq!(app.opinion_items(&zfb).await.unwrap().len(), 1);
}
