//! The event store contract and its backends. The traits name no backend's types (nor an async
//! runtime's), so every backend implements the same [`EventStore`], and one conformance suite runs
//! against each (runtime/tests/store_conformance.rs): [`InMemoryStore`] always, [`SqliteStore`]
//! with the `sqlite` feature, [`PostgresStore`] with the `postgres` feature; [`AnyStore`] is
//! whichever of them a program chooses when it runs.

#[cfg(feature = "sqlite")]
mod any;
mod envelope;
mod head;
#[cfg(feature = "sqlite")]
pub(crate) mod lock;
mod memory;
#[cfg(feature = "nats")]
mod nats;
#[cfg(feature = "postgres")]
pub(crate) mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;

#[cfg(feature = "sqlite")]
pub use any::AnyStore;
pub use envelope::{Envelope, Metadata, NewEvent};
pub use head::{Changed, Closed, Head, HeadSender};
pub use memory::InMemoryStore;
#[cfg(feature = "nats")]
pub use nats::NatsFeed;
#[cfg(feature = "postgres")]
pub use postgres::{PostgresOptions, PostgresStore};
#[cfg(feature = "sqlite")]
pub use sqlite::{SqliteOptions, SqliteStore};

use std::future::Future;

/// `url` without the password of its user part, for logs and errors.
#[cfg(any(feature = "postgres", feature = "nats"))]
pub(crate) fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((user, place)) if user.contains(':') => {
            let name = user.split(':').next().unwrap_or_default();
            format!("{scheme}://{name}:***@{place}")
        }
        _ => url.to_owned(),
    }
}

/// What the stream must look like for an append to go through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// Whatever it holds.
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream's last event must have this version.
    Exact(u64),
}

/// Where an appended batch landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// The stream version of the batch's first event.
    pub first_version: u64,
    /// The stream version of its last event (the stream's version now).
    pub last_version: u64,
    /// The global position of its first event.
    pub first_position: u64,
    /// The global position of its last event.
    pub last_position: u64,
}

/// How long an idempotency key is remembered unless a store is told otherwise: a day, as the
/// retry windows of HTTP APIs that take such keys go.
pub const DEFAULT_KEY_TTL: std::time::Duration = std::time::Duration::from_secs(24 * 60 * 60);

/// The longest idempotency key a store takes, in bytes.
pub const MAX_KEY_LEN: usize = 1024;

/// A key that makes an append idempotent, bound to the request it was first used for: the same
/// key with another request is [`StoreError::KeyReused`], not a replay of the first.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey {
    key: String,
    fingerprint: String,
}

impl IdempotencyKey {
    /// `key` for the request whose bytes (what it asks and of what, and its body) are `request`.
    pub fn new(key: impl Into<String>, request: &[u8]) -> Self {
        use sha2::Digest;
        use std::fmt::Write;
        let mut fingerprint = String::with_capacity(64);
        for byte in sha2::Sha256::digest(request) {
            let _ = write!(fingerprint, "{byte:02x}");
        }
        Self {
            key: key.into(),
            fingerprint,
        }
    }

    /// The key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The SHA-256 of the request, in hex.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }
}

/// Which way to read a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Oldest first, from the given version up.
    Forwards,
    /// Newest first, from the given version down.
    Backwards,
}

