//! One conformance suite for every `EventStore` backend: ordering, optimistic concurrency under
//! racing writers, idempotency, subscriptions across the catch-up/live switch, large and unicode
//! payloads, 10k-event streams, snapshots, reads by correlation id and the CloudEvents envelope.
//! `conformance!` instantiates it per backend: in memory, SQLite in a fresh temporary database
//! per test, and PostgreSQL in a fresh schema per test (of the database at `EVENTSMITH_TEST_POSTGRES`, by default
//! `postgres://root@127.0.0.1:5432/test`; the tests fail, naming it, when it cannot be reached).

use eventsmith::store::{
    Direction, EventStore, ExpectedVersion, IdempotencyKey, InMemoryStore, Metadata, NewEvent,
    PostgresOptions, PostgresStore, SqliteOptions, SqliteStore, StoreError, Subscription,
};
use std::sync::Arc;

#[path = "support/postgres.rs"]
mod pg;
use pg::Schema;

fn event(n: u64) -> NewEvent {
    NewEvent {
        event_type: "order.placed".into(),
        version: 2,
        data: format!(r#"{{"n":{n}}}"#).into_bytes(),
        metadata: Metadata::default(),
    }
}

async fn ordering_and_reads<S: EventStore>(store: S) {
    let first = store
        .append(
            "order-1",
            ExpectedVersion::NoStream,
            vec![event(1), event(2)],
            None,
        )
        .await
        .unwrap();
    assert_eq!((first.first_version, first.last_version), (1, 2));
    assert_eq!((first.first_position, first.last_position), (1, 2));
    store
        .append("order-2", ExpectedVersion::Any, vec![event(3)], None)
        .await
        .unwrap();
    store
        .append("order-1", ExpectedVersion::Exact(2), vec![event(4)], None)
        .await
        .unwrap();
    let forwards = store
        .read_stream("order-1", 1, Direction::Forwards, 100)
        .await
        .unwrap();
    let versions: Vec<u64> = forwards.iter().map(|e| e.stream_version).collect();
    let positions: Vec<u64> = forwards.iter().map(|e| e.position).collect();
    assert_eq!((versions, positions), (vec![1, 2, 3], vec![1, 2, 4]));
    let backwards = store
        .read_stream("order-1", 2, Direction::Backwards, 100)
        .await
        .unwrap();
    assert_eq!(
        backwards
            .iter()
            .map(|e| e.stream_version)
            .collect::<Vec<_>>(),
        [2, 1]
    );
    let limited = store
        .read_stream("order-1", 2, Direction::Forwards, 1)
        .await
        .unwrap();
    assert_eq!(limited.len(), 1);
    assert_eq!(limited[0].stream_version, 2);
    let all = store.read_all(2, 100).await.unwrap();
    assert_eq!(
        all.iter().map(|e| e.position).collect::<Vec<_>>(),
        [2, 3, 4]
    );
    assert_eq!(all[1].stream, "order-2");
    assert!(
        store
            .read_stream("order-9", 1, Direction::Forwards, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        all.windows(2).all(|w| w[0].id < w[1].id),
        "UUIDv7 ids sort by time"
    );
}

async fn expected_versions_are_enforced<S: EventStore>(store: S) {
    store
        .append("s-1", ExpectedVersion::NoStream, vec![event(1)], None)
        .await
        .unwrap();
    let again = store
        .append("s-1", ExpectedVersion::NoStream, vec![event(2)], None)
        .await;
    assert_eq!(
        again,
        Err(StoreError::Conflict {
            stream: "s-1".into(),
            expected: ExpectedVersion::NoStream,
            actual: 1
        })
    );
    let stale = store
        .append("s-1", ExpectedVersion::Exact(0), vec![event(2)], None)
        .await;
    assert!(matches!(stale, Err(StoreError::Conflict { actual: 1, .. })));
    let missing = store
        .append("s-2", ExpectedVersion::Exact(1), vec![event(2)], None)
        .await;
    assert!(matches!(
        missing,
        Err(StoreError::Conflict { actual: 0, .. })
    ));
    assert_eq!(
        store
            .append("s-1", ExpectedVersion::Any, vec![], None)
            .await,
        Err(StoreError::EmptyAppend)
    );
    let not_json = NewEvent {
        data: b"{oops".to_vec(),
        ..event(0)
    };
    assert!(matches!(
        store
            .append("s-1", ExpectedVersion::Any, vec![not_json], None)
            .await,
        Err(StoreError::InvalidPayload { .. })
    ));
    assert_eq!(
        store
            .append("", ExpectedVersion::Any, vec![event(1)], None)
            .await,
        Err(StoreError::InvalidStream)
    );
    // Nothing that failed was written.
    assert_eq!(store.read_all(1, 100).await.unwrap().len(), 1);
}

async fn racing_writers_each_version_has_one_winner<S: EventStore + 'static>(store: S) {
    let store = Arc::new(store);
    let mut tasks = Vec::new();
    for writer in 0..16u64 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let mut wins = 0;
            for _ in 0..50 {
                let current = store
                    .read_stream("race-1", u64::MAX, Direction::Backwards, 1)
                    .await
                    .unwrap()
                    .first()
                    .map_or(0, |e| e.stream_version);
                match store
                    .append(
                        "race-1",
                        ExpectedVersion::Exact(current),
                        vec![event(writer)],
                        None,
                    )
                    .await
                {
                    Ok(_) => wins += 1,
                    Err(StoreError::Conflict { .. }) => {}
                    Err(e) => panic!("{e}"),
                }
                // Another stream, appended to concurrently, shares the global positions.
                store
                    .append(
                        &format!("other-{writer}"),
                        ExpectedVersion::Any,
                        vec![event(writer)],
                        None,
                    )
                    .await
                    .unwrap();
            }
            wins
        }));
    }
    let mut wins = 0;
    for task in tasks {
        wins += task.await.unwrap();
    }
    let stream = store
        .read_stream("race-1", 1, Direction::Forwards, 10_000)
        .await
        .unwrap();
    assert_eq!(
        stream.len() as u64,
        wins,
        "every win, and only wins, is in the stream"
    );
    assert!(
        stream
            .iter()
            .enumerate()
            .all(|(i, e)| e.stream_version == i as u64 + 1)
    );
    let all = store.read_all(1, 100_000).await.unwrap();
    assert_eq!(all.len() as u64, wins + 16 * 50);
    assert!(
        all.iter()
            .enumerate()
            .all(|(i, e)| e.position == i as u64 + 1),
        "no gap, no duplicate"
    );
}

