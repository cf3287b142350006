//! Delivery of notifications to people: e-mail and SMS to staff (per account: its contacts and
//! its choice of channels), SMS to citizens who gave a mobile number (accepted or not, replied —
//! the case number and where to look, never the query code, never a text). Each delivery is a
//! record in the store, made before anything is sent: at least once, with the delivery's key as
//! the provider's idempotency key; retried with backoff; then dead, for administrators to see with
//! its log in the console. Non-urgent SMS wait out the night (22:00–08:00 China time).

use crate::ports::{Notification, StoreResult};
use async_trait::async_trait;
use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use mailbox_domain::deadline::cst;
use mailbox_domain::CaseId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a notification is about: decides its SMS wording (a registered template's parameter, never
/// free text) and whether it is urgent (sent at night too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Topic {
    NewCase,
    /// A new case with an urgent cue (紧急件): sent at once, day and night.
    UrgentCase,
    /// Similar messages reached three within 30 days (热点件): for the supervisors.
    HotCase,
    /// Similar messages of several citizens became a hot topic (舆情): supervisors and dispatchers.
    HotTopic,
    /// A domain's messages in a jurisdiction surged this week (舆情).
    Surge,
    Dispatched,
    Handoff,
    Returned,
    Reported,
    Extension,
    Urged,
    Overdue,
    Supervision,
    Digest,
    #[default]
    Other,
}

impl Topic {
    /// The `topic` parameter of the staff SMS template: one of a fixed set of words.
    pub fn label(self) -> &'static str {
        match self {
            Topic::NewCase => "新留言待受理",
            Topic::UrgentCase => "紧急留言待受理",
            Topic::HotCase => "热点件",
            Topic::HotTopic => "热点话题",
            Topic::Surge => "留言激增",
            Topic::Dispatched => "新交办转办留言",
            Topic::Handoff => "上级交办留言",
            Topic::Returned => "留言被退回",
            Topic::Reported => "承办单位已反馈",
            Topic::Extension => "延期申请待审批",
            Topic::Urged => "催办",
            Topic::Overdue => "留言已超期",
            Topic::Supervision => "超期督办",
            Topic::Digest => "每日待办",
            Topic::Other => "工作通知",
        }
    }

    /// Overdue cases, 督办 and urgent new cases cannot wait for the morning.
    pub fn urgent(self) -> bool {
        matches!(self, Topic::Overdue | Topic::Supervision | Topic::UrgentCase)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Sms,
}

impl Channel {
    pub fn label(self) -> &'static str {
        match self {
            Channel::Email => "电子邮件",
            Channel::Sms => "短信",
        }
    }
}

/// The SMS templates the city registers with its gateway under the signature 【广安市长信箱】 (or
/// its own): the gateway sends only these texts, filled with these parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmsTemplate {
    StaffNotice,
    StaffDigest,
    CitizenAccepted,
    CitizenRejected,
    CitizenReplied,
}

impl SmsTemplate {
    pub const ALL: [SmsTemplate; 5] = [
        SmsTemplate::StaffNotice,
        SmsTemplate::StaffDigest,
        SmsTemplate::CitizenAccepted,
        SmsTemplate::CitizenRejected,
        SmsTemplate::CitizenReplied,
    ];

    /// The template's default code at the gateway (`SMS_TEMPLATES` maps them to the codes the
    /// provider assigned).
    pub fn default_code(self) -> &'static str {
        match self {
            SmsTemplate::StaffNotice => "MAILBOX_STAFF_NOTICE",
            SmsTemplate::StaffDigest => "MAILBOX_STAFF_DIGEST",
            SmsTemplate::CitizenAccepted => "MAILBOX_CITIZEN_ACCEPTED",
            SmsTemplate::CitizenRejected => "MAILBOX_CITIZEN_REJECTED",
            SmsTemplate::CitizenReplied => "MAILBOX_CITIZEN_REPLIED",
        }
    }

    /// The text registered for the template (what the citizen or staff member reads).
    pub fn text(self) -> &'static str {
        match self {
            SmsTemplate::StaffNotice => "您单位有一条${topic}通知（留言编号${number}），请登录市长信箱工作台处理。",
            SmsTemplate::StaffDigest => "您单位${date}有待办留言，请登录市长信箱工作台查看。",
            SmsTemplate::CitizenAccepted => {
                "您的留言（编号${number}）已受理。请凭留言编号和查询码在市长信箱网站“查询留言”处查看办理情况。"
            }
            SmsTemplate::CitizenRejected => {
                "您的留言（编号${number}）未予受理。原因请凭留言编号和查询码在市长信箱网站“查询留言”处查看。"
            }
            SmsTemplate::CitizenReplied => {
                "您的留言（编号${number}）已答复。请凭留言编号和查询码在市长信箱网站“查询留言”处查看答复。"
            }
        }
    }
}

