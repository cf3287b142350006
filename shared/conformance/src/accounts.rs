//! Checks of the `AccountStore` and `AttemptStore` ports (staff accounts, sessions, counted attempts).

use chrono::{DateTime, Duration as Days, Utc};
use mailbox_app::accounts::{hash_password, Account, AccountStore, LocalAuth, Session};
use mailbox_app::ports::{AttemptStore, StoreError};
use mailbox_domain::{Role, UnitId};
use std::sync::Arc;
use std::time::Duration;

fn unique(label: &str) -> String {
    format!("{label}-{}", hex::encode(rand::random::<[u8; 5]>()))
}

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-30T02:00:00Z").unwrap().with_timezone(&Utc)
}

fn account(username: &str) -> Account {
    Account {
        username: username.into(),
        display_name: "测试用户".into(),
        password_hash: hash_password("correct horse battery"),
        role: Role::Handler,
        unit: Some(UnitId::new("transport")),
        oidc_subject: None,
        disabled: false,
        must_change_password: false,
        sessions_after: None,
        phone: None,
        email: None,
        notify_email: true,
        notify_sms: true,
    }
}

const WINDOW: Duration = Duration::from_secs(15 * 60);

pub async fn accounts_are_stored_and_listed<S: AccountStore>(store: &S) {
    let (a, b) = (unique("a"), unique("b"));
    store.put_account(&account(&b)).await.unwrap();
    let first = account(&a);
    store.put_account(&first).await.unwrap();
    assert_eq!(store.account(&a).await.unwrap(), Some(first.clone()));
    assert_eq!(store.account("nobody-here").await.unwrap(), None);
    let mut changed = first;
    changed.display_name = "改名".into();
    changed.role = Role::Dispatcher;
    store.put_account(&changed).await.unwrap();
    assert_eq!(store.account(&a).await.unwrap(), Some(changed), "put replaces");
    let names: Vec<String> = store.accounts().await.unwrap().into_iter().map(|x| x.username).collect();
    let (ia, ib) = (names.iter().position(|n| *n == a).unwrap(), names.iter().position(|n| *n == b).unwrap());
    assert!(ia < ib, "listed by user name");
    assert_eq!(names.iter().filter(|n| **n == a).count(), 1);
}

