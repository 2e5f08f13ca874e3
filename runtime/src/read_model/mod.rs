//! Typed read models, whatever database holds them. A [`Row`] type (generated from a projection's
//! row schema) names its table, key and columns; a [`Table`] reads and writes rows of it through a
//! backend [`Transaction`] (the projection runner's, so rows change with the checkpoint); a
//! [`Lookup`] keeps a handler's extra state (a key → JSON value map) in the same transaction.
//!
//! A backend implements [`Backend`] and [`BackendTransaction`]: tables that follow their row
//! schema ([`Setup`]), the checkpoint, dead letters and lookups. SQLite's is [`sqlite`] (feature
//! `sqlite`), PostgreSQL's [`postgres`] (feature `postgres`).

#[cfg(feature = "postgres")]
pub mod postgres;
mod setup;
#[cfg(feature = "sqlite")]
pub mod sqlite;

use crate::projection::DeadLetter;
use crate::store::Envelope;
use serde_json::{Map, Value};

/// How a column stores its property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// Strings, formats and string enums.
    Text,
    /// Integers.
    Integer,
    /// Numbers.
    Real,
    /// Booleans.
    Boolean,
    /// Anything else, as JSON.
    Json,
}

impl ColumnKind {
    /// Its name, as backends record it: `text`, `integer`, `real`, `boolean` or `json`.
    pub fn name(self) -> &'static str {
        match self {
            ColumnKind::Text => "text",
            ColumnKind::Integer => "integer",
            ColumnKind::Real => "real",
            ColumnKind::Boolean => "boolean",
            ColumnKind::Json => "json",
        }
    }
}

/// One column: a top-level property of the row schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// The property's JSON name, which is the column's name.
    pub name: &'static str,
    /// How it is stored.
    pub kind: ColumnKind,
    /// Whether every row has it (`NOT NULL`).
    pub required: bool,
}

/// A read model's row type: what generated row types implement.
pub trait Row: serde::Serialize + serde::de::DeserializeOwned {
    /// The table (the projection's name).
    const TABLE: &'static str;
    /// The key property (`x-eventsmith.key`).
    const KEY: &'static str;
    /// Every declared top-level property, in schema order.
    const COLUMNS: &'static [Column];
}

/// A table as a backend sees it: a [`Row`] type's table, key and columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableSpec {
    /// The table's name.
    pub name: &'static str,
    /// The key column.
    pub key: &'static str,
    /// Every column, in schema order.
    pub columns: &'static [Column],
}

impl TableSpec {
    /// The table of rows `R`.
    pub const fn of<R: Row>() -> Self {
        Self {
            name: R::TABLE,
            key: R::KEY,
            columns: R::COLUMNS,
        }
    }

    /// The column called `name`.
    pub fn column(&self, name: &str) -> Option<&'static Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// A projection whose read model is one table of rows: what lets a service answer queries on it.
pub trait Tabled {
    /// Its rows.
    type Row: Row;
}

/// What a backend did to a table when the runner opened it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setup {
    /// The table was there, as the row schema wants it.
    Unchanged,
    /// The table was new (the runner replays every event into it).
    Created,
    /// Columns for new optional properties were added; existing rows keep their values.
    Migrated,
    /// The row schema changed in a way existing rows cannot follow: the table was recreated
    /// empty, and every event must be replayed into it.
    Recreated,
}

/// A backend's failure: what it said, and whether trying again later may succeed (the database
/// busy or locked, I/O) or not.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct BackendError {
    /// What went wrong.
    pub message: String,
    /// Whether it is worth retrying.
    pub transient: bool,
}

impl BackendError {
    /// A failure that retrying will not fix.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            transient: false,
        }
    }

    /// A failure worth retrying.
    pub fn transient(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            transient: true,
        }
    }
}

/// Why a row could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum RowError {
    /// The backend failed.
    #[error("the read model failed: {0}")]
    Backend(#[from] BackendError),
    /// A row does not match its schema (a stored one, or one being written).
    #[error("a `{table}` row does not match its schema: {reason}")]
    Shape {
        /// The table.
        table: &'static str,
        /// What is wrong.
        reason: String,
    },
}

impl RowError {
    /// Whether trying again later may succeed (the backend was busy, say).
    pub fn is_transient(&self) -> bool {
        matches!(self, RowError::Backend(error) if error.transient)
    }
}

