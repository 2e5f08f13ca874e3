//! The projection runner over the example project's generated `order` events: exactly-once
//! batches with their checkpoint, resume after restart, upcasting on read (a stored v1
//! `order.placed` reaches the handler as v2), retries with backoff, dead letters (listed,
//! retried after a fix, skipped), transient failures retried and never dead-lettered, rebuild,
//! lag, and the live loop.

mod events {
    include!("../../generated-example/src/generated/mod.rs");
}

use events::order::OrderEvent;
use eventsmith::projection::{
    HandlerError, Projection, ProjectionError, ProjectionRunner, RetryPolicy,
};
use eventsmith::read_model::sqlite::SqliteReadModel;
use eventsmith::read_model::{
    Backend, Column, ColumnKind, Row, RowError, Table, TableSpec, Transaction,
};
use eventsmith::store::{
    Envelope, EventStore, ExpectedVersion, InMemoryStore, Metadata, NewEvent, SqliteStore,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

/// An order as the `orders` read model keeps it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Order {
    id: String,
    total: String,
    currency: String,
    paid: bool,
}

impl Row for Order {
    const TABLE: &'static str = "orders";
    const KEY: &'static str = "id";
    const COLUMNS: &'static [Column] = &[
        Column {
            name: "id",
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
        Column {
            name: "paid",
            kind: ColumnKind::Boolean,
            required: true,
        },
    ];
}

/// Orders with their total, currency and whether they are paid. An order whose total is 666 is
/// refused while `broken` is set; the first `flaky` attempts at any payment fail, transiently
/// when `busy` is set; the switches below fail or panic otherwise.
#[derive(Default)]
struct Orders {
    broken: Arc<AtomicBool>,
    flaky: Arc<AtomicU32>,
    busy: Arc<AtomicBool>,
    /// Refuse an envelope that is not the stored event (no id or time, as a dead letter's copy).
    stored_only: Arc<AtomicBool>,
    /// Panic on payments.
    panics: Arc<AtomicBool>,
}

impl Projection for Orders {
    type Event = OrderEvent;
    const NAME: &'static str = "orders";
    const TABLES: &'static [TableSpec] = &[TableSpec::of::<Order>()];