pub async fn a_subject_links_one_account<S: AccountStore>(store: &S) {
    let (a, b, subject) = (unique("a"), unique("b"), unique("sub"));
    let linked = Account { oidc_subject: Some(subject.clone()), ..account(&a) };
    store.put_account(&linked).await.unwrap();
    assert_eq!(store.account_by_subject(&subject).await.unwrap(), Some(linked.clone()));
    assert_eq!(store.account_by_subject("no-such-subject").await.unwrap(), None);
    // Another account cannot take the same subject.
    let thief = Account { oidc_subject: Some(subject.clone()), ..account(&b) };
    assert!(matches!(store.put_account(&thief).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.account(&b).await.unwrap(), None, "the refused account was not stored");
    assert_eq!(store.account_by_subject(&subject).await.unwrap().map(|x| x.username), Some(a.clone()));
    // Changing an account's subject frees the old one; the account is found by the new one.
    let other = unique("sub");
    let moved = Account { oidc_subject: Some(other.clone()), display_name: "新名".into(), ..linked };
    store.put_account(&moved).await.unwrap();
    assert_eq!(store.account_by_subject(&subject).await.unwrap(), None);
    assert_eq!(store.account_by_subject(&other).await.unwrap(), Some(moved.clone()), "the linked copy is current");
    store.put_account(&thief).await.unwrap();
    assert_eq!(store.account_by_subject(&subject).await.unwrap().map(|x| x.username), Some(b));
    // Unlinking removes the link.
    store.put_account(&Account { oidc_subject: None, ..moved }).await.unwrap();
    assert_eq!(store.account_by_subject(&other).await.unwrap(), None);
}

pub async fn sessions_are_stored_and_deleted<S: AccountStore>(store: &S) {
    let hash = unique("token");
    let session = Session {
        token_hash: hash.clone(),
        username: "u".into(),
        csrf_token: "c".into(),
        expires_at: t0() + Days::hours(12),
        created_at: Some(t0()),
        last_seen: Some(t0()),
    };
    store.put_session(&session).await.unwrap();
    assert_eq!(store.session(&hash).await.unwrap(), Some(session.clone()));
    // Touched (its last use written again): the stored session is replaced, not duplicated.
    let touched = Session { last_seen: Some(t0() + Days::minutes(5)), ..session };
    store.put_session(&touched).await.unwrap();
    assert_eq!(store.session(&hash).await.unwrap(), Some(touched));
    store.delete_session(&hash).await.unwrap();
    assert_eq!(store.session(&hash).await.unwrap(), None);
    store.delete_session(&hash).await.unwrap();
}

pub async fn attempts_count_up_to_the_limit_then_refuse<S: AttemptStore>(store: &S) {
    let (key, other) = (unique("k"), unique("k"));
    for i in 0..5 {
        assert!(store.take(&key, 5, WINDOW, t0() + Days::seconds(i)).await.unwrap(), "attempt {}", i + 1);
    }
    assert!(!store.take(&key, 5, WINDOW, t0() + Days::seconds(6)).await.unwrap(), "the sixth is refused");
    assert!(!store.take(&key, 5, WINDOW, t0() + Days::minutes(10)).await.unwrap(), "still refused");
    assert!(store.take(&other, 5, WINDOW, t0()).await.unwrap(), "keys are separate");
}

pub async fn a_window_passes_and_the_key_starts_again<S: AttemptStore>(store: &S) {
    let key = unique("k");
    for _ in 0..5 {
        assert!(store.take(&key, 5, WINDOW, t0()).await.unwrap());
    }
    // The window runs from the last counted attempt: 15 minutes later the key starts again...
    assert!(!store.take(&key, 5, WINDOW, t0() + Days::minutes(14)).await.unwrap());
    assert!(store.take(&key, 5, WINDOW, t0() + Days::minutes(15)).await.unwrap());
    // ...with a count of one: four more, then refused.
    for _ in 0..4 {
        assert!(store.take(&key, 5, WINDOW, t0() + Days::minutes(16)).await.unwrap());
    }
    assert!(!store.take(&key, 5, WINDOW, t0() + Days::minutes(16)).await.unwrap());

    // A window starts with its first attempt and does not move: attempts taken and given back
    // later (right codes) do not keep the earlier ones alive past it.
    let key = unique("k");
    assert!(store.take(&key, 5, WINDOW, t0()).await.unwrap());
    for _ in 0..3 {
        assert!(store.take(&key, 5, WINDOW, t0() + Days::minutes(10)).await.unwrap());
        store.give_back(&key).await.unwrap();
    }
    for _ in 0..5 {
        assert!(store.take(&key, 5, WINDOW, t0() + Days::minutes(15)).await.unwrap(), "a new window");
    }
    assert!(!store.take(&key, 5, WINDOW, t0() + Days::minutes(15)).await.unwrap());
}

pub async fn given_back_and_cleared_attempts_do_not_count<S: AttemptStore>(store: &S) {
    let key = unique("k");
    for _ in 0..5 {
        assert!(store.take(&key, 5, WINDOW, t0()).await.unwrap());
        store.give_back(&key).await.unwrap();
    }
    for _ in 0..5 {
        assert!(store.take(&key, 5, WINDOW, t0()).await.unwrap(), "given back attempts left room");
    }
    assert!(!store.take(&key, 5, WINDOW, t0()).await.unwrap());
    store.clear(&key).await.unwrap();
    assert!(store.take(&key, 5, WINDOW, t0()).await.unwrap(), "a cleared key starts again");
    store.give_back(&unique("never-taken")).await.unwrap();
    store.clear(&unique("never-taken")).await.unwrap();
    // Several keys at once (a case number and a client address), also when one has none to give.
    let (a, b) = (unique("a"), unique("b"));
    for _ in 0..5 {
        assert!(store.take(&a, 5, WINDOW, t0()).await.unwrap());
        assert!(store.take(&b, 5, WINDOW, t0()).await.unwrap());
        store.give_back_each(&[a.clone(), b.clone()]).await.unwrap();
    }
    assert!(store.take(&a, 5, WINDOW, t0()).await.unwrap(), "given back under both");
    store.give_back_each(&[a.clone(), unique("never-taken")]).await.unwrap();
    for _ in 0..5 {
        assert!(store.take(&a, 5, WINDOW, t0()).await.unwrap(), "given back though the other key had none");
    }
    assert!(!store.take(&a, 5, WINDOW, t0()).await.unwrap());
}

/// Attempts under several keys at once (a case number and a client address): each counted, or none.
pub async fn attempts_under_several_keys_count_all_or_none<S: AttemptStore + Clone>(store: &S) {
    let (a, b) = (unique("a"), unique("b"));
    for _ in 0..4 {
        assert!(store.take(&a, 5, WINDOW, t0()).await.unwrap());
    }
    let both = [a.clone(), b.clone()];
    assert!(store.take_all(&both, 5, WINDOW, t0()).await.unwrap(), "a's fifth, b's first");
    assert!(!store.take_all(&both, 5, WINDOW, t0()).await.unwrap(), "a is at its limit");
    for i in 0..4 {
        assert!(store.take(&b, 5, WINDOW, t0()).await.unwrap(), "b counted once, not twice: attempt {}", i + 2);
    }
    assert!(!store.take(&b, 5, WINDOW, t0()).await.unwrap());
    // A window that passed starts again, under every key.
    assert!(store.take_all(&both, 5, WINDOW, t0() + Days::minutes(15)).await.unwrap(), "new windows");
    for _ in 0..4 {
        assert!(store.take_all(&both, 5, WINDOW, t0() + Days::minutes(16)).await.unwrap());
    }
    assert!(!store.take_all(&both, 5, WINDOW, t0() + Days::minutes(16)).await.unwrap());
    // Twenty at once under one shared key (each with a key of its own beside it): five let through.
    let shared = unique("s");
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (store, keys) = (store.clone(), [shared.clone(), unique("own")]);
            tokio::spawn(async move { store.take_all(&keys, 5, WINDOW, t0()).await })
        })
        .collect();
    let mut allowed = 0;
    for t in tasks {
        if t.await.unwrap().unwrap() {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 5, "each is checked and counted in one step");
}

