//! The PostgreSQL backend, for services that outgrow one machine: several processes may append
//! to one database at once.
//!
//! **A global order readers never skip.** Positions are assigned by the appending transaction
//! itself, as the last position plus one, while it holds a transaction-scoped advisory lock
//! (`pg_advisory_xact_lock`, one key per schema) that it keeps until it commits. PostgreSQL makes
//! a transaction visible before it releases its locks, so the next appender, which can only take
//! the lock after that, assigns higher positions and becomes visible later: a reader never sees a
//! position before every lower one is visible, and a rolled-back transaction leaves no gap (its
//! positions are assigned again). No timeout guesses at gaps, and no horizon to wait for.
//!
//! The lock makes appends one at a time across the database, so each process commits every
//! append waiting for it in one transaction (group commit): one task owns a connection, takes the
//! waiting requests, checks their expected versions and idempotency keys against the database
//! with one query each, and inserts every new event with one `INSERT ... SELECT FROM UNNEST`.
//! The operational cost of the lock: a transaction that holds it (an append whose client
//! stalled mid-commit) holds every other appender; `eventsmith_append_seconds` shows it.
//!
//! **The live feed** wakes on `NOTIFY` (sent in the appending transaction, so only on commit) to
//! every process listening, and polls the last position every second in case a notification was
//! lost to a reconnect.
//!
//! Everything lives in one schema (by default `eventsmith`), created when missing.

use super::{
    Appended, Direction, Envelope, EventStore, ExpectedVersion, Head, HeadSender, IdempotencyKey,
    Metadata, NewEvent, Snapshot, StoreError, check_append, replay_of, satisfies,
};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::NoTls;

/// A statement parameter.
type Param<'a> = dyn tokio_postgres::types::ToSql + Sync + 'a;

/// Appends one transaction commits together at most.
const MAX_GROUP: usize = 512;

/// How long a group's transaction may take before its connection is given up.
const COMMIT_TIMEOUT: Duration = Duration::from_secs(70);

/// How often the last position is read in case a notification was missed.
const POLL_HEAD: Duration = Duration::from_secs(1);

/// How a [`PostgresStore`] connects.
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    schema: String,
    key_ttl: Duration,
    queue: usize,
    connections: usize,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        Self {
            schema: "eventsmith".to_owned(),
            key_ttl: super::DEFAULT_KEY_TTL,
            queue: 4 * MAX_GROUP,
            connections: 8,
        }
    }
}

impl PostgresOptions {
    /// The schema that holds the store's tables (default `eventsmith`): lower-case letters,
    /// digits and `_`, starting with a letter or `_`, at most 63 bytes.
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = schema.into();
        self
    }

    /// Forget idempotency keys `ttl` after their first use (default a day).
    pub fn key_ttl(mut self, ttl: Duration) -> Self {
        self.key_ttl = ttl;
        self
    }

    /// At most `requests` appends waiting for the writer (default 2,048); more fail at once with
    /// [`StoreError::Overloaded`].
    pub fn queue(mut self, requests: usize) -> Self {
        self.queue = requests.max(1);
        self
    }

    /// Pooled connections for reads (default 8), besides the writer's and the listener's.
    pub fn connections(mut self, connections: usize) -> Self {
        self.connections = connections.max(1);
        self
    }
}

struct Append {
    stream: String,
    expected: ExpectedVersion,
    events: Vec<NewEvent>,
    key: Option<IdempotencyKey>,
    reply: oneshot::Sender<Result<Appended, StoreError>>,
}

/// The statements, with the schema's name in them.
struct Sql {
    schema: String,
    lock_key: i64,
    channel: String,
    head: String,
    versions: String,
    keys: String,
    insert_events: String,
    insert_keys: String,
    prune_keys: String,
    read_stream_forwards: String,
    read_stream_backwards: String,
    read_all: String,
    read_correlated: String,
    key: String,
    save_snapshot: String,
    load_snapshot: String,
}

const COLUMNS: &str =
    "position, id, stream, stream_version, event_type, version, time, data, metadata";

