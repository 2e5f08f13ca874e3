//! The SQLite backend: one database file in WAL mode. One writer thread owns the write connection
//! and commits every append waiting for it in one transaction (group commit): each append still
//! gets its own expected-version check and result, but they share one fsync. When a commit served
//! several writers, the writer waits a moment for them to send again before the next one. Positions are the
//! table's rowids, assigned in commit order by the only writer, so readers never see a later
//! position before an earlier one and there are no gaps.
//!
//! Durability: `synchronous = FULL` in WAL mode syncs the WAL at every commit, and an append is
//! acknowledged only after its commit returns, so an acknowledged event survives a process crash
//! and a power loss. (`NORMAL` would survive a process crash but could lose the last commits on
//! power loss; group commit is what keeps `FULL` fast.)
//!
//! One process writes a database at a time: opening one takes its lock (`store/lock.rs`). The
//! writer's queue is bounded: when it is full an append fails at once with
//! [`StoreError::Overloaded`] rather than waiting without limit. Idempotency keys are dated and
//! bound to their request's fingerprint; the writer forgets expired ones about once a minute.

use super::{
    Appended, Direction, Envelope, EventStore, ExpectedVersion, Head, HeadSender, IdempotencyKey,
    Metadata, NewEvent, Snapshot, StoreError, check_append, replay_of, satisfies, unix_now,
};
use rusqlite::{Connection, OptionalExtension, params};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use tokio::sync::oneshot;

/// Appends the writer commits together at most.
const MAX_GROUP: usize = 512;

/// How long the writer waits for one more concurrent append before it commits.
const QUIET: std::time::Duration = std::time::Duration::from_micros(50);

/// How often the writer forgets expired idempotency keys, and how many at a time at most (so a
/// day's worth of keys never stalls appends for long).
const PRUNE_EVERY: std::time::Duration = std::time::Duration::from_secs(60);
const PRUNE_BATCH: i64 = 10_000;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    position INTEGER PRIMARY KEY,
    id BLOB NOT NULL,
    stream TEXT NOT NULL,
    stream_version INTEGER NOT NULL,
    event_type TEXT NOT NULL,
    version INTEGER NOT NULL,
    time INTEGER NOT NULL,
    data BLOB NOT NULL,
    metadata TEXT,
    UNIQUE (stream, stream_version)
);
CREATE TABLE IF NOT EXISTS snapshots (stream TEXT PRIMARY KEY, version INTEGER NOT NULL, state BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS idempotency (
    key TEXT PRIMARY KEY,
    first_version INTEGER NOT NULL,
    last_version INTEGER NOT NULL,
    first_position INTEGER NOT NULL,
    last_position INTEGER NOT NULL,
    fingerprint TEXT NOT NULL DEFAULT '',
    created INTEGER NOT NULL DEFAULT 0
);
";

/// Brings a database of an earlier release in step: its keys had no fingerprint nor date (they
/// count as expired).
const MIGRATIONS: &[(&str, &str)] = &[
    (
        "fingerprint",
        "ALTER TABLE idempotency ADD COLUMN fingerprint TEXT NOT NULL DEFAULT ''",
    ),
    (
        "created",
        "ALTER TABLE idempotency ADD COLUMN created INTEGER NOT NULL DEFAULT 0",
    ),
];

/// How a [`SqliteStore`] is opened.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    key_ttl: std::time::Duration,
    queue: usize,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            key_ttl: super::DEFAULT_KEY_TTL,
            queue: 4 * MAX_GROUP,
        }
    }
}

impl SqliteOptions {
    /// Forget idempotency keys `ttl` after their first use (default a day).
    pub fn key_ttl(mut self, ttl: std::time::Duration) -> Self {
        self.key_ttl = ttl;
        self
    }

    /// At most `requests` appends and snapshots waiting for the writer (default 2,048); more
    /// fail at once with [`StoreError::Overloaded`].
    pub fn queue(mut self, requests: usize) -> Self {
        self.queue = requests.max(1);
        self
    }
}

