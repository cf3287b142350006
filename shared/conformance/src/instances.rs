//! Two application instances on one store — two Lambda instances on one table, or two processes on
//! one SQLite file — must behave as one system: limits on attempts count across both, a calendar
//! imported on one reaches the other within the documented time, and the recomputation job it
//! queues finishes once, also after a crash in its middle.

use chrono::{DateTime, Duration as Days, Utc};
use mailbox_app::accounts::{hash_password, Account, AccountStore, LocalAuth};
use mailbox_app::calendar::{JobOutcome, CALENDAR_REFRESH, JOBS_QUEUE};
use mailbox_app::input::SubmitRequest;
use mailbox_app::ports::{
    AttemptStore, CaseStore, HandoffQueue, ManualClock, Notifier, QueueError, QueueResult, Received,
};
use mailbox_app::{Adapters, App, AppError};
use mailbox_domain::deadline::DeadlineClass;
use mailbox_domain::workflow::{Command, EventKind};
use mailbox_domain::{Actor, Calendar, CaseId, CaseNumber, DispatchMode, Organisation, Role, UnitId};
use std::sync::Arc;
use std::time::Duration;

/// One instance's handles on the shared storage.
pub struct Backing {
    pub store: Arc<dyn CaseStore>,
    pub queue: Arc<dyn HandoffQueue>,
    pub notifier: Arc<dyn Notifier>,
    pub limits: Arc<dyn AttemptStore>,
    pub topics: Arc<dyn mailbox_app::opinion::TopicStore>,
    pub discussion: Arc<dyn mailbox_app::discussion::DiscussionStore>,
    pub desk: Arc<dyn mailbox_app::desk::OpinionDesk>,
    pub api_keys: Arc<dyn mailbox_app::open311::ApiKeyStore>,
    pub attachments: Arc<dyn mailbox_app::attachments::AttachmentStore>,
    pub accounts: Arc<dyn AccountStore>,
}

pub struct Instance {
    pub app: Arc<App>,
    pub auth: LocalAuth,
}

/// Two instances over the two backings, sharing one manual clock.
pub async fn pair(a: Backing, b: Backing, now: DateTime<Utc>) -> (Instance, Instance, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(now));
    let org = Arc::new(Organisation::guangan());
    let make = |x: Backing| {
        let adapters = Adapters {
            store: x.store,
            queue: x.queue,
            notifier: x.notifier,
            clock: clock.clone(),
            limits: x.limits.clone(),
            topics: x.topics,
            discussion: x.discussion,
            desk: x.desk,
            api_keys: x.api_keys,
            attachments: x.attachments,
        };
        let app = Arc::new(App::new(org.clone(), Calendar::builtin().clone(), adapters));
        Instance { app, auth: LocalAuth { accounts: x.accounts, limits: x.limits } }
    };
    let (a, b) = (make(a), make(b));
    a.app.load_stored_notices().await.unwrap();
    b.app.load_stored_notices().await.unwrap();
    (a, b, clock)
}

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-21T02:00:00Z").unwrap().with_timezone(&Utc)
}

fn request(title: &str) -> SubmitRequest {
    SubmitRequest {
        mailbox: "mayor".into(),
        kind: "complaint".into(),
        title: title.into(),
        body: "小区门口道路破损".into(),
        name: "张三".into(),
        phone: "13812345678".into(),
        public: true,
    }
}

