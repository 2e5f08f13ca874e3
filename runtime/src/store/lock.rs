//! One writer per database file, enforced across processes: whoever opens a SQLite database for
//! writing holds `<file>.lock`, a small SQLite database in exclusive locking mode. The lock is
//! SQLite's own file lock, which the OS releases when a process dies, so a crash never leaves it
//! behind, and a second writer gets [`StoreError::Locked`] at once instead of racing the first.

use super::StoreError;
use std::path::Path;

/// A held lock: released when dropped.
pub(crate) struct WriteLock {
    _connection: std::sync::Mutex<rusqlite::Connection>,
}

/// Takes the write lock of the database at `database`.
pub(crate) fn take(database: &Path) -> Result<WriteLock, StoreError> {
    let mut name = database.file_name().unwrap_or_default().to_owned();
    name.push(".lock");
    let path = database.with_file_name(name);
    let failed =
        |e: rusqlite::Error| StoreError::Backend(format!("cannot lock {}: {e}", path.display()));
    let connection = rusqlite::Connection::open(&path).map_err(failed)?;
    let locked = connection
        .busy_timeout(std::time::Duration::ZERO)
        .and_then(|()| {
            connection.execute_batch("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; COMMIT;")
        })
        // The exclusive lock is kept after the commit only once something was written.
        .and_then(|()| {
            connection.execute_batch(
                "CREATE TABLE IF NOT EXISTS holder (pid INTEGER); DELETE FROM holder; INSERT INTO holder VALUES (0);",
            )
        });
    match locked {
        Ok(()) => Ok(WriteLock {
            _connection: std::sync::Mutex::new(connection),
        }),
        Err(rusqlite::Error::SqliteFailure(error, _))
            if matches!(
                error.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ) =>
        {
            Err(StoreError::Locked(path.display().to_string()))
        }
        Err(e) => Err(failed(e)),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_second_writer_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let database = dir.path().join("events.db");
        let held = super::take(&database).unwrap();
        let Err(refused) = super::take(&database) else {
            panic!("two writers held one database");
        };
        assert!(refused.to_string().contains("events.db.lock"), "{refused}");
        drop(held);
        assert!(super::take(&database).is_ok());
    }
}
