//! The case store on one DynamoDB table. Every state change is one `TransactWriteItems`: the case
//! item written over its version, its audit events (each put only if new), its unit-membership
//! items, counter increments and notifications. No Scan on any request or scheduled path.

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, Delete, GlobalSecondaryIndex, KeySchemaElement, KeyType,
    KeysAndAttributes, Projection, ProjectionType, Put, ScalarAttributeType, TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};
use mailbox_app::accounts::{Account, AccountStore, Session};
use mailbox_app::delivery::{Delivery, DeliveryStatus, DeliveryStore, DELIVERY_RETENTION};
use mailbox_app::desk::OpinionDesk;
use mailbox_app::discussion::DiscussionStore;
use mailbox_app::open311::{ApiKey, ApiKeyStore};
use mailbox_app::opinion::TopicStore;
use mailbox_app::ports::{list_cursor, CasePage};
use mailbox_app::ports::{
    AttemptStore, CalendarState, CaseQuery, CaseStore, CreateOutcome, IdempotencyRecord, Notification,
    NotificationPage, Notifier, Numbering, Page, StoreError, StoreResult, StoredCalendar, NOTIFICATION_TTL,
};
use mailbox_domain::case::Case;

use mailbox_domain::discussion::{Comment, CommentStatus, Topic};
use mailbox_domain::events::DomainEvent;
use mailbox_domain::opinion::{surge_key, surge_range, week_of, HotTopic, OpinionItem, TopicEntry};
use mailbox_domain::stats::CounterDelta;
use mailbox_domain::workflow::AuditEvent;
use mailbox_domain::{CaseId, CaseNumber, CaseStatus, UnitId};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

pub(crate) type Item = HashMap<String, AttributeValue>;

/// Write shards of the alarm index and the all-cases index, and of each counter.
pub(crate) const SHARDS: u32 = 8;
/// The global secondary indexes (infra/TABLE.md); the SAM template lists the same.
const INDEXES: [&str; 7] = ["G1", "G2", "G3", "G4", "G5", "G6", "G7"];
/// The attribute DynamoDB's time to live reads (epoch seconds): sessions and attempt counts.
pub const TTL_ATTRIBUTE: &str = "ttl";

#[derive(Clone)]
pub struct DynamoStore {
    pub(crate) client: Client,
    pub(crate) table: String,
    /// Months already registered in the counter-month registry by this instance.
    months: std::sync::Arc<Mutex<HashSet<String>>>,
    /// The first month with cases, once read (it never changes after): where searches stop.
    first_month: std::sync::Arc<Mutex<Option<String>>>,
}

pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(crate) fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub(crate) fn unavailable<E: std::fmt::Debug>(e: E) -> StoreError {
    StoreError::Unavailable(format!("{e:?}"))
}

fn build<T, E: std::fmt::Display>(r: Result<T, E>) -> StoreResult<T> {
    r.map_err(|e| StoreError::Unavailable(e.to_string()))
}

/// The index whose keys are the attributes `<g>PK` and `<g>SK`.
pub(crate) fn index_name(g: &str) -> String {
    format!("{g}-index")
}

fn shard(id: &str) -> u32 {
    let h = Sha256::digest(id.as_bytes());
    u32::from_be_bytes([h[0], h[1], h[2], h[3]]) % SHARDS
}

fn status_name(s: CaseStatus) -> String {
    serde_json::to_value(s).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

fn ms13(t: DateTime<Utc>) -> String {
    ms13_of(t.timestamp_millis())
}

/// Milliseconds as 13 digits: sort keys of instants sort as the instants.
pub(crate) fn ms13_of(ms: i64) -> String {
    format!("{:013}", ms.max(0))
}

/// A number attribute of an item.
fn number(item: Option<&Item>, name: &str) -> Option<u64> {
    item.and_then(|i| i.get(name)).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok())
}

/// Whether a request failed only because its condition did not hold.
fn is_condition_failed<E: aws_sdk_dynamodb::error::ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    matches!(e, SdkError::ServiceError(se) if se.err().code() == Some("ConditionalCheckFailedException"))
}

/// The calendar state of its item (`NOTICE`/`STATE`); none stored yet is version 0.
fn calendar_state_of(item: Option<&Item>) -> CalendarState {
    CalendarState { version: number(item, "version").unwrap_or(0), recomputed: number(item, "recomputed").unwrap_or(0) }
}

fn epoch_secs(t: DateTime<Utc>) -> i64 {
    t.timestamp().max(0)
}

pub(crate) fn doc_of(item: &Item) -> StoreResult<Case> {
    let doc = item
        .get("doc")
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| StoreError::Corrupt("case item without doc".into()))?;
    serde_json::from_str(doc).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn event_of(item: &Item) -> StoreResult<AuditEvent> {
    let doc =
        item.get("doc").and_then(|v| v.as_s().ok()).ok_or_else(|| StoreError::Corrupt("event without doc".into()))?;
    serde_json::from_str(doc).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn case_key(id: &str) -> (AttributeValue, AttributeValue) {
    (s(format!("CASE#{id}")), s("CASE"))
}

/// The list position of a case: status, then due instant (none last), then id.
fn list_sk(case: &Case) -> String {
    format!("{}#{}", status_name(case.status), list_cursor(case))
}

/// The case item with every index attribute derived from the case.
/// DynamoDB's limit for one item: attribute names and values together.
const MAX_ITEM_BYTES: usize = 400 * 1024;

/// An item's size as DynamoDB counts it (names and values; strings and numbers are all we write,
/// anything else is counted by its debug form, which is larger than its stored size).
fn item_bytes(item: &Item) -> usize {
    item.iter()
        .map(|(name, value)| {
            name.len()
                + match value {
                    AttributeValue::S(v) | AttributeValue::N(v) => v.len(),
                    other => format!("{other:?}").len(),
                }
        })
        .sum()
}

/// The case's item, refused when DynamoDB could not store it (the domain keeps cases well below:
/// `MAX_CASE_BYTES`; this guard names the case instead of failing the whole transaction).
fn case_item(case: &Case) -> StoreResult<Item> {
    let item = case_item_unchecked(case);
    let bytes = item_bytes(&item);
    if bytes > MAX_ITEM_BYTES {
        return Err(StoreError::TooLarge(format!("case {} would be {bytes} bytes", case.id)));
    }
    Ok(item)
}

fn case_item_unchecked(case: &Case) -> Item {
    let (pk, sk) = case_key(case.id.as_str());
    let mut item: Item = HashMap::from([
        ("PK".into(), pk),
        ("SK".into(), sk),
        ("version".into(), n(case.version)),
        ("doc".into(), s(serde_json::to_string(case).expect("cases serialise"))),
        ("G1PK".into(), s(format!("NUM#{}", case.number))),
        ("G1SK".into(), s("CASE")),
        ("G2PK".into(), s(format!("DISP#{}", case.dispatcher))),
        ("G2SK".into(), s(list_sk(case))),
        ("G3PK".into(), s(format!("ALL#{}", shard(case.id.as_str())))),
        ("G3SK".into(), s(list_sk(case))),
        ("G6PK".into(), s(format!("RECENT#{}", case.dispatcher))),
        ("G6SK".into(), s(format!("{}#{}", ms13(case.submitted_at), case.id))),
        ("mailbox".into(), s(case.mailbox.as_str())),
    ]);
    // Sparse: only cases with a running deadline are in G7 (the recomputation job's walk), keyed by
    // id, which never changes while the case is in it.
    if matches!(case.status, CaseStatus::InProgress | CaseStatus::Reported) {
        item.insert("G7PK".into(), s(format!("RUN#{}", shard(case.id.as_str()))));
        item.insert("G7SK".into(), s(case.id.as_str()));
    }
    // Sparse: only cases the sweep must still look at are in the alarm index.
    if let Some(alarm) = case.next_alarm {
        item.insert("G4PK".into(), s(format!("ALARM#{}", shard(case.id.as_str()))));
        item.insert("G4SK".into(), s(format!("{}#{}", ms13(alarm), case.id)));
    }
    crate::published::add_attributes(case, &mut item);
    crate::lists::add_attributes(case, &mut item);
    item
}

/// Membership items: one per handling unit, so a unit's inbox is one Query of index G2.
fn unit_item(case: &Case, unit: &UnitId) -> Item {
    let mut item = HashMap::from([
        ("PK".into(), s(format!("CASE#{}", case.id))),
        ("SK".into(), s(format!("UNIT#{unit}"))),
        ("G2PK".into(), s(format!("UNIT#{unit}"))),
        ("G2SK".into(), s(list_sk(case))),
        ("case".into(), s(case.id.as_str())),
    ]);
    // The list's filters are evaluated on the membership item itself.
    crate::lists::add_attributes(case, &mut item);
    item
}

/// 并单 link: a merged case's item naming its original in index G1 (`MERGED#<original number>`), so
/// the cases merged into one original are one Query (`CaseStore::merged_into`).
fn merge_item(case: &Case, original: &CaseNumber) -> Item {
    HashMap::from([
        ("PK".into(), s(format!("CASE#{}", case.id))),
        ("SK".into(), s("MERGED")),
        ("G1PK".into(), s(format!("MERGED#{original}"))),
        ("G1SK".into(), s(case.id.as_str())),
        ("case".into(), s(case.id.as_str())),
    ])
}

/// The attribute of an audit event's item that holds its domain event: the table's stream carries
/// the new item to the relay, which publishes this (and skips every item without it).
pub const DOMAIN_ATTRIBUTE: &str = "domain";

/// An audit event. Also under its case's number in `G1` (after the case item, `CASE` < `EV#…`), so
/// a citizen's lookup by number reads the case and its trail in one Query.
fn event_item(e: &AuditEvent, domain: Option<&DomainEvent>, number: &CaseNumber) -> Item {
    let sk = format!("EV#{:010}", e.seq);
    let mut item = HashMap::from([
        ("PK".into(), s(format!("CASE#{}", e.case))),
        ("SK".into(), s(sk.clone())),
        ("G1PK".into(), s(format!("NUM#{number}"))),
        ("G1SK".into(), s(sk)),
        ("doc".into(), s(serde_json::to_string(e).expect("events serialise"))),
    ]);
    if let Some(d) = domain {
        item.insert(DOMAIN_ATTRIBUTE.into(), s(serde_json::to_string(d).expect("domain events serialise")));
    }
    item
}

/// Counters live in a partition per family and month (`cell|2026-11`), each spread over write
/// shards so that concurrent changes rarely touch the same item.
fn counter_partition(key: &str) -> String {
    let mut parts = key.splitn(3, '|');
    let family = parts.next().unwrap_or("");
    match parts.next() {
        Some(month) => format!("CTR#{family}|{month}"),
        None => format!("CTR#{family}"),
    }
}

fn month_of_key(key: &str) -> Option<String> {
    key.split('|').nth(1).filter(|m| m.len() == 7).map(str::to_owned)
}

/// Adds counter shard items to the totals by counter key.
fn add_shards(totals: &mut BTreeMap<String, i64>, items: &[Item]) {
    for item in items {
        let key = item.get("counter").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
        let value: i64 = item.get("value").and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok()).unwrap_or(0);
        *totals.entry(key).or_insert(0) += value;
    }
}