/// Five wrong codes for one case, spread over both instances and several clients, refuse the sixth
/// try on either — even with the right code; five wrong codes from one client, over both instances
/// and several cases, refuse that client's sixth.
pub async fn query_code_limit_is_shared(a: &Instance, b: &Instance) {
    let case = a.app.submit(&request("限次测试"), None).await.unwrap();
    let other = a.app.submit(&request("限次测试二"), None).await.unwrap();
    for (i, who) in [a, a, a, b, b].iter().enumerate() {
        let client = format!("198.51.100.{i}");
        let wrong = who.app.citizen_view(&case.number, "WRONGCODE2", &client).await;
        assert!(matches!(wrong, Err(AppError::NotFound)), "wrong code {}: {wrong:?}", i + 1);
    }
    for who in [a, b] {
        let right = who.app.citizen_view(&case.number, &case.query_code, "198.51.100.99").await;
        assert!(matches!(right, Err(AppError::RateLimited)), "{right:?}");
    }
    // The other case is not locked: the limit is per number...
    assert!(b.app.citizen_view(&other.number, &other.query_code, "198.51.100.98").await.is_ok());
    // ...and per client, across cases and instances.
    let client = "203.0.113.7";
    for (i, who) in [b, a, b, a, b].iter().enumerate() {
        let n = format!("GA20261221{:04}", 9000 + i);
        assert!(matches!(who.app.citizen_view(&n, "WRONGCODE2", client).await, Err(AppError::NotFound)));
    }
    let refused = a.app.citizen_view(&other.number, &other.query_code, client).await;
    assert!(matches!(refused, Err(AppError::RateLimited)), "{refused:?}");

    // A rating with the right code gives back the attempts its lookup took, in the rating's own
    // write: after four wrong codes and the rating, one more wrong code is answered, the next not.
    let rated = a.app.submit(&request("评价限次"), None).await.unwrap();
    let id = a.app.store.get_by_number(&CaseNumber::new(rated.number.as_str())).await.unwrap().unwrap().id;
    let xfj = Actor::staff("xfj", Role::Dispatcher, Some(UnitId::new("city-xfj")));
    let unit = Actor::staff("jt", Role::Handler, Some(UnitId::new("transport")));
    for (actor, command) in [
        (&xfj, Command::Accept),
        (&xfj, crate::fixtures::transfer_to("transport")),
        (&unit, Command::Receive),
        (&unit, Command::Reply { text: "已修复".into(), public: false }),
    ] {
        a.app.act(actor, &id, None, command).await.unwrap();
    }
    let client = "198.51.100.200";
    for who in [a, b, a, b] {
        let wrong = who.app.citizen_rate(&rated.number, "WRONGCODE2", client, true, String::new()).await;
        assert!(matches!(wrong, Err(AppError::NotFound)), "{wrong:?}");
    }
    let view = b.app.citizen_rate(&rated.number, &rated.query_code, client, true, "满意".into()).await.unwrap();
    assert!(view.rating.is_some_and(|r| r.satisfied));
    // The trail it answers with is the stored one, the rating's own event last.
    let trail = a.app.store.events(&id).await.unwrap();
    assert_eq!(
        view.timeline.len(),
        a.app.citizen_view(&rated.number, &rated.query_code, "198.51.100.201").await.unwrap().timeline.len()
    );
    assert!(trail.iter().rev().take(2).any(|e| matches!(e.kind, EventKind::Rated { .. })), "{trail:?}");
    // A rating the workflow refuses (rated already) with the right code says so and gives back
    // the attempts it took.
    let refused = a.app.citizen_rate(&rated.number, &rated.query_code, client, false, String::new()).await;
    assert!(matches!(refused, Err(AppError::Conflict { code: "illegal_transition", .. })), "{refused:?}");
    let fifth = a.app.citizen_view(&rated.number, "WRONGCODE2", client).await;
    assert!(matches!(fifth, Err(AppError::NotFound)), "the fifth wrong code is answered: {fifth:?}");
    let sixth = b.app.citizen_view(&rated.number, &rated.query_code, client).await;
    assert!(matches!(sixth, Err(AppError::RateLimited)), "then the limit: {sixth:?}");
    // At the limit a rating is answered like any other try: counted first, so it says only that.
    let again = a.app.citizen_rate(&rated.number, &rated.query_code, client, false, String::new()).await;
    assert!(matches!(again, Err(AppError::RateLimited)), "{again:?}");
}