impl Sql {
    fn new(schema: &str) -> Self {
        let s = format!("\"{schema}\"");
        // A stable 64-bit key per schema for the advisory lock (FNV-1a: no dependency, and the
        // same in every process and release).
        let lock_key = schema
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
                (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
            }) as i64;
        Self {
            schema: schema.to_owned(),
            lock_key,
            // Channel names are at most 63 bytes: named by the lock key, not the schema.
            channel: format!("eventsmith_{lock_key:016x}"),
            // With the database's clock (nanoseconds): every process dates events and keys alike.
            head: format!(
                "SELECT COALESCE(MAX(position), 0), (EXTRACT(EPOCH FROM clock_timestamp()) * 1e9)::int8 FROM {s}.eventsmith_events"
            ),
            // One index seek per stream (a GROUP BY would read every version of each).
            versions: format!(
                "SELECT s.stream, (SELECT e.stream_version FROM {s}.eventsmith_events e WHERE e.stream = s.stream
                                   ORDER BY e.stream_version DESC LIMIT 1)
                 FROM (SELECT DISTINCT UNNEST($1::text[]) AS stream) s"
            ),
            keys: format!(
                "SELECT key, first_version, last_version, first_position, last_position, fingerprint
                 FROM {s}.eventsmith_idempotency WHERE key = ANY($1) AND created > EXTRACT(EPOCH FROM now())::int8 - $2"
            ),
            insert_events: format!(
                "INSERT INTO {s}.eventsmith_events ({COLUMNS})
                 SELECT * FROM UNNEST($1::int8[], $2::bytea[], $3::text[], $4::int8[], $5::text[], $6::int8[], $7::int8[], $8::bytea[], $9::text[])"
            ),
            insert_keys: format!(
                "INSERT INTO {s}.eventsmith_idempotency (key, first_version, last_version, first_position, last_position, fingerprint, created)
                 SELECT * FROM UNNEST($1::text[], $2::int8[], $3::int8[], $4::int8[], $5::int8[], $6::text[], $7::int8[])
                 ON CONFLICT (key) DO UPDATE SET first_version = EXCLUDED.first_version,
                   last_version = EXCLUDED.last_version, first_position = EXCLUDED.first_position,
                   last_position = EXCLUDED.last_position, fingerprint = EXCLUDED.fingerprint,
                   created = EXCLUDED.created"
            ),
            // `created` checked again outside: a key used again meanwhile stays.
            prune_keys: format!(
                "DELETE FROM {s}.eventsmith_idempotency WHERE created <= EXTRACT(EPOCH FROM now())::int8 - $1 AND key IN
                 (SELECT key FROM {s}.eventsmith_idempotency WHERE created <= EXTRACT(EPOCH FROM now())::int8 - $1 LIMIT 10000)"
            ),
            read_stream_forwards: format!(
                "SELECT {COLUMNS} FROM {s}.eventsmith_events WHERE stream = $1 AND stream_version >= $2 ORDER BY stream_version ASC LIMIT $3"
            ),
            read_stream_backwards: format!(
                "SELECT {COLUMNS} FROM {s}.eventsmith_events WHERE stream = $1 AND stream_version <= $2 ORDER BY stream_version DESC LIMIT $3"
            ),
            read_all: format!(
                "SELECT {COLUMNS} FROM {s}.eventsmith_events WHERE position >= $1 ORDER BY position LIMIT $2"
            ),
            // The expression of the index `eventsmith_events_correlation`, so the index answers.
            read_correlated: format!(
                "SELECT {COLUMNS} FROM {s}.eventsmith_events WHERE (metadata::jsonb ->> 'correlation_id') = $1 AND position >= $2 ORDER BY position LIMIT $3"
            ),
            key: format!(
                "SELECT first_version, last_version, first_position, last_position, fingerprint
                 FROM {s}.eventsmith_idempotency WHERE key = $1 AND created > EXTRACT(EPOCH FROM now())::int8 - $2"
            ),
            save_snapshot: format!(
                "INSERT INTO {s}.eventsmith_snapshots (stream, version, state) VALUES ($1, $2, $3)
                 ON CONFLICT (stream) DO UPDATE SET version = EXCLUDED.version, state = EXCLUDED.state"
            ),
            load_snapshot: format!("SELECT version, state FROM {s}.eventsmith_snapshots WHERE stream = $1"),
        }
    }

    fn create(&self) -> String {
        let s = format!("\"{}\"", self.schema);
        format!(
            "CREATE SCHEMA IF NOT EXISTS {s};
             CREATE TABLE IF NOT EXISTS {s}.eventsmith_events (
                 position BIGINT PRIMARY KEY,
                 id BYTEA NOT NULL,
                 stream TEXT NOT NULL,
                 stream_version BIGINT NOT NULL,
                 event_type TEXT NOT NULL,
                 version BIGINT NOT NULL,
                 time BIGINT NOT NULL,
                 data BYTEA NOT NULL,
                 metadata TEXT,
                 UNIQUE (stream, stream_version)
             );
             CREATE TABLE IF NOT EXISTS {s}.eventsmith_snapshots (stream TEXT PRIMARY KEY, version BIGINT NOT NULL, state BYTEA NOT NULL);
             CREATE TABLE IF NOT EXISTS {s}.eventsmith_idempotency (
                 key TEXT PRIMARY KEY,
                 first_version BIGINT NOT NULL,
                 last_version BIGINT NOT NULL,
                 first_position BIGINT NOT NULL,
                 last_position BIGINT NOT NULL,
                 fingerprint TEXT NOT NULL,
                 created BIGINT NOT NULL
             );
             CREATE INDEX IF NOT EXISTS eventsmith_idempotency_created ON {s}.eventsmith_idempotency (created);
             CREATE INDEX IF NOT EXISTS eventsmith_events_correlation ON {s}.eventsmith_events ((metadata::jsonb ->> 'correlation_id'));"
        )
    }
}