/// `key` for a request whose body is `body`.
fn key(key: &str, body: &str) -> IdempotencyKey {
    IdempotencyKey::new(key, body.as_bytes())
}

async fn idempotent_appends_append_once<S: EventStore>(store: S) {
    let first = store
        .append(
            "pay-1",
            ExpectedVersion::NoStream,
            vec![event(1)],
            Some(&key("k-1", "pay 1")),
        )
        .await
        .unwrap();
    // The retry would conflict, but the key answers with the first result.
    let retry = store
        .append(
            "pay-1",
            ExpectedVersion::NoStream,
            vec![event(1)],
            Some(&key("k-1", "pay 1")),
        )
        .await
        .unwrap();
    assert_eq!(first, retry);
    assert_eq!(
        store.idempotent_result(&key("k-1", "pay 1")).await.unwrap(),
        Some(first)
    );
    assert_eq!(
        store.idempotent_result(&key("k-unused", "")).await.unwrap(),
        None
    );
    assert_eq!(store.read_all(1, 10).await.unwrap().len(), 1);
    store
        .append(
            "pay-1",
            ExpectedVersion::Exact(1),
            vec![event(2)],
            Some(&key("k-2", "pay 2")),
        )
        .await
        .unwrap();
    assert_eq!(store.read_all(1, 10).await.unwrap().len(), 2);
}

