//! A NATS JetStream stream as a read-only event feed (feature `nats`): what a projection runs
//! from to keep a read model of another service's events, as that service's relay publishes
//! them (`serve --publish`). The feed's global positions are the stream's sequence numbers, so
//! the projection runner, its checkpoint and its exactly-once batches work unchanged: the
//! checkpoint, committed with the rows, is what says how far the read model got.
//!
//! Messages are read through a durable pull consumer of the stream (named by the reader), which
//! starts at the sequence the runner asks for: the consumer is moved there (deleted and made
//! again) whenever the runner asks for another place than the consumer's next message, as after
//! a restart, a rebuild or a failed batch, and whenever what it delivers does not start there
//! (another reader of the same name moved it). Acknowledgements are not used: the read model's
//! checkpoint, committed with the rows, is the record.
//!
//! An event id seen among the last [`REMEMBERED`] events is a duplicate (a publisher's retry
//! after the server's duplicate window): it reaches the runner as type `eventsmith.duplicate`,
//! which no projection handles, so the checkpoint passes it. A message that is no eventsmith
//! CloudEvent reaches it as type `eventsmith.foreign`, skipped the same way; both are counted
//! and logged. Messages the stream no longer holds (its limits, a purge) are a gap, logged.
//!
//! The head follows the stream through a second consumer that delivers headers only, so a
//! runner waiting for new events wakes as soon as one is stored.

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
    /// The consumer, the sequence it delivers next, and the ids read lately.
    cursor: tokio::sync::Mutex<Cursor>,
    head: Arc<HeadSender>,
    watcher: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
struct Cursor {
    consumer: Option<(consumer::PullConsumer, u64)>,
    /// Event ids read lately, at the sequence each was first read.
    seen: std::collections::HashMap<uuid::Uuid, u64>,
    order: std::collections::VecDeque<uuid::Uuid>,
}

impl Cursor {
    /// Whether event `id`, at `sequence`, was read at another sequence among the last
    /// [`REMEMBERED`] events (reading the same message again is no duplicate); remembers it.
    fn again(&mut self, id: uuid::Uuid, sequence: u64) -> bool {
        if let Some(first) = self.seen.get(&id) {
            return *first != sequence;
        }
        self.seen.insert(id, sequence);
        self.order.push_back(id);
        if self.order.len() > REMEMBERED
            && let Some(old) = self.order.pop_front()
        {
            self.seen.remove(&old);
        }
        false
    }
}

/// Event ids remembered to tell duplicates.
pub const REMEMBERED: usize = 10_000;

/// How long a fetch may take before the feed gives up on it (NATS restarting mid-fetch).
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

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
        let jetstream = jetstream::new(client);
        let mut found = jetstream.get_stream(stream).await.map_err(|e| {
            StoreError::Backend(format!(
                "NATS: no stream `{stream}` at {url} ({e}); the publishing service creates it when it starts with --publish"
            ))
        })?;
        let info = found.info().await.map_err(failed)?;
        let head = Arc::new(HeadSender::new(info.state.last_sequence));
        let watcher = tokio::spawn(watch(found.clone(), Arc::clone(&head)));
        Ok(Self {
            inner: Arc::new(Inner {
                stream: found,
                name: consumer.to_owned(),
                cursor: tokio::sync::Mutex::new(Cursor::default()),
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
                // The server forgets a consumer nobody read for a day (a projection removed,
                // an operator's one-off).
                inactive_threshold: Duration::from_secs(24 * 60 * 60),
                ..Default::default()
            })
            .await
            .map_err(failed)
    }
}