/// Sums deltas per key: a transaction may not touch one item twice.
fn merged(counters: &[CounterDelta]) -> BTreeMap<String, i64> {
    let mut m = BTreeMap::new();
    for c in counters {
        *m.entry(c.key.clone()).or_insert(0) += c.delta;
    }
    m.retain(|_, v| *v != 0);
    m
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> DynamoStore {
        DynamoStore { client, table: table.into(), months: Default::default(), first_month: Default::default() }
    }

    /// Creates the table with its indexes (what the SAM template does on AWS).
    pub async fn create_table(&self) -> StoreResult<()> {
        let attr = |name: &str| {
            build(AttributeDefinition::builder().attribute_name(name).attribute_type(ScalarAttributeType::S).build())
        };
        let key = |name: &str, t: KeyType| build(KeySchemaElement::builder().attribute_name(name).key_type(t).build());
        let mut definitions = vec![attr("PK")?, attr("SK")?];
        let mut indexes = Vec::new();
        for g in INDEXES {
            definitions.push(attr(&format!("{g}PK"))?);
            definitions.push(attr(&format!("{g}SK"))?);
            indexes.push(build(
                GlobalSecondaryIndex::builder()
                    .index_name(index_name(g))
                    .key_schema(key(&format!("{g}PK"), KeyType::Hash)?)
                    .key_schema(key(&format!("{g}SK"), KeyType::Range)?)
                    .projection(Projection::builder().projection_type(ProjectionType::All).build())
                    .build(),
            )?);
        }
        self.client
            .create_table()
            .table_name(&self.table)
            .set_attribute_definitions(Some(definitions))
            .key_schema(key("PK", KeyType::Hash)?)
            .key_schema(key("SK", KeyType::Range)?)
            .set_global_secondary_indexes(Some(indexes))
            .billing_mode(BillingMode::PayPerRequest)
            // The stream brings each new audit event's domain event to the relay (new images only).
            .stream_specification(build(
                aws_sdk_dynamodb::types::StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(aws_sdk_dynamodb::types::StreamViewType::NewImage)
                    .build(),
            )?)
            .send()
            .await
            .map_err(unavailable)?;
        let ttl = build(
            aws_sdk_dynamodb::types::TimeToLiveSpecification::builder()
                .attribute_name(TTL_ATTRIBUTE)
                .enabled(true)
                .build(),
        )?;
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(ttl)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Bulk load of cases as they stand (case and membership items, no events or counters), for
    /// migrations and benchmarks — never a state change of the workflow.
    pub async fn load(&self, cases: &[Case]) -> StoreResult<()> {
        use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
        let mut items: Vec<Item> = Vec::new();
        for case in cases {
            items.push(case_item(case)?);
            items.extend(case.handling_units().map(|u| unit_item(case, u)));
        }
        for chunk in items.chunks(25) {
            let mut requests: Vec<WriteRequest> = chunk
                .iter()
                .map(|i| {
                    Ok(WriteRequest::builder()
                        .put_request(build(PutRequest::builder().set_item(Some(i.clone())).build())?)
                        .build())
                })
                .collect::<StoreResult<_>>()?;
            while !requests.is_empty() {
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(unavailable)?;
                requests = out.unprocessed_items().and_then(|u| u.get(&self.table)).cloned().unwrap_or_default();
            }
        }
        Ok(())
    }

    /// Puts an item over the version read: `Conflict` (naming `what`) when another is stored.
    async fn put_versioned(&self, item: Item, expected: u64, what: impl FnOnce() -> String) -> StoreResult<()> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("version = :v")
            .expression_attribute_values(":v", n(expected))
            .send()
            .await;
        match put {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failed(&e) => {
                Err(StoreError::Conflict(format!("{} is not at version {expected}", what())))
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    fn put(&self, item: Item) -> StoreResult<TransactWriteItem> {
        Ok(TransactWriteItem::builder()
            .put(build(Put::builder().table_name(&self.table).set_item(Some(item)).build())?)
            .build())
    }

    /// What a retry with this idempotency record gets (its create's condition on the record
    /// failed): the first case (`Existing`), `KeyReused` for a different request, or `None` when
    /// the record has lapsed (at `record.created_at`).
    async fn replay(&self, record: &IdempotencyRecord) -> StoreResult<Option<CreateOutcome>> {
        let Some(idem) = self.get_item(s(format!("IDEM#{}", record.key_digest)), s("IDEM")).await? else {
            return Ok(None);
        };
        let get = |k: &str| idem.get(k).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
        // TTL removes lapsed records within a day or two, not at once: a lapsed one is no record.
        let expires = idem.get(TTL_ATTRIBUTE).and_then(|v| v.as_n().ok()).and_then(|v| v.parse::<i64>().ok());
        if expires.is_none_or(|t| t <= epoch_secs(record.created_at)) {
            return Ok(None);
        }
        if get("fingerprint") != record.fingerprint {
            return Ok(Some(CreateOutcome::KeyReused));
        }
        let first = self
            .get(&CaseId::new(get("case")))
            .await?
            .ok_or_else(|| StoreError::Corrupt("idempotency record without its case".into()))?;
        Ok(Some(CreateOutcome::Existing { case: Box::new(first), sealed_code: get("sealed_code") }))
    }

    /// A named sequence's value (0 before its first), read consistently.
    async fn sequence_value(&self, name: &str) -> StoreResult<u64> {
        let item = self.get_item(s(format!("SEQ#{name}")), s("SEQ")).await?;
        Ok(number(item.as_ref(), "value").unwrap_or(0))
    }

    /// One try of `CaseStore::create`; with `claim` (a sequence and the value read), the case's
    /// transaction also moves the sequence on from that value, only if it is still that value.
    async fn create_once(
        &self,
        case: &Case,
        event: &AuditEvent,
        domain: &DomainEvent,
        counters: &[CounterDelta],
        idempotency: Option<&IdempotencyRecord>,
        claim: Option<(&str, u64)>,
    ) -> Result<CreateOutcome, CreateFailure> {
        let mut items = Vec::new();
        if let Some(r) = idempotency {
            // New, or over a lapsed record of the same key that TTL has not removed yet.
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(HashMap::from([
                    ("PK".into(), s(format!("IDEM#{}", r.key_digest))),
                    ("SK".into(), s("IDEM")),
                    ("case".into(), s(case.id.as_str())),
                    ("fingerprint".into(), s(r.fingerprint.as_str())),
                    ("sealed_code".into(), s(r.sealed_code.as_str())),
                    (TTL_ATTRIBUTE.into(), n(epoch_secs(r.expires_at()))),
                ])))
                .condition_expression("attribute_not_exists(PK) OR #t <= :now")
                .expression_attribute_names("#t", TTL_ATTRIBUTE)
                .expression_attribute_values(":now", n(epoch_secs(r.created_at)))
                .build();
            items.push(TransactWriteItem::builder().put(build(put)?).build());
        }
        let claim_at = items.len();
        if let Some((name, taken)) = claim {
            let update = Update::builder()
                .table_name(&self.table)
                .key("PK", s(format!("SEQ#{name}")))
                .key("SK", s("SEQ"))
                .update_expression("SET #v = :next")
                .expression_attribute_names("#v", "value")
                .expression_attribute_values(":next", n(taken + 1));
            let update = if taken == 0 {
                update.condition_expression("attribute_not_exists(#v)")
            } else {
                update.condition_expression("#v = :taken").expression_attribute_values(":taken", n(taken))
            };
            items.push(TransactWriteItem::builder().update(build(update.build())?).build());
        }
        items.push(self.put_new(case_item(case)?)?);
        items.push(self.put_new(event_item(event, Some(domain), &case.number))?);
        items.extend(self.counter_updates(counters, case.id.as_str())?);
        match self.transact(items).await {
            Ok(()) => Ok(CreateOutcome::Created(case.number.clone())),
            Err(TransactFailure::Condition(0)) if idempotency.is_some() => {
                let r = idempotency.expect("checked");
                let replayed = self.replay(r).await?;
                Ok(replayed.ok_or(StoreError::Conflict("idempotency record changed meanwhile".into()))?)
            }
            Err(TransactFailure::Condition(i)) if claim.is_some() && i == claim_at => Err(CreateFailure::NumberTaken),
            // Other submissions' transactions on the sequence item every time: as if one took the
            // number (read again after the growing random pause).
            Err(TransactFailure::Contended(_)) if claim.is_some() => Err(CreateFailure::NumberTaken),
            Err(TransactFailure::Condition(_)) => Err(StoreError::Conflict(format!("case {} exists", case.id)).into()),
            Err(TransactFailure::Other(e) | TransactFailure::Contended(e)) => Err(StoreError::Unavailable(e).into()),
        }
    }

    /// One attempt given back under `key`, in a transaction: only where one is counted.
    fn give_back_item(&self, key: &str) -> StoreResult<TransactWriteItem> {
        let update = Update::builder()
            .table_name(&self.table)
            .key("PK", s(format!("LIMIT#{key}")))
            .key("SK", s("LIMIT"))
            .update_expression("ADD #n :minus")
            .condition_expression("#n > :zero")
            .expression_attribute_names("#n", "count")
            .expression_attribute_values(":minus", n(-1))
            .expression_attribute_values(":zero", n(0))
            .build();
        Ok(TransactWriteItem::builder().update(build(update)?).build())
    }

    fn put_new(&self, item: Item) -> StoreResult<TransactWriteItem> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .build();
        Ok(TransactWriteItem::builder().put(build(put)?).build())
    }

    fn counter_updates(&self, counters: &[CounterDelta], shard_of: &str) -> StoreResult<Vec<TransactWriteItem>> {
        merged(counters)
            .into_iter()
            .map(|(key, delta)| {
                let update = Update::builder()
                    .table_name(&self.table)
                    .key("PK", s(counter_partition(&key)))
                    .key("SK", s(format!("{key}#{}", shard(shard_of))))
                    .update_expression("ADD #v :d SET #k = :k")
                    .expression_attribute_names("#v", "value")
                    .expression_attribute_names("#k", "counter")
                    .expression_attribute_values(":d", n(delta))
                    .expression_attribute_values(":k", s(key.as_str()))
                    .build();
                Ok(TransactWriteItem::builder().update(build(update)?).build())
            })
            .collect()
    }

    fn notification_puts(&self, notifications: &[Notification]) -> StoreResult<Vec<TransactWriteItem>> {
        let mut out = Vec::new();
        for note in notifications {
            let doc = serde_json::to_string(note).expect("notifications serialise");
            // One copy in the unit's partition, one in the all-units partition, sorted by time and
            // key: a notification's time is that of what it tells (never the moment it is written),
            // so writing it again (a retry) overwrites it: one stays. TTL removes it after
            // `NOTIFICATION_TTL`.
            for partition in [format!("NOTE#{}", note.unit), "NOTE#*".to_owned()] {
                out.push(self.put(HashMap::from([
                    ("PK".into(), s(partition)),
                    ("SK".into(), s(format!("T#{}", NotificationPage::cursor(note)))),
                    ("doc".into(), s(doc.clone())),
                    (TTL_ATTRIBUTE.into(), n(epoch_secs(note.created_at + NOTIFICATION_TTL))),
                ]))?);
            }
        }
        Ok(out)
    }

    /// Registers the months of counters, outside the transactions (it would be a hot item there).
    async fn register_months(&self, counters: &[CounterDelta]) -> StoreResult<()> {
        // Claimed in the cache before the request, so that concurrent changes register a month
        // once; released again if the request fails.
        let new: Vec<String> = {
            let mut known = self.months.lock().expect("months lock");
            let new: Vec<String> = counters
                .iter()
                .filter_map(|c| month_of_key(&c.key))
                .filter(|m| !known.contains(m))
                .collect::<HashSet<_>>()
                .into_iter()
                .collect();
            known.extend(new.iter().cloned());
            new
        };
        if new.is_empty() {
            return Ok(());
        }
        self.client
            .update_item()
            .table_name(&self.table)
            .key("PK", s("CTRMONTHS"))
            .key("SK", s("M"))
            .update_expression("ADD months :m")
            .expression_attribute_values(":m", AttributeValue::Ss(new.clone()))
            .send()
            .await
            .map_err(|e| {
                let mut known = self.months.lock().expect("months lock");
                for m in &new {
                    known.remove(m);
                }
                unavailable(e)
            })?;
        Ok(())
    }

    /// The first month (`YYYY-MM`) with cases, from the month registry; `None` before any case.
    /// Replies come after their case, so no published reply is in an earlier month.
    pub(crate) async fn first_month(&self) -> StoreResult<Option<String>> {
        if let Some(m) = self.first_month.lock().expect("first month lock").clone() {
            return Ok(Some(m));
        }
        let first = self
            .get_item(s("CTRMONTHS"), s("M"))
            .await?
            .and_then(|i| i.get("months").and_then(|v| v.as_ss().ok()).and_then(|m| m.iter().min().cloned()));
        if let Some(m) = &first {
            *self.first_month.lock().expect("first month lock") = Some(m.clone());
        }
        Ok(first)
    }

    /// Runs a transaction; a conflict with another transaction on a shared item (a counter) is
    /// transient and retried; a failed condition is the caller's conflict.
    /// One transaction. It carries a `ClientRequestToken`, so that when the SDK sends it again —
    /// its own retry after a timeout or a 5xx, with the same token — DynamoDB answers the first
    /// outcome instead of applying it twice (or, for a committed transaction, reporting its own
    /// condition as a false conflict: a citizen would lose the query code of a stored case). A
    /// cancelled attempt (`TransactionConflict`) changed nothing and is tried again with a new token;
    /// `TransactionInProgress` (the first send still running) with the same token.
    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), TransactFailure> {
        let new_token = || hex::encode(rand::random::<[u8; 16]>());
        let mut token = new_token();
        let mut delay = Duration::from_millis(20);
        for attempt in 0..6 {
            let sent = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .client_request_token(&token)
                .send()
                .await;
            match sent {
                Ok(_) => return Ok(()),
                Err(SdkError::ServiceError(e)) => {
                    let retry = match e.err() {
                        TransactWriteItemsError::TransactionCanceledException(c) => {
                            let codes: Vec<&str> =
                                c.cancellation_reasons().iter().map(|r| r.code().unwrap_or("None")).collect();
                            if let Some(i) = codes.iter().position(|c| *c == "ConditionalCheckFailed") {
                                return Err(TransactFailure::Condition(i));
                            }
                            if codes.contains(&"TransactionConflict") {
                                if attempt == 5 {
                                    return Err(TransactFailure::Contended(format!("{:?}", e.err())));
                                }
                                token = new_token();
                                true
                            } else {
                                false
                            }
                        }
                        TransactWriteItemsError::TransactionInProgressException(_) => true,
                        _ => false,
                    };
                    if retry && attempt < 5 {
                        // Random within the step, so that writers that met spread out.
                        let wait = delay.mul_f64(rand::Rng::gen_range(&mut rand::thread_rng(), 0.5..=1.0));
                        tokio::time::sleep(wait).await;
                        delay *= 2;
                        continue;
                    }
                    return Err(TransactFailure::Other(format!("{:?}", e.err())));
                }
                Err(e) => return Err(TransactFailure::Other(format!("{e:?}"))),
            }
        }
        Err(TransactFailure::Other("transaction kept conflicting".into()))
    }

    async fn get_item(&self, pk: AttributeValue, sk: AttributeValue) -> StoreResult<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("PK", pk)
            .key("SK", sk)
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.item().cloned())
    }

    /// Queries an index or the table, following pages until `limit` items (all when `None`).
    async fn query(
        &self,
        index: Option<&str>,
        condition: &str,
        values: Vec<(&str, AttributeValue)>,
        forward: bool,
        limit: Option<usize>,
    ) -> StoreResult<Vec<Item>> {
        self.query_filtered(index, condition, None, values, forward, limit).await
    }

    /// `query` with a filter expression: pages (each at most `limit` items evaluated, 1 MB) are read
    /// until `limit` items passed the filter or the partition ends.
    pub(crate) async fn query_filtered(
        &self,
        index: Option<&str>,
        condition: &str,
        filter: Option<&str>,
        values: Vec<(&str, AttributeValue)>,
        forward: bool,
        limit: Option<usize>,
    ) -> StoreResult<Vec<Item>> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            // Base-table reads are strongly consistent: the notices an instance reloads after seeing
            // a new calendar version, the accounts, a case's trail. (Indexes cannot be.)
            let mut q = self
                .client
                .query()
                .table_name(&self.table)
                .set_index_name(index.map(str::to_owned))
                .consistent_read(index.is_none())
                .key_condition_expression(condition)
                .set_filter_expression(filter.map(str::to_owned))
                .scan_index_forward(forward)
                .set_exclusive_start_key(start.take());
            for (k, v) in &values {
                q = q.expression_attribute_values(*k, v.clone());
            }
            if let Some(l) = limit {
                q = q.limit((l - items.len()).min(1000) as i32);
            }
            let out = q.send().await.map_err(unavailable)?;
            items.extend(out.items().iter().cloned());
            match out.last_evaluated_key() {
                Some(k) if limit.is_none_or(|l| items.len() < l) && !k.is_empty() => start = Some(k.clone()),
                _ => return Ok(items),
            }
        }
    }

    pub(crate) async fn batch_get_cases(&self, ids: &[String]) -> StoreResult<HashMap<String, Case>> {
        let mut found = HashMap::new();
        for chunk in ids.chunks(100) {
            let keys: Vec<Item> = chunk
                .iter()
                .map(|id| {
                    let (pk, sk) = case_key(id);
                    HashMap::from([("PK".to_owned(), pk), ("SK".to_owned(), sk)])
                })
                .collect();
            let mut pending =
                Some(build(KeysAndAttributes::builder().set_keys(Some(keys)).consistent_read(true).build())?);
            while let Some(request) = pending.take() {
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(unavailable)?;
                for item in out.responses().and_then(|r| r.get(&self.table)).into_iter().flatten() {
                    let case = doc_of(item)?;
                    found.insert(case.id.to_string(), case);
                }
                pending =
                    out.unprocessed_keys().and_then(|u| u.get(&self.table)).cloned().filter(|k| !k.keys().is_empty());
            }
        }
        Ok(found)
    }
}