/// Five wrong passwords, spread over both instances, lock the account on both.
pub async fn sign_in_lockout_is_shared(a: &Instance, b: &Instance) {
    let name = format!("lock-{}", hex::encode(rand::random::<[u8; 4]>()));
    let account = Account {
        username: name.clone(),
        display_name: "测试".into(),
        password_hash: hash_password("the right password"),
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
    };
    a.auth.accounts.put_account(&account).await.unwrap();
    let now = a.app.now();
    for who in [a, b, a, b, b] {
        let wrong = who.auth.login(&name, "a wrong password", "192.0.2.1", now).await;
        assert!(matches!(wrong, Err(AppError::BadCredentials)), "{:?}", wrong.err());
    }
    for who in [a, b] {
        let locked = who.auth.login(&name, "the right password", "192.0.2.1", now).await;
        assert!(matches!(locked, Err(AppError::Conflict { code: "account_locked", .. })), "{:?}", locked.err());
    }
    let later = now + Days::minutes(16);
    assert!(b.auth.login(&name, "the right password", "192.0.2.1", later).await.is_ok(), "unlocked after 15 minutes");

    // Ten wrong guesses sent at once to both instances: five are checked, five refused unchecked.
    let guesses = (0..10).map(|i| {
        let who = if i % 2 == 0 { a } else { b };
        who.auth.login(&name, "a wrong password", "192.0.2.2", later)
    });
    let results = futures::future::join_all(guesses).await;
    let checked = results.iter().filter(|r| matches!(r, Err(AppError::BadCredentials))).count();
    let refused =
        results.iter().filter(|r| matches!(r, Err(AppError::Conflict { code: "account_locked", .. }))).count();
    assert_eq!((checked, refused), (5, 5), "parallel guesses all count");
}

const NOTICE_2027: &str = r#"{"year": 2027, "papers": ["test"], "days": [
    {"name": "元旦", "date": "2027-01-01", "isOffDay": true},
    {"name": "元旦", "date": "2027-01-04", "isOffDay": true},
    {"name": "春节", "date": "2027-02-08", "isOffDay": true}]}"#;

/// A notice imported on one instance is used by the other within [`CALENDAR_REFRESH`].
pub async fn calendar_import_reaches_the_other_instance(a: &Instance, b: &Instance, clock: &ManualClock) {
    assert!(!b.app.calendar().has_notice(2027));
    let imported = a.app.import_calendar(NOTICE_2027).await.unwrap();
    assert!(imported.recompute_queued);
    assert!(a.app.calendar().has_notice(2027), "the importing instance uses it at once");
    clock.advance(Days::from_std(CALENDAR_REFRESH).unwrap() + Days::seconds(1));
    // Any use of the other instance after the refresh interval sees it.
    b.app.submit(&request("日历测试"), None).await.unwrap();
    assert!(b.app.calendar().has_notice(2027), "seen within the refresh interval");
    assert_eq!(b.app.calendar_version(), imported.version);
}

fn dispatcher() -> Actor {
    Actor::staff("xfj", Role::Dispatcher, Some(UnitId::new("city-xfj")))
}

/// A queue whose first `failures` sends fail (an instance dying before it queued its message, a
/// queue unavailable behind the bus); everything else goes to `inner`.
pub struct FailingSends {
    pub inner: Arc<dyn HandoffQueue>,
    pub failures: std::sync::atomic::AtomicUsize,
}

impl FailingSends {
    pub fn new(inner: Arc<dyn HandoffQueue>, failures: usize) -> FailingSends {
        FailingSends { inner, failures: failures.into() }
    }
}

#[async_trait::async_trait]
impl HandoffQueue for FailingSends {
    async fn send_delayed(&self, queue: &str, body: &str, delay: Duration) -> QueueResult<()> {
        let take = |n: usize| n.checked_sub(1);
        if self
            .failures
            .fetch_update(std::sync::atomic::Ordering::SeqCst, std::sync::atomic::Ordering::SeqCst, take)
            .is_ok()
        {
            return Err(QueueError::Unavailable("injected failure".into()));
        }
        self.inner.send_delayed(queue, body, delay).await
    }
    async fn receive(&self, queue: &str, max: usize, visibility: Duration) -> QueueResult<Vec<Received>> {
        self.inner.receive(queue, max, visibility).await
    }
    async fn delete(&self, queue: &str, receipt: &str) -> QueueResult<()> {
        self.inner.delete(queue, receipt).await
    }
    async fn dead_letters(&self, queue: &str) -> QueueResult<Vec<Received>> {
        self.inner.dead_letters(queue).await
    }
}

