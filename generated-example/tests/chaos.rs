//! Chaos and load, bounded in time and on loopback only (issue #18): the `shop` binary SIGKILLed
//! and restarted under load, racing idempotent retries, a read model locked for longer than the
//! busy timeout, 2,000 idle live-feed clients, and a stalled live client during a graceful stop.
//!
//! Each part prints its figures on one line starting with `chaos:`. The parts run one at a time
//! (they share two cores, and their figures would otherwise measure each other).

use eventsmith::serde_json::{Value, json};
use eventsmith::testing::process::{Answer, ServiceProcess, try_request};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, Mutex, MutexGuard, RwLock};
use std::thread;
use std::time::{Duration, Instant};

/// One part at a time.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn start() -> ServiceProcess {
    ServiceProcess::start(env!("CARGO_BIN_EXE_shop"))
}

fn order_id(client: u64, n: u64) -> String {
    format!("0190f5d2-7c1a-7e3b-9a4f-{client:04x}{n:08x}")
}

fn customer_id(client: u64) -> String {
    format!("0190f5d2-7c1a-7e3b-8a4f-{client:012x}")
}

/// Amounts in cents, as the domain counts them.
fn cents(value: &Value) -> i64 {
    (value
        .as_f64()
        .unwrap_or_else(|| panic!("an amount: {value}"))
        * 100.0)
        .round() as i64
}

/// A price that binary floating point holds exactly (a multiple of 0.25).
fn price(n: u64) -> f64 {
    1.0 + (n % 11) as f64 * 0.25
}

fn place_body(customer: &str, n: u64) -> Value {
    json!({
        "customer_id": customer,
        "lines": [
            { "sku": format!("BOOK-{n}"), "quantity": 1 + n % 3, "unit_price": price(n) },
            { "sku": "PEN-BLUE", "quantity": 2, "unit_price": 3.5 }
        ],
        "currency": "EUR"
    })
}

/// What a client saw of one command.
struct Sent {
    /// The final answer (never a 5xx).
    answer: Answer,
    /// How many attempts it took beyond the first (a lost connection, a crash, a 5xx).
    retries: u64,
}

impl Sent {
    fn retried(&self) -> bool {
        self.retries > 0
    }
}

/// Sends a command to wherever the service listens now, again and again (with the same key)
/// while nothing answers or the answer is a 5xx, or a 200 was cut off; one minute at most.
/// Units enough of every product an order names: the `order_fulfilment` saga cancels an order
/// whose stock it cannot reserve.
const PLENTY: u64 = 1_000_000;

/// Receives `PLENTY` of `sku`, once per `key` (retried through crashes).
fn stock_up(address: &RwLock<SocketAddr>, sku: &str, key: &str) -> Sent {
    send(
        address,
        &format!("/commands/stock/{sku}/receive_stock"),
        Some(key),
        &json!({ "quantity": PLENTY }),
    )
}

