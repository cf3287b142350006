//! The `OpinionDesk` port (舆情 desk): an item created once and saved once per version, listed by
//! when it was recorded, and in the list of the unit it was last sent to.

use chrono::{DateTime, Duration, Utc};
use mailbox_app::desk::OpinionDesk;
use mailbox_app::ports::StoreError;
use mailbox_domain::opinion::{ItemStatus, OpinionItem, Severity};
use mailbox_domain::{UnitId, UserId};

fn base() -> DateTime<Utc> {
    let week = rand::random::<u32>() % 20_000;
    "2100-01-04T02:00:00Z".parse::<DateTime<Utc>>().unwrap() + Duration::weeks(i64::from(week))
}

fn item(at: DateTime<Utc>) -> OpinionItem {
    OpinionItem {
        id: format!("Y{}", hex::encode(rand::random::<[u8; 6]>())),
        platform: "微博".into(),
        link: "https://weibo.example/1".into(),
        found_at: at,
        summary: "网友发帖反映小区积水".into(),
        severity: Severity::Ordinary,
        related: vec![],
        recorded_by: UserId::new("yq"),
        recorded_at: at,
        status: ItemStatus::Recorded,
        unit: None,
        answer: None,
        history: vec![],
        version: 1,
    }
}

pub async fn items_are_created_once_and_listed_by_time<S: OpinionDesk>(store: &S) {
    let t0 = base();
    let (a, b) = (item(t0 + Duration::hours(1)), item(t0 + Duration::days(8)));
    store.create_item(&a).await.unwrap();
    store.create_item(&b).await.unwrap();
    assert!(matches!(store.create_item(&a).await, Err(StoreError::Conflict(_))), "created twice");
    let ids = |items: Vec<OpinionItem>| items.into_iter().map(|i| i.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.items(t0, t0 + Duration::days(9)).await.unwrap()),
        vec![b.id.clone(), a.id.clone()],
        "newest first, across weeks"
    );
    assert_eq!(ids(store.items(t0, t0 + Duration::days(2)).await.unwrap()), vec![a.id.clone()]);
    assert!(store.items(t0 - Duration::days(3), t0).await.unwrap().is_empty());
    assert_eq!(store.item(&a.id).await.unwrap(), Some(a));
    assert_eq!(store.item("Y000000000000").await.unwrap(), None);
}

pub async fn an_item_is_saved_once_per_version_and_listed_for_its_unit<S: OpinionDesk>(store: &S) {
    let t0 = base();
    let i = item(t0);
    store.create_item(&i).await.unwrap();
    let (water, roads) = (UnitId::new(format!("water-{}", &i.id[1..])), UnitId::new(format!("roads-{}", &i.id[1..])));
    let mut sent = i.clone();
    sent.status = ItemStatus::Sent;
    sent.unit = Some(water.clone());
    sent.version = 2;
    store.save_item(&sent, 1).await.unwrap();
    assert!(matches!(store.save_item(&sent, 1).await, Err(StoreError::Conflict(_))), "one writer per version");
    assert_eq!(store.unit_items(&water, 10).await.unwrap(), vec![sent.clone()]);
    assert!(store.unit_items(&roads, 10).await.unwrap().is_empty());
    // Sent on to another unit: only that unit's now.
    let mut moved = sent.clone();
    moved.unit = Some(roads.clone());
    moved.version = 3;
    store.save_item(&moved, 2).await.unwrap();
    assert!(store.unit_items(&water, 10).await.unwrap().is_empty());
    assert_eq!(store.unit_items(&roads, 10).await.unwrap(), vec![moved]);
}
