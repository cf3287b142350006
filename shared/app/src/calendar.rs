//! The working-day calendar of a running application: imported holiday notices reach every
//! instance, and the deadlines of open cases are recomputed by a background job.
//!
//! An import stores the notice and raises the stored calendar version in one step. Every instance
//! compares its own version with the stored one at most once per refresh interval (a single cheap
//! read) and reloads the notices when they differ, so a notice imported on one instance is used by
//! all within that interval. The import then queues the recomputation job on the `jobs` queue,
//! delayed by a little more than the interval, so that by the time it runs every instance already
//! computes new deadlines with the new notice. The job walks the cases with a running deadline a
//! chunk at a time; each chunk queues the next one with its cursor, so a crash only repeats the
//! chunk it interrupted. Recomputing a case twice for one calendar changes nothing the second time
//! (the workflow answers "unchanged"), so each case changes once, and the end of the walk is recorded
//! once per version.

use crate::error::AppError;
use crate::service::App;
use mailbox_domain::workflow::Command;
use mailbox_domain::{Actor, Calendar, CaseId};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use utoipa::ToSchema;

/// The queue of background jobs (today: recomputing deadlines after a calendar import).
pub const JOBS_QUEUE: &str = "jobs";

/// Published cases one `Republish` job message masks again.
pub const REPUBLISH_CHUNK: usize = 100;

/// How often an instance compares its calendar with the stored one: the longest time a newly
/// imported notice takes to reach every instance.
pub const CALENDAR_REFRESH: Duration = Duration::from_secs(60);

/// Cases recomputed per job message by default: small enough for one Lambda invocation's time limit.
pub const RECOMPUTE_CHUNK: usize = 100;

/// The calendar an instance works with, and the stored version it was loaded at.
pub(crate) struct LoadedCalendar {
    pub calendar: Arc<Calendar>,
    pub version: u64,
    /// When this instance last compared its version with the store's (app clock).
    pub checked: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CalendarImport {
    pub year: i32,
    pub days: usize,
    pub published: bool,
    pub replaced: bool,
    /// The stored calendar version this import made (0 when nothing was stored).
    pub version: u64,
    /// Whether the recomputation of open deadlines was queued (it runs in the background).
    pub recompute_queued: bool,
}

/// A background job, as it travels on the `jobs` queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "snake_case")]
pub enum Job {
    /// Recompute the running deadlines with calendar `calendar_version`, from cursor `after`.
    RecomputeDeadlines {
        calendar_version: u64,
        #[serde(default)]
        after: Option<String>,
    },
    /// Mask the published texts masked with older rules again (and publish those stored before
    /// texts were masked at publication), a chunk at a time, queueing itself until none is left.
    Republish,
}

/// What one job message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobOutcome {
    /// A chunk done and the next one queued; `failed` cases could not be recomputed (logged).
    Continued { recomputed: usize, failed: usize },
    /// The last chunk done; `recorded` is false when another run of the job had recorded the end.
    Finished { recomputed: usize, failed: usize, recorded: bool },
    /// A newer calendar was imported meanwhile; its own job walks every case again.
    Superseded,
}

impl App {
    pub fn calendar(&self) -> Arc<Calendar> {
        self.calendar.read().expect("calendar lock").calendar.clone()
    }

    /// The stored calendar version this instance's calendar was loaded at.
    pub fn calendar_version(&self) -> u64 {
        self.calendar.read().expect("calendar lock").version
    }

    /// How often this instance looks for a newer stored calendar (default [`CALENDAR_REFRESH`]).
    /// The recomputation job after an import waits a little longer than this before it starts.
    pub fn set_calendar_refresh(&self, every: Duration) {
        *self.calendar_refresh.lock().expect("refresh lock") = every;
    }

    /// Cases recomputed per job message (default [`RECOMPUTE_CHUNK`]).
    pub fn set_recompute_chunk(&self, n: usize) {
        self.recompute_chunk.store(n.max(1), std::sync::atomic::Ordering::Relaxed);
    }

    fn calendar_refresh(&self) -> Duration {
        *self.calendar_refresh.lock().expect("refresh lock")
    }

    /// Loads the stored holiday notices over the base calendar, with the stored version (at start,
    /// and whenever the stored version changed). Returns the number of stored notices.
    pub async fn load_stored_notices(&self) -> Result<usize, AppError> {
        let crate::ports::StoredCalendar { state, notices } = self.store.notices().await?;
        let mut calendar = (*self.base_calendar).clone();
        for (year, json) in &notices {
            calendar
                .import_holiday_cn(json)
                .map_err(|e| AppError::Internal(format!("stored holiday notice {year} is invalid: {e}")))?;
        }
        let mut loaded = self.calendar.write().expect("calendar lock");
        // Never back to an older version (a slower reload finishing after a newer one).
        if state.version >= loaded.version {
            loaded.calendar = Arc::new(calendar);
            loaded.version = state.version;
        }
        loaded.checked = Some(self.now());
        Ok(notices.len())
    }

    /// Compares this instance's calendar version with the stored one, at most once per refresh
    /// interval, and reloads the notices when they differ. A failure is logged and tried again at
    /// the next use: the calendar in hand stays valid meanwhile.
    pub(crate) async fn refresh_calendar(&self) {
        let now = self.now();
        {
            let mut loaded = self.calendar.write().expect("calendar lock");
            let every = chrono::Duration::from_std(self.calendar_refresh()).unwrap_or(chrono::Duration::MAX);
            if loaded.checked.is_some_and(|t| now >= t && now - t < every) {
                return;
            }
            loaded.checked = Some(now);
        }
        let stored = match self.store.calendar_state().await {
            Ok(state) => state.version,
            Err(e) => {
                tracing::warn!(error = %e, "calendar version not read; keeping the calendar in hand");
                self.calendar.write().expect("calendar lock").checked = None;
                return;
            }
        };
        if stored != self.calendar_version() {
            match self.load_stored_notices().await {
                Ok(n) => tracing::info!(version = stored, notices = n, "newer holiday notices loaded"),
                Err(e) => {
                    tracing::warn!(error = %e, "holiday notices not reloaded");
                    self.calendar.write().expect("calendar lock").checked = None;
                }
            }
        }
    }