/// 25 cases received before the 2027 notice (their 40-day deadlines reach into 2027 and are
/// provisional), recomputed 10 at a time. The notice is imported on one instance; its job runs on
/// three, and it is interrupted twice: a third instance dies after recomputing its whole chunk but
/// before queuing the next one, and later an instance dies in the middle of a chunk (some cases
/// recomputed). Each time the message is neither finished nor deleted; the queue hands it out again
/// and the job goes on. In the end every case is recomputed exactly once, and the end is recorded
/// once although its last message is delivered twice.
pub async fn recompute_job_survives_a_crash_and_finishes_once(a: &Instance, b: &Instance, clock: Arc<ManualClock>) {
    for x in [a, b] {
        x.app.set_calendar_refresh(Duration::ZERO);
        x.app.set_recompute_chunk(10);
    }
    let handler = Actor::staff("jtj", Role::Handler, Some(UnitId::new("transport")));
    let mut ids: Vec<CaseId> = Vec::new();
    for i in 0..25 {
        let s = a.app.submit(&request(&format!("重算测试 {i}")), None).await.unwrap();
        let id = a.app.store.get_by_number(&CaseNumber::new(s.number.as_str())).await.unwrap().unwrap().id;
        a.app.act(&dispatcher(), &id, None, Command::Accept).await.unwrap();
        let dispatch = Command::Dispatch {
            mode: DispatchMode::Transfer,
            lead: UnitId::new("transport"),
            co_handlers: vec![],
            class: DeadlineClass::Coordinated,
            special_days: None,
        };
        b.app.act(&dispatcher(), &id, None, dispatch).await.unwrap();
        let case = a.app.act(&handler, &id, None, Command::Receive).await.unwrap();
        assert!(case.deadline.as_ref().unwrap().provisional, "a deadline in 2027 is provisional before its notice");
        ids.push(id);
    }
    let imported = a.app.import_calendar(NOTICE_2027).await.unwrap();
    let visibility = Duration::from_secs(1);
    let q = &a.app.queue;

    // The first chunk: instance c recomputes it, then dies before queuing the next chunk.
    let adapters = Adapters {
        store: a.app.store.clone(),
        queue: Arc::new(FailingSends::new(a.app.queue.clone(), 1)),
        notifier: a.app.notifier.clone(),
        clock,
        limits: a.app.limits.clone(),
        topics: a.app.topics.clone(),
        discussion: a.app.discussion.clone(),
        desk: a.app.desk.clone(),
        api_keys: a.app.api_keys.clone(),
        attachments: a.app.attachments.clone(),
    };
    let c = App::new(a.app.org.clone(), Calendar::builtin().clone(), adapters);
    c.set_calendar_refresh(Duration::ZERO);
    c.set_recompute_chunk(10);
    let first = receive_one(q.as_ref(), visibility).await;
    assert!(c.take_job(&first.body).await.is_err(), "the next chunk was not queued");
    tokio::time::sleep(visibility + Duration::from_millis(200)).await;
    let again = receive_one(q.as_ref(), Duration::from_secs(30)).await;
    assert_eq!(again.body, first.body, "the interrupted chunk comes back");
    assert_eq!(
        b.app.take_job(&again.body).await.unwrap(),
        JobOutcome::Continued { recomputed: 0, failed: 0 },
        "done before"
    );
    q.delete(JOBS_QUEUE, &again.receipt).await.unwrap();
    // The second chunk, on instance a.
    let m = receive_one(q.as_ref(), visibility).await;
    assert_eq!(a.app.take_job(&m.body).await.unwrap(), JobOutcome::Continued { recomputed: 10, failed: 0 });
    q.delete(JOBS_QUEUE, &m.receipt).await.unwrap();

    // The third chunk: instance a dies after recomputing a few of its cases (done here as the job
    // does it, one case at a time) and before the message is finished or deleted.
    let second = receive_one(q.as_ref(), visibility).await;
    let mut done_before_crash = 0;
    for id in &ids {
        if done_before_crash == 2 {
            break;
        }
        if a.app.act(&Actor::system(), id, None, Command::RecomputeDeadline).await.is_ok() {
            done_before_crash += 1;
        }
    }
    assert_eq!(done_before_crash, 2);
    // Its visibility timeout passes; the queue hands the message out again, to instance b.
    tokio::time::sleep(visibility + Duration::from_millis(200)).await;
    let again = receive_one(q.as_ref(), Duration::from_secs(30)).await;
    assert_eq!(again.body, second.body, "the interrupted chunk comes back");
    let finished = b.app.take_job(&again.body).await.unwrap();
    assert_eq!(finished, JobOutcome::Finished { recomputed: 5 - 2, failed: 0, recorded: true });
    // Delivered once more (a consumer that died before deleting it): changes nothing, records nothing.
    assert_eq!(
        a.app.take_job(&again.body).await.unwrap(),
        JobOutcome::Finished { recomputed: 0, failed: 0, recorded: false }
    );
    q.delete(JOBS_QUEUE, &again.receipt).await.unwrap();

    for id in &ids {
        let events = a.app.store.events(id).await.unwrap();
        let n = events.iter().filter(|e| matches!(e.kind, EventKind::DeadlineRecomputed { .. })).count();
        assert_eq!(n, 1, "case {id} recomputed once");
        let case = a.app.store.get(id).await.unwrap().unwrap();
        assert!(!case.deadline.unwrap().provisional, "final once the notice is known");
    }
    let state = a.app.store.calendar_state().await.unwrap();
    assert_eq!((state.version, state.recomputed), (imported.version, imported.version));
}