struct Inner {
    source: Arc<str>,
    pool: deadpool_postgres::Pool,
    sql: Arc<Sql>,
    writer: mpsc::Sender<Append>,
    head: HeadSender,
    key_ttl: i64,
}

/// An event store in a PostgreSQL database. Used from within a tokio runtime; clones share the
/// pool, the writer and the live feed.
#[derive(Clone)]
pub struct PostgresStore {
    inner: Arc<Inner>,
}

fn backend(error: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(error.to_string())
}

/// Whether `schema` can name a schema without quoting surprises.
pub(crate) fn valid_schema(schema: &str) -> bool {
    let mut bytes = schema.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'_'))
        && bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_'))
        && schema.len() <= 63
}

impl PostgresStore {
    /// The events one of the store's reads selects: `sql` (prepared once per connection).
    async fn envelopes(
        &self,
        sql: &str,
        params: &[&Param<'_>],
    ) -> Result<Vec<Envelope>, StoreError> {
        let client = self.client().await?;
        let statement = client.prepare_cached(sql).await.map_err(backend)?;
        let rows = client.query(&statement, params).await.map_err(backend)?;
        Ok(rows
            .iter()
            .map(|r| envelope(r, &self.inner.source))
            .collect())
    }

    /// Connects to the database at `url` (`postgres://user@host:port/database`), creating the
    /// schema and its tables when missing; events name `source` as their CloudEvents source.
    pub async fn connect(
        url: &str,
        source: impl Into<String>,
        options: PostgresOptions,
    ) -> Result<Self, StoreError> {
        if !valid_schema(&options.schema) {
            return Err(StoreError::Backend(format!(
                "`{}` cannot name a schema: use lower-case letters, digits and `_`, starting with a letter, at most 63 bytes",
                options.schema
            )));
        }
        let mut config: tokio_postgres::Config = url.parse().map_err(|e| {
            StoreError::Backend(format!(
                "`{}` is not a PostgreSQL URL: {e}",
                super::redacted(url)
            ))
        })?;
        keep_alive(&mut config);
        let unreachable = |e: &dyn std::fmt::Display| {
            StoreError::Backend(format!(
                "cannot connect to PostgreSQL at {}: {e}",
                super::redacted(url)
            ))
        };
        let manager = deadpool_postgres::Manager::from_config(
            config.clone(),
            NoTls,
            deadpool_postgres::ManagerConfig {
                recycling_method: deadpool_postgres::RecyclingMethod::Fast,
            },
        );
        let pool = deadpool_postgres::Pool::builder(manager)
            .max_size(options.connections)
            .build()
            .map_err(backend)?;
        let sql = Arc::new(Sql::new(&options.schema));
        let writer_client = connect(&config).await.map_err(|e| unreachable(&e))?;
        // Created only when missing (so a role without CREATE can use a schema made for it);
        // two processes creating it at once would race: the first one does it.
        let exists = writer_client
            .query_one(
                "SELECT to_regclass($1) IS NOT NULL",
                &[&format!("\"{}\".eventsmith_idempotency", sql.schema)],
            )
            .await
            .map_err(backend)?
            .get::<_, bool>(0);
        if !exists {
            writer_client
                .batch_execute(&format!(
                    "BEGIN; SELECT pg_advisory_xact_lock({}); {} COMMIT;",
                    sql.lock_key,
                    sql.create()
                ))
                .await
                .map_err(backend)?;
        }
        let head = writer_client
            .query_one(sql.head.as_str(), &[])
            .await
            .map_err(backend)?
            .get::<_, i64>(0) as u64;
        let (sender, receiver) = mpsc::channel(options.queue);
        let key_ttl = options.key_ttl.as_secs().min(i64::MAX as u64) as i64;
        let inner = Arc::new(Inner {
            source: source.into().into(),
            pool,
            sql: Arc::clone(&sql),
            writer: sender,
            head: HeadSender::new(head),
            key_ttl,
        });
        tokio::spawn(write_loop(
            writer_client,
            config.clone(),
            receiver,
            Arc::downgrade(&inner),
            Arc::clone(&sql),
            key_ttl,
        ));
        tokio::spawn(listen(config, Arc::downgrade(&inner), sql));
        Ok(Self { inner })
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.inner.pool.get().await.map_err(backend)
    }
}

async fn connect(
    config: &tokio_postgres::Config,
) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    // An acknowledged append must be durable whatever the server's default; a session that
    // stalls must not hold the append lock for long.
    client
        .batch_execute(&format!(
            "SET synchronous_commit = on; SET default_transaction_isolation = 'read committed';
             SET idle_in_transaction_session_timeout = '60s'; SET lock_timeout = '30s';
             SET statement_timeout = '60s'; {SERVER_KEEPALIVE}"
        ))
        .await?;
    Ok(client)
}

