//! Checks of the `CaseStore` port.

use chrono::{DateTime, Duration, Utc};
use mailbox_app::ports::{
    CasePage, CaseQuery, CaseStore, CreateOutcome, IdempotencyRecord, Notification, Numbering, Scope, StoreError,
};
use mailbox_app::published::ReplyQuery;
use mailbox_domain::case::{Case, Citizen};
use mailbox_domain::deadline::DeadlineClass;
use mailbox_domain::events::DomainEvent;
use mailbox_domain::mask::MASK_RULES;
use mailbox_domain::stats::counter_deltas;
use mailbox_domain::workflow::{AuditEvent, Command, Context, NewCase};
use mailbox_domain::{
    Actor, Calendar, CaseId, CaseNumber, CaseStatus, DispatchMode, Kind, MailboxId, Organisation, Role, UnitId,
};
use rand::Rng;
use std::sync::OnceLock;

fn org() -> &'static Organisation {
    static ORG: OnceLock<Organisation> = OnceLock::new();
    ORG.get_or_init(Organisation::guangan)
}

fn token() -> String {
    hex::encode(rand::thread_rng().gen::<[u8; 6]>())
}

fn at(days: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-02T02:00:00Z").unwrap().with_timezone(&Utc) + Duration::days(days)
}

fn ctx(now: DateTime<Utc>) -> Context<'static> {
    Context { org: org(), calendar: Calendar::builtin(), now }
}

/// A new case with a unique id and number, submitted `day` days after 2026-11-02.
fn new_case(mailbox: &str, day: i64) -> (Case, AuditEvent) {
    let t = token();
    let new = NewCase {
        mailbox: MailboxId::new(mailbox),
        kind: Kind::Complaint,
        title: format!("测试留言 {t}"),
        body: "内容".into(),
        citizen: Citizen { name: "张三".into(), phone: "13812345678".into() },
        publishable: true,
    };
    Case::submit(&ctx(at(day)), CaseId::new(format!("c-{t}")), CaseNumber::new(format!("T{t}")), "digest".into(), new)
        .unwrap()
}

async fn create<S: CaseStore>(store: &S, mailbox: &str, day: i64) -> Case {
    let (case, event) = new_case(mailbox, day);
    let outcome =
        store.create(&case, &event, &domain(&case, &event), &counter_deltas(None, &case), None, None).await.unwrap();
    assert_eq!(outcome, CreateOutcome::Created(case.number.clone()));
    case
}

/// Applies `cmd` and writes it; returns the new case.
async fn step<S: CaseStore>(store: &S, case: &Case, actor: &Actor, cmd: Command, day: i64) -> Case {
    let mut next = case.clone();
    let events = next.apply(&ctx(at(day)), actor, cmd).unwrap();
    // As the application does: a published case carries its masked text.
    mailbox_app::published::refresh(&mut next);
    store
        .update(&next, case, &events, &domains(&next, &events), &counter_deltas(Some(case), &next), &[])
        .await
        .unwrap();
    next
}

fn dispatcher() -> Actor {
    Actor::staff("d", Role::Dispatcher, Some(UnitId::new("city-xfj")))
}

fn handler(unit: &str) -> Actor {
    Actor::staff("h", Role::Handler, Some(UnitId::new(unit)))
}

/// A mayor's-mailbox case transferred to `lead` with a co-handler, received on `day`.
async fn in_progress<S: CaseStore>(store: &S, lead: &str, co: &str, day: i64) -> Case {
    received(store, DispatchMode::Transfer, lead, co, day).await
}

/// A mayor's-mailbox case dispatched to `lead` with a co-handler, received on `day`.
async fn received<S: CaseStore>(store: &S, mode: DispatchMode, lead: &str, co: &str, day: i64) -> Case {
    let case = create(store, "mayor", day).await;
    let case = step(store, &case, &dispatcher(), Command::Accept, day).await;
    let dispatch = Command::Dispatch {
        mode,
        lead: UnitId::new(lead),
        co_handlers: vec![UnitId::new(co)],
        class: DeadlineClass::Simple,
        special_days: None,
    };
    let case = step(store, &case, &dispatcher(), dispatch, day).await;
    step(store, &case, &handler(lead), Command::Receive, day).await
}

async fn replied<S: CaseStore>(store: &S, lead: &str, day: i64, public: bool) -> Case {
    let case = in_progress(store, lead, "water", day).await;
    step(store, &case, &handler(lead), Command::Reply { text: "已处理，联系电话13812345678".into(), public }, day + 1)
        .await
}

/// `GET /readyz`: a store that answers is ready, before and after it holds anything.
pub async fn a_reachable_store_is_ready<S: CaseStore>(store: &S) {
    store.ready().await.unwrap();
    store.ready().await.unwrap();
}

pub async fn create_then_read<S: CaseStore>(store: &S) {
    let case = create(store, "mayor", 0).await;
    assert_eq!(store.get(&case.id).await.unwrap().as_ref(), Some(&case));
    assert_eq!(store.get_by_number(&case.number).await.unwrap().as_ref(), Some(&case));
    assert_eq!(store.get(&CaseId::new("c-missing")).await.unwrap(), None);
    assert_eq!(store.get_by_number(&CaseNumber::new("T-missing")).await.unwrap(), None);
    let events = store.events(&case.id).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].seq, 1);
}

