//! A PostgreSQL schema of its own per test, dropped with it, in the database at
//! `EVENTSMITH_TEST_POSTGRES` (by default `postgres://root@127.0.0.1:5432/test`). Tests that use
//! it fail, naming the URL, when it cannot be reached: they never skip.

// Each test file includes this and uses part of it.
#![allow(dead_code)]

/// The PostgreSQL database the tests use.
pub fn url() -> String {
    std::env::var("EVENTSMITH_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".to_owned())
}

/// Fails the test: PostgreSQL at `url` could not be reached (or refused), with why.
pub fn unreachable(url: &str, error: impl std::fmt::Display) -> ! {
    panic!("these tests need PostgreSQL at {url} (set EVENTSMITH_TEST_POSTGRES): {error}")
}

/// A schema of its own for one test (created by whatever the test opens in it), dropped with
/// the guard.
pub struct Schema {
    /// The database's URL.
    pub url: String,
    /// The schema's name: lower-case letters, digits and `_`.
    pub name: String,
}

impl Schema {
    /// A fresh name starting with `prefix` (lower-case letters, digits and `_`), unique to this
    /// test run.
    pub fn fresh(prefix: &str) -> Self {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let name = format!(
            "{prefix}_{}_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis()
                % 1_000_000,
            NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        );
        Self { url: url(), name }
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let (url, name) = (self.url.clone(), self.name.clone());
        // Its own thread and runtime: a test's runtime may be shutting down, or there may be none.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                if let Ok((client, connection)) =
                    tokio_postgres::connect(&url, tokio_postgres::NoTls).await
                {
                    tokio::spawn(connection);
                    let _ = client
                        .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE"))
                        .await;
                }
            });
        })
        .join();
    }
}