    fn handle(
        &self,
        transaction: &dyn Transaction,
        event: &OrderEvent,
        envelope: &Envelope,
    ) -> Result<(), HandlerError> {
        let rows = Table::<Order>::new(transaction);
        if self.stored_only.load(Ordering::SeqCst)
            && (envelope.id.is_nil() || envelope.time == time::OffsetDateTime::UNIX_EPOCH)
        {
            return Err("handed an envelope the store does not hold".into());
        }
        if self.panics.load(Ordering::SeqCst) && matches!(event, OrderEvent::Paid(_)) {
            panic!("payments panic");
        }
        match event {
            OrderEvent::Placed(placed) => {
                if placed.total_amount.to_string() == "666" && self.broken.load(Ordering::SeqCst) {
                    return Err("totals of 666 are refused".into());
                }
                rows.upsert(&Order {
                    id: envelope.stream.clone(),
                    total: placed.total_amount.to_string(),
                    currency: placed.currency.clone(),
                    paid: false,
                })?;
            }
            OrderEvent::Paid(_) => {
                if self.flaky.load(Ordering::SeqCst) > 0 {
                    self.flaky.fetch_sub(1, Ordering::SeqCst);
                    if self.busy.load(Ordering::SeqCst) {
                        return Err(HandlerError::transient("the database is busy"));
                    }
                    return Err("the payment service blinked".into());
                }
                if let Some(mut order) = rows.get(&envelope.stream)? {
                    order.paid = true;
                    rows.upsert(&order)?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

type Rows = Vec<(String, String, String, bool)>;

fn tuples(orders: Vec<Order>) -> Rows {
    orders
        .into_iter()
        .map(|o| (o.id, o.total, o.currency, o.paid))
        .collect()
}

/// Every order row, by id.
fn rows<S: EventStore, B: Backend>(runner: &ProjectionRunner<S, Orders, B>) -> Rows {
    let all = |rows: &dyn Transaction| Table::<Order>::new(rows).list(&[], usize::MAX);
    tuples(runner.read(all).unwrap())
}

fn placed_v1(total: &str) -> NewEvent {
    NewEvent {
        event_type: "order.placed".into(),
        version: 1,
        data: format!(r#"{{"customer_id":"0190f5d2-7c1a-7e3b-9a4f-2b6c8d0e1f23","lines":[{{"sku":"A-1","quantity":1,"unit_price":{total}}}],"total":{total}}}"#).into_bytes(),
        metadata: Metadata::default(),
    }
}

fn placed_v2(total: &str, currency: &str) -> NewEvent {
    NewEvent {
        event_type: "order.placed".into(),
        version: 2,
        data: format!(r#"{{"customer_id":"0190f5d2-7c1a-7e3b-9a4f-2b6c8d0e1f23","lines":[{{"sku":"A-1","quantity":1,"unit_price":{total}}}],"currency":"{currency}","total_amount":{total}}}"#).into_bytes(),
        metadata: Metadata::default(),
    }
}

fn paid(amount: &str) -> NewEvent {
    NewEvent {
        event_type: "order.paid".into(),
        version: 1,
        data: format!(r#"{{"amount":{amount},"method":"card"}}"#).into_bytes(),
        metadata: Metadata::default(),
    }
}

fn fast() -> RetryPolicy {
    RetryPolicy {
        attempts: 3,
        backoff: Duration::from_millis(1),
        ..RetryPolicy::default()
    }
}

#[tokio::test]
async fn batches_resume_from_the_checkpoint_and_upcast_on_read() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("read.db");
    let store = Arc::new(InMemoryStore::new("test"));
    store
        .append(
            "order-1",
            ExpectedVersion::NoStream,
            vec![placed_v1("10.5"), paid("10.5")],
            None,
        )
        .await
        .unwrap();
    store
        .append(
            "order-2",
            ExpectedVersion::NoStream,
            vec![placed_v2("3", "USD")],
            None,
        )
        .await
        .unwrap();
    {
        let mut runner = ProjectionRunner::open(Arc::clone(&store), Orders::default(), &db)
            .unwrap()
            .batch(2);
        assert_eq!(runner.status().unwrap().lag, 3);
        let status = runner.run_until_caught_up().await.unwrap();
        assert_eq!((status.position, status.lag), (3, 0));
        assert_eq!(
            rows(&runner),
            [
                ("order-1".into(), "10.5".into(), "EUR".into(), true),
                ("order-2".into(), "3".into(), "USD".into(), false)
            ]
        );
    }
    // A new runner on the same database resumes where the last one committed.
    store
        .append("order-2", ExpectedVersion::Exact(1), vec![paid("3")], None)
        .await
        .unwrap();
    let mut runner = ProjectionRunner::open(Arc::clone(&store), Orders::default(), &db).unwrap();
    assert_eq!(runner.position().unwrap(), 3);
    assert_eq!(runner.run_batch().await.unwrap(), 1);
    assert!(rows(&runner)[1].3);
    // Rebuilding replays everything into an emptied read model, to the same rows.
    let before = rows(&runner);
    let status = runner.rebuild().await.unwrap();
    assert_eq!((status.position, rows(&runner)), (4, before));
}

#[tokio::test]
async fn failing_events_are_retried_then_dead_lettered_while_the_projection_moves_on() {
    let dir = tempfile::tempdir().unwrap();
    let store = InMemoryStore::new("test");
    let projection = Orders::default();
    let broken = Arc::clone(&projection.broken);
    let flaky = Arc::clone(&projection.flaky);
    broken.store(true, Ordering::SeqCst);
    flaky.store(2, Ordering::SeqCst);
    store
        .append(
            "order-1",
            ExpectedVersion::NoStream,
            vec![placed_v2("1", "EUR"), paid("1")],
            None,
        )
        .await
        .unwrap();
    store
        .append(
            "order-6",
            ExpectedVersion::NoStream,
            vec![placed_v2("666", "EUR")],
            None,
        )
        .await
        .unwrap();
    store
        .append(
            "order-7",
            ExpectedVersion::NoStream,
            vec![placed_v2("7", "EUR")],
            None,
        )
        .await
        .unwrap();
    let mut runner = ProjectionRunner::open(store, projection, dir.path().join("read.db"))
        .unwrap()
        .retry(fast());
    let status = runner.run_until_caught_up().await.unwrap();
    assert_eq!(status.position, 4);
    // The flaky payment succeeded on its third attempt; the refused order is a dead letter; the
    // order after it was taken into account.
    let ids: Vec<(String, bool)> = rows(&runner).into_iter().map(|r| (r.0, r.3)).collect();
    assert_eq!(ids, [("order-1".into(), true), ("order-7".into(), false)]);
    let letters = runner.dead_letters().unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(
        (
            letters[0].position,
            letters[0].attempts,
            letters[0].error.as_str()
        ),
        (3, 3, "totals of 666 are refused")
    );
    // Retrying while still broken fails and counts; after the fix it goes through.
    assert!(runner.retry_dead_letter(letters[0].id).await.is_err());
    assert_eq!(runner.dead_letters().unwrap()[0].attempts, 4);
    broken.store(false, Ordering::SeqCst);
    runner.retry_dead_letter(letters[0].id).await.unwrap();
    assert!(runner.dead_letters().unwrap().is_empty());
    assert_eq!(rows(&runner).len(), 3);
    assert!(
        runner.skip_dead_letter(letters[0].id).await.is_err(),
        "no longer open"
    );
}

#[tokio::test]
async fn dead_letters_can_be_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let store = InMemoryStore::new("test");
    store
        .append(
            "order-1",
            ExpectedVersion::NoStream,
            vec![NewEvent {
                data: b"{}".to_vec(),
                ..placed_v2("1", "EUR")
            }],
            None,
        )
        .await
        .unwrap();
    let mut runner = ProjectionRunner::open(store, Orders::default(), dir.path().join("read.db"))
        .unwrap()
        .retry(fast());
    runner.run_until_caught_up().await.unwrap();
    let letters = runner.dead_letters().unwrap();
    assert!(
        letters[0].error.contains("invalid payload"),
        "{}",
        letters[0].error
    );
    runner.skip_dead_letter(letters[0].id).await.unwrap();
    assert!(runner.dead_letters().unwrap().is_empty());
}

/// Once an event of a stream is dead-lettered, the stream's later events are parked behind it
/// (other streams go on, in the same batch too), also by a runner started afterwards; retrying
/// it, with the event as the store holds it, releases them in order. A parked event cannot be
/// retried before the one it waits behind.
#[tokio::test]
async fn later_events_of_a_dead_lettered_stream_wait_behind_it_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("read.db");
    let store = Arc::new(InMemoryStore::new("test"));
    let append = |stream: &'static str, expected, event| {
        let store = Arc::clone(&store);
        async move {
            store
                .append(stream, expected, vec![event], None)
                .await
                .unwrap()
        }
    };
    append("order-7", ExpectedVersion::NoStream, placed_v2("7", "EUR")).await;
    append(
        "order-6",
        ExpectedVersion::NoStream,
        placed_v2("666", "EUR"),
    )
    .await;
    append("order-6", ExpectedVersion::Exact(1), paid("666")).await;
    append("order-7", ExpectedVersion::Exact(1), paid("7")).await;
    let projection = Orders::default();
    let broken = Arc::clone(&projection.broken);
    broken.store(true, Ordering::SeqCst);
    let mut runner = ProjectionRunner::open(Arc::clone(&store), projection, &db)
        .unwrap()
        .retry(fast());
    // One batch: order-7 before the failure is committed again after the roll-back, the
    // payment behind the refused placement is parked, and order-7's payment goes through.
    assert_eq!(runner.run_until_caught_up().await.unwrap().position, 4);
    assert_eq!(
        rows(&runner),
        [("order-7".into(), "7".into(), "EUR".into(), true)]
    );
    drop(runner);
    // A runner started later knows the stream is parked.
    append("order-6", ExpectedVersion::Exact(2), paid("1")).await;
    let projection = Orders::default();
    let (broken, stored_only) = (
        Arc::clone(&projection.broken),
        Arc::clone(&projection.stored_only),
    );
    broken.store(true, Ordering::SeqCst);
    let mut runner = ProjectionRunner::open(Arc::clone(&store), projection, &db)
        .unwrap()
        .retry(fast());
    assert_eq!(runner.run_until_caught_up().await.unwrap().position, 5);
    let letters = runner.dead_letters().unwrap();
    let summary: Vec<(u64, &str, u32)> = letters
        .iter()
        .map(|l| (l.position, l.event_type.as_str(), l.attempts))
        .collect();
    assert_eq!(
        summary,
        [
            (2, "order.placed", 3),
            (3, "order.paid", 0),
            (5, "order.paid", 0)
        ]
    );
    assert!(
        letters[1].error.contains("parked behind"),
        "{}",
        letters[1].error
    );
    match runner.retry_dead_letter(letters[1].id).await {
        Err(ProjectionError::Parked { id, behind }) => {
            assert_eq!((id, behind), (letters[1].id, letters[0].id))
        }
        other => panic!("expected the parked letter refused, got {other:?}"),
    }
    // Fixed: the placement goes through (handed the stored event, with its id and time), then
    // the two payments parked behind it, in order.
    broken.store(false, Ordering::SeqCst);
    stored_only.store(true, Ordering::SeqCst);
    let released = runner.retry_dead_letter(letters[0].id).await.unwrap();
    assert_eq!((released.applied, released.failed), (2, None));
    assert!(runner.dead_letters().unwrap().is_empty());
    assert_eq!(
        rows(&runner),
        [
            ("order-6".into(), "666".into(), "EUR".into(), true),
            ("order-7".into(), "7".into(), "EUR".into(), true)
        ]
    );
    // Rebuilt, the stream is no longer parked.
    runner.rebuild().await.unwrap();
    assert!(runner.dead_letters().unwrap().is_empty());
    assert_eq!(rows(&runner).len(), 2);
}

/// A handler that panics fails on that event like one that returns an error: the event is
/// dead-lettered with the panic's message, and the runner goes on.
#[tokio::test]
async fn a_panicking_handler_dead_letters_the_event() {
    let dir = tempfile::tempdir().unwrap();
    let store = InMemoryStore::new("test");
    let projection = Orders::default();
    projection.panics.store(true, Ordering::SeqCst);
    store
        .append(
            "order-1",
            ExpectedVersion::NoStream,
            vec![placed_v2("1", "EUR"), paid("1")],
            None,
        )
        .await
        .unwrap();
    store
        .append(
            "order-2",
            ExpectedVersion::NoStream,
            vec![placed_v2("2", "EUR")],
            None,
        )
        .await
        .unwrap();
    let mut runner = ProjectionRunner::open(store, projection, dir.path().join("read.db"))
        .unwrap()
        .retry(fast());
    assert_eq!(runner.run_until_caught_up().await.unwrap().position, 3);
    let letters = runner.dead_letters().unwrap();
    assert_eq!(letters.len(), 1);
    assert!(
        letters[0]
            .error
            .contains("the handler panicked: payments panic"),
        "{}",
        letters[0].error
    );
    assert_eq!(rows(&runner).len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_loop_follows_appends_and_stops_between_batches() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("events.db"), "test").unwrap();
    let mut runner =
        ProjectionRunner::open(store.clone(), Orders::default(), dir.path().join("read.db"))
            .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let live = tokio::spawn(async move {
        runner
            .run(async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        runner
    });
    for n in 1..=20 {
        store
            .append(
                &format!("order-{n}"),
                ExpectedVersion::NoStream,
                vec![placed_v2("2", "EUR")],
                None,
            )
            .await
            .unwrap();
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let reader = SqliteReadModel::open_read_only(dir.path().join("read.db")).unwrap();
    let read = || {
        let all = |_, rows: &dyn Transaction| Table::<Order>::new(rows).list(&[], usize::MAX);
        tuples(reader.read("orders", all).unwrap().unwrap())
    };
    while read().len() < 20 {
        assert!(
            std::time::Instant::now() < deadline,
            "the live loop fell behind"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.send(()).unwrap();
    let runner = live.await.unwrap();
    assert_eq!(runner.status().unwrap().position, 20);
}

#[tokio::test]
async fn transient_failures_are_retried_until_they_pass_and_never_dead_lettered() {
    let dir = tempfile::tempdir().unwrap();
    let store = InMemoryStore::new("test");
    let projection = Orders::default();
    projection.busy.store(true, Ordering::SeqCst);
    // More transient failures than the policy allows attempts for a permanent one.
    projection.flaky.store(5, Ordering::SeqCst);
    store
        .append(
            "order-1",
            ExpectedVersion::NoStream,
            vec![placed_v2("1", "EUR"), paid("1")],
            None,
        )
        .await
        .unwrap();
    let told = Arc::new(std::sync::Mutex::new(Vec::new()));
    let hook = Arc::clone(&told);
    let mut runner = ProjectionRunner::open(store, projection, dir.path().join("read.db"))
        .unwrap()
        .retry(RetryPolicy {
            attempts: 2,
            backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(4),
            ..RetryPolicy::default()
        })
        .on_transient(move |error| hook.lock().unwrap().push(error.map(str::to_owned)));
    let status = runner.run_until_caught_up().await.unwrap();
    assert_eq!(status.position, 2);
    assert!(runner.dead_letters().unwrap().is_empty());
    // Told once when the payment started failing, once when it went through.
    assert_eq!(
        *told.lock().unwrap(),
        [Some("the database is busy".to_owned()), None]
    );
    assert_eq!(
        rows(&runner),
        [("order-1".into(), "1".into(), "EUR".into(), true)]
    );
}

#[tokio::test]
async fn a_transient_failure_that_lasts_stalls_the_projection_before_the_event() {
    let dir = tempfile::tempdir().unwrap();
    let store = InMemoryStore::new("test");
    let projection = Orders::default();
    projection.busy.store(true, Ordering::SeqCst);
    projection.flaky.store(u32::MAX, Ordering::SeqCst);
    store
        .append(
            "order-1",
            ExpectedVersion::NoStream,
            vec![placed_v2("1", "EUR"), paid("1")],
            None,
        )
        .await
        .unwrap();
    let mut runner = ProjectionRunner::open(store, projection, dir.path().join("read.db"))
        .unwrap()
        .retry(RetryPolicy {
            backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(2),
            transient_for: Duration::from_millis(30),
            ..RetryPolicy::default()
        });
    let error = runner.run_until_caught_up().await.unwrap_err();
    assert!(
        matches!(error, ProjectionError::Stalled { position: 2, .. }),
        "{error}"
    );
    assert!(
        error.to_string().contains("the database is busy"),
        "{error}"
    );
    // The event before it went through; the failing one is neither skipped nor dead-lettered.
    assert_eq!(runner.status().unwrap().position, 1);
    assert!(runner.dead_letters().unwrap().is_empty());
}

#[tokio::test]
async fn reading_a_row_that_does_not_fit_is_an_error_of_the_read() {
    let dir = tempfile::tempdir().unwrap();
    let runner = ProjectionRunner::open(
        InMemoryStore::new("test"),
        Orders::default(),
        dir.path().join("r.db"),
    )
    .unwrap();
    let refused = runner.read(|rows| Table::<Order>::new(rows).list(&[("colour", "red")], 1));
    assert!(
        matches!(refused, Err(ProjectionError::Row(RowError::Shape { .. }))),
        "{refused:?}"
    );
}

/// Two runners writing one read model would race for its checkpoint: the second is refused.
#[tokio::test]
async fn a_read_model_has_one_writer_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(InMemoryStore::new("test"));
    let db = dir.path().join("read.db");
    let first = ProjectionRunner::open(Arc::clone(&store), Orders::default(), &db).unwrap();
    let Err(refused) = ProjectionRunner::open(Arc::clone(&store), Orders::default(), &db) else {
        panic!("two runners opened one read model for writing");
    };
    assert!(refused.to_string().contains("read.db.lock"), "{refused}");
    drop(first);
    assert!(ProjectionRunner::open(store, Orders::default(), &db).is_ok());
}

/// Releasing a stream stops at a parked event that fails: it heads the stream from then on, and
/// the events behind it stay parked.
#[tokio::test]
async fn a_release_stops_at_a_parked_event_that_fails() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(InMemoryStore::new("test"));
    for (expected, event) in [
        (ExpectedVersion::NoStream, placed_v2("666", "EUR")),
        (ExpectedVersion::Exact(1), paid("666")),
        (ExpectedVersion::Exact(2), paid("666")),
    ] {
        store
            .append("order-6", expected, vec![event], None)
            .await
            .unwrap();
    }
    let projection = Orders::default();
    let (broken, flaky) = (
        Arc::clone(&projection.broken),
        Arc::clone(&projection.flaky),
    );
    broken.store(true, Ordering::SeqCst);
    let mut runner =
        ProjectionRunner::open(Arc::clone(&store), projection, dir.path().join("read.db"))
            .unwrap()
            .retry(fast());
    assert_eq!(runner.run_until_caught_up().await.unwrap().position, 3);
    let letters = runner.dead_letters().unwrap();
    assert_eq!(letters.len(), 3);
    // The placement is fixed, but every payment now fails.
    broken.store(false, Ordering::SeqCst);
    flaky.store(u32::MAX, Ordering::SeqCst);
    let released = runner.retry_dead_letter(letters[0].id).await.unwrap();
    assert_eq!(released.applied, 0, "{released:?}");
    let (failed, error) = released.failed.expect("the first payment failed");
    assert_eq!(failed, letters[1].id);
    assert!(error.contains("blinked"), "{error}");
    let left: Vec<(u64, bool)> = runner
        .dead_letters()
        .unwrap()
        .iter()
        .map(|l| (l.position, l.error.contains("parked behind")))
        .collect();
    assert_eq!(
        left,
        [(2, false), (3, true)],
        "the second payment still waits"
    );
    assert_eq!(
        rows(&runner),
        [("order-6".into(), "666".into(), "EUR".into(), false)]
    );
}
