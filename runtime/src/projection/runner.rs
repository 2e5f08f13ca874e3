//! The projection runner, written once for every read-model [`Backend`]: feeds a store's events,
//! decoded through an [`EventSet`](crate::EventSet) (so older versions are upcast on read, on
//! replay and on dead-letter retry alike), into a read model. The read-model changes of a batch
//! and the checkpoint commit in one transaction, so each event takes effect exactly once, and a
//! restart resumes from the checkpoint. A permanently failing event (a handler that panics
//! included) is retried with backoff, then dead-lettered (event, error, attempts) while the
//! projection moves on; the later events of its stream are parked behind it as dead letters too,
//! so each stream is taken into account in order, while other streams go on. A transiently
//! failing event is retried until it goes through. Dead letters can be listed, retried and
//! skipped: the earliest of a stream first, which releases those parked behind it.

use super::{DeadLetter, HandlerError, Projection, RetryPolicy, Status};
use crate::read_model::{Backend, BackendError, BackendTransaction, RowError, Setup, Transaction};
use crate::store::{Envelope, EventStore, StoreError};
use std::collections::HashSet;

/// Why the runner stopped.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// Reading events failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The read-model database failed.
    #[error("the read model failed: {0}")]
    ReadModel(#[from] BackendError),
    /// Reading rows failed.
    #[error(transparent)]
    Row(#[from] RowError),
    /// A dead letter does not exist (or is no longer open).
    #[error("no open dead letter {0}")]
    NoDeadLetter(i64),
    /// A retried dead letter failed again.
    #[error("the dead letter failed again: {0}")]
    StillFailing(String),
    /// The store holds no event, or another one, where a dead letter's event was: the database
    /// is not the one the read model was fed from, or was restored from an older copy.
    #[error(
        "dead letter {id} is event {position} of stream `{stream}`, which the store does not hold there (another database, or an older copy?)"
    )]
    EventMissing {
        /// The dead letter.
        id: i64,
        /// Its event's global position.
        position: u64,
        /// Its event's stream.
        stream: String,
    },
    /// A dead letter waits behind an earlier one of its stream, which must go first (events of a
    /// stream are taken into account in order).
    #[error(
        "dead letter {id} is parked behind dead letter {behind} of the same stream; retry or skip {behind} first"
    )]
    Parked {
        /// The dead letter asked for.
        id: i64,
        /// The earliest open dead letter of its stream.
        behind: i64,
    },
    /// An event kept failing transiently for longer than the retry policy allows; the
    /// checkpoint stays before it, so the next run starts with it.
    #[error(
        "the projection is stalled at position {position}: the handler has failed transiently for {failing_for:?} ({error}); fix what it waits for and run it again"
    )]
    Stalled {
        /// The event's global position.
        position: u64,
        /// How long it has been failing.
        failing_for: std::time::Duration,
        /// The last failure.
        error: String,
    },
}

/// What resolving a dead letter released: how many events parked behind it went through, and
/// the one that failed (its id and error), which now heads its stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Released {
    /// Parked events applied, in order.
    pub applied: usize,
    /// The parked event that failed, if one did.
    pub failed: Option<(i64, String)>,
}

/// An operator's request to a running runner ([`ProjectionRunner::run_answering`]), with where
/// to send the answer.
#[derive(Debug)]
pub enum Request {
    /// The open dead letters, oldest first.
    DeadLetters(tokio::sync::oneshot::Sender<Result<Vec<DeadLetter>, ProjectionError>>),
    /// Handle dead letter `id` again ([`ProjectionRunner::retry_dead_letter`]).
    Retry(
        i64,
        tokio::sync::oneshot::Sender<Result<Released, ProjectionError>>,
    ),
    /// Give up on dead letter `id` ([`ProjectionRunner::skip_dead_letter`]).
    Skip(
        i64,
        tokio::sync::oneshot::Sender<Result<Released, ProjectionError>>,
    ),
}

impl Request {
    /// Whether whoever sent it stopped waiting for the answer.
    pub fn abandoned(&self) -> bool {
        match self {
            Request::DeadLetters(reply) => reply.is_closed(),
            Request::Retry(_, reply) | Request::Skip(_, reply) => reply.is_closed(),
        }
    }
}

