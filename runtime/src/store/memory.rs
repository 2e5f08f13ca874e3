//! The in-memory backend, for tests: everything in one mutex, nothing durable.

use super::{
    Appended, Direction, Envelope, EventStore, ExpectedVersion, Head, HeadSender, IdempotencyKey,
    NewEvent, Snapshot, StoreError, check_append, record_append, replay_of, satisfies, unix_now,
};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

#[derive(Default)]
struct State {
    /// Every event, in global order (position = index + 1).
    log: Vec<Envelope>,
    /// Each stream's events, as indexes into `log`.
    streams: HashMap<String, Vec<usize>>,
    snapshots: HashMap<String, Snapshot>,
    /// Each key's first append, the request's fingerprint and when (Unix seconds).
    idempotency: HashMap<String, (Appended, String, i64)>,
}

/// An event store in memory.
pub struct InMemoryStore {
    source: std::sync::Arc<str>,
    state: Mutex<State>,
    head: HeadSender,
    key_ttl: i64,
}

impl InMemoryStore {
    /// An empty store whose events name `source` as their CloudEvents source.
    pub fn new(source: impl Into<String>) -> Self {
        Self {
            source: source.into().into(),
            state: Mutex::new(State::default()),
            head: HeadSender::new(0),
            key_ttl: super::DEFAULT_KEY_TTL.as_secs() as i64,
        }
    }

    /// Forgets idempotency keys `ttl` after their first use (default [`super::DEFAULT_KEY_TTL`]).
    pub fn with_key_ttl(mut self, ttl: std::time::Duration) -> Self {
        self.key_ttl = ttl.as_secs().min(i64::MAX as u64) as i64;
        self
    }

    /// The first append with `key`, if it is still remembered.
    fn first_use(
        &self,
        state: &State,
        key: &IdempotencyKey,
    ) -> Result<Option<Appended>, StoreError> {
        let now = unix_now();
        state
            .idempotency
            .get(key.key())
            .filter(|(_, _, created)| created.saturating_add(self.key_ttl) > now)
            .map(|(first, fingerprint, _)| replay_of(key, *first, fingerprint))
            .transpose()
    }

    /// Remembers `key`'s first use, and forgets expired keys each time their number doubles.
    fn remember(&self, state: &mut State, key: &IdempotencyKey, appended: Appended) {
        let now = unix_now();
        let count = state.idempotency.len();
        if count >= 1024 && count.is_power_of_two() {
            let ttl = self.key_ttl;
            state
                .idempotency
                .retain(|_, (_, _, created)| created.saturating_add(ttl) > now);
        }
        let first_use = (appended, key.fingerprint().to_owned(), now);
        state.idempotency.insert(key.key().to_owned(), first_use);
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, State>, StoreError> {
        self.state
            .lock()
            .map_err(|_| StoreError::Backend("a writer panicked while holding the store".into()))
    }

    fn append_now(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        key: Option<&IdempotencyKey>,
    ) -> Result<Appended, StoreError> {
        check_append(stream, &events, key)?;
        let mut state = self.lock()?;
        if let Some(key) = key
            && let Some(first) = self.first_use(&state, key)?
        {
            return Ok(first);
        }
        let actual = state.streams.get(stream).map_or(0, |s| s.len() as u64);
        if !satisfies(expected, actual) {
            return Err(StoreError::Conflict {
                stream: stream.to_owned(),
                expected,
                actual,
            });
        }
        let first_position = state.log.len() as u64 + 1;
        let now = time::OffsetDateTime::now_utc();
        let count = events.len() as u64;
        for (offset, event) in events.into_iter().enumerate() {
            let index = state.log.len();
            state.log.push(Envelope {
                id: uuid::Uuid::now_v7(),
                source: self.source.clone(),
                event_type: event.event_type,
                version: event.version,
                stream: stream.to_owned(),
                stream_version: actual + offset as u64 + 1,
                position: index as u64 + 1,
                time: now,
                data_schema: None,
                data: event.data,
                metadata: event.metadata,
            });
            state
                .streams
                .entry(stream.to_owned())
                .or_default()
                .push(index);
        }
        let appended = Appended {
            first_version: actual + 1,
            last_version: actual + count,
            first_position,
            last_position: first_position + count - 1,
        };
        if let Some(key) = key {
            self.remember(&mut state, key, appended);
        }
        drop(state);
        self.head.publish(appended.last_position);
        Ok(appended)
    }

    fn read_stream_now(
        &self,
        stream: &str,
        from: u64,
        direction: Direction,
        limit: usize,
    ) -> Result<Vec<Envelope>, StoreError> {
        let state = self.lock()?;
        let Some(indexes) = state.streams.get(stream) else {
            return Ok(Vec::new());
        };
        let events = indexes.iter().map(|&i| &state.log[i]);
        Ok(match direction {
            Direction::Forwards => events
                .filter(|e| e.stream_version >= from)
                .take(limit)
                .cloned()
                .collect(),
            Direction::Backwards => events
                .rev()
                .filter(|e| e.stream_version <= from)
                .take(limit)
                .cloned()
                .collect(),
        })
    }

    fn read_all_now(&self, from: u64, limit: usize) -> Result<Vec<Envelope>, StoreError> {
        let state = self.lock()?;
        let start = (from.max(1) - 1) as usize;
        Ok(state.log.iter().skip(start).take(limit).cloned().collect())
    }
}

impl EventStore for InMemoryStore {
    fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        idempotency_key: Option<&IdempotencyKey>,
    ) -> impl Future<Output = Result<Appended, StoreError>> + Send {
        let started = std::time::Instant::now();
        let result = self.append_now(stream, expected, events, idempotency_key);
        record_append(&result, started);
        std::future::ready(result)
    }

    fn read_stream(
        &self,
        stream: &str,
        from: u64,
        direction: Direction,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Envelope>, StoreError>> + Send {
        std::future::ready(self.read_stream_now(stream, from, direction, limit))
    }

    fn read_all(
        &self,
        from: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Envelope>, StoreError>> + Send {
        std::future::ready(self.read_all_now(from, limit))
    }

    fn idempotent_result(
        &self,
        key: &IdempotencyKey,
    ) -> impl Future<Output = Result<Option<Appended>, StoreError>> + Send {
        std::future::ready(self.lock().and_then(|state| self.first_use(&state, key)))
    }

    fn head(&self) -> Head {
        self.head.subscribe()
    }

    fn save_snapshot(
        &self,
        stream: &str,
        version: u64,
        state: Vec<u8>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let result = self.lock().map(|mut s| {
            s.snapshots
                .insert(stream.to_owned(), Snapshot { version, state });
        });
        std::future::ready(result)
    }

    fn load_snapshot(
        &self,
        stream: &str,
    ) -> impl Future<Output = Result<Option<Snapshot>, StoreError>> + Send {
        std::future::ready(self.lock().map(|s| s.snapshots.get(stream).cloned()))
    }
}
