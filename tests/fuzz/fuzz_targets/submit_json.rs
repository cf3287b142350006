//! `POST /api/v1/cases`: any body the JSON reader takes, then the submission's checks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailbox_app::input::SubmitRequest;

fuzz_target!(|data: &[u8]| {
    // The extractor refuses non-UTF-8 before JSON (invalid_encoding), as here.
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(request) = serde_json::from_str::<SubmitRequest>(text) else { return };
    if let Ok(new) = request.parse(mailbox_fuzz::org()) {
        mailbox_fuzz::check_accepted(new);
    }
});
