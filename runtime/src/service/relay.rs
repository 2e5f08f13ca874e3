//! The outbox relay (feature `nats`): publishes every committed event, in the store's global
//! order, to NATS JetStream. The store is the outbox: an event is committed once, in the
//! append's own transaction, and the relay reads the feed from its checkpoint, so nothing is
//! published that was not committed and nothing committed is left out.
//!
//! Each event goes to subject `<service>.<event type>` (`shop.order.placed`), its body the
//! CloudEvents JSON (`content-type: application/cloudevents+json`), its CloudEvents attributes
//! also as `ce-` headers, and `Nats-Msg-Id` its event id, so the server drops a duplicate
//! within the stream's duplicate window. Within a page each message names the one before it
//! (`Nats-Expected-Last-Msg-Id`), so a message lost in flight cannot let later ones be stored
//! ahead of it. A page of events is published without waiting
//! (at most [`IN_FLIGHT`] acknowledgements outstanding), then every acknowledgement is awaited,
//! and only then does the checkpoint move (in the read-model database, as a projection's
//! would). A relay that dies between publishing and moving the checkpoint publishes the page
//! again when it restarts: the server drops those within its window, and consumers beyond it
//! deduplicate by event id.
//!
//! One relay per database runs at a time: it holds the lease `eventsmith_relay` (on SQLite the
//! database's lock does that already; on PostgreSQL other instances stand by).

use super::health::{Backoff, Health, RunnerState};
use crate::read_model::{Backend, BackendTransaction};
use crate::store::{Envelope, EventStore};
use async_nats::jetstream::{self, context::PublishAckFuture, message::PublishMessage, stream};
use std::sync::Arc;
use std::time::Duration;

/// The relay's name for its checkpoint and lease.
pub const NAME: &str = "eventsmith_relay";

/// Acknowledgements awaited at most at once: a page of events.
pub const IN_FLIGHT: usize = 256;

/// Room kept beside a message's body for its headers, against the server's `max_payload`.
const HEADROOM: usize = 1024;

/// How long the server remembers a message id to drop its duplicates: NATS's default.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// Where and as what the relay publishes.
#[derive(Debug, Clone)]
pub struct Publishing {
    /// The server, `nats://HOST:PORT`.
    pub url: String,
    /// The first subject token: the service's name.
    pub service: String,
}

impl Publishing {
    /// The JetStream stream the relay publishes to, created when missing: the service's name
    /// in capitals (`SHOP`), over subjects `<service>.>`.
    pub fn stream(&self) -> String {
        super::app::stream_of(&self.service)
    }

    /// The subject of `envelope`: `<service>.<event type>`.
    pub fn subject(&self, envelope: &Envelope) -> String {
        format!("{}.{}", self.service, envelope.event_type)
    }
}

/// Why the relay stopped.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The server could not be reached, or refused or did not acknowledge a message.
    #[error("NATS: {0}")]
    Nats(String),
    /// Reading the events failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The checkpoint could not be read or moved.
    #[error("the relay's checkpoint: {0}")]
    Checkpoint(#[from] crate::read_model::BackendError),
}

fn nats(error: impl std::fmt::Display) -> RelayError {
    RelayError::Nats(error.to_string())
}

/// A header value: attribute texts without line breaks (which would end the header block).
fn header_text(text: &str) -> Option<&str> {
    (!text.contains(['\r', '\n'])).then_some(text)
}

/// The message for `envelope`. With `after` (the id of the event published just before it, in
/// the same page), the server stores it only if that one is the stream's last message
/// (`Nats-Expected-Last-Msg-Id`): if a message of the page was lost (NATS restarting while the
/// page was in flight), the ones after it are refused rather than stored out of order, and the
/// relay publishes the page again (the server drops those it has: a duplicate is answered
/// before the expectation is checked).
pub fn message(envelope: &Envelope, after: Option<&str>) -> PublishMessage {
    message_of(envelope, envelope.to_cloudevent().to_string(), after)
}

/// [`message`] with the body already rendered.
fn message_of(envelope: &Envelope, body: String, after: Option<&str>) -> PublishMessage {
    let id = envelope.id.hyphenated().to_string();
    let time = envelope
        .time
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let mut message = PublishMessage::build()
        .payload(body.into())
        .header("content-type", "application/cloudevents+json")
        .header("ce-specversion", "1.0")
        .header("ce-id", id.as_str())
        .header("ce-type", envelope.event_type.as_str())
        .header("ce-time", time.as_str())
        .message_id(&id);
    if let Some(previous) = after {
        message = message.expected_last_message_id(previous);
    }
    for (name, value) in [
        ("ce-source", envelope.source.as_ref()),
        ("ce-subject", envelope.stream.as_str()),
    ] {
        if let Some(value) = header_text(value) {
            message = message.header(name, value);
        }
    }
    message
}

