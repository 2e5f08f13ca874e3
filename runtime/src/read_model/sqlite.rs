//! The SQLite read-model backend: one database file per read model (WAL, `synchronous =
//! NORMAL`), typed rows in tables that follow their row schema, and beside them the runner's
//! bookkeeping: checkpoints, dead letters, lookups and the recorded columns of each table.
//!
//! Tables follow their row schema. [`BackendTransaction::ensure`] creates a missing table; when
//! the schema only adds optional properties, it adds their columns; on any other change it drops
//! the table and says so, and the runner replays every event into the new one.

use super::setup::{self, Plan, RESOLVED_KEPT, quoted};
use super::{
    Backend, BackendError, BackendTransaction, ColumnKind, RowError, Setup, TableSpec, Transaction,
};
use crate::projection::DeadLetter;
use crate::store::Envelope;
use rusqlite::types::{Value as Sql, ValueRef};
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, params, params_from_iter};
use serde_json::{Map, Number, Value};
use std::path::Path;

const BOOKKEEPING: &str = "
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
    status TEXT NOT NULL DEFAULT 'open',
    resolved INTEGER
);
CREATE TABLE IF NOT EXISTS eventsmith_tables (name TEXT PRIMARY KEY, columns TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS eventsmith_lookups (
    projection TEXT NOT NULL,
    name TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (projection, name, key)
);
";

/// A SQLite failure, transient when the database was busy or locked or I/O failed.
fn failure(error: rusqlite::Error) -> BackendError {
    let transient = matches!(
        &error,
        rusqlite::Error::SqliteFailure(failure, _) if matches!(
            failure.code,
            ErrorCode::DatabaseBusy
                | ErrorCode::DatabaseLocked
                | ErrorCode::SystemIoFailure
                | ErrorCode::DiskFull
                | ErrorCode::CannotOpen
                | ErrorCode::OutOfMemory
        )
    );
    BackendError {
        message: error.to_string(),
        transient,
    }
}

fn row_failure(error: rusqlite::Error) -> RowError {
    RowError::Backend(failure(error))
}

/// A read model in a SQLite database.
pub struct SqliteReadModel {
    db: Connection,
    /// Held while open for writing: one process writes a read model at a time.
    _lock: Option<crate::store::lock::WriteLock>,
}

impl SqliteReadModel {
    /// Opens (creating if needed) the read model in the database at `path` for writing, taking
    /// its lock (`<path>.lock`): an error names the file when another process has it open.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, BackendError> {
        let lock = crate::store::lock::take(path.as_ref())
            .map_err(|e| BackendError::permanent(e.to_string()))?;
        let model = Self::ready(Connection::open(path).map_err(failure)?)?;
        Ok(Self {
            _lock: Some(lock),
            ..model
        })
    }

    /// A read model in memory, gone when dropped (for tests).
    pub fn open_in_memory() -> Result<Self, BackendError> {
        Self::ready(Connection::open_in_memory().map_err(failure)?)
    }

    fn ready(db: Connection) -> Result<Self, BackendError> {
        // NORMAL, not FULL: a power loss may undo the last batches, but rows and checkpoint
        // together, and the runner then replays them from the store. One fsync per append is the
        // store's; read models need not pay it again.
        db.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000;",
        )
        .map_err(failure)?;
        db.execute_batch(BOOKKEEPING).map_err(failure)?;
        migrate(&db).map_err(failure)?;
        Ok(Self { db, _lock: None })
    }

    /// Opens the existing read model at `path` for reading only (queries beside a runner).
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Self, BackendError> {
        let db = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(failure)?;
        Ok(Self { db, _lock: None })
    }
}

/// A transaction of one projection's read model in SQLite.
pub struct SqliteTransaction<'c> {
    db: rusqlite::Transaction<'c>,
    projection: &'static str,
}

impl Backend for SqliteReadModel {
    type Transaction<'a> = SqliteTransaction<'a>;

