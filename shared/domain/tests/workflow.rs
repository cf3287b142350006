//! Every transition of the case workflow, and the illegal ones.

mod common;

use chrono::NaiveDate;
use common::*;
use mailbox_domain::deadline::DeadlineClass;
use mailbox_domain::workflow::{Command, EventKind, WorkflowError};
use mailbox_domain::{AccessError, Action, Actor, Case, CaseStatus, DispatchMode, JurisdictionId, Kind, UnitId};

fn transfer(lead: &str) -> Command {
    Command::Dispatch {
        mode: DispatchMode::Transfer,
        lead: UnitId::new(lead),
        co_handlers: vec![],
        class: DeadlineClass::Standard,
        special_days: None,
    }
}

fn apply(case: &mut Case, now: &str, actor: &Actor, cmd: Command) -> Vec<EventKind> {
    let before = case.clone();
    let events =
        case.apply(&ctx(now), actor, cmd.clone()).unwrap_or_else(|e| panic!("{cmd:?} by {:?} failed: {e}", actor.role));
    assert!(!events.is_empty());
    assert_eq!(case.version, before.version + 1);
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.seq, before.events + 1 + i as u64, "events are numbered without gaps");
    }
    events.into_iter().map(|e| e.kind).collect()
}

fn refuse(case: &mut Case, now: &str, actor: &Actor, cmd: Command) -> WorkflowError {
    let before = case.clone();
    let err = case.apply(&ctx(now), actor, cmd).expect_err("must be refused");
    assert_eq!(*case, before, "a refused command changes nothing");
    err
}

#[test]
fn transfer_life_from_submission_to_satisfied_rating() {
    // Monday 2026-11-23 10:00 in China.
    let mut case = submit("mayor", Kind::Complaint, true, "2026-11-23T02:00:00Z");
    assert_eq!(case.status, CaseStatus::Submitted);
    let d = city_dispatcher();
    apply(&mut case, "2026-11-23T03:00:00Z", &d, Command::Accept);
    assert_eq!(case.status, CaseStatus::Accepted);
    apply(&mut case, "2026-11-23T04:00:00Z", &d, transfer("housing-construction"));
    assert_eq!(case.status, CaseStatus::Dispatched);
    assert!(case.deadline.is_none(), "the clock starts at receipt, not at dispatch");

    let h = handler("housing-construction");
    // Received Tuesday 11-24: 20 working days from 11-25 → 12-22 (no holidays in between).
    let ev = apply(&mut case, "2026-11-24T01:00:00Z", &h, Command::Receive);
    let due = NaiveDate::from_ymd_opt(2026, 12, 22).unwrap();
    assert_eq!(ev, vec![EventKind::Received { due_on: due, provisional: false }]);
    assert_eq!(case.status, CaseStatus::InProgress);

    let reply = "王小明您好：道路已于本周修复。如有问题请致电13812345678。".to_string();
    let ev = apply(&mut case, "2026-12-01T01:00:00Z", &h, Command::Reply { text: reply.clone(), public: true });
    assert_eq!(ev, vec![EventKind::Replied { public: true, on_time: true }]);
    let r = case.reply.as_ref().unwrap();
    assert_eq!(r.text, reply, "staff keep the full text");
    assert!(r.public);

    let citizen = Actor::citizen(case.id.clone());
    let ev =
        apply(&mut case, "2026-12-02T01:00:00Z", &citizen, Command::Rate { satisfied: true, comment: String::new() });
    assert_eq!(ev, vec![EventKind::Rated { satisfied: true }, EventKind::Closed]);
    assert_eq!(case.status, CaseStatus::Closed);
    assert!(case.closed_at.is_some());
}

