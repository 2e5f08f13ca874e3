//! The PostgreSQL read-model backend: each projection's tables, and beside them the runner's
//! bookkeeping (checkpoints, dead letters, lookups, recorded columns), in one schema, the one
//! that holds the service's events (`PostgresStore`'s): everything of a service in one place.
//!
//! Handlers are synchronous, as on SQLite, and PostgreSQL's client is not: each
//! [`PostgresReadModel`] owns one connection on a thread of its own (the `postgres` crate's
//! blocking client), and its calls wait for that thread. A lost connection is opened again on
//! the next call; a transaction it was in fails transiently, and the runner tries it again.
//!
//! **One runner per projection across processes.** Several service instances may run on one
//! database; each projection runs on one of them at a time. [`Backend::claim`] takes the
//! projection's lease, a session-level advisory lock, so it goes when the instance's connection
//! does (the instance died): another instance's runner claims it within a second or two.
//! Checkpoints still move by compare-and-set, so a runner that lost its lease unseen (a network
//! split) cannot apply a batch twice. An operator's `replay` or `dlq` waits for the lease
//! ([`Backend::wait_for_lease`]); the runner that holds it sees the waiter
//! ([`Backend::lease_wanted`]), gives it up between batches and claims it again afterwards.

use super::setup::{self, Plan, quoted};
use super::{
    Backend, BackendError, BackendTransaction, ColumnKind, RowError, Setup, TableSpec, Transaction,
};
use crate::projection::DeadLetter;
use crate::store::Envelope;
use postgres::types::ToSql;
use postgres::{Client, NoTls};
use serde_json::{Map, Number, Value};
use std::collections::HashSet;
use std::sync::mpsc;
use std::time::Duration;