/// The next request, or never when there is no channel (or it closed).
async fn next(requests: &mut Option<&mut tokio::sync::mpsc::Receiver<Request>>) -> Option<Request> {
    match requests {
        Some(receiver) => receiver.recv().await,
        None => None,
    }
}

/// Why [`ProjectionRunner::run_leased`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Asked to stop.
    Stopped,
    /// Another process waits for the projection's lease.
    Yielded,
}

/// Runs projection `P` over store `S`, into the read model of backend `B`.
pub struct ProjectionRunner<S, P, B> {
    store: S,
    model: ReadModel<P, B>,
    batch: usize,
    /// Whether the tables were brought in step since the lease was last taken.
    prepared: bool,
}

/// The projection and its read model: apart from the store, so a page can be read while the
/// previous one is applied.
struct ReadModel<P, B> {
    projection: P,
    backend: B,
    retry: RetryPolicy,
    /// The streams with an open dead letter, whose later events are parked behind it; read from
    /// the backend when `None`.
    parked: Option<HashSet<String>>,
    /// The checkpoint this runner last read or wrote: each commit moves it from there
    /// (compare-and-set), so a batch another runner took meanwhile is not applied twice (the
    /// commit fails, and the next batch starts from where the other left it).
    checkpoint: u64,
    /// Told when an event starts failing transiently (with the error) and when it goes through.
    on_transient: Option<TransientHook>,
}

/// See [`ProjectionRunner::on_transient`].
type TransientHook = std::sync::Arc<dyn Fn(Option<&str>) + Send + Sync>;

#[cfg(feature = "sqlite")]
impl<S: EventStore, P: Projection>
    ProjectionRunner<S, P, crate::read_model::sqlite::SqliteReadModel>
{
    /// A runner whose read model is the SQLite database at `db` (created if needed).
    pub fn open(
        store: S,
        projection: P,
        db: impl AsRef<std::path::Path>,
    ) -> Result<Self, ProjectionError> {
        let backend = crate::read_model::sqlite::SqliteReadModel::open(db)?;
        Self::new(store, projection, backend)
    }
}

impl<S: EventStore, P: Projection, B: Backend> ProjectionRunner<S, P, B> {
    /// A runner over `backend`. When it gets the projection's lease (always, on a backend one
    /// process holds), the projection's tables are brought in step with their row schema, and
    /// when one is new or recreated the projection starts over (its tables emptied, its
    /// checkpoint, open dead letters and lookups dropped), all in one transaction. Without the
    /// lease (another process runs the projection) that waits until [`claim`](Self::claim) or
    /// [`wait_for_lease`](Self::wait_for_lease) gets it.
    pub fn new(store: S, projection: P, backend: B) -> Result<Self, ProjectionError> {
        let mut runner = Self {
            store,
            model: ReadModel {
                projection,
                backend,
                retry: RetryPolicy::default(),
                parked: None,
                checkpoint: 0,
                on_transient: None,
            },
            batch: 500,
            prepared: false,
        };
        if runner.model.backend.claim(P::NAME)? {
            runner.prepare()?;
        }
        Ok(runner)
    }

    /// Brings the tables in step with their row schema (see [`new`](Self::new)).
    fn prepare(&mut self) -> Result<(), ProjectionError> {
        let transaction = self.model.backend.begin(P::NAME)?;
        let mut fresh = false;
        for table in P::TABLES {
            fresh |= matches!(
                transaction.ensure(table)?,
                Setup::Created | Setup::Recreated
            );
        }
        if fresh {
            for table in P::TABLES {
                transaction.clear(table)?;
            }
            transaction.start_over()?;
        }
        transaction.commit()?;
        // The tables may have changed under it (another process held the lease).
        self.model.projection.discard();
        self.prepared = true;
        Ok(())
    }

    /// Events per transaction (default 500).
    pub fn batch(mut self, batch: usize) -> Self {
        self.batch = batch.max(1);
        self
    }

