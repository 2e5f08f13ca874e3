//! The crash test: a child process appends in a loop (from several tasks, so commits are
//! grouped), printing each acknowledged position, and is killed with SIGKILL after a varying
//! number of acknowledgements, mid-append; the store then reopens without repair and holds every
//! acknowledged event, with no gap in positions. Several rounds on one database per run.
//!
//! A test target without the libtest harness: run without arguments it is the test; run with
//! `EVENTSMITH_CRASH_CHILD=<database>` it is the child.

use eventsmith::store::{EventStore, ExpectedVersion, Metadata, NewEvent, SqliteStore};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ROUNDS: u64 = 5;
const WRITERS: usize = 8;

fn main() {
    match std::env::var_os("EVENTSMITH_CRASH_CHILD") {
        Some(database) => child(database.into()),
        None => parent(),
    }
}

fn child(database: std::path::PathBuf) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        let store = SqliteStore::open(&database, "crash-test").expect("the store opens");
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
                    let _ = writeln!(out, "{}", appended.last_position);
                    let _ = out.flush();
                }
            }));
        }
        for task in tasks {
            let _ = task.await;
        }
    });
}

fn parent() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let database = dir.path().join("events.db");
    let exe = std::env::current_exe().expect("this test's binary");
    let mut acknowledged_total = 0;
    for round in 0..ROUNDS {
        let mut child = Command::new(&exe)
            .env("EVENTSMITH_CRASH_CHILD", &database)
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
            acknowledged.push(line.trim().parse::<u64>().expect("a position"));
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
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            let store = SqliteStore::open(&database, "crash-test").expect("the store reopens without repair");
            let events = store.read_all(1, usize::MAX).await.expect("a read");
            let positions: Vec<u64> = events.iter().map(|e| e.position).collect();
            assert!(
                positions.iter().enumerate().all(|(i, p)| *p == i as u64 + 1),
                "round {round}: a gap in positions"
            );
            let last = positions.last().copied().unwrap_or(0);
            for position in &acknowledged {
                assert!(*position <= last, "round {round}: acknowledged position {position} was lost (last {last})");
            }
            for event in &events {
                assert!(serde_json::from_slice::<serde_json::Value>(&event.data).is_ok());
            }
            println!(
                "round {round}: killed after {} acknowledged appends; {} events stored, none lost, no gap",
                acknowledged.len(),
                events.len()
            );
        });
        acknowledged_total += acknowledged.len();
    }
    println!(
        "test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out ({ROUNDS} rounds, {acknowledged_total} acknowledged appends)"
    );
}