/// Client-side TCP keepalives and timeouts: a connection to a server that vanished (a host
/// crash, a network split) fails within about half a minute instead of hanging.
pub(crate) fn keep_alive(config: &mut tokio_postgres::Config) {
    config
        .connect_timeout(Duration::from_secs(10))
        .keepalives(true)
        .keepalives_idle(Duration::from_secs(10))
        .keepalives_interval(Duration::from_secs(5))
        .keepalives_retries(3)
        .tcp_user_timeout(Duration::from_secs(30));
}

/// The same on the server's side of a session: when a client host dies without closing its
/// connections, the server ends its sessions (and frees the advisory locks they hold: a
/// projection's lease) within about half a minute, not the system's two hours.
pub(crate) const SERVER_KEEPALIVE: &str = "SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3; SET tcp_user_timeout = 30000;";

/// The writer's statements, prepared once per connection.
struct Prepared {
    lock: tokio_postgres::Statement,
    head: tokio_postgres::Statement,
    versions: tokio_postgres::Statement,
    keys: tokio_postgres::Statement,
    insert_events: tokio_postgres::Statement,
    insert_keys: tokio_postgres::Statement,
    notify: tokio_postgres::Statement,
}

impl Prepared {
    async fn on(client: &tokio_postgres::Client, sql: &Sql) -> Result<Self, tokio_postgres::Error> {
        let (lock, head, versions, keys, insert_events, insert_keys, notify) = tokio::try_join!(
            client.prepare("SELECT pg_advisory_xact_lock($1)"),
            client.prepare(&sql.head),
            client.prepare(&sql.versions),
            client.prepare(&sql.keys),
            client.prepare(&sql.insert_events),
            client.prepare(&sql.insert_keys),
            client.prepare("SELECT pg_notify($1, $2)"),
        )?;
        Ok(Self {
            lock,
            head,
            versions,
            keys,
            insert_events,
            insert_keys,
            notify,
        })
    }
}