/// Why one try of a create stored nothing.
enum CreateFailure {
    /// Another case took the number read: read the sequence again.
    NumberTaken,
    Store(StoreError),
}

impl From<StoreError> for CreateFailure {
    fn from(e: StoreError) -> Self {
        CreateFailure::Store(e)
    }
}

/// How long a new case keeps reading its day's sequence again after others took the number it
/// read: well inside the submitting function's 10 s timeout, so that a citizen in a burst gets a
/// "busy, try again" answer (the retry with the same idempotency key is safe) rather than a timeout
/// that may have cut a transaction short.
const NUMBER_BUDGET: Duration = Duration::from_secs(5);

enum TransactFailure {
    /// The condition of the item at this position failed.
    Condition(usize),
    /// Cancelled by other transactions on the same items every time it was tried.
    Contended(String),
    Other(String),
}

#[async_trait]
impl CaseStore for DynamoStore {
    async fn create(
        &self,
        case: &Case,
        event: &AuditEvent,
        domain: &DomainEvent,
        counters: &[CounterDelta],
        idempotency: Option<&IdempotencyRecord>,
        numbering: Option<&Numbering>,
    ) -> StoreResult<CreateOutcome> {
        self.register_months(counters).await?;
        let Some(numbering) = numbering else {
            return match self.create_once(case, event, domain, counters, idempotency, None).await {
                Err(CreateFailure::NumberTaken) => Err(StoreError::Corrupt("no number was claimed".into())),
                Err(CreateFailure::Store(e)) => Err(e),
                Ok(outcome) => Ok(outcome),
            };
        };
        // The number: the sequence's value as read, moved on by the case's own transaction only
        // while it is still that value. Another case that took it first: read again and retry,
        // after a random pause that grows, so that a burst of submissions spreads out.
        let started = tokio::time::Instant::now();
        let mut pause = 10u64;
        let mut tries = 0;
        while started.elapsed() < NUMBER_BUDGET {
            tries += 1;
            let taken = self.sequence_value(&numbering.sequence).await?;
            let (mut case, mut domain) = (case.clone(), domain.clone());
            numbering.apply(taken + 1, &mut case, &mut domain);
            match self
                .create_once(&case, event, &domain, counters, idempotency, Some((&numbering.sequence, taken)))
                .await
            {
                Err(CreateFailure::NumberTaken) => {
                    let wait = Duration::from_millis(rand::Rng::gen_range(&mut rand::thread_rng(), pause / 2..=pause));
                    if started.elapsed() + wait >= NUMBER_BUDGET {
                        break;
                    }
                    tokio::time::sleep(wait).await;
                    pause = (pause * 2).min(400);
                }
                Err(CreateFailure::Store(e)) => return Err(e),
                Ok(outcome) => return Ok(outcome),
            }
        }
        Err(StoreError::Unavailable(format!(
            "{} numbers taken by others {tries} times in a row ({:?})",
            numbering.sequence,
            started.elapsed()
        )))
    }