/// Moves `head` to each message's sequence as the stream stores it, through an ordered
/// consumer delivering headers only; made again after a failure (NATS restarting).
async fn watch(stream: stream::Stream, head: Arc<HeadSender>) {
    loop {
        let after = head.subscribe().position();
        let messages = async {
            stream
                .create_consumer(consumer::pull::OrderedConfig {
                    deliver_policy: consumer::DeliverPolicy::ByStartSequence {
                        start_sequence: after + 1,
                    },
                    headers_only: true,
                    ..Default::default()
                })
                .await
                .map_err(failed)?
                .messages()
                .await
                .map_err(failed)
        };
        if let Ok(mut messages) = messages.await {
            while let Some(Ok(message)) = messages.next().await {
                if let Ok(info) = message.info() {
                    head.publish(info.stream_sequence);
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The type of an event read again (no projection handles it).
pub const DUPLICATE: &str = "eventsmith.duplicate";

/// The type of a message that is no eventsmith event (no projection handles it).
pub const FOREIGN: &str = "eventsmith.foreign";

/// Up to `limit` messages of `consumer`, as sequences and payloads.
async fn fetch(
    consumer: &consumer::PullConsumer,
    limit: usize,
) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
    let mut messages = consumer
        .fetch()
        .max_messages(limit.clamp(1, 10_000))
        .messages()
        .await
        .map_err(failed)?;
    let mut fetched = Vec::new();
    while let Some(message) = messages.next().await {
        let message = message.map_err(failed)?;
        let sequence = message.info().map_err(failed)?.stream_sequence;
        fetched.push((sequence, message.payload.to_vec()));
    }
    Ok(fetched)
}

/// A message that is no eventsmith event, at `sequence`, as an envelope no projection handles.
fn foreign(sequence: u64, payload: Vec<u8>) -> Envelope {
    Envelope {
        id: uuid::Uuid::nil(),
        source: "urn:eventsmith:foreign".into(),
        event_type: FOREIGN.to_owned(),
        version: 0,
        stream: format!("nats-{sequence}"),
        stream_version: 0,
        position: sequence,
        time: time::OffsetDateTime::now_utc(),
        data_schema: None,
        data: payload,
        metadata: Default::default(),
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
        let mut messages = None;
        // At most twice: the consumer kept, then (if it was elsewhere) made again at `from`.
        for fresh in [false, true] {
            let consumer = match cursor.consumer.take() {
                Some((consumer, next)) if next == from && !fresh => consumer,
                _ => self.consumer_at(from).await?,
            };
            let fetched = tokio::time::timeout(FETCH_TIMEOUT, fetch(&consumer, limit))
                .await
                .map_err(|_| failed("no answer to a fetch within 10 s"))??;
            let moved = fetched
                .first()
                .is_some_and(|(sequence, _)| *sequence != from);
            if moved && !fresh {
                continue;
            }
            if moved {
                let first = fetched.first().map_or(from, |(sequence, _)| *sequence);
                metrics::counter!("eventsmith_feed_gap_events_total")
                    .increment(first.saturating_sub(from));
                tracing::warn!(
                    from,
                    first,
                    "the stream no longer holds events the feed asked for (its limits, or a purge): they are skipped"
                );
            }
            let next = fetched.last().map_or(from, |(sequence, _)| sequence + 1);
            cursor.consumer = Some((consumer, next));
            messages = Some(fetched);
            break;
        }
        let mut events = Vec::new();
        for (sequence, payload) in messages.unwrap_or_default() {
            // A consumer that was behind (moved by another reader) delivers these again.
            if sequence < from {
                continue;
            }
            let mut envelope = match serde_json::from_slice::<serde_json::Value>(&payload)
                .map_err(|e| e.to_string())
                .and_then(|body| Envelope::from_cloudevent(&body, sequence))
            {
                Ok(envelope) => envelope,
                Err(error) => {
                    metrics::counter!("eventsmith_feed_foreign_messages_total").increment(1);
                    tracing::warn!(sequence, %error, "a message of the stream is no eventsmith event; skipped");
                    foreign(sequence, payload)
                }
            };
            if envelope.event_type != FOREIGN && cursor.again(envelope.id, sequence) {
                metrics::counter!("eventsmith_feed_duplicates_total").increment(1);
                tracing::warn!(sequence, id = %envelope.id, "an event arrived twice; skipped");
                envelope.event_type = DUPLICATE.to_owned();
            }
            events.push(envelope);
        }
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