    fn begin(&mut self, projection: &'static str) -> Result<SqliteTransaction<'_>, BackendError> {
        Ok(SqliteTransaction {
            db: self.db.transaction().map_err(failure)?,
            projection,
        })
    }

    fn read<T>(
        &self,
        projection: &str,
        read: impl FnOnce(u64, &dyn Transaction) -> T,
    ) -> Result<T, BackendError> {
        // One read transaction: the rows and the checkpoint are of the same moment.
        let snapshot = self.db.unchecked_transaction().map_err(failure)?;
        let position = checkpoint_of(&snapshot, projection).map_err(failure)?;
        Ok(read(position, &Rows(&snapshot, projection)))
    }

    fn dead_letters(&self, projection: &str) -> Result<Vec<DeadLetter>, BackendError> {
        let mut statement = self
            .db
            .prepare(
                "SELECT id, position, stream, event_type, version, error, attempts FROM eventsmith_dead_letters
                 WHERE projection = ?1 AND status = 'open' ORDER BY id",
            )
            .map_err(failure)?;
        let rows = statement
            .query_map([projection], |r| {
                Ok(DeadLetter {
                    id: r.get(0)?,
                    position: r.get::<_, i64>(1)? as u64,
                    stream: r.get(2)?,
                    event_type: r.get(3)?,
                    version: r.get(4)?,
                    error: r.get(5)?,
                    attempts: r.get(6)?,
                })
            })
            .map_err(failure)?;
        rows.collect::<Result<_, _>>().map_err(failure)
    }

    fn failed_again(&mut self, projection: &str, id: i64, error: &str) -> Result<(), BackendError> {
        self.db
            .execute(
                "UPDATE eventsmith_dead_letters SET attempts = attempts + 1, error = ?3
                 WHERE id = ?1 AND projection = ?2",
                params![id, projection, error],
            )
            .map(|_| ())
            .map_err(failure)
    }

    fn skip_dead_letter(&mut self, projection: &str, id: i64) -> Result<bool, BackendError> {
        let skipped = self
            .db
            .execute(
                "UPDATE eventsmith_dead_letters SET status = 'skipped', resolved = (SELECT COALESCE(MAX(resolved), 0) + 1 FROM eventsmith_dead_letters)
                 WHERE id = ?1 AND projection = ?2 AND status = 'open'",
                params![id, projection],
            )
            .map_err(failure)?;
        prune_resolved(&self.db, projection).map_err(failure)?;
        Ok(skipped > 0)
    }
}

/// Brings a read model of an earlier release in step: its resolved dead letters had no
/// resolution order (they go first when pruning).
fn migrate(db: &Connection) -> rusqlite::Result<()> {
    let has_resolved = db
        .prepare(
            "SELECT 1 FROM pragma_table_info('eventsmith_dead_letters') WHERE name = 'resolved'",
        )?
        .exists([])?;
    if !has_resolved {
        db.execute_batch("ALTER TABLE eventsmith_dead_letters ADD COLUMN resolved INTEGER")?;
    }
    Ok(())
}

fn prune_resolved(db: &Connection, projection: &str) -> rusqlite::Result<usize> {
    db.prepare_cached(
        "DELETE FROM eventsmith_dead_letters WHERE projection = ?1 AND status <> 'open' AND id NOT IN
         (SELECT id FROM eventsmith_dead_letters WHERE projection = ?1 AND status <> 'open' ORDER BY resolved DESC LIMIT ?2)",
    )?
    .execute(params![projection, RESOLVED_KEPT])
}

fn checkpoint_of(db: &Connection, projection: &str) -> rusqlite::Result<u64> {
    let position = db
        .query_row(
            "SELECT position FROM eventsmith_checkpoints WHERE projection = ?1",
            [projection],
            |r| r.get::<_, i64>(0),
        )
        .optional()?;
    Ok(position.map_or(0, |p| p as u64))
}

fn sql_type(kind: ColumnKind) -> &'static str {
    match kind {
        ColumnKind::Text | ColumnKind::Json => "TEXT",
        ColumnKind::Integer | ColumnKind::Boolean => "INTEGER",
        ColumnKind::Real => "REAL",
    }
}

