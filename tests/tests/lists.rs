//! Staff lists over every case in scope: the console's and the API's search by title words or case
//! number, handling unit, status and urgency, page after page; exports that stream every case.

use mailbox_app::export::{Cell, Format};
use mailbox_app::input::SubmitRequest;
use mailbox_app::ports::CaseStore;
use mailbox_app::service::{ListFilter, Urgency};
use mailbox_app::AppError;
use mailbox_domain::workflow::Command;
use mailbox_domain::{Actor, CaseId, CaseNumber, DeadlineClass, DispatchMode, Role, UnitId};
use mailbox_tests::{at, Harness};

fn xfj() -> Actor {
    Actor::staff("xfj", Role::Dispatcher, Some(UnitId::new("city-xfj")))
}

async fn submit(h: &Harness, title: &str, name: &str) -> CaseId {
    let request = SubmitRequest {
        mailbox: "mayor".into(),
        kind: "complaint".into(),
        title: title.into(),
        body: "请尽快处理。".into(),
        name: name.into(),
        phone: "13812345678".into(),
        public: false,
    };
    let number = h.app.submit(&request, None).await.unwrap().number;
    h.store.get_by_number(&CaseNumber::new(number.as_str())).await.unwrap().unwrap().id
}

/// Accepted and transferred to `lead`, received by it: its deadline runs from now.
async fn received(h: &Harness, id: &CaseId, lead: &str) {
    h.app.act(&xfj(), id, None, Command::Accept).await.unwrap();
    let transfer = Command::Dispatch {
        mode: DispatchMode::Transfer,
        lead: UnitId::new(lead),
        co_handlers: vec![],
        class: DeadlineClass::Simple,
        special_days: None,
    };
    h.app.act(&xfj(), id, None, transfer).await.unwrap();
    let handler = Actor::staff("h", Role::Handler, Some(UnitId::new(lead)));
    h.app.act(&handler, id, None, Command::Receive).await.unwrap();
}

/// Every number a filter lists, walking its pages of `limit`.
async fn numbers(h: &Harness, actor: &Actor, filter: &ListFilter, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..200 {
        let page = h.app.inbox(actor, filter, limit, after.as_deref()).await.unwrap();
        assert!(page.items.len() <= limit);
        out.extend(page.items.iter().map(|c| c.number.clone()));
        match page.next {
            Some(next) => after = Some(next),
            None => return out,
        }
    }
    panic!("pages never end");
}

