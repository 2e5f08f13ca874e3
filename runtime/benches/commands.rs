//! 10,000 commands over 100 aggregates, in process: load, decide, append. eventsmith appends
//! durably (SQLite, WAL, `synchronous = FULL`); cqrs-es 0.5 keeps its events in its in-memory
//! `MemStore`. Both run the same domain logic over the example project's generated order events,
//! with one task per aggregate sending its commands in turn (100 tasks at once).
//!
//! `MemStore` prints two lines per command; stdout goes to /dev/null while cqrs-es runs, so the
//! terminal does not slow it down.
//!
//! Run: `cargo bench -p eventsmith --bench commands`

mod events {
    include!("../../generated-example/src/generated/mod.rs");
}

use events::order::OrderEvent;
use events::order::v1::OrderLineAdded;
use events::order::v2::OrderPlaced;
use events::types::OrderLine;
use eventsmith::repository::{Execute, Repository};
use eventsmith::store::SqliteStore;
use std::sync::Arc;
use std::time::{Duration, Instant};

const AGGREGATES: usize = 100;
const COMMANDS_PER_AGGREGATE: usize = 100;
const COMMANDS: usize = AGGREGATES * COMMANDS_PER_AGGREGATE;

/// The state both frameworks keep.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
struct Order {
    placed: bool,
    lines: u64,
    total: f64,
}

#[derive(Debug, Clone)]
enum OrderCommand {
    Place(Vec<OrderLine>),
    AddLine(OrderLine),
}

#[derive(Debug, thiserror::Error)]
enum Rejection {
    #[error("the order is already placed")]
    AlreadyPlaced,
    #[error("the order is not placed")]
    NotPlaced,
}

fn amount(line: &OrderLine) -> f64 {
    line.quantity as f64 * line.unit_price.as_f64().unwrap_or_default()
}

fn decide(order: &Order, command: &OrderCommand) -> Result<Vec<OrderEvent>, Rejection> {
    match command {
        OrderCommand::Place(_) if order.placed => Err(Rejection::AlreadyPlaced),
        OrderCommand::Place(lines) => Ok(vec![OrderEvent::Placed(OrderPlaced {
            customer_id: uuid::Uuid::from_u128(7).into(),
            total_amount: serde_json::Number::from_f64(lines.iter().map(amount).sum())
                .unwrap_or_else(|| 0.into()),
            currency: "EUR".into(),
            lines: lines.clone(),
        })]),
        OrderCommand::AddLine(_) if !order.placed => Err(Rejection::NotPlaced),
        OrderCommand::AddLine(line) => Ok(vec![OrderEvent::LineAdded(OrderLineAdded {
            sku: line.sku.clone(),
            quantity: line.quantity,
            unit_price: line.unit_price.clone(),
        })]),
    }
}

fn apply(order: &mut Order, event: &OrderEvent) {
    match event {
        OrderEvent::Placed(placed) => {
            order.placed = true;
            order.lines = placed.lines.len() as u64;
            order.total = placed.total_amount.as_f64().unwrap_or_default();
        }
        OrderEvent::LineAdded(line) => {
            order.lines += 1;
            order.total += line.quantity as f64 * line.unit_price.as_f64().unwrap_or_default();
        }
        _ => {}
    }
}

/// The same logic as eventsmith runs it: state `Order` (default before the first event).
struct Orders;

impl eventsmith::Aggregate for Orders {
    type State = Order;
    type Event = OrderEvent;
    type Command = OrderCommand;
    const CATEGORY: &'static str = "order";
    fn apply(state: &mut Option<Order>, event: &OrderEvent) {
        apply(state.get_or_insert_default(), event);
    }
    fn decide(
        state: Option<&Order>,
        command: &OrderCommand,
    ) -> Result<Vec<OrderEvent>, eventsmith::Rejection> {
        decide(state.unwrap_or(&Order::default()), command)
            .map_err(|e| eventsmith::Rejection::new(e.to_string()))
    }
}

/// The generated event, as cqrs-es wants its events (serialized as type, version and payload).
#[derive(Debug, Clone, PartialEq)]
struct CqrsEvent(OrderEvent);

impl serde::Serialize for CqrsEvent {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use eventsmith::EventSet;
        let data = self.0.encode().map_err(serde::ser::Error::custom)?;
        let data: serde_json::Value =
            serde_json::from_slice(&data).map_err(serde::ser::Error::custom)?;
        (self.0.event_type(), self.0.version(), data).serialize(serializer)
    }
}

impl<'de> serde::Deserialize<'de> for CqrsEvent {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use eventsmith::EventSet;
        let (event_type, version, data) =
            <(String, u32, serde_json::Value)>::deserialize(deserializer)?;
        OrderEvent::decode(&event_type, version, data.to_string().as_bytes())
            .map(CqrsEvent)
            .map_err(serde::de::Error::custom)
    }
}

impl cqrs_es::DomainEvent for CqrsEvent {
    fn event_type(&self) -> String {
        eventsmith::EventSet::event_type(&self.0).to_owned()
    }
    fn event_version(&self) -> String {
        eventsmith::EventSet::version(&self.0).to_string()
    }
}

#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
struct CqrsOrder(Order);

impl cqrs_es::Aggregate for CqrsOrder {
    const TYPE: &'static str = "order";
    type Command = OrderCommand;
    type Event = CqrsEvent;
    type Error = Rejection;
    type Services = ();