    /// The retry policy (default: 3 attempts, from 100 ms, at most 30 s apart).
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.model.retry = retry;
        self
    }

    /// Calls `hook` with the error when an event starts failing transiently (the runner
    /// retries it meanwhile), and with `None` once it went through: a service reports the
    /// projection as not healthy in between.
    pub fn on_transient(mut self, hook: impl Fn(Option<&str>) + Send + Sync + 'static) -> Self {
        self.model.on_transient = Some(std::sync::Arc::new(hook));
        self
    }

    /// The read model's backend.
    pub fn backend(&self) -> &B {
        &self.model.backend
    }

    /// Runs `read` on a consistent snapshot of the read model: rows through
    /// [`Table::new`](crate::read_model::Table::new), say.
    pub fn read<T>(
        &self,
        read: impl FnOnce(&dyn Transaction) -> Result<T, RowError>,
    ) -> Result<T, ProjectionError> {
        Ok(self.model.backend.read(P::NAME, |_, rows| read(rows))??)
    }

    /// The last position taken into account.
    pub fn position(&self) -> Result<u64, ProjectionError> {
        Ok(self.model.backend.read(P::NAME, |position, _| position)?)
    }

    /// Position, head and lag (also reported as the `eventsmith_projection_lag` gauge).
    pub fn status(&self) -> Result<Status, ProjectionError> {
        let position = self.position()?;
        let head = self.store.head().position();
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
        if !self.prepared {
            self.prepare()?;
        }
        let from = self.position()? + 1;
        self.model.moved_to(from - 1);
        let events = self.store.read_all(from, self.batch).await?;
        self.model
            .take(&events)
            .await
            .inspect_err(|_| self.model.projection.discard())?;
        self.status()?;
        Ok(events.len())
    }

    /// Runs batches until the projection has caught up with the store's head, reading each
    /// page while the previous one is applied.
    pub async fn run_until_caught_up(&mut self) -> Result<Status, ProjectionError> {
        let mut ahead = None;
        loop {
            let from = self.position()? + 1;
            self.model.moved_to(from - 1);
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
            self.model
                .take(&events)
                .await
                .inspect_err(|_| self.model.projection.discard())?;
            self.status()?;
        }
    }

    /// Runs until `stop` resolves, waiting for new events when caught up. Stops between batches,
    /// so the checkpoint always matches the read model.
    pub async fn run(
        &mut self,
        stop: impl std::future::Future<Output = ()>,
    ) -> Result<(), ProjectionError> {
        self.run_leased(stop).await.map(|_| ())
    }

    /// Runs as [`run`](Self::run) does, and also ends, between batches, when another process
    /// waits for the projection's lease ([`Backend::lease_wanted`], asked every second): then
    /// it says [`Ended::Yielded`], and the caller gives up the lease ([`release_lease`](Self::release_lease)).
    pub async fn run_leased(
        &mut self,
        stop: impl std::future::Future<Output = ()>,
    ) -> Result<Ended, ProjectionError> {
        self.run_answering(stop, None).await
    }

    /// Runs as [`run_leased`](Self::run_leased) does, and answers `requests` between batches:
    /// an operator's dead-letter work, done by the runner that holds the lease while it runs.
    pub async fn run_answering(
        &mut self,
        stop: impl std::future::Future<Output = ()>,
        mut requests: Option<&mut tokio::sync::mpsc::Receiver<Request>>,
    ) -> Result<Ended, ProjectionError> {
        const ASK_EVERY: std::time::Duration = std::time::Duration::from_secs(1);
        let mut stop = std::pin::pin!(stop);
        let mut head = self.store.head();
        let mut asked = std::time::Instant::now();
        let wanted = |model: &ReadModel<P, B>| {
            // A database that cannot say shows in the next batch.
            model.backend.lease_wanted(P::NAME).unwrap_or(false)
        };
        loop {
            head.mark_seen();
            // Batch by batch, so a long catch-up still stops when asked. Stopping inside a batch
            // is safe too: each transaction commits its changes with the checkpoint, or not at all.
            loop {
                if asked.elapsed() >= ASK_EVERY {
                    asked = std::time::Instant::now();
                    if wanted(&self.model) {
                        return Ok(Ended::Yielded);
                    }
                }
                // Between batches: a batch is not cut short for a request.
                if let Some(request) = requests.as_mut().and_then(|r| r.try_recv().ok()) {
                    self.answer(request).await;
                    continue;
                }
                tokio::select! {
                    biased;
                    _ = &mut stop => return Ok(Ended::Stopped),
                    taken = self.run_batch() => if taken? == 0 { break },
                }
            }
            self.model.tick()?;
            loop {
                tokio::select! {
                    _ = &mut stop => return Ok(Ended::Stopped),
                    Some(request) = next(&mut requests) => self.answer(request).await,
                    changed = head.changed() => match changed {
                        Ok(()) => break,
                        Err(_) => return Ok(Ended::Stopped),
                    },
                    () = tokio::time::sleep(ASK_EVERY) => {
                        asked = std::time::Instant::now();
                        if wanted(&self.model) {
                            return Ok(Ended::Yielded);
                        }
                        self.model.tick()?;
                    }
                }
            }
        }
    }

    /// Answers an operator's request; one that fails is answered with its error (the runner
    /// goes on).
    async fn answer(&mut self, request: Request) {
        // A requester that gave up waiting was told it failed: its action is not done later.
        if request.abandoned() {
            return;
        }
        match request {
            Request::DeadLetters(reply) => {
                let _ = reply.send(self.dead_letters());
            }
            Request::Retry(id, reply) => {
                let _ = reply.send(self.retry_dead_letter(id).await);
            }
            Request::Skip(id, reply) => {
                let _ = reply.send(self.skip_dead_letter(id).await);
            }
        }
    }

    /// Takes the projection's lease ([`Backend::claim`]): whether it got it. A runner writes
    /// only while it holds the lease, so one process at a time runs the projection. When it
    /// gets it, what the runner remembers of the read model is read afresh: another process
    /// may have resolved dead letters meanwhile.
    pub fn claim(&mut self) -> Result<bool, ProjectionError> {
        let claimed = self.model.backend.claim(P::NAME)?;
        if claimed {
            self.model.parked = None;
            self.prepare()?;
        }
        Ok(claimed)
    }

    /// Waits up to `patience` for the projection's lease, which a running service gives up
    /// between batches: what `replay` and `dlq` do beside a running service on a shared
    /// database. Whether it got it.
    pub fn wait_for_lease(
        &mut self,
        patience: std::time::Duration,
    ) -> Result<bool, ProjectionError> {
        let claimed = self.model.backend.wait_for_lease(P::NAME, patience)?;
        if claimed {
            self.model.parked = None;
            self.prepare()?;
        }
        Ok(claimed)
    }

    /// Gives up the projection's lease.
    pub fn release_lease(&mut self) -> Result<(), ProjectionError> {
        self.prepared = false;
        Ok(self.model.backend.release(P::NAME)?)
    }

    /// Empties the read model and replays every event into it.
    pub async fn rebuild(&mut self) -> Result<Status, ProjectionError> {
        if !self.prepared {
            self.prepare()?;
        }
        // Its dead letters go with it, and so do the streams parked behind them.
        self.model.parked = None;
        let transaction = self.model.backend.begin(P::NAME)?;
        for table in P::TABLES {
            transaction.clear(table)?;
        }
        transaction.start_over()?;
        transaction.commit()?;
        self.model.projection.discard();
        self.run_until_caught_up().await
    }

    /// The open dead letters, oldest first.
    pub fn dead_letters(&self) -> Result<Vec<DeadLetter>, ProjectionError> {
        Ok(self.model.backend.dead_letters(P::NAME)?)
    }

    /// Handles dead letter `id` again, as the store holds the event (decoded afresh, so a fixed
    /// upcaster or handler applies); on success it is closed, on failure its attempts and error
    /// are updated. Then the events of its stream parked behind it are applied in order, up to
    /// the first that fails, which then heads the stream's dead letters. Only the earliest dead
    /// letter of a stream can be retried ([`ProjectionError::Parked`] otherwise).
    pub async fn retry_dead_letter(&mut self, id: i64) -> Result<Released, ProjectionError> {
        let (letter, later) = self.first_of_stream(id)?;
        let envelope = stored(&self.store, &letter).await?;
        // In a block of its own: the transaction (not `Send` on SQLite) is gone before the
        // next `await`, so a runner's future stays `Send`.
        {
            let model = &mut self.model;
            let transaction = model.backend.begin(P::NAME)?;
            match apply(&model.projection, &transaction, &envelope) {
                Ok(()) => {
                    transaction.close_dead_letter(id)?;
                    commit(&model.projection, transaction, &mut model.checkpoint, None)?;
                }
                Err(error) => {
                    drop(transaction);
                    model.projection.discard();
                    // A transient failure says nothing about the event: not an attempt.
                    if !error.is_transient() {
                        model
                            .backend
                            .failed_again(P::NAME, id, &error.to_string())?;
                    }
                    return Err(ProjectionError::StillFailing(error.to_string()));
                }
            }
        }
        self.release_parked(later).await
    }

    /// Gives up on dead letter `id`, the earliest of its stream, then applies the events parked
    /// behind it as [`retry_dead_letter`](Self::retry_dead_letter) does.
    pub async fn skip_dead_letter(&mut self, id: i64) -> Result<Released, ProjectionError> {
        let (_, later) = self.first_of_stream(id)?;
        if !self.model.backend.skip_dead_letter(P::NAME, id)? {
            return Err(ProjectionError::NoDeadLetter(id));
        }
        self.release_parked(later).await
    }

    /// Open dead letter `id`, if it is the earliest of its stream, and the later ones of its
    /// stream in order.
    fn first_of_stream(&self, id: i64) -> Result<(DeadLetter, Vec<DeadLetter>), ProjectionError> {
        let mut letters = self.model.backend.dead_letters(P::NAME)?;
        letters.sort_by_key(|letter| letter.position);
        let index = letters
            .iter()
            .position(|letter| letter.id == id)
            .ok_or(ProjectionError::NoDeadLetter(id))?;
        let letter = letters[index].clone();
        if let Some(first) = letters[..index].iter().find(|l| l.stream == letter.stream) {
            return Err(ProjectionError::Parked {
                id,
                behind: first.id,
            });
        }
        let later = letters[index + 1..]
            .iter()
            .filter(|l| l.stream == letter.stream)
            .cloned()
            .collect();
        Ok((letter, later))
    }

    /// Applies the dead letters `later` (parked behind one just resolved) in order, up to the
    /// first that fails, which then heads its stream: a permanent failure counts as an attempt,
    /// a transient one leaves it as it was.
    async fn release_parked(
        &mut self,
        later: Vec<DeadLetter>,
    ) -> Result<Released, ProjectionError> {
        self.model.parked = None;
        let mut released = Released::default();
        for letter in later {
            // The letter resolved is committed: what stops the release is reported, not raised.
            let envelope = match stored(&self.store, &letter).await {
                Ok(envelope) => envelope,
                Err(error) => {
                    released.failed = Some((letter.id, error.to_string()));
                    break;
                }
            };
            let model = &mut self.model;
            let transaction = model.backend.begin(P::NAME)?;
            match apply(&model.projection, &transaction, &envelope) {
                Ok(()) => {
                    transaction.close_dead_letter(letter.id)?;
                    commit(&model.projection, transaction, &mut model.checkpoint, None)?;
                    released.applied += 1;
                }
                Err(error) => {
                    drop(transaction);
                    model.projection.discard();
                    if !error.is_transient() {
                        model
                            .backend
                            .failed_again(P::NAME, letter.id, &error.to_string())?;
                    }
                    released.failed = Some((letter.id, error.to_string()));
                    break;
                }
            }
        }
        Ok(released)
    }
}