/// Twenty attempts at the same moment: exactly five are let through.
pub async fn attempts_made_at_once_all_count<S: AttemptStore + Clone>(store: &S) {
    let key = unique("k");
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (store, key) = (store.clone(), key.clone());
            tokio::spawn(async move { store.take(&key, 5, WINDOW, t0()).await })
        })
        .collect();
    let mut allowed = 0;
    for t in tasks {
        if t.await.unwrap().unwrap() {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 5, "each attempt is checked and counted in one step");
}

/// Expired sessions are never served again (SQLite deletes them; DynamoDB's TTL removes them late,
/// so the sign-in layer refuses a session past its expiry), and expired keys free their room.
pub async fn expired_keys_and_sessions_are_purged<S: AccountStore + AttemptStore + Clone>(store: &S) {
    let key = unique("k");
    for _ in 0..5 {
        assert!(store.take(&key, 5, WINDOW, t0()).await.unwrap());
    }
    store.purge_expired(t0() + Days::minutes(16)).await.unwrap();
    assert!(store.take(&key, 5, WINDOW, t0() + Days::minutes(16)).await.unwrap());

    let auth = LocalAuth { accounts: Arc::new(store.clone()), limits: Arc::new(store.clone()) };
    let name = unique("u");
    let mut user = account(&name);
    user.password_hash = hash_password("a long enough password");
    store.put_account(&user).await.unwrap();
    let now = Utc::now();
    let ok = auth.login(&name, "a long enough password", "192.0.2.1", now).await.unwrap();
    assert!(auth.identify(&ok.token, now).await.unwrap().is_some());
    let late = now + Days::hours(13);
    store.purge_sessions(late).await.unwrap();
    assert!(auth.identify(&ok.token, late).await.unwrap().is_none(), "an expired session is refused");
}

/// Sign-in tells nothing about which names exist (an unknown name is refused and locked exactly
/// like a known one), and many sign-ins at once never run more than `PARALLEL_PASSWORD_CHECKS`
/// argon2 checks together (about 19 MiB each), every one of them still answered.
pub async fn sign_in_is_alike_for_unknown_names_and_bounded<S: AccountStore + AttemptStore + Clone>(store: &S) {
    use mailbox_app::accounts::{peak_parallel_password_checks, PARALLEL_PASSWORD_CHECKS};
    use mailbox_app::AppError;
    let auth = Arc::new(LocalAuth { accounts: Arc::new(store.clone()), limits: Arc::new(store.clone()) });
    let known = unique("known");
    store.put_account(&account(&known)).await.unwrap();
    let unknown = unique("unknown");
    let code = |r: Result<_, AppError>| match r {
        Err(AppError::BadCredentials) => "bad_credentials",
        Err(AppError::Invalid { code, .. } | AppError::Conflict { code, .. }) => code,
        other => panic!("unexpected answer: {:?}", other.map(|_| ())),
    };
    for name in [&known, &unknown] {
        let client = unique("client");
        let answers: Vec<&str> =
            futures::future::join_all((0..6).map(|_| auth.login(name, "wrong guess", &client, t0())))
                .await
                .into_iter()
                .map(code)
                .collect();
        assert_eq!(answers.iter().filter(|c| **c == "bad_credentials").count(), 5, "{name}: {answers:?}");
        assert_eq!(answers.iter().filter(|c| **c == "account_locked").count(), 1, "{name}: {answers:?}");
    }
    // 16 names from 16 clients at once: all answered, at most the bound checked together.
    let names: Vec<String> = (0..16).map(|i| unique(&format!("n{i}"))).collect();
    let answers = futures::future::join_all(names.iter().map(|n| auth.login(n, "wrong", n, t0()))).await;
    assert!(answers.into_iter().all(|r| code(r) == "bad_credentials"));
    let peak = peak_parallel_password_checks();
    assert!((1..=PARALLEL_PASSWORD_CHECKS).contains(&peak), "peak {peak} checks at once");
}

