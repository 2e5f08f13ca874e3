//! The outbox relay next to raw async-nats doing the same work on the same server, in the same
//! run:
//! - publication rate: the relay publishing 50,000 stored events (read from a SQLite store,
//!   its checkpoint in a read-model file, rendered
//!   as CloudEvents, pages of 256 acknowledged before the checkpoint moves) vs raw JetStream
//!   publishing the same pre-rendered messages in pages of 256, every acknowledgement awaited;
//! - append-to-consumer latency: one event appended at a time while the relay runs, timed until
//!   a `NatsFeed` (what a projection runs from with `--consume`) returns it (p50, p99).
//!
//! Run: `cargo bench -p eventsmith --features nats --bench nats` (NATS with JetStream at
//! `EVENTSMITH_TEST_NATS`, by default `nats://127.0.0.1:4222`; its streams `BENCH_*` are deleted
//! after).

use eventsmith::read_model::sqlite::SqliteReadModel;
use eventsmith::service::relay::{self, Publishing, Relay};
use eventsmith::store::{
    EventStore, ExpectedVersion, InMemoryStore, Metadata, NatsFeed, NewEvent, SqliteStore,
};
use std::time::{Duration, Instant};

const V2: &str = r#"{"customer_id":"0190f5d2-7c1a-7e3b-9a4f-2b6c8d0e1f23","lines":[{"sku":"BOOK-1984","quantity":2,"unit_price":12.5}],"currency":"EUR","total_amount":25.0}"#;

const EVENTS: usize = 50_000;
const ROUNDS: usize = 3;
const LATENCY_SAMPLES: usize = 2_000;

fn placed() -> NewEvent {
    NewEvent {
        event_type: "order.placed".into(),
        version: 2,
        data: V2.as_bytes().to_vec(),
        metadata: Metadata::default(),
    }
}

/// A SQLite store holding `count` events over 1,000 streams, in a directory of its own.
async fn filled(count: usize) -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a directory");
    let store =
        SqliteStore::open(dir.path().join("events.db"), "urn:eventsmith:bench").expect("a store");
    for n in 0..count / 50 {
        let events = (0..50).map(|_| placed()).collect();
        store
            .append(
                &format!("order-{}", n % 1_000),
                ExpectedVersion::Any,
                events,
                None,
            )
            .await
            .expect("an append");
    }
    (store, dir)
}

fn name(prefix: &str, round: usize) -> String {
    format!("{prefix}_{}_{round}", std::process::id())
}

async fn relay_rate(url: &str, round: usize, client: &async_nats::jetstream::Context) -> f64 {
    let (store, dir) = filled(EVENTS).await;
    let service = name("bench", round);
    // The checkpoint in a read-model file, as a service keeps it.
    let mut relay = Relay::new(
        store,
        SqliteReadModel::open(dir.path().join("events.eventsmith_relay.db")).expect("a read model"),
        Publishing {
            url: url.to_owned(),
            service: service.clone(),
        },
    );
    relay.connect().await.expect("the relay connects");
    let started = Instant::now();
    let mut published = 0;
    loop {
        let page = relay.publish_page().await.expect("a page");
        if page == 0 {
            break;
        }
        published += page;
    }
    let elapsed = started.elapsed();
    assert_eq!(published, EVENTS);
    let _ = client
        .delete_stream(eventsmith::service::app::stream_of(&service))
        .await;
    published as f64 / elapsed.as_secs_f64()
}