fn create(db: &Connection, table: &TableSpec) -> rusqlite::Result<()> {
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
    db.execute_batch(&format!(
        "CREATE TABLE {} ({})",
        quoted(table.name),
        columns.join(", ")
    ))?;
    db.execute(
        "INSERT INTO eventsmith_tables (name, columns) VALUES (?1, ?2)
         ON CONFLICT (name) DO UPDATE SET columns = ?2",
        [table.name, &setup::recorded(table)],
    )?;
    Ok(())
}

fn ensure(db: &Connection, table: &TableSpec) -> rusqlite::Result<Setup> {
    let recorded: Option<String> = db
        .query_row(
            "SELECT columns FROM eventsmith_tables WHERE name = ?1",
            [table.name],
            |r| r.get(0),
        )
        .optional()?;
    let drop = format!("DROP TABLE IF EXISTS {}", quoted(table.name));
    Ok(match setup::plan(recorded.as_deref(), table) {
        Plan::Unchanged => Setup::Unchanged,
        Plan::Add(columns) => {
            for column in columns {
                db.execute_batch(&format!(
                    "ALTER TABLE {} ADD COLUMN {} {}",
                    quoted(table.name),
                    quoted(column.name),
                    sql_type(column.kind)
                ))?;
            }
            db.execute(
                "UPDATE eventsmith_tables SET columns = ?2 WHERE name = ?1",
                [table.name, &setup::recorded(table)],
            )?;
            Setup::Migrated
        }
        Plan::Create => {
            db.execute_batch(&drop)?;
            create(db, table)?;
            Setup::Created
        }
        Plan::Recreate => {
            db.execute_batch(&drop)?;
            create(db, table)?;
            Setup::Recreated
        }
    })
}

/// Rows and lookups of `projection` on a connection (inside a transaction).
struct Rows<'a>(&'a Connection, &'a str);

