//! The event store next to raw rusqlite doing the same work at the same durability (WAL,
//! `synchronous = FULL`, the same rows: id, stream, versions, time, payload), in the same run:
//! - 64 concurrent single-event appends (group commit) vs raw inserts batched 64 per transaction;
//! - batch appends of 1,000 vs raw 1,000-row transactions;
//! - reading 1M events in global order with typed decode vs raw rusqlite + serde;
//! - a projection replay with a v1→v2 upcast on half the events vs the same by hand;
//! - aggregate load of a 10k-event stream with a snapshot every 100 vs without.
//!
//! Run: `cargo bench -p eventsmith --bench store`

mod events {
    include!("../../generated-example/src/generated/mod.rs");
}

use eventsmith::projection::{HandlerError, Projection, ProjectionRunner};
use eventsmith::read_model::{Column, ColumnKind, Row, Table, TableSpec, Transaction};
use eventsmith::repository::Repository;
use eventsmith::store::{
    Envelope, EventStore, ExpectedVersion, Metadata, NewEvent, SqliteStore, Subscription,
};
use rusqlite::{Connection, params};
use std::sync::Arc;
use std::time::{Duration, Instant};

const V1: &str = r#"{"customer_id":"0190f5d2-7c1a-7e3b-9a4f-2b6c8d0e1f23","lines":[{"sku":"BOOK-1984","quantity":2,"unit_price":12.5}],"total":25.0}"#;
const V2: &str = r#"{"customer_id":"0190f5d2-7c1a-7e3b-9a4f-2b6c8d0e1f23","lines":[{"sku":"BOOK-1984","quantity":2,"unit_price":12.5}],"currency":"EUR","total_amount":25.0}"#;

fn placed(v1: bool) -> NewEvent {
    NewEvent {
        event_type: "order.placed".into(),
        version: if v1 { 1 } else { 2 },
        data: if v1 { V1 } else { V2 }.as_bytes().to_vec(),
        metadata: Metadata::default(),
    }
}

/// Appends `count` `order.placed` events in batches of `per_batch` (one stream per batch, or
/// `stream` for all), every other one stored as v1 when `half_v1`.
async fn fill(
    store: &SqliteStore,
    count: usize,
    per_batch: usize,
    stream: Option<&str>,
    half_v1: bool,
) {
    for batch in 0..count / per_batch {
        let events = (0..per_batch)
            .map(|i| placed(half_v1 && i % 2 == 0))
            .collect();
        let name = stream.map_or_else(|| format!("order-{batch}"), str::to_owned);
        store
            .append(&name, ExpectedVersion::Any, events, None)
            .await
            .unwrap();
    }
}

fn raw_connection(path: &std::path::Path) -> Connection {
    let db = Connection::open(path).unwrap();
    db.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
         CREATE TABLE IF NOT EXISTS events (position INTEGER PRIMARY KEY, id BLOB NOT NULL, stream TEXT NOT NULL, stream_version INTEGER NOT NULL, event_type TEXT NOT NULL, version INTEGER NOT NULL, time INTEGER NOT NULL, data BLOB NOT NULL, metadata TEXT, UNIQUE (stream, stream_version));",
    )
    .unwrap();
    db
}

/// Raw inserts of `count` events, `per_transaction` per commit: the same rows the store writes
/// (a UUIDv7 id, a timestamp), without its checks (expected version, idempotency, payload).
fn raw_insert(db: &mut Connection, count: usize, per_transaction: usize, offset: usize) {
    for chunk in 0..count / per_transaction {
        let transaction = db.transaction().unwrap();
        {
            let mut insert = transaction
                .prepare_cached(
                    "INSERT INTO events (id, stream, stream_version, event_type, version, time, data, metadata)
                     VALUES (?1, ?2, ?3, ?4, 2, ?5, ?6, NULL)",
                )
                .unwrap();
            for i in 0..per_transaction {
                let n = offset + chunk * per_transaction + i;
                let time = time::OffsetDateTime::now_utc().unix_timestamp_nanos() as i64;
                let id = uuid::Uuid::now_v7();
                insert
                    .execute(params![
                        id.as_bytes().as_slice(),
                        format!("raw-{}", n % 64),
                        (n / 64) as i64 + 1,
                        "order.placed",
                        time,
                        V2.as_bytes()
                    ])
                    .unwrap();
            }
        }
        transaction.commit().unwrap();
    }
}