/// Commits appends in groups, until the store is dropped. A broken connection is opened again
/// before the next group.
async fn write_loop(
    client: tokio_postgres::Client,
    config: tokio_postgres::Config,
    mut receiver: mpsc::Receiver<Append>,
    inner: Weak<Inner>,
    sql: Arc<Sql>,
    key_ttl: i64,
) {
    let mut connection: Option<(tokio_postgres::Client, Prepared)> =
        match Prepared::on(&client, &sql).await {
            Ok(prepared) => Some((client, prepared)),
            Err(_) => None,
        };
    let mut pruned: Option<std::time::Instant> = None;
    let mut last_group = 0;
    while let Some(first) = receiver.recv().await {
        let group = gather(&mut receiver, first, last_group).await;
        last_group = group.len();
        if connection
            .as_ref()
            .is_none_or(|(client, _)| client.is_closed())
        {
            connection = match connect(&config).await {
                Ok(client) => match Prepared::on(&client, &sql).await {
                    Ok(prepared) => Some((client, prepared)),
                    Err(_) => None,
                },
                Err(_) => None,
            };
        }
        let Some((client, prepared)) = &connection else {
            let error = StoreError::Backend("cannot reach PostgreSQL".into());
            for append in group {
                let _ = append.reply.send(Err(error.clone()));
            }
            continue;
        };
        // A backstop beside the session's own timeouts: a connection that went silent
        // (half-open) is dropped rather than waited for.
        let committed = tokio::time::timeout(
            COMMIT_TIMEOUT,
            commit_group(client, prepared, &sql, &group, key_ttl),
        )
        .await;
        let mut silent = false;
        let results = match committed {
            Ok(Ok(results)) => results,
            Ok(Err(error)) => {
                let _ = client.batch_execute("ROLLBACK").await;
                vec![Err(backend(error)); group.len()]
            }
            Err(_) => {
                silent = true;
                let error = StoreError::Backend(format!(
                    "PostgreSQL did not answer within {COMMIT_TIMEOUT:?}: these events may or may not be stored (retry with the same idempotency key)"
                ));
                vec![Err(error); group.len()]
            }
        };
        let last = results
            .iter()
            .filter_map(|r| r.as_ref().ok().map(|a| a.last_position))
            .max();
        if let Some(last) = last
            && let Some(inner) = inner.upgrade()
        {
            inner.head.publish(last);
        }
        for (append, result) in group.into_iter().zip(results) {
            let _ = append.reply.send(result);
        }
        if silent {
            connection = None;
        } else if pruned.is_none_or(|at| at.elapsed() >= Duration::from_secs(60)) {
            let _ = client.execute(sql.prune_keys.as_str(), &[&key_ttl]).await;
            pruned = Some(std::time::Instant::now());
        }
    }
}

/// `first` and what is queued behind it. After a group of `last` (writers just answered, about
/// to send again), it lets the other tasks run while more keep coming, up to `last` and for at
/// most a millisecond: one full group rather than a second, half-empty one.
async fn gather(receiver: &mut mpsc::Receiver<Append>, first: Append, last: usize) -> Vec<Append> {
    let mut group = vec![first];
    let started = std::time::Instant::now();
    let mut idle = 0;
    while group.len() < MAX_GROUP {
        match receiver.try_recv() {
            Ok(append) => {
                group.push(append);
                idle = 0;
            }
            Err(_)
                if group.len() < last
                    && idle < 16
                    && started.elapsed() < Duration::from_millis(1) =>
            {
                idle += 1;
                tokio::task::yield_now().await;
            }
            Err(_) => break,
        }
    }
    group
}

