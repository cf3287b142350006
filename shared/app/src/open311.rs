//! Open311 GeoReport v2 for other systems of the city (the 12345 hotline's work orders, a
//! mini-program, a district's site): the services are the mailboxes × the kinds of message, a
//! posted service request is a case, and the public reads only publishable cases with a published
//! reply, personal data masked. Posting needs an API key: created, listed and revoked by
//! administrators, stored as a digest, each with its own hourly limit. The HTTP side (formats,
//! error bodies) is `http::open311`.

use crate::error::AppError;
use crate::input::SubmitRequest;
use crate::limiter::{self, Limit};
use crate::ports::StoreResult;
use crate::published::ReplyQuery;
use crate::service::{App, Submitted};
use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use mailbox_domain::case::{ApiSource, Case};
use mailbox_domain::mask::mask_personal_data;
use mailbox_domain::org::Mailbox;
use mailbox_domain::org::MailboxKind;
use mailbox_domain::{CaseId, CaseNumber, CaseStatus, Intake, Kind, Organisation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// An API key of another system. The secret exists only with its holder: the store keeps its
/// SHA-256 (the secret is 160 random bits, so a fast digest is safe where a password needs argon2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    /// Public id, `k` and 12 hex digits: shown in lists and written in the audit trail.
    pub id: String,
    /// Who holds it, e.g. 12345热线工单系统.
    pub name: String,
    /// SHA-256 of the whole key (hex).
    pub digest: String,
    /// Service requests it may post per hour.
    pub per_hour: u32,
    pub created_at: DateTime<Utc>,
    /// The administrator who created it.
    pub created_by: String,
    /// Revoked keys are refused (403) from that moment, on every instance.
    #[serde(default)]
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Storage of API keys (both deployments; one conformance suite).
#[async_trait]
pub trait ApiKeyStore: Send + Sync + 'static {
    /// Stores a new key. `Conflict` when its id or digest is taken.
    async fn create_api_key(&self, key: &ApiKey) -> StoreResult<()>;
    /// The key with this digest, revoked or not.
    async fn api_key(&self, digest: &str) -> StoreResult<Option<ApiKey>>;
    /// Every key, oldest first.
    async fn api_keys(&self) -> StoreResult<Vec<ApiKey>>;
    /// Marks the key revoked at `at` and returns it; a key revoked before keeps its first time.
    /// `NotFound` when no key has this id.
    async fn revoke_api_key(&self, id: &str, at: DateTime<Utc>) -> StoreResult<ApiKey>;
}

/// A key's default hourly limit: a hotline passing on a day's work orders in bursts.
pub const DEFAULT_PER_HOUR: u32 = 600;
pub const MAX_PER_HOUR: u32 = 100_000;
/// Wrong keys per client address: 20 in 15 minutes, then 429 (guessing is hopeless with 160-bit
/// keys; this bounds what a flood of guesses costs).
pub const BAD_KEY: Limit = Limit { max: 20, window: Duration::from_secs(15 * 60) };
/// The longest span `GET requests` covers, as the specification's default.
pub const MAX_SPAN_DAYS: i64 = 90;
/// Most service requests one `GET requests` answers.
pub const MAX_LISTED: usize = 500;

/// Pages of published replies one list reads at most (200 each): a bounded read however busy the span.
const MAX_PAGES_READ: usize = 25;
/// `GET requests` lists per client address: each reads up to 25 pages of published replies.
pub const LISTS: Limit = Limit { max: 30, window: Duration::from_secs(60) };

fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(format!("mailbox api key v1\0{secret}").as_bytes()))
}

/// A key as handed out once: `<id>.<40 hex digits>`.
fn new_secret(id: &str) -> String {
    let mut bytes = [0u8; 20];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("{id}.{}", hex::encode(bytes))
}

/// Creating, listing and revoking keys: the console's administration page, `mailbox api-keys` and
/// `mailbox-aws-accounts api-keys` all go through here.
pub struct ApiKeyAdmin<'a> {
    pub store: &'a dyn ApiKeyStore,
}

