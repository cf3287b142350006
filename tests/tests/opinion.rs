//! 舆情 from the mailbox itself, end to end on the embedded deployment: messages submitted at
//! their times (a manual clock), triaged by the worker, grouped into hot topics and counted for
//! surges; who is told, once; who sees what; the 已研判 mark. (The stores of both deployments pass
//! the `TopicStore` conformance suite.)

use chrono::Duration;
use mailbox_app::input::SubmitRequest;
use mailbox_app::ports::CaseStore;
use mailbox_app::AppError;
use mailbox_domain::{Actor, Role, UnitId};
use mailbox_tests::{at, Harness};

fn message(title: &str, body: &str, phone: &str) -> SubmitRequest {
    SubmitRequest {
        mailbox: "mayor".into(),
        kind: "complaint".into(),
        title: title.into(),
        body: body.into(),
        name: "居民".into(),
        phone: phone.into(),
        public: true,
    }
}

/// Four citizens on one matter, each in their own words (no two near-copies: no 热点件).
const DRAINS: [(&str, &str); 4] = [
    ("幸福小区下水道堵塞", "幸福小区的下水道堵塞一个多月了，污水流到路面，臭气熏天，请尽快疏通。"),
    ("幸福小区污水横流无人管", "小区门口污水横流，下水道堵了很久，物业说不归他们管，希望有关部门处理。"),
    ("反映幸福小区排水问题", "幸福小区下水道经常堵塞，一下雨污水就漫到楼道里，居民出行很不方便。"),
    ("幸福小区下水道又堵了", "幸福小区下水道堵塞问题还是没有解决，污水到处都是，孩子上学都要绕路。"),
];

fn supervisor() -> Actor {
    Actor::staff("zfb", Role::Supervisor, Some(UnitId::new("city-gov-office")))
}