/// The statement that inserts or replaces a row of `table`, written once per table and thread:
/// batches upsert many rows, and building the text each time cost as much as running it.
fn upsert_sql(table: &TableSpec) -> std::rc::Rc<str> {
    type Written = std::collections::HashMap<(&'static str, usize), std::rc::Rc<str>>;
    thread_local! {
        static WRITTEN: std::cell::RefCell<Written> = std::cell::RefCell::default();
    }
    let id = (table.name, table.columns.as_ptr() as usize);
    WRITTEN.with(|written| {
        std::rc::Rc::clone(written.borrow_mut().entry(id).or_insert_with(|| {
            let names: Vec<String> = table.columns.iter().map(|c| quoted(c.name)).collect();
            let slots: Vec<String> = (1..=names.len()).map(|i| format!("?{i}")).collect();
            let updates: Vec<String> = names
                .iter()
                .map(|n| format!("{n} = excluded.{n}"))
                .collect();
            format!(
                "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT ({}) DO UPDATE SET {}",
                quoted(table.name),
                names.join(", "),
                slots.join(", "),
                quoted(table.key),
                updates.join(", ")
            )
            .into()
        }))
    })
}

fn shape(table: &TableSpec, reason: impl std::fmt::Display) -> RowError {
    RowError::Shape {
        table: table.name,
        reason: reason.to_string(),
    }
}

fn select(table: &TableSpec) -> String {
    let columns: Vec<String> = table.columns.iter().map(|c| quoted(c.name)).collect();
    format!("SELECT {} FROM {}", columns.join(", "), quoted(table.name))
}

/// A stored row as a JSON object of its columns that are not null.
fn decode(table: &TableSpec, row: &rusqlite::Row<'_>) -> Result<Map<String, Value>, RowError> {
    let mut object = Map::new();
    for (index, column) in table.columns.iter().enumerate() {
        let value = match (column.kind, row.get_ref(index).map_err(row_failure)?) {
            (_, ValueRef::Null) => continue,
            (ColumnKind::Boolean, ValueRef::Integer(n)) => Value::Bool(n != 0),
            (_, ValueRef::Integer(n)) => Value::Number(n.into()),
            (_, ValueRef::Real(x)) => Number::from_f64(x)
                .map(Value::Number)
                .ok_or_else(|| shape(table, format!("`{}` is not finite", column.name)))?,
            (ColumnKind::Json, ValueRef::Text(text)) => {
                serde_json::from_slice(text).map_err(|e| shape(table, e))?
            }
            (_, ValueRef::Text(text)) => Value::String(
                std::str::from_utf8(text)
                    .map_err(|e| shape(table, e))?
                    .to_owned(),
            ),
            (_, ValueRef::Blob(_)) => {
                return Err(shape(table, format!("`{}` holds a blob", column.name)));
            }
        };
        object.insert(column.name.to_owned(), value);
    }
    Ok(object)
}

impl Transaction for Rows<'_> {
    fn get(&self, table: &TableSpec, key: &str) -> Result<Option<Map<String, Value>>, RowError> {
        let sql = format!("{} WHERE {} = ?1", select(table), quoted(table.key));
        let mut statement = self.0.prepare_cached(&sql).map_err(row_failure)?;
        let mut rows = statement.query([key]).map_err(row_failure)?;
        match rows.next().map_err(row_failure)? {
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
        for (index, (name, _)) in filters.iter().enumerate() {
            let column = table
                .column(name)
                .ok_or_else(|| shape(table, format!("there is no column `{name}`")))?;
            conditions.push(match column.kind {
                // `?` compares as text with text, and as numbers with numbers.
                ColumnKind::Boolean => format!(
                    "{} = (CASE ?{} WHEN 'true' THEN 1 WHEN 'false' THEN 0 ELSE ?{} END)",
                    quoted(name),
                    index + 1,
                    index + 1
                ),
                _ => format!("{} = ?{}", quoted(name), index + 1),
            });
        }
        let filter = if conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conditions.join(" AND "))
        };
        let sql = format!(
            "{}{filter} ORDER BY {} LIMIT {}",
            select(table),
            quoted(table.key),
            limit.min(i64::MAX as usize)
        );
        let mut statement = self.0.prepare(&sql).map_err(row_failure)?;
        let mut rows = statement
            .query(params_from_iter(filters.iter().map(|(_, v)| *v)))
            .map_err(row_failure)?;
        let mut found = Vec::new();
        while let Some(row) = rows.next().map_err(row_failure)? {
            found.push(decode(table, row)?);
        }
        Ok(found)
    }

    fn upsert(&self, table: &TableSpec, row: &Map<String, Value>) -> Result<(), RowError> {
        let values = table
            .columns
            .iter()
            .map(|column| match (column.kind, row.get(column.name)) {
                (_, None | Some(Value::Null)) => Sql::Null,
                (ColumnKind::Json, Some(value)) => Sql::Text(value.to_string()),
                (_, Some(Value::String(text))) => Sql::Text(text.clone()),
                (_, Some(Value::Bool(flag))) => Sql::Integer(i64::from(*flag)),
                (ColumnKind::Real, Some(Value::Number(n))) => {
                    Sql::Real(n.as_f64().unwrap_or_default())
                }
                (_, Some(Value::Number(n))) => match n.as_i64() {
                    Some(n) => Sql::Integer(n),
                    None => Sql::Real(n.as_f64().unwrap_or_default()),
                },
                (_, Some(value)) => Sql::Text(value.to_string()),
            });
        let sql = upsert_sql(table);
        self.0
            .prepare_cached(&sql)
            .and_then(|mut statement| statement.execute(params_from_iter(values)))
            .map_err(row_failure)?;
        Ok(())
    }

    fn delete(&self, table: &TableSpec, key: &str) -> Result<bool, RowError> {
        let sql = format!(
            "DELETE FROM {} WHERE {} = ?1",
            quoted(table.name),
            quoted(table.key)
        );
        self.0
            .prepare_cached(&sql)
            .and_then(|mut statement| statement.execute([key]))
            .map(|deleted| deleted > 0)
            .map_err(row_failure)
    }

    fn lookup_get(&self, name: &str, key: &str) -> Result<Option<Value>, RowError> {
        let text: Option<String> = self
            .0
            .prepare_cached(
                "SELECT value FROM eventsmith_lookups WHERE projection = ?1 AND name = ?2 AND key = ?3",
            )
            .and_then(|mut s| s.query_row([self.1, name, key], |r| r.get(0)).optional())
            .map_err(row_failure)?;
        text.map(|text| {
            serde_json::from_str(&text).map_err(|e| RowError::Shape {
                table: "eventsmith_lookups",
                reason: e.to_string(),
            })
        })
        .transpose()
    }

    fn lookup_put(&self, name: &str, key: &str, value: &Value) -> Result<(), RowError> {
        self.0
            .prepare_cached(
                "INSERT INTO eventsmith_lookups (projection, name, key, value) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (projection, name, key) DO UPDATE SET value = ?4",
            )
            .and_then(|mut s| s.execute([self.1, name, key, &value.to_string()]))
            .map(|_| ())
            .map_err(row_failure)
    }

    fn lookup_delete(&self, name: &str, key: &str) -> Result<bool, RowError> {
        self.0
            .prepare_cached(
                "DELETE FROM eventsmith_lookups WHERE projection = ?1 AND name = ?2 AND key = ?3",
            )
            .and_then(|mut s| s.execute([self.1, name, key]))
            .map(|deleted| deleted > 0)
            .map_err(row_failure)
    }
}