pub async fn idempotent_create<S: CaseStore>(store: &S) {
    let at = chrono::Utc::now();
    let record = IdempotencyRecord {
        key_digest: format!("key-{}", token()),
        fingerprint: "f1".into(),
        sealed_code: "SEALED1".into(),
        created_at: at,
    };
    let (first, event) = new_case("mayor", 0);
    let counters = counter_deltas(None, &first);
    assert_eq!(
        store.create(&first, &event, &domain(&first, &event), &counters, Some(&record), None).await.unwrap(),
        CreateOutcome::Created(first.number.clone())
    );
    let expected = CreateOutcome::Existing { case: Box::new(first.clone()), sealed_code: "SEALED1".into() };
    // A retry builds a new case (with another id); the store answers with the first.
    let (retry, retry_event) = new_case("mayor", 0);
    assert_eq!(
        store
            .create(
                &retry,
                &retry_event,
                &domain(&retry, &retry_event),
                &counter_deltas(None, &retry),
                Some(&record),
                None
            )
            .await
            .unwrap(),
        expected
    );
    assert_eq!(store.get(&retry.id).await.unwrap(), None, "the retry stored nothing");
    let other = IdempotencyRecord { fingerprint: "f2".into(), ..record.clone() };
    let (third, third_event) = new_case("mayor", 0);
    assert_eq!(
        store.create(&third, &third_event, &domain(&third, &third_event), &[], Some(&other), None).await.unwrap(),
        CreateOutcome::KeyReused
    );
    assert_eq!(store.get(&third.id).await.unwrap(), None);
    // A day later the record has lapsed (whether or not it was removed yet): the key is new again.
    let later = IdempotencyRecord { created_at: record.expires_at(), ..other };
    let (fourth, fourth_event) = new_case("mayor", 0);
    assert_eq!(
        store.create(&fourth, &fourth_event, &domain(&fourth, &fourth_event), &[], Some(&later), None).await.unwrap(),
        CreateOutcome::Created(fourth.number.clone())
    );
    assert!(store.get(&fourth.id).await.unwrap().is_some());
}

pub async fn stale_update_changes_nothing<S: CaseStore>(store: &S) {
    let case = create(store, "mayor", 0).await;
    let prefix = mailbox_domain::stats::Cell::of(&case).key();
    let before_counters = store.counters(&prefix).await.unwrap();
    let accepted = step(store, &case, &dispatcher(), Command::Accept, 0).await;
    assert_eq!(accepted.version, case.version + 1);
    // Someone writes over the old version again.
    let mut stale = case.clone();
    let events = stale.apply(&ctx(at(0)), &dispatcher(), Command::Reject { reason: "重复".into() }).unwrap();
    let err = store
        .update(&stale, &case, &events, &domains(&stale, &events), &counter_deltas(Some(&case), &stale), &[])
        .await
        .expect_err("stale version is refused");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    // The version check alone refuses it, even when no event number collides.
    let err = store.update(&stale, &case, &[], &[], &[], &[]).await.expect_err("stale version is refused");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(store.get(&case.id).await.unwrap().unwrap(), accepted);
    assert_eq!(store.events(&case.id).await.unwrap().len(), 2, "the refused write added no event");
    let submitted_cell = store.counters(&prefix).await.unwrap();
    assert_eq!(
        submitted_cell.iter().map(|(_, v)| v).sum::<i64>(),
        before_counters.iter().map(|(_, v)| v).sum::<i64>() - 1
    );
}

pub async fn concurrent_updates_one_wins<S: CaseStore>(store: &S) {
    let case = create(store, "mayor", 0).await;
    let mut a = case.clone();
    let ea = a.apply(&ctx(at(0)), &dispatcher(), Command::Accept).unwrap();
    let mut b = case.clone();
    let eb = b.apply(&ctx(at(0)), &dispatcher(), Command::Reject { reason: "广告".into() }).unwrap();
    let (ca, cb) = (counter_deltas(Some(&case), &a), counter_deltas(Some(&case), &b));
    let (da, db) = (domains(&a, &ea), domains(&b, &eb));
    let (ra, rb) =
        tokio::join!(store.update(&a, &case, &ea, &da, &ca, &[]), store.update(&b, &case, &eb, &db, &cb, &[]),);
    assert_eq!(ra.is_ok() as u8 + rb.is_ok() as u8, 1, "exactly one wins: {ra:?} {rb:?}");
    let stored = store.get(&case.id).await.unwrap().unwrap();
    assert_eq!(stored, if ra.is_ok() { a } else { b });
    assert_eq!(store.events(&case.id).await.unwrap().len(), 2);
}

pub async fn duplicate_event_is_refused<S: CaseStore>(store: &S) {
    let case = create(store, "mayor", 0).await;
    let mut next = case.clone();
    let mut events = next.apply(&ctx(at(0)), &dispatcher(), Command::Accept).unwrap();
    events[0].seq = 1; // already taken by the submission
    let err =
        store.update(&next, &case, &events, &domains(&next, &events), &[], &[]).await.expect_err("duplicate event");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(store.get(&case.id).await.unwrap().unwrap(), case, "nothing of the write remains");
}

pub async fn list_by_scope_status_and_due<S: CaseStore>(store: &S) {
    // Unique units are not available, so look only at our own cases among whatever the store holds.
    let late = in_progress(store, "transport", "water", 0).await;
    let early = in_progress(store, "transport", "health", -3).await;
    let waiting = create(store, "mayor", 0).await;
    let ours = |cases: Vec<Case>| -> Vec<CaseId> {
        cases.into_iter().map(|c| c.id).filter(|id| [&late.id, &early.id, &waiting.id].contains(&id)).collect()
    };
    let q = |scope, statuses| CaseQuery { scope, statuses, limit: 100_000, ..CaseQuery::default() };
    let list = |q: CaseQuery| async move { store.list(&q).await.unwrap().cases };
    let transport = ours(list(q(Scope::Handler(UnitId::new("transport")), vec![])).await);
    assert_eq!(transport, vec![early.id.clone(), late.id.clone()], "earliest deadline first");
    let health = ours(list(q(Scope::Handler(UnitId::new("health")), vec![])).await);
    assert_eq!(health, vec![early.id.clone()], "co-handlers see the case too");
    let dispatcher = ours(list(q(Scope::Dispatcher(UnitId::new("city-xfj")), vec![])).await);
    assert_eq!(
        dispatcher,
        vec![early.id.clone(), late.id.clone(), waiting.id.clone()],
        "cases without a deadline last"
    );
    let submitted = ours(list(q(Scope::All, vec![CaseStatus::Submitted])).await);
    assert_eq!(submitted, vec![waiting.id.clone()]);
    let none = ours(list(q(Scope::Dispatcher(UnitId::new("linshui-xfj")), vec![])).await);
    assert!(none.is_empty());
}