impl ApiKeyAdmin<'_> {
    /// A new key for `name`; returns it and its secret (shown once, never stored).
    pub async fn create(
        &self,
        name: &str,
        per_hour: u32,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<(ApiKey, String), AppError> {
        let name = mailbox_domain::text::clean(name);
        if name.is_empty() || name.chars().count() > 50 || name.chars().any(mailbox_domain::text::is_control) {
            return Err(AppError::invalid("invalid_name", "name", "名称须为 1 至 50 个字，且不能含控制字符"));
        }
        if !(1..=MAX_PER_HOUR).contains(&per_hour) {
            return Err(AppError::invalid(
                "invalid_per_hour",
                "per_hour",
                format!("每小时限额须在 1 至 {MAX_PER_HOUR} 之间"),
            ));
        }
        let mut id_bytes = [0u8; 6];
        rand::thread_rng().fill_bytes(&mut id_bytes);
        let id = format!("k{}", hex::encode(id_bytes));
        let secret = new_secret(&id);
        let key = ApiKey {
            id,
            name,
            digest: digest(&secret),
            per_hour,
            created_at: now,
            created_by: by.to_owned(),
            revoked_at: None,
        };
        self.store.create_api_key(&key).await?;
        tracing::info!(key = %key.id, by, "api key created");
        Ok((key, secret))
    }

    pub async fn list(&self) -> Result<Vec<ApiKey>, AppError> {
        Ok(self.store.api_keys().await?)
    }

    pub async fn revoke(&self, id: &str, by: &str, now: DateTime<Utc>) -> Result<ApiKey, AppError> {
        let valid = id.len() == 13 && id.starts_with('k') && id[1..].bytes().all(|b| b.is_ascii_hexdigit());
        if !valid {
            return Err(AppError::NotFound);
        }
        let key = self.store.revoke_api_key(id, now).await?;
        tracing::info!(key = %key.id, by, "api key revoked");
        Ok(key)
    }
}

/// One Open311 service: a mailbox and a kind of message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// `<mailbox>.<kind>`, e.g. `mayor.complaint`.
    pub code: String,
    pub name: String,
    pub description: String,
    /// Comma-separated words a client can match on.
    pub keywords: String,
    /// The mailbox's type: 市长信箱, 区市县长信箱 or 局长信箱.
    pub group: String,
}

pub fn mailbox_group(kind: MailboxKind) -> &'static str {
    match kind {
        MailboxKind::Mayor => "市长信箱",
        MailboxKind::DistrictHead => "区市县长信箱",
        MailboxKind::BureauHead => "局长信箱",
    }
}

fn kind_code(kind: Kind) -> &'static str {
    match kind {
        Kind::Suggestion => "suggestion",
        Kind::Consultation => "consultation",
        Kind::Complaint => "complaint",
        Kind::Help => "help",
    }
}

pub fn service_code(mailbox: &Mailbox, kind: Kind) -> String {
    format!("{}.{}", mailbox.id, kind_code(kind))
}

fn service_name(mailbox: &Mailbox, kind: Kind) -> String {
    format!("{}·{}", mailbox.name, kind.label())
}

/// The services of an organisation: every mailbox × every kind, in the organisation's order.
pub fn services(org: &Organisation) -> Vec<Service> {
    org.mailboxes
        .iter()
        .flat_map(|m| Kind::ALL.into_iter().map(move |k| (m, k)))
        .map(|(m, k)| {
            let jurisdiction = org.jurisdiction(&m.jurisdiction).map(|j| j.name.clone()).unwrap_or_default();
            Service {
                code: service_code(m, k),
                name: service_name(m, k),
                description: format!("向{}提出{}", m.name, k.label()),
                keywords: [k.label(), m.name.as_str(), jurisdiction.as_str()]
                    .into_iter()
                    .filter(|w| !w.is_empty())
                    .collect::<Vec<_>>()
                    .join(","),
                group: mailbox_group(m.kind).to_owned(),
            }
        })
        .collect()
}

/// The mailbox and kind of a service code; `None` when the organisation has no such service.
pub fn parse_service_code<'a>(org: &'a Organisation, code: &str) -> Option<(&'a Mailbox, Kind)> {
    let (mailbox, kind) = code.rsplit_once('.')?;
    let kind = Kind::ALL.into_iter().find(|k| kind_code(*k) == kind)?;
    let mailbox = org.mailboxes.iter().find(|m| m.id.as_str() == mailbox)?;
    Some((mailbox, kind))
}