const BOOKKEEPING: &str = "
CREATE TABLE IF NOT EXISTS eventsmith_checkpoints (projection TEXT PRIMARY KEY, position BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS eventsmith_dead_letters (
    id BIGSERIAL PRIMARY KEY,
    projection TEXT NOT NULL,
    position BIGINT NOT NULL,
    stream TEXT NOT NULL,
    event_type TEXT NOT NULL,
    version BIGINT NOT NULL,
    data BYTEA NOT NULL,
    error TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open',
    resolved BIGINT
);
CREATE INDEX IF NOT EXISTS eventsmith_dead_letters_by_projection ON eventsmith_dead_letters (projection, status, id);
CREATE TABLE IF NOT EXISTS eventsmith_tables (name TEXT PRIMARY KEY, columns TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS eventsmith_lookups (
    projection TEXT NOT NULL,
    name TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (projection, name, key)
);
";

/// How long a statement may run before PostgreSQL cancels it (a stuck lock, say): the runner
/// then retries the batch.
const STATEMENT_TIMEOUT: &str = "60s";

/// A PostgreSQL failure: transient when the connection went or the server was busy (shutting
/// down, out of resources, a serialization failure or deadlock), permanent otherwise.
fn failure(error: postgres::Error) -> BackendError {
    let class = error.code().map(|code| &code.code()[..2]);
    let io = std::error::Error::source(&error).is_some_and(|source| source.is::<std::io::Error>());
    let transient =
        error.is_closed() || io || matches!(class, Some("08" | "40" | "53" | "57" | "58"));
    BackendError {
        message: match error.as_db_error() {
            Some(db) => db.to_string(),
            None => error.to_string(),
        },
        transient,
    }
}

fn row_failure(error: postgres::Error) -> RowError {
    RowError::Backend(failure(error))
}

/// FNV-1a: a stable 64-bit advisory-lock key for a projection of a schema (no dependency, and
/// the same in every process and release).
fn lease_key(schema: &str, projection: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in schema
        .bytes()
        .chain(*b"\0projection\0")
        .chain(projection.bytes())
    {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash as i64
}

/// A job for the connection's thread.
type Job = Box<dyn FnOnce(&mut Session) + Send>;

/// The connection's thread's state.
struct Session {
    url: String,
    schema: String,
    client: Option<Client>,
    /// Counts connections: a transaction begun on one cannot go on on the next.
    generation: u64,
    /// The leases this connection holds (a new connection holds none).
    leases: HashSet<String>,
    /// The leases claimed and not released: taken again on a new connection if no one else
    /// has them meanwhile.
    claimed: HashSet<String>,
}

impl Session {
    /// The connection, opened (again) if needed.
    fn client(&mut self) -> Result<&mut Client, BackendError> {
        if self.client.as_ref().is_some_and(Client::is_closed) {
            self.client = None;
        }
        let client = match self.client.take() {
            Some(client) => client,
            None => {
                let client = self.connect()?;
                self.generation += 1;
                self.leases.clear();
                client
            }
        };
        Ok(self.client.insert(client))
    }

    fn connect(&self) -> Result<Client, BackendError> {
        let unreachable = |e: postgres::Error| {
            let mut error = failure(e);
            error.message = format!("cannot connect to PostgreSQL: {}", error.message);
            // Unreachable now, reachable later: the runner's supervisor tries again.
            error.transient = true;
            error
        };
        let mut config: tokio_postgres::Config = self.url.parse().map_err(|e| {
            BackendError::permanent(format!(
                "`{}` is not a PostgreSQL URL: {e}",
                crate::store::redacted(&self.url)
            ))
        })?;
        crate::store::postgres::keep_alive(&mut config);
        let mut client = postgres::Config::from(config)
            .connect(NoTls)
            .map_err(unreachable)?;
        let schema = quoted(&self.schema);
        client
            .batch_execute(&format!(
                "SET search_path TO {schema};
                 SET statement_timeout = '{STATEMENT_TIMEOUT}';
                 SET idle_in_transaction_session_timeout = '{STATEMENT_TIMEOUT}';
                 {}",
                crate::store::postgres::SERVER_KEEPALIVE
            ))
            .map_err(failure)?;
        // Created once per schema, only when missing (a role without CREATE can use a schema
        // made for it); instances starting together take turns.
        let ready: bool = client
            .query_one(
                "SELECT to_regclass(format('%I.eventsmith_lookups', $1::text)) IS NOT NULL",
                &[&self.schema],
            )
            .and_then(|row| row.try_get(0))
            .map_err(failure)?;
        if !ready {
            let mut setup = client.transaction().map_err(failure)?;
            setup
                .execute(
                    "SELECT pg_advisory_xact_lock($1)",
                    &[&lease_key(&self.schema, "")],
                )
                .map_err(failure)?;
            setup
                .batch_execute(&format!(
                    "CREATE SCHEMA IF NOT EXISTS {schema}; {BOOKKEEPING}"
                ))
                .map_err(failure)?;
            setup.commit().map_err(failure)?;
        }
        Ok(client)
    }

    /// The connection a transaction begun on connection `generation` goes on with.
    fn within(&mut self, generation: u64) -> Result<&mut Client, BackendError> {
        match self.client.as_mut() {
            Some(client) if self.generation == generation && !client.is_closed() => Ok(client),
            _ => Err(BackendError::transient(
                "the connection to PostgreSQL was lost in the middle of a transaction",
            )),
        }
    }

    /// Takes `projection`'s lease if no one holds it.
    fn try_lease(&mut self, projection: &str) -> Result<bool, BackendError> {
        if self.leases.contains(projection) {
            return Ok(true);
        }
        let key = lease_key(&self.schema, projection);
        let taken: bool = self
            .client()?
            .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
            .and_then(|row| row.try_get(0))
            .map_err(failure)?;
        if taken {
            self.leases.insert(projection.to_owned());
            self.claimed.insert(projection.to_owned());
        }
        Ok(taken)
    }
}

/// One connection, on a thread of its own.
struct Connection {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Connection {
    fn open(url: &str, schema: &str) -> Result<Self, BackendError> {
        let (jobs, received) = mpsc::channel::<Job>();
        let mut session = Session {
            url: url.to_owned(),
            schema: schema.to_owned(),
            client: None,
            generation: 0,
            leases: HashSet::new(),
            claimed: HashSet::new(),
        };
        let thread = std::thread::Builder::new()
            .name("read-model-postgres".to_owned())
            .spawn(move || {
                for job in received {
                    // A panicking job (a bug) fails its call, not the connection.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        job(&mut session)
                    }));
                }
            })
            .map_err(|e| BackendError::transient(format!("cannot start a thread: {e}")))?;
        let connection = Self {
            jobs: Some(jobs),
            thread: Some(thread),
        };
        connection.call(|session| session.client().map(|_| ()))?;
        Ok(connection)
    }

    /// Runs `job` on the connection's thread and waits for its answer.
    fn call<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Session) -> Result<T, BackendError> + Send + 'static,
    ) -> Result<T, BackendError> {
        let (answer, answered) = mpsc::sync_channel(1);
        let sent = self.jobs.as_ref().map(|jobs| {
            jobs.send(Box::new(move |session: &mut Session| {
                let _ = answer.send(job(session));
            }))
        });
        if !matches!(sent, Some(Ok(()))) {
            return Err(BackendError::permanent(
                "the read model's PostgreSQL connection is closed",
            ));
        }
        answered.recv().unwrap_or_else(|_| {
            Err(BackendError::permanent(
                "a read-model call on PostgreSQL panicked",
            ))
        })
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        // The thread ends once every job sent is done; its client closes the connection.
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A read model in a PostgreSQL schema, over one connection of its own.
pub struct PostgresReadModel {
    connection: Connection,
}

impl PostgresReadModel {
    /// Connects to the database at `url` (`postgres://user@host:port/database`), in `schema`
    /// (created if missing, with the bookkeeping tables).
    pub fn open(url: &str, schema: &str) -> Result<Self, BackendError> {
        Ok(Self {
            connection: Connection::open(url, schema)?,
        })
    }

    fn execute(
        &self,
        sql: String,
        params: Vec<Box<dyn ToSql + Send + Sync>>,
        generation: Option<u64>,
    ) -> Result<u64, BackendError> {
        self.connection.call(move |session| {
            let client = match generation {
                Some(generation) => session.within(generation)?,
                None => session.client()?,
            };
            client.execute(&sql, &borrowed(&params)).map_err(failure)
        })
    }

    fn query(
        &self,
        sql: String,
        params: Vec<Box<dyn ToSql + Send + Sync>>,
        generation: Option<u64>,
    ) -> Result<Vec<postgres::Row>, BackendError> {
        self.connection.call(move |session| {
            let client = match generation {
                Some(generation) => session.within(generation)?,
                None => session.client()?,
            };
            client.query(&sql, &borrowed(&params)).map_err(failure)
        })
    }

    /// Begins a transaction at `isolation`, (re)taking `projection`'s lease first if this
    /// model claimed it and a new connection lost it.
    fn begin_at(&self, projection: &str, isolation: &'static str) -> Result<u64, BackendError> {
        let projection = projection.to_owned();
        self.connection.call(move |session| {
            session.client()?;
            if session.claimed.contains(&projection) && !session.leases.contains(&projection) {
                // A new connection holds no lease: another instance may have run the
                // projection meanwhile, so the runner claims it again from the start.
                session.claimed.remove(&projection);
                return Err(BackendError::transient(format!(
                    "the connection to PostgreSQL was lost, and with it the lease of `{projection}`; claiming it again"
                )));
            }
            let generation = session.generation;
            session
                .within(generation)?
                .batch_execute(&format!("BEGIN ISOLATION LEVEL {isolation}"))
                .map_err(failure)?;
            Ok(generation)
        })
    }

    /// Ends the transaction begun on connection `generation`: `COMMIT` or `ROLLBACK`.
    fn end(&self, generation: u64, how: &'static str) -> Result<(), BackendError> {
        self.connection.call(move |session| {
            session
                .within(generation)?
                .batch_execute(how)
                .map_err(failure)
        })
    }
}

fn borrowed(params: &[Box<dyn ToSql + Send + Sync>]) -> Vec<&(dyn ToSql + Sync)> {
    params
        .iter()
        .map(|p| p.as_ref() as &(dyn ToSql + Sync))
        .collect()
}

fn boxed<T: ToSql + Send + Sync + 'static>(value: T) -> Box<dyn ToSql + Send + Sync> {
    Box::new(value)
}

