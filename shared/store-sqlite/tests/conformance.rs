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

mod accounts {
    use super::fresh;
    mailbox_conformance::accounts_suite!(fresh());
}

/// Two handles on one database file, as two processes would have.
mod instances {
    use mailbox_conformance::instances::Backing;
    use mailbox_store_sqlite::{QueueConfig, SqliteStore};
    use std::sync::Arc;

    async fn two() -> (Backing, Backing, tempfile::TempDir) {
        let dir = tempfile::Builder::new().prefix("mailbox-instances-").tempdir().unwrap();
        let org = mailbox_domain::Organisation::guangan();
        let open = || {
            let queues = QueueConfig { queues: mailbox_app::service::queue_names(&org), max_receives: 5 };
            let store = Arc::new(SqliteStore::open(dir.path().join("mailbox.db"), queues).unwrap());
            Backing {
                store: store.clone(),
                queue: store.clone(),
                notifier: store.clone(),
                limits: store.clone(),
                accounts: store,
            }
        };
        (open(), open(), dir)
    }

    mailbox_conformance::instances_suite!(two());
}
