//! The outbox relay against the NATS server every machine of the project runs
//! (`EVENTSMITH_TEST_NATS`, by default `nats://127.0.0.1:4222`; the test fails, naming it, when it
//! cannot be reached), each test on a stream of its own, deleted after.

use eventsmith::read_model::sqlite::SqliteReadModel;
use eventsmith::service::relay::{Publishing, Relay, message};
use eventsmith::store::{EventStore, ExpectedVersion, InMemoryStore, Metadata, NewEvent};

fn nats_url() -> String {
    std::env::var("EVENTSMITH_TEST_NATS").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned())
}

fn placed(n: usize) -> NewEvent {
    NewEvent {
        event_type: "order.placed".into(),
        version: 1,
        data: format!(r#"{{"n":{n}}}"#).into_bytes(),
        metadata: Metadata::default(),
    }
}

/// A service name no other run uses.
fn service(test: &str) -> String {
    format!(
        "relay_{test}_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
            % 1_000_000
    )
}

async fn jetstream() -> async_nats::jetstream::Context {
    let url = nats_url();
    let client = async_nats::connect(&url).await.unwrap_or_else(|e| {
        panic!("this test needs NATS with JetStream at {url} (set EVENTSMITH_TEST_NATS): {e}")
    });
    async_nats::jetstream::new(client)
}

fn relay(
    store: &std::sync::Arc<InMemoryStore>,
    service: &str,
) -> Relay<std::sync::Arc<InMemoryStore>, SqliteReadModel> {
    Relay::new(
        std::sync::Arc::clone(store),
        SqliteReadModel::open_in_memory().unwrap(),
        Publishing {
            url: nats_url(),
            service: service.to_owned(),
        },
    )
}

async fn publish_all(relay: &mut Relay<std::sync::Arc<InMemoryStore>, SqliteReadModel>) -> usize {
    let mut published = 0;
    loop {
        match relay.publish_page().await.unwrap() {
            0 => return published,
            page => published += page,
        }
    }
}

#[tokio::test]
async fn pages_go_out_in_order_and_a_relay_starting_over_adds_nothing() {
    let jetstream = jetstream().await;
    let service = service("pages");
    let store = std::sync::Arc::new(InMemoryStore::new("urn:eventsmith:bench"));
    for n in 0..600 {
        store
            .append(
                &format!("order-{}", n % 7),
                ExpectedVersion::Any,
                vec![placed(n)],
                None,
            )
            .await
            .unwrap();
    }
    let mut first = relay(&store, &service);
    assert_eq!(publish_all(&mut first).await, 600);
    assert_eq!(first.checkpoint().unwrap(), 600);

    // A relay whose checkpoint was lost publishes everything again: every message a
    // duplicate the server drops, none refused for its expected predecessor.
    let mut again = relay(&store, &service);
    assert_eq!(publish_all(&mut again).await, 600);

    let stream_name = eventsmith::service::app::stream_of(&service);
    let mut stream = jetstream.get_stream(&stream_name).await.unwrap();
    let state = stream.info().await.unwrap().state.clone();
    assert_eq!(state.messages, 600, "duplicates dropped");
    for (sequence, position) in [(1, 1), (256, 256), (257, 257), (600, 600)] {
        let stored = stream.get_raw_message(sequence).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&stored.payload).unwrap();
        assert_eq!(body["position"], position, "in the store's order");
        assert_eq!(stored.subject.as_str(), format!("{service}.order.placed"));
    }
    let _ = jetstream.delete_stream(&stream_name).await;
}

#[tokio::test]
async fn a_message_whose_predecessor_was_lost_is_refused() {
    let jetstream = jetstream().await;
    let service = service("lost");
    let store = std::sync::Arc::new(InMemoryStore::new("urn:eventsmith:bench"));
    for n in 0..3 {
        store
            .append("order-1", ExpectedVersion::Any, vec![placed(n)], None)
            .await
            .unwrap();
    }
    let events = store.read_all(1, 3).await.unwrap();
    let mut relay = relay(&store, &service);
    relay.connect().await.unwrap();
    let subject = format!("{service}.order.placed");
    let id = |n: usize| events[n].id.hyphenated().to_string();
    jetstream
        .send_publish(subject.clone(), message(&events[0], None))
        .await
        .unwrap()
        .await
        .unwrap();
    // The second never arrived; the third names it as its predecessor.
    let refused = jetstream
        .send_publish(subject.clone(), message(&events[2], Some(&id(1))))
        .await
        .unwrap()
        .await;
    assert!(refused.is_err(), "stored out of order: {refused:?}");
    let stream_name = eventsmith::service::app::stream_of(&service);
    let mut stream = jetstream.get_stream(&stream_name).await.unwrap();
    assert_eq!(stream.info().await.unwrap().state.messages, 1);
    let _ = jetstream.delete_stream(&stream_name).await;
}

#[tokio::test]
async fn a_feed_reads_the_stream_in_order_skipping_duplicates_and_foreign_messages() {
    use eventsmith::store::NatsFeed;
    let jetstream = jetstream().await;
    let service = service("feed");
    let store = std::sync::Arc::new(InMemoryStore::new("urn:eventsmith:test"));
    for n in 0..5 {
        store
            .append("order-1", ExpectedVersion::Any, vec![placed(n)], None)
            .await
            .unwrap();
    }
    let mut relay = relay(&store, &service);
    assert_eq!(publish_all(&mut relay).await, 5);
    let events = store.read_all(1, 5).await.unwrap();
    // Someone publishes by hand on the service's subjects; and an event arrives again under
    // another message id (past the server's duplicate window).
    jetstream
        .publish(format!("{service}.junk"), "not an event".into())
        .await
        .unwrap()
        .await
        .unwrap();
    jetstream
        .send_publish(
            format!("{service}.order.placed"),
            message(&events[2], None).message_id("another id"),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    let stream = eventsmith::service::app::stream_of(&service);
    let consumer = format!("{service}_reader");
    let feed = NatsFeed::connect(&nats_url(), &stream, &consumer)
        .await
        .unwrap();
    let read = feed.read_all(1, 100).await.unwrap();
    let types: Vec<(u64, &str)> = read
        .iter()
        .map(|e| (e.position, e.event_type.as_str()))
        .collect();
    assert_eq!(
        types,
        [
            (1, "order.placed"),
            (2, "order.placed"),
            (3, "order.placed"),
            (4, "order.placed"),
            (5, "order.placed"),
            (6, "eventsmith.foreign"),
            (7, "eventsmith.duplicate"),
        ]
    );
    assert_eq!(read[2].id, events[2].id);
    assert_eq!(read[2].data, events[2].data);
    assert_eq!(feed.head().position(), 7);

    // Another reader under the same consumer name moves the consumer; each still reads from
    // where it asks.
    let other = NatsFeed::connect(&nats_url(), &stream, &consumer)
        .await
        .unwrap();
    // Reading a message again is no duplicate.
    let first = feed.read_all(2, 2).await.unwrap();
    let second = other.read_all(5, 1).await.unwrap();
    let third = feed.read_all(4, 1).await.unwrap();
    assert_eq!(
        first
            .iter()
            .map(|e| (e.position, e.event_type.as_str()))
            .collect::<Vec<_>>(),
        [(2, "order.placed"), (3, "order.placed")]
    );
    assert_eq!(second.iter().map(|e| e.position).collect::<Vec<_>>(), [5]);
    assert_eq!(third.iter().map(|e| e.position).collect::<Vec<_>>(), [4]);
    assert!(feed.read_all(8, 10).await.unwrap().is_empty(), "caught up");
    let _ = jetstream.delete_stream(&stream).await;
}