fn checkpoint_sql() -> String {
    "SELECT position FROM eventsmith_checkpoints WHERE projection = $1".to_owned()
}

impl Backend for PostgresReadModel {
    type Transaction<'a> = PostgresTransaction<'a>;

    fn begin(&mut self, projection: &'static str) -> Result<PostgresTransaction<'_>, BackendError> {
        let generation = self.begin_at(projection, "READ COMMITTED")?;
        Ok(PostgresTransaction {
            rows: Rows {
                model: self,
                projection,
                generation,
            },
            open: true,
        })
    }

    fn read<T>(
        &self,
        projection: &str,
        read: impl FnOnce(u64, &dyn Transaction) -> T,
    ) -> Result<T, BackendError> {
        // One snapshot: the rows and the checkpoint are of the same moment.
        let generation = self.begin_at("", "REPEATABLE READ READ ONLY")?;
        let rows = Rows {
            model: self,
            projection,
            generation,
        };
        let value = rows
            .query(checkpoint_sql(), vec![boxed(projection.to_owned())])
            .map_err(backend)
            .and_then(|found| match found.first() {
                Some(row) => row.try_get::<_, i64>(0).map_err(failure),
                None => Ok(0),
            })
            .map(|position| read(position as u64, &rows));
        let ended = self.end(
            generation,
            if value.is_ok() { "COMMIT" } else { "ROLLBACK" },
        );
        let value = value?;
        ended?;
        Ok(value)
    }

    fn dead_letters(&self, projection: &str) -> Result<Vec<DeadLetter>, BackendError> {
        let rows = self.query(
            "SELECT id, position, stream, event_type, version, error, attempts FROM eventsmith_dead_letters
             WHERE projection = $1 AND status = 'open' ORDER BY id"
                .to_owned(),
            vec![boxed(projection.to_owned())],
            None,
        )?;
        rows.iter()
            .map(|r| {
                Ok(DeadLetter {
                    id: r.try_get(0)?,
                    position: r.try_get::<_, i64>(1)? as u64,
                    stream: r.try_get(2)?,
                    event_type: r.try_get(3)?,
                    version: r.try_get::<_, i64>(4)? as u32,
                    error: r.try_get(5)?,
                    attempts: r.try_get::<_, i64>(6)? as u32,
                })
            })
            .collect::<Result<_, postgres::Error>>()
            .map_err(failure)
    }

    fn failed_again(&mut self, projection: &str, id: i64, error: &str) -> Result<(), BackendError> {
        self.execute(
            "UPDATE eventsmith_dead_letters SET attempts = attempts + 1, error = $3
             WHERE id = $1 AND projection = $2"
                .to_owned(),
            vec![
                boxed(id),
                boxed(projection.to_owned()),
                boxed(error.to_owned()),
            ],
            None,
        )
        .map(|_| ())
    }

    fn skip_dead_letter(&mut self, projection: &str, id: i64) -> Result<bool, BackendError> {
        let skipped = self.execute(
            "UPDATE eventsmith_dead_letters SET status = 'skipped',
                 resolved = (SELECT COALESCE(MAX(resolved), 0) + 1 FROM eventsmith_dead_letters)
             WHERE id = $1 AND projection = $2 AND status = 'open'"
                .to_owned(),
            vec![boxed(id), boxed(projection.to_owned())],
            None,
        )?;
        self.execute(
            prune_resolved_sql(),
            vec![boxed(projection.to_owned()), boxed(setup::RESOLVED_KEPT)],
            None,
        )?;
        Ok(skipped > 0)
    }

    fn claim(&mut self, projection: &str) -> Result<bool, BackendError> {
        let projection = projection.to_owned();
        self.connection
            .call(move |session| session.try_lease(&projection))
    }

    fn release(&mut self, projection: &str) -> Result<(), BackendError> {
        let projection = projection.to_owned();
        self.connection.call(move |session| {
            session.claimed.remove(&projection);
            if session.leases.remove(&projection) {
                let key = lease_key(&session.schema, &projection);
                session
                    .client()?
                    .execute("SELECT pg_advisory_unlock($1)", &[&key])
                    .map_err(failure)?;
            }
            Ok(())
        })
    }

    fn lease_wanted(&self, projection: &str) -> Result<bool, BackendError> {
        let projection = projection.to_owned();
        self.connection.call(move |session| {
            let key = lease_key(&session.schema, &projection) as u64;
            let (high, low) = ((key >> 32) as i64, (key & 0xffff_ffff) as i64);
            session
                .client()?
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
                     AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                     AND classid::int8 = $1 AND objid::int8 = $2 AND objsubid = 1)",
                    &[&high, &low],
                )
                .and_then(|row| row.try_get(0))
                .map_err(failure)
        })
    }

    fn wait_for_lease(
        &mut self,
        projection: &str,
        patience: Duration,
    ) -> Result<bool, BackendError> {
        let projection = projection.to_owned();
        self.connection.call(move |session| {
            if session.leases.contains(&projection) {
                return Ok(true);
            }
            let key = lease_key(&session.schema, &projection);
            let client = session.client()?;
            // The wait is bounded by `patience` alone, not by the statement timeout.
            client
                .batch_execute(&format!(
                    "SET statement_timeout = 0; SET lock_timeout = {}",
                    patience.as_millis().max(1)
                ))
                .map_err(failure)?;
            let taken = client.execute("SELECT pg_advisory_lock($1)", &[&key]);
            client
                .batch_execute(&format!(
                    "RESET lock_timeout; SET statement_timeout = '{STATEMENT_TIMEOUT}'"
                ))
                .map_err(failure)?;
            match taken {
                Ok(_) => {
                    session.leases.insert(projection.clone());
                    session.claimed.insert(projection);
                    Ok(true)
                }
                // 55P03: lock_not_available, the timeout.
                Err(error) if error.code().is_some_and(|c| c.code() == "55P03") => Ok(false),
                Err(error) => Err(failure(error)),
            }
        })
    }
}