/// What is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "channel", rename_all = "snake_case")]
pub enum Payload {
    Email { subject: String, body: String },
    Sms { template: SmsTemplate, params: BTreeMap<String, String> },
}

impl Payload {
    pub fn channel(&self) -> Channel {
        match self {
            Payload::Email { .. } => Channel::Email,
            Payload::Sms { .. } => Channel::Sms,
        }
    }
}

/// Who receives it. The address is looked up when sending (a staff member's current contact, the
/// case's phone number), so the delivery record holds no phone number or address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Recipient {
    Staff { username: String },
    Citizen { case: CaseId },
}

impl Recipient {
    /// How the console names the recipient: a user name, or "留言人" with the case.
    pub fn label(&self) -> String {
        match self {
            Recipient::Staff { username } => username.clone(),
            Recipient::Citizen { .. } => "留言人".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Pending,
    Sent,
    /// Given up: too many failures, or refused for good (an administrator can send it again).
    Dead,
}

/// One try, as the delivery log shows it: when, and the provider's message id or the error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub at: DateTime<Utc>,
    pub ok: bool,
    pub detail: String,
}

/// One message to one recipient on one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// `<notification key>|<channel>|<recipient>`: unique; the provider's idempotency key.
    pub key: String,
    /// The notification (or, for citizens, the event) it delivers.
    pub notification: String,
    pub recipient: Recipient,
    pub payload: Payload,
    pub urgent: bool,
    pub status: DeliveryStatus,
    pub attempts: u32,
    /// Not before this instant: a retry's backoff, the morning after a quiet night, or the lease of
    /// the instance sending it now.
    pub next_at: DateTime<Utc>,
    /// Raised by every write; a write over another version is refused (two senders at once: one).
    pub version: u64,
    pub provider_id: Option<String>,
    pub log: Vec<Attempt>,
    pub created_at: DateTime<Utc>,
}

/// Tries before a delivery is dead.
pub const MAX_ATTEMPTS: u32 = 6;
/// How long the instance that claimed a delivery has to send it before another may.
pub const LEASE: Duration = Duration::minutes(2);

/// The wait after the `attempts`-th failed try: 1 min, 5 min, 30 min, 2 h, 6 h.
pub fn backoff(attempts: u32) -> Duration {
    match attempts {
        0 | 1 => Duration::minutes(1),
        2 => Duration::minutes(5),
        3 => Duration::minutes(30),
        4 => Duration::hours(2),
        _ => Duration::hours(6),
    }
}

/// When a non-urgent SMS may go at `now`: now in the day, 08:00 China time after a night hour
/// (22:00–08:00). E-mail and urgent SMS go at any hour.
pub fn sms_window(now: DateTime<Utc>) -> DateTime<Utc> {
    let local = now.with_timezone(&cst());
    let eight = NaiveTime::from_hms_opt(8, 0, 0).expect("valid time");
    let ten = NaiveTime::from_hms_opt(22, 0, 0).expect("valid time");
    let time = local.time();
    if time >= eight && time < ten {
        return now;
    }
    let day = if time >= ten { local.date_naive() + Duration::days(1) } else { local.date_naive() };
    cst().from_local_datetime(&day.and_time(eight)).single().map_or(now, |t| t.with_timezone(&Utc))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth trying again (a timeout, the provider busy, a 5xx, a 4xx SMTP reply).
    #[error("temporary failure: {0}")]
    Transient(String),
    /// Trying again would change nothing (a bad address, a refused template).
    #[error("refused: {0}")]
    Permanent(String),
}

/// Sends e-mail. Returns the provider's message id.
#[async_trait]
pub trait EmailSender: Send + Sync + 'static {
    async fn send(&self, to: &str, subject: &str, body: &str, key: &str) -> Result<String, SendError>;
}

/// Sends a registered SMS template. Returns the provider's message id.
#[async_trait]
pub trait SmsSender: Send + Sync + 'static {
    async fn send(
        &self,
        to: &str,
        template: SmsTemplate,
        params: &BTreeMap<String, String>,
        key: &str,
    ) -> Result<String, SendError>;
}

