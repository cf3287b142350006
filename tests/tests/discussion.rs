//! 政民互动 through the use cases (SQLite, a manual clock): who opens a topic and with what period;
//! comments screened, pre-moderated, public only when approved and then masked; a refused comment
//! never public; the period enforced; limits; the adoption published once after the period by the
//! responsible unit. (Both deployments' stores pass the `DiscussionStore` conformance suite; the
//! browser story runs on both.)

use chrono::Duration;
use mailbox_app::discussion::{CommentRequest, Moderation, TopicRequest};
use mailbox_app::AppError;
use mailbox_domain::discussion::CommentStatus;
use mailbox_domain::{Actor, Role, UnitId};
use mailbox_tests::{at, Harness};

fn zfb() -> Actor {
    Actor::staff("zfb", Role::Supervisor, Some(UnitId::new("city-gov-office")))
}

fn request(opens: &str, closes: &str, unit: &str) -> TopicRequest {
    TopicRequest {
        title: "明年老旧小区改造征求意见".into(),
        text: "市住建局拟于明年改造一批老旧小区，请对改造内容和顺序提出意见。".into(),
        opens_on: opens.into(),
        closes_on: closes.into(),
        unit: unit.into(),
    }
}

fn says(name: &str, phone: &str, text: &str) -> CommentRequest {
    CommentRequest { name: name.into(), phone: phone.into(), text: text.into() }
}

