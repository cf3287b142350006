//! The use cases. Every deployment calls these; only the adapters behind the ports differ.

use crate::calendar::{LoadedCalendar, CALENDAR_REFRESH};
use crate::delivery::Topic;
use crate::error::AppError;
use crate::events::Envelope;
use crate::input::SubmitRequest;
use crate::limiter::{self, QUERY_CODE};
use crate::ports::{
    AttemptStore, CaseQuery, CaseStore, Clock, CreateOutcome, HandoffQueue, IdempotencyRecord, Notification, Notifier,
    Numbering, Scope,
};
use crate::views::{self, CaseSummary, CitizenCaseView, StaffCaseView};
use chrono::{DateTime, Timelike, Utc};
use mailbox_domain::case::Case;
use mailbox_domain::deadline::cst;
use mailbox_domain::events::{DetailType, DomainEvent};
use mailbox_domain::stats::{change_deltas, counter_deltas};
use mailbox_domain::workflow::{AuditEvent, Command, Context, Intake, WorkflowError};
use mailbox_domain::{
    authorize, can_view, Action, Actor, Calendar, CaseId, CaseNumber, CaseStatus, Organisation, Role,
};
use rand::Rng;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use utoipa::ToSchema;

/// Characters of query codes: no 0/O, 1/I/L, so that codes read aloud or copied by hand survive.
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
const CODE_LEN: usize = 10;

/// The queue of newly submitted cases, consumed by the triage step.
pub const TRIAGE_QUEUE: &str = "triage";

/// The queue of events that bring notifications (the `notify` consumer).
pub const NOTIFY_QUEUE: &str = "notify";

/// The queue through which a jurisdiction takes in cases dispatched to its units.
pub fn handoff_queue(jurisdiction: &str) -> String {
    format!("handoff-{jurisdiction}")
}

/// Every queue the application uses: triage, background jobs, notifications, and one hand-off
/// queue per jurisdiction.
pub fn queue_names(org: &Organisation) -> Vec<String> {
    [TRIAGE_QUEUE.to_owned(), crate::calendar::JOBS_QUEUE.to_owned(), NOTIFY_QUEUE.to_owned()]
        .into_iter()
        .chain(org.jurisdictions.iter().map(|j| handoff_queue(j.id.as_str())))
        .collect()
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Submitted {
    /// The case number (留言编号).
    pub number: String,
    /// The secret to follow the case (查询码); shown once, keep it.
    pub query_code: String,
    pub status: CaseStatus,
    pub submitted_at: DateTime<Utc>,
    /// True when this answers a retry with the same Idempotency-Key.
    pub replayed: bool,
    /// The case's internal id (for the caller's own use: never in an answer to the public).
    #[serde(skip)]
    #[schema(ignore)]
    pub case_id: CaseId,
}

/// Cases read per page by an export.
const EXPORT_PAGE: usize = 500;

/// How near its deadline an open case is (the lists' 紧急程度 filter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    Overdue,
    DueSoon,
    Normal,
}

impl Urgency {
    pub fn parse(s: &str) -> Result<Option<Urgency>, AppError> {
        match s.trim() {
            "" => Ok(None),
            "overdue" => Ok(Some(Urgency::Overdue)),
            "due_soon" => Ok(Some(Urgency::DueSoon)),
            "normal" => Ok(Some(Urgency::Normal)),
            _ => Err(AppError::invalid("invalid_urgency", "urgency", "紧急程度应为 overdue、due_soon 或 normal")),
        }
    }
}

/// What a staff list asks for besides the actor's scope.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub statuses: Vec<CaseStatus>,
    /// A case number, or words of the title.
    pub q: Option<String>,
    /// Cases this unit handles.
    pub unit: Option<mailbox_domain::UnitId>,
    pub urgency: Option<Urgency>,
}

impl ListFilter {
    /// The case number `q` is, when it looks like one (letters then digits, no spaces; typed in
    /// either case): numbers are looked up, not searched for.
    pub fn number(&self) -> Option<String> {
        let q = self.q.as_deref()?.trim().to_ascii_uppercase();
        let letters = q.bytes().take_while(u8::is_ascii_uppercase).count();
        let looks = (6..=32).contains(&q.len()) && letters >= 1 && q.bytes().skip(letters).all(|b| b.is_ascii_digit());
        looks.then_some(q)
    }
}

/// A page of a staff list; `next` continues after its last case.
#[derive(Debug, Clone, Serialize)]
pub struct InboxPage {
    pub items: Vec<CaseSummary>,
    pub next: Option<String>,
}

/// What a deadline sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    /// Cases read (only those with an alarm due).
    pub examined: usize,
    pub urged: usize,
    pub escalated: usize,
    pub already_done: usize,
    /// Cases that could not be acted on (logged one by one at ERROR level; they stay due, so the
    /// next sweep tries again). One bad case never stops the sweep.
    pub failed: usize,
}

pub struct App {
    pub org: Arc<Organisation>,
    /// The built-in notices (and any given at start): stored notices are loaded over it.
    pub(crate) base_calendar: Arc<Calendar>,
    pub(crate) calendar: RwLock<LoadedCalendar>,
    pub(crate) calendar_refresh: Mutex<Duration>,
    pub(crate) recompute_chunk: std::sync::atomic::AtomicUsize,
    pub store: Arc<dyn CaseStore>,
    pub queue: Arc<dyn HandoffQueue>,
    pub notifier: Arc<dyn Notifier>,
    pub clock: Arc<dyn Clock>,
    pub limits: Arc<dyn AttemptStore>,
    pub topics: Arc<dyn crate::opinion::TopicStore>,
    pub discussion: Arc<dyn crate::discussion::DiscussionStore>,
    pub desk: Arc<dyn crate::desk::OpinionDesk>,
    /// Other systems' API keys (Open311).
    pub api_keys: Arc<dyn crate::open311::ApiKeyStore>,
    /// Citizens' attachment files.
    pub attachments: Arc<dyn crate::attachments::AttachmentStore>,
    sweep_concurrency: std::sync::atomic::AtomicUsize,
    /// The largest total of files one request may carry on this deployment (`set_upload_limit`).
    upload_limit: std::sync::atomic::AtomicUsize,
    /// Built on first use: only the triage worker needs it, and its dictionary takes a moment to load.
    triage: std::sync::OnceLock<mailbox_triage::Triage>,
    /// Delivery of notifications by e-mail and SMS (`set_delivery`); unset: the outbox only.
    pub(crate) delivering: std::sync::OnceLock<crate::notify::Delivering>,
}