/// The event of dead letter `letter` as `store` holds it, with its id, time and metadata. (It
/// borrows the store alone: a future holding the whole runner would not be `Send` over a
/// SQLite read model.)
async fn stored<S: EventStore>(
    store: &S,
    letter: &DeadLetter,
) -> Result<Envelope, ProjectionError> {
    let page = store.read_all(letter.position, 1).await?;
    page.into_iter()
        .find(|e| {
            e.position == letter.position
                && e.stream == letter.stream
                && e.event_type == letter.event_type
                && e.version == letter.version
        })
        .ok_or_else(|| ProjectionError::EventMissing {
            id: letter.id,
            position: letter.position,
            stream: letter.stream.clone(),
        })
}

impl<P: Projection, B: Backend> ReadModel<P, B> {
    /// Takes the checkpoint read from the database; when another writer moved it (a lost
    /// lease, an operator's `dlq retry`), the projection forgets what it kept in memory.
    fn moved_to(&mut self, checkpoint: u64) {
        if checkpoint != self.checkpoint {
            self.projection.discard();
        }
        self.checkpoint = checkpoint;
    }

    /// Lets the projection do what does not wait for events, when it says it has some, in a
    /// transaction that keeps the checkpoint where it is (and fails if another runner moved it).
    fn tick(&mut self) -> Result<(), ProjectionError> {
        if !self.projection.tick_due() {
            return Ok(());
        }
        let transaction = self.backend.begin(P::NAME)?;
        match self.projection.tick(&transaction) {
            Ok(true) => {
                let at = self.checkpoint;
                commit(
                    &self.projection,
                    transaction,
                    &mut self.checkpoint,
                    Some(at),
                )
            }
            Ok(false) => Ok(()),
            Err(error) => {
                drop(transaction);
                self.projection.discard();
                Err(BackendError {
                    transient: error.is_transient(),
                    message: error.message,
                }
                .into())
            }
        }
    }