impl SqliteTransaction<'_> {
    fn rows(&self) -> Rows<'_> {
        Rows(&self.db, self.projection)
    }
}

impl Transaction for SqliteTransaction<'_> {
    fn get(&self, table: &TableSpec, key: &str) -> Result<Option<Map<String, Value>>, RowError> {
        self.rows().get(table, key)
    }

    fn list(
        &self,
        table: &TableSpec,
        filters: &[(&str, &str)],
        limit: usize,
    ) -> Result<Vec<Map<String, Value>>, RowError> {
        self.rows().list(table, filters, limit)
    }

    fn upsert(&self, table: &TableSpec, row: &Map<String, Value>) -> Result<(), RowError> {
        self.rows().upsert(table, row)
    }

    fn delete(&self, table: &TableSpec, key: &str) -> Result<bool, RowError> {
        self.rows().delete(table, key)
    }

    fn lookup_get(&self, name: &str, key: &str) -> Result<Option<Value>, RowError> {
        self.rows().lookup_get(name, key)
    }

    fn lookup_put(&self, name: &str, key: &str, value: &Value) -> Result<(), RowError> {
        self.rows().lookup_put(name, key, value)
    }

    fn lookup_delete(&self, name: &str, key: &str) -> Result<bool, RowError> {
        self.rows().lookup_delete(name, key)
    }
}

