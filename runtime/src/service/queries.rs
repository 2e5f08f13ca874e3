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
#[derive(Clone)]
pub(crate) enum Source {
    /// The SQLite database at this path, opened read-only for each read.
    Sqlite(PathBuf),
    /// A PostgreSQL schema, through a few connections kept open.
    #[cfg(feature = "postgres")]
    Postgres(std::sync::Arc<PostgresReaders>),
}

/// Read-model connections to a PostgreSQL schema: at most [`PostgresReaders::MOST`] at once
/// (reads beyond wait), the idle ones kept for the next read.
#[cfg(feature = "postgres")]
pub(crate) struct PostgresReaders {
    url: String,
    schema: String,
    idle: std::sync::Mutex<Vec<crate::read_model::postgres::PostgresReadModel>>,
    permits: std::sync::Arc<tokio::sync::Semaphore>,
}

#[cfg(feature = "postgres")]
impl PostgresReaders {
    /// Connections open at once at most, per projection: reads queue beyond, so a burst of
    /// queries cannot take the connections commands need.
    const MOST: usize = 8;

    pub(crate) fn new(url: &str, schema: &str) -> Self {
        Self {
            url: url.to_owned(),
            schema: schema.to_owned(),
            idle: std::sync::Mutex::new(Vec::new()),
            permits: std::sync::Arc::new(tokio::sync::Semaphore::new(Self::MOST)),
        }
    }

    fn idle(
        &self,
    ) -> std::sync::MutexGuard<'_, Vec<crate::read_model::postgres::PostgresReadModel>> {
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `read` on a connection (blocking; the caller holds a permit). A connection that
    /// failed transiently (the server restarted, say) is dropped, and the read tried once more
    /// on a new one.
    fn read<T>(
        &self,
        mut read: impl FnMut(
            &crate::read_model::postgres::PostgresReadModel,
        ) -> Result<T, crate::read_model::BackendError>,
    ) -> Result<T, crate::read_model::BackendError> {
        let mut tries = 0;
        loop {
            tries += 1;
            let taken = self.idle().pop();
            let model = match taken {
                Some(model) => model,
                None => {
                    crate::read_model::postgres::PostgresReadModel::open(&self.url, &self.schema)?
                }
            };
            match read(&model) {
                Err(error) if error.transient && tries < 2 => continue,
                Err(error) if error.transient => return Err(error),
                done => {
                    self.idle().push(model);
                    return done;
                }
            }
        }
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
        self.source
            .read(self.name, move |rows| read(&Table::new(rows)))
    }
}

impl Source {
    /// Runs `read` on read model `name`'s tables in one read transaction with the checkpoint,
    /// off the async executor.
    pub(crate) fn read<T: Send + 'static>(
        &self,
        name: &'static str,
        read: impl FnOnce(&dyn crate::read_model::Transaction) -> Result<T, RowError> + Send + 'static,
    ) -> Reading<T> {
        let source = self.clone();
        Box::pin(async move {
            #[cfg(feature = "postgres")]
            let _permit = match &source {
                Source::Postgres(readers) => Some(
                    std::sync::Arc::clone(&readers.permits)
                        .acquire_owned()
                        .await
                        .map_err(|e| Problem::internal(e.to_string()))?,
                ),
                Source::Sqlite(_) => None,
            };
            tokio::task::spawn_blocking(move || {
                let internal =
                    |e: crate::read_model::BackendError| Problem::internal(e.to_string());
                // Taken by the one attempt that reads (a retry after a lost connection reads
                // only if the first did not get that far).
                let mut read = Some(read);
                let mut snapshot = |position, rows: &dyn crate::read_model::Transaction| {
                    read.take().map(|read| (read(rows), position))
                };
                let (value, position) = match source {
                    Source::Sqlite(path) => SqliteReadModel::open_read_only(&path)
                        .and_then(|model| model.read(name, &mut snapshot)),
                    #[cfg(feature = "postgres")]
                    Source::Postgres(readers) => {
                        readers.read(|model| model.read(name, &mut snapshot))
                    }
                }
                .map_err(internal)?
                .ok_or_else(|| {
                    Problem::internal("the read model's connection was lost mid-read")
                })?;
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
