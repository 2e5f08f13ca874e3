//! The aggregate repository over the example project's generated `customer` events, on both
//! backends: decide and append, rejections, `If-Match` conflicts, retries under racing writers,
//! snapshots every N events, idempotent commands; each with and without the state cache, and
//! caches that fall behind another writer.

mod events {
    include!("../../generated-example/src/generated/mod.rs");
}

#[path = "support/instrumented.rs"]
mod support;
use events::customer::{CustomerEmailChanged, CustomerEvent, CustomerRegistered};
use eventsmith::repository::{Execute, Executed, Repository, RepositoryError};
use eventsmith::store::{EventStore, IdempotencyKey, InMemoryStore};
use eventsmith::{Aggregate, Rejection};
use std::sync::Arc;

#[derive(Debug, Default, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Customer {
    email: Option<String>,
    changes: u64,
}

/// How many times the email changed (0 before the customer exists).
fn changes(state: &Option<Customer>) -> u64 {
    state.as_ref().map_or(0, |c| c.changes)
}

enum Command {
    Register {
        email: &'static str,
        name: &'static str,
    },
    ChangeEmail {
        email: String,
    },
}

/// The test's aggregate: customers who register and change their email.
struct Customers;

impl Aggregate for Customers {
    type State = Customer;
    type Event = CustomerEvent;
    type Command = Command;
    const CATEGORY: &'static str = "customer";

    fn apply(state: &mut Option<Customer>, event: &CustomerEvent) {
        let customer = state.get_or_insert_default();
        match event {
            CustomerEvent::Registered(e) => customer.email = Some(e.email.to_string()),
            CustomerEvent::EmailChanged(e) => {
                customer.email = Some(e.email.to_string());
                customer.changes += 1;
            }
        }
    }

    fn decide(
        state: Option<&Customer>,
        command: &Command,
    ) -> Result<Vec<CustomerEvent>, Rejection> {
        let invalid = |e: eventsmith::format::FormatError| Rejection::new(format!("{e}"));
        match (command, state.and_then(|c| c.email.as_ref())) {
            (Command::Register { email, name }, None) => {
                Ok(vec![CustomerEvent::Registered(CustomerRegistered {
                    email: email.parse().map_err(invalid)?,
                    name: (*name).to_owned(),
                })])
            }
            (Command::Register { .. }, Some(_)) => Err(Rejection::new("already registered")),
            (Command::ChangeEmail { .. }, None) => Err(Rejection::new("not registered")),
            (Command::ChangeEmail { email }, Some(current)) if email == current => Ok(vec![]),
            (Command::ChangeEmail { email }, Some(_)) => {
                Ok(vec![CustomerEvent::EmailChanged(CustomerEmailChanged {
                    email: email.parse().map_err(invalid)?,
                })])
            }
        }
    }
}

fn register() -> Command {
    Command::Register {
        email: "ada@example.com",
        name: "Ada",
    }
}

fn change(n: u64) -> Command {
    Command::ChangeEmail {
        email: format!("ada+{n}@example.com"),
    }
}

async fn decides_appends_and_rejects<S: EventStore>(store: S, cache: usize) {
    let repository = Repository::<_, Customers>::new(store).cache(cache);
    let registered = repository
        .execute("c1", &register(), &Execute::default())
        .await
        .unwrap();
    assert_eq!(registered.aggregate.version, 1);
    assert_eq!(registered.appended.unwrap().first_position, 1);
    let again = repository
        .execute("c1", &register(), &Execute::default())
        .await;
    assert!(
        matches!(again, Err(RepositoryError::Rejected(ref r)) if r.message == "already registered")
    );
    let unchanged = repository
        .execute(
            "c1",
            &Command::ChangeEmail {
                email: "ada@example.com".into(),
            },
            &Execute::default(),
        )
        .await
        .unwrap();
    assert!(unchanged.events.is_empty() && unchanged.appended.is_none());
    repository
        .execute("c1", &change(1), &Execute::default())
        .await
        .unwrap();
    let loaded = repository.load("c1").await.unwrap();
    assert_eq!(
        (loaded.version, loaded.state.unwrap().email.as_deref()),
        (2, Some("ada+1@example.com"))
    );
    // The caller saw version 1 (an If-Match): a conflict, not retried.
    let stale = Execute {
        expected_version: Some(1),
        ..Execute::default()
    };
    let conflict = repository.execute("c1", &change(2), &stale).await;
    assert!(
        matches!(
            conflict,
            Err(RepositoryError::Conflict {
                expected: 1,
                actual: 2,
                ..
            })
        ),
        "{conflict:?}"
    );
    let bad = repository
        .execute(
            "c2",
            &Command::Register {
                email: "not an email",
                name: "X",
            },
            &Execute::default(),
        )
        .await;
    assert!(matches!(bad, Err(RepositoryError::Rejected(_))));
    // Retrying a command with its key appends nothing more.
    let keyed = Execute {
        idempotency_key: Some(IdempotencyKey::new("cmd-9", b"place")),
        ..Execute::default()
    };
    let first = repository.execute("c1", &change(9), &keyed).await.unwrap();
    let retry = repository.execute("c1", &change(9), &keyed).await.unwrap();
    assert_eq!(first.appended, retry.appended);
    assert_eq!(repository.load("c1").await.unwrap().version, 3);
}