async fn a_key_reused_for_another_request_is_refused<S: EventStore>(store: S) {
    store
        .append(
            "pay-1",
            ExpectedVersion::NoStream,
            vec![event(1)],
            Some(&key("k-1", "pay 1")),
        )
        .await
        .unwrap();
    let reused = store
        .append(
            "pay-2",
            ExpectedVersion::Any,
            vec![event(2)],
            Some(&key("k-1", "pay 2")),
        )
        .await;
    assert_eq!(reused, Err(StoreError::KeyReused { key: "k-1".into() }));
    assert_eq!(
        store.idempotent_result(&key("k-1", "pay 2")).await,
        Err(StoreError::KeyReused { key: "k-1".into() })
    );
    assert_eq!(
        store.read_all(1, 10).await.unwrap().len(),
        1,
        "nothing appended"
    );
    let long = "k".repeat(eventsmith::store::MAX_KEY_LEN + 1);
    let refused = store
        .append(
            "pay-3",
            ExpectedVersion::Any,
            vec![event(3)],
            Some(&key(&long, "")),
        )
        .await;
    assert_eq!(refused, Err(StoreError::InvalidKey));
    // NUL bytes, which PostgreSQL's text refuses, are refused by every backend.
    let refused = store
        .append(
            "pay-3",
            ExpectedVersion::Any,
            vec![event(3)],
            Some(&key("k\0", "")),
        )
        .await;
    assert_eq!(refused, Err(StoreError::InvalidKey));
    let refused = store
        .append("pay\0", ExpectedVersion::Any, vec![event(3)], None)
        .await;
    assert_eq!(refused, Err(StoreError::InvalidStream));
}

/// With keys remembered for no time at all, a retry is a new append.
async fn expired_keys_are_forgotten<S: EventStore>(store: S) {
    for n in 1..=2 {
        let appended = store
            .append(
                "pay-1",
                ExpectedVersion::Any,
                vec![event(n)],
                Some(&key("k-1", "pay")),
            )
            .await
            .unwrap();
        assert_eq!(appended.last_version, n);
    }
    assert_eq!(store.idempotent_result(&key("k-1", "pay")).await, Ok(None));
    // Nor is a reused key refused once it expired.
    let other = store
        .append(
            "pay-2",
            ExpectedVersion::Any,
            vec![event(3)],
            Some(&key("k-1", "other")),
        )
        .await;
    assert!(other.is_ok(), "{other:?}");
}

async fn subscriptions_switch_from_catch_up_to_live_without_gap_or_duplicate<
    S: EventStore + 'static,
