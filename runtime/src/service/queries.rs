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

/// A projection's rows of type `R` in the database at `path`.
pub(crate) struct TableQuery<R> {
    pub path: PathBuf,
    pub name: &'static str,
    pub row: std::marker::PhantomData<fn() -> R>,
}

impl<R: Row + 'static> TableQuery<R> {
    /// Runs `read` in one read transaction with the checkpoint, off the async executor.
    fn read<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Table<'_, R>) -> Result<T, RowError> + Send + 'static,
    ) -> Reading<T> {
        let path = self.path.clone();
        let name = self.name;
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let internal =
                    |e: crate::read_model::BackendError| Problem::internal(e.to_string());
                let model = SqliteReadModel::open_read_only(&path).map_err(internal)?;
                let (value, position) = model
                    .read(name, |position, rows| (read(&Table::new(rows)), position))
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
