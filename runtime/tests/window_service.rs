//! A window with `emit` in a serving service: when a window closes, its closing event is
//! appended once to stream `window.<name>-<start>`, with the window as the routes show it,
//! and the runner takes it back out of the outbox.

use eventsmith::read_model::TableSpec;
use eventsmith::service::{Service, Settings};
use eventsmith::store::{EventStore, ExpectedVersion, Metadata, NewEvent, SqliteStore};
use eventsmith::window::{
    AggregateSpec, CLOSED, Cut, Definition, Kind, Late, Window, WindowProjection,
};
#[path = "support/any_event.rs"]
mod any_event;
use any_event::AnyEvent;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Default)]
struct Ticks;

impl Window for Ticks {
    type Event = AnyEvent;
    const NAME: &'static str = "ticks";
    const DEFINITION: &'static str = "{}";
    const TABLES: &'static [TableSpec] = eventsmith::window_tables!("ticks");
}

/// One-second tumbling windows on the events' own `at`, closing events on.
fn definition() -> Definition {
    Definition {
        name: "ticks".into(),
        reads: [("tick.seen".to_owned(), 1)].into(),
        key: vec![],
        window: Cut::Tumbling { size: 1_000 },
        time: Some("at".into()),
        lateness: 0,
        // Far off: only events move the watermark here.
        idle: 3_600_000,
        late: Late::Drop,
        aggregates: vec![AggregateSpec {
            name: "n".into(),
            kind: Kind::Count,
            field: None,
            integer: true,
        }],
        retain: None,
        gauges: false,
        emit: true,
    }
}

async fn tick(store: &SqliteStore, n: u32, at: &str) {
    let event = NewEvent {
        event_type: "tick.seen".into(),
        version: 1,
        data: serde_json::to_vec(&json!({ "at": at })).unwrap(),
        metadata: Metadata::default(),
    };
    store
        .append(
            &format!("tick-{n}"),
            ExpectedVersion::NoStream,
            vec![event],
            None,
        )
        .await
        .unwrap();
}

/// Every closing event in the store.
async fn closings(store: &SqliteStore) -> Vec<(String, Value)> {
    let events = store.read_all(1, 1_000).await.unwrap();
    events
        .into_iter()
        .filter(|e| e.event_type == CLOSED)
        .map(|e| (e.stream.clone(), serde_json::from_slice(&e.data).unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closing_window_appends_its_event_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("events.db"), "test").unwrap());
    let service = Service::new(Arc::clone(&store))
        .settings(Settings::default())
        .window(
            WindowProjection::<Ticks>::new(definition()),
            dir.path().join("ticks.db"),
        )
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(service.serve(listener, async move {
        let _ = stopped.await;
    }));
    tick(&store, 1, "2026-01-01T00:00:00.100Z").await;
    tick(&store, 2, "2026-01-01T00:00:00.900Z").await;
    // The next second's event moves the watermark past the first window's end.
    tick(&store, 3, "2026-01-01T00:00:01.500Z").await;
    let waited = Instant::now();
    let closed = loop {
        let closed = closings(&store).await;
        if !closed.is_empty() {
            break closed;
        }
        assert!(
            waited.elapsed() < Duration::from_secs(10),
            "no closing event within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let start = 1_767_225_600_000_i64; // 2026-01-01T00:00:00Z
    assert_eq!(closed.len(), 1, "{closed:?}");
    assert_eq!(closed[0].0, eventsmith::window::stream("ticks", start));
    assert_eq!(
        closed[0].1,
        json!({
            "start": "2026-01-01T00:00:00Z",
            "end": "2026-01-01T00:00:01Z",
            "key": {},
            "closed": true,
            "aggregates": {"n": 2},
            "window": "ticks",
        })
    );
    // Read back by the runner, the outbox row goes: nothing is appended again.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(closings(&store).await.len(), 1);
    let _ = stop.send(());
    task.await.unwrap().unwrap();
}