/// The attribute that carries the citizen's consent to publication (required: there is no safe
/// default to assume for someone else's message, so the posting system must ask).
pub const PUBLISH_ATTRIBUTE: &str = "publish";
/// The attribute that carries a title; without it the title is the description's first words.
pub const TITLE_ATTRIBUTE: &str = "title";
/// Longest `address_string` kept.
pub const LOCATION_MAX: usize = 200;
/// Title taken from the description when none is given: its first sentence, at most this long.
const DERIVED_TITLE_CHARS: usize = 30;

/// A service request as posted (`POST requests`), already split from its form encoding.
#[derive(Debug, Clone, Default)]
pub struct PostRequest {
    pub service_code: String,
    pub description: String,
    pub first_name: String,
    pub last_name: String,
    pub phone: String,
    pub email: String,
    pub address_string: String,
    pub lat: String,
    pub long: String,
    pub title: String,
    pub publish: String,
}

fn missing(field: &'static str, message: &str) -> AppError {
    AppError::invalid("missing_parameter", field, message.to_owned())
}

/// A title from the description: up to its first sentence end, at most 30 characters.
fn derived_title(description: &str) -> String {
    let clean = mailbox_domain::text::clean(description);
    let first = clean.split(['。', '！', '？', '\n', '!', '?']).find(|s| !s.trim().is_empty()).unwrap_or_default();
    first.trim().chars().take(DERIVED_TITLE_CHARS).collect()
}

/// A coordinate within `range`, written as a decimal number.
fn coordinate(value: &str, field: &'static str, range: f64) -> Result<f64, AppError> {
    let v: f64 =
        value.trim().parse().map_err(|_| AppError::invalid("invalid_parameter", field, format!("{field} 须为数字")))?;
    if v.is_finite() && v.abs() <= range {
        Ok(v)
    } else {
        Err(AppError::invalid("invalid_parameter", field, format!("{field} 超出范围")))
    }
}

impl PostRequest {
    /// The submission and intake this request makes, or the first problem with it.
    pub fn parse(&self, org: &Organisation, key: &ApiKey) -> Result<(SubmitRequest, Intake), AppError> {
        if self.service_code.trim().is_empty() {
            return Err(missing("service_code", "缺少 service_code"));
        }
        let (mailbox, kind) = parse_service_code(org, self.service_code.trim())
            .ok_or_else(|| AppError::invalid("invalid_service_code", "service_code", "service_code 不存在"))?;
        if mailbox_domain::text::clean(&self.description).is_empty() {
            return Err(missing("description", "缺少 description（留言内容）"));
        }
        if mailbox_domain::text::clean(&self.phone).is_empty() {
            return Err(missing("phone", "缺少 phone（联系电话）"));
        }
        let public = match self.publish.trim() {
            "yes" | "true" => true,
            "no" | "false" => false,
            "" => {
                return Err(missing(
                    "attribute[publish]",
                    "缺少 attribute[publish]：须说明留言人是否同意公开（yes 或 no）",
                ))
            }
            _ => {
                return Err(AppError::invalid(
                    "invalid_parameter",
                    "attribute[publish]",
                    "attribute[publish] 须为 yes 或 no",
                ))
            }
        };
        // Chinese order: family name, then given name.
        let name = format!("{}{}", self.last_name.trim(), self.first_name.trim());
        let title = if self.title.trim().is_empty() { derived_title(&self.description) } else { self.title.clone() };
        let location = match (self.lat.trim(), self.long.trim(), self.address_string.trim()) {
            (lat, long, _) if !lat.is_empty() || !long.is_empty() => {
                let (lat, long) = (coordinate(lat, "lat", 90.0)?, coordinate(long, "long", 180.0)?);
                let place = self.address_string.trim();
                Some(if place.is_empty() {
                    format!("{lat:.6},{long:.6}")
                } else {
                    format!("{place}（{lat:.6},{long:.6}）")
                })
            }
            (_, _, "") => None,
            (_, _, place) => Some(place.to_owned()),
        };
        if location.as_ref().is_some_and(|l| l.chars().count() > LOCATION_MAX) {
            return Err(AppError::invalid(
                "invalid_parameter",
                "address_string",
                format!("地址不能超过{LOCATION_MAX}个字"),
            ));
        }
        let request = SubmitRequest {
            mailbox: mailbox.id.to_string(),
            kind: kind_code(kind).to_owned(),
            title,
            body: self.description.clone(),
            name: if name.is_empty() { "（未提供）".to_owned() } else { name },
            phone: self.phone.clone(),
            public,
        };
        let source = Some(ApiSource { key_id: key.id.clone(), name: key.name.clone() });
        let intake = Intake { source, location, attachments: Vec::new() };
        Ok((request, intake))
    }
}

