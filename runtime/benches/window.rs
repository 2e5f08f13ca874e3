//! Events per second through the window runner against a hand-written loop over the same feed
//! computing the same sums with the same guarantee (each page's sums and checkpoint committed
//! in one SQLite transaction), and against the projection runner on the same feed.
//!
//! Two feeds in one SQLite store: 20,000 `order.paid` (three methods) and 20,000 `order.placed`
//! (500 customers). The example's `payments_per_hour` (tumbling, per method: count and sum of
//! amounts) runs over the first, `orders_per_customer_session` (sessions per customer: count)
//! over the second; each hand loop decodes the typed events and keeps its windows in a
//! `HashMap`; the projections are the example's `daily_revenue` (paid) and `customer_orders`
//! (placed). Best of three, each from an empty read model.
//! Run: `cargo bench -p eventsmith --bench window`.

mod generated {
    include!("../../generated-example/src/generated/mod.rs");
}
#[path = "../tests/domain/mod.rs"]
mod domain;
use domain::projections;

use eventsmith::EventSet;
use eventsmith::projection::{Projection, ProjectionRunner};
use eventsmith::read_model::sqlite::SqliteReadModel;
use eventsmith::store::{EventStore, ExpectedVersion, NewEvent, SqliteStore};
use eventsmith::window::WindowProjection;
use generated::DomainEvent;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

const EVENTS: u64 = 20_000;
const ROUNDS: usize = 3;
const PAGE: usize = 500;
const HOUR: i64 = 3_600_000;
const GAP: i64 = 1_800_000;

/// The quickest of `ROUNDS` runs of `projection` over `store` from an empty read model.
fn runner<P: Projection>(
    store: &SqliteStore,
    dir: &std::path::Path,
    name: &str,
    projection: impl Fn() -> P,
    runtime: &tokio::runtime::Runtime,
) -> Duration {
    (0..ROUNDS)
        .map(|round| {
            let path = dir.join(format!("{name}-{round}.db"));
            let backend = SqliteReadModel::open(&path).expect("a read model");
            let mut runner =
                ProjectionRunner::new(store.clone(), projection(), backend).expect("a runner");
            let started = Instant::now();
            let status = runtime
                .block_on(runner.run_until_caught_up())
                .expect("caught up");
            assert_eq!(status.lag, 0);
            started.elapsed()
        })
        .min()
        .expect("a round")
}

fn millis(time: time::OffsetDateTime) -> i64 {
    (time.unix_timestamp_nanos() / 1_000_000) as i64
}

/// A hand-written windowing loop: what it keeps per window, and how it takes an event in.
trait Loop: Default {
    /// Takes a decoded event in; the windows it changed go in `dirty`.
    fn take(&mut self, event: &DomainEvent, at: i64, dirty: &mut HashSet<(String, i64)>);
    /// A window's row: (end, JSON of its sums), `None` when it is gone.
    fn row(&self, window: &(String, i64)) -> Option<(i64, String)>;
}

/// Payments per hour and method: count and total.
#[derive(Default)]
struct Hourly(HashMap<(String, i64), (u64, f64)>);

impl Loop for Hourly {
    fn take(&mut self, event: &DomainEvent, at: i64, dirty: &mut HashSet<(String, i64)>) {
        let DomainEvent::OrderPaid(paid) = event else {
            return;
        };
        let method = serde_json::to_value(paid.method).expect("a method");
        let key = (method.to_string(), at.div_euclid(HOUR) * HOUR);
        let sums = self.0.entry(key.clone()).or_default();
        sums.0 += 1;
        sums.1 += paid.amount.as_f64().unwrap_or(0.0);
        dirty.insert(key);
    }

    fn row(&self, window: &(String, i64)) -> Option<(i64, String)> {
        let (count, total) = self.0.get(window)?;
        Some((
            window.1 + HOUR,
            format!("{{\"count\":{count},\"total\":{total}}}"),
        ))
    }
}

/// Sessions per customer: start -> (end, orders).
#[derive(Default)]
struct Sessions(HashMap<String, BTreeMap<i64, (i64, u64)>>);

impl Loop for Sessions {
    fn take(&mut self, event: &DomainEvent, at: i64, dirty: &mut HashSet<(String, i64)>) {
        let DomainEvent::OrderPlaced(placed) = event else {
            return;
        };
        let customer = placed.customer_id.to_string();
        let sessions = self.0.entry(customer.clone()).or_default();
        let (mut start, mut end, mut orders) = (at, at + GAP, 1);
        let overlapping: Vec<i64> = sessions
            .range(..at + GAP)
            .filter(|(_, (e, _))| *e > at)
            .map(|(s, _)| *s)
            .collect();
        for s in overlapping {
            let (e, n) = sessions.remove(&s).expect("listed");
            dirty.insert((customer.clone(), s));
            start = start.min(s);
            end = end.max(e);
            orders += n;
        }
        sessions.insert(start, (end, orders));
        dirty.insert((customer, start));
    }

    fn row(&self, window: &(String, i64)) -> Option<(i64, String)> {
        let (end, orders) = self.0.get(&window.0)?.get(&window.1)?;
        Some((*end, format!("{{\"orders\":{orders}}}")))
    }
}

