//! The projection runner: feeds a store's events, decoded through an [`EventSet`] (so older
//! versions are upcast on read, on replay and on dead-letter retry alike), into a read model in
//! a SQLite database. The read-model changes of a batch and the checkpoint commit in one
//! transaction, so each event takes effect exactly once, and a restart resumes from the
//! checkpoint. A failing event is retried with backoff, then dead-lettered (event, error,
//! attempts) while the projection moves on; dead letters can be listed, retried and skipped.
//!
//! The read model is SQLite's (a Postgres read model would come with its own runner); the event
//! source is any [`EventStore`].

use crate::EventSet;
pub use crate::read_model::Setup;
use crate::store::{Envelope, EventStore, StoreError};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;
use std::time::Duration;

/// A read model fed by events.
pub trait Projection: Send + Sync {
    /// The events it reads (a generated event enum; older versions arrive upcast).
    type Event: EventSet;
    /// Its name, which keys its checkpoint and dead letters.
    const NAME: &'static str;
    /// Creates its tables, or brings them up to date; [`Setup::Recreated`] makes the runner replay
    /// every event.
    fn setup(&self, db: &Connection) -> rusqlite::Result<Setup>;
    /// Empties its tables, before a rebuild.
    fn reset(&self, db: &Connection) -> rusqlite::Result<()>;
    /// Whether it takes events of `event_type` into account; others are skipped undecoded.
    fn handles(&self, event_type: &str) -> bool {
        let _ = event_type;
        true
    }
    /// Applies one event to the read model. `db` is inside the runner's transaction (which
    /// also moves the checkpoint): do not begin or commit one.
    fn handle(
        &self,
        db: &Connection,
        event: &Self::Event,
        envelope: &Envelope,
    ) -> Result<(), String>;
}

/// How often and how patiently a failing event is retried before it is dead-lettered.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// The wait before the first retry; it doubles each time.
    pub backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 3,
            backoff: Duration::from_millis(100),
        }
    }
}

/// Where a projection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    /// The last global position it has taken into account.
    pub position: u64,
    /// The store's last position.
    pub head: u64,
    /// Events it has still to take into account.
    pub lag: u64,
}

/// An event the projection could not take into account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// Its id among the dead letters.
    pub id: i64,
    /// The event's global position.
    pub position: u64,
    /// The event's stream.
    pub stream: String,
    /// The event's type.
    pub event_type: String,
    /// The event's stored version.
    pub version: u32,
    /// The last error.
    pub error: String,
    /// Attempts so far.
    pub attempts: u32,
}

/// Why the runner stopped.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// Reading events failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The read-model database failed.
    #[error("the read model failed: {0}")]
    Database(#[from] rusqlite::Error),
    /// A dead letter does not exist (or is no longer open).
    #[error("no open dead letter {0}")]
    NoDeadLetter(i64),
    /// A retried dead letter failed again.
    #[error("the dead letter failed again: {0}")]
    StillFailing(String),
}

