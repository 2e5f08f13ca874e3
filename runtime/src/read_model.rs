//! Typed rows in SQLite tables: what generated projection code stores its read models in. A
//! [`Row`] type (generated from a projection's row schema) names its table, key and columns; a
//! [`Table`] reads and writes rows of it inside the projection runner's transaction.
//!
//! Tables follow their row schema. [`Table::ensure`] creates a missing table; when the schema
//! only adds optional properties, it adds their columns; on any other change it drops the table
//! and says so, and the runner replays every event into the new one.

use rusqlite::types::{Value as Sql, ValueRef};
use rusqlite::{Connection, OptionalExtension, params_from_iter};
use serde_json::{Map, Number, Value};

/// How a column stores its property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// Strings, formats and string enums.
    Text,
    /// Integers.
    Integer,
    /// Numbers.
    Real,
    /// Booleans, as 0 and 1.
    Boolean,
    /// Anything else, as JSON text.
    Json,
}

impl ColumnKind {
    fn sql(self) -> &'static str {
        match self {
            ColumnKind::Text | ColumnKind::Json => "TEXT",
            ColumnKind::Integer | ColumnKind::Boolean => "INTEGER",
            ColumnKind::Real => "REAL",
        }
    }

    fn name(self) -> &'static str {
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

/// A projection whose read model is one table of rows: what lets a service answer queries on it.
pub trait Tabled {
    /// Its rows.
    type Row: Row;
}

/// What [`Table::ensure`] did.
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

