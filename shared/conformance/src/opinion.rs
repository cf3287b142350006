//! The `TopicStore` port (舆情): an entry recorded once per case and counted once in its week, the
//! entries of a time window, topics saved once per version and found by their last message — also
//! after it moved to a later day — and the weekly counters read by week.

use chrono::{DateTime, Duration, Utc};
use mailbox_app::opinion::TopicStore;
use mailbox_app::ports::StoreError;
use mailbox_domain::opinion::{citizen_tag, normalise, surge_key, week_of, HotTopic, TopicEntry};
use mailbox_domain::{CaseId, CaseNumber, JurisdictionId, UnitId};

/// A moment of a random day far from every other check's (they may share a store), plus `hours`.
fn base() -> DateTime<Utc> {
    let day = rand::random::<u32>() % 20_000;
    "2100-01-04T02:00:00Z".parse::<DateTime<Utc>>().unwrap() + Duration::days(i64::from(day) * 7)
}

fn entry(id: &str, at: DateTime<Utc>, jurisdiction: &JurisdictionId) -> TopicEntry {
    let mut keywords = vec![("下水道".to_owned(), 1.0), ("污水".to_owned(), 0.5)];
    normalise(&mut keywords);
    TopicEntry {
        case_id: CaseId::new(id),
        number: CaseNumber::new(format!("GA{id}")),
        dispatcher: UnitId::new("city-xfj"),
        jurisdiction: jurisdiction.clone(),
        domain: Some("城乡建设".into()),
        at,
        keywords,
        citizen: citizen_tag(id),
        topic: None,
    }
}

fn token() -> String {
    hex::encode(rand::random::<[u8; 5]>())
}

pub async fn an_entry_is_recorded_and_counted_once<S: TopicStore>(store: &S) {
    let (t0, place) = (base(), JurisdictionId::new(format!("j-{}", token())));
    let e = entry(&format!("c-{}", token()), t0 + Duration::hours(30), &place);
    assert!(store.record_entry(&e).await.unwrap(), "new");
    assert!(!store.record_entry(&e).await.unwrap(), "a redelivery records nothing");
    let other = entry(&format!("c-{}", token()), t0 + Duration::hours(31), &place);
    assert!(store.record_entry(&other).await.unwrap());
    let week = week_of(e.at);
    let key = surge_key(week, Some("城乡建设"), &place);
    let counts = store.surge_counts("城乡建设", week - Duration::weeks(8), week).await.unwrap();
    assert_eq!(counts.iter().filter(|(k, _)| *k == key).map(|(_, n)| *n).sum::<i64>(), 2, "{counts:?}");
    let earlier = store.surge_counts("城乡建设", week - Duration::weeks(8), week - Duration::weeks(1)).await.unwrap();
    assert!(!earlier.iter().any(|(k, _)| *k == key), "those weeks' counters only");
    assert!(!store.surge_counts("环境保护", week, week).await.unwrap().iter().any(|(k, _)| *k == key), "that domain's");
    // A window: both, in time order — also across a week's end; a window before them: neither.
    let (got, _) = store.window(t0, t0 + Duration::days(3)).await.unwrap();
    assert_eq!(got, vec![e.clone(), other.clone()], "oldest first");
    let (got, _) = store.window(t0, e.at).await.unwrap();
    assert_eq!(got, vec![e.clone()], "up to and including `until`");
    assert!(store.window(t0 - Duration::days(2), t0).await.unwrap().0.is_empty());
    let next_week = entry(&format!("c-{}", token()), t0 + Duration::days(8), &place);
    store.record_entry(&next_week).await.unwrap();
    let (got, _) = store.window(t0 + Duration::days(2), t0 + Duration::days(9)).await.unwrap();
    assert_eq!(got, vec![next_week], "the 7 days before a message reach into the week before");
    let (got, _) = store.window(t0, t0 + Duration::days(9)).await.unwrap();
    assert_eq!(got.len(), 3);
}

pub async fn topics_are_saved_once_per_version<S: TopicStore>(store: &S) {
    let (t0, place) = (base(), JurisdictionId::new("city"));
    let entries: Vec<TopicEntry> =
        (0..3).map(|i| entry(&format!("c-{}", token()), t0 + Duration::hours(i), &place)).collect();
    let mut topic = HotTopic::form(&entries.iter().collect::<Vec<_>>());
    topic.version = 1;
    store.save_topic(&topic, None, &[]).await.unwrap();
    let again = store.save_topic(&topic, None, &[]).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "formed twice: {again:?}");
    let mut joined = topic.clone();
    joined.join(&entry(&format!("c-{}", token()), t0 + Duration::hours(5), &place));
    joined.version = 2;
    store.save_topic(&joined, Some(1), &[]).await.unwrap();
    let mut stale = topic.clone();
    stale.version = 2;
    assert!(
        matches!(store.save_topic(&stale, Some(1), &[]).await, Err(StoreError::Conflict(_))),
        "one writer per version"
    );
    assert_eq!(store.topic(&topic.id).await.unwrap(), Some(joined));
    assert_eq!(store.topic("T-no-such-topic").await.unwrap(), None);
}

