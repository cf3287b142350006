//! Notifications that reach people: the `notify` consumer of the bus, and the deliveries of every
//! staff notification (e-mail and SMS per account) and of citizens' SMS. See `delivery`.

use crate::accounts::AccountStore;
use crate::delivery::{
    backoff, email_of, mobile, sms_of, sms_window, Attempt, Channel, Channels, Delivery, DeliveryStatus, DeliveryStore,
    Payload, Recipient, SendError, SmsTemplate, LEASE, MAX_ATTEMPTS,
};
use crate::error::AppError;
use crate::events::Envelope;
use crate::ports::{Notification, StoreError};
use crate::service::notifications_of;
use crate::views;
use crate::App;
use mailbox_domain::events::DetailType;
use mailbox_domain::Role;
use std::collections::BTreeMap;
use std::sync::Arc;

/// What an app needs to deliver notifications: where deliveries are recorded, whom to send to, and
/// how to send.
#[derive(Clone)]
pub struct Delivering {
    pub store: Arc<dyn DeliveryStore>,
    pub accounts: Arc<dyn AccountStore>,
    pub channels: Channels,
}

/// The detail-types the `notify` consumer takes (the bus's `notify` rule): those that bring staff
/// notifications, and those a citizen hears of by SMS.
pub const NOTIFY_TYPES: [DetailType; 14] = [
    DetailType::CaseAccepted,
    DetailType::CaseRejected,
    DetailType::CaseReplied,
    DetailType::CaseReplyShared,
    DetailType::CaseMerged,
    DetailType::CaseDispatched,
    DetailType::CaseReturned,
    DetailType::CaseReported,
    DetailType::CaseExtensionRequested,
    DetailType::CaseUrged,
    DetailType::CaseDueSoon,
    DetailType::CaseExplanationRequested,
    DetailType::CaseOverdue,
    DetailType::CaseSupervised,
];

/// How long a consumer (triage, a hand-off, a notify message) spends sending what it just recorded.
pub const SEND_BUDGET: std::time::Duration = std::time::Duration::from_secs(3);
/// Pages of due deliveries one retry run sends at most (50 each).
const RETRY_PAGES: usize = 20;

/// What a delivery run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct DeliveryReport {
    pub sent: usize,
    pub failed: usize,
    pub held: usize,
    pub dead: usize,
}

impl App {
    /// Gives the app its delivery channels (once, at start). Without them notifications stay in
    /// the outbox (the console's notification list) and nobody is sent anything.
    pub fn set_delivery(&self, delivering: Delivering) {
        let _ = self.delivering.set(delivering);
    }

    /// Whether notifications are sent (some channel was configured).
    pub fn delivers(&self) -> bool {
        self.delivering.get().is_some_and(|d| d.channels.any())
    }

    /// Writes notifications to the outbox (the same key twice keeps one) and delivers each to the
    /// staff of its unit, on the channels each chose and has a contact for. `number` is the case
    /// number the SMS names (none for the digest).
    pub async fn deliver(&self, notifications: &[Notification], number: Option<&str>) -> Result<(), AppError> {
        self.notifier.notify(notifications).await?;
        self.send_notifications(notifications, number).await
    }

    /// The e-mail and SMS half of `deliver`, for notifications already written (with the change
    /// that brought them): each delivery keyed, so a repeat sends nothing twice.
    pub async fn send_notifications(
        &self,
        notifications: &[Notification],
        number: Option<&str>,
    ) -> Result<(), AppError> {
        let Some(delivering) = self.delivering.get().filter(|d| d.channels.any()) else { return Ok(()) };
        if notifications.is_empty() {
            return Ok(());
        }
        let accounts = delivering.accounts.accounts().await?;
        let mut deliveries = Vec::new();
        for n in notifications {
            let staff = accounts.iter().filter(|a| {
                a.unit.as_ref() == Some(&n.unit)
                    && !a.disabled
                    && matches!(a.role, Role::Dispatcher | Role::Handler | Role::Supervisor)
            });
            for account in staff {
                let mut payloads = Vec::new();
                if delivering.channels.email.is_some() && account.notify_email && account.email.is_some() {
                    payloads.push(email_of(n));
                }
                // A landline gets no SMS: the gateway would refuse it every time.
                let mobile_phone = account.phone.as_deref().and_then(mobile);
                if delivering.channels.sms.is_some() && account.notify_sms && mobile_phone.is_some() {
                    payloads.push(sms_of(n, number));
                }
                for payload in payloads {
                    let recipient = Recipient::Staff { username: account.username.clone() };
                    deliveries.push(self.new_delivery(&n.key, recipient, payload, n.topic.urgent()));
                }
            }
        }
        self.send_new(delivering, deliveries).await
    }

