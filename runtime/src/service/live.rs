//! `GET /events/live`: one reader fans the feed out to every client. It reads each new commit
//! from the store once and broadcasts the rendered events; a client first catches up from the
//! store at its own pace, then takes the broadcast. Each client's share of the broadcast is
//! bounded: one that falls that far behind is sent an `overflow` event naming the position to
//! resume from and closed, so it never holds up the others or the shutdown. The number of
//! clients is bounded too (503 beyond). Memory is bounded by bytes as well as events: a large
//! event is broadcast as its position alone (each client reads it from the store), catch-up
//! reads are small pages, and only a few clients read the store at once.

use super::{Problem, Shared};
use crate::store::{Envelope, EventStore, Subscription};
use axum::response::sse::Event;
use std::collections::VecDeque;
use std::sync::{Arc, OnceLock};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast};

/// Events a client may be behind the live broadcast before it is closed.
const CLIENT_BUFFER: usize = 1024;

/// Events read from the store at a time while catching up (few: payloads may be large).
const CATCH_UP_PAGE: usize = 16;

/// The most payload bytes a client keeps read ahead of its socket while catching up (one event
/// at least).
const CATCH_UP_BYTES: usize = 256 * 1024;

/// Clients reading the store at once while catching up: a reconnecting crowd must not take
/// every blocking thread commands load aggregates with.
const CATCH_UP_READERS: usize = 16;

/// Payloads larger than this are broadcast as their position alone, so the broadcast holds at
/// most `CLIENT_BUFFER` times this much.
const BROADCAST_PAYLOAD: usize = 64 * 1024;

/// An event as every client sends it; `None` for a large one, which clients read themselves.
struct Rendered {
    position: u64,
    event: Option<Event>,
}

fn render(envelope: &Envelope) -> Event {
    Event::default()
        .id(envelope.position.to_string())
        .event(envelope.event_type.as_str())
        .data(envelope.to_cloudevent().to_string())
}

/// The shared reader and the client limit.
pub(crate) struct LiveFeed {
    broadcast: OnceLock<broadcast::Sender<Arc<Rendered>>>,
    clients: Arc<Semaphore>,
    limit: usize,
    readers: Semaphore,
}

impl LiveFeed {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            broadcast: OnceLock::new(),
            clients: Arc::new(Semaphore::new(limit)),
            limit,
            readers: Semaphore::new(CATCH_UP_READERS),
        }
    }
}

/// The broadcast, its reader started by the first client.
fn broadcast<S: EventStore + Clone + Sync + 'static>(
    shared: &Arc<Shared<S>>,
) -> &broadcast::Sender<Arc<Rendered>> {
    shared.live.broadcast.get_or_init(|| {
        let (sender, _) = broadcast::channel(CLIENT_BUFFER);
        let store = shared.store.clone();
        let stopping = shared.stopping.subscribe();
        // From the head now, not when the task first runs: a client that found the store
        // empty past this point counts on the broadcast for what comes after.
        let next = store.head().position() + 1;
        tokio::spawn(read_for_everyone(store, next, sender.clone(), stopping));
        sender
    })
}

/// Reads every new event once and broadcasts it, until the service stops.
async fn read_for_everyone<S: EventStore + Sync>(
    store: S,
    mut next: u64,
    sender: broadcast::Sender<Arc<Rendered>>,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let mut subscription = Subscription::new(&store, next).batch(CATCH_UP_PAGE);
        loop {
            let page = tokio::select! {
                page = subscription.next_batch() => page,
                _ = stopping.wait_for(|stop| *stop) => return,
            };
            match page {
                Ok(page) => {
                    for envelope in &page {
                        next = envelope.position + 1;
                        let event = (super::weight(envelope) <= BROADCAST_PAYLOAD)
                            .then(|| render(envelope));
                        // No receiver is fine: nobody listens right now.
                        let _ = sender.send(Arc::new(Rendered {
                            position: envelope.position,
                            event,
                        }));
                    }
                }
                Err(error) => {
                    tracing::error!(%error, "the live feed cannot read the store; trying again in a second");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    break;
                }
            }
        }
    }
}

/// One client's feed.
struct Client<S> {
    shared: Arc<Shared<S>>,
    /// The next position to send.
    next: u64,
    /// Events read from the store, to send first.
    pending: VecDeque<(u64, Event)>,
    /// The broadcast, once caught up (subscribed before the last catch-up read, so nothing
    /// committed in between is missed).
    live: Option<broadcast::Receiver<Arc<Rendered>>>,
    /// Whether the last store read came back empty with `live` subscribed: then the broadcast
    /// carries on from `next`.
    caught_up: bool,
    stopping: tokio::sync::watch::Receiver<bool>,
    done: bool,
    _permit: OwnedSemaphorePermit,
}