    /// Takes `events` into account: committed with the checkpoint, failing ones retried or
    /// dead-lettered.
    async fn take(&mut self, events: &[Envelope]) -> Result<(), ProjectionError> {
        let mut done = 0;
        while done < events.len() {
            match self.apply_all(&events[done..])? {
                None => done = events.len(),
                Some((at, error)) => {
                    done += at;
                    self.retry_or_dead_letter(&events[done], error).await?;
                    done += 1;
                }
            }
        }
        Ok(())
    }

    /// Applies `events` in one transaction with the checkpoint, up to the first failure; returns
    /// its index and error (the events before it are committed). Optimistic: the whole batch runs
    /// without savepoints; on a failure it is rolled back and the events before the failing one
    /// are applied again on their own.
    fn apply_all(
        &mut self,
        events: &[Envelope],
    ) -> Result<Option<(usize, HandlerError)>, ProjectionError> {
        if self.parked.is_none() {
            let letters = self.backend.dead_letters(P::NAME)?;
            self.parked = Some(letters.into_iter().map(|letter| letter.stream).collect());
        }
        let parked = self.parked.as_ref().expect("read above");
        let transaction = self.backend.begin(P::NAME)?;
        let mut parking = 0;
        let mut failed = None;
        for (index, envelope) in events.iter().enumerate() {
            // Behind an open dead letter of its stream: parked as one too, so the stream's
            // events are taken into account in order once it is resolved.
            if parked.contains(&envelope.stream) && self.projection.handles(&envelope.event_type) {
                let why = format!(
                    "parked behind an earlier dead letter of stream `{}`",
                    envelope.stream
                );
                transaction.dead_letter(envelope, &why, 0)?;
                parking += 1;
                continue;
            }
            if let Err(error) = apply(&self.projection, &transaction, envelope) {
                failed = Some((index, error));
                break;
            }
        }
        match failed {
            None => {
                commit(
                    &self.projection,
                    transaction,
                    &mut self.checkpoint,
                    events.last().map(|last| last.position),
                )?;
                if parking > 0 {
                    metrics::counter!("eventsmith_parked_events_total", "projection" => P::NAME)
                        .increment(parking);
                }
                Ok(None)
            }
            Some((0, error)) => {
                drop(transaction);
                self.projection.discard();
                Ok(Some((0, error)))
            }
            Some((index, error)) => {
                drop(transaction);
                self.projection.discard();
                match self.apply_all(&events[..index])? {
                    None => Ok(Some((index, error))),
                    // The handler failed on an event that went through a moment ago.
                    Some(earlier) => Ok(Some(earlier)),
                }
            }
        }
    }

