//! A NATS JetStream stream as a read-only event feed (feature `nats`): what a projection runs
//! from to keep a read model of another service's events, as that service's relay publishes
//! them (`serve --publish`). The feed's global positions are the stream's sequence numbers, so
//! the projection runner, its checkpoint and its exactly-once batches work unchanged: the
//! checkpoint, committed with the rows, is what says how far the read model got.
//!
//! Messages are read through a durable pull consumer of the stream (named by the reader), which
//! starts at the sequence the runner asks for: the consumer is moved there (deleted and made
//! again) whenever the runner asks for another place than the consumer's next message, as after
//! a restart, a rebuild or a failed batch. Acknowledgements are not used: the read model's
//! checkpoint is the record.
//!
//! Events that reach the stream twice (a publisher's retry after the server's duplicate window)
//! arrive twice; a projection that must not count one twice checks the event id.

use super::{
    Appended, Direction, Envelope, EventStore, ExpectedVersion, Head, HeadSender, IdempotencyKey,
    NewEvent, Snapshot, StoreError,
};
use async_nats::jetstream::{self, consumer, stream};
use futures_util::StreamExt;
use std::sync::Arc;
use std::time::Duration;

/// A JetStream stream, read as an event feed.
#[derive(Clone)]
pub struct NatsFeed {
    inner: Arc<Inner>,
}

struct Inner {
    stream: stream::Stream,
    /// The durable consumer's name.
    name: String,
    /// The consumer and the sequence it delivers next.
    cursor: tokio::sync::Mutex<Option<(consumer::PullConsumer, u64)>>,
    head: Arc<HeadSender>,
    watcher: tokio::task::JoinHandle<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.watcher.abort();
    }
}

fn failed(error: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("NATS: {error}"))
}

impl NatsFeed {
    /// Reads stream `stream` of the NATS server at `url` through durable consumer `consumer`
    /// (a name per reader: `<service>_<projection>`, say). The stream must exist.
    pub async fn connect(url: &str, stream: &str, consumer: &str) -> Result<Self, StoreError> {
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(5))
            .connect(url)
            .await
            .map_err(failed)?;
        let jetstream = jetstream::new(client.clone());
        let mut found = jetstream.get_stream(stream).await.map_err(|e| {
            StoreError::Backend(format!(
                "NATS: no stream `{stream}` at {url} ({e}); the publishing service creates it when it starts with --publish"
            ))
        })?;
        let info = found.info().await.map_err(failed)?;
        let head = Arc::new(HeadSender::new(info.state.last_sequence));
        let subjects = info.config.subjects.clone();
        let watcher = tokio::spawn(watch(client, found.clone(), subjects, Arc::clone(&head)));
        Ok(Self {
            inner: Arc::new(Inner {
                stream: found,
                name: consumer.to_owned(),
                cursor: tokio::sync::Mutex::new(None),
                head,
                watcher,
            }),
        })
    }

    /// The consumer, moved to deliver `from` next.
    async fn consumer_at(&self, from: u64) -> Result<consumer::PullConsumer, StoreError> {
        let stream = &self.inner.stream;
        // Absent or elsewhere: made again where the reader is.
        let _ = stream.delete_consumer(&self.inner.name).await;
        stream
            .create_consumer(consumer::pull::Config {
                durable_name: Some(self.inner.name.clone()),
                deliver_policy: consumer::DeliverPolicy::ByStartSequence {
                    start_sequence: from,
                },
                ack_policy: consumer::AckPolicy::None,
                ..Default::default()
            })
            .await
            .map_err(failed)
    }
}

/// Moves `head` to the stream's last sequence whenever a message is published to it (and each
/// second, in case one was missed).
async fn watch(
    client: async_nats::Client,
    mut stream: stream::Stream,
    subjects: Vec<String>,
    head: Arc<HeadSender>,
) {
    let mut subscriptions = futures_util::stream::SelectAll::new();
    for subject in subjects {
        if let Ok(subscription) = client.subscribe(subject).await {
            subscriptions.push(subscription);
        }
    }
    loop {
        tokio::select! {
            _ = subscriptions.next(), if !subscriptions.is_empty() => {
                // Many published at once: one look for them all.
                while let Some(Some(_)) = futures_util::FutureExt::now_or_never(subscriptions.next()) {}
            }
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        if let Ok(info) = stream.info().await {
            head.publish(info.state.last_sequence);
        }
    }
}

fn read_only() -> StoreError {
    StoreError::Backend(
        "a NATS feed is read-only: commands append to the service's own store".to_owned(),
    )
}

impl EventStore for NatsFeed {
    async fn append(
        &self,
        _: &str,
        _: ExpectedVersion,
        _: Vec<NewEvent>,
        _: Option<&IdempotencyKey>,
    ) -> Result<Appended, StoreError> {
        Err(read_only())
    }

    async fn read_stream(
        &self,
        _: &str,
        _: u64,
        _: Direction,
        _: usize,
    ) -> Result<Vec<Envelope>, StoreError> {
        Err(StoreError::Backend(
            "a NATS feed is read in order only, not by stream".to_owned(),
        ))
    }

    async fn read_all(&self, from: u64, limit: usize) -> Result<Vec<Envelope>, StoreError> {
        let from = from.max(1);
        let mut cursor = self.inner.cursor.lock().await;
        let consumer = match cursor.take() {
            Some((consumer, next)) if next == from => consumer,
            _ => self.consumer_at(from).await?,
        };
        let mut messages = consumer
            .fetch()
            .max_messages(limit.clamp(1, 10_000))
            .messages()
            .await
            .map_err(failed)?;
        let mut events = Vec::new();
        let mut next = from;
        while let Some(message) = messages.next().await {
            let message = message.map_err(failed)?;
            let sequence = message.info().map_err(failed)?.stream_sequence;
            let body: serde_json::Value = serde_json::from_slice(&message.payload)
                .map_err(|e| failed(format!("message {sequence} is not JSON: {e}")))?;
            let envelope = Envelope::from_cloudevent(&body, sequence)
                .map_err(|e| failed(format!("message {sequence} is not an event: {e}")))?;
            events.push(envelope);
            next = sequence + 1;
        }
        *cursor = Some((consumer, next));
        Ok(events)
    }

    async fn idempotent_result(&self, _: &IdempotencyKey) -> Result<Option<Appended>, StoreError> {
        Ok(None)
    }

    fn head(&self) -> Head {
        self.inner.head.subscribe()
    }

    async fn save_snapshot(&self, _: &str, _: u64, _: Vec<u8>) -> Result<(), StoreError> {
        Err(read_only())
    }

    async fn load_snapshot(&self, _: &str) -> Result<Option<Snapshot>, StoreError> {
        Ok(None)
    }
}
