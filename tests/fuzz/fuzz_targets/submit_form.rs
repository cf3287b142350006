//! The public write form (`POST /mailbox/{id}`): any url-encoded body, then the submission's checks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailbox_app::input::form::form_pairs;
use mailbox_app::input::SubmitRequest;

fuzz_target!(|data: &[u8]| {
    let pairs = form_pairs(data);
    let request = SubmitRequest::from_form("mayor", &pairs);
    if let Ok(new) = request.parse(mailbox_fuzz::org()) {
        mailbox_fuzz::check_accepted(new);
    }
});