/// One transaction for the group, under the schema's append lock. The statements are sent
/// without waiting for each other's answers (tokio-postgres pipelines them on the connection):
/// the lock, the head, the streams' versions and the keys; then the events and keys in one
/// `UNNEST` insert each and the notification; then the commit.
async fn commit_group(
    client: &tokio_postgres::Client,
    prepared: &Prepared,
    sql: &Sql,
    group: &[Append],
    key_ttl: i64,
) -> Result<Vec<Result<Appended, StoreError>>, tokio_postgres::Error> {
    let streams: Vec<&str> = group.iter().map(|a| a.stream.as_str()).collect();
    let keys: Vec<&str> = group
        .iter()
        .filter_map(|a| a.key.as_ref().map(IdempotencyKey::key))
        .collect();
    let lock: [&Param<'_>; 1] = [&sql.lock_key];
    let of_streams: [&Param<'_>; 1] = [&streams];
    let of_keys: [&Param<'_>; 2] = [&keys, &key_ttl];
    // In this order: the statements are sent as they are first polled.
    let (_, _, head, versions, keys) = tokio::try_join!(
        biased;
        client.batch_execute("BEGIN ISOLATION LEVEL READ COMMITTED"),
        client.execute(&prepared.lock, &lock),
        client.query_one(&prepared.head, &[]),
        client.query(&prepared.versions, &of_streams),
        async {
            if keys.is_empty() {
                Ok(Vec::new())
            } else {
                client.query(&prepared.keys, &of_keys).await
            }
        },
    )?;
    let (head, now) = (head.get::<_, i64>(0), head.get::<_, i64>(1));
    let mut versions: HashMap<String, u64> = versions
        .iter()
        .filter_map(|row| {
            Some((
                row.get::<_, String>(0),
                row.get::<_, Option<i64>>(1)? as u64,
            ))
        })
        .collect();
    let mut used: HashMap<String, (Appended, String)> = keys
        .iter()
        .map(|row| (row.get(0), (appended_at(row, 1), row.get(5))))
        .collect();
    let mut rows = Rows::default();
    let mut new_keys = Keys::default();
    let mut next = head as u64 + 1;
    let time = now;
    let mut results = Vec::with_capacity(group.len());
    for append in group {
        if let Some(key) = &append.key
            && let Some((first, fingerprint)) = used.get(key.key())
        {
            results.push(replay_of(key, *first, fingerprint));
            continue;
        }
        let actual = versions.get(&append.stream).copied().unwrap_or(0);
        if !satisfies(append.expected, actual) {
            results.push(Err(StoreError::Conflict {
                stream: append.stream.clone(),
                expected: append.expected,
                actual,
            }));
            continue;
        }
        let count = append.events.len() as u64;
        let appended = Appended {
            first_version: actual + 1,
            last_version: actual + count,
            first_position: next,
            last_position: next + count - 1,
        };
        for (offset, event) in append.events.iter().enumerate() {
            rows.push(
                next + offset as u64,
                &append.stream,
                actual + offset as u64 + 1,
                event,
                time,
            );
        }
        next += count;
        versions.insert(append.stream.clone(), appended.last_version);
        if let Some(key) = &append.key {
            used.insert(
                key.key().to_owned(),
                (appended, key.fingerprint().to_owned()),
            );
            new_keys.push(key, appended);
        }
        results.push(Ok(appended));
    }
    if !rows.positions.is_empty() {
        let last = (next - 1).to_string();
        let created = vec![now / 1_000_000_000; new_keys.keys.len()];
        let events: [&Param<'_>; 9] = [
            &rows.positions,
            &rows.ids,
            &rows.streams,
            &rows.versions,
            &rows.types,
            &rows.schema_versions,
            &rows.times,
            &rows.data,
            &rows.metadata,
        ];
        let keys: [&Param<'_>; 7] = [
            &new_keys.keys,
            &new_keys.first_versions,
            &new_keys.last_versions,
            &new_keys.first_positions,
            &new_keys.last_positions,
            &new_keys.fingerprints,
            &created,
        ];
        let notify: [&Param<'_>; 2] = [&sql.channel, &last];
        tokio::try_join!(
            biased;
            client.execute(&prepared.insert_events, &events),
            async {
                if new_keys.keys.is_empty() {
                    return Ok(0);
                }
                client.execute(&prepared.insert_keys, &keys).await
            },
            client.execute(&prepared.notify, &notify),
        )?;
    }
    client.batch_execute("COMMIT").await?;
    Ok(results)
}

/// New events, column by column, for `UNNEST`.
#[derive(Default)]
struct Rows {
    positions: Vec<i64>,
    ids: Vec<Vec<u8>>,
    streams: Vec<String>,
    versions: Vec<i64>,
    types: Vec<String>,
    schema_versions: Vec<i64>,
    times: Vec<i64>,
    data: Vec<Vec<u8>>,
    metadata: Vec<Option<String>>,
}

impl Rows {
    fn push(&mut self, position: u64, stream: &str, version: u64, event: &NewEvent, time: i64) {
        self.positions.push(position as i64);
        self.ids.push(uuid::Uuid::now_v7().as_bytes().to_vec());
        self.streams.push(stream.to_owned());
        self.versions.push(version as i64);
        self.types.push(event.event_type.clone());
        self.schema_versions.push(i64::from(event.version));
        self.times.push(time);
        self.data.push(event.data.clone());
        self.metadata.push(event.metadata.to_json());
    }
}

/// New idempotency keys, column by column.
#[derive(Default)]
struct Keys {
    keys: Vec<String>,
    first_versions: Vec<i64>,
    last_versions: Vec<i64>,
    first_positions: Vec<i64>,
    last_positions: Vec<i64>,
    fingerprints: Vec<String>,
}

impl Keys {
    fn push(&mut self, key: &IdempotencyKey, appended: Appended) {
        self.keys.push(key.key().to_owned());
        self.first_versions.push(appended.first_version as i64);
        self.last_versions.push(appended.last_version as i64);
        self.first_positions.push(appended.first_position as i64);
        self.last_positions.push(appended.last_position as i64);
        self.fingerprints.push(key.fingerprint().to_owned());
    }
}

/// Follows commits of every process: `LISTEN` for their notifications, and a poll of the last
/// position every second (a notification sent while this connection was down is lost).
async fn listen(config: tokio_postgres::Config, inner: Weak<Inner>, sql: Arc<Sql>) {
    loop {
        if inner.strong_count() == 0 {
            return;
        }
        let Ok((client, mut connection)) = config.connect(NoTls).await else {
            tokio::time::sleep(POLL_HEAD).await;
            continue;
        };
        let (told, mut notifications) = mpsc::unbounded_channel();
        let driver = tokio::spawn(async move {
            loop {
                match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                    Some(Ok(tokio_postgres::AsyncMessage::Notification(notification))) => {
                        if let Ok(position) = notification.payload().parse::<u64>() {
                            let _ = told.send(position);
                        }
                    }
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => return,
                }
            }
        });
        if client
            .batch_execute(&format!("LISTEN \"{}\"", sql.channel))
            .await
            .is_ok()
        {
            loop {
                let position = tokio::select! {
                    told = notifications.recv() => match told {
                        Some(position) => Some(position),
                        None => break,
                    },
                    () = tokio::time::sleep(POLL_HEAD) => match client.query_one(sql.head.as_str(), &[]).await {
                        Ok(row) => Some(row.get::<_, i64>(0) as u64),
                        Err(_) => break,
                    },
                };
                let Some(inner) = inner.upgrade() else {
                    driver.abort();
                    return;
                };
                if let Some(position) = position {
                    inner.head.publish(position);
                }
            }
        }
        driver.abort();
        tokio::time::sleep(POLL_HEAD).await;
    }
}

/// A key's first append, in four columns of `row` from `first`.
fn appended_at(row: &tokio_postgres::Row, first: usize) -> Appended {
    Appended {
        first_version: row.get::<_, i64>(first) as u64,
        last_version: row.get::<_, i64>(first + 1) as u64,
        first_position: row.get::<_, i64>(first + 2) as u64,
        last_position: row.get::<_, i64>(first + 3) as u64,
    }
}

fn envelope(row: &tokio_postgres::Row, source: &Arc<str>) -> Envelope {
    let id: Vec<u8> = row.get(1);
    let time: i64 = row.get(6);
    Envelope {
        position: row.get::<_, i64>(0) as u64,
        id: uuid::Uuid::from_slice(&id).unwrap_or_default(),
        source: Arc::clone(source),
        stream: row.get(2),
        stream_version: row.get::<_, i64>(3) as u64,
        event_type: row.get(4),
        version: row.get::<_, i64>(5) as u32,
        time: time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(time))
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
        data_schema: None,
        data: row.get(7),
        metadata: Metadata::from_json(row.get(8)),
    }
}

impl EventStore for PostgresStore {
    fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        idempotency_key: Option<&IdempotencyKey>,
    ) -> impl Future<Output = Result<Appended, StoreError>> + Send {
        let started = std::time::Instant::now();
        let (reply, answer) = oneshot::channel();
        let sent = check_append(stream, &events, idempotency_key).and_then(|()| {
            self.inner
                .writer
                .try_send(Append {
                    stream: stream.to_owned(),
                    expected,
                    events,
                    key: idempotency_key.cloned(),
                    reply,
                })
                .map_err(|e| match e {
                    mpsc::error::TrySendError::Full(_) => StoreError::Overloaded,
                    mpsc::error::TrySendError::Closed(_) => {
                        StoreError::Backend("the writer stopped".into())
                    }
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
        let store = self.clone();
        let stream = stream.to_owned();
        async move {
            let sql = match direction {
                Direction::Forwards => &store.inner.sql.read_stream_forwards,
                Direction::Backwards => &store.inner.sql.read_stream_backwards,
            };
            let from = from.min(i64::MAX as u64) as i64;
            let limit = limit.min(i64::MAX as usize) as i64;
            store.envelopes(sql, &[&stream, &from, &limit]).await
        }
    }

    fn read_all(
        &self,
        from: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Envelope>, StoreError>> + Send {
        let store = self.clone();
        // Started now, not when first polled: a caller reads the next page while it works.
        let task = tokio::spawn(async move {
            let from = from.min(i64::MAX as u64) as i64;
            let limit = limit.min(i64::MAX as usize) as i64;
            store
                .envelopes(&store.inner.sql.read_all, &[&from, &limit])
                .await
        });
        async move { task.await.map_err(backend)? }
    }

    fn read_correlated(
        &self,
        correlation_id: &str,
        from: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Envelope>, StoreError>> + Send {
        let store = self.clone();
        let correlation_id = correlation_id.to_owned();
        async move {
            let from = from.min(i64::MAX as u64) as i64;
            let limit = limit.min(i64::MAX as usize) as i64;
            let sql = &store.inner.sql.read_correlated;
            store
                .envelopes(sql, &[&correlation_id, &from, &limit])
                .await
        }
    }

    fn idempotent_result(
        &self,
        key: &IdempotencyKey,
    ) -> impl Future<Output = Result<Option<Appended>, StoreError>> + Send {
        let store = self.clone();
        let key = key.clone();
        async move {
            let client = store.client().await?;
            let row = client
                .query_opt(
                    store.inner.sql.key.as_str(),
                    &[&key.key(), &store.inner.key_ttl],
                )
                .await
                .map_err(backend)?;
            row.map(|row| replay_of(&key, appended_at(&row, 0), row.get::<_, &str>(4)))
                .transpose()
        }
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
        let store = self.clone();
        let stream = stream.to_owned();
        async move {
            let client = store.client().await?;
            client
                .execute(
                    store.inner.sql.save_snapshot.as_str(),
                    &[&stream, &(version as i64), &state],
                )
                .await
                .map(|_| ())
                .map_err(backend)
        }
    }

    fn load_snapshot(
        &self,
        stream: &str,
    ) -> impl Future<Output = Result<Option<Snapshot>, StoreError>> + Send {
        let store = self.clone();
        let stream = stream.to_owned();
        async move {
            let client = store.client().await?;
            let row = client
                .query_opt(store.inner.sql.load_snapshot.as_str(), &[&stream])
                .await
                .map_err(backend)?;
            Ok(row.map(|row| Snapshot {
                version: row.get::<_, i64>(0) as u64,
                state: row.get(1),
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn schema_names_are_plain() {
        for good in ["eventsmith", "shop", "_x1", "a_b_c"] {
            assert!(super::valid_schema(good), "{good}");
        }
        for bad in ["", "Shop", "1x", "a-b", "a\"b", &"x".repeat(64)] {
            assert!(!super::valid_schema(bad), "{bad}");
        }
    }

    #[test]
    fn each_schema_has_its_own_stable_lock() {
        let (a, b) = (super::Sql::new("shop"), super::Sql::new("shop2"));
        assert_ne!(a.lock_key, b.lock_key);
        assert_eq!(a.lock_key, super::Sql::new("shop").lock_key);
    }
}