/// A case as Open311 shows it. Texts have personal data masked; fields the specification has but
/// this system never publishes (address, coordinates, zip code) are absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceRequest {
    pub service_request_id: String,
    /// `open` or `closed`.
    pub status: &'static str,
    pub status_notes: String,
    pub service_name: String,
    pub service_code: String,
    pub description: String,
    pub agency_responsible: String,
    pub requested_datetime: DateTime<Utc>,
    pub updated_datetime: DateTime<Utc>,
    pub expected_datetime: Option<DateTime<Utc>>,
    pub media_url: Option<String>,
}

/// What `POST requests` answers.
#[derive(Debug, Clone)]
pub struct Posted {
    pub submitted: Submitted,
    /// The token (`GET tokens/{token}`): the case's internal id.
    pub token: String,
    pub service_notice: String,
}

/// The filters of `GET requests`, parsed.
#[derive(Debug, Clone, Default)]
pub struct RequestsQuery {
    /// Case numbers (`service_request_id`, comma-separated): the other filters are then ignored.
    pub ids: Vec<String>,
    /// Service codes (comma-separated); none: all.
    pub service_codes: Vec<String>,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    /// `open`, `closed` (comma-separated); none: both.
    pub statuses: Vec<String>,
}

/// A time as the specification writes it: ISO 8601 with a zone (RFC 3339).
pub fn parse_datetime(value: &str, field: &'static str) -> Result<DateTime<Utc>, AppError> {
    DateTime::parse_from_rfc3339(value.trim()).map(|t| t.with_timezone(&Utc)).map_err(|_| {
        AppError::invalid(
            "invalid_parameter",
            field,
            format!("{field} 须为带时区的 ISO 8601 时间，如 2026-11-30T08:00:00+08:00"),
        )
    })
}

fn open_status(case: &Case) -> &'static str {
    if case.status.is_open() {
        "open"
    } else {
        "closed"
    }
}

/// The last moment something happened to the case that its status shows.
fn updated(case: &Case) -> DateTime<Utc> {
    [
        Some(case.submitted_at),
        case.dispatch.as_ref().map(|d| d.at),
        case.received_at,
        case.reports.last().map(|r| r.at),
        case.reply.as_ref().map(|r| r.at),
        case.rating.as_ref().map(|r| r.at),
        case.closed_at,
        case.merged_at,
    ]
    .into_iter()
    .flatten()
    .max()
    .unwrap_or(case.submitted_at)
}

impl App {
    /// The key a request brings, checked: unknown or revoked keys are 403 (and count against the
    /// client: 20 wrong keys in 15 minutes, then 429).
    pub async fn open311_key(&self, secret: &str, client: &str) -> Result<ApiKey, AppError> {
        let secret = secret.trim();
        let found =
            if (1..=100).contains(&secret.len()) { self.api_keys.api_key(&digest(secret)).await? } else { None };
        match found {
            Some(key) if key.revoked_at.is_none() => Ok(key),
            _ => {
                let keys = [limiter::key("o311bad", client)];
                limiter::take_all(self.limits.as_ref(), &keys, BAD_KEY, self.now()).await?;
                Err(AppError::Forbidden("api_key 无效或已停用".into()))
            }
        }
    }