#[test]
fn assign_life_with_co_handler_report_and_dispatcher_reply() {
    let mut case = submit("mayor", Kind::Help, false, "2026-11-23T02:00:00Z");
    let d = city_dispatcher();
    apply(&mut case, "2026-11-23T03:00:00Z", &d, Command::Accept);
    let cmd = Command::Dispatch {
        mode: DispatchMode::Assign,
        lead: UnitId::new("transport"),
        co_handlers: vec![UnitId::new("public-security"), UnitId::new("guangan-qu-gov")],
        class: DeadlineClass::Coordinated,
        special_days: None,
    };
    apply(&mut case, "2026-11-23T04:00:00Z", &d, cmd);
    let lead = handler("transport");
    let co = handler("public-security");
    // A co-handler can neither receive nor report.
    assert!(matches!(
        refuse(&mut case, "2026-11-24T01:00:00Z", &co, Command::Receive),
        WorkflowError::Access(AccessError::Forbidden(_))
    ));
    apply(&mut case, "2026-11-24T01:00:00Z", &lead, Command::Receive);
    assert_eq!(case.deadline.as_ref().unwrap().base_days, 40);
    apply(&mut case, "2026-11-25T01:00:00Z", &co, Command::Contribute { text: "已安排交警巡查。".into() });
    // An assigned case is not replied by the unit.
    assert!(matches!(
        refuse(&mut case, "2026-11-26T01:00:00Z", &lead, Command::Reply { text: "x".into(), public: false }),
        WorkflowError::Access(AccessError::Forbidden(_))
    ));
    apply(&mut case, "2026-11-26T01:00:00Z", &lead, Command::Report { text: "已完成整改。".into() });
    assert_eq!(case.status, CaseStatus::Reported);
    assert_eq!(case.reports.len(), 2);
    // The citizen did not agree to publication.
    assert_eq!(
        refuse(&mut case, "2026-11-26T02:00:00Z", &d, Command::Reply { text: "答复".into(), public: true }),
        WorkflowError::PublicationNotAllowed
    );
    apply(&mut case, "2026-11-26T02:00:00Z", &d, Command::Reply { text: "您反映的问题已处理。".into(), public: false });
    assert!(!case.reply.as_ref().unwrap().public);
    apply(&mut case, "2026-12-20T02:00:00Z", &d, Command::Close);
    assert_eq!(case.status, CaseStatus::Closed);
}

#[test]
fn reject_as_invalid_needs_a_reason_and_ends_the_case() {
    let mut case = submit("mayor", Kind::Suggestion, true, "2026-11-23T02:00:00Z");
    let d = city_dispatcher();
    assert!(matches!(
        refuse(&mut case, "2026-11-23T03:00:00Z", &d, Command::Reject { reason: "  ".into() }),
        WorkflowError::Invalid { field: "reason", .. }
    ));
    apply(&mut case, "2026-11-23T03:00:00Z", &d, Command::Reject { reason: "广告信息".into() });
    assert_eq!(case.status, CaseStatus::Invalid);
    assert_eq!(case.invalid_reason.as_deref(), Some("广告信息"));
    assert!(matches!(
        refuse(&mut case, "2026-11-23T04:00:00Z", &d, Command::Accept),
        WorkflowError::IllegalTransition { status: CaseStatus::Invalid, action: Action::Accept }
    ));
}

#[test]
fn return_sends_the_case_back_and_hides_it_from_the_unit() {
    let mut case = submit("mayor", Kind::Complaint, true, "2026-11-23T02:00:00Z");
    let d = city_dispatcher();
    apply(&mut case, "2026-11-23T03:00:00Z", &d, Command::Accept);
    apply(&mut case, "2026-11-23T04:00:00Z", &d, transfer("water"));
    let water = handler("water");
    apply(&mut case, "2026-11-24T01:00:00Z", &water, Command::Receive);
    assert!(matches!(
        refuse(&mut case, "2026-11-24T02:00:00Z", &water, Command::Return { reason: "".into() }),
        WorkflowError::Invalid { .. }
    ));
    apply(
        &mut case,
        "2026-11-24T02:00:00Z",
        &water,
        Command::Return { reason: "不属于本单位职责，应由住建局办理".into() },
    );
    assert_eq!(case.status, CaseStatus::Accepted);
    assert!(case.dispatch.is_none() && case.deadline.is_none());
    assert_eq!(case.returns.len(), 1);
    assert_eq!(
        refuse(&mut case, "2026-11-24T03:00:00Z", &water, Command::Receive),
        WorkflowError::Access(AccessError::NotFound)
    );
    // Re-dispatch to the right unit; its clock starts at its own receipt.
    apply(&mut case, "2026-11-24T05:00:00Z", &d, transfer("housing-construction"));
    apply(&mut case, "2026-11-25T01:00:00Z", &handler("housing-construction"), Command::Receive);
    assert_eq!(case.deadline.as_ref().unwrap().received_on, NaiveDate::from_ymd_opt(2026, 11, 25).unwrap());
}

