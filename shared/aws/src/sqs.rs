//! The hand-off queues on SQS: one queue per jurisdiction, each with a dead-letter queue that SQS
//! itself moves a message to after `maxReceiveCount` receives (the queue's redrive policy).

use async_trait::async_trait;
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use aws_sdk_sqs::Client;
use mailbox_app::ports::{HandoffQueue, QueueError, QueueResult, Received};
use std::collections::HashMap;
use std::time::Duration;

#[derive(Clone, Debug)]
struct Urls {
    queue: String,
    dead_letters: String,
}

#[derive(Clone)]
pub struct SqsQueues {
    client: Client,
    urls: HashMap<String, Urls>,
}

fn unavailable<E: std::fmt::Display>(e: E) -> QueueError {
    QueueError::Unavailable(e.to_string())
}

async fn queue_url(client: &Client, name: &str) -> QueueResult<String> {
    let out = client.get_queue_url().queue_name(name).send().await.map_err(unavailable)?;
    out.queue_url().map(str::to_owned).ok_or(QueueError::UnknownQueue(name.to_owned()))
}

/// The dead-letter queue of a queue is named `<queue>-dlq`.
pub fn dlq_name(queue: &str) -> String {
    format!("{queue}-dlq")
}

impl SqsQueues {
    /// Looks up the URLs of the named queues and their dead-letter queues (they must exist).
    pub async fn connect(client: Client, names: &[String]) -> QueueResult<SqsQueues> {
        let pairs: Vec<(String, String)> = names.iter().map(|n| (n.clone(), n.clone())).collect();
        SqsQueues::connect_as(client, &pairs).await
    }

    /// Like `connect`, with the port's queue names mapped to the SQS queues that serve them
    /// (`(name, sqs_queue)`), e.g. to give each test its own queues.
    pub async fn connect_as(client: Client, pairs: &[(String, String)]) -> QueueResult<SqsQueues> {
        let mut urls = HashMap::new();
        for (logical, name) in pairs {
            urls.insert(
                logical.clone(),
                Urls {
                    queue: queue_url(&client, name).await?,
                    dead_letters: queue_url(&client, &dlq_name(name)).await?,
                },
            );
        }
        Ok(SqsQueues { client, urls })
    }

    /// Like `connect_as`, without asking SQS: the URL of SQS queue `n` is `<url_prefix>n` (and
    /// `<url_prefix>n-dlq` for its dead letters). A queue URL is `https://sqs.<region>.<suffix>/
    /// <account>/<name>`, all known to the deployment, so a Lambda instance can start without the
    /// round trips of one `GetQueueUrl` per queue (two per jurisdiction).
    pub fn at_url_prefix(client: Client, pairs: &[(String, String)], url_prefix: &str) -> SqsQueues {
        let urls = pairs
            .iter()
            .map(|(logical, name)| {
                let urls = Urls {
                    queue: format!("{url_prefix}{name}"),
                    dead_letters: format!("{url_prefix}{}", dlq_name(name)),
                };
                (logical.clone(), urls)
            })
            .collect();
        SqsQueues { client, urls }
    }

    /// Creates each queue with its dead-letter queue and redrive policy (what the SAM template does
    /// on AWS; used by tests and local setups).
    pub async fn create(client: &Client, names: &[String], max_receives: u32) -> QueueResult<()> {
        for name in names {
            let dlq = client.create_queue().queue_name(dlq_name(name)).send().await.map_err(unavailable)?;
            let dlq_url = dlq.queue_url().unwrap_or_default();
            let arn = client
                .get_queue_attributes()
                .queue_url(dlq_url)
                .attribute_names(QueueAttributeName::QueueArn)
                .send()
                .await
                .map_err(unavailable)?
                .attributes()
                .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
                .unwrap_or_default();
            let policy = serde_json::json!({"deadLetterTargetArn": arn, "maxReceiveCount": max_receives}).to_string();
            client
                .create_queue()
                .queue_name(name)
                .attributes(QueueAttributeName::RedrivePolicy, policy)
                .send()
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }

    fn urls(&self, queue: &str) -> QueueResult<&Urls> {
        self.urls.get(queue).ok_or_else(|| QueueError::UnknownQueue(queue.to_owned()))
    }

    async fn receive_from(&self, url: &str, max: usize, visibility: Duration) -> QueueResult<Vec<Received>> {
        // SQS counts visibility in whole seconds; round up so a message is never visible early.
        let secs = visibility.as_millis().div_ceil(1000) as i32;
        let out = self
            .client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(max.clamp(1, 10) as i32)
            .visibility_timeout(secs)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out
            .messages()
            .iter()
            .map(|m| Received {
                id: m.message_id().unwrap_or_default().to_owned(),
                body: m.body().unwrap_or_default().to_owned(),
                receive_count: m
                    .attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(1),
                receipt: m.receipt_handle().unwrap_or_default().to_owned(),
            })
            .collect())
    }
}

#[async_trait]
impl HandoffQueue for SqsQueues {
    async fn send_delayed(&self, queue: &str, body: &str, delay: Duration) -> QueueResult<()> {
        let url = &self.urls(queue)?.queue;
        // SQS takes whole seconds, at most 900; round up so a message never arrives early.
        let secs = delay.as_millis().div_ceil(1000).min(900) as i32;
        let mut send = self.client.send_message().queue_url(url).message_body(body);
        if secs > 0 {
            send = send.delay_seconds(secs);
        }
        send.send().await.map_err(unavailable)?;
        Ok(())
    }

    async fn receive(&self, queue: &str, max: usize, visibility: Duration) -> QueueResult<Vec<Received>> {
        let url = self.urls(queue)?.queue.clone();
        self.receive_from(&url, max, visibility).await
    }

    async fn delete(&self, queue: &str, receipt: &str) -> QueueResult<()> {
        let url = &self.urls(queue)?.queue;
        self.client.delete_message().queue_url(url).receipt_handle(receipt).send().await.map_err(unavailable)?;
        Ok(())
    }

    /// Peeks at the dead-letter queue (visibility 0: the messages stay for an operator).
    async fn dead_letters(&self, queue: &str) -> QueueResult<Vec<Received>> {
        let url = self.urls(queue)?.dead_letters.clone();
        let mut seen: HashMap<String, Received> = HashMap::new();
        // Several receives, since SQS returns a sample of the queue's messages each time.
        for _ in 0..5 {
            for m in self.receive_from(&url, 10, Duration::ZERO).await? {
                seen.entry(m.id.clone()).or_insert(m);
            }
        }
        Ok(seen.into_values().collect())
    }
}
