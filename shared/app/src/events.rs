//! The event bus: domain events leave the store (the outbox table in the embedded host, the
//! table's stream on AWS), a relay publishes them on the bus, and the bus's rules route them to
//! queues — new cases to triage, events that bring notifications to the notify queue, dispatches
//! across jurisdictions to the hand-off queue of the jurisdiction that takes them in. On AWS the bus is EventBridge and the rules are the template's
//! (written from [`rules`]); the embedded host's [`LocalBus`] applies the same rules itself and
//! writes the same envelope to its queues, so the consumers read one format.

use crate::notify::NOTIFY_TYPES;
use crate::ports::{EventOutbox, HandoffQueue, StoreResult};
use crate::service::{handoff_queue, NOTIFY_QUEUE, TRIAGE_QUEUE};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mailbox_domain::events::{DetailType, DomainEvent, EventDetail, DETAIL_VERSION, EVENT_SOURCE};
use mailbox_domain::Organisation;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// EventBridge takes at most 10 entries per `PutEvents`.
pub const PUBLISH_BATCH: usize = 10;
/// Tries per event in one relay run (the first and three retries, 50 ms, 200 ms, 800 ms apart);
/// what still fails stays unpublished and the next run — the next poll of the outbox, or Lambda's
/// retry of the stream batch — tries again.
pub const RELAY_ATTEMPTS: u32 = 4;

/// An event as EventBridge hands it to a target (the body of an SQS message). The embedded bus
/// writes the same shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    pub version: String,
    pub id: String,
    #[serde(rename = "detail-type")]
    pub detail_type: DetailType,
    pub source: String,
    /// The AWS account (`embedded` in the embedded host). Some emulators leave it out.
    #[serde(default)]
    pub account: String,
    pub time: DateTime<Utc>,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub resources: Vec<String>,
    pub detail: EventDetail,
}

impl Envelope {
    /// The envelope the embedded bus writes: the event's own id, account `embedded`.
    pub fn local(event: &DomainEvent) -> Envelope {
        Envelope {
            version: "0".into(),
            id: event.id().to_owned(),
            detail_type: event.detail_type,
            source: EVENT_SOURCE.into(),
            account: "embedded".into(),
            time: event.time,
            region: "local".into(),
            resources: Vec::new(),
            detail: event.detail.clone(),
        }
    }

    /// The domain event it carries.
    pub fn event(&self) -> DomainEvent {
        DomainEvent { detail_type: self.detail_type, time: self.time, detail: self.detail.clone() }
    }

    /// Reads a queue message's body: an event of this system, of a detail version this code knows.
    pub fn parse(body: &str) -> Result<Envelope, String> {
        let envelope: Envelope = serde_json::from_str(body).map_err(|e| format!("not an event of the bus: {e}"))?;
        if envelope.source != EVENT_SOURCE {
            return Err(format!("event of another source: {}", envelope.source));
        }
        if envelope.detail.version != DETAIL_VERSION {
            return Err(format!("event detail version {} is unknown here", envelope.detail.version));
        }
        Ok(envelope)
    }
}

/// A rule of the bus: events matching `pattern` (EventBridge's event-pattern syntax, exact values
/// only) go to the queue named `queue` (a port queue name; the deployment adds its prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub name: String,
    pub pattern: Value,
    pub queue: String,
}

/// The bus's rules for an organisation: new cases to triage, triaged ones back to it for topic-finding
/// (舆情), and replies too (the triage consumer
/// shares a reply with the cases merged into the replied one, 并单); events that bring
/// notifications to the notify queue; a dispatch to a unit of another jurisdiction to that
/// jurisdiction's hand-off queue.
pub fn rules(org: &Organisation) -> Vec<Rule> {
    let notify: Vec<&str> = NOTIFY_TYPES.iter().map(|t| t.name()).collect();
    let mut rules = vec![
        Rule {
            name: "triage".into(),
            pattern: json!({"source": [EVENT_SOURCE], "detail-type": [DetailType::CaseSubmitted.name()]}),
            queue: TRIAGE_QUEUE.into(),
        },
        Rule {
            name: "topics".into(),
            pattern: json!({"source": [EVENT_SOURCE], "detail-type": [DetailType::CaseTriaged.name()]}),
            queue: TRIAGE_QUEUE.into(),
        },
        Rule {
            name: "merged".into(),
            pattern: json!({"source": [EVENT_SOURCE], "detail-type": [DetailType::CaseReplied.name()]}),
            queue: TRIAGE_QUEUE.into(),
        },
        Rule {
            name: "notify".into(),
            pattern: json!({"source": [EVENT_SOURCE], "detail-type": notify}),
            queue: NOTIFY_QUEUE.into(),
        },
    ];
    for j in &org.jurisdictions {
        rules.push(Rule {
            name: handoff_queue(j.id.as_str()),
            pattern: json!({
                "source": [EVENT_SOURCE],
                "detail-type": [DetailType::CaseDispatched.name()],
                "detail": {"handoff": [j.id.as_str()]},
            }),
            queue: handoff_queue(j.id.as_str()),
        });
    }
    rules
}

