//! The example service on PostgreSQL (the database at `EVENTSMITH_TEST_POSTGRES`, by default
//! `postgres://root@127.0.0.1:5432/test`; the tests fail, naming it, when it cannot be reached),
//! each test in a schema of its own, dropped after: the order scenario with a restart, a replay
//! beside the running service, and two instances sharing one database, one of them SIGKILLed
//! while the other finishes the projections with exactly the expected rows.

mod postgres_schema;
mod scenario;

use eventsmith::serde_json::{Value, json};
use eventsmith::testing::process::ServiceProcess;
use postgres_schema::Schema;
use scenario::command;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn the_order_scenario_passes_on_postgres_and_replays_beside_the_running_service() {
    let schema = Schema::new("scenario");
    let mut service = schema.start();
    let scenario::Left {
        summary,
        summary_path,
    } = scenario::run(&mut service);
    let rows = service.get("/projections/order_summary");
    assert_eq!(rows.status, 200, "{rows:?}");

    // On PostgreSQL a replay runs beside the service: the runner gives the projection up
    // between batches and takes it back after.
    let replay = service.run(&["replay", "--projection", "order_summary"]);
    assert!(
        replay.status.success(),
        "{}\n{}",
        stderr(&replay),
        service.logs()
    );
    assert!(
        stdout(&replay).contains("rebuilt `order_summary`"),
        "{}",
        stdout(&replay)
    );
    let letters = service.run(&["dlq", "list"]);
    assert!(letters.status.success(), "{}", stderr(&letters));
    assert!(stdout(&letters).contains("no open dead letters"));
    assert_eq!(service.get("/projections/order_summary").body, rows.body);
    assert_eq!(service.get(&summary_path).body, summary.body);
    // The service goes on with it.
    let order = "0190f5d2-7c1a-7e3b-9a4f-2b6c8d0e1f99";
    let shipped = command(
        &service,
        &format!("/commands/order/{order}/ship_order"),
        &[],
        &json!({ "carrier": "DHL", "tracking_number": "JD014600003828" }),
    );
    assert_eq!(shipped.status, 200, "{shipped:?}");
    service.wait_for(&summary_path, |a| a.body["row"]["status"] == "shipped");
}