/// A read model's transaction as handlers see it: rows by table, and named lookups. Rows travel
/// as JSON objects holding the columns that are not null; [`Table`] types them.
pub trait Transaction {
    /// The row of `table` with key `key`.
    fn get(&self, table: &TableSpec, key: &str) -> Result<Option<Map<String, Value>>, RowError>;
    /// Rows of `table` whose columns equal the given texts (every filter must hold; each names a
    /// column), in key order, at most `limit`.
    fn list(
        &self,
        table: &TableSpec,
        filters: &[(&str, &str)],
        limit: usize,
    ) -> Result<Vec<Map<String, Value>>, RowError>;
    /// Inserts `row` (which has the key and every required column), or replaces the row with
    /// its key.
    fn upsert(&self, table: &TableSpec, row: &Map<String, Value>) -> Result<(), RowError>;
    /// Deletes the row with key `key`; whether there was one.
    fn delete(&self, table: &TableSpec, key: &str) -> Result<bool, RowError>;
    /// The value under `key` in the projection's lookup `name`.
    fn lookup_get(&self, name: &str, key: &str) -> Result<Option<Value>, RowError>;
    /// Sets the value under `key` in lookup `name`.
    fn lookup_put(&self, name: &str, key: &str, value: &Value) -> Result<(), RowError>;
    /// Removes `key` from lookup `name`; whether it was there.
    fn lookup_delete(&self, name: &str, key: &str) -> Result<bool, RowError>;
}

/// The table of rows `R`, within a read model's transaction.
pub struct Table<'t, R> {
    transaction: &'t dyn Transaction,
    row: std::marker::PhantomData<fn() -> R>,
}

impl<'t, R: Row> Table<'t, R> {
    const SPEC: TableSpec = TableSpec::of::<R>();

    /// The table within `transaction`.
    pub fn new(transaction: &'t dyn Transaction) -> Self {
        Self {
            transaction,
            row: std::marker::PhantomData,
        }
    }

    /// The transaction, for the other tables or lookups of the read model.
    pub fn transaction(&self) -> &'t dyn Transaction {
        self.transaction
    }

    fn shape(reason: impl std::fmt::Display) -> RowError {
        RowError::Shape {
            table: R::TABLE,
            reason: reason.to_string(),
        }
    }

    fn decode(object: Map<String, Value>) -> Result<R, RowError> {
        serde_json::from_value(Value::Object(object)).map_err(Self::shape)
    }

    /// The row with key `key`.
    pub fn get(&self, key: &str) -> Result<Option<R>, RowError> {
        self.transaction
            .get(&Self::SPEC, key)?
            .map(Self::decode)
            .transpose()
    }

    /// Rows whose columns equal the given texts (every filter must hold), in key order, at most
    /// `limit`. A filter on a column the row does not have is an error.
    pub fn list(&self, filters: &[(&str, &str)], limit: usize) -> Result<Vec<R>, RowError> {
        if let Some((name, _)) = filters.iter().find(|(n, _)| Self::SPEC.column(n).is_none()) {
            return Err(Self::shape(format!("there is no column `{name}`")));
        }
        self.transaction
            .list(&Self::SPEC, filters, limit)?
            .into_iter()
            .map(Self::decode)
            .collect()
    }

    /// Inserts `row`, or replaces the row with its key.
    pub fn upsert(&self, row: &R) -> Result<(), RowError> {
        let Value::Object(mut object) = serde_json::to_value(row).map_err(Self::shape)? else {
            return Err(Self::shape("a row is not a JSON object"));
        };
        // Only declared columns are stored; nulls are absent values.
        object.retain(|name, value| !value.is_null() && Self::SPEC.column(name).is_some());
        if let Some(missing) = R::COLUMNS
            .iter()
            .find(|c| (c.required || c.name == R::KEY) && !object.contains_key(c.name))
        {
            return Err(Self::shape(format!("`{}` is missing", missing.name)));
        }
        self.transaction.upsert(&Self::SPEC, &object)
    }

    /// Deletes the row with key `key`; whether there was one.
    pub fn delete(&self, key: &str) -> Result<bool, RowError> {
        self.transaction.delete(&Self::SPEC, key)
    }

    /// The projection's lookup `name`, holding values `V`: state a handler keeps beside its rows
    /// (which customer placed an order, say), changed in the same transaction.
    pub fn lookup<V: serde::Serialize + serde::de::DeserializeOwned>(
        &self,
        name: &'static str,
    ) -> Lookup<'t, V> {
        Lookup::new(self.transaction, name)
    }
}

/// A named map from keys to values `V` (stored as JSON) in a read model's transaction, emptied
/// with the read model (on a rebuild, or when its tables are recreated).
pub struct Lookup<'t, V> {
    transaction: &'t dyn Transaction,
    name: &'static str,
    value: std::marker::PhantomData<fn() -> V>,
}

impl<'t, V: serde::Serialize + serde::de::DeserializeOwned> Lookup<'t, V> {
    /// The lookup `name` within `transaction`.
    pub fn new(transaction: &'t dyn Transaction, name: &'static str) -> Self {
        Self {
            transaction,
            name,
            value: std::marker::PhantomData,
        }
    }