pub async fn recent_lists_a_dispatchers_cases_newest_first<S: CaseStore>(store: &S) {
    // A dispatcher of its own, so cases of checks running beside this one do not count.
    let unit = UnitId::new(format!("recent-{}", token()));
    let mut cases = Vec::new();
    for day in [0, 5, 2, 2] {
        let (mut case, event) = new_case("mayor", day);
        case.dispatcher = unit.clone();
        store.create(&case, &event, &domain(&case, &event), &counter_deltas(None, &case), None, None).await.unwrap();
        cases.push(case);
    }
    // Two cases of day 2 share their millisecond: the larger id first, on every adapter.
    let (day5, mut day2) = (cases[1].id.clone(), vec![cases[2].id.clone(), cases[3].id.clone()]);
    day2.sort_by(|a, b| b.as_str().cmp(a.as_str()));
    let listed = |found: Vec<Case>| found.into_iter().map(|c| c.id).collect::<Vec<_>>();
    let end = CaseId::new("c-~");
    let later = (at(30), &end);
    let all = listed(store.recent(&unit, later, 10).await.unwrap());
    assert_eq!(all, vec![day5.clone(), day2[0].clone(), day2[1].clone(), cases[0].id.clone()], "newest first");
    let two = listed(store.recent(&unit, later, 2).await.unwrap());
    assert_eq!(two, vec![day5.clone(), day2[0].clone()], "the limit keeps the newest");
    // A case itself, then its predecessors: nothing after it.
    let through_day5 = listed(store.recent(&unit, (cases[1].submitted_at, &cases[1].id), 10).await.unwrap());
    assert_eq!(through_day5, vec![day5.clone(), day2[0].clone(), day2[1].clone(), cases[0].id.clone()]);
    let tied = cases.iter().find(|c| c.id == day2[0]).unwrap();
    let through_tied = listed(store.recent(&unit, (tied.submitted_at, &tied.id), 10).await.unwrap());
    assert_eq!(
        through_tied,
        vec![day2[0].clone(), day2[1].clone(), cases[0].id.clone()],
        "same millisecond: the smaller id came first"
    );
    // Another dispatcher's cases are not listed.
    let (other, event) = new_case("mayor", 9);
    store.create(&other, &event, &domain(&other, &event), &counter_deltas(None, &other), None, None).await.unwrap();
    assert_eq!(listed(store.recent(&unit, later, 10).await.unwrap()).len(), 4);
    assert!(store.recent(&UnitId::new(format!("nobody-{}", token())), later, 10).await.unwrap().is_empty());
}

pub async fn alarms_due_reads_only_cases_with_a_due_alarm<S: CaseStore>(store: &S) {
    let due = in_progress(store, "commerce", "water", -30).await;
    let answered = replied(store, "commerce", -30, false).await;
    let later = in_progress(store, "commerce", "water", 0).await;
    assert!(answered.next_alarm.is_none(), "a replied case has nothing left to watch");
    // Inclusive: the alarm is due at the very instant it is set for.
    let cut = due.next_alarm.expect("a case in progress has an alarm");
    assert!(later.next_alarm.unwrap() > cut);
    let found = store.alarms_due(cut, 100_000).await.unwrap();
    let ids: Vec<&CaseId> = found.iter().map(|c| &c.id).collect();
    assert!(ids.contains(&&due.id));
    assert!(!ids.contains(&&answered.id), "a replied case left the index");
    assert!(!ids.contains(&&later.id));
    assert!(found.iter().all(|c| c.next_alarm.is_some_and(|a| a <= cut)));
    assert!(found.windows(2).all(|w| w[0].next_alarm <= w[1].next_alarm));
}

pub async fn scan_pages_through_every_case<S: CaseStore>(store: &S) {
    let mine =
        [create(store, "mayor", 0).await.id, create(store, "mayor", 0).await.id, create(store, "mayor", 0).await.id];
    let mut seen = Vec::new();
    let mut after: Option<CaseId> = None;
    loop {
        let page = store.scan(after.as_ref(), 2).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 2);
        after = page.last().map(|c| c.id.clone());
        seen.extend(page.into_iter().map(|c| c.id));
    }
    for id in &mine {
        assert_eq!(seen.iter().filter(|s| *s == id).count(), 1, "{id} once");
    }
}

