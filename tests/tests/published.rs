//! Published replies (公开答复) on the embedded deployment: texts masked once when published, a
//! ranked search over every published reply (title matches first, then newest), pages that
//! continue, filters, input checked, and the re-masking job for texts published before.

use axum::http::StatusCode;
use mailbox_app::input::SubmitRequest;
use mailbox_app::ports::CaseStore;
use mailbox_app::reports::ReplySearch;
use mailbox_app::AppError;
use mailbox_domain::{CaseId, CaseNumber};
use mailbox_tests::http::Api;
use mailbox_tests::{at, Harness};

/// A case of 王小明 with `title` and `body`, replied publicly by the transport bureau.
async fn published(h: &Harness, title: &str, body: &str) -> CaseId {
    let request = SubmitRequest {
        mailbox: "mayor".into(),
        kind: "complaint".into(),
        title: title.into(),
        body: format!("{body}我叫王小明，电话13812345678。"),
        name: "王小明".into(),
        phone: "13812345678".into(),
        public: true,
    };
    let number = h.app.submit(&request, None).await.unwrap().number;
    let id = h.store.get_by_number(&CaseNumber::new(number.as_str())).await.unwrap().unwrap().id;
    mailbox_conformance::story::transferred_and_replied(&h.app, &id, "王小明您好：已处理。", true).await;
    // Each reply a minute after the one before.
    h.clock.advance(chrono::Duration::minutes(1));
    id
}