fn code(r: Result<impl std::fmt::Debug, AppError>) -> String {
    match r {
        Err(AppError::Invalid { field, .. }) => format!("invalid:{}", field.unwrap_or("-")),
        Err(AppError::Conflict { code, .. }) => code.to_owned(),
        Err(e) => format!("{e:?}"),
        Ok(v) => format!("ok {v:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comments_are_screened_moderated_and_public_only_when_approved_and_masked() {
    let h = Harness::new("discussion", at("2026-12-01T10:00:00+08:00"));
    let app = &h.app;
    // Who opens, and with what period.
    let handler = Actor::staff("jtj", Role::Handler, Some(UnitId::new("transport")));
    assert!(matches!(
        app.open_topic(&handler, &request("2026-12-01", "2026-12-10", "housing-construction")).await,
        Err(AppError::Forbidden(_))
    ));
    assert_eq!(
        code(app.open_topic(&zfb(), &request("2026-12-10", "2026-12-01", "housing-construction")).await),
        "invalid:closes_on"
    );
    assert_eq!(
        code(app.open_topic(&zfb(), &request("2026-12-01", "2027-12-01", "housing-construction")).await),
        "invalid:closes_on"
    );
    assert_eq!(code(app.open_topic(&zfb(), &request("2026-12-01", "2026-12-10", "nowhere")).await), "invalid:unit");
    assert_eq!(
        code(app.open_topic(&zfb(), &request("2026-12-01", "12月10日", "housing-construction")).await),
        "invalid:closes_on"
    );
    let xfj = Actor::staff("xfj", Role::Dispatcher, Some(UnitId::new("city-xfj")));
    let topic = app.open_topic(&xfj, &request("2026-12-01", "2026-12-10", "housing-construction")).await.unwrap();
    let id = topic.id.as_str();

    // Citizens comment; bad input is refused field by field and stores nothing.
    assert_eq!(
        code(app.comment(id, &says("", "12345", "建议先改造雨污分流。"), None, "10.0.0.1").await),
        "invalid:phone"
    );
    assert_eq!(code(app.comment(id, &says("", "13800000001", "好"), None, "10.0.0.1").await), "invalid:text");
    assert_eq!(
        code(app.comment(id, &says(&"名".repeat(21), "13800000001", "建议先改造雨污分流。"), None, "10.0.0.1").await),
        "invalid:name"
    );
    let key = "a1b2c3d4e5f60718293a4b5c6d7e8f90";
    let named =
        says("王小明", "+86 138 1234 5678", "建议先改造雨污分流，我家在幸福小区5栋，电话13812345678，可以来看。");
    let first = app.comment(id, &named, Some(key), "10.0.0.1").await.unwrap();
    let again = app.comment(id, &named, Some(key), "10.0.0.1").await.unwrap();
    assert_eq!(first.id, again.id, "the same form sent twice is one comment");
    assert_eq!(first.phone, "13812345678", "the mobile as one written form, for contact only");
    h.clock.advance(Duration::minutes(1));
    let advert = app
        .comment(id, &says("", "13800000002", "加微信 abc123 代开发票，详情见 http://x.example"), None, "10.0.0.2")
        .await
        .unwrap();
    assert!(advert.screened.is_some(), "screening flags advertising for the moderator");
    h.clock.advance(Duration::minutes(1));
    let anonymous =
        app.comment(id, &says("", "13800000003", "希望加装电梯，老人上下楼太难。"), None, "10.0.0.3").await.unwrap();

    // Nothing is public before moderation.
    assert!(app.public_topic(id).await.unwrap().comments.is_empty());
    // The moderator sees what would be public, never the phone.
    let (_, _, queue) = app.staff_topic(&zfb(), id).await.unwrap();
    assert_eq!(queue.len(), 3);
    let shown = serde_json::to_string(&queue).unwrap();
    assert!(!shown.contains("13812345678") && !shown.contains("王小明") && !shown.contains("13800000002"), "{shown}");
    let other = Actor::staff("slj", Role::Handler, Some(UnitId::new("water")));
    assert!(matches!(app.staff_topic(&other, id).await, Err(AppError::Forbidden(_))));
    assert!(matches!(app.moderate(&other, id, &first.id, Moderation::Approve).await, Err(AppError::Forbidden(_))));

    // Approve one (the responsible unit), refuse one with a reason (the supervisor).
    let housing = Actor::staff("zjj", Role::Handler, Some(UnitId::new("housing-construction")));
    app.moderate(&housing, id, &first.id, Moderation::Approve).await.unwrap();
    assert_eq!(
        code(app.moderate(&zfb(), id, &advert.id, Moderation::Refuse { reason: " ".into() }).await),
        "invalid:reason"
    );
    app.moderate(&zfb(), id, &advert.id, Moderation::Refuse { reason: "广告".into() }).await.unwrap();
    assert_eq!(code(app.moderate(&zfb(), id, &advert.id, Moderation::Approve).await), "already_moderated");
    assert!(matches!(app.moderate(&zfb(), id, "0000000000000000", Moderation::Approve).await, Err(AppError::NotFound)));
    assert!(matches!(app.moderate(&zfb(), id, "../../x", Moderation::Approve).await, Err(AppError::NotFound)));
    let public = app.public_topic(id).await.unwrap().comments;
    assert_eq!(public.len(), 1, "only the approved one: {public:?}");
    assert_eq!(public[0].author, "王**");
    assert!(public[0].text.contains("138****5678") && !public[0].text.contains("13812345678"), "{}", public[0].text);
    assert!(!public.iter().any(|c| c.text.contains("代开发票")), "a refused comment is never public");
    app.moderate(&zfb(), id, &anonymous.id, Moderation::Approve).await.unwrap();
    let public = app.public_topic(id).await.unwrap().comments;
    assert_eq!(public[1].author, "市民");
    let (_, _, queue) = app.staff_topic(&zfb(), id).await.unwrap();
    let statuses: Vec<CommentStatus> = queue.iter().map(|c| c.status).collect();
    assert_eq!(statuses, [CommentStatus::Approved, CommentStatus::Refused, CommentStatus::Approved]);

    // Limits: three comments a day per mobile and topic.
    for i in 0..2 {
        app.comment(id, &says("", "13812345678", &format!("再补充一点意见第{i}条。")), None, "10.0.0.9").await.unwrap();
    }
    assert!(matches!(
        app.comment(id, &says("", "13812345678", "还有第三条补充意见。"), None, "10.0.0.9").await,
        Err(AppError::RateLimited)
    ));

    // The adoption: not before the period ends; then once, by the responsible unit or a supervisor.
    assert_eq!(code(app.publish_adoption(&housing, id, "已采纳加装电梯的建议。").await), "topic_still_open");
    h.clock.advance(Duration::days(10));
    assert_eq!(
        code(app.comment(id, &says("", "13800000004", "征集期结束了还能说吗？"), None, "10.0.0.4").await),
        "topic_not_open"
    );
    assert!(matches!(app.publish_adoption(&other, id, "已采纳。").await, Err(AppError::Forbidden(_))));
    let done =
        app.publish_adoption(&housing, id, "采纳了王小明先改造雨污分流的建议，联系人张三 13912345678。").await.unwrap();
    assert!(done.adoption.is_some());
    let shown = app.public_topic(id).await.unwrap().adoption.unwrap();
    assert!(shown.contains("139****5678"), "{shown}");
    assert!(!shown.contains("王小明") && shown.contains("王**"), "a commenter named in it is masked: {shown}");
    assert_eq!(code(app.publish_adoption(&zfb(), id, "再发一次").await), "adoption_published");
    assert!(matches!(app.public_topic("D../../etc").await, Err(AppError::NotFound)));
    assert_eq!(app.topics().await.unwrap().len(), 1);
}