    /// DynamoDB's TTL removes lapsed records (`ttl` attribute); nothing to do here.
    async fn purge_idempotency(&self, _now: DateTime<Utc>) -> StoreResult<usize> {
        Ok(0)
    }

    async fn update_releasing(
        &self,
        case: &Case,
        before: &Case,
        events: &[AuditEvent],
        domain: &[DomainEvent],
        counters: &[CounterDelta],
        notifications: &[Notification],
        released: &[String],
    ) -> StoreResult<()> {
        self.register_months(counters).await?;
        // Written only over `before`'s version: the stored item is `before`, so what the case
        // leaves (a unit's list, a merge) is known from it without reading the item again.
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(case_item(case)?))
            .condition_expression("version = :v")
            .expression_attribute_values(":v", n(before.version))
            .build();
        let mut items = vec![TransactWriteItem::builder().put(build(put)?).build()];
        for e in events {
            let d = domain.iter().find(|d| d.detail.seq == e.seq);
            items.push(self.put_new(event_item(e, d, &case.number))?);
        }
        // Membership: units the case left are deleted, current ones rewritten with the new position.
        let now: HashSet<&UnitId> = case.handling_units().collect();
        for gone in before.handling_units().filter(|u| !now.contains(u)) {
            let delete = Delete::builder()
                .table_name(&self.table)
                .key("PK", s(format!("CASE#{}", case.id)))
                .key("SK", s(format!("UNIT#{gone}")))
                .build();
            items.push(TransactWriteItem::builder().delete(build(delete)?).build());
        }
        for unit in &now {
            items.push(self.put(unit_item(case, unit))?);
        }
        if before.merged_into != case.merged_into {
            match &case.merged_into {
                Some(original) => items.push(self.put(merge_item(case, original))?),
                None => {
                    let delete = Delete::builder()
                        .table_name(&self.table)
                        .key("PK", s(format!("CASE#{}", case.id)))
                        .key("SK", s("MERGED"))
                        .build();
                    items.push(TransactWriteItem::builder().delete(build(delete)?).build());
                }
            }
        }
        items.extend(self.counter_updates(counters, case.id.as_str())?);
        items.extend(self.notification_puts(notifications)?);
        let first_release = items.len();
        for key in released {
            items.push(self.give_back_item(key)?);
        }
        match self.transact(items).await {
            Ok(()) => Ok(()),
            // A key with no attempt left to give back (its window ended meanwhile): the change
            // without it, then the key's own give-back (which finds nothing to give back either).
            Err(TransactFailure::Condition(i)) if i >= first_release => {
                Box::pin(self.update_releasing(case, before, events, domain, counters, notifications, &[])).await?;
                // The change is stored: a give-back that fails now only leaves an attempt counted.
                if let Err(e) = self.give_back_each(released).await {
                    tracing::warn!(case = %case.id, error = %e, "attempt not given back");
                }
                Ok(())
            }
            // The case item is first: a stale version; an event is next: its number is taken.
            Err(TransactFailure::Condition(i)) => {
                Err(StoreError::Conflict(format!("case {} changed (condition {i})", case.id)))
            }
            Err(TransactFailure::Other(e) | TransactFailure::Contended(e)) => Err(StoreError::Unavailable(e)),
        }
    }

    async fn get(&self, id: &CaseId) -> StoreResult<Option<Case>> {
        let (pk, sk) = case_key(id.as_str());
        self.get_item(pk, sk).await?.map(|i| doc_of(&i)).transpose()
    }

    async fn get_by_number(&self, number: &CaseNumber) -> StoreResult<Option<Case>> {
        let items = self
            .query(
                Some(&index_name("G1")),
                "G1PK = :pk AND G1SK = :case",
                vec![(":pk", s(format!("NUM#{number}"))), (":case", s("CASE"))],
                true,
                Some(1),
            )
            .await?;
        items.first().map(doc_of).transpose()
    }

    async fn by_number(&self, number: &CaseNumber) -> StoreResult<Option<(Case, Vec<AuditEvent>)>> {
        // The case item, then its events (`G1SK` `CASE` < `EV#…`), in one Query.
        let values = vec![(":pk", s(format!("NUM#{number}")))];
        let items = self.query(Some(&index_name("G1")), "G1PK = :pk", values, true, None).await?;
        let Some(case) = items.first().filter(|i| i.get("SK").and_then(|v| v.as_s().ok()).is_some_and(|k| k == "CASE"))
        else {
            return Ok(None);
        };
        let case: Case = doc_of(case)?;
        let trail: Vec<AuditEvent> = items[1..].iter().map(event_of).collect::<StoreResult<_>>()?;
        // The index copies each item on its own: events a moment ahead of the case copy are left
        // out; a trail with a gap (an event not copied yet, or one written before events were
        // indexed) is read from the table.
        let trail: Vec<AuditEvent> = trail.into_iter().filter(|e| e.seq <= case.events).collect();
        if trail.iter().enumerate().all(|(i, e)| e.seq == i as u64 + 1) && trail.len() as u64 == case.events {
            return Ok(Some((case, trail)));
        }
        let trail = self.events(&case.id).await?.into_iter().filter(|e| e.seq <= case.events).collect();
        Ok(Some((case, trail)))
    }

    async fn events(&self, id: &CaseId) -> StoreResult<Vec<AuditEvent>> {
        let items = self
            .query(
                None,
                "PK = :pk AND begins_with(SK, :ev)",
                vec![(":pk", s(format!("CASE#{id}"))), (":ev", s("EV#"))],
                true,
                None,
            )
            .await?;
        items.iter().map(event_of).collect()
    }

    /// One strongly consistent read of a key that never exists: the table is there, reachable and
    /// readable with this function's role (no `DescribeTable` permission needed).
    async fn ready(&self) -> StoreResult<()> {
        self.get_item(s("READY"), s("READY")).await.map(|_| ())
    }

    async fn list(&self, query: &CaseQuery) -> StoreResult<CasePage> {
        self.list_cases(query).await
    }

    async fn recent(
        &self,
        dispatcher: &UnitId,
        through: (DateTime<Utc>, &CaseId),
        limit: usize,
    ) -> StoreResult<Vec<Case>> {
        // One Query backwards, newest first (a page per MB of items); the sort key `<ms>#<id>`
        // orders as SQLite's `(submitted_ms, id)`.
        let values = vec![
            (":pk", s(format!("RECENT#{dispatcher}"))),
            (":through", s(format!("{}#{}", ms13(through.0), through.1))),
        ];
        let condition = "G6PK = :pk AND G6SK <= :through";
        let items = self.query(Some(&index_name("G6")), condition, values, false, Some(limit)).await?;
        items.iter().take(limit).map(doc_of).collect()
    }

    async fn merged_into(&self, original: &CaseNumber) -> StoreResult<Vec<Case>> {
        // The link items of one Query, then each case (a handful: repeats of one matter).
        let values = vec![(":pk", s(format!("MERGED#{original}")))];
        let links = self
            .query(Some(&index_name("G1")), "G1PK = :pk", values, true, Some(mailbox_app::ports::MAX_MERGED))
            .await?;
        let ids: Vec<CaseId> = links
            .iter()
            .take(mailbox_app::ports::MAX_MERGED)
            .filter_map(|i| i.get("case").and_then(|v| v.as_s().ok()).map(CaseId::new))
            .collect();
        let cases = futures::future::join_all(ids.iter().map(|id| self.get(id))).await;
        let mut out = Vec::new();
        for case in cases {
            // The index may lag the table a moment: a case un-merged meanwhile is left out.
            out.extend(case?.filter(|c| c.merged_into.as_ref() == Some(original)));
        }
        Ok(out)
    }

    async fn alarms_due(&self, at: DateTime<Utc>, limit: usize) -> StoreResult<Vec<Case>> {
        // One bounded Query per write shard of the sparse alarm index, all at once; merged by alarm
        // time.
        let upper = format!("{}#~", ms13(at));
        let index = index_name("G4");
        let queries = (0..SHARDS).map(|i| {
            let values = vec![(":pk", s(format!("ALARM#{i}"))), (":up", s(upper.as_str()))];
            self.query(Some(&index), "G4PK = :pk AND G4SK <= :up", values, true, Some(limit))
        });
        let mut all = Vec::new();
        for items in futures::future::join_all(queries).await {
            for item in items? {
                all.push(doc_of(&item)?);
            }
        }
        all.sort_by_key(|c| c.next_alarm);
        all.truncate(limit);
        Ok(all)
    }

    async fn published(
        &self,
        query: &mailbox_app::published::ReplyQuery,
    ) -> StoreResult<mailbox_app::published::ReplyPage> {
        self.search_published(query).await
    }

    async fn stale_published(&self, rules: u32, limit: usize) -> StoreResult<Vec<Case>> {
        self.stale_published_cases(rules, limit).await
    }

    async fn counters(&self, prefix: &str) -> StoreResult<Vec<(String, i64)>> {
        let partitions: Vec<String> = if month_of_key(prefix).is_some() {
            vec![counter_partition(prefix)]
        } else {
            let family = prefix.split('|').next().unwrap_or("");
            let months = self
                .get_item(s("CTRMONTHS"), s("M"))
                .await?
                .and_then(|i| i.get("months").and_then(|v| v.as_ss().ok()).cloned())
                .unwrap_or_default();
            months.iter().map(|m| format!("CTR#{family}|{m}")).collect()
        };
        let mut totals: BTreeMap<String, i64> = BTreeMap::new();
        for partition in partitions {
            let values = vec![(":pk", s(partition)), (":p", s(prefix))];
            add_shards(&mut totals, &self.query(None, "PK = :pk AND begins_with(SK, :p)", values, true, None).await?);
        }
        Ok(totals.into_iter().filter(|(k, _)| k.starts_with(prefix)).collect())
    }

    /// Maintenance only (reconcile): the one place that scans the table.
    async fn scan(&self, after: Option<&CaseId>, limit: usize) -> StoreResult<Vec<Case>> {
        let mut cases = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("SK = :c")
                .expression_attribute_values(":c", s("CASE"))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(unavailable)?;
            for item in out.items() {
                cases.push(doc_of(item)?);
            }
            match out.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => break,
            }
        }
        cases.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(cases.into_iter().filter(|c| after.is_none_or(|a| c.id > *a)).take(limit).collect())
    }

    async fn save_notice(&self, year: i32, json: &str) -> StoreResult<u64> {
        let item = HashMap::from([
            ("PK".into(), s("NOTICE")),
            ("SK".into(), s(format!("{year:04}"))),
            ("json".into(), s(json)),
        ]);
        // The notice and the raised version in one transaction: an instance that sees the new
        // version finds the notice, and no notice is stored without a new version.
        let raise = Update::builder()
            .table_name(&self.table)
            .key("PK", s("NOTICE"))
            .key("SK", s("STATE"))
            .update_expression("ADD #v :one")
            .expression_attribute_names("#v", "version")
            .expression_attribute_values(":one", n(1))
            .build();
        let items = vec![self.put(item)?, TransactWriteItem::builder().update(build(raise)?).build()];
        match self.transact(items).await {
            Ok(()) => {}
            Err(TransactFailure::Condition(i)) => return Err(StoreError::Conflict(format!("condition {i}"))),
            Err(TransactFailure::Other(e) | TransactFailure::Contended(e)) => return Err(StoreError::Unavailable(e)),
        }
        // At least the version this import made (another import may have followed at once).
        Ok(self.calendar_state().await?.version)
    }

    async fn calendar_state(&self) -> StoreResult<CalendarState> {
        Ok(calendar_state_of(self.get_item(s("NOTICE"), s("STATE")).await?.as_ref()))
    }

    async fn finish_recompute(&self, version: u64) -> StoreResult<bool> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", s("NOTICE"))
            .key("SK", s("STATE"))
            .update_expression("SET #r = :v")
            .condition_expression("attribute_not_exists(#r) OR #r < :v")
            .expression_attribute_names("#r", "recomputed")
            .expression_attribute_values(":v", n(version))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failed(&e) => Ok(false),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn running_deadlines(&self, after: Option<&str>, limit: usize) -> StoreResult<Page> {
        // The sparse index G7, shard by shard, each in id order; the cursor is `<shard>|<id>`. A
        // case's keys there never change while it is in the index, so writes during the walk
        // neither skip nor repeat a case.
        let (mut shard_at, mut after_id) = (0u32, String::new());
        if let Some(cursor) = after {
            let bad = || StoreError::Corrupt(format!("bad cursor {cursor}"));
            let (shard, id) = cursor.split_once('|').ok_or_else(bad)?;
            shard_at = shard.parse().map_err(|_| bad())?;
            after_id = id.to_owned();
        }
        let mut cases = Vec::new();
        for i in shard_at..SHARDS {
            let want = limit - cases.len();
            let mut values = vec![(":pk", s(format!("RUN#{i}")))];
            // A key condition takes no empty string: a shard read from its start has none on G7SK.
            let condition = if i == shard_at && !after_id.is_empty() {
                values.push((":after", s(after_id.as_str())));
                "G7PK = :pk AND G7SK > :after"
            } else {
                "G7PK = :pk"
            };
            let items = self.query(Some(&index_name("G7")), condition, values, true, Some(want)).await?;
            for item in items.iter().take(want) {
                cases.push(doc_of(item)?);
            }
            if cases.len() == limit {
                let last: &Case = cases.last().expect("a full page");
                return Ok(Page { next: Some(format!("{i}|{}", last.id)), cases });
            }
        }
        Ok(Page { cases, next: None })
    }

    async fn notices(&self) -> StoreResult<StoredCalendar> {
        // One consistent Query of the partition holds the notices (sort key: the year) and the
        // state (sort key `STATE`).
        let items = self.query(None, "PK = :pk", vec![(":pk", s("NOTICE"))], true, None).await?;
        let state = items.iter().find(|i| i.get("SK").and_then(|v| v.as_s().ok()).map(String::as_str) == Some("STATE"));
        Ok(StoredCalendar {
            state: calendar_state_of(state),
            notices: items
                .iter()
                .filter_map(|i| {
                    let year = i.get("SK")?.as_s().ok()?.parse().ok()?;
                    Some((year, i.get("json")?.as_s().ok()?.clone()))
                })
                .collect(),
        })
    }

    async fn notifications(
        &self,
        unit: Option<&UnitId>,
        before: Option<&str>,
        limit: usize,
    ) -> StoreResult<NotificationPage> {
        let partition = unit.map_or_else(|| "NOTE#*".to_owned(), |u| format!("NOTE#{u}"));
        // Below the cursor, or below every `T#…` key ('$' follows '#').
        let below = match before {
            Some(c) if NotificationPage::parse_cursor(c).is_some() => format!("T#{c}"),
            Some(c) => return Err(StoreError::Corrupt(format!("not a notification cursor: {c}"))),
            None => "T$".to_owned(),
        };
        let limit = limit.max(1);
        let values = vec![(":pk", s(partition)), (":b", s(below)), (":t", s("T#"))];
        // BETWEEN includes its upper end, the cursor's own item, which is left out below: one more
        // to read, and one more to know whether a next page exists.
        let items = self.query(None, "PK = :pk AND SK BETWEEN :t AND :b", values, false, Some(limit + 2)).await?;
        let notes: Vec<Notification> = items
            .iter()
            .filter(|i| i.get("SK").and_then(|v| v.as_s().ok()).is_some_and(|sk| before.is_none_or(|c| sk[2..] != *c)))
            .filter_map(|i| i.get("doc").and_then(|v| v.as_s().ok()).and_then(|d| serde_json::from_str(d).ok()))
            .collect();
        Ok(NotificationPage::from_read(notes, limit))
    }

    /// DynamoDB's TTL removes old notifications (`ttl` attribute); nothing to do here.
    async fn purge_notifications(&self, _now: DateTime<Utc>) -> StoreResult<usize> {
        Ok(0)
    }
}