fn prune_resolved_sql() -> String {
    "DELETE FROM eventsmith_dead_letters WHERE projection = $1 AND status <> 'open' AND id NOT IN
     (SELECT id FROM eventsmith_dead_letters WHERE projection = $1 AND status <> 'open' ORDER BY resolved DESC LIMIT $2)"
        .to_owned()
}

fn sql_type(kind: ColumnKind) -> &'static str {
    match kind {
        ColumnKind::Text => "TEXT",
        ColumnKind::Integer => "BIGINT",
        ColumnKind::Real => "DOUBLE PRECISION",
        ColumnKind::Boolean => "BOOLEAN",
        ColumnKind::Json => "JSONB",
    }
}

/// The column as selected: JSON as its text.
fn selected(name: &str, kind: ColumnKind) -> String {
    match kind {
        ColumnKind::Json => format!("{}::text", quoted(name)),
        _ => quoted(name),
    }
}

fn shape(table: &TableSpec, reason: impl std::fmt::Display) -> RowError {
    RowError::Shape {
        table: table.name,
        reason: reason.to_string(),
    }
}

fn select(table: &TableSpec) -> String {
    let columns: Vec<String> = table
        .columns
        .iter()
        .map(|c| selected(c.name, c.kind))
        .collect();
    format!("SELECT {} FROM {}", columns.join(", "), quoted(table.name))
}