async fn racing_commands_all_land_through_retries<S: EventStore + 'static>(store: S, cache: usize) {
    let repository = Arc::new(
        Repository::<_, Customers>::new(store)
            .retries(100)
            .cache(cache),
    );
    repository
        .execute("c1", &register(), &Execute::default())
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for n in 0..20 {
        let repository = Arc::clone(&repository);
        tasks.push(tokio::spawn(async move {
            repository
                .execute("c1", &change(n), &Execute::default())
                .await
                .map(|_| ())
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let loaded = repository.load("c1").await.unwrap();
    assert_eq!((loaded.version, changes(&loaded.state)), (21, 20));
}

/// A snapshot is read only under the state schema it was taken with (`STATE_VERSION`): one of
/// another shape, or of the format before fingerprints, is set aside and the events rebuild the
/// state, rather than the load failing.
async fn snapshots_of_another_state_schema_are_set_aside<S: EventStore>(store: S, cache: usize) {
    let store = Arc::new(store);
    let repository = Repository::<_, Customers>::new(Arc::clone(&store))
        .snapshot_every(1_000)
        .cache(cache);
    repository
        .execute("c1", &register(), &Execute::default())
        .await
        .unwrap();
    for n in 0..3 {
        repository
            .execute("c1", &change(n), &Execute::default())
            .await
            .unwrap();
    }
    let fresh = || Repository::<_, Customers>::new(Arc::clone(&store));
    for stale in [
        br#"{"state_version": "an older schema", "state": {"email": 7, "changes": "many"}}"#
            .to_vec(),
        br#"{"email": "old@example.com", "changes": 99}"#.to_vec(),
        b"not json".to_vec(),
    ] {
        repository
            .store()
            .save_snapshot("customer-c1", 4, stale)
            .await
            .unwrap();
        let loaded = fresh().load("c1").await.unwrap();
        assert_eq!((loaded.version, changes(&loaded.state)), (4, 3));
    }
    // A snapshot under the current fingerprint is read: its state wins over the events'.
    repository
        .store()
        .save_snapshot(
            "customer-c1",
            4,
            br#"{"state_version": "", "state": {"email": "snap@example.com", "changes": 42}}"#
                .to_vec(),
        )
        .await
        .unwrap();
    let loaded = fresh().load("c1").await.unwrap();
    assert_eq!((loaded.version, changes(&loaded.state)), (4, 42));
}

async fn snapshots_every_n_events_and_loads_from_them<S: EventStore>(store: S, cache: usize) {
    let repository = Repository::<_, Customers>::new(store)
        .snapshot_every(100)
        .cache(cache);
    repository
        .execute("c1", &register(), &Execute::default())
        .await
        .unwrap();
    for n in 0..249 {
        repository
            .execute("c1", &change(n), &Execute::default())
            .await
            .unwrap();
    }
    let snapshot = repository
        .store()
        .load_snapshot("customer-c1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(snapshot.version, 200);
    let loaded = repository.load("c1").await.unwrap();
    assert_eq!((loaded.version, changes(&loaded.state)), (250, 249));
    // The same state as replaying every event into a store without the snapshot.
    let replay = InMemoryStore::new("replay");
    for event in repository.store().read_all(1, 1_000).await.unwrap() {
        let new = eventsmith::store::NewEvent {
            event_type: event.event_type,
            version: event.version,
            data: event.data,
            metadata: event.metadata,
        };
        replay
            .append(
                &event.stream,
                eventsmith::store::ExpectedVersion::Any,
                vec![new],
                None,
            )
            .await
            .unwrap();
    }
    let replayed = Repository::<_, Customers>::new(replay)
        .load("c1")
        .await
        .unwrap();
    assert_eq!(replayed, loaded);
}

/// Two repositories with caches over one store, as two processes would be: each one's cached
/// state falls behind the other's appends, and neither decides on a stale state.
async fn stale_caches_are_caught<S: EventStore>(store: S, cache: usize) {
    let store = Arc::new(store);
    let one = Repository::<_, Customers>::new(Arc::clone(&store)).cache(cache.max(1));
    let two = Repository::<_, Customers>::new(Arc::clone(&store)).cache(cache.max(1));
    // `two` caches "not registered"; `one` registers.
    assert_eq!(two.load("c1").await.unwrap().version, 0);
    one.execute("c1", &register(), &Execute::default())
        .await
        .unwrap();
    // From its cache `two` would reject this ("not registered"): it checks the store first.
    let changed = two
        .execute("c1", &change(1), &Execute::default())
        .await
        .unwrap();
    assert_eq!(changed.aggregate.version, 2);
    // `one`'s cache is at version 1: its append conflicts, it catches up and decides again.
    let again = one
        .execute("c1", &change(2), &Execute::default())
        .await
        .unwrap();
    assert_eq!(
        (again.aggregate.version, changes(&again.aggregate.state)),
        (3, 2)
    );
    // `two` is at 2; a caller that saw version 3 is right, one that saw 2 is not.
    let seen = |version| Execute {
        expected_version: Some(version),
        ..Execute::default()
    };
    assert!(matches!(
        two.execute("c1", &change(3), &seen(2)).await,
        Err(RepositoryError::Conflict {
            expected: 2,
            actual: 3,
            ..
        })
    ));
    assert_eq!(
        two.execute("c1", &change(3), &seen(3))
            .await
            .unwrap()
            .aggregate
            .version,
        4
    );
    // A no-op decided from a stale cache is confirmed too: `one` is at 3, the email is now
    // ada+3, which `one` does not know.
    let unchanged = one
        .execute(
            "c1",
            &Command::ChangeEmail {
                email: "ada+3@example.com".into(),
            },
            &Execute::default(),
        )
        .await
        .unwrap();
    assert!(unchanged.events.is_empty());
    assert_eq!(unchanged.aggregate.version, 4);
    assert_eq!(one.load("c1").await.unwrap(), two.load("c1").await.unwrap());
}

macro_rules! on_both_backends {
    ($($test:ident),*) => {
        mod in_memory {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                super::$test(eventsmith::store::InMemoryStore::new("test"), 0).await;
                super::$test(eventsmith::store::InMemoryStore::new("test"), 16).await;
            })*
        }
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                for cache in [0, 16] {
                    let dir = tempfile::tempdir().unwrap();
                    let store = eventsmith::store::SqliteStore::open(dir.path().join("events.db"), "test").unwrap();
                    super::$test(store, cache).await
                }
            })*
        }
    };
}