const TABLES: &str = "
CREATE TABLE IF NOT EXISTS eventsmith_checkpoints (projection TEXT PRIMARY KEY, position INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS eventsmith_dead_letters (
    id INTEGER PRIMARY KEY,
    projection TEXT NOT NULL,
    position INTEGER NOT NULL,
    stream TEXT NOT NULL,
    event_type TEXT NOT NULL,
    version INTEGER NOT NULL,
    data BLOB NOT NULL,
    error TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'open'
);
";

/// Runs projection `P` over store `S`.
pub struct ProjectionRunner<S, P> {
    store: S,
    model: ReadModel<P>,
    batch: usize,
}

/// The projection and its database: apart from the store, so a page can be read while the
/// previous one is applied.
struct ReadModel<P> {
    projection: P,
    db: Connection,
    retry: RetryPolicy,
}

impl<S: EventStore, P: Projection> ProjectionRunner<S, P> {
    /// A runner whose read model is the SQLite database at `db` (created if needed).
    pub fn open(store: S, projection: P, db: impl AsRef<Path>) -> Result<Self, ProjectionError> {
        let db = Connection::open(db)?;
        // NORMAL, not FULL: a power loss may undo the last batches, but rows and checkpoint
        // together, and the runner then replays them from the store. One fsync per append is the
        // store's; read models need not pay it again.
        db.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000;",
        )?;
        db.execute_batch(TABLES)?;
        // One transaction: a crash cannot leave a new, empty table behind an old checkpoint.
        let mut db = db;
        let transaction = db.transaction()?;
        if matches!(
            projection.setup(&transaction)?,
            Setup::Created | Setup::Recreated
        ) {
            start_over::<P>(&transaction)?;
        }
        transaction.commit()?;
        Ok(Self {
            store,
            model: ReadModel {
                projection,
                db,
                retry: RetryPolicy::default(),
            },
            batch: 500,
        })
    }

    /// Events per transaction (default 500).
    pub fn batch(mut self, batch: usize) -> Self {
        self.batch = batch.max(1);
        self
    }

    /// The retry policy (default: 3 attempts, from 100 ms).
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.model.retry = retry;
        self
    }

    /// The read-model database, for queries.
    pub fn db(&self) -> &Connection {
        &self.model.db
    }

    /// The last position taken into account.
    pub fn position(&self) -> Result<u64, ProjectionError> {
        let position = self
            .model
            .db
            .query_row(
                "SELECT position FROM eventsmith_checkpoints WHERE projection = ?1",
                [P::NAME],
                |r| r.get::<_, i64>(0),
            )
            .optional()?;
        Ok(position.map_or(0, |p| p as u64))
    }

    /// Position, head and lag (also reported as the `eventsmith_projection_lag` gauge).
    pub fn status(&self) -> Result<Status, ProjectionError> {
        let position = self.position()?;
        let head = *self.store.head().borrow();
        let lag = head.saturating_sub(position);
        metrics::gauge!("eventsmith_projection_lag", "projection" => P::NAME).set(lag as f64);
        Ok(Status {
            position,
            head,
            lag,
        })
    }

    /// Takes the next batch into account; returns how many events it covered (0: caught up).
    pub async fn run_batch(&mut self) -> Result<usize, ProjectionError> {
        let from = self.position()? + 1;
        let events = self.store.read_all(from, self.batch).await?;
        self.model.take(&events).await?;
        self.status()?;
        Ok(events.len())
    }

    /// Runs batches until the projection has caught up with the store's head, reading each
    /// page while the previous one is applied.
    pub async fn run_until_caught_up(&mut self) -> Result<Status, ProjectionError> {
        let mut ahead = None;
        loop {
            let from = self.position()? + 1;
            let events = match ahead.take() {
                Some((at, page)) if at == from => page.await?,
                _ => self.store.read_all(from, self.batch).await?,
            };
            let Some(last) = events.last() else {
                return self.status();
            };
            if events.len() == self.batch {
                let after = last.position + 1;
                ahead = Some((after, self.store.read_all(after, self.batch)));
            }
            self.model.take(&events).await?;
            self.status()?;
        }
    }

    /// Runs until `stop` resolves, waiting for new events when caught up. Stops between batches,
    /// so the checkpoint always matches the read model.
    pub async fn run(
        &mut self,
        stop: impl std::future::Future<Output = ()>,
    ) -> Result<(), ProjectionError> {
        let mut stop = std::pin::pin!(stop);
        let mut head = self.store.head();
        loop {
            head.borrow_and_update();
            // Batch by batch, so a long catch-up still stops when asked. Stopping inside a batch
            // is safe too: each transaction commits its changes with the checkpoint, or not at all.
            loop {
                tokio::select! {
                    biased;
                    _ = &mut stop => return Ok(()),
                    taken = self.run_batch() => if taken? == 0 { break },
                }
            }
            tokio::select! {
                _ = &mut stop => return Ok(()),
                changed = head.changed() => if changed.is_err() { return Ok(()) },
            }
        }
    }

    /// Empties the read model and replays every event into it.
    pub async fn rebuild(&mut self) -> Result<Status, ProjectionError> {
        let transaction = self.model.db.transaction()?;
        self.model.projection.reset(&transaction)?;
        start_over::<P>(&transaction)?;
        transaction.commit()?;
        self.run_until_caught_up().await
    }

    /// The open dead letters, oldest first.
    pub fn dead_letters(&self) -> Result<Vec<DeadLetter>, ProjectionError> {
        let mut statement = self.model.db.prepare(
            "SELECT id, position, stream, event_type, version, error, attempts FROM eventsmith_dead_letters
             WHERE projection = ?1 AND status = 'open' ORDER BY id",
        )?;
        let rows = statement.query_map([P::NAME], |r| {
            Ok(DeadLetter {
                id: r.get(0)?,
                position: r.get::<_, i64>(1)? as u64,
                stream: r.get(2)?,
                event_type: r.get(3)?,
                version: r.get(4)?,
                error: r.get(5)?,
                attempts: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Handles dead letter `id` again (decoded afresh, so a fixed upcaster or handler applies);
    /// on success it is closed, on failure its attempts and error are updated.
    pub fn retry_dead_letter(&mut self, id: i64) -> Result<(), ProjectionError> {
        let envelope = self.dead_letter_envelope(id)?;
        let transaction = self.model.db.transaction()?;
        match apply(&self.model.projection, &transaction, &envelope) {
            Ok(()) => {
                transaction.execute(
                    "UPDATE eventsmith_dead_letters SET status = 'retried' WHERE id = ?1",
                    [id],
                )?;
                transaction.commit()?;
                Ok(())
            }
            Err(error) => {
                drop(transaction);
                self.model.db.execute(
                    "UPDATE eventsmith_dead_letters SET attempts = attempts + 1, error = ?2 WHERE id = ?1",
                    params![id, error],
                )?;
                Err(ProjectionError::StillFailing(error))
            }
        }
    }

    /// Gives up on dead letter `id`.
    pub fn skip_dead_letter(&mut self, id: i64) -> Result<(), ProjectionError> {
        let changed = self.model.db.execute(
            "UPDATE eventsmith_dead_letters SET status = 'skipped' WHERE id = ?1 AND projection = ?2 AND status = 'open'",
            params![id, P::NAME],
        )?;
        if changed == 0 {
            return Err(ProjectionError::NoDeadLetter(id));
        }
        Ok(())
    }

    fn dead_letter_envelope(&self, id: i64) -> Result<Envelope, ProjectionError> {
        self.model
            .db
            .query_row(
                "SELECT position, stream, event_type, version, data FROM eventsmith_dead_letters
                 WHERE id = ?1 AND projection = ?2 AND status = 'open'",
                params![id, P::NAME],
                |r| {
                    Ok(Envelope {
                        id: uuid::Uuid::nil(),
                        source: "".into(),
                        position: r.get::<_, i64>(0)? as u64,
                        stream: r.get(1)?,
                        stream_version: 0,
                        event_type: r.get(2)?,
                        version: r.get(3)?,
                        time: time::OffsetDateTime::UNIX_EPOCH,
                        data_schema: None,
                        data: r.get(4)?,
                        metadata: Default::default(),
                    })
                },
            )
            .optional()?
            .ok_or(ProjectionError::NoDeadLetter(id))
    }
}

impl<P: Projection> ReadModel<P> {
    /// Takes `events` into account: committed with the checkpoint, failing ones retried or
    /// dead-lettered.
    async fn take(&mut self, events: &[Envelope]) -> Result<(), ProjectionError> {
        let mut done = 0;
        while done < events.len() {
            match self.apply_all(&events[done..])? {
                None => done = events.len(),
                Some(at) => {
                    done += at;
                    self.retry_or_dead_letter(&events[done]).await?;
                    done += 1;
                }
            }
        }
        Ok(())
    }

    /// Applies `events` in one transaction with the checkpoint, up to the first failure; returns
    /// its index (the events before it are committed). Optimistic: the whole batch runs without
    /// savepoints; on a failure it is rolled back and the events before the failing one are
    /// applied again on their own.
    fn apply_all(&mut self, events: &[Envelope]) -> Result<Option<usize>, ProjectionError> {
        let transaction = self.db.transaction()?;
        let failed = events
            .iter()
            .position(|envelope| apply(&self.projection, &transaction, envelope).is_err());
        match failed {
            None => {
                if let Some(last) = events.last() {
                    checkpoint::<P>(&transaction, last.position)?;
                }
                transaction.commit()?;
                Ok(None)
            }
            Some(0) => Ok(Some(0)),
            Some(index) => {
                drop(transaction);
                match self.apply_all(&events[..index])? {
                    None => Ok(Some(index)),
                    // The handler failed on an event that went through a moment ago.
                    Some(earlier) => Ok(Some(earlier)),
                }
            }
        }
    }

    /// Retries one failing event with backoff; dead-letters it after the last attempt. Either
    /// way the checkpoint moves past it.
    async fn retry_or_dead_letter(&mut self, envelope: &Envelope) -> Result<(), ProjectionError> {
        let mut wait = self.retry.backoff;
        let mut error = String::new();
        for _ in 1..self.retry.attempts.max(1) {
            tokio::time::sleep(wait).await;
            wait *= 2;
            let transaction = self.db.transaction()?;
            match apply(&self.projection, &transaction, envelope) {
                Ok(()) => {
                    checkpoint::<P>(&transaction, envelope.position)?;
                    transaction.commit()?;
                    return Ok(());
                }
                Err(e) => error = e,
            }
        }
        if error.is_empty() {
            // A single attempt was allowed: the failure is the one `apply_all` saw.
            let transaction = self.db.transaction()?;
            error = apply(&self.projection, &transaction, envelope)
                .err()
                .unwrap_or_default();
        }
        let transaction = self.db.transaction()?;
        transaction.execute(
            "INSERT INTO eventsmith_dead_letters (projection, position, stream, event_type, version, data, error, attempts)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                P::NAME,
                envelope.position as i64,
                envelope.stream,
                envelope.event_type,
                envelope.version,
                envelope.data,
                error,
                self.retry.attempts.max(1),
            ],
        )?;
        checkpoint::<P>(&transaction, envelope.position)?;
        transaction.commit()?;
        metrics::counter!("eventsmith_dead_letters_total", "projection" => P::NAME).increment(1);
        Ok(())
    }
}

/// Decodes (upcasting) and handles one event.
fn apply<P: Projection>(
    projection: &P,
    db: &Connection,
    envelope: &Envelope,
) -> Result<(), String> {
    if !projection.handles(&envelope.event_type) {
        return Ok(());
    }
    let event = envelope.decode::<P::Event>().map_err(|e| e.to_string())?;
    projection.handle(db, &event, envelope)
}

/// The read model starts over: so do the checkpoint and the open dead letters.
fn start_over<P: Projection>(db: &Connection) -> rusqlite::Result<()> {
    db.execute(
        "DELETE FROM eventsmith_checkpoints WHERE projection = ?1",
        [P::NAME],
    )?;
    db.execute(
        "DELETE FROM eventsmith_dead_letters WHERE projection = ?1 AND status = 'open'",
        [P::NAME],
    )?;
    Ok(())
}

fn checkpoint<P: Projection>(db: &Connection, position: u64) -> rusqlite::Result<()> {
    db.execute(
        "INSERT INTO eventsmith_checkpoints (projection, position) VALUES (?1, ?2)
         ON CONFLICT (projection) DO UPDATE SET position = ?2",
        params![P::NAME, position as i64],
    )
    .map(|_| ())
}
