//! The event bus on EventBridge: `PutEvents` of domain events to the city's custom bus, whose rules
//! (the template's, or [`create_bus`]'s on an emulator) send them to the SQS queues.

use async_trait::async_trait;
use aws_sdk_eventbridge::primitives::DateTime as SdkDateTime;
use aws_sdk_eventbridge::types::{PutEventsRequestEntry, Target};
use aws_sdk_eventbridge::Client;
use mailbox_app::events::{EventBus, Rule, PUBLISH_BATCH};
use mailbox_domain::events::{DomainEvent, EVENT_SOURCE};

pub struct EventBridgeBus {
    client: Client,
    bus: String,
}

impl EventBridgeBus {
    pub fn new(client: Client, bus: impl Into<String>) -> EventBridgeBus {
        EventBridgeBus { client, bus: bus.into() }
    }
}

#[async_trait]
impl EventBus for EventBridgeBus {
    async fn publish(&self, events: &[DomainEvent]) -> Vec<Result<(), String>> {
        assert!(events.len() <= PUBLISH_BATCH, "PutEvents takes at most {PUBLISH_BATCH} entries");
        let entries: Vec<PutEventsRequestEntry> = events
            .iter()
            .map(|e| {
                PutEventsRequestEntry::builder()
                    .event_bus_name(&self.bus)
                    .source(EVENT_SOURCE)
                    .detail_type(e.detail_type.name())
                    .detail(serde_json::to_string(&e.detail).expect("event details serialise"))
                    .time(SdkDateTime::from_millis(e.time.timestamp_millis()))
                    .build()
            })
            .collect();
        match self.client.put_events().set_entries(Some(entries)).send().await {
            // One result entry per request entry, in order; a failed one has an error code.
            Ok(out) => {
                let mut results: Vec<Result<(), String>> = out
                    .entries()
                    .iter()
                    .map(|r| match r.error_code() {
                        None => Ok(()),
                        Some(code) => Err(format!("{code}: {}", r.error_message().unwrap_or(""))),
                    })
                    .collect();
                results.resize(events.len(), Err("no result entry".into()));
                results
            }
            Err(e) => {
                let message = format!("PutEvents failed: {}", aws_sdk_eventbridge::error::DisplayErrorContext(&e));
                events.iter().map(|_| Err(message.clone())).collect()
            }
        }
    }
}

/// Creates the bus, an archive of everything published on it, and the rules with their SQS
/// targets (`queue_arn` of a port queue name): what the template declares, for an emulator.
pub async fn create_bus(
    client: &Client,
    bus: &str,
    rules: &[Rule],
    queue_arn: impl Fn(&str) -> String,
) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let created = client.create_event_bus().name(bus).send().await.map_err(|e| err(&DisplayErr(e)))?;
    let bus_arn = created.event_bus_arn().unwrap_or_default().to_owned();
    client
        .create_archive()
        .archive_name(format!("{bus}-archive"))
        .event_source_arn(bus_arn)
        .retention_days(365)
        .send()
        .await
        .map_err(|e| err(&DisplayErr(e)))?;
    for rule in rules {
        let name = format!("{bus}-{}", rule.name);
        client
            .put_rule()
            .name(&name)
            .event_bus_name(bus)
            .event_pattern(rule.pattern.to_string())
            .send()
            .await
            .map_err(|e| err(&DisplayErr(e)))?;
        let target = Target::builder().id(&rule.queue).arn(queue_arn(&rule.queue)).build().map_err(|e| err(&e))?;
        client
            .put_targets()
            .rule(&name)
            .event_bus_name(bus)
            .targets(target)
            .send()
            .await
            .map_err(|e| err(&DisplayErr(e)))?;
    }
    Ok(())
}

struct DisplayErr<E>(E);

impl<E: std::error::Error> std::fmt::Display for DisplayErr<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", aws_sdk_eventbridge::error::DisplayErrorContext(&self.0))
    }
}
