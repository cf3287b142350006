//! The `DiscussionStore` port (政民互动): a topic created once and saved once per version, listed
//! newest first; a comment added once, read by status in time order, moderated once per version.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use mailbox_app::discussion::DiscussionStore;
use mailbox_app::ports::StoreError;
use mailbox_domain::discussion::{Comment, CommentStatus, Topic};
use mailbox_domain::{UnitId, UserId};

fn token() -> String {
    hex::encode(rand::random::<[u8; 6]>())
}

fn at(minutes: i64) -> DateTime<Utc> {
    "2026-12-01T02:00:00Z".parse::<DateTime<Utc>>().unwrap() + Duration::minutes(minutes)
}

fn topic(created: i64) -> Topic {
    Topic {
        id: format!("D{}", token()),
        title: "老旧小区改造征求意见".into(),
        text: "请对明年老旧小区改造计划提出意见。".into(),
        opens_on: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
        closes_on: NaiveDate::from_ymd_opt(2026, 12, 31).unwrap(),
        unit: UnitId::new("housing-construction"),
        opened_by: UserId::new("zfb"),
        opened_unit: Some(UnitId::new("city-gov-office")),
        created_at: at(created),
        adoption: None,
        version: 1,
    }
}

fn comment(topic: &str, minutes: i64) -> Comment {
    Comment {
        id: hex::encode(rand::random::<[u8; 8]>()),
        topic: topic.into(),
        name: "王小明".into(),
        phone: "13812345678".into(),
        text: "建议先改造雨污分流。".into(),
        at: at(minutes),
        status: CommentStatus::Pending,
        screened: None,
        reason: None,
        moderated_by: None,
        moderated_at: None,
        version: 1,
    }
}

pub async fn topics_are_created_once_and_listed_newest_first<S: DiscussionStore>(store: &S) {
    let (older, newer) = (topic(0), topic(10));
    store.create_topic(&older).await.unwrap();
    store.create_topic(&newer).await.unwrap();
    assert!(matches!(store.create_topic(&older).await, Err(StoreError::Conflict(_))), "created twice");
    let ids: Vec<String> = store.topics(100).await.unwrap().into_iter().map(|t| t.id).collect();
    let (i, j) = (ids.iter().position(|i| *i == newer.id).unwrap(), ids.iter().position(|i| *i == older.id).unwrap());
    assert!(i < j, "newest first: {ids:?}");
    assert_eq!(store.topics(1).await.unwrap().len(), 1);
    let mut answered = older.clone();
    answered.version = 2;
    store.save_topic(&answered, 1).await.unwrap();
    assert!(matches!(store.save_topic(&answered, 1).await, Err(StoreError::Conflict(_))), "one writer per version");
    assert_eq!(store.topic(&older.id).await.unwrap(), Some(answered));
    assert_eq!(store.topic("D000000000000").await.unwrap(), None);
}

pub async fn comments_are_added_once_and_moderated_once<S: DiscussionStore>(store: &S) {
    let t = topic(0);
    store.create_topic(&t).await.unwrap();
    let (late, early) = (comment(&t.id, 5), comment(&t.id, 1));
    assert!(store.add_comment(&late).await.unwrap());
    assert!(store.add_comment(&early).await.unwrap());
    assert!(!store.add_comment(&late).await.unwrap(), "a resubmitted form adds nothing");
    let all = store.comments(&t.id, None, 10).await.unwrap();
    assert_eq!(all, vec![early.clone(), late.clone()], "oldest first");
    let mut approved = early.clone();
    approved.status = CommentStatus::Approved;
    approved.version = 2;
    store.save_comment(&approved, 1).await.unwrap();
    let mut refused = early.clone();
    refused.status = CommentStatus::Refused;
    refused.version = 2;
    assert!(matches!(store.save_comment(&refused, 1).await, Err(StoreError::Conflict(_))), "moderated once");
    assert_eq!(store.comments(&t.id, Some(CommentStatus::Approved), 10).await.unwrap(), vec![approved.clone()]);
    assert_eq!(store.comments(&t.id, Some(CommentStatus::Pending), 10).await.unwrap(), vec![late.clone()]);
    assert!(store.comments(&t.id, Some(CommentStatus::Refused), 10).await.unwrap().is_empty());
    assert_eq!(store.comment(&t.id, &early.id).await.unwrap(), Some(approved));
    assert_eq!(store.comment(&t.id, "0000000000000000").await.unwrap(), None);
    assert!(store.comments(&format!("D{}", token()), None, 10).await.unwrap().is_empty(), "another topic's");
}
