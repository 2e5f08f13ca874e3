//! What the runtime reports through the `metrics` facade, read back with a debugging recorder:
//! appends, events appended, append latency and conflicts (on both backends), projection lag,
//! dead letters and transient handler errors.

mod events {
    include!("../../generated-example/src/generated/mod.rs");
}

use eventsmith::projection::{HandlerError, Projection, ProjectionRunner, RetryPolicy};
use eventsmith::read_model::{TableSpec, Transaction};
use eventsmith::store::{
    Envelope, EventStore, ExpectedVersion, InMemoryStore, Metadata, NewEvent, SqliteStore,
};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use std::collections::HashMap;

fn changed(email: &str) -> NewEvent {
    NewEvent {
        event_type: "customer.email_changed".into(),
        version: 1,
        data: format!(r#"{{"email":"{email}"}}"#).into_bytes(),
        metadata: Metadata::default(),
    }
}

/// Every metric recorded so far: name (with its labels) to value.
fn readings(recorder: &DebuggingRecorder) -> HashMap<String, DebugValue> {
    recorder
        .snapshotter()
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let key = key.key();
            let labels: Vec<String> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            (format!("{}{labels:?}", key.name()), value)
        })
        .collect()
}

fn counter(readings: &HashMap<String, DebugValue>, name: &str) -> u64 {
    match readings.get(name) {
        Some(DebugValue::Counter(n)) => *n,
        other => panic!("{name}: {other:?}"),
    }
}

/// Runs `test` on a single-threaded runtime with `recorder` installed on this thread.
fn recorded(recorder: &DebuggingRecorder, test: impl Future<Output = ()>) {
    metrics::with_local_recorder(recorder, || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(test)
    });
}

/// Two appends that land (three events) and one that conflicts.
async fn appends_and_conflicts<S: EventStore>(store: S) {
    let appends = [
        (
            ExpectedVersion::NoStream,
            &["a@example.com", "b@example.com"][..],
            true,
        ),
        (ExpectedVersion::Exact(2), &["c@example.com"], true),
        (ExpectedVersion::Exact(2), &["d@example.com"], false),
    ];
    for (expected, emails, lands) in appends {
        let events = emails.iter().map(|email| changed(email)).collect();
        let result = store.append("customer-1", expected, events, None).await;
        assert_eq!(result.is_ok(), lands, "{result:?}");
    }
}

fn check_append_metrics(recorder: &DebuggingRecorder) {
    let readings = readings(recorder);
    assert_eq!(counter(&readings, "eventsmith_appends_total[]"), 2);
    assert_eq!(counter(&readings, "eventsmith_events_appended_total[]"), 3);
    assert_eq!(counter(&readings, "eventsmith_append_conflicts_total[]"), 1);
    match readings.get("eventsmith_append_seconds[]") {
        Some(DebugValue::Histogram(seconds)) => {
            assert_eq!(seconds.len(), 2);
            assert!(seconds.iter().all(|s| s.into_inner() > 0.0));
        }
        other => panic!("eventsmith_append_seconds: {other:?}"),
    }
}

#[test]
fn appends_latency_and_conflicts_in_memory() {
    let recorder = DebuggingRecorder::new();
    recorded(&recorder, appends_and_conflicts(InMemoryStore::new("test")));
    check_append_metrics(&recorder);
}

#[test]
fn appends_latency_and_conflicts_in_sqlite() {
    let recorder = DebuggingRecorder::new();
    let dir = tempfile::tempdir().unwrap();
    recorded(&recorder, async {
        let store = SqliteStore::open(dir.path().join("events.db"), "test").unwrap();
        appends_and_conflicts(store).await;
    });
    check_append_metrics(&recorder);
}

/// Takes every event into account and stores nothing.
struct Nothing;