async fn raw_rate(round: usize, client: &async_nats::jetstream::Context) -> f64 {
    let (store, _dir) = filled(EVENTS).await;
    let stream = name("BENCH_RAW", round);
    let subject = name("raw", round);
    client
        .get_or_create_stream(async_nats::jetstream::stream::Config {
            name: stream.clone(),
            subjects: vec![format!("{subject}.>")],
            storage: async_nats::jetstream::stream::StorageType::File,
            duplicate_window: relay::DUPLICATE_WINDOW,
            ..Default::default()
        })
        .await
        .expect("a stream");
    // Rendered before the clock starts: the raw side does only the publishing.
    let events = store.read_all(1, EVENTS).await.expect("the events");
    let messages: Vec<_> = events
        .iter()
        .map(|e| {
            (
                format!("{subject}.{}", e.event_type),
                relay::message(e, None),
            )
        })
        .collect();
    let started = Instant::now();
    for page in messages.chunks(relay::IN_FLIGHT) {
        let mut acks = Vec::with_capacity(page.len());
        for (subject, message) in page {
            acks.push(
                client
                    .send_publish(subject.clone(), message.clone())
                    .await
                    .expect("a publish"),
            );
        }
        for ack in acks {
            ack.await.expect("an acknowledgement");
        }
    }
    let elapsed = started.elapsed();
    let _ = client.delete_stream(&stream).await;
    EVENTS as f64 / elapsed.as_secs_f64()
}

async fn latency(url: &str, client: &async_nats::jetstream::Context) {
    let store = std::sync::Arc::new(InMemoryStore::new("urn:eventsmith:bench"));
    let service = name("bench_latency", 0);
    let mut relay = Relay::new(
        std::sync::Arc::clone(&store),
        SqliteReadModel::open_in_memory().expect("a read model"),
        Publishing {
            url: url.to_owned(),
            service: service.clone(),
        },
    );
    relay.connect().await.expect("the relay connects");
    let stream = eventsmith::service::app::stream_of(&service);
    let feed = NatsFeed::connect(url, &stream, &format!("{service}_consumer"))
        .await
        .expect("a feed");
    let mut head = store.head();
    let relaying = tokio::spawn(async move {
        loop {
            head.mark_seen();
            if relay.publish_page().await.expect("a page") == 0 && head.changed().await.is_err() {
                return;
            }
        }
    });
    let mut arrived = feed.head();
    let mut next = 1;
    let mut samples = Vec::with_capacity(LATENCY_SAMPLES);
    for n in 0..LATENCY_SAMPLES {
        let started = Instant::now();
        store
            .append(
                &format!("order-{n}"),
                ExpectedVersion::Any,
                vec![placed()],
                None,
            )
            .await
            .expect("an append");
        // As a projection runner does: wait for the feed's head, then read from the checkpoint.
        loop {
            arrived.mark_seen();
            let events = feed.read_all(next, 16).await.expect("a read");
            if let Some(last) = events.last() {
                next = last.position + 1;
                break;
            }
            tokio::time::timeout(Duration::from_secs(10), arrived.changed())
                .await
                .expect("the event arrives")
                .expect("the feed is open");
        }
        samples.push(started.elapsed());
    }
    relaying.abort();
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    println!(
        "append-to-consumer latency ({LATENCY_SAMPLES} single appends, through the relay and NATS to a NatsFeed read): p50 {:?}, p99 {:?}",
        at(0.50),
        at(0.99)
    );
    let _ = client
        .delete_stream(eventsmith::service::app::stream_of(&service))
        .await;
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let url = std::env::var("EVENTSMITH_TEST_NATS")
            .unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned());
        let nats = async_nats::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("the benchmark needs NATS with JetStream at {url}: {e}"));
        let client = async_nats::jetstream::new(nats.clone());
        let mut rounds = Vec::new();
        for round in 0..ROUNDS {
            let ours = relay_rate(&url, round, &client).await;
            let raw = raw_rate(round, &client).await;
            rounds.push((ours, raw));
        }
        rounds.sort_by(|a, b| (a.0 / a.1).total_cmp(&(b.0 / b.1)));
        let ratios: Vec<String> = rounds
            .iter()
            .map(|(o, r)| format!("{:.2}", o / r))
            .collect();
        let (ours, raw) = rounds[rounds.len() / 2];
        println!(
            "publication of {EVENTS} events, pages of {} acknowledged: relay {ours:.0}/s | raw async-nats {raw:.0}/s | ratio {:.2}x (goal >= 0.7x; rounds {})",
            relay::IN_FLIGHT,
            ours / raw,
            ratios.join(", ")
        );
        latency(&url, &client).await;
    });
}