#[async_trait]
impl Notifier for DynamoStore {
    async fn notify(&self, notifications: &[Notification]) -> StoreResult<()> {
        for chunk in notifications.chunks(50) {
            match self.transact(self.notification_puts(chunk)?).await {
                Ok(()) => {}
                Err(TransactFailure::Condition(i)) => return Err(StoreError::Conflict(format!("condition {i}"))),
                Err(TransactFailure::Other(e) | TransactFailure::Contended(e)) => {
                    return Err(StoreError::Unavailable(e))
                }
            }
        }
        Ok(())
    }
}

/// Deliveries of notifications: `DLV#<key>`; a pending one is in the sparse alarm index `G4` under
/// `DLVDUE#<shard>` by its next time (the retry run's Query), every one in `G5` under `DLVLOG` by
/// creation (the console's log, newest first), a dead one also in `G3` under `DLVDEAD`.
fn delivery_item(d: &Delivery) -> Item {
    let created = format!("{}#{}", ms13(d.created_at), d.key);
    let mut item = HashMap::from([
        ("PK".into(), s(format!("DLV#{}", d.key))),
        ("SK".into(), s("DLV")),
        ("doc".into(), s(serde_json::to_string(d).expect("deliveries serialise"))),
        ("version".into(), n(d.version)),
        ("G5PK".into(), s("DLVLOG")),
        ("G5SK".into(), s(created.clone())),
        // The log is kept as long as the notifications: TTL removes it then.
        (TTL_ATTRIBUTE.into(), n(epoch_secs(d.created_at + DELIVERY_RETENTION))),
    ]);
    match d.status {
        DeliveryStatus::Pending => {
            item.insert("G4PK".into(), s(format!("DLVDUE#{}", shard(&d.key))));
            item.insert("G4SK".into(), s(format!("{}#{}", ms13(d.next_at), d.key)));
        }
        DeliveryStatus::Dead => {
            item.insert("G3PK".into(), s("DLVDEAD"));
            item.insert("G3SK".into(), s(created));
        }
        DeliveryStatus::Sent => {}
    }
    item
}

fn delivery_of(item: &Item) -> StoreResult<Delivery> {
    doc_json(item)
}

#[async_trait]
impl DeliveryStore for DynamoStore {
    async fn add_deliveries(&self, deliveries: &[Delivery]) -> StoreResult<()> {
        for d in deliveries {
            let put = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(delivery_item(d)))
                .condition_expression("attribute_not_exists(PK)")
                .send()
                .await;
            match put {
                Ok(_) => {}
                Err(e) if is_condition_failed(&e) => {} // recorded before: it keeps its record
                Err(e) => return Err(unavailable(e)),
            }
        }
        Ok(())
    }

    async fn delivery(&self, key: &str) -> StoreResult<Option<Delivery>> {
        self.get_item(s(format!("DLV#{key}")), s("DLV")).await?.map(|i| delivery_of(&i)).transpose()
    }

    async fn due_deliveries(&self, now: DateTime<Utc>, limit: usize) -> StoreResult<Vec<Delivery>> {
        // '$' follows '#': every key of an instant up to `now`.
        let upto = format!("{}$", ms13(now));
        let index = index_name("G4");
        let queries = (0..SHARDS).map(|shard| {
            let values = vec![(":pk", s(format!("DLVDUE#{shard}"))), (":upto", s(upto.clone()))];
            self.query(Some(&index), "G4PK = :pk AND G4SK <= :upto", values, true, Some(limit))
        });
        let mut due: Vec<Delivery> = Vec::new();
        for items in futures::future::try_join_all(queries).await? {
            for item in &items {
                due.push(delivery_of(item)?);
            }
        }
        due.sort_by(|a, b| (a.next_at, &a.key).cmp(&(b.next_at, &b.key)));
        due.truncate(limit);
        Ok(due)
    }

    async fn save_delivery(&self, d: &Delivery, expected_version: u64) -> StoreResult<()> {
        self.put_versioned(delivery_item(d), expected_version, || format!("delivery {}", d.key)).await
    }

    async fn recent_deliveries(&self, status: Option<DeliveryStatus>, limit: usize) -> StoreResult<Vec<Delivery>> {
        let (index, pk) = match status {
            Some(DeliveryStatus::Dead) => ("G3", "DLVDEAD"),
            _ => ("G5", "DLVLOG"),
        };
        let condition = format!("{index}PK = :pk");
        // Read past the ones of another status (a Pending or Sent list is filtered from the log).
        let read = if matches!(status, None | Some(DeliveryStatus::Dead)) { limit } else { limit * 4 };
        let items = self.query(Some(&index_name(index)), &condition, vec![(":pk", s(pk))], false, Some(read)).await?;
        let mut out = Vec::new();
        for item in &items {
            let d = delivery_of(item)?;
            if status.is_none_or(|st| d.status == st) {
                out.push(d);
            }
        }
        out.truncate(limit);
        Ok(out)
    }

    /// DynamoDB's TTL removes old deliveries (`ttl` attribute); nothing to do here.
    async fn purge_deliveries(&self, _now: DateTime<Utc>) -> StoreResult<usize> {
        Ok(0)
    }
}