    /// Retries one failing event with backoff until it goes through; a permanent failure is
    /// dead-lettered after the policy's attempts (and the checkpoint moves past it), a transient
    /// one is retried for the policy's `transient_for`, then the runner stops before it.
    async fn retry_or_dead_letter(
        &mut self,
        envelope: &Envelope,
        first: HandlerError,
    ) -> Result<(), ProjectionError> {
        let attempts = self.retry.attempts.max(1);
        let mut wait = self.retry.backoff;
        let mut failures = 0;
        let mut error = first;
        let started = std::time::Instant::now();
        let mut told = false;
        let applied = loop {
            if error.is_transient() {
                metrics::counter!("eventsmith_projection_transient_errors_total", "projection" => P::NAME)
                    .increment(1);
                if let Some(hook) = self.on_transient.as_ref().filter(|_| !told) {
                    hook(Some(&error.to_string()));
                    told = true;
                }
                let failing = started.elapsed();
                if failing >= self.retry.transient_for {
                    // The supervisor (if any) takes over from here: not told it went through.
                    return Err(ProjectionError::Stalled {
                        position: envelope.position,
                        failing_for: failing,
                        error: error.to_string(),
                    });
                }
            } else {
                failures += 1;
                if failures >= attempts {
                    break false;
                }
            }
            tokio::time::sleep(wait).await;
            wait = wait
                .saturating_mul(2)
                .min(self.retry.max_backoff.max(self.retry.backoff));
            let transaction = self.backend.begin(P::NAME)?;
            match apply(&self.projection, &transaction, envelope) {
                Ok(()) => {
                    commit(
                        &self.projection,
                        transaction,
                        &mut self.checkpoint,
                        Some(envelope.position),
                    )?;
                    break true;
                }
                Err(again) => {
                    drop(transaction);
                    self.projection.discard();
                    error = again;
                }
            }
        };
        if told && let Some(hook) = &self.on_transient {
            hook(None);
        }
        if applied {
            return Ok(());
        }
        let transaction = self.backend.begin(P::NAME)?;
        transaction.dead_letter(envelope, &error.to_string(), failures)?;
        commit(
            &self.projection,
            transaction,
            &mut self.checkpoint,
            Some(envelope.position),
        )?;
        // Its stream's later events wait behind it.
        self.parked
            .get_or_insert_with(HashSet::new)
            .insert(envelope.stream.clone());
        metrics::counter!("eventsmith_dead_letters_total", "projection" => P::NAME).increment(1);
        Ok(())
    }
}