>(
    store: S,
) {
    let store = Arc::new(store);
    for n in 0..300 {
        store
            .append(
                &format!("s-{}", n % 7),
                ExpectedVersion::Any,
                vec![event(n)],
                None,
            )
            .await
            .unwrap();
    }
    let writer = {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            for n in 300..600 {
                store
                    .append(
                        &format!("s-{}", n % 7),
                        ExpectedVersion::Any,
                        vec![event(n)],
                        None,
                    )
                    .await
                    .unwrap();
                if n % 50 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        })
    };
    let mut subscription = Subscription::new(store.as_ref(), 1);
    let mut positions = Vec::new();
    while positions.len() < 600 {
        let next = tokio::time::timeout(std::time::Duration::from_secs(10), subscription.next())
            .await
            .expect("the subscription keeps up")
            .unwrap();
        positions.push(next.position);
    }
    writer.await.unwrap();
    assert_eq!(positions, (1..=600).collect::<Vec<u64>>());
    // From the middle, then one more appended while waiting.
    let mut late = Subscription::new(store.as_ref(), 599);
    assert_eq!(late.next().await.unwrap().position, 599);
    assert_eq!(late.next().await.unwrap().position, 600);
    let waiting = tokio::spawn({
        let store = Arc::clone(&store);
        async move {
            let mut subscription = Subscription::new(store.as_ref(), 601);
            subscription.next().await.unwrap().position
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    store
        .append("s-0", ExpectedVersion::Any, vec![event(601)], None)
        .await
        .unwrap();
    assert_eq!(waiting.await.unwrap(), 601);
}

/// Catching up on exactly two full pages: the page read ahead comes back empty, and an event
/// appended after it was read must still arrive.
async fn subscriptions_read_ahead_then_wait<S: EventStore + Sync + Send + 'static>(store: S) {
    let store = Arc::new(store);
    for n in 0..8 {
        store
            .append(
                "s-0",
                ExpectedVersion::Any,
                vec![event(2 * n), event(2 * n + 1)],
                None,
            )
            .await
            .unwrap();
    }
    let reader = {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            let mut subscription = Subscription::new(store.as_ref(), 1).batch(8);
            let mut pages = Vec::new();
            while pages.iter().map(Vec::len).sum::<usize>() < 17 {
                let page = subscription.next_batch().await.unwrap();
                pages.push(page.iter().map(|e| e.position).collect::<Vec<u64>>());
            }
            pages
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    store
        .append("s-1", ExpectedVersion::Any, vec![event(16)], None)
        .await
        .unwrap();
    let pages = tokio::time::timeout(std::time::Duration::from_secs(10), reader)
        .await
        .expect("the event appended after the read-ahead arrives")
        .unwrap();
    assert_eq!(
        pages,
        vec![(1..=8).collect::<Vec<u64>>(), (9..=16).collect(), vec![17]]
    );
}

async fn large_and_unicode_payloads_survive<S: EventStore>(store: S) {
    let big = format!(r#"{{"blob":"{}"}}"#, "x".repeat(2 * 1024 * 1024));
    let unicode = r#"{"name":"Zoë Ångström 日本語 🎉","quote":"\u2028 \"quoted\""}"#;
    let metadata = Metadata {
        correlation_id: Some("corr-1".into()),
        causation_id: Some("cmd-1".into()),
        extra: [("user".to_owned(), serde_json::json!("zoë"))].into(),
    };
    store
        .append(
            "blob-1",
            ExpectedVersion::Any,
            vec![
                NewEvent {
                    data: big.clone().into_bytes(),
                    ..event(0)
                },
                NewEvent {
                    data: unicode.as_bytes().to_vec(),
                    metadata: metadata.clone(),
                    ..event(0)
                },
            ],
            None,
        )
        .await
        .unwrap();
    let read = store
        .read_stream("blob-1", 1, Direction::Forwards, 10)
        .await
        .unwrap();
    assert_eq!(read[0].data, big.as_bytes());
    assert_eq!(read[1].data, unicode.as_bytes());
    assert_eq!(read[1].metadata, metadata);
}

async fn ten_thousand_event_streams<S: EventStore>(store: S) {
    for chunk in 0..10u64 {
        let events = (0..1_000).map(|n| event(chunk * 1_000 + n)).collect();
        let expected = if chunk == 0 {
            ExpectedVersion::NoStream
        } else {
            ExpectedVersion::Exact(chunk * 1_000)
        };
        store
            .append("long-1", expected, events, None)
            .await
            .unwrap();
    }
    let all = store
        .read_stream("long-1", 1, Direction::Forwards, 20_000)
        .await
        .unwrap();
    assert_eq!(all.len(), 10_000);
    assert_eq!(all.last().unwrap().stream_version, 10_000);
    let tail = store
        .read_stream("long-1", 9_990, Direction::Forwards, 100)
        .await
        .unwrap();
    assert_eq!(tail.len(), 11);
}

async fn snapshots_keep_the_latest<S: EventStore>(store: S) {
    assert_eq!(store.load_snapshot("order-1").await.unwrap(), None);
    store
        .save_snapshot("order-1", 100, b"state at 100".to_vec())
        .await
        .unwrap();
    store
        .save_snapshot("order-1", 200, b"state at 200".to_vec())
        .await
        .unwrap();
    let latest = store.load_snapshot("order-1").await.unwrap().unwrap();
    assert_eq!(
        (latest.version, latest.state.as_slice()),
        (200, &b"state at 200"[..])
    );
}

async fn events_are_read_by_correlation_id<S: EventStore>(store: S) {
    let correlated = |n: u64, correlation: Option<&str>| NewEvent {
        metadata: Metadata {
            correlation_id: correlation.map(str::to_owned),
            ..Metadata::default()
        },
        ..event(n)
    };
    for (n, correlation) in [
        (1, Some("c-1")),
        (2, Some("c-2")),
        (3, None),
        (4, Some("c-1")),
        (5, Some("c-1")),
    ] {
        let stream = format!("order-{}", n % 2);
        store
            .append(
                &stream,
                ExpectedVersion::Any,
                vec![correlated(n, correlation)],
                None,
            )
            .await
            .unwrap();
    }
    let positions = |events: Vec<eventsmith::store::Envelope>| -> Vec<u64> {
        events.iter().map(|e| e.position).collect()
    };
    let all = store.read_correlated("c-1", 1, 100).await.unwrap();
    assert_eq!(positions(all), [1, 4, 5]);
    assert_eq!(
        positions(store.read_correlated("c-1", 2, 1).await.unwrap()),
        [4]
    );
    assert_eq!(
        positions(store.read_correlated("c-2", 1, 100).await.unwrap()),
        [2]
    );
    assert!(
        store
            .read_correlated("c-3", 1, 100)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn envelopes_are_cloudevents<S: EventStore>(store: S) {
    let metadata = Metadata {
        correlation_id: Some("c-1".into()),
        ..Metadata::default()
    };
    store
        .append(
            "order-7",
            ExpectedVersion::Any,
            vec![NewEvent {
                metadata,
                ..event(7)
            }],
            None,
        )
        .await
        .unwrap();
    let envelope = store.read_all(1, 1).await.unwrap().remove(0);
    let json = envelope.to_cloudevent();
    assert_eq!(json["specversion"], "1.0");
    assert_eq!(json["type"], "order.placed");
    assert_eq!(json["subject"], "order-7");
    assert_eq!(json["source"], "conformance");
    assert_eq!(json["datacontenttype"], "application/json");
    assert_eq!(json["data"], serde_json::json!({"n": 7}));
    assert_eq!(
        (json["streamversion"].as_u64(), json["position"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(json["correlationid"], "c-1");
    assert_eq!(
        uuid::Uuid::parse_str(json["id"].as_str().unwrap())
            .unwrap()
            .get_version_num(),
        7
    );
    assert!(
        time::OffsetDateTime::parse(
            json["time"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339
        )
        .is_ok()
    );
}

macro_rules! conformance {
    ($backend:ident, $make:expr) => {
        mod $backend {
            use super::*;

            #[tokio::test]
            async fn ordering_and_reads() {
                {
                    let (store, _guard) = $make;
                    super::ordering_and_reads(store).await
                }
            }
            #[tokio::test]
            async fn expected_versions_are_enforced() {
                {
                    let (store, _guard) = $make;
                    super::expected_versions_are_enforced(store).await
                }
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn racing_writers_each_version_has_one_winner() {
                {
                    let (store, _guard) = $make;
                    super::racing_writers_each_version_has_one_winner(store).await
                }
            }
            #[tokio::test]
            async fn idempotent_appends_append_once() {
                {
                    let (store, _guard) = $make;
                    super::idempotent_appends_append_once(store).await
                }
            }
            #[tokio::test]
            async fn a_key_reused_for_another_request_is_refused() {
                {
                    let (store, _guard) = $make;
                    super::a_key_reused_for_another_request_is_refused(store).await
                }
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn subscriptions_switch_from_catch_up_to_live() {
                {
                    let (store, _guard) = $make;
                    super::subscriptions_switch_from_catch_up_to_live_without_gap_or_duplicate(
                        store,
                    )
                    .await
                }
            }
            #[tokio::test]
            async fn subscriptions_read_ahead_then_wait() {
                {
                    let (store, _guard) = $make;
                    super::subscriptions_read_ahead_then_wait(store).await
                }
            }
            #[tokio::test]
            async fn large_and_unicode_payloads_survive() {
                {
                    let (store, _guard) = $make;
                    super::large_and_unicode_payloads_survive(store).await
                }
            }
            #[tokio::test]
            async fn ten_thousand_event_streams() {
                {
                    let (store, _guard) = $make;
                    super::ten_thousand_event_streams(store).await
                }
            }
            #[tokio::test]
            async fn snapshots_keep_the_latest() {
                {
                    let (store, _guard) = $make;
                    super::snapshots_keep_the_latest(store).await
                }
            }
            #[tokio::test]
            async fn events_are_read_by_correlation_id() {
                {
                    let (store, _guard) = $make;
                    super::events_are_read_by_correlation_id(store).await
                }
            }
            #[tokio::test]
            async fn envelopes_are_cloudevents() {
                {
                    let (store, _guard) = $make;
                    super::envelopes_are_cloudevents(store).await
                }
            }
        }
    };
}

conformance!(in_memory, (InMemoryStore::new("conformance"), ()));
conformance!(sqlite, sqlite_store());
conformance!(postgres, postgres_store().await);

/// A PostgreSQL store in a fresh schema, dropped with the guard.
async fn postgres_store_with(options: PostgresOptions) -> (PostgresStore, Schema) {
    let schema = Schema::fresh("conformance");
    let store = PostgresStore::connect(&schema.url, "conformance", options.schema(&schema.name))
        .await
        .unwrap_or_else(|e| pg::unreachable(&schema.url, e));
    (store, schema)
}

async fn postgres_store() -> (PostgresStore, Schema) {
    postgres_store_with(PostgresOptions::default()).await
}

#[tokio::test]
async fn postgres_expired_keys_are_forgotten() {
    let options = PostgresOptions::default().key_ttl(std::time::Duration::ZERO);
    let (store, _schema) = postgres_store_with(options).await;
    expired_keys_are_forgotten(store).await;
}

/// Two stores on one schema, as two service instances: each sees the other's events, in one
/// dense order, and the live feed of one wakes on the other's commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_instances_share_one_order() {
    let (first, schema) = postgres_store().await;
    let second = PostgresStore::connect(
        &schema.url,
        "conformance",
        PostgresOptions::default().schema(&schema.name),
    )
    .await
    .unwrap();
    // The second's feed wakes on the first's commits.
    let mut head = second.head();
    for n in 0..5 {
        first
            .append("first", ExpectedVersion::Any, vec![event(n)], None)
            .await
            .unwrap();
    }
    tokio::time::timeout(std::time::Duration::from_secs(5), async {
        while head.position() < 5 {
            head.changed().await.unwrap();
        }
    })
    .await
    .expect("the second store's head followed the first's commits");
    let writers = [first.clone(), second.clone()].map(|store| {
        tokio::spawn(async move {
            for n in 0..50 {
                store
                    .append(
                        &format!("s-{n}"),
                        ExpectedVersion::Any,
                        vec![event(n)],
                        None,
                    )
                    .await
                    .unwrap();
            }
        })
    });
    for writer in writers {
        writer.await.unwrap();
    }
    for store in [&first, &second] {
        let all = store.read_all(1, 1000).await.unwrap();
        let positions: Vec<u64> = all.iter().map(|e| e.position).collect();
        assert_eq!(positions, (1..=105).collect::<Vec<u64>>());
        for stream in 0..50 {
            let versions: Vec<u64> = all
                .iter()
                .filter(|e| e.stream == format!("s-{stream}"))
                .map(|e| e.stream_version)
                .collect();
            assert_eq!(versions, [1, 2]);
        }
    }
}

#[tokio::test]
async fn in_memory_expired_keys_are_forgotten() {
    let store = InMemoryStore::new("conformance").with_key_ttl(std::time::Duration::ZERO);
    expired_keys_are_forgotten(store).await;
}

#[tokio::test]
async fn sqlite_expired_keys_are_forgotten() {
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteOptions::default().key_ttl(std::time::Duration::ZERO);
    let store =
        SqliteStore::open_with(dir.path().join("events.db"), "conformance", options).unwrap();
    expired_keys_are_forgotten(store).await;
}

#[tokio::test]
async fn sqlite_has_one_writer_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    let first = SqliteStore::open(&path, "conformance").unwrap();
    let Err(refused) = SqliteStore::open(&path, "conformance") else {
        panic!("two stores wrote one database");
    };
    assert!(matches!(refused, StoreError::Locked(_)), "{refused:?}");
    assert!(refused.to_string().contains("events.db.lock"), "{refused}");
    drop(first);
    assert!(SqliteStore::open(&path, "conformance").is_ok());
}

/// A writer stuck behind another connection's lock: appends wait in the queue up to its bound,
/// and the one after is refused at once rather than queued without limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_refuses_appends_beyond_the_writer_queue() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    let store =
        SqliteStore::open_with(&path, "conformance", SqliteOptions::default().queue(2)).unwrap();
    // The writer is past its start (it prunes expired keys first) and waits for requests.
    store
        .append("s-ready", ExpectedVersion::Any, vec![event(0)], None)
        .await
        .unwrap();
    let blocker = rusqlite::Connection::open(&path).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let mut waiting = Vec::new();
    // The writer takes the first and waits for the lock; then the queue fills.
    let first = tokio::spawn({
        let store = store.clone();
        async move {
            store
                .append("s-0", ExpectedVersion::Any, vec![event(0)], None)
                .await
        }
    });
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let mut refused = None;
    for n in 1..=10 {
        let stream = format!("s-{n}");
        let append = store.append(&stream, ExpectedVersion::Any, vec![event(n)], None);
        match tokio::time::timeout(std::time::Duration::from_millis(50), append).await {
            Ok(Err(StoreError::Overloaded)) => {
                refused = Some(n);
                break;
            }
            Ok(other) => panic!("append {n} while the writer is stuck: {other:?}"),
            Err(_) => waiting.push(n),
        }
    }
    assert_eq!(refused, Some(3), "queued: {waiting:?}");
    blocker.execute_batch("COMMIT").unwrap();
    assert!(first.await.unwrap().is_ok());
}

#[tokio::test]
async fn sqlite_opens_a_database_of_an_earlier_release() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    {
        let old = rusqlite::Connection::open(&path).unwrap();
        old.execute_batch(
            "CREATE TABLE idempotency (key TEXT PRIMARY KEY, first_version INTEGER NOT NULL,
             last_version INTEGER NOT NULL, first_position INTEGER NOT NULL, last_position INTEGER NOT NULL);
             INSERT INTO idempotency VALUES ('k-old', 1, 1, 1, 1);",
        )
        .unwrap();
    }
    let store = SqliteStore::open(&path, "conformance").unwrap();
    // Its keys had no fingerprint: they count as expired.
    assert_eq!(store.idempotent_result(&key("k-old", "")).await, Ok(None));
    let appended = store
        .append(
            "pay-1",
            ExpectedVersion::Any,
            vec![event(1)],
            Some(&key("k-old", "new")),
        )
        .await
        .unwrap();
    assert_eq!(
        store.idempotent_result(&key("k-old", "new")).await,
        Ok(Some(appended))
    );
}

/// A SQLite store in a fresh temporary directory, removed with the guard.
fn sqlite_store() -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("events.db"), "conformance").unwrap();
    (store, dir)
}

#[tokio::test]
async fn sqlite_reopens_with_every_event_and_the_head() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    {
        let store = SqliteStore::open(&path, "conformance").unwrap();
        store
            .append(
                "order-1",
                ExpectedVersion::NoStream,
                vec![event(1), event(2)],
                Some(&key("k", "")),
            )
            .await
            .unwrap();
        store
            .save_snapshot("order-1", 2, b"s".to_vec())
            .await
            .unwrap();
    }
    let store = SqliteStore::open(&path, "conformance").unwrap();
    assert_eq!(store.head().position(), 2);
    assert_eq!(store.read_all(1, 10).await.unwrap().len(), 2);
    let retry = store
        .append(
            "order-1",
            ExpectedVersion::NoStream,
            vec![event(1)],
            Some(&key("k", "")),
        )
        .await
        .unwrap();
    assert_eq!(retry.last_position, 2);
    assert_eq!(
        store
            .load_snapshot("order-1")
            .await
            .unwrap()
            .unwrap()
            .version,
        2
    );
    let next = store
        .append("order-1", ExpectedVersion::Exact(2), vec![event(3)], None)
        .await
        .unwrap();
    assert_eq!((next.last_version, next.last_position), (3, 3));
}
