//! Checks of the `HandoffQueue` port.

use mailbox_app::ports::{HandoffQueue, QueueError};
use std::time::Duration;

pub const QUEUE_A: &str = "conformance-a";
pub const QUEUE_B: &str = "conformance-b";
/// Receives after which an undeleted message goes to the dead-letter queue.
pub const MAX_RECEIVES: u32 = 3;

const SHORT: Duration = Duration::from_millis(300);
const LONG: Duration = Duration::from_secs(60);

fn unique(label: &str) -> String {
    format!("{label}-{}", hex::encode(rand::random::<[u8; 6]>()))
}

/// Receives until `body` shows up (other checks may share the queue), up to a few seconds.
async fn receive_body<Q: HandoffQueue>(
    q: &Q,
    queue: &str,
    body: &str,
    visibility: Duration,
) -> Option<mailbox_app::ports::Received> {
    for _ in 0..40 {
        let got = q.receive(queue, 10, visibility).await.unwrap();
        if let Some(m) = got.into_iter().find(|m| m.body == body) {
            return Some(m);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

pub async fn send_receive_delete<Q: HandoffQueue>(q: &Q) {
    let body = unique("hello");
    q.send(QUEUE_A, &body).await.unwrap();
    let m = receive_body(q, QUEUE_A, &body, LONG).await.expect("message arrives");
    assert_eq!(m.receive_count, 1);
    q.delete(QUEUE_A, &m.receipt).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let again = q.receive(QUEUE_A, 10, LONG).await.unwrap();
    assert!(!again.iter().any(|x| x.body == body), "deleted messages are gone");
}

pub async fn invisible_until_timeout_then_redelivered<Q: HandoffQueue>(q: &Q) {
    let body = unique("retry");
    q.send(QUEUE_A, &body).await.unwrap();
    let first = receive_body(q, QUEUE_A, &body, Duration::from_secs(2)).await.expect("arrives");
    let hidden = q.receive(QUEUE_A, 10, LONG).await.unwrap();
    assert!(!hidden.iter().any(|x| x.body == body), "invisible while being handled");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let second = receive_body(q, QUEUE_A, &body, LONG).await.expect("redelivered after the timeout");
    assert_eq!(second.receive_count, first.receive_count + 1);
    q.delete(QUEUE_A, &second.receipt).await.unwrap();
}

/// A consumer that finishes after its visibility timeout deletes with an old receipt. SQS documents
/// that such a delete succeeds but "might not" remove the message, so the contract is only this: it
/// is not an error, and the message was delivered again meanwhile (consumers must be idempotent).
pub async fn stale_receipt_delete_is_not_an_error<Q: HandoffQueue>(q: &Q) {
    let body = unique("stale");
    q.send(QUEUE_A, &body).await.unwrap();
    let first = receive_body(q, QUEUE_A, &body, Duration::from_secs(1)).await.expect("arrives");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = receive_body(q, QUEUE_A, &body, Duration::from_secs(30)).await.expect("redelivered");
    assert!(second.receive_count > first.receive_count);
    q.delete(QUEUE_A, &first.receipt).await.expect("a stale receipt is not an error");
    q.delete(QUEUE_A, &second.receipt).await.unwrap();
}

pub async fn poison_message_goes_to_dead_letters_without_blocking<Q: HandoffQueue>(q: &Q) {
    let poison = unique("poison");
    let good = unique("good");
    q.send(QUEUE_B, &poison).await.unwrap();
    q.send(QUEUE_B, &good).await.unwrap();
    let mut good_done = false;
    // Receive the poison message MAX_RECEIVES times without deleting it; handle the good one.
    for _ in 0..(MAX_RECEIVES * 10) {
        for m in q.receive(QUEUE_B, 10, SHORT).await.unwrap() {
            if m.body == good {
                q.delete(QUEUE_B, &m.receipt).await.unwrap();
                good_done = true;
            }
        }
        let dead = q.dead_letters(QUEUE_B).await.unwrap();
        if good_done && dead.iter().any(|m| m.body == poison) {
            break;
        }
        tokio::time::sleep(SHORT + Duration::from_millis(50)).await;
    }
    assert!(good_done, "the good message was handled despite the poison one");
    let dead = q.dead_letters(QUEUE_B).await.unwrap();
    let dead_poison = dead.iter().find(|m| m.body == poison).expect("poison message is in the dead-letter queue");
    assert!(dead_poison.receive_count >= MAX_RECEIVES);
    tokio::time::sleep(SHORT + Duration::from_millis(50)).await;
    let later = q.receive(QUEUE_B, 10, SHORT).await.unwrap();
    assert!(!later.iter().any(|m| m.body == poison), "dead messages are not delivered again");
}

pub async fn unknown_queue_is_an_error<Q: HandoffQueue>(q: &Q) {
    let err = q.send("no-such-queue", "x").await.expect_err("unknown queue");
    assert!(matches!(err, QueueError::UnknownQueue(_)), "{err:?}");
}

pub async fn queues_are_separate<Q: HandoffQueue>(q: &Q) {
    let body = unique("only-b");
    q.send(QUEUE_B, &body).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let in_a = q.receive(QUEUE_A, 10, SHORT).await.unwrap();
    assert!(!in_a.iter().any(|m| m.body == body));
    let m = receive_body(q, QUEUE_B, &body, LONG).await.expect("in B");
    q.delete(QUEUE_B, &m.receipt).await.unwrap();
}

pub async fn delayed_message_waits_for_its_delay<Q: HandoffQueue>(q: &Q) {
    let body = unique("later");
    q.send_delayed(QUEUE_B, &body, Duration::from_secs(2)).await.unwrap();
    let early = q.receive(QUEUE_B, 10, LONG).await.unwrap();
    assert!(!early.iter().any(|m| m.body == body), "not received before its delay");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let m = receive_body(q, QUEUE_B, &body, LONG).await.expect("received after its delay");
    q.delete(QUEUE_B, &m.receipt).await.unwrap();
}