/// A stored row as a JSON object of its columns that are not null.
fn decode(table: &TableSpec, row: &postgres::Row) -> Result<Map<String, Value>, RowError> {
    let mut object = Map::new();
    for (index, column) in table.columns.iter().enumerate() {
        let value = match column.kind {
            ColumnKind::Text => row
                .try_get::<_, Option<String>>(index)
                .map_err(row_failure)?
                .map(Value::String),
            ColumnKind::Integer => row
                .try_get::<_, Option<i64>>(index)
                .map_err(row_failure)?
                .map(|n| Value::Number(n.into())),
            ColumnKind::Real => match row.try_get::<_, Option<f64>>(index).map_err(row_failure)? {
                Some(x) => Some(Value::Number(Number::from_f64(x).ok_or_else(|| {
                    shape(table, format!("`{}` is not finite", column.name))
                })?)),
                None => None,
            },
            ColumnKind::Boolean => row
                .try_get::<_, Option<bool>>(index)
                .map_err(row_failure)?
                .map(Value::Bool),
            ColumnKind::Json => match row
                .try_get::<_, Option<String>>(index)
                .map_err(row_failure)?
            {
                Some(text) => Some(serde_json::from_str(&text).map_err(|e| shape(table, e))?),
                None => None,
            },
        };
        if let Some(value) = value {
            object.insert(column.name.to_owned(), value);
        }
    }
    Ok(object)
}

/// A property's value as its column's parameter.
fn parameter(
    table: &TableSpec,
    name: &str,
    kind: ColumnKind,
    value: Option<&Value>,
) -> Result<Box<dyn ToSql + Send + Sync>, RowError> {
    let value = value.filter(|v| !v.is_null());
    let wrong = || {
        shape(
            table,
            format!("`{name}` does not fit its {} column", kind.name()),
        )
    };
    Ok(match kind {
        ColumnKind::Text => boxed(value.map(|value| match value {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        })),
        ColumnKind::Json => boxed(value.map(Value::to_string)),
        ColumnKind::Integer => boxed(value.map(|v| v.as_i64().ok_or_else(wrong)).transpose()?),
        ColumnKind::Real => boxed(value.map(|v| v.as_f64().ok_or_else(wrong)).transpose()?),
        ColumnKind::Boolean => boxed(value.map(|v| v.as_bool().ok_or_else(wrong)).transpose()?),
    })
}

/// A filter's text as its column's parameter, or `None` when no value of the column equals it
/// (a word in a number column): the condition is then false.
fn filter_parameter(kind: ColumnKind, text: &str) -> Option<Box<dyn ToSql + Send + Sync>> {
    // Texts are compared whole, spaces included (as on SQLite); numbers and booleans without
    // the spaces around them.
    let word = text.trim();
    match kind {
        ColumnKind::Text => Some(boxed(text.to_owned())),
        // Text that is no JSON equals no JSON value.
        ColumnKind::Json => serde_json::from_str::<Value>(text)
            .ok()
            .map(|value| boxed(value.to_string())),
        // `2.0` is the integer 2; `2.5` no integer.
        ColumnKind::Integer => word
            .parse::<i64>()
            .ok()
            .or_else(|| {
                word.parse::<f64>()
                    .ok()
                    .filter(|x| x.fract() == 0.0 && x.abs() < 9.0e15)
                    .map(|x| x as i64)
            })
            .map(boxed),
        ColumnKind::Real => word.parse::<f64>().ok().map(boxed),
        ColumnKind::Boolean => match word {
            "true" | "1" => Some(boxed(true)),
            "false" | "0" => Some(boxed(false)),
            _ => None,
        },
    }
}

fn key_kind(table: &TableSpec) -> ColumnKind {
    table
        .column(table.key)
        .map_or(ColumnKind::Text, |column| column.kind)
}

/// A key given as text, as its column's parameter (`None`: no row can have it).
fn key_parameter(table: &TableSpec, key: &str) -> Option<Box<dyn ToSql + Send + Sync>> {
    match key_kind(table) {
        ColumnKind::Text => Some(boxed(key.to_owned())),
        kind => filter_parameter(kind, key),
    }
}

/// The key column compared with `$1`.
fn key_condition(table: &TableSpec) -> String {
    match key_kind(table) {
        ColumnKind::Json => format!("{} = CAST($1::text AS JSONB)", quoted(table.key)),
        _ => format!("{} = $1", quoted(table.key)),
    }
}