#[test]
fn extension_request_approval_refusal_and_cap() {
    let mut case = submit("mayor", Kind::Complaint, true, "2026-11-23T02:00:00Z");
    let d = city_dispatcher();
    apply(&mut case, "2026-11-23T03:00:00Z", &d, Command::Accept);
    apply(&mut case, "2026-11-23T04:00:00Z", &d, transfer("transport"));
    let h = handler("transport");
    apply(&mut case, "2026-11-24T01:00:00Z", &h, Command::Receive);
    let due = case.deadline.as_ref().unwrap().due_on;
    // 20 + 41 > 60: refused at request time.
    assert!(matches!(
        refuse(&mut case, "2026-11-25T01:00:00Z", &h, Command::RequestExtension { days: 41, reason: "需协调".into() }),
        WorkflowError::Deadline(_)
    ));
    assert!(matches!(
        refuse(&mut case, "2026-11-25T01:00:00Z", &d, Command::DecideExtension { approve: true, note: String::new() }),
        WorkflowError::NoPendingExtension
    ));
    apply(&mut case, "2026-11-25T01:00:00Z", &h, Command::RequestExtension { days: 10, reason: "需现场调查".into() });
    assert_eq!(
        refuse(&mut case, "2026-11-25T02:00:00Z", &h, Command::RequestExtension { days: 5, reason: "再延".into() }),
        WorkflowError::ExtensionPending
    );
    // Units cannot approve their own request.
    assert!(matches!(
        refuse(&mut case, "2026-11-25T02:00:00Z", &h, Command::DecideExtension { approve: true, note: String::new() }),
        WorkflowError::Access(_)
    ));
    let ev =
        apply(&mut case, "2026-11-25T03:00:00Z", &d, Command::DecideExtension { approve: true, note: String::new() });
    let new_due = case.deadline.as_ref().unwrap().due_on;
    assert!(new_due > due);
    assert_eq!(ev, vec![EventKind::ExtensionDecided { approved: true, note: String::new(), due_on: Some(new_due) }]);
    assert_eq!(case.deadline.as_ref().unwrap().total_days(), 30);
    // A refusal must say why, and leaves the deadline alone.
    apply(&mut case, "2026-11-26T01:00:00Z", &h, Command::RequestExtension { days: 5, reason: "再次延期".into() });
    assert!(matches!(
        refuse(&mut case, "2026-11-26T02:00:00Z", &d, Command::DecideExtension { approve: false, note: String::new() }),
        WorkflowError::Invalid { field: "note", .. }
    ));
    apply(
        &mut case,
        "2026-11-26T02:00:00Z",
        &d,
        Command::DecideExtension { approve: false, note: "理由不充分".into() },
    );
    assert_eq!(case.deadline.as_ref().unwrap().due_on, new_due);
}

#[test]
fn unsatisfied_rating_and_reopen() {
    let mut case = submit("mayor", Kind::Complaint, true, "2026-11-23T02:00:00Z");
    let d = city_dispatcher();
    let h = handler("transport");
    apply(&mut case, "2026-11-23T03:00:00Z", &d, Command::Accept);
    apply(&mut case, "2026-11-23T04:00:00Z", &d, transfer("transport"));
    apply(&mut case, "2026-11-24T01:00:00Z", &h, Command::Receive);
    apply(&mut case, "2026-11-25T01:00:00Z", &h, Command::Reply { text: "已处理".into(), public: false });
    let citizen = Actor::citizen(case.id.clone());
    assert!(matches!(
        refuse(&mut case, "2026-11-26T01:00:00Z", &citizen, Command::Rate { satisfied: false, comment: "".into() }),
        WorkflowError::Invalid { field: "comment", .. }
    ));
    // Another citizen's proof does not open this case.
    let stranger = Actor::citizen(mailbox_domain::CaseId::new("c-other"));
    assert_eq!(
        refuse(&mut case, "2026-11-26T01:00:00Z", &stranger, Command::Rate { satisfied: true, comment: "".into() }),
        WorkflowError::Access(AccessError::NotFound)
    );
    apply(
        &mut case,
        "2026-11-26T01:00:00Z",
        &citizen,
        Command::Rate { satisfied: false, comment: "路面还有坑".into() },
    );
    assert_eq!(case.status, CaseStatus::Closed);
    let ev = apply(&mut case, "2026-11-27T01:00:00Z", &d, Command::Reopen { reason: "市民不满意，重新办理".into() });
    assert!(matches!(ev[0], EventKind::Reopened { .. }));
    assert_eq!(case.status, CaseStatus::InProgress);
    assert_eq!(case.reopened, 1);
    assert!(case.reply.is_none() && case.earlier_replies.len() == 1);
    assert_eq!(case.deadline.as_ref().unwrap().received_on, NaiveDate::from_ymd_opt(2026, 11, 27).unwrap());
    // A satisfied case cannot be reopened.
    apply(&mut case, "2026-11-30T01:00:00Z", &h, Command::Reply { text: "已重新处理".into(), public: false });
    apply(&mut case, "2026-11-30T02:00:00Z", &citizen, Command::Rate { satisfied: true, comment: String::new() });
    assert!(matches!(
        refuse(&mut case, "2026-11-30T03:00:00Z", &d, Command::Reopen { reason: "x".into() }),
        WorkflowError::Invalid { field: "rating", .. }
    ));
}