async fn topic_notes(h: &Harness, unit: &str) -> Vec<String> {
    let notes = h.store.notifications(Some(&UnitId::new(unit)), None, 100).await.unwrap().items;
    notes.into_iter().filter(|n| n.key.starts_with("topic:")).map(|n| n.subject).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_similar_messages_make_one_topic_told_once_and_a_fourth_joins_it() {
    let h = Harness::new("opinion-topic", at("2026-03-02T09:00:00+08:00"));
    let mut numbers = Vec::new();
    for (i, (title, body)) in DRAINS[..2].iter().enumerate() {
        numbers.push(h.app.submit(&message(title, body, &format!("1390000010{i}")), None).await.unwrap().number);
        h.settle().await;
        h.clock.advance(Duration::days(1));
    }
    // An unrelated message between them joins nothing.
    h.app
        .submit(
            &message("建议增开公交线路", "城南片区居民出行不便，希望增开直达火车站的公交线路。", "13900000199"),
            None,
        )
        .await
        .unwrap();
    h.settle().await;
    assert!(h.app.hot_topics(&supervisor(), 7).await.unwrap().topics.is_empty(), "two messages are no topic");
    assert!(topic_notes(&h, "city-gov-office").await.is_empty());

    h.clock.advance(Duration::days(1));
    numbers.push(h.app.submit(&message(DRAINS[2].0, DRAINS[2].1, "13900000102"), None).await.unwrap().number);
    h.settle().await;
    let found = h.app.hot_topics(&supervisor(), 7).await.unwrap();
    assert_eq!(found.topics.len(), 1, "{found:?}");
    let topic = &found.topics[0];
    assert_eq!((topic.count, &topic.cases), (3, &numbers), "{topic:?}");
    assert!(topic.label.iter().any(|w| w == "下水道"), "{:?}", topic.label);
    for case in &numbers {
        let case = h.store.get_by_number(&mailbox_domain::CaseNumber::new(case.as_str())).await.unwrap().unwrap();
        assert!(case.triage.unwrap().hot.is_none(), "each in its own words: no 热点件");
    }
    // The supervising office and the dispatcher are told, once each.
    let office = topic_notes(&h, "city-gov-office").await;
    assert_eq!(office.len(), 1, "{office:?}");
    assert!(office[0].starts_with("热点话题：") && office[0].contains("7天内 3 件"), "{office:?}");
    assert_eq!(topic_notes(&h, "city-xfj").await.len(), 1);

    // A fourth joins the same topic and tells no one again.
    h.clock.advance(Duration::days(2));
    numbers.push(h.app.submit(&message(DRAINS[3].0, DRAINS[3].1, "13900000103"), None).await.unwrap().number);
    h.settle().await;
    let found = h.app.hot_topics(&supervisor(), 7).await.unwrap();
    assert_eq!(found.topics.len(), 1);
    assert_eq!((found.topics[0].count, found.topics[0].cases.len()), (4, 4));
    assert_eq!(topic_notes(&h, "city-gov-office").await.len(), 1, "no second alert");
    assert_eq!(topic_notes(&h, "city-xfj").await.len(), 1);
    let days: u32 = found.topics[0].daily.iter().map(|d| d.count).sum();
    assert_eq!(days, 4, "the trend counts each message on its day");

    // Who sees it: the city's dispatcher its own cases; a district's dispatcher nothing; a handler
    // and an administrator are refused.
    let xfj = Actor::staff("xfj", Role::Dispatcher, Some(UnitId::new("city-xfj")));
    assert_eq!(h.app.hot_topics(&xfj, 7).await.unwrap().topics[0].cases, numbers);
    let district = Actor::staff("qf", Role::Dispatcher, Some(UnitId::new("qianfeng-xfj")));
    assert!(h.app.hot_topics(&district, 7).await.unwrap().topics.is_empty());
    for role in [Role::Handler, Role::Admin] {
        let who = Actor::staff("x", role, Some(UnitId::new("transport")));
        assert!(matches!(h.app.hot_topics(&who, 7).await, Err(AppError::Forbidden(_))), "{role:?}");
    }
    assert!(matches!(h.app.hot_topics(&supervisor(), 0).await, Err(AppError::Invalid { .. })));
    assert!(matches!(h.app.hot_topics(&supervisor(), 91).await, Err(AppError::Invalid { .. })));

    // 已研判: the first mark stays; another jurisdiction's dispatcher cannot find the topic.
    let id = found.topics[0].id.clone();
    assert!(matches!(h.app.review_topic(&district, &id).await, Err(AppError::Forbidden(_))));
    assert!(matches!(h.app.review_topic(&xfj, &id).await, Err(AppError::Forbidden(_))), "supervisors judge");
    let marked = h.app.review_topic(&supervisor(), &id).await.unwrap();
    let first = marked.reviewed.clone().expect("marked");
    h.clock.advance(Duration::hours(1));
    let again = h.app.review_topic(&supervisor(), &id).await.unwrap();
    assert_eq!(again.reviewed.unwrap().at, first.at, "the first mark stays");
    assert!(h.app.hot_topics(&xfj, 7).await.unwrap().topics[0].reviewed.is_some(), "others see the mark");
    // 舆情 staff see the topic without its case numbers (they have no case access).
    let yq = Actor::staff("yq", Role::Opinion, Some(UnitId::new("city-gov-office")));
    let seen = h.app.hot_topics(&yq, 7).await.unwrap();
    assert_eq!((seen.topics.len(), seen.topics[0].cases.len(), seen.topics[0].count), (1, 0, 4));
    for unknown in ["Tnone".to_owned(), "T".repeat(2000), "T../x".to_owned(), String::new()] {
        assert!(matches!(h.app.review_topic(&supervisor(), &unknown).await, Err(AppError::NotFound)), "{unknown}");
    }

    // A week after its last message the topic is no longer among the last 7 days'.
    h.clock.advance(Duration::days(8));
    assert!(h.app.hot_topics(&supervisor(), 7).await.unwrap().topics.is_empty());
    assert_eq!(h.app.hot_topics(&supervisor(), 30).await.unwrap().topics.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_surge_is_told_once_in_its_week() {
    // Monday 2026-03-09; no messages in the 8 weeks before.
    let h = Harness::new("opinion-surge", at("2026-03-09T09:00:00+08:00"));
    let schools = [
        ("孩子入学学位问题", "小学招生学区划分不合理，孩子无法就近入学。"),
        ("幼儿园收费过高", "民办幼儿园学费一年涨了两次，家长负担太重。"),
        ("学校食堂卫生差", "中学食堂饭菜不卫生，学生吃了拉肚子，请教育局检查。"),
        ("中考加分政策咨询", "想咨询今年中考体育加分的政策和报名时间。"),
        ("校车安全隐患", "乡镇小学的校车超载严重，存在很大的安全隐患。"),
        ("课外培训机构乱收费", "培训机构预收一年学费后老板跑路，家长维权无门。"),
    ];
    let surges = |h: &Harness| {
        let h = h.store.clone();
        async move {
            let notes = h.notifications(Some(&UnitId::new("city-gov-office")), None, 100).await.unwrap().items;
            notes.into_iter().filter(|n| n.key.starts_with("surge:")).map(|n| n.subject).collect::<Vec<_>>()
        }
    };
    for (i, (title, body)) in schools.iter().enumerate() {
        h.app.submit(&message(title, body, &format!("1390000020{i}")), None).await.unwrap();
        h.settle().await;
        h.clock.advance(Duration::hours(5));
        let told = surges(&h).await;
        // The fifth 教育文体 message of the week is a surge (at least 5, twice an average of 0).
        assert_eq!(told.len(), usize::from(i >= 4), "after message {}: {told:?}", i + 1);
    }
    let told = surges(&h).await;
    assert!(told[0].starts_with("留言激增：广安市教育文体类本周已 5 件"), "{told:?}");
    let found = h.app.hot_topics(&supervisor(), 7).await.unwrap();
    assert_eq!(found.surges.len(), 1, "{:?}", found.surges);
    assert_eq!((found.surges[0].surge.domain.as_str(), found.surges[0].surge.count), ("教育文体", 6));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_across_jurisdictions_tells_each_dispatcher_of_its_own_cases_only() {
    let h = Harness::new("opinion-across", at("2026-03-02T09:00:00+08:00"));
    // Two to the mayor, one to 邻水县's head: one matter, one domain, two jurisdictions.
    let mut numbers = Vec::new();
    // (Messages of one domain: across jurisdictions a topic needs the same domain.)
    for (i, (mailbox, text)) in
        [("mayor", DRAINS[0]), ("mayor", DRAINS[2]), ("linshui-head", DRAINS[3])].iter().enumerate()
    {
        let mut m = message(text.0, text.1, &format!("1390000040{i}"));
        m.mailbox = (*mailbox).into();
        numbers.push(h.app.submit(&m, None).await.unwrap().number);
        h.settle().await;
        h.clock.advance(Duration::hours(5));
    }
    let found = h.app.hot_topics(&supervisor(), 7).await.unwrap();
    assert_eq!(found.topics.len(), 1, "{found:?}");
    assert_eq!(found.topics[0].cases, numbers);
    let linshui = Actor::staff("ls-xfj", Role::Dispatcher, Some(UnitId::new("linshui-xfj")));
    assert_eq!(h.app.hot_topics(&linshui, 7).await.unwrap().topics[0].cases, [numbers[2].clone()], "its own only");
    let told = |unit: &'static str| {
        let store = h.store.clone();
        async move {
            let notes = store.notifications(Some(&UnitId::new(unit)), None, 50).await.unwrap().items;
            notes.into_iter().filter(|n| n.key.starts_with("topic:")).map(|n| n.body).collect::<Vec<_>>()
        }
    };
    let (city, district) = (told("city-xfj").await, told("linshui-xfj").await);
    assert_eq!((city.len(), district.len()), (1, 1));
    assert!(district[0].contains(numbers[2].as_str()) && !district[0].contains(numbers[0].as_str()), "{district:?}");
    assert!(city[0].contains(numbers[0].as_str()) && !city[0].contains(numbers[2].as_str()), "{city:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn near_copies_from_three_citizens_tell_the_offices_once_as_a_hot_case_not_twice() {
    let h = Harness::new("opinion-hot-case", at("2026-03-02T09:00:00+08:00"));
    for i in 0..3 {
        let m = message(
            "幸福小区三号楼电梯停运",
            "幸福小区三号楼电梯停运三个月，物业公司一直不维修，老人上下楼困难。",
            &format!("1390000050{i}"),
        );
        h.app.submit(&m, None).await.unwrap();
        h.settle().await;
        h.clock.advance(Duration::hours(5));
    }
    assert_eq!(h.app.hot_topics(&supervisor(), 7).await.unwrap().topics.len(), 1, "a hot topic too");
    let office = h.store.notifications(Some(&UnitId::new("city-gov-office")), None, 50).await.unwrap().items;
    let keys: Vec<&str> = office.iter().map(|n| n.key.split(':').next().unwrap_or("")).collect();
    assert_eq!(keys.iter().filter(|k| **k == "hot").count(), 1, "the 热点件 alert: {keys:?}");
    assert_eq!(keys.iter().filter(|k| **k == "topic").count(), 0, "not the same matter again: {keys:?}");
    assert_eq!(topic_notes(&h, "city-xfj").await.len(), 1, "the dispatcher hears of the topic");
}
