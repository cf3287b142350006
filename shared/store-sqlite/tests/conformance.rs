//! The port conformance suites, run on the SQLite adapters.

use mailbox_conformance::queue::{MAX_RECEIVES, QUEUE_A, QUEUE_B};
use mailbox_store_sqlite::{QueueConfig, SqliteStore};

/// A store on a fresh database, and its folder, removed when the check ends.
async fn fresh() -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::Builder::new().prefix("mailbox-conformance-").tempdir().unwrap();
    let queues = QueueConfig { queues: vec![QUEUE_A.into(), QUEUE_B.into()], max_receives: MAX_RECEIVES };
    (SqliteStore::open(dir.path().join("mailbox.db"), queues).unwrap(), dir)
}

mailbox_conformance::case_store_suite!(fresh());

mod queue {
    use super::fresh;
    mailbox_conformance::queue_suite!(fresh());
}

mod attachments {
    use mailbox_store_sqlite::FileAttachments;

    async fn fresh() -> (FileAttachments, tempfile::TempDir) {
        let dir = tempfile::Builder::new().prefix("mailbox-attachments-").tempdir().unwrap();
        (FileAttachments::open(dir.path().join("attachments")).unwrap(), dir)
    }

    mailbox_conformance::attachment_store_suite!(fresh());
}

mod accounts {
    use super::fresh;
    mailbox_conformance::accounts_suite!(fresh());
}

mod delivery {
    use super::fresh;
    mailbox_conformance::delivery_suite!(fresh());
}

mod discussion {
    use super::fresh;
    mailbox_conformance::discussion_store_suite!(fresh());
}

mod api_keys {
    use super::fresh;
    mailbox_conformance::api_key_suite!(fresh());
}

mod desk {
    use super::fresh;
    mailbox_conformance::desk_suite!(fresh());
}

mod topics {
    use super::fresh;
    mailbox_conformance::topic_store_suite!(fresh());
}

/// Two handles on one database file, as two processes would have.
mod instances {
    use mailbox_conformance::instances::Backing;
    use mailbox_store_sqlite::{QueueConfig, SqliteStore};
    use std::sync::Arc;

    async fn two() -> (Backing, Backing, tempfile::TempDir) {
        let dir = tempfile::Builder::new().prefix("mailbox-instances-").tempdir().unwrap();
        let org = mailbox_domain::Organisation::guangan();
        let open = || {
            let queues = QueueConfig { queues: mailbox_app::service::queue_names(&org), max_receives: 5 };
            let store = Arc::new(SqliteStore::open(dir.path().join("mailbox.db"), queues).unwrap());
            Backing {
                store: store.clone(),
                queue: store.clone(),
                notifier: store.clone(),
                limits: store.clone(),
                topics: store.clone(),
                discussion: store.clone(),
                desk: store.clone(),
                api_keys: store.clone(),
                attachments: Arc::new(
                    mailbox_store_sqlite::FileAttachments::open(dir.path().join("attachments")).unwrap(),
                ),
                accounts: store,
            }
        };
        (open(), open(), dir)
    }

    mailbox_conformance::instances_suite!(two());
}

/// SQLite has no TTL: expired attempt counts and sessions are removed by the purges (run hourly by
/// `mailbox serve`), which remove exactly the expired ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purges_remove_exactly_the_expired_rows() {
    use chrono::{Duration, Utc};
    use mailbox_app::accounts::{AccountStore, Session};
    use mailbox_app::ports::AttemptStore;
    let (store, _dir) = fresh().await;
    let now = Utc::now();
    let window = std::time::Duration::from_secs(15 * 60);
    store.take("old", 5, window, now - Duration::minutes(20)).await.unwrap();
    store.take("live", 5, window, now - Duration::minutes(5)).await.unwrap();
    let session = |hash: &str, expires| Session {
        token_hash: hash.into(),
        username: "u".into(),
        csrf_token: "c".into(),
        expires_at: expires,
        created_at: None,
        last_seen: None,
    };
    store.put_session(&session("gone", now - Duration::minutes(1))).await.unwrap();
    store.put_session(&session("kept", now + Duration::hours(1))).await.unwrap();
    assert_eq!(store.purge_expired(now).await.unwrap(), 1);
    assert_eq!(store.purge_sessions(now).await.unwrap(), 1);
    assert_eq!(store.purge_expired(now).await.unwrap(), 0, "nothing twice");
    assert!(store.session("kept").await.unwrap().is_some());
    assert!(store.session("gone").await.unwrap().is_none());
    // Notifications older than NOTIFICATION_TTL go; idempotency records past their day go.
    use mailbox_app::ports::{CaseStore, Notification, Notifier, NOTIFICATION_TTL};
    let note = |key: &str, at| Notification {
        key: key.into(),
        unit: mailbox_domain::UnitId::new("transport"),
        subject: "s".into(),
        body: "b".into(),
        created_at: at,
        topic: Default::default(),
    };
    store.notify(&[note("old", now - NOTIFICATION_TTL - Duration::minutes(1)), note("new", now)]).await.unwrap();
    assert_eq!(store.purge_notifications(now).await.unwrap(), 1);
    let left = store.notifications(None, None, 10).await.unwrap().items;
    assert_eq!(left.iter().map(|n| n.key.as_str()).collect::<Vec<_>>(), ["new"]);
    assert_eq!(store.purge_idempotency(now).await.unwrap(), 0);
    // The live key still counts: four more, then refused.
    for _ in 0..4 {
        assert!(store.take("live", 5, window, now).await.unwrap());
    }
    assert!(!store.take("live", 5, window, now).await.unwrap());
    // Sent and dead deliveries older than DELIVERY_RETENTION go; a pending one never does.
    use mailbox_app::delivery::{Delivery, DeliveryStatus, DeliveryStore, Payload, Recipient, DELIVERY_RETENTION};
    let delivery = |key: &str, status, at| Delivery {
        key: key.into(),
        notification: "n".into(),
        recipient: Recipient::Staff { username: "jtj".into() },
        payload: Payload::Email { subject: "s".into(), body: "b".into() },
        urgent: false,
        status,
        attempts: 1,
        next_at: at,
        version: 0,
        provider_id: None,
        log: Vec::new(),
        created_at: at,
    };
    let old = now - DELIVERY_RETENTION - Duration::minutes(1);
    store
        .add_deliveries(&[
            delivery("old-sent", DeliveryStatus::Sent, old),
            delivery("old-dead", DeliveryStatus::Dead, old),
            delivery("old-pending", DeliveryStatus::Pending, old),
            delivery("new-sent", DeliveryStatus::Sent, now),
        ])
        .await
        .unwrap();
    assert_eq!(store.purge_deliveries(now).await.unwrap(), 2);
    assert!(store.delivery("old-pending").await.unwrap().is_some());
    assert!(store.delivery("new-sent").await.unwrap().is_some());
}