    /// Takes one message of the `notify` queue: the staff notifications of the event (the same as
    /// its change's transaction wrote), delivered; and for a case accepted, not accepted or replied,
    /// an SMS to the citizen if they gave a mobile number. Idempotent: every delivery is keyed.
    pub async fn take_notify(&self, body: &str) -> Result<(), AppError> {
        let event = Envelope::parse(body)
            .map_err(|e| AppError::invalid("malformed_notify", "body", format!("notify message unreadable: {e}")))?;
        let case = self.store.get(&event.detail.case_id).await?.ok_or(AppError::NotFound)?;
        let notifications = notifications_of(&self.org, &views::masked_title(&case), &event.event());
        if event.detail_type == DetailType::CaseDispatched && event.detail.handoff.is_some() {
            // Across jurisdictions the unit hears by the hand-off's own notice ("上级交办留言已
            // 送达", delivered by the hand-off consumer): this one stays in the outbox only, so
            // nobody gets two messages for one dispatch.
            self.notifier.notify(&notifications).await?;
        } else {
            self.deliver(&notifications, Some(case.number.as_str())).await?;
        }
        let template = match event.detail_type {
            DetailType::CaseAccepted => SmsTemplate::CitizenAccepted,
            DetailType::CaseRejected => SmsTemplate::CitizenRejected,
            // A merged case's citizen hears of the original's reply as of a reply of their own.
            DetailType::CaseReplied | DetailType::CaseReplyShared => SmsTemplate::CitizenReplied,
            _ => return Ok(()),
        };
        let Some(delivering) = self.delivering.get().filter(|d| d.channels.sms.is_some()) else { return Ok(()) };
        if mobile(&case.citizen.phone).is_none() {
            return Ok(());
        }
        let params = BTreeMap::from([("number".to_owned(), case.number.to_string())]);
        let delivery = self.new_delivery(
            &event.detail.event_id,
            Recipient::Citizen { case: case.id.clone() },
            Payload::Sms { template, params },
            false,
        );
        self.send_new(delivering, vec![delivery]).await
    }

    /// Sends what is due: retries after their backoff, SMS held over the night, deliveries whose
    /// sender stopped before finishing. Called by the scheduler (every sweep on the embedded host,
    /// every 15 minutes on AWS).
    pub async fn retry_deliveries(&self) -> Result<DeliveryReport, AppError> {
        let mut report = DeliveryReport::default();
        let Some(delivering) = self.delivering.get().filter(|d| d.channels.any()) else { return Ok(report) };
        // Pages of 50 until none is left; a page where nothing moved (the store refusing the
        // claims, say) would only come back the same, so stop there — the next run tries again.
        for _ in 0..RETRY_PAGES {
            let due = delivering.store.due_deliveries(self.now(), 50).await?;
            let n = due.len();
            let before = report;
            for d in due {
                self.attempt(delivering, d, &mut report).await;
            }
            if n < 50 || report == before {
                break;
            }
        }
        Ok(report)
    }

    /// An administrator sends a dead delivery again (its log is kept).
    pub async fn send_again(&self, key: &str) -> Result<(), AppError> {
        let delivering = self.delivering.get().ok_or(AppError::NotFound)?;
        let mut d = delivering.store.delivery(key).await?.ok_or(AppError::NotFound)?;
        if d.status != DeliveryStatus::Dead {
            return Err(AppError::Conflict {
                code: "not_dead", message: "该投递未失败，无需重新发送".into()
            });
        }
        let expected = d.version;
        d.status = DeliveryStatus::Pending;
        d.attempts = 0;
        d.next_at = self.now();
        d.version += 1;
        delivering.store.save_delivery(&d, expected).await?;
        let mut report = DeliveryReport::default();
        self.attempt(delivering, d, &mut report).await;
        Ok(())
    }

    /// The console's delivery log: deliveries given up on, and the latest `limit`; `None` where
    /// this deployment sends nothing.
    pub async fn delivery_log(&self, limit: usize) -> Result<Option<(Vec<Delivery>, Vec<Delivery>)>, AppError> {
        let Some(delivering) = self.delivering.get().filter(|d| d.channels.any()) else { return Ok(None) };
        let dead = delivering.store.recent_deliveries(Some(DeliveryStatus::Dead), limit).await?;
        let recent = delivering.store.recent_deliveries(None, limit).await?;
        Ok(Some((dead, recent)))
    }

    fn new_delivery(&self, notification: &str, recipient: Recipient, payload: Payload, urgent: bool) -> Delivery {
        let who = match &recipient {
            Recipient::Staff { username } => username.clone(),
            Recipient::Citizen { .. } => "citizen".into(),
        };
        let channel = match payload.channel() {
            Channel::Email => "email",
            Channel::Sms => "sms",
        };
        Delivery {
            key: format!("{notification}|{channel}|{who}"),
            notification: notification.to_owned(),
            recipient,
            payload,
            urgent,
            status: DeliveryStatus::Pending,
            attempts: 0,
            next_at: self.now(),
            version: 0,
            provider_id: None,
            log: Vec::new(),
            created_at: self.now(),
        }
    }

