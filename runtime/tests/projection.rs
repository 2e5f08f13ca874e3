//! The projection runner over the example project's generated `order` events: exactly-once
//! batches with their checkpoint, resume after restart, upcasting on read (a stored v1
//! `order.placed` reaches the handler as v2), retries with backoff, dead letters (listed,
//! retried after a fix, skipped), rebuild, lag, and the live loop.

mod events {
    include!("../../generated-example/src/generated/mod.rs");
}

use events::order::OrderEvent;
use eventsmith::projection::{Projection, ProjectionRunner, RetryPolicy, Setup};
use eventsmith::store::{
    Envelope, EventStore, ExpectedVersion, InMemoryStore, Metadata, NewEvent, SqliteStore,
};
use rusqlite::{Connection, params};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

/// Orders with their total, currency and whether they are paid. An order whose total is 666 is
/// refused while `broken` is set; the first `flaky` attempts at any payment fail.
#[derive(Default)]
struct Orders {
    broken: Arc<AtomicBool>,
    flaky: Arc<AtomicU32>,
}

impl Projection for Orders {
    type Event = OrderEvent;
    const NAME: &'static str = "orders";

    fn setup(&self, db: &Connection) -> rusqlite::Result<Setup> {
        db.execute_batch("CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY, total TEXT, currency TEXT, paid INTEGER NOT NULL DEFAULT 0)")?;
        Ok(Setup::Unchanged)
    }

    fn reset(&self, db: &Connection) -> rusqlite::Result<()> {
        db.execute_batch("DELETE FROM orders")
    }

    fn handle(
        &self,
        db: &Connection,
        event: &OrderEvent,
        envelope: &Envelope,
    ) -> Result<(), String> {
        match event {
            OrderEvent::Placed(placed) => {
                if placed.total_amount.to_string() == "666" && self.broken.load(Ordering::SeqCst) {
                    return Err("totals of 666 are refused".into());
                }
                db.execute(
                    "INSERT INTO orders (id, total, currency) VALUES (?1, ?2, ?3)",
                    params![
                        envelope.stream,
                        placed.total_amount.to_string(),
                        placed.currency
                    ],
                )
                .map_err(|e| e.to_string())?;
            }
            OrderEvent::Paid(_) => {
                if self.flaky.load(Ordering::SeqCst) > 0 {
                    self.flaky.fetch_sub(1, Ordering::SeqCst);
                    return Err("the payment service blinked".into());
                }
                db.execute(
                    "UPDATE orders SET paid = 1 WHERE id = ?1",
                    [&envelope.stream],
                )
                .map_err(|e| e.to_string())?;
            }
            _ => {}
        }
        Ok(())
    }
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

fn rows(db: &Connection) -> Vec<(String, String, String, bool)> {
    let mut statement = db
        .prepare("SELECT id, total, currency, paid FROM orders ORDER BY id")
        .unwrap();
    statement
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn fast() -> RetryPolicy {
    RetryPolicy {
        attempts: 3,
        backoff: Duration::from_millis(1),
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
            rows(runner.db()),
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
    assert!(rows(runner.db())[1].3);
    // Rebuilding replays everything into an emptied read model, to the same rows.
    let before = rows(runner.db());
    let status = runner.rebuild().await.unwrap();
    assert_eq!((status.position, rows(runner.db())), (4, before));
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
    let ids: Vec<(String, bool)> = rows(runner.db()).into_iter().map(|r| (r.0, r.3)).collect();
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
    assert!(runner.retry_dead_letter(letters[0].id).is_err());
    assert_eq!(runner.dead_letters().unwrap()[0].attempts, 4);
    broken.store(false, Ordering::SeqCst);
    runner.retry_dead_letter(letters[0].id).unwrap();
    assert!(runner.dead_letters().unwrap().is_empty());
    assert_eq!(rows(runner.db()).len(), 3);
    assert!(
        runner.skip_dead_letter(letters[0].id).is_err(),
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
    runner.skip_dead_letter(letters[0].id).unwrap();
    assert!(runner.dead_letters().unwrap().is_empty());
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
    let reader = Connection::open(dir.path().join("read.db")).unwrap();
    while rows(&reader).len() < 20 {
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