    fn shape(&self, reason: impl std::fmt::Display) -> RowError {
        RowError::Shape {
            table: self.name,
            reason: reason.to_string(),
        }
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Result<Option<V>, RowError> {
        self.transaction
            .lookup_get(self.name, key)?
            .map(|value| serde_json::from_value(value).map_err(|e| self.shape(e)))
            .transpose()
    }

    /// Sets the value under `key`.
    pub fn put(&self, key: &str, value: &V) -> Result<(), RowError> {
        let value = serde_json::to_value(value).map_err(|e| self.shape(e))?;
        self.transaction.lookup_put(self.name, key, &value)
    }

    /// Removes `key`; whether it was there.
    pub fn delete(&self, key: &str) -> Result<bool, RowError> {
        self.transaction.lookup_delete(self.name, key)
    }
}

/// Where a projection runner keeps a read model: its tables, checkpoint, dead letters and lookups,
/// each projection's apart. The runner (written once, for every backend) drives it.
pub trait Backend: Send {
    /// A transaction of one projection's read model.
    type Transaction<'a>: BackendTransaction
    where
        Self: 'a;

    /// Begins a transaction of `projection`'s read model; dropping it uncommitted rolls it back.
    fn begin(&mut self, projection: &'static str) -> Result<Self::Transaction<'_>, BackendError>;

    /// Runs `read` on one consistent snapshot of `projection`'s read model, with the checkpoint
    /// (the last global position taken into account; 0 before any) that snapshot reflects.
    fn read<T>(
        &self,
        projection: &str,
        read: impl FnOnce(u64, &dyn Transaction) -> T,
    ) -> Result<T, BackendError>;

    /// `projection`'s open dead letters, oldest first.
    fn dead_letters(&self, projection: &str) -> Result<Vec<DeadLetter>, BackendError>;

    /// Records another failed attempt at dead letter `id`, with its error.
    fn failed_again(&mut self, projection: &str, id: i64, error: &str) -> Result<(), BackendError>;

    /// Gives up on open dead letter `id`; whether there was one.
    fn skip_dead_letter(&mut self, projection: &str, id: i64) -> Result<bool, BackendError>;

    /// Takes `projection`'s lease if no one holds it: one runner at a time writes a projection,
    /// across the processes sharing the database. The lease goes with this backend's connection
    /// (its process died) or with [`release`](Self::release). A backend whose database one
    /// process holds at a time (SQLite's, by its lock file) always gives it.
    fn claim(&mut self, projection: &str) -> Result<bool, BackendError> {
        let _ = projection;
        Ok(true)
    }

    /// Gives up `projection`'s lease.
    fn release(&mut self, projection: &str) -> Result<(), BackendError> {
        let _ = projection;
        Ok(())
    }

    /// Whether another process waits for `projection`'s lease (an operator's `replay`, say):
    /// a runner holding it gives it up between batches.
    fn lease_wanted(&self, projection: &str) -> Result<bool, BackendError> {
        let _ = projection;
        Ok(false)
    }

    /// Waits up to `patience` for `projection`'s lease; whether it got it.
    fn wait_for_lease(
        &mut self,
        projection: &str,
        patience: std::time::Duration,
    ) -> Result<bool, BackendError> {
        let _ = (projection, patience);
        Ok(true)
    }
}

/// What the runner does in a read model's transaction, besides what handlers do.
pub trait BackendTransaction: Transaction {
    /// Creates `table`, adds columns for new optional properties, or recreates it when the row
    /// schema changed otherwise (see [`Setup`]).
    fn ensure(&self, table: &TableSpec) -> Result<Setup, BackendError>;
    /// Deletes every row of `table`.
    fn clear(&self, table: &TableSpec) -> Result<(), BackendError>;
    /// Forgets the projection's checkpoint, open dead letters and lookups: it starts over.
    fn start_over(&self) -> Result<(), BackendError>;
    /// Records that the projection has taken every event up to `to` into account, if its
    /// checkpoint is still at `from` (compare-and-set); otherwise another runner moved it, and
    /// this fails with a permanent error (the transaction must not commit).
    fn checkpoint(&self, from: u64, to: u64) -> Result<(), BackendError>;
    /// Records `envelope` as a dead letter after `attempts` failed, the last with `error`.
    fn dead_letter(
        &self,
        envelope: &Envelope,
        error: &str,
        attempts: u32,
    ) -> Result<(), BackendError>;
    /// Closes dead letter `id`: it went through.
    fn close_dead_letter(&self, id: i64) -> Result<(), BackendError>;
    /// Commits.
    fn commit(self) -> Result<(), BackendError>
    where
        Self: Sized;
}