    async fn handle(
        &mut self,
        command: OrderCommand,
        _: &(),
        sink: &cqrs_es::event_sink::EventSink<Self>,
    ) -> Result<(), Rejection> {
        for event in decide(&self.0, &command)? {
            sink.write(CqrsEvent(event), self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: CqrsEvent) {
        apply(&mut self.0, &event.0);
    }
}

/// Aggregate `n`'s commands: place it, then add lines.
fn commands(n: usize) -> Vec<OrderCommand> {
    let line = |i: usize| OrderLine {
        sku: format!("SKU-{n}-{i}"),
        quantity: 1 + (i % 3) as u64,
        unit_price: serde_json::Number::from_f64(9.5).unwrap(),
    };
    std::iter::once(OrderCommand::Place(vec![line(0)]))
        .chain((1..COMMANDS_PER_AGGREGATE).map(|i| OrderCommand::AddLine(line(i))))
        .collect()
}

/// Runs every aggregate's commands, one task per aggregate; returns the elapsed time.
async fn drive<F, Fut>(execute: F) -> Duration
where
    F: Fn(String, OrderCommand) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send,
{
    let execute = Arc::new(execute);
    let scripts: Vec<Vec<OrderCommand>> = (0..AGGREGATES).map(commands).collect();
    let started = Instant::now();
    let tasks: Vec<_> = scripts
        .into_iter()
        .enumerate()
        .map(|(n, script)| {
            let execute = Arc::clone(&execute);
            tokio::spawn(async move {
                for command in script {
                    execute(format!("o{n}"), command).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    started.elapsed()
}

async fn eventsmith_run(path: std::path::PathBuf, cache: usize) -> Duration {
    let store = SqliteStore::open(path, "bench").unwrap();
    let repository = Arc::new(Repository::<_, Orders>::new(store).cache(cache));
    let elapsed = drive({
        let repository = Arc::clone(&repository);
        move |id, command| {
            let repository = Arc::clone(&repository);
            async move {
                repository
                    .execute(&id, &command, &Execute::default())
                    .await
                    .unwrap();
            }
        }
    })
    .await;
    let order = repository.load("o0").await.unwrap();
    assert_eq!(
        (order.version, order.state.map_or(0, |o| o.lines)),
        (COMMANDS_PER_AGGREGATE as u64, COMMANDS_PER_AGGREGATE as u64)
    );
    elapsed
}

async fn cqrs_es_run() -> Duration {
    let store = cqrs_es::mem_store::MemStore::<CqrsOrder>::default();
    let framework = Arc::new(cqrs_es::CqrsFramework::new(store.clone(), vec![], ()));
    let elapsed = drive({
        let framework = Arc::clone(&framework);
        move |id, command| {
            let framework = Arc::clone(&framework);
            async move { framework.execute(&id, command).await.unwrap() }
        }
    })
    .await;
    let mut order = cqrs_es::EventStore::load_aggregate(&store, "o0")
        .await
        .unwrap();
    assert_eq!(
        cqrs_es::AggregateContext::aggregate(&mut order).0.lines,
        COMMANDS_PER_AGGREGATE as u64
    );
    elapsed
}

/// Runs `f` with stdout sent to /dev/null.
fn without_stdout<T>(f: impl FnOnce() -> T) -> T {
    use std::io::Write;
    use std::os::fd::AsRawFd;
    let _ = std::io::stdout().flush();
    let null = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .unwrap();
    // SAFETY: plain descriptor calls on descriptors this function owns or stdout's.
    let saved = unsafe { libc::dup(1) };
    unsafe { libc::dup2(null.as_raw_fd(), 1) };
    let result = f();
    let _ = std::io::stdout().flush();
    unsafe {
        libc::dup2(saved, 1);
        libc::close(saved);
    }
    result
}

fn rate(elapsed: Duration) -> f64 {
    COMMANDS as f64 / elapsed.as_secs_f64()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Alternating rounds; the median round's figures are printed.
    let mut rounds = Vec::new();
    for round in 0..3 {
        let cached = runtime.block_on(eventsmith_run(
            dir.path().join(format!("c{round}.db")),
            1_000,
        ));
        let uncached = runtime.block_on(eventsmith_run(dir.path().join(format!("u{round}.db")), 0));
        let cqrs = without_stdout(|| runtime.block_on(cqrs_es_run()));
        rounds.push((rate(cached), rate(uncached), rate(cqrs)));
    }
    rounds.sort_by(|a, b| (a.0 / a.2).total_cmp(&(b.0 / b.2)));
    let ratios: Vec<String> = rounds
        .iter()
        .map(|(ours, _, cqrs)| format!("{:.2}", ours / cqrs))
        .collect();
    let (cached, uncached, cqrs) = rounds[1];
    println!(
        "10k commands over 100 aggregates (load, decide, append), commands/s:\n  \
         eventsmith, durable SQLite, state cache   {cached:>9.0}  ratio {:.2}x cqrs-es (goal >= 0.5x; rounds {})\n  \
         eventsmith, durable SQLite, no cache      {uncached:>9.0}  ratio {:.2}x\n  \
         cqrs-es 0.5, MemStore (memory only)       {cqrs:>9.0}",
        cached / cqrs,
        ratios.join(", "),
        uncached / cqrs,
    );
}
