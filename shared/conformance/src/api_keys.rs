//! The `ApiKeyStore` port (Open311 keys): a key created once, found by its digest, listed, and
//! revoked once — a second revocation keeps the first time. Suites may share a store, so each check
//! looks only at its own keys.

use chrono::{DateTime, Duration, Utc};
use mailbox_app::open311::{ApiKey, ApiKeyStore};
use mailbox_app::ports::StoreError;

fn key(at: DateTime<Utc>) -> ApiKey {
    ApiKey {
        id: format!("k{}", hex::encode(rand::random::<[u8; 6]>())),
        name: "12345热线工单系统".into(),
        digest: hex::encode(rand::random::<[u8; 32]>()),
        per_hour: 600,
        created_at: at,
        created_by: "admin".into(),
        revoked_at: None,
    }
}

fn now() -> DateTime<Utc> {
    "2026-11-30T02:00:00Z".parse().unwrap()
}

pub async fn keys_are_created_once_and_found_by_digest(store: &dyn ApiKeyStore) {
    let a = key(now());
    store.create_api_key(&a).await.unwrap();
    assert_eq!(store.api_key(&a.digest).await.unwrap(), Some(a.clone()));
    assert_eq!(store.api_key(&hex::encode([0u8; 32])).await.unwrap(), None);
    // The same digest under another id, or the same id again, is refused and changes nothing.
    let mut again = key(now());
    again.digest = a.digest.clone();
    assert!(matches!(store.create_api_key(&again).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.api_key(&a.digest).await.unwrap().unwrap().id, a.id);
    let mut same_id = key(now());
    same_id.id = a.id.clone();
    assert!(matches!(store.create_api_key(&same_id).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.api_key(&same_id.digest).await.unwrap(), None);
}

pub async fn keys_are_listed_oldest_first_and_revoked_once(store: &dyn ApiKeyStore) {
    let (first, second) = (key(now() - Duration::hours(2)), key(now() - Duration::hours(1)));
    store.create_api_key(&second).await.unwrap();
    store.create_api_key(&first).await.unwrap();
    let mine = |keys: Vec<ApiKey>| -> Vec<String> {
        keys.into_iter().filter(|k| k.id == first.id || k.id == second.id).map(|k| k.id).collect()
    };
    assert_eq!(mine(store.api_keys().await.unwrap()), vec![first.id.clone(), second.id.clone()]);

    let revoked = store.revoke_api_key(&first.id, now()).await.unwrap();
    assert_eq!(revoked.revoked_at, Some(now()));
    // Found by digest as revoked, on every reader at once.
    assert_eq!(store.api_key(&first.digest).await.unwrap().unwrap().revoked_at, Some(now()));
    // A second revocation keeps the first time.
    let again = store.revoke_api_key(&first.id, now() + Duration::hours(1)).await.unwrap();
    assert_eq!(again.revoked_at, Some(now()));
    assert_eq!(store.api_key(&first.digest).await.unwrap().unwrap().revoked_at, Some(now()));
    // The other key is untouched; an unknown id is not found.
    assert_eq!(store.api_key(&second.digest).await.unwrap().unwrap().revoked_at, None);
    assert!(matches!(store.revoke_api_key("k000000000000", now()).await, Err(StoreError::NotFound)));
}