/// Reads the live feed `live` until what it sent holds `text` (10 s at most).
fn sees(live: &mut std::net::TcpStream, seen: &mut Vec<u8>, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buffer = [0; 4096];
    while !String::from_utf8_lossy(seen).contains(text) {
        assert!(
            Instant::now() < deadline,
            "the live feed never showed {text}:\n{}",
            String::from_utf8_lossy(seen)
        );
        match live.read(&mut buffer) {
            Ok(0) => panic!("the live feed closed:\n{}", String::from_utf8_lossy(seen)),
            Ok(read) => seen.extend_from_slice(&buffer[..read]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("the live feed failed: {e}"),
        }
    }
}

/// Waits up to `limit` for `ready` on `path`.
fn eventually(
    service: &ServiceProcess,
    path: &str,
    limit: Duration,
    ready: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let answer = service.get(path);
        if answer.status == 200 && ready(&answer.body) {
            return answer.body;
        }
        assert!(
            Instant::now() < deadline,
            "GET {path} never got there; last answer: {answer:?}\n{}",
            service.logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn two_instances_share_commands_and_one_finishes_the_projections_after_the_other_is_killed() {
    let schema = Schema::new("cluster");
    let mut first = schema.start();
    let second = schema.start();
    // The first claimed every projection; the second stands by.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !second.logs().contains("standing by") {
        assert!(
            Instant::now() < deadline,
            "the second instance never stood by:\n{}",
            second.logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // The second's live feed sees what the first appends.
    let mut live = std::net::TcpStream::connect(second.address()).expect("a connection");
    write!(
        live,
        "GET /events/live HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n"
    )
    .expect("a request");
    live.set_read_timeout(Some(Duration::from_secs(1)))
        .expect("a timeout");
    let mut seen = Vec::new();

    // Twelve orders of four customers, placed on both instances in turn; every other one paid.
    let customers: Vec<String> = (0..4)
        .map(|n| format!("0190f5d2-7c1a-7e3b-9a4f-00000000000{n}"))
        .collect();
    let mut expected_orders = BTreeMap::new();
    let mut expected_customers: BTreeMap<String, (u64, f64)> = BTreeMap::new();
    for n in 0..12 {
        // The first serves even orders until it dies, after the sixth.
        let service = if n % 2 == 0 && n <= 5 {
            &first
        } else {
            &second
        };
        let customer = &customers[n % 4];
        if n < 4 {
            let registered = command(
                service,
                &format!("/commands/customer/{customer}/register_customer"),
                &[],
                &json!({ "email": format!("c{n}@example.com"), "name": format!("Customer {n}") }),
            );
            assert_eq!(registered.status, 200, "{registered:?}");
        }
        let order = format!("0190f5d2-7c1a-7e3b-9a4f-1000000000{n:02}");
        let quantity = n as u64 + 1;
        let placed = command(
            service,
            &format!("/commands/order/{order}/place_order"),
            &[],
            &json!({
                "customer_id": customer,
                "lines": [{ "sku": "BOOK-1984", "quantity": quantity, "unit_price": 2.5 }],
                "currency": "EUR"
            }),
        );
        assert_eq!(placed.status, 200, "{placed:?}");
        let total = quantity as f64 * 2.5;
        let entry = expected_customers.entry(customer.clone()).or_default();
        entry.0 += 1;
        let status = if n % 2 == 1 {
            // Paid through the other instance while there is one: its cache has not seen
            // the order.
            let other = if n <= 5 { &first } else { &second };
            let paid = command(
                other,
                &format!("/commands/order/{order}/pay_order"),
                &[],
                &json!({ "amount": total, "method": "card" }),
            );
            assert_eq!(paid.status, 200, "{paid:?}");
            entry.1 += total;
            "paid"
        } else {
            "placed"
        };
        if n == 0 {
            sees(&mut live, &mut seen, &order);
        }
        expected_orders.insert(order, (status, total));
        if n == 5 {
            // Halfway, the instance running the projections dies.
            first.kill();
        }
    }

    let rows_of =
        |body: &Value| -> Vec<Value> { body["rows"].as_array().cloned().unwrap_or_default() };
    let survivor = &second;
    let orders = eventually(
        survivor,
        "/projections/order_summary?limit=1000",
        Duration::from_secs(20),
        |body| {
            rows_of(body).len() == expected_orders.len()
                && rows_of(body).iter().all(|row| {
                    expected_orders
                        .get(row["order_id"].as_str().unwrap_or_default())
                        .is_some_and(|(status, _)| row["status"] == *status)
                })
        },
    );
    for row in rows_of(&orders) {
        let (_, total) = expected_orders[row["order_id"].as_str().unwrap()];
        assert_eq!(row["total_amount"].as_f64(), Some(total), "{row}");
    }
    let spent = eventually(
        survivor,
        "/projections/customer_orders?limit=1000",
        Duration::from_secs(20),
        |body| {
            rows_of(body).len() == expected_customers.len()
                && rows_of(body).iter().all(|row| {
                    expected_customers
                        .get(row["customer_id"].as_str().unwrap_or_default())
                        .is_some_and(|(count, spent)| {
                            row["order_count"] == *count
                                && row["total_spent"].as_f64() == Some(*spent)
                        })
                })
        },
    );
    assert_eq!(rows_of(&spent).len(), 4);
    // The payments window, taken over with the rest, counted each payment once.
    let paid: f64 = expected_customers.values().map(|(_, spent)| spent).sum();
    eventually(
        survivor,
        "/windows/payments_per_hour?key=card",
        Duration::from_secs(20),
        |body| {
            let windows = body["windows"].as_array().cloned().unwrap_or_default();
            let count: u64 = windows
                .iter()
                .filter_map(|w| w["aggregates"]["count"].as_u64())
                .sum();
            let total: f64 = windows
                .iter()
                .filter_map(|w| w["aggregates"]["total"].as_f64())
                .sum();
            count == 6 && (total - paid).abs() < 1e-9
        },
    );
    // Exactly these rows, each event once: the positions the answers reflect are the head.
    let head = survivor.get("/events?limit=1000");
    let events = head.body["events"]
        .as_array()
        .map(Vec::len)
        .unwrap_or_default();
    assert_eq!(events, 4 + 12 + 6, "{head:?}");
    assert!(
        survivor.logs().contains("took over the projection"),
        "{}",
        survivor.logs()
    );
}

/// The `order_fulfilment` saga on PostgreSQL with two instances of the service: the one
/// running the saga is SIGKILLed, the other takes it over, and every order still ends as its
/// events say, each cancellation sent once.
#[test]
fn sagas_on_postgres_go_on_when_the_instance_running_them_is_killed() {
    let schema = Schema::new("sagas");
    let timeouts = [("EVENTSMITH_SAGA_TIMEOUTS", "order_fulfilment.payment=2s")];
    let mut first = schema.start_with(&timeouts);
    let second = schema.start_with(&timeouts);
    let received = command(
        &first,
        "/commands/stock/PG-LAMP/receive_stock",
        &[],
        &json!({"quantity": 5}),
    );
    assert_eq!(received.status, 200, "{received:?}");
    let place = |service: &ServiceProcess, order: &str, quantity: u64| {
        let placed = command(
            service,
            &format!("/commands/order/{order}/place_order"),
            &[],
            &json!({
                "customer_id": "0190f5d2-7c1a-7e3b-9a4f-2b6c8d0e1f23",
                "lines": [{"sku": "PG-LAMP", "quantity": quantity, "unit_price": 2.5}],
                "currency": "EUR"
            }),
        );
        assert_eq!(placed.status, 200, "{placed:?}");
    };
    let (unpaid, short, paid) = (
        "0190f5d3-1b2c-7d4e-8f5a-000000000a01",
        "0190f5d3-1b2c-7d4e-8f5a-000000000a02",
        "0190f5d3-1b2c-7d4e-8f5a-000000000a03",
    );
    place(&second, unpaid, 2);
    place(&second, short, 9);
    second.wait_for(&format!("/sagas/order_fulfilment/{unpaid}"), |answer| {
        answer.body["state"] == "awaiting_payment"
    });
    first.kill();
    place(&second, paid, 1);
    let payment = command(
        &second,
        &format!("/commands/order/{paid}/pay_order"),
        &[],
        &json!({"amount": 2.5, "method": "card"}),
    );
    assert_eq!(payment.status, 200, "{payment:?}");
    for (order, state, status) in [
        (unpaid, "payment_timed_out", "compensated"),
        (short, "out_of_stock", "compensated"),
        (paid, "paid", "completed"),
    ] {
        let saga = eventually(
            &second,
            &format!("/sagas/order_fulfilment/{order}"),
            Duration::from_secs(30),
            |body| body["status"] == status,
        );
        assert_eq!(saga["state"], state, "{saga}");
    }
    for (order, reason) in [(unpaid, "payment timeout"), (short, "out of stock")] {
        let stream = second.get(&format!("/streams/order-{order}"));
        let reasons: Vec<&Value> = stream.body["events"]
            .as_array()
            .expect("events")
            .iter()
            .filter(|e| e["type"] == "order.cancelled")
            .map(|e| &e["data"]["reason"])
            .collect();
        assert_eq!(reasons, [&json!(reason)], "{order}");
    }
    let levels = eventually(
        &second,
        "/projections/stock_levels/PG-LAMP",
        Duration::from_secs(30),
        |body| body["row"]["reserved"] == 1 && body["lag"] == 0,
    );
    assert_eq!(levels["row"]["available"], 4, "{levels}");
}
