//! The aggregate repository: load an aggregate from its latest snapshot plus the events after it,
//! decide a command into events or a rejection, append them at the version it was loaded at,
//! retry on a conflict, and snapshot every N events.

use crate::EventSet;
use crate::store::{
    Appended, Direction, EventStore, ExpectedVersion, Metadata, NewEvent, StoreError,
};

/// An aggregate: its state, how events change it, and how commands become events.
pub trait Aggregate:
    Default + serde::Serialize + serde::de::DeserializeOwned + Send + Sync
{
    /// The aggregate's events (its generated `<Aggregate>Event` enum).
    type Event: EventSet + Send + Sync;
    /// The commands it handles.
    type Command: Send + Sync;
    /// Why a command is refused.
    type Rejection: std::fmt::Display + Send;
    /// The stream category: streams are `<category>-<id>`.
    const CATEGORY: &'static str;
    /// The state after `event`.
    fn apply(&mut self, event: &Self::Event);
    /// The events `command` causes, or why it is refused.
    fn decide(&self, command: &Self::Command) -> Result<Vec<Self::Event>, Self::Rejection>;
}

/// An aggregate as loaded: its state and the stream version it reflects (0: no stream).
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded<A> {
    /// The state.
    pub state: A,
    /// The version of its stream's last event.
    pub version: u64,
}

/// What executing a command did.
#[derive(Debug)]
pub struct Executed<A: Aggregate> {
    /// The events appended (empty when the command changed nothing).
    pub events: Vec<A::Event>,
    /// The state after them, and the stream's version.
    pub aggregate: Loaded<A>,
    /// Where they landed (`None` when there were none).
    pub appended: Option<Appended>,
}

/// Why a command was not executed.
#[derive(Debug, thiserror::Error)]
pub enum RepositoryError<R: std::fmt::Display> {
    /// The aggregate refused the command.
    #[error("rejected: {0}")]
    Rejected(R),
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
    /// Retrying with the same key appends nothing and returns the first result.
    pub idempotency_key: Option<String>,
    /// Correlation and causation ids for the events.
    pub metadata: Metadata,
}

/// Loads, decides and appends aggregates of type `A` in a store.
pub struct Repository<S, A> {
    store: S,
    retries: u32,
    snapshot_every: Option<u64>,
    page: usize,
    aggregate: std::marker::PhantomData<fn() -> A>,
}

impl<S: EventStore, A: Aggregate> Repository<S, A> {
    /// A repository over `store`: three retries on conflict, no snapshots.
    pub fn new(store: S) -> Self {
        Self {
            store,
            retries: 3,
            snapshot_every: None,
            page: 1_000,
            aggregate: std::marker::PhantomData,
        }
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

    /// The aggregate `id`: its latest snapshot, then every later event applied.
    pub async fn load(&self, id: &str) -> Result<Loaded<A>, RepositoryError<A::Rejection>> {
        let stream = Self::stream(id);
        let snapshot = self
            .store
            .load_snapshot(&stream)
            .await
            .map_err(RepositoryError::Store)?;
        let mut loaded = match snapshot {
            Some(snapshot) => Loaded {
                state: serde_json::from_slice(&snapshot.state).map_err(|e| {
                    RepositoryError::Snapshot {
                        stream: stream.clone(),
                        reason: e.to_string(),
                    }
                })?,
                version: snapshot.version,
            },
            None => Loaded {
                state: A::default(),
                version: 0,
            },
        };
        loop {
            let events = self
                .store
                .read_stream(&stream, loaded.version + 1, Direction::Forwards, self.page)
                .await
                .map_err(RepositoryError::Store)?;
            let done = events.len() < self.page;
            for envelope in &events {
                loaded.state.apply(&envelope.decode::<A::Event>()?);
                loaded.version = envelope.stream_version;
            }
            if done {
                return Ok(loaded);
            }
        }
    }

    /// Decides `command` against aggregate `id` and appends the events, retrying when another
    /// writer got there first (unless the caller named the version it expects).
    pub async fn execute(
        &self,
        id: &str,
        command: &A::Command,
        options: &Execute,
    ) -> Result<Executed<A>, RepositoryError<A::Rejection>> {
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
        loop {
            let mut aggregate = self.load(id).await?;
            if let Some(expected) = options.expected_version
                && expected != aggregate.version
            {
                return Err(RepositoryError::Conflict {
                    stream,
                    expected,
                    actual: aggregate.version,
                });
            }
            let events = aggregate
                .state
                .decide(command)
                .map_err(RepositoryError::Rejected)?;
            if events.is_empty() {
                return Ok(Executed {
                    events,
                    aggregate,
                    appended: None,
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
                    options.idempotency_key.as_deref(),
                )
                .await;
            match appended {
                Ok(appended) => {
                    let before = aggregate.version;
                    for event in &events {
                        aggregate.state.apply(event);
                    }
                    aggregate.version = appended.last_version;
                    self.snapshot_if_due(&stream, before, &aggregate).await?;
                    return Ok(Executed {
                        events,
                        aggregate,
                        appended: Some(appended),
                    });
                }
                // Someone else appended first: decide again on the newer state.
                Err(StoreError::Conflict { .. })
                    if attempt < self.retries && options.expected_version.is_none() =>
                {
                    attempt += 1;
                }
                Err(StoreError::Conflict { actual, .. }) => {
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

    /// What a command whose idempotency key was used before did: its events as stored, and the
    /// aggregate now.
    async fn replayed(
        &self,
        id: &str,
        stream: &str,
        first: Appended,
    ) -> Result<Executed<A>, RepositoryError<A::Rejection>> {
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
        })
    }

    async fn snapshot_if_due(
        &self,
        stream: &str,
        before: u64,
        aggregate: &Loaded<A>,
    ) -> Result<(), RepositoryError<A::Rejection>> {
        let Some(every) = self.snapshot_every else {
            return Ok(());
        };
        if aggregate.version / every == before / every {
            return Ok(());
        }
        let state =
            serde_json::to_vec(&aggregate.state).map_err(|e| RepositoryError::Snapshot {
                stream: stream.to_owned(),
                reason: e.to_string(),
            })?;
        self.store
            .save_snapshot(stream, aggregate.version, state)
            .await
            .map_err(RepositoryError::Store)
    }
}