    /// Records new deliveries (before anything is sent: a crash leaves them due), then sends each
    /// as recorded — a key recorded before is sent only if still due.
    async fn send_new(&self, delivering: &Delivering, deliveries: Vec<Delivery>) -> Result<(), AppError> {
        if deliveries.is_empty() {
            return Ok(());
        }
        delivering.store.add_deliveries(&deliveries).await?;
        // Sent now within a time budget, so that a slow provider cannot hold up the queue message
        // that brought them (triage, a hand-off) past its function's time limit. What the budget
        // leaves is due: the scheduler's next run sends it. A send cut off mid-way keeps its claim
        // and goes again after the lease.
        let until = tokio::time::Instant::now() + SEND_BUDGET;
        let mut report = DeliveryReport::default();
        for d in deliveries {
            let Some(left) = until.checked_duration_since(tokio::time::Instant::now()) else { break };
            let Some(stored) = delivering.store.delivery(&d.key).await? else { continue };
            let due = stored.status == DeliveryStatus::Pending && stored.next_at <= self.now();
            if due && tokio::time::timeout(left, self.attempt(delivering, stored, &mut report)).await.is_err() {
                tracing::warn!(delivery = %d.key, "delivery not finished within its budget; it goes again later");
                break;
            }
        }
        Ok(())
    }

    /// One try of one delivery: held till morning (a non-urgent SMS at night), or claimed — only
    /// one instance wins the claim — sent, and its outcome recorded.
    async fn attempt(&self, delivering: &Delivering, d: Delivery, report: &mut DeliveryReport) {
        let now = self.now();
        let store = delivering.store.as_ref();
        if d.payload.channel() == Channel::Sms && !d.urgent && sms_window(now) > now {
            let mut held = d.clone();
            held.next_at = sms_window(now);
            held.version += 1;
            if store.save_delivery(&held, d.version).await.is_ok() {
                report.held += 1;
            }
            return;
        }
        let mut claimed = d.clone();
        claimed.attempts += 1;
        claimed.next_at = now + LEASE;
        claimed.version += 1;
        match store.save_delivery(&claimed, d.version).await {
            Ok(()) => {}
            // Another instance claimed it first.
            Err(StoreError::Conflict(_)) => return,
            Err(e) => {
                tracing::warn!(delivery = %d.key, error = %e, "delivery not claimed; it stays due");
                return;
            }
        }
        let outcome = self.send(delivering, &claimed).await;
        let mut done = claimed.clone();
        done.version += 1;
        match outcome {
            Ok(id) => {
                done.status = DeliveryStatus::Sent;
                done.log.push(Attempt { at: now, ok: true, detail: id.clone() });
                done.provider_id = Some(id);
                report.sent += 1;
            }
            Err(e) => {
                let permanent = matches!(e, SendError::Permanent(_));
                // A provider's error may repeat the address or number it refused: masked in the
                // log and the console like any text.
                let e = mailbox_domain::mask::mask_personal_data(&e.to_string(), &[]);
                done.log.push(Attempt { at: now, ok: false, detail: e.clone() });
                if permanent || done.attempts >= MAX_ATTEMPTS {
                    done.status = DeliveryStatus::Dead;
                    report.dead += 1;
                    tracing::error!(delivery = %done.key, attempts = done.attempts, error = %e, "delivery given up");
                } else {
                    done.next_at = now + backoff(done.attempts);
                    report.failed += 1;
                    tracing::warn!(delivery = %done.key, attempts = done.attempts, error = %e, "delivery failed; will retry");
                }
            }
        }
        if let Err(e) = store.save_delivery(&done, claimed.version).await {
            // Sent but not recorded: after the lease it is due again and may be sent twice — the
            // provider sees the same idempotency key.
            tracing::error!(delivery = %done.key, error = %e, "delivery outcome not recorded");
        }
    }

    /// Sends one delivery to its recipient's current contact.
    async fn send(&self, delivering: &Delivering, d: &Delivery) -> Result<String, SendError> {
        let to = match &d.recipient {
            Recipient::Staff { username } => {
                let account = delivering
                    .accounts
                    .account(username)
                    .await
                    .map_err(|e| SendError::Transient(e.to_string()))?
                    .filter(|a| !a.disabled)
                    .ok_or_else(|| SendError::Permanent("账号不存在或已停用".into()))?;
                let contact = match d.payload.channel() {
                    Channel::Email => account.email.filter(|_| account.notify_email),
                    Channel::Sms => account.phone.as_deref().and_then(mobile).filter(|_| account.notify_sms),
                };
                contact.ok_or_else(|| SendError::Permanent("该账号已不接收此渠道的通知".into()))?
            }
            Recipient::Citizen { case } => {
                let case = self
                    .store
                    .get(case)
                    .await
                    .map_err(|e| SendError::Transient(e.to_string()))?
                    .ok_or_else(|| SendError::Permanent("留言不存在".into()))?;
                mobile(&case.citizen.phone).ok_or_else(|| SendError::Permanent("留言人未留手机号码".into()))?
            }
        };
        match (&d.payload, &delivering.channels.email, &delivering.channels.sms) {
            (Payload::Email { subject, body }, Some(email), _) => email.send(&to, subject, body, &d.key).await,
            (Payload::Sms { template, params }, _, Some(sms)) => sms.send(&to, *template, params, &d.key).await,
            _ => Err(SendError::Permanent("该渠道未配置".into())),
        }
    }
}