/// The key column to sort by: text in byte order, as SQLite's, whatever the database's
/// collation.
fn key_order(table: &TableSpec) -> String {
    match key_kind(table) {
        ColumnKind::Text => format!("{} COLLATE \"C\"", quoted(table.key)),
        _ => quoted(table.key),
    }
}

/// Rows and lookups of `projection` in the transaction begun on connection `generation`.
pub struct Rows<'a> {
    model: &'a PostgresReadModel,
    projection: &'a str,
    generation: u64,
}

impl Rows<'_> {
    fn query(
        &self,
        sql: String,
        params: Vec<Box<dyn ToSql + Send + Sync>>,
    ) -> Result<Vec<postgres::Row>, RowError> {
        Ok(self.model.query(sql, params, Some(self.generation))?)
    }

    fn execute(
        &self,
        sql: String,
        params: Vec<Box<dyn ToSql + Send + Sync>>,
    ) -> Result<u64, BackendError> {
        self.model.execute(sql, params, Some(self.generation))
    }
}

impl Rows<'_> {
    /// Statements without parameters (DDL), sent as one.
    fn batch(&self, sql: String) -> Result<(), BackendError> {
        let generation = self.generation;
        self.model.connection.call(move |session| {
            session
                .within(generation)?
                .batch_execute(&sql)
                .map_err(failure)
        })
    }
}

impl Transaction for Rows<'_> {
    fn get(&self, table: &TableSpec, key: &str) -> Result<Option<Map<String, Value>>, RowError> {
        let Some(key) = key_parameter(table, key) else {
            return Ok(None);
        };
        let sql = format!("{} WHERE {}", select(table), key_condition(table));
        match self.query(sql, vec![key])?.first() {
            Some(row) => decode(table, row).map(Some),
            None => Ok(None),
        }
    }

    fn list(
        &self,
        table: &TableSpec,
        filters: &[(&str, &str)],
        limit: usize,
    ) -> Result<Vec<Map<String, Value>>, RowError> {
        let mut conditions = Vec::new();
        let mut params = Vec::new();
        for (name, text) in filters {
            let column = table
                .column(name)
                .ok_or_else(|| shape(table, format!("there is no column `{name}`")))?;
            match filter_parameter(column.kind, text) {
                Some(param) => {
                    params.push(param);
                    let slot = format!("${}", params.len());
                    conditions.push(match column.kind {
                        // As JSON: `jsonb`'s text is not the row's (`[1, 2]`, not `[1,2]`).
                        ColumnKind::Json => {
                            format!("{} = CAST({slot}::text AS JSONB)", quoted(name))
                        }
                        _ => format!("{} = {slot}", quoted(name)),
                    });
                }
                None => conditions.push("FALSE".to_owned()),
            }
        }
        let filter = if conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conditions.join(" AND "))
        };
        let sql = format!(
            "{}{filter} ORDER BY {} LIMIT {}",
            select(table),
            key_order(table),
            limit.min(i64::MAX as usize)
        );
        self.query(sql, params)?
            .iter()
            .map(|row| decode(table, row))
            .collect()
    }

    fn upsert(&self, table: &TableSpec, row: &Map<String, Value>) -> Result<(), RowError> {
        let params = table
            .columns
            .iter()
            .map(|c| parameter(table, c.name, c.kind, row.get(c.name)))
            .collect::<Result<Vec<_>, _>>()?;
        let names: Vec<String> = table.columns.iter().map(|c| quoted(c.name)).collect();
        let slots: Vec<String> = table
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| match c.kind {
                ColumnKind::Json => format!("CAST(${}::text AS JSONB)", i + 1),
                _ => format!("${}", i + 1),
            })
            .collect();
        let updates: Vec<String> = names
            .iter()
            .map(|n| format!("{n} = excluded.{n}"))
            .collect();
        let sql = format!(
            "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT ({}) DO UPDATE SET {}",
            quoted(table.name),
            names.join(", "),
            slots.join(", "),
            quoted(table.key),
            updates.join(", ")
        );
        self.execute(sql, params)?;
        Ok(())
    }

    fn delete(&self, table: &TableSpec, key: &str) -> Result<bool, RowError> {
        let Some(key) = key_parameter(table, key) else {
            return Ok(false);
        };
        let sql = format!(
            "DELETE FROM {} WHERE {}",
            quoted(table.name),
            key_condition(table)
        );
        Ok(self.execute(sql, vec![key])? > 0)
    }

    fn lookup_get(&self, name: &str, key: &str) -> Result<Option<Value>, RowError> {
        let found = self.query(
            "SELECT value FROM eventsmith_lookups WHERE projection = $1 AND name = $2 AND key = $3"
                .to_owned(),
            vec![
                boxed(self.projection.to_owned()),
                boxed(name.to_owned()),
                boxed(key.to_owned()),
            ],
        )?;
        let Some(row) = found.first() else {
            return Ok(None);
        };
        let text: String = row.try_get(0).map_err(row_failure)?;
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| RowError::Shape {
                table: "eventsmith_lookups",
                reason: e.to_string(),
            })
    }

    fn lookup_put(&self, name: &str, key: &str, value: &Value) -> Result<(), RowError> {
        self.execute(
            "INSERT INTO eventsmith_lookups (projection, name, key, value) VALUES ($1, $2, $3, $4)
             ON CONFLICT (projection, name, key) DO UPDATE SET value = excluded.value"
                .to_owned(),
            vec![
                boxed(self.projection.to_owned()),
                boxed(name.to_owned()),
                boxed(key.to_owned()),
                boxed(value.to_string()),
            ],
        )?;
        Ok(())
    }

    fn lookup_delete(&self, name: &str, key: &str) -> Result<bool, RowError> {
        Ok(self.execute(
            "DELETE FROM eventsmith_lookups WHERE projection = $1 AND name = $2 AND key = $3"
                .to_owned(),
            vec![
                boxed(self.projection.to_owned()),
                boxed(name.to_owned()),
                boxed(key.to_owned()),
            ],
        )? > 0)
    }
}

