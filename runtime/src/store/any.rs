//! One of the backends, chosen when the program runs: a generated service picks SQLite or
//! PostgreSQL by its database URL, with one binary.

use super::{
    Appended, Direction, Envelope, EventStore, ExpectedVersion, Head, IdempotencyKey, NewEvent,
    Snapshot, SqliteStore, StoreError,
};

/// An event store of any backend this build has.
pub enum AnyStore {
    /// The embedded SQLite store.
    Sqlite(SqliteStore),
    /// A PostgreSQL database (feature `postgres`).
    #[cfg(feature = "postgres")]
    Postgres(super::PostgresStore),
}

/// Calls the same method on whichever store it is.
macro_rules! each {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            AnyStore::Sqlite($store) => $call.await,
            #[cfg(feature = "postgres")]
            AnyStore::Postgres($store) => $call.await,
        }
    };
}

impl EventStore for AnyStore {
    async fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        idempotency_key: Option<&IdempotencyKey>,
    ) -> Result<Appended, StoreError> {
        each!(self, s => s.append(stream, expected, events, idempotency_key))
    }

    async fn read_stream(
        &self,
        stream: &str,
        from: u64,
        direction: Direction,
        limit: usize,
    ) -> Result<Vec<Envelope>, StoreError> {
        each!(self, s => s.read_stream(stream, from, direction, limit))
    }

    async fn read_all(&self, from: u64, limit: usize) -> Result<Vec<Envelope>, StoreError> {
        each!(self, s => s.read_all(from, limit))
    }

    async fn read_correlated(
        &self,
        correlation_id: &str,
        from: u64,
        limit: usize,
    ) -> Result<Vec<Envelope>, StoreError> {
        each!(self, s => s.read_correlated(correlation_id, from, limit))
    }

    async fn idempotent_result(
        &self,
        key: &IdempotencyKey,
    ) -> Result<Option<Appended>, StoreError> {
        each!(self, s => s.idempotent_result(key))
    }

    fn head(&self) -> Head {
        match self {
            AnyStore::Sqlite(store) => store.head(),
            #[cfg(feature = "postgres")]
            AnyStore::Postgres(store) => store.head(),
        }
    }

    async fn save_snapshot(
        &self,
        stream: &str,
        version: u64,
        state: Vec<u8>,
    ) -> Result<(), StoreError> {
        each!(self, s => s.save_snapshot(stream, version, state))
    }

    async fn load_snapshot(&self, stream: &str) -> Result<Option<Snapshot>, StoreError> {
        each!(self, s => s.load_snapshot(stream))
    }
}