pub async fn open_topics_are_found_by_their_last_message<S: TopicStore>(store: &S) {
    let (t0, place) = (base(), JurisdictionId::new("city"));
    let form = |hours: [i64; 3]| {
        let entries: Vec<TopicEntry> =
            hours.iter().map(|h| entry(&format!("c-{}", token()), t0 + Duration::hours(*h), &place)).collect();
        let mut t = HotTopic::form(&entries.iter().collect::<Vec<_>>());
        t.version = 1;
        t
    };
    let a = form([0, 1, 2]);
    let b = form([240, 241, 242]);
    store.save_topic(&a, None, &[]).await.unwrap();
    store.save_topic(&b, None, &[]).await.unwrap();
    let ids = |topics: Vec<HotTopic>| topics.into_iter().map(|t| t.id).collect::<Vec<_>>();
    assert_eq!(ids(store.topics(t0, t0 + Duration::days(2)).await.unwrap()), vec![a.id.clone()]);
    assert_eq!(ids(store.topics(t0, t0 + Duration::days(11)).await.unwrap()), vec![a.id.clone(), b.id.clone()]);
    // A moves on three days: it is found by its new last message, no longer by its old one.
    let mut moved = a.clone();
    moved.join(&entry(&format!("c-{}", token()), t0 + Duration::hours(72), &place));
    moved.version = 2;
    store.save_topic(&moved, Some(1), &[]).await.unwrap();
    assert_eq!(ids(store.topics(t0 + Duration::hours(60), t0 + Duration::days(4)).await.unwrap()), vec![a.id.clone()]);
    let (_, open) = store.window(t0 + Duration::hours(60), t0 + Duration::days(4)).await.unwrap();
    assert_eq!(ids(open), vec![a.id.clone()], "the window's topics too");
    assert!(store.topics(t0, t0 + Duration::hours(30)).await.unwrap().is_empty(), "its last message is later");
    assert_eq!(store.topics(t0 + Duration::days(2), t0 + Duration::days(4)).await.unwrap()[0].count, 4);
}

pub async fn a_message_is_claimed_by_one_topic_only<S: TopicStore>(store: &S) {
    let (t0, place) = (base(), JurisdictionId::new("city"));
    let entries: Vec<TopicEntry> =
        (0..4).map(|i| entry(&format!("c-{}", token()), t0 + Duration::hours(i), &place)).collect();
    for e in &entries {
        store.record_entry(e).await.unwrap();
    }
    let claim = |t: &HotTopic, es: &[TopicEntry]| -> Vec<TopicEntry> {
        es.iter().map(|e| TopicEntry { topic: Some(t.id.clone()), ..e.clone() }).collect()
    };
    let mut a = HotTopic::form(&entries[..3].iter().collect::<Vec<_>>());
    a.version = 1;
    store.save_topic(&a, None, &claim(&a, &entries[..3])).await.unwrap();
    let (seen, _) = store.window(t0, t0 + Duration::days(1)).await.unwrap();
    let claimed: Vec<Option<String>> = seen.iter().map(|e| e.topic.clone()).collect();
    assert_eq!(claimed, [Some(a.id.clone()), Some(a.id.clone()), Some(a.id.clone()), None]);
    // Another topic of an entry already claimed: refused whole — the topic is not stored either.
    let mut b = HotTopic::form(&entries[1..].iter().collect::<Vec<_>>());
    b.version = 1;
    assert_ne!(a.id, b.id);
    let refused = store.save_topic(&b, None, &claim(&b, &entries[1..])).await;
    assert!(matches!(refused, Err(StoreError::Conflict(_))), "{refused:?}");
    assert_eq!(store.topic(&b.id).await.unwrap(), None, "nothing of a refused write stays");
    let (seen, _) = store.window(t0, t0 + Duration::days(1)).await.unwrap();
    assert_eq!(seen[3].topic, None, "the free entry was not claimed by the refused write");
    // Joining claims the fourth once.
    let mut joined = a.clone();
    joined.join(&entries[3]);
    joined.version = 2;
    store.save_topic(&joined, Some(1), &claim(&joined, &entries[3..])).await.unwrap();
    let mut again = joined.clone();
    again.version = 3;
    assert!(matches!(
        store.save_topic(&again, Some(2), &claim(&again, &entries[3..])).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.topic(&a.id).await.unwrap().map(|t| t.version), Some(2));
}