impl Projection for Nothing {
    type Event = events::DomainEvent;
    const NAME: &'static str = "nothing";
    const TABLES: &'static [TableSpec] = &[];
    fn handle(
        &self,
        _: &dyn Transaction,
        _: &events::DomainEvent,
        _: &Envelope,
    ) -> Result<(), HandlerError> {
        Ok(())
    }
}

#[test]
fn projection_lag_and_dead_letters() {
    let recorder = DebuggingRecorder::new();
    let dir = tempfile::tempdir().unwrap();
    recorded(&recorder, async {
        let store = std::sync::Arc::new(InMemoryStore::new("test"));
        let not_an_email = NewEvent {
            data: br#"{"email":"not an email"}"#.to_vec(),
            ..changed("")
        };
        store
            .append(
                "customer-1",
                ExpectedVersion::Any,
                vec![
                    changed("a@example.com"),
                    not_an_email,
                    changed("b@example.com"),
                ],
                None,
            )
            .await
            .unwrap();
        let mut runner = ProjectionRunner::open(store, Nothing, dir.path().join("read.db"))
            .unwrap()
            .retry(RetryPolicy {
                attempts: 1,
                backoff: std::time::Duration::ZERO,
                ..RetryPolicy::default()
            });
        runner.status().unwrap();
        let before = readings(&recorder);
        assert_eq!(
            before.get("eventsmith_projection_lag[\"projection=nothing\"]"),
            Some(&DebugValue::Gauge(3.0.into()))
        );
        runner.run_until_caught_up().await.unwrap();
        // The refused event, and the later one of its stream parked behind it.
        assert_eq!(runner.dead_letters().unwrap().len(), 2);
    });
    let after = readings(&recorder);
    assert_eq!(
        after.get("eventsmith_projection_lag[\"projection=nothing\"]"),
        Some(&DebugValue::Gauge(0.0.into()))
    );
    assert_eq!(
        counter(
            &after,
            "eventsmith_dead_letters_total[\"projection=nothing\"]"
        ),
        1
    );
    assert_eq!(
        counter(
            &after,
            "eventsmith_parked_events_total[\"projection=nothing\"]"
        ),
        1
    );
}

/// Fails transiently the first `busy` times it is asked to handle an event.
struct Busy(std::sync::atomic::AtomicU32);

impl Projection for Busy {
    type Event = events::DomainEvent;
    const NAME: &'static str = "busy";
    const TABLES: &'static [TableSpec] = &[];
    fn handle(
        &self,
        _: &dyn Transaction,
        _: &events::DomainEvent,
        _: &Envelope,
    ) -> Result<(), HandlerError> {
        let left = self.0.load(std::sync::atomic::Ordering::SeqCst);
        if left == 0 {
            return Ok(());
        }
        self.0.store(left - 1, std::sync::atomic::Ordering::SeqCst);
        Err(HandlerError::transient("database is locked"))
    }
}

#[test]
fn transient_handler_errors_are_counted_not_dead_lettered() {
    let recorder = DebuggingRecorder::new();
    let dir = tempfile::tempdir().unwrap();
    recorded(&recorder, async {
        let store = InMemoryStore::new("test");
        store
            .append(
                "customer-1",
                ExpectedVersion::Any,
                vec![changed("a@example.com")],
                None,
            )
            .await
            .unwrap();
        let busy = Busy(3.into());
        let mut runner = ProjectionRunner::open(store, busy, dir.path().join("read.db"))
            .unwrap()
            .retry(RetryPolicy {
                attempts: 1,
                backoff: std::time::Duration::ZERO,
                ..RetryPolicy::default()
            });
        assert_eq!(runner.run_until_caught_up().await.unwrap().position, 1);
        assert!(runner.dead_letters().unwrap().is_empty());
    });
    let after = readings(&recorder);
    assert_eq!(
        counter(
            &after,
            "eventsmith_projection_transient_errors_total[\"projection=busy\"]"
        ),
        3
    );
    assert!(!after.contains_key("eventsmith_dead_letters_total[\"projection=busy\"]"));
}