fn send(address: &RwLock<SocketAddr>, path: &str, key: Option<&str>, body: &Value) -> Sent {
    let body = body.to_string();
    let headers: Vec<(&str, &str)> = key.map(|k| ("Idempotency-Key", k)).into_iter().collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut attempts = 0u64;
    loop {
        attempts += 1;
        let at = *address.read().expect("the address");
        let answer = try_request(at, "POST", path, &headers, body.as_bytes());
        match answer {
            Some(answer)
                if answer.status < 500
                    && (answer.status != 200 || answer.body["events"].is_array()) =>
            {
                return Sent {
                    answer,
                    retries: attempts - 1,
                };
            }
            _ => {
                assert!(
                    Instant::now() < deadline,
                    "POST {path} got no usable answer in a minute: {answer:?}"
                );
                thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// `GET path` wherever the service listens now, until a 200 (one minute at most).
fn get_retrying(address: &RwLock<SocketAddr>, path: &str) -> Answer {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let at = *address.read().expect("the address");
        match try_request(at, "GET", path, &[], b"") {
            Some(answer) if answer.status == 200 && answer.body.is_object() => return answer,
            answer => {
                assert!(Instant::now() < deadline, "GET {path}: {answer:?}");
                thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// Every event of the global feed, page by page.
fn feed(service: &ServiceProcess) -> Vec<Value> {
    let mut events = Vec::new();
    let mut after = 0;
    loop {
        let page = service.get(&format!("/events?after={after}&limit=1000"));
        assert_eq!(page.status, 200, "{page:?}");
        let batch = page.body["events"].as_array().expect("events").clone();
        if batch.is_empty() {
            return events;
        }
        after = batch.last().expect("an event")["position"]
            .as_u64()
            .expect("a position");
        events.extend(batch);
    }
}

/// An acknowledged command (a 200).
struct Ack {
    stream: String,
    version: u64,
    events: Vec<Value>,
}

/// What one load client did.
#[derive(Default)]
struct Load {
    sent: u64,
    retries: u64,
    acks: Vec<Ack>,
    /// Keyless `add_line` skus that took a retry: they may have been appended twice.
    retried_skus: HashSet<String>,
    /// Keyless `add_line` skus acknowledged.
    keyless_skus: Vec<(String, String)>,
    /// Keyed `add_line` skus acknowledged: each must be appended exactly once.
    keyed_skus: Vec<(String, String)>,
    orders: Vec<String>,
}

/// Counts a command; keeps it when acknowledged; fails on an answer it should not have had.
fn record(load: &mut Load, what: &str, sent: &Sent, keyed: bool) {
    load.sent += 1;
    load.retries += sent.retries;
    let answer = &sent.answer;
    match answer.status {
        200 => load.acks.push(Ack {
            stream: answer.body["stream"].as_str().expect("a stream").to_owned(),
            version: answer.body["version"].as_u64().expect("a version"),
            events: answer.body["events"].as_array().expect("events").clone(),
        }),
        // A keyless command retried after a crash may have been committed the first time,
        // and is then refused by the rules: that is the client's risk, not the service's.
        409 if !keyed && sent.retried() => {}
        _ => panic!(
            "{what} (keyed: {keyed}, retries: {}): {answer:?}",
            sent.retries
        ),
    }
}

fn client(c: u64, address: &RwLock<SocketAddr>, stop: &AtomicBool) -> Load {
    let mut load = Load::default();
    let customer = customer_id(c);
    let registered = send(
        address,
        &format!("/commands/customer/{customer}/register_customer"),
        Some(&format!("register-{c}")),
        &json!({ "email": format!("client{c}@example.com"), "name": format!("Client {c}") }),
    );
    record(&mut load, "register_customer", &registered, true);
    let pens = stock_up(address, "PEN-BLUE", &format!("pens-{c}"));
    assert_eq!(pens.answer.status, 200, "{:?}", pens.answer);
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let order = order_id(c, n);
        let path = |command: &str| format!("/commands/order/{order}/{command}");
        // Set-up, not under test: other clients share a product's stream, so an answer's
        // version may be past its events.
        for sku in [
            format!("BOOK-{n}"),
            format!("K-{c}-{n}"),
            format!("U-{c}-{n}"),
        ] {
            let received = stock_up(address, &sku, &format!("stock-{c}-{sku}"));
            assert_eq!(received.answer.status, 200, "{:?}", received.answer);
        }
        load.orders.push(order.clone());
        let placed = send(
            address,
            &path("place_order"),
            Some(&format!("place-{order}")),
            &place_body(&customer, n),
        );
        record(&mut load, "place_order", &placed, true);
        let sku = format!("K-{c}-{n}");
        let line = json!({ "sku": sku, "quantity": 1, "unit_price": price(n + 1) });
        let keyed = send(
            address,
            &path("add_line"),
            Some(&format!("line-{order}")),
            &line,
        );
        record(&mut load, "keyed add_line", &keyed, true);
        load.keyed_skus.push((order.clone(), sku));
        let sku = format!("U-{c}-{n}");
        let line = json!({ "sku": sku, "quantity": 2, "unit_price": price(n + 2) });
        let keyless = send(address, &path("add_line"), None, &line);
        record(&mut load, "keyless add_line", &keyless, false);
        if keyless.retried() {
            load.retried_skus.insert(sku.clone());
        }
        if keyless.answer.status == 200 {
            load.keyless_skus.push((order.clone(), sku));
        }
        match n % 3 {
            0 => {
                // The total as the store has it (a keyless line may be there twice).
                let stream = get_retrying(address, &format!("/streams/order-{order}"));
                let total: i64 = stream.body["events"]
                    .as_array()
                    .expect("events")
                    .iter()
                    .map(|e| match e["type"].as_str() {
                        Some("order.placed") => cents(&e["data"]["total_amount"]),
                        Some("order.line_added") => {
                            e["data"]["quantity"].as_i64().expect("a quantity")
                                * cents(&e["data"]["unit_price"])
                        }
                        _ => 0,
                    })
                    .sum();
                let paid = send(
                    address,
                    &path("pay_order"),
                    Some(&format!("pay-{order}")),
                    &json!({ "amount": total as f64 / 100.0, "method": "card" }),
                );
                record(&mut load, "pay_order", &paid, true);
                let shipped = send(
                    address,
                    &path("ship_order"),
                    None,
                    &json!({ "carrier": "DHL", "tracking_number": format!("T{c}-{n}") }),
                );
                record(&mut load, "ship_order", &shipped, false);
            }
            1 => {
                let cancelled = send(
                    address,
                    &path("cancel_order"),
                    None,
                    &json!({ "reason": "changed their mind" }),
                );
                record(&mut load, "cancel_order", &cancelled, false);
            }
            _ => {}
        }
    }
    load
}

/// The rows each projection should hold, computed from the event log.
fn expected_rows(events: &[Value]) -> BTreeMap<(&'static str, String), Value> {
    let mut rows: BTreeMap<(&'static str, String), Value> = BTreeMap::new();
    // Orders by id, and the customer of each.
    let mut customer_of: HashMap<String, String> = HashMap::new();
    for event in events {
        let data = &event["data"];
        let time = event["time"].as_str().expect("a time").to_owned();
        let Some(order) = event["subject"]
            .as_str()
            .and_then(|s| s.strip_prefix("order-"))
        else {
            continue;
        };
        let order = order.to_owned();
        let summary = ("order_summary", order.clone());
        match event["type"].as_str().expect("a type") {
            "order.placed" => {
                let customer = data["customer_id"].as_str().expect("a customer").to_owned();
                customer_of.insert(order.clone(), customer.clone());
                rows.insert(
                    summary,
                    json!({
                        "order_id": order,
                        "customer_id": customer,
                        "status": "placed",
                        "total_amount": cents(&data["total_amount"]),
                        "currency": data["currency"],
                        "line_count": data["lines"].as_array().expect("lines").len(),
                        "updated_at": time,
                    }),
                );
                let row = rows
                    .entry(("customer_orders", customer.clone()))
                    .or_insert_with(|| {
                        json!({
                            "customer_id": customer,
                            "order_count": 0,
                            "total_spent": 0,
                            "last_order_at": time,
                        })
                    });
                row["order_count"] = (row["order_count"].as_u64().unwrap() + 1).into();
                row["last_order_at"] = time.into();
            }
            kind => {
                let row = rows.get_mut(&summary).expect("an order placed first");
                match kind {
                    "order.line_added" => {
                        row["line_count"] = (row["line_count"].as_u64().unwrap() + 1).into();
                        let added = data["quantity"].as_i64().unwrap() * cents(&data["unit_price"]);
                        row["total_amount"] =
                            (row["total_amount"].as_i64().unwrap() + added).into();
                    }
                    "order.paid" => row["status"] = "paid".into(),
                    "order.shipped" => row["status"] = "shipped".into(),
                    "order.cancelled" => row["status"] = "cancelled".into(),
                    other => panic!("an unexpected event {other}"),
                }
                row["updated_at"] = time.clone().into();
                if kind == "order.paid" {
                    let paid = cents(&data["amount"]);
                    let customer = &customer_of[&order];
                    let row = rows
                        .get_mut(&("customer_orders", customer.clone()))
                        .expect("a customer row");
                    row["total_spent"] = (row["total_spent"].as_i64().unwrap() + paid).into();
                    let day = time[..10].to_owned();
                    let row = rows
                        .entry(("daily_revenue", day.clone()))
                        .or_insert_with(|| json!({ "day": day, "orders_paid": 0, "revenue": 0 }));
                    row["orders_paid"] = (row["orders_paid"].as_u64().unwrap() + 1).into();
                    row["revenue"] = (row["revenue"].as_i64().unwrap() + paid).into();
                }
            }
        }
    }
    rows
}

/// A row as served, amounts in cents (to compare with [`expected_rows`]).
fn in_cents(mut row: Value) -> Value {
    for field in ["total_amount", "total_spent", "revenue"] {
        if row.get(field).is_some() {
            row[field] = cents(&row[field]).into();
        }
    }
    row
}

/// Where each projection stands.
fn positions(service: &ServiceProcess) -> Vec<u64> {
    ["order_summary", "customer_orders", "daily_revenue"]
        .iter()
        .map(|name| {
            let answer = service.get(&format!("/projections/{name}?limit=1"));
            answer.body["position"].as_u64().unwrap_or(0)
        })
        .collect()
}

/// The first row that differs from what the log says, if any.
fn first_difference(
    service: &ServiceProcess,
    expected: &BTreeMap<(&'static str, String), Value>,
) -> Option<String> {
    expected.iter().find_map(|((projection, key), row)| {
        let answer = service.get(&format!("/projections/{projection}/{key}"));
        let served = in_cents(answer.body["row"].clone());
        (served != *row).then(|| format!("{projection}/{key}: served {served}, expected {row}"))
    })
}

/// Stops the load clients however the test ends.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

#[test]
fn sigkill_under_load_loses_no_acknowledged_command_and_projections_converge() {
    let _serial = serial();
    let mut service = start();
    let address = Arc::new(RwLock::new(service.address()));
    let stop = Arc::new(AtomicBool::new(false));
    let _stop_clients = StopOnDrop(stop.clone());
    let clients: Vec<_> = (1..=4)
        .map(|c| {
            let (address, stop) = (address.clone(), stop.clone());
            thread::spawn(move || client(c, &address, &stop))
        })
        .collect();
    let started = Instant::now();
    let mut restarts = 0;
    for round in 0..5u64 {
        thread::sleep(Duration::from_millis(600 + 170 * round));
        service.kill();
        service.restart();
        *address.write().expect("the address") = service.address();
        restarts += 1;
    }
    thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    let loads: Vec<Load> = clients
        .into_iter()
        .map(|c| c.join().expect("a load client"))
        .collect();
    let load_time = started.elapsed();
    let sent: u64 = loads.iter().map(|l| l.sent).sum();
    let retries: u64 = loads.iter().map(|l| l.retries).sum();
    let acknowledged: usize = loads.iter().map(|l| l.acks.len()).sum();
    assert!(
        acknowledged > 50,
        "too little load to mean anything: {acknowledged}"
    );

    // The global feed: positions 1..N, each event once.
    let events = feed(&service);
    let head = events.len() as u64;
    let mut ids = HashSet::new();
    for (i, event) in events.iter().enumerate() {
        assert_eq!(
            event["position"],
            (i + 1) as u64,
            "a gap or a repeat: {event}"
        );
        let id = event["id"].as_str().expect("an id");
        assert!(ids.insert(id.to_owned()), "event {id} twice in the feed");
    }
    let by_id: HashMap<&str, &Value> = events
        .iter()
        .map(|e| (e["id"].as_str().unwrap(), e))
        .collect();
    // Each stream's versions are 1..n in the feed's order.
    let mut streams: HashMap<&str, Vec<&Value>> = HashMap::new();
    for event in &events {
        streams
            .entry(event["subject"].as_str().expect("a subject"))
            .or_default()
            .push(event);
    }
    for (stream, list) in &streams {
        for (i, event) in list.iter().enumerate() {
            assert_eq!(event["streamversion"], (i + 1) as u64, "{stream}: {event}");
        }
    }
    // Every acknowledged command's events are stored, where the answer said.
    for ack in loads.iter().flat_map(|l| &l.acks) {
        assert!(
            !ack.events.is_empty(),
            "{} v{}: no events",
            ack.stream,
            ack.version
        );
        for event in &ack.events {
            let id = event["id"].as_str().expect("an id");
            let stored = by_id
                .get(id)
                .unwrap_or_else(|| panic!("acknowledged event {id} of {} is lost", ack.stream));
            assert_eq!(stored["subject"], ack.stream.as_str(), "{stored}");
            assert_eq!(stored["streamversion"], event["streamversion"], "{stored}");
            assert_eq!(stored["data"], event["data"], "{stored}");
        }
        assert_eq!(
            ack.events.last().unwrap()["streamversion"],
            ack.version,
            "{}",
            ack.stream
        );
    }
    // Keyed commands appended once; keyless ones twice only after a retry.
    let skus = |order: &str, sku: &str| {
        streams
            .get(format!("order-{order}").as_str())
            .map_or(0, |list| {
                list.iter()
                    .filter(|e| e["type"] == "order.line_added" && e["data"]["sku"] == sku)
                    .count()
            })
    };
    let mut keyless_twice = 0;
    for load in &loads {
        for (order, sku) in &load.keyed_skus {
            assert_eq!(skus(order, sku), 1, "keyed line {sku} of order {order}");
        }
        for (order, sku) in &load.keyless_skus {
            let count = skus(order, sku);
            assert!(
                count >= 1,
                "acknowledged line {sku} of order {order} is lost"
            );
            if count > 1 {
                keyless_twice += 1;
                assert!(
                    load.retried_skus.contains(sku),
                    "line {sku} of order {order} appended {count} times without a retry"
                );
            }
        }
        for order in &load.orders {
            let placed = streams
                .get(format!("order-{order}").as_str())
                .map_or(0, |l| {
                    l.iter().filter(|e| e["type"] == "order.placed").count()
                });
            assert!(placed <= 1, "order {order} placed {placed} times");
        }
    }

    // Every projection converges to what the log says.
    let expected = expected_rows(&events);
    let converging = Instant::now();
    let deadline = converging + Duration::from_secs(60);
    loop {
        let at = positions(&service);
        let difference = if at.iter().all(|p| *p == head) {
            first_difference(&service, &expected)
        } else {
            Some(format!("positions {at:?}, head {head}"))
        };
        match difference {
            None => break,
            Some(difference) => assert!(
                Instant::now() < deadline,
                "the projections did not converge in 60 s: {difference}\n{}",
                service.logs()
            ),
        }
        thread::sleep(Duration::from_millis(100));
    }
    let converged_in = converging.elapsed();
    let letters = service.run(&["dlq", "list"]);
    assert!(
        String::from_utf8_lossy(&letters.stdout).contains("no open dead letters"),
        "{letters:?}"
    );
    println!(
        "chaos: sigkill sent={sent} acknowledged={acknowledged} retries={retries} restarts={restarts} \
         events={head} rows={} keyless_appended_twice={keyless_twice} load={}ms converged_in={}ms",
        expected.len(),
        load_time.as_millis(),
        converged_in.as_millis()
    );
    assert!(service.stop().success(), "{}", service.logs());
}

#[test]
fn racing_idempotent_retries_append_once() {
    let _serial = serial();
    let service = start();
    let customer = customer_id(1);
    let address = service.address();
    const RACERS: usize = 24;
    const ROUNDS: u64 = 4;
    let stocked = RwLock::new(address);
    for sku in ["PEN-BLUE", "RACE"]
        .into_iter()
        .map(str::to_owned)
        .chain((1..=ROUNDS).map(|n| format!("BOOK-{n}")))
    {
        assert_eq!(stock_up(&stocked, &sku, &sku).answer.status, 200);
    }
    for round in 1..=ROUNDS {
        let order = order_id(0xaa, round);
        let placed = service.post(
            &format!("/commands/order/{order}/place_order"),
            &place_body(&customer, round),
        );
        assert_eq!(placed.status, 200, "{placed:?}");
        let path = format!("/commands/order/{order}/add_line");
        let key = format!("race-{round}");
        let body = json!({ "sku": "RACE", "quantity": 1, "unit_price": 2.5 }).to_string();
        let barrier = Arc::new(Barrier::new(RACERS));
        let answers: Vec<Answer> = (0..RACERS)
            .map(|_| {
                let (barrier, path, key, body) =
                    (barrier.clone(), path.clone(), key.clone(), body.clone());
                thread::spawn(move || {
                    barrier.wait();
                    try_request(
                        address,
                        "POST",
                        &path,
                        &[("Idempotency-Key", &key)],
                        body.as_bytes(),
                    )
                    .expect("an answer")
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().expect("a racer"))
            .collect();
        for answer in &answers {
            assert_eq!(answer.status, 200, "{answer:?}");
            assert_eq!(answer.body["version"], 2, "{answer:?}");
            assert_eq!(
                answer.body["events"], answers[0].body["events"],
                "{answer:?}"
            );
        }
        let stream = service.get(&format!("/streams/order-{order}"));
        assert_eq!(stream.body["version"], 2, "{stream:?}");
        assert_eq!(stream.body["events"].as_array().map(Vec::len), Some(2));
        assert_eq!(
            stream.body["events"][1]["id"],
            answers[0].body["events"][0]["id"]
        );
        // The same key with another body, or for another command, is refused.
        let other = json!({ "sku": "RACE", "quantity": 2, "unit_price": 2.5 });
        for (path, body) in [
            (path.clone(), other),
            (
                format!("/commands/order/{order}/cancel_order"),
                json!({ "reason": "racing" }),
            ),
        ] {
            let reused = service.request(
                "POST",
                &path,
                &[("Idempotency-Key", &key)],
                body.to_string().as_bytes(),
            );
            assert_eq!(reused.status, 422, "{reused:?}");
            assert_eq!(
                reused.body["type"], "urn:eventsmith:problem:idempotency-key-reused",
                "{reused:?}"
            );
        }
        assert_eq!(
            service.get(&format!("/streams/order-{order}")).body["version"],
            2
        );
    }
    println!("chaos: idempotent-race racers={RACERS} rounds={ROUNDS} appends_per_round=1");
}

#[test]
fn a_read_model_locked_past_the_busy_timeout_catches_up_without_dead_letters() {
    let _serial = serial();
    let mut service = start();
    let customer = customer_id(2);
    let stocked = RwLock::new(service.address());
    let place = |n: u64| {
        for sku in [format!("BOOK-{n}"), "PEN-BLUE".to_owned()] {
            let received = stock_up(&stocked, &sku, &format!("{sku}-{n}"));
            assert_eq!(received.answer.status, 200, "{:?}", received.answer);
        }
        let answer = service.post(
            &format!("/commands/order/{}/place_order", order_id(0xbb, n)),
            &place_body(&customer, n),
        );
        assert_eq!(answer.status, 200, "{answer:?}");
    };
    place(0);
    let file = service.dir().join("events.order_summary.db");
    let locker = rusqlite::Connection::open(&file).expect("the read model's file");
    locker
        .busy_timeout(Duration::from_secs(10))
        .expect("a busy timeout");
    locker
        .execute_batch("BEGIN EXCLUSIVE")
        .expect("the read model's lock");
    let locked = Instant::now();
    let mut sent = 0;
    let mut latencies = Vec::new();
    // Past the runner's busy timeout (10 s) its event fails transiently: /readyz says so.
    let mut retrying = None;
    let mut seen = Vec::new();
    while locked.elapsed() < Duration::from_secs(12)
        || (retrying.is_none() && locked.elapsed() < Duration::from_secs(30))
    {
        sent += 1;
        let t = Instant::now();
        place(sent);
        latencies.push(t.elapsed());
        let ready = service.get("/readyz");
        seen.push(format!(
            "{:?} {} {}",
            locked.elapsed(),
            ready.status,
            ready.body
        ));
        if ready.status == 503
            && ready.body["projections"]
                .as_array()
                .is_some_and(|p| p.iter().any(|p| p["state"] == "retrying"))
        {
            retrying.get_or_insert(locked.elapsed());
        }
        thread::sleep(Duration::from_millis(200));
    }
    let during = service.get("/projections/order_summary?limit=1");
    let retrying = retrying.unwrap_or_else(|| {
        panic!(
            "/readyz never said the projection was retrying:\n{}\n{}",
            seen.join("\n"),
            service.logs()
        )
    });
    assert_eq!(during.body["healthy"], false, "{during:?}");
    locker.execute_batch("COMMIT").expect("the lock released");
    drop(locker);
    let held = locked.elapsed();
    let released = Instant::now();
    let head = feed(&service).len() as u64;
    let deadline = released + Duration::from_secs(90);
    loop {
        let answer = service.get("/projections/order_summary?limit=1");
        if answer.body["position"] == head && answer.body["healthy"] == true {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "order_summary did not catch up to {head} in 90 s: {answer:?}\n{}",
            service.logs()
        );
        thread::sleep(Duration::from_millis(100));
    }
    let caught_up_in = released.elapsed();
    for n in 0..=sent {
        let row = service.get(&format!("/projections/order_summary/{}", order_id(0xbb, n)));
        assert_eq!(row.body["row"]["status"], "placed", "{row:?}");
    }
    let letters = service.run(&["dlq", "list"]);
    assert!(letters.status.success(), "{letters:?}");
    let listed = String::from_utf8_lossy(&letters.stdout);
    assert!(listed.contains("no open dead letters"), "{listed}");
    let ready = service.wait_for("/readyz", |a| a.status == 200);
    assert_eq!(ready.status, 200);
    println!(
        "chaos: locked-read-model held={}ms commands={} slowest_command={}ms \
         position_during_lock={} retrying_after={}ms caught_up_in={}ms dead_letters=0",
        held.as_millis(),
        sent + 1,
        latencies
            .iter()
            .max()
            .unwrap_or(&Duration::ZERO)
            .as_millis(),
        during.body["position"],
        retrying.as_millis(),
        caught_up_in.as_millis()
    );
    assert!(service.stop().success(), "{}", service.logs());
}

/// The resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("its status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// A live-feed client that reads the answer's head and then nothing.
fn live_client(address: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(address).expect("a connection");
    write!(
        stream,
        "GET /events/live HTTP/1.1\r\nHost: {address}\r\nAccept: text/event-stream\r\n\r\n"
    )
    .expect("a request");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("a timeout");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).expect("the answer's head");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    stream
}

/// `writers` threads placing `each` orders one after the other (ids from `first`); the sorted
/// latencies.
fn place_orders(
    address: SocketAddr,
    customer: &str,
    first: u64,
    writers: u64,
    each: u64,
) -> Vec<Duration> {
    let mut latencies: Vec<Duration> = (0..writers)
        .map(|w| {
            let customer = customer.to_owned();
            thread::spawn(move || {
                (0..each)
                    .map(|i| {
                        let n = first + w * each + i;
                        let body = place_body(&customer, n).to_string();
                        let path = format!("/commands/order/{}/place_order", order_id(0xcc, n));
                        let t = Instant::now();
                        let answer = try_request(address, "POST", &path, &[], body.as_bytes())
                            .expect("an answer");
                        let took = t.elapsed();
                        assert_eq!(answer.status, 200, "{answer:?}");
                        took
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .flat_map(|t| t.join().expect("a writer"))
        .collect();
    latencies.sort();
    latencies
}

/// The `q` quantile of sorted durations.
fn quantile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() as f64 * q).ceil() as usize).saturating_sub(1)]
}

#[test]
fn two_thousand_idle_live_clients_do_not_slow_commands_down() {
    let _serial = serial();
    let mut service = start();
    let pid = service.pid().expect("a pid");
    let customer = customer_id(3);
    for n in 0..10 {
        let answer = service.post(
            &format!("/commands/order/{}/place_order", order_id(0xcc, n)),
            &place_body(&customer, n),
        );
        assert_eq!(answer.status, 200, "{answer:?}");
    }
    // The same load without clients first, to compare.
    let baseline = place_orders(service.address(), &customer, 100, 2, 50);
    let rss_before = rss_kib(pid);
    const CLIENTS: usize = 2_000;
    let opening = Instant::now();
    let clients: Vec<TcpStream> = (0..CLIENTS)
        .map(|_| live_client(service.address()))
        .collect();
    let opened_in = opening.elapsed();
    let rss_idle = rss_kib(pid);
    let address = service.address();
    let latencies = place_orders(address, &customer, 1_000, 2, 150);
    let p = |q: f64| quantile(&latencies, q);
    let rss_loaded = rss_kib(pid);
    assert_eq!(service.get("/readyz").status, 200);
    println!(
        "chaos: live-clients clients={CLIENTS} opened_in={}ms commands={} p50={}ms p99={}ms \
         max={}ms without_clients_p50={}ms without_clients_p99={}ms rss_before={}MiB rss_idle_clients={}MiB rss_after_commands={}MiB",
        opened_in.as_millis(),
        latencies.len(),
        p(0.5).as_millis(),
        p(0.99).as_millis(),
        latencies.last().unwrap().as_millis(),
        quantile(&baseline, 0.5).as_millis(),
        quantile(&baseline, 0.99).as_millis(),
        rss_before / 1024,
        rss_idle / 1024,
        rss_loaded / 1024
    );
    assert!(p(0.99) < Duration::from_secs(2), "p99 {:?}", p(0.99));
    assert!(rss_loaded < 512 * 1024, "RSS {rss_loaded} KiB");
    let stopping = Instant::now();
    assert!(service.stop().success(), "{}", service.logs());
    assert!(stopping.elapsed() < Duration::from_secs(25));
    drop(clients);
}

/// The kernel's send and receive queues of the loopback connection from `local` to `remote`.
fn tcp_queues(local: SocketAddr, remote: SocketAddr) -> Option<(u64, u64)> {
    let hex = |a: SocketAddr| match a {
        SocketAddr::V4(v4) => format!(
            "{:08X}:{:04X}",
            u32::from_le_bytes(v4.ip().octets()),
            v4.port()
        ),
        SocketAddr::V6(_) => String::new(),
    };
    let (local, remote) = (hex(local), hex(remote));
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.get(1) != Some(&local.as_str()) || fields.get(2) != Some(&remote.as_str()) {
            return None;
        }
        let (tx, rx) = fields.get(4)?.split_once(':')?;
        Some((
            u64::from_str_radix(tx, 16).ok()?,
            u64::from_str_radix(rx, 16).ok()?,
        ))
    })
}

#[test]
fn a_stalled_live_client_does_not_stop_a_graceful_shutdown() {
    let _serial = serial();
    let mut service = start();
    let customer = customer_id(4);
    let first = service.post(
        &format!("/commands/order/{}/place_order", order_id(0xdd, 0)),
        &place_body(&customer, 0),
    );
    assert_eq!(first.status, 200, "{first:?}");
    // It reads the head of the answer, then never again.
    let stalled = live_client(service.address());
    let client = stalled.local_addr().expect("its address");
    let server = stalled.peer_addr().expect("the service's address");
    // Big events (~25 KB each) until the service's side cannot send any more.
    let lines: Vec<Value> = (0..200)
        .map(|i| json!({ "sku": format!("{i:0>64}"), "quantity": 1, "unit_price": 1.25 }))
        .collect();
    let body = json!({ "customer_id": customer, "lines": lines, "currency": "EUR" });
    let mut appended = 1;
    let mut stuck = 0;
    let deadline = Instant::now() + Duration::from_secs(90);
    while stuck < 3 {
        for _ in 0..25 {
            appended += 1;
            let answer = service.post(
                &format!("/commands/order/{}/place_order", order_id(0xdd, appended)),
                &body,
            );
            assert_eq!(answer.status, 200, "{answer:?}");
        }
        // The service's side holds unsent bytes while the client's side is full.
        let sending = tcp_queues(server, client).map_or(0, |(tx, _)| tx);
        stuck = if sending > 0 { stuck + 1 } else { 0 };
        assert!(
            Instant::now() < deadline,
            "the live client never stalled the service's socket after {appended} events"
        );
    }
    let (unsent, _) = tcp_queues(server, client).unwrap_or_default();
    let (_, unread) = tcp_queues(client, server).unwrap_or_default();
    let stopping = Instant::now();
    let status = service.stop();
    let stopped_in = stopping.elapsed();
    println!(
        "chaos: stalled-live-client events={appended} unread={}KiB unsent={}KiB \
         exit={status} stopped_in={}ms",
        unread / 1024,
        unsent / 1024,
        stopped_in.as_millis()
    );
    assert!(status.success(), "{status}\n{}", service.logs());
    assert!(
        stopped_in < Duration::from_secs(25),
        "SIGTERM took {stopped_in:?}\n{}",
        service.logs()
    );
    drop(stalled);
}
