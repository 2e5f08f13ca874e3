//! The outbox to NATS JetStream: two instances of the example service on one PostgreSQL schema
//! publish to a NATS server of the test's own (`nats-server` from `PATH`, or
//! `EVENTSMITH_TEST_NATS_SERVER`), and every event the store holds arrives on `shop.>` exactly
//! once per event id, in each stream's order, across a SIGKILL of the publishing instance and a
//! restart of NATS (while it is down, `/readyz` says the relay is down and commands go on); and a
//! second service keeping a read model of the first one's events from the stream.

mod postgres_schema;
mod scenario;

use eventsmith::serde_json::{Value, json};
use eventsmith::testing::process::ServiceProcess;
use postgres_schema::Schema;
use scenario::command;
use std::collections::{BTreeMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A NATS server with JetStream on a free port, its data in a directory of its own.
struct NatsServer {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl NatsServer {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let mut server = Self {
            port,
            dir: tempfile::tempdir().expect("a directory"),
            child: None,
        };
        server.launch();
        server
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn launch(&mut self) {
        let binary = std::env::var("EVENTSMITH_TEST_NATS_SERVER")
            .unwrap_or_else(|_| "nats-server".to_owned());
        let child = Command::new(&binary)
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string(), "-js", "-sd"])
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("this test needs a NATS server binary, `{binary}` (set EVENTSMITH_TEST_NATS_SERVER): {e}")
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "NATS did not listen within 10 s");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Stock enough for every order: the `order_fulfilment` saga cancels an order whose stock it
/// cannot reserve.
fn stock_up(service: &ServiceProcess) {
    let received = command(
        service,
        "/commands/stock/PEN-BLUE/receive_stock",
        &[],
        &json!({ "quantity": 1000 }),
    );
    assert_eq!(received.status, 200, "{received:?}");
}

/// Until the saga has an instance for each of `orders` orders and none of them is still
/// reserving: it appends nothing more on its own.
fn settled(service: &ServiceProcess, orders: usize) {
    service.wait_for("/sagas/order_fulfilment?limit=1000", |answer| {
        answer.body["instances"]
            .as_array()
            .is_some_and(|instances| {
                instances.len() >= orders && instances.iter().all(|i| i["state"] != "reserving")
            })
    });
}

/// Places order `n` of `customer` through `service`, and pays every other one.
fn order(service: &ServiceProcess, n: usize, customer: &str) {
    let order = format!("0190f5d2-7c1a-7e3b-9a4f-2000000000{n:02}");
    let placed = command(
        service,
        &format!("/commands/order/{order}/place_order"),
        &[],
        &json!({
            "customer_id": customer,
            "lines": [{ "sku": "PEN-BLUE", "quantity": 1, "unit_price": 1.5 }],
            "currency": "EUR"
        }),
    );
    assert_eq!(placed.status, 200, "{placed:?}");
    if n.is_multiple_of(2) {
        let paid = command(
            service,
            &format!("/commands/order/{order}/pay_order"),
            &[],
            &json!({ "amount": 1.5, "method": "cash" }),
        );
        assert_eq!(paid.status, 200, "{paid:?}");
    }
}

/// Every message of stream `SHOP`, once it holds `count`.
fn published(url: &str, count: usize) -> Vec<async_nats::jetstream::message::StreamMessage> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let client = async_nats::connect(url).await.expect("NATS");
        let jetstream = async_nats::jetstream::new(client);
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut stream = loop {
            if let Ok(stream) = jetstream.get_stream("SHOP").await {
                break stream;
            }
            assert!(
                Instant::now() < deadline,
                "the relay never made stream SHOP"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        loop {
            let state = stream
                .info()
                .await
                .expect("the stream's state")
                .state
                .clone();
            if state.messages as usize >= count {
                let mut messages = Vec::new();
                for sequence in state.first_sequence..=state.last_sequence {
                    messages.push(stream.get_raw_message(sequence).await.expect("a message"));
                }
                return messages;
            }
            assert!(
                Instant::now() < deadline,
                "stream SHOP holds {} of {count} events after 30 s",
                state.messages
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
}

#[test]
fn every_event_arrives_once_in_stream_order_across_a_sigkill_and_a_nats_restart() {
    let mut nats = NatsServer::start();
    let schema = Schema::new("nats");
    let url = nats.url();
    let publish = [("EVENTSMITH_PUBLISH", url.as_str())];
    let first = schema.start_with(&publish);
    let second = schema.start_with(&publish);

    let customer = "0190f5d2-7c1a-7e3b-9a4f-300000000001";
    let registered = command(
        &first,
        &format!("/commands/customer/{customer}/register_customer"),
        &[],
        &json!({ "email": "nats@example.com", "name": "Nat S" }),
    );
    assert_eq!(registered.status, 200, "{registered:?}");
    stock_up(&second);
    for n in 0..6_usize {
        order(
            if n.is_multiple_of(2) { &first } else { &second },
            n,
            customer,
        );
    }
    // The instance that relays dies while the other takes commands.
    let deadline = Instant::now() + Duration::from_secs(10);
    let relays = |service: &ServiceProcess| service.logs().contains("relaying events to NATS");
    while !relays(&first) && !relays(&second) {
        assert!(Instant::now() < deadline, "no instance relays");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (mut relaying, second) = if relays(&first) {
        (first, second)
    } else {
        (second, first)
    };
    assert!(!relays(&second), "one relay per database");
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for n in 20..40 {
                order(&second, n, customer);
            }
        });
        std::thread::sleep(Duration::from_millis(30));
        relaying.kill();
    });
    for n in 6..10 {
        order(&second, n, customer);
    }
    // NATS goes down: commands go on, and /readyz says the relay is down.
    nats.stop();
    for n in 10..12 {
        order(&second, n, customer);
    }
    // Degraded, not unready: a load balancer keeps sending commands.
    second.wait_for("/readyz", |answer| {
        answer.status == 200 && answer.body["relay"]["state"] == "down"
    });
    nats.launch();
    for n in 12..14 {
        order(&second, n, customer);
    }
    second.wait_for("/readyz", |answer| {
        answer.status == 200 && answer.body == "ready"
    });
    assert!(relays(&second), "the survivor took over the relay");
    settled(&second, 34);

    let events: Vec<Value> = second.get("/events?limit=1000").body["events"]
        .as_array()
        .cloned()
        .expect("events");
    // 1 registration, 34 orders placed, 17 paid (besides the stock and the saga's events).
    let domain = events
        .iter()
        .filter(|e| {
            e["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("order.") || t.starts_with("customer."))
        })
        .count();
    assert_eq!(domain, 1 + 34 + 17);
    let messages = published(&url, events.len());
    assert_eq!(
        messages.len(),
        events.len(),
        "each event once, no duplicate kept"
    );

    let mut ids = HashSet::new();
    let mut versions: BTreeMap<String, u64> = BTreeMap::new();
    for message in &messages {
        let body: Value = eventsmith::serde_json::from_slice(&message.payload).expect("JSON");
        let id = body["id"].as_str().expect("an id").to_owned();
        assert_eq!(
            message
                .headers
                .get(async_nats::header::NATS_MESSAGE_ID)
                .map(|v| v.as_str()),
            Some(id.as_str()),
            "{:?}",
            message.headers
        );
        assert_eq!(
            message.headers.get("ce-type").map(|v| v.as_str()),
            body["type"].as_str()
        );
        assert_eq!(
            message.subject.as_str(),
            format!("shop.{}", body["type"].as_str().unwrap())
        );
        assert!(ids.insert(id.clone()), "{id} arrived twice");
        // Each stream's events in order.
        let stream = body["subject"].as_str().expect("a stream").to_owned();
        let version = body["streamversion"].as_u64().expect("a version");
        let before = versions.insert(stream.clone(), version).unwrap_or(0);
        assert_eq!(version, before + 1, "{stream} out of order");
    }
    let stored: HashSet<String> = events
        .iter()
        .map(|e| e["id"].as_str().expect("an id").to_owned())
        .collect();
    assert_eq!(ids, stored, "exactly the stored events");
}

#[test]
fn a_second_service_keeps_a_read_model_of_the_first_one_s_events_from_nats() {
    let nats = NatsServer::start();
    let url = nats.url();
    let producer = ServiceProcess::start_with(
        env!("CARGO_BIN_EXE_shop"),
        &[("EVENTSMITH_PUBLISH", url.as_str())],
    );
    let customer = "0190f5d2-7c1a-7e3b-9a4f-400000000001";
    let registered = command(
        &producer,
        &format!("/commands/customer/{customer}/register_customer"),
        &[],
        &json!({ "email": "consumer@example.com", "name": "Con Sumer" }),
    );
    assert_eq!(registered.status, 200, "{registered:?}");
    stock_up(&producer);
    for n in 0..3 {
        order(&producer, n, customer);
    }
    settled(&producer, 3);
    // 1 registration, 1 stock received, 3 placed, 2 paid (and the saga's): on the stream
    // before the consumer starts.
    published(&url, 7);

    // The same binary on a database of its own, its projections fed from the first's stream.
    let mut consumer = ServiceProcess::start_with(
        env!("CARGO_BIN_EXE_shop"),
        &[("EVENTSMITH_CONSUME", url.as_str())],
    );
    let rows = |body: &Value| body["rows"].as_array().cloned().unwrap_or_default();
    consumer.wait_for("/projections/order_summary?limit=100", |answer| {
        rows(&answer.body).len() == 3
            && rows(&answer.body)
                .iter()
                .filter(|row| row["status"] == "paid")
                .count()
                == 2
    });
    // New events reach it live.
    order(&producer, 3, customer);
    let summary = consumer.wait_for("/projections/customer_orders?limit=100", |answer| {
        rows(&answer.body)
            .first()
            .is_some_and(|row| row["order_count"] == 4)
    });
    assert_eq!(rows(&summary.body)[0]["customer_id"], customer);
    assert_eq!(
        rows(&summary.body)[0]["total_spent"].as_f64(),
        Some(3.0),
        "orders 0 and 2 paid 1.5 each"
    );
    // Its own store holds none of them; a restart keeps the read model where it was.
    assert_eq!(
        consumer.get("/events").body["events"]
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    consumer.restart();
    assert_eq!(
        consumer.get("/projections/customer_orders?limit=100").body["rows"],
        summary.body["rows"]
    );
    order(&producer, 4, customer);
    // Order 4 placed and paid: five orders, 4.5 spent.
    let caught_up = consumer.wait_for("/projections/customer_orders?limit=100", |answer| {
        rows(&answer.body)
            .first()
            .is_some_and(|row| row["order_count"] == 5 && row["total_spent"].as_f64() == Some(4.5))
    });
    // A replay rebuilds it from the stream, not from the consumer's own (empty) store: every
    // event of the producer, once the relay has them all.
    settled(&producer, 5);
    let head = producer.get("/events?limit=1000").body["events"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(published(&url, head).len(), head);
    assert!(consumer.stop().success(), "{}", consumer.logs());
    let replay = consumer.run(&["replay", "--projection", "customer_orders"]);
    assert!(
        replay.status.success(),
        "{}",
        String::from_utf8_lossy(&replay.stderr)
    );
    assert!(
        String::from_utf8_lossy(&replay.stdout).contains(&format!(
            "rebuilt `customer_orders` up to position {head} of {head}"
        )),
        "{}",
        String::from_utf8_lossy(&replay.stdout)
    );
    consumer.restart();
    assert_eq!(
        consumer.get("/projections/customer_orders?limit=100").body["rows"],
        caught_up.body["rows"]
    );
}
