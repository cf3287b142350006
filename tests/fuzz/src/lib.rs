//! What the fuzz targets share: the demo organisation, the built-in calendar, a fixed clock, and
//! the checks every accepted submission must pass.

use chrono::{DateTime, Utc};
use mailbox_domain::workflow::NewCase;
use mailbox_domain::{Calendar, Case, CaseId, CaseNumber, Context, Organisation};
use std::sync::OnceLock;

pub fn org() -> &'static Organisation {
    static ORG: OnceLock<Organisation> = OnceLock::new();
    ORG.get_or_init(Organisation::guangan)
}

/// 2026-11-23 09:00 China time: a Monday, so the first steps are working days.
pub fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-23T09:00:00+08:00").expect("valid time").with_timezone(&Utc)
}

pub fn ctx(now: DateTime<Utc>) -> Context<'static> {
    Context { org: org(), calendar: Calendar::builtin(), now }
}

/// What the edge accepted, the domain must accept too, and it must be what the edge promises:
/// bounded, clean text and a phone number in one of its two written forms.
pub fn check_accepted(new: NewCase) -> Case {
    assert!(new.title.chars().count() <= mailbox_app::input::TITLE_MAX);
    assert!(new.body.chars().count() <= mailbox_app::input::BODY_MAX);
    assert!(new.citizen.name.chars().count() <= mailbox_app::input::NAME_MAX);
    for text in [&new.title, &new.body, &new.citizen.name] {
        assert!(!text.trim().is_empty(), "blank text accepted: {text:?}");
        assert!(
            !text.chars().any(|c| mailbox_domain::text::is_control(c) || mailbox_domain::text::is_invisible(c)),
            "control or invisible character accepted: {text:?}"
        );
    }
    let phone = &new.citizen.phone;
    assert!(
        phone.bytes().all(|b| b.is_ascii_digit() || b == b'-') && (10..=13).contains(&phone.len()),
        "phone not normalised: {phone:?}"
    );
    let names = [new.citizen.name.clone()];
    let (case, _) =
        Case::submit(&ctx(start()), CaseId::new("c-fuzz"), CaseNumber::new("GA202611230001"), String::new(), new)
            .expect("the domain accepts what the edge accepted");
    // Reading it masked must work on anything a citizen can submit.
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let _ = mailbox_domain::mask::mask_personal_data(&case.body, &names);
    let _ = mailbox_domain::mask::mask_personal_data(&case.title, &names);
    case
}
