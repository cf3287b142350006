//! Staff actions as they arrive: JSON bodies of `POST /api/v1/staff/cases/{id}/actions/{action}`
//! and the console's forms, applied in sequence to one case by the actors a line names. A refused
//! action changes nothing; an accepted one moves the version by one, records events, and keeps the
//! case within what the store can hold; every view of the case can still be made.
//!
//! Input: one step per line. The first character picks the actor (see `actor`); the rest is a JSON
//! `ActionRequest` (`{"command": {"action": …}}`) or a console form (`dispatch?mode=assign&…`).
//! Each step happens seven hours after the one before, so deadlines come due.
#![no_main]

use chrono::Duration;
use libfuzzer_sys::fuzz_target;
use mailbox_app::http::api::ActionRequest;
use mailbox_app::input::form::{command as command_from_form, form_pairs};
use mailbox_app::input::SubmitRequest;
use mailbox_domain::workflow::{Command, MAX_CASE_BYTES};
use mailbox_domain::{Actor, Calendar, Case, Role, UnitId};

fn staff(role: Role, unit: &str) -> Actor {
    Actor::staff(format!("{unit}-user"), role, Some(UnitId::new(unit)))
}

fn actor(c: char, case: &Case) -> Actor {
    match c {
        '0' => staff(Role::Dispatcher, "city-xfj"),
        '1' => staff(Role::Handler, "transport"),
        '2' => staff(Role::Handler, "water"),
        '3' => staff(Role::Supervisor, "city-gov-office"),
        '4' => Actor::citizen(case.id.clone()),
        '5' => Actor::system(),
        '6' => staff(Role::Dispatcher, "linshui-xfj"),
        '7' => staff(Role::Handler, "linshui-gov"),
        '8' => staff(Role::Admin, "city-xfj"),
        _ => staff(Role::Handler, "public-security"),
    }
}

fn command(payload: &str) -> Option<Command> {
    if payload.starts_with('{') {
        return serde_json::from_str::<ActionRequest>(payload).ok().map(|r| r.command);
    }
    let (action, form) = payload.split_once('?').unwrap_or((payload, ""));
    command_from_form(action, &form_pairs(form.as_bytes())).ok()
}

fn first_case() -> Case {
    let request = SubmitRequest {
        mailbox: "mayor".into(),
        kind: "complaint".into(),
        title: "小区门口道路破损".into(),
        body: "建设路12号小区门口道路坑洼，联系电话13812345678。".into(),
        name: "王小明".into(),
        phone: "13812345678".into(),
        public: true,
    };
    mailbox_fuzz::check_accepted(request.parse(mailbox_fuzz::org()).expect("a valid submission"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut case = first_case();
    let mut now = mailbox_fuzz::start();
    for line in text.lines().take(64) {
        let mut chars = line.chars();
        let Some(who) = chars.next() else { continue };
        let Some(command) = command(chars.as_str()) else { continue };
        now += Duration::hours(7);
        let actor = actor(who, &case);
        let before = case.clone();
        match case.apply(&mailbox_fuzz::ctx(now), &actor, command) {
            Err(_) => assert_eq!(case, before, "a refused action changed the case"),
            Ok(events) => {
                assert_eq!(case.version, before.version + 1);
                assert!(!events.is_empty(), "an accepted action without events");
                assert_eq!(case.events, before.events + events.len() as u64);
                let size = serde_json::to_vec(&case).expect("a case serialises").len();
                assert!(size <= MAX_CASE_BYTES, "{size} bytes");
            }
        }
        if let Some(deadline) = &case.deadline {
            let _ = deadline.explain(Calendar::builtin());
        }
        let _ = mailbox_app::views::without_personal_data(&case);
    }
});