/// The quickest of `ROUNDS` runs of a hand loop: pages of the feed decoded, windows kept in
/// memory, each page's changed windows and the checkpoint committed in one transaction.
fn hand<L: Loop>(
    store: &SqliteStore,
    dir: &std::path::Path,
    name: &str,
    runtime: &tokio::runtime::Runtime,
) -> Duration {
    (0..ROUNDS)
        .map(|round| {
            let mut db = rusqlite::Connection::open(dir.join(format!("{name}-{round}.db")))
                .expect("a database");
            db.execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
                 CREATE TABLE windows (key TEXT, start INTEGER, end INTEGER, sums TEXT, PRIMARY KEY (key, start));
                 CREATE TABLE checkpoint (position INTEGER);
                 INSERT INTO checkpoint VALUES (0);",
            )
            .expect("tables");
            let mut windows = L::default();
            let started = Instant::now();
            let mut from = 1;
            loop {
                let page = runtime
                    .block_on(store.read_all(from, PAGE))
                    .expect("a page");
                let Some(last) = page.last() else { break };
                from = last.position + 1;
                let mut dirty = HashSet::new();
                for envelope in &page {
                    let event = DomainEvent::decode(&envelope.event_type, envelope.version, &envelope.data)
                        .expect("decodes");
                    windows.take(&event, millis(envelope.time), &mut dirty);
                }
                let transaction = db.transaction().expect("a transaction");
                for window in &dirty {
                    match windows.row(window) {
                        Some((end, sums)) => transaction.execute(
                            "INSERT OR REPLACE INTO windows VALUES (?1, ?2, ?3, ?4)",
                            rusqlite::params![window.0, window.1, end, sums],
                        ),
                        None => transaction.execute(
                            "DELETE FROM windows WHERE key = ?1 AND start = ?2",
                            rusqlite::params![window.0, window.1],
                        ),
                    }
                    .expect("written");
                }
                transaction
                    .execute("UPDATE checkpoint SET position = ?1", [last.position as i64])
                    .expect("checkpoint");
                transaction.commit().expect("committed");
            }
            started.elapsed()
        })
        .min()
        .expect("a round")
}

fn main() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let _inside = runtime.enter();
    let paid_store = SqliteStore::open(dir.path().join("paid.db"), "urn:bench").expect("a store");
    let placed_store =
        SqliteStore::open(dir.path().join("placed.db"), "urn:bench").expect("a store");
    runtime.block_on(async {
        let methods = [
            generated::order::v1::OrderPaidMethod::Card,
            generated::order::v1::OrderPaidMethod::Cash,
            generated::order::v1::OrderPaidMethod::Invoice,
        ];
        for n in 0..EVENTS {
            let mut paid = domain::paid();
            paid.method = methods[n as usize % 3];
            let event = NewEvent::encode(&DomainEvent::OrderPaid(paid)).expect("encoded");
            paid_store
                .append(
                    &format!("order-{n}"),
                    ExpectedVersion::Any,
                    vec![event],
                    None,
                )
                .await
                .expect("appended");
            let mut placed = domain::placed();
            placed.customer_id = uuid::Uuid::from_u128(u128::from(n % 500)).into();
            let event = NewEvent::encode(&DomainEvent::OrderPlaced(placed)).expect("encoded");
            placed_store
                .append(
                    &format!("order-{n}"),
                    ExpectedVersion::Any,
                    vec![event],
                    None,
                )
                .await
                .expect("appended");
        }
    });
    let rate = |took: Duration| EVENTS as f64 / took.as_secs_f64();
    let tumbling = runner(
        &paid_store,
        dir.path(),
        "payments_per_hour",
        WindowProjection::<generated::windows::PaymentsPerHourWindow>::default,
        &runtime,
    );
    let tumbling_hand = hand::<Hourly>(&paid_store, dir.path(), "hourly-hand", &runtime);
    let revenue = runner(
        &paid_store,
        dir.path(),
        "daily_revenue",
        generated::projections::DailyRevenueProjection::<projections::daily_revenue::Handler>::default,
        &runtime,
    );
    let session = runner(
        &placed_store,
        dir.path(),
        "orders_per_customer_session",
        WindowProjection::<generated::windows::OrdersPerCustomerSessionWindow>::default,
        &runtime,
    );
    let session_hand = hand::<Sessions>(&placed_store, dir.path(), "sessions-hand", &runtime);
    let customers = runner(
        &placed_store,
        dir.path(),
        "customer_orders",
        generated::projections::CustomerOrdersProjection::<projections::customer_orders::Handler>::default,
        &runtime,
    );
    for (what, window, by_hand, projection) in [
        (
            "tumbling (payments_per_hour)",
            tumbling,
            tumbling_hand,
            revenue,
        ),
        (
            "session (orders_per_customer_session)",
            session,
            session_hand,
            customers,
        ),
    ] {
        println!(
            "{what}: window runner {:>8.0}/s | hand loop {:>8.0}/s | projection runner {:>8.0}/s | window vs hand {:.2}x (goal >= 0.70x) | window vs projection {:.2}x ({EVENTS} events, best of {ROUNDS})",
            rate(window),
            rate(by_hand),
            rate(projection),
            rate(window) / rate(by_hand),
            rate(window) / rate(projection),
        );
    }
}
