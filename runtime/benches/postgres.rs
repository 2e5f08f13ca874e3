//! `PostgresStore` next to raw tokio-postgres doing the same work on the same server, in the same
//! run (each side in a schema of its own, with the same table):
//! - 64 concurrent single-event appends (group commit) vs raw `UNNEST` inserts of 64 rows per
//!   transaction;
//! - batch appends of 1,000 vs raw `UNNEST` inserts of 1,000 rows per transaction;
//! - reading 1M events in global order with typed decode vs raw rows decoded with serde.
//!
//! Run: `cargo bench -p eventsmith --bench postgres` (PostgreSQL at `EVENTSMITH_TEST_POSTGRES`,
//! by default `postgres://root@127.0.0.1:5432/test`; its schemas `bench_*` are dropped after).

mod events {
    include!("../../generated-example/src/generated/mod.rs");
}

use eventsmith::store::{
    EventStore, ExpectedVersion, Metadata, NewEvent, PostgresOptions, PostgresStore, Subscription,
};
use std::time::{Duration, Instant};
use tokio_postgres::NoTls;

const V2: &str = r#"{"customer_id":"0190f5d2-7c1a-7e3b-9a4f-2b6c8d0e1f23","lines":[{"sku":"BOOK-1984","quantity":2,"unit_price":12.5}],"currency":"EUR","total_amount":25.0}"#;

/// Rounds per case; the round with the median ratio is printed.
const ROUNDS: usize = 3;

fn placed() -> NewEvent {
    NewEvent {
        event_type: "order.placed".into(),
        version: 2,
        data: V2.as_bytes().to_vec(),
        metadata: Metadata::default(),
    }
}

fn rate(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

fn line(what: &str, mut rounds: Vec<(f64, f64)>, goal: f64) {
    rounds.sort_by(|a, b| (a.0 / a.1).total_cmp(&(b.0 / b.1)));
    let ratios: Vec<String> = rounds
        .iter()
        .map(|(o, r)| format!("{:.2}", o / r))
        .collect();
    let (ours, raw) = rounds[rounds.len() / 2];
    println!(
        "{what:<58} eventsmith {ours:>10.0}/s | raw tokio-postgres {raw:>10.0}/s | ratio {:.2}x (goal >= {goal}x; rounds {})",
        ours / raw,
        ratios.join(", ")
    );
}

struct Bench {
    url: String,
    admin: tokio_postgres::Client,
    schemas: Vec<String>,
}

impl Bench {
    async fn store(&mut self, name: &str) -> PostgresStore {
        let schema = format!("bench_{}_{name}", std::process::id());
        self.schemas.push(schema.clone());
        PostgresStore::connect(
            &self.url,
            "bench",
            PostgresOptions::default().schema(schema),
        )
        .await
        .unwrap()
    }

    /// A raw client and a schema with the store's events table.
    async fn raw(&mut self, name: &str) -> (tokio_postgres::Client, String) {
        let schema = format!("bench_{}_raw_{name}", std::process::id());
        self.schemas.push(schema.clone());
        let (client, connection) = tokio_postgres::connect(&self.url, NoTls).await.unwrap();
        tokio::spawn(connection);
        client
            .batch_execute(&format!(
                "CREATE SCHEMA \"{schema}\";
                 CREATE TABLE \"{schema}\".eventsmith_events (
                     position BIGINT PRIMARY KEY, id BYTEA NOT NULL, stream TEXT NOT NULL,
                     stream_version BIGINT NOT NULL, event_type TEXT NOT NULL, version BIGINT NOT NULL,
                     time BIGINT NOT NULL, data BYTEA NOT NULL, metadata TEXT,
                     UNIQUE (stream, stream_version));"
            ))
            .await
            .unwrap();
        (client, schema)
    }

    async fn drop_schemas(&self) {
        for schema in &self.schemas {
            let _ = self
                .admin
                .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                .await;
        }
    }
}

/// Inserts `count` rows in transactions of `per_transaction`, one `UNNEST` insert each.
async fn raw_insert(
    client: &mut tokio_postgres::Client,
    schema: &str,
    count: usize,
    per_transaction: usize,
) {
    let sql = format!(
        "INSERT INTO \"{schema}\".eventsmith_events (position, id, stream, stream_version, event_type, version, time, data, metadata)
         SELECT * FROM UNNEST($1::int8[], $2::bytea[], $3::text[], $4::int8[], $5::text[], $6::int8[], $7::int8[], $8::bytea[], $9::text[])"
    );
    let statement = client.prepare(&sql).await.unwrap();
    for batch in 0..count / per_transaction {
        let first = batch * per_transaction;
        let positions: Vec<i64> = (first..first + per_transaction)
            .map(|p| p as i64 + 1)
            .collect();
        let ids: Vec<Vec<u8>> = positions
            .iter()
            .map(|_| uuid::Uuid::now_v7().as_bytes().to_vec())
            .collect();
        let streams: Vec<String> = positions.iter().map(|p| format!("order-{p}")).collect();
        let ones = vec![1i64; per_transaction];
        let types = vec!["order.placed".to_owned(); per_transaction];
        let versions = vec![2i64; per_transaction];
        let time = time::OffsetDateTime::now_utc().unix_timestamp_nanos() as i64;
        let times = vec![time; per_transaction];
        let data = vec![V2.as_bytes().to_vec(); per_transaction];
        let metadata: Vec<Option<String>> = vec![None; per_transaction];
        let transaction = client.transaction().await.unwrap();
        transaction
            .execute(
                &statement,
                &[
                    &positions, &ids, &streams, &ones, &types, &versions, &times, &data, &metadata,
                ],
            )
            .await
            .unwrap();
        transaction.commit().await.unwrap();
    }
}