/// A transaction of one projection's read model in PostgreSQL; dropped uncommitted, it rolls
/// back.
pub struct PostgresTransaction<'a> {
    rows: Rows<'a>,
    open: bool,
}

impl Drop for PostgresTransaction<'_> {
    fn drop(&mut self) {
        if self.open {
            // On a lost connection there is nothing to roll back.
            let _ = self.rows.model.end(self.rows.generation, "ROLLBACK");
        }
    }
}

impl Transaction for PostgresTransaction<'_> {
    fn get(&self, table: &TableSpec, key: &str) -> Result<Option<Map<String, Value>>, RowError> {
        self.rows.get(table, key)
    }

    fn list(
        &self,
        table: &TableSpec,
        filters: &[(&str, &str)],
        limit: usize,
    ) -> Result<Vec<Map<String, Value>>, RowError> {
        self.rows.list(table, filters, limit)
    }

    fn upsert(&self, table: &TableSpec, row: &Map<String, Value>) -> Result<(), RowError> {
        self.rows.upsert(table, row)
    }

    fn delete(&self, table: &TableSpec, key: &str) -> Result<bool, RowError> {
        self.rows.delete(table, key)
    }

    fn lookup_get(&self, name: &str, key: &str) -> Result<Option<Value>, RowError> {
        self.rows.lookup_get(name, key)
    }

    fn lookup_put(&self, name: &str, key: &str, value: &Value) -> Result<(), RowError> {
        self.rows.lookup_put(name, key, value)
    }

    fn lookup_delete(&self, name: &str, key: &str) -> Result<bool, RowError> {
        self.rows.lookup_delete(name, key)
    }
}