on_both_backends!(
    decides_appends_and_rejects,
    racing_commands_all_land_through_retries,
    snapshots_every_n_events_and_loads_from_them,
    snapshots_of_another_state_schema_are_set_aside,
    stale_caches_are_caught
);

/// The in-memory store, counting stream reads and hiding or failing what a test asks.
type Counting = support::Instrumented<InMemoryStore>;

fn counting() -> Counting {
    support::Instrumented::new(InMemoryStore::new("test"))
}

/// A keyed command, then its retry racing it: the retry's first key lookup misses, as one made
/// before the original was stored would. Returns both results.
async fn original_and_racing_retry(
    keyed: Execute,
) -> (
    Executed<Customers>,
    Executed<Customers>,
    Repository<Counting, Customers>,
) {
    let repository = Repository::<_, Customers>::new(counting());
    let first = repository.execute("c1", &register(), &keyed).await.unwrap();
    repository
        .store()
        .faults
        .hide_lookups
        .store(1, std::sync::atomic::Ordering::SeqCst);
    let retry = repository.execute("c1", &register(), &keyed).await.unwrap();
    (first, retry, repository)
}

#[tokio::test]
async fn a_cached_aggregate_decides_without_reading_its_stream() {
    for (cache, reads) in [(0, 11), (16, 1)] {
        let repository = Repository::<_, Customers>::new(counting()).cache(cache);
        repository
            .execute("c1", &register(), &Execute::default())
            .await
            .unwrap();
        for n in 0..10 {
            repository
                .execute("c1", &change(n), &Execute::default())
                .await
                .unwrap();
        }
        let store = repository.store();
        assert_eq!(
            store
                .faults
                .reads
                .load(std::sync::atomic::Ordering::Relaxed),
            reads,
            "cache {cache}"
        );
        assert_eq!(changes(&repository.load("c1").await.unwrap().state), 10);
    }
}