fn search(q: &str) -> ListFilter {
    ListFilter { q: Some(q.into()), ..ListFilter::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_search_every_case_by_title_number_unit_and_urgency() {
    let h = Harness::new("lists-search", at("2026-11-02T10:00:00+08:00"));
    let mut lamps = Vec::new();
    for i in 0..12 {
        let id = submit(&h, &format!("第{i}处路灯不亮"), "李四").await;
        lamps.push(id);
    }
    let named = submit(&h, "张三家门口积水", "张三").await;
    let roads = submit(&h, "道路破损", "王五").await;
    // Two received now (their five working days run out within the week), one a month later.
    received(&h, &lamps[0], "transport").await;
    received(&h, &named, "transport").await;
    h.clock.advance(chrono::Duration::days(30));
    received(&h, &roads, "water").await;

    // Title words, across pages of 5: all twelve, each once, in list order.
    let found = numbers(&h, &xfj(), &search("路灯"), 5).await;
    assert_eq!(found.len(), 12, "{found:?}");
    let mut unique = found.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 12);
    // A case number: that case.
    let number = h.store.get(&roads).await.unwrap().unwrap().number.to_string();
    assert_eq!(numbers(&h, &xfj(), &search(&number), 5).await, std::slice::from_ref(&number));
    assert_eq!(
        numbers(&h, &xfj(), &search(&number.to_lowercase()), 5).await,
        std::slice::from_ref(&number),
        "typed in lower case"
    );
    // By handling unit, by urgency.
    let transport = ListFilter { unit: Some(UnitId::new("transport")), ..ListFilter::default() };
    assert_eq!(numbers(&h, &xfj(), &transport, 1).await.len(), 2);
    let overdue = ListFilter { urgency: Some(Urgency::Overdue), ..ListFilter::default() };
    assert_eq!(numbers(&h, &xfj(), &overdue, 1).await.len(), 2, "the two received a month ago");
    let normal = ListFilter { urgency: Some(Urgency::Normal), ..ListFilter::default() };
    assert_eq!(numbers(&h, &xfj(), &normal, 1).await, std::slice::from_ref(&number));
    let both = ListFilter { urgency: Some(Urgency::Overdue), ..search("路灯") };
    assert_eq!(numbers(&h, &xfj(), &both, 5).await.len(), 1);
    // The citizen's name finds the case for the dispatcher, not for supervisors (masked for them).
    assert_eq!(numbers(&h, &xfj(), &search("张三"), 5).await.len(), 1);
    let zfb = Actor::staff("zfb", Role::Supervisor, Some(UnitId::new("city-gov-office")));
    assert!(numbers(&h, &zfb, &search("张三"), 5).await.is_empty());
    assert_eq!(numbers(&h, &zfb, &search("积水"), 5).await.len(), 1);
    // A handler sees only its unit's cases, whatever it searches.
    let water = Actor::staff("sw", Role::Handler, Some(UnitId::new("water")));
    assert_eq!(numbers(&h, &water, &search(&number), 5).await, std::slice::from_ref(&number));
    let lamp = h.store.get(&lamps[0]).await.unwrap().unwrap().number.to_string();
    assert!(numbers(&h, &water, &search(&lamp), 5).await.is_empty());
    // Refused with a clear message: one character, an unknown unit, a forged position.
    let refused = |r: Result<_, AppError>| match r {
        Err(AppError::Invalid { code, .. }) => code,
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert_eq!(refused(h.app.inbox(&xfj(), &search("灯"), 5, None).await), "query_too_short");
    // Letters with combining marks: nothing found, or a clear refusal — never an error.
    for q in ["किताब पढ़ना", "ก่อนหน้า"] {
        match h.app.inbox(&xfj(), &search(q), 5, None).await {
            Ok(page) => assert!(page.items.is_empty(), "{q}"),
            Err(e) => assert!(matches!(e, AppError::Invalid { .. }), "{q}: {e:?}"),
        }
    }
    let nowhere = ListFilter { unit: Some(UnitId::new("nowhere")), ..ListFilter::default() };
    assert_eq!(refused(h.app.inbox(&xfj(), &nowhere, 5, None).await), "unknown_unit");
    assert_eq!(refused(h.app.inbox(&xfj(), &ListFilter::default(), 5, Some("x#y")).await), "invalid_cursor");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_write_every_case_a_page_at_a_time() {
    let h = Harness::new("lists-export", at("2026-11-02T10:00:00+08:00"));
    // More than two of the export's pages (500 cases each).
    for i in 0..1_100 {
        submit(&h, &format!("留言{i}"), "李四").await;
    }
    let row = |c: &mailbox_app::views::CaseSummary| vec![Cell::from(c.number.as_str()), Cell::from(c.title.as_str())];
    let mut csv = String::new();
    let file = h.app.export_cases(&xfj(), &ListFilter::default(), Format::Csv, &["编号", "标题"], row).await.unwrap();
    std::io::Read::read_to_string(&mut { file }, &mut csv).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 1 + 1_100);
    assert_eq!(lines[0], "\u{feff}编号,标题");
    let mut numbers: Vec<&str> = lines[1..].iter().map(|l| l.split(',').next().unwrap()).collect();
    numbers.sort();
    numbers.dedup();
    assert_eq!(numbers.len(), 1_100, "every case once");
    let filtered = ListFilter { q: Some("留言1".into()), ..ListFilter::default() };
    let mut xlsx = Vec::new();
    let file = h.app.export_cases(&xfj(), &filtered, Format::Xlsx, &["编号", "标题"], row).await.unwrap();
    std::io::Read::read_to_end(&mut { file }, &mut xlsx).unwrap();
    assert_eq!(&xlsx[..2], b"PK");
}

/// The urgency filters agree with the urgency each case shows, at every distance from its deadline
/// (the boundary: a deadline at the end of the next working day is "due soon").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn urgency_filters_agree_with_the_urgency_shown() {
    let h = Harness::new("lists-urgency", at("2026-11-02T10:00:00+08:00"));
    // Received one a day over twelve days (simple class: five working days each).
    for i in 0..12 {
        let id = submit(&h, &format!("第{i}件"), "李四").await;
        received(&h, &id, "transport").await;
        h.clock.advance(chrono::Duration::days(1));
    }
    let all = h.app.inbox(&xfj(), &ListFilter::default(), 100, None).await.unwrap().items;
    let mut seen = std::collections::BTreeSet::new();
    for (u, name) in [(Urgency::Overdue, "overdue"), (Urgency::DueSoon, "due_soon"), (Urgency::Normal, "normal")] {
        let listed = numbers(&h, &xfj(), &ListFilter { urgency: Some(u), ..ListFilter::default() }, 100).await;
        let shown: Vec<String> = all.iter().filter(|c| c.urgency == name).map(|c| c.number.clone()).collect();
        assert_eq!(listed, shown, "{name}");
        seen.insert(name);
        assert!(!listed.is_empty(), "the test reaches {name}");
    }
    assert_eq!(seen.len(), 3);
}