/// Whether `event` (an envelope as JSON) matches `pattern`: every field of the pattern is present,
/// a list names the values allowed, an object matches the field's fields. (The part of
/// EventBridge's syntax the rules use.)
pub fn matches(pattern: &Value, event: &Value) -> bool {
    let Value::Object(fields) = pattern else { return false };
    fields.iter().all(|(name, want)| {
        let got = event.get(name);
        match want {
            Value::Array(allowed) => got.is_some_and(|g| allowed.contains(g)),
            Value::Object(_) => got.is_some_and(|g| matches(want, g)),
            _ => false,
        }
    })
}

/// Where domain events are published: EventBridge on AWS, [`LocalBus`] in the embedded host.
#[async_trait]
pub trait EventBus: Send + Sync + 'static {
    /// Publishes at most [`PUBLISH_BATCH`] events; per event, whether the bus took it.
    async fn publish(&self, events: &[DomainEvent]) -> Vec<Result<(), String>>;
}

/// Publishes events in batches of [`PUBLISH_BATCH`], trying the events a batch failed again with
/// backoff ([`RELAY_ATTEMPTS`] tries in all). Per event, whether it was published. An event may be
/// published twice (a retry after an answer that was lost): consumers are idempotent by event id.
pub async fn relay(bus: &dyn EventBus, events: &[DomainEvent]) -> Vec<bool> {
    let mut published = vec![false; events.len()];
    for start in (0..events.len()).step_by(PUBLISH_BATCH) {
        let mut pending: Vec<usize> = (start..(start + PUBLISH_BATCH).min(events.len())).collect();
        let mut delay = Duration::from_millis(50);
        for attempt in 1..=RELAY_ATTEMPTS {
            let batch: Vec<DomainEvent> = pending.iter().map(|&i| events[i].clone()).collect();
            let results = bus.publish(&batch).await;
            let mut failed = Vec::new();
            for (i, result) in pending.iter().zip(results.into_iter().chain(std::iter::repeat(Err("no answer".into()))))
            {
                match result {
                    Ok(()) => published[*i] = true,
                    Err(e) => {
                        tracing::warn!(event_id = events[*i].id(), attempt, error = %e, "event not published");
                        failed.push(*i);
                    }
                }
            }
            pending = failed;
            if pending.is_empty() || attempt == RELAY_ATTEMPTS {
                break;
            }
            tokio::time::sleep(delay).await;
            delay *= 4;
        }
    }
    published
}

/// The embedded host's bus: applies [`rules`] and writes each event's envelope to the queues of
/// the rules it matches.
pub struct LocalBus {
    pub queue: Arc<dyn HandoffQueue>,
    pub rules: Vec<Rule>,
}

#[async_trait]
impl EventBus for LocalBus {
    async fn publish(&self, events: &[DomainEvent]) -> Vec<Result<(), String>> {
        let mut out = Vec::with_capacity(events.len());
        for event in events {
            let envelope = Envelope::local(event);
            let value = serde_json::to_value(&envelope).expect("envelopes serialise");
            let body = value.to_string();
            let mut result = Ok(());
            for rule in self.rules.iter().filter(|r| matches(&r.pattern, &value)) {
                if let Err(e) = self.queue.send(&rule.queue, &body).await {
                    result = Err(format!("rule {}: {e}", rule.name));
                    break;
                }
            }
            out.push(result);
        }
        out
    }
}

/// How many outbox events one relay run reads.
pub const RELAY_PAGE: usize = 100;

/// One run of the embedded relay: publishes what the outbox holds unpublished and records what
/// went; what failed stays for the next run. The number published.
pub async fn relay_outbox(outbox: &dyn EventOutbox, bus: &dyn EventBus, now: DateTime<Utc>) -> StoreResult<usize> {
    let pending = outbox.unpublished(RELAY_PAGE).await?;
    if pending.is_empty() {
        return Ok(0);
    }
    let events: Vec<DomainEvent> = pending.iter().map(|(_, e)| e.clone()).collect();
    let published = relay(bus, &events).await;
    let positions: Vec<i64> =
        pending.iter().zip(&published).filter(|(_, &ok)| ok).map(|((position, _), _)| *position).collect();
    outbox.mark_published(&positions, now).await?;
    Ok(positions.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_matches_listed_values_and_nested_fields_only() {
        let rules = rules(&Organisation::guangan());
        let handoff = rules.iter().find(|r| r.queue == "handoff-linshui").unwrap();
        let event = json!({"source": "mailbox", "detail-type": "CaseDispatched", "detail": {"handoff": "linshui"}});
        assert!(matches(&handoff.pattern, &event));
        let elsewhere = json!({"source": "mailbox", "detail-type": "CaseDispatched", "detail": {"handoff": "wusheng"}});
        assert!(!matches(&handoff.pattern, &elsewhere));
        let within = json!({"source": "mailbox", "detail-type": "CaseDispatched", "detail": {}});
        assert!(!matches(&handoff.pattern, &within), "a dispatch within the jurisdiction is no hand-off");
        let other_source = json!({"source": "other", "detail-type": "CaseSubmitted"});
        assert!(!matches(&rules[0].pattern, &other_source));
    }
}
