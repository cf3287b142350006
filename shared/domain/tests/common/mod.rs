//! Fixtures shared by the domain's integration tests.
#![allow(dead_code)]

use chrono::{DateTime, Utc};
use mailbox_domain::case::Citizen;
use mailbox_domain::workflow::NewCase;
use mailbox_domain::{Actor, Calendar, Case, CaseId, CaseNumber, Context, Kind, MailboxId, Organisation, Role, UnitId};
use std::sync::OnceLock;

pub fn org() -> &'static Organisation {
    static ORG: OnceLock<Organisation> = OnceLock::new();
    ORG.get_or_init(Organisation::guangan)
}

pub fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

pub fn ctx(now: &str) -> Context<'static> {
    Context { org: org(), calendar: Calendar::builtin(), now: at(now) }
}

pub fn submit(mailbox: &str, kind: Kind, publishable: bool, now: &str) -> Case {
    let new = NewCase {
        mailbox: MailboxId::new(mailbox),
        kind,
        title: "小区门口道路破损严重".into(),
        body: "广安区某小区门口道路坑洼，雨天积水，请尽快维修。联系电话13812345678。".into(),
        citizen: Citizen { name: "王小明".into(), phone: "13812345678".into() },
        publishable,
    };
    let (case, event) =
        Case::submit(&ctx(now), CaseId::new("c-1"), CaseNumber::new("GA20261123-0001"), "digest".into(), new).unwrap();
    assert_eq!(event.seq, 1);
    case
}

pub fn staff(role: Role, unit: &str) -> Actor {
    Actor::staff(format!("{unit}-user"), role, Some(UnitId::new(unit)))
}

pub fn city_dispatcher() -> Actor {
    staff(Role::Dispatcher, "city-xfj")
}

pub fn handler(unit: &str) -> Actor {
    staff(Role::Handler, unit)
}

pub fn supervisor() -> Actor {
    staff(Role::Supervisor, "city-gov-office")
}

pub fn admin() -> Actor {
    staff(Role::Admin, "city-xfj")
}