/// The feed of a client that saw everything up to `after`.
pub(crate) fn feed<S: EventStore + Clone + Sync + 'static>(
    shared: &Arc<Shared<S>>,
    after: u64,
) -> Result<
    impl futures_util::Stream<Item = Result<Event, std::convert::Infallible>> + use<S>,
    Problem,
> {
    let Ok(permit) = Arc::clone(&shared.live.clients).try_acquire_owned() else {
        metrics::counter!("eventsmith_live_refused_total").increment(1);
        return Err(Problem::unavailable(format!(
            "{} live clients are connected, the most this service takes (--max-live-clients); try again later",
            shared.live.limit
        )));
    };
    // Started here, in the runtime, by the first client.
    broadcast(shared);
    let client = Client {
        shared: Arc::clone(shared),
        next: after.saturating_add(1),
        pending: VecDeque::new(),
        live: None,
        caught_up: false,
        stopping: shared.stopping.subscribe(),
        done: false,
        _permit: permit,
    };
    metrics::gauge!("eventsmith_live_clients").increment(1.0);
    Ok(futures_util::stream::unfold(
        client,
        |mut client| async move {
            let event = client.next_event().await?;
            Some((Ok(event), client))
        },
    ))
}

impl<S> Drop for Client<S> {
    fn drop(&mut self) {
        metrics::gauge!("eventsmith_live_clients").decrement(1.0);
    }
}

impl<S: EventStore + Clone + Sync + 'static> Client<S> {
    /// The next event to send; `None` ends the feed (the service stops, the store failed, or
    /// the client fell too far behind and was told where to resume).
    async fn next_event(&mut self) -> Option<Event> {
        loop {
            if self.done {
                return None;
            }
            if let Some((position, event)) = self.pending.pop_front() {
                self.next = position + 1;
                return Some(event);
            }
            if !self.caught_up {
                self.catch_up().await?;
                continue;
            }
            let live = self.live.as_mut()?;
            let received = tokio::select! {
                received = live.recv() => received,
                _ = self.stopping.wait_for(|stop| *stop) => return None,
            };
            match received {
                // Sent already, from the store.
                Ok(rendered) if rendered.position < self.next => {}
                Ok(rendered) if rendered.position == self.next => match &rendered.event {
                    Some(event) => {
                        self.next += 1;
                        return Some(event.clone());
                    }
                    // Too large to broadcast: this one event from the store, then live on.
                    None => {
                        let page = self.read(1).await?;
                        self.keep(page);
                    }
                },
                // Committed before this client subscribed: the store has them. What the
                // broadcast holds meanwhile is not needed: listen from its end.
                Ok(_) => {
                    self.live = Some(live.resubscribe());
                    self.caught_up = false;
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    metrics::counter!("eventsmith_live_overflows_total").increment(1);
                    self.done = true;
                    let resume = self.next - 1;
                    return Some(
                        Event::default()
                            .event("overflow")
                            .data(serde_json::json!({"resume_after": resume}).to_string()),
                    );
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    /// Reads the next page from the store into `pending`; subscribes to the broadcast when a
    /// read comes back empty, and is caught up when one comes back empty after that.
    async fn catch_up(&mut self) -> Option<()> {
        let page = self.read(CATCH_UP_PAGE).await?;
        if page.is_empty() {
            match &self.live {
                Some(_) => self.caught_up = true,
                None => self.live = Some(broadcast(&self.shared).subscribe()),
            }
        }
        self.keep(page);
        Some(())
    }

    /// Up to `count` events from `next` on; `None` when the service stops or the store fails.
    async fn read(&mut self, count: usize) -> Option<Vec<Envelope>> {
        let page = tokio::select! {
            page = async {
                let _reading = self.shared.live.readers.acquire().await;
                self.shared.store.read_all(self.next, count).await
            } => page,
            _ = self.stopping.wait_for(|stop| *stop) => return None,
        };
        match page {
            Ok(page) => Some(page),
            Err(error) => {
                tracing::error!(%error, "a live feed cannot read the store: closing it");
                None
            }
        }
    }

    /// Keeps the events of `page` to send, up to [`CATCH_UP_BYTES`] (the rest is read again).
    fn keep(&mut self, page: Vec<Envelope>) {
        let mut bytes = 0;
        for envelope in page {
            let weight = super::weight(&envelope);
            if !self.pending.is_empty() && bytes + weight > CATCH_UP_BYTES {
                return;
            }
            bytes += weight;
            self.pending
                .push_back((envelope.position, render(&envelope)));
        }
    }
}