/// Accounts live in one partition (`ACCOUNTS`, sort key the user name: a city has hundreds, listed
/// by one Query); the link of an identity provider's subject to an account under `SUBJECT#<subject>`
/// (written in the account's transaction, only if free or already this account's; an API request
/// reads the link and the account); sessions under `SESSION#<token hash>` with a TTL.
#[async_trait]
impl AccountStore for DynamoStore {
    async fn account(&self, username: &str) -> StoreResult<Option<Account>> {
        let item = self.get_item(s("ACCOUNTS"), s(username)).await?;
        item.as_ref().map(doc_json).transpose()
    }

    async fn account_by_subject(&self, subject: &str) -> StoreResult<Option<Account>> {
        let Some(link) = self.get_item(s(format!("SUBJECT#{subject}")), s("SUBJECT")).await? else {
            return Ok(None);
        };
        let Some(username) = link.get("username").and_then(|v| v.as_s().ok()) else { return Ok(None) };
        // The account is the truth: a link left behind by a concurrent change of the account's
        // subject names an account that no longer carries it, and is no sign-in.
        Ok(self.account(username).await?.filter(|a| a.oidc_subject.as_deref() == Some(subject)))
    }

    async fn accounts(&self) -> StoreResult<Vec<Account>> {
        let items = self.query(None, "PK = :pk", vec![(":pk", s("ACCOUNTS"))], true, None).await?;
        items.iter().map(doc_json).collect()
    }

    async fn put_account(&self, account: &Account) -> StoreResult<()> {
        let before = self.account(&account.username).await?;
        let doc = serde_json::to_string(account).expect("accounts serialise");
        let mut items = vec![self.put(HashMap::from([
            ("PK".into(), s("ACCOUNTS")),
            ("SK".into(), s(account.username.as_str())),
            ("doc".into(), s(doc.as_str())),
        ]))?];
        if let Some(subject) = &account.oidc_subject {
            // Only a free subject, or one already linked to this account.
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(HashMap::from([
                    ("PK".into(), s(format!("SUBJECT#{subject}"))),
                    ("SK".into(), s("SUBJECT")),
                    ("username".into(), s(account.username.as_str())),
                ])))
                .condition_expression("attribute_not_exists(PK) OR username = :u")
                .expression_attribute_values(":u", s(account.username.as_str()))
                .build();
            items.push(TransactWriteItem::builder().put(build(put)?).build());
        }
        if let Some(old) = before.and_then(|b| b.oidc_subject).filter(|old| Some(old) != account.oidc_subject.as_ref())
        {
            let delete = Delete::builder()
                .table_name(&self.table)
                .key("PK", s(format!("SUBJECT#{old}")))
                .key("SK", s("SUBJECT"))
                .condition_expression("username = :u")
                .expression_attribute_values(":u", s(account.username.as_str()))
                .build();
            items.push(TransactWriteItem::builder().delete(build(delete)?).build());
        }
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TransactFailure::Condition(_)) => {
                Err(StoreError::Conflict(format!("subject of {} is linked to another account", account.username)))
            }
            Err(TransactFailure::Other(e) | TransactFailure::Contended(e)) => Err(StoreError::Unavailable(e)),
        }
    }

    async fn put_session(&self, session: &Session) -> StoreResult<()> {
        let item = HashMap::from([
            ("PK".into(), s(format!("SESSION#{}", session.token_hash))),
            ("SK".into(), s("SESSION")),
            ("doc".into(), s(serde_json::to_string(session).expect("sessions serialise"))),
            (TTL_ATTRIBUTE.into(), n(epoch_secs(session.expires_at))),
        ]);
        self.client.put_item().table_name(&self.table).set_item(Some(item)).send().await.map_err(unavailable)?;
        Ok(())
    }

    async fn session(&self, token_hash: &str) -> StoreResult<Option<Session>> {
        let item = self.get_item(s(format!("SESSION#{token_hash}")), s("SESSION")).await?;
        item.as_ref().map(doc_json).transpose()
    }

    async fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("PK", s(format!("SESSION#{token_hash}")))
            .key("SK", s("SESSION"))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// DynamoDB's TTL removes expired sessions (within days); until then they are refused as expired.
    async fn purge_sessions(&self, _now: DateTime<Utc>) -> StoreResult<usize> {
        Ok(0)
    }
}

/// The JSON document of an item's `doc` attribute.
fn doc_json<T: serde::de::DeserializeOwned>(item: &Item) -> StoreResult<T> {
    let doc =
        item.get("doc").and_then(|v| v.as_s().ok()).ok_or_else(|| StoreError::Corrupt("item without doc".into()))?;
    serde_json::from_str(doc).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Attempt counts under `LIMIT#<key>`: `count`, `until` (epoch ms when the window ends, set when
/// it starts and never moved) and the TTL an hour after it. Each take is one conditional UpdateItem,
/// so takes on many instances at once all count and never pass the limit.
#[async_trait]
impl AttemptStore for DynamoStore {
    async fn take(&self, key: &str, max: u32, window: Duration, now: DateTime<Utc>) -> StoreResult<bool> {
        let until = now + chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
        // A new window: where there is none, or where the last one has passed.
        let start = || {
            self.client
                .update_item()
                .table_name(&self.table)
                .key("PK", s(format!("LIMIT#{key}")))
                .key("SK", s("LIMIT"))
                .update_expression("SET #n = :one, #u = :until, #t = :ttl")
                .condition_expression("attribute_not_exists(#n) OR #u <= :now")
                .expression_attribute_names("#n", "count")
                .expression_attribute_names("#u", "until")
                .expression_attribute_names("#t", TTL_ATTRIBUTE)
                .expression_attribute_values(":now", n(now.timestamp_millis()))
                .expression_attribute_values(":until", n(until.timestamp_millis()))
                .expression_attribute_values(":ttl", n(epoch_secs(until) + 3600))
                .expression_attribute_values(":one", n(1))
        };
        // Two conditional steps, each atomic: start a new window where none is live, or count within
        // a live window under the limit. Between them another instance may have ended or started
        // a window, so a failed pair is tried again before the answer is "at the limit".
        // The new window first: most keys are new (a citizen looking up a case now and then), so
        // one request usually does.
        for _ in 0..3 {
            let started = start().send().await;
            match started {
                Ok(_) => return Ok(true),
                Err(e) if is_condition_failed(&e) => {}
                Err(e) => return Err(unavailable(e)),
            }
            let counted = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("PK", s(format!("LIMIT#{key}")))
                .key("SK", s("LIMIT"))
                .update_expression("SET #n = #n + :one")
                .condition_expression("#u > :now AND #n < :max")
                .expression_attribute_names("#n", "count")
                .expression_attribute_names("#u", "until")
                .expression_attribute_values(":now", n(now.timestamp_millis()))
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":max", n(max))
                .send()
                .await;
            match counted {
                Ok(_) => return Ok(true),
                Err(e) if is_condition_failed(&e) => {}
                Err(e) => return Err(unavailable(e)),
            }
            // Neither held: the window is live and at the limit — unless a window started between
            // the two steps; a last read tells.
            let item = self.get_item(s(format!("LIMIT#{key}")), s("LIMIT")).await?;
            let live = number(item.as_ref(), "until").is_some_and(|u| u as i64 > now.timestamp_millis());
            if live && number(item.as_ref(), "count").is_some_and(|c| c >= u64::from(max)) {
                return Ok(false);
            }
        }
        Ok(false)
    }

    /// One transaction counting an attempt under every key, each where its window is live and under
    /// the limit or where it has none. Refused (a key at its limit, or with a window that has
    /// passed and is not removed yet): key by key, as `take` decides.
    async fn take_all(&self, keys: &[String], max: u32, window: Duration, now: DateTime<Utc>) -> StoreResult<bool> {
        if keys.len() < 2 {
            return mailbox_app::ports::take_each(self, keys, max, window, now).await;
        }
        let until = now + chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
        let mut items = Vec::new();
        for key in keys {
            let update = Update::builder()
                .table_name(&self.table)
                .key("PK", s(format!("LIMIT#{key}")))
                .key("SK", s("LIMIT"))
                .update_expression("SET #n = if_not_exists(#n, :zero) + :one, #u = if_not_exists(#u, :until), #t = if_not_exists(#t, :ttl)")
                .condition_expression("attribute_not_exists(#n) OR (#u > :now AND #n < :max)")
                .expression_attribute_names("#n", "count")
                .expression_attribute_names("#u", "until")
                .expression_attribute_names("#t", TTL_ATTRIBUTE)
                .expression_attribute_values(":zero", n(0))
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":now", n(now.timestamp_millis()))
                .expression_attribute_values(":until", n(until.timestamp_millis()))
                .expression_attribute_values(":ttl", n(epoch_secs(until) + 3600))
                .expression_attribute_values(":max", n(max))
                .build();
            items.push(TransactWriteItem::builder().update(build(update)?).build());
        }
        match self.transact(items).await {
            Ok(()) => Ok(true),
            // Refused, or other tries on the same keys every time: key by key (single-item
            // conditional updates, which do not conflict).
            Err(TransactFailure::Condition(_) | TransactFailure::Contended(_)) => {
                mailbox_app::ports::take_each(self, keys, max, window, now).await
            }
            Err(TransactFailure::Other(e)) => Err(StoreError::Unavailable(e)),
        }
    }

    async fn give_back(&self, key: &str) -> StoreResult<()> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", s(format!("LIMIT#{key}")))
            .key("SK", s("LIMIT"))
            .update_expression("ADD #n :minus")
            .condition_expression("#n > :zero")
            .expression_attribute_names("#n", "count")
            .expression_attribute_values(":minus", n(-1))
            .expression_attribute_values(":zero", n(0))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failed(&e) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }

    /// In one transaction (the usual case: every key has the attempt just taken); when one key has
    /// none left to give back (its window ended meanwhile), key by key.
    async fn give_back_each(&self, keys: &[String]) -> StoreResult<()> {
        if keys.len() < 2 {
            for k in keys {
                self.give_back(k).await?;
            }
            return Ok(());
        }
        let items = keys.iter().map(|k| self.give_back_item(k)).collect::<StoreResult<Vec<_>>>()?;
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TransactFailure::Condition(_)) => {
                for k in keys {
                    self.give_back(k).await?;
                }
                Ok(())
            }
            Err(TransactFailure::Other(e) | TransactFailure::Contended(e)) => Err(StoreError::Unavailable(e)),
        }
    }

    async fn clear(&self, key: &str) -> StoreResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("PK", s(format!("LIMIT#{key}")))
            .key("SK", s("LIMIT"))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// DynamoDB's TTL removes expired counts; a count whose window passed starts again anyway.
    async fn purge_expired(&self, _now: DateTime<Utc>) -> StoreResult<usize> {
        Ok(0)
    }
}

