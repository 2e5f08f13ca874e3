//! The aggregate repository: load an aggregate from its latest snapshot plus the events after it,
//! decide a command into events or a rejection, append them at the version it was loaded at,
//! retry on a conflict, and snapshot every N events.
//!
//! With a cache, the latest state of recently used aggregates stays in memory and a command is
//! decided against it without reading its stream: the append's expected version is the check
//! that nobody else moved the stream on (if someone did, the repository reads the new events and
//! decides again). A rejection, a no-op or an `If-Match` mismatch decided from the cache is
//! confirmed against the store before it is returned.

use crate::store::{
    Appended, Direction, EventStore, ExpectedVersion, IdempotencyKey, Metadata, NewEvent,
    StoreError,
};
use crate::{Aggregate, Rejection};

/// An aggregate as loaded: its state (`None` before its first event) and the stream version it
/// reflects (0: no stream).
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded<T> {
    /// The state.
    pub state: Option<T>,
    /// The version of its stream's last event.
    pub version: u64,
}

/// What executing a command did.
pub struct Executed<A: Aggregate> {
    /// The events appended (empty when the command changed nothing).
    pub events: Vec<A::Event>,
    /// The state after them, and the stream's version.
    pub aggregate: Loaded<A::State>,
    /// Where they landed (`None` when there were none).
    pub appended: Option<Appended>,
    /// Why the snapshot due after the append could not be saved, if it could not: the events
    /// are stored all the same (the command succeeded), and the next snapshot tries again.
    pub snapshot_failed: Option<String>,
}

// By hand: aggregates are rarely `Debug` themselves (generated ones are zero-sized markers).
impl<A: Aggregate> std::fmt::Debug for Executed<A>
where
    A::Event: std::fmt::Debug,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executed")
            .field("events", &self.events)
            .field("aggregate", &self.aggregate)
            .field("appended", &self.appended)
            .field("snapshot_failed", &self.snapshot_failed)
            .finish()
    }
}