    /// Posts a service request through `key`: its hourly limit first, then the same submission as
    /// the public site's, marked with the key in the case and its audit trail.
    pub async fn open311_post(
        &self,
        key: &ApiKey,
        request: &PostRequest,
        idempotency_key: Option<&str>,
    ) -> Result<Posted, AppError> {
        let (submit, intake) = request.parse(&self.org, key)?;
        // Checked before the key's hour is counted: a request refused for its fields creates nothing.
        let mailbox = submit.parse(&self.org)?.mailbox;
        let dispatcher = self.org.mailbox(&mailbox).map(|m| m.dispatcher.clone()).ok_or(AppError::NotFound)?;
        let limit = Limit { max: key.per_hour, window: Duration::from_secs(3600) };
        let quota = [limiter::key("o311", &key.id)];
        limiter::take_all(self.limits.as_ref(), &quota, limit, self.now()).await?;
        let submitted = match self.submit_via(&submit, idempotency_key, intake).await {
            Ok(s) => s,
            Err(e) => {
                limiter::give_back_all(self.limits.as_ref(), &quota).await;
                return Err(e);
            }
        };
        if submitted.replayed {
            // A retry of a request already counted.
            limiter::give_back_all(self.limits.as_ref(), &quota).await;
        }
        tracing::info!(case = %submitted.case_id, key = %key.id, "service request posted through open311");
        let service_notice =
            format!("已收到，将由{}受理；请保存查询码，用于查询办理进度", self.unit_label(&dispatcher));
        Ok(Posted { token: submitted.case_id.to_string(), submitted, service_notice })
    }

    fn unit_label(&self, unit: &mailbox_domain::UnitId) -> String {
        crate::views::unit_name(&self.org, unit)
    }

    /// A case as Open311 shows it, texts masked; `full` shows the reply (public cases), else only
    /// its status. `media_url` is the first published file (a path on this site; the HTTP side makes
    /// it absolute).
    fn service_request(&self, case: &Case, full: bool) -> ServiceRequest {
        let names = [case.citizen.name.as_str()];
        let mask = |t: &str| mask_personal_data(t, &names);
        // A published case's texts were masked when it was published.
        let published = case.published.as_ref().filter(|p| full && p.rules == mailbox_domain::mask::MASK_RULES);
        let (title, body) = match published {
            Some(p) => (p.title.clone(), p.body.clone()),
            None => (mask(&case.title), mask(&case.body)),
        };
        let (service_name, service_code) = match self.org.mailbox(&case.mailbox) {
            Some(m) => (service_name(m, case.kind), service_code(m, case.kind)),
            None => (case.mailbox.to_string(), format!("{}.{}", case.mailbox, kind_code(case.kind))),
        };
        let agency = case.lead().unwrap_or(&case.dispatcher);
        let status_notes = match (&case.reply, case.status) {
            (Some(reply), _) if full => published.map_or_else(|| mask(&reply.text), |p| p.reply.clone()),
            (_, CaseStatus::Invalid) => {
                format!("无效留言：{}", mask(case.invalid_reason.as_deref().unwrap_or_default()))
            }
            (_, CaseStatus::Merged) => {
                format!("已并入{}，随该件答复", case.merged_into.as_ref().map(|n| n.to_string()).unwrap_or_default())
            }
            (_, status) => status.label().to_owned(),
        };
        ServiceRequest {
            service_request_id: case.number.to_string(),
            status: open_status(case),
            status_notes,
            service_name,
            service_code,
            // The title, then the message — once, where the title is the message's own first words.
            description: if case.body.starts_with(&case.title) { body } else { format!("{title}\n{body}") },
            agency_responsible: self.unit_label(agency),
            requested_datetime: case.submitted_at,
            updated_datetime: updated(case),
            expected_datetime: case.deadline.as_ref().map(|d| d.due_at()),
            media_url: crate::reports::public_attachments(case).into_iter().next().map(|a| a.url),
        }
    }

    /// `GET requests/{id}`: a public case in full; a case posted through `key` (the caller's own)
    /// by its status; anything else is not found.
    pub async fn open311_request(&self, number: &str, key: Option<&ApiKey>) -> Result<ServiceRequest, AppError> {
        let case = if (1..=32).contains(&number.len()) {
            self.store.get_by_number(&CaseNumber::new(number)).await?
        } else {
            None
        };
        let case = case.ok_or(AppError::NotFound)?;
        if crate::reports::is_published(&case) {
            return Ok(self.service_request(&case, true));
        }
        let own = key.is_some_and(|k| case.source.as_ref().is_some_and(|s| s.key_id == k.id));
        if own {
            Ok(self.service_request(&case, false))
        } else {
            Err(AppError::NotFound)
        }
    }