/// Topic-finding (舆情) keeps its items in week partitions `OPINION#<Monday, China time>`: the entry
/// of each triaged message (`E#<ms>#<case>`, removed by TTL after `ENTRY_TTL`) and a pointer to each
/// topic (`T#<id>`) in the week of its last message, written with the topic; the topic itself is
/// one item `HOTTOPIC#<id>`. Grouping a message reads its week's and the week before's partitions
/// (the 7 days before it) — two Queries — and each topic pointed to, all strongly consistent, so a
/// topic just formed by another instance is seen and joined, never formed twice. A pointer left in
/// an earlier week by a topic that moved on is skipped by its `last`. The weekly surge counters are
/// counter items of the partition `CTR#surge|<domain>`, their keys ordered by week (one Query for a
/// domain's 9 weeks).
fn opinion_week(at: DateTime<Utc>) -> String {
    format!("OPINION#{}", week_of(at))
}

/// How long an entry is kept: topics look back a week, the weekly counters are kept apart.
const ENTRY_TTL: chrono::TimeDelta = chrono::TimeDelta::days(60);

fn entry_item(e: &TopicEntry) -> Item {
    HashMap::from([
        ("PK".into(), s(opinion_week(e.at))),
        ("SK".into(), s(format!("E#{}#{}", ms13(e.at), e.case_id))),
        ("doc".into(), s(serde_json::to_string(e).expect("entries serialise"))),
        (TTL_ATTRIBUTE.into(), n(epoch_secs(e.at + ENTRY_TTL))),
    ])
}

impl DynamoStore {
    /// The week partitions from `since`'s week to `until`'s.
    fn opinion_weeks(since: DateTime<Utc>, until: DateTime<Utc>) -> Vec<String> {
        let (mut week, last) = (week_of(since), week_of(until));
        let mut out = Vec::new();
        while week <= last {
            out.push(format!("OPINION#{week}"));
            week += chrono::TimeDelta::weeks(1);
        }
        out
    }

    /// The topics pointed to by these ids whose last message is from `since` to `until`.
    async fn pointed_topics(
        &self,
        ids: Vec<String>,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<Vec<HotTopic>> {
        let mut topics = Vec::new();
        for id in ids {
            if let Some(t) = TopicStore::topic(self, &id).await?.filter(|t| t.last >= since && t.last <= until) {
                topics.push(t);
            }
        }
        topics.sort_by(|a, b| (a.first, &a.id).cmp(&(b.first, &b.id)));
        Ok(topics)
    }
}

fn pointer_id(item: &Item) -> Option<String> {
    item.get("SK").and_then(|v| v.as_s().ok()).and_then(|k| k.strip_prefix("T#")).map(str::to_owned)
}

#[async_trait]
impl TopicStore for DynamoStore {
    async fn record_entry(&self, entry: &TopicEntry) -> StoreResult<bool> {
        let key = surge_key(week_of(entry.at), entry.domain.as_deref(), &entry.jurisdiction);
        let mut items = vec![self.put_new(entry_item(entry))?];
        items.extend(self.counter_updates(&[CounterDelta { key, delta: 1 }], entry.case_id.as_str())?);
        match self.transact(items).await {
            Ok(()) => Ok(true),
            Err(TransactFailure::Condition(0)) => Ok(false),
            Err(TransactFailure::Condition(i)) => Err(StoreError::Conflict(format!("condition {i}"))),
            Err(TransactFailure::Other(e) | TransactFailure::Contended(e)) => Err(StoreError::Unavailable(e)),
        }
    }

    async fn window(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<(Vec<TopicEntry>, Vec<HotTopic>)> {
        let (mut entries, mut ids) = (Vec::new(), Vec::new());
        for week in Self::opinion_weeks(since, until) {
            // The whole partition: a week's entries and pointers in one Query.
            for item in self.query(None, "PK = :pk", vec![(":pk", s(week))], true, None).await? {
                let is_entry = item.get("SK").and_then(|v| v.as_s().ok()).is_some_and(|k| k.starts_with("E#"));
                match pointer_id(&item) {
                    Some(id) if !ids.contains(&id) => ids.push(id),
                    Some(_) => {}
                    // The desk's items share the week partitions (`I#`): not entries.
                    None if is_entry => {
                        let e: TopicEntry = doc_json(&item)?;
                        if e.at >= since && e.at <= until {
                            entries.push(e);
                        }
                    }
                    None => {}
                }
            }
        }
        entries.sort_by(|a, b| (a.at, &a.case_id).cmp(&(b.at, &b.case_id)));
        Ok((entries, self.pointed_topics(ids, since, until).await?))
    }

    async fn topics(&self, since: DateTime<Utc>, until: DateTime<Utc>) -> StoreResult<Vec<HotTopic>> {
        let mut ids: Vec<String> = Vec::new();
        for week in Self::opinion_weeks(since, until) {
            let values = vec![(":pk", s(week)), (":t", s("T#"))];
            for item in self.query(None, "PK = :pk AND begins_with(SK, :t)", values, true, None).await? {
                if let Some(id) = pointer_id(&item).filter(|id| !ids.contains(id)) {
                    ids.push(id);
                }
            }
        }
        self.pointed_topics(ids, since, until).await
    }

    async fn topic(&self, id: &str) -> StoreResult<Option<HotTopic>> {
        self.get_item(s(format!("HOTTOPIC#{id}")), s("T")).await?.map(|i| doc_json(&i)).transpose()
    }

    async fn save_topic(&self, topic: &HotTopic, expected: Option<u64>, claim: &[TopicEntry]) -> StoreResult<()> {
        let item = HashMap::from([
            ("PK".into(), s(format!("HOTTOPIC#{}", topic.id))),
            ("SK".into(), s("T")),
            ("version".into(), n(topic.version)),
            ("doc".into(), s(serde_json::to_string(topic).expect("topics serialise"))),
        ]);
        let write = match expected {
            None => self.put_new(item)?,
            Some(v) => {
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .condition_expression("version = :v")
                    .expression_attribute_values(":v", n(v))
                    .build();
                TransactWriteItem::builder().put(build(put)?).build()
            }
        };
        let pointer = self.put(HashMap::from([
            ("PK".into(), s(opinion_week(topic.last))),
            ("SK".into(), s(format!("T#{}", topic.id))),
            (TTL_ATTRIBUTE.into(), n(epoch_secs(topic.last + ENTRY_TTL * 2))),
        ]))?;
        let mut items = vec![write, pointer];
        // Each entry claimed only while no topic has it (one write: all or nothing).
        for e in claim {
            let update = Update::builder()
                .table_name(&self.table)
                .key("PK", s(opinion_week(e.at)))
                .key("SK", s(format!("E#{}#{}", ms13(e.at), e.case_id)))
                .update_expression("SET topic = :t, doc = :d")
                .condition_expression("attribute_exists(PK) AND attribute_not_exists(topic)")
                .expression_attribute_values(":t", s(topic.id.as_str()))
                .expression_attribute_values(":d", s(serde_json::to_string(e).expect("entries serialise")))
                .build();
            items.push(TransactWriteItem::builder().update(build(update)?).build());
        }
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TransactFailure::Condition(_)) => {
                Err(StoreError::Conflict(format!("topic {} changed meanwhile", topic.id)))
            }
            Err(TransactFailure::Other(e) | TransactFailure::Contended(e)) => Err(StoreError::Unavailable(e)),
        }
    }

    async fn surge_counts(
        &self,
        domain: &str,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
    ) -> StoreResult<Vec<(String, i64)>> {
        let (low, high) = surge_range(domain, from, to);
        let values = vec![(":pk", s(counter_partition(&low))), (":low", s(low)), (":high", s(high))];
        let mut totals: BTreeMap<String, i64> = BTreeMap::new();
        add_shards(&mut totals, &self.query(None, "PK = :pk AND SK BETWEEN :low AND :high", values, true, None).await?);
        Ok(totals.into_iter().collect())
    }
}

/// 政民互动: each topic is an item `DTOPIC#<id>` / `T`, listed newest first through a pointer
/// `DTOPICS` / `<created ms>#<id>` written in the same transaction; its comments are items of the
/// topic's partition, `C#<comment id>`, with their status (`cstatus`: `status` is a reserved word)
/// and time for filtering and ordering. A topic's comments are a bounded read (a few thousand).
fn topic_item(t: &Topic) -> Item {
    HashMap::from([
        ("PK".into(), s(format!("DTOPIC#{}", t.id))),
        ("SK".into(), s("T")),
        ("version".into(), n(t.version)),
        ("doc".into(), s(serde_json::to_string(t).expect("topics serialise"))),
    ])
}

fn comment_item(c: &Comment) -> Item {
    let status = serde_json::to_value(c.status).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    HashMap::from([
        ("PK".into(), s(format!("DTOPIC#{}", c.topic))),
        ("SK".into(), s(format!("C#{}", c.id))),
        ("cstatus".into(), s(status)),
        ("version".into(), n(c.version)),
        ("doc".into(), s(serde_json::to_string(c).expect("comments serialise"))),
    ])
}

#[async_trait]
impl DiscussionStore for DynamoStore {
    async fn create_topic(&self, topic: &Topic) -> StoreResult<()> {
        let pointer = self.put(HashMap::from([
            ("PK".into(), s("DTOPICS")),
            ("SK".into(), s(format!("{}#{}", ms13(topic.created_at), topic.id))),
            ("id".into(), s(topic.id.as_str())),
        ]))?;
        match self.transact(vec![self.put_new(topic_item(topic))?, pointer]).await {
            Ok(()) => Ok(()),
            Err(TransactFailure::Condition(_)) => Err(StoreError::Conflict(format!("topic {} exists", topic.id))),
            Err(TransactFailure::Other(e) | TransactFailure::Contended(e)) => Err(StoreError::Unavailable(e)),
        }
    }