/// Account administration over the store: a created account signs in; disabling it ends its open
/// session at once and refuses sign-in; enabling lets it sign in again; a password reset ends its
/// sessions and makes the next sign-in choose a new password; a session unused for 30 minutes ends.
pub async fn administration_ends_sessions_at_once<S: AccountStore + AttemptStore + Clone>(store: &S) {
    use mailbox_app::accounts::{AccountAdmin, NewAccount, SESSION_IDLE_MINUTES};
    use mailbox_app::AppError;
    let org = mailbox_domain::Organisation::guangan();
    let admin = AccountAdmin { store, org: &org };
    let auth = LocalAuth { accounts: Arc::new(store.clone()), limits: Arc::new(store.clone()) };
    let name = unique("staff").to_lowercase();
    let new = |password_change| NewAccount {
        username: name.clone(),
        display_name: "新承办员".into(),
        role: Role::Handler,
        unit: Some(UnitId::new("water")),
        phone: Some("138 1234 5678".into()),
        email: Some("staff@example.gov.cn".into()),
        oidc_subject: None,
        must_change_password: password_change,
    };
    let password = "Lotus-river-7-bridges";
    // The rules: short, the user name, common and guessable passwords are refused.
    for weak in ["short-pw", &format!("{name}-2026-xyz"), "password1234", "qwertyuiop123", "123456789012"] {
        match admin.create(new(false), weak).await {
            Err(AppError::Invalid { code: "weak_password", .. }) => {}
            other => panic!("{weak:?} accepted: {:?}", other.map(|a| a.username)),
        }
    }
    let created = admin.create(new(false), password).await.unwrap();
    assert_eq!(created.phone.as_deref(), Some("13812345678"), "stored in one written form");
    assert!(matches!(admin.create(new(false), password).await, Err(AppError::Conflict { code: "account_exists", .. })));
    let now = Utc::now();
    let session = auth.login(&name, password, "192.0.2.7", now).await.unwrap();
    assert!(auth.identify(&session.token, now).await.unwrap().is_some());

    // Disabled: the open session ends at the next request, and sign-in is refused.
    admin.set_disabled(&name, true, now + Days::seconds(1)).await.unwrap();
    assert!(auth.identify(&session.token, now + Days::seconds(2)).await.unwrap().is_none());
    assert!(matches!(auth.login(&name, password, "192.0.2.7", now).await, Err(AppError::Forbidden(_))));
    admin.set_disabled(&name, false, now + Days::seconds(3)).await.unwrap();
    let later = now + Days::seconds(4);
    let session = auth.login(&name, password, "192.0.2.7", later).await.unwrap();
    assert!(auth.identify(&session.token, later).await.unwrap().is_some());

    // Reset: the session ends; the next sign-in must change the password first.
    let reset = "Another-long-phrase-42";
    admin.reset_password(&name, reset, later + Days::seconds(1)).await.unwrap();
    assert!(auth.identify(&session.token, later + Days::seconds(2)).await.unwrap().is_none());
    let t = later + Days::seconds(3);
    let session = auth.login(&name, reset, "192.0.2.7", t).await.unwrap();
    let identity = auth.identify(&session.token, t).await.unwrap().unwrap();
    assert!(identity.must_change_password);
    assert!(matches!(
        admin.change_password(&name, reset, t).await,
        Err(AppError::Invalid { code: "same_password", .. })
    ));
    let own = "My-own-choice-of-words-9";
    admin.change_password(&name, own, t + Days::seconds(1)).await.unwrap();
    let t = t + Days::seconds(2);
    let session = auth.login(&name, own, "192.0.2.7", t).await.unwrap();
    assert!(!auth.identify(&session.token, t).await.unwrap().unwrap().must_change_password);

    // Idle: used within 30 minutes it lives on; unused for longer it ends.
    let used = t + Days::minutes(SESSION_IDLE_MINUTES - 1);
    assert!(auth.identify(&session.token, used).await.unwrap().is_some());
    let idle = used + Days::minutes(SESSION_IDLE_MINUTES + 1);
    assert!(auth.identify(&session.token, idle).await.unwrap().is_none(), "an idle session is refused");
}