/// Why a command was not executed.
#[derive(Debug, thiserror::Error)]
pub enum RepositoryError {
    /// The aggregate refused the command.
    #[error("rejected: {0}")]
    Rejected(Rejection),
    /// The stream was not at the version the caller expected, or moved on through every retry.
    #[error("stream `{stream}` is at version {actual}, not {expected}")]
    Conflict {
        /// The stream.
        stream: String,
        /// The version expected.
        expected: u64,
        /// Its version.
        actual: u64,
    },
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
    /// A stored event could not be decoded.
    #[error(transparent)]
    Decode(#[from] crate::DecodeError),
    /// A new event could not be encoded.
    #[error(transparent)]
    Encode(#[from] crate::EncodeError),
    /// A snapshot could not be read or written.
    #[error("snapshot of `{stream}`: {reason}")]
    Snapshot {
        /// The stream.
        stream: String,
        /// What went wrong.
        reason: String,
    },
}

/// How a command is executed.
#[derive(Debug, Clone, Default)]
pub struct Execute {
    /// The version the caller saw (an HTTP `If-Match`): a different one is a conflict, not retried.
    pub expected_version: Option<u64>,
    /// Retrying with the same key appends nothing and returns the first result; the same key
    /// with another request fails with [`StoreError::KeyReused`].
    pub idempotency_key: Option<IdempotencyKey>,
    /// Correlation and causation ids for the events.
    pub metadata: Metadata,
}

/// Loads, decides and appends aggregates of type `A` in a store.
pub struct Repository<S, A: Aggregate> {
    store: S,
    retries: u32,
    snapshot_every: Option<u64>,
    page: usize,
    cache: Option<Cache<A::State>>,
    aggregate: std::marker::PhantomData<fn() -> A>,
}

/// The latest known state of up to `capacity` streams. When full, an arbitrary entry makes room
/// (a hash map's order): cheap, and a miss only costs a read.
struct Cache<T> {
    states: std::sync::Mutex<std::collections::HashMap<String, Loaded<T>>>,
    capacity: usize,
}

impl<T: Clone> Cache<T> {
    fn get(&self, stream: &str) -> Option<Loaded<T>> {
        self.states.lock().ok()?.get(stream).cloned()
    }

    fn take(&self, stream: &str) -> Option<Loaded<T>> {
        self.states.lock().ok()?.remove(stream)
    }

    fn put(&self, stream: &str, loaded: &Loaded<T>) {
        let Ok(mut states) = self.states.lock() else {
            return;
        };
        match states.get_mut(stream) {
            // A concurrent command may have stored a newer state.
            Some(known) if known.version >= loaded.version => {}
            Some(known) => *known = loaded.clone(),
            None => {
                if states.len() >= self.capacity
                    && let Some(evicted) = states.keys().next().cloned()
                {
                    states.remove(&evicted);
                }
                states.insert(stream.to_owned(), loaded.clone());
            }
        }
    }
}

impl<S: EventStore, A: Aggregate> Repository<S, A> {
    /// A repository over `store`: three retries on conflict, no snapshots.
    pub fn new(store: S) -> Self {
        Self {
            store,
            retries: 3,
            snapshot_every: None,
            page: 1_000,
            cache: None,
            aggregate: std::marker::PhantomData,
        }
    }

    /// Keeps the latest state of up to `capacity` aggregates in memory (see the module docs).
    pub fn cache(mut self, capacity: usize) -> Self {
        self.cache = (capacity > 0).then(|| Cache {
            states: Default::default(),
            capacity,
        });
        self
    }

    /// Retries after a conflict with a concurrent writer (default 3).
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// Saves a snapshot each time the stream passes a multiple of `every` events.
    pub fn snapshot_every(mut self, every: u64) -> Self {
        self.snapshot_every = (every > 0).then_some(every);
        self
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The stream of aggregate `id`.
    pub fn stream(id: &str) -> String {
        format!("{}-{id}", A::CATEGORY)
    }

    /// The aggregate `id`: its cached state or latest snapshot, then every later event applied.
    pub async fn load(&self, id: &str) -> Result<Loaded<A::State>, RepositoryError> {
        let stream = Self::stream(id);
        let cached = self.cache.as_ref().and_then(|c| c.get(&stream));
        let mut loaded = match cached {
            Some(cached) => cached,
            None => self.latest_snapshot(&stream).await?,
        };
        loop {
            let events = self
                .store
                .read_stream(&stream, loaded.version + 1, Direction::Forwards, self.page)
                .await
                .map_err(RepositoryError::Store)?;
            let done = events.len() < self.page;
            for envelope in &events {
                A::apply(&mut loaded.state, &envelope.decode::<A::Event>()?);
                loaded.version = envelope.stream_version;
            }
            if done {
                if let Some(cache) = &self.cache {
                    cache.put(&stream, &loaded);
                }
                return Ok(loaded);
            }
        }
    }

    /// The latest snapshot's state, or the initial state. A snapshot of another state schema
    /// (its `STATE_VERSION` differs, or it does not decode) is set aside: the events rebuild the
    /// state, as they would without snapshots.
    async fn latest_snapshot(&self, stream: &str) -> Result<Loaded<A::State>, RepositoryError> {
        let snapshot = self
            .store
            .load_snapshot(stream)
            .await
            .map_err(RepositoryError::Store)?;
        let read = snapshot.and_then(|snapshot| {
            let stored: StoredState<A::State> = serde_json::from_slice(&snapshot.state).ok()?;
            (stored.state_version == A::STATE_VERSION).then_some(Loaded {
                state: stored.state,
                version: snapshot.version,
            })
        });
        Ok(read.unwrap_or(Loaded {
            state: None,
            version: 0,
        }))
    }

    /// Decides `command` against aggregate `id` and appends the events, retrying when another
    /// writer got there first (unless the caller named the version it expects).
    pub async fn execute(
        &self,
        id: &str,
        command: &A::Command,
        options: &Execute,
    ) -> Result<Executed<A>, RepositoryError> {
        let stream = Self::stream(id);
        if let Some(key) = &options.idempotency_key
            && let Some(first) = self
                .store
                .idempotent_result(key)
                .await
                .map_err(RepositoryError::Store)?
        {
            return self.replayed(id, &stream, first).await;
        }
        let mut attempt = 0;
        // Whether the state must be read from the store rather than taken from the cache.
        let mut confirm = false;
        loop {
            let cached = match (&self.cache, confirm) {
                (Some(cache), false) => cache.take(&stream),
                _ => None,
            };
            let from_cache = cached.is_some();
            let mut aggregate = match cached {
                Some(cached) => cached,
                None => self.load(id).await?,
            };
            // Anything but events, decided from the cache, is confirmed against the store.
            if let Some(expected) = options.expected_version
                && expected != aggregate.version
            {
                if from_cache {
                    confirm = true;
                    continue;
                }
                // A keyed retry racing its original finds the stream moved by it.
                if let Some(first) = self.used_meanwhile(options).await? {
                    return self.replayed(id, &stream, first).await;
                }
                return Err(RepositoryError::Conflict {
                    stream,
                    expected,
                    actual: aggregate.version,
                });
            }
            let events = match A::decide(aggregate.state.as_ref(), command) {
                Ok(events) if !(from_cache && events.is_empty()) => events,
                Err(rejection) if !from_cache => {
                    // A retry racing its original can find the original's events already
                    // there, and be refused for them: it gets the original's result instead.
                    if let Some(first) = self.used_meanwhile(options).await? {
                        return self.replayed(id, &stream, first).await;
                    }
                    return Err(RepositoryError::Rejected(rejection));
                }
                _ => {
                    confirm = true;
                    continue;
                }
            };
            if events.is_empty()
                && let Some(first) = self.used_meanwhile(options).await?
            {
                return self.replayed(id, &stream, first).await;
            }
            if events.is_empty() {
                return Ok(Executed {
                    events,
                    aggregate,
                    appended: None,
                    snapshot_failed: None,
                });
            }
            let new_events = events
                .iter()
                .map(|e| NewEvent::encode(e).map(|n| n.with_metadata(options.metadata.clone())))
                .collect::<Result<Vec<_>, _>>()?;
            let expected = match aggregate.version {
                0 => ExpectedVersion::NoStream,
                version => ExpectedVersion::Exact(version),
            };
            let appended = self
                .store
                .append(
                    &stream,
                    expected,
                    new_events,
                    options.idempotency_key.as_ref(),
                )
                .await;
            match appended {
                // The key was used meanwhile (a concurrent retry got there first): what the
                // store holds is that append, not these events.
                Ok(appended)
                    if options.idempotency_key.is_some()
                        && appended.first_version != aggregate.version + 1 =>
                {
                    return self.replayed(id, &stream, appended).await;
                }
                Ok(appended) => {
                    let before = aggregate.version;
                    for event in &events {
                        A::apply(&mut aggregate.state, event);
                    }
                    aggregate.version = appended.last_version;
                    if let Some(cache) = &self.cache {
                        cache.put(&stream, &aggregate);
                    }
                    // The events are stored: from here on nothing fails the command.
                    let snapshot_failed = self
                        .snapshot_if_due(&stream, before, &aggregate)
                        .await
                        .err()
                        .map(|error| error.to_string());
                    return Ok(Executed {
                        events,
                        aggregate,
                        appended: Some(appended),
                        snapshot_failed,
                    });
                }
                // The cached state was behind: read what it missed and decide again.
                Err(StoreError::Conflict { .. }) if from_cache => confirm = true,
                // Someone else appended first: decide again on the newer state.
                Err(StoreError::Conflict { .. })
                    if attempt < self.retries && options.expected_version.is_none() =>
                {
                    attempt += 1;
                }
                Err(StoreError::Conflict { actual, .. }) => {
                    if let Some(first) = self.used_meanwhile(options).await? {
                        return self.replayed(id, &stream, first).await;
                    }
                    return Err(RepositoryError::Conflict {
                        stream,
                        expected: aggregate.version,
                        actual,
                    });
                }
                Err(error) => return Err(RepositoryError::Store(error)),
            }
        }
    }

    /// The result of the append that used the command's idempotency key, if it has one and an
    /// append used it.
    async fn used_meanwhile(&self, options: &Execute) -> Result<Option<Appended>, RepositoryError> {
        let Some(key) = &options.idempotency_key else {
            return Ok(None);
        };
        self.store
            .idempotent_result(key)
            .await
            .map_err(RepositoryError::Store)
    }

    /// What a command whose idempotency key was used before did: its events as stored, and the
    /// aggregate now.
    async fn replayed(
        &self,
        id: &str,
        stream: &str,
        first: Appended,
    ) -> Result<Executed<A>, RepositoryError> {
        let count = (first.last_version + 1 - first.first_version) as usize;
        let stored = self
            .store
            .read_stream(stream, first.first_version, Direction::Forwards, count)
            .await
            .map_err(RepositoryError::Store)?;
        let events = stored
            .iter()
            .map(|e| e.decode::<A::Event>())
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Executed {
            events,
            aggregate: self.load(id).await?,
            appended: Some(first),
            snapshot_failed: None,
        })
    }

    async fn snapshot_if_due(
        &self,
        stream: &str,
        before: u64,
        aggregate: &Loaded<A::State>,
    ) -> Result<(), RepositoryError> {
        let Some(every) = self.snapshot_every else {
            return Ok(());
        };
        if aggregate.version / every == before / every {
            return Ok(());
        }
        let stored = StoredState {
            state_version: A::STATE_VERSION.to_owned(),
            state: aggregate.state.clone(),
        };
        let state = serde_json::to_vec(&stored).map_err(|e| RepositoryError::Snapshot {
            stream: stream.to_owned(),
            reason: e.to_string(),
        })?;
        self.store
            .save_snapshot(stream, aggregate.version, state)
            .await
            .map_err(RepositoryError::Store)
    }
}

/// A snapshot as stored: the state with the fingerprint of the schema it was taken under.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredState<S> {
    state_version: String,
    state: Option<S>,
}