    async fn topic(&self, id: &str) -> StoreResult<Option<Topic>> {
        self.get_item(s(format!("DTOPIC#{id}")), s("T")).await?.map(|i| doc_json(&i)).transpose()
    }

    async fn topics(&self, limit: usize) -> StoreResult<Vec<Topic>> {
        let items = self.query(None, "PK = :pk", vec![(":pk", s("DTOPICS"))], false, Some(limit)).await?;
        let mut out = Vec::new();
        for item in items {
            if let Some(id) = item.get("id").and_then(|v| v.as_s().ok()) {
                if let Some(t) = DiscussionStore::topic(self, id).await? {
                    out.push(t);
                }
            }
        }
        Ok(out)
    }

    async fn save_topic(&self, topic: &Topic, expected: u64) -> StoreResult<()> {
        self.put_versioned(topic_item(topic), expected, || format!("topic {}", topic.id)).await
    }

    async fn add_comment(&self, comment: &Comment) -> StoreResult<bool> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(comment_item(comment)))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failed(&e) => Ok(false),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn comment(&self, topic: &str, id: &str) -> StoreResult<Option<Comment>> {
        self.get_item(s(format!("DTOPIC#{topic}")), s(format!("C#{id}"))).await?.map(|i| doc_json(&i)).transpose()
    }

    async fn comments(&self, topic: &str, status: Option<CommentStatus>, limit: usize) -> StoreResult<Vec<Comment>> {
        let mut values = vec![(":pk", s(format!("DTOPIC#{topic}"))), (":c", s("C#"))];
        let filter = status.map(|st| {
            let name = serde_json::to_value(st).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
            values.push((":s", s(name)));
            "cstatus = :s"
        });
        let items = self.query_filtered(None, "PK = :pk AND begins_with(SK, :c)", filter, values, true, None).await?;
        let mut out: Vec<Comment> = items.iter().map(doc_json).collect::<StoreResult<_>>()?;
        out.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
        out.truncate(limit);
        Ok(out)
    }

    async fn save_comment(&self, comment: &Comment, expected: u64) -> StoreResult<()> {
        self.put_versioned(comment_item(comment), expected, || format!("comment {}", comment.id)).await
    }
}

/// The 舆情 desk: each item is `OPITEM#<id>` / `I`; it is listed by a pointer in the week partition
/// of when it was recorded (`OPINION#<Monday>` / `I#<id>`, written with it) and, once sent, in its
/// unit's list (`OPUNIT#<unit>` / `<recorded ms>#<id>`, written with the send).
fn item_item(i: &OpinionItem) -> Item {
    HashMap::from([
        ("PK".into(), s(format!("OPITEM#{}", i.id))),
        ("SK".into(), s("I")),
        ("version".into(), n(i.version)),
        ("doc".into(), s(serde_json::to_string(i).expect("items serialise"))),
    ])
}

impl DynamoStore {
    /// The desk's items of these ids, newest first.
    async fn desk_items(&self, ids: Vec<String>) -> StoreResult<Vec<OpinionItem>> {
        let mut out = Vec::new();
        for id in ids {
            if let Some(item) = OpinionDesk::item(self, &id).await? {
                out.push(item);
            }
        }
        out.sort_by(|a, b| (b.recorded_at, &b.id).cmp(&(a.recorded_at, &a.id)));
        Ok(out)
    }
}

#[async_trait]
impl OpinionDesk for DynamoStore {
    async fn create_item(&self, item: &OpinionItem) -> StoreResult<()> {
        let pointer = self.put(HashMap::from([
            ("PK".into(), s(opinion_week(item.recorded_at))),
            ("SK".into(), s(format!("I#{}", item.id))),
        ]))?;
        match self.transact(vec![self.put_new(item_item(item))?, pointer]).await {
            Ok(()) => Ok(()),
            Err(TransactFailure::Condition(_)) => Err(StoreError::Conflict(format!("item {} exists", item.id))),
            Err(TransactFailure::Other(e) | TransactFailure::Contended(e)) => Err(StoreError::Unavailable(e)),
        }
    }

    async fn item(&self, id: &str) -> StoreResult<Option<OpinionItem>> {
        self.get_item(s(format!("OPITEM#{id}")), s("I")).await?.map(|i| doc_json(&i)).transpose()
    }

    async fn save_item(&self, item: &OpinionItem, expected: u64) -> StoreResult<()> {
        let Some(unit) = &item.unit else {
            return self.put_versioned(item_item(item), expected, || format!("item {}", item.id)).await;
        };
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item_item(item)))
            .condition_expression("version = :v")
            .expression_attribute_values(":v", n(expected))
            .build();
        let pointer = self.put(HashMap::from([
            ("PK".into(), s(format!("OPUNIT#{unit}"))),
            ("SK".into(), s(format!("{}#{}", ms13(item.recorded_at), item.id))),
            ("id".into(), s(item.id.as_str())),
        ]))?;
        match self.transact(vec![TransactWriteItem::builder().put(build(put)?).build(), pointer]).await {
            Ok(()) => Ok(()),
            Err(TransactFailure::Condition(_)) => {
                Err(StoreError::Conflict(format!("item {} is not at version {expected}", item.id)))
            }
            Err(TransactFailure::Other(e) | TransactFailure::Contended(e)) => Err(StoreError::Unavailable(e)),
        }
    }

    async fn items(&self, since: DateTime<Utc>, until: DateTime<Utc>) -> StoreResult<Vec<OpinionItem>> {
        let mut ids = Vec::new();
        for week in Self::opinion_weeks(since, until) {
            let values = vec![(":pk", s(week)), (":i", s("I#"))];
            for item in self.query(None, "PK = :pk AND begins_with(SK, :i)", values, true, None).await? {
                if let Some(id) = item.get("SK").and_then(|v| v.as_s().ok()).and_then(|k| k.strip_prefix("I#")) {
                    ids.push(id.to_owned());
                }
            }
        }
        let mut out = self.desk_items(ids).await?;
        out.retain(|i| i.recorded_at >= since && i.recorded_at <= until);
        Ok(out)
    }

    async fn unit_items(&self, unit: &UnitId, limit: usize) -> StoreResult<Vec<OpinionItem>> {
        let values = vec![(":pk", s(format!("OPUNIT#{unit}")))];
        let ids: Vec<String> = self
            .query(None, "PK = :pk", values, false, Some(limit))
            .await?
            .iter()
            .filter_map(|i| i.get("id").and_then(|v| v.as_s().ok()).cloned())
            .collect();
        let mut out = self.desk_items(ids).await?;
        // Sent on to another unit since: no longer this one's.
        out.retain(|i| i.unit.as_ref() == Some(unit));
        Ok(out)
    }
}

/// Other systems' API keys (Open311) live in one partition (`APIKEYS`, sort key the key's digest): a
/// request's key is one strongly consistent GetItem, and the administrators' list one Query (a city
/// has a handful of keys).
fn api_key_item(k: &ApiKey) -> Item {
    HashMap::from([
        ("PK".into(), s("APIKEYS")),
        ("SK".into(), s(k.digest.as_str())),
        ("doc".into(), s(serde_json::to_string(k).expect("api keys serialise"))),
        ("revoked".into(), AttributeValue::Bool(k.revoked_at.is_some())),
    ])
}

#[async_trait]
impl ApiKeyStore for DynamoStore {
    async fn create_api_key(&self, key: &ApiKey) -> StoreResult<()> {
        if self.api_keys().await?.iter().any(|k| k.id == key.id) {
            return Err(StoreError::Conflict(format!("api key {} exists", key.id)));
        }
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(api_key_item(key)))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await;
        match put {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failed(&e) => Err(StoreError::Conflict(format!("api key {} exists", key.id))),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn api_key(&self, digest: &str) -> StoreResult<Option<ApiKey>> {
        self.get_item(s("APIKEYS"), s(digest)).await?.map(|i| doc_json(&i)).transpose()
    }

    async fn api_keys(&self) -> StoreResult<Vec<ApiKey>> {
        let items = self.query(None, "PK = :pk", vec![(":pk", s("APIKEYS"))], true, None).await?;
        let mut keys: Vec<ApiKey> = items.iter().map(doc_json).collect::<StoreResult<_>>()?;
        keys.sort_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.id.cmp(&b.id)));
        Ok(keys)
    }

    async fn revoke_api_key(&self, id: &str, at: DateTime<Utc>) -> StoreResult<ApiKey> {
        let mut key = self.api_keys().await?.into_iter().find(|k| k.id == id).ok_or(StoreError::NotFound)?;
        if key.revoked_at.is_some() {
            return Ok(key);
        }
        key.revoked_at = Some(at);
        // Only over a key not revoked meanwhile: the first revocation's time stays.
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(api_key_item(&key)))
            .condition_expression("revoked = :no")
            .expression_attribute_values(":no", AttributeValue::Bool(false))
            .send()
            .await;
        match put {
            Ok(_) => Ok(key),
            Err(e) if is_condition_failed(&e) => {
                self.api_keys().await?.into_iter().find(|k| k.id == id).ok_or(StoreError::NotFound)
            }
            Err(e) => Err(unavailable(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailbox_domain::workflow::{Context, NewCase};
    use mailbox_domain::{Calendar, CaseNumber, Kind, MailboxId, Organisation};

    fn case(body: String) -> Case {
        let org = Organisation::guangan();
        let ctx = Context { org: &org, calendar: Calendar::builtin(), now: Utc::now() };
        let new = NewCase {
            mailbox: MailboxId::new("mayor"),
            kind: Kind::Complaint,
            title: "标题".into(),
            body: "内容".into(),
            citizen: mailbox_domain::case::Citizen { name: "张三".into(), phone: "13812345678".into() },
            publishable: false,
        };
        let (mut case, _) = Case::submit(&ctx, CaseId::new("c1"), CaseNumber::new("GA1"), "d".into(), new).unwrap();
        case.body = body;
        case
    }

    #[test]
    fn a_case_too_large_for_one_item_is_refused_before_writing() {
        let fits = case("办".repeat(100_000));
        assert!(item_bytes(&case_item(&fits).unwrap()) > 300_000);
        let too_large = case("办".repeat(140_000));
        assert!(matches!(case_item(&too_large), Err(StoreError::TooLarge(_))));
    }
}