pub async fn notices_are_stored_by_year<S: CaseStore>(store: &S) {
    store.save_notice(2031, r#"{"year": 2031, "papers": ["a"], "days": []}"#).await.unwrap();
    store.save_notice(2031, r#"{"year": 2031, "papers": ["b"], "days": []}"#).await.unwrap();
    let stored = store.notices().await.unwrap();
    assert_eq!(stored.state, store.calendar_state().await.unwrap(), "the state comes with the notices");
    let ours: Vec<_> = stored.notices.iter().filter(|(y, _)| *y == 2031).collect();
    assert_eq!(ours.len(), 1, "a year's notice is replaced, not added");
    assert!(ours[0].1.contains("\"b\""));
}

/// A page of published replies, every page walked (bounded: a store may answer short pages).
async fn all_published<S: CaseStore>(store: &S, mut query: ReplyQuery) -> Vec<CaseId> {
    let mut found = Vec::new();
    for _ in 0..50 {
        let page = store.published(&query).await.unwrap();
        assert!(page.items.len() <= query.limit);
        found.extend(page.items.iter().map(|c| c.id.clone()));
        match page.next {
            Some(next) => query.after = Some(next),
            None => return found,
        }
    }
    panic!("pages never end: {found:?}");
}

fn words(q: &str) -> Vec<String> {
    let words = mailbox_app::published::query_words(q);
    assert!(!words.is_empty(), "{q} has terms to search");
    words
}

/// A case of `mailbox` replied publicly on `day` (its citizen agreed to publication or not).
async fn published_case<S: CaseStore>(store: &S, title: &str, body: &str, day: i64, publishable: bool) -> Case {
    let (mut case, event) = new_case("mayor", day);
    case.title = title.into();
    case.body = body.into();
    case.publishable = publishable;
    store.create(&case, &event, &domain(&case, &event), &counter_deltas(None, &case), None, None).await.unwrap();
    let d = dispatcher();
    let case = step(store, &case, &d, Command::Accept, day).await;
    let cmd = Command::Dispatch {
        mode: DispatchMode::Transfer,
        lead: UnitId::new("education"),
        co_handlers: vec![],
        class: DeadlineClass::Simple,
        special_days: None,
    };
    let case = step(store, &case, &d, cmd, day).await;
    let h = handler("education");
    let case = step(store, &case, &h, Command::Receive, day).await;
    step(store, &case, &h, Command::Reply { text: "问题已修复，联系电话13812345678".into(), public: publishable }, day)
        .await
}

/// Published replies: found by every word (title, message or reply), by mailbox, replying unit,
/// month and featured mark; masked; never the unpublished; withdrawn when reopened.
pub async fn published_replies_are_searched_filtered_and_withdrawn<S: CaseStore>(store: &S) {
    let lamp = published_case(store, "路灯不亮", "小区门口路灯坏了一个月，我叫张三", 1, true).await;
    let water = published_case(store, "积水严重", "路灯下面积水很深", 0, true).await;
    let private = published_case(store, "路灯不亮了", "路灯坏了", 0, false).await;
    let unrelated = published_case(store, "噪音扰民", "工地夜间施工", 0, true).await;
    assert!(private.published.is_none());
    let text = lamp.published.as_ref().expect("published with its masked text");
    assert!(!text.reply.contains("13812345678") && !text.body.contains("张三"), "{text:?}");
    let base = ReplyQuery { limit: 10, ..ReplyQuery::default() };
    let q = |w: &str| ReplyQuery { words: words(w), ..base.clone() };
    // The title match, then the other (also newest first: `water` was replied a day earlier).
    assert_eq!(all_published(store, q("路灯")).await, [lamp.id.clone(), water.id.clone()]);
    assert_eq!(all_published(store, q("路灯 积水")).await, std::slice::from_ref(&water.id));
    assert_eq!(all_published(store, q("修复")).await.len(), 3, "the reply's words count");
    assert!(all_published(store, q("13812345678")).await.is_empty(), "masked text only");
    assert!(all_published(store, q("张三")).await.is_empty(), "masked text only");
    assert_eq!(all_published(store, base.clone()).await.len(), 3);
    let by = |f: fn(&mut ReplyQuery)| {
        let mut query = q("路灯");
        f(&mut query);
        query
    };
    assert!(all_published(store, by(|q| q.mailbox = Some(MailboxId::new("linshui-head")))).await.is_empty());
    assert_eq!(all_published(store, by(|q| q.mailbox = Some(MailboxId::new("mayor")))).await.len(), 2);
    assert_eq!(all_published(store, by(|q| q.unit = Some(UnitId::new("education")))).await.len(), 2);
    assert!(all_published(store, by(|q| q.unit = Some(UnitId::new("water")))).await.is_empty());
    assert!(all_published(store, by(|q| q.span = mailbox_app::published::month_span("2020-01"))).await.is_empty());
    assert_eq!(all_published(store, by(|q| q.span = mailbox_app::published::month_span("2026-11"))).await.len(), 2);
    assert!(all_published(store, by(|q| q.featured_only = true)).await.is_empty());
    let featured = step(store, &unrelated, &dispatcher(), Command::Feature { note: "处理及时".into() }, 2).await;
    let mut query = base.clone();
    query.featured_only = true;
    assert_eq!(all_published(store, query).await, std::slice::from_ref(&featured.id));
    // Reopened: its reply goes back to work, and off the public list.
    let citizen = Actor::citizen(lamp.id.clone());
    let rated = step(store, &lamp, &citizen, Command::Rate { satisfied: false, comment: "没有解决".into() }, 3).await;
    let reopened = step(store, &rated, &dispatcher(), Command::Reopen { reason: "未解决".into() }, 3).await;
    assert!(reopened.published.is_none());
    assert_eq!(all_published(store, q("路灯")).await, std::slice::from_ref(&water.id));
    assert!(store.stale_published(MASK_RULES, 10).await.unwrap().is_empty());
}

/// Pages of published replies never repeat nor skip one, whatever the page size.
pub async fn published_pages_continue_without_repeats<S: CaseStore>(store: &S) {
    let mut made = Vec::new();
    for i in 0..7 {
        made.push(published_case(store, &format!("路灯问题{i}"), "路灯坏了", i % 3, true).await.id);
    }
    for limit in [1, 2, 3, 7, 10] {
        let mut found = all_published(store, ReplyQuery { words: words("路灯"), limit, ..ReplyQuery::default() }).await;
        assert_eq!(found.len(), 7, "limit {limit}: {found:?}");
        found.sort();
        found.dedup();
        assert_eq!(found.len(), 7, "no repeats at limit {limit}");
    }
    let browse = all_published(store, ReplyQuery { limit: 2, ..ReplyQuery::default() }).await;
    let mut sorted = browse.clone();
    sorted.sort();
    made.sort();
    assert_eq!(sorted, made);
}

/// Cases published before their text was masked at publication (or masked by older rules) are the
/// re-masking job's; once written with their text they are not.
pub async fn stale_publications_are_found_until_masked<S: CaseStore>(store: &S) {
    let case = published_case(store, "路灯不亮", "路灯坏了", 0, true).await;
    let mut old = case.clone();
    old.published = None;
    store.update(&old, &case, &[], &[], &[], &[]).await.unwrap();
    assert!(all_published(store, ReplyQuery { words: words("路灯"), limit: 5, ..ReplyQuery::default() })
        .await
        .is_empty());
    let stale = store.stale_published(MASK_RULES, 10).await.unwrap();
    assert_eq!(stale.iter().map(|c| &c.id).collect::<Vec<_>>(), [&case.id]);
    let mut fixed = stale[0].clone();
    mailbox_app::published::refresh(&mut fixed);
    store.update(&fixed, &old, &[], &[], &[], &[]).await.unwrap();
    assert!(store.stale_published(MASK_RULES, 10).await.unwrap().is_empty());
    assert!(!store.stale_published(MASK_RULES + 1, 10).await.unwrap().is_empty(), "newer rules make it stale again");
    assert_eq!(
        all_published(store, ReplyQuery { words: words("路灯"), limit: 5, ..ReplyQuery::default() }).await,
        [case.id]
    );
}

pub async fn counters_by_prefix<S: CaseStore>(store: &S) {
    let case = create(store, "mayor", 0).await;
    let key = mailbox_domain::stats::Cell::of(&case).key();
    let before: i64 = store.counters(&key).await.unwrap().iter().map(|(_, v)| v).sum();
    let _ = create(store, "mayor", 0).await;
    let after = store.counters(&key).await.unwrap();
    assert_eq!(after.iter().map(|(_, v)| v).sum::<i64>(), before + 1);
    assert!(after.iter().all(|(k, _)| k.starts_with(&key)));
    assert!(store.counters(&format!("no-such-prefix-{}", token())).await.unwrap().is_empty());
}

/// Numbered creates: each case takes the sequence's next value in its own write — at once from
/// many callers, no number twice and none skipped; a retry with an idempotency key and a refused
/// create take none.
pub async fn numbers_are_taken_with_the_case_without_gaps<S: CaseStore>(store: &S) {
    let t = token();
    let numbering = Numbering { sequence: format!("seq-{t}"), prefix: format!("N{t}-") };
    let made: Vec<(Case, AuditEvent)> = (0..12).map(|_| new_case("mayor", 0)).collect();
    let creates = made.iter().map(|(case, event)| {
        let (domain, counters) = (domain(case, event), counter_deltas(None, case));
        let numbering = &numbering;
        async move { store.create(case, event, &domain, &counters, None, Some(numbering)).await }
    });
    let mut numbers = Vec::new();
    for outcome in futures::future::join_all(creates).await {
        match outcome.unwrap() {
            CreateOutcome::Created(number) => numbers.push(number),
            other => panic!("{other:?}"),
        }
    }
    for (case, _) in &made {
        let stored = store.get(&case.id).await.unwrap().expect("stored");
        assert!(numbers.contains(&stored.number), "stored under the number answered");
        assert_eq!(store.get_by_number(&stored.number).await.unwrap().map(|c| c.id), Some(case.id.clone()));
        assert_eq!(store.events(&case.id).await.unwrap().len(), 1, "its first audit event, once");
    }
    numbers.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    let expected: Vec<CaseNumber> = (1..=12).map(|v| numbering.number(v)).collect();
    assert_eq!(numbers, expected, "1 to 12, each once");

    // A retry of an idempotent create: the first case, and no number taken.
    let record = IdempotencyRecord {
        key_digest: format!("key-{}", token()),
        fingerprint: "f".into(),
        sealed_code: "S".into(),
        created_at: chrono::Utc::now(),
    };
    let (first, event) = new_case("mayor", 0);
    let created = store.create(&first, &event, &domain(&first, &event), &[], Some(&record), Some(&numbering)).await;
    assert_eq!(created.unwrap(), CreateOutcome::Created(numbering.number(13)));
    let stored_first = store.get(&first.id).await.unwrap().unwrap();
    assert_eq!(stored_first.number, numbering.number(13));
    let (retry, event) = new_case("mayor", 0);
    let replayed = store.create(&retry, &event, &domain(&retry, &event), &[], Some(&record), Some(&numbering)).await;
    assert_eq!(replayed.unwrap(), CreateOutcome::Existing { case: Box::new(stored_first), sealed_code: "S".into() });
    assert_eq!(store.get(&retry.id).await.unwrap(), None, "the retry stored nothing");
    // The key used for another request: refused, no number taken.
    let reused = IdempotencyRecord { fingerprint: "other".into(), ..record.clone() };
    let (other, event) = new_case("mayor", 0);
    let refused = store.create(&other, &event, &domain(&other, &event), &[], Some(&reused), Some(&numbering)).await;
    assert_eq!(refused.unwrap(), CreateOutcome::KeyReused);
    // A case that exists already is refused, and takes no number either.
    let (again, event) = (store.get(&made[0].0.id).await.unwrap().unwrap(), made[0].1.clone());
    let refused = store.create(&again, &event, &domain(&again, &event), &[], None, Some(&numbering)).await;
    assert!(matches!(refused, Err(StoreError::Conflict(_))), "{refused:?}");
    let (next, event) = new_case("mayor", 0);
    let created = store.create(&next, &event, &domain(&next, &event), &[], None, Some(&numbering)).await;
    assert_eq!(created.unwrap(), CreateOutcome::Created(numbering.number(14)), "no gap");
    let stored = store.get(&next.id).await.unwrap().unwrap();
    assert_eq!(stored.number, numbering.number(14));
    // Once the key's record has lapsed, it is new again: a new case with the next number.
    let lapsed = IdempotencyRecord { created_at: record.expires_at(), ..reused };
    let (later, event) = new_case("mayor", 0);
    let created = store.create(&later, &event, &domain(&later, &event), &[], Some(&lapsed), Some(&numbering)).await;
    assert_eq!(created.unwrap(), CreateOutcome::Created(numbering.number(15)));
    // (That the domain event stored with the case names its number is checked where each
    // deployment reads them: the SQLite outbox test and the Lambda flow test on DynamoDB.)
}

pub async fn notifications_are_deduplicated<S: CaseStore>(store: &S) {
    let case = create(store, "mayor", 0).await;
    let unit = UnitId::new(format!("unit-{}", token()));
    let n = Notification {
        key: format!("n-{}", token()),
        unit: unit.clone(),
        subject: "新转办留言".into(),
        body: "请签收".into(),
        created_at: at(0),
        topic: Default::default(),
    };
    let mut next = case.clone();
    let events = next.apply(&ctx(at(0)), &dispatcher(), Command::Accept).unwrap();
    store.update(&next, &case, &events, &domains(&next, &events), &[], std::slice::from_ref(&n)).await.unwrap();
    let listed = store.notifications(Some(&unit), None, 10).await.unwrap().items;
    assert_eq!(listed, vec![n.clone()]);
    // A later write carrying the same notification (a retried delivery) keeps one.
    let mut supervised = next.clone();
    let supervisor = Actor::staff("s", Role::Supervisor, Some(UnitId::new("city-gov-office")));
    let events = supervised.apply(&ctx(at(0)), &supervisor, Command::Supervise { note: String::new() }).unwrap();
    store
        .update(&supervised, &next, &events, &domains(&supervised, &events), &[], std::slice::from_ref(&n))
        .await
        .unwrap();
    assert_eq!(store.notifications(Some(&unit), None, 10).await.unwrap().items.len(), 1);
}

pub async fn calendar_versions_rise_and_recompute_finishes_once<S: CaseStore>(store: &S) {
    let before = store.calendar_state().await.unwrap();
    let v1 = store.save_notice(2032, r#"{"year": 2032, "papers": ["a"], "days": []}"#).await.unwrap();
    assert_eq!(v1, before.version + 1);
    let v2 = store.save_notice(2032, r#"{"year": 2032, "papers": ["b"], "days": []}"#).await.unwrap();
    assert_eq!(v2, v1 + 1, "every import raises the version, even of a year stored before");
    assert_eq!(store.calendar_state().await.unwrap().version, v2);
    assert!(store.finish_recompute(v1).await.unwrap());
    assert!(!store.finish_recompute(v1).await.unwrap(), "the end of a version's recomputation is recorded once");
    assert!(store.finish_recompute(v2).await.unwrap());
    assert!(!store.finish_recompute(v1).await.unwrap(), "an older version never goes back over a newer one");
    assert_eq!(
        store.calendar_state().await.unwrap(),
        mailbox_app::ports::CalendarState { version: v2, recomputed: v2 }
    );
}

/// The recomputation job's walk: every case with a running deadline exactly once, in pages, also
/// when cases change status or deadline while the walk goes on; no case without one.
pub async fn running_deadlines_walks_each_running_case_once<S: CaseStore>(store: &S) {
    let mut running = Vec::new();
    for day in 0..7 {
        running.push(received(store, DispatchMode::Assign, "transport", "water", day).await);
    }
    let waiting = create(store, "mayor", 0).await;
    let done = replied(store, "education", 0, true).await;
    let mut seen: Vec<CaseId> = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = store.running_deadlines(after.as_deref(), 3).await.unwrap();
        pages += 1;
        assert!(page.cases.len() <= 3);
        seen.extend(page.cases.iter().map(|c| c.id.clone()));
        if pages == 1 {
            // Meanwhile every case changes: reports move them to another status, extensions to
            // another deadline. None may be skipped or met twice because of it.
            for (i, case) in running.iter_mut().enumerate() {
                let actor = handler("transport");
                *case = if i % 2 == 0 {
                    step(store, case, &actor, Command::Report { text: "已办理".into() }, 2).await
                } else {
                    let asked = Command::RequestExtension { days: 3, reason: "需要协调".into() };
                    let asked = step(store, case, &actor, asked, 2).await;
                    let decide = Command::DecideExtension { approve: true, note: "同意".into() };
                    let later = step(store, &asked, &dispatcher(), decide, 2).await;
                    assert_ne!(later.deadline, case.deadline, "the approved extension moves the deadline");
                    later
                };
            }
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
        assert!(pages < 100, "the walk ends");
    }
    for case in &running {
        assert_eq!(seen.iter().filter(|id| **id == case.id).count(), 1, "{} once", case.id);
    }
    assert!(!seen.contains(&waiting.id), "a case not yet received has no running deadline");
    assert!(!seen.contains(&done.id), "a replied case has no running deadline");
    assert!(pages >= 3, "pages of 3");
}

/// Notifications are read newest first in pages with a cursor: every one once, in order, ties in
/// time ordered by key.
pub async fn notifications_page_newest_first<S: CaseStore + mailbox_app::ports::Notifier>(store: &S) {
    use mailbox_app::ports::NotificationPage;
    let unit = UnitId::new(format!("unit-{}", token()));
    let note = |i: i64, key: &str| Notification {
        key: format!("{key}-{}", token()),
        unit: unit.clone(),
        subject: format!("通知{i}"),
        body: "留言编号 GA1".into(),
        created_at: at(i.min(3)),
        topic: Default::default(),
    };
    // Times 0, 1, 2, 3, 3 (the last two at the same moment).
    let notes: Vec<Notification> = (0..5).map(|i| note(i, if i == 4 { "b" } else { "a" })).collect();
    store.notify(&notes).await.unwrap();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = store.notifications(Some(&unit), cursor.as_deref(), 2).await.unwrap();
        assert!(page.items.len() <= 2);
        pages += 1;
        seen.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let mut expected = notes.clone();
    expected.sort_by(|a, b| NotificationPage::cursor(b).cmp(&NotificationPage::cursor(a)));
    assert_eq!(seen, expected, "each once, newest first");
    let all = store.notifications(Some(&unit), None, 50).await.unwrap();
    assert_eq!((all.items.len(), all.next), (5, None));
}

/// A mayor's-mailbox case with `title`, transferred to `lead` (with `co`) and received
/// on `day`: its deadline runs.
async fn titled<S: CaseStore>(store: &S, title: &str, lead: &str, co: &str, day: i64) -> Case {
    let (mut case, event) = new_case("mayor", day);
    case.title = title.into();
    store.create(&case, &event, &domain(&case, &event), &counter_deltas(None, &case), None, None).await.unwrap();
    let d = dispatcher();
    let case = step(store, &case, &d, Command::Accept, day).await;
    let dispatch = Command::Dispatch {
        mode: DispatchMode::Transfer,
        lead: UnitId::new(lead),
        co_handlers: vec![UnitId::new(co)],
        class: DeadlineClass::Simple,
        special_days: None,
    };
    let case = step(store, &case, &d, dispatch, day).await;
    step(store, &case, &handler(lead), Command::Receive, day).await
}

/// Every case of a filtered list, walked a page at a time (a store may give short pages).
async fn walk<S: CaseStore>(store: &S, mut q: CaseQuery) -> Vec<CaseId> {
    let mut out = Vec::new();
    for _ in 0..100 {
        let page = store.list(&q).await.unwrap();
        assert!(page.cases.len() <= q.limit);
        out.extend(page.cases.into_iter().map(|c| c.id));
        match page.next {
            Some(next) => q.after = Some(next),
            None => return out,
        }
    }
    panic!("pages never end: {out:?}");
}

/// Lists filtered by title terms (the masked title for supervisors), handling unit and deadline
/// range, in list order, a page at a time, every match once.
pub async fn lists_filter_by_title_unit_and_deadline<S: CaseStore>(store: &S) {
    // Each check has a store of its own: these are the dispatcher's only cases.
    let unit = UnitId::new("city-xfj");
    let named = titled(store, "张三反映路灯不亮", "transport", "water", -6).await;
    let flooded = titled(store, "道路积水严重", "transport", "health", -3).await;
    let broken = titled(store, "路灯损坏", "water", "health", 0).await;
    let terms = |q: &str| mailbox_app::published::query_words(q);
    let base = CaseQuery { scope: Scope::Dispatcher(unit.clone()), limit: 1, ..CaseQuery::default() };
    let with = |f: &dyn Fn(&mut CaseQuery)| {
        let mut q = base.clone();
        f(&mut q);
        q
    };
    assert_eq!(walk(store, with(&|q| q.title_terms = terms("路灯"))).await, [named.id.clone(), broken.id.clone()]);
    assert_eq!(walk(store, with(&|q| q.title_terms = terms("道路 积水"))).await, std::slice::from_ref(&flooded.id));
    assert!(walk(store, with(&|q| q.title_terms = terms("路灯 积水"))).await.is_empty(), "every term");
    // The title as supervisors read it: the citizen's name masked, so not found by it.
    assert_eq!(walk(store, with(&|q| q.title_terms = terms("张三"))).await, std::slice::from_ref(&named.id));
    let masked = |q: &mut CaseQuery| {
        q.title_terms = terms("张三");
        q.masked_titles = true;
    };
    assert!(walk(store, with(&masked)).await.is_empty());
    let everyone = CaseQuery {
        scope: Scope::All,
        title_terms: terms("张三"),
        masked_titles: true,
        limit: 50,
        ..CaseQuery::default()
    };
    assert!(!walk(store, everyone).await.contains(&named.id));
    // Handling units: lead or co-handler.
    assert_eq!(
        walk(store, with(&|q| q.unit = Some(UnitId::new("health")))).await,
        [flooded.id.clone(), broken.id.clone()]
    );
    let handler_scope = CaseQuery {
        scope: Scope::Handler(UnitId::new("water")),
        title_terms: terms("路灯"),
        limit: 1,
        ..CaseQuery::default()
    };
    let water = walk(store, handler_scope).await;
    assert!(water.contains(&named.id) && water.contains(&broken.id) && !water.contains(&flooded.id), "{water:?}");
    // Deadline instants: up to the second one's.
    let due = |c: &Case| mailbox_app::ports::due_ms(c).unwrap();
    let (first, second) = (due(&named), due(&flooded));
    assert!(first < second && second < due(&broken));
    assert_eq!(walk(store, with(&|q| q.due = Some((first, second + 1)))).await, [named.id.clone(), flooded.id.clone()]);
    assert_eq!(walk(store, with(&|q| q.due = Some((second + 1, i64::MAX)))).await, std::slice::from_ref(&broken.id));
    // Together with statuses: the filters all apply.
    let mixed = with(&|q| {
        q.statuses = vec![CaseStatus::InProgress];
        q.title_terms = terms("路灯");
        q.unit = Some(UnitId::new("health"));
    });
    assert_eq!(walk(store, mixed).await, std::slice::from_ref(&broken.id));
}

/// Lists continue after a position (keyset pagination): every case once, in list order, whatever
/// the page size.
pub async fn lists_continue_after_a_position<S: CaseStore>(store: &S) {
    let unit = UnitId::new(format!("pages-{}", token()));
    let mut ids = Vec::new();
    for day in 0..5 {
        let (mut case, event) = new_case("mayor", day);
        case.dispatcher = unit.clone();
        store.create(&case, &event, &domain(&case, &event), &counter_deltas(None, &case), None, None).await.unwrap();
        ids.push(case.id);
    }
    ids.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    let mut seen = Vec::new();
    let mut after = None;
    for _ in 0..10 {
        let q = CaseQuery {
            scope: Scope::Dispatcher(unit.clone()),
            limit: 2,
            after: after.clone(),
            ..CaseQuery::default()
        };
        let page = store.list(&q).await.unwrap();
        assert!(page.cases.len() <= 2);
        after = page.next;
        seen.extend(page.cases.into_iter().map(|c| c.id));
        if after.is_none() {
            break;
        }
    }
    assert_eq!(seen, ids, "every case once, in order (no deadline: by id)");
    let q = CaseQuery {
        scope: Scope::Dispatcher(unit.clone()),
        statuses: vec![CaseStatus::Submitted],
        limit: 10,
        after: Some(format!("{}#{}", mailbox_app::ports::NO_DUE, ids[2])),
        ..CaseQuery::default()
    };
    assert_eq!(store.list(&q).await.unwrap().cases.into_iter().map(|c| c.id).collect::<Vec<_>>(), ids[3..].to_vec());
}

/// 紧急件 come first in lists while they wait for an answer — before cases due earlier — and pages
/// continue exactly after them; once answered (or refused) they take their ordinary place.
pub async fn urgent_cases_come_first_while_they_wait<S: CaseStore>(store: &S) {
    use mailbox_domain::triage::{TriageNote, UrgentFound};
    let unit = UnitId::new(format!("urgent-{}", token()));
    let mut cases = Vec::new();
    for day in 0..3 {
        let (mut case, event) = new_case("mayor", day);
        case.dispatcher = unit.clone();
        store.create(&case, &event, &domain(&case, &event), &counter_deltas(None, &case), None, None).await.unwrap();
        cases.push(case);
    }
    let note = TriageNote {
        domain: None,
        units: vec![],
        kind: None,
        jurisdiction: None,
        duplicates: vec![],
        invalid: None,
        personal_data: vec![],
        urgent: vec![UrgentFound { label: "燃气泄漏".into(), words: vec!["闻到煤气".into()] }],
        hot: None,
        fingerprint: String::new(),
        at: at(3),
    };
    let urgent = step(store, &cases[2], &Actor::system(), Command::RecordTriage { note: Box::new(note) }, 3).await;
    let list = |after: Option<String>, limit: usize| CaseQuery {
        scope: Scope::Dispatcher(unit.clone()),
        limit,
        after,
        ..CaseQuery::default()
    };
    let ids = |page: CasePage| page.cases.into_iter().map(|c| c.id).collect::<Vec<_>>();
    let mut by_id = vec![cases[0].id.clone(), cases[1].id.clone()];
    by_id.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    let expected: Vec<CaseId> = std::iter::once(urgent.id.clone()).chain(by_id.iter().cloned()).collect();
    assert_eq!(ids(store.list(&list(None, 10)).await.unwrap()), expected, "the urgent case first");
    let first = store.list(&list(None, 1)).await.unwrap();
    let after = first.cases.last().map(mailbox_app::ports::list_cursor);
    assert_eq!(first.next, after, "the next page starts after the last case");
    assert_eq!(ids(first), vec![urgent.id.clone()]);
    let rest = store.list(&list(after, 10)).await.unwrap();
    assert_eq!(ids(rest), by_id, "the next page continues after it, nothing twice");
    let its_dispatcher = Actor::staff("d", Role::Dispatcher, Some(unit.clone()));
    let refused = step(store, &urgent, &its_dispatcher, Command::Reject { reason: "重复留言".into() }, 4).await;
    let mut without_deadline = vec![cases[0].id.clone(), cases[1].id.clone(), refused.id.clone()];
    without_deadline.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    assert_eq!(
        ids(store.list(&list(None, 10)).await.unwrap()),
        without_deadline,
        "no longer waiting: back among the cases without a deadline, in id order"
    );
}

/// 并单: the cases merged into an original are found by its number, and leave the list when
/// un-merged.
pub async fn merged_cases_are_found_by_their_original<S: CaseStore>(store: &S) {
    let original = create(store, "mayor", 0).await;
    let first = create(store, "mayor", 1).await;
    let second = create(store, "mayor", 2).await;
    let merge = Command::Merge { into: original.number.clone() };
    let first = step(store, &first, &dispatcher(), merge.clone(), 3).await;
    step(store, &second, &dispatcher(), merge, 3).await;
    let mut expected = vec![first.id.clone(), second.id.clone()];
    expected.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    let ids = |cases: Vec<Case>| cases.into_iter().map(|c| c.id).collect::<Vec<_>>();
    assert_eq!(ids(store.merged_into(&original.number).await.unwrap()), expected);
    assert!(store.merged_into(&first.number).await.unwrap().is_empty());
    step(store, &first, &dispatcher(), Command::Unmerge, 4).await;
    assert_eq!(ids(store.merged_into(&original.number).await.unwrap()), vec![second.id.clone()]);
}

/// The domain event of an audit event, as the app builds it for the store.
fn domain(case: &Case, event: &AuditEvent) -> DomainEvent {
    DomainEvent::of(&Organisation::guangan(), case, event)
}

fn domains(case: &Case, events: &[AuditEvent]) -> Vec<DomainEvent> {
    DomainEvent::of_change(&Organisation::guangan(), case, events)
}

/// `by_number`: the case and its whole trail, as `get` and `events` read them.
pub async fn a_case_is_found_by_number_with_its_trail<S: CaseStore>(store: &S) {
    let case = create(store, "mayor", 0).await;
    let d = Actor::staff("d", Role::Dispatcher, Some(UnitId::new("city-xfj")));
    let accepted = step(store, &case, &d, Command::Accept, 0).await;
    let (found, trail) = store.by_number(&case.number).await.unwrap().expect("found by number");
    assert_eq!(found, accepted);
    assert_eq!(trail, store.events(&case.id).await.unwrap());
    assert_eq!(trail.len() as u64, found.events);
    assert_eq!(store.by_number(&CaseNumber::new(format!("T{}", token()))).await.unwrap(), None);
}

/// `update_releasing` gives back the attempts with the change, in its transaction: a change that
/// is refused (a stale version) gives back nothing.
pub async fn a_change_gives_back_attempts_in_its_transaction<S: CaseStore + mailbox_app::ports::AttemptStore>(
    store: &S,
) {
    let window = std::time::Duration::from_secs(15 * 60);
    let now = Utc::now();
    let (a, b) = (format!("qn:{}", token()), format!("qc:{}", token()));
    let keys = [a.clone(), b.clone()];
    assert!(store.take_all(&keys, 2, window, now).await.unwrap());
    let case = create(store, "mayor", 0).await;
    let mut next = case.clone();
    let d = Actor::staff("d", Role::Dispatcher, Some(UnitId::new("city-xfj")));
    let events = next.apply(&ctx(at(0)), &d, Command::Accept).unwrap();
    let domains = domains(&next, &events);
    // Stale: nothing written, nothing given back.
    let mut stale = case.clone();
    stale.version += 5;
    let err = store.update_releasing(&next, &stale, &events, &domains, &[], &[], &keys).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert!(store.take_all(&keys, 2, window, now).await.unwrap(), "second attempts");
    assert!(!store.take_all(&keys, 2, window, now).await.unwrap(), "at the limit: the refused change gave none back");
    store.update_releasing(&next, &case, &events, &domains, &[], &[], &keys).await.unwrap();
    assert_eq!(store.get(&case.id).await.unwrap().as_ref(), Some(&next));
    assert!(store.take_all(&keys, 2, window, now).await.unwrap(), "one given back under each key");
    assert!(!store.take_all(&keys, 2, window, now).await.unwrap());

    // A key with nothing to give back (its window ended meanwhile): the change is stored all the
    // same, the other key gets its attempt back, and the empty key no credit.
    let (c, empty) = (format!("qn:{}", token()), format!("qc:{}", token()));
    assert!(store.take(&c, 2, window, now).await.unwrap());
    let supervisor = Actor::staff("s", Role::Supervisor, Some(UnitId::new("city-gov-office")));
    let mut supervised = next.clone();
    let events = supervised.apply(&ctx(at(0)), &supervisor, Command::Supervise { note: String::new() }).unwrap();
    let released = [c.clone(), empty.clone()];
    let domains = self::domains(&supervised, &events);
    store.update_releasing(&supervised, &next, &events, &domains, &[], &[], &released).await.unwrap();
    assert_eq!(store.get(&case.id).await.unwrap(), Some(supervised));
    assert!(store.take(&c, 1, window, now).await.unwrap(), "c's attempt given back");
    for _ in 0..2 {
        assert!(store.take(&empty, 2, window, now).await.unwrap());
    }
    assert!(!store.take(&empty, 2, window, now).await.unwrap(), "nothing given back to a key with nothing counted");
}