#[tokio::test]
async fn a_key_used_by_a_racing_retry_returns_that_retry_s_result() {
    let store = counting();
    store
        .faults
        .hide_lookups
        .store(usize::MAX, std::sync::atomic::Ordering::SeqCst);
    let repository = Repository::<_, Customers>::new(store).cache(16);
    let keyed = Execute {
        idempotency_key: Some(IdempotencyKey::new("k-1", b"the request")),
        ..Execute::default()
    };
    let first = repository.execute("c1", &register(), &keyed).await.unwrap();
    // The lookup misses, the store recognises the key: nothing is appended, and the answer is
    // the first append's, not this command's events.
    let second = repository.execute("c1", &change(1), &keyed).await.unwrap();
    assert_eq!(second.appended, first.appended);
    assert!(matches!(second.events[..], [CustomerEvent::Registered(_)]));
    let loaded = repository.load("c1").await.unwrap();
    assert_eq!((loaded.version, changes(&loaded.state)), (1, 0));
    // The cache did not take the change either.
    let third = repository
        .execute("c1", &change(2), &Execute::default())
        .await
        .unwrap();
    assert_eq!(
        (third.aggregate.version, changes(&third.aggregate.state)),
        (2, 1)
    );
}

/// A retry racing its original can look its key up before the original is stored, then find the
/// original's events and be refused for them ("already registered"): it gets the original's
/// result, as the original's client would have.
#[tokio::test]
async fn a_retry_refused_for_its_original_s_events_gets_the_original_s_result() {
    let (first, retry, repository) = original_and_racing_retry(Execute {
        idempotency_key: Some(IdempotencyKey::new("k-1", b"the request")),
        ..Execute::default()
    })
    .await;
    assert_eq!(retry.appended, first.appended);
    assert!(matches!(retry.events[..], [CustomerEvent::Registered(_)]));
    // Without the key, the same command is refused.
    let again = repository
        .execute("c1", &register(), &Execute::default())
        .await;
    assert!(
        matches!(
            again,
            Err(eventsmith::repository::RepositoryError::Rejected(_))
        ),
        "{again:?}"
    );
}

/// Once the events are stored the command has succeeded: a snapshot that cannot be saved
/// afterwards is reported beside the result, not as a failure (a client would retry and append
/// twice).
#[tokio::test]
async fn a_snapshot_that_fails_after_the_append_does_not_fail_the_command() {
    let store = counting();
    store
        .faults
        .fail_snapshots
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let repository = Repository::<_, Customers>::new(store).snapshot_every(1);
    let executed = repository
        .execute("c1", &register(), &Execute::default())
        .await
        .unwrap();
    assert!(executed.appended.is_some());
    assert!(
        executed
            .snapshot_failed
            .as_deref()
            .is_some_and(|why| why.contains("the disk is full")),
        "{executed:?}"
    );
    assert_eq!(repository.load("c1").await.unwrap().version, 1);
}

/// The same race with `If-Match`: the retry finds the stream moved on by its original, and gets
/// the original's result rather than a version conflict.
#[tokio::test]
async fn a_retry_with_if_match_racing_its_original_gets_the_original_s_result() {
    let (first, retry, _) = original_and_racing_retry(Execute {
        idempotency_key: Some(IdempotencyKey::new("k-1", b"the request")),
        expected_version: Some(0),
        ..Execute::default()
    })
    .await;
    assert_eq!(retry.appended, first.appended);
}