/// The relay: the store's events, from the checkpoint in `backend`, to JetStream.
pub struct Relay<S, B> {
    store: S,
    backend: B,
    publishing: Publishing,
    jetstream: Option<jetstream::Context>,
    /// The largest message the server takes.
    max_payload: usize,
}

impl<S: EventStore, B: Backend> Relay<S, B> {
    /// A relay of `store`'s events, its checkpoint (and lease) in `backend`.
    pub fn new(store: S, backend: B, publishing: Publishing) -> Self {
        Self {
            store,
            backend,
            publishing,
            jetstream: None,
            max_payload: usize::MAX,
        }
    }

    /// The last position published and acknowledged.
    pub fn checkpoint(&self) -> Result<u64, RelayError> {
        Ok(self.backend.read(NAME, |position, _| position)?)
    }

    /// Connects to the server and makes the stream when it is missing.
    pub async fn connect(&mut self) -> Result<(), RelayError> {
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(5))
            .connect(self.publishing.url.as_str())
            .await
            .map_err(nats)?;
        self.max_payload = client.server_info().max_payload;
        let jetstream = jetstream::new(client);
        jetstream
            .get_or_create_stream(stream::Config {
                name: self.publishing.stream(),
                subjects: vec![format!("{}.>", self.publishing.service)],
                retention: stream::RetentionPolicy::Limits,
                storage: stream::StorageType::File,
                duplicate_window: DUPLICATE_WINDOW,
                ..Default::default()
            })
            .await
            .map_err(nats)?;
        self.jetstream = Some(jetstream);
        Ok(())
    }

    /// Publishes the events after the checkpoint, a page of at most [`IN_FLIGHT`]: every
    /// message sent, then every acknowledgement awaited, then the checkpoint moved. How many
    /// it published (0: none was waiting).
    pub async fn publish_page(&mut self) -> Result<usize, RelayError> {
        if self.jetstream.is_none() {
            self.connect().await?;
        }
        let Some(jetstream) = &self.jetstream else {
            return Err(RelayError::Nats("not connected".to_owned()));
        };
        let from = self.checkpoint()?;
        let events = self.store.read_all(from + 1, IN_FLIGHT).await?;
        let Some(last) = events.last().map(|e| e.position) else {
            metrics::gauge!("eventsmith_relay_lag").set(0.0);
            return Ok(0);
        };
        let mut acks: Vec<PublishAckFuture> = Vec::with_capacity(events.len());
        let mut previous: Option<String> = None;
        for envelope in &events {
            let subject = self.publishing.subject(envelope);
            let body = envelope.to_cloudevent().to_string();
            // The server counts the headers too: a kilobyte covers ours.
            if body.len() + HEADROOM > self.max_payload {
                return Err(RelayError::Nats(format!(
                    "event {} ({} of stream `{}`) takes {} bytes, more than the server's max_payload of {}: raise max_payload in the NATS server's configuration; the relay waits at this event until then",
                    envelope.position,
                    envelope.event_type,
                    envelope.stream,
                    body.len() + HEADROOM,
                    self.max_payload
                )));
            }
            let message = message_of(envelope, body, previous.as_deref());
            acks.push(
                jetstream
                    .send_publish(subject, message)
                    .await
                    .map_err(nats)?,
            );
            previous = Some(envelope.id.hyphenated().to_string());
        }
        let mut duplicates = 0u64;
        let mut acknowledged = from;
        for (ack, envelope) in acks.into_iter().zip(&events) {
            match ack.await {
                Ok(ack) => {
                    duplicates += u64::from(ack.duplicate);
                    acknowledged = envelope.position;
                }
                Err(error) => {
                    // The acknowledged start of the page counts: the next page starts at the
                    // refused message, which then names no predecessor (a message another
                    // publisher put between two of ours cannot hold the relay there).
                    if acknowledged > from {
                        self.move_checkpoint(from, acknowledged)?;
                    }
                    return Err(nats(error));
                }
            }
        }
        self.move_checkpoint(from, last)?;
        metrics::counter!("eventsmith_relay_published_total")
            .increment(events.len() as u64 - duplicates);
        metrics::counter!("eventsmith_relay_duplicates_total").increment(duplicates);
        metrics::gauge!("eventsmith_relay_lag")
            .set(self.store.head().position().saturating_sub(last) as f64);
        Ok(events.len())
    }

    fn move_checkpoint(&mut self, from: u64, to: u64) -> Result<(), RelayError> {
        let transaction = self.backend.begin(NAME)?;
        transaction.checkpoint(from, to)?;
        transaction.commit()?;
        Ok(())
    }

    /// Connects, takes the lease (standing by while another instance has it), then publishes
    /// as events are committed, until the store closes or an error ends the run. `health` says
    /// meanwhile whether it runs or stands by.
    async fn run(&mut self, health: &Health) -> Result<(), RelayError> {
        self.connect().await?;
        while !self.backend.claim(NAME)? {
            if !matches!(health.get(), RunnerState::Standby) {
                tracing::info!("another instance relays the events to NATS; standing by");
                health.set(RunnerState::Standby);
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        health.set(RunnerState::Running);
        metrics::gauge!("eventsmith_relay_up").set(1.0);
        tracing::info!(
            url = %crate::store::redacted(&self.publishing.url),
            stream = %self.publishing.stream(),
            "relaying events to NATS"
        );
        let mut head = self.store.head();
        loop {
            head.mark_seen();
            if self.publish_page().await? > 0 {
                continue;
            }
            tokio::select! {
                changed = head.changed() => if changed.is_err() { return Ok(()) },
                // New events of other instances wake the head too; this is a backstop.
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }
}

/// Runs `relay` until the service stops: a failed run (NATS unreachable or restarting, the
/// store or checkpoint failing) starts again from the checkpoint after a pause that doubles up
/// to 5 s, and `health` says meanwhile that it is down.
pub(crate) fn supervise<S: EventStore, B: Backend>(
    mut relay: Relay<S, B>,
    runtime: &tokio::runtime::Runtime,
    stop: tokio::sync::watch::Receiver<bool>,
    health: &Arc<Health>,
) {
    // Reconnecting is cheap, and a relay that waits long after NATS is back only adds lag.
    let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(5));
    loop {
        let started = std::time::Instant::now();
        let mut asked = stop.clone();
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            runtime.block_on(async {
                tokio::select! {
                    _ = asked.wait_for(|stop| *stop) => None,
                    ran = relay.run(health) => Some(ran),
                }
            })
        }));
        let error = match ran {
            Ok(None | Some(Ok(()))) => {
                let _ = relay.backend.release(NAME);
                return;
            }
            Ok(Some(Err(error))) => error.to_string(),
            Err(panic) => format!(
                "the relay panicked: {}",
                crate::projection::panic_message(panic.as_ref())
            ),
        };
        // Free for a healthy instance to take over meanwhile; the lag as it now is.
        let _ = relay.backend.release(NAME);
        if let Ok(checkpoint) = relay.checkpoint() {
            metrics::gauge!("eventsmith_relay_lag")
                .set(relay.store.head().position().saturating_sub(checkpoint) as f64);
        }
        metrics::gauge!("eventsmith_relay_up").set(0.0);
        let pause = backoff.after(started.elapsed());
        metrics::counter!("eventsmith_relay_restarts_total").increment(1);
        tracing::error!(%error, ?pause, "the relay to NATS failed; restarting it from its checkpoint");
        health.set(RunnerState::Down {
            error,
            failures: backoff.failures(),
        });
        let mut asked = stop.clone();
        let stopping = runtime.block_on(async {
            tokio::select! {
                _ = asked.wait_for(|stop| *stop) => true,
                () = tokio::time::sleep(pause) => false,
            }
        });
        if stopping {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_and_the_stream_are_named_by_the_service() {
        let publishing = Publishing {
            url: "nats://127.0.0.1:4222".into(),
            service: "my-shop".into(),
        };
        assert_eq!(publishing.stream(), "MY_SHOP");
        let envelope = Envelope {
            id: uuid::Uuid::nil(),
            source: "urn:eventsmith:shop".into(),
            event_type: "order.placed".into(),
            version: 1,
            stream: "order-1\r\nX: y".into(),
            stream_version: 1,
            position: 1,
            time: time::OffsetDateTime::UNIX_EPOCH,
            data_schema: None,
            data: b"{}".to_vec(),
            metadata: Default::default(),
        };
        assert_eq!(publishing.subject(&envelope), "my-shop.order.placed");
        let message = message(&envelope, Some("before"));
        let headers = format!("{message:?}");
        assert!(headers.contains("before"), "{headers}");
        assert!(headers.contains("NatsMessageId"), "{headers}");
        assert!(headers.contains("ce-type"), "{headers}");
        assert!(
            !headers.contains("ce-subject"),
            "a header with a line break: {headers}"
        );
    }
}