#[test]
fn meeting_urge_supervise_and_feature() {
    let mut case = submit("mayor", Kind::Complaint, true, "2026-11-23T02:00:00Z");
    let d = city_dispatcher();
    let h = handler("health");
    let s = supervisor();
    apply(&mut case, "2026-11-23T03:00:00Z", &d, Command::Accept);
    apply(&mut case, "2026-11-23T03:30:00Z", &s, Command::Supervise { note: "重要事项".into() });
    assert_eq!(
        refuse(&mut case, "2026-11-23T03:40:00Z", &s, Command::Supervise { note: String::new() }),
        WorkflowError::Unchanged
    );
    apply(&mut case, "2026-11-23T04:00:00Z", &d, transfer("health"));
    apply(&mut case, "2026-11-23T05:00:00Z", &d, Command::Urge { note: "请尽快签收".into() });
    apply(&mut case, "2026-11-24T01:00:00Z", &h, Command::Receive);
    apply(&mut case, "2026-11-24T02:00:00Z", &Actor::system(), Command::Urge { note: "即将到期".into() });
    assert_eq!(case.urges, 2);
    let tomorrow = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
    assert!(matches!(
        refuse(
            &mut case,
            "2026-11-24T03:00:00Z",
            &h,
            Command::RecordMeeting { held_on: tomorrow, place: "卫健委".into(), summary: "面谈".into() }
        ),
        WorkflowError::Invalid { field: "held_on", .. }
    ));
    apply(
        &mut case,
        "2026-11-24T03:00:00Z",
        &h,
        Command::RecordMeeting {
            held_on: tomorrow.pred_opt().unwrap(),
            place: "卫健委".into(),
            summary: "与留言人面谈并说明处理方案".into(),
        },
    );
    assert_eq!(case.meetings.len(), 1);
    assert!(matches!(
        refuse(&mut case, "2026-11-24T04:00:00Z", &s, Command::Feature { note: "办理及时".into() }),
        WorkflowError::IllegalTransition { .. }
    ));
    apply(&mut case, "2026-11-25T01:00:00Z", &h, Command::Reply { text: "已解决".into(), public: true });
    // A note is required, one paragraph.
    for note in ["  ".to_owned(), "很".repeat(501)] {
        let refused = refuse(&mut case, "2026-11-25T02:00:00Z", &s, Command::Feature { note });
        assert!(matches!(refused, WorkflowError::Invalid { field: "note", .. }), "{refused:?}");
    }
    let why = "两天内协调解决，答复具体，市民满意。";
    apply(&mut case, "2026-11-25T02:00:00Z", &s, Command::Feature { note: why.into() });
    assert!(case.featured);
    assert_eq!(case.featured_note.as_deref(), Some(why));
    let again = refuse(&mut case, "2026-11-25T03:00:00Z", &s, Command::Feature { note: why.into() });
    assert_eq!(again, WorkflowError::Unchanged);
}