/// A stream's saved state at a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The stream version the state includes.
    pub version: u64,
    /// The serialized state.
    pub state: Vec<u8>,
}

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// Optimistic concurrency: the stream is not at the expected version.
    #[error("stream `{stream}` is at version {actual}, not {expected:?}")]
    Conflict {
        /// The stream.
        stream: String,
        /// What the caller expected.
        expected: ExpectedVersion,
        /// Its version now (0: no stream).
        actual: u64,
    },
    /// The append holds no events.
    #[error("an append needs at least one event")]
    EmptyAppend,
    /// A payload is not JSON.
    #[error("the payload of `{event_type}` is not JSON: {reason}")]
    InvalidPayload {
        /// The event type.
        event_type: String,
        /// The JSON error.
        reason: String,
    },
    /// The stream name is empty.
    #[error("a stream needs a name")]
    InvalidStream,
    /// The idempotency key was first used for another request.
    #[error(
        "idempotency key `{key}` was used for another request; send a new key with a new request"
    )]
    KeyReused {
        /// The key.
        key: String,
    },
    /// The idempotency key is longer than [`MAX_KEY_LEN`] bytes, or holds a NUL byte.
    #[error("an idempotency key is at most {MAX_KEY_LEN} bytes and holds no NUL byte")]
    InvalidKey,
    /// Too many appends are waiting for the writer: try again shortly.
    #[error("the store has too many writes waiting; try again shortly")]
    Overloaded,
    /// Another process holds the database for writing.
    #[error("another process (a running service?) holds {0} for writing; stop it first")]
    Locked(String),
    /// The backend failed (I/O, a corrupt database, …).
    #[error("the store failed: {0}")]
    Backend(String),
}

