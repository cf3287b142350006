//! Property tests: random action sequences never break the workflow's invariants, and the
//! working-day arithmetic is monotone and always lands on a working day.

mod common;

use chrono::{Duration, NaiveDate};
use common::*;
use mailbox_domain::deadline::DeadlineClass;
use mailbox_domain::workflow::Command;
use mailbox_domain::{Actor, Calendar, Case, CaseStatus, Context, DispatchMode, Kind, UnitId};
use proptest::prelude::*;

/// `None`: the actor whose step the command normally is, so that sequences get deep into the
/// workflow; `Some(i)`: any actor, to exercise refusals.
fn arb_actor() -> impl Strategy<Value = Option<usize>> {
    prop_oneof![4 => Just(None), 1 => (0usize..7).prop_map(Some)]
}

fn natural_actor(command: &Command, case: &Case) -> Actor {
    let lead = case.lead().map(|u| handler(u.as_str()));
    let co = case.dispatch.as_ref().and_then(|d| d.co_handlers.first()).map(|u| handler(u.as_str()));
    let assigned = case.dispatch.as_ref().is_some_and(|d| d.mode == DispatchMode::Assign);
    match command {
        Command::Receive | Command::Return { .. } | Command::Report { .. } | Command::RequestExtension { .. } => lead,
        Command::Reply { .. } if !assigned => lead,
        Command::Contribute { .. } => co,
        Command::Rate { .. } => Some(Actor::citizen(case.id.clone())),
        Command::Supervise { .. } | Command::Feature { .. } => Some(supervisor()),
        Command::RecomputeDeadline | Command::ShareReply { .. } => Some(Actor::system()),
        _ => None,
    }
    .unwrap_or_else(city_dispatcher)
}

fn actor(i: usize, case: &Case) -> Actor {
    match i {
        0 => city_dispatcher(),
        1 => handler("transport"),
        2 => handler("water"),
        3 => handler("public-security"),
        4 => supervisor(),
        5 => Actor::citizen(case.id.clone()),
        _ => Actor::system(),
    }
}

/// Working days as a request may carry them: mostly plausible, sometimes absurd (near u32::MAX, where
/// unchecked sums wrap around into short deadlines).
fn arb_days() -> impl Strategy<Value = u32> {
    prop_oneof![6 => 0u32..70, 1 => any::<u32>(), 1 => (u32::MAX - 100)..=u32::MAX]
}

fn arb_command() -> impl Strategy<Value = Command> {
    let unit = prop_oneof![Just("transport"), Just("water"), Just("public-security"), Just("linshui-gov")];
    let text = prop_oneof![1 => Just(String::new()), 4 => Just("说明".to_string())];
    let class = prop_oneof![
        Just(DeadlineClass::Simple),
        Just(DeadlineClass::Standard),
        Just(DeadlineClass::Investigation),
        Just(DeadlineClass::Coordinated),
        Just(DeadlineClass::Special)
    ];
    let mode = prop_oneof![Just(DispatchMode::Assign), Just(DispatchMode::Transfer)];
    prop_oneof![
        3 => Just(Command::Accept),
        1 => text.clone().prop_map(|reason| Command::Reject { reason }),
        3 => (mode, unit.clone(), proptest::option::of(unit), class, proptest::option::of(arb_days())).prop_map(|(mode, lead, co, class, special_days)| {
            Command::Dispatch { mode, lead: UnitId::new(lead), co_handlers: co.into_iter().map(UnitId::new).collect(), class, special_days }
        }),
        3 => Just(Command::Receive),
        1 => text.clone().prop_map(|reason| Command::Return { reason }),
        1 => text.clone().prop_map(|text| Command::Contribute { text }),
        2 => text.clone().prop_map(|text| Command::Report { text }),
        3 => (text.clone(), any::<bool>()).prop_map(|(text, public)| Command::Reply { text, public }),
        1 => (arb_days(), text.clone()).prop_map(|(days, reason)| Command::RequestExtension { days, reason }),
        1 => (any::<bool>(), text.clone()).prop_map(|(approve, note)| Command::DecideExtension { approve, note }),
        1 => text.clone().prop_map(|note| Command::Urge { note }),
        1 => text.clone().prop_map(|note| Command::Supervise { note }),
        2 => (any::<bool>(), text.clone()).prop_map(|(satisfied, comment)| Command::Rate { satisfied, comment }),
        1 => text.clone().prop_map(|reason| Command::Reopen { reason }),
        1 => Just(Command::Close),
        1 => text.prop_map(|note| Command::Feature { note }),
        1 => Just(Command::RecomputeDeadline),
        1 => Just(Command::Merge { into: mailbox_domain::CaseNumber::new("GA202611010001") }),
        1 => Just(Command::Unmerge),
        1 => (text_reply(), any::<bool>()).prop_map(|(text, public)| Command::ShareReply {
            from: mailbox_domain::CaseNumber::new("GA202611010001"),
            reply: Box::new(mailbox_domain::case::Reply {
                unit: UnitId::new("transport"),
                text,
                public,
                at: at("2026-11-02T02:00:00Z"),
                on_time: true,
            }),
        }),
    ]
}

