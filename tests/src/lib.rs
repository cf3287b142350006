//! Helpers for the end-to-end tests of the Mayor's Mailbox.

use std::path::PathBuf;

/// The reference data folder beside the checkout (`../shared/data`), or `MAILBOX_SHARED_DATA`.
/// Tests that need it fail, never skip, when it is missing: a skipped check would read as passing.
pub fn shared_data() -> PathBuf {
    let dir = std::env::var_os("MAILBOX_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"));
    assert!(dir.is_dir(), "reference data folder {} is missing (set MAILBOX_SHARED_DATA)", dir.display());
    dir
}
