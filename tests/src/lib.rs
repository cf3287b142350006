//! Helpers for the end-to-end tests of the Mayor's Mailbox.

pub mod http;

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

use chrono::{DateTime, Utc};
use mailbox_app::ports::ManualClock;
use mailbox_app::{Adapters, App};
use mailbox_domain::{Calendar, Organisation};
use mailbox_store_sqlite::{QueueConfig, SqliteStore};
use std::sync::Arc;

/// An [`App`] on a fresh SQLite database with a clock the test moves. The database's folder is
/// removed when the harness is dropped.
pub struct Harness {
    pub app: Arc<App>,
    pub store: SqliteStore,
    pub clock: Arc<ManualClock>,
    // Removed when the harness is dropped (the store's writer thread may close its connection a
    // moment later; on Linux the unlinked files stay usable until then).
    _dir: tempfile::TempDir,
}

impl Harness {
    pub fn new(label: &str, now: DateTime<Utc>) -> Harness {
        let dir = tempfile::Builder::new().prefix(&format!("mailbox-harness-{label}-")).tempdir().unwrap();
        let org = Arc::new(Organisation::guangan());
        let queues = mailbox_app::service::queue_names(&org);
        let store = SqliteStore::open(dir.path().join("mailbox.db"), QueueConfig { queues, max_receives: 5 }).unwrap();
        let clock = Arc::new(ManualClock::new(now));
        let shared = Arc::new(store.clone());
        let adapters = Adapters {
            store: shared.clone(),
            queue: shared.clone(),
            notifier: shared.clone(),
            clock: clock.clone(),
            limits: shared.clone(),
            topics: shared.clone(),
            discussion: shared.clone(),
            desk: shared.clone(),
            api_keys: shared.clone(),
            attachments: Arc::new(mailbox_store_sqlite::FileAttachments::open(dir.path().join("attachments")).unwrap()),
        };
        Harness { app: Arc::new(App::new(org, Calendar::builtin().clone(), adapters)), store, clock, _dir: dir }
    }
}

impl Harness {
    /// The harness's data folder (the database and the attachments).
    pub fn dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    /// Publishes what the outbox holds on the embedded bus (as the relay worker of `mailbox serve`
    /// does) and takes the messages then waiting in `queue`: the bodies, oldest first.
    pub async fn relayed(&self, queue: &str) -> Vec<String> {
        use mailbox_app::events::{relay_outbox, rules, LocalBus};
        use mailbox_app::ports::{Clock, HandoffQueue};
        let bus = LocalBus { queue: Arc::new(self.store.clone()), rules: rules(&self.app.org) };
        while relay_outbox(&self.store, &bus, self.clock.now()).await.unwrap() > 0 {}
        let mut bodies = Vec::new();
        loop {
            let batch = self.store.receive(queue, 10, std::time::Duration::from_secs(30)).await.unwrap();
            if batch.is_empty() {
                return bodies;
            }
            for m in batch {
                self.store.delete(queue, &m.receipt).await.unwrap();
                bodies.push(m.body);
            }
        }
    }
}

impl Harness {
    /// Runs what `mailbox serve`'s workers run until nothing is left: the relay, then every
    /// queue's consumer (triage, notify, hand-offs).
    pub async fn settle(&self) {
        use mailbox_app::events::{relay_outbox, rules, LocalBus};
        use mailbox_app::ports::{Clock, HandoffQueue};
        let bus = LocalBus { queue: Arc::new(self.store.clone()), rules: rules(&self.app.org) };
        loop {
            let mut work = relay_outbox(&self.store, &bus, self.clock.now()).await.unwrap();
            for queue in mailbox_app::service::queue_names(&self.app.org) {
                for m in self.store.receive(&queue, 10, std::time::Duration::from_secs(30)).await.unwrap() {
                    match queue.as_str() {
                        "triage" => self.app.take_triage(&m.body).await.unwrap(),
                        "notify" => self.app.take_notify(&m.body).await.unwrap(),
                        "jobs" => {
                            self.app.take_job(&m.body).await.unwrap();
                        }
                        _ => {
                            self.app.take_handoff(&m.body).await.unwrap();
                        }
                    }
                    self.store.delete(&queue, &m.receipt).await.unwrap();
                    work += 1;
                }
            }
            if work == 0 {
                return;
            }
        }
    }
}

pub fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}