fn text_reply() -> impl Strategy<Value = String> {
    prop_oneof![Just("原留言的答复".to_string())]
}

fn check_invariants(case: &Case, calendar: &Calendar) {
    use CaseStatus as S;
    if case.status == S::Closed {
        assert!(case.reply.is_some(), "a closed case has a reply");
    }
    if case.status == S::Invalid {
        assert!(case.invalid_reason.is_some(), "an invalid case says why");
    }
    if matches!(case.status, S::Submitted | S::Accepted | S::Invalid) {
        assert!(case.dispatch.is_none() && case.deadline.is_none());
    }
    if matches!(case.status, S::InProgress | S::Reported) {
        assert!(case.dispatch.is_some() && case.deadline.is_some(), "{:?}", case.status);
    }
    if let Some(dl) = &case.deadline {
        assert!(calendar.is_working_day(dl.due_on) || dl.total_days() == 0, "deadline {} is a working day", dl.due_on);
        assert!(dl.total_days() <= 60, "never beyond 60 working days");
    }
    if let Some(r) = &case.reply {
        if r.public {
            assert!(case.publishable);
        }
    }
    assert!(case.extensions.iter().filter(|e| e.decision.is_none()).count() <= 1);
    assert_eq!(case.status == S::Merged, case.merged_into.is_some(), "merged exactly when it names its original");
    if case.status == S::Merged {
        assert!(case.next_alarm.is_none(), "a merged case's clock stands still");
    }
}

/// Random sequences, run by hand so the test can also check they reached every status: a property
/// that only ever saw the first two states would prove little.
#[test]
fn random_action_sequences_keep_the_invariants() {
    use proptest::test_runner::{Config, TestRunner};
    use std::cell::RefCell;
    let reached = RefCell::new(std::collections::HashSet::new());
    let mut runner = TestRunner::new(Config { cases: 500, ..Config::default() });
    let strategy = (any::<bool>(), proptest::collection::vec((arb_actor(), arb_command(), 0i64..72), 1..60));
    runner
        .run(&strategy, |(publishable, steps)| {
            let calendar = Calendar::builtin();
            let mut now = at("2026-11-02T02:00:00Z");
            let mut case = submit("mayor", Kind::Complaint, publishable, "2026-11-02T02:00:00Z");
            let mut trail = 1u64;
            for (who, command, hours) in steps {
                now += Duration::hours(hours);
                let ctx = Context { org: org(), calendar, now };
                let actor = match who {
                    Some(i) => actor(i, &case),
                    None => natural_actor(&command, &case),
                };
                let before = case.clone();
                match case.apply(&ctx, &actor, command) {
                    Ok(events) => {
                        prop_assert!(!events.is_empty(), "the audit trail grows by at least one event");
                        prop_assert_eq!(case.version, before.version + 1);
                        for e in &events {
                            trail += 1;
                            prop_assert_eq!(e.seq, trail);
                            prop_assert_eq!(&e.case, &case.id);
                        }
                    }
                    Err(_) => prop_assert_eq!(&case, &before, "a refused action changes nothing"),
                }
                prop_assert_eq!(case.events, trail);
                check_invariants(&case, calendar);
                reached.borrow_mut().insert(case.status);
            }
            Ok(())
        })
        .unwrap();
    let reached = reached.into_inner();
    for status in CaseStatus::ALL {
        assert!(reached.contains(&status), "random sequences never reached {status:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn more_working_days_never_end_earlier(
        offset in 0i64..(16 * 366),
        n in 0u32..120,
    ) {
        let calendar = Calendar::builtin();
        let start = NaiveDate::from_ymd_opt(2012, 1, 1).unwrap() + Duration::days(offset);
        let a = calendar.add_working_days(start, n).unwrap();
        let b = calendar.add_working_days(start, n + 1).unwrap();
        prop_assert!(b.end > a.end);
        prop_assert!(calendar.is_working_day(b.end));
        prop_assert_eq!(calendar.working_days_between(start, b.end), n + 1);
        // Every day strictly between start and the end is either counted or listed as skipped.
        let days = (b.end - start).num_days() as u32;
        prop_assert_eq!(days, n + 1 + b.skipped.len() as u32);
    }
}
