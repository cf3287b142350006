//! An organisation file (`config/*.toml`): any text is refused with an error or gives an
//! organisation whose references hold.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailbox_domain::Organisation;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(org) = Organisation::from_toml(text) else { return };
    for mailbox in &org.mailboxes {
        assert!(org.jurisdiction(&mailbox.jurisdiction).is_some(), "mailbox {} in no jurisdiction", mailbox.id);
        assert!(org.unit(&mailbox.dispatcher).is_some(), "mailbox {} without its dispatcher", mailbox.id);
    }
    for unit in &org.units {
        assert!(org.jurisdiction_of(&unit.id).is_some(), "unit {} in no jurisdiction", unit.id);
    }
});
