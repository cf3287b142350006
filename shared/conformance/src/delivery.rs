//! The `DeliveryStore` port: one record per key, one writer of each version, due ones by time,
//! the log newest first.

use chrono::{DateTime, Duration, Utc};
use mailbox_app::delivery::{Delivery, DeliveryStatus, DeliveryStore, Payload, Recipient, SmsTemplate};
use mailbox_app::ports::StoreError;
use std::collections::BTreeMap;

fn at(minutes: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-01T10:00:00+08:00").unwrap().with_timezone(&Utc) + Duration::minutes(minutes)
}

fn delivery(key: &str, next: i64) -> Delivery {
    Delivery {
        key: key.into(),
        notification: "c1:4".into(),
        recipient: Recipient::Staff { username: "jtj".into() },
        payload: Payload::Sms {
            template: SmsTemplate::StaffNotice,
            params: BTreeMap::from([("number".into(), "GA1".into()), ("topic".into(), "催办".into())]),
        },
        urgent: false,
        status: DeliveryStatus::Pending,
        attempts: 0,
        next_at: at(next),
        version: 0,
        provider_id: None,
        log: Vec::new(),
        created_at: at(next),
    }
}

/// The keys of `deliveries` that start with `prefix` (other checks share the store), in order.
fn keys_of(deliveries: Vec<Delivery>, prefix: &str) -> Vec<String> {
    deliveries.into_iter().map(|d| d.key).filter(|k| k.starts_with(prefix)).collect()
}

fn token() -> String {
    hex::encode(rand::random::<[u8; 5]>())
}

pub async fn a_key_is_recorded_once<S: DeliveryStore>(store: &S) {
    let key = format!("n-{}|sms|jtj", token());
    let first = delivery(&key, 0);
    store.add_deliveries(std::slice::from_ref(&first)).await.unwrap();
    let mut again = delivery(&key, 5);
    again.urgent = true;
    store.add_deliveries(&[again]).await.unwrap();
    assert_eq!(store.delivery(&key).await.unwrap(), Some(first), "the first record stays");
    assert_eq!(store.delivery("no-such-key").await.unwrap(), None);
}

pub async fn one_writer_wins_each_version<S: DeliveryStore>(store: &S) {
    let key = format!("n-{}|email|jtj", token());
    let d = delivery(&key, 0);
    store.add_deliveries(std::slice::from_ref(&d)).await.unwrap();
    let mut a = d.clone();
    a.attempts = 1;
    a.version = 1;
    let mut b = a.clone();
    b.next_at = at(9);
    let (ra, rb) = tokio::join!(store.save_delivery(&a, 0), store.save_delivery(&b, 0));
    assert_eq!(ra.is_ok() as u8 + rb.is_ok() as u8, 1, "exactly one claim: {ra:?} {rb:?}");
    let err = if ra.is_err() { ra } else { rb };
    assert!(matches!(err, Err(StoreError::Conflict(_))), "{err:?}");
    let mut sent = store.delivery(&key).await.unwrap().unwrap();
    sent.status = DeliveryStatus::Sent;
    sent.version = 2;
    sent.provider_id = Some("provider-1".into());
    store.save_delivery(&sent, 1).await.unwrap();
    assert_eq!(store.delivery(&key).await.unwrap(), Some(sent));
}

pub async fn due_ones_by_time_and_only_pending<S: DeliveryStore>(store: &S) {
    // Far in the future of any other check's deliveries: only these are due in this window.
    let base = 60 * 24 * 365 * 50 + rand::random::<u16>() as i64 * 60;
    let t = token();
    let (early, late, sent) = (format!("{t}-early"), format!("{t}-late"), format!("{t}-sent"));
    let mut done = delivery(&sent, base);
    done.status = DeliveryStatus::Sent;
    store.add_deliveries(&[delivery(&late, base + 2), delivery(&early, base + 1), done]).await.unwrap();
    let due = keys_of(store.due_deliveries(at(base + 2), 100).await.unwrap(), &t);
    assert_eq!(due, vec![early.clone(), late.clone()], "earliest first; sent ones are not due");
    let before: Vec<String> = store
        .due_deliveries(at(base + 1), 100)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.key)
        .filter(|k| k.starts_with(&t))
        .collect();
    assert_eq!(before, vec![early.clone()]);
    // Held to a later time, it is not due before.
    let mut held = store.delivery(&early).await.unwrap().unwrap();
    held.next_at = at(base + 10);
    held.version = 1;
    store.save_delivery(&held, 0).await.unwrap();
    let now: Vec<String> = store
        .due_deliveries(at(base + 2), 100)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.key)
        .filter(|k| k.starts_with(&t))
        .collect();
    assert_eq!(now, vec![late]);
}

pub async fn the_log_lists_newest_first_and_dead_ones_apart<S: DeliveryStore>(store: &S) {
    let base = 60 * 24 * 365 * 60 + rand::random::<u16>() as i64 * 60;
    let t = token();
    let keys: Vec<String> = (0..3).map(|i| format!("{t}-{i}")).collect();
    let ds: Vec<Delivery> = keys.iter().enumerate().map(|(i, k)| delivery(k, base + i as i64)).collect();
    store.add_deliveries(&ds).await.unwrap();
    let mut dead = ds[1].clone();
    dead.status = DeliveryStatus::Dead;
    dead.version = 1;
    store.save_delivery(&dead, 0).await.unwrap();
    let recent = keys_of(store.recent_deliveries(None, 1000).await.unwrap(), &t);
    assert_eq!(recent, vec![keys[2].clone(), keys[1].clone(), keys[0].clone()]);
    let dead_ones = keys_of(store.recent_deliveries(Some(DeliveryStatus::Dead), 1000).await.unwrap(), &t);
    assert_eq!(dead_ones, vec![keys[1].clone()]);
    assert!(
        store.due_deliveries(at(base + 5), 1000).await.unwrap().iter().all(|d| d.key != keys[1]),
        "dead is not due"
    );
}
