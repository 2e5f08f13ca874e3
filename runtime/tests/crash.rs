//! The crash test: a child process appends in a loop (from several tasks, so commits are
//! grouped), printing each acknowledged position, and is killed with SIGKILL after a varying
//! number of acknowledgements, mid-append; the store then reopens without repair and holds every
//! acknowledged event, with no gap in positions. Several rounds on one database per run, for
//! SQLite and for PostgreSQL (a schema of its own in the database at `EVENTSMITH_TEST_POSTGRES`,
//! by default `postgres://root@127.0.0.1:5432/test`).
//!
//! A test target without the libtest harness: run without arguments it is the test; run with
//! `EVENTSMITH_CRASH_CHILD=<database file or postgres URL>` (and `EVENTSMITH_CRASH_SCHEMA`) it
//! is the child.

use eventsmith::store::{
    EventStore, ExpectedVersion, Metadata, NewEvent, PostgresOptions, PostgresStore, SqliteStore,
};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ROUNDS: u64 = 5;
const WRITERS: usize = 8;

/// Where the events go.
#[derive(Clone)]
enum Database {
    Sqlite(std::path::PathBuf),
    Postgres { url: String, schema: String },
}

impl Database {
    fn from_env(target: String) -> Self {
        if target.starts_with("postgres://") {
            Database::Postgres {
                url: target,
                schema: std::env::var("EVENTSMITH_CRASH_SCHEMA").expect("a schema"),
            }
        } else {
            Database::Sqlite(target.into())
        }
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        match self {
            Database::Sqlite(path) => vec![("EVENTSMITH_CRASH_CHILD", path.display().to_string())],
            Database::Postgres { url, schema } => vec![
                ("EVENTSMITH_CRASH_CHILD", url.clone()),
                ("EVENTSMITH_CRASH_SCHEMA", schema.clone()),
            ],
        }
    }
}

fn main() {
    match std::env::var("EVENTSMITH_CRASH_CHILD") {
        Ok(target) => child(Database::from_env(target)),
        Err(_) => parent(),
    }
}

fn child(database: Database) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        match database {
            Database::Sqlite(path) => {
                append_forever(SqliteStore::open(&path, "crash-test").expect("the store opens"))
                    .await
            }
            Database::Postgres { url, schema } => {
                let options = PostgresOptions::default().schema(schema);
                let store = PostgresStore::connect(&url, "crash-test", options)
                    .await
                    .expect("the store connects");
                append_forever(store).await
            }
        }
    });
}

async fn append_forever<S: EventStore + Clone + 'static>(store: S) {
    {
        let mut tasks = Vec::new();
        for writer in 0..WRITERS {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                for n in 0u64.. {
                    let event = NewEvent {
                        event_type: "crash.appended".into(),
                        version: 1,
                        data: format!(r#"{{"writer":{writer},"n":{n}}}"#).into_bytes(),
                        metadata: Metadata::default(),
                    };
                    let appended = store
                        .append(
                            &format!("writer-{writer}"),
                            ExpectedVersion::Any,
                            vec![event],
                            None,
                        )
                        .await
                        .expect("an append");
                    // Printed only after the store acknowledged it.
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(out, "{} {writer} {n}", appended.last_position);
                    let _ = out.flush();
                }
            }));
        }
        for task in tasks {
            let _ = task.await;
        }
    }
}

fn parent() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut acknowledged_total = crash(&Database::Sqlite(dir.path().join("events.db")));
    let url = std::env::var("EVENTSMITH_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".to_owned());
    let schema = format!("crash_{}", std::process::id());
    let postgres = Database::Postgres {
        url: url.clone(),
        schema: schema.clone(),
    };
    acknowledged_total += crash(&postgres);
    runtime().block_on(async {
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .expect("PostgreSQL");
        tokio::spawn(connection);
        client
            .batch_execute(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
            .await
            .expect("the test's schema dropped");
    });
    println!(
        "test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out ({ROUNDS} rounds on each of SQLite and PostgreSQL, {acknowledged_total} acknowledged appends)"
    );
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// The rounds on one database: the number of appends acknowledged in all.
fn crash(database: &Database) -> usize {
    let exe = std::env::current_exe().expect("this test's binary");
    let mut acknowledged_total = 0;
    for round in 0..ROUNDS {
        let mut child = Command::new(&exe)
            .envs(database.env())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the child starts");
        let stdout = child.stdout.take().expect("piped");
        // Kill after a varying number of acknowledgements, at a varying moment.
        let kill_after = 200 + (round as usize * 137) % 400;
        let mut acknowledged = Vec::new();
        let started = Instant::now();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let fields: Vec<u64> = line
                .split_whitespace()
                .map(|f| f.parse().expect("a number"))
                .collect();
            acknowledged.push((fields[0], fields[1], fields[2]));
            if acknowledged.len() >= kill_after || started.elapsed() > Duration::from_secs(30) {
                break;
            }
        }
        child.kill().expect("SIGKILL"); // `kill` is SIGKILL on Unix
        child.wait().expect("the child is reaped");
        assert!(
            !acknowledged.is_empty(),
            "round {round}: the child acknowledged nothing"
        );
        let events = runtime().block_on(async {
            match database {
                Database::Sqlite(path) => SqliteStore::open(path, "crash-test")
                    .expect("the store reopens without repair")
                    .read_all(1, usize::MAX)
                    .await
                    .expect("a read"),
                Database::Postgres { url, schema } => {
                    let options = PostgresOptions::default().schema(schema.clone());
                    PostgresStore::connect(url, "crash-test", options)
                        .await
                        .unwrap_or_else(|e| panic!("PostgreSQL at {url} is needed for this test (set EVENTSMITH_TEST_POSTGRES): {e}"))
                        .read_all(1, usize::MAX)
                        .await
                        .expect("a read")
                }
            }
        });
        {
            let positions: Vec<u64> = events.iter().map(|e| e.position).collect();
            assert!(
                positions
                    .iter()
                    .enumerate()
                    .all(|(i, p)| *p == i as u64 + 1),
                "round {round}: a gap in positions"
            );
            let last = positions.last().copied().unwrap_or(0);
            // Each acknowledged append is stored where it was acknowledged, as it was sent.
            for &(position, writer, n) in &acknowledged {
                assert!(
                    position <= last,
                    "round {round}: acknowledged position {position} was lost (last {last})"
                );
                let stored: serde_json::Value =
                    serde_json::from_slice(&events[position as usize - 1].data).unwrap();
                assert_eq!(
                    stored,
                    serde_json::json!({"writer": writer, "n": n}),
                    "round {round}: position {position} holds another event"
                );
            }
            for event in &events {
                assert!(serde_json::from_slice::<serde_json::Value>(&event.data).is_ok());
            }
            let backend = match database {
                Database::Sqlite(_) => "SQLite",
                Database::Postgres { .. } => "PostgreSQL",
            };
            println!(
                "{backend} round {round}: killed after {} acknowledged appends; {} events stored, none lost, no gap",
                acknowledged.len(),
                events.len()
            );
        }
        acknowledged_total += acknowledged.len();
    }
    acknowledged_total
}
