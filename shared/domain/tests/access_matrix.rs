//! The access matrix: every role × every action × own/other unit, against an explicit table.
//! Y = allowed, F = forbidden (the actor sees the case), N = not found (the actor may not know it exists).

mod common;

use common::*;
use mailbox_domain::deadline::DeadlineClass;
use mailbox_domain::workflow::Command;
use mailbox_domain::{authorize, can_view, AccessError, Action, Actor, CaseId, DispatchMode, Kind, Role, UnitId};

const COLUMNS: [&str; 11] = [
    "citizen_own",
    "citizen_other",
    "dispatcher_own",
    "dispatcher_other",
    "lead",
    "co_handler",
    "handler_other",
    "supervisor",
    "admin",
    "opinion",
    "system",
];

/// For an assigned (交办) case. Columns as in `COLUMNS`.
const ASSIGN: &str = "
View              Y N Y N Y Y N Y N N Y
ViewPersonalData  Y N Y N Y Y N F N N F
Accept            F N Y N F F N F N N F
Reject            F N Y N F F N F N N F
Dispatch          F N Y N F F N F N N F
Receive           F N F N Y F N F N N F
Return            F N F N Y F N F N N F
Contribute        F N F N F Y N F N N F
Report            F N F N Y F N F N N F
Reply             F N Y N F F N F N N F
RecordMeeting     F N Y N Y F N F N N F
RequestExtension  F N F N Y F N F N N F
DecideExtension   F N Y N F F N F N N F
Urge              F N Y N F F N Y N N Y
Supervise         F N F N F F N Y N N Y
Rate              Y N F N F F N F N N F
Reopen            F N Y N F F N F N N F
Close             F N Y N F F N F N N F
Feature           F N Y N F F N Y N N F
RecomputeDeadline F N F N F F N F N N Y
DeadlineAlarm     F N F N F F N F N N Y
Explain           F N F N Y F N F N N F
Triage            F N F N F F N F N N Y
Merge             F N Y N F F N F N N F
Unmerge           F N Y N F F N F N N F
ShareReply        F N F N F F N F N N Y
PublishAttachment F N Y N F F N F N N F
";

/// A transferred (转办) case differs only in who reports and replies.
const TRANSFER_DIFF: &str = "
Report            F N F N F F N F N N F
Reply             F N F N Y F N F N N F
";

fn actors(case_id: &CaseId) -> Vec<Actor> {
    vec![
        Actor::citizen(case_id.clone()),
        Actor::citizen(CaseId::new("someone-else")),
        city_dispatcher(),
        staff(Role::Dispatcher, "linshui-xfj"),
        handler("transport"),
        handler("public-security"),
        handler("water"),
        supervisor(),
        admin(),
        staff(Role::Opinion, "city-gov-office"),
        Actor::system(),
    ]
}

fn table(src: &str) -> Vec<(String, Vec<char>)> {
    src.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut words = l.split_whitespace();
            let action = words.next().unwrap().to_owned();
            let cells: Vec<char> = words.map(|w| w.chars().next().unwrap()).collect();
            assert_eq!(cells.len(), COLUMNS.len(), "row {action}");
            (action, cells)
        })
        .collect()
}

fn action_named(name: &str) -> Action {
    *Action::ALL.iter().find(|a| format!("{a:?}") == name).unwrap_or_else(|| panic!("unknown action {name}"))
}

fn check(mode: DispatchMode, expected: &[(String, Vec<char>)]) {
    let mut case = submit("mayor", Kind::Complaint, true, "2026-11-23T02:00:00Z");
    let d = city_dispatcher();
    case.apply(&ctx("2026-11-23T03:00:00Z"), &d, Command::Accept).unwrap();
    let dispatch = Command::Dispatch {
        mode,
        lead: UnitId::new("transport"),
        co_handlers: vec![UnitId::new("public-security")],
        class: DeadlineClass::Coordinated,
        special_days: None,
    };
    case.apply(&ctx("2026-11-23T04:00:00Z"), &d, dispatch).unwrap();
    let actors = actors(&case.id);
    let mut covered = 0;
    for (name, row) in expected {
        let action = action_named(name);
        for (col, actor) in actors.iter().enumerate() {
            let got = match authorize(actor, action, &case) {
                Ok(()) => 'Y',
                Err(AccessError::Forbidden(_)) => 'F',
                Err(AccessError::NotFound) => 'N',
            };
            assert_eq!(got, row[col], "{mode:?}: {} × {name}", COLUMNS[col]);
            // `can_view` and the View row always agree.
            assert_eq!(can_view(actor, &case), authorize(actor, Action::View, &case).is_ok());
            covered += 1;
        }
    }
    assert_eq!(covered, Action::ALL.len() * COLUMNS.len(), "every role × action is in the table");
}

#[test]
fn assigned_case_matrix() {
    check(DispatchMode::Assign, &table(ASSIGN));
}

#[test]
fn transferred_case_matrix() {
    let diff = table(TRANSFER_DIFF);
    let rows: Vec<(String, Vec<char>)> = table(ASSIGN)
        .into_iter()
        .map(|(name, row)| diff.iter().find(|(n, _)| *n == name).cloned().unwrap_or((name, row)))
        .collect();
    check(DispatchMode::Transfer, &rows);
}

#[test]
fn every_role_is_covered() {
    let case_id = CaseId::new("x");
    let roles: std::collections::HashSet<Role> = actors(&case_id).iter().map(|a| a.role).collect();
    for role in Role::ALL {
        assert!(roles.contains(&role), "{role:?} missing from the matrix");
    }
}
