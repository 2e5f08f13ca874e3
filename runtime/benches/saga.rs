//! Saga steps per second through the runner against a projection's events per second on the
//! same feed: 4,000 placed orders in a SQLite store, taken into account once by the example's
//! `order_summary` projection and once by its `order_fulfilment` saga (each order starts an
//! instance that records its lines and two reservation commands in its outbox), each into a
//! read model of its own. Both run the same runner over the same events; the ratio is what a
//! saga's step costs beside a projection's row. Run: `cargo bench -p eventsmith --bench saga`.

mod generated {
    include!("../../generated-example/src/generated/mod.rs");
}
#[path = "../tests/domain/mod.rs"]
mod domain;
#[path = "../../generated-example/src/sagas/order_fulfilment.rs"]
mod order_fulfilment;
use domain::projections;

use eventsmith::projection::{Projection, ProjectionRunner};
use eventsmith::read_model::sqlite::SqliteReadModel;
use eventsmith::saga::SagaProjection;
use eventsmith::store::{EventStore, ExpectedVersion, NewEvent, SqliteStore};
use std::time::{Duration, Instant};

const ORDERS: u64 = 4_000;
const ROUNDS: usize = 3;

fn order_id(n: u64) -> String {
    format!("0190f5d3-1b2c-7d4e-8f5a-{n:012x}")
}

/// The quickest of `ROUNDS` runs of `projection` over `store` from an empty read model.
fn time<P: Projection>(
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

fn main() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let store = SqliteStore::open(dir.path().join("events.db"), "urn:bench").expect("a store");
    runtime.block_on(async {
        for n in 0..ORDERS {
            let event = NewEvent::encode(&generated::DomainEvent::OrderPlaced(domain::placed()))
                .expect("encoded");
            store
                .append(
                    &format!("order-{}", order_id(n)),
                    ExpectedVersion::NoStream,
                    vec![event],
                    None,
                )
                .await
                .expect("appended");
        }
    });
    let projection = time(&store, dir.path(), "order_summary", generated::projections::OrderSummaryProjection::<projections::order_summary::Handler>::default, &runtime);
    let saga = time(
        &store,
        dir.path(),
        "order_fulfilment",
        SagaProjection::<generated::sagas::OrderFulfilmentSaga<order_fulfilment::Rules>>::default,
        &runtime,
    );
    let rate = |took: Duration| ORDERS as f64 / took.as_secs_f64();
    println!(
        "saga steps through the runner: {:>8.0}/s | projection events: {:>8.0}/s | ratio {:.2}x ({ORDERS} order.placed, best of {ROUNDS})",
        rate(saga),
        rate(projection),
        rate(saga) / rate(projection)
    );
}