/// An append-only event store.
pub trait EventStore: Send + Sync {
    /// Appends `events` to `stream` atomically if it is at `expected`. With an idempotency key
    /// already used (and not yet expired), appends nothing and returns the first append's
    /// result, or [`StoreError::KeyReused`] if the first append was for another request.
    fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        idempotency_key: Option<&IdempotencyKey>,
    ) -> impl Future<Output = Result<Appended, StoreError>> + Send;

    /// At most `limit` events of `stream` from version `from` (inclusive) in `direction`.
    fn read_stream(
        &self,
        stream: &str,
        from: u64,
        direction: Direction,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Envelope>, StoreError>> + Send;

    /// At most `limit` events of every stream from global position `from` (inclusive).
    fn read_all(
        &self,
        from: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Envelope>, StoreError>> + Send;

    /// At most `limit` events whose correlation id is `correlation_id`, from global position
    /// `from` (inclusive), by position. The SQLite and PostgreSQL stores answer from an index;
    /// this default reads the whole feed.
    fn read_correlated(
        &self,
        correlation_id: &str,
        from: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Envelope>, StoreError>> + Send {
        async move {
            const PAGE: usize = 1_000;
            let mut found = Vec::new();
            let mut next = from;
            while found.len() < limit {
                let page = self.read_all(next, PAGE).await?;
                let Some(last) = page.last().map(|e| e.position) else {
                    break;
                };
                found.extend(
                    page.into_iter()
                        .filter(|e| e.metadata.correlation_id.as_deref() == Some(correlation_id)),
                );
                next = last + 1;
            }
            found.truncate(limit);
            Ok(found)
        }
    }

    /// The result of the append that first used `key`, if one did and the key has not expired;
    /// [`StoreError::KeyReused`] if that append was for another request.
    fn idempotent_result(
        &self,
        key: &IdempotencyKey,
    ) -> impl Future<Output = Result<Option<Appended>, StoreError>> + Send;

    /// The last global position (0 when empty), watched: told of every later one.
    fn head(&self) -> Head;

    /// Saves `state` as `stream`'s snapshot at `version`.
    fn save_snapshot(
        &self,
        stream: &str,
        version: u64,
        state: Vec<u8>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The latest snapshot of `stream`.
    fn load_snapshot(
        &self,
        stream: &str,
    ) -> impl Future<Output = Result<Option<Snapshot>, StoreError>> + Send;
}

/// Every event from a position on, old ones first, then new ones as they are appended. Catch-up
/// and live are one path (read from the cursor, wait for the head to pass it), so the switch
/// between them can neither skip nor repeat an event. While catching up, the next page is read
/// while the caller works on the current one.
pub struct Subscription<'s, S: EventStore> {
    store: &'s S,
    head: Head,
    next: u64,
    buffer: std::collections::VecDeque<Envelope>,
    batch: usize,
    ahead: Option<Page<'s>>,
}

type Page<'s> =
    std::pin::Pin<Box<dyn Future<Output = Result<Vec<Envelope>, StoreError>> + Send + 's>>;

impl<'s, S: EventStore + Sync> Subscription<'s, S> {
    /// A subscription to `store` from global position `from` (1: everything).
    pub fn new(store: &'s S, from: u64) -> Self {
        Self {
            store,
            head: store.head(),
            next: from.max(1),
            buffer: Default::default(),
            batch: 512,
            ahead: None,
        }
    }

    /// Reads pages of at most `size` events (default 512).
    pub fn batch(mut self, size: usize) -> Self {
        self.batch = size.max(1);
        self
    }

    /// The next event, waiting for one to be appended when caught up.
    pub async fn next(&mut self) -> Result<Envelope, StoreError> {
        loop {
            if let Some(event) = self.buffer.pop_front() {
                return Ok(event);
            }
            self.buffer = self.next_batch().await?.into();
        }
    }

    /// The next events in order (at least one), waiting for one to be appended when caught up.
    pub async fn next_batch(&mut self) -> Result<Vec<Envelope>, StoreError> {
        if !self.buffer.is_empty() {
            return Ok(self.buffer.drain(..).collect());
        }
        loop {
            let (page, fresh) = match self.ahead.take() {
                Some(page) => (page.await?, false),
                None => {
                    // Marked seen before reading, so an append between the read and the wait
                    // still wakes us.
                    self.head.mark_seen();
                    (self.store.read_all(self.next, self.batch).await?, true)
                }
            };
            if let Some(last) = page.last() {
                self.next = last.position + 1;
                if page.len() == self.batch {
                    self.ahead = Some(Box::pin(self.store.read_all(self.next, self.batch)));
                }
                return Ok(page);
            }
            // A page read ahead may predate the head we last saw: read again before waiting.
            if fresh {
                self.head
                    .changed()
                    .await
                    .map_err(|closed| StoreError::Backend(closed.to_string()))?;
            }
        }
    }
}

/// Reports an append through the `metrics` facade (with the `metrics` feature):
/// `eventsmith_appends_total` and `eventsmith_events_appended_total`, `eventsmith_append_seconds`,
/// and `eventsmith_append_conflicts_total`.
#[cfg(not(feature = "metrics"))]
pub(crate) fn record_append(_: &Result<Appended, StoreError>, _: std::time::Instant) {}

/// Reports an append through the `metrics` facade: `eventsmith_appends_total` and
/// `eventsmith_events_appended_total`, `eventsmith_append_seconds`, and
/// `eventsmith_append_conflicts_total`.
#[cfg(feature = "metrics")]
pub(crate) fn record_append(result: &Result<Appended, StoreError>, started: std::time::Instant) {
    match result {
        Ok(appended) => {
            metrics::counter!("eventsmith_appends_total").increment(1);
            metrics::counter!("eventsmith_events_appended_total")
                .increment(appended.last_position + 1 - appended.first_position);
            metrics::histogram!("eventsmith_append_seconds")
                .record(started.elapsed().as_secs_f64());
        }
        Err(StoreError::Conflict { .. }) => {
            metrics::counter!("eventsmith_append_conflicts_total").increment(1);
        }
        Err(_) => {}
    }
}

/// An append handed to a writer (`sent`), once the writer answers on `answer`: recorded with
/// the time since `started`.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) async fn answered(
    sent: Result<(), StoreError>,
    answer: tokio::sync::oneshot::Receiver<Result<Appended, StoreError>>,
    started: std::time::Instant,
) -> Result<Appended, StoreError> {
    sent?;
    let result = answer
        .await
        .map_err(|_| StoreError::Backend("the writer stopped".into()))
        .and_then(|r| r);
    record_append(&result, started);
    result
}

/// Checks a batch before any backend writes it.
pub(crate) fn check_append(
    stream: &str,
    events: &[NewEvent],
    key: Option<&IdempotencyKey>,
) -> Result<(), StoreError> {
    if key.is_some_and(|key| key.key.len() > MAX_KEY_LEN) {
        return Err(StoreError::InvalidKey);
    }
    // NUL bytes: PostgreSQL's text refuses them, so no backend takes them.
    if stream.is_empty() || stream.contains('\0') {
        return Err(StoreError::InvalidStream);
    }
    if key.is_some_and(|key| key.key.contains('\0')) {
        return Err(StoreError::InvalidKey);
    }
    if events.is_empty() {
        return Err(StoreError::EmptyAppend);
    }
    for event in events {
        if event.event_type.contains('\0') {
            return Err(StoreError::InvalidPayload {
                event_type: event.event_type.replace('\0', "\\0"),
                reason: "an event type holds no NUL byte".into(),
            });
        }
        if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&event.data) {
            return Err(StoreError::InvalidPayload {
                event_type: event.event_type.clone(),
                reason: e.to_string(),
            });
        }
    }
    Ok(())
}