enum Request {
    Append {
        stream: String,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        key: Option<IdempotencyKey>,
        reply: oneshot::Sender<Result<Appended, StoreError>>,
    },
    Snapshot {
        stream: String,
        version: u64,
        state: Vec<u8>,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    /// The store is dropped: commit what came before, then end.
    Stop,
}

struct Inner {
    source: Arc<str>,
    path: PathBuf,
    writer: mpsc::SyncSender<Request>,
    readers: Mutex<Vec<Connection>>,
    head: HeadSender,
    /// Seconds an idempotency key is remembered.
    key_ttl: i64,
    /// Joined when the store is dropped, before the lock below is released: no write of this
    /// store happens once another may hold the database.
    writer_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    _lock: super::lock::WriteLock,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let Some(writer) = self.writer_thread.get_mut().ok().and_then(Option::take) else {
            return;
        };
        // Dropped by the writer itself (it held the last reference a moment): it sees the
        // channel close and ends on its own.
        if writer.thread().id() == std::thread::current().id() {
            return;
        }
        if self.writer.send(Request::Stop).is_ok() {
            let _ = writer.join();
        }
    }
}

/// An event store in a SQLite database file. Reads run on tokio's blocking pool, so the store is
/// used from within a tokio runtime; clones share the database, its writer and its readers.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

fn backend(error: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(error.to_string())
}

fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    let connection = Connection::open(path).map_err(backend)?;
    connection
        .execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 10000;",
        )
        .map_err(backend)?;
    // The bundled SQLite has STAT4, which otherwise re-plans a statement each time a parameter
    // compared with an indexed column is bound to a new value: that re-planning was a fifth of
    // the writer's time. Our statements are fixed, so one plan each is what we want.
    connection
        .set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )
        .map_err(backend)?;
    Ok(connection)
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` for writing; events name `source` as
    /// their CloudEvents source. [`StoreError::Locked`] when another process has it open.
    pub fn open(path: impl AsRef<Path>, source: impl Into<String>) -> Result<Self, StoreError> {
        Self::open_with(path, source, SqliteOptions::default())
    }

    /// [`SqliteStore::open`] with `options`.
    pub fn open_with(
        path: impl AsRef<Path>,
        source: impl Into<String>,
        options: SqliteOptions,
    ) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let lock = super::lock::take(&path)?;
        let connection = open_connection(&path)?;
        connection.execute_batch(SCHEMA).map_err(backend)?;
        migrate(&connection)?;
        let head = connection
            .query_row("SELECT COALESCE(MAX(position), 0) FROM events", [], |r| {
                r.get::<_, i64>(0)
            })
            .map_err(backend)? as u64;
        let head = HeadSender::new(head);
        let key_ttl = options.key_ttl.as_secs().min(i64::MAX as u64) as i64;
        let (sender, receiver) = mpsc::sync_channel(options.queue);
        let inner = Arc::new(Inner {
            source: source.into().into(),
            path,
            writer: sender,
            readers: Mutex::new(Vec::new()),
            head,
            key_ttl,
            writer_thread: Mutex::new(None),
            _lock: lock,
        });
        let writer_inner = Arc::downgrade(&inner);
        let writer = std::thread::Builder::new()
            .name("eventsmith-sqlite-writer".into())
            .spawn(move || write_loop(connection, receiver, writer_inner, key_ttl))
            .map_err(backend)?;
        if let Ok(mut thread) = inner.writer_thread.lock() {
            *thread = Some(writer);
        }
        Ok(Self { inner })
    }

    fn send(&self, request: Request) -> Result<(), StoreError> {
        self.inner.writer.try_send(request).map_err(|e| match e {
            mpsc::TrySendError::Full(_) => StoreError::Overloaded,
            mpsc::TrySendError::Disconnected(_) => {
                StoreError::Backend("the writer thread stopped".into())
            }
        })
    }

    /// Runs `read` on a pooled read connection, off the async executor. The read starts now,
    /// not when the future is first polled, so a caller can fetch the next page while it works
    /// on the current one.
    fn read<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Connection, &Arc<str>) -> rusqlite::Result<T> + Send + 'static,
    ) -> impl Future<Output = Result<T, StoreError>> + Send + 'static {
        let inner = Arc::clone(&self.inner);
        let task = tokio::task::spawn_blocking(move || {
            let pooled = inner.readers.lock().map_err(backend)?.pop();
            let connection = match pooled {
                Some(connection) => connection,
                None => open_connection(&inner.path)?,
            };
            let result = read(&connection, &inner.source).map_err(backend);
            if let Ok(mut readers) = inner.readers.lock() {
                readers.push(connection);
            }
            result
        });
        async move { task.await.map_err(backend)? }
    }
}

fn write_loop(
    mut connection: Connection,
    receiver: mpsc::Receiver<Request>,
    inner: std::sync::Weak<Inner>,
    key_ttl: i64,
) {
    let mut last_group = 0;
    let mut last_commit = std::time::Duration::ZERO;
    let mut pruned: Option<std::time::Instant> = None;
    loop {
        // After a full batch, more are due: prune again between the next groups.
        if pruned.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) && !prune_keys(&connection, key_ttl)
        {
            pruned = Some(std::time::Instant::now());
        }
        let first = match receiver.recv_timeout(PRUNE_EVERY) {
            Ok(first) => first,
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        };
        if matches!(first, Request::Stop) {
            return;
        }
        let patience = (last_group > 1).then(|| std::time::Instant::now() + last_commit);
        let group = gather(&receiver, first, patience);
        let stopping = matches!(group.last(), Some(Request::Stop));
        // The store is gone (its lock about to go with it): write nothing more. Whoever still
        // waits for an answer is told.
        if inner.strong_count() == 0 {
            let gone = || StoreError::Backend("the store was dropped".into());
            for request in group.into_iter().chain(receiver.try_iter()) {
                reply(request, Err(gone()));
            }
            return;
        }
        last_group = group.len();
        let committing = std::time::Instant::now();
        let outcome = commit_group(&mut connection, &group, key_ttl);
        last_commit = committing.elapsed();
        match outcome {
            Ok(results) => {
                let last = results
                    .iter()
                    .filter_map(|r| match r {
                        Ok(Some(appended)) => Some(appended.last_position),
                        _ => None,
                    })
                    .max();
                // Not held while replying: a caller that drops the store after its answer
                // releases the database's lock then, not when this thread gets round to it.
                if let Some(last) = last
                    && let Some(inner) = inner.upgrade()
                {
                    inner.head.publish(last);
                }
                for (request, result) in group.into_iter().zip(results) {
                    reply(request, result);
                }
            }
            Err(error) => {
                for request in group {
                    reply(request, Err(error.clone()));
                }
            }
        }
        if stopping {
            return;
        }
    }
}

/// Forgets idempotency keys older than `ttl` seconds, at most `PRUNE_BATCH` of them; whether it
/// forgot that many. A failure only delays pruning: lookups ignore expired keys anyway.
fn prune_keys(connection: &Connection, ttl: i64) -> bool {
    let pruned = connection
        .prepare_cached(
            "DELETE FROM idempotency WHERE key IN
             (SELECT key FROM idempotency WHERE created <= ?1 LIMIT ?2)",
        )
        .and_then(|mut s| s.execute(params![unix_now().saturating_sub(ttl), PRUNE_BATCH]));
    pruned.is_ok_and(|count| count as i64 == PRUNE_BATCH)
}

fn migrate(connection: &Connection) -> Result<(), StoreError> {
    let columns = connection
        .prepare("SELECT name FROM pragma_table_info('idempotency')")
        .and_then(|mut s| {
            s.query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(backend)?;
    for (column, sql) in MIGRATIONS {
        if !columns.iter().any(|c| c == column) {
            connection.execute_batch(sql).map_err(backend)?;
        }
    }
    // A database of an earlier release gets the correlation index when first opened (once).
    connection
        .execute_batch(
            "CREATE INDEX IF NOT EXISTS idempotency_created ON idempotency (created);
             CREATE INDEX IF NOT EXISTS events_correlation ON events (json_extract(metadata, '$.correlation_id'));",
        )
        .map_err(backend)
}

/// The requests to commit together: `first` and everything queued behind it. With `patience`
/// (the last commit served several writers, who are about to send again), it also waits for
/// requests while they keep coming, each within `QUIET`, until that deadline: one full group
/// rather than a second, half-empty one.
fn gather(
    receiver: &mpsc::Receiver<Request>,
    first: Request,
    patience: Option<std::time::Instant>,
) -> Vec<Request> {
    let mut group = vec![first];
    while group.len() < MAX_GROUP {
        if let Ok(request) = receiver.try_recv() {
            let stop = matches!(request, Request::Stop);
            group.push(request);
            if stop {
                break;
            }
            continue;
        }
        let Some(wait) = patience.and_then(|deadline| {
            deadline
                .checked_duration_since(std::time::Instant::now())
                .filter(|left| !left.is_zero())
        }) else {
            break;
        };
        match receiver.recv_timeout(QUIET.min(wait)) {
            Ok(request) => {
                let stop = matches!(request, Request::Stop);
                group.push(request);
                if stop {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    group
}

/// Sends a result: `Some(appended)` for an append, `None` for a snapshot.
fn reply(request: Request, result: Result<Option<Appended>, StoreError>) {
    match request {
        Request::Append { reply, .. } => {
            let _ = reply.send(result.and_then(|a| {
                a.ok_or_else(|| StoreError::Backend("an append without a result".into()))
            }));
        }
        Request::Snapshot { reply, .. } => {
            let _ = reply.send(result.map(|_| ()));
        }
        Request::Stop => {}
    }
}

/// One transaction for the whole group. Optimistic: requests run without savepoints, since a
/// conflict is found before anything is written; if a request fails in the database itself, the
/// group is rolled back and run again with a savepoint per request, so that request's failure
/// leaves the others' writes in place.
fn commit_group(
    connection: &mut Connection,
    group: &[Request],
    key_ttl: i64,
) -> Result<Vec<Result<Option<Appended>, StoreError>>, StoreError> {
    let transaction = connection
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(backend)?;
    let mut results = Vec::with_capacity(group.len());
    for request in group {
        let result = run_request(&transaction, request, key_ttl);
        if matches!(result, Err(StoreError::Backend(_))) {
            drop(transaction);
            return commit_group_with_savepoints(connection, group, key_ttl);
        }
        results.push(result);
    }
    transaction.commit().map_err(backend)?;
    Ok(results)
}

fn commit_group_with_savepoints(
    connection: &mut Connection,
    group: &[Request],
    key_ttl: i64,
) -> Result<Vec<Result<Option<Appended>, StoreError>>, StoreError> {
    let mut transaction = connection
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(backend)?;
    let mut results = Vec::with_capacity(group.len());
    for request in group {
        let savepoint = transaction.savepoint().map_err(backend)?;
        let result = run_request(&savepoint, request, key_ttl);
        if result.is_ok() {
            savepoint.commit().map_err(backend)?;
        }
        // A failed request's savepoint rolls back when dropped.
        results.push(result);
    }
    transaction.commit().map_err(backend)?;
    Ok(results)
}

fn run_request(
    connection: &Connection,
    request: &Request,
    key_ttl: i64,
) -> Result<Option<Appended>, StoreError> {
    match request {
        Request::Append {
            stream,
            expected,
            events,
            key,
            ..
        } => append(connection, stream, *expected, events, key.as_ref(), key_ttl).map(Some),
        Request::Stop => Ok(None),
        Request::Snapshot {
            stream,
            version,
            state,
            ..
        } => connection
            .prepare_cached(
                "INSERT INTO snapshots (stream, version, state) VALUES (?1, ?2, ?3)
                 ON CONFLICT (stream) DO UPDATE SET version = ?2, state = ?3",
            )
            .and_then(|mut s| s.execute(params![stream, *version as i64, state]))
            .map(|_| None)
            .map_err(backend),
    }
}

fn append(
    connection: &Connection,
    stream: &str,
    expected: ExpectedVersion,
    events: &[NewEvent],
    key: Option<&IdempotencyKey>,
    key_ttl: i64,
) -> Result<Appended, StoreError> {
    if let Some(key) = key
        && let Some(first) = idempotent(connection, key, key_ttl)?
    {
        return Ok(first);
    }
    // The last version through the (stream, stream_version) index: one seek, and no second
    // table to keep in step.
    let actual = connection
        .prepare_cached(
            "SELECT stream_version FROM events WHERE stream = ?1 ORDER BY stream_version DESC LIMIT 1",
        )
        .and_then(|mut s| s.query_row([stream], |r| r.get::<_, i64>(0)).optional())
        .map_err(backend)?
        .map_or(0, |v| v as u64);
    if !satisfies(expected, actual) {
        return Err(StoreError::Conflict {
            stream: stream.to_owned(),
            expected,
            actual,
        });
    }
    // Nanoseconds since the epoch: an integer reads back far faster than RFC 3339 text.
    let time = time::OffsetDateTime::now_utc().unix_timestamp_nanos() as i64;
    let mut insert = connection
        .prepare_cached(
            "INSERT INTO events (id, stream, stream_version, event_type, version, time, data, metadata)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .map_err(backend)?;
    let mut first_position = 0;
    let mut last_position = 0;
    for (offset, event) in events.iter().enumerate() {
        let metadata = event.metadata.to_json();
        insert
            .execute(params![
                uuid::Uuid::now_v7().as_bytes().as_slice(),
                stream,
                (actual + offset as u64 + 1) as i64,
                event.event_type,
                event.version,
                time,
                event.data,
                metadata,
            ])
            .map_err(backend)?;
        last_position = connection.last_insert_rowid() as u64;
        if offset == 0 {
            first_position = last_position;
        }
    }
    let appended = Appended {
        first_version: actual + 1,
        last_version: actual + events.len() as u64,
        first_position,
        last_position,
    };
    if let Some(key) = key {
        // An expired key not pruned yet is replaced.
        connection
            .prepare_cached(
                "INSERT OR REPLACE INTO idempotency
                 (key, first_version, last_version, first_position, last_position, fingerprint, created)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    key.key(),
                    appended.first_version as i64,
                    appended.last_version as i64,
                    appended.first_position as i64,
                    appended.last_position as i64,
                    key.fingerprint(),
                    unix_now(),
                ])
            })
            .map_err(backend)?;
    }
    Ok(appended)
}

/// The result of the append that first used `key`, unless it is more than `ttl` seconds old;
/// [`StoreError::KeyReused`] if that append was for another request.
fn idempotent(
    connection: &Connection,
    key: &IdempotencyKey,
    ttl: i64,
) -> Result<Option<Appended>, StoreError> {
    let first = connection
        .prepare_cached(
            "SELECT first_version, last_version, first_position, last_position, fingerprint
             FROM idempotency WHERE key = ?1 AND created > ?2",
        )
        .and_then(|mut s| {
            s.query_row(params![key.key(), unix_now().saturating_sub(ttl)], |r| {
                let appended = Appended {
                    first_version: r.get::<_, i64>(0)? as u64,
                    last_version: r.get::<_, i64>(1)? as u64,
                    first_position: r.get::<_, i64>(2)? as u64,
                    last_position: r.get::<_, i64>(3)? as u64,
                };
                Ok((appended, r.get::<_, String>(4)?))
            })
            .optional()
        })
        .map_err(backend)?;
    first
        .map(|(first, fingerprint)| replay_of(key, first, &fingerprint))
        .transpose()
}

const COLUMNS: &str =
    "position, id, stream, stream_version, event_type, version, time, data, metadata";

fn envelope(row: &rusqlite::Row<'_>, source: &Arc<str>) -> rusqlite::Result<Envelope> {
    let id: [u8; 16] = row.get(1)?;
    let time: i64 = row.get(6)?;
    Ok(Envelope {
        position: row.get::<_, i64>(0)? as u64,
        id: uuid::Uuid::from_bytes(id),
        source: Arc::clone(source),
        stream: row.get(2)?,
        stream_version: row.get::<_, i64>(3)? as u64,
        event_type: row.get(4)?,
        version: row.get(5)?,
        time: time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(time))
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
        data_schema: None,
        data: row.get(7)?,
        metadata: Metadata::from_json(row.get(8)?),
    })
}

fn query(
    connection: &Connection,
    source: &Arc<str>,
    sql: &str,
    params: impl rusqlite::Params,
) -> rusqlite::Result<Vec<Envelope>> {
    let mut statement = connection.prepare_cached(sql)?;
    let rows = statement.query_map(params, |row| envelope(row, source))?;
    rows.collect()
}

impl EventStore for SqliteStore {
    fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        idempotency_key: Option<&IdempotencyKey>,
    ) -> impl Future<Output = Result<Appended, StoreError>> + Send {
        let started = std::time::Instant::now();
        let checked = check_append(stream, &events, idempotency_key);
        let (reply, answer) = oneshot::channel();
        let sent = checked.and_then(|()| {
            self.send(Request::Append {
                stream: stream.to_owned(),
                expected,
                events,
                key: idempotency_key.cloned(),
                reply,
            })
        });
        super::answered(sent, answer, started)
    }

    fn read_stream(
        &self,
        stream: &str,
        from: u64,
        direction: Direction,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Envelope>, StoreError>> + Send {
        let stream = stream.to_owned();
        let from = from.min(i64::MAX as u64) as i64;
        let limit = limit.min(i64::MAX as usize) as i64;
        self.read(move |connection, source| {
            let sql = match direction {
                Direction::Forwards => format!(
                    "SELECT {COLUMNS} FROM events WHERE stream = ?1 AND stream_version >= ?2 ORDER BY stream_version ASC LIMIT ?3"
                ),
                Direction::Backwards => format!(
                    "SELECT {COLUMNS} FROM events WHERE stream = ?1 AND stream_version <= ?2 ORDER BY stream_version DESC LIMIT ?3"
                ),
            };
            query(connection, source, &sql, params![stream, from, limit])
        })
    }

    fn read_all(
        &self,
        from: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Envelope>, StoreError>> + Send {
        let from = from.min(i64::MAX as u64) as i64;
        let limit = limit.min(i64::MAX as usize) as i64;
        self.read(move |connection, source| {
            let sql = format!(
                "SELECT {COLUMNS} FROM events WHERE position >= ?1 ORDER BY position LIMIT ?2"
            );
            query(connection, source, &sql, params![from, limit])
        })
    }

    fn read_correlated(
        &self,
        correlation_id: &str,
        from: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Envelope>, StoreError>> + Send {
        let correlation_id = correlation_id.to_owned();
        let from = from.min(i64::MAX as u64) as i64;
        let limit = limit.min(i64::MAX as usize) as i64;
        self.read(move |connection, source| {
            // The expression of the index `events_correlation`, so the index answers.
            let sql = format!(
                "SELECT {COLUMNS} FROM events WHERE json_extract(metadata, '$.correlation_id') = ?1 AND position >= ?2 ORDER BY position LIMIT ?3"
            );
            query(connection, source, &sql, params![correlation_id, from, limit])
        })
    }

    fn idempotent_result(
        &self,
        key: &IdempotencyKey,
    ) -> impl Future<Output = Result<Option<Appended>, StoreError>> + Send {
        let key = key.clone();
        let ttl = self.inner.key_ttl;
        let task = self.read(move |connection, _| Ok(idempotent(connection, &key, ttl)));
        async move { task.await? }
    }

    fn head(&self) -> Head {
        self.inner.head.subscribe()
    }

    fn save_snapshot(
        &self,
        stream: &str,
        version: u64,
        state: Vec<u8>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let (reply, answer) = oneshot::channel();
        let sent = self.send(Request::Snapshot {
            stream: stream.to_owned(),
            version,
            state,
            reply,
        });
        async move {
            sent?;
            answer
                .await
                .map_err(|_| StoreError::Backend("the writer thread stopped".into()))?
        }
    }

    fn load_snapshot(
        &self,
        stream: &str,
    ) -> impl Future<Output = Result<Option<Snapshot>, StoreError>> + Send {
        let stream = stream.to_owned();
        self.read(move |connection, _| {
            connection
                .query_row(
                    "SELECT version, state FROM snapshots WHERE stream = ?1",
                    [stream],
                    |r| {
                        Ok(Snapshot {
                            version: r.get::<_, i64>(0)? as u64,
                            state: r.get(1)?,
                        })
                    },
                )
                .optional()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_keys_are_pruned_a_batch_at_a_time() {
        let connection = Connection::open_in_memory().unwrap();
        connection.execute_batch(SCHEMA).unwrap();
        let now = unix_now();
        let insert = "INSERT INTO idempotency VALUES (?1, 1, 1, 1, 1, '', ?2)";
        for n in 0..PRUNE_BATCH + 5 {
            connection
                .execute(insert, params![format!("old-{n}"), now - 100])
                .unwrap();
        }
        connection.execute(insert, params!["fresh", now]).unwrap();
        let count = || {
            connection
                .query_row("SELECT COUNT(*) FROM idempotency", [], |r| {
                    r.get::<_, i64>(0)
                })
                .unwrap()
        };
        assert!(prune_keys(&connection, 50), "a full batch: more may be due");
        assert_eq!(count(), 6);
        assert!(!prune_keys(&connection, 50));
        assert_eq!(count(), 1, "the fresh key stays");
    }
}
