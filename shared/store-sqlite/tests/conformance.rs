//! The port conformance suites, run on the SQLite adapters.

use mailbox_conformance::queue::{MAX_RECEIVES, QUEUE_A, QUEUE_B};
use mailbox_store_sqlite::{QueueConfig, SqliteStore};

/// A store on a fresh database, and its folder, removed when the check ends.
async fn fresh() -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::Builder::new().prefix("mailbox-conformance-").tempdir().unwrap();
    let queues = QueueConfig { queues: vec![QUEUE_A.into(), QUEUE_B.into()], max_receives: MAX_RECEIVES };
    (SqliteStore::open(dir.path().join("mailbox.db"), queues).unwrap(), dir)
}

mailbox_conformance::case_store_suite!(fresh());

mod queue {
    use super::fresh;
    mailbox_conformance::queue_suite!(fresh());
}