/// The adapters an [`App`] runs on.
pub struct Adapters {
    pub store: Arc<dyn CaseStore>,
    pub queue: Arc<dyn HandoffQueue>,
    pub notifier: Arc<dyn Notifier>,
    pub clock: Arc<dyn Clock>,
    /// Counted attempts (query codes): shared by every instance on the same store.
    pub limits: Arc<dyn AttemptStore>,
    /// Topic-finding's entries, topics and weekly counters (舆情).
    pub topics: Arc<dyn crate::opinion::TopicStore>,
    /// 政民互动 topics and comments.
    pub discussion: Arc<dyn crate::discussion::DiscussionStore>,
    /// The 舆情 desk's items.
    pub desk: Arc<dyn crate::desk::OpinionDesk>,
    /// Other systems' API keys (Open311).
    pub api_keys: Arc<dyn crate::open311::ApiKeyStore>,
    /// Citizens' attachment files.
    pub attachments: Arc<dyn crate::attachments::AttachmentStore>,
}

fn digest(case: &CaseId, code: &str) -> String {
    hex::encode(Sha256::digest(format!("{case}:{code}").as_bytes()))
}

/// Compares in time independent of where the strings differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl App {
    pub fn new(org: Arc<Organisation>, calendar: Calendar, adapters: Adapters) -> App {
        let calendar = Arc::new(calendar);
        App {
            org,
            base_calendar: calendar.clone(),
            calendar: RwLock::new(LoadedCalendar { calendar, version: 0, checked: None }),
            calendar_refresh: Mutex::new(CALENDAR_REFRESH),
            recompute_chunk: std::sync::atomic::AtomicUsize::new(crate::calendar::RECOMPUTE_CHUNK),
            store: adapters.store,
            queue: adapters.queue,
            notifier: adapters.notifier,
            clock: adapters.clock,
            limits: adapters.limits,
            topics: adapters.topics,
            discussion: adapters.discussion,
            desk: adapters.desk,
            api_keys: adapters.api_keys,
            attachments: adapters.attachments,
            sweep_concurrency: std::sync::atomic::AtomicUsize::new(16),
            upload_limit: std::sync::atomic::AtomicUsize::new(
                mailbox_domain::case::MAX_ATTACHMENTS * crate::attachments::MAX_FILE_BYTES,
            ),
            triage: std::sync::OnceLock::new(),
            delivering: std::sync::OnceLock::new(),
        }
    }

    /// How many cases the deadline sweep acts on at once: 16 by default, so that a group-commit
    /// store writes them together; 1 where concurrent changes only contend for shared counter items
    /// (DynamoDB transactions).
    pub fn set_sweep_concurrency(&self, n: usize) {
        self.sweep_concurrency.store(n.max(1), std::sync::atomic::Ordering::Relaxed);
    }

    /// The most bytes of files one message may carry here: three full files in the embedded host;
    /// on AWS what fits in Lambda's 6 MB request after API Gateway's base64 (the form says so).
    pub fn set_upload_limit(&self, bytes: usize) {
        self.upload_limit.store(bytes, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn upload_limit(&self) -> usize {
        self.upload_limit.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// A citizen submits a message. With an idempotency key, a retry within a day returns the first
    /// answer and takes no case number.
    pub async fn submit(&self, request: &SubmitRequest, idempotency_key: Option<&str>) -> Result<Submitted, AppError> {
        self.submit_via(request, idempotency_key, Intake::default()).await
    }

    /// `submit` for a message that came through another system (Open311) or with a location.
    pub async fn submit_via(
        &self,
        request: &SubmitRequest,
        idempotency_key: Option<&str>,
        intake: Intake,
    ) -> Result<Submitted, AppError> {
        let new = request.parse(&self.org)?;
        self.refresh_calendar().await;
        let now = self.now();
        let query_code = new_query_code();
        let record = idempotency_key.map(|key| IdempotencyRecord {
            key_digest: idempotency_digest(key),
            fingerprint: fingerprint(request, &intake),
            sealed_code: seal_code(key, &query_code),
            created_at: now,
        });
        // The day's next number is taken by the store with the case itself: a retry (answered from
        // its idempotency record), a refused or a failed write takes none, so the numbers of a day
        // have no gaps. Until then the case carries the sequence's number 0.
        let day = now.with_timezone(&cst()).format("%Y%m%d").to_string();
        let numbering =
            Numbering { sequence: format!("case-number:{day}"), prefix: format!("{}{day}", self.org.case_prefix) };
        let id = CaseId::new(format!("c{}", hex::encode(rand::thread_rng().gen::<[u8; 12]>())));
        let calendar = self.calendar();
        let ctx = Context { org: &self.org, calendar: &calendar, now };
        let (mut case, event) =
            Case::submit_via(&ctx, id.clone(), numbering.number(0), digest(&id, &query_code), new, intake)?;
        let counters = counter_deltas(None, &case);
        // The `CaseSubmitted` event is stored with the case: the bus brings it to triage, however
        // soon after the commit this process stops.
        let domain = DomainEvent::of(&self.org, &case, &event);
        match self.store.create(&case, &event, &domain, &counters, record.as_ref(), Some(&numbering)).await? {
            CreateOutcome::Created(number) => {
                case.number = number;
                tracing::info!(case = %case.id, number = %case.number, mailbox = %case.mailbox, "case submitted");
                crate::failpoint::after_commit();
                Ok(Submitted {
                    number: case.number.to_string(),
                    query_code,
                    status: case.status,
                    submitted_at: case.submitted_at,
                    replayed: false,
                    case_id: case.id.clone(),
                })
            }
            // A retry, or two first tries with one key at the same moment: the first case.
            outcome => replayed(outcome, idempotency_key.unwrap_or_default()),
        }
    }

    /// Finds the citizen's case by number and query code, with its trail. Every try takes an
    /// attempt under the case number and under the client's address before the code is checked —
    /// one atomic step in the store, so tries sent at once to many instances all count, and before
    /// anything that depends on the code, so a try at the limit is answered alike whatever the code
    /// — and a right code gives them back (the caller does, with the keys returned): 5 wrong codes
    /// per number or per client in 15 minutes, then `RateLimited`.
    async fn citizen_case(&self, number: &str, query_code: &str, client: &str) -> Result<CitizenCase, AppError> {
        self.refresh_calendar().await;
        let keys = [limiter::key("qn", number), limiter::key("qc", client)];
        limiter::take_all(self.limits.as_ref(), &keys, QUERY_CODE, self.now()).await?;
        // A case number is short: anything longer is no number and is not looked up.
        let found = if number.len() <= 32 { self.store.by_number(&CaseNumber::new(number)).await? } else { None };
        let code = query_code.trim().to_ascii_uppercase();
        match found {
            Some((case, trail)) if same(&case.query_code_digest, &digest(&case.id, &code)) => {
                Ok(CitizenCase { case, trail, taken: keys.to_vec() })
            }
            _ => Err(AppError::NotFound),
        }
    }

    pub async fn citizen_view(
        &self,
        number: &str,
        query_code: &str,
        client: &str,
    ) -> Result<CitizenCaseView, AppError> {
        let found = self.citizen_case(number, query_code, client).await?;
        limiter::give_back_all(self.limits.as_ref(), &found.taken).await;
        Ok(views::citizen_view(&self.org, &found.case, &found.trail))
    }

    pub async fn citizen_rate(
        &self,
        number: &str,
        query_code: &str,
        client: &str,
        satisfied: bool,
        comment: String,
    ) -> Result<CitizenCaseView, AppError> {
        let CitizenCase { case, mut trail, taken } = self.citizen_case(number, query_code, client).await?;
        let actor = Actor::citizen(case.id.clone());
        let command = Command::Rate { satisfied, comment };
        // Written over the case as the number found it, the attempts given back in the same
        // transaction. The number's index may lag a moment behind a change: then the rating goes
        // over the current version (the workflow still decides), and so does a refusal.
        let rated = self.act_on_releasing(&actor, case.clone(), Some(case.version), command.clone(), &taken).await;
        let (case, events) = match rated {
            Ok((case, events)) => (case, events),
            Err(e) => {
                // Refused (the workflow, a changed version): nothing was written, the attempts go
                // back. A store failure may have committed the rating with its give-backs: they
                // stay counted rather than be given back twice.
                if !matches!(e, AppError::Internal(_)) {
                    limiter::give_back_all(self.limits.as_ref(), &taken).await;
                }
                match e {
                    AppError::Conflict { code: "stale_version", .. } => {
                        let case = self.act(&actor, &case.id, None, command).await?;
                        trail = self.store.events(&case.id).await?;
                        (case, Vec::new())
                    }
                    other => return Err(other),
                }
            }
        };
        trail.extend(events);
        Ok(views::citizen_view(&self.org, &case, &trail))
    }

    /// A staff (or system) action on a case, written over `expected_version` when given.
    pub async fn act(
        &self,
        actor: &Actor,
        id: &CaseId,
        expected_version: Option<u64>,
        command: Command,
    ) -> Result<Case, AppError> {
        let case = self.store.get(id).await?.ok_or(AppError::NotFound)?;
        self.act_on(actor, case, expected_version, command).await
    }

    /// `act` on a case already read: written over the version it was read at (a change since is a
    /// conflict, as in `act`), without reading it again.
    pub async fn act_on(
        &self,
        actor: &Actor,
        case: Case,
        expected_version: Option<u64>,
        command: Command,
    ) -> Result<Case, AppError> {
        self.act_on_releasing(actor, case, expected_version, command, &[]).await.map(|(case, _)| case)
    }

    /// `act_on`, giving back an attempt under each key of `released` in the change's transaction;
    /// the case as changed and the audit events the change added.
    async fn act_on_releasing(
        &self,
        actor: &Actor,
        mut case: Case,
        expected_version: Option<u64>,
        command: Command,
        released: &[String],
    ) -> Result<(Case, Vec<AuditEvent>), AppError> {
        self.refresh_calendar().await;
        if !can_view(actor, &case) {
            return Err(AppError::NotFound);
        }
        if expected_version.is_some_and(|v| !case.is_current(v)) {
            return Err(AppError::stale());
        }
        let before = case.clone();
        let calendar = self.calendar();
        let ctx = Context { org: &self.org, calendar: &calendar, now: self.now() };
        let mut original = None;
        if matches!(command, Command::Merge { .. } | Command::Reject { .. }) {
            // Who, and from which status, first (a dry run): then what only the store can tell.
            case.clone().apply(&ctx, actor, command.clone())?;
            // A case others were merged into is their original: it may not itself be merged (their
            // reply would never come) nor found invalid (it would never be answered).
            let merged = self.store.merged_into(&case.number).await?;
            if !merged.is_empty() {
                let message = format!("已有 {} 件重复留言并入本留言，请先撤销这些并单", merged.len());
                return Err(AppError::invalid("has_merged_cases", "merged", message));
            }
            if let Command::Merge { into } = &command {
                original = Some(self.merge_target(actor, &case, into).await?);
            }
        }
        let triaged = matches!(command, Command::RecordTriage { .. });
        let events = case.apply(&ctx, actor, command)?;
        // Published (or withdrawn) with the change itself: masked here, once, never on a read.
        crate::published::refresh(&mut case);
        let counters = change_deltas(&before, &case, &events, &calendar);
        // The domain events go with the change (a dispatch's to the hand-off queue by the bus), and
        // so do the staff notifications they bring (the `notify` consumer delivers them).
        let domain = DomainEvent::of_change(&self.org, &case, &events);
        let mut notifications = self.notifications_for(&case, &domain);
        if triaged {
            // "A new message waits" (urgent ones marked) goes with triage's record: no write of its own.
            notifications.extend(intake_notifications(&self.org, &case));
        }
        self.store.update_releasing(&case, &before, &events, &domain, &counters, &notifications, released).await?;
        tracing::info!(case = %case.id, version = case.version, user = %actor.user, events = events.len(), "case updated");
        crate::failpoint::after_commit();
        if let Some(original) = original {
            // Answered between the check and the merge: the reply's own sharing may have read the
            // merged cases before this one was among them, so share it from here too (once either way).
            let now = self.store.get(&original.id).await?.unwrap_or(original);
            if now.reply.is_some() {
                // The merge itself is done: a lost race here is the triage consumer's to finish.
                return match Box::pin(self.share_reply(&now, &case)).await {
                    Err(AppError::Conflict { .. }) => Ok((case, events)),
                    Ok(shared) => Ok((shared, events)),
                    Err(e) => Err(e),
                };
            }
        }
        Ok((case, events))
    }

    /// The original a case may be merged into (并单): an earlier case of the same dispatcher, not
    /// merged itself and not yet answered. Anything else is refused without saying whether a case
    /// of another dispatcher exists under that number.
    async fn merge_target(&self, actor: &Actor, case: &Case, into: &CaseNumber) -> Result<Case, AppError> {
        let refuse = |code: &'static str, message: String| Err(AppError::invalid(code, "into", message));
        let well_formed =
            (1..=32).contains(&into.as_str().len()) && into.as_str().bytes().all(|b| b.is_ascii_alphanumeric());
        if !well_formed {
            return refuse("merge_original_unknown", "原留言编号格式不正确".into());
        }
        let original = self.store.get_by_number(into).await?;
        let Some(original) = original.filter(|o| o.dispatcher == case.dispatcher && can_view(actor, o)) else {
            return refuse("merge_original_unknown", format!("本单位受理的留言中没有编号为 {into} 的留言"));
        };
        if original.id == case.id {
            return refuse("merge_into_itself", "不能并入留言本身".into());
        }
        if let Some(earlier) = &original.merged_into {
            return refuse("merge_original_merged", format!("{into} 本身已并入 {earlier}，请并入 {earlier}"));
        }
        if (original.submitted_at, original.id.as_str()) > (case.submitted_at, case.id.as_str()) {
            return refuse("merge_original_later", format!("{into} 晚于本留言提交，只能将后来的留言并入先前的留言"));
        }
        if !original.status.is_open() {
            return refuse(
                "merge_original_closed",
                format!("{into} 的状态为“{}”，不能再并入；本留言请直接办理", original.status.label()),
            );
        }
        Ok(original)
    }

    /// Gives `merged` the reply of `original` (并单): the text with the original citizen's personal
    /// data masked, public only where this citizen agreed to publication. Once: a second call
    /// changes nothing.
    async fn share_reply(&self, original: &Case, merged: &Case) -> Result<Case, AppError> {
        let Some(reply) = &original.reply else { return Ok(merged.clone()) };
        let names = [original.citizen.name.as_str()];
        let copy = mailbox_domain::case::Reply {
            text: mailbox_domain::mask::mask_personal_data(&reply.text, &names),
            ..reply.clone()
        };
        let command = Command::ShareReply { from: original.number.clone(), reply: Box::new(copy) };
        match self.act(&Actor::system(), &merged.id, None, command).await {
            Ok(updated) => Ok(updated),
            Err(AppError::Conflict { code: "unchanged", .. }) => {
                Ok(self.store.get(&merged.id).await?.unwrap_or_else(|| merged.clone()))
            }
            Err(e) => Err(e),
        }
    }

    /// After an original's reply (the bus brings its `CaseReplied`): every case merged into it and
    /// still without an answer gets the reply. Idempotent.
    pub async fn share_replies(&self, original: &CaseId) -> Result<usize, AppError> {
        let Some(original) = self.store.get(original).await? else { return Ok(0) };
        if original.reply.is_none() {
            return Ok(0);
        }
        let mut shared = 0;
        for merged in self.store.merged_into(&original.number).await? {
            if merged.reply.is_none() && merged.status == CaseStatus::Merged {
                self.share_reply(&original, &merged).await?;
                shared += 1;
            }
        }
        Ok(shared)
    }

    /// Notifications of a change: those of its domain events ([`notifications_of`]).
    fn notifications_for(&self, case: &Case, domain: &[DomainEvent]) -> Vec<Notification> {
        let title = views::masked_title(case);
        domain.iter().flat_map(|e| notifications_of(&self.org, &title, e)).collect()
    }

    pub async fn staff_view(&self, actor: &Actor, id: &CaseId) -> Result<StaffCaseView, AppError> {
        let case = self.store.get(id).await?.ok_or(AppError::NotFound)?;
        if !can_view(actor, &case) {
            return Err(AppError::NotFound);
        }
        self.view_of(actor, case).await
    }

    /// The view of a case the actor has just acted on. It is built even when the action took the
    /// case out of the actor's sight (a unit returning it), so that the actor sees what they did.
    pub async fn view_of(&self, actor: &Actor, case: Case) -> Result<StaffCaseView, AppError> {
        self.refresh_calendar().await;
        let events = self.store.events(&case.id).await?;
        let calendar = self.calendar();
        let personal = authorize(actor, Action::ViewPersonalData, &case).is_ok();
        let allowed_actions =
            if can_view(actor, &case) { self.allowed_actions(actor, &case, &calendar) } else { Vec::new() };
        let deadline = case.deadline.as_ref().and_then(|d| d.explain(&calendar).ok());
        let mailbox_name = self.org.mailbox(&case.mailbox).map_or_else(|| case.mailbox.to_string(), |m| m.name.clone());
        let (case, events) = if personal {
            (case, events)
        } else {
            let names = [case.citizen.name.as_str()];
            let events = events.iter().map(|e| views::event_without_personal_data(e, &names)).collect();
            (views::without_personal_data(&case), events)
        };
        Ok(StaffCaseView { case, mailbox_name, personal_data_visible: personal, events, deadline, allowed_actions })
    }

    /// Actions the actor may take now: allowed by the access rules and by the case's status.
    fn allowed_actions(&self, actor: &Actor, case: &Case, calendar: &Calendar) -> Vec<Action> {
        let ctx = Context { org: &self.org, calendar, now: self.now() };
        probe_commands(case)
            .into_iter()
            .filter(|cmd| {
                let mut probe = case.clone();
                match probe.apply(&ctx, actor, cmd.clone()) {
                    Ok(_) => true,
                    // The probe's placeholder text may be refused; the action itself is possible.
                    Err(WorkflowError::Invalid { .. } | WorkflowError::Deadline(_)) => true,
                    Err(_) => false,
                }
            })
            .map(|cmd| cmd.action())
            .collect()
    }

    /// A page of the actor's cases that pass `filter`, earliest deadline first, from the list
    /// position `after` (the `next` of the page before). Every case in scope is searched: the store
    /// walks its list in order with the filter applied.
    pub async fn inbox(
        &self,
        actor: &Actor,
        filter: &ListFilter,
        limit: usize,
        after: Option<&str>,
    ) -> Result<InboxPage, AppError> {
        let mut query = self.list_query(actor, filter, after)?;
        query.limit = limit.max(1);
        self.refresh_calendar().await;
        let now = self.now();
        let calendar = self.calendar();
        let summaries = |cases: &[Case]| -> Vec<CaseSummary> {
            cases.iter().filter(|c| can_view(actor, c)).map(|c| views::summary(actor, c, now, &calendar)).collect()
        };
        if let Some(number) = filter.number() {
            // A case number: that case, when it is in the actor's scope and passes the filters.
            let case = self.store.get_by_number(&CaseNumber::new(number.as_str())).await?;
            let items =
                case.filter(|c| query.admits(c)).map(|c| summaries(std::slice::from_ref(&c))).unwrap_or_default();
            return Ok(InboxPage { items, next: None });
        }
        let mut page = self.store.list(&query).await?;
        if query.masked_titles && !query.title_terms.is_empty() {
            // The stored terms of a masked title were masked with the rules of the case's last
            // write: checked again with today's, so better rules never leave an older title's
            // words searchable. (The page may be shorter; `next` is the store's.)
            page.cases.retain(|c| {
                let terms = crate::published::index_terms(&views::masked_title(c));
                query.title_terms.iter().all(|t| terms.contains(t))
            });
        }
        Ok(InboxPage { items: summaries(&page.cases), next: page.next })
    }

    /// Every case of a staff list (as `inbox` finds them) as a CSV or XLSX file, a page of cases read
    /// at a time and each row written to a temporary file as it comes: memory holds one page, however
    /// many rows. The file is read from its start and removed when closed.
    pub async fn export_cases(
        &self,
        actor: &Actor,
        filter: &ListFilter,
        format: crate::export::Format,
        headers: &[&str],
        row: impl Fn(&CaseSummary) -> Vec<crate::export::Cell>,
    ) -> Result<std::fs::File, AppError> {
        let mut table = crate::export::FileTable::new(format, "留言列表", headers)?;
        let mut after = None;
        loop {
            let page = self.inbox(actor, filter, EXPORT_PAGE, after.as_deref()).await?;
            for summary in &page.items {
                table.push(row(summary))?;
            }
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        // Compressing the XLSX reads the rows back from disk: off the async threads.
        tokio::task::spawn_blocking(move || table.finish())
            .await
            .map_err(|e| AppError::Internal(format!("export task: {e}")))?
    }

    /// The store query of a staff list: the actor's scope, the filter's statuses, title terms (of
    /// the masked title for supervisors), unit and urgency (as a range of deadline instants).
    pub fn list_query(&self, actor: &Actor, filter: &ListFilter, after: Option<&str>) -> Result<CaseQuery, AppError> {
        let scope = match (actor.role, &actor.unit) {
            (Role::Dispatcher, Some(u)) => Scope::Dispatcher(u.clone()),
            (Role::Handler, Some(u)) => Scope::Handler(u.clone()),
            (Role::Supervisor, _) => Scope::All,
            _ => return Err(AppError::Forbidden("该账号没有留言收件箱".into())),
        };
        if after.is_some_and(|c| crate::ports::parse_list_cursor(c).is_none()) {
            return Err(AppError::invalid("invalid_cursor", "after", "翻页标记无效，请从第一页重新查看"));
        }
        if filter.unit.as_ref().is_some_and(|u| self.org.unit(u).is_none()) {
            return Err(AppError::invalid("unknown_unit", "unit", "单位不存在"));
        }
        let q = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
        if q.is_some_and(|q| q.chars().count() > 50) {
            return Err(AppError::invalid("query_too_long", "q", "搜索词不能超过50个字"));
        }
        let title_terms = match q.filter(|_| filter.number().is_none()) {
            Some(q) => {
                let terms = crate::published::query_words(q);
                if terms.is_empty() {
                    return Err(AppError::invalid("query_too_short", "q", "请输入留言编号，或标题中至少两个字的词语"));
                }
                terms
            }
            None => Vec::new(),
        };
        let due = filter.urgency.map(|u| self.due_range(u));
        Ok(CaseQuery {
            scope,
            statuses: filter.statuses.clone(),
            limit: 0,
            after: after.map(str::to_owned),
            title_terms,
            masked_titles: actor.role == Role::Supervisor,
            unit: filter.unit.clone(),
            due,
        })
    }

    /// The deadline instants (ms, `[from, to)`) of an urgency now, as `views::urgency` decides it:
    /// overdue when the deadline has passed, due soon when it ends by the next working day.
    fn due_range(&self, urgency: Urgency) -> (i64, i64) {
        let now = self.now();
        let calendar = self.calendar();
        let today = mailbox_domain::deadline::cst_date(now);
        // Due soon: the deadline ends by the end of the next working day (inclusive).
        let soon = calendar
            .add_working_days(today, 1)
            .map(|span| mailbox_domain::deadline::end_of_cst_day(span.end).timestamp_millis() + 1)
            .unwrap_or(i64::MAX);
        let now = now.timestamp_millis();
        match urgency {
            Urgency::Overdue => (i64::MIN, now + 1),
            Urgency::DueSoon => (now + 1, soon),
            Urgency::Normal => (soon, i64::MAX),
        }
    }

    /// The `triage` queue consumer. A new case (`CaseSubmitted`): records triage's suggestions on it
    /// (once) and tells its dispatcher a message waits. A triaged case (`CaseTriaged`): finds the
    /// topics and surges it belongs to (舆情) — a step of its own, so that a failure there never
    /// repeats triage and triage's cost does not carry it. A reply: shares it with the cases merged
    /// into the replied one (并单). Idempotent: a redelivered message finds the suggestions
    /// recorded, the notification keyed, the topic entry recorded and the reply shared. An
    /// unreadable message is an error so the queue retries and dead-letters it.
    pub async fn take_triage(&self, body: &str) -> Result<(), AppError> {
        let message = Envelope::parse(body)
            .map_err(|e| AppError::invalid("malformed_triage", "body", format!("triage message unreadable: {e}")))?;
        match message.detail_type {
            DetailType::CaseReplied => self.share_replies(&message.detail.case_id).await.map(|_| ()),
            DetailType::CaseTriaged => {
                let case = self.store.get(&message.detail.case_id).await?.ok_or(AppError::NotFound)?;
                self.watch_topics(&case).await
            }
            _ => self.record_triage(&message).await,
        }
    }

    /// Triage of a submitted case: one read brings the case and the cases before it (its
    /// dispatcher's recent ones, through the end of its submission's second), the suggestions are
    /// written over the case as read, with the notification that a message waits.
    async fn record_triage(&self, message: &Envelope) -> Result<(), AppError> {
        const RECENT: usize = 400;
        // Cases of the same second after this one, read too and left out.
        const SAME_SECOND: usize = 8;
        let detail = &message.detail;
        // `CaseSubmitted`'s time is the submission's, to the second (EventBridge keeps seconds):
        // the list through the end of that second holds the case and its predecessors.
        let second = message.time.with_nanosecond(0).unwrap_or(message.time);
        let through = second + chrono::Duration::milliseconds(999);
        let last = CaseId::new("~"); // after every id
        let mut page = self.store.recent(&detail.dispatcher, (through, &last), RECENT + SAME_SECOND).await?;
        let full = page.len() == RECENT + SAME_SECOND;
        let mut case = match page.iter().position(|c| c.id == detail.case_id) {
            Some(i) => page.remove(i),
            // Not in the index yet (it lags the table a moment), or the event of another second.
            None => self.store.get(&detail.case_id).await?.ok_or(AppError::NotFound)?,
        };
        // Its predecessors as the stores order them: by millisecond, then id.
        let key = |c: &Case| (c.submitted_at.timestamp_millis(), c.id.clone());
        let own = key(&case);
        page.retain(|c| key(c) < own);
        // Fewer than a full list left: the page ended before them (more than a few cases in the
        // same second after it, or the event of another second). Read through the case itself.
        let another_second = case.submitted_at.with_nanosecond(0) != Some(second);
        if page.len() < RECENT && (full || another_second) {
            page = self.store.recent(&case.dispatcher, (case.submitted_at, &case.id), RECENT + 1).await?;
            page.retain(|c| key(c) < own);
        }
        page.truncate(RECENT);
        if case.triage.is_none() {
            let note = self.triage_note(&case, &page);
            let command = Command::RecordTriage { note: Box::new(note) };
            // No expected version: the text triage read never changes, whatever staff did meanwhile.
            // Written over the case as read here; changed by staff since, over the current one.
            let system = Actor::system();
            let recorded = match self.act_on(&system, case.clone(), None, command.clone()).await {
                Err(AppError::Conflict { code: "stale_version", .. }) => {
                    self.act(&system, &case.id, None, command).await
                }
                other => other,
            };
            match recorded {
                Ok(updated) => case = updated,
                // Recorded meanwhile by a redelivery of the same message (the copy read was older):
                // its notifications are the recorded case's.
                Err(AppError::Conflict { code: "unchanged", .. }) => {
                    case = self.store.get(&case.id).await?.ok_or(AppError::NotFound)?;
                }
                Err(e) => return Err(e),
            }
        }
        // Written with the record (a redelivery finds them there); sent now, keyed, so at most once.
        let notifications = intake_notifications(&self.org, &case);
        self.send_notifications(&notifications, Some(case.number.as_str())).await
    }

    /// Triage's suggestions for a case, compared for duplicates with `others`: the 400 cases of its
    /// dispatcher that came just before it, in any status (a citizen who writes again usually does
    /// so within weeks; 400 cases are about two months of the city mailbox).
    fn triage_note(&self, case: &Case, others: &[Case]) -> mailbox_domain::triage::TriageNote {
        use mailbox_triage::{dup::Fingerprint, Message, Recent};
        // The note shows the likely originals' titles to staff who may not see those cases:
        // their titles are kept only with personal data masked.
        let titles: Vec<String> = others.iter().map(views::masked_title).collect();
        let citizens: Vec<String> = others.iter().map(|c| citizen_key(&c.citizen.phone)).collect();
        let recent: Vec<Recent> = others
            .iter()
            .zip(&titles)
            .zip(&citizens)
            .map(|((c, title), citizen)| {
                // Triaged cases carry their fingerprint; others (not yet triaged) are fingerprinted here.
                let stored = c.triage.as_ref().and_then(|t| Fingerprint::from_stored(&t.fingerprint));
                Recent {
                    number: &c.number,
                    title,
                    fingerprint: stored.unwrap_or_else(|| Fingerprint::of(&c.title, &c.body)),
                    submitted_at: c.submitted_at,
                    hot: c.triage.as_ref().is_some_and(|t| t.hot.is_some()),
                    citizen,
                    invalid: c.status == CaseStatus::Invalid,
                }
            })
            .collect();
        let triage = self.triage.get_or_init(|| mailbox_triage::Triage::new(&self.org));
        let names = [case.citizen.name.as_str()];
        let citizen = citizen_key(&case.citizen.phone);
        let message = Message {
            submitted_at: case.submitted_at,
            citizen: &citizen,
            title: &case.title,
            body: &case.body,
            kind: case.kind,
            names: &names,
        };
        triage.analyse(&message, &recent, self.now())
    }

    /// Takes in one hand-off message (the `handoff` queue consumer). Idempotent: a redelivered or
    /// outdated message changes nothing. An unreadable message is an error, so the queue retries it
    /// and finally moves it to the dead-letter queue.
    pub async fn take_handoff(&self, body: &str) -> Result<HandoffOutcome, AppError> {
        let message = Envelope::parse(body)
            .map_err(|e| AppError::invalid("malformed_handoff", "body", format!("hand-off message unreadable: {e}")))?;
        let (detail, Some(lead)) = (&message.detail, message.detail.lead.clone()) else {
            return Err(AppError::invalid("malformed_handoff", "body", "hand-off message names no lead unit"));
        };
        if message.detail_type != DetailType::CaseDispatched {
            return Err(AppError::invalid("malformed_handoff", "body", "hand-off message is no dispatch"));
        }
        let case = self.store.get(&detail.case_id).await?.ok_or(AppError::NotFound)?;
        let current = case.lead() == Some(&lead) && case.status == CaseStatus::Dispatched;
        if !current {
            return Ok(HandoffOutcome::Outdated);
        }
        let notification = Notification {
            key: format!("handoff:{}:{}", case.id, detail.case_version),
            unit: lead.clone(),
            subject: format!("上级交办留言已送达：{}", views::masked_title(&case)),
            body: format!("留言编号 {}，请及时签收", case.number),
            // The dispatch's time, not the delivery's: a redelivered message writes the same one.
            created_at: case.dispatch.as_ref().map_or(case.submitted_at, |d| d.at),
            topic: Topic::Handoff,
        };
        self.deliver(&[notification], Some(case.number.as_str())).await?;
        Ok(HandoffOutcome::Delivered)
    }

    /// The scheduled deadline check (the `deadlines` handler): for each case whose alarm is due —
    /// and only those, read through the alarm index — the urge when the deadline is near, or at
    /// expiry: overdue, escalation (督办) and a request for an explanation. Each happens once per
    /// deadline: the case records it, and of two sweeps racing only one write wins.
    pub async fn deadline_sweep(&self) -> Result<SweepReport, AppError> {
        const PAGE: usize = 500;
        let now = self.now();
        let system = Actor::system();
        let mut report = SweepReport::default();
        // Cases that failed in this sweep: they stay due, so a later page would bring them back.
        let mut failed = std::collections::HashSet::new();
        loop {
            let due = self.store.alarms_due(now, PAGE).await?;
            let batch = due.len();
            let due: Vec<&Case> = due.iter().filter(|c| !failed.contains(&c.id)).collect();
            let mut acted = 0;
            // A few at a time, so the store can commit their writes together.
            let concurrency = self.sweep_concurrency.load(std::sync::atomic::Ordering::Relaxed);
            for chunk in due.chunks(concurrency) {
                let results = futures::future::join_all(
                    chunk.iter().map(|c| self.act(&system, &c.id, Some(c.version), Command::DeadlineAlarm)),
                )
                .await;
                for (case, result) in chunk.iter().zip(results) {
                    report.examined += 1;
                    match result {
                        Ok(updated) => {
                            acted += 1;
                            if updated.overdue_due.is_some() && updated.overdue_due != case.overdue_due {
                                report.escalated += 1;
                            } else {
                                report.urged += 1;
                            }
                        }
                        // Another sweep or a person got there first, or nothing was left to do.
                        Err(AppError::Conflict { .. }) => report.already_done += 1,
                        Err(e) => {
                            tracing::error!(case = %case.id, error = %e, "deadline alarm failed; the case stays due");
                            failed.insert(case.id.clone());
                            report.failed += 1;
                        }
                    }
                }
            }
            // A full page may hide more: the cases acted on left the due part of the index. A page
            // where nothing could be done would only come back the same, so stop there.
            if batch < PAGE || acted == 0 {
                return Ok(report);
            }
        }
    }
}

/// A citizen's key for triage's hot-case count: the last 11 digits of their phone (+86, spaces and
/// full-width digits written however), empty without one. Compared in memory, never stored.
pub(crate) fn citizen_key(phone: &str) -> String {
    let digits: Vec<char> =
        phone.chars().filter_map(|c| c.to_digit(10).and_then(|d| char::from_digit(d, 10))).collect();
    digits[digits.len().saturating_sub(11)..].iter().collect()
}

/// What the triage consumer tells staff about a new case: its dispatcher that it waits (at once and
/// marked 紧急 when triage found an urgent cue), and — when it made a group of similar messages hot
/// — each supervising office (政府办), once per group. Keyed by the case, so a redelivery rewrites
/// the same notifications.
fn intake_notifications(org: &Organisation, case: &Case) -> Vec<Notification> {
    let title = views::masked_title(case);
    let triage = case.triage.as_ref();
    let summary = triage.map(|t| format!("；分拣建议：{}", t.summary(org))).unwrap_or_default();
    let (subject, topic) = match triage.filter(|t| t.is_urgent()) {
        Some(t) => {
            let cues: Vec<&str> = t.urgent.iter().map(|u| u.label.as_str()).collect();
            (format!("【紧急】新留言待受理（{}）：{title}", cues.join("、")), Topic::UrgentCase)
        }
        None => (format!("新留言待受理：{title}"), Topic::NewCase),
    };
    let mut out = vec![Notification {
        key: format!("triage:{}", case.id),
        unit: case.dispatcher.clone(),
        subject,
        body: format!("留言编号 {}（{}）{summary}", case.number, case.kind.label()),
        created_at: case.submitted_at,
        topic,
    }];
    if let Some(hot) = triage.and_then(|t| t.hot.as_ref()).filter(|h| h.alert) {
        for office in org.units.iter().filter(|u| u.kind == mailbox_domain::org::UnitKind::GovernmentOffice) {
            out.push(Notification {
                key: format!("hot:{}:{}", case.id, office.id),
                unit: office.id.clone(),
                subject: format!("热点件：{title}"),
                body: format!(
                    "留言编号 {}：{}天内同类留言已达 {} 件（最早 {}）",
                    case.number,
                    mailbox_domain::triage::HOT_DAYS,
                    hot.count,
                    hot.first
                ),
                created_at: case.submitted_at,
                topic: Topic::HotCase,
            });
        }
    }
    out
}

/// The staff notifications a domain event brings. Their subjects carry the title with personal data
/// masked (`masked_title`): they reach supervisors, lists, e-mail and SMS, where personal data does
/// not belong. Keyed by the event (`<case>:<seq>`, and the office for 督办), so that the change's
/// transaction and the `notify` consumer make the same ones.
pub fn notifications_of(org: &Organisation, title: &str, e: &DomainEvent) -> Vec<Notification> {
    let d = &e.detail;
    let due = d.due_on.map(|day| day.to_string()).unwrap_or_default();
    let note = |key: String, unit: &mailbox_domain::UnitId, subject: String, topic: Topic| Notification {
        key,
        unit: unit.clone(),
        subject,
        body: format!("留言编号 {}", d.case_number),
        created_at: e.time,
        topic,
    };
    let key = format!("{}:{}", d.case_id, d.seq);
    let mut out = Vec::new();
    match e.detail_type {
        DetailType::CaseDispatched => {
            if let (Some(lead), Some(mode)) = (&d.lead, d.mode) {
                out.push(note(key, lead, format!("新{}留言：{title}", mode.label()), Topic::Dispatched));
            }
        }
        DetailType::CaseReturned => out.push(note(key, &d.dispatcher, format!("留言被退回：{title}"), Topic::Returned)),
        // A case merged while a unit had it: the unit stops (it left its inbox).
        DetailType::CaseMerged => {
            if let (Some(lead), Some(original)) = (&d.lead, &d.original) {
                out.push(note(key, lead, format!("留言已并入 {original}，无需单独办理：{title}"), Topic::Other));
            }
        }
        DetailType::CaseReported => {
            out.push(note(key, &d.dispatcher, format!("承办单位已反馈：{title}"), Topic::Reported))
        }
        DetailType::CaseExtensionRequested => {
            out.push(note(key, &d.dispatcher, format!("延期申请待审批：{title}"), Topic::Extension))
        }
        DetailType::CaseUrged | DetailType::CaseDueSoon => {
            if let Some(lead) = &d.lead {
                out.push(note(key, lead, format!("催办：{title}"), Topic::Urged));
            }
        }
        // A supervisor's 督办 (the sweep's own escalation already asks the unit for an explanation).
        DetailType::CaseSupervised if d.actor_role == mailbox_domain::Role::Supervisor => {
            let unit = d.lead.as_ref().unwrap_or(&d.dispatcher);
            out.push(note(key, unit, format!("督办：{title}"), Topic::Supervision));
        }
        DetailType::CaseExplanationRequested => {
            if let Some(lead) = &d.lead {
                let subject = format!("已超过办理时限（{due}），请提交情况说明：{title}");
                out.push(note(key, lead, subject, Topic::Overdue));
            }
        }
        DetailType::CaseOverdue => {
            // The supervisors (政府办) and the dispatcher both hear of a missed deadline.
            for office in org.units.iter().filter(|u| u.kind == mailbox_domain::org::UnitKind::GovernmentOffice) {
                let subject = format!("超期督办（时限{due}）：{title}");
                out.push(note(format!("{key}:{}", office.id), &office.id, subject, Topic::Supervision));
            }
            out.push(note(key, &d.dispatcher, format!("留言已超期（时限{due}）：{title}"), Topic::Overdue));
        }
        _ => {}
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandoffOutcome {
    Delivered,
    /// The case moved on (received, returned, re-dispatched) since the message was sent.
    Outdated,
}

/// A citizen's case found by number and right query code: its trail, and the attempt keys its
/// lookup took (to be given back).
struct CitizenCase {
    case: Case,
    trail: Vec<AuditEvent>,
    taken: Vec<String>,
}

/// The answer to a retried submission.
fn replayed(outcome: CreateOutcome, key: &str) -> Result<Submitted, AppError> {
    match outcome {
        CreateOutcome::Existing { case, sealed_code } => Ok(Submitted {
            number: case.number.to_string(),
            query_code: open_code(key, &sealed_code)
                .ok_or_else(|| AppError::Internal(format!("idempotency record of case {} does not open", case.id)))?,
            status: case.status,
            submitted_at: case.submitted_at,
            replayed: true,
            case_id: case.id.clone(),
        }),
        CreateOutcome::KeyReused => Err(AppError::Conflict {
            code: "idempotency_key_reused",
            message: "该请求标识已用于另一条留言，请刷新页面后重新提交".into(),
        }),
        CreateOutcome::Created(_) => Err(AppError::Internal("a replay created nothing".into())),
    }
}

/// How an idempotency key is stored: its SHA-256, so the key itself — which opens the sealed query
/// code — is not in the store.
pub fn idempotency_digest(key: &str) -> String {
    hex::encode(Sha256::digest(format!("mailbox idempotency key v1\0{key}").as_bytes()))
}

fn code_cipher(key: &str) -> chacha20poly1305::ChaCha20Poly1305 {
    use chacha20poly1305::KeyInit;
    let derived = Sha256::digest(format!("mailbox query code seal v1\0{key}").as_bytes());
    chacha20poly1305::ChaCha20Poly1305::new(&derived)
}

/// The query code sealed (ChaCha20-Poly1305, random nonce first, hex) with a key derived from the
/// client's idempotency key, which the store does not keep: only a retry bringing the key opens it.
pub fn seal_code(key: &str, code: &str) -> String {
    use chacha20poly1305::aead::{Aead, AeadCore};
    let nonce = chacha20poly1305::ChaCha20Poly1305::generate_nonce(&mut rand::rngs::OsRng);
    let sealed = code_cipher(key).encrypt(&nonce, code.as_bytes()).expect("sealing a short code cannot fail");
    hex::encode([nonce.as_slice(), &sealed].concat())
}

/// The query code of `seal_code`, or `None` for another key or a damaged record.
pub fn open_code(key: &str, sealed: &str) -> Option<String> {
    use chacha20poly1305::aead::Aead;
    let bytes = hex::decode(sealed).ok()?;
    if bytes.len() < 12 {
        return None;
    }
    let (nonce, sealed) = bytes.split_at(12);
    let code = code_cipher(key).decrypt(chacha20poly1305::Nonce::from_slice(nonce), sealed).ok()?;
    String::from_utf8(code).ok()
}

fn new_query_code() -> String {
    let mut rng = rand::thread_rng();
    (0..CODE_LEN).map(|_| CODE_ALPHABET[rng.gen_range(0..CODE_ALPHABET.len())] as char).collect()
}

fn fingerprint(r: &SubmitRequest, intake: &Intake) -> String {
    let mut canonical = serde_json::json!([r.mailbox, r.kind, r.title, r.body, r.name, r.phone, r.public]);
    // What came through another system differs from the same words posted on the site; the plain
    // form keeps its earlier fingerprint.
    if intake != &Intake::default() {
        if let Some(parts) = canonical.as_array_mut() {
            let files: Vec<&str> = intake.attachments.iter().map(|a| a.id.as_str()).collect();
            parts.push(serde_json::json!([intake.source.as_ref().map(|s| &s.key_id), intake.location, files]));
        }
    }
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

/// One command of each kind, with placeholder arguments, to ask the workflow what is possible.
fn probe_commands(case: &Case) -> Vec<Command> {
    use mailbox_domain::deadline::DeadlineClass;
    let lead = case.lead().cloned().unwrap_or_else(|| mailbox_domain::UnitId::new("-"));
    let t = || "-".to_string();
    let mut commands = vec![
        Command::Accept,
        Command::Reject { reason: t() },
        Command::Dispatch {
            mode: mailbox_domain::DispatchMode::Transfer,
            lead,
            co_handlers: vec![],
            class: DeadlineClass::Simple,
            special_days: None,
        },
        Command::Receive,
        Command::Return { reason: t() },
        Command::Contribute { text: t() },
        Command::Report { text: t() },
        Command::Reply { text: t(), public: false },
        Command::RecordMeeting {
            held_on: mailbox_domain::deadline::cst_date(case.submitted_at),
            place: t(),
            summary: t(),
        },
        Command::RequestExtension { days: 1, reason: t() },
        Command::DecideExtension { approve: false, note: t() },
        Command::Urge { note: t() },
        Command::Supervise { note: t() },
        Command::Reopen { reason: t() },
        Command::Close,
        Command::Feature { note: t() },
        // A placeholder original: only whether the case may be merged at all is probed here.
        Command::Merge { into: CaseNumber::new("-") },
        Command::Unmerge,
    ];
    // Marking a file publishable is possible only where there is a file; the probe asks for the
    // change the first one would see (a case without consent to publication may only hide files).
    if let Some(first) = case.attachments.first() {
        commands.push(Command::PublishAttachment { number: 1, public: !first.public });
    }
    commands
}