/// What a key's first use says about a new one: its result when the request is the same, else
/// [`StoreError::KeyReused`].
pub(crate) fn replay_of(
    key: &IdempotencyKey,
    first: Appended,
    fingerprint: &str,
) -> Result<Appended, StoreError> {
    if fingerprint == key.fingerprint {
        Ok(first)
    } else {
        Err(StoreError::KeyReused {
            key: key.key.clone(),
        })
    }
}

/// Seconds since the Unix epoch, as idempotency keys are dated.
pub(crate) fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Whether a stream at `actual` (0: none) satisfies `expected`.
pub(crate) fn satisfies(expected: ExpectedVersion, actual: u64) -> bool {
    match expected {
        ExpectedVersion::Any => true,
        ExpectedVersion::NoStream => actual == 0,
        ExpectedVersion::Exact(version) => actual == version,
    }
}

/// A shared store is a store.
impl<S: EventStore> EventStore for std::sync::Arc<S> {
    fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        idempotency_key: Option<&IdempotencyKey>,
    ) -> impl Future<Output = Result<Appended, StoreError>> + Send {
        (**self).append(stream, expected, events, idempotency_key)
    }

    fn read_stream(
        &self,
        stream: &str,
        from: u64,
        direction: Direction,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Envelope>, StoreError>> + Send {
        (**self).read_stream(stream, from, direction, limit)
    }

    fn read_all(
        &self,
        from: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Envelope>, StoreError>> + Send {
        (**self).read_all(from, limit)
    }

    fn read_correlated(
        &self,
        correlation_id: &str,
        from: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Envelope>, StoreError>> + Send {
        (**self).read_correlated(correlation_id, from, limit)
    }

    fn idempotent_result(
        &self,
        key: &IdempotencyKey,
    ) -> impl Future<Output = Result<Option<Appended>, StoreError>> + Send {
        (**self).idempotent_result(key)
    }

    fn head(&self) -> Head {
        (**self).head()
    }

    fn save_snapshot(
        &self,
        stream: &str,
        version: u64,
        state: Vec<u8>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).save_snapshot(stream, version, state)
    }

    fn load_snapshot(
        &self,
        stream: &str,
    ) -> impl Future<Output = Result<Option<Snapshot>, StoreError>> + Send {
        (**self).load_snapshot(stream)
    }
}

#[cfg(all(test, any(feature = "postgres", feature = "nats")))]
mod tests {
    #[test]
    fn urls_lose_their_password_in_logs() {
        assert_eq!(
            super::redacted("postgres://root:s3cret@db:5432/shop"),
            "postgres://root:***@db:5432/shop"
        );
        assert_eq!(
            super::redacted("postgres://root@db/shop"),
            "postgres://root@db/shop"
        );
        assert_eq!(
            super::redacted("nats://user:pw@broker:4222"),
            "nats://user:***@broker:4222"
        );
        assert_eq!(
            super::redacted("sqlite://./data/events.db"),
            "sqlite://./data/events.db"
        );
    }
}