async fn concurrent_single_appends(bench: &mut Bench) {
    const EVENTS: usize = 64 * 100;
    let mut rounds = Vec::new();
    for round in 0..ROUNDS {
        let store = bench.store(&format!("concurrent_{round}")).await;
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
                            vec![placed()],
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
        let (mut raw, schema) = bench.raw(&format!("concurrent_{round}")).await;
        let started = Instant::now();
        raw_insert(&mut raw, &schema, EVENTS, 64).await;
        rounds.push((ours, rate(EVENTS, started.elapsed())));
    }
    line(
        "64 concurrent single-event appends (vs raw UNNEST of 64)",
        rounds,
        0.5,
    );
}

async fn batch_appends(bench: &mut Bench) {
    const BATCHES: usize = 20;
    let mut rounds = Vec::new();
    for round in 0..ROUNDS {
        let store = bench.store(&format!("batch_{round}")).await;
        let started = Instant::now();
        for batch in 0..BATCHES {
            let events = (0..1_000).map(|_| placed()).collect();
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
        let (mut raw, schema) = bench.raw(&format!("batch_{round}")).await;
        let started = Instant::now();
        raw_insert(&mut raw, &schema, BATCHES * 1_000, 1_000).await;
        rounds.push((ours, rate(BATCHES * 1_000, started.elapsed())));
    }
    line(
        "batch appends of 1,000 (vs raw UNNEST of 1,000)",
        rounds,
        0.8,
    );
}

async fn read_million(bench: &mut Bench) {
    const EVENTS: usize = 1_000_000;
    let store = bench.store("million").await;
    for batch in 0..EVENTS / 10_000 {
        let events = (0..10_000).map(|_| placed()).collect();
        store
            .append(
                &format!("order-{batch}"),
                ExpectedVersion::Any,
                events,
                None,
            )
            .await
            .unwrap();
    }
    let schema = format!("bench_{}_million", std::process::id());
    let (raw, _) = bench.raw("unused").await;
    let raw = std::sync::Arc::new(raw);
    let mut rounds = Vec::new();
    for _ in 0..ROUNDS {
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
        // The same columns, in pages of the same size, each payload decoded with serde; the
        // next page is read while this one is decoded, as the store's subscription does.
        let started = Instant::now();
        let sql = format!(
            "SELECT position, id, stream, stream_version, event_type, version, time, data, metadata
             FROM \"{schema}\".eventsmith_events WHERE position >= $1 ORDER BY position LIMIT 10000"
        );
        let statement = raw.prepare(&sql).await.unwrap();
        let fetch = |from: i64| {
            let (raw, statement) = (std::sync::Arc::clone(&raw), statement.clone());
            tokio::spawn(async move { raw.query(&statement, &[&from]).await.unwrap() })
        };
        let mut ahead = fetch(1);
        let mut read = 0;
        loop {
            let rows = ahead.await.unwrap();
            let Some(last) = rows.last() else { break };
            ahead = fetch(last.get::<_, i64>(0) + 1);
            for row in &rows {
                let data: Vec<u8> = row.get(7);
                let columns: (i64, Vec<u8>, String, i64, String, i64, i64, Option<String>) = (
                    row.get(0),
                    row.get(1),
                    row.get(2),
                    row.get(3),
                    row.get(4),
                    row.get(5),
                    row.get(6),
                    row.get(8),
                );
                std::hint::black_box(columns);
                std::hint::black_box(
                    eventsmith::serde_json::from_slice::<events::order::v2::OrderPlaced>(&data)
                        .unwrap(),
                );
                read += 1;
            }
        }
        assert_eq!(read, EVENTS);
        rounds.push((ours, rate(EVENTS, started.elapsed())));
    }
    line("read 1M events in global order, typed decode", rounds, 0.7);
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let wanted = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));
    runtime.block_on(async {
        let url = std::env::var("EVENTSMITH_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".to_owned());
        let (admin, connection) = tokio_postgres::connect(&url, NoTls)
            .await
            .unwrap_or_else(|e| panic!("the benchmark needs PostgreSQL at {url}: {e}"));
        tokio::spawn(connection);
        let mut bench = Bench {
            url,
            admin,
            schemas: Vec::new(),
        };
        if wanted("concurrent") {
            concurrent_single_appends(&mut bench).await;
        }
        if wanted("batch") {
            batch_appends(&mut bench).await;
        }
        if wanted("read") {
            read_million(&mut bench).await;
        }
        bench.drop_schemas().await;
    });
}
