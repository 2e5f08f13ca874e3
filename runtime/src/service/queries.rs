//! Reads: one stream, the global feed, and projection rows with the position they reflect.

use super::problem::Problem;
use crate::read_model::sqlite::SqliteReadModel;
use crate::read_model::{Backend, Row, RowError, Table};
use serde_json::Value;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

/// A read's answer, later.
pub(crate) type Reading<T> = Pin<Box<dyn Future<Output = Result<Answer<T>, Problem>> + Send>>;

/// Rows of one projection, read from its database, each answer with the position it reflects.
pub(crate) trait Query: Send + Sync {
    /// The row with key `key`, and the projection's position.
    fn get(&self, key: String) -> Reading<Option<Value>>;
    /// Rows matching every filter, and the projection's position.
    fn list(&self, filters: Vec<(String, String)>, limit: usize) -> Reading<Vec<Value>>;
    /// The projection's position alone.
    fn position(&self) -> Reading<()>;
}

/// An answer and the global position the read model reflected when it was read.
pub(crate) struct Answer<T> {
    pub value: T,
    pub position: u64,
}

/// Where a projection's rows are read from.
pub(crate) enum Source {
    /// The SQLite database at this path, opened read-only for each read.
    Sqlite(PathBuf),
    /// A PostgreSQL schema, through a few connections kept open.
    #[cfg(feature = "postgres")]
    Postgres(std::sync::Arc<PostgresReaders>),
}

/// Read-model connections to a PostgreSQL schema, kept for the next read.
#[cfg(feature = "postgres")]
pub(crate) struct PostgresReaders {
    url: String,
    schema: String,
    idle: std::sync::Mutex<Vec<crate::read_model::postgres::PostgresReadModel>>,
}

#[cfg(feature = "postgres")]
impl PostgresReaders {
    /// Connections kept idle at most; more are opened while reads pile up, and closed after.
    const KEPT: usize = 8;

    pub(crate) fn new(url: &str, schema: &str) -> Self {
        Self {
            url: url.to_owned(),
            schema: schema.to_owned(),
            idle: std::sync::Mutex::new(Vec::new()),
        }
    }

    fn idle(
        &self,
    ) -> std::sync::MutexGuard<'_, Vec<crate::read_model::postgres::PostgresReadModel>> {
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `read` on a connection (blocking).
    fn read<T>(
        &self,
        read: impl FnOnce(&crate::read_model::postgres::PostgresReadModel) -> T,
    ) -> Result<T, crate::read_model::BackendError> {
        let taken = self.idle().pop();
        let model = match taken {
            Some(model) => model,
            None => crate::read_model::postgres::PostgresReadModel::open(&self.url, &self.schema)?,
        };
        let value = read(&model);
        let mut idle = self.idle();
        if idle.len() < Self::KEPT {
            idle.push(model);
        }
        Ok(value)
    }
}

/// A projection's rows of type `R`.
pub(crate) struct TableQuery<R> {
    pub source: Source,
    pub name: &'static str,
    pub row: std::marker::PhantomData<fn() -> R>,
}

impl<R: Row + 'static> TableQuery<R> {
    /// Runs `read` in one read transaction with the checkpoint, off the async executor.
    fn read<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Table<'_, R>) -> Result<T, RowError> + Send + 'static,
    ) -> Reading<T> {
        let source = match &self.source {
            Source::Sqlite(path) => Source::Sqlite(path.clone()),
            #[cfg(feature = "postgres")]
            Source::Postgres(readers) => Source::Postgres(std::sync::Arc::clone(readers)),
        };
        let name = self.name;
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let internal =
                    |e: crate::read_model::BackendError| Problem::internal(e.to_string());
                let snapshot = |position, rows: &dyn crate::read_model::Transaction| {
                    (read(&Table::new(rows)), position)
                };
                let (value, position) = match source {
                    Source::Sqlite(path) => SqliteReadModel::open_read_only(&path)
                        .and_then(|model| model.read(name, snapshot)),
                    #[cfg(feature = "postgres")]
                    Source::Postgres(readers) => readers
                        .read(|model| model.read(name, snapshot))
                        .and_then(|read| read),
                }
                .map_err(internal)?;
                let value = value.map_err(|e| match e {
                    RowError::Shape { reason, .. } if reason.starts_with("there is no column") => {
                        Problem::bad_request(reason)
                    }
                    other => Problem::internal(other.to_string()),
                })?;
                Ok(Answer { value, position })
            })
            .await
            .map_err(|e| Problem::internal(e.to_string()))?
        })
    }
}

fn json<R: Row>(row: &R) -> Result<Value, RowError> {
    serde_json::to_value(row).map_err(|e| RowError::Shape {
        table: R::TABLE,
        reason: e.to_string(),
    })
}

impl<R: Row + 'static> Query for TableQuery<R> {
    fn get(&self, key: String) -> Reading<Option<Value>> {
        self.read(move |table| table.get(&key)?.as_ref().map(json).transpose())
    }

    fn list(&self, filters: Vec<(String, String)>, limit: usize) -> Reading<Vec<Value>> {
        self.read(move |table| {
            let filters: Vec<(&str, &str)> = filters
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            table.list(&filters, limit)?.iter().map(json).collect()
        })
    }

    fn position(&self) -> Reading<()> {
        self.read(|_| Ok(()))
    }
}
