//! A PostgreSQL schema of its own per test (of the database at `EVENTSMITH_TEST_POSTGRES`, by
//! default `postgres://root@127.0.0.1:5432/test`), dropped after; tests fail, naming the
//! database, when it cannot be reached.

// Each test crate uses a part of it.
#![allow(dead_code)]

use eventsmith::testing::process::ServiceProcess;

pub fn postgres_url() -> String {
    std::env::var("EVENTSMITH_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".to_owned())
}

/// A schema of its own for one test, dropped with it.
pub struct Schema {
    name: String,
}

impl Schema {
    pub fn new(test: &str) -> Self {
        let name = format!(
            "shop_{test}_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis()
                % 1_000_000
        );
        let url = postgres_url();
        postgres::Client::connect(&url, postgres::NoTls).unwrap_or_else(|e| {
            panic!("these tests need PostgreSQL at {url} (set EVENTSMITH_TEST_POSTGRES): {e}")
        });
        Self { name }
    }

    pub fn env(&self) -> [(String, String); 2] {
        [
            ("DATABASE_URL".to_owned(), postgres_url()),
            ("EVENTSMITH_SCHEMA".to_owned(), self.name.clone()),
        ]
    }

    pub fn start(&self) -> ServiceProcess {
        self.start_with(&[])
    }

    /// An instance of the service on this schema, with more environment.
    pub fn start_with(&self, more: &[(&str, &str)]) -> ServiceProcess {
        let env = self.env();
        let mut env: Vec<(&str, &str)> =
            env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        env.extend_from_slice(more);
        ServiceProcess::start_with(env!("CARGO_BIN_EXE_shop"), &env)
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        if let Ok(mut client) = postgres::Client::connect(&postgres_url(), postgres::NoTls) {
            let _ =
                client.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.name));
        }
    }
}
