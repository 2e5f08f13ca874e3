//! A store for tests that wraps another one: it counts stream reads, and fails or hides what a
//! test asks it to (`Faults`), so the repository and the service can be driven into races and
//! failures a real store shows only under load. Clones share the store and the faults.

use eventsmith::store::{
    Appended, Direction, Envelope, EventStore, ExpectedVersion, Head, IdempotencyKey, NewEvent,
    Snapshot, StoreError,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// What the wrapper counts and breaks.
#[derive(Default)]
pub struct Faults {
    /// Stream reads so far.
    pub reads: AtomicUsize,
    /// Reads of the global feed so far.
    pub feed_reads: AtomicUsize,
    /// How many of the next idempotency lookups answer "unknown", as lookups racing a
    /// concurrent retry would.
    pub hide_lookups: AtomicUsize,
    /// Whether saving a snapshot fails.
    pub fail_snapshots: AtomicBool,
    /// Whether reads of the global feed past its first event fail (the projection runner's
    /// reads, not `/readyz`'s probe of the store).
    pub fail_feed: AtomicBool,
}

/// `S` with [`Faults`].
#[derive(Clone)]
pub struct Instrumented<S> {
    pub store: S,
    pub faults: Arc<Faults>,
}

impl<S> Instrumented<S> {
    pub fn new(store: S) -> Self {
        Self {
            store,
            faults: Arc::default(),
        }
    }
}

fn failed(why: &str) -> StoreError {
    StoreError::Backend(why.to_owned())
}

impl<S: EventStore> EventStore for Instrumented<S> {
    fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        key: Option<&IdempotencyKey>,
    ) -> impl Future<Output = Result<Appended, StoreError>> + Send {
        self.store.append(stream, expected, events, key)
    }

    fn read_stream(
        &self,
        stream: &str,
        from: u64,
        direction: Direction,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Envelope>, StoreError>> + Send {
        self.faults.reads.fetch_add(1, Ordering::Relaxed);
        self.store.read_stream(stream, from, direction, limit)
    }

    fn read_all(
        &self,
        from: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Envelope>, StoreError>> + Send {
        self.faults.feed_reads.fetch_add(1, Ordering::SeqCst);
        let fail = from > 1 && self.faults.fail_feed.load(Ordering::SeqCst);
        let read = self.store.read_all(from, limit);
        async move {
            if fail {
                Err(failed("the disk went away"))
            } else {
                read.await
            }
        }
    }

    fn idempotent_result(
        &self,
        key: &IdempotencyKey,
    ) -> impl Future<Output = Result<Option<Appended>, StoreError>> + Send {
        let hide = self
            .faults
            .hide_lookups
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        let found = self.store.idempotent_result(key);
        async move { if hide { Ok(None) } else { found.await } }
    }

    fn head(&self) -> Head {
        self.store.head()
    }

    fn save_snapshot(
        &self,
        stream: &str,
        version: u64,
        state: Vec<u8>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let fail = self.faults.fail_snapshots.load(Ordering::SeqCst);
        let saved = self.store.save_snapshot(stream, version, state);
        async move {
            if fail {
                Err(failed("the disk is full"))
            } else {
                saved.await
            }
        }
    }

    fn load_snapshot(
        &self,
        stream: &str,
    ) -> impl Future<Output = Result<Option<Snapshot>, StoreError>> + Send {
        self.store.load_snapshot(stream)
    }
}