/// Writes what the projection kept in memory, moves the checkpoint to `to` (compare-and-set
/// from `checkpoint`, where this runner left it) and commits; if that fails, the projection
/// forgets what it kept, which the database does not hold.
fn commit<P: Projection, T: BackendTransaction>(
    projection: &P,
    transaction: T,
    checkpoint: &mut u64,
    to: Option<u64>,
) -> Result<(), ProjectionError> {
    let finish = || -> Result<(), ProjectionError> {
        projection.flush(&transaction).map_err(|e| BackendError {
            transient: e.is_transient(),
            message: e.message,
        })?;
        if let Some(to) = to {
            transaction.checkpoint(*checkpoint, to)?;
        }
        transaction.commit()?;
        Ok(())
    };
    match finish() {
        Ok(()) => {
            if let Some(to) = to {
                *checkpoint = to;
            }
            projection.committed(*checkpoint);
            Ok(())
        }
        Err(error) => {
            projection.discard();
            Err(error)
        }
    }
}

/// Decodes (upcasting) and handles one event; an event that does not decode is a permanent
/// failure.
fn apply<P: Projection>(
    projection: &P,
    transaction: &dyn Transaction,
    envelope: &Envelope,
) -> Result<(), HandlerError> {
    if !projection.handles(&envelope.event_type) {
        return Ok(());
    }
    let event = envelope
        .decode::<P::Event>()
        .map_err(|e| HandlerError::permanent(e.to_string()))?;
    // A handler that panics fails on this event, as one that returns an error does; the
    // transaction it wrote in is rolled back by the runner.
    let handled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        projection.handle(transaction, &event, envelope)
    }));
    handled.unwrap_or_else(|panic| {
        Err(HandlerError::permanent(format!(
            "the handler panicked: {}",
            super::panic_message(panic.as_ref())
        )))
    })
}