impl BackendTransaction for SqliteTransaction<'_> {
    fn ensure(&self, table: &TableSpec) -> Result<Setup, BackendError> {
        ensure(&self.db, table).map_err(failure)
    }

    fn clear(&self, table: &TableSpec) -> Result<(), BackendError> {
        self.db
            .execute_batch(&format!("DELETE FROM {}", quoted(table.name)))
            .map_err(failure)
    }

    fn start_over(&self) -> Result<(), BackendError> {
        for sql in [
            "DELETE FROM eventsmith_checkpoints WHERE projection = ?1",
            "DELETE FROM eventsmith_dead_letters WHERE projection = ?1 AND status = 'open'",
            "DELETE FROM eventsmith_lookups WHERE projection = ?1",
        ] {
            self.db.execute(sql, [self.projection]).map_err(failure)?;
        }
        Ok(())
    }

    fn checkpoint(&self, from: u64, to: u64) -> Result<(), BackendError> {
        // A missing row is a checkpoint at 0 (a fresh or restarted projection).
        let sql = if from == 0 {
            "INSERT INTO eventsmith_checkpoints (projection, position) VALUES (?1, ?2)
             ON CONFLICT (projection) DO UPDATE SET position = ?2
             WHERE eventsmith_checkpoints.position = ?3"
        } else {
            "UPDATE eventsmith_checkpoints SET position = ?2 WHERE projection = ?1 AND position = ?3"
        };
        let moved = self
            .db
            .prepare_cached(sql)
            .and_then(|mut s| s.execute(params![self.projection, to as i64, from as i64]))
            .map_err(failure)?;
        if moved == 0 {
            let at = checkpoint_of(&self.db, self.projection).map_err(failure)?;
            return Err(BackendError::permanent(format!(
                "the checkpoint of `{}` is at {at}, not {from}: another runner is writing this read model",
                self.projection
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
        self.db
            .execute(
                "INSERT INTO eventsmith_dead_letters (projection, position, stream, event_type, version, data, error, attempts)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    self.projection,
                    envelope.position as i64,
                    envelope.stream,
                    envelope.event_type,
                    envelope.version,
                    envelope.data,
                    error,
                    attempts,
                ],
            )
            .map(|_| ())
            .map_err(failure)
    }

    fn close_dead_letter(&self, id: i64) -> Result<(), BackendError> {
        self.db
            .execute(
                "UPDATE eventsmith_dead_letters SET status = 'retried', resolved = (SELECT COALESCE(MAX(resolved), 0) + 1 FROM eventsmith_dead_letters)
                 WHERE id = ?1 AND projection = ?2",
                params![id, self.projection],
            )
            .and_then(|_| prune_resolved(&self.db, self.projection))
            .map(|_| ())
            .map_err(failure)
    }

    fn commit(self) -> Result<(), BackendError> {
        self.db.commit().map_err(failure)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_checkpoint_moves_only_from_where_the_runner_read_it() {
        use super::super::{Backend, BackendTransaction};
        let dir = tempfile::tempdir().unwrap();
        // Two writers of one file, as two processes would be without the lock.
        let open = || {
            super::SqliteReadModel::ready(Connection::open(dir.path().join("read.db")).unwrap())
                .unwrap()
        };
        let (mut first, mut second) = (open(), open());
        let transaction = first.begin("p").unwrap();
        transaction.checkpoint(0, 5).unwrap();
        transaction.commit().unwrap();
        // A second runner that read 0 before the first committed must not apply events again.
        let transaction = second.begin("p").unwrap();
        let error = transaction.checkpoint(0, 7).unwrap_err();
        assert!(error.to_string().contains("is at 5, not 0"), "{error}");
        drop(transaction);
        let transaction = second.begin("p").unwrap();
        transaction.checkpoint(5, 7).unwrap();
        transaction.commit().unwrap();
        assert_eq!(first.read("p", |position, _| position).unwrap(), 7);
    }

    use super::*;

    #[test]
    fn busy_and_locked_databases_are_transient() {
        let busy = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            None,
        );
        assert!(failure(busy).transient);
        let constraint = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT),
            None,
        );
        assert!(!failure(constraint).transient);
        assert!(!failure(rusqlite::Error::QueryReturnedNoRows).transient);
    }
}

#[cfg(test)]
mod pruning {
    use super::*;

    #[test]
    fn only_the_latest_resolved_dead_letters_are_kept() {
        let db = Connection::open_in_memory().unwrap();
        db.execute_batch(BOOKKEEPING).unwrap();
        let insert = "INSERT INTO eventsmith_dead_letters
            (projection, position, stream, event_type, version, data, error, attempts, status, resolved)
            VALUES (?1, ?2, 's', 't', 1, x'7b7d', 'e', 1, ?3, ?4)";
        // Resolved in the order of their positions, whatever their ids: the newest ids first.
        for n in (0..RESOLVED_KEPT + 10).rev() {
            db.execute(insert, params!["p", n, "retried", n + 1])
                .unwrap();
        }
        db.execute(insert, params!["p", 0, "open", None::<i64>])
            .unwrap();
        db.execute(insert, params!["other", 0, "skipped", 1])
            .unwrap();
        assert_eq!(prune_resolved(&db, "p").unwrap(), 10);
        let count = |sql: &str| db.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
        assert_eq!(
            count(
                "SELECT COUNT(*) FROM eventsmith_dead_letters WHERE projection = 'p' AND status = 'retried'"
            ),
            RESOLVED_KEPT
        );
        assert_eq!(
            count("SELECT MIN(position) FROM eventsmith_dead_letters WHERE status = 'retried'"),
            10,
            "the oldest went"
        );
        assert_eq!(
            count("SELECT COUNT(*) FROM eventsmith_dead_letters WHERE status <> 'retried'"),
            2,
            "open letters and other projections' stay"
        );
    }
}