/// The delivery records.
#[async_trait]
pub trait DeliveryStore: Send + Sync + 'static {
    /// Stores the deliveries whose keys are new; a key stored before keeps its record.
    async fn add_deliveries(&self, deliveries: &[Delivery]) -> StoreResult<()>;
    async fn delivery(&self, key: &str) -> StoreResult<Option<Delivery>>;
    /// Pending deliveries due at `now` (`next_at` reached), earliest first.
    async fn due_deliveries(&self, now: DateTime<Utc>, limit: usize) -> StoreResult<Vec<Delivery>>;
    /// Writes `delivery` over `expected_version`; `Conflict` if the stored one is another.
    async fn save_delivery(&self, delivery: &Delivery, expected_version: u64) -> StoreResult<()>;
    /// The newest deliveries, of one status or all: the console's delivery log.
    async fn recent_deliveries(&self, status: Option<DeliveryStatus>, limit: usize) -> StoreResult<Vec<Delivery>>;
    /// Removes sent and dead deliveries made more than `DELIVERY_RETENTION` before `now` (where the
    /// store has no expiry of its own; DynamoDB's TTL does it there). How many went.
    async fn purge_deliveries(&self, now: DateTime<Utc>) -> StoreResult<usize>;
}

/// How long the delivery log is kept: as long as the notifications it delivered.
pub const DELIVERY_RETENTION: Duration = Duration::days(90);

/// The channels a deployment was given (none: notifications stay in the console's outbox).
#[derive(Clone, Default)]
pub struct Channels {
    pub email: Option<std::sync::Arc<dyn EmailSender>>,
    pub sms: Option<std::sync::Arc<dyn SmsSender>>,
}

impl Channels {
    pub fn any(&self) -> bool {
        self.email.is_some() || self.sms.is_some()
    }
}

/// The e-mail of a staff notification.
pub fn email_of(n: &Notification) -> Payload {
    Payload::Email {
        subject: format!("【市长信箱】{}", n.subject),
        body: format!("{}\n\n{}\n\n请登录市长信箱工作台处理。此邮件由系统发送，请勿回复。", n.subject, n.body),
    }
}

/// The SMS of a staff notification: a template and its parameters only.
pub fn sms_of(n: &Notification, number: Option<&str>) -> Payload {
    let (template, params) = match (n.topic, number) {
        (Topic::Digest, _) | (_, None) => {
            let date = n.created_at.with_timezone(&cst()).format("%-m月%-d日").to_string();
            (SmsTemplate::StaffDigest, BTreeMap::from([("date".to_owned(), date)]))
        }
        (topic, Some(number)) => (
            SmsTemplate::StaffNotice,
            BTreeMap::from([("topic".to_owned(), topic.label().to_owned()), ("number".to_owned(), number.to_owned())]),
        ),
    };
    Payload::Sms { template, params }
}

/// A mobile number as a gateway takes it (11 digits, 1[3-9]…), from what a citizen typed (spaces,
/// dashes, full-width digits, +86); `None` for anything else (a landline gets no SMS).
pub fn mobile(phone: &str) -> Option<String> {
    let digits: String = phone
        .chars()
        .filter_map(|c| match c {
            '0'..='9' => Some(c),
            '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32),
            _ => None,
        })
        .collect();
    let digits = digits.strip_prefix("86").filter(|d| d.len() == 11).unwrap_or(&digits).to_owned();
    let ok = digits.len() == 11 && digits.starts_with('1') && matches!(digits.as_bytes()[1], b'3'..=b'9');
    ok.then_some(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_night_sms_waits_for_eight_in_the_morning_china_time() {
        let morning = at("2026-12-02T08:00:00+08:00");
        assert_eq!(sms_window(at("2026-12-01T22:00:00+08:00")), morning);
        assert_eq!(sms_window(at("2026-12-01T23:59:00+08:00")), morning);
        assert_eq!(sms_window(at("2026-12-02T03:00:00+08:00")), morning);
        assert_eq!(sms_window(at("2026-12-02T07:59:59+08:00")), morning);
        let day = at("2026-12-02T08:00:00+08:00");
        assert_eq!(sms_window(day), day);
        let evening = at("2026-12-02T21:59:00+08:00");
        assert_eq!(sms_window(evening), evening);
    }

    #[test]
    fn mobile_numbers_are_read_however_typed_and_landlines_get_none() {
        for typed in ["13912345678", "139 1234 5678", "+86 139-1234-5678", "１３９１２３４５６７８", "86 13912345678"]
        {
            assert_eq!(mobile(typed).as_deref(), Some("13912345678"), "{typed}");
        }
        for other in ["0826-2345678", "12345678901", "1391234567", "", "电话"] {
            assert_eq!(mobile(other), None, "{other}");
        }
    }

    #[test]
    fn backoff_grows_and_every_template_names_its_parameters() {
        assert!((1..MAX_ATTEMPTS).all(|a| backoff(a) <= backoff(a + 1)));
        for t in SmsTemplate::ALL {
            assert!(t.text().contains("${"), "{t:?}");
            assert!(!t.text().contains("查询码：${"), "never the query code itself: {t:?}");
        }
    }
}