/// Why a row could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum RowError {
    /// The database failed.
    #[error("the read model failed: {0}")]
    Database(#[from] rusqlite::Error),
    /// A row does not match its schema (a stored one, or one being written).
    #[error("a `{table}` row does not match its schema: {reason}")]
    Shape {
        /// The table.
        table: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// Handlers return `Result<(), String>`: `?` on a table operation gives its message.
impl From<RowError> for String {
    fn from(error: RowError) -> Self {
        error.to_string()
    }
}

/// The table of rows `R`, within a connection (inside a projection's transaction).
pub struct Table<'c, R> {
    db: &'c Connection,
    row: std::marker::PhantomData<fn() -> R>,
}

const BOOKKEEPING: &str =
    "CREATE TABLE IF NOT EXISTS eventsmith_tables (name TEXT PRIMARY KEY, columns TEXT NOT NULL)";

fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// One column as recorded: name, kind, required, key.
type Recorded = (String, String, bool, bool);

/// The columns as recorded, JSON: `[[name, kind, required, key], …]`.
fn spec(columns: &[Column], key: &str) -> Vec<Recorded> {
    columns
        .iter()
        .map(|c| {
            (
                c.name.to_owned(),
                c.kind.name().to_owned(),
                c.required,
                c.name == key,
            )
        })
        .collect()
}

fn spec_text(columns: &[Column], key: &str) -> String {
    serde_json::to_string(&spec(columns, key)).unwrap_or_default()
}

impl<'c, R: Row> Table<'c, R> {
    /// The table in `db`.
    pub fn new(db: &'c Connection) -> Self {
        Self {
            db,
            row: std::marker::PhantomData,
        }
    }

    fn create(db: &Connection) -> rusqlite::Result<()> {
        let columns: Vec<String> = R::COLUMNS
            .iter()
            .map(|c| {
                let key = if c.name == R::KEY { " PRIMARY KEY" } else { "" };
                let required = if c.required || c.name == R::KEY {
                    " NOT NULL"
                } else {
                    ""
                };
                format!("{} {}{key}{required}", quoted(c.name), c.kind.sql())
            })
            .collect();
        db.execute_batch(&format!(
            "CREATE TABLE {} ({})",
            quoted(R::TABLE),
            columns.join(", ")
        ))?;
        db.execute(
            "INSERT INTO eventsmith_tables (name, columns) VALUES (?1, ?2)
             ON CONFLICT (name) DO UPDATE SET columns = ?2",
            [R::TABLE, &spec_text(R::COLUMNS, R::KEY)],
        )?;
        Ok(())
    }

    /// Creates the table, adds columns for new optional properties, or recreates it when the
    /// row schema changed otherwise (see [`Setup`]).
    pub fn ensure(db: &Connection) -> rusqlite::Result<Setup> {
        db.execute_batch(BOOKKEEPING)?;
        let recorded: Option<String> = db
            .query_row(
                "SELECT columns FROM eventsmith_tables WHERE name = ?1",
                [R::TABLE],
                |r| r.get(0),
            )
            .optional()?;
        let Some(recorded) = recorded else {
            db.execute_batch(&format!("DROP TABLE IF EXISTS {}", quoted(R::TABLE)))?;
            Self::create(db)?;
            return Ok(Setup::Created);
        };
        let wanted = spec_text(R::COLUMNS, R::KEY);
        if recorded == wanted {
            return Ok(Setup::Unchanged);
        }
        // A record this version cannot read counts as a change rows cannot follow.
        let old: Vec<Recorded> = serde_json::from_str(&recorded).unwrap_or_default();
        let new = spec(R::COLUMNS, R::KEY);
        // Compatible: every old column is still there, unchanged (key included), and the new
        // ones are optional.
        let kept = !old.is_empty() && old.iter().all(|column| new.contains(column));
        let added: Vec<&Column> = R::COLUMNS
            .iter()
            .filter(|c| !old.iter().any(|o| o.0 == c.name))
            .collect();
        if kept && added.iter().all(|c| !c.required && c.name != R::KEY) {
            for column in added {
                db.execute_batch(&format!(
                    "ALTER TABLE {} ADD COLUMN {} {}",
                    quoted(R::TABLE),
                    quoted(column.name),
                    column.kind.sql()
                ))?;
            }
            db.execute(
                "UPDATE eventsmith_tables SET columns = ?2 WHERE name = ?1",
                [R::TABLE, &wanted],
            )?;
            return Ok(Setup::Migrated);
        }
        db.execute_batch(&format!("DROP TABLE IF EXISTS {}", quoted(R::TABLE)))?;
        Self::create(db)?;
        Ok(Setup::Recreated)
    }

    /// The connection, inside the runner's transaction: for a read model that keeps more than
    /// its rows (a lookup table of its own, say). Do not begin or commit a transaction.
    pub fn db(&self) -> &'c Connection {
        self.db
    }

    /// Deletes every row.
    pub fn clear(db: &Connection) -> rusqlite::Result<()> {
        db.execute_batch(&format!("DELETE FROM {}", quoted(R::TABLE)))
    }

    fn shape(reason: impl std::fmt::Display) -> RowError {
        RowError::Shape {
            table: R::TABLE,
            reason: reason.to_string(),
        }
    }

    fn select() -> String {
        let columns: Vec<String> = R::COLUMNS.iter().map(|c| quoted(c.name)).collect();
        format!("SELECT {} FROM {}", columns.join(", "), quoted(R::TABLE))
    }

    fn decode(row: &rusqlite::Row<'_>) -> Result<R, RowError> {
        let mut object = Map::new();
        for (index, column) in R::COLUMNS.iter().enumerate() {
            let value = match (column.kind, row.get_ref(index)?) {
                (_, ValueRef::Null) => continue,
                (ColumnKind::Boolean, ValueRef::Integer(n)) => Value::Bool(n != 0),
                (_, ValueRef::Integer(n)) => Value::Number(n.into()),
                (_, ValueRef::Real(x)) => Number::from_f64(x)
                    .map(Value::Number)
                    .ok_or_else(|| Self::shape(format!("`{}` is not finite", column.name)))?,
                (ColumnKind::Json, ValueRef::Text(text)) => {
                    serde_json::from_slice(text).map_err(Self::shape)?
                }
                (_, ValueRef::Text(text)) => {
                    Value::String(std::str::from_utf8(text).map_err(Self::shape)?.to_owned())
                }
                (_, ValueRef::Blob(_)) => {
                    return Err(Self::shape(format!("`{}` holds a blob", column.name)));
                }
            };
            object.insert(column.name.to_owned(), value);
        }
        serde_json::from_value(Value::Object(object)).map_err(Self::shape)
    }

    /// The row with key `key`.
    pub fn get(&self, key: &str) -> Result<Option<R>, RowError> {
        let sql = format!("{} WHERE {} = ?1", Self::select(), quoted(R::KEY));
        let mut statement = self.db.prepare_cached(&sql)?;
        let mut rows = statement.query([key])?;
        match rows.next()? {
            Some(row) => Self::decode(row).map(Some),
            None => Ok(None),
        }
    }

    /// Rows whose columns equal the given texts (every filter must hold), in key order, at most
    /// `limit`. A filter on a column the row does not have is an error.
    pub fn list(&self, filters: &[(&str, &str)], limit: usize) -> Result<Vec<R>, RowError> {
        let mut conditions = Vec::new();
        for (index, (name, _)) in filters.iter().enumerate() {
            let column = R::COLUMNS
                .iter()
                .find(|c| c.name == *name)
                .ok_or_else(|| Self::shape(format!("there is no column `{name}`")))?;
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
            Self::select(),
            quoted(R::KEY),
            limit.min(i64::MAX as usize)
        );
        let mut statement = self.db.prepare(&sql)?;
        let mut rows = statement.query(params_from_iter(filters.iter().map(|(_, v)| *v)))?;
        let mut found = Vec::new();
        while let Some(row) = rows.next()? {
            found.push(Self::decode(row)?);
        }
        Ok(found)
    }

    /// Inserts `row`, or replaces the row with its key.
    pub fn upsert(&self, row: &R) -> Result<(), RowError> {
        let Value::Object(object) = serde_json::to_value(row).map_err(Self::shape)? else {
            return Err(Self::shape("a row is not a JSON object"));
        };
        let mut values = Vec::with_capacity(R::COLUMNS.len());
        for column in R::COLUMNS {
            let value = match (column.kind, object.get(column.name)) {
                (_, None | Some(Value::Null)) if column.required || column.name == R::KEY => {
                    return Err(Self::shape(format!("`{}` is missing", column.name)));
                }
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
            };
            values.push(value);
        }
        let names: Vec<String> = R::COLUMNS.iter().map(|c| quoted(c.name)).collect();
        let slots: Vec<String> = (1..=names.len()).map(|i| format!("?{i}")).collect();
        let updates: Vec<String> = names
            .iter()
            .map(|n| format!("{n} = excluded.{n}"))
            .collect();
        let sql = format!(
            "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT ({}) DO UPDATE SET {}",
            quoted(R::TABLE),
            names.join(", "),
            slots.join(", "),
            quoted(R::KEY),
            updates.join(", ")
        );
        self.db
            .prepare_cached(&sql)?
            .execute(params_from_iter(values))?;
        Ok(())
    }

    /// Deletes the row with key `key`; whether there was one.
    pub fn delete(&self, key: &str) -> Result<bool, RowError> {
        let sql = format!(
            "DELETE FROM {} WHERE {} = ?1",
            quoted(R::TABLE),
            quoted(R::KEY)
        );
        Ok(self.db.prepare_cached(&sql)?.execute([key])? > 0)
    }
}