    /// Imports a holiday notice (holiday-cn JSON): checks it, stores it (raising the calendar
    /// version) and queues the recomputation of open deadlines, which records each change in the
    /// case's audit trail. Returns at once; the job runs in the background.
    pub async fn import_calendar(&self, json: &str) -> Result<CalendarImport, AppError> {
        let mut calendar = (*self.calendar()).clone();
        let summary = calendar
            .import_holiday_cn(json)
            .map_err(|e| AppError::invalid("invalid_calendar", "file", format!("节假日文件格式不正确：{e}")))?;
        let mut result = CalendarImport {
            year: summary.year,
            days: summary.days,
            published: summary.published,
            replaced: summary.replaced,
            version: 0,
            recompute_queued: false,
        };
        if !summary.published {
            return Ok(result);
        }
        result.version = self.store.save_notice(summary.year, json).await?;
        // Reload rather than keep `calendar`: a notice imported meanwhile on another instance is
        // in the store too.
        self.load_stored_notices().await?;
        let job = Job::RecomputeDeadlines { calendar_version: result.version, after: None };
        let delay = (self.calendar_refresh() + Duration::from_secs(5)).min(Duration::from_secs(900));
        let delay = if self.calendar_refresh().is_zero() { Duration::ZERO } else { delay };
        self.queue.send_delayed(JOBS_QUEUE, &serde_json::to_string(&job).expect("jobs serialise"), delay).await?;
        result.recompute_queued = true;
        tracing::info!(year = result.year, version = result.version, "holiday notice imported; recomputation queued");
        Ok(result)
    }

    /// Takes one message of the `jobs` queue (the embedded worker, or the `deadlines` function on
    /// AWS). An unreadable message is an error, so the queue retries it and dead-letters it.
    pub async fn take_job(&self, body: &str) -> Result<JobOutcome, AppError> {
        let job: Job = serde_json::from_str(body)
            .map_err(|e| AppError::invalid("malformed_job", "body", format!("job message unreadable: {e}")))?;
        match job {
            Job::RecomputeDeadlines { calendar_version, after } => {
                self.recompute_chunk(calendar_version, after.as_deref()).await
            }
            Job::Republish => {
                let done = self.republish_stale(REPUBLISH_CHUNK).await?;
                let failed = done.read - done.written;
                if done.more(REPUBLISH_CHUNK) {
                    self.queue
                        .send(JOBS_QUEUE, &serde_json::to_string(&Job::Republish).expect("jobs serialise"))
                        .await?;
                    return Ok(JobOutcome::Continued { recomputed: done.written, failed });
                }
                tracing::info!(written = done.written, "published texts masked with the current rules");
                Ok(JobOutcome::Finished { recomputed: done.written, failed, recorded: true })
            }
        }
    }

    async fn recompute_chunk(&self, version: u64, after: Option<&str>) -> Result<JobOutcome, AppError> {
        if self.calendar_version() < version {
            self.load_stored_notices().await?;
        }
        let stored = self.store.calendar_state().await?;
        if stored.version > version {
            tracing::info!(version, newer = stored.version, "recomputation superseded by a newer calendar");
            return Ok(JobOutcome::Superseded);
        }
        if self.calendar_version() < version {
            return Err(AppError::Internal(format!("calendar version {version} not readable yet")));
        }
        let chunk = self.recompute_chunk.load(std::sync::atomic::Ordering::Relaxed);
        let page = self.store.running_deadlines(after, chunk).await?;
        let (mut recomputed, mut failed) = (0, 0);
        for case in &page.cases {
            // One case that cannot be recomputed must not hold back all the others: it is logged
            // (at ERROR level, which alarms) and keeps its deadline until staff look at it.
            match self.recompute_one(&case.id).await {
                Ok(true) => recomputed += 1,
                Ok(false) => {}
                Err(e) => {
                    tracing::error!(case = %case.id, version, error = %e, "deadline not recomputed");
                    failed += 1;
                }
            }
        }
        match page.next {
            Some(next) => {
                let job = Job::RecomputeDeadlines { calendar_version: version, after: Some(next) };
                self.queue.send(JOBS_QUEUE, &serde_json::to_string(&job).expect("jobs serialise")).await?;
                Ok(JobOutcome::Continued { recomputed, failed })
            }
            None => {
                let recorded = self.store.finish_recompute(version).await?;
                if recorded {
                    tracing::info!(version, "recomputation of open deadlines finished");
                }
                Ok(JobOutcome::Finished { recomputed, failed, recorded })
            }
        }
    }

    /// Recomputes one case's deadline with this instance's calendar; true when it changed.
    async fn recompute_one(&self, id: &CaseId) -> Result<bool, AppError> {
        for _ in 0..5 {
            match self.act(&Actor::system(), id, None, Command::RecomputeDeadline).await {
                Ok(_) => return Ok(true),
                // Already computed with this calendar, or no longer running: nothing to do.
                Err(AppError::Conflict { code: "unchanged" | "illegal_transition", .. } | AppError::NotFound) => {
                    return Ok(false)
                }
                // Someone wrote the case between our read and write: read it again.
                Err(AppError::Conflict { code: "stale_version", .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(AppError::Internal(format!("case {id} kept changing during recomputation")))
    }
}