impl BackendTransaction for PostgresTransaction<'_> {
    fn ensure(&self, table: &TableSpec) -> Result<Setup, BackendError> {
        // Instances opening one table of a schema at once take turns.
        self.rows.execute(
            "SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.' || $1))".to_owned(),
            vec![boxed(table.name.to_owned())],
        )?;
        let found = self
            .rows
            .query(
                "SELECT columns FROM eventsmith_tables WHERE name = $1".to_owned(),
                vec![boxed(table.name.to_owned())],
            )
            .map_err(backend)?;
        let before: Option<String> = match found.first() {
            Some(row) => Some(row.try_get(0).map_err(failure)?),
            None => None,
        };
        let name = quoted(table.name);
        let create = || -> Result<(), BackendError> {
            let columns: Vec<String> = table
                .columns
                .iter()
                .map(|c| {
                    let key = if c.name == table.key {
                        " PRIMARY KEY"
                    } else {
                        ""
                    };
                    let required = if c.required || c.name == table.key {
                        " NOT NULL"
                    } else {
                        ""
                    };
                    format!("{} {}{key}{required}", quoted(c.name), sql_type(c.kind))
                })
                .collect();
            self.rows.batch(format!(
                "DROP TABLE IF EXISTS {name}; CREATE TABLE {name} ({})",
                columns.join(", ")
            ))?;
            self.rows.execute(
                "INSERT INTO eventsmith_tables (name, columns) VALUES ($1, $2)
                 ON CONFLICT (name) DO UPDATE SET columns = excluded.columns"
                    .to_owned(),
                vec![boxed(table.name.to_owned()), boxed(setup::recorded(table))],
            )?;
            Ok(())
        };
        Ok(match setup::plan(before.as_deref(), table) {
            Plan::Unchanged => Setup::Unchanged,
            Plan::Add(columns) => {
                for column in columns {
                    self.rows.batch(format!(
                        "ALTER TABLE {name} ADD COLUMN {} {}",
                        quoted(column.name),
                        sql_type(column.kind)
                    ))?;
                }
                self.rows.execute(
                    "UPDATE eventsmith_tables SET columns = $2 WHERE name = $1".to_owned(),
                    vec![boxed(table.name.to_owned()), boxed(setup::recorded(table))],
                )?;
                Setup::Migrated
            }
            Plan::Create => {
                create()?;
                Setup::Created
            }
            Plan::Recreate => {
                create()?;
                Setup::Recreated
            }
        })
    }

    fn clear(&self, table: &TableSpec) -> Result<(), BackendError> {
        self.rows
            .batch(format!("DELETE FROM {}", quoted(table.name)))
    }

    fn start_over(&self) -> Result<(), BackendError> {
        for sql in [
            "DELETE FROM eventsmith_checkpoints WHERE projection = $1",
            "DELETE FROM eventsmith_dead_letters WHERE projection = $1 AND status = 'open'",
            "DELETE FROM eventsmith_lookups WHERE projection = $1",
        ] {
            self.rows
                .execute(sql.to_owned(), vec![boxed(self.rows.projection.to_owned())])?;
        }
        Ok(())
    }

    fn checkpoint(&self, from: u64, to: u64) -> Result<(), BackendError> {
        // A missing row is a checkpoint at 0 (a fresh or restarted projection).
        let sql = if from == 0 {
            "INSERT INTO eventsmith_checkpoints (projection, position) VALUES ($1, $2)
             ON CONFLICT (projection) DO UPDATE SET position = $2
             WHERE eventsmith_checkpoints.position = $3"
        } else {
            "UPDATE eventsmith_checkpoints SET position = $2 WHERE projection = $1 AND position = $3"
        };
        let projection = self.rows.projection;
        let moved = self.rows.execute(
            sql.to_owned(),
            vec![
                boxed(projection.to_owned()),
                boxed(to as i64),
                boxed(from as i64),
            ],
        )?;
        if moved == 0 {
            return Err(BackendError::permanent(format!(
                "the checkpoint of `{projection}` is no longer at {from}: another runner is writing this read model"
            )));
        }
        Ok(())
    }

    fn dead_letter(
        &self,
        envelope: &Envelope,
        error: &str,
        attempts: u32,
    ) -> Result<(), BackendError> {
        self.rows
            .execute(
                "INSERT INTO eventsmith_dead_letters (projection, position, stream, event_type, version, data, error, attempts)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                    .to_owned(),
                vec![
                    boxed(self.rows.projection.to_owned()),
                    boxed(envelope.position as i64),
                    boxed(envelope.stream.clone()),
                    boxed(envelope.event_type.clone()),
                    boxed(i64::from(envelope.version)),
                    boxed(envelope.data.clone()),
                    boxed(error.to_owned()),
                    boxed(i64::from(attempts)),
                ],
            )
            .map(|_| ())
    }

    fn close_dead_letter(&self, id: i64) -> Result<(), BackendError> {
        let projection = self.rows.projection.to_owned();
        self.rows.execute(
            "UPDATE eventsmith_dead_letters SET status = 'retried',
                 resolved = (SELECT COALESCE(MAX(resolved), 0) + 1 FROM eventsmith_dead_letters)
             WHERE id = $1 AND projection = $2"
                .to_owned(),
            vec![boxed(id), boxed(projection.clone())],
        )?;
        self.rows.execute(
            prune_resolved_sql(),
            vec![boxed(projection), boxed(setup::RESOLVED_KEPT)],
        )?;
        Ok(())
    }

    fn commit(mut self) -> Result<(), BackendError> {
        self.open = false;
        self.rows.model.end(self.rows.generation, "COMMIT")
    }
}

fn backend(error: RowError) -> BackendError {
    match error {
        RowError::Backend(error) => error,
        other => BackendError::permanent(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn leases_differ_by_schema_and_projection() {
        use super::lease_key;
        assert_eq!(lease_key("shop", "orders"), lease_key("shop", "orders"));
        assert_ne!(lease_key("shop", "orders"), lease_key("shop", "order"));
        assert_ne!(lease_key("shop", "orders"), lease_key("shops", "orders"));
    }

    #[test]
    fn filters_that_no_value_can_equal_are_false() {
        use super::{ColumnKind, filter_parameter};
        assert!(filter_parameter(ColumnKind::Integer, "12").is_some());
        assert!(filter_parameter(ColumnKind::Integer, "twelve").is_none());
        assert!(filter_parameter(ColumnKind::Boolean, "true").is_some());
        assert!(filter_parameter(ColumnKind::Boolean, "yes").is_none());
        assert!(filter_parameter(ColumnKind::Text, "anything").is_some());
    }
}
