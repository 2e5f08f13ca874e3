//! The outbox relay (feature `nats`): publishes every committed event, in the store's global
//! order, to NATS JetStream. The store is the outbox: an event is committed once, in the
//! append's own transaction, and the relay reads the feed from its checkpoint, so nothing is
//! published that was not committed and nothing committed is left out.
//!
//! Each event goes to subject `<service>.<event type>` (`shop.order.placed`), its body the
//! CloudEvents JSON (`content-type: application/cloudevents+json`), its CloudEvents attributes
//! also as `ce-` headers, and `Nats-Msg-Id` its event id, so the server drops a duplicate
//! within the stream's duplicate window. A page of events is published without waiting
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
pub(crate) const NAME: &str = "eventsmith_relay";

/// Acknowledgements awaited at most at once: a page of events.
pub(crate) const IN_FLIGHT: usize = 256;

/// How long the server remembers a message id to drop its duplicates: NATS's default.
pub(crate) const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

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
        self.service
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect()
    }

    /// The subject of `envelope`: `<service>.<event type>`.
    pub fn subject(&self, envelope: &Envelope) -> String {
        format!("{}.{}", self.service, envelope.event_type)
    }
}

/// Why a relay run ended.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RelayError {
    #[error("NATS: {0}")]
    Nats(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
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

/// The message for `envelope`.
pub(crate) fn message(envelope: &Envelope) -> PublishMessage {
    let id = envelope.id.hyphenated().to_string();
    let time = envelope
        .time
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let mut message = PublishMessage::build()
        .payload(envelope.to_cloudevent().to_string().into())
        .header("content-type", "application/cloudevents+json")
        .header("ce-specversion", "1.0")
        .header("ce-id", id.as_str())
        .header("ce-type", envelope.event_type.as_str())
        .header("ce-time", time.as_str())
        .message_id(&id);
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

/// The relay: the store's events from the checkpoint in `backend` to JetStream.
pub(crate) struct Relay<S, B> {
    pub store: S,
    pub backend: B,
    pub publishing: Publishing,
}

impl<S: EventStore, B: Backend> Relay<S, B> {
    /// The last position published and acknowledged.
    fn checkpoint(&self) -> Result<u64, RelayError> {
        Ok(self.backend.read(NAME, |position, _| position)?)
    }

    /// Connects, makes sure the stream exists, then publishes until the store closes or an
    /// error ends the run. `health` says meanwhile whether it runs or stands by.
    async fn run(&mut self, health: &Health) -> Result<(), RelayError> {
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(5))
            .connect(self.publishing.url.as_str())
            .await
            .map_err(nats)?;
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
        while !self.backend.claim(NAME)? {
            if !matches!(health.get(), RunnerState::Standby) {
                tracing::info!("another instance relays the events to NATS; standing by");
                health.set(RunnerState::Standby);
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        health.set(RunnerState::Running);
        tracing::info!(url = %self.publishing.url, stream = %self.publishing.stream(), "relaying events to NATS");
        let mut head = self.store.head();
        loop {
            head.mark_seen();
            let from = self.checkpoint()?;
            let events = self.store.read_all(from + 1, IN_FLIGHT).await?;
            let Some(last) = events.last().map(|e| e.position) else {
                metrics::gauge!("eventsmith_relay_lag").set(0.0);
                tokio::select! {
                    changed = head.changed() => if changed.is_err() { return Ok(()) },
                    // New events of other instances wake the head too; this is a backstop.
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
                continue;
            };
            // Every message sent first, then every acknowledgement awaited.
            let mut acks: Vec<PublishAckFuture> = Vec::with_capacity(events.len());
            for envelope in &events {
                let subject = self.publishing.subject(envelope);
                acks.push(
                    jetstream
                        .send_publish(subject, message(envelope))
                        .await
                        .map_err(nats)?,
                );
            }
            let mut duplicates = 0u64;
            for ack in acks {
                duplicates += u64::from(ack.await.map_err(nats)?.duplicate);
            }
            let transaction = self.backend.begin(NAME)?;
            transaction.checkpoint(from, last)?;
            transaction.commit()?;
            metrics::counter!("eventsmith_relay_published_total")
                .increment(events.len() as u64 - duplicates);
            metrics::counter!("eventsmith_relay_duplicates_total").increment(duplicates);
            metrics::gauge!("eventsmith_relay_lag")
                .set(self.store.head().position().saturating_sub(last) as f64);
        }
    }
}

/// Runs `relay` until the service stops: a failed run (NATS unreachable or restarting, the
/// store or checkpoint failing) starts again from the checkpoint after a pause that doubles up
/// to a minute, and `health` says meanwhile that it is down.
pub(crate) fn supervise<S: EventStore, B: Backend>(
    mut relay: Relay<S, B>,
    runtime: &tokio::runtime::Runtime,
    stop: tokio::sync::watch::Receiver<bool>,
    health: &Arc<Health>,
) {
    let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(60));
    loop {
        let started = std::time::Instant::now();
        let mut asked = stop.clone();
        let ran = runtime.block_on(async {
            tokio::select! {
                _ = asked.wait_for(|stop| *stop) => None,
                ran = relay.run(health) => Some(ran),
            }
        });
        let error = match ran {
            None | Some(Ok(())) => {
                let _ = relay.backend.release(NAME);
                return;
            }
            Some(Err(error)) => error.to_string(),
        };
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
        let message = message(&envelope);
        let headers = format!("{message:?}");
        assert!(headers.contains("Nats-Msg-Id"), "{headers}");
        assert!(headers.contains("ce-type"), "{headers}");
        assert!(
            !headers.contains("ce-subject"),
            "a header with a line break: {headers}"
        );
    }
}
