//! The port conformance suites, run on the SQLite adapters.

use mailbox_conformance::queue::{MAX_RECEIVES, QUEUE_A, QUEUE_B};
use mailbox_store_sqlite::{QueueConfig, SqliteStore};

async fn fresh() -> SqliteStore {
    let dir = std::env::temp_dir().join(format!("mailbox-conformance-{}", hex::encode(rand::random::<[u8; 8]>())));
    std::fs::create_dir_all(&dir).unwrap();
    let queues = QueueConfig { queues: vec![QUEUE_A.into(), QUEUE_B.into()], max_receives: MAX_RECEIVES };
    SqliteStore::open(dir.join("mailbox.db"), queues).unwrap()
}

mailbox_conformance::case_store_suite!(fresh());

mod queue {
    use super::fresh;
    mailbox_conformance::queue_suite!(fresh());
}