    /// `GET tokens/{token}`: the case number of a request posted through Open311.
    pub async fn open311_token(&self, token: &str) -> Result<String, AppError> {
        let valid = token.len() == 25 && token.starts_with('c') && token[1..].bytes().all(|b| b.is_ascii_hexdigit());
        let case = if valid { self.store.get(&CaseId::new(token)).await? } else { None };
        match case {
            Some(c) if c.source.is_some() => Ok(c.number.to_string()),
            _ => Err(AppError::NotFound),
        }
    }

    /// `GET requests`: public cases requested within the span (at most 90 days; the last 90 days
    /// by default), newest first, at most [`MAX_LISTED`].
    pub async fn open311_requests(&self, q: &RequestsQuery, client: &str) -> Result<Vec<ServiceRequest>, AppError> {
        limiter::take_all(self.limits.as_ref(), &[limiter::key("o311list", client)], LISTS, self.now()).await?;
        if !q.ids.is_empty() {
            let mut out = Vec::new();
            for id in &q.ids {
                match self.open311_request(id, None).await {
                    Ok(r) => out.push(r),
                    Err(AppError::NotFound) => {}
                    Err(e) => return Err(e),
                }
            }
            return Ok(out);
        }
        let now = self.now();
        let span = TimeDelta::days(MAX_SPAN_DAYS);
        let (start, end) = match (q.start, q.end) {
            (Some(s), Some(e)) => (s, e),
            (Some(s), None) => (s, (s + span).min(now.max(s))),
            (None, Some(e)) => (e - span, e),
            (None, None) => (now - span, now),
        };
        if start > end {
            return Err(AppError::invalid("invalid_parameter", "start_date", "start_date 不能晚于 end_date"));
        }
        if end - start > span {
            return Err(AppError::invalid(
                "invalid_parameter",
                "end_date",
                format!("查询时间跨度不能超过{MAX_SPAN_DAYS}天"),
            ));
        }
        let mut services = Vec::new();
        for code in &q.service_codes {
            services.push(
                parse_service_code(&self.org, code)
                    .ok_or_else(|| AppError::invalid("invalid_service_code", "service_code", "service_code 不存在"))?,
            );
        }
        if q.statuses.iter().any(|s| !matches!(s.as_str(), "open" | "closed")) {
            return Err(AppError::invalid("invalid_parameter", "status", "status 须为 open 或 closed"));
        }
        // One mailbox asked for: read only its published replies.
        let mailbox = match services.as_slice() {
            [(m, _), rest @ ..] if rest.iter().all(|(o, _)| o.id == m.id) => Some(&m.id),
            _ => None,
        };
        // Public cases are found by the instant of their reply (the published-replies index): a case
        // requested in the span is replied within it or up to about a quarter after it.
        let reach_end = (end + TimeDelta::days(100)).min(now.max(end));
        let span = (start.timestamp_millis(), reach_end.timestamp_millis().saturating_add(1));
        let mut query = ReplyQuery { mailbox: mailbox.cloned(), span: Some(span), limit: 200, ..ReplyQuery::default() };
        let mut out = Vec::new();
        for _ in 0..MAX_PAGES_READ {
            let page = self.store.published(&query).await?;
            for case in &page.items {
                let wanted = crate::reports::is_published(case)
                    && (start..=end).contains(&case.submitted_at)
                    && (services.is_empty() || services.iter().any(|(m, k)| m.id == case.mailbox && *k == case.kind));
                if wanted {
                    out.push(self.service_request(case, true));
                }
            }
            match page.next {
                Some(next) if out.len() < MAX_LISTED => query.after = Some(next),
                _ => break,
            }
        }
        out.retain(|r| q.statuses.is_empty() || q.statuses.iter().any(|s| s == r.status));
        out.sort_by(|a, b| {
            b.requested_datetime.cmp(&a.requested_datetime).then(b.service_request_id.cmp(&a.service_request_id))
        });
        out.dedup_by(|a, b| a.service_request_id == b.service_request_id);
        out.truncate(MAX_LISTED);
        Ok(out)
    }
}