#[test]
fn dispatch_targets_follow_the_mailbox() {
    // District mailbox: dispatched by the district 信访局 within its district only.
    let mut case = submit("linshui-head", Kind::Complaint, true, "2026-11-23T02:00:00Z");
    let city = city_dispatcher();
    assert_eq!(
        refuse(&mut case, "2026-11-23T03:00:00Z", &city, Command::Accept),
        WorkflowError::Access(AccessError::NotFound)
    );
    let ls = staff(mailbox_domain::Role::Dispatcher, "linshui-xfj");
    apply(&mut case, "2026-11-23T03:00:00Z", &ls, Command::Accept);
    assert!(matches!(
        refuse(&mut case, "2026-11-23T04:00:00Z", &ls, transfer("transport")),
        WorkflowError::Invalid { field: "lead", .. }
    ));
    assert!(matches!(
        refuse(&mut case, "2026-11-23T04:00:00Z", &ls, transfer("linshui-xfj")),
        WorkflowError::Invalid { field: "lead", .. }
    ));
    apply(&mut case, "2026-11-23T04:00:00Z", &ls, transfer("linshui-gov"));
    assert!(case.handoff_jurisdiction(org()).is_none(), "stays inside 邻水县");

    // Bureau mailbox: the bureau dispatches to itself.
    let mut case = submit("transport-head", Kind::Consultation, true, "2026-11-23T02:00:00Z");
    let tb = staff(mailbox_domain::Role::Dispatcher, "transport");
    apply(&mut case, "2026-11-23T03:00:00Z", &tb, Command::Accept);
    assert!(matches!(
        refuse(&mut case, "2026-11-23T04:00:00Z", &tb, transfer("water")),
        WorkflowError::Invalid { field: "lead", .. }
    ));
    apply(
        &mut case,
        "2026-11-23T04:00:00Z",
        &tb,
        Command::Dispatch {
            mode: DispatchMode::Transfer,
            lead: UnitId::new("transport"),
            co_handlers: vec![],
            class: DeadlineClass::Simple,
            special_days: None,
        },
    );

    // City mailbox dispatched to a district government crosses that district's queue.
    let mut case = submit("mayor", Kind::Complaint, true, "2026-11-23T02:00:00Z");
    apply(&mut case, "2026-11-23T03:00:00Z", &city, Command::Accept);
    let dup = Command::Dispatch {
        mode: DispatchMode::Assign,
        lead: UnitId::new("water"),
        co_handlers: vec![UnitId::new("water")],
        class: DeadlineClass::Coordinated,
        special_days: None,
    };
    assert!(matches!(
        refuse(&mut case, "2026-11-23T04:00:00Z", &city, dup),
        WorkflowError::Invalid { field: "co_handlers", .. }
    ));
    let special = Command::Dispatch {
        mode: DispatchMode::Assign,
        lead: UnitId::new("linshui-gov"),
        co_handlers: vec![],
        class: DeadlineClass::Special,
        special_days: Some(61),
    };
    assert!(matches!(refuse(&mut case, "2026-11-23T04:00:00Z", &city, special), WorkflowError::Deadline(_)));
    apply(&mut case, "2026-11-23T04:00:00Z", &city, transfer("linshui-gov"));
    assert_eq!(case.handoff_jurisdiction(org()).unwrap().name, "邻水县");
}