fn rate(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

/// Rounds per case: the two sides alternate, and the round with the median ratio is printed,
/// so one side does not always run on a warmer machine.
const ROUNDS: usize = 3;

/// Prints the median round of `(eventsmith, raw)` rates.
fn line(what: &str, mut rounds: Vec<(f64, f64)>, goal: f64) {
    rounds.sort_by(|a, b| (a.0 / a.1).total_cmp(&(b.0 / b.1)));
    let ratios: Vec<String> = rounds
        .iter()
        .map(|(o, r)| format!("{:.2}", o / r))
        .collect();
    let (ours, raw) = rounds[rounds.len() / 2];
    println!(
        "{what:<58} eventsmith {ours:>10.0}/s | raw rusqlite {raw:>10.0}/s | ratio {:.2}x (goal >= {goal}x; rounds {})",
        ours / raw,
        ratios.join(", ")
    );
}

async fn concurrent_single_appends(dir: &std::path::Path) {
    let mut rounds = Vec::new();
    for round in 0..ROUNDS {
        rounds.push(concurrent_single_appends_round(dir, round).await);
    }
    line(
        "64 concurrent single-event appends (vs raw, 64 per commit)",
        rounds,
        0.5,
    );
}

async fn concurrent_single_appends_round(dir: &std::path::Path, round: usize) -> (f64, f64) {
    const EVENTS: usize = 64 * 100;
    let store = SqliteStore::open(dir.join(format!("concurrent-{round}.db")), "bench").unwrap();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for writer in 0..64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..EVENTS / 64 {
                store
                    .append(
                        &format!("order-{writer}"),
                        ExpectedVersion::Any,
                        vec![placed(false)],
                        None,
                    )
                    .await
                    .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let ours = rate(EVENTS, started.elapsed());
    let mut raw = raw_connection(&dir.join(format!("raw-concurrent-{round}.db")));
    let started = Instant::now();
    raw_insert(&mut raw, EVENTS, 64, 0);
    (ours, rate(EVENTS, started.elapsed()))
}

async fn batch_appends(dir: &std::path::Path) {
    let mut rounds = Vec::new();
    for round in 0..ROUNDS {
        rounds.push(batch_appends_round(dir, round).await);
    }
    line(
        "batch appends of 1,000 (vs raw 1,000-row transactions)",
        rounds,
        0.8,
    );
}

async fn batch_appends_round(dir: &std::path::Path, round: usize) -> (f64, f64) {
    const BATCHES: usize = 20;
    let store = SqliteStore::open(dir.join(format!("batch-{round}.db")), "bench").unwrap();
    let started = Instant::now();
    for batch in 0..BATCHES {
        let events = (0..1_000).map(|_| placed(false)).collect();
        store
            .append(
                &format!("order-{batch}"),
                ExpectedVersion::NoStream,
                events,
                None,
            )
            .await
            .unwrap();
    }
    let ours = rate(BATCHES * 1_000, started.elapsed());
    let mut raw = raw_connection(&dir.join(format!("raw-batch-{round}.db")));
    let started = Instant::now();
    raw_insert(&mut raw, BATCHES * 1_000, 1_000, 0);
    (ours, rate(BATCHES * 1_000, started.elapsed()))
}

async fn read_million(dir: &std::path::Path) {
    const EVENTS: usize = 1_000_000;
    let path = dir.join("million.db");
    let store = SqliteStore::open(&path, "bench").unwrap();
    fill(&store, EVENTS, 10_000, None, false).await;
    let mut rounds = Vec::new();
    for _ in 0..ROUNDS {
        // A subscription reads the next page while this one is decoded.
        let started = Instant::now();
        let mut subscription = Subscription::new(&store, 1).batch(10_000);
        let mut count = 0;
        while count < EVENTS {
            for envelope in &subscription.next_batch().await.unwrap() {
                std::hint::black_box(envelope.decode::<events::DomainEvent>().unwrap());
                count += 1;
            }
        }
        let ours = rate(count, started.elapsed());
        let started = Instant::now();
        assert_eq!(raw_read(&path), EVENTS);
        rounds.push((ours, rate(EVENTS, started.elapsed())));
    }
    line("read 1M events in global order, typed decode", rounds, 0.7);
}

/// Reads the same columns the store reads, in order, decoding each payload with serde into the
/// generated type; returns how many.
fn raw_read(path: &std::path::Path) -> usize {
    let raw = Connection::open(path).unwrap();
    let mut statement = raw
        .prepare(
            "SELECT position, id, stream, stream_version, event_type, version, time, data, metadata
             FROM events ORDER BY position",
        )
        .unwrap();
    let mut rows = statement.query([]).unwrap();
    let mut count = 0;
    while let Some(row) = rows.next().unwrap() {
        let data: Vec<u8> = row.get(7).unwrap();
        let columns: (i64, [u8; 16], String, i64, String, u32, i64, Option<String>) = (
            row.get(0).unwrap(),
            row.get(1).unwrap(),
            row.get(2).unwrap(),
            row.get(3).unwrap(),
            row.get(4).unwrap(),
            row.get(5).unwrap(),
            row.get(6).unwrap(),
            row.get(8).unwrap(),
        );
        std::hint::black_box(columns);
        std::hint::black_box(
            serde_json::from_slice::<events::order::v2::OrderPlaced>(&data).unwrap(),
        );
        count += 1;
    }
    count
}

/// A stream's total, as the replayed read model keeps it.
#[derive(serde::Serialize, serde::Deserialize)]
struct Total {
    stream: String,
    total: String,
    currency: String,
}

impl Row for Total {
    const TABLE: &'static str = "totals";
    const KEY: &'static str = "stream";
    const COLUMNS: &'static [Column] = &[
        Column {
            name: "stream",
            kind: ColumnKind::Text,
            required: true,
        },
        Column {
            name: "total",
            kind: ColumnKind::Text,
            required: true,
        },
        Column {
            name: "currency",
            kind: ColumnKind::Text,
            required: true,
        },
    ];
}

struct Totals;

impl Projection for Totals {
    type Event = events::DomainEvent;
    const NAME: &'static str = "totals";
    const TABLES: &'static [TableSpec] = &[TableSpec::of::<Total>()];
    fn handle(
        &self,
        transaction: &dyn Transaction,
        event: &events::DomainEvent,
        envelope: &Envelope,
    ) -> Result<(), HandlerError> {
        if let events::DomainEvent::OrderPlaced(placed) = event {
            Table::<Total>::new(transaction).upsert(&Total {
                stream: envelope.stream.clone(),
                total: placed.total_amount.to_string(),
                currency: placed.currency.clone(),
            })?;
        }
        Ok(())
    }
}

async fn projection_replay(dir: &std::path::Path) {
    const EVENTS: usize = 100_000;
    let path = dir.join("replay.db");
    let store = Arc::new(SqliteStore::open(&path, "bench").unwrap());
    fill(&store, EVENTS, 1_000, None, true).await;
    let mut runner = ProjectionRunner::open(Arc::clone(&store), Totals, dir.join("read.db"))
        .unwrap()
        .batch(1_000);
    let mut rounds = Vec::new();
    for round in 0..ROUNDS {
        let started = Instant::now();
        runner.rebuild().await.unwrap();
        let ours = rate(EVENTS, started.elapsed());
        let started = Instant::now();
        raw_replay(&path, &dir.join(format!("raw-read-{round}.db")));
        rounds.push((ours, rate(EVENTS, started.elapsed())));
    }
    line(
        "projection replay, v1->v2 upcast on half the events",
        rounds,
        0.6,
    );
}

/// The replay by hand: read, decode (upcasting v1 with the generated function), write rows,
/// checkpoint every 1,000.
fn raw_replay(source: &std::path::Path, target: &std::path::Path) {
    let source = Connection::open(source).unwrap();
    let mut target = Connection::open(target).unwrap();
    target
        .execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; CREATE TABLE totals (stream TEXT PRIMARY KEY, total TEXT NOT NULL, currency TEXT NOT NULL); CREATE TABLE checkpoint (position INTEGER);")
        .unwrap();
    let mut statement = source
        .prepare("SELECT position, stream, version, data FROM events ORDER BY position")
        .unwrap();
    let mut rows = statement.query([]).unwrap();
    let mut transaction = target.transaction().unwrap();
    let mut in_batch = 0;
    while let Some(row) = rows.next().unwrap() {
        let position: i64 = row.get(0).unwrap();
        let stream: String = row.get(1).unwrap();
        let version: u32 = row.get(2).unwrap();
        let data: Vec<u8> = row.get(3).unwrap();
        let placed = events::order::decode_placed(version, &data).unwrap();
        transaction
            .prepare_cached("INSERT INTO totals (stream, total, currency) VALUES (?1, ?2, ?3) ON CONFLICT (stream) DO UPDATE SET total = ?2")
            .unwrap()
            .execute(params![stream, placed.total_amount.to_string(), placed.currency])
            .unwrap();
        in_batch += 1;
        if in_batch == 1_000 {
            transaction.execute("DELETE FROM checkpoint", []).unwrap();
            transaction
                .execute("INSERT INTO checkpoint VALUES (?1)", [position])
                .unwrap();
            transaction.commit().unwrap();
            transaction = target.transaction().unwrap();
            in_batch = 0;
        }
    }
    transaction.commit().unwrap();
}

#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
struct OrderTotal {
    total: f64,
    events: u64,
}

/// The aggregate whose state is an `OrderTotal`.
struct OrderTotals;

impl eventsmith::Aggregate for OrderTotals {
    type State = OrderTotal;
    type Event = events::order::OrderEvent;
    type Command = ();
    const CATEGORY: &'static str = "order";
    fn apply(state: &mut Option<OrderTotal>, event: &events::order::OrderEvent) {
        let state = state.get_or_insert_default();
        if let events::order::OrderEvent::Placed(placed) = event {
            state.total += placed.total_amount.as_f64().unwrap_or_default();
        }
        state.events += 1;
    }
    fn decide(
        _: Option<&OrderTotal>,
        _: &(),
    ) -> Result<Vec<events::order::OrderEvent>, eventsmith::Rejection> {
        Ok(Vec::new())
    }
}

/// How many events a loaded aggregate has seen.
fn events_of(state: Option<OrderTotal>) -> u64 {
    state.map_or(0, |s| s.events)
}

async fn aggregate_load(dir: &std::path::Path) {
    let store = SqliteStore::open(dir.join("aggregate.db"), "bench").unwrap();
    fill(&store, 10_000, 1_000, Some("order-long"), false).await;
    let with = Repository::<_, OrderTotals>::new(store.clone()).snapshot_every(100);
    // The snapshot a repository snapshotting every 100 events would hold: at version 10,000.
    let state = serde_json::to_vec(&with.load("long").await.unwrap().state).unwrap();
    store
        .save_snapshot("order-long", 10_000, state)
        .await
        .unwrap();
    let without_store = SqliteStore::open(dir.join("aggregate-plain.db"), "bench").unwrap();
    fill(&without_store, 10_000, 1_000, Some("order-long"), false).await;
    let without = Repository::<_, OrderTotals>::new(without_store);
    let started = Instant::now();
    for _ in 0..50 {
        assert_eq!(events_of(with.load("long").await.unwrap().state), 10_000);
    }
    let snapshot = started.elapsed() / 50;
    let started = Instant::now();
    for _ in 0..5 {
        assert_eq!(events_of(without.load("long").await.unwrap().state), 10_000);
    }
    let replay = started.elapsed() / 5;
    println!(
        "{:<58} with snapshots {:>8.3} ms | without {:>8.3} ms | {:.0}x faster (goal >= 20x)",
        "aggregate load, 10k-event stream",
        snapshot.as_secs_f64() * 1e3,
        replay.as_secs_f64() * 1e3,
        replay.as_secs_f64() / snapshot.as_secs_f64()
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    // `cargo bench --bench store -- read` runs the cases whose name contains `read`.
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let wanted = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));
    let dir = dir.path();
    runtime.block_on(async {
        if wanted("concurrent") {
            concurrent_single_appends(dir).await;
        }
        if wanted("batch") {
            batch_appends(dir).await;
        }
        if wanted("read") {
            read_million(dir).await;
        }
        if wanted("replay") {
            projection_replay(dir).await;
        }
        if wanted("aggregate") {
            aggregate_load(dir).await;
        }
    });
}