fn search(q: &str, limit: usize) -> ReplySearch {
    ReplySearch { q: Some(q.into()), limit, ..ReplySearch::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_ranks_title_matches_first_then_newest_and_pages_through_every_one() {
    let h = Harness::new("published-rank", at("2026-11-20T10:00:00+08:00"));
    let old_title = published(&h, "路灯不亮", "小区门口一直黑着。").await;
    let body_only = published(&h, "夜间施工噪音", "工地旁边的路灯也坏了。").await;
    let new_title = published(&h, "路灯损坏", "人行道上的灯杆倒了。").await;
    let _unrelated = published(&h, "公交站台破损", "雨棚漏水。").await;
    let numbers = |ids: &[&CaseId]| ids.iter().map(|i| i.to_string()).collect::<Vec<_>>();
    let mut seen = Vec::new();
    let mut page = h.app.public_replies(&search("路灯", 1)).await.unwrap();
    for _ in 0..5 {
        assert!(page.items.len() <= 1);
        seen.extend(page.items.iter().map(|c| c.number.clone()));
        let Some(next) = page.next.clone() else { break };
        page = h.app.public_replies(&ReplySearch { after: Some(next), ..search("路灯", 1) }).await.unwrap();
    }
    let expected: Vec<String> = {
        let mut out = Vec::new();
        for id in [&new_title, &old_title, &body_only] {
            out.push(h.store.get(id).await.unwrap().unwrap().number.to_string());
        }
        out
    };
    assert_eq!(seen, expected, "title matches newest first, then the body match: {:?}", numbers(&[&new_title]));
    // Every word must appear; masked text only (names and phone numbers find nothing).
    assert_eq!(h.app.public_replies(&search("路灯 施工", 10)).await.unwrap().items.len(), 1);
    for hidden in ["王小明", "13812345678"] {
        assert!(h.app.public_replies(&search(hidden, 10)).await.unwrap().items.is_empty(), "{hidden}");
    }
    let all = h.app.public_replies(&ReplySearch { limit: 10, ..ReplySearch::default() }).await.unwrap();
    assert_eq!(all.items.len(), 4);
    for c in &all.items {
        assert!(!c.body.contains("王小明") && !c.body.contains("13812345678") && !c.reply.contains("王小明"), "{c:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_input_is_checked() {
    let h = Harness::new("published-input", at("2026-11-20T10:00:00+08:00"));
    published(&h, "路灯不亮", "小区门口一直黑着。").await;
    let code = |r: Result<_, AppError>| match r {
        Err(AppError::Invalid { code, .. }) => code,
        other => panic!("expected a clear refusal, got {other:?}"),
    };
    for bad in ["x", "r1.0.123", "r1.3.1733000000000", "r1.0.1733000000000.a/b", "r1.0.1733000000000.a.b"] {
        let r = h.app.public_replies(&ReplySearch { after: Some(bad.into()), ..search("路灯", 5) }).await;
        assert_eq!(code(r), "invalid_cursor", "{bad}");
    }
    assert_eq!(code(h.app.public_replies(&search("的 了", 5)).await), "query_too_short");
    // Letters with combining marks (which the index's tokenizer and the term splitter may see
    // differently) find nothing, without an error.
    for q in ["किताब पढ़ना", "ก่อนหน้า"] {
        match h.app.public_replies(&search(q, 5)).await {
            Ok(page) => assert!(page.items.is_empty(), "{q}"),
            Err(e) => assert!(matches!(e, AppError::Invalid { .. }), "{q}: {e:?}"),
        }
    }
    let month = ReplySearch { month: Some("2026-13".into()), ..search("路灯", 5) };
    assert_eq!(code(h.app.public_replies(&month).await), "invalid_month");
    let november = ReplySearch { month: Some("2026-11".into()), ..search("路灯", 5) };
    assert_eq!(h.app.public_replies(&november).await.unwrap().items.len(), 1);
    let october = ReplySearch { month: Some("2026-10".into()), ..search("路灯", 5) };
    assert!(h.app.public_replies(&october).await.unwrap().items.is_empty());
}

/// Texts published before they were masked at publication — or masked by older rules — are masked
/// again by the `republish` job, and found from then on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_republish_job_masks_texts_published_before() {
    let h = Harness::new("published-job", at("2026-11-20T10:00:00+08:00"));
    let id = published(&h, "路灯不亮", "小区门口一直黑着。").await;
    let case = h.store.get(&id).await.unwrap().unwrap();
    let mut old = case.clone();
    old.published = None;
    h.store.update(&old, &case, &[], &[], &[], &[]).await.unwrap();
    assert!(h.app.public_replies(&search("路灯", 5)).await.unwrap().items.is_empty());
    let outcome = h.app.take_job(r#"{"job":"republish"}"#).await.unwrap();
    assert!(matches!(outcome, mailbox_app::calendar::JobOutcome::Finished { recomputed: 1, .. }), "{outcome:?}");
    let found = h.app.public_replies(&search("路灯", 5)).await.unwrap();
    assert_eq!(found.items.len(), 1);
    assert!(!found.items[0].body.contains("13812345678"));
    // Nothing left: a second run writes nothing.
    let again = h.app.take_job(r#"{"job":"republish"}"#).await.unwrap();
    assert!(matches!(again, mailbox_app::calendar::JobOutcome::Finished { recomputed: 0, .. }), "{again:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_replies_page_and_api_continue_with_next() {
    let api = Api::new("published-pages");
    for i in 0..23 {
        published(&api.h, &format!("路灯问题第{i}处"), "灯不亮。").await;
    }
    // The page: 20, then a link to the rest with the same filters.
    let first = api.get("/replies?q=%E8%B7%AF%E7%81%AF&mailbox=mayor").await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.body.matches("class=\"card public-case\"").count(), 20, "{}", first.body);
    let href = first.body.split("class=\"next-page\" href=\"").nth(1).and_then(|s| s.split('"').next()).unwrap();
    let href = href.replace("&amp;", "&");
    assert!(href.contains("mailbox=mayor") && href.contains("after=r1."), "{href}");
    let second = api.get(&href).await;
    assert_eq!(second.body.matches("class=\"card public-case\"").count(), 3);
    assert!(!second.body.contains("next-page"));
    // A forged cursor: a clear message, not an error page.
    let forged = api.get("/replies?q=%E8%B7%AF%E7%81%AF&after=r1.9.x").await;
    assert_eq!(forged.status, StatusCode::BAD_REQUEST);
    assert!(forged.body.contains("翻页参数无效"), "{}", forged.body);
    // The API: items and next, continued by `after`.
    let page = api.get("/api/v1/public/replies?q=%E8%B7%AF%E7%81%AF&limit=15").await.json();
    assert_eq!(page["items"].as_array().unwrap().len(), 15);
    let next = page["next"].as_str().unwrap().to_owned();
    let rest = api.get(&format!("/api/v1/public/replies?q=%E8%B7%AF%E7%81%AF&limit=15&after={next}")).await.json();
    assert_eq!(rest["items"].as_array().unwrap().len(), 8);
    assert!(rest["next"].is_null());
    let bad = api.get("/api/v1/public/replies?after=nonsense").await;
    assert_eq!(
        (bad.status, bad.json()["error"]["code"].as_str().map(str::to_owned)),
        (StatusCode::BAD_REQUEST, Some("invalid_cursor".into()))
    );
    let unit = api.get("/api/v1/public/replies?unit=nowhere").await;
    assert_eq!(unit.status, StatusCode::BAD_REQUEST);
    let by_unit = api.get("/api/v1/public/replies?unit=transport&limit=200").await.json();
    assert_eq!(by_unit["items"].as_array().unwrap().len(), 23);
}