#[test]
fn calendar_change_recomputes_a_provisional_deadline_once() {
    let mut case = submit("mayor", Kind::Suggestion, true, "2026-12-27T02:00:00Z");
    let d = city_dispatcher();
    apply(&mut case, "2026-12-27T03:00:00Z", &d, Command::Accept);
    apply(
        &mut case,
        "2026-12-27T04:00:00Z",
        &d,
        Command::Dispatch {
            mode: DispatchMode::Transfer,
            lead: UnitId::new("commerce"),
            co_handlers: vec![],
            class: DeadlineClass::Simple,
            special_days: None,
        },
    );
    apply(&mut case, "2026-12-28T01:00:00Z", &handler("commerce"), Command::Receive);
    let dl = case.deadline.clone().unwrap();
    assert!(dl.provisional);
    assert_eq!(dl.due_on, NaiveDate::from_ymd_opt(2027, 1, 4).unwrap());

    let mut calendar = mailbox_domain::Calendar::builtin().clone();
    calendar
        .import_holiday_cn(r#"{"year": 2027, "papers": ["notice"], "days": [{"name": "元旦", "date": "2027-01-01", "isOffDay": true}]}"#)
        .unwrap();
    let ctx2 = mailbox_domain::Context { org: org(), calendar: &calendar, now: at("2026-12-29T01:00:00Z") };
    let events = case.apply(&ctx2, &Actor::system(), Command::RecomputeDeadline).unwrap();
    assert!(matches!(events[0].kind, EventKind::DeadlineRecomputed { provisional: false, .. }));
    assert_eq!(case.deadline.as_ref().unwrap().due_on, NaiveDate::from_ymd_opt(2027, 1, 5).unwrap());
    assert_eq!(case.apply(&ctx2, &Actor::system(), Command::RecomputeDeadline), Err(WorkflowError::Unchanged));
}

#[test]
fn late_reply_is_recorded_as_not_on_time() {
    let mut case = submit("mayor", Kind::Consultation, true, "2026-11-23T02:00:00Z");
    let d = city_dispatcher();
    let h = handler("education");
    apply(&mut case, "2026-11-23T03:00:00Z", &d, Command::Accept);
    apply(
        &mut case,
        "2026-11-23T04:00:00Z",
        &d,
        Command::Dispatch {
            mode: DispatchMode::Transfer,
            lead: UnitId::new("education"),
            co_handlers: vec![],
            class: DeadlineClass::Simple,
            special_days: None,
        },
    );
    apply(&mut case, "2026-11-23T05:00:00Z", &h, Command::Receive);
    // Due at the end of Monday 11-30 (China); 16:00 UTC is midnight there.
    assert_eq!(case.deadline.as_ref().unwrap().due_on, NaiveDate::from_ymd_opt(2026, 11, 30).unwrap());
    let ev = apply(&mut case, "2026-11-30T16:00:00Z", &h, Command::Reply { text: "答复".into(), public: false });
    assert_eq!(ev, vec![EventKind::Replied { public: false, on_time: false }]);
}

/// Every status × every command that is not allowed in it: a typed error, nothing changed.
#[test]
fn illegal_transitions_are_typed_errors() {
    use CaseStatus as S;
    let cmds: Vec<(Command, &[S])> = vec![
        (Command::Accept, &[S::Submitted]),
        (Command::Reject { reason: "r".into() }, &[S::Submitted, S::Accepted]),
        (transfer("transport"), &[S::Accepted]),
        (Command::Receive, &[S::Dispatched]),
        (Command::Return { reason: "r".into() }, &[S::Dispatched, S::InProgress]),
        (Command::Reply { text: "t".into(), public: false }, &[S::InProgress]),
        (Command::Urge { note: String::new() }, &[S::Dispatched, S::InProgress, S::Reported]),
        (Command::Close, &[S::Replied]),
        (Command::Rate { satisfied: true, comment: String::new() }, &[S::Replied]),
    ];
    for status in [S::Submitted, S::Accepted, S::Invalid, S::Dispatched, S::InProgress, S::Replied, S::Closed] {
        let case = case_in(status);
        for (cmd, allowed) in &cmds {
            if allowed.contains(&status) {
                continue;
            }
            let actor = actor_for(cmd, &case);
            let mut c = case.clone();
            let err = refuse(&mut c, "2026-11-26T05:00:00Z", &actor, cmd.clone());
            if actor.role == mailbox_domain::Role::Handler && case.dispatch.is_none() {
                // Not dispatched to the unit: it may not know the case exists.
                assert_eq!(err, WorkflowError::Access(AccessError::NotFound), "{cmd:?} in {status:?}");
            } else {
                assert!(matches!(err, WorkflowError::IllegalTransition { .. }), "{cmd:?} in {status:?} gave {err:?}");
            }
        }
    }
}

fn actor_for(cmd: &Command, case: &Case) -> Actor {
    match cmd {
        Command::Receive | Command::Return { .. } | Command::Reply { .. } => handler("transport"),
        Command::Rate { .. } => Actor::citizen(case.id.clone()),
        _ => city_dispatcher(),
    }
}

/// A transfer case to 交通运输局, driven to `status`.
fn case_in(status: CaseStatus) -> Case {
    use CaseStatus as S;
    let mut case = submit("mayor", Kind::Complaint, true, "2026-11-23T02:00:00Z");
    let d = city_dispatcher();
    let h = handler("transport");
    let path: Vec<(Actor, Command)> = match status {
        S::Submitted => vec![],
        S::Invalid => vec![(d.clone(), Command::Reject { reason: "重复留言".into() })],
        _ => {
            let mut p = vec![(d.clone(), Command::Accept)];
            let rest = [
                (S::Dispatched, d.clone(), transfer("transport")),
                (S::InProgress, h.clone(), Command::Receive),
                (S::Replied, h.clone(), Command::Reply { text: "已处理".into(), public: false }),
                (S::Closed, d.clone(), Command::Close),
            ];
            for (reached, actor, cmd) in rest {
                if status == S::Accepted {
                    break;
                }
                p.push((actor, cmd));
                if reached == status {
                    break;
                }
            }
            p
        }
    };
    for (actor, cmd) in path {
        apply(&mut case, "2026-11-24T01:00:00Z", &actor, cmd);
    }
    assert_eq!(case.status, status);
    case
}

fn triage_note(domain: &str) -> Command {
    use mailbox_domain::triage::{Suggestion, TriageNote};
    let note = TriageNote {
        domain: Some(Suggestion { value: domain.to_owned(), confidence: 80, words: vec!["电梯".into()] }),
        units: vec![UnitId::new("housing-construction")],
        kind: None,
        jurisdiction: Some(Suggestion {
            value: JurisdictionId::new("linshui"),
            confidence: 90,
            words: vec!["鼎屏镇".into()],
        }),
        duplicates: vec![],
        invalid: None,
        personal_data: vec![],
        urgent: vec![],
        hot: None,
        fingerprint: String::new(),
        at: at("2026-03-02T09:00:01+08:00"),
    };
    Command::RecordTriage { note: Box::new(note) }
}

#[test]
fn triage_is_recorded_once_by_the_system_and_does_not_make_staff_views_stale() {
    let mut case = submit("mayor", Kind::Complaint, true, "2026-03-02T09:00:00+08:00");
    let seen_by_dispatcher = case.version;
    let events = apply(&mut case, "2026-03-02T09:00:01+08:00", &Actor::system(), triage_note("城乡建设"));
    let [EventKind::Triaged { summary }] = &events[..] else { panic!("{events:?}") };
    assert!(summary.contains("分类 城乡建设") && summary.contains("辖区 邻水县（鼎屏镇）"), "{summary}");
    assert_eq!(case.status, CaseStatus::Submitted, "a suggestion moves nothing");
    assert_eq!(case.triage.as_ref().unwrap().units, vec![UnitId::new("housing-construction")]);
    // A redelivered triage message changes nothing.
    let e = refuse(&mut case, "2026-03-02T09:00:02+08:00", &Actor::system(), triage_note("环境保护"));
    assert_eq!(e, WorkflowError::Unchanged);
    // The dispatcher's view from before the suggestions is still good to act on; an older one is not.
    assert!(case.is_current(seen_by_dispatcher) && case.is_current(case.version));
    apply(&mut case, "2026-03-02T09:05:00+08:00", &city_dispatcher(), Command::Accept);
    assert!(!case.is_current(seen_by_dispatcher), "after a real change the old view is stale");
    // Nobody else records suggestions.
    let mut other = submit("mayor", Kind::Complaint, true, "2026-03-02T09:00:00+08:00");
    let e = refuse(&mut other, "2026-03-02T09:00:01+08:00", &city_dispatcher(), triage_note("城乡建设"));
    assert!(matches!(e, WorkflowError::Access(AccessError::Forbidden(_))), "{e:?}");
}

/// A case is one record in every store: its lists are capped with a clear refusal, and a change that
/// would make it too large to store is refused before anything is written.
#[test]
fn lists_on_a_case_are_capped_and_a_case_never_outgrows_its_record() {
    use mailbox_domain::workflow::{MAX_CASE_BYTES, MAX_MEETINGS};
    let mut case = case_in(CaseStatus::InProgress);
    let h = handler("transport");
    let meeting = |summary: String| Command::RecordMeeting {
        held_on: NaiveDate::from_ymd_opt(2026, 11, 24).unwrap(),
        place: "信访接待室".into(),
        summary,
    };
    for _ in 0..MAX_MEETINGS {
        apply(&mut case, "2026-11-24T02:00:00Z", &h, meeting("当面说明办理情况".into()));
    }
    assert_eq!(
        refuse(&mut case, "2026-11-24T02:00:00Z", &h, meeting("再一次".into())),
        WorkflowError::TooMany { what: "见面答复记录", max: MAX_MEETINGS }
    );

    let mut case = case_in(CaseStatus::InProgress);
    let long = "办".repeat(mailbox_domain::workflow::MAX_TEXT_CHARS);
    let err = loop {
        let big = Command::RecordMeeting {
            held_on: NaiveDate::from_ymd_opt(2026, 11, 24).unwrap(),
            place: long.clone(),
            summary: long.clone(),
        };
        match case.apply(&ctx("2026-11-24T02:00:00Z"), &h, big) {
            Ok(_) => continue,
            Err(e) => break e,
        }
    };
    assert_eq!(err, WorkflowError::TooLarge { max: MAX_CASE_BYTES });
    assert!(serde_json::to_vec(&case).unwrap().len() <= MAX_CASE_BYTES, "the stored case stayed within bounds");
}

/// 并单: a case in progress merged into an earlier one stops its clock and says where it went;
/// un-merged before the original's reply it goes back where it was; once the original's reply is
/// shared with it, it can no longer be un-merged; only its dispatcher merges, only the system shares.
#[test]
fn merge_stops_the_clock_unmerge_restores_and_the_shared_reply_ends_it() {
    use mailbox_domain::case::Reply;
    use mailbox_domain::CaseNumber;
    let original = CaseNumber::new("GA202611230001");
    let d = city_dispatcher();
    let mut case = case_in(CaseStatus::InProgress);
    assert!(case.next_alarm.is_some(), "its clock runs");
    let due = case.deadline.clone();

    let err =
        refuse(&mut case, "2026-11-24T02:00:00Z", &handler("transport"), Command::Merge { into: original.clone() });
    assert!(matches!(err, WorkflowError::Access(AccessError::Forbidden(_))), "{err:?}");
    let own = case.number.clone();
    let err = refuse(&mut case, "2026-11-24T02:00:00Z", &d, Command::Merge { into: own });
    assert!(matches!(err, WorkflowError::Invalid { field: "into", .. }), "{err:?}");

    let events = apply(&mut case, "2026-11-24T02:00:00Z", &d, Command::Merge { into: original.clone() });
    assert_eq!(events, vec![EventKind::Merged { into: original.clone() }]);
    assert_eq!((case.status, case.merged_into.as_ref()), (CaseStatus::Merged, Some(&original)));
    assert_eq!(case.next_alarm, None, "the clock stands still");
    assert!(!case.status.is_open());
    let reply = Reply {
        unit: UnitId::new("transport"),
        text: "t".into(),
        public: false,
        at: at("2026-11-25T02:00:00Z"),
        on_time: true,
    };
    refuse(
        &mut case,
        "2026-11-24T03:00:00Z",
        &handler("transport"),
        Command::Reply { text: "t".into(), public: false },
    );

    // Un-merged: in progress again with the same deadline, the clock running.
    let events = apply(&mut case, "2026-11-24T04:00:00Z", &d, Command::Unmerge);
    assert_eq!(events, vec![EventKind::Unmerged { from: original.clone() }]);
    assert_eq!((case.status, case.merged_into.as_ref(), &case.deadline), (CaseStatus::InProgress, None, &due));
    assert!(case.next_alarm.is_some());

    // Merged for two working days (Wednesday to Friday): un-merged, its deadline moves by two.
    apply(&mut case, "2026-11-25T02:00:00Z", &d, Command::Merge { into: original.clone() });
    assert_eq!(case.handling_units().count(), 0, "out of the units' inboxes while merged");
    apply(&mut case, "2026-11-27T02:00:00Z", &d, Command::Unmerge);
    let moved = case.deadline.as_ref().unwrap();
    let calendar = mailbox_domain::Calendar::builtin();
    assert_eq!(calendar.working_days_between(due.as_ref().unwrap().due_on, moved.due_on), 2, "{moved:?}");
    assert_eq!(case.handling_units().count(), 1);

    // Merged again; the original is answered publicly and its reply shared (public only as far as this
    // citizen allowed publication).
    apply(&mut case, "2026-11-24T05:00:00Z", &d, Command::Merge { into: original.clone() });
    let share = |public: bool| Command::ShareReply {
        from: original.clone(),
        reply: Box::new(Reply { public, ..reply.clone() }),
    };
    let err = refuse(&mut case, "2026-11-25T02:00:00Z", &d, share(true));
    assert!(matches!(err, WorkflowError::Access(AccessError::Forbidden(_))), "only the system shares: {err:?}");
    let events = apply(&mut case, "2026-11-25T02:00:00Z", &Actor::system(), share(true));
    assert_eq!(events, vec![EventKind::ReplyShared { from: original.clone(), public: true }]);
    assert_eq!(case.status, CaseStatus::Merged, "counted as 重复件, not replied");
    assert!(case.reply.as_ref().unwrap().public);
    assert_eq!(refuse(&mut case, "2026-11-25T03:00:00Z", &Actor::system(), share(true)), WorkflowError::Unchanged);
    let err = refuse(&mut case, "2026-11-25T03:00:00Z", &d, Command::Unmerge);
    assert!(matches!(err, WorkflowError::Invalid { field: "merged_into", .. }), "{err:?}");

    // A citizen who did not agree to publication gets the reply privately.
    let mut private = submit("mayor", Kind::Complaint, false, "2026-11-23T02:00:00Z");
    apply(&mut private, "2026-11-24T02:00:00Z", &d, Command::Merge { into: original.clone() });
    apply(&mut private, "2026-11-25T02:00:00Z", &Actor::system(), share(true));
    assert!(!private.reply.as_ref().unwrap().public);
    let mut figures = mailbox_domain::stats::Figures::default();
    figures.add(private.status, 1);
    assert_eq!((figures.received, figures.merged, figures.replied, figures.in_progress), (1, 1, 0, 0));
}
