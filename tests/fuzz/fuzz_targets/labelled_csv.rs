//! The labelled-CSV reader (`mailbox triage eval|train --labelled FILE`): any text gives rows or a
//! one-line error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailbox_triage::domain::{builtin, csv_rows, TrainingSet};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(rows) = csv_rows(text, "fuzz.csv", &["留言主题", "留言详情", "一级分类"]) {
        assert!(rows.iter().all(|r| r.len() == 3));
    }
    if let Err(e) = mailbox_triage::eval::evaluate(builtin(), text, "fuzz.csv") {
        assert!(!e.to_string().contains('\n'), "a multi-line error: {e}");
    }
    if let Err(e) = TrainingSet::read(text, "fuzz.csv", text) {
        assert!(!e.to_string().contains('\n'), "a multi-line error: {e}");
    }
});
