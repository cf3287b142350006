//! A crash hook for the tests that prove nothing is lost when a process dies right after a commit:
//! with `MAILBOX_KILL_AFTER_COMMITS=N` in the environment, the process sends itself SIGKILL right
//! after its Nth committed change — before it answers, before anything else of that request runs.
//! Without the variable (every real deployment) this is one relaxed atomic load per commit.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

const VARIABLE: &str = "MAILBOX_KILL_AFTER_COMMITS";

fn remaining() -> Option<&'static AtomicU64> {
    static REMAINING: OnceLock<Option<AtomicU64>> = OnceLock::new();
    REMAINING.get_or_init(|| std::env::var(VARIABLE).ok().and_then(|v| v.parse().ok()).map(AtomicU64::new)).as_ref()
}

/// Called after each committed change of a case (submission or update).
pub fn after_commit() {
    let Some(left) = remaining() else { return };
    if left.fetch_sub(1, Ordering::SeqCst) == 1 {
        eprintln!("{VARIABLE}: killing this process right after a commit");
        // SIGKILL, as an operator's `kill -9` or the OOM killer would: no destructor, no flush.
        let _ = std::process::Command::new("kill").args(["-KILL", &std::process::id().to_string()]).status();
        std::process::abort();
    }
}