/// The one job message waiting (checks on a shared queue may leave none behind).
async fn receive_one(q: &dyn HandoffQueue, visibility: Duration) -> mailbox_app::ports::Received {
    for _ in 0..50 {
        let mut got = q.receive(JOBS_QUEUE, 1, visibility).await.unwrap();
        if let Some(m) = got.pop() {
            return m;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no job message arrived")
}

/// One `#[tokio::test]` per two-instance check. `$make` is an async expression giving two
/// [`Backing`]s on the same fresh storage and a guard kept alive until the check ends.
#[macro_export]
macro_rules! instances_suite {
    ($make:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn query_code_limit_is_shared_by_instances() {
            let (a, b, _guard) = $make.await;
            let (a, b, _) = $crate::instances::pair(a, b, chrono::Utc::now()).await;
            $crate::instances::query_code_limit_is_shared(&a, &b).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn sign_in_lockout_is_shared_by_instances() {
            let (a, b, _guard) = $make.await;
            let (a, b, _) = $crate::instances::pair(a, b, chrono::Utc::now()).await;
            $crate::instances::sign_in_lockout_is_shared(&a, &b).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn calendar_import_reaches_the_other_instance() {
            let (a, b, _guard) = $make.await;
            let (a, b, clock) = $crate::instances::pair(a, b, $crate::instances::start()).await;
            $crate::instances::calendar_import_reaches_the_other_instance(&a, &b, &clock).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn recompute_job_survives_a_crash_and_finishes_once() {
            let (a, b, _guard) = $make.await;
            let (a, b, clock) = $crate::instances::pair(a, b, $crate::instances::start()).await;
            $crate::instances::recompute_job_survives_a_crash_and_finishes_once(&a, &b, clock).await;
        }
    };
}

/// The clock's start for the calendar checks: December 2026, before the 2027 notice.
pub fn start() -> DateTime<Utc> {
    t0()
}
